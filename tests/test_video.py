"""The Video type: validation, views, constructors, and the readers for every format."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from abrkit import ParameterError, Video, VideoFormatError, read_video
from abrkit.video import read_pensieve_video, read_sabre_video, video_from_segments

ENVIVIO_KBPS = [300, 750, 1200, 1850, 2850, 4300]


def _video(**changes):
    args = dict(bitrates_bps=[3e5, 7.5e5], chunk_s=4.0, sizes_bytes=np.full((3, 2), 1e5))
    args.update(changes)
    return Video(**args)


# -- validation ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "changes, message",
    [
        ({"bitrates_bps": [3e5, 3e5]}, r"ladder must be strictly increasing, but rung 1 \(300000\) <= rung 0 \(300000\)"),
        ({"bitrates_bps": [7.5e5, 3e5]}, r"ladder must be strictly increasing, but rung 1 \(300000\) <= rung 0 \(750000\)"),
        ({"bitrates_bps": []}, r"bitrates_bps=\[\] is invalid: must be a non-empty 1-D ladder"),
        ({"bitrates_bps": [[3e5, 7.5e5]]}, r"must be a non-empty 1-D ladder"),
        ({"bitrates_bps": [-3e5, 7.5e5]}, r"bitrates_bps\[0\]=-300000\.0 is invalid: must be finite and > 0"),
        ({"bitrates_bps": [3e5, float("inf")]}, r"bitrates_bps\[1\]=inf is invalid: must be finite and > 0"),
        ({"chunk_s": 0.0}, r"chunk_s=0\.0 is invalid: must be finite and > 0"),
        ({"chunk_s": float("nan")}, r"chunk_s=nan is invalid"),
        ({"sizes_bytes": np.full((3, 3), 1e5)}, r"sizes_bytes='array of shape \(3, 3\)' is invalid: must have shape \(n_chunks >= 1, n_rungs=2\)"),
        ({"sizes_bytes": np.full(2, 1e5)}, r"sizes_bytes='array of shape \(2,\)' is invalid"),
        ({"sizes_bytes": np.zeros((0, 2))}, r"must have shape \(n_chunks >= 1, n_rungs=2\)"),
        ({"sizes_bytes": [[1e5, 1e5], [0.0, 1e5]]}, r"sizes_bytes\[1, 0\]=0\.0 is invalid: chunk sizes must be finite and > 0"),
        ({"sizes_bytes": [[1e5, -5.0]]}, r"sizes_bytes\[0, 1\]=-5\.0 is invalid"),
        ({"sizes_bytes": [[1e5, float("nan")]]}, r"sizes_bytes\[0, 1\]=nan is invalid"),
        ({"quality": [[1.0, float("nan")]] * 3}, r"quality\[0, 1\]=nan is invalid: must be finite"),
        ({"quality": np.zeros((2, 2))}, r"quality='array of shape \(2, 2\)' is invalid: must match sizes_bytes \(3, 2\)"),
        ({"resolutions": [(640, 360)]}, r"resolutions=.* is invalid: must give one \(width, height\) per rung \(2\)"),
        ({"resolutions": [(640, 360), (0, 720)]}, r"widths and heights must be > 0"),
    ],
)
def test_validation(changes, message):
    with pytest.raises(ParameterError, match=message):
        _video(**changes)


def test_views_and_read_only_arrays():
    sizes = np.array([[1e5, 2e5], [3e5, 6e5], [2e5, 4e5]])
    video = _video(sizes_bytes=sizes, quality=np.ones((3, 2)), resolutions=[(640, 360), (1280, 720)], name="v")
    assert (video.n_chunks, video.n_rungs, video.duration_s) == (3, 2, 12.0)
    np.testing.assert_array_equal(video.bitrates_kbps, [300.0, 750.0])
    np.testing.assert_allclose(video.mean_bitrates_bps(), [6e5 * 8 / 12, 1.2e6 * 8 / 12])
    assert video.resolutions == ((640, 360), (1280, 720))
    for arr in (video.bitrates_bps, video.sizes_bytes, video.quality):
        assert not arr.flags.writeable
    sizes[0, 0] = 1.0  # the video keeps its own copy
    assert video.sizes_bytes[0, 0] == 1e5
    short = video.truncated(2)
    assert short.n_chunks == 2 and short.quality.shape == (2, 2) and short.name == "v"
    with pytest.raises(ParameterError, match=r"n_chunks=4 is invalid: must be between 1 and 3"):
        video.truncated(4)
    assert "chunks=3 x 4 s" in repr(video) and "quality=yes" in repr(video)


# -- constructors -------------------------------------------------------------------------------

def test_constant_bitrate():
    video = Video.constant_bitrate([300, 750, 1200], 2.0, 5)
    assert video.sizes_bytes.shape == (5, 3)
    np.testing.assert_array_equal(video.sizes_bytes[3], [75_000.0, 187_500.0, 300_000.0])
    np.testing.assert_allclose(video.mean_bitrates_bps(), [3e5, 7.5e5, 1.2e6], rtol=1e-15)
    assert video.quality is None and video.name == "cbr"
    with pytest.raises(ParameterError, match=r"n_chunks=0 is invalid: must be an integer >= 1"):
        Video.constant_bitrate([300], 2.0, 0)
    with pytest.raises(ParameterError, match=r"n_chunks=2\.5 is invalid"):
        Video.constant_bitrate([300], 2.0, 2.5)
    with pytest.raises(ParameterError, match=r"bitrates_kbps=\['a'\] is invalid: must be a sequence of numbers"):
        Video.constant_bitrate(["a"], 2.0, 3)


def test_synthetic_vbr_is_deterministic():
    a = Video.synthetic_vbr(ENVIVIO_KBPS, 4.0, 60, seed=3)
    b = Video.synthetic_vbr(ENVIVIO_KBPS, 4.0, 60, seed=3)
    c = Video.synthetic_vbr(ENVIVIO_KBPS, 4.0, 60, seed=4)
    np.testing.assert_array_equal(a.sizes_bytes, b.sizes_bytes)
    np.testing.assert_array_equal(a.quality, b.quality)
    assert not np.array_equal(a.sizes_bytes, c.sizes_bytes)
    assert a.meta == {"seed": 3}


def test_synthetic_vbr_shape_quality_and_mean_bitrate():
    video = Video.synthetic_vbr(ENVIVIO_KBPS, 4.0, 3000, seed=1)
    assert np.all(np.diff(video.sizes_bytes, axis=1) > 0)  # rungs stay ordered in every chunk
    assert np.all((video.quality >= 0) & (video.quality <= 100))
    assert np.all(np.diff(video.quality, axis=1) > 0)  # more bits, better quality
    ratio = video.mean_bitrates_bps() / video.bitrates_bps
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)  # one complexity process for all rungs
    assert abs(ratio[0] - 1.0) < 0.1, ratio[0]
    assert video.sizes_bytes.std(axis=0)[0] > 0  # it does vary
    flat = Video.synthetic_vbr(ENVIVIO_KBPS, 4.0, 10, seed=1, complexity_sigma=0.0)
    np.testing.assert_allclose(flat.sizes_bytes, Video.constant_bitrate(ENVIVIO_KBPS, 4.0, 10).sizes_bytes, rtol=1e-12)


def test_synthetic_vbr_validation():
    with pytest.raises(ParameterError, match=r"complexity_corr=1\.0 is invalid: must be in \[0, 1\)"):
        Video.synthetic_vbr([300], 4.0, 10, complexity_corr=1.0)
    with pytest.raises(ParameterError, match=r"complexity_sigma=-0\.1 is invalid: must be >= 0"):
        Video.synthetic_vbr([300], 4.0, 10, complexity_sigma=-0.1)
    with pytest.raises(ParameterError, match=r"n_chunks=0 is invalid"):
        Video.synthetic_vbr([300], 4.0, 0)


# -- abrkit JSON ---------------------------------------------------------------------------------

def test_abrkit_json_round_trip(tmp_path):
    video = Video.synthetic_vbr(ENVIVIO_KBPS, 4.0, 20, seed=9, name="vbr")
    video = Video(
        video.bitrates_bps, video.chunk_s, video.sizes_bytes, video.quality,
        [(320, 180), (480, 270), (640, 360), (960, 540), (1280, 720), (1920, 1080)], "vbr", {"seed": 9, "note": "x"},
    )
    path = tmp_path / "vbr.json"
    video.to_json(path)
    back = read_video(path)
    np.testing.assert_array_equal(back.bitrates_bps, video.bitrates_bps)
    np.testing.assert_array_equal(back.sizes_bytes, video.sizes_bytes)
    np.testing.assert_array_equal(back.quality, video.quality)
    assert back.chunk_s == video.chunk_s and back.name == "vbr"
    assert back.resolutions == video.resolutions and back.meta == video.meta
    plain = Video.constant_bitrate([300, 750], 2.0, 3, name="")
    plain.to_json(tmp_path / "plain.json")
    again = read_video(tmp_path / "plain.json")
    assert again.quality is None and again.resolutions is None and again.name == "plain"  # name from the file


def test_abrkit_json_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "abrkit-video", "chunk_s": 4, "bitrates_kbps": [300]}')
    with pytest.raises(VideoFormatError, match=re.escape(f"{bad}: missing key 'sizes_bytes'")):
        read_video(bad)
    bad.write_text('{"format": "abrkit-video", "chunk_s": 4, "bitrates_kbps": [300, 200], "sizes_bytes": [[1, 2]]}')
    with pytest.raises(VideoFormatError, match=r"ladder must be strictly increasing"):
        read_video(bad)
    bad.write_text('{"format": "abrkit-video",\n "chunk_s": 4,,\n}')
    with pytest.raises(VideoFormatError, match=re.escape(f"{bad}, line 2: invalid JSON")):
        read_video(bad)
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    with pytest.raises(VideoFormatError, match=r"unknown video format"):
        read_video(other)
    with pytest.raises(VideoFormatError, match=r"no such file or directory"):
        read_video(tmp_path / "absent.json")


# -- Pensieve chunk-size directories --------------------------------------------------------------

def _pensieve_dir(tmp_path, columns):
    d = tmp_path / "video"
    d.mkdir()
    for r, values in enumerate(columns):
        (d / f"video_size_{r}").write_text("".join(f"{v}\n" for v in values))
    return d


def test_pensieve_directory(tmp_path):
    d = _pensieve_dir(tmp_path, [[100, 110, 120], [200, 210, 220]])
    video = read_video(d, [300, 750])
    np.testing.assert_array_equal(video.sizes_bytes, [[100, 200], [110, 210], [120, 220]])
    assert video.chunk_s == 4.0 and video.name == "video" and video.meta == {"source": "pensieve"}
    assert read_video(d, [300, 750], chunk_s=2.0).chunk_s == 2.0


def test_pensieve_directory_missing_file(tmp_path):
    d = _pensieve_dir(tmp_path, [[100], [200]])
    expected = f"{d / 'video_size_2'}: missing: 3 rungs given, files present: ['video_size_0', 'video_size_1']"
    with pytest.raises(VideoFormatError, match=re.escape(expected)):
        read_video(d, [300, 750, 1200])


def test_pensieve_directory_mismatched_counts(tmp_path):
    d = _pensieve_dir(tmp_path, [[100, 110, 120], [200, 210]])
    expected = f"{d}: rungs have different chunk counts (video_size_0: 3, video_size_1: 2)"
    with pytest.raises(VideoFormatError, match=re.escape(expected)):
        read_video(d, [300, 750])


@pytest.mark.parametrize(
    "line, message",
    [("abc", "chunk size 'abc' is not a number"), ("0", "chunk size '0' must be finite and > 0 bytes"),
     ("-4", "chunk size '-4' must be finite and > 0 bytes"), ("nan", "chunk size 'nan' must be finite")],
)
def test_pensieve_directory_bad_line_names_file_and_line(tmp_path, line, message):
    d = _pensieve_dir(tmp_path, [[100, 110, 120], [200, 210, 220]])
    (d / "video_size_1").write_text(f"200\n210\n{line}\n")
    with pytest.raises(VideoFormatError, match=re.escape(f"{d / 'video_size_1'}, line 3: {message}")) as info:
        read_video(d, [300, 750])
    assert info.value.line == 3 and info.value.path == str(d / "video_size_1")


def test_pensieve_directory_other_errors(tmp_path):
    d = _pensieve_dir(tmp_path, [[100], [200], [300]])
    with pytest.raises(VideoFormatError, match=re.escape("1 more rung files than the 2 bitrates given: ['video_size_2']")):
        read_video(d, [300, 750])
    with pytest.raises(ParameterError, match=r"bitrates_kbps=None is invalid: .* give the ladder in kbps"):
        read_video(d)
    (d / "video_size_0").write_text("\n\n")
    with pytest.raises(VideoFormatError, match=re.escape(f"{d / 'video_size_0'}: empty file: no chunk sizes")):
        read_video(d, [300, 750, 1200])
    with pytest.raises(VideoFormatError, match=r"not a directory of video_size_N files"):
        read_pensieve_video(d / "video_size_1", [300])


@pytest.mark.shared
def test_envivio(shared_data):
    video = read_video(shared_data / "videos" / "envivio", ENVIVIO_KBPS)
    assert (video.n_chunks, video.n_rungs, video.chunk_s) == (49, 6, 4.0)
    np.testing.assert_array_equal(video.bitrates_kbps, ENVIVIO_KBPS)
    assert video.sizes_bytes[0, 1] == 450283  # chunk 0 at 750 kbps, as in Pensieve's bb.csv
    assert video.sizes_bytes[1, 0] == 155580  # chunk 1 at 300 kbps
    # Sizes grow with the rung for every chunk of this CBR-like encode.
    assert np.all(np.diff(video.sizes_bytes, axis=1) > 0)


# -- Sabre movie JSON ------------------------------------------------------------------------------

@pytest.mark.shared
@pytest.mark.parametrize(
    "name, n_rungs, ladder_ends",
    [("bbb.json", 10, (230, 6000)), ("bbb4k.json", 6, (1000, 35000))],
)
def test_sabre_movies(shared_data, name, n_rungs, ladder_ends):
    path = shared_data / "videos" / "sabre" / name
    raw = json.loads(path.read_text())
    video = read_video(path)
    assert video.meta == {"source": "sabre"} and video.name == path.stem
    assert (video.n_chunks, video.n_rungs, video.chunk_s) == (199, n_rungs, 3.0)
    assert (video.bitrates_kbps[0], video.bitrates_kbps[-1]) == ladder_ends
    np.testing.assert_array_equal(video.sizes_bytes, np.array(raw["segment_sizes_bits"]) / 8.0)
    np.testing.assert_array_equal(read_sabre_video(path).sizes_bytes, video.sizes_bytes)
    other_ladder = list(range(1, n_rungs + 1))
    with pytest.raises(ParameterError, match=r"bitrates_kbps=\[1, 2, .*\] is invalid: differs from the ladder stored in"):
        read_video(path, other_ladder)


@pytest.mark.shared
def test_sabre_movie_with_a_ladder_of_another_length(shared_data):
    with pytest.raises(ParameterError, match=r"differs from the ladder stored in"):
        read_video(shared_data / "videos" / "sabre" / "bbb.json", [1, 2])


def test_sabre_json_errors(tmp_path):
    path = tmp_path / "movie.json"
    path.write_text(json.dumps({"segment_duration_ms": 3000, "segment_sizes_bits": [[1000, 2000]]}))
    with pytest.raises(VideoFormatError, match=re.escape(f"{path}: missing key 'bitrates_kbps'")):
        read_sabre_video(path)
    path.write_text(json.dumps({"segment_duration_ms": 3000, "bitrates_kbps": [100, 200], "segment_sizes_bits": [[1, 2], [3]]}))
    with pytest.raises(VideoFormatError, match=r"segment_sizes_bits must be a list of equal-length lists of numbers"):
        read_video(path)
    path.write_text(json.dumps({"segment_duration_ms": 3000, "bitrates_kbps": [100, 200], "segment_sizes_bits": [[1, 2, 3]]}))
    with pytest.raises(VideoFormatError, match=r"must have shape \(n_chunks >= 1, n_rungs=2\)"):
        read_video(path)
    path.write_text("[1, 2]")
    with pytest.raises(VideoFormatError, match=r"Sabre movie JSON must be an object"):
        read_sabre_video(path)
    path.write_text("")
    with pytest.raises(VideoFormatError, match=re.escape(f"{path}: empty file")):
        read_sabre_video(path)


def test_looped_repeats_or_cuts_like_sabres_movie_length():
    video = Video.synthetic_vbr([300, 750, 1200], 3.0, 4, seed=2)
    video = Video(video.bitrates_bps, video.chunk_s, video.sizes_bytes, np.arange(12.0).reshape(4, 3), name="q")
    longer = video.looped(31.0)  # ceil(31000 ms / 3000 ms) = 11 chunks: 4 + 4 + 3
    assert longer.n_chunks == 11
    np.testing.assert_array_equal(longer.sizes_bytes, np.vstack([video.sizes_bytes] * 3)[:11])
    np.testing.assert_array_equal(longer.quality, np.vstack([video.quality] * 3)[:11])
    assert video.looped(6.0).n_chunks == 2 and video.looped(12.0).n_chunks == 4
    with pytest.raises(ParameterError, match="duration_s"):
        video.looped(0.0)


# -- hostile input (issue 11): every malformed file is a VideoFormatError with file and line -------

ABRKIT = {"format": "abrkit-video", "version": 1, "name": "x", "chunk_s": 4.0, "bitrates_kbps": [100, 200],
          "sizes_bytes": [[1000, 2000], [1100, 2100]]}
SABRE = {"segment_duration_ms": 3000, "bitrates_kbps": [100, 200], "segment_sizes_bits": [[8000, 16000], [8800, 16800]]}


def _json_file(tmp_path, obj, **changes):
    path = tmp_path / "movie.json"
    path.write_text(json.dumps({**obj, **changes}, indent=1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "base, changes, line, message",
    [
        # Booleans and numeric strings are not numbers (`true` used to simulate 1 ms segments).
        (SABRE, {"segment_duration_ms": True}, 2, "segment_duration_ms=True is not a finite number"),
        (SABRE, {"segment_duration_ms": "3000"}, 2, "segment_duration_ms='3000' is not a finite number"),
        (SABRE, {"segment_duration_ms": {}}, 2, "segment_duration_ms={} is not a finite number"),  # was a raw TypeError
        (SABRE, {"bitrates_kbps": [True, 200]}, 4, "bitrates_kbps[0]=True is not a finite number"),
        (SABRE, {"segment_sizes_bits": [[8000, "16000"], [1, 2]]}, 8, "segment_sizes_bits[0][1]='16000' is not a finite number"),
        (SABRE, {"segment_sizes_bits": None}, 7, "segment_sizes_bits must be a list of equal-length lists of numbers"),
        (ABRKIT, {"chunk_s": False}, 5, "chunk_s=False is not a finite number"),
        # Integers too large for a float used to escape as OverflowError.
        (SABRE, {"bitrates_kbps": [10**400, 200]}, 4, "bitrates_kbps[0]=<integer of 401 digits> is not a finite number"),
        (ABRKIT, {"sizes_bytes": [[1000, 10**400], [1, 2]]}, 11, "sizes_bytes[0][1]=<integer of 401 digits> is not a finite number"),
        # Resolutions: whole numbers only (`[[1.5, 2.7]]` used to become (1, 2)); None used to be a TypeError.
        (ABRKIT, {"resolutions": [[1.5, 2.7], [640, 360]]}, 21, "resolutions[0]=[1.5, 2.7] must be [width, height], whole numbers"),
        (ABRKIT, {"resolutions": [None, [640, 360]]}, 21, "resolutions[0]=None must be [width, height]"),
        (ABRKIT, {"resolutions": [["1280", 720], [640, 360]]}, 21, "resolutions[0]=['1280', 720] must be"),
        (ABRKIT, {"resolutions": 5}, 20, "resolutions must be a list of [width, height] pairs"),
        (ABRKIT, {"name": ["x"]}, 4, "name=['x'] must be a string"),
        (ABRKIT, {"meta": [1]}, 20, "meta=[1] must be an object"),
        # Values within no physical bound (a 1e-320-byte chunk used to reach the simulator).
        (SABRE, {"segment_sizes_bits": [[1e-320, 16000], [8800, 16800]]}, 8, "chunk 0 of rung 0 is 1.24999e-321 bytes, outside [1, 1e12] bytes"),
        (SABRE, {"segment_duration_ms": 1e-300}, 2, "chunk duration 1e-303 s is outside [0.001, 86400] s"),
        (SABRE, {"bitrates_kbps": [100, 1e300]}, 5, "bitrates_kbps[1]=1e+300 is outside [0.001, 1e9] kbps"),
        # Found by fuzzing: kbps -> bps overflowed with a RuntimeWarning before any check.
        (ABRKIT, {"bitrates_kbps": [100, 1.7e308]}, 8, "bitrates_kbps[1]=1.7e+308 is outside [0.001, 1e9] kbps"),
        (ABRKIT, {"quality": [[1e300, 1], [2, 3]]}, 21, "quality of chunk 0 at rung 0 is 1e+300, beyond +-1e+06"),
    ],
)
def test_hostile_json_videos_are_clean_errors(tmp_path, base, changes, line, message):
    path = _json_file(tmp_path, base, **changes)
    with pytest.raises(VideoFormatError, match=re.escape(f"{path}, line {line}: {message}")) as info:
        read_video(path)
    assert info.value.line == line and info.value.path == str(path)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[" * 100_000, "line 1: JSON nested deeper than 100 levels"),  # was a RecursionError
        ('{"segment_duration_ms": 3000,\n "bitrates_kbps": [' + "9" * 5000 + "]}", "line 2: invalid JSON: a number is too long"),
    ],
)
def test_json_that_python_cannot_parse_is_a_clean_error(tmp_path, text, message):
    path = tmp_path / "movie.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(VideoFormatError, match=re.escape(f"{path}, {message}")):
        read_video(path)


@pytest.mark.parametrize(
    "body, line, message",
    [
        (b"200\n210\n1000 garbage\n", 3, "expected one chunk size (bytes) per line, got 2 fields: '1000 garbage'"),  # was read as 1000
        (b"200\n210 220\n", 2, "expected one chunk size (bytes) per line, got 2 fields"),
        (b"200\n\xe9\n", 2, "not a UTF-8 text file"),  # was a UnicodeDecodeError
        (b"200\n" + b"9" * 5000 + b"\n", 2, "chunk size '" + "9" * 36 + "... has 5000 characters"),
        (b"200\n1e-320\n", 2, "chunk size 1e-320 bytes is outside [1, 1e12] bytes"),
        (b"200\n1e13\n", 2, "chunk size 1e13 bytes is outside [1, 1e12] bytes"),
        (b"200\n1_000\n", 2, "chunk size '1_000' is not a number"),
        (b"200\n\x0c210\n1000 x\n", 3, "expected one chunk size"),  # a form feed does not shift line numbers
    ],
)
def test_hostile_chunk_size_files_are_clean_errors(tmp_path, body, line, message):
    d = _pensieve_dir(tmp_path, [[100, 110, 120], [200, 210, 220]])
    (d / "video_size_1").write_bytes(body)
    with pytest.raises(VideoFormatError, match=re.escape(f"{d / 'video_size_1'}, line {line}: {message}")):
        read_video(d, [300, 750])


def test_a_utf8_bom_is_accepted_by_every_video_reader(tmp_path):
    d = _pensieve_dir(tmp_path, [[100, 110], [200, 210]])
    (d / "video_size_0").write_bytes(b"\xef\xbb\xbf100\n110\n")
    assert read_video(d, [300, 750]).sizes_bytes[0, 0] == 100
    for obj in (ABRKIT, SABRE):
        path = tmp_path / "bom.json"
        path.write_bytes(b"\xef\xbb\xbf" + json.dumps(obj).encode())
        assert read_video(path).n_rungs == 2


def test_rung_files_with_huge_numbers_in_their_names_are_not_rungs(tmp_path):
    d = _pensieve_dir(tmp_path, [[100], [200]])
    (d / ("video_size_" + "9" * 200)).write_text("1\n")  # int() of the suffix used to be unbounded
    (d / "video_size_\u00b2").write_text("1\n")  # a superscript two is a digit to str.isdigit, not to int()
    assert read_video(d, [300, 750]).n_rungs == 2


def test_video_validation_rejects_fractional_and_malformed_resolutions():
    with pytest.raises(ParameterError, match=r"resolutions\[0\]=\(1\.5, 2\.7\) is invalid: must be a sequence of \(width, height\) pairs of whole numbers"):
        _video(resolutions=[(1.5, 2.7), (640, 360)])
    with pytest.raises(ParameterError, match=r"resolutions\[0\]=None is invalid"):
        _video(resolutions=[None, (640, 360)])
    with pytest.raises(ParameterError, match=r"chunk_s=\{\} is invalid: must be finite and > 0"):
        _video(chunk_s={})
    with pytest.raises(ParameterError, match=r"sizes_bytes=.* is invalid: must be an array of numbers"):
        _video(sizes_bytes=[[10**400, 1]] * 3)
    assert _video(resolutions=[(1280.0, 720.0), (np.int64(640), 360)]).resolutions == ((1280, 720), (640, 360))


# -- measured segments and ladder results as videos (issue 11) -----------------------------------------


def _rung_segments(durations, scale, vmaf=50.0):
    return (durations, [scale * d * 1000.0 for d in durations], [vmaf + scale / 100.0] * len(durations))


def test_a_short_tail_is_dropped_by_default_and_kept_on_request():
    # a 4.1 s clip in 2 s segments: 2, 2 and a 0.1 s tail
    durations = [2.0, 2.0, 0.1]
    segs = [_rung_segments(durations, 100.0), _rung_segments(durations, 400.0)]
    video = video_from_segments([100.0, 400.0], segs, segment_s=2.0, frame_s=0.05)
    assert video.n_chunks == 2 and video.chunk_s == 2.0 and video.duration_s == 4.0
    assert video.meta["tail"] == "dropped" and video.meta["last_segment_s"] == 0.1
    np.testing.assert_allclose(video.sizes_bytes[:, 0], [200_000.0, 200_000.0])
    assert video.durations_s is None and video.uniform
    kept = video_from_segments([100.0, 400.0], segs, segment_s=2.0, frame_s=0.05, tail="keep")
    assert kept.n_chunks == 3 and kept.meta["tail"] == "kept" and kept.sizes_bytes[2, 1] == pytest.approx(40_000.0)
    # the kept tail lasts what it lasts: 0.1 s, not a full chunk_s
    np.testing.assert_array_equal(kept.durations_s, [2.0, 2.0, 0.1])
    assert kept.chunk_s == 2.0 and kept.duration_s == pytest.approx(4.1) and not kept.uniform
    with pytest.raises(ParameterError, match="tail='merge' is invalid"):
        video_from_segments([100.0], segs[:1], segment_s=2.0, tail="merge")


def test_frame_rounding_is_not_a_tail():
    # 29.97 fps, 2 s segments: a last segment of 59 frames (1.968 s) is rounding, not a tail
    frame_s = 1001 / 30000
    durations = [60 * frame_s, 60 * frame_s, 59 * frame_s]
    video = video_from_segments([300.0], [_rung_segments(durations, 300.0)], segment_s=2.0, frame_s=frame_s)
    assert video.n_chunks == 3 and video.meta["tail"] == "none"
    short = durations[:2] + [40 * frame_s]
    assert video_from_segments([300.0], [_rung_segments(short, 300.0)], segment_s=2.0, frame_s=frame_s).n_chunks == 2


def test_a_clip_shorter_than_one_segment_is_one_chunk_of_its_length():
    video = video_from_segments([300.0, 900.0], [_rung_segments([0.7], 300.0), _rung_segments([0.7], 900.0)],
                                segment_s=2.0)
    assert video.n_chunks == 1 and video.chunk_s == pytest.approx(0.7) and video.meta["tail"] == "none"


def test_video_from_segments_refuses_uneven_rungs():
    with pytest.raises(ParameterError, match="same segments"):
        video_from_segments([1.0, 2.0], [_rung_segments([1.0, 1.0], 1.0), _rung_segments([1.0], 2.0)], segment_s=1.0)
    with pytest.raises(ParameterError, match="quality for every rung or none"):
        video_from_segments([1.0, 2.0], [_rung_segments([1.0], 1.0), ([1.0], [5.0], None)], segment_s=1.0)


def _ladder_result(segment_s=1.0, durations=(1.0, 1.0, 0.25)):
    """A small abrkit ladder result as LadderResult.to_dict writes it (two rungs, one fixed ladder)."""
    point = {c: 1.0 for c in ("peak_bitrate_kbps", "size_bytes", "payload_bytes", "vmaf_hmean", "vmaf_min",
                              "vmaf_p1", "vmaf_p5", "psnr_y", "psnr_u", "psnr_v", "ssim", "n_frames",
                              "duration_s", "elapsed_s")}
    rungs = [
        {**point, "rung": 1, "point_id": "aaaa", "width": 160, "height": 90, "crf": 40.0, "bitrate_kbps": 95.5,
         "vmaf": 40.25, "round": 0, "cached": False, "on_pareto": True, "on_hull": True},
        {**point, "rung": 2, "point_id": "bbbb", "width": 320, "height": 180, "crf": 30.0, "bitrate_kbps": 610.25,
         "vmaf": 88.5, "round": 0, "cached": False, "on_pareto": True, "on_hull": True},
    ]
    segments = []
    for pid, rate, vmaf in (("aaaa", 95.5, 40.0), ("bbbb", 610.25, 88.0), ("ffff", 300.0, 70.0)):
        for k, d in enumerate(durations):
            segments.append({"point_id": pid, "segment": k, "duration_s": d, "size_bytes": int(rate * d * 125 + k),
                             "vmaf": vmaf + k if k < len(durations) - 1 else None})
    return {
        "format": "abrkit-ladder", "version": 1, "rungs": rungs, "bd_rate": {}, "bd_rate_hull": {}, "bd_vmaf": {},
        "source": {"path": "clip.mp4", "sha256": "ab" * 32, "fps": "20/1", "width": 320, "height": 180},
        "settings": {"segment_s": segment_s, "codec": "x264"}, "versions": {}, "n_encodes": {"search": 2},
        "elapsed_s": 1.0, "notes": [], "hull": [dict(r) for r in rungs],
        "points": [{k: v for k, v in r.items() if k != "rung"} for r in rungs],
        "fixed": {}, "segments": segments,
    }


def test_a_ladder_result_is_a_video_equal_to_to_video(tmp_path):
    from abrkit.encode.ladder import LadderResult

    data = _ladder_result()
    (tmp_path / "out").mkdir()
    path = tmp_path / "out" / "result.json"
    path.write_text(json.dumps(data, indent=1))
    expected = LadderResult.from_dict(data).to_video()
    for video in (read_video(path), read_video(tmp_path / "out"), read_video(path, [95.5, 610.25])):
        assert video.name == expected.name == "per-title" and video.chunk_s == expected.chunk_s == 1.0
        np.testing.assert_array_equal(video.bitrates_bps, expected.bitrates_bps)
        np.testing.assert_array_equal(video.sizes_bytes, expected.sizes_bytes)
        np.testing.assert_array_equal(video.quality, expected.quality)
        assert video.resolutions == expected.resolutions == ((160, 90), (320, 180))
        assert video.meta == expected.meta
    # the 0.25 s tail (whose VMAF is missing) is dropped, so the video is valid
    assert expected.n_chunks == 2 and expected.meta["tail"] == "dropped"
    with pytest.raises(ParameterError, match="differs from the ladder"):
        read_video(path, [100, 600])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["rungs"][1].update(bitrate_kbps=True), r"rungs\[1\]\.bitrate_kbps=True is invalid"),
        (lambda d: d["rungs"][0].update(width=1.5), r"rungs\[0\]\.width=1\.5 is invalid: must be a whole number"),
        (lambda d: d["rungs"][0].update(point_id=7), r"rungs\[0\]\.point_id=7 is invalid"),
        (lambda d: d.update(rungs=[]), "rungs must be a non-empty list"),
        (lambda d: d["segments"][3].update(size_bytes="12"), r"segments\[3\]\.size_bytes='12' is invalid"),
        (lambda d: d["segments"][0].update(segment=-1), r"segments\[0\]\.segment=-1 is invalid"),
        (lambda d: d.update(segments=d["segments"][3:]), "no per-segment measurements for point aaaa"),
        (lambda d: d["segments"].pop(4), "segments of point bbbb are not numbered"),
        (lambda d: d["settings"].update(segment_s=0), "settings.segment_s=0 must be a number of seconds"),
        (lambda d: d.update(settings=[]), "settings must be an object"),
        (lambda d: d["segments"][0].update(size_bytes=0), "chunk sizes must be finite and > 0"),
        (lambda d: d["segments"][2].pop("vmaf"), r"segments\[2\] has no 'vmaf'"),  # found by the fuzz suite
    ],
)
def test_hostile_ladder_results_are_clean_errors(tmp_path, change, message):
    data = _ladder_result()
    change(data)
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data, indent=1))
    with pytest.raises(VideoFormatError, match=message) as info:
        read_video(path)
    assert info.value.path == str(path)


def test_a_ladder_result_error_names_the_line(tmp_path):
    data = _ladder_result()
    data["rungs"][1]["height"] = None
    path = tmp_path / "result.json"
    text = json.dumps(data, indent=1)
    path.write_text(text)
    with pytest.raises(VideoFormatError) as info:
        read_video(path)
    lines = text.splitlines()
    # the line of rungs[1]: the second "{" after "rungs": [
    start = next(i for i, line in enumerate(lines) if line.startswith(' "rungs"'))
    second = [i for i in range(start, len(lines)) if lines[i].strip() == "{"][1]
    assert info.value.line == second + 1


# -- segments of unequal duration ----------------------------------------------------------------


def test_unequal_segments_keep_their_durations():
    # per-shot segments: a 3.3 s shot in 2 s segments gives 2 s + 1.3 s
    durations = [2.0, 1.3, 2.0, 2.0, 0.7, 2.0]
    segs = [_rung_segments(durations, 100.0), _rung_segments(durations, 400.0)]
    video = video_from_segments([100.0, 400.0], segs, segment_s=2.0, frame_s=0.04)
    assert video.chunk_s == 2.0 and video.n_chunks == 6 and video.meta["tail"] == "none"
    np.testing.assert_array_equal(video.durations_s, durations)
    assert video.duration_s == pytest.approx(sum(durations))
    # mean bitrate: bits over the real duration
    np.testing.assert_allclose(video.mean_bitrates_bps(), [800e3, 3200e3])  # (sizes: scale x 1000 bytes per s)
    # a short last segment is still a tail: dropped by default, kept with its duration on request
    tailed = durations + [0.2]
    dropped = video_from_segments([100.0], [_rung_segments(tailed, 100.0)], segment_s=2.0, frame_s=0.04)
    np.testing.assert_array_equal(dropped.durations_s, durations)
    kept = video_from_segments([100.0], [_rung_segments(tailed, 100.0)], segment_s=2.0, frame_s=0.04, tail="keep")
    np.testing.assert_array_equal(kept.durations_s, tailed)
    # frame rounding is not unequal
    frame_s = 1001 / 30000
    rounded = [60 * frame_s, 59 * frame_s, 60 * frame_s]
    assert video_from_segments([300.0], [_rung_segments(rounded, 300.0)], segment_s=2.0, frame_s=frame_s).durations_s is None


def test_video_durations_are_validated():
    args = dict(bitrates_bps=[3e5, 7.5e5], chunk_s=2.0, sizes_bytes=np.full((3, 2), 1e5))
    for bad, message in (
        ([2.0, 2.0], r"durations_s='array of shape \(2,\)' is invalid: must have shape \(n_chunks=3,\)"),
        ([[2.0, 2.0, 2.0]], r"must have shape \(n_chunks=3,\)"),
        ([2.0, float("nan"), 2.0], r"durations_s\[1\]=nan is invalid: chunk durations must be finite"),
        ([2.0, 2.0, 0.0], r"durations_s\[2\]=0\.0 is invalid: .* within \[0\.001, 86400\] s"),
        ([2.0, 1e6, 2.0], r"durations_s\[1\]=1000000\.0 is invalid"),
        ("abc", "durations_s='abc' is invalid: must be an array of numbers"),
    ):
        with pytest.raises(ParameterError, match=message):
            Video(**args, durations_s=bad)
    video = Video(**args, durations_s=[2.0, 1.3, 2.0])
    assert not video.durations_s.flags.writeable
    assert "3 of 1.3-2 s (nominal 2 s, 5.3 s in all)" in repr(video)
    assert "3 x 2 s" in repr(Video(**args))
    equal = Video(**args, durations_s=[2.0, 2.0, 2.0])
    assert equal.uniform and equal.duration_s == 6.0
    np.testing.assert_array_equal(Video(**args).chunk_durations_s(), [2.0, 2.0, 2.0])


def test_cutting_and_looping_keep_each_chunks_duration():
    video = Video([3e5], 2.0, np.arange(1.0, 4.0)[:, None] * 1e5, durations_s=[2.0, 1.3, 0.7])
    cut = video.truncated(2)
    np.testing.assert_array_equal(cut.durations_s, [2.0, 1.3])
    assert cut.duration_s == pytest.approx(3.3)
    looped = video.looped(9.0)  # 4 s per loop: 2 + 1.3 + 0.7 + 2 + 1.3 + 0.7 + 2 = 10 s >= 9 s
    np.testing.assert_array_equal(looped.durations_s, [2.0, 1.3, 0.7, 2.0, 1.3, 0.7, 2.0])
    np.testing.assert_array_equal(looped.sizes_bytes[:, 0], [1e5, 2e5, 3e5, 1e5, 2e5, 3e5, 1e5])
    assert video.looped(4.0).n_chunks == 3 and video.looped(0.5).n_chunks == 1
    with pytest.raises(ParameterError, match="a looped video holds at most"):
        video.looped(1e9)


def test_durations_round_trip_through_video_json(tmp_path):
    video = Video([3e5, 7.5e5], 2.0, np.full((3, 2), 1e5), name="shots", durations_s=[2.0, 1.3, 2.0])
    path = tmp_path / "v.json"
    video.to_json(path)
    assert json.loads(path.read_text())["durations_s"] == [2.0, 1.3, 2.0]
    back = read_video(path)
    np.testing.assert_array_equal(back.durations_s, video.durations_s)
    assert back.chunk_s == 2.0 and back.duration_s == video.duration_s
    # a file without the key reads as before: every chunk lasts chunk_s
    plain = tmp_path / "plain.json"
    Video([3e5], 2.0, np.full((3, 1), 1e5)).to_json(plain)
    assert "durations_s" not in json.loads(plain.read_text()) and read_video(plain).durations_s is None


@pytest.mark.parametrize(
    "durations, message",
    [
        ([4.0, 4.0, 4.0], "durations_s has 3 values, but sizes_bytes has 2 chunks"),
        ([4.0, "4"], r"durations_s\[1\]='4' is not a finite number"),
        ([4.0, 0.0], r"durations_s\[1\]=0 is outside \[0\.001, 86400\] s"),
        ([], "durations_s must be a non-empty list"),
        ({"a": 1}, "durations_s must be a non-empty list"),
    ],
)
def test_bad_durations_in_video_json_name_the_file_and_key(tmp_path, durations, message):
    data = dict(ABRKIT, durations_s=durations)
    path = tmp_path / "v.json"
    path.write_text(json.dumps(data, indent=1))
    with pytest.raises(VideoFormatError, match=message) as info:
        read_video(path)
    assert info.value.path == str(path) and info.value.line is not None


def test_settings_record_the_ladder_and_unequal_durations():
    v = Video.constant_bitrate([100, 300], 2.0, 3, name="cbr")
    assert v.settings() == {"name": "cbr", "bitrates_kbps": [100.0, 300.0], "chunk_s": 2.0}
    d = Video(v.bitrates_bps, 2.0, v.sizes_bytes, name="cbr", durations_s=[2.0, 1.5, 0.5])
    assert d.settings()["durations_s"] == [2.0, 1.5, 0.5]
