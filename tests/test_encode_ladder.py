"""The per-title ladder optimizer end to end, on tiny synthetic clips (and the camera clip, cut).

Every clip is made here with ffmpeg's own sources (320x180, 2 s, 20 fps). Points go to
per-test cache directories, and the module-scoped searches share theirs, so each grid point is
encoded about once for the whole file; x264 runs at ``ultrafast`` with one thread.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abrkit import Video
from abrkit.encode.bdrate import bd_rate
from abrkit.encode.cache import CacheWarning, MeasurementCache, file_sha256, point_key
from abrkit.encode.ffmpeg import find_ffmpeg
from abrkit.encode.ladder import (
    FIXED_COLUMNS,
    POINT_COLUMNS,
    LadderProgress,
    LadderResult,
    default_resolutions,
    optimize_ladder,
)
from abrkit.encode.ladders import FixedLadder, LadderRung
from abrkit.encode.rungs import RungConstraints, validate_ladder
from abrkit.encode.sampling import FastSearch, hull_rate_gap, replay
from abrkit.errors import ParameterError, ToolNotFoundError, VideoFormatError

SHARED_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips" / "cockatoo_720p.mp4"

RES = [(320, 180), (160, 90)]
CRFS = [18.0, 21.0, 24.0, 27.0, 30.0, 33.0, 36.0, 39.0, 42.0, 45.0]
# A small fixed ladder at rates that suit a 320x180 clip, so BD-rates have a real overlap.
SMALL_FIXED = FixedLadder(
    "small-fixed", (LadderRung(30, 160, 90), LadderRung(60, 160, 90), LadderRung(120, 320, 180), LadderRung(240, 320, 180)),
)
CONS = RungConstraints(min_quality_step=4.0, quality_cap=None)
COMMON = dict(preset="ultrafast", segment_s=1.0, progress=False, workers=min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def ff():
    return find_ffmpeg()


@pytest.fixture(scope="session")
def clip(tmp_path_factory, ff) -> Path:
    """testsrc2 at 320x180, 20 fps, 2 s (40 frames), nearly lossless x264."""
    path = tmp_path_factory.mktemp("clips") / "testsrc2.mp4"
    ff.run(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=20:duration=2", "-c:v", "libx264", "-preset", "ultrafast",
            "-crf", "6", "-pix_fmt", "yuv420p", "-y", str(path)])
    return path


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ladder-cache")


@pytest.fixture(scope="module")
def exhaustive(clip, cache_dir) -> LadderResult:
    return optimize_ladder(clip, mode="exhaustive", resolutions=RES, crfs=CRFS, constraints=CONS,
                           fixed_ladders=(SMALL_FIXED,), cache_dir=cache_dir, **COMMON)


@pytest.fixture(scope="module")
def fast(clip, cache_dir, exhaustive) -> LadderResult:
    return optimize_ladder(clip, mode="fast", resolutions=RES, crfs=CRFS, constraints=CONS,
                           fixed_ladders=(SMALL_FIXED,), cache_dir=cache_dir, **COMMON)


# -- result shape -------------------------------------------------------------------------------


def test_exhaustive_result_shape(exhaustive: LadderResult) -> None:
    r = exhaustive
    assert len(r.points) == len(RES) * len(CRFS)
    assert list(r.points.columns[: len(POINT_COLUMNS)]) == list(POINT_COLUMNS)
    assert sorted(zip(r.points.width, r.points.height, r.points.crf)) == sorted(
        (w, h, c) for w, h in RES for c in CRFS
    )
    # sorted by resolution (largest first), then CRF
    assert list(r.points.height) == sorted(r.points.height, reverse=True)
    assert (r.points.bitrate_kbps > 0).all() and r.points.vmaf.between(0, 100).all()
    assert (r.points.n_frames == 40).all() and (r.points["round"] == 0).all()
    # each resolution: more bits and more quality at lower CRF
    for _, g in r.points.groupby("height"):
        g = g.sort_values("crf")
        assert (np.diff(g.bitrate_kbps) < 0).all() and (np.diff(g.vmaf) < 0).all()
    # hull: the on_hull points, increasing in rate and quality
    assert len(r.hull) == int(r.points.on_hull.sum()) >= 2
    assert (np.diff(r.hull.bitrate_kbps) > 0).all() and (np.diff(r.hull.vmaf) > 0).all()
    # rungs: a valid ladder on the hull
    assert list(r.rungs.rung) == list(range(1, len(r.rungs) + 1))
    assert set(r.rungs.point_id) <= set(r.hull.point_id)
    assert validate_ladder(r.rungs, CONS) == []
    # the fixed ladder: measured at its rates, BD-rate computed
    fixed = r.fixed["small-fixed"]
    assert list(fixed.columns[:4]) == list(FIXED_COLUMNS[:4]) and len(fixed) == 4
    assert np.allclose(fixed.bitrate_kbps / fixed.target_kbps, 1.0, atol=0.5)  # ABR on a 2 s clip overshoots
    assert set(r.bd_rate) == {"small-fixed"} and math.isfinite(r.bd_rate["small-fixed"])
    assert math.isfinite(r.bd_rate_hull["small-fixed"]) and r.bd_rate_hull["small-fixed"] <= r.bd_rate["small-fixed"] + 1e-9
    # segments: two 1 s segments per point and fixed rung, sizes adding up to the payload
    seg = r.segments
    assert len(seg) == 2 * (len(r.points) + 4)
    sums = seg.groupby("point_id")["size_bytes"].sum()
    for row in r.points.itertuples():
        assert sums[row.point_id] == row.payload_bytes
    assert r.settings["mode"] == "exhaustive" and r.settings["quality"]["vmaf_model"] == "vmaf_v0.6.1"
    assert r.settings["quality"]["scaler"] == "bicubic" and r.settings["threads"] == 1
    assert r.versions["ffmpeg"] and r.versions["libvmaf"] and r.versions["abrkit"]
    assert len(r.source["sha256"]) == 64 and r.source["width"] == 320 and r.source["n_frames"] == 40
    assert r.n_encodes["search"] == 20 and r.n_encodes["fixed"] == 4


def test_fast_mode_fewer_encodes_and_close_hull(exhaustive: LadderResult, fast: LadderResult) -> None:
    assert fast.n_encodes["search"] < exhaustive.n_encodes["search"]
    assert fast.settings["mode"] == "fast" and fast.settings["search"]["tolerance"] == FastSearch().tolerance
    # The fast points are grid points, measured identically (they came from the same cache).
    ex = exhaustive.points.set_index("point_id")
    for row in fast.points.itertuples():
        assert ex.loc[row.point_id, "vmaf"] == row.vmaf
    # fast hull vs exhaustive hull over the shared VMAF range: the straight-chord rate gap of a
    # subset's hull is never negative; BD-rate (PCHIP through fewer vertices) may be, a little
    args = (exhaustive.hull.bitrate_kbps, exhaustive.hull.vmaf, fast.hull.bitrate_kbps, fast.hull.vmaf)
    assert 0.0 - 1e-9 <= hull_rate_gap(*args) < 5.0
    assert abs(bd_rate(*args)) < 5.0


def test_rerun_reads_everything_from_the_cache(clip, cache_dir, exhaustive: LadderResult) -> None:
    again = optimize_ladder(clip, mode="exhaustive", resolutions=RES, crfs=CRFS, constraints=CONS,
                            fixed_ladders=(SMALL_FIXED,), cache_dir=cache_dir, **COMMON)
    assert again.n_encodes["performed"] == 0 and again.n_encodes["cached"] == 24
    assert again.points.cached.all()
    cols = ["point_id", "width", "height", "crf", "bitrate_kbps", "vmaf", "vmaf_p5", "psnr_y", "ssim"]
    pd.testing.assert_frame_equal(again.points[cols], exhaustive.points[cols])
    pd.testing.assert_frame_equal(again.rungs[cols], exhaustive.rungs[cols])
    assert again.bd_rate == exhaustive.bd_rate


def test_results_do_not_depend_on_workers(clip, exhaustive: LadderResult) -> None:
    one = optimize_ladder(clip, mode="exhaustive", resolutions=[RES[1]], crfs=CRFS[:2], fixed_ladders=(),
                          constraints=RungConstraints(min_quality_step=0, quality_cap=None), cache_dir=False,
                          **{**COMMON, "workers": 1})
    assert one.n_encodes["performed"] == 2
    ex = exhaustive.points.set_index("point_id")
    for row in one.points.itertuples():
        assert ex.loc[row.point_id, "payload_bytes"] == row.payload_bytes
        assert ex.loc[row.point_id, "vmaf"] == row.vmaf


# -- cache and resume -----------------------------------------------------------------------------


def test_interrupted_job_resumes(clip, tmp_path) -> None:
    seen: list[LadderProgress] = []

    def stop_after_three(event: LadderProgress) -> None:
        seen.append(event)
        if len(seen) == 3:
            raise KeyboardInterrupt

    kwargs = dict(mode="exhaustive", resolutions=RES, crfs=CRFS[:4], constraints=CONS, fixed_ladders=(),
                  cache_dir=tmp_path, preset="ultrafast", segment_s=1.0, workers=1)
    with pytest.raises(KeyboardInterrupt):
        optimize_ladder(clip, progress=stop_after_three, **kwargs)
    assert [e.done for e in seen] == [1, 2, 3] and all(e.total == 8 and not e.cached for e in seen)
    assert all(e.stage == "search" and e.vmaf > 0 and e.bitrate_kbps > 0 for e in seen)

    events: list[LadderProgress] = []
    resumed = optimize_ladder(clip, progress=events.append, **kwargs)
    n = resumed.n_encodes
    assert n["cached"] >= 3 and n["performed"] + n["cached"] == 8 and n["performed"] <= 5
    assert sum(e.cached for e in events) == n["cached"] and len(events) == 8
    # the three points reported before the interruption are among those read back
    labels = {e.label for e in events if e.cached}
    assert {e.label for e in seen} <= labels


def test_corrupt_cache_tail_is_skipped(clip, tmp_path) -> None:
    kwargs = dict(mode="exhaustive", resolutions=[RES[1]], crfs=CRFS[:3], fixed_ladders=(), cache_dir=tmp_path,
                  constraints=RungConstraints(min_quality_step=0, quality_cap=None), **COMMON)
    first = optimize_ladder(clip, **kwargs)
    assert first.n_encodes["performed"] == 3
    (points_file,) = (tmp_path / "points").glob("*.jsonl")
    data = points_file.read_bytes()
    lines = data.splitlines(keepends=True)
    assert len(lines) == 3
    points_file.write_bytes(b"".join(lines[:2]) + lines[2][: len(lines[2]) // 2])  # a torn last write
    with pytest.warns(CacheWarning, match=r"skipped 1 unreadable record\(s\) \(line 3\)"):
        second = optimize_ladder(clip, **kwargs)
    assert second.n_encodes["performed"] == 1 and second.n_encodes["cached"] == 2
    # the torn line stays, the new record starts on a line of its own and reads back
    with pytest.warns(CacheWarning):
        third = optimize_ladder(clip, **kwargs)
    assert third.n_encodes["performed"] == 0
    pd.testing.assert_frame_equal(third.points[["point_id", "vmaf"]], first.points[["point_id", "vmaf"]])


def test_cache_store_unit(tmp_path) -> None:
    store = MeasurementCache(tmp_path)
    ctx = {"a": 1, "b": [1, 2]}
    key = point_key(ctx)
    assert key == point_key({"b": [1, 2], "a": 1}) and len(key) == 64
    store.put("abc", key, ctx, {"x": 1.5})
    store.put("abc", key, ctx, {"x": 9.0})  # the first record of a key wins
    assert MeasurementCache(tmp_path).get("abc", key) == {"x": 1.5}
    path = store.points_path("abc")
    # a record altered by hand (valid JSON, wrong check) is refused too
    record = json.loads(path.read_text().splitlines()[0])
    record["point"]["x"] = 2.0
    path.write_text(json.dumps(record) + "\n")
    with pytest.warns(CacheWarning):
        assert MeasurementCache(tmp_path).get("abc", key) is None
    # no directory: nothing on disk
    mem = MeasurementCache(None)
    mem.put("abc", key, ctx, {"x": 1.0})
    assert mem.get("abc", key) == {"x": 1.0} and mem.points_path("abc") is None


def test_source_hash_is_remembered(clip, tmp_path) -> None:
    store = MeasurementCache(tmp_path)
    sha = file_sha256(clip, store)
    import hashlib

    assert sha == hashlib.sha256(clip.read_bytes()).hexdigest()
    st = clip.stat()
    assert MeasurementCache(tmp_path).known_hash(str(clip.resolve()), st.st_size, st.st_mtime_ns) == sha


# -- outputs --------------------------------------------------------------------------------------


def test_json_and_csv_round_trip(exhaustive: LadderResult, tmp_path) -> None:
    path = exhaustive.to_json(tmp_path / "out" / "result.json")
    data = json.loads(path.read_text())
    assert data["format"] == "abrkit-ladder"
    assert [r["bitrate_kbps"] for r in data["rungs"]] == pytest.approx(exhaustive.ladder_kbps)
    assert {"bitrate_kbps", "width", "height", "vmaf", "crf"} <= set(data["rungs"][0])
    assert data["bd_rate"] == pytest.approx(exhaustive.bd_rate)
    back = LadderResult.from_json(path)
    for name in ("points", "hull", "rungs", "segments"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(exhaustive, name), check_dtype=False)
    pd.testing.assert_frame_equal(back.fixed["small-fixed"], exhaustive.fixed["small-fixed"], check_dtype=False)
    assert back.settings == json.loads(json.dumps(exhaustive.settings)) and back.n_encodes == exhaustive.n_encodes
    written = exhaustive.to_csv(tmp_path / "csv")
    names = {p.name for p in written}
    assert {"points.csv", "hull.csv", "rungs.csv", "segments.csv", "fixed-small-fixed.csv"} == names
    rungs = pd.read_csv(tmp_path / "csv" / "rungs.csv")
    assert list(rungs.rung) == list(exhaustive.rungs.rung)
    with pytest.raises(VideoFormatError, match="not an abrkit ladder result"):
        LadderResult.from_dict({"format": "other"})


def test_to_video_streams_the_measured_segments(exhaustive: LadderResult) -> None:
    video = exhaustive.to_video()
    assert isinstance(video, Video) and video.n_rungs == len(exhaustive.rungs) and video.n_chunks == 2
    assert video.chunk_s == 1.0
    assert np.allclose(video.bitrates_kbps, exhaustive.rungs.bitrate_kbps)
    assert video.quality is not None and video.resolutions[0] == (
        int(exhaustive.rungs.width[0]), int(exhaustive.rungs.height[0]),
    )
    assert np.allclose(video.sizes_bytes.sum(axis=0), exhaustive.rungs.payload_bytes)
    fixed = exhaustive.to_video("small-fixed")
    assert fixed.n_rungs == 4 and fixed.name == "small-fixed"
    with pytest.raises(ParameterError, match="ladder"):
        exhaustive.to_video("no-such-ladder")


def test_replay_on_a_stored_grid_matches_the_live_search(exhaustive: LadderResult, fast: LadderResult) -> None:
    table = {}
    index = {res: k for k, res in enumerate(RES)}
    for row in exhaustive.points.itertuples():
        table[(index[(row.width, row.height)], row.crf)] = (row.bitrate_kbps, row.vmaf)
    order = replay(table, len(RES), CRFS)
    assert sorted((RES[r][0], RES[r][1], c) for r, c, _ in order) == sorted(
        zip(fast.points.width, fast.points.height, fast.points.crf)
    )


# -- defaults and bad input -----------------------------------------------------------------------


def test_default_resolutions() -> None:
    assert default_resolutions(1280, 720) == [(1280, 720), (960, 540), (768, 432), (640, 360), (480, 270), (416, 234)]
    assert default_resolutions(1920, 1080)[:2] == [(1920, 1080), (1280, 720)]
    assert default_resolutions(320, 180) == [(320, 180), (160, 90)]
    assert default_resolutions(1921, 1081)[0] == (1920, 1080)


def test_resolution_above_the_source_is_refused(clip) -> None:
    with pytest.raises(ParameterError, match=r"resolutions\[1\]='640x360' is invalid: must not exceed the source's 320x180"):
        optimize_ladder(clip, resolutions=[(320, 180), (640, 360)], cache_dir=False, progress=False)
    with pytest.raises(ParameterError, match="must be even"):
        optimize_ladder(clip, resolutions=[(161, 90)], cache_dir=False, progress=False)


def test_contradictory_constraints(clip, cache_dir, exhaustive: LadderResult) -> None:
    with pytest.raises(ParameterError, match=r"min_bitrate_kbps=500(\.0)? is invalid: must be <= max_bitrate_kbps=100"):
        RungConstraints(min_bitrate_kbps=500, max_bitrate_kbps=100)
    # allowed resolutions that are not searched: refused before any encode
    with pytest.raises(ParameterError, match="allowed_resolutions.*none of them is searched"):
        optimize_ladder(clip, resolutions=RES, crfs=CRFS, cache_dir=False, progress=False,
                        constraints=RungConstraints(allowed_resolutions=((640, 360),)))
    # more rungs than the measured hull can give: the points are cached, the error is clear
    with pytest.raises(ParameterError, match="no ladder of n_rungs=12 rungs"):
        optimize_ladder(clip, mode="exhaustive", resolutions=RES, crfs=CRFS, fixed_ladders=(), cache_dir=cache_dir,
                        constraints=RungConstraints(n_rungs=12, quality_cap=None), **COMMON)


def test_min_vmaf_floor(clip, cache_dir, exhaustive: LadderResult) -> None:
    assert exhaustive.settings["min_vmaf"] == 30.0 and (exhaustive.rungs.vmaf >= 30.0).all()
    kwargs = dict(mode="exhaustive", resolutions=RES, crfs=CRFS, constraints=CONS, fixed_ladders=(),
                  cache_dir=cache_dir, **COMMON)
    floor = optimize_ladder(clip, min_vmaf=None, **kwargs)  # every point is cached
    assert floor.n_encodes["performed"] == 0
    assert floor.rungs.vmaf.min() == floor.hull.vmaf.min()  # without a floor: the cheapest hull point
    high = optimize_ladder(clip, min_vmaf=60.0, **kwargs)
    assert (high.rungs.vmaf >= 60.0).all() and floor.hull.vmaf.min() < 60.0
    assert len(high.hull) == len(floor.hull)  # the floor filters rung candidates, not the hull
    with pytest.raises(ParameterError, match=r"min_vmaf=99\.99 is invalid: no point on the hull reaches it"):
        optimize_ladder(clip, min_vmaf=99.99, **kwargs)


def test_bad_arguments(clip) -> None:
    for kwargs, match in [
        (dict(mode="slow"), "mode='slow' is invalid"),
        (dict(codec="h264"), "codec='h264' is invalid"),
        (dict(axis="sqrt"), "axis='sqrt' is invalid"),
        (dict(crfs=[20, 99]), r"crfs\[1\]=99 is invalid"),
        (dict(codec="vp9", crfs=[20.5]), "whole number"),
        (dict(fixed_ladders=("apple",)), "fixed_ladders='apple' is invalid"),
        (dict(workers=10_000), "exceeds the"),
        (dict(max_duration_s=0), "max_duration_s=0 is invalid"),
        (dict(preset="warp"), "preset='warp' is invalid"),
        (dict(search="fast"), "search='fast' is invalid"),
        (dict(min_vmaf=120), "min_vmaf=120 is invalid"),
        (dict(encoder_args="-tune film"), "extra="),
    ]:
        with pytest.raises(ParameterError, match=match):
            optimize_ladder(clip, cache_dir=False, progress=False, **kwargs)


def test_missing_or_non_video_source(tmp_path) -> None:
    with pytest.raises(VideoFormatError, match="file not found"):
        optimize_ladder(tmp_path / "nope.mp4", cache_dir=False, progress=False)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(VideoFormatError, match="notes.mp4"):
        optimize_ladder(text, cache_dir=False, progress=False)


def test_unavailable_encoder(clip, tmp_path) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        '  *-version*) echo "ffmpeg version n0.0-fake Copyright (c) the abrkit tests" ;;\n'
        "  *-encoders*) printf 'Encoders:\\n ------\\n V..... rawvideo  raw video\\n' ;;\n"
        "  *-filters*) printf 'Filters:\\n ------\\n ... libvmaf  VV->V  VMAF\\n' ;;\n"
        "  *) exit 1 ;;\n"
        "esac\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(ToolNotFoundError, match="has no encoder 'libx264'"):
        optimize_ladder(clip, ffmpeg=fake, cache_dir=False, progress=False)
    with pytest.raises(ToolNotFoundError, match="has no encoder 'libsvtav1'"):
        optimize_ladder(clip, codec="svtav1", ffmpeg=fake, cache_dir=False, progress=False)


def test_max_duration_cuts_the_source(clip, tmp_path) -> None:
    r = optimize_ladder(clip, mode="exhaustive", resolutions=[RES[1]], crfs=CRFS[:2], fixed_ladders=(),
                        constraints=RungConstraints(min_quality_step=0, quality_cap=None), cache_dir=tmp_path,
                        max_duration_s=1.0, **COMMON)
    assert r.source["scored_frames"] == 20 and r.source["n_frames"] == 40
    assert (r.points.n_frames == 20).all() and len(r.segments) == 2
    assert r.settings["max_duration_s"] == 1.0


@pytest.mark.shared
def test_camera_clip_tiny_grid(tmp_path) -> None:
    if not SHARED_CLIP.exists():
        pytest.skip(f"reference data not found: {SHARED_CLIP}")
    r = optimize_ladder(SHARED_CLIP, mode="exhaustive", resolutions=[(640, 360), (416, 234)], crfs=[26, 38],
                        fixed_ladders=(), constraints=RungConstraints(min_quality_step=3, quality_cap=None),
                        cache_dir=tmp_path, max_duration_s=2.0, preset="ultrafast", progress=False,
                        workers=min(2, os.cpu_count() or 1))
    assert r.source["width"] == 1280 and r.source["scored_frames"] == 40 and len(r.points) == 4
    # scored at the display resolution: 360p beats 234p at the same CRF
    by = r.points.set_index(["height", "crf"])
    assert by.loc[(360, 26.0), "vmaf"] > by.loc[(234, 26.0), "vmaf"]
    assert by.loc[(360, 26.0), "bitrate_kbps"] > by.loc[(360, 38.0), "bitrate_kbps"]
    assert validate_ladder(r.rungs, RungConstraints(min_quality_step=3, quality_cap=None)) == []


def test_fast_mode_progress_total_is_known_up_front_and_counts_agree(clip, cache_dir, fast: LadderResult) -> None:
    from abrkit.encode.sampling import FastSearch, fast_search, max_points

    events: list[LadderProgress] = []
    again = optimize_ladder(clip, mode="fast", resolutions=RES, crfs=CRFS, constraints=CONS,
                            fixed_ladders=(SMALL_FIXED,), cache_dir=cache_dir,
                            **{**COMMON, "progress": events.append})
    n_fixed = len(again.fixed[SMALL_FIXED.name])
    bound = max_points(len(RES), len(CRFS)) + n_fixed
    # the first event already carries the bound; the total never grows, and ends at what was done
    assert events[0].total == bound
    totals = [e.total for e in events]
    assert all(a >= b for a, b in zip(totals, totals[1:])) and totals[-1] == events[-1].done == len(events)
    # counts over distinct encodes: what the result uses, split into run now and cached
    n = again.n_encodes
    distinct = set(again.points["point_id"]) | set(again.fixed[SMALL_FIXED.name]["point_id"])
    assert n["search"] == len(again.points) and n["performed"] + n["cached"] == len(distinct)
    assert n["performed"] == 0  # everything came from the cache the fixture filled

    # the bound holds for the search itself, on any grid
    for n_res, m in ((1, 1), (1, 5), (3, 4), (5, 17)):
        got = fast_search(n_res, list(range(10, 10 + 3 * m, 3)), lambda batch, r: [
            (float(np.exp(-0.1 * c) * 1000 / (1 + ri)), float(100 - c - 5 * ri)) for ri, c in batch], params=FastSearch())
        assert len(got) <= max_points(n_res, m)


def test_encoder_args_reach_every_encode_and_key_the_cache(clip, cache_dir, exhaustive: LadderResult) -> None:
    # x264 at a constant quantizer per CRF: other bits than the default encodes, cached apart
    args = ("-x264-params", "qcomp=1:aq-mode=0:mbtree=0")
    cqp = optimize_ladder(clip, mode="exhaustive", resolutions=RES, crfs=CRFS[:3], constraints=CONS, fixed_ladders=(),
                          cache_dir=cache_dir, encoder_args=args, **COMMON)
    assert cqp.settings["encoder_args"] == list(args)
    assert cqp.n_encodes["search_performed"] == len(RES) * 3  # none came from the default run's points
    mine = cqp.points.set_index(["width", "height", "crf"])["bitrate_kbps"]
    theirs = exhaustive.points.set_index(["width", "height", "crf"])["bitrate_kbps"].loc[mine.index]
    assert not np.allclose(mine.to_numpy(), theirs.to_numpy())
