"""asv benchmarks of the trace-driven simulator.

Suites (docs/benchmarks.md says how to run them and what was measured):

* ``Throughput`` -- steady-state ``run_batch`` over the 142-trace evaluation set for every
  built-in controller and profile: ``time_*`` per call, ``track_*`` in chunk steps per second
  (1 worker = per core, 2 workers), and the compiled kernel's own rate and share of the call.
* ``SpeedupVsReference`` / ``KernelSpeedupVsReference`` -- the same rates divided by the
  pure-Python reference (``tests/reference.py``) measured in the same process, which survives
  machine noise better than absolute times.
* ``PensieveEvaluation`` -- the whole 142-trace Pensieve BB evaluation, compiled
  (``PensieveEvaluationFromFiles``: the same, reading the trace files first).
* ``SweepMemory`` / ``SweepThroughput`` -- a 2000-trace x 3-controller ``simulate_many`` sweep:
  peak memory and multi-worker scaling on a batch large enough to split.
* ``ColdStart`` -- ``timeraw_*``: a fresh interpreter importing abrkit and simulating once, with
  and without Numba's on-disk cache.

A "chunk step" is one simulated chunk download (one decision + one transfer + one log row); the
rates divide the number of chunks actually played (``BatchResult.n_done.sum()``) by wall time.
"""

from __future__ import annotations

import inspect
import tracemalloc

import numpy as np

import abrkit
from abrkit import run_batch, simulate_many

from ._data import (
    DATA_LABEL,
    ENVIVIO_CHUNK_S,
    ENVIVIO_LADDER_KBPS,
    SWEEP_CONTROLLERS,
    best_time,
    capture_kernel_call,
    eval_set,
    kernel_seconds,
    load_reference,
    shared_data_dir,
    sweep_set,
)

from abrkit.event_controllers import EVENT_CONTROLLERS

PROFILES = sorted(abrkit.PROFILES)
#: Chunk-model controllers (the event model's have their own suite, bench_event.py).
CONTROLLERS = sorted(set(abrkit.CONTROLLERS) - set(EVENT_CONTROLLERS))

#: Every REF_STEP-th trace of the evaluation set runs through the pure-Python reference
#: (24 of the 142), enough for a stable per-chunk rate in a few milliseconds.
REF_STEP = 6

#: How long each track_* keeps re-running its call before reporting the fastest one.
TRACK_MIN_S = 0.3


def _chunks(batch: abrkit.BatchResult) -> int:
    return int(np.asarray(batch.n_done).sum())


class Throughput:
    """Steady-state simulation throughput on the 142-trace evaluation set, one controller at a time.

    ``setup`` compiles (or loads from Numba's cache) the kernel and loads the data, so the timed
    calls are the compiled loop plus ``run_batch``'s Python-side work: validating and packing the
    traces, allocating the log, dispatching blocks of sessions to the kernel.
    """

    params = ([DATA_LABEL], PROFILES, CONTROLLERS)
    param_names = ["data", "profile", "controller"]
    timeout = 120

    def setup(self, data: str, profile: str, controller: str) -> None:
        self.traces, self.video = eval_set()
        batch = run_batch(self.traces, self.video, controller, profile, n_workers=1)
        run_batch(self.traces, self.video, controller, profile, n_workers=2)
        self.n_chunks = _chunks(batch)

    def _call(self, profile: str, controller: str, n_workers: int) -> abrkit.BatchResult:
        return run_batch(self.traces, self.video, controller, profile, n_workers=n_workers, progress=False)

    def time_run_batch_1worker(self, data: str, profile: str, controller: str) -> None:
        self._call(profile, controller, 1)

    def time_run_batch_2workers(self, data: str, profile: str, controller: str) -> None:
        self._call(profile, controller, 2)

    def track_chunks_per_s_1worker(self, data: str, profile: str, controller: str) -> float:
        """Per-core rate of the whole ``run_batch`` call (fastest of repeated calls)."""
        return self.n_chunks / best_time(lambda: self._call(profile, controller, 1), TRACK_MIN_S)

    track_chunks_per_s_1worker.unit = "chunks/s"  # type: ignore[attr-defined]

    def track_chunks_per_s_2workers(self, data: str, profile: str, controller: str) -> float:
        """Rate with two worker threads (the kernel releases the GIL; packing stays serial)."""
        return self.n_chunks / best_time(lambda: self._call(profile, controller, 2), TRACK_MIN_S)

    track_chunks_per_s_2workers.unit = "chunks/s"  # type: ignore[attr-defined]

    def track_kernel_chunks_per_s(self, data: str, profile: str, controller: str) -> float:
        """Per-core rate of the compiled loop alone: chunks / time spent inside the Numba kernel."""
        k_s, _ = kernel_seconds(lambda: self._call(profile, controller, 1), TRACK_MIN_S)
        return self.n_chunks / k_s

    track_kernel_chunks_per_s.unit = "chunks/s"  # type: ignore[attr-defined]

    def track_kernel_share(self, data: str, profile: str, controller: str) -> float:
        """Percent of a 1-worker ``run_batch`` call spent inside the kernel (the rest is Python)."""
        k_s, wall_s = kernel_seconds(lambda: self._call(profile, controller, 1), TRACK_MIN_S)
        return 100.0 * k_s / wall_s

    track_kernel_share.unit = "%"  # type: ignore[attr-defined]


