"""Plain-Python references for abrkit's Numba kernels and for a whole simulated session.

Nothing here calls a kernel (or a kernel's ``py_func``): every function is written out again,
in the plain style of Pensieve's ``test/fixed_env.py`` (``while True`` loops that walk the
trace one period at a time), so that a disagreement between a kernel and its reference points
at a bug in one of them rather than at a shared mistake.

Predictors have references at two levels:

* **From the published definitions** — one class per estimator (:class:`ShakaEwmaEstimator`,
  :class:`ExoPlayerBandwidthMeter`, :class:`RobustMpcDiscount`, ...), written from the players'
  and papers' own code (dash.js ``ThroughputHistory``, Shaka ``EwmaBandwidthEstimator``, hls.js
  ``EwmaBandWidthEstimator``, Sabre ``SlidingWindow``/``Ewma``, ExoPlayer
  ``DefaultBandwidthMeter``/``SlidingPercentile``, Pensieve's ``mpc.py``, Puffer), with their
  own data structures (lists, Java-style sample lists) and none of the kernels' packing.
  :func:`reference_predictor` builds one from a public spec by reading its fields.
  :func:`simulate_session` uses them.
* **Twins of the kernels** — ``pred_update``, ``pred_predict``, ``ring_push``, ... with the
  kernels' signatures and their packed state layout (documented in
  ``abrkit._kernels.predictors``), so tests can call kernel and twin on the same arrays and
  compare the states they leave behind. ``run_session``/``run_batch`` use these.

Two ways in:

* :func:`simulate_session` takes the public objects (a ``Trace``, a ``Video``, a controller and
  a profile, objects or names) and reads their fields itself: it does not use
  ``Profile.pack``, ``Profile.kernel_trace``, ``Controller.pack`` or ``Predictor.pack``.
* :data:`REFERENCES` maps each kernel, by ``"module.function"`` name relative to
  ``abrkit._kernels``, to a reference with the kernel's own signature, so a test or a benchmark
  can call both on the same arrays.

Benchmarks import this module (``sys.path`` pointing at ``tests/``); keep the public names
stable: ``simulate_session``, ``reference_predictor``, ``REFERENCES`` and the functions listed
in it.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Callable

import numpy as np

from abrkit import BBA0, BufferBased, Controller, FixedRung, Profile, RateBased, Trace, Video, get_controller, get_profile
from abrkit.controllers import BBA1, MPC
from abrkit._kernels import groups as G
from abrkit._kernels import layout as L
from abrkit._kernels.contract import compile_group
from abrkit._kernels.estimators import predictor_group
from abrkit.predictors import (
    DualEwma,
    Ewma,
    HarmonicMean,
    KalmanLog,
    LastSample,
    Mean,
    Oracle,
    Predictor,
    PufferMean,
    RobustDiscount,
    SabreEwma,
    SlidingPercentile,
    SlidingWindow,
    get_predictor,
)
from reference_mpc import bba1_choose, mpc_choose, plan

__all__ = [
    "REFERENCES",
    "CHUNK_FIELDS",
    "simulate_session",
    "session_periods",
    "reference_predictor",
    "replay_reference",
    # predictors from their published definitions
    "LastSampleEstimator",
    "MeanEstimator",
    "HarmonicMeanEstimator",
    "PufferEstimator",
    "RobustMpcDiscount",
    "DashjsThroughputHistory",
    "Dashjs5ThroughputModel",
    "ShakaEwmaBandwidthEstimator",
    "HlsjsEwmaBandwidthEstimator",
    "TwoEwmaEstimator",
    "SabreSlidingWindow",
    "SabreEwmaEstimator",
    "ExoPlayerBandwidthMeter",
    "KalmanLogEstimator",
    "OracleEstimator",
    # kernel twins
    "ring_push",
    "ring_recent",
    "ring_mean",
    "harmonic_mean_last",
    "pred_update",
    "pred_predict",
    "pred_latency",
    "replay",
    "bb_pensieve",
    "bba0",
    "rate_based",
    "fixed_rung",
    "highest_below",
    "decide",
    "advance_clock",
    "transfer",
    "request_time",
    "measured_time",
    "oracle_throughput",
    "run_session",
    "run_batch",
]

STATUS_NAMES = {L.STATUS_COMPLETE: "complete", L.STATUS_STALLED: "stalled", L.STATUS_NO_BANDWIDTH: "no_bandwidth"}
BITS_PER_BYTE = 8.0
NAN = float("nan")


def _sample_bps(size_bytes, time_s):
    return size_bytes * BITS_PER_BYTE / time_s


# ================================================================================================
# Predictors, from their published definitions
# ================================================================================================
#
# Every class has the same three methods, the contract of abrkit's predictors:
#
#   update(size_bytes, time_s, latency_s, now_s)  one finished download (now_s: session clock
#                                                  at its end)
#   predict(now_s, oracle_bps=nan)                 bits per second, NaN when there is no estimate
#   latency()                                      seconds, NaN for estimators that keep none
#
# Sums over sample windows run from the newest sample back, as the kernels add them, so that a
# session driven by a reference and one driven by a kernel make the very same decisions.


class _Estimator:
    wants_oracle = False

    def update(self, size_bytes, time_s, latency_s, now_s):  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, now_s, oracle_bps=NAN):  # pragma: no cover - abstract
        raise NotImplementedError

    def latency(self):
        return NAN


class LastSampleEstimator(_Estimator):
    """The throughput of the last download."""

    def __init__(self):
        self.last_bps = None

    def update(self, size_bytes, time_s, latency_s, now_s):
        self.last_bps = _sample_bps(size_bytes, time_s)

    def predict(self, now_s, oracle_bps=NAN):
        return NAN if self.last_bps is None else self.last_bps


class MeanEstimator(_Estimator):
    """Arithmetic mean of the last ``window`` throughput samples (fewer while fewer exist)."""

    def __init__(self, window):
        self.window = int(window)
        self.samples_bps: list[float] = []

    def update(self, size_bytes, time_s, latency_s, now_s):
        self.samples_bps.append(_sample_bps(size_bytes, time_s))

    def _recent(self):
        return list(reversed(self.samples_bps[-self.window:]))  # newest first

    def predict(self, now_s, oracle_bps=NAN):
        recent = self._recent()
        if not recent:
            return NAN
        total = 0.0
        for x in recent:
            total += x
        return total / len(recent)


class HarmonicMeanEstimator(MeanEstimator):
    """Harmonic mean of the last ``window`` samples: MPC's estimator (Yin et al. 2015, window 5;
    Pensieve's ``mpc.py``: ``1 / (sum(1 / past_bandwidths) / len(past_bandwidths))``)."""

    def predict(self, now_s, oracle_bps=NAN):
        recent = self._recent()
        if not recent:
            return NAN
        inverse_sum = 0.0
        for x in recent:
            inverse_sum += 1.0 / x
        return len(recent) / inverse_sum


class PufferEstimator(_Estimator):
    """Puffer's throughput model for MPC: the mean transmission time per byte of the last
    ``window`` chunks; the predicted throughput is its inverse (in bits per second)."""

    def __init__(self, window):
        self.window = int(window)
        self.seconds_per_byte: list[float] = []

    def update(self, size_bytes, time_s, latency_s, now_s):
        self.seconds_per_byte.append(time_s / size_bytes)

    def predict(self, now_s, oracle_bps=NAN):
        recent = list(reversed(self.seconds_per_byte[-self.window:]))
        if not recent:
            return NAN
        total = 0.0
        for x in recent:
            total += x
        return BITS_PER_BYTE / (total / len(recent))


class RobustMpcDiscount(_Estimator):
    """RobustMPC's discounted estimate, as Pensieve's ``test/mpc.py`` computes it.

    On each new sample: the relative error ``|previous raw estimate - sample| / sample`` joins
    the list of past errors (0 while there is no previous estimate), then the base estimator
    takes the sample and its new raw estimate is remembered. The prediction is
    ``raw / (1 + max of the last window errors)``.
    """

    def __init__(self, base, window):
        self.base = base
        self.window = int(window)
        self.past_errors: list[float] = []
        self.past_estimates: list[float] = []

    def update(self, size_bytes, time_s, latency_s, now_s):
        sample = _sample_bps(size_bytes, time_s)
        previous = self.past_estimates[-1] if self.past_estimates else NAN
        # No previous estimate (none made yet, or the base had none to give): error 0.
        error = 0.0 if math.isnan(previous) else abs(previous - sample) / float(sample)
        self.past_errors.append(error)
        self.base.update(size_bytes, time_s, latency_s, now_s)
        self.past_estimates.append(self.base.predict(now_s))

    def predict(self, now_s, oracle_bps=NAN):
        if not self.past_estimates:
            return NAN
        max_error = 0.0
        for e in self.past_errors[-self.window:]:
            max_error = max(max_error, e)
        return self.past_estimates[-1] / (1 + max_error)


class _PlayerEwma:
    """Shaka's ``shaka.abr.Ewma`` (hls.js copies it): ``alpha = exp(ln 0.5 / halfLife)``; a
    sample of weight ``w`` enters with ``adjAlpha = alpha ** w``; read-out divides by the
    zero-bias factor ``1 - alpha ** totalWeight``."""

    def __init__(self, half_life):
        self.alpha = math.exp(math.log(0.5) / half_life)
        self.estimate = 0.0
        self.total_weight = 0.0

    def sample(self, weight, value):
        adj_alpha = math.pow(self.alpha, weight)
        new_estimate = value * (1 - adj_alpha) + adj_alpha * self.estimate
        if not math.isnan(new_estimate):
            self.estimate = new_estimate
            self.total_weight += weight

    def get_estimate(self):
        zero_factor = 1 - math.pow(self.alpha, self.total_weight)
        return self.estimate / zero_factor


