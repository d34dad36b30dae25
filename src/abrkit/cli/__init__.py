"""The ``abrkit`` command line: a thin layer over the public API.

Subcommands::

    abrkit simulate --traces PATH... --video PATH [--controller SPEC...] [--profile NAME] [--optimum]
                    [--format table|csv|json|jsonl] [--plot FILE.png] ...
    abrkit predict --traces PATH... [--predictor SPEC...] [--format table|csv|json|jsonl]
    abrkit ladder SOURCE --out DIR [--mode fast|exhaustive] [--codec x264] ...
    abrkit score REFERENCE DISTORTED [--metrics vmaf,psnr,ssim,cambi] [--format table|csv|json] [--per-frame FILE]
    abrkit traces stats PATH... [--format table|csv|json|jsonl]
    abrkit traces convert IN OUT --to FORMAT [--from FORMAT]
    abrkit traces generate --preset NAME [--count N] [--duration-s S] [--seed S] --out DIR [--to FORMAT]
    abrkit traces formats
    abrkit warmup [--controllers NAME...] [--profiles NAME...]
    abrkit train --traces PATH... --video PATH --steps N --out FILE.npz [--profile NAME] ...
    abrkit emulate --traces PATH... (--video DIR | --test-stream-s S) [--player dashjs|hlsjs] [--compare] ...

Errors abrkit raises on purpose (:class:`abrkit.AbrkitError`) become one line on stderr,
``abrkit: error: <message>``, and exit code 1; argparse usage errors exit with 2; anything else
is a bug and keeps its traceback. Outputs are deterministic: the same arguments give the same
bytes, whatever ``--workers`` is.

Layout: one module per command (:mod:`.simulate`, :mod:`.predict`, :mod:`.traces`,
:mod:`.ladder`, :mod:`.score`, :mod:`.warmup`, :mod:`.train`, :mod:`.emulate`), each with ``add_parser(subparsers)``; shared pieces in
:mod:`._args` (argparse value types, help formatter, :class:`CLIError`), :mod:`._help` (the
registry lists of ``--help``), :mod:`._inputs`, :mod:`._output` (table/CSV/JSON/JSONL),
:mod:`._sweep` (controller parameter sweeps) and :mod:`._columns` (parameter columns).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from .._version import __version__
from ..errors import AbrkitError
from . import emulate, ladder, predict, score, simulate, train, traces, warmup
from ._args import PROG, CLIError, HelpFormatter

__all__ = ["main", "build_parser", "CLIError"]


def build_parser() -> argparse.ArgumentParser:
    """The ``abrkit`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Adaptive-bitrate streaming toolkit: simulate ABR controllers over network traces,\n"
        "score throughput predictors, and inspect, convert and generate traces.",
        formatter_class=HelpFormatter,
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    simulate.add_parser(sub)
    predict.add_parser(sub)
    traces.add_parser(sub)
    ladder.add_parser(sub, formatter_class=HelpFormatter)
    score.add_parser(sub)
    warmup.add_parser(sub)
    train.add_parser(sub)
    emulate.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (argparse exits by itself on usage errors)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except AbrkitError as exc:
        message = str(exc).strip() or type(exc).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (e.g. `abrkit ... | head`): stop quietly, as Unix tools do.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 141
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130

