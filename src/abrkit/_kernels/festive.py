"""FESTIVE (Jiang, Sekar, Zhang, CoNEXT 2012) as Pensieve's emulation baseline defines it.

Source of the rule: Pensieve's modified dash.js, ``dash.js/src/streaming/controllers/
AbrController.js`` (hongzimao/pensieve, commit 1120bb17): the constants at lines 66-73, the
stability score ``getStabilityScore`` at 200-215, the efficiency score ``getEfficiencyScore`` at
217-221 and their sum ``getCombinedScore`` at 223-232 (``totalScore = stabilityScore +
alpha*efficiencyScore``), the decision ``getBitrateFestive`` at 234-289, the throughput estimate
``predict_throughput`` at 291-328, and the calling order (estimate, then decide; one decision
per chunk, counted by ``lastRequested``) in ``nextChunkQuality`` at 503-509, 559-571 and 660-661.

FESTIVE is stateful and keeps its own throughput estimator, so it is written as two kernels that
share a float64 state vector ``cstate`` owned by the session loop (zeroed at session start,
``FESTIVE_STATE_SIZE`` values):

* ``festive_decide(cparams, cstate, k, buffer_s, prev_rung, bitrates_bps) -> rung`` before each
  chunk (``prev_rung`` = -1 before the first chunk; ``bitrates_bps`` increasing);
* ``festive_report(cparams, cstate, k, rung, size_bytes, download_s)`` after each completed
  download. The JS measures ``download_s`` from the first byte to the last
  (``_tfinish - tresponse``, line 302), i.e. without the request latency; a loop that passes
  request-to-last-byte times (as profiles with ``throughput_includes_latency`` do) includes it.

The rule, per decision (for chunk k >= 1; the first chunk is requested at ``initial_rung``,
dash.js's ``lastQuality = 1``):

1. estimate ``w`` = time-weighted harmonic mean of the last ``window`` reported throughputs,
   ``sum(t_i) / sum(t_i / x_i)`` with ``t_i = max(download_s, min_download_s)`` and
   ``x_i = 8 size_bytes / t_i`` (bits/s); 0 with no report yet (the JS returns 0);
2. ``b_target`` = highest rung with bitrate <= ``p * w`` (rung 0 if none);
3. ``b_ref``: one rung at a time. Above the current rung ``b_cur``: the up-count rises by one and
   ``b_ref = b_cur + 1`` only once ``up_count > up_delay_per_rung * b_cur + up_delay_offset``
   (JS ``switchUpThreshold = [0, 1, ..., 9]``: an up-switch from rung i needs i + 1 consecutive
   up signals); below: ``b_ref = b_cur - 1`` and the count resets; equal: the count resets;
4. if ``b_ref != b_cur`` both are scored, ``score(b) = stability_base ** n(b) + alpha *
   |bitrate(b) / min(w, bitrate(b_ref)) - 1|`` where ``n(b)`` counts the rung changes between
   consecutive chunks among the last ``switch_window`` chunks' rungs (the previous chunk
   included), plus one if ``b != b_cur``; the switch is taken only if ``score(b_ref) <
   score(b_cur)`` (ties stay), and an up-switch taken resets the up-count.

The buffer level is not used (the JS passes it in and ignores it); ``k`` is not used either:
like the JS, FESTIVE counts its own decisions and reports.

Units: bits/s, seconds, bytes. Parameter vector ``cparams`` (``FESTIVE_P_*``):

====  ======================  =======  ==============================================
 idx  name                    default  meaning (JS name)
====  ======================  =======  ==============================================
  0   window                    5      chunks in the throughput estimate (``horizon``)
  1   min_download_s            0.1    floor on each download time, s
  2   p                         0.85   target fraction of the estimate (``p``)
  3   alpha                     12     weight of the efficiency score (``alpha``)
  4   switch_window             5      chunks whose rung changes are counted (``horizon``)
  5   up_delay_per_rung         1      up-switch threshold slope (``switchUpThreshold``)
  6   up_delay_offset           0      up-switch threshold offset
  7   initial_rung              1      rung of the first chunk (``lastQuality = 1``)
  8   stability_base            2      base of the stability score (``Math.pow(2, n)``)
====  ======================  =======  ==============================================

``window`` and ``switch_window`` are clipped to [1, ``FESTIVE_MAX_WINDOW``]; ``min_download_s``
must be > 0 (the façade checks it: the kernels do not).
"""

