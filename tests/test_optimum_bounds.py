"""The offline optimum's bounds: every input ends in bounded work (or is refused up front with
the reason), long searches stop on Ctrl-C, and none of it changes the answer where the search
is exact.

The reproducers of issue 11: ``--optimum`` on a 1 bps trace took 0.4 s at 1 chunk and 58 s at
8 (every download walked the trace period by period for ~10^5 loops); on a 6-rung VBR video
100/200/400 chunks took 1/7/29 s (fronts grow with the chunk index, so the work grew
quadratically), and neither could be interrupted.
"""

from __future__ import annotations

import itertools
import signal
import textwrap
import threading
import zlib

import numpy as np
import pytest

import reference
import reference_optimum
from _interrupt_child import interrupt_when_ready
from abrkit import ParameterError, QoE, Trace, Video, get_profile, run_batch
from abrkit import optimum as O
from abrkit._kernels import layout as L
from abrkit._kernels import network as N
from abrkit._kernels import optimum as K
from abrkit.optimum import MAX_RUNGS, MAX_SESSION_S, offline_optimum, offline_optimum_many

LADDER_KBPS = [300, 750, 1200, 1850, 2850, 4300]


def walked_qoe(trace: Trace, video: Video, rungs, qoe: QoE) -> float:
    """QoE of a rung sequence in the optimum's model (no buffer cap, no download limit), the
    default profile (no RTT), every download walked period by period by the session loop's own
    compiled ``network.transfer``: the slow, obvious way."""
    prof = get_profile("default")
    end_s, bw_bps, _, start_s, wrap_s = prof.kernel_trace(trace)
    ptr, clock_s, buffer_s = 0, start_s, 0.0
    rebuf = np.zeros(len(rungs))
    for k, r in enumerate(rungs):
        delay_s, ptr, clock_s, done = N.transfer(end_s, bw_bps, wrap_s, ptr, clock_s, video.sizes_bytes[k, r], 1.0, np.inf)
        assert done
        if k == 0:
            buffer_s = video.chunk_s  # the default profile: chunk 0's download is the startup
        else:
            rebuf[k] = max(delay_s - buffer_s, 0.0)
            buffer_s = max(buffer_s - delay_s, 0.0) + video.chunk_s
    return float(qoe.total(qoe.rewards(video, np.asarray(rungs), rebuf)))


# -- the reproducers ---------------------------------------------------------------------------


def test_one_bps_trace_is_solved_with_a_valid_bound():
    """Issue 11: 58 s at 8 chunks (and growing). Each download of ~1 MB at 1 bps spans ~10^5
    loops of the 10 s trace: past WALK_PERIODS periods it is computed in closed form."""
    trace = Trace.constant(1.0, 10.0, name="1bps")
    video = Video.synthetic_vbr(LADDER_KBPS, 4.0, 8, seed=1)
    result = offline_optimum(trace, video)
    assert result.status == "complete" and np.isfinite(result.qoe) and result.lower_bound <= result.qoe
    assert result.labels <= 8 * video.n_rungs and result.merges == 0
    # A real player abandons such downloads (max_download_s): the bound holds, but is not reached.
    assert result.long_download and not result.exact and "max_download_s=600 s" in result.reason
    # Its sequence scores its value when every download is walked period by period.
    assert walked_qoe(trace, video, result.rung, QoE.linear()) == pytest.approx(result.qoe, rel=1e-9)


def test_one_bps_optimum_is_the_best_sequence():
    """Brute force over every sequence (3 rungs, 4 chunks), each walked period by period."""
    trace = Trace.constant(1.0, 10.0, name="1bps")
    video = Video.synthetic_vbr(LADDER_KBPS[:3], 4.0, 4, seed=2)
    result = offline_optimum(trace, video)
    totals = [walked_qoe(trace, video, seq, QoE.linear()) for seq in itertools.product(range(3), repeat=4)]
    assert result.qoe == pytest.approx(max(totals), rel=1e-9)
    assert result.qoe >= max(totals) - 1e-9 * abs(max(totals))


