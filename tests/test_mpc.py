"""MPC, RobustMPC and BBA-1: the exact plan search, the planner in the session loop, the Pensieve
quirk switches of the profile, the specs and their validation.

Kernel-against-reference checks on random inputs live with the others in test_simulate.py
(registered by reference_mpc.py); Pensieve parity in test_pensieve_parity.py.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference_mpc
from abrkit import BBA0, ParameterError, Profile, RateBased, Trace, Video, get_controller, get_profile, run_batch, simulate
from abrkit._kernels import layout as L
from abrkit._kernels import contract
from abrkit._kernels.controllers import bba0, bba1, bba1_reservoir, mpc_decide
from abrkit._kernels.mpc import mpc_brute, mpc_search, mpc_value
from abrkit.controllers import BBA1, CONTROLLERS, MAX_HORIZON, MPC, RobustMPC
from abrkit.predictors import HarmonicMean, LastSample, RobustDiscount

LADDER_BPS = np.array([300, 750, 1200, 1850, 2850, 4300], dtype=np.float64) * 1e3
INF = float("inf")


def four_s(n=64):
    """Every chunk 4 s long (the kernels take one duration per chunk)."""
    return np.full(n, 4.0)


def search_both(ladder, sizes, prev, buffer_s, est_bps, latency_s=0.0, chunk_s=4.0, cap_s=INF, rw=4.3, sw=1.0,
                ties_last=False):
    """(value, sequence) from the branch and bound, after checking it against the brute force.
    ``chunk_s``: one duration for every planned chunk, or one per chunk (the first ``h`` used)."""
    h = sizes.shape[0]
    fast_seq, brute_seq = np.full(h, -1, np.int64), np.full(h, -1, np.int64)
    durations = np.full(h, float(chunk_s)) if np.ndim(chunk_s) == 0 else np.ascontiguousarray(chunk_s[:h], dtype=float)
    args = (np.asarray(ladder, float), np.ascontiguousarray(sizes, dtype=float), prev, buffer_s, est_bps, latency_s,
            durations, cap_s, rw, sw)
    fast = mpc_search(*args, ties_last, fast_seq)
    brute = mpc_brute(*args, ties_last, brute_seq)
    assert fast == brute and fast_seq.tolist() == brute_seq.tolist(), (fast, brute, fast_seq, brute_seq)
    return fast, fast_seq.tolist()


# -- the search: exact, ties included --------------------------------------------------------------


@st.composite
def planning_problems(draw):
    """Planning problems rich in ties: repeated bitrates, equal or zero sizes, estimates that make
    download times round numbers, zero weights, and horizons up to 5 over up to 6 rungs."""
    n = draw(st.integers(1, 6))
    h = draw(st.integers(1, 5 if n <= 4 else 4))
    ladder = draw(
        st.just(LADDER_BPS[:n])
        | st.lists(st.sampled_from([2e5, 5e5, 1e6, 2e6]), min_size=n, max_size=n).map(sorted)
        | st.lists(st.floats(1e5, 5e6), min_size=n, max_size=n, unique=True).map(sorted)
    )
    ladder = np.asarray(ladder, dtype=float)
    chunk_s = draw(st.sampled_from([1.0, 2.0, 4.0]) | st.floats(0.5, 6.0))
    kind = draw(st.sampled_from(["cbr", "equal", "vbr", "zeros"]))
    if kind == "cbr":
        sizes = np.tile(ladder * chunk_s / 8.0, (h, 1))
    elif kind == "equal":
        sizes = np.tile(np.array(draw(st.lists(st.floats(1e3, 2e6), min_size=h, max_size=h)))[:, None], (1, n))
    else:
        scale = np.array(draw(st.lists(st.floats(0.3, 2.0), min_size=h, max_size=h)))
        sizes = np.outer(scale, ladder * chunk_s / 8.0)
        if kind == "zeros":
            sizes[draw(st.integers(0, h - 1)):] = 0.0
    est = draw(st.sampled_from(list(ladder)) | st.sampled_from([1e6, 8e6, INF]) | st.floats(5e4, 1e7))
    # segments of equal duration, or of unequal ones (per-shot encodes): one duration per planned chunk
    durations = np.full(h, chunk_s) if draw(st.booleans()) else np.array(
        draw(st.lists(st.floats(0.2 * chunk_s, 1.5 * chunk_s), min_size=h, max_size=h)))
    return dict(
        ladder=ladder, sizes=sizes, prev=draw(st.integers(-1, n - 1)),
        buffer_s=draw(st.sampled_from([0.0, chunk_s, 10.0]) | st.floats(0.0, 60.0)), est_bps=est,
        latency_s=draw(st.just(0.0) | st.floats(0.0, 0.3)), chunk_s=durations,
        cap_s=draw(st.just(INF) | st.floats(chunk_s, 60.0)),
        rw=draw(st.sampled_from([4.3, 0.0, 100.0]) | st.floats(0.0, 50.0)),
        sw=draw(st.sampled_from([1.0, 0.0]) | st.floats(0.0, 3.0)),
    )


@settings(max_examples=600)
@given(problem=planning_problems(), ties_last=st.booleans())
def test_branch_and_bound_equals_brute_force(problem, ties_last):
    value, seq = search_both(**problem, ties_last=ties_last)
    # The value is the objective of the sequence, computed the reference's (Pensieve's) way.
    p = problem
    assert value == reference_mpc.plan_value(
        list(p["ladder"]), p["sizes"].tolist(), seq, p["prev"], p["buffer_s"], p["est_bps"], p["latency_s"],
        p["chunk_s"], p["cap_s"], p["rw"], p["sw"],
    )


@settings(max_examples=150)
@given(problem=planning_problems(), ties_last=st.booleans())
def test_vectorised_reference_equals_the_loop_of_mpc_py(problem, ties_last):
    # reference_mpc.best_plan scores all plans at once; best_plan_scalar is mpc.py's loop.
    p = problem
    args = (list(p["ladder"]), p["sizes"].tolist(), p["prev"], p["buffer_s"], p["est_bps"], p["latency_s"],
            p["chunk_s"], p["cap_s"], p["rw"], p["sw"], ties_last)
    assert reference_mpc.best_plan(*args) == reference_mpc.best_plan_scalar(*args)


def test_brute_force_enumerates_in_itertools_order():
    # Twin rungs (same bitrate, same sizes) make every sequence tie with its twins: the first
    # best is all-lowest twins, the last best all-highest.
    ladder = np.array([1e6, 1e6, 1e6])
    sizes = np.full((3, 3), 5e5)
    first = search_both(ladder, sizes, 0, 10.0, 2e6, ties_last=False)
    last = search_both(ladder, sizes, 0, 10.0, 2e6, ties_last=True)
    assert first[1] == [0, 0, 0] and last[1] == [2, 2, 2]
    assert first[0] == last[0] == 3.0
    combos = list(itertools.product(range(3), repeat=3))
    assert combos[0] == (0, 0, 0) and combos[-1] == (2, 2, 2)


def test_ties_between_twin_rungs_go_first_or_last():
    # Rungs 1 and 2 are twins; the plan wants them over rung 0 (fast link, no rebuffering).
    ladder = np.array([3e5, 1.2e6, 1.2e6, 5e6])
    sizes = np.tile(ladder * 4.0 / 8.0, (4, 1))
    sizes[:, 3] = 1e9  # rung 3 would rebuffer for ages
    v_first, s_first = search_both(ladder, sizes, 1, 20.0, 3e6, ties_last=False)
    v_last, s_last = search_both(ladder, sizes, 1, 20.0, 3e6, ties_last=True)
    assert v_first == v_last
    assert s_first == [1, 1, 1, 1] and s_last == [2, 2, 2, 2]


def test_upgrading_on_the_last_planned_chunk_is_a_tie():
    # With switch weight 1, moving up from q to r on the last chunk adds r - (r - q) = q: the
    # same as staying. Pensieve's '>=' takes the last (highest) such plan, the clean rule the first.
    ladder = np.array([1e6, 2e6, 4e6])
    sizes = np.tile(ladder * 4.0 / 8.0, (1, 1))
    assert search_both(ladder, sizes, 1, 30.0, 1e9, ties_last=False)[1] == [1]
    assert search_both(ladder, sizes, 1, 30.0, 1e9, ties_last=True)[1] == [2]


@settings(max_examples=300)
@given(problem=planning_problems(), ties_last=st.booleans())
def test_horizon_one_is_a_one_step_search(problem, ties_last):
    p = problem
    sizes = p["sizes"][:1]
    _, seq = search_both(p["ladder"], sizes, p["prev"], p["buffer_s"], p["est_bps"], p["latency_s"], p["chunk_s"],
                         p["cap_s"], p["rw"], p["sw"], ties_last)
    scores = []
    for r in range(p["ladder"].size):
        t = p["latency_s"] + sizes[0, r] * 8.0 / p["est_bps"]
        rebuf = t - p["buffer_s"] if p["buffer_s"] < t else 0.0
        switch = abs(p["ladder"][r] - p["ladder"][p["prev"]]) if p["prev"] >= 0 else 0.0
        scores.append(p["ladder"][r] / 1e6 - p["rw"] * rebuf - p["sw"] * (switch / 1e6))
    best = max(scores)
    winners = [r for r, v in enumerate(scores) if v == best]
    assert seq == [winners[-1] if ties_last else winners[0]]


def test_value_of_a_sequence_golden():
    # Buffer 2 s, 4 s chunks of 1 MB at 4 Mbit/s: 2 s per download, no rebuffering; switch
    # 300 -> 750 -> 750 kbps: bitrate 1.5 Mbps - 0.45 Mbps of switching.
    ladder = np.array([3e5, 7.5e5])
    sizes = np.full((2, 2), 1e6)
    v = mpc_value(ladder, sizes, np.array([1, 1]), 0, 2.0, 4e6, 0.0, four_s(2), INF, 4.3, 1.0)
    assert v == pytest.approx(1.5 - 0.45, abs=1e-15)
    # Empty buffer and a 0.5 s latency: the first download (2.5 s) rebuffers all of it; the
    # second finds 4 s of buffer and does not.
    v = mpc_value(ladder, sizes, np.array([1, 1]), 0, 0.0, 4e6, 0.5, four_s(2), INF, 4.3, 1.0)
    assert v == pytest.approx(1.5 - 4.3 * 2.5 - 0.45, abs=1e-12)
    # The cap: 4 s chunks into a 5 s cap with 0 s downloads.
    v_cap = mpc_value(ladder, np.zeros((3, 2)), np.array([0, 0, 0]), -1, 5.0, 4e6, 0.0, four_s(3), 5.0, 4.3, 1.0)
    assert v_cap == pytest.approx(0.9, abs=1e-15)  # no previous rung: no switching term


def test_search_speed_inputs_are_not_degenerate():
    # The benchmark's planning problems (benchmarks/bench_mpc.py) come out the same both ways.
    rng = np.random.default_rng(0)
    for _ in range(50):
        sizes = np.outer(rng.uniform(0.8, 1.2, 5), LADDER_BPS * 4.0 / 8.0)
        for est in (4e5, 1.5e6, 3e6, 8e6):
            search_both(LADDER_BPS, sizes, int(rng.integers(0, 6)), float(rng.uniform(0, 60)), est, ties_last=True)


# -- the planner wrapper: horizon, sizes and the profile switches -----------------------------------


def _prof(**fields) -> np.ndarray:
    return Profile(**fields).pack()


def _table(n_rows, seed=3):
    rng = np.random.default_rng(seed)
    return np.outer(rng.uniform(0.5, 1.6, n_rows), LADDER_BPS * 4.0 / 8.0)


def _brute_first(sizes, prev, buffer_s, est, lat=0.0, cap=60.0, ties_last=False):
    seq = np.full(sizes.shape[0], -1, np.int64)
    mpc_brute(LADDER_BPS, np.ascontiguousarray(sizes), prev, buffer_s, est, lat, four_s(sizes.shape[0]), cap, 4.3, 1.0,
              ties_last, seq)
    return int(seq[0])


def test_horizon_shrinks_to_the_chunks_left():
    table = _table(10)
    cp = MPC(horizon=5).pack()[1]
    prof = _prof()
    for k in range(10):
        h = min(5, 10 - k)
        for est in (6e5, 2e6, 5e6):
            got = mpc_decide(cp, k, 10, 12.0, 2, LADDER_BPS, table, four_s(), est, 0.0, prof)
            assert got == _brute_first(table[k : k + h], 2, 12.0, est)
    # The session plays only 7 of the 10 chunks in the table: the horizon stops at chunk 6.
    got = mpc_decide(cp, 4, 7, 12.0, 2, LADDER_BPS, table, four_s(), 2e6, 0.0, prof)
    assert got == _brute_first(table[4:7], 2, 12.0, 2e6)


def test_no_estimate_means_the_lowest_rung():
    cp = MPC().pack()[1]
    for est in (np.nan, 0.0, -1.0):
        assert mpc_decide(cp, 0, 10, 30.0, 3, LADDER_BPS, _table(10), four_s(), est, 0.0, _prof()) == 0


def test_sizes_one_ahead_plans_with_the_next_rows_and_zero_past_the_table():
    table = _table(10)
    cp = MPC(horizon=5).pack()[1]
    ahead = _prof(mpc_sizes_one_ahead=True)
    for k in range(10):
        h = min(5, 10 - k)
        shifted = np.zeros((h, 6))
        rows = table[k + 1 : k + 1 + h]
        shifted[: rows.shape[0]] = rows
        for est in (6e5, 2e6):
            assert mpc_decide(cp, k, 10, 8.0, 1, LADDER_BPS, table, four_s(), est, 0.0, ahead) == _brute_first(shifted, 1, 8.0, est)
    # Pensieve's setting: 48 chunks played out of a 49-chunk table, so the last plan reads row 48.
    big = _table(49)
    assert mpc_decide(cp, 47, 48, 8.0, 1, LADDER_BPS, big, four_s(), 2e6, 0.0, ahead) == _brute_first(big[48:49], 1, 8.0, 2e6)


def test_latency_enters_the_plan_only_when_samples_exclude_it():
    table = _table(6)
    cp = MPC(horizon=3).pack()[1]
    lat = 1.5  # a long latency makes the plan more careful
    args = (cp, 0, 6, 3.0, 5, LADDER_BPS, table, four_s(), 2.5e6, lat)
    excl = mpc_decide(*args, _prof(throughput_includes_latency=False))
    assert excl == _brute_first(table[:3], 5, 3.0, 2.5e6, lat=lat)
    assert excl != _brute_first(table[:3], 5, 3.0, 2.5e6, lat=0.0)  # the case does tell them apart
    for prof in (
        _prof(throughput_includes_latency=True),
        _prof(throughput_includes_latency=False, mpc_plan_ignores_rtt=True),
    ):
        assert mpc_decide(*args, prof) == _brute_first(table[:3], 5, 3.0, 2.5e6, lat=0.0)


def test_buffer_cap_enters_the_plan_unless_ignored():
    # A full buffer at a small cap (8 s): without the cap the plan counts on buffer the player
    # cannot hold, and here that changes the choice.
    table = _table(6)
    cp = MPC(horizon=5).pack()[1]
    for est, want_capped, want_uncapped in ((6e5, 0, 1), (8e5, 1, 0)):
        args = (cp, 0, 6, 8.0, 0, LADDER_BPS, table, four_s(), est, 0.0)
        capped = mpc_decide(*args, _prof(buffer_cap_s=8.0))
        uncapped = mpc_decide(*args, _prof(buffer_cap_s=8.0, mpc_plan_ignores_buffer_cap=True))
        assert capped == _brute_first(table[:5], 0, 8.0, est, cap=8.0) == want_capped
        assert uncapped == _brute_first(table[:5], 0, 8.0, est, cap=INF) == want_uncapped


def test_ties_switch():
    cp = MPC(horizon=1).pack()[1]
    table = np.tile(LADDER_BPS * 4.0 / 8.0, (3, 1))
    first = mpc_decide(cp, 2, 3, 30.0, 1, LADDER_BPS, table, four_s(), 1e9, 0.0, _prof())
    last = mpc_decide(cp, 2, 3, 30.0, 1, LADDER_BPS, table, four_s(), 1e9, 0.0, _prof(mpc_ties="last"))
    assert (first, last) == (1, 5)


def test_plan_dispatch():
    table = _table(8)
    prof = _prof()
    m_id, m_p = MPC().pack()
    b_id, b_p = BBA1().pack()
    cstate = np.zeros(L.CTRL_STATE + 3 * LADDER_BPS.size)

    def choose(kind, cparams):
        return contract.choose(kind, cparams, cstate, np.zeros(0, dtype=np.float32), 1, 8, 9.0, 2, LADDER_BPS, table, four_s(), 2e6,
                               np.nan, 0.0, prof)

    assert choose(m_id, m_p) == (mpc_decide(m_p, 1, 8, 9.0, 2, LADDER_BPS, table, four_s(), 2e6, 0.0, prof), 0.0)
    assert choose(b_id, b_p) == (bba1(9.0, 2, 1, 8, LADDER_BPS, table, four_s(), *b_p[:4]), 0.0)
    with pytest.raises(ValueError, match="unknown controller id 177"):
        choose(177, m_p)


# -- each profile switch changes only what it should, in whole sessions --------------------------------


def _traces(n=4, seed=11):
    rng = np.random.default_rng(seed)
    return [
        Trace.from_durations(rng.uniform(0.5, 3.0, 40), rng.uniform(3e5, 6e6, 40), name=f"t{i}") for i in range(n)
    ]


VBR = Video(LADDER_BPS, 4.0, _table(30, seed=5), name="vbr")
OTHERS = ["bb", "bba0", "bba1", "rate", "rate:predictor=robust", "fixed:rung=2"]


def _logs(profile, ctrls, traces=None, video=VBR):
    batch = run_batch(traces or _traces(), video, ctrls, profile, n_workers=1, progress=False)
    return {name: batch.log[batch.job_ctrl == i] for i, name in enumerate(ctrls)}


@pytest.mark.parametrize(
    "base, change",
    [
        (Profile(), {"mpc_sizes_one_ahead": True}),
        (Profile(rtt_s=0.8, throughput_includes_latency=False), {"mpc_plan_ignores_rtt": True}),
        (Profile(buffer_cap_s=12.0), {"mpc_plan_ignores_buffer_cap": True}),
        (Profile(), {"mpc_ties": "last"}),
    ],
    ids=lambda x: next(iter(x)) if isinstance(x, dict) else "",
)
def test_each_mpc_switch_changes_mpc_and_nothing_else(base, change):
    ctrls = [*OTHERS, "mpc", "robustmpc"]
    before, after = _logs(base, ctrls), _logs(base.replace(**change), ctrls)
    for name in OTHERS:
        np.testing.assert_array_equal(before[name], after[name], err_msg=f"{name} changed")
    changed = [name for name in ("mpc", "robustmpc") if not np.array_equal(before[name], after[name], equal_nan=True)]
    assert changed, f"{change} changed no MPC decision on these traces"


def test_latency_switch_is_inert_when_samples_include_the_latency():
    base = Profile(rtt_s=0.8, throughput_includes_latency=True)
    a, b = _logs(base, ["mpc"]), _logs(base.replace(mpc_plan_ignores_rtt=True), ["mpc"])
    np.testing.assert_array_equal(a["mpc"], b["mpc"])


def test_carrying_robust_errors_changes_only_later_sessions_of_robust_predictors():
    ctrls = ["bb", "mpc", "rate", "robustmpc", "rate:predictor=robust"]
    base = Profile()
    fresh, carried = _logs(base, ctrls), _logs(base.replace(carry_robust_errors=True), ctrls)
    for name in ("bb", "mpc", "rate"):
        np.testing.assert_array_equal(fresh[name], carried[name], err_msg=name)
    for name in ("robustmpc", "rate:predictor=robust"):
        np.testing.assert_array_equal(fresh[name][0], carried[name][0], err_msg=f"{name}: the first session")
        assert not np.array_equal(fresh[name][1:], carried[name][1:]), f"{name}: later sessions unchanged"


def test_carried_sessions_follow_job_order_and_ignore_workers():
    traces = _traces(6)
    prof = get_profile("default").replace(carry_robust_errors=True)
    one = run_batch(traces, VBR, ["robustmpc", "bb"], prof, n_workers=1, progress=False)
    two = run_batch(traces, VBR, ["robustmpc", "bb"], prof, n_workers=2, progress=False)
    np.testing.assert_array_equal(one.log, two.log)
    # Each session continues the previous one of the same controller: rerunning the first k
    # traces gives the same first k sessions; running a later trace first gives another history.
    part = run_batch(traces[:3], VBR, ["robustmpc", "bb"], prof, progress=False)
    np.testing.assert_array_equal(part.log, one.log[:6])
    swapped = run_batch([traces[1], traces[0]], VBR, "robustmpc", prof, progress=False)
    alone = run_batch(traces[1], VBR, "robustmpc", "default", progress=False)
    np.testing.assert_array_equal(swapped.log[0], alone.log[0])  # first in line: a fresh history
    assert not np.array_equal(swapped.log[0], one.log[2])  # second in line (after trace 0): not


def test_carry_keeps_the_error_history_not_the_throughput_window():
    # The base harmonic mean starts fresh each session; a single-session batch is the session alone.
    traces = _traces(2)
    prof = get_profile("default").replace(carry_robust_errors=True)
    alone = simulate(traces[1], VBR, "robustmpc", "default")
    in_batch = run_batch(traces, VBR, "robustmpc", prof, progress=False).session(1)
    # The second session starts with the same first decision (no estimate before its first
    # download: the harmonic window is empty, so the discount cannot apply yet) ...
    assert alone.rung[0] == in_batch.rung[0] == 0
    # ... while later decisions see the errors carried over.
    assert not np.array_equal(alone.rung, in_batch.rung)


# -- BBA-1 --------------------------------------------------------------------------------------------


def test_bba1_reservoir_golden():
    # Lowest rate 300 kbps, 4 s chunks (nominal 150 000 bytes): chunks of 225 000 bytes take 6 s
    # at 300 kbps, 2 s more than they play.
    table = np.tile(LADDER_BPS * 4.0 / 8.0, (20, 1))
    table[:, 0] = 225_000.0
    # 40 s of look-ahead = 10 chunks: 20 s, inside the bounds.
    assert bba1_reservoir(table, 0, 20, four_s(), 3e5, 40.0, 5.0, 35.0) == pytest.approx(20.0)
    # Near the end only the chunks left count: 3 chunks, 6 s.
    assert bba1_reservoir(table, 17, 20, four_s(), 3e5, 40.0, 5.0, 35.0) == pytest.approx(6.0)
    # Clamped: below at min_reservoir_s, above at max_reservoir_s.
    assert bba1_reservoir(table, 19, 20, four_s(), 3e5, 40.0, 5.0, 35.0) == 5.0
    assert bba1_reservoir(table, 0, 20, four_s(), 3e5, 400.0, 5.0, 35.0) == 35.0
    # Chunks smaller than nominal give a negative need: the lower bound.
    table[:, 0] = 100_000.0
    assert bba1_reservoir(table, 0, 20, four_s(), 3e5, 40.0, 5.0, 35.0) == 5.0
    # A look-ahead that ends inside a chunk still counts that chunk (chunk starts before it).
    table[:, 0] = 225_000.0
    assert bba1_reservoir(table, 0, 20, four_s(), 3e5, 9.0, 0.0, 35.0) == pytest.approx(6.0)


def test_bba1_chunk_map_golden():
    # Reservoir 5 s (nominal sizes), cushion 10 s, 4 s chunks: the map runs from 150 000 bytes at
    # 5 s to 2 150 000 at 15 s: f(B) = 150 000 + 200 000 (B - 5). The next chunk is 20 % larger
    # than nominal at every rung: 180 000, 450 000, 720 000, 1 110 000, 1 710 000, 2 580 000.
    table = np.tile(LADDER_BPS * 4.0 / 8.0, (10, 1))
    table[0] *= 1.2
    def choose(buffer_s, prev):
        got = bba1(buffer_s, prev, 0, 10, LADDER_BPS, table, four_s(), 10.0, 40.0, 5.0, 35.0)
        assert got == reference_mpc.bba1_choose(buffer_s, prev, 0, 10, LADDER_BPS, table, four_s(), 10.0, 40.0, 5.0, 35.0)
        return got
    assert choose(5.0, 3) == 0 and choose(15.0, 0) == 5  # reservoir and reservoir + cushion
    # f(7) = 550 000: from rung 0 (next up 450 000) up to the largest size below f: rung 1.
    assert choose(7.0, 0) == 1
    # ... from rung 1 (up 720 000, down 180 000): stay.
    assert choose(7.0, 1) == 1
    # ... from rung 3 (down 720 000 >= f): down to the smallest size above f: rung 2 (720 000).
    assert choose(7.0, 3) == 2
    # f(10) = 1 150 000 from rung 1: up to the largest size below f: rung 3 (1 110 000).
    assert choose(10.0, 1) == 3
    # BBA-0 on the rate map would take rung 3 too at 10 s from rung 1 (f = 2300 kbps), but at
    # 9.5 s (f = 1 050 000 bytes < 1 110 000) BBA-1 stops at rung 2 where BBA-0 goes to 1850.
    assert choose(9.5, 1) == 2 and bba0(9.5, 1, LADDER_BPS, 5.0, 10.0) == 3


def test_bba1_reservoir_grows_before_big_chunks():
    table = np.tile(LADDER_BPS * 4.0 / 8.0, (40, 1))
    table[10:20] *= 1.8  # an expensive scene
    before = [bba1_reservoir(table, k, 40, four_s(), 3e5, 40.0, 5.0, 35.0) for k in range(0, 30)]
    assert before[0] == 5.0 and max(before) > 25.0 and before[25] == 5.0
    assert np.argmax(before) == 10


@settings(max_examples=200)
@given(
    buffer_s=st.floats(0.0, 40.0), prev=st.integers(-1, 5), reservoir_s=st.floats(0.0, 15.0),
    cushion_s=st.floats(0.5, 30.0), n_rungs=st.integers(1, 6),
)
def test_bba1_on_constant_bitrate_video_is_bba0(buffer_s, prev, reservoir_s, cushion_s, n_rungs):
    # With 8 s chunks a CBR chunk weighs its bitrate in bytes, so the chunk map is the rate map
    # operation for operation; nominal sizes make the computed reservoir 0, so it sits at the
    # lower bound.
    ladder = LADDER_BPS[:n_rungs]
    prev = min(prev, n_rungs - 1)
    table = np.tile(ladder * 8.0 / 8.0, (30, 1))
    got = bba1(buffer_s, prev, 3, 30, ladder, table, np.full(64, 8.0), cushion_s, 120.0, reservoir_s, reservoir_s + 20.0)
    assert got == bba0(buffer_s, prev, ladder, reservoir_s, cushion_s)


def test_bba1_session_on_cbr_video_equals_bba0():
    video = Video.constant_bitrate([300, 750, 1200, 1850, 2850, 4300], 8.0, 30, name="cbr8")
    for trace in _traces(3):
        a = simulate(trace, video, BBA1(), "default")
        b = simulate(trace, video, BBA0(), "default")
        np.testing.assert_array_equal(a.rung, b.rung)


def test_bba1_uses_the_next_chunk_sizes():
    # The same buffer and previous rung, two different next chunks.
    table = np.tile(LADDER_BPS * 4.0 / 8.0, (5, 1))
    # f(12 s) = 150 000 + 200 000 x 7 = 1 550 000 bytes >= the next size up (925 000): rung 4.
    assert bba1(12.0, 2, 0, 5, LADDER_BPS, table, four_s(), 10.0, 8.0, 5.0, 35.0) == 4
    table[0, 1:] *= 10.0
    # Now the map (1 550 000) is below the next size down (rung 1: 3 750 000): down to the
    # smallest size above the map, rung 1, where BBA-0 (which sees only rates) would stay.
    assert bba1(12.0, 2, 0, 5, LADDER_BPS, table, four_s(), 10.0, 8.0, 5.0, 35.0) == 1


# -- sessions ---------------------------------------------------------------------------------------


def test_mpc_session_on_a_steady_link():
    # 3 Mbit/s, no latency, clean profile: MPC settles at 2850 kbps (4300 would drain the buffer)
    # until the last chunks, where the buffer left over has no further use and the shrinking
    # horizon lets it spend it on 4300 kbps.
    video = Video.constant_bitrate([300, 750, 1200, 1850, 2850, 4300], 4.0, 30)
    result = simulate(Trace.constant(3e6, name="steady"), video, MPC(predictor=LastSample()), "default")
    assert result.rung[0] == 0  # no estimate yet
    assert result.status == "complete"
    assert (result.rung[5:20] == 4).all()
    assert result.rung[-1] == 5
    assert result.rebuffer_s.sum() < 1e-9  # the last download ends as the buffer runs dry


def test_robust_mpc_is_more_careful_than_mpc_on_a_jumpy_link():
    rng = np.random.default_rng(2)
    trace = Trace.from_durations(np.full(200, 2.0), rng.choice([5e5, 4e6], 200), name="jumpy")
    mpc = simulate(trace, VBR, "mpc", "default")
    robust = simulate(trace, VBR, "robustmpc", "default")
    assert robust.bitrate_kbps.mean() < mpc.bitrate_kbps.mean()
    assert robust.rebuffer_s.sum() <= mpc.rebuffer_s.sum()


def test_planner_sees_sizes_past_the_played_chunks():
    # max_chunks cuts the session, not the size table: with sizes one ahead, the last planned
    # chunk reads the first row the session does not play.
    video = Video(LADDER_BPS, 4.0, _table(12, seed=8), name="v12")
    prof = Profile(max_chunks=10, mpc_sizes_one_ahead=True)
    r = simulate(_traces(1)[0], video, "mpc", prof)
    assert r.n_chunks == 10 and r.status == "complete"


# -- specs ------------------------------------------------------------------------------------------


def test_registry_and_defaults():
    assert CONTROLLERS["mpc"] is MPC and CONTROLLERS["robustmpc"] is RobustMPC and CONTROLLERS["bba1"] is BBA1
    assert MPC().predictor == HarmonicMean(5)
    assert RobustMPC().predictor == RobustDiscount(HarmonicMean(5), 5)
    assert (MPC().horizon, MPC().rebuffer_weight, MPC().switch_weight) == (5, 4.3, 1.0)
    assert MPC().pack()[0] == RobustMPC().pack()[0] == L.CTRL_MPC
    np.testing.assert_array_equal(MPC().pack()[1][:4], [5.0, 4.3, 1.0, 0.0])
    np.testing.assert_array_equal(BBA1().pack()[1][:4], [10.0, 120.0, 5.0, 35.0])
    assert BBA1().pack()[0] == L.CTRL_BBA1
    assert RobustMPC().pack_predictor()[0] == L.PRED_ROBUST


def test_names_parsing_and_settings():
    assert MPC().name == "mpc" and RobustMPC().name == "robustmpc" and BBA1().name == "bba1"
    assert MPC(horizon=3).name == "mpc(horizon=3)"
    assert get_controller("mpc:horizon=3,rebuffer_weight=10") == MPC(horizon=3, rebuffer_weight=10)
    assert get_controller("robustmpc(predictor=robust(base=harmonic(window=3),window=4))") == RobustMPC(
        predictor=RobustDiscount(HarmonicMean(3), 4)
    )
    assert get_controller("mpc:predictor=last") == MPC(predictor=LastSample())
    assert get_controller("bba1:cushion_s=20,lookahead_s=60") == BBA1(cushion_s=20, lookahead_s=60)
    assert MPC().settings()["controller"] == "mpc" and MPC().settings()["horizon"] == 5
    assert RobustMPC().settings()["predictor"]["predictor"] == "robust"
    for cls in (MPC, RobustMPC, BBA1):
        doc = cls.__doc__ or ""
        assert "Yin et al." in doc or "Huang et al." in doc


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: MPC(horizon=0), r"horizon=0 is invalid: must be an integer >= 1"),
        (lambda: MPC(horizon=2.5), r"horizon=2\.5 is invalid: must be an integer >= 1"),
        (lambda: MPC(horizon=True), r"horizon=True is invalid: must be an integer >= 1"),
        (lambda: MPC(horizon=MAX_HORIZON + 1), rf"horizon={MAX_HORIZON + 1} is invalid: must be an integer <= {MAX_HORIZON}"),
        (lambda: MPC(rebuffer_weight=-1.0), r"rebuffer_weight=-1\.0 is invalid: must be finite and >= 0"),
        (lambda: MPC(switch_weight=float("nan")), r"switch_weight=nan is invalid: must be finite and >= 0"),
        (lambda: MPC(predictor="nope"), r"predictor='nope' is invalid: unknown predictor"),
        (lambda: RobustMPC(predictor=HarmonicMean(5)), r"predictor='harmonic' is invalid: must be a RobustDiscount"),
        (lambda: RobustMPC(horizon=-3), r"horizon=-3 is invalid: must be an integer >= 1"),
        (lambda: get_controller("mpc:safety=0.9"), r"parameters of 'mpc': predictor, horizon, rebuffer_weight, switch_weight"),
        (lambda: BBA1(cushion_s=0.0), r"cushion_s=0\.0 is invalid: must be finite and > 0"),
        (lambda: BBA1(lookahead_s=-5), r"lookahead_s=-5 is invalid: must be finite and > 0"),
        (lambda: BBA1(min_reservoir_s=-1), r"min_reservoir_s=-1 is invalid: must be finite and >= 0"),
        (lambda: BBA1(min_reservoir_s=10, max_reservoir_s=5), r"max_reservoir_s=5 is invalid: must be finite and >= 10"),
        (lambda: Profile(mpc_ties="middle"), r"mpc_ties='middle' is invalid: must be one of first, last"),
        (lambda: Profile(mpc_sizes_one_ahead=1), r"mpc_sizes_one_ahead=1 is invalid: must be True or False"),
        (lambda: Profile(carry_robust_errors="yes"), r"carry_robust_errors='yes' is invalid: must be True or False"),
    ],
)
def test_bad_parameters_are_rejected(call, message):
    with pytest.raises(ParameterError, match=message):
        call()


def test_pensieve_profile_sets_every_mpc_quirk_and_default_none():
    p, d = get_profile("pensieve"), get_profile("default")
    assert (p.mpc_sizes_one_ahead, p.mpc_plan_ignores_rtt, p.mpc_plan_ignores_buffer_cap, p.mpc_ties, p.carry_robust_errors) == (
        True, True, True, "last", True
    )
    assert (d.mpc_sizes_one_ahead, d.mpc_plan_ignores_rtt, d.mpc_plan_ignores_buffer_cap, d.mpc_ties, d.carry_robust_errors) == (
        False, False, False, "first", False
    )


def test_every_controller_id_is_distinct():
    ids = [RateBased().pack()[0], MPC().pack()[0], BBA1().pack()[0], BBA0().pack()[0]]
    assert len(set(ids)) == len(ids)
