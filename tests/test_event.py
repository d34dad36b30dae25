"""The event model (Sabre's player): parity with sabre.py, properties, options, bad input.

* Every row of ``reference/sabre/sabre_4g_bbb4k.csv`` through the public API, with Sabre's flags
  mapped to controller parameters as ``abrkit.event_controllers`` documents: all 24 metrics equal
  to the printed 6 decimals.
* BOLA's buffer rule never picks a lower rung as the buffer grows; BOLA-E's placeholder and
  throughput guard aside, that is what makes it a buffer-based rule.
* The abandonment fix changes what is downloaded after an abandonment, and only then.
* Replacement re-downloads buffered segments at a higher quality.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abrkit import Trace, Video, get_controller, load_traces, read_video
from abrkit._kernels import event_layout as E
from abrkit._kernels import layout as L
from abrkit._kernels import sabre_rules as K
from abrkit.errors import ParameterError
from abrkit.event import EVENT_PROFILES, METRIC_NAMES, EventProfile, run_event_batch
from abrkit.event_controllers import Bola, BolaE, DashJsDynamic, DynamicDash

#: (Sabre -a, flags) -> abrkit controller spec; the mapping docs/controllers.md documents.
SABRE_FLAGS = {
    ("bola", ""): "bola",
    ("bola", "-noa"): "bola:abandon=false",
    ("bola", "-ao"): "bola:osc=true",
    ("bolae", ""): "bolae",
    ("bolae", "-noa"): "bolae:abandon=false",
    ("throughput", ""): "throughput",
    ("throughput", "-noa"): "throughput:abandon=false",
    ("throughput", "-ma sliding"): "throughput:predictor=sabre-window",
    ("dynamic", ""): "dynamic",
    ("dynamic", "-noa"): "dynamic:abandon=false",
    ("dynamicdash", ""): "dynamicdash",
    ("dynamicdash", "-noa"): "dynamicdash:abandon=false",
}


@pytest.fixture(scope="module")
def sabre_set(shared_data):
    video = read_video(shared_data / "videos" / "sabre" / "bbb4k.json")
    traces = load_traces(shared_data / "traces" / "sabre-4g")
    ref = pd.read_csv(shared_data / "reference" / "sabre" / "sabre_4g_bbb4k.csv", keep_default_na=False)
    return traces, video, ref


@pytest.mark.shared
def test_reference_rows_are_all_covered(sabre_set):
    _, _, ref = sabre_set
    assert set(zip(ref["abr"], ref["flags"])) == set(SABRE_FLAGS)
    assert len(ref) == 480


@pytest.mark.shared
@pytest.mark.parametrize("abr_flags", sorted(SABRE_FLAGS), ids=lambda k: f"{k[0]}{k[1] or ''}")
def test_sabre_profile_prints_sabres_numbers(sabre_set, abr_flags):
    traces, video, ref = sabre_set
    sessions = run_event_batch(traces, video, SABRE_FLAGS[abr_flags], "sabre", n_workers=2).sessions()
    assert (sessions["status"] == "complete").all()
    got = sessions.set_index("trace")
    want = ref[(ref["abr"] == abr_flags[0]) & (ref["flags"] == abr_flags[1])].set_index("trace")
    assert len(want) == 40 and set(want.index) == set(got.index)
    mismatches = [
        (trace, name, got.loc[trace, name], want.loc[trace, name])
        for trace in want.index
        for name in METRIC_NAMES
        if f"{got.loc[trace, name]:.6f}" != f"{float(want.loc[trace, name]):.6f}"
    ]
    assert not mismatches, mismatches[:10]


@pytest.mark.parametrize("multiplier, length_s", [(0.37, 900.0), (2.5, 251.0)])
def test_sabre_network_multiplier_and_movie_length(sabre_set, multiplier, length_s):
    """Sabre's -nm and -ml, as sabre.py applies them (kbit/s x multiplier; the segment list
    repeated to ceil(length / segment) segments), give the plain-Python Sabre's metrics exactly."""
    from sabre_model import run_sabre

    traces, video, _ = sabre_set
    seg_ms = video.chunk_s * 1e3
    base = (video.sizes_bytes * 8.0).tolist()
    n = int(np.ceil(length_s * 1000 / seg_ms))
    sabre_sizes = (base * int(np.ceil(n / len(base))))[:n]
    prof = EVENT_PROFILES["sabre"].replace(network_multiplier=multiplier)
    looped = video.looped(length_s)
    assert looped.n_chunks == n
    got = run_event_batch(traces[:6], looped, "bolae", prof).sessions()
    for j, trace in enumerate(traces[:6]):
        periods = [(d, k * multiplier, lat) for d, k, lat in EVENT_PROFILES["sabre"].kernel_trace(trace).tolist()]
        want = run_sabre(periods, seg_ms, video.bitrates_kbps.tolist(), sabre_sizes, "bolae")
        for name in METRIC_NAMES:
            assert got.loc[j, name] == pytest.approx(want[name], rel=0, abs=0), name


