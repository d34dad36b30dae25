"""``abrkit catalog``: per-title ladders for many sources, locally or on a Dask cluster.

Writes into ``--out DIR``: the shared measurement store ``DIR/.abrkit-cache`` (the one
``abrkit ladder --out DIR`` uses), ``DIR/titles/<title>.json`` per title and ``DIR/summary.csv``;
prints the summary (title, rungs, encodes, CPU seconds, BD-rate against each fixed ladder).
Running the same command again resumes: only encodes missing from the store are run. Exit code
1 when a title failed (its row says why); the others are still done.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ._args import HelpFormatter, integer
from .ladder import _table, add_search_arguments, ladder_options

__all__ = ["add_parser", "cmd_catalog"]


def add_parser(subparsers: Any, **kwargs: Any) -> argparse.ArgumentParser:
    """Add the ``catalog`` subcommand to an argparse ``subparsers`` object; returns its parser."""
    kwargs.setdefault("formatter_class", HelpFormatter)
    p = subparsers.add_parser(
        "catalog",
        help="per-title ladders of many videos, with every encode a task (local processes or a Dask cluster)",
        description="Run the per-title ladder search (abrkit ladder) for every source. With --scheduler every\n"
        "encode of every title is a task on a Dask cluster (or local processes); all measurements go\n"
        "to one shared, append-only store in OUT, so a rerun resumes and nothing is encoded twice.\n"
        "OUT and the sources must be visible to every worker.",
        epilog="examples:\n"
        "  abrkit catalog titles/*.mp4 --out catalog/\n"
        "  abrkit catalog titles/*.mp4 --out /shared/catalog --scheduler tcp://10.0.0.5:8786\n"
        "  abrkit catalog a.mp4 b.mp4 --out quick/ --scheduler processes --max-duration-s 4 --mode exhaustive",
        **kwargs,
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="the titles' source videos")
    add_search_arguments(p)
    g = p.add_argument_group("run")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="where the encodes run: a Dask scheduler address (tcp://host:8786) or 'processes' "
                   "(local process pool); default: threads here, one title after another")
    g.add_argument("--workers", type=integer, default=None, metavar="N",
                   help="concurrent ffmpeg jobs without a cluster, or the size of the 'processes' pool (default: CPU count / --threads)")
    g.add_argument("--threads", type=integer, default=1, metavar="N",
                   help="threads per encode; x264 output depends on it, so it is part of the cache key (default: 1)")
    g.add_argument("--ffmpeg", default=None, metavar="PATH", help="ffmpeg binary (default: $ABRKIT_FFMPEG, imageio-ffmpeg's, PATH)")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="one progress bar over the whole catalog (default: when stderr is a terminal)")
    g = p.add_argument_group("output")
    g.add_argument("--out", required=True, metavar="DIR", help="output directory: store, titles/, summary.csv (created)")
    g.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="summary on stdout: table (default), csv or json")
    p.set_defaults(func=cmd_catalog)
    return p


def cmd_catalog(args: argparse.Namespace) -> int:
    """Run ``abrkit catalog``; returns the exit code (abrkit errors propagate to ``main``)."""
    from ..encode.catalog import optimize_catalog

    result = optimize_catalog(args.sources, args.out, scheduler=args.scheduler, progress=args.progress, **ladder_options(args))
    table = result.summary
    if args.format == "csv":
        sys.stdout.write(table.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    elif args.format == "json":
        records = [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
                   for row in table.to_dict(orient="records")]
        sys.stdout.write(json.dumps(records, indent=1) + "\n")
    else:
        sys.stdout.write(format_catalog(table, result.elapsed_s) + "\n")
        print(f"wrote {Path(args.out) / 'summary.csv'} and {Path(args.out) / 'titles'}/", file=sys.stderr)
    return 1 if result.errors else 0


def format_catalog(table: Any, elapsed_s: float) -> str:
    """The catalog summary as text: one line per title."""
    bd = [c for c in table.columns if c.startswith("bd_rate_")]
    header = ("title", "rungs", "encodes", "run now", "cpu s", *(c[len("bd_rate_"):-len("_pct")] for c in bd), "error")
    rows = []
    for r in table.to_dict(orient="records"):
        cells = [str(r["title"]), str(r["rungs"]), str(r["encodes"]), str(r["performed"]), _num(r["cpu_s"], ".1f")]
        cells += ["n/a" if r[c] != r[c] else f"{r[c]:+.1f} %" for c in bd]
        cells.append(str(r["error"])[:80])
        rows.append(tuple(cells))
    total_cpu = float(table["cpu_s"].sum(skipna=True))
    lines = [f"catalog of {len(table)} titles: {int(table['encodes'].sum())} encodes "
             f"({int(table['performed'].sum())} run now), {total_cpu:.1f} CPU s of ffmpeg, {elapsed_s:.1f} s wall",
             "BD-rate of each title's rungs against each fixed ladder (VMAF, PCHIP; negative = fewer bits)", ""]
    return "\n".join(lines + _table(header, rows))


def _num(value: Any, spec: str) -> str:
    x = float(value)
    return "-" if x != x else format(x, spec)
