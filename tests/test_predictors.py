"""Throughput predictors: golden values worked out by hand, kernels against the reference
estimators written from the players' own code, hypothesis properties, bad input, spec parsing,
and every predictor driving a rate-based controller in a simulated session.

Units throughout: bytes, seconds, bits per second. A download ``(size_bytes, time_s)`` is the
sample ``8 * size_bytes / time_s``.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference
from strategies import predictor_specs
from abrkit import ParameterError, Profile, RateBased, Trace, Video, simulate
from abrkit._kernels import layout as L
from abrkit._kernels.predictors import pred_latency, pred_predict, pred_update
from abrkit.predictors import (
    PREDICTORS,
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
    replay_predictor,
)

NAN = float("nan")


# -- helpers -------------------------------------------------------------------------------------


def _downloads(rows):
    """(size, time, latency, now) arrays from rows ``(size, time[, latency])``; the session clock
    at each download's end runs on with no idle time in between."""
    size = np.array([r[0] for r in rows], dtype=np.float64)
    time_s = np.array([r[1] for r in rows], dtype=np.float64)
    lat = np.array([r[2] if len(r) > 2 else 0.0 for r in rows], dtype=np.float64)
    return size, time_s, lat, np.cumsum(time_s + lat)


def kernel_estimate(spec: Predictor, rows, now_s=None) -> float:
    """The kernels' estimate after the downloads ``rows`` (at ``now_s``, default: the end of the
    last one)."""
    pid, p, n_state = spec.pack()
    s = np.zeros(n_state)
    size, time_s, lat, now = _downloads(rows)
    for i in range(size.size):
        pred_update(pid, p, s, size[i], time_s[i], lat[i], now[i])
    return pred_predict(pid, p, s, float(now[-1]) if now_s is None and rows else (now_s or 0.0), NAN)


def reference_estimate(spec: Predictor, rows, now_s=None) -> float:
    est = reference.reference_predictor(spec)
    size, time_s, lat, now = _downloads(rows)
    for i in range(size.size):
        est.update(size[i], time_s[i], lat[i], now[i])
    return est.predict(float(now[-1]) if now_s is None and rows else (now_s or 0.0))


def estimates(spec, rows, now_s=None) -> tuple[float, float]:
    """(kernel, reference) estimates after ``rows``."""
    return kernel_estimate(spec, rows, now_s), reference_estimate(spec, rows, now_s)


def both_equal(spec, rows, expected, rel=1e-12, now_s=None) -> None:
    got_kernel, got_reference = estimates(spec, rows, now_s)
    assert got_kernel == pytest.approx(expected, rel=rel, nan_ok=True), "kernel"
    assert got_reference == pytest.approx(expected, rel=rel, nan_ok=True), "reference"


MBIT = 1e6
# 1, 2 and 4 Mbit/s over one second each.
ONE_TWO_FOUR = [(125_000, 1.0), (250_000, 1.0), (500_000, 1.0)]


# -- golden values, by hand -------------------------------------------------------------------------


def test_no_estimate_before_the_first_sample():
    for spec in (LastSample(), Mean(), HarmonicMean(), PufferMean(), RobustDiscount(), Ewma(), DualEwma(),
                 DualEwma.dashjs(), SlidingWindow(), SabreEwma(), SlidingPercentile(default_bps=None), KalmanLog()):
        both_equal(spec, [], NAN)
    # ... except where the player starts from a default.
    both_equal(DualEwma.shaka(), [], 1e6)
    both_equal(DualEwma.hlsjs(), [], 5e5)
    both_equal(SlidingPercentile(), [], 1e6)


def test_last_mean_harmonic_puffer_golden():
    both_equal(LastSample(), ONE_TWO_FOUR, 4 * MBIT)
    both_equal(Mean(2), ONE_TWO_FOUR, 3 * MBIT)  # (2 + 4) / 2
    both_equal(Mean(5), ONE_TWO_FOUR, 7 / 3 * MBIT)  # fewer samples than the window: all three
    both_equal(HarmonicMean(3), ONE_TWO_FOUR, 12 / 7 * MBIT)  # 3 / (1 + 1/2 + 1/4)
    both_equal(HarmonicMean(2), ONE_TWO_FOUR, 8 / 3 * MBIT)  # 2 / (1/2 + 1/4)
    both_equal(HarmonicMean(1), ONE_TWO_FOUR, 4 * MBIT)
    # Puffer: 1 MB in 2 s (4 Mbit/s, 2e-6 s/B) and 1 MB in 8 s (1 Mbit/s, 8e-6 s/B):
    # mean 5e-6 s/B -> 8 / 5e-6 = 1.6 Mbit/s (= the harmonic mean 2 / (1/4 + 1/1)).
    both_equal(PufferMean(5), [(1e6, 2.0), (1e6, 8.0)], 1.6 * MBIT)
    both_equal(PufferMean(1), [(1e6, 2.0), (1e6, 8.0)], 1.0 * MBIT)


@pytest.mark.parametrize(
    "rows, window, expected",
    [
        # 1, 2, 4 Mbit/s. Errors |previous raw estimate - sample| / sample: 0 (no estimate yet),
        # |1 - 2|/2 = 1/2, |4/3 - 4|/4 = 2/3; raw harmonic estimate 12/7 -> 12/7 / (1 + 2/3).
        (ONE_TWO_FOUR, 5, 36 / 35 * MBIT),
        # 1, 4, 4 Mbit/s: errors 0, |1 - 4|/4 = 3/4, |1.6 - 4|/4 = 0.6; raw 3 / (1 + 1/4 + 1/4) = 2.
        ([(125_000, 1.0), (500_000, 1.0), (500_000, 1.0)], 5, 2 / 1.75 * MBIT),  # max error 3/4
        ([(125_000, 1.0), (500_000, 1.0), (500_000, 1.0)], 1, 2 / 1.6 * MBIT),  # only the last: 0.6
        ([(125_000, 1.0)], 5, 1 * MBIT),  # one sample: error 0, no discount
    ],
)
def test_robust_discount_golden(rows, window, expected):
    both_equal(RobustDiscount(HarmonicMean(5), window), rows, expected)


def test_robust_discount_over_another_base():
    # Base = the last sample: 1, 2, 4 Mbit/s -> errors 0, |1 - 2|/2, |2 - 4|/4 -> 4 / 1.5.
    both_equal(RobustDiscount(LastSample(), 5), ONE_TWO_FOUR, 4 / 1.5 * MBIT)


# The Shaka vector: 500 bit/s for 2 s, then 250 bit/s for 4 s (125 bytes each).
# Fast (half-life 2 s): 250 after the first (a = 0.5), then a = 0.5^2 = 0.25:
#   0.75 * 250 + 0.25 * 250 = 250; zero-bias factor 1 - 0.5^(6/2) = 0.875 -> 285.714.
# Slow (5 s): a = 0.5^0.4 = 0.757858 -> 121.071; a = 0.5^0.8 = 0.574349 ->
#   0.425651 * 250 + 0.574349 * 121.071 = 175.950; factor 1 - 0.5^1.2 = 0.564725 -> 311.567.
SHAKA_ROWS = [(125, 2.0), (125, 4.0)]


