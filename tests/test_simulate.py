"""The compiled session loop against the plain-Python reference, and properties of simulations.

* Every kernel agrees with its reference in ``reference.REFERENCES`` on random inputs, and every
  kernel has one.
* Whole sessions agree with ``reference.simulate_session`` for every controller under both
  profiles, on real traces (Norway HSDPA, Belgium 4G with latency) and on hypothesis-made ones.
* Properties: the buffer stays within [0, cap]; the bytes the link carries over each chunk's
  transfer interval equal the chunk's size; a very fast link ends at the top rung; results do
  not depend on worker or thread counts; runs are deterministic.
* Stalls, no-bandwidth traces, result tables and error messages.
"""

from __future__ import annotations

import importlib
import pkgutil
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import abrkit._kernels
from abrkit._jit import LiteralEntry
from abrkit._kernels import contract
from abrkit._kernels.contract import compile_group
from abrkit._kernels.estimators import predictor_group
import reference
import reference_mpc
import strategies
from abrkit import (
    BBA0, BufferBased, FixedRung, ParameterError, Profile, RateBased, Trace, Video,
    get_profile, run_batch, simulate, simulate_many,
)
from abrkit.controllers import BBA1, MPC, RobustMPC
from abrkit._kernels import groups as G
from abrkit._kernels import layout as L
from abrkit.predictors import (
    DualEwma, Ewma, HarmonicMean, KalmanLog, LastSample, Mean, Oracle, PufferMean, RobustDiscount, SabreEwma,
    SlidingPercentile, SlidingWindow,
)
from abrkit.simulation import _pack, _pack_predictors

CONTROLLER_SPECS = [
    "bb", "bba0", "rate", "fixed:rung=2", "bb:reservoir_s=8,cushion_s=20", "rate:predictor=harmonic(window=2),safety=0.7",
    "rate:predictor=kalman(quantile=0.2),safety=1.0", "rate:predictor=oracle",
    # Planning controllers (the reference searches every plan exhaustively).
    "bba1", "bba1:lookahead_s=40,min_reservoir_s=2,max_reservoir_s=20", "robustmpc",
    "mpc:horizon=2,rebuffer_weight=10,switch_weight=0.5",
]

#: A third model that switches most of the profile fields away from 'default' at once.
MIXED = Profile(
    name="mixed", rtt_s=0.05, rtt_advances_clock=False, payload_efficiency=0.9, buffer_cap_s=30.0,
    wait_quantum_s=0.5, trace_alignment="end", first_chunk_rebuffers=True, initial_rung=2,
    max_chunks=40, throughput_includes_latency=False,
)
PROFILES = ["default", "pensieve", MIXED]

FLOAT_FIELDS = ("size_bytes", "latency_s", "delay_s", "buffer_s", "rebuffer_s", "wait_s", "throughput_bps", "request_s")


def assert_matches_reference(result, expected: dict) -> None:
    """A SimResult equals the reference's dict: decisions exactly, quantities to 1e-12.

    (Today they agree bit for bit; the tolerance only leaves room for harmless reordering.)
    """
    assert result.status == expected["status"]
    np.testing.assert_array_equal(result.rung, expected["rung"], err_msg="decisions differ")
    for name in FLOAT_FIELDS:
        np.testing.assert_allclose(getattr(result, name), expected[name], rtol=1e-12, atol=1e-12, err_msg=name)
    assert result.startup_s == pytest.approx(expected["startup_s"], rel=1e-12, abs=1e-12)
    assert result.n_chunks == expected["rung"].size


def check_session(trace, video, controller, profile) -> None:
    assert_matches_reference(
        simulate(trace, video, controller, profile), reference.simulate_session(trace, video, controller, profile)
    )


# -- every kernel against its reference, on random inputs ------------------------------------


#: Kernels compiled per value of some integer arguments: called through LiteralEntry, as the
#: façades call them (Numba's own literal dispatch from Python re-types them on every call).
_LITERAL_ARGS = {"session.run_batch": ("kind", "pkind"), "dashjs_player.play_dashjs": ("kind", "pgroup")}


def _kernel(name: str):
    module, _, func = name.rpartition(".")
    kernel = getattr(importlib.import_module(f"abrkit._kernels.{module}"), func)
    if name in _LITERAL_ARGS:
        return LiteralEntry(kernel, _LITERAL_ARGS[name])
    return kernel


def _random_periods(rng: np.random.Generator, slow: bool = False):
    """(period_end_s, bw_bps, lat_s, start_s, wrap_s) as the kernels read them."""
    n = int(rng.integers(1, 9))
    start = float(rng.choice([0.0, rng.uniform(0.0, 3.0)]))
    ends = start + np.cumsum(rng.uniform(0.05, 5.0, n))
    bw = rng.uniform(1e5, 2e7, n) if not slow else rng.uniform(0.5, 5.0, n)
    bw[rng.random(n) < 0.25] = 0.0
    bw[int(rng.integers(n))] = rng.uniform(2e6, 2e7) if not slow else 1.0
    lat = rng.uniform(0.0, 0.2, n)
    wrap = float(rng.choice([start, 0.0]))
    return ends, bw, lat, start, wrap


def _random_position(rng, ends, wrap):
    ptr = int(rng.integers(ends.size))
    lo = wrap if ptr == 0 else ends[ptr - 1]
    return ptr, float(lo + rng.uniform(0.0, 0.999) * (ends[ptr] - lo))


def _random_ladder(rng, n=None):
    n = int(rng.integers(1, 7)) if n is None else n
    return np.cumsum(rng.uniform(1e5, 1.5e6, n))


# -- predictors: random specs, packed, with states warmed up by the reference ----------------------


def random_predictor(rng, robust=True, oracle=True):
    """A random public predictor spec: every kind, parameters anywhere in their valid ranges."""
    kinds = ["last", "mean", "harmonic", "puffer", "dual", "preset", "ewma", "window", "sabre-ewma", "exo", "kalman"]
    kinds += ["robust"] * robust + ["oracle"] * oracle
    kind = kinds[int(rng.integers(len(kinds)))]
    window = int(rng.integers(1, 9))
    maybe = lambda value: value if rng.random() < 0.5 else None  # noqa: E731
    if kind == "last":
        return LastSample()
    if kind in ("mean", "harmonic", "puffer"):
        return {"mean": Mean, "harmonic": HarmonicMean, "puffer": PufferMean}[kind](window)
    if kind == "dual":
        return DualEwma(
            float(rng.uniform(0.3, 10.0)), float(rng.uniform(0.3, 10.0)),
            min_sample_bytes=float(rng.choice([0.0, rng.uniform(0.0, 5e4)])),
            min_total_bytes=float(rng.choice([0.0, rng.uniform(0.0, 3e5)])),
            default_bps=maybe(float(rng.uniform(1e5, 5e6))),
            min_sample_s=float(rng.choice([0.0, rng.uniform(0.0, 0.2)])),
            safety=float(rng.choice([1.0, rng.uniform(0.5, 1.0)])),
            min_total_weight=float(rng.choice([0.0, rng.uniform(0.0, 3.0)])),
        )
    if kind == "preset":
        return [DualEwma.dashjs(), DualEwma.shaka(), DualEwma.hlsjs()][int(rng.integers(3))]
    if kind == "ewma":
        return Ewma(float(rng.uniform(0.3, 10.0)))
    if kind == "window":
        return SlidingWindow(tuple(int(w) for w in rng.integers(1, 9, int(rng.integers(1, 5)))))
    if kind == "sabre-ewma":
        return SabreEwma(tuple(float(h) for h in rng.uniform(0.3, 10.0, int(rng.integers(1, 5)))), float(rng.uniform(0.5, 6.0)))
    if kind == "exo":
        return SlidingPercentile(
            max_weight=float(rng.choice([2000.0, rng.uniform(1.0, 300.0), float(rng.integers(1, 300))])),
            percentile=float(rng.choice([0.5, 0.0, 1.0, rng.uniform(0.0, 1.0)])),
            default_bps=maybe(float(rng.uniform(1e5, 5e6))),
            min_elapsed_s=float(rng.uniform(0.0, 5.0)),
            min_bytes=float(rng.choice([512 * 1024.0, rng.uniform(0.0, 1e6)])),
        )
    if kind == "kalman":
        return KalmanLog(
            float(rng.uniform(0.02, 0.98)), float(rng.choice([0.0, rng.uniform(0.0, 0.2)])),
            float(rng.uniform(0.01, 1.0)), float(rng.uniform(0.0, 2.0)),
        )
    if kind == "robust":
        return RobustDiscount(random_predictor(rng, robust=False, oracle=False), window)
    return Oracle()