class ShakaEwmaBandwidthEstimator(_Estimator):
    """Shaka Player ``lib/abr/ewma_bandwidth_estimator.js``: EWMAs with half-lives 2 s and 5 s,
    weight = duration in seconds; samples under ``minBytes_`` (16 kB) are discarded; until
    ``minTotalBytes_`` (128 kB) have been sampled the default estimate (``abr.
    defaultBandwidthEstimate``, 1 Mbit/s here) is returned; else the smaller EWMA."""

    def __init__(self, fast_half_life=2.0, slow_half_life=5.0, min_bytes=16e3, min_total_bytes=128e3, default_estimate=1e6):
        self.fast = _PlayerEwma(fast_half_life)
        self.slow = _PlayerEwma(slow_half_life)
        self.bytes_sampled = 0.0
        self.min_bytes = min_bytes
        self.min_total_bytes = min_total_bytes
        self.default_estimate = default_estimate

    def sample(self, duration_ms, num_bytes):
        if num_bytes < self.min_bytes:
            return
        bandwidth = 8000 * num_bytes / duration_ms
        weight = duration_ms / 1000
        self.bytes_sampled += num_bytes
        self.fast.sample(weight, bandwidth)
        self.slow.sample(weight, bandwidth)

    def get_bandwidth_estimate(self, default_estimate):
        if self.bytes_sampled < self.min_total_bytes:
            return default_estimate
        return min(self.fast.get_estimate(), self.slow.get_estimate())

    def update(self, size_bytes, time_s, latency_s, now_s):
        self.sample(time_s * 1000, size_bytes)

    def predict(self, now_s, oracle_bps=NAN):
        return self.get_bandwidth_estimate(self.default_estimate)


class HlsjsEwmaBandwidthEstimator(_Estimator):
    """hls.js ``src/utils/ewma-bandwidth-estimator.ts`` with the VoD half-lives 3 s and 9 s:
    durations floored at ``minDelayMs_`` (50 ms), weight = duration in seconds; the default
    estimate (``abrEwmaDefaultEstimate``, 500 kbit/s) until the fast EWMA's total weight
    reaches ``minWeight_`` (0.001)."""

    def __init__(self, fast_half_life=3.0, slow_half_life=9.0, default_estimate=5e5):
        self.fast = _PlayerEwma(fast_half_life)
        self.slow = _PlayerEwma(slow_half_life)
        self.default_estimate = default_estimate
        self.min_weight = 0.001
        self.min_delay_ms = 50

    def sample(self, duration_ms, num_bytes):
        duration_ms = max(duration_ms, self.min_delay_ms)
        num_bits = 8 * num_bytes
        duration_s = duration_ms / 1000
        bandwidth_bps = num_bits / duration_s
        self.fast.sample(duration_s, bandwidth_bps)
        self.slow.sample(duration_s, bandwidth_bps)

    def can_estimate(self):
        return self.fast.total_weight >= self.min_weight

    def get_estimate(self):
        if self.can_estimate():
            return min(self.fast.get_estimate(), self.slow.get_estimate())
        return self.default_estimate

    def update(self, size_bytes, time_s, latency_s, now_s):
        self.sample(time_s * 1000, size_bytes)

    def predict(self, now_s, oracle_bps=NAN):
        return self.get_estimate()


class DashjsThroughputHistory(_Estimator):
    """dash.js 4.x ``src/streaming/rules/ThroughputHistory.js`` (EWMA mode) and the throughput
    rule's safety factor.

    ``_updateEwmaEstimate``: weight ``0.001 * downloadTimeInMilliseconds`` (4.x; 5.x weighs by
    0.0015 x ms, see :class:`Dashjs5ThroughputModel`), ``alpha = 0.5 ** (weight / halfLife)`` with
    half-lives 3 s (fast) and 8 s (slow), ``estimate = (1 - alpha) * value + alpha *
    estimate``. ``getAverageEwma``: NaN until some weight is in, else the smaller of the two
    estimates divided by ``1 - 0.5 ** (totalWeight / halfLife)``. ``getSafeAverageThroughput``
    multiplies by ``bandwidthSafetyFactor`` (0.9).
    """

    def __init__(self, fast_half_life=3.0, slow_half_life=8.0, safety_factor=0.9):
        self.half_life = {"fast": fast_half_life, "slow": slow_half_life}
        self.ewma = {"fastEstimate": 0.0, "slowEstimate": 0.0, "totalWeight": 0.0}
        self.safety_factor = safety_factor

    def _update_ewma_estimate(self, value, weight):
        fast_alpha = math.pow(0.5, weight / self.half_life["fast"])
        self.ewma["fastEstimate"] = (1 - fast_alpha) * value + fast_alpha * self.ewma["fastEstimate"]
        slow_alpha = math.pow(0.5, weight / self.half_life["slow"])
        self.ewma["slowEstimate"] = (1 - slow_alpha) * value + slow_alpha * self.ewma["slowEstimate"]
        self.ewma["totalWeight"] += weight

    def push(self, throughput_bps, download_time_ms):
        self._update_ewma_estimate(throughput_bps, 0.001 * download_time_ms)

    def get_average_ewma(self):
        total = self.ewma["totalWeight"]
        if total <= 0:
            return NAN
        fast = self.ewma["fastEstimate"] / (1 - math.pow(0.5, total / self.half_life["fast"]))
        slow = self.ewma["slowEstimate"] / (1 - math.pow(0.5, total / self.half_life["slow"]))
        return min(fast, slow)

    def get_safe_average_throughput(self):
        average = self.get_average_ewma()
        if not math.isnan(average):
            average *= self.safety_factor
        return average

    def update(self, size_bytes, time_s, latency_s, now_s):
        self.push(_sample_bps(size_bytes, time_s), time_s * 1000)

    def predict(self, now_s, oracle_bps=NAN):
        return self.get_safe_average_throughput()


class Dashjs5ThroughputModel(DashjsThroughputHistory):
    """dash.js 5.x throughput EWMA: ``src/streaming/models/ThroughputModel.js`` (``addEntry``,
    ``_updateEwmaValues``) read out by ``src/streaming/controllers/ThroughputController.js``
    (``getEwma``, ``getSafeAverageThroughput``), with the defaults of ``src/core/Settings.js``.

    A media-segment request adds the sample ``8 * bytes / downloadTimeInMs`` (kbit/s there,
    bits/s here; the latency is left out, ``useDeadTimeLatency: true``) with the weight
    ``weightDownloadTimeMultiplicationFactor * downloadTimeInMs`` = 0.0015 x ms to two EWMAs
    with ``alpha = 0.5 ** (weight / halfLife)``, half-lives ``throughputFastHalfLifeSeconds`` = 3
    and ``throughputSlowHalfLifeSeconds`` = 8, and adds the weight to ``totalWeight``.
    ``getEwma``: NaN while ``totalWeight <= 0``, else the smaller of ``estimate / (1 - 0.5 **
    (totalWeight / halfLife))``; the safe average multiplies by ``bandwidthSafetyFactor`` 0.9.
    (dash.js also rounds the sample and the average to whole kbit/s; not modelled.)
    """

    def __init__(self, weight_factor_per_ms=0.0015, fast_half_life=3.0, slow_half_life=8.0, safety_factor=0.9):
        super().__init__(fast_half_life, slow_half_life, safety_factor)
        self.weight_factor_per_ms = weight_factor_per_ms

    def add_entry(self, downloaded_bytes, download_time_ms):
        # ThroughputModel.addEntry: the same two EWMAs as 4.x, weighted by 0.0015 x ms
        value_bps = 8 * downloaded_bytes / (download_time_ms / 1000)
        self._update_ewma_estimate(value_bps, self.weight_factor_per_ms * download_time_ms)

    def update(self, size_bytes, time_s, latency_s, now_s):
        self.add_entry(size_bytes, time_s * 1000)


