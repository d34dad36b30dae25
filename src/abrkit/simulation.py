"""Trace-driven session simulation: :func:`simulate`, :func:`simulate_many`, :func:`run_batch`.

All sessions run in one compiled loop (``_kernels.session``). A batch packs every trace, video
and controller once, then worker threads run disjoint ranges of sessions; the kernel releases
the GIL, so both cores are used, and each session writes only its own rows, so results do not
depend on the number of threads. The one exception is a profile with ``carry_robust_errors``
(Pensieve's RobustMPC keeps its error history from session to session): when a controller uses
a RobustDiscount predictor, the batch then runs serially, in job order, on one thread; so does
a batch with a controller whose data carries state (Pensieve's ``policy=sample`` draw stream).
"""

from __future__ import annotations

import copy
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ._kernels import groups as G
from ._kernels import layout as L
from ._jit import LiteralEntry
from ._kernels.contract import compile_group
from ._kernels.estimators import predictor_group
from ._kernels.session import run_batch as _run_batch_dispatcher
from ._checks import playable_sizes, worker_count
from ._interrupt import CtrlC, check
from .controllers import Controller, get_controller
from .custom import PythonController, is_python_controller, play_event_session, play_session, spec_of
from .errors import ParameterError
from .packing import pack_controllers, pack_traces, pack_videos
from .event import EventProfile, run_event_batch
from .predictors import Predictor, get_predictor
from .profiles import Profile, get_profile
from .qoe import QoE, get_qoe
from .result import STATUS_NAMES, SimResult
from .tables import chunk_frame, summary_table
from .traces import Trace
from .video import Video

__all__ = ["SimResult", "BatchResult", "simulate", "simulate_many", "run_batch"]

#: The batch kernel, compiled once per (controller id, predictor id) pair it is called with.
_run_batch_kernel = LiteralEntry(_run_batch_dispatcher, ("kind", "pkind"))

#: A controller argument: a name or spec string, a Controller, or a Python object with ``decide``.
ControllerLike = str | Controller | PythonController


# What a Python controller's jobs run in the compiled pass before they are replayed in Python.
_STAND_IN = "fixed:rung=0"

# Below this many chunk steps (~5 ms of work) one thread beats starting a pool.
_PARALLEL_MIN_STEPS = 100_000

@dataclass(frozen=True)
class _Packed:
    """Traces, videos and controllers concatenated for the batch kernel (``_kernels.groups``)."""

    traces: G.Traces
    videos: G.Videos
    ctrls: G.Controllers
    carries: bool
    sh_ids: np.ndarray
    sh_params: np.ndarray
    sh_offsets: np.ndarray


