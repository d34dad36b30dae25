"""``abrkit ladder``: the per-title ladder optimizer on the command line.

Registered by :mod:`abrkit.cli` (``add_parser(subparsers)``); imports the encoding side only
when the command runs (and for the default CRF grids of ``--help``), so ``abrkit --help`` stays
fast.

Writes into ``--out DIR``: ``result.json`` (:meth:`LadderResult.to_json`), ``points.csv``,
``hull.csv``, ``rungs.csv``, ``segments.csv`` and one ``fixed-<name>.csv`` per fixed ladder; with
``--plot`` also ``rate-quality.png``; with ``--renditions`` the final renditions
(:func:`abrkit.encode.package.encode_renditions`, capped CRF at each rung's CRF, over the whole
source even when ``--max-duration-s`` shortened the search), ``renditions.csv``, HLS
(``hls/master.m3u8``), DASH (``dash/manifest.mpd``) and ``video.json``, the
:class:`~abrkit.Video` of the packaged segments for ``abrkit simulate``. Prints a summary (the
rungs and the BD-rate against each fixed ladder) as a table or JSON. Measured points are cached
in ``DIR/.abrkit-cache`` unless ``--cache-dir`` says otherwise, so running the same command again
resumes an interrupted job and re-does no encode of a finished one.

With ``--shots auto|FILE`` the command builds the per-shot ladder instead
(:func:`abrkit.encode.shotladder.optimize_shots`): ``shot-result.json``, ``shots.csv``,
``shot-points.csv``, ``shot-path.csv``, ``shot-rungs.csv``, ``shot-choices.csv``,
``shot-segments.csv``, the joined rungs ``rung<k>.ts`` (x264 and x265), the per-title
``result.json`` and tables for comparison, ``shot-video.json`` (the rungs for ``abrkit simulate
--video``; segments of unequal duration unless ``--align-to-segments``),
``shot-hulls.png`` with ``--plot``, and with ``--renditions`` the joined rungs packaged
(``hls/master.m3u8``, ``dash/manifest.mpd``; segments of unequal duration where shots start off
the segment grid).

Three bitrates describe each rung, and the summary says which is which:

* the **search** rate (``rungs`` of ``result.json``, ``rungs.csv``, the first table): video payload
  of the CRF encode the search measured, over the scored part of the source. ``--video DIR`` (or
  ``DIR/result.json``) of ``abrkit simulate`` streams these encodes;
* the **rendition** rate (``measured_kbps`` of ``renditions.csv``): video payload of the final
  capped-CRF encode of the whole source;
* the **packaged** rate (``packaged_kbps``, the ladder of ``video.json``): the HLS segment files
  as a player downloads them, MPEG-TS container included, which adds 10-40 % at the lowest rates
  (TS packet headers, PES headers and padding per frame: roughly 20-30 kbit/s at 20-30 fps).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from ._args import HelpFormatter, finite_float, integer, metric_list, number_list, optional_float, resolution_list

__all__ = ["add_parser", "cmd_ladder", "add_search_arguments", "ladder_options"]

_CODECS = ("x264", "x265", "svtav1", "vp9")
_FIXED = ("apple-hls-h264", "netflix-2015")


def _crf_grids_help() -> str:
    """The default CRF grid of every codec, read from :data:`abrkit.encode.ladder.DEFAULT_CRFS`:
    ``x264, x265: 16,18,...,50; svtav1, vp9: 20,23,...,62``."""
    from ..encode.ladder import DEFAULT_CRFS

    by_grid: dict[str, list[str]] = {}
    for codec, grid in DEFAULT_CRFS.items():
        by_grid.setdefault(_grid_text(grid), []).append(codec)
    return "; ".join(f"{', '.join(codecs)}: {text}" for text, codecs in by_grid.items())


def _grid_text(values: tuple[float, ...]) -> str:
    """``16,18,...,50`` for an evenly spaced grid, else every value."""
    steps = {round(b - a, 9) for a, b in zip(values, values[1:])}
    if len(values) > 4 and len(steps) == 1:
        return f"{values[0]:g},{values[1]:g},...,{values[-1]:g}"
    return ",".join(f"{v:g}" for v in values)


def add_parser(subparsers: Any, **kwargs: Any) -> argparse.ArgumentParser:
    """Add the ``ladder`` subcommand to an argparse ``subparsers`` object; returns its parser.

    ``kwargs`` go to ``subparsers.add_parser`` (for example ``formatter_class``).
    """
    kwargs.setdefault("formatter_class", HelpFormatter)
    p = subparsers.add_parser(
        "ladder",
        help="find the per-title bitrate ladder of a video (encodes with ffmpeg)",
        description="Encode a video at many resolutions and CRFs, score each encode with VMAF at the display\n"
        "resolution, build the rate-quality convex hull, choose the rungs, and compare them with\n"
        "fixed ladders (BD-rate). Measured points are cached: re-running resumes.",
        epilog="examples:\n"
        "  abrkit ladder movie.mp4 --out ladder/\n"
        "  abrkit ladder movie.mp4 --mode exhaustive --resolutions 1280x720,960x540,640x360 --crfs 20,26,32,38 --out ladder/\n"
        "  abrkit ladder movie.mp4 --max-duration-s 10 --rungs 5 --min-kbps 200 --format json --out quick/",
        **kwargs,
    )
    p.add_argument("source", metavar="SOURCE", help="the source video")
    add_search_arguments(p)
    g = p.add_argument_group("run")
    g.add_argument("--workers", type=integer, default=None, metavar="N",
                   help="concurrent ffmpeg jobs (default: CPU count / --threads)")
    g.add_argument("--threads", type=integer, default=1, metavar="N",
                   help="threads per job; x264 output depends on it, so it is part of the cache key (default: 1)")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run every encode as a task on a Dask cluster (tcp://host:8786) or 'processes'; the source and\n"
                   "the cache must be on a file system the workers see (docs/cluster.md)")
    g.add_argument("--cache-dir", default=None, metavar="DIR", help="measurement cache (default: OUT/.abrkit-cache)")
    g.add_argument("--no-cache", action="store_true", help="do not read or write a cache on disk")
    g.add_argument("--ffmpeg", default=None, metavar="PATH", help="ffmpeg binary (default: $ABRKIT_FFMPEG, imageio-ffmpeg's, PATH)")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")
    g = p.add_argument_group("output")
    g.add_argument("--out", required=True, metavar="DIR", help="directory for result.json and the CSV tables (created)")
    g.add_argument("--format", choices=("table", "json"), default="table",
                   help="summary on stdout: table (default) or json")
    g.add_argument("--plot", action="store_true", help="also write rate-quality.png (needs matplotlib)")
    g.add_argument("--renditions", action="store_true",
                   help="also encode the rungs as final renditions (capped CRF over the whole source) and package\n"
                   "them: OUT/renditions/, OUT/hls/master.m3u8, OUT/dash/manifest.mpd, OUT/video.json; with\n"
                   "--shots, package the joined per-shot rungs: OUT/hls/master.m3u8, OUT/dash/manifest.mpd")
    g = p.add_argument_group("shots (per-shot encoding)")
    g.add_argument("--shots", default=None, metavar="auto|FILE",
                   help="per-shot ladder: 'auto' detects the cuts, FILE lists shot starts (seconds, or frames as\n"
                   "Nf); each shot is searched, the rungs combine one encode per shot at a common slope, and\n"
                   "each rung is joined into OUT/rung<k>.ts and scored again (x264/x265)")
    g.add_argument("--shot-threshold", type=finite_float, default=10.0, metavar="SCORE",
                   help="scene score (0-100) that makes a cut, with --shots auto (default: 10)")
    g.add_argument("--min-shot-s", type=finite_float, default=1.0, metavar="S",
                   help="shortest shot, seconds, with --shots auto (default: 1)")
    g.add_argument("--max-shot-s", type=finite_float, default=None, metavar="S",
                   help="split longer shots into equal parts of at most S seconds")
    g.add_argument("--align-to-segments", action="store_true",
                   help="snap shot starts to the --segment-s grid, so that every segment starts with a keyframe\n"
                   "and OUT/shot-video.json (the rungs for abrkit simulate --video) is written")
    p.set_defaults(func=cmd_ladder)
    return p


def add_search_arguments(p: argparse.ArgumentParser) -> None:
    """The ``search`` and ``rungs`` option groups, shared by ``abrkit ladder`` and ``abrkit catalog``."""
    g = p.add_argument_group("search")
    g.add_argument("--codec", choices=_CODECS, default="x264", help="encoder (default: x264)")
    g.add_argument("--preset", default=None, help="encoder preset (default: the codec's, medium for x264)")
    g.add_argument("--encoder-args", default=None, metavar="ARGS",
                   help="extra ffmpeg output options for every encode, one quoted string, e.g.\n"
                   "'-tune film' or '-x264-params qcomp=1:aq-mode=0:mbtree=0' (a constant quantizer per CRF)")
    g.add_argument("--mode", choices=("fast", "exhaustive"), default="fast",
                   help="fast: adaptive sampling of the grid (default); exhaustive: every grid point")
    g.add_argument("--resolutions", type=resolution_list, default=None, metavar="WxH,...",
                   help="resolutions to search, e.g. 1280x720,640x360 or 720,360 "
                   "(default: the source's and the standard heights below it down to 234)")
    g.add_argument("--crfs", type=number_list, default=None, metavar="CRF,...",
                   help=f"CRF grid (default: per codec; {_crf_grids_help()})")
    g.add_argument("--axis", choices=("linear", "log"), default="linear",
                   help="rate axis of the convex hull (default: linear)")
    g.add_argument("--segment-s", type=finite_float, default=2.0, metavar="S",
                   help="segment duration and keyframe interval in seconds (default: 2)")
    g.add_argument("--max-duration-s", type=finite_float, default=None, metavar="S",
                   help="encode and score only the first S seconds (quick runs)")
    g.add_argument("--vmaf-model", default="vmaf_v0.6.1", metavar="NAME",
                   help="libvmaf built-in model (default: vmaf_v0.6.1)")
    g.add_argument("--metrics", type=_ladder_metrics, default=_ladder_metrics(_LADDER_METRICS), metavar="LIST",
                   help=f"what each encode is scored with, comma-separated, from: {', '.join(_LADDER_METRIC_NAMES)}\n"
                   f"(default: {_LADDER_METRICS}); vmaf is always scored, and decides.\n"
                   "Without ssim a search costs about a quarter less CPU (docs/ladder.md)")
    g = p.add_argument_group("rungs")
    g.add_argument("--rungs", type=integer, default=None, metavar="N", help="exactly N rungs (default: as many as the steps allow)")
    g.add_argument("--min-kbps", type=finite_float, default=None, metavar="KBPS", help="lowest rung bitrate at least this")
    g.add_argument("--max-kbps", type=finite_float, default=None, metavar="KBPS", help="highest rung bitrate at most this")
    g.add_argument("--min-ratio", type=finite_float, default=None, metavar="R", help="neighbour bitrate ratio at least R")
    g.add_argument("--max-ratio", type=finite_float, default=None, metavar="R", help="neighbour bitrate ratio at most R")
    g.add_argument("--jnd", type=finite_float, default=6.0, metavar="VMAF",
                   help="smallest VMAF step between neighbouring rungs (default: 6, about one JND)")
    g.add_argument("--min-vmaf", type=optional_float, default=30.0, metavar="VMAF",
                   help="lowest VMAF of a rung ('none': no floor; default: 30)")
    g.add_argument("--quality-cap", type=optional_float, default=95.0, metavar="VMAF",
                   help="only the top rung may reach this VMAF ('none': no cap; default: 95)")
    g.add_argument("--fixed", nargs="*", default=list(_FIXED), metavar="NAME",
                   help=f"fixed ladders to compare against (default: {' '.join(_FIXED)}; give none for no comparison)")


#: ``--metrics`` of the ladder and catalog: the ones the points table has columns for.
_LADDER_METRIC_NAMES = ("vmaf", "psnr", "ssim", "vmaf_neg", "vmaf_phone")
_LADDER_METRICS = "vmaf,psnr,ssim"
_ladder_metrics = metric_list(_LADDER_METRIC_NAMES, "vmaf,psnr")


def ladder_options(args: argparse.Namespace) -> dict[str, Any]:
    """:func:`~abrkit.encode.ladder.optimize_ladder` keyword arguments from the options of
    :func:`add_search_arguments` (and ``--workers``, ``--threads``, ``--ffmpeg``)."""
    from ..encode.quality import QualitySettings
    from ..encode.rungs import RungConstraints

    constraints = RungConstraints(
        n_rungs=args.rungs, min_bitrate_kbps=args.min_kbps, max_bitrate_kbps=args.max_kbps,
        min_ratio=args.min_ratio, max_ratio=args.max_ratio, min_quality_step=args.jnd,
        quality_cap=args.quality_cap,
    )
    return dict(
        codec=args.codec, mode=args.mode, resolutions=args.resolutions, crfs=args.crfs,
        constraints=constraints, quality=QualitySettings(
            vmaf_model=args.vmaf_model, psnr="psnr" in args.metrics, ssim="ssim" in args.metrics,
            neg="vmaf_neg" in args.metrics, phone="vmaf_phone" in args.metrics,
        ), segment_s=args.segment_s,
        preset=args.preset, axis=args.axis, fixed_ladders=tuple(args.fixed or ()), workers=args.workers,
        threads=args.threads, ffmpeg=args.ffmpeg, max_duration_s=args.max_duration_s, min_vmaf=args.min_vmaf,
        encoder_args=tuple(shlex.split(args.encoder_args or "")),
    )


def cmd_ladder(args: argparse.Namespace) -> int:
    """Run ``abrkit ladder``; returns the exit code (abrkit errors propagate to ``main``)."""
    from ..encode.ladder import optimize_ladder

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        from ..errors import ParameterError

        raise ParameterError("--out", str(out), "exists and is not a directory")
    options = ladder_options(args)
    quality = options["quality"]
    if args.no_cache:
        cache_dir: Any = False
    elif args.cache_dir is not None:
        cache_dir = Path(args.cache_dir)
    else:
        cache_dir = out / ".abrkit-cache"
    if args.shots is not None:
        return _cmd_shots(args, out, options, cache_dir)
    result = optimize_ladder(args.source, cache_dir=cache_dir, progress=args.progress, scheduler=args.scheduler, **options)
    out.mkdir(parents=True, exist_ok=True)
    written = [result.to_json(out / "result.json"), *result.to_csv(out)]
    if args.plot:
        written.append(_plot(result, out / "rate-quality.png"))
    renditions = None
    if args.renditions:
        files, renditions = _renditions(result, args, out, quality)
        written.extend(files)
    if args.format == "json":
        summary = result.to_dict()
        for bulky in ("points", "segments", "hull"):
            summary.pop(bulky, None)
        if renditions is not None:
            summary["renditions"] = [
                {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
                for row in renditions.drop(columns=["path"]).to_dict(orient="records")
            ]
        summary["files"] = [str(p) for p in written]
        sys.stdout.write(json.dumps(summary, indent=1) + "\n")
    else:
        sys.stdout.write(format_summary(result, renditions) + "\n")
        print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0


def format_summary(result: Any, renditions: Any = None) -> str:
    """The rungs and the BD-rates of a :class:`~abrkit.encode.ladder.LadderResult` as text;
    with ``renditions`` (the table :func:`_renditions` returns), the final renditions too, each
    bitrate labelled with what it measures."""
    s, n = result.settings, result.n_encodes
    lines = [
        f"per-title ladder of {Path(result.source['path']).name} "
        f"({result.source['width']}x{result.source['height']}, {result.source['scored_duration_s']:g} s scored), "
        f"{s['codec']} {s['preset']}, {s['mode']} search",
        f"points: {n['search']} searched + {n['fixed']} fixed-ladder rungs; encodes: {n['performed']} run now, "
        f"{n['cached']} from the cache; {result.elapsed_s:.1f} s",
        "",
        "rungs: the search's CRF encodes; search kbps = video payload over the scored duration (result.json, "
        "rungs.csv; `abrkit simulate --video OUT` streams these)",
    ]
    header = ("rung", "resolution", "crf", "search kbps", "peak kbps", "vmaf", "vmaf p5")
    rows = [
        (str(int(r.rung)), f"{int(r.width)}x{int(r.height)}", _cell(r.crf, "g"), _cell(r.bitrate_kbps, ".0f"),
         _cell(r.peak_bitrate_kbps, ".0f"), _cell(r.vmaf, ".2f"), _cell(r.vmaf_p5, ".2f"))
        for r in result.rungs.itertuples()
    ]
    lines += _table(header, rows)
    if renditions is not None and len(renditions):
        lines += [
            "",
            "renditions: capped-CRF encodes of the whole source (renditions.csv); rendition kbps = their video "
            "payload, packaged kbps = the HLS segment files a player downloads, MPEG-TS container included "
            "(the ladder of video.json)",
        ]
        header = ("rung", "resolution", "crf", "search kbps", "rendition kbps", "packaged kbps", "peak kbps", "vmaf")
        rows = [
            (str(int(r.rung)), f"{int(r.width)}x{int(r.height)}", _cell(r.crf, "g"), _cell(r.target_kbps, ".0f"),
             _cell(r.measured_kbps, ".0f"), _cell(r.packaged_kbps, ".0f"), _cell(r.peak_kbps, ".0f"),
             _cell(r.vmaf, ".2f"))
            for r in renditions.itertuples()
        ]
        lines += _table(header, rows)
    if result.bd_rate:
        lines += ["", "BD-rate of the per-title rungs against each fixed ladder (VMAF, PCHIP; negative = fewer bits):"]
        header = ("fixed ladder", "rungs", "BD-rate", "BD-rate (hull)", "BD-VMAF")
        rows = []
        for name, value in result.bd_rate.items():
            hull, gain = result.bd_rate_hull.get(name), result.bd_vmaf.get(name)
            rows.append((
                name, str(len(result.fixed.get(name, ()))),
                "n/a" if value is None else f"{value:+.1f} %",
                "n/a" if hull is None else f"{hull:+.1f} %",
                "n/a" if gain is None else f"{gain:+.2f}",
            ))
        lines += _table(header, rows)
    for note in result.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _cell(value: Any, spec: str) -> str:
    """A number for the summary table; a missing one (None, NaN) as ``-``, as in every table."""
    if value is None:
        return "-"
    x = float(value)
    return "-" if x != x else format(x, spec)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    fmt = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    return [fmt(header), *(fmt(r) for r in rows)]


def _plot(result: Any, path: Path) -> Path:
    """The rate-quality plot (:func:`abrkit.encode.plot.plot_ladder`) as a PNG."""
    from ..encode.plot import plot_ladder

    fig = plot_ladder(result)
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def _renditions(result: Any, args: argparse.Namespace, out: Path, quality: Any) -> tuple[list[Path], Any]:
    """Encode the rungs as final renditions (capped CRF) and package them as HLS and DASH.

    Returns the files written and the renditions table (``renditions.csv``: one row per rung
    with ``rung``, ``target_kbps`` (the search rate), ``measured_kbps`` (the rendition's payload),
    ``packaged_kbps`` (the HLS segment files, ``video.json``'s ladder), ...).
    """
    from ..encode.ffmpeg import find_ffmpeg
    from ..encode.package import encode_renditions, renditions_table, video_from_renditions, write_dash, write_hls

    ff = find_ffmpeg(args.ffmpeg) if args.ffmpeg else find_ffmpeg()
    s = result.settings
    renditions = encode_renditions(
        result.source["path"], result.rungs, out_dir=out / "renditions", codec=s["codec"], segment_s=s["segment_s"],
        preset=s["preset"], quality=quality, pix_fmt=s["pix_fmt"], scaler=s["scaler"], threads=s["threads"],
        ffmpeg=ff, workers=s["workers"], encoder_args=s.get("encoder_args", ()),
    )
    hls = write_hls(renditions, out / "hls", ffmpeg=ff)
    dash = write_dash(renditions, out / "dash", ffmpeg=ff)
    video = video_from_renditions(renditions, name=Path(result.source["path"]).stem, package=hls)
    video_path = out / "video.json"
    video.to_json(video_path)
    frame = renditions_table(renditions)
    frame.insert(0, "rung", range(1, len(frame) + 1))
    frame.insert(frame.columns.get_loc("measured_kbps") + 1, "packaged_kbps", video.bitrates_kbps)
    table = out / "renditions.csv"
    frame.to_csv(table, index=False, float_format="%.6g", lineterminator="\n")
    return [table, hls, dash, video_path], frame


def _cmd_shots(args: argparse.Namespace, out: Path, options: dict[str, Any], cache_dir: Any) -> int:
    """``abrkit ladder --shots``: :func:`~abrkit.encode.shotladder.optimize_shots` into ``out``."""
    from ..encode.shotladder import PRODUCIBLE_CODECS, optimize_shots
    from ..errors import ParameterError

    if args.renditions and args.codec not in PRODUCIBLE_CODECS:
        raise ParameterError("--renditions", True, f"with --shots packages the joined per-shot rungs, which needs "
                             f"--codec {' or '.join(PRODUCIBLE_CODECS)}, not {args.codec}")
    options.pop("axis")
    result = optimize_shots(
        args.source, shots=args.shots, threshold=args.shot_threshold, min_shot_s=args.min_shot_s,
        max_shot_s=args.max_shot_s, align_to_segments=args.align_to_segments, cache_dir=cache_dir, out_dir=out,
        produce=args.codec in PRODUCIBLE_CODECS, progress=args.progress, scheduler=args.scheduler, **options,
    )
    written = [result.to_json(out / "shot-result.json"), *result.to_csv(out)]
    if args.renditions:
        from ..encode.ffmpeg import find_ffmpeg
        from ..encode.package import write_dash, write_hls

        renditions = result.renditions()
        ff = find_ffmpeg(args.ffmpeg)
        written += [write_hls(renditions, out / "hls", ffmpeg=ff), write_dash(renditions, out / "dash", ffmpeg=ff)]
    if not result.segments.empty:
        result.to_video().to_json(out / "shot-video.json")
        written.append(out / "shot-video.json")
    if result.per_title is not None:
        written += [result.per_title.to_json(out / "result.json"), *result.per_title.to_csv(out)]
    if args.plot:
        from ..encode.plot import plot_shot_hulls
        import matplotlib.pyplot as plt

        fig = plot_shot_hulls(result, title=Path(args.source).name)
        fig.savefig(out / "shot-hulls.png", dpi=120)
        plt.close(fig)
        written.append(out / "shot-hulls.png")
    if args.format == "json":
        summary = result.to_dict()
        for bulky in ("points", "path"):
            summary.pop(bulky)
        summary["files"] = [str(p) for p in written]
        sys.stdout.write(json.dumps(summary, indent=1) + "\n")
    else:
        sys.stdout.write(format_shot_summary(result) + "\n")
        print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0


def format_shot_summary(result: Any) -> str:
    """The shots, the per-shot rungs (predicted and measured) and the BD-rates as text."""
    lines = [f"{len(result.shots)} shots:"]
    lines += _table(("shot", "start s", "duration s", "cause"), [
        (str(r.shot), _cell(r.start_s, ".3f"), _cell(r.duration_s, ".3f"), str(r.cause)) for r in result.shots.itertuples()
    ])
    lines.append("")
    lines.append("per-shot rungs (predicted from the shots' encodes, measured on the joined stream):")
    lines += _table(("rung", "kbps", "VMAF", "measured kbps", "measured VMAF", "worst shot VMAF"), [
        (str(r.rung), _cell(r.bitrate_kbps, ".1f"), _cell(r.vmaf, ".2f"), _cell(r.measured_bitrate_kbps, ".1f"),
         _cell(r.measured_vmaf, ".2f"), _cell(r.min_shot_vmaf, ".2f")) for r in result.rungs.itertuples()
    ])
    if result.bd_rate:
        lines.append("")
        lines.append("BD-rate of the per-shot rungs (negative: fewer bits for the same VMAF):")
        for name, value in result.bd_rate.items():
            lines.append(f"  against {name}: " + ("n/a" if value is None else f"{value:+.1f} %"))
    n = result.n_encodes
    lines.append(f"{n['search']} shot encodes ({n['search_performed']} run now, the rest from the cache), "
                 f"{n['produced']} made for the rungs ({n['produced_reused']} reused)")
    lines += [f"note: {text}" for text in result.notes]
    return "\n".join(lines)
