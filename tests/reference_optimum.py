"""Plain-Python references of the offline-optimum kernels (``abrkit._kernels.optimum``).

Picked up by tests/test_simulate.py (``REFERENCES`` and ``KERNEL_INPUTS``), which runs each
kernel and its twin on the random inputs made here and wants equal results and equal filled
arrays. The twins favour the obvious over the fast: a stable sort instead of merging sorted
blocks, "is any earlier kept candidate at least as good?" asked of every kept one instead of
the kernel's Pareto staircase (or its Fenwick tree), linear instead of binary searches, one
whole-session loop instead of the kernel's resumable blocks (``optimum_start``,
``optimum_steps`` and ``optimum_finish`` are checked through ``optimum_session``, which runs
them). The network steps are reference.py's own.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

import reference
from abrkit._kernels import layout as L
from abrkit._kernels.optimum import (
    ENVELOPE_MAX_ENTRIES,
    FLAG_LONG,
    FLAG_MERGED,
    MAX_CANDIDATES,
    OPT_BEST_LONG,
    OPT_BEST_MERGED,
    OPT_CAPPED,
    OPT_CAPPED_FROM,
    OPT_CUT,
    OPT_ENVELOPE,
    OPT_LABELS,
    OPT_LATENCY_RELAXED,
    OPT_MAX_FRONT,
    OPT_MERGES,
    OPT_MIN_CAP,
    OPT_STATS,
    OPT_VALUE,
    WALK_PERIODS,
)


def time_order(t_s, starts, order):
    """Indices of ``t_s`` by time ascending, ties in index order (``starts`` does not matter)."""
    order[:] = sorted(range(len(t_s)), key=lambda i: t_s[i])


def pareto_keep(t_s, reward, score, rung, slack, order, keep):
    """Visit candidates in ``order``; keep one unless an earlier kept one is at least as good in
    reward and in score after the slack between their rungs. Returns how many were kept."""
    kept: list[int] = []
    for c in order:
        c = int(c)
        beaten = any(
            reward[x] >= reward[c] + slack[rung[x], rung[c]] and score[x] >= score[c] + slack[rung[x], rung[c]]
            for x in kept
        )
        if not beaten:
            kept.append(c)
    keep[: len(kept)] = kept
    return len(kept)


def hull_segments(size_bytes, utility, seg_bytes, seg_gain):
    """(n_segments, base_bytes, base_utility); fills the upgrade segments of the upper hull."""
    points = sorted(range(len(size_bytes)), key=lambda i: size_bytes[i])
    hull: list[tuple[float, float]] = []
    for i in points:
        x, y = float(size_bytes[i]), float(utility[i])
        if hull and x == hull[-1][0]:
            if y <= hull[-1][1]:
                continue
            hull.pop()
        if hull and y <= hull[-1][1]:
            continue
        while len(hull) >= 2 and (hull[-1][1] - hull[-2][1]) * (x - hull[-1][0]) <= (y - hull[-1][1]) * (hull[-1][0] - hull[-2][0]):
            hull.pop()
        hull.append((x, y))
    for i in range(len(hull) - 1):
        seg_bytes[i] = hull[i + 1][0] - hull[i][0]
        seg_gain[i] = hull[i + 1][1] - hull[i][1]
    return len(hull) - 1, hull[0][0], hull[0][1]


def byte_envelope(sizes_bytes, utility, n_chunks, kappa, max_entries):
    """Reference of ``optimum.byte_envelope``: every stage's upgrades as a sorted list."""
    n = max(n_chunks, 1)
    n_rungs = len(sizes_bytes[0])
    chunks = []
    for j in range(n_chunks):
        sb, sg = np.empty(max(n_rungs - 1, 1)), np.empty(max(n_rungs - 1, 1))
        ns, bb, bu = hull_segments(sizes_bytes[j], utility[j], sb, sg)
        chunks.append((bb, bu, [(float(sb[i]), float(sg[i])) for i in range(ns)]))
    segments = [(length, gain, j) for j, (_, _, segs) in enumerate(chunks) for length, gain in segs]
    by_slope = sorted(range(len(segments)), key=lambda g: -(segments[g][1] / segments[g][0]))
    base_bytes, base_util = np.zeros(n), np.zeros(n)
    for k in range(n_chunks - 2, -1, -1):
        base_bytes[k] = base_bytes[k + 1] + chunks[k + 1][0]
        base_util[k] = base_util[k + 1] + chunks[k + 1][1]
    stages = [[segments[g] for g in by_slope if segments[g][2] > k] for k in range(n_chunks)]
    stage_off = np.zeros(n + 1, dtype=np.int64)
    for k in range(n_chunks):
        stage_off[k + 1] = stage_off[k] + len(stages[k]) + 1
    if stage_off[n_chunks] > max_entries:
        empty = np.zeros(0)
        return False, np.zeros(n + 1, dtype=np.int64), base_bytes, base_util, empty, empty, empty, empty, empty
    cum_bytes, cum_util, slope, seg_len, excess = (np.zeros(int(stage_off[n_chunks])) for _ in range(5))
    for k, stage in enumerate(stages):
        o = int(stage_off[k])
        cb = cu = 0.0
        for i, (length, gain, _) in enumerate(stage):
            cum_bytes[o + i], cum_util[o + i], slope[o + i], seg_len[o + i] = cb, cu, gain / length, length
            cb += length
            cu += gain
        cum_bytes[o + len(stage)], cum_util[o + len(stage)] = cb, cu
        for i in range(len(stage) - 1, -1, -1):
            excess[o + i] = excess[o + i + 1] + max(slope[o + i] - kappa, 0.0) * seg_len[o + i]
    return True, stage_off, base_bytes, base_util, cum_bytes, cum_util, slope, seg_len, excess