class SpeedupVsReference:
    """Compiled rate / pure-Python reference rate, both measured in the same process.

    The reference (``tests/reference.py``, the plain-Python twin of the simulator) runs on every
    ``REF_STEP``-th trace; the compiled side runs on all 142. Both rates are per chunk step, so
    the subset only has to be representative, not the same. Skipped when the reference is absent.
    """

    params = ([DATA_LABEL], PROFILES, CONTROLLERS)
    param_names = ["data", "profile", "controller"]
    unit = "x"
    timeout = 180

    def setup(self, data: str, profile: str, controller: str) -> None:
        self.ref = load_reference()
        self.traces, self.video = eval_set()
        self.subset = self.traces[::REF_STEP]
        self.batch = run_batch(self.traces, self.video, controller, profile, n_workers=1)
        self.n_chunks = _chunks(self.batch)
        first = self.ref.simulate_session(self.subset[0], self.video, controller, profile)
        if "rung" not in first:
            raise NotImplementedError("reference.simulate_session returns no 'rung' array")

    def _reference_rate(self, profile: str, controller: str) -> float:
        box: dict[str, int] = {}

        def call() -> None:
            box["chunks"] = sum(
                len(self.ref.simulate_session(t, self.video, controller, profile)["rung"]) for t in self.subset
            )

        seconds = best_time(call, TRACK_MIN_S, min_repeats=3)
        return box["chunks"] / seconds

    def _compiled_rate(self, profile: str, controller: str) -> float:
        seconds = best_time(
            lambda: run_batch(self.traces, self.video, controller, profile, n_workers=1, progress=False), TRACK_MIN_S
        )
        return self.n_chunks / seconds

    def track_speedup_vs_reference(self, data: str, profile: str, controller: str) -> float:
        """``run_batch`` (1 worker, all traces) vs ``reference.simulate_session`` (subset), per chunk."""
        return self._compiled_rate(profile, controller) / self._reference_rate(profile, controller)

    def track_reference_chunks_per_s(self, data: str, profile: str, controller: str) -> float:
        """The denominator above, for the record."""
        return self._reference_rate(profile, controller)

    track_reference_chunks_per_s.unit = "chunks/s"  # type: ignore[attr-defined]


class KernelSpeedupVsReference:
    """The compiled kernel against its line-by-line Python twin on the very same packed arrays.

    ``abrkit._kernels.session.run_batch`` (as ``run_batch`` calls it) against
    ``REFERENCES["session.run_batch"]`` from ``tests/reference.py``: the loop itself, without
    the façade's packing on either side. The kernel runs every job, the reference every
    ``REF_STEP``-th job; the ratio is per chunk step. Skipped when the reference is absent or its
    signature no longer matches the kernel call.
    """

    params = ([DATA_LABEL], PROFILES, CONTROLLERS)
    param_names = ["data", "profile", "controller"]
    unit = "x"
    timeout = 180
    _NEEDED = ("job_lo", "job_hi", "jobs", "shadows", "out")

    def setup(self, data: str, profile: str, controller: str) -> None:
        ref = load_reference()
        self.ref_kernel = getattr(ref, "REFERENCES", {}).get("session.run_batch")
        if self.ref_kernel is None:
            raise NotImplementedError("reference.REFERENCES has no 'session.run_batch'")
        traces, video = eval_set()
        box: dict[str, abrkit.BatchResult] = {}

        def call() -> None:
            box["batch"] = run_batch(traces, video, controller, profile, n_workers=1, progress=False)

        self.kernel, args = capture_kernel_call(call)
        names = list(inspect.signature(self.ref_kernel).parameters)
        if len(names) != len(args) or not set(self._NEEDED) <= set(names):
            raise NotImplementedError("the reference run_batch signature does not match the kernel call")
        full = dict(zip(names, args))
        jobs, out = full["jobs"], full["out"]
        if full["shadows"] is not None or not hasattr(jobs, "_replace") or not hasattr(out, "_replace"):
            raise NotImplementedError("the kernel call no longer takes the job and output groups of _kernels.groups")
        n_jobs = int(jobs.trace.size)
        full["job_lo"], full["job_hi"] = 0, n_jobs
        # The reference's share: every REF_STEP-th job, with outputs of its own (same groups).
        sel = np.arange(0, n_jobs, REF_STEP)
        sub = dict(full)
        sub["job_lo"], sub["job_hi"] = 0, int(sel.size)
        sub["jobs"] = jobs._replace(**{key: np.ascontiguousarray(a[sel]) for key, a in jobs._asdict().items()})
        sub["out"] = out._replace(
            log=np.empty((sel.size,) + out.log.shape[1:]),
            **{key: np.zeros(sel.size, dtype=a.dtype) for key, a in out._asdict().items() if key != "log"},
        )
        self.full_args = tuple(full.values())
        self.sub_args = tuple(sub.values())
        n_done = np.asarray(box["batch"].n_done)
        self.n_chunks = int(n_done.sum())
        self.sub_chunks = int(n_done[sel].sum())

    def track_kernel_speedup_vs_reference(self, data: str, profile: str, controller: str) -> float:
        k_s = best_time(lambda: self.kernel(*self.full_args), TRACK_MIN_S)
        r_s = best_time(lambda: self.ref_kernel(*self.sub_args), TRACK_MIN_S, min_repeats=3)
        return (self.n_chunks / k_s) / (self.sub_chunks / r_s)