def _pack_predictors(preds: Sequence[Predictor]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, params of shape (n, PRED_PARAMS), state offsets of shape (n + 1,))."""
    packed = [p.pack() for p in preds]
    ids = np.array([p[0] for p in packed], dtype=np.int64)
    params = np.zeros((len(packed), L.PRED_PARAMS), dtype=np.float64)
    for i, p in enumerate(packed):
        params[i] = p[1]
    offsets = np.concatenate(([0], np.cumsum([p[2] for p in packed]))).astype(np.int64)
    return ids, params, offsets


def _pack(
    traces: Sequence[Trace], videos: Sequence[Video], controllers: Sequence[Controller], profile: Profile,
    shadows: Sequence[Predictor] = (),
) -> _Packed:
    n_chunks = [v.n_chunks if profile.max_chunks is None else min(v.n_chunks, profile.max_chunks) for v in videos]
    if profile.buffer_cap_s < max(v.longest_chunk_s for v in videos):
        raise ParameterError("buffer_cap_s", profile.buffer_cap_s, "must be >= the chunk duration, or no chunk could ever be buffered")
    sh_ids, sh_params, sh_offsets = _pack_predictors(shadows)
    for v in videos:
        playable_sizes(v.name, v.sizes_bytes)
        if profile.initial_rung is not None and profile.initial_rung >= v.n_rungs:
            raise ParameterError("initial_rung", profile.initial_rung, f"video {v.name!r} has only {v.n_rungs} rungs")
    for c in controllers:
        for v in videos:
            c.check_video(v)
    # A sampling controller makes at most one draw per chunk, plus one for chunk 0 and one
    # discarded between sessions: enough draws for every session it runs in this batch.
    n_draws = len(traces) * sum(n + 2 for n in n_chunks)
    ctrls = pack_controllers(controllers, profile.buffer_cap_s, n_draws)
    carries = profile.carry_robust_errors and bool(np.any(ctrls.pred_ids == L.PRED_ROBUST))
    carries = carries or any(c.carries_state() for c in controllers)
    return _Packed(
        traces=pack_traces([profile.kernel_trace(t) for t in traces]),
        videos=pack_videos(videos, n_chunks),
        ctrls=ctrls,
        carries=carries,
        sh_ids=sh_ids,
        sh_params=sh_params,
        sh_offsets=sh_offsets,
    )


@dataclass
class BatchResult:
    """Every session of a batch: per-chunk logs plus metadata; tables via :meth:`sessions` and :meth:`chunks`.

    ``log`` has shape (n_sessions, max_chunks, layout.LOG_COLS); rows past a session's
    ``n_done`` are NaN. Session ``j`` ran ``traces[job_trace[j]]`` with
    ``videos[job_video[j]]`` and ``controllers[job_ctrl[j]]``.
    """

    traces: list[Trace]
    videos: list[Video]
    controllers: list[Controller]
    profile: Profile
    qoe: QoE
    job_trace: np.ndarray
    job_video: np.ndarray
    job_ctrl: np.ndarray
    log: np.ndarray
    n_done: np.ndarray
    status: np.ndarray
    startup_s: np.ndarray
    n_chunks: np.ndarray = field(repr=False)
    shadows: list[Predictor] = field(default_factory=list)
    shadow_pred: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.job_trace.size)

    def _rungs(self, j: int) -> np.ndarray:
        r = self.log[j, : self.n_chunks[j], L.LOG_RUNG]
        return np.where(np.isnan(r), -1, r).astype(np.int64)

    def rewards(self, j: int) -> np.ndarray:
        """Per-chunk rewards of session ``j`` (NaN for chunks not played)."""
        video = self.videos[self.job_video[j]]
        return self.qoe.rewards(video, self._rungs(j), self.log[j, : self.n_chunks[j], L.LOG_REBUFFER_S])

    def session(self, j: int) -> "SimResult":
        return SimResult(self, j)

    def sessions(self) -> pd.DataFrame:
        """One row per session: identification, status and QoE/bitrate/rebuffer totals.

        Columns: trace, video, controller, profile, status, chunks (played), qoe (session
        total), qoe_per_chunk, mean_bitrate_kbps, rebuffer_s, rebuffer_events, startup_s,
        switches, mean_switch_kbps, wait_s, session_s, and mean_quality when a video has
        per-chunk quality. Computed with whole-array operations, one video at a time.
        """
        n = len(self)
        num: dict[str, np.ndarray] = {
            name: np.full(n, np.nan) for name in (
                "qoe", "qoe_per_chunk", "mean_bitrate_kbps", "rebuffer_s", "rebuffer_events", "switches",
                "mean_switch_kbps", "wait_s", "session_s", "mean_quality",
            )
        }
        has_quality = False
        for v, video in enumerate(self.videos):
            idx = np.flatnonzero(self.job_video == v)
            if idx.size == 0:
                continue
            for name, values in self._video_totals(video, idx).items():
                num[name][idx] = values
            has_quality |= video.quality is not None
        table = pd.DataFrame({
            "trace": [self.traces[t].name for t in self.job_trace],
            "video": [self.videos[v].name for v in self.job_video],
            "controller": [self.controllers[c].name for c in self.job_ctrl],
            "profile": self.profile.name,
            "status": [STATUS_NAMES[int(x)] for x in self.status],
            "chunks": self.n_done.astype(np.int64),
            "qoe": num["qoe"],
            "qoe_per_chunk": num["qoe_per_chunk"],
            "mean_bitrate_kbps": num["mean_bitrate_kbps"],
            "rebuffer_s": num["rebuffer_s"],
            "rebuffer_events": num["rebuffer_events"].astype(np.int64),
            "startup_s": self.startup_s.astype(np.float64),
            "switches": num["switches"].astype(np.int64),
            "mean_switch_kbps": num["mean_switch_kbps"],
            "wait_s": num["wait_s"],
            "session_s": num["session_s"],
        })
        if has_quality:
            table["mean_quality"] = num["mean_quality"]
        return table

    def _video_totals(self, video: Video, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Session totals of the sessions ``idx``, which all stream ``video``."""
        nc = int(self.n_chunks[idx[0]])
        log = self.log[idx, :nc]
        raw = log[..., L.LOG_RUNG]
        played = ~np.isnan(raw)
        rungs = np.where(played, raw, -1).astype(np.int64)
        n_done = played.sum(axis=1)
        count = np.maximum(n_done, 1)
        rewards = self.qoe.rewards(video, rungs, log[..., L.LOG_REBUFFER_S])
        total = self.qoe.total(rewards)
        scored = n_done - (0 if self.qoe.include_first_chunk else 1)
        rate_kbps = np.where(played, video.bitrates_bps[np.maximum(rungs, 0)] / 1e3, 0.0)
        pair = played[:, 1:] & played[:, :-1]
        n_pairs = pair.sum(axis=1)
        step_kbps = np.where(pair, np.abs(np.diff(rate_kbps, axis=1)), 0.0)
        rebuf = np.where(played, log[..., L.LOG_REBUFFER_S], 0.0)
        last = np.maximum(n_done - 1, 0)
        rows = np.arange(idx.size)
        end_s = log[rows, last, L.LOG_REQUEST_S] + log[rows, last, L.LOG_DELAY_S] + log[rows, last, L.LOG_WAIT_S]
        out = {
            "qoe": total,
            "qoe_per_chunk": total / np.maximum(scored, 1),
            "mean_bitrate_kbps": np.where(n_done > 0, rate_kbps.sum(axis=1) / count, np.nan),
            "rebuffer_s": rebuf.sum(axis=1),
            "rebuffer_events": (rebuf > 0).sum(axis=1).astype(np.float64),
            "switches": (pair & (np.diff(rungs, axis=1) != 0)).sum(axis=1).astype(np.float64),
            "mean_switch_kbps": np.where(n_pairs > 0, step_kbps.sum(axis=1) / np.maximum(n_pairs, 1), 0.0),
            "wait_s": np.where(played, log[..., L.LOG_WAIT_S], 0.0).sum(axis=1),
            "session_s": np.where(n_done > 0, end_s, 0.0),
        }
        if video.quality is not None:
            q = np.where(played, video.quality[np.arange(nc), np.maximum(rungs, 0)], 0.0)
            out["mean_quality"] = np.where(n_done > 0, q.sum(axis=1) / count, np.nan)
        return out

    def summary(self, sessions: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per controller (in the order given), aggregated over its sessions.

        Columns: controller, sessions, mean_qoe, mean_bitrate_kbps, mean_rebuffer_s,
        rebuffer_ratio (total rebuffering over rebuffering plus played media time),
        mean_switches, stalled_sessions. ``sessions`` reuses a table :meth:`sessions` made.
        """
        if sessions is None:
            sessions = self.sessions()
        chunks = sessions["chunks"].to_numpy(dtype=np.int64)
        played_s = np.empty(chunks.size, dtype=np.float64)
        for v, video in enumerate(self.videos):  # each chunk's own duration (chunk_s x chunks for equal chunks)
            idx = np.flatnonzero(self.job_video == v)
            played_s[idx] = video.played_s(chunks[idx])
        return summary_table(sessions, [c.name for c in self.controllers], played_s)

    def chunks(self) -> pd.DataFrame:
        """One row per played chunk of every session (the per-chunk log, tidy; columns in
        :func:`abrkit.tables.chunk_frame`)."""
        frames = [self.session_frame(j) for j in range(len(self))]
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)

    def session_frame(self, j: int) -> pd.DataFrame:
        """Session ``j``'s rows of :meth:`chunks`."""
        n = int(self.n_done[j])
        return chunk_frame(
            self.traces[self.job_trace[j]].name, self.videos[self.job_video[j]], self.controllers[self.job_ctrl[j]].name,
            self.log[j, :n], self.rewards(j)[:n],
        )

    def session_totals(self, j: int) -> dict[str, Any]:
        """Session ``j``'s row of :meth:`sessions` as a dict."""
        return _session_only(self, j).sessions().iloc[0].to_dict()

    def settings(self) -> dict[str, Any]:
        """Everything needed to trace a number back: profile, QoE, controllers, videos."""
        return {
            **self.profile.settings(),
            **self.qoe.settings(),
            "controllers": [c.settings() for c in self.controllers],
            "videos": [v.settings() for v in self.videos],
        }


def _session_only(batch: BatchResult, j: int) -> BatchResult:
    """A view of ``batch`` holding only session ``j``."""
    one = slice(j, j + 1)
    return BatchResult(
        batch.traces, batch.videos, batch.controllers, batch.profile, batch.qoe,
        batch.job_trace[one], batch.job_video[one], batch.job_ctrl[one], batch.log[one],
        batch.n_done[one], batch.status[one], batch.startup_s[one], batch.n_chunks[one],
    )


def _as_list(x: Any, kind: type) -> list[Any]:
    if isinstance(x, kind):
        return [x]
    return list(x)


def run_batch(
    traces: Trace | Iterable[Trace],
    videos: Video | Iterable[Video],
    controllers: ControllerLike | Iterable[ControllerLike],
    profile: str | Profile = "default",
    qoe: str | QoE | None = None,
    n_workers: int | None = None,
    progress: bool | None = None,
    shadow_predictors: Sequence[Predictor | str] = (),
    scheduler: Any = None,
) -> BatchResult:
    """Simulate every (trace, video, controller) combination; returns a :class:`BatchResult`.

    Sessions are ordered trace-major: for each trace, each video, each controller.
    ``controllers`` may mix names, specs, :class:`~abrkit.Controller` objects and Python objects
    with a ``decide(obs)`` method (:mod:`abrkit.custom`); the Python ones run after the compiled
    sessions, one session at a time in this order, in a loop that reproduces the compiled one.
    ``qoe`` defaults to the profile's model. ``progress`` shows a progress bar (default: when
    stderr is a terminal and the batch is large). Under a profile with ``carry_robust_errors``
    a controller's RobustDiscount error history runs on from each of its sessions to its next
    one, in this order, so such a batch runs on one thread (``n_workers`` is ignored) and its
    results depend on the order of the traces. ``shadow_predictors`` only watch: before
    each download each one predicts its throughput (``BatchResult.shadow_pred``, shape
    (sessions, predictors, chunks)) and then learns from it; they never affect decisions.

    ``scheduler`` says where the sessions run (:mod:`abrkit.cluster`): None (this process, on
    ``n_workers`` threads), ``"processes"`` or a Dask ``distributed.Client`` (or its address):
    the traces are cut into tasks of seconds, each run as here on one thread, and the parts put
    back in order, so the result is identical. A batch whose sessions hand state to each other
    (see above) runs as one task; Python controllers run only with ``scheduler=None``.
    """
    prof = get_profile(profile)
    if scheduler is not None:
        return _run_elsewhere(traces, videos, controllers, prof, qoe, progress, shadow_predictors, scheduler)
    if isinstance(prof, Profile) and prof.is_training:
        raise ParameterError(
            "profile", prof.name, "draws random start points or delay noise: it runs in abrkit.rl's environments, "
            "which seed it (simulate under a profile without random_start and delay_noise)",
        )
    single = isinstance(controllers, (str, Controller)) or is_python_controller(controllers)
    try:
        items = [controllers] if single else list(controllers)  # type: ignore[call-overload]
    except TypeError:
        raise ParameterError(
            "controllers", type(controllers).__name__, "must be a name, spec, Controller or object with decide(obs), or a list of them"
        ) from None
    user = {i: c for i, c in enumerate(items) if is_python_controller(c)}
    from .live import LiveProfile, run_live_batch

    if isinstance(prof, LiveProfile):  # the live model: its own loop and result class
        if shadow_predictors:
            raise ParameterError("shadow_predictors", shadow_predictors, "are not supported by the live model")
        if qoe is not None:
            raise ParameterError("qoe", qoe, "the live model scores with its profile's NQoE (LiveProfile.qoe)")
        return run_live_batch(traces, videos, items, prof, n_workers)  # type: ignore[return-value]
    if isinstance(prof, EventProfile):
        # Sabre's player: its own loop, the same result interface and units
        if shadow_predictors:
            raise ParameterError("shadow_predictors", shadow_predictors, "are not supported by the event model")
        if user and prof.model == "dashjs":
            raise ParameterError("controllers", "a Python controller (decide)",
                                 "does not run under the dashjs profile yet: its player has no Python twin")
        stand_in = [_STAND_IN if i in user else c for i, c in enumerate(items)]
        batch = run_event_batch(traces, videos, stand_in, prof, qoe, n_workers, progress)
        for j in np.flatnonzero(np.isin(batch.job_ctrl, list(user))):
            batch.replace_session(int(j), *play_event_session(
                batch.traces[batch.job_trace[j]], batch.videos[batch.job_video[j]], user[int(batch.job_ctrl[j])], prof,
            ))
        batch.controllers = [spec_of(user[i]) if i in user else c for i, c in enumerate(batch.controllers)]
        return batch  # type: ignore[return-value]
    if user and shadow_predictors:
        raise ParameterError("shadow_predictors", shadow_predictors, "are not supported with Python controllers")
    model = prof.qoe if qoe is None else get_qoe(qoe)
    tr = _as_list(traces, Trace)
    vids = _as_list(videos, Video)
    for c in items:
        if not isinstance(c, (str, Controller)) and not is_python_controller(c):
            raise ParameterError(
                "controllers", type(c).__name__, "must be names, specs, Controller objects or objects with a decide(obs) method"
            )
    # A Python controller's sessions run in the compiled batch with a stand-in (the cheapest
    # controller), then are replayed in Python below; its table rows show the user's controller.
    ctrls = [get_controller(_STAND_IN if i in user else c) for i, c in enumerate(items)]
    for name, seq in (("traces", tr), ("videos", vids), ("controllers", ctrls)):
        if not seq:
            raise ParameterError(name, [], "at least one is needed")
    for t in tr:
        if not isinstance(t, Trace):
            raise ParameterError("traces", type(t).__name__, "must be Trace objects (read files with abrkit.traces.load_traces)")
    for v in vids:
        if not isinstance(v, Video):
            raise ParameterError("videos", type(v).__name__, "must be Video objects")
    shadows = [get_predictor(p) for p in shadow_predictors]
    packed = _pack(tr, vids, ctrls, prof, shadows)
    grid = np.stack(np.meshgrid(np.arange(len(tr)), np.arange(len(vids)), np.arange(len(ctrls)), indexing="ij"), -1).reshape(-1, 3)
    job_trace, job_video, job_ctrl = (np.ascontiguousarray(grid[:, i], dtype=np.int64) for i in range(3))
    n_jobs = job_trace.size
    max_chunks = int(packed.videos.n_chunks.max())
    log = np.empty((n_jobs, max_chunks, L.LOG_COLS), dtype=np.float64)
    n_done = np.zeros(n_jobs, dtype=np.int64)
    status = np.zeros(n_jobs, dtype=np.int64)
    startup = np.zeros(n_jobs, dtype=np.float64)
    sh_pred = np.empty((n_jobs, len(shadows), max_chunks), dtype=np.float64)
    prof_vec = prof.pack()

    has_shadows = bool(shadows)
    # The kernel is compiled per (controller group, predictor group) pair, with only their code
    # (contract.compile_group, estimators.predictor_group): order the jobs so that each pair's
    # are contiguous, run each range with its groups, restore the order after.
    groups = np.array([compile_group(int(i)) for i in packed.ctrls.ids], dtype=np.int64)
    pgroups = np.array(
        [predictor_group(int(i), p) for i, p in zip(packed.ctrls.pred_ids, packed.ctrls.pred_params)], dtype=np.int64
    )
    kinds = groups[job_ctrl] * 1000 + (pgroups[job_ctrl] + 1)  # (controller group, predictor group) pairs
    order = np.argsort(kinds, kind="stable")
    permuted = bool(np.any(order != np.arange(n_jobs)))
    k_trace, k_video, k_ctrl = (np.ascontiguousarray(a[order]) for a in (job_trace, job_video, job_ctrl))
    k_kinds = kinds[order]

    jobs = G.Jobs(k_trace, k_video, k_ctrl)
    out = G.Outputs(log, n_done, status, startup)
    shadow_group = G.Shadows(packed.sh_ids, packed.sh_params, packed.sh_offsets, sh_pred) if has_shadows else None

    cancel = threading.Event()

    def work(lo: int, hi: int) -> int:
        check(cancel)  # Ctrl-C: stop between blocks (see _interrupt)
        _run_batch_kernel(
            lo, hi, jobs, packed.traces, packed.videos, prof_vec, packed.ctrls, shadow_group, out,
            int(groups[k_ctrl[lo]]), int(pgroups[k_ctrl[lo]]),
        )
        return hi - lo

    user_jobs = [int(j) for j in np.flatnonzero(np.isin(job_ctrl, list(user)))]
    workers = min(worker_count(n_workers), n_jobs)
    if n_workers is None and n_jobs * max_chunks < _PARALLEL_MIN_STEPS:
        workers = 1  # starting a pool costs more than a small batch takes
    if packed.carries:
        workers = 1  # sessions hand state to each other: one thread, blocks in job order
    show = progress if progress is not None else (sys.stderr.isatty() and n_jobs >= 2000)
    # Blocks small enough for a smooth bar and load balance, large enough to amortise dispatch.
    n_blocks = min(n_jobs, max(workers * 8, 64 if show else workers * 8))
    edges = set(np.linspace(0, n_jobs, n_blocks + 1).astype(int).tolist())
    edges.update(np.flatnonzero(np.diff(k_kinds)) + 1)  # a block never spans two compile groups
    edges_sorted = sorted(int(e) for e in edges)
    blocks = [(a, b) for a, b in zip(edges_sorted[:-1], edges_sorted[1:]) if b > a]
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_jobs + len(user_jobs), unit="session", desc="simulating", file=sys.stderr)
    with CtrlC(cancel):
        try:
            # The first block runs here, so compilation (or loading the cache) happens once.
            done = work(*blocks[0])
            if bar is not None:
                bar.update(done)
            if workers == 1:
                for lo, hi in blocks[1:]:
                    done = work(lo, hi)
                    if bar is not None:
                        bar.update(done)
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    for done in pool.map(lambda b: work(*b), blocks[1:]):
                        if bar is not None:
                            bar.update(done)
            if permuted:
                inverse = np.empty_like(order)
                inverse[order] = np.arange(n_jobs)
                log, n_done, status, startup = log[inverse], n_done[inverse], status[inverse], startup[inverse]
                if has_shadows:
                    sh_pred = sh_pred[inverse]
            # Python controllers: one session at a time, in job order (they may keep state)
            for j in user_jobs:
                check(cancel)
                log[j] = np.nan
                n_done[j], status[j], startup[j] = play_session(
                    tr[job_trace[j]], vids[job_video[j]], user[int(job_ctrl[j])], prof, int(packed.videos.n_chunks[job_video[j]]),
                    log[j],
                )
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    shown = [spec_of(user[i]) if i in user else c for i, c in enumerate(ctrls)]
    return BatchResult(tr, vids, shown, prof, model, job_trace, job_video, job_ctrl, log, n_done, status, startup,
                       packed.videos.n_chunks[job_video], shadows, sh_pred)


