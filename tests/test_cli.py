"""The ``abrkit`` command line: run in-process through ``abrkit.cli.main`` (fast), plus a few
real subprocess runs of ``python -m abrkit`` and the console script."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import abrkit
from abrkit import cli
from abrkit.traces import FORMATS, Trace, read_trace, write_trace

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
ENVIVIO_LADDER = "300,750,1200,1850,2850,4300"

SESSION_COLUMNS = {
    "trace", "video", "controller", "profile", "status", "chunks", "qoe", "mean_bitrate_kbps", "rebuffer_s", "switches",
}
SUMMARY_COLUMNS = [
    "controller", "sessions", "mean_qoe", "qoe_median", "qoe_mean_ci_low", "qoe_mean_ci_high", "mean_bitrate_kbps", "mean_rebuffer_s", "rebuffer_ratio", "mean_switches",
    "stalled_sessions",
]
LOG_COLUMNS = {
    "trace", "controller", "chunk", "rung", "bitrate_kbps", "size_bytes", "delay_s", "buffer_s", "rebuffer_s", "wait_s",
    "reward",
}


@pytest.fixture(autouse=True)
def _no_compile_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests compare stderr byte for byte: keep the first-compile notice (abrkit._jit) out."""
    import abrkit._jit

    notice = getattr(abrkit._jit, "_notice", None)
    if notice is not None:
        monkeypatch.setattr(notice, "shown", True, raising=False)


def needs_shared(path: str) -> Path:
    p = SHARED / path
    if not p.exists():
        pytest.skip(f"reference data {p} not available")
    return p


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``main(argv)`` in-process: (exit code, stdout, stderr)."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def read_table(text: str) -> pd.DataFrame:
    """Parse the simulate table: context line, blank line, header, dashes, rows."""
    lines = text.splitlines()
    assert lines[1] == "" and set(lines[3].replace(" ", "")) == {"-"}
    body = "\n".join([lines[2]] + lines[4:])
    return pd.read_csv(io.StringIO(body), sep=r"\s{2,}", engine="python")


def read_plain_table(text: str) -> pd.DataFrame:
    lines = text.splitlines()
    assert set(lines[1].replace(" ", "")) == {"-"}
    return pd.read_csv(io.StringIO("\n".join([lines[0]] + lines[2:])), sep=r"\s{2,}", engine="python")


def same_bandwidth(a: Trace, b: Trace, rtol: float = 1e-9) -> bool:
    """Same periods and bandwidths (latency ignored: some formats store none, others zeros)."""
    return (
        a.n_periods == b.n_periods
        and np.allclose(a.time_s, b.time_s, rtol=rtol, atol=1e-9)
        and np.allclose(a.bandwidth_bps, b.bandwidth_bps, rtol=rtol)
        and bool(np.isclose(a.end_s, b.end_s, rtol=rtol))
    )


# -- inputs -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three small cooked traces in a directory, one Sabre trace, a dead trace, and a video."""
    root = tmp_path_factory.mktemp("cli-inputs")
    tdir = root / "traces"
    tdir.mkdir()
    rng = np.random.default_rng(7)
    for i, mean_mbps in enumerate((0.8, 2.0, 5.0)):
        t = np.arange(60.0)
        bw = mean_mbps * 1e6 * rng.uniform(0.5, 1.5, t.size)
        write_trace(Trace(t, bw, name=f"t{i}"), tdir / f"trace_{i}", "cooked")
    sabre = root / "net.json"
    write_trace(Trace.from_durations([5.0, 5.0, 10.0], [1.5e6, 3e6, 0.6e6], latency_s=[0.05, 0.05, 0.1]), sabre, "sabre")
    # Under the pensieve profile line 0's bandwidth is never used, so this trace delivers nothing.
    dead = root / "dead"
    dead.write_text("0 5\n1 0\n2 0\n", encoding="utf-8")
    video = root / "video.json"
    abrkit.Video.synthetic_vbr([300, 750, 1200, 1850], chunk_s=2.0, n_chunks=12, seed=3, name="vbr").to_json(video)
    pensieve_dir = root / "pensieve_video"
    pensieve_dir.mkdir()
    for r, kbps in enumerate((300, 750, 1200)):
        (pensieve_dir / f"video_size_{r}").write_text("\n".join(str(kbps * 500) for _ in range(10)) + "\n")
    return {"root": root, "traces": tdir, "sabre": sabre, "dead": dead, "video": video, "pensieve_dir": pensieve_dir}


