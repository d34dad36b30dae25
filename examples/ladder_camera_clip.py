"""Per-title ladder of the camera clip, its savings, and what a player streams out of it.

1. Optimizes the ladder of ``../shared/data/clips/cockatoo_720p.mp4`` (x264, fast search,
   default grid), comparing it with Apple's HLS and Netflix's 2015 fixed ladders.
2. Writes ``result.json``, the CSV tables and ``rate-quality.png`` (points per resolution, hull,
   chosen rungs, fixed ladders) into ``--out``.
3. Streams both ladders through the simulator over the Norway HSDPA test traces, with the
   measured segment sizes and per-segment VMAF of each encode (``LadderResult.to_video``) and a
   quality-based QoE, and prints how the per-title ladder and the fixed one compare.

    python examples/ladder_camera_clip.py [--data ../shared/data] [--out ladder-example] [--mode fast]

The first run encodes for a few minutes; measured points are cached in ``OUT/.abrkit-cache``,
so later runs (and ``--mode exhaustive`` after ``fast``) reuse them. The clip lasts 14 s (seven
2 s segments), so for streaming each video is looped to five minutes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from abrkit import ToolNotFoundError, Video, load_traces, run_batch
from abrkit.encode.ladder import optimize_ladder

HERE = Path(__file__).resolve().parent
FIXED = "apple-hls-h264"


def looped(video: Video, duration_s: float) -> Video:
    """``video`` with its segments repeated until it lasts at least ``duration_s``."""
    n = int(np.ceil(duration_s / video.duration_s))
    quality = None if video.quality is None else np.tile(video.quality, (n, 1))
    return Video(video.bitrates_bps, video.chunk_s, np.tile(video.sizes_bytes, (n, 1)), quality, video.resolutions,
                 video.name, dict(video.meta))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=Path("ladder-example"))
    parser.add_argument("--mode", choices=("fast", "exhaustive"), default="fast")
    args = parser.parse_args()
    clip = args.data / "clips" / "cockatoo_720p.mp4"
    if not clip.exists():
        raise SystemExit(f"the camera clip is not there: {clip} (see --data)")

    result = optimize_ladder(clip, mode=args.mode, cache_dir=args.out / ".abrkit-cache", progress=True)
    result.to_json(args.out / "result.json")
    result.to_csv(args.out)
    n = result.n_encodes
    print(f"{args.mode} search: {n['search']} encodes ({n['performed']} run now, {n['cached']} from the cache), "
          f"{len(result.hull)} hull points, {len(result.rungs)} rungs")
    print(result.summary().round(2).to_string(index=False))
    for name, value in result.bd_rate.items():
        print(f"BD-rate of the per-title rungs vs {name}: {'n/a' if value is None else f'{value:+.1f} %'}")

    try:
        from abrkit.encode.plot import plot_ladder

        fig = plot_ladder(result)
        fig.savefig(args.out / "rate-quality.png", dpi=120)
        print(f"wrote {args.out / 'rate-quality.png'}")
    except ToolNotFoundError as exc:  # matplotlib is an optional extra
        print(f"no plot: {exc}")

    traces_dir = args.data / "traces" / "norway-hsdpa-test"
    if not traces_dir.is_dir():
        print(f"no traces at {traces_dir}: skipping the streaming comparison")
        return
    traces = load_traces(traces_dir)
    videos = [looped(result.to_video(name="per-title"), 300.0), looped(result.to_video(FIXED, name=FIXED), 300.0)]
    batch = run_batch(traces, videos, ["bb", "rate"], profile="default", qoe="quality")
    sessions = batch.sessions()
    table = sessions.groupby(["controller", "video"], sort=False)[
        ["qoe", "mean_quality", "mean_bitrate_kbps", "rebuffer_s", "switches"]
    ].mean()
    print(f"\n{len(traces)} Norway HSDPA traces, 5 min sessions, QoE = per-segment VMAF - rebuffering - switches:")
    print(table.round(2).to_string())


if __name__ == "__main__":
    main()
