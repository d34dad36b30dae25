"""Low-latency rules of dash.js: L2A-LL, LoL+ and the catch-up (playback-rate) controllers.

Followed from dash.js v5.1.1 (commit ccf3b95d9 of Dash-Industry-Forum/dash.js), written anew:

* ``src/streaming/rules/abr/L2ARule.js`` (Karagkioules, Mekuria, Griffioen, Wagenaar, "Online
  learning for low-latency adaptive streaming", MMSys 2020): ``l2a_choose``.
* ``src/streaming/rules/abr/lolp/LoLpRule.js``, ``LearningAbrController.js``,
  ``LoLpWeightSelector.js``, ``LoLpQoEEvaluator.js`` (Bentaleb, Akcay, Lim, Begen, Zimmermann,
  "Catching the Moment with LoL+ in Twitch-like Low-Latency Live Streaming Platforms", IEEE TMM
  2022; LoL, MMSys 2020): ``lolp_choose``.
* ``src/streaming/controllers/CatchupController.js`` and ``models/MediaPlayerModel.js``: the
  default rate rule (``catchup_dashjs``) and LoL+'s hybrid rule (``catchup_lolp``).

Units here are those of abrkit (seconds, bits per second) except where dash.js's arithmetic
mixes units on purpose; each such place says so. Every function is plain numeric code on float64
arrays (state in the contract's ``cstate``), with a plain-Python twin in ``tests/reference_live.py``.
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import njit
from .layout import CTRL_STATE, PROF_SIZE
from .live_layout import LP_NOW_LATENCY_S, LP_NOW_RATE, LP_TARGET_S

# -- L2A-LL --------------------------------------------------------------------------------------
# parameters (cparams)
L2A_P_B_TARGET_S = 0  # buffer that ends the start-up phase (L2ARule.js B_target = 1.5)
L2A_P_HORIZON = 1  # optimisation horizon (HORIZON = 4)
L2A_P_REACT = 2  # reaction factor on over-estimation (REACT = 2)
L2A_P_SAFETY = 3  # start-up: the throughput rule at this share of the estimate (bandwidthSafetyFactor 0.9)
# state (cstate); w, prev_w and scratch are the contract's 3 x n_rungs scratch from CTRL_STATE
L2A_S_STEADY = 0  # 0: start-up, 1: steady
L2A_S_Q = 1  # Lagrangian multiplier
L2A_S_LAST = 2  # rung of the last decision (currentRepresentation), -1 none
L2A_S_SEEN = 3  # 1.0 once a segment has been downloaded (lastSegmentDurationS known)
L2A_S_LAST_BPS = 4  # the last throughput sample (bits/s), NaN before the first


@njit
def euclidean_projection(v, scratch):
    """Project ``v`` onto the probability simplex in place (L2ARule.js ``euclideanProjection``):
    sort a copy descending, find the threshold, subtract it and clip at 0."""
    m = v.size
    for i in range(m):  # insertion sort, descending, into scratch
        x = v[i]
        j = i
        while j > 0 and scratch[j - 1] < x:
            scratch[j] = scratch[j - 1]
            j -= 1
        scratch[j] = x
    found = False
    tmpsum = 0.0
    tmax = 0.0
    for i in range(m - 1):
        tmpsum += scratch[i]
        tmax = (tmpsum - 1.0) / (i + 1)
        if tmax >= scratch[i + 1]:
            found = True
            break
    if not found:
        tmax = (tmpsum + scratch[m - 1] - 1.0) / m
    for i in range(m):
        v[i] = max(v[i] - tmax, 0.0)


@njit
def highest_at_most(bitrates_bps, limit_bps):
    """The highest rung whose bitrate is <= ``limit_bps`` (0 if none): dash.js
    ``getOptimalRepresentationForBitrate``."""
    q = 0
    for i in range(bitrates_bps.size):
        if bitrates_bps[i] <= limit_bps:
            q = i
    return q


@njit
def live_now(prof):
    """(latency_s, playback rate, target latency_s) the live loop wrote into ``prof``; under a
    profile without live fields: (0, 1, NaN)."""
    if prof.size > PROF_SIZE:
        lat = prof[LP_NOW_LATENCY_S]
        return (0.0 if np.isnan(lat) else lat), prof[LP_NOW_RATE], prof[LP_TARGET_S]
    return 0.0, 1.0, np.nan



@njit
def l2a_report(cstate, size_bytes, measured_s):
    """After a download: remember the sample (L2A's steady state reads the last one alone)."""
    cstate[L2A_S_SEEN] = 1.0
    if measured_s > 0.0:
        cstate[L2A_S_LAST_BPS] = size_bytes * 8.0 / measured_s


@njit
def l2a_start(cstate):
    cstate[L2A_S_LAST] = -1.0
    cstate[L2A_S_LAST_BPS] = np.nan


@njit
def l2a_choose(cparams, cstate, buffer_s, prev_rung, bitrates_bps, chunk_s, est_bps, prof):
    """L2A-LL's rung for the next segment.

    Start-up (``L2A_STATE_STARTUP``): the highest rung <= ``safety`` x the predictor's estimate
    (keep the previous rung while there is none); once a segment has arrived and the buffer
    reaches ``b_target_s`` it turns steady with ``Q = V_L`` and ``w`` on the current rung.
    Steady (``_handleSteadyState``): with the last throughput sample ``c`` (kbit/s, at least 1),
    playback rate ``r``, ``V`` = segment duration, ``alpha = max(H, V_L sqrt(H))`` and
    ``V_L = H^0.99``: ``w_i = w'_i + s (V / 2 alpha) (Q + V_L) r b_i / c`` with ``s`` turning -1 at
    the first rung with ``r b_i > c`` (and staying so), projection onto the simplex,
    ``Q = max(0, Q - V + V r (b.w + b.(w - w')) / c)``, the rung nearest ``b.w``, a cautious
    one-rung ascent, and ``Q = react max(V_L, Q)`` when the rung's bitrate reaches ``c``.

    Units: dash.js 4.x converts the ladder to kbit/s for the whole step; dash.js 5.x divides
    bit/s by kbit/s in the ``Q`` update (``rep.bandwidth`` over ``lastThroughput``), a factor of
    1000 the paper does not have. Here every term is in kbit/s, as the paper and 4.x intend.
    """
    n = bitrates_bps.size
    cur = int(cstate[L2A_S_LAST])
    if cur < 0:
        cur = max(prev_rung, 0)
    if cstate[L2A_S_STEADY] == 0.0:
        if not np.isfinite(est_bps):
            cstate[L2A_S_LAST] = cur
            return cur
        q = highest_at_most(bitrates_bps, cparams[L2A_P_SAFETY] * est_bps)
        cstate[L2A_S_LAST] = q
        if cstate[L2A_S_SEEN] != 0.0 and buffer_s >= cparams[L2A_P_B_TARGET_S]:
            cstate[L2A_S_STEADY] = 1.0
            horizon = cparams[L2A_P_HORIZON]
            cstate[L2A_S_Q] = horizon ** 0.99
            prev_w = cstate[CTRL_STATE + n : CTRL_STATE + 2 * n]
            for i in range(n):
                prev_w[i] = 1.0 if i == q else 0.0
        return q

    _, rate, _ = live_now(prof)
    horizon = cparams[L2A_P_HORIZON]
    vl = horizon ** 0.99
    alpha = max(horizon, vl * math.sqrt(horizon))
    thr_kbps = cstate[L2A_S_LAST_BPS] / 1000.0
    if not thr_kbps >= 1.0:  # an outage (or no sample): dash.js floors it at 1 kbit/s
        thr_kbps = 1.0
    w = cstate[CTRL_STATE : CTRL_STATE + n]
    prev_w = cstate[CTRL_STATE + n : CTRL_STATE + 2 * n]
    scratch = cstate[CTRL_STATE + 2 * n : CTRL_STATE + 3 * n]
    v = chunk_s
    q_mult = cstate[L2A_S_Q]
    sign = 1.0
    for i in range(n):
        b = bitrates_bps[i] / 1000.0
        if rate * b > thr_kbps:
            sign = -1.0
        w[i] = prev_w[i] + sign * (v / (2.0 * alpha)) * ((q_mult + vl) * (rate * b / thr_kbps))
    euclidean_projection(w, scratch)
    dot_w = 0.0
    dot_diff = 0.0
    for i in range(n):
        b = bitrates_bps[i] / 1000.0
        dot_diff += b * (w[i] - prev_w[i])
        prev_w[i] = w[i]
        dot_w += b * w[i]
    q_mult = max(0.0, q_mult - v + v * rate * ((dot_w + dot_diff) / thr_kbps))
    best = 0
    best_gap = np.inf
    for i in range(n):
        gap = abs(bitrates_bps[i] / 1000.0 - dot_w)
        if gap < best_gap:
            best_gap = gap
            best = i
    if best > cur and bitrates_bps[cur + 1] / 1000.0 <= thr_kbps:
        best = cur + 1
    if bitrates_bps[best] / 1000.0 >= thr_kbps:
        q_mult = cparams[L2A_P_REACT] * max(vl, q_mult)
    cstate[L2A_S_Q] = q_mult
    cstate[L2A_S_LAST] = best
    return best


# -- LoL+ -----------------------------------------------------------------------------------------
# parameters (cparams)
LOLP_P_SAFETY = 0  # the throughput it sees: safety x the estimate (getSafeAverageThroughput, 0.9)
LOLP_P_TARGET_S = 1  # DWS_TARGET_LATENCY = 1.5 (its weight selector's latency constraint)
LOLP_P_BUFFER_MIN_S = 2  # DWS_BUFFER_MIN = 0.3
LOLP_P_W0 = 3  # the four initial weights (throughput, latency, buffer, switch); NaN: the last of
#               its k-means++ centres over random data, as dash.js draws them (``lolp_centres``)
LOLP_P_SIGMA = 7  # neighbourhood width (0.1)
LOLP_P_LEARNING = 8  # learning rate of every state component (0.01)
LOLP_P_LATENCY_NORM = 9  # latencyNormalizationFactor (100)
LOLP_P_DELTA_BPS = 10  # throughputDelta (10000 bit/s)
LOLP_P_OWN_RATE = 11  # 1.0: LoL+ sets the playback rate itself (its hybrid catch-up rule)
LOLP_P_SEED = 12  # seed of the draws behind its initial weights (dash.js: Math.random)
# state (cstate): the SOM (4 values per rung) and the weights in use
LOLP_S_INIT = 0  # 1.0 once the neurons exist
LOLP_S_NORM = 1  # bitrateNormalizationFactor: |ladder| in bit/s
LOLP_S_W = 2  # 4 weights in use
LOLP_S_NEURONS = 6  # 4 x n_rungs: throughput, latency, rebuffer, switch per rung (needs n_rungs <= 14)
LOLP_MAX_RUNGS = (CTRL_STATE - LOLP_S_NEURONS) // 4
#: The values its weight selector combines (LoLpWeightSelector.js valueList).
LOLP_WEIGHT_VALUES = (0.2, 0.4, 0.6, 0.8, 1.0)


@njit
def splitmix64(x):
    """One step of SplitMix64: (next state, a float in [0, 1)). The draws of LoL+'s start."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    z = x
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return x, float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit
def lolp_centres(out, n, max_thr, seed):
    """LearningAbrController.js ``_getInitialKmeansPlusPlusCenters`` and the weights it starts
    from: ``n^2`` random points (throughput uniform on [0, ``max_thr``), the rest on [0, 1)), the
    first point and then, ``n - 1`` times, the point farthest from the centres so far; the centre
    least similar to the others first, the rest by distance to it; ``out`` gets the last."""
    m = n * n
    data = np.empty((m, 4))
    x = seed
    for i in range(m):
        x, u = splitmix64(x)
        data[i, 0] = u * max_thr
        for c in range(1, 4):
            x, u = splitmix64(x)
            data[i, c] = u
    centres = np.empty((n, 4))
    centres[0, :] = data[0, :]
    for k in range(1, n):
        best = -1
        best_d = -np.inf
        for i in range(m):
            dmin = np.inf
            for j in range(k):
                d = lolp_distance(data[i, 0], data[i, 1], data[i, 2], data[i, 3], centres[j, 0], centres[j, 1],
                                  centres[j, 2], centres[j, 3], 1.0, 1.0, 1.0, 1.0)
                dmin = min(dmin, d)
            if best < 0 or dmin > best_d:
                best = i
                best_d = dmin
        centres[k, :] = data[best, :]
    first = 0
    best_sum = -np.inf
    for i in range(n):
        tot = 0.0
        for j in range(n):
            if i != j:
                tot += lolp_distance(centres[i, 0], centres[i, 1], centres[i, 2], centres[i, 3], centres[j, 0],
                                     centres[j, 1], centres[j, 2], centres[j, 3], 1.0, 1.0, 1.0, 1.0)
        if tot > best_sum:
            best_sum = tot
            first = i
    # the rest ordered by distance to the first (stable for ties): the last is the farthest
    last = first
    far = -np.inf
    for i in range(n):
        if i == first:
            continue
        d = lolp_distance(centres[first, 0], centres[first, 1], centres[first, 2], centres[first, 3], centres[i, 0],
                          centres[i, 1], centres[i, 2], centres[i, 3], 1.0, 1.0, 1.0, 1.0)
        if d >= far:
            far = d
            last = i
    for c in range(4):
        out[c] = centres[last, c]


@njit
def lolp_distance(a0, a1, a2, a3, b0, b1, b2, b3, w0, w1, w2, w3):
    """LearningAbrController.js ``_getDistance``: signed root of the weighted squared distance."""
    s = w0 * (a0 - b0) ** 2 + w1 * (a1 - b1) ** 2 + w2 * (a2 - b2) ** 2 + w3 * (a3 - b3) ** 2
    return -math.sqrt(-s) if s < 0.0 else math.sqrt(s)


@njit
def lolp_single_qoe(bitrate_bps, rebuffer, latency, rate, seg_s, min_kbps, max_kbps):
    """LoLpQoEEvaluator.js ``calculateSingleUseQoe``: the per-segment QoE of one set of values.
    dash.js passes the bitrate in bit/s here, against weights built for kbit/s; kept so."""
    lat_w = min_kbps * 0.05 if latency <= 1.1 else max_kbps * 0.1
    return seg_s * bitrate_bps - max_kbps * rebuffer - lat_w * latency - min_kbps * abs(1.0 - rate)


@njit
def lolp_next_buffer(buffer_s, download_s, seg_s):
    """LoLpWeightSelector.js ``getNextBuffer``."""
    if download_s > seg_s:
        return buffer_s - seg_s
    return buffer_s + seg_s - download_s


@njit
def _lolp_update(cstate, n, win, sigma, lr, x0, x1, x2, x3):
    """``_updateNeurons``: every neuron moves towards ``x`` by its neighbourhood to ``win``
    (computed with the states as they are at that moment, in rung order, as dash.js does)."""
    base = LOLP_S_NEURONS
    for i in range(n):
        o = base + 4 * i
        wo = base + 4 * win
        d = lolp_distance(cstate[o], cstate[o + 1], cstate[o + 2], cstate[o + 3],
                          cstate[wo], cstate[wo + 1], cstate[wo + 2], cstate[wo + 3], 1.0, 1.0, 1.0, 1.0)
        h = math.exp(-1.0 * d * d / (2.0 * sigma * sigma))
        cstate[o] += (x0 - cstate[o]) * lr * h
        cstate[o + 1] += (x1 - cstate[o + 1]) * lr * h
        cstate[o + 2] += (x2 - cstate[o + 2]) * lr * h
        cstate[o + 3] += (x3 - cstate[o + 3]) * lr * h


@njit
def lolp_choose(cparams, cstate, buffer_s, prev_rung, bitrates_bps, chunk_s, est_bps, prof):
    """LoL+'s rung for the next segment (LoLpRule.js ``getSwitchRequest`` ->
    LearningAbrController.js ``getNextQuality``).

    The throughput is ``safety`` x the predictor's estimate (none yet: keep the current rung). A
    self-organising map holds one neuron per rung (state: throughput / |ladder|, latency / 100,
    rebuffer, switch). If the buffer after downloading the current rung would fall below
    ``buffer_min_s``, the highest lower rung the throughput sustains is taken at once. Otherwise
    the weight selector picks the weights: among its 5^4 vectors and every neuron, the one whose
    single-segment QoE is highest while the predicted buffer stays >= ``buffer_min_s`` (dash.js
    builds a new selector per decision, so its latency constraint ``latency > target + |latency -
    0|`` never binds; kept). The winner is the neuron nearest ``(throughput, 0, 0, 0)`` under those
    weights, its throughput weight raised to 100 for rungs above ``throughput - delta`` or whose
    buffer would run low (the lowest rung excepted). Both the current and the winning neuron then
    pull the map towards what was measured and what is wanted.

    Only the latency and buffer weights change a vector's QoE, and the selector keeps the first
    vector of a strict maximum, so scanning the 25 (latency, buffer) pairs with the other two
    weights at 0.2, in the selector's order, finds the very vector the 625-vector scan finds
    (``tests/reference_live.py`` runs the full scan and the tests compare).
    """
    n = bitrates_bps.size
    cur = max(prev_rung, 0)
    if not np.isfinite(est_bps):
        return cur
    thr_bps = cparams[LOLP_P_SAFETY] * est_bps
    latency_s, rate, _ = live_now(prof)
    base = LOLP_S_NEURONS
    if cstate[LOLP_S_INIT] == 0.0:
        cstate[LOLP_S_INIT] = 1.0
        mag = 0.0
        for i in range(n):
            mag += bitrates_bps[i] * bitrates_bps[i]
        cstate[LOLP_S_NORM] = math.sqrt(mag)
        for i in range(n):
            cstate[base + 4 * i] = bitrates_bps[i] / cstate[LOLP_S_NORM]
            cstate[base + 4 * i + 1] = 0.0
            cstate[base + 4 * i + 2] = 0.0
            cstate[base + 4 * i + 3] = 0.0
        if np.isnan(cparams[LOLP_P_W0]):
            max_thr = 0.0
            for i in range(n):
                max_thr = max(max_thr, cstate[base + 4 * i])
            lolp_centres(cstate[LOLP_S_W : LOLP_S_W + 4], n, max_thr, np.uint64(int(cparams[LOLP_P_SEED])))
        else:
            for j in range(4):
                cstate[LOLP_S_W + j] = cparams[LOLP_P_W0 + j]
    norm = cstate[LOLP_S_NORM]
    thr_norm = thr_bps / norm
    if thr_norm > 1.0:
        thr_norm = 0.0
        for i in range(n):
            if cstate[base + 4 * i] > thr_norm:
                thr_norm = cstate[base + 4 * i]
    lat_n = latency_s / cparams[LOLP_P_LATENCY_NORM]
    buffer_min = cparams[LOLP_P_BUFFER_MIN_S]
    download_s = bitrates_bps[cur] * chunk_s / thr_bps
    rebuffer = max(0.0, download_s - buffer_s)
    if buffer_s - download_s < buffer_min:  # _getDownShiftNeuron
        best_bps = 0.0
        q = cur
        for i in range(n):
            b = bitrates_bps[i]
            if b < bitrates_bps[cur] and b > best_bps and thr_bps > b:
                best_bps = b
                q = i
        return q

    # the weight selector (findWeightVector), over the 25 pairs that can differ
    min_kbps = bitrates_bps[0] / 1000.0
    max_kbps = bitrates_bps[0] / 1000.0
    for i in range(n):
        min_kbps = min(min_kbps, bitrates_bps[i] / 1000.0)
        max_kbps = max(max_kbps, bitrates_bps[i] / 1000.0)
    delta_lat = abs(latency_s - 0.0)
    best_qoe = -np.inf
    found = False
    wl_best = 0.0
    wb_best = 0.0
    for i in range(n):
        dl_s = bitrates_bps[i] * chunk_s / thr_bps
        nb = lolp_next_buffer(buffer_s, dl_s, chunk_s)
        ok = not (latency_s > cparams[LOLP_P_TARGET_S] + delta_lat) and nb >= buffer_min
        if not ok:
            continue
        reb = max(0.00001, dl_s - nb)
        for a in range(5):
            wl = LOLP_WEIGHT_VALUES[a]
            for c in range(5):
                wb = LOLP_WEIGHT_VALUES[c]
                qoe = lolp_single_qoe(bitrates_bps[i], reb / wb, cstate[base + 4 * i + 1] / wl, rate, chunk_s,
                                      min_kbps, max_kbps)
                if not found or qoe > best_qoe:
                    found = True
                    best_qoe = qoe
                    wl_best = wl
                    wb_best = wb
    if found:
        cstate[LOLP_S_W] = 0.2
        cstate[LOLP_S_W + 1] = wl_best
        cstate[LOLP_S_W + 2] = wb_best
        cstate[LOLP_S_W + 3] = 0.2

    min_bps = bitrates_bps[0]
    for i in range(n):
        min_bps = min(min_bps, bitrates_bps[i])
    win = 0
    best_d = np.inf
    for i in range(n):
        o = base + 4 * i
        w0 = cstate[LOLP_S_W]
        dl_s = bitrates_bps[i] * chunk_s / thr_bps
        low = lolp_next_buffer(buffer_s, dl_s, chunk_s) < buffer_min
        if (bitrates_bps[i] > thr_bps - cparams[LOLP_P_DELTA_BPS] or low) and bitrates_bps[i] != min_bps:
            w0 = 100.0
        d = lolp_distance(cstate[o], cstate[o + 1], cstate[o + 2], cstate[o + 3], thr_norm, 0.0, 0.0, 0.0,
                          w0, cstate[LOLP_S_W + 1], cstate[LOLP_S_W + 2], cstate[LOLP_S_W + 3])
        if d < best_d:
            best_d = d
            win = i
    switch = abs(bitrates_bps[cur] - bitrates_bps[win]) / norm
    sigma = cparams[LOLP_P_SIGMA]
    lr = cparams[LOLP_P_LEARNING]
    _lolp_update(cstate, n, cur, sigma, lr, thr_norm, lat_n, rebuffer, switch)
    _lolp_update(cstate, n, win, sigma, lr, thr_norm, 0.0, 0.0, switch)
    return win


# -- catch-up (playback rate) ---------------------------------------------------------------------


@njit
def catchup_sigmoid(delta, rate_min, rate_max):
    """dash.js's rate for a signed error ``delta`` (latency or buffer, seconds): between
    ``1 - cpr`` and ``1 + cpr`` through ``2 cpr / (1 + e^(-5 delta))``, with ``cpr`` the room
    below 1 (``delta < 0``) or above it."""
    cpr = (1.0 - rate_min) if delta < 0.0 else (rate_max - 1.0)
    return (1.0 - cpr) + (cpr * 2.0) / (1.0 + math.exp(-delta * 5.0))


@njit
def catchup_dashjs(latency_s, target_s, buffer_s, stalled, min_drift_s, rate_min, rate_max):
    """``_calculateNewPlaybackRateDefault``: 1.0 while recovering from a stall (dash.js keeps
    ``playbackStalled`` until the buffer exceeds half the target) and inside the dead zone
    ``|latency - target| <= min_drift_s``; else the sigmoid of the latency error."""
    if stalled:
        return 1.0
    delta = latency_s - target_s
    if abs(delta) <= min_drift_s:
        return 1.0
    return catchup_sigmoid(delta, rate_min, rate_max)


@njit
def catchup_lolp(latency_s, target_s, buffer_s, buffer_min_s, rate_min, rate_max):
    """``_calculateNewPlaybackRateLolP``: below ``buffer_min_s`` of buffer slow down by the
    sigmoid of the buffer error; else 1.0 within 2 % of the target latency, the latency sigmoid
    outside it."""
    if buffer_s < buffer_min_s:
        cpr = 1.0 - rate_min
        d = (buffer_s - buffer_min_s) * 5.0
        return (1.0 - cpr) + (cpr * 2.0) / (1.0 + math.exp(-d))
    if abs(latency_s - target_s) <= 0.02 * target_s:
        return 1.0
    return catchup_sigmoid(latency_s - target_s, rate_min, rate_max)
