"""abrkit.encode.encoder: settings, keyframe-aligned encodes, segment sizes from packets."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from _clips import CAMERA_CLIP, cut_camera_clip, lavfi_clip, mp4_boxes
from abrkit.encode.encoder import (
    CODECS,
    EncodeResult,
    EncodeSettings,
    encode,
    encode_output_args,
    even_width,
    read_packets,
    segment_index,
)
from abrkit.encode.ffmpeg import FFmpeg, file_url, find_ffmpeg
from abrkit.encode.probe import probe
from abrkit.errors import ParameterError, ToolNotFoundError, VideoFormatError


@pytest.fixture(scope="module")
def ff() -> FFmpeg:
    return find_ffmpeg()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("encode")


@pytest.fixture(scope="module")
def source(ff: FFmpeg, work: Path) -> Path:
    """testsrc2, 320x180, 20 fps, 3 s: 60 frames."""
    return lavfi_clip(ff, work / "source.mp4", size="320x180", fps=20, duration_s=3.0)


@pytest.fixture(scope="module")
def ntsc_source(ff: FFmpeg, work: Path) -> Path:
    """mandelbrot at 29.97 fps, 3 s: 90 frames whose times never land on whole seconds."""
    return lavfi_clip(ff, work / "ntsc.mp4", source="mandelbrot", size="192x108", fps="30000/1001", duration_s=3.0)


def _fast(codec: str, **kw: object) -> EncodeSettings:
    spec = CODECS[codec]
    crf = 30 if codec.startswith("x") else 40
    return EncodeSettings(codec=codec, preset=spec.fastest_preset, **({"crf": crf} | kw))  # type: ignore[arg-type]


# -- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"codec": "h266", "crf": 23}, "codec='h266' is invalid: must be one of x264, x265, svtav1, vp9"),
        ({"width": 641, "crf": 23}, "width=641 is invalid: must be even"),
        ({"height": 0, "crf": 23}, "height=0 is invalid"),
        ({}, "give exactly one of crf, qp or bitrate_kbps"),
        ({"crf": 23, "qp": 20}, "give exactly one of crf, qp or bitrate_kbps"),
        ({"crf": 52}, r"crf=52 is invalid: must be finite and >= 0 and <= 51"),
        ({"codec": "svtav1", "crf": 30.5}, "must be a whole number for svtav1"),
        ({"codec": "vp9", "qp": 30}, "constant QP is not offered for vp9"),
        ({"qp": 60}, r"qp=60 is invalid: must be an integer in \[0, 51\]"),
        ({"qp": 20, "max_bitrate_kbps": 500}, "cannot cap a constant-QP encode"),
        ({"bitrate_kbps": 800, "max_bitrate_kbps": 500}, r"must be >= bitrate_kbps \(800\)"),
        ({"bitrate_kbps": -5}, "bitrate_kbps=-5 is invalid"),
        ({"crf": 23, "preset": "warp"}, "preset='warp' is invalid: must be one of ultrafast"),
        ({"codec": "svtav1", "crf": 30, "pix_fmt": "yuv444p"}, "pix_fmt='yuv444p' is invalid"),
        ({"crf": 23, "scaler": "magic"}, "scaler='magic' is invalid"),
        ({"crf": 23, "segment_s": 0}, "segment_s=0 is invalid: must be finite and > 0"),
        ({"crf": 23, "threads": 0}, "threads=0 is invalid"),
        ({"crf": 23, "extra": "-tune film"}, "extra=.* must be a sequence of str"),
    ],
)
def test_settings_validation(kwargs: dict, message: str) -> None:
    base = {"width": 640, "height": 360} | kwargs
    with pytest.raises(ParameterError, match=message):
        EncodeSettings(**base)


def test_settings_need_keywords() -> None:
    with pytest.raises(TypeError):
        EncodeSettings("x264", 640, 360)  # type: ignore[misc]


def test_key_is_stable_and_complete() -> None:
    a = EncodeSettings(width=640, height=360, crf=23)
    b = EncodeSettings(codec="x264", width=640, height=360, crf=23.0, preset="medium", extra=[])  # type: ignore[arg-type]
    assert a.key() == b.key() and a.digest() == b.digest()
    assert json.loads(json.dumps(a.key())) == a.key()
    assert a.key()["preset"] == "medium" and a.key()["encoder"] == "libx264"
    changed = [
        EncodeSettings(width=640, height=360, crf=24),
        EncodeSettings(width=640, height=360, crf=23, scaler="lanczos"),
        EncodeSettings(width=640, height=360, crf=23, segment_s=4.0),
        EncodeSettings(width=640, height=360, crf=23, max_bitrate_kbps=1000),
        EncodeSettings(width=640, height=360, crf=23, extra=("-tune", "film")),
    ]
    assert len({s.digest() for s in changed} | {a.digest()}) == len(changed) + 1
    assert a.label() == "x264_640x360_crf23_medium"
    assert EncodeSettings(codec="vp9", width=320, height=180, crf=40, max_bitrate_kbps=300).label() == "vp9_320x180_crf40_max300k_2"
    assert a.rate_control == "crf" and EncodeSettings(width=2, height=2, bitrate_kbps=9, max_bitrate_kbps=10).rate_control == "abr+cap"


def test_even_width_keeps_aspect() -> None:
    assert even_width(1280, 720, 360) == 640
    assert even_width(1280, 720, 234) == 416
    assert even_width(1920, 1080, 270) == 480
    assert even_width(1920, 1080, 1080) == 1920


def test_segment_index_boundaries() -> None:
    # 20 fps, 1 s segments: a frame at (or a rounding error below) a boundary starts the next.
    times = np.array([0.0, 0.95, 0.9999999, 1.0, 1.05, 2.0])
    assert segment_index(times, 1.0, 0.05).tolist() == [0, 0, 1, 1, 1, 2]


def test_rate_control_arguments() -> None:
    info = type("Info", (), {"fps": Fraction(25)})()
    capped = encode_output_args(EncodeSettings(width=320, height=180, crf=20, max_bitrate_kbps=400, segment_s=2.0), info)  # type: ignore[arg-type]
    assert capped[capped.index("-crf") + 1] == "20"
    assert capped[capped.index("-maxrate") + 1] == "400000"
    assert capped[capped.index("-bufsize") + 1] == "800000"  # one segment of the cap
    assert capped[capped.index("-g") + 1] == "50"
    assert "expr:gte(t,n_forced*2.0)" in capped
    vp9 = encode_output_args(EncodeSettings(codec="vp9", width=320, height=180, crf=40), info)  # type: ignore[arg-type]
    assert vp9[vp9.index("-b:v") + 1] == "0"
    vp9_capped = encode_output_args(EncodeSettings(codec="vp9", width=320, height=180, crf=40, max_bitrate_kbps=300), info)  # type: ignore[arg-type]
    assert vp9_capped[vp9_capped.index("-b:v") + 1] == "300000"
    x265 = encode_output_args(EncodeSettings(codec="x265", width=320, height=180, qp=30, segment_s=1.5), info)  # type: ignore[arg-type]
    assert "keyint=38:min-keyint=1:scenecut=0:open-gop=0:log-level=error" in x265  # ceil(25 * 1.5)
    assert x265[x265.index("-qp") + 1] == "30"


# -- encoding -----------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", list(CODECS))
def test_encode_each_codec(ff: FFmpeg, source: Path, work: Path, codec: str) -> None:
    settings = _fast(codec, width=256, height=144, segment_s=1.0)
    out = work / f"{codec}.mp4"
    seen: list[float] = []
    result = encode(source, settings, out, ffmpeg=ff, progress=seen.append)

    assert seen and seen[-1] == 1.0
    assert result.path == out and result.settings is settings and result.ffmpeg_version == ff.version
    assert result.n_frames == 60 and result.fps == 20 and result.duration_s == 3.0
    # Segments: three of one second, each starting with a keyframe, and no other keyframes.
    assert result.n_segments == 3
    assert result.segment_durations_s.tolist() == [1.0, 1.0, 1.0]
    assert result.keyframe_times_s.tolist() == [0.0, 1.0, 2.0]
    assert result.keyframe_aligned and result.segment_start_is_key.tolist() == [True, True, True]
    # Bytes: segments sum to the packets' payload, which is exactly the MP4 'mdat' payload
    # (a video-only MP4 stores nothing else there); the file adds only the container boxes.
    sizes = result.segment_sizes_bytes
    assert sizes.dtype == np.int64 and np.all(sizes > 0)
    assert int(sizes.sum()) == result.payload_bytes
    boxes = {kind: (size, header) for kind, size, header in mp4_boxes(out)}
    assert boxes["mdat"][0] - boxes["mdat"][1] == result.payload_bytes
    assert result.size_bytes == out.stat().st_size == sum(size for _, size, _ in mp4_boxes(out))
    assert result.bitrate_kbps == pytest.approx(result.payload_bytes * 8 / 3.0 / 1000)
    assert result.segment_bitrates_kbps == pytest.approx(sizes * 8 / 1000.0)
    # The file is what was asked for.
    info = probe(out, ff)
    assert (info.width, info.height, info.n_frames, info.fps) == (256, 144, 60, Fraction(20))
    assert info.codec == {"x264": "h264", "x265": "hevc", "svtav1": "av1", "vp9": "vp9"}[codec]


@pytest.mark.parametrize("codec", ["x264", "x265"])
def test_segments_decode_independently(ff: FFmpeg, source: Path, work: Path, codec: str) -> None:
    # Cut the encode at its keyframes with a stream copy and decode each piece from scratch:
    # with closed GOPs every piece decodes without errors and keeps all of its frames.
    result = encode(source, _fast(codec, width=320, height=180, segment_s=1.0), work / f"ind-{codec}.mp4", ffmpeg=ff)
    pieces = work / f"pieces-{codec}"
    pieces.mkdir()
    ff.run(["-i", file_url(result.path), "-c", "copy", "-f", "segment", "-segment_time", "1",
            "-reset_timestamps", "1", file_url(pieces / "piece%02d.mp4")])
    counts = [probe(p, ff).n_frames for p in sorted(pieces.iterdir())]
    assert counts == [20, 20, 20]


def test_keyframes_with_a_non_integer_frame_rate(ff: FFmpeg, ntsc_source: Path, work: Path) -> None:
    result = encode(ntsc_source, _fast("x264", width=192, height=108, segment_s=1.0), work / "ntsc-out.mp4", ffmpeg=ff)
    assert result.fps == Fraction(30000, 1001) and result.n_frames == 90
    # The first frame at or after each whole second: frames 0, 30 (1.001 s) and 60 (2.002 s).
    assert result.keyframe_times_s == pytest.approx([0.0, 30 * 1.001 / 30, 60 * 1.001 / 30])
    assert result.keyframe_aligned and result.n_segments == 3


def test_read_packets_matches_result(ff: FFmpeg, source: Path, work: Path) -> None:
    result = encode(source, _fast("x264", width=320, height=180, segment_s=2.0), work / "packets.mp4", ffmpeg=ff)
    packets = read_packets(result.path, ff)
    assert len(packets) == 60 and int(packets.size_bytes.sum()) == result.payload_bytes
    assert np.all(np.diff(packets.pts) > 0)  # presentation order
    assert packets.times_s[packets.key].tolist() == [0.0, 2.0]
    assert result.segment_sizes_bytes.tolist() == [
        int(packets.size_bytes[:40].sum()), int(packets.size_bytes[40:].sum()),
    ]
    assert result.segment_durations_s.tolist() == [2.0, 1.0]  # the last segment is short


def test_capped_and_target_bitrate(ff: FFmpeg, source: Path, work: Path) -> None:
    free = encode(source, _fast("x264", crf=16, width=320, height=180, segment_s=1.0), work / "free.mp4", ffmpeg=ff)
    cap_kbps = free.bitrate_kbps / 3
    capped = encode(source, _fast("x264", crf=16, max_bitrate_kbps=cap_kbps, width=320, height=180, segment_s=1.0),
                    work / "capped.mp4", ffmpeg=ff)
    # A VBV buffer of one segment: over any stretch of T seconds the encode spends at most
    # cap * (T + segment_s) bits, so the whole 3 s stays under cap * 4 / 3 and no one-second
    # segment carries more than twice the cap.
    assert capped.bitrate_kbps < free.bitrate_kbps / 2
    assert capped.bitrate_kbps <= cap_kbps * (3.0 + 1.0) / 3.0
    assert capped.peak_bitrate_kbps <= 2.0 * cap_kbps
    target = encode(source, _fast("x264", crf=None, bitrate_kbps=300, width=320, height=180), work / "abr.mp4", ffmpeg=ff)
    assert 150 < target.bitrate_kbps < 600


def test_result_round_trips_through_json(ff: FFmpeg, source: Path, work: Path) -> None:
    result = encode(source, _fast("x264", width=160, height=90), work / "json.mp4", ffmpeg=ff)
    again = EncodeResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.settings == result.settings and again.fps == result.fps
    assert again.segment_sizes_bytes.tolist() == result.segment_sizes_bytes.tolist()
    assert again.keyframe_times_s.tolist() == result.keyframe_times_s.tolist()
    assert again.to_dict() == result.to_dict()


# -- errors -------------------------------------------------------------------------------------


def test_resolution_above_source_is_an_error(ff: FFmpeg, source: Path, work: Path) -> None:
    with pytest.raises(ParameterError, match=r"resolution='640x360' is invalid: must not exceed the source's 320x180"):
        encode(source, _fast("x264", width=640, height=360), work / "up.mp4", ffmpeg=ff)
    with pytest.raises(ParameterError, match="must not exceed"):
        encode(source, _fast("x264", width=322, height=180), work / "up.mp4", ffmpeg=ff)
    assert not (work / "up.mp4").exists()


def test_output_must_not_be_the_source(ff: FFmpeg, source: Path) -> None:
    before = source.read_bytes()
    with pytest.raises(ParameterError, match="out_path=.* must differ from the source"):
        encode(source, _fast("x264", width=160, height=90), source.parent / "." / source.name, ffmpeg=ff)
    assert source.read_bytes() == before


def test_bad_sources(ff: FFmpeg, work: Path) -> None:
    with pytest.raises(VideoFormatError, match="file not found"):
        encode(work / "nope.mp4", _fast("x264", width=64, height=36), work / "x.mp4", ffmpeg=ff)
    text = work / "words.mp4"
    text.write_text("not a video at all")
    with pytest.raises(VideoFormatError, match="words.mp4: not a (readable )?video"):
        encode(text, _fast("x264", width=64, height=36), work / "x.mp4", ffmpeg=ff)


def test_missing_encoder(ff: FFmpeg, source: Path, tmp_path: Path) -> None:
    # An ffmpeg whose encoder list lacks libx265.
    listing = tmp_path / "encoders.txt"
    listing.write_text("Encoders:\n ------\n V....D libx264  libx264 H.264\n")
    fake = tmp_path / "ffmpeg"
    fake.write_text(f'#!/bin/sh\nif [ "$2" = "-encoders" ]; then cat "{listing}"; exit 0; fi\nexec "{ff.path}" "$@"\n')
    fake.chmod(0o755)
    limited = find_ffmpeg(fake)
    with pytest.raises(ToolNotFoundError, match=r"no encoder 'libx265'.*pip install imageio-ffmpeg"):
        encode(source, _fast("x265", width=64, height=36), tmp_path / "x.mp4", ffmpeg=limited)


@pytest.mark.shared
def test_camera_clip(ff: FFmpeg, work: Path) -> None:
    if not CAMERA_CLIP.exists():
        pytest.skip(f"camera clip not found: {CAMERA_CLIP}")
    clip = cut_camera_clip(ff, work / "camera.mp4", seconds=2.0, size="640x360")
    result = encode(clip, _fast("x264", crf=28, width=320, height=180, segment_s=1.0), work / "camera-out.mp4", ffmpeg=ff)
    assert result.n_frames == 40 and result.keyframe_times_s.tolist() == [0.0, 1.0]
    assert result.keyframe_aligned and int(result.segment_sizes_bytes.sum()) == result.payload_bytes
