"""Model predictive control (Yin et al., "A Control-Theoretic Approach for Dynamic Adaptive Video
Streaming over HTTP", SIGCOMM 2015): the rung sequence over the next ``h`` chunks that maximises
a linear QoE, given a throughput estimate.

The plan, for a sequence ``r_0 .. r_{h-1}`` starting from buffer ``buffer_s`` after rung ``prev``:

* chunk ``d`` downloads in ``t_d = latency_s + 8 * size[d, r_d] / est_bps`` seconds;
* it rebuffers ``max(t_d - buffer, 0)``; the buffer becomes ``min(max(buffer - t_d, 0) + chunk_s,
  cap_s)`` (``cap_s = inf``: no cap);
* objective ``B / 1e6 - rebuffer_weight * R - switch_weight * (S / 1e6)`` with ``B`` the sum of
  the bitrates (bps), ``R`` the summed rebuffering (s), ``S`` the summed ``|bitrate change|``
  (bps; none for the first chunk when ``prev < 0``).

Each sum is accumulated chunk by chunk from position 0, in that order, and the objective is
evaluated in that operation order: this is Pensieve's ``test/mpc.py`` arithmetic (bitrate sums
exact, ``/ 1e6`` of bps equals its ``/ 1000.`` of kbps), so equal objectives tie exactly as they
do there.

Kernels (shapes: ``bitrates_bps`` (n,), ``plan_sizes_bytes`` (h, n) with row ``d`` the sizes of
the ``d``-th planned chunk, ``best_seq`` (h,) int64 filled with the chosen sequence):

* ``mpc_value(...)`` -- the objective of one sequence;
* ``mpc_brute(...)`` -- every one of the ``n ** h`` sequences in lexicographic order (the order of
  ``itertools.product``), the best kept with ``>`` (``ties_last`` False: the first best sequence)
  or ``>=`` (True: the last one, as Pensieve does);
* ``mpc_search(...)`` -- the same answer, sequence and value, from a depth-first branch and bound
  that reuses prefixes and prunes with an admissible bound.

Both searches return the best objective. ``est_bps`` must be > 0 (``inf`` is fine).
"""

from __future__ import annotations

import numpy as np

from .._jit import njit, njit_inline

# Relative slack added to every bound before pruning. A leaf's objective and a bound are computed
# in different operation orders, so each is off the exact value by a few ulps; a slack far above
# that keeps pruning exact (a pruned subtree cannot hold a leaf that ties the incumbent).
_BOUND_SLACK = 1e-9


@njit_inline
def _download_s(size_bytes, est_bps, latency_s):
    return latency_s + size_bytes * 8.0 / est_bps


@njit
def mpc_value(
    bitrates_bps, plan_sizes_bytes, seq, prev_rung, buffer_s, est_bps, latency_s, chunk_s, cap_s,
    rebuffer_weight, switch_weight,
):
    """Objective of the rung sequence ``seq`` (see the module docstring)."""
    rebuf_s = 0.0
    rate_sum = 0.0
    switch_sum = 0.0
    last = prev_rung
    for d in range(seq.size):
        r = seq[d]
        t = _download_s(plan_sizes_bytes[d, r], est_bps, latency_s)
        if buffer_s < t:
            rebuf_s += t - buffer_s
            buffer_s = 0.0
        else:
            buffer_s -= t
        buffer_s = min(buffer_s + chunk_s, cap_s)
        rate_sum += bitrates_bps[r]
        if last >= 0:
            switch_sum += abs(bitrates_bps[r] - bitrates_bps[last])
        last = r
    return rate_sum / 1e6 - rebuffer_weight * rebuf_s - switch_weight * (switch_sum / 1e6)


