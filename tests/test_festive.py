"""FESTIVE kernels (abrkit._kernels.festive) against the plain-Python reference and hand-worked
cases from Pensieve's dash.js AbrController.js."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abrkit._kernels.festive import (
    FESTIVE_DEFAULTS,
    FESTIVE_MAX_WINDOW,
    FESTIVE_N_PARAMS,
    FESTIVE_S_LAST_ESTIMATE_BPS,
    FESTIVE_S_UP_COUNT,
    FESTIVE_STATE_SIZE,
    festive_decide,
    festive_estimate,
    festive_params,
    festive_report,
)
from reference_festive import ReferenceFestive

MBPS = 1e6


class Session:
    """The kernels driven the way the session loop drives them."""

    def __init__(self, bitrates_bps, **params):
        self.bitrates_bps = np.asarray(bitrates_bps, dtype=np.float64)
        self.cparams = festive_params(**params)
        self.cstate = np.zeros(FESTIVE_STATE_SIZE)
        self.k = 0

    def decide(self, prev_rung, buffer_s=10.0):
        return festive_decide(self.cparams, self.cstate, self.k, buffer_s, prev_rung, self.bitrates_bps)

    def report(self, rung, size_bytes, download_s):
        festive_report(self.cparams, self.cstate, self.k, rung, size_bytes, download_s)
        self.k += 1

    @property
    def estimate_bps(self):
        return festive_estimate(self.cparams, self.cstate)


def run_steady(bitrates_bps, n_chunks, throughput_bps, chunk_s=4.0, **params):
    """Rungs chosen over ``n_chunks`` when every chunk downloads at ``throughput_bps``."""
    s = Session(bitrates_bps, **params)
    rungs = []
    prev = -1
    for _ in range(n_chunks):
        rung = s.decide(prev)
        rungs.append(rung)
        size_bytes = s.bitrates_bps[rung] * chunk_s / 8
        s.report(rung, size_bytes, size_bytes * 8 / throughput_bps)
        prev = rung
    return rungs


def test_layout():
    assert FESTIVE_STATE_SIZE <= 32
    assert len(FESTIVE_DEFAULTS) == FESTIVE_N_PARAMS
    np.testing.assert_array_equal(festive_params(), np.array(FESTIVE_DEFAULTS))
    assert festive_params().dtype == np.float64


# -- hand-computed cases --------------------------------------------------------------------------


def test_up_switch_delay_grows_with_rung_index():
    # Unbounded throughput: the target is always the top rung. From rung i an up-switch needs
    # more than i consecutive up signals, and is then taken because staying scores worse:
    # from 1: stay 2^0 + 12 |1/2 - 1| = 7 > move 2^1 = 2; from 2: stay 2^1 + 12 |2/3 - 1| = 6 >
    # 2^2 = 4 (one switch among the last 5 chunks); from 3: 2^1 + 3 = 5 > 4; from 4: 2^0 + 2 = 3 > 2.
    rungs = run_steady([1 * MBPS, 2 * MBPS, 3 * MBPS, 4 * MBPS, 5 * MBPS, 6 * MBPS], 17, 1e12)
    assert rungs == [1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5]


def test_up_switch_delay_is_a_parameter():
    ladder = [1 * MBPS, 2 * MBPS, 3 * MBPS, 4 * MBPS]
    # a threshold of 0 at every rung: one up signal suffices
    assert run_steady(ladder, 5, 1e12, up_delay_per_rung=0.0) == [1, 2, 3, 3, 3]
    # threshold = rung + 1: from rung 1 three signals
    assert run_steady(ladder, 5, 1e12, up_delay_offset=1.0) == [1, 1, 1, 2, 2]


def test_first_chunk_uses_initial_rung():
    s = Session([1 * MBPS, 2 * MBPS, 3 * MBPS])
    assert s.decide(-1) == 1
    assert Session([1 * MBPS], initial_rung=1).decide(-1) == 0
    assert Session([1 * MBPS, 2 * MBPS, 3 * MBPS], initial_rung=7).decide(-1) == 2
    # the first decision logs nothing and keeps no estimate
    assert not s.cstate.any()


def test_down_one_rung_at_a_time():
    # a collapse to 0.1 Mbit/s: target rung 0, but the rung falls one step per chunk
    rungs = run_steady([1 * MBPS, 2 * MBPS, 3 * MBPS, 4 * MBPS, 5 * MBPS, 6 * MBPS], 8, 0.1 * MBPS, initial_rung=5)
    assert rungs == [5, 4, 3, 2, 1, 0, 0, 0]


def _after_history(prev_rungs, throughput_bps=5 * MBPS):
    """A session whose decisions saw ``prev_rungs`` as the previous chunk's rung, each chunk
    downloaded at ``throughput_bps``; returns the last decision."""
    s = Session([4 * MBPS, 5 * MBPS])
    s.decide(-1)
    rung = -1
    for prev in prev_rungs:
        s.report(prev, throughput_bps * 2 / 8, 2.0)
        rung = s.decide(prev)
    return rung


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([1, 1, 1, 1, 1], 0),  # n = 0: move 2^1 = 2 < stay 2^0 + 3 = 4
        ([0, 1, 1, 1, 1], 0),  # n = 1: 4 < 5
        ([1, 1, 1, 0, 1], 1),  # n = 2: 8 > 7
        ([1, 1, 0, 1, 1], 1),  # n = 2
        ([0, 1, 0, 1, 1], 1),  # n = 3: 16 > 11
        ([1, 0, 1, 0, 1, 1, 1, 1, 1], 0),  # the switches are older than the last five chunks
        ([1, 0, 1, 0, 1, 1, 1, 1], 0),  # one of them still inside: n = 1
        ([1, 0, 1, 0, 1, 1, 1], 1),  # two inside: n = 2
    ],
)
def test_stability_score_blocks_switch_after_recent_switches(history, expected):
    # Ladder [4, 5] Mbit/s, every chunk at 5 Mbit/s: 0.85 x 5 = 4.25 < 5, so from rung 1 the target
    # and the reference rung are 0; min(estimate, 4) = 4, so moving scores 2^(n + 1) and staying
    # 2^n + 12 |5/4 - 1| = 2^n + 3, n being the rung changes among the last five chunks (the
    # previous one included): the step down is taken only for n <= 1.
    assert _after_history(history) == expected


def _one_sample(bitrates_bps, throughput_bps, **params):
    s = Session(bitrates_bps, **params)
    s.decide(-1)
    s.report(1, throughput_bps * 2 / 8, 2.0)
    return s


@pytest.mark.parametrize(("alpha", "expected"), [(1.0 / 3.0, 2), (2.0, 2), (2.0001, 1), (12.0, 1)])
def test_switch_only_when_it_scores_lower(alpha, expected):
    # Ladder [3, 6, 9] Mbit/s at 6.5 Mbit/s: 0.85 x 6.5 = 5.525, target rung 0, from rung 2 the
    # reference rung is 1 and min(6.5, 6) = 6. Staying scores 2^0 + alpha |9/6 - 1| = 1 + alpha/2,
    # moving 2^1 + 0 = 2: at alpha = 2 an exact tie, which keeps the current rung (JS: <=).
    s = _one_sample([3 * MBPS, 6 * MBPS, 9 * MBPS], 6.5 * MBPS, alpha=alpha)
    assert s.decide(2) == expected


def test_download_time_floor():
    s = Session([1 * MBPS, 5 * MBPS, 10 * MBPS, 50 * MBPS])
    s.decide(-1)
    s.report(2, 1e5, 0.01)  # 100 kB in 10 ms: counted as 0.1 s, 8 Mbit/s (not 80)
    assert s.estimate_bps == pytest.approx(8 * MBPS, rel=1e-15)
    # 0.85 x 8 = 6.8 -> target rung 1 below the current 2: stay 1 + 12 |10/5 - 1| = 13 > 2 -> down.
    # Without the floor the target would be rung 3 and the rung would stay at 2.
    assert s.decide(2) == 1
    assert s.cstate[FESTIVE_S_LAST_ESTIMATE_BPS] == s.estimate_bps
    s = Session([1 * MBPS, 5 * MBPS, 10 * MBPS, 50 * MBPS], min_download_s=0.001)
    s.decide(-1)
    s.report(2, 1e5, 0.01)
    assert s.estimate_bps == pytest.approx(80 * MBPS, rel=1e-15)
    assert s.decide(2) == 2


def test_estimate_is_time_weighted_harmonic_mean_of_last_five():
    s = Session([1 * MBPS])
    assert s.estimate_bps == 0.0  # the JS returns 0 before any download
    s.report(0, 1e6, 1.0)  # 8 Mbit/s for 1 s
    s.report(0, 1e6, 4.0)  # 2 Mbit/s for 4 s
    # sum(t) / sum(t / x) = 5 / (1/8 + 4/2) Mbit/s = 40/17; a byte-weighted or plain harmonic mean
    # would give 3.2
    assert s.estimate_bps == pytest.approx(40 / 17 * MBPS, rel=1e-14)
    for _ in range(4):
        s.report(0, 1e6, 2.0)  # 4 Mbit/s
    # six samples: the 8 Mbit/s one has left the window of five
    assert s.estimate_bps == pytest.approx(12 / (4 / 2 + 4 * 2 / 4) * MBPS, rel=1e-14)


def test_up_count_resets_when_target_equals_current():
    # Ladder [1, 2, 3] Mbit/s: from rung 1 an up-switch needs two consecutive up signals.
    s = Session([1 * MBPS, 2 * MBPS, 3 * MBPS])
    s.decide(-1)
    s.report(1, 1e6, 0.1)  # 80 Mbit/s: target 2, first up signal
    assert s.decide(1) == 1 and s.cstate[FESTIVE_S_UP_COUNT] == 1
    s.report(1, 3e6 / 8, 1.0)  # estimate 1.1 / (0.1/80 + 1/3) = 3.29 Mbit/s: target 1, count reset
    assert s.decide(1) == 1 and s.cstate[FESTIVE_S_UP_COUNT] == 0
    s.report(1, 1e7, 0.1)  # estimate 3.59 Mbit/s: target 2 again, but only the first signal
    assert s.decide(1) == 1 and s.cstate[FESTIVE_S_UP_COUNT] == 1
    s.report(1, 1e7, 0.1)  # second consecutive signal: 2 > 1, and staying scores
    # 1 + 12 |2/3 - 1| = 5 against 2 for the move
    assert s.decide(1) == 2 and s.cstate[FESTIVE_S_UP_COUNT] == 0


# -- kernel == reference on random sessions ---------------------------------------------------------


@st.composite
def sessions(draw):
    n_rungs = draw(st.integers(1, 8))
    rates = sorted(set(draw(st.lists(st.floats(5e4, 2e7), min_size=n_rungs, max_size=n_rungs))))
    params = {
        "window": draw(st.integers(1, FESTIVE_MAX_WINDOW)),
        "min_download_s": draw(st.just(0.1) | st.floats(1e-3, 1.0)),
        "p": draw(st.just(0.85) | st.floats(0.3, 1.2)),
        "alpha": draw(st.just(12.0) | st.floats(0.0, 30.0)),
        "switch_window": draw(st.integers(1, FESTIVE_MAX_WINDOW)),
        "up_delay_per_rung": draw(st.just(1.0) | st.floats(0.0, 3.0)),
        "up_delay_offset": draw(st.just(0.0) | st.floats(-1.0, 3.0)),
        "initial_rung": draw(st.integers(0, 9)),
        "stability_base": draw(st.just(2.0) | st.sampled_from([1.0, 1.5, 3.0])),
    }
    n_chunks = draw(st.integers(1, 60))
    steps = draw(st.lists(
        st.tuples(
            st.floats(0.0, 30.0),  # buffer_s (ignored by FESTIVE)
            st.floats(0.3, 3.0),  # size = bitrate x 4 s / 8 x this
            st.floats(0.0, 12.0) | st.just(0.0) | st.floats(0.0, 0.12),  # download_s
        ),
        min_size=n_chunks, max_size=n_chunks,
    ))
    return rates, params, steps


@settings(max_examples=300)
@given(sessions())
def test_kernel_equals_reference(session):
    rates, params, steps = session
    kernel = Session(rates, **params)
    ref = ReferenceFestive(**params)
    prev = -1
    for k, (buffer_s, size_factor, download_s) in enumerate(steps):
        got = kernel.decide(prev, buffer_s)
        want = ref.decide(prev, rates)
        assert got == want, f"chunk {k}"
        assert 0 <= got < len(rates)
        if prev >= 0:
            assert abs(got - min(prev, len(rates) - 1)) <= 1  # one rung at a time
            assert kernel.cstate[FESTIVE_S_LAST_ESTIMATE_BPS] == ref.estimates[-1]
        size_bytes = rates[got] * 4.0 / 8 * size_factor
        kernel.report(got, size_bytes, download_s)
        ref.report(size_bytes, download_s)
        assert kernel.estimate_bps == ref.estimate()
        prev = got


@settings(max_examples=200)
@given(sessions(), st.lists(st.integers(0, 7), min_size=60, max_size=60))
def test_kernel_equals_reference_for_any_previous_rung(session, prevs):
    # The loop may hand FESTIVE a rung it did not choose (a player-side override): both agree.
    rates, params, steps = session
    kernel = Session(rates, **params)
    ref = ReferenceFestive(**params)
    assert kernel.decide(-1) == ref.decide(-1, rates)
    for k, (buffer_s, size_factor, download_s) in enumerate(steps):
        prev = prevs[k] % len(rates)
        size_bytes = rates[prev] * 4.0 / 8 * size_factor
        kernel.report(prev, size_bytes, download_s)
        ref.report(size_bytes, download_s)
        assert kernel.decide(prev, buffer_s) == ref.decide(prev, rates), f"chunk {k}"
        assert kernel.cstate[FESTIVE_S_UP_COUNT] == ref.switch_up_count