def _batch_part(shared: tuple[Any, ...], traces: list[Trace]) -> Any:
    """One task of a distributed batch: ``traces`` with every video and controller, one thread."""
    videos, controllers, profile, qoe, shadows = shared
    return run_batch(traces, videos, controllers, profile, qoe, n_workers=1, progress=False, shadow_predictors=shadows)


def _sessions_part(shared: tuple[Any, ...], traces: list[Trace]) -> pd.DataFrame:
    """One task of a distributed :func:`simulate_many`: only the per-session rows travel back."""
    return _batch_part(shared, traces).sessions()


def _run_elsewhere(
    traces: Any, videos: Any, controllers: Any, prof: Any, qoe: Any, progress: bool | None,
    shadow_predictors: Sequence[Predictor | str], scheduler: Any, sessions_only: bool = False,
) -> Any:
    """:func:`run_batch` cut along its traces into tasks for :mod:`abrkit.cluster`; with
    ``sessions_only`` each task returns its sessions table instead (a fraction of the bytes)."""
    from .cluster import check_scheduler, open_executor, plan_tasks, progress_bar, run_parts, time_items
    from .event import _event_controller

    check_scheduler(scheduler)
    tr = _as_list(traces, Trace)
    vids = _as_list(videos, Video)
    single = isinstance(controllers, (str, Controller)) or is_python_controller(controllers)
    items = [controllers] if single else list(controllers)
    if any(is_python_controller(c) for c in items):
        raise ParameterError(
            "scheduler", scheduler, "cannot run Python controllers (objects with decide(obs)): they run in this process; use scheduler=None",
        )
    if not tr or not vids or not items:
        raise ParameterError("batch", (len(tr), len(vids), len(items)), "needs at least one trace, video and controller")
    for t in tr:
        if not isinstance(t, Trace):
            raise ParameterError("traces", type(t).__name__, "must be Trace objects (read files with abrkit.traces.load_traces)")
    shadows = tuple(get_predictor(p) for p in shadow_predictors)
    if isinstance(prof, EventProfile):
        ctrls: list[Any] = [_event_controller(c) for c in items]
        carries = any(c.carries_state() for c in ctrls)
    else:
        ctrls = [get_controller(c) for c in items]
        carries = _pack(tr[:1], vids, ctrls, prof, shadows).carries  # also checks videos and controllers
    shared = (vids, ctrls, prof, qoe, shadows)
    if carries:  # sessions hand state on, in job order: the whole batch is one task
        parts = [(0, len(tr))]
    else:
        item_s = time_items(lambda k: _batch_part(shared, tr[:k]), len(tr))
        parts = None  # planned once the worker count is known
    n_jobs = len(tr) * len(vids) * len(ctrls)
    show = progress if progress is not None else (sys.stderr.isatty() and n_jobs >= 2000)
    with open_executor(scheduler, shared, _batch_part, ([tr[0]],)) as ex:
        if parts is None:
            parts = plan_tasks(len(tr), item_s, ex.n_workers)
        per_trace = len(vids) * len(ctrls)
        bar = progress_bar(show, n_jobs, "session", "simulating")
        try:
            results = run_parts(
                ex, _sessions_part if sessions_only else _batch_part, [(tr[a:b],) for a, b in parts],
                [(b - a) * per_trace for a, b in parts], bar,
            )
        finally:
            if bar is not None:
                bar.close()
    if sessions_only:
        return pd.concat(results, ignore_index=True)
    return _merge(results, [a for a, _ in parts], tr, vids)


