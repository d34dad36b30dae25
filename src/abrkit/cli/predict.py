"""``abrkit predict``: score throughput predictors' one-step predictions on traces."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..controllers import get_controller
from ..predictors import PREDICTORS, get_predictor
from ..profiles import PROFILES
from ..traces import FORMATS
from ._args import FORMATS_TABULAR, PROG, HelpFormatter, positive_int
from ._help import predictors_help
from ._inputs import add_strict_arg, add_video_ladder_args, load_trace_args, load_video
from ._output import format_table, render, write_text

__all__ = ["add_parser", "cmd_predict"]


def cmd_predict(args: argparse.Namespace) -> int:
    """Run ``abrkit predict``; returns the exit code."""
    from ..evaluate import DEFAULT_EVAL_VIDEO, evaluate_predictors

    traces = load_trace_args(args.traces, args.trace_format, args.strict)
    video = DEFAULT_EVAL_VIDEO if args.video is None else load_video(args)
    predictors = [get_predictor(p) for p in (args.predictor or sorted(PREDICTORS))]
    by = ["predictor", "trace"] if args.per_trace else ["predictor"]
    controller = get_controller(args.controller)
    table = evaluate_predictors(
        traces, predictors, video, controller, args.profile, by=by, n_workers=args.workers, progress=args.progress,
    )
    if args.format == "table":
        text = (
            f"one-step prediction errors e = (predicted - actual) / actual; {len(traces)} traces, video "
            f"{video.name}, controller {controller.name}, profile {args.profile}\n\n" + format_table(table)
        )
    else:
        text = render(table, args.format)
    write_text(text, args.out, sys.stdout)
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``predict`` to the subcommands ``sub``; returns its parser."""
    pr = sub.add_parser(
        "predict",
        help="score throughput predictors on traces",
        description="Stream a video over each trace and score every predictor's one-step throughput\n"
        "predictions (the predictors only watch; a controller makes the decisions).",
        formatter_class=HelpFormatter,
        epilog=predictors_help() + "\n\nexample:\n  "
        + f"{PROG} predict --traces traces/norway-hsdpa-test --predictor harmonic dashjs kalman:quantile=0.1 --format csv",
    )
    g = pr.add_argument_group("inputs")
    g.add_argument("--traces", nargs="+", required=True, metavar="PATH", help="trace files and/or directories")
    g.add_argument("--trace-format", choices=sorted(FORMATS), metavar="NAME", default=None,
                   help="format of every trace file (default: detect from the content)")
    add_strict_arg(g)
    g.add_argument("--video", metavar="PATH", default=None,
                   help="video whose downloads are replayed (default: Pensieve's ladder, 4 s CBR chunks, 10 min)")
    add_video_ladder_args(g, "the ladder of a Pensieve directory video")
    g = pr.add_argument_group("model")
    g.add_argument("--predictor", action="extend", nargs="+", metavar="SPEC", default=None,
                   help="predictors to score (default: all of them)")
    g.add_argument("--controller", default="rate", metavar="SPEC",
                   help="controller that makes the decisions (default: rate)")
    g.add_argument("--profile", default="default", choices=list(PROFILES), metavar="NAME",
                   help=f"player and network model: {', '.join(PROFILES)} (default: default)")
    g = pr.add_argument_group("output")
    g.add_argument("--per-trace", action="store_true", help="one row per predictor and trace")
    g.add_argument("--format", choices=FORMATS_TABULAR, default="table",
                   help="output format; jsonl: one JSON object a line (default: table)")
    g.add_argument("--out", metavar="FILE", default=None, help="write the output to FILE instead of stdout")
    g.add_argument("--workers", type=positive_int, metavar="N", default=None, help="worker threads")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="show a progress bar")
    pr.set_defaults(func=cmd_predict)
    return pr
