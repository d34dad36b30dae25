"""What per-shot encoding gains over the per-title ladder, on content whose shots differ.

A script, not an asv suite (it runs ffmpeg for minutes)::

    python benchmarks/shot_gain.py                       # the default title, below
    python benchmarks/shot_gain.py --crf-step 2 --out /tmp/shot-gain.json
    python benchmarks/shot_gain.py --encoder-args '-x264-params qcomp=1:aq-mode=0:mbtree=0'   # constant QP

The title (built once, losslessly, at ``--size``, 20 fps) is three shots of unequal difficulty:

* ``camera``: the shared camera clip (``cockatoo_720p.mp4``, real footage), its first
  ``--shot-s`` seconds scaled to the title's size;
* ``graphics``: ffmpeg's ``testsrc2`` (sharp moving graphics and text: detail that needs pixels);
* ``noise``: ``mandelbrot`` blurred and with temporal grain (``gblur``, ``noise``): costly at any
  size, and its blur makes small sizes look as good as large ones.

:func:`abrkit.encode.shotladder.optimize_shots` runs with the shots given (their starts), x264,
every size in ``--sizes`` at CRFs ``--crf-min``..``--crf-max`` in steps of ``--crf-step``, the
exhaustive search, production of every rung (measured bitrate and VMAF of the joined streams)
and the per-title ladder of the same title and grid. It prints the rungs of both and the
BD-rates (per-shot measured against per-title and the fixed ladders; negative: per-shot needs
fewer bits for the same VMAF), and writes the whole result as JSON with ``--out``. Reference
figures in docs/ladder.md ("What per-shot gains").
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from abrkit.encode.ffmpeg import file_url, find_ffmpeg
from abrkit.encode.shotladder import optimize_shots

HERE = Path(__file__).resolve().parent
DEFAULT_CAMERA = HERE.parents[1] / "shared" / "data" / "clips" / "cockatoo_720p.mp4"
FPS = 20


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def build_title(camera: Path, out: Path, width: int, height: int, shot_s: float) -> list[int]:
    """Write the three-shot title to ``out`` (FFV1); returns the first frames of shots 2 and 3."""
    n = int(round(shot_s * FPS))
    size = f"{width}x{height}"
    ff = find_ffmpeg()
    common = f"fps={FPS},scale={width}:{height}:flags=bicubic,format=yuv420p,setsar=1"
    graph = (
        f"[0:v]trim=end_frame={n},{common},setpts=PTS-STARTPTS[a];"
        f"[1:v]trim=end_frame={n},{common},setpts=PTS-STARTPTS[b];"
        f"[2:v]trim=end_frame={n},gblur=sigma=3,noise=alls=14:allf=t,{common},setpts=PTS-STARTPTS[c];"
        "[a][b][c]concat=n=3:v=1[out]"
    )
    ff.run(["-i", file_url(camera), "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={FPS}",
            "-f", "lavfi", "-i", f"mandelbrot=size={size}:rate={FPS}",
            "-filter_complex", graph, "-map", "[out]", "-c:v", "ffv1", "-y", file_url(out)])
    return [n, 2 * n]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--camera", type=Path, default=DEFAULT_CAMERA)
    p.add_argument("--size", default="640x360", help="the title's frame size (default 640x360)")
    p.add_argument("--sizes", default="640x360,480x270,320x180,160x90", help="encode sizes, WxH,...")
    p.add_argument("--shot-s", type=float, default=3.0, help="seconds per shot (default 3)")
    p.add_argument("--crf-min", type=float, default=18)
    p.add_argument("--crf-max", type=float, default=46)
    p.add_argument("--crf-step", type=float, default=4)
    p.add_argument("--segment-s", type=float, default=1.0, help="segment (keyframe) duration, default 1 s")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--encoder-args", default="", metavar="ARGS",
                   help="extra ffmpeg options for every encode, e.g. '-x264-params qcomp=1:aq-mode=0:mbtree=0'")
    p.add_argument("--work", type=Path, default=None, help="folder for the title, cache and rungs (default: temporary)")
    p.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    args = p.parse_args(argv)
    if not args.camera.is_file():
        print(f"shot_gain.py: camera clip not found: {args.camera}", file=sys.stderr)
        return 2
    width, height = (int(v) for v in args.size.split("x"))
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    crfs = [float(c) for c in np.arange(args.crf_min, args.crf_max + 1e-9, args.crf_step)]
    with tempfile.TemporaryDirectory(prefix="abrkit-shot-gain-") as tmp:
        work = args.work if args.work is not None else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        title = work / f"title-{args.size}-{args.shot_s:g}s.mkv"
        starts = build_title(args.camera, title, width, height, args.shot_s)
        cpu0, t0 = _children_cpu_s(), time.perf_counter()
        res = optimize_shots(title, shots=starts, codec="x264", mode="exhaustive", resolutions=sizes, crfs=crfs,
                             segment_s=args.segment_s, workers=args.workers, threads=1, cache_dir=work / "cache",
                             out_dir=work / "out", min_vmaf=None, progress=True,
                             encoder_args=tuple(shlex.split(args.encoder_args)))
        cpu, wall = _children_cpu_s() - cpu0, time.perf_counter() - t0
        cols = ["rung", "bitrate_kbps", "vmaf", "measured_bitrate_kbps", "measured_vmaf", "frame_sizes"]
        print(res.rungs[cols].to_string(index=False))
        print("per-title rungs:")
        print(res.per_title.rungs[["width", "height", "crf", "bitrate_kbps", "vmaf"]].to_string(index=False))
        print("BD-rate of the per-shot rungs (measured), percent:")
        for name, value in res.bd_rate.items():
            print(f"  against {name}: {'n/a' if value is None else f'{value:+.2f}'}")
        for note in res.notes:
            print(f"  note: {note}")
        print(f"encodes: {res.n_encodes}; ffmpeg CPU {cpu:.0f} s, wall {wall:.0f} s")
        if args.out is not None:
            report = res.to_dict()
            report["benchmark"] = {"size": args.size, "shot_s": args.shot_s, "sizes": args.sizes, "crfs": crfs,
                                   "encoder_args": args.encoder_args,
                                   "segment_s": args.segment_s, "ffmpeg_cpu_s": cpu, "wall_s": wall}
            args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
