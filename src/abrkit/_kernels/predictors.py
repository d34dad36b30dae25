"""Throughput-predictor kernels.

Every predictor shares one contract, dispatched on an integer id (``layout.PRED_*``):

* ``pred_update(pid, p, s, size_bytes, time_s, latency_s, now_s)`` — one finished download:
  its size, the time the player measured it over (per the profile: with or without the request
  latency), the latency, and the session clock at its end;
* ``pred_predict(pid, p, s, now_s)`` — the estimate in bits per second, NaN when the
  predictor has none yet;
* ``pred_latency(pid, p, s)`` — a latency estimate in seconds (NaN if it keeps none).

``p`` is the packed float64 parameter vector, ``s`` the predictor's own float64 state (zeros
at the start of a session; its size comes from the façade). The oracle's estimate needs the
future of the trace, so the session loop computes it and passes it in (``oracle_bps``).
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import njit, njit_inline
from .layout import (
    PRED_DUAL_EWMA,
    PRED_EXO_PERCENTILE,
    PRED_HARMONIC,
    PRED_KALMAN,
    PRED_LAST,
    PRED_MEAN,
    PRED_ORACLE,
    PRED_PUFFER,
    PRED_ROBUST,
    PRED_SABRE_EWMA,
    PRED_SABRE_WINDOW,
)

# -- ring buffers inside a state vector: [count, head, v_0 .. v_{cap-1}] -------------------------


@njit_inline
def ring_push(s, off, cap, value):
    head = int(s[off + 1])
    s[off + 2 + head] = value
    s[off + 1] = (head + 1) % cap
    if s[off] < cap:
        s[off] += 1.0


@njit_inline
def ring_recent(s, off, cap, i):
    """The ``i``-th most recent value (0: the newest)."""
    head = int(s[off + 1])
    return s[off + 2 + (head - 1 - i) % cap]


@njit_inline
def ring_mean(s, off, cap, window):
    """Mean of the newest ``min(count, window)`` values, summed oldest first (as Sabre's
    ``sum(samples[-window:])``, so the event model's history is this very function)."""
    n = min(int(s[off]), window)
    acc = 0.0
    for i in range(n - 1, -1, -1):
        acc += ring_recent(s, off, cap, i)
    return acc / n


@njit
def harmonic_mean_last(samples_bps, window):
    """Harmonic mean of the last ``window`` samples (fewer if fewer exist); 0.0 if none."""
    n = samples_bps.size
    start = n - window if n > window else 0
    acc = 0.0
    for i in range(start, n):
        acc += 1.0 / samples_bps[i]
    if n - start == 0:
        return 0.0
    return (n - start) / acc


# -- parameter layouts (indices into p) ----------------------------------------------------------
# MEAN, HARMONIC, PUFFER: p[0] window.  State: ring of `window` values.
# ROBUST: p[0] error window, p[1] base id, p[2] offset of the base state in s, p[3:] base params.
#   State: s[0] has a previous estimate, s[1] previous base estimate, s[2:] error ring, then base.
# DUAL_EWMA: p[0] fast half-life s, p[1] slow half-life s, p[2] min sample bytes, p[3] min total
#   bytes, p[4] default bps (<= 0: none), p[5] min sample time s, p[6] safety, p[7] min total
#   weight, p[8] weight per second of download time (dash.js 5: 1.5, else 1; must be > 0).
#   State: s[0] fast, s[1] slow, s[2] total weight, s[3] total bytes.
# SABRE_WINDOW: p[0] number of windows, p[1] largest window, p[2:6] window sizes.
#   State: throughput ring then latency ring, each of capacity p[1].
# SABRE_EWMA: p[0] number of half-lives, p[1] segment s, p[2:6] half-lives s.
#   State: s[0] throughput weight, s[1] latency weight, s[2:6] throughput, s[6:10] latency.
# EXO_PERCENTILE: p[0] max total weight, p[1] percentile, p[2] default bps, p[3] min elapsed s,
#   p[4] min bytes, p[5] capacity.  State: s[0] count, s[1] head, s[2] total weight,
#   s[3] elapsed s, s[4] bytes, then weights[cap], values[cap] in arrival order.
# KALMAN: p[0] process variance per s, p[1] measurement variance, p[2] z of the quantile,
#   p[3] initial variance.  State: s[0] count, s[1] mean of log bps, s[2] variance, s[3] time.

_EXO_HDR = 5


@njit
def pred_update(pid, p, s, size_bytes, time_s, latency_s, now_s):
    """Feed one finished download to predictor ``pid``."""
    if pid == PRED_ROBUST:
        _robust_update(p, s, size_bytes, time_s, latency_s, now_s)
    else:
        _plain_update(pid, p, s, size_bytes, time_s, latency_s, now_s)


@njit
def pred_predict(pid, p, s, now_s, oracle_bps):
    """Estimate (bits per second) from predictor ``pid``; NaN if it has none yet."""
    if pid == PRED_LAST:
        return _predict_last(p, s, now_s)
    if pid == PRED_MEAN:
        return _predict_mean(p, s, now_s)
    if pid == PRED_HARMONIC:
        return _predict_harmonic(p, s, now_s)
    if pid == PRED_PUFFER:
        return _predict_puffer(p, s, now_s)
    if pid == PRED_ROBUST:
        return _predict_robust(p, s, now_s)
    if pid == PRED_DUAL_EWMA:
        return _predict_dual_ewma(p, s, now_s)
    if pid == PRED_SABRE_WINDOW:
        return _predict_sabre_window(p, s, now_s)
    if pid == PRED_SABRE_EWMA:
        return _predict_sabre_ewma(p, s, now_s)
    if pid == PRED_EXO_PERCENTILE:
        return _predict_exo(p, s, now_s)
    if pid == PRED_KALMAN:
        return _predict_kalman(p, s, now_s)
    if pid == PRED_ORACLE:
        return oracle_bps
    return np.nan


@njit
def pred_latency(pid, p, s):
    """Latency estimate in seconds (the Sabre estimators keep one); NaN otherwise."""
    if pid == PRED_SABRE_WINDOW:
        return _latency_sabre_window(p, s)
    if pid == PRED_SABRE_EWMA:
        return _latency_sabre_ewma(p, s)
    return np.nan


# -- one predict / update / latency function per predictor ------------------------------------------
# Uniform signatures, so that a loop compiled for one predictor id can call that predictor's
# functions alone (``estimators.py``; the tables at the end of this module map ids to them).


@njit_inline
def _predict_last(p, s, now_s):
    return ring_recent(s, 0, 1, 0) if s[0] > 0 else np.nan


@njit_inline
def _predict_mean(p, s, now_s):
    return ring_mean(s, 0, max(int(p[0]), 1), int(p[0])) if s[0] > 0 else np.nan


@njit_inline
def _predict_harmonic(p, s, now_s):
    return _harmonic(s, 0, max(int(p[0]), 1), int(p[0]))


@njit_inline
def _predict_puffer(p, s, now_s):
    if s[0] == 0:
        return np.nan
    return 8.0 / ring_mean(s, 0, max(int(p[0]), 1), int(p[0]))


@njit_inline
def _predict_robust(p, s, now_s):
    if s[0] == 0:
        return np.nan
    window = int(p[0])
    worst = 0.0
    for i in range(min(int(s[2]), window)):
        worst = max(worst, ring_recent(s, 2, window, i))
    return s[1] / (1.0 + worst)


@njit_inline
def _predict_dual_ewma(p, s, now_s):
    return _dual_ewma_predict(p, s)


@njit_inline
def _predict_sabre_window(p, s, now_s):
    return sabre_window(p, s, 0, True)


@njit_inline
def _predict_sabre_ewma(p, s, now_s):
    return sabre_ewma_read(p, s, True)


@njit_inline
def _predict_exo(p, s, now_s):
    return _exo_predict(p, s)


@njit_inline
def _predict_kalman(p, s, now_s):
    return _kalman_predict(p, s, now_s)


@njit_inline
def _latency_sabre_window(p, s):
    return sabre_window(p, s, 2 + int(p[1]), False)


@njit_inline
def _latency_sabre_ewma(p, s):
    return sabre_ewma_read(p, s, False)


@njit_inline
def _update_rate_ring(p, s, size_bytes, time_s, latency_s, now_s):
    ring_push(s, 0, max(int(p[0]), 1), size_bytes * 8.0 / time_s)


@njit_inline
def _update_puffer(p, s, size_bytes, time_s, latency_s, now_s):
    ring_push(s, 0, max(int(p[0]), 1), time_s / size_bytes)


@njit_inline
def _update_dual_ewma(p, s, size_bytes, time_s, latency_s, now_s):
    _dual_ewma_update(p, s, size_bytes, time_s)


@njit_inline
def sabre_window_update(p, s, size_bytes, time_s, latency_s, now_s):
    cap = int(p[1])
    ring_push(s, 0, cap, size_bytes * 8.0 / time_s)
    ring_push(s, 2 + cap, cap, latency_s)


@njit_inline
def _update_sabre_ewma(p, s, size_bytes, time_s, latency_s, now_s):
    sabre_ewma_update(p, s, size_bytes, time_s, latency_s)


@njit_inline
def _update_exo(p, s, size_bytes, time_s, latency_s, now_s):
    _exo_update(p, s, size_bytes, time_s)


@njit_inline
def _update_kalman(p, s, size_bytes, time_s, latency_s, now_s):
    _kalman_update(p, s, size_bytes * 8.0 / time_s, now_s)


# -- the individual estimators -------------------------------------------------------------------


@njit_inline
def _harmonic(s, off, cap, window):
    n = min(int(s[off]), window)
    if n == 0:
        return np.nan
    acc = 0.0
    for i in range(n):
        acc += 1.0 / ring_recent(s, off, cap, i)
    return n / acc


@njit_inline
def _base_predict(pid, p, s):
    """Estimate of a predictor nested in ROBUST (no clock, no oracle)."""
    return pred_predict(pid, p, s, 0.0, np.nan)


@njit_inline
def _robust_update(p, s, size_bytes, time_s, latency_s, now_s):
    # RobustMPC (Yin et al. 2015, as in Pensieve's mpc.py): the relative error of the previous
    # estimate against the sample that just arrived joins the error window (0 before any
    # estimate exists), then the base predictor takes the sample and re-estimates.
    _robust_error(p, s, size_bytes, time_s)
    base_id = int(p[1])
    base_off = int(p[2])
    base_p = p[3:]
    base_s = s[base_off:]
    _plain_update(base_id, base_p, base_s, size_bytes, time_s, latency_s, now_s)
    s[1] = _base_predict(base_id, base_p, base_s)
    s[0] = 1.0


@njit_inline
def _robust_error(p, s, size_bytes, time_s):
    """RobustDiscount's first step: the relative error of its last estimate joins the window."""
    window = int(p[0])
    sample = size_bytes * 8.0 / time_s
    err = abs(s[1] - sample) / sample if s[0] > 0 else 0.0
    ring_push(s, 2, window, err)


@njit_inline
def _plain_update(pid, p, s, size_bytes, time_s, latency_s, now_s):
    # Every predictor but ROBUST, which wraps one of these: keeping it out of this function
    # keeps Numba's type inference free of recursion.
    if pid == PRED_LAST or pid == PRED_MEAN or pid == PRED_HARMONIC:
        _update_rate_ring(p, s, size_bytes, time_s, latency_s, now_s)
    elif pid == PRED_PUFFER:
        _update_puffer(p, s, size_bytes, time_s, latency_s, now_s)
    elif pid == PRED_DUAL_EWMA:
        _update_dual_ewma(p, s, size_bytes, time_s, latency_s, now_s)
    elif pid == PRED_SABRE_WINDOW:
        sabre_window_update(p, s, size_bytes, time_s, latency_s, now_s)
    elif pid == PRED_SABRE_EWMA:
        _update_sabre_ewma(p, s, size_bytes, time_s, latency_s, now_s)
    elif pid == PRED_EXO_PERCENTILE:
        _update_exo(p, s, size_bytes, time_s, latency_s, now_s)
    elif pid == PRED_KALMAN:
        _update_kalman(p, s, size_bytes, time_s, latency_s, now_s)


@njit_inline
def _dual_ewma_update(p, s, size_bytes, time_s):
    if size_bytes < p[2]:  # Shaka ignores samples under 16 kB: too small to measure bandwidth
        return
    t = max(time_s, p[5])  # hls.js floors the duration at 50 ms
    value = size_bytes * 8.0 / t
    w = t * p[8]  # dash.js 5: 0.0015 x download time in ms; x 1.0 leaves t bit for bit
    a_fast = 0.5 ** (w / p[0])
    a_slow = 0.5 ** (w / p[1])
    s[0] = (1.0 - a_fast) * value + a_fast * s[0]
    s[1] = (1.0 - a_slow) * value + a_slow * s[1]
    s[2] += w
    s[3] += size_bytes


@njit_inline
def _dual_ewma_predict(p, s):
    if s[2] <= 0.0 or s[3] < p[3] or s[2] < p[7]:
        return p[4] if p[4] > 0.0 else np.nan
    # Zero-bias correction: both averages start at 0, so early estimates are divided by the
    # weight the samples have had so far.
    fast = s[0] / (1.0 - 0.5 ** (s[2] / p[0]))
    slow = s[1] / (1.0 - 0.5 ** (s[2] / p[1]))
    return min(fast, slow) * p[6]


@njit_inline
def sabre_window(p, s, off, throughput):
    # Sabre's SlidingWindow: the mean over each window size; the most conservative one wins
    # (the lowest throughput, the highest latency).
    cap = int(p[1])
    if s[off] == 0:
        return np.nan
    best = np.nan
    for j in range(int(p[0])):
        m = ring_mean(s, off, cap, int(p[2 + j]))
        if j == 0:
            best = m
        elif throughput:
            best = min(best, m)
        else:
            best = max(best, m)
    return best


@njit_inline
def sabre_ewma_update(p, s, size_bytes, time_s, latency_s):
    # Sabre's Ewma: throughput weighted by download time, latency by one per sample with
    # half-lives counted in segments (half-life / segment duration).
    value = size_bytes * 8.0 / time_s
    for j in range(int(p[0])):
        half = p[2 + j]
        a = 0.5 ** (time_s / half)
        s[2 + j] = a * s[2 + j] + (1.0 - a) * value
        a = 0.5 ** (1.0 / (half / p[1]))
        s[6 + j] = a * s[6 + j] + (1.0 - a) * latency_s
    s[0] += time_s
    s[1] += 1.0


@njit_inline
def sabre_ewma_read(p, s, throughput):
    if s[1] == 0:
        return np.nan
    best = np.nan
    for j in range(int(p[0])):
        half = p[2 + j]
        if throughput:
            v = s[2 + j] / (1.0 - 0.5 ** (s[0] / half))
        else:
            v = s[6 + j] / (1.0 - 0.5 ** (s[1] / (half / p[1])))
        if j == 0:
            best = v
        elif throughput:
            best = min(best, v)
        else:
            best = max(best, v)
    return best


@njit_inline
def _exo_update(p, s, size_bytes, time_s):
    # ExoPlayer's DefaultBandwidthMeter + SlidingPercentile: weight floor(sqrt(bytes)); the
    # oldest samples lose weight (and then leave) once the total exceeds the maximum.
    cap = int(p[5])
    weight = math.floor(math.sqrt(size_bytes))
    value = size_bytes * 8.0 / time_s
    s[3] += time_s
    s[4] += size_bytes
    if weight <= 0.0:
        return
    count = int(s[0])
    head = int(s[1])
    if count == cap:  # full: drop the oldest outright (the cap leaves room for max weight)
        s[2] -= s[_EXO_HDR + head]
        head = (head + 1) % cap
        count -= 1
    tail = (head + count) % cap
    s[_EXO_HDR + tail] = weight
    s[_EXO_HDR + cap + tail] = value
    count += 1
    s[2] += weight
    max_weight = p[0]
    while s[2] > max_weight:
        excess = s[2] - max_weight
        oldest = s[_EXO_HDR + head]
        if oldest <= excess:
            s[2] -= oldest
            head = (head + 1) % cap
            count -= 1
        else:
            s[_EXO_HDR + head] = oldest - excess
            s[2] -= excess
    s[0] = count
    s[1] = head


@njit_inline
def _exo_predict(p, s):
    count = int(s[0])
    if count == 0 or (s[3] < p[3] and s[4] < p[4]):
        return p[2] if p[2] > 0.0 else np.nan
    cap = int(p[5])
    head = int(s[1])
    values = np.empty(count)
    weights = np.empty(count)
    for i in range(count):
        j = (head + i) % cap
        weights[i] = s[_EXO_HDR + j]
        values[i] = s[_EXO_HDR + cap + j]
    order = np.argsort(values, kind="mergesort")
    desired = p[1] * s[2]
    acc = 0.0
    for i in range(count):
        acc += weights[order[i]]
        if acc >= desired:
            return values[order[i]]
    return values[order[count - 1]]


@njit_inline
def _kalman_update(p, s, bps, now_s):
    # A local-level Kalman filter on log throughput: the level drifts as a random walk whose
    # variance grows with elapsed time (p[0] per second), samples add p[1] of noise.
    y = math.log(bps)
    if s[0] == 0:
        s[1] = y
        s[2] = p[3]
    else:
        var = s[2] + p[0] * max(now_s - s[3], 0.0)
        gain = var / (var + p[1])
        s[1] += gain * (y - s[1])
        s[2] = (1.0 - gain) * var
    s[3] = now_s
    s[0] += 1.0


@njit_inline
def _kalman_predict(p, s, now_s):
    if s[0] == 0:
        return np.nan
    # Predictive distribution of the next sample: level uncertainty grown to now, plus noise.
    var = s[2] + p[0] * max(now_s - s[3], 0.0) + p[1]
    return math.exp(s[1] + p[2] * math.sqrt(var))


@njit
def replay(pid, p, s, size_bytes, time_s, latency_s, now_s, request_s, out_bps):
    """Feed a recorded sequence of downloads to one predictor.

    Download ``i`` was requested at session time ``request_s[i]`` and ended at ``now_s[i]``.
    ``out_bps[i]`` is the estimate made at its request, so it depends on downloads
    ``0 .. i-1`` only; NaN without one. ``s`` must start zeroed. The oracle cannot be replayed
    (it needs the trace).
    """
    for i in range(size_bytes.size):
        out_bps[i] = pred_predict(pid, p, s, request_s[i], np.nan)
        pred_update(pid, p, s, size_bytes[i], time_s[i], latency_s[i], now_s[i])


#: Predictor id -> (predict(p, s, now_s), update(p, s, size_bytes, time_s, latency_s, now_s),
#: latency(p, s) or None): what ``estimators.py`` compiles for a loop that runs one predictor.
#: The oracle is the loop's business (it needs the trace), and RobustDiscount updates through
#: ``_robust_update``, which dispatches on its base predictor's id at run time.
BY_ID = {
    PRED_LAST: (_predict_last, _update_rate_ring, None),
    PRED_MEAN: (_predict_mean, _update_rate_ring, None),
    PRED_HARMONIC: (_predict_harmonic, _update_rate_ring, None),
    PRED_PUFFER: (_predict_puffer, _update_puffer, None),
    PRED_ROBUST: (_predict_robust, _robust_update, None),
    PRED_DUAL_EWMA: (_predict_dual_ewma, _update_dual_ewma, None),
    PRED_SABRE_WINDOW: (_predict_sabre_window, sabre_window_update, _latency_sabre_window),
    PRED_SABRE_EWMA: (_predict_sabre_ewma, _update_sabre_ewma, _latency_sabre_ewma),
    PRED_EXO_PERCENTILE: (_predict_exo, _update_exo, None),
    PRED_KALMAN: (_predict_kalman, _update_kalman, None),
}
