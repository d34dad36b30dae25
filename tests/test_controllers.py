"""Controller decision functions (golden values worked out by hand), specs and their parsing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference
from abrkit import BBA0, CONTROLLERS, BufferBased, Controller, FixedRung, ParameterError, RateBased, get_controller
from abrkit._kernels import layout as L
from abrkit._kernels import contract
from abrkit._kernels.controllers import bb_pensieve, bba0, highest_below
from abrkit._kernels.predictors import harmonic_mean_last
from abrkit.predictors import DualEwma, HarmonicMean, KalmanLog, Oracle, RobustDiscount, SlidingWindow

# Pensieve's ladder; BBA-0's rate map over it with reservoir 5 s and cushion 10 s is
# f(B) = 300 + 400 * (B - 5) kbps for 5 < B < 15.
LADDER_BPS = np.array([300, 750, 1200, 1850, 2850, 4300], dtype=np.float64) * 1e3


# -- Pensieve's buffer-based rule -------------------------------------------------------------

@pytest.mark.parametrize(
    "buffer_s, expected",
    [
        (0.0, 0), (4.999, 0),  # below the reservoir
        (5.0, 0),  # int(5 * 0 / 10)
        (6.9, 0),  # int(0.95)
        (7.0, 1),  # int(5 * 2 / 10) = int(1.0)
        (9.0, 2),  # int(2.0)
        (10.99, 2),  # int(2.995)
        (11.0, 3),  # int(3.0)
        (13.0, 4),  # int(4.0)
        (14.999, 4),  # int(4.9995)
        (15.0, 5), (60.0, 5),  # reservoir + cushion and above: the top
    ],
)
def test_bb_pensieve_golden(buffer_s, expected):
    assert bb_pensieve(buffer_s, 6, 5.0, 10.0) == expected
    assert reference.bb_pensieve(buffer_s, 6, 5.0, 10.0) == expected


def test_bb_pensieve_other_parameters():
    # reservoir 2 s, cushion 4 s, three rungs: int(2 * (B - 2) / 4).
    assert [bb_pensieve(b, 3, 2.0, 4.0) for b in (1.9, 2.0, 3.9, 4.0, 5.9, 6.0)] == [0, 0, 0, 1, 1, 2]
    assert bb_pensieve(3.0, 1, 2.0, 4.0) == 0  # one rung: always it


@settings(max_examples=200)
@given(
    buffers=st.lists(st.floats(0.0, 100.0), min_size=2, max_size=20),
    n_rungs=st.integers(1, 12),
    reservoir_s=st.floats(0.0, 30.0),
    cushion_s=st.floats(0.01, 60.0),
)
def test_bb_rung_never_decreases_as_the_buffer_grows(buffers, n_rungs, reservoir_s, cushion_s):
    rungs = [bb_pensieve(b, n_rungs, reservoir_s, cushion_s) for b in sorted(buffers)]
    assert rungs == sorted(rungs)
    assert all(0 <= r < n_rungs for r in rungs)


# -- BBA-0 (Huang et al. 2014, Algorithm 1) ----------------------------------------------------

@pytest.mark.parametrize(
    "buffer_s, prev_rung, expected",
    [
        # Below the reservoir: the lowest rate; from reservoir + cushion on: the highest.
        (4.0, 5, 0), (0.0, 3, 0), (15.0, 0, 5), (40.0, 2, 5),
        # f = 700 kbps lies between 300 and 750: stay at 300 or 750 ...
        (6.0, 0, 0), (6.0, 1, 1),
        # ... but from 1850 (Rate- = 1200 >= 700) drop to the lowest rate above f: 750.
        (6.0, 3, 1), (6.0, 5, 1),
        # f = 1100 >= Rate+ = 750 from rung 0: up to the highest rate below f, 750.
        (7.0, 0, 1),
        # f = 1900 from 300 (Rate+ 750) or 1200 (Rate+ 1850): up to the highest rate below f, 1850.
        (9.0, 0, 3), (9.0, 2, 3),
        # f = 1900 from 1850 (Rate+ 2850, Rate- 1200) or 2850 (Rate+ 4300, Rate- 1850): no change.
        (9.0, 3, 3), (9.0, 4, 4),
        # f = 1900 <= Rate- = 2850 from 4300: down to the lowest rate above f, 2850.
        (9.0, 5, 4),
        # f = 1850 exactly: from 1200, f >= Rate+ but the highest rate *below* f is 1200 itself.
        (8.875, 2, 2),
        # f = 1200 exactly, from 1850: f <= Rate-, the lowest rate *above* f is 1850: stay.
        (7.25, 3, 3),
        # No previous rung (first chunk) counts as the lowest.
        (6.0, -1, 0), (9.0, -1, 3),
    ],
)
def test_bba0_golden(buffer_s, prev_rung, expected):
    assert bba0(buffer_s, prev_rung, LADDER_BPS, 5.0, 10.0) == expected
    assert reference.bba0(buffer_s, prev_rung, LADDER_BPS, 5.0, 10.0) == expected


def test_bba0_hysteresis_along_a_buffer_path():
    # The buffer rises then falls; the rate follows the map only when it crosses a neighbour.
    path = [4.0, 6.0, 7.0, 8.0, 9.0, 10.0, 12.0, 9.5, 8.5, 7.5, 6.5, 5.5]
    # f:      -   700 1100 1500 1900 2300 3100 2100 1700 1300 900  500
    expected = [0, 0, 1, 2, 3, 3, 4, 4, 3, 3, 2, 1]
    got, prev = [], -1
    for b in path:
        prev = bba0(b, prev, LADDER_BPS, 5.0, 10.0)
        got.append(prev)
    assert got == expected


@pytest.mark.parametrize("prev_rung", [0, 2, 5])
def test_bba0_at_the_reservoir_is_the_lowest_rate(prev_rung):
    assert reference.bba0(5.0, prev_rung, LADDER_BPS, 5.0, 10.0) == 0
    assert bba0(5.0, prev_rung, LADDER_BPS, 5.0, 10.0) == 0


def test_bba0_single_rung_ladder():
    one = np.array([1e6])
    assert [bba0(b, 0, one, 5.0, 10.0) for b in (0.0, 7.0, 20.0)] == [0, 0, 0]


# -- rate-based rule and its predictor ---------------------------------------------------------

def test_harmonic_mean_last_golden():
    samples = np.array([1e6, 2e6, 4e6])
    # 3 / (1/1 + 1/2 + 1/4) Mbit/s = 12/7 Mbit/s
    assert harmonic_mean_last(samples, 3) == pytest.approx(12e6 / 7, rel=1e-15)
    assert harmonic_mean_last(samples, 10) == pytest.approx(12e6 / 7, rel=1e-15)  # fewer than the window
    assert harmonic_mean_last(samples, 2) == pytest.approx(2 / (1 / 2e6 + 1 / 4e6), rel=1e-15)  # 8/3 Mbit/s
    assert harmonic_mean_last(samples, 1) == 4e6
    assert harmonic_mean_last(np.zeros(0), 5) == 0.0


def test_highest_below_golden():
    assert highest_below(LADDER_BPS, 1.2e6) == 2  # equal counts as fitting
    assert highest_below(LADDER_BPS, 1.19e6) == 1
    assert highest_below(LADDER_BPS, 1e9) == 5
    assert highest_below(LADDER_BPS, 1e5) == 0  # nothing fits: the lowest


def decide(ctrl_id, cparams, k, buffer_s, prev_rung, ladder_bps, est_bps):
    """The rung ``contract.choose`` picks (what every loop calls) for a controller without a plan."""
    cstate = np.zeros(L.CTRL_STATE + 3 * ladder_bps.size)
    sizes = np.outer(np.ones(k + 1), ladder_bps)
    rung, wait_s = contract.choose(ctrl_id, cparams, cstate, np.zeros(0, dtype=np.float32), k, k + 1, buffer_s, prev_rung, ladder_bps, sizes,
                                   np.full(k + 1, 4.0),
                                   est_bps, np.nan, 0.0, np.zeros(L.PROF_SIZE))
    assert wait_s == 0.0
    return rung


def _rate_decision(est_bps, safety):
    cparams = np.zeros(L.CTRL_PARAMS)
    cparams[0] = safety
    cparams[L.CPARAM_ID] = L.CTRL_RATE  # a packed vector carries its controller's id
    return decide(L.CTRL_RATE, cparams, 3, 0.0, 0, LADDER_BPS, est_bps)


def test_rate_based_golden():
    # The rule sees only the predictor's estimate: highest rung <= safety x estimate.
    assert _rate_decision(np.nan, 0.9) == 0  # no estimate yet: the lowest rung
    assert _rate_decision(np.inf, 0.9) == 0  # nor a nonsense one
    # 0.9 x 12/7 Mbit/s (the harmonic mean of 1, 2, 4 Mbit/s) = 1.543 Mbit/s -> 1200 kbps
    assert _rate_decision(12e6 / 7, 0.9) == 2
    # 0.9 x 4 = 3.6 Mbit/s -> 2850 kbps
    assert _rate_decision(4e6, 0.9) == 4
    # 0.8 x 8/3 = 2.133 Mbit/s -> 1850 kbps
    assert _rate_decision(8e6 / 3, 0.8) == 3
    # a budget exactly on a rung takes it; just under it does not
    assert _rate_decision(1.2e6, 1.0) == 2 and _rate_decision(1.2e6 * (1 - 1e-12), 1.0) == 1
    assert _rate_decision(1.0, 0.9) == 0 and _rate_decision(1e12, 0.5) == 5
    assert reference.rate_based(12e6 / 7, LADDER_BPS, 0.9) == 2
    assert reference.rate_based(float("nan"), LADDER_BPS, 0.9) == 0


def test_rate_based_with_a_predictor_in_the_session_loop():
    # Chunk k's rung comes from the predictor's estimate after chunks 0..k-1: with the last
    # sample and safety 1, a link that delivers exactly 1.85 Mbit/s makes chunk 1 pick 1850 kbps.
    from abrkit import Trace, Video, simulate
    from abrkit.predictors import LastSample

    video = Video.constant_bitrate([300, 750, 1200, 1850, 2850, 4300], 4.0, 4)
    trace = Trace.constant(1.85e6, name="steady")  # the default profile: all payload, no latency
    result = simulate(trace, video, RateBased(predictor=LastSample(), safety=1.0), "default")
    sample = result.throughput_bps
    np.testing.assert_allclose(sample, 1.85e6, rtol=1e-12)
    assert result.rung[0] == 0  # no estimate before the first download
    assert all(r == (3 if s >= 1.85e6 else 2) for r, s in zip(result.rung[1:], sample[:-1]))


def test_decide_dispatches_every_controller():
    for ctrl in (BufferBased(), BBA0(), RateBased(), FixedRung(rung=3), FixedRung(rung=50)):
        ctrl_id, cparams = ctrl.pack()
        for est in (np.nan, 2e6):
            got = decide(ctrl_id, cparams, 0, 9.0, 2, LADDER_BPS, est)
            assert got == reference.decide(ctrl_id, cparams, 0, 9.0, 2, LADDER_BPS, est)
    assert decide(L.CTRL_FIXED, FixedRung(rung=50).pack()[1], 0, 0.0, 0, LADDER_BPS, np.nan) == 5  # clipped
    assert decide(L.CTRL_BB_PENSIEVE, BufferBased().pack()[1], 0, 9.0, 0, LADDER_BPS, np.nan) == 2
    with pytest.raises(ValueError, match="unknown controller id 99"):
        decide(99, np.zeros(L.CTRL_PARAMS), 0, 9.0, 0, LADDER_BPS, 1e6)


# -- specs: packing, names, parsing, validation -------------------------------------------------

def test_pack_layout():
    assert BufferBased(3.0, 12.0).pack()[0] == L.CTRL_BB_PENSIEVE
    np.testing.assert_array_equal(BufferBased(3.0, 12.0).pack()[1][:4], [3.0, 12.0, 0.0, 0.0])
    np.testing.assert_array_equal(BBA0().pack()[1][:4], [5.0, 10.0, 0.0, 0.0])
    rate = RateBased(predictor=HarmonicMean(3), safety=0.8)
    assert rate.pack()[0] == L.CTRL_RATE
    np.testing.assert_array_equal(rate.pack()[1][:4], [0.8, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(FixedRung(4).pack()[1][:4], [4.0, 0.0, 0.0, 0.0])
    for ctrl in (BufferBased(), RateBased(), FixedRung(4)):
        assert not ctrl.pack()[1][4:L.CPARAM_ID].any() and ctrl.pack()[1][L.CPARAM_ID] == ctrl.kernel_id
    for ctrl in (BufferBased(), BBA0(), RateBased(), FixedRung()):
        assert ctrl.pack()[1].shape == (L.CTRL_PARAMS,) and ctrl.pack()[1].dtype == np.float64


def test_pack_predictor():
    pid, p, n_state = RateBased(predictor=HarmonicMean(3)).pack_predictor()
    assert pid == L.PRED_HARMONIC and p.shape == (L.PRED_PARAMS,) and p[0] == 3.0 and n_state == 2 + 3
    assert RateBased().predictor == HarmonicMean(5)  # MPC's estimator by default
    for ctrl in (BufferBased(), BBA0(), FixedRung()):
        assert ctrl.predictor_spec() is None
        pid, p, n_state = ctrl.pack_predictor()
        assert pid == L.PRED_NONE and not p.any() and n_state == 1


def test_names_and_settings():
    assert BufferBased().name == "bb"
    assert RateBased(safety=0.8).name == "rate(safety=0.8)"
    assert RateBased(predictor=HarmonicMean(3), safety=0.8).name == "rate(predictor=harmonic(window=3), safety=0.8)"
    assert RateBased(predictor=DualEwma.dashjs()).name == "rate(predictor=dashjs)"
    assert RateBased(predictor=RobustDiscount()).name == "rate(predictor=robust)"
    assert FixedRung(2).settings() == {"controller": "fixed", "rung": 2}
    assert RateBased(predictor=KalmanLog(quantile=0.1)).settings() == {
        "controller": "rate",
        "predictor": {"predictor": "kalman", "quantile": 0.1, "process_var_per_s": 0.015, "measurement_var": 0.03,
                      "initial_var": 0.03},
        "safety": 0.9,
    }
    assert set(CONTROLLERS) == {
        "bb", "bba0", "bba1", "rate", "fixed", "mpc", "robustmpc", "festive", "pensieve", "learned", "dashjs5", "hlsjs",
        "bola", "bolae", "throughput", "dynamic", "dynamicdash", "dashjs", "dashjs4",  # Sabre's rules
        "l2a", "lolp",  # dash.js's low-latency rules (abrkit.live_controllers)
    }


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("bb", BufferBased()),
        ("BBA0", BBA0()),
        (" rate ", RateBased()),
        ("rate:predictor=harmonic(window=3),safety=0.8", RateBased(predictor=HarmonicMean(3), safety=0.8)),
        ("rate:safety=0.8,predictor=harmonic(window=3)", RateBased(predictor=HarmonicMean(3), safety=0.8)),
        ("rate(predictor=harmonic:window=2, safety=1)", RateBased(predictor=HarmonicMean(2), safety=1)),
        ("rate:predictor=dashjs", RateBased(predictor=DualEwma.dashjs())),
        ("rate:predictor=oracle,safety=1.0", RateBased(predictor=Oracle(), safety=1.0)),
        ("rate:predictor=sabre-window(windows=3/10)", RateBased(predictor=SlidingWindow((3, 10)))),
        (
            "rate:predictor=robust(base=kalman(quantile=0.25),window=3)",
            RateBased(predictor=RobustDiscount(KalmanLog(quantile=0.25), 3)),
        ),
        ("bb:reservoir_s=8,cushion_s=20.5", BufferBased(8, 20.5)),
        ("bba0:cushion_s=30", BBA0(cushion_s=30)),
        ("fixed:rung=4", FixedRung(4)),
        ("rate:", RateBased()),
    ],
)
def test_get_controller_parses_specs(spec, expected):
    got = get_controller(spec)
    assert got == expected and type(got) is type(expected)


def test_get_controller_passes_instances_and_keyword_parameters():
    ctrl = RateBased(predictor=HarmonicMean(2))
    assert get_controller(ctrl) is ctrl
    assert get_controller("rate", predictor=HarmonicMean(4)) == RateBased(predictor=HarmonicMean(4))
    assert get_controller("rate", predictor="harmonic:window=4") == RateBased(predictor=HarmonicMean(4))
    assert RateBased(predictor="shaka").predictor == DualEwma.shaka()  # a name works too
    assert isinstance(get_controller("fixed"), Controller)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: get_controller("nosuch"), r"controller='nosuch' is invalid: unknown controller; known: bb, bba0, bba1, bola, bolae"),
        (lambda: get_controller("rate:safety"), r"controller='rate:safety' is invalid: parameter 'safety' must look like name=value"),
        (lambda: get_controller("rate:alpha=1"), r"controller='rate:alpha=1' is invalid: .*parameters of 'rate': predictor, safety"),
        (lambda: get_controller("rate:window=3"), r"controller='rate:window=3' is invalid: .*parameters of 'rate': predictor, safety"),
        (lambda: get_controller("rate:predictor=harmonic(window=0)"), r"window=0 is invalid: must be an integer >= 1"),
        (lambda: get_controller("rate:predictor=harmonic(window=2.5)"), r"window=2\.5 is invalid: must be an integer >= 1"),
        (lambda: get_controller("rate:predictor=crystal-ball"), r"predictor='crystal-ball' is invalid: unknown predictor; known: dashjs"),
        (lambda: RateBased(predictor=42), r"predictor=42 is invalid: must be a predictor name or a Predictor instance"),
        (lambda: get_controller(42), r"controller=42 is invalid: must be a controller name or a Controller instance"),
        (lambda: get_controller(BufferBased(), reservoir_s=3), r"params=\{'reservoir_s': 3\} is invalid: cannot be combined"),
        (lambda: RateBased(safety=0), r"safety=0 is invalid: must be finite and > 0"),
        (lambda: RateBased(safety=float("inf")), r"safety=inf is invalid: must be finite and > 0"),
        (lambda: RateBased(predictor=HarmonicMean(window=True)), r"window=True is invalid: must be an integer >= 1"),
        (lambda: BufferBased(reservoir_s=-1.0), r"reservoir_s=-1\.0 is invalid: must be finite and >= 0"),
        (lambda: BufferBased(cushion_s=0.0), r"cushion_s=0\.0 is invalid: must be finite and > 0"),
        (lambda: BBA0(reservoir_s=float("nan")), r"reservoir_s=nan is invalid: must be finite and >= 0"),
        (lambda: BBA0(cushion_s=-2), r"cushion_s=-2 is invalid: must be finite and > 0"),
        (lambda: FixedRung(rung=-1), r"rung=-1 is invalid: must be an integer >= 0"),
        (lambda: FixedRung(rung=1.5), r"rung=1\.5 is invalid: must be an integer >= 0"),
    ],
)
def test_parameter_validation(call, message):
    with pytest.raises(ParameterError, match=message):
        call()


def test_non_numeric_parameter_is_a_parameter_error():
    with pytest.raises(ParameterError, match=r"reservoir_s='abc' is invalid"):
        BufferBased(reservoir_s="abc")  # type: ignore[arg-type]
