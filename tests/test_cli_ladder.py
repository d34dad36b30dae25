"""``abrkit ladder`` on a tiny synthetic clip: files written, summary printed, errors in one line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abrkit.cli import main
from abrkit.encode.ffmpeg import find_ffmpeg

SAMPLE_TRACES = Path(__file__).resolve().parents[1] / "samples" / "traces"
GRID = ["--resolutions", "320x180,160x90", "--crfs", "22,30,38,46", "--preset", "ultrafast", "--segment-s", "1",
        "--jnd", "3", "--quality-cap", "none", "--no-progress", "--workers", str(min(2, os.cpu_count() or 1))]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli-clips") / "mandelbrot.mp4"
    find_ffmpeg().run(["-f", "lavfi", "-i", "mandelbrot=size=320x180:rate=20", "-t", "2", "-c:v", "libx264",
                       "-preset", "ultrafast", "-crf", "6", "-pix_fmt", "yuv420p", "-y", str(path)])
    return path


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli-cache")


def test_ladder_writes_files_and_prints_the_table(clip, cache, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    code = main(["ladder", str(clip), *GRID, "--mode", "exhaustive", "--fixed", "--cache-dir", str(cache),
                 "--out", str(out)])
    assert code == 0
    stdout, stderr = capsys.readouterr()
    assert "per-title ladder of mandelbrot.mp4 (320x180, 2 s scored), x264 ultrafast, exhaustive search" in stdout
    assert "points: 8 searched + 0 fixed-ladder rungs; encodes: 8 run now, 0 from the cache" in stdout
    assert "rung" in stdout and "resolution" in stdout and "vmaf" in stdout
    for name in ("result.json", "points.csv", "hull.csv", "rungs.csv", "segments.csv"):
        assert (out / name).is_file(), name
        assert name in stderr
    rungs = pd.read_csv(out / "rungs.csv")
    data = json.loads((out / "result.json").read_text())
    assert [r["bitrate_kbps"] for r in data["rungs"]] == pytest.approx(list(rungs.bitrate_kbps))
    assert data["bd_rate"] == {} and len(pd.read_csv(out / "points.csv")) == 8
    # the table lists every rung with its resolution
    for row in rungs.itertuples():
        assert f"{row.width}x{row.height}" in stdout


def test_ladder_json_with_fixed_ladder_and_resume(clip, cache, tmp_path, capsys) -> None:
    out = tmp_path / "json"
    code = main(["ladder", str(clip), *GRID, "--mode", "exhaustive", "--fixed", "apple-hls-h264", "--cache-dir",
                 str(cache), "--format", "json", "--out", str(out)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert {"rungs", "bd_rate", "bd_rate_hull", "n_encodes", "settings", "files"} <= set(summary)
    assert "points" not in summary and "segments" not in summary
    assert set(summary["bd_rate"]) == {"apple-hls-h264"}
    assert summary["n_encodes"]["search_performed"] == 0  # the grid came from the first test's cache
    assert summary["n_encodes"]["fixed"] == 9
    assert (out / "fixed-apple-hls-h264.csv").is_file()
    for rung in summary["rungs"]:
        assert {"bitrate_kbps", "width", "height", "vmaf", "crf"} <= set(rung)


def test_default_cache_lives_in_the_output_directory(clip, tmp_path, capsys) -> None:
    out = tmp_path / "own"
    args = ["ladder", str(clip), "--resolutions", "160x90", "--crfs", "30,40", "--preset", "ultrafast",
            "--jnd", "0", "--quality-cap", "none", "--fixed", "--no-progress", "--max-duration-s", "1",
            "--mode", "exhaustive", "--workers", "1", "--out", str(out)]
    assert main(args) == 0
    assert list((out / ".abrkit-cache" / "points").glob("*.jsonl"))
    capsys.readouterr()
    assert main(args) == 0
    assert "2 searched + 0 fixed-ladder rungs; encodes: 0 run now, 2 from the cache" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--resolutions", "640x360"], "must not exceed the source's 320x180"),
        (["--min-kbps", "500", "--max-kbps", "100"], "min_bitrate_kbps=500"),
        (["--min-ratio", "3", "--max-ratio", "2"], "min_ratio=3"),
        (["--crfs", "10,99"], "crfs"),
        (["--fixed", "nope"], "fixed_ladders='nope'"),
    ],
)
def test_ladder_errors_are_one_line(clip, tmp_path, capsys, extra, message) -> None:
    code = main(["ladder", str(clip), "--no-progress", "--no-cache", "--out", str(tmp_path / "x"), *extra])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("abrkit: error: ") and message in err and "\n" not in err


def test_bad_cache_dir_is_one_line_before_any_encode(clip, tmp_path, capsys) -> None:
    (tmp_path / "file").write_text("x")
    for bad in ("/dev/null/cache", str(tmp_path / "file" / "cache")):
        code = main(["ladder", str(clip), "--no-progress", "--cache-dir", bad, "--out", str(tmp_path / "x")])
        assert code == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"abrkit: error: cache_dir='{bad}' is invalid: cannot create") and "\n" not in err
    assert not (tmp_path / "x").exists()


def test_metrics_choose_what_each_encode_is_scored_with(clip, cache, tmp_path, capsys) -> None:
    full = tmp_path / "full"
    assert main(["ladder", str(clip), *GRID, "--mode", "exhaustive", "--fixed", "--cache-dir", str(cache),
                 "--out", str(full)]) == 0
    lean = tmp_path / "lean"
    assert main(["ladder", str(clip), *GRID, "--mode", "exhaustive", "--fixed", "--cache-dir", str(cache),
                 "--metrics", "vmaf,psnr", "--out", str(lean)]) == 0
    capsys.readouterr()
    a, b = pd.read_csv(full / "points.csv"), pd.read_csv(lean / "points.csv")
    assert a["ssim"].notna().all() and b["ssim"].isna().all()
    # VMAF decides, so the same encodes make the same ladder; PSNR is the same measurement
    for column in ("bitrate_kbps", "vmaf", "psnr_y"):
        np.testing.assert_array_equal(a[column].to_numpy(), b[column].to_numpy())
    pd.testing.assert_frame_equal(pd.read_csv(full / "rungs.csv").drop(columns=["ssim", "point_id", "cached", "elapsed_s"]),
                                  pd.read_csv(lean / "rungs.csv").drop(columns=["ssim", "point_id", "cached", "elapsed_s"]))
    data = json.loads((lean / "result.json").read_text())
    assert data["settings"]["quality"]["ssim"] is False and data["settings"]["quality"]["psnr"] is True
    with pytest.raises(SystemExit) as info:
        main(["ladder", str(clip), "--metrics", "vmaf,cambi", "--out", str(tmp_path / "x")])
    assert info.value.code == 2
    assert "unknown metric 'cambi'" in capsys.readouterr().err


def test_missing_source_is_one_line(tmp_path, capsys) -> None:
    code = main(["ladder", str(tmp_path / "nope.mp4"), "--no-cache", "--out", str(tmp_path / "x")])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("abrkit: error: ") and "file not found" in err


def test_bad_values_are_usage_errors(clip, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["ladder", str(clip), "--resolutions", "big", "--out", str(tmp_path)])
    assert info.value.code == 2
    assert "WIDTHxHEIGHT" in capsys.readouterr().err


def test_plot_and_renditions(clip, cache, tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "full"
    code = main(["ladder", str(clip), *GRID, "--mode", "exhaustive", "--fixed", "--cache-dir", str(cache),
                 "--plot", "--renditions", "--out", str(out)])
    assert code == 0
    capsys.readouterr()
    assert (out / "rate-quality.png").stat().st_size > 1000
    rungs = pd.read_csv(out / "rungs.csv")
    renditions = pd.read_csv(out / "renditions.csv")
    assert len(renditions) == len(rungs)
    assert list(renditions.width) == list(rungs.width) and list(renditions.crf) == list(rungs.crf)
    master = (out / "hls" / "master.m3u8").read_text()
    assert master.count("#EXT-X-STREAM-INF") == len(rungs) and "AVERAGE-BANDWIDTH" in master
    assert "<MPD" in (out / "dash" / "manifest.mpd").read_text()
    video = json.loads((out / "video.json").read_text())
    assert len(video["bitrates_kbps"]) == len(rungs) and len(video["sizes_bytes"]) == 2


def test_a_ladder_directory_is_a_video_and_every_bitrate_is_labelled(tmp_path, capsys) -> None:
    # 2.1 s at 1 s segments: two full segments and a 0.1 s tail, which the Video leaves out
    clip = tmp_path / "tail.mp4"
    find_ffmpeg().run(["-f", "lavfi", "-i", "mandelbrot=size=320x180:rate=20", "-t", "2.1", "-c:v", "libx264",
                       "-preset", "ultrafast", "-crf", "6", "-pix_fmt", "yuv420p", "-y", str(clip)])
    out = tmp_path / "out"
    code = main(["ladder", str(clip), "--resolutions", "320x180,160x90", "--crfs", "24,36", "--preset", "ultrafast",
                 "--segment-s", "1", "--jnd", "3", "--quality-cap", "none", "--no-progress", "--workers", "1",
                 "--mode", "exhaustive", "--fixed", "--renditions", "--out", str(out)])
    assert code == 0
    stdout = capsys.readouterr().out
    assert "search kbps = video payload over the scored duration" in stdout
    assert "packaged kbps = the HLS segment files a player downloads, MPEG-TS container included" in stdout
    from abrkit import read_video
    from abrkit.encode.ladder import LadderResult

    expected = LadderResult.from_json(out / "result.json").to_video()
    assert expected.n_chunks == 2 and expected.meta["tail"] == "dropped"
    for given in (out, out / "result.json"):
        video = read_video(given)
        np.testing.assert_array_equal(video.sizes_bytes, expected.sizes_bytes)
        np.testing.assert_array_equal(video.bitrates_bps, expected.bitrates_bps)
        np.testing.assert_array_equal(video.quality, expected.quality)
    # the three bitrates of each rung, side by side: search (result.json), rendition payload, packaged (video.json)
    rungs = pd.read_csv(out / "rungs.csv")
    renditions = pd.read_csv(out / "renditions.csv")
    packaged = read_video(out / "video.json")
    assert list(renditions.rung) == list(rungs.rung)
    np.testing.assert_allclose(renditions.target_kbps, rungs.bitrate_kbps, rtol=1e-5)
    np.testing.assert_allclose(renditions.packaged_kbps, packaged.bitrates_kbps, rtol=1e-5)
    assert np.all(renditions.packaged_kbps > renditions.measured_kbps)  # the container
    assert packaged.meta["tail"] == "dropped" and "container included" in packaged.meta["bitrates"]
    for row in renditions.itertuples():
        assert f"{row.packaged_kbps:.0f}" in stdout and f"{row.measured_kbps:.0f}" in stdout
    # and abrkit simulate streams it
    for given in (out, out / "result.json"):
        code = main(["simulate", "--traces", str(SAMPLE_TRACES), "--video", str(given), "--controller", "bb"])
        assert code == 0
        assert f"video per-title: 2 chunks x 1 s, {len(rungs)} rungs" in capsys.readouterr().out


def test_summary_prints_missing_values_as_a_dash() -> None:
    from abrkit.cli.ladder import format_summary
    from abrkit.encode.ladder import LadderResult

    rung = {"rung": 1, "point_id": "aaaa", "width": 160, "height": 90, "crf": 30.0, "bitrate_kbps": 97.6,
            "peak_bitrate_kbps": None, "vmaf": 61.234, "vmaf_p5": None}
    result = LadderResult.from_dict({
        "format": "abrkit-ladder", "version": 1, "rungs": [rung], "hull": [], "points": [], "fixed": {},
        "bd_rate": {}, "segments": [], "settings": {"codec": "x264", "preset": "ultrafast", "mode": "fast"},
        "versions": {}, "n_encodes": {"search": 1, "fixed": 0, "performed": 1, "cached": 0},
        "source": {"path": "clip.mp4", "width": 160, "height": 90, "scored_duration_s": 2.0},
    })
    text = format_summary(result)
    row = next(line for line in text.splitlines() if line.startswith("1 "))
    assert row.split() == ["1", "160x90", "30", "98", "-", "61.23", "-"]
    assert "nan" not in text
