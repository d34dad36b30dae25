"""abrkit.encode.shotladder: cuts, joins, the per-shot ladder end to end (predicted against
measured), resuming, the BD-rate against the per-title ladder, and ``abrkit ladder --shots``."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from abrkit import Trace, simulate
from abrkit.cli import main
from abrkit.encode.encoder import EncodeSettings, encode, read_packets
from abrkit.encode.ffmpeg import FFmpeg, file_url, find_ffmpeg
from abrkit.encode.probe import probe
from abrkit.encode.quality import psnr_cap_db, score
from abrkit.encode.package import packaged_segment_sizes, read_media_playlist, write_dash, write_hls
from abrkit.encode.shotladder import cut_shot, join_shots, most_demanding_codecs, optimize_shots
from abrkit.errors import ParameterError

#: A small grid: every shot at two sizes and four CRFs, exhaustively.
GRID = dict(resolutions=[(320, 180), (160, 90)], crfs=[22, 30, 38, 46], mode="exhaustive", workers=2)


@pytest.fixture(scope="module")
def ff() -> FFmpeg:
    return find_ffmpeg()


@pytest.fixture(scope="module")
def clip(ff: FFmpeg, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three shots of unequal difficulty at 320x180, 20 fps (lossless): smptebars 2 s (static),
    mandelbrot 2 s (a zoom), testsrc 1.5 s (moving text): cuts at frames 40 and 80."""
    out = tmp_path_factory.mktemp("shotladder") / "three.mkv"
    args: list[str] = []
    for name in ("smptebars", "mandelbrot", "testsrc"):
        args += ["-f", "lavfi", "-i", f"{name}=size=320x180:rate=20"]
    trims = ["trim=end_frame=40", "trim=end_frame=40", "trim=end_frame=30"]
    graph = ";".join(f"[{k}:v]{t},format=yuv420p,setsar=1,setpts=PTS-STARTPTS[v{k}]" for k, t in enumerate(trims))
    graph += ";[v0][v1][v2]concat=n=3:v=1[out]"
    ff.run([*args, "-filter_complex", graph, "-map", "[out]", "-c:v", "ffv1", "-y", file_url(out)])
    return out


