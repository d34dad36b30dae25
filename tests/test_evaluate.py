"""evaluate_predictors / prediction_samples / summarize_errors: the offline predictor harness."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import reference
from abrkit import ParameterError, Trace, Video, run_batch
from abrkit.evaluate import DEFAULT_EVAL_VIDEO, ERROR_COLUMNS, evaluate_predictors, prediction_samples, summarize_errors
from abrkit.predictors import PREDICTORS, DualEwma, Ewma, HarmonicMean, KalmanLog, Oracle, SlidingPercentile, get_predictor

DOCUMENTED_COLUMNS = [
    "samples", "missing", "mape", "median_ape", "over_rate", "mean_over", "under_rate", "mean_under",
    "p5", "p25", "p50", "p75", "p95", "rmse_log",
]
NORWAY_PICKS = (3, 40, 90, 130)


@pytest.fixture(scope="module")
def few_norway(norway_traces):
    return [norway_traces[i] for i in NORWAY_PICKS]


def _synthetic_traces(n=3, seed=2):
    rng = np.random.default_rng(seed)
    return [
        Trace.from_durations(rng.uniform(0.5, 3.0, 80), rng.uniform(3e5, 6e6, 80), name=f"synthetic{i}") for i in range(n)
    ]


# -- the summary statistics, by hand ---------------------------------------------------------------


def test_summarize_errors_by_hand():
    samples = pd.DataFrame({
        "predictor": ["a"] * 5,
        "trace": ["t"] * 5,
        "predicted_bps": [110.0, 90.0, 100.0, np.nan, 130.0],
        "actual_bps": [100.0, 100.0, 100.0, 100.0, 100.0],
    })
    row = summarize_errors(samples).iloc[0]
    # e = (predicted - actual) / actual = 0.1, -0.1, 0, 0.3; the NaN is missing.
    assert row["samples"] == 4 and row["missing"] == 1
    assert row["mape"] == pytest.approx((0.1 + 0.1 + 0.0 + 0.3) / 4)
    assert row["median_ape"] == pytest.approx(0.1)  # |e| sorted: 0, 0.1, 0.1, 0.3
    assert row["over_rate"] == pytest.approx(0.5) and row["mean_over"] == pytest.approx(0.2)  # 0.1 and 0.3
    assert row["under_rate"] == pytest.approx(0.25) and row["mean_under"] == pytest.approx(0.1)
    assert row["p50"] == pytest.approx(0.05)  # between 0 and 0.1
    assert row["p5"] == pytest.approx(-0.1 + 0.15 * 0.1)  # numpy's linear interpolation: 0.15 of the way to 0
    logs = [math.log(1.1), math.log(0.9), 0.0, math.log(1.3)]
    assert row["rmse_log"] == pytest.approx(math.sqrt(sum(x * x for x in logs) / 4))
    assert list(summarize_errors(samples).columns) == ["predictor"] + DOCUMENTED_COLUMNS


def test_summarize_errors_with_no_scored_prediction():
    samples = pd.DataFrame({"predictor": ["a", "a"], "predicted_bps": [np.nan, 0.0], "actual_bps": [1.0, 1.0]})
    row = summarize_errors(samples).iloc[0]
    assert row["samples"] == 0 and row["missing"] == 2  # a zero estimate is no estimate either
    assert all(math.isnan(row[c]) for c in DOCUMENTED_COLUMNS[2:])


# -- evaluate_predictors on real traces --------------------------------------------------------------


@pytest.mark.shared
def test_one_row_per_predictor_with_the_documented_columns(few_norway):
    table = evaluate_predictors(few_norway)
    assert list(table.columns) == ["predictor"] + DOCUMENTED_COLUMNS == ["predictor"] + ERROR_COLUMNS
    assert table["predictor"].tolist() == [get_predictor(n).name for n in PREDICTORS]  # every one, in order
    n_chunks = len(few_norway) * DEFAULT_EVAL_VIDEO.n_chunks  # no session stalls on these
    assert (table["samples"] + table["missing"] == n_chunks).all()
    assert table["samples"].dtype.kind == "i" and table["mape"].dtype.kind == "f"
    rows = table.set_index("predictor")
    # Missing: no estimate before a session's first download, except with a default estimate.
    for name in ("last", "mean", "harmonic", "robust", "ewma", "dual-ewma", "dashjs", "sabre-window", "sabre-ewma",
                 "puffer", "kalman"):
        assert rows.loc[name, "missing"] == len(few_norway), name
    for name in ("shaka", "hlsjs", "exoplayer", "oracle"):
        assert rows.loc[name, "missing"] == 0, name
    # The oracle's error is zero by construction: it is handed the very sample it predicts. A
    # check that the harness lines predictions up with the downloads they predict, not a result.
    assert rows.loc["oracle", "mape"] == 0.0 and rows.loc["oracle", "rmse_log"] == 0.0
    assert rows.loc["oracle", "over_rate"] == 0.0 and rows.loc["oracle", "under_rate"] == 0.0
    # Everything else does make errors, over and under; shares and sizes are consistent.
    real = table[table["predictor"] != "oracle"]
    assert (real["mape"] > 0.05).all() and (real["over_rate"] > 0).all() and (real["under_rate"] > 0).all()
    assert (real["over_rate"] + real["under_rate"] <= 1.0 + 1e-12).all()
    assert (real["p5"] <= real["p25"]).all() and (real["p25"] <= real["p50"]).all() and (real["p75"] <= real["p95"]).all()
    # The safety factor shifts dash.js below the plain dual EWMA (3 s / 8 s) everywhere.
    assert rows.loc["dashjs", "p50"] < rows.loc["dual-ewma", "p50"]


@pytest.mark.shared
def test_by_predictor_and_trace(few_norway):
    preds = ["harmonic", "kalman:quantile=0.1", DualEwma.shaka(), Oracle()]
    table = evaluate_predictors(few_norway, preds, by=("predictor", "trace"))
    assert list(table.columns) == ["predictor", "trace"] + DOCUMENTED_COLUMNS
    assert len(table) == len(preds) * len(few_norway)
    assert set(table["trace"]) == {t.name for t in few_norway}
    assert set(table["predictor"]) == {"harmonic", "kalman(quantile=0.1)", "shaka", "oracle"}
    overall = evaluate_predictors(few_norway, preds).set_index("predictor")
    per = table.groupby("predictor")[["samples", "missing"]].sum()
    pd.testing.assert_frame_equal(per, overall.loc[per.index, ["samples", "missing"]])
    # A trace's row is what evaluating that trace alone gives.
    alone = evaluate_predictors([few_norway[1]], preds).set_index("predictor")
    mine = table[table["trace"] == few_norway[1].name].set_index("predictor")
    pd.testing.assert_frame_equal(mine[DOCUMENTED_COLUMNS], alone.loc[mine.index, DOCUMENTED_COLUMNS])


@pytest.mark.shared
def test_predictions_are_the_reference_estimators_predictions(few_norway):
    # End to end: the shadow predictions the harness scores are those of the reference
    # estimators (tests/reference.py) watching the same session.
    preds = [HarmonicMean(5), DualEwma.hlsjs(), SlidingPercentile(), KalmanLog(quantile=0.2), "robust", "sabre-ewma", Oracle()]
    specs = [get_predictor(p) for p in preds]
    batch = run_batch(few_norway[:2], DEFAULT_EVAL_VIDEO, "rate", "default", shadow_predictors=specs, n_workers=1)
    for j in range(len(batch)):
        ref = reference.simulate_session(few_norway[j], DEFAULT_EVAL_VIDEO, "rate", "default", shadow_predictors=specs)
        n = int(batch.n_done[j])
        assert n == ref["rung"].size
        np.testing.assert_allclose(batch.shadow_pred[j, :, :n], ref["shadow_pred"], rtol=1e-9, equal_nan=True)
        np.testing.assert_allclose(batch.log[j, :n, 7], ref["throughput_bps"], rtol=1e-12)


@pytest.mark.shared
def test_fcc_traces_evaluate_too(shared_data):
    from abrkit import load_traces

    fcc = sorted((shared_data / "traces" / "pensieve-train").glob("trace_*"))[:3]
    traces = [load_traces(p)[0] for p in fcc]
    table = evaluate_predictors(traces, ["last", "harmonic", "oracle"])
    assert table["predictor"].tolist() == ["last", "harmonic", "oracle"]
    assert table.set_index("predictor").loc["oracle", "mape"] == 0.0


def test_download_pattern_settings_change_the_scores():
    traces = _synthetic_traces()
    rate = evaluate_predictors(traces, ["harmonic", "last"], controller="rate")
    bb = evaluate_predictors(traces, ["harmonic", "last"], controller="bb")
    assert not np.allclose(rate["mape"], bb["mape"])
    short = Video.constant_bitrate([300, 1200, 4300], 2.0, 30, name="short")
    table = evaluate_predictors(traces, ["harmonic"], video=short, profile="pensieve")
    assert int(table["samples"].iloc[0] + table["missing"].iloc[0]) == 3 * 30


def test_by_controller():
    table = evaluate_predictors(_synthetic_traces(2), ["last"], by=("controller", "predictor"))
    assert list(table.columns[:2]) == ["controller", "predictor"] and table["controller"].tolist() == ["rate"]


# -- prediction_samples -----------------------------------------------------------------------------


def test_prediction_samples_shape():
    traces = _synthetic_traces(3)
    video = Video.constant_bitrate([300, 1200, 4300], 4.0, 20, name="v")
    shadows = [get_predictor("last"), get_predictor("kalman"), Oracle()]
    batch = run_batch(traces, video, ["rate", "bb"], shadow_predictors=shadows, n_workers=1)
    samples = prediction_samples(batch)
    assert list(samples.columns) == ["trace", "controller", "predictor", "chunk", "predicted_bps", "actual_bps"]
    assert len(samples) == int(batch.n_done.sum()) * len(shadows) == 3 * 2 * 20 * 3
    assert batch.shadow_pred.shape == (6, 3, 20)
    first = samples[(samples["trace"] == "synthetic0") & (samples["controller"] == "rate") & (samples["predictor"] == "last")]
    assert first["chunk"].tolist() == list(range(20))
    assert math.isnan(first["predicted_bps"].iloc[0])  # nothing seen yet
    # The last sample predicts chunk k with chunk k-1's throughput.
    np.testing.assert_array_equal(first["predicted_bps"].to_numpy()[1:], first["actual_bps"].to_numpy()[:-1])
    oracle = samples[samples["predictor"] == "oracle"]
    np.testing.assert_array_equal(oracle["predicted_bps"], oracle["actual_bps"])


def test_prediction_samples_skip_sessions_that_never_started():
    dead = Trace.constant(100.0, name="dead")  # 100 bit/s: the first chunk stalls
    batch = run_batch([dead, _synthetic_traces(1)[0]], DEFAULT_EVAL_VIDEO, "rate", shadow_predictors=["last"], n_workers=1)
    samples = prediction_samples(batch)
    assert set(samples["trace"]) == {"synthetic0"}
    only_dead = run_batch([dead], DEFAULT_EVAL_VIDEO, "rate", shadow_predictors=["last"], n_workers=1)
    assert len(prediction_samples(only_dead)) == 0


def test_prediction_samples_need_shadows():
    batch = run_batch(_synthetic_traces(1), DEFAULT_EVAL_VIDEO, "rate", n_workers=1)
    with pytest.raises(ParameterError, match=r"batch='no shadow predictors' is invalid: run run_batch\(\.\.\., shadow_predictors"):
        prediction_samples(batch)


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"predictors": []}, r"predictors=\[\] is invalid: at least one is needed"),
        ({"predictors": ["harmonic", "harmonic:window=5"]}, r"predictors=\['harmonic'\] is invalid: each predictor may appear once"),
        ({"predictors": [Ewma(2.0), "ewma:half_life_s=2.0", "last", "last"]}, r"predictors=\['ewma\(half_life_s=2\.0\)', 'last'\] is invalid"),
        ({"predictors": ["nostradamus"]}, r"predictor='nostradamus' is invalid: unknown predictor"),
        ({"by": ("predictor", "video")}, r"by=\['predictor', 'video'\] is invalid: may only name 'predictor', 'trace' and 'controller'"),
        ({"controller": "warp"}, r"controller='warp' is invalid: unknown controller"),
        ({"profile": "warp"}, r"profile='warp' is invalid: unknown profile"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        evaluate_predictors(_synthetic_traces(1), **{"predictors": ["harmonic"], **kwargs})


def test_no_traces():
    with pytest.raises(ParameterError, match=r"traces=\[\] is invalid: at least one is needed"):
        evaluate_predictors([], ["harmonic"])


def test_empty_by_is_a_parameter_error():
    with pytest.raises(ParameterError, match=r"by=\[\] is invalid: may only name 'predictor', 'trace' and 'controller'"):
        evaluate_predictors(_synthetic_traces(1), ["harmonic"], by=())


def test_equal_specs_with_different_spellings_are_duplicates():
    # Ewma(2) is named 'ewma(half_life_s=2)', Ewma(2.0) 'ewma(half_life_s=2.0)', yet they are equal.
    assert Ewma(2) == Ewma(2.0) and Ewma(2).name != Ewma(2.0).name
    with pytest.raises(ParameterError, match=r"predictors=\['ewma\(half_life_s=2\)'\] is invalid: each predictor may appear once"):
        evaluate_predictors(_synthetic_traces(1), [Ewma(2), Ewma(2.0)])