def random_download(rng):
    """(size_bytes, time_s, latency_s): small and large chunks, fast and slow links."""
    size = float(rng.choice([rng.uniform(1.0, 3e4), rng.uniform(1e4, 3e6)]))
    return size, float(rng.uniform(1e-3, 10.0)), float(rng.choice([0.0, rng.uniform(0.0, 0.3)]))


def warmed(rng, spec, max_updates=40):
    """(pid, params, state, now_s): ``spec`` packed, its state fed 0..max_updates random
    downloads by the reference twin (so the kernel under test starts from a reachable state)."""
    pid, p, n_state = spec.pack()
    s = np.zeros(n_state)
    now = float(rng.uniform(0.0, 5.0))
    for _ in range(int(rng.integers(0, max_updates + 1))):
        size, t, lat = random_download(rng)
        now += t + lat + float(rng.choice([0.0, rng.uniform(0.0, 4.0)]))
        reference.pred_update(pid, p, s, size, t, lat, now)
    return pid, p, s, now


def _warmed_of(rng, kinds):
    while True:
        spec = random_predictor(rng)
        if isinstance(spec, kinds):
            return warmed(rng, spec)


def _random_ring(rng, min_count=0):
    """(s, off, cap): a ring of capacity ``cap`` at ``s[off:]``, filled by the reference."""
    cap, off = int(rng.integers(1, 9)), int(rng.integers(0, 4))
    s = rng.uniform(-1.0, 1.0, off + 2 + cap + int(rng.integers(0, 3)))
    s[off] = s[off + 1] = 0.0
    for _ in range(int(rng.integers(min_count, 3 * cap + 1))):
        reference.ring_push(s, off, cap, float(rng.uniform(1e4, 1e7)))
    return s, off, cap


def _args_ring_push(rng):
    s, off, cap = _random_ring(rng)
    return s, off, cap, float(rng.uniform(1e4, 1e7))


def _args_ring_recent(rng):
    s, off, cap = _random_ring(rng, min_count=1)
    return s, off, cap, int(rng.integers(0, int(s[off])))


def _args_ring_mean(rng):
    s, off, cap = _random_ring(rng, min_count=1)
    return s, off, cap, int(rng.integers(1, cap + 3))


def _args_harmonic_mean_last(rng):
    return rng.uniform(1e4, 1e8, int(rng.integers(0, 12))), int(rng.integers(1, 8))


def _args_harmonic(rng):
    pid, p, s, _ = warmed(rng, HarmonicMean(int(rng.integers(1, 9))))
    return s, 0, int(p[0]), int(p[0])


def _args_pred_update(rng):
    pid, p, s, now = warmed(rng, random_predictor(rng))
    size, t, lat = random_download(rng)
    return pid, p, s, size, t, lat, now + t + lat


def _args_pred_predict(rng):
    pid, p, s, now = warmed(rng, random_predictor(rng))
    if rng.random() < 0.1:
        pid = 99  # unknown id: NaN
    return pid, p, s, now + float(rng.choice([0.0, rng.uniform(0.0, 30.0)])), float(rng.choice([np.nan, rng.uniform(1e5, 1e7)]))


def _common_predictor(rng):
    """A predictor of the compile group of ``estimators.common_*`` (or none at all)."""
    return [LastSample(), Mean(int(rng.integers(1, 8))), HarmonicMean(int(rng.integers(1, 8)))][int(rng.integers(0, 3))]


def _args_common_predict(rng):
    pid, p, s, now = warmed(rng, _common_predictor(rng))
    if rng.random() < 0.1:
        pid = L.PRED_NONE
    return pid, p, s, now + float(rng.uniform(0.0, 30.0))


def _args_common_learn(rng):
    pid, p, s, now = warmed(rng, _common_predictor(rng))
    size, t, lat = random_download(rng)
    if rng.random() < 0.1:
        pid = L.PRED_NONE
    return pid, p, s, size, t, lat, now + t + lat


def _args_pred_latency(rng):
    pid, p, s, _ = warmed(rng, random_predictor(rng))
    return pid, p, s


def _args_replay(rng):
    spec = random_predictor(rng, oracle=False)
    pid, p, n_state = spec.pack()
    n = int(rng.integers(0, 40))
    downloads = [random_download(rng) for _ in range(n)]
    size, t, lat = (np.array([d[i] for d in downloads], dtype=np.float64) for i in range(3))
    now = np.cumsum(t + lat + rng.choice([0.0, 1.0], n) * rng.uniform(0.0, 4.0, n))
    request = now - t - lat
    return pid, p, np.zeros(n_state), size, t, lat, now, request, np.full(n, -1.0)


def _args_base_predict(rng):
    pid, p, s, _ = warmed(rng, random_predictor(rng, robust=False))
    return pid, p, s


def _args_robust_update(rng):
    _, p, s, now = _warmed_of(rng, RobustDiscount)
    size, t, lat = random_download(rng)
    return p, s, size, t, lat, now + t


def _args_plain_update(rng):
    spec = random_predictor(rng, robust=False)
    pid, p, s, now = warmed(rng, spec)
    size, t, lat = random_download(rng)
    return pid, p, s, size, t, lat, now + t


def _args_dual_ewma_update(rng):
    _, p, s, _ = _warmed_of(rng, (DualEwma, Ewma))
    return (p, s, *random_download(rng)[:2])


def _args_dual_ewma_predict(rng):
    _, p, s, _ = _warmed_of(rng, (DualEwma, Ewma))
    return p, s


def _args_sabre_window(rng):
    _, p, s, _ = _warmed_of(rng, SlidingWindow)
    throughput = bool(rng.random() < 0.5)
    return p, s, 0 if throughput else 2 + int(p[1]), throughput


def _args_sabre_ewma_update(rng):
    _, p, s, _ = _warmed_of(rng, SabreEwma)
    return (p, s, *random_download(rng))


def _args_sabre_ewma_read(rng):
    _, p, s, _ = _warmed_of(rng, SabreEwma)
    return p, s, bool(rng.random() < 0.5)


def _args_exo_update(rng):
    _, p, s, _ = _warmed_of(rng, SlidingPercentile)
    size, t, _ = random_download(rng)
    return p, s, float(rng.choice([size, rng.uniform(0.01, 1.0)])), t  # sometimes under one byte: weight 0


def _args_exo_predict(rng):
    _, p, s, _ = _warmed_of(rng, SlidingPercentile)
    return p, s


def _args_kalman_update(rng):
    _, p, s, now = _warmed_of(rng, KalmanLog)
    return p, s, float(rng.uniform(1e4, 1e8)), now + float(rng.choice([-1.0, 0.0, rng.uniform(0.0, 20.0)]))


def _args_kalman_predict(rng):
    _, p, s, now = _warmed_of(rng, KalmanLog)
    return p, s, now + float(rng.choice([-1.0, 0.0, rng.uniform(0.0, 20.0)]))


