"""Write the ACM MMSys 2020 Twitch low-latency challenge's networks and media as abrkit samples.

    python scripts/make_twitch_samples.py [--out DIR]   # rewrites samples/twitch/*

Facts from twitchtv/acm-mmsys-2020-grand-challenge (no file of it is copied):

* ``normal-network-patterns.js``: the five patterns the challenge scores, as (kbit/s, seconds)
  steps -- Cascade, Intra-cascade, Spike, Slow jitters, Fast jitters;
* ``run.js``: each step is applied with Chrome's network emulation at ``speed x 1024 / 8`` bytes
  per second and no added latency, so a "1200 kbps" step is 1,228,800 bit/s here;
* ``dash-ll-server/gen_live_ingest.sh`` (PROFILE_NORMAL): 0.5 s segments (``seg_duration=0.5``,
  GOP 15 at 30 fps) of 200 / 600 / 1000 kbit/s, one CMAF chunk per frame
  (``-frag_type every_frame``): :func:`abrkit.live.challenge_video`.

Each pattern is written once, in abrkit's CSV format (``time_s,bandwidth_kbps``); simulators loop
a trace, and the live profile's sessions last one pattern by default, as the challenge's runs do.
"""

from __future__ import annotations

from pathlib import Path

from abrkit import Trace, write_trace
from abrkit.live import challenge_video

HERE = Path(__file__).resolve().parents[1] / "samples" / "twitch"

#: name -> [(kbit/s as the challenge writes it, seconds), ...] (normal-network-patterns.js)
PATTERNS: dict[str, list[tuple[float, float]]] = {
    "cascade": [(1200, 30), (800, 30), (400, 30), (800, 30), (1200, 30)],
    "intra_cascade": [(1000, 15), (800, 15), (600, 15), (400, 15), (200, 15), (400, 15), (600, 15), (800, 15), (1000, 15)],
    "spike": [(1200, 10), (300, 10), (800, 10)],
    "slow_jitters": [(500, 5), (1200, 5), (500, 5), (1200, 5), (500, 5), (1200, 5)],
    "fast_jitters": [(500, 0.25), (1200, 5), (500, 0.1), (1200, 1), (500, 0.25), (1200, 5)],
}
#: Chrome's emulated "kbps" (run.js: speed * 1024 / 8 bytes per second), in bit/s per unit.
CHROME_KBPS_BPS = 1024.0


def pattern_trace(name: str) -> Trace:
    steps = PATTERNS[name]
    return Trace.from_durations([s for _, s in steps], [k * CHROME_KBPS_BPS for k, _ in steps], name=f"twitch-{name}")


def main(out: Path = HERE) -> None:
    (out / "traces").mkdir(parents=True, exist_ok=True)
    for name in PATTERNS:
        write_trace(pattern_trace(name), out / "traces" / f"{name}.csv", "csv")
    challenge_video(duration_s=60.0).to_json(out / "twitch_normal.json")
    print(f"wrote {len(PATTERNS)} traces to {out / 'traces'} and {out / 'twitch_normal.json'}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write the Twitch challenge's networks and media as abrkit samples.")
    parser.add_argument("--out", type=Path, default=HERE, help="directory to write traces/ and twitch_normal.json into")
    main(parser.parse_args().out)
