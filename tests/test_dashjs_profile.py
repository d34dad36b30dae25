"""The ``dashjs`` player profile (abrkit.dashjs, _kernels/dashjs_player.py): each behaviour on
hand-worked cases, the kernel against its plain-Python reference, every controller under it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from abrkit import Trace, Video
from abrkit.controllers import CONTROLLERS, DashJs5, get_controller
from abrkit.dashjs import DashjsProfile
from abrkit.errors import ParameterError
from abrkit.event import EVENT_PROFILES, _event_controller, run_event_batch, video_arrays
from abrkit.event_controllers import DashJsDynamic
from abrkit.profiles import get_profile

from reference_dashjs import play_dashjs as reference_play

LADDER = [300.0, 750.0, 1200.0, 1850.0, 2850.0]


def _video(n=30, ladder=LADDER, seed=3):
    return Video.synthetic_vbr(ladder, 2.0, n, seed=seed)


def _profile(**kw):
    kw.setdefault("payload_efficiency", 1.0)  # hand-worked cases: the trace's rate is the payload's
    return EVENT_PROFILES["dashjs"].replace(latency_s=0.08, **kw)


def _run(trace, video, controller="dashjs", **kw):
    return run_event_batch(trace, video, [controller], _profile(**kw))


def test_profile_is_registered_and_checked():
    p = get_profile("dashjs")
    assert isinstance(p, DashjsProfile) and p.model == "dashjs"
    assert p.buffer_cap_s == 18.0 and p.top_buffer_s == 30.0 and p.initial_kbps == 1000.0
    with pytest.raises(ParameterError, match="replacement='left' is invalid: must be none"):
        p.replace(replacement="left")
    with pytest.raises(ParameterError, match="apply_abandon_quality"):
        p.replace(apply_abandon_quality=False)
    with pytest.raises(ParameterError, match="abandon_min_events"):
        p.replace(abandon_min_events=0)
    with pytest.raises(ParameterError, match="schedule_s"):
        p.replace(schedule_s=0.0)


def test_startup_by_hand():
    # 8 Mbit/s (8000 bits per ms), 80 ms latency
    video = Video.constant_bitrate(LADDER, 2.0, 5)
    b = _run(Trace.constant(8e6), video, "fixed", manifest_bytes=2000, init_bytes=900, setup_s=0.1, start_s=0.03)
    r = b.requests()
    # set-up 100 + MPD (80 + 16000 / 8000 = 82) + init (80 + 7200 / 8000 = 80.9) = 262.9 ms to the
    # first request; segment 0 at the initial bitrate's rung: 1000 kbit/s -> rung 1 (750 kbit/s,
    # 1.5 Mbit: 80 + 187.5 ms); playback 30 ms after it is appended
    assert r["rung"].iloc[0] == 1
    assert r["request_s"].iloc[0] == pytest.approx(0.2629)
    assert r["delay_s"].iloc[0] == pytest.approx(0.08 + 0.1875)
    assert b.sessions()["startup_s"].iloc[0] == pytest.approx(0.2629 + 0.2675 + 0.03)
    low = _run(Trace.constant(8e6), video, "fixed", initial_kbps=0.0)
    assert low.requests()["rung"].iloc[0] == 0


def test_buffer_target_and_schedule_timer():
    # a fast link and a fixed low rung: requests stop once buffer + segment reaches 18 s and
    # the schedule timer then checks every 0.5 s
    video = Video.constant_bitrate(LADDER, 2.0, 40)
    b = _run(Trace.constant(50e6), video, "fixed:rung=0", initial_kbps=0.0, append_s=0.0)
    r = b.requests()
    assert r["buffer_s"].max() <= 18.0 + 1e-9
    late = r[r["request_s"] > 20.0]
    waits = late["wait_s"].to_numpy()
    assert np.allclose(np.round(waits / 0.5) * 0.5, waits) and (waits >= 0.5).all()
    # at the top rung the target is 30 s
    top = _run(Trace.constant(50e6), video, "fixed:rung=4", initial_kbps=1e9, append_s=0.0).requests()
    assert 28.0 <= top["buffer_s"].max() <= 30.0 + 1e-9
    # long-form content (>= 600 s): 60 s
    long_video = Video.constant_bitrate(LADDER, 2.0, 320)
    longer = _run(Trace.constant(50e6), long_video, "fixed:rung=4", initial_kbps=1e9, append_s=0.0).requests()
    assert 58.0 <= longer["buffer_s"].max() <= 60.0 + 1e-9


def test_payload_efficiency():
    video = Video.constant_bitrate(LADDER, 2.0, 3)
    r = _run(Trace.constant(8e6), video, "fixed", payload_efficiency=0.5).requests()
    assert r["delay_s"].iloc[0] == pytest.approx(0.08 + 2 * 0.1875)
    assert EVENT_PROFILES["dashjs"].payload_efficiency == 0.97
    with pytest.raises(ParameterError, match="payload_efficiency"):
        _profile(payload_efficiency=1.5)


def test_a_rung_change_costs_an_init_request():
    video = Video.constant_bitrate(LADDER, 2.0, 6)
    r = _run(Trace.constant(8e6), video, "fixed:rung=3", append_s=0.0, switch_s=0.04, init_bytes=900,
             fast_switch=False).requests()
    # segment 0 at rung 1 (initial), then rung 3: switch 40 ms + init (80 + 7200 / 8000 ms)
    assert list(r["rung"]) == [1, 3, 3, 3, 3, 3]
    assert r["wait_s"].iloc[1] == pytest.approx(0.04 + 0.08 + 0.0009)
    assert r["wait_s"].iloc[2] == pytest.approx(0.0)
    # with fast switching the switch up first replaces segment 0, which the playhead is in
    fast = _run(Trace.constant(8e6), video, "fixed:rung=3", append_s=0.0).requests()
    assert list(fast["segment"]) == [0, 0, 1, 2, 3, 4, 5] and list(fast["replacement"])[:3] == [False, True, False]


def test_fast_switching_replaces_from_the_playhead():
    # slow then fast: the rate rule goes up and the buffered low segments are fetched again
    trace = Trace.from_durations([12.0, 200.0], [1.2e6, 20e6])
    video = Video.constant_bitrate(LADDER, 2.0, 30)
    b = _run(trace, video, "rate")
    r = b.requests()
    assert r["replacement"].any()
    first = r[r["replacement"]].iloc[0]
    before = r[r["request_s"] < first["request_s"]]
    assert first["segment"] < before["segment"].max() + 1  # a buffered segment
    assert first["rung"] > before[before["segment"] == first["segment"]]["rung"].iloc[-1]
    # replacements go on in order from there
    after = r[r["request_s"] >= first["request_s"]]["segment"].to_numpy()
    assert after[1] == after[0] + 1
    none = _run(trace, video, "rate", fast_switch=False).requests()
    assert not none["replacement"].any() and len(none) == 30
    # the segment's rung is its last completed download's
    played = b.segments()
    last = r[r["abandoned_to"].isna()].groupby("segment")["rung"].last()
    assert (played["rung"].to_numpy() == last.to_numpy()).all()


def test_an_append_over_the_playhead_stalls_by_hand():
    # segment 0 at rung 1 starts playing; the switch up replaces it at rung 3 while it plays: with
    # overlap_stall_s = 2 s and the playhead at p s into it (2 - p s ahead), it stands for p s
    video = Video.constant_bitrate(LADDER, 2.0, 4)
    b = _run(Trace.constant(8e6), video, "fixed:rung=3", append_s=0.0, overlap_stall_s=2.0)
    r = b.requests()
    assert list(r["segment"][:2]) == [0, 0] and r["replacement"].iloc[1]
    landed = r["request_s"].iloc[1] + r["delay_s"].iloc[1]
    p = landed - b.sessions()["startup_s"].iloc[0]
    assert 0 < p < 2
    assert b.segments()["stall_s"].iloc[0] == pytest.approx(p)
    assert _run(Trace.constant(8e6), video, "fixed:rung=3", append_s=0.0, overlap_stall_s=0.0).segments()["stall_s"].sum() == 0


def test_abandonment_by_hand():
    # 1 s at 20 Mbit/s, then 200 kbit/s: the 2850 kbit/s segment requested in the first second
    # cannot finish in 1.8 x 2 s; it is cut and asked again at the rung the measured rate allows
    trace = Trace.from_durations([3.5, 300.0], [20e6, 0.4e6])
    video = Video.constant_bitrate(LADDER, 2.0, 10)
    b = _run(trace, video, "fixed:rung=4", initial_kbps=1e9)
    r = b.requests()
    cut = r[r["abandoned_to"].notna()]
    assert len(cut) >= 1
    row = cut.iloc[0]
    assert row["abandoned_to"] == 0  # 400 kbit/s measured: only the 300 kbit/s rung fits
    nxt = r.iloc[int(row["request"]) + 1]
    assert nxt["segment"] == row["segment"] and nxt["rung"] == 0
    assert row["downloaded_bytes"] < row["size_bytes"]
    assert not _run(trace, video, "fixed:rung=4", initial_kbps=1e9, abandon=False).requests()["abandoned_to"].notna().any()


def test_the_dashjs_controller_under_the_profile():
    p = _profile()
    c = p.controller_for(get_controller("dashjs"))
    assert isinstance(c, DashJs5) and (c.switch_s, c.buffer_time_s) == (12.0, 18.0)
    assert p.replace(hybrid_switch_s=10.0).controller_for(get_controller("dashjs")).switch_s == 10.0
    sabre = p.replace(dashjs_rules="sabre")
    c = sabre.controller_for(get_controller("dashjs"))
    assert isinstance(c, DashJsDynamic) and (c.low_s, c.high_s) == (6.0, 12.0)
    assert sabre.replace(hybrid_switch_s=None).controller_for(get_controller("dashjs")).high_s == 18.0
    assert p.controller_for(get_controller("dashjs4")).high_s == 12.0  # dashjs4 stays Sabre-based
    with pytest.raises(ParameterError, match="dashjs_rules"):
        p.replace(dashjs_rules="shaka")


def test_a_link_without_bandwidth():
    video = Video.constant_bitrate(LADDER, 2.0, 5)
    dead = Trace.from_durations([1.0, 1000.0], [8e6, 0.0])
    s = _run(dead, video, "fixed", max_download_s=5.0).sessions()
    assert s["status"].iloc[0] == "stalled"


@pytest.mark.parametrize("name", sorted(CONTROLLERS))
def test_every_controller_runs_under_the_profile(name):
    ladder = [300.0, 750.0, 1200.0, 1850.0, 2850.0, 4300.0]  # Pensieve's networks need 6 rungs
    video = _video(20, ladder)
    trace = Trace.from_durations([5.0, 5.0, 5.0, 5.0], [1e6, 4e6, 0.5e6, 3e6])
    s = run_event_batch(trace, video, [name], _profile()).sessions()
    assert s["status"].iloc[0] == "complete" and s["chunks"].iloc[0] == 20
    assert np.isfinite(s["startup_s"].iloc[0])


def _compare_with_reference(trace, video, controller, profile):
    from abrkit.dashjs import dashjs_session

    c = _event_controller(controller)
    contract = profile.contract(c, 1000)
    tr = profile.kernel_trace(trace)
    arrays = video_arrays(video)
    cfg = profile.player_config(video)
    si = (np.ascontiguousarray(video.bitrates_bps), np.ascontiguousarray(video.sizes_bytes))
    _, log, played, status, startup = dashjs_session(tr, arrays, cfg, contract, si)
    seg_ms, bitrates, sizes = arrays
    reqs, rstatus, rstartup, rplayed = reference_play(
        tr, seg_ms, bitrates, sizes, cfg, contract.kind, contract.cparams.copy(), contract.pid, contract.pparams.copy(),
        contract.n_state, contract.prof, si[0], si[1], contract.cdata)
    assert {0: "complete", 1: "stalled"}[status] == rstatus
    assert len(reqs) == len(log)
    for row, ref in zip(log, reqs):
        assert row[0] == ref["segment"] and row[1] == ref["rung"]
        assert row[3] == pytest.approx(ref["got_bits"], rel=1e-9)
        assert row[4] == pytest.approx(ref["time_ms"], rel=1e-9, abs=1e-9)
        assert row[8] == pytest.approx(ref["request_ms"], rel=1e-9)
        assert (math.isnan(row[6]) and ref["abandon_to"] is None) or row[6] == ref["abandon_to"]
        assert bool(row[7]) == ref["replacement"]
    assert played.shape[0] == len(rplayed)
    for (q, s), (rq, rs) in zip(played, rplayed):
        assert q == rq and s == pytest.approx(rs, abs=1e-9)
    assert (math.isnan(startup) and math.isnan(rstartup)) or startup == pytest.approx(rstartup, rel=1e-12)


@pytest.mark.parametrize("controller", ["dashjs", "dashjs5:switch_s=4", "dynamicdash", "rate", "bola", "robustmpc", "fixed:rung=4", "bb"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_matches_reference(controller, seed):
    rng = np.random.default_rng(seed)
    n = 40
    trace = Trace.from_durations(rng.uniform(0.5, 6.0, n), rng.choice([0.0, 0.2e6, 0.8e6, 2e6, 5e6], n, p=[0.05, 0.15, 0.3, 0.3, 0.2]))
    video = _video(25, seed=seed)
    _compare_with_reference(trace, video, controller, _profile())
    _compare_with_reference(trace, video, controller, _profile(fast_switch_margin_s=3.0, abandon_min_events=2,
                                                               overlap_stall_s=1.5))


# -- dashjs5, dash.js 5.2.1's rule collection, against its plain-Python reference ------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("spec", ["dashjs5", "dashjs5:switch_s=4,history_size=4", "dashjs5:bola=false",
                                  "dashjs5:throughput=false,ibr=false"])
def test_dashjs5_matches_reference(spec, seed):
    from abrkit._kernels import contract
    from abrkit._kernels.layout import CTRL_STATE
    from reference_dashjs_rules import DashJs5Rules

    c = get_controller(spec)
    kind, cparams = c.pack()
    rng = np.random.default_rng(seed)
    bitrates = np.array(sorted(rng.choice([300e3, 750e3, 1200e3, 1850e3, 2850e3, 4300e3, 6000e3], 5, replace=False)))
    ref = DashJs5Rules(bitrates, **{k: getattr(c, k) for k in ("safety", "switch_s", "ibr_safety", "ibr_ignore",
                                                              "history_size", "history_threshold", "buffer_time_s",
                                                              "stall_s", "bola", "throughput", "ibr", "history")})
    cstate = np.zeros(CTRL_STATE + 3 * bitrates.size)
    sizes = np.ones((300, bitrates.size))
    contract.start(kind, cparams, cstate, np.zeros(0, dtype=np.float32), bitrates, 2.0)
    prev = -1
    for k in range(300):
        buffer_s = float(rng.choice([0.0, 0.2, rng.uniform(0, 30)]))
        avg = np.nan if k < 2 else float(rng.uniform(0.2e6, 8e6))
        q, wait_s = contract.choose(kind, cparams, cstate, np.zeros(0, dtype=np.float32), k, 300, buffer_s, prev, bitrates,
                                    sizes, np.full(len(sizes), 2.0), avg, np.nan, 0.08, np.zeros(14))
        rq, rwait = ref.choose(k, buffer_s, prev, 2.0, avg)
        assert (q, k) == (rq, k)
        assert wait_s == pytest.approx(rwait, abs=1e-12)
        if ref.bola_rule is not None and ref.bola_rule.state != "one":
            assert cstate[2] == pytest.approx(ref.bola_rule.placeholder, abs=1e-12)
        prev = q
        dl = float(rng.uniform(0.1, 3.0))
        after = max(buffer_s - dl, 0.0) + 2.0
        seg = k if rng.random() < 0.7 else int(rng.integers(0, k + 1))  # replacements too
        contract.report(kind, cparams, cstate, seg, q, 1e5, dl, after, bitrates, 2.0)
        ref.report(seg, q, dl, after, 2.0)
        if rng.random() < 0.3:
            contract.full_wait(kind, cparams, cstate, 0.5)
            ref.idle(0.5)


def test_dashjs5_by_hand():
    from abrkit._kernels import contract
    from abrkit._kernels.layout import CTRL_STATE

    c = get_controller("dashjs5")
    kind, cparams = c.pack()
    bitrates = np.array([335e3, 789e3, 1271e3, 2057e3, 3423e3])  # the emulation stream's ladder
    empty = np.zeros(0, dtype=np.float32)

    def fresh():
        cs = np.zeros(CTRL_STATE + 3 * 5)
        contract.start(kind, cparams, cs, empty, bitrates, 2.0)
        return cs

    def ask(cs, k, buffer_s, prev, avg):
        return contract.choose(kind, cparams, cs, empty, k, 60, buffer_s, prev, bitrates, np.ones((60, 5)), np.full(60, 2.0), avg,
                               np.nan, 0.08, np.zeros(14))[0]

    cs = fresh()
    # throughput rule: 0.9 x 3 Mbit/s = 2.7 Mbit/s -> 2057 kbit/s; the IBR ignores the first 2 segments
    assert ask(cs, 1, 1.0, 1, 3e6) == 3
    for _ in range(2):
        contract.report(kind, cparams, cs, 1, 3, 1e5, 1.0, 2.0, bitrates, 2.0)
    # now the IBR caps at 0.7 x 3 Mbit/s x 1 s / 2 s = 1.05 Mbit/s -> 789 kbit/s
    assert ask(cs, 2, 1.0, 3, 3e6) == 1
    # an empty buffer (<= 0.3 s): the lowest rung
    assert ask(cs, 3, 0.3, 1, 3e6) == 0
    # BOLA from 12 s: utilities 1 + ln(b / b0), buffer time max(18, 10 + 2 x 5) = 20 s,
    # gp = (u4 - 1) / (20 / 10 - 1), V = 10 / gp; its first decision (startup) is the throughput rung
    cs = fresh()
    assert ask(cs, 1, 12.0, 3, 3e6) == 3
    u = 1 + np.log(bitrates / bitrates[0])
    gp = u[4] - 1
    vp = 10 / gp
    assert cs[3] == pytest.approx(vp) and cs[4] == pytest.approx(gp)


# -- properties ---------------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bws=st.lists(st.sampled_from([0.0, 0.15e6, 0.5e6, 1.5e6, 4e6, 12e6]), min_size=1, max_size=12),
    durations=st.lists(st.floats(0.3, 10.0), min_size=12, max_size=12),
    controller=st.sampled_from(["dashjs", "rate", "bola", "fixed:rung=4", "bb", "robustmpc"]),
    n=st.integers(2, 25),
    fast=st.booleans(),
)
def test_sessions_keep_their_invariants(bws, durations, controller, n, fast):
    if not any(bws):
        bws = bws + [1e6]
    trace = Trace.from_durations(durations[: len(bws)] + [1.0] * max(0, len(bws) - 12), bws)
    video = Video.constant_bitrate(LADDER, 2.0, n)
    b = run_event_batch(trace, video, [controller], _profile(fast_switch=fast, max_download_s=120.0))
    s = b.sessions().iloc[0]
    r = b.requests()
    played = b.segments()
    # the buffer never exceeds the top-rung target, stalls are never negative
    assert (r["buffer_s"] <= 30.0 + 1e-9).all() and (played["stall_s"] >= 0).all()
    # a complete session played every segment, each at the rung of its last completed download
    if s["status"] == "complete":
        assert s["chunks"] == n and np.isfinite(s["startup_s"])
        done = r[r["abandoned_to"].isna()]
        assert (done.groupby("segment")["rung"].last().to_numpy() == played["rung"].to_numpy()).all()
        # every byte played was downloaded; replacements and abandonments only add bytes
        assert r["downloaded_bytes"].sum() >= video.sizes_bytes[np.arange(n), played["rung"].to_numpy()].sum() - 1e-6
    # requests go out in time order, and replacement only where fast switching is on
    assert (np.diff(r["request_s"].to_numpy()) > 0).all()
    assert fast or not r["replacement"].any()
