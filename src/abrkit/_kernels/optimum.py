"""The offline optimum: a label-setting dynamic program over chunks that knows the whole trace.

Model (docs/optimum.md has the proofs): the session loop of ``session.run_batch`` without
the buffer-cap waits and without the ``max_download_s`` stall, with the request latency fixed
at the profile's RTT (or, for per-period latencies, at the trace's smallest one after chunk 0).
A label is the player's state before a request: trace position (ptr, clock), session time
``t_s``, buffer ``buffer_s`` (the playback dry-out time is D = ``t_s + buffer_s``), reward R
collected so far and the previous rung. With ``mu`` the rebuffer weight and ``delta`` the
switch weight times the utility gap between the two labels' rungs, label A dominates label B
(same chunk) when ``t_A <= t_B``, ``R_A - delta >= R_B`` and ``R_A + mu D_A - delta >= R_B +
mu D_B``; only non-dominated labels are kept. A label whose reward plus the most the remaining
chunks could add falls short of a known sequence's QoE (``lower_bound``) is dropped. Fronts
larger than their cap (per previous rung: ``max_front``, or less where the work bounds below
ask for it) are merged into optimistic labels (earliest time, latest dry-out, best reward): the
value stays an upper bound but no longer belongs to a rung sequence.

Work is bounded whatever the input: a chunk expands at most ``MAX_CANDIDATES`` candidates, the
whole search keeps about ``max_labels`` labels (fronts are capped to share what is left evenly
among the chunks still to come), a download or a latency walks at most ``WALK_PERIODS`` trace
periods (longer ones are computed in closed form: whole loops of the trace at once, then a
bisection), and every step costs O(rungs x log) per candidate. The search is resumable:
``optimum_start`` makes the tables and the first labels, ``optimum_steps`` expands chunks until
a given amount of work is done and returns the state, ``optimum_finish`` reads the result, so
the caller regains control (Ctrl-C, cancellation) between blocks. ``optimum_session`` runs the
three at once.

Transfers that cross fewer than ``WALK_PERIODS`` periods call ``network.advance_clock`` and
``network.transfer``, so the network arithmetic is the session loop's own, bit for bit.
"""

from __future__ import annotations

import numpy as np

from .._jit import njit
from .layout import (
    PROF_EFFICIENCY,
    PROF_FIRST_CHUNK_REBUFFERS,
    PROF_INITIAL_RUNG,
    PROF_MAX_DOWNLOAD_S,
    PROF_RTT_ADVANCES_CLOCK,
    PROF_RTT_S,
    STATUS_COMPLETE,
    STATUS_NO_BANDWIDTH,
)
from .network import advance_clock, transfer

# -- out_stats vector of optimum_session / optimum_finish ---------------------------------------
OPT_VALUE = 0  # the optimum (upper bound) of the QoE total
OPT_LABELS = 1  # labels kept over all chunks
OPT_MAX_FRONT = 2  # largest front (one chunk, one previous rung) before any merging
OPT_MERGES = 3  # fronts that had to be merged
OPT_BEST_MERGED = 4  # 1.0: the best label descends from a merged label (no rung sequence)
OPT_BEST_LONG = 5  # 1.0: the best sequence has a download longer than max_download_s
OPT_LATENCY_RELAXED = 6  # 1.0: per-period latencies differ and the smallest was used
OPT_CUT = 7  # candidates dropped because they could not reach lower_bound
OPT_ENVELOPE = 8  # 1.0: the byte-budget bound helped the cut (its tables fit ENVELOPE_MAX_ENTRIES)
OPT_CAPPED = 9  # fronts merged under a cap below max_front (the work bounds: max_labels, MAX_CANDIDATES)
OPT_MIN_CAP = 10  # the smallest cap a front was merged to (0: no front was merged)
OPT_CAPPED_FROM = 11  # first chunk whose fronts the work bounds merged (-1: none)
OPT_STATS = 12

# -- counters of the resumable state (the last element of the state tuple) ---------------------
ST_NEXT = 0  # next chunk to expand
ST_STATUS = 1  # ST_RUNNING, or the STATUS_* the search ends with
ST_N_CUR = 2  # labels of the current chunk
ST_N_NODES = 3  # path records kept
ST_LABELS = 4  # labels kept over all chunks
ST_MAX_SEEN = 5
ST_MERGES = 6
ST_CAPPED = 7
ST_MIN_CAP = 8
ST_CUT = 9
ST_EMPTY = 10  # 1: every candidate of a chunk was cut (lower_bound was no real sequence's QoE)
ST_CAPPED_FROM = 11
ST_WORK = 12  # candidates made over all chunks
ST_SIZE = 13
ST_RUNNING = -1

# -- scalars of the tables tuple (its last element) ---------------------------------------------
TB_KAPPA = 0
TB_LAT_S = 1  # latency of every request after chunk 0
TB_FIRST_LAT_S = 2  # latency of chunk 0's request
TB_CUT = 3  # labels whose reward plus their bound falls below this are dropped
TB_USE_ENV = 4  # 1.0: the byte-budget tables are there
TB_SIZE = 5

# The byte-budget bound needs ~ chunks^2 x rungs / 2 table entries (40 bytes each); past this
# (very long videos) the cut uses the utility bound alone.
ENVELOPE_MAX_ENTRIES = 2_000_000

# Candidates one chunk may expand (about 100 bytes each while the chunk is processed): fronts are
# capped at MAX_CANDIDATES // rungs^2 labels per previous rung (27,777 for 6 rungs).
MAX_CANDIDATES = 1_000_000

# A download (or a latency) that crosses more trace periods than this is computed in closed
# form (skip_transfer, skip_advance) instead of period by period.
WALK_PERIODS = 128

# pareto_keep's staircase may move this many points per candidate (real fronts: about one)
# before the O(n log n) pareto_keep_ranked takes over.
STAIRCASE_SHIFTS_PER_CANDIDATE = 16

# Label flags, inherited by every descendant.
FLAG_MERGED = 1
FLAG_LONG = 2


@njit
def time_order(t_s, starts, order):
    """Fill ``order`` with the indices of ``t_s`` by time ascending, ties in index order.

    ``t_s[starts[b]:starts[b + 1]]`` are blocks that are usually sorted already (candidates
    made from time-sorted labels by one rung: a later start never finishes sooner). They are
    merged in O(n x blocks); if rounding left a block out of order, a stable sort does it.
    """
    n_blocks = starts.size - 1
    for b in range(n_blocks):
        for i in range(starts[b] + 1, starts[b + 1]):
            if t_s[i] < t_s[i - 1]:
                order[:] = np.argsort(t_s, kind="mergesort")
                return
    head = starts[:-1].copy()
    for j in range(t_s.size):
        best = -1
        for b in range(n_blocks):
            if head[b] < starts[b + 1] and (best < 0 or t_s[head[b]] < t_s[head[best]]):
                best = b
        order[j] = head[best]
        head[best] += 1


