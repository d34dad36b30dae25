"""Compare abrkit's controllers on real 3G traces and plot the result.

Runs BB (Pensieve's rule), BBA-0 and the rate-based rule over the Norway HSDPA test traces
with Pensieve's Envivio video under the ``pensieve`` profile, prints the per-controller means
and writes ``controllers.png`` (CDFs of QoE, bitrate and rebuffering) and
``session.png`` (one session's timeline).

    python examples/compare_controllers.py [--data ../shared/data] [--out DIR]

Falls back to the bundled synthetic samples when the reference data is not there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from abrkit import ToolNotFoundError, load_traces, plotting, read_video, run_batch

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()

    if (args.data / "traces" / "norway-hsdpa-test").is_dir():
        traces = load_traces(args.data / "traces" / "norway-hsdpa-test")
        video = read_video(args.data / "videos" / "envivio", bitrates_kbps=[300, 750, 1200, 1850, 2850, 4300])
        profile = "pensieve"
    else:
        traces = load_traces(HERE.parent / "samples" / "traces")
        video = read_video(HERE.parent / "samples" / "videos" / "synthetic_vbr.json")
        profile = "default"

    batch = run_batch(traces, video, ["bb", "bba0", "rate"], profile=profile)
    sessions = batch.sessions()
    summary = sessions.groupby("controller", sort=False)[["qoe", "mean_bitrate_kbps", "rebuffer_s", "switches"]].mean()
    print(f"{len(traces)} traces, video {video.name!r}, profile {profile!r}")
    print(summary.round(3).to_string())

    args.out.mkdir(parents=True, exist_ok=True)
    try:
        plotting.save_comparison(sessions, str(args.out / "controllers.png"))
    except ToolNotFoundError as exc:  # matplotlib is an optional extra
        print(f"no plots: {exc}")
        return
    worst = int(sessions["qoe"].idxmin())
    fig = plotting.plot_session(batch.session(worst))
    fig.savefig(args.out / "session.png", dpi=110)
    print(f"wrote {args.out / 'controllers.png'} and {args.out / 'session.png'} (the lowest-QoE session)")


if __name__ == "__main__":
    main()
