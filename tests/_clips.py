"""Tiny test clips made with ffmpeg's own sources, plus the cut camera clip.

Every clip is a few seconds at 320x180 or so, so each encode or score takes a fraction of a
second. Test modules wrap these functions in session-scoped fixtures.
"""

from __future__ import annotations

import struct
from pathlib import Path

from abrkit.encode.ffmpeg import FFmpeg, file_url

#: ``<repo>/../shared/data/clips/cockatoo_720p.mp4`` (1280x720, 20 fps, 280 frames).
CAMERA_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips" / "cockatoo_720p.mp4"


def lavfi_clip(
    ff: FFmpeg, out: Path, *, source: str = "testsrc2", size: str = "320x180", fps: int | str = 20, duration_s: float = 3.0,
) -> Path:
    """A near-lossless x264 clip (qp 0, 4:2:0) of a lavfi source: the reference for tests."""
    ff.run([
        "-f", "lavfi", "-i", f"{source}=size={size}:rate={fps}", "-t", str(duration_s),
        "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", "-y", file_url(out),
    ])
    return out


def degraded_copy(ff: FFmpeg, source: Path, out: Path, *, crf: int = 45, size: str | None = None) -> Path:
    """A badly compressed (and optionally downscaled) copy of ``source`` with the same frames."""
    vf = ["-vf", f"scale={size.replace('x', ':')}:flags=bicubic"] if size else []
    ff.run([
        "-i", file_url(source), *vf, "-fps_mode", "passthrough",
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", str(crf), "-y", file_url(out),
    ])
    return out


def cut_camera_clip(ff: FFmpeg, out: Path, *, seconds: float = 2.0, size: str = "640x360") -> Path:
    """The first ``seconds`` of the camera clip, downscaled, near-lossless."""
    ff.run([
        "-i", file_url(CAMERA_CLIP), "-t", str(seconds), "-vf", f"scale={size.replace('x', ':')}:flags=bicubic",
        "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", "-an", "-y", file_url(out),
    ])
    return out


def mp4_boxes(path: Path) -> list[tuple[str, int, int]]:
    """Top-level MP4 boxes as (type, size in bytes, header size in bytes)."""
    data = path.read_bytes()
    boxes = []
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
            header = 16
        elif size == 0:
            size = len(data) - pos
        boxes.append((kind.decode("latin-1"), size, header))
        pos += size
    return boxes
