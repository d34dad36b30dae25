"""Where a ladder search's CPU time goes: encoding, and each part of scoring at display size.

A script, not an asv suite (it runs ffmpeg for minutes)::

    python benchmarks/ladder_cost.py                          # the camera clip's first 4 s
    python benchmarks/ladder_cost.py --seconds 14 --crfs 20 30 40 --out /tmp/cost.json

For a sample of the default search grid (every default resolution of the source x ``--crfs``,
x264 at the default preset, one thread, as the ladder search encodes), it measures the CPU
seconds (user + system of the ffmpeg children) of:

* ``encode``: the search encode itself (scaling down included);
* ``score``: abrkit's scoring run (:func:`abrkit.encode.quality.score`: VMAF + PSNR + SSIM at
  the source's size), and its parts, each a run of its own: ``decode`` (both inputs decoded,
  nothing else), ``scale`` (the distorted video decoded and scaled to the display size),
  ``vmaf`` (VMAF alone), and ``vmaf_sub5`` (VMAF on every 5th frame, with its bias against
  every frame);
* an alternative encode at ``--alt-preset`` (veryfast by default) with its rate and VMAF at the
  same CRF, since a faster search preset is the other obvious saving.

It prints a table per point and the totals as CPU-seconds per second of source. Reference
figures in docs/ladder.md ("Where the time goes").

``--floor`` measures instead what bounds any cheaper search for the same ladder: it runs today's
fast mode on the whole source (no fixed ladders, a fresh cache), reads each point's CPU seconds
from the cache, and re-runs every point twice more, as an encode alone and as the one-pass
encode-and-score without SSIM (VMAF and PSNR, ``abrkit ladder --metrics vmaf,psnr``). It
reports the share of the run's CPU that the final rungs take measured as the ladder reports
them, that encoding the searched points takes without any scoring, and what scoring without
SSIM would leave::

    python benchmarks/ladder_cost.py --floor --workers 2 --out /tmp/floor.json

``--frame-sample K`` asks how well a subset of the frames estimates a point's mean VMAF: for every
default resolution x ``--crfs`` over the first ``--seconds``, it scores every frame once
(VMAF alone) and, from those per-frame scores, compares the full mean with the mean of every
K-th frame (a fixed pattern) and with 1 frame drawn at random in each block of K (200 draws:
bias, standard deviation, 95th percentile of the error)::

    python benchmarks/ladder_cost.py --frame-sample 12 --seconds 14 --crfs 28
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from abrkit.encode.cache import MeasurementCache
from abrkit.encode.encoder import EncodeSettings, encode
from abrkit.encode.ffmpeg import child_cpu_s, file_url, find_ffmpeg
from abrkit.encode.ladder import default_resolutions, optimize_ladder
from abrkit.encode.quality import QualitySettings, encode_and_score, score
from abrkit.encode.shotladder import cut_shot

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[1] / "shared" / "data" / "clips" / "cockatoo_720p.mp4"


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(fn):  # type: ignore[no-untyped-def]
    before = _children_cpu_s()
    value = fn()
    return value, _children_cpu_s() - before


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    p.add_argument("--seconds", type=float, default=4.0, help="score the first this many seconds (default 4)")
    p.add_argument("--crfs", type=float, nargs="+", default=[20.0, 30.0, 40.0])
    p.add_argument("--alt-preset", default="veryfast")
    p.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    p.add_argument("--floor", action="store_true", help="measure the cost floor of today's fast-mode ladder (above)")
    p.add_argument("--workers", type=int, default=1, help="concurrent ffmpeg runs for --floor (default 1)")
    p.add_argument("--frame-sample", type=int, default=None, metavar="K",
                   help="how well 1 frame in K estimates each point's mean VMAF (above)")
    args = p.parse_args(argv)
    if not args.source.is_file():
        print(f"source not found: {args.source}", file=sys.stderr)
        return 2
    if args.floor:
        return floor(args)
    if args.frame_sample is not None:
        return frame_sample(args)
    ff = find_ffmpeg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="abrkit-cost-") as tmp:
        work = Path(tmp)
        ref, info = _reference(args, ff, work)
        seconds = info.n_frames / float(info.fps)
        qs_full = QualitySettings()
        for w, h in default_resolutions(info.width, info.height):
            for crf in args.crfs:
                settings = EncodeSettings(width=w, height=h, crf=crf, threads=1)
                enc, t_enc = _timed(lambda: encode(ref, settings, work / "e.mp4", ffmpeg=ff, source_info=info))
                q, t_score = _timed(lambda: score(ref, enc.path, qs_full, ffmpeg=ff, reference_info=info))
                _, t_decode = _timed(lambda: ff.run(["-i", file_url(ref), "-i", file_url(enc.path), "-map", "0:v",
                                                     "-map", "1:v", "-f", "null", "-"], cwd=work))
                _, t_scale = _timed(lambda: ff.run(["-i", file_url(enc.path), "-vf",
                                                    f"scale={info.width}:{info.height}:flags=bicubic,format=yuv420p",
                                                    "-f", "null", "-"], cwd=work))
                qv, t_vmaf = _timed(lambda: score(ref, enc.path, QualitySettings(psnr=False, ssim=False), ffmpeg=ff,
                                                  reference_info=info))
                q5, t_sub = _timed(lambda: score(ref, enc.path, QualitySettings(psnr=False, ssim=False, subsample=5),
                                                 ffmpeg=ff, reference_info=info))
                alt_settings = EncodeSettings(width=w, height=h, crf=crf, threads=1, preset=args.alt_preset)
                alt, t_alt = _timed(lambda: encode(ref, alt_settings, work / "a.mp4", ffmpeg=ff, source_info=info))
                qa = score(ref, alt.path, QualitySettings(psnr=False, ssim=False), ffmpeg=ff, reference_info=info)
                vmaf = float(q.pooled.loc["vmaf", "mean"])
                row = {
                    "width": w, "height": h, "crf": crf, "bitrate_kbps": enc.bitrate_kbps, "vmaf": vmaf,
                    "encode_cpu_s": t_enc, "score_cpu_s": t_score, "decode_cpu_s": t_decode, "scale_cpu_s": t_scale,
                    "vmaf_only_cpu_s": t_vmaf, "vmaf_sub5_cpu_s": t_sub,
                    "vmaf_sub5_bias": float(q5.pooled.loc["vmaf", "mean"]) - float(qv.pooled.loc["vmaf", "mean"]),
                    "alt_encode_cpu_s": t_alt, "alt_bitrate_kbps": alt.bitrate_kbps,
                    "alt_vmaf": float(qa.pooled.loc["vmaf", "mean"]),
                }
                rows.append(row)
                print(f"{w}x{h} crf {crf:g}: {enc.bitrate_kbps:8.1f} kbps VMAF {vmaf:6.2f} | encode {t_enc:5.2f} s, "
                      f"score {t_score:5.2f} s (decode {t_decode:4.2f}, scale {t_scale:4.2f}, VMAF alone {t_vmaf:4.2f}, "
                      f"1/5 frames {t_sub:4.2f}, bias {row['vmaf_sub5_bias']:+.2f}) | {args.alt_preset}: "
                      f"{t_alt:5.2f} s, {alt.bitrate_kbps:8.1f} kbps VMAF {row['alt_vmaf']:6.2f}", flush=True)
    total = {k: float(np.sum([r[k] for r in rows])) for k in rows[0] if k.endswith("_cpu_s")}
    per_s = {k: v / seconds / len(rows) for k, v in total.items()}
    share = total["score_cpu_s"] / (total["score_cpu_s"] + total["encode_cpu_s"])
    print(f"\n{len(rows)} points of {seconds:g} s of {info.width}x{info.height}: CPU-seconds per source second and "
          "point: " + ", ".join(f"{k[:-6]} {v:.2f}" for k, v in per_s.items()))
    print(f"scoring is {100 * share:.0f} % of encode + score; VMAF on 1 frame in 5 shifts the mean by "
          f"{min(r['vmaf_sub5_bias'] for r in rows):+.2f} to {max(r['vmaf_sub5_bias'] for r in rows):+.2f}")
    if args.out is not None:
        args.out.write_text(json.dumps({"seconds": seconds, "rows": rows, "per_source_second": per_s}, indent=1))
    return 0


def _reference(args: argparse.Namespace, ff: Any, work: Path) -> tuple[Path, Any]:
    """The first ``--seconds`` of the source, cut losslessly into ``work``: (path, MediaInfo)."""
    from abrkit.encode.probe import probe

    full = probe(args.source, ff)
    n = min(full.n_frames, max(1, int(args.seconds * float(full.fps))))
    return cut_shot(args.source, 0, n, work, ff, tag="reference")


def floor(args: argparse.Namespace) -> int:
    """``--floor``: today's fast mode, then each of its points as an encode alone and without SSIM."""
    from concurrent.futures import ThreadPoolExecutor

    from abrkit.encode.probe import probe

    ff = find_ffmpeg()
    info = probe(args.source, ff)
    with tempfile.TemporaryDirectory(prefix="abrkit-floor-") as tmp:
        work = Path(tmp)
        result = optimize_ladder(args.source, fixed_ladders=(), workers=args.workers, cache_dir=work / "cache",
                                 progress=True, ffmpeg=ff)
        # each point's CPU seconds as its cache record holds them (point_id: the key's first 16)
        stored = MeasurementCache(work / "cache").points(result.source["sha256"])
        cpu_by_id = {key[:16]: float(point["cpu_s"]) for key, point in stored.items()}
        point_cpu = {(int(r.width), int(r.height), float(r.crf)): cpu_by_id[r.point_id] for r in result.points.itertuples()}
        rung_keys = {(int(r.width), int(r.height), float(r.crf)) for r in result.rungs.itertuples()}

        def remeasure(key: tuple[int, int, float]) -> dict[str, object]:
            w, h, crf = key
            settings = EncodeSettings(width=w, height=h, crf=crf, threads=1)
            tag = f"{w}x{h}-{crf:g}"
            before = child_cpu_s()
            encode(args.source, settings, work / f"e-{tag}.mp4", ffmpeg=ff, source_info=info)
            encode_s = child_cpu_s() - before
            before = child_cpu_s()
            encode_and_score(args.source, settings, QualitySettings(ssim=False, n_threads=1),
                             work / f"v-{tag}.mp4", ffmpeg=ff, source_info=info)
            lean_s = child_cpu_s() - before
            return {"width": w, "height": h, "crf": crf, "rung": key in rung_keys, "ladder_cpu_s": point_cpu[key],
                    "encode_cpu_s": encode_s, "without_ssim_cpu_s": lean_s}

        with ThreadPoolExecutor(args.workers) as pool:
            rows = list(pool.map(remeasure, sorted(point_cpu)))
    seconds = float(info.duration_s)
    total = sum(r["ladder_cpu_s"] for r in rows)
    rungs = sum(r["ladder_cpu_s"] for r in rows if r["rung"])
    encodes = sum(r["encode_cpu_s"] for r in rows)
    rung_encodes = sum(r["encode_cpu_s"] for r in rows if r["rung"])
    lean = sum(r["without_ssim_cpu_s"] for r in rows)
    for r in rows:
        print(f"{r['width']}x{r['height']} crf {r['crf']:g}{' (rung)' if r['rung'] else ''}: as the ladder measures it "
              f"{r['ladder_cpu_s']:.1f} s, encode alone {r['encode_cpu_s']:.1f} s, without SSIM "
              f"{r['without_ssim_cpu_s']:.1f} s")
    summary = {
        "source_s": seconds, "points": len(rows), "rungs": len(rung_keys),
        "fast_mode_cpu_s": total, "fast_mode_cpu_s_per_source_s": total / seconds,
        "rungs_as_reported_share": rungs / total, "search_encodes_alone_share": encodes / total,
        "rung_encodes_alone_share": rung_encodes / total, "search_without_ssim_share": lean / total,
        "target_cpu_s": 0.25 * total,
    }
    print(f"\ntoday's fast mode: {len(rows)} points, {total:.0f} CPU-s ({total / seconds:.1f} per source second); "
          f"25 % of it: {0.25 * total:.0f} CPU-s")
    print(f"its {len(rung_keys)} rungs measured as the ladder reports them: {100 * rungs / total:.1f} %")
    print(f"encoding its {len(rows)} points alone, no scoring: {100 * encodes / total:.1f} % "
          f"(the rungs' encodes alone: {100 * rung_encodes / total:.1f} %)")
    print(f"its points scored without SSIM (VMAF and PSNR): {100 * lean / total:.1f} %")
    if args.out is not None:
        args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    return 0