def _merge(results: list[Any], starts: list[int], tr: list[Trace], vids: list[Video]) -> Any:
    """The batches of consecutive trace ranges (starting at ``starts``) as one, in job order."""
    first = results[0]
    job_trace = np.concatenate([r.job_trace + s for r, s in zip(results, starts)])
    job_video = np.concatenate([r.job_video for r in results])
    job_ctrl = np.concatenate([r.job_ctrl for r in results])
    status = np.concatenate([r.status for r in results])
    n_done = np.concatenate([r.n_done for r in results])
    if isinstance(first, BatchResult):
        shadow = None if first.shadow_pred is None else np.concatenate([r.shadow_pred for r in results])
        return BatchResult(
            tr, vids, first.controllers, first.profile, first.qoe, job_trace, job_video, job_ctrl,
            np.concatenate([r.log for r in results]), n_done, status, np.concatenate([r.startup_s for r in results]),
            np.concatenate([r.n_chunks for r in results]), first.shadows, shadow,
        )
    # an event-model batch (EventBatchResult, or a profile's own subclass such as the dash.js
    # player's): the first part's object with every per-session field joined, caches reset
    merged = copy.copy(first)
    merged.traces, merged.videos = tr, vids
    merged.job_trace, merged.job_video, merged.job_ctrl = job_trace, job_video, job_ctrl
    merged.n_done, merged.status = n_done, status
    merged.metrics = np.concatenate([r.metrics for r in results])
    merged.logs = [x for r in results for x in r.logs]
    merged.played = [x for r in results for x in r.played]
    merged.n_chunks = np.concatenate([r.n_chunks for r in results])
    merged.startup_s = np.concatenate([r.startup_s for r in results])
    merged._log = None
    merged._sessions = None
    return merged