class TwoEwmaEstimator(_Estimator):
    """abrkit's general ``DualEwma`` (and ``Ewma``, with equal half-lives), from its docstring.

    A sample ``x = 8 * bytes / t`` (``t`` the time floored at ``min_sample_s``) enters each EWMA
    with weight ``t``: ``est = (1 - a) x + a est``, ``a = 0.5 ** (t / half_life)``. Samples
    under ``min_sample_bytes`` are skipped. Until both ``min_total_bytes`` and
    ``min_total_weight`` are reached (and while no weight is in) the estimate is
    ``default_bps`` (None: NaN); after, ``safety x min`` of the zero-bias corrected EWMAs.
    """

    def __init__(self, fast_half_life_s, slow_half_life_s, min_sample_bytes=0.0, min_total_bytes=0.0,
                 default_bps=None, min_sample_s=0.0, safety=1.0, min_total_weight=0.0, weight_per_s=1.0):
        self.half_lives = (fast_half_life_s, slow_half_life_s)
        self.weight_per_s = weight_per_s
        self.estimates = [0.0, 0.0]
        self.total_weight = 0.0
        self.total_bytes = 0.0
        self.min_sample_bytes = min_sample_bytes
        self.min_total_bytes = min_total_bytes
        self.default_bps = default_bps
        self.min_sample_s = min_sample_s
        self.safety = safety
        self.min_total_weight = min_total_weight

    def update(self, size_bytes, time_s, latency_s, now_s):
        if size_bytes < self.min_sample_bytes:
            return
        t = max(time_s, self.min_sample_s)
        x = size_bytes * BITS_PER_BYTE / t
        weight = self.weight_per_s * t
        for i, h in enumerate(self.half_lives):
            a = 0.5 ** (weight / h)
            self.estimates[i] = (1.0 - a) * x + a * self.estimates[i]
        self.total_weight += weight
        self.total_bytes += size_bytes

    def predict(self, now_s, oracle_bps=NAN):
        enough = (
            self.total_weight > 0.0
            and self.total_bytes >= self.min_total_bytes
            and self.total_weight >= self.min_total_weight
        )
        if not enough:
            return NAN if self.default_bps is None else self.default_bps
        corrected = [e / (1.0 - 0.5 ** (self.total_weight / h)) for e, h in zip(self.estimates, self.half_lives)]
        return min(corrected) * self.safety


class SabreSlidingWindow(_Estimator):
    """Sabre ``sabre.py`` ``SlidingWindow``: for each window size the mean of that many most
    recent samples (fewer while fewer exist); the lowest throughput and the highest latency win.
    (Sabre keeps only the last 20 samples, which matters only for windows over 20.)"""

    def __init__(self, window_size=(3,)):
        self.window_size = list(window_size)
        self.last_throughputs: list[float] = []
        self.last_latencies: list[float] = []

    def update(self, size_bytes, time_s, latency_s, now_s):
        self.last_throughputs.append(_sample_bps(size_bytes, time_s))
        self.last_latencies.append(latency_s)

    @staticmethod
    def _mean(sample):
        total = 0.0
        for x in reversed(sample):  # newest first
            total += x
        return total / len(sample)

    def predict(self, now_s, oracle_bps=NAN):
        if not self.last_throughputs:
            return NAN
        tput = None
        for ws in self.window_size:
            t = self._mean(self.last_throughputs[-ws:])
            tput = t if tput is None else min(tput, t)  # conservative case is min
        return tput

    def latency(self):
        if not self.last_latencies:
            return NAN
        lat = None
        for ws in self.window_size:
            lt = self._mean(self.last_latencies[-ws:])
            lat = lt if lat is None else max(lat, lt)  # conservative case is max
        return lat


class SabreEwmaEstimator(_Estimator):
    """Sabre ``sabre.py`` ``Ewma``: per half-life, throughput averaged with weight = download
    time, ``alpha = 0.5 ** (time / half_life)``; latency with weight one per sample and
    half-life ``half_life / segment_time`` samples; both zero-bias corrected; the lowest
    throughput and the highest latency over the half-lives. Sabre's default: 8 s and 3 s."""

    def __init__(self, half_life_s=(8.0, 3.0), segment_s=3.0):
        self.half_life = list(half_life_s)
        self.latency_half_life = [h / segment_s for h in self.half_life]
        self.throughput = [0.0] * len(self.half_life)
        self.weight_throughput = 0.0
        self.latency_avg = [0.0] * len(self.half_life)
        self.weight_latency = 0.0

    def update(self, size_bytes, time_s, latency_s, now_s):
        tput = _sample_bps(size_bytes, time_s)
        for i in range(len(self.half_life)):
            alpha = math.pow(0.5, time_s / self.half_life[i])
            self.throughput[i] = alpha * self.throughput[i] + (1 - alpha) * tput
            alpha = math.pow(0.5, 1 / self.latency_half_life[i])
            self.latency_avg[i] = alpha * self.latency_avg[i] + (1 - alpha) * latency_s
        self.weight_throughput += time_s
        self.weight_latency += 1

    def predict(self, now_s, oracle_bps=NAN):
        if self.weight_latency == 0:
            return NAN
        tput = None
        for i in range(len(self.half_life)):
            zero_factor = 1 - math.pow(0.5, self.weight_throughput / self.half_life[i])
            t = self.throughput[i] / zero_factor
            tput = t if tput is None else min(tput, t)
        return tput

    def latency(self):
        if self.weight_latency == 0:
            return NAN
        lat = None
        for i in range(len(self.half_life)):
            zero_factor = 1 - math.pow(0.5, self.weight_latency / self.latency_half_life[i])
            lt = self.latency_avg[i] / zero_factor
            lat = lt if lat is None else max(lat, lt)
        return lat


class _SlidingPercentile:
    """ExoPlayer ``util/SlidingPercentile.java``: samples (index, weight, value) kept in
    arrival order; once the total weight exceeds ``maxWeight`` the oldest samples lose weight,
    and leave when theirs is used up. ``getPercentile(p)`` walks the samples in value order
    (a stable sort of the arrival order) until the accumulated weight reaches
    ``p * totalWeight``."""

    def __init__(self, max_weight):
        self.max_weight = max_weight
        self.samples: list[list[float]] = []  # [index, weight, value]
        self.next_sample_index = 0
        self.total_weight = 0.0

    def add_sample(self, weight, value):
        self.samples.sort(key=lambda smp: smp[0])  # ensureSortedByIndex
        self.samples.append([self.next_sample_index, weight, value])
        self.next_sample_index += 1
        self.total_weight += weight
        while self.total_weight > self.max_weight:
            excess_weight = self.total_weight - self.max_weight
            oldest = self.samples[0]
            if oldest[1] <= excess_weight:
                self.total_weight -= oldest[1]
                self.samples.pop(0)
            else:
                oldest[1] -= excess_weight
                self.total_weight -= excess_weight

    def get_percentile(self, percentile):
        self.samples.sort(key=lambda smp: smp[2])  # ensureSortedByValue (stable)
        desired_weight = percentile * self.total_weight
        accumulated_weight = 0.0
        for smp in self.samples:
            accumulated_weight += smp[1]
            if accumulated_weight >= desired_weight:
                return smp[2]
        return NAN if not self.samples else self.samples[-1][2]


class ExoPlayerBandwidthMeter(_Estimator):
    """ExoPlayer ``DefaultBandwidthMeter.onTransferEnd``: every transfer adds its time and bytes
    to the totals and a sample of weight ``(int) Math.sqrt(bytes)`` (value: its bits per second)
    to a ``SlidingPercentile`` of max weight 2000; once 2 s of transfer
    (``ELAPSED_MILLIS_FOR_ESTIMATE``) or 512 KiB (``BYTES_TRANSFERRED_FOR_ESTIMATE``) have been
    seen, the estimate becomes the median (``getPercentile(0.5f)``); before, the initial
    estimate (``DEFAULT_INITIAL_BITRATE_ESTIMATE``, 1 Mbit/s). Double precision throughout
    (ExoPlayer stores float values and truncates the estimate to whole bits per second)."""

    def __init__(self, max_weight=2000.0, percentile=0.5, initial_estimate=1e6, elapsed_s_for_estimate=2.0,
                 bytes_for_estimate=512 * 1024.0):
        self.sliding_percentile = _SlidingPercentile(max_weight)
        self.percentile = percentile
        self.bitrate_estimate = NAN if initial_estimate is None else initial_estimate
        self.elapsed_s_for_estimate = elapsed_s_for_estimate
        self.bytes_for_estimate = bytes_for_estimate
        self.total_elapsed_s = 0.0
        self.total_bytes = 0.0

    def on_transfer_end(self, sample_bytes, sample_elapsed_s):
        self.total_elapsed_s += sample_elapsed_s
        self.total_bytes += sample_bytes
        if sample_elapsed_s > 0:
            bits_per_second = sample_bytes * 8.0 / sample_elapsed_s
            self.sliding_percentile.add_sample(float(int(math.sqrt(sample_bytes))), bits_per_second)
            if self.total_elapsed_s >= self.elapsed_s_for_estimate or self.total_bytes >= self.bytes_for_estimate:
                self.bitrate_estimate = self.sliding_percentile.get_percentile(self.percentile)

    def update(self, size_bytes, time_s, latency_s, now_s):
        self.on_transfer_end(size_bytes, time_s)

    def predict(self, now_s, oracle_bps=NAN):
        return self.bitrate_estimate


class KalmanLogEstimator(_Estimator):
    """abrkit's ``KalmanLog``, from its docstring: a local-level Kalman filter on
    ``y = log(bits per second)``.

    The level is a random walk whose variance grows by ``process_var_per_s`` per second of
    session clock; a sample adds ``measurement_var`` of noise. The first sample sets the level
    to ``y`` and its variance to ``initial_var``; each later one predicts the variance forward
    to its time (``P + q dt``), then takes the usual gain ``K = P / (P + R)``. The prediction at
    ``now_s`` is the ``quantile`` of the log-normal predictive distribution of the next sample:
    ``exp(level + z sqrt(P + q (now - t_last) + R))``, ``z`` the normal quantile.
    """

    def __init__(self, quantile=0.5, process_var_per_s=0.015, measurement_var=0.03, initial_var=0.03):
        self.z = NormalDist().inv_cdf(quantile)
        self.q = process_var_per_s
        self.r = measurement_var
        self.initial_var = initial_var
        self.level = None
        self.var = None
        self.t_last = None

    def update(self, size_bytes, time_s, latency_s, now_s):
        y = math.log(_sample_bps(size_bytes, time_s))
        if self.level is None:
            self.level, self.var = y, self.initial_var
        else:
            prior_var = self.var + self.q * max(now_s - self.t_last, 0.0)
            gain = prior_var / (prior_var + self.r)
            self.level = self.level + gain * (y - self.level)
            self.var = (1.0 - gain) * prior_var
        self.t_last = now_s

    def predict(self, now_s, oracle_bps=NAN):
        if self.level is None:
            return NAN
        var = self.var + self.q * max(now_s - self.t_last, 0.0) + self.r
        return math.exp(self.level + self.z * math.sqrt(var))