def frame_sample(args: argparse.Namespace) -> int:
    """``--frame-sample K``: the error of a 1-in-K frame subset's mean VMAF, fixed and stratified."""
    ff = find_ffmpeg()
    k = int(args.frame_sample)
    if k < 2:
        print("--frame-sample: K must be at least 2", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="abrkit-frames-") as tmp:
        work = Path(tmp)
        ref, info = _reference(args, ff, work)
        for w, h in default_resolutions(info.width, info.height):
            for crf in args.crfs:
                settings = EncodeSettings(width=w, height=h, crf=crf, threads=1)
                _, q = encode_and_score(ref, settings, QualitySettings(psnr=False, ssim=False, n_threads=1),
                                        work / "e.mp4", ffmpeg=ff, source_info=info)
                v = q.per_frame["vmaf"].to_numpy()
                errors = []
                for seed in range(200):
                    rng = np.random.default_rng(seed)
                    picks = [b + int(rng.integers(0, min(k, len(v) - b))) for b in range(0, len(v), k)]
                    errors.append(float(v[picks].mean() - v.mean()))
                e = np.asarray(errors)
                row = {"width": w, "height": h, "crf": crf, "vmaf": float(v.mean()), "frames": len(v),
                       "sampled": len(range(0, len(v), k)), "frame_sd": float(v.std()),
                       "fixed_pattern_error": float(v[::k].mean() - v.mean()), "random_bias": float(e.mean()),
                       "random_sd": float(e.std()), "random_p95_abs": float(np.quantile(np.abs(e), 0.95))}
                rows.append(row)
                print(f"{w}x{h} crf {crf:g}: VMAF {row['vmaf']:.2f} over {len(v)} frames (sd {row['frame_sd']:.2f} "
                      f"between frames); every {k}th frame: {row['fixed_pattern_error']:+.2f}; 1 at random in each {k} "
                      f"({row['sampled']} frames): bias {row['random_bias']:+.3f}, sd {row['random_sd']:.2f}, "
                      f"95 % of draws within {row['random_p95_abs']:.2f}", flush=True)
    if args.out is not None:
        args.out.write_text(json.dumps({"k": k, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