from __future__ import annotations

import numpy as np

from .._jit import njit

# -- parameters ---------------------------------------------------------------------------------
FESTIVE_P_WINDOW = 0
FESTIVE_P_MIN_DOWNLOAD_S = 1
FESTIVE_P_P = 2
FESTIVE_P_ALPHA = 3
FESTIVE_P_SWITCH_WINDOW = 4
FESTIVE_P_UP_DELAY_PER_RUNG = 5
FESTIVE_P_UP_DELAY_OFFSET = 6
FESTIVE_P_INITIAL_RUNG = 7
FESTIVE_P_STABILITY_BASE = 8
FESTIVE_N_PARAMS = 9

#: Defaults in ``FESTIVE_P_*`` order (Pensieve's AbrController.js values).
FESTIVE_DEFAULTS = (5.0, 0.1, 0.85, 12.0, 5.0, 1.0, 0.0, 1.0, 2.0)

#: Largest ``window`` / ``switch_window`` the state vector has room for.
FESTIVE_MAX_WINDOW = 8

# -- state --------------------------------------------------------------------------------------
FESTIVE_S_N_REPORTS = 0  # downloads reported so far
FESTIVE_S_N_RUNGS_LOGGED = 1  # previous-chunk rungs logged by decisions so far
FESTIVE_S_UP_COUNT = 2  # consecutive up signals (JS switchUpCount)
FESTIVE_S_LAST_ESTIMATE_BPS = 3  # the estimate of the latest decision (for logs)
FESTIVE_S_DOWNLOAD_S = 4  # ring of floored download times, FESTIVE_MAX_WINDOW values
FESTIVE_S_THROUGHPUT_BPS = FESTIVE_S_DOWNLOAD_S + FESTIVE_MAX_WINDOW  # ring of throughputs
FESTIVE_S_RUNGS = FESTIVE_S_THROUGHPUT_BPS + FESTIVE_MAX_WINDOW  # ring of previous rungs
FESTIVE_STATE_SIZE = FESTIVE_S_RUNGS + FESTIVE_MAX_WINDOW  # 28


def festive_params(
    window=5, min_download_s=0.1, p=0.85, alpha=12.0, switch_window=5,
    up_delay_per_rung=1.0, up_delay_offset=0.0, initial_rung=1, stability_base=2.0,
):
    """The ``cparams`` vector in ``FESTIVE_P_*`` order (plain Python; for façades and tests)."""
    return np.array(
        [window, min_download_s, p, alpha, switch_window, up_delay_per_rung, up_delay_offset,
         initial_rung, stability_base],
        dtype=np.float64,
    )


@njit
def _clip_window(value):
    w = int(value)
    if w < 1:
        return 1
    if w > FESTIVE_MAX_WINDOW:
        return FESTIVE_MAX_WINDOW
    return w


@njit
def festive_estimate(cparams, cstate):
    """Time-weighted harmonic mean of the last ``window`` reported throughputs (bits/s); 0 with
    no report yet. Summed from the oldest sample to the newest, as the JS does."""
    n = int(cstate[FESTIVE_S_N_REPORTS])
    if n == 0:
        return 0.0
    window = _clip_window(cparams[FESTIVE_P_WINDOW])
    count = min(n, window)
    sum_time_s = 0.0
    sum_time_over_rate = 0.0
    for j in range(count):
        slot = (n - count + j) % FESTIVE_MAX_WINDOW
        t = cstate[FESTIVE_S_DOWNLOAD_S + slot]
        x = cstate[FESTIVE_S_THROUGHPUT_BPS + slot]
        if x <= 0.0:  # JS: t / 0 = Infinity, so the estimate is 0
            return 0.0
        sum_time_over_rate += t / x
        sum_time_s += t
    return sum_time_s / sum_time_over_rate