class OracleEstimator(_Estimator):
    """Sees the future: the session loop measures what the next request would get and hands
    it over as ``oracle_bps``."""

    wants_oracle = True

    def update(self, size_bytes, time_s, latency_s, now_s):
        pass

    def predict(self, now_s, oracle_bps=NAN):
        return oracle_bps


def reference_predictor(spec: Any) -> _Estimator:
    """A fresh reference estimator for a public predictor spec (object or name), built from its
    fields. The dash.js, Shaka and hls.js presets of ``DualEwma`` map to those players' own
    estimators; any other ``DualEwma``/``Ewma`` to :class:`TwoEwmaEstimator`."""
    pred: Predictor = get_predictor(spec)
    if isinstance(pred, LastSample):
        return LastSampleEstimator()
    if isinstance(pred, PufferMean):
        return PufferEstimator(pred.window)
    if isinstance(pred, HarmonicMean):
        return HarmonicMeanEstimator(pred.window)
    if isinstance(pred, Mean):
        return MeanEstimator(pred.window)
    if isinstance(pred, RobustDiscount):
        return RobustMpcDiscount(reference_predictor(pred.base), pred.window)
    if isinstance(pred, DualEwma):
        if pred == DualEwma.dashjs5():
            return Dashjs5ThroughputModel()
        if pred == DualEwma.dashjs4():
            return DashjsThroughputHistory()
        if pred == DualEwma.shaka():
            return ShakaEwmaBandwidthEstimator()
        if pred == DualEwma.hlsjs():
            return HlsjsEwmaBandwidthEstimator()
        return TwoEwmaEstimator(
            pred.fast_half_life_s, pred.slow_half_life_s, pred.min_sample_bytes, pred.min_total_bytes,
            pred.default_bps, pred.min_sample_s, pred.safety, pred.min_total_weight, pred.weight_per_s,
        )
    if isinstance(pred, Ewma):
        return TwoEwmaEstimator(pred.half_life_s, pred.half_life_s)
    if isinstance(pred, SlidingWindow):
        return SabreSlidingWindow(pred.windows)
    if isinstance(pred, SabreEwma):
        return SabreEwmaEstimator(pred.half_lives_s, pred.segment_s)
    if isinstance(pred, SlidingPercentile):
        return ExoPlayerBandwidthMeter(pred.max_weight, pred.percentile, pred.default_bps, pred.min_elapsed_s, pred.min_bytes)
    if isinstance(pred, KalmanLog):
        return KalmanLogEstimator(pred.quantile, pred.process_var_per_s, pred.measurement_var, pred.initial_var)
    if isinstance(pred, Oracle):
        return OracleEstimator()
    raise TypeError(f"the reference has no estimator for {type(pred).__name__}")


def replay_reference(spec: Any, size_bytes, time_s, latency_s=None, now_s=None, request_s=None) -> np.ndarray:
    """What ``abrkit.predictors.replay_predictor`` should return, from the reference estimator:
    entry ``i`` is the estimate made when download ``i`` was requested. ``now_s[i]`` is the
    session clock at its end (default: the running sum of ``time_s``); ``request_s[i]`` the
    clock at its request (default: the previous download's end, 0 for the first)."""
    est = reference_predictor(spec)
    n = len(size_bytes)
    latency = [0.0] * n if latency_s is None else list(latency_s)
    if now_s is None:
        now, clock = [], 0.0
        for t in time_s:
            clock += float(t)
            now.append(clock)
    else:
        now = list(now_s)
    if request_s is None:
        request = [0.0] + [float(x) for x in now[:-1]]
    else:
        request = [float(x) for x in request_s]
    out = np.empty(n)
    for i in range(n):
        out[i] = est.predict(request[i])
        est.update(float(size_bytes[i]), float(time_s[i]), float(latency[i]), float(now[i]))
    return out


# ================================================================================================
# Kernel twins: the predictor kernels on their packed state (layout: abrkit._kernels.predictors)
# ================================================================================================


def ring_push(s, off, cap, value):
    """Ring ``[count, head, v_0 .. v_{cap-1}]`` at ``s[off:]``: write at head, advance it."""
    head = int(s[off + 1])
    s[off + 2 + head] = value
    s[off + 1] = (head + 1) % cap
    if s[off] < cap:
        s[off] = s[off] + 1.0


def ring_recent(s, off, cap, i):
    """The ``i``-th newest value of the ring (0: the newest)."""
    head = int(s[off + 1])
    return s[off + 2 + (head - 1 - i) % cap]


def ring_mean(s, off, cap, window):
    """Mean of the newest ``min(count, window)`` values, summed oldest first (count must be > 0)."""
    n = min(int(s[off]), window)
    total = 0.0
    for i in reversed(range(n)):
        total += ring_recent(s, off, cap, i)
    return total / n


def harmonic_mean_last(samples_bps, window):
    """Harmonic mean of the last ``window`` samples; all of them if there are fewer; 0.0 if none."""
    samples = [float(s) for s in samples_bps]
    recent = samples[max(len(samples) - int(window), 0):]
    if not recent:
        return 0.0
    inverse_sum = 0.0
    for s in recent:
        inverse_sum += 1.0 / s
    return len(recent) / inverse_sum


def _harmonic(s, off, cap, window):
    n = min(int(s[off]), window)
    if n == 0:
        return NAN
    inverse_sum = 0.0
    for i in range(n):
        inverse_sum += 1.0 / ring_recent(s, off, cap, i)
    return n / inverse_sum


def _window_of(p):
    return max(int(p[0]), 1)


def _base_predict(pid, p, s):
    return pred_predict(pid, p, s, 0.0, NAN)


def _robust_update(p, s, size_bytes, time_s, latency_s, now_s):
    # s[0]: 1 once a base estimate exists; s[1]: that estimate; s[2:]: ring of errors; the base's
    # own state from s[p[2]] on, its parameters from p[3] on.
    window = int(p[0])
    sample = size_bytes * BITS_PER_BYTE / time_s
    if s[0] > 0:
        error = abs(s[1] - sample) / sample
    else:
        error = 0.0
    ring_push(s, 2, window, error)
    base_id, base_off = int(p[1]), int(p[2])
    base_p, base_s = p[3:], s[base_off:]
    _plain_update(base_id, base_p, base_s, size_bytes, time_s, latency_s, now_s)
    s[1] = _base_predict(base_id, base_p, base_s)
    s[0] = 1.0


def _plain_update(pid, p, s, size_bytes, time_s, latency_s, now_s):
    if pid in (L.PRED_LAST, L.PRED_MEAN, L.PRED_HARMONIC):
        ring_push(s, 0, _window_of(p), size_bytes * BITS_PER_BYTE / time_s)
    elif pid == L.PRED_PUFFER:
        ring_push(s, 0, _window_of(p), time_s / size_bytes)
    elif pid == L.PRED_DUAL_EWMA:
        _dual_ewma_update(p, s, size_bytes, time_s)
    elif pid == L.PRED_SABRE_WINDOW:
        cap = int(p[1])
        ring_push(s, 0, cap, size_bytes * BITS_PER_BYTE / time_s)
        ring_push(s, 2 + cap, cap, latency_s)
    elif pid == L.PRED_SABRE_EWMA:
        _sabre_ewma_update(p, s, size_bytes, time_s, latency_s)
    elif pid == L.PRED_EXO_PERCENTILE:
        _exo_update(p, s, size_bytes, time_s)
    elif pid == L.PRED_KALMAN:
        _kalman_update(p, s, size_bytes * BITS_PER_BYTE / time_s, now_s)
    # LAST..KALMAN covered; the oracle (and any unknown id) learns nothing.


def _dual_ewma_update(p, s, size_bytes, time_s):
    # p: fast/slow half-lives, min sample bytes, min total bytes, default, min time, safety,
    # min total weight, weight per second.  s: fast, slow, total weight, total bytes.
    if size_bytes < p[2]:
        return
    t = max(time_s, p[5])
    x = size_bytes * BITS_PER_BYTE / t
    weight = t * p[8]
    a_fast = 0.5 ** (weight / p[0])
    a_slow = 0.5 ** (weight / p[1])
    s[0] = (1.0 - a_fast) * x + a_fast * s[0]
    s[1] = (1.0 - a_slow) * x + a_slow * s[1]
    s[2] += weight
    s[3] += size_bytes


def _dual_ewma_predict(p, s):
    if s[2] <= 0.0 or s[3] < p[3] or s[2] < p[7]:
        return p[4] if p[4] > 0.0 else NAN
    fast = s[0] / (1.0 - 0.5 ** (s[2] / p[0]))
    slow = s[1] / (1.0 - 0.5 ** (s[2] / p[1]))
    return min(fast, slow) * p[6]


