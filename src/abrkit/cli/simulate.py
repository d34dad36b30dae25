"""``abrkit simulate``: every (trace, controller) session of one video, compared."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..controllers import get_controller
from ..custom import load_controller, spec_of
from ..errors import ParameterError
from ..event import EVENT_PROFILES, EventProfile
from ..live import LIVE_METRICS, LIVE_PROFILES, LiveProfile
from ..profiles import PROFILES, Profile, get_profile
from ..qoe import QOE_MODELS, QoE, get_qoe
from ..simulation import run_batch
from ..tables import summary_table
from ..traces import FORMATS, Trace
from ._args import FORMATS_TABULAR, PROG, CLIError, HelpFormatter, positive_float, positive_int, warn
from ._columns import with_parameter_columns
from ._help import controllers_help, formats_help, profiles_help, qoes_help, sweep_help
from ._inputs import add_strict_arg, add_video_ladder_args, load_trace_args, load_video
from ._output import format_kbps, format_table, render, to_csv, write_text
from ._sweep import expand_controller_spec

__all__ = ["add_parser", "cmd_simulate", "SUMMARY_LABELS"]

#: Headers of the printed comparison table (the JSON/CSV keep the column names).
SUMMARY_LABELS = {
    "controller": "controller",
    "sessions": "sessions",
    "mean_qoe": "mean QoE",
    "qoe_median": "median QoE",
    "qoe_mean_ci_low": "mean QoE CI95 low",
    "qoe_mean_ci_high": "mean QoE CI95 high",
    "mean_bitrate_kbps": "mean bitrate kbps",
    "mean_rebuffer_s": "mean rebuffer s",
    "rebuffer_ratio": "rebuffer ratio",
    "mean_switches": "mean switches",
    "stalled_sessions": "stalled (unfinished)",
}

#: Columns the optimum rows add to the sessions table (named as in OptimumResult.totals()).
_OPTIMUM_COLUMNS = ("exact", "exact_with_cap", "lower_bound", "reason")


def _profile_with(profile: Profile | EventProfile, settings: Sequence[str] | None) -> Profile | EventProfile:
    """``profile`` with ``FIELD=VALUE`` overrides, each value read as the field's declared type."""
    types = {f.name: str(f.type) for f in dataclasses.fields(profile) if f.name not in ("name", "qoe")}
    changes: dict[str, Any] = {}
    for item in settings or []:
        key, sep, text = (part.strip() for part in item.partition("="))
        if not sep or key not in types:
            raise CLIError(f"--set {item!r}: expected FIELD=VALUE with FIELD one of {', '.join(types)} "
                           f"(fields of profile {profile.name!r}; the QoE model: --qoe)")
        kind = types[key]
        word = text.lower()
        if word == "none" and "None" in kind:
            changes[key] = None
        elif kind.startswith("bool"):
            if word not in ("true", "false"):
                raise CLIError(f"--set {item!r}: {key} is true or false")
            changes[key] = word == "true"
        elif kind.startswith(("int", "float")):
            try:
                changes[key] = int(text) if kind.startswith("int") else float(text)
            except ValueError:
                raise CLIError(f"--set {item!r}: {key} takes a number ({kind})") from None
        else:
            changes[key] = text
    return profile.replace(**changes) if changes else profile


def resolve_controllers(specs: Sequence[str] | None) -> list[Any]:
    """Built-in specs (sweeps expanded), and Python controllers given as ``FILE.py[:Class]``.

    A controller given twice (also through two sweeps that overlap) is a CLIError.
    """
    expanded: list[tuple[str, str]] = []  # (spec, the spec the user wrote)
    for given in specs or ["bb"]:
        expanded.extend((s, given) for s in expand_controller_spec(given))
    controllers = []
    for spec, given in expanded:
        if spec.endswith(".py") or ".py:" in spec:
            controllers.append(load_controller(spec))
            continue
        try:
            controllers.append(get_controller(spec))
        except ParameterError as exc:
            if spec == given:
                raise
            raise ParameterError("controller", given, f"its value {spec!r} is refused: {exc.rule}") from None
    seen: dict[str, str] = {}
    for (spec, _), c in zip(expanded, controllers):
        name = spec_of(c).name
        if name in seen:
            raise CLIError(f"controller {spec!r} is the same as {seen[name]!r} ({name}): give each controller once")
        seen[name] = spec
    return controllers


def _resolve_qoe(args: argparse.Namespace, profile: Profile | EventProfile) -> QoE:
    # The profile sets the scoring convention: a model named with --qoe keeps the profile's
    # choice of counting chunk 0 (Pensieve's totals skip it for every QoE model).
    if args.qoe is None:
        model = profile.qoe
    else:
        model = get_qoe(args.qoe).with_first_chunk(profile.qoe.include_first_chunk)
    if args.include_first_chunk is not None:
        model = model.with_first_chunk(args.include_first_chunk)
    return model


