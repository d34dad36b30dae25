"""encode.bdrate: Bjøntegaard-delta rate and quality, golden values and guards."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from abrkit.encode.bdrate import METHODS, BDRateWarning, bd_quality, bd_rate
from abrkit.errors import ParameterError

# The example of the `bjontegaard` package's README (FAU-LMS/bjontegaard; x265 at two presets).
ANCHOR_RATES = [9487.76, 4593.60, 2486.44, 1358.24]
ANCHOR_PSNR = [40.037, 38.615, 36.845, 34.851]
TEST_RATES = [9787.80, 4469.00, 2451.52, 1356.24]
TEST_PSNR = [40.121, 38.651, 36.970, 34.987]

# Acceptance values of issue 5 (six decimals, from the published implementations) ...
ISSUE_BD_RATE = {"pchip": -4.417485, "akima": -4.425245, "cubic": -4.420463}

# ... and the full-precision values the published procedure gives: the `bjontegaard` package's
# steps (log10 rate vs quality, integral over the shared interval, mean difference) computed
# with SciPy 1.17.1's PchipInterpolator / Akima1DInterpolator and numpy.polyfit(deg=3).
SCIPY_BD_RATE = {"pchip": -4.417485350589045, "akima": -4.425245156997493, "cubic": -4.420462706125383}
SCIPY_BD_PSNR = {"pchip": 0.11969278542479489, "akima": 0.11940927028529469, "cubic": 0.12040941911451103}

# More golden cases computed the same way (BD-rate %, BD-quality), with curves of different
# lengths, uneven spacing, and a kink that makes PCHIP's end-slope limiter act.
GOLDEN_CASES = {
    "vmaf_6_vs_5": (
        ([235, 560, 1050, 1750, 3000, 5800], [38.21, 57.94, 70.12, 79.66, 87.35, 93.8]),
        ([180, 450, 900, 1600, 3200], [40.02, 60.51, 73.87, 82.95, 90.41]),
        {
            "pchip": (-28.049630790340252, 5.978260459428794),
            "akima": (-27.9577722836035, 5.967300412408295),
            "cubic": (-28.261841856836632, 6.035724751686629),
        },
    ),
    "hull_8_vs_ladder_10": (
        ([150, 260, 420, 700, 1150, 1900, 3100, 5200], [41.5, 52.3, 61.8, 70.2, 77.9, 84.6, 90.1, 94.7]),
        (
            [235, 375, 560, 750, 1050, 1750, 2350, 3000, 4300, 5800],
            [44.1, 51.2, 58.4, 62.3, 67.9, 75.6, 80.2, 83.1, 88.0, 91.9],
        ),
        {
            "pchip": (65.64277611463038, -7.604131737109649),
            "akima": (65.60671260306967, -7.6053645255007964),
            "cubic": (64.94873819263593, -7.565529589100953),
        },
    ),
    "psnr_kink": (
        ([400, 420, 2000, 9000], [30.0, 36.0, 37.0, 44.0]),
        ([300, 800, 2500, 8000, 16000], [31.0, 34.5, 37.8, 42.5, 45.1]),
        {
            "pchip": (14.125309772974838, -0.859254359750698),
            "akima": (22.829414341879307, -1.014867489155978),
            "cubic": (-15.519267739539732, -1.732760293114118),
        },
    ),
    # exact straight pieces in (quality, log10 rate): Akima's weights vanish
    "akima_flat": (
        ([10, 100, 1000, 10000, 20000], [30, 40, 50, 60, 65]),
        ([10, 100, 1000, 10000], [31, 41, 51, 61]),
        {
            "pchip": (-21.834479945635586, 1.0851415158016),
            "akima": (-20.54412505612182, 1.0),
            "cubic": (-20.571214856992302, 0.9997134513466506),
        },
    ),
}


def _quiet(fn, *args, **kwargs):
    """Call fn with the cubic method's BDRateWarning silenced (checked on its own below)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BDRateWarning)
        return fn(*args, **kwargs)


# ----------------------------------------------------------------------------------- golden


