"""Rendering (abrkit.cli._output), --plot, ladder --help and abrkit warmup."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abrkit import cli
from abrkit.cli._output import format_kbps, format_number_column, format_table, render, to_jsonl
from abrkit.errors import ParameterError

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture(autouse=True)
def _no_compile_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    import abrkit._jit

    notice = getattr(abrkit._jit, "_notice", None)
    if notice is not None:
        monkeypatch.setattr(notice, "shown", True, raising=False)


# -- number formatting ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "cells"),
    [
        ([0.0, 1.516e-05], ["0.00000000", "0.00001516"]),  # never "0" next to "1.516e-05"
        ([0.5, 0.0012], ["0.5000", "0.0012"]),
        ([225.2, 15.7, -3.0], ["225.2", "15.7", "-3.0"]),
        ([3790.5, 12.0], ["3790.5", "12.0"]),
        ([4.0, 8.0, 0.0], ["4", "8", "0"]),
        ([1.5e10, 3.5], ["1.500e+10", "3.500e+00"]),
        ([1.5e10, 3.0], ["15000000000", "3"]),  # whole numbers stay whole
        ([2e-9, 0.0], ["2.000e-09", "0.000e+00"]),
        ([np.nan, 1.25, np.inf], ["-", "1.250", "inf"]),
        ([-0.00001, 0.5], ["0.0000", "0.5000"]),  # no "-0.0000"
        ([np.nan, np.nan], ["-", "-"]),
    ],
)
def test_number_columns_are_formatted_alike(values: list[float], cells: list[str]) -> None:
    assert format_number_column(np.array(values)) == cells


def test_rung_bitrates_are_rounded_for_display() -> None:
    assert format_kbps([97.61234, 300.4, 755.0, 4300.0]) == "97.6, 300, 755, 4300"


def test_table_with_missing_cells() -> None:
    df = pd.DataFrame({"name": ["a", None], "n": pd.array([1, None], dtype="Int64"), "x": [0.5, np.nan],
                       "flag": pd.array([True, None], dtype="boolean")})
    lines = format_table(df).splitlines()
    assert lines[0].split() == ["name", "n", "x", "flag"]
    assert lines[2].split() == ["a", "1", "0.5000", "yes"] and lines[3].split() == ["-", "-", "-", "-"]


def test_jsonl_is_one_record_a_line() -> None:
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, np.nan], "c": ["x", "y"]})
    text = to_jsonl(df)
    assert text == '{"a":1,"b":0.5,"c":"x"}\n{"a":2,"b":null,"c":"y"}\n'
    assert render(df, "jsonl") == text
    assert [json.loads(line) for line in text.splitlines()] == json.loads(render(df, "json"))


def test_jsonl_of_other_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["traces", "formats", "--format", "jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(json.loads(line)["format"] for line in lines) and len(lines) > 3
    assert cli.main(["traces", "stats", str(SAMPLES / "traces"), "--format", "jsonl"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(list((SAMPLES / "traces").iterdir()))


# -- ladder --help ------------------------------------------------------------------------------------------


def test_ladder_help_states_the_crf_grid_the_code_uses(capsys: pytest.CaptureFixture[str]) -> None:
    from abrkit.encode.ladder import DEFAULT_CRFS

    with pytest.raises(SystemExit):
        cli.main(["ladder", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    x264 = DEFAULT_CRFS["x264"]
    assert f"{x264[0]:g},{x264[1]:g},...,{x264[-1]:g}" in out  # 16,18,...,50 today
    assert "17,20" not in out


# -- --plot -------------------------------------------------------------------------------------------------


def _simulate(*extra: str) -> list[str]:
    return ["simulate", "--traces", str(SAMPLES / "traces"), "--video", str(SAMPLES / "videos" / "synthetic_vbr.json"),
            "--controller", "bb", "rate", "--workers", "1", *extra]


def test_plot_writes_the_comparison_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "cmp.png"
    assert cli.main(_simulate("--plot", str(out))) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert "mean QoE" in capsys.readouterr().out  # the table is still printed


def test_plot_without_matplotlib_fails_before_simulating(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import abrkit.cli.simulate as sim

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr(sim, "run_batch", lambda *a, **k: pytest.fail("simulated before checking matplotlib"))
    assert cli.main(_simulate("--plot", str(tmp_path / "x.png"))) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'abrkit[plot]'" in err


def test_plot_comparison_panels_and_order() -> None:
    pytest.importorskip("matplotlib")
    from abrkit.plotting import plot_comparison

    sessions = pd.DataFrame({
        "controller": ["b", "a", "b", "a", "optimum"],
        "qoe": [1.0, 2.0, 3.0, 4.0, 9.0],
        "mean_bitrate_kbps": [300.0, 750.0, 300.0, 1200.0, 1200.0],
        "rebuffer_s": [0.0, 1.5, 0.0, 0.5, np.nan],
    })
    fig = plot_comparison(sessions, title="t")
    try:
        assert len(fig.axes) == 3
        assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["b", "a", "optimum"]  # top to bottom
        assert [ax.get_xlabel() for ax in fig.axes] == [
            "session QoE (higher is better)", "mean bitrate (kbit/s)", "rebuffering per session (s)",
        ]
        means = sorted(t.get_text() for t in fig.axes[0].texts)
        assert means == ["mean 2", "mean 3", "mean 9"]
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_unwritable_plot_is_a_parameter_error(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from abrkit.plotting import save_comparison

    sessions = pd.DataFrame({"controller": ["a"], "qoe": [1.0], "mean_bitrate_kbps": [300.0], "rebuffer_s": [0.0]})
    with pytest.raises(ParameterError, match="cannot be written"):
        save_comparison(sessions, tmp_path / "no" / "such" / "dir" / "x.png")


# -- warmup ---------------------------------------------------------------------------------------------------


def test_warmup_runs_every_controller_it_is_given() -> None:
    from abrkit.warmup import WARMUP_COLUMNS, warmup

    # pensieve needs its network's 6 rungs: the warmup video has them
    table = warmup(["bb", "bola", "pensieve"], ["default"], progress=False)
    assert list(table.columns) == list(WARMUP_COLUMNS)
    assert table[["controller", "profile"]].values.tolist() == [["bb", "default"], ["bola", "default"], ["pensieve", "default"]]
    assert (table["status"] == "ran").all() and (table["seconds"] > 0).all() and (table["note"] == "").all()


def test_warmup_inputs_are_tiny() -> None:
    from abrkit.warmup import warmup_inputs

    trace, video = warmup_inputs()
    assert video.n_chunks == 3 and video.n_rungs == 6 and trace.name == "warmup"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"controllers": ["no-such-controller"]}, "no-such-controller"),
        ({"controllers": ["bb"], "profiles": ["no-such-profile"]}, "no-such-profile"),
        ({"controllers": "bb"}, r"controllers='bb' is invalid: must be a list of names"),
    ],
)
def test_warmup_refuses_bad_names_before_running(kwargs: dict[str, object], match: str) -> None:
    from abrkit.errors import AbrkitError
    from abrkit.warmup import warmup

    with pytest.raises(AbrkitError, match=match):
        warmup(**kwargs, progress=False)  # type: ignore[arg-type]


def test_warmup_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["warmup", "--controllers", "bb", "--profiles", "default", "--format", "csv"]) == 0
    df = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert df["controller"].tolist() == ["bb"] and df["status"].tolist() == ["ran"]
    assert cli.main(["warmup", "--controllers", "bb", "--profiles", "default", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "seconds (wall)" in out and "ran 1 session in" in out
    assert cli.main(["warmup", "--controllers", "nope"]) == 1
    assert capsys.readouterr().err.startswith("abrkit: error: ")
