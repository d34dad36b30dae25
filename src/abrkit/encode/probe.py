"""Probe a video file with ffmpeg alone (the imageio-ffmpeg wheel has no ffprobe).

One ffmpeg run decodes the first video stream to the null muxer and reads everything from it:

* the input header ffmpeg prints (codec, container duration and bitrate, stream list);
* a ``showinfo`` filter on a branch that keeps only the first frame: the exact frame rate as a
  fraction (``config in ... frame_rate: 30000/1001``), the decoded size and pixel format;
* the final ``-progress`` report: the number of frames decoded, which is the exact frame count.

``-xerror`` stops at the first decoding error, so a damaged stream fails instead of yielding a
short count; a container that ends early ("File ended prematurely") is reported as corrupt too.
Only the first video stream that is not cover art (ffmpeg's ``V`` stream specifier) counts.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..errors import FFmpegError, VideoFormatError
from .ffmpeg import FFmpeg, file_url, find_ffmpeg, progress_fields

__all__ = ["MediaInfo", "probe", "bit_depth_of"]

# stderr lines that mean the file is damaged even when ffmpeg exits with 0.
_CORRUPT_MARKERS = ("File ended prematurely", "partial file", "corrupt input packet", "Invalid NAL unit size")


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` found about the first video stream of a file.

    Attributes
    ----------
    path : str
        The file probed.
    width, height : int
        Decoded frame size in pixels.
    fps : fractions.Fraction
        Frame rate in frames per second, exact (``Fraction(30000, 1001)`` for 29.97).
    n_frames : int
        Number of frames, counted by decoding the whole stream.
    duration_s : float
        ``n_frames / fps`` in seconds: how long the frames play.
    pix_fmt : str
        Decoded pixel format (``yuv420p``, ``yuv420p10le``, ...).
    bit_depth : int
        Bits per sample of ``pix_fmt``.
    codec : str
        Codec name as ffmpeg prints it (``h264``, ``hevc``, ``av1``, ``vp9``, ...).
    container_duration_s : float or None
        Duration in the container header, in seconds (None if the header has none).
    container_bitrate_kbps : float or None
        Overall bitrate in the container header (all streams), in kbit/s.
    size_bytes : int
        File size in bytes.
    """

    path: str
    width: int
    height: int
    fps: Fraction
    n_frames: int
    duration_s: float
    pix_fmt: str
    bit_depth: int
    codec: str
    container_duration_s: float | None
    container_bitrate_kbps: float | None
    size_bytes: int

    @property
    def frame_s(self) -> float:
        """Duration of one frame in seconds."""
        return float(1 / self.fps)

    @property
    def resolution(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return (self.width, self.height)


def probe(path: str | os.PathLike[str], ffmpeg: FFmpeg | None = None) -> MediaInfo:
    """Probe the first video stream of ``path``, decoding it once to count its frames.

    Parameters
    ----------
    path : str or path
        A video file.
    ffmpeg : FFmpeg, optional
        The binary to use (default: :func:`~abrkit.encode.ffmpeg.find_ffmpeg`).

    Raises
    ------
    VideoFormatError
        The file is missing, is not a video (text, audio only, unknown format), or its video
        stream is corrupt or truncated. The message names the file.
    ToolNotFoundError
        No working ffmpeg.
    """
    file = Path(path)
    if not file.exists():
        raise VideoFormatError(file, "file not found")
    if file.is_dir():
        raise VideoFormatError(file, "is a directory, not a video file")
    ff = ffmpeg if ffmpeg is not None else find_ffmpeg()
    size_bytes = file.stat().st_size
    if size_bytes == 0:
        raise VideoFormatError(file, "is empty (0 bytes), not a video")

    args = [
        "-xerror", "-i", file_url(file),
        "-filter_complex", "[0:V:0]split=2[probe_first][probe_all];[probe_first]trim=end_frame=1,showinfo,nullsink",
        "-map", "[probe_all]", "-fps_mode", "passthrough", "-f", "null", "-",
    ]
    try:
        done = ff.run(args)
    except FFmpegError as err:
        raise VideoFormatError(file, _explain_failure(err.stderr)) from err
    stderr = done.stderr

    for marker in _CORRUPT_MARKERS:
        if marker in stderr:
            raise VideoFormatError(file, f"corrupt or truncated video stream (ffmpeg: {_line_with(stderr, marker)})")

    header = _input_header(stderr)
    stream = _first_video_stream(header)
    if stream is None:
        raise VideoFormatError(file, "has no video stream")
    codec = stream.split("Video:", 1)[1].strip().split()[0].rstrip(",")

    frames = progress_fields(done.stdout).get("frame", "")
    n_frames = int(frames) if frames.isdigit() else 0
    if n_frames == 0:
        raise VideoFormatError(file, "no video frame could be decoded (corrupt or empty video stream)")

    shown = re.search(r"\bfmt:(\S+).*?\bs:(\d+)x(\d+)", stderr)
    if shown is None:
        raise VideoFormatError(file, "could not read the first decoded frame's format from ffmpeg's output")
    pix_fmt, width, height = shown.group(1), int(shown.group(2)), int(shown.group(3))

    fps = _frame_rate(stderr, stream)
    if fps is None:
        raise VideoFormatError(file, "has no usable frame rate (ffmpeg reports none for its video stream)")

    return MediaInfo(
        path=str(file),
        width=width,
        height=height,
        fps=fps,
        n_frames=n_frames,
        duration_s=float(n_frames / fps),
        pix_fmt=pix_fmt,
        bit_depth=bit_depth_of(pix_fmt),
        codec=codec,
        container_duration_s=_container_duration_s(header),
        container_bitrate_kbps=_container_bitrate_kbps(header),
        size_bytes=size_bytes,
    )


def bit_depth_of(pix_fmt: str) -> int:
    """Bits per sample of an ffmpeg pixel format name (``yuv420p`` -> 8, ``yuv420p10le`` -> 10)."""
    name = pix_fmt.strip().lower()
    match = re.search(r"p(\d+)(le|be)$", name)  # yuv420p10le, gbrp12be, ...
    if match is None:
        match = re.match(r"^p0?(\d+)(le|be)$", name)  # p010le, p016le
    if match is not None:
        return int(match.group(1))
    if re.match(r"^(rgb|bgr)(48|a64)|^(rgba|bgra)64|^gray16|^ya16", name):
        return 16
    match = re.match(r"^gray(\d+)(le|be)$", name)
    if match is not None:
        return int(match.group(1))
    return 8


# -- parsing ffmpeg's log ---------------------------------------------------------------------


def _input_header(stderr: str) -> str:
    """The ``Input #0`` block of the log, up to the output or stream-mapping section."""
    start = stderr.find("Input #0")
    if start < 0:
        return ""
    end = len(stderr)
    for mark in ("Stream mapping:", "Output #0", "\n[out#"):
        pos = stderr.find(mark, start)
        if pos >= 0:
            end = min(end, pos)
    return stderr[start:end]


def _first_video_stream(header: str) -> str | None:
    for line in header.splitlines():
        stripped = line.strip()
        if stripped.startswith("Stream #") and "Video:" in stripped and "(attached pic)" not in stripped:
            return stripped
    return None


def _frame_rate(stderr: str, stream: str) -> Fraction | None:
    match = re.search(r"config in time_base: \d+/\d+, frame_rate: (\d+)/(\d+)", stderr)
    if match is not None and int(match.group(1)) > 0 and int(match.group(2)) > 0:
        return Fraction(int(match.group(1)), int(match.group(2)))
    # Fall back on the rounded rate of the stream line ("29.97 fps", "25 tbr").
    for unit in ("fps", "tbr"):
        found = re.search(r"([\d.]+)(k?) " + unit + r"\b", stream)
        if found is not None:
            value = float(found.group(1)) * (1000 if found.group(2) else 1)
            if value > 0:
                return _snap_rate(value)
    return None


def _snap_rate(value: float) -> Fraction:
    """A printed, rounded rate as a fraction: NTSC rates (N*1000/1001) are recognised."""
    for base in (24, 30, 48, 60, 120, 240):
        ntsc = Fraction(base * 1000, 1001)
        if abs(float(ntsc) - value) < 0.006:
            return ntsc
    return Fraction(value).limit_denominator(1001)


def _container_duration_s(header: str) -> float | None:
    match = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", header)
    if match is None:
        return None
    hours, minutes, seconds = int(match.group(1)), int(match.group(2)), float(match.group(3))
    total = hours * 3600 + minutes * 60 + seconds
    return total if math.isfinite(total) else None


def _container_bitrate_kbps(header: str) -> float | None:
    match = re.search(r"bitrate: (\d+(?:\.\d+)?) kb/s", header)
    return float(match.group(1)) if match is not None else None


def _line_with(text: str, marker: str) -> str:
    for line in text.splitlines():
        if marker in line:
            return line.strip()
    return marker


def _explain_failure(stderr: str) -> str:
    """A short reason from the stderr of a failed probe run."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    if "No such file or directory" in stderr:
        return "file not found"
    if "Permission denied" in stderr:
        return "permission denied"
    if "moov atom not found" in stderr:
        return "not a readable video: the MP4 index (moov atom) is missing, the file is probably truncated"
    header = _input_header(stderr)
    if not header:
        return "not a video, or a format ffmpeg cannot read (" + (lines[-1] if lines else "no output") + ")"
    if _first_video_stream(header) is None:
        return "has no video stream"
    # The header was read, so the damage is in the stream itself: quote the first error.
    after = stderr[stderr.find("Input #0"):]
    for marker in _CORRUPT_MARKERS + ("error while decoding", "Error submitting packet", "Invalid data found"):
        if marker in after:
            return f"corrupt or truncated video stream (ffmpeg: {_line_with(after, marker)})"
    return "corrupt or undecodable video stream (ffmpeg: " + (lines[-1] if lines else "no output") + ")"
