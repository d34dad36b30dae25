"""asv benchmarks of the offline optimum, and the table in docs/optimum.md.

* ``OfflineOptimum`` -- ``offline_optimum_many`` over the 142-trace evaluation set, per profile
  and QoE model: ``time_*`` per call on one and two threads, ``track_ms_per_trace`` (one
  thread, best of a few runs).
* ``SpeedupVsReference`` -- the compiled search against its plain-Python twin
  (``tests/reference_optimum.py``) on the first 10 chunks of a few evaluation traces.
* ``Bounds`` -- issue 11's reproducers, synthetic and seeded (the same on every machine): a
  1 bps trace (8 chunks) and a 400-chunk VBR video that the work bound ``max_labels`` stops
  (time, peak memory, and how far the bound lies above the beam's real sequence).

``python -m benchmarks.bench_optimum`` (from the repository root) prints the Markdown table of
docs/optimum.md: time per trace, search effort, exactness, and how far the best built-in
controller stays from the optimum. ``python -m benchmarks.bench_optimum bounds`` prints the
table of docs/optimum.md's "Bounds" section.
"""

from __future__ import annotations

import sys
import time

import numpy as np

import abrkit
from abrkit import run_batch
from abrkit.event_controllers import EVENT_CONTROLLERS
from abrkit.optimum import offline_optimum, offline_optimum_many

from ._data import DATA_LABEL, TESTS_DIR, best_time, eval_set

PROFILES = ("default", "pensieve")
QOE_MODELS = ("linear", "log", "hd")
CONTROLLERS = sorted(set(abrkit.CONTROLLERS) - set(EVENT_CONTROLLERS))


def _qoe(profile: str, model: str) -> abrkit.QoE:
    """The model with the profile's chunk-0 rule (Pensieve's totals skip chunk 0)."""
    include = abrkit.get_profile(profile).qoe.include_first_chunk
    return abrkit.QOE_MODELS[model]().with_first_chunk(include)


class OfflineOptimum:
    """The optimum of every evaluation trace; ``setup`` compiles (or loads the cache)."""

    params = ([DATA_LABEL], list(PROFILES), list(QOE_MODELS))
    param_names = ["data", "profile", "qoe"]
    timeout = 600

    def setup(self, data: str, profile: str, qoe: str) -> None:
        self.traces, self.video = eval_set()
        self.qoe = _qoe(profile, qoe)
        offline_optimum_many(self.traces[:2], self.video, profile, self.qoe, n_workers=1, progress=False)

    def time_one_worker(self, data: str, profile: str, qoe: str) -> None:
        offline_optimum_many(self.traces, self.video, profile, self.qoe, n_workers=1, progress=False)

    def time_two_workers(self, data: str, profile: str, qoe: str) -> None:
        offline_optimum_many(self.traces, self.video, profile, self.qoe, n_workers=2, progress=False)

    def track_ms_per_trace(self, data: str, profile: str, qoe: str) -> float:
        run = lambda: offline_optimum_many(self.traces, self.video, profile, self.qoe, n_workers=1, progress=False)  # noqa: E731
        return 1e3 * best_time(run, min_time=0.0, min_repeats=2) / len(self.traces)

    track_ms_per_trace.unit = "ms"  # type: ignore[attr-defined]


