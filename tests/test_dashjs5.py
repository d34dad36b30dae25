"""dash.js 5's BOLA in Sabre's BOLA-E (``dashjs``) and the earlier preset (``dashjs4``).

dash.js 5 (``src/streaming/rules/abr/BolaRule.js`` @ccf3b95d) scores rung i by
``(Vp (u_i - 1 + gp) - buffer) / b_i`` (:313) with ties to the higher rung (``>=``, :314), where
dash.js 4 and Sabre use ``Vp (u_i + gp)``; gp and Vp come from ``bufferTimeDefault`` = 18 s
(:221, 257, 264-265). The max level (:329-331) and min level (:418-436) keep the 4.x form.

* The switch points, computed by hand for a three-rung ladder, sit exactly Vp lower in 5.x.
* Ties go up with ``ties_up``, to the lower rung without it (Sabre).
* The pause, the startup placeholder and the minimum level keep Vp (u + gp).
* ``dashjs4`` is the old ``dashjs`` bit for bit: results pinned from the code before dash.js 5
  was modelled (commit 917dafd), and the same logs as ``dynamicdash`` with the 9 s / 18 s
  thresholds on Sabre's real traces.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import abrkit
from abrkit import CONTROLLERS, Trace, Video, get_controller, load_traces, read_video
from abrkit._kernels import event_layout as E
from abrkit._kernels import sabre_rules as K
from abrkit.errors import ParameterError
from abrkit.event_controllers import BolaE, DashJs4Dynamic, DashJsDynamic, DynamicDash

LADDER = np.array([1000.0, 2500.0, 5000.0])  # kbit/s
SEG_MS = 2000.0

# -- hand-computed numbers for LADDER (three rungs; dash.js's buffer time max(18, 10 + 2 x 3) = 18 s) --
# u = 1 + ln(b / 1000) = 1, 1 + ln 2.5 = 1.9162907318741551, 1 + ln 5 = 2.6094379124341003
# gp = (u_2 - 1) / (18 / 10 - 1) = ln 5 / 0.8 = 2.0117973905426254
# Vp = 10 s / gp = 4.970679476476891 s
# 4.x switch from rung a to b: Vp (gp + (b_b u_a - b_a u_b) / (b_b - b_a))
#   0 -> 1: Vp (gp + (2500 - 1000 x 1.9162907) / 1500) = Vp x 2.4009370 = 11.934287786 s
#   1 -> 2: Vp (gp + (5000 x 1.9162907 - 2500 x 2.6094379) / 2500) = Vp x 3.2349403 = 16.079854547 s
# 5.x: the same minus Vp: 6.963608310 s and 11.109175071 s.
GP = math.log(5.0) / 0.8
VP_MS = 10_000.0 / GP
SWITCH4_MS = (11_934.287786201652, 16_079.854547302604)
SWITCH5_MS = (6_963.608309724761, 11_109.175070825713)


def _utilities1(bitrates: np.ndarray) -> np.ndarray:
    """BOLA-E's utilities as the event kernel computes them (``1 + ln(b / b_0)``)."""
    return np.log(bitrates) + (1 - math.log(bitrates[0]))


def _state(spec, bitrates: np.ndarray = LADDER, buffer_cap_s: float = 25.0) -> tuple[np.ndarray, np.ndarray]:
    """(state, config) after the controller's set-up, as the players make it."""
    _, cfg = spec.pack_for(buffer_cap_s)
    stv = np.zeros(E.S_SIZE)
    u1 = _utilities1(bitrates)
    K.init_controller(stv, cfg, SEG_MS, bitrates, u1 - 1, u1)
    return stv, cfg


def _switch_point(q: int, vp: float, gp: float, shift: float, ties_up: float) -> float:
    """Lowest buffer (ms) at which the kernel's choice reaches rung ``q``, by bisection."""
    u = _utilities1(LADDER)
    lo, hi = 0.0, 60_000.0
    assert K.bola_quality_from_buffer(lo, vp, gp, u, LADDER, shift, ties_up) < q
    assert K.bola_quality_from_buffer(hi, vp, gp, u, LADDER, shift, ties_up) >= q
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if K.bola_quality_from_buffer(mid, vp, gp, u, LADDER, shift, ties_up) >= q:
            hi = mid
        else:
            lo = mid
    return hi


# -- presets -----------------------------------------------------------------------------------------


