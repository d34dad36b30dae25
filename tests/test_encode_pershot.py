"""abrkit.encode.pershot: the path of optimal per-shot allocations, targets, per-shot ladders."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from abrkit.encode.bdrate import bd_rate
from abrkit.encode.hull import upper_hull
from abrkit.encode.pershot import allocate, allocation_path, per_shot_ladder
from abrkit.encode.rungs import RungConstraints
from abrkit.errors import ParameterError


def _curve_points(rng: np.random.Generator, n_shots: int, n_points: int) -> pd.DataFrame:
    """Random concave-ish rate-quality curves, one per shot, of differing difficulty, plus noise
    points off the hull."""
    rows = []
    for i in range(n_shots):
        difficulty = rng.uniform(0.3, 3.0)
        rates = np.sort(rng.uniform(100, 6000, n_points))
        quality = 100 * (1 - np.exp(-rates / (1500 * difficulty))) + rng.normal(0, 2, n_points)
        for j, (r, q) in enumerate(zip(rates, quality)):
            rows.append({"shot": i, "crf": j, "bitrate_kbps": float(r), "vmaf": float(q)})
    return pd.DataFrame(rows)


def _all_allocations(points: pd.DataFrame, durations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(average kbps, mean quality) of every way to pick one point per shot."""
    w = durations / durations.sum()
    per_shot = [points[points["shot"] == i][["bitrate_kbps", "vmaf"]].to_numpy() for i in range(durations.size)]
    rates, quality = [], []
    for combo in itertools.product(*per_shot):
        c = np.array(combo)
        rates.append(float(c[:, 0] @ w))
        quality.append(float(c[:, 1] @ w))
    return np.array(rates), np.array(quality)


@pytest.mark.parametrize("seed", range(6))
def test_path_is_the_hull_of_every_allocation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    points = _curve_points(rng, 3, 5)
    durations = rng.uniform(0.5, 6.0, 3)
    path = allocation_path(points, durations)
    rates, quality = _all_allocations(points, durations)
    hull = upper_hull(rates, quality)
    steps = path.steps
    # every vertex of the hull of all 125 allocations is a point of the path
    for r, q in zip(rates[hull], quality[hull]):
        hit = np.flatnonzero(np.isclose(steps["bitrate_kbps"], r, rtol=0, atol=1e-9))
        assert hit.size and np.isclose(steps["mean_quality"].to_numpy()[hit], q, atol=1e-9).any()
    # and each path point is optimal for its slope among all allocations
    for k in range(1, len(steps)):
        lam = steps["slope"][k]
        best = np.max(quality - lam * rates)
        assert steps["mean_quality"][k] - lam * steps["bitrate_kbps"][k] >= best - 1e-9
    # rate and quality rise along the path; step 0 is every shot's cheapest hull point
    assert (np.diff(steps["bitrate_kbps"]) > 0).all() and (np.diff(steps["mean_quality"]) > 0).all()
    assert np.diff(steps["slope"][1:]).max() <= 0


def test_equal_slopes_are_taken_one_shot_at_a_time() -> None:
    one = [(200.0, 40.0), (400.0, 60.0), (800.0, 80.0)]
    points = pd.DataFrame([{"shot": i, "bitrate_kbps": r, "vmaf": q} for i in range(2) for r, q in one])
    path = allocation_path(points, [2.0, 2.0])
    assert path.steps["shot"].tolist() == [-1, 0, 1, 0, 1]
    assert path.steps["slope"].tolist()[1:] == [0.1, 0.1, 0.05, 0.05]
    # a budget between the two tied moves stops between them
    a = allocate(path, target_kbps=300.0)
    assert a.shots["bitrate_kbps"].tolist() == [400.0, 200.0] and a.step == 1


def test_a_shot_whose_hull_ends_stays_at_its_top() -> None:
    points = pd.DataFrame([
        {"shot": 0, "bitrate_kbps": 300.0, "vmaf": 95.0},  # one encode: nothing to move
        {"shot": 1, "bitrate_kbps": 300.0, "vmaf": 50.0},
        {"shot": 1, "bitrate_kbps": 900.0, "vmaf": 70.0},
        {"shot": 1, "bitrate_kbps": 2700.0, "vmaf": 85.0},
        {"shot": 1, "bitrate_kbps": 2000.0, "vmaf": 60.0},  # under the hull
    ])
    path = allocation_path(points, [1.0, 3.0])
    assert path.steps["shot"].tolist() == [-1, 1, 1]
    assert path.points["on_hull"].tolist() == [True, True, True, True, False]
    top = path.allocation(2)
    assert top.shots["bitrate_kbps"].tolist() == [300.0, 2700.0]
    assert top.bitrate_kbps == pytest.approx((300 * 1 + 2700 * 3) / 4)
    assert top.mean_quality == pytest.approx((95 * 1 + 85 * 3) / 4) and top.min_quality == 85.0