# -- small synthetic sessions -----------------------------------------------------------------------


def _video(n_chunks: int = 30, seed: int = 3) -> Video:
    return Video.synthetic_vbr((300, 750, 1500, 3000, 6000), 2.0, n_chunks, seed=seed, name="vbr")


def _trace(kbps: list[float], period_s: float = 1.0, latency_s: float = 0.05) -> Trace:
    n = len(kbps)
    return Trace.from_durations(np.full(n, period_s), np.array(kbps) * 1e3, latency_s=np.full(n, latency_s), name="t")


def test_results_do_not_depend_on_the_thread_count():
    rng = np.random.default_rng(5)
    traces = [_trace(list(rng.uniform(200, 8000, 40))) for _ in range(12)]
    video = _video(300)
    a = run_event_batch(traces, video, ["bolae", "dynamic"], "sabre", n_workers=1).sessions()
    b = run_event_batch(traces, video, ["bolae", "dynamic"], "sabre", n_workers=2).sessions()
    pd.testing.assert_frame_equal(a, b)


@settings(max_examples=200)
@given(
    # whole kbit/s: rungs 1e-14 apart tie in BOLA's score up to rounding (a real ladder never does)
    rates=st.lists(st.integers(100, 50_000).map(float), min_size=2, max_size=8, unique=True),
    vp=st.floats(100, 20_000),
    gp=st.floats(0.1, 20),
    levels=st.lists(st.floats(0, 60_000), min_size=2, max_size=20),
)
def test_bola_never_picks_a_lower_rung_as_the_buffer_grows(rates, vp, gp, levels):
    bitrates = np.sort(np.array(rates))
    utilities = np.log(bitrates / bitrates[0])
    picks = [K.bola_quality_from_buffer(level, vp, gp, utilities, bitrates, 0.0, 0.0) for level in sorted(levels)]
    assert all(a <= b for a, b in zip(picks, picks[1:]))


def test_bola_basic_follows_the_buffer_rule_on_a_fast_link():
    # BOLA-BASIC keeps V fixed; on a link far faster than the top rung the throughput guard never
    # binds, so each decision is the buffer rule's, and the rungs played rise with the buffer.
    video = Video.constant_bitrate((300, 750, 1500, 3000, 6000), 2.0, 40)
    batch = run_event_batch([_trace([500_000.0] * 5)], video, Bola(basic=True, abandon=False), "sabre")
    log = batch.requests()
    buf = log["buffer_s"].to_numpy()[:-1]
    rungs = log["rung"].to_numpy()[1:]
    order = np.argsort(buf, kind="stable")
    assert np.all(np.diff(rungs[order]) >= 0)


def _abandoning_trace() -> Trace:
    # fast, then a deep fade that makes a high-rung download hopeless, then fast again
    return _trace([20_000.0] * 8 + [150.0] * 6 + [20_000.0] * 30, period_s=1.0, latency_s=0.02)


def test_abandonment_fix_downloads_the_abandoned_to_quality():
    video = _video(40)
    sabre = run_event_batch(_abandoning_trace(), video, "throughput", "sabre").requests()
    fixed = run_event_batch(_abandoning_trace(), video, "throughput", "event").requests()
    assert sabre["abandoned_to"].notna().any(), "the trace must provoke an abandonment"
    assert fixed["abandoned_to"].notna().any()
    # with the fix, the request after each abandonment is for the same segment at the quality
    # the controller abandoned to
    for i in np.flatnonzero(fixed["abandoned_to"].notna().to_numpy()):
        nxt = fixed.iloc[i + 1]
        assert nxt["segment"] == fixed.iloc[i]["segment"]
        assert nxt["rung"] == int(fixed.iloc[i]["abandoned_to"])
    # under Sabre's defect the next request is decided afresh, not necessarily that quality
    assert not sabre.equals(fixed)


# A session on which Sabre loops forever (found by the random reference sessions): under the
# abandonment defect the abandoned request is asked again with an unchanged estimate and an
# empty buffer, and each attempt takes exactly one cycle of this looping trace (3255 ms).
LOOP_TRACE_MS_KBPS_MS = [[51, 21318, 20], [52, 22143, 20], [2500, 0, 0], [50, 7976, 200], [301, 6018, 80],
                         [301, 62493, 80]]