def test_presets_are_registered_under_their_own_names():
    assert isinstance(get_controller("dashjs"), DashJsDynamic) and get_controller("dashjs") == DashJsDynamic()
    assert type(get_controller("dashjs4")) is DashJs4Dynamic
    assert CONTROLLERS["dashjs"] is DashJsDynamic and CONTROLLERS["dashjs4"] is DashJs4Dynamic
    assert DashJsDynamic().name == "dashjs" and DashJs4Dynamic().name == "dashjs4"
    assert get_controller("dashjs4:ties_up=true").name == "dashjs4(ties_up=True)"
    assert abrkit.controllers.CONTROLLERS is CONTROLLERS


@pytest.mark.parametrize(
    "spec, shift, ties, buffer_time_ms, osc, abandon",
    [
        ("dashjs", -1.0, 1.0, 18_000.0, 1.0, 0.0),
        ("dashjs4", 0.0, 0.0, 0.0, 0.0, 1.0),
        ("bolae", 0.0, 0.0, 0.0, 0.0, 1.0),
        ("dynamicdash", 0.0, 0.0, 0.0, 0.0, 1.0),
        ("bolae:score_shift=-1,ties_up=true,buffer_time_s=18", -1.0, 1.0, 18_000.0, 0.0, 1.0),
        ("dynamicdash:score_shift=-1,ties_up=true,buffer_time_s=18,osc=true", -1.0, 1.0, 18_000.0, 1.0, 1.0),
    ],
)
def test_presets_pack_their_config(spec, shift, ties, buffer_time_ms, osc, abandon):
    _, cfg = get_controller(spec).pack_for(25.0)
    assert cfg[E.C_BOLA_SCORE_SHIFT] == shift
    assert cfg[E.C_BOLA_TIES_UP] == ties
    assert cfg[E.C_BOLAE_BUFFER_TIME_MS] == buffer_time_ms
    assert cfg[E.C_OSC] == osc
    assert cfg[E.C_ABANDON] == abandon
    assert cfg[E.C_BOLAE_MIN_BUFFER_MS] == 10_000.0 and cfg[E.C_BOLAE_MIN_BUFFER_PER_LEVEL_MS] == 2_000.0


def test_dashjs_does_not_abandon_by_sabres_bolae_rule():
    # dash.js 5 has no BOLA abandonment; Sabre's, scored V (u + gp), fights the 5.x choice
    traces, video = _sessions()
    s = abrkit.run_batch(traces, video, ["dashjs"], "sabre", n_workers=1).sessions()
    assert (s["abandoned"] == 0).all() and (s["requests"] == s["chunks"]).all()


def test_dashjs_keeps_the_dynamic_thresholds():
    for c in (DashJsDynamic(), DashJs4Dynamic()):
        assert (c.low_s, c.high_s, c.inclusive) == (9.0, 18.0, True)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: BolaE(score_shift=float("nan")), "score_shift"),
        (lambda: BolaE(score_shift="-1"), "score_shift"),
        (lambda: DynamicDash(buffer_time_s=-1.0), "buffer_time_s"),
        (lambda: DashJsDynamic(ties_up="yes"), "ties_up"),
        (lambda: get_controller("dashjs4:buffer_time_s=-3"), "buffer_time_s"),
    ],
)
def test_bad_parameters_name_themselves(make, name):
    with pytest.raises(ParameterError, match=name):
        make()


# -- gp and Vp ------------------------------------------------------------------------------------------


def test_gp_and_vp_come_from_the_18_s_buffer_time_whatever_the_player_buffer():
    for cap in (10.0, 25.0, 60.0):
        stv, _ = _state(DashJsDynamic(), buffer_cap_s=cap)
        assert stv[E.S_BOLAE_GP] == pytest.approx(2.0117973905426254, rel=1e-14)
        assert stv[E.S_BOLAE_VP] == pytest.approx(4970.679476476891, rel=1e-14)
    # dashjs4 (Sabre): the player's buffer, 25 s -> gp = ln 5 / 1.5
    stv, _ = _state(DashJs4Dynamic(), buffer_cap_s=25.0)
    assert stv[E.S_BOLAE_GP] == pytest.approx(math.log(5.0) / 1.5, rel=1e-14)
    assert stv[E.S_BOLAE_VP] == pytest.approx(10_000.0 / (math.log(5.0) / 1.5), rel=1e-14)


