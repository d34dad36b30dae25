"""A packaged stream folder as the emulation sees it: manifest, segment URLs, sizes and ladder.

A folder is what ``abrkit ladder --renditions`` (or :func:`~abrkit.emulate.content.make_stream`)
writes: ``dash/manifest.mpd``, ``hls/master.m3u8`` and ``video.json``. Any folder with a
``video.json`` and one of those manifests (or a single ``*.mpd`` / master ``*.m3u8`` at its top)
works. Every media segment URL is mapped to its (segment index, rung), so the player's requests
can be read back as rung decisions, and the sizes of the segment files the player downloads
become the simulator's :class:`~abrkit.Video`. Its ladder is the bitrate each manifest announces
(DASH ``@bandwidth``, HLS ``BANDWIDTH``), which is what the players decide with.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AbrkitError, VideoFormatError
from ..video import Video, read_abrkit_video

__all__ = ["Stream", "load_stream"]

_MPD_NS = "{urn:mpeg:dash:schema:mpd:2011}"


@dataclass(frozen=True)
class Stream:
    """One manifest of a packaged folder.

    ``manifest``: path relative to ``folder`` (``dash/manifest.mpd``); ``kind``: ``dash`` or
    ``hls``; ``segments``: URL path relative to ``folder`` -> (segment index, rung);
    ``video``: segment sizes (bytes) of the files, ladder = announced bitrates (bit/s).
    """

    folder: Path
    manifest: str
    kind: str
    segments: dict[str, tuple[int, int]]
    video: Video

    @property
    def segment_s(self) -> float:
        """Segment duration in seconds."""
        return float(self.video.chunk_s)


def _template(template: str, rep_id: str, bandwidth: str, number: int) -> str:
    def fill(m: re.Match[str]) -> str:
        name, fmt = m.group(1), m.group(2)
        if name == "RepresentationID":
            return rep_id
        if name == "Bandwidth":
            return bandwidth
        if name == "Number":
            return (fmt % number) if fmt else str(number)
        raise VideoFormatError(None, f"SegmentTemplate identifier ${name}$ is not supported")

    return re.sub(r"\$(RepresentationID|Bandwidth|Number|Time)(%0\d+d)?\$", fill, template).replace("$$", "$")


def _dash(folder: Path, mpd: Path) -> tuple[dict[str, tuple[int, int]], list[np.ndarray], list[float]]:
    try:
        root = ET.parse(mpd).getroot()
    except (OSError, ET.ParseError) as err:
        raise VideoFormatError(mpd, f"cannot read the MPD: {err}") from err
    reps = [r for a in root.iter(f"{_MPD_NS}AdaptationSet") if a.get("contentType", "video") == "video"
            for r in a.iter(f"{_MPD_NS}Representation")]
    if not reps:
        raise VideoFormatError(mpd, "no video Representation")
    reps.sort(key=lambda r: float(r.get("bandwidth", "0")))
    segments: dict[str, tuple[int, int]] = {}
    sizes: list[np.ndarray] = []
    ladder: list[float] = []
    base = mpd.parent.relative_to(folder)
    for rung, rep in enumerate(reps):
        tpl = rep.find(f"{_MPD_NS}SegmentTemplate")
        if tpl is None:
            raise VideoFormatError(mpd, f"Representation {rep.get('id')} has no SegmentTemplate")
        timeline = tpl.find(f"{_MPD_NS}SegmentTimeline")
        count = sum(int(s.get("r", "0")) + 1 for s in timeline) if timeline is not None else 0
        if count <= 0:
            raise VideoFormatError(mpd, f"Representation {rep.get('id')} has no SegmentTimeline")
        start = int(tpl.get("startNumber", "1"))
        files = []
        for k in range(count):
            name = _template(tpl.get("media", ""), rep.get("id", ""), rep.get("bandwidth", ""), start + k)
            rel = (base / name).as_posix()
            segments[rel] = (k, rung)
            files.append(folder / rel)
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise VideoFormatError(mpd, f"segments listed but not found: {missing[:3]}")
        sizes.append(np.array([f.stat().st_size for f in files], dtype=np.float64))
        ladder.append(float(rep.get("bandwidth", "nan")))
    return segments, sizes, ladder


def _hls(folder: Path, master: Path) -> tuple[dict[str, tuple[int, int]], list[np.ndarray], list[float]]:
    from ..encode.package import read_media_playlist

    try:
        lines = master.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise VideoFormatError(master, f"cannot read the playlist: {err}") from err
    variants: list[tuple[float, Path]] = []
    for k, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            bw = re.search(r"(?<![-A-Z])BANDWIDTH=(\d+)", line)
            uri = next((u.strip() for u in lines[k + 1:] if u.strip() and not u.startswith("#")), None)
            if bw is None or uri is None:
                raise VideoFormatError(master, "an EXT-X-STREAM-INF lacks BANDWIDTH or a URI", line=k + 1)
            variants.append((float(bw.group(1)), master.parent / uri))
    if not variants:
        raise VideoFormatError(master, "no EXT-X-STREAM-INF: not a master playlist")
    variants.sort(key=lambda v: v[0])
    segments: dict[str, tuple[int, int]] = {}
    sizes: list[np.ndarray] = []
    for rung, (_, playlist) in enumerate(variants):
        paths = read_media_playlist(playlist).segment_paths()
        for k, p in enumerate(paths):
            segments[Path(p).resolve().relative_to(folder).as_posix()] = (k, rung)
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise VideoFormatError(playlist, f"segments listed but not found: {missing[:3]}")
        sizes.append(np.array([p.stat().st_size for p in paths], dtype=np.float64))
    return segments, sizes, [v[0] for v in variants]


def _find_manifest(folder: Path, kind: str) -> Path:
    names = ["dash/manifest.mpd", "manifest.mpd"] if kind == "dash" else ["hls/master.m3u8", "master.m3u8"]
    for name in names:
        if (folder / name).is_file():
            return folder / name
    pattern = "*.mpd" if kind == "dash" else "*.m3u8"
    found = sorted(folder.glob(pattern))
    if len(found) == 1:
        return found[0]
    raise AbrkitError(
        f"no {kind.upper()} manifest in {folder}: expected {' or '.join(names)} (as `abrkit ladder --renditions` "
        f"writes them)"
    )


def load_stream(folder: str | Path, kind: str) -> Stream:
    """The ``kind`` (``dash`` or ``hls``) manifest of the packaged ``folder``.

    Raises :class:`AbrkitError` when the folder, its ``video.json`` or the manifest is missing,
    and :class:`VideoFormatError` when the manifest cannot be read or lists missing segments.
    """
    root = Path(folder).resolve()
    if not root.is_dir():
        raise AbrkitError(f"stream folder {folder} does not exist")
    if not (root / "video.json").is_file():
        raise AbrkitError(f"{folder} has no video.json: give a folder `abrkit ladder --renditions` packaged")
    described = read_abrkit_video(root / "video.json")
    manifest = _find_manifest(root, kind)
    segments, sizes, ladder = (_dash if kind == "dash" else _hls)(root, manifest)
    n = min(s.size for s in sizes)
    if described.n_chunks and n > described.n_chunks + 1:
        raise VideoFormatError(manifest, f"{n} segments, but video.json describes {described.n_chunks}")
    table = np.stack([s[:n] for s in sizes], axis=1)
    quality = None
    if described.quality is not None and described.quality.shape[1] == table.shape[1]:
        m = min(n, described.quality.shape[0])
        table, quality = table[:m], described.quality[:m]
        n = m
    durations = None
    if described.durations_s is not None and described.n_chunks >= n:  # segments of unequal duration
        durations = described.durations_s[:n]
    video = Video(
        bitrates_bps=np.asarray(ladder, dtype=np.float64), chunk_s=described.chunk_s, sizes_bytes=table,
        quality=quality, name=described.name or root.name,
        meta={"manifest": manifest.relative_to(root).as_posix(), "ladder": "announced"},
        durations_s=durations,
    )
    return Stream(root, manifest.relative_to(root).as_posix(), kind, segments, video)
