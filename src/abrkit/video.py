"""The :class:`Video` type: a bitrate ladder with per-chunk sizes and optional quality.

Internal units: bits per second for bitrates, bytes for sizes, seconds for durations.

Readers (:func:`read_video` and the format readers) turn every malformed input into a
:class:`~abrkit.errors.VideoFormatError` naming the file and, where there is one, the 1-based
line, in time and memory that follow the file's size. Their limits, far above any real video:

* chunk sizes between 1 byte and 1 TB (1e12 bytes); rung bitrates between 1 bit/s and 1 Tbit/s;
* chunk (segment) durations between 1 ms and one day; quality scores within +-1e6;
* resolutions ``[width, height]`` of whole numbers (JSON integers) between 1 and 100,000 pixels;
* files up to 1 GiB, lines up to 64 KiB, numbers up to 100 characters (ASCII decimal, no
  ``nan``/``inf``), JSON nested up to 100 levels; a UTF-8 byte-order mark is accepted;
* in JSON, booleans and strings are never numbers; a ``video_size_N`` line holds exactly one
  number.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ._checks import number
from ._textread import fields as _fields, json_float as _json_float, short as _short
from ._textread import json_item_line as _json_item_line_of, json_key_line as _json_key_line, json_numbers as _json_numbers
from ._textread import lines as _text_lines, load_json as _parse_json, parse_number as _parse_ascii_number
from ._textread import read_text as _read_file_text
from .errors import ParameterError, VideoFormatError

__all__ = ["Video", "read_video", "load_video", "read_ladder_video", "video_from_segments", "TAIL_RULES"]

PathLike = str | os.PathLike[str]
_JSON_FORMAT = "abrkit-video"
_JSON_VERSION = 1
#: ``format`` of a ladder result (:meth:`abrkit.encode.ladder.LadderResult.to_json`), also a video.
_LADDER_FORMAT = "abrkit-ladder"
#: What :func:`video_from_segments` does with a short last segment: ``drop`` (default) or ``keep``.
TAIL_RULES = ("drop", "keep")


@dataclass(frozen=True, eq=False)
class Video:
    """A video as the simulator sees it.

    Parameters
    ----------
    bitrates_bps : array of shape (n_rungs,)
        Nominal (advertised) bitrate of each rung in bits per second; strictly increasing, > 0.
    chunk_s : float
        Duration of every chunk (segment) in seconds, > 0; with ``durations_s``, the nominal
        (typical) segment duration.
    sizes_bytes : array of shape (n_chunks, n_rungs)
        Size of chunk ``k`` at rung ``r`` in bytes; finite and > 0.
    quality : array of shape (n_chunks, n_rungs), optional
        Per-chunk quality (for example VMAF) used by quality-based QoE models.
    resolutions : sequence of (width, height), optional
        One per rung.
    name : str
        Label used in results.
    meta : dict
        Free-form provenance (source, seed, tail rule, ...).
    durations_s : array of shape (n_chunks,), optional
        Each chunk's own duration in seconds, each in [``MIN_CHUNK_S``, ``MAX_CHUNK_S``]:
        segments of unequal duration (per-shot encodes, HLS ``EXTINF``, DASH
        ``SegmentTimeline``). None (default): every chunk lasts ``chunk_s``. The chunk model
        (profiles ``default`` and ``pensieve``) plays each chunk for its own duration; the
        other player models refuse a video whose chunks do not all last ``chunk_s``
        (:meth:`require_uniform`).
    """

    bitrates_bps: np.ndarray
    chunk_s: float
    sizes_bytes: np.ndarray
    quality: np.ndarray | None = None
    resolutions: tuple[tuple[int, int], ...] | None = None
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict, repr=False)
    durations_s: np.ndarray | None = None

    def __post_init__(self) -> None:
        ladder = _float_array("bitrates_bps", self.bitrates_bps)
        if ladder.ndim != 1 or ladder.size == 0:
            raise ParameterError("bitrates_bps", self.bitrates_bps, "must be a non-empty 1-D ladder")
        bad = ~np.isfinite(ladder) | (ladder <= 0)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise ParameterError(f"bitrates_bps[{i}]", float(ladder[i]), "must be finite and > 0")
        steps = np.diff(ladder)
        if np.any(steps <= 0):
            i = int(np.flatnonzero(steps <= 0)[0]) + 1
            raise ParameterError(
                "bitrates_bps", ladder.tolist(),
                f"ladder must be strictly increasing, but rung {i} ({ladder[i]:g}) <= rung {i - 1} ({ladder[i - 1]:g})",
            )
        try:
            chunk_s = float("nan") if isinstance(self.chunk_s, (bool, str)) else float(self.chunk_s)
        except (TypeError, ValueError, OverflowError):
            chunk_s = float("nan")
        if not (np.isfinite(chunk_s) and chunk_s > 0):
            raise ParameterError("chunk_s", self.chunk_s, "must be finite and > 0")
        sizes = _float_array("sizes_bytes", self.sizes_bytes)
        if sizes.ndim != 2 or sizes.shape[1] != ladder.size or sizes.shape[0] == 0:
            raise ParameterError(
                "sizes_bytes", f"array of shape {sizes.shape}",
                f"must have shape (n_chunks >= 1, n_rungs={ladder.size})",
            )
        bad = ~np.isfinite(sizes) | (sizes <= 0)
        if np.any(bad):
            k, r = (int(x) for x in np.argwhere(bad)[0])
            raise ParameterError(f"sizes_bytes[{k}, {r}]", float(sizes[k, r]), "chunk sizes must be finite and > 0")
        quality = None
        if self.quality is not None:
            quality = _float_array("quality", self.quality)
            if quality.shape != sizes.shape:
                raise ParameterError("quality", f"array of shape {quality.shape}", f"must match sizes_bytes {sizes.shape}")
            if not np.all(np.isfinite(quality)):
                k, r = (int(x) for x in np.argwhere(~np.isfinite(quality))[0])
                raise ParameterError(f"quality[{k}, {r}]", float(quality[k, r]), "must be finite")
            quality.setflags(write=False)
        res = None
        if self.resolutions is not None:
            res = _resolutions(self.resolutions)
            if len(res) != ladder.size:
                raise ParameterError("resolutions", res, f"must give one (width, height) per rung ({ladder.size})")
            if any(w <= 0 or h <= 0 for w, h in res):
                raise ParameterError("resolutions", res, "widths and heights must be > 0")
        durations = None
        if self.durations_s is not None:
            durations = _float_array("durations_s", self.durations_s)
            if durations.shape != (sizes.shape[0],):
                raise ParameterError(
                    "durations_s", f"array of shape {durations.shape}", f"must have shape (n_chunks={sizes.shape[0]},)"
                )
            bad = ~np.isfinite(durations) | (durations < MIN_CHUNK_S) | (durations > MAX_CHUNK_S)
            if np.any(bad):
                k = int(np.flatnonzero(bad)[0])
                raise ParameterError(
                    f"durations_s[{k}]", float(durations[k]),
                    f"chunk durations must be finite and within [{MIN_CHUNK_S:g}, {MAX_CHUNK_S:g}] s",
                )
            durations.setflags(write=False)
        ladder.setflags(write=False)
        sizes.setflags(write=False)
        object.__setattr__(self, "durations_s", durations)
        object.__setattr__(self, "bitrates_bps", ladder)
        object.__setattr__(self, "chunk_s", chunk_s)
        object.__setattr__(self, "sizes_bytes", sizes)
        object.__setattr__(self, "quality", quality)
        object.__setattr__(self, "resolutions", res)

    # -- views ---------------------------------------------------------------------------
    @property
    def n_chunks(self) -> int:
        return int(self.sizes_bytes.shape[0])

    @property
    def n_rungs(self) -> int:
        return int(self.bitrates_bps.size)

    @property
    def bitrates_kbps(self) -> np.ndarray:
        return self.bitrates_bps / 1e3

    @property
    def duration_s(self) -> float:
        if self.durations_s is not None:
            return float(self.durations_s.sum())
        return self.n_chunks * self.chunk_s

    @property
    def uniform(self) -> bool:
        """Whether every chunk lasts exactly ``chunk_s`` (no ``durations_s``, or all equal to it)."""
        return self.durations_s is None or bool(np.all(self.durations_s == self.chunk_s))

    @property
    def longest_chunk_s(self) -> float:
        """The longest chunk's duration, seconds (``chunk_s`` when every chunk lasts that)."""
        return self.chunk_s if self.durations_s is None else float(self.durations_s.max())

    def played_s(self, n_chunks: Any) -> np.ndarray:
        """Seconds of video in the first ``n_chunks`` chunks (an int or an array of counts), as float64."""
        counts = np.asarray(n_chunks, dtype=np.int64)
        if self.durations_s is None:
            return counts.astype(np.float64) * self.chunk_s
        cum = np.concatenate(([0.0], np.cumsum(self.durations_s)))
        return cum[np.clip(counts, 0, self.n_chunks)]

    def chunk_durations_s(self) -> np.ndarray:
        """Each chunk's duration in seconds, shape (n_chunks,): ``durations_s``, or ``chunk_s``
        repeated (a new array)."""
        if self.durations_s is not None:
            return np.array(self.durations_s, dtype=np.float64)
        return np.full(self.n_chunks, self.chunk_s, dtype=np.float64)

    def require_uniform(self, where: str) -> None:
        """Raise a :class:`ParameterError` naming ``where`` (a profile or function) unless every
        chunk lasts ``chunk_s``: for the player models that play equal segments only."""
        if not self.uniform:
            d = self.durations_s
            raise ParameterError(
                "video", self.name or "<video>",
                f"has segments of unequal duration ({d.min():g} to {d.max():g} s, nominal chunk_s={self.chunk_s:g} s), "
                f"but {where} plays every segment for chunk_s; the chunk model (profiles 'default' and 'pensieve', "
                "and the offline optimum) models unequal segments",
            )

    def mean_bitrates_bps(self) -> np.ndarray:
        """Measured mean bitrate of each rung (sizes over duration), shape (n_rungs,)."""
        return self.sizes_bytes.sum(axis=0) * 8.0 / self.duration_s

    def truncated(self, n_chunks: int) -> "Video":
        """The first ``n_chunks`` chunks of this video."""
        if not 1 <= n_chunks <= self.n_chunks:
            raise ParameterError("n_chunks", n_chunks, f"must be between 1 and {self.n_chunks}")
        q = None if self.quality is None else self.quality[:n_chunks]
        d = None if self.durations_s is None else self.durations_s[:n_chunks]
        return Video(self.bitrates_bps, self.chunk_s, self.sizes_bytes[:n_chunks], q, self.resolutions, self.name,
                     dict(self.meta), d)

    def looped(self, duration_s: float) -> "Video":
        """This video repeated (or cut) to the fewest chunks that play ``duration_s``.

        With equal chunks that is ``ceil(duration_s / chunk_s)`` chunks, the count computed in
        milliseconds, as Sabre's ``-ml`` (movie length) does, so a session length lands on the
        same number of segments. With ``durations_s``: the fewest chunks whose durations add up
        to ``duration_s`` (to within a microsecond), each keeping its own duration.
        """
        number("duration_s", duration_s, gt=0)
        if self.durations_s is None:
            seg_ms = round(self.chunk_s * 1e3, 9)
            n = math.ceil(duration_s * 1000 / seg_ms)
        else:
            reps = math.ceil(duration_s / self.duration_s)
            if (reps - 1) * self.n_chunks >= MAX_LOOPED_CHUNKS:
                n = (reps - 1) * self.n_chunks + 1  # more than the limit: refused below
            else:
                cum = np.cumsum(np.tile(self.durations_s, reps + 1))
                n = int(np.searchsorted(cum, duration_s - 1e-6, side="left")) + 1
        if n > MAX_LOOPED_CHUNKS:
            # every simulated session keeps a log row per chunk: 1e9 s of 4 s chunks asked for 24 GiB
            raise ParameterError(
                "duration_s", duration_s,
                f"{n:,} chunks of {self.chunk_s:g} s; a looped video holds at most {MAX_LOOPED_CHUNKS:,} chunks",
            )
        reps = math.ceil(n / self.n_chunks)
        q = None if self.quality is None else np.tile(self.quality, (reps, 1))[:n]
        sizes = np.tile(self.sizes_bytes, (reps, 1))[:n]
        d = None if self.durations_s is None else np.tile(self.durations_s, reps)[:n]
        return Video(self.bitrates_bps, self.chunk_s, sizes, q, self.resolutions, self.name, dict(self.meta), d)

    def __repr__(self) -> str:
        kbps = ", ".join(f"{b:g}" for b in self.bitrates_kbps)
        if self.durations_s is None:
            chunks = f"{self.n_chunks} x {self.chunk_s:g} s"
        else:
            d = self.durations_s
            chunks = f"{self.n_chunks} of {d.min():g}-{d.max():g} s (nominal {self.chunk_s:g} s, {self.duration_s:g} s in all)"
        return (
            f"Video(name={self.name!r}, chunks={chunks}, ladder_kbps=[{kbps}], "
            f"quality={'yes' if self.quality is not None else 'no'})"
        )

    # -- constructors --------------------------------------------------------------------
    @classmethod
    def constant_bitrate(cls, bitrates_kbps: Sequence[float], chunk_s: float, n_chunks: int, name: str = "cbr") -> "Video":
        """Every chunk exactly ``bitrate x chunk_s`` in size."""
        ladder = _ladder_bps(bitrates_kbps)
        if int(n_chunks) != n_chunks or n_chunks < 1:
            raise ParameterError("n_chunks", n_chunks, "must be an integer >= 1")
        sizes = np.tile(ladder * float(chunk_s) / 8.0, (int(n_chunks), 1))
        return cls(ladder, chunk_s, sizes, name=name)

    @classmethod
    def synthetic_vbr(
        cls,
        bitrates_kbps: Sequence[float],
        chunk_s: float,
        n_chunks: int,
        seed: int = 0,
        complexity_sigma: float = 0.35,
        complexity_corr: float = 0.8,
        name: str = "synthetic-vbr",
    ) -> "Video":
        """Seeded VBR chunk sizes: a scene-complexity process shared by all rungs.

        ``log(complexity)`` follows an AR(1) process with correlation ``complexity_corr`` between
        neighbouring chunks and stationary standard deviation ``complexity_sigma``; every rung's
        chunk size is its nominal size times the (mean-one) complexity, so rungs stay ordered and
        each rung's mean bitrate stays close to nominal. A per-chunk quality score in [0, 100]
        (a VMAF-like logistic of bits per unit complexity) is attached.
        """
        ladder = _ladder_bps(bitrates_kbps)
        if int(n_chunks) != n_chunks or n_chunks < 1:
            raise ParameterError("n_chunks", n_chunks, "must be an integer >= 1")
        if not 0 <= complexity_corr < 1:
            raise ParameterError("complexity_corr", complexity_corr, "must be in [0, 1)")
        if not complexity_sigma >= 0:
            raise ParameterError("complexity_sigma", complexity_sigma, "must be >= 0")
        rng = np.random.default_rng(seed)
        n = int(n_chunks)
        innov = rng.standard_normal(n) * complexity_sigma * np.sqrt(1 - complexity_corr**2)
        x = np.empty(n)
        x[0] = rng.standard_normal() * complexity_sigma
        for k in range(1, n):
            x[k] = complexity_corr * x[k - 1] + innov[k]
        complexity = np.exp(x - complexity_sigma**2 / 2)  # mean one
        sizes = np.outer(complexity, ladder * float(chunk_s) / 8.0)
        # Quality rises with log bits per unit complexity; the top of a typical ladder nears 95.
        eff = np.log(np.outer(1.0 / complexity, ladder) / 1e5)
        quality = 100.0 / (1.0 + np.exp(-(eff - 1.0)))
        return cls(ladder, chunk_s, sizes, quality=quality, name=name, meta={"seed": seed})

    # -- abrkit JSON -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": _JSON_FORMAT,
            "version": _JSON_VERSION,
            "name": self.name,
            "chunk_s": self.chunk_s,
            "bitrates_kbps": self.bitrates_kbps.tolist(),
            "sizes_bytes": self.sizes_bytes.tolist(),
        }
        if self.quality is not None:
            d["quality"] = self.quality.tolist()
        if self.resolutions is not None:
            d["resolutions"] = [list(r) for r in self.resolutions]
        if self.durations_s is not None:
            d["durations_s"] = self.durations_s.tolist()
        if self.meta:
            d["meta"] = self.meta
        return d

    def settings(self) -> dict[str, Any]:
        """What a result's ``settings()`` records of the video: name, ladder (kbit/s), ``chunk_s``
        and, for segments of unequal duration, ``durations_s``; not the size table."""
        d: dict[str, Any] = {"name": self.name, "bitrates_kbps": self.bitrates_kbps.tolist(), "chunk_s": self.chunk_s}
        if self.durations_s is not None:
            d["durations_s"] = self.durations_s.tolist()
        return d

    def to_json(self, path: PathLike) -> None:
        """Write abrkit's video JSON (read back with :func:`read_video`)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")


def _float_array(name: str, value: Any) -> np.ndarray:
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ParameterError(name, value, "must be an array of numbers") from None


def _whole(value: Any) -> int | None:
    """``value`` as an int if it is a whole number (int, numpy integer or integral float), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