@njit
def rung_offsets(rung, n_rungs):
    """Counting-sort offsets, shape (n_rungs + 1,): rung ``a``'s candidates take slots
    ``base[a] : base[a + 1]`` of an array ordered by rung."""
    base = np.zeros(n_rungs + 1, dtype=np.int64)
    for i in range(rung.size):
        base[rung[i] + 1] += 1
    for a in range(n_rungs):
        base[a + 1] += base[a]
    return base


@njit
def pareto_keep_ranked(t_s, reward, score, rung, slack, order, keep):
    """``pareto_keep`` in O(n log n) for any input: the same candidates kept, in the same order.

    The question "is there a kept candidate of rung a with reward >= r and score >= s?" is a
    prefix maximum: rung a's candidates sorted by reward (descending), the kept ones' scores
    in a Fenwick tree of maxima over those ranks, so that a query and an insertion cost
    O(log n) whatever order the candidates come in. Slower than the staircase on the fronts
    real sessions make (two sorts, longer searches), so ``pareto_keep`` falls back to it only
    when the staircase's insertions would cost more than linear time.
    """
    n = t_s.size
    n_rungs = slack.shape[0]
    # Rung a's candidates, by reward descending, are ranked[base[a] : base[a + 1]].
    base = rung_offsets(rung, n_rungs)
    fill = base[:-1].copy()
    ranked = np.empty(n, dtype=np.int64)
    for i in range(n):
        ranked[fill[rung[i]]] = i
        fill[rung[i]] += 1
    sorted_r = np.empty(n)
    pos = np.empty(n, dtype=np.int64)  # a candidate's rank among its rung's
    for a in range(n_rungs):
        lo = base[a]
        hi = base[a + 1]
        if hi - lo > 1:
            sub = ranked[lo:hi].copy()
            by = np.argsort(-reward[sub], kind="mergesort")
            for j in range(hi - lo):
                ranked[lo + j] = sub[by[j]]
        for j in range(lo, hi):
            sorted_r[j] = reward[ranked[j]]
            pos[ranked[j]] = j - lo
    tree = np.full(n, -np.inf)  # rung a's Fenwick tree: tree[base[a] : base[a + 1]], 1-based inside
    n_keep = 0
    for idx in order:
        b_rung = rung[idx]
        dominated = False
        for a in range(n_rungs):
            lo = base[a]
            hi = base[a + 1]
            if lo == hi:
                continue
            r = reward[idx] + slack[a, b_rung]
            s = score[idx] + slack[a, b_rung]
            # p = how many of rung a's candidates have reward >= r (a prefix of the ranking).
            p_lo = lo
            p_hi = hi
            while p_lo < p_hi:
                mid = (p_lo + p_hi) // 2
                if sorted_r[mid] >= r:
                    p_lo = mid + 1
                else:
                    p_hi = mid
            j = p_lo - lo
            best = -np.inf
            while j > 0:  # the largest kept score among ranks 1..p
                best = max(best, tree[lo + j - 1])
                j -= j & -j
            if best >= s:
                dominated = True
                break
        if dominated:
            continue
        keep[n_keep] = idx
        n_keep += 1
        lo = base[b_rung]
        size = base[b_rung + 1] - lo
        j = pos[idx] + 1
        s = score[idx]
        while j <= size:
            if tree[lo + j - 1] < s:
                tree[lo + j - 1] = s
            j += j & -j
    return n_keep


@njit
def pareto_keep(t_s, reward, score, rung, slack, order, keep):
    """Keep the candidates that no earlier candidate dominates; returns how many (``keep[:n]``).

    Candidates are visited in ``order`` (by time ascending). Candidate ``c`` is dropped when an
    earlier kept one ``x`` has ``reward[x] - slack[rung[x], rung[c]] >= reward[c]`` and the
    same for the score: ``slack[a, b]`` bounds how much more the future can be worth after
    rung ``b`` than after ``a`` (zero on the diagonal). Per rung, the (reward, score) Pareto
    staircase of the kept ones (reward descending, score ascending) answers a query in
    O(log n): among points with reward >= r, the last has the highest score. ``keep``
    receives candidate indices in visiting order.

    Inserting a point into a staircase shifts the points after it. On real fronts staircases
    hold a few dozen points and an insertion moves about one; an adversarial order (rewards
    rising while scores fall) would make it O(n^2). Past ``STAIRCASE_SHIFTS_PER_CANDIDATE`` x n
    moves, the work so far is dropped and ``pareto_keep_ranked`` (O(n log n) always) decides.
    """
    n = t_s.size
    n_rungs = slack.shape[0]
    # Staircase of rung a: st_r/st_s[base[a] : base[a] + ns[a]], room for all of a's candidates.
    base = rung_offsets(rung, n_rungs)
    ns = np.zeros(n_rungs, dtype=np.int64)
    st_r = np.empty(n)
    st_s = np.empty(n)
    moves_left = STAIRCASE_SHIFTS_PER_CANDIDATE * n + 1024
    n_keep = 0
    for idx in order:
        b_rung = rung[idx]
        dominated = False
        for a in range(n_rungs):
            if ns[a] == 0:
                continue
            r = reward[idx] + slack[a, b_rung]
            s = score[idx] + slack[a, b_rung]
            lo = base[a]
            hi = base[a] + ns[a]
            while lo < hi:  # first staircase point with reward < r
                mid = (lo + hi) // 2
                if st_r[mid] >= r:
                    lo = mid + 1
                else:
                    hi = mid
            if lo > base[a] and st_s[lo - 1] >= s:
                dominated = True
                break
        if dominated:
            continue
        keep[n_keep] = idx
        n_keep += 1
        # Replace the points of b_rung's staircase that (r, s) dominates, st[a0:b0], by (r, s).
        r = reward[idx]
        s = score[idx]
        lo = base[b_rung]
        end = lo + ns[b_rung]
        hi = end
        while lo < hi:
            mid = (lo + hi) // 2
            if st_r[mid] >= r:
                lo = mid + 1
            else:
                hi = mid
        j = lo
        a0 = j - 1 if (j > base[b_rung] and st_r[j - 1] == r) else j
        b0 = j
        while b0 < end and st_s[b0] <= s:
            b0 += 1
        moves_left -= end - b0
        if moves_left < 0:
            return pareto_keep_ranked(t_s, reward, score, rung, slack, order, keep)
        shift = 1 - (b0 - a0)
        if shift > 0:
            for i in range(end - 1, b0 - 1, -1):
                st_r[i + 1] = st_r[i]
                st_s[i + 1] = st_s[i]
        elif shift < 0:
            for i in range(b0, end):
                st_r[i + shift] = st_r[i]
                st_s[i + shift] = st_s[i]
        st_r[a0] = r
        st_s[a0] = s
        ns[b_rung] += shift
    return n_keep


