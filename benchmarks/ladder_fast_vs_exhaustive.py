"""Fast vs exhaustive ladder search on real content: encodes, wall time, hull loss, savings.

A script, not an asv suite (it encodes with ffmpeg for many minutes)::

    python benchmarks/ladder_fast_vs_exhaustive.py                      # the camera clip, defaults
    python benchmarks/ladder_fast_vs_exhaustive.py --source movie.mp4 --out /tmp/bench
    python benchmarks/ladder_fast_vs_exhaustive.py --replay /tmp/bench/exhaustive/result.json

What it does (default source: ``../shared/data/clips/cockatoo_720p.mp4``):

1. **Exhaustive** search on the default grid (every resolution from the source's height down to
   234p x the codec's default CRFs: 6 x 18 = 108 encodes for x264 at 720p), with a fresh cache,
   timed. This is the reference. Why this density: it is the densest grid measured, and the
   benchmark shows how much a coarser one loses (the hull of the every-other-CRF subgrid, read
   from the same encodes).
2. **Fast** search on the same grid, with a *separate* fresh cache (so it really encodes), timed.
3. The fixed reference ladders (Apple HLS, Netflix 2015), encoded once (in the exhaustive run's
   cache), and the BD-rate of each mode's per-title rungs against them.
4. **Replay**: the fast search re-run on the exhaustive table without ffmpeg must ask for the
   same points (determinism), and is repeated on subsets of the resolutions to show how the
   ratio depends on the grid.

Hull loss is reported two ways, fast hull against exhaustive hull over the VMAF range they
share:

* ``bd_rate_pct``: BD-rate (PCHIP through the hull vertices, as :func:`abrkit.encode.bdrate.bd_rate`),
  the metric the target is stated in (at most 1 %). PCHIP through few vertices runs below the
  straight chords between them, so a sparser hull can come out slightly *negative*;
* ``hull_gap_pct``: :func:`abrkit.encode.sampling.hull_rate_gap`, the rate read straight off each
  hull between its vertices (time-sharing), which never favours the sparser hull: the strict
  number.

Wall times depend on the machine and on what else runs on it; encodes do not. Results go to
``--out`` (``report.json`` and ``report.md``) and to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from abrkit.encode.bdrate import bd_rate
from abrkit.encode.hull import upper_hull
from abrkit.encode.ladder import LadderResult, optimize_ladder
from abrkit.encode.sampling import FastSearch, hull_rate_gap, replay

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[1] / "shared" / "data" / "clips" / "cockatoo_720p.mp4"


def _hull(points: pd.DataFrame) -> pd.DataFrame:
    idx = upper_hull(points["bitrate_kbps"].to_numpy(float), points["vmaf"].to_numpy(float))
    return points.iloc[idx].sort_values("bitrate_kbps")


def compare_hulls(anchor: pd.DataFrame, test: pd.DataFrame) -> dict[str, float]:
    """BD-rate (PCHIP) and straight-chord rate gap of ``test``'s hull against ``anchor``'s, percent."""
    a, t = _hull(anchor), _hull(test)
    return {
        "bd_rate_pct": bd_rate(a["bitrate_kbps"], a["vmaf"], t["bitrate_kbps"], t["vmaf"]),
        "hull_gap_pct": hull_rate_gap(a["bitrate_kbps"], a["vmaf"], t["bitrate_kbps"], t["vmaf"]),
        "anchor_hull_points": int(len(a)),
        "test_hull_points": int(len(t)),
    }


def replay_points(points: pd.DataFrame, resolutions: list[tuple[int, int]], crfs: list[float],
                  params: FastSearch) -> pd.DataFrame:
    """The points a fast search asks for when the grid's measurements are already known."""
    index = {res: k for k, res in enumerate(resolutions)}
    table = {}
    rows = {}
    for row in points.itertuples():
        key = (index[(int(row.width), int(row.height))], float(row.crf))
        table[key] = (float(row.bitrate_kbps), float(row.vmaf))
        rows[key] = row.Index
    order = replay(table, len(resolutions), crfs, params=params)
    return points.loc[[rows[(r, c)] for r, c, _ in order]]