@pytest.fixture(scope="module")
def result(clip: Path, tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("shotladder-run")
    return optimize_shots(clip, shots=[40, 80], out_dir=work / "out", cache_dir=work / "cache", progress=False,
                          fixed_ladders=("apple-hls-h264",), min_vmaf=None, align_to_segments=True, **GRID), work


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_cut_is_lossless_exact_and_the_same_bytes_every_time(ff: FFmpeg, clip: Path, tmp_path: Path):
    a, info = cut_shot(clip, 40, 40, tmp_path / "a", ff)
    b, _ = cut_shot(clip, 40, 40, tmp_path / "b", ff)
    assert info.n_frames == 40 and (info.width, info.height) == (320, 180)
    assert _sha(a) == _sha(b)  # the cache key of every encode of the shot
    # lossless: the cut scores as identical to the source's frames 40..79
    q = score(clip, a, offset_frames=-40, trim=True, ffmpeg=ff)
    assert q.n_frames == 40
    assert q.pooled.loc["psnr_y", "min"] >= psnr_cap_db(8) - 1e-9  # identical frames: the cap
    # reused when present: not rewritten
    mtime = a.stat().st_mtime_ns
    again, _ = cut_shot(clip, 40, 40, tmp_path / "a", ff)
    assert again == a and a.stat().st_mtime_ns == mtime


def test_join_changes_resolution_at_a_shot_and_keeps_every_frame_and_byte(ff: FFmpeg, clip: Path, tmp_path: Path):
    files, payload = [], 0
    for k, (first, n, h) in enumerate([(0, 40, 180), (40, 40, 90)]):
        cut, info = cut_shot(clip, first, n, tmp_path / "cuts", ff)
        w = 320 if h == 180 else 160
        enc = encode(cut, EncodeSettings(width=w, height=h, crf=30, threads=1), tmp_path / f"s{k}.mp4", ffmpeg=ff,
                     source_info=info)
        files.append(enc.path)
        payload += enc.payload_bytes
    joined = join_shots(files, tmp_path / "joined.ts", ff)
    info = probe(joined, ff)
    assert info.n_frames == 80
    got = read_packets(joined, ff, bsf="filter_units=remove_types=7|8|9").size_bytes.sum()
    # the same coded pictures (the parameter sets and delimiters left out); Annex B start codes
    # are 3 or 4 bytes where MP4's length fields are 4, so a byte per NAL unit may differ
    assert abs(int(got) - payload) <= 80
    # it decodes and scores against the source's first 80 frames, across the size change
    q = score(clip, joined, trim=True, ffmpeg=ff)
    assert q.n_frames == 80 and 20 < q.pooled.loc["vmaf", "mean"] <= 100


def test_the_per_shot_rungs_measured_on_the_joined_streams_match_the_prediction(result):
    res, _ = result
    assert list(res.shots["start_frame"]) == [0, 40, 80]
    assert len(res.rungs) >= 3
    for r in res.rungs.itertuples():
        assert Path(r.file).is_file()
        assert abs(r.bitrate_error_pct) < 1.0, r
        assert abs(r.vmaf_error) < 0.5, r
        assert r.stream_bitrate_kbps > r.measured_bitrate_kbps  # the TS delimiters are counted there only
    # every rung plays one encode per shot, and its rate is the duration-weighted mean of theirs
    for k, group in res.choices.groupby("rung"):
        assert list(group["shot"]) == [0, 1, 2]
        w = group["duration_s"].to_numpy()
        rung = res.rungs[res.rungs["rung"] == k].iloc[0]
        assert np.isclose((group["bitrate_kbps"] * w).sum() / w.sum(), rung["bitrate_kbps"])
    # rungs rise in rate and quality
    assert np.all(np.diff(res.rungs["bitrate_kbps"]) > 0) and np.all(np.diff(res.rungs["vmaf"]) > 0)


def test_the_per_shot_ladder_is_at_least_as_good_as_the_per_title_ladder(result):
    res, _ = result
    assert res.per_title is not None
    # A static shot next to a zoom. Measured here: -1.1 % (x264 CRF already spends bits at a
    # near-common slope; the gain comes from choosing the size per shot, on a coarse grid).
    assert res.bd_rate["per-title"] is not None and res.bd_rate["per-title"] < 0.5, res.bd_rate
    # No allocation lies above the path's concave envelope; in particular not the per-title
    # choice of one encode for every shot, priced from the shots' own encodes.
    steps, pts = res.path.steps, res.points
    w = res.shots["duration_s"].to_numpy() / res.shots["duration_s"].sum()
    for (width, crf), group in pts.groupby(["width", "crf"]):
        g = group.sort_values("shot")
        rate, vmaf = float(g["bitrate_kbps"].to_numpy() @ w), float(g["vmaf"].to_numpy() @ w)
        if steps["bitrate_kbps"].min() <= rate <= steps["bitrate_kbps"].max():
            assert np.interp(rate, steps["bitrate_kbps"], steps["mean_quality"]) >= vmaf - 1e-9, (width, crf)


def test_a_rerun_resumes_without_encoding_again(result, clip: Path):
    res, work = result
    again = optimize_shots(clip, shots=[40, 80], out_dir=work / "out", cache_dir=work / "cache", progress=False,
                           fixed_ladders=("apple-hls-h264",), min_vmaf=None, per_title=False, align_to_segments=True,
                           **GRID)
    assert again.n_encodes["search_performed"] == 0
    assert again.n_encodes["produced"] == 0 and again.n_encodes["produced_reused"] == len(again.choices)
    names = [p.name for p in (work / "out" / "shots").iterdir()]
    assert names and all(re.fullmatch(r"shot\d{4}-[0-9a-f]{16}\.mp4", n) for n in names), names[:3]
    assert again.rungs["measured_bitrate_kbps"].tolist() == res.rungs["measured_bitrate_kbps"].tolist()


def test_results_write_json_and_csv(result, tmp_path: Path):
    res, _ = result
    data = json.loads(res.to_json(tmp_path / "r.json").read_text())
    assert data["format"] == "abrkit-shot-ladder" and len(data["rungs"]) == len(res.rungs)
    names = sorted(p.name for p in res.to_csv(tmp_path))
    assert names == ["shot-choices.csv", "shot-path.csv", "shot-points.csv", "shot-rungs.csv", "shot-segments.csv",
                     "shots.csv"]


def test_the_rungs_go_to_the_simulator_segment_by_segment(result):
    res, _ = result
    seg = res.segments
    # 5.5 s in 2 s segments, the last one 1.5 s (aligned shots)
    assert sorted(set(seg["segment"])) == [0, 1, 2] and seg["duration_s"].tolist()[:3] == [2.0, 2.0, 1.5]
    assert all(r.on_grid for r in res.renditions())
    for r in res.rungs.itertuples():
        mine = seg[seg["rung"] == r.rung]
        # the segments hold every coded byte of the stream and its frame-weighted VMAF
        assert np.isclose(mine["size_bytes"].sum() * 8 / mine["duration_s"].sum() / 1000, r.measured_bitrate_kbps)
        assert np.isclose((mine["vmaf"] * mine["duration_s"]).sum() / mine["duration_s"].sum(), r.measured_vmaf,
                          atol=1e-6)
    video = res.to_video()
    assert video.n_chunks == 2 and video.chunk_s == 2.0 and video.n_rungs == len(res.rungs)  # the 1.5 s tail dropped
    first = seg[seg["segment"] == 0].sort_values("rung")
    np.testing.assert_array_equal(video.sizes_bytes[0], first["size_bytes"].to_numpy(dtype=float))
    assert res.to_video(tail="keep").n_chunks == 3
    session = simulate(Trace.constant(2e5, 60.0), video, "bb").to_frame()
    assert len(session) == 2 and set(session["rung"]) <= set(range(video.n_rungs))


def _decoded_sizes(ff: FFmpeg, *args: str) -> list[tuple[int, int]]:
    """The frame size of every decoded frame of an ffmpeg input."""
    run = subprocess.run([ff.path, "-hide_banner", "-nostdin", *args, "-vf", "showinfo", "-f", "null", "-"],
                         capture_output=True, text=True, check=True)
    return [(int(w), int(h)) for w, h in re.findall(r"\bn: *\d+ .*? s:(\d+)x(\d+)", run.stderr)]


def test_shots_off_the_grid_give_unequal_segments_packaged_as_hls_and_dash(ff: FFmpeg, clip: Path, tmp_path: Path):
    # shots of 1.5 s, 2.5 s and 1.5 s in 2 s segments: segments of 1.5, 2, 0.5 and 1.5 s
    res = optimize_shots(clip, shots=[30, 80], out_dir=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False,
                         per_title=False, min_vmaf=None, **GRID)
    seg = res.segments
    for k, mine in seg.groupby("rung"):
        assert mine["duration_s"].tolist() == [1.5, 2.0, 0.5, 1.5]
        assert mine["shot"].tolist() == [0, 1, 1, 2] and mine["start_frame"].tolist() == [0, 30, 70, 80]
        r = res.rungs[res.rungs["rung"] == k].iloc[0]
        assert np.isclose(mine["size_bytes"].sum() * 8 / 5.5 / 1000, r["measured_bitrate_kbps"])
    # to the simulator with every segment's own duration (the chunk model plays them)
    video = res.to_video(tail="keep")
    np.testing.assert_allclose(video.durations_s, [1.5, 2.0, 0.5, 1.5])
    assert video.chunk_s == 2.0 and np.isclose(video.duration_s, 5.5)
    np.testing.assert_array_equal(video.sizes_bytes[2], seg[seg["segment"] == 2].sort_values("rung")["size_bytes"])
    np.testing.assert_allclose(res.to_video().durations_s, [1.5, 2.0, 0.5])  # the short last segment dropped
    log = simulate(Trace.constant(3e4, 60.0), video, "bb").to_frame()
    assert len(log) == 4
    with pytest.raises(ParameterError, match="unequal duration"):
        simulate(Trace.constant(3e4, 60.0), video, "bola", profile="sabre")
    with pytest.raises(ParameterError, match="whole number"):
        optimize_shots(clip, out_dir=tmp_path, segment_s=0.33, align_to_segments=True, **GRID)

    renditions = res.renditions()
    switching = [r for r in renditions if r.switches_size]
    assert switching, "this content should give a rung that changes size (the test checks packaging of one)"
    assert all(not r.on_grid for r in renditions)
    master = write_hls(renditions, tmp_path / "hls")
    mpd = write_dash(renditions, tmp_path / "dash")
    hls_sizes, dash_sizes = packaged_segment_sizes(master), packaged_segment_sizes(mpd)
    text = mpd.read_text()
    for i, r in enumerate(renditions):
        playlist = read_media_playlist(next((tmp_path / "hls").glob(f"v{i}_*/index.m3u8")))
        np.testing.assert_allclose(playlist.durations_s, [1.5, 2.0, 0.5, 1.5])  # EXTINF as the segments
        assert hls_sizes[i].size == dash_sizes[i].size == 4
        # every rung decodes end to end from its fMP4 segments, at each shot's chosen size
        files = [tmp_path / "dash" / f"init-{i}.m4s", *sorted((tmp_path / "dash").glob(f"chunk-{i}-*.m4s"))]
        joined = tmp_path / f"rung{i}.mp4"
        joined.write_bytes(b"".join(f.read_bytes() for f in files))
        chosen = res.choices[res.choices["rung"] == i + 1].sort_values("shot")
        want = [(int(c.width), int(c.height)) for c in chosen.itertuples() for _ in range(int(round(c.duration_s * 20)))]
        assert _decoded_sizes(ff, "-i", str(joined)) == want
        assert _decoded_sizes(ff, "-i", str(next((tmp_path / "hls").glob(f"v{i}_*/index.m3u8")))) == want
    for r in switching:
        # in-band parameter sets, the largest size and the most demanding shot's level announced
        assert f'codecs="avc3.{r.codecs.split(".")[1]}" bandwidth=' in text
        assert (r.width, r.height) == max(r.frame_sizes, key=lambda wh: wh[0] * wh[1])
    assert 'maxWidth="320" maxHeight="180"' in text
    assert "SegmentTimeline" in text and '<S d="45000" />' in text  # the 0.5 s segment at 90 kHz


def test_the_most_demanding_codec_string_wins():
    assert most_demanding_codecs(["avc1.64000c", "avc1.64001f", "avc1.640016"]) == "avc1.64001f"
    assert most_demanding_codecs(["avc1.4d401f", "avc1.64001f"]) == "avc1.64001f"  # same level: High over Main
    assert most_demanding_codecs(["hvc1.1.6.L93.B0", "hvc1.1.6.L120.B0"]) == "hvc1.1.6.L120.B0"
    with pytest.raises(ParameterError):
        most_demanding_codecs([])


def test_bad_arguments_are_named(clip: Path, tmp_path: Path):
    with pytest.raises(ParameterError, match="produce"):
        optimize_shots(clip, codec="vp9", out_dir=tmp_path)
    with pytest.raises(ParameterError, match="out_dir"):
        optimize_shots(clip)
    with pytest.raises(ParameterError, match="shots"):
        optimize_shots(clip, shots=object(), out_dir=tmp_path, **GRID)


def test_cli_ladder_shots_writes_the_tables_and_the_plot(result, clip: Path, tmp_path: Path, capsys):
    pytest.importorskip("matplotlib")
    _, work = result
    listing = tmp_path / "shots.txt"
    listing.write_text("40f\n80f\n")
    out = tmp_path / "out"
    code = main(["ladder", str(clip), "--shots", str(listing), "--out", str(out), "--cache-dir", str(work / "cache"),
                 "--mode", "exhaustive", "--resolutions", "320x180,160x90", "--crfs", "22,30,38,46", "--workers", "2",
                 "--fixed", "apple-hls-h264", "--min-vmaf", "none", "--plot", "--format", "json", "--no-progress",
                 "--align-to-segments", "--renditions"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["shots"]) == 3 and summary["bd_rate"]["per-title"] < 0
    for name in ("shot-result.json", "shot-rungs.csv", "shot-choices.csv", "shots.csv", "result.json", "rungs.csv",
                 "shot-hulls.png", "rung1.ts", "shot-video.json", "hls/master.m3u8", "dash/manifest.mpd"):
        assert (out / name).is_file(), name
    assert len(packaged_segment_sizes(out / "dash" / "manifest.mpd")) == len(summary["rungs"])
    # the search came from the cache the library run filled
    assert summary["n_encodes"]["search_performed"] == 0


@pytest.mark.parametrize("player", ["dashjs", "hlsjs"])
def test_rungs_that_change_size_play_in_real_players(result, tmp_path: Path, player: str):
    # dash.js 5 and hls.js in headless Chromium play per-shot rungs whose frame size changes at
    # a shot (avc3 in fMP4 for DASH, MPEG-TS for HLS) to the end (server pacing: no root needed)
    from abrkit.emulate import emulate_session
    from abrkit.emulate.cdp import find_chromium
    from abrkit.encode.package import video_from_renditions
    from abrkit.errors import ToolNotFoundError
    from abrkit.traces import Trace

    try:
        find_chromium()
    except ToolNotFoundError as err:
        pytest.skip(f"no Chromium: {err}")
    res, _ = result
    switching = [r for r in res.renditions() if r.switches_size]
    assert switching
    folder = tmp_path / "stream"
    write_hls(switching, folder / "hls")
    write_dash(switching, folder / "dash")
    video_from_renditions(switching, tail="keep").to_json(folder / "video.json")
    s = emulate_session(folder, Trace.constant(5e4, 60.0), player, shaper="server", rtt_s=0.02, stall_limit_s=20)
    assert s.totals["status"] == "complete"
    played = s.chunks[s.chunks["kind"] == "played"]
    assert list(played["chunk"]) == [0, 1, 2]