@njit
def mpc_brute(
    bitrates_bps, plan_sizes_bytes, prev_rung, buffer_s, est_bps, latency_s, chunk_s, cap_s,
    rebuffer_weight, switch_weight, ties_last, best_seq,
):
    """Exhaustive search: every sequence, lexicographic order, each evaluated from scratch."""
    h, n = plan_sizes_bytes.shape
    seq = np.zeros(h, dtype=np.int64)
    best = -np.inf
    found = False
    while True:
        v = mpc_value(
            bitrates_bps, plan_sizes_bytes, seq, prev_rung, buffer_s, est_bps, latency_s, chunk_s, cap_s,
            rebuffer_weight, switch_weight,
        )
        if not found or v > best or (ties_last and v == best):
            best = v
            best_seq[:] = seq
            found = True
        d = h - 1  # odometer: the last position turns fastest, as in itertools.product
        while d >= 0:
            seq[d] += 1
            if seq[d] < n:
                break
            seq[d] = 0
            d -= 1
        if d < 0:
            return best


@njit_inline
def _min_rebuffer_s(min_sizes_bytes, first, buffer_s, est_bps, latency_s, chunk_s, cap_s):
    """Rebuffering of chunks ``first ..`` when each is its smallest rung: a lower bound on any
    continuation's rebuffering (rebuffering grows and the buffer shrinks with each download time)."""
    rebuf_s = 0.0
    for d in range(first, min_sizes_bytes.size):
        t = _download_s(min_sizes_bytes[d], est_bps, latency_s)
        if buffer_s < t:
            rebuf_s += t - buffer_s
            buffer_s = 0.0
        else:
            buffer_s -= t
        buffer_s = min(buffer_s + chunk_s, cap_s)
    return rebuf_s


@njit_inline
def _prefers(path, depth, last_rung, best_seq, ties_last):
    """Whether sequence (path[:depth], last_rung) wins a tie against ``best_seq``: it comes first
    (``ties_last`` False) or last (True) in lexicographic order."""
    for d in range(depth + 1):
        a = path[d] if d < depth else last_rung
        b = best_seq[d]
        if a != b:
            return (a > b) == ties_last
    return False  # the same sequence


