"""asv benchmarks of abrkit.rl's environments (issue 12: "at least 1,000,000 environment steps
per second per core at N = 1024; the single environment at least 100,000 steps per second";
ratios against the single environment and a plain-Python step measured in the same run).

Workload: the evaluation set of ``_data.eval_set`` (Norway HSDPA x Envivio, or its synthetic
stand-in, told apart by ``DATA_LABEL``) under the ``pensieve-train`` profile (a random trace and
start point per episode, delay noise), the default observation, actions drawn once from a
seeded generator (the same table for every run). Episodes end and restart inside the timed
loops, so the rates include resets: a step is one call's worth of one environment, whether it
played a chunk or started an episode.

Suites (docs/learned.md has the numbers):

* ``VectorEnvSteps`` -- ``VectorAbrEnv.step`` for N = 1024 (and 64), with and without the
  per-step ``info``: ``time_step`` per call, ``track_steps_per_s`` (N x calls / s, one core:
  the kernel is serial), ``track_kernel_steps_per_s`` (the compiled call alone, no façade),
  ``track_ratio_vs_single`` and ``track_ratio_vs_python`` (per-step rate over ``AbrEnv``'s and
  over the plain-Python step's, both measured in the same process).
* ``SingleEnvSteps`` -- ``AbrEnv.step``: ``track_steps_per_s`` and ``track_ratio_vs_python``.
* ``PythonEnvSteps`` -- the plain-Python step of ``_python_env.PythonAbrEnv`` (the reference):
  ``track_steps_per_s``.
* ``EnvColdStart`` -- ``timeraw_first_reset_and_step``: a new interpreter with an empty Numba
  cache importing abrkit.rl, building an environment, resetting it and stepping once.
"""

from __future__ import annotations

import numpy as np

from ._data import DATA_LABEL, best_time, eval_set

PROFILE = "pensieve-train"
_SEED_ACTIONS = 20261207  # never change: add a new workload instead
TRACK_MIN_S = 0.3
#: Calls per timed block of the vector benchmarks; steps per block of the single ones.
VECTOR_CALLS = 20
SINGLE_STEPS = 2000
PYTHON_STEPS = 300


def _rl():
    try:
        import abrkit.rl as rl
    except Exception as exc:  # gymnasium missing: asv skips the suite
        raise NotImplementedError(f"abrkit.rl unavailable: {exc}") from None
    return rl


def action_table(n_rows: int, n_envs: int, n_rungs: int) -> np.ndarray:
    """Seeded rungs, one row per call (``Generator.random()`` only, stream-stable)."""
    u = np.random.default_rng(_SEED_ACTIONS).random((n_rows, n_envs))
    return np.minimum((u * n_rungs).astype(np.int64), n_rungs - 1)


def _single_rate(env, actions: np.ndarray) -> float:
    env.reset(seed=0)

    def run() -> None:
        for a in actions:
            if env.step(int(a))[2]:
                env.reset()

    return actions.size / best_time(run, TRACK_MIN_S, min_repeats=3)


def _python_rate(py, actions: np.ndarray) -> float:
    py.reset()

    def run() -> None:
        for a in actions:
            if py.step(int(a))[2]:
                py.reset()

    return actions.size / best_time(run, TRACK_MIN_S, min_repeats=3)


def _python_env():
    from ._python_env import PythonAbrEnv

    traces, video = eval_set()
    return PythonAbrEnv(traces, video, profile=PROFILE, seed=0)