@pytest.mark.parametrize("method", METHODS)
def test_issue_golden_bd_rate(method):
    got = _quiet(bd_rate, ANCHOR_RATES, ANCHOR_PSNR, TEST_RATES, TEST_PSNR, method)
    assert got == pytest.approx(ISSUE_BD_RATE[method], abs=1e-6)
    assert got == pytest.approx(SCIPY_BD_RATE[method], abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_golden_bd_psnr(method):
    got = _quiet(bd_quality, ANCHOR_RATES, ANCHOR_PSNR, TEST_RATES, TEST_PSNR, method)
    assert got == pytest.approx(SCIPY_BD_PSNR[method], abs=1e-9)


def test_pchip_is_the_default():
    assert bd_rate(ANCHOR_RATES, ANCHOR_PSNR, TEST_RATES, TEST_PSNR) == pytest.approx(-4.417485, abs=1e-6)
    assert bd_quality(ANCHOR_RATES, ANCHOR_PSNR, TEST_RATES, TEST_PSNR) == pytest.approx(SCIPY_BD_PSNR["pchip"])


@pytest.mark.parametrize("method", METHODS)
def test_ten_percent_more_rate_is_ten_percent(method):
    test = [1.1 * r for r in ANCHOR_RATES]
    assert _quiet(bd_rate, ANCHOR_RATES, ANCHOR_PSNR, test, ANCHOR_PSNR, method) == pytest.approx(10.0, abs=1e-9)
    back = _quiet(bd_rate, test, ANCHOR_PSNR, ANCHOR_RATES, ANCHOR_PSNR, method)
    assert back == pytest.approx(100.0 / 1.1 - 100.0, abs=1e-9)


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
@pytest.mark.parametrize("method", METHODS)
def test_more_golden_cases(name, method):
    (ra, qa), (rt, qt), expected = GOLDEN_CASES[name]
    rate, quality = expected[method]
    assert _quiet(bd_rate, ra, qa, rt, qt, method) == pytest.approx(rate, abs=1e-9)
    assert _quiet(bd_quality, ra, qa, rt, qt, method) == pytest.approx(quality, abs=1e-9)


def test_identical_curves_give_zero():
    for method in METHODS:
        assert _quiet(bd_rate, ANCHOR_RATES, ANCHOR_PSNR, ANCHOR_RATES, ANCHOR_PSNR, method) == 0.0
        assert _quiet(bd_quality, ANCHOR_RATES, ANCHOR_PSNR, ANCHOR_RATES, ANCHOR_PSNR, method) == 0.0


# ------------------------------------------------------------------------------- properties


@st.composite
def curves(draw, min_size=4, max_size=9):
    """A rate-quality curve: rates log-spaced with random gaps, quality strictly increasing."""
    n = draw(st.integers(min_size, max_size))
    log_steps = draw(st.lists(st.floats(0.05, 1.0), min_size=n - 1, max_size=n - 1))
    q_steps = draw(st.lists(st.floats(0.2, 15.0), min_size=n - 1, max_size=n - 1))
    r0 = draw(st.floats(50.0, 2000.0))
    q0 = draw(st.floats(10.0, 60.0))
    rates = r0 * 10.0 ** np.concatenate(([0.0], np.cumsum(log_steps)))
    quality = q0 + np.concatenate(([0.0], np.cumsum(q_steps)))
    return rates, quality


@given(curves(), st.floats(0.5, 2.0), st.sampled_from(METHODS))
def test_scaled_rates_give_the_scale(curve, factor, method):
    rates, quality = curve
    got = _quiet(bd_rate, rates, quality, rates * factor, quality, method)
    assert got == pytest.approx((factor - 1.0) * 100.0, abs=1e-8)


@given(curves(), st.floats(-3.0, 3.0), st.sampled_from(METHODS))
def test_shifted_quality_gives_the_shift(curve, delta, method):
    rates, quality = curve
    got = _quiet(bd_quality, rates, quality, rates, quality + delta, method)
    assert got == pytest.approx(delta, abs=1e-8)


@given(curves(), curves(), st.sampled_from(METHODS))
def test_swapping_anchor_and_test_inverts(anchor, test, method):
    (ra, qa), (rt, qt) = anchor, test
    if min(qa[-1], qt[-1]) <= max(qa[0], qt[0]) or min(ra[-1], rt[-1]) <= max(ra[0], rt[0]):
        return  # no overlap: covered by the guard tests
    forward = _quiet(bd_rate, ra, qa, rt, qt, method)
    backward = _quiet(bd_rate, rt, qt, ra, qa, method)
    # near -100 % the percent form itself loses the digits (1 + b/100 cancels): skip those
    assume(min(forward, backward) > -99.0)
    assert (1 + forward / 100) * (1 + backward / 100) == pytest.approx(1.0, rel=1e-9)
    dq = _quiet(bd_quality, ra, qa, rt, qt, method)
    assert _quiet(bd_quality, rt, qt, ra, qa, method) == pytest.approx(-dq, abs=1e-9)


@given(curves(), curves(), st.sampled_from(METHODS), st.randoms(use_true_random=False))
def test_point_order_and_rate_unit_do_not_matter(anchor, test, method, rnd):
    (ra, qa), (rt, qt) = anchor, test
    if min(qa[-1], qt[-1]) <= max(qa[0], qt[0]):
        return
    base = _quiet(bd_rate, ra, qa, rt, qt, method)
    perm = list(range(len(ra)))
    rnd.shuffle(perm)
    assert _quiet(bd_rate, ra[perm], qa[perm], rt[::-1], qt[::-1], method) == pytest.approx(base, abs=1e-9)
    # kbps -> bps on both curves
    assert _quiet(bd_rate, ra * 1000, qa, rt * 1000, qt, method) == pytest.approx(base, rel=1e-9, abs=1e-9)


@given(curves(), curves(), st.sampled_from(["pchip", "akima"]))
def test_better_everywhere_means_negative_bd_rate(anchor, test, method):
    # a test that needs fewer bits at every measured point, on the same quality points
    (ra, qa), (_, _) = anchor, test
    fewer = ra * 0.8
    assert bd_rate(ra, qa, fewer, qa, method) < 0
    assert bd_quality(ra, qa, fewer, qa, method) > 0


# ------------------------------------------------------------------------------------ guards


def test_cubic_warns():
    with pytest.warns(BDRateWarning, match=r"method='cubic' fits one cubic polynomial .* prefer 'pchip'"):
        bd_rate(ANCHOR_RATES, ANCHOR_PSNR, TEST_RATES, TEST_PSNR, method="cubic")
    with pytest.warns(BDRateWarning, match="oscillate"):
        bd_quality(ANCHOR_RATES, ANCHOR_PSNR, TEST_RATES, TEST_PSNR, method="cubic")
    assert issubclass(BDRateWarning, UserWarning)


@pytest.mark.parametrize("fn", [bd_rate, bd_quality])
def test_bad_method(fn):
    with pytest.raises(ParameterError, match=r"method='spline' is invalid: must be one of 'pchip', 'akima', 'cubic'"):
        fn(ANCHOR_RATES, ANCHOR_PSNR, TEST_RATES, TEST_PSNR, method="spline")


@pytest.mark.parametrize("fn", [bd_rate, bd_quality])
def test_fewer_than_four_points(fn):
    with pytest.raises(ParameterError, match=r"anchor_rates=.* needs at least 4 rate-quality points, got 3"):
        fn(ANCHOR_RATES[:3], ANCHOR_PSNR[:3], TEST_RATES, TEST_PSNR)
    with pytest.raises(ParameterError, match=r"test_rates=.* needs at least 4 .* got 2"):
        fn(ANCHOR_RATES, ANCHOR_PSNR, TEST_RATES[:2], TEST_PSNR[:2])


@pytest.mark.parametrize("fn", [bd_rate, bd_quality])
def test_length_mismatch_and_shape(fn):
    with pytest.raises(ParameterError, match=r"test_quality=.* must have one value per rate \(4\), got 3"):
        fn(ANCHOR_RATES, ANCHOR_PSNR, TEST_RATES, TEST_PSNR[:3])
    with pytest.raises(ParameterError, match=r"anchor_rates=.* must be 1-D"):
        fn([ANCHOR_RATES], [ANCHOR_PSNR], TEST_RATES, TEST_PSNR)
    with pytest.raises(ParameterError, match=r"anchor_quality=.* must be a 1-D array of numbers"):
        fn(ANCHOR_RATES, ["a", "b", "c", "d"], TEST_RATES, TEST_PSNR)


@pytest.mark.parametrize("fn", [bd_rate, bd_quality])
@pytest.mark.parametrize("bad", [0.0, -100.0, np.nan, np.inf])
def test_zero_negative_or_missing_rates(fn, bad):
    rates = list(TEST_RATES)
    rates[2] = bad
    with pytest.raises(ParameterError, match=r"test_rates\[2\]=.* is invalid: must be finite and > 0"):
        fn(ANCHOR_RATES, ANCHOR_PSNR, rates, TEST_PSNR)


@pytest.mark.parametrize("fn", [bd_rate, bd_quality])
def test_infinite_psnr(fn):
    psnr = list(ANCHOR_PSNR)
    psnr[0] = np.inf  # a lossless top point
    with pytest.raises(ParameterError, match=r"anchor_quality\[0\]=inf is invalid: must be finite \(an infinite PSNR"):
        fn(ANCHOR_RATES, psnr, TEST_RATES, TEST_PSNR)
    psnr[0] = np.nan
    with pytest.raises(ParameterError, match=r"anchor_quality\[0\]=nan"):
        fn(ANCHOR_RATES, psnr, TEST_RATES, TEST_PSNR)


@pytest.mark.parametrize("fn", [bd_rate, bd_quality])
def test_non_monotone_curve(fn):
    psnr = [40.037, 38.615, 38.9, 34.851]  # 2486 kb/s scores above 4594 kb/s
    with pytest.raises(ParameterError, match=r"anchor_quality=.* is not increasing with rate: .* take its upper_hull"):
        fn(ANCHOR_RATES, psnr, TEST_RATES, TEST_PSNR)
    flat = [40.121, 38.651, 38.651, 34.987]
    with pytest.raises(ParameterError, match=r"test_quality=.* is not increasing with rate"):
        fn(ANCHOR_RATES, ANCHOR_PSNR, TEST_RATES, flat)


@pytest.mark.parametrize("fn", [bd_rate, bd_quality])
def test_repeated_rate(fn):
    rates = [9787.80, 4469.00, 4469.00, 1356.24]
    with pytest.raises(ParameterError, match=r"test_rates=.* rate 4469 appears twice"):
        fn(ANCHOR_RATES, ANCHOR_PSNR, rates, TEST_PSNR)


def test_no_quality_overlap():
    high = [53.0, 52.0, 51.0, 50.0]  # same order as TEST_RATES (decreasing)
    with pytest.raises(ParameterError, match=r"test_quality=.* quality range \[50, 53\] must overlap anchor_quality"):
        bd_rate(ANCHOR_RATES, ANCHOR_PSNR, TEST_RATES, high)
    touching = [43.0, 42.0, 41.0, 40.037]  # shares a single quality value only
    with pytest.raises(ParameterError, match=r"over an interval of positive length"):
        bd_rate(ANCHOR_RATES, ANCHOR_PSNR, TEST_RATES, touching)


def test_no_rate_overlap():
    far = [r * 100 for r in TEST_RATES]
    with pytest.raises(
        ParameterError,
        match=r"test_rates=.* the rate range \[135624, 978780\] must overlap anchor_rates's \[1358.24, 9487.76\]",
    ):
        bd_quality(ANCHOR_RATES, ANCHOR_PSNR, far, TEST_PSNR)
    # BD-rate needs the quality ranges to overlap, not the rates
    assert bd_rate(ANCHOR_RATES, ANCHOR_PSNR, far, TEST_PSNR) > 1000
