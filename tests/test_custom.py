"""Python controllers (abrkit.custom) in the simulator: built-in controllers give the compiled
loop's logs bit for bit on the Python path, user controllers see a faithful observation, mix with
built-in ones in batches, and bad controllers fail clearly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import strategies
from abrkit import (
    BBA0, BufferBased, Controller, ParameterError, Profile, RateBased, Trace, Video, get_controller, get_profile,
    run_batch, simulate, simulate_many,
)
from abrkit.controllers import BBA1, CONTROLLERS, MPC
from abrkit.custom import BuiltinController, Observation, PythonController
from test_optimum import profiles, traces, videos

#: Every registered controller (new ones are picked up: Sabre's rules too, which may ask for
#: waits), plus predictor variants.
CHUNK_CONTROLLERS = sorted(CONTROLLERS)
SPECS = CHUNK_CONTROLLERS + [
    "rate:predictor=oracle", "rate:predictor=kalman(quantile=0.2),safety=1.0", "mpc:predictor=oracle,horizon=3",
    "bb:reservoir_s=8,cushion_s=20", "fixed:rung=2",
]
FIELDS = ("rung", "size_bytes", "latency_s", "delay_s", "buffer_s", "rebuffer_s", "wait_s", "throughput_bps", "request_s",
          "controller_wait_s")

MIXED = Profile(
    name="mixed", rtt_s=0.05, rtt_advances_clock=False, payload_efficiency=0.9, buffer_cap_s=30.0,
    wait_quantum_s=0.5, trace_alignment="end", first_chunk_rebuffers=True, initial_rung=2,
    max_chunks=40, throughput_includes_latency=False,
)


def simulate_python(trace, video, controller, profile="default", qoe=None):
    """One session on the Python path: a built-in controller goes through BuiltinController."""
    if isinstance(controller, (str, Controller)):
        controller = BuiltinController(controller)
    return simulate(trace, video, controller, profile, qoe)


def assert_same_session(compiled, python) -> None:
    """Equal, not close: the Python loop does the kernel's arithmetic in the kernel's order."""
    assert python.status == compiled.status and python.n_chunks == compiled.n_chunks
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(python, name), getattr(compiled, name), err_msg=name)
    assert python.startup_s == compiled.startup_s
    assert pd.Series(python.totals).equals(pd.Series(compiled.totals))  # every column, NaN == NaN
    assert python.to_frame().equals(compiled.to_frame())


# -- built-in controllers: both paths agree ----------------------------------------------------------


@pytest.mark.shared
@pytest.mark.parametrize("profile", ["default", "pensieve", MIXED], ids=lambda p: getattr(p, "name", p))
@pytest.mark.parametrize("spec", SPECS)
def test_builtin_controllers_agree_on_real_traces(spec, profile, norway_traces, sabre_4g_traces, envivio):
    picked = [norway_traces[i] for i in (0, 47, 101, 141)] + [sabre_4g_traces[3].scaled(0.15)]  # the last has latency
    for trace in picked:
        assert_same_session(simulate(trace, envivio, spec, profile), simulate_python(trace, envivio, spec, profile))


def controllers():
    reservoir, cushion = st.floats(0.0, 20.0), st.floats(0.5, 30.0)
    preds = strategies.predictor_specs(oracle=True)
    return st.one_of(
        st.sampled_from(CHUNK_CONTROLLERS).map(get_controller),
        st.builds(BufferBased, reservoir_s=reservoir, cushion_s=cushion),
        st.builds(BBA0, reservoir_s=reservoir, cushion_s=cushion),
        st.builds(RateBased, predictor=preds, safety=st.floats(0.3, 1.5)),
        st.builds(BBA1, cushion_s=cushion, lookahead_s=st.floats(1.0, 120.0)),
        st.builds(MPC, predictor=preds, horizon=st.integers(1, 3)),
    )


@settings(max_examples=200)
@given(data=st.data(), trace=traces(), video=videos(), controller=controllers())
def test_builtin_controllers_agree_on_random_sessions(data, trace, video, controller):
    try:
        controller.check_video(video)
    except ParameterError:  # a learned controller's network fixes the ladder size
        assume(False)
    profile = data.draw(profiles(video))
    assert_same_session(simulate(trace, video, controller, profile), simulate_python(trace, video, controller, profile))


def test_stalled_and_dead_sessions_agree():
    video = Video.constant_bitrate([1000, 4000], 4.0, 5)
    slow = Trace.constant(2e5, 10.0, name="slow")
    short = get_profile("default").replace(max_download_s=5.0)
    assert_same_session(simulate(slow, video, "fixed:rung=1", short), simulate_python(slow, video, "fixed:rung=1", short))
    assert simulate_python(slow, video, "fixed:rung=1", short).status == "stalled"
    dead = Trace(np.array([0.0, 1.0]), np.array([1e6, 0.0]), name="dead")  # Pensieve drops point 0
    result = simulate_python(dead, video, "bb", "pensieve")
    assert result.status == "no_bandwidth" and result.n_chunks == 0
    assert_same_session(simulate(dead, video, "bb", "pensieve"), result)


# -- user controllers ---------------------------------------------------------------------------


class PlainBB:
    """Pensieve's buffer-based rule written by hand: must match the built-in 'bb'."""

    name = "hand-written bb"

    def decide(self, obs: Observation) -> int:
        if obs.buffer_s < 5.0:
            return 0
        if obs.buffer_s >= 15.0:
            return obs.n_rungs - 1
        return int((obs.n_rungs - 1) * (obs.buffer_s - 5.0) / 10.0)


