"""What the single and the vector environment share: N packed sessions and the compiled step.

``Sessions`` validates the traces, video, profile, QoE model and observation once, packs them
for ``_kernels.rlenv.env_step`` and holds every array the kernel reads and writes, allocated
once: a step only fills them. The kernel is called through its compiled entry point, found
once, which skips Numba's per-call type dispatch (a few microseconds for this many arrays).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .._checks import integer, playable_sizes
from .._kernels import groups as G
from .._kernels import layout as L
from .._kernels import rlenv as K
from .._kernels.pensieve_obs import S_INFO, S_LEN
from ..errors import ParameterError
from ..event import EventProfile
from ..profiles import TRAINING_PROFILES, Profile, get_profile
from ..qoe import QoE, get_qoe
from ..result import STATUS_NAMES
from ..tables import CHUNK_COLUMNS
from ..traces import Trace
from ..video import Video

#: Observation names (``observation=``) and their kernel ids.
OBSERVATIONS: dict[str, int] = {"abrkit": K.OBS_ABRKIT, "pensieve": K.OBS_PENSIEVE}

#: The log row's column names, in ``layout.LOG_*`` order (seconds, bytes, bits per second).
LOG_NAMES: tuple[str, ...] = tuple(name for name, _ in CHUNK_COLUMNS)

#: History length of the default observation.
DEFAULT_HISTORY = 8


def env_profile(spec: str | Profile) -> Profile:
    """A chunk-model profile by name (``PROFILES`` or ``TRAINING_PROFILES``) or as given."""
    if isinstance(spec, str) and spec.lower() in TRAINING_PROFILES:
        return TRAINING_PROFILES[spec.lower()]
    prof = get_profile(spec)
    if isinstance(prof, EventProfile):
        raise ParameterError(
            "profile", prof.name, "is an event-model (Sabre) profile; the environments run the chunk model: "
            f"use one of {', '.join([*_chunk_profile_names()])}",
        )
    return prof


def _chunk_profile_names() -> list[str]:
    from ..profiles import PROFILES

    return [*PROFILES, *TRAINING_PROFILES]


def stream_state(seed: int | None, index: int) -> np.uint64:
    """The SplitMix64 state of stream ``index`` for ``seed`` (None: fresh entropy): the first
    word of ``numpy.random.SeedSequence(seed, spawn_key=(index,))``, so a stream depends on its
    seed and index only, never on how many environments there are."""
    return np.random.SeedSequence(seed, spawn_key=(index,)).generate_state(1, np.uint64)[0]


def check_seed(seed: object, what: str = "seed") -> int | None:
    if seed is None:
        return None
    return integer(what, seed, ge=0)


def _entry_point(kernel: Any, args: tuple[Any, ...]) -> Callable[..., Any]:
    """The compiled entry point of ``kernel`` for ``args``' types (compiling, or loading from
    Numba's cache, once); the plain function when the JIT is disabled."""
    if not hasattr(kernel, "overloads"):
        return kernel
    from numba.core.typing.typeof import Purpose, typeof

    sig = tuple(typeof(a, Purpose.argument) for a in args)
    kernel.compile(sig)
    return kernel.overloads[sig].entry_point


class SessionsView:
    """What both environments expose of their packed sessions ``self._s``: profile and QoE model."""

    _s: "Sessions"

    @property
    def profile(self) -> Profile:
        return self._s.profile

    @property
    def qoe(self) -> QoE:
        return self._s.qoe


