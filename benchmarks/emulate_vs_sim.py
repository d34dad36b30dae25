"""Real dash.js 5.2.1 (or hls.js 1.7.4) in Chromium against abrkit's simulator, trace by trace (docs/real-players.md).

A script, not an asv suite: every session runs in real time (about 2 minutes each)::

    python benchmarks/emulate_vs_sim.py --traces 20 --out /tmp/emu        # 10 Norway + 10 FCC
    python benchmarks/emulate_vs_sim.py --report /tmp/emu                  # the tables again
    python benchmarks/emulate_vs_sim.py --player hlsjs --traces 20 --out /tmp/emu-hlsjs   # vs --profile hlsjs

What it does:

1. the stream: :func:`abrkit.emulate.make_stream` (2 minutes of ffmpeg's test pattern with
   noise, 5 rungs 300-2850 kbit/s at 2 s segments; encoded once, cached), or ``--video DIR``;
2. the traces: the first ``N/2`` of ``../shared/data/traces/norway-hsdpa-test`` (1 s steps) and
   of the FCC traces of ``../shared/data/traces/pensieve-train`` (``trace_*``, 5 s steps), in
   sorted order, alternating;
3. each trace once through ``abrkit.emulate`` (dash.js 5.2.1 default settings, server round trip
   ``--rtt-s``, the tc shaper where root), then the first trace **again** (run-to-run agreement of
   the emulation itself; with ``--repeat-all`` every trace again, and the report gives the
   player against itself with the same measures as the simulator against the player), then,
   with ``--shaper-check``, the first trace with the server's pacing instead of tc (the two
   shapers against each other);
4. the simulator on the same traces and segment sizes (``--profile dashjs --set
   latency_s=<rtt> --controller dashjs``, or ``hlsjs`` for both with ``--player hlsjs``;
   ``--profile event`` for the tables measured before the dash.js player profile) and the
   per-session comparison.

Every finished session is appended to ``OUT/sessions.jsonl`` and its chunk table to
``OUT/chunks/<n>.csv`` at once, so an interrupted run keeps what it measured and resumes, and
``--report`` prints the tables from them: the recorded sessions are reused, only the simulator
runs again (seconds), so the simulator's settings can be changed without playing again. The report goes to stdout and ``OUT/report.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ABRKIT_DATA", ROOT.parent / "shared" / "data"))


def pick_traces(n: int) -> list[Path]:
    norway = sorted((DATA / "traces" / "norway-hsdpa-test").iterdir())
    fcc = sorted(p for p in (DATA / "traces" / "pensieve-train").iterdir() if p.name.startswith("trace_"))
    picked: list[Path] = []
    for a, b in zip(norway, fcc):
        picked += [a, b]
    return picked[:n]


def run(args: argparse.Namespace) -> None:
    from abrkit.emulate import emulate_session, get_player, load_stream, make_stream
    from abrkit.traces import read_trace

    out = Path(args.out)
    (out / "chunks").mkdir(parents=True, exist_ok=True)
    folder = Path(args.video) if args.video else make_stream(args.duration_s)
    player = get_player(args.player)
    stream = load_stream(folder, player.manifest)
    paths = pick_traces(args.traces)
    repeated = paths if args.repeat_all else paths[:1]
    plan = [(p, "main", args.shaper) for p in paths] + [(p, "repeat", args.shaper) for p in repeated]
    if args.shaper_check:
        plan.append((paths[0], "shaper-check", "server"))
    done = out / "sessions.jsonl"
    finished = {json.loads(line)["run"] for line in done.read_text().splitlines()} if done.exists() else set()
    (out / "settings.json").write_text(json.dumps({
        "stream": str(folder), "duration_s": args.duration_s, "rtt_s": args.rtt_s, "traces": [str(p) for p in paths],
        "player": player.name, "tc_queue_s": args.tc_queue_s,
    }, indent=1))
    for i, (path, role, shaper) in enumerate(plan):
        tag = f"{i:03d}"
        if tag in finished:
            continue
        trace = read_trace(path)
        s = emulate_session(stream, trace, player, duration_s=args.duration_s, rtt_s=args.rtt_s, shaper=shaper,
                            tc_queue_s=args.tc_queue_s)
        s.chunks.to_csv(out / "chunks" / f"{tag}.csv", index=False)
        row = {**{k: (v.item() if hasattr(v, "item") else v) for k, v in s.totals.items()}, "run": tag, "role": role,
               "path": str(path)}
        with done.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"[{tag}] {role:12s} {trace.name[:40]:40s} {s.totals['status']:9s} {s.totals['mean_bitrate_kbps']:7.0f} kbps "
              f"stalls {s.totals['rebuffer_s']:5.2f} s startup {s.totals['startup_s']:4.2f} s "
              f"downloads {s.totals['downloads']}", flush=True)


def _agreement(a: pd.DataFrame, b: pd.DataFrame) -> float:
    ra = dict(zip(a["chunk"], a["rung"]))
    rb = dict(zip(b["chunk"], b["rung"]))
    common = sorted(set(ra) & set(rb))
    return float(np.mean([ra[k] == rb[k] for k in common])) if common else float("nan")


def link_fidelity(session) -> float:  # noqa: ANN001 - an EmulatedSession
    """Median over the session's downloads of the bits delivered between first byte and end over
    the bits the trace allowed in that interval: how closely the shaper follows the trace."""
    from abrkit.emulate.link import Schedule

    schedule = Schedule(session.trace)
    ratios = []
    for r in session.chunks.itertuples():
        if r.kind == "abandoned" or not (np.isfinite(r.first_byte_s) and r.end_s > r.first_byte_s):
            continue
        times = np.linspace(r.first_byte_s, r.end_s, 100)
        allowed = np.mean([schedule.period_at(t)[0] for t in times]) * (r.end_s - r.first_byte_s)
        if allowed > 0:
            ratios.append(8.0 * r.size_bytes / allowed)
    return float(np.median(ratios)) if ratios else float("nan")


def report(args: argparse.Namespace) -> str:
    from abrkit.emulate import load_stream
    from abrkit.emulate.compare import compare, compare_summary
    from abrkit.emulate.session import EmulatedSession, EmulationResult
    from abrkit.emulate.players import get_player
    from abrkit.traces import read_trace

    out = Path(args.out)
    settings = json.loads((out / "settings.json").read_text())
    player = get_player(settings.get("player", "dashjs"))
    stream = load_stream(settings["stream"], player.manifest)
    rows = [json.loads(line) for line in (out / "sessions.jsonl").read_text().splitlines()]
    sessions = []
    for row in rows:
        chunks = pd.read_csv(out / "chunks" / f"{row['run']}.csv")
        n = int(settings["duration_s"] / stream.segment_s + 1e-6)
        sessions.append((row, EmulatedSession(read_trace(row["path"]), player, row["shaper"],
                                              float(row["rtt_s"]), chunks, row, [], [], [], stream.video.truncated(n))))
    main = [s for r, s in sessions if r["role"] == "main"]
    from abrkit.cli.simulate import _profile_with
    from abrkit.profiles import get_profile

    args.profile = args.profile or player.name  # the player's own model by default
    args.controller = args.controller or player.name
    profile = _profile_with(get_profile(args.profile), args.set)
    table = compare(EmulationResult(main, stream), args.controller, profile)
    s = compare_summary(table)
    cols = ["trace", "rung_agreement", "emu_mean_bitrate_kbps", "sim_mean_bitrate_kbps", "bitrate_diff_pct",
            "emu_rebuffer_s", "sim_rebuffer_s", "emu_startup_s", "sim_startup_s", "emu_downloads", "sim_downloads"]
    shown = table[cols].copy()
    shown["trace"] = shown["trace"].str.slice(0, 34)
    shown["rung_agreement"] = (100 * shown["rung_agreement"]).round(0)
    lines = [
        f"{'dash.js' if player.name == 'dashjs' else 'hls.js'} {player.version} (default settings) in Chromium vs `abrkit simulate --profile {args.profile} --set latency_s={settings['rtt_s']:g}{''.join(' --set ' + x for x in args.set)} "
        f"--controller {args.controller}`; {len(main)} trace(s) x {settings['duration_s']:g} s; shaper {main[0].shaper}",
        "",
        shown.to_markdown(index=False, floatfmt=".2f") if hasattr(shown, "to_markdown") and _has_tabulate() else shown.to_string(index=False),
        "",
        f"* per-segment rung agreement: median {100 * s['rung_agreement_median']:.0f} % "
        f"({100 * s['rung_agreement_min']:.0f}-{100 * s['rung_agreement_max']:.0f} %)",
        f"* mean bitrate: simulator {s['bitrate_diff_pct_mean']:+.1f} % on average against the player "
        f"(range {table['bitrate_diff_pct'].min():+.1f} to {table['bitrate_diff_pct'].max():+.1f} %)",
        f"* stalls: player {s['emu_rebuffer_s_total']:.1f} s in {(table['emu_rebuffer_s'] > 0).sum()} of {len(table)} sessions, "
        f"simulator {s['sim_rebuffer_s_total']:.1f} s in {(table['sim_rebuffer_s'] > 0).sum()}; within 0.5 s in "
        f"{100 * s['stalls_within_0_5_s']:.0f} % of sessions",
        f"* startup: player {table['emu_startup_s'].min():.2f}-{table['emu_startup_s'].max():.2f} s, simulator "
        f"{table['sim_startup_s'].min():.2f}-{table['sim_startup_s'].max():.2f} s",
        f"* downloads per session: player {table['emu_downloads'].min()}-{table['emu_downloads'].max()}, simulator "
        f"{table['sim_downloads'].min()}-{table['sim_downloads'].max()} ({len(stream.video.truncated(int(settings['duration_s'] / stream.segment_s + 1e-6)).sizes_bytes)} segments)",
    ]
    fidelity = [link_fidelity(x) for x in main]
    lines.append(f"* link fidelity ({main[0].shaper}): a download's bits over the trace's capacity between its first and last "
                 f"byte, median per session {np.median(fidelity):.2f} (range {min(fidelity):.2f}-{max(fidelity):.2f})")
    first = next((s for r, s in sessions if r["role"] == "main" and r["path"] == settings["traces"][0]), None)
    for role, label in (("repeat", "run-to-run (same trace, same shaper)"), ("shaper-check", "tc against server pacing")):
        other = next((s for r, s in sessions if r["role"] == role), None)
        if first is None or other is None:
            continue
        a, b = (x.chunks[x.chunks["kind"] == "played"] for x in (first, other))
        lines.append(
            f"* {label}, trace {first.trace.name}: rung agreement {100 * _agreement(a, b):.0f} %, mean bitrate "
            f"{first.totals['mean_bitrate_kbps']:.0f} vs {other.totals['mean_bitrate_kbps']:.0f} kbit/s, stalls "
            f"{first.totals['rebuffer_s']:.2f} vs {other.totals['rebuffer_s']:.2f} s, startup {first.totals['startup_s']:.2f} vs "
            f"{other.totals['startup_s']:.2f} s, downloads {first.totals['downloads']} vs {other.totals['downloads']}, "
            f"link fidelity {link_fidelity(first):.2f} vs {link_fidelity(other):.2f}"
        )
    repeats = [s for r, s in sessions if r["role"] == "repeat"]
    if len(repeats) == len(main) > 1:  # --repeat-all: the simulator against the second plays too
        s2 = compare_summary(compare(EmulationResult(repeats, stream), args.controller, profile))
        lines.append(
            f"* the simulator against the second plays: rung agreement median {100 * s2['rung_agreement_median']:.0f} %, "
            f"mean bitrate {s2['bitrate_diff_pct_mean']:+.1f} % on average, stalls within 0.5 s in "
            f"{100 * s2['stalls_within_0_5_s']:.0f} % of sessions"
        )
    lines += _self_agreement(sessions)
    text = "\n".join(lines) + "\n"
    (out / "report.md").write_text(text)
    table.to_csv(out / "compare.csv", index=False)
    return text


def _self_agreement(sessions: list) -> list[str]:
    """With ``--repeat-all``: each trace's two plays by the player against each other, with the
    measures and thresholds of issue 17's targets (what no simulator can beat)."""
    first = {r["path"]: s for r, s in sessions if r["role"] == "main"}
    pairs = [(first[r["path"]], s) for r, s in sessions if r["role"] == "repeat" and r["path"] in first]
    if len(pairs) < 2:
        return []
    rows = []
    for a, b in pairs:
        pa, pb = (x.chunks[x.chunks["kind"] == "played"] for x in (a, b))
        ta, tb = a.totals, b.totals
        rows.append({
            "trace": a.trace.name[:34], "rung_agreement": round(100 * _agreement(pa, pb)),
            "bitrate_kbps_1": ta["mean_bitrate_kbps"], "bitrate_kbps_2": tb["mean_bitrate_kbps"],
            "bitrate_diff_pct": 100 * (tb["mean_bitrate_kbps"] / ta["mean_bitrate_kbps"] - 1),
            "stalls_s_1": ta["rebuffer_s"], "stalls_s_2": tb["rebuffer_s"],
            "startup_s_1": ta["startup_s"], "startup_s_2": tb["startup_s"],
            "downloads_1": ta["downloads"], "downloads_2": tb["downloads"],
        })
    t = pd.DataFrame(rows)
    stall_ok = (t["stalls_s_1"] - t["stalls_s_2"]).abs() <= 0.5
    startup_ok = (t["startup_s_1"] - t["startup_s_2"]).abs() <= 0.3
    rate_ok = t["bitrate_diff_pct"].abs() <= 5.0
    body = t.to_markdown(index=False, floatfmt=".2f") if _has_tabulate() else t.to_string(index=False)
    return [
        "", f"The player against itself (every trace played twice, {len(t)} pairs):", "", body, "",
        f"* per-segment rung agreement: median {t['rung_agreement'].median():.0f} % "
        f"({t['rung_agreement'].min():.0f}-{t['rung_agreement'].max():.0f} %)",
        f"* mean bitrate within 5 % in {100 * rate_ok.mean():.0f} % of pairs (mean absolute difference "
        f"{t['bitrate_diff_pct'].abs().mean():.1f} %)",
        f"* stalls within 0.5 s in {100 * stall_ok.mean():.0f} % of pairs (stalls in {((t['stalls_s_1'] > 0) | (t['stalls_s_2'] > 0)).sum()} pairs)",
        f"* startup within 0.3 s in {100 * startup_ok.mean():.0f} % of pairs",
    ]


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--traces", type=int, default=20, help="number of traces, alternating Norway and FCC (default 20)")
    ap.add_argument("--duration-s", type=float, default=120.0, help="seconds of content per session (default 120)")
    ap.add_argument("--rtt-s", type=float, default=0.08, help="round trip added by the server (default 0.08)")
    ap.add_argument("--shaper", default="auto", choices=("auto", "tc", "server"))
    ap.add_argument("--tc-queue-s", type=float, default=5.0,
                    help="tbf queue in seconds of traffic (default 5; the docs' 20-trace table used 0.5)")
    ap.add_argument("--repeat-all", action="store_true",
                    help="play every trace a second time: the player against itself, trace by trace")
    ap.add_argument("--shaper-check", action="store_true", help="also the first trace with server pacing")
    ap.add_argument("--player", default="dashjs", choices=("dashjs", "hlsjs"),
                    help="dashjs (dash.js 5.2.1, DASH; default) or hlsjs (hls.js 1.7.4, HLS)")
    ap.add_argument("--video", default=None, help="a packaged folder instead of the 2-minute test stream")
    ap.add_argument("--out", default="emulate-bench", help="results folder (resumed when it exists)")
    ap.add_argument("--report", metavar="DIR", default=None,
                    help="only print the report of a results folder: the recorded sessions are re-simulated, not re-played")
    ap.add_argument("--profile", default=None,
                    help="the simulator's profile (default: the player's, dashjs or hlsjs; the docs' first tables: event)")
    ap.add_argument("--controller", default=None, help="the simulator's controller (default: the player's, dashjs or hlsjs)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="a field of the simulator's profile, as abrkit simulate --set (repeatable)")
    args = ap.parse_args()
    if args.report:
        args.out = args.report
    else:
        run(args)
    sys.stdout.write(report(args))


if __name__ == "__main__":
    main()
