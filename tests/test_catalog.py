"""optimize_catalog / abrkit catalog: the shared store under concurrent writers and kills, a
catalog on a LocalCluster that loses a worker mid-job and resumes, and the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

from abrkit.cli import main
from abrkit.encode.cache import CacheWarning, MeasurementCache
from abrkit.encode.catalog import optimize_catalog
from abrkit.encode.ffmpeg import find_ffmpeg
from abrkit.encode.ladder import optimize_ladder
from abrkit.encode.ladders import FixedLadder, LadderRung
from abrkit.encode.rungs import RungConstraints

SRC = str(Path(__file__).resolve().parents[1] / "src")

# -- the store: several processes appending at once, one killed ---------------------------------

_WRITER = r"""
import sys
from abrkit.encode.cache import MeasurementCache, point_key
store, writer, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
cache = MeasurementCache(store)
pad = "x" * 20000  # records of ~20 KB: several pages, so a kill could tear one mid-write
for i in range(n):
    ctx = {"writer": writer, "i": i}
    key = point_key(ctx)
    cache.put("s" * 64, key, ctx, {"i": i, "pad": pad})
    print(key, flush=True)  # acknowledged: put() returned, the record is on disk
"""


def test_concurrent_writers_and_a_kill_lose_no_record(tmp_path):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    n = 150
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), f"w{k}", str(n)], stdout=subprocess.PIPE, text=True, env=env)
        for k in range(4)
    ]
    acked: list[str] = []
    victim = procs[0]
    for _ in range(20):  # let the victim write a few records, then kill it mid-stream
        acked.append(victim.stdout.readline().strip())
    victim.send_signal(signal.SIGKILL)
    acked += [line.strip() for line in victim.stdout if line.strip()]
    victim.stdout.close()
    victim.wait()
    for p in procs[1:]:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        acked += out.split()
    assert len(acked) >= 20 + 3 * n
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stored = MeasurementCache(tmp_path).points("s" * 64)
    # every acknowledged record is there, intact; at most the victim's record in flight is torn
    assert set(acked) <= set(stored)
    assert len(stored) <= len(acked) + 1
    torn = [w for w in caught if issubclass(w.category, CacheWarning)]
    assert len(torn) <= 1
    lines = (tmp_path / "points" / ("s" * 64 + ".jsonl")).read_bytes().split(b"\n")
    assert sum(1 for line in lines if line.strip()) <= len(stored) + 1  # no duplicates, no interleaving


# -- the catalog --------------------------------------------------------------------------------

RES = [(128, 72), (192, 108)]
CRFS = [22.0, 30.0, 38.0, 46.0]
TINY_FIXED = FixedLadder("tiny-fixed", (LadderRung(25, 128, 72), LadderRung(60, 128, 72), LadderRung(150, 192, 108)))
OPTIONS = dict(
    mode="exhaustive", resolutions=RES, crfs=CRFS, preset="ultrafast", segment_s=1.0, fixed_ladders=(TINY_FIXED,),
    constraints=RungConstraints(min_quality_step=4.0, quality_cap=None), min_vmaf=None, workers=1,
)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> list[Path]:
    ff = find_ffmpeg()
    folder = tmp_path_factory.mktemp("titles")
    out = []
    for name, lavfi in (("bars", "testsrc2"), ("fractal", "mandelbrot"), ("noise", "cellauto")):
        path = folder / f"{name}.mp4"
        ff.run(["-f", "lavfi", "-i", f"{lavfi}=size=192x108:rate=12", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast",
                "-crf", "6", "-pix_fmt", "yuv420p", "-y", str(path)])
        out.append(path)
    return out


def _keys(store: Path) -> list[str]:
    """Keys of the whole records in the store (a line torn by the kill is not one)."""
    keys = []
    for file in (store / "points").glob("*.jsonl"):
        for line in file.read_text().splitlines():
            try:
                keys.append(json.loads(line)["key"])
            except ValueError:
                pass
    return keys


def _same_ladder(a, b) -> None:
    drop = ["elapsed_s", "cached"]
    pd.testing.assert_frame_equal(a.points.drop(columns=drop), b.points.drop(columns=drop), check_exact=True)
    pd.testing.assert_frame_equal(a.rungs.drop(columns=drop), b.rungs.drop(columns=drop), check_exact=True)
    assert a.bd_rate == b.bd_rate


def test_catalog_survives_a_killed_worker_and_resumes(sources, tmp_path):
    distributed = pytest.importorskip("distributed")
    sources = sources[:2]
    out = tmp_path / "catalog"
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50,
    ) as lc, distributed.Client(lc, set_as_default=False) as client:
        box: dict = {}
        job = threading.Thread(target=lambda: box.setdefault("r", optimize_catalog(sources, out, scheduler=client, progress=False, **OPTIONS)))
        job.start()
        store = out / ".abrkit-cache"
        deadline = time.monotonic() + 120
        while len(_keys(store)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        pids = client.run(os.getpid)
        os.kill(next(iter(pids.values())), signal.SIGKILL)  # a worker dies mid-job; its nanny restarts it
        killed_mid_job = job.is_alive()
        job.join(timeout=300)
        first = box["r"]
        with warnings.catch_warnings():
            # should the kill have torn the record its worker was appending, the reader skips it
            warnings.simplefilter("ignore", CacheWarning)
            second = optimize_catalog(sources, out, scheduler=client, progress=False, **OPTIONS)
    assert killed_mid_job
    assert not first.errors, first.errors
    keys = _keys(store)
    assert len(keys) == len(set(keys))  # nothing encoded (and stored) twice
    per_title = 2 * 4 + 3
    assert len(keys) == per_title * len(sources)  # nothing lost
    assert first.summary["encodes"].tolist() == [per_title] * 2
    # the rerun resumes from the store: no encode, the same ladders
    assert second.summary["performed"].tolist() == [0, 0]
    for title in first.results:
        _same_ladder(first.results[title], second.results[title])
    # ... which are those of a plain local run of one title
    local = optimize_ladder(sources[0], cache_dir=tmp_path / "local", progress=False, **OPTIONS)
    _same_ladder(local, second.results["bars"])
    table = second.summary
    assert list(table.columns[:4]) == ["title", "source", "rungs", "ladder_kbps"]
    assert "bd_rate_tiny-fixed_pct" in table.columns
    assert (table["cpu_s"] > 0).all() and (out / "summary.csv").is_file() and (out / "titles" / "bars.json").is_file()


def test_catalog_command_line(sources, tmp_path, capsys):
    out = tmp_path / "cli"
    argv = [str(sources[0]), str(sources[0]), "--out", str(out), "--mode", "exhaustive", "--resolutions", "128x72,192x108",
            "--crfs", "22,30,38,46", "--preset", "ultrafast", "--segment-s", "1", "--fixed", "--min-vmaf", "none",
            "--jnd", "4", "--quality-cap", "none", "--workers", "1", "--no-progress", "--format", "csv"]
    assert main(["catalog", *argv]) == 0
    table = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert table["title"].tolist() == ["bars", "bars-2"]
    assert table["encodes"].tolist() == [8, 8]
    assert table["performed"].sum() == 8  # the second copy of the title is read from the store
    # a missing source: its row says why, the exit code is 1
    assert main(["catalog", str(tmp_path / "missing.mp4"), *argv[2:]]) == 1
    assert "VideoFormatError" in capsys.readouterr().out


def test_catalog_refuses_options_it_sets(sources, tmp_path):
    from abrkit import ParameterError

    with pytest.raises(ParameterError, match="cache_dir=.*set by optimize_catalog"):
        optimize_catalog(sources, tmp_path, cache_dir=tmp_path)
    with pytest.raises(ParameterError, match=r"sources=\[\] is invalid"):
        optimize_catalog([], tmp_path)


def test_a_killed_client_loses_only_what_was_in_flight(sources, tmp_path):
    out = tmp_path / "killed"
    argv = [sys.executable, "-m", "abrkit", "catalog", *map(str, sources), "--out", str(out), "--mode", "exhaustive",
            "--resolutions", "128x72,192x108", "--crfs", "22,30,38,46", "--preset", "ultrafast", "--segment-s", "1",
            "--fixed", "--min-vmaf", "none", "--jnd", "4", "--quality-cap", "none", "--no-progress",
            "--scheduler", "processes", "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    # its own session: killing the group kills the client, its pool processes and their ffmpegs
    job = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    store = out / ".abrkit-cache"
    deadline = time.monotonic() + 120
    while len(_keys(store)) < 4 and time.monotonic() < deadline and job.poll() is None:
        time.sleep(0.02)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    stored = set(_keys(store))
    assert 4 <= len(stored) < 3 * 8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)  # a record torn by the kill is skipped
        again = optimize_catalog(sources, out, progress=False, **{**OPTIONS, "fixed_ladders": ()})
    keys = _keys(store)
    assert len(keys) == len(set(keys)) == 3 * 8  # each point once: nothing lost, nothing encoded twice
    assert int(again.summary["performed"].sum()) == 3 * 8 - len(stored)
