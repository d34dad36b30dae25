"""asv benchmarks of the MPC plan search (issue: "<= 10 us per decision for H=5, 6 rungs on one
core, with the ratio against the brute force measured in the same run").

The workload is a fixed, seeded set of planning problems (``problems()``, below): 2000 decisions,
each planning 5 chunks of the evaluation video (Envivio's sizes with the shared data, its
synthetic stand-in otherwise; ``DATA_LABEL`` tells them apart) over Pensieve's six rungs, with
the buffer, previous rung and throughput estimate drawn across their realistic ranges
(0-60 s, any rung, 0.2-10 Mbit/s log-uniform). Its seed never changes; new workloads get new
labels.

Suites (docs/mpc.md quotes the numbers):

* ``PlanSearch`` -- one core, a compiled loop over all problems: the branch and bound
  (``mpc.mpc_search``) and the exhaustive search (``mpc.mpc_brute``), microseconds per decision
  (mean and slowest problem) and the speed-up of the first over the second; also the speed-up
  over the pure-Python exhaustive reference (``tests/reference_mpc.py``) on a subset.
* ``MpcSessions`` -- RobustMPC inside the simulator on the 142-trace evaluation set under the
  ``pensieve`` profile: kernel microseconds per chunk (decision, predictor and transfer).
"""

from __future__ import annotations

import sys
import time

import numba
import numpy as np

from abrkit import run_batch
from abrkit._kernels.mpc import mpc_brute, mpc_search

from ._data import DATA_LABEL, TESTS_DIR, best_time, eval_set, kernel_seconds

#: Label of the workload below; a different workload must get a different label.
WORKLOAD = f"plans2000-{DATA_LABEL}"
N_PROBLEMS = 2000
HORIZON = 5
_SEED_PROBLEMS = 20240610  # never change: add a new workload instead
#: The pure-Python exhaustive search runs on this many of the problems (about 40 ms each).
N_PYTHON = 10

TRACK_MIN_S = 0.3
INF = float("inf")


