"""`abrkit predict`: one row per predictor with its error statistics."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from abrkit import cli
from abrkit.evaluate import ERROR_COLUMNS
from abrkit.predictors import PREDICTORS

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "traces"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_csv_has_one_row_per_predictor(capsys):
    code, out, _ = run(capsys, "predict", "--traces", str(SAMPLES), "--format", "csv", "--workers", "1")
    assert code == 0
    table = pd.read_csv(io.StringIO(out))
    assert list(table.columns) == ["predictor", *ERROR_COLUMNS]
    assert len(table) == len(PREDICTORS)
    oracle = table.set_index("predictor").loc["oracle"]
    assert oracle["mape"] == 0.0 and oracle["missing"] == 0
    assert (table["samples"] > 0).all()


def test_chosen_predictors_per_trace_as_json(capsys):
    code, out, _ = run(
        capsys, "predict", "--traces", str(SAMPLES), "--predictor", "harmonic", "kalman:quantile=0.1",
        "--per-trace", "--format", "json",
    )
    assert code == 0
    records = json.loads(out)
    assert {r["predictor"] for r in records} == {"harmonic", "kalman(quantile=0.1)"}
    assert len(records) == 2 * len(list(SAMPLES.iterdir()))
    assert all(set(ERROR_COLUMNS) <= set(r) for r in records)


def test_table_output_names_the_setup(capsys):
    code, out, _ = run(capsys, "predict", "--traces", str(SAMPLES), "--predictor", "last", "--controller", "bb")
    assert code == 0
    assert "controller bb" in out and out.splitlines()[2].startswith("predictor")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--predictor", "nope"], r"predictor='nope' is invalid: unknown predictor"),
        (["--predictor", "harmonic:window=0"], r"window=0 is invalid"),
        (["--predictor", "last", "last"], r"each predictor may appear once"),
        (["--controller", "nope"], r"controller='nope' is invalid"),
    ],
)
def test_bad_arguments_are_one_clean_line(capsys, argv, message):
    import re

    code, out, err = run(capsys, "predict", "--traces", str(SAMPLES), *argv)
    assert code == 1 and out == ""
    assert err.startswith("abrkit: error: ") and len(err.strip().splitlines()) == 1
    assert re.search(message, err), err


@pytest.mark.shared
def test_real_traces_csv(capsys):
    code, out, _ = run(
        capsys, "predict", "--traces", str(SHARED / "traces" / "norway-hsdpa-test"), "--format", "csv",
        "--predictor", "harmonic", "dashjs", "oracle",
    )
    assert code == 0
    table = pd.read_csv(io.StringIO(out)).set_index("predictor")
    assert table.loc["oracle", "mape"] == 0.0
    # dash.js's 0.9 safety factor makes it underestimate more often than the harmonic mean
    assert table.loc["dashjs", "under_rate"] > table.loc["harmonic", "under_rate"]