def test_ewma_core_golden_shaka_vector():
    both_equal(Ewma(2.0), SHAKA_ROWS, 285.714, rel=2e-6)
    both_equal(Ewma(2.0), SHAKA_ROWS, 2000 / 7)
    both_equal(Ewma(5.0), SHAKA_ROWS, 311.567, rel=2e-6)
    both_equal(DualEwma(2.0, 5.0), SHAKA_ROWS, 285.714, rel=2e-6)  # the smaller one
    both_equal(DualEwma(5.0, 2.0), SHAKA_ROWS, 2000 / 7)  # order of the half-lives does not matter


def test_shaka_preset_golden_with_realistic_bytes():
    # The same rates in kbit/s: 125 000 bytes each (over Shaka's 16 kB floor). After the first
    # only 125 000 bytes are in, under the 128 kB needed: the 1 Mbit/s default stays.
    rows = [(125_000, 2.0), (125_000, 4.0)]
    both_equal(DualEwma.shaka(), rows[:1], 1e6)
    both_equal(DualEwma.shaka(), rows, 285_714.2857142857, rel=1e-9)
    # A 10 kB sample (under 16 kB) is ignored outright: nothing changes.
    both_equal(DualEwma.shaka(), rows + [(10_000, 0.001)], 285_714.2857142857, rel=1e-9)
    # Tiny byte counts never reach the thresholds: the default throughout.
    both_equal(DualEwma.shaka(), SHAKA_ROWS, 1e6)


def test_dashjs4_preset_golden():
    # 500 kbit/s for 2 s, 250 kbit/s for 4 s; weight = download time in s (dash.js 4:
    # 0.001 * downloadTimeInMilliseconds); half-lives 3 s and 8 s; safety 0.9.
    # Fast: a = 0.5^(2/3) = 0.629961 -> 185 019.7; a = 0.5^(4/3) = 0.396850 -> 224 212.6;
    #       / (1 - 0.5^2) = 298 950.1.
    # Slow: a = 0.5^(1/4) = 0.840896 -> 79 551.8; a = 0.5^(1/2) = 0.707107 -> 129 474.9;
    #       / (1 - 0.5^0.75) = 319 378.5.
    # 0.9 x min = 269 055.08.
    rows = [(125_000, 2.0), (250_000 * 4 / 8, 4.0)]
    both_equal(DualEwma.dashjs4(), rows, 269_055.078897615, rel=1e-9)
    both_equal(DualEwma(3.0, 8.0), rows, 298_950.0876640167, rel=1e-9)  # no safety factor


def test_dashjs5_preset_golden():
    # The same downloads under dash.js 5: weight = 0.0015 x download time in ms, so 3 and 6.
    # Fast (half-life 3): a = 0.5^1 -> 250 000; a = 0.5^2 -> 0.75 x 250 000 + 0.25 x 250 000
    #       = 250 000; / (1 - 0.5^(9/3)) = 2e6/7 = 285 714.3.
    # Slow (half-life 8): a = 0.5^(3/8) = 0.771105 -> 114 447.6; a = 0.5^(6/8) = 0.594604 ->
    #       169 400.0; / (1 - 0.5^(9/8)) = 312 836.2.
    # 0.9 x min = 1.8e6/7 = 257 142.857 (dash.js 4: 269 055.1).
    rows = [(125_000, 2.0), (250_000 * 4 / 8, 4.0)]
    both_equal(DualEwma.dashjs5(), rows, 1.8e6 / 7, rel=1e-12)
    both_equal(DualEwma.dashjs(), rows, 1.8e6 / 7, rel=1e-12)  # today's dash.js is 5
    both_equal(DualEwma(3.0, 8.0, weight_per_s=1.5), rows, 2e6 / 7, rel=1e-12)
    # One sample: every zero-bias corrected EWMA equals it, whatever the weight.
    both_equal(DualEwma.dashjs5(), rows[:1], 0.9 * 500_000, rel=1e-12)


def test_dashjs5_and_dashjs4_differ():
    # A slow download after fast ones: dash.js 5's heavier weight lets the estimate fall further.
    rows = [(500_000, 1.0)] * 4 + [(125_000, 4.0)]
    five, four = kernel_estimate(DualEwma.dashjs5(), rows), kernel_estimate(DualEwma.dashjs4(), rows)
    assert five < four
    assert reference_estimate(DualEwma.dashjs5(), rows) == pytest.approx(five, rel=1e-12)
    assert reference_estimate(DualEwma.dashjs4(), rows) == pytest.approx(four, rel=1e-12)


def test_hlsjs_preset_golden():
    # A 10 ms download of 1250 bytes is floored to 50 ms: 200 kbit/s, not 1 Mbit/s. With one
    # sample every zero-bias corrected EWMA equals it.
    both_equal(DualEwma.hlsjs(), [(1250, 0.01)], 200_000.0, rel=1e-12)
    # Then 1 Mbit/s for 2 s. Fast (3 s): a = 0.5^(0.05/3) = 0.988514 -> 2 297.2; a = 0.5^(2/3)
    # -> 371 486.7; / (1 - 0.5^(2.05/3)) = 984 656.9. Slow (9 s): ... / (1 - 0.5^(2.05/9))
    # = 981 952.9, the smaller.
    both_equal(DualEwma.hlsjs(), [(1250, 0.01), (250_000, 2.0)], 981_952.8909689973, rel=1e-9)


def test_sabre_sliding_window_golden():
    rows = [(125_000, 1.0, 0.1), (250_000, 1.0, 0.2), (500_000, 1.0, 0.3), (1_000_000, 1.0, 0.05)]  # 1, 2, 4, 8
    both_equal(SlidingWindow(), rows, 14 / 3 * MBIT)  # window 3: (2 + 4 + 8) / 3
    # Windows 2 and 4: means 6 and 3.75; the lower wins.
    both_equal(SlidingWindow((2, 4)), rows, 3.75 * MBIT)
    both_equal(SlidingWindow((4, 2)), rows, 3.75 * MBIT)
    # Latency: means of the last 2 and 4 are 0.175 and 0.1625; the higher wins.
    assert _kernel_latency(SlidingWindow((2, 4)), rows) == pytest.approx(0.175, rel=1e-12)
    assert _reference_latency(SlidingWindow((2, 4)), rows) == pytest.approx(0.175, rel=1e-12)