def _replay_report(exhaustive: LadderResult, params: FastSearch) -> list[dict[str, object]]:
    res = [tuple(r) for r in exhaustive.settings["resolutions"]]
    crfs = [float(c) for c in exhaustive.settings["crfs"]]
    out = []
    subsets = {"all": res}
    if len(res) >= 4:
        subsets["every other resolution"] = res[::2]
        subsets["without the smallest two"] = res[:-2]
    for name, subset in subsets.items():
        pts = exhaustive.points[[(int(w), int(h)) in subset for w, h in zip(exhaustive.points.width, exhaustive.points.height)]]
        pts = pts.reset_index(drop=True)
        fast = replay_points(pts, list(subset), crfs, params)
        row = {"resolutions": name, "grid": len(pts), "fast_encodes": len(fast), "ratio": len(fast) / len(pts)}
        row.update(compare_hulls(pts, fast))
        out.append(row)
    # a coarser exhaustive grid, from the same encodes: how much density matters
    coarse_crfs = crfs[::2]
    coarse = exhaustive.points[exhaustive.points.crf.isin(coarse_crfs)]
    row = {"resolutions": f"all, CRF step x2 (exhaustive {len(coarse)})", "grid": len(coarse), "fast_encodes": None,
           "ratio": None}
    row.update(compare_hulls(exhaustive.points, coarse))
    out.append(row)
    return out


