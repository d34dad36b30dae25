"""Reading the inputs commands share: the video (``--video``, ``--bitrates-kbps``, ``--chunk-s``)
and the traces (``--traces`` with ``--strict``)."""

from __future__ import annotations

import argparse
import math
import warnings
from pathlib import Path
from typing import Iterable

from ..traces import Trace, TraceSkippedWarning, read_trace, trace_files
from ..video import Video, read_video
from ._args import CLIError, kbps_list, positive_float, warn

__all__ = ["add_video_ladder_args", "load_video", "add_strict_arg", "find_trace_files", "load_trace_args"]

#: Help of ``--strict`` (every command that reads trace directories).
STRICT_HELP = (
    "fail on a file of a trace directory whose format cannot be detected (a README, notes); "
    "default: skip it with a warning"
)


def add_strict_arg(group: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
    """``--strict``: an undetectable file in a trace directory is an error instead of a warning."""
    group.add_argument("--strict", action="store_true", help=STRICT_HELP)


def find_trace_files(
    paths: Iterable[str | Path], trace_format: str | None = None, strict: bool = False
) -> list[tuple[Path, str]]:
    """:func:`abrkit.traces.trace_files`, each skipped file reported once on stderr.

    Every file of a directory that is not a trace becomes one line ``abrkit: warning: skipped
    PATH: why`` (not a Python warning with its source line); they are printed even when the
    call then fails (every file skipped, or a malformed trace). Other warnings pass through.
    """
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:  # type: ignore[assignment]
            warnings.simplefilter("always")
            return trace_files(list(paths), trace_format, strict=strict)
    finally:
        said: set[str] = set()
        for w in caught:
            if issubclass(w.category, TraceSkippedWarning):
                text = " ".join(str(w.message).split())
                if text not in said:
                    said.add(text)
                    warn(text)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def load_trace_args(paths: Iterable[str | Path], trace_format: str | None = None, strict: bool = False) -> list[Trace]:
    """The traces of ``--traces`` (:func:`abrkit.load_traces`), skipped files reported by
    :func:`find_trace_files`."""
    return [read_trace(f, name) for f, name in find_trace_files(paths, trace_format, strict)]


def add_video_ladder_args(group: argparse._ArgumentGroup, bitrates_help: str) -> None:
    """``--bitrates-kbps`` and ``--chunk-s``, which complete a Pensieve chunk-size directory."""
    group.add_argument("--bitrates-kbps", type=kbps_list, metavar="KBPS,...", default=None, help=bitrates_help)
    group.add_argument("--chunk-s", type=positive_float, metavar="S", default=None,
                       help="chunk duration of a Pensieve directory in seconds (default 4)")


def load_video(args: argparse.Namespace) -> Video:
    """The video of ``args.video``: a JSON file (abrkit video, Sabre movie, ``abrkit ladder``'s
    ``result.json``), an ``abrkit ladder --out`` directory, or a Pensieve directory with
    ``--bitrates-kbps``."""
    path = Path(args.video)
    if path.is_dir() and not (path / "result.json").is_file():
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
