"""The ``scheduler=`` argument (abrkit.cluster): every batch API gives the local result, bit for
bit, on local processes and on a Dask LocalCluster of two worker processes; clear errors."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from abrkit import ParameterError, ToolNotFoundError, Video, offline_optimum_many, run_batch, simulate_many
from abrkit import cluster
from abrkit.evaluate import evaluate_predictors
from abrkit.traces.synthetic import preset_trace

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    # two worker processes of one thread each, as a small cluster would have
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50,
    ) as lc, distributed.Client(lc, set_as_default=False) as c:
        yield c


@pytest.fixture(scope="module")
def traces():
    return [preset_trace("4g" if i % 2 else "3g", 120.0, seed=i) for i in range(24)]


@pytest.fixture(scope="module")
def video():
    return Video.synthetic_vbr([300.0, 750.0, 1200.0, 2850.0], 4.0, 20, seed=1, name="tiny")


def _same_batch(a, b) -> None:
    np.testing.assert_array_equal(a.log, b.log)
    for name in ("job_trace", "job_video", "job_ctrl", "n_done", "status", "startup_s"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    pd.testing.assert_frame_equal(a.sessions(), b.sessions(), check_exact=True)


def test_run_batch_on_a_cluster_is_the_local_run(client, traces, video):
    ctrls = ["bb", "rate", "robustmpc", "bba0"]
    local = run_batch(traces, video, ctrls, n_workers=1, progress=False)
    _same_batch(local, run_batch(traces, video, ctrls, progress=False, scheduler=client))
    # simulate_many's table is made on the workers (per-session rows travel, not the logs)
    pd.testing.assert_frame_equal(
        local.sessions(), simulate_many(traces, video, ctrls, progress=False, scheduler=client), check_exact=True,
    )
    # by address too (a second client to the same scheduler)
    _same_batch(local, run_batch(traces, video, ctrls, progress=False, scheduler=client.scheduler.address))
    # or the cluster object itself
    _same_batch(local, run_batch(traces, video, ctrls, progress=False, scheduler=client.cluster))


def test_simulate_many_event_model_on_a_cluster(client, traces, video):
    local = simulate_many(traces[:6], video, ["bolae", "throughput"], profile="sabre", progress=False)
    there = simulate_many(traces[:6], video, ["bolae", "throughput"], profile="sabre", progress=False, scheduler=client)
    pd.testing.assert_frame_equal(local, there, check_exact=True)


def test_dashjs_profile_on_a_cluster(client, traces, video):
    # a profile with a player loop and a result class of its own (abrkit.dashjs)
    local = run_batch(traces[:6], video, ["dashjs", "bola"], profile="dashjs", progress=False)
    there = run_batch(traces[:6], video, ["dashjs", "bola"], profile="dashjs", progress=False, scheduler=client)
    assert type(there) is type(local)
    np.testing.assert_array_equal(local.startup_s, there.startup_s)
    pd.testing.assert_frame_equal(local.sessions(), there.sessions(), check_exact=True)
    pd.testing.assert_frame_equal(local.chunks(), there.chunks(), check_exact=True)


def test_sampling_controller_runs_as_one_task(client, traces, video):
    # RobustMPC's error history carried from session to session: one task, in job order
    local = run_batch(traces[:5], video, ["robustmpc"], profile="pensieve", progress=False)
    _same_batch(local, run_batch(traces[:5], video, ["robustmpc"], profile="pensieve", progress=False, scheduler=client))


def test_offline_optimum_many_on_a_cluster(client, traces, video):
    local = offline_optimum_many(traces[:8], video, n_workers=1, progress=False)
    there = offline_optimum_many(traces[:8], video, progress=False, scheduler=client)
    pd.testing.assert_frame_equal(local, there, check_exact=True)


def test_evaluate_predictors_on_a_cluster(client, traces):
    local = evaluate_predictors(traces[:10], ["ewma", "harmonic", "last"], by=("predictor", "trace"), n_workers=1)
    there = evaluate_predictors(traces[:10], ["ewma", "harmonic", "last"], by=("predictor", "trace"), scheduler=client)
    pd.testing.assert_frame_equal(local, there, check_exact=True)


def test_processes_scheduler_is_the_local_run(traces, video):
    local = run_batch(traces[:8], video, ["bb", "mpc"], n_workers=1, progress=False)
    _same_batch(local, run_batch(traces[:8], video, ["bb", "mpc"], progress=False, scheduler="processes"))


def test_bad_scheduler_is_a_parameter_error(traces, video):
    with pytest.raises(ParameterError, match=r"scheduler=.*must be None, 'processes'"):
        run_batch(traces[:2], video, "bb", scheduler="threads")
    with pytest.raises(ParameterError, match=r"scheduler=.*must be None, 'processes'"):
        offline_optimum_many(traces[:2], video, scheduler=42)


def test_python_controller_needs_the_local_scheduler(traces, video):
    class Lowest:
        def decide(self, obs):
            return 0

    with pytest.raises(ParameterError, match="cannot run Python controllers"):
        run_batch(traces[:2], video, [Lowest()], scheduler="processes")


def test_missing_distributed_says_what_to_install(monkeypatch, traces, video):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ToolNotFoundError, match=r"pip install 'abrkit\[cluster\]'"):
        run_batch(traces[:2], video, "bb", scheduler="tcp://127.0.0.1:8786")


def test_plan_tasks_sizes():
    # one item of 10 ms, 2 s tasks: 200 items a task; 20,000 items on 2 workers: 100 tasks
    parts = cluster.plan_tasks(20_000, 0.01, 2)
    assert len(parts) == 100 and parts[0] == (0, 200) and parts[-1][1] == 20_000
    # uneven items (the optimum's traces): at least 16 tasks per worker, so the idle tail is short
    parts = cluster.plan_tasks(240, 0.125, 2)
    assert len(parts) == 30 and parts[0] == (0, 8)
    # ... but not tasks below 0.25 s of work: 16 items of 1 ms are one task
    assert cluster.plan_tasks(16, 0.001, 2) == [(0, 16)]
    assert len(cluster.plan_tasks(64, 0.05, 2)) == 13  # 5 items (0.25 s) a task
    assert cluster.plan_tasks(3, 5.0, 8) == [(0, 1), (1, 2), (2, 3)]
    assert cluster.plan_tasks(0, 1.0, 2) == []


def test_simulate_command_line_on_a_cluster(client, capsys, monkeypatch):
    from pathlib import Path

    from abrkit.cli import main

    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    argv = ["simulate", "--traces", "samples/traces/broadband_1.json", "samples/traces/4g_1.json",
            "--video", "samples/videos/synthetic_vbr.json",
            "--controller", "bb", "mpc", "--optimum", "--format", "csv", "--no-progress"]
    assert main(argv) == 0
    here = capsys.readouterr().out
    assert main([*argv, "--scheduler", client.scheduler.address]) == 0
    assert capsys.readouterr().out == here


def test_a_worker_caches_its_kernels_in_its_own_folder(tmp_path):
    # a fresh process: point the kernels' cache at tmp_path, run a session, find the files there
    import subprocess
    from pathlib import Path

    code = (
        "import sys; from abrkit._jit import use_cache_dir, STAMP_NAME\n"
        "folder = use_cache_dir(sys.argv[1])\n"
        "from abrkit import simulate; from abrkit.warmup import warmup_inputs\n"
        "simulate(*warmup_inputs(), 'bb')\n"
        "names = sorted(p.name for p in folder.iterdir())\n"
        "assert STAMP_NAME in names and any(n.endswith('.nbi') for n in names), names\n"
        "print(folder)\n"
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**__import__("os").environ, "PYTHONPATH": src}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).parent == tmp_path.resolve()


def test_a_worker_cache_is_seeded_again_with_what_the_client_compiled_since(tmp_path):
    # use_cache_dir twice in one process: the second call copies in what the seed gained since
    import subprocess
    from pathlib import Path

    code = (
        "import sys, shutil, pathlib\n"
        "from abrkit._jit import use_cache_dir, numba_cache_dirs, _KERNEL_DIR\n"
        "seed = [d for d in numba_cache_dirs(_KERNEL_DIR / 'session.py') if d.is_dir()][0]\n"
        "folder = use_cache_dir(sys.argv[1])\n"
        "fake = seed / 'session.fake_kernel-1.py311.nbi'\n"
        "fake.write_bytes(b'x')\n"
        "try:\n"
        "    use_cache_dir(sys.argv[1])\n"
        "    assert (folder / fake.name).read_bytes() == b'x'\n"
        "finally:\n"
        "    fake.unlink()\n"
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**__import__("os").environ, "PYTHONPATH": src}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