def _sabre_window(p, s, off, throughput):
    # p: number of windows, largest window (the ring capacity), the window sizes.
    cap = int(p[1])
    if s[off] == 0:
        return NAN
    means = [ring_mean(s, off, cap, int(p[2 + j])) for j in range(int(p[0]))]
    best = means[0]
    for m in means[1:]:
        best = min(best, m) if throughput else max(best, m)
    return best


def _sabre_ewma_update(p, s, size_bytes, time_s, latency_s):
    # p: number of half-lives, segment s, the half-lives.  s: throughput weight, latency weight,
    # throughput averages s[2:6], latency averages s[6:10].
    x = size_bytes * BITS_PER_BYTE / time_s
    for j in range(int(p[0])):
        half = p[2 + j]
        a = 0.5 ** (time_s / half)
        s[2 + j] = a * s[2 + j] + (1.0 - a) * x
        a = 0.5 ** (1.0 / (half / p[1]))
        s[6 + j] = a * s[6 + j] + (1.0 - a) * latency_s
    s[0] += time_s
    s[1] += 1.0


def _sabre_ewma_read(p, s, throughput):
    if s[1] == 0:
        return NAN
    values = []
    for j in range(int(p[0])):
        half = p[2 + j]
        if throughput:
            values.append(s[2 + j] / (1.0 - 0.5 ** (s[0] / half)))
        else:
            values.append(s[6 + j] / (1.0 - 0.5 ** (s[1] / (half / p[1]))))
    best = values[0]
    for v in values[1:]:
        best = min(best, v) if throughput else max(best, v)
    return best


_EXO_HDR = 5


def _exo_update(p, s, size_bytes, time_s):
    # p: max total weight, percentile, default, min elapsed s, min bytes, capacity.
    # s: count, head, total weight, elapsed s, bytes, weights[cap], values[cap] (a ring, oldest
    # at head).
    cap = int(p[5])
    weight = float(math.floor(math.sqrt(size_bytes)))
    value = size_bytes * BITS_PER_BYTE / time_s
    s[3] += time_s
    s[4] += size_bytes
    if weight <= 0.0:
        return
    count, head = int(s[0]), int(s[1])
    if count == cap:
        s[2] -= s[_EXO_HDR + head]
        head = (head + 1) % cap
        count -= 1
    tail = (head + count) % cap
    s[_EXO_HDR + tail] = weight
    s[_EXO_HDR + cap + tail] = value
    count += 1
    s[2] += weight
    while s[2] > p[0]:
        excess = s[2] - p[0]
        oldest = s[_EXO_HDR + head]
        if oldest <= excess:
            s[2] -= oldest
            head = (head + 1) % cap
            count -= 1
        else:
            s[_EXO_HDR + head] = oldest - excess
            s[2] -= excess
    s[0] = count
    s[1] = head


def _exo_predict(p, s):
    count = int(s[0])
    if count == 0 or (s[3] < p[3] and s[4] < p[4]):
        return p[2] if p[2] > 0.0 else NAN
    cap, head = int(p[5]), int(s[1])
    pairs = []  # (value, weight) in arrival order
    for i in range(count):
        j = (head + i) % cap
        pairs.append((s[_EXO_HDR + cap + j], s[_EXO_HDR + j]))
    pairs.sort(key=lambda vw: vw[0])  # stable: equal values keep arrival order
    desired = p[1] * s[2]
    accumulated = 0.0
    for value, weight in pairs:
        accumulated += weight
        if accumulated >= desired:
            return value
    return pairs[-1][0]


def _kalman_update(p, s, bps, now_s):
    # p: process variance per s, measurement variance, z, initial variance.
    # s: count, level (log bps), its variance, time of the last sample.
    y = math.log(bps)
    if s[0] == 0:
        s[1] = y
        s[2] = p[3]
    else:
        var = s[2] + p[0] * max(now_s - s[3], 0.0)
        gain = var / (var + p[1])
        s[1] += gain * (y - s[1])
        s[2] = (1.0 - gain) * var
    s[3] = now_s
    s[0] += 1.0


def _kalman_predict(p, s, now_s):
    if s[0] == 0:
        return NAN
    var = s[2] + p[0] * max(now_s - s[3], 0.0) + p[1]
    return math.exp(s[1] + p[2] * math.sqrt(var))


def pred_update(pid, p, s, size_bytes, time_s, latency_s, now_s):
    """Twin of ``predictors.pred_update``: feed one download to predictor ``pid``."""
    if pid == L.PRED_ROBUST:
        _robust_update(p, s, size_bytes, time_s, latency_s, now_s)
    else:
        _plain_update(pid, p, s, size_bytes, time_s, latency_s, now_s)


def pred_predict(pid, p, s, now_s, oracle_bps):
    """Twin of ``predictors.pred_predict``: the estimate in bits per second, NaN without one."""
    if pid == L.PRED_LAST:
        return ring_recent(s, 0, 1, 0) if s[0] > 0 else NAN
    if pid == L.PRED_MEAN:
        return ring_mean(s, 0, _window_of(p), int(p[0])) if s[0] > 0 else NAN
    if pid == L.PRED_HARMONIC:
        return _harmonic(s, 0, _window_of(p), int(p[0]))
    if pid == L.PRED_PUFFER:
        return BITS_PER_BYTE / ring_mean(s, 0, _window_of(p), int(p[0])) if s[0] > 0 else NAN
    if pid == L.PRED_ROBUST:
        if s[0] == 0:
            return NAN
        window = int(p[0])
        worst = 0.0
        for i in range(min(int(s[2]), window)):
            worst = max(worst, ring_recent(s, 2, window, i))
        return s[1] / (1.0 + worst)
    if pid == L.PRED_DUAL_EWMA:
        return _dual_ewma_predict(p, s)
    if pid == L.PRED_SABRE_WINDOW:
        return _sabre_window(p, s, 0, True)
    if pid == L.PRED_SABRE_EWMA:
        return _sabre_ewma_read(p, s, True)
    if pid == L.PRED_EXO_PERCENTILE:
        return _exo_predict(p, s)
    if pid == L.PRED_KALMAN:
        return _kalman_predict(p, s, now_s)
    if pid == L.PRED_ORACLE:
        return oracle_bps
    return NAN


def pred_latency(pid, p, s):
    """Twin of ``predictors.pred_latency``: the Sabre estimators' latency, NaN for the others."""
    if pid == L.PRED_SABRE_WINDOW:
        return _sabre_window(p, s, 2 + int(p[1]), False)
    if pid == L.PRED_SABRE_EWMA:
        return _sabre_ewma_read(p, s, False)
    return NAN


def replay(pid, p, s, size_bytes, time_s, latency_s, now_s, request_s, out_bps):
    """Twin of ``predictors.replay``: predict when each download is requested, then learn from it."""
    for i in range(len(size_bytes)):
        out_bps[i] = pred_predict(pid, p, s, request_s[i], NAN)
        pred_update(pid, p, s, size_bytes[i], time_s[i], latency_s[i], now_s[i])


class _PackedEstimator(_Estimator):
    """A packed predictor (id, params, state array) seen through the estimator interface; it
    updates ``state`` in place, as the kernels do."""

    def __init__(self, pid, params, state):
        self.pid, self.params, self.state = int(pid), params, state
        self.wants_oracle = self.pid == L.PRED_ORACLE

    def update(self, size_bytes, time_s, latency_s, now_s):
        pred_update(self.pid, self.params, self.state, size_bytes, time_s, latency_s, now_s)

    def predict(self, now_s, oracle_bps=NAN):
        return pred_predict(self.pid, self.params, self.state, now_s, oracle_bps)


# ================================================================================================
# Controllers
# ================================================================================================


def bb_pensieve(buffer_s, n_rungs, reservoir_s, cushion_s):
    """Pensieve ``test/bb.py``: the rung index grows linearly over the cushion, truncated."""
    if buffer_s < reservoir_s:
        bit_rate = 0
    elif buffer_s >= reservoir_s + cushion_s:
        bit_rate = n_rungs - 1
    else:
        bit_rate = (n_rungs - 1) * (buffer_s - reservoir_s) / cushion_s
    return int(bit_rate)


def bba0(buffer_s, prev_rung, bitrates_bps, reservoir_s, cushion_s):
    """BBA-0, Algorithm 1 of Huang et al., SIGCOMM 2014, written with rates as in the paper.

    ``prev_rung < 0`` (nothing played yet) counts as the lowest rung.
    """
    rates = [float(r) for r in bitrates_bps]
    if len(rates) == 1:  # the paper assumes a choice; with one rate there is none
        return 0
    r_min, r_max = rates[0], rates[-1]
    rate_prev = rates[max(int(prev_rung), 0)]
    # Lines 1-8: the neighbouring rates.
    rate_plus = r_max if rate_prev == r_max else min(r for r in rates if r > rate_prev)
    rate_minus = r_min if rate_prev == r_min else max(r for r in rates if r < rate_prev)
    # Lines 9-18.
    if buffer_s <= reservoir_s:
        rate_next = r_min
    elif buffer_s >= reservoir_s + cushion_s:
        rate_next = r_max
    else:
        f_buf = r_min + (r_max - r_min) * (buffer_s - reservoir_s) / cushion_s
        if f_buf >= rate_plus:
            rate_next = max(r for r in rates if r < f_buf)
        elif f_buf <= rate_minus:
            rate_next = min(r for r in rates if r > f_buf)
        else:
            rate_next = rate_prev
    return rates.index(rate_next)


