"""asv benchmarks of Pensieve's pretrained agent (issue 12: "<= 5 microseconds per decision on one
core inside the simulator; the ratio against a NumPy forward pass measured in the same run").

The network is the shipped one (``abrkit/learned/data/pensieve_actor.npz``), always present.

* ``PensieveForward`` -- the forward pass alone on a fixed, seeded set of 2000 histories
  (``histories()``: a quarter all zeros, as at a session's start, the rest uniform over each
  row's realistic range; only ``Generator.random()`` is used, so the data cannot drift with
  the NumPy version): the compiled pass in a compiled loop, the NumPy reference
  (``abrkit.learned.actor.forward_numpy``, one call per history, as the original's
  ``actor.predict`` is called), microseconds per pass and their ratio.
* ``PensieveSessions`` -- the agent inside the simulator on the 142-trace evaluation set under
  the ``pensieve`` profile, one core: kernel microseconds per chunk (decision, state update,
  transfer and log: an upper bound on the decision alone), the same for ``bb`` (the loop
  without the network), and the NumPy pass's time over the kernel's time per chunk.
"""

from __future__ import annotations

import numba
import numpy as np

from abrkit import run_batch
from abrkit._kernels import pensieve_net as N
from abrkit.learned.actor import forward_numpy
from abrkit.learned.policy import load_policy, pensieve_policy_path

from ._data import DATA_LABEL, best_time, eval_set, kernel_seconds

#: Label of the workload below; a different workload must get a different label.
WORKLOAD = "histories2000"
N_STATES = 2000
_SEED = 20261207  # never change: add a new workload instead
TRACK_MIN_S = 0.3
#: The NumPy pass runs on this many of the histories (about 0.2 ms each).
N_NUMPY = 200


def histories() -> np.ndarray:
    """(N_STATES, 6, 8) float64 histories in Pensieve's units."""
    rng = np.random.default_rng(_SEED)
    scale = np.array([1.0, 6.0, 2.0, 2.0, 2.5, 1.0])[:, None]  # bitrate ratio, buffer/10 s, KB/ms, delay/10 s, MB, left
    states = rng.random((N_STATES, 6, 8)) * scale
    states[: N_STATES // 4] = 0.0
    return np.ascontiguousarray(states)


@numba.njit(nogil=True)
def _forward_all(net, states, out):
    probs = np.empty(N.N_ACTIONS, dtype=np.float32)
    scratch = np.empty(N.N_MERGE + N.HIDDEN + 8, dtype=np.float32)
    for i in range(states.shape[0]):
        N.pensieve_forward(net, states[i], probs, scratch)
        out[i] = N.pick(probs, N.POLICY_GREEDY, net)


class PensieveForward:
    """The forward pass alone, one core."""

    params = ([WORKLOAD],)
    param_names = ["workload"]
    timeout = 300

    def setup(self, workload: str) -> None:
        policy = load_policy(pensieve_policy_path())
        self.params_np = policy.params
        self.net = policy.network()
        self.states = histories()
        self.rungs = np.empty(N_STATES, dtype=np.int64)
        _forward_all(self.net, self.states, self.rungs)
        expected = [int(np.argmax(forward_numpy(self.params_np, s))) for s in self.states[:N_NUMPY]]
        if not np.array_equal(self.rungs[:N_NUMPY], expected):  # guards the timed code
            raise RuntimeError("compiled and NumPy forward passes disagree on the benchmark histories")

    def _compiled_s(self) -> float:
        return best_time(lambda: _forward_all(self.net, self.states, self.rungs), TRACK_MIN_S) / N_STATES

    def _numpy_s(self) -> float:
        def run() -> None:
            for s in self.states[:N_NUMPY]:
                forward_numpy(self.params_np, s)

        return best_time(run, TRACK_MIN_S, min_repeats=3) / N_NUMPY

    def time_compiled_2000(self, workload: str) -> None:
        _forward_all(self.net, self.states, self.rungs)

    def track_us_per_forward(self, workload: str) -> float:
        return 1e6 * self._compiled_s()

    track_us_per_forward.unit = "us"  # type: ignore[attr-defined]

    def track_numpy_us_per_forward(self, workload: str) -> float:
        return 1e6 * self._numpy_s()

    track_numpy_us_per_forward.unit = "us"  # type: ignore[attr-defined]

    def track_speedup_vs_numpy(self, workload: str) -> float:
        """NumPy pass time / compiled pass time, both measured here."""
        return self._numpy_s() / self._compiled_s()

    track_speedup_vs_numpy.unit = "x"  # type: ignore[attr-defined]


class PensieveSessions:
    """The agent in the simulator: the 142-trace evaluation set under the ``pensieve`` profile."""

    params = ([DATA_LABEL], ["pensieve", "pensieve:policy=sample"])
    param_names = ["data", "controller"]
    timeout = 300

    def setup(self, data: str, controller: str) -> None:
        self.traces, self.video = eval_set()
        batch = run_batch(self.traces, self.video, controller, "pensieve", n_workers=1)
        self.n_chunks = int(np.asarray(batch.n_done).sum())
        run_batch(self.traces, self.video, "bb", "pensieve", n_workers=1)
        policy = load_policy(pensieve_policy_path())
        self.params_np = policy.params
        self.states = histories()[:N_NUMPY]

    def _call(self, controller: str) -> None:
        run_batch(self.traces, self.video, controller, "pensieve", n_workers=1, progress=False)

    def _kernel_us_per_chunk(self, controller: str) -> float:
        k_s, _ = kernel_seconds(lambda: self._call(controller), TRACK_MIN_S)
        return 1e6 * k_s / self.n_chunks

    def time_run_batch(self, data: str, controller: str) -> None:
        self._call(controller)

    def track_kernel_us_per_chunk(self, data: str, controller: str) -> float:
        """Kernel time per chunk step: decision (47 of 48 chunks), state, transfer, log (target <= 5)."""
        return self._kernel_us_per_chunk(controller)

    track_kernel_us_per_chunk.unit = "us"  # type: ignore[attr-defined]

    def track_decision_us(self, data: str, controller: str) -> float:
        """Kernel time per chunk over bb's (the same loop without the network), per decision."""
        extra = self._kernel_us_per_chunk(controller) - self._kernel_us_per_chunk("bb")
        return extra * 48.0 / 47.0  # chunk 0 is not decided under this profile

    track_decision_us.unit = "us"  # type: ignore[attr-defined]

    def track_speedup_vs_numpy(self, data: str, controller: str) -> float:
        """One NumPy forward pass over the kernel's whole time per chunk, measured here."""

        def run() -> None:
            for s in self.states:
                forward_numpy(self.params_np, s)

        numpy_us = 1e6 * best_time(run, TRACK_MIN_S, min_repeats=3) / len(self.states)
        return numpy_us / self._kernel_us_per_chunk(controller)

    track_speedup_vs_numpy.unit = "x"  # type: ignore[attr-defined]
