"""summary_table's spread over traces: median and the bootstrap interval of the mean QoE."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from abrkit.tables import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, bootstrap_mean_interval, summary_table


def _sessions(by_controller: dict[str, list[float]]) -> tuple[pd.DataFrame, np.ndarray]:
    rows = [
        {"controller": name, "status": "complete", "qoe": q, "mean_bitrate_kbps": 1000.0, "rebuffer_s": 0.0,
         "switches": 1}
        for name, values in by_controller.items() for q in values
    ]
    df = pd.DataFrame(rows)
    return df, np.full(len(df), 100.0)


def test_interval_by_hand() -> None:
    """The documented procedure written out: resample n of n with default_rng(0), 2000 times,
    take the 2.5 and 97.5 percentiles of the means."""
    x = np.array([3.0, -1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    idx = np.random.default_rng(0).integers(0, x.size, size=(2000, x.size))
    means = np.array([sum(x[i] for i in row) / x.size for row in idx])
    by_hand = np.quantile(means, [0.025, 0.975])
    assert bootstrap_mean_interval(x) == pytest.approx((by_hand[0], by_hand[1]), rel=1e-12, abs=1e-12)
    assert (BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED) == (2000, 0)


def test_interval_of_two_points_is_their_range() -> None:
    # resampled means of {0, 1} are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4: the 2.5 and
    # 97.5 percentiles of 2000 of them are 0 and 1
    assert bootstrap_mean_interval(np.array([0.0, 1.0])) == (0.0, 1.0)


def test_interval_edge_cases() -> None:
    assert bootstrap_mean_interval(np.array([7.5])) == (7.5, 7.5)
    low, high = bootstrap_mean_interval(np.array([]))
    assert math.isnan(low) and math.isnan(high)
    assert bootstrap_mean_interval(np.array([2.0, np.nan, 2.0])) == (2.0, 2.0)


def test_interval_matches_the_normal_approximation_on_large_samples() -> None:
    x = np.random.default_rng(5).normal(10.0, 3.0, size=400)
    low, high = bootstrap_mean_interval(x)
    half = 1.96 * x.std(ddof=1) / math.sqrt(x.size)
    assert low < x.mean() < high
    assert high - low == pytest.approx(2 * half, rel=0.1)
    assert (low + high) / 2 == pytest.approx(x.mean(), abs=0.1 * half)


def test_interval_is_blocked_without_changing_the_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    import abrkit.tables as tables

    x = np.random.default_rng(1).normal(size=50)
    whole = bootstrap_mean_interval(x)
    monkeypatch.setattr(tables, "_BLOCK_DRAWS", 50 * 7)  # 7 resamples a block
    assert bootstrap_mean_interval(x) == whole


def test_summary_columns_median_and_interval() -> None:
    sessions, played = _sessions({"a": [1.0, 2.0, 10.0], "b": [4.0, np.nan, 6.0, 8.0]})
    out = summary_table(sessions, ["a", "b"], played)
    assert list(out.columns) == [
        "controller", "sessions", "mean_qoe", "qoe_median", "qoe_mean_ci_low", "qoe_mean_ci_high",
        "mean_bitrate_kbps", "mean_rebuffer_s", "rebuffer_ratio", "mean_switches", "stalled_sessions",
    ]
    a, b = out.iloc[0], out.iloc[1]
    assert a["mean_qoe"] == pytest.approx(13 / 3) and a["qoe_median"] == 2.0
    assert b["mean_qoe"] == pytest.approx(6.0) and b["qoe_median"] == 6.0 and b["sessions"] == 4
    assert (a["qoe_mean_ci_low"], a["qoe_mean_ci_high"]) == bootstrap_mean_interval(np.array([1.0, 2.0, 10.0]))
    assert (b["qoe_mean_ci_low"], b["qoe_mean_ci_high"]) == bootstrap_mean_interval(np.array([4.0, 6.0, 8.0]))
    assert 1.0 <= a["qoe_mean_ci_low"] < a["mean_qoe"] < a["qoe_mean_ci_high"] <= 10.0


def test_summary_rows_do_not_depend_on_the_other_controllers() -> None:
    sessions, played = _sessions({"a": [1.0, 5.0, 2.0, 8.0], "b": [0.0, 3.0]})
    both = summary_table(sessions, ["a", "b"], played)
    alone = summary_table(sessions, ["a"], played)
    pd.testing.assert_frame_equal(both.iloc[:1], alone)
    pd.testing.assert_frame_equal(summary_table(sessions, ["a", "b"], played), both)  # deterministic
