"""The offline optimum: exact against brute force, never beaten by a controller, the flags that
say when it is only a bound, the batch table, and its errors.

Kernel-against-reference checks on random inputs run with the others in test_simulate.py
(registered by reference_optimum.py).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from abrkit import FixedRung, ParameterError, Profile, QoE, Trace, Video, get_controller, get_profile, run_batch
from abrkit.controllers import CONTROLLERS
from abrkit.event_controllers import EVENT_CONTROLLERS
from abrkit._kernels import optimum as K
from abrkit.optimum import (
    DEFAULT_MAX_FRONT, DEFAULT_MAX_LABELS, OptimumResult, _prepare, offline_optimum, offline_optimum_many,
)

#: A cap no session here reaches (a day of buffer; their videos last minutes at most): the model
#: the optimum solves exactly.
NO_CAP_S = 86_400.0


def uncapped(profile: str | Profile) -> Profile:
    return get_profile(profile).replace(buffer_cap_s=NO_CAP_S)


def replay(trace: Trace, video: Video, sequences, profile: Profile, qoe: QoE) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(QoE totals, rebuffer_s per chunk, statuses) of each rung sequence played by the chunk model (run_batch).

    A sequence becomes a one-rung video holding the chosen chunks' sizes, played by FixedRung(0):
    the network and buffer arithmetic is the session loop's own; the QoE is scored on the real
    ladder. The profile's initial rung is dropped (the one-rung video has only rung 0; the
    sequences already start at it).
    """
    k = np.arange(video.n_chunks)
    sizes = [video.sizes_bytes[k, list(seq)][:, None] for seq in sequences]
    one_rung = [Video(video.bitrates_bps[:1], video.chunk_s, s, name=f"s{i}") for i, s in enumerate(sizes)]
    # Scored on the one-rung videos with the linear model only for the status column.
    batch = run_batch([trace], one_rung, [FixedRung(0)], profile.replace(initial_rung=None), "linear", n_workers=1, progress=False)
    n = len(sequences[0])
    rebuf = batch.log[:, :n, 5]  # layout.LOG_REBUFFER_S
    totals = np.array([qoe.total(qoe.rewards(video, np.array(seq), rebuf[i])) for i, seq in enumerate(sequences)])
    status = batch.sessions()["status"].tolist()
    return totals, rebuf, status


def tiny_case(seed: int, with_quality: bool = False) -> tuple[Trace, Video]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7))
    bw = rng.uniform(3e5, 4e6, n)
    bw[rng.random(n) < 0.25] = 0.0
    bw[:2] = rng.uniform(5e5, 4e6, 2)  # both alignments see some bandwidth
    trace = Trace.from_durations(rng.uniform(0.3, 4.0, n), bw, name=f"tiny{seed}")
    n_rungs = int(rng.integers(2, 4))
    n_chunks = int(rng.integers(1, 7))
    ladder = np.cumsum(rng.uniform(2e5, 1.5e6, n_rungs))
    chunk_s = float(rng.choice([1.0, 2.0, rng.uniform(0.5, 4.0)]))
    sizes = np.outer(rng.uniform(0.5, 1.5, n_chunks), ladder * chunk_s / 8.0)
    quality = np.sort(rng.uniform(20.0, 95.0, sizes.shape), axis=1) if with_quality else None
    return trace, Video(ladder, chunk_s, sizes, quality=quality, name=f"video{seed}")


QOE_MODELS = {
    "linear": lambda n_rungs: QoE.linear(),
    "log": lambda n_rungs: QoE.log(),
    "hd": lambda n_rungs: QoE.hd(table=tuple(float(v) for v in np.arange(1, n_rungs + 1) ** 2)),
    "quality": lambda n_rungs: QoE.quality(),
    "linear-skip-first": lambda n_rungs: QoE.linear(include_first_chunk=False),
    "no-switch": lambda n_rungs: QoE.linear(switch_weight=0.0),
    "no-rebuffer": lambda n_rungs: QoE.linear(rebuffer_weight=0.0),
}


