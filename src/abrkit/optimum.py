"""The offline optimum: an upper bound on the QoE any controller can reach on a trace.

:func:`offline_optimum` solves, by dynamic programming over chunks with the whole trace known,
the session model of :func:`abrkit.simulate` *without the buffer cap* (a player that never
waits). Waiting only delays requests, and on a FIFO link a later request never finishes
sooner, so no controller, under the capped profile, beats this value on the same trace,
video, profile and QoE model (docs/optimum.md has the proof and the fine print).

``exact=True`` means the value is the QoE of the returned rung sequence played without the
buffer cap (``max_download_s`` respected, latency as the profile has it) and no sequence does
better. Otherwise the value is still an upper bound, but looser: a front grew past
``max_front`` and was merged, per-period latencies were replaced by the smallest one, or the
best sequence has a download the real loop would abandon.

Units: seconds, bits per second, bytes (see the package docstring).
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ._checks import integer, worker_count
from ._kernels import layout as L
from ._kernels import optimum as K
from .errors import ParameterError
from .profiles import Profile, get_profile
from .qoe import QoE, get_qoe
from .simulation import STATUS_NAMES
from .traces import Trace
from .video import Video

__all__ = ["OptimumResult", "offline_optimum", "offline_optimum_many", "DEFAULT_MAX_FRONT"]

#: Labels kept per chunk and previous rung before merging. The Norway HSDPA test set with
#: Envivio peaks at about 5,800 (docs/optimum.md). A chunk holds at most rungs x max_front
#: labels and rungs times as many candidates, ~100 bytes each.
DEFAULT_MAX_FRONT = 20_000

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
            "video": {"name": self.video.name, "bitrates_kbps": self.video.bitrates_kbps.tolist(), "chunk_s": self.video.chunk_s},
            "max_front": self.max_front,
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


def _prepare(video: Video, profile: str | Profile, qoe: str | QoE | None, max_front: int) -> _Prepared:
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
    # The same refusals as simulate(), so that the bound exists wherever a session does.
    if prof.buffer_cap_s < video.chunk_s:
        raise ParameterError("buffer_cap_s", prof.buffer_cap_s, "must be >= the chunk duration, or no chunk could ever be buffered")
    if prof.initial_rung is not None and prof.initial_rung >= video.n_rungs:
        raise ParameterError("initial_rung", prof.initial_rung, f"video {video.name!r} has only {video.n_rungs} rungs")
    n = video.n_chunks if prof.max_chunks is None else min(video.n_chunks, prof.max_chunks)
    # utilities() reads rungs along the last axis as chunks: ask for every (rung, chunk) pair.
    grid = np.broadcast_to(np.arange(video.n_rungs)[:, None], (video.n_rungs, video.n_chunks))
    utility = np.ascontiguousarray(model.utilities(video, grid).T[:n], dtype=np.float64)
    return _Prepared(
        video, prof, model, prof.pack(), np.ascontiguousarray(video.sizes_bytes[:n], dtype=np.float64),
        utility, n, max_front,
    )


def _solve(trace: Trace, p: _Prepared) -> OptimumResult:
    if not isinstance(trace, Trace):
        raise ParameterError("trace", type(trace).__name__, "must be a Trace object (read files with abrkit.load_traces)")
    end_s, bw_bps, lat_s, start_s, wrap_s = p.profile.kernel_trace(trace)
    n = p.n_chunks
    rung = np.empty(n, dtype=np.int64)
    rebuf = np.empty(n, dtype=np.float64)
    buffer = np.empty(n, dtype=np.float64)
    stats = np.empty(K.OPT_STATS, dtype=np.float64)
    common = (
        end_s, bw_bps, lat_s, start_s, wrap_s, p.sizes_bytes, p.utility, float(p.video.chunk_s), n, p.prof_vec,
        float(p.qoe.rebuffer_weight), float(p.qoe.switch_weight), bool(p.qoe.include_first_chunk), int(p.max_front),
    )
    # A quick beam run gives a real sequence's QoE; the exact run then drops hopeless labels.
    status = K.optimum_session(*common, min(_BEAM_WIDTH, p.max_front), -np.inf, rung, rebuf, buffer, stats)
    lower = float(stats[K.OPT_VALUE])
    if status == L.STATUS_COMPLETE:
        status = K.optimum_session(*common, 0, lower, rung, rebuf, buffer, stats)
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
        max_front=p.max_front,
    )


def offline_optimum(
    trace: Trace,
    video: Video,
    profile: str | Profile = "default",
    qoe: str | QoE | None = None,
    max_front: int = DEFAULT_MAX_FRONT,
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
    """
    return _solve(trace, _prepare(video, profile, qoe, max_front))


def offline_optimum_many(
    traces: Trace | Iterable[Trace],
    video: Video,
    profile: str | Profile = "default",
    qoe: str | QoE | None = None,
    max_front: int = DEFAULT_MAX_FRONT,
    n_workers: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """:func:`offline_optimum` for each trace; one row per trace, in the order given.

    Columns: trace, video, controller ("optimum"), profile, status, chunks, qoe,
    qoe_per_chunk, exact, exact_with_cap, mean_bitrate_kbps, rebuffer_s, switches (NaN without a sequence),
    lower_bound, labels, max_front, merges. The names match ``simulate_many``'s, so the two
    tables concatenate. Traces run on ``n_workers`` threads (the kernel releases the GIL);
    results do not depend on it. ``progress`` shows a bar (default: when stderr is a
    terminal and there are 20 traces or more).
    """
    tr = [traces] if isinstance(traces, Trace) else list(traces)
    if not tr:
        raise ParameterError("traces", [], "at least one is needed")
    prepared = _prepare(video, profile, qoe, max_front)
    workers = min(worker_count(n_workers), len(tr))
    show = progress if progress is not None else (sys.stderr.isatty() and len(tr) >= 20)
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tr), unit="trace", desc="offline optimum", file=sys.stderr)
    rows: list[dict[str, Any]] = []
    try:
        # The first trace runs here, so compilation (or loading the cache) happens once.
        rows.append(_solve(tr[0], prepared).totals())
        if bar is not None:
            bar.update(1)
        if workers == 1:
            results: Iterable[OptimumResult] = (_solve(t, prepared) for t in tr[1:])
            for res in results:
                rows.append(res.totals())
                if bar is not None:
                    bar.update(1)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for res in pool.map(lambda t: _solve(t, prepared), tr[1:]):
                    rows.append(res.totals())
                    if bar is not None:
                        bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return pd.DataFrame(rows)
