"""``abrkit emulate``: a packaged stream played by a real player over trace-shaped links."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..traces import FORMATS
from ._args import FORMATS_TABULAR, PROG, HelpFormatter, positive_float, warn
from ._inputs import add_strict_arg, load_trace_args
from ._output import format_table, render, to_csv, write_text

__all__ = ["add_parser", "cmd_emulate"]

#: Columns of the printed sessions table (the CSV/JSON keep every column).
_TABLE_COLUMNS = ("trace", "controller", "status", "chunks", "mean_bitrate_kbps", "rebuffer_s", "rebuffer_events",
                  "startup_s", "switches", "downloads", "replaced", "abandoned", "qoe")
_COMPARE_TABLE = ("trace", "chunks", "rung_agreement", "emu_mean_bitrate_kbps", "sim_mean_bitrate_kbps",
                  "bitrate_diff_pct", "emu_rebuffer_s", "sim_rebuffer_s", "emu_startup_s", "sim_startup_s",
                  "emu_downloads", "sim_downloads")


def cmd_emulate(args: argparse.Namespace) -> int:
    """Run ``abrkit emulate``; returns the exit code (abrkit errors propagate to ``main``)."""
    from ..emulate import emulate, load_stream, make_stream
    from ..emulate.players import get_player

    player = get_player(args.player)
    if args.plot is not None:
        from .._optional import pyplot

        pyplot()  # a missing matplotlib is an error before any session runs
    traces = load_trace_args(args.traces, args.trace_format, args.strict)
    folder = args.video if args.video is not None else make_stream(args.test_stream_s)
    stream = load_stream(folder, player.manifest)

    def report(session: Any) -> None:
        t = session.totals
        print(f"{PROG} emulate: {t['trace']}: {t['status']}, {t['chunks']} segments, "
              f"{t['mean_bitrate_kbps']:.0f} kbit/s, stalls {t['rebuffer_s']:.2f} s, startup {t['startup_s']:.2f} s, "
              f"{t['downloads']} downloads", file=sys.stderr)

    result = emulate(stream, traces, player.name, duration_s=args.duration_s, rtt_s=args.rtt_s, shaper=args.shaper,
                     tc_queue_s=args.tc_queue_s, chromium=args.chromium, stall_limit_s=args.stall_limit_s, on_session=report)
    sessions = result.sessions()
    for row in sessions[sessions["status"] != "complete"].itertuples():
        warn(f"session did not finish: trace {row.trace}, status {row.status}, {row.chunks} segments played")
    if args.log is not None:
        write_text(to_csv(result.chunks()), args.log, sys.stdout)
    if args.compare:
        from ..emulate.compare import compare, compare_summary, plot_compare

        # the player's own model unless told otherwise: dashjs for dash.js, hlsjs for hls.js
        args.sim_controller = args.sim_controller or player.name
        args.sim_profile = args.sim_profile or player.name

        table = compare(result, controller=args.sim_controller, profile=args.sim_profile)
        if args.plot is not None:
            plot_compare(table, args.plot, title=f"{player.package} {player.version} vs {args.sim_profile}:{args.sim_controller}")
        if args.format == "table":
            s = compare_summary(table)
            text = (format_table(table[list(_COMPARE_TABLE)]) +
                    f"\nrung agreement median {100 * s['rung_agreement_median']:.0f} % "
                    f"({100 * s['rung_agreement_min']:.0f}-{100 * s['rung_agreement_max']:.0f} %); mean bitrate "
                    f"{s['bitrate_diff_pct_mean']:+.1f} % (simulator vs player); stalls within 0.5 s in "
                    f"{100 * s['stalls_within_0_5_s']:.0f} % of sessions; startup {s['startup_diff_s_mean']:+.2f} s\n")
        else:
            text = render(table, args.format)
    elif args.format == "table":
        text = format_table(sessions[[c for c in _TABLE_COLUMNS if c in sessions]])
    else:
        text = render(sessions, args.format)
    write_text(text, args.out, sys.stdout)
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``emulate`` to the subcommands ``sub``; returns its parser."""
    p = sub.add_parser(
        "emulate",
        help="play a packaged stream with dash.js or hls.js in headless Chromium over trace-shaped links",
        description="Play a packaged stream (abrkit ladder --renditions) with a real player (dash.js 5.2.1 or hls.js "
                    "1.7.4) in headless Chromium, over a link that follows each trace in real time; record every "
                    "segment as abrkit's session and chunk tables, and with --compare set the simulator beside it. "
                    "Sessions run one after another, each for about the content's length.",
        formatter_class=HelpFormatter,
        epilog="example:\n  "
        f"{PROG} emulate --traces traces/norway-hsdpa-test --test-stream-s 120 --player dashjs --duration-s 60 --compare "
        "--plot compare.png\n\ndocs/real-players.md explains the setup, the tables and the measured comparison.",
    )
    g = p.add_argument_group("inputs")
    g.add_argument("--traces", nargs="+", required=True, metavar="PATH",
                   help="trace files and/or directories of trace files (read in sorted order)")
    g.add_argument("--trace-format", choices=sorted(FORMATS), metavar="NAME", default=None,
                   help="format of every trace file (default: detect from the content)")
    add_strict_arg(g)
    src = g.add_mutually_exclusive_group(required=True)
    src.add_argument("--video", metavar="DIR", default=None,
                     help="a packaged folder: dash/manifest.mpd, hls/master.m3u8 and video.json, as abrkit ladder "
                          "--renditions writes them")
    src.add_argument("--test-stream-s", type=positive_float, metavar="S", default=None,
                     help="instead, a test stream of S seconds (ffmpeg test pattern, 5 rungs 300-2850 kbit/s, 2 s "
                          "segments), encoded once and cached")
    g = p.add_argument_group("player and link")
    g.add_argument("--player", choices=("dashjs", "hlsjs"), default="dashjs",
                   help="dashjs: dash.js 5.2.1 on the DASH manifest; hlsjs: hls.js 1.7.4 on the HLS one; default "
                        "settings (default: dashjs)")
    g.add_argument("--duration-s", type=positive_float, metavar="S", default=None,
                   help="seconds of content each session plays, whole segments (default: all of it)")
    g.add_argument("--rtt-s", type=float, metavar="S", default=0.08,
                   help="round trip added by the server before each media response's first byte (default 0.08)")
    g.add_argument("--shaper", choices=("auto", "tc", "server"), default="auto",
                   help="tc: tbf on a veth pair into a network namespace (root); server: pacing in the server; "
                        "auto: tc where possible (default)")
    g.add_argument("--tc-queue-s", type=positive_float, metavar="S", default=5.0,
                   help="under tc, the link's queue in seconds of traffic at the current rate, at least 64 KB "
                        "(default 5; shorter queues drop, and TCP's timeouts then slow slow links: "
                        "docs/real-players.md)")
    g.add_argument("--chromium", metavar="PATH", default=None,
                   help="the browser (default: $ABRKIT_CHROMIUM, else chromium on the PATH)")
    g.add_argument("--stall-limit-s", type=positive_float, metavar="S", default=60.0,
                   help="a session not ended this long after its content could have played out stops as "
                        "'stalled' (default 60)")
    g = p.add_argument_group("comparison")
    g.add_argument("--compare", action="store_true",
                   help="also simulate the same traces and segment sizes, and print the per-session differences "
                        "and rung agreement")
    g.add_argument("--sim-controller", default=None, metavar="SPEC",
                   help="the simulator's controller (default: the player's, dashjs or hlsjs)")
    g.add_argument("--sim-profile", default=None, metavar="NAME",
                   help="the simulator's profile; an event profile gets latency_s = --rtt-s (default: the player's "
                        "model, dashjs for dash.js 5.2.1 or hlsjs for hls.js 1.7.4; event: Sabre's player)")
    g = p.add_argument_group("output")
    g.add_argument("--format", choices=FORMATS_TABULAR, default="table",
                   help="table, or csv/json/jsonl: one record per session (with --compare, per compared session)")
    g.add_argument("--log", metavar="FILE", default=None,
                   help="write every session's chunk table as CSV (played, replaced and abandoned downloads)")
    g.add_argument("--plot", metavar="FILE.png", default=None, help="with --compare, the comparison figure (matplotlib)")
    g.add_argument("--out", metavar="FILE", default=None, help="write the main output to FILE instead of stdout")
    p.set_defaults(func=cmd_emulate)
    return p