@njit
def hull_segments(size_bytes, utility, seg_bytes, seg_gain):
    """One chunk's rungs as a base and upgrades: the upper concave hull of (size, utility).

    Returns (n_segments, base_bytes, base_utility): the smallest size (best utility among equal
    sizes), then ``seg_bytes[i]`` more bytes for ``seg_gain[i]`` more utility, with the gain per
    byte falling. Every rung's point lies on or under the hull, so the hull bounds the
    utility any mix of rungs gets from a byte budget. Rungs larger but no better are skipped.
    """
    n = size_bytes.size
    order = np.argsort(size_bytes, kind="mergesort")
    hx = np.empty(n)
    hy = np.empty(n)
    h = 0
    for idx in order:
        x = size_bytes[idx]
        y = utility[idx]
        if h > 0 and x == hx[h - 1]:
            if y <= hy[h - 1]:
                continue
            h -= 1  # same size, more utility: it replaces the last point
        if h > 0 and y <= hy[h - 1]:
            continue
        # Pop points that fall under the chord: slopes must fall along the hull.
        while h >= 2 and (hy[h - 1] - hy[h - 2]) * (x - hx[h - 1]) <= (y - hy[h - 1]) * (hx[h - 1] - hx[h - 2]):
            h -= 1
        hx[h] = x
        hy[h] = y
        h += 1
    for i in range(h - 1):
        seg_bytes[i] = hx[i + 1] - hx[i]
        seg_gain[i] = hy[i + 1] - hy[i]
    return h - 1, hx[0], hy[0]


@njit
def byte_envelope(sizes_bytes, utility, n_chunks, kappa, max_entries):
    """Per chunk k, the most utility chunks k+1 .. n_chunks-1 can get from a byte budget.

    Returns (ok, stage_off, base_bytes, base_util, cum_bytes, cum_util, slope, seg_len, excess).
    ``base_*[k]``: every remaining chunk at its smallest size. Stage ``k``'s entries,
    ``[stage_off[k], stage_off[k + 1])``, are the upgrades of those chunks' hulls by falling
    gain per byte (``slope``, ``seg_len`` bytes), with ``cum_bytes``/``cum_util`` before each
    (its last entry holds the totals) and ``excess`` from each on: the sum of
    ``(slope - kappa)^+ x seg_len``. The budget-to-utility function this describes is concave
    and above the best choice of whole rungs (a fractional knapsack). ``ok`` is False, with
    no entries, when the tables would pass ``max_entries``.
    """
    n_rungs = sizes_bytes.shape[1]
    n = max(n_chunks, 1)
    n_seg = np.zeros(n, dtype=np.int64)
    b_bytes = np.zeros(n)
    b_util = np.zeros(n)
    all_len = np.empty(n * max(n_rungs - 1, 1))
    all_gain = np.empty(all_len.size)
    all_chunk = np.empty(all_len.size, dtype=np.int64)
    seg_b = np.empty(max(n_rungs - 1, 1))
    seg_g = np.empty(max(n_rungs - 1, 1))
    total_seg = 0
    for j in range(n_chunks):
        ns, bb, bu = hull_segments(sizes_bytes[j], utility[j], seg_b, seg_g)
        n_seg[j] = ns
        b_bytes[j] = bb
        b_util[j] = bu
        for i in range(ns):
            all_len[total_seg] = seg_b[i]
            all_gain[total_seg] = seg_g[i]
            all_chunk[total_seg] = j
            total_seg += 1
    slope_all = all_gain[:total_seg] / all_len[:total_seg]
    order = np.argsort(-slope_all, kind="mergesort")
    stage_off = np.zeros(n + 1, dtype=np.int64)
    remaining = total_seg
    for k in range(n_chunks):
        remaining -= n_seg[k]  # the upgrades of chunks k+1 ..
        stage_off[k + 1] = stage_off[k] + remaining + 1
    base_bytes = np.zeros(n)
    base_util = np.zeros(n)
    for k in range(n_chunks - 2, -1, -1):
        base_bytes[k] = base_bytes[k + 1] + b_bytes[k + 1]
        base_util[k] = base_util[k + 1] + b_util[k + 1]
    total = stage_off[n_chunks]
    if total > max_entries:
        empty = np.zeros(0)
        return False, np.zeros(n + 1, dtype=np.int64), base_bytes, base_util, empty, empty, empty, empty, empty
    cum_bytes = np.empty(total)
    cum_util = np.empty(total)
    slope = np.zeros(total)
    seg_len = np.zeros(total)
    excess = np.zeros(total)
    for k in range(n_chunks):
        o = stage_off[k]
        i = 0
        cb = 0.0
        cu = 0.0
        for g in order:
            if all_chunk[g] > k:
                cum_bytes[o + i] = cb
                cum_util[o + i] = cu
                slope[o + i] = slope_all[g]
                seg_len[o + i] = all_len[g]
                cb += all_len[g]
                cu += all_gain[g]
                i += 1
        cum_bytes[o + i] = cb
        cum_util[o + i] = cu
        for g in range(i - 1, -1, -1):
            excess[o + g] = excess[o + g + 1] + max(slope[o + g] - kappa, 0.0) * seg_len[o + g]
    return True, stage_off, base_bytes, base_util, cum_bytes, cum_util, slope, seg_len, excess


