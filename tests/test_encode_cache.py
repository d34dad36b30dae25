"""The ladder's measurement cache under hostile content and bad locations (issue 11).

A bad record (NaN, Infinity, deep nesting, a forged point) is set aside with a CacheWarning and
measured again; a bad location is a ParameterError naming the path before any encode.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pandas as pd
import pytest

from abrkit.encode import ladder as ladder_module
from abrkit.encode.cache import CacheWarning, MeasurementCache, _check, canonical_json, point_key
from abrkit.encode.ffmpeg import FFmpeg, find_ffmpeg
from abrkit.encode.ladder import optimize_ladder
from abrkit.encode.rungs import RungConstraints
from abrkit.errors import ParameterError

KWARGS = dict(
    mode="exhaustive", resolutions=[(160, 90)], crfs=[24.0, 32.0, 40.0], fixed_ladders=(), preset="ultrafast",
    segment_s=1.0, progress=False, workers=1, constraints=RungConstraints(min_quality_step=0, quality_cap=None),
)


@pytest.fixture(scope="module")
def ff() -> FFmpeg:
    return find_ffmpeg()


@pytest.fixture(scope="module")
def clip(ff: FFmpeg, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """testsrc2 at 160x90, 10 fps, 2 s."""
    path = tmp_path_factory.mktemp("cache-clip") / "clip.mp4"
    ff.run(["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10:duration=2", "-c:v", "libx264", "-preset", "ultrafast",
            "-qp", "0", "-pix_fmt", "yuv420p", "-y", str(path)])
    return path


@pytest.fixture(scope="module")
def measured(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ladder_module.LadderResult]:
    """A cache holding the three points of KWARGS, and the result that filled it."""
    cache = tmp_path_factory.mktemp("cache")
    return cache, optimize_ladder(clip, cache_dir=cache, **KWARGS)


def _copy(cache: Path, to: Path) -> Path:
    for f in cache.rglob("*"):
        if f.is_file():
            target = to / f.relative_to(cache)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.read_bytes())
    return to


def _points_file(cache: Path) -> Path:
    (path,) = (cache / "points").glob("*.jsonl")
    return path


def _record_line(record: dict) -> str:
    return canonical_json(record) + "\n"


# -- records that used to abort the run ------------------------------------------------------------


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_record_holding_a_non_finite_number_is_set_aside(tmp_path: Path, constant: str) -> None:
    store = MeasurementCache(tmp_path)
    ctx = {"a": 1}
    key = point_key(ctx)
    store.put("src", key, ctx, {"x": 1.5})
    path = store.points_path("src")
    text = path.read_text()
    path.write_text(text.replace('"x":1.5', f'"x":{constant}'))  # the check no longer matters: not JSON
    with pytest.warns(CacheWarning, match=r"skipped 1 unreadable record\(s\) \(line 1\).*NaN"):
        assert MeasurementCache(tmp_path).get("src", key) is None


def test_a_deeply_nested_line_is_set_aside(tmp_path: Path) -> None:
    store = MeasurementCache(tmp_path)
    ctx = {"a": 1}
    key = point_key(ctx)
    store.put("src", key, ctx, {"x": 1.5})
    path = store.points_path("src")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("[" * 100_000 + "\n")
        fh.write("{" + '"a":[' * 5_000 + "]" * 5_000 + "}\n")  # closed, so valid JSON, but 5,000 deep
    with pytest.warns(CacheWarning, match=r"skipped 2 unreadable record\(s\) \(line 2, 3\)"):
        assert MeasurementCache(tmp_path).get("src", key) == {"x": 1.5}


def test_a_nan_in_sources_jsonl_is_set_aside(tmp_path: Path) -> None:
    store = MeasurementCache(tmp_path)
    store.remember_hash("/x", 1, 2, "abc")
    path = tmp_path / "sources.jsonl"
    path.write_text(path.read_text().replace('"size":1', '"size":NaN') + "[" * 100_000 + "\n")
    with pytest.warns(CacheWarning, match=r"skipped 2 unreadable"):
        assert MeasurementCache(tmp_path).known_hash("/x", 1, 2) is None


def test_bad_records_are_measured_again_in_a_run(clip: Path, measured, tmp_path: Path) -> None:
    cache_src, first = measured
    cache = _copy(cache_src, tmp_path / "cache")
    path = _points_file(cache)
    lines = path.read_text().splitlines(keepends=True)
    assert len(lines) == 3
    record = json.loads(lines[1])
    record["point"]["bitrate_kbps"] = float("nan")  # as a hand edit or another tool would write it
    lines[1] = json.dumps(record) + "\n"
    lines.append("[" * 100_000 + "\n")
    path.write_text("".join(lines))
    with pytest.warns(CacheWarning, match=r"skipped 2 unreadable record\(s\) \(line 2, 4\)"):
        again = optimize_ladder(clip, cache_dir=cache, **KWARGS)
    assert again.n_encodes["performed"] == 1 and again.n_encodes["cached"] == 2
    pd.testing.assert_frame_equal(again.points[["point_id", "bitrate_kbps", "vmaf"]],
                                  first.points[["point_id", "bitrate_kbps", "vmaf"]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)  # the two bad lines stay in the file
        third = optimize_ladder(clip, cache_dir=cache, **KWARGS)
    assert third.n_encodes["performed"] == 0


def test_a_forged_record_with_a_valid_check_is_measured_again(clip: Path, measured, tmp_path: Path) -> None:
    cache_src, first = measured
    cache = _copy(cache_src, tmp_path / "cache")
    path = _points_file(cache)
    lines = path.read_text().splitlines(keepends=True)
    record = json.loads(lines[0])
    record["point"] = {"bitrate_kbps": "fast", "segments": None}  # hashes right, but is no measurement
    del record["check"]
    record["check"] = _check(record)
    lines[0] = _record_line(record)
    path.write_text("".join(lines))
    with pytest.warns(CacheWarning, match="is not a measurement this abrkit can use; measuring it again"):
        again = optimize_ladder(clip, cache_dir=cache, **KWARGS)
    assert again.n_encodes["performed"] == 1
    pd.testing.assert_frame_equal(again.points[["point_id", "vmaf"]], first.points[["point_id", "vmaf"]])


# -- bad locations: errors before any encode --------------------------------------------------------


@pytest.fixture
def no_encode(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("an encode ran before the cache location was checked")

    monkeypatch.setattr(ladder_module, "encode_and_score", refuse)


def test_cache_dir_below_a_file_fails_before_encoding(clip: Path, tmp_path: Path, no_encode: None) -> None:
    (tmp_path / "file").write_text("x")
    bad = tmp_path / "file" / "cache"
    with pytest.raises(ParameterError, match=rf"cache_dir='{bad}' is invalid: cannot create {bad}"):
        optimize_ladder(clip, cache_dir=bad, **KWARGS)


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="needs /dev/null")
def test_cache_dir_under_dev_null_fails_before_encoding(clip: Path, no_encode: None) -> None:
    with pytest.raises(ParameterError, match=r"cache_dir='/dev/null/cache' is invalid: cannot create"):
        optimize_ladder(clip, cache_dir="/dev/null/cache", **KWARGS)


def test_points_entry_that_is_a_file_fails_before_encoding(clip: Path, tmp_path: Path, no_encode: None) -> None:
    (tmp_path / "points").write_text("not a folder")
    with pytest.raises(ParameterError, match=rf"cache_dir='{tmp_path}' is invalid: holds {tmp_path / 'points'}, which is "
                                             "not a directory"):
        optimize_ladder(clip, cache_dir=tmp_path, **KWARGS)


def test_cache_dir_that_is_a_file_fails(clip: Path, tmp_path: Path, no_encode: None) -> None:
    (tmp_path / "cache").write_text("x")
    with pytest.raises(ParameterError, match="exists and is not a directory"):
        optimize_ladder(clip, cache_dir=tmp_path / "cache", **KWARGS)


def test_points_file_that_is_a_directory_fails_before_encoding(clip: Path, measured, tmp_path: Path,
                                                               no_encode: None) -> None:
    cache_src, _ = measured
    name = _points_file(cache_src).name
    (tmp_path / "points" / name).mkdir(parents=True)
    with pytest.raises(ParameterError, match=rf"holds {tmp_path / 'points' / name}, which is not a regular file"):
        optimize_ladder(clip, cache_dir=tmp_path, **KWARGS)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_cache_dir_fails_before_encoding(clip: Path, tmp_path: Path, no_encode: None) -> None:
    cache = tmp_path / "ro"
    (cache / "points").mkdir(parents=True)
    cache.chmod(0o500)
    try:
        with pytest.raises(ParameterError, match="cannot write in"):
            optimize_ladder(clip, cache_dir=cache, **KWARGS)
    finally:
        cache.chmod(0o700)


def test_a_failed_write_later_warns_and_keeps_the_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = MeasurementCache(tmp_path)
    store.prepare("src")

    def full(path: Path, line: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("abrkit.encode.cache._append_line", full)
    ctx = {"a": 1}
    with pytest.warns(CacheWarning, match="No space left on device; this run goes on"):
        store.put("src", point_key(ctx), ctx, {"x": 1.0})
    assert store.get("src", point_key(ctx)) == {"x": 1.0}
    ctx2 = {"a": 2}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one warning per file, not one per point
        store.put("src", point_key(ctx2), ctx2, {"x": 2.0})