def _resolutions(value: Any) -> tuple[tuple[int, int], ...]:
    rule = "must be a sequence of (width, height) pairs of whole numbers"
    try:
        pairs = list(value)
    except TypeError:
        raise ParameterError("resolutions", value, rule) from None
    out = []
    for i, pair in enumerate(pairs):
        try:
            w, h = pair
        except (TypeError, ValueError):
            raise ParameterError(f"resolutions[{i}]", pair, rule) from None
        wi, hi = _whole(w), _whole(h)
        if wi is None or hi is None:
            raise ParameterError(f"resolutions[{i}]", pair, rule)
        out.append((wi, hi))
    return tuple(out)


def _ladder_bps(bitrates_kbps: Sequence[float]) -> np.ndarray:
    try:
        with np.errstate(over="ignore"):  # an overflow gives inf, which Video rejects by name
            ladder = np.array(bitrates_kbps, dtype=np.float64) * 1e3
    except (TypeError, ValueError, OverflowError):
        raise ParameterError("bitrates_kbps", bitrates_kbps, "must be a sequence of numbers") from None
    return ladder


# -- measured segments -> Video ------------------------------------------------------------------


def video_from_segments(
    bitrates_kbps: Sequence[float],
    segments: Sequence[tuple[Sequence[float], Sequence[float], Sequence[float] | None]],
    *,
    segment_s: float,
    frame_s: float | None = None,
    resolutions: Sequence[tuple[int, int]] | None = None,
    tail: str = "drop",
    name: str = "",
    meta: dict[str, Any] | None = None,
) -> Video:
    """A :class:`Video` from measured encodes: one (durations, sizes, quality) per rung.

    The encoding side's way to hand the simulator a video (:meth:`LadderResult.to_video
    <abrkit.encode.ladder.LadderResult.to_video>`, abrkit ladder results read by
    :func:`read_video`); it decides what becomes of the last segment.

    Parameters
    ----------
    bitrates_kbps : sequence of float
        Nominal bitrate of each rung (kbit/s), strictly increasing.
    segments : sequence of (durations_s, sizes_bytes, quality)
        Per rung, in segment order: each segment's duration (s), size (bytes) and quality
        (None for none; NaN where unknown). Every rung has the same number of segments.
    segment_s : float
        The segment duration the encodes were cut at; the video's ``chunk_s``.
    frame_s : float, optional
        One frame's duration: a last segment shorter than ``segment_s`` by more than one and a
        half frames is a partial *tail*; shorter by less is frame rounding (29.97 fps). Without
        it, 1 % of ``segment_s`` is the tolerance.
    tail : {"drop", "keep"}
        What becomes of a partial last segment. ``"drop"`` (default) leaves it out, so the
        video holds only whole segments, at the cost of the last fraction of a segment (a 4.1 s
        clip in 2 s segments streams 4 s). ``"keep"`` keeps it with its real duration: the
        video gets ``durations_s`` (every other segment ``segment_s``, or its measured duration
        when the segments are unequal) and no byte or second is lost; only the chunk model
        (profiles ``default`` and ``pensieve``) plays such a video. A clip shorter than one
        segment is one chunk lasting the clip's duration either way.
    resolutions, name, meta :
        As in :class:`Video`; ``meta`` gains ``tail`` (``dropped``, ``kept`` or ``none``) and
        ``last_segment_s``.

    Segments of unequal duration (per-shot encodes: a 3.3 s shot in 2 s segments gives 2 s +
    1.3 s): when the durations (of rung 0; a partial last segment aside) are not all within the
    tolerance above of ``segment_s``, the video keeps every segment's measured duration in
    ``durations_s`` (``chunk_s`` stays ``segment_s``, the nominal duration) instead of assuming
    equal segments. Otherwise ``durations_s`` is None and every chunk lasts ``segment_s``.

    Raises
    ------
    ParameterError
        Rungs with different numbers of segments, a bad ``tail``, or values :class:`Video`
        refuses (non-increasing bitrates, sizes <= 0, non-finite quality).
    """
    if tail not in TAIL_RULES:
        raise ParameterError("tail", tail, f"must be one of {', '.join(map(repr, TAIL_RULES))}")
    segment_s = number("segment_s", segment_s, gt=0)
    rungs = list(segments)
    if not rungs:
        raise ParameterError("segments", [], "at least one rung is needed")
    durations = _float_array("segments[0] durations_s", rungs[0][0])
    n = durations.size
    sizes, quality = [], []
    for r, (dur, size, q) in enumerate(rungs):
        size_arr = _float_array(f"segments[{r}] sizes_bytes", size)
        if np.asarray(dur).size != n or size_arr.size != n or (q is not None and np.asarray(q).size != n):
            raise ParameterError(
                f"segments[{r}]", f"{size_arr.size} segments", f"every rung must have the same segments (rung 0 has {n})",
            )
        sizes.append(size_arr)
        quality.append(None if q is None else _float_array(f"segments[{r}] quality", q))
    if n == 0:
        raise ParameterError("segments", "no segments", "every rung needs at least one segment")
    has_quality = [q is not None for q in quality]
    if any(has_quality) and not all(has_quality):
        raise ParameterError("segments", "quality on some rungs only", "give quality for every rung or none")
    tolerance = 1.5 * float(frame_s) if frame_s is not None and frame_s > 0 else 0.01 * segment_s
    last_s = float(durations[-1])
    chunk_s = segment_s
    state = "none"
    keep = n
    short_tail = last_s < segment_s - tolerance
    if n == 1 and short_tail:
        chunk_s, state = last_s, "none"  # the whole clip is one short segment: it lasts what it lasts
    elif n > 1 and short_tail:
        if tail == "drop":
            keep, state = n - 1, "dropped"
        else:
            state = "kept"
    body = durations[: n - 1] if short_tail else durations  # (one short segment: no body)
    unequal = bool(np.any(np.abs(body - segment_s) > tolerance))
    video_durations = None
    if unequal:
        video_durations = durations[:keep].copy()  # every segment's measured duration
    elif state == "kept":
        video_durations = np.full(keep, segment_s)  # whole segments as segment_s, the tail as it is
        video_durations[-1] = last_s
    info = dict(meta or {})
    info.update(tail=state, last_segment_s=last_s)
    return Video(
        bitrates_bps=_ladder_bps(bitrates_kbps),
        chunk_s=chunk_s,
        sizes_bytes=np.column_stack([x[:keep] for x in sizes]),
        quality=np.column_stack([q[:keep] for q in quality]) if all(has_quality) else None,  # type: ignore[index]
        resolutions=None if resolutions is None else tuple(resolutions),
        name=name,
        meta=info,
        durations_s=video_durations,
    )


