"""encode.hull: Pareto front and upper convex hull, against a brute-force definition."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abrkit.encode.hull import AXES, hull_frame, pareto_front, rate_axis, upper_hull
from abrkit.errors import ParameterError

# ----------------------------------------------------------------------------- brute force


def brute_pareto(x, quality, rates=None) -> list[int]:
    """Indices, by x, of the points no other point weakly beats in (x, quality).

    Of points with identical (x, quality) only one stays: the lowest rate, then the lowest index
    (``rates`` defaults to ``x``).
    """
    rates = x if rates is None else rates
    n = len(x)
    keep = []
    for i in range(n):
        beaten = False
        for j in range(n):
            if j == i:
                continue
            if x[j] == x[i] and quality[j] == quality[i]:
                beaten = (rates[j], j) < (rates[i], i)
            else:
                beaten = x[j] <= x[i] and quality[j] >= quality[i]
            if beaten:
                break
        if not beaten:
            keep.append(i)
    return sorted(keep, key=lambda i: x[i])


def brute_hull(rates, quality, axis: str, keep_collinear: bool = False) -> list[int]:
    """The upper monotone hull by its definition, in exact rational arithmetic.

    Point i is on the hull iff no convex combination of two other points (one point counts as
    the combination of itself with itself) has an x at most as high and a quality at least as
    high, x being the rate or its log2 (so on the log axis, rates whose log2 is the same double
    count as equal). A combination of points j and k that are both no more expensive than i is beaten by
    the better of the two alone; so it suffices to check (a) single points and (b) pairs with
    x_j < x_i < x_k, whose chord at x_i must not reach quality_i (reach it *strictly*, when
    collinear points are kept). Identical points: the first one stands for all.
    """
    xs = np.log2(np.asarray(rates, dtype=float)) if axis == "log" else np.asarray(rates, dtype=float)
    x = [Fraction(float(v)) for v in xs]
    y = [Fraction(float(v)) for v in quality]
    n = len(x)
    on = []
    front = brute_pareto(x, y, [float(r) for r in rates])
    for i in range(n):
        if i not in front:
            continue
        dominated = False
        for j in range(n):
            for k in range(n):
                if dominated or not (x[j] < x[i] < x[k]):
                    continue
                chord = y[j] + (y[k] - y[j]) * (x[i] - x[j]) / (x[k] - x[j])
                dominated = chord > y[i] if keep_collinear else chord >= y[i]
        if not dominated:
            on.append(i)
    return sorted(on, key=lambda i: x[i])


# ------------------------------------------------------------------------------ strategies

# Small integer coordinates: many ties, duplicate rates, duplicate points and collinear triples,
# all exact in floating point.
grid_points = st.lists(
    st.tuples(st.integers(1, 12), st.integers(0, 12)), min_size=0, max_size=14
)

# Rates that are small multiples of powers of two: log2 is exact for the powers of two, so
# collinear triples exist on the log axis too.
pow2_points = st.lists(
    st.tuples(st.sampled_from([1, 2, 3, 4, 6, 8, 16, 32, 64, 128, 256]), st.integers(0, 10)),
    min_size=0,
    max_size=12,
)

float_points = st.lists(
    st.tuples(
        st.floats(1.0, 1e5, allow_nan=False, allow_infinity=False),
        st.floats(-50.0, 120.0, allow_nan=False, allow_infinity=False),
    ),
    min_size=1,
    max_size=16,
)


@st.composite
def near_collinear(draw):
    """Points on a line, each nudged by at most a few ulps: the float cross product's sign is unreliable."""
    n = draw(st.integers(3, 9))
    slope = draw(st.floats(0.01, 10.0))
    xs = sorted(draw(st.lists(st.floats(1.0, 1e4), min_size=n, max_size=n, unique=True)))
    pts = []
    for x in xs:
        q = 3.0 + slope * x
        for _ in range(draw(st.integers(0, 3))):
            q = np.nextafter(q, draw(st.sampled_from([np.inf, -np.inf])))
        pts.append((x, float(q)))
    return pts


