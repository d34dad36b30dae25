"""Plain-Python references of the offline-optimum kernels (``abrkit._kernels.optimum``).

Picked up by tests/test_simulate.py (``REFERENCES`` and ``KERNEL_INPUTS``), which runs each
kernel and its twin on the random inputs made here and wants equal results and equal filled
arrays. The twins favour the obvious over the fast: a stable sort instead of merging sorted
blocks, and "is any earlier kept candidate at least as good?" asked of every kept one instead
of the kernel's Pareto staircase. The network steps are reference.py's own.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

import reference
from abrkit._kernels import layout as L
from abrkit._kernels.optimum import (
    FLAG_LONG,
    FLAG_MERGED,
    OPT_BEST_LONG,
    OPT_BEST_MERGED,
    OPT_CUT,
    OPT_LABELS,
    OPT_LATENCY_RELAXED,
    OPT_MAX_FRONT,
    OPT_MERGES,
    OPT_STATS,
    OPT_VALUE,
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


def optimum_session(
    period_end_s, period_bw_bps, period_lat_s, start_s, wrap_s,
    sizes_bytes, utility, chunk_s, n_chunks, prof,
    rebuffer_weight, switch_weight, include_first_chunk, max_front, beam_width, lower_bound,
    out_rung, out_rebuffer_s, out_buffer_s, out_stats,
):
    """Reference of ``optimum.optimum_session``: the same label-setting search, one label a dict."""
    out_stats[:] = 0.0
    out_stats[OPT_VALUE] = math.nan
    out_rung[:n_chunks] = -1
    out_rebuffer_s[:n_chunks] = math.nan
    out_buffer_s[:n_chunks] = math.nan
    if not any(bw > 0.0 for bw in period_bw_bps):
        return L.STATUS_NO_BANDWIDTH
    if prof[L.PROF_RTT_S] >= 0.0:
        lat_s = first_lat_s = prof[L.PROF_RTT_S]
    else:
        first_lat_s = period_lat_s[0]  # chunk 0 is requested at the trace start
        lat_s = min(period_lat_s)
        if max(period_lat_s) > lat_s:
            out_stats[OPT_LATENCY_RELAXED] = 1.0
    rtt_moves = prof[L.PROF_RTT_ADVANCES_CLOCK] != 0.0
    eff = prof[L.PROF_EFFICIENCY]
    max_dl_s = prof[L.PROF_MAX_DOWNLOAD_S]
    first_rebuffers = prof[L.PROF_FIRST_CHUNK_REBUFFERS] != 0.0
    initial_rung = int(prof[L.PROF_INITIAL_RUNG])
    n_rungs = len(sizes_bytes[0])
    mu, lam = rebuffer_weight, switch_weight

    # The most chunks k+1.. can add after chunk k at rung q (no rebuffering).
    future = [[0.0] * n_rungs for _ in range(max(n_chunks, 1))]
    for k in range(n_chunks - 2, -1, -1):
        for q in range(n_rungs):
            future[k][q] = max(
                utility[k + 1][r] - lam * abs(utility[k + 1][r] - utility[k][q]) + future[k + 1][r] for r in range(n_rungs)
            )
    cut = lower_bound - 1e-9 * (1.0 + abs(lower_bound)) if math.isfinite(lower_bound) else -math.inf

    labels = [{"t": 0.0, "buf": 0.0, "rew": 0.0, "ptr": 0, "clock": start_s, "prev": -1, "node": -1, "flags": 0}]
    nodes: list[tuple[int, int, float, float]] = []  # (parent node, rung, rebuffer_s, buffer_s)
    n_labels = max_seen = n_merges = n_cut = 0
    for k in range(n_chunks):
        rungs = [min(initial_rung, n_rungs - 1)] if (k == 0 and initial_rung >= 0) else range(n_rungs)
        req_lat_s = first_lat_s if k == 0 else lat_s
        by_time = sorted(range(len(labels)), key=lambda i: labels[i]["t"])
        cands = []
        for r in rungs:
            u = utility[k][r]
            for i in by_time:
                lab = labels[i]
                ptr, clock_s = lab["ptr"], lab["clock"]
                if rtt_moves and req_lat_s > 0.0:
                    ptr, clock_s = reference.advance_clock(period_end_s, wrap_s, ptr, clock_s, req_lat_s)
                xfer_s, ptr, clock_s, _ = reference.transfer(
                    period_end_s, period_bw_bps, wrap_s, ptr, clock_s, sizes_bytes[k][r], eff, math.inf
                )
                delay_s = xfer_s + req_lat_s
                if k == 0 and not first_rebuffers:
                    rebuf_s, buffer_s = 0.0, chunk_s
                else:
                    rebuf_s = max(delay_s - lab["buf"], 0.0)
                    buffer_s = max(lab["buf"] - delay_s, 0.0) + chunk_s
                reward = u - mu * rebuf_s
                if lab["prev"] >= 0:
                    reward -= lam * abs(u - utility[k - 1][lab["prev"]])
                if k == 0 and not include_first_chunk:
                    reward = 0.0
                if lab["rew"] + reward + future[k][r] < cut:
                    n_cut += 1
                    continue
                t_s = lab["t"] + delay_s
                rew = lab["rew"] + reward
                cands.append({
                    "t": t_s, "buf": buffer_s, "rew": rew, "score": rew + mu * (t_s + buffer_s), "ptr": ptr,
                    "clock": clock_s, "rebuf": rebuf_s, "rung": r, "parent": lab["node"],
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
        labels = []
        for r in range(n_rungs):
            mine = [x for x in kept if x["rung"] == r]
            max_seen = max(max_seen, len(mine))
            if 0 < beam_width < len(mine):
                top = sorted(range(len(mine)), key=lambda g: -mine[g]["rew"])[:beam_width]
                mine = [mine[g] for g in sorted(top)]
            n_groups = min(len(mine), max_front)
            if len(mine) > max_front:
                n_merges += 1
            for g in range(n_groups):
                group = mine[(g * len(mine)) // n_groups : ((g + 1) * len(mine)) // n_groups]
                first = group[0]
                flags = 0
                for x in group:
                    flags |= x["flags"]
                if len(group) > 1:
                    nodes.append((-1, r, math.nan, math.nan))
                    buf = max(x["t"] + x["buf"] for x in group) - first["t"]
                    flags |= FLAG_MERGED
                else:
                    nodes.append((first["parent"], r, first["rebuf"], first["buf"]))
                    buf = first["buf"]
                labels.append({
                    "t": first["t"], "buf": buf, "rew": max(x["rew"] for x in group), "ptr": first["ptr"],
                    "clock": first["clock"], "prev": r, "node": len(nodes) - 1, "flags": flags,
                })
        n_labels += len(labels)
        if not labels:
            out_stats[OPT_VALUE] = -math.inf
            out_stats[OPT_LABELS] = n_labels
            out_stats[OPT_CUT] = n_cut
            return L.STATUS_COMPLETE

    best = labels[0]
    for lab in labels[1:]:
        if lab["rew"] > best["rew"]:
            best = lab
    out_stats[OPT_VALUE] = best["rew"]
    out_stats[OPT_LABELS] = n_labels
    out_stats[OPT_MAX_FRONT] = max_seen
    out_stats[OPT_MERGES] = n_merges
    out_stats[OPT_CUT] = n_cut
    out_stats[OPT_BEST_MERGED] = 1.0 if best["flags"] & FLAG_MERGED else 0.0
    out_stats[OPT_BEST_LONG] = 1.0 if best["flags"] & FLAG_LONG else 0.0
    if not best["flags"] & FLAG_MERGED and n_chunks > 0:
        node = best["node"]
        for k in range(n_chunks - 1, -1, -1):
            parent, out_rung[k], out_rebuffer_s[k], out_buffer_s[k] = nodes[node]
            node = parent
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
    n_rungs = int(rng.integers(1, 4))
    n_chunks = int(rng.integers(0, 7))
    ladder = np.cumsum(rng.uniform(2e5, 2e6, n_rungs))
    chunk_s = float(rng.uniform(0.5, 4.0))
    rows = n_chunks + int(rng.integers(0, 2))
    sizes = np.outer(rng.uniform(0.5, 1.5, max(rows, 1)), ladder * chunk_s / 8.0)
    utility = np.round(rng.uniform(0.0, 5.0, sizes.shape), int(rng.integers(0, 3)))
    prof = np.zeros(L.PROF_SIZE)
    prof[L.PROF_RTT_S] = rng.choice([-1.0, 0.0, rng.uniform(0.0, 0.1)])
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
    return (
        ends, bw, lat, start, wrap, sizes, utility, chunk_s, n_chunks, prof, mu, lam, bool(rng.random() < 0.7),
        max_front, beam, lower, np.full(rows, -7, dtype=np.int64), np.full(rows, -7.0), np.full(rows, -7.0),
        np.full(OPT_STATS, -7.0),
    )


#: Kernel -> reference (tests/test_simulate.py checks each pair on the inputs below).
REFERENCES: dict[str, Callable[..., Any]] = {
    "optimum.time_order": time_order,
    "optimum.pareto_keep": pareto_keep,
    "optimum.optimum_session": optimum_session,
}

#: Kernel -> (random-argument maker, number of random cases).
KERNEL_INPUTS: dict[str, tuple[Callable[[np.random.Generator], tuple[Any, ...]], int]] = {
    "optimum.time_order": (_args_time_order, 300),
    "optimum.pareto_keep": (_args_pareto_keep, 300),
    "optimum.optimum_session": (_args_optimum_session, 400),
}