# -- readers -----------------------------------------------------------------------------------
# Limits every video reader enforces (bounds far above any real video; see the module docstring).

#: Largest chunk: 1 TB (1e12 bytes); smallest: 1 byte.
MAX_CHUNK_BYTES = 1e12
MIN_CHUNK_BYTES = 1.0
#: Largest rung bitrate: 1 Tbit/s; smallest: 1 bit/s.
MAX_BITRATE_BPS = 1e12
MIN_BITRATE_BPS = 1.0
#: Chunk (segment) duration between 1 ms and one day.
MIN_CHUNK_S = 1e-3
MAX_CHUNK_S = 86400.0
#: Longest video ``Video.looped`` makes, in chunks (100,000 x 4 s is 4.6 days).
MAX_LOOPED_CHUNKS = 100_000
#: Largest magnitude of a per-chunk quality score.
MAX_QUALITY = 1e6
#: Largest width or height of a rung.
MAX_RESOLUTION_PX = 100_000

# Files up to 1 GiB, lines up to 64 KiB, numbers up to 100 characters and JSON nested up to 100
# levels: the limits of abrkit._textread, which the trace readers share.


def _read_text(path: Path, what: str = "file") -> str:
    """UTF-8 text of a file (a byte-order mark dropped), at most 1 GiB."""
    return _read_file_text(path, VideoFormatError, what, "a video file")