def _split(points):
    rates = [float(p[0]) for p in points]
    quality = [float(p[1]) for p in points]
    return rates, quality


# -------------------------------------------------------------------------- vs brute force


@given(grid_points, st.sampled_from(AXES), st.booleans())
def test_hull_matches_brute_force_on_grid(points, axis, keep_collinear):
    rates, quality = _split(points)
    got = upper_hull(rates, quality, axis, keep_collinear=keep_collinear).tolist()
    assert got == brute_hull(rates, quality, axis, keep_collinear)


@given(pow2_points, st.booleans())
def test_log_hull_matches_brute_force_with_exact_logs(points, keep_collinear):
    rates, quality = _split(points)
    got = upper_hull(rates, quality, "log", keep_collinear=keep_collinear).tolist()
    assert got == brute_hull(rates, quality, "log", keep_collinear)


@given(float_points, st.sampled_from(AXES))
def test_hull_matches_brute_force_on_floats(points, axis):
    rates, quality = _split(points)
    assert upper_hull(rates, quality, axis).tolist() == brute_hull(rates, quality, axis)


@settings(max_examples=200)
@given(near_collinear(), st.booleans())
def test_hull_is_exact_on_nearly_collinear_points(points, keep_collinear):
    rates, quality = _split(points)
    got = upper_hull(rates, quality, "linear", keep_collinear=keep_collinear).tolist()
    assert got == brute_hull(rates, quality, "linear", keep_collinear)


@given(grid_points)
def test_pareto_matches_brute_force(points):
    rates, quality = _split(points)
    assert pareto_front(rates, quality).tolist() == brute_pareto(rates, quality)


# ------------------------------------------------------------------------------ properties


@given(float_points, st.sampled_from(AXES))
def test_hull_is_monotone_and_concave(points, axis):
    rates, quality = _split(points)
    idx = upper_hull(rates, quality, axis)
    r = np.array(rates)[idx]
    q = np.array(quality)[idx]
    assert np.all(np.diff(r) > 0) and np.all(np.diff(q) > 0)
    x = np.log2(r) if axis == "log" else r
    # exact slopes: strictly decreasing along the hull
    slopes = [
        (Fraction(float(q[k + 1])) - Fraction(float(q[k]))) / (Fraction(float(x[k + 1])) - Fraction(float(x[k])))
        for k in range(len(idx) - 1)
    ]
    assert all(a > b for a, b in zip(slopes, slopes[1:]))
    # ends: the cheapest point (best of those), the best point (cheapest of those), cheapness
    # measured on the axis (on the log axis, rates with the same log2 are equally cheap)
    xa = (np.log2(rates) if axis == "log" else np.array(rates)).tolist()
    cheapest = min(xa)
    assert xa[idx[0]] == cheapest
    assert quality[idx[0]] == max(qv for xv, qv in zip(xa, quality) if xv == cheapest)
    best = max(quality)
    assert quality[idx[-1]] == best
    assert xa[idx[-1]] == min(xv for xv, qv in zip(xa, quality) if qv == best)


@given(float_points)
def test_log_hull_is_a_subset_of_linear_hull(points):
    rates, quality = _split(points)
    assert set(upper_hull(rates, quality, "log").tolist()) <= set(upper_hull(rates, quality, "linear").tolist())


@given(grid_points, st.sampled_from(AXES), st.booleans())
def test_hull_subset_chain(points, axis, keep_collinear):
    rates, quality = _split(points)
    hull = set(upper_hull(rates, quality, axis, keep_collinear=keep_collinear).tolist())
    assert hull <= set(upper_hull(rates, quality, axis, keep_collinear=True).tolist())
    assert hull <= set(pareto_front(rates, quality).tolist())


