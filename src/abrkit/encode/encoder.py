"""Encode one point of a ladder search and measure its segments from the encoded packets.

Keyframes are aligned to the segment duration so that each segment starts with a keyframe and
decodes on its own: ffmpeg forces a keyframe on the first frame at or after every multiple of
``segment_s`` (``-force_key_frames expr:gte(t,n_forced*segment_s)``), the encoder's own GOP
length is set to one segment (``fps * segment_s`` frames, rounded up) so it adds none in
between, scene-cut keyframes are off and GOPs are closed (x264 and x265: ``open-gop=0``;
SVT-AV1 and VP9 key frames are closed by construction). Frames pass through one to one
(``-fps_mode passthrough``) after their timestamps are reset to start at zero.

Segment sizes come from the encoded packets, not from the file size: ffmpeg copies the video
stream to its ``framecrc`` muxer, which lists every packet's timestamps, size in bytes and key
flag without decoding anything. Packets are grouped into segments by presentation time.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .._checks import integer, number
from ..errors import ParameterError, VideoFormatError
from .ffmpeg import FFmpeg, file_url, find_ffmpeg, temp_run_dir
from .probe import MediaInfo, probe

__all__ = [
    "Codec",
    "CODECS",
    "SCALERS",
    "EncodeSettings",
    "EncodeResult",
    "Packets",
    "encode",
    "read_packets",
    "segment_index",
    "even_width",
]

_X26X_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo",
)

#: Scaling algorithms of ffmpeg's ``scale`` filter (its ``flags`` option) that abrkit accepts.
SCALERS = (
    "bicubic", "bilinear", "fast_bilinear", "neighbor", "area", "bicublin", "gauss", "sinc", "lanczos", "spline",
)

_KEY_SCHEMA = 1


@dataclass(frozen=True)
class Codec:
    """How abrkit drives one encoder.

    Attributes
    ----------
    name : str
        abrkit's name (``x264``).
    encoder : str
        ffmpeg's encoder (``libx264``).
    crf_range : (float, float)
        Valid CRF values, inclusive.
    crf_integer : bool
        True if the encoder takes only whole CRF values.
    crf_search_range : (float, float)
        The CRF span that usually matters for streaming ladders (from near-transparent to
        visibly degraded), a default for searches.
    qp_range : (int, int) or None
        Valid constant-QP values, or None if abrkit does not offer QP for this encoder.
    presets : tuple of str
        Accepted preset names, slowest to fastest or as the encoder orders them.
    default_preset : str
        Preset used when the settings give none.
    fastest_preset : str
        The quickest preset (for proxies and tests).
    pix_fmts : tuple of str
        Pixel formats abrkit lets this encoder write.
    """

    name: str
    encoder: str
    crf_range: tuple[float, float]
    crf_integer: bool
    crf_search_range: tuple[float, float]
    qp_range: tuple[int, int] | None
    presets: tuple[str, ...]
    default_preset: str
    fastest_preset: str
    pix_fmts: tuple[str, ...]


#: The codecs abrkit can encode with, by abrkit name.
CODECS: dict[str, Codec] = {
    "x264": Codec(
        name="x264", encoder="libx264", crf_range=(0.0, 51.0), crf_integer=False, crf_search_range=(18.0, 42.0),
        qp_range=(0, 51), presets=_X26X_PRESETS, default_preset="medium", fastest_preset="ultrafast",
        pix_fmts=("yuv420p", "yuv420p10le", "yuv422p", "yuv444p"),
    ),
    "x265": Codec(
        name="x265", encoder="libx265", crf_range=(0.0, 51.0), crf_integer=False, crf_search_range=(20.0, 44.0),
        qp_range=(0, 51), presets=_X26X_PRESETS, default_preset="medium", fastest_preset="ultrafast",
        pix_fmts=("yuv420p", "yuv420p10le", "yuv422p", "yuv444p"),
    ),
    "svtav1": Codec(
        name="svtav1", encoder="libsvtav1", crf_range=(1.0, 63.0), crf_integer=True, crf_search_range=(20.0, 60.0),
        qp_range=(1, 63), presets=tuple(str(p) for p in range(0, 14)), default_preset="8", fastest_preset="12",
        pix_fmts=("yuv420p", "yuv420p10le"),
    ),
    "vp9": Codec(
        name="vp9", encoder="libvpx-vp9", crf_range=(0.0, 63.0), crf_integer=True, crf_search_range=(20.0, 60.0),
        qp_range=None, presets=tuple(str(p) for p in range(0, 6)), default_preset="2", fastest_preset="5",
        pix_fmts=("yuv420p", "yuv420p10le", "yuv422p", "yuv444p"),
    ),
}


@dataclass(frozen=True, kw_only=True)
class EncodeSettings:
    """One encode: codec, output size, rate control, preset and segment duration.

    Exactly one rate control: ``crf``, ``qp`` or ``bitrate_kbps``. ``max_bitrate_kbps`` caps the
    rate of a ``crf`` or ``bitrate_kbps`` encode (capped VBR, for final renditions): it sets the
    encoder's VBV/maximum rate with a buffer of one segment (``max_bitrate_kbps * segment_s``
    kbit). Any stretch of ``T`` seconds then carries at most ``cap * (T + segment_s)`` bits: the
    long-run average stays at or under the cap, and a single segment can reach at most twice
    it (in practice the first one, which starts with the buffer full).

    Parameters
    ----------
    codec : str
        A key of :data:`CODECS`: ``x264``, ``x265``, ``svtav1`` or ``vp9``.
    width, height : int
        Output size in pixels; even, and at most the source's (checked by :func:`encode`).
    crf : float, optional
        Constant rate factor, within the codec's ``crf_range`` (whole numbers for SVT-AV1, VP9).
    qp : int, optional
        Constant quantizer (x264, x265, SVT-AV1).
    bitrate_kbps : float, optional
        Target average bitrate in kbit/s (1 kbit = 1000 bits).
    max_bitrate_kbps : float, optional
        Cap in kbit/s for ``crf`` or ``bitrate_kbps`` encodes.
    preset : str, optional
        Encoder speed preset (one of the codec's ``presets``); default: the codec's default.
    segment_s : float
        Segment duration in seconds; keyframes fall on its multiples. Default 2.0.
    pix_fmt : str
        Output pixel format. Default ``yuv420p``.
    scaler : str
        Scaling algorithm used to resize the source (one of :data:`SCALERS`). Default bicubic.
    threads : int, optional
        Encoder threads (None: the encoder decides). Fix it when results must not depend on
        the machine.
    extra : tuple of str
        More ffmpeg output options, appended last (for example ``("-tune", "film")``).
    """

    codec: str = "x264"
    width: int
    height: int
    crf: float | None = None
    qp: int | None = None
    bitrate_kbps: float | None = None
    max_bitrate_kbps: float | None = None
    preset: str | None = None
    segment_s: float = 2.0
    pix_fmt: str = "yuv420p"
    scaler: str = "bicubic"
    threads: int | None = None
    extra: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ParameterError("codec", self.codec, f"must be one of {', '.join(CODECS)}")
        spec = CODECS[self.codec]
        for name in ("width", "height"):
            value = integer(name, getattr(self, name), ge=2)
            if value % 2:
                raise ParameterError(name, value, "must be even (4:2:0 video needs even dimensions)")
            object.__setattr__(self, name, value)

        given = [n for n in ("crf", "qp", "bitrate_kbps") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ParameterError(
                "rate control", given or None, "give exactly one of crf, qp or bitrate_kbps",
            )
        if self.crf is not None:
            lo, hi = spec.crf_range
            crf = number("crf", self.crf, ge=lo, le=hi)
            if spec.crf_integer and crf != int(crf):
                raise ParameterError("crf", self.crf, f"must be a whole number for {self.codec}")
            object.__setattr__(self, "crf", crf)
        if self.qp is not None:
            if spec.qp_range is None:
                raise ParameterError("qp", self.qp, f"constant QP is not offered for {self.codec}; use crf")
            qp = integer("qp", self.qp, ge=spec.qp_range[0])
            if qp > spec.qp_range[1]:
                raise ParameterError("qp", qp, f"must be an integer in [{spec.qp_range[0]}, {spec.qp_range[1]}]")
            object.__setattr__(self, "qp", qp)
        if self.bitrate_kbps is not None:
            object.__setattr__(self, "bitrate_kbps", number("bitrate_kbps", self.bitrate_kbps, gt=0))
        if self.max_bitrate_kbps is not None:
            cap = number("max_bitrate_kbps", self.max_bitrate_kbps, gt=0)
            if self.qp is not None:
                raise ParameterError("max_bitrate_kbps", cap, "cannot cap a constant-QP encode; use crf or bitrate_kbps")
            if self.bitrate_kbps is not None and cap < self.bitrate_kbps:
                raise ParameterError(
                    "max_bitrate_kbps", cap, f"must be >= bitrate_kbps ({self.bitrate_kbps:g})",
                )
            object.__setattr__(self, "max_bitrate_kbps", cap)
        if self.preset is not None and str(self.preset) not in spec.presets:
            raise ParameterError("preset", self.preset, f"must be one of {', '.join(spec.presets)} for {self.codec}")
        if self.preset is not None:
            object.__setattr__(self, "preset", str(self.preset))
        object.__setattr__(self, "segment_s", number("segment_s", self.segment_s, gt=0))
        if self.pix_fmt not in spec.pix_fmts:
            raise ParameterError("pix_fmt", self.pix_fmt, f"must be one of {', '.join(spec.pix_fmts)} for {self.codec}")
        if self.scaler not in SCALERS:
            raise ParameterError("scaler", self.scaler, f"must be one of {', '.join(SCALERS)}")
        if self.threads is not None:
            object.__setattr__(self, "threads", integer("threads", self.threads, ge=1))
        if isinstance(self.extra, (str, bytes)) or not all(isinstance(x, str) for x in self.extra):
            raise ParameterError("extra", self.extra, "must be a sequence of str (ffmpeg arguments)")
        object.__setattr__(self, "extra", tuple(self.extra))

    @property
    def codec_spec(self) -> Codec:
        """The :class:`Codec` entry of ``codec``."""
        return CODECS[self.codec]

    @property
    def resolved_preset(self) -> str:
        """``preset``, or the codec's default when none was given."""
        return self.preset if self.preset is not None else self.codec_spec.default_preset

    @property
    def rate_control(self) -> str:
        """``crf``, ``qp`` or ``abr`` (target bitrate), with ``+cap`` when capped."""
        base = "crf" if self.crf is not None else "qp" if self.qp is not None else "abr"
        return base + ("+cap" if self.max_bitrate_kbps is not None else "")

    def key(self) -> dict[str, Any]:
        """A stable, JSON-ready description of everything that changes the encoded bits.

        Two settings with the same key produce the same encode from the same source with the
        same ffmpeg; use it (with the source's content hash and the ffmpeg version) as a cache key.
        """
        return {
            "schema": _KEY_SCHEMA,
            "codec": self.codec,
            "encoder": self.codec_spec.encoder,
            "width": self.width,
            "height": self.height,
            "crf": self.crf,
            "qp": self.qp,
            "bitrate_kbps": self.bitrate_kbps,
            "max_bitrate_kbps": self.max_bitrate_kbps,
            "preset": self.resolved_preset,
            "segment_s": self.segment_s,
            "pix_fmt": self.pix_fmt,
            "scaler": self.scaler,
            "threads": self.threads,
            "extra": list(self.extra),
        }

    def digest(self) -> str:
        """SHA-256 (hex, first 16 characters) of :meth:`key`; handy in file names."""
        text = json.dumps(self.key(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def label(self) -> str:
        """A short human-readable name: ``x264_640x360_crf28_medium``."""
        if self.crf is not None:
            rc = f"crf{self.crf:g}"
        elif self.qp is not None:
            rc = f"qp{self.qp}"
        else:
            rc = f"{self.bitrate_kbps:g}k"
        if self.max_bitrate_kbps is not None:
            rc += f"_max{self.max_bitrate_kbps:g}k"
        return f"{self.codec}_{self.width}x{self.height}_{rc}_{self.resolved_preset}"


def even_width(source_width: int, source_height: int, height: int) -> int:
    """The even width that keeps the source's aspect ratio at ``height`` pixels (at least 2)."""
    w = integer("source_width", source_width, ge=1)
    h = integer("source_height", source_height, ge=1)
    target = integer("height", height, ge=2)
    return max(2, int(round(w * target / h / 2.0)) * 2)


# -- packets and segments ---------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Packets:
    """The packets of one video stream, in presentation order.

    Attributes
    ----------
    pts : int64 array
        Presentation timestamps in units of ``time_base``.
    size_bytes : int64 array
        Packet sizes in bytes (the compressed frame as stored in the file).
    key : bool array
        Keyframe flags.
    time_base : fractions.Fraction
        Seconds per timestamp unit.
    """

    pts: np.ndarray
    size_bytes: np.ndarray
    key: np.ndarray
    time_base: Fraction

    def __len__(self) -> int:
        return int(self.pts.size)

    @property
    def times_s(self) -> np.ndarray:
        """Presentation times in seconds, relative to the first frame."""
        if not len(self):
            return np.zeros(0)
        return (self.pts - self.pts.min()).astype(np.float64) * float(self.time_base)


def read_packets(path: str | os.PathLike[str], ffmpeg: FFmpeg | None = None, *, bsf: str | None = None) -> Packets:
    """List the packets of the first video stream of ``path`` without decoding it.

    Uses ffmpeg's ``framecrc`` muxer on a stream copy, which writes one line per packet:
    stream, dts, pts, duration, size and checksum, plus ``F=0x..`` when the flags are not just
    "key". ``bsf``: a bitstream filter applied first (e.g. ``filter_units=remove_types=9`` to
    leave out H.264 access unit delimiters). Raises :class:`VideoFormatError` if the list cannot
    be read.
    """
    ff = ffmpeg if ffmpeg is not None else find_ffmpeg()
    with temp_run_dir() as tmp:
        listing = tmp / "packets.framecrc"
        filters = ["-bsf:v", bsf] if bsf else []
        ff.run(["-i", file_url(path), "-map", "0:V:0", "-c", "copy", *filters, "-f", "framecrc", file_url(listing)],
               cwd=tmp)
        text = listing.read_text(encoding="utf-8", errors="replace")
    return _parse_framecrc(text, path)


def _parse_framecrc(text: str, path: str | os.PathLike[str]) -> Packets:
    time_base = None
    pts, sizes, keys = [], [], []
    for number_, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#tb 0:"):
            time_base = Fraction(line.split(":", 1)[1].strip())
            continue
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 6 or fields[0] != "0":
            continue
        try:
            p, size = int(fields[2]), int(fields[4])
        except ValueError:
            raise VideoFormatError(path, f"packet list line {number_} has no usable timestamp/size: {line!r}") from None
        flags = 1  # framecrc omits F= when the flags are exactly "key"
        for extra in fields[6:]:
            if extra.startswith("F=0x"):
                flags = int(extra[4:], 16)
        pts.append(p)
        sizes.append(size)
        keys.append(bool(flags & 1))
    if time_base is None or not pts:
        raise VideoFormatError(path, "no video packets found")
    order = np.argsort(np.asarray(pts, dtype=np.int64), kind="stable")
    return Packets(
        pts=np.asarray(pts, dtype=np.int64)[order],
        size_bytes=np.asarray(sizes, dtype=np.int64)[order],
        key=np.asarray(keys, dtype=bool)[order],
        time_base=time_base,
    )


def segment_index(times_s: np.ndarray, segment_s: float, frame_s: float) -> np.ndarray:
    """Segment number of each frame given its presentation time (seconds from the first frame).

    Frame ``i`` belongs to segment ``floor((t_i + frame_s / 4) / segment_s)``: a frame at or
    after a boundary starts the next segment, as with ``-force_key_frames
    expr:gte(t,n_forced*segment_s)``, and the quarter-frame margin absorbs the rounding of
    container time bases. For frames at ``i / fps`` use ``times_s = np.arange(n) / fps``.
    """
    t = np.asarray(times_s, dtype=np.float64)
    return np.floor((t + float(frame_s) / 4.0) / float(segment_s)).astype(np.int64)


# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class EncodeResult:
    """One encode and what was measured on it.

    Attributes
    ----------
    path : pathlib.Path
        The encoded file.
    settings : EncodeSettings
        The settings used.
    source : str
        The source file.
    n_frames : int
        Number of encoded video packets (one per frame).
    fps : fractions.Fraction
        Frame rate (the source's).
    duration_s : float
        ``n_frames / fps``, seconds.
    size_bytes : int
        Size of the output file (container included).
    payload_bytes : int
        Sum of the video packet sizes: the bytes a player downloads, minus container overhead.
    bitrate_kbps : float
        ``payload_bytes * 8 / duration_s / 1000``: average video bitrate in kbit/s.
    segment_s : float
        Segment duration in seconds.
    segment_sizes_bytes : int64 array, shape (n_segments,)
        Video payload of each segment in bytes (the last segment may be shorter in time).
    segment_durations_s : float array, shape (n_segments,)
        Duration of each segment in seconds.
    keyframe_times_s : float array
        Presentation times of the keyframes in seconds from the first frame.
    segment_start_is_key : bool array, shape (n_segments,)
        Whether each segment's first frame (in presentation order) is a keyframe.
    elapsed_s : float
        Wall time of the encode and measurement.
    ffmpeg_version : str
        Version of the ffmpeg used.
    """

    path: Path
    settings: EncodeSettings
    source: str
    n_frames: int
    fps: Fraction
    duration_s: float
    size_bytes: int
    payload_bytes: int
    bitrate_kbps: float
    segment_s: float
    segment_sizes_bytes: np.ndarray
    segment_durations_s: np.ndarray
    keyframe_times_s: np.ndarray
    segment_start_is_key: np.ndarray
    elapsed_s: float
    ffmpeg_version: str
    meta: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n_segments(self) -> int:
        """Number of segments."""
        return int(self.segment_sizes_bytes.size)

    @property
    def segment_bitrates_kbps(self) -> np.ndarray:
        """Bitrate of each segment in kbit/s (payload bits over its duration)."""
        return self.segment_sizes_bytes * 8.0 / self.segment_durations_s / 1000.0

    @property
    def peak_bitrate_kbps(self) -> float:
        """Highest segment bitrate in kbit/s (what HLS calls BANDWIDTH, over full segments)."""
        rates = self.segment_bitrates_kbps
        full = self.segment_durations_s >= self.segment_s - 0.5 / float(self.fps)
        return float(rates[full].max() if np.any(full) else rates.max())

    @property
    def keyframe_aligned(self) -> bool:
        """True if every segment starts with a keyframe (so each decodes independently)."""
        return bool(np.all(self.segment_start_is_key))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (arrays as lists; ``fps`` as ``"num/den"``)."""
        return {
            "path": str(self.path),
            "settings": self.settings.key(),
            "source": self.source,
            "n_frames": self.n_frames,
            "fps": f"{self.fps.numerator}/{self.fps.denominator}",
            "duration_s": self.duration_s,
            "size_bytes": self.size_bytes,
            "payload_bytes": self.payload_bytes,
            "bitrate_kbps": self.bitrate_kbps,
            "segment_s": self.segment_s,
            "segment_sizes_bytes": self.segment_sizes_bytes.tolist(),
            "segment_durations_s": self.segment_durations_s.tolist(),
            "keyframe_times_s": self.keyframe_times_s.tolist(),
            "segment_start_is_key": self.segment_start_is_key.tolist(),
            "elapsed_s": self.elapsed_s,
            "ffmpeg_version": self.ffmpeg_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EncodeResult":
        """Rebuild a result written by :meth:`to_dict`."""
        key = dict(data["settings"])
        settings = EncodeSettings(
            codec=key["codec"], width=key["width"], height=key["height"], crf=key["crf"], qp=key["qp"],
            bitrate_kbps=key["bitrate_kbps"], max_bitrate_kbps=key["max_bitrate_kbps"], preset=key["preset"],
            segment_s=key["segment_s"], pix_fmt=key["pix_fmt"], scaler=key["scaler"], threads=key["threads"],
            extra=tuple(key["extra"]),
        )
        return cls(
            path=Path(data["path"]), settings=settings, source=data["source"], n_frames=int(data["n_frames"]),
            fps=Fraction(data["fps"]), duration_s=float(data["duration_s"]), size_bytes=int(data["size_bytes"]),
            payload_bytes=int(data["payload_bytes"]), bitrate_kbps=float(data["bitrate_kbps"]),
            segment_s=float(data["segment_s"]),
            segment_sizes_bytes=np.asarray(data["segment_sizes_bytes"], dtype=np.int64),
            segment_durations_s=np.asarray(data["segment_durations_s"], dtype=np.float64),
            keyframe_times_s=np.asarray(data["keyframe_times_s"], dtype=np.float64),
            segment_start_is_key=np.asarray(data["segment_start_is_key"], dtype=bool),
            elapsed_s=float(data["elapsed_s"]), ffmpeg_version=data["ffmpeg_version"],
        )


# -- encoding ---------------------------------------------------------------------------------


def encode(
    source: str | os.PathLike[str],
    settings: EncodeSettings,
    out_path: str | os.PathLike[str],
    *,
    ffmpeg: FFmpeg | None = None,
    progress: Callable[[float], None] | None = None,
    source_info: MediaInfo | None = None,
    timeout_s: float | None = None,
) -> EncodeResult:
    """Encode the first video stream of ``source`` with ``settings`` into ``out_path``.

    Audio, subtitles and metadata are dropped. The container follows ``out_path``'s extension
    (``.mp4`` works for every codec here). An existing file is overwritten.

    Parameters
    ----------
    source : path
        The source video.
    settings : EncodeSettings
        What to encode.
    out_path : path
        Output file; its directory is created if needed.
    ffmpeg : FFmpeg, optional
        Binary to use (default :func:`~abrkit.encode.ffmpeg.find_ffmpeg`).
    progress : callable, optional
        Called with the fraction done (0..1).
    source_info : MediaInfo, optional
        The source's :func:`~abrkit.encode.probe.probe` result, to skip probing it again.
    timeout_s : float, optional
        Kill the encode after this many seconds.

    Raises
    ------
    ParameterError
        The requested size is larger than the source's.
    ToolNotFoundError
        ffmpeg lacks the encoder.
    VideoFormatError
        The source is missing, not a video or corrupt.
    FFmpegError
        The encode failed.
    """
    if not isinstance(settings, EncodeSettings):
        raise ParameterError("settings", settings, "must be an EncodeSettings")
    ff = ffmpeg if ffmpeg is not None else find_ffmpeg()
    ff.require_encoder(settings.codec_spec.encoder)
    info = source_info if source_info is not None else probe(source, ff)
    check_fits_source(settings, info)
    out = _output_path(out_path, source)

    start = time.perf_counter()
    with temp_run_dir() as tmp:
        ff.run(
            ["-i", file_url(source), *encode_output_args(settings, info), "-y", file_url(out)],
            cwd=tmp, progress=progress, total_s=info.duration_s, timeout_s=timeout_s,
        )
    return measure_encode(out, settings, info, ff, elapsed_s=time.perf_counter() - start)


def _output_path(out_path: str | os.PathLike[str], source: str | os.PathLike[str]) -> Path:
    """``out_path`` as a Path with its directory created; never the source itself."""
    out = Path(out_path)
    if out.resolve() == Path(source).resolve():
        raise ParameterError("out_path", str(out_path), "must differ from the source (it would be overwritten)")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def check_fits_source(settings: EncodeSettings, info: MediaInfo) -> None:
    """Raise :class:`ParameterError` if ``settings`` asks for more pixels than the source has."""
    if settings.width > info.width or settings.height > info.height:
        raise ParameterError(
            "resolution", f"{settings.width}x{settings.height}",
            f"must not exceed the source's {info.width}x{info.height} ({info.path}): upscaling adds no detail",
        )


def encode_output_args(settings: EncodeSettings, info: MediaInfo, input_label: str = "0:V:0") -> list[str]:
    """ffmpeg arguments that take the source's video and encode it with ``settings``.

    Everything after the input: the scaling filtergraph, keyframe placement, rate control,
    preset and ``settings.extra``; the caller adds the output file.
    """
    spec = settings.codec_spec
    keyint = max(1, math.ceil(float(info.fps) * settings.segment_s - 1e-9))
    graph = (
        f"[{input_label}]setpts=PTS-STARTPTS,"
        f"scale={settings.width}:{settings.height}:flags={settings.scaler},setsar=1,"
        f"format={settings.pix_fmt}[encode_in]"
    )
    args = [
        "-filter_complex", graph, "-map", "[encode_in]", "-fps_mode", "passthrough",
        "-an", "-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1",
        "-c:v", spec.encoder,
        "-force_key_frames", f"expr:gte(t,n_forced*{settings.segment_s!r})",
    ]
    preset = settings.resolved_preset
    if settings.codec == "x264":
        args += ["-preset", preset, "-g", str(keyint), "-sc_threshold", "0", "-forced-idr", "1",
                 "-x264-params", "open-gop=0"]
    elif settings.codec == "x265":
        args += ["-preset", preset, "-forced-idr", "1",
                 "-x265-params", f"keyint={keyint}:min-keyint=1:scenecut=0:open-gop=0:log-level=error"]
    elif settings.codec == "svtav1":
        args += ["-preset", preset, "-g", str(keyint), "-svtav1-params", "scd=0"]
    elif settings.codec == "vp9":
        args += ["-deadline", "good", "-cpu-used", preset, "-g", str(keyint), "-row-mt", "1"]

    args += _rate_control_args(settings)
    if settings.threads is not None:
        args += ["-threads", str(settings.threads)]
    args += list(settings.extra)
    return args


def _rate_control_args(settings: EncodeSettings) -> list[str]:
    args: list[str] = []
    cap = settings.max_bitrate_kbps
    if settings.crf is not None:
        crf = settings.crf
        args += ["-crf", str(int(crf)) if settings.codec_spec.crf_integer else f"{crf:g}"]
        if settings.codec == "vp9":
            # Constant quality needs -b:v 0; with a cap, -b:v is the cap (constrained quality).
            args += ["-b:v", "0" if cap is None else f"{round(cap * 1000)}"]
    elif settings.qp is not None:
        args += ["-qp", str(settings.qp)]
    else:
        args += ["-b:v", f"{round(settings.bitrate_kbps * 1000)}"]  # type: ignore[operator]
    if cap is not None:
        args += ["-maxrate", f"{round(cap * 1000)}", "-bufsize", f"{round(cap * 1000 * settings.segment_s)}"]
    return args


def measure_encode(
    out: Path, settings: EncodeSettings, info: MediaInfo, ff: FFmpeg, *, elapsed_s: float = 0.0,
) -> EncodeResult:
    """Measure an encoded file: packet sizes grouped into segments, keyframes, bitrate."""
    start = time.perf_counter()
    packets = read_packets(out, ff)
    times = packets.times_s
    frame_s = float(1 / info.fps)
    seg = segment_index(times, settings.segment_s, frame_s)
    n_segments = int(seg.max()) + 1
    sizes = np.bincount(seg, weights=packets.size_bytes, minlength=n_segments).astype(np.int64)
    n_frames = len(packets)
    duration_s = float(n_frames * frame_s)
    bounds = np.minimum(np.arange(n_segments + 1) * settings.segment_s, duration_s)
    durations = np.diff(bounds)
    # The first frame of each segment in presentation order (packets are sorted by pts).
    first = np.searchsorted(seg, np.arange(n_segments), side="left")
    present = first < n_frames
    start_is_key = np.zeros(n_segments, dtype=bool)
    start_is_key[present] = packets.key[first[present]] & (seg[first[present]] == np.arange(n_segments)[present])
    payload = int(packets.size_bytes.sum())
    return EncodeResult(
        path=out,
        settings=settings,
        source=info.path,
        n_frames=n_frames,
        fps=info.fps,
        duration_s=duration_s,
        size_bytes=out.stat().st_size,
        payload_bytes=payload,
        bitrate_kbps=payload * 8.0 / duration_s / 1000.0,
        segment_s=settings.segment_s,
        segment_sizes_bytes=sizes,
        segment_durations_s=durations,
        keyframe_times_s=times[packets.key],
        segment_start_is_key=start_is_key,
        elapsed_s=elapsed_s + (time.perf_counter() - start),
        ffmpeg_version=ff.version,
    )