def _load_json(path: Path) -> tuple[Any, str]:
    """The parsed JSON and its text; every failure is a located :class:`VideoFormatError`."""
    text = _read_text(path, "JSON file")
    if not text.strip():
        raise VideoFormatError(path, "empty file")
    return _parse_json(path, text, VideoFormatError), text


def _json_item_line(text: str, key: str, index: int) -> int | None:
    """Line of item ``index`` of the array under ``"key"`` (error path only); else the key's line."""
    return _json_item_line_of(text, key, index, or_key_line=True)


def _json_vector(path: Path, text: str, data: dict, key: str) -> np.ndarray:
    def check(i: int, x: float) -> None:
        if key == "bitrates_kbps" and not MIN_BITRATE_BPS / 1e3 <= x <= MAX_BITRATE_BPS / 1e3:
            raise VideoFormatError(
                path, f"bitrates_kbps[{i}]={x:.6g} is outside [0.001, 1e9] kbps (1 bit/s to 1 Tbit/s)",
                line=_json_item_line(text, key, i),
            )

    message = f"{key} must be a non-empty list of numbers"
    return _json_numbers(path, text, data[key], key, VideoFormatError, message, or_key_line=True, check=check)


def _json_matrix(path: Path, text: str, data: dict, key: str, message: str) -> np.ndarray:
    """A list of equal-length lists of finite JSON numbers, as a 2-D array."""
    rows = data[key]
    if not isinstance(rows, list) or not rows:
        raise VideoFormatError(path, message, line=_json_key_line(text, key))
    width = len(rows[0]) if isinstance(rows[0], list) else -1
    out = np.empty((len(rows), max(width, 0)))
    for k, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width or width == 0:
            raise VideoFormatError(path, f"{message} (row {k})", line=_json_item_line(text, key, k))
        for r, v in enumerate(row):
            x = _json_float(v)
            if x is None:
                raise VideoFormatError(
                    path, f"{key}[{k}][{r}]={_short(v)} is not a finite number", line=_json_item_line(text, key, k)
                )
            out[k, r] = x
    return out


