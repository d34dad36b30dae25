"""The Python controller interface: what ``decide(obs)`` sees and what it may return.

:class:`Observation` is the player's state at a request; :func:`checked_choice` turns what
``decide`` returned into ``(rung, wait_s)`` or a :class:`~abrkit.errors.ParameterError` that
names the controller and the chunk. The loops that run Python controllers live with their
models (``abrkit.custom`` for the chunk and event models, ``abrkit.live_custom`` for live) and
share this module, which sits below all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

from .controllers import Controller
from .errors import ParameterError

__all__ = ["Observation", "PythonController", "UserSpec", "is_python_controller", "checked_choice", "checked_rung",
           "name_of", "readonly", "MAX_WAIT_S"]


@dataclass(frozen=True)
class Observation:
    """What the player knows when it requests chunk ``chunk``; arrays are read-only.

    Attributes
    ----------
    chunk : int
        Index of the chunk to request (0-based).
    n_chunks : int
        Chunks this session plays (the video's, or fewer under the profile's ``max_chunks``).
    buffer_s : float
        Seconds of video in the buffer now (after any wait for a full buffer).
    prev_rung : int
        Rung of the previous chunk; -1 before the first.
    session_s : float
        Session clock at this request, seconds since the first request.
    chunk_s : float
        Duration of one chunk, seconds: the video's nominal one when its chunks last unequally
        (``durations_s``).
    bitrates_bps : array of shape (rungs,)
        The ladder's nominal bitrates, ascending.
    sizes_bytes : array of shape (video chunks, rungs)
        The video's whole size table (it may run past ``n_chunks``); see ``upcoming_sizes_bytes``.
    sample_bytes, sample_time_s, sample_latency_s, sample_end_s : arrays of shape (chunk,)
        One entry per downloaded chunk: its size, the time the player measured it over (the
        latency included when the profile's ``throughput_includes_latency`` says so), its
        request latency, and the session clock when its last byte arrived.
    sample_delay_s, sample_buffer_s, sample_wait_s : arrays of shape (chunk,)
        Each download's time from request to last byte (latency included), the buffer right
        after it, and the seconds the player then idled because the buffer was full.
    profile : Profile
        The player and network model of the session.
    latency_s, playback_rate : float
        Under the live profile: the live latency now (seconds from capture to display; NaN
        before playback starts) and the playback rate. Elsewhere NaN and 1.0.
    durations_s : array of shape (video chunks,), optional
        Each chunk's own duration, seconds, one per row of ``sizes_bytes`` (the chunk model plays
        segments of unequal duration); None: every chunk lasts ``chunk_s``. See
        ``chunk_durations_s``.
    """

    chunk: int
    n_chunks: int
    buffer_s: float
    prev_rung: int
    session_s: float
    chunk_s: float
    bitrates_bps: np.ndarray
    sizes_bytes: np.ndarray
    sample_bytes: np.ndarray
    sample_time_s: np.ndarray
    sample_latency_s: np.ndarray
    sample_end_s: np.ndarray
    sample_delay_s: np.ndarray
    sample_buffer_s: np.ndarray
    sample_wait_s: np.ndarray
    profile: Any  # a Profile, LiveProfile or event profile
    _oracle: Callable[[float], float] = field(repr=False, compare=False)
    latency_s: float = float("nan")
    playback_rate: float = 1.0
    durations_s: np.ndarray | None = None

    def chunk_durations_s(self) -> np.ndarray:
        """Each chunk's duration, seconds, one per row of ``sizes_bytes`` (``durations_s``, or
        ``chunk_s`` repeated)."""
        if self.durations_s is not None:
            return self.durations_s
        return np.full(self.sizes_bytes.shape[0], float(self.chunk_s))

    @property
    def n_rungs(self) -> int:
        return int(self.bitrates_bps.size)

    @property
    def throughput_bps(self) -> np.ndarray:
        """Throughput samples of the downloaded chunks, bits per second (the log's column)."""
        return self.sample_bytes * 8.0 / self.sample_time_s

    @property
    def upcoming_sizes_bytes(self) -> np.ndarray:
        """Sizes of chunks ``chunk .. n_chunks-1`` at every rung, shape (remaining, rungs)."""
        return self.sizes_bytes[self.chunk : self.n_chunks]

    @property
    def last_latency_s(self) -> float:
        """Latency of the previous request (0 before the first)."""
        return float(self.sample_latency_s[-1]) if self.sample_latency_s.size else 0.0

    def oracle_throughput_bps(self, size_bytes: float) -> float:
        """Look-ahead: the throughput a request of ``size_bytes`` issued now would measure (NaN
        if it would stall). It reads the future of the trace: for oracle baselines only."""
        return self._oracle(float(size_bytes))


@runtime_checkable
class PythonController(Protocol):
    """Anything with ``decide(obs) -> rung``; ``reset()`` and ``name`` are optional."""

    def decide(self, obs: Observation) -> int: ...


@dataclass(frozen=True)
class UserSpec:
    """Stands in for a Controller in result tables: a name and settings."""

    name: str
    kind: str

    def settings(self) -> dict[str, Any]:
        return {"controller": self.name, "python_class": self.kind}


def is_python_controller(obj: Any) -> bool:
    """True for a user controller: any object (not a name or spec) with a callable ``decide``."""
    return not isinstance(obj, (str, Controller)) and callable(getattr(obj, "decide", None))


def name_of(controller: Any) -> str:
    name = getattr(controller, "name", None)
    return name if isinstance(name, str) and name else type(controller).__name__


def checked_rung(value: Any, n_rungs: int, name: str, k: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not 0 <= value < n_rungs:
        raise ParameterError(
            "rung", value, f"controller {name!r} returned it for chunk {k}: must be an integer from 0 to {n_rungs - 1}"
        )
    return int(value)


#: The longest wait a Python controller may ask for before a request (s): a day.
MAX_WAIT_S = 86_400.0


def checked_choice(value: Any, n_rungs: int, name: str, k: int) -> tuple[int, float]:
    """(rung, wait_s) from what ``decide`` returned: a rung, or a pair (rung, wait in seconds)."""
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ParameterError(
                "decision", value, f"controller {name!r} returned it for chunk {k}: must be a rung or (rung, wait_s)"
            )
        rung, wait = value
        # at most a day: the clock walks the trace through a wait, so 1e300 s would never end
        if isinstance(wait, (bool, np.bool_)) or not isinstance(wait, (int, float, np.integer, np.floating)) or not (
            0.0 <= float(wait) <= MAX_WAIT_S
        ):
            raise ParameterError(
                "wait_s", wait,
                f"controller {name!r} returned it for chunk {k}: must be a number of seconds >= 0 and <= {MAX_WAIT_S:g}",
            )
        return checked_rung(rung, n_rungs, name, k), float(wait)
    return checked_rung(value, n_rungs, name, k), 0.0


def readonly(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.setflags(write=False)
    return view