class PensieveEvaluation:
    """The 142-trace Pensieve BB evaluation (Pensieve's ``test/bb.py`` over its test traces), compiled.

    With the shared data this is exactly the run behind ``reference/pensieve/bb.csv``; the
    ``track_mean_qoe`` value (mean over traces of the QoE of chunks 1..47) must stay at 30.043
    there, which guards the timed code against silently doing less work.
    """

    params = ([DATA_LABEL],)
    param_names = ["data"]
    timeout = 120

    def setup(self, data: str) -> None:
        self.traces, self.video = eval_set()
        run_batch(self.traces, self.video, "bb", "pensieve")

    def time_run_batch(self, data: str) -> None:
        """Simulation only, default worker count (what a user gets), per-chunk logs in a BatchResult."""
        run_batch(self.traces, self.video, "bb", "pensieve", progress=False)

    def time_run_batch_1worker(self, data: str) -> None:
        """Simulation only, one worker: no thread pool, which is faster for a batch this small."""
        run_batch(self.traces, self.video, "bb", "pensieve", n_workers=1, progress=False)

    def time_run_batch_and_sessions_table(self, data: str) -> None:
        """Simulation plus the per-session table with QoE totals: the complete evaluation."""
        run_batch(self.traces, self.video, "bb", "pensieve", progress=False).sessions()

    def track_mean_qoe(self, data: str) -> float:
        table = run_batch(self.traces, self.video, "bb", "pensieve", progress=False).sessions()
        return float(table["qoe"].mean())

    track_mean_qoe.unit = "QoE"  # type: ignore[attr-defined]


class PensieveEvaluationFromFiles:
    """The same evaluation as a fresh script runs it: read the 142 trace files and the video,
    simulate, tabulate (kernels already compiled). Needs the shared data; skipped without it."""

    timeout = 120

    def setup(self) -> None:
        root = shared_data_dir()
        if root is None:
            raise NotImplementedError("needs ../shared/data (or ABRKIT_SHARED_DATA)")
        self.trace_dir = root / "traces" / "norway-hsdpa-test"
        self.video_dir = root / "videos" / "envivio"
        traces, video = eval_set()
        run_batch(traces, video, "bb", "pensieve")

    def time_load_and_evaluate(self) -> None:
        traces = abrkit.load_traces(self.trace_dir)
        video = abrkit.read_video(self.video_dir, bitrates_kbps=ENVIVIO_LADDER_KBPS, chunk_s=ENVIVIO_CHUNK_S)
        run_batch(traces, video, "bb", "pensieve", progress=False).sessions()

    def time_load_traces(self) -> None:
        abrkit.load_traces(self.trace_dir)