def _wrap(path: Path, make: Any) -> Video:
    try:
        return make()
    except ParameterError as exc:
        raise VideoFormatError(path, str(exc)) from None


def _check_video_limits(path: Path, video: Video, text: str | None = None, sizes_key: str = "", unit: float = 1.0) -> Video:
    """The documented bounds on a video read from a file (see the module docstring)."""
    def line_of(key: str, index: int | None = None) -> int | None:
        if text is None or not key:
            return None
        return _json_key_line(text, key) if index is None else _json_item_line(text, key, index)

    if not MIN_CHUNK_S <= video.chunk_s <= MAX_CHUNK_S:
        key = "chunk_s" if text is not None and '"chunk_s"' in text else "segment_duration_ms"
        raise VideoFormatError(
            path, f"chunk duration {video.chunk_s:.6g} s is outside [{MIN_CHUNK_S:g}, {MAX_CHUNK_S:g}] s", line=line_of(key)
        )
    ladder = video.bitrates_bps
    bad = (ladder < MIN_BITRATE_BPS) | (ladder > MAX_BITRATE_BPS)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise VideoFormatError(
            path, f"bitrates_kbps[{i}]={ladder[i] / 1e3:.6g} is outside [0.001, 1e9] kbps (1 bit/s to 1 Tbit/s)",
            line=line_of("bitrates_kbps", i),
        )
    sizes = video.sizes_bytes
    bad = (sizes < MIN_CHUNK_BYTES) | (sizes > MAX_CHUNK_BYTES)
    if np.any(bad):
        k, r = (int(x) for x in np.argwhere(bad)[0])
        raise VideoFormatError(
            path, f"chunk {k} of rung {r} is {sizes[k, r]:.6g} bytes, outside [1, 1e12] bytes", line=line_of(sizes_key, k)
        )
    if video.quality is not None and np.any(np.abs(video.quality) > MAX_QUALITY):
        k, r = (int(x) for x in np.argwhere(np.abs(video.quality) > MAX_QUALITY)[0])
        raise VideoFormatError(
            path, f"quality of chunk {k} at rung {r} is {video.quality[k, r]:.6g}, beyond +-{MAX_QUALITY:g}",
            line=line_of("quality", k),
        )
    return video


