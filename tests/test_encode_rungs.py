"""encode.rungs and encode.ladders: constraints, rung selection (vs exhaustive search), the ladder
validator, and the fixed reference ladders as data."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from abrkit.encode.hull import hull_frame
from abrkit.encode.ladders import APPLE_HLS_H264, FIXED_LADDERS, NETFLIX_2015, SOURCE, FixedLadder, LadderRung
from abrkit.encode.rungs import RungConstraints, select_rungs, validate_ladder
from abrkit.errors import ParameterError

# ------------------------------------------------------------------------ exhaustive search


def allowed_chain(r, q, res, c: RungConstraints) -> bool:
    """Whether the points (sorted by rate) form a ladder obeying c, written out plainly."""
    if c.n_rungs is not None and len(r) != c.n_rungs:
        return False
    for k in range(len(r)):
        if c.min_bitrate_kbps is not None and r[k] < c.min_bitrate_kbps:
            return False
        if c.max_bitrate_kbps is not None and r[k] > c.max_bitrate_kbps:
            return False
        if c.allowed_resolutions is not None and res[k] not in c.allowed_resolutions:
            return False
        if c.quality_cap is not None and k < len(r) - 1 and q[k] >= c.quality_cap:
            return False
    for k in range(len(r) - 1):
        if not r[k + 1] > r[k]:
            return False
        if c.min_quality_step > 0 and not q[k + 1] - q[k] >= c.min_quality_step:
            return False
        if not q[k + 1] > q[k]:
            return False
        if c.min_ratio is not None and r[k + 1] / r[k] < c.min_ratio:
            return False
        if c.max_ratio is not None and r[k + 1] / r[k] > c.max_ratio:
            return False
    return True


def objective(r, q, c: RungConstraints) -> tuple:
    """The documented lexicographic objective (smaller is better)."""
    cap = math.inf if c.quality_cap is None else c.quality_cap
    qc = [min(v, cap) for v in q]
    largest_step = max((qc[k + 1] - qc[k] for k in range(len(q) - 1)), default=0.0)
    return (-qc[-1], r[0], largest_step, len(r), sum(r))


def exhaustive(frame: pd.DataFrame, c: RungConstraints):
    """Best objective over every subset of the rows, or None when no subset is a valid ladder."""
    rows = frame.sort_values(["bitrate_kbps", "vmaf"], kind="stable")
    r = rows["bitrate_kbps"].tolist()
    q = rows["vmaf"].tolist()
    res = list(zip(rows["width"].tolist(), rows["height"].tolist()))
    best = None
    for size in range(1, len(r) + 1):
        for subset in itertools.combinations(range(len(r)), size):
            sr = [r[k] for k in subset]
            sq = [q[k] for k in subset]
            if allowed_chain(sr, sq, [res[k] for k in subset], c):
                key = objective(sr, sq, c)
                best = key if best is None or key < best else best
    return best


# ---------------------------------------------------------------------------------- data

RES = [(416, 234), (640, 360), (1280, 720)]


def ladder_frame(points) -> pd.DataFrame:
    """Frame from (kbps, vmaf, resolution index) triples."""
    return pd.DataFrame(
        {
            "bitrate_kbps": [float(p[0]) for p in points],
            "vmaf": [float(p[1]) for p in points],
            "width": [RES[p[2]][0] for p in points],
            "height": [RES[p[2]][1] for p in points],
        }
    )


# A small hull: A..G (name -> kbps, vmaf, resolution); H and I pass the cap of 95.
POINTS = {
    "A": (100, 30, 0),
    "B": (200, 40, 0),
    "C": (300, 45, 0),
    "D": (400, 52, 1),
    "E": (800, 60, 1),
    "F": (1600, 70, 2),
    "G": (3200, 80, 2),
    "H": (6400, 96, 2),
    "I": (12800, 98, 2),
}


def golden_frame(names: str) -> pd.DataFrame:
    frame = ladder_frame([POINTS[n] for n in names])
    frame.index = list(names)
    return frame


def chosen(frame: pd.DataFrame, c: RungConstraints | None = None) -> str:
    return "".join(select_rungs(frame, c).index)


# ------------------------------------------------------------------------------- golden


def test_golden_default_evens_the_steps():
    # From A to G with steps >= 6: C is 5 above B, so the smallest largest step is B -> D (12);
    # no rung can be skipped without a larger step.
    assert chosen(golden_frame("ABCDEFG")) == "ABDEFG"


def test_golden_fixed_number_of_rungs():
    # A - x - G: D gives steps 22 and 28, the smallest largest step
    assert chosen(golden_frame("ABCDEFG"), RungConstraints(n_rungs=3)) == "ADG"
    assert chosen(golden_frame("ABCDEFG"), RungConstraints(n_rungs=1)) == "G"
    assert chosen(golden_frame("ABCDEFG"), RungConstraints(n_rungs=2)) == "AG"


def test_golden_min_ratio():
    # neighbours at least 2.5x apart: A-C-E-G (steps 15, 15, 20)
    assert chosen(golden_frame("ABCDEFG"), RungConstraints(min_ratio=2.5)) == "ACEG"


def test_golden_max_bitrate_and_floor():
    assert chosen(golden_frame("ABCDEFG"), RungConstraints(max_bitrate_kbps=1000)) == "ABDE"
    assert chosen(golden_frame("ABCDEFG"), RungConstraints(min_bitrate_kbps=150)) == "BDEFG"


def test_golden_quality_cap():
    # H (96) and I (98) both reach the cap of 95: the cheaper H tops the ladder. G -> H counts
    # as a step of 15 (quality above the cap does not count); the fewest rungs with no step
    # above 15 are A-C-E-F-G-H.
    assert chosen(golden_frame("ABCDEFGHI")) == "ACEFGH"
    # without a cap, I (98) is the top
    assert chosen(golden_frame("ABCDEFGHI"), RungConstraints(quality_cap=None))[-1] == "I"


def test_golden_allowed_resolutions():
    c = RungConstraints(allowed_resolutions=((640, 360), (1280, 720)))
    assert chosen(golden_frame("ABCDEFG"), c) == "DEFG"


def test_only_hull_rows_are_candidates():
    frame = golden_frame("ABCDEFG")
    frame["on_hull"] = [True, False, True, True, True, True, True]
    # without B the first step is at least A -> C (15); the fewest rungs keeping every step
    # within 15 are A-C-E-F-G
    assert chosen(frame) == "ACEFG"


def test_keeps_columns_and_index():
    frame = golden_frame("ABCDEFG")
    frame["crf"] = range(7)
    out = select_rungs(frame)
    assert list(out.columns) == list(frame.columns)
    pd.testing.assert_frame_equal(out, frame.loc[list("ABDEFG")])


def test_other_column_names():
    frame = golden_frame("ABCDEFG").rename(columns={"bitrate_kbps": "kbps", "vmaf": "q", "width": "w", "height": "h"})
    c = RungConstraints(allowed_resolutions=((640, 360), (1280, 720)))
    out = select_rungs(frame, c, rate_col="kbps", quality_col="q", width_col="w", height_col="h")
    assert "".join(out.index) == "DEFG"
    assert validate_ladder(out, c, rate_col="kbps", quality_col="q", width_col="w", height_col="h") == []


def test_on_a_realistic_hull():
    rng = np.random.default_rng(5)
    rows = []
    for w, h in [(416, 234), (640, 360), (960, 540), (1280, 720), (1920, 1080)]:
        for crf in range(18, 52, 3):
            rate = 9000 * (w * h / 2073600) ** 0.8 * 2 ** (-(crf - 23) / 5.5)
            top = 100 - 9 * np.log2(1080 / h) ** 1.15
            vmaf = top / (1 + np.exp(-0.8 * (np.log2(rate) - np.log2(60 * (h / 234) ** 1.3)))) + rng.normal(0, 0.25)
            rows.append({"width": w, "height": h, "crf": crf, "bitrate_kbps": rate, "vmaf": vmaf})
    hull = hull_frame(pd.DataFrame(rows))
    for c in [
        RungConstraints(),
        RungConstraints(min_bitrate_kbps=145, max_bitrate_kbps=8000),
        RungConstraints(n_rungs=6, min_ratio=1.5, max_ratio=2.5),
    ]:
        ladder = select_rungs(hull, c)
        assert validate_ladder(ladder, c) == []
        assert ladder["on_hull"].all()
        if c.n_rungs is not None:
            assert len(ladder) == c.n_rungs


# ------------------------------------------------------------------------- vs exhaustive


@st.composite
def candidate_frames(draw):
    n = draw(st.integers(1, 9))
    pts = draw(
        st.lists(
            st.tuples(st.integers(50, 4000), st.integers(0, 100), st.integers(0, 2)),
            min_size=n,
            max_size=n,
        )
    )
    return ladder_frame(pts)


@st.composite
def constraints(draw):
    lo = draw(st.none() | st.integers(50, 1500))
    hi = draw(st.none() | st.integers(200, 4000))
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    rmin = draw(st.none() | st.sampled_from([1.0, 1.3, 1.5, 2.0]))
    rmax = draw(st.none() | st.sampled_from([1.5, 2.0, 3.0, 6.0]))
    if rmin is not None and rmax is not None and rmin > rmax:
        rmin, rmax = rmax, rmin
    n = draw(st.none() | st.integers(1, 5))
    if n is not None and n > 1 and lo is not None and hi is not None and lo == hi:
        n = None
    kwargs = dict(
        n_rungs=n,
        min_bitrate_kbps=lo,
        max_bitrate_kbps=hi,
        min_ratio=rmin,
        max_ratio=rmax,
        min_quality_step=draw(st.sampled_from([0.0, 3.0, 6.0, 12.0])),
        quality_cap=draw(st.none() | st.sampled_from([60.0, 95.0])),
        allowed_resolutions=draw(st.none() | st.sets(st.sampled_from(RES), min_size=1).map(tuple)),
    )
    try:
        return RungConstraints(**kwargs)
    except ParameterError:  # n_rungs that cannot fit the bitrate range at min_ratio
        kwargs["n_rungs"] = None
        return RungConstraints(**kwargs)


@given(candidate_frames(), constraints())
def test_selection_is_optimal_and_valid(frame, c):
    best = exhaustive(frame, c)
    if best is None:
        with pytest.raises(ParameterError, match=r"constraints=.* is invalid: no ladder"):
            select_rungs(frame, c)
        return
    ladder = select_rungs(frame, c)
    assert validate_ladder(ladder, c) == []
    r = ladder["bitrate_kbps"].tolist()
    q = ladder["vmaf"].tolist()
    assert all(b > a for a, b in zip(r, r[1:])) and all(b > a for a, b in zip(q, q[1:]))
    assert objective(r, q, c) == best


@given(candidate_frames(), constraints())
def test_validator_agrees_with_the_plain_check(frame, c):
    ladder = frame.sort_values("bitrate_kbps")
    plain = allowed_chain(
        ladder["bitrate_kbps"].tolist(),
        ladder["vmaf"].tolist(),
        list(zip(ladder["width"].tolist(), ladder["height"].tolist())),
        c,
    )
    assert (validate_ladder(frame, c) == []) == plain


# --------------------------------------------------------------------------- infeasible


def test_infeasible_selections_say_why():
    frame = golden_frame("ABCDEFG")
    with pytest.raises(ParameterError, match=r"no ladder of n_rungs=9 rungs: at most 6 of the 7 candidate points"):
        select_rungs(frame, RungConstraints(n_rungs=9))
    with pytest.raises(ParameterError, match=r"no ladder possible: none of the 7 candidate points lies within"):
        select_rungs(frame, RungConstraints(min_bitrate_kbps=5000))
    with pytest.raises(ParameterError, match=r"none of the 7 candidate"):
        select_rungs(frame, RungConstraints(allowed_resolutions=((1920, 1080),)))
    with pytest.raises(ParameterError, match=r"no ladder of n_rungs=2"):
        select_rungs(frame, RungConstraints(n_rungs=2, max_ratio=1.2))


def test_selection_argument_errors():
    frame = golden_frame("ABCDEFG")
    with pytest.raises(ParameterError, match=r"hull_points=.* must be a pandas DataFrame"):
        select_rungs(frame.to_dict())  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"constraints=.* must be a RungConstraints"):
        select_rungs(frame, {"n_rungs": 3})  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"quality_col='psnr' is invalid: is not a column"):
        select_rungs(frame, quality_col="psnr")
    with pytest.raises(ParameterError, match=r"width_col='w' is invalid"):
        select_rungs(frame, RungConstraints(allowed_resolutions=((640, 360),)), width_col="w")
    bad = frame.copy()
    bad.loc["C", "vmaf"] = np.nan
    with pytest.raises(ParameterError, match=r"vmaf\['C'\]=nan is invalid: must be finite"):
        select_rungs(bad)
    bad = frame.copy()
    bad.loc["D", "bitrate_kbps"] = -1
    with pytest.raises(ParameterError, match=r"bitrate_kbps\['D'\]=-1\.0 is invalid: must be finite and > 0"):
        select_rungs(bad)


# -------------------------------------------------------------------------- constraints


def test_constraints_defaults_and_normalisation():
    c = RungConstraints()
    assert (c.min_quality_step, c.quality_cap, c.n_rungs) == (6.0, 95.0, None)
    c = RungConstraints(n_rungs=np.int64(4), min_bitrate_kbps=145, allowed_resolutions=[[640, 360], (1280, 720)])
    assert c.n_rungs == 4 and type(c.n_rungs) is int
    assert c.min_bitrate_kbps == 145.0 and type(c.min_bitrate_kbps) is float
    assert c.allowed_resolutions == ((640, 360), (1280, 720))
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.n_rungs = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_rungs": 0}, r"n_rungs=0 is invalid: must be an integer >= 1"),
        ({"n_rungs": 2.5}, r"n_rungs=2\.5 is invalid"),
        ({"n_rungs": True}, r"n_rungs=True is invalid"),
        ({"min_bitrate_kbps": 0}, r"min_bitrate_kbps=0 is invalid: must be finite and > 0"),
        ({"max_bitrate_kbps": float("inf")}, r"max_bitrate_kbps=inf is invalid"),
        ({"min_ratio": 0.9}, r"min_ratio=0\.9 is invalid: must be finite and >= 1"),
        ({"max_ratio": 1.0}, r"max_ratio=1\.0 is invalid: must be finite and > 1"),
        ({"min_quality_step": -1}, r"min_quality_step=-1 is invalid: must be finite and >= 0"),
        ({"quality_cap": float("nan")}, r"quality_cap=nan is invalid: must be finite"),
        ({"allowed_resolutions": ()}, r"allowed_resolutions=\(\) is invalid: must be a non-empty sequence"),
        ({"allowed_resolutions": "1280x720"}, r"allowed_resolutions='1280x720' is invalid"),
        ({"allowed_resolutions": ((1280, 720, 3),)}, r"allowed_resolutions\[0\]=.* must be a \(width, height\) pair"),
        ({"allowed_resolutions": ((1280, 0),)}, r"allowed_resolutions\[0\] height=0 is invalid"),
        ({"allowed_resolutions": 5}, r"allowed_resolutions=5 is invalid"),
    ],
)
def test_constraint_values(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        RungConstraints(**kwargs)


def test_contradictory_constraints_name_both():
    with pytest.raises(ParameterError, match=r"min_bitrate_kbps=5000\.0 is invalid: must be <= max_bitrate_kbps=3000"):
        RungConstraints(min_bitrate_kbps=5000, max_bitrate_kbps=3000)
    with pytest.raises(ParameterError, match=r"min_ratio=2\.0 is invalid: must be <= max_ratio=1\.5"):
        RungConstraints(min_ratio=2.0, max_ratio=1.5)
    # 200 * 2**4 = 3200 > 3000: only 4 rungs fit
    with pytest.raises(
        ParameterError,
        match=r"n_rungs=5 is invalid: cannot fit between min_bitrate_kbps=200 and max_bitrate_kbps=3000 with "
        r"min_ratio=2: at most 4 rungs do",
    ):
        RungConstraints(n_rungs=5, min_bitrate_kbps=200, max_bitrate_kbps=3000, min_ratio=2.0)
    fits = RungConstraints(n_rungs=5, min_bitrate_kbps=200, max_bitrate_kbps=3200, min_ratio=2.0)
    assert fits.max_rungs_in_range() == 5
    with pytest.raises(ParameterError, match=r"n_rungs=2 is invalid: needs distinct bitrates but min_bitrate_kbps = "):
        RungConstraints(n_rungs=2, min_bitrate_kbps=1000, max_bitrate_kbps=1000)
    RungConstraints(n_rungs=1, min_bitrate_kbps=1000, max_bitrate_kbps=1000)  # fine


# ---------------------------------------------------------------------------- validator


def test_validator_lists_every_violation():
    c = RungConstraints(
        n_rungs=3,
        min_bitrate_kbps=150,
        max_bitrate_kbps=5000,
        min_ratio=1.5,
        max_ratio=3.0,
        allowed_resolutions=((640, 360), (1280, 720)),
    )
    ladder = ladder_frame(
        [
            (100, 30, 0),  # below min bitrate, 416x234 not allowed
            (130, 33, 1),  # below min bitrate too, ratio 1.3 < 1.5, step 3 < 6
            (1000, 96, 2),  # ratio 7.7 > 3, at the cap but not the top
            (6000, 96, 2),  # above max bitrate, ratio 6 > 3, quality does not increase
        ]
    )
    problems = validate_ladder(ladder, c)
    expected = [
        r"the ladder has 4 rungs, n_rungs=3 requires exactly 3",
        r"rung 1 \(100 kbps\): below min_bitrate_kbps=150",
        r"rung 2 \(130 kbps\): below min_bitrate_kbps=150",
        r"rung 4 \(6000 kbps\): above max_bitrate_kbps=5000",
        r"rung 1 \(100 kbps\): resolution 416x234 is not in allowed_resolutions",
        r"rung 1 \(100 kbps\) -> rung 2 \(130 kbps\): bitrate ratio 1\.3 is below min_ratio=1\.5",
        r"rung 1 \(100 kbps\) -> rung 2 \(130 kbps\): vmaf step 3 is below min_quality_step=6",
        r"rung 2 \(130 kbps\) -> rung 3 \(1000 kbps\): bitrate ratio 7\.692 is above max_ratio=3",
        r"rung 3 \(1000 kbps\) -> rung 4 \(6000 kbps\): bitrate ratio 6 is above max_ratio=3",
        r"rung 3 \(1000 kbps\) -> rung 4 \(6000 kbps\): vmaf does not increase \(96 -> 96\)",
        r"rung 3 \(1000 kbps\): vmaf=96 is at or above quality_cap=95 but is not the top rung",
    ]
    assert len(problems) == len(expected), problems
    for pattern in expected:
        assert any(re.fullmatch(pattern, p) for p in problems), (pattern, problems)


def test_validator_sorts_by_rate_and_flags_bad_values():
    ladder = ladder_frame([(800, 60, 1), (200, 40, 0), (200, 50, 0)])
    problems = validate_ladder(ladder)
    assert problems == ["rung 1 (200 kbps) -> rung 2 (200 kbps): the bitrates are equal"]
    ladder = ladder_frame([(200, 40, 0), (800, 60, 1)])
    ladder.loc[0, "bitrate_kbps"] = np.nan
    ladder.loc[1, "vmaf"] = np.inf
    problems = validate_ladder(ladder)
    assert "rung 2 (nan kbps): bitrate_kbps=nan must be finite and > 0" in problems
    assert "rung 1 (800 kbps): vmaf=inf must be finite" in problems


def test_validator_without_quality_and_empty():
    ladder = ladder_frame([(100, 0, 0), (400, 0, 1)]).drop(columns="vmaf")
    assert validate_ladder(ladder, RungConstraints(max_ratio=3.0), quality_col=None) == [
        "rung 1 (100 kbps) -> rung 2 (400 kbps): bitrate ratio 4 is above max_ratio=3"
    ]
    assert validate_ladder(ladder.iloc[:0], quality_col=None) == ["the ladder has no rungs"]
    with pytest.raises(ParameterError, match=r"quality_col='vmaf' is invalid: is not a column"):
        validate_ladder(ladder)
    with pytest.raises(ParameterError, match=r"rungs=.* must be a pandas DataFrame"):
        validate_ladder([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"height_col='height' is invalid"):
        validate_ladder(ladder.drop(columns="height"), RungConstraints(allowed_resolutions=((1, 1),)), quality_col=None)


# =============================================================== fixed reference ladders


def _rungs_of(ladder: FixedLadder) -> list[tuple[float, object, object]]:
    return [(r.bitrate_kbps, r.width, r.height) for r in ladder.rungs]


def test_apple_ladder_data():
    assert _rungs_of(APPLE_HLS_H264) == [
        (145, 416, 234),
        (365, 480, 270),
        (730, 640, 360),
        (1100, 768, 432),
        (2000, 960, 540),
        (3000, 1280, 720),
        (4500, "source", "source"),
        (6000, "source", "source"),
        (7800, "source", "source"),
    ]


def test_netflix_ladder_data():
    assert _rungs_of(NETFLIX_2015) == [
        (235, 320, 240),
        (375, 384, 288),
        (560, 512, 384),
        (750, 512, 384),
        (1050, 640, 480),
        (1750, 720, 480),
        (2350, 1280, 720),
        (3000, 1280, 720),
        (4300, 1920, 1080),
        (5800, 1920, 1080),
    ]


def test_registry():
    assert FIXED_LADDERS == {"apple-hls-h264": APPLE_HLS_H264, "netflix-2015": NETFLIX_2015}
    for name, ladder in FIXED_LADDERS.items():
        assert ladder.name == name and ladder.codec == "h264" and ladder.reference
    assert not APPLE_HLS_H264.resolved and NETFLIX_2015.resolved
    assert APPLE_HLS_H264.bitrates_kbps == (145, 365, 730, 1100, 2000, 3000, 4500, 6000, 7800)
    assert [r.at_source for r in APPLE_HLS_H264.rungs] == [False] * 6 + [True] * 3


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        APPLE_HLS_H264.rungs[0].bitrate_kbps = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        NETFLIX_2015.name = "x"  # type: ignore[misc]


# ----------------------------------------------------------------------------------- resolve


def test_resolve_at_1080p_maps_source_only():
    apple = APPLE_HLS_H264.resolve(1920, 1080)
    assert _rungs_of(apple)[6:] == [(4500, 1920, 1080), (6000, 1920, 1080), (7800, 1920, 1080)]
    assert _rungs_of(apple)[:6] == _rungs_of(APPLE_HLS_H264)[:6]
    assert apple.resolved and apple.name == "apple-hls-h264"
    assert NETFLIX_2015.resolve(1920, 1080) == NETFLIX_2015


def test_resolve_at_720p_clamps_larger_rungs():
    netflix = NETFLIX_2015.resolve(1280, 720)
    assert _rungs_of(netflix)[-2:] == [(4300, 1280, 720), (5800, 1280, 720)]
    assert _rungs_of(netflix)[:-2] == _rungs_of(NETFLIX_2015)[:-2]
    apple = APPLE_HLS_H264.resolve(1280, 720)
    assert [(w, h) for _, w, h in _rungs_of(apple)[5:]] == [(1280, 720)] * 4


def test_resolve_at_360p_keeps_each_rungs_aspect():
    netflix = NETFLIX_2015.resolve(640, 360)
    assert _rungs_of(netflix) == [
        (235, 320, 240),  # fits: kept as published
        (375, 384, 288),  # fits
        (560, 480, 360),  # 512x384 * min(640/512, 360/384) = 0.9375
        (750, 480, 360),
        (1050, 480, 360),  # 640x480 * 0.75
        (1750, 540, 360),  # 720x480 * 0.75
        (2350, 640, 360),  # 1280x720 * 0.5
        (3000, 640, 360),
        (4300, 640, 360),  # 1920x1080 * 1/3
        (5800, 640, 360),
    ]


def test_resolve_rounds_down_to_even():
    apple = APPLE_HLS_H264.resolve(1279, 719)
    assert _rungs_of(apple)[5:] == [(3000, 1278, 718), (4500, 1278, 718), (6000, 1278, 718), (7800, 1278, 718)]
    # 1280x720 * min(1279/1280, 719/720) = 1278.2 x 719.0 -> 1278 x 718
    tiny = APPLE_HLS_H264.resolve(3, 2)
    assert all(w >= 2 and h >= 2 and w % 2 == 0 and h % 2 == 0 for _, w, h in _rungs_of(tiny))


def test_resolve_drop():
    netflix = NETFLIX_2015.resolve(1280, 720, above_source="drop")
    assert netflix.bitrates_kbps == (235, 375, 560, 750, 1050, 1750, 2350, 3000)
    apple = APPLE_HLS_H264.resolve(640, 360, above_source="drop")
    assert _rungs_of(apple) == [
        (145, 416, 234),
        (365, 480, 270),
        (730, 640, 360),
        (4500, 640, 360),
        (6000, 640, 360),
        (7800, 640, 360),
    ]
    with pytest.raises(ParameterError, match=r"above_source='drop' is invalid: drops every rung of 'netflix-2015'"):
        NETFLIX_2015.resolve(300, 200, above_source="drop")


def test_resolve_errors():
    with pytest.raises(ParameterError, match=r"source_width=0 is invalid: must be an integer >= 2"):
        APPLE_HLS_H264.resolve(0, 720)
    with pytest.raises(ParameterError, match=r"source_height=720\.0 is invalid"):
        APPLE_HLS_H264.resolve(1280, 720.0)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"above_source='upscale' is invalid: must be 'clamp' or 'drop'"):
        APPLE_HLS_H264.resolve(1280, 720, above_source="upscale")  # type: ignore[arg-type]


@given(
    st.sampled_from(sorted(FIXED_LADDERS)),
    st.integers(2, 4096),
    st.integers(2, 2304),
    st.sampled_from(["clamp", "drop"]),
)
def test_resolve_properties(name, sw, sh, mode):
    ladder = FIXED_LADDERS[name]
    try:
        out = ladder.resolve(sw, sh, above_source=mode)
    except ParameterError:
        assert mode == "drop"
        return
    assert out.resolved
    for rung in out.rungs:
        assert 2 <= rung.width <= sw and 2 <= rung.height <= sh
    if mode == "clamp":
        assert out.bitrates_kbps == ladder.bitrates_kbps
        for before, after in zip(ladder.rungs, out.rungs):
            if not before.at_source and (before.width > sw or before.height > sh):
                # shrunk keeping its own aspect ratio, up to the rounding to even numbers
                assert after.width % 2 == 0 and after.height % 2 == 0
                skew = abs(after.width * before.height - after.height * before.width)
                assert skew <= 2 * (before.width + before.height)
    else:
        assert set(out.bitrates_kbps) <= set(ladder.bitrates_kbps)
    assert out.resolve(sw, sh, above_source=mode) == out  # idempotent


# ------------------------------------------------------------------------------- validation


def test_rung_validation():
    assert LadderRung(145, 416, 234).bitrate_kbps == 145.0
    assert LadderRung(4500, SOURCE, SOURCE).at_source
    with pytest.raises(ParameterError, match=r"bitrate_kbps=0 is invalid: must be finite and > 0"):
        LadderRung(0, 416, 234)
    with pytest.raises(ParameterError, match=r"height=1080 is invalid: must be 'source' too"):
        LadderRung(4500, "source", 1080)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"width=1920 is invalid: must be 'source' too"):
        LadderRung(4500, 1920, "source")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"width=416\.5 is invalid: must be an integer >= 1"):
        LadderRung(145, 416.5, 234)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"width='src' is invalid"):
        LadderRung(145, "src", "src")  # type: ignore[arg-type]


def test_ladder_validation():
    with pytest.raises(ParameterError, match=r"rungs=\(\) is invalid: must hold at least one LadderRung"):
        FixedLadder("empty", ())
    with pytest.raises(ParameterError, match=r"rungs\[1\]\.bitrate_kbps=300\.0 is invalid: must be above the previous"):
        FixedLadder("x", (LadderRung(300, 640, 360), LadderRung(300, 960, 540)))
    with pytest.raises(ParameterError, match=r"rungs\[0\]=.* must be a LadderRung"):
        FixedLadder("x", ((300, 640, 360),))  # type: ignore[arg-type]
    one = LadderRung(300, 640, 360)
    assert FixedLadder("list", [one]).rungs == (one,)  # type: ignore[arg-type]


def test_to_frame():
    frame = APPLE_HLS_H264.resolve(1920, 1080).to_frame()
    assert list(frame.columns) == ["bitrate_kbps", "width", "height"]
    assert frame["width"].tolist()[-1] == 1920 and frame["bitrate_kbps"].tolist()[0] == 145.0
    raw = APPLE_HLS_H264.to_frame()
    assert raw["width"].tolist()[-1] == "source"
    assert isinstance(raw, pd.DataFrame)


def test_fixed_ladders_pass_the_bitrate_checks():
    # The published ladders have distinct, increasing rates; Apple's neighbours are 1.3x-2.52x apart.
    for ladder in FIXED_LADDERS.values():
        frame = ladder.resolve(1920, 1080).to_frame()
        assert validate_ladder(frame, quality_col=None) == []
    apple = APPLE_HLS_H264.resolve(1920, 1080).to_frame()
    assert validate_ladder(apple, RungConstraints(min_ratio=1.3, max_ratio=2.6), quality_col=None) == []
    assert validate_ladder(apple, RungConstraints(min_ratio=1.5), quality_col=None) == [
        "rung 7 (4500 kbps) -> rung 8 (6000 kbps): bitrate ratio 1.333 is below min_ratio=1.5",
        "rung 8 (6000 kbps) -> rung 9 (7800 kbps): bitrate ratio 1.3 is below min_ratio=1.5",
    ]
