"""Per-title ladder optimisation: search, hull, rungs, savings against fixed ladders.

:func:`optimize_ladder` encodes a source at many (resolution, CRF) points, scores each at the
display resolution (VMAF, PSNR, SSIM), builds the rate-quality convex hull across resolutions,
chooses rungs under :class:`~abrkit.encode.rungs.RungConstraints`, encodes the fixed reference
ladders (Apple HLS, Netflix 2015) the same way and reports the BD-rate of the per-title ladder
against each. Everything lands in a :class:`LadderResult`.

Two search modes sample the same grid of resolutions x CRFs:

* ``"exhaustive"`` encodes every grid point;
* ``"fast"`` (default) encodes a few points per resolution and then only those that can still
  reach the hull (:mod:`abrkit.encode.sampling`), a fraction of the encodes for nearly the same
  hull.

Every measured point goes to a cache (:mod:`abrkit.encode.cache`) the moment it exists, keyed
by the source's content, the encode settings, the quality settings and the tool versions, so a
re-run does no encode and an interrupted run resumes.

Determinism: the same inputs, tools and ``threads`` give the same tables, whatever ``workers``
is: jobs are keyed and sorted, fast mode decides in rounds from measured values only, and x264
output is deterministic for a fixed thread count (``threads`` is part of the encode settings,
default 1). Wall times (``elapsed_s``) naturally vary.

Units: bitrates in kbit/s (``_kbps``), sizes in bytes, durations in seconds; VMAF in points.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd

from .._checks import integer, number
from .._version import __version__
from ..errors import ParameterError, VideoFormatError
from .bdrate import bd_quality, bd_rate
from .cache import CacheWarning, MeasurementCache, default_cache_dir, file_sha256, point_key
from .encoder import CODECS, EncodeSettings, even_width
from .ffmpeg import FFmpeg, file_url, find_ffmpeg, temp_run_dir
from .hull import AXES, hull_frame, pareto_front
from .ladders import FIXED_LADDERS, FixedLadder
from .probe import MediaInfo, probe
from .quality import QualitySettings, encode_and_score
from .rungs import RungConstraints, select_rungs, validate_ladder
from .sampling import FastSearch, fast_search, max_points

from ..video import video_from_segments

if TYPE_CHECKING:
    from ..video import Video

__all__ = [
    "optimize_ladder",
    "LadderResult",
    "LadderProgress",
    "default_resolutions",
    "default_crfs",
    "MODES",
    "STANDARD_HEIGHTS",
    "DEFAULT_CRFS",
    "DEFAULT_FIXED_LADDERS",
    "POINT_COLUMNS",
    "RUNG_COLUMNS",
    "FIXED_COLUMNS",
    "SEGMENT_COLUMNS",
]

_JSON_FORMAT = "abrkit-ladder"
_JSON_VERSION = 1

#: Columns of :attr:`LadderResult.points` (one row per measured search encode), in order.
#: Quality columns beyond these (``vmaf_neg``, ``vmaf_phone``) are added when scored.
POINT_COLUMNS = (
    "point_id", "width", "height", "crf", "bitrate_kbps", "peak_bitrate_kbps", "size_bytes", "payload_bytes",
    "vmaf", "vmaf_hmean", "vmaf_min", "vmaf_p1", "vmaf_p5", "psnr_y", "psnr_u", "psnr_v", "ssim",
    "n_frames", "duration_s", "elapsed_s", "round", "cached", "on_pareto", "on_hull",
)
#: Columns of :attr:`LadderResult.rungs`: ``rung`` (1 = cheapest) then the point's columns.
RUNG_COLUMNS = ("rung",) + POINT_COLUMNS
#: Columns of each :attr:`LadderResult.fixed` table: the published rung, then what was measured.
FIXED_COLUMNS = (
    "rung", "target_kbps", "width", "height", "point_id", "bitrate_kbps", "peak_bitrate_kbps", "size_bytes",
    "payload_bytes", "vmaf", "vmaf_hmean", "vmaf_min", "vmaf_p1", "vmaf_p5", "psnr_y", "psnr_u", "psnr_v", "ssim",
    "n_frames", "duration_s", "elapsed_s", "cached",
)
#: Columns of :attr:`LadderResult.segments` (long format: one row per point and segment).
SEGMENT_COLUMNS = ("point_id", "segment", "duration_s", "size_bytes", "vmaf")

_INT_COLUMNS = ("width", "height", "size_bytes", "payload_bytes", "n_frames", "round", "rung", "segment")


@dataclass(frozen=True, eq=False)
class LadderResult:
    """Everything a per-title ladder search measured and decided.

    The tables are pandas DataFrames with a fresh ``RangeIndex``; do not modify them in place
    (the object is frozen, its tables are treated as read-only). Rows are sorted, so the same
    inputs give the same tables whatever the number of workers.

    Attributes
    ----------
    points : pandas.DataFrame
        One row per measured search encode (resolution x CRF), sorted by ``height``, ``width``,
        ``crf``. Columns (:data:`POINT_COLUMNS`): ``point_id`` (the cache key of the encode, a
        hex string; links to :attr:`segments`), ``width``, ``height`` (pixels), ``crf``,
        ``bitrate_kbps`` (mean video bitrate: packet payload bits over the duration),
        ``peak_bitrate_kbps`` (highest full-segment bitrate), ``size_bytes`` (file, container
        included), ``payload_bytes`` (video packets), ``vmaf`` (mean over frames), ``vmaf_hmean``
        (harmonic mean, libvmaf's definition), ``vmaf_min``, ``vmaf_p1``, ``vmaf_p5`` (1st and 5th
        percentiles), ``psnr_y``, ``psnr_u``, ``psnr_v`` (mean dB, capped at 60 dB for 8-bit),
        ``ssim`` (mean luma SSIM), ``n_frames``, ``duration_s`` (seconds scored), ``elapsed_s``
        (wall time of the encode-and-score run when it was measured), ``round`` (search round
        that asked for the point: 0 for every exhaustive point; fast mode counts up), ``cached``
        (True if read from the cache in this run), ``on_pareto`` and ``on_hull`` (see
        :func:`~abrkit.encode.hull.hull_frame`). Extra VMAF columns (``vmaf_neg``,
        ``vmaf_phone``) when the quality settings ask for them.
    hull : pandas.DataFrame
        The points on the upper convex hull (``settings["axis"]``) across resolutions, same
        columns as ``points``, by increasing ``bitrate_kbps``.
    rungs : pandas.DataFrame
        The chosen ladder, by increasing bitrate: ``rung`` (1 = cheapest), then the hull point's
        columns (``bitrate_kbps``, ``width``, ``height``, ``crf``, ``vmaf``, ...), chosen by
        :func:`~abrkit.encode.rungs.select_rungs` among the hull points with VMAF at least
        ``settings["min_vmaf"]``. These are CRF encodes; final renditions re-encode them with a
        peak cap (:func:`abrkit.encode.package.encode_renditions`).
    fixed : dict of str to pandas.DataFrame
        Fixed reference ladder name -> its rungs fitted to the source and measured, by
        increasing target: ``rung``, ``target_kbps`` (published bitrate), ``width``, ``height``
        (after :meth:`~abrkit.encode.ladders.FixedLadder.resolve`), then the measured columns
        (:data:`FIXED_COLUMNS`). Each rung is a one-pass target-bitrate encode capped at
        ``settings["fixed_peak_factor"]`` times the target.
    bd_rate : dict of str to float or None
        Fixed ladder name -> BD-rate in percent of the per-title **rungs** against that ladder's
        measured rungs, both as (``bitrate_kbps``, ``vmaf``) curves, PCHIP. Negative: the
        per-title ladder needs that many percent fewer bits for the same VMAF. None when it
        cannot be computed (fewer than 4 rungs, no VMAF overlap); the reason is in
        ``notes``.
    bd_rate_hull : dict of str to float or None
        The same with the whole per-title hull instead of the rungs (an upper bound on the
        savings: the hull has more points than any ladder uses).
    bd_vmaf : dict of str to float or None
        BD-quality: mean VMAF gain of the per-title rungs over the fixed ladder at equal bitrate.
    segments : pandas.DataFrame
        Per-segment measurements of every point and fixed rung (:data:`SEGMENT_COLUMNS`):
        ``point_id``, ``segment`` (0-based), ``duration_s``, ``size_bytes`` (video payload),
        ``vmaf`` (mean over the segment's frames). Used by :meth:`to_video`.
    settings : dict
        What was asked for: ``codec``, ``preset``, ``pix_fmt``, ``scaler`` (downscaling before
        the encode), ``segment_s``, ``threads`` (encoder threads per job; x264 output depends
        on it), ``mode``, ``axis``, ``resolutions`` (list of [width, height]), ``crfs``,
        ``constraints`` (the :class:`RungConstraints` fields), ``quality`` (the
        :class:`~abrkit.encode.quality.QualitySettings` key: ``vmaf_model``, ``scaler``
        (upscaling to the display size), ...), ``fixed_ladders``, ``fixed_peak_factor``,
        ``max_duration_s``, ``workers``, ``search`` (fast-mode parameters), ``min_vmaf``,
        ``bd_rate_method`` (``pchip``) and ``bd_rate_basis`` (``rungs``).
    versions : dict
        ``abrkit``, ``ffmpeg`` and ``libvmaf`` versions.
    source : dict
        ``path``, ``sha256`` (of the file's bytes), ``width``, ``height``, ``fps`` (``"num/den"``),
        ``n_frames``, ``duration_s``, ``pix_fmt``, ``bit_depth``, ``codec``, ``size_bytes`` of
        the source file, and ``scored_duration_s`` / ``scored_frames`` (what was encoded and
        scored: less than the source with ``max_duration_s``).
    n_encodes : dict
        ``search`` (points in the search), ``fixed`` (fixed-ladder rungs), ``performed`` (encodes
        run by this call), ``cached`` (read from the cache), ``search_performed``,
        ``fixed_performed``. ``performed + cached`` counts distinct encodes: two fixed ladders
        with the same rung (Apple's and Netflix's 3000 kbps 720p) share one.
    elapsed_s : float
        Wall time of the call.
    notes : list of str
        Anything the reader of the numbers should know (skipped BD-rates, ...).
    cpu_s : dict
        CPU seconds (user + system) of the ffmpeg processes: ``performed`` (the encodes this
        call ran), ``total`` (every encode the result uses, as recorded when it was measured;
        points cached before abrkit recorded CPU time count as missing) and ``missing`` (how
        many such points).
    """

    points: pd.DataFrame
    hull: pd.DataFrame
    rungs: pd.DataFrame
    fixed: dict[str, pd.DataFrame]
    bd_rate: dict[str, float | None]
    bd_rate_hull: dict[str, float | None]
    bd_vmaf: dict[str, float | None]
    segments: pd.DataFrame
    settings: dict[str, Any]
    versions: dict[str, Any]
    source: dict[str, Any]
    n_encodes: dict[str, int]
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    cpu_s: dict[str, float] = field(default_factory=dict)

    # -- views --------------------------------------------------------------------------------

    @property
    def ladder_kbps(self) -> list[float]:
        """The chosen rungs' bitrates in kbps, increasing."""
        return [float(x) for x in self.rungs["bitrate_kbps"]]

    def summary(self) -> pd.DataFrame:
        """One row per rung (``rung``, ``width``, ``height``, ``crf``, ``bitrate_kbps``, ``vmaf``)."""
        cols = ["rung", "width", "height", "crf", "bitrate_kbps", "peak_bitrate_kbps", "vmaf", "vmaf_p5"]
        return self.rungs[[c for c in cols if c in self.rungs.columns]].copy()

    def to_video(self, ladder: str | None = None, name: str | None = None, *, tail: str = "drop") -> "Video":
        """A :class:`~abrkit.video.Video` of the measured segments, for the simulator.

        :func:`abrkit.read_video` (and ``abrkit simulate --video``) gives the same Video from the
        ``result.json`` this result writes, or from the directory holding it.

        Parameters
        ----------
        ladder : str, optional
            None (default): the per-title rungs; else the name of a fixed ladder in
            :attr:`fixed`. Rungs with the same measured bitrate are merged (first kept).
        name : str, optional
            The video's name (default: ``per-title`` or the ladder's name).
        tail : {"drop", "keep"}
            A last segment shorter than ``settings["segment_s"]`` (a 4.1 s clip in 2 s
            segments ends with 0.1 s) is left out by default, so every simulated chunk holds
            the ``chunk_s`` of content its size and quality describe; ``"keep"`` keeps it with
            its real duration in ``Video.durations_s`` (:func:`~abrkit.video.video_from_segments`
            says what each costs).

        Returns
        -------
        Video
            Nominal bitrates: each rung's measured mean bitrate (``bitrate_kbps``, as in
            :attr:`rungs` and the printed table); chunk size: ``settings["segment_s"]``;
            per-chunk sizes: the measured segment payloads of each encode; per-chunk quality:
            the segment's mean VMAF; resolutions per rung; ``meta``: the source's SHA-256, the
            ladder, ``tail`` (``dropped``, ``kept`` or ``none``) and ``last_segment_s``.
        """
        if ladder is None:
            table = self.rungs
            label = "per-title"
        else:
            if ladder not in self.fixed:
                raise ParameterError("ladder", ladder, f"must be None or one of {', '.join(self.fixed) or '(none)'}")
            table = self.fixed[ladder]
            label = ladder
        if table.empty:
            raise ParameterError("ladder", ladder, "has no measured rungs")
        table = table.sort_values("bitrate_kbps", kind="stable").drop_duplicates("bitrate_kbps")
        ids = list(table["point_id"])
        seg = self.segments[self.segments["point_id"].isin(ids)]
        per_rung = []
        for pid in ids:
            rows = seg[seg["point_id"] == pid].sort_values("segment")
            if rows.empty:
                raise VideoFormatError(None, f"no per-segment measurements for point {pid} in this result")
            if per_rung and len(rows) != len(per_rung[0][0]):
                raise VideoFormatError(None, f"point {pid} has {len(rows)} segments, another rung {len(per_rung[0][0])}")
            per_rung.append((
                rows["duration_s"].to_numpy(dtype=np.float64),
                rows["size_bytes"].to_numpy(dtype=np.float64),
                rows["vmaf"].to_numpy(dtype=np.float64),
            ))
        return video_from_segments(
            table["bitrate_kbps"].to_numpy(dtype=np.float64),
            per_rung,
            segment_s=float(self.settings["segment_s"]),
            frame_s=_frame_s(self.source.get("fps")),
            resolutions=tuple((int(w), int(h)) for w, h in zip(table["width"], table["height"])),
            tail=tail,
            name=name if name is not None else label,
            meta={"source_sha256": self.source.get("sha256"), "ladder": label},
        )

    # -- serialisation ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the rungs under ``rungs``, BD-rates under ``bd_rate``, and every table.

        Tables are lists of records; NaN becomes None.
        """
        return {
            "format": _JSON_FORMAT,
            "version": _JSON_VERSION,
            "rungs": _records(self.rungs),
            "bd_rate": {k: _clean(v) for k, v in self.bd_rate.items()},
            "bd_rate_hull": {k: _clean(v) for k, v in self.bd_rate_hull.items()},
            "bd_vmaf": {k: _clean(v) for k, v in self.bd_vmaf.items()},
            "source": _clean(self.source),
            "settings": _clean(self.settings),
            "versions": _clean(self.versions),
            "n_encodes": dict(self.n_encodes),
            "elapsed_s": _clean(self.elapsed_s),
            "notes": list(self.notes),
            "cpu_s": _clean(dict(self.cpu_s)),
            "hull": _records(self.hull),
            "points": _records(self.points),
            "fixed": {k: _records(v) for k, v in self.fixed.items()},
            "segments": _records(self.segments),
        }

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_dict` as JSON to ``path`` (directories created); returns the path."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n"
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
        return out

    def to_csv(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Write ``points.csv``, ``hull.csv``, ``rungs.csv``, ``segments.csv`` and one
        ``fixed-<name>.csv`` per fixed ladder into ``directory`` (created); returns the paths."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        tables = [("points", self.points), ("hull", self.hull), ("rungs", self.rungs), ("segments", self.segments)]
        tables += [(f"fixed-{name}", frame) for name, frame in self.fixed.items()]
        for stem, frame in tables:
            path = folder / f"{stem}.csv"
            frame.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")
            written.append(path)
        return written

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LadderResult":
        """Rebuild a result from :meth:`to_dict` output."""
        if not isinstance(data, dict) or data.get("format") != _JSON_FORMAT:
            raise VideoFormatError(None, f"not an abrkit ladder result (format must be {_JSON_FORMAT!r})")
        try:
            points = _frame(data["points"], POINT_COLUMNS)
            return cls(
                points=points,
                hull=_frame(data["hull"], POINT_COLUMNS),
                rungs=_frame(data["rungs"], RUNG_COLUMNS),
                fixed={k: _frame(v, FIXED_COLUMNS) for k, v in data["fixed"].items()},
                bd_rate=_floats(data["bd_rate"]),
                bd_rate_hull=_floats(data.get("bd_rate_hull", {})),
                bd_vmaf=_floats(data.get("bd_vmaf", {})),
                segments=_frame(data["segments"], SEGMENT_COLUMNS),
                settings=dict(data["settings"]),
                versions=dict(data["versions"]),
                source=dict(data["source"]),
                n_encodes={k: int(v) for k, v in data["n_encodes"].items()},
                elapsed_s=float(data.get("elapsed_s") or 0.0),
                notes=list(data.get("notes", [])),
                cpu_s={k: float(v) for k, v in (data.get("cpu_s") or {}).items() if v is not None},
            )
        except (KeyError, TypeError, ValueError) as err:
            raise VideoFormatError(None, f"malformed abrkit ladder result: {err!r}") from err

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> "LadderResult":
        """Read a result written by :meth:`to_json`."""
        file = Path(path)
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise VideoFormatError(file, "file not found") from None
        except (OSError, ValueError) as err:
            raise VideoFormatError(file, f"cannot read ladder result JSON: {err}") from err
        try:
            return cls.from_dict(data)
        except VideoFormatError as err:
            raise VideoFormatError(file, err.message) from None

    def __repr__(self) -> str:
        kbps = ", ".join(f"{b:.0f}" for b in self.ladder_kbps)
        bd = ", ".join(f"{k}: {'n/a' if v is None else f'{v:+.1f} %'}" for k, v in self.bd_rate.items())
        return (
            f"LadderResult(mode={self.settings.get('mode')!r}, points={len(self.points)}, hull={len(self.hull)}, "
            f"rungs_kbps=[{kbps}], bd_rate={{{bd}}})"
        )


# -- helpers ----------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """JSON-ready copy: NaN/inf -> None, numpy scalars -> Python, tuples -> lists."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        x = float(value)
        return x if math.isfinite(x) else None
    return value


def _frame_s(fps: Any) -> float | None:
    """One frame's duration from a ``"num/den"`` frame rate (None if unreadable)."""
    try:
        rate = Fraction(str(fps))
    except (ValueError, ZeroDivisionError):
        return None
    return float(1 / rate) if rate > 0 else None


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [_clean(row) for row in frame.to_dict(orient="records")]


def _frame(records: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        frame = pd.DataFrame(columns=list(columns))
    for col in frame.columns:
        if col in _INT_COLUMNS and frame[col].notna().all():
            frame[col] = frame[col].astype(np.int64)
        elif col == "cached":
            frame[col] = frame[col].astype(bool)
        elif col not in ("point_id",) and frame[col].dtype == object:
            converted = pd.to_numeric(frame[col], errors="coerce")
            if converted.notna().sum() == frame[col].notna().sum():
                frame[col] = converted.astype(np.float64)
    return frame.reset_index(drop=True)


def _floats(mapping: dict[str, Any]) -> dict[str, float | None]:
    return {str(k): (None if v is None else float(v)) for k, v in mapping.items()}


# ==============================================================================================
# the optimizer
# ==============================================================================================

#: Search modes of :func:`optimize_ladder`.
MODES = ("fast", "exhaustive")

#: Standard ladder heights, highest first. The default search uses the source's own height and
#: those of these below it, down to :data:`MIN_DEFAULT_HEIGHT`.
STANDARD_HEIGHTS = (2160, 1440, 1080, 720, 540, 432, 360, 270, 234)

#: The lowest height of the default resolutions (Apple's lowest rung, 416x234).
MIN_DEFAULT_HEIGHT = 234

#: Default CRF grid of each codec (both modes sample it; fast mode encodes a subset). x264 and
#: x265: 16 to 50 in steps of 2 (18 CRFs); SVT-AV1 and VP9 (0-63 scales): 20 to 62 in steps of 3
#: (15 CRFs). On the camera clip (x264, 720p source) CRF 16 to 50 spans VMAF 99.9 to 32 at 720p
#: and 86 to 5 at 234p, and a step of 2 is where the hull stops changing: the hull of the step-4
#: subgrid needs 1.5 % more rate at equal VMAF (docs/ladder.md).
DEFAULT_CRFS: dict[str, tuple[float, ...]] = {
    "x264": tuple(float(c) for c in range(16, 51, 2)),
    "x265": tuple(float(c) for c in range(16, 51, 2)),
    "svtav1": tuple(float(c) for c in range(20, 63, 3)),
    "vp9": tuple(float(c) for c in range(20, 63, 3)),
}

#: Fixed ladders compared against by default (names of :data:`~abrkit.encode.ladders.FIXED_LADDERS`).
DEFAULT_FIXED_LADDERS = ("apple-hls-h264", "netflix-2015")

#: Default lowest VMAF of a rung (``min_vmaf`` of :func:`optimize_ladder`).
DEFAULT_MIN_VMAF = 30.0

#: A fixed-ladder rung is encoded at its bitrate with a peak cap of this factor times the
#: bitrate (Apple's authoring rule: VOD peak at most 200 % of the average).
FIXED_PEAK_FACTOR = 2.0

_MEASUREMENT_SCHEMA = 1


@dataclass(frozen=True)
class LadderProgress:
    """What a ``progress`` callable of :func:`optimize_ladder` receives after each point.

    Attributes
    ----------
    stage : str
        ``"search"`` (a grid point) or ``"fixed"`` (a fixed-ladder rung).
    done : int
        Points finished so far in this call, both stages, cached ones included.
    total : int
        The most points this call measures, known before the first encode (the grid, or fast
        mode's budget, :func:`~abrkit.encode.sampling.max_points`, plus the fixed rungs); when a
        fast search stops before its budget it drops to the points done plus the fixed rungs.
    label : str
        The encode's label (``x264_640x360_crf28_medium``).
    cached : bool
        True if the point came from the cache (no encode).
    bitrate_kbps, vmaf : float
        What was measured.
    """

    stage: str
    done: int
    total: int
    label: str
    cached: bool
    bitrate_kbps: float
    vmaf: float


class _Cancelled(Exception):
    """Raised inside a worker's ffmpeg progress callback to stop it (not an abrkit error)."""


def default_resolutions(source_width: int, source_height: int) -> list[tuple[int, int]]:
    """The default search resolutions for a source, largest first.

    The source's own size (each dimension rounded down to even), then every height of
    :data:`STANDARD_HEIGHTS` below the source's down to :data:`MIN_DEFAULT_HEIGHT`, each with
    the even width that keeps the source's aspect ratio. A source at most 234 pixels high gets
    its own size and half of it.
    """
    w = integer("source_width", source_width, ge=2)
    h = integer("source_height", source_height, ge=2)
    top = (w - w % 2, h - h % 2)
    out = [top]
    for height in STANDARD_HEIGHTS:
        if MIN_DEFAULT_HEIGHT <= height < top[1]:
            out.append((min(even_width(w, h, height), top[0]), height))
    if len(out) == 1 and top[1] >= 8:
        half = max(2, (top[1] // 2) - (top[1] // 2) % 2)
        out.append((min(even_width(w, h, half), top[0]), half))
    return out


def default_crfs(codec: str) -> tuple[float, ...]:
    """The default CRF grid of ``codec`` (:data:`DEFAULT_CRFS`)."""
    if codec not in DEFAULT_CRFS:
        raise ParameterError("codec", codec, f"must be one of {', '.join(DEFAULT_CRFS)}")
    return DEFAULT_CRFS[codec]


def _parse_resolutions(value: object, info: MediaInfo) -> list[tuple[int, int]]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ParameterError("resolutions", value, "must be a sequence of (width, height) pairs or heights")
    out: list[tuple[int, int]] = []
    for k, item in enumerate(value):  # type: ignore[union-attr]
        name = f"resolutions[{k}]"
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            h = integer(name, int(item), ge=2)
            pair = (even_width(info.width, info.height, h), h)
        else:
            try:
                w, h = item  # type: ignore[misc]
            except (TypeError, ValueError):
                raise ParameterError(name, item, "must be a (width, height) pair or a height") from None
            pair = (integer(f"{name} width", w, ge=2), integer(f"{name} height", h, ge=2))
        if pair[0] % 2 or pair[1] % 2:
            raise ParameterError(name, f"{pair[0]}x{pair[1]}", "width and height must be even (4:2:0 video)")
        if pair[0] > info.width or pair[1] > info.height:
            raise ParameterError(
                name, f"{pair[0]}x{pair[1]}",
                f"must not exceed the source's {info.width}x{info.height}: encoders do not upscale",
            )
        if pair not in out:
            out.append(pair)
    if not out:
        raise ParameterError("resolutions", value, "must name at least one resolution")
    out.sort(key=lambda p: (-p[0] * p[1], -p[1], -p[0]))  # largest first, as fast mode expects
    return out


def _parse_crfs(value: object, codec: str) -> list[float]:
    spec = CODECS[codec]
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ParameterError("crfs", value, "must be a sequence of numbers")
    lo, hi = spec.crf_range
    out = set()
    for k, item in enumerate(value):  # type: ignore[union-attr]
        crf = number(f"crfs[{k}]", item, ge=lo, le=hi)
        if spec.crf_integer and crf != int(crf):
            raise ParameterError(f"crfs[{k}]", item, f"must be a whole number for {codec}")
        out.add(crf)
    if not out:
        raise ParameterError("crfs", value, "must hold at least one CRF")
    return sorted(out)


def optimize_ladder(
    source: str | os.PathLike[str],
    *,
    codec: str = "x264",
    mode: str = "fast",
    resolutions: Sequence[tuple[int, int] | int] | None = None,
    crfs: Sequence[float] | None = None,
    constraints: RungConstraints | None = None,
    quality: QualitySettings | None = None,
    segment_s: float = 2.0,
    preset: str | None = None,
    axis: str = "linear",
    fixed_ladders: Sequence[str | FixedLadder] = DEFAULT_FIXED_LADDERS,
    workers: int | None = None,
    threads: int = 1,
    cache_dir: str | os.PathLike[str] | bool | None = None,
    progress: Callable[[LadderProgress], None] | bool | None = None,
    ffmpeg: FFmpeg | str | os.PathLike[str] | None = None,
    max_duration_s: float | None = None,
    pix_fmt: str = "yuv420p",
    scaler: str = "bicubic",
    search: FastSearch | None = None,
    min_vmaf: float | None = DEFAULT_MIN_VMAF,
    scheduler: Any = None,
    encoder_args: Sequence[str] = (),
) -> LadderResult:
    """Find the per-title bitrate ladder of ``source``.

    Parameters
    ----------
    source : path
        The source video (its first video stream; audio is ignored).
    codec : str
        ``x264`` (default), ``x265``, ``svtav1`` or ``vp9``
        (:data:`~abrkit.encode.encoder.CODECS`). Fixed ladders are encoded with it too.
    mode : {"fast", "exhaustive"}
        ``exhaustive`` encodes every (resolution, CRF) of the grid; ``fast`` (default) samples
        it adaptively (:func:`~abrkit.encode.sampling.fast_search`).
    resolutions : sequence, optional
        ``(width, height)`` pairs (even, at most the source's) or heights (width from the
        source's aspect ratio). Default :func:`default_resolutions`.
    crfs : sequence of float, optional
        The CRF grid. Default :func:`default_crfs`: per codec, from near-transparent to
        heavily degraded, so each resolution gets at least 6 quality points from about VMAF 30
        to 97 on typical content.
    constraints : RungConstraints, optional
        What the ladder must satisfy (default ``RungConstraints()``: one JND of 6 VMAF
        between rungs, cap at VMAF 95).
    quality : QualitySettings, optional
        VMAF model, upscaling scaler and metrics (default ``QualitySettings()``: VMAF v0.6.1,
        bicubic). Its ``n_threads`` is replaced by ``threads``.
    segment_s : float
        Segment duration in seconds (keyframe interval; per-segment sizes and quality).
    preset : str, optional
        Encoder preset (default: the codec's default, ``medium`` for x264).
    axis : {"linear", "log"}
        Rate axis of the convex hull (:mod:`abrkit.encode.hull`); default linear.
    fixed_ladders : sequence of str or FixedLadder
        Fixed ladders to encode and compare against: names in
        :data:`~abrkit.encode.ladders.FIXED_LADDERS` or :class:`~abrkit.encode.ladders.FixedLadder`
        objects (default Apple HLS and Netflix 2015; empty for none). Each is fitted to the
        source with :meth:`~abrkit.encode.ladders.FixedLadder.resolve`.
    workers : int, optional
        Concurrent ffmpeg jobs. Default ``os.cpu_count() // threads``; ``workers * threads``
        may not exceed the CPU count.
    threads : int
        Threads of each job (``-threads`` of the encoder, ``n_threads`` of libvmaf); default 1.
        x264's output depends on its thread count, so it is part of every cache key: keep it
        fixed to reuse the cache and reproduce results across machines.
    cache_dir : path, bool or None
        Where measured points are stored (:mod:`abrkit.encode.cache`). None or True: the user
        cache directory (:func:`~abrkit.encode.cache.default_cache_dir`, overridable with
        ``ABRKIT_CACHE_DIR``); False: no cache on disk. The CLI uses ``OUT/.abrkit-cache``.
    progress : callable, bool or None
        None: a tqdm bar on stderr when it is a terminal; True/False: bar or nothing; a callable
        gets a :class:`LadderProgress` after each point (an exception it raises stops the job:
        running encodes are killed, finished points stay in the cache).
    ffmpeg : FFmpeg or path, optional
        The ffmpeg to use (default :func:`~abrkit.encode.ffmpeg.find_ffmpeg`).
    max_duration_s : float, optional
        Encode and score only the first this many seconds (rounded down to whole frames), for
        quick runs. The cut is made once, losslessly (FFV1), and used as the reference.
    pix_fmt : str
        Pixel format of the encodes (default ``yuv420p``).
    scaler : str
        Scaler used to downscale the source before encoding (default bicubic); the scaler that
        upscales for scoring is ``quality.scaler``.
    search : FastSearch, optional
        Parameters of fast mode (:class:`~abrkit.encode.sampling.FastSearch`).
    min_vmaf : float or None
        Lowest VMAF a rung may have (default 30): the grid reaches far below what anyone should
        watch (VMAF 5 at 234p and CRF 50), and rung selection prefers the cheapest point, so
        without a floor the bottom rung would be such a point. Points below it stay in
        ``points`` and ``hull``; only rung candidates are filtered. None: no floor.
    scheduler : None, "processes", distributed.Client or str
        Where the encodes run (:mod:`abrkit.cluster`). None: ``workers`` threads here, each
        driving one ffmpeg. Otherwise every encode is a task: on a local process pool
        (``"processes"``) or a Dask cluster (a Client or its address); workers read the source
        and write each measured point to the cache themselves, so ``cache_dir`` and the source
        must be on a file system every worker sees. The tables are the same.
    encoder_args : sequence of str
        Extra ffmpeg output options for every encode (``EncodeSettings.extra``; part of each
        cache key), after abrkit's own: e.g. ``("-tune", "film")``, or x264's rate control
        made a constant quantizer at each CRF, the setting per-shot encoding is usually
        compared in: ``("-x264-params", "qcomp=1:aq-mode=0:mbtree=0")`` (an ``-x264-params``
        given here replaces abrkit's ``open-gop=0``, x264's default anyway). Keyframe
        placement, scaling and rate-control mode stay abrkit's: options that change them break
        the segment measurements.

    Returns
    -------
    LadderResult

    Raises
    ------
    ParameterError
        A bad argument; a resolution above the source's; ``workers * threads`` above the CPU
        count; constraints that contradict each other or that no measured ladder satisfies;
        ``allowed_resolutions`` outside the searched resolutions.
    VideoFormatError
        The source is missing, not a video or corrupt.
    ToolNotFoundError
        ffmpeg, its libvmaf or the codec's encoder is missing.
    FFmpegError
        An encode failed.
    """
    started = time.perf_counter()
    # -- arguments (everything checked before the first encode) ----------------------------------
    if mode not in MODES:
        raise ParameterError("mode", mode, f"must be one of {', '.join(MODES)}")
    if codec not in CODECS:
        raise ParameterError("codec", codec, f"must be one of {', '.join(CODECS)}")
    if axis not in AXES:
        raise ParameterError("axis", axis, f"must be one of {', '.join(AXES)}")
    cons = RungConstraints() if constraints is None else constraints
    if not isinstance(cons, RungConstraints):
        raise ParameterError("constraints", constraints, "must be a RungConstraints")
    qs = QualitySettings() if quality is None else quality
    if not isinstance(qs, QualitySettings):
        raise ParameterError("quality", quality, "must be a QualitySettings")
    segment_s = number("segment_s", segment_s, gt=0)
    threads = integer("threads", threads, ge=1)
    cpus = os.cpu_count() or 1
    if workers is None:
        workers = max(1, cpus // threads)
    else:
        workers = integer("workers", workers, ge=1)
        if workers * threads > max(cpus, threads):
            raise ParameterError(
                "workers", workers,
                f"workers x threads = {workers} x {threads} exceeds the {cpus} CPUs of this machine; "
                "lower workers or threads",
            )
    if max_duration_s is not None:
        max_duration_s = number("max_duration_s", max_duration_s, gt=0)
    if isinstance(fixed_ladders, (str, FixedLadder)):
        fixed_ladders = (fixed_ladders,)
    fixed_by_name: dict[str, FixedLadder] = {}
    for item in fixed_ladders:
        if isinstance(item, FixedLadder):
            fixed_by_name.setdefault(item.name, item)
        elif isinstance(item, str) and item in FIXED_LADDERS:
            fixed_by_name.setdefault(item, FIXED_LADDERS[item])
        else:
            raise ParameterError(
                "fixed_ladders", item, f"must be FixedLadder objects or names among {', '.join(FIXED_LADDERS)}",
            )
    fixed_names = list(fixed_by_name)
    params = FastSearch() if search is None else search
    if not isinstance(params, FastSearch):
        raise ParameterError("search", search, "must be a FastSearch")
    crf_grid = _parse_crfs(default_crfs(codec) if crfs is None else crfs, codec)
    # Settings are validated by building one (preset, pix_fmt, scaler).
    extra = EncodeSettings(codec=codec, width=2, height=2, crf=crf_grid[0], preset=preset, segment_s=segment_s,
                           pix_fmt=pix_fmt, scaler=scaler, threads=threads, extra=encoder_args).extra
    if min_vmaf is not None:
        min_vmaf = number("min_vmaf", min_vmaf, ge=0, le=100)
    if progress is not None and not isinstance(progress, bool) and not callable(progress):
        raise ParameterError("progress", progress, "must be None, a bool or a callable")

    if cache_dir is None or cache_dir is True:
        cache = MeasurementCache(default_cache_dir())
    elif cache_dir is False:
        cache = MeasurementCache(None)
    else:
        cache = MeasurementCache(cache_dir)
    cache.prepare()  # a bad location is an error now, before any encode
    if scheduler is not None:
        from ..cluster import Executor, check_scheduler

        if not isinstance(scheduler, Executor):
            check_scheduler(scheduler)

    # -- tools and source -----------------------------------------------------------------------
    if ffmpeg is None:
        ff = find_ffmpeg()
    elif isinstance(ffmpeg, FFmpeg):
        ff = ffmpeg
    else:
        ff = find_ffmpeg(ffmpeg)
    ff.require_encoder(CODECS[codec].encoder)
    ff.require_filter("libvmaf")
    source_path = Path(source)
    info = probe(source_path, ff)  # VideoFormatError for missing / not video / corrupt
    grid_res = default_resolutions(info.width, info.height) if resolutions is None else _parse_resolutions(resolutions, info)
    if cons.allowed_resolutions is not None and not set(cons.allowed_resolutions) & set(grid_res):
        raise ParameterError(
            "constraints.allowed_resolutions", cons.allowed_resolutions,
            f"none of them is searched (resolutions: {', '.join(f'{w}x{h}' for w, h in grid_res)})",
        )
    sha = file_sha256(source_path, cache)
    cache.prepare(sha)
    libvmaf = ff.libvmaf_version

    with temp_run_dir(prefix="abrkit-ladder-") as workdir:
        frames: int | str = "all"
        encode_source, encode_info = source_path, info
        if max_duration_s is not None:
            k = max(1, int(math.floor(max_duration_s * float(info.fps) + 1e-9)))
            if k < info.n_frames:
                frames = k
                # workers elsewhere read the cut from the cache directory, which they all see
                cut_dir = cache.directory / "cuts" if scheduler is not None and cache.directory is not None else Path(workdir)
                encode_source, encode_info = _first_frames(source_path, k, cut_dir, ff, tag=sha[:16])
        runner = _Runner(
            ff=ff, source=encode_source, info=encode_info, quality=replace(qs, n_threads=threads), cache=cache,
            sha=sha, frames=frames, workers=workers, progress=progress, libvmaf=libvmaf, scheduler=scheduler,
        )
        base = dict(codec=codec, preset=preset, segment_s=segment_s, pix_fmt=pix_fmt, scaler=scaler, threads=threads,
                    extra=extra)

        def settings_of(r: int, crf: float) -> EncodeSettings:
            w, h = grid_res[r]
            return EncodeSettings(width=w, height=h, crf=crf, **base)  # type: ignore[arg-type]

        fixed_plan = []
        for name in fixed_names:
            ladder = fixed_by_name[name].resolve(info.width, info.height)
            for k, rung in enumerate(ladder.rungs, start=1):
                settings = EncodeSettings(
                    width=int(rung.width), height=int(rung.height), bitrate_kbps=rung.bitrate_kbps,
                    max_bitrate_kbps=rung.bitrate_kbps * FIXED_PEAK_FACTOR, **base,  # type: ignore[arg-type]
                )
                fixed_plan.append((name, k, rung, settings))

        try:
            n_grid = len(grid_res) * len(crf_grid)
            runner.start(planned=(n_grid if mode == "exhaustive" else max_points(len(grid_res), len(crf_grid), params))
                         + len(fixed_plan))
            rows: list[dict[str, Any]] = []
            if mode == "exhaustive":
                jobs = [(r, crf) for r in range(len(grid_res)) for crf in crf_grid]
                rows = runner.measure([settings_of(r, c) for r, c in jobs], "search", 0)
            else:
                def measure(batch: list[tuple[int, float]], round_: int) -> list[tuple[float, float]]:
                    got = runner.measure([settings_of(r, c) for r, c in batch], "search", round_)
                    rows.extend(got)
                    return [(row["bitrate_kbps"], row["vmaf"]) for row in got]

                fast_search(len(grid_res), crf_grid, measure, params=params, axis=axis,
                            pixels=[w * h for w, h in grid_res])
                runner.settle(len(fixed_plan))  # the search may stop before its budget
            fixed_rows = runner.measure([p[3] for p in fixed_plan], "fixed", 0)
        finally:
            runner.close()

    # -- hull, rungs, comparison ----------------------------------------------------------------
    points = _points_frame(rows)
    hulled = hull_frame(points, axis=axis)  # type: ignore[arg-type]
    points["on_pareto"] = hulled["on_pareto"].to_numpy()
    points["on_hull"] = hulled["on_hull"].to_numpy()
    hull = points[points["on_hull"]].sort_values("bitrate_kbps", kind="stable").reset_index(drop=True)
    candidates = hull if min_vmaf is None else hull[hull["vmaf"] >= min_vmaf]
    if candidates.empty:
        raise ParameterError(
            "min_vmaf", min_vmaf, f"no point on the hull reaches it (the best VMAF measured is {hull['vmaf'].max():.2f})",
        )
    chosen = select_rungs(candidates, cons)
    problems = validate_ladder(chosen, cons)
    if problems:  # select_rungs guarantees a valid ladder; this would be a bug
        raise RuntimeError("select_rungs returned an invalid ladder: " + "; ".join(problems))
    rungs = chosen.sort_values("bitrate_kbps", kind="stable").reset_index(drop=True)
    rungs.insert(0, "rung", np.arange(1, len(rungs) + 1, dtype=np.int64))

    fixed: dict[str, pd.DataFrame] = {}
    for name in fixed_names:
        records = []
        for (ladder_name, k, rung, _), row in zip(fixed_plan, fixed_rows):
            if ladder_name == name:
                measured = {c: v for c, v in row.items() if c in FIXED_COLUMNS or c.startswith(("vmaf_", "_"))}
                records.append({**measured, "rung": k, "target_kbps": float(rung.bitrate_kbps)})
        fixed[name] = _table(records, FIXED_COLUMNS)

    notes: list[str] = []
    bd_rungs, bd_hull, bd_q = {}, {}, {}
    for name, table in fixed.items():
        bd_rungs[name], bd_q[name] = _compare(name, "rungs", rungs, table, notes)
        bd_hull[name], _ = _compare(name, "hull", hull, table, notes)

    segments = _segments_frame(rows + fixed_rows)
    settings_record = {
        "codec": codec, "encoder": CODECS[codec].encoder,
        "preset": preset if preset is not None else CODECS[codec].default_preset,
        "pix_fmt": pix_fmt, "scaler": scaler, "segment_s": segment_s, "threads": threads, "workers": workers,
        "encoder_args": list(extra), "mode": mode, "axis": axis, "resolutions": [list(p) for p in grid_res], "crfs": list(crf_grid),
        "constraints": _constraints_dict(cons), "quality": qs.key(), "fixed_ladders": fixed_names,
        "fixed_peak_factor": FIXED_PEAK_FACTOR, "max_duration_s": max_duration_s,
        "search": params.to_dict() if mode == "fast" else None, "bd_rate_method": "pchip",
        "bd_rate_basis": "rungs", "min_vmaf": min_vmaf,
    }
    source_record = {
        "path": str(source_path), "sha256": sha, "width": info.width, "height": info.height,
        "fps": f"{info.fps.numerator}/{info.fps.denominator}", "n_frames": info.n_frames,
        "duration_s": info.duration_s, "pix_fmt": info.pix_fmt, "bit_depth": info.bit_depth, "codec": info.codec,
        "size_bytes": info.size_bytes, "scored_frames": encode_info.n_frames, "scored_duration_s": encode_info.duration_s,
    }
    return LadderResult(
        points=points.reset_index(drop=True),
        hull=hull,
        rungs=rungs,
        fixed=fixed,
        bd_rate=bd_rungs,
        bd_rate_hull=bd_hull,
        bd_vmaf=bd_q,
        segments=segments,
        settings=settings_record,
        versions={"abrkit": __version__, "ffmpeg": ff.version, "libvmaf": libvmaf},
        source=source_record,
        n_encodes=_encode_counts(rows, fixed_rows),
        elapsed_s=time.perf_counter() - started,
        notes=notes,
        cpu_s=runner.cpu_totals(rows + fixed_rows),
    )


# -- measuring --------------------------------------------------------------------------------


class _Runner:
    """Measures points: cache first, else encode-and-score in a thread pool, storing each at once."""

    def __init__(
        self, *, ff: FFmpeg, source: Path, info: MediaInfo, quality: QualitySettings, cache: MeasurementCache,
        sha: str, frames: int | str, workers: int, progress: Any, libvmaf: str | None, scheduler: Any = None,
    ) -> None:
        self.ff, self.source, self.info, self.quality, self.cache = ff, source, info, quality, cache
        self.sha, self.frames, self.workers, self.libvmaf = sha, frames, workers, libvmaf
        self.cpu_performed_s = 0.0
        self._scheduler = scheduler
        self._executor: Any = None
        self._owns_executor = False
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._done = 0
        self._total = 0
        self._callback: Callable[[LadderProgress], None] | None = None
        self._bar = None
        show = sys.stderr.isatty() if progress is None else progress
        if callable(progress) and not isinstance(progress, bool):
            self._callback = progress
        elif show:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=0, unit="point", desc="ladder", file=sys.stderr, dynamic_ncols=True)

    def start(self, planned: int) -> None:
        """The most points this run measures (the progress total, before the first encode)."""
        self._set_total(planned)

    def settle(self, remaining: int) -> None:
        """The total becomes what was done plus ``remaining`` (a fast search stopped early)."""
        self._set_total(self._done + int(remaining))

    def _set_total(self, total: int) -> None:
        self._total = int(total)
        if self._bar is not None:
            self._bar.total = self._total
            self._bar.refresh()

    def cpu_totals(self, rows: list[dict[str, Any]]) -> dict[str, float]:
        """``performed``, ``total`` and ``missing`` of :attr:`LadderResult.cpu_s` for ``rows``."""
        seen: dict[str, Any] = {}
        for row in rows:
            seen.setdefault(row["point_id"], row.get("_cpu_s"))
        known = [float(v) for v in seen.values() if v is not None]
        return {"performed": self.cpu_performed_s, "total": float(sum(known)), "missing": float(len(seen) - len(known))}

    def close(self) -> None:
        self._stop.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._executor is not None and self._owns_executor:
            self._executor.close()
        self._executor = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def context(self, settings: EncodeSettings) -> dict[str, Any]:
        """Everything a measurement depends on (its cache key is the hash of this)."""
        return {
            "schema": _MEASUREMENT_SCHEMA,
            "source_sha256": self.sha,
            "frames": self.frames,
            "encode": settings.key(),
            "quality": self.quality.key(),
            "ffmpeg": self.ff.version,
            "libvmaf": self.libvmaf,
        }

    def measure(self, batch: list[EncodeSettings], stage: str, round_: int) -> list[dict[str, Any]]:
        """Rows (settings + measurement) for ``batch``, in its order."""
        keys = []
        for settings in batch:
            ctx = self.context(settings)
            keys.append((point_key(ctx), ctx))
        found: dict[str, tuple[dict[str, Any], bool]] = {}
        todo: dict[str, tuple[EncodeSettings, dict[str, Any]]] = {}
        for settings, (key, ctx) in zip(batch, keys):
            if key in found or key in todo:
                continue
            hit = self.cache.get(self.sha, key)
            if hit is not None and not _usable_measurement(hit):
                warnings.warn(
                    f"cache {self.cache.points_path(self.sha)}: the record of point {key[:16]} "
                    f"({settings.label()}) is not a measurement this abrkit can use; measuring it again",
                    CacheWarning,
                    stacklevel=3,
                )
                hit = None
            if hit is not None:
                found[key] = (hit, True)
                self._report(stage, settings, hit, True)
            else:
                todo[key] = (settings, ctx)
        if todo and self._scheduler is not None:
            self._measure_elsewhere(todo, found, stage)
        elif todo:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="abrkit-ladder")
            futures: dict[Future, str] = {
                self._pool.submit(self._work, settings, key, ctx): key for key, (settings, ctx) in todo.items()
            }
            pending = set(futures)
            try:
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in sorted(finished, key=lambda f: futures[f]):
                        key = futures[fut]
                        measurement = fut.result()
                        found[key] = (measurement, False)
                        self._report(stage, todo[key][0], measurement, False)
            except BaseException:
                self._stop.set()
                for fut in pending:
                    fut.cancel()
                wait(pending)
                raise
        return [_row(settings, *found[key], round_, key) for settings, (key, _) in zip(batch, keys)]

    def _measure_elsewhere(
        self, todo: dict[str, tuple[EncodeSettings, dict[str, Any]]], found: dict[str, tuple[dict[str, Any], bool]],
        stage: str,
    ) -> None:
        """Every encode of ``todo`` as one task of the scheduler; each lands in ``found``."""
        from ..cluster import Executor, future_key, open_executor

        if self._executor is None:
            if isinstance(self._scheduler, Executor):
                self._executor = self._scheduler
            else:
                self._executor = open_executor(self._scheduler, n_processes=self.workers)
                self._owns_executor = True
        ex = self._executor
        store = None if self.cache.directory is None else str(self.cache.directory)
        futures = [
            ex.submit(
                _encode_task, self.source, self.info, settings, self.quality, self.ff, store, self.sha, key, ctx,
                shared=False,
            )
            for key, (settings, ctx) in todo.items()
        ]
        keys = {future_key(f): key for f, key in zip(futures, todo)}
        try:
            for fut in ex.as_completed(futures):
                key = keys[future_key(fut)]
                measurement, performed = ex.result(fut)
                found[key] = (measurement, not performed)
                if store is None:
                    self.cache.put(self.sha, key, todo[key][1], measurement)
                else:
                    self.cache.remember(self.sha, key, measurement)  # the worker stored it
                if performed:
                    self.cpu_performed_s += float(measurement.get("cpu_s") or 0.0)
                self._report(stage, todo[key][0], measurement, not performed)
        except BaseException:
            ex.cancel(futures)
            raise

    def _work(self, settings: EncodeSettings, key: str, ctx: dict[str, Any]) -> dict[str, Any]:
        if self._stop.is_set():
            raise _Cancelled()
        measurement = _encode(self.source, self.info, settings, self.quality, self.ff, self._check_stop)
        self.cache.put(self.sha, key, ctx, measurement)  # stored before anyone hears of it
        with self._lock:
            self.cpu_performed_s += float(measurement.get("cpu_s") or 0.0)
        return measurement

    def _check_stop(self, fraction: float) -> None:
        if self._stop.is_set():
            raise _Cancelled()

    def _report(self, stage: str, settings: EncodeSettings, measurement: dict[str, Any], cached: bool) -> None:
        self._done += 1
        if self._done > self._total:  # never, with the bounds given to start(); kept honest anyway
            self._set_total(self._done)
        if self._bar is not None:
            self._bar.set_postfix_str(f"{settings.label()}{' (cached)' if cached else ''}", refresh=False)
            self._bar.update(1)
        if self._callback is not None:
            pooled = measurement["pooled"].get("vmaf", {})
            self._callback(LadderProgress(
                stage=stage, done=self._done, total=self._total, label=settings.label(), cached=cached,
                bitrate_kbps=float(measurement["bitrate_kbps"]), vmaf=_num(pooled.get("mean")),
            ))


def _encode(
    source: Path, info: MediaInfo, settings: EncodeSettings, quality: QualitySettings, ff: FFmpeg,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Encode and score one point; the measurement the cache stores, with its ffmpeg ``cpu_s``."""
    from .ffmpeg import child_cpu_s

    cpu0 = child_cpu_s()
    with temp_run_dir(prefix="abrkit-ladder-") as tmp:
        enc, q = encode_and_score(
            source, settings, quality, tmp / f"{settings.label()}.mp4", ffmpeg=ff, progress=progress, source_info=info,
        )
        measurement = _measurement(enc, q)
    measurement["cpu_s"] = round(child_cpu_s() - cpu0, 4)
    return measurement


#: Stores opened by encode tasks in this (worker) process, by directory.
_TASK_STORES: dict[str, MeasurementCache] = {}
_TASK_STORES_LOCK = threading.Lock()
#: The ffmpeg of encode tasks in this (worker) process, by the client's (path, version).
_TASK_FFMPEG: dict[tuple[str, str], FFmpeg] = {}


def _worker_ffmpeg(ff: FFmpeg) -> FFmpeg:
    """The client's ffmpeg as this process knows it: one object per process, so its capability
    checks (``-encoders``, ``-filters``) run once, not in every task; and the same version, or
    the points would be stored under a version that did not measure them."""
    key = (ff.path, ff.version)
    with _TASK_STORES_LOCK:
        known = _TASK_FFMPEG.get(key)
    if known is not None:
        return known
    here = find_ffmpeg(ff.path)
    if here.version != ff.version:
        from ..errors import ToolNotFoundError

        raise ToolNotFoundError(
            f"the worker's ffmpeg at {ff.path} is version {here.version}, the client's {ff.version}: "
            "install the same ffmpeg on every worker (the version is part of every cache key)"
        )
    with _TASK_STORES_LOCK:
        return _TASK_FFMPEG.setdefault(key, here)


def _encode_task(
    source: Path, info: MediaInfo, settings: EncodeSettings, quality: QualitySettings, ff: FFmpeg,
    store: str | None, sha: str, key: str, ctx: dict[str, Any],
) -> tuple[dict[str, Any], bool]:
    """One encode as a cluster task: (measurement, performed). The point is appended to the
    shared store before the task returns, so a client that dies later loses nothing; a point
    the store already holds (a task run again after its worker died) is read, not encoded."""
    cache = None
    if store is not None:
        with _TASK_STORES_LOCK:
            cache = _TASK_STORES.get(store)
            if cache is None:
                cache = _TASK_STORES[store] = MeasurementCache(store)
        hit = cache.reload(sha).get(key)
        if hit is not None and _usable_measurement(hit):
            return hit, False
    measurement = _encode(source, info, settings, quality, _worker_ffmpeg(ff))
    if cache is not None:
        cache.put(sha, key, ctx, measurement)
    return measurement, True


def _first_frames(source: Path, n_frames: int, workdir: Path, ff: FFmpeg, tag: str = "") -> tuple[Path, MediaInfo]:
    """The first ``n_frames`` frames of ``source``'s video, losslessly (FFV1 in Matroska).

    With a ``tag`` (the source's hash) the cut is named after it and kept: a folder that other
    processes share (the cache's ``cuts``) is written by renaming a finished file into place,
    and a cut already there is reused."""
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / (f"{tag}-first{n_frames}.mkv" if tag else "source-first-frames.mkv")
    if tag and out.is_file():
        info = probe(out, ff)
        if info.n_frames == n_frames:
            return out, info
    partial = out.with_name(f".{out.stem}.{os.getpid()}.{threading.get_ident()}.mkv")
    ff.run(
        ["-i", file_url(source), "-map", "0:V:0", "-frames:v", str(n_frames), "-fps_mode", "passthrough",
         "-c:v", "ffv1", "-an", "-sn", "-dn", "-map_metadata", "-1", "-y", file_url(partial)],
        cwd=workdir,
    )
    os.replace(partial, out)
    info = probe(out, ff)
    if info.n_frames != n_frames:
        raise VideoFormatError(source, f"cutting the first {n_frames} frames gave {info.n_frames}")
    return out, info


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def _usable_measurement(m: Any) -> bool:
    """Whether a cached point has what :func:`_row` and :func:`_segments_frame` read, with sane types.

    Records are checked against their hash when read (:mod:`abrkit.encode.cache`); this catches
    a record that hashes right but was written by something else (or a future schema).
    """
    def real(x: Any, nullable: bool = False) -> bool:
        if x is None:
            return nullable
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

    try:
        if not (isinstance(m, dict) and all(real(m[k]) for k in ("bitrate_kbps", "size_bytes", "payload_bytes",
                                                                    "n_frames", "duration_s"))):
            return False
        if not all(real(m.get(k), nullable=True) for k in ("peak_bitrate_kbps", "elapsed_s")):
            return False
        pooled = m["pooled"]
        if not isinstance(pooled, dict) or not all(
            isinstance(v, dict) and all(real(x, nullable=True) for x in v.values()) for v in pooled.values()
        ):
            return False
        seg = m["segments"]
        columns = [seg["size_bytes"], seg["duration_s"], seg["vmaf"]]
        if not all(isinstance(c, list) for c in columns) or len({len(c) for c in columns}) != 1 or not columns[0]:
            return False
        return (
            all(real(x) and x >= 0 for x in columns[0])
            and all(real(x) and x > 0 for x in columns[1])
            and all(real(x, nullable=True) for x in columns[2])
        )
    except (KeyError, TypeError):
        return False


def _measurement(enc: Any, q: Any) -> dict[str, Any]:
    """What the cache stores for one encode-and-score (JSON-ready; NaN as None)."""
    pooled = {
        metric: {how: q.pooled.loc[metric, how] for how in q.pooled.columns} for metric in q.pooled.index
    }
    seg = q.per_segment
    sizes = [int(x) for x in enc.segment_sizes_bytes]
    if seg is None or len(seg) != len(sizes):
        raise VideoFormatError(
            enc.path, f"{len(sizes)} segments in the packets but {0 if seg is None else len(seg)} in the scores",
        )
    return _clean({
        "bitrate_kbps": enc.bitrate_kbps,
        "peak_bitrate_kbps": enc.peak_bitrate_kbps,
        "size_bytes": enc.size_bytes,
        "payload_bytes": enc.payload_bytes,
        "n_frames": enc.n_frames,
        "duration_s": enc.duration_s,
        "elapsed_s": enc.elapsed_s,
        "keyframe_aligned": enc.keyframe_aligned,
        "one_pass": bool(q.meta.get("one_pass", False)),
        "pooled": pooled,
        "segments": {
            "size_bytes": sizes,
            "duration_s": [float(x) for x in enc.segment_durations_s],
            "vmaf": [float(x) for x in seg["vmaf"]],
        },
    })


def _row(
    settings: EncodeSettings, m: dict[str, Any], cached: bool, round_: int, key: str,
) -> dict[str, Any]:
    pooled = m["pooled"]
    row: dict[str, Any] = {
        "point_id": key[:16],
        "width": settings.width,
        "height": settings.height,
        "crf": settings.crf if settings.crf is not None else math.nan,
        "bitrate_kbps": float(m["bitrate_kbps"]),
        "peak_bitrate_kbps": _num(m.get("peak_bitrate_kbps")),
        "size_bytes": int(m["size_bytes"]),
        "payload_bytes": int(m["payload_bytes"]),
    }
    vmaf = pooled.get("vmaf", {})
    row.update(
        vmaf=_num(vmaf.get("mean")), vmaf_hmean=_num(vmaf.get("harmonic_mean")), vmaf_min=_num(vmaf.get("min")),
        vmaf_p1=_num(vmaf.get("p1")), vmaf_p5=_num(vmaf.get("p5")),
    )
    for metric in ("psnr_y", "psnr_u", "psnr_v", "ssim"):
        row[metric] = _num(pooled.get(metric, {}).get("mean"))
    for metric in ("vmaf_neg", "vmaf_phone"):
        if metric in pooled:
            row[metric] = _num(pooled[metric].get("mean"))
    row.update(
        n_frames=int(m["n_frames"]), duration_s=float(m["duration_s"]), elapsed_s=_num(m.get("elapsed_s")),
        round=int(round_), cached=bool(cached),
    )
    row["_segments"] = m["segments"]
    row["_cpu_s"] = m.get("cpu_s")
    return row


def _encode_counts(rows: list[dict[str, Any]], fixed_rows: list[dict[str, Any]]) -> dict[str, int]:
    """:attr:`LadderResult.n_encodes`, counted over distinct encodes (point ids), so that
    ``performed + cached`` is the number of distinct encodes the result uses."""
    search = {r["point_id"]: bool(r["cached"]) for r in rows}
    fixed = {r["point_id"]: bool(r["cached"]) for r in fixed_rows if r["point_id"] not in search}
    both = {**search, **fixed}
    return {
        "search": len(search),
        "fixed": len(fixed_rows),
        "performed": sum(not c for c in both.values()),
        "cached": sum(c for c in both.values()),
        "search_performed": sum(not c for c in search.values()),
        "fixed_performed": sum(not c for c in fixed.values()),
    }


def _table(records: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in records]
    frame = pd.DataFrame.from_records(clean) if clean else pd.DataFrame()
    order = [c for c in columns if c in frame.columns] + [c for c in frame.columns if c not in columns]
    return frame.reindex(columns=order if clean else list(columns)).reset_index(drop=True)


def _points_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    unique: dict[str, dict[str, Any]] = {}
    for row in rows:  # a point asked for twice is one point (the first time it was asked)
        unique.setdefault(row["point_id"], row)
    frame = _table(list(unique.values()), POINT_COLUMNS)
    if frame.empty:
        raise ParameterError("resolutions", None, "no point was measured")
    return frame.sort_values(["height", "width", "crf"], kind="stable", ascending=[False, False, True]).reset_index(drop=True)


def _segments_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    out: dict[str, list[Any]] = {c: [] for c in SEGMENT_COLUMNS}
    seen = set()
    for row in sorted(rows, key=lambda r: r["point_id"]):
        if row["point_id"] in seen:
            continue
        seen.add(row["point_id"])
        seg = row["_segments"]
        for k, (size, dur, vmaf) in enumerate(zip(seg["size_bytes"], seg["duration_s"], seg["vmaf"])):
            out["point_id"].append(row["point_id"])
            out["segment"].append(k)
            out["duration_s"].append(float(dur))
            out["size_bytes"].append(int(size))
            out["vmaf"].append(_num(vmaf))
    frame = pd.DataFrame(out)
    frame["segment"] = frame["segment"].astype(np.int64)
    frame["size_bytes"] = frame["size_bytes"].astype(np.int64)
    return frame


def _constraints_dict(c: RungConstraints) -> dict[str, Any]:
    return {
        "n_rungs": c.n_rungs, "min_bitrate_kbps": c.min_bitrate_kbps, "max_bitrate_kbps": c.max_bitrate_kbps,
        "min_ratio": c.min_ratio, "max_ratio": c.max_ratio, "min_quality_step": c.min_quality_step,
        "quality_cap": c.quality_cap,
        "allowed_resolutions": None if c.allowed_resolutions is None else [list(p) for p in c.allowed_resolutions],
    }


def _compare(
    name: str, what: str, test: pd.DataFrame, fixed: pd.DataFrame, notes: list[str], subject: str = "per-title",
) -> tuple[float | None, float | None]:
    """(BD-rate %, BD-VMAF) of the ``test`` curve (the ``subject`` ladder's ``what``) against a
    measured anchor ladder, or Nones with a note saying why."""
    anchor = fixed.sort_values("bitrate_kbps", kind="stable")
    rates = anchor["bitrate_kbps"].to_numpy(dtype=np.float64)
    vmaf = anchor["vmaf"].to_numpy(dtype=np.float64)
    keep = np.sort(pareto_front(rates, vmaf))
    if keep.size < rates.size and what == "rungs":
        notes.append(
            f"{name}: {rates.size - keep.size} measured rung(s) dropped from the BD-rate anchor: "
            "another rung has a lower bitrate and a higher VMAF"
        )
    try:
        args = (rates[keep], vmaf[keep], test["bitrate_kbps"].to_numpy(dtype=np.float64),
                test["vmaf"].to_numpy(dtype=np.float64))
        return bd_rate(*args, method="pchip"), bd_quality(*args, method="pchip")
    except ParameterError as err:
        notes.append(f"BD-rate of the {subject} {what} against {name} not computed: {err}")
        return None, None
