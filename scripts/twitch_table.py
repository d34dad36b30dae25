"""The table of docs/live.md: every controller on the Twitch challenge's five networks.

    PYTHONPATH=src python scripts/twitch_table.py [--target-latency-s 1.0] [--prelude-s 20]

Each network (``samples/twitch/traces``, from ``scripts/make_twitch_samples.py``) plays once
under profile ``live`` with the challenge's media (``samples/twitch/twitch_normal.json``); the
simulator is deterministic, so one run stands for the challenge's three. Prints one Markdown row
per controller and network with the challenge's metrics and NQoE, then the per-controller mean
over the five networks (the challenge's "superscore" averages the per-network NQoE).
Pensieve's networks need a 6-rung ladder and are left out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from abrkit import CONTROLLERS, load_traces, read_video, run_batch
from abrkit.live import LiveProfile

TWITCH = Path(__file__).resolve().parents[1] / "samples" / "twitch"
LEAVE_OUT = {"pensieve", "learned"}
EXTRA = {"throughput (dash.js 5 rule)": "rate:predictor=sabre-ewma(half_lives_s=2/5.333333333333333),safety=0.9"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target-latency-s", type=float, default=1.0)
    parser.add_argument("--prelude-s", type=float, default=20.0,
                        help="seconds on a 3 Mbit/s link before each network, left out of the metrics (the "
                        "challenge starts after 10 s of stable top-rung playback; 0: a cold start)")
    args = parser.parse_args()
    traces = load_traces(TWITCH / "traces")
    order = ["cascade.csv", "intra_cascade.csv", "spike.csv", "slow_jitters.csv", "fast_jitters.csv"]
    traces = sorted(traces, key=lambda t: order.index(t.name))
    video = read_video(TWITCH / "twitch_normal.json")
    names = [n for n in CONTROLLERS if n not in LEAVE_OUT]
    specs = names + list(EXTRA.values())
    labels = names + list(EXTRA)
    prof = LiveProfile(target_latency_s=args.target_latency_s, prelude_s=args.prelude_s)
    s = run_batch(traces, video, specs, prof, n_workers=1).sessions()
    s["label"] = [labels[i % len(labels)] for i in range(len(s))]  # sessions: trace-major, then controller
    cols = ["averageBitrate", "numSwitches", "stallDuration", "numStalls", "avgLatency", "avgBufferLength",
            "avgPlaybackRate", "NQoE"]
    print("| controller | network | averageBitrate kbps | numSwitches | stallDuration s | numStalls | avgLatency s "
          "| avgBufferLength s | avgPlaybackRate | NQoE |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label in labels:
        for _, r in s[s["label"] == label].iterrows():
            print(f"| {label} | {r['trace'].removesuffix('.csv')} | {r['averageBitrate'] / 1e3:.0f} | {r['numSwitches']} "
                  f"| {r['stallDuration']:.2f} | {r['numStalls']} | {r['avgLatency']:.2f} | {r['avgBufferLength']:.2f} "
                  f"| {r['avgPlaybackRate']:.3f} | {r['NQoE']:.0f} |")
    print()
    print("| controller | averageBitrate kbps | numSwitches | stallDuration s | numStalls | avgLatency s "
          "| avgBufferLength s | avgPlaybackRate | mean NQoE |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    mean = s.groupby("label", sort=False)[cols].mean()
    for label in labels:
        r = mean.loc[label]
        print(f"| {label} | {r['averageBitrate'] / 1e3:.0f} | {r['numSwitches']:.1f} | {r['stallDuration']:.2f} "
              f"| {r['numStalls']:.1f} | {r['avgLatency']:.2f} | {r['avgBufferLength']:.2f} | {r['avgPlaybackRate']:.3f} "
              f"| {r['NQoE']:.0f} |")


if __name__ == "__main__":
    main()
