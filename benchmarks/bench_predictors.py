"""asv benchmarks of the throughput predictors (issue 3: "updates per second per predictor, with
the ratio against the pure-Python reference in the same run; target at least 20 million EWMA
updates per second per core").

The workload is one fixed, seeded sequence of a million chunk downloads (``SEQUENCE``, below):
sizes of 4 s chunks of Pensieve's ladder with VBR wobble, download times from a log-AR(1)
bandwidth around a few Mbit/s, a little latency, and idle gaps when a player's buffer is full.
Its seed never changes; new workloads get new labels.

Suites (docs/benchmarks.md says how to run them and what was measured):

* ``PredictorThroughput`` -- every predictor (all of ``abrkit.predictors.PREDICTORS`` but the
  oracle, which cannot be replayed) through the ``replay`` kernel: ``time_replay`` per call,
  ``track_replay_per_s`` in samples per second (one prediction + one update each),
  ``track_update_only_per_s`` (a loop calling ``pred_update`` alone), and the speed-ups over the
  two pure-Python references in ``tests/reference.py``: the kernel twin ``replay`` (same arrays,
  same packed state) and the estimator written from the player's or paper's own code.
* ``EwmaUpdates`` -- the 20-million target for the EWMA presets: replay, update only, predict
  only, and a hand-inlined EWMA update loop compiled here (the arithmetic alone, no dispatch),
  which says how much of the cost is the EWMA and how much the call path around it.
"""

from __future__ import annotations

import numba
import numpy as np

from abrkit._kernels.predictors import pred_predict, pred_update, replay
from abrkit.predictors import PREDICTORS, get_predictor

from ._data import _normal, best_time, load_reference

#: Label of the workload below; a different workload must get a different label.
DATA_LABEL = "synthetic1m"
N_SAMPLES = 1_000_000
#: The pure-Python references replay this many samples (the first ones of the same sequence).
N_REFERENCE_SAMPLES = 20_000
_SEED_SEQUENCE = 20240603  # never change: add a new workload instead

#: Every predictor that can be replayed (the oracle needs a trace), by its registry name.
PREDICTOR_NAMES = [name for name in PREDICTORS if name != "oracle"]
EWMA_NAMES = ["ewma", "dual-ewma", "dashjs", "shaka", "hlsjs"]

TRACK_MIN_S = 0.3
LADDER_BPS = np.array([300, 750, 1200, 1850, 2850, 4300], dtype=np.float64) * 1e3


def download_sequence(n: int = N_SAMPLES, seed: int = _SEED_SEQUENCE) -> tuple[np.ndarray, ...]:
    """(size_bytes, time_s, latency_s, now_s) of ``n`` downloads; only ``Generator.random()`` and
    a hand-written Box-Muller are used, so the data cannot drift with the NumPy version."""
    rng = np.random.default_rng(seed)
    rung = np.minimum((rng.random(n) * LADDER_BPS.size).astype(np.int64), LADDER_BPS.size - 1)
    size = LADDER_BPS[rung] * 4.0 / 8.0 * (0.5 + rng.random(n))
    corr, sigma = 0.95, 0.7
    x = _ar1(_normal(rng, n) * sigma * np.sqrt(1.0 - corr**2), corr)
    bw = np.maximum(3e6 * np.exp(x - sigma**2 / 2.0), 5e4)
    time_s = size * 8.0 / bw
    latency = 0.1 * rng.random(n)
    idle = np.where(rng.random(n) < 0.5, 4.0 * rng.random(n), 0.0)
    now = np.cumsum(time_s + latency + idle)
    return size, time_s, latency, now


@numba.njit
def _ar1(innovations, corr):
    x = np.empty(innovations.size)
    x[0] = 0.0
    for k in range(1, x.size):
        x[k] = corr * x[k - 1] + innovations[k]
    return x


_SEQUENCE: tuple[np.ndarray, ...] | None = None


def sequence() -> tuple[np.ndarray, ...]:
    """The fixed workload (made once per process)."""
    global _SEQUENCE
    if _SEQUENCE is None:
        _SEQUENCE = download_sequence()
    return _SEQUENCE


# Loops compiled here (not in abrkit) to take the library's kernels apart.


@numba.njit(nogil=True)
def _update_only(pid, p, s, size_bytes, time_s, latency_s, now_s):
    for i in range(size_bytes.size):
        pred_update(pid, p, s, size_bytes[i], time_s[i], latency_s[i], now_s[i])


@numba.njit(nogil=True)
def _predict_only(pid, p, s, now_s):
    acc = 0.0
    for i in range(now_s.size):
        acc += pred_predict(pid, p, s, now_s[i], np.nan)
    return acc


@numba.njit(nogil=True)
def _bare_dual_ewma_update(p, s, size_bytes, time_s):
    """The dual EWMA update written straight into a loop: the arithmetic with nothing around it."""
    for i in range(size_bytes.size):
        if size_bytes[i] < p[2]:
            continue
        t = max(time_s[i], p[5])
        x = size_bytes[i] * 8.0 / t
        a_fast = 0.5 ** (t / p[0])
        a_slow = 0.5 ** (t / p[1])
        s[0] = (1.0 - a_fast) * x + a_fast * s[0]
        s[1] = (1.0 - a_slow) * x + a_slow * s[1]
        s[2] += t
        s[3] += size_bytes[i]