def test_buffer_time_never_goes_below_10_s_plus_2_s_per_rung():
    ladder = np.array([300.0, 750.0, 1500.0, 3000.0, 6000.0])  # 10 + 2 x 5 = 20 s > 18 s
    stv, _ = _state(DashJsDynamic(), bitrates=ladder)
    assert stv[E.S_BOLAE_GP] == pytest.approx(math.log(20.0) / (20.0 / 10.0 - 1.0), rel=1e-14)


# -- the 5.x switch points ------------------------------------------------------------------------------


def test_switch_points_by_hand_and_vp_apart():
    u = _utilities1(LADDER)
    for q in (1, 2):
        # the hand-computed pair crossings of the 4.x form are bolae_min_buffer's
        assert K.bolae_min_buffer(q, VP_MS, GP, u, LADDER) == pytest.approx(SWITCH4_MS[q - 1], rel=1e-12)
        four = _switch_point(q, VP_MS, GP, 0.0, 0.0)
        five = _switch_point(q, VP_MS, GP, -1.0, 1.0)
        assert four == pytest.approx(SWITCH4_MS[q - 1], abs=1e-6)
        assert five == pytest.approx(SWITCH5_MS[q - 1], abs=1e-6)
        assert four - five == pytest.approx(VP_MS, rel=1e-9)


@pytest.mark.parametrize(
    "spec, switches", [(DashJsDynamic(), SWITCH5_MS), (DashJs4Dynamic(buffer_time_s=18.0), SWITCH4_MS)]
)
def test_bolae_decide_switches_where_the_preset_says(spec, switches):
    # steady state, no placeholder, a link far above the top rung: the buffer rule alone decides
    for q, level in ((1, switches[0]), (2, switches[1])):
        for eps, want in ((-1e-3, q - 1), (1e-3, q)):
            stv, cfg = _state(spec)
            stv[E.S_BOLAE_STEADY] = 1.0
            stv[E.S_BOLAE_LAST] = 2
            stv[E.S_BOLAE_IBR_SAFETY] = 0.9
            stv[E.S_THROUGHPUT] = 1e6
            stv[E.S_LATENCY] = 0.0
            quality, delay = K.bolae_decide(stv, cfg, level + eps, SEG_MS, LADDER, _utilities1(LADDER))
            assert quality == want and delay == 0.0


# -- ties --------------------------------------------------------------------------------------------


def test_ties_go_up_only_with_ties_up():
    # b = 1000, 2000; u = 1, 2; gp = 1; Vp = 1000 ms: every score below is exact
    bitrates, u = np.array([1000.0, 2000.0]), np.array([1.0, 2.0])
    # 4.x scores (2000 - L) / 1000 and (3000 - L) / 2000 tie at L = 1000 ms (both 1.0)
    assert K.bola_quality_from_buffer(1000.0, 1000.0, 1.0, u, bitrates, 0.0, 0.0) == 0
    assert K.bola_quality_from_buffer(1000.0, 1000.0, 1.0, u, bitrates, 0.0, 1.0) == 1
    # 5.x scores (1000 - L) / 1000 and (2000 - L) / 2000 tie at L = 0 (both 1.0)
    assert K.bola_quality_from_buffer(0.0, 1000.0, 1.0, u, bitrates, -1.0, 0.0) == 0
    assert K.bola_quality_from_buffer(0.0, 1000.0, 1.0, u, bitrates, -1.0, 1.0) == 1
    # off the tie, the flag changes nothing
    assert K.bola_quality_from_buffer(999.0, 1000.0, 1.0, u, bitrates, 0.0, 1.0) == 0
    assert K.bola_quality_from_buffer(1.0, 1000.0, 1.0, u, bitrates, -1.0, 1.0) == 1


@pytest.mark.parametrize("spec, gp, want", [
    ("dashjs", 2.0, 1), ("dashjs:ties_up=false", 2.0, 0), ("dashjs4", 1.0, 0), ("dashjs4:ties_up=true", 1.0, 1),
])
def test_the_tie_flag_reaches_bolae_decide(spec, gp, want):
    # at 1 s of buffer, Vp = 1000 ms: 5.x with gp = 2 and 4.x with gp = 1 both score 1.0 and 1.0
    bitrates, level = np.array([1000.0, 2000.0]), 1000.0
    stv, cfg = _state(get_controller(spec), bitrates=bitrates)
    stv[E.S_BOLAE_VP], stv[E.S_BOLAE_GP] = 1000.0, gp
    stv[E.S_BOLAE_STEADY], stv[E.S_BOLAE_LAST], stv[E.S_BOLAE_IBR_SAFETY] = 1.0, 1, 0.9
    stv[E.S_THROUGHPUT], stv[E.S_LATENCY] = 1e6, 0.0
    quality, _ = K.bolae_decide(stv, cfg, level, SEG_MS, bitrates, np.array([1.0, 2.0]))
    assert quality == want