@njit
def festive_report(cparams, cstate, k, rung, size_bytes, download_s):
    """Record one completed download in FESTIVE's throughput window."""
    t = download_s
    if t < cparams[FESTIVE_P_MIN_DOWNLOAD_S]:
        t = cparams[FESTIVE_P_MIN_DOWNLOAD_S]
    n = int(cstate[FESTIVE_S_N_REPORTS])
    slot = n % FESTIVE_MAX_WINDOW
    cstate[FESTIVE_S_DOWNLOAD_S + slot] = t
    cstate[FESTIVE_S_THROUGHPUT_BPS + slot] = size_bytes * 8.0 / t
    cstate[FESTIVE_S_N_REPORTS] = n + 1


@njit
def _festive_score(cparams, b, b_ref, b_cur, switches, estimate_bps, bitrates_bps):
    n = switches
    if b != b_cur:
        n += 1
    stability = cparams[FESTIVE_P_STABILITY_BASE] ** n
    denom = min(estimate_bps, bitrates_bps[b_ref])
    if denom <= 0.0:  # JS: x / 0 = Infinity
        return np.inf
    return stability + cparams[FESTIVE_P_ALPHA] * abs(bitrates_bps[b] / denom - 1.0)


@njit
def festive_decide(cparams, cstate, k, buffer_s, prev_rung, bitrates_bps):
    """The rung of the next chunk (see the module docstring for the rule)."""
    n_rungs = bitrates_bps.size
    if prev_rung < 0:
        first = int(cparams[FESTIVE_P_INITIAL_RUNG])
        if first < 0:
            return 0
        return min(first, n_rungs - 1)
    b_cur = min(prev_rung, n_rungs - 1)

    # 1. log the previous chunk's rung (JS qualityLog[lastRequested] = prevQuality)
    logged = int(cstate[FESTIVE_S_N_RUNGS_LOGGED])
    cstate[FESTIVE_S_RUNGS + logged % FESTIVE_MAX_WINDOW] = b_cur
    logged += 1
    cstate[FESTIVE_S_N_RUNGS_LOGGED] = logged

    estimate_bps = festive_estimate(cparams, cstate)
    cstate[FESTIVE_S_LAST_ESTIMATE_BPS] = estimate_bps

    # 2. target: highest rung at or below p x estimate, else rung 0
    budget_bps = cparams[FESTIVE_P_P] * estimate_bps
    b_target = 0
    for i in range(n_rungs - 1, -1, -1):
        if bitrates_bps[i] <= budget_bps:
            b_target = i
            break

    # 3. reference rung: one step, up only after enough consecutive up signals
    up_count = cstate[FESTIVE_S_UP_COUNT]
    if b_target > b_cur:
        up_count += 1.0
        threshold = cparams[FESTIVE_P_UP_DELAY_PER_RUNG] * b_cur + cparams[FESTIVE_P_UP_DELAY_OFFSET]
        b_ref = b_cur + 1 if up_count > threshold else b_cur
    elif b_target < b_cur:
        b_ref = b_cur - 1
        up_count = 0.0
    else:
        b_ref = b_cur
        up_count = 0.0

    # 4. switch only if it scores lower than staying
    rung = b_cur
    if b_ref != b_cur:
        span = min(logged, _clip_window(cparams[FESTIVE_P_SWITCH_WINDOW]))
        switches = np.int64(0)
        for j in range(logged - span, logged - 1):
            a = cstate[FESTIVE_S_RUNGS + j % FESTIVE_MAX_WINDOW]
            b = cstate[FESTIVE_S_RUNGS + (j + 1) % FESTIVE_MAX_WINDOW]
            if a != b:
                switches += 1
        score_cur = _festive_score(cparams, b_cur, b_ref, b_cur, switches, estimate_bps, bitrates_bps)
        score_ref = _festive_score(cparams, b_ref, b_ref, b_cur, switches, estimate_bps, bitrates_bps)
        if score_ref < score_cur:
            rung = b_ref
            if rung > b_cur:
                up_count = 0.0
    cstate[FESTIVE_S_UP_COUNT] = up_count
    return rung