def envelope_value(stage_off, base_bytes, base_util, cum_bytes, cum_util, slope, seg_len, excess, k, avail_bytes, kappa):
    """Reference of ``optimum.envelope_value``: walk the upgrades until the budget runs out."""
    o, n = int(stage_off[k]), int(stage_off[k + 1] - stage_off[k] - 1)
    x0 = max(avail_bytes, base_bytes[k])
    value = base_util[k] - kappa * (x0 - avail_bytes)
    extra = x0 - base_bytes[k]
    i = 0
    while i < n and cum_bytes[o + i + 1] <= extra:
        i += 1
    if i == n:
        return value + cum_util[o + n]
    part = extra - cum_bytes[o + i]
    return value + cum_util[o + i] + part * slope[o + i] + max(slope[o + i] - kappa, 0.0) * (seg_len[o + i] - part) + excess[o + i + 1]


def bytes_within(period_end_s, period_bw_bps, wrap_s, cum_bytes, ptr, clock_s, dt_s, efficiency):
    """Reference of ``optimum.bytes_within``: the same loop-and-period arithmetic, a linear search."""
    m = len(period_end_s)
    if dt_s <= 0.0:
        return 0.0

    def carried(j, x):  # bytes from the loop start to x, inside period j
        start = wrap_s if j == 0 else period_end_s[j - 1]
        return (0.0 if j == 0 else cum_bytes[j - 1]) + period_bw_bps[j] / 8.0 * efficiency * (x - start)

    g0 = carried(ptr, clock_s)
    x1 = clock_s + dt_s
    total, first = 0.0, ptr
    if x1 > period_end_s[m - 1]:
        total = cum_bytes[m - 1] - g0
        left_s = x1 - period_end_s[m - 1]
        loop_s = period_end_s[m - 1] - wrap_s
        loops = math.floor(left_s / loop_s)
        total += loops * cum_bytes[m - 1]
        x1 = min(wrap_s + (left_s - loops * loop_s), period_end_s[m - 1])
        g0, first = 0.0, 0
    j = next(j for j in range(first, m) if period_end_s[j] >= x1 or j == m - 1)
    return total + carried(j, x1) - g0


def walk_spans(period_end_s, wrap_s, walk_periods):
    """Reference of ``optimum.walk_spans``: add up the next ``walk_periods`` durations, wrapping."""
    m = len(period_end_s)
    durations = [period_end_s[j] - (wrap_s if j == 0 else period_end_s[j - 1]) for j in range(m)]
    return np.array([sum(durations[(j + i) % m] for i in range(walk_periods)) for j in range(m)])


def skip_advance(period_end_s, wrap_s, ptr, clock_s, wait_s):
    """Reference of ``optimum.skip_advance``: the clock after ``wait_s``, whole loops dropped."""
    m = len(period_end_s)
    loop_end = period_end_s[m - 1]
    if wait_s < loop_end - clock_s:
        x, first = clock_s + wait_s, ptr
    else:
        x, first = wrap_s + math.fmod(wait_s - (loop_end - clock_s), loop_end - wrap_s), 0
    for j in range(first, m):
        if period_end_s[j] > x:
            return j, x
    return 0, wrap_s