def highest_below(bitrates_bps, budget_bps):
    """Index of the highest rung whose bitrate fits in the budget; 0 when none does."""
    fitting = [i for i, rate in enumerate(bitrates_bps) if rate <= budget_bps]
    return fitting[-1] if fitting else 0


def rate_based(estimate_bps, bitrates_bps, safety):
    """Rate rule: the highest rung <= safety x the predictor's estimate; rung 0 without one."""
    if not math.isfinite(estimate_bps):
        return 0
    return highest_below(bitrates_bps, safety * estimate_bps)


def fixed_rung(rung, n_rungs):
    """Always ``rung``, clipped to the top of the ladder."""
    return min(int(rung), n_rungs - 1)


def decide(ctrl_id, cparams, k, buffer_s, prev_rung, bitrates_bps, est_bps):
    """Reference of the kernel dispatcher: ``cparams`` laid out as in ``layout``; ``est_bps`` the
    estimate of the controller's predictor (NaN: none yet, or no predictor)."""
    if ctrl_id == L.CTRL_BB_PENSIEVE:
        return bb_pensieve(buffer_s, len(bitrates_bps), cparams[0], cparams[1])
    if ctrl_id == L.CTRL_BBA0:
        return bba0(buffer_s, prev_rung, bitrates_bps, cparams[0], cparams[1])
    if ctrl_id == L.CTRL_RATE:
        return rate_based(est_bps, bitrates_bps, cparams[0])
    if ctrl_id == L.CTRL_FIXED:
        return fixed_rung(cparams[0], len(bitrates_bps))
    return -1


def _chooser(controller: Controller, bitrates_bps, predictor, *, sizes_bytes=None, n_chunks=0, durations_s=None,
             profile: Profile | None = None) -> Callable[..., int]:
    """A ``choose(k, buffer_s, prev_rung, now_s, oracle_bps, last_latency_s)`` function for a public
    controller object; ``predictor`` is the reference estimator of its predictor (None if it has
    none). Planning controllers (MPC, BBA-1) also need the video's whole size table
    ``sizes_bytes``, the number of chunks played, each row's chunk duration and the profile."""
    n_rungs = len(bitrates_bps)
    if isinstance(controller, BufferBased):
        return lambda k, buf, prev, now, orc, lat: bb_pensieve(buf, n_rungs, controller.reservoir_s, controller.cushion_s)
    if isinstance(controller, BBA0):
        return lambda k, buf, prev, now, orc, lat: bba0(buf, prev, bitrates_bps, controller.reservoir_s, controller.cushion_s)
    if isinstance(controller, RateBased):
        return lambda k, buf, prev, now, orc, lat: rate_based(predictor.predict(now, orc), bitrates_bps, controller.safety)
    if isinstance(controller, FixedRung):
        return lambda k, buf, prev, now, orc, lat: fixed_rung(controller.rung, n_rungs)
    if isinstance(controller, BBA1):
        return lambda k, buf, prev, now, orc, lat: bba1_choose(
            buf, prev, k, n_chunks, bitrates_bps, sizes_bytes, durations_s, controller.cushion_s, controller.lookahead_s,
            controller.min_reservoir_s, controller.max_reservoir_s,
        )
    if isinstance(controller, MPC):
        assert profile is not None
        return lambda k, buf, prev, now, orc, lat: mpc_choose(
            k, n_chunks, buf, prev, bitrates_bps, sizes_bytes, durations_s, predictor.predict(now, orc), lat,
            horizon=controller.horizon, rebuffer_weight=controller.rebuffer_weight,
            switch_weight=controller.switch_weight, buffer_cap_s=profile.buffer_cap_s,
            throughput_includes_latency=profile.throughput_includes_latency,
            sizes_one_ahead=profile.mpc_sizes_one_ahead, ignores_rtt=profile.mpc_plan_ignores_rtt,
            ignores_cap=profile.mpc_plan_ignores_buffer_cap, ties_last=profile.mpc_ties == "last",
        )
    raise TypeError(f"the reference has no decision rule for {type(controller).__name__}")


# ================================================================================================
# The trace clock and the session loop
# ================================================================================================


def advance_clock(period_end_s, wrap_s, ptr, clock_s, wait_s):
    """Let ``wait_s`` seconds of the trace go by (fixed_env's sleep loop); returns (ptr, clock_s)."""
    remaining_s = wait_s
    while True:
        duration = period_end_s[ptr] - clock_s
        if duration > remaining_s:
            return ptr, clock_s + remaining_s
        remaining_s -= duration
        clock_s = period_end_s[ptr]
        ptr += 1
        if ptr >= len(period_end_s):  # loop back to the beginning of the trace
            ptr = 0
            clock_s = wrap_s


def transfer(period_end_s, period_bw_bps, wrap_s, ptr, clock_s, size_bytes, efficiency, max_s):
    """Download ``size_bytes`` from (ptr, clock_s) (fixed_env's download loop).

    Returns (seconds taken, ptr, clock_s, finished). ``finished`` is False when the last byte
    would arrive more than ``max_s`` seconds after the transfer began.
    """
    sent_bytes = 0.0
    delay_s = 0.0
    while True:
        throughput = period_bw_bps[ptr] / BITS_PER_BYTE  # bytes per second
        duration = period_end_s[ptr] - clock_s
        packet_payload = throughput * duration * efficiency
        if sent_bytes + packet_payload > size_bytes:
            fractional_time = (size_bytes - sent_bytes) / throughput / efficiency
            if delay_s + fractional_time > max_s:
                return delay_s + fractional_time, ptr, clock_s + fractional_time, False
            return delay_s + fractional_time, ptr, clock_s + fractional_time, True
        sent_bytes += packet_payload
        delay_s += duration
        clock_s = period_end_s[ptr]
        ptr += 1
        if ptr >= len(period_bw_bps):
            ptr = 0
            clock_s = wrap_s
        if delay_s > max_s:
            return delay_s, ptr, clock_s, False


def _request(period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes,
             rtt_s, rtt_advances_clock, efficiency, max_download_s):
    """Request ``size_bytes`` at (ptr, clock_s): wait the latency (the trace's own when ``rtt_s``
    is None), then download. Returns (latency_s, download_s, ptr, clock_s, finished)."""
    latency_s = period_lat_s[ptr] if rtt_s is None else rtt_s
    if rtt_advances_clock and latency_s > 0.0:
        ptr, clock_s = advance_clock(period_end_s, wrap_s, ptr, clock_s, latency_s)
    download_s, ptr, clock_s, finished = transfer(
        period_end_s, period_bw_bps, wrap_s, ptr, clock_s, size_bytes, efficiency, max_download_s
    )
    return latency_s, download_s, ptr, clock_s, finished


def _profile_fields(prof):
    """The keyword arguments of :func:`_request` from a packed profile vector."""
    rtt = prof[L.PROF_RTT_S]
    return {
        "rtt_s": None if rtt < 0.0 else rtt,
        "rtt_advances_clock": prof[L.PROF_RTT_ADVANCES_CLOCK] != 0.0,
        "efficiency": prof[L.PROF_EFFICIENCY],
        "max_download_s": prof[L.PROF_MAX_DOWNLOAD_S],
    }


def request_time(period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof):
    """Reference of ``session.request_time``: (latency_s, transfer_s, ptr, clock_s, finished)."""
    return _request(period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, **_profile_fields(prof))


def measured_time(lat_s, xfer_s, prof):
    """The time a player measures a download over: with the latency or without it."""
    if prof[L.PROF_THROUGHPUT_INCLUDES_LATENCY] != 0.0:
        return xfer_s + lat_s
    return xfer_s


def oracle_throughput(period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof):
    """The sample a request of ``size_bytes`` issued at (ptr, clock_s) would give; NaN if it
    would stall. Nothing is committed: the trace position is the caller's."""
    latency_s, download_s, _, _, finished = request_time(
        period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof
    )
    if not finished:
        return NAN
    return size_bytes * BITS_PER_BYTE / measured_time(latency_s, download_s, prof)


# -- the session loop --------------------------------------------------------------------------


