"""``VectorAbrEnv``: N streaming sessions stepped by one compiled call per step."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from .._kernels import rlenv as K
from ..errors import ParameterError
from ..profiles import Profile
from ..qoe import QoE
from ..traces import Trace
from ..video import Video
from ._sessions import DEFAULT_HISTORY, SessionsView, LOG_NAMES, Sessions, check_seed
from .env import observation_space

__all__ = ["VectorAbrEnv"]


class VectorAbrEnv(SessionsView, VectorEnv):
    """``n_envs`` :class:`~abrkit.rl.AbrEnv` environments stepped together in one compiled call.

    The same arguments, spaces, rewards and observations as ``AbrEnv`` (batched: observations
    (n_envs, ...), rewards, terminations, truncations (n_envs,)); actions are n_envs rungs
    (``MultiDiscrete``; any integer array of shape (n_envs,)).

    Autoreset: ``next-step`` (``metadata["autoreset_mode"]``, Gymnasium's default). The step
    after an environment's episode ended starts its next episode instead: its action is
    ignored, its reward is 0, its terminated and truncated are False, and its observation is
    the new episode's first (under a profile with an initial rung, chunk 0 was played for it,
    as in ``AbrEnv.reset``).

    ``info`` (``include_info=True``): for each log column of :data:`abrkit.rl.LOG_NAMES` and for
    ``chunk``, an array (n_envs,) of the row of the chunk each environment played in this call,
    with Gymnasium's mask ``"_<name>"`` (False where none was played); ``trace`` (n_envs,) the
    episodes' trace indices. ``include_info=False`` returns ``{}`` (faster).

    Seeding: ``reset(seed=s)`` gives environment ``i`` stream ``i`` of ``s``; ``reset(seed=[s0,
    s1, ...])`` gives environment ``i`` stream 0 of ``s_i`` (what ``AbrEnv`` seeded with
    ``s_i`` plays). An environment's results depend only on its own seed and stream, never on
    ``n_envs``. ``seed`` here is used by the first reset.
    """

    def __init__(
        self,
        n_envs: int,
        traces: Trace | Iterable[Trace],
        video: Video,
        profile: str | Profile = "default",
        qoe: str | QoE | None = None,
        observation: str = "abrkit",
        seed: int | None = None,
        history: int = DEFAULT_HISTORY,
        include_info: bool = True,
    ) -> None:
        self._s = Sessions(n_envs, traces, video, profile, qoe, observation, history)
        self._first_seed = check_seed(seed)
        self.num_envs = self._s.n_envs
        self.metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}
        self.single_action_space = spaces.Discrete(self._s.n_rungs)
        self.single_observation_space = observation_space(self._s)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.include_info = bool(include_info)
        self._rows = np.arange(self.num_envs)

    @property
    def log(self) -> np.ndarray:
        """Each environment's current episode log, shape (n_envs, n_chunks, layout.LOG_COLS) (a view)."""
        return self._s.state.log

    def settings(self) -> dict[str, Any]:
        return {**self._s.settings(), "n_envs": self.num_envs}

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start every environment's next episode; returns (observations, info).
        ``options``: ``{"trace": index or n_envs indices}``."""
        s = self._s
        n = self.num_envs
        if seed is None and self._first_seed is not None and not s.started:
            seed = self._first_seed
        if isinstance(seed, (list, tuple, np.ndarray)):
            if len(seed) != n:
                raise ParameterError("seed", seed, f"a list of seeds needs one per environment ({n})")
            seeds = [check_seed(x, f"seed[{i}]") for i, x in enumerate(seed)]
            s.seed(seeds, [0] * n)
            super().reset()
        else:
            one = check_seed(seed)
            super().reset(seed=one)
            if one is not None or not s.started:
                s.seed([one] * n, list(range(n)))
        if options is not None and not isinstance(options, dict):
            raise ParameterError("options", options, "must be a dict (key: 'trace')")
        options = options or {}
        unknown = set(options) - {"trace"}
        if unknown:
            raise ParameterError("options", sorted(unknown), "unknown keys; known: 'trace'")
        s.check_trace_choice(options.get("trace"))
        s.cmd[:, K.CMD_RESET] = 1
        s.run()
        s.cmd[:, K.CMD_RESET] = 0
        s.cmd[:, K.CMD_TRACE] = -1  # autoresets draw their traces
        s.started = True
        return s.state.obs.reshape((self.num_envs, *s.obs_shape)).copy(), self._info()

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Every environment plays its next chunk (or, after its episode ended, starts the next
        one); returns (observations, rewards, terminations, truncations, info)."""
        s = self._s
        if not s.started:
            raise ParameterError("step", "before reset()", "call reset() first")
        a = np.asarray(actions)
        n_rungs = s.n_rungs
        if a.shape != (self.num_envs,) or a.dtype.kind not in "iu":
            raise ParameterError(
                "actions", f"array of shape {a.shape} and dtype {a.dtype}",
                f"must be {self.num_envs} integer rungs (shape ({self.num_envs},))",
            )
        if a.min() < 0 or a.max() >= n_rungs:
            raise ParameterError("actions", a.tolist() if a.size <= 16 else "an array", f"rungs run from 0 to {n_rungs - 1}")
        s.cmd[:, K.CMD_ACTION] = a
        s.run()
        table = s.state.table
        return (
            s.state.obs.reshape((self.num_envs, *s.obs_shape)).copy(), table[:, K.E_REWARD].copy(), table[:, K.E_TERMINATED] != 0.0,
            np.zeros(self.num_envs, dtype=np.bool_), self._info(),
        )

    def _info(self) -> dict[str, Any]:
        if not self.include_info:
            return {}
        s = self._s
        table = s.state.table
        chunk = table[:, K.E_CHUNK].astype(np.int64)
        played = chunk >= 0
        rows = s.state.log[self._rows, np.maximum(chunk, 0)]  # a copy (fancy indexing)
        rows[~played] = np.nan
        rung = np.full(self.num_envs, -1, dtype=np.int64)
        rung[played] = rows[played, 0].astype(np.int64)
        info: dict[str, Any] = {"chunk": chunk, "_chunk": played, "trace": table[:, K.E_TRACE].astype(np.int64),
                                "_trace": np.ones(self.num_envs, dtype=np.bool_)}
        for col, name in enumerate(LOG_NAMES):
            info[name] = rung if col == 0 else rows[:, col]
            info["_" + name] = played
        return info