def read_pensieve_video(directory: PathLike, bitrates_kbps: Sequence[float], chunk_s: float = 4.0, prefix: str = "video_size_") -> Video:
    """Pensieve's chunk-size tables: ``{prefix}N`` holds rung N's chunk sizes, one per line, in bytes.

    The files carry no ladder, so the caller gives it (Pensieve's: 300, 750, 1200, 1850, 2850,
    4300 kbps). Pensieve's files hold one chunk more than it plays (49 for 48): the last one only
    feeds the "next chunk sizes" look-ahead. All of them are kept here; the ``pensieve`` profile
    plays the first 48. Each line holds exactly one number (anything after it is an error).
    """
    d = Path(directory)
    if not d.is_dir():
        raise VideoFormatError(d, "not a directory of video_size_N files")
    ladder = _ladder_bps(bitrates_kbps)
    columns = []
    for r in range(ladder.size):
        f = d / f"{prefix}{r}"
        if not f.is_file():
            present = sorted(p.name for p in d.glob(f"{prefix}*"))
            raise VideoFormatError(f, f"missing: {ladder.size} rungs given, files present: {present}")
        values = []
        for lineno, line in _text_lines(f, _read_text(f, "chunk-size file"), VideoFormatError):
            parts = _fields(line)
            if not parts:
                continue
            if len(parts) != 1:
                raise VideoFormatError(
                    f, f"expected one chunk size (bytes) per line, got {len(parts)} fields: {_short(line.strip())}", line=lineno
                )
            token = parts[0]
            nonpositive = "must be finite and > 0 bytes"
            v = _parse_ascii_number(f, lineno, token, "chunk size", VideoFormatError, not_finite=nonpositive)
            if v <= 0:
                raise VideoFormatError(f, f"chunk size {token!r} {nonpositive}", line=lineno)
            if not MIN_CHUNK_BYTES <= v <= MAX_CHUNK_BYTES:
                raise VideoFormatError(f, f"chunk size {token} bytes is outside [1, 1e12] bytes", line=lineno)
            values.append(v)
        if not values:
            raise VideoFormatError(f, "empty file: no chunk sizes")
        columns.append(values)
    lengths = {len(c) for c in columns}
    if len(lengths) != 1:
        counts = ", ".join(f"{prefix}{r}: {len(c)}" for r, c in enumerate(columns))
        raise VideoFormatError(d, f"rungs have different chunk counts ({counts})")
    rung_name = re.compile(re.escape(prefix) + r"([0-9]{1,9})")
    extra = sorted(
        p.name for p in d.glob(f"{prefix}*")
        if (m := rung_name.fullmatch(p.name)) is not None and int(m.group(1)) >= ladder.size
    )
    if extra:
        raise VideoFormatError(d, f"{len(extra)} more rung files than the {ladder.size} bitrates given: {extra}")
    sizes = np.array(columns).T
    video = _wrap(d, lambda: Video(ladder, chunk_s, sizes, name=d.name, meta={"source": "pensieve"}))
    return _check_video_limits(d, video)


def read_sabre_video(path: PathLike) -> Video:
    """Sabre's movie JSON: ``{segment_duration_ms, bitrates_kbps, segment_sizes_bits[seg][rung]}``.

    Every value must be a JSON number (booleans and strings are not).
    """
    p = Path(path)
    data, text = _load_json(p)
    if not isinstance(data, dict):
        raise VideoFormatError(p, "Sabre movie JSON must be an object")
    for key in ("segment_duration_ms", "bitrates_kbps", "segment_sizes_bits"):
        if key not in data:
            raise VideoFormatError(p, f"missing key {key!r}")
    duration_ms = _json_float(data["segment_duration_ms"])
    if duration_ms is None:
        raise VideoFormatError(
            p, f"segment_duration_ms={_short(data['segment_duration_ms'])} is not a finite number",
            line=_json_key_line(text, "segment_duration_ms"),
        )
    ladder_kbps = _json_vector(p, text, data, "bitrates_kbps")
    bits = _json_matrix(p, text, data, "segment_sizes_bits", "segment_sizes_bits must be a list of equal-length lists of numbers")
    video = _wrap(
        p,
        lambda: Video(_ladder_bps(ladder_kbps), duration_ms / 1e3, bits / 8.0, name=p.stem, meta={"source": "sabre"}),
    )
    return _check_video_limits(p, video, text, "segment_sizes_bits")


def _json_resolutions(path: Path, text: str, res: Any) -> list[tuple[int, int]]:
    if not isinstance(res, list):
        raise VideoFormatError(path, "resolutions must be a list of [width, height] pairs", line=_json_key_line(text, "resolutions"))
    out = []
    for i, pair in enumerate(res):
        ok = (
            isinstance(pair, list) and len(pair) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_RESOLUTION_PX for v in pair)
        )
        if not ok:
            raise VideoFormatError(
                path, f"resolutions[{i}]={_short(pair)} must be [width, height], whole numbers of pixels in "
                f"[1, {MAX_RESOLUTION_PX}]", line=_json_item_line(text, "resolutions", i),
            )
        out.append((pair[0], pair[1]))
    return out