def bumpy_trace(seed: int = 0, n: int = 300) -> Trace:
    rng = np.random.default_rng(seed)
    return Trace.from_durations(np.ones(n), rng.uniform(2e5, 5e6, n), name=f"bumpy{seed}")


def test_400_chunk_vbr_video_stays_within_the_work_bound():
    """Issue 11: 29 s at 400 chunks (quadratic). ``max_labels`` bounds the labels kept; fronts
    are merged past their share of it, and the value is still an upper bound on every
    controller, with the reason."""
    trace = bumpy_trace()
    video = Video.synthetic_vbr(LADDER_KBPS, 4.0, 400, seed=1)
    budget = 300_000
    result = offline_optimum(trace, video, max_labels=budget)
    assert result.status == "complete" and np.isfinite(result.qoe)
    assert result.labels <= budget + video.n_chunks * video.n_rungs
    assert result.capped > 0 and result.merges >= result.capped and not result.exact and result.rung is None
    assert result.reason.startswith("work bound:") and "max_labels=300,000" in result.reason
    assert result.lower_bound <= result.qoe
    sessions = run_batch([trace], video, ["bb", "bba0", "rate", "robustmpc"], "default", progress=False).sessions()
    assert (sessions["status"] == "complete").all()
    assert np.all(sessions["qoe"].to_numpy() <= result.qoe)
    row = offline_optimum_many([trace], video, max_labels=budget, progress=False).iloc[0]
    assert row["reason"] == result.reason and row["qoe"] == result.qoe
    assert result.settings()["max_labels"] == budget


def test_exact_results_have_no_reason_and_a_cap_below_the_need_merges():
    trace = bumpy_trace(1, 60)
    video = Video.synthetic_vbr(LADDER_KBPS, 4.0, 30, seed=1)
    exact = offline_optimum(trace, video)
    assert exact.exact and exact.reason == "" and exact.capped == 0
    tight = offline_optimum(trace, video, max_labels=exact.labels // 4)
    assert tight.capped > 0 and tight.qoe >= exact.qoe - 1e-9
    if not tight.exact:
        assert "work bound" in tight.reason


def test_huge_latency_is_skipped_over_not_walked():
    """A request latency of 50 minutes on a trace of 1 s periods crosses ~3,000 periods per
    request: it moves the clock in closed form (skip_advance)."""
    trace = Trace.from_durations(np.ones(60), np.full(60, 2e6), latency_s=np.full(60, 3000.0), name="far")
    video = Video.synthetic_vbr(LADDER_KBPS, 4.0, 20, seed=3)
    result = offline_optimum(trace, video)
    assert result.status == "complete" and np.isfinite(result.qoe) and result.lower_bound <= result.qoe
    sessions = run_batch([trace], video, ["bb", "rate"], get_profile("default").replace(max_download_s=7200.0),
                         progress=False).sessions()
    done = sessions[sessions["status"] == "complete"]["qoe"].to_numpy()
    assert np.all(done <= result.qoe + 1e-9 * np.abs(done))


# -- refused up front --------------------------------------------------------------------------


def test_a_session_that_could_outlast_the_limit_is_refused():
    slow = Trace.constant(1e-6, 10.0, name="glacial")
    video = Video.synthetic_vbr(LADDER_KBPS, 4.0, 400, seed=1)
    with pytest.raises(ParameterError, match=r"^trace='glacial' is invalid: carries 1e-06 bit/s .* past the offline "
                                             r"optimum's limit of 1e\+12 s"):
        offline_optimum(slow, video)
    assert MAX_SESSION_S == 1e12


def test_refusals_come_before_any_work(monkeypatch):
    video = Video.synthetic_vbr(LADDER_KBPS, 4.0, 400, seed=1)
    solved = []
    monkeypatch.setattr(O, "_solve", lambda *args, **kw: solved.append(args))
    with pytest.raises(ParameterError, match=r"^trace='glacial' is invalid"):
        offline_optimum_many([bumpy_trace(), Trace.constant(1e-6, 10.0, name="glacial")], video, progress=False)
    assert solved == []


def test_bad_work_bounds_and_ladders_are_refused():
    trace = bumpy_trace(2, 20)
    video = Video.synthetic_vbr(LADDER_KBPS, 4.0, 5, seed=1)
    with pytest.raises(ParameterError, match=r"^max_labels=0 is invalid: must be an integer >= 1"):
        offline_optimum(trace, video, max_labels=0)
    with pytest.raises(ParameterError, match=r"^max_labels=2.5 is invalid"):
        offline_optimum(trace, video, max_labels=2.5)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"^max_labels=2147483647 is invalid: max_labels \+ chunks x rungs"):
        offline_optimum(trace, video, max_labels=2**31 - 1)
    wide = Video.constant_bitrate(list(np.linspace(100, 20_000, MAX_RUNGS + 1)), 4.0, 2)
    with pytest.raises(ParameterError, match=r"has 1001 rungs; the offline optimum takes at most 1000"):
        offline_optimum(trace, wide)