def _context_line(batch: Any, traces: Sequence[Trace]) -> str:
    q = batch.qoe
    v = batch.videos[0]
    n_chunks = int(batch.n_chunks[0]) if len(batch) else v.n_chunks
    chunks = f"{n_chunks} chunks x {v.chunk_s:g} s" if v.durations_s is None else (
        f"{n_chunks} chunks of unequal duration ({v.played_s(n_chunks):g} s)")
    return (
        f"profile {batch.profile.name}; QoE {q.name} (chunk 0 {'counted' if q.include_first_chunk else 'not counted'}); "
        f"video {v.name}: {chunks}, {v.n_rungs} rungs "
        f"{format_kbps(v.bitrates_kbps)} kbps; {len(traces)} trace{'s' if len(traces) != 1 else ''}\n"
    )


def _with_optimum(sessions: pd.DataFrame, optimum: pd.DataFrame) -> pd.DataFrame:
    """The sessions table with the optimum's rows appended, in the sessions' columns plus the
    exactness ones; cells that do not apply to a row are left empty."""
    columns = [*sessions.columns, *(c for c in _OPTIMUM_COLUMNS if c not in sessions.columns)]
    left, right = sessions.reindex(columns=columns), optimum.reindex(columns=columns)
    for col in columns:
        source = sessions[col] if col in sessions.columns else optimum[col]
        # Nullable dtypes: an integer column with one empty cell would otherwise turn float and
        # print the controllers' counts as "3.0"; the flags stay flags with null for controllers.
        if pd.api.types.is_bool_dtype(source):
            left[col], right[col] = left[col].astype("boolean"), right[col].astype("boolean")
        elif pd.api.types.is_integer_dtype(source):
            left[col], right[col] = left[col].astype("Int64"), right[col].astype("Int64")
        elif source.dtype == object:
            left[col], right[col] = left[col].astype(object), right[col].astype(object)
    if "family" in columns:
        right["family"] = "optimum"
    return pd.concat([left, right], ignore_index=True)


def _warn_optimum(optimum: pd.DataFrame) -> None:
    complete = (optimum["status"] == "complete").to_numpy()
    for _, row in optimum[~complete].iterrows():
        warn(f"no offline optimum for trace {row['trace']}: status {row['status']}")
    loose = optimum[complete & ~optimum["exact"].to_numpy(dtype=bool)]
    if len(loose):
        names = ", ".join(loose["trace"].astype(str).head(5)) + (", ..." if len(loose) > 5 else "")
        causes = "; ".join(sorted({str(r) for r in loose["reason"] if str(r)})) if "reason" in loose else ""
        warn(
            f"the offline optimum is not exact on {len(loose)} of {len(optimum)} traces ({names}): its qoe there is "
            "only an upper bound, which no rung sequence may reach; the true optimum lies between lower_bound and qoe "
            f"(cause: {causes or 'see the reason column'}; docs/optimum.md)"
        )


#: Headers of the live table (the JSON/CSV keep the challenge's names, as stats.js spells them).
LIVE_LABELS = {
    "averageBitrate": "averageBitrate kbps", "numSwitches": "numSwitches", "stallDuration": "stallDuration s",
    "numStalls": "numStalls", "avgLatency": "avgLatency s", "avgBufferLength": "avgBufferLength s",
    "avgPlaybackRate": "avgPlaybackRate", "NQoE": "NQoE",
}