class SweepMemory:
    """Memory of a large sweep: ``simulate_many`` over 2000 synthetic traces x 3 controllers.

    ``peakmem_*`` is the peak resident set size of the whole benchmark process (interpreter,
    NumPy, pandas, Numba/LLVM, the 2000 traces built in ``setup``, then the sweep);
    ``peakmem_setup_only`` is the same process without the sweep, so the difference is what the
    sweep adds. ``track_sweep_traced_peak_bytes`` counts only the sweep's own allocations
    (tracemalloc sees NumPy buffers and Python objects, not Numba's).
    """

    timeout = 300

    def setup(self) -> None:
        self.traces, self.video = sweep_set()
        run_batch(self.traces[:3], self.video, list(SWEEP_CONTROLLERS), n_workers=1)

    def _sweep(self) -> object:
        return simulate_many(self.traces, self.video, list(SWEEP_CONTROLLERS), progress=False)

    def peakmem_simulate_many_2000x3(self) -> None:
        self._sweep()

    def peakmem_setup_only(self) -> None:
        pass

    def track_sweep_traced_peak_bytes(self) -> int:
        tracemalloc.start()
        try:
            self._sweep()
            return int(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()

    track_sweep_traced_peak_bytes.unit = "bytes"  # type: ignore[attr-defined]

    def time_simulate_many_2000x3(self) -> None:
        """The sweep end to end, session table included (default worker count)."""
        self._sweep()

    time_simulate_many_2000x3.repeat = (2, 5, 20.0)  # type: ignore[attr-defined]


class SweepThroughput:
    """Chunk steps per second of ``run_batch`` on the 2000 x 3 sweep, by worker count.

    The evaluation set is too small (about 1 ms of kernel time) for threads to pay off; this
    batch (about 290 000 chunk steps) shows how the kernel scales across cores once packing and
    dispatch are amortised.
    """

    params = ([1, 2],)
    param_names = ["n_workers"]
    unit = "chunks/s"
    timeout = 120

    def setup(self, n_workers: int) -> None:
        self.traces, self.video = sweep_set()
        batch = run_batch(self.traces, self.video, list(SWEEP_CONTROLLERS), n_workers=n_workers)
        self.n_chunks = _chunks(batch)

    def _call(self, n_workers: int) -> None:
        run_batch(self.traces, self.video, list(SWEEP_CONTROLLERS), n_workers=n_workers, progress=False)

    def track_run_batch_chunks_per_s(self, n_workers: int) -> float:
        return self.n_chunks / best_time(lambda: self._call(n_workers), 1.0)



class SweepKernel:
    """The compiled loop alone on the 2000 x 3 sweep, one worker: chunks / time inside the kernel.

    (With threads, kernel time adds up across workers, so this is a per-core number only.)
    """

    unit = "chunks/s"
    timeout = 120

    def setup(self) -> None:
        self.traces, self.video = sweep_set()
        batch = run_batch(self.traces, self.video, list(SWEEP_CONTROLLERS), n_workers=1)
        self.n_chunks = _chunks(batch)

    def track_kernel_chunks_per_s(self) -> float:
        k_s, _ = kernel_seconds(
            lambda: run_batch(self.traces, self.video, list(SWEEP_CONTROLLERS), n_workers=1, progress=False), 1.0
        )
        return self.n_chunks / k_s

    def track_kernel_share(self) -> float:
        """Percent of the 1-worker call spent inside the kernel."""
        k_s, wall_s = kernel_seconds(
            lambda: run_batch(self.traces, self.video, list(SWEEP_CONTROLLERS), n_workers=1, progress=False), 1.0
        )
        return 100.0 * k_s / wall_s

    track_kernel_share.unit = "%"  # type: ignore[attr-defined]


_FIRST_CALL = """
import abrkit
abrkit.simulate(
    abrkit.Trace.constant(3e6, 600.0),
    abrkit.Video.constant_bitrate([300, 750, 1200, 1850, 2850, 4300], 4.0, 48),
    "bb",
)
"""


class ColdStart:
    """A fresh interpreter: ``import abrkit`` and one ``simulate`` call (``timeraw_*``).

    asv runs each sample in a new ``python`` process and times only the statement (interpreter
    start-up and the untimed setup string excluded). Imports include NumPy, pandas and Numba.
    Kernels use ``cache=True`` (``abrkit._jit``), so the first call either loads compiled code
    from Numba's on-disk cache or compiles it:

    * ``timeraw_import_and_first_call_cached`` -- the cache is warm (``setup`` runs the same call
      in the benchmark process first): what every run after the first one pays.
    * ``timeraw_import_and_first_call_compile`` -- ``NUMBA_CACHE_DIR`` points at a new empty
      directory, so the kernels are compiled from scratch (and written there): what the very
      first run after installing, or after a kernel's source changes, pays.
    * ``timeraw_import`` -- the import alone: nothing is compiled at import time.

    Operating-system file caches are warm in all three; "cold" means a new process, not a cold
    disk.
    """

    repeat = (3, 6, 60.0)
    number = 1
    warmup_time = 0.0
    timeout = 300

    def setup(self) -> None:
        exec(_FIRST_CALL, {})  # populate Numba's on-disk cache for the cached variant

    def timeraw_import(self) -> str:
        return "import abrkit"

    def timeraw_import_and_first_call_cached(self) -> str:
        return _FIRST_CALL

    def timeraw_import_and_first_call_compile(self) -> tuple[str, str]:
        setup = (
            "import atexit, os, shutil, tempfile\n"
            "d = tempfile.mkdtemp(prefix='abrkit-numba-cache-')\n"
            "os.environ['NUMBA_CACHE_DIR'] = d\n"
            "atexit.register(shutil.rmtree, d, True)\n"
        )
        return _FIRST_CALL, setup