# -- what dash.js 5 did not change ----------------------------------------------------------------------


def test_the_pause_keeps_the_4x_max_level():
    # BOLA-O holds rung 0 (throughput rung 0, last rung 0) at 20 s of buffer; the pause is
    # buffer - Vp (u_0 + gp) = 20000 - (Vp + 10000) = 5029.32 ms (the 5.x form would give 10000 ms)
    stv, cfg = _state(DashJsDynamic())
    stv[E.S_BOLAE_STEADY], stv[E.S_BOLAE_LAST], stv[E.S_BOLAE_IBR_SAFETY] = 1.0, 0, 0.9
    stv[E.S_THROUGHPUT], stv[E.S_LATENCY] = 2000.0, 0.0
    quality, delay = K.bolae_decide(stv, cfg, 20_000.0, SEG_MS, LADDER, _utilities1(LADDER))
    assert quality == 0
    assert delay == pytest.approx(20_000.0 - 10_000.0 - 4970.679476476891, rel=1e-12)
    assert stv[E.S_BOLAE_PLACEHOLDER] == 0.0


def test_the_startup_placeholder_keeps_the_4x_min_level():
    # first estimate 3000 kbit/s -> throughput rung 1; placeholder = min level of rung 1 - buffer
    for spec in (DashJsDynamic(), DashJs4Dynamic(buffer_time_s=18.0)):
        stv, cfg = _state(spec)
        stv[E.S_THROUGHPUT], stv[E.S_LATENCY] = 3000.0, 0.0
        quality, delay = K.bolae_decide(stv, cfg, 1000.0, SEG_MS, LADDER, _utilities1(LADDER))
        assert (quality, delay) == (1, 0.0)
        assert stv[E.S_BOLAE_PLACEHOLDER] == pytest.approx(SWITCH4_MS[0] - 1000.0, rel=1e-12)


def test_the_report_caps_the_placeholder_at_the_4x_max_level():
    # a completed download of rung 1 that took 1 s, ending at 5 s of buffer: the placeholder is
    # capped at Vp (u_1 + gp) - 6 s, whatever the score shift
    for spec in (DashJsDynamic(), DashJs4Dynamic(buffer_time_s=18.0)):
        stv, cfg = _state(spec)
        stv[E.S_BOLAE_PLACEHOLDER] = 60_000.0
        K.bolae_report(stv, cfg, 1, 1000.0, K.NO_ABANDON, False, 5000.0, SEG_MS, LADDER, _utilities1(LADDER))
        u1 = 1 + math.log(2.5)
        assert stv[E.S_BOLAE_PLACEHOLDER] == pytest.approx(VP_MS * (u1 + GP) - 6000.0, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    rates=st.lists(st.floats(100, 50_000), min_size=2, max_size=8, unique=True),
    vp=st.floats(100, 20_000),
    gp=st.floats(0.1, 20),
    levels=st.lists(st.floats(0, 60_000), min_size=2, max_size=20),
)
def test_dashjs5_choice_never_falls_as_the_buffer_grows(rates, vp, gp, levels):
    bitrates = np.sort(np.array(rates))
    u = _utilities1(bitrates)
    picks = [K.bola_quality_from_buffer(level, vp, gp, u, bitrates, -1.0, 1.0) for level in sorted(levels)]
    assert all(a <= b for a, b in zip(picks, picks[1:]))
    # and it is the 4.x choice at a buffer Vp larger, up to rounding at the switch points
    for level, pick in zip(sorted(levels), picks):
        lo = K.bola_quality_from_buffer(level + vp * (1 - 1e-9), vp, gp, u, bitrates, 0.0, 1.0)
        hi = K.bola_quality_from_buffer(level + vp * (1 + 1e-9), vp, gp, u, bitrates, 0.0, 1.0)
        assert lo <= pick <= hi


# -- whole sessions ------------------------------------------------------------------------------------


def _trace(kbps, name: str) -> Trace:
    n = len(kbps)
    return Trace.from_durations(np.full(n, 1.0), np.asarray(kbps, float) * 1e3, latency_s=np.full(n, 0.05), name=name)


