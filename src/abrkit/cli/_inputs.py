"""Reading the inputs commands share: the video (``--video``, ``--bitrates-kbps``, ``--chunk-s``)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..video import Video, read_video
from ._args import CLIError, kbps_list, positive_float

__all__ = ["add_video_ladder_args", "load_video"]


def add_video_ladder_args(group: argparse._ArgumentGroup, bitrates_help: str) -> None:
    """``--bitrates-kbps`` and ``--chunk-s``, which complete a Pensieve chunk-size directory."""
    group.add_argument("--bitrates-kbps", type=kbps_list, metavar="KBPS,...", default=None, help=bitrates_help)
    group.add_argument("--chunk-s", type=positive_float, metavar="S", default=None,
                       help="chunk duration of a Pensieve directory in seconds (default 4)")


def load_video(args: argparse.Namespace) -> Video:
    """The video of ``args.video``: a JSON file, or a Pensieve directory with ``--bitrates-kbps``."""
    path = Path(args.video)
    if path.is_dir():
        if args.bitrates_kbps is None:
            raise CLIError(
                f"--video {args.video} is a Pensieve chunk-size directory (video_size_N files), which holds no "
                "bitrate ladder: give it with --bitrates-kbps, e.g. --bitrates-kbps 300,750,1200,1850,2850,4300"
            )
        return read_video(path, args.bitrates_kbps, args.chunk_s)
    video = read_video(path, args.bitrates_kbps)
    if args.chunk_s is not None and not math.isclose(args.chunk_s, video.chunk_s, rel_tol=1e-9):
        raise CLIError(
            f"--chunk-s {args.chunk_s:g} differs from the chunk duration stored in {args.video} ({video.chunk_s:g} s); "
            "--chunk-s only applies to Pensieve chunk-size directories"
        )
    return video