# -- (a) exact: equal to brute force over every rung sequence ------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("model", sorted(QOE_MODELS))
@pytest.mark.parametrize("profile", ["default", "pensieve"])
def test_equals_brute_force_on_tiny_sessions(profile, model, seed):
    trace, video = tiny_case(seed, with_quality=model == "quality")
    prof = get_profile(profile)
    qoe = QOE_MODELS[model](video.n_rungs)
    first = range(video.n_rungs) if prof.initial_rung is None else [prof.initial_rung]
    sequences = [s for s in itertools.product(range(video.n_rungs), repeat=video.n_chunks) if s[0] in first]
    totals, rebuf, status = replay(trace, video, sequences, uncapped(prof), qoe)
    assert set(status) == {"complete"}
    best = int(np.argmax(totals))

    result = offline_optimum(trace, video, prof, qoe)
    assert result.exact and result.status == "complete"
    assert result.qoe == pytest.approx(totals[best], rel=1e-12, abs=1e-12)
    # The sequence it returns scores exactly its value when played.
    mine = sequences.index(tuple(int(r) for r in result.rung))
    assert result.qoe == totals[mine]
    np.testing.assert_array_equal(result.rebuffer_s, rebuf[mine])
    assert result.exact_with_cap == bool(np.all(result.buffer_s <= prof.buffer_cap_s))
    assert result.lower_bound <= result.qoe + 1e-12


def test_capped_and_uncapped_profiles_have_the_same_optimum():
    trace, video = tiny_case(3)
    assert offline_optimum(trace, video, "default").qoe == offline_optimum(trace, video, uncapped("default")).qoe


# -- (b) never beaten: every registered controller, random traces and videos -----------------------


@st.composite
def traces(draw):
    n = draw(st.integers(2, 8))
    durations = draw(st.lists(st.floats(0.1, 6.0), min_size=n, max_size=n))
    bws = draw(st.lists(st.just(0.0) | st.floats(2e5, 1.2e7), min_size=n, max_size=n))
    bws[0] = max(bws[0], 5e5)
    bws[1] = max(bws[1], 5e5)
    latency = draw(st.none() | st.lists(st.floats(0.0, 0.2), min_size=n, max_size=n))
    return Trace.from_durations(durations, bws, latency_s=latency, name="synthetic")


@st.composite
def videos(draw):
    n_rungs = draw(st.integers(2, 5))
    base = draw(st.floats(1e5, 5e5))
    steps = draw(st.lists(st.floats(1.2, 2.5), min_size=n_rungs - 1, max_size=n_rungs - 1))
    ladder = base * np.cumprod([1.0, *steps])
    chunk_s = draw(st.sampled_from([1.0, 2.0, 4.0]) | st.floats(0.5, 5.0))
    n_chunks = draw(st.integers(1, 30))
    vbr = draw(st.lists(st.floats(0.5, 1.5), min_size=n_chunks, max_size=n_chunks))
    return Video(ladder, chunk_s, np.outer(vbr, ladder * chunk_s / 8.0), name="synthetic")


@st.composite
def profiles(draw, video: Video):
    kind = draw(st.sampled_from(["default", "pensieve", "random"]))
    if kind != "random":
        return get_profile(kind)
    cap = draw(st.floats(video.chunk_s, 40.0))
    return Profile(
        name="random", rtt_s=draw(st.none() | st.floats(0.0, 0.2)), rtt_advances_clock=draw(st.booleans()),
        payload_efficiency=draw(st.floats(0.5, 1.0)), buffer_cap_s=cap,
        wait_quantum_s=draw(st.just(0.0) | st.floats(0.05, min(2.0, cap))),
        trace_alignment=draw(st.sampled_from(["start", "end"])), first_chunk_rebuffers=draw(st.booleans()),
        initial_rung=draw(st.none() | st.integers(0, video.n_rungs - 1)), max_chunks=draw(st.none() | st.integers(1, 30)),
        throughput_includes_latency=draw(st.booleans()),
    )