# -- controllers --------------------------------------------------------------------------------


def _args_bb_pensieve(rng):
    return float(rng.uniform(0.0, 30.0)), int(rng.integers(1, 9)), float(rng.uniform(0.0, 10.0)), float(rng.uniform(0.1, 20.0))


def _args_bba0(rng):
    ladder = _random_ladder(rng)
    prev = int(rng.integers(-1, ladder.size))
    return float(rng.uniform(0.0, 30.0)), prev, ladder, float(rng.uniform(0.0, 10.0)), float(rng.uniform(0.1, 20.0))


def _args_highest_below(rng):
    ladder = _random_ladder(rng)
    return ladder, float(rng.uniform(0.0, 1.2 * ladder[-1]))


def _compiled_few(rng):
    """A predictor for whole-session kernel tests. The loops are compiled once per (controller,
    predictor) pair, so these tests draw from two predictor kinds; RobustDiscount dispatches on
    its base at run time, so every base is still exercised. Each predictor on its own is checked
    against its reference through ``pred_update``/``pred_predict`` above."""
    base = random_predictor(rng)
    if isinstance(base, (RobustDiscount, Oracle)) or rng.random() < 0.5:
        return HarmonicMean(int(rng.integers(1, 6)))
    return RobustDiscount(base, int(rng.integers(1, 6)))


def _random_controller_params(rng, planners=False):
    """(ctrl_id, cparams, predictor spec or None); ``planners`` adds MPC (horizon <= 3) and BBA-1."""
    ids = [L.CTRL_BB_PENSIEVE, L.CTRL_BBA0, L.CTRL_RATE, L.CTRL_FIXED]
    ctrl_id = int(rng.choice(ids + [L.CTRL_MPC, L.CTRL_BBA1] if planners else ids))
    cparams = np.zeros(L.CTRL_PARAMS)
    spec = None
    if ctrl_id in (L.CTRL_BB_PENSIEVE, L.CTRL_BBA0):
        cparams[:2] = rng.uniform(0.0, 10.0), rng.uniform(0.1, 20.0)
    elif ctrl_id == L.CTRL_RATE:
        cparams[0] = rng.uniform(0.3, 1.5)
        spec = random_predictor(rng)
    elif ctrl_id == L.CTRL_FIXED:
        cparams[0] = rng.integers(0, 9)
    elif ctrl_id == L.CTRL_MPC:
        cparams[:3] = rng.integers(1, 4), rng.choice([4.3, rng.uniform(0.0, 20.0)]), rng.choice([1.0, rng.uniform(0.0, 3.0)])
        spec = random_predictor(rng)
    elif ctrl_id == L.CTRL_BBA1:
        low = rng.uniform(0.0, 8.0)
        cparams[:4] = rng.uniform(0.5, 20.0), rng.uniform(1.0, 60.0), low, low + rng.uniform(0.0, 20.0)
    cparams[L.CPARAM_ID] = ctrl_id  # as Controller.pack() writes it
    return ctrl_id, cparams, spec


def _args_decide(rng):
    ladder = _random_ladder(rng)
    ctrl_id, cparams, _ = _random_controller_params(rng)
    k = int(rng.integers(0, 10))
    est = float(rng.choice([np.nan, np.inf, rng.uniform(0.0, 1.5 * ladder[-1]), rng.choice(ladder)]))
    return ctrl_id, cparams, k, float(rng.uniform(0.0, 30.0)), int(rng.integers(-1, ladder.size)), ladder, est


# -- the trace clock and the session -------------------------------------------------------------


def _args_advance_clock(rng):
    ends, _, _, _, wrap = _random_periods(rng)
    ptr, clock = _random_position(rng, ends, wrap)
    return ends, wrap, ptr, clock, float(rng.uniform(0.0, 40.0))


def _args_transfer(rng):
    slow = bool(rng.random() < 0.3)
    ends, bw, _, _, wrap = _random_periods(rng, slow=slow)
    ptr, clock = _random_position(rng, ends, wrap)
    # Slow links stall (far) past max_s; fast ones finish (far) before it. The border in
    # between is pinned by test_download_longer_than_max_download_s_stalls.
    max_s = 10.0 if slow else 1e9
    return ends, bw, wrap, ptr, clock, float(rng.uniform(1e3, 5e6)), float(rng.uniform(0.5, 1.0)), max_s


def _random_prof(rng, chunk_s, n_rungs):
    p = np.zeros(L.PROF_SIZE)
    p[L.PROF_RTT_S] = rng.choice([-1.0, rng.uniform(0.0, 0.2)])
    p[L.PROF_RTT_ADVANCES_CLOCK] = rng.integers(0, 2)
    p[L.PROF_EFFICIENCY] = rng.uniform(0.5, 1.0)
    cap = rng.uniform(chunk_s, 40.0)
    p[L.PROF_BUFFER_CAP_S] = cap
    p[L.PROF_WAIT_QUANTUM_S] = rng.choice([0.0, rng.uniform(0.05, min(2.0, cap))])
    p[L.PROF_FIRST_CHUNK_REBUFFERS] = rng.integers(0, 2)
    p[L.PROF_INITIAL_RUNG] = rng.choice([-1, rng.integers(0, n_rungs)])
    p[L.PROF_MAX_DOWNLOAD_S] = 600.0
    p[L.PROF_THROUGHPUT_INCLUDES_LATENCY] = rng.integers(0, 2)
    for col in (L.PROF_MPC_SIZES_AHEAD, L.PROF_MPC_IGNORE_LATENCY, L.PROF_MPC_IGNORE_CAP, L.PROF_MPC_TIES_LAST):
        p[col] = rng.integers(0, 2)
    return p


def _args_request_time(rng):
    slow = bool(rng.random() < 0.3)
    ends, bw, lat, _, wrap = _random_periods(rng, slow=slow)
    ptr, clock = _random_position(rng, ends, wrap)
    prof = _random_prof(rng, 1.0, 1)
    prof[L.PROF_MAX_DOWNLOAD_S] = 10.0 if slow else 1e9
    return ends, bw, lat, wrap, ptr, clock, float(rng.uniform(1e3, 5e6)), prof


def _args_measured_time(rng):
    return float(rng.uniform(0.0, 0.3)), float(rng.uniform(1e-3, 10.0)), _random_prof(rng, 1.0, 1)


def _random_shadows(rng, n_chunks):
    """A ``SessionShadows`` of 0..3 random shadow predictors."""
    specs = [random_predictor(rng) for _ in range(int(rng.integers(0, 4)))]
    ids, params, offsets = _pack_predictors(specs)
    return G.SessionShadows(ids, params, offsets, np.zeros(int(offsets[-1])), np.full((len(specs), n_chunks), -7.0))


def _one_session(rng):
    """One random session in the groups a job of ``run_batch`` unpacks: any controller of the
    chunk model (planners included), any prof, equal or unequal durations, dead traces, size
    tables longer than the session, 0-3 shadows."""
    ends, bw, lat, start, wrap = _random_periods(rng)
    if rng.random() < 0.1:
        bw[:] = 0.0  # no bandwidth at all
    ladder = _random_ladder(rng)
    chunk_s = float(rng.uniform(0.5, 6.0))
    n_chunks = int(rng.integers(1, 30))
    n_rows = n_chunks + int(rng.choice([0, rng.integers(1, 4)]))  # the size table may run past the session
    durations = reference_mpc.random_durations(rng, n_rows, chunk_s)  # equal, or unequal (per-shot segments)
    sizes = np.outer(rng.uniform(0.5, 1.5, n_rows) * durations, ladder / 8.0)
    ctrl_id, cparams, spec = _random_controller_params(rng, planners=True)
    if spec is not None:
        spec = _compiled_few(rng)
    if spec is None:
        pid, pparams, n_state = L.PRED_NONE, np.zeros(L.PRED_PARAMS), 1
    else:
        pid, pparams, n_state = spec.pack()
    log = np.full((n_chunks, L.LOG_COLS), np.nan)
    prof = _random_prof(rng, chunk_s, ladder.size)
    return (
        G.SessionTrace(ends, bw, lat, start, wrap), G.SessionVideo(sizes, ladder, chunk_s, n_chunks, durations), prof,
        ctrl_id,
        G.SessionControl(cparams, pid, pparams, np.zeros(n_state), np.zeros(0, dtype=np.float32)), log, _random_shadows(rng, n_chunks),
        predictor_group(pid, pparams),
    )


