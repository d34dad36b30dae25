"""Fixed benchmark data and small timing helpers shared by the asv suites.

Nothing here is a benchmark (asv skips module names that start with ``_``).

Data policy (see docs/benchmarks.md): benchmark inputs are fixed and only ever appended to, so
that a number in the history always means the same workload.

* ``eval_set()`` is the 142-trace Norway HSDPA test set with Pensieve's Envivio video when the
  shared reference data is present (``../shared/data`` next to the repository, or the directory
  named by ``ABRKIT_SHARED_DATA``), and otherwise a seeded synthetic stand-in of the same shape
  (142 traces of 200 periods of 0.3-0.7 s, a 49-chunk VBR video on the same ladder). The two are
  told apart by ``DATA_LABEL``, which every suite that uses them carries as a parameter, so their
  histories never mix.
* ``sweep_traces()`` is always synthetic (2000 traces), so the memory benchmark is the same
  workload on every machine.

Synthetic traces use only ``Generator.random()`` (uniform doubles straight from PCG64, whose
stream NumPy keeps stable) and a hand-written Box-Muller transform, so the data cannot drift with
the NumPy version.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TESTS_DIR = REPO / "tests"

#: Pensieve's Envivio ladder (kbps), 4 s chunks, 49 chunks in the size files (48 played).
ENVIVIO_LADDER_KBPS = (300, 750, 1200, 1850, 2850, 4300)
ENVIVIO_CHUNK_S = 4.0
ENVIVIO_N_CHUNKS = 49

N_EVAL_TRACES = 142
N_SWEEP_TRACES = 2000
SWEEP_CONTROLLERS = ("bb", "bba0", "rate")

# Seeds of the synthetic data. Never change them: add new data sets instead.
_SEED_EVAL_TRACES = 20240601
_SEED_EVAL_VIDEO = 7
_SEED_SWEEP_TRACES = 20240602
_SEED_SWEEP_VIDEO = 11


def shared_data_dir() -> Path | None:
    """The shared reference data directory, or None when it (or what we need of it) is absent."""
    env = os.environ.get("ABRKIT_SHARED_DATA")
    root = Path(env) if env else REPO.parent / "shared" / "data"
    if (root / "traces" / "norway-hsdpa-test").is_dir() and (root / "videos" / "envivio" / "video_size_0").is_file():
        return root
    return None


#: Which evaluation set this machine runs: "norway142" (real data) or "synthetic142".
DATA_LABEL = "norway142" if shared_data_dir() is not None else "synthetic142"


def _normal(rng: np.random.Generator, n: int) -> np.ndarray:
    """Standard normal samples by Box-Muller from uniform doubles (stream-stable across NumPy)."""
    u1 = rng.random(n)
    u2 = rng.random(n)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def synthetic_traces(n_traces: int, seed: int, n_periods: int = 200, prefix: str = "synthetic") -> list[Any]:
    """Seeded traces shaped like the Norway HSDPA set.

    Each trace has ``n_periods`` periods of 0.3-0.7 s; its log-bandwidth is an AR(1) process
    (correlation 0.9, stationary sigma 0.6) around a per-trace mean drawn log-uniformly between
    0.5 and 4.5 Mbps. Bandwidth never drops below 10 kbps, so no session stalls for good.
    """
    from abrkit import Trace

    rng = np.random.default_rng(seed)
    corr, sigma = 0.9, 0.6
    out = []
    for i in range(n_traces):
        steps = 0.3 + 0.4 * rng.random(n_periods)
        mean_bps = np.exp(np.log(0.5e6) + (np.log(4.5e6) - np.log(0.5e6)) * rng.random())
        innov = _normal(rng, n_periods) * sigma * np.sqrt(1.0 - corr**2)
        x = np.empty(n_periods)
        x[0] = innov[0] / np.sqrt(1.0 - corr**2)
        for k in range(1, n_periods):
            x[k] = corr * x[k - 1] + innov[k]
        bw = np.maximum(mean_bps * np.exp(x - sigma**2 / 2.0), 1e4)
        time_s = np.concatenate(([0.0], np.cumsum(steps[:-1])))
        out.append(Trace(time_s, bw, end_s=float(time_s[-1] + steps[-1]), name=f"{prefix}_{i:04d}"))
    return out


def synthetic_video(seed: int, name: str = "synthetic-envivio") -> Any:
    """A VBR video with Envivio's ladder, chunk length and chunk count."""
    from abrkit import Video

    return Video.synthetic_vbr(ENVIVIO_LADDER_KBPS, ENVIVIO_CHUNK_S, ENVIVIO_N_CHUNKS, seed=seed, name=name)