def all_controllers(video):
    """Every registered controller that never asks to wait and can play ``video``, with its
    defaults, and the top fixed rung. (Sabre's rules may idle before a request, which the
    optimum's model leaves out: an idle can move a download into a faster period of the trace.
    A learned controller's network fixes the ladder size.)"""
    names = sorted(set(CONTROLLERS) - set(EVENT_CONTROLLERS))
    return [c for c in (get_controller(name) for name in names) if _plays(c, video)] + [FixedRung(rung=99)]


def _plays(controller, video):
    try:
        controller.check_video(video)
    except ParameterError:
        return False
    return True


@settings(max_examples=300)
@given(data=st.data(), trace=traces(), video=videos(), model=st.sampled_from(["linear", "log", "hd", "linear-skip-first"]))
def test_no_controller_beats_the_optimum(data, trace, video, model):
    profile = data.draw(profiles(video))
    qoe = QOE_MODELS[model](video.n_rungs)
    result = offline_optimum(trace, video, profile, qoe)
    assume(result.status == "complete")
    assert np.isfinite(result.qoe)
    sessions = run_batch([trace], [video], all_controllers(video), profile, qoe, n_workers=1, progress=False).sessions()
    done = sessions[sessions["status"] == "complete"]
    slack = 1e-9 * (1.0 + np.abs(done["qoe"].to_numpy()))
    assert np.all(done["qoe"].to_numpy() <= result.qoe + slack), done[["controller", "qoe"]].assign(optimum=result.qoe)
    played = video.truncated(result.n_chunks)
    if result.exact:  # then the bound is met by a real sequence with no cap
        totals, _, _ = replay(trace, played, [tuple(result.rung)], uncapped(profile), qoe)
        assert totals[0] == pytest.approx(result.qoe, rel=1e-12, abs=1e-12)
    if result.exact_with_cap:  # ... and with the cap: the optimum of the profile as given
        totals, _, _ = replay(trace, played, [tuple(result.rung)], profile, qoe)
        assert totals[0] == pytest.approx(result.qoe, rel=1e-12, abs=1e-12)
    assert not result.exact_with_cap or result.exact


# -- (c) real traces ------------------------------------------------------------------------------

NORWAY_PICKS = range(0, 142, 10)


@pytest.mark.shared
@pytest.mark.parametrize("profile", ["default", "pensieve"])
def test_norway_optimum_is_finite_exact_and_above_the_baselines(profile, norway_traces, envivio):
    picked = [norway_traces[i] for i in NORWAY_PICKS]
    table = offline_optimum_many(picked, envivio, profile, n_workers=2, progress=False)
    assert table["status"].eq("complete").all() and np.isfinite(table["qoe"]).all()
    assert table["exact"].all()  # docs/optimum.md: every Norway trace is solved exactly
    sims = run_batch(picked, envivio, ["bb", "bba0", "rate"], profile, progress=False).sessions()
    for name, group in sims.groupby("controller"):
        assert (group["status"] == "complete").all(), name
        assert np.all(group["qoe"].to_numpy() <= table["qoe"].to_numpy() + 1e-9), name


# -- flags: when the value is only a bound ---------------------------------------------------------


def bumpy_case() -> tuple[Trace, Video]:
    """Big enough for fronts of many labels: 30 chunks, six rungs, a trace that swings."""
    rng = np.random.default_rng(7)
    trace = Trace.from_durations(np.ones(60), rng.uniform(2e5, 5e6, 60), name="bumpy")
    return trace, Video.synthetic_vbr([300, 750, 1200, 1850, 2850, 4300], 4.0, 30, seed=1)


def test_merged_fronts_give_a_looser_bound_without_a_sequence():
    trace, video = bumpy_case()
    exact = offline_optimum(trace, video)
    merged = offline_optimum(trace, video, max_front=2)
    assert exact.exact and exact.max_front_seen > 2 and exact.merges == 0
    assert merged.merges > 0
    assert merged.qoe >= exact.qoe - 1e-9
    if merged.rung is None:
        assert not merged.exact and merged.rebuffer_s is None and merged.reward is None
        assert merged.to_frame().empty
        assert np.isnan(merged.totals()["mean_bitrate_kbps"])