def _cmd_simulate_live(args: argparse.Namespace, profile: LiveProfile) -> int:
    """``abrkit simulate --profile live``: the live model's sessions and metrics."""
    for flag, used in (("--optimum", args.optimum), ("--qoe", args.qoe is not None),
                       ("--include-first-chunk/--skip-first-chunk", args.include_first_chunk is not None)):
        if used:
            raise CLIError(f"{flag} does not apply to --profile {args.profile}: the live model scores every session "
                           "with the challenge's NQoE (docs/live.md)")
    if args.plot is not None:
        from .._optional import pyplot

        pyplot()
    controllers = resolve_controllers(args.controller)
    video = load_video(args)
    if args.video_length_s is not None:
        video = video.looped(args.video_length_s)
    traces = load_trace_args(args.traces, args.trace_format, args.strict)
    batch: Any = run_batch(traces, [video], controllers, profile, None, n_workers=args.workers, progress=args.progress)
    sessions = batch.sessions()
    for j in np.flatnonzero(sessions["status"].to_numpy() != "complete"):
        row = sessions.iloc[int(j)]
        warn(f"session did not finish: trace {row['trace']}, controller {row['controller']}, status {row['status']}, "
             f"{int(row['segments'])} segments requested")
    summary = batch.summary(sessions).reset_index()
    sessions = with_parameter_columns(sessions, controllers)
    if args.log is not None:
        write_text(to_csv(batch.chunks()), args.log, sys.stdout)
    if args.plot is not None:
        from ..plotting import plot_live_session

        plot_live_session(batch, args.plot_session, args.plot)
    if args.format == "table":
        shown = summary.copy()
        shown["averageBitrate"] = shown["averageBitrate"] / 1e3
        v = batch.videos[0]
        head = (f"profile {profile.name}: target latency {profile.target_latency_s:g} s, catch-up {profile.catchup} "
                f"(rate {profile.rate_min:g}-{profile.rate_max:g}), "
                f"{profile.chunks_per_segment(v.chunk_s)} CMAF chunks per segment; QoE NQoE; video {v.name}: "
                f"{v.chunk_s:g} s segments, {v.n_rungs} rungs {format_kbps(v.bitrates_kbps)} kbps; "
                f"{len(traces)} trace{'s' if len(traces) != 1 else ''}; means over sessions\n")
        text = head + "\n" + format_table(shown, {"controller": "controller", "sessions": "sessions", **LIVE_LABELS})
    elif args.summary:
        text = render(summary, args.format)
    else:
        text = render(sessions, args.format)
    write_text(text, args.out, sys.stdout)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Run ``abrkit simulate``; returns the exit code (abrkit errors propagate to ``main``)."""
    profile = _profile_with(get_profile(args.profile), args.set)
    if isinstance(profile, LiveProfile):
        return _cmd_simulate_live(args, profile)
    if args.optimum and not isinstance(profile, Profile):
        # Checked before any session runs: the event player may delay requests and abandon
        # downloads, which the optimum's model (and its proof of the bound) leaves out.
        raise CLIError(
            f"--optimum is defined for the chunk-model profiles ({', '.join(PROFILES)}), not for --profile "
            f"{args.profile} (an event-model profile); see docs/optimum.md"
        )
    if args.plot is not None:
        from .._optional import pyplot

        pyplot()  # a missing matplotlib is an error before any session runs
    model = _resolve_qoe(args, profile)
    controllers = resolve_controllers(args.controller)
    video = load_video(args)
    if args.video_length_s is not None:
        video = video.looped(args.video_length_s)
    traces = load_trace_args(args.traces, args.trace_format, args.strict)
    batch: Any = run_batch(traces, [video], controllers, profile, model, n_workers=args.workers, progress=args.progress,
                           scheduler=args.scheduler)
    sessions = batch.sessions()

    for j in np.flatnonzero(sessions["status"].to_numpy() != "complete"):
        row = sessions.iloc[int(j)]
        warn(
            f"session did not finish: trace {row['trace']}, controller {row['controller']}, status {row['status']}, "
            f"{int(row['chunks'])} of {int(batch.n_chunks[j])} chunks played"
        )

    summary = batch.summary(sessions)
    sessions = with_parameter_columns(sessions, controllers)
    if args.optimum:
        from ..optimum import offline_optimum_many

        # the check above made sure the profile (with any --set changes) is a chunk-model one
        optimum = offline_optimum_many(traces, video, profile, model, n_workers=args.workers, progress=args.progress,
                                       scheduler=args.scheduler)
        _warn_optimum(optimum)
        played_s = video.played_s(optimum["chunks"].to_numpy(dtype=np.int64))
        summary = pd.concat([summary, summary_table(optimum, ["optimum"], played_s)], ignore_index=True)
        sessions = _with_optimum(sessions, optimum)

    # The optimum's rows stay out of the log: offline_optimum_many returns totals only.
    if args.log is not None:
        write_text(to_csv(batch.chunks()), args.log, sys.stdout)
    if args.plot is not None:
        from ..plotting import save_comparison

        save_comparison(sessions, args.plot, title=_context_line(batch, traces).strip())

    if args.format == "table":
        text = _context_line(batch, traces) + "\n" + format_table(summary, SUMMARY_LABELS)
    elif args.summary:
        text = render(summary, args.format)
    else:
        text = render(sessions, args.format)
    write_text(text, args.out, sys.stdout)
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``simulate`` to the subcommands ``sub``; returns its parser."""
    sim = sub.add_parser(
        "simulate",
        help="simulate controllers over traces and compare them",
        description="Simulate every (trace, controller) session of one video and compare the controllers.",
        formatter_class=HelpFormatter,
        epilog="\n\n".join([controllers_help(), sweep_help(), profiles_help(), qoes_help(), formats_help()])
        + "\n\nexample:\n  "
        + f"{PROG} simulate --profile pensieve --traces traces/norway-hsdpa-test --video videos/envivio \\\n"
        "      --bitrates-kbps 300,750,1200,1850,2850,4300 --controller bb rate:safety=0.8 --log chunks.csv",
    )
    g = sim.add_argument_group("inputs")
    g.add_argument("--traces", nargs="+", required=True, metavar="PATH",
                   help="trace files and/or directories of trace files (read in sorted order)")
    g.add_argument("--trace-format", choices=sorted(FORMATS), metavar="NAME", default=None,
                   help="format of every trace file (default: detect from the content)")
    add_strict_arg(g)
    g.add_argument("--video", required=True, metavar="PATH",
                   help="abrkit video JSON, Sabre movie JSON, an abrkit ladder result.json or --out directory, "
                        "or a Pensieve directory of video_size_N files")
    add_video_ladder_args(g, "the ladder, e.g. 300,750,1200 (needed for Pensieve directories; checked against "
                             "JSON videos)")
    g = sim.add_argument_group("model")
    g.add_argument("--controller", action="extend", nargs="+", metavar="SPEC", default=None,
                   help="controllers to compare, e.g. 'bb bba0 rate:safety=0.8,predictor=dashjs'; repeatable (default: "
                        "bb). A sweep, e.g. 'bba0:reservoir_s=2:10:1' or 'rate:safety=0.7,0.8,0.9', gives one "
                        "controller per value (listed below). A Python controller (docs/custom-controllers.md): "
                        "FILE.py:ClassName, or FILE.py when it defines one class with decide()")
    g.add_argument("--profile", default="default", choices=[*PROFILES, *EVENT_PROFILES, *LIVE_PROFILES], metavar="NAME",
                   help=f"player and network model: {', '.join([*PROFILES, *EVENT_PROFILES, *LIVE_PROFILES])} "
                   "(default: default; live: docs/live.md)")
    g.add_argument("--set", action="append", metavar="FIELD=VALUE", default=None,
                   help="change a field of the profile, repeatable: e.g. --set buffer_cap_s=60 (Sabre's -b 60), "
                        "--set replacement=left (-r left), --set network_multiplier=0.5 (-nm 0.5); "
                        "docs/simulator.md and docs/controllers.md list the fields")
    g.add_argument("--video-length-s", type=positive_float, metavar="S", default=None,
                   help="loop (or cut) the video to this length, as Sabre's -ml does")
    g.add_argument("--qoe", default=None, choices=list(QOE_MODELS), metavar="NAME",
                   help=f"QoE model: {', '.join(QOE_MODELS)} (default: the profile's)")
    g.add_argument("--optimum", action="store_true",
                   help="also add, as controller 'optimum', each trace's offline optimum: the best QoE any rung "
                   "sequence reaches knowing the trace, an upper bound on every controller (columns exact, "
                   f"exact_with_cap, lower_bound; not in --log; profiles {', '.join(PROFILES)} only; docs/optimum.md)")
    first = g.add_mutually_exclusive_group()
    first.add_argument("--skip-first-chunk", dest="include_first_chunk", action="store_false", default=None,
                       help="leave chunk 0 out of session QoE totals")
    first.add_argument("--include-first-chunk", dest="include_first_chunk", action="store_true", default=None,
                       help="count chunk 0 in session QoE totals (default: as the profile does)")
    g = sim.add_argument_group("output")
    g.add_argument("--format", choices=FORMATS_TABULAR, default="table",
                   help="table: one row per controller, with the median QoE and a 95%% bootstrap interval of the "
                        "mean QoE over traces; csv/json/jsonl: one record per session (jsonl: one JSON object a "
                        "line), with every controller parameter as a column (default: table)")
    g.add_argument("--summary", action="store_true",
                   help="with csv/json/jsonl, print the per-controller comparison instead of the sessions")
    g.add_argument("--log", metavar="FILE", default=None, help="write the per-chunk log of every session as CSV")
    g.add_argument("--plot", metavar="FILE.png", default=None,
                   help="write the comparison figure: QoE, mean bitrate and rebuffering per controller, the spread "
                        "over traces as box plots with the mean marked (needs matplotlib: pip install "
                        "'abrkit[plot]')")
    g.add_argument("--plot-session", type=int, metavar="J", default=0,
                   help="with --profile live, --plot draws session J's latency, playback rate and bitrate over time "
                        f"(sessions in the order of the table; default 0); LIVE_METRICS: {', '.join(LIVE_METRICS)}")
    g.add_argument("--out", metavar="FILE", default=None, help="write the main output to FILE instead of stdout")
    g.add_argument("--workers", type=positive_int, metavar="N", default=None,
                   help="worker threads (default: CPU count, at most 8); results do not depend on it")
    g.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="run the sessions (and --optimum) on a Dask cluster (tcp://host:8786) or 'processes'; "
                        "the same results (docs/cluster.md; pip install 'abrkit[cluster]')")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: for large batches on a terminal)")
    sim.set_defaults(func=cmd_simulate)
    return sim
