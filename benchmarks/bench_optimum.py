"""asv benchmarks of the offline optimum, and the table in docs/optimum.md.

* ``OfflineOptimum`` -- ``offline_optimum_many`` over the 142-trace evaluation set, per profile
  and QoE model: ``time_*`` per call on one and two threads, ``track_ms_per_trace`` (one
  thread, best of a few runs).
* ``SpeedupVsReference`` -- the compiled search against its plain-Python twin
  (``tests/reference_optimum.py``) on the first 10 chunks of a few evaluation traces.

``python -m benchmarks.bench_optimum`` (from the repository root) prints the Markdown table of
docs/optimum.md: time per trace, search effort, exactness, and how far the best built-in
controller stays from the optimum.
"""

from __future__ import annotations

import sys
import time

import numpy as np

import abrkit
from abrkit import run_batch
from abrkit.event_controllers import EVENT_CONTROLLERS
from abrkit.optimum import offline_optimum_many

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
                *profile.kernel_trace(trace), sizes, utility, video.chunk_s, n, profile.pack(),
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
    print(_table())
