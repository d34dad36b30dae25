"""Streams to emulate with: a test source (or a clip, looped) encoded and packaged once, cached.

:func:`make_stream` makes a lossless source from ffmpeg's ``testsrc2`` pattern with temporal noise
(without noise the pattern compresses so well that no rung would reach its bitrate) or from a
clip looped to the length, encodes the rungs with abrkit's own
:func:`~abrkit.encode.package.encode_renditions` (VBR at each rung's bitrate, keyframes on the
segment grid; no VMAF scoring, which would triple the time), and packages them with
:func:`~abrkit.encode.package.write_dash` and :func:`~abrkit.encode.package.write_hls` (MPEG-TS),
writing ``video.json`` (the DASH segment files) beside them: the same layout as ``abrkit ladder
--renditions``. The folder is keyed by every setting, so the second call returns at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import pandas as pd

from ..encode.cache import default_cache_dir
from ..errors import ParameterError

__all__ = ["make_stream", "DEFAULT_LADDER"]

#: The issue's ladder: 5 rungs, 300-2850 kbit/s, (kbit/s, width, height).
DEFAULT_LADDER: tuple[tuple[float, int, int], ...] = (
    (300.0, 320, 180),
    (750.0, 640, 360),
    (1200.0, 640, 360),
    (1850.0, 960, 540),
    (2850.0, 960, 540),
)


def make_stream(
    duration_s: float = 120.0,
    *,
    ladder: Sequence[tuple[float, int, int]] = DEFAULT_LADDER,
    segment_s: float = 2.0,
    fps: int = 24,
    clip: str | os.PathLike[str] | None = None,
    preset: str = "veryfast",
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """A packaged stream folder (``dash/manifest.mpd``, ``hls/master.m3u8``, ``video.json``).

    ``duration_s``: seconds of content; ``ladder``: (kbit/s, width, height) per rung, ascending;
    ``segment_s``: segment duration in seconds; ``fps``: frame rate of the test source;
    ``clip``: a video to loop instead of the test pattern; ``cache_dir``: where streams are kept
    (default ``<user cache>/abrkit/emulate/streams``). Encoding takes about real time for the
    default 2-minute, 5-rung stream on two cores; later calls return the cached folder.
    """
    from ..encode import find_ffmpeg
    from ..encode.package import encode_renditions, video_from_renditions, write_dash, write_hls

    if not duration_s > 0:
        raise ParameterError("duration_s", duration_s, "must be > 0")
    rungs = sorted((float(k), int(w), int(h)) for k, w, h in ladder)
    if not rungs:
        raise ParameterError("ladder", ladder, "needs at least one rung")
    width = max(w for _, w, _ in rungs)
    height = max(h for _, _, h in rungs)
    settings = {"duration_s": float(duration_s), "ladder": rungs, "segment_s": float(segment_s), "fps": int(fps),
                "clip": str(Path(clip).resolve()) if clip else None, "preset": preset, "version": 1}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "emulate" / "streams"
    folder = root / key
    if (folder / "video.json").is_file():
        return folder
    ff = find_ffmpeg()
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    try:
        source = work / "source.mkv"
        if clip is None:
            pattern = f"testsrc2=size={width}x{height}:rate={fps}:duration={duration_s:g},noise=alls=12:allf=t"
            inputs = ["-f", "lavfi", "-i", pattern]
        else:
            inputs = ["-stream_loop", "-1", "-i", str(clip), "-t", f"{duration_s:g}",
                      "-vf", f"scale={width}:{height}"]
        # Lossless and fast: the source is only read back by the rung encodes.
        ff.run([*inputs, "-an", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", str(source)])
        table = pd.DataFrame({"bitrate_kbps": [k for k, _, _ in rungs], "width": [w for _, w, _ in rungs],
                              "height": [h for _, _, h in rungs]})
        renditions = encode_renditions(source, table, out_dir=work / "renditions", segment_s=segment_s,
                                       rate_control="vbr", preset=preset, quality=None, ffmpeg=ff)
        mpd = write_dash(renditions, work / "dash", ffmpeg=ff)
        write_hls(renditions, work / "hls", ffmpeg=ff)
        video = video_from_renditions(renditions, name=f"test-{key[:6]}", package=mpd)
        video.to_json(work / "video.json")
        (work / "settings.json").write_text(json.dumps(settings, indent=1) + "\n")
        source.unlink()
        shutil.rmtree(work / "renditions")
        # A finished folder appears at once, under its key, or not at all.
        try:
            work.rename(folder)
        except OSError:
            if not (folder / "video.json").is_file():
                raise
            shutil.rmtree(work, ignore_errors=True)
        return folder
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
