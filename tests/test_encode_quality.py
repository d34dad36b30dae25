"""abrkit.encode.quality: one-pass VMAF/PSNR/SSIM, scaling, frame checks, pooling, encode_and_score."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from _clips import CAMERA_CLIP, cut_camera_clip, degraded_copy, lavfi_clip
from abrkit.encode.encoder import EncodeSettings
from abrkit.encode.ffmpeg import FFmpeg, file_url, find_ffmpeg
from abrkit.encode.probe import probe
from abrkit.encode.quality import (
    BUILTIN_VMAF_MODELS,
    POOLS,
    QualityResult,
    QualitySettings,
    encode_and_score,
    pool,
    psnr_cap_db,
    score,
)
from abrkit.errors import ParameterError, ToolNotFoundError, VideoFormatError


@pytest.fixture(scope="module")
def ff() -> FFmpeg:
    return find_ffmpeg()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("quality")


@pytest.fixture(scope="module")
def ref(ff: FFmpeg, work: Path) -> Path:
    """testsrc2, 320x180, 20 fps, 3 s (60 frames), near-lossless."""
    return lavfi_clip(ff, work / "ref.mp4", size="320x180", fps=20, duration_s=3.0)


@pytest.fixture(scope="module")
def degraded(ff: FFmpeg, ref: Path, work: Path) -> Path:
    return degraded_copy(ff, ref, work / "degraded.mp4", crf=45)


@pytest.fixture(scope="module")
def small(ff: FFmpeg, ref: Path, work: Path) -> Path:
    """The reference at 160x90, lightly compressed: needs upscaling to be scored."""
    return degraded_copy(ff, ref, work / "small.mp4", crf=20, size="160x90")


@pytest.fixture(scope="module")
def identical(ref: Path, ff: FFmpeg) -> QualityResult:
    return score(ref, ref, ffmpeg=ff)


# -- scoring ------------------------------------------------------------------------------------


def test_identical_input_scores_top_and_psnr_is_capped(identical: QualityResult) -> None:
    q = identical
    assert list(q.per_frame.columns) == ["frame", "vmaf", "psnr_y", "psnr_u", "psnr_v", "ssim"]
    assert q.per_frame["frame"].tolist() == list(range(60)) and q.n_frames == 60
    # VMAF v0.6.1 of identical 8-bit content is ~97-100 (the first frame has no motion).
    assert q.vmaf >= 97.0 and q.per_frame["vmaf"].min() >= 95.0
    # PSNR of identical frames is infinite; libvmaf (and abrkit after it) caps it at 60 dB.
    for plane in ("psnr_y", "psnr_u", "psnr_v"):
        assert (q.per_frame[plane] == 60.0).all()
    assert q.versions["psnr_cap_db"] == 60.0 == psnr_cap_db(8)
    assert (q.per_frame["ssim"] == 1.0).all()
    assert np.isfinite(q.pooled.to_numpy()).all()


def test_degraded_scores_lower(identical: QualityResult, ref: Path, degraded: Path, ff: FFmpeg) -> None:
    seen: list[float] = []
    q = score(ref, degraded, ffmpeg=ff, progress=seen.append)
    assert seen and seen[-1] == 1.0
    assert q.vmaf < identical.vmaf - 10
    assert q.value("psnr_y") < 45 and q.value("ssim") < 0.99
    assert list(q.pooled.columns) == list(POOLS)
    assert list(q.pooled.index) == ["vmaf", "psnr_y", "psnr_u", "psnr_v", "ssim"]
    assert q.value("vmaf", "min") <= q.value("vmaf", "p1") <= q.value("vmaf", "p5") <= q.value("vmaf", "mean")
    # Our pooling of libvmaf's per-frame values agrees with libvmaf's own pooling.
    own = q.meta["libvmaf_pooled"]["vmaf"]
    assert q.value("vmaf", "mean") == pytest.approx(own["mean"], abs=1e-5)
    assert q.value("vmaf", "harmonic_mean") == pytest.approx(own["harmonic_mean"], abs=1e-5)
    assert q.value("vmaf", "min") == pytest.approx(own["min"], abs=1e-5)
    assert q.versions["ffmpeg"] == ff.version and q.versions["libvmaf"] == ff.libvmaf_version
    assert q.versions["models"] == {"vmaf": "vmaf_v0.6.1"}


def test_distorted_is_upscaled_with_the_recorded_scaler(ref: Path, small: Path, ff: FFmpeg) -> None:
    bicubic = score(ref, small, ffmpeg=ff)
    lanczos = score(ref, small, QualitySettings(scaler="lanczos"), ffmpeg=ff)
    for q, scaler in ((bicubic, "bicubic"), (lanczos, "lanczos")):
        assert q.versions["scaler"] == scaler == q.settings.scaler
        assert q.versions["reference_size"] == [320, 180] and q.versions["distorted_size"] == [160, 90]
        assert 20 < q.vmaf < 99
    assert bicubic.vmaf != lanczos.vmaf  # the scaler really is applied


def test_neg_and_phone_models(ref: Path, degraded: Path, ff: FFmpeg) -> None:
    q = score(ref, degraded, QualitySettings(neg=True, phone=True, psnr=False, ssim=False), ffmpeg=ff)
    assert list(q.per_frame.columns) == ["frame", "vmaf", "vmaf_neg", "vmaf_phone"]
    assert q.versions["models"] == {
        "vmaf": "vmaf_v0.6.1", "vmaf_neg": "vmaf_v0.6.1neg", "vmaf_phone": "vmaf_v0.6.1 (transform)",
    }
    assert q.value("vmaf_neg") <= q.value("vmaf") + 1e-9  # NEG never rewards enhancement
    assert q.value("vmaf_phone") > q.value("vmaf")  # artifacts are less visible on a phone


def test_other_builtin_model(ref: Path, degraded: Path, ff: FFmpeg) -> None:
    q = score(ref, degraded, QualitySettings(vmaf_model="vmaf_4k_v0.6.1", psnr=False, ssim=False), ffmpeg=ff)
    assert q.versions["models"] == {"vmaf": "vmaf_4k_v0.6.1"}
    assert 0 <= q.vmaf <= 100


def test_subsample(ref: Path, degraded: Path, ff: FFmpeg) -> None:
    q = score(ref, degraded, QualitySettings(subsample=3, psnr=False), segment_s=1.0, ffmpeg=ff)
    assert q.per_frame["frame"].tolist() == list(range(0, 60, 3))
    assert q.per_segment is not None and q.per_segment["n_frames"].tolist() == [20, 20, 20]


def test_ten_bit_reference_caps_psnr_at_72(ff: FFmpeg, work: Path) -> None:
    clip = work / "ten.mkv"
    ff.run(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=10", "-t", "1", "-c:v", "libx264", "-preset",
            "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p10le", "-y", file_url(clip)])
    q = score(clip, clip, QualitySettings(ssim=False), ffmpeg=ff)
    assert q.versions["pix_fmt"] == "yuv420p10le" and q.versions["psnr_cap_db"] == 72.0
    assert (q.per_frame["psnr_y"] == 72.0).all()


# -- per-segment and pooling ------------------------------------------------------------------


def test_per_segment_shapes(ref: Path, degraded: Path, ff: FFmpeg) -> None:
    q = score(ref, degraded, segment_s=1.0, ffmpeg=ff)
    seg = q.per_segment
    assert seg is not None
    assert list(seg.columns[:5]) == ["segment", "start_frame", "n_frames", "start_s", "duration_s"]
    assert seg["segment"].tolist() == [0, 1, 2] and seg["start_frame"].tolist() == [0, 20, 40]
    assert seg["n_frames"].tolist() == [20, 20, 20] and seg["duration_s"].tolist() == [1.0, 1.0, 1.0]
    for k in range(3):
        frames = q.per_frame.iloc[20 * k: 20 * (k + 1)]
        for metric in ("vmaf", "psnr_y", "ssim"):
            assert seg.loc[k, metric] == pytest.approx(frames[metric].mean())
    assert q.segment_values("vmaf").shape == (3,)

    # 0.7 s segments at 20 fps: boundaries at frames 14, 28, 42, 56; the last one is short.
    odd = score(ref, degraded, segment_s=0.7, ffmpeg=ff, reference_info=probe(ref, ff))
    assert odd.per_segment is not None
    assert odd.per_segment["start_frame"].tolist() == [0, 14, 28, 42, 56]
    assert odd.per_segment["n_frames"].tolist() == [14, 14, 14, 14, 4]


def test_no_segments_without_segment_s(identical: QualityResult) -> None:
    assert identical.per_segment is None
    with pytest.raises(ParameterError, match="score with segment_s"):
        identical.segment_values()
    with pytest.raises(ParameterError, match="metric='vmfa' is invalid"):
        identical.value("vmfa")
    with pytest.raises(ParameterError, match="how='median' is invalid"):
        identical.value("vmaf", "median")


def test_pool_golden_values() -> None:
    values = np.array([0.0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    got = pool(values)
    assert got["mean"] == 50.0 and got["min"] == 0.0 and got["max"] == 100.0
    # Percentiles with linear interpolation between the sorted values 10 apart:
    # p1 sits at position 0.01 * 10 = 0.1 -> 1.0; p5 at 0.5 -> 5.0.
    assert got["p1"] == pytest.approx(1.0) and got["p5"] == pytest.approx(5.0)
    # libvmaf's harmonic mean: 11 / sum(1 / (x + 1)) - 1, worked out with exact fractions.
    assert got["harmonic_mean"] == pytest.approx(7.603846615014126, rel=1e-12)
    assert pool([0.0, 50.0, 100.0, 100.0])["harmonic_mean"] == pytest.approx(2.848337691445648, rel=1e-12)
    assert pool([80.0, np.nan, 90.0])["mean"] == 85.0  # NaN ignored
    assert all(math.isnan(v) for v in pool([]).values())
    assert list(pool([1.0])) == list(POOLS)


# -- errors -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def short(ff: FFmpeg, ref: Path, work: Path) -> Path:
    """The first 40 frames of the reference."""
    out = work / "short.mp4"
    ff.run(["-i", file_url(ref), "-frames:v", "40", "-c:v", "libx264", "-preset", "ultrafast", "-y", file_url(out)])
    return out


def test_frame_count_mismatch_is_an_error(ref: Path, short: Path, ff: FFmpeg) -> None:
    with pytest.raises(VideoFormatError, match=r"short.mp4: has 40 frames but the reference .*ref.mp4 has 60"):
        score(ref, short, ffmpeg=ff)


def test_mismatch_caught_in_the_log_too(ref: Path, short: Path, ff: FFmpeg) -> None:
    # Even when the caller's probe information is wrong, the log's frame count gives it away.
    lying = dataclasses.replace(probe(short, ff), n_frames=60)
    with pytest.raises(VideoFormatError, match="libvmaf scored 40 frames, expected 60"):
        score(ref, short, ffmpeg=ff, distorted_info=lying)


def test_frame_rate_mismatch_is_an_error(ff: FFmpeg, ref: Path, work: Path) -> None:
    other = lavfi_clip(ff, work / "fps25.mp4", size="320x180", fps=25, duration_s=2.4)
    with pytest.raises(VideoFormatError, match="has frame rate 25 fps but the reference .* has 20 fps"):
        score(ref, other, ffmpeg=ff)


def test_missing_and_bad_files(ref: Path, work: Path, ff: FFmpeg) -> None:
    with pytest.raises(VideoFormatError, match="gone.mp4: file not found"):
        score(ref, work / "gone.mp4", ffmpeg=ff)
    notes = work / "notes.txt"
    notes.write_text("plain text")
    with pytest.raises(VideoFormatError, match="notes.txt: not a video"):
        score(notes, ref, ffmpeg=ff)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vmaf_model": "my model.json"}, "vmaf_model='my model.json' is invalid: must be the name of a built-in"),
        ({"vmaf_model": "vmaf_v1.0.16_3d0h", "neg": True}, "has no NEG variant"),
        ({"vmaf_model": "vmaf_4k_v0.6.1", "phone": True}, "has no phone variant"),
        ({"neg": "yes"}, "neg='yes' is invalid: must be True or False"),
        ({"scaler": "magic"}, "scaler='magic' is invalid"),
        ({"n_threads": 0}, "n_threads=0 is invalid"),
        ({"subsample": 0}, "subsample=0 is invalid"),
    ],
)
def test_settings_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        QualitySettings(**kwargs)


def test_unknown_model_says_what_is_missing(ref: Path, ff: FFmpeg) -> None:
    with pytest.raises(ToolNotFoundError, match=r"no built-in model 'vmaf_v9.9'.*vmaf_v0.6.1"):
        score(ref, ref, QualitySettings(vmaf_model="vmaf_v9.9"), ffmpeg=ff)


def test_model_too_small_for_the_reference(ref: Path, ff: FFmpeg) -> None:
    with pytest.raises(ParameterError, match="320x180 reference is too small"):
        score(ref, ref, QualitySettings(vmaf_model="vmaf_v1.0.16_5d0h"), ffmpeg=ff)


def test_builtin_model_list_names_the_v1_family() -> None:
    assert BUILTIN_VMAF_MODELS[0] == "vmaf_v0.6.1" and "vmaf_v1.0.16_3d0h" in BUILTIN_VMAF_MODELS


def test_ffmpeg_without_libvmaf(ref: Path, ff: FFmpeg, tmp_path: Path) -> None:
    listing = tmp_path / "filters.txt"
    listing.write_text("Filters:\n ------\n TS scale  V->V  Scale the input video.\n")
    fake = tmp_path / "ffmpeg"
    fake.write_text(f'#!/bin/sh\nif [ "$2" = "-filters" ]; then cat "{listing}"; exit 0; fi\nexec "{ff.path}" "$@"\n')
    fake.chmod(0o755)
    with pytest.raises(ToolNotFoundError, match="no 'libvmaf' filter"):
        score(ref, ref, ffmpeg=find_ffmpeg(fake))


# -- encode and score ---------------------------------------------------------------------------


def test_encode_and_score_one_pass_matches_two_passes(ref: Path, ff: FFmpeg, work: Path) -> None:
    settings = EncodeSettings(width=160, height=90, crf=30, preset="veryfast", segment_s=1.0)
    enc1, q1 = encode_and_score(ref, settings, None, work / "one.mp4", ffmpeg=ff)
    enc2, q2 = encode_and_score(ref, settings, QualitySettings(), work / "two.mp4", ffmpeg=ff, one_pass=False)
    assert q1.meta["one_pass"] is True and q2.meta["one_pass"] is False
    # Same encode, same scores, whichever way it was run.
    assert enc1.segment_sizes_bytes.tolist() == enc2.segment_sizes_bytes.tolist()
    np.testing.assert_allclose(q1.per_frame.to_numpy(), q2.per_frame.to_numpy(), atol=1e-6)
    assert enc1.keyframe_aligned and enc1.n_frames == 60 and enc1.n_segments == 3
    assert q1.per_segment is not None and len(q1.per_segment) == enc1.n_segments
    assert q1.versions["distorted_size"] == [160, 90] and q1.reference == str(ref) and q1.distorted == str(work / "one.mp4")


def test_encode_and_score_refuses_upscaling(ref: Path, ff: FFmpeg, work: Path) -> None:
    with pytest.raises(ParameterError, match="must not exceed the source's 320x180"):
        encode_and_score(ref, EncodeSettings(width=640, height=360, crf=30), None, work / "big.mp4", ffmpeg=ff)


def test_result_round_trips_through_json(ref: Path, degraded: Path, ff: FFmpeg) -> None:
    q = score(ref, degraded, QualitySettings(neg=True), segment_s=1.0, ffmpeg=ff)
    again = QualityResult.from_dict(json.loads(json.dumps(q.to_dict())))
    assert again.settings == q.settings and again.versions == q.versions and again.fps == q.fps
    np.testing.assert_array_equal(again.per_frame.to_numpy(), q.per_frame.to_numpy())
    np.testing.assert_array_equal(again.pooled.to_numpy(), q.pooled.to_numpy())
    assert again.per_segment is not None and again.per_segment.equals(q.per_segment)


@pytest.mark.shared
def test_camera_clip_encode_and_score(ff: FFmpeg, work: Path) -> None:
    if not CAMERA_CLIP.exists():
        pytest.skip(f"camera clip not found: {CAMERA_CLIP}")
    clip = cut_camera_clip(ff, work / "camera.mp4", seconds=2.0, size="640x360")
    enc, q = encode_and_score(clip, EncodeSettings(width=320, height=180, crf=32, preset="veryfast", segment_s=1.0),
                              None, work / "camera-320.mp4", ffmpeg=ff)
    assert enc.n_frames == q.n_frames == 40 and enc.keyframe_times_s.tolist() == [0.0, 1.0]
    assert 10 < q.vmaf < 95 and q.versions["reference_size"] == [640, 360]
    assert q.segment_values("vmaf").shape == (2,)


# -- aligning two videos of different lengths ---------------------------------------------------


def _lossless_frames(ff: FFmpeg, source: Path, out: Path, first: int, count: int) -> Path:
    """Frames ``first .. first + count - 1`` of ``source``, losslessly (the same pixels)."""
    ff.run([
        "-i", file_url(source), "-vf", f"trim=start_frame={first}:end_frame={first + count},setpts=PTS-STARTPTS",
        "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", "-y", file_url(out),
    ])
    return out


@pytest.fixture(scope="module")
def late(ff: FFmpeg, ref: Path, work: Path) -> Path:
    """The reference without its first 5 frames (55 frames, same pixels)."""
    return _lossless_frames(ff, ref, work / "late.mp4", 5, 55)


def test_mismatch_says_by_how_many_frames_and_how_to_align(ref: Path, short: Path, ff: FFmpeg) -> None:
    with pytest.raises(VideoFormatError, match=r"the reference is 20 frame\(s\) longer.*first 40 frames.*trim=True.*offset_frames"):
        score(ref, short, ffmpeg=ff)


def test_trim_scores_the_common_frames(ref: Path, short: Path, ff: FFmpeg, work: Path) -> None:
    trimmed = score(ref, short, ffmpeg=ff, trim=True)
    first40 = _lossless_frames(ff, ref, work / "first40.mp4", 0, 40)
    direct = score(first40, short, ffmpeg=ff)
    assert trimmed.n_frames == 40 == len(trimmed.per_frame)
    assert trimmed.versions["alignment"] == {"reference_start_frame": 0, "distorted_start_frame": 0, "n_frames": 40}
    np.testing.assert_array_equal(trimmed.per_frame.to_numpy(), direct.per_frame.to_numpy())


@pytest.mark.parametrize("order", ["reference_longer", "distorted_longer"])
def test_offset_pairs_the_right_frames(ref: Path, late: Path, ff: FFmpeg, order: str) -> None:
    # the same pixels once aligned: PSNR at its cap on every frame; misaligned by one: far below
    if order == "reference_longer":
        aligned = score(ref, late, ffmpeg=ff, offset_frames=-5)
        off_by_one = score(ref, late, ffmpeg=ff, offset_frames=-4, trim=True)
        assert aligned.versions["alignment"] == {"reference_start_frame": 5, "distorted_start_frame": 0, "n_frames": 55}
    else:
        aligned = score(late, ref, ffmpeg=ff, offset_frames=5)
        off_by_one = score(late, ref, ffmpeg=ff, offset_frames=4, trim=True)
        assert aligned.versions["alignment"] == {"reference_start_frame": 0, "distorted_start_frame": 5, "n_frames": 55}
    assert len(aligned.per_frame) == 55
    assert (aligned.per_frame["psnr_y"] == 60.0).all()
    assert off_by_one.value("psnr_y", "max") < 40.0


def test_offset_without_trim_still_checks_lengths(ref: Path, late: Path, ff: FFmpeg) -> None:
    with pytest.raises(VideoFormatError, match=r"has 60; after skipping the first 4 of the reference, the reference is 1 frame\(s\) longer"):
        score(ref, late, ffmpeg=ff, offset_frames=-4)


def test_offset_past_the_end_is_a_parameter_error(ref: Path, late: Path, ff: FFmpeg) -> None:
    with pytest.raises(ParameterError, match=r"offset_frames.*skips every frame of .*late.mp4 \(55 frames\)"):
        score(ref, late, ffmpeg=ff, offset_frames=55)
    with pytest.raises(ParameterError, match="trim"):
        score(ref, late, ffmpeg=ff, trim="yes")  # type: ignore[arg-type]


def test_cambi_column_and_cache_key(ref: Path, degraded: Path, ff: FFmpeg) -> None:
    q = score(ref, degraded, QualitySettings(cambi=True, psnr=False, ssim=False), ffmpeg=ff)
    assert list(q.per_frame.columns) == ["frame", "vmaf", "cambi"]
    assert (q.per_frame["cambi"] >= 0).all() and (q.per_frame["cambi"] <= 24).all()
    # keys written before CAMBI existed stay valid; with it on, the key differs
    assert "cambi" not in QualitySettings().key()
    assert QualitySettings(cambi=True).key() == QualitySettings().key() | {"cambi": True}
    assert QualityResult.from_dict(json.loads(json.dumps(q.to_dict()))).settings.cambi