@given(grid_points, st.sampled_from(AXES), st.randoms(use_true_random=False))
def test_hull_does_not_depend_on_order(points, axis, rnd):
    rates, quality = _split(points)
    perm = list(range(len(points)))
    rnd.shuffle(perm)
    a = {(rates[i], quality[i]) for i in upper_hull(rates, quality, axis).tolist()}
    pr = [rates[i] for i in perm]
    pq = [quality[i] for i in perm]
    b = {(pr[i], pq[i]) for i in upper_hull(pr, pq, axis).tolist()}
    assert a == b


@given(grid_points, st.sampled_from(AXES), st.integers(-20, 20))
def test_hull_invariant_to_rate_units_and_quality_offset(points, axis, offset):
    rates, quality = _split(points)
    base = upper_hull(rates, quality, axis).tolist()
    # doubling every rate is exact in floats, and log2(2r) = log2(r) + 1 exactly
    assert upper_hull([2 * r for r in rates], [q + offset for q in quality], axis).tolist() == base


# ------------------------------------------------------------------------- golden and edges


def test_golden_three_resolutions():
    # 3 resolutions x 3 CRFs, all on the Pareto front. Linear axis: slopes 0.1 (0->1),
    # 0.045 (1->4, passing over 3 and 2), 0.0142 (4->7, over 6 and 5), 0.0039 (7->8). Log axis:
    # 0->1 rises 10 per octave but 1->4 rises 11.4, so 1 falls under the chord 0->4.
    rates = [100, 200, 400, 300, 600, 1200, 900, 1800, 3600]
    quality = [40, 50, 55, 52, 68, 76, 70, 85, 92]
    assert upper_hull(rates, quality, "linear").tolist() == [0, 1, 4, 7, 8]
    assert upper_hull(rates, quality).tolist() == [0, 1, 4, 7, 8]  # linear is the default
    assert upper_hull(rates, quality, "log").tolist() == [0, 4, 7, 8]
    assert pareto_front(rates, quality).tolist() == [0, 1, 3, 2, 4, 6, 5, 7, 8]


def test_single_empty_and_two_points():
    assert upper_hull([500.0], [80.0]).tolist() == [0]
    assert upper_hull([], []).tolist() == []
    assert upper_hull([100, 200], [30, 40]).tolist() == [0, 1]
    assert upper_hull([100, 200], [40, 30]).tolist() == [0]  # the dearer point is dominated
    assert upper_hull([100, 100], [30, 40]).tolist() == [1]  # same rate: the better one
    assert upper_hull([100, 100], [40, 40]).tolist() == [0]  # identical: the first one


def test_log_axis_merges_rates_with_the_same_log():
    rates = [100000.0, 99999.99999999999]  # distinct rates, equal log2
    assert np.log2(rates[0]) == np.log2(rates[1])
    assert upper_hull(rates, [0.0, -1.0], "log").tolist() == [0]
    assert upper_hull(rates, [0.0, -1.0], "linear").tolist() == [1, 0]
    assert upper_hull(rates, [0.0, 0.0], "log").tolist() == [1]  # equal quality: the cheaper one


def test_collinear_points_are_dropped_unless_kept():
    rates = [100, 200, 300, 400]
    quality = [10, 20, 30, 35]
    assert upper_hull(rates, quality, "linear").tolist() == [0, 2, 3]
    assert upper_hull(rates, quality, "linear", keep_collinear=True).tolist() == [0, 1, 2, 3]
    # equal qualities at higher rates are dominated even when collinear points are kept
    assert upper_hull([1, 2, 3], [5, 5, 5], "linear", keep_collinear=True).tolist() == [0]


def test_rate_axis():
    assert rate_axis([1, 2, 1024], "log").tolist() == [0.0, 1.0, 10.0]
    assert rate_axis([1, 2, 1024], "linear").tolist() == [1.0, 2.0, 1024.0]