# -- the pieces: closed-form network steps, the Pareto filter, blocks ------------------------


def random_network(rng: np.random.Generator):
    n = int(rng.integers(1, 8))
    start = float(rng.choice([0.0, rng.uniform(0.0, 2.0)]))
    ends = start + np.cumsum(rng.uniform(0.05, 3.0, n))
    bw = rng.uniform(1e3, 5e6, n)
    bw[rng.random(n) < 0.3] = 0.0
    bw[int(rng.integers(n))] = rng.uniform(1e3, 5e6)
    wrap = float(rng.choice([start, 0.0]))
    eff = float(rng.uniform(0.5, 1.0))
    cum = np.cumsum(bw / 8.0 * eff * np.diff(np.concatenate(([wrap], ends))))
    ptr = int(rng.integers(n))
    lo = max(wrap if ptr == 0 else ends[ptr - 1], start if ptr == 0 else -np.inf)
    clock = float(lo + rng.uniform(0.0, 0.999) * (ends[ptr] - lo))
    return ends, bw, wrap, eff, cum, ptr, clock


def test_requests_are_the_session_walk_while_short_and_close_to_it_after():
    rng = np.random.default_rng(11)
    short = long = 0
    for case in range(3000):
        ends, bw, wrap, eff, cum, ptr, clock = random_network(rng)
        spans = K.walk_spans(ends, wrap, K.WALK_PERIODS)
        # Sizes from a fraction of a period to ~1,000 loops of the trace.
        size = float(cum[-1] * 10.0 ** rng.uniform(-3.0, 3.0))
        lat = float(rng.choice([0.0, rng.uniform(0.0, 0.3), rng.uniform(0.0, 2000.0)]))
        moves = bool(rng.random() < 0.7)
        got = K.request_bounded(ends, bw, wrap, cum, spans, ptr, clock, size, eff, lat, moves)
        p, c = (N.advance_clock(ends, wrap, ptr, clock, lat) if moves and lat > 0.0 else (ptr, clock))
        walk_s, walk_ptr, walk_clock, _ = N.transfer(ends, bw, wrap, p, c, size, eff, np.inf)
        # The walks request_bounded allows: WALK_PERIODS periods from where each starts.
        lat_walk_s = spans[ptr] - (clock - (wrap if ptr == 0 else ends[ptr - 1]))
        if moves and lat > lat_walk_s or walk_s > spans[p] - (c - (wrap if p == 0 else ends[p - 1])):
            long += 1  # the closed form: equal up to rounding
            assert got[0] == pytest.approx(walk_s, rel=1e-9, abs=1e-6), case
            assert got[2] == pytest.approx(walk_clock, rel=1e-9, abs=1e-6), case
        else:
            short += 1  # the session loop's own walk, bit for bit
            assert got == (walk_s, walk_ptr, walk_clock), case
    assert short > 500 and long > 500


