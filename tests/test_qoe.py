"""QoE models: golden rewards worked out by hand, totals, and validation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from abrkit import QOE_MODELS, ParameterError, QoE, Trace, Video, get_qoe, simulate

LADDER_KBPS = [300, 750, 1200, 1850, 2850, 4300]
VIDEO = Video.constant_bitrate(LADDER_KBPS, 4.0, 5, name="pensieve-ladder")
RUNGS = np.array([1, 0, 1, 2, 5])
REBUF_0 = 0.8872836624630916  # chunk 0 of norway_bus_1 in Pensieve's bb.csv
REBUFFER_S = np.array([REBUF_0, 0.0, 0.0, 0.5, 0.0])


def test_linear_golden():
    # utilities (Mbps): 0.75, 0.3, 0.75, 1.2, 4.3; switches: -, 0.45, 0.45, 0.45, 3.1
    expected = [0.75 - 4.3 * REBUF_0, 0.3 - 0.45, 0.75 - 0.45, 1.2 - 4.3 * 0.5 - 0.45, 4.3 - 3.1]
    rewards = QoE.linear().rewards(VIDEO, RUNGS, REBUFFER_S)
    np.testing.assert_allclose(rewards, expected, rtol=1e-12)
    # The first two match Pensieve's bb.csv rows for norway_bus_1 to the last digit printed.
    assert rewards[0] == pytest.approx(-3.065319748591294, rel=1e-15)
    assert rewards[1] == pytest.approx(-0.15, rel=1e-15)


def test_log_golden():
    ln = math.log
    u = [ln(750 / 300), 0.0, ln(750 / 300), ln(1200 / 300), ln(4300 / 300)]
    expected = [
        u[0] - 2.66 * REBUF_0,
        u[1] - abs(u[1] - u[0]),
        u[2] - abs(u[2] - u[1]),
        u[3] - 2.66 * 0.5 - abs(u[3] - u[2]),
        u[4] - abs(u[4] - u[3]),
    ]
    np.testing.assert_allclose(QoE.log().rewards(VIDEO, RUNGS, REBUFFER_S), expected, rtol=1e-12)
    assert expected[2] == 0.0 and expected[4] == pytest.approx(ln(4.0))


def test_hd_golden():
    # table (1, 2, 3, 12, 15, 20): utilities 2, 1, 2, 3, 20; rebuffer weight 8
    expected = [2 - 8 * REBUF_0, 1 - 1, 2 - 1, 3 - 8 * 0.5 - 1, 20 - 17]
    np.testing.assert_allclose(QoE.hd().rewards(VIDEO, RUNGS, REBUFFER_S), expected, rtol=1e-12)


def test_quality_golden():
    quality = np.array([[10.0, 20.0], [30.0, 50.0], [40.0, 45.0]])
    video = Video([3e5, 7.5e5], 4.0, np.full((3, 2), 1e5), quality=quality, name="q")
    rungs = np.array([1, 0, 1])
    rebuf = np.array([0.1, 0.0, 0.2])
    # utilities 20, 30, 45; rebuffer weight 100
    expected = [20 - 100 * 0.1, 30 - 10, 45 - 100 * 0.2 - 15]
    np.testing.assert_allclose(QoE.quality().rewards(video, rungs, rebuf), expected, rtol=1e-12)


def test_custom_weights():
    model = QoE.linear(rebuffer_weight=10.0, switch_weight=0.0)
    expected = [0.75 - 10 * REBUF_0, 0.3, 0.75, 1.2 - 5.0, 4.3]
    np.testing.assert_allclose(model.rewards(VIDEO, RUNGS, REBUFFER_S), expected, rtol=1e-12)


def test_include_first_chunk():
    rewards = QoE.linear().rewards(VIDEO, RUNGS, REBUFFER_S)
    with_first = QoE.linear().total(rewards)
    without_first = QoE.linear(include_first_chunk=False).total(rewards)
    assert with_first == pytest.approx(np.sum(rewards))
    assert without_first == pytest.approx(-0.15 + 0.3 - 1.4 + 1.2)
    assert QoE.linear().with_first_chunk(False) == QoE.linear(include_first_chunk=False)
    assert QoE.hd().with_first_chunk(False).table == QoE.hd().table


def test_unplayed_chunks_are_nan_and_do_not_count():
    rungs = np.array([[1, 0, -1, -1, -1], [1, 0, 1, 2, 5]])  # a stalled session and a full one
    rebuf = np.array([[REBUF_0, 0.0, np.nan, np.nan, np.nan], REBUFFER_S])
    rewards = QoE.linear().rewards(VIDEO, rungs, rebuf)
    assert rewards.shape == (2, 5)
    assert np.isnan(rewards[0, 2:]).all() and not np.isnan(rewards[1]).any()
    totals = QoE.linear().total(rewards)
    np.testing.assert_allclose(totals, [0.75 - 4.3 * REBUF_0 - 0.15, np.sum(rewards[1])], rtol=1e-12)


def test_simulate_scores_with_the_model_asked_for():
    trace = Trace.constant(2e6, name="2M")
    for name in ("linear", "log", "hd"):
        result = simulate(trace, VIDEO, "bb", "default", qoe=name)
        expected = get_qoe(name).rewards(VIDEO, result.rung, result.rebuffer_s)
        np.testing.assert_allclose(result.reward, expected, rtol=1e-12)
        assert result.qoe == pytest.approx(float(np.sum(expected)))
    # The pensieve profile's own model skips chunk 0 in totals.
    result = simulate(Trace(np.array([0.0, 1.0]), np.array([2e6, 2e6])), VIDEO, "bb", "pensieve")
    assert result.qoe == pytest.approx(float(np.sum(result.reward[1:])))


@pytest.mark.shared
def test_linear_rewards_match_pensieve_rows(shared_data):
    path = shared_data / "reference" / "pensieve" / "bb.csv"
    if not path.is_file():
        pytest.skip(f"reference data not found: {path}")
    rows = pd.read_csv(path)
    rows = rows[rows["trace"] == "norway_car_3"].sort_values("chunk")
    rungs = np.searchsorted(LADDER_KBPS, rows["bitrate_kbps"].to_numpy())
    video = Video.constant_bitrate(LADDER_KBPS, 4.0, len(rows))
    rewards = QoE.linear().rewards(video, rungs, rows["rebuffer_s"].to_numpy())
    np.testing.assert_allclose(rewards, rows["reward"].to_numpy(), rtol=1e-12, atol=1e-12)


def test_registry_and_settings():
    assert set(QOE_MODELS) == {"linear", "log", "hd", "quality"}
    assert get_qoe("LOG") == QoE.log()
    model = QoE.hd()
    assert get_qoe(model) is model
    assert QoE.linear().settings() == {
        "qoe": "linear", "utility": "bitrate_mbps", "rebuffer_weight": 4.3, "switch_weight": 1.0,
        "table": [], "include_first_chunk": True,
    }
    assert QoE.hd().table == (1.0, 2.0, 3.0, 12.0, 15.0, 20.0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: QoE(utility="vmaf"), r"utility='vmaf' is invalid: must be one of bitrate_mbps, log, table, quality"),
        (lambda: QoE.linear(rebuffer_weight=-1.0), r"rebuffer_weight=-1\.0 is invalid: must be finite and >= 0"),
        (lambda: QoE.log(switch_weight=float("nan")), r"switch_weight=nan is invalid: must be finite and >= 0"),
        (lambda: QoE(name="t", utility="table"), r"table=\(\) is invalid: a 'table' utility needs one value per rung"),
        (lambda: QoE.hd(table=(1, 2, float("inf"))), r"table\[2\]=inf is invalid: must be finite"),
        (lambda: get_qoe("mos"), r"qoe='mos' is invalid: unknown QoE model; known: linear, log, hd, quality"),
        (
            lambda: QoE.hd(table=(1, 2, 3)).rewards(VIDEO, RUNGS, REBUFFER_S),
            r"table=\(1\.0, 2\.0, 3\.0\) is invalid: has 3 values but the video has 6 rungs",
        ),
        (
            lambda: QoE.quality().rewards(VIDEO, RUNGS, REBUFFER_S),
            r"qoe='quality' is invalid: needs per-chunk quality, which video 'pensieve-ladder' does not have",
        ),
    ],
)
def test_validation(call, message):
    with pytest.raises(ParameterError, match=message):
        call()