class _Packed:
    def _pack(self, name: str) -> None:
        self.size, self.time_s, self.latency, self.now = sequence()
        self.request = np.concatenate(([0.0], self.now[:-1]))
        self.pid, self.params, self.n_state = get_predictor(name).pack()
        self.out = np.empty(self.size.size)
        # Compile (or load from the cache) before anything is timed.
        replay(self.pid, self.params, np.zeros(self.n_state), self.size[:100], self.time_s[:100], self.latency[:100],
               self.now[:100], self.request[:100], self.out[:100])
        _update_only(self.pid, self.params, np.zeros(self.n_state), self.size[:100], self.time_s[:100],
                     self.latency[:100], self.now[:100])

    def _replay(self) -> None:
        replay(self.pid, self.params, np.zeros(self.n_state), self.size, self.time_s, self.latency, self.now, self.request,
               self.out)

    def _update(self) -> None:
        _update_only(self.pid, self.params, np.zeros(self.n_state), self.size, self.time_s, self.latency, self.now)

    def _replay_rate(self) -> float:
        return self.size.size / best_time(self._replay, TRACK_MIN_S)

    def _update_rate(self) -> float:
        return self.size.size / best_time(self._update, TRACK_MIN_S)


class PredictorThroughput(_Packed):
    """Samples per second of every predictor on the million-download sequence, one core."""

    params = ([DATA_LABEL], PREDICTOR_NAMES)
    param_names = ["data", "predictor"]
    timeout = 240

    def setup(self, data: str, name: str) -> None:
        self._pack(name)

    def time_replay(self, data: str, name: str) -> None:
        """One prediction and one update per sample, a million samples."""
        self._replay()

    def track_replay_per_s(self, data: str, name: str) -> float:
        """Samples (predict + update) per second through the ``replay`` kernel."""
        return self._replay_rate()

    track_replay_per_s.unit = "samples/s"  # type: ignore[attr-defined]

    def track_update_only_per_s(self, data: str, name: str) -> float:
        """Updates per second: a compiled loop calling ``pred_update`` alone."""
        return self._update_rate()

    track_update_only_per_s.unit = "updates/s"  # type: ignore[attr-defined]

    def _reference_rate(self, replay_fn) -> float:
        n = N_REFERENCE_SAMPLES
        args = (self.size[:n], self.time_s[:n], self.latency[:n], self.now[:n])
        return n / best_time(lambda: replay_fn(*args), TRACK_MIN_S, min_repeats=3)

    def track_speedup_vs_reference_twin(self, data: str, name: str) -> float:
        """Kernel rate / rate of ``REFERENCES['predictors.replay']`` (the plain-Python twin on
        the same packed arrays), both measured now."""
        twin = load_reference().REFERENCES["predictors.replay"]
        out = np.empty(N_REFERENCE_SAMPLES)
        ref_rate = self._reference_rate(
            lambda size, t, lat, now: twin(
                self.pid, self.params, np.zeros(self.n_state), size, t, lat, now, self.request[: now.size], out
            )
        )
        return self._replay_rate() / ref_rate

    track_speedup_vs_reference_twin.unit = "x"  # type: ignore[attr-defined]

    def track_speedup_vs_reference_estimator(self, data: str, name: str) -> float:
        """Kernel rate / rate of the estimator written from the player's own code
        (``reference.replay_reference``), both measured now."""
        ref = load_reference()
        ref_rate = self._reference_rate(lambda size, t, lat, now: ref.replay_reference(name, size, t, lat, now))
        return self._replay_rate() / ref_rate

    track_speedup_vs_reference_estimator.unit = "x"  # type: ignore[attr-defined]


class EwmaUpdates(_Packed):
    """The issue's target: at least 20 million EWMA updates per second per core."""

    params = ([DATA_LABEL], EWMA_NAMES)
    param_names = ["data", "predictor"]
    timeout = 240

    def setup(self, data: str, name: str) -> None:
        self._pack(name)
        _predict_only(self.pid, self.params, self._warm_state(), self.now[:100])
        _bare_dual_ewma_update(self.params, np.zeros(self.n_state), self.size[:100], self.time_s[:100])

    def _warm_state(self) -> np.ndarray:
        s = np.zeros(self.n_state)
        _update_only(self.pid, self.params, s, self.size[:1000], self.time_s[:1000], self.latency[:1000], self.now[:1000])
        return s

    def track_ewma_replay_per_s(self, data: str, name: str) -> float:
        """Predict + update per sample (what ``replay_predictor`` and a shadow predictor do)."""
        return self._replay_rate()

    track_ewma_replay_per_s.unit = "samples/s"  # type: ignore[attr-defined]

    def track_ewma_updates_per_s(self, data: str, name: str) -> float:
        """Updates alone, through ``pred_update``: the number the 20-million target is about."""
        return self._update_rate()

    track_ewma_updates_per_s.unit = "updates/s"  # type: ignore[attr-defined]

    def track_ewma_predictions_per_s(self, data: str, name: str) -> float:
        """Read-outs alone, through ``pred_predict`` (zero-bias correction: two powers, two divisions)."""
        s = self._warm_state()
        return self.now.size / best_time(lambda: _predict_only(self.pid, self.params, s, self.now), TRACK_MIN_S)

    track_ewma_predictions_per_s.unit = "predictions/s"  # type: ignore[attr-defined]

    def track_bare_ewma_updates_per_s(self, data: str, name: str) -> float:
        """The same update hand-inlined in one loop: the arithmetic's own speed (no dispatch, no
        calls); the gap to ``track_ewma_updates_per_s`` is the cost of the call path."""
        return self.size.size / best_time(
            lambda: _bare_dual_ewma_update(self.params, np.zeros(self.n_state), self.size, self.time_s), TRACK_MIN_S
        )

    track_bare_ewma_updates_per_s.unit = "updates/s"  # type: ignore[attr-defined]

    def track_update_share_of_target(self, data: str, name: str) -> float:
        """``track_ewma_updates_per_s`` as a percentage of the 20 million target."""
        return 100.0 * self._update_rate() / 20e6

    track_update_share_of_target.unit = "%"  # type: ignore[attr-defined]