def simulate_args(inputs: dict[str, Path], *extra: str) -> list[str]:
    return ["simulate", "--traces", str(inputs["traces"]), str(inputs["sabre"]), "--video", str(inputs["video"]), *extra]


# -- simulate -----------------------------------------------------------------------------------


def test_simulate_table(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *simulate_args(inputs, "--controller", "bb", "bba0", "rate"))
    assert code == 0, err
    assert err == ""
    assert out.startswith("profile default; QoE linear")
    table = read_table(out)
    assert list(table.columns) == [cli.simulate.SUMMARY_LABELS[c] for c in SUMMARY_COLUMNS]
    assert table["controller"].tolist() == ["bb", "bba0", "rate"]
    assert table["sessions"].tolist() == [4, 4, 4]
    assert table["stalled (unfinished)"].tolist() == [0, 0, 0]
    assert table["mean QoE"].dtype.kind == "f"


def test_simulate_csv_json_and_summary_agree(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    ctrl = ["--controller", "bb", "--controller", "rate:safety=0.8,predictor=harmonic(window=3)"]
    code, out_csv, _ = run(capsys, *simulate_args(inputs, *ctrl, "--format", "csv"))
    assert code == 0
    sessions = pd.read_csv(io.StringIO(out_csv))
    assert SESSION_COLUMNS <= set(sessions.columns)
    assert len(sessions) == 4 * 2
    assert sessions["controller"].unique().tolist() == ["bb", "rate(predictor=harmonic(window=3), safety=0.8)"]

    code, out_json, _ = run(capsys, *simulate_args(inputs, *ctrl, "--format", "json"))
    records = json.loads(out_json)
    assert isinstance(records, list) and len(records) == 8
    from_json = pd.DataFrame(records)
    pd.testing.assert_frame_equal(from_json[sessions.columns], sessions, check_dtype=False)

    code, out_sum, _ = run(capsys, *simulate_args(inputs, *ctrl, "--format", "csv", "--summary"))
    summary = pd.read_csv(io.StringIO(out_sum))
    assert summary.columns.tolist() == SUMMARY_COLUMNS
    for _, row in summary.iterrows():
        mine = sessions[sessions["controller"] == row["controller"]]
        assert row["sessions"] == len(mine)
        assert row["mean_qoe"] == pytest.approx(mine["qoe"].mean())
        assert row["mean_bitrate_kbps"] == pytest.approx(mine["mean_bitrate_kbps"].mean())
        assert row["mean_switches"] == pytest.approx(mine["switches"].mean())

    code, out_sum_json, _ = run(capsys, *simulate_args(inputs, *ctrl, "--format", "json", "--summary"))
    assert [r["controller"] for r in json.loads(out_sum_json)] == summary["controller"].tolist()


def test_simulate_log_and_out_files(inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log, out = tmp_path / "chunks.csv", tmp_path / "sessions.json"
    code, stdout, err = run(
        capsys, *simulate_args(inputs, "--controller", "bb", "fixed:rung=2", "--log", log, "--out", out, "--format", "json")
    )
    assert code == 0, err
    assert stdout == ""
    chunks = pd.read_csv(log)
    assert LOG_COLUMNS <= set(chunks.columns)
    sessions = pd.DataFrame(json.loads(out.read_text()))
    assert len(chunks) == sessions["chunks"].sum() == 8 * 12
    fixed = chunks[chunks["controller"] == "fixed(rung=2)"]
    assert (fixed["rung"] == 2).all() and (fixed["bitrate_kbps"] == 1200).all()
    # session QoE totals are the sums of the logged rewards (default profile counts chunk 0)
    totals = chunks.groupby(["trace", "controller"], sort=False)["reward"].sum()
    for _, s in sessions.iterrows():
        assert totals[(s["trace"], s["controller"])] == pytest.approx(s["qoe"])


def test_simulate_first_chunk_and_qoe_options(inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def sessions(*extra: str) -> pd.DataFrame:
        code, out, err = run(capsys, *simulate_args(inputs, "--format", "csv", *extra))
        assert code == 0, err
        return pd.read_csv(io.StringIO(out))

    log = tmp_path / "log.csv"
    counted = sessions("--log", str(log))
    skipped = sessions("--skip-first-chunk")
    first = pd.read_csv(log).query("chunk == 0").set_index("trace")["reward"]
    np.testing.assert_allclose(skipped["qoe"], counted["qoe"] - first[counted["trace"]].to_numpy())
    # the pensieve profile skips chunk 0; --include-first-chunk puts it back
    pens = sessions("--profile", "pensieve")
    pens_all = sessions("--profile", "pensieve", "--include-first-chunk")
    assert not np.allclose(pens["qoe"], pens_all["qoe"])
    log_qoe = sessions("--qoe", "log")
    assert not np.allclose(log_qoe["qoe"], counted["qoe"])
    with pytest.raises(SystemExit) as exc:
        cli.main(simulate_args(inputs, "--skip-first-chunk", "--include-first-chunk"))
    assert exc.value.code == 2


def test_simulate_is_deterministic_across_workers(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    args = simulate_args(inputs, "--controller", "bb", "bba0", "rate", "--format", "csv")
    _, one, _ = run(capsys, *args, "--workers", "1")
    _, two, _ = run(capsys, *args, "--workers", "2", "--no-progress")
    assert one == two


def test_simulate_pensieve_video_dir(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    base = ["simulate", "--traces", str(inputs["traces"]), "--video", str(inputs["pensieve_dir"]), "--format", "csv"]
    code, out, err = run(capsys, *base, "--bitrates-kbps", "300,750,1200", "--chunk-s", "2")
    assert code == 0, err
    assert (pd.read_csv(io.StringIO(out))["chunks"] == 10).all()

    code, out, err = run(capsys, *base)
    assert code == 1 and out == ""
    assert err.startswith("abrkit: error: ") and "--bitrates-kbps" in err and str(inputs["pensieve_dir"]) in err
    assert err.count("\n") == 1

    with pytest.raises(SystemExit) as exc:
        cli.main(base + ["--bitrates-kbps", "300,fast"])
    assert exc.value.code == 2


def test_stalled_sessions_warn_and_json_nulls(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--traces", str(inputs["dead"]), str(inputs["traces"] / "trace_0"), "--video", str(inputs["video"]),
            "--profile", "pensieve", "--controller", "bb", "rate"]
    code, out, err = run(capsys, *args, "--format", "json")
    assert code == 0
    warnings = err.splitlines()
    assert len(warnings) == 2
    for w, ctrl in zip(warnings, ("bb", "rate")):
        assert w.startswith("abrkit: warning: ") and "trace dead" in w and f"controller {ctrl}" in w
        assert "no_bandwidth" in w and "0 of 12 chunks" in w
    records = json.loads(out)
    dead = [r for r in records if r["trace"] == "dead"]
    assert len(dead) == 2 and all(r["mean_bitrate_kbps"] is None and r["chunks"] == 0 for r in dead)
    code, out, err = run(capsys, *args)
    assert read_table(out)["stalled (unfinished)"].tolist() == [1, 1]


def test_simulate_help_lists_controllers_profiles_qoe(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["simulate", "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for name, factory in abrkit.CONTROLLERS.items():
        doc = cli._args.first_sentence(factory)
        assert doc and f"{name} {doc}" in text, name
    for name in list(abrkit.PROFILES) + list(abrkit.QOE_MODELS) + list(FORMATS):
        assert f" {name} " in text or f" {name}* " in text, name
    assert "rtt_s=0.08" in text  # the pensieve profile is described by its departures


# -- simulate --optimum -----------------------------------------------------------------------------

OPTIMUM_COLUMNS = ["exact", "exact_with_cap", "lower_bound", "reason"]


def test_simulate_optimum_bounds_every_controller(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    for profile in ("default", "pensieve"):
        args = simulate_args(inputs, "--controller", "bb", "bba0", "rate", "fixed:rung=3", "--profile", profile)
        code, out, err = run(capsys, *args, "--optimum", "--format", "json")
        assert code == 0, err
        sessions = pd.DataFrame(json.loads(out))
        assert list(sessions.columns[-4:]) == OPTIMUM_COLUMNS
        best = sessions[sessions["controller"] == "optimum"].set_index("trace")
        others = sessions[sessions["controller"] != "optimum"]
        assert sorted(best.index) == sorted(others["trace"].unique()) and len(best) == 4
        assert (best["profile"] == profile).all() and (best["status"] == "complete").all()
        for _, row in others.iterrows():
            assert row["qoe"] <= best.loc[row["trace"], "qoe"] + 1e-9, (profile, row["trace"], row["controller"])
        assert (best["lower_bound"] <= best["qoe"] + 1e-9).all()
        assert others[OPTIMUM_COLUMNS].isna().all().all()  # null for controllers
        if profile == "default":
            # net.json's per-period latencies differ and the default profile uses them: the
            # optimum relaxes them to the smallest, so that trace's value is only an upper bound
            assert not best.loc["net.json", "exact"] and best.drop("net.json")["exact"].all()
            assert err.count("\n") == 1 and err.startswith("abrkit: warning: ")
            assert "not exact on 1 of 4 traces (net.json)" in err and "upper bound" in err
        else:  # the pensieve profile's fixed RTT: every trace exact, nothing on stderr
            assert best["exact"].all() and err == ""


def test_simulate_optimum_csv_summary_table_and_log(inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ctrl = ("--controller", "bb", "rate", "--profile", "pensieve")
    _, plain, _ = run(capsys, *simulate_args(inputs, *ctrl, "--format", "csv"))
    log = tmp_path / "log.csv"
    code, out, err = run(capsys, *simulate_args(inputs, *ctrl, "--format", "csv", "--optimum", "--log", log))
    assert code == 0 and err == ""
    # the controllers' rows are unchanged (integers stay integers), the optimum's follow
    lines, before = out.splitlines(), plain.splitlines()
    assert lines[0] == before[0] + "," + ",".join(OPTIMUM_COLUMNS)
    assert lines[1 : len(before)] == [line + "," * len(OPTIMUM_COLUMNS) for line in before[1:]]
    sessions = pd.read_csv(io.StringIO(out))
    best = sessions[sessions["controller"] == "optimum"]
    assert len(best) == 4 and best["exact"].all() and best["startup_s"].isna().all()
    assert set(pd.read_csv(log)["controller"]) == {"bb", "rate"}  # the log is the controllers'

    code, out, _ = run(capsys, *simulate_args(inputs, *ctrl, "--format", "csv", "--summary", "--optimum"))
    summary = pd.read_csv(io.StringIO(out))
    assert summary.columns.tolist() == SUMMARY_COLUMNS
    assert summary["controller"].tolist() == ["bb", "rate", "optimum"]
    row = summary.iloc[-1]
    assert row["sessions"] == 4 and row["stalled_sessions"] == 0
    assert row["mean_qoe"] == pytest.approx(best["qoe"].mean())
    assert row["mean_qoe"] >= summary["mean_qoe"].max() - 1e-9

    # no --controller: bb, as without --optimum, then the optimum
    code, out, _ = run(capsys, *simulate_args(inputs, "--profile", "pensieve", "--optimum"))
    assert code == 0 and read_table(out)["controller"].tolist() == ["bb", "optimum"]


def test_simulate_optimum_dead_trace_warns(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--traces", str(inputs["dead"]), str(inputs["traces"] / "trace_0"), "--video", str(inputs["video"]),
            "--profile", "pensieve", "--optimum", "--format", "json"]
    code, out, err = run(capsys, *args)
    assert code == 0
    assert "abrkit: warning: no offline optimum for trace dead: status no_bandwidth" in err.splitlines()
    dead = [r for r in json.loads(out) if r["trace"] == "dead" and r["controller"] == "optimum"]
    assert len(dead) == 1 and dead[0]["qoe"] is None and dead[0]["chunks"] == 0


@pytest.mark.parametrize("profile", ["sabre", "event"])
def test_simulate_optimum_refuses_event_profiles(inputs: dict[str, Path], profile: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *simulate_args(inputs, "--profile", profile, "--controller", "bola", "--optimum"))
    assert code == 1 and out == ""
    assert err.startswith("abrkit: error: --optimum") and err.count("\n") == 1
    assert "chunk-model profiles (default, pensieve)" in err and f"--profile {profile}" in err


def test_simulate_help_explains_optimum(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["simulate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--optimum" in text and "upper bound on every controller" in text and "not in --log" in text



# -- errors ----------------------------------------------------------------------------------------


def test_missing_trace_file(inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no_such_trace"
    code, out, err = run(capsys, "simulate", "--traces", missing, "--video", inputs["video"])
    assert code == 1 and out == ""
    assert err.startswith("abrkit: error: ") and str(missing) in err and err.count("\n") == 1
    assert "Traceback" not in err


def test_missing_video_file(inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "simulate", "--traces", inputs["traces"], "--video", tmp_path / "nope.json")
    assert code == 1 and "nope.json" in err


def test_unknown_controller(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *simulate_args(inputs, "--controller", "bb", "warp-drive"))
    assert code == 1 and out == ""
    assert "warp-drive" in err and "unknown controller" in err and err.count("\n") == 1
    code, _, err = run(capsys, *simulate_args(inputs, "--controller", "rate:speed=3"))
    assert code == 1 and "speed" in err
    code, _, err = run(capsys, *simulate_args(inputs, "--controller", "bb", "bb:reservoir_s=5.0"))
    assert code == 1 and "same as" in err


PYTHON_CONTROLLERS = """
class HandBB:
    \"\"\"Pensieve's BB by hand: the same decisions as the built-in 'bb'.\"\"\"
    name = "hand-bb"

    def decide(self, obs):
        if obs.buffer_s < 5.0:
            return 0
        if obs.buffer_s >= 15.0:
            return obs.n_rungs - 1
        return int((obs.n_rungs - 1) * (obs.buffer_s - 5.0) / 10.0)


class Lowest:
    def decide(self, obs):
        return 0


class NotAController:
    pass
"""


def test_simulate_runs_python_controllers_from_files(inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.py"
    rules.write_text(PYTHON_CONTROLLERS, encoding="utf-8")
    code, out, err = run(capsys, *simulate_args(inputs, "--controller", "bb", f"{rules}:HandBB", f"{rules}:Lowest",
                                                 "--format", "json"))
    assert code == 0, err
    table = pd.DataFrame(json.loads(out))
    assert set(table["controller"]) == {"bb", "hand-bb", "Lowest"}
    by = table.set_index(["controller", "trace"])
    pd.testing.assert_series_equal(by.loc["hand-bb", "qoe"], by.loc["bb", "qoe"])
    assert (by.loc["Lowest", "mean_bitrate_kbps"] == by.loc["Lowest", "mean_bitrate_kbps"].min()).all()

    single = tmp_path / "one.py"
    single.write_text(PYTHON_CONTROLLERS.split("class Lowest")[0], encoding="utf-8")
    code, out, err = run(capsys, *simulate_args(inputs, "--controller", str(single), "--format", "json"))
    assert code == 0 and set(pd.DataFrame(json.loads(out))["controller"]) == {"hand-bb"}

    for spec, message in [
        (f"{tmp_path / 'missing.py'}:X", "no such Python file"),
        (str(rules), "name the class as"),
        (f"{rules}:Nope", "has no class 'Nope' (classes with decide(): HandBB, Lowest)"),
        (f"{rules}:NotAController", "NotAController needs a decide(obs) method"),
    ]:
        code, out, err = run(capsys, *simulate_args(inputs, "--controller", spec))
        assert code == 1 and out == "" and message in err and err.count("\n") == 1, err
    broken = tmp_path / "broken.py"
    broken.write_text("import not_a_module_anywhere\n", encoding="utf-8")
    code, _, err = run(capsys, *simulate_args(inputs, "--controller", str(broken)))
    assert code == 1 and "importing" in err and "ModuleNotFoundError" in err
    # Python controllers run under the event profiles too (custom.play_event_session)
    code, out, err = run(capsys, *simulate_args(inputs, "--controller", f"{rules}:HandBB", "bb", "--profile", "sabre"))
    assert code == 0, err
    assert list(read_table(out)["controller"]) == ["hand-bb", "bb"]


def test_simulate_sets_profile_fields_and_loops_the_video(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from abrkit import EVENT_PROFILES, load_traces, read_video, run_event_batch

    code, out, err = run(capsys, *simulate_args(
        inputs, "--profile", "sabre", "--controller", "bolae", "--set", "network_multiplier=0.5",
        "--set", "replacement=left", "--set", "rampup_quality=none", "--video-length-s", "500", "--format", "json",
    ))
    assert code == 0, err
    got = pd.DataFrame(json.loads(out))
    prof = EVENT_PROFILES["sabre"].replace(network_multiplier=0.5, replacement="left")
    video = read_video(inputs["video"]).looped(500.0)
    traces = load_traces([inputs["traces"], inputs["sabre"]])
    want = run_event_batch(traces, video, "bolae", prof).sessions()
    assert got["total_play_time"].tolist() == pytest.approx(want["total_play_time"].tolist(), rel=1e-12)
    assert got["time_average_score"].tolist() == pytest.approx(want["time_average_score"].tolist(), rel=1e-12)
    assert (got["chunks"] == video.n_chunks).all()

    code, out, err = run(capsys, *simulate_args(inputs, "--set", "buffer_cap_s=30", "--set", "first_chunk_rebuffers=true",
                                                 "--format", "json"))
    assert code == 0, err
    for bad, message in [
        ("warp=1", "FIELD one of"), ("buffer_cap_s", "FIELD one of"), ("buffer_cap_s=lots", "takes a number"),
        ("first_chunk_rebuffers=maybe", "true or false"), ("buffer_cap_s=-1", "buffer_cap_s=-1.0 is invalid"),
    ]:
        code, out, err = run(capsys, *simulate_args(inputs, "--set", bad))
        assert code == 1 and out == "" and message in err, (bad, err)


def test_malformed_trace_names_file_and_line(inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad_trace"
    bad.write_text("".join(f"{t} 1.5\n" for t in range(8)) + "8 lots\n9 1.0\n", encoding="utf-8")
    code, out, err = run(capsys, "simulate", "--traces", bad, "--video", inputs["video"])
    assert code == 1 and out == ""
    assert str(bad) in err and "line 9" in err and "'lots'" in err and err.count("\n") == 1
    code, _, err = run(capsys, "simulate", "--traces", bad, "--trace-format", "cooked", "--video", inputs["video"])
    assert code == 1 and "line 9" in err


def test_usage_errors_exit_2(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        [],
        ["simulate", "--video", str(inputs["video"])],  # --traces is required
        simulate_args(inputs, "--format", "xml"),
        simulate_args(inputs, "--profile", "nope"),
        simulate_args(inputs, "--workers", "0"),
        ["traces"],
    ):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2, argv
    assert "usage:" in capsys.readouterr().err


def test_unexpected_errors_keep_their_traceback(inputs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli.simulate, "run_batch", boom)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(simulate_args(inputs))


def test_unwritable_output_is_a_clean_error(inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "no" / "such" / "dir" / "out.csv"
    code, _, err = run(capsys, *simulate_args(inputs, "--out", target))
    assert code == 1 and "cannot write" in err and str(target) in err


# -- traces ------------------------------------------------------------------------------------------


def test_traces_formats(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "traces", "formats")
    assert code == 0
    table = read_plain_table(out)
    assert table["format"].tolist() == sorted(FORMATS)
    for _, row in table.iterrows():
        assert row["auto-detected"] == ("yes" if FORMATS[row["format"]].sniff is not None else "no")
    code, out, _ = run(capsys, "traces", "formats", "--format", "json")
    assert {r["format"] for r in json.loads(out)} == set(FORMATS)


def test_traces_convert_directory_round_trip(inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sabre_dir, back_dir = tmp_path / "as_sabre", tmp_path / "back"
    code, _, err = run(capsys, "traces", "convert", inputs["traces"], sabre_dir, "--to", "sabre")
    assert code == 0, err
    assert sorted(p.name for p in sabre_dir.iterdir()) == ["trace_0.json", "trace_1.json", "trace_2.json"]
    code, _, err = run(capsys, "traces", "convert", sabre_dir, back_dir, "--to", "cooked", "--from", "sabre")
    assert code == 0, err
    for name in ("trace_0", "trace_1", "trace_2"):
        original = read_trace(inputs["traces"] / name)
        assert same_bandwidth(read_trace(sabre_dir / f"{name}.json", "sabre"), original)
        assert read_trace(back_dir / name).equals(original, rtol=1e-9)


def test_traces_convert_single_file(inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "net.txt"
    code, _, err = run(capsys, "traces", "convert", inputs["sabre"], out, "--to", "cooked")
    assert code == 0, err
    assert np.allclose(read_trace(out).bandwidth_bps, read_trace(inputs["sabre"]).bandwidth_bps)
    # into an existing directory: the file keeps its name, extension fitted to the format
    code, _, _ = run(capsys, "traces", "convert", inputs["sabre"], tmp_path, "--to", "cooked")
    assert code == 0 and (tmp_path / "net").is_file()
    code, _, err = run(capsys, "traces", "convert", tmp_path / "missing", tmp_path / "x", "--to", "cooked")
    assert code == 1 and "missing" in err


def test_traces_stats(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    paths = [inputs["traces"], inputs["sabre"]]
    code, out, err = run(capsys, "traces", "stats", *paths)
    assert code == 0, err
    table = read_plain_table(out)
    assert table["trace"].tolist() == ["trace_0", "trace_1", "trace_2", "net.json"]
    code, out, _ = run(capsys, "traces", "stats", *paths, "--format", "csv")
    frame = pd.read_csv(io.StringIO(out))
    assert frame["trace"].tolist() == table["trace"].tolist()
    code, out, _ = run(capsys, "traces", "stats", *paths, "--format", "json")
    records = json.loads(out)
    assert [r["trace"] for r in records] == frame["trace"].tolist()
    assert set(records[0]) == set(frame.columns)


def test_traces_generate_is_seeded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from abrkit.traces import synthetic

    assert {"broadband", "3g", "4g", "outages"} <= set(synthetic.PRESETS)
    args = ["traces", "generate", "--preset", "4g", "--count", "3", "--duration-s", "120", "--seed", "5"]
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert run(capsys, *args, "--out", a)[0] == 0
    assert run(capsys, *args, "--out", b)[0] == 0
    assert run(capsys, *args[:-1], "6", "--out", c, "--to", "cooked")[0] == 0
    files = sorted(p.name for p in a.iterdir())
    assert files == ["4g-5.json", "4g-6.json", "4g-7.json"]
    for name in files:
        assert (a / name).read_bytes() == (b / name).read_bytes()
    # trace i uses seed + i: the set from seed 6 starts with the second trace of the set from seed 5
    assert same_bandwidth(read_trace(c / "4g-6"), read_trace(a / "4g-6.json"), rtol=1e-6)
    assert not same_bandwidth(read_trace(a / "4g-5.json"), read_trace(a / "4g-6.json"), rtol=1e-6)
    trace = read_trace(a / "4g-5.json")
    assert trace.total_duration_s == pytest.approx(120.0)
    # generated traces feed straight into the other commands
    code, out, _ = run(capsys, "traces", "stats", a, "--format", "csv")
    assert code == 0 and len(pd.read_csv(io.StringIO(out))) == 3

    code, _, err = run(capsys, "traces", "generate", "--preset", "moon-link", "--out", tmp_path / "d")
    assert code == 1 and "moon-link" in err and "4g" in err


# -- real processes ----------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(abrkit.__file__).resolve().parents[1])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def test_python_dash_m_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "abrkit", "--version"], capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"abrkit {abrkit.__version__}"


def test_python_dash_m_error_has_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "abrkit", "simulate", "--traces", str(tmp_path / "t"), "--video", str(tmp_path / "gone.json")],
        capture_output=True, text=True, env=_env(), timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith("abrkit: error: ") and "gone" in proc.stderr and proc.stderr.count("\n") == 1


def test_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("abrkit")
    if not script.exists():
        found = shutil.which("abrkit")
        if found is None:
            pytest.skip("the abrkit console script is not installed")
        script = Path(found)
    proc = subprocess.run([str(script), "traces", "formats", "--format", "csv"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert set(pd.read_csv(io.StringIO(proc.stdout))["format"]) == set(FORMATS)


# -- the reference run ---------------------------------------------------------------------------------


@pytest.mark.shared
def test_pensieve_bb_log_reproduces_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    traces = needs_shared("traces/norway-hsdpa-test")
    video = needs_shared("videos/envivio")
    reference = pd.read_csv(needs_shared("reference/pensieve/bb.csv"))
    monkeypatch.chdir(tmp_path)
    code, out, err = run(
        capsys, "simulate", "--profile", "pensieve", "--traces", traces, "--video", video,
        "--bitrates-kbps", ENVIVIO_LADDER, "--controller", "bb", "--log", "bb.csv",
    )
    assert code == 0, err
    assert err == ""
    table = read_table(out)
    assert table["controller"].tolist() == ["bb"] and table["sessions"].tolist() == [142]
    assert table["mean QoE"].iloc[0] == pytest.approx(30.043, abs=0.006)  # the reference README's whole-set BB mean

    log = pd.read_csv(tmp_path / "bb.csv")
    assert LOG_COLUMNS <= set(log.columns)
    mine = log.set_index(["trace", "chunk"]).loc[list(zip(reference["trace"], reference["chunk"]))]
    assert len(mine) == len(reference) == 65 * 48
    np.testing.assert_array_equal(mine["bitrate_kbps"].to_numpy(), reference["bitrate_kbps"].to_numpy())
    for col in ("buffer_s", "rebuffer_s", "reward"):
        np.testing.assert_allclose(mine[col].to_numpy(), reference[col].to_numpy(), rtol=1e-6, atol=1e-9, err_msg=col)
    np.testing.assert_allclose(mine["delay_s"].to_numpy() * 1000, reference["delay_ms"].to_numpy(), rtol=1e-6)
    np.testing.assert_array_equal(mine["size_bytes"].to_numpy(), reference["size_bytes"].to_numpy())


# -- every controller under every profile, from the command line ------------------------------------

HEAD_TO_HEAD = ["bb", "bba0", "bba1", "rate", "festive", "mpc", "robustmpc", "bola", "bolae", "throughput", "dynamic",
                "dashjs"]


@pytest.mark.parametrize("profile", ["default", "pensieve", "event", "sabre"])
def test_simulate_runs_the_head_to_head_under_every_profile(
    inputs: dict[str, Path], capsys: pytest.CaptureFixture[str], profile: str
) -> None:
    chunk_model = profile in ("default", "pensieve")
    args = simulate_args(inputs, "--profile", profile, "--controller", *HEAD_TO_HEAD)
    code, out, err = run(capsys, *args, "--optimum")
    if chunk_model:
        assert code == 0, err
        table = read_table(out)
        assert list(table["controller"]) == HEAD_TO_HEAD + ["optimum"]
    else:
        # the optimum is defined for the chunk model only: a clear error, nothing run
        assert code == 1 and "--optimum is defined for the chunk-model profiles" in err and out == ""
        code, out, err = run(capsys, *args)
        assert code == 0, err
        assert list(read_table(out)["controller"]) == HEAD_TO_HEAD


@pytest.mark.parametrize("command", [["simulate", "--controller", "bb"], ["predict", "--predictor", "harmonic"]])
def test_a_readme_in_a_trace_directory_is_skipped_with_one_warning_or_refused_with_strict(capsys, tmp_path, command):
    for f in sorted((REPO / "samples" / "traces").iterdir())[:2]:
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "README.md").write_text("where these traces come from\n")
    video = ["--video", REPO / "samples" / "videos" / "synthetic_vbr.json"]
    code, out, err = run(capsys, command[0], "--traces", tmp_path, *video, *command[1:], "--format", "csv")
    assert code == 0
    assert err.count("skipped") == 1 and f"abrkit: warning: skipped {tmp_path / 'README.md'}: unknown trace format" in err
    assert "Traceback" not in err
    code, out, err = run(capsys, command[0], "--traces", tmp_path, *video, *command[1:], "--strict")
    assert code == 1
    assert f"abrkit: error: {tmp_path / 'README.md'}: unknown trace format" in err
