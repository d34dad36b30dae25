"""Decision kernels of the chunk-model controllers: BB, BBA-0, the rate rule, MPC, BBA-1.

The loops reach them through ``contract.choose`` (one function per controller id, specialised
at compile time). What each sees is what a player knows when it requests chunk ``k``: the
buffer, the previous rung (-1 before the first chunk), the ladder, the video's size table, each
chunk's own duration (``durations_s``, one per row of the size table) and the estimate
``est_bps`` of its predictor (NaN when it has none yet).
"""

from __future__ import annotations

import numpy as np

from .._jit import njit
from .layout import (
    PROF_BUFFER_CAP_S,
    PROF_MPC_IGNORE_CAP,
    PROF_MPC_IGNORE_LATENCY,
    PROF_MPC_SIZES_AHEAD,
    PROF_MPC_TIES_LAST,
    PROF_THROUGHPUT_INCLUDES_LATENCY,
)
from .mpc import mpc_search


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


# -- planning controllers ------------------------------------------------------------------------


@njit
def mpc_decide(cparams, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes, durations_s, est_bps, latency_s,
               prof):
    """MPC / RobustMPC (Yin et al. 2015): the first rung of the best plan (``mpc.mpc_search``).

    ``cparams``: horizon, rebuffer weight, switch weight. The horizon shrinks to the chunks left
    to play. Without a usable estimate (NaN or <= 0) the lowest rung. Profile switches (Pensieve's
    ``test/mpc.py``): PROF_MPC_SIZES_AHEAD plans with the sizes of chunks k+1 .. (a chunk past the
    end of the size table counts as 0 bytes, as there); PROF_MPC_IGNORE_LATENCY never adds the
    latency (otherwise the previous request's latency is added to each planned download, unless
    the throughput samples already include it); PROF_MPC_IGNORE_CAP lets the planned buffer grow
    past the cap; PROF_MPC_TIES_LAST breaks ties toward the last sequence. The planned chunks
    k .. k+h-1 last ``durations_s[k .. k+h-1]`` (with sizes one ahead as well: only the sizes are
    Pensieve's off-by-one).
    """
    if not est_bps > 0.0:  # NaN (no estimate yet) or a useless one
        return 0
    n = bitrates_bps.size
    h = min(int(cparams[0]), n_chunks - k)
    first = k + 1 if prof[PROF_MPC_SIZES_AHEAD] != 0.0 else k
    rows = sizes_bytes.shape[0]
    if first + h <= rows:
        plan_sizes = sizes_bytes[first : first + h]
    else:  # planning past the end of the table (sizes one ahead): those chunks weigh nothing
        plan_sizes = np.zeros((h, n))
        for d in range(rows - first):
            for r in range(n):
                plan_sizes[d, r] = sizes_bytes[first + d, r]
    lat_s = latency_s
    if prof[PROF_MPC_IGNORE_LATENCY] != 0.0 or prof[PROF_THROUGHPUT_INCLUDES_LATENCY] != 0.0:
        lat_s = 0.0  # samples that include the latency already spread it over the bytes
    cap_s = np.inf if prof[PROF_MPC_IGNORE_CAP] != 0.0 else prof[PROF_BUFFER_CAP_S]
    seq = np.empty(h, dtype=np.int64)
    mpc_search(
        bitrates_bps, plan_sizes, prev_rung, buffer_s, est_bps, lat_s, durations_s[k : k + h], cap_s,
        cparams[1], cparams[2], prof[PROF_MPC_TIES_LAST] != 0.0, seq,
    )
    return seq[0]


@njit
def bba1_reservoir(sizes_bytes, k, n_chunks, durations_s, rate_min_bps, lookahead_s, min_reservoir_s, max_reservoir_s):
    """BBA-1's reservoir (Huang et al. 2014, section 5.1): the buffer the next ``lookahead_s`` of
    video (chunks k, k+1, ... at the lowest rung, at most to the end) would use up over a link of
    exactly the lowest rate: sum of ``8 * size / rate_min`` minus their play time (each chunk's
    own duration, ``durations_s[i]``), clamped to [min_reservoir_s, max_reservoir_s]."""
    need_s = 0.0
    i = k
    span_s = 0.0
    while i < n_chunks and span_s < lookahead_s:
        dur_s = durations_s[i]
        need_s += sizes_bytes[i, 0] * 8.0 / rate_min_bps - dur_s
        span_s += dur_s
        i += 1
    return min(max(need_s, min_reservoir_s), max_reservoir_s)


@njit
def bba1(buffer_s, prev_rung, k, n_chunks, bitrates_bps, sizes_bytes, durations_s, cushion_s, lookahead_s,
         min_reservoir_s, max_reservoir_s):
    """BBA-1 (Huang et al., SIGCOMM 2014, section 5): BBA-0's map and hysteresis over chunk *size*.

    The chunk map rises linearly from the lowest rate's nominal chunk size ``R_min * chunk_s / 8``
    (``chunk_s``: chunk ``k``'s own duration, ``durations_s[k]``) at the reservoir
    (``bba1_reservoir``) to the top rate's at reservoir + cushion. With ``s_r``
    the size of chunk ``k`` at rung ``r`` and ``p`` the previous rung: at or below the reservoir
    the lowest rung, from reservoir + cushion the top one; otherwise when the map reaches
    ``s_{p+1}`` the rung with the largest ``s_r`` below the map, when it falls to ``s_{p-1}`` the
    rung with the smallest ``s_r`` above it, else ``p``.
    """
    n = bitrates_bps.size
    if prev_rung < 0:
        prev_rung = 0
    reservoir_s = bba1_reservoir(
        sizes_bytes, k, n_chunks, durations_s, bitrates_bps[0], lookahead_s, min_reservoir_s, max_reservoir_s
    )
    if buffer_s <= reservoir_s:
        return 0
    if buffer_s >= reservoir_s + cushion_s:
        return n - 1
    chunk_s = durations_s[k]
    size_min = bitrates_bps[0] * chunk_s / 8.0
    size_max = bitrates_bps[n - 1] * chunk_s / 8.0
    f = size_min + (size_max - size_min) * (buffer_s - reservoir_s) / cushion_s
    up = sizes_bytes[k, prev_rung + 1] if prev_rung + 1 < n else sizes_bytes[k, n - 1]
    down = sizes_bytes[k, prev_rung - 1] if prev_rung > 0 else sizes_bytes[k, 0]
    if f >= up:
        best = -1
        for i in range(n):  # the largest size below the map (the higher rung on equal sizes)
            if sizes_bytes[k, i] < f and (best < 0 or sizes_bytes[k, i] >= sizes_bytes[k, best]):
                best = i
        return best if best >= 0 else 0
    if f <= down:
        best = -1
        for i in range(n):  # the smallest size above the map (the lower rung on equal sizes)
            if sizes_bytes[k, i] > f and (best < 0 or sizes_bytes[k, i] < sizes_bytes[k, best]):
                best = i
        return best if best >= 0 else n - 1
    return prev_rung