def skip_transfer(period_end_s, period_bw_bps, wrap_s, cum_bytes, ptr, clock_s, size_bytes, efficiency):
    """Reference of ``optimum.skip_transfer``: where the payload axis passes the download's end."""
    m = len(period_end_s)
    loop_bytes, loop_end = cum_bytes[m - 1], period_end_s[m - 1]
    start = wrap_s if ptr == 0 else period_end_s[ptr - 1]
    target = (0.0 if ptr == 0 else cum_bytes[ptr - 1]) + period_bw_bps[ptr] / 8.0 * efficiency * (clock_s - start) + size_bytes
    loops, first = 0.0, ptr
    if target >= loop_bytes:
        rest = target - loop_bytes
        left = math.fmod(rest, loop_bytes)
        loops, target, first = 1.0 + float(np.round((rest - left) / loop_bytes)), left, 0
    j = next((j for j in range(first, m) if cum_bytes[j] > target), m - 1)
    start_j = wrap_s if j == 0 else period_end_s[j - 1]
    before_j = 0.0 if j == 0 else cum_bytes[j - 1]
    rate = period_bw_bps[j] / 8.0 * efficiency
    x = min(start_j + max(target - before_j, 0.0) / rate, period_end_s[j]) if rate > 0.0 else start_j
    if loops == 0.0:
        return x - clock_s, j, x
    return (loop_end - clock_s) + (loops - 1.0) * (loop_end - wrap_s) + (x - wrap_s), j, x


def request_bounded(period_end_s, period_bw_bps, wrap_s, cum_bytes, span_s, ptr, clock_s, size_bytes, efficiency, lat_s, rtt_moves):
    """Reference of ``optimum.request_bounded``: the session's walks while they stay short
    (``span_s``), the closed forms past that."""
    if rtt_moves and lat_s > 0.0:
        start = wrap_s if ptr == 0 else period_end_s[ptr - 1]
        if lat_s <= span_s[ptr] - (clock_s - start):
            ptr, clock_s = reference.advance_clock(period_end_s, wrap_s, ptr, clock_s, lat_s)
        else:
            ptr, clock_s = skip_advance(period_end_s, wrap_s, ptr, clock_s, lat_s)
    start = wrap_s if ptr == 0 else period_end_s[ptr - 1]
    xfer_s, new_ptr, new_clock_s, done = reference.transfer(
        period_end_s, period_bw_bps, wrap_s, ptr, clock_s, size_bytes, efficiency, span_s[ptr] - (clock_s - start)
    )
    if not done:
        xfer_s, new_ptr, new_clock_s = skip_transfer(
            period_end_s, period_bw_bps, wrap_s, cum_bytes, ptr, clock_s, size_bytes, efficiency
        )
    return xfer_s, new_ptr, new_clock_s


