"""Per-title ladder optimisation: search, hull, rungs, savings against fixed ladders.

:func:`optimize_ladder` encodes a source at many (resolution, CRF) points, scores each at the
display resolution (VMAF, PSNR, SSIM), builds the rate-quality convex hull across resolutions,
chooses rungs under :class:`~abrkit.encode.rungs.RungConstraints`, encodes the fixed reference
ladders (Apple HLS, Netflix 2015) the same way and reports the BD-rate of the per-title ladder
against each. Everything lands in a :class:`LadderResult`.

Units: bitrates in kbit/s (``_kbps``), sizes in bytes, durations in seconds; VMAF in points.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import ParameterError, VideoFormatError

if TYPE_CHECKING:
    from ..video import Video

__all__ = ["LadderResult", "POINT_COLUMNS", "RUNG_COLUMNS", "FIXED_COLUMNS", "SEGMENT_COLUMNS"]

_JSON_FORMAT = "abrkit-ladder"
_JSON_VERSION = 1

#: Columns of :attr:`LadderResult.points` (one row per measured search encode), in order.
#: Quality columns beyond these (``vmaf_neg``, ``vmaf_phone``) are added when scored.
POINT_COLUMNS = (
    "point_id", "width", "height", "crf", "bitrate_kbps", "peak_bitrate_kbps", "size_bytes", "payload_bytes",
    "vmaf", "vmaf_hmean", "vmaf_min", "vmaf_p1", "vmaf_p5", "psnr_y", "psnr_u", "psnr_v", "ssim",
    "n_frames", "duration_s", "elapsed_s", "round", "cached",
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
        (True if read from the cache in this run). Extra VMAF columns (``vmaf_neg``,
        ``vmaf_phone``) when the quality settings ask for them.
    hull : pandas.DataFrame
        The points on the upper convex hull (``settings["axis"]``) across resolutions, same
        columns as ``points``, by increasing ``bitrate_kbps``.
    rungs : pandas.DataFrame
        The chosen ladder, by increasing bitrate: ``rung`` (1 = cheapest), then the hull point's
        columns (``bitrate_kbps``, ``width``, ``height``, ``crf``, ``vmaf``, ...). These are CRF
        encodes; final renditions re-encode them at capped VBR (``abrkit.encode.package``).
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
        ``max_duration_s``, ``workers``, ``search`` (fast-mode parameters).
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
        ``fixed_performed``.
    elapsed_s : float
        Wall time of the call.
    notes : list of str
        Anything the reader of the numbers should know (skipped BD-rates, ...).
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

    # -- views --------------------------------------------------------------------------------

    @property
    def ladder_kbps(self) -> list[float]:
        """The chosen rungs' bitrates in kbps, increasing."""
        return [float(x) for x in self.rungs["bitrate_kbps"]]

    def summary(self) -> pd.DataFrame:
        """One row per rung (``rung``, ``width``, ``height``, ``crf``, ``bitrate_kbps``, ``vmaf``)."""
        cols = ["rung", "width", "height", "crf", "bitrate_kbps", "peak_bitrate_kbps", "vmaf", "vmaf_p5"]
        return self.rungs[[c for c in cols if c in self.rungs.columns]].copy()

    def to_video(self, ladder: str | None = None, name: str | None = None) -> "Video":
        """A :class:`~abrkit.video.Video` of the measured segments, for the simulator.

        Parameters
        ----------
        ladder : str, optional
            None (default): the per-title rungs; else the name of a fixed ladder in
            :attr:`fixed`. Rungs with the same measured bitrate are merged (first kept).
        name : str, optional
            The video's name (default: ``per-title`` or the ladder's name).

        Returns
        -------
        Video
            Nominal bitrates: each rung's measured mean bitrate (``bitrate_kbps``); chunk size:
            ``settings["segment_s"]``; per-chunk sizes: the measured segment payloads of each
            encode; per-chunk quality: the segment's mean VMAF; resolutions per rung. A last
            segment shorter than ``segment_s`` is kept as it is (the simulator plays every
            chunk for ``chunk_s``).
        """
        from ..video import Video

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
        sizes, quality = [], []
        n_segments = None
        for pid in ids:
            rows = seg[seg["point_id"] == pid].sort_values("segment")
            if rows.empty:
                raise VideoFormatError(None, f"no per-segment measurements for point {pid} in this result")
            if n_segments is None:
                n_segments = len(rows)
            elif len(rows) != n_segments:
                raise VideoFormatError(None, f"point {pid} has {len(rows)} segments, another rung {n_segments}")
            sizes.append(rows["size_bytes"].to_numpy(dtype=np.float64))
            quality.append(rows["vmaf"].to_numpy(dtype=np.float64))
        res = tuple((int(w), int(h)) for w, h in zip(table["width"], table["height"]))
        return Video(
            bitrates_bps=table["bitrate_kbps"].to_numpy(dtype=np.float64) * 1000.0,
            chunk_s=float(self.settings["segment_s"]),
            sizes_bytes=np.column_stack(sizes),
            quality=np.column_stack(quality),
            resolutions=res,
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