def _play(
    period_end_s, period_bw_bps, period_lat_s, start_s, wrap_s,
    sizes_bytes, bitrates_bps, durations_s, n_chunks,
    *, rtt_s, rtt_advances_clock, efficiency, buffer_cap_s, wait_quantum_s,
    first_chunk_rebuffers, initial_rung, max_download_s, throughput_includes_latency,
    choose, predictor=None, shadows=(),
):
    """One session, fixed_env style. Returns (rows, status, startup_s, shadow_predictions); a
    row is a dict per chunk, ``shadow_predictions[i][k]`` shadow ``i``'s estimate before chunk
    ``k`` was downloaded (also for a chunk whose download stalled).

    ``rtt_s`` None: each request waits the latency of the period it is issued in.
    ``initial_rung`` None: chunk 0's rung comes from ``choose`` like every other.
    ``choose(k, buffer_s, prev_rung, now_s, oracle_bps, last_latency_s)`` picks a rung; ``now_s``
    is the session clock, ``oracle_bps`` (only when ``predictor`` wants the oracle) what chunk
    ``k`` at the previous rung (rung 0 at first) would measure if requested now,
    ``last_latency_s`` the previous request's latency (0 before the first).
    ``predictor`` (the controller's) and ``shadows`` are estimators; after each finished download
    each one learns (size, measured time, latency, session clock at the download's end).
    Chunk ``k`` plays ``durations_s[k]`` seconds: that is what the buffer gains when it arrives.
    """
    shadow_predictions = [[] for _ in shadows]
    if not any(bw > 0.0 for bw in period_bw_bps):
        return [], L.STATUS_NO_BANDWIDTH, 0.0, shadow_predictions

    def request(ptr, clock_s, size):
        return _request(
            period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size,
            rtt_s, rtt_advances_clock, efficiency, max_download_s,
        )

    def would_measure(ptr, clock_s, size):
        latency_s, download_s, _, _, finished = request(ptr, clock_s, size)
        if not finished:
            return NAN
        return size * BITS_PER_BYTE / (download_s + latency_s if throughput_includes_latency else download_s)

    learners = ([predictor] if predictor is not None else []) + list(shadows)
    ptr = 0
    clock_s = start_s  # the trace's clock
    session_s = 0.0  # the player's clock
    buffer_s = 0.0
    startup_s = 0.0
    prev_rung = -1
    last_latency_s = 0.0
    rows: list[dict[str, float]] = []
    for k in range(n_chunks):
        if k == 0 and initial_rung is not None:
            rung = min(initial_rung, len(bitrates_bps) - 1)
        else:
            oracle_bps = NAN
            if predictor is not None and predictor.wants_oracle:
                oracle_bps = would_measure(ptr, clock_s, sizes_bytes[k][max(prev_rung, 0)])
            rung = choose(k, buffer_s, prev_rung, session_s, oracle_bps, last_latency_s)
        size = sizes_bytes[k][rung]

        for i, shadow in enumerate(shadows):
            oracle_bps = would_measure(ptr, clock_s, size) if shadow.wants_oracle else NAN
            shadow_predictions[i].append(shadow.predict(session_s, oracle_bps))

        latency_s, download_s, ptr, clock_s, finished = request(ptr, clock_s, size)
        if not finished:
            return rows, L.STATUS_STALLED, startup_s, shadow_predictions
        delay_s = download_s + latency_s

        if k == 0 and not first_chunk_rebuffers:
            # Playback starts once the first chunk is in: its download is start-up delay.
            startup_s = delay_s
            rebuffer_s = 0.0
            buffer_s = durations_s[k]
        else:
            rebuffer_s = max(delay_s - buffer_s, 0.0)
            buffer_s = max(buffer_s - delay_s, 0.0)
            buffer_s += durations_s[k]

        # Sleep while the buffer is over the cap; the trace keeps running meanwhile.
        sleep_s = 0.0
        if buffer_s > buffer_cap_s:
            drain_buffer_s = buffer_s - buffer_cap_s
            if wait_quantum_s > 0.0:
                sleep_s = math.ceil(drain_buffer_s / wait_quantum_s) * wait_quantum_s
            else:
                sleep_s = drain_buffer_s
            buffer_s -= sleep_s
            ptr, clock_s = advance_clock(period_end_s, wrap_s, ptr, clock_s, sleep_s)

        measured_s = delay_s if throughput_includes_latency else download_s
        sample_bps = size * BITS_PER_BYTE / measured_s
        for learner in learners:
            learner.update(size, measured_s, latency_s, session_s + delay_s)
        rows.append({
            "rung": rung,
            "size_bytes": size,
            "latency_s": latency_s,
            "delay_s": delay_s,
            "buffer_s": buffer_s,
            "rebuffer_s": rebuffer_s,
            "wait_s": sleep_s,
            "throughput_bps": sample_bps,
            "request_s": session_s,
            "controller_wait_s": 0.0,  # the reference's controllers never ask to wait
        })
        session_s += delay_s + sleep_s
        prev_rung = rung
        last_latency_s = latency_s
    return rows, L.STATUS_COMPLETE, startup_s, shadow_predictions


_LOG_COLUMN_OF = {
    "rung": L.LOG_RUNG,
    "size_bytes": L.LOG_SIZE_BYTES,
    "latency_s": L.LOG_LATENCY_S,
    "delay_s": L.LOG_DELAY_S,
    "buffer_s": L.LOG_BUFFER_S,
    "rebuffer_s": L.LOG_REBUFFER_S,
    "wait_s": L.LOG_WAIT_S,
    "throughput_bps": L.LOG_THROUGHPUT_BPS,
    "request_s": L.LOG_REQUEST_S,
    "controller_wait_s": L.LOG_CTRL_WAIT_S,
}
CHUNK_FIELDS = tuple(_LOG_COLUMN_OF)


def run_session(trace, video, prof, ctrl_id, control, log, shadows, pgroup=None):
    """One session of ``session.run_batch``'s reference (``pgroup``, the kernel's compile group,
    is not needed here): the groups one job of the kernel unpacks (``abrkit._kernels.groups``: ``SessionTrace``,
    ``SessionVideo``, ``SessionControl``, ``SessionShadows`` or None); fills ``log[:n_done]``,
    updates the predictor states ``control.pred_state`` and ``shadows.state`` in place, writes
    ``shadows.pred_bps[i, k]``. Controllers MPC and BBA-1 are asked through
    ``reference_mpc.plan``, with the whole size table ``video.sizes_bytes`` (which may have
    more rows than ``video.n_chunks``).

    Returns (n_done, status, startup_s).
    """
    sizes_bytes, bitrates_bps, n_chunks = video.sizes_bytes, video.bitrates_bps, video.n_chunks
    durations_s = [float(d) for d in video.durations_s]
    cparams, pid, pparams = control.params, control.pred_id, control.pred_params
    initial = prof[L.PROF_INITIAL_RUNG]
    predictor = _PackedEstimator(pid, pparams, control.pred_state) if pid >= 0 else None
    watchers = [] if shadows is None else [
        _PackedEstimator(
            shadows.ids[i], shadows.params[i], shadows.state[int(shadows.offsets[i]):int(shadows.offsets[i + 1])]
        )
        for i in range(len(shadows.ids))
    ]

    def choose(k, buffer_s, prev_rung, now_s, oracle_bps, last_latency_s):
        est_bps = NAN if predictor is None else predictor.predict(now_s, oracle_bps)
        if ctrl_id in (L.CTRL_MPC, L.CTRL_BBA1):
            return plan(ctrl_id, cparams, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes, durations_s,
                        est_bps, last_latency_s, prof)
        return decide(ctrl_id, cparams, k, buffer_s, prev_rung, bitrates_bps, est_bps)

    rows, status, startup_s, shadow_predictions = _play(
        trace.end_s, trace.bw_bps, trace.lat_s, trace.start_s, trace.wrap_s,
        sizes_bytes, bitrates_bps, durations_s, n_chunks,
        **_profile_fields(prof),
        buffer_cap_s=prof[L.PROF_BUFFER_CAP_S],
        wait_quantum_s=prof[L.PROF_WAIT_QUANTUM_S],
        first_chunk_rebuffers=prof[L.PROF_FIRST_CHUNK_REBUFFERS] != 0.0,
        initial_rung=None if initial < 0.0 else int(initial),
        throughput_includes_latency=prof[L.PROF_THROUGHPUT_INCLUDES_LATENCY] != 0.0,
        choose=choose, predictor=predictor, shadows=watchers,
    )
    for k, row in enumerate(rows):
        for name, col in _LOG_COLUMN_OF.items():
            log[k, col] = row[name]
    for i, predictions in enumerate(shadow_predictions):
        for k, value in enumerate(predictions):
            shadows.pred_bps[i, k] = value
    return len(rows), status, startup_s


