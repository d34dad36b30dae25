"""The live player model: the compiled loop against its plain-Python reference, its properties,
the live rules (L2A-LL, LoL+), the catch-up rules, the profile's validation and the metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import reference_live as RL
from abrkit import ParameterError, Trace, Video, get_controller, get_profile, run_batch
from abrkit._kernels import layout as L
from abrkit._kernels import live_layout as LV
from abrkit._kernels import live_rules as K
from abrkit.live import LIVE_METRICS, LiveBatchResult, LiveProfile, NQoE, challenge_video, run_live_batch

#: Controllers the fast tests compile: the CTRL_SIMPLE group (fixed, rate), L2A-LL and LoL+.
CONTROLLERS = ("fixed:rung=1", "rate:predictor=last", "l2a", "lolp")
VIDEO = challenge_video(120.0)


def _random_trace(rng, n_periods=None) -> Trace:
    n = int(rng.integers(1, 8)) if n_periods is None else n_periods
    dur = rng.uniform(0.05, 8.0, n)
    bw = rng.uniform(100e3, 2.5e6, n)
    bw[rng.random(n) < 0.1] = 0.0
    bw[0] = max(bw[0], 50e3)
    lat = rng.uniform(0.0, 0.05, n) if rng.random() < 0.5 else None
    return Trace.from_durations(dur, bw, latency_s=lat, name="random")


def _random_profile(rng) -> LiveProfile:
    rate_min = float(rng.choice([0.5, 0.8, 1.0]))
    rate_max = float(rng.choice([1.0, 1.2, 1.5]))
    return LiveProfile(
        target_latency_s=float(rng.uniform(0.4, 4.0)),
        min_latency_s=float(rng.choice([0.0, 0.3])),
        max_drift_s=float(rng.choice([0.0, 2.0, 12.0])),
        rate_min=rate_min, rate_max=rate_max,
        catchup=str(rng.choice(["dashjs", "lolp", "none"])),
        cmaf_chunk_s=None if rng.random() < 0.25 else float(rng.choice([1 / 30, 0.1, 0.25])),
        availability_delay_s=float(rng.choice([0.0, 0.05, 0.3])),
        join_s=float(rng.uniform(0.0, 50.0)),
        duration_s=float(rng.uniform(5.0, 40.0)),
        resume_s=float(rng.choice([0.0, 0.1])),
        rtt_s=None if rng.random() < 0.5 else float(rng.uniform(0.0, 0.1)),
        max_download_s=float(rng.choice([5.0, 60.0])),
    )


#: Metrics compared exactly; LM_EDGE_GAP_S is sampled at every chunk arrival by the reference and
#: at a segment's first and last arrival by the kernel's fast path: both must be <= 0.
SAME = [i for i in range(LV.LM_SIZE) if i != LV.LM_EDGE_GAP_S]


def _check_same(batch: LiveBatchResult, j: int, msg: str = "") -> None:
    log, m, n, status = _reference(batch, j)
    assert (batch.n_done[j], batch.status[j]) == (n, status), msg
    np.testing.assert_allclose(batch.log[j, :n], log[:n], rtol=1e-7, atol=1e-7, err_msg=msg)
    np.testing.assert_allclose(batch.metrics[j, SAME], m[SAME], rtol=1e-7, atol=1e-7, err_msg=msg)
    if n and m[LV.LM_ELAPSED_S] > 0:
        assert m[LV.LM_EDGE_GAP_S] <= 1e-9 and batch.metrics[j, LV.LM_EDGE_GAP_S] <= 1e-9


def _reference(batch: LiveBatchResult, j: int):
    prof = batch.profile
    trace = batch.traces[batch.job_trace[j]]
    video = batch.videos[batch.job_video[j]]
    ctrl = batch.controllers[batch.job_ctrl[j]]
    kind, cparams = ctrl.pack_for(prof.bola_buffer_s(video.chunk_s))
    pid, pparams, n_state = ctrl.pack_predictor()
    log = np.full_like(batch.log[j], np.nan)
    m = np.zeros(LV.LM_SIZE)
    n, status = RL.run_live_session(prof.kernel_trace(trace), video.sizes_bytes, video.bitrates_bps, video.chunk_s,
                                    prof.pack(video.chunk_s), kind, cparams, pid, pparams, n_state,
                                    prof.session_duration_s(trace), log, m)
    return log, m, n, status


@pytest.mark.parametrize("seed", range(12))
def test_compiled_live_loop_equals_the_python_reference(seed):
    rng = np.random.default_rng(seed)
    prof = _random_profile(rng)
    traces = [_random_trace(rng) for _ in range(2)]
    batch = run_live_batch(traces, VIDEO, CONTROLLERS, prof, n_workers=1)
    for j in range(len(batch)):
        _check_same(batch, j, f"seed {seed} job {j}")


def test_the_fast_path_matches_chunk_by_chunk_on_a_constant_link():
    # one period and a whole session: the kernel takes its closed form for nearly every segment
    prof = LiveProfile(duration_s=60.0, target_latency_s=1.2, availability_delay_s=0.05)
    for bps in (3e5, 7e5, 1.1e6, 5e6):
        batch = run_live_batch(Trace.constant(bps, 1000.0), VIDEO, CONTROLLERS, prof, n_workers=1)
        for j in range(len(batch)):
            _check_same(batch, j, f"{bps} bit/s job {j}")


_PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY
@given(seed=st.integers(0, 2**32 - 1), delay=st.sampled_from([0.0, 0.05, 0.4]))
def test_latency_never_below_the_availability_delay_and_the_playhead_never_passes_the_edge(seed, delay):
    rng = np.random.default_rng(seed)
    prof = _random_profile(rng).replace(availability_delay_s=delay)
    batch = run_live_batch([_random_trace(rng)], VIDEO, CONTROLLERS, prof, n_workers=1)
    m = batch.metrics
    played = m[:, LV.LM_ELAPSED_S] > 0
    # the newest media is captured `delay` before it can be fetched: latency >= delay
    assert (m[played, LV.LM_MIN_LATENCY_S] >= delay - 1e-9).all()
    # the playhead stays at or behind the newest available media
    assert (m[played, LV.LM_EDGE_GAP_S] <= 1e-9).all()
    # no chunk starts flowing before the encoder has produced it
    assert (m[played, LV.LM_EARLY_S] >= -1e-9).all()
    logs = [batch.segment_log(j) for j in range(len(batch))]
    for log in logs:
        assert (log[:, LV.LV_LIVE_LATENCY_S] >= delay - 1e-9).all()
        assert (log[:, LV.LV_RATE] >= prof.rate_min - 1e-12).all() and (log[:, LV.LV_RATE] <= prof.rate_max + 1e-12).all()


@_PROPERTY
@given(target=st.floats(0.6, 4.0), delay=st.sampled_from([0.0, 0.1]), join=st.floats(0.0, 100.0),
       chunk=st.sampled_from([None, 1 / 30, 0.1]))
def test_a_fast_constant_link_at_rate_one_converges_to_the_target_without_stalls(target, delay, join, chunk):
    # the stream has run long enough to hold the target's worth of media (a session joining
    # earlier starts closer to the edge than the target, and at rate 1.0 stays there), and the
    # target leaves room for the availability grain and a download (10 ms for the top rung here)
    join = target + VIDEO.chunk_s + join
    grain = VIDEO.chunk_s if chunk is None else VIDEO.chunk_s / round(VIDEO.chunk_s / chunk)
    assume(target >= delay + grain + 0.02)
    prof = LiveProfile(target_latency_s=target, availability_delay_s=delay, join_s=join, cmaf_chunk_s=chunk,
                       duration_s=60.0, rate_min=1.0, rate_max=1.0)
    fast = Trace.constant(50e6, 1000.0)  # 50x the top rung
    batch = run_live_batch(fast, VIDEO, ("fixed:rung=2", "l2a"), prof, n_workers=1)
    seg = VIDEO.chunk_s
    for j in range(len(batch)):
        m = batch.metrics[j]
        assert m[LV.LM_STALLS] == 0 and m[LV.LM_STALL_S] == 0.0
        final = batch.segment_log(j)[-5:, LV.LV_LIVE_LATENCY_S]
        # at rate 1.0 latency is frozen once playing: the target plus the start-up time (the
        # first segment's wait and download), or the live edge when the target is closer
        startup = m[LV.LM_STARTUP_S]
        edge = delay + (grain if chunk is not None else seg)
        assert (final >= target - 1e-9).all()
        assert (np.abs(final - final[0]) < 1e-9).all()
        assert (final <= max(target + startup, edge + seg) + 1e-9).all()
        if target > edge + seg:  # the start segment existed at join: only its download delays the start
            assert startup < 0.05 and (final <= target + 0.05).all()


def test_catch_up_brings_latency_to_the_target():
    prof = LiveProfile(target_latency_s=1.5, join_s=30.0, duration_s=120.0, max_drift_s=0.0)
    # a 10 s outage pushes latency up; the catch-up rule then plays faster until it is back
    trace = Trace.from_durations([20.0, 10.0, 970.0], [3e6, 1.0, 3e6])
    b = run_live_batch(trace, VIDEO, "fixed:rung=1", prof, n_workers=1)
    log = b.segment_log(0)
    assert log[:, LV.LV_LIVE_LATENCY_S].max() > 10.0
    assert log[:, LV.LV_RATE].max() == pytest.approx(1.5, abs=0.01)
    assert abs(log[-1, LV.LV_LIVE_LATENCY_S] - 1.5) < 0.1
    # without catch-up the latency stays where the outage left it
    b0 = run_live_batch(trace, VIDEO, "fixed:rung=1", prof.replace(catchup="none"), n_workers=1)
    assert b0.segment_log(0)[-1, LV.LV_LIVE_LATENCY_S] > 10.0


def test_seek_to_the_live_edge_when_latency_drifts_past_the_threshold():
    prof = LiveProfile(target_latency_s=1.0, join_s=30.0, duration_s=60.0, max_drift_s=3.0, catchup="none")
    trace = Trace.from_durations([10.0, 8.0, 982.0], [3e6, 1.0, 3e6])
    b = run_live_batch(trace, VIDEO, "fixed:rung=0", prof, n_workers=1)
    m = b.live_metrics(0)
    assert m["seeks"] >= 1
    log = b.segment_log(0)
    seek_rows = np.flatnonzero(log[:, LV.LV_SEEK] == 1.0)
    assert seek_rows.size >= 1
    # the seek jumps forward to the segment holding now - target
    assert log[seek_rows[0], LV.LV_SEGMENT] > log[seek_rows[0] - 1, LV.LV_SEGMENT] + 1
    # (the check runs between downloads: the one stuck in the outage finishes first)
    assert log[seek_rows[0], LV.LV_LIVE_LATENCY_S] < 1.0 + 3.0
    assert log[-1, LV.LV_LIVE_LATENCY_S] < 1.0 + 3.0


def test_requests_for_future_segments_wait_and_chunks_are_paced_by_the_encoder():
    prof = LiveProfile(target_latency_s=0.6, join_s=20.0, duration_s=20.0, catchup="none", rate_min=1.0, rate_max=1.0)
    b = run_live_batch(Trace.constant(20e6, 100.0), VIDEO, "fixed:rung=2", prof, n_workers=1)
    log = b.segment_log(0)
    steady = log[5:]
    # at the edge each download lasts about one segment (paced) while the bytes flow 20x faster
    assert np.allclose(steady[:, L.LOG_DELAY_S], 0.5, atol=0.05)
    assert (steady[:, LV.LV_IDLE_S] > 0.4).all()
    # throughput is measured over the time bytes flow: the link rate, not size / download time
    np.testing.assert_allclose(steady[:, L.LOG_THROUGHPUT_BPS], 20e6, rtol=1e-9)
    # without chunked transfer a request waits for the whole segment
    b1 = run_live_batch(Trace.constant(20e6, 100.0), VIDEO, "fixed:rung=2", prof.replace(cmaf_chunk_s=None, target_latency_s=1.2),
                        n_workers=1)
    assert (b1.segment_log(0)[5:, L.LOG_WAIT_S] > 0).mean() > 0.9


def test_metrics_are_named_as_the_challenge_names_them():
    b = run_live_batch(Trace.constant(2e6, 100.0), VIDEO, ["fixed:rung=2", "l2a"], LiveProfile(duration_s=30.0), n_workers=1)
    s = b.sessions()
    for name in LIVE_METRICS:
        assert name in s.columns
    row = s.iloc[0]
    assert row["averageBitrate"] == pytest.approx(1e6)
    assert row["numSwitches"] == 0 and row["numStalls"] == 0 and row["stallDuration"] == 0.0
    assert row["avgPlaybackRate"] == pytest.approx(1.0, abs=0.02)
    assert 0 < row["avgBufferLength"] <= row["avgLatency"]
    summary = b.summary()
    assert list(summary.index) == ["fixed(rung=2)", "l2a"]
    frame = b.session_frame(1)
    assert {"live_latency_s", "playback_rate", "segment", "idle_s"} <= set(frame.columns)


def test_nqoe_weights_follow_the_lolp_qoe_evaluator():
    video = challenge_video(10.0)
    log = np.zeros((3, LV.LV_COLS))
    log[:, L.LOG_RUNG] = [2, 0, 0]
    log[:, L.LOG_REBUFFER_S] = [0.0, 0.5, 0.0]
    log[:, LV.LV_LIVE_LATENCY_S] = [1.0, 2.0, 1.0]
    log[:, LV.LV_RATE] = [1.0, 1.0, 0.9]
    r = NQoE().rewards(video, log)
    assert r[0] == pytest.approx(0.5 * 1000 - 200 * 0.05 * 1.0)
    assert r[1] == pytest.approx(0.5 * 200 - 800 - 1000 * 0.5 - 1000 * 0.1 * 2.0)
    assert r[2] == pytest.approx(0.5 * 200 - 200 * 0.05 * 1.0 - 200 * 0.1)


def test_the_live_profile_is_found_by_name_and_through_run_batch():
    assert isinstance(get_profile("live"), LiveProfile)
    b = run_batch(Trace.constant(2e6, 100.0), VIDEO, ["l2a"], "live", n_workers=1)
    assert isinstance(b, LiveBatchResult)
    with pytest.raises(ParameterError, match="NQoE"):
        run_batch(Trace.constant(2e6, 100.0), VIDEO, ["l2a"], "live", qoe="linear")


@pytest.mark.parametrize(("field", "value", "rule"), [
    ("target_latency_s", 0.0, "> 0"),
    ("rate_min", 1.2, "<= 1"),
    ("rate_max", 0.9, ">= 1"),
    ("catchup", "fast", "must be one of"),
    ("cmaf_chunk_s", -0.1, "> 0"),
    ("min_latency_s", 5.0, "<= 1"),
])
def test_profile_fields_are_validated(field, value, rule):
    with pytest.raises(ParameterError, match=rf"{field}=.*{rule}"):
        LiveProfile(**{field: value})


def test_live_rejects_what_it_cannot_run():
    with pytest.raises(ParameterError, match="one segment duration"):
        run_live_batch(Trace.constant(2e6), [VIDEO, challenge_video(10.0, segment_s=1.0)], "l2a")
    with pytest.raises(ParameterError, match="oracle"):
        run_live_batch(Trace.constant(2e6), VIDEO, "rate:predictor=oracle")
    wide = Video(np.arange(1, 16) * 1e5, 0.5, np.ones((4, 15)) * 1e4)
    with pytest.raises(ParameterError, match="at most 14 rungs"):
        run_live_batch(Trace.constant(2e6), wide, "lolp")


# -- Python controllers ----------------------------------------------------------------------------


class _PyFixed:
    """Rung 1 always, as ``fixed:rung=1``; records what it was shown."""

    name = "py-fixed"

    def __init__(self, rate=None):
        self.seen, self.rate = [], rate

    def reset(self):
        self.seen.clear()

    def decide(self, obs):
        self.seen.append(obs)
        return 1

    def playback_rate(self, obs):
        return self.rate


@pytest.mark.parametrize("seed", range(6))
def test_a_python_controller_runs_on_the_kernels_own_loop(seed):
    rng = np.random.default_rng(100 + seed)
    prof = _random_profile(rng)
    traces = [_random_trace(rng) for _ in range(2)]
    py = _PyFixed()
    batch = run_live_batch(traces, VIDEO, ["fixed:rung=1", py], prof, n_workers=1)
    assert list(batch.summary().index) == ["fixed(rung=1)", "py-fixed"]
    for t in range(2):
        a, b = 2 * t, 2 * t + 1
        n = batch.n_done[a]
        assert (n, batch.status[a]) == (batch.n_done[b], batch.status[b])
        np.testing.assert_array_equal(batch.log[a, :n], batch.log[b, :n])
        np.testing.assert_array_equal(batch.metrics[a], batch.metrics[b])


def test_the_observation_under_live_holds_the_downloads_latency_and_rate():
    py = _PyFixed()
    prof = LiveProfile(duration_s=30.0, target_latency_s=1.5)
    batch = run_live_batch(Trace.from_durations([5.0, 5.0], [8e5, 3e6]), VIDEO, [py], prof, n_workers=1)
    seen, log = py.seen, batch.log[0, : batch.n_done[0]]
    assert len(seen) == len(log)
    assert math.isnan(seen[0].latency_s) and seen[0].sample_bytes.size == 0 and seen[0].prev_rung == -1
    k = len(seen) - 1
    last = seen[k]
    assert last.sample_bytes.size == k and last.prev_rung == 1 and np.isfinite(last.latency_s)
    np.testing.assert_allclose(last.sample_bytes * 8.0 / last.sample_time_s, log[:k, L.LOG_THROUGHPUT_BPS])
    np.testing.assert_array_equal(last.sample_end_s, log[:k, LV.LV_DONE_S])
    np.testing.assert_allclose([o.session_s for o in seen], log[:, L.LOG_REQUEST_S] - log[:, L.LOG_WAIT_S])
    assert all(o.chunk == int(s) % VIDEO.n_chunks for o, s in zip(seen, log[:, LV.LV_SEGMENT]))


def test_a_python_controller_may_set_the_playback_rate():
    prof = LiveProfile(duration_s=40.0, target_latency_s=1.0, rate_min=0.8, rate_max=1.2, min_latency_s=0.0)
    trace = Trace.constant(3e6, 100.0)
    fast = run_live_batch(trace, VIDEO, [_PyFixed(rate=1.5)], prof, n_workers=1)
    rates = fast.log[0, : fast.n_done[0], LV.LV_RATE]
    assert np.nanmax(rates) == 1.2 and np.nanmin(rates[3:]) == 1.2  # asked 1.5: held to the bound
    slow = run_live_batch(trace, VIDEO, [_PyFixed(rate=0.9)], prof, n_workers=1)
    assert slow.log[0, slow.n_done[0] - 1, LV.LV_RATE] == 0.9
    assert slow.sessions()["avgPlaybackRate"].iloc[0] < 1.0 < fast.sessions()["avgPlaybackRate"].iloc[0]
    with pytest.raises(ParameterError, match="playback_rate"):
        run_live_batch(trace, VIDEO, [_PyFixed(rate=-1.0)], prof, n_workers=1)


# -- the rules on their own ------------------------------------------------------------------------


def test_euclidean_projection_lands_on_the_simplex():
    rng = np.random.default_rng(3)
    for _ in range(200):
        v = rng.normal(0, 2, int(rng.integers(1, 9)))
        w = v.copy()
        K.euclidean_projection(w, np.empty_like(w))
        assert (w >= 0).all() and w.sum() == pytest.approx(1.0)
        # the projection is the nearest point of the simplex: no better candidate among random ones
        for _ in range(20):
            c = rng.dirichlet(np.ones(v.size))
            assert np.sum((v - w) ** 2) <= np.sum((v - c) ** 2) + 1e-9


def test_lolp_scans_25_weight_pairs_and_finds_the_625_vector_choice():
    rng = np.random.default_rng(8)
    bps = VIDEO.bitrates_bps
    for _ in range(60):
        ctrl = get_controller("lolp")
        _, cparams = ctrl.pack()
        prof = LiveProfile().pack(0.5)
        prof[LV.LP_NOW_LATENCY_S] = rng.uniform(0, 3)
        prof[LV.LP_NOW_RATE] = rng.uniform(0.8, 1.2)
        cstate = np.zeros(L.CTRL_STATE + 3 * bps.size)
        ref = RL.LoLpRule(cparams)
        prev = int(rng.integers(0, 3))
        for _ in range(5):
            buf = rng.uniform(0, 3)
            est = rng.uniform(1e5, 3e6)
            q = K.lolp_choose(cparams, cstate, buf, prev, bps, 0.5, est, prof)
            ctx = {"bitrates_bps": bps, "seg_s": 0.5, "prev": prev, "rate": prof[LV.LP_NOW_RATE],
                   "latency_s": prof[LV.LP_NOW_LATENCY_S], "est_bps": est, "buffer_s": buf}
            assert q == ref.choose(ctx)
            np.testing.assert_allclose(cstate[K.LOLP_S_W : K.LOLP_S_W + 4], ref.weights)
            prev = q


def test_lolp_initial_weights_are_seeded():
    a, b, c = np.zeros(4), np.zeros(4), np.zeros(4)
    K.lolp_centres(a, 3, 0.8, np.uint64(1))
    K.lolp_centres(b, 3, 0.8, np.uint64(1))
    K.lolp_centres(c, 3, 0.8, np.uint64(2))
    assert (a == b).all() and (a != c).any()
    assert 0 <= a[0] < 0.8 and ((0 <= a[1:]) & (a[1:] < 1)).all()


def test_catchup_rules_follow_dashjs():
    # the sigmoid: 1 at zero error, towards 1 +- the room at large errors
    assert K.catchup_sigmoid(0.0, 0.5, 1.5) == pytest.approx(1.0)
    assert K.catchup_sigmoid(10.0, 0.5, 1.5) == pytest.approx(1.5)
    assert K.catchup_sigmoid(-10.0, 0.8, 1.5) == pytest.approx(0.8)
    # the dead zone and the stall recovery
    assert K.catchup_dashjs(1.01, 1.0, 1.0, False, 0.02, 0.5, 1.5) == 1.0
    assert K.catchup_dashjs(3.0, 1.0, 1.0, True, 0.02, 0.5, 1.5) == 1.0
    assert K.catchup_dashjs(3.0, 1.0, 1.0, False, 0.02, 0.5, 1.5) > 1.4
    # LoL+: a low buffer slows down whatever the latency
    assert K.catchup_lolp(5.0, 1.0, 0.1, 0.5, 0.5, 1.5) < 1.0
    assert K.catchup_lolp(1.015, 1.0, 1.0, 0.5, 0.5, 1.5) == 1.0
    assert math.isclose(RL.catchup_lolp(2.0, 1.0, 0.2, 0.5, 0.5, 1.5), K.catchup_lolp(2.0, 1.0, 0.2, 0.5, 0.5, 1.5))


def test_live_rules_run_under_the_chunk_model_with_latency_zero_and_rate_one():
    video = Video.synthetic_vbr((300, 750, 1200, 1850), 2.0, 20, seed=3, name="vbr")
    b = run_batch(Trace.constant(1.5e6, 100.0), video, ["l2a", "lolp"], "default", n_workers=1)
    s = b.sessions()
    assert (s["status"] == "complete").all() and (s["chunks"] == 20).all()


def test_every_controller_runs_under_the_live_profile():
    from abrkit import CONTROLLERS

    names = sorted(CONTROLLERS)
    rng = np.random.default_rng(21)
    traces = [Trace.from_durations(rng.uniform(1, 5, 8), rng.lognormal(np.log(2.5e6), 0.7, 8), name=f"t{i}")
              for i in range(2)]
    video = Video.synthetic_vbr((300, 750, 1200, 1850, 2850, 4300), 0.5, 120, seed=5, name="vbr6-live")  # Pensieve's 6
    b = run_batch(traces, video, names, LiveProfile(duration_s=20.0), n_workers=1)
    s = b.sessions()
    assert list(s["controller"].unique()) == [CONTROLLERS[n]().name for n in names]
    assert s["status"].isin(["complete", "stalled"]).all()
    assert (s["segments"] > 0).all() and np.isfinite(s["avgLatency"]).all()
    assert set(b.chunks()["rung"]) <= set(range(video.n_rungs))


# -- the command line ------------------------------------------------------------------------------

TWITCH = __import__("pathlib").Path(__file__).resolve().parents[1] / "samples" / "twitch"


def test_cli_simulate_live_prints_the_live_metrics(tmp_path, capsys):
    import json

    from abrkit import cli

    if not TWITCH.is_dir():
        pytest.skip("samples/ is not next to the tests (installed elsewhere)")
    args = ["simulate", "--profile", "live", "--traces", str(TWITCH / "traces" / "spike.csv"),
            str(TWITCH / "traces" / "fast_jitters.csv"), "--video", str(TWITCH / "twitch_normal.json"),
            "--controller", "l2a", "lolp", "fixed:rung=1", "--set", "target_latency_s=1.5"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "target latency 1.5 s" in out
    for label in ("averageBitrate kbps", "numSwitches", "stallDuration s", "numStalls", "avgLatency s",
                  "avgBufferLength s", "avgPlaybackRate", "NQoE"):
        assert label in out
    assert cli.main([*args, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 6 and {"avgLatency", "NQoE", "averageBitrate"} <= set(rows[0])
    assert all(r["avgLatency"] > 1.4 for r in rows)
    assert cli.main([*args, "--optimum"]) == 1
    assert "--optimum does not apply" in capsys.readouterr().err
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    png = tmp_path / "live.png"
    assert cli.main([*args, "--plot", str(png), "--plot-session", "1"]) == 0
    assert png.stat().st_size > 10_000


def test_twitch_samples_are_what_the_script_writes(tmp_path):
    import runpy

    from abrkit import load_traces, read_video

    if not TWITCH.is_dir():
        pytest.skip("samples/ is not next to the tests (installed elsewhere)")
    script = TWITCH.parents[1] / "scripts" / "make_twitch_samples.py"
    runpy.run_path(str(script), run_name="make_twitch_samples")["main"](tmp_path)
    mine = {t.name: t for t in load_traces(TWITCH / "traces")}
    fresh = {t.name: t for t in load_traces(tmp_path / "traces")}
    assert mine.keys() == fresh.keys() == {f"{n}.csv" for n in
                                          ("cascade", "intra_cascade", "spike", "slow_jitters", "fast_jitters")}
    for name, t in mine.items():
        assert t.equals(fresh[name], rtol=1e-12)
    assert (read_video(TWITCH / "twitch_normal.json").sizes_bytes == read_video(tmp_path / "twitch_normal.json").sizes_bytes).all()
    # the "1200 kbps" of the challenge is Chrome's 1200 x 1024 bit/s
    assert mine["cascade.csv"].bandwidth_bps[0] == 1200 * 1024
    assert mine["fast_jitters.csv"].total_duration_s == pytest.approx(11.6)


def test_simulate_returns_a_sim_result_under_live():
    from abrkit import simulate

    r = simulate(Trace.constant(2e6, 60.0), challenge_video(60.0), "l2a", "live")
    assert r.status == "complete" and not r.stalled and r.n_chunks == r.rung.size > 100
    assert r.qoe == pytest.approx(r.totals["NQoE"])
    assert "live_latency_s" in r.to_frame().columns


def test_a_prelude_is_played_first_and_left_out_of_the_metrics():
    spike = Trace.from_durations([10.0, 10.0, 10.0], [1.2288e6, 3.072e5, 8.192e5], name="spike")
    plain = run_live_batch(spike, VIDEO, "l2a", LiveProfile(), n_workers=1)
    warm = run_live_batch(spike, VIDEO, "l2a", LiveProfile(prelude_s=20.0), n_workers=1)
    log = warm.segment_log(0)
    # the session is 20 s longer and starts on the prelude's link, at the top rung once warmed up
    assert warm.durations_s[0] == plain.durations_s[0] + 20.0
    assert log[:, LV.LV_DONE_S].max() >= 49.0
    in_prelude = log[:, LV.LV_DONE_S] <= 20.0
    assert log[in_prelude, L.LOG_RUNG][-5:].tolist() == [2] * 5
    m, mp = warm.live_metrics(0), plain.live_metrics(0)
    total = warm.metrics[0]
    # the window's totals are the session's less what the prelude's last row had accumulated
    r = log[np.flatnonzero(in_prelude)[-1]]
    assert m["stallDuration"] == pytest.approx(total[LV.LM_STALL_S] - r[LV.LV_CUM_STALL_S])
    assert m["NQoE"] == pytest.approx(NQoE().rewards(VIDEO, log[~in_prelude]).sum())
    # warmed up at the top rung, the spike's drop costs more stall than a cold start at the bottom
    assert m["averageBitrate"] > mp["averageBitrate"]
    with pytest.raises(ParameterError, match="prelude_s"):
        LiveProfile(prelude_s=-1.0)
