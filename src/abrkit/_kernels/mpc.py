"""Model predictive control (Yin et al., "A Control-Theoretic Approach for Dynamic Adaptive Video
Streaming over HTTP", SIGCOMM 2015): the rung sequence over the next ``h`` chunks that maximises
a linear QoE, given a throughput estimate.

The plan, for a sequence ``r_0 .. r_{h-1}`` starting from buffer ``buffer_s`` after rung ``prev``:

* chunk ``d`` downloads in ``t_d = latency_s + 8 * size[d, r_d] / est_bps`` seconds;
* it rebuffers ``max(t_d - buffer, 0)``; the buffer becomes ``min(max(buffer - t_d, 0) +
  chunk_s[d], cap_s)`` (``cap_s = inf``: no cap), ``chunk_s[d]`` the duration of the ``d``-th
  planned chunk (``plan_durations_s[d]``: segments may last unequally);
* objective ``B / 1e6 - rebuffer_weight * R - switch_weight * (S / 1e6)`` with ``B`` the sum of
  the bitrates (bps), ``R`` the summed rebuffering (s), ``S`` the summed ``|bitrate change|``
  (bps; none for the first chunk when ``prev < 0``).

Each sum is accumulated chunk by chunk from position 0, in that order, and the objective is
evaluated in that operation order: this is Pensieve's ``test/mpc.py`` arithmetic (bitrate sums
exact, ``/ 1e6`` of bps equals its ``/ 1000.`` of kbps), so equal objectives tie exactly as they
do there.

Kernels (shapes: ``bitrates_bps`` (n,), ``plan_sizes_bytes`` (h, n) with row ``d`` the sizes of
the ``d``-th planned chunk, ``plan_durations_s`` (h,) its duration, ``best_seq`` (h,) int64
filled with the chosen sequence):

* ``mpc_value(...)`` -- the objective of one sequence;
* ``mpc_brute(...)`` -- every one of the ``n ** h`` sequences in lexicographic order (the order of
  ``itertools.product``), the best kept with ``>`` (``ties_last`` False: the first best sequence)
  or ``>=`` (True: the last one, as Pensieve does);
* ``mpc_search(...)`` -- the same answer, sequence and value, from a depth-first branch and bound
  that reuses prefixes and prunes with an admissible bound (see its docstring).

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


@njit_inline
def _after_download(buffer_s, t, chunk_s, cap_s):
    """One planned step: (buffer after a ``t`` s download plus one chunk of ``chunk_s``, capped;
    rebuffering)."""
    if buffer_s < t:
        return min(chunk_s, cap_s), t - buffer_s
    return min(buffer_s - t + chunk_s, cap_s), 0.0


@njit_inline
def _objective(rate_sum_bps, rebuf_s, switch_sum_bps, rebuffer_weight, switch_weight):
    return rate_sum_bps / 1e6 - rebuffer_weight * rebuf_s - switch_weight * (switch_sum_bps / 1e6)


@njit
def mpc_value(
    bitrates_bps, plan_sizes_bytes, seq, prev_rung, buffer_s, est_bps, latency_s, plan_durations_s, cap_s,
    rebuffer_weight, switch_weight,
):
    """Objective of the rung sequence ``seq`` (see the module docstring)."""
    rebuf_s = 0.0
    rate_sum = 0.0
    switch_sum = 0.0
    last = prev_rung
    for d in range(seq.size):
        r = seq[d]
        buffer_s, extra_s = _after_download(
            buffer_s, _download_s(plan_sizes_bytes[d, r], est_bps, latency_s), plan_durations_s[d], cap_s
        )
        rebuf_s += extra_s
        rate_sum += bitrates_bps[r]
        if last >= 0:
            switch_sum += abs(bitrates_bps[r] - bitrates_bps[last])
        last = r
    return _objective(rate_sum, rebuf_s, switch_sum, rebuffer_weight, switch_weight)


@njit
def mpc_brute(
    bitrates_bps, plan_sizes_bytes, prev_rung, buffer_s, est_bps, latency_s, plan_durations_s, cap_s,
    rebuffer_weight, switch_weight, ties_last, best_seq,
):
    """Exhaustive search: every sequence, lexicographic order, each evaluated from scratch."""
    h, n = plan_sizes_bytes.shape
    seq = np.zeros(h, dtype=np.int64)
    best = -np.inf
    found = False
    while True:
        v = mpc_value(
            bitrates_bps, plan_sizes_bytes, seq, prev_rung, buffer_s, est_bps, latency_s, plan_durations_s, cap_s,
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
def _min_rebuffer_s(min_sizes_bytes, first, buffer_s, est_bps, latency_s, plan_durations_s, cap_s):
    """Rebuffering of chunks ``first ..`` when each is its smallest rung: a lower bound on any
    continuation's rebuffering (rebuffering grows and the buffer shrinks with each download time)."""
    rebuf_s = 0.0
    for d in range(first, min_sizes_bytes.size):
        buffer_s, extra_s = _after_download(
            buffer_s, _download_s(min_sizes_bytes[d], est_bps, latency_s), plan_durations_s[d], cap_s
        )
        rebuf_s += extra_s
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