class Recorder:
    """Checks what each observation holds against the previous step's log."""

    def __init__(self) -> None:
        self.seen: list[Observation] = []
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1
        self.seen = []

    def decide(self, obs: Observation) -> int:
        self.seen.append(obs)
        return obs.chunk % obs.n_rungs


def test_hand_written_rule_matches_the_builtin():
    trace = Trace.from_durations(np.full(30, 2.0), np.linspace(3e5, 6e6, 30), name="ramp")
    video = Video.synthetic_vbr([300, 750, 1200, 1850, 2850, 4300], 4.0, 40)
    for profile in ("default", "pensieve", MIXED):
        mine, builtin = simulate_python(trace, video, PlainBB(), profile), simulate(trace, video, "bb", profile)
        np.testing.assert_array_equal(mine.rung, builtin.rung)
        assert mine.qoe == builtin.qoe
        assert mine.totals["controller"] == "hand-written bb"


@pytest.mark.parametrize("profile", ["default", "pensieve", MIXED], ids=lambda p: getattr(p, "name", p))
def test_observation_is_what_the_player_knows(profile):
    trace = Trace.from_durations([3.0, 2.0, 4.0], [2e6, 5e5, 4e6], latency_s=[0.05, 0.1, 0.02], name="t")
    video = Video.synthetic_vbr([300, 750, 1200, 1850], 2.0, 50)
    rec = Recorder()
    result = simulate_python(trace, video, rec, profile)
    prof = get_profile(profile)
    first = 0 if prof.initial_rung is None else 1  # chunk 0 is not asked under a fixed initial rung
    assert rec.resets == 1 and [o.chunk for o in rec.seen] == list(range(first, result.n_chunks))
    for obs in rec.seen:
        k = obs.chunk
        assert obs.n_chunks == result.n_chunks == (video.n_chunks if prof.max_chunks is None else min(50, prof.max_chunks))
        assert obs.sample_bytes.size == obs.sample_time_s.size == obs.sample_latency_s.size == obs.sample_end_s.size == k
        np.testing.assert_array_equal(obs.sample_bytes, result.size_bytes[:k])
        np.testing.assert_array_equal(obs.throughput_bps, result.throughput_bps[:k])
        np.testing.assert_array_equal(obs.sample_latency_s, result.latency_s[:k])
        np.testing.assert_array_equal(obs.sample_end_s, result.request_s[:k] + result.delay_s[:k])
        assert obs.session_s == result.request_s[k]
        assert obs.buffer_s == (result.buffer_s[k - 1] if k else 0.0)
        assert obs.prev_rung == (result.rung[k - 1] if k else -1)
        assert obs.last_latency_s == (result.latency_s[k - 1] if k else 0.0)
        assert obs.upcoming_sizes_bytes.shape == (obs.n_chunks - k, video.n_rungs)
        np.testing.assert_array_equal(obs.bitrates_bps, video.bitrates_bps)
        assert obs.chunk_s == 2.0 and obs.profile is prof
        for arr in (obs.sizes_bytes, obs.bitrates_bps, obs.sample_bytes):
            with pytest.raises(ValueError, match="read-only"):
                arr[...] = 0.0
    # The look-ahead is the oracle predictor's number.
    assert np.isfinite(rec.seen[-1].oracle_throughput_bps(1e5))
    assert isinstance(rec, PythonController)


def test_reset_runs_before_every_session():
    rec = Recorder()
    trace, video = Trace.constant(3e6, 60.0, name="c"), Video.constant_bitrate([300, 750], 4.0, 4)
    simulate_python(trace, video, rec)
    simulate_python(trace, video, rec)
    assert rec.resets == 2 and [o.chunk for o in rec.seen] == [0, 1, 2, 3]