@pytest.mark.parametrize("seed", range(8))
def test_per_period_latency_is_relaxed_to_the_smallest(seed):
    trace, video = tiny_case(seed)
    # The first period's latency is the largest: chunk 0 must keep it (an earlier start of
    # playback would be a pessimistic change: startup is not scored, later stalls are).
    lat = np.linspace(0.4, 0.02, trace.n_periods)
    with_lat = Trace(trace.time_s, trace.bandwidth_bps, trace.end_s, latency_s=lat, name="lat")
    result = offline_optimum(with_lat, video, "default")
    assert result.latency_relaxed and not result.exact and result.rung is not None
    sequences = list(itertools.product(range(video.n_rungs), repeat=video.n_chunks))
    totals, _, _ = replay(with_lat, video, sequences, uncapped("default"), QoE.linear())
    assert result.qoe >= totals.max() - 1e-12
    # Constant latency is not relaxed.
    flat = Trace(trace.time_s, trace.bandwidth_bps, trace.end_s, latency_s=np.full(trace.n_periods, 0.1), name="flat")
    assert offline_optimum(flat, video, "default").exact


def test_chunk_0_keeps_its_own_latency():
    # Found by search: with every request at the smallest latency (0.19 s), chunk 0 arrives
    # 0.21 s sooner, playback starts sooner and chunk 1 then stalls in the relaxed model
    # where it does not in the real one; startup is free, so the "bound" came out 0.8 low.
    trace = Trace(np.array([0.0, 1.8, 5.1, 6.3]), np.array([2.7e6, 0.7e6, 2.9e6, 2.7e6]), 8.2,
                  latency_s=np.array([0.4, 0.19, 0.36, 0.31]), name="found")
    video = Video(np.array([5e5, 2e6]), 2.0, np.array([[180e3, 721e3], [186e3, 746e3]]), name="two")
    totals, _, _ = replay(trace, video, list(itertools.product(range(2), repeat=2)), uncapped("default"), QoE.linear())
    assert offline_optimum(trace, video).qoe >= totals.max() - 1e-12


def test_downloads_longer_than_max_download_s_are_flagged():
    trace = Trace.constant(2e5, 10.0, name="slow")
    video = Video.constant_bitrate([1000, 2000], 4.0, 3)
    result = offline_optimum(trace, video, get_profile("default").replace(max_download_s=1.0))
    assert result.long_download and not result.exact
    assert simulate_status(trace, video, "bb", get_profile("default").replace(max_download_s=1.0)) == "stalled"


def simulate_status(trace, video, controller, profile) -> str:
    return run_batch([trace], [video], [controller], profile, progress=False).sessions()["status"].iloc[0]


def test_no_bandwidth_trace():
    dead = Trace(np.array([0.0, 1.0]), np.array([1e6, 0.0]), name="dead")  # 'end' alignment drops point 0
    video = Video.constant_bitrate([300, 750], 4.0, 3)
    result = offline_optimum(dead, video, "pensieve")
    assert result.status == "no_bandwidth" and np.isnan(result.qoe) and not result.exact and result.rung is None
    assert offline_optimum_many([dead], video, "pensieve", progress=False)["status"].tolist() == ["no_bandwidth"]


# -- the byte-budget bound behind the cut ----------------------------------------------------------


@settings(max_examples=300)
@given(
    n_chunks=st.integers(2, 5), n_rungs=st.integers(1, 4), seed=st.integers(0, 2**32 - 1),
    kappa=st.just(0.0) | st.floats(0.0, 2e-5), avail_share=st.floats(0.0, 1.5),
)
def test_envelope_bounds_every_rung_choice(n_chunks, n_rungs, seed, kappa, avail_share):
    """envelope_value(k, avail, kappa) >= sum of utilities - kappa * (bytes - avail)^+ for every
    choice of rungs of chunks k+1.. (it is the fractional knapsack's value)."""
    rng = np.random.default_rng(seed)
    sizes = np.round(rng.uniform(1e4, 1e6, (n_chunks, n_rungs)), -3)
    utility = np.round(rng.uniform(-1.0, 5.0, (n_chunks, n_rungs)), 1)
    ok, *tables = K.byte_envelope(sizes, utility, n_chunks, kappa, 10**6)
    assert ok
    for k in range(n_chunks - 1):
        rest = range(k + 1, n_chunks)
        choices = list(itertools.product(range(n_rungs), repeat=len(rest)))
        totals = np.array([[sizes[j, r] for j, r in zip(rest, c)] for c in choices]).sum(axis=1)
        avail = avail_share * totals.max()
        best = max(
            sum(utility[j, r] for j, r in zip(rest, c)) - kappa * max(b - avail, 0.0) for c, b in zip(choices, totals)
        )
        assert K.envelope_value(*tables, k, avail, kappa) >= best - 1e-9


