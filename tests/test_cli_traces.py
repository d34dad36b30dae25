"""``abrkit traces``: non-trace files in trace directories, ``--strict``, generated file names (issue 11)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from abrkit.cli import main
from abrkit.cli._inputs import load_trace_args
from abrkit.errors import TraceFormatError
from abrkit.traces import Trace, load_traces, read_trace, synthetic, write_trace


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Two Sabre traces, a README and an empty file."""
    d = tmp_path / "traces"
    d.mkdir()
    for name, bw in (("a.json", 1e6), ("b.json", 2e6)):
        write_trace(Trace.constant(bw, duration_s=10.0, name=name), d / name, "sabre")
    (d / "README.md").write_text("# Traces\n\nMeasured on a bus.\n", encoding="utf-8")
    (d / "empty").write_text("", encoding="utf-8")
    return d


def test_stats_skips_non_trace_files_with_one_clean_line_each(capsys, mixed: Path) -> None:
    code, out, err = run(capsys, "traces", "stats", mixed, mixed / "a.json", "--format", "csv")
    assert code == 0
    assert pd.read_csv(io.StringIO(out))["trace"].tolist() == ["a.json", "b.json", "a.json"]
    lines = err.splitlines()
    assert lines == [
        f"abrkit: warning: skipped {mixed / 'README.md'}: unknown trace format: content matches none of "
        + lines[0].split("content matches none of ", 1)[1],
        f"abrkit: warning: skipped {mixed / 'empty'}: empty file: a trace needs at least one period",
    ]
    assert "Warning" not in err and "warnings.warn" not in err  # not Python's warning format


def test_the_same_skipped_file_is_reported_once(capsys, mixed: Path) -> None:
    code, _, err = run(capsys, "traces", "stats", mixed, mixed, "--format", "csv")
    assert code == 0 and err.count("README.md") == 1 and len(err.splitlines()) == 2


def test_strict_makes_a_non_trace_file_an_error(capsys, mixed: Path) -> None:
    code, out, err = run(capsys, "traces", "stats", mixed, "--strict")
    assert code == 1 and out == ""
    assert err.strip() == (
        f"abrkit: error: {mixed / 'README.md'}: " + err.strip().split(f"{mixed / 'README.md'}: ", 1)[1]
    )
    assert "unknown trace format" in err and len(err.strip().splitlines()) == 1


def test_a_directory_of_only_junk_reports_each_file_then_fails(capsys, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    code, _, err = run(capsys, "traces", "stats", tmp_path)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 2
    assert lines[0].startswith("abrkit: warning: skipped") and "notes.txt" in lines[0]
    assert lines[1].startswith("abrkit: error: ") and "no trace files" in lines[1]


def test_convert_skips_non_trace_files_the_same_way(capsys, mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "cooked"
    code, _, err = run(capsys, "traces", "convert", mixed, out, "--to", "cooked")
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["a", "b"]
    assert err.count("abrkit: warning: skipped") == 2 and "converted 2 traces" in err
    assert read_trace(out / "b").bandwidth_bps[0] == pytest.approx(2e6)
    strict = tmp_path / "strict"
    code, _, err = run(capsys, "traces", "convert", mixed, strict, "--to", "cooked", "--strict")
    assert code == 1 and "README.md: unknown trace format" in err and not strict.exists()


def test_generate_zero_pads_so_sorted_names_follow_the_seeds(capsys, tmp_path: Path) -> None:
    out = tmp_path / "gen"
    code, _, _ = run(capsys, "traces", "generate", "--preset", "4g", "--count", "11", "--duration-s", "20",
                     "--seed", "0", "--out", out)
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"4g-{k:02d}.json" for k in range(11)]
    loaded = load_traces(out)  # directory order is sorted order: the seeds' order

    for k, trace in enumerate(loaded):
        expected = synthetic.preset_trace("4g", duration_s=20, seed=k)
        assert trace.bandwidth_bps == pytest.approx(expected.bandwidth_bps, rel=1e-3)
    # a set whose seeds all have the same width keeps plain names
    code, _, _ = run(capsys, "traces", "generate", "--preset", "4g", "--count", "3", "--duration-s", "20",
                     "--seed", "5", "--out", tmp_path / "plain")
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == ["4g-5.json", "4g-6.json", "4g-7.json"]


def test_load_trace_args_is_load_traces_with_clean_warnings(capsys, mixed: Path) -> None:
    traces = load_trace_args([mixed])
    assert [t.name for t in traces] == ["a.json", "b.json"]
    assert capsys.readouterr().err.count("abrkit: warning: skipped") == 2
    with pytest.raises(TraceFormatError, match="README.md: unknown trace format"):
        load_trace_args([mixed], strict=True)
    capsys.readouterr()
    # a format given by name reads every file as that format: the README is then a malformed trace
    with pytest.raises(TraceFormatError, match="README.md"):
        load_trace_args([mixed], "sabre")
