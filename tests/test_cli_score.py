"""``abrkit score``: pooled and per-frame outputs, identical files, mismatches, bad files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from _clips import degraded_copy, lavfi_clip
from abrkit.cli import main
from abrkit.encode.ffmpeg import FFmpeg, file_url, find_ffmpeg
from abrkit.encode.quality import POOLS


@pytest.fixture(scope="module")
def ff() -> FFmpeg:
    return find_ffmpeg()


@pytest.fixture(scope="module")
def clips(ff: FFmpeg, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("score")
    ref = lavfi_clip(ff, work / "ref.mp4", size="320x180", fps=20, duration_s=2.0)  # 40 frames
    short = work / "short.mp4"
    ff.run(["-i", file_url(ref), "-frames:v", "30", "-c:v", "libx264", "-preset", "ultrafast", "-y", file_url(short)])
    return {"ref": ref, "bad": degraded_copy(ff, ref, work / "bad.mp4", crf=45), "short": short, "work": work}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["score", *map(str, argv), "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def test_identical_files_give_capped_psnr_in_valid_json(clips: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, clips["ref"], clips["ref"], "--format", "json")
    assert code == 0
    data = json.loads(out)  # strict JSON: no Infinity, no NaN
    assert data["n_frames"] == 40 and data["fps"] == 20.0
    # infinite in theory; libvmaf's cap, 6 x 8 + 12 dB, on every frame
    assert data["pooled"]["psnr_y"] == pytest.approx({name: 60.0 for name in POOLS}, abs=1e-9)
    assert data["pooled"]["ssim"]["min"] == pytest.approx(1.0)
    assert data["pooled"]["vmaf"]["mean"] > 95
    assert data["versions"]["alignment"] == {"reference_start_frame": 0, "distorted_start_frame": 0, "n_frames": 40}


def test_table_and_csv(clips: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, table, err = _run(capsys, clips["ref"], clips["bad"])
    assert code == 0 and "40 frames scored" in err
    header = table.splitlines()[0].split()
    assert header == ["pool", "vmaf", "psnr_y", "psnr_u", "psnr_v", "ssim"]
    assert [line.split()[0] for line in table.splitlines()[2:]] == list(POOLS)
    code, csv, _ = _run(capsys, clips["ref"], clips["bad"], "--format", "csv", "--metrics", "vmaf,ssim")
    pooled = pd.read_csv(io.StringIO(csv), index_col="metric")
    assert list(pooled.index) == ["vmaf", "ssim"] and list(pooled.columns) == list(POOLS)
    assert 0 < pooled.loc["vmaf", "mean"] < 90 and pooled.loc["vmaf", "min"] <= pooled.loc["vmaf", "p1"]


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_per_frame_file(clips: dict[str, Path], capsys: pytest.CaptureFixture[str], suffix: str) -> None:
    path = clips["work"] / f"frames{suffix}"
    code, out, _ = _run(capsys, clips["ref"], clips["bad"], "--metrics", "vmaf,cambi,vmaf_neg", "--format", "csv",
                        "--per-frame", path)
    assert code == 0
    frames = pd.read_json(path) if suffix == ".json" else pd.read_csv(path)
    assert list(frames.columns) == ["frame", "reference_frame", "distorted_frame", "vmaf", "vmaf_neg", "cambi"]
    assert len(frames) == 40 and frames["frame"].tolist() == list(range(40))
    pooled = pd.read_csv(io.StringIO(out), index_col="metric")
    assert frames["vmaf"].mean() == pytest.approx(pooled.loc["vmaf", "mean"], abs=1e-5)


def test_frame_count_mismatch_says_how_to_align(clips: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, clips["ref"], clips["short"])
    assert code == 1 and out == ""
    assert "short.mp4: has 30 frames but the reference" in err and "10 frame(s) longer" in err and "--trim" in err
    code, out, _ = _run(capsys, clips["ref"], clips["short"], "--trim", "--format", "json")
    assert code == 0 and json.loads(out)["n_frames"] == 30
    code, out, _ = _run(capsys, clips["ref"], clips["short"], "--offset", "-10", "--format", "json",
                        "--per-frame", clips["work"] / "offset.csv")
    assert code == 0 and json.loads(out)["versions"]["alignment"]["reference_start_frame"] == 10
    frames = pd.read_csv(clips["work"] / "offset.csv")
    assert frames["reference_frame"].tolist() == list(range(10, 40)) and frames["distorted_frame"].tolist() == list(range(30))


def test_bad_inputs(clips: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    not_video = clips["work"] / "notes.txt"
    not_video.write_text("not a video\n")
    code, _, err = _run(capsys, clips["ref"], not_video)
    assert code == 1 and "notes.txt" in err
    code, _, err = _run(capsys, clips["work"] / "missing.mp4", clips["ref"])
    assert code == 1 and "missing.mp4: no such file" in err
    code, _, err = _run(capsys, clips["ref"], clips["bad"], "--per-frame", clips["work"])
    assert code == 1 and "is a directory" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["score", str(clips["ref"]), str(clips["bad"]), "--metrics", "vmaf,sharpness"])
    assert exit_info.value.code == 2
    assert "unknown metric 'sharpness'" in capsys.readouterr().err