def read_abrkit_video(path: PathLike) -> Video:
    """abrkit's own video JSON (see :meth:`Video.to_json`)."""
    p = Path(path)
    data, text = _load_json(p)
    if not isinstance(data, dict) or data.get("format") != _JSON_FORMAT:
        raise VideoFormatError(p, f"not an abrkit video JSON (expected \"format\": \"{_JSON_FORMAT}\")")
    for key in ("chunk_s", "bitrates_kbps", "sizes_bytes"):
        if key not in data:
            raise VideoFormatError(p, f"missing key {key!r}")
    chunk_s = _json_float(data["chunk_s"])
    if chunk_s is None:
        raise VideoFormatError(p, f"chunk_s={_short(data['chunk_s'])} is not a finite number", line=_json_key_line(text, "chunk_s"))
    ladder_kbps = _json_vector(p, text, data, "bitrates_kbps")
    message = "sizes_bytes and quality must be lists of equal-length lists of numbers"
    sizes = _json_matrix(p, text, data, "sizes_bytes", message)
    quality = None if data.get("quality") is None else _json_matrix(p, text, data, "quality", message)
    res = None if data.get("resolutions") is None else _json_resolutions(p, text, data["resolutions"])
    name = data.get("name") or p.stem
    if not isinstance(name, str):
        raise VideoFormatError(p, f"name={_short(name)} must be a string", line=_json_key_line(text, "name"))
    meta = data.get("meta") or {}
    if not isinstance(meta, dict):
        raise VideoFormatError(p, f"meta={_short(meta)} must be an object", line=_json_key_line(text, "meta"))
    durations = None
    if data.get("durations_s") is not None:
        def check(i: int, x: float) -> None:
            if not MIN_CHUNK_S <= x <= MAX_CHUNK_S:
                raise VideoFormatError(
                    p, f"durations_s[{i}]={x:.6g} is outside [{MIN_CHUNK_S:g}, {MAX_CHUNK_S:g}] s",
                    line=_json_item_line(text, "durations_s", i),
                )

        durations = _json_numbers(p, text, data["durations_s"], "durations_s", VideoFormatError,
                                  "durations_s must be a non-empty list of numbers (seconds, one per chunk)",
                                  or_key_line=True, check=check)
        if durations.size != sizes.shape[0]:
            raise VideoFormatError(
                p, f"durations_s has {durations.size} values, but sizes_bytes has {sizes.shape[0]} chunks: "
                "give one duration per chunk", line=_json_key_line(text, "durations_s"),
            )
    video = _wrap(p, lambda: Video(_ladder_bps(ladder_kbps), chunk_s, sizes, quality, res, name, meta, durations))
    return _check_video_limits(p, video, text, "sizes_bytes")


def _ladder_records(path: Path, text: str, data: dict, key: str, fields: dict[str, str]) -> list[dict[str, Any]]:
    """The list of objects under ``key``, each with ``fields`` (name -> ``number``, ``whole``,
    ``text`` or ``number?``: a number or null) checked; errors name the item and its line."""
    items = data.get(key)
    if not isinstance(items, list) or not items:
        raise VideoFormatError(path, f"{key} must be a non-empty list of objects", line=_json_key_line(text, key))
    for i, item in enumerate(items):
        problem = None
        if not isinstance(item, dict):
            problem = f"{key}[{i}]={_short(item)} must be an object"
        else:
            for name, kind in fields.items():
                if name not in item:
                    problem = f"{key}[{i}] has no {name!r}"
                    break
                value = item[name]
                if kind == "text":
                    ok = isinstance(value, str) and 0 < len(value) <= 64
                elif kind == "whole":
                    ok = _whole(value) is not None and isinstance(value, int) and 1 <= value <= MAX_RESOLUTION_PX
                elif kind == "index":
                    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10_000_000
                elif kind == "number?":
                    ok = value is None or _json_float(value) is not None
                else:
                    ok = _json_float(value) is not None
                if not ok:
                    problem = f"{key}[{i}].{name}={_short(value)} is invalid: must be " + {
                        "text": "a point id (a string)", "whole": f"a whole number of pixels in [1, {MAX_RESOLUTION_PX}]",
                        "index": "a segment number >= 0", "number?": "a finite number or null",
                    }.get(kind, "a finite number")
                    break
        if problem is not None:
            raise VideoFormatError(path, problem, line=_json_item_line(text, key, i))
    return items