def test_sabre_ewma_golden():
    # 1 Mbit/s for 2 s, then 2 Mbit/s for 1 s; half-lives 8 s and 3 s (Sabre's defaults).
    # 8 s: a = 0.5^(2/8) -> 159 103.6; a = 0.5^(1/8) -> 311 891; / (1 - 0.5^(3/8)) = 1 362 594.7
    # 3 s: a = 0.5^(2/3) -> 370 039.5; a = 0.5^(1/3) -> 706 299.5; / (1 - 0.5) = 1 412 599.0
    rows = [(250_000, 2.0, 0.1), (250_000, 1.0, 0.3)]
    both_equal(SabreEwma(), rows, 1_362_594.6675968796, rel=1e-9)
    # Latency: weight one per sample, half-lives 8/3 and 3/3 segments.
    # 8/3: a = 0.5^(3/8) = 0.771105 -> 0.0228895 -> 0.0863192; / (1 - 0.5^(2 / (8/3))) = 0.212924
    # 1:   a = 0.5 -> 0.05 -> 0.175; / (1 - 0.25) = 0.233333: the higher.
    assert _kernel_latency(SabreEwma(), rows) == pytest.approx(0.7 / 3, rel=1e-12)
    assert _reference_latency(SabreEwma(), rows) == pytest.approx(0.7 / 3, rel=1e-12)
    assert _kernel_latency(SabreEwma((8.0,)), rows) == pytest.approx(0.21292382630950088, rel=1e-12)


def _kernel_latency(spec, rows):
    pid, p, n_state = spec.pack()
    s = np.zeros(n_state)
    size, time_s, lat, now = _downloads(rows)
    for i in range(size.size):
        pred_update(pid, p, s, size[i], time_s[i], lat[i], now[i])
    return pred_latency(pid, p, s)


def _reference_latency(spec, rows):
    est = reference.reference_predictor(spec)
    size, time_s, lat, now = _downloads(rows)
    for i in range(size.size):
        est.update(size[i], time_s[i], lat[i], now[i])
    return est.latency()


def test_latency_is_nan_for_estimators_without_one():
    for spec in (HarmonicMean(), DualEwma.dashjs(), SlidingPercentile(), KalmanLog(), RobustDiscount()):
        assert math.isnan(_kernel_latency(spec, ONE_TWO_FOUR))
    assert math.isnan(_kernel_latency(SlidingWindow(), []))


# ExoPlayer: weights floor(sqrt(bytes)).
#   A: 1 000 000 B in 2 s = 4 Mbit/s, weight 1000;  B: 250 000 B in 1 s = 2 Mbit/s, weight 500;
#   C: 640 000 B in 1 s = 5.12 Mbit/s, weight 800. Total 2300 > 2000: A is trimmed to 700.
#   By value: B (500), A (700), C (800); cumulative 500, 1200, 2000.
EXO_ROWS = [(1_000_000, 2.0), (250_000, 1.0), (640_000, 1.0)]


@pytest.mark.parametrize(
    "percentile, expected",
    [
        (0.5, 4e6),  # desired weight 1000: B (500) is short, A (1200) reaches it
        (0.2, 2e6),  # 400: B
        (0.25, 2e6),  # 500: B exactly (>=)
        (0.6, 4e6),  # 1200: A exactly
        (0.61, 5.12e6),  # 1220: C
        (1.0, 5.12e6),
        (0.0, 2e6),  # the lowest
    ],
)
def test_exoplayer_sliding_percentile_golden(percentile, expected):
    both_equal(SlidingPercentile(percentile=percentile), EXO_ROWS, expected)


def test_exoplayer_trimming_and_thresholds():
    # Without trimming (max weight 10 000) the median of 500, 1000, 800 by value is A.
    both_equal(SlidingPercentile(max_weight=10_000.0, percentile=0.7), EXO_ROWS, 5.12e6)  # 0.7 x 2300 = 1610 > 1500
    # A alone: 2 s of transfer reaches ELAPSED_MILLIS_FOR_ESTIMATE: its own value.
    both_equal(SlidingPercentile(), EXO_ROWS[:1], 4e6)
    # 100 kB in 0.5 s twice: 1 s and 200 kB, neither threshold (2 s, 512 KiB): the default.
    small = [(100_000, 0.5), (100_000, 0.5)]
    both_equal(SlidingPercentile(), small, 1e6)
    both_equal(SlidingPercentile(default_bps=None), small, NAN)
    # 400 kB in 0.4 s more: 600 kB >= 512 KiB. Weights 316, 316, 632 (1.6, 1.6, 8 Mbit/s);
    # the median's desired weight 632 is reached by the two 1.6 Mbit/s samples.
    both_equal(SlidingPercentile(), small + [(400_000, 0.4)], 1.6e6)
    # A heavier trim: max weight 1000 leaves C (800) and 200 of B: the median is C.
    both_equal(SlidingPercentile(max_weight=1000.0), EXO_ROWS, 5.12e6)


def test_kalman_golden():
    z10 = -1.2815515655446004  # the normal 10 % quantile
    k = dict(process_var_per_s=0.01, measurement_var=0.1, initial_var=1.0)  # round numbers for hand arithmetic
    first = [(125_000, 1.0)]  # 1 Mbit/s, ending at t = 1 s: level ln(1e6), variance 1.0 (initial)
    # At t = 3 s: variance 1.0 + 0.01 x 2 s + 0.1 = 1.12.
    both_equal(KalmanLog(**k), first, 1e6, now_s=3.0)  # the median is exp(level)
    both_equal(KalmanLog(quantile=0.1, **k), first, 1e6 * math.exp(z10 * math.sqrt(1.12)), now_s=3.0)  # 257 620.8
    both_equal(KalmanLog(quantile=0.9, **k), first, 1e6 * math.exp(-z10 * math.sqrt(1.12)), now_s=3.0)
    # A second sample, 4 Mbit/s ending at t = 2 s: prior variance 1.0 + 0.01 = 1.01, gain
    # 1.01 / 1.11; level ln(1e6) + gain ln 4; variance (1 - gain) 1.01.
    rows = first + [(500_000, 1.0)]
    gain = 1.01 / 1.11
    both_equal(KalmanLog(**k), rows, 1e6 * 4**gain)  # 3 530 371
    spread = math.sqrt((1 - gain) * 1.01 + 0.1)
    both_equal(KalmanLog(quantile=0.9, **k), rows, 1e6 * 4**gain * math.exp(-z10 * spread))  # 6 180 958
    # Other parameters: no process noise, initial variance 0: the level never moves.
    both_equal(KalmanLog(process_var_per_s=0.0, measurement_var=0.1, initial_var=0.0), rows, 1e6)


def test_oracle_knows_the_next_download_before_it_starts():
    # A constant 3.5 Mbit/s link: the oracle's estimate is exact from chunk 0 on, so the rate
    # rule starts at 2850 kbps, where the harmonic mean has nothing yet and starts at 300.
    video = Video.constant_bitrate([300, 750, 1200, 1850, 2850, 4300], 4.0, 6)
    trace = Trace.constant(3.5e6, name="steady")
    oracle = simulate(trace, video, RateBased(predictor=Oracle(), safety=1.0), "default")
    assert oracle.rung.tolist() == [4] * 6
    harmonic = simulate(trace, video, RateBased(safety=1.0), "default")
    assert harmonic.rung.tolist() == [0, 4, 4, 4, 4, 4]
    np.testing.assert_allclose(oracle.throughput_bps, 3.5e6, rtol=1e-12)