def problems() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ladder_bps, sizes_bytes (N, 5, 6), prev_rung (N,), buffer_s (N,), est_bps (N,)).

    Only ``Generator.random()`` is used, so the data cannot drift with the NumPy version."""
    _, video = eval_set()
    rng = np.random.default_rng(_SEED_PROBLEMS)
    ladder = np.ascontiguousarray(video.bitrates_bps, dtype=np.float64)
    n_rungs = ladder.size
    first = (rng.random(N_PROBLEMS) * (video.n_chunks - HORIZON + 1)).astype(np.int64)
    sizes = np.stack([video.sizes_bytes[k : k + HORIZON] for k in first]).astype(np.float64)
    prev = np.minimum((rng.random(N_PROBLEMS) * n_rungs).astype(np.int64), n_rungs - 1)
    buffer_s = 60.0 * rng.random(N_PROBLEMS)
    est_bps = np.exp(np.log(2e5) + (np.log(1e7) - np.log(2e5)) * rng.random(N_PROBLEMS))
    return ladder, np.ascontiguousarray(sizes), prev, buffer_s, est_bps


@numba.njit(nogil=True)
def _solve_all(ladder, sizes, prev, buffer_s, est_bps, brute, out_rung):
    # Pensieve's settings: 4 s chunks, no latency or cap in the plan, weights 4.3 and 1, ties last.
    seq = np.empty(sizes.shape[1], dtype=np.int64)
    durations_s = np.full(sizes.shape[1], 4.0)  # every planned chunk 4 s long
    for i in range(prev.size):
        if brute:
            mpc_brute(ladder, sizes[i], prev[i], buffer_s[i], est_bps[i], 0.0, durations_s, np.inf, 4.3, 1.0, True, seq)
        else:
            mpc_search(ladder, sizes[i], prev[i], buffer_s[i], est_bps[i], 0.0, durations_s, np.inf, 4.3, 1.0, True, seq)
        out_rung[i] = seq[0]


@numba.njit(nogil=True)
def _solve_one(ladder, sizes, prev, buffer_s, est_bps, i, repeats):
    seq = np.empty(sizes.shape[1], dtype=np.int64)
    durations_s = np.full(sizes.shape[1], 4.0)
    for _ in range(repeats):
        mpc_search(ladder, sizes[i], prev[i], buffer_s[i], est_bps[i], 0.0, durations_s, np.inf, 4.3, 1.0, True, seq)
    return seq[0]


def slowest_s(args: tuple[np.ndarray, ...], repeats: int = 50, rounds: int = 3) -> float:
    """Seconds per decision of the slowest problem for the branch and bound (per problem: the
    fastest of ``rounds`` timings of ``repeats`` solves in one compiled call)."""
    worst = 0.0
    for i in range(args[2].size):
        best = INF
        for _ in range(rounds):
            t0 = time.perf_counter()
            _solve_one(*args, i, repeats)
            best = min(best, (time.perf_counter() - t0) / repeats)
        worst = max(worst, best)
    return worst


class PlanSearch:
    """The plan search alone, one core, compiled loops over the fixed problem set."""

    params = ([WORKLOAD],)
    param_names = ["workload"]
    timeout = 300

    def setup(self, workload: str) -> None:
        self.args = problems()
        n = self.args[2].size
        self.fast_rungs = np.empty(n, dtype=np.int64)
        self.brute_rungs = np.empty(n, dtype=np.int64)
        _solve_all(*self.args, False, self.fast_rungs)
        _solve_all(*self.args, True, self.brute_rungs)
        if not np.array_equal(self.fast_rungs, self.brute_rungs):  # guards the timed code
            raise RuntimeError("branch and bound and brute force disagree on the benchmark problems")

    def _fast_s(self) -> float:
        return best_time(lambda: _solve_all(*self.args, False, self.fast_rungs), TRACK_MIN_S)

    def _brute_s(self) -> float:
        return best_time(lambda: _solve_all(*self.args, True, self.brute_rungs), TRACK_MIN_S, min_repeats=3)

    def time_branch_and_bound_2000(self, workload: str) -> None:
        _solve_all(*self.args, False, self.fast_rungs)

    def time_brute_force_2000(self, workload: str) -> None:
        _solve_all(*self.args, True, self.brute_rungs)

    time_brute_force_2000.repeat = (2, 5, 20.0)  # type: ignore[attr-defined]

    def track_us_per_decision(self, workload: str) -> float:
        """Branch and bound, mean over the problems (target: <= 10)."""
        return 1e6 * self._fast_s() / N_PROBLEMS

    track_us_per_decision.unit = "us"  # type: ignore[attr-defined]

    def track_us_per_decision_slowest(self, workload: str) -> float:
        """Branch and bound, the slowest problem of the set (see ``slowest_s``)."""
        _solve_one(*self.args, 0, 1)
        return 1e6 * slowest_s(self.args)

    track_us_per_decision_slowest.unit = "us"  # type: ignore[attr-defined]

    def track_brute_us_per_decision(self, workload: str) -> float:
        return 1e6 * self._brute_s() / N_PROBLEMS

    track_brute_us_per_decision.unit = "us"  # type: ignore[attr-defined]

    def track_speedup_vs_brute(self, workload: str) -> float:
        """Brute-force time / branch-and-bound time, both measured here."""
        return self._brute_s() / self._fast_s()

    track_speedup_vs_brute.unit = "x"  # type: ignore[attr-defined]

    def track_speedup_vs_python_reference(self, workload: str) -> float:
        """Per decision: the pure-Python exhaustive search over the branch and bound."""
        if str(TESTS_DIR) not in sys.path:
            sys.path.insert(0, str(TESTS_DIR))
        try:
            import reference_mpc  # type: ignore[import-not-found]
        except ImportError as exc:  # pragma: no cover - the tests are not shipped with the wheel
            raise NotImplementedError(f"tests/reference_mpc.py not importable: {exc}") from None
        ladder, sizes, prev, buffer_s, est = self.args
        ladder_list = ladder.tolist()

        def python() -> None:
            for i in range(N_PYTHON):
                reference_mpc.best_plan(ladder_list, sizes[i].tolist(), int(prev[i]), float(buffer_s[i]), float(est[i]),
                                        0.0, 4.0, INF, 4.3, 1.0, True)

        py_s = best_time(python, TRACK_MIN_S, min_repeats=2) / N_PYTHON
        return py_s / (self._fast_s() / N_PROBLEMS)

    track_speedup_vs_python_reference.unit = "x"  # type: ignore[attr-defined]


class MpcSessions:
    """RobustMPC in the simulator: the 142-trace evaluation set under the ``pensieve`` profile."""

    params = ([DATA_LABEL], ["robustmpc", "mpc", "bba1"])
    param_names = ["data", "controller"]
    timeout = 300

    def setup(self, data: str, controller: str) -> None:
        self.traces, self.video = eval_set()
        batch = run_batch(self.traces, self.video, controller, "pensieve", n_workers=1)
        self.n_chunks = int(np.asarray(batch.n_done).sum())

    def _call(self, controller: str) -> None:
        run_batch(self.traces, self.video, controller, "pensieve", n_workers=1, progress=False)

    def time_run_batch(self, data: str, controller: str) -> None:
        self._call(controller)

    def track_kernel_us_per_chunk(self, data: str, controller: str) -> float:
        """Kernel time per chunk step: decision (47 of 48 chunks), predictor, transfer, log."""
        k_s, _ = kernel_seconds(lambda: self._call(controller), TRACK_MIN_S)
        return 1e6 * k_s / self.n_chunks

    track_kernel_us_per_chunk.unit = "us"  # type: ignore[attr-defined]