class SpeedupVsReference:
    """Compiled search / plain-Python twin, same inputs, same process."""

    params = [DATA_LABEL]
    param_names = ["data"]
    timeout = 300

    def setup(self, data: str) -> None:
        if str(TESTS_DIR) not in sys.path:
            sys.path.insert(0, str(TESTS_DIR))
        try:
            import reference_optimum
        except ImportError:  # an installed package without its tests
            raise NotImplementedError("tests/reference_optimum.py not found") from None
        from abrkit._kernels import optimum as K

        traces, video = eval_set()
        profile = abrkit.get_profile("default")
        qoe = profile.qoe
        n = 10
        grid = np.broadcast_to(np.arange(video.n_rungs)[:, None], (video.n_rungs, video.n_chunks))
        utility = np.ascontiguousarray(qoe.utilities(video, grid).T[:n])
        sizes = np.ascontiguousarray(video.sizes_bytes[:n])
        self.calls = []
        for trace in traces[:: 142 // 4][:4]:
            args = (
                *profile.kernel_trace(trace), sizes, utility, video.chunk_durations_s()[:n], n, profile.pack(),
                qoe.rebuffer_weight, qoe.switch_weight, True, 10_000, 0, -np.inf, 10**9,
                np.empty(n, np.int64), np.empty(n), np.empty(n), np.empty(K.OPT_STATS),
            )
            self.calls.append(args)
        self.kernel, self.reference = K.optimum_session, reference_optimum.optimum_session
        for args in self.calls:
            self.kernel(*args)

    def track_speedup(self, data: str) -> float:
        fast = best_time(lambda: [self.kernel(*a) for a in self.calls])
        slow = best_time(lambda: [self.reference(*a) for a in self.calls], min_time=0.0, min_repeats=1)
        return slow / fast

    track_speedup.unit = "x"  # type: ignore[attr-defined]


LADDER_KBPS = (300, 750, 1200, 1850, 2850, 4300)


def _one_bps() -> tuple[abrkit.Trace, abrkit.Video]:
    """Issue 11: 58 s at 8 chunks before downloads past WALK_PERIODS periods were skipped over."""
    return abrkit.Trace.constant(1.0, 10.0, name="1bps"), abrkit.Video.synthetic_vbr(LADDER_KBPS, 4.0, 8, seed=1)


def _bumpy(n_chunks: int) -> tuple[abrkit.Trace, abrkit.Video]:
    """A 300 s trace of 1 s periods, uniform 0.2-5 Mbit/s, and a seeded 6-rung VBR video."""
    rng = np.random.default_rng(0)
    trace = abrkit.Trace.from_durations(np.ones(300), rng.uniform(2e5, 5e6, 300), name="bumpy")
    return trace, abrkit.Video.synthetic_vbr(LADDER_KBPS, 4.0, n_chunks, seed=1)


class Bounds:
    """The optimum on inputs that used to run for minutes: bounded work, and the bound it gives."""

    timeout = 600
    repeat = (1, 3, 120.0)
    number = 1

    def setup(self) -> None:
        self.slow = _one_bps()
        self.long = _bumpy(400)
        offline_optimum(self.long[0], self.long[1].truncated(3))  # compile (or load the cache)

    def time_one_bps_8_chunks(self) -> None:
        offline_optimum(*self.slow)

    def time_vbr_400_chunks(self) -> None:
        offline_optimum(*self.long)

    def peakmem_vbr_400_chunks(self) -> None:
        offline_optimum(*self.long)

    def track_vbr_400_gap_percent(self) -> float:
        """(bound - beam's real sequence) / beam: the true optimum lies in between."""
        result = offline_optimum(*self.long)
        return 100.0 * (result.qoe - result.lower_bound) / abs(result.lower_bound)

    track_vbr_400_gap_percent.unit = "%"  # type: ignore[attr-defined]


def _bounds_table() -> str:
    """Markdown: issue 11's reproducers, one row per input."""
    rows = [
        "| input | chunks | time | qoe (bound) | lower bound | exact | labels | merged fronts | reason |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    cases = [("1 bps trace", *_one_bps())] + [("VBR, bumpy trace", *_bumpy(n)) for n in (100, 200, 400)]
    offline_optimum(cases[-1][1], cases[-1][2].truncated(3))  # compile
    for label, trace, video in cases:
        t0 = time.perf_counter()
        r = offline_optimum(trace, video)
        spent = time.perf_counter() - t0
        reason = r.reason.split(" (")[0].split(",")[0] if r.reason else ""
        rows.append(
            f"| {label} | {video.n_chunks} | {spent:.2f} s | {r.qoe:.2f} | {r.lower_bound:.2f} | {r.exact} | "
            f"{r.labels:,} | {r.merges} | {reason} |"
        )
    return "\n".join(rows)


def _table() -> str:
    """Markdown: one row per (profile, QoE model) over the whole evaluation set."""
    traces, video = eval_set()
    rows = [
        f"Evaluation set: {DATA_LABEL} ({len(traces)} traces, {video.n_chunks} chunks x {video.n_rungs} rungs)",
        "",
        "| profile | QoE | ms/trace (median) | max | total 1 thread | total 2 threads | exact | exact with cap |"
        " largest front | mean optimum | best controller (gap) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for profile in PROFILES:
        for model in QOE_MODELS:
            qoe = _qoe(profile, model)
            offline_optimum_many(traces[:1], video, profile, qoe, n_workers=1, progress=False)  # compile
            per_trace = []
            for trace in traces:
                t0 = time.perf_counter()
                offline_optimum_many([trace], video, profile, qoe, n_workers=1, progress=False)
                per_trace.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            table = offline_optimum_many(traces, video, profile, qoe, n_workers=1, progress=False)
            one = time.perf_counter() - t0
            t0 = time.perf_counter()
            offline_optimum_many(traces, video, profile, qoe, n_workers=2, progress=False)
            two = time.perf_counter() - t0
            sims = run_batch(traces, video, CONTROLLERS, profile, qoe, progress=False).summary()
            best = sims.loc[sims["mean_qoe"].idxmax()]
            gap = float(table["qoe"].mean() - best["mean_qoe"])
            rows.append(
                f"| {profile} | {model} | {1e3 * np.median(per_trace):.0f} | {1e3 * max(per_trace):.0f} | {one:.1f} s "
                f"| {two:.1f} s | {int(table['exact'].sum())}/{len(table)} | {int(table['exact_with_cap'].sum())}/{len(table)} "
                f"| {int(table['max_front'].max())} "
                f"| {table['qoe'].mean():.2f} | {best['controller']} {best['mean_qoe']:.2f} ({gap:+.2f}) |"
            )
    return "\n".join(rows)


if __name__ == "__main__":
    print(_bounds_table() if sys.argv[1:] == ["bounds"] else _table())