def test_oracle_sees_a_drop_the_others_do_not():
    # 4 Mbit/s for 8 s, then 0.5 Mbit/s; 2 s CBR chunks of 250, 1000, 2000 kbps. At rung 2 each
    # chunk (500 kB) takes exactly 1 s, so chunks 0-7 fill the fast 8 s. Chunk 8 is requested
    # at t = 8 s: the oracle measures chunk 8 at the previous rung (8 s, 0.5 Mbit/s) and steps
    # down to 250 kbps; the last sample (4 Mbit/s) keeps rung 2 and runs into the slow link.
    video = Video.constant_bitrate([250, 1000, 2000], 2.0, 12)
    trace = Trace(np.array([0.0, 8.0]), np.array([4e6, 0.5e6]), end_s=1000.0, name="drop")
    oracle = simulate(trace, video, RateBased(predictor=Oracle(), safety=1.0), "default")
    assert oracle.rung.tolist() == [2] * 8 + [0] * 4
    np.testing.assert_allclose(oracle.request_s[:9], np.arange(9.0), rtol=1e-12)
    assert np.all(video.bitrates_bps[oracle.rung] <= oracle.throughput_bps)  # never above what it got
    last = simulate(trace, video, RateBased(predictor=LastSample(), safety=1.0), "default")
    assert np.any((last.rung == 2) & (last.throughput_bps < 1e6))  # ran into the drop at the top rung
    ref = reference.simulate_session(trace, video, RateBased(predictor=Oracle(), safety=1.0), "default")
    np.testing.assert_array_equal(oracle.rung, ref["rung"])


# -- kernels against the reference estimators, on random download sequences -----------------------


@st.composite
def download_sequences(draw, min_size=0, max_size=30, min_bytes=1.0):
    """(size, time, latency, now) arrays: small and large chunks, short and long downloads,
    idle gaps between them."""
    n = draw(st.integers(min_size, max_size))
    size = draw(st.lists(st.floats(min_bytes, 3e4) | st.floats(1e4, 3e6), min_size=n, max_size=n))
    time_s = draw(st.lists(st.floats(1e-3, 20.0), min_size=n, max_size=n))
    lat = draw(st.lists(st.just(0.0) | st.floats(0.0, 0.5), min_size=n, max_size=n))
    gaps = draw(st.lists(st.just(0.0) | st.floats(0.0, 5.0), min_size=n, max_size=n))
    arr = lambda x: np.array(x, dtype=np.float64)  # noqa: E731
    size, time_s, lat = arr(size), arr(time_s), arr(lat)
    return size, time_s, lat, np.cumsum(time_s + lat + arr(gaps))


@settings(max_examples=300)
@given(spec=predictor_specs(), seq=download_sequences(min_size=1))
def test_replay_matches_the_reference_estimators(spec, seq):
    size, time_s, lat, now = seq
    got = replay_predictor(spec, size, time_s, lat, now)
    want = reference.replay_reference(spec, size, time_s, lat, now)
    # Shaka and hls.js raise exp(ln 0.5 / h) to the weight, dash.js converts to milliseconds and
    # back: the same numbers as the kernel's 0.5 ** (t / h) to a few ulps.
    np.testing.assert_allclose(got, want, rtol=1e-9, equal_nan=True, err_msg=spec.name)


@settings(max_examples=100)
@given(spec=st.sampled_from([SlidingWindow(), SlidingWindow((2, 5, 8)), SabreEwma(), SabreEwma((1.0, 4.0, 9.0), 2.0)]),
       seq=download_sequences(min_size=1))
def test_sabre_latency_matches_the_reference(spec, seq):
    size, time_s, lat, now = seq
    pid, p, n_state = spec.pack()
    s = np.zeros(n_state)
    est = reference.reference_predictor(spec)
    for i in range(size.size):
        pred_update(pid, p, s, size[i], time_s[i], lat[i], now[i])
        est.update(size[i], time_s[i], lat[i], now[i])
        assert pred_latency(pid, p, s) == pytest.approx(est.latency(), rel=1e-12, abs=1e-15)
        assert min(lat[: i + 1]) - 1e-15 <= pred_latency(pid, p, s) <= max(lat[: i + 1]) + 1e-15


def test_replay_defaults_latency_zero_and_the_clock_to_the_running_sum():
    size, time_s, _, _ = _downloads(ONE_TWO_FOUR)
    for spec in (KalmanLog(quantile=0.2), SlidingWindow(), HarmonicMean()):
        np.testing.assert_array_equal(
            replay_predictor(spec, size, time_s), replay_predictor(spec, size, time_s, np.zeros(3), np.cumsum(time_s))
        )
    np.testing.assert_allclose(replay_predictor("harmonic:window=3", size, time_s), [NAN, 1e6, 4e6 / 3], equal_nan=True)
    assert replay_predictor(LastSample(), [1000.0], [1.0]).dtype == np.float64


# -- properties ------------------------------------------------------------------------------------


def averaging_specs():
    """Estimators whose every estimate is an average (or a percentile) of samples seen."""
    window = st.integers(1, 8)
    half_life = st.floats(0.3, 10.0)
    return st.one_of(
        st.just(LastSample()),
        st.builds(Mean, window=window),
        st.builds(HarmonicMean, window=window),
        st.builds(PufferMean, window=window),
        st.builds(Ewma, half_life_s=half_life),
        st.builds(DualEwma, fast_half_life_s=half_life, slow_half_life_s=half_life),  # no safety, no default
        st.builds(SlidingWindow, windows=st.lists(window, min_size=1, max_size=4).map(tuple)),
        st.builds(SabreEwma, half_lives_s=st.lists(half_life, min_size=1, max_size=4).map(tuple), segment_s=st.floats(0.5, 6.0)),
        st.builds(SlidingPercentile, max_weight=st.floats(1.0, 3000.0), percentile=st.floats(0.0, 1.0),
                  default_bps=st.none(), min_elapsed_s=st.just(0.0), min_bytes=st.just(0.0)),
        # The median of a Kalman filter on log throughput: exp of a convex combination of logs.
        st.builds(KalmanLog, process_var_per_s=st.floats(0.0, 0.2), measurement_var=st.floats(0.01, 1.0),
                  initial_var=st.floats(0.0, 2.0)),
    )


@settings(max_examples=200)
@given(spec=averaging_specs(), seq=download_sequences(min_size=2))
def test_averaging_estimates_stay_within_the_samples_seen(spec, seq):
    size, time_s, lat, now = seq
    out = replay_predictor(spec, size, time_s, lat, now)
    samples = 8.0 * size / time_s
    assert math.isnan(out[0])
    for i in range(1, size.size):
        lo, hi = samples[:i].min(), samples[:i].max()
        assert lo * (1 - 1e-12) <= out[i] <= hi * (1 + 1e-12), (spec.name, i, out[i], lo, hi)


