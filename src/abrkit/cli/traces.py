"""``abrkit traces stats|convert|generate|formats``: inspect, convert and generate traces."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from ..traces import FORMATS, Trace, read_trace, write_trace
from ._args import FORMATS_TABULAR, CLIError, HelpFormatter, positive_float, positive_int
from ._help import formats_help, presets_help
from ._inputs import STRICT_HELP, find_trace_files, load_trace_args
from ._output import render, write_text

__all__ = ["add_parser"]

_KNOWN_SUFFIXES = {f.extension for f in FORMATS.values() if f.extension} | {".txt", ".dat"}


def cmd_traces_stats(args: argparse.Namespace) -> int:
    from ..traces import stats

    traces = load_trace_args(args.paths, args.trace_format, args.strict)
    write_text(render(stats.stats_frame(traces), args.format), args.out, sys.stdout)
    return 0


def _trace_file_name(stem_source: str, to: str) -> str:
    """File name for a trace written in format ``to``: the source name, extension adjusted."""
    ext = FORMATS[to].extension
    p = Path(stem_source)
    stem = p.stem if p.suffix.lower() in _KNOWN_SUFFIXES else p.name
    return stem + ext


def _check_writable(to: str) -> None:
    if to not in FORMATS:
        raise CLIError(f"unknown trace format {to!r}; known: {', '.join(sorted(FORMATS))}")
    if getattr(FORMATS[to], "write", None) is None:
        writable = sorted(n for n, f in FORMATS.items() if getattr(f, "write", None) is not None)
        raise CLIError(f"trace format {to!r} can be read but not written; writable formats: {', '.join(writable)}")


def _write_trace(trace: Trace, path: Path, fmt: str) -> None:
    try:
        write_trace(trace, path, fmt)
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror or exc}") from None


def cmd_traces_convert(args: argparse.Namespace) -> int:
    _check_writable(args.to)
    src, dst = Path(args.input), Path(args.output)
    if not src.exists():
        raise CLIError(f"{src}: no such file or directory")
    if src.is_dir():
        if dst.exists() and not dst.is_dir():
            raise CLIError(f"{dst}: exists and is not a directory (converting directory {src} needs a directory)")
        if dst.resolve() == src.resolve():
            raise CLIError(f"{dst}: output directory is the input directory; choose another one")
        # Files whose format cannot be detected (a README) are skipped with a warning, as
        # everywhere traces are read from a directory; --strict makes them an error.
        files = find_trace_files([src], args.trace_format, args.strict)
        targets: dict[str, Path] = {}
        for f, _ in files:
            name = _trace_file_name(f.name, args.to)
            if name in targets:
                raise CLIError(f"{f} and {targets[name]} would both be written to {dst / name}")
            targets[name] = f
        traces = [read_trace(f, fmt) for f, fmt in files]  # read all before writing any
        try:
            dst.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CLIError(f"cannot create directory {dst}: {exc.strerror or exc}") from None
        for name, trace in zip(targets, traces):
            _write_trace(trace, dst / name, args.to)
        print(f"converted {len(traces)} trace{'s' if len(traces) != 1 else ''} to {args.to} in {dst}", file=sys.stderr)
        return 0
    trace = read_trace(src, args.trace_format)
    out = dst / _trace_file_name(src.name, args.to) if dst.is_dir() else dst
    if out.exists() and out.resolve() == src.resolve():
        raise CLIError(f"{out}: output is the input file; choose another name")
    _write_trace(trace, out, args.to)
    return 0


def cmd_traces_generate(args: argparse.Namespace) -> int:
    from ..traces import synthetic

    _check_writable(args.to)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"{out}: exists and is not a directory")
    # Trace i uses seed + i and keeps the generator's name ("<preset>-<seed>"), so any one
    # file can be regenerated on its own. File names zero-pad the seed to the width of the
    # largest, so that sorted names (the order directories are read in) follow the seeds.
    seeds = [args.seed + i for i in range(args.count)]
    traces = [synthetic.preset_trace(args.preset, duration_s=args.duration_s, seed=seed) for seed in seeds]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create directory {out}: {exc.strerror or exc}") from None
    for seed, trace in zip(seeds, traces):
        _write_trace(trace, out / _trace_file_name(_generated_name(args.preset, seed, seeds), args.to), args.to)
    print(f"wrote {len(traces)} {args.preset} trace{'s' if len(traces) != 1 else ''} ({args.to}) to {out}", file=sys.stderr)
    return 0


def _generated_name(preset: str, seed: int, seeds: list[int]) -> str:
    """``<preset>-<seed>``, the seed zero-padded to the widest of ``seeds`` (``4g-07`` ... ``4g-10``).

    Negative seeds sort before the others as text only when none is padded, so they keep
    their plain form.
    """
    if min(seeds) < 0:
        return f"{preset}-{seed}"
    width = len(str(max(seeds)))
    return f"{preset}-{seed:0{width}d}"


def cmd_traces_formats(args: argparse.Namespace) -> int:
    rows = [
        {
            "format": name,
            "auto_detected": FORMATS[name].sniff is not None,
            "writable": getattr(FORMATS[name], "write", None) is not None,
            "description": FORMATS[name].description,
        }
        for name in sorted(FORMATS)
    ]
    df = pd.DataFrame(rows, columns=["format", "auto_detected", "writable", "description"])
    write_text(render(df, args.format, {"auto_detected": "auto-detected"}), None, sys.stdout)
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``traces`` (with its own subcommands) to the subcommands ``sub``; returns its parser."""
    tr = sub.add_parser(
        "traces", help="inspect, convert and generate network traces", formatter_class=HelpFormatter,
        description="Inspect, convert and generate network traces.",
    )
    tsub = tr.add_subparsers(dest="traces_command", metavar="COMMAND", required=True)

    st = tsub.add_parser("stats", help="summary statistics of traces", formatter_class=HelpFormatter,
                         description="Summary statistics, one row per trace.", epilog=formats_help())
    st.add_argument("paths", nargs="+", metavar="PATH", help="trace files and/or directories")
    st.add_argument("--trace-format", "--from", dest="trace_format", choices=sorted(FORMATS), metavar="NAME",
                    default=None, help="format of the files (default: detect)")
    st.add_argument("--format", choices=FORMATS_TABULAR, default="table", help="output format (default: table)")
    st.add_argument("--out", metavar="FILE", default=None, help="write to FILE instead of stdout")
    st.add_argument("--strict", action="store_true", help=STRICT_HELP)
    st.set_defaults(func=cmd_traces_stats)

    cv = tsub.add_parser(
        "convert", help="convert traces between formats", formatter_class=HelpFormatter,
        description="Convert a trace file, or every file of a directory (one output file per trace), to another format.",
        epilog=formats_help(),
    )
    cv.add_argument("input", metavar="IN", help="trace file or directory")
    cv.add_argument("output", metavar="OUT", help="output file (or directory, when IN is one)")
    cv.add_argument("--to", required=True, choices=sorted(FORMATS), metavar="FORMAT", help="output format")
    cv.add_argument("--from", "--trace-format", dest="trace_format", choices=sorted(FORMATS), metavar="FORMAT",
                    default=None, help="input format (default: detect)")
    cv.add_argument("--strict", action="store_true", help=STRICT_HELP)
    cv.set_defaults(func=cmd_traces_convert)

    gen = tsub.add_parser(
        "generate", help="generate seeded synthetic traces", formatter_class=HelpFormatter,
        description="Generate synthetic traces from a preset: trace i uses seed + i, so a seed reproduces the set.",
        epilog=presets_help() + "\n\n" + formats_help(),
    )
    gen.add_argument("--preset", required=True, metavar="NAME", help="preset (listed below)")
    gen.add_argument("--count", type=positive_int, default=1, metavar="N", help="number of traces (default: 1)")
    gen.add_argument("--duration-s", type=positive_float, default=600.0, metavar="S",
                     help="length of each trace in seconds (default: 600)")
    gen.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the first trace (default: 0)")
    gen.add_argument("--out", required=True, metavar="DIR", help="output directory (created if missing)")
    gen.add_argument("--to", choices=sorted(FORMATS), default="sabre", metavar="FORMAT",
                     help="file format (default: sabre, which keeps period lengths and latency)")
    gen.set_defaults(func=cmd_traces_generate)

    fm = tsub.add_parser("formats", help="list the trace formats", formatter_class=HelpFormatter,
                         description="List the trace file formats, and whether each is detected from the content.")
    fm.add_argument("--format", choices=FORMATS_TABULAR, default="table", help="output format (default: table)")
    fm.set_defaults(func=cmd_traces_formats)
    return tr