def front_cap(n_rungs, max_front, max_labels, labels_so_far, chunks_left):
    """Reference of ``optimum.front_cap``: (the fronts' cap, the work bounds' part of it)."""
    work = min(MAX_CANDIDATES // (n_rungs * n_rungs), max(max_labels - labels_so_far, 0) // (max(chunks_left, 1) * n_rungs))
    return max(1, min(max_front, work)), max(1, work)


def _horizon_s(durations_s, n_chunks, k):
    """The play time of chunks k+1 .. n_chunks-2 (the envelope's horizon), computed as the kernel
    does: (their count) x chunk 0's duration, plus each one's deviation from it, summed from the
    last: for equal chunks exactly the product."""
    base_s = float(durations_s[0])
    dev_s = 0.0
    for j in range(n_chunks - 2, k, -1):
        dev_s = dev_s + (float(durations_s[j]) - base_s)
    return (n_chunks - 2 - k) * base_s + dev_s


def optimum_session(
    period_end_s, period_bw_bps, period_lat_s, start_s, wrap_s,
    sizes_bytes, utility, durations_s, n_chunks, prof,
    rebuffer_weight, switch_weight, include_first_chunk, max_front, beam_width, lower_bound, max_labels,
    out_rung, out_rebuffer_s, out_buffer_s, out_stats,
):
    """Reference of ``optimum.optimum_session``: the same label-setting search, one label a dict.
    Chunk ``k`` plays ``durations_s[k]``: the buffer gains that when it arrives."""
    out_stats[:] = 0.0
    out_stats[OPT_VALUE] = math.nan
    out_rung[:n_chunks] = -1
    out_rebuffer_s[:n_chunks] = math.nan
    out_buffer_s[:n_chunks] = math.nan
    m = len(period_bw_bps)
    eff = prof[L.PROF_EFFICIENCY]
    cum_period, carried = np.empty(m), 0.0
    for j in range(m):
        carried += period_bw_bps[j] / 8.0 * eff * (period_end_s[j] - (wrap_s if j == 0 else period_end_s[j - 1]))
        cum_period[j] = carried
    if not carried > 0.0:
        return L.STATUS_NO_BANDWIDTH
    spans = walk_spans(period_end_s, wrap_s, WALK_PERIODS)
    if prof[L.PROF_RTT_S] >= 0.0:
        lat_s = first_lat_s = prof[L.PROF_RTT_S]
    else:
        first_lat_s = period_lat_s[0]  # chunk 0 is requested at the trace start
        lat_s = min(period_lat_s)
        if max(period_lat_s) > lat_s:
            out_stats[OPT_LATENCY_RELAXED] = 1.0
    rtt_moves = prof[L.PROF_RTT_ADVANCES_CLOCK] != 0.0
    max_dl_s = prof[L.PROF_MAX_DOWNLOAD_S]
    first_rebuffers = prof[L.PROF_FIRST_CHUNK_REBUFFERS] != 0.0
    initial_rung = int(prof[L.PROF_INITIAL_RUNG])
    n_rungs = len(sizes_bytes[0])
    mu, lam = rebuffer_weight, switch_weight

    def request(lab_ptr, lab_clock, size, req_lat_s):
        return request_bounded(period_end_s, period_bw_bps, wrap_s, cum_period, spans, lab_ptr, lab_clock, size, eff, req_lat_s, rtt_moves)

    # The most chunks k+1.. can add after chunk k at rung q (no rebuffering).
    future = [[0.0] * n_rungs for _ in range(max(n_chunks, 1))]
    for k in range(n_chunks - 2, -1, -1):
        for q in range(n_rungs):
            future[k][q] = max(
                utility[k + 1][r] - lam * abs(utility[k + 1][r] - utility[k][q]) + future[k + 1][r] for r in range(n_rungs)
            )
    cut = lower_bound - 1e-9 * (1.0 + abs(lower_bound)) if math.isfinite(lower_bound) else -math.inf
    kappa = mu / max(bw / 8.0 * eff for bw in period_bw_bps)
    envelope = None
    if math.isfinite(lower_bound) and n_chunks > 1:
        ok, *tables = byte_envelope(sizes_bytes, utility, n_chunks, kappa, ENVELOPE_MAX_ENTRIES)
        envelope = tables if ok else None
    out_stats[OPT_ENVELOPE] = 1.0 if envelope is not None else 0.0

    labels = [{"t": 0.0, "buf": 0.0, "rew": 0.0, "ptr": 0, "clock": start_s, "prev": -1, "node": -1, "flags": 0}]
    nodes: list[tuple[int, int]] = []  # (parent node, rung)
    n_labels = max_seen = n_merges = n_cut = n_capped = min_cap = 0
    capped_from = -1
    for k in range(n_chunks):
        rungs = [min(initial_rung, n_rungs - 1)] if (k == 0 and initial_rung >= 0) else range(n_rungs)
        req_lat_s = first_lat_s if k == 0 else lat_s
        by_time = sorted(range(len(labels)), key=lambda i: labels[i]["t"])
        cands = []
        for r in rungs:
            u = utility[k][r]
            for i in by_time:
                lab = labels[i]
                xfer_s, ptr, clock_s = request(lab["ptr"], lab["clock"], sizes_bytes[k][r], req_lat_s)
                delay_s = xfer_s + req_lat_s
                if k == 0 and not first_rebuffers:
                    rebuf_s, buffer_s = 0.0, durations_s[k]
                else:
                    rebuf_s = max(delay_s - lab["buf"], 0.0)
                    buffer_s = max(lab["buf"] - delay_s, 0.0) + durations_s[k]
                reward = u - mu * rebuf_s
                if lab["prev"] >= 0:
                    reward -= lam * abs(u - utility[k - 1][lab["prev"]])
                if k == 0 and not include_first_chunk:
                    reward = 0.0
                bound = future[k][r]
                if envelope is not None and k + 1 < n_chunks and lab["rew"] + reward + bound >= cut:
                    avail = bytes_within(
                        period_end_s, period_bw_bps, wrap_s, cum_period, ptr, clock_s,
                        buffer_s + _horizon_s(durations_s, n_chunks, k), eff,
                    )
                    bound = min(bound, envelope_value(*envelope, k, avail, kappa))
                if lab["rew"] + reward + bound < cut:
                    n_cut += 1
                    continue
                t_s = lab["t"] + delay_s
                rew = lab["rew"] + reward
                cands.append({
                    "t": t_s, "buf": buffer_s, "rew": rew, "score": rew + mu * (t_s + buffer_s), "ptr": ptr,
                    "clock": clock_s, "rung": r, "parent": lab["node"],
                    "flags": lab["flags"] | (FLAG_LONG if xfer_s > max_dl_s else 0),
                })
        last = k + 1 >= n_chunks
        slack = [[0.0 if last else lam * abs(utility[k][a] - utility[k][b]) for b in range(n_rungs)] for a in range(n_rungs)]
        order = sorted(range(len(cands)), key=lambda c: cands[c]["t"])
        kept: list[dict[str, Any]] = []
        for c in order:
            cand = cands[c]
            if not any(
                x["rew"] >= cand["rew"] + slack[x["rung"]][cand["rung"]]
                and x["score"] >= cand["score"] + slack[x["rung"]][cand["rung"]]
                for x in kept
            ):
                kept.append(cand)
        # The fronts' cap: max_front, or less to keep the work bounded (front_cap); a beam
        # keeps its best rewards up to the work bounds' part of the cap.
        cap, work_cap = front_cap(n_rungs, max_front, max_labels, n_labels, n_chunks - k)
        width = min(beam_width, work_cap) if beam_width > 0 else 0
        labels = []
        for r in range(n_rungs):
            mine = [x for x in kept if x["rung"] == r]
            max_seen = max(max_seen, len(mine))
            if 0 < width < len(mine):
                top = sorted(range(len(mine)), key=lambda g: -mine[g]["rew"])[:width]
                mine = [mine[g] for g in sorted(top)]
            n_groups = min(len(mine), cap)
            if len(mine) > cap:
                mine = sorted(mine, key=lambda x: x["rew"])  # merge neighbours in reward
                n_merges += 1
                if cap < max_front:
                    n_capped += 1
                    capped_from = k if capped_from < 0 else capped_from
                min_cap = cap if min_cap == 0 else min(min_cap, cap)
            for g in range(n_groups):
                group = mine[(g * len(mine)) // n_groups : ((g + 1) * len(mine)) // n_groups]
                first = min(group, key=lambda x: x["t"])
                flags = 0
                for x in group:
                    flags |= x["flags"]
                if len(group) > 1:
                    nodes.append((-1, r))
                    buf = max(x["t"] + x["buf"] for x in group) - first["t"]
                    flags |= FLAG_MERGED
                else:
                    nodes.append((first["parent"], r))
                    buf = first["buf"]
                labels.append({
                    "t": first["t"], "buf": buf, "rew": max(x["rew"] for x in group), "ptr": first["ptr"],
                    "clock": first["clock"], "prev": r, "node": len(nodes) - 1, "flags": flags,
                })
        n_labels += len(labels)
        if not labels:
            break
    out_stats[OPT_LABELS] = n_labels
    out_stats[OPT_CUT] = n_cut
    out_stats[OPT_CAPPED] = n_capped
    out_stats[OPT_MIN_CAP] = min_cap
    out_stats[OPT_CAPPED_FROM] = capped_from
    if not labels:  # nothing reaches lower_bound (only if it was not a real sequence's QoE)
        out_stats[OPT_VALUE] = -math.inf
        return L.STATUS_COMPLETE

    best = labels[0]
    for lab in labels[1:]:
        if lab["rew"] > best["rew"]:
            best = lab
    out_stats[OPT_VALUE] = best["rew"]
    out_stats[OPT_MAX_FRONT] = max_seen
    out_stats[OPT_MERGES] = n_merges
    out_stats[OPT_BEST_MERGED] = 1.0 if best["flags"] & FLAG_MERGED else 0.0
    out_stats[OPT_BEST_LONG] = 1.0 if best["flags"] & FLAG_LONG else 0.0
    if not best["flags"] & FLAG_MERGED and n_chunks > 0:
        node = best["node"]
        for k in range(n_chunks - 1, -1, -1):
            node, out_rung[k] = nodes[node]
        # Replay the sequence for its rebuffering and buffer.
        ptr, clock_s, buffer_s = 0, start_s, 0.0
        for k in range(n_chunks):
            req_lat_s = first_lat_s if k == 0 else lat_s
            xfer_s, ptr, clock_s = request(ptr, clock_s, sizes_bytes[k][out_rung[k]], req_lat_s)
            delay_s = xfer_s + req_lat_s
            if k == 0 and not first_rebuffers:
                out_rebuffer_s[k], buffer_s = 0.0, durations_s[k]
            else:
                out_rebuffer_s[k] = max(delay_s - buffer_s, 0.0)
                buffer_s = max(buffer_s - delay_s, 0.0) + durations_s[k]
            out_buffer_s[k] = buffer_s
    return L.STATUS_COMPLETE


# -- random inputs --------------------------------------------------------------------------------


def _args_time_order(rng):
    n_blocks = int(rng.integers(1, 5))
    lengths = rng.integers(0, 8, n_blocks)
    starts = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    # A coarse grid makes ties; a block is left unsorted now and then (the fallback path).
    blocks = [np.sort(np.round(rng.uniform(0.0, 5.0, m), 1)) for m in lengths]
    if rng.random() < 0.2 and starts[-1] > 1:
        b = int(rng.integers(n_blocks))
        blocks[b] = blocks[b][::-1].copy()
    t = np.concatenate(blocks) if blocks else np.zeros(0)
    return t.astype(np.float64), starts, np.full(t.size, -7, dtype=np.int64)


def _args_pareto_keep(rng):
    n = int(rng.integers(0, 40))
    n_rungs = int(rng.integers(1, 5))
    t = np.round(rng.uniform(0.0, 10.0, n), 1)
    reward = np.round(rng.uniform(-5.0, 5.0, n), int(rng.integers(0, 3)))
    score = reward + np.round(rng.uniform(0.0, 20.0, n), int(rng.integers(0, 3)))
    rung = rng.integers(0, n_rungs, n).astype(np.int64)
    u = rng.uniform(0.0, 3.0, n_rungs)
    slack = float(rng.choice([0.0, rng.uniform(0.0, 2.0)])) * np.abs(u[:, None] - u[None, :])
    order = np.argsort(t, kind="mergesort").astype(np.int64)
    return t, reward, score, rung, slack, order, np.full(n, -7, dtype=np.int64)


def _random_network(rng):
    """(period_end_s, bw_bps, lat_s, start_s, wrap_s) as the kernels read them."""
    n = int(rng.integers(1, 7))
    start = float(rng.choice([0.0, rng.uniform(0.0, 2.0)]))
    ends = start + np.cumsum(rng.uniform(0.1, 4.0, n))
    bw = rng.uniform(2e5, 8e6, n)
    bw[rng.random(n) < 0.3] = 0.0
    bw[int(rng.integers(n))] = rng.uniform(1e6, 8e6)
    if rng.random() < 0.05:
        bw[:] = 0.0
    lat = rng.uniform(0.0, 0.15, n) if rng.random() < 0.5 else np.full(n, float(rng.choice([0.0, 0.05])))
    wrap = float(rng.choice([start, 0.0]))
    return ends, bw, lat, start, wrap


def _args_optimum_session(rng):
    ends, bw, lat, start, wrap = _random_network(rng)
    if rng.random() < 0.1:
        bw *= 1e-3  # downloads past WALK_PERIODS periods: the closed-form transfers
    n_rungs = int(rng.integers(1, 4))
    n_chunks = int(rng.integers(0, 7))
    ladder = np.cumsum(rng.uniform(2e5, 2e6, n_rungs))
    chunk_s = float(rng.uniform(0.5, 4.0))
    rows = n_chunks + int(rng.integers(0, 2))
    # equal chunks, or unequal ones (per-shot segments), sizes in proportion
    durations = np.full(max(rows, 1), chunk_s) if rng.random() < 0.5 else rng.uniform(0.2, 1.5, max(rows, 1)) * chunk_s
    sizes = np.outer(rng.uniform(0.5, 1.5, max(rows, 1)) * durations, ladder / 8.0)
    utility = np.round(rng.uniform(0.0, 5.0, sizes.shape), int(rng.integers(0, 3)))
    prof = np.zeros(L.PROF_SIZE)
    prof[L.PROF_RTT_S] = rng.choice([-1.0, 0.0, rng.uniform(0.0, 0.1), rng.uniform(50.0, 500.0)])  # long: skip_advance
    prof[L.PROF_RTT_ADVANCES_CLOCK] = rng.integers(0, 2)
    prof[L.PROF_EFFICIENCY] = rng.uniform(0.5, 1.0)
    prof[L.PROF_BUFFER_CAP_S] = 60.0
    prof[L.PROF_FIRST_CHUNK_REBUFFERS] = rng.integers(0, 2)
    prof[L.PROF_INITIAL_RUNG] = rng.choice([-1, int(rng.integers(0, n_rungs + 1))])
    prof[L.PROF_MAX_DOWNLOAD_S] = rng.choice([600.0, rng.uniform(0.5, 5.0)])  # short: long downloads flagged
    mu = float(rng.choice([0.0, 4.3, rng.uniform(0.0, 10.0)]))
    lam = float(rng.choice([0.0, 1.0, rng.uniform(0.0, 3.0)]))
    max_front = int(rng.choice([1000, int(rng.integers(1, 5))]))
    beam = int(rng.choice([0, 0, int(rng.integers(1, 4))]))
    lower = float(rng.choice([-np.inf, -np.inf, rng.uniform(-20.0, 15.0)]))
    max_labels = int(rng.choice([10**9, int(rng.integers(1, 40))]))  # small: fronts capped by the work bound
    return (
        ends, bw, lat, start, wrap, sizes, utility, durations, n_chunks, prof, mu, lam, bool(rng.random() < 0.7),
        max_front, beam, lower, max_labels, np.full(rows, -7, dtype=np.int64), np.full(rows, -7.0), np.full(rows, -7.0),
        np.full(OPT_STATS, -7.0),
    )


def _args_pareto_keep_ranked(rng):
    args = _args_pareto_keep(rng)
    if rng.random() < 0.3:  # rewards rising while scores fall: the staircase's worst case
        t, reward, score, rung, slack, order, keep = args
        reward = np.sort(reward)
        score = np.sort(score)[::-1].copy()
        return t, reward, score, rung, slack, order, keep
    return args


def _args_walk_spans(rng):
    ends, _, _, _, wrap = _random_network(rng)
    return ends, wrap, int(rng.choice([1, int(rng.integers(1, 20)), 128]))


def _network_position(rng, ends, wrap, start):
    ptr = int(rng.integers(ends.size))
    lo = max(wrap if ptr == 0 else ends[ptr - 1], start if ptr == 0 else -np.inf)
    return ptr, float(lo + rng.uniform(0.0, 0.999) * (ends[ptr] - lo))


def _args_skip_advance(rng):
    ends, _, _, start, wrap = _random_network(rng)
    ptr, clock = _network_position(rng, ends, wrap, start)
    wait = float(rng.choice([0.0, rng.uniform(0.0, 2.0), rng.uniform(0.0, 100.0), 1e9 * rng.random(), ends[-1] - clock]))
    return ends, wrap, ptr, clock, wait


def _args_skip_transfer(rng):
    ends, bw, _, start, wrap = _random_network(rng)
    if not bw.any():
        bw[0] = 1e6
    eff = float(rng.uniform(0.5, 1.0))
    cum = np.cumsum(bw / 8.0 * eff * np.diff(np.concatenate(([wrap], ends))))
    ptr, clock = _network_position(rng, ends, wrap, start)
    size = float(rng.choice([0.0, rng.uniform(0.0, 2e5), rng.uniform(0.0, 1e8), cum[-1], 1e12 * rng.random()]))
    return ends, bw, wrap, cum, ptr, clock, size, eff


def _args_request_bounded(rng):
    ends, bw, wrap, cum, ptr, clock, size, eff = _args_skip_transfer(rng)
    walk = int(rng.choice([1, 3, 128]))
    spans = walk_spans(ends, wrap, walk)
    lat = float(rng.choice([0.0, rng.uniform(0.0, 0.2), rng.uniform(0.0, 1e4)]))
    return ends, bw, wrap, cum, spans, ptr, clock, size, eff, lat, bool(rng.random() < 0.7)


def _args_front_cap(rng):
    n_rungs = int(rng.choice([1, 2, 6, 10, 1000]))
    chunks_left = int(rng.integers(1, 500))
    return n_rungs, int(rng.choice([1, 64, 20000, 10**9])), int(rng.choice([1, 1000, 5_000_000])), int(rng.integers(0, 6_000_000)), chunks_left


def _args_hull_segments(rng):
    n = int(rng.integers(1, 7))
    # Coarse grids make equal sizes, equal utilities and collinear points.
    sizes = np.round(rng.uniform(0.0, 10.0, n), int(rng.integers(0, 2))) * 1e4
    utility = np.round(rng.uniform(-2.0, 5.0, n), int(rng.integers(0, 2)))
    return sizes, utility, np.full(max(n - 1, 1), -7.0), np.full(max(n - 1, 1), -7.0)


def _random_table(rng):
    n_chunks = int(rng.integers(0, 7))
    n_rungs = int(rng.integers(1, 5))
    ladder = np.cumsum(rng.uniform(2e5, 2e6, n_rungs))
    sizes = np.outer(rng.uniform(0.5, 1.5, n_chunks + 1), ladder)
    if rng.random() < 0.3:
        sizes = np.round(sizes, -5)  # ties
    utility = np.round(rng.uniform(0.0, 5.0, sizes.shape), int(rng.integers(0, 3)))
    return sizes, utility, n_chunks


def _args_byte_envelope(rng):
    sizes, utility, n_chunks = _random_table(rng)
    return sizes, utility, n_chunks, float(rng.choice([0.0, rng.uniform(0.0, 1e-5)])), int(rng.choice([10**6, 3]))


def _args_envelope_value(rng):
    while True:
        sizes, utility, n_chunks = _random_table(rng)
        kappa = float(rng.choice([0.0, rng.uniform(0.0, 1e-5)]))
        ok, *tables = byte_envelope(sizes, utility, n_chunks, kappa, 10**6)
        if n_chunks >= 1:
            break
    k = int(rng.integers(0, n_chunks))
    top = tables[1][k] + (tables[3][int(tables[0][k + 1]) - 1] if tables[0][k + 1] > tables[0][k] else 0.0)
    avail = float(rng.choice([0.0, rng.uniform(0.0, 1.5 * top + 1.0), tables[1][k]]))
    return (*tables, k, avail, kappa)


def _args_bytes_within(rng):
    ends, bw, _, start, wrap = _random_network(rng)
    bw[bw == 0.0] = rng.choice([0.0, 1e5])
    eff = float(rng.uniform(0.5, 1.0))
    cum = np.cumsum(bw / 8.0 * eff * np.diff(np.concatenate(([wrap], ends))))
    ptr = int(rng.integers(ends.size))
    lo = max(wrap if ptr == 0 else ends[ptr - 1], start if ptr == 0 else -np.inf)
    clock = float(lo + rng.uniform(0.0, 0.999) * (ends[ptr] - lo))
    dt = float(rng.choice([0.0, rng.uniform(0.0, 2.0), rng.uniform(0.0, 60.0), ends[-1] - clock]))
    return ends, bw, wrap, cum, ptr, clock, dt, eff


#: Kernel -> reference (tests/test_simulate.py checks each pair on the inputs below).
REFERENCES: dict[str, Callable[..., Any]] = {
    "optimum.hull_segments": hull_segments,
    "optimum.byte_envelope": byte_envelope,
    "optimum.envelope_value": envelope_value,
    "optimum.bytes_within": bytes_within,
    "optimum.walk_spans": walk_spans,
    "optimum.skip_advance": skip_advance,
    "optimum.skip_transfer": skip_transfer,
    "optimum.request_bounded": request_bounded,
    "optimum.front_cap": front_cap,
    "optimum.time_order": time_order,
    "optimum.pareto_keep": pareto_keep,
    "optimum.pareto_keep_ranked": pareto_keep,  # the same candidates kept, by other means
    "optimum.optimum_session": optimum_session,
}

#: Kernel -> (random-argument maker, number of random cases).
KERNEL_INPUTS: dict[str, tuple[Callable[[np.random.Generator], tuple[Any, ...]], int]] = {
    "optimum.hull_segments": (_args_hull_segments, 500),
    "optimum.byte_envelope": (_args_byte_envelope, 300),
    "optimum.envelope_value": (_args_envelope_value, 500),
    "optimum.bytes_within": (_args_bytes_within, 500),
    "optimum.walk_spans": (_args_walk_spans, 300),
    "optimum.skip_advance": (_args_skip_advance, 500),
    "optimum.skip_transfer": (_args_skip_transfer, 500),
    "optimum.request_bounded": (_args_request_bounded, 500),
    "optimum.front_cap": (_args_front_cap, 300),
    "optimum.time_order": (_args_time_order, 300),
    "optimum.pareto_keep": (_args_pareto_keep, 300),
    "optimum.pareto_keep_ranked": (_args_pareto_keep_ranked, 300),
    "optimum.optimum_session": (_args_optimum_session, 500),
}

#: The resumable search's steps, checked through optimum_session (which runs them in turn);
#: tests/test_optimum_bounds.py also checks that any split into blocks gives the same result.
COVERED_BY: dict[str, str] = {
    "optimum.optimum_start": "optimum.optimum_session",
    "optimum.optimum_steps": "optimum.optimum_session",
    "optimum.optimum_finish": "optimum.optimum_session",
    "optimum.rung_offsets": "optimum.optimum_session",
}
