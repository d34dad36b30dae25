"""The per-shot ladder end to end: shots, a search per shot, the common-slope combination, and
each rung produced as one stream and scored again.

:func:`optimize_shots` runs the pieces in order:

1. **Shots**: detected (:func:`~abrkit.encode.shots.detect_shots`) or listed (frame numbers, or
   a shot-list file read by :func:`~abrkit.encode.shots.read_shot_list`).
2. **Cuts**: each shot cut losslessly (FFV1, bit-exact flags, no metadata), so the same source
   and shot always give the same bytes: the cut's hash keys the measurement cache, and a rerun
   (after a kill, or with more shots of the same title) finds every measured encode there.
3. **Search**: :func:`~abrkit.encode.ladder.optimize_ladder` on every cut (its fast or
   exhaustive search, cache, workers and scheduler), scored at the source's display size; the
   shot's points and convex hull.
4. **Combination**: :func:`~abrkit.encode.pershot.allocation_path` over all shots and
   :func:`~abrkit.encode.pershot.per_shot_ladder` under the rung constraints.
5. **Production**: every rung's chosen encode of every shot is encoded again (same settings,
   same thread count: x264 and x265 give the same bits, which is checked), remuxed to MPEG-TS
   (parameter sets in band, so the stream may change resolution at a shot's first frame) and
   joined by ffmpeg's concat demuxer without re-encoding. The joined stream is decoded and
   scored against the source, and the report gives each rung's predicted and measured bitrate
   (packet payload, as the search measures it) and VMAF.
6. **Comparison**: the per-title ladder of the same source with the same settings (which also
   encodes the fixed ladders), and BD-rates of the per-shot rungs (measured) against it and
   against the fixed ladders.

Production joins H.264/HEVC elementary streams, so it needs ``codec`` x264 or x265; with other
codecs the ladder is predicted only (``produce=False``).
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
import os
import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .._version import __version__
from .._checks import number
from ..errors import ParameterError, VideoFormatError
from ..video import Video, video_from_segments
from .encoder import CODECS, EncodeSettings, encode, read_packets
from .ffmpeg import FFmpeg, file_url, find_ffmpeg, temp_run_dir
from .ladder import DEFAULT_FIXED_LADDERS, DEFAULT_MIN_VMAF, LadderResult, _clean, _compare, _records, optimize_ladder
from .pershot import AllocationPath, allocation_path, per_shot_ladder
from .probe import MediaInfo, probe
from .quality import QualitySettings, score
from .rungs import RungConstraints
from .package import Rendition, codecs_string, peak_bitrate_bps, target_duration_s
from .shots import SEGMENT_COLUMNS, detect_shots, read_shot_list, shot_segments, shots_from_starts

__all__ = ["ShotLadderResult", "optimize_shots", "cut_shot", "join_shots", "most_demanding_codecs", "PRODUCIBLE_CODECS"]

#: Codecs whose per-shot encodes :func:`join_shots` can join without re-encoding.
PRODUCIBLE_CODECS = ("x264", "x265")

#: Columns of :attr:`ShotLadderResult.segments`.
SHOT_SEGMENT_COLUMNS = ("rung", "segment", "shot", "start_frame", "n_frames", "start_s", "duration_s", "size_bytes", "vmaf")

#: Columns of :attr:`ShotLadderResult.rungs`.
SHOT_RUNG_COLUMNS = (
    "rung", "step", "slope", "bitrate_kbps", "vmaf", "min_shot_vmaf", "measured_bitrate_kbps", "measured_vmaf",
    "bitrate_error_pct", "vmaf_error", "stream_bitrate_kbps", "peak_kbps", "width", "height", "frame_sizes", "codecs",
    "file",
)

#: What the joined MPEG-TS stream carries besides coded pictures: an access unit delimiter before
#: every frame (MPEG-TS requires them; 6-7 bytes, 1.2 kbit/s at 25 fps) and the parameter sets
#: before every keyframe (in MP4 they sit once in the header). The measured payload leaves both
#: out, as the search's MP4 measurement does; ``stream_bitrate_kbps`` counts them.
_PICTURES_ONLY = {"x264": "filter_units=remove_types=7|8|9", "x265": "filter_units=remove_types=32|33|34|35"}


@dataclass(frozen=True, eq=False)
class ShotLadderResult:
    """What :func:`optimize_shots` found and made.

    Attributes
    ----------
    shots : pandas.DataFrame
        The shot table (:data:`~abrkit.encode.shots.SHOT_COLUMNS`: ``shot``, ``start_frame``,
        ``n_frames``, ``start_s``, ``duration_s`` in seconds, ``score``, ``cause``).
    points : pandas.DataFrame
        Every measured encode of every shot: ``shot`` then the per-title point columns
        (``width``, ``height``, ``crf``, ``bitrate_kbps`` of the shot alone, ``vmaf``, ...) and
        ``on_hull`` (on the shot's own hull).
    path : AllocationPath
        Every optimal allocation, cheapest first.
    rungs : pandas.DataFrame
        One row per rung (:data:`SHOT_RUNG_COLUMNS`): its place on the path (``step``,
        ``slope`` in VMAF per kbit/s), predicted ``bitrate_kbps`` and ``vmaf`` (duration-weighted
        over the shots) and the worst shot's VMAF; with production, the joined stream's
        ``measured_bitrate_kbps`` (payload bits over the duration, without the access unit
        delimiters and in-band parameter sets of MPEG-TS, as the search measures MP4 files) and
        ``measured_vmaf`` (mean over its frames), the errors (percent; VMAF points),
        ``stream_bitrate_kbps`` (every video packet byte, delimiters and parameter sets
        included), ``peak_kbps`` (peak segment rate of the payload, RFC 8216's definition),
        the largest frame size (``width``, ``height``), every size it uses (``frame_sizes``,
        ``640x360,1280x720``), the codec string of its most demanding shot (``codecs``) and the
        stream's ``file``.
    choices : pandas.DataFrame
        One row per (rung, shot): ``rung``, ``shot``, ``start_s``, ``duration_s`` and the chosen
        encode (``width``, ``height``, ``crf``, ``bitrate_kbps``, ``vmaf``).
    per_title : LadderResult or None
        The per-title ladder of the same source and settings (None when not asked for).
    bd_rate : dict of str to float or None
        BD-rate (percent, PCHIP, VMAF) of the per-shot rungs (measured values with production,
        predicted without) against ``per_title`` (key ``"per-title"``) and each fixed ladder.
    settings, source, versions : dict
        What was asked for, the source (path, size, frames) and tool versions.
    n_encodes : dict
        ``search`` (points over all shots), ``search_performed`` (encoded now, the rest came from
        the cache), ``produced`` (per-shot encodes made for the rungs) and ``produced_reused``
        (already in the output folder).
    elapsed_s : float
        Wall time.
    segments : pandas.DataFrame
        With production, one row per (rung, segment) of the joined streams
        (:data:`SHOT_SEGMENT_COLUMNS`): ``rung``, then the segment
        (:func:`~abrkit.encode.shots.shot_segments`: ``segment``, ``shot``, ``start_frame``,
        ``n_frames``, ``start_s``, ``duration_s``; a segment starts at every keyframe, each
        shot's first frame and every ``segment_s`` after it, so shots off the grid give
        segments of unequal duration), ``size_bytes`` (its coded pictures) and ``vmaf`` (mean
        over its frames). Used by :meth:`renditions` and :meth:`to_video`.
    notes : list of str
        Anything the report should say (a BD-rate not computed, and why).
    """

    shots: pd.DataFrame
    points: pd.DataFrame
    path: AllocationPath
    rungs: pd.DataFrame
    choices: pd.DataFrame
    per_title: LadderResult | None
    bd_rate: dict[str, float | None]
    settings: dict[str, Any]
    source: dict[str, Any]
    versions: dict[str, Any]
    n_encodes: dict[str, int]
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self) -> pd.DataFrame:
        """The rungs, predicted and measured, without the file column."""
        return self.rungs.drop(columns=["file"])

    def renditions(self) -> list[Rendition]:
        """The produced rungs as :class:`~abrkit.encode.package.Rendition` objects, lowest first,
        for :func:`~abrkit.encode.package.write_hls` and :func:`~abrkit.encode.package.write_dash`.

        Each is the joined stream (``rung{k}.ts``) with its keyframe-aligned segments
        (:attr:`segments`: unequal durations where shots start off the ``segment_s`` grid, which
        the packagers then cut at every keyframe), its largest frame size as ``width`` x
        ``height`` and every size in ``frame_sizes`` (packaging keeps parameter sets in band when
        a rung changes size), and the codec string of its most demanding shot.

        Raises
        ------
        ParameterError
            Nothing was produced (``produce=False``).
        """
        seg = self._produced_segments()
        fps = Fraction(self.source["fps"])
        out = []
        for r in self.rungs.itertuples():
            rows = seg[seg["rung"] == r.rung].sort_values("segment")
            sizes = tuple(tuple(int(v) for v in wh.split("x")) for wh in str(r.frame_sizes).split(","))
            durations = rows["duration_s"].to_numpy(dtype=np.float64)
            out.append(Rendition(
                path=Path(r.file), width=int(r.width), height=int(r.height), target_kbps=float(r.bitrate_kbps),
                measured_kbps=float(r.measured_bitrate_kbps), peak_kbps=float(r.peak_kbps),
                segment_sizes_bytes=rows["size_bytes"].to_numpy(dtype=np.int64), segment_durations_s=durations,
                segment_vmaf=rows["vmaf"].to_numpy(dtype=np.float64), codecs=str(r.codecs),
                segment_s=float(self.settings["segment_s"]), fps=fps, n_frames=int(rows["n_frames"].sum()),
                duration_s=float(durations.sum()), vmaf=float(r.measured_vmaf), frame_sizes=sizes,  # type: ignore[arg-type]
            ))
        return out

    def to_video(self, name: str | None = None, *, tail: str = "drop") -> Video:
        """A :class:`~abrkit.video.Video` of the produced rungs, for the simulator.

        Per chunk (a segment of :attr:`segments`): the joined stream's coded-picture bytes in
        that segment (as ``measured_bitrate_kbps`` counts them) and the mean VMAF of its frames
        from the end-to-end scoring; nominal bitrates: the rungs' measured bitrates. Shots off
        the ``segment_s`` grid give segments of unequal duration: the video then keeps each
        one's duration (``Video.durations_s``), which the chunk model (profiles ``default`` and
        ``pensieve``) plays as it is and the other player models refuse. ``tail`` treats a
        short last segment as :func:`~abrkit.video.video_from_segments` does. Resolutions are
        not given (a rung mixes them); ``meta["resolutions_per_rung"]`` lists each rung's sizes,
        shot by shot.

        Raises
        ------
        ParameterError
            Nothing was produced (``produce=False``).
        """
        seg = self._produced_segments()
        per_rung = []
        for k in self.rungs["rung"]:
            rows = seg[seg["rung"] == k].sort_values("segment")
            per_rung.append((rows["duration_s"].to_numpy(), rows["size_bytes"].to_numpy(dtype=np.float64),
                             rows["vmaf"].to_numpy()))
        sizes = {int(k): [f"{int(r.width)}x{int(r.height)}" for r in group.itertuples()]
                 for k, group in self.choices.groupby("rung")}
        return video_from_segments(
            self.rungs["measured_bitrate_kbps"].to_numpy(dtype=np.float64), per_rung,
            segment_s=float(self.settings["segment_s"]), frame_s=float(1 / Fraction(self.source["fps"])), tail=tail,
            name=name if name is not None else "per-shot",
            meta={"ladder": "per-shot", "resolutions_per_rung": sizes, "source": self.source.get("path")},
        )

    def _produced_segments(self) -> pd.DataFrame:
        if self.segments.empty:
            raise ParameterError("produce", False, "needs the produced rungs (optimize_shots(produce=True))")
        return self.segments

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the rungs, BD-rates, settings and every table (NaN as None); the
        per-title result under ``per_title`` (its rungs and BD-rates only: its own ``to_dict``
        has the rest)."""
        title = None
        if self.per_title is not None:
            full = self.per_title.to_dict()
            title = {k: full[k] for k in ("rungs", "bd_rate", "n_encodes")}
        return {
            "format": "abrkit-shot-ladder", "version": 1,
            "rungs": _records(self.rungs), "bd_rate": {k: _clean(v) for k, v in self.bd_rate.items()},
            "source": _clean(self.source), "settings": _clean(self.settings), "versions": _clean(self.versions),
            "n_encodes": dict(self.n_encodes), "elapsed_s": _clean(self.elapsed_s), "notes": list(self.notes),
            "shots": _records(self.shots), "choices": _records(self.choices), "path": _records(self.path.steps),
            "points": _records(self.points), "segments": _records(self.segments), "per_title": title,
        }

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_dict` as JSON to ``path`` (written whole, then renamed); returns it."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n", encoding="utf-8")
        os.replace(tmp, out)
        return out

    def to_csv(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Write ``shots.csv``, ``shot-points.csv``, ``shot-path.csv``, ``shot-rungs.csv``,
        ``shot-choices.csv`` and ``shot-segments.csv`` into ``directory``; returns the paths."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for stem, frame in (("shots", self.shots), ("shot-points", self.points), ("shot-path", self.path.steps),
                            ("shot-rungs", self.rungs), ("shot-choices", self.choices),
                            ("shot-segments", self.segments)):
            path = folder / f"{stem}.csv"
            frame.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")
            written.append(path)
        return written

    def __repr__(self) -> str:
        return (f"ShotLadderResult({len(self.shots)} shots, {len(self.points)} encodes, {len(self.rungs)} rungs, "
                f"BD-rate {self.bd_rate})")


# -- cutting and joining ------------------------------------------------------------------------


def cut_shot(
    source: str | os.PathLike[str], start_frame: int, n_frames: int, directory: str | os.PathLike[str],
    ffmpeg: FFmpeg | None = None, tag: str = "shot",
) -> tuple[Path, MediaInfo]:
    """Frames ``start_frame .. start_frame + n_frames - 1`` of ``source``'s video, losslessly.

    FFV1 in Matroska with bit-exact flags and no metadata, so one ffmpeg gives the same bytes
    every time; named ``{tag}-f{start}-n{count}.mkv`` in ``directory`` and reused when there
    (written by renaming a finished file into place, so a kill never leaves a partial cut).
    """
    ff = ffmpeg if ffmpeg is not None else find_ffmpeg()
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{tag}-f{int(start_frame)}-n{int(n_frames)}.mkv"
    if out.is_file():
        info = probe(out, ff)
        if info.n_frames == n_frames:
            return out, info
    partial = out.with_name(f".{out.stem}.{os.getpid()}.{threading.get_ident()}.mkv")
    end = int(start_frame) + int(n_frames)
    ff.run(
        ["-i", file_url(source), "-map", "0:V:0",
         "-vf", f"trim=start_frame={int(start_frame)}:end_frame={end},setpts=PTS-STARTPTS",
         "-fps_mode", "passthrough", "-c:v", "ffv1", "-an", "-sn", "-dn", "-map_metadata", "-1",
         "-fflags", "+bitexact", "-flags:v", "+bitexact", "-y", file_url(partial)],
        cwd=folder,
    )
    os.replace(partial, out)
    info = probe(out, ff)
    if info.n_frames != n_frames:
        raise VideoFormatError(source, f"cutting frames {start_frame}..{end - 1} gave {info.n_frames} frames, not {n_frames}")
    return out, info


def join_shots(files: Sequence[str | os.PathLike[str]], out_path: str | os.PathLike[str],
               ffmpeg: FFmpeg | None = None) -> Path:
    """Join per-shot H.264/HEVC encodes into one MPEG-TS stream without re-encoding.

    Each file is remuxed to MPEG-TS (its parameter sets move in band, before every keyframe),
    then ffmpeg's concat demuxer joins them with continuous timestamps. Each shot starts with a
    keyframe, so the joined stream decodes from any shot's start, and its frame size may change
    there.
    """
    ff = ffmpeg if ffmpeg is not None else find_ffmpeg()
    if not files:
        raise ParameterError("files", [], "at least one file is needed")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with temp_run_dir(prefix="abrkit-join-") as tmp:
        listing = []
        for i, f in enumerate(files):
            ts = tmp / f"part{i:05d}.ts"
            ff.run(["-i", file_url(f), "-map", "0:V:0", "-c", "copy", "-f", "mpegts", "-y", file_url(ts)], cwd=tmp)
            listing.append(f"file '{ts.name}'")
        (tmp / "list.txt").write_text("\n".join(listing) + "\n", encoding="utf-8")
        partial = tmp / "joined.ts"
        ff.run(["-f", "concat", "-safe", "0", "-i", "list.txt", "-map", "0:V:0", "-c", "copy", "-f", "mpegts",
                "-y", file_url(partial)], cwd=tmp)
        shutil.move(partial, out)  # the temp folder may be on another file system
    return out


# -- the job --------------------------------------------------------------------------------------


def _shot_table(source: Path, info: MediaInfo, shots: Any, ff: FFmpeg, threshold: float, min_shot_s: float,
                max_shot_s: float | None, grid: int) -> pd.DataFrame:
    if isinstance(shots, str) and shots == "auto":
        return detect_shots(source, threshold=threshold, min_shot_s=min_shot_s, max_shot_s=max_shot_s, ffmpeg=ff,
                            info=info, grid_frames=grid)
    if isinstance(shots, (str, os.PathLike)):
        starts = read_shot_list(shots, info.n_frames, info.fps)
    else:
        try:
            starts = np.asarray(list(shots), dtype=np.int64)
        except (TypeError, ValueError) as err:
            raise ParameterError("shots", shots, "must be 'auto', a shot-list file or shot start frames") from err
    return shots_from_starts(starts, info, max_shot_s=max_shot_s, grid_frames=grid)


def _measured_curve(rungs: pd.DataFrame, measured: bool) -> pd.DataFrame:
    if measured:
        return pd.DataFrame({"bitrate_kbps": rungs["measured_bitrate_kbps"], "vmaf": rungs["measured_vmaf"]})
    return pd.DataFrame({"bitrate_kbps": rungs["bitrate_kbps"], "vmaf": rungs["vmaf"]})


def optimize_shots(
    source: str | os.PathLike[str],
    *,
    shots: Any = "auto",
    threshold: float = 10.0,
    min_shot_s: float = 1.0,
    max_shot_s: float | None = None,
    align_to_segments: bool = False,
    codec: str = "x264",
    mode: str = "fast",
    resolutions: Sequence[tuple[int, int] | int] | None = None,
    crfs: Sequence[float] | None = None,
    constraints: RungConstraints | None = None,
    quality: QualitySettings | None = None,
    segment_s: float = 2.0,
    preset: str | None = None,
    workers: int | None = None,
    threads: int = 1,
    cache_dir: str | os.PathLike[str] | bool | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    produce: bool = True,
    per_title: bool = True,
    fixed_ladders: Sequence[Any] = DEFAULT_FIXED_LADDERS,
    min_vmaf: float | None = DEFAULT_MIN_VMAF,
    progress: bool | None = None,
    ffmpeg: FFmpeg | str | os.PathLike[str] | None = None,
    max_duration_s: float | None = None,
    scheduler: Any = None,
    encoder_args: Sequence[str] = (),
) -> ShotLadderResult:
    """The per-shot ladder of ``source`` (module docstring), produced and measured.

    Parameters
    ----------
    shots : "auto", path or sequence of int
        ``"auto"``: detect cuts (``threshold``: ffmpeg's scene score, 0-100; ``min_shot_s``:
        the shortest shot, seconds). A path: a shot-list file (start times in seconds, or frame
        numbers written ``Nf``). A sequence: the frames where shots start.
    max_shot_s : float, optional
        Split longer shots into equal parts of at most this many seconds.
    align_to_segments : bool
        Snap shot starts to the ``segment_s`` grid (``segment_s`` must be a whole number of
        frames), so every segment lasts ``segment_s`` (the last may be shorter) and every player
        model can stream the rungs. Default False: cuts where the content cuts, and segments of
        unequal duration where a shot ends off the grid (see :meth:`ShotLadderResult.to_video`).
    codec, mode, resolutions, crfs, quality, segment_s, preset, workers, threads, scheduler, encoder_args
        As :func:`~abrkit.encode.ladder.optimize_ladder`, for every shot's search (and
        ``encoder_args`` for the rungs' encodes too). The
        resolutions default to the source's (:func:`~abrkit.encode.ladder.default_resolutions`),
        the same for every shot; ``segment_s`` is the keyframe interval inside a shot.
    constraints : RungConstraints, optional
        The rung constraints (``allowed_resolutions`` does not apply: a rung mixes resolutions).
    cache_dir : path, bool or None
        The measurement cache (as :func:`optimize_ladder`); a rerun finds every shot's encodes
        there.
    out_dir : path, optional
        Where cuts, per-shot encodes and the rung streams (``rung{k}.ts``) go. Required with
        ``produce``; a rerun reuses the per-shot encodes it finds there.
    produce : bool
        Make and score each rung's stream (x264 and x265 only).
    per_title : bool
        Also find the per-title ladder (and the fixed ladders') for the BD-rate comparison.
    fixed_ladders, min_vmaf
        As :func:`optimize_ladder`; ``min_vmaf`` is the lowest mean VMAF of a rung.
    progress : bool or None
        A tqdm bar over shots, per-title search and rung production (None: when stderr is a
        terminal).
    max_duration_s : float, optional
        Use only the first this many seconds of the source (cut once, losslessly).

    Raises
    ------
    ParameterError
        A bad argument (as :func:`optimize_ladder`), ``produce`` without ``out_dir`` or with a
        codec that cannot be joined.
    VideoFormatError, ToolNotFoundError, FFmpegError
        As :func:`optimize_ladder`.
    """
    import sys

    from tqdm.auto import tqdm

    started = time.perf_counter()
    if codec not in CODECS:
        raise ParameterError("codec", codec, f"must be one of {', '.join(CODECS)}")
    if produce and codec not in PRODUCIBLE_CODECS:
        raise ParameterError("produce", produce, f"joining per-shot encodes needs codec {' or '.join(PRODUCIBLE_CODECS)}, "
                             f"not {codec!r}; pass produce=False for a predicted ladder")
    if produce and out_dir is None:
        raise ParameterError("out_dir", None, "is needed to produce the rungs (pass a folder, or produce=False)")
    cons = RungConstraints() if constraints is None else constraints
    if not isinstance(cons, RungConstraints):
        raise ParameterError("constraints", constraints, "must be a RungConstraints")
    qs = QualitySettings() if quality is None else quality
    segment_s = number("segment_s", segment_s, gt=0)
    ff = ffmpeg if isinstance(ffmpeg, FFmpeg) else find_ffmpeg(ffmpeg)
    source_path = Path(source)
    info = probe(source_path, ff)
    if resolutions is None:
        from .ladder import default_resolutions

        resolutions = default_resolutions(info.width, info.height)

    with temp_run_dir(prefix="abrkit-shots-") as tmp:
        work = Path(out_dir) if out_dir is not None else tmp
        cuts_dir = work / "cuts"
        title, title_info = source_path, info
        if max_duration_s is not None:
            k = max(1, int(math.floor(number("max_duration_s", max_duration_s, gt=0) * float(info.fps) + 1e-9)))
            if k < info.n_frames:
                title, title_info = cut_shot(source_path, 0, k, cuts_dir, ff, tag="title")
        grid = 1
        if align_to_segments:
            frames_per_segment = segment_s * float(title_info.fps)
            grid = int(round(frames_per_segment))
            if grid < 1 or abs(frames_per_segment - grid) > 1e-6:
                raise ParameterError("segment_s", segment_s, f"is {frames_per_segment:g} frames at {title_info.fps} fps: "
                                     "aligning shots to segments needs a whole number")
        table = _shot_table(title, title_info, shots, ff, threshold, min_shot_s, max_shot_s, grid)
        n_shots = len(table)
        show = progress if progress is not None else sys.stderr.isatty()
        bar = tqdm(total=n_shots + int(per_title), desc="per-shot ladder", unit="step", disable=not show)
        common = dict(codec=codec, mode=mode, resolutions=resolutions, crfs=crfs, quality=qs, segment_s=segment_s,
                      preset=preset, workers=workers, threads=threads, cache_dir=cache_dir, progress=False,
                      ffmpeg=ff, scheduler=scheduler, encoder_args=encoder_args)
        try:
            frames, cut_infos, cut_files = [], [], []
            performed = 0
            for row in table.itertuples():
                bar.set_postfix_str(f"shot {row.shot + 1}/{n_shots}")
                cut, cut_info = cut_shot(title, row.start_frame, row.n_frames, cuts_dir, ff)
                res = optimize_ladder(cut, fixed_ladders=(), min_vmaf=None, constraints=RungConstraints(), **common)
                pts = res.points.copy()
                pts.insert(0, "shot", np.int64(row.shot))
                frames.append(pts)
                cut_infos.append(cut_info)
                cut_files.append(cut)
                performed += res.n_encodes["search_performed"]
                bar.update(1)
            points = pd.concat(frames, ignore_index=True)
            points = points.drop(columns=["on_pareto", "on_hull"])  # each shot's own hull comes next
            path = allocation_path(points, table["duration_s"].to_numpy())
            points = path.points
            chosen = per_shot_ladder(path, replace(cons, allowed_resolutions=None), min_quality=min_vmaf)  # rungs mix sizes

            title_result = None
            if per_title:
                bar.set_postfix_str("per-title ladder")
                title_result = optimize_ladder(title, fixed_ladders=fixed_ladders, min_vmaf=min_vmaf,
                                               constraints=cons, **common)
                bar.update(1)

            rows, choice_rows, segment_rows = [], [], []
            produced = reused = 0
            segs = shot_segments(table, title_info.fps, segment_s)
            total_s = float(table["duration_s"].sum())
            if produce:
                bar.total += len(chosen)
                bar.refresh()
            for k, alloc in enumerate(chosen, start=1):
                for s in alloc.shots.itertuples():
                    choice_rows.append({
                        "rung": k, "shot": int(s.shot), "start_s": float(table["start_s"].iloc[int(s.shot)]),
                        "duration_s": float(s.duration_s), "width": int(s.width), "height": int(s.height),
                        "crf": float(s.crf), "bitrate_kbps": float(s.bitrate_kbps), "vmaf": float(s.vmaf),
                    })
                record: dict[str, Any] = {
                    "rung": k, "step": alloc.step, "slope": alloc.slope, "bitrate_kbps": alloc.bitrate_kbps,
                    "vmaf": alloc.mean_quality, "min_shot_vmaf": alloc.min_quality,
                    "measured_bitrate_kbps": math.nan, "measured_vmaf": math.nan, "bitrate_error_pct": math.nan,
                    "vmaf_error": math.nan, "stream_bitrate_kbps": math.nan, "peak_kbps": math.nan, "width": 0,
                    "height": 0, "frame_sizes": "", "codecs": "", "file": "",
                }
                if produce:
                    bar.set_postfix_str(f"rung {k}/{len(chosen)}")
                    files, entries = [], []
                    for s in alloc.shots.itertuples():
                        i = int(s.shot)
                        settings = EncodeSettings(codec=codec, width=int(s.width), height=int(s.height), crf=float(s.crf),
                                                  preset=preset, segment_s=segment_s, threads=threads,
                                                  extra=tuple(encoder_args))
                        target = work / "shots" / f"shot{i:04d}-{settings.digest()}.mp4"
                        if target.is_file() and _same_encode(target, float(s.payload_bytes), ff):
                            reused += 1
                        else:
                            enc = encode(cut_files[i], settings, target, ffmpeg=ff, source_info=cut_infos[i])
                            produced += 1
                            if int(enc.payload_bytes) != int(s.payload_bytes):
                                raise RuntimeError(
                                    f"shot {i} at {settings.label()}: the encode gave {enc.payload_bytes} payload bytes, "
                                    f"the search measured {int(s.payload_bytes)} (the encoder is not deterministic "
                                    "with these settings)")
                        files.append(target)
                        entries.append(codecs_string(target))
                    stream = join_shots(files, work / f"rung{k}.ts", ff)
                    pictures = read_packets(stream, ff, bsf=_PICTURES_ONLY[codec])
                    _check_keyframes(stream, pictures, segs)
                    payload = float(pictures.size_bytes.sum())
                    everything = float(read_packets(stream, ff).size_bytes.sum())
                    q = score(title, stream, qs, ffmpeg=ff, reference_info=title_info)
                    seg_bytes, seg_vmaf = _per_segment(pictures.size_bytes, q.per_frame, segs)
                    for row, size, vmaf in zip(segs.itertuples(), seg_bytes, seg_vmaf):
                        segment_rows.append({"rung": k, **{c: getattr(row, c) for c in SEGMENT_COLUMNS},
                                             "size_bytes": int(size), "vmaf": float(vmaf)})
                    durations = segs["duration_s"].to_numpy(dtype=np.float64)
                    mb = payload * 8.0 / total_s / 1000.0
                    mv = float(q.pooled.loc["vmaf", "mean"])
                    peak = peak_bitrate_bps(seg_bytes.astype(np.float64), durations, target_duration_s(durations)) / 1000.0
                    sizes = sorted({(int(s.width), int(s.height)) for s in alloc.shots.itertuples()},
                                   key=lambda wh: (wh[0] * wh[1], wh))
                    record.update(measured_bitrate_kbps=mb, measured_vmaf=mv,
                                  stream_bitrate_kbps=everything * 8.0 / total_s / 1000.0,
                                  bitrate_error_pct=100.0 * (mb / alloc.bitrate_kbps - 1.0),
                                  vmaf_error=mv - alloc.mean_quality, peak_kbps=max(peak, mb),
                                  width=sizes[-1][0], height=sizes[-1][1],
                                  frame_sizes=",".join(f"{w}x{h}" for w, h in sizes),
                                  codecs=most_demanding_codecs(entries), file=str(stream))
                    bar.update(1)
                rows.append(record)
        finally:
            bar.close()

    rungs = pd.DataFrame(rows, columns=list(SHOT_RUNG_COLUMNS))
    choices = pd.DataFrame(choice_rows)
    notes: list[str] = []
    bd: dict[str, float | None] = {}
    if title_result is not None:
        curve = _measured_curve(rungs, produce)
        bd["per-title"], _ = _compare("per-title", "rungs", curve, title_result.rungs, notes, subject="per-shot")
        for name, fixed in title_result.fixed.items():
            bd[name], _ = _compare(name, "rungs", curve, fixed, notes, subject="per-shot")
    return ShotLadderResult(
        shots=table, points=points, path=path, rungs=rungs, choices=choices, per_title=title_result, bd_rate=bd,
        settings={
            "codec": codec, "mode": mode, "segment_s": segment_s, "preset": preset, "threads": threads,
            "resolutions": [list(r) if not isinstance(r, int) else r for r in resolutions], "crfs": crfs,
            "quality": qs.key(), "threshold": threshold, "min_shot_s": min_shot_s, "max_shot_s": max_shot_s,
            "min_vmaf": min_vmaf, "produce": produce, "max_duration_s": max_duration_s,
            "align_to_segments": bool(align_to_segments), "encoder_args": list(encoder_args),
        },
        source={"path": str(source_path), "width": info.width, "height": info.height, "n_frames": info.n_frames,
                "scored_frames": title_info.n_frames, "fps": f"{info.fps.numerator}/{info.fps.denominator}"},
        versions={"abrkit": __version__, "ffmpeg": ff.version, "libvmaf": ff.libvmaf_version},
        n_encodes={"search": len(points), "search_performed": performed, "produced": produced, "produced_reused": reused},
        elapsed_s=time.perf_counter() - started,
        notes=notes,
        segments=pd.DataFrame(segment_rows, columns=list(SHOT_SEGMENT_COLUMNS)),
    )


def _check_keyframes(stream: Path, pictures: Any, segs: pd.DataFrame) -> None:
    """The joined stream has one picture per source frame and keyframes exactly where the
    segments start (each shot's encode forces them there and nowhere else)."""
    expected = segs["start_frame"].to_numpy(dtype=np.int64)
    n_frames = int(segs["start_frame"].iloc[-1] + segs["n_frames"].iloc[-1])
    if len(pictures) != n_frames:
        raise VideoFormatError(stream, f"has {len(pictures)} pictures, the shots {n_frames} frames")
    keys = np.flatnonzero(pictures.key)
    if keys.size != expected.size or np.any(keys != expected):
        extra = sorted(set(keys.tolist()) ^ set(expected.tolist()))[:5]
        raise VideoFormatError(
            stream, f"keyframes at {keys.size} frames, segments start at {expected.size}; first differences at "
            f"frames {extra}: the per-shot encodes did not place keyframes at the segment starts only")


def _per_segment(sizes_bytes: np.ndarray, per_frame: pd.DataFrame, segs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Bytes of each segment (its pictures' sizes, presentation order) and its mean VMAF over
    the scored frames (NaN where subsampling scored none)."""
    starts = segs["start_frame"].to_numpy(dtype=np.int64)
    seg_bytes = np.add.reduceat(np.asarray(sizes_bytes, dtype=np.int64), starts)
    owner = np.repeat(np.arange(starts.size), segs["n_frames"].to_numpy(dtype=np.int64))
    scored = owner[per_frame["frame"].to_numpy(dtype=np.int64)]
    sums = np.bincount(scored, weights=per_frame["vmaf"].to_numpy(dtype=np.float64), minlength=starts.size)
    counts = np.bincount(scored, minlength=starts.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return seg_bytes, np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def most_demanding_codecs(codecs: Sequence[str]) -> str:
    """Of RFC 6381 codec strings of one codec (``avc1.64001f``, ``hvc1.1.6.L93.B0``), the one
    with the highest level (then profile): what a stream made of those encodes must announce."""
    def rank(text: str) -> tuple[int, int]:
        parts = text.split(".")
        if parts[0] in ("avc1", "avc3") and len(parts) > 1 and len(parts[1]) == 6:
            return int(parts[1][4:], 16), int(parts[1][:2], 16)
        if parts[0] in ("hvc1", "hev1") and len(parts) > 3:
            tier = 1 if parts[3][:1] == "H" else 0
            return tier * 1000 + int(parts[3][1:] or 0), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
        return 0, 0

    if not codecs:
        raise ParameterError("codecs", [], "at least one codec string is needed")
    return max(codecs, key=rank)


def _same_encode(path: Path, payload_bytes: float, ff: FFmpeg) -> bool:
    """Whether an encode left in the output folder is the one measured (same payload bytes)."""
    try:
        return int(read_packets(path, ff).size_bytes.sum()) == int(payload_bytes)
    except (VideoFormatError, OSError):
        return False
