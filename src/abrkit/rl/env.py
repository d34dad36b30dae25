"""``AbrEnv``: one streaming session as a Gymnasium environment, one chunk per step."""

from __future__ import annotations

from typing import Any, Iterable

import gymnasium
import numpy as np
from gymnasium import spaces

from .._kernels.rlenv import CMD_ACTION, CMD_RESET, E_DONE, E_REWARD, E_TERMINATED, OBS_BUFFER, OBS_CHUNKS_LEFT, OBS_LAST_RUNG
from ..errors import ParameterError
from ..profiles import Profile
from ..qoe import QoE
from ..traces import Trace
from ..video import Video
from ._sessions import DEFAULT_HISTORY, SessionsView, Sessions, check_action, check_seed

__all__ = ["AbrEnv"]


def observation_space(sessions: Sessions) -> spaces.Box:
    """The Box of one environment's observation (see :mod:`abrkit.rl`). Default observation:
    entries 0-2 (buffer, last rung, chunks left) lie in [0, 1], the others are >= 0 and finite.
    Pensieve's: (6, 8) float64, >= 0 and finite."""
    dtype = sessions.obs_dtype
    high = np.full(sessions.obs_shape, np.finfo(dtype).max, dtype=dtype)
    if sessions.observation == "abrkit":
        high[[OBS_BUFFER, OBS_LAST_RUNG, OBS_CHUNKS_LEFT]] = 1.0
    return spaces.Box(low=np.zeros(sessions.obs_shape, dtype=dtype), high=high, dtype=dtype)


class AbrEnv(SessionsView, gymnasium.Env):
    """Adaptive-bitrate streaming of ``video`` over ``traces`` as a Gymnasium environment.

    An episode is one session of the chunk model (the simulator's own loop, ``play_chunks``, one chunk a step):
    the action is the rung of the next chunk (``Discrete(n_rungs)``), the reward that chunk's
    QoE under ``qoe`` (default: the profile's model; ``abrkit.qoe``), the observation the one
    named by ``observation`` (:data:`abrkit.rl.OBSERVATIONS`; see the package docstring).

    ``reset()`` starts an episode on a trace drawn uniformly from ``traces`` (or the one given by
    ``options={"trace": index}``), at the trace's start, or, under a profile with
    ``random_start`` (``pensieve-train``), at the start of a uniformly drawn period. Under a
    profile with an ``initial_rung`` (``pensieve``, ``pensieve-train``) ``reset()`` plays chunk
    0 at that rung, as the simulator does, and its row is in reset's ``info``; the episode then
    has ``n_chunks - 1`` steps. Otherwise it has ``n_chunks``. A download that stalls (no last
    byte within the profile's ``max_download_s``) ends the episode.

    ``info`` of ``step`` (and of ``reset`` when it played chunk 0) holds the chunk's log row as
    the simulator logs it (:data:`abrkit.rl.LOG_NAMES`: rung, size_bytes, latency_s, delay_s,
    buffer_s, rebuffer_s, wait_s, throughput_bps, request_s, controller_wait_s), plus ``chunk``
    (its index), ``trace`` (the episode's trace index) and ``status`` (``complete`` or
    ``stalled``).

    Seeding: ``reset(seed=s)`` (or ``seed=s`` here, used by the first reset) seeds the
    environment's generator with stream 0 of ``s`` (``VectorAbrEnv`` environment ``i`` uses
    stream ``i``, so ``AbrEnv`` with seed ``s`` plays what ``VectorAbrEnv``'s environment 0
    does). Draws: per episode the trace (unless given) and, with ``random_start``, the period;
    per chunk one delay-noise factor when the profile has ``delay_noise``.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        traces: Trace | Iterable[Trace],
        video: Video,
        profile: str | Profile = "default",
        qoe: str | QoE | None = None,
        observation: str = "abrkit",
        seed: int | None = None,
        history: int = DEFAULT_HISTORY,
    ) -> None:
        self._s = Sessions(1, traces, video, profile, qoe, observation, history)
        self._first_seed = check_seed(seed)
        self.action_space = spaces.Discrete(self._s.n_rungs)
        self.observation_space = observation_space(self._s)
        self._ended = True

    @property
    def log(self) -> np.ndarray:
        """The current episode's log so far, shape (n_chunks, layout.LOG_COLS), NaN rows not played (a view)."""
        return self._s.state.log[0]

    def settings(self) -> dict[str, Any]:
        return self._s.settings()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; returns (observation, info). ``options``: ``{"trace": index}``."""
        seed = check_seed(seed)
        if seed is None and self._first_seed is not None and not self._s.started:
            seed = self._first_seed
        super().reset(seed=seed)
        s = self._s
        if seed is not None or not s.started:
            s.seed([seed], [0])
        if options is not None and not isinstance(options, dict):
            raise ParameterError("options", options, "must be a dict (key: 'trace')")
        options = options or {}
        unknown = set(options) - {"trace"}
        if unknown:
            raise ParameterError("options", sorted(unknown), "unknown keys; known: 'trace'")
        s.check_trace_choice(options.get("trace"))
        s.cmd[0, CMD_RESET] = 1
        s.run()
        s.cmd[0, CMD_RESET] = 0
        s.started = True
        self._ended = bool(s.state.table[0, E_DONE])
        return s.obs_rows[0].reshape(s.obs_shape).copy(), s.row_info(0)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Play the next chunk at rung ``action``; returns (observation, reward, terminated,
        truncated (always False), info)."""
        s = self._s
        if self._ended:
            raise ParameterError("step", "after the episode ended" if s.started else "before reset()",
                                 "call reset() to start an episode")
        s.cmd[0, CMD_ACTION] = check_action(action, s.n_rungs)
        s.run()
        e = s.table_row(0)
        terminated = e[E_TERMINATED] != 0.0
        self._ended = terminated
        return s.obs_rows[0].reshape(s.obs_shape).copy(), e[E_REWARD], terminated, False, s.row_info(0, e)