def _ladder_row(name: str, result: LadderResult, wall_s: float | None) -> dict[str, object]:
    n = result.n_encodes
    return {
        "mode": name,
        "search_encodes": n["search"],
        "search_performed": n["search_performed"],
        "wall_s": None if wall_s is None else round(wall_s, 1),
        "ffmpeg_s_sum": round(float(result.points["elapsed_s"].sum()), 1),
        "hull_points": len(result.hull),
        "rungs_kbps": [round(x) for x in result.ladder_kbps],
        "rungs_vmaf": [round(float(v), 1) for v in result.rungs["vmaf"]],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="source video (default: the camera clip)")
    ap.add_argument("--out", type=Path, default=Path("benchmark-ladder"), help="output directory (caches, results, report)")
    ap.add_argument("--workers", type=int, default=None, help="concurrent encodes (default: CPU count)")
    ap.add_argument("--max-duration-s", type=float, default=None, help="use only the first S seconds")
    ap.add_argument("--replay", type=Path, default=None, metavar="RESULT_JSON",
                    help="no encoding: replay the fast search on a stored exhaustive result.json")
    args = ap.parse_args(argv)
    params = FastSearch()

    if args.replay is not None:
        exhaustive = LadderResult.from_json(args.replay)
        report = {"fast_search": params.to_dict(), "replay": _replay_report(exhaustive, params)}
        print(json.dumps(report, indent=1))
        return 0

    if not args.source.exists():
        print(f"source not found: {args.source}", file=sys.stderr)
        return 2
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    common = dict(workers=args.workers, max_duration_s=args.max_duration_s, progress=None)

    # The fast run always starts from an empty cache, so that it really encodes. The exhaustive
    # cache is kept between runs of this script (it takes long): its wall time is that of the
    # run that encoded every point (OUT/exhaustive/timing.json), else not reported; the summed
    # ffmpeg time of the points (measured when each was encoded, kept in the cache) is
    # comparable either way.
    shutil.rmtree(out / "cache-fast", ignore_errors=True)
    runs = {}
    for mode in ("exhaustive", "fast"):
        started = time.perf_counter()
        result = optimize_ladder(args.source, mode=mode, fixed_ladders=(), cache_dir=out / f"cache-{mode}", **common)
        fresh = result.n_encodes["search_performed"] == result.n_encodes["search"]
        wall = time.perf_counter() - started if fresh else None
        timing = out / mode / "timing.json"  # the wall time of the run that encoded every point
        if fresh:
            timing.parent.mkdir(parents=True, exist_ok=True)
            timing.write_text(json.dumps({"wall_s": wall, "encodes": result.n_encodes["search"]}) + "\n")
        elif timing.exists():
            recorded = json.loads(timing.read_text())
            if recorded.get("encodes") == result.n_encodes["search"]:
                wall = float(recorded["wall_s"])
        runs[mode] = (result, wall)
        result.to_json(out / mode / "result.json")
        print(f"{mode}: {result.n_encodes['search']} encodes ({result.n_encodes['search_performed']} run now), "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr)

    # Fixed ladders: encoded once, in the exhaustive cache; each mode's rungs compared with them.
    savings = {}
    for mode in ("exhaustive", "fast"):
        with_fixed = optimize_ladder(args.source, mode=mode, cache_dir=out / "cache-exhaustive", **common)
        if mode == "fast":  # the fast points are all in the exhaustive cache: nothing encoded but the fixed rungs
            assert with_fixed.n_encodes["search_performed"] == 0
        savings[mode] = {"bd_rate_pct": with_fixed.bd_rate, "bd_rate_hull_pct": with_fixed.bd_rate_hull,
                         "bd_vmaf": with_fixed.bd_vmaf}
        with_fixed.to_json(out / mode / "result-with-fixed.json")

    ex, ex_s = runs["exhaustive"]
    fa, fa_s = runs["fast"]
    replayed = replay_points(ex.points, [tuple(r) for r in ex.settings["resolutions"]],
                             [float(c) for c in ex.settings["crfs"]], params)
    same_points = sorted(replayed.point_id) == sorted(fa.points.point_id)
    report = {
        "source": ex.source,
        "versions": ex.versions,
        "grid": {"resolutions": ex.settings["resolutions"], "crfs": ex.settings["crfs"],
                 "codec": ex.settings["codec"], "preset": ex.settings["preset"], "threads": ex.settings["threads"]},
        "fast_search": params.to_dict(),
        "runs": [_ladder_row("exhaustive", ex, ex_s), _ladder_row("fast", fa, fa_s)],
        "fast_vs_exhaustive": {
            "encode_ratio": fa.n_encodes["search"] / ex.n_encodes["search"],
            "wall_ratio": None if ex_s is None else fa_s / ex_s,
            "ffmpeg_s_ratio": float(fa.points["elapsed_s"].sum() / ex.points["elapsed_s"].sum()),
            **compare_hulls(ex.points, fa.points),
            "rungs_bd_rate_pct": bd_rate(ex.rungs.bitrate_kbps, ex.rungs.vmaf, fa.rungs.bitrate_kbps, fa.rungs.vmaf)
            if min(len(ex.rungs), len(fa.rungs)) >= 4 else None,
            "replay_asks_for_the_same_points": bool(same_points),
        },
        "savings_vs_fixed_ladders": savings,
        "replay": _replay_report(ex, params),
        "machine": {"cpus": os.cpu_count(), "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
    }
    (out / "report.json").write_text(json.dumps(report, indent=1, default=float) + "\n")
    (out / "report.md").write_text(_markdown(report))
    print(_markdown(report))
    return 0


def _markdown(r: dict) -> str:
    f = r["fast_vs_exhaustive"]
    lines = [
        f"source: {Path(r['source']['path']).name} ({r['source']['width']}x{r['source']['height']}, "
        f"{r['source']['scored_duration_s']:g} s), {r['grid']['codec']} {r['grid']['preset']}, threads {r['grid']['threads']}; "
        f"grid {len(r['grid']['resolutions'])} resolutions x {len(r['grid']['crfs'])} CRFs "
        f"({r['grid']['crfs'][0]:g}..{r['grid']['crfs'][-1]:g})",
        "",
        "| mode | encodes | wall s | ffmpeg s (sum over points) | hull points | rungs (kbps) |",
        "|---|---|---|---|---|---|",
    ]
    for run in r["runs"]:
        wall = "(resumed: not timed)" if run["wall_s"] is None else run["wall_s"]
        lines.append(f"| {run['mode']} | {run['search_encodes']} | {wall} | {run['ffmpeg_s_sum']} | "
                     f"{run['hull_points']} | {', '.join(str(x) for x in run['rungs_kbps'])} |")
    wall_ratio = "" if f["wall_ratio"] is None else f", {f['wall_ratio']:.1%} of the wall time"
    lines += [
        "",
        f"fast / exhaustive: {f['encode_ratio']:.1%} of the encodes, {f['ffmpeg_s_ratio']:.1%} of the ffmpeg time{wall_ratio}; "
        f"fast hull vs exhaustive hull: BD-rate {f['bd_rate_pct']:+.2f} %, straight-chord gap {f['hull_gap_pct']:+.2f} %; "
        f"replay asks for the same points: {f['replay_asks_for_the_same_points']}",
        "",
        "| per-title rungs vs | exhaustive: BD-rate | fast: BD-rate |",
        "|---|---|---|",
    ]
    for name in r["savings_vs_fixed_ladders"]["exhaustive"]["bd_rate_pct"]:
        e = r["savings_vs_fixed_ladders"]["exhaustive"]["bd_rate_pct"][name]
        fa = r["savings_vs_fixed_ladders"]["fast"]["bd_rate_pct"][name]
        lines.append(f"| {name} | {_pct(e)} | {_pct(fa)} |")
    lines += ["", "| replay on | grid | fast encodes | ratio | BD-rate | chord gap |", "|---|---|---|---|---|---|"]
    for row in r["replay"]:
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.1%}"
        lines.append(f"| {row['resolutions']} | {row['grid']} | {row['fast_encodes'] or ''} | {ratio} | "
                     f"{row['bd_rate_pct']:+.2f} % | {row['hull_gap_pct']:+.2f} % |")
    return "\n".join(lines) + "\n"


def _pct(value: object) -> str:
    return "n/a" if value is None else f"{float(value):+.1f} %"  # type: ignore[arg-type]


if __name__ == "__main__":
    raise SystemExit(main())