@njit
def envelope_value(stage_off, base_bytes, base_util, cum_bytes, cum_util, slope, seg_len, excess, k, avail_bytes, kappa):
    """``max over X of util_k(X) - kappa * (X - avail_bytes)^+``: the most chunks k+1.. can be
    worth when ``avail_bytes`` can arrive in time and each byte more costs ``kappa``
    (``byte_envelope`` describes ``util_k``, which starts at ``base_bytes[k]``)."""
    o = stage_off[k]
    n = stage_off[k + 1] - o - 1  # upgrades of stage k
    x0 = max(avail_bytes, base_bytes[k])
    value = base_util[k] - kappa * (x0 - avail_bytes)
    extra = x0 - base_bytes[k]
    lo = 0
    hi = n
    while lo < hi:  # i = upgrades wholly within the budget
        mid = (lo + hi + 1) // 2
        if cum_bytes[o + mid] <= extra:
            lo = mid
        else:
            hi = mid - 1
    i = lo
    if i == n:
        return value + cum_util[o + n]
    part = extra - cum_bytes[o + i]
    # Within the budget an upgrade pays its gain; beyond it, what its gain per byte beats kappa by.
    return value + cum_util[o + i] + part * slope[o + i] + max(slope[o + i] - kappa, 0.0) * (seg_len[o + i] - part) + excess[o + i + 1]


@njit
def bytes_within(period_end_s, period_bw_bps, wrap_s, cum_bytes, ptr, clock_s, dt_s, efficiency):
    """Payload bytes the link carries in ``dt_s`` seconds of trace time from (ptr, clock_s).

    ``cum_bytes[j]``: payload bytes from the start of a loop (``wrap_s``) to the end of period
    ``j``. Whole loops count at once and the end is found by bisection: the cost does not grow
    with ``dt_s``.
    """
    m = period_end_s.size
    if dt_s <= 0.0:
        return 0.0
    start = wrap_s if ptr == 0 else period_end_s[ptr - 1]
    before = 0.0 if ptr == 0 else cum_bytes[ptr - 1]
    g0 = before + period_bw_bps[ptr] / 8.0 * efficiency * (clock_s - start)
    x1 = clock_s + dt_s
    loop_end = period_end_s[m - 1]
    total = 0.0
    lo = ptr
    if x1 > loop_end:
        total = cum_bytes[m - 1] - g0
        left_s = x1 - loop_end
        loop_s = loop_end - wrap_s
        loops = np.floor(left_s / loop_s)
        total += loops * cum_bytes[m - 1]
        x1 = min(wrap_s + (left_s - loops * loop_s), loop_end)
        g0 = 0.0
        lo = 0
    hi = m - 1
    while lo < hi:  # the period holding x1: the first that ends at or after it
        mid = (lo + hi) // 2
        if period_end_s[mid] < x1:
            lo = mid + 1
        else:
            hi = mid
    start = wrap_s if lo == 0 else period_end_s[lo - 1]
    before = 0.0 if lo == 0 else cum_bytes[lo - 1]
    return total + before + period_bw_bps[lo] / 8.0 * efficiency * (x1 - start) - g0