def _scaled(spec, seq, factor):
    """``seq`` with every throughput multiplied by ``factor``: bytes scaled where weights follow
    the download time, times scaled (by 1 / factor) where weights follow the bytes."""
    size, time_s, lat, now = seq
    if isinstance(getattr(spec, "base", spec), SlidingPercentile):
        return size, time_s / factor, lat, now
    return size * factor, time_s, lat, now


def scalable_specs():
    window = st.integers(1, 8)
    half_life = st.floats(0.3, 10.0)
    plain = st.one_of(
        st.just(LastSample()),
        st.builds(Mean, window=window),
        st.builds(HarmonicMean, window=window),
        st.builds(PufferMean, window=window),
        st.builds(Ewma, half_life_s=half_life),
        st.builds(DualEwma, fast_half_life_s=half_life, slow_half_life_s=half_life, safety=st.floats(0.5, 1.0),
                  min_sample_s=st.just(0.0)),
        st.just(DualEwma.dashjs()),
        st.builds(SlidingWindow, windows=st.lists(window, min_size=1, max_size=4).map(tuple)),
        st.builds(SabreEwma, half_lives_s=st.lists(half_life, min_size=1, max_size=4).map(tuple), segment_s=st.floats(0.5, 6.0)),
        # Thresholds on bytes only (the bytes do not change when the times are scaled).
        st.builds(SlidingPercentile, percentile=st.floats(0.0, 1.0), default_bps=st.none(), min_elapsed_s=st.just(1e9),
                  min_bytes=st.floats(0.0, 1e6)),
        st.builds(KalmanLog, quantile=st.floats(0.05, 0.95), process_var_per_s=st.floats(0.0, 0.2),
                  measurement_var=st.floats(0.01, 1.0), initial_var=st.floats(0.0, 2.0)),
    )
    return st.one_of(plain, st.builds(RobustDiscount, base=plain, window=window))


@settings(max_examples=200)
@given(spec=scalable_specs(), seq=download_sequences(min_size=1), factor=st.floats(0.01, 100.0))
def test_estimates_scale_linearly_with_the_samples(spec, seq, factor):
    base = replay_predictor(spec, *seq)
    scaled = replay_predictor(spec, *_scaled(spec, seq, factor))
    np.testing.assert_allclose(scaled, factor * base, rtol=1e-9, equal_nan=True, err_msg=spec.name)


@settings(max_examples=200)
@given(
    spec=st.one_of(
        st.builds(Mean, window=st.integers(1, 8)),
        st.builds(HarmonicMean, window=st.integers(1, 8)),
        st.builds(PufferMean, window=st.integers(1, 8)),
        st.builds(SlidingWindow, windows=st.integers(1, 8).map(lambda w: (w,))),
    ),
    seq=download_sequences(min_size=1, max_size=20),
    data=st.data(),
)
def test_window_estimators_ignore_order_within_the_window(spec, seq, data):
    size, time_s, lat, now = seq
    w = spec.windows[0] if isinstance(spec, SlidingWindow) else spec.window
    tail = min(w, size.size)
    perm = np.concatenate([np.arange(size.size - tail), size.size - tail + np.array(data.draw(st.permutations(range(tail))))])
    got = kernel_estimate(spec, list(zip(size, time_s, lat)))
    shuffled = kernel_estimate(spec, list(zip(size[perm], time_s[perm], lat[perm])))
    assert shuffled == pytest.approx(got, rel=1e-12)


@settings(max_examples=200)
@given(seq=download_sequences(min_size=1, max_size=10, min_bytes=1.0), percentile=st.floats(0.0, 1.0), data=st.data())
def test_exoplayer_percentile_ignores_order_when_nothing_is_trimmed(seq, percentile, data):
    size, time_s, lat, _ = seq
    size = np.minimum(size, 40_000.0)  # weights <= 200 each, <= 2000 in all: no trimming
    spec = SlidingPercentile(percentile=percentile, default_bps=None, min_elapsed_s=0.0, min_bytes=0.0)
    perm = np.array(data.draw(st.permutations(range(size.size))))
    got = kernel_estimate(spec, list(zip(size, time_s, lat)))
    assert kernel_estimate(spec, list(zip(size[perm], time_s[perm], lat[perm]))) == got
    assert reference_estimate(spec, list(zip(size[perm], time_s[perm], lat[perm]))) == got


@settings(max_examples=100)
@given(seq=download_sequences(min_size=1), window=st.integers(1, 8))
def test_puffer_is_the_harmonic_mean_of_the_chunk_throughputs(seq, window):
    np.testing.assert_allclose(
        replay_predictor(PufferMean(window), *seq), replay_predictor(HarmonicMean(window), *seq), rtol=1e-12, equal_nan=True
    )


@settings(max_examples=100)
@given(seq=download_sequences(min_size=1), half_life=st.floats(0.3, 10.0))
def test_one_ewma_is_a_dual_ewma_with_equal_half_lives(seq, half_life):
    np.testing.assert_array_equal(replay_predictor(Ewma(half_life), *seq), replay_predictor(DualEwma(half_life, half_life), *seq))


@settings(max_examples=100)
@given(seq=download_sequences(min_size=1), weight=st.floats(0.1, 10.0), fast=st.floats(0.3, 10.0), slow=st.floats(0.3, 10.0))
def test_weight_per_s_scales_the_half_lives(seq, weight, fast, slow):
    # Weighing every sample by c x t is the same EWMA as weight t with half-lives / c.
    np.testing.assert_allclose(
        replay_predictor(DualEwma(fast, slow, weight_per_s=weight), *seq),
        replay_predictor(DualEwma(fast / weight, slow / weight), *seq),
        rtol=1e-9, equal_nan=True,
    )


@numba.njit(cache=False)
def _dashjs4_before_the_weight(size, time_s, out):
    # The dual-EWMA update and read-out as the kernels computed them before ``weight_per_s``
    # (weight = t), with the dash.js 4 preset's constants, compiled the same way.
    fast = slow = total = 0.0
    for i in range(size.size):
        if total <= 0.0:
            out[i] = np.nan
        else:
            out[i] = min(fast / (1.0 - 0.5 ** (total / 3.0)), slow / (1.0 - 0.5 ** (total / 8.0))) * 0.9
        t = max(time_s[i], 0.0)
        x = size[i] * 8.0 / t
        a_fast = 0.5 ** (t / 3.0)
        a_slow = 0.5 ** (t / 8.0)
        fast = (1.0 - a_fast) * x + a_fast * fast
        slow = (1.0 - a_slow) * x + a_slow * slow
        total += t