def _args_one_job(rng):
    """``run_batch`` arguments for a batch of one :func:`_one_session`."""
    trace, video, prof, ctrl_id, control, log, shadows, pgroup = _one_session(rng)
    n_rows, n_rungs = video.sizes_bytes.shape
    one = np.zeros(1, np.int64)
    traces = G.Traces(np.array([0, trace.end_s.size]), trace.end_s, trace.bw_bps, trace.lat_s, np.array([trace.start_s]),
                      np.array([trace.wrap_s]))
    videos = G.Videos(np.array([0, n_rows * n_rungs]), video.sizes_bytes.ravel().copy(), np.array([n_rungs]),
                      np.array([video.n_chunks]), np.array([video.chunk_s]), np.array([0, n_rungs]), video.bitrates_bps,
                      np.array([0, n_rows]), video.durations_s)
    ctrls = G.Controllers(np.array([ctrl_id]), control.params[None, :], np.array([control.pred_id]),
                          control.pred_params[None, :], np.array([control.pred_state.size]),
                          np.zeros((1, max(1, control.pred_state.size))),
                          control.data, np.array([0, 0]))
    sh = None
    if shadows.ids.size:
        sh = G.Shadows(shadows.ids, shadows.params, shadows.offsets, shadows.pred_bps[None, :, :].copy())
    out = G.Outputs(log[None, :, :].copy(), np.full(1, -1, np.int64), np.full(1, -1, np.int64), np.full(1, -1.0))
    return 0, 1, G.Jobs(one, one.copy(), one.copy()), traces, videos, prof, ctrls, sh, out, compile_group(ctrl_id), pgroup


def _random_trace(rng, name="random"):
    n = int(rng.integers(2, 9))
    bw = rng.uniform(5e5, 2e7, n)
    bw[rng.random(n) < 0.2] = 0.0
    bw[1] = rng.uniform(2e6, 2e7)
    lat = None if rng.random() < 0.5 else rng.uniform(0.0, 0.2, n)
    return Trace.from_durations(rng.uniform(0.2, 5.0, n), bw, latency_s=lat, name=name)


def _random_video(rng, name="random"):
    """A random video; half of them with segments of unequal duration."""
    ladder = _random_ladder(rng, int(rng.integers(2, 7)))
    chunk_s = float(rng.uniform(1.0, 5.0))
    n_chunks = int(rng.integers(1, 25))
    durations = reference_mpc.random_durations(rng, n_chunks, chunk_s)
    unequal = not np.all(durations == chunk_s)
    return Video(ladder, chunk_s, np.outer(rng.uniform(0.5, 1.5, n_chunks) * durations, ladder / 8.0), name=name,
                 durations_s=durations if unequal else None)


def _args_run_batch(rng):
    if rng.random() < 0.85:  # mostly single sessions of every kind, then mixed batches
        return _args_one_job(rng)
    traces = [_random_trace(rng, f"t{i}") for i in range(int(rng.integers(1, 4)))]
    videos = [_random_video(rng, f"v{i}") for i in range(int(rng.integers(1, 3)))]
    # The kernel is compiled for one (controller id, predictor id) pair per call: one of these,
    # with a second instance of the same kind where it has parameters to vary.
    pred = _compiled_few(rng)
    ctrls = [
        [BufferBased(), BufferBased(reservoir_s=2.0)], [BBA0(reservoir_s=3.3), BBA0()],
        [RateBased(predictor=pred), RateBased(predictor=pred, safety=0.7)], [FixedRung(rung=1), FixedRung(rung=0)],
        [RobustMPC(horizon=2), RobustMPC(horizon=3)], [BBA1(lookahead_s=20.0)],
    ][int(rng.integers(0, 6))]
    shadows = [random_predictor(rng) for _ in range(int(rng.integers(0, 4)))]
    # Under 'pensieve' RobustMPC's errors carry across sessions (pred_carry starts zeroed).
    profile = get_profile(rng.choice(["default", "pensieve"])).replace(initial_rung=None, max_chunks=int(rng.integers(1, 25)))
    p = _pack(traces, videos, ctrls, profile, shadows)
    grid = np.stack(np.meshgrid(np.arange(len(traces)), np.arange(len(videos)), np.arange(len(ctrls)), indexing="ij"), -1)
    grid = grid.reshape(-1, 3)
    n_jobs = grid.shape[0]
    lo = int(rng.integers(0, n_jobs))
    hi = int(rng.integers(lo + 1, n_jobs + 1))
    max_chunks = int(p.videos.n_chunks.max())
    log = np.full((n_jobs, max_chunks, L.LOG_COLS), -7.0)  # rows outside lo..hi stay -7
    sh_pred = np.full((n_jobs, len(shadows), max_chunks), -7.0)
    return (
        lo, hi, G.Jobs(*(np.ascontiguousarray(grid[:, i]) for i in range(3))), p.traces, p.videos, profile.pack(),
        p.ctrls._replace(pred_carry=p.ctrls.pred_carry.copy()),
        G.Shadows(p.sh_ids, p.sh_params, p.sh_offsets, sh_pred) if shadows else None,
        G.Outputs(log, np.full(n_jobs, -1, np.int64), np.full(n_jobs, -1, np.int64), np.full(n_jobs, -1.0)),
        compile_group(int(p.ctrls.ids[0])), predictor_group(int(p.ctrls.pred_ids[0]), p.ctrls.pred_params[0]),
    )


#: Kernel name -> (random-argument maker, number of random cases).
KERNEL_INPUTS = {
    "predictors.ring_push": (_args_ring_push, 200),
    "predictors.ring_recent": (_args_ring_recent, 200),
    "predictors.ring_mean": (_args_ring_mean, 200),
    "predictors.harmonic_mean_last": (_args_harmonic_mean_last, 200),
    "predictors.pred_update": (_args_pred_update, 500),
    "predictors.pred_predict": (_args_pred_predict, 500),
    "predictors.pred_latency": (_args_pred_latency, 200),
    "estimators.common_predict": (_args_common_predict, 200),
    "estimators.common_learn": (_args_common_learn, 200),
    "predictors.replay": (_args_replay, 200),
    "predictors._harmonic": (_args_harmonic, 100),
    "predictors._base_predict": (_args_base_predict, 200),
    "predictors._robust_update": (_args_robust_update, 200),
    "predictors._plain_update": (_args_plain_update, 200),
    "predictors._dual_ewma_update": (_args_dual_ewma_update, 100),
    "predictors._dual_ewma_predict": (_args_dual_ewma_predict, 100),
    "predictors.sabre_window": (_args_sabre_window, 100),
    "predictors.sabre_ewma_update": (_args_sabre_ewma_update, 100),
    "predictors.sabre_ewma_read": (_args_sabre_ewma_read, 100),
    "predictors._exo_update": (_args_exo_update, 200),
    "predictors._exo_predict": (_args_exo_predict, 200),
    "predictors._kalman_update": (_args_kalman_update, 100),
    "predictors._kalman_predict": (_args_kalman_predict, 100),
    "controllers.bb_pensieve": (_args_bb_pensieve, 300),
    "controllers.bba0": (_args_bba0, 500),
    "controllers.highest_below": (_args_highest_below, 200),
    "network.advance_clock": (_args_advance_clock, 300),
    "network.transfer": (_args_transfer, 300),
    "network.request_time": (_args_request_time, 300),
    "network.measured_time": (_args_measured_time, 50),
    "network.oracle_throughput": (_args_request_time, 300),
    "session.run_batch": (_args_run_batch, 175),
}