@njit
def walk_spans(period_end_s, wrap_s, walk_periods):
    """``span_s[j]``: the trace time from the start of period ``j`` to the end of period
    ``j + walk_periods - 1`` (wrapping around the loop). A walk that starts in period ``j`` and
    stops after that much time has crossed at most ``walk_periods + 1`` periods."""
    m = period_end_s.size
    prefix = np.empty(m + 1)  # prefix[j]: time from the loop start to the start of period j
    prefix[0] = 0.0
    for j in range(m):
        prefix[j + 1] = period_end_s[j] - wrap_s
    loop_s = prefix[m]
    span_s = np.empty(m)
    for j in range(m):
        x = j + walk_periods
        span_s[j] = (x // m) * loop_s + prefix[x % m] - prefix[j]
    return span_s


@njit
def skip_advance(period_end_s, wrap_s, ptr, clock_s, wait_s):
    """``network.advance_clock`` in closed form: whole loops of the trace at once, then a
    bisection for the period. Equal to the walk up to rounding, at O(log periods)."""
    m = period_end_s.size
    loop_end = period_end_s[m - 1]
    to_end_s = loop_end - clock_s
    lo = ptr
    if wait_s < to_end_s:
        x = clock_s + wait_s
    else:
        x = wrap_s + np.fmod(wait_s - to_end_s, loop_end - wrap_s)
        lo = 0
    hi = m - 1
    while lo < hi:  # the first period that ends after x (at a period's end the clock moves on)
        mid = (lo + hi) // 2
        if period_end_s[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    if x >= period_end_s[lo]:  # the loop's end (rounding): the next loop starts
        return 0, wrap_s
    return lo, x


@njit
def skip_transfer(period_end_s, period_bw_bps, wrap_s, cum_bytes, ptr, clock_s, size_bytes, efficiency):
    """``network.transfer`` (without its time limit) in closed form: whole loops of the trace at
    once, then a bisection on the loop's cumulative payload ``cum_bytes`` for the period where
    the last byte arrives. Returns (seconds taken, ptr, clock). Equal to the walk up to
    rounding, at O(log periods); needs ``cum_bytes[-1] > 0``."""
    m = period_end_s.size
    loop_bytes = cum_bytes[m - 1]
    loop_end = period_end_s[m - 1]
    loop_s = loop_end - wrap_s
    start = wrap_s if ptr == 0 else period_end_s[ptr - 1]
    before = 0.0 if ptr == 0 else cum_bytes[ptr - 1]
    # Positions on the loop's payload axis: the download ends in the first period whose end
    # lies strictly past target (a period that carries nothing never holds the end).
    target = before + period_bw_bps[ptr] / 8.0 * efficiency * (clock_s - start) + size_bytes
    loops = 0.0
    lo = ptr
    if target >= loop_bytes:
        rest = target - loop_bytes
        left = np.fmod(rest, loop_bytes)
        loops = 1.0 + np.round((rest - left) / loop_bytes)
        target = left
        lo = 0
    hi = m - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum_bytes[mid] <= target:
            lo = mid + 1
        else:
            hi = mid
    j = lo
    start_j = wrap_s if j == 0 else period_end_s[j - 1]
    before_j = 0.0 if j == 0 else cum_bytes[j - 1]
    rate = period_bw_bps[j] / 8.0 * efficiency
    x = start_j
    if rate > 0.0:
        x = min(start_j + max(target - before_j, 0.0) / rate, period_end_s[j])
    if loops == 0.0:
        return x - clock_s, j, x
    return (loop_end - clock_s) + (loops - 1.0) * loop_s + (x - wrap_s), j, x


@njit
def request_bounded(period_end_s, period_bw_bps, wrap_s, cum_bytes, span_s, ptr, clock_s, size_bytes, efficiency, lat_s, rtt_moves):
    """A request of ``size_bytes`` at (ptr, clock): the latency (when it moves the trace
    clock), then the transfer, with no time limit. Returns (transfer seconds, ptr, clock).

    Walks of at most ``WALK_PERIODS`` periods (``span_s`` from ``walk_spans``) are the session
    loop's own ``advance_clock`` and ``transfer``, bit for bit; longer ones are computed in
    closed form (``skip_advance``, ``skip_transfer``), so a request costs a bounded amount of
    work however slow the link or long the latency.
    """
    if rtt_moves and lat_s > 0.0:
        start = wrap_s if ptr == 0 else period_end_s[ptr - 1]
        if lat_s <= span_s[ptr] - (clock_s - start):
            ptr, clock_s = advance_clock(period_end_s, wrap_s, ptr, clock_s, lat_s)
        else:
            ptr, clock_s = skip_advance(period_end_s, wrap_s, ptr, clock_s, lat_s)
    start = wrap_s if ptr == 0 else period_end_s[ptr - 1]
    xfer_s, new_ptr, new_clock_s, done = transfer(
        period_end_s, period_bw_bps, wrap_s, ptr, clock_s, size_bytes, efficiency, span_s[ptr] - (clock_s - start)
    )
    if not done:
        xfer_s, new_ptr, new_clock_s = skip_transfer(
            period_end_s, period_bw_bps, wrap_s, cum_bytes, ptr, clock_s, size_bytes, efficiency
        )
    return xfer_s, new_ptr, new_clock_s


@njit
def optimum_start(
    period_end_s, period_bw_bps, period_lat_s, start_s, wrap_s,
    sizes_bytes, utility, n_chunks, prof, rebuffer_weight, switch_weight, lower_bound,
):
    """The tables every step of a search reads, and the state before chunk 0: (tables, state).

    ``tables`` = (future_max, cum_period, span_s, byte-envelope tables x 8, scalars ``TB_*``);
    ``state`` = (the current labels' t_s, buffer_s, reward, clock_s, ptr, previous rung, node,
    flags; the per-rung blocks of the labels; the path records' parent and rung; counters
    ``ST_*``). A trace that carries no payload ends the search at once (``STATUS_NO_BANDWIDTH``).
    """
    m = period_bw_bps.size
    n_rungs = sizes_bytes.shape[1]
    eff = prof[PROF_EFFICIENCY]
    counters = np.zeros(ST_SIZE, dtype=np.int64)
    counters[ST_STATUS] = ST_RUNNING
    counters[ST_N_CUR] = 1
    counters[ST_CAPPED_FROM] = -1
    scalars = np.zeros(TB_SIZE)
    # cum_period[j]: payload bytes from the loop start to the end of period j.
    cum_period = np.empty(m)
    carried = 0.0
    rate_max = 0.0
    for j in range(m):
        rate_max = max(rate_max, period_bw_bps[j] / 8.0 * eff)
        carried += period_bw_bps[j] / 8.0 * eff * (period_end_s[j] - (wrap_s if j == 0 else period_end_s[j - 1]))
        cum_period[j] = carried
    if not cum_period[m - 1] > 0.0:
        counters[ST_STATUS] = STATUS_NO_BANDWIDTH
    span_s = walk_spans(period_end_s, wrap_s, WALK_PERIODS)

    if prof[PROF_RTT_S] >= 0.0:
        lat_s = prof[PROF_RTT_S]
        first_lat_s = lat_s
    else:
        # The real loop takes the latency of the period a request starts in; a later start
        # may then finish sooner. The smallest latency keeps every finish no later than the
        # real one (an upper bound), and is exact when all periods share it. Chunk 0 keeps
        # its own (every session requests it at the trace start): when its download is not
        # rebuffering, finishing it sooner would move the whole playback earlier.
        first_lat_s = period_lat_s[0]
        lat_s = period_lat_s[0]
        for j in range(1, m):
            lat_s = min(lat_s, period_lat_s[j])
    scalars[TB_LAT_S] = lat_s
    scalars[TB_FIRST_LAT_S] = first_lat_s
    mu = rebuffer_weight
    lam = switch_weight
    # future_max[k, q]: the most chunks k+1.. can add after chunk k at rung q, rebuffering
    # ignored (a backward pass over rungs).
    future_max = np.zeros((max(n_chunks, 1), n_rungs))
    for k in range(n_chunks - 2, -1, -1):
        for q in range(n_rungs):
            best_add = -np.inf
            for r in range(n_rungs):
                add = utility[k + 1, r] - lam * abs(utility[k + 1, r] - utility[k, q]) + future_max[k + 1, r]
                best_add = max(best_add, add)
            future_max[k, q] = best_add
    # Rounding may put the sum along the optimal path a few ulps under the bound: keep a margin.
    scalars[TB_CUT] = lower_bound - 1e-9 * (1.0 + abs(lower_bound)) if np.isfinite(lower_bound) else -np.inf
    # A second bound on what chunks k+1.. can add, from the bytes the link can carry before the
    # last chunk's deadline (buffer + the chunks between): more bytes cost at least
    # kappa = mu / (fastest payload rate) each, in rebuffering.
    kappa = mu / rate_max if rate_max > 0.0 else 0.0
    scalars[TB_KAPPA] = kappa
    use_env = False
    if np.isfinite(lower_bound) and n_chunks > 1 and counters[ST_STATUS] == ST_RUNNING:
        use_env, e_off, e_base_b, e_base_u, e_cb, e_cu, e_slope, e_len, e_exc = byte_envelope(
            sizes_bytes, utility, n_chunks, kappa, ENVELOPE_MAX_ENTRIES
        )
    else:
        e_off = np.zeros(2, dtype=np.int64)
        e_base_b = e_base_u = e_cb = e_cu = e_slope = e_len = e_exc = np.zeros(1)
    scalars[TB_USE_ENV] = 1.0 if use_env else 0.0
    tables = (future_max, cum_period, span_s, e_off, e_base_b, e_base_u, e_cb, e_cu, e_slope, e_len, e_exc, scalars)

    # The labels of the session start (before chunk 0), one block.
    state = (
        np.zeros(1), np.zeros(1), np.zeros(1), np.full(1, start_s),
        np.zeros(1, dtype=np.int64), np.full(1, -1, dtype=np.int64), np.full(1, -1, dtype=np.int64),
        np.zeros(1, dtype=np.int64), np.array([0, 1], dtype=np.int64),
        # Every kept label is a node: its parent node and rung (for the path). Slim on purpose:
        # the path's rebuffering and buffer are replayed at the end instead of stored.
        np.empty(64, dtype=np.int32), np.empty(64, dtype=np.int16),
        counters,
    )
    return tables, state


@njit
def front_cap(n_rungs, max_front, max_labels, labels_so_far, chunks_left):
    """Labels a front (one chunk, one previous rung) may keep: ``max_front``, and no more than
    the work bounds allow: ``MAX_CANDIDATES`` candidates for the next chunk, and an even share
    of what is left of ``max_labels`` among the chunks still to come; at least 1."""
    cap = MAX_CANDIDATES // (n_rungs * n_rungs)
    left = max_labels - labels_so_far
    share = left // (max(chunks_left, 1) * n_rungs) if left > 0 else 0
    return max(1, min(max_front, cap, share)), max(1, min(cap, share))


@njit
def optimum_steps(
    period_end_s, period_bw_bps, wrap_s, sizes_bytes, utility, durations_s, n_chunks, prof,
    rebuffer_weight, switch_weight, include_first_chunk, max_front, beam_width, max_labels,
    tables, state, work_limit,
):
    """Expand chunks from ``state`` until the search ends or ``work_limit`` candidates have
    been made in this call (always at least one chunk); returns the new state."""
    (cur_t, cur_buf, cur_rew, cur_clock, cur_ptr, cur_prev, cur_node, cur_flags, cur_starts,
     node_parent, node_rung, counters) = state
    (future_max, cum_period, span_s, e_off, e_base_b, e_base_u, e_cb, e_cu, e_slope, e_len, e_exc, scalars) = tables
    counters = counters.copy()
    if counters[ST_STATUS] != ST_RUNNING:
        return state
    rtt_moves = prof[PROF_RTT_ADVANCES_CLOCK] != 0.0
    eff = prof[PROF_EFFICIENCY]
    max_dl_s = prof[PROF_MAX_DOWNLOAD_S]
    first_rebuffers = prof[PROF_FIRST_CHUNK_REBUFFERS] != 0.0
    initial_rung = int(prof[PROF_INITIAL_RUNG])
    n_rungs = sizes_bytes.shape[1]
    mu = rebuffer_weight
    lam = switch_weight
    kappa = scalars[TB_KAPPA]
    cut = scalars[TB_CUT]
    use_env = scalars[TB_USE_ENV] != 0.0
    n_cur = counters[ST_N_CUR]
    n_nodes = counters[ST_N_NODES]
    work = 0
    # The envelope's horizon after chunk k: the play time of chunks k+1 .. n_chunks-2, as
    # (n_chunks - 2 - k) * base_s plus those chunks' deviations from base_s (dev_after[k]),
    # which are exactly 0.0 for equal chunks, so those take the plain product.
    base_s = durations_s[0] if n_chunks > 0 else 0.0
    dev_after = np.zeros(max(n_chunks, 1))
    for j in range(n_chunks - 3, -1, -1):
        dev_after[j] = dev_after[j + 1] + (durations_s[j + 1] - base_s)

    k = counters[ST_NEXT]
    while k < n_chunks:
        if k == 0 and initial_rung >= 0:
            r_lo = min(initial_rung, n_rungs - 1)
            r_hi = r_lo + 1
        else:
            r_lo = 0
            r_hi = n_rungs
        n_cand = (r_hi - r_lo) * n_cur
        work += n_cand
        c_t = np.empty(n_cand)
        c_buf = np.empty(n_cand)
        c_rew = np.empty(n_cand)
        c_score = np.empty(n_cand)
        c_clock = np.empty(n_cand)
        c_ptr = np.empty(n_cand, dtype=np.int64)
        c_flags = np.empty(n_cand, dtype=np.int64)
        c_rung = np.empty(n_cand, dtype=np.int64)
        c_parent = np.empty(n_cand, dtype=np.int64)
        # Blocks of candidates, one per rung, each made from the labels in time order.
        starts = np.zeros(r_hi - r_lo + 1, dtype=np.int64)
        order = np.empty(n_cur, dtype=np.int64)
        time_order(cur_t, cur_starts, order)
        req_lat_s = scalars[TB_FIRST_LAT_S] if k == 0 else scalars[TB_LAT_S]
        dur_s = durations_s[k]  # chunk k's own duration: what the buffer gains
        c = 0
        for r in range(r_lo, r_hi):
            starts[r - r_lo] = c
            size = sizes_bytes[k, r]
            u = utility[k, r]
            for ii in range(n_cur):
                i = order[ii]
                # No time limit: a long download only marks the label (see FLAG_LONG).
                xfer_s, ptr, clock_s = request_bounded(
                    period_end_s, period_bw_bps, wrap_s, cum_period, span_s, cur_ptr[i], cur_clock[i], size, eff,
                    req_lat_s, rtt_moves,
                )
                delay_s = xfer_s + req_lat_s
                buffer_s = cur_buf[i]
                if k == 0 and not first_rebuffers:
                    rebuf_s = 0.0
                    buffer_s = dur_s
                else:
                    rebuf_s = max(delay_s - buffer_s, 0.0)
                    buffer_s = max(buffer_s - delay_s, 0.0) + dur_s
                reward = u - mu * rebuf_s
                q = cur_prev[i]
                if q >= 0:
                    reward -= lam * abs(u - utility[k - 1, q])
                if k == 0 and not include_first_chunk:
                    reward = 0.0
                bound = future_max[k, r]
                if use_env and k + 1 < n_chunks and cur_rew[i] + reward + bound >= cut:
                    avail = bytes_within(
                        period_end_s, period_bw_bps, wrap_s, cum_period, ptr, clock_s,
                        buffer_s + ((n_chunks - 2 - k) * base_s + dev_after[k]), eff,
                    )
                    bound = min(bound, envelope_value(
                        e_off, e_base_b, e_base_u, e_cb, e_cu, e_slope, e_len, e_exc, k, avail, kappa
                    ))
                if cur_rew[i] + reward + bound < cut:
                    counters[ST_CUT] += 1
                    continue
                t_s = cur_t[i] + delay_s
                c_t[c] = t_s
                c_buf[c] = buffer_s
                c_rew[c] = cur_rew[i] + reward
                c_score[c] = c_rew[c] + mu * (t_s + buffer_s)
                c_clock[c] = clock_s
                c_ptr[c] = ptr
                c_flags[c] = cur_flags[i] | (FLAG_LONG if xfer_s > max_dl_s else 0)
                c_rung[c] = r
                c_parent[c] = cur_node[i]
                c += 1
        starts[r_hi - r_lo] = c
        n_cand = c
        # After chunk k at rung b the next switch term is lam * |u_{k+1} - u_k(b)|, so any
        # future is worth at most lam * |u_k(a) - u_k(b)| more after rung b than after a.
        # (Nothing follows the last chunk.)
        slack = np.zeros((n_rungs, n_rungs))
        if k + 1 < n_chunks:
            for a in range(n_rungs):
                for b in range(n_rungs):
                    slack[a, b] = lam * abs(utility[k, a] - utility[k, b])
        order = np.empty(n_cand, dtype=np.int64)
        time_order(c_t[:n_cand], starts, order)
        keep = np.empty(n_cand, dtype=np.int64)
        n_keep = pareto_keep(c_t[:n_cand], c_rew[:n_cand], c_score[:n_cand], c_rung[:n_cand], slack, order, keep)
        # The fronts' cap: max_front, or less to keep the work bounded. The heuristic (beam)
        # run keeps the best rewards up to the work bounds' cap and merges only past max_front.
        cap, work_cap = front_cap(n_rungs, max_front, max_labels, counters[ST_LABELS], n_chunks - k)
        width = min(beam_width, work_cap) if beam_width > 0 else 0
        per_rung = np.zeros(n_rungs, dtype=np.int64)
        for g in range(n_keep):
            per_rung[c_rung[keep[g]]] += 1
        n_next = 0
        for r in range(n_rungs):
            counters[ST_MAX_SEEN] = max(counters[ST_MAX_SEEN], per_rung[r])
            n_next += min(per_rung[r], cap, width if width > 0 else per_rung[r])
        if n_nodes + n_next > node_parent.size:
            grow = max(2 * node_parent.size, n_nodes + n_next)
            tmp_p = np.empty(grow, dtype=np.int32)
            tmp_p[:n_nodes] = node_parent[:n_nodes]
            node_parent = tmp_p
            tmp_r = np.empty(grow, dtype=np.int16)
            tmp_r[:n_nodes] = node_rung[:n_nodes]
            node_rung = tmp_r
        cur_t = np.empty(n_next)
        cur_buf = np.empty(n_next)
        cur_rew = np.empty(n_next)
        cur_clock = np.empty(n_next)
        cur_ptr = np.empty(n_next, dtype=np.int64)
        cur_prev = np.empty(n_next, dtype=np.int64)
        cur_node = np.empty(n_next, dtype=np.int64)
        cur_flags = np.empty(n_next, dtype=np.int64)
        n_cur = 0
        cur_starts = np.zeros(n_rungs + 1, dtype=np.int64)
        mine = np.empty(n_keep, dtype=np.int64)
        for r in range(n_rungs):
            cur_starts[r] = n_cur
            n_mine = 0
            for g in range(n_keep):
                if c_rung[keep[g]] == r:
                    mine[n_mine] = keep[g]
                    n_mine += 1
            if 0 < width < n_mine:
                # The heuristic run: the best rewards only, still in time order.
                top = np.sort(np.argsort(-c_rew[mine[:n_mine]], kind="mergesort")[:width])
                for g in range(width):
                    mine[g] = mine[top[g]]
                n_mine = width
            n_groups = min(n_mine, cap)
            if n_mine > cap:
                # Merge neighbours in reward: a merged label keeps the best reward of its group,
                # so groups of similar rewards lose the least (measured: bounds tighter by 2-21 %
                # of the optimum than with groups of neighbours in time; docs/optimum.md).
                by_rew = np.argsort(c_rew[mine[:n_mine]], kind="mergesort")
                in_time = mine[:n_mine].copy()
                for h in range(n_mine):
                    mine[h] = in_time[by_rew[h]]
                counters[ST_MERGES] += 1
                if cap < max_front:
                    counters[ST_CAPPED] += 1
                    if counters[ST_CAPPED_FROM] < 0:
                        counters[ST_CAPPED_FROM] = k
                if counters[ST_MIN_CAP] == 0 or cap < counters[ST_MIN_CAP]:
                    counters[ST_MIN_CAP] = cap
            for g in range(n_groups):
                # Labels a..b-1 become one label; with no merging each group is a single label
                # (and the labels stay in time order). A merged label is optimistic: earliest
                # time (and that label's trace position), latest dry-out, best reward.
                a = (g * n_mine) // n_groups
                b = ((g + 1) * n_mine) // n_groups
                first = mine[a]
                for h in range(a + 1, b):
                    if c_t[mine[h]] < c_t[first]:
                        first = mine[h]
                dry_s = c_t[first] + c_buf[first]
                best_rew = c_rew[first]
                flags = c_flags[first]
                for h in range(a, b):
                    i = mine[h]
                    dry_s = max(dry_s, c_t[i] + c_buf[i])
                    best_rew = max(best_rew, c_rew[i])
                    flags |= c_flags[i]
                if b - a > 1:
                    flags |= FLAG_MERGED
                    node_parent[n_nodes] = -1
                    cur_buf[n_cur] = dry_s - c_t[first]
                else:
                    node_parent[n_nodes] = c_parent[first]
                    cur_buf[n_cur] = c_buf[first]
                node_rung[n_nodes] = r
                cur_t[n_cur] = c_t[first]
                cur_rew[n_cur] = best_rew
                cur_clock[n_cur] = c_clock[first]
                cur_ptr[n_cur] = c_ptr[first]
                cur_prev[n_cur] = r
                cur_node[n_cur] = n_nodes
                cur_flags[n_cur] = flags
                n_nodes += 1
                n_cur += 1
        cur_starts[n_rungs] = n_cur
        counters[ST_LABELS] += n_cur
        k += 1
        if n_cur == 0:  # nothing reaches lower_bound (only if it was not a real sequence's QoE)
            counters[ST_EMPTY] = 1
            counters[ST_STATUS] = STATUS_COMPLETE
            break
        if work >= work_limit:
            break
    if k >= n_chunks:
        counters[ST_STATUS] = STATUS_COMPLETE
    counters[ST_NEXT] = k
    counters[ST_N_CUR] = n_cur
    counters[ST_N_NODES] = n_nodes
    counters[ST_WORK] += work
    return (cur_t, cur_buf, cur_rew, cur_clock, cur_ptr, cur_prev, cur_node, cur_flags, cur_starts,
            node_parent, node_rung, counters)


@njit
def optimum_finish(
    period_end_s, period_bw_bps, period_lat_s, start_s, wrap_s, sizes_bytes, durations_s, n_chunks, prof,
    tables, state, out_rung, out_rebuffer_s, out_buffer_s, out_stats,
):
    """Read the result of a finished search into the outputs (as ``optimum_session`` describes
    them); returns the status."""
    (cur_t, cur_buf, cur_rew, cur_clock, cur_ptr, cur_prev, cur_node, cur_flags, cur_starts,
     node_parent, node_rung, counters) = state
    (future_max, cum_period, span_s, e_off, e_base_b, e_base_u, e_cb, e_cu, e_slope, e_len, e_exc, scalars) = tables
    out_stats[:] = 0.0
    out_stats[OPT_VALUE] = np.nan
    out_rung[:n_chunks] = -1
    out_rebuffer_s[:n_chunks] = np.nan
    out_buffer_s[:n_chunks] = np.nan
    status = counters[ST_STATUS]
    if status == STATUS_NO_BANDWIDTH:
        return STATUS_NO_BANDWIDTH
    m = period_lat_s.size
    if prof[PROF_RTT_S] < 0.0:
        for j in range(1, m):
            if period_lat_s[j] != period_lat_s[0]:
                out_stats[OPT_LATENCY_RELAXED] = 1.0
    out_stats[OPT_ENVELOPE] = scalars[TB_USE_ENV]
    out_stats[OPT_LABELS] = counters[ST_LABELS]
    out_stats[OPT_CUT] = counters[ST_CUT]
    out_stats[OPT_CAPPED] = counters[ST_CAPPED]
    out_stats[OPT_MIN_CAP] = counters[ST_MIN_CAP]
    out_stats[OPT_CAPPED_FROM] = counters[ST_CAPPED_FROM]
    if counters[ST_EMPTY] != 0:
        out_stats[OPT_VALUE] = -np.inf
        return STATUS_COMPLETE
    n_cur = counters[ST_N_CUR]
    best = 0
    for i in range(1, n_cur):
        if cur_rew[i] > cur_rew[best]:
            best = i
    out_stats[OPT_VALUE] = cur_rew[best]
    out_stats[OPT_MAX_FRONT] = counters[ST_MAX_SEEN]
    out_stats[OPT_MERGES] = counters[ST_MERGES]
    out_stats[OPT_BEST_MERGED] = 1.0 if cur_flags[best] & FLAG_MERGED else 0.0
    out_stats[OPT_BEST_LONG] = 1.0 if cur_flags[best] & FLAG_LONG else 0.0
    if cur_flags[best] & FLAG_MERGED == 0 and n_chunks > 0:
        node = cur_node[best]
        for k in range(n_chunks - 1, -1, -1):
            out_rung[k] = node_rung[node]
            node = node_parent[node]
        # Replay the sequence: the same steps as the search, so the same numbers.
        rtt_moves = prof[PROF_RTT_ADVANCES_CLOCK] != 0.0
        eff = prof[PROF_EFFICIENCY]
        first_rebuffers = prof[PROF_FIRST_CHUNK_REBUFFERS] != 0.0
        ptr = 0
        clock_s = start_s
        buffer_s = 0.0
        for k in range(n_chunks):
            req_lat_s = scalars[TB_FIRST_LAT_S] if k == 0 else scalars[TB_LAT_S]
            xfer_s, ptr, clock_s = request_bounded(
                period_end_s, period_bw_bps, wrap_s, cum_period, span_s, ptr, clock_s, sizes_bytes[k, out_rung[k]],
                eff, req_lat_s, rtt_moves,
            )
            delay_s = xfer_s + req_lat_s
            if k == 0 and not first_rebuffers:
                rebuf_s = 0.0
                buffer_s = durations_s[k]
            else:
                rebuf_s = max(delay_s - buffer_s, 0.0)
                buffer_s = max(buffer_s - delay_s, 0.0) + durations_s[k]
            out_rebuffer_s[k] = rebuf_s
            out_buffer_s[k] = buffer_s
    return STATUS_COMPLETE


@njit
def optimum_session(
    period_end_s, period_bw_bps, period_lat_s, start_s, wrap_s,
    sizes_bytes, utility, durations_s, n_chunks, prof,
    rebuffer_weight, switch_weight, include_first_chunk, max_front, beam_width, lower_bound, max_labels,
    out_rung, out_rebuffer_s, out_buffer_s, out_stats,
):
    """The offline optimum of one session in one call; returns the status (``STATUS_*``).

    ``durations_s[k]`` is chunk ``k``'s duration (what the buffer gains when it arrives; equal
    chunks: ``chunk_s`` repeated). ``utility[k, r]`` is the QoE utility of chunk ``k`` at rung
    ``r``; the reward of chunk ``k`` is ``utility - rebuffer_weight * rebuffer_s - switch_weight * |utility - previous
    utility|`` (no switch term for chunk 0, which counts only if ``include_first_chunk``).
    ``out_stats`` (length ``OPT_STATS``) receives the value and diagnostics. When the best
    label has no merged ancestor, ``out_rung[:n_chunks]``, ``out_rebuffer_s[:n_chunks]`` and
    ``out_buffer_s[:n_chunks]`` receive its rung sequence, rebuffering and buffer after each
    download (never capped); otherwise -1 and NaN.

    ``lower_bound``: the QoE of some rung sequence in this model (-inf if none is known). A
    label whose reward plus the most the remaining chunks could add (utility and switches
    only, no rebuffering) falls short of it cannot lead to the optimum and is dropped.
    ``beam_width`` > 0 keeps only that many labels of best reward per previous rung instead
    of merging: a fast heuristic whose value is a lower bound (a real rung sequence) to pass
    as ``lower_bound`` to the exact run. ``max_labels`` bounds the labels kept over the whole
    search (``front_cap``). The same as ``optimum_start``, then ``optimum_steps`` until the
    search ends, then ``optimum_finish``.
    """
    tables, state = optimum_start(
        period_end_s, period_bw_bps, period_lat_s, start_s, wrap_s,
        sizes_bytes, utility, n_chunks, prof, rebuffer_weight, switch_weight, lower_bound,
    )
    while state[-1][ST_STATUS] == ST_RUNNING:
        state = optimum_steps(
            period_end_s, period_bw_bps, wrap_s, sizes_bytes, utility, durations_s, n_chunks, prof,
            rebuffer_weight, switch_weight, include_first_chunk, max_front, beam_width, max_labels,
            tables, state, 1 << 62,
        )
    return optimum_finish(
        period_end_s, period_bw_bps, period_lat_s, start_s, wrap_s, sizes_bytes, durations_s, n_chunks, prof,
        tables, state, out_rung, out_rebuffer_s, out_buffer_s, out_stats,
    )