def test_targets() -> None:
    rng = np.random.default_rng(3)
    points = _curve_points(rng, 5, 8)
    path = allocation_path(points, rng.uniform(1, 4, 5))
    steps = path.steps
    budget = float(steps["bitrate_kbps"].median())
    a = allocate(path, target_kbps=budget)
    assert a.bitrate_kbps <= budget and (a.step == len(steps) - 1 or steps["bitrate_kbps"][a.step + 1] > budget)
    m = allocate(path, target_mean=float(steps["mean_quality"][5]) - 1e-9)
    assert m.step == 5
    floor = float(steps["min_quality"].iloc[-1]) - 0.5
    lo = allocate(path, target_min=floor)
    assert lo.min_quality >= floor and (lo.step == 0 or steps["min_quality"][lo.step - 1] < floor)
    assert list(a.shots.columns[:3]) == ["shot", "duration_s", "crf"]
    with pytest.raises(ParameterError, match="below the cheapest allocation"):
        allocate(path, target_kbps=1.0)
    with pytest.raises(ParameterError, match="above the best"):
        allocate(path, target_mean=1000.0)
    with pytest.raises(ParameterError, match="exactly one"):
        allocate(path, target_kbps=100.0, target_mean=50.0)


def test_bad_inputs() -> None:
    points = pd.DataFrame({"shot": [0, 0], "bitrate_kbps": [100.0, 200.0], "vmaf": [50.0, 60.0]})
    with pytest.raises(ParameterError, match=r"shots \[1\].*have no encode"):
        allocation_path(points, [1.0, 1.0])
    with pytest.raises(ParameterError, match="durations_s"):
        allocation_path(points, [0.0])
    with pytest.raises(ParameterError, match="needs a 'vmaf' column"):
        allocation_path(points.drop(columns=["vmaf"]), [1.0])
    with pytest.raises(ParameterError, match="finite and > 0"):
        allocation_path(points.assign(bitrate_kbps=[0.0, 1.0]), [1.0])


def test_per_shot_ladder_beats_one_setting_for_all_shots() -> None:
    # shots of very different difficulty: per-title (one CRF for every shot) wastes bits on the
    # easy ones. The per-shot path must need less bitrate for the same mean quality.
    rng = np.random.default_rng(11)
    crfs = np.arange(18, 44, 2)
    rows = []
    for i, difficulty in enumerate([0.2, 0.5, 1.0, 2.5, 4.0]):
        for crf in crfs:
            rate = 8000 * difficulty * 2.0 ** (-(crf - 18) / 6)
            quality = 100 - 1.6 * (crf - 18) * (0.6 + 0.4 * difficulty) + rng.normal(0, 0.3)
            rows.append({"shot": i, "crf": int(crf), "bitrate_kbps": rate, "vmaf": quality})
    points = pd.DataFrame(rows)
    durations = np.array([4.0, 3.0, 5.0, 2.0, 4.0])
    path = allocation_path(points, durations)
    w = durations / durations.sum()
    per_title = points.pivot(index="crf", columns="shot")
    title_rate = per_title["bitrate_kbps"].to_numpy() @ w
    title_quality = per_title["vmaf"].to_numpy() @ w
    saving = bd_rate(title_rate, title_quality, path.steps["bitrate_kbps"], path.steps["mean_quality"])
    assert saving < -10.0  # percent
    ladder = per_shot_ladder(path, RungConstraints(min_quality_step=6.0, quality_cap=95.0))
    rates = [a.bitrate_kbps for a in ladder]
    quality = [a.mean_quality for a in ladder]
    assert len(ladder) >= 3 and np.all(np.diff(rates) > 0) and np.all(np.diff(quality) >= 6.0)
    with pytest.raises(ParameterError, match="allowed_resolutions"):
        per_shot_ladder(path, RungConstraints(allowed_resolutions=((640, 360),)))