def _copy(args):
    """A copy of every array in ``args``, also inside (named) tuples such as the kernels' groups."""
    copied = [_copy(a) if isinstance(a, tuple) else a.copy() if isinstance(a, np.ndarray) else a for a in args]
    return type(args)(*copied) if hasattr(args, "_fields") else tuple(copied)


def _arrays(args, where: str):
    """(where, array) for every array in ``args``, also inside (named) tuples."""
    fields = getattr(args, "_fields", None)
    for i, a in enumerate(args):
        name = f"{where}.{fields[i]}" if fields else f"{where}[{i}]"
        if isinstance(a, np.ndarray):
            yield name, a
        elif isinstance(a, tuple):
            yield from _arrays(a, name)


def _assert_same(actual, expected, what: str) -> None:
    if expected is None:
        assert actual is None, what
    elif isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected), what
        for i, (a, e) in enumerate(zip(actual, expected)):
            _assert_same(a, e, f"{what}[{i}]")
    elif isinstance(expected, (bool, np.bool_)):
        assert bool(actual) == bool(expected), what
    elif isinstance(expected, (int, np.integer)):
        assert int(actual) == int(expected), what
    else:
        np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=what)


def _kernel_tables() -> tuple[dict, dict]:
    """References and input makers: this module's, plus each ``tests/reference_*.py`` module's.

    A kernel module owned by another test file registers there (``REFERENCES`` and
    ``KERNEL_INPUTS`` in ``reference_<topic>.py``), so adding kernels never edits this file.
    """
    refs, inputs, covered = dict(reference.REFERENCES), dict(KERNEL_INPUTS), dict(reference.COVERED_BY)
    for path in sorted(Path(__file__).parent.glob("reference_*.py")):
        module = importlib.import_module(path.stem)
        for name in getattr(module, "REFERENCES", {}):
            assert name not in refs, f"kernel {name!r} has two references"
        refs.update(getattr(module, "REFERENCES", {}))
        inputs.update(getattr(module, "KERNEL_INPUTS", {}))
        covered.update(getattr(module, "COVERED_BY", {}))
    return refs, inputs, covered


#: ``COVERED_BY`` (optional in a reference module) names helpers that have no reference of their
#: own because an independent whole-model reference checks them through the kernel that calls
#: them (helper -> that kernel, which must have a reference). Listing is explicit, so a new helper
#: still fails the coverage test until someone decides how it is checked.
ALL_REFERENCES, ALL_KERNEL_INPUTS, COVERED_BY = _kernel_tables()


@pytest.mark.parametrize("name", sorted(ALL_REFERENCES))
def test_kernel_matches_reference(name):
    assert name in ALL_KERNEL_INPUTS, f"no random-input maker for kernel {name!r}: add one to KERNEL_INPUTS"
    make_args, n_cases = ALL_KERNEL_INPUTS[name]
    kernel, ref = _kernel(name), ALL_REFERENCES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))  # fixed per kernel
    for case in range(n_cases):
        args = make_args(rng)
        k_args, r_args = _copy(args), _copy(args)
        got, want = kernel(*k_args), ref(*r_args)
        what = f"{name}, case {case}"
        _assert_same(got, want, what)
        for (where, a), (_, b) in zip(_arrays(k_args, "argument"), _arrays(r_args, "argument")):  # arrays it fills
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=f"{what}, {where}")


def _compiled_kernels() -> set[str]:
    found = set()
    for info in pkgutil.iter_modules(abrkit._kernels.__path__):
        module = importlib.import_module(f"abrkit._kernels.{info.name}")
        for attr, obj in vars(module).items():
            py_func = getattr(obj, "py_func", None)
            if py_func is not None and py_func.__module__ == module.__name__:
                found.add(f"{info.name}.{attr}")
    return found


def test_every_kernel_has_a_reference():
    kernels = _compiled_kernels()
    if not kernels:
        pytest.skip("the JIT is disabled: kernels are plain functions")
    for helper, parent in COVERED_BY.items():
        assert parent in ALL_REFERENCES, f"{helper!r} is said to be covered by {parent!r}, which has no reference"
    missing = sorted(kernels - set(ALL_REFERENCES) - set(COVERED_BY))
    assert not missing, f"kernels without a plain-Python reference in tests/reference*.py: {missing}"
    stale = sorted((set(ALL_REFERENCES) | set(COVERED_BY)) - kernels)
    assert not stale, f"references for kernels that no longer exist: {stale}"


# -- whole sessions on real traces -------------------------------------------------------------

NORWAY_PICKS = (0, 47, 101, 141)
SABRE_4G_PICKS = (0, 17, 39)


@pytest.mark.shared
@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: getattr(p, "name", p))
@pytest.mark.parametrize("controller", CONTROLLER_SPECS)
def test_real_traces_match_reference(profile, controller, norway_traces, sabre_4g_traces, envivio):
    picked = [norway_traces[i] for i in NORWAY_PICKS] + [sabre_4g_traces[i] for i in SABRE_4G_PICKS]
    for trace in picked:
        check_session(trace, envivio, controller, profile)


@pytest.mark.shared
@pytest.mark.parametrize("controller", ["bb", "bba0", "rate"])
def test_sabre_video_with_trace_latency_matches_reference(controller, sabre_4g_traces, shared_data):
    from abrkit import read_video

    bbb = read_video(shared_data / "videos" / "sabre" / "bbb.json")
    for trace in (sabre_4g_traces[3], sabre_4g_traces[30]):
        assert trace.latency_s is not None and np.any(trace.latency_s > 0)
        # The 4G traces are fast; scale them down so that rungs actually change.
        check_session(trace.scaled(0.15), bbb, controller, "default")


# -- hypothesis strategies ------------------------------------------------------------------------

# Every hypothesis trace delivers at least this on average over a loop, so that the largest
# hypothesis chunk (6 s x 9.6 Mbit/s x 1.5) arrives well within max_download_s even at 50 %
# payload efficiency: stalls are tested on purpose, below, not by accident.
MIN_LOOP_BPS = 1e6


def _loop_rate_bps(trace: Trace) -> float:
    """The slowest average rate over one loop of the trace, under either alignment."""
    t, bw = trace.time_s, trace.bandwidth_bps
    start_rate = trace.mean_bandwidth_bps()
    first_loop_end = float(np.dot(np.diff(t), bw[1:]) / (t[-1] - t[0]))  # from time_s[0]
    later_loops_end = float((bw[1] * t[1] + np.dot(np.diff(t[1:]), bw[2:])) / t[-1])  # from 0
    return min(start_rate, first_loop_end, later_loops_end)


@st.composite
def traces(draw, max_periods=10):
    """Traces of 2+ points whose average rate keeps every download far below max_download_s."""
    n = draw(st.integers(2, max_periods))
    durations = draw(st.lists(st.floats(0.05, 8.0), min_size=n, max_size=n))
    bws = draw(st.lists(st.just(0.0) | st.floats(1e5, 1.5e7), min_size=n, max_size=n))
    bws[1] = max(bws[1], 1e5)
    latency = draw(st.none() | st.lists(st.floats(0.0, 0.3), min_size=n, max_size=n))
    start_s = draw(st.just(0.0) | st.floats(0.0, 3.0))
    trace = Trace.from_durations(durations, bws, latency_s=latency, start_s=start_s, name="synthetic")
    rate = _loop_rate_bps(trace)
    return trace if rate >= MIN_LOOP_BPS else trace.scaled(MIN_LOOP_BPS / rate)


