"""Shots of a video: where its scenes change, as the units a per-shot encode works on.

A shot here is a run of whole frames ``start_frame .. start_frame + n_frames - 1``. Encoding
each shot on its own makes every shot start with a keyframe, so shot boundaries must be frame
numbers, and they may be asked to fall on a coarser grid (``grid_frames``: every start a multiple
of it, e.g. a GOP length). Three steps, each usable alone:

1. :func:`scene_scores`: one ffmpeg run decodes the video through the ``scdet`` filter, which
   gives every frame a scene-change score in percent (0..100: how much of the picture changed
   from the previous frame beyond the running average change; frame 0 scores 0).
2. :func:`cut_frames` picks the cuts: frames scoring at least ``threshold`` (ffmpeg's default for
   ``scdet`` is 10), strongest first, each kept only if it is at least ``min_shot_s`` from the
   start, the end and every cut already kept, after snapping to the grid. Strongest first means
   a weak flicker next to a real cut never displaces the cut.
   :func:`read_shot_list` is the alternative: an explicit list of shot starts.
3. :func:`shots_table` turns cuts into the table of shots, splitting any shot longer than
   ``max_shot_s`` (the segment duration, for streaming) into equal parts on the grid: a 10 s
   shot with 4 s segments becomes three of 3.33 s, not 4 + 4 + 2, so no part is a short tail.

:func:`detect_shots` runs the three. Times are ``frame / fps`` with the exact frame rate.
"""

from __future__ import annotations

import math
import os
import re
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .._checks import integer, number
from .._textread import fields, lines, parse_number, read_text
from ..errors import ParameterError, VideoFormatError
from .encoder import segment_index
from .ffmpeg import FFmpeg, file_url, find_ffmpeg, temp_run_dir
from .probe import MediaInfo, probe

__all__ = [
    "SHOT_COLUMNS", "SEGMENT_COLUMNS", "scene_scores", "cut_frames", "shots_table", "detect_shots", "read_shot_list",
    "shots_from_starts", "shot_segments",
]

#: Columns of a shot table, in order.
SHOT_COLUMNS = ("shot", "start_frame", "n_frames", "start_s", "duration_s", "score", "cause")

#: Columns of :func:`shot_segments`' table, in order.
SEGMENT_COLUMNS = ("segment", "shot", "start_frame", "n_frames", "start_s", "duration_s")

#: ``cause`` values: the first shot, a detected cut, a start from a list, a split of a long shot.
CAUSES = ("start", "cut", "listed", "split")

_FRAME_LINE = re.compile(r"^frame:\s*(\d+)\b")
_SCORE_LINE = re.compile(r"^lavfi\.scd\.score=(\S+)$")


def scene_scores(
    source: str | os.PathLike[str],
    *,
    ffmpeg: FFmpeg | None = None,
    info: MediaInfo | None = None,
    progress: Callable[[float], None] | None = None,
    timeout_s: float | None = None,
) -> np.ndarray:
    """ffmpeg ``scdet``'s scene-change score of every frame, in percent: float64, shape (n_frames,).

    One decode of the whole video. The count is checked against :func:`probe`'s exact frame
    count, so a damaged file is an error rather than a short list.
    """
    ff = ffmpeg if ffmpeg is not None else find_ffmpeg()
    ff.require_filter("scdet")
    meta = info if info is not None else probe(source, ff)
    with temp_run_dir() as tmp:
        out = tmp / "scd.txt"
        # threshold=100: scdet never flags a frame itself; the scores are all we read
        ff.run(
            ["-i", file_url(source), "-map", "0:V:0", "-an", "-vf", "scdet=threshold=100,metadata=mode=print:file=scd.txt",
             "-f", "null", "-"],
            cwd=tmp, progress=progress, total_s=meta.duration_s, timeout_s=timeout_s,
        )
        text = out.read_text(encoding="utf-8") if out.exists() else ""
    scores = _parse_scores(text, source)
    if scores.size != meta.n_frames:
        raise VideoFormatError(source, f"scdet scored {scores.size} frames but the video has {meta.n_frames}")
    return scores