@settings(max_examples=100)
@given(seq=download_sequences(min_size=1))
def test_dashjs4_is_bit_identical_to_the_weight_free_formula(seq):
    # dash.js 4 must not move by one bit: weight = t x 1.0 is t exactly.
    size, time_s, _, _ = seq
    want = np.empty(size.size)
    _dashjs4_before_the_weight(size, time_s, want)
    np.testing.assert_array_equal(replay_predictor(DualEwma.dashjs4(), *seq), want)


@settings(max_examples=150)
@given(
    seq=download_sequences(min_size=1),
    q=st.just(0.0) | st.floats(1e-4, 0.2), r=st.floats(0.01, 1.0), p0=st.floats(0.0, 2.0), idle=st.floats(0.0, 30.0),
)
def test_kalman_quantiles_are_ordered(seq, q, r, p0, idle):
    size, time_s, lat, now = seq
    rows = list(zip(size, time_s, lat))
    at = float(now[-1]) + idle
    low, mid, high = (
        kernel_estimate(KalmanLog(quantile, q, r, p0), rows, now_s=at) for quantile in (0.1, 0.5, 0.9)
    )
    assert low <= mid <= high
    assert low < mid < high  # measurement noise > 0: a real spread
    # ... and it widens while the player idles (process noise grows with the clock).
    if q > 0 and idle > 0:
        assert kernel_estimate(KalmanLog(0.1, q, r, p0), rows, now_s=at + 10.0) < low


@settings(max_examples=200)
@given(spec=predictor_specs(presets=True, robust=False, kalman=False), window=st.integers(1, 8), seq=download_sequences(min_size=1))
def test_robust_discount_never_exceeds_its_base(spec, window, seq):
    base = replay_predictor(spec, *seq)
    robust = replay_predictor(RobustDiscount(spec, window), *seq)
    both = np.isfinite(base) & np.isfinite(robust)
    assert np.all(robust[both] <= base[both] * (1 + 1e-12))
    # Where the base has an estimate after a sample, so does the discount.
    assert np.all(np.isfinite(robust[1:]) == np.isfinite(base[1:]))


# The estimate before download i may use downloads 0..i-1 only. Feeding the same history and
# then two different downloads must leave every estimate made before download i unchanged.
# "duration": the last download takes 7x longer (default clock: the running sum of time_s);
# "latency": its latency differs, with an explicit clock that includes the latencies.
CAUSAL_SPECS = [get_predictor(name) for name in PREDICTORS if name != "oracle"] + [
    RobustDiscount(SlidingPercentile()), SlidingWindow((2, 6)), KalmanLog(quantile=0.5, process_var_per_s=0.1),
]
@pytest.mark.parametrize(
    "spec, change",
    [(spec, change) for spec in CAUSAL_SPECS + [KalmanLog(quantile=0.1)] for change in ("duration", "latency")],
    ids=lambda x: getattr(x, "name", x),
)
def test_estimate_before_a_download_does_not_depend_on_it(spec, change):
    rng = np.random.default_rng(3)
    size = rng.uniform(1e5, 2e6, 12)
    time_s = rng.uniform(0.2, 4.0, 12)
    lat = rng.uniform(0.0, 0.2, 12)
    other_size, other_time, other_lat = size.copy(), time_s.copy(), lat.copy()
    if change == "duration":
        other_time[-1] *= 7.0
        other_size[-1] *= 0.1
        a = replay_predictor(spec, size, time_s, lat)
        b = replay_predictor(spec, other_size, other_time, lat)
    else:
        other_lat[-1] = 3.0
        a = replay_predictor(spec, size, time_s, lat, np.cumsum(time_s + lat))
        b = replay_predictor(spec, size, time_s, other_lat, np.cumsum(time_s + other_lat))
    np.testing.assert_array_equal(a, b)


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: replay_predictor("harmonic", [1e5, 2e5], [1.0, 0.0]), r"time_s\[1\]=0\.0 is invalid: must be finite and > 0"),
        (lambda: replay_predictor("harmonic", [1e5], [-1.0]), r"time_s\[0\]=-1\.0 is invalid: must be finite and > 0"),
        (lambda: replay_predictor("harmonic", [1e5], [np.inf]), r"time_s\[0\]=inf is invalid: must be finite and > 0"),
        (lambda: replay_predictor("harmonic", [np.nan], [1.0]), r"size_bytes\[0\]=nan is invalid: must be finite and > 0"),
        (lambda: replay_predictor("harmonic", [0.0], [1.0]), r"size_bytes\[0\]=0\.0 is invalid: must be finite and > 0"),
        (lambda: replay_predictor("kalman", [1e5], [1.0], [np.nan]), r"latency_s\[0\]=nan is invalid: must be finite and >= 0"),
        (lambda: replay_predictor("kalman", [1e5], [1.0], [-0.1]), r"latency_s\[0\]=-0\.1 is invalid: must be finite and >= 0"),
        (lambda: replay_predictor("kalman", [1e5], [1.0], None, [np.nan]), r"now_s\[0\]=nan is invalid: must be finite and >= 0"),
        (lambda: replay_predictor("mean", [1e5, 1e5], [1.0]), r"time_s='1 values' is invalid: must match size_bytes \(2 values\)"),
        (lambda: replay_predictor("mean", [1e5], [1.0], [0.0, 0.0]), r"latency_s='2 values' is invalid: must match size_bytes"),
        (lambda: replay_predictor("mean", [1e5], [1.0], None, [1.0, 2.0]), r"now_s='2 values' is invalid: must match size_bytes"),
        (lambda: replay_predictor("mean", [[1e5]], [[1.0]]), r"size_bytes='array of shape \(1, 1\)' is invalid: must be one-dimensional"),
        (lambda: replay_predictor("mean", "lots", [1.0]), r"size_bytes='lots' is invalid: must be an array of numbers"),
        (lambda: replay_predictor("oracle", [1e5], [1.0]), r"predictor='oracle' is invalid: needs the trace"),
        (lambda: replay_predictor("telepathy", [1e5], [1.0]), r"predictor='telepathy' is invalid: unknown predictor; known: dashjs"),
        # window < 1
        (lambda: Mean(0), r"window=0 is invalid: must be an integer >= 1"),
        (lambda: HarmonicMean(-3), r"window=-3 is invalid: must be an integer >= 1"),
        (lambda: PufferMean(window=0), r"window=0 is invalid: must be an integer >= 1"),
        (lambda: Mean(2.5), r"window=2\.5 is invalid: must be an integer >= 1"),
        (lambda: Mean(True), r"window=True is invalid: must be an integer >= 1"),
        (lambda: RobustDiscount(window=0), r"window=0 is invalid: must be an integer >= 1"),
        (lambda: SlidingWindow((3, 0)), r"windows\[1\]=0 is invalid: must be an integer >= 1"),
        (lambda: SlidingWindow(()), r"windows=\(\) is invalid: must hold 1 to 4 values"),
        (lambda: SlidingWindow((1, 2, 3, 4, 5)), r"windows=\(1, 2, 3, 4, 5\) is invalid: must hold 1 to 4 values"),
        (lambda: SlidingWindow("3,5"), r"windows='3,5' is invalid: must be a number or a sequence of numbers"),
        (lambda: get_predictor("sabre-window:windows=three"), r"windows='three' is invalid: must be a number or a sequence"),
        (lambda: get_predictor("harmonic:window=0"), r"window=0 is invalid: must be an integer >= 1"),
        # quantiles and percentiles
        (lambda: KalmanLog(quantile=0.0), r"quantile=0\.0 is invalid: must be finite and > 0"),
        (lambda: KalmanLog(quantile=1.0), r"quantile=1\.0 is invalid: must be in \(0, 1\)"),
        (lambda: KalmanLog(quantile=1.5), r"quantile=1\.5 is invalid: must be in \(0, 1\)"),
        (lambda: KalmanLog(quantile=float("nan")), r"quantile=nan is invalid: must be finite and > 0"),
        (lambda: SlidingPercentile(percentile=-0.1), r"percentile=-0\.1 is invalid: must be finite and >= 0 and <= 1"),
        (lambda: SlidingPercentile(percentile=1.5), r"percentile=1\.5 is invalid: must be finite and >= 0 and <= 1"),
        # other parameters
        (lambda: Ewma(0.0), r"half_life_s=0\.0 is invalid: must be finite and > 0"),
        (lambda: DualEwma(3.0, -8.0), r"slow_half_life_s=-8\.0 is invalid: must be finite and > 0"),
        (lambda: DualEwma(safety=0.0), r"safety=0\.0 is invalid: must be finite and > 0"),
        (lambda: DualEwma(weight_per_s=0.0), r"weight_per_s=0\.0 is invalid: must be finite and > 0"),
        (lambda: DualEwma(default_bps=0.0), r"default_bps=0\.0 is invalid: must be finite and > 0"),
        (lambda: DualEwma(min_sample_bytes=-1.0), r"min_sample_bytes=-1\.0 is invalid: must be finite and >= 0"),
        (lambda: SabreEwma(segment_s=0.0), r"segment_s=0\.0 is invalid: must be finite and > 0"),
        (lambda: SabreEwma((8.0, -1.0)), r"half_lives_s\[1\]=-1\.0 is invalid: must be finite and > 0"),
        (lambda: SlidingPercentile(max_weight=0.5), r"max_weight=0\.5 is invalid: must be finite and >= 1"),
        (lambda: SlidingPercentile(min_bytes=-1.0), r"min_bytes=-1\.0 is invalid: must be finite and >= 0"),
        (lambda: KalmanLog(measurement_var=0.0), r"measurement_var=0\.0 is invalid: must be finite and > 0"),
        (lambda: KalmanLog(process_var_per_s=-0.1), r"process_var_per_s=-0\.1 is invalid: must be finite and >= 0"),
        (lambda: KalmanLog(initial_var=float("inf")), r"initial_var=inf is invalid: must be finite and >= 0"),
        (lambda: RobustDiscount(base=Oracle()), r"base=Oracle\(\) is invalid: must be a Predictor other than RobustDiscount or Oracle"),
        (lambda: RobustDiscount(base=RobustDiscount()), r"is invalid: must be a Predictor other than RobustDiscount or Oracle"),
        (lambda: RobustDiscount(base="harmonic"), r"base='harmonic' is invalid: must be a Predictor"),
        # names and specs
        (lambda: get_predictor("nope"), r"predictor='nope' is invalid: unknown predictor; known: dashjs, dashjs4, dual-ewma, ewma"),
        (lambda: get_predictor("robust(base=nope)"), r"predictor='nope' is invalid: unknown predictor"),
        (lambda: get_predictor("harmonic:alpha=3"), r"predictor='harmonic:alpha=3' is invalid: .*parameters of 'harmonic': window"),
        (lambda: get_predictor("harmonic:window"), r"parameter 'window' must look like name=value"),
        (lambda: get_predictor("har monic"), r"predictor='har monic' is invalid: must look like name"),
        (lambda: get_predictor(42), r"predictor=42 is invalid: must be a predictor name or a Predictor instance"),
        (lambda: get_predictor(HarmonicMean(), window=3), r"params=\{'window': 3\} is invalid: cannot be combined"),
    ],
)
def test_bad_input_is_rejected(call, message):
    with pytest.raises(ParameterError, match=message):
        call()