def walk_bytes(end_s, bw_bps, wrap_s, ptr, clock_s, dt_s, eff) -> float:
    """Bytes carried in dt_s from (ptr, clock_s), one period at a time (the slow way)."""
    total = 0.0
    while dt_s > 0.0:
        step = min(end_s[ptr] - clock_s, dt_s)
        total += bw_bps[ptr] / 8.0 * eff * step
        dt_s -= step
        clock_s = end_s[ptr]
        ptr += 1
        if ptr == end_s.size:
            ptr, clock_s = 0, wrap_s
    return total


@pytest.mark.parametrize("profile", ["default", "pensieve"])
def test_bytes_within_counts_what_the_trace_carries(profile):
    rng = np.random.default_rng(3)
    for case in range(200):
        n = int(rng.integers(1, 9))
        bw = rng.uniform(0.0, 5e6, n)
        bw[rng.random(n) < 0.3] = 0.0
        bw[int(rng.integers(n))] = 2e6
        trace = Trace.from_durations(rng.uniform(0.1, 3.0, n + 1), np.append(bw, 1e6), name="t")
        end_s, bw_bps, _, start_s, wrap_s = get_profile(profile).kernel_trace(trace)
        eff = float(rng.uniform(0.5, 1.0))
        cum = np.cumsum(bw_bps / 8.0 * eff * np.diff(np.concatenate(([wrap_s], end_s))))
        ptr = int(rng.integers(end_s.size))
        lo = start_s if ptr == 0 else end_s[ptr - 1]
        clock = float(lo + rng.uniform(0.0, 1.0) * (end_s[ptr] - lo))
        dt = float(rng.choice([rng.uniform(0.0, 3.0), rng.uniform(0.0, 200.0)]))
        got = K.bytes_within(end_s, bw_bps, wrap_s, cum, ptr, clock, dt, eff)
        assert got == pytest.approx(walk_bytes(end_s, bw_bps, wrap_s, ptr, clock, dt, eff), rel=1e-9, abs=1e-6), case


def test_the_byte_bound_cuts_labels_without_changing_the_value():
    import reference_optimum

    trace, video = bumpy_case()
    video = video.truncated(14)
    with_bound = offline_optimum(trace, video)
    assert with_bound.exact
    # The plain-Python search with the byte bound's tables refused (as for a very long video).
    p = _prepare(video, "default", None, DEFAULT_MAX_FRONT)
    n = p.n_chunks
    stats = np.empty(K.OPT_STATS)
    args = (*p.profile.kernel_trace(trace), p.sizes_bytes, p.utility, video.chunk_durations_s()[:n], n, p.prof_vec, 4.3, 1.0, True,
            DEFAULT_MAX_FRONT, 0, with_bound.lower_bound, DEFAULT_MAX_LABELS, np.empty(n, np.int64), np.empty(n),
            np.empty(n), stats)
    original = reference_optimum.ENVELOPE_MAX_ENTRIES
    reference_optimum.ENVELOPE_MAX_ENTRIES = 0
    try:
        reference_optimum.optimum_session(*args)
    finally:
        reference_optimum.ENVELOPE_MAX_ENTRIES = original
    assert stats[K.OPT_ENVELOPE] == 0.0
    assert stats[K.OPT_VALUE] == pytest.approx(with_bound.qoe, rel=1e-12)
    assert stats[K.OPT_LABELS] > with_bound.labels