@functools.lru_cache(maxsize=None)
def eval_set() -> tuple[list[Any], Any]:
    """(traces, video) of the evaluation set named by ``DATA_LABEL`` (loaded once per process)."""
    from abrkit import load_traces, read_video

    root = shared_data_dir()
    if root is None:
        return synthetic_traces(N_EVAL_TRACES, _SEED_EVAL_TRACES), synthetic_video(_SEED_EVAL_VIDEO)
    traces = load_traces(root / "traces" / "norway-hsdpa-test")
    video = read_video(root / "videos" / "envivio", bitrates_kbps=ENVIVIO_LADDER_KBPS, chunk_s=ENVIVIO_CHUNK_S)
    return traces, video


@functools.lru_cache(maxsize=None)
def sweep_set() -> tuple[list[Any], Any]:
    """(2000 synthetic traces, synthetic video) for the large sweep (loaded once per process)."""
    return (
        synthetic_traces(N_SWEEP_TRACES, _SEED_SWEEP_TRACES, prefix="sweep"),
        synthetic_video(_SEED_SWEEP_VIDEO, name="sweep-video"),
    )


def load_reference() -> ModuleType:
    """``tests/reference.py`` (the plain-Python simulator); NotImplementedError (asv: skip) if absent."""
    if not (TESTS_DIR / "reference.py").is_file():
        raise NotImplementedError("tests/reference.py is not there: no pure-Python reference to compare with")
    if str(TESTS_DIR) not in sys.path:
        sys.path.insert(0, str(TESTS_DIR))
    import reference  # type: ignore[import-not-found]

    if not callable(getattr(reference, "simulate_session", None)):
        raise NotImplementedError("tests/reference.py has no simulate_session(trace, video, controller, profile)")
    return reference


def best_time(fn: Callable[[], Any], min_time: float = 0.2, min_repeats: int = 5, max_repeats: int = 10_000) -> float:
    """Fastest of repeated calls of ``fn`` (seconds): at least ``min_repeats`` calls and ``min_time`` s.

    The minimum is the right statistic for a deterministic CPU-bound call on a noisy machine:
    noise only ever adds time.
    """
    best = float("inf")
    spent = 0.0
    n = 0
    while n < max_repeats and (n < min_repeats or spent < min_time):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best = min(best, dt)
        spent += dt
        n += 1
    return best


class KernelClock:
    """Times the compiled batch kernel inside :func:`abrkit.run_batch` without changing it.

    While active, ``abrkit.simulation._run_batch_kernel`` (the name under which ``run_batch`` calls
    the Numba loop) is wrapped by a function that adds each call's wall time to ``seconds``. The
    wrapper costs well under a microsecond per call and ``run_batch`` makes a handful of calls.
    Raises NotImplementedError (asv: skip) if ``abrkit.simulation`` no longer calls the kernel
    under that name.
    """

    def __init__(self) -> None:
        import abrkit  # noqa: F401  (makes sure the submodule is loaded)

        self._module = sys.modules["abrkit.simulation"]
        if not callable(getattr(self._module, "_run_batch_kernel", None)):
            raise NotImplementedError("abrkit.simulation._run_batch_kernel is gone: kernel timing unavailable")
        self.seconds = 0.0
        self.calls = 0

    def __enter__(self) -> "KernelClock":
        kernel = self._module._run_batch_kernel
        self._orig = kernel

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return kernel(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
                self.calls += 1

        self._module._run_batch_kernel = timed
        return self

    def __exit__(self, *exc: Any) -> None:
        self._module._run_batch_kernel = self._orig


def kernel_seconds(fn: Callable[[], Any], min_time: float = 0.2, min_repeats: int = 5) -> tuple[float, float]:
    """(fastest kernel seconds, fastest wall seconds) over repeated calls of ``fn``.

    Only meaningful with ``n_workers=1``: with threads, kernel time adds up across workers.
    """
    best_k = float("inf")
    best_wall = float("inf")
    spent = 0.0
    n = 0
    while n < min_repeats or spent < min_time:
        with KernelClock() as clock:
            t0 = time.perf_counter()
            fn()
            wall = time.perf_counter() - t0
        best_k = min(best_k, clock.seconds)
        best_wall = min(best_wall, wall)
        spent += wall
        n += 1
    return best_k, best_wall


def capture_kernel_call(fn: Callable[[], Any]) -> tuple[Any, tuple[Any, ...]]:
    """(the kernel, the arguments of its first call) while ``fn`` (a ``run_batch`` call) runs.

    Raises NotImplementedError (asv: skip) when ``abrkit.simulation`` no longer calls the kernel
    as ``_run_batch_kernel``.
    """
    clock = KernelClock()  # checks that the kernel is reachable
    module = clock._module
    kernel = module._run_batch_kernel
    seen: list[tuple[Any, ...]] = []

    def spy(*args: Any) -> Any:
        if not seen:
            seen.append(args)
        return kernel(*args)

    module._run_batch_kernel = spy
    try:
        fn()
    finally:
        module._run_batch_kernel = kernel
    if not seen:
        raise NotImplementedError("run_batch did not call the kernel")
    return kernel, seen[0]
