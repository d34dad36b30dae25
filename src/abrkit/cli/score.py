"""``abrkit score``: VMAF, PSNR, SSIM and CAMBI of one video against its reference.

Registered by :mod:`abrkit.cli`; the scoring is :func:`abrkit.encode.quality.score`: one ffmpeg run,
the distorted video scaled to the reference's (display) size with ``--scaler``, both legs on one
frame clock, one libvmaf filter for every metric. Prints the pooled values (mean, harmonic mean,
min, p1, p5, max; one row per metric) as a table, CSV or JSON; ``--per-frame FILE`` writes every
frame's values (CSV, or JSON when FILE ends in ``.json``). The table has one column per
metric (each printed with its own decimals), CSV one row per metric.

PSNR of identical frames is infinite in theory; libvmaf, and so abrkit, caps it at
``6 * bit_depth + 12`` dB (60 dB for 8-bit video), so every output stays a finite number (JSON has
no infinity).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Callable

from ._args import CLIError, HelpFormatter, integer, metric_list
from ._output import json_value, render, write_text

__all__ = ["add_parser", "cmd_score", "METRICS"]

#: ``--metrics`` names -> what they turn on (``vmaf`` is always scored: libvmaf needs a model).
METRICS = {
    "vmaf": "VMAF with --model (column vmaf)",
    "vmaf_neg": "the model's NEG variant, no gain for enhancement (column vmaf_neg)",
    "vmaf_phone": "the model's phone variant (column vmaf_phone)",
    "psnr": "PSNR of Y, U, V in dB (psnr_y, psnr_u, psnr_v), capped at 6 x bit depth + 12",
    "ssim": "luma SSIM, 0..1 (ssim)",
    "cambi": "CAMBI banding score of the distorted frames, 0..24 (cambi)",
}
_DEFAULT_METRICS = "vmaf,psnr,ssim"
_metric_list = metric_list(METRICS, _DEFAULT_METRICS)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``abrkit score``."""
    from ..encode.encoder import SCALERS

    p = sub.add_parser(
        "score", formatter_class=HelpFormatter,
        help="VMAF / PSNR / SSIM / CAMBI of a video against its reference",
        description="Score DISTORTED against REFERENCE at the reference's resolution in one ffmpeg run\n"
        "(libvmaf), and print the pooled values of each metric.",
        epilog="metrics:\n" + "\n".join(f"  {name:<11} {text}" for name, text in METRICS.items()),
    )
    p.add_argument("reference", metavar="REFERENCE", help="the reference (source) video; its frame size is the one scored at")
    p.add_argument("distorted", metavar="DISTORTED", help="the video to score (scaled to the reference's size)")
    g = p.add_argument_group("what to measure")
    g.add_argument("--metrics", type=_metric_list, default=_metric_list(_DEFAULT_METRICS), metavar="LIST",
                   help=f"comma-separated, from: {', '.join(METRICS)} (default: {_DEFAULT_METRICS});\n"
                   "vmaf is always scored (libvmaf needs a model)")
    g.add_argument("--model", default="vmaf_v0.6.1", metavar="NAME",
                   help="libvmaf built-in model, e.g. vmaf_v0.6.1, vmaf_v0.6.1neg, vmaf_4k_v0.6.1,\n"
                   "vmaf_v1.0.16_5d0h (phone distance) (default: vmaf_v0.6.1)")
    g.add_argument("--scaler", choices=SCALERS, default="bicubic", metavar="NAME",
                   help=f"scaler for the distorted video: {', '.join(SCALERS)} (default: bicubic)")
    g.add_argument("--subsample", type=integer, default=1, metavar="N", help="score every N-th frame (default: 1, all)")
    g.add_argument("--threads", type=integer, default=2, metavar="N", help="libvmaf threads (default: 2)")
    g = p.add_argument_group("aligning the two videos")
    g.add_argument("--offset", type=integer, default=0, metavar="N",
                   help="skip the first N frames of DISTORTED (negative: the first -N of REFERENCE)")
    g.add_argument("--trim", action="store_true",
                   help="score as many frames as the shorter video has, instead of refusing a length mismatch")
    g = p.add_argument_group("output")
    g.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="pooled values on stdout: table (default), csv or json")
    g.add_argument("--out", default=None, metavar="FILE", help="write the pooled values here instead of stdout")
    g.add_argument("--per-frame", default=None, metavar="FILE",
                   help="also write every frame's values: CSV, or JSON when FILE ends in .json")
    g.add_argument("--ffmpeg", default=None, metavar="PATH", help="ffmpeg binary (default: $ABRKIT_FFMPEG, imageio-ffmpeg's, PATH)")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")
    p.set_defaults(func=cmd_score)
    return p