def run_batch(job_lo, job_hi, jobs, traces, videos, prof, ctrls, shadows, out, kind, pkind):
    """Reference of ``session.run_batch``, with the same groups (``abrkit._kernels.groups``;
    ``shadows`` may be None; ``kind``/``pkind``, the ids the kernel is compiled for, must be
    every job's controller and predictor compile groups): unpack each job's trace, video (its
    whole size table) and controller, give its predictor and the shadows fresh (zeroed) states,
    run it.

    With ``PROF_CARRY_ROBUST`` set, a RobustDiscount predictor keeps its own state (the values
    before its base's, ``ctrls.pred_params[c][2]`` of them: flag, last raw estimate, error ring)
    from the previous session of the same controller, kept in ``ctrls.pred_carry[c]``; its base
    starts fresh, as in Pensieve's mpc.py, whose error lists are globals and whose throughput
    history is reset with each video."""
    carry = prof[L.PROF_CARRY_ROBUST] != 0.0
    for j in range(job_lo, job_hi):
        t, v, c = int(jobs.trace[j]), int(jobs.video[j]), int(jobs.ctrl[j])
        ctrl_id, pid, pparams = int(ctrls.ids[c]), int(ctrls.pred_ids[c]), ctrls.pred_params[c]
        assert compile_group(ctrl_id) == kind and predictor_group(pid, pparams) == pkind, \
            "a job's ids differ from the kernel's"
        t_lo, t_hi = int(traces.offsets[t]), int(traces.offsets[t + 1])
        n_rungs, n_chunks = int(videos.n_rungs[v]), int(videos.n_chunks[v])
        first = int(videos.offsets[v])
        n_rows = (int(videos.offsets[v + 1]) - first) // n_rungs
        sizes = [
            [videos.sizes_bytes[first + k * n_rungs + r] for r in range(n_rungs)]
            for k in range(n_rows)
        ]
        ladder = [videos.ladder_bps[i] for i in range(int(videos.ladder_offsets[v]), int(videos.ladder_offsets[v + 1]))]
        out.log[j] = np.nan
        pstate = np.zeros(int(ctrls.pred_state_sizes[c]))
        own = int(pparams[2]) if carry and pid == L.PRED_ROBUST else 0
        for i in range(own):
            pstate[i] = ctrls.pred_carry[c][i]
        session_shadows = None
        if shadows is not None:
            shadows.pred_bps[j] = np.nan
            session_shadows = G.SessionShadows(
                shadows.ids, shadows.params, shadows.offsets, np.zeros(int(shadows.offsets[-1])), shadows.pred_bps[j]
            )
        out.n_done[j], out.status[j], out.startup_s[j] = run_session(
            G.SessionTrace(traces.end_s[t_lo:t_hi], traces.bw_bps[t_lo:t_hi], traces.lat_s[t_lo:t_hi],
                           traces.start_s[t], traces.wrap_s[t]),
            G.SessionVideo(sizes, ladder, videos.chunk_s[v], n_chunks,
                           videos.durations_s[int(videos.chunk_offsets[v]) : int(videos.chunk_offsets[v + 1])]),
            prof, ctrl_id, G.SessionControl(ctrls.params[c], pid, pparams, pstate,
                                                  ctrls.data[ctrls.data_offsets[c] : ctrls.data_offsets[c + 1]]), out.log[j], session_shadows,
        )
        for i in range(own):
            ctrls.pred_carry[c][i] = pstate[i]


# -- the public-object entry point ----------------------------------------------------------


def session_periods(trace: Trace, alignment: str):
    """(period_end_s, bandwidth_bps, latency_s, start_s, wrap_s) of ``trace`` read the way
    ``alignment`` says, as plain lists and floats.

    * ``"start"``: point i's bandwidth holds from ``time_s[i]`` to the next point (the last one
      to ``end_s``); the clock starts at ``time_s[0]`` and a finished trace starts over there.
    * ``"end"`` (Pensieve): point i's bandwidth holds over ``(time_s[i-1], time_s[i]]``, so
      point 0's is never used, and a finished trace starts over with the clock at 0.
    """
    times = [float(x) for x in trace.time_s]
    bws = [float(x) for x in trace.bandwidth_bps]
    lats = [0.0] * len(times) if trace.latency_s is None else [float(x) for x in trace.latency_s]
    if alignment == "start":
        ends = times[1:] + [float(trace.end_s)]
        return ends, bws, lats, times[0], times[0]
    if alignment == "end":
        return times[1:], bws[1:], lats[1:], times[0], 0.0
    raise ValueError(f"unknown trace alignment {alignment!r}")


def simulate_session(
    trace: Trace, video: Video, controller: Any, profile: Any = "default", shadow_predictors: Any = ()
) -> dict[str, Any]:
    """Simulate one session with the reference loop and the reference estimators.

    ``controller``: a controller object or spec string (``"rate:predictor=harmonic(window=3)"``);
    ``profile``: a :class:`~abrkit.Profile` or a profile name; ``shadow_predictors``: predictor
    specs that only watch. Returns a dict with one numpy array per logged quantity (``rung``,
    ``size_bytes``, ``latency_s``, ``delay_s``, ``buffer_s``, ``rebuffer_s``, ``wait_s``,
    ``throughput_bps``, ``request_s``; one entry per played chunk), ``status`` (``"complete"``,
    ``"stalled"`` or ``"no_bandwidth"``), ``startup_s`` and ``shadow_pred`` (shape (shadows,
    chunks played): each shadow's estimate before each played chunk).
    """
    ctrl = get_controller(controller)
    prof: Profile = get_profile(profile)
    ends, bws, lats, start_s, wrap_s = session_periods(trace, prof.trace_alignment)
    ladder = [float(b) for b in video.bitrates_bps]
    n_chunks = video.n_chunks if prof.max_chunks is None else min(video.n_chunks, prof.max_chunks)
    sizes = [[float(s) for s in row] for row in video.sizes_bytes[:n_chunks]]
    table = [[float(s) for s in row] for row in video.sizes_bytes]  # planners may look past n_chunks
    spec = ctrl.predictor_spec()
    predictor = None if spec is None else reference_predictor(spec)
    shadows = [reference_predictor(p) for p in shadow_predictors]
    rows, status, startup_s, shadow_predictions = _play(
        ends, bws, lats, start_s, wrap_s,
        sizes, ladder, [float(d) for d in video.chunk_durations_s()], n_chunks,
        rtt_s=prof.rtt_s,
        rtt_advances_clock=prof.rtt_advances_clock,
        efficiency=prof.payload_efficiency,
        buffer_cap_s=prof.buffer_cap_s,
        wait_quantum_s=prof.wait_quantum_s,
        first_chunk_rebuffers=prof.first_chunk_rebuffers,
        initial_rung=prof.initial_rung,
        max_download_s=prof.max_download_s,
        throughput_includes_latency=prof.throughput_includes_latency,
        choose=_chooser(ctrl, ladder, predictor, sizes_bytes=table, n_chunks=n_chunks,
                        durations_s=[float(d) for d in video.chunk_durations_s()], profile=prof),
        predictor=predictor,
        shadows=shadows,
    )
    out: dict[str, Any] = {
        name: np.array([row[name] for row in rows], dtype=np.int64 if name == "rung" else np.float64)
        for name in CHUNK_FIELDS
    }
    out["status"] = STATUS_NAMES[status]
    out["startup_s"] = float(startup_s)
    out["shadow_pred"] = np.array([p[: len(rows)] for p in shadow_predictions], dtype=np.float64).reshape(len(shadows), len(rows))
    return out


def common_predict(pid, p, s, now_s):
    """Reference of ``estimators.common_predict``: the run-time choice among none, last, mean
    and harmonic is that of ``pred_predict`` (NaN for ``PRED_NONE``)."""
    return NAN if pid < 0 else pred_predict(pid, p, s, now_s, NAN)


def common_learn(pid, p, s, size_bytes, time_s, latency_s, now_s):
    """Reference of ``estimators.common_learn`` (nothing for ``PRED_NONE``)."""
    if pid >= 0:
        pred_update(pid, p, s, size_bytes, time_s, latency_s, now_s)


#: Kernel (``"module.function"`` under ``abrkit._kernels``) -> reference with the same signature.
#: Every compiled function is listed, the private per-predictor helpers too: each one is
#: checked against its twin on random packed states (tests/test_simulate.py).
REFERENCES: dict[str, Callable[..., Any]] = {
    "predictors.ring_push": ring_push,
    "predictors.ring_recent": ring_recent,
    "predictors.ring_mean": ring_mean,
    "predictors.harmonic_mean_last": harmonic_mean_last,
    "predictors.pred_update": pred_update,
    "predictors.pred_predict": pred_predict,
    "predictors.pred_latency": pred_latency,
    "estimators.common_predict": common_predict,
    "estimators.common_learn": common_learn,
    "predictors.replay": replay,
    "predictors._harmonic": _harmonic,
    "predictors._base_predict": _base_predict,
    "predictors._robust_update": _robust_update,
    "predictors._plain_update": _plain_update,
    "predictors._dual_ewma_update": _dual_ewma_update,
    "predictors._dual_ewma_predict": _dual_ewma_predict,
    "predictors.sabre_window": _sabre_window,
    "predictors.sabre_ewma_update": _sabre_ewma_update,
    "predictors.sabre_ewma_read": _sabre_ewma_read,
    "predictors._exo_update": _exo_update,
    "predictors._exo_predict": _exo_predict,
    "predictors._kalman_update": _kalman_update,
    "predictors._kalman_predict": _kalman_predict,
    "controllers.bb_pensieve": bb_pensieve,
    "controllers.bba0": bba0,
    "controllers.highest_below": highest_below,
    "network.advance_clock": advance_clock,
    "network.transfer": transfer,
    "network.request_time": request_time,
    "network.measured_time": measured_time,
    "network.oracle_throughput": oracle_throughput,
    "session.run_batch": run_batch,
}

#: Kernels without a reference of their own, checked through the kernel that calls them.
COVERED_BY: dict[str, str] = {
    **{f"predictors.{name}": "predictors.pred_predict" for name in (
        "_predict_last", "_predict_mean", "_predict_harmonic", "_predict_puffer", "_predict_robust",
        "_predict_dual_ewma", "_predict_sabre_window", "_predict_sabre_ewma", "_predict_exo", "_predict_kalman",
        "_latency_sabre_window", "_latency_sabre_ewma",
    )},
    **{f"predictors.{name}": "predictors.pred_update" for name in (
        "_update_rate_ring", "_update_puffer", "_update_dual_ewma", "sabre_window_update", "_update_sabre_ewma",
        "_update_exo", "_update_kalman",
    )},
    "predictors._robust_error": "predictors.pred_update",
    "session.shadow_predict": "session.run_batch",
    "session.shadow_update": "session.run_batch",
    "session.has_bandwidth": "session.run_batch",
}