def _sessions() -> tuple[list[Trace], Video]:
    rng = np.random.default_rng(11)
    traces = [
        _trace([3000.0] * 60, "flat3000"), _trace([800.0] * 60, "flat800"),
        _trace([8000.0] * 30 + [400.0] * 30, "drop"),
        _trace(rng.uniform(200, 8000, 90), "rand1"), _trace(rng.uniform(500, 4000, 90), "rand2"),
    ]
    return traces, Video.synthetic_vbr((300, 750, 1500, 3000, 6000), 2.0, 60, seed=3, name="vbr")


#: ``dashjs`` as it was before dash.js 5 was modelled (commit 917dafd, run there): rungs played per
#: chunk, QoE and rebuffering (s) per session.
OLD_DASHJS = {
    ("sabre", "flat3000"): ("022222222222222333333333333223232332333333343433333333233333", 123.6, 0.0),
    ("sabre", "flat800"): ("000000000000122221211111111101101111011111121211111111111111", 34.349999999999994, 0.0),
    ("sabre", "drop"): ("044444444444444444444444400000000000111223344444444444444211", 223.5, 0.0),
    ("sabre", "rand1"): ("011122222222223333434433333333233333333343334343333333333333", 136.35, 0.0),
    ("sabre", "rand2"): ("011122222222222333322232122222222223223333323333222232323333", 92.1, 0.0),
    ("default", "flat3000"): ("022222222222222222222222223223223323233333333333333333333333", 116.1, 0.0),
    ("default", "flat800"): ("000000000000011111111111111111111111111111111111111111111111", 38.699999999999996, 0.0),
    ("default", "drop"): (
        "023333333344444444444444444400111112222233333333444444444444", 195.5688509775893, 6.739802098235046
    ),
    ("default", "rand1"): ("011112222222222222222323333333333333333333333333333333333333", 137.1, 0.0),
    ("default", "rand2"): ("011112222222222222222222222222222222222222333333222232322233", 89.1, 0.0),
}


def _played(batch) -> dict[str, tuple[str, float, float]]:
    ch, s = batch.chunks(), batch.sessions()
    out = {}
    for t in s["trace"]:
        row = s[s["trace"] == t].iloc[0]
        out[t] = ("".join(str(int(r)) for r in ch[ch["trace"] == t]["rung"]), row["qoe"], row["rebuffer_s"])
    return out


@pytest.mark.parametrize("profile", ["sabre", "default"])
def test_dashjs4_is_the_old_dashjs(profile):
    traces, video = _sessions()
    got = _played(abrkit.run_batch(traces, video, ["dashjs4"], profile, n_workers=1))
    for t, (rungs, qoe, rebuffer) in got.items():
        want = OLD_DASHJS[(profile, t)]
        assert rungs == want[0], t
        assert qoe == want[1] and rebuffer == want[2], t


@pytest.mark.parametrize("profile", ["sabre", "default"])
def test_dashjs_is_not_dashjs4(profile):
    traces, video = _sessions()
    five = _played(abrkit.run_batch(traces, video, ["dashjs"], profile, n_workers=1))
    four = _played(abrkit.run_batch(traces, video, ["dashjs4"], profile, n_workers=1))
    assert sum(five[t][0] != four[t][0] for t in five) >= 3
    # dash.js 5's own BOLA alone, on bolae, also changes the rungs
    a = _played(abrkit.run_batch(traces, video, ["bolae:score_shift=-1,ties_up=true,buffer_time_s=18"], profile,
                                 n_workers=1))
    b = _played(abrkit.run_batch(traces, video, ["bolae"], profile, n_workers=1))
    assert any(a[t][0] != b[t][0] for t in a)


@pytest.mark.shared
def test_dashjs4_logs_equal_sabre_dynamicdash_with_the_dashjs_thresholds(shared_data):
    video = read_video(shared_data / "videos" / "sabre" / "bbb4k.json")
    traces = load_traces(shared_data / "traces" / "sabre-4g")[:24]
    same = "dynamicdash:low_s=9,high_s=18,inclusive=true"
    a = abrkit.run_batch(traces, video, ["dashjs4"], "sabre", n_workers=1)
    b = abrkit.run_batch(traces, video, [same], "sabre", n_workers=1)
    c = abrkit.run_batch(traces, video, ["dashjs"], "sabre", n_workers=1)
    assert len(a.logs) == len(b.logs) == 24
    for x, y in zip(a.logs, b.logs):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.metrics, b.metrics)
    assert sum(x.shape != z.shape or not np.array_equal(x, z, equal_nan=True) for x, z in zip(a.logs, c.logs)) >= 12
