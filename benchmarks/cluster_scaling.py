"""Parallel efficiency of abrkit's batch APIs on a Dask LocalCluster of 1 and 2 workers.

A script, not an asv suite (it starts clusters and runs for minutes)::

    python benchmarks/cluster_scaling.py                                  # defaults below
    python benchmarks/cluster_scaling.py --traces 20000 --optimum-traces 20000 --titles 4
    python benchmarks/cluster_scaling.py --workers 1 2 4 --out /tmp/cluster.json

What it measures, for each worker count (processes of one thread each):

1. **Sweep**: ``simulate_many(traces, video, 6 controllers, scheduler=client)`` (one row per
   session, built on the workers) over ``--traces``
   synthetic traces (300 s each, the 3g/4g/outages presets in turn) and a 48-chunk VBR video on
   Pensieve's ladder; and ``offline_optimum_many`` on the first ``--optimum-traces`` of them.
2. **Catalog**: ``optimize_catalog`` of ``--titles`` tiny lavfi titles (192x108, 12 fps, 2 s;
   2 resolutions x 4 CRFs exhaustive, a 3-rung fixed ladder) with a fresh store each time.
3. **Overheads**: the round trip of a no-op task on a warm worker (median of 30), the cost per
   task of 400 no-op tasks submitted at once, and the fixed cost of one call (a 1-trace
   ``run_batch`` on the cluster minus the same call here).

Reported per run: wall seconds, the CPU seconds the workers spent (their processes and the ffmpeg
children they reaped), the load average before and after, and the parallel efficiency at N
workers, ``T(1) / (N x T(N))`` on wall time; ``CPU(1) / CPU(N)`` (how much extra work the
distribution costs) is the number to read when the machine is shared, since wall time then
measures the other jobs too. Results go to stdout (a markdown table) and ``--out`` (JSON).

``--pin-cores`` confines each worker process, and the ffmpeg children it starts, to a core of
its own, as a batch scheduler's cpuset does for a one-core worker (Slurm's
``--cpus-per-task=1``). Without it a lone worker's ffmpeg spreads its decode and filter threads
over the idle second core, so the 1-worker baseline is not a one-core run; with it that baseline
is a third slower (docs/cluster.md, runs M and N).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

CONTROLLERS = ["bb", "rate", "bba0", "festive", "mpc", "robustmpc"]
JOBS = ("sweep", "optimum", "catalog")
LADDER_KBPS = [300, 750, 1200, 1850, 2850, 4300]


def _cpu_s() -> float:
    """CPU seconds of this process and of the children it reaped (ffmpeg)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _noop() -> None:
    return None


def _pin_process(cpu: int) -> list[int]:
    """Confine every thread of this process (and so the ffmpeg children it starts) to ``cpu``.

    ``os.sched_setaffinity(0, ...)`` moves only the calling thread on Linux, and ``client.run``
    calls it on a thread other than the task threads, so each thread is moved by its id; threads
    made later inherit the mask of the thread that makes them.
    """
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), {cpu})
        except ProcessLookupError:  # a thread that ended meanwhile
            pass
    return sorted(os.sched_getaffinity(0))


def pin_workers(client: Any) -> dict[str, int]:
    """Give each worker of ``client`` a core of its own, as a batch scheduler's cpuset would."""
    cpus = sorted(os.sched_getaffinity(0))
    workers = sorted(client.scheduler_info()["workers"])
    if len(workers) > len(cpus):
        raise SystemExit(f"--pin-cores: {len(workers)} workers but only {len(cpus)} CPUs")
    for address, cpu in zip(workers, cpus):
        client.run(_pin_process, cpu, workers=[address])
    return dict(zip(workers, cpus))


def measured(client: Any, fn: Callable[[], Any]) -> dict[str, float]:
    """Run ``fn``; its wall time, the workers' CPU seconds and the load average around it."""
    before = sum(client.run(_cpu_s).values())
    load0 = os.getloadavg()[0]
    mine = time.process_time()
    started = time.perf_counter()
    fn()
    wall = time.perf_counter() - started
    client_cpu = time.process_time() - mine
    after = sum(client.run(_cpu_s).values())
    return {"wall_s": wall, "worker_cpu_s": after - before, "client_cpu_s": client_cpu, "load_before": load0,
            "load_after": os.getloadavg()[0]}