LOOP_SIZES_BITS = [
    [5173874, 7723764, 12865109, 15228863, 18704015], [8842821, 13200913, 21988138, 26028100, 31967584],
    [17386348, 25955031, 43232069, 51175256, 62853198], [7425849, 11085602, 18464764, 21857363, 26845106],
    [10388993, 15509100, 25832776, 30579127, 37557133], [5068382, 7566282, 12602798, 14918356, 18322652],
    [7803135, 11648829, 19402905, 22967872, 28209027], [9393670, 14023244, 23357855, 27649479, 33958955],
    [15329442, 22884400, 38117464, 45120926, 55417300], [8496482, 12683886, 21126950, 25008682, 30715541],
    [16435226, 24535158, 40867054, 48375708, 59414807], [13870107, 20705846, 34488750, 40825495, 50141672],
    [14013053, 20919242, 34844194, 41246245, 50658436], [17247075, 25747118, 42885758, 50765316, 62349712],
    [17989901, 26856039, 44732836, 52951764, 65035096],
]


def test_a_session_sabre_would_loop_on_forever_stops_as_stalled():
    from abrkit._kernels import event_layout as E
    from reference_event import run_event_session as model_session

    tr = np.array(LOOP_TRACE_MS_KBPS_MS, dtype=np.float64)
    trace = Trace.from_durations(tr[:, 0] / 1e3, tr[:, 1] * 1e3, latency_s=tr[:, 2] / 1e3, name="loop")
    video = Video(np.array([2863, 4274, 7119, 8427, 10350]) * 1e3, 4.0, np.array(LOOP_SIZES_BITS) / 8.0, name="v")
    controller = DynamicDash(ibr=False, gamma_p_s=10.0)
    sabre = EVENT_PROFILES["sabre"].replace(buffer_cap_s=8.0, replacement="left")
    batch = run_event_batch(trace, video, controller, sabre)
    row = batch.sessions().iloc[0]
    assert row["status"] == "stalled" and row["chunks"] == 13 < video.n_chunks
    log = batch.requests()
    futile = log["abandoned_to"].notna() | log["replacement"]
    # it stopped after exactly MAX_FUTILE_REQUESTS requests in a row that added no segment
    assert futile.iloc[-E.MAX_FUTILE_REQUESTS:].all() and not futile.iloc[-E.MAX_FUTILE_REQUESTS - 1]
    assert log["segment"].iloc[-1] == 13 and log["rung"].iloc[-3:].tolist() == [3, 3, 3]
    # the plain-Python Sabre model, with the same guard, stops at the same request
    cfg, (windows, half_lives) = sabre.config(controller, video), controller.history_arrays()
    n_seg = video.n_chunks
    out = [np.empty(E.N_METRICS), np.empty((E.MAX_FUTILE_REQUESTS + 64, E.E_COLS)), np.full((n_seg, 2), np.nan)]
    n_log, status = model_session(sabre.kernel_trace(trace), 4000.0, video.bitrates_bps / 1e3, video.sizes_bytes * 8.0,
                                  cfg, windows, half_lives, *out)
    assert (n_log, status) == (row["requests"], E.EV_STALLED)
    np.testing.assert_array_equal(out[0], batch.metrics[0])
    # with the defect fixed the abandoned-to quality is used and the session completes
    fixed = run_event_batch(trace, video, controller, sabre.replace(apply_abandon_quality=True)).sessions().iloc[0]
    assert fixed["status"] == "complete" and fixed["chunks"] == video.n_chunks


def test_replacement_upgrades_buffered_segments():
    video = _video(60)
    trace = _trace([400.0] * 10 + [40_000.0] * 60, latency_s=0.01)
    for side in ("left", "right"):
        prof = EVENT_PROFILES["event"].replace(replacement=side)
        batch = run_event_batch(trace, video, DynamicDash(abandon=False), prof)
        log = batch.requests()
        repl = log[log["replacement"]]
        assert len(repl) > 0
        # some segment plays at a higher rung than its first download: a replacement took effect
        first = log[~log["replacement"] & log["abandoned_to"].isna()].groupby("segment")["rung"].first()
        played = batch.segments().set_index("segment")["rung"]
        assert (played.loc[first.index] >= first).all()
        assert (played.loc[first.index] > first).any()
        assert batch.sessions()["replaced"].iloc[0] == len(repl)