@st.composite
def videos(draw, min_rungs=1, max_rungs=6, min_chunks=1, max_chunks=40, min_chunk_s=0.5):
    n_rungs = draw(st.integers(min_rungs, max_rungs))
    base = draw(st.floats(5e4, 3e5))
    steps = draw(st.lists(st.floats(1.1, 2.0), min_size=n_rungs - 1, max_size=n_rungs - 1))
    ladder = base * np.cumprod([1.0, *steps])
    chunk_s = draw(st.sampled_from([1.0, 2.0, 4.0]) | st.floats(min_chunk_s, 6.0))
    # Hypothesis favours small integers; give long sessions (waits, stalls in BB) a fair share.
    n_chunks = draw(st.integers(min_chunks, max_chunks) | st.integers(max(min_chunks, max_chunks // 2), max_chunks))
    vbr = draw(st.lists(st.floats(0.5, 1.5), min_size=n_chunks, max_size=n_chunks))
    return Video(ladder, chunk_s, np.outer(vbr, ladder * chunk_s / 8.0), name="synthetic")


# The dash.js, Shaka and hls.js presets are left to the real-trace tests: their references
# compute the EWMA weights the players' way, which may differ from the kernel's in the last bit,
# and hypothesis is good at finding the one budget that lands exactly on a rung.
def predictor_specs():
    return strategies.predictor_specs(presets=False, oracle=True)


def controllers():
    reservoir, cushion = st.floats(0.0, 20.0), st.floats(0.5, 30.0)
    return st.one_of(
        st.builds(BufferBased, reservoir_s=reservoir, cushion_s=cushion),
        st.builds(BBA0, reservoir_s=reservoir, cushion_s=cushion),
        st.builds(RateBased, predictor=predictor_specs(), safety=st.floats(0.3, 1.5)),
        st.builds(FixedRung, rung=st.integers(0, 8)),
        st.builds(
            BBA1, cushion_s=cushion, lookahead_s=st.floats(1.0, 120.0), min_reservoir_s=st.floats(0.0, 10.0),
            max_reservoir_s=st.floats(10.0, 40.0),
        ),
        # Horizons <= 3: the reference enumerates every plan at each decision.
        st.builds(
            MPC, predictor=predictor_specs(), horizon=st.integers(1, 3), rebuffer_weight=st.just(4.3) | st.floats(0.0, 50.0),
            switch_weight=st.just(1.0) | st.floats(0.0, 3.0),
        ),
        st.builds(RobustMPC, horizon=st.integers(1, 3)),
    )


@st.composite
def profiles(draw, video: Video, kind: str | None = None):
    """``kind``: 'default', 'pensieve' (needs 2+ rungs), 'random' (every field drawn) or None (any
    named one). Random wait quanta stay <= the buffer cap (see
    test_wait_quantum_above_the_cap_is_rejected_or_harmless)."""
    if kind is None:
        kind = draw(st.sampled_from(["default", "pensieve"] if video.n_rungs >= 2 else ["default"]))
    if kind != "random":
        return get_profile(kind)
    cap = draw(st.floats(video.chunk_s, 60.0))
    return Profile(
        name="random",
        rtt_s=draw(st.none() | st.floats(0.0, 0.2)),
        rtt_advances_clock=draw(st.booleans()),
        payload_efficiency=draw(st.floats(0.5, 1.0)),
        buffer_cap_s=cap,
        wait_quantum_s=draw(st.just(0.0) | st.floats(0.05, min(2.0, cap))),
        trace_alignment=draw(st.sampled_from(["start", "end"])),
        first_chunk_rebuffers=draw(st.booleans()),
        initial_rung=draw(st.none() | st.integers(0, video.n_rungs - 1)),
        max_chunks=draw(st.none() | st.integers(1, 40)),
        throughput_includes_latency=draw(st.booleans()),
    )


@pytest.mark.parametrize("kind", ["default", "pensieve", "random"])
@settings(max_examples=150)
@given(data=st.data(), trace=traces(), video=videos(), controller=controllers())
def test_synthetic_sessions_match_reference(kind, data, trace, video, controller):
    if kind == "pensieve":
        assume(video.n_rungs >= 2)  # it starts at rung 1
    profile = data.draw(profiles(video, kind))
    check_session(trace, video, controller, profile)


# -- properties ----------------------------------------------------------------------------------


@settings(max_examples=150)
@given(data=st.data(), trace=traces(), video=videos(), controller=controllers())
def test_buffer_stays_between_zero_and_the_cap(data, trace, video, controller):
    profile = data.draw(profiles(video, data.draw(st.sampled_from(["random", None]))))
    result = simulate(trace, video, controller, profile)
    assert result.status == "complete"
    assert np.all(result.buffer_s >= 0.0)
    assert np.all(result.buffer_s <= profile.buffer_cap_s * (1 + 1e-12))
    assert np.all(result.wait_s >= 0.0) and np.all(result.rebuffer_s >= 0.0)
    if profile.wait_quantum_s == 0.0:
        waited = result.wait_s > 0
        np.testing.assert_allclose(result.buffer_s[waited], profile.buffer_cap_s, rtol=1e-12)


def _session_bits_until(trace: Trace, t_s: float) -> float:
    """Bits a looping trace carries from session time 0 (its first point) until ``t_s``."""
    knots = np.concatenate(([0.0], np.cumsum(trace.duration_s)))
    cumulative = np.concatenate(([0.0], np.cumsum(trace.duration_s * trace.bandwidth_bps)))
    loops, within = divmod(t_s, knots[-1])
    return loops * cumulative[-1] + float(np.interp(within, knots, cumulative))


@settings(max_examples=120)
@given(
    trace=traces(), video=videos(), controller=controllers(),
    efficiency=st.just(1.0) | st.floats(0.5, 1.0), rtt_s=st.none() | st.floats(0.0, 0.2),
)
def test_bytes_delivered_equal_chunk_sizes(trace, video, controller, efficiency, rtt_s):
    # Default profile (its trace clock runs with the session clock), varying payload and RTT.
    profile = get_profile("default").replace(payload_efficiency=efficiency, rtt_s=rtt_s)
    result = simulate(trace, video, controller, profile)
    t_first = result.request_s + result.latency_s
    t_last = result.request_s + result.delay_s
    delivered = np.array(
        [_session_bits_until(trace, b) - _session_bits_until(trace, a) for a, b in zip(t_first, t_last)]
    ) / 8.0 * efficiency
    np.testing.assert_allclose(delivered, result.size_bytes, rtol=1e-6)
    # And the sizes are the video's.
    np.testing.assert_array_equal(result.size_bytes, video.sizes_bytes[np.arange(result.n_chunks), result.rung])


@settings(max_examples=40)
@given(data=st.data(), video=videos(min_rungs=2, min_chunks=48, max_chunks=48, min_chunk_s=1.0))
def test_fast_link_ends_at_the_top_rung(data, video):
    profile = data.draw(profiles(video))
    fast_bps = 100.0 * video.sizes_bytes.max() * 8.0 / video.chunk_s
    trace = Trace(np.array([0.0, 1.0]), np.array([fast_bps, fast_bps]), name="fast")
    for controller in (BufferBased(), BBA0(), BBA1(), RateBased(), FixedRung(rung=99), MPC(), RobustMPC()):
        result = simulate(trace, video, controller, profile)
        assert result.status == "complete"
        assert result.rung[-1] == video.n_rungs - 1, f"{controller.name} under {profile.name}: {result.rung}"


def _batch_inputs(seed=7):
    rng = np.random.default_rng(seed)
    traces_ = [_random_trace(rng, f"t{i}") for i in range(10)]
    videos_ = [_random_video(rng, f"v{i}") for i in range(2)]
    return traces_, videos_, ["bb", "bba0", "rate:predictor=harmonic(window=3)", "rate:predictor=kalman", "fixed:rung=1"]


def _same_batch(a, b) -> None:
    np.testing.assert_array_equal(a.log, b.log)  # NaN rows compare equal
    np.testing.assert_array_equal(a.n_done, b.n_done)
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_array_equal(a.startup_s, b.startup_s)


@pytest.mark.parametrize("profile", ["default", "pensieve"])
def test_results_do_not_depend_on_the_number_of_workers(profile):
    traces_, videos_, ctrls = _batch_inputs()
    one = run_batch(traces_, videos_, ctrls, profile, n_workers=1, progress=False)
    two = run_batch(traces_, videos_, ctrls, profile, n_workers=2, progress=False)
    _same_batch(one, two)
    pd.testing.assert_frame_equal(one.sessions(), two.sessions())
    pd.testing.assert_frame_equal(
        simulate_many(traces_, videos_, ctrls, profile, n_workers=1, per_chunk=True),
        simulate_many(traces_, videos_, ctrls, profile, n_workers=2, per_chunk=True),
    )


def test_runs_are_deterministic_and_batches_agree_with_single_sessions():
    traces_, videos_, ctrls = _batch_inputs(seed=3)
    first = run_batch(traces_, videos_, ctrls, "pensieve", n_workers=2, progress=False)
    second = run_batch(traces_, videos_, ctrls, "pensieve", n_workers=2, progress=False)
    _same_batch(first, second)
    for j in (0, 5, len(first) - 1):
        alone = simulate(
            traces_[first.job_trace[j]], videos_[first.job_video[j]], ctrls[first.job_ctrl[j]], "pensieve"
        )
        from_batch = first.session(j)
        for name in ("rung", *FLOAT_FIELDS):
            np.testing.assert_array_equal(getattr(alone, name), getattr(from_batch, name))


# -- stalls and traces without bandwidth ---------------------------------------------------------

SMALL_VIDEO = Video.constant_bitrate([300, 750, 1200], 4.0, 10, name="small")


@pytest.mark.parametrize("profile", ["default", "pensieve"])
def test_far_too_slow_trace_stalls_at_once(profile):
    trace = Trace(np.array([0.0, 1.0]), np.array([100.0, 100.0]), name="slow")  # 100 bit/s
    result = simulate(trace, SMALL_VIDEO, "bb", profile)
    assert result.status == "stalled"
    assert result.stalled
    assert result.n_chunks == 0 and result.rung.size == 0 and result.delay_s.size == 0
    assert result.totals["chunks"] == 0 and result.qoe == 0.0
    assert "stalled" in repr(result)
    assert len(result.to_frame()) == 0
    assert reference.simulate_session(trace, SMALL_VIDEO, "bb", profile)["status"] == "stalled"


@pytest.mark.parametrize(
    "profile, trace",
    [
        # 3 s at 5 Mbit/s, then more than an hour at 1 bit/s, under each profile's alignment.
        ("default", Trace(np.array([0.0, 3.0]), np.array([5e6, 1.0]), end_s=5000.0, name="dies")),
        ("pensieve", Trace(np.array([0.0, 3.0, 5000.0]), np.array([0.0, 5e6, 1.0]), name="dies")),
    ],
)
def test_link_that_dies_mid_session_stalls_after_the_chunks_it_carried(profile, trace):
    result = simulate(trace, SMALL_VIDEO, "bb", profile)
    assert result.status == "stalled"
    assert 0 < result.n_chunks < SMALL_VIDEO.n_chunks
    assert np.all(np.isfinite(result.delay_s))
    row = result.totals
    assert row["status"] == "stalled" and row["chunks"] == result.n_chunks
    check_session(trace, SMALL_VIDEO, "bb", profile)


def test_download_longer_than_max_download_s_stalls():
    trace = Trace.constant(1e4, duration_s=10_000.0, name="long-period")  # one 10 000 s period
    video = Video.constant_bitrate([1000], 8.0, 3)  # 1 MB chunks: 800 s each at 10 kbit/s
    assert reference.simulate_session(trace, video, "bb", "default")["status"] == "stalled"
    result = simulate(trace, video, "bb", "default")
    assert result.status == "stalled"
    assert result.n_chunks == 0


def test_bandwidth_only_in_the_first_point_is_no_bandwidth_under_pensieve():
    trace = Trace(np.array([0.0, 1.0, 2.0]), np.array([5e6, 0.0, 0.0]), name="first-only")
    result = simulate(trace, SMALL_VIDEO, "bb", "pensieve")
    assert result.status == "no_bandwidth"
    assert result.n_chunks == 0 and result.totals["chunks"] == 0
    assert reference.simulate_session(trace, SMALL_VIDEO, "bb", "pensieve")["status"] == "no_bandwidth"
    # The default profile does use point 0's bandwidth (it loops every 3 s).
    assert simulate(trace, SMALL_VIDEO, "bb", "default").status == "complete"
    check_session(trace, SMALL_VIDEO, "bb", "default")


def test_batch_mixing_stalled_and_complete_sessions():
    good = Trace.constant(5e6, name="good")
    slow = Trace.constant(100.0, name="slow")
    batch = run_batch([good, slow, good], SMALL_VIDEO, "rate", n_workers=2, progress=False)
    sessions = batch.sessions()
    assert sessions["status"].tolist() == ["complete", "stalled", "complete"]
    assert sessions["chunks"].tolist() == [10, 0, 10]
    chunks = batch.chunks()
    assert len(chunks) == 20 and set(chunks["trace"]) == {"good"}
    assert np.all(np.isnan(batch.log[1]))


# -- result tables ---------------------------------------------------------------------------------

SESSION_COLUMNS = [
    "trace", "video", "controller", "profile", "status", "chunks", "qoe", "qoe_per_chunk", "mean_bitrate_kbps",
    "rebuffer_s", "rebuffer_events", "startup_s", "switches", "mean_switch_kbps", "wait_s", "session_s",
]
CHUNK_COLUMNS = [
    "trace", "video", "controller", "chunk", "rung", "bitrate_kbps", "size_bytes", "latency_s", "delay_s",
    "buffer_s", "rebuffer_s", "wait_s", "request_s", "throughput_kbps", "controller_wait_s", "reward",
]


def _table_inputs():
    rng = np.random.default_rng(5)
    traces_ = [_random_trace(rng, f"trace{i}") for i in range(3)]
    videos_ = [Video.constant_bitrate([300, 750, 1200, 1850], 4.0, 12, name="cbr"), _random_video(rng, "vbr")]
    return traces_, videos_, ["bb", "rate:safety=0.8,predictor=harmonic(window=3)"]


def test_simulate_many_returns_a_tidy_session_table():
    traces_, videos_, ctrls = _table_inputs()
    table = simulate_many(traces_, videos_, ctrls, "default", n_workers=2)
    assert list(table.columns) == SESSION_COLUMNS
    assert len(table) == 3 * 2 * 2
    # Trace-major order: for each trace, each video, each controller.
    assert table["trace"].tolist() == [t.name for t in traces_ for _ in range(4)]
    assert table["video"].tolist() == [v.name for _ in traces_ for v in videos_ for _ in range(2)]
    assert table["controller"].tolist() == ["bb", "rate(predictor=harmonic(window=3), safety=0.8)"] * 6
    assert (table["status"] == "complete").all()
    assert table["chunks"].tolist() == [videos_[i // 2 % 2].n_chunks for i in range(12)]
    assert (table["profile"] == "default").all()
    assert table["qoe"].dtype == np.float64 and table["chunks"].dtype.kind == "i"


def test_simulate_many_per_chunk_table():
    traces_, videos_, ctrls = _table_inputs()
    table = simulate_many(traces_, videos_, ctrls, "pensieve", per_chunk=True, n_workers=1)
    assert list(table.columns) == CHUNK_COLUMNS
    assert len(table) == 3 * 2 * (12 + videos_[1].n_chunks)
    first = table[(table["trace"] == "trace0") & (table["video"] == "cbr") & (table["controller"] == "bb")]
    assert first["chunk"].tolist() == list(range(12))
    assert first["rung"].iloc[0] == 1  # the pensieve profile starts at rung 1


def test_sim_result_to_frame():
    traces_, videos_, _ = _table_inputs()
    result = simulate(traces_[0], videos_[1], "bba0", "default")
    frame = result.to_frame()
    assert list(frame.columns) == CHUNK_COLUMNS
    assert len(frame) == result.n_chunks == videos_[1].n_chunks
    np.testing.assert_array_equal(frame["chunk"], np.arange(result.n_chunks))
    np.testing.assert_array_equal(frame["rung"], result.rung)
    np.testing.assert_array_equal(frame["bitrate_kbps"], videos_[1].bitrates_kbps[result.rung])
    for name in ("size_bytes", "latency_s", "delay_s", "buffer_s", "rebuffer_s", "wait_s", "request_s"):
        np.testing.assert_array_equal(frame[name], getattr(result, name))
    np.testing.assert_array_equal(frame["throughput_kbps"], result.throughput_bps / 1e3)
    np.testing.assert_array_equal(frame["reward"], result.reward)
    assert result.qoe == pytest.approx(float(np.sum(result.reward)))


def test_batch_sessions_and_chunks_agree_with_each_session():
    traces_, videos_, ctrls = _table_inputs()
    batch = run_batch(traces_, videos_, ctrls, "default", n_workers=2, progress=False)
    sessions, chunks = batch.sessions(), batch.chunks()
    assert len(sessions) == len(batch) == 12
    assert len(chunks) == int(batch.n_done.sum())
    offset = 0
    for j in range(len(batch)):
        result = batch.session(j)
        part = chunks.iloc[offset : offset + result.n_chunks].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, result.to_frame())
        assert sessions.iloc[j]["qoe"] == pytest.approx(result.qoe)
        assert sessions.iloc[j]["chunks"] == result.n_chunks
        assert sessions.iloc[j]["rebuffer_s"] == pytest.approx(result.rebuffer_s.sum())
        offset += result.n_chunks


# -- errors -------------------------------------------------------------------------------------------


def test_unknown_names_are_rejected():
    trace, video = Trace.constant(5e6), SMALL_VIDEO
    with pytest.raises(ParameterError, match=r"controller='nope' is invalid: unknown controller; known: bb, bba0"):
        simulate(trace, video, "nope")
    with pytest.raises(ParameterError, match=r"profile='nope' is invalid: unknown profile; known: default, pensieve"):
        simulate(trace, video, "bb", "nope")
    with pytest.raises(ParameterError, match=r"qoe='nope' is invalid: unknown QoE model; known: linear"):
        simulate(trace, video, "bb", "default", qoe="nope")


def test_buffer_cap_below_the_chunk_duration_is_rejected():
    with pytest.raises(ParameterError, match=r"buffer_cap_s=3\.0 is invalid: must be >= the chunk duration"):
        simulate(Trace.constant(5e6), SMALL_VIDEO, "bb", Profile(buffer_cap_s=3.0))


def test_initial_rung_beyond_the_ladder_is_rejected():
    video = Video.constant_bitrate([300, 750], 4.0, 5, name="two-rungs")
    with pytest.raises(ParameterError, match=r"initial_rung=2 is invalid: video 'two-rungs' has only 2 rungs"):
        simulate(Trace.constant(5e6), video, "bb", Profile(initial_rung=2))
    one_rung = Video.constant_bitrate([300], 4.0, 5, name="one-rung")
    with pytest.raises(ParameterError, match=r"initial_rung=1 is invalid: video 'one-rung' has only 1 rungs"):
        simulate(Trace(np.array([0.0, 1.0]), np.array([5e6, 5e6])), one_rung, "bb", "pensieve")


def test_other_bad_batch_arguments():
    trace = Trace.constant(5e6)
    with pytest.raises(ParameterError, match=r"n_workers=0 is invalid: must be an integer >= 1"):
        run_batch(trace, SMALL_VIDEO, "bb", n_workers=0)
    with pytest.raises(ParameterError, match=r"traces=\[\] is invalid: at least one is needed"):
        run_batch([], SMALL_VIDEO, "bb")
    with pytest.raises(ParameterError, match=r"controllers=\[\] is invalid: at least one is needed"):
        run_batch(trace, SMALL_VIDEO, [])
    with pytest.raises(ParameterError, match=r"traces='ndarray' is invalid: must be Trace objects"):
        run_batch([np.zeros(3)], SMALL_VIDEO, "bb")
    with pytest.raises(ParameterError, match=r"needs at least two trace points"):
        simulate(trace, SMALL_VIDEO, "bb", "pensieve")  # a one-point trace under Pensieve's alignment


def test_wait_quantum_above_the_cap_is_rejected_or_harmless():
    video = Video.constant_bitrate([300], 4.0, 5)
    try:
        profile = Profile(buffer_cap_s=4.0, wait_quantum_s=10.0)
    except ParameterError:
        return
    result = simulate(Trace.constant(1e7), video, "bb", profile)
    assert np.all(result.buffer_s >= 0.0), result.buffer_s


# -- the controller contract against the reference decisions ---------------------------------------


def _contract_choice(ctrl_id, cparams, k, n_chunks, buffer_s, prev, ladder, sizes, durations, est, latency_s, prof):
    cstate = np.zeros(L.CTRL_STATE + 3 * ladder.size)
    no_data = np.zeros(0, dtype=np.float32)
    contract.start(ctrl_id, cparams, cstate, no_data, ladder, float(durations[0]))
    return contract.choose(ctrl_id, cparams, cstate, no_data, k, n_chunks, buffer_s, prev, ladder, sizes, durations, est,
                           np.nan, latency_s, prof)


def test_contract_chooses_as_the_reference_decide_and_plan():
    """``contract.choose`` (what every loop calls) against ``reference.decide`` (the scalar
    controllers) and ``reference_mpc.plan`` (MPC, BBA-1) on random situations; no waits."""
    rng = np.random.default_rng(4242)
    for case in range(300):
        ctrl_id, cparams, k, buffer_s, prev, ladder, est = _args_decide(rng)
        sizes = np.outer(np.ones(k + 1), ladder)
        got = _contract_choice(ctrl_id, cparams, k, k + 1, buffer_s, prev, ladder, sizes, np.full(k + 1, 4.0), est, 0.0,
                               np.zeros(L.PROF_SIZE))
        assert got == (reference.decide(ctrl_id, cparams, k, buffer_s, prev, ladder, est), 0.0), f"case {case}"
    for case in range(200):
        args = reference_mpc._args_plan(rng)
        ctrl_id, cparams, k, n_chunks, buffer_s, prev, ladder, table, durations, est, latency_s, prof = args
        got = _contract_choice(ctrl_id, cparams, k, n_chunks, buffer_s, prev, ladder, table, durations, est, latency_s, prof)
        assert got == (reference_mpc.plan(*args), 0.0), f"planning case {case}"
