"""The :class:`Trace` type: piecewise-constant bandwidth over time.

Internal units (see the package docstring): seconds, bits per second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ParameterError

__all__ = ["Trace"]


def _as_float_array(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise ParameterError(name, value, f"must be a sequence of numbers ({exc})") from None
    if arr.ndim != 1:
        raise ParameterError(name, f"array of shape {arr.shape}", "must be one-dimensional")
    arr.setflags(write=False)
    return arr


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


@dataclass(frozen=True, eq=False)
class Trace:
    """Bandwidth that is constant over each period, with optional per-period latency.

    Period ``i`` starts at ``time_s[i]`` and lasts until ``time_s[i + 1]`` (the last one until
    ``end_s``); during it the link delivers ``bandwidth_bps[i]`` bits per second and a request
    issued in it waits ``latency_s[i]`` seconds for its first byte. Simulators loop the trace
    when a session outlasts it.

    Parameters
    ----------
    time_s : array of shape (n,)
        Start of each period in seconds; finite, >= 0, strictly increasing.
    bandwidth_bps : array of shape (n,)
        Bandwidth of each period in bits per second; finite, >= 0, at least one > 0.
    end_s : float, optional
        End of the last period. Defaults to ``time_s[-1]`` plus the previous period's length
        (1 s for a one-period trace), which is what a sampled trace like Pensieve's implies.
    latency_s : array of shape (n,), optional
        Per-period request latency (time to first byte) in seconds; finite, >= 0.
    name : str
        Label used in results (file name when read from disk).
    """

    time_s: np.ndarray
    bandwidth_bps: np.ndarray
    end_s: float | None = None
    latency_s: np.ndarray | None = None
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict, repr=False)
    # Derived arrays (e.g. the simulator's view of the trace), computed once per trace.
    _cache: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        t = _as_float_array("time_s", self.time_s)
        bw = _as_float_array("bandwidth_bps", self.bandwidth_bps)
        where = f" in trace {self.name!r}" if self.name else ""
        if t.size == 0:
            raise ParameterError("time_s", [], f"a trace needs at least one period{where}")
        if bw.shape != t.shape:
            raise ParameterError(
                "bandwidth_bps", f"array of {bw.size} values", f"must match time_s ({t.size} values){where}"
            )
        if not np.all(np.isfinite(t)):
            i = _first_bad(~np.isfinite(t))
            raise ParameterError(f"time_s[{i}]", float(t[i]), f"must be finite{where}")
        if t[0] < 0:
            raise ParameterError("time_s[0]", float(t[0]), f"must be >= 0{where}")
        steps = np.diff(t)
        if np.any(steps <= 0):
            i = _first_bad(steps <= 0) + 1
            raise ParameterError(
                f"time_s[{i}]", float(t[i]), f"must be > time_s[{i - 1}]={float(t[i - 1])!r} (times strictly increasing){where}"
            )
        bad = ~np.isfinite(bw) | (bw < 0)
        if np.any(bad):
            i = _first_bad(bad)
            raise ParameterError(f"bandwidth_bps[{i}]", float(bw[i]), f"must be finite and >= 0{where}")
        if not np.any(bw > 0):
            raise ParameterError("bandwidth_bps", "all zero", f"at least one period must have bandwidth > 0{where}")
        if self.end_s is None:
            end = float(t[-1] + (steps[-1] if steps.size else 1.0))
        else:
            end = float(self.end_s)
            if not np.isfinite(end) or end <= t[-1]:
                raise ParameterError("end_s", end, f"must be finite and > time_s[-1]={float(t[-1])!r}{where}")
        lat = None
        if self.latency_s is not None:
            lat = _as_float_array("latency_s", self.latency_s)
            if lat.shape != t.shape:
                raise ParameterError("latency_s", f"array of {lat.size} values", f"must match time_s ({t.size} values){where}")
            bad = ~np.isfinite(lat) | (lat < 0)
            if np.any(bad):
                i = _first_bad(bad)
                raise ParameterError(f"latency_s[{i}]", float(lat[i]), f"must be finite and >= 0{where}")
        object.__setattr__(self, "time_s", t)
        object.__setattr__(self, "bandwidth_bps", bw)
        object.__setattr__(self, "end_s", end)
        object.__setattr__(self, "latency_s", lat)
        object.__setattr__(self, "name", str(self.name))

    # -- derived views -------------------------------------------------------------------
    @property
    def n_periods(self) -> int:
        return int(self.time_s.size)

    @property
    def duration_s(self) -> np.ndarray:
        """Length of each period in seconds, shape (n,)."""
        return np.diff(np.append(self.time_s, self.end_s))

    @property
    def total_duration_s(self) -> float:
        """Time from the first period's start to the end of the last one."""
        return float(self.end_s - self.time_s[0])  # type: ignore[operator]

    @property
    def bandwidth_kbps(self) -> np.ndarray:
        return self.bandwidth_bps / 1e3

    @property
    def bandwidth_mbps(self) -> np.ndarray:
        return self.bandwidth_bps / 1e6

    def mean_bandwidth_bps(self) -> float:
        """Time-weighted mean bandwidth over the whole trace."""
        d = self.duration_s
        return float(np.dot(d, self.bandwidth_bps) / d.sum())

    # -- constructors --------------------------------------------------------------------
    @classmethod
    def constant(cls, bandwidth_bps: float, duration_s: float = 600.0, latency_s: float | None = None, name: str = "") -> "Trace":
        """A single period of fixed bandwidth (simulators loop it, so any session fits)."""
        if not duration_s > 0:
            raise ParameterError("duration_s", duration_s, "must be > 0")
        lat = None if latency_s is None else [latency_s]
        return cls(np.array([0.0]), np.array([float(bandwidth_bps)]), end_s=float(duration_s), latency_s=lat, name=name)

    @classmethod
    def from_durations(
        cls,
        duration_s: Any,
        bandwidth_bps: Any,
        latency_s: Any = None,
        name: str = "",
        start_s: float = 0.0,
    ) -> "Trace":
        """Build a trace from period lengths (as Sabre and Genet store them)."""
        d = _as_float_array("duration_s", duration_s)
        bad = ~np.isfinite(d) | (d <= 0)
        if np.any(bad):
            i = _first_bad(bad)
            raise ParameterError(f"duration_s[{i}]", float(d[i]), "must be finite and > 0")
        edges = start_s + np.concatenate(([0.0], np.cumsum(d)))
        return cls(edges[:-1], bandwidth_bps, end_s=float(edges[-1]), latency_s=latency_s, name=name)

    def with_name(self, name: str) -> "Trace":
        return Trace(self.time_s, self.bandwidth_bps, self.end_s, self.latency_s, name, dict(self.meta))

    def scaled(self, factor: float) -> "Trace":
        """The same trace with every bandwidth multiplied by ``factor`` (> 0)."""
        if not (np.isfinite(factor) and factor > 0):
            raise ParameterError("factor", factor, "must be finite and > 0")
        return Trace(self.time_s, self.bandwidth_bps * factor, self.end_s, self.latency_s, self.name, dict(self.meta))

    def __len__(self) -> int:
        return self.n_periods

    def __repr__(self) -> str:
        return (
            f"Trace(name={self.name!r}, periods={self.n_periods}, duration_s={self.total_duration_s:.3f}, "
            f"mean_kbps={self.mean_bandwidth_bps() / 1e3:.1f}, latency={'yes' if self.latency_s is not None else 'no'})"
        )

    def equals(self, other: "Trace", rtol: float = 0.0, atol: float = 0.0) -> bool:
        """Compare the data of two traces (names ignored) within tolerances."""
        if self.n_periods != other.n_periods:
            return False
        same = np.allclose(self.time_s, other.time_s, rtol=rtol, atol=atol) and np.allclose(
            self.bandwidth_bps, other.bandwidth_bps, rtol=rtol, atol=atol
        )
        same = same and bool(np.isclose(self.end_s, other.end_s, rtol=rtol, atol=atol))
        if (self.latency_s is None) != (other.latency_s is None):
            return False
        if self.latency_s is not None:
            same = same and np.allclose(self.latency_s, other.latency_s, rtol=rtol, atol=atol)  # type: ignore[arg-type]
        return bool(same)