def test_skip_transfer_and_skip_advance_agree_with_walking():
    rng = np.random.default_rng(12)
    for case in range(2000):
        ends, bw, wrap, eff, cum, ptr, clock = random_network(rng)
        size = float(cum[-1] * 10.0 ** rng.uniform(-4.0, 3.0))
        want_s, want_ptr, want_clock, _ = reference.transfer(ends, bw, wrap, ptr, clock, size, eff, np.inf)
        got_s, got_ptr, got_clock = K.skip_transfer(ends, bw, wrap, cum, ptr, clock, size, eff)
        assert got_s == pytest.approx(want_s, rel=1e-9, abs=1e-9), case
        assert got_clock == pytest.approx(want_clock, rel=1e-9, abs=1e-9), case
        wait = float((ends[-1] - wrap) * 10.0 ** rng.uniform(-3.0, 3.0))
        want = reference.advance_clock(ends, wrap, ptr, clock, wait)
        got = K.skip_advance(ends, wrap, ptr, clock, wait)
        assert got[1] == pytest.approx(want[1], rel=1e-9, abs=1e-9), case
        if got[0] != want[0]:  # only at a period's boundary, by rounding
            assert min(abs(want[1] - e) for e in (*ends, wrap)) < 1e-6, case


@pytest.mark.parametrize("n", [1500, 200_000])
def test_pareto_keep_stays_fast_when_every_candidate_lands_first(n):
    """Rewards rising while scores fall: nothing dominates and every point enters its staircase
    in front (quadratic: 25 s at 160,000 candidates before). Past its move budget the staircase
    hands over to the Fenwick tree, which keeps the same candidates."""
    rng = np.random.default_rng(n)
    t = np.sort(rng.uniform(0.0, 100.0, n))
    reward = np.sort(rng.uniform(-5.0, 5.0, n))
    score = np.sort(rng.uniform(0.0, 50.0, n))[::-1].copy()
    rung = rng.integers(0, 2, n).astype(np.int64)
    slack = np.array([[0.0, 0.1], [0.1, 0.0]])
    order = np.arange(n, dtype=np.int64)
    keep, ranked = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    n_keep = K.pareto_keep(t, reward, score, rung, slack, order, keep)
    assert n_keep == K.pareto_keep_ranked(t, reward, score, rung, slack, order, ranked)
    np.testing.assert_array_equal(keep[:n_keep], ranked[:n_keep])
    if n <= 1500:
        want = np.empty(n, dtype=np.int64)
        assert n_keep == reference_optimum.pareto_keep(t, reward, score, rung, slack, order, want)
        np.testing.assert_array_equal(keep[:n_keep], want[:n_keep])


def test_any_split_into_blocks_gives_the_one_call_result():
    """optimum_start / optimum_steps / optimum_finish, with blocks of any size, are
    optimum_session (which the plain-Python reference checks) bit for bit."""
    rng = np.random.default_rng(zlib.crc32(b"blocks"))
    for case in range(400):
        args = reference_optimum._args_optimum_session(rng)
        (ends, bw, lat, start, wrap, sizes, utility, durations, n_chunks, prof, mu, lam, first,
         max_front, beam, lower, max_labels, rung, rebuf, buffer, stats) = args
        whole = [a.copy() for a in (rung, rebuf, buffer, stats)]
        status = K.optimum_session(*args[:17], *whole)
        tables, state = K.optimum_start(ends, bw, lat, start, wrap, sizes, utility, n_chunks, prof, mu, lam, lower)
        block = int(rng.choice([1, 2, 5, 10**6]))
        while state[-1][K.ST_STATUS] == K.ST_RUNNING:
            state = K.optimum_steps(ends, bw, wrap, sizes, utility, durations, n_chunks, prof, mu, lam, first,
                                    max_front, beam, max_labels, tables, state, block)
        parts = [a.copy() for a in (rung, rebuf, buffer, stats)]
        assert K.optimum_finish(ends, bw, lat, start, wrap, sizes, durations, n_chunks, prof, tables, state, *parts) == status
        for a, b in zip(whole, parts):
            np.testing.assert_array_equal(a, b, err_msg=f"case {case}")