class Sessions:
    """``n_envs`` sessions of ``video`` over ``traces`` under ``profile``, scored by ``qoe``.

    Arrays (N = n_envs): ``cmd`` (N, rlenv.CMD_SIZE) int64, the call's inputs (rung, reset,
    trace), and ``state`` (``rlenv.EnvState``), which the call updates and writes its results to.
    """

    def __init__(
        self,
        n_envs: int,
        traces: Trace | Iterable[Trace],
        video: Video,
        profile: str | Profile,
        qoe: str | QoE | None,
        observation: str,
        history: int,
    ) -> None:
        self.n_envs = integer("n_envs", n_envs, ge=1)
        self.profile = env_profile(profile)
        self.qoe = self.profile.qoe if qoe is None else get_qoe(qoe)
        if not isinstance(observation, str) or observation.lower() not in OBSERVATIONS:
            raise ParameterError("observation", observation, f"must be one of {', '.join(OBSERVATIONS)}")
        self.observation = observation.lower()
        self.history = integer("history", history, ge=1)
        self.traces = self._check_traces(traces)
        if not isinstance(video, Video):
            raise ParameterError("video", type(video).__name__, "must be a Video object (read files with abrkit.read_video)")
        self.video = video
        prof = self.profile
        video.require_uniform("the abrkit.rl environment")
        playable_sizes(video.name, video.sizes_bytes)
        if prof.buffer_cap_s < video.chunk_s:
            raise ParameterError("buffer_cap_s", prof.buffer_cap_s, "must be >= the chunk duration, or no chunk could ever be buffered")
        if prof.initial_rung is not None and prof.initial_rung >= video.n_rungs:
            raise ParameterError("initial_rung", prof.initial_rung, f"video {video.name!r} has only {video.n_rungs} rungs")
        self.n_chunks = video.n_chunks if prof.max_chunks is None else min(video.n_chunks, prof.max_chunks)
        if prof.initial_rung is not None and self.n_chunks < 2:
            raise ParameterError(
                "video", video.name, f"has {self.n_chunks} chunk(s) to play and the profile plays chunk 0 itself: no step left"
            )
        self.n_rungs = video.n_rungs
        grid = np.repeat(np.arange(self.n_rungs)[:, None], self.n_chunks, axis=1)  # (rungs, chunks): rung r everywhere
        utility = np.ascontiguousarray(self.qoe.utilities(video, grid).T, dtype=np.float64)
        low, high = prof.delay_noise
        cfg = np.zeros(K.CFG_SIZE)
        cfg[K.CFG_CHUNK_S] = video.chunk_s
        cfg[K.CFG_N_CHUNKS] = self.n_chunks
        cfg[K.CFG_NOISE_LOW_BOUND] = low
        cfg[K.CFG_NOISE_HIGH_BOUND] = high
        cfg[K.CFG_RANDOM_START] = float(prof.random_start)
        cfg[K.CFG_REBUFFER_WEIGHT] = self.qoe.rebuffer_weight
        cfg[K.CFG_SWITCH_WEIGHT] = self.qoe.switch_weight
        cfg[K.CFG_FIRST_CHUNK_REWARD] = float(self.qoe.include_first_chunk)
        cfg[K.CFG_OBSERVATION] = OBSERVATIONS[self.observation]
        cfg[K.CFG_HISTORY] = self.history
        parts = [prof.kernel_trace(t) for t in self.traces]
        lengths = [p[0].size for p in parts]
        self.data = K.EnvData(
            traces=G.Traces(
                offsets=np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
                end_s=np.ascontiguousarray(np.concatenate([p[0] for p in parts]), dtype=np.float64),
                bw_bps=np.ascontiguousarray(np.concatenate([p[1] for p in parts]), dtype=np.float64),
                lat_s=np.ascontiguousarray(np.concatenate([p[2] for p in parts]), dtype=np.float64),
                start_s=np.array([p[3] for p in parts], dtype=np.float64),
                wrap_s=np.array([p[4] for p in parts], dtype=np.float64),
            ),
            sizes_bytes=np.ascontiguousarray(video.sizes_bytes, dtype=np.float64),
            bitrates_bps=np.ascontiguousarray(video.bitrates_bps, dtype=np.float64),
            utility=utility,
            durations_s=video.chunk_durations_s(),
            prof=prof.pack(),
            cfg=cfg,
        )
        n = self.n_envs
        if self.observation == "pensieve":
            if self.n_rungs > S_LEN:
                raise ParameterError(
                    "observation", "pensieve", f"holds the next chunk's sizes for at most {S_LEN} rungs; video {video.name!r} has {self.n_rungs}"
                )
            self.obs_shape: tuple[int, ...] = (S_INFO, S_LEN)
            self.obs_dtype = np.dtype(np.float64)  # Pensieve's own state is float64
        else:
            self.obs_shape = (K.abrkit_obs_size(self.history, self.n_rungs),)
            self.obs_dtype = np.dtype(np.float32)
        self.obs_size = int(np.prod(self.obs_shape))
        table = np.zeros((n, K.E_SIZE))
        table[:, K.E_DONE] = 1.0
        self.state = K.EnvState(
            ss=np.zeros((n, L.SS_SIZE)),
            rng=np.zeros(n, dtype=np.uint64),
            table=table,
            log=np.full((n, self.n_chunks, L.LOG_COLS), np.nan),
            obs=np.zeros((n, self.obs_size), dtype=self.obs_dtype),
        )
        self.cmd = np.zeros((n, K.CMD_SIZE), dtype=np.int64)
        self.cmd[:, K.CMD_TRACE] = -1
        self.started = False  # no episode yet: step() before reset() is an error
        self._args = (self.cmd, self.data, self.state)
        # per-environment views made once: a step of the single environment reads them
        self._table_rows = list(self.state.table)
        self._log_rows = list(self.state.log)
        self.obs_rows = list(self.state.obs)
        self._call: Callable[..., Any] | None = None

    def _check_traces(self, traces: Trace | Iterable[Trace]) -> list[Trace]:
        try:
            items = [traces] if isinstance(traces, Trace) else list(traces)
        except TypeError:
            raise ParameterError("traces", type(traces).__name__, "must be a Trace or a list of Trace objects") from None
        if not items:
            raise ParameterError("traces", [], "at least one is needed")
        for t in items:
            if not isinstance(t, Trace):
                raise ParameterError("traces", type(t).__name__, "must be Trace objects (read files with abrkit.load_traces)")
            if not np.any(self.profile.kernel_trace(t)[1] > 0.0):
                raise ParameterError("traces", t.name, f"never delivers a byte as profile {self.profile.name!r} reads it")
        return items

    def seed(self, seeds: Sequence[int | None], indices: Sequence[int]) -> None:
        """Seed environment i's generator with stream ``stream_state(seeds[i], indices[i])``."""
        for i, (s, j) in enumerate(zip(seeds, indices)):
            self.state.rng[i] = stream_state(s, j)

    def run(self) -> None:
        """One compiled call: every environment resets or steps (see ``rlenv.env_step``)."""
        if self._call is None:
            self._call = _entry_point(K.env_step, self._args)
        self._call(*self._args)

    def check_trace_choice(self, value: Any) -> None:
        """Set the trace of the next reset from an option ``trace`` (an index, or one per
        environment; None: drawn)."""
        n_traces = len(self.traces)
        if value is None:
            self.cmd[:, K.CMD_TRACE] = -1
            return
        arr = np.asarray(value)
        if arr.dtype.kind not in "iu" or arr.ndim > 1 or (arr.ndim == 1 and arr.size != self.n_envs):
            raise ParameterError(
                "options['trace']", value, f"must be a trace index or {self.n_envs} of them (one per environment)"
            )
        if arr.size and (arr.min() < 0 or arr.max() >= n_traces):
            raise ParameterError("options['trace']", value, f"trace indices run from 0 to {n_traces - 1}")
        self.cmd[:, K.CMD_TRACE] = arr

    def row_info(self, i: int, e: list[float] | None = None) -> dict[str, Any]:
        """Environment ``i``'s info: the log row of the chunk the last call played (names of
        ``LOG_NAMES``; ``rung`` an int), ``chunk`` (-1: none played), ``trace`` (its index in
        ``traces``) and ``status`` (``complete`` or ``stalled``). ``e``: its table row as a
        list, if the caller has it (``table_row``)."""
        if e is None:
            e = self._table_rows[i].tolist()
        k = int(e[K.E_CHUNK])
        info: dict[str, Any] = {"chunk": k, "trace": int(e[K.E_TRACE]), "status": STATUS_NAMES[int(e[K.E_STATUS])]}
        if k >= 0:
            row = self._log_rows[i][k].tolist()
            info.update(zip(LOG_NAMES, row))
            info["rung"] = int(row[0])
        return info

    def table_row(self, i: int) -> list[float]:
        """Environment ``i``'s row of ``state.table`` (``rlenv.E_*``) as a list of floats."""
        return self._table_rows[i].tolist()

    def settings(self) -> dict[str, Any]:
        """What the environment runs: profile, QoE model, observation, video."""
        return {
            **self.profile.settings(), **self.qoe.settings(), "observation": self.observation, "history": self.history,
            "video": self.video.name, "bitrates_kbps": self.video.bitrates_kbps.tolist(), "chunk_s": self.video.chunk_s,
            "n_chunks": self.n_chunks, "traces": len(self.traces),
        }


def check_action(action: Any, n_rungs: int) -> int:
    """``action`` (an int, a NumPy integer or a 0-d integer array) as a rung index, else
    ParameterError. Booleans and floats are refused: a rung is an index."""
    if type(action) is int or isinstance(action, np.integer):
        a = int(action)
    elif isinstance(action, np.ndarray) and action.shape == () and action.dtype.kind in "iu":
        a = int(action)
    else:
        raise ParameterError("action", action, f"must be an integer rung in 0..{n_rungs - 1}")
    if not 0 <= a < n_rungs:
        raise ParameterError("action", action, f"must be an integer rung in 0..{n_rungs - 1}")
    return a
