"""Controller decision kernels and their dispatcher.

``decide`` is called once per chunk by the session loop. Its arguments are what a player knows
when it requests chunk ``k``: the buffer level, the previous rung, the ladder and chunk sizes,
and the throughput samples of chunks ``0 .. k-1`` (column LOG_THROUGHPUT_BPS of the log).
"""

from __future__ import annotations

import numpy as np

from .._jit import njit
from .layout import CTRL_BB_PENSIEVE, CTRL_BBA0, CTRL_FIXED, CTRL_RATE


@njit
def bb_pensieve(buffer_s, n_rungs, reservoir_s, cushion_s):
    """Pensieve's buffer-based rule: linear in the rung *index* over [reservoir, reservoir + cushion)."""
    if buffer_s < reservoir_s:
        return 0
    if buffer_s >= reservoir_s + cushion_s:
        return n_rungs - 1
    # Same operation order as Pensieve's bb.py so boundary cases truncate identically.
    return int((n_rungs - 1) * (buffer_s - reservoir_s) / cushion_s)


@njit
def bba0(buffer_s, prev_rung, bitrates_bps, reservoir_s, cushion_s):
    """BBA-0 (Huang et al., SIGCOMM 2014, Algorithm 1): a rate map with hysteresis.

    The map f(B) rises linearly from the lowest to the highest rate between the reservoir and
    reservoir + cushion. The rate moves only when f(B) crosses the next rung above (then: the
    highest rate below f(B)) or the next rung below (then: the lowest rate above f(B)).
    """
    n = bitrates_bps.size
    if prev_rung < 0:
        prev_rung = 0
    if buffer_s <= reservoir_s:  # Algorithm 1: Buf_now <= r -> R_min
        return 0
    if buffer_s >= reservoir_s + cushion_s:
        return n - 1
    r_min = bitrates_bps[0]
    r_max = bitrates_bps[n - 1]
    f = r_min + (r_max - r_min) * (buffer_s - reservoir_s) / cushion_s
    up = bitrates_bps[prev_rung + 1] if prev_rung + 1 < n else r_max
    down = bitrates_bps[prev_rung - 1] if prev_rung > 0 else r_min
    if f >= up:
        best = 0
        for i in range(n):
            if bitrates_bps[i] < f:
                best = i
        return best
    if f <= down:
        for i in range(n):
            if bitrates_bps[i] > f:
                return i
        return n - 1
    return prev_rung


@njit
def highest_below(bitrates_bps, budget_bps):
    """Index of the highest rung whose bitrate is <= budget (0 if none is)."""
    best = 0
    for i in range(bitrates_bps.size):
        if bitrates_bps[i] <= budget_bps:
            best = i
    return best


@njit
def decide(ctrl_id, cparams, k, buffer_s, prev_rung, bitrates_bps, est_bps):
    """Dispatch to the controller ``ctrl_id`` and return the rung for chunk ``k``.

    ``est_bps`` is the estimate of the controller's throughput predictor (NaN when it has
    none yet, or when the controller uses no predictor). The session loop asks the predictor
    itself, so that this small function stays cheap to call (few array arguments).
    """
    if ctrl_id == CTRL_BB_PENSIEVE:
        return bb_pensieve(buffer_s, bitrates_bps.size, cparams[0], cparams[1])
    if ctrl_id == CTRL_BBA0:
        return bba0(buffer_s, prev_rung, bitrates_bps, cparams[0], cparams[1])
    if ctrl_id == CTRL_RATE:
        if not np.isfinite(est_bps):  # no estimate yet: the lowest rung
            return 0
        return highest_below(bitrates_bps, cparams[0] * est_bps)
    if ctrl_id == CTRL_FIXED:
        return min(int(cparams[0]), bitrates_bps.size - 1)
    return -1