def test_replay_of_an_empty_history_is_an_error():
    with pytest.raises(ParameterError, match=r"size_bytes=\[\] is invalid: an empty history: replay needs at least one download"):
        replay_predictor("harmonic", [], [])
    with pytest.raises(ParameterError, match=r"an empty history"):
        replay_predictor(KalmanLog(), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))


def test_a_nan_estimate_is_no_estimate():
    # NaN means "none yet" everywhere: the rate rule then takes the lowest rung (see
    # test_controllers), evaluate_predictors counts it as missing (see test_evaluate).
    out = replay_predictor(SlidingPercentile(default_bps=None), [1e5, 1e5], [0.5, 0.5])
    assert np.isnan(out).all()


# -- specs: names, parsing, packing -----------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("robust(base=ewma(half_life_s=2),window=3)", RobustDiscount(Ewma(2.0), 3)),
        ("robust:base=ewma(half_life_s=2),window=3", RobustDiscount(Ewma(2.0), 3)),
        ("robust(base=shaka)", RobustDiscount(DualEwma.shaka())),
        ("sabre-window:windows=3/5", SlidingWindow((3, 5))),
        ("sabre-window:windows=4", SlidingWindow((4,))),
        ("sabre-window(windows=(3,5))", SlidingWindow((3, 5))),
        ("sabre-window(windows=(3, 5))", SlidingWindow((3, 5))),
        ("robust(base=sabre-window(windows=(2,4)),window=3)", RobustDiscount(SlidingWindow((2, 4)), 3)),
        ("sabre-ewma(half_lives_s=8/3, segment_s=4)", SabreEwma((8.0, 3.0), 4.0)),
        ("exoplayer(percentile=0.25, default_bps=none)", SlidingPercentile(percentile=0.25, default_bps=None)),
        ("kalman:quantile=0.1", KalmanLog(quantile=0.1)),
        ("dual-ewma(fast_half_life_s=2,slow_half_life_s=5)", DualEwma(2.0, 5.0)),
        ("DASHJS", DualEwma.dashjs()),
        ("dashjs", DualEwma(3.0, 8.0, safety=0.9, weight_per_s=1.5)),
        ("dashjs4", DualEwma(3.0, 8.0, safety=0.9)),
        ("dual-ewma(weight_per_s=1.5)", DualEwma(weight_per_s=1.5)),
        ("shaka", DualEwma.shaka()),
        ("hlsjs", DualEwma.hlsjs()),
        ("harmonic", HarmonicMean(5)),
        ("mean:window=3", Mean(3)),
        ("puffer(window=5)", PufferMean(5)),
        ("last", LastSample()),
        ("oracle", Oracle()),
    ],
)
def test_get_predictor_parses_specs(spec, expected):
    got = get_predictor(spec)
    assert got == expected and type(got) is type(expected)