# -- the result object and the batch table ------------------------------------------------------


def test_result_reports_its_settings_and_chunks():
    trace, video = tiny_case(4)
    assert offline_optimum(trace, video, "pensieve", "log").settings()["qoe"] == "log"
    result = offline_optimum(trace, video, "pensieve")  # the profile's QoE: linear, chunk 0 not scored
    assert isinstance(result, OptimumResult)
    s = result.settings()
    assert s["profile"] == "pensieve" and s["qoe"] == "linear" and not s["include_first_chunk"]
    assert s["max_front"] == result.max_front
    frame = result.to_frame()
    assert list(frame.columns) == ["chunk", "rung", "bitrate_kbps", "rebuffer_s", "buffer_s", "reward"]
    assert frame["rung"].iloc[0] == 1  # pensieve's initial rung
    assert result.qoe == pytest.approx(frame["reward"].iloc[1:].sum(), rel=1e-12)  # chunk 0 not scored
    assert "exact=True" in repr(result)


def test_many_matches_one_by_one_and_ignores_the_thread_count():
    cases = [tiny_case(s) for s in range(5)]
    video = cases[0][1]
    traces_ = [t.with_name(f"t{i}") for i, (t, _) in enumerate(cases)]
    one = offline_optimum_many(traces_, video, n_workers=1, progress=False)
    two = offline_optimum_many(traces_, video, n_workers=2, progress=True)
    pd.testing.assert_frame_equal(one, two)
    assert one["trace"].tolist() == [t.name for t in traces_]
    assert one["qoe"].tolist() == [offline_optimum(t, video).qoe for t in traces_]
    # Columns shared with simulate_many line up, so the tables concatenate.
    sims = run_batch(traces_, video, ["bb"], progress=False).sessions()
    both = pd.concat([sims, one], ignore_index=True)
    assert set(both["controller"]) == {"bb", "optimum"} and both["qoe"].notna().all()
    single = offline_optimum_many(traces_[0], video, progress=False)
    assert len(single) == 1


# -- (d) errors ----------------------------------------------------------------------------------


def test_bad_inputs_name_the_parameter():
    trace, video = tiny_case(0)
    with pytest.raises(ParameterError, match=r"^max_front=0 is invalid"):
        offline_optimum(trace, video, max_front=0)
    with pytest.raises(ParameterError, match=r"^max_front=2.5 is invalid"):
        offline_optimum(trace, video, max_front=2.5)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"^trace='str' is invalid: must be a Trace"):
        offline_optimum("x", video)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"^video='list' is invalid"):
        offline_optimum(trace, [])  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"^profile='nope' is invalid"):
        offline_optimum(trace, video, "nope")
    with pytest.raises(ParameterError, match=r"^profile='sabre' is invalid: the offline optimum solves the chunk model"):
        offline_optimum(trace, video, "sabre")
    with pytest.raises(ParameterError, match=r"^qoe='nope' is invalid"):
        offline_optimum(trace, video, qoe="nope")
    with pytest.raises(ParameterError, match=r"^qoe='quality' is invalid: needs per-chunk quality"):
        offline_optimum(trace, video, qoe="quality")
    with pytest.raises(ParameterError, match=r"^table=.* is invalid: has 6 values"):
        offline_optimum(trace, video, qoe=QoE.hd())  # the tiny videos have 2 or 3 rungs
    with pytest.raises(ParameterError, match=r"^initial_rung=5 is invalid"):
        offline_optimum(trace, video, get_profile("default").replace(initial_rung=5))
    with pytest.raises(ParameterError, match=r"^buffer_cap_s=0.5 is invalid"):
        offline_optimum(trace, Video.constant_bitrate([300], 4.0, 2), get_profile("default").replace(buffer_cap_s=0.5))
    with pytest.raises(ParameterError, match=r"^traces=\[\] is invalid"):
        offline_optimum_many([], video)
    with pytest.raises(ParameterError, match=r"^n_workers=0 is invalid"):
        offline_optimum_many([trace], video, n_workers=0)
