"""VMAF, PSNR and SSIM of a distorted video against its reference, in one ffmpeg pass.

How a pair is scored:

* Both files are probed first (exact frame counts by decoding); different frame counts or
  frame rates are an error, never a silent score.
* Both legs get their timestamps reset: frame ``k`` of each leg gets the time ``k / fps``
  (``settb=1/fps,setpts=N``). This is ``setpts=PTS-STARTPTS`` made exact: two containers
  with different time bases round frame times differently, and libvmaf pairs frames by
  timestamp, so a reset to a shared frame clock is what guarantees that frame ``k`` is
  compared with frame ``k``.
* The distorted leg is scaled to the reference (display) size with an explicit scaler
  (``bicubic`` by default, recorded in the result), and both legs are converted to the same
  pixel format (the reference's, if libvmaf takes it, else 4:2:0 at its bit depth).
* One ``libvmaf`` filter computes every metric: the VMAF model(s), PSNR (libvmaf's ``psnr``
  feature: Y, Cb, Cr) and SSIM (its ``float_ssim`` feature, luma). One filter means one frame
  pairing and one per-frame log for all metrics, and libvmaf's PSNR is finite for identical
  frames: it is capped at ``6 * bit_depth + 12`` dB (60 dB for 8-bit video, 72 dB for 10-bit),
  where ffmpeg's own ``psnr`` filter reports ``inf``. abrkit applies the same cap again so the
  rule holds whatever libvmaf does.
* Per-frame values come from libvmaf's JSON log (written in the run's own temporary
  directory, its path escaped with :func:`~abrkit.encode.ffmpeg.escape_filter_value`); the
  number of frames in the log is checked against the probe.

:func:`encode_and_score` encodes and scores with one decode of the source: one ffmpeg run
decodes the source once, encodes it, decodes the encoder's own packets again (a "loopback
decoder", ffmpeg 7.1 and later) and feeds those with the source frames to libvmaf.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from .._checks import integer, number
from ..errors import FFmpegError, ParameterError, ToolNotFoundError, VideoFormatError
from .encoder import (
    SCALERS,
    _output_path,
    EncodeResult,
    EncodeSettings,
    check_fits_source,
    encode,
    encode_output_args,
    measure_encode,
    segment_index,
)
from .ffmpeg import FFmpeg, escape_filter_value, file_url, find_ffmpeg, temp_run_dir
from .probe import MediaInfo, probe

__all__ = [
    "BUILTIN_VMAF_MODELS",
    "POOLS",
    "QualitySettings",
    "QualityResult",
    "score",
    "encode_and_score",
    "pool",
    "psnr_cap_db",
]

#: Built-in models of the libvmaf in the imageio-ffmpeg build (each checked to load).
#: v0.6.1 models are for a 1080p TV at 3 picture heights; ``4k`` ones for 4K at 1.5H;
#: ``float`` ones use floating-point features; ``neg`` ones do not reward enhancement (NEG:
#: "no enhancement gain"). The v1.0.16 models: ``3d0h`` standard, ``5d0h`` phone, ``_2160``
#: 4K, ``hfr`` high frame rate. Some v1 models refuse small frames (under about 640x360).
BUILTIN_VMAF_MODELS = (
    "vmaf_v0.6.1", "vmaf_v0.6.1neg", "vmaf_float_v0.6.1", "vmaf_float_v0.6.1neg",
    "vmaf_4k_v0.6.1", "vmaf_4k_v0.6.1neg", "vmaf_float_4k_v0.6.1",
    "vmaf_v1.0.16_3d0h", "vmaf_v1.0.16_5d0h", "vmaf_v1.0.16_3d0h_2160", "vmaf_v1.0.16_1d5h_2160",
    "vmaf_v1.0.16_hfr_3d0h", "vmaf_v1.0.16_hfr_5d0h", "vmaf_v1.0.16_hfr_3d0h_2160", "vmaf_v1.0.16_hfr_1d5h_2160",
)

# The NEG twin of a model, used when QualitySettings.neg is set.
_NEG_TWIN = {
    "vmaf_v0.6.1": "vmaf_v0.6.1neg",
    "vmaf_float_v0.6.1": "vmaf_float_v0.6.1neg",
    "vmaf_4k_v0.6.1": "vmaf_4k_v0.6.1neg",
}
# The phone variant of a model: (model, apply the model's score transform). The v0.6.1 phone
# model is the v0.6.1 model with its built-in transform enabled (libvmaf's enable_transform,
# formerly phone_model=1); the v1 family has separate 5H (phone-distance) models.
_PHONE_TWIN = {
    "vmaf_v0.6.1": ("vmaf_v0.6.1", True),
    "vmaf_float_v0.6.1": ("vmaf_float_v0.6.1", True),
    "vmaf_v1.0.16_3d0h": ("vmaf_v1.0.16_5d0h", False),
    "vmaf_v1.0.16_hfr_3d0h": ("vmaf_v1.0.16_hfr_5d0h", False),
}

# libvmaf's per-frame names -> abrkit's columns.
_LOG_COLUMNS = {
    "psnr_y": "psnr_y", "psnr_cb": "psnr_u", "psnr_cr": "psnr_v", "float_ssim": "ssim",
}
# Pixel formats libvmaf accepts.
_VMAF_PIX_FMTS = (
    "yuv420p", "yuv422p", "yuv444p",
    "yuv420p10le", "yuv422p10le", "yuv444p10le",
    "yuv420p12le", "yuv422p12le", "yuv444p12le",
    "yuv420p16le", "yuv422p16le", "yuv444p16le",
)

#: Pooling statistics in :attr:`QualityResult.pooled`, in column order.
POOLS = ("mean", "harmonic_mean", "min", "p1", "p5", "max")


def psnr_cap_db(bit_depth: int) -> float:
    """The PSNR libvmaf reports for identical frames: ``6 * bit_depth + 12`` dB (60 for 8-bit)."""
    return 6.0 * int(bit_depth) + 12.0


@dataclass(frozen=True)
class QualitySettings:
    """What to measure and how.

    Parameters
    ----------
    vmaf_model : str
        A built-in libvmaf model (see :data:`BUILTIN_VMAF_MODELS`); column ``vmaf``.
    neg : bool
        Also score the model's NEG variant (column ``vmaf_neg``).
    phone : bool
        Also score the phone variant (column ``vmaf_phone``): the v0.6.1 model with its phone
        transform, or the v1 5H model.
    psnr : bool
        PSNR of Y, U, V in dB (columns ``psnr_y``, ``psnr_u``, ``psnr_v``), capped at
        :func:`psnr_cap_db`.
    ssim : bool
        Luma SSIM (column ``ssim``), 0..1.
    scaler : str
        Scaling algorithm for the distorted leg (one of ffmpeg's scale flags; default bicubic).
    n_threads : int
        libvmaf threads.
    subsample : int
        Score every ``subsample``-th frame only (1: every frame).
    cambi : bool
        Also CAMBI, libvmaf's banding score of the distorted frames (column ``cambi``; 0 is no
        visible banding, about 5 and up is noticeable, 24 the maximum).
    """

    vmaf_model: str = "vmaf_v0.6.1"
    neg: bool = False
    phone: bool = False
    psnr: bool = True
    ssim: bool = True
    scaler: str = "bicubic"
    n_threads: int = 2
    subsample: int = 1
    cambi: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.vmaf_model, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]+", self.vmaf_model):
            raise ParameterError(
                "vmaf_model", self.vmaf_model,
                f"must be the name of a built-in libvmaf model, e.g. {', '.join(BUILTIN_VMAF_MODELS[:4])}",
            )
        for flag in ("neg", "phone", "psnr", "ssim", "cambi"):
            if not isinstance(getattr(self, flag), bool):
                raise ParameterError(flag, getattr(self, flag), "must be True or False")
        if self.neg and self.vmaf_model not in _NEG_TWIN:
            raise ParameterError(
                "neg", True, f"model {self.vmaf_model!r} has no NEG variant; NEG exists for {', '.join(_NEG_TWIN)}",
            )
        if self.phone and self.vmaf_model not in _PHONE_TWIN:
            raise ParameterError(
                "phone", True, f"model {self.vmaf_model!r} has no phone variant; phone exists for {', '.join(_PHONE_TWIN)}",
            )
        if self.scaler not in SCALERS:
            raise ParameterError("scaler", self.scaler, f"must be one of {', '.join(SCALERS)}")
        object.__setattr__(self, "n_threads", integer("n_threads", self.n_threads, ge=1))
        object.__setattr__(self, "subsample", integer("subsample", self.subsample, ge=1))

    def models(self) -> dict[str, tuple[str, bool]]:
        """Column name -> (libvmaf model version, score transform on) for every VMAF scored."""
        found = {"vmaf": (self.vmaf_model, False)}
        if self.neg:
            found["vmaf_neg"] = (_NEG_TWIN[self.vmaf_model], False)
        if self.phone:
            found["vmaf_phone"] = _PHONE_TWIN[self.vmaf_model]
        return found

    def metrics(self) -> tuple[str, ...]:
        """The per-frame columns this setting produces, in order."""
        names = list(self.models())
        if self.psnr:
            names += ["psnr_y", "psnr_u", "psnr_v"]
        if self.ssim:
            names.append("ssim")
        if self.cambi:
            names.append("cambi")
        return tuple(names)

    def key(self) -> dict[str, Any]:
        """A stable, JSON-ready description (for cache keys)."""
        found = {
            "vmaf_model": self.vmaf_model, "neg": self.neg, "phone": self.phone, "psnr": self.psnr,
            "ssim": self.ssim, "scaler": self.scaler, "subsample": self.subsample,
        }
        if self.cambi:  # only when on: every key written before CAMBI existed stays valid
            found["cambi"] = True
        return found

    def libvmaf_filter(self, log_path: str | os.PathLike[str]) -> str:
        """The ``libvmaf=...`` filter (options escaped) writing a JSON log to ``log_path``."""
        specs = []
        for name, (version, transform) in self.models().items():
            spec = f"version={version}:name={name}"
            if transform:
                spec += ":enable_transform=true"
            specs.append(spec)
        features = []
        if self.psnr:
            features.append("name=psnr")
        if self.ssim:
            features.append("name=float_ssim")
        if self.cambi:
            features.append("name=cambi")
        options = [
            # Stop at the end of the shorter leg rather than repeat its last frame, so a short
            # leg shows up as a short log (checked) instead of a plausible score.
            "shortest=1",
            "log_fmt=json",
            f"log_path={escape_filter_value(log_path)}",
            f"n_threads={self.n_threads}",
            f"n_subsample={self.subsample}",
            f"model={escape_filter_value('|'.join(specs))}",
        ]
        if features:
            options.append(f"feature={escape_filter_value('|'.join(features))}")
        return "libvmaf=" + ":".join(options)


def pool(values: np.ndarray) -> dict[str, float]:
    """Pool per-frame values into :data:`POOLS` statistics.

    ``harmonic_mean`` follows libvmaf: ``n / sum(1 / (x + 1)) - 1`` (the harmonic mean of
    ``x + 1``, minus 1, so a frame scoring 0 does not force the pool to 0). ``p1`` and ``p5``
    are the 1st and 5th percentiles with linear interpolation (numpy's default). NaN values are
    ignored; an empty input gives NaN everywhere.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    if x.size == 0:
        return {name: math.nan for name in POOLS}
    with np.errstate(divide="ignore"):
        hm = float(x.size / np.sum(1.0 / (x + 1.0)) - 1.0) if np.all(x + 1.0 > 0) else math.nan
    return {
        "mean": float(np.mean(x)),
        "harmonic_mean": hm,
        "min": float(np.min(x)),
        "p1": float(np.percentile(x, 1)),
        "p5": float(np.percentile(x, 5)),
        "max": float(np.max(x)),
    }


@dataclass(frozen=True, eq=False)
class QualityResult:
    """Scores of one distorted video against its reference.

    Attributes
    ----------
    per_frame : pandas.DataFrame
        One row per scored frame: ``frame`` (0-based index), then the metrics of
        :meth:`QualitySettings.metrics` (``vmaf``, ``vmaf_neg``, ``vmaf_phone``, ``psnr_y``,
        ``psnr_u``, ``psnr_v`` in dB, ``ssim``).
    pooled : pandas.DataFrame
        Index: metric; columns: :data:`POOLS` (see :func:`pool`).
    per_segment : pandas.DataFrame or None
        Given a segment duration: one row per segment with ``segment``, ``start_frame``,
        ``n_frames``, ``start_s``, ``duration_s`` and the mean of each metric over the segment.
    settings : QualitySettings
        The settings used.
    versions : dict
        ``ffmpeg`` and ``libvmaf`` versions, ``models`` (column -> model), ``scaler``,
        ``pix_fmt`` scored, ``reference_size`` and ``distorted_size``, ``psnr_cap_db``.
    reference, distorted : str
        The files compared.
    n_frames : int
        Frames in each video.
    fps : fractions.Fraction
        Frame rate.
    segment_s : float or None
        Segment duration used for ``per_segment``.
    elapsed_s : float
        Wall time of the scoring run.
    """

    per_frame: pd.DataFrame
    pooled: pd.DataFrame
    per_segment: pd.DataFrame | None
    settings: QualitySettings
    versions: dict[str, Any]
    reference: str
    distorted: str
    n_frames: int
    fps: Fraction
    segment_s: float | None
    elapsed_s: float
    meta: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def vmaf(self) -> float:
        """Mean VMAF over the frames."""
        return float(self.pooled.loc["vmaf", "mean"])

    def value(self, metric: str = "vmaf", how: str = "mean") -> float:
        """One pooled number, e.g. ``value("vmaf", "harmonic_mean")``."""
        if metric not in self.pooled.index:
            raise ParameterError("metric", metric, f"must be one of {', '.join(self.pooled.index)}")
        if how not in POOLS:
            raise ParameterError("how", how, f"must be one of {', '.join(POOLS)}")
        return float(self.pooled.loc[metric, how])

    def segment_values(self, metric: str = "vmaf") -> np.ndarray:
        """Per-segment mean of ``metric`` as a float array (needs a segment duration)."""
        if self.per_segment is None:
            raise ParameterError("segment_s", None, "score with segment_s to get per-segment values")
        if metric not in self.per_segment.columns:
            raise ParameterError("metric", metric, f"must be one of {', '.join(self.settings.metrics())}")
        return self.per_segment[metric].to_numpy(dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (per-frame values as lists) that :meth:`from_dict` reads back."""
        return {
            "per_frame": {c: self.per_frame[c].tolist() for c in self.per_frame.columns},
            "settings": self.settings.key() | {"n_threads": self.settings.n_threads},
            "versions": self.versions,
            "reference": self.reference,
            "distorted": self.distorted,
            "n_frames": self.n_frames,
            "fps": f"{self.fps.numerator}/{self.fps.denominator}",
            "segment_s": self.segment_s,
            "elapsed_s": self.elapsed_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "QualityResult":
        """Rebuild a result written by :meth:`to_dict` (pools and segments are recomputed)."""
        settings = QualitySettings(**data["settings"])
        per_frame = pd.DataFrame(data["per_frame"])
        per_frame["frame"] = per_frame["frame"].astype(np.int64)
        fps = Fraction(data["fps"])
        return _assemble(
            per_frame, settings, dict(data["versions"]), data["reference"], data["distorted"],
            int(data["n_frames"]), fps, data["segment_s"], float(data["elapsed_s"]),
        )


# -- scoring ----------------------------------------------------------------------------------


def score(
    reference: str | os.PathLike[str],
    distorted: str | os.PathLike[str],
    settings: QualitySettings | None = None,
    *,
    segment_s: float | None = None,
    ffmpeg: FFmpeg | None = None,
    progress: Callable[[float], None] | None = None,
    reference_info: MediaInfo | None = None,
    distorted_info: MediaInfo | None = None,
    timeout_s: float | None = None,
    offset_frames: int = 0,
    trim: bool = False,
) -> QualityResult:
    """Score ``distorted`` against ``reference`` at the reference's resolution, in one ffmpeg run.

    Parameters
    ----------
    reference : path
        The reference (source) video; its frame size is the display size scored at.
    distorted : path
        The video to score; scaled to the reference's size with ``settings.scaler``.
    settings : QualitySettings, optional
        Metrics and options (default: ``QualitySettings()``).
    segment_s : float, optional
        Segment duration in seconds, for :attr:`QualityResult.per_segment`.
    ffmpeg : FFmpeg, optional
        Binary to use.
    progress : callable, optional
        Called with the fraction done (0..1).
    reference_info, distorted_info : MediaInfo, optional
        :func:`~abrkit.encode.probe.probe` results, to skip probing again.
    timeout_s : float, optional
        Kill the run after this many seconds.
    offset_frames : int
        Align the two before pairing frames: a positive ``k`` skips the distorted video's first
        ``k`` frames (its frame ``k`` is compared with the reference's frame 0), a negative one
        skips the reference's first ``-k``. Default 0.
    trim : bool
        When the two (after the offset) differ in length, score only as many frames as the
        shorter has, instead of refusing. Default False: a mismatch is an error.

    Frames are counted from the scored pairs: ``per_frame["frame"]`` is the pair's index, and
    ``versions["alignment"]`` gives the first reference and distorted frame and the count.

    Raises
    ------
    VideoFormatError
        A file is missing, not a video or corrupt; or the two differ in frame count (without
        ``trim``; the message says by how many) or frame rate; or libvmaf scored a different
        number of frames than expected.
    ParameterError
        ``offset_frames`` skips every frame of one of the videos.
    ToolNotFoundError
        ffmpeg has no libvmaf, or libvmaf lacks the model.
    FFmpegError
        The run failed otherwise.
    """
    qs = settings if settings is not None else QualitySettings()
    if not isinstance(qs, QualitySettings):
        raise ParameterError("settings", settings, "must be a QualitySettings")
    seg = None if segment_s is None else number("segment_s", segment_s, gt=0)
    ff = ffmpeg if ffmpeg is not None else find_ffmpeg()
    ff.require_filter("libvmaf")
    offset = integer("offset_frames", offset_frames)
    if not isinstance(trim, (bool, np.bool_)):
        raise ParameterError("trim", trim, "must be True or False")
    ref = reference_info if reference_info is not None else probe(reference, ff)
    dis = distorted_info if distorted_info is not None else probe(distorted, ff)
    ref_start, dis_start, n_frames = _align(ref, dis, offset, bool(trim))

    start = time.perf_counter()
    with temp_run_dir() as tmp:
        log = tmp / "vmaf.json"
        cut_ref = None if (ref_start, n_frames) == (0, ref.n_frames) else (ref_start, n_frames)
        cut_dis = None if (dis_start, n_frames) == (0, dis.n_frames) else (dis_start, n_frames)
        graph = _scoring_graph("0:V:0", "1:V:0", ref, qs, log, cut_ref, cut_dis)
        args = [
            # -reinit_filter 0: a stream whose frame size changes (per-shot rungs mix resolutions)
            # keeps one graph (its scale adapts per frame) instead of a rebuilt libvmaf
            "-i", file_url(reference), "-reinit_filter", "0", "-i", file_url(distorted),
            "-filter_complex", graph, "-map", "[vmaf_out]", "-f", "null", "-",
        ]
        _run_scoring(ff, args, tmp, qs, ref, progress, timeout_s, float(n_frames / ref.fps))
        version, per_frame, own_pools = _read_log(log, qs, ref.bit_depth)
    _check_log(per_frame, n_frames, qs.subsample, str(distorted))
    versions = _versions(ff, version, qs, ref, (dis.width, dis.height))
    versions["alignment"] = {"reference_start_frame": ref_start, "distorted_start_frame": dis_start, "n_frames": n_frames}
    result = _assemble(
        per_frame, qs, versions, str(reference), str(distorted), n_frames, ref.fps, seg,
        time.perf_counter() - start,
    )
    result.meta["libvmaf_pooled"] = own_pools
    return result


def encode_and_score(
    source: str | os.PathLike[str],
    settings: EncodeSettings,
    quality_settings: QualitySettings | None,
    out_path: str | os.PathLike[str],
    *,
    ffmpeg: FFmpeg | None = None,
    progress: Callable[[float], None] | None = None,
    source_info: MediaInfo | None = None,
    one_pass: bool = True,
    timeout_s: float | None = None,
) -> tuple[EncodeResult, QualityResult]:
    """Encode ``source`` with ``settings`` and score the result against ``source``.

    With ``one_pass`` (the default) and an ffmpeg that has loopback decoders (7.1 or later),
    a single ffmpeg run decodes the source once, encodes it to ``out_path``, decodes the
    encoded packets and scores them against the same decoded source frames. ffmpeg keeps
    the source frames in memory while the encoder's lookahead delays its output, so memory
    grows with resolution and lookahead (a few hundred MB at 720p). With ``one_pass=False``,
    or an older ffmpeg, it runs :func:`~abrkit.encode.encoder.encode` and then :func:`score`.

    Per-segment quality uses ``settings.segment_s``. Errors are those of ``encode`` and ``score``.
    """
    qs = quality_settings if quality_settings is not None else QualitySettings()
    if not isinstance(qs, QualitySettings):
        raise ParameterError("quality_settings", quality_settings, "must be a QualitySettings")
    if not isinstance(settings, EncodeSettings):
        raise ParameterError("settings", settings, "must be an EncodeSettings")
    ff = ffmpeg if ffmpeg is not None else find_ffmpeg()
    ff.require_encoder(settings.codec_spec.encoder)
    ff.require_filter("libvmaf")
    info = source_info if source_info is not None else probe(source, ff)
    check_fits_source(settings, info)

    if not (one_pass and ff.has_loopback_decoder):
        enc = encode(source, settings, out_path, ffmpeg=ff, progress=_part(progress, 0.0, 0.5), source_info=info,
                     timeout_s=timeout_s)
        quality = score(source, enc.path, qs, segment_s=settings.segment_s, ffmpeg=ff,
                        progress=_part(progress, 0.5, 1.0), reference_info=info, timeout_s=timeout_s)
        if enc.n_frames != info.n_frames:
            raise VideoFormatError(enc.path, f"the encode has {enc.n_frames} frames, the source {info.n_frames}")
        quality.meta["one_pass"] = False
        return enc, quality

    out = _output_path(out_path, source)
    start = time.perf_counter()
    with temp_run_dir() as tmp:
        log = tmp / "vmaf.json"
        graph = _scoring_graph("0:V:0", "dec:0", info, qs, log)
        args = [
            "-i", file_url(source), *encode_output_args(settings, info), "-y", file_url(out),
            "-dec", "0:0", "-filter_complex", graph, "-map", "[vmaf_out]", "-f", "null", "-",
        ]
        _run_scoring(ff, args, tmp, qs, info, progress, timeout_s)
        version, per_frame, own_pools = _read_log(log, qs, info.bit_depth)
    elapsed = time.perf_counter() - start
    enc = measure_encode(out, settings, info, ff, elapsed_s=elapsed)
    if enc.n_frames != info.n_frames:
        raise VideoFormatError(out, f"the encode has {enc.n_frames} frames, the source {info.n_frames}")
    _check_log(per_frame, info.n_frames, qs.subsample, str(out))
    versions = _versions(ff, version, qs, info, (settings.width, settings.height))
    quality = _assemble(
        per_frame, qs, versions, str(source), str(out), info.n_frames, info.fps, settings.segment_s, elapsed,
    )
    quality.meta["one_pass"] = True
    quality.meta["libvmaf_pooled"] = own_pools
    return enc, quality


# -- internals --------------------------------------------------------------------------------


def _part(progress: Callable[[float], None] | None, lo: float, hi: float) -> Callable[[float], None] | None:
    if progress is None:
        return None
    return lambda fraction: progress(lo + (hi - lo) * fraction)


def _scoring_pix_fmt(ref: MediaInfo) -> str:
    if ref.pix_fmt in _VMAF_PIX_FMTS:
        return ref.pix_fmt
    return "yuv420p" if ref.bit_depth <= 8 else "yuv420p10le"


def _align(ref: MediaInfo, dis: MediaInfo, offset: int, trim: bool) -> tuple[int, int, int]:
    """(first reference frame, first distorted frame, frames) of the pairs to score."""
    if dis.fps != ref.fps:
        raise VideoFormatError(
            dis.path, f"has frame rate {dis.fps} fps but the reference {ref.path} has {ref.fps} fps",
        )
    ref_start, dis_start = max(-offset, 0), max(offset, 0)
    n_ref, n_dis = ref.n_frames - ref_start, dis.n_frames - dis_start
    if n_ref <= 0 or n_dis <= 0:
        short, n = (ref, ref.n_frames) if n_ref <= 0 else (dis, dis.n_frames)
        raise ParameterError("offset_frames", offset, f"skips every frame of {short.path} ({n} frames)")
    if n_ref != n_dis and not trim:
        after = f"; after skipping the first {abs(offset)} of the {'distorted' if offset > 0 else 'reference'}, " if offset else ": "
        longer = "distorted" if n_dis > n_ref else "reference"
        raise VideoFormatError(
            dis.path,
            f"has {dis.n_frames} frames but the reference {ref.path} has {ref.n_frames}{after}the {longer} is "
            f"{abs(n_dis - n_ref)} frame(s) longer. Score the first {min(n_ref, n_dis)} frames of both with "
            "trim=True (abrkit score --trim), or skip frames at the start of one with offset_frames (--offset)",
        )
    return ref_start, dis_start, min(n_ref, n_dis)


def _scoring_graph(
    ref_label: str, dis_label: str, ref: MediaInfo, qs: QualitySettings, log: Path,
    cut_ref: tuple[int, int] | None = None, cut_dis: tuple[int, int] | None = None,
) -> str:
    """Filtergraph: keep the aligned frames of each leg (``cut_*``: first frame and count, None
    for all), reset both to a shared frame clock, scale the distorted leg, libvmaf."""
    clock = f"settb={ref.fps.denominator}/{ref.fps.numerator},setpts=N"
    pix_fmt = _scoring_pix_fmt(ref)
    return (
        f"[{ref_label}]{_cut(cut_ref)}{clock},format={pix_fmt}[vmaf_ref];"
        f"[{dis_label}]{_cut(cut_dis)}{clock},scale={ref.width}:{ref.height}:flags={qs.scaler},format={pix_fmt}[vmaf_dis];"
        f"[vmaf_dis][vmaf_ref]{qs.libvmaf_filter(log)}[vmaf_out]"
    )


def _cut(frames: tuple[int, int] | None) -> str:
    """A ``trim`` by frame numbers (counted in decode order from the leg's first frame)."""
    if frames is None:
        return ""
    first, count = frames
    return f"trim=start_frame={first}:end_frame={first + count},"


def _run_scoring(
    ff: FFmpeg, args: list[str], cwd: Path, qs: QualitySettings, ref: MediaInfo,
    progress: Callable[[float], None] | None, timeout_s: float | None, total_s: float | None = None,
) -> None:
    try:
        ff.run(args, cwd=cwd, progress=progress, total_s=ref.duration_s if total_s is None else total_s,
               timeout_s=timeout_s)
    except FFmpegError as err:
        text = err.stderr
        if "could not load libvmaf model" in text:
            missing = re.search(r"could not load libvmaf model with version: (\S+)", text)
            name = missing.group(1) if missing else qs.vmaf_model
            raise ToolNotFoundError(
                f"the libvmaf in {ff.path} has no built-in model {name!r}; built-in models of the "
                f"imageio-ffmpeg build: {', '.join(BUILTIN_VMAF_MODELS)} "
                "(`pip install imageio-ffmpeg`, or set ABRKIT_FFMPEG to an ffmpeg whose libvmaf has it)"
            ) from err
        if "image too small" in text:
            raise ParameterError(
                "vmaf_model", qs.vmaf_model,
                f"libvmaf says the {ref.width}x{ref.height} reference is too small for this model "
                "(use vmaf_v0.6.1, or a larger reference)",
            ) from err
        raise


def _read_log(
    log: Path, qs: QualitySettings, bit_depth: int,
) -> tuple[str | None, pd.DataFrame, dict[str, dict[str, float]]]:
    """libvmaf's JSON log -> (libvmaf version, per-frame DataFrame in abrkit's columns,
    libvmaf's own pooled VMAF values by column)."""
    try:
        text = log.read_text(encoding="utf-8")
    except OSError as err:
        raise VideoFormatError(log, f"libvmaf wrote no log: {err}") from err
    try:
        data = json.loads(text)
    except ValueError:
        # Some libvmaf builds print nan/inf as bare words, which JSON does not allow.
        fixed = re.sub(r"(?<=[:\s\[,])(-?)(nan|inf)\b", lambda m: "NaN" if m.group(2) == "nan" else m.group(1) + "Infinity", text)
        try:
            data = json.loads(fixed)
        except ValueError as err:
            raise VideoFormatError(log, f"libvmaf's log is not valid JSON: {err}") from err
    frames = data.get("frames") if isinstance(data, dict) else None
    if not isinstance(frames, list):
        raise VideoFormatError(log, "libvmaf's log has no 'frames' list")
    columns = qs.metrics()
    rows = []
    for entry in frames:
        metrics = entry.get("metrics", {})
        row: dict[str, float] = {"frame": int(entry["frameNum"])}
        for name in columns:
            source_name = next((k for k, v in _LOG_COLUMNS.items() if v == name), name)
            value = metrics.get(source_name)
            if value is None:
                raise VideoFormatError(log, f"libvmaf's log has no {source_name!r} for frame {entry['frameNum']}")
            row[name] = float(value)
        rows.append(row)
    per_frame = pd.DataFrame(rows, columns=["frame", *columns])
    per_frame["frame"] = per_frame["frame"].astype(np.int64)
    if qs.psnr:
        cap = psnr_cap_db(bit_depth)
        for name in ("psnr_y", "psnr_u", "psnr_v"):
            per_frame[name] = np.minimum(per_frame[name].to_numpy(dtype=np.float64), cap)
    version = data.get("version")
    pooled = data.get("pooled_metrics") if isinstance(data.get("pooled_metrics"), dict) else {}
    own_pools = {name: dict(pooled[name]) for name in qs.models() if isinstance(pooled.get(name), dict)}
    return (str(version) if version else None), per_frame, own_pools


def _check_log(per_frame: pd.DataFrame, n_frames: int, subsample: int, distorted: str) -> None:
    expected = -(-n_frames // subsample)
    if len(per_frame) != expected:
        raise VideoFormatError(
            distorted,
            f"libvmaf scored {len(per_frame)} frames, expected {expected} "
            f"({n_frames} frames, every {subsample}); refusing a partial score",
        )


def _versions(
    ff: FFmpeg, libvmaf: str | None, qs: QualitySettings, ref: MediaInfo, distorted_size: tuple[int, int],
) -> dict[str, Any]:
    return {
        "ffmpeg": ff.version,
        "libvmaf": libvmaf,
        "models": {name: model + (" (transform)" if transform else "") for name, (model, transform) in qs.models().items()},
        "scaler": qs.scaler,
        "pix_fmt": _scoring_pix_fmt(ref),
        "reference_size": [ref.width, ref.height],
        "distorted_size": list(distorted_size),
        "psnr_cap_db": psnr_cap_db(ref.bit_depth),
    }


def _assemble(
    per_frame: pd.DataFrame, qs: QualitySettings, versions: dict[str, Any], reference: str, distorted: str,
    n_frames: int, fps: Fraction, segment_s: float | None, elapsed_s: float,
) -> QualityResult:
    metrics = [c for c in per_frame.columns if c != "frame"]
    pooled = pd.DataFrame(
        [pool(per_frame[m].to_numpy(dtype=np.float64)) for m in metrics], index=pd.Index(metrics, name="metric"),
        columns=list(POOLS),
    )
    per_segment = None if segment_s is None else _per_segment(per_frame, metrics, n_frames, fps, segment_s)
    return QualityResult(
        per_frame=per_frame, pooled=pooled, per_segment=per_segment, settings=qs, versions=versions,
        reference=reference, distorted=distorted, n_frames=n_frames, fps=fps, segment_s=segment_s,
        elapsed_s=elapsed_s,
    )


def _per_segment(
    per_frame: pd.DataFrame, metrics: list[str], n_frames: int, fps: Fraction, segment_s: float,
) -> pd.DataFrame:
    frame_s = float(1 / fps)
    all_seg = segment_index(np.arange(n_frames) * frame_s, segment_s, frame_s)
    n_segments = int(all_seg.max()) + 1 if n_frames else 0
    counts = np.bincount(all_seg, minlength=n_segments)
    starts = np.searchsorted(all_seg, np.arange(n_segments), side="left")
    scored_seg = all_seg[per_frame["frame"].to_numpy(dtype=np.int64)]
    table: dict[str, Any] = {
        "segment": np.arange(n_segments, dtype=np.int64),
        "start_frame": starts.astype(np.int64),
        "n_frames": counts.astype(np.int64),
        "start_s": starts * frame_s,
        "duration_s": counts * frame_s,
    }
    scored = np.bincount(scored_seg, minlength=n_segments)
    for m in metrics:
        sums = np.bincount(scored_seg, weights=per_frame[m].to_numpy(dtype=np.float64), minlength=n_segments)
        with np.errstate(invalid="ignore", divide="ignore"):
            table[m] = np.where(scored > 0, sums / np.maximum(scored, 1), np.nan)
    return pd.DataFrame(table)