def test_a_cancelled_search_stops_between_blocks(monkeypatch):
    trace = bumpy_trace(3, 100)
    video = Video.synthetic_vbr(LADDER_KBPS, 4.0, 60, seed=1)
    p = O._prepare(video, "default", None, O.DEFAULT_MAX_FRONT)
    cancel = threading.Event()
    calls = []
    steps = K.optimum_steps

    def counting(*args):
        calls.append(1)
        if len(calls) == 3:
            cancel.set()
        return steps(*args)

    monkeypatch.setattr(K, "optimum_steps", counting)
    monkeypatch.setattr(O, "_BLOCK_WORK", 1)
    out = (np.empty(60, np.int64), np.empty(60), np.empty(60), np.empty(K.OPT_STATS))
    with pytest.raises(O.Cancelled):
        O._search(p.profile.kernel_trace(trace), p, 0, -np.inf, cancel, *out)
    assert len(calls) == 3


def test_a_failing_trace_cancels_the_others(monkeypatch):
    video = Video.synthetic_vbr(LADDER_KBPS, 4.0, 10, seed=1)
    traces = [bumpy_trace(i, 30) for i in range(6)]
    solve = O._solve
    seen = []

    def failing(trace, p, cancel=None):
        seen.append(cancel)
        if trace.name == "bumpy2":
            raise RuntimeError("boom")
        return solve(trace, p, cancel)

    monkeypatch.setattr(O, "_solve", failing)
    with pytest.raises(RuntimeError, match="boom"):
        offline_optimum_many(traces, video, n_workers=2, progress=False)
    assert seen[0] is not None and seen[0].is_set()  # the workers' shared cancel event


def test_ctrl_c_handling_leaves_signal_handlers_alone():
    trace, video = bumpy_trace(4, 20), Video.synthetic_vbr(LADDER_KBPS, 4.0, 5, seed=1)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    offline_optimum(trace, video)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    mine = lambda signum, frame: None  # noqa: E731  (an application's own handler stays in place)
    previous = signal.signal(signal.SIGINT, mine)
    try:
        offline_optimum(trace, video)
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, previous)
    results = []  # off the main thread nothing is installed (Python allows it only there)
    worker = threading.Thread(target=lambda: results.append(offline_optimum(trace, video).qoe))
    worker.start()
    worker.join()
    assert results == [offline_optimum(trace, video).qoe]


# -- Ctrl-C in a real process ----------------------------------------------------------------

CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from abrkit import Trace, Video
    from abrkit.optimum import offline_optimum, offline_optimum_many
    rng = np.random.default_rng(0)
    video = Video.synthetic_vbr([300, 750, 1200, 1850, 2850, 4300], 4.0, 400, seed=1)
    traces = [Trace.from_durations(np.ones(300), rng.uniform(2e5, 5e6, 300), name=f"t{i}") for i in range(4)]
    offline_optimum(traces[0], video.truncated(3))  # compiled (or loaded from the cache) before timing
    print("ready", flush=True)
    try:
        if sys.argv[1] == "one":
            offline_optimum(traces[0], video)  # ~10 s of work (max_labels)
        else:
            offline_optimum_many(traces, video, n_workers=2, progress=False)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        raise
    print("finished", flush=True)
""")


@pytest.mark.parametrize("mode", ["one", "many"])
def test_ctrl_c_stops_a_long_search_promptly(mode):
    returncode, out, err, waited_s = interrupt_when_ready(CHILD, mode)
    assert out.split() == ["interrupted"], err
    assert err.rstrip().endswith("KeyboardInterrupt"), err  # not SystemError from Numba's boxing
    assert returncode == -signal.SIGINT
    # A block of work is ~0.1 s and one chunk at most ~1 s on a loaded machine; this allows for
    # interpreter shutdown on a busy one.
    assert waited_s < 5.0


def test_status_codes_are_the_simulators():
    assert K.ST_RUNNING not in (L.STATUS_COMPLETE, L.STATUS_STALLED, L.STATUS_NO_BANDWIDTH)
