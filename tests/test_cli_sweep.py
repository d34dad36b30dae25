"""Controller parameter sweeps (abrkit.cli._sweep) and the parameter columns of session tables."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abrkit import cli
from abrkit.cli._columns import controller_parameters, with_parameter_columns
from abrkit.cli._sweep import MAX_SWEEP, expand_controller_spec, expand_controller_specs
from abrkit.cli.simulate import resolve_controllers
from abrkit.controllers import get_controller
from abrkit.errors import AbrkitError, ParameterError

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


# -- the pure expansion -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("bba0:reservoir_s=2:10:1", [f"bba0:reservoir_s={v}" for v in range(2, 11)]),
        ("bba0:reservoir_s=2:10:4", ["bba0:reservoir_s=2", "bba0:reservoir_s=6", "bba0:reservoir_s=10"]),
        ("bba0:reservoir_s=2:9:4", ["bba0:reservoir_s=2", "bba0:reservoir_s=6"]),  # 9 is off the grid
        ("bba0:reservoir_s=3:3:1", ["bba0:reservoir_s=3"]),
        ("bba0:reservoir_s=10:2:-4", ["bba0:reservoir_s=10", "bba0:reservoir_s=6", "bba0:reservoir_s=2"]),
        ("rate:safety=0.7:0.9:0.1", ["rate:safety=0.7", "rate:safety=0.8", "rate:safety=0.9"]),
        ("rate:safety=0.1:0.5:0.1", [f"rate:safety=0.{d}" for d in range(1, 6)]),
        ("bb:reservoir_s=1.5:3:1", ["bb:reservoir_s=1.5", "bb:reservoir_s=2.5"]),
        ("bb:reservoir_s=1:2:0.5", ["bb:reservoir_s=1.0", "bb:reservoir_s=1.5", "bb:reservoir_s=2.0"]),
        ("bb:reservoir_s=1.0:3:1", ["bb:reservoir_s=1.0", "bb:reservoir_s=2.0", "bb:reservoir_s=3.0"]),
        ("bb:reservoir_s=1e-3:3e-3:1e-3", ["bb:reservoir_s=0.001", "bb:reservoir_s=0.002", "bb:reservoir_s=0.003"]),
        ("rate:safety=0.8,0.9", ["rate:safety=0.8", "rate:safety=0.9"]),
        ("bb:reservoir_s=1,2,5:10:5", [f"bb:reservoir_s={v}" for v in (1, 2, 5, 10)]),
        ("bba0(reservoir_s=2:4:1)", ["bba0:reservoir_s=2", "bba0:reservoir_s=3", "bba0:reservoir_s=4"]),
        ("rate:predictor=harmonic(window=3),ewma", ["rate:predictor=harmonic(window=3)", "rate:predictor=ewma"]),
    ],
)
def test_expansion(spec: str, expected: list[str]) -> None:
    assert expand_controller_spec(spec) == expected


def test_several_parameters_give_the_cartesian_product_last_fastest() -> None:
    got = expand_controller_spec("bb:reservoir_s=5,10,cushion_s=10:30:10")
    assert got == [
        "bb:reservoir_s=5,cushion_s=10", "bb:reservoir_s=5,cushion_s=20", "bb:reservoir_s=5,cushion_s=30",
        "bb:reservoir_s=10,cushion_s=10", "bb:reservoir_s=10,cushion_s=20", "bb:reservoir_s=10,cushion_s=30",
    ]
    # fixed parameters ride along in every spec
    assert expand_controller_spec("rate:safety=0.8,0.9,predictor=ewma") == [
        "rate:safety=0.8,predictor=ewma", "rate:safety=0.9,predictor=ewma",
    ]


@pytest.mark.parametrize(
    "spec",
    ["bb", "bba0:reservoir_s=2", "rate:safety=0.8,predictor=harmonic(window=3)", "rate:predictor=harmonic:window=3",
     "rules.py", "path/rules.py:MyRule", "not a spec!", "bb:reservoir_s=abc:def"],
)
def test_specs_without_a_sweep_come_back_unchanged(spec: str) -> None:
    assert expand_controller_spec(spec) == [spec]


def test_grid_values_are_exact_decimals_that_resolve() -> None:
    specs = expand_controller_spec("rate:safety=0.1:0.9:0.1")
    assert [get_controller(s).safety for s in specs] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    ints = [get_controller(s).reservoir_s for s in expand_controller_spec("bba0:reservoir_s=2:10:2")]
    assert ints == [2, 4, 6, 8, 10] and all(type(v) is int for v in ints)


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        ("bba0:reservoir_s=2:10", "is not a grid START:STOP:STEP"),
        ("bba0:reservoir_s=2:10:1:1", "is not a grid START:STOP:STEP"),
        ("bba0:reservoir_s=2:x:1", "is not a grid START:STOP:STEP"),
        ("bba0:reservoir_s=2:inf:1", "is not a grid START:STOP:STEP"),
        ("bba0:reservoir_s=2:10:0", "the step must not be 0"),
        ("bba0:reservoir_s=10:2:1", "never goes from 10 to 2"),
        ("bba0:reservoir_s=2:10:-1", "never goes from 2 to 10"),
        ("bba0:2,3", "has no parameter"),
        ("bba0:reservoir_s=1,reservoir_s=2", "is given twice"),
        ("bba0:reservoir_s=0:100000:1", f"more than {MAX_SWEEP}"),
        ("bb:reservoir_s=1:200:1,cushion_s=1:200:1", "200 x 200 = 40000 controllers"),
    ],
)
def test_bad_sweeps_are_parameter_errors_naming_the_spec(spec: str, rule: str) -> None:
    with pytest.raises(ParameterError, match=re.escape(rule)) as info:
        expand_controller_spec(spec)
    assert info.value.name == "controller" and info.value.value == spec
    assert spec in str(info.value)


def test_max_specs_is_a_parameter() -> None:
    assert len(expand_controller_spec("bb:reservoir_s=1:5:1", max_specs=5)) == 5
    with pytest.raises(ParameterError, match="more than 4"):
        expand_controller_spec("bb:reservoir_s=1:5:1", max_specs=4)


def test_expand_many_keeps_order() -> None:
    assert expand_controller_specs(["bb", "rate:safety=0.8,0.9"]) == ["bb", "rate:safety=0.8", "rate:safety=0.9"]


# -- resolving in the CLI ----------------------------------------------------------------------------


def test_resolve_labels_show_the_swept_values() -> None:
    names = [c.name for c in resolve_controllers(["bba0:reservoir_s=2:4:1", "rate:safety=0.8"])]
    assert names == ["bba0(reservoir_s=2)", "bba0(reservoir_s=3)", "bba0(reservoir_s=4)", "rate(safety=0.8)"]


def test_a_refused_value_names_the_sweep() -> None:
    with pytest.raises(ParameterError, match=re.escape("'bba0:reservoir_s=-1:1:1'")) as info:
        resolve_controllers(["bba0:reservoir_s=-1:1:1"])
    assert "bba0:reservoir_s=-1" in str(info.value) and "reservoir_s" in info.value.rule


def test_overlapping_sweeps_are_refused() -> None:
    # reservoir_s=5 is BBA-0's default, so that sweep value is plain "bba0"
    with pytest.raises(AbrkitError, match="same as"):
        resolve_controllers(["bba0:reservoir_s=4:6:1", "bba0"])


# -- parameter columns ---------------------------------------------------------------------------------


def test_controller_parameters() -> None:
    rate = get_controller("rate:safety=0.8,predictor=ewma")
    label, family, values = controller_parameters(rate)
    assert (label, family) == (rate.name, "rate") and label.startswith("rate(")
    assert values == {"predictor": rate.predictor.name, "safety": 0.8}


def test_parameter_columns_from_the_controller_objects() -> None:
    ctrls = [get_controller(s) for s in ("bba0:reservoir_s=2", "bba0", "rate:safety=0.8")]
    sessions = pd.DataFrame({
        "trace": ["t0"] * 3 + ["t1"] * 3,
        "controller": [c.name for c in ctrls] * 2,
        "qoe": np.arange(6.0),
        "safety": np.zeros(6),  # a clash: the parameter becomes param_safety
    })
    out = with_parameter_columns(sessions, ctrls)
    assert list(out.columns[:7]) == ["trace", "controller", "family", "reservoir_s", "cushion_s", "predictor", "param_safety"]
    assert out["family"].tolist() == ["bba0", "bba0", "rate"] * 2
    np.testing.assert_array_equal(out["reservoir_s"].to_numpy(), [2, 5, np.nan] * 2)
    assert out["reservoir_s"].dtype == np.float64
    np.testing.assert_array_equal(out["param_safety"].to_numpy(), [np.nan, np.nan, 0.8] * 2)
    assert out["predictor"].tolist()[2] == ctrls[2].predictor.name and out["predictor"].tolist()[0] is None
    assert out["qoe"].tolist() == sessions["qoe"].tolist()  # the input's columns untouched
    assert "family" not in sessions.columns


def test_event_controller_parameters() -> None:
    bola = get_controller("bola")
    _, family, values = controller_parameters(bola)
    assert family == "bola" and values  # every dataclass field of the spec


# -- end to end ----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_compile_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    import abrkit._jit

    notice = getattr(abrkit._jit, "_notice", None)
    if notice is not None:
        monkeypatch.setattr(notice, "shown", True, raising=False)


def test_simulate_sweep_csv_jsonl_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["simulate", "--traces", str(SAMPLES / "traces" / "4g_1.json"), str(SAMPLES / "traces" / "3g_1"),
            "--video", str(SAMPLES / "videos" / "synthetic_vbr.json"), "--controller", "bba0:reservoir_s=2:10:4", "rate",
            "--workers", "1"]
    assert cli.main([*base, "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    df = pd.read_csv(io.StringIO(out))
    assert df["controller"].unique().tolist() == ["bba0(reservoir_s=2)", "bba0(reservoir_s=6)", "bba0(reservoir_s=10)", "rate"]
    assert df["family"].unique().tolist() == ["bba0", "rate"]
    assert df.groupby("controller", sort=False)["reservoir_s"].first().tolist()[:3] == [2.0, 6.0, 10.0]
    assert df.loc[df["family"] == "rate", "reservoir_s"].isna().all()
    assert (df.loc[df["family"] == "rate", "safety"] == 0.9).all()
    assert len(df) == 2 * 4

    assert cli.main([*base, "--format", "jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 8
    records = [pd.read_json(io.StringIO(line), typ="series") for line in lines]
    assert records[0]["controller"] == "bba0(reservoir_s=2)" and records[0]["reservoir_s"] == 2.0
    assert pd.read_json(io.StringIO("[" + ",".join(lines) + "]")).shape == df.shape

    assert cli.main(base) == 0
    table = capsys.readouterr().out
    assert "bba0(reservoir_s=6)" in table and "median QoE" in table


def test_simulate_bad_sweep_is_one_clean_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["simulate", "--traces", str(SAMPLES / "traces" / "4g_1.json"), "--video",
                     str(SAMPLES / "videos" / "synthetic_vbr.json"), "--controller", "bba0:reservoir_s=2:10:0"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("abrkit: error: controller='bba0:reservoir_s=2:10:0' is invalid: reservoir_s=2:10:0")
