"""``abrkit warmup``: precompile the kernels (container images, CI caches)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._args import FORMATS_TABULAR, HelpFormatter
from ._output import render, write_text

__all__ = ["add_parser", "cmd_warmup"]


def cmd_warmup(args: argparse.Namespace) -> int:
    """Run ``abrkit warmup``: one tiny session per controller and profile; prints the times
    (the table leaves out the notes on skipped combinations; csv/json/jsonl keep them)."""
    from ..warmup import warmup

    table = warmup(args.controllers, args.profiles, progress=args.progress)
    if args.format == "table":
        done = table[table["status"] == "ran"]
        skipped = len(table) - len(done)
        shown = table[["controller", "profile", "status", "seconds"]]
        text = render(shown, "table", {"seconds": "seconds (wall)"}) + (
            f"\nran {len(done)} session{'s' if len(done) != 1 else ''} in {done['seconds'].sum():.1f} s "
            f"(compiling included); {skipped} combination{'s' if skipped != 1 else ''} not supported yet\n"
        )
    else:
        text = render(table, args.format)
    write_text(text, None, sys.stdout)
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``warmup`` to the subcommands ``sub``; returns its parser."""
    from ..controllers import CONTROLLERS
    from ..event import EVENT_PROFILES
    from ..live import LIVE_PROFILES
    from ..profiles import PROFILES

    p = sub.add_parser(
        "warmup",
        help="precompile the kernels (for container images and CI)",
        description="Run one tiny session (a 3-chunk synthetic video over a 30 s synthetic trace) per controller\n"
        "and profile, so that Numba compiles their kernels into its on-disk cache (NUMBA_CACHE_DIR or\n"
        "__pycache__) and later processes start at once. Combinations a profile does not run are\n"
        "skipped. Prints the wall time of each session (compile included).",
        formatter_class=HelpFormatter,
        epilog="examples:\n  abrkit warmup\n  abrkit warmup --controllers bb bba0 rate --profiles default pensieve",
    )
    p.add_argument("--controllers", nargs="+", metavar="NAME", default=None,
                   help=f"controllers (default: all: {', '.join(sorted(CONTROLLERS))})")
    p.add_argument("--profiles", nargs="+", metavar="NAME", default=None,
                   choices=[*PROFILES, *EVENT_PROFILES, *LIVE_PROFILES],
                   help=f"profiles (default: all: {', '.join([*PROFILES, *EVENT_PROFILES])}; also: "
                        f"{', '.join(LIVE_PROFILES)})")
    p.add_argument("--format", choices=FORMATS_TABULAR, default="table", help="output format (default: table)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")
    p.set_defaults(func=cmd_warmup)
    return p
