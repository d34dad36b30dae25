"""The offline optimum: an upper bound on the QoE any controller can reach on a trace.

:func:`offline_optimum` solves, by dynamic programming over chunks with the whole trace known,
the session model of :func:`abrkit.simulate` *without the buffer cap* (a player that never
waits). Waiting only delays requests, and on a FIFO link a later request never finishes
sooner, so no controller, under the capped profile, beats this value on the same trace,
video, profile and QoE model (docs/optimum.md has the proof and the fine print).

``exact=True`` means the value is the QoE of the returned rung sequence played without the
buffer cap (``max_download_s`` respected, latency as the profile has it) and no sequence does
better. Otherwise the value is still an upper bound, but looser, and ``reason`` says why: a
front grew past its cap (``max_front``, or less under the work bound ``max_labels``) and was
merged, per-period latencies were replaced by the smallest one, or the best sequence has a
download the real loop would abandon.

Time and memory are bounded for every input: about ``max_labels`` labels are kept over the
whole search (fronts are merged, and the result degrades to a looser bound, rather than grow
past that), a chunk expands at most ``MAX_CANDIDATES`` candidates, and a download costs a
bounded amount of work however slow the link. Inputs that would defeat these bounds are
refused up front with a ``ParameterError`` that says why. The kernel runs in blocks of about
``_BLOCK_WORK`` candidates and returns to Python between them, so Ctrl-C stops a long search
within a fraction of a second (in ``offline_optimum_many`` too, whatever the thread count).

Units: seconds, bits per second, bytes (see the package docstring).
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ._checks import integer, worker_count
from ._interrupt import Cancelled, CtrlC
from ._kernels import layout as L
from ._kernels import optimum as K
from .errors import ParameterError
from .profiles import Profile, get_profile
from .qoe import QoE, get_qoe
from .simulation import STATUS_NAMES
from .traces import Trace
from .video import Video

__all__ = [
    "OptimumResult", "offline_optimum", "offline_optimum_many", "DEFAULT_MAX_FRONT", "DEFAULT_MAX_LABELS",
    "MAX_SESSION_S", "MAX_RUNGS",
]

#: Labels kept per chunk and previous rung before merging. The Norway HSDPA test set with
#: Envivio peaks at about 5,800 (docs/optimum.md). A chunk holds at most rungs x max_front
#: labels and rungs times as many candidates, ~100 bytes each.
DEFAULT_MAX_FRONT = 20_000

#: Labels kept over the whole search (each costs about rungs candidates of work, ~0.3 us each,
#: and 6 bytes for the path). Past it fronts are capped to an even share of what is left, so a
#: search ends in bounded time with a looser bound. The Norway set with Envivio needs at most
#: ~430,000 (docs/optimum.md).
DEFAULT_MAX_LABELS = 5_000_000

#: The longest session the optimum accepts: the slowest sequence (every chunk at its largest
#: rung, each download a whole trace loop late) must end within this many seconds (~31,700
#: years). Past it the session clock would lose all precision (and a real session stalls long
#: before, at ``max_download_s``).
MAX_SESSION_S = 1e12

#: Ladders with more rungs are refused: every chunk expands at least rungs^2 candidates.
MAX_RUNGS = 1000

# Candidates expanded per kernel call: between calls the search checks for Ctrl-C and for
# cancellation (offline_optimum_many's workers). ~0.1 s.
_BLOCK_WORK = 200_000

# Width of the heuristic run whose QoE (a real rung sequence) lets the exact run drop labels
# that cannot reach it. 64 keeps it at a few per cent of the exact run's time.
_BEAM_WIDTH = 64


@dataclass(frozen=True)
class OptimumResult:
    """The offline optimum of one session.

    Attributes
    ----------
    qoe : float
        The optimum QoE total (an upper bound on every controller's); NaN if the trace has
        no bandwidth.
    exact : bool
        True: ``qoe`` is the QoE of ``rung`` played without the buffer cap, and the maximum.
    exact_with_cap : bool
        True: moreover ``rung`` never fills the buffer past the profile's cap, so the profile as
        given plays it with this very QoE: ``qoe`` is the optimum of the capped model itself.
    rung : array of int, shape (n_chunks,), or None
        The best rung sequence (None when merged labels left no sequence behind).
    rebuffer_s : array of float, shape (n_chunks,), or None
        Per-chunk rebuffering of ``rung`` in the uncapped model, seconds.
    buffer_s : array of float, shape (n_chunks,), or None
        Buffer after each chunk's download in the uncapped model, seconds.
    lower_bound : float
        QoE of the heuristic (beam) sequence that seeded the search; the true optimum lies in
        ``[lower_bound, qoe]`` whatever ``exact`` says.
    labels, max_front_seen, merges : int
        Search effort: labels kept over all chunks, the largest front, fronts merged.
    latency_relaxed, long_download : bool
        Why a result may not be exact (see the module docstring).
    reason : str
        Why ``exact`` is False, in words ("" when it is True).
    capped : int
        Fronts merged because of the work bound (``max_labels``, or the per-chunk candidate
        limit) rather than ``max_front``.
    """

    trace: Trace
    video: Video
    profile: Profile
    qoe_model: QoE
    status: str
    qoe: float
    exact: bool
    exact_with_cap: bool
    rung: np.ndarray | None
    rebuffer_s: np.ndarray | None
    buffer_s: np.ndarray | None
    n_chunks: int
    lower_bound: float
    labels: int
    max_front_seen: int
    merges: int
    latency_relaxed: bool
    long_download: bool
    max_front: int = field(default=DEFAULT_MAX_FRONT)
    reason: str = ""
    capped: int = 0
    max_labels: int = field(default=DEFAULT_MAX_LABELS)

    @property
    def reward(self) -> np.ndarray | None:
        """Per-chunk rewards of ``rung`` (None without a sequence)."""
        if self.rung is None or self.rebuffer_s is None:
            return None
        return self.qoe_model.rewards(self.video, self.rung, self.rebuffer_s)

    def totals(self) -> dict[str, Any]:
        """One row of :func:`offline_optimum_many` (column names as in ``simulate_many``)."""
        n = self.n_chunks
        scored = max(n - (0 if self.qoe_model.include_first_chunk else 1), 1)
        row: dict[str, Any] = {
            "trace": self.trace.name,
            "video": self.video.name,
            "controller": "optimum",
            "profile": self.profile.name,
            "status": self.status,
            "chunks": n if self.status == "complete" else 0,
            "qoe": self.qoe,
            "qoe_per_chunk": self.qoe / scored,
            "exact": self.exact,
            "exact_with_cap": self.exact_with_cap,
            "mean_bitrate_kbps": np.nan,
            "rebuffer_s": np.nan,
            "switches": np.nan,
            "lower_bound": self.lower_bound,
            "labels": self.labels,
            "max_front": self.max_front_seen,
            "merges": self.merges,
            "reason": self.reason,
        }
        if self.rung is not None and self.rebuffer_s is not None:
            row["mean_bitrate_kbps"] = float(self.video.bitrates_bps[self.rung].mean() / 1e3)
            row["rebuffer_s"] = float(self.rebuffer_s.sum())
            row["switches"] = int(np.count_nonzero(np.diff(self.rung)))
        return row

    def to_frame(self) -> pd.DataFrame:
        """The best sequence, one row per chunk: chunk, rung, bitrate_kbps, rebuffer_s, buffer_s, reward."""
        if self.rung is None or self.rebuffer_s is None:
            return pd.DataFrame(columns=["chunk", "rung", "bitrate_kbps", "rebuffer_s", "buffer_s", "reward"])
        return pd.DataFrame({
            "chunk": np.arange(self.rung.size),
            "rung": self.rung,
            "bitrate_kbps": self.video.bitrates_bps[self.rung] / 1e3,
            "rebuffer_s": self.rebuffer_s,
            "buffer_s": self.buffer_s,
            "reward": self.reward,
        })

    def settings(self) -> dict[str, Any]:
        """Profile, QoE model, video ladder and search settings behind the number."""
        return {
            **self.profile.settings(),
            **self.qoe_model.settings(),
            "video": self.video.settings(),
            "max_front": self.max_front,
            "max_labels": self.max_labels,
            "beam_width": min(_BEAM_WIDTH, self.max_front),
        }

    def __repr__(self) -> str:
        return (
            f"OptimumResult(trace={self.trace.name!r}, status={self.status!r}, qoe={self.qoe:.3f}, "
            f"exact={self.exact}, chunks={self.n_chunks}, labels={self.labels})"
        )


@dataclass(frozen=True)
class _Prepared:
    """What every session of a video shares, packed once."""

    video: Video
    profile: Profile
    qoe: QoE
    prof_vec: np.ndarray
    sizes_bytes: np.ndarray
    utility: np.ndarray
    n_chunks: int
    max_front: int
    max_labels: int


def _prepare(
    video: Video, profile: str | Profile, qoe: str | QoE | None, max_front: int, max_labels: int = DEFAULT_MAX_LABELS
) -> _Prepared:
    if not isinstance(video, Video):
        raise ParameterError("video", type(video).__name__, "must be a Video object (see abrkit.read_video)")
    prof = get_profile(profile)
    if not isinstance(prof, Profile):
        raise ParameterError(
            "profile", getattr(prof, "name", profile),
            "the offline optimum solves the chunk model; event-model profiles (sabre, event) are not supported",
        )
    model = prof.qoe if qoe is None else get_qoe(qoe)
    integer("max_front", max_front, ge=1)
    integer("max_labels", max_labels, ge=1)
    # The same refusals as simulate(), so that the bound exists wherever a session does.
    if prof.buffer_cap_s < video.longest_chunk_s:
        raise ParameterError("buffer_cap_s", prof.buffer_cap_s, "must be >= the chunk duration, or no chunk could ever be buffered")
    if prof.initial_rung is not None and prof.initial_rung >= video.n_rungs:
        raise ParameterError("initial_rung", prof.initial_rung, f"video {video.name!r} has only {video.n_rungs} rungs")
    # The work bounds need these (docs/optimum.md, "Bounds").
    if video.n_rungs > MAX_RUNGS:
        raise ParameterError(
            "video", video.name,
            f"has {video.n_rungs} rungs; the offline optimum takes at most {MAX_RUNGS} (every chunk expands at least "
            "rungs^2 candidates)",
        )
    n = video.n_chunks if prof.max_chunks is None else min(video.n_chunks, prof.max_chunks)
    if max_labels + n * video.n_rungs >= 2**31:
        raise ParameterError(
            "max_labels", max_labels,
            f"max_labels + chunks x rungs ({n} x {video.n_rungs}) must stay below 2**31 (the path records are "
            "indexed with 32-bit integers)",
        )
    # utilities() reads rungs along the last axis as chunks: ask for every (rung, chunk) pair.
    grid = np.broadcast_to(np.arange(video.n_rungs)[:, None], (video.n_rungs, video.n_chunks))
    utility = np.ascontiguousarray(model.utilities(video, grid).T[:n], dtype=np.float64)
    return _Prepared(
        video, prof, model, prof.pack(), np.ascontiguousarray(video.sizes_bytes[:n], dtype=np.float64),
        utility, n, max_front, max_labels,
    )


def _kernel_trace(trace: Trace, p: _Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """The trace as the kernel reads it, refused (ParameterError) if a session could last past
    ``MAX_SESSION_S``: bounding the slowest sequence keeps every clock finite and meaningful."""
    if not isinstance(trace, Trace):
        raise ParameterError("trace", type(trace).__name__, "must be a Trace object (read files with abrkit.load_traces)")
    arrays = p.profile.kernel_trace(trace)
    end_s, bw_bps, lat_s, _, wrap_s = arrays
    loop_s = float(end_s[-1] - wrap_s)
    durations = np.diff(np.concatenate(([wrap_s], end_s)))
    loop_bytes = float(np.sum(bw_bps / 8.0 * p.profile.payload_efficiency * durations))
    if loop_bytes > 0.0 and p.n_chunks > 0:  # (no payload at all: the kernel says no_bandwidth)
        max_lat_s = p.profile.rtt_s if p.profile.rtt_s is not None else float(lat_s.max())
        largest = float(p.sizes_bytes.max(axis=1).sum())
        # A download of s bytes from anywhere takes at most (s / loop_bytes + 1) loops.
        longest_s = (largest / loop_bytes + p.n_chunks + 1) * loop_s + p.n_chunks * max_lat_s
        if not longest_s <= MAX_SESSION_S:
            raise ParameterError(
                "trace", trace.name or "<trace>",
                f"carries {loop_bytes * 8.0 / loop_s:.3g} bit/s of payload on average: a session of video "
                f"{p.video.name!r} ({p.n_chunks} chunks) could last {longest_s:.3g} s, past the offline optimum's "
                f"limit of {MAX_SESSION_S:.0e} s (its clocks would lose all precision; the player itself gives up "
                f"after max_download_s={p.profile.max_download_s:g} s per chunk)",
            )
    return arrays


def _search(
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray, float, float], p: _Prepared, beam_width: int, lower: float,
    cancel: threading.Event | None, rung: np.ndarray, rebuf: np.ndarray, buffer: np.ndarray, stats: np.ndarray,
) -> int:
    """One run of the kernel (a beam when ``beam_width`` > 0), in blocks of ``_BLOCK_WORK``
    candidates: between blocks Python handles signals (Ctrl-C) and ``cancel`` is checked."""
    end_s, bw_bps, lat_s, start_s, wrap_s = arrays
    mu = float(p.qoe.rebuffer_weight)
    lam = float(p.qoe.switch_weight)
    durations_s = np.ascontiguousarray(p.video.chunk_durations_s()[: p.n_chunks])
    tables, state = K.optimum_start(
        end_s, bw_bps, lat_s, start_s, wrap_s, p.sizes_bytes, p.utility, p.n_chunks, p.prof_vec, mu, lam, lower,
    )
    while state[-1][K.ST_STATUS] == K.ST_RUNNING:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        state = K.optimum_steps(
            end_s, bw_bps, wrap_s, p.sizes_bytes, p.utility, durations_s, p.n_chunks, p.prof_vec, mu, lam,
            bool(p.qoe.include_first_chunk), int(p.max_front), int(beam_width), int(p.max_labels), tables, state,
            _BLOCK_WORK,
        )
    return int(K.optimum_finish(
        end_s, bw_bps, lat_s, start_s, wrap_s, p.sizes_bytes, durations_s, p.n_chunks, p.prof_vec, tables, state,
        rung, rebuf, buffer, stats,
    ))


def _reason(p: _Prepared, arrays: tuple, status: int, stats: np.ndarray, has_path: bool) -> str:
    """Why a result is not exact, in words ("" when it is)."""
    if status == L.STATUS_NO_BANDWIDTH:
        return "no bandwidth: the trace, as this profile reads it, never delivers a byte"
    parts = []
    if not has_path:
        merges, capped = int(stats[K.OPT_MERGES]), int(stats[K.OPT_CAPPED])
        if capped:
            parts.append(
                f"work bound: {capped} fronts were merged to as few as {int(stats[K.OPT_MIN_CAP])} labels per rung "
                f"from chunk {int(stats[K.OPT_CAPPED_FROM])} on (max_labels={p.max_labels:,} labels in all, "
                f"at most {K.MAX_CANDIDATES:,} candidates per chunk), so no rung sequence reaches the bound"
            )
        if merges > capped:
            parts.append(
                f"{merges - capped} fronts grew past max_front={p.max_front:,} and were merged, so no rung sequence "
                "reaches the bound"
            )
    if stats[K.OPT_LATENCY_RELAXED]:
        lat_s = arrays[2]
        parts.append(
            f"per-period latencies differ ({float(lat_s.min()):g}-{float(lat_s.max()):g} s): every request after "
            "chunk 0 was given the smallest"
        )
    if stats[K.OPT_BEST_LONG]:
        parts.append(
            f"the best sequence has a download longer than max_download_s={p.profile.max_download_s:g} s, which the "
            "player abandons"
        )
    return "; ".join(parts)


def _solve(trace: Trace, p: _Prepared, cancel: threading.Event | None = None) -> OptimumResult:
    arrays = _kernel_trace(trace, p)
    n = p.n_chunks
    rung = np.empty(n, dtype=np.int64)
    rebuf = np.empty(n, dtype=np.float64)
    buffer = np.empty(n, dtype=np.float64)
    stats = np.empty(K.OPT_STATS, dtype=np.float64)
    # A quick beam run gives a real sequence's QoE; the exact run then drops hopeless labels.
    status = _search(arrays, p, min(_BEAM_WIDTH, p.max_front), -np.inf, cancel, rung, rebuf, buffer, stats)
    lower = float(stats[K.OPT_VALUE])
    if status == L.STATUS_COMPLETE:
        status = _search(arrays, p, 0, lower, cancel, rung, rebuf, buffer, stats)
    value = float(stats[K.OPT_VALUE])
    has_path = status == L.STATUS_COMPLETE and stats[K.OPT_BEST_MERGED] == 0.0
    if has_path:
        # Score the sequence the way simulate() scores a log, so equal sessions print equal.
        value = float(p.qoe.total(p.qoe.rewards(p.video, rung, rebuf)))
    latency_relaxed = bool(stats[K.OPT_LATENCY_RELAXED])
    long_download = bool(stats[K.OPT_BEST_LONG])
    exact = bool(has_path and not latency_relaxed and not long_download)
    # The loop waits only when the buffer passes the cap: below it the capped session is this one.
    within_cap = bool(has_path and np.all(buffer <= p.profile.buffer_cap_s))
    return OptimumResult(
        trace=trace, video=p.video, profile=p.profile, qoe_model=p.qoe, status=STATUS_NAMES[int(status)],
        qoe=value, exact=exact, exact_with_cap=exact and within_cap,
        rung=rung if has_path else None, rebuffer_s=rebuf if has_path else None,
        buffer_s=buffer if has_path else None, n_chunks=n,
        lower_bound=lower, labels=int(stats[K.OPT_LABELS]), max_front_seen=int(stats[K.OPT_MAX_FRONT]),
        merges=int(stats[K.OPT_MERGES]), latency_relaxed=latency_relaxed, long_download=long_download,
        max_front=p.max_front, reason=_reason(p, arrays, status, stats, has_path), capped=int(stats[K.OPT_CAPPED]),
        max_labels=p.max_labels,
    )


def offline_optimum(
    trace: Trace,
    video: Video,
    profile: str | Profile = "default",
    qoe: str | QoE | None = None,
    max_front: int = DEFAULT_MAX_FRONT,
    max_labels: int = DEFAULT_MAX_LABELS,
) -> OptimumResult:
    """The best QoE any rung sequence reaches on ``trace`` (an upper bound for every controller).

    Parameters
    ----------
    trace, video : Trace, Video
        The network trace and the video, as for :func:`abrkit.simulate`.
    profile : str or Profile
        Player and network model (``"default"``, ``"pensieve"`` or a :class:`Profile`); its
        buffer cap is dropped (see the module docstring), everything else is kept.
    qoe : str, QoE or None
        QoE model; None takes the profile's.
    max_front : int
        Labels kept per chunk and previous rung before neighbours are merged (then the
        result is a looser bound with ``exact=False``). Time and memory grow with it.
    max_labels : int
        Labels kept over the whole search: the work bound. Fronts are capped to share what is
        left evenly among the chunks to come (merging as ``max_front`` does), so time (about
        rungs x 0.3 us per label) and memory (6 bytes per label, plus at most
        ``MAX_CANDIDATES`` candidates of ~100 bytes for one chunk) stay bounded.

    Raises
    ------
    ParameterError
        For bad arguments, and up front for inputs the bounds cannot hold: a trace so slow
        that a session could outlast ``MAX_SESSION_S``, a ladder of more than ``MAX_RUNGS``
        rungs, or ``max_labels`` + chunks x rungs of 2**31 or more.
    KeyboardInterrupt
        Ctrl-C stops the search between two blocks of work (a fraction of a second).
    """
    prepared = _prepare(video, profile, qoe, max_front, max_labels)
    cancel = threading.Event()
    with CtrlC(cancel):
        return _solve(trace, prepared, cancel)


def offline_optimum_many(
    traces: Trace | Iterable[Trace],
    video: Video,
    profile: str | Profile = "default",
    qoe: str | QoE | None = None,
    max_front: int = DEFAULT_MAX_FRONT,
    n_workers: int | None = None,
    progress: bool | None = None,
    max_labels: int = DEFAULT_MAX_LABELS,
    scheduler: Any = None,
) -> pd.DataFrame:
    """:func:`offline_optimum` for each trace; one row per trace, in the order given.

    Columns: trace, video, controller ("optimum"), profile, status, chunks, qoe,
    qoe_per_chunk, exact, exact_with_cap, mean_bitrate_kbps, rebuffer_s, switches (NaN without a sequence),
    lower_bound, labels, max_front, merges, reason. The names match ``simulate_many``'s, so the
    two tables concatenate. Traces run on ``n_workers`` threads (the kernel releases the GIL);
    results do not depend on it. ``progress`` shows a bar (default: when stderr is a
    terminal and there are 20 traces or more). Every trace is checked before any is solved
    (a refused one raises ``ParameterError`` at once). Ctrl-C (``KeyboardInterrupt``) stops
    every worker within a block of work and is raised here.

    ``scheduler`` says where the traces are solved (:mod:`abrkit.cluster`): None (threads
    here), ``"processes"`` or a Dask ``distributed.Client`` or address; the table is the same.
    """
    tr = [traces] if isinstance(traces, Trace) else list(traces)
    if not tr:
        raise ParameterError("traces", [], "at least one is needed")
    prepared = _prepare(video, profile, qoe, max_front, max_labels)
    for t in tr:  # refusals come before any work
        _kernel_trace(t, prepared)
    if scheduler is not None:
        return _optimum_elsewhere(tr, prepared, progress, scheduler)
    workers = min(worker_count(n_workers), len(tr))
    show = progress if progress is not None else (sys.stderr.isatty() and len(tr) >= 20)
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tr), unit="trace", desc="offline optimum", file=sys.stderr)
    rows: list[dict[str, Any]] = []
    cancel = threading.Event()
    try:
        with CtrlC(cancel):
            # The first trace runs here, so compilation (or loading the cache) happens once.
            rows.append(_solve(tr[0], prepared, cancel).totals())
            if bar is not None:
                bar.update(1)
            if workers == 1:
                for t in tr[1:]:
                    rows.append(_solve(t, prepared, cancel).totals())
                    if bar is not None:
                        bar.update(1)
            else:
                pool = ThreadPoolExecutor(max_workers=workers)
                try:
                    futures: list[Future[OptimumResult]] = [pool.submit(_solve, t, prepared, cancel) for t in tr[1:]]
                    for fut in futures:
                        rows.append(fut.result().totals())
                        if bar is not None:
                            bar.update(1)
                except BaseException:
                    # An error or Ctrl-C: the workers stop at their next block, traces not
                    # started are dropped.
                    cancel.set()
                    raise
                finally:
                    pool.shutdown(wait=True, cancel_futures=True)
    finally:
        if bar is not None:
            bar.close()
    return pd.DataFrame(rows)


def _optimum_part(prepared: _Prepared, traces: list[Trace]) -> list[dict[str, Any]]:
    """One task of a distributed :func:`offline_optimum_many`: the rows of ``traces``."""
    return [_solve(t, prepared).totals() for t in traces]


def _optimum_elsewhere(tr: list[Trace], prepared: _Prepared, progress: bool | None, scheduler: Any) -> pd.DataFrame:
    from .cluster import check_scheduler, open_executor, plan_tasks, progress_bar, run_parts, time_items

    check_scheduler(scheduler)
    item_s = time_items(lambda k: _optimum_part(prepared, tr[:k]), len(tr))
    show = progress if progress is not None else (sys.stderr.isatty() and len(tr) >= 20)
    with open_executor(scheduler, prepared, _optimum_part, (tr[:1],)) as ex:
        parts = plan_tasks(len(tr), item_s, ex.n_workers)
        bar = progress_bar(show, len(tr), "trace", "offline optimum")
        try:
            results = run_parts(ex, _optimum_part, [(tr[a:b],) for a, b in parts], [b - a for a, b in parts], bar)
        finally:
            if bar is not None:
                bar.close()
    return pd.DataFrame([row for part in results for row in part])