@pytest.mark.parametrize(
    ("rates", "quality", "match"),
    [
        ([100, 0], [1, 2], r"rates_kbps\[1\]=0\.0 is invalid: must be finite and > 0"),
        ([100, -5], [1, 2], r"rates_kbps\[1\]"),
        ([100, np.nan], [1, 2], r"rates_kbps\[1\]"),
        ([100, np.inf], [1, 2], r"rates_kbps\[1\]"),
        ([100, 200], [1, np.inf], r"quality\[1\]=inf is invalid: must be finite \(an infinite PSNR"),
        ([100, 200], [np.nan, 1], r"quality\[0\]"),
        ([100, 200], [1, 2, 3], r"quality=.* must have one value per rate \(2\), got 3"),
        ([[100, 200]], [[1, 2]], r"rates_kbps=.* must be 1-D"),
        (["a", "b"], [1, 2], r"rates_kbps=.* must be a 1-D array of numbers"),
    ],
)
def test_bad_points(rates, quality, match):
    with pytest.raises(ParameterError, match=match):
        upper_hull(rates, quality)
    with pytest.raises(ParameterError, match=match):
        pareto_front(rates, quality)


def test_bad_axis():
    with pytest.raises(ParameterError, match=r"axis='log10' is invalid: must be 'linear'"):
        upper_hull([1, 2], [1, 2], axis="log10")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- hull_frame


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "width": [416, 416, 416, 640, 640, 640, 1280, 1280, 1280],
            "height": [234, 234, 234, 360, 360, 360, 720, 720, 720],
            "crf": [35, 29, 23] * 3,
            "bitrate_kbps": [100, 200, 400, 300, 600, 1200, 900, 1800, 3600],
            "vmaf": [40, 50, 55, 52, 68, 76, 70, 85, 92],
        },
        index=[f"p{k}" for k in range(9)],
    )


def test_hull_frame_marks_rows_and_keeps_everything():
    df = _frame()
    out = hull_frame(df)
    assert list(out.columns) == [*df.columns, "on_pareto", "on_hull"]
    assert list(out.index) == list(df.index)
    pd.testing.assert_frame_equal(out[df.columns], df)
    assert out["on_hull"].dtype == bool
    assert list(out.index[out.on_hull]) == ["p0", "p1", "p4", "p7", "p8"]
    log = hull_frame(df, axis="log")
    assert list(log.index[log.on_hull]) == ["p0", "p4", "p7", "p8"]
    assert "on_hull" not in df.columns  # input untouched


def test_hull_frame_other_columns():
    df = _frame().rename(columns={"bitrate_kbps": "kbps", "vmaf": "psnr_db"})
    out = hull_frame(df, rate_col="kbps", quality_col="psnr_db")
    assert out.on_hull.sum() == 5 and out.on_pareto.sum() == 9


def test_hull_frame_errors():
    df = _frame()
    with pytest.raises(ParameterError, match=r"rate_col='kbps' is invalid: is not a column"):
        hull_frame(df, rate_col="kbps")
    with pytest.raises(ParameterError, match=r"quality_col='psnr'"):
        hull_frame(df, quality_col="psnr")
    with pytest.raises(ParameterError, match=r"points=.* must be a pandas DataFrame"):
        hull_frame(df.to_dict())  # type: ignore[arg-type]
    bad = df.copy()
    bad.loc["p4", "vmaf"] = np.nan
    with pytest.raises(ParameterError, match=r"vmaf\['p4'\]=nan is invalid: must be finite"):
        hull_frame(bad)
    bad = df.copy()
    bad.loc["p2", "bitrate_kbps"] = 0
    with pytest.raises(ParameterError, match=r"bitrate_kbps\['p2'\]=0\.0 is invalid"):
        hull_frame(bad)


def test_no_heavy_imports_at_load():
    code = (
        "import sys, abrkit.encode.hull, abrkit.encode.bdrate, abrkit.encode.rungs, abrkit.encode.ladders; "
        "bad = [m for m in ('matplotlib', 'scipy') if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