def simulate(
    trace: Trace,
    video: Video,
    controller: ControllerLike = "bb",
    profile: str | Profile = "default",
    qoe: str | QoE | None = None,
) -> SimResult:
    """Simulate one streaming session of ``video`` over ``trace``.

    ``controller`` is a name or spec (``"bb"``, ``"robustmpc:horizon=3"``), a
    :class:`~abrkit.Controller`, or any object with a ``decide(obs)`` method (:mod:`abrkit.custom`).

    Under an event-model profile (``sabre``, ``event``) the result is the session's row of
    :meth:`abrkit.event.EventBatchResult.sessions` (every Sabre metric by name).
    """
    if not isinstance(trace, Trace):
        raise ParameterError("trace", type(trace).__name__, "must be a Trace object (read files with abrkit.load_traces)")
    if not isinstance(video, Video):
        raise ParameterError("video", type(video).__name__, "must be a Video object")
    return run_batch([trace], [video], [controller], profile, qoe, n_workers=1, progress=False).session(0)


def simulate_many(
    traces: Trace | Iterable[Trace],
    videos: Video | Iterable[Video],
    controllers: ControllerLike | Iterable[ControllerLike],
    profile: str | Profile = "default",
    qoe: str | QoE | None = None,
    n_workers: int | None = None,
    progress: bool | None = None,
    per_chunk: bool = False,
    scheduler: Any = None,
) -> pd.DataFrame:
    """Simulate every (trace, video, controller) combination; one tidy table.

    One row per session (``per_chunk=False``) or per played chunk (``per_chunk=True``).
    Deterministic: the same inputs give the same table whatever ``n_workers`` is, and whatever
    ``scheduler`` runs it (None, ``"processes"``, a Dask Client or address: :mod:`abrkit.cluster`).
    """
    if scheduler is not None and not per_chunk:
        # the workers make the table: per-session rows come back, not every chunk's log
        return _run_elsewhere(traces, videos, controllers, get_profile(profile), qoe, progress, (), scheduler, sessions_only=True)
    batch = run_batch(traces, videos, controllers, profile, qoe, n_workers, progress, scheduler=scheduler)
    return batch.chunks() if per_chunk else batch.sessions()
