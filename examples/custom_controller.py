"""Write a controller in plain Python and compare it with the built-ins and the offline optimum.

``BufferAwareRate`` is a rate rule whose safety margin grows with the buffer: with little video
buffered it asks for 60 % of the harmonic-mean throughput of the last five chunks, with a full
cushion for 100 %. It runs in the same batch as the built-ins: they run compiled, it runs in a
Python session loop that mirrors the compiled one; the offline optimum is the upper bound no
controller can beat (docs/optimum.md).

    python examples/custom_controller.py [--data ../shared/data] [--traces 40]

Uses the Norway HSDPA test traces with Pensieve's Envivio video under the ``pensieve`` profile
when the reference data is there, the bundled samples otherwise.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from abrkit import Observation, load_traces, offline_optimum_many, read_video, run_batch

HERE = Path(__file__).resolve().parent


class BufferAwareRate:
    """Highest rung under ``safety(buffer) x harmonic mean of the last 5 throughput samples``."""

    name = "buffer-aware-rate"

    def __init__(self, low_safety: float = 0.6, high_safety: float = 1.0, cushion_s: float = 20.0) -> None:
        self.low_safety = low_safety
        self.high_safety = high_safety
        self.cushion_s = cushion_s

    def decide(self, obs: Observation) -> int:
        samples_bps = obs.throughput_bps[-5:]
        if samples_bps.size == 0:
            return 0  # nothing measured yet: start low
        estimate_bps = samples_bps.size / np.sum(1.0 / samples_bps)
        fill = min(obs.buffer_s / self.cushion_s, 1.0)
        budget_bps = (self.low_safety + (self.high_safety - self.low_safety) * fill) * estimate_bps
        fits = np.flatnonzero(obs.bitrates_bps <= budget_bps)
        return int(fits[-1]) if fits.size else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--traces", type=int, default=40, help="how many traces to use (the Python loop is the slow part)")
    args = parser.parse_args()

    if (args.data / "traces" / "norway-hsdpa-test").is_dir():
        traces = load_traces(args.data / "traces" / "norway-hsdpa-test")
        video = read_video(args.data / "videos" / "envivio", bitrates_kbps=[300, 750, 1200, 1850, 2850, 4300])
        profile = "pensieve"
    else:
        traces = load_traces(HERE.parent / "samples" / "traces")
        video = read_video(HERE.parent / "samples" / "videos" / "synthetic_vbr.json")
        profile = "default"
    traces = traces[: args.traces]

    t0 = time.perf_counter()
    sessions = run_batch(traces, video, [BufferAwareRate()], profile, progress=False).sessions()
    python_s = time.perf_counter() - t0
    builtin = run_batch(traces, video, ["bb", "bba0", "rate", "mpc", "robustmpc"], profile, progress=False).sessions()
    optimum = offline_optimum_many(traces, video, profile, progress=False)

    table = pd.concat([builtin, sessions, optimum], ignore_index=True)
    summary = table.groupby("controller", sort=False)[["qoe", "mean_bitrate_kbps", "rebuffer_s", "switches"]].mean()
    summary["share_of_optimum"] = summary["qoe"] / summary.loc["optimum", "qoe"]
    print(f"{len(traces)} traces, video {video.name!r}, profile {profile!r}")
    print(summary.round(3).to_string())
    print(f"\nPython loop: {1e3 * python_s / len(traces):.1f} ms per session; "
          f"the optimum is exact on {int(optimum['exact'].sum())} of {len(optimum)} traces")


if __name__ == "__main__":
    main()