# Lagrange multipliers of the rebuffering bound, in units of est_bps / 1e6 / chunk_s (the first
# planned chunk's duration; any multiplier gives a valid bound, these only prune best): what a
# second of download time is worth in Mbps when chunk sizes track the nominal bitrates, i.e.
# the price at which trading buffer for bitrate breaks even. Two around it cut the nodes the
# search expands about fivefold on Pensieve-like problems (docs/mpc.md); 0 and the rebuffer
# weight itself are always added.
_MULTIPLIERS = (0.7, 1.4)


@njit
def mpc_search(
    bitrates_bps, plan_sizes_bytes, prev_rung, buffer_s, est_bps, latency_s, plan_durations_s, cap_s,
    rebuffer_weight, switch_weight, ties_last, best_seq,
):
    """Branch and bound with the answer of ``mpc_brute`` (sequence and value, ties included).

    Depth-first over positions; each node keeps the running buffer, rebuffering, bitrate sum and
    switch sum of its prefix, so a leaf costs one step and its objective is computed with the
    very operations ``mpc_value`` performs. Children are visited best bound first; a child is
    skipped when its bound (plus a relative slack of ``_BOUND_SLACK``) is below the incumbent.
    Tied leaves are compared lexicographically with the incumbent, so the visiting order does
    not change the answer.

    The bound. After a prefix, the m chunks left rebuffer ``R >= Rmin`` (every one at its
    smallest size: no continuation rebuffers less) and, summing the buffer recursion over them,
    ``R >= D = sum(t) - (buffer + S - min(c_last, cap_s))``, with ``S`` the summed durations of
    the m chunks and ``c_last`` the last planned chunk's (``m * chunk_s`` and ``chunk_s`` for
    equal chunks). So for any multiplier
    ``0 <= lam <= rebuffer_weight``, ``rebuffer_weight * R >= lam * D + (rebuffer_weight - lam) * Rmin``,
    and the rest of the objective is at most ``max over continuations of (bitrate - switching -
    lam * sum(t))`` (a DP table per lam over (position, previous rung), computed once per call)
    ``+ lam * (buffer + S - min(c_last, cap_s)) - (rebuffer_weight - lam) * Rmin``.
    The bound is the least over lam in {0, the _MULTIPLIERS, rebuffer_weight}: lam = 0 is right
    when the buffer is not spent, lam = rebuffer_weight when the continuation must rebuffer, the
    ones between when a large buffer is being spent.
    """
    h, n = plan_sizes_bytes.shape
    nq = n + 1  # previous-rung slots: q + 1 for q = -1 (none) .. n-1
    n_lam = 2 + len(_MULTIPLIERS)
    # Float work: lam[n_lam]; table[l, p, q + 1] for p = 0 .. h; gain[l, p, r] (a chunk's own
    # term in table l); switch[q, r]; min_sizes[h]; per depth j < h-1 and child r: buffer,
    # rebuffer, rate sum, switch sum, bound key; per depth: the node's buffer, rebuffer, rate
    # sum, switch sum, and the summed durations of the positions after it.
    t_size = n_lam * (h + 1) * nq
    g_size = n_lam * h * n
    fw = np.empty(n_lam + t_size + g_size + n * n + h + 5 * h * n + 5 * h)
    lam = fw[:n_lam]
    table = fw[n_lam : n_lam + t_size]
    o = n_lam + t_size
    gain = fw[o : o + g_size]
    o += g_size
    switch = fw[o : o + n * n]
    o += n * n
    min_sizes = fw[o : o + h]
    o += h
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
    after_s = fw[o + 4 * h : o + 5 * h]
    iw = np.empty(h * n + 2 * h, dtype=np.int64)
    order = iw[: h * n]
    pos = iw[h * n : h * n + h]
    path = iw[h * n + h :]

    floor_s = min(plan_durations_s[h - 1], cap_s)  # the buffer after the last download is at least this
    if h > 1:  # bounds are only needed above the leaves
        after_s[h - 1] = 0.0
        for d in range(h - 2, -1, -1):
            after_s[d] = after_s[d + 1] + plan_durations_s[d + 1]
        unit = est_bps / 1e6 / plan_durations_s[0]
        lam[0] = 0.0
        for l in range(len(_MULTIPLIERS)):
            lam[l + 1] = min(_MULTIPLIERS[l] * unit, rebuffer_weight)
        lam[n_lam - 1] = rebuffer_weight
        for p in range(h):
            for r in range(n):
                t = _download_s(plan_sizes_bytes[p, r], est_bps, latency_s)
                for l in range(n_lam):
                    gain[(l * h + p) * n + r] = bitrates_bps[r] - 1e6 * lam[l] * t if lam[l] > 0.0 else bitrates_bps[r]
        for q in range(n):
            for r in range(n):
                switch[q * n + r] = switch_weight * abs(bitrates_bps[r] - bitrates_bps[q])
        # table[l, p, q+1] = max over r of (gain[l, p, r] - switch[q, r]) + table[l, p+1, r+1]
        for l in range(n_lam):
            lo = l * (h + 1) * nq
            for q in range(nq):
                table[lo + h * nq + q] = 0.0
            for p in range(h - 1, -1, -1):
                row = (l * h + p) * n
                nxt = lo + (p + 1) * nq + 1
                for q in range(-1, n):
                    best_g = -np.inf
                    for r in range(n):
                        g = gain[row + r] + table[nxt + r]
                        if q >= 0:
                            g -= switch[q * n + r]
                        if g > best_g:
                            best_g = g
                    table[lo + p * nq + q + 1] = best_g
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
                _, extra_s = _after_download(
                    b0, _download_s(plan_sizes_bytes[j, r], est_bps, latency_s), plan_durations_s[j], cap_s
                )
                reb = reb0 + extra_s
                rate = rate0 + bitrates_bps[r]
                sw = sw0
                if last >= 0:
                    sw += abs(bitrates_bps[r] - bitrates_bps[last])
                v = _objective(rate, reb, sw, rebuffer_weight, switch_weight)
                if not found or v > best or (v == best and _prefers(path, j, r, best_seq, ties_last)):
                    best = v
                    found = True
                    for d in range(j):
                        best_seq[d] = path[d]
                    best_seq[j] = r
        else:
            base = j * n
            for r in range(n):
                b, extra_s = _after_download(
                    b0, _download_s(plan_sizes_bytes[j, r], est_bps, latency_s), plan_durations_s[j], cap_s
                )
                reb = reb0 + extra_s
                rate = rate0 + bitrates_bps[r]
                sw = sw0
                if last >= 0:
                    sw += abs(bitrates_bps[r] - bitrates_bps[last])
                c_buf[base + r] = b
                c_reb[base + r] = reb
                c_rate[base + r] = rate
                c_sw[base + r] = sw
                r_min = _min_rebuffer_s(min_sizes, j + 1, b, est_bps, latency_s, plan_durations_s, cap_s)
                spendable_s = b + after_s[j] - floor_s
                known = _objective(rate, reb, sw, rebuffer_weight, switch_weight)
                known_mag = rate / 1e6 + rebuffer_weight * reb + switch_weight * (sw / 1e6)
                key = np.inf
                for l in range(n_lam):
                    rest = table[l * (h + 1) * nq + (j + 1) * nq + r + 1] / 1e6
                    credit = lam[l] * spendable_s - (rebuffer_weight - lam[l]) * r_min
                    bound = known + rest + credit
                    bound += _BOUND_SLACK * (1.0 + known_mag + abs(rest) + abs(credit))
                    key = min(key, bound)
                c_key[base + r] = key
                # Insertion into the visiting order, best key first.
                i = r
                while i > 0 and c_key[base + order[base + i - 1]] < key:
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