@njit
def mpc_search(
    bitrates_bps, plan_sizes_bytes, prev_rung, buffer_s, est_bps, latency_s, chunk_s, cap_s,
    rebuffer_weight, switch_weight, ties_last, best_seq,
):
    """Branch and bound with the answer of ``mpc_brute`` (sequence and value, ties included).

    Depth-first over positions; each node keeps the running buffer, rebuffering, bitrate sum and
    switch sum of its prefix, so a leaf costs one step and its objective is computed with the
    very operations ``mpc_value`` performs. Children are visited best bound first; a child is
    skipped when its bound (plus a relative slack of ``_BOUND_SLACK``) is below the incumbent.
    The bound of a prefix is its own terms, plus the most that bitrate minus switching can add
    over the remaining positions (a DP table over (positions left, previous rung), rebuffering
    ignored), minus the rebuffering of smallest-chunk continuations. Tied leaves are compared
    lexicographically with the incumbent, so the visiting order does not change the answer.
    """
    h, n = plan_sizes_bytes.shape
    # Float work: gain[m, q + 1] for m = 0 .. h-1 (q = -1: no previous rung); min_sizes[h];
    # per depth j < h-1 and child r: buffer, rebuffer, rate sum, switch sum, bound key;
    # per depth: the node's own buffer, rebuffer, rate sum, switch sum.
    nq = n + 1
    fw = np.empty(h * nq + h + 5 * h * n + 4 * h)
    gain = fw[: h * nq]
    min_sizes = fw[h * nq : h * nq + h]
    o = h * nq + h
    c_buf = fw[o : o + h * n]
    c_reb = fw[o + h * n : o + 2 * h * n]
    c_rate = fw[o + 2 * h * n : o + 3 * h * n]
    c_sw = fw[o + 3 * h * n : o + 4 * h * n]
    c_key = fw[o + 4 * h * n : o + 5 * h * n]
    o += 5 * h * n
    s_buf = fw[o : o + h]
    s_reb = fw[o + h : o + 2 * h]
    s_rate = fw[o + 2 * h : o + 3 * h]
    s_sw = fw[o + 3 * h : o + 4 * h]
    iw = np.empty(h * n + 2 * h, dtype=np.int64)
    order = iw[: h * n]
    pos = iw[h * n : h * n + h]
    path = iw[h * n + h :]

    # gain[m, q+1] = max over r of (bitrate[r] - switch_weight * |bitrate[r] - bitrate[q]|) + gain[m-1, r+1]
    for q in range(nq):
        gain[q] = 0.0
    for m in range(1, h):
        for q in range(-1, n):
            best_g = -np.inf
            for r in range(n):
                g = bitrates_bps[r] + gain[(m - 1) * nq + r + 1]
                if q >= 0:
                    g -= switch_weight * abs(bitrates_bps[r] - bitrates_bps[q])
                if g > best_g:
                    best_g = g
            gain[m * nq + q + 1] = best_g
    for d in range(h):
        smallest = plan_sizes_bytes[d, 0]
        for r in range(1, n):
            smallest = min(smallest, plan_sizes_bytes[d, r])
        min_sizes[d] = smallest

    best = -np.inf
    found = False
    s_buf[0] = buffer_s
    s_reb[0] = 0.0
    s_rate[0] = 0.0
    s_sw[0] = 0.0
    j = 0
    while True:
        # Expand depth j: every rung for position j from the node's state.
        last = path[j - 1] if j > 0 else prev_rung
        b0 = s_buf[j]
        reb0 = s_reb[j]
        rate0 = s_rate[j]
        sw0 = s_sw[j]
        if j == h - 1:
            # The last position: children are leaves, evaluated as mpc_value does.
            for r in range(n):
                t = _download_s(plan_sizes_bytes[j, r], est_bps, latency_s)
                b = b0
                reb = reb0
                if b < t:
                    reb += t - b
                rate = rate0 + bitrates_bps[r]
                sw = sw0
                if last >= 0:
                    sw += abs(bitrates_bps[r] - bitrates_bps[last])
                v = rate / 1e6 - rebuffer_weight * reb - switch_weight * (sw / 1e6)
                if not found or v > best or (v == best and _prefers(path, j, r, best_seq, ties_last)):
                    best = v
                    found = True
                    for d in range(j):
                        best_seq[d] = path[d]
                    best_seq[j] = r
        else:
            left = h - j - 1  # positions after this one
            base = j * n
            for r in range(n):
                t = _download_s(plan_sizes_bytes[j, r], est_bps, latency_s)
                b = b0
                reb = reb0
                if b < t:
                    reb += t - b
                    b = 0.0
                else:
                    b -= t
                b = min(b + chunk_s, cap_s)
                rate = rate0 + bitrates_bps[r]
                sw = sw0
                if last >= 0:
                    sw += abs(bitrates_bps[r] - bitrates_bps[last])
                c_buf[base + r] = b
                c_reb[base + r] = reb
                c_rate[base + r] = rate
                c_sw[base + r] = sw
                future = gain[left * nq + r + 1]
                reb_lb = reb + _min_rebuffer_s(min_sizes, j + 1, b, est_bps, latency_s, chunk_s, cap_s)
                pos_part = (rate + future) / 1e6
                neg_part = rebuffer_weight * reb_lb + switch_weight * (sw / 1e6)
                c_key[base + r] = pos_part - neg_part + _BOUND_SLACK * (1.0 + abs(pos_part) + neg_part)
                # Insertion into the visiting order, best key first.
                i = r
                while i > 0 and c_key[base + order[base + i - 1]] < c_key[base + r]:
                    order[base + i] = order[base + i - 1]
                    i -= 1
                order[base + i] = r
            pos[j] = 0

        # Descend into the next unpruned child, backtracking as needed.
        if j == h - 1:
            j -= 1
        while j >= 0:
            base = j * n
            if pos[j] < n:
                r = order[base + pos[j]]
                pos[j] += 1
                if found and c_key[base + r] < best:
                    pos[j] = n  # keys are sorted: the rest cannot win either
                    continue
                path[j] = r
                s_buf[j + 1] = c_buf[base + r]
                s_reb[j + 1] = c_reb[base + r]
                s_rate[j + 1] = c_rate[base + r]
                s_sw[j + 1] = c_sw[base + r]
                j += 1
                break
            j -= 1
        if j < 0:
            return best