def test_builtin_adapter_starts_every_session_fresh():
    trace, video = Trace.constant(3e6, 60.0, name="c"), Video.constant_bitrate([300, 750, 1850], 4.0, 10)
    adapter = BuiltinController("robustmpc")
    first = simulate_python(trace, video, adapter)
    again = simulate_python(trace, video, adapter)
    np.testing.assert_array_equal(first.rung, again.rung)
    assert adapter.name == "robustmpc" and first.totals["controller"] == "robustmpc"


# -- errors -------------------------------------------------------------------------------------


class Returns:
    def __init__(self, value) -> None:
        self.value = value

    def decide(self, obs: Observation):
        return self.value if obs.chunk == 2 else 0


@pytest.mark.parametrize("value", [3, -1, True, 1.0, "1", None])
def test_a_bad_rung_names_the_controller_and_the_chunk(value):
    trace, video = Trace.constant(3e6, 60.0, name="c"), Video.constant_bitrate([300, 750, 1850], 4.0, 5)
    with pytest.raises(ParameterError, match=r"^rung=.* is invalid: controller 'Returns' returned it for chunk 2: must be an integer from 0 to 2"):
        simulate_python(trace, video, Returns(value))
    assert simulate_python(trace, video, Returns(np.int64(2))).rung[2] == 2  # numpy integers are fine


def test_bad_arguments_name_the_parameter():
    trace, video = Trace.constant(3e6, 60.0, name="c"), Video.constant_bitrate([300, 750], 4.0, 3)
    with pytest.raises(ParameterError, match=r"^controllers='object' is invalid: must be .* objects with a decide\(obs\) method"):
        simulate(trace, video, object())  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"^controller='nope' is invalid: unknown controller"):
        simulate_python(trace, video, "nope")
    with pytest.raises(ParameterError, match=r"^trace='list' is invalid"):
        simulate_python([], video, PlainBB())  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"^video='NoneType' is invalid"):
        simulate_python(trace, None, PlainBB())  # type: ignore[arg-type]
    assert simulate_python(trace, video, PlainBB(), "sabre").status == "complete"  # the event model runs them too
    with pytest.raises(ParameterError, match=r"^initial_rung=4 is invalid"):
        simulate_python(trace, video, PlainBB(), get_profile("default").replace(initial_rung=4))
    with pytest.raises(ParameterError, match=r"^buffer_cap_s=2.0 is invalid"):
        simulate_python(trace, video, PlainBB(), get_profile("default").replace(buffer_cap_s=2.0))
    with pytest.raises(ParameterError, match=r"^qoe='nope' is invalid"):
        simulate_python(trace, video, PlainBB(), qoe="nope")
    with pytest.raises(ParameterError, match=r"^shadow_predictors=.* is invalid: are not supported with Python controllers"):
        run_batch([trace], [video], [PlainBB()], shadow_predictors=["ewma"])


# -- batches: Python and compiled controllers side by side ---------------------------------------


class Counting(PlainBB):
    """PlainBB that counts its sessions: Python controllers may keep state between sessions."""

    name = "counting"

    def __init__(self) -> None:
        self.sessions = 0

    def reset(self) -> None:
        self.sessions += 1


@pytest.mark.parametrize("n_workers", [1, 2])
def test_python_controllers_mix_with_compiled_ones_in_a_batch(n_workers):
    traces = [Trace.from_durations(np.full(20, 3.0), np.linspace(a, b, 20), name=f"t{i}")
              for i, (a, b) in enumerate([(3e5, 5e6), (6e6, 4e5), (1e6, 1e6)])]
    videos = [Video.synthetic_vbr([300, 750, 1200, 1850, 2850], 4.0, 30, seed=1, name="v1"),
              Video.constant_bitrate([300, 1200, 4300], 2.0, 40, name="v2")]
    counting = Counting()
    specs = ["bb", counting, BuiltinController("robustmpc"), "rate"]
    batch = run_batch(traces, videos, specs, "default", n_workers=n_workers)
    table = batch.sessions()
    assert list(table["controller"][:4]) == ["bb", "counting", "robustmpc", "rate"]
    assert counting.sessions == len(traces) * len(videos)
    for j in range(len(batch)):
        t, v, c = int(batch.job_trace[j]), int(batch.job_video[j]), int(batch.job_ctrl[j])
        alone = simulate(traces[t], videos[v], ["bb", "bb", "robustmpc", "rate"][c])  # PlainBB == bb
        np.testing.assert_array_equal(batch.session(j).rung, alone.rung)
        assert batch.session(j).qoe == alone.qoe
    assert batch.settings()["controllers"][1] == {"controller": "counting", "python_class": "Counting"}
    frame = simulate_many(traces, videos, [Counting()], per_chunk=True)
    assert set(frame["controller"]) == {"counting"} and len(frame) == len(traces) * (30 + 40)
