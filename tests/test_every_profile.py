"""Every controller under every profile: one contract, one result type, one set of units."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from abrkit import CONTROLLERS, ParameterError, Trace, Video, get_profile, run_batch, simulate
from abrkit._kernels import event_layout as E
from abrkit.custom import BuiltinController, Download, Observation
from abrkit.simulation import SimResult

PROFILES = ("default", "pensieve", "event", "sabre")
NAMES = sorted(CONTROLLERS)


def _traces() -> list[Trace]:
    rng = np.random.default_rng(11)
    out = []
    for i in range(3):
        n = 40
        bw = rng.lognormal(np.log(2.5e6), 0.7, n)
        bw[rng.random(n) < 0.1] = 2e5  # deep fades
        out.append(Trace.from_durations(np.full(n, 2.0), bw, latency_s=np.full(n, 0.05), name=f"synthetic-{i}"))
    return out


def _video() -> Video:
    ladder = np.array([3e5, 7.5e5, 1.2e6, 1.85e6, 2.85e6, 4.3e6])
    rng = np.random.default_rng(5)
    sizes = np.outer(rng.uniform(0.7, 1.3, 30), ladder * 4.0 / 8)
    return Video(ladder, 4.0, sizes, name="vbr6")


TRACES = _traces()
VIDEO = _video()


@pytest.mark.parametrize("profile", PROFILES)
def test_every_controller_runs_under_every_profile(profile):
    batch = run_batch(TRACES, VIDEO, NAMES, profile, n_workers=1, progress=False)
    sessions = batch.sessions()
    assert list(sessions["controller"].unique()) == [CONTROLLERS[n]().name for n in NAMES]
    assert (sessions["status"] == "complete").all()
    assert (sessions["chunks"] == VIDEO.n_chunks).all()  # chunk 0 counted in both models
    assert np.isfinite(sessions["qoe"]).all() and (sessions["rebuffer_s"] >= 0).all()
    # the buffer never passes the profile's cap, in both models
    chunks = batch.chunks()
    cap = {"default": 60.0, "pensieve": 60.0, "event": 25.0, "sabre": 25.0}[profile]
    assert chunks["buffer_s"].max() <= cap + 1e-9
    assert set(chunks["rung"]) <= set(range(VIDEO.n_rungs))


@pytest.mark.shared
def test_every_controller_runs_under_every_profile_on_real_traces(norway_traces):
    for profile in PROFILES:
        sessions = run_batch(norway_traces[:4], VIDEO, NAMES, profile, n_workers=2, progress=False).sessions()
        assert len(sessions) == 4 * len(NAMES)
        assert np.isfinite(sessions["qoe"]).all()


@pytest.mark.parametrize("profile", PROFILES)
def test_simulate_returns_a_sim_result_with_the_same_columns(profile):
    result = simulate(TRACES[0], VIDEO, "bolae", profile)
    assert type(result) is SimResult
    frame = result.to_frame()
    assert list(frame.columns[:6]) == ["trace", "video", "controller", "chunk", "rung", "bitrate_kbps"]
    for column in ("size_bytes", "latency_s", "delay_s", "buffer_s", "rebuffer_s", "wait_s", "throughput_kbps",
                   "request_s", "controller_wait_s", "reward"):
        assert column in frame.columns
    assert len(frame) == result.n_chunks == result.rung.size
    np.testing.assert_allclose(result.size_bytes, VIDEO.sizes_bytes[np.arange(result.n_chunks), result.rung])
    assert result.qoe == pytest.approx(float(result.qoe_model.total(frame["reward"].to_numpy()[None, :])[0]))


@pytest.mark.parametrize("profile", ("event", "sabre"))
def test_event_model_tables_are_in_seconds_and_bytes(profile):
    batch = run_batch(TRACES[:1], VIDEO, ["bolae", "throughput"], profile, n_workers=1, progress=False)
    requests = batch.requests()
    for j, raw in enumerate(batch.logs):  # the kernel's own log: ms, bits, kbit/s
        rows = requests[requests["controller"] == batch.controllers[j].name]
        np.testing.assert_allclose(rows["size_bytes"], raw[:, E.E_SIZE_BITS] / 8)
        np.testing.assert_allclose(rows["delay_s"], raw[:, E.E_TIME_MS] / 1000)
        np.testing.assert_allclose(rows["latency_s"], raw[:, E.E_TTFB_MS] / 1000)
        np.testing.assert_allclose(rows["request_s"], raw[:, E.E_REQUEST_MS] / 1000)
        played = batch.played[j]
        chunks = batch.session_frame(j)
        np.testing.assert_array_equal(chunks["rung"], played[:, 0].astype(int))
        np.testing.assert_allclose(chunks["rebuffer_s"], played[:, 1] / 1000)
    sessions = batch.sessions()
    assert "time_average_score" in sessions and "total_rebuffer" in sessions  # Sabre's metrics ride along
    np.testing.assert_allclose(sessions["rebuffer_s"], sessions["total_rebuffer"], atol=1e-9)


def test_the_two_models_agree_where_they_model_the_same_thing():
    # No latency, no fades, a buffer that never fills: a fixed rung downloads the same bytes
    # over the same link in both models, so the per-chunk logs agree.
    trace = Trace.from_durations(np.full(10, 5.0), np.full(10, 3e6), name="flat")
    chunk = simulate(trace, VIDEO, "fixed:rung=2", get_profile("default").replace(buffer_cap_s=1000.0)).to_frame()
    event = simulate(trace, VIDEO, "fixed:rung=2", get_profile("event").replace(buffer_cap_s=1000.0)).to_frame()
    for column in ("rung", "size_bytes", "delay_s", "throughput_kbps", "request_s"):
        np.testing.assert_allclose(chunk[column], event[column], rtol=1e-9, err_msg=column)


def test_fixed_is_one_controller_in_both_models():
    assert "fixed-event" not in CONTROLLERS
    for profile in ("event", "sabre"):
        rungs = simulate(TRACES[1], VIDEO, "fixed:rung=3", profile).rung
        assert (rungs == 3).all()


@pytest.mark.parametrize("name", ["bola", "bolae", "dynamic"])
def test_sabre_rules_wait_in_the_chunk_model(name):
    # BOLA's delay is honoured by the chunk loop: the buffer drains while the player idles
    batch = run_batch(TRACES, VIDEO, [name], "default", n_workers=1, progress=False)
    chunks = batch.chunks()
    assert (chunks["controller_wait_s"] >= 0).all()
    if name == "bola":
        assert chunks["controller_wait_s"].sum() == 0.0  # BOLA-U never delays
    # Python path (the contract called from Python) == compiled loop, waits included
    python = run_batch(TRACES, VIDEO, [BuiltinController(name)], "default", n_workers=1, progress=False).chunks()
    pd.testing.assert_frame_equal(python.drop(columns="controller"), chunks.drop(columns="controller"))


class _Patient:
    """A Python controller with both optional hooks: a wait and an abandonment rule."""

    name = "patient"

    def __init__(self) -> None:
        self.calls = 0
        self.polls = 0

    def reset(self) -> None:
        self.calls = 0

    def decide(self, obs: Observation):
        self.calls += 1
        rung = 0 if obs.buffer_s < 6 else obs.n_rungs - 1
        return (rung, 0.5) if obs.buffer_s > 12 else rung

    def abandon(self, download: Download):
        self.polls += 1
        assert 0.0 <= download.downloaded_bytes < download.size_bytes
        if download.rung > 0 and download.elapsed_s > 4.0 and download.buffer_s < 2.0:
            return 0
        return None


@pytest.mark.parametrize("profile", ("event", "sabre"))
def test_a_python_controller_waits_and_abandons_in_the_event_model(profile):
    ctrl = _Patient()
    batch = run_batch(TRACES, VIDEO, [ctrl, "bb"], profile, n_workers=1, progress=False)
    sessions = batch.sessions().set_index(["trace", "controller"])
    mine = sessions.xs("patient", level="controller")
    assert (mine["status"] == "complete").all()
    assert ctrl.polls > 0 and mine["abandoned"].sum() > 0  # the hook was asked, and abandoned
    assert (mine["requests"] > mine["chunks"]).any()
    requests = batch.requests()
    mine_requests = requests[requests["controller"] == "patient"]
    assert mine_requests["wait_s"].sum() > 0  # the waits happened
    assert (mine_requests.loc[mine_requests["abandoned_to"].notna(), "abandoned_to"] == 0).all()


def test_the_python_event_loop_equals_the_compiled_one_on_built_in_controllers():
    for name in ("bb", "bba0", "rate", "mpc", "festive"):
        compiled = run_batch(TRACES, VIDEO, [name], "event", n_workers=1, progress=False)
        python = run_batch(TRACES, VIDEO, [BuiltinController(name)], "event", n_workers=1, progress=False)
        for a, b in zip(compiled.logs, python.logs):
            np.testing.assert_array_equal(a, b, err_msg=name)
        np.testing.assert_array_equal(compiled.metrics, python.metrics, err_msg=name)


def test_a_python_controller_that_abandons_upwards_is_refused():
    class Up:
        def decide(self, obs):
            return 0

        def abandon(self, download):
            return download.rung

    with pytest.raises(ParameterError, match=r"abandon=0 is invalid: .*a rung below the one downloading"):
        run_batch(TRACES[:1], VIDEO, [Up()], "event", n_workers=1, progress=False)


@pytest.mark.parametrize("wait_s", [float("inf"), 1e300, -1.0])
def test_a_python_wait_must_be_a_number_of_seconds_up_to_a_day(wait_s):
    class Bad:
        def decide(self, obs):
            return 0, wait_s

    for profile in ("default", "event"):
        with pytest.raises(ParameterError, match=re.escape(f"wait_s={wait_s!r} is invalid") + ".*>= 0 and <= 86400"):
            run_batch(TRACES[:1], VIDEO, [Bad()], profile, n_workers=1, progress=False)


def test_the_oracle_is_refused_in_the_event_model():
    with pytest.raises(ParameterError, match="the event model has none"):
        run_batch(TRACES[:1], VIDEO, ["rate:predictor=oracle"], "event", n_workers=1, progress=False)


def test_the_loops_run_as_plain_python_with_the_jit_disabled():
    # ABRKIT_DISABLE_JIT=1 runs every kernel as Python (for pdb): the contract's run-time
    # dispatch must give the compiled loops' results in both models
    import json
    import subprocess
    import sys

    code = (
        "import json; from abrkit import load_traces, read_video, simulate; "
        "tr = load_traces('samples/traces'); v = read_video('samples/videos/synthetic_vbr.json'); "
        "print(json.dumps([simulate(tr[0], v, c, p).qoe for c, p in "
        "[('bb', 'default'), ('bolae', 'sabre'), ('rate', 'event'), ('bolae', 'default')]]))"
    )
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    env = {**__import__("os").environ, "ABRKIT_DISABLE_JIT": "1", "ABRKIT_QUIET": "1"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    python = json.loads(run.stdout.strip().splitlines()[-1])
    from abrkit import load_traces, read_video

    traces = load_traces(root / "samples" / "traces")
    video = read_video(root / "samples" / "videos" / "synthetic_vbr.json")
    compiled = [simulate(traces[0], video, c, p).qoe for c, p in
                [("bb", "default"), ("bolae", "sabre"), ("rate", "event"), ("bolae", "default")]]
    assert python == pytest.approx(compiled, rel=0, abs=1e-9)