def test_sessions_table_has_abrkit_totals_and_every_sabre_metric():
    batch = run_event_batch([_trace([3000.0] * 50), _trace([800.0] * 50)], _video(), ["bolae", "dashjs"], "sabre")
    s = batch.sessions()
    for name in ("trace", "controller", "profile", "status", "qoe", "mean_bitrate_kbps", "rebuffer_s", "abandoned", *METRIC_NAMES):
        assert name in s.columns
    # abrkit's rebuffering (stall before each played segment) adds up to Sabre's total
    np.testing.assert_allclose(s["rebuffer_s"], s["total_rebuffer"], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(s["chunks"], 30)
    summary = batch.summary(s)
    assert list(summary["controller"]) == ["bolae", "dashjs"]
    assert len(batch.segments()) == 4 * 30


def test_dashjs_hybrid_switches_at_18_s_and_back_below_9_s():
    c = DashJsDynamic()
    assert (c.low_s, c.high_s, c.inclusive) == (9.0, 18.0, True)
    base = DynamicDash()
    assert (base.low_s, base.high_s, base.inclusive) == (5.0, 10.0, False)


# -- bad input -------------------------------------------------------------------------------------------


def test_chunk_model_controller_runs_under_event_profile():
    # the contract path: bb never abandons, so every request completes a new segment
    batch = run_event_batch(_trace([1000.0] * 5), _video(), "bb", "sabre")
    s = batch.sessions().iloc[0]
    assert s["status"] == "complete" and s["requests"] == s["chunks"] and s["abandoned"] == 0


def test_event_controller_packs_for_the_chunk_model():
    kind, cfg = get_controller("bolae").pack_for(30.0)
    assert kind == L.CTRL_SABRE and cfg[E.C_ABR] == E.EV_BOLAE and cfg[E.C_BUFFER_MS] == 30000.0


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: EventProfile(replacement="middle"), "replacement"),
        (lambda: EventProfile(buffer_cap_s=0), "buffer_cap_s"),
        (lambda: EventProfile(min_progress_bits=0), "min_progress_bits"),
        (lambda: EventProfile(rampup_quality=-1), "rampup_quality"),
        (lambda: BolaE(gamma_p_s=-1), "gamma_p_s"),
        (lambda: Bola(osc="yes"), "osc"),
        (lambda: DynamicDash(low_s=12, high_s=10), "high_s"),
        (lambda: get_controller("bolae:predictor=harmonic"), "predictor"),
    ],
)
def test_bad_parameters_name_themselves(make, name):
    with pytest.raises(ParameterError, match=name):
        make()


def test_unknown_event_profile():
    with pytest.raises(ParameterError, match="profile"):
        run_event_batch(_trace([1000.0] * 5), _video(), "bolae", "pensieve")


# -- CLI ------------------------------------------------------------------------------------------------


@pytest.mark.shared
def test_cli_prints_one_json_record_per_session_with_sabres_metrics(shared_data, sabre_set, capsys):
    import json

    from abrkit.cli import main

    code = main([
        "simulate", "--profile", "sabre", "--traces", str(shared_data / "traces" / "sabre-4g"),
        "--video", str(shared_data / "videos" / "sabre" / "bbb4k.json"), "--controller", "bolae", "--format", "json",
    ])
    assert code == 0
    records = json.loads(capsys.readouterr().out)
    _, _, ref = sabre_set
    want = ref[(ref["abr"] == "bolae") & (ref["flags"] == "")].set_index("trace")
    assert sorted(r["trace"] for r in records) == sorted(want.index)
    for r in records:
        for name in METRIC_NAMES:
            assert f"{r[name]:.6f}" == f"{float(want.loc[r['trace'], name]):.6f}", (r["trace"], name)


def test_cli_help_lists_every_controller(capsys):
    from abrkit import CONTROLLERS
    from abrkit.cli import main

    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    out = capsys.readouterr().out
    for name in CONTROLLERS:
        assert f"  {name} " in out, name
    assert "sabre" in out and "event" in out


def test_simulate_many_and_get_profile_reach_the_event_model():
    from abrkit import get_profile, simulate, simulate_many

    assert get_profile("sabre") is EVENT_PROFILES["sabre"]
    traces = [_trace([3000.0] * 30), _trace([900.0] * 30)]
    table = simulate_many(traces, _video(), ["bolae", "throughput"], "sabre")
    direct = run_event_batch(traces, _video(), ["bolae", "throughput"], "sabre").sessions()
    pd.testing.assert_frame_equal(table, direct)
    one = simulate(traces[0], _video(), "bola", "event")
    assert set(METRIC_NAMES) <= set(one.totals)
    with pytest.raises(ParameterError, match="shadow_predictors"):
        from abrkit import run_batch

        run_batch(traces, _video(), "bolae", "sabre", shadow_predictors=["last"])