def test_names():
    assert [get_predictor(n).name for n in PREDICTORS] == [
        "last", "mean", "harmonic", "robust", "ewma", "dual-ewma", "dashjs", "dashjs4", "shaka", "hlsjs", "sabre-window",
        "sabre-ewma", "exoplayer", "puffer", "kalman", "oracle",
    ]
    assert RobustDiscount(Ewma(2.0), 3).name == "robust(base=ewma(half_life_s=2.0), window=3)"
    assert HarmonicMean(3).name == "harmonic(window=3)"
    assert DualEwma(3.0, 8.0, safety=0.9, weight_per_s=1.5).name == "dashjs"  # a preset is named as one
    assert DualEwma(3.0, 8.0, safety=0.9).name == "dashjs4"
    assert DualEwma(3.0, 8.0, weight_per_s=1.5).name == "dual-ewma(weight_per_s=1.5)"
    assert DualEwma(3.0, 8.0, safety=0.8).name == "dual-ewma(safety=0.8)"
    assert KalmanLog(quantile=0.1).settings() == {
        "predictor": "kalman", "quantile": 0.1, "process_var_per_s": 0.015, "measurement_var": 0.03, "initial_var": 0.03,
    }
    assert RobustDiscount().settings()["base"] == {"predictor": "harmonic", "window": 5}


@pytest.mark.parametrize(
    "spec",
    [get_predictor(n) for n in PREDICTORS] + [
        RobustDiscount(Ewma(2.0), 3), DualEwma(2.0, 5.0, default_bps=None), KalmanLog(0.1, 0.02), SlidingPercentile(default_bps=None),
    ],
    ids=lambda p: p.name,
)
def test_names_parse_back_to_the_spec(spec):
    assert get_predictor(spec.name) == spec


@pytest.mark.parametrize(
    "spec",
    [SlidingWindow((3, 5)), SabreEwma((4.0,)), SabreEwma((8.0, 3.0), 2.0), RobustDiscount(SlidingWindow((2, 4)), 3)],
    ids=lambda p: p.name,
)
def test_tuple_names_parse_back_to_the_spec(spec):
    assert get_predictor(spec.name) == spec


def test_pack_layouts():
    pid, p, n = RobustDiscount(HarmonicMean(3), window=4).pack()
    assert pid == L.PRED_ROBUST
    # window, base id, offset of the base state (flag, estimate, error ring of 4), base params.
    assert p[:4].tolist() == [4.0, float(L.PRED_HARMONIC), 2.0 + 2 + 4, 3.0]
    assert n == (2 + 2 + 4) + (2 + 3)
    pid, p, n = DualEwma.shaka().pack()
    assert pid == L.PRED_DUAL_EWMA and p[:9].tolist() == [2.0, 5.0, 16_000.0, 128_000.0, 1e6, 0.0, 1.0, 0.0, 1.0] and n == 4
    assert DualEwma.dashjs5().pack()[1][:9].tolist() == [3.0, 8.0, 0.0, 0.0, -1.0, 0.0, 0.9, 0.0, 1.5]
    assert DualEwma.dashjs4().pack()[1][8] == 1.0 and Ewma(2.0).pack()[1][8] == 1.0
    assert DualEwma().pack()[1][4] == -1.0  # no default
    pid, p, n = SlidingPercentile().pack()
    assert pid == L.PRED_EXO_PERCENTILE and p[5] == 2002 and n == 5 + 2 * 2002
    pid, p, n = KalmanLog(quantile=0.5).pack()
    assert p[2] == 0.0  # z of the median
    for name in PREDICTORS:
        pid, p, n = get_predictor(name).pack()
        assert p.shape == (L.PRED_PARAMS,) and p.dtype == np.float64 and n >= 1


# -- every predictor driving the rate rule in a session -------------------------------------------

SESSION_PREDICTORS = list(PREDICTORS) + [
    "harmonic:window=3", "kalman(quantile=0.1)", "robust(base=shaka)", "robust(base=kalman(quantile=0.2),window=3)",
    "sabre-window:windows=2/6", "exoplayer:percentile=0.3", "dual-ewma(fast_half_life_s=1,slow_half_life_s=4,min_sample_s=0.5)",
]

FLOAT_FIELDS = ("size_bytes", "latency_s", "delay_s", "buffer_s", "rebuffer_s", "wait_s", "throughput_bps", "request_s")


def _same_session(result, expected, what):
    assert result.status == expected["status"], what
    np.testing.assert_array_equal(result.rung, expected["rung"], err_msg=f"{what}: decisions differ")
    for name in FLOAT_FIELDS:
        np.testing.assert_allclose(getattr(result, name), expected[name], rtol=1e-12, atol=1e-12, err_msg=f"{what}: {name}")


def _wobbly_trace(seed=9):
    rng = np.random.default_rng(seed)
    n = 60
    return Trace.from_durations(rng.uniform(0.3, 3.0, n), rng.uniform(2e5, 6e6, n), latency_s=rng.uniform(0.0, 0.15, n), name="wobbly")


@pytest.mark.parametrize("profile", ["default", "pensieve", Profile(name="no-latency-in-samples", throughput_includes_latency=False)],
                         ids=lambda p: getattr(p, "name", p))
@pytest.mark.parametrize("predictor", SESSION_PREDICTORS)
def test_rate_rule_with_each_predictor_matches_the_reference_session(predictor, profile):
    video = Video.constant_bitrate([300, 750, 1200, 1850, 2850, 4300], 2.0, 40)
    controller = RateBased(predictor=predictor, safety=0.9)
    for trace in (_wobbly_trace(), _wobbly_trace(4).scaled(0.4)):
        _same_session(simulate(trace, video, controller, profile), reference.simulate_session(trace, video, controller, profile),
                      f"{controller.name} on {trace.name}")


@pytest.mark.shared
@pytest.mark.parametrize("predictor", SESSION_PREDICTORS)
def test_rate_rule_with_each_predictor_on_real_traces(predictor, norway_traces, sabre_4g_traces, envivio):
    controller = RateBased(predictor=predictor)
    for trace in (norway_traces[5], norway_traces[77], sabre_4g_traces[8].scaled(0.2)):
        for profile in ("default", "pensieve"):
            _same_session(simulate(trace, envivio, controller, profile),
                          reference.simulate_session(trace, envivio, controller, profile), f"{controller.name} on {trace.name}")


def test_predictors_change_decisions():
    # Not a tautology check: on a wobbly link the predictors lead the rate rule to different
    # rung sequences (so the session comparisons above do test the predictors).
    video = Video.constant_bitrate([300, 750, 1200, 1850, 2850, 4300], 2.0, 40)
    trace = _wobbly_trace()
    seqs = {name: tuple(simulate(trace, video, RateBased(predictor=name), "default").rung) for name in PREDICTORS}
    assert len(set(seqs.values())) >= 8, seqs
