"""Final renditions of a ladder, the :class:`~abrkit.Video` they make, and HLS / DASH packaging.

Three steps, each usable on its own:

1. :func:`encode_renditions` encodes the chosen rungs with capped VBR, keyframes aligned to the
   segment duration, measures every segment from the encoded packets and (optionally) scores
   per-segment VMAF against the source. Each rung becomes a :class:`Rendition`.
2. :func:`video_from_renditions` hands the renditions to the streaming half: a
   :class:`~abrkit.Video` whose chunk sizes are the real segment sizes and whose per-chunk
   quality is the measured per-segment VMAF.
3. :func:`write_hls` and :func:`write_dash` segment the renditions with ffmpeg (stream copy, so
   the bits are the ones measured) and write manifests whose bandwidth attributes are measured on
   the segment files actually written.

Rate control (``rate_control``)
-------------------------------
``"capped_crf"`` (default)
    Each rung is re-encoded at the CRF the ladder search chose for it, with the encoder's
    maximum rate set to ``maxrate_factor x bitrate_kbps`` (1.5 by default). The CRF keeps the
    quality allocation of the point on the hull (its average rate and VMAF come out close to
    the measured point), and the cap only clips the most complex stretches, which bounds the
    peak segment rate that HLS's BANDWIDTH and DASH's @bandwidth must announce.
``"vbr"``
    Single-pass average-bitrate encoding at ``bitrate_kbps`` with the same cap, for ladders
    without CRF values (fixed ladders, for example).

The buffer that enforces the cap (``-bufsize``) is set by
:func:`~abrkit.encode.encoder.encode`: one segment at the maximum rate
(``max_bitrate_kbps x segment_s``). At the usual 2 s segments that is the common "bufsize = 2 x
maxrate" convention (two seconds of buffer at the cap); for other durations it scales with the
segment, which is the window HLS and DASH measure peaks over. Apple's HLS authoring
specification asks that a VOD variant's peak rate stay within 200 % of its average; a 1.5x cap
keeps well inside it.

Measured bandwidth
------------------
* HLS ``BANDWIDTH``: RFC 8216, section 4.1 and 4.3.4.2: the *peak segment bit rate*, the largest
  bit rate of any run of consecutive segments whose total duration is between 0.5 and 1.5
  times the target duration, where a run's bit rate is the sum of its segment sizes over the
  sum of their EXTINF durations (:func:`peak_bitrate_bps`). Sizes are those of the segment files
  written, container included (TS packets, PES headers; fMP4 ``moof`` boxes); an fMP4
  initialization section (``EXT-X-MAP``) is not a media segment and is not counted.
* HLS ``AVERAGE-BANDWIDTH``: the sum of the segment file sizes in bits over the sum of their
  durations.
* DASH ``@bandwidth`` (ISO/IEC 23009-1, 5.3.5.2): the smallest rate ``B`` such that a client
  receiving the representation at ``B`` from the start of any segment (each starts with a SAP)
  and starting playout ``@minBufferTime`` after the first bit never runs out of data. abrkit
  checks it at segment granularity: every segment must be fully received before its own
  playout starts, i.e. for all ``i <= j``,
  ``8 * sum(size[i..j]) <= B * (minBufferTime + sum(duration[i..j-1]))``
  (:func:`dash_bandwidth_bps`). ``@minBufferTime`` defaults to the longest segment, which makes
  ``@bandwidth`` at least every full segment's own bit rate.

Values are written rounded up to whole bits per second, so a player never sees less than was
measured. To keep the declared peak never below the declared average, the peak is taken as at
least the average.

Hand-off to the simulator
-------------------------
:func:`video_from_renditions` builds a :class:`~abrkit.Video` in abrkit's internal units:
``bitrates_bps`` are the renditions' measured average bitrates (video payload, bits per second),
``sizes_bytes[k, r]`` the payload bytes of segment ``k`` of rendition ``r``, ``chunk_s`` the
duration a full segment plays in seconds (``segment_s``; at 29.97 fps, 2 s segments hold 60
frames and play 2.002 s), ``quality[k, r]`` the mean VMAF over the frames of segment ``k``.
The sizes are the encoded video packets, without container overhead (a few hundred bytes per
segment in fMP4; about 5-15 % more in MPEG-TS at low rates).

The last segment is usually shorter than ``segment_s`` (a 61 s title in 2 s segments ends with a
1 s segment). With ``tail="drop"`` (default, as :meth:`LadderResult.to_video
<abrkit.encode.ladder.LadderResult.to_video>` and :func:`abrkit.video.video_from_segments`) a
short last segment is left out: every simulated chunk then holds exactly the ``chunk_s`` of
content its size and quality describe, at the cost of the last fraction of a segment, and every
player model can play the video. With ``tail="keep"`` it is kept with its real size and its
real duration (``Video.durations_s``): no byte or second is lost, and only the chunk model
(profiles ``default``, ``pensieve``) plays it. Per-shot renditions whose shots start off the
``segment_s`` grid have segments of unequal duration, which the video keeps likewise. A last
segment short by at most one and a half frames is frame rounding (29.97 fps), not a tail. A title
shorter than one segment is one chunk lasting the title's duration.
"""

from __future__ import annotations

import math
import os
import re
import struct
import threading
import xml.etree.ElementTree as ET
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from .._checks import integer, number
from ..errors import ParameterError, VideoFormatError
from ..video import Video
from .encoder import CODECS, EncodeResult, EncodeSettings, encode, segment_index
from .ffmpeg import FFmpeg, file_url, find_ffmpeg
from .probe import probe
from .quality import QualityResult, QualitySettings, encode_and_score

__all__ = [
    "RATE_CONTROLS",
    "SEGMENT_FORMATS",
    "Rendition",
    "MediaPlaylist",
    "encode_renditions",
    "renditions_table",
    "video_from_renditions",
    "write_hls",
    "write_dash",
    "read_media_playlist",
    "packaged_segment_sizes",
    "peak_bitrate_bps",
    "dash_bandwidth_bps",
    "target_duration_s",
    "codecs_string",
]

#: Accepted values of ``rate_control`` in :func:`encode_renditions`.
RATE_CONTROLS = ("capped_crf", "vbr")
#: Accepted values of ``segment_format`` in :func:`write_hls`.
SEGMENT_FORMATS = ("mpegts", "fmp4")

_MPD_NS = "urn:mpeg:dash:schema:mpd:2011"
_XML_NAMESPACES = {
    "": _MPD_NS,
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "xlink": "http://www.w3.org/1999/xlink",
}
# Sample-entry four-character codes abrkit writes, and the box carrying each one's configuration.
_CONFIG_BOX = {
    b"avc1": b"avcC", b"avc3": b"avcC",
    b"hvc1": b"hvcC", b"hev1": b"hvcC",
    b"av01": b"av1C",
    b"vp09": b"vpcC",
}
# Bytes between the start of a VisualSampleEntry and its first child box: box header (8),
# SampleEntry (6 reserved + 2 data_reference_index), VisualSampleEntry fields (70).
_VISUAL_ENTRY_HEADER = 8 + 8 + 70
_CONTAINER_BOXES = (b"moov", b"trak", b"mdia", b"minf", b"stbl")