#: Catalog titles (``--title-size``): frame size, rate and length of the lavfi sources, and the
#: ladder each is searched on. ``tiny`` encodes take 0.2-0.4 s of CPU with their scoring, less
#: than the "seconds of work" a task should hold; ``sd`` ones take a few seconds.
TITLE_SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(size="192x108", rate=12, seconds=2, resolutions=[(128, 72), (192, 108)], preset="ultrafast",
                 segment_s=1.0, fixed=((25, 128, 72), (60, 128, 72), (150, 192, 108))),
    "sd": dict(size="640x360", rate=24, seconds=4, resolutions=[(384, 216), (640, 360)], preset="veryfast",
               segment_s=2.0, fixed=((150, 384, 216), (400, 384, 216), (900, 640, 360))),
}


def make_titles(folder: Path, n: int, size: str = "tiny") -> list[Path]:
    from abrkit.encode.ffmpeg import find_ffmpeg

    ff = find_ffmpeg()
    spec = TITLE_SIZES[size]
    sources = ["testsrc2", "mandelbrot", "cellauto", "life", "smptehdbars", "rgbtestsrc"]
    out = []
    for i in range(n):
        path = folder / f"title{i}.mp4"
        src = sources[i % len(sources)]
        ff.run(["-f", "lavfi", "-i", f"{src}=size={spec['size']}:rate={spec['rate']}", "-t", str(spec["seconds"]),
                "-vf", f"hue=h={37 * i}", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "6", "-pix_fmt", "yuv420p",
                "-y", str(path)])
        out.append(path)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=int, default=20_000, help="traces of the controller sweep (default 20000)")
    parser.add_argument("--optimum-traces", type=int, default=400, help="traces solved by the offline optimum (default 400)")
    parser.add_argument("--titles", type=int, default=4, help="titles of the catalog (default 4)")
    parser.add_argument("--title-size", choices=sorted(TITLE_SIZES), default="tiny",
                        help="catalog titles: tiny (192x108, 2 s; default) or sd (640x360, 4 s)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts (default 1 2)")
    parser.add_argument("--jobs", nargs="+", choices=JOBS, default=list(JOBS), help="which jobs to run (default: all)")
    parser.add_argument("--pin-cores", action="store_true",
                        help="confine each worker (and its ffmpeg children) to a core of its own")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)

    import distributed
    import numpy as np

    from abrkit import Video, offline_optimum_many, run_batch, simulate_many
    from abrkit import cluster
    from abrkit.encode.catalog import optimize_catalog
    from abrkit.encode.ladders import FixedLadder, LadderRung
    from abrkit.encode.rungs import RungConstraints
    from abrkit.traces.synthetic import preset_trace

    presets = ["3g", "4g", "outages"]
    traces = [preset_trace(presets[i % 3], 300.0, seed=i) for i in range(args.traces)]
    video = Video.synthetic_vbr(LADDER_KBPS, 4.0, 48, seed=0, name="vbr48")
    opt_traces = traces[: args.optimum_traces]
    tmp = Path(tempfile.mkdtemp(prefix="abrkit-cluster-bench-"))
    titles = make_titles(tmp, args.titles, args.title_size)
    spec = TITLE_SIZES[args.title_size]
    ladder = dict(
        mode="exhaustive", resolutions=spec["resolutions"], crfs=[22.0, 30.0, 38.0, 46.0], preset=spec["preset"],
        segment_s=spec["segment_s"], min_vmaf=None, constraints=RungConstraints(min_quality_step=4.0, quality_cap=None),
        fixed_ladders=(FixedLadder(args.title_size, tuple(LadderRung(*r) for r in spec["fixed"])),),
    )

    # the local reference (one thread), which also fills the Numba cache the workers start from
    run_batch(traces[:2], video, CONTROLLERS, n_workers=1, progress=False)
    offline_optimum_many(opt_traces[:1], video, n_workers=1, progress=False)
    started = time.perf_counter()
    local_one = run_batch(traces[:1], video, CONTROLLERS, n_workers=1, progress=False)
    local_one_s = time.perf_counter() - started
    local_sweep_s = float("nan")
    if "sweep" in args.jobs:
        started = time.perf_counter()
        local_table = simulate_many(traces, video, CONTROLLERS, n_workers=1, progress=False)
        local_sweep_s = time.perf_counter() - started

    runs: dict[int, dict[str, Any]] = {}
    for n in args.workers:
        with distributed.LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50,
        ) as lc, distributed.Client(lc, set_as_default=False) as client:
            row: dict[str, Any] = {}
            if args.pin_cores:
                row["cores"] = pin_workers(client)
            # the fixed cost of a call: one trace on the cluster (warm-up included) against here
            run_batch(traces[:1], video, CONTROLLERS, progress=False, scheduler=client)  # compile on the workers
            started = time.perf_counter()
            one = run_batch(traces[:1], video, CONTROLLERS, progress=False, scheduler=client)
            row["call_overhead_s"] = time.perf_counter() - started - local_one_s
            assert np.array_equal(one.log, local_one.log, equal_nan=True)  # the same sessions, bit for bit
            with cluster.open_executor(client) as ex:
                trips = []
                for _ in range(30):
                    t0 = time.perf_counter()
                    ex.result(ex.submit(_noop, shared=False))
                    trips.append(time.perf_counter() - t0)
                row["task_round_trip_s"] = statistics.median(trips)
                t0 = time.perf_counter()
                futures = [ex.submit(_noop, shared=False) for _ in range(400)]
                for f in ex.as_completed(futures):
                    ex.result(f)
                row["task_throughput_cost_s"] = (time.perf_counter() - t0) / 400
            box: dict[str, Any] = {}
            if "sweep" in args.jobs:
                row["sweep"] = measured(
                    client, lambda: box.setdefault("t", simulate_many(traces, video, CONTROLLERS, progress=False, scheduler=client)),
                )
                assert box["t"].equals(local_table)
            if "optimum" in args.jobs:
                row["optimum"] = measured(client, lambda: offline_optimum_many(opt_traces, video, progress=False, scheduler=client))
            if "catalog" not in args.jobs:
                runs[n] = row
                print(f"{n} worker(s): {json.dumps(row)}", file=sys.stderr, flush=True)
                continue
            # a first tiny catalog in a throwaway store: the workers import the encoding side here
            optimize_catalog(titles[:1], tmp / f"warm-{n}", scheduler=client, progress=False,
                             **{**ladder, "crfs": [30.0], "resolutions": [(128, 72)], "fixed_ladders": ()})
            out = tmp / f"catalog-{n}"
            box = {}
            row["catalog"] = measured(
                client, lambda: box.setdefault("r", optimize_catalog(titles, out, scheduler=client, progress=False, **ladder)),
            )
            summary = box["r"].summary
            row["catalog"]["ffmpeg_cpu_s"] = float(summary["cpu_s"].sum())
            row["catalog"]["encodes"] = int(summary["performed"].sum())
            runs[n] = row
            print(f"{n} worker(s): {json.dumps(row)}", file=sys.stderr, flush=True)

    base = runs[min(runs)]
    lines = [
        f"machine: {os.cpu_count()} CPUs; sweep {len(traces)} traces x {len(CONTROLLERS)} controllers "
        f"(local, 1 thread: {local_sweep_s:.1f} s); optimum on {len(opt_traces)} traces; catalog of {len(titles)} "
        f"{args.title_size} titles" + ("; each worker pinned to a core of its own" if args.pin_cores else ""),
        "",
        "| workers | job | wall s | worker CPU s | client CPU s | efficiency (wall) | CPU(1)/CPU(N) | load avg before/after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, row in runs.items():
        for job in (j for j in JOBS if j in row):
            r, b = row[job], base[job]
            eff = b["wall_s"] / (n * r["wall_s"]) if n != min(runs) else 1.0
            cpu = b["worker_cpu_s"] / r["worker_cpu_s"] if r["worker_cpu_s"] > 0 else float("nan")
            lines.append(f"| {n} | {job} | {r['wall_s']:.1f} | {r['worker_cpu_s']:.1f} | {r['client_cpu_s']:.1f} | {eff:.0%} | {cpu:.2f} | "
                         f"{r['load_before']:.1f} / {r['load_after']:.1f} |")
    lines += ["", "| workers | no-op task round trip | cost per task (400 at once) | fixed cost of a call |", "|---|---|---|---|"]
    for n, row in runs.items():
        lines.append(f"| {n} | {row['task_round_trip_s'] * 1e3:.1f} ms | {row['task_throughput_cost_s'] * 1e3:.2f} ms | "
                     f"{row['call_overhead_s']:.2f} s |")
    print("\n".join(lines))
    if args.out is not None:
        args.out.write_text(json.dumps({"local_sweep_s": local_sweep_s, "runs": runs, "traces": len(traces),
                                        "pin_cores": args.pin_cores,
                                        "optimum_traces": len(opt_traces), "titles": len(titles)}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