def _parse_scores(text: str, source: str | os.PathLike[str]) -> np.ndarray:
    """The ``metadata=print`` lines of scdet -> one score per frame, in frame order."""
    found: dict[int, float] = {}
    frame = -1
    for line in text.splitlines():
        m = _FRAME_LINE.match(line)
        if m:
            frame = int(m.group(1))
            continue
        m = _SCORE_LINE.match(line.strip())
        if m and frame >= 0:
            try:
                found[frame] = float(m.group(1))
            except ValueError:
                raise VideoFormatError(source, f"scdet printed an unreadable score {m.group(1)!r} for frame {frame}") from None
    n = len(found)
    if sorted(found) != list(range(n)):
        raise VideoFormatError(source, "scdet's scores do not cover consecutive frames from 0")
    return np.array([found[k] for k in range(n)], dtype=np.float64)


def _grid_frame(frame: int, grid: int, n_frames: int) -> int:
    """``frame`` moved to the nearest multiple of ``grid`` (ties to the later one) inside the video."""
    if grid == 1:
        return frame
    snapped = int(math.floor(frame / grid + 0.5)) * grid
    return min(snapped, (n_frames - 1) // grid * grid)


def cut_frames(
    scores: np.ndarray,
    fps: Fraction | float,
    *,
    threshold: float = 10.0,
    min_shot_s: float = 1.0,
    grid_frames: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """First frames of the shots after the first (int64, increasing, each in 1..n_frames-1) and
    the score of the frame that made each cut (float64, percent; the cut itself may sit a few
    frames away, on the grid).

    A frame whose score is >= ``threshold`` (percent) is a candidate. Candidates are taken
    strongest first (ties: the earlier frame), each snapped to the nearest multiple of
    ``grid_frames``, and kept when its snapped frame is at least ``min_shot_s`` (rounded up to
    whole frames, and at least one frame) from frame 0, from the end and from every cut kept.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ParameterError("scores", f"array of shape {s.shape}", "must be one score per frame (1-D)")
    rate = float(Fraction(fps)) if not isinstance(fps, float) else fps
    number("fps", rate, gt=0)
    threshold = number("threshold", threshold, ge=0, le=100)
    min_shot_s = number("min_shot_s", min_shot_s, ge=0)
    grid = integer("grid_frames", grid_frames, ge=1)
    n = s.size
    min_frames = max(1, int(math.ceil(min_shot_s * rate - 1e-9)))
    candidates = [k for k in range(1, n) if s[k] >= threshold]
    candidates.sort(key=lambda k: (-s[k], k))
    kept: dict[int, float] = {}
    for k in candidates:
        f = _grid_frame(k, grid, n)
        if f < min_frames or n - f < min_frames:
            continue
        if any(abs(f - c) < min_frames for c in kept):
            continue
        kept[f] = float(s[k])
    frames = sorted(kept)
    return np.array(frames, dtype=np.int64), np.array([kept[f] for f in frames], dtype=np.float64)


def shots_table(
    starts: Sequence[int] | np.ndarray,
    n_frames: int,
    fps: Fraction | float,
    *,
    cut_scores: np.ndarray | None = None,
    max_shot_s: float | None = None,
    grid_frames: int = 1,
    cause: str = "cut",
) -> pd.DataFrame:
    """The shot table (:data:`SHOT_COLUMNS`) of a video of ``n_frames`` whose shots after the
    first start at ``starts`` (frame numbers, increasing, in 1..n_frames-1, multiples of
    ``grid_frames``).

    ``score`` is ``cut_scores[i]`` for the shot starting at ``starts[i]`` (NaN without them, and
    for the first shot and the parts of a split); ``cause`` is ``start`` for the first shot,
    ``cause`` (``cut`` or ``listed``) for the given starts, ``split`` for a part of a shot longer
    than ``max_shot_s``: such a shot is cut into the fewest parts of at most ``max_shot_s`` whose
    bounds lie on the grid, as equal as the grid allows.
    """
    n_frames = integer("n_frames", n_frames, ge=1)
    rate = Fraction(fps) if not isinstance(fps, float) else Fraction(fps).limit_denominator(1_000_000)
    if rate <= 0:
        raise ParameterError("fps", fps, "must be > 0")
    grid = integer("grid_frames", grid_frames, ge=1)
    if cause not in CAUSES:
        raise ParameterError("cause", cause, f"must be one of {', '.join(CAUSES)}")
    cuts = [int(c) for c in np.asarray(starts, dtype=np.int64).ravel()]
    for i, c in enumerate(cuts):
        if not 1 <= c < n_frames:
            raise ParameterError("starts", c, f"a shot start must be a frame in 1..{n_frames - 1} (frame 0 always starts one)")
        if i and c <= cuts[i - 1]:
            raise ParameterError("starts", c, f"shot starts must increase; {c} follows {cuts[i - 1]}")
        if c % grid:
            raise ParameterError("starts", c, f"is not on the grid of {grid} frames")
    by_start = {}
    if cut_scores is not None:
        cs = np.asarray(cut_scores, dtype=np.float64).ravel()
        if cs.size != len(cuts):
            raise ParameterError("cut_scores", f"{cs.size} values", f"must hold one score per start ({len(cuts)})")
        by_start = dict(zip(cuts, cs.tolist()))
    max_frames = None
    if max_shot_s is not None:
        max_shot_s = number("max_shot_s", max_shot_s, gt=0)
        max_frames = int(math.floor(max_shot_s * float(rate) + 1e-9))
        if max_frames < grid:
            raise ParameterError(
                "max_shot_s", max_shot_s, f"is shorter than the grid of {grid} frame(s) at {float(rate):g} fps",
            )
    bounds = [0, *cuts, n_frames]
    rows = []
    for i in range(len(bounds) - 1):
        first, end = bounds[i], bounds[i + 1]
        parts = _split(first, end, max_frames, grid)
        for j, (a, b) in enumerate(parts):
            if j > 0:
                why, score = "split", math.nan
            elif i == 0:
                why, score = "start", math.nan
            else:
                why, score = cause, by_start.get(a, math.nan)
            rows.append((a, b - a, why, score))
    table = pd.DataFrame({
        "shot": np.arange(len(rows), dtype=np.int64),
        "start_frame": np.array([r[0] for r in rows], dtype=np.int64),
        "n_frames": np.array([r[1] for r in rows], dtype=np.int64),
    })
    table["start_s"] = [float(Fraction(r[0]) / rate) for r in rows]
    table["duration_s"] = [float(Fraction(r[1]) / rate) for r in rows]
    table["score"] = np.array([r[3] for r in rows], dtype=np.float64)
    table["cause"] = [r[2] for r in rows]
    return table


def _split(first: int, end: int, max_frames: int | None, grid: int) -> list[tuple[int, int]]:
    """[first, end) in the fewest parts of at most ``max_frames`` frames whose inner bounds are
    multiples of ``grid`` past ``first``, as equal as the grid allows."""
    length = end - first
    if max_frames is None or length <= max_frames:
        return [(first, end)]
    per_part = max_frames // grid  # grid cells a part may hold
    cells = -(-length // grid)  # the last one may be partial
    k = -(-cells // per_part)
    edges = [first + round(i * cells / k) * grid for i in range(k)] + [end]
    return list(zip(edges, edges[1:]))


def detect_shots(
    source: str | os.PathLike[str],
    *,
    threshold: float = 10.0,
    min_shot_s: float = 1.0,
    max_shot_s: float | None = None,
    grid_frames: int = 1,
    ffmpeg: FFmpeg | None = None,
    info: MediaInfo | None = None,
    scores: np.ndarray | None = None,
    progress: Callable[[float], None] | None = None,
) -> pd.DataFrame:
    """The shots of ``source``: :func:`scene_scores` (or the ``scores`` given), :func:`cut_frames`,
    :func:`shots_table`. See the module docstring for the rules and the parameters' units."""
    ff = ffmpeg if ffmpeg is not None else find_ffmpeg()
    meta = info if info is not None else probe(source, ff)
    s = scores if scores is not None else scene_scores(source, ffmpeg=ff, info=meta, progress=progress)
    s = np.asarray(s, dtype=np.float64)
    if s.shape != (meta.n_frames,):
        raise ParameterError("scores", f"{s.size} values", f"must hold one score per frame ({meta.n_frames})")
    cuts, cut_scores = cut_frames(s, meta.fps, threshold=threshold, min_shot_s=min_shot_s, grid_frames=grid_frames)
    return shots_table(cuts, meta.n_frames, meta.fps, cut_scores=cut_scores, max_shot_s=max_shot_s, grid_frames=grid_frames)


def read_shot_list(path: str | os.PathLike[str], n_frames: int, fps: Fraction | float) -> np.ndarray:
    """Shot starts from a text file: one per line, a time in seconds (``12.5``) or a frame
    number with an ``f`` suffix (``250f``); ``#`` starts a comment; a start at 0 is allowed
    (the first shot always starts there). Times are rounded to the nearest frame. Returns the
    starts after frame 0 as :func:`shots_table` takes them.

    Errors (:class:`~abrkit.errors.VideoFormatError`, with the file and line): a value that is
    not a time or frame, a start past the video's end, starts that do not increase.
    """
    p = Path(path)
    rate = float(Fraction(fps)) if not isinstance(fps, float) else fps
    text = read_text(p, VideoFormatError, "shot list", "shot lists")
    starts: list[int] = []
    last_line = 0
    for lineno, raw in lines(p, text, VideoFormatError):
        line = raw.split("#", 1)[0]
        tokens = fields(line)
        if not tokens:
            continue
        if len(tokens) > 1:
            raise VideoFormatError(p, f"one shot start per line, found {len(tokens)} values", line=lineno)
        token = tokens[0]
        if token.lower().endswith("f"):
            value = parse_number(p, lineno, token[:-1], "frame", VideoFormatError)
            if value != int(value):
                raise VideoFormatError(p, f"frame {token!r} is not a whole number", line=lineno)
            frame = int(value)
        else:
            seconds = parse_number(p, lineno, token, "time", VideoFormatError)
            frame = int(math.floor(seconds * rate + 0.5))
        if frame < 0 or frame >= n_frames:
            raise VideoFormatError(
                p, f"shot start {token} is frame {frame}, outside the video's frames 0..{n_frames - 1}", line=lineno,
            )
        if starts and frame <= starts[-1]:
            raise VideoFormatError(
                p, f"shot start {token} (frame {frame}) does not come after line {last_line}'s (frame {starts[-1]})",
                line=lineno,
            )
        starts.append(frame)
        last_line = lineno
    return np.array([f for f in starts if f > 0], dtype=np.int64)


def shots_from_starts(
    starts: Sequence[int] | np.ndarray, info: MediaInfo, *, max_shot_s: float | None = None, grid_frames: int = 1,
) -> pd.DataFrame:
    """The shot table of a video (``info``, from :func:`probe`) cut at the given frames (an
    explicit list, e.g. from :func:`read_shot_list`), snapped to the grid."""
    grid = integer("grid_frames", grid_frames, ge=1)
    snapped = sorted({_grid_frame(int(f), grid, info.n_frames) for f in np.asarray(starts, dtype=np.int64).ravel()} - {0})
    return shots_table(snapped, info.n_frames, info.fps, max_shot_s=max_shot_s, grid_frames=grid, cause="listed")


def shot_segments(shots: pd.DataFrame, fps: Fraction | float, segment_s: float) -> pd.DataFrame:
    """The segments of a stream made of per-shot encodes: one row per segment
    (:data:`SEGMENT_COLUMNS`; times in seconds from the first frame).

    Every shot is encoded on its own with a keyframe forced at its first frame at or after each
    multiple of ``segment_s`` from its start (the encoder's rule,
    :func:`~abrkit.encode.encoder.segment_index`), so a segment starts at every such keyframe: a
    shot of 3.3 s in 2 s segments gives segments of 2 s and 1.3 s, and the next shot starts a
    segment of its own. Segments of a shot on the ``segment_s`` grid all last ``segment_s``
    (the last part of the video may be shorter). The segmentation depends on the shots only, so
    every rung of a per-shot ladder shares it, as switching between rungs needs.
    """
    segment_s = number("segment_s", segment_s, gt=0)
    rate = Fraction(fps) if not isinstance(fps, float) else Fraction(fps).limit_denominator(1_000_000)
    if rate <= 0:
        raise ParameterError("fps", fps, "must be > 0")
    frame_s = float(1 / rate)
    starts, counts, owners = [], [], []
    for shot in shots.itertuples():
        local = segment_index(np.arange(int(shot.n_frames)) * frame_s, segment_s, frame_s)
        per = np.bincount(local)
        first = np.concatenate([[0], np.cumsum(per)[:-1]])
        keep = per > 0
        starts.extend((int(shot.start_frame) + first[keep]).tolist())
        counts.extend(per[keep].tolist())
        owners.extend([int(shot.shot)] * int(keep.sum()))
    start = np.asarray(starts, dtype=np.int64)
    count = np.asarray(counts, dtype=np.int64)
    return pd.DataFrame({
        "segment": np.arange(start.size, dtype=np.int64),
        "shot": np.asarray(owners, dtype=np.int64),
        "start_frame": start,
        "n_frames": count,
        "start_s": [float(Fraction(int(f)) / rate) for f in start],
        "duration_s": [float(Fraction(int(n)) / rate) for n in count],
    })