# -- renditions -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Rendition:
    """One final rendition of a ladder: the encoded file and what was measured on it.

    Attributes
    ----------
    path : pathlib.Path
        The encoded file (MP4, one video stream, keyframes on segment boundaries).
    width, height : int
        Frame size in pixels.
    target_kbps : float
        The rung's bitrate in kbit/s (what the ladder asked for).
    measured_kbps : float
        Average video bitrate in kbit/s: payload bits over duration (no container).
    peak_kbps : float
        Peak segment bitrate of the payload in kbit/s, as RFC 8216 defines it over the
        encode's segments (see :func:`peak_bitrate_bps`); at least ``measured_kbps``.
    segment_sizes_bytes : int64 array, shape (n_segments,)
        Video payload of each segment in bytes, from the encoded packets.
    segment_durations_s : float array, shape (n_segments,)
        How long each segment plays, in seconds: its frames over the frame rate (2.002 s for 2 s
        segments at 29.97 fps); the last one may be shorter.
    segment_vmaf : float array of shape (n_segments,), or None
        Mean VMAF over the frames of each segment (None when quality was not scored).
    codecs : str
        RFC 6381 codec string read from the file's sample description (``avc1.64001f``).
    segment_s : float
        Nominal segment duration in seconds.
    fps : fractions.Fraction
        Frame rate.
    n_frames : int
        Number of frames.
    duration_s : float
        ``n_frames / fps`` in seconds.
    crf : float or None
        The CRF encoded at (capped CRF), None for VBR.
    vmaf : float or None
        Mean VMAF over all frames.
    settings : EncodeSettings
        The encode settings used.
    encode : EncodeResult
        The full measurement of the encode.
    quality : QualityResult or None
        The full quality result (per-frame scores), when scored.
    frame_sizes : tuple of (width, height), optional
        A per-shot rendition's frame sizes, when it changes size at shot boundaries (``width``
        and ``height`` are then the largest); empty for one size. Packaging then keeps the
        parameter sets in band (``avc3``/``hev1`` sample entries in fMP4), so a player's decoder
        reconfigures at the new size, and announces the largest size.
    """

    path: Path
    width: int
    height: int
    target_kbps: float
    measured_kbps: float
    peak_kbps: float
    segment_sizes_bytes: np.ndarray
    segment_durations_s: np.ndarray
    segment_vmaf: np.ndarray | None
    codecs: str
    segment_s: float
    fps: Fraction
    n_frames: int
    duration_s: float
    crf: float | None = None
    vmaf: float | None = None
    settings: EncodeSettings | None = field(default=None, repr=False)
    encode: EncodeResult | None = field(default=None, repr=False)
    quality: QualityResult | None = field(default=None, repr=False)
    frame_sizes: tuple[tuple[int, int], ...] = ()

    @property
    def switches_size(self) -> bool:
        """Whether the frame size changes inside the rendition (a per-shot rung)."""
        return len(set(self.frame_sizes)) > 1

    @property
    def on_grid(self) -> bool:
        """Whether every segment starts at the first frame at or after a multiple of
        ``segment_s`` (as :func:`encode_renditions` cuts them); False for a per-shot rendition
        whose shots start off that grid, whose segments then have unequal durations."""
        grid = _played_durations_s(self.n_frames, self.fps, self.segment_s)
        return grid.size == self.n_segments and bool(np.all(np.abs(grid - self.segment_durations_s) <= 0.5 * self.frame_s))

    @property
    def resolution(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return (self.width, self.height)

    @property
    def n_segments(self) -> int:
        """Number of segments."""
        return int(self.segment_sizes_bytes.size)

    @property
    def frame_s(self) -> float:
        """Duration of one frame in seconds."""
        return float(1 / self.fps)

    @property
    def segment_bitrates_kbps(self) -> np.ndarray:
        """Payload bitrate of each segment in kbit/s."""
        return self.segment_sizes_bytes * 8.0 / self.segment_durations_s / 1000.0

    @property
    def label(self) -> str:
        """A short name: ``640x360@800k``."""
        return f"{self.width}x{self.height}@{self.target_kbps:g}k"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (arrays as lists; the full encode and quality results left out)."""
        return {
            "path": str(self.path),
            "width": self.width,
            "height": self.height,
            "target_kbps": self.target_kbps,
            "measured_kbps": self.measured_kbps,
            "peak_kbps": self.peak_kbps,
            "segment_sizes_bytes": self.segment_sizes_bytes.tolist(),
            "segment_durations_s": self.segment_durations_s.tolist(),
            "segment_vmaf": None if self.segment_vmaf is None else self.segment_vmaf.tolist(),
            "codecs": self.codecs,
            "segment_s": self.segment_s,
            "fps": f"{self.fps.numerator}/{self.fps.denominator}",
            "n_frames": self.n_frames,
            "duration_s": self.duration_s,
            "crf": self.crf,
            "vmaf": self.vmaf,
            "settings": None if self.settings is None else self.settings.key(),
            "frame_sizes": [list(x) for x in self.frame_sizes],
        }


def renditions_table(renditions: Sequence[Rendition]) -> pd.DataFrame:
    """One row per rendition: size, target / measured / peak kbit/s, VMAF, codecs, file."""
    rows = [
        {
            "width": r.width, "height": r.height, "crf": r.crf, "target_kbps": r.target_kbps,
            "measured_kbps": r.measured_kbps, "peak_kbps": r.peak_kbps, "vmaf": r.vmaf,
            "n_segments": r.n_segments, "codecs": r.codecs, "path": str(r.path),
        }
        for r in renditions
    ]
    return pd.DataFrame(rows, columns=[
        "width", "height", "crf", "target_kbps", "measured_kbps", "peak_kbps", "vmaf", "n_segments", "codecs", "path",
    ])


def _rungs_frame(rungs: Any, rate_control: str) -> pd.DataFrame:
    """Validated copy of the rungs, sorted by bitrate (stable)."""
    if isinstance(rungs, pd.DataFrame):
        frame = rungs.copy()
    else:
        try:
            frame = pd.DataFrame(list(rungs))
        except (TypeError, ValueError):
            raise ParameterError(
                "rungs", rungs, "must be a DataFrame (or records) with columns bitrate_kbps, width, height[, crf]",
            ) from None
    need = ["bitrate_kbps", "width", "height"] + (["crf"] if rate_control == "capped_crf" else [])
    missing = [c for c in need if c not in frame.columns]
    if missing:
        extra = " (rate_control='capped_crf' re-encodes each rung at its CRF; use rate_control='vbr' without one)" \
            if missing == ["crf"] else ""
        raise ParameterError("rungs", f"columns {list(frame.columns)}", f"must have columns {need}; missing {missing}{extra}")
    if len(frame) == 0:
        raise ParameterError("rungs", "an empty table", "at least one rung is needed")
    for i, row in enumerate(frame.itertuples(index=False)):
        number(f"rungs.bitrate_kbps[{i}]", _plain(row.bitrate_kbps), gt=0)
        for col in ("width", "height"):
            value = _plain(getattr(row, col))
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            integer(f"rungs.{col}[{i}]", value, ge=2)
        if rate_control == "capped_crf":
            number(f"rungs.crf[{i}]", _plain(row.crf))
    frame["width"] = frame["width"].astype(np.int64)
    frame["height"] = frame["height"].astype(np.int64)
    frame["bitrate_kbps"] = frame["bitrate_kbps"].astype(np.float64)
    return frame.sort_values("bitrate_kbps", kind="stable").reset_index(drop=True)


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers, for the argument checks."""
    return value.item() if isinstance(value, np.generic) else value


def _default_workers(n_jobs: int) -> int:
    # Encoders use several threads each; two encodes per core only thrash.
    return max(1, min(n_jobs, (os.cpu_count() or 1) // 2))


def encode_renditions(
    source: str | os.PathLike[str],
    rungs: pd.DataFrame | Sequence[dict[str, Any]],
    *,
    out_dir: str | os.PathLike[str],
    codec: str = "x264",
    segment_s: float = 2.0,
    preset: str | None = None,
    rate_control: str = "capped_crf",
    maxrate_factor: float = 1.5,
    quality: QualitySettings | None = QualitySettings(),
    pix_fmt: str = "yuv420p",
    scaler: str = "bicubic",
    threads: int | None = None,
    ffmpeg: FFmpeg | None = None,
    workers: int | None = None,
    progress: Callable[[float], None] | None = None,
    encoder_args: Sequence[str] = (),
) -> list[Rendition]:
    """Encode the final renditions of a ladder and measure them.

    Parameters
    ----------
    source : path
        The source video (the reference quality is scored against).
    rungs : DataFrame or records
        One row per rung with ``bitrate_kbps``, ``width``, ``height`` and, for capped CRF,
        ``crf`` (a ladder result's ``rungs`` table has them). Encoded in order of bitrate.
    out_dir : path
        Directory for the encoded files (created if needed); files are named
        ``{index:02d}_{width}x{height}_{bitrate}k.mp4`` and overwritten.
    codec : str
        ``x264``, ``x265``, ``svtav1`` or ``vp9`` (see :data:`~abrkit.encode.encoder.CODECS`).
    segment_s : float
        Segment duration in seconds; keyframes fall on its multiples. Default 2.0.
    preset : str, optional
        Encoder preset (default: the codec's default).
    rate_control : str
        ``"capped_crf"`` (default): CRF from the rung, maximum rate ``maxrate_factor x
        bitrate_kbps``. ``"vbr"``: average bitrate ``bitrate_kbps`` with the same cap.
    maxrate_factor : float
        Cap over the rung's bitrate, >= 1. Default 1.5.
    quality : QualitySettings or None
        Score every rendition against the source (per-segment VMAF for the simulator), in the
        same ffmpeg run as the encode where ffmpeg allows it. None: do not score.
    pix_fmt, scaler, threads
        Passed to :class:`~abrkit.encode.encoder.EncodeSettings`.
    ffmpeg : FFmpeg, optional
        The binary (default :func:`~abrkit.encode.ffmpeg.find_ffmpeg`).
    workers : int, optional
        Renditions encoded at once (default: half the CPUs, at least 1).
    progress : callable, optional
        Called with the overall fraction done (0..1).
    encoder_args : sequence of str
        Extra ffmpeg output options for every encode, as the ladder search's
        (``settings["encoder_args"]`` of a :class:`~abrkit.encode.ladder.LadderResult`).

    Returns
    -------
    list of Rendition
        In order of rung bitrate.

    Raises
    ------
    ParameterError
        Bad rungs (missing columns, no CRF for capped CRF, odd sizes, a size above the
        source's) or options.
    ToolNotFoundError, VideoFormatError, FFmpegError
        As :func:`~abrkit.encode.encoder.encode` and :func:`~abrkit.encode.quality.score`.
    """
    if rate_control not in RATE_CONTROLS:
        raise ParameterError("rate_control", rate_control, f"must be one of {', '.join(RATE_CONTROLS)}")
    if codec not in CODECS:
        raise ParameterError("codec", codec, f"must be one of {', '.join(CODECS)}")
    factor = number("maxrate_factor", maxrate_factor, ge=1.0)
    seg = number("segment_s", segment_s, gt=0)
    if quality is not None and not isinstance(quality, QualitySettings):
        raise ParameterError("quality", quality, "must be a QualitySettings or None")
    table = _rungs_frame(rungs, rate_control)
    n_workers = _default_workers(len(table)) if workers is None else integer("workers", workers, ge=1)

    # Apple players want HEVC in MP4 as 'hvc1' (parameter sets in the sample entry), not 'hev1'.
    extra = tuple(encoder_args) + (("-tag:v", "hvc1") if codec == "x265" else ())
    jobs: list[tuple[EncodeSettings, Path, float]] = []
    out = Path(out_dir)
    for i, row in enumerate(table.itertuples(index=False)):
        target = float(row.bitrate_kbps)
        common: dict[str, Any] = dict(
            codec=codec, width=int(row.width), height=int(row.height), preset=preset, segment_s=seg,
            pix_fmt=pix_fmt, scaler=scaler, threads=threads, extra=extra, max_bitrate_kbps=factor * target,
        )
        if rate_control == "capped_crf":
            crf = float(_plain(row.crf))
            if CODECS[codec].crf_integer:
                crf = float(round(crf))
            settings = EncodeSettings(crf=crf, **common)
        else:
            settings = EncodeSettings(bitrate_kbps=target, **common)
        name = f"{i:02d}_{settings.width}x{settings.height}_{target:.0f}k.mp4"
        jobs.append((settings, out / name, target))

    ff = ffmpeg if ffmpeg is not None else find_ffmpeg()
    info = probe(source, ff)
    out.mkdir(parents=True, exist_ok=True)

    done = [0.0] * len(jobs)
    lock = threading.Lock()
    reported = [-1.0]
    stop = threading.Event()  # set when one job fails or the caller is interrupted: the others end

    def report(i: int) -> Callable[[float], None]:
        def update(fraction: float) -> None:
            if stop.is_set():
                raise _Stopped()  # from ffmpeg's progress: FFmpeg.run kills the encode
            if progress is None:
                return
            with lock:
                done[i] = max(done[i], min(max(float(fraction), 0.0), 1.0))
                total = sum(done) / len(done)
                if total <= reported[0]:
                    return
                reported[0] = total
            progress(total)

        return update

    def run(i: int) -> Rendition:
        settings, path, target = jobs[i]
        if quality is not None:
            enc, qual = encode_and_score(source, settings, quality, path, ffmpeg=ff, progress=report(i), source_info=info)
        else:
            enc, qual = encode(source, settings, path, ffmpeg=ff, progress=report(i), source_info=info), None
        result = _rendition(enc, qual, target)
        if progress is not None:
            report(i)(1.0)
        return result

    if n_workers == 1 or len(jobs) == 1:
        return [run(i) for i in range(len(jobs))]
    with ThreadPoolExecutor(max_workers=min(n_workers, len(jobs)), thread_name_prefix="abrkit-rendition") as pool:
        futures = [pool.submit(run, i) for i in range(len(jobs))]
        try:
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:  # KeyboardInterrupt while waiting: stop the running encodes too
            stop.set()
            for other in futures:
                other.cancel()
            raise
        for fut in futures:
            if fut in finished and fut.exception() is not None:
                stop.set()  # the running encodes stop at their next progress report
                for other in futures:
                    other.cancel()
                raise fut.exception()  # type: ignore[misc]
        return [fut.result() for fut in futures]


class _Stopped(Exception):
    """Raised in a rendition's progress callback once another job has failed (never escapes)."""


def _played_durations_s(n_frames: int, fps: Fraction, segment_s: float) -> np.ndarray:
    """How long each segment plays: its frame count over the frame rate.

    Segment ``k`` starts with the first frame at or after ``k * segment_s`` (the encoder's
    keyframe rule), so at 29.97 fps two-second segments hold 60 frames and last 2.002 s.
    """
    frame_s = float(1 / fps)
    seg = segment_index(np.arange(int(n_frames)) * frame_s, segment_s, frame_s)
    return np.bincount(seg).astype(np.float64) * frame_s


def _rendition(enc: EncodeResult, qual: QualityResult | None, target_kbps: float) -> Rendition:
    """A Rendition from an encode (and its quality result)."""
    sizes = np.asarray(enc.segment_sizes_bytes, dtype=np.int64)
    durations = _played_durations_s(enc.n_frames, enc.fps, enc.segment_s)
    if durations.size != sizes.size:
        durations = np.asarray(enc.segment_durations_s, dtype=np.float64)
    peak_bps = peak_bitrate_bps(sizes, durations)
    seg_vmaf = None
    vmaf = None
    if qual is not None:
        seg_vmaf = qual.segment_values("vmaf")
        if seg_vmaf.size != sizes.size:
            raise VideoFormatError(
                enc.path, f"quality has {seg_vmaf.size} segments, the encode {sizes.size}: segmentations disagree",
            )
        vmaf = qual.vmaf
    return Rendition(
        path=Path(enc.path),
        width=enc.settings.width,
        height=enc.settings.height,
        target_kbps=float(target_kbps),
        measured_kbps=float(enc.bitrate_kbps),
        peak_kbps=max(peak_bps / 1000.0, float(enc.bitrate_kbps)),
        segment_sizes_bytes=sizes,
        segment_durations_s=durations,
        segment_vmaf=seg_vmaf,
        codecs=codecs_string(enc.path),
        segment_s=float(enc.segment_s),
        fps=enc.fps,
        n_frames=int(enc.n_frames),
        duration_s=float(enc.duration_s),
        crf=enc.settings.crf,
        vmaf=vmaf,
        settings=enc.settings,
        encode=enc,
        quality=qual,
    )


# -- the simulator's Video ----------------------------------------------------------------------


def _check_renditions(renditions: Sequence[Rendition], name: str = "renditions") -> list[Rendition]:
    """Renditions that can be switched between: same segment duration and segment boundaries."""
    items = list(renditions) if not isinstance(renditions, Rendition) else [renditions]
    if not items:
        raise ParameterError(name, [], "at least one rendition is needed")
    for i, r in enumerate(items):
        if not isinstance(r, Rendition):
            raise ParameterError(f"{name}[{i}]", type(r).__name__, "must be a Rendition (from encode_renditions)")
    first = items[0]
    for i, r in enumerate(items[1:], start=1):
        if r.segment_s != first.segment_s:
            raise ParameterError(
                f"{name}[{i}].segment_s", r.segment_s, f"must equal {name}[0].segment_s ({first.segment_s:g})",
            )
        if r.fps != first.fps:
            raise ParameterError(f"{name}[{i}].fps", str(r.fps), f"must equal {name}[0].fps ({first.fps})")
        tol = 0.5 * first.frame_s
        if r.n_segments != first.n_segments or np.any(np.abs(r.segment_durations_s - first.segment_durations_s) > tol):
            raise ParameterError(
                f"{name}[{i}]", r.label,
                f"segments ({r.n_segments}, durations {np.round(r.segment_durations_s, 3).tolist()}) must match "
                f"{name}[0] ({first.n_segments}, {np.round(first.segment_durations_s, 3).tolist()}): "
                "renditions of one title share their segment boundaries",
            )
    return items


def video_from_renditions(
    renditions: Sequence[Rendition],
    name: str = "",
    *,
    tail: str = "drop",
    metric: str = "vmaf",
    package: str | os.PathLike[str] | None = None,
) -> Video:
    """A :class:`~abrkit.Video` streaming exactly what was encoded.

    Parameters
    ----------
    renditions : sequence of Rendition
        From :func:`encode_renditions`, lowest rung first; their measured average bitrates must
        increase strictly.
    name : str
        The video's name (default: the source file's stem).
    tail : str
        ``"drop"`` (default) leaves out a last segment shorter than ``segment_s``; ``"keep"``
        keeps it with its own duration in ``Video.durations_s`` (see the module notes).
    metric : str
        Per-segment quality column of the quality results used as ``Video.quality``
        (``vmaf`` by default; ``vmaf_neg``, ``psnr_y``, ... when they were scored). Without
        quality results the Video has no quality.
    package : path, optional
        A master playlist from :func:`write_hls` or an MPD from :func:`write_dash` of these
        renditions: chunk sizes are then the segment files (container included, what a player
        downloads; initialization segments left out) and the bitrates their averages.

    Returns
    -------
    Video
        ``bitrates_bps``: measured average bitrates in bit/s; ``sizes_bytes`` (n_segments,
        n_renditions): segment payload bytes (or packaged segment files); ``chunk_s``: the duration of a full segment
        (``segment_s``, unless the frame rate does not divide it: 2.002 s at 29.97 fps);
        ``quality``: per-segment ``metric``; ``resolutions``; ``meta`` records the source,
        codec strings, target and peak rates and the last segment's duration.

    Raises
    ------
    ParameterError
        No renditions, renditions with different segmentations, measured bitrates that do not
        increase strictly (the message names the two renditions), quality on some renditions
        only, or a segment without a quality value.
    """
    items = _check_renditions(renditions)
    if tail not in ("keep", "drop"):
        raise ParameterError("tail", tail, "must be 'keep' or 'drop'")
    if package is None:
        sizes = np.column_stack([r.segment_sizes_bytes for r in items]).astype(np.float64)
        rates = np.array([r.measured_kbps for r in items])
        what = "video payload bytes (no container)"
        rates_what = "each rendition's mean video payload rate (measured_kbps, no container)"
    else:
        files = packaged_segment_sizes(package)
        if len(files) != len(items) or any(f.size != r.n_segments for f, r in zip(files, items)):
            raise ParameterError(
                "package", str(package),
                f"has {[f.size for f in files]} segments per variant; these renditions have "
                f"{[r.n_segments for r in items]}: package the same renditions",
            )
        sizes = np.column_stack(files).astype(np.float64)
        rates = np.array([f.sum() * 8.0 / r.duration_s / 1000.0 for f, r in zip(files, items)])
        what = f"segment files of {Path(package).name} (container included, initialization segments excluded)"
        rates_what = f"each variant's mean rate over the segment files of {Path(package).name} (container included)"
    for i in range(1, len(items)):
        if not rates[i] > rates[i - 1]:
            a, b = items[i - 1], items[i]
            raise ParameterError(
                "renditions", [round(float(x), 1) for x in rates],
                f"measured average bitrates must increase strictly, but renditions[{i}] ({b.label}) measures "
                f"{rates[i]:.1f} kb/s, not above renditions[{i - 1}] ({a.label}) at {rates[i - 1]:.1f} kb/s; "
                "drop one of them or re-encode it at a higher rate",
            )
    scored = [r.quality is not None or r.segment_vmaf is not None for r in items]
    quality = None
    if any(scored):
        if not all(scored):
            missing = [i for i, s in enumerate(scored) if not s]
            raise ParameterError("renditions", missing, "have no quality while others do: score all or none")
        quality = np.column_stack([_segment_metric(r, metric) for r in items])
    first = items[0]
    durations = first.segment_durations_s
    last_s = float(durations[-1])
    short_tail = durations.size > 1 and last_s < first.segment_s - 1.5 * first.frame_s
    # chunk_s: what a full segment really plays (segment_s, or 2.002 s for 2 s at 29.97 fps);
    # per-shot renditions off the grid: the nominal segment_s.
    full = durations[:-1] if short_tail else durations
    chunk_s = float(np.mean(full)) if first.on_grid else float(first.segment_s)
    dropped = False
    if tail == "drop" and short_tail:
        sizes = sizes[:-1]
        quality = None if quality is None else quality[:-1]
        dropped = True
    kept = durations[:-1] if dropped else durations
    # each segment's own duration where they differ (a tail kept, shots off the grid)
    own_durations = kept.copy() if np.any(np.abs(kept - chunk_s) > 0.5 * first.frame_s) else None
    if quality is not None and np.any(~np.isfinite(quality)):  # checked after the tail is dropped
        k, j = (int(x) for x in np.argwhere(~np.isfinite(quality))[0])
        raise ParameterError(
            f"renditions[{j}]", items[j].label,
            f"segment {k} has no {metric} value (every frame of it was skipped by quality subsampling)",
        )
    source = first.encode.source if first.encode is not None else str(first.path)
    meta = {
        "source": source,
        "codecs": [r.codecs for r in items],
        "target_kbps": [r.target_kbps for r in items],
        "peak_kbps": [r.peak_kbps for r in items],
        "crf": [r.crf for r in items],
        "segment_durations_s": durations.tolist(),
        "last_segment_s": last_s,
        "tail": "dropped" if dropped else ("kept" if short_tail else "none"),
        "quality_metric": metric if quality is not None else None,
        "sizes": what,
        "bitrates": rates_what,
        "measured_kbps": [r.measured_kbps for r in items],
    }
    if first.encode is not None:
        meta["ffmpeg_version"] = first.encode.ffmpeg_version
    if first.quality is not None:
        meta["quality_versions"] = first.quality.versions
    return Video(
        bitrates_bps=rates * 1000.0,
        chunk_s=chunk_s,
        sizes_bytes=sizes,
        quality=quality,
        resolutions=tuple(r.resolution for r in items),
        name=name or Path(source).stem,
        meta=meta,
        durations_s=own_durations,
    )


def _segment_metric(r: Rendition, metric: str) -> np.ndarray:
    if metric == "vmaf" and r.segment_vmaf is not None:
        return np.asarray(r.segment_vmaf, dtype=np.float64)
    if r.quality is None or r.quality.per_segment is None or metric not in r.quality.per_segment.columns:
        raise ParameterError("metric", metric, f"rendition {r.label} has no per-segment {metric!r}")
    return r.quality.per_segment[metric].to_numpy(dtype=np.float64)


# -- bandwidth measures -------------------------------------------------------------------------


def _sizes_durations(sizes_bytes: Any, durations_s: Any) -> tuple[np.ndarray, np.ndarray]:
    sizes = np.asarray(sizes_bytes, dtype=np.float64)
    durations = np.asarray(durations_s, dtype=np.float64)
    if sizes.ndim != 1 or sizes.size == 0 or sizes.shape != durations.shape:
        raise ParameterError(
            "sizes_bytes", f"shape {sizes.shape}", f"must be 1-D, non-empty and match durations_s {durations.shape}",
        )
    if np.any(~np.isfinite(sizes) | (sizes < 0)):
        raise ParameterError("sizes_bytes", sizes.tolist()[:8], "must be finite and >= 0")
    if np.any(~np.isfinite(durations) | (durations <= 0)):
        raise ParameterError("durations_s", durations.tolist()[:8], "must be finite and > 0")
    return sizes, durations


def target_duration_s(durations_s: Any) -> int:
    """HLS target duration: the longest segment rounded up to whole seconds (at least 1).

    A duration within a microsecond above a whole number (a printed ``2.000000``) counts as that
    number.
    """
    durations = np.asarray(durations_s, dtype=np.float64)
    return max(1, math.ceil(float(durations.max()) - 1e-6))


def peak_bitrate_bps(sizes_bytes: Any, durations_s: Any, target_s: float | None = None) -> float:
    """Peak segment bit rate (RFC 8216, section 4.1), in bits per second.

    The largest bit rate of any run of consecutive segments whose total duration lies between
    0.5 and 1.5 times the target duration; a run's bit rate is its total size in bits over its
    total duration. If no run qualifies (a presentation shorter than half the target), the
    whole presentation's average.

    Parameters
    ----------
    sizes_bytes : array of shape (n,)
        Segment sizes in bytes.
    durations_s : array of shape (n,)
        Segment durations in seconds.
    target_s : float, optional
        Target duration in seconds (default :func:`target_duration_s` of the durations).
    """
    sizes, durations = _sizes_durations(sizes_bytes, durations_s)
    target = float(target_duration_s(durations)) if target_s is None else number("target_s", target_s, gt=0)
    lo, hi = 0.5 * target, 1.5 * target
    eps = 1e-9 * target
    bits = np.concatenate(([0.0], np.cumsum(sizes * 8.0)))
    time = np.concatenate(([0.0], np.cumsum(durations)))
    best = -1.0
    for i in range(sizes.size):
        # The run of segments i..j-1 lasts time[j] - time[i]; find the j where that is in range.
        first = int(np.searchsorted(time, time[i] + lo - eps, side="left"))
        last = int(np.searchsorted(time, time[i] + hi + eps, side="right"))
        first = max(first, i + 1)
        if first < last:
            span = time[first:last] - time[i]
            best = max(best, float(np.max((bits[first:last] - bits[i]) / span)))
    if best < 0:
        best = float(bits[-1] / time[-1])
    return best


def dash_bandwidth_bps(sizes_bytes: Any, durations_s: Any, min_buffer_s: float) -> float:
    """The DASH ``@bandwidth`` of a representation (ISO/IEC 23009-1, 5.3.5.2), in bits per second.

    The smallest rate ``B`` such that delivery at ``B`` from the start of any segment, with
    playout beginning ``min_buffer_s`` after the first bit, receives every segment completely
    before its playout starts: ``max over i <= j`` of
    ``8 * sum(size[i..j]) / (min_buffer_s + sum(duration[i..j-1]))``.
    """
    sizes, durations = _sizes_durations(sizes_bytes, durations_s)
    tau = number("min_buffer_s", min_buffer_s, gt=0)
    bits = np.concatenate(([0.0], np.cumsum(sizes * 8.0)))
    time = np.concatenate(([0.0], np.cumsum(durations)))
    best = 0.0
    for i in range(sizes.size):
        need = bits[i + 1:] - bits[i]  # segments i..j, j = i..n-1
        avail = tau + (time[i:-1] - time[i])  # playout start of segment j, from the first bit
        best = max(best, float(np.max(need / avail)))
    return best


# -- codec strings ----------------------------------------------------------------------------


def codecs_string(path: str | os.PathLike[str]) -> str:
    """The RFC 6381 codec string of the first video track of an MP4 (or fMP4 init) file.

    Read from the sample description, so it is exact for the stream encoded:

    * H.264 (``avc1``/``avc3``): ``avc1.PPCCLL`` with profile_idc, the constraint-flag byte and
      level_idc of the ``avcC`` box, two hex digits each (``avc1.64001f``: High, level 3.1);
    * HEVC (``hvc1``/``hev1``): ISO/IEC 14496-15 annex E, e.g. ``hvc1.1.6.L93.B0`` (profile
      space and idc, compatibility flags in reverse bit order, tier and level, constraint bytes
      without trailing zeros);
    * AV1 (``av01``): ``av01.P.LLT.DD`` (profile, seq_level_idx, tier M/H, bit depth);
    * VP9 (``vp09``): ``vp09.PP.LL.DD`` (profile, level, bit depth).

    Raises
    ------
    VideoFormatError
        The file is not an MP4 with one of these sample entries.
    """
    file = Path(path)
    try:
        moov = _read_moov(file)
    except OSError as err:
        raise VideoFormatError(file, f"cannot read: {err}") from err
    if moov is None:
        raise VideoFormatError(file, "no 'moov' box: not an MP4 file (or an fMP4 media segment without its init)")
    for fourcc, config in _sample_entries(moov):
        if fourcc in (b"avc1", b"avc3"):
            return _avc_string(fourcc, config, file)
        if fourcc in (b"hvc1", b"hev1"):
            return _hevc_string(fourcc, config, file)
        if fourcc == b"av01":
            return _av1_string(config, file)
        if fourcc == b"vp09":
            return _vp9_string(config, file)
    raise VideoFormatError(file, "no H.264, HEVC, AV1 or VP9 sample entry found in its 'moov' box")


def _boxes(data: bytes, start: int = 0, end: int | None = None):  # type: ignore[no-untyped-def]
    """(type, payload start, box end) of the boxes in ``data[start:end]``."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _read_moov(file: Path) -> bytes | None:
    """The payload of the top-level 'moov' box, reading only box headers elsewhere."""
    with file.open("rb") as fh:
        total = file.stat().st_size
        pos = 0
        while pos + 8 <= total:
            fh.seek(pos)
            head = fh.read(16)
            if len(head) < 8:
                return None
            size, kind = struct.unpack_from(">I4s", head, 0)
            header = 8
            if size == 1 and len(head) >= 16:
                size = struct.unpack_from(">Q", head, 8)[0]
                header = 16
            elif size == 0:
                size = total - pos
            if size < header:
                return None
            if kind == b"moov":
                fh.seek(pos + header)
                return fh.read(size - header)
            pos += size
    return None


def _sample_entries(moov: bytes):  # type: ignore[no-untyped-def]
    """(four-cc, configuration box payload) of every known video sample entry in a moov payload."""

    def walk(start: int, end: int):  # type: ignore[no-untyped-def]
        for kind, body, stop in _boxes(moov, start, end):
            if kind in _CONTAINER_BOXES[1:]:
                yield from walk(body, stop)
            elif kind == b"stsd":
                # FullBox header (4) + entry_count (4), then the sample entries
                for entry, entry_body, entry_end in _boxes(moov, body + 8, stop):
                    config_kind = _CONFIG_BOX.get(entry)
                    if config_kind is None:
                        continue
                    children = entry_body - 8 + _VISUAL_ENTRY_HEADER
                    for child, child_body, child_end in _boxes(moov, children, entry_end):
                        if child == config_kind:
                            yield entry, moov[child_body:child_end]

    yield from walk(0, len(moov))


def _need(config: bytes, n: int, box: str, file: Path) -> None:
    if len(config) < n:
        raise VideoFormatError(file, f"its {box} box is truncated ({len(config)} bytes, need {n})")


def _avc_string(fourcc: bytes, config: bytes, file: Path) -> str:
    _need(config, 4, "avcC", file)
    return f"{fourcc.decode()}.{config[1]:02x}{config[2]:02x}{config[3]:02x}"


def _hevc_string(fourcc: bytes, config: bytes, file: Path) -> str:
    _need(config, 13, "hvcC", file)
    space = config[1] >> 6
    tier = (config[1] >> 5) & 1
    profile = config[1] & 0x1F
    compat = struct.unpack_from(">I", config, 2)[0]
    reversed_compat = int(f"{compat:032b}"[::-1], 2)
    constraints = list(config[6:12])
    while constraints and constraints[-1] == 0:
        constraints.pop()
    level = config[12]
    parts = [
        fourcc.decode(),
        ("", "A", "B", "C")[space] + str(profile),
        f"{reversed_compat:X}",
        ("H" if tier else "L") + str(level),
        *(f"{b:X}" for b in constraints),
    ]
    return ".".join(parts)


def _av1_string(config: bytes, file: Path) -> str:
    _need(config, 3, "av1C", file)
    profile = config[1] >> 5
    level = config[1] & 0x1F
    tier = config[2] >> 7
    high_bitdepth = (config[2] >> 6) & 1
    twelve_bit = (config[2] >> 5) & 1
    depth = 12 if (high_bitdepth and twelve_bit) else 10 if high_bitdepth else 8
    return f"av01.{profile}.{level:02d}{'H' if tier else 'M'}.{depth:02d}"


def _vp9_string(config: bytes, file: Path) -> str:
    # vpcC is a FullBox (version 1): 4 bytes of version and flags first.
    _need(config, 7, "vpcC", file)
    profile, level = config[4], config[5]
    depth = config[6] >> 4
    return f"vp09.{profile:02d}.{level:02d}.{depth:02d}"


# -- HLS ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaPlaylist:
    """What :func:`read_media_playlist` found in an HLS media playlist.

    Attributes
    ----------
    path : pathlib.Path
        The playlist.
    version : int or None
        ``EXT-X-VERSION``.
    target_duration_s : int
        ``EXT-X-TARGETDURATION``.
    playlist_type : str or None
        ``EXT-X-PLAYLIST-TYPE`` (``VOD``).
    map_uri : str or None
        The ``EXT-X-MAP`` URI (fMP4 initialization section).
    durations_s : float array
        ``EXTINF`` of each segment, in order.
    uris : tuple of str
        Segment URIs, in order.
    endlist : bool
        Whether ``EXT-X-ENDLIST`` is present.
    """

    path: Path
    version: int | None
    target_duration_s: int
    playlist_type: str | None
    map_uri: str | None
    durations_s: np.ndarray
    uris: tuple[str, ...]
    endlist: bool

    def segment_paths(self) -> list[Path]:
        """The segment files, resolved against the playlist's directory."""
        return [self.path.parent / uri for uri in self.uris]


def read_media_playlist(path: str | os.PathLike[str]) -> MediaPlaylist:
    """Parse an HLS media playlist (the tags abrkit writes and checks).

    Raises
    ------
    VideoFormatError
        Not a playlist (no ``#EXTM3U``), a malformed tag (file and line), an ``EXTINF``
        without its URI, or no ``EXT-X-TARGETDURATION``.
    """
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise VideoFormatError(file, f"cannot read the playlist: {err}") from err
    if not lines or lines[0].strip() != "#EXTM3U":
        raise VideoFormatError(file, "not an HLS playlist: the first line is not #EXTM3U", line=1)
    version = target = ptype = map_uri = None
    durations: list[float] = []
    uris: list[str] = []
    pending: float | None = None
    endlist = False
    for number_, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            if line.startswith("#EXT-X-VERSION:"):
                version = int(line.split(":", 1)[1])
            elif line.startswith("#EXT-X-TARGETDURATION:"):
                target = int(line.split(":", 1)[1])
            elif line.startswith("#EXT-X-PLAYLIST-TYPE:"):
                ptype = line.split(":", 1)[1]
            elif line.startswith("#EXT-X-MAP:"):
                found = re.search(r'URI="([^"]*)"', line)
                if found is None:
                    raise ValueError("EXT-X-MAP without URI")
                map_uri = found.group(1)
            elif line.startswith("#EXTINF:"):
                pending = float(line.split(":", 1)[1].split(",", 1)[0])
            elif line == "#EXT-X-ENDLIST":
                endlist = True
            elif not line.startswith("#"):
                if pending is None:
                    raise ValueError(f"URI {line!r} without a preceding #EXTINF")
                durations.append(pending)
                uris.append(line)
                pending = None
        except ValueError as err:
            raise VideoFormatError(file, f"malformed playlist line {line!r}: {err}", line=number_) from None
    if pending is not None:
        raise VideoFormatError(file, "the last #EXTINF has no segment URI")
    if target is None:
        raise VideoFormatError(file, "no #EXT-X-TARGETDURATION")
    return MediaPlaylist(
        path=file, version=version, target_duration_s=target, playlist_type=ptype, map_uri=map_uri,
        durations_s=np.asarray(durations, dtype=np.float64), uris=tuple(uris), endlist=endlist,
    )


def _plain_name(name: object) -> bool:
    """A file name ffmpeg can take as a relative output in the run's directory."""
    return (
        isinstance(name, str) and bool(name) and name not in (".", "..")
        and not any(c in name for c in "/\\:%") and not name.startswith("-")
    )


def _rendition_dir_name(i: int, r: Rendition) -> str:
    return f"v{i}_{r.width}x{r.height}"


def _remove_outputs(directory: Path, patterns: Sequence[str]) -> None:
    """Delete files abrkit writes there (stale segments of an earlier run), nothing else."""
    for pattern in patterns:
        for stale in directory.glob(pattern):
            if stale.is_file():
                stale.unlink()


def _check_segments(
    where: Path, r: Rendition, durations: np.ndarray, what: str,
) -> None:
    """The packaged segments follow the rendition's keyframe-aligned segments and add up."""
    tol = r.frame_s
    if durations.size != r.n_segments or np.any(np.abs(durations - r.segment_durations_s) > 0.5 * tol):
        raise VideoFormatError(
            where,
            f"{what} has {durations.size} segments of {np.round(durations, 4).tolist()} s, but {r.path.name} has "
            f"{r.n_segments} keyframe-aligned segments of {np.round(r.segment_durations_s, 4).tolist()} s: "
            "the packager did not cut on the aligned keyframes",
        )
    total = float(durations.sum())
    if abs(total - r.duration_s) > tol:
        raise VideoFormatError(
            where, f"{what} segment durations add up to {total:.6f} s, the rendition lasts {r.duration_s:.6f} s",
        )


def write_hls(
    renditions: Sequence[Rendition],
    out_dir: str | os.PathLike[str],
    *,
    segment_format: str = "mpegts",
    master_name: str = "master.m3u8",
    ffmpeg: FFmpeg | None = None,
) -> Path:
    """Package renditions as HLS (VOD): media playlists, segments and a master playlist.

    Each rendition is segmented by ffmpeg's HLS muxer with a stream copy (``-c copy``,
    ``-hls_time segment_s``, ``-hls_playlist_type vod``), so the segments hold exactly the
    measured packets and are cut on the aligned keyframes (at every keyframe for per-shot
    renditions off the grid: each segment then has its own ``EXTINF``), into
    ``out_dir/v{i}_{width}x{height}/index.m3u8`` with ``seg_00000.ts`` (or ``init.mp4`` and
    ``seg_00000.m4s`` for fMP4). The master playlist is written by abrkit with, for each
    variant, ``BANDWIDTH`` (peak segment bit rate of the files written, RFC 8216) and
    ``AVERAGE-BANDWIDTH`` (their average; a ``BANDWIDTH`` not above the previous variant's is
    raised to 1 bit/s above it, so the announced rates increase with the ladder),
    ``CODECS``, ``RESOLUTION`` and ``FRAME-RATE``, plus
    ``EXT-X-INDEPENDENT-SEGMENTS`` when every segment starts with a keyframe.

    Checked for every media playlist: the segments match the rendition's segments (count and
    durations, within half a frame), the ``EXTINF`` durations add up to the rendition's
    duration (within one frame), and ``EXT-X-TARGETDURATION`` is at least the longest
    ``EXTINF`` rounded up (raised to it if ffmpeg wrote less).

    Parameters
    ----------
    renditions : sequence of Rendition
        From :func:`encode_renditions`, sharing their segment boundaries; listed in the master
        playlist in this order.
    out_dir : path
        Output directory (created). Files abrkit writes there are replaced; others are left.
    segment_format : str
        ``"mpegts"`` (default; H.264 and HEVC only) or ``"fmp4"`` (any codec; ``EXT-X-MAP``,
        version 7).
    master_name : str
        File name of the master playlist.
    ffmpeg : FFmpeg, optional
        The binary.

    Returns
    -------
    pathlib.Path
        The master playlist.

    Raises
    ------
    ParameterError
        Bad options, renditions that do not share segment boundaries, MPEG-TS for AV1 or VP9.
    VideoFormatError
        A check above failed.
    FFmpegError
        Segmenting failed.
    """
    items = _check_renditions(renditions)
    if segment_format not in SEGMENT_FORMATS:
        raise ParameterError("segment_format", segment_format, f"must be one of {', '.join(SEGMENT_FORMATS)}")
    if segment_format == "mpegts":
        for i, r in enumerate(items):
            if not r.codecs.startswith(("avc1", "avc3", "hvc1", "hev1")):
                raise ParameterError(
                    "segment_format", segment_format,
                    f"renditions[{i}] is {r.codecs}: MPEG-TS segments carry H.264 or HEVC only; use segment_format='fmp4'",
                )
    if not _plain_name(master_name):
        raise ParameterError("master_name", master_name, "must be a plain file name (no directory, no ':')")
    ff = ffmpeg if ffmpeg is not None else find_ffmpeg()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ext = "ts" if segment_format == "mpegts" else "m4s"

    variants = []
    for i, r in enumerate(items):
        sub = out / _rendition_dir_name(i, r)
        sub.mkdir(parents=True, exist_ok=True)
        _remove_outputs(sub, ["index.m3u8", "seg_*.ts", "seg_*.m4s", "init.mp4"])
        args = [
            "-i", file_url(r.path), "-map", "0:V:0", "-c", "copy", *_tag_args(r),
            "-f", "hls", "-hls_time", _cut_every(r), "-hls_playlist_type", "vod", "-hls_list_size", "0",
            "-hls_segment_type", segment_format, "-hls_segment_filename", f"seg_%05d.{ext}",
        ]
        if segment_format == "fmp4":
            args += ["-hls_fmp4_init_filename", "init.mp4"]
        args += ["index.m3u8"]
        ff.run(args, cwd=sub)
        playlist_path = sub / "index.m3u8"
        playlist = read_media_playlist(playlist_path)
        _check_segments(playlist_path, r, playlist.durations_s, "the media playlist")
        target = target_duration_s(playlist.durations_s)
        if playlist.target_duration_s < target:
            _set_target_duration(playlist_path, target)
        else:
            target = playlist.target_duration_s
        sizes = _file_sizes(playlist_path, playlist.segment_paths()).astype(np.float64)
        average = float(sizes.sum() * 8.0 / playlist.durations_s.sum())
        peak = max(peak_bitrate_bps(sizes, playlist.durations_s, target), average)
        codecs = r.codecs
        if playlist.map_uri is not None:
            codecs = _announced_codecs(codecs_string(sub / playlist.map_uri), r)
        variants.append({
            "uri": f"{sub.name}/index.m3u8",
            "bandwidth": math.ceil(peak),
            "average": math.ceil(average),
            "codecs": codecs,
            "resolution": f"{r.width}x{r.height}",
            "frame_rate": f"{float(r.fps):.3f}",
            "version": playlist.version or 3,
        })

    for v, value in zip(variants, _increasing([v["bandwidth"] for v in variants], items)):
        v["bandwidth"] = value
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{max(v['version'] for v in variants)}"]
    if all(r.encode is None or r.encode.keyframe_aligned for r in items):
        lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    for v in variants:
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={v['bandwidth']},AVERAGE-BANDWIDTH={v['average']},"
            f"CODECS=\"{v['codecs']}\",RESOLUTION={v['resolution']},FRAME-RATE={v['frame_rate']}"
        )
        lines.append(v["uri"])
    master = out / master_name
    master.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return master


def _increasing(bandwidths: list[int], items: Sequence[Rendition]) -> list[int]:
    """Announced rates raised where needed so that, in the order of the renditions' average
    rates, each exceeds the one below it (by 1 bit/s where it did not).

    Players order and pick variants by the rate announced. Renditions whose average rates
    increase can still measure the same peak (per-shot rungs that differ only in easy shots
    share their hardest segment), and equal announcements make the order ambiguous. Raising a
    value keeps it valid: HLS ``BANDWIDTH`` and DASH ``@bandwidth`` are upper bounds."""
    out = list(bandwidths)
    below = None
    for i in sorted(range(len(items)), key=lambda i: items[i].measured_kbps):
        if below is not None and out[i] <= below:
            out[i] = below + 1
        below = out[i]
    return out


def _sample_entry(r: Rendition) -> str | None:
    """The fMP4 sample entry to write: 'avc1' and 'hvc1' (Apple's players require the latter;
    named because an MPEG-TS input carries no MP4 tag), except that a rendition changing frame
    size keeps its parameter sets in band ('avc3', 'hev1': with 'avc1'/'hvc1' only the header's
    set would be valid); None for other codecs (ffmpeg's default)."""
    hevc = r.codecs.startswith(("hvc1", "hev1"))
    if not hevc and not r.codecs.startswith(("avc1", "avc3")):
        return None
    if r.switches_size:
        return "hev1" if hevc else "avc3"
    return "hvc1" if hevc else "avc1"


def _tag_args(r: Rendition, stream: str = "v") -> list[str]:
    entry = _sample_entry(r)
    return [f"-tag:{stream}", entry] if entry else []


def _cut_every(r: Rendition) -> str:
    """The segmenters' ``-hls_time`` / ``-seg_duration``: ffmpeg cuts at the first keyframe at or
    after each multiple of it. ``segment_s`` for renditions on the grid; for a per-shot
    rendition (keyframes at every segment start of every shot, nowhere else) a millisecond, so
    that every keyframe starts a segment."""
    return repr(r.segment_s) if r.on_grid else "0.001"


def _announced_codecs(from_init: str, r: Rendition) -> str:
    """``@codecs`` / ``CODECS`` of a packaged rendition: the sample entry written (from its
    initialization segment) and, for a rendition that changes size, the profile and level of
    its most demanding shot (``r.codecs``), not those of the first shot the header holds."""
    if not r.switches_size:
        return from_init
    return from_init.split(".", 1)[0] + "." + r.codecs.split(".", 1)[1] if "." in r.codecs else from_init


def _set_target_duration(playlist: Path, target: int) -> None:
    text = playlist.read_text(encoding="utf-8")
    fixed = re.sub(r"(?m)^#EXT-X-TARGETDURATION:\d+\s*$", f"#EXT-X-TARGETDURATION:{target}", text)
    playlist.write_text(fixed, encoding="utf-8")


# -- DASH ---------------------------------------------------------------------------------------


def _iso_duration(seconds: float) -> str:
    """``PT4.5045S``: seconds to microseconds, trailing zeros dropped."""
    text = f"{seconds:.6f}".rstrip("0").rstrip(".")
    return f"PT{text}S"


def _expand_template(template: str, rep_id: str, number_: int) -> str:
    def number_field(match: re.Match[str]) -> str:
        fmt = match.group(1)
        return (fmt % number_) if fmt else str(number_)

    text = template.replace("$RepresentationID$", rep_id)
    text = re.sub(r"\$Number(%0\d+d)?\$", number_field, text)
    return text.replace("$$", "$")


def _timeline_durations(template: ET.Element, where: Path) -> tuple[np.ndarray, int]:
    """Segment durations (seconds) of a SegmentTemplate with a SegmentTimeline, and its startNumber."""
    timescale = int(template.get("timescale", "1"))
    start_number = int(template.get("startNumber", "1"))
    timeline = template.find(f"{{{_MPD_NS}}}SegmentTimeline")
    if timeline is None:
        raise VideoFormatError(where, "a SegmentTemplate has no SegmentTimeline")
    ticks: list[int] = []
    for s in timeline.findall(f"{{{_MPD_NS}}}S"):
        d = int(s.get("d", "0"))
        ticks += [d] * (int(s.get("r", "0")) + 1)
    return np.asarray(ticks, dtype=np.float64) / timescale, start_number


def write_dash(
    renditions: Sequence[Rendition],
    out_dir: str | os.PathLike[str],
    *,
    manifest_name: str = "manifest.mpd",
    min_buffer_s: float | None = None,
    ffmpeg: FFmpeg | None = None,
) -> Path:
    """Package renditions as DASH (static MPD, ISOBMFF live profile, one video AdaptationSet).

    ffmpeg's DASH muxer copies every rendition's stream (``-c copy``) into fMP4 segments cut on
    the aligned keyframes (``-seg_duration segment_s``; at every keyframe for per-shot
    renditions off the grid, see :attr:`Rendition.on_grid`), with a ``SegmentTemplate`` and a
    ``SegmentTimeline`` (``-use_template 1 -use_timeline 1``) and all renditions in one
    ``AdaptationSet``. abrkit then rewrites, for every ``Representation``, ``@bandwidth``
    (measured on the segment files with :func:`dash_bandwidth_bps` at ``@minBufferTime``, and
    raised to 1 bit/s above the previous Representation's where it is not above it) and
    ``@codecs`` (from its initialization segment), sets ``@minBufferTime`` and marks the
    AdaptationSet ``bitstreamSwitching="false"`` (each rendition has its own initialization
    segment).

    Checked: one Representation per rendition, in order; each timeline has the rendition's
    segments (count and durations within half a frame) adding up to its duration (one frame);
    every segment file exists.

    Parameters
    ----------
    renditions : sequence of Rendition
        Sharing their segment boundaries.
    out_dir : path
        Output directory (created): the manifest, ``init-{i}.m4s`` and ``chunk-{i}-00001.m4s``...
    manifest_name : str
        File name of the MPD.
    min_buffer_s : float, optional
        ``@minBufferTime`` in seconds, the buffer ``@bandwidth`` is computed for (default: the
        longest segment).
    ffmpeg : FFmpeg, optional
        The binary.

    Returns
    -------
    pathlib.Path
        The MPD.
    """
    items = _check_renditions(renditions)
    if not _plain_name(manifest_name):
        raise ParameterError("manifest_name", manifest_name, "must be a plain file name (no directory, no ':')")
    tau = float(items[0].segment_durations_s.max()) if min_buffer_s is None else number("min_buffer_s", min_buffer_s, gt=0)
    ff = ffmpeg if ffmpeg is not None else find_ffmpeg()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_outputs(out, [manifest_name, "init-*.m4s", "chunk-*.m4s"])

    args: list[str] = []
    for r in items:
        args += ["-i", file_url(r.path)]
    for i in range(len(items)):
        args += ["-map", f"{i}:V:0"]
    args += ["-c", "copy"]
    for i, r in enumerate(items):
        args += _tag_args(r, f"v:{i}")
    args += [
        "-f", "dash", "-dash_segment_type", "mp4", "-seg_duration", _cut_every(items[0]),  # renditions share their segments
        "-use_template", "1", "-use_timeline", "1", "-single_file", "0",
        "-adaptation_sets", "id=0,streams=v",
        "-init_seg_name", "init-$RepresentationID$.$ext$",
        "-media_seg_name", "chunk-$RepresentationID$-$Number%05d$.$ext$",
        manifest_name,
    ]
    ff.run(args, cwd=out)

    manifest = out / manifest_name
    for prefix, uri in _XML_NAMESPACES.items():
        ET.register_namespace(prefix, uri)
    try:
        tree = ET.parse(manifest)
    except (OSError, ET.ParseError) as err:
        raise VideoFormatError(manifest, f"ffmpeg wrote an unreadable MPD: {err}") from err
    root = tree.getroot()
    reps = root.findall(f".//{{{_MPD_NS}}}Representation")
    if len(reps) != len(items):
        raise VideoFormatError(manifest, f"has {len(reps)} Representations for {len(items)} renditions")
    for aset in root.iter(f"{{{_MPD_NS}}}AdaptationSet"):
        aset.set("bitstreamSwitching", "false")
        aset.set("maxWidth", str(max(r.width for r in items)))
        aset.set("maxHeight", str(max(r.height for r in items)))
    total_s = longest_s = 0.0
    bandwidths: list[int] = []
    for rep, r in zip(reps, items):
        rep_id = rep.get("id", "")
        template = rep.find(f"{{{_MPD_NS}}}SegmentTemplate")
        if template is None:
            raise VideoFormatError(manifest, f"Representation {rep_id} has no SegmentTemplate")
        durations, start_number = _timeline_durations(template, manifest)
        _check_segments(manifest, r, durations, f"Representation {rep_id}")
        total_s = max(total_s, float(durations.sum()))
        longest_s = max(longest_s, float(durations.max()))
        media = template.get("media", "")
        files = [out / _expand_template(media, rep_id, start_number + k) for k in range(durations.size)]
        sizes = _file_sizes(manifest, files).astype(np.float64)
        bandwidths.append(math.ceil(dash_bandwidth_bps(sizes, durations, tau)))
        init = template.get("initialization")
        if init:
            rep.set("codecs", _announced_codecs(codecs_string(out / _expand_template(init, rep_id, start_number)), r))
        rep.set("width", str(r.width))  # the largest size of a rendition that changes size
        rep.set("height", str(r.height))
    for rep, value in zip(reps, _increasing(bandwidths, items)):
        rep.set("bandwidth", str(value))
    root.set("minBufferTime", _iso_duration(tau))
    # ffmpeg writes these rounded to 0.1 s and from the requested segment duration; use the
    # timeline's exact values.
    root.set("mediaPresentationDuration", _iso_duration(total_s))
    root.set("maxSegmentDuration", _iso_duration(longest_s))
    ET.indent(tree, space="\t")
    tree.write(manifest, encoding="utf-8", xml_declaration=True)
    return manifest


def packaged_segment_sizes(manifest: str | os.PathLike[str]) -> list[np.ndarray]:
    """Sizes in bytes of the media segment files of each variant of a packaged presentation.

    ``manifest`` is an HLS master playlist (``.m3u8``: one array per ``EXT-X-STREAM-INF``, in
    order) or a DASH MPD (``.mpd``: one per ``Representation`` with a ``SegmentTemplate`` and
    ``SegmentTimeline``, in order), as :func:`write_hls` and :func:`write_dash` write them.
    Initialization segments are not included.

    Raises
    ------
    VideoFormatError
        The manifest cannot be read, or a segment it lists is missing.
    """
    file = Path(manifest)
    sizes: list[np.ndarray] = []
    if file.suffix.lower() == ".mpd":
        try:
            root = ET.parse(file).getroot()
        except (OSError, ET.ParseError) as err:
            raise VideoFormatError(file, f"cannot read the MPD: {err}") from err
        for rep in root.iter(f"{{{_MPD_NS}}}Representation"):
            template = rep.find(f"{{{_MPD_NS}}}SegmentTemplate")
            if template is None:
                raise VideoFormatError(file, f"Representation {rep.get('id')} has no SegmentTemplate")
            durations, start = _timeline_durations(template, file)
            paths = [
                file.parent / _expand_template(template.get("media", ""), rep.get("id", ""), start + k)
                for k in range(durations.size)
            ]
            sizes.append(_file_sizes(file, paths))
        return sizes
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise VideoFormatError(file, f"cannot read the playlist: {err}") from err
    for k, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            uri = next((u.strip() for u in lines[k + 1:] if u.strip() and not u.startswith("#")), None)
            if uri is None:
                raise VideoFormatError(file, "an EXT-X-STREAM-INF has no URI", line=k + 1)
            playlist = read_media_playlist(file.parent / uri)
            sizes.append(_file_sizes(playlist.path, playlist.segment_paths()))
    return sizes


def _file_sizes(where: Path, paths: list[Path]) -> np.ndarray:
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise VideoFormatError(where, f"segments listed but not found: {missing[:5]}")
    return np.array([p.stat().st_size for p in paths], dtype=np.int64)