class VectorEnvSteps:
    params = ([DATA_LABEL], [1024, 64], [False, True])
    param_names = ["data", "n_envs", "info"]
    timeout = 300

    def setup(self, data: str, n_envs: int, info: bool) -> None:
        rl = _rl()
        traces, video = eval_set()
        self.env = rl.VectorAbrEnv(n_envs, traces, video, profile=PROFILE, include_info=info)
        self.env.reset(seed=0)
        self.actions = action_table(VECTOR_CALLS, n_envs, video.n_rungs)
        self.env.step(self.actions[0])  # compiled (or loaded from the cache) here, not timed
        self.n_envs = n_envs

    def _calls(self) -> None:
        for a in self.actions:
            self.env.step(a)

    def time_step(self, data: str, n_envs: int, info: bool) -> None:
        self.env.step(self.actions[0])

    def track_steps_per_s(self, data: str, n_envs: int, info: bool) -> float:
        return self.n_envs * VECTOR_CALLS / best_time(self._calls, TRACK_MIN_S)

    track_steps_per_s.unit = "steps/s"  # type: ignore[attr-defined]

    def track_kernel_steps_per_s(self, data: str, n_envs: int, info: bool) -> float:
        """The compiled call alone (actions already in place): the façade's share is the rest."""
        sessions = self.env._s
        sessions.cmd[:, 0] = self.actions[0]  # rlenv.CMD_ACTION

        def calls() -> None:
            for _ in range(VECTOR_CALLS):
                sessions.run()

        return self.n_envs * VECTOR_CALLS / best_time(calls, TRACK_MIN_S)

    track_kernel_steps_per_s.unit = "steps/s"  # type: ignore[attr-defined]

    def track_ratio_vs_single(self, data: str, n_envs: int, info: bool) -> float:
        rl = _rl()
        traces, video = eval_set()
        single = rl.AbrEnv(traces, video, profile=PROFILE)
        single_rate = _single_rate(single, action_table(1, SINGLE_STEPS, video.n_rungs)[0])
        return self.track_steps_per_s(data, n_envs, info) / single_rate

    track_ratio_vs_single.unit = "x"  # type: ignore[attr-defined]

    def track_ratio_vs_python(self, data: str, n_envs: int, info: bool) -> float:
        _, video = eval_set()
        python_rate = _python_rate(_python_env(), action_table(1, PYTHON_STEPS, video.n_rungs)[0])
        return self.track_steps_per_s(data, n_envs, info) / python_rate

    track_ratio_vs_python.unit = "x"  # type: ignore[attr-defined]


class SingleEnvSteps:
    params = [DATA_LABEL]
    param_names = ["data"]
    timeout = 300

    def setup(self, data: str) -> None:
        rl = _rl()
        traces, video = eval_set()
        self.env = rl.AbrEnv(traces, video, profile=PROFILE)
        self.actions = action_table(1, SINGLE_STEPS, video.n_rungs)[0]
        self.env.reset(seed=0)
        self.env.step(0)

    def time_step(self, data: str) -> None:
        if self.env.step(1)[2]:
            self.env.reset()

    def track_steps_per_s(self, data: str) -> float:
        return _single_rate(self.env, self.actions)

    track_steps_per_s.unit = "steps/s"  # type: ignore[attr-defined]

    def track_ratio_vs_python(self, data: str) -> float:
        _, video = eval_set()
        python_rate = _python_rate(_python_env(), action_table(1, PYTHON_STEPS, video.n_rungs)[0])
        return _single_rate(self.env, self.actions) / python_rate

    track_ratio_vs_python.unit = "x"  # type: ignore[attr-defined]


class PythonEnvSteps:
    params = [DATA_LABEL]
    param_names = ["data"]
    timeout = 300

    def setup(self, data: str) -> None:
        _rl()
        self.py = _python_env()
        _, video = eval_set()
        self.actions = action_table(1, PYTHON_STEPS, video.n_rungs)[0]

    def track_steps_per_s(self, data: str) -> float:
        return _python_rate(self.py, self.actions)

    track_steps_per_s.unit = "steps/s"  # type: ignore[attr-defined]


_COLD = """
import atexit, os, shutil, tempfile
for _name in ("ABRKIT_NUMBA_CACHE", "ABRKIT_DISABLE_JIT", "NUMBA_DISABLE_JIT", "NUMBA_CACHE_LOCATOR_CLASSES"):
    os.environ.pop(_name, None)
_cache = tempfile.mkdtemp(prefix="abrkit-numba-cache-")
os.environ["NUMBA_CACHE_DIR"] = _cache
os.environ["ABRKIT_QUIET"] = "1"
atexit.register(shutil.rmtree, _cache, True)
"""

_FIRST_STEP = """
import numpy as np
from abrkit import Trace, Video
from abrkit.rl import AbrEnv
env = AbrEnv(Trace(np.arange(30.0), np.full(30, 2e6), name="t"), Video.synthetic_vbr([300.0, 750.0, 1200.0], 4.0, 5, seed=0),
             profile="pensieve-train", seed=0)
env.reset()
env.step(1)
"""


class EnvColdStart:
    timeout = 300
    repeat = 2
    number = 1

    def setup(self) -> None:
        _rl()

    def timeraw_first_reset_and_step(self) -> tuple[str, str]:
        return _FIRST_STEP, _COLD
