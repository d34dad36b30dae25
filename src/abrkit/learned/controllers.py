"""The learned controllers: ``pensieve`` (Pensieve's pretrained agent, shipped) and
``learned:path=policy.npz`` (any policy file of an architecture abrkit runs).

Both run the compiled network of ``_kernels/pensieve_net.py`` through the controller contract,
so they run under every profile. Their weights reach the kernels as the controller's data
(``groups.Controllers.data``), not as parameters.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._checks import integer
from .._kernels import layout as L
from .._kernels import pensieve_net as N
from ..controller_spec import Controller
from ..errors import ParameterError
from .policy import Policy, load_policy, pensieve_policy_path

__all__ = ["Pensieve", "Learned", "draw_stream"]

_POLICIES = {"greedy": N.POLICY_GREEDY, "sample": N.POLICY_SAMPLE}


def draw_stream(seed: int, n: int) -> np.ndarray:
    """The first ``n`` draws of ``rl_no_training.py``'s stream: after ``np.random.seed(seed)``,
    one ``np.random.randint(1, 1000)`` per decision (the legacy generator, drawn here in one
    call; ``tests/test_pensieve_agent.py`` checks that this equals ``n`` single calls)."""
    return np.random.RandomState(seed).randint(1, 1000, size=n)


@functools.lru_cache(maxsize=8)
def _cached_policy(path: str, mtime_ns: int, size: int) -> Policy:
    return load_policy(path)


def _policy(path: Path) -> Policy:
    try:
        st = os.stat(path)
    except OSError:
        return load_policy(path)  # raises ModelFormatError naming the file
    return _cached_policy(str(path), st.st_mtime_ns, st.st_size)


@dataclass(frozen=True)
class _NetworkController(Controller):
    """Shared fields: ``policy`` and ``seed`` (see :class:`Pensieve`)."""

    policy: str = "greedy"
    seed: int = 42
    kernel_id: ClassVar[int] = L.CTRL_PENSIEVE

    def __post_init__(self) -> None:
        if self.policy not in _POLICIES:
            raise ParameterError("policy", self.policy, f"must be one of {', '.join(_POLICIES)}")
        integer("seed", self.seed, ge=0)
        if self.seed > 2**32 - 1:
            raise ParameterError("seed", self.seed, "must be < 2**32 (numpy's legacy seeding)")
        self.load()  # a bad file fails here, naming itself, not in the middle of a batch

    def policy_path(self) -> Path:  # pragma: no cover - abstract
        raise NotImplementedError

    def load(self) -> Policy:
        """The policy file (read once per file version)."""
        return _policy(self.policy_path())

    @property
    def n_rungs(self) -> int:
        return self.load().n_rungs

    def params(self) -> list[float]:
        return [float(_POLICIES[self.policy]), float(self.load().chunks_cap)]

    def carries_state(self) -> bool:
        return self.policy == "sample"

    def pack_data(self, n_draws: int) -> np.ndarray:
        """The network, then (sample policy) the draw cursor at 0 and ``n_draws`` draws."""
        net = self.load().network()
        if self.policy != "sample":
            return net
        draws = draw_stream(self.seed, n_draws).astype(np.float32)  # 1..999: exact in float32
        return np.concatenate([net, np.zeros(2, dtype=np.float32), draws])

    def check_video(self, video: Any) -> None:
        if video.n_rungs != self.n_rungs:
            raise ParameterError(
                "video", video.name,
                f"has {video.n_rungs} rungs; controller {self.name!r} ({self.load().path}) chooses among exactly "
                f"{self.n_rungs} (its network's outputs): use a ladder of {self.n_rungs} rungs",
            )


@dataclass(frozen=True)
class Pensieve(_NetworkController):
    """Pensieve's pretrained agent (Mao, Netravali, Alizadeh, "Neural Adaptive Video Streaming
    with Pensieve", SIGCOMM 2017): the actor of its ``test/a3c.py`` with the weights of
    ``pretrain_linear_reward.ckpt`` on the 6 x 8 state of ``test/rl_no_training.py``.

    ``policy="greedy"`` (default) takes the most likely rung: deterministic, and sessions are
    independent. ``policy="sample"`` reproduces ``rl_no_training.py`` exactly: after
    ``np.random.seed(seed)``, one ``randint(1, 1000) / 1000`` per decision, and the first rung
    whose cumulative probability exceeds it; one more draw is discarded between sessions (the
    original's decision after the last chunk), and the stream runs on from each session to
    the next in job order, so a batch with it runs on one thread. Any ladder of 6 rungs works
    (the network sees bitrate / top bitrate and the next chunk's sizes); another ladder size is
    an error. Under the ``pensieve`` profile the first chunk is at rung 1 without asking.
    """

    label: ClassVar[str] = "pensieve"

    def policy_path(self) -> Path:
        return pensieve_policy_path()


@dataclass(frozen=True)
class Learned(_NetworkController):
    """A policy file run as a compiled controller: ``learned:path=policy.npz``.

    ``policy`` and ``seed`` as for :class:`Pensieve`; without ``path``, the shipped pretrained
    Pensieve. The file (``abrkit.learned.policy``) must be of an architecture and observation
    abrkit runs, and the video's ladder must have the file's ``n_rungs`` rungs.
    """

    path: str = ""
    label: ClassVar[str] = "learned"

    def __post_init__(self) -> None:
        if not isinstance(self.path, (str, os.PathLike)):
            raise ParameterError("path", self.path, "must name a policy file (learned:path=policy.npz)")
        object.__setattr__(self, "path", str(self.path))
        super().__post_init__()

    def policy_path(self) -> Path:
        """The file ``path`` names; without one, the shipped pretrained Pensieve (which
        ``learned`` then runs as ``pensieve`` does)."""
        return Path(self.path) if self.path else pensieve_policy_path()