def settings_for(metrics: list[str], model: str, scaler: str, subsample: int, threads: int) -> Any:
    """The :class:`~abrkit.encode.quality.QualitySettings` of ``--metrics`` and the options."""
    from ..encode.quality import QualitySettings

    chosen = set(metrics)
    return QualitySettings(
        vmaf_model=model, neg="vmaf_neg" in chosen, phone="vmaf_phone" in chosen, psnr="psnr" in chosen,
        ssim="ssim" in chosen, cambi="cambi" in chosen, scaler=scaler, subsample=subsample, n_threads=threads,
    )


def cmd_score(args: argparse.Namespace) -> int:
    """Run ``abrkit score``; returns the exit code (abrkit errors propagate to ``main``)."""
    from ..encode.ffmpeg import find_ffmpeg
    from ..encode.quality import score

    for name in (args.reference, args.distorted):
        if not Path(name).is_file():
            raise CLIError(f"{name}: no such file")
    per_frame_path = Path(args.per_frame) if args.per_frame else None
    if per_frame_path is not None and per_frame_path.is_dir():
        raise CLIError(f"--per-frame {per_frame_path}: is a directory; give a file name (.csv or .json)")
    qs = settings_for(args.metrics, args.model, args.scaler, args.subsample, args.threads)
    ff = find_ffmpeg(args.ffmpeg)
    show = sys.stderr.isatty() if args.progress is None else bool(args.progress)
    with _bar(show, Path(args.distorted).name) as progress:
        result = score(args.reference, args.distorted, qs, ffmpeg=ff, progress=progress, offset_frames=args.offset,
                       trim=args.trim)
    if per_frame_path is not None:
        _write_per_frame(result, per_frame_path)
    if args.format == "json":
        text = json.dumps(_summary(result), indent=1) + "\n"
    elif args.format == "csv":
        text = render(result.pooled.reset_index(), "csv")
    else:  # one column per metric, so each is printed with its own decimals (VMAF 84.87, SSIM 0.9412)
        text = render(result.pooled.T.rename_axis("pool").reset_index(), "table")
    write_text(text, args.out, sys.stdout)
    if args.format == "table":
        a = result.versions["alignment"]
        note = (f"{result.n_frames} frames scored ({float(result.fps):g} fps, reference frames "
                f"{a['reference_start_frame']}.., distorted frames {a['distorted_start_frame']}..), "
                f"at {result.versions['reference_size'][0]}x{result.versions['reference_size'][1]} ({result.settings.scaler}), "
                f"libvmaf {result.versions['libvmaf']}")
        print(note, file=sys.stderr)
    return 0


class _bar:
    """A tqdm bar in percent fed by :func:`score`'s progress fractions (nothing when hidden)."""

    def __init__(self, show: bool, label: str) -> None:
        self._show, self._label = show, label
        self._tqdm: Any = None

    def __enter__(self) -> Callable[[float], None] | None:
        if not self._show:
            return None
        from tqdm import tqdm

        self._tqdm = tqdm(total=100, unit="%", desc=f"score {self._label}", file=sys.stderr, dynamic_ncols=True,
                          bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")
        return self._update

    def _update(self, fraction: float) -> None:
        target = min(max(int(round(100 * fraction)), 0), 100)
        if target > self._tqdm.n:
            self._tqdm.update(target - self._tqdm.n)

    def __exit__(self, *exc: object) -> None:
        if self._tqdm is not None:
            if exc[0] is None:
                self._update(1.0)
            self._tqdm.close()


def _per_frame_table(result: Any) -> Any:
    """Per-frame values with the frame numbers of each file (``reference_frame``, ``distorted_frame``)."""
    a = result.versions["alignment"]
    table = result.per_frame.copy()
    table.insert(1, "reference_frame", table["frame"] + a["reference_start_frame"])
    table.insert(2, "distorted_frame", table["frame"] + a["distorted_start_frame"])
    return table


def _write_per_frame(result: Any, path: Path) -> None:
    table = _per_frame_table(result)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".json":
            rows = [{k: json_value(v) for k, v in row.items()} for row in table.to_dict(orient="records")]
            path.write_text(json.dumps(rows, indent=0) + "\n", encoding="utf-8")
        else:
            table.to_csv(path, index=False, float_format="%.6f", lineterminator="\n")
    except OSError as exc:
        raise CLIError(f"--per-frame {path}: cannot write: {exc.strerror or exc}") from None


def _summary(result: Any) -> dict[str, Any]:
    """Everything but the per-frame values, JSON-ready."""

    def clean(v: Any) -> Any:
        return None if isinstance(v, float) and math.isnan(v) else v

    return {
        "reference": result.reference,
        "distorted": result.distorted,
        "n_frames": result.n_frames,
        "fps": float(result.fps),
        "settings": result.settings.key() | {"n_threads": result.settings.n_threads},
        "versions": result.versions,
        "pooled": {m: {k: clean(float(v)) for k, v in row.items()} for m, row in result.pooled.iterrows()},
        "elapsed_s": result.elapsed_s,
    }