def _read_ladder_result(path: Path, data: Any, text: str) -> Video:
    """The per-title rungs of an ``abrkit ladder`` result (``result.json``) as a Video.

    The same Video as :meth:`LadderResult.to_video() <abrkit.encode.ladder.LadderResult.to_video>`
    on the result read back: both go through :func:`video_from_segments`.
    """
    if not isinstance(data, dict) or data.get("format") != _LADDER_FORMAT:
        raise VideoFormatError(path, f"not an abrkit ladder result (expected \"format\": \"{_LADDER_FORMAT}\")")
    settings, source = data.get("settings"), data.get("source")
    for key, value in (("settings", settings), ("source", source)):
        if not isinstance(value, dict):
            raise VideoFormatError(path, f"{key} must be an object", line=_json_key_line(text, key))
    segment_s = _json_float(settings.get("segment_s"))  # type: ignore[union-attr]
    if segment_s is None or not MIN_CHUNK_S <= segment_s <= MAX_CHUNK_S:
        raise VideoFormatError(
            path, f"settings.segment_s={_short(settings.get('segment_s'))} must be a number of seconds in "  # type: ignore[union-attr]
            f"[{MIN_CHUNK_S:g}, {MAX_CHUNK_S:g}]", line=_json_key_line(text, "segment_s"),
        )
    rungs = _ladder_records(path, text, data, "rungs", {
        "bitrate_kbps": "number", "width": "whole", "height": "whole", "point_id": "text",
    })
    segments = _ladder_records(path, text, data, "segments", {
        "point_id": "text", "segment": "index", "duration_s": "number", "size_bytes": "number", "vmaf": "number?",
    })
    by_point: dict[str, list[dict[str, Any]]] = {}
    for item in segments:
        by_point.setdefault(item["point_id"], []).append(item)
    order = sorted(range(len(rungs)), key=lambda i: float(rungs[i]["bitrate_kbps"]))  # stable, as to_video
    chosen, seen = [], set()
    for i in order:
        rate = float(rungs[i]["bitrate_kbps"])
        if rate not in seen:  # rungs with the same measured bitrate: the first is kept
            seen.add(rate)
            chosen.append(rungs[i])
    per_rung = []
    for rung in chosen:
        rows = sorted(by_point.get(rung["point_id"], []), key=lambda item: item["segment"])
        if not rows:
            raise VideoFormatError(path, f"no per-segment measurements for point {rung['point_id']} in this result",
                                   line=_json_key_line(text, "segments"))
        if [item["segment"] for item in rows] != list(range(len(rows))):
            raise VideoFormatError(path, f"the segments of point {rung['point_id']} are not numbered 0, 1, 2, ...",
                                   line=_json_key_line(text, "segments"))
        if per_rung and len(rows) != len(per_rung[0][0]):
            raise VideoFormatError(path, f"point {rung['point_id']} has {len(rows)} segments, another rung "
                                   f"{len(per_rung[0][0])}", line=_json_key_line(text, "segments"))
        per_rung.append((
            [float(item["duration_s"]) for item in rows],
            [float(item["size_bytes"]) for item in rows],
            [math.nan if item["vmaf"] is None else float(item["vmaf"]) for item in rows],
        ))
    frame_s = None
    fps = source.get("fps")  # type: ignore[union-attr]
    if isinstance(fps, str) and re.fullmatch(r"[0-9]{1,9}/[0-9]{1,9}", fps):
        num, den = (int(x) for x in fps.split("/"))
        frame_s = den / num if num > 0 and den > 0 else None
    sha = source.get("sha256")  # type: ignore[union-attr]
    video = _wrap(path, lambda: video_from_segments(
        [float(rung["bitrate_kbps"]) for rung in chosen], per_rung, segment_s=segment_s, frame_s=frame_s,
        resolutions=[(rung["width"], rung["height"]) for rung in chosen], name="per-title",
        meta={"source_sha256": sha if isinstance(sha, str) else None, "ladder": "per-title"},
    ))
    return _check_video_limits(path, video)


def read_ladder_video(path: PathLike) -> Video:
    """The per-title ladder of an ``abrkit ladder`` run: its ``result.json``, or the directory
    holding it (``--out DIR``), as the :class:`Video` that ``LadderResult.to_video()`` gives."""
    p = Path(path)
    if p.is_dir():
        p = p / "result.json"
    data, text = _load_json(p)
    return _read_ladder_result(p, data, text)


def _is_ladder_dir(p: Path) -> bool:
    """A directory written by ``abrkit ladder --out`` (a ``result.json``, no ``video_size_N`` files)."""
    return (p / "result.json").is_file() and not any(p.glob("video_size_*"))


def read_video(path: PathLike, bitrates_kbps: Sequence[float] | None = None, chunk_s: float | None = None) -> Video:
    """Read a video, recognising the format.

    * a directory of ``video_size_N`` files (Pensieve; needs ``bitrates_kbps``; ``chunk_s``
      defaults to 4 s);
    * a JSON file: abrkit's own video JSON, or Sabre's movie JSON;
    * an ``abrkit ladder`` result: its ``result.json`` or the ``--out`` directory holding it
      (the per-title rungs, the Video :meth:`LadderResult.to_video()
      <abrkit.encode.ladder.LadderResult.to_video>` gives: measured segment payloads and VMAF;
      a short last segment left out). The renditions' ``video.json`` that ``--renditions``
      writes next to it is a plain abrkit video JSON, read by its own name.
    """
    p = Path(path)
    if p.is_dir():
        if _is_ladder_dir(p):
            video = read_ladder_video(p)
        elif bitrates_kbps is None:
            raise ParameterError("bitrates_kbps", None, f"{p} is a Pensieve chunk-size directory, which holds no ladder: give the ladder in kbps")
        else:
            return read_pensieve_video(p, bitrates_kbps, 4.0 if chunk_s is None else chunk_s)
    elif not p.exists():
        raise VideoFormatError(p, "no such file or directory")
    else:
        data, text = _load_json(p)
        if isinstance(data, dict) and data.get("format") == _JSON_FORMAT:
            video = read_abrkit_video(p)
        elif isinstance(data, dict) and data.get("format") == _LADDER_FORMAT:
            video = _read_ladder_result(p, data, text)
        elif isinstance(data, dict) and "segment_sizes_bits" in data:
            video = read_sabre_video(p)
        else:
            raise VideoFormatError(
                p, "unknown video format: expected abrkit video JSON, Sabre movie JSON, an abrkit ladder result "
                "(result.json), or a directory of video_size_N files",
            )
    given = None if bitrates_kbps is None else np.asarray(bitrates_kbps, dtype=float)
    if given is not None and (given.shape != video.bitrates_kbps.shape or not np.allclose(video.bitrates_kbps, given)):
        raise ParameterError("bitrates_kbps", list(bitrates_kbps), f"differs from the ladder stored in {p}: {video.bitrates_kbps.tolist()}")
    return video


load_video = read_video
