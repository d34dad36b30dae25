"""Plain-Python references for the planning controllers: MPC / RobustMPC and BBA-1.

* MPC: the plan is scored the way Pensieve's ``test/mpc.py`` scores a chunk combination (one loop
  over positions: download time, rebuffer, buffer, bitrate and smoothness sums, then
  ``sum / 1e6 - weight * rebuffer - weight * (switches / 1e6)``), and the search is the
  exhaustive one over ``itertools.product`` in its order. That exhaustive search is the
  specification of both kernels ``mpc.mpc_brute`` and ``mpc.mpc_search``.
* BBA-1 (Huang et al., SIGCOMM 2014, section 5): written with lists of the next chunk's sizes,
  in the shape of BBA-0's Algorithm 1 with rates replaced by sizes.

:data:`REFERENCES` and :data:`KERNEL_INPUTS` register these with ``tests/test_simulate.py``,
which checks every kernel against its reference on the random inputs made here. Nothing here
calls a kernel.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any, Callable

import numpy as np

from abrkit._kernels import layout as L

__all__ = [
    "REFERENCES",
    "KERNEL_INPUTS",
    "plan_value",
    "best_plan",
    "best_plan_scalar",
    "mpc_choose",
    "bba1_choose",
    "bba1_reservoir_s",
    "random_plan_inputs",
]

INF = float("inf")


# ================================================================================================
# MPC
# ================================================================================================


def plan_value(bitrates_bps, plan_sizes_bytes, seq, prev_rung, buffer_s, est_bps, latency_s, plan_durations_s, cap_s,
               rebuffer_weight, switch_weight):
    """The objective of one rung sequence, in ``mpc.py``'s order of operations; the chunk at
    ``position`` adds ``plan_durations_s[position]`` seconds to the buffer."""
    curr_rebuffer_time = 0.0
    curr_buffer = float(buffer_s)
    bitrate_sum = 0.0
    smoothness_diffs = 0.0
    last_quality = int(prev_rung)
    for position, quality in enumerate(seq):
        quality = int(quality)
        download_time = latency_s + plan_sizes_bytes[position][quality] * 8.0 / est_bps
        if curr_buffer < download_time:
            curr_rebuffer_time += download_time - curr_buffer
            curr_buffer = 0.0
        else:
            curr_buffer -= download_time
        curr_buffer = min(curr_buffer + float(plan_durations_s[position]), cap_s)
        bitrate_sum += bitrates_bps[quality]
        if last_quality >= 0:
            smoothness_diffs += abs(bitrates_bps[quality] - bitrates_bps[last_quality])
        last_quality = quality
    return bitrate_sum / 1e6 - rebuffer_weight * curr_rebuffer_time - switch_weight * (smoothness_diffs / 1e6)


@functools.lru_cache(maxsize=64)
def _all_sequences(n: int, h: int) -> np.ndarray:
    """Every rung sequence, one per row, in ``itertools.product`` order."""
    return np.array(list(itertools.product(range(n), repeat=h)), dtype=np.int64).reshape(-1, h)


def best_plan(bitrates_bps, plan_sizes_bytes, prev_rung, buffer_s, est_bps, latency_s, plan_durations_s, cap_s,
              rebuffer_weight, switch_weight, ties_last):
    """(best value, best sequence) over every sequence in ``itertools.product`` order: the first
    best (``>``) or, when ``ties_last``, the last best (``>=``, as ``mpc.py`` keeps it).

    All sequences are scored at once with NumPy, position by position, with the very operations
    of :func:`plan_value` (element-wise IEEE arithmetic, so each value is the same float), which
    makes the exhaustive search fast enough for whole reference sessions.
    """
    rates = np.asarray(bitrates_bps, dtype=np.float64)
    sizes = np.asarray(plan_sizes_bytes, dtype=np.float64).reshape(-1, rates.size)
    seqs = _all_sequences(rates.size, sizes.shape[0])
    count = seqs.shape[0]
    buffer = np.full(count, float(buffer_s))
    rebuffer = np.zeros(count)
    rate_sum = np.zeros(count)
    switch_sum = np.zeros(count)
    last = None if prev_rung < 0 else np.full(count, int(prev_rung))
    for position in range(sizes.shape[0]):
        quality = seqs[:, position]
        download = latency_s + sizes[position][quality] * 8.0 / est_bps
        short = buffer < download
        rebuffer = np.where(short, rebuffer + (download - buffer), rebuffer)
        buffer = np.where(short, 0.0, buffer - download)
        buffer = np.minimum(buffer + float(plan_durations_s[position]), cap_s)
        rate_sum = rate_sum + rates[quality]
        if last is not None:
            switch_sum = switch_sum + np.abs(rates[quality] - rates[last])
        last = quality
    values = rate_sum / 1e6 - rebuffer_weight * rebuffer - switch_weight * (switch_sum / 1e6)
    # A running ">" / ">=" scan keeps the first value if it is NaN, else the first / last maximum.
    if np.isnan(values[0]):
        pick = 0
    else:
        top = np.nanmax(values)
        hits = np.flatnonzero(values == top)
        pick = int(hits[-1] if ties_last else hits[0])
    return float(values[pick]), [int(x) for x in seqs[pick]]


def best_plan_scalar(bitrates_bps, plan_sizes_bytes, prev_rung, buffer_s, est_bps, latency_s, plan_durations_s, cap_s,
                     rebuffer_weight, switch_weight, ties_last):
    """:func:`best_plan` written as ``mpc.py``'s own loop over ``itertools.product`` (slow; the
    tests check that the two agree)."""
    h, n = len(plan_sizes_bytes), len(bitrates_bps)
    best, best_seq = None, None
    for combo in itertools.product(range(n), repeat=h):
        reward = plan_value(bitrates_bps, plan_sizes_bytes, combo, prev_rung, buffer_s, est_bps, latency_s,
                            plan_durations_s, cap_s, rebuffer_weight, switch_weight)
        if best is None or reward > best or (ties_last and reward == best):
            best, best_seq = reward, combo
    return best, list(best_seq)


def _search(bitrates_bps, plan_sizes_bytes, prev_rung, buffer_s, est_bps, latency_s, plan_durations_s, cap_s,
            rebuffer_weight, switch_weight, ties_last, best_seq):
    """Reference of ``mpc.mpc_brute`` and ``mpc.mpc_search`` (kernel signature: fills ``best_seq``)."""
    value, seq = best_plan(bitrates_bps, plan_sizes_bytes, prev_rung, buffer_s, est_bps, latency_s, plan_durations_s,
                           cap_s, rebuffer_weight, switch_weight, ties_last)
    best_seq[:] = seq
    return value


def _download_s(size_bytes, est_bps, latency_s):
    return latency_s + size_bytes * 8.0 / est_bps


def _after_download(buffer_s, t, chunk_s, cap_s):
    """(buffer after a download of ``t`` seconds and one more chunk, capped; its rebuffering)."""
    return min(max(buffer_s - t, 0.0) + chunk_s, cap_s), max(t - buffer_s, 0.0)


def _objective(rate_sum_bps, rebuf_s, switch_sum_bps, rebuffer_weight, switch_weight):
    return rate_sum_bps / 1e6 - rebuffer_weight * rebuf_s - switch_weight * (switch_sum_bps / 1e6)


def _min_rebuffer_s(min_sizes_bytes, first, buffer_s, est_bps, latency_s, plan_durations_s, cap_s):
    """Rebuffering when chunks ``first ..`` all take their smallest size (chunk ``d`` lasting
    ``plan_durations_s[d]``)."""
    total = 0.0
    sizes = list(min_sizes_bytes)
    for d in range(first, len(sizes)):
        t = latency_s + sizes[d] * 8.0 / est_bps
        total += max(t - buffer_s, 0.0) if buffer_s < t else 0.0
        buffer_s = min(max(buffer_s - t, 0.0) + float(plan_durations_s[d]), cap_s)
    return total


def _prefers(path, depth, last_rung, best_seq, ties_last):
    """Whether ``path[:depth] + [last_rung]`` beats ``best_seq`` on a tie: first or last in
    lexicographic order."""
    candidate = [int(x) for x in path[:depth]] + [int(last_rung)]
    incumbent = [int(x) for x in best_seq[: depth + 1]]
    if candidate == incumbent:
        return False
    return (candidate > incumbent) == bool(ties_last)


def mpc_choose(k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes, durations_s, est_bps, last_latency_s, *,
               horizon, rebuffer_weight, switch_weight, buffer_cap_s, throughput_includes_latency,
               sizes_one_ahead, ignores_rtt, ignores_cap, ties_last):
    """The rung MPC picks for chunk ``k``, from plain arguments (see ``controllers.MPC``).

    ``sizes_bytes``: the video's whole size table (rows = chunks). Without a usable estimate,
    rung 0. The horizon is cut to the chunks left; with ``sizes_one_ahead`` chunk ``k + d`` is
    planned with row ``k + d + 1`` (0 bytes past the table, like ``mpc.py``'s get_chunk_size).
    ``durations_s``: each row's chunk duration; the planned chunks ``k + d`` last
    ``durations_s[k + d]`` (the sizes' off-by-one is Pensieve's alone).
    """
    if not (est_bps > 0.0):
        return 0
    h = min(int(horizon), n_chunks - k)
    first = k + 1 if sizes_one_ahead else k
    rows = len(sizes_bytes)
    plan = [
        [float(x) for x in sizes_bytes[first + d]] if first + d < rows else [0.0] * len(bitrates_bps)
        for d in range(h)
    ]
    latency_s = 0.0 if (ignores_rtt or throughput_includes_latency) else last_latency_s
    cap_s = INF if ignores_cap else buffer_cap_s
    plan_durations = [float(durations_s[k + d]) for d in range(h)]
    _, seq = best_plan([float(b) for b in bitrates_bps], plan, prev_rung, buffer_s, est_bps, latency_s, plan_durations,
                       cap_s, rebuffer_weight, switch_weight, ties_last)
    return seq[0]


def mpc_decide(cparams, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes, durations_s, est_bps, latency_s, prof):
    """Reference of ``controllers.mpc_decide`` (packed parameters and profile)."""
    return mpc_choose(
        k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes, durations_s, est_bps, latency_s,
        horizon=int(cparams[0]), rebuffer_weight=cparams[1], switch_weight=cparams[2],
        buffer_cap_s=prof[L.PROF_BUFFER_CAP_S],
        throughput_includes_latency=prof[L.PROF_THROUGHPUT_INCLUDES_LATENCY] != 0.0,
        sizes_one_ahead=prof[L.PROF_MPC_SIZES_AHEAD] != 0.0,
        ignores_rtt=prof[L.PROF_MPC_IGNORE_LATENCY] != 0.0,
        ignores_cap=prof[L.PROF_MPC_IGNORE_CAP] != 0.0,
        ties_last=prof[L.PROF_MPC_TIES_LAST] != 0.0,
    )


# ================================================================================================
# BBA-1
# ================================================================================================


def bba1_reservoir_s(sizes_bytes, k, n_chunks, durations_s, rate_min_bps, lookahead_s, min_reservoir_s, max_reservoir_s):
    """Section 5.1: the buffer the next ``lookahead_s`` of lowest-rung video would drain over a link
    of exactly R_min (download time minus play time, summed), clamped to the bounds; chunk ``i``
    plays ``durations_s[i]``."""
    upcoming = []
    covered_s = 0.0
    for i in range(k, n_chunks):
        if covered_s >= lookahead_s:
            break
        upcoming.append((sizes_bytes[i][0], float(durations_s[i])))
        covered_s += float(durations_s[i])
    need_s = 0.0
    for size, play_s in upcoming:
        need_s += size * 8.0 / rate_min_bps - play_s
    return min(max(need_s, min_reservoir_s), max_reservoir_s)


def bba1_choose(buffer_s, prev_rung, k, n_chunks, bitrates_bps, sizes_bytes, durations_s, cushion_s, lookahead_s,
                min_reservoir_s, max_reservoir_s):
    """BBA-1's chunk map with BBA-0's hysteresis over the sizes of chunk ``k`` (the map's nominal
    sizes for chunk ``k``'s own duration)."""
    rates = [float(r) for r in bitrates_bps]
    sizes = [float(s) for s in sizes_bytes[k]]
    n = len(rates)
    prev = max(int(prev_rung), 0)
    reservoir = bba1_reservoir_s(sizes_bytes, k, n_chunks, durations_s, rates[0], lookahead_s, min_reservoir_s,
                                 max_reservoir_s)
    chunk_s = float(durations_s[k])
    if buffer_s <= reservoir:
        return 0
    if buffer_s >= reservoir + cushion_s:
        return n - 1
    chunk_min = rates[0] * chunk_s / 8.0
    chunk_max = rates[-1] * chunk_s / 8.0
    f_buf = chunk_min + (chunk_max - chunk_min) * (buffer_s - reservoir) / cushion_s
    size_plus = sizes[prev + 1] if prev + 1 < n else sizes[n - 1]
    size_minus = sizes[prev - 1] if prev > 0 else sizes[0]
    if f_buf >= size_plus:
        below = [i for i in range(n) if sizes[i] < f_buf]
        if not below:
            return 0
        largest = max(sizes[i] for i in below)
        return max(i for i in below if sizes[i] == largest)
    if f_buf <= size_minus:
        above = [i for i in range(n) if sizes[i] > f_buf]
        if not above:
            return n - 1
        smallest = min(sizes[i] for i in above)
        return min(i for i in above if sizes[i] == smallest)
    return prev


def bba1_reservoir(sizes_bytes, k, n_chunks, durations_s, rate_min_bps, lookahead_s, min_reservoir_s, max_reservoir_s):
    return bba1_reservoir_s(sizes_bytes, k, n_chunks, durations_s, rate_min_bps, lookahead_s, min_reservoir_s,
                            max_reservoir_s)


def bba1(buffer_s, prev_rung, k, n_chunks, bitrates_bps, sizes_bytes, durations_s, cushion_s, lookahead_s,
         min_reservoir_s, max_reservoir_s):
    return bba1_choose(buffer_s, prev_rung, k, n_chunks, bitrates_bps, sizes_bytes, durations_s, cushion_s, lookahead_s,
                       min_reservoir_s, max_reservoir_s)


def plan(ctrl_id, cparams, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes, durations_s, est_bps, latency_s,
         prof):
    """Reference of ``controllers.plan``: the planning controllers by id; -1 for an unknown id."""
    if ctrl_id == L.CTRL_MPC:
        return mpc_decide(cparams, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes, durations_s, est_bps,
                          latency_s, prof)
    if ctrl_id == L.CTRL_BBA1:
        return bba1_choose(buffer_s, prev_rung, k, n_chunks, bitrates_bps, sizes_bytes, durations_s, *cparams[:4])
    return -1


def random_durations(rng, n, chunk_s):
    """``n`` chunk durations around ``chunk_s``: all equal to it (half the time), or unequal
    (per-shot segments: anywhere from a fifth of it to one and a half times it)."""
    if rng.random() < 0.5:
        return np.full(n, chunk_s)
    return rng.uniform(0.2 * chunk_s, 1.5 * chunk_s, n)


# ================================================================================================
# Random inputs (tie cases on purpose)
# ================================================================================================

ENVIVIO_BPS = np.array([300, 750, 1200, 1850, 2850, 4300], dtype=np.float64) * 1e3


def _ladder(rng, n):
    kind = rng.integers(4)
    if kind == 0:
        return ENVIVIO_BPS[:n].copy()
    if kind == 1:  # repeated bitrates: whole families of equal objectives
        return np.sort(rng.choice([2e5, 5e5, 1e6], n)).astype(np.float64)
    if kind == 2:
        return np.round(np.cumsum(rng.uniform(1e5, 1.5e6, n)), -3)
    return np.cumsum(rng.uniform(1e5, 1.5e6, n))


def _sizes(rng, h, ladder, chunk_s):
    kind = rng.integers(4)
    if kind == 0:  # constant bitrate: every planned chunk alike
        return np.tile(ladder * chunk_s / 8.0, (h, 1))
    if kind == 1:  # equal sizes across rungs (ties between rungs of equal bitrate, too)
        return np.tile(rng.uniform(1e4, 1e6, (h, 1)), (1, ladder.size))
    if kind == 2:  # zero-byte chunks (planning past the end with the sizes-ahead quirk)
        s = np.outer(rng.uniform(0.5, 1.5, h), ladder * chunk_s / 8.0)
        s[int(rng.integers(h)):] = 0.0
        return s
    return np.outer(rng.uniform(0.5, 1.5, h), ladder * chunk_s / 8.0) * rng.uniform(0.8, 1.2, (h, ladder.size))


def random_plan_inputs(rng, max_leaves=1300):
    """Arguments of ``mpc.mpc_search`` / ``mpc.mpc_brute``: a random planning problem, with
    fewer than ``max_leaves`` sequences (the reference enumerates them all in Python)."""
    while True:
        h, n = int(rng.integers(1, 6)), int(rng.integers(1, 7))
        if n ** h <= max_leaves:
            break
    ladder = _ladder(rng, n)
    chunk_s = float(rng.choice([4.0, rng.uniform(0.5, 6.0)]))
    sizes = _sizes(rng, h, ladder, chunk_s)
    durations = random_durations(rng, h, chunk_s)
    est = float(rng.choice([rng.uniform(1e5, 8e6), 1e12, np.inf, float(ladder[int(rng.integers(n))])]))
    return (
        ladder, np.ascontiguousarray(sizes), int(rng.integers(-1, n)),
        float(rng.choice([0.0, chunk_s, rng.uniform(0.0, 40.0)])), est,
        float(rng.choice([0.0, rng.uniform(0.0, 0.3)])), durations,
        float(rng.choice([np.inf, rng.uniform(1.5 * chunk_s, 40.0)])),
        float(rng.choice([4.3, 0.0, rng.uniform(0.0, 50.0)])), float(rng.choice([1.0, 0.0, rng.uniform(0.0, 3.0)])),
        bool(rng.random() < 0.5), np.full(h, -1, dtype=np.int64),
    )


def _args_mpc_value(rng):
    args = random_plan_inputs(rng)
    h, n = args[1].shape
    return (args[0], args[1], rng.integers(0, n, h).astype(np.int64), *args[2:10])


def _args_download_s(rng):
    return float(rng.uniform(0.0, 3e6)), float(rng.choice([rng.uniform(1e4, 1e7), np.inf])), float(rng.uniform(0.0, 0.3))


def _args_after_download(rng):
    chunk_s = float(rng.uniform(0.5, 6.0))
    buffer_s = float(rng.choice([0.0, rng.uniform(0.0, 30.0)]))
    t = float(rng.choice([buffer_s, rng.uniform(0.0, 40.0)]))  # ties included
    return buffer_s, t, chunk_s, float(rng.choice([np.inf, rng.uniform(chunk_s, 30.0)]))


def _args_objective(rng):
    return (float(rng.uniform(0.0, 3e7)), float(rng.uniform(0.0, 20.0)), float(rng.uniform(0.0, 1e7)),
            float(rng.uniform(0.0, 10.0)), float(rng.uniform(0.0, 3.0)))


def _args_min_rebuffer_s(rng):
    h = int(rng.integers(1, 8))
    chunk_s = float(rng.uniform(0.5, 6.0))
    return (
        rng.uniform(0.0, 3e6, h), int(rng.integers(0, h + 1)), float(rng.uniform(0.0, 30.0)),
        float(rng.uniform(1e5, 8e6)), float(rng.choice([0.0, 0.1])), random_durations(rng, h, chunk_s),
        float(rng.choice([np.inf, rng.uniform(1.5 * chunk_s, 30.0)])),
    )


def _args_prefers(rng):
    h = int(rng.integers(1, 6))
    n = int(rng.integers(1, 4))
    best = rng.integers(0, n, h).astype(np.int64)
    path = best.copy() if rng.random() < 0.5 else rng.integers(0, n, h).astype(np.int64)
    depth = int(rng.integers(0, h))
    return path, depth, int(rng.integers(0, n)), best, bool(rng.random() < 0.5)


def _random_table(rng, n_rows, ladder, chunk_s):
    kind = rng.integers(3)
    if kind == 0:
        return np.tile(ladder * chunk_s / 8.0, (n_rows, 1))
    table = np.outer(rng.uniform(0.3, 2.0, n_rows), ladder * chunk_s / 8.0)
    if kind == 2:  # unordered sizes across rungs now and then
        table *= rng.uniform(0.5, 1.5, table.shape)
    return table


def _random_prof(rng, chunk_s):
    p = np.zeros(L.PROF_SIZE)
    p[L.PROF_BUFFER_CAP_S] = float(rng.uniform(1.5 * chunk_s, 60.0))
    p[L.PROF_THROUGHPUT_INCLUDES_LATENCY] = rng.integers(0, 2)
    for col in (L.PROF_MPC_SIZES_AHEAD, L.PROF_MPC_IGNORE_LATENCY, L.PROF_MPC_IGNORE_CAP, L.PROF_MPC_TIES_LAST):
        p[col] = rng.integers(0, 2)
    return p


def _mpc_cparams(rng, n):
    cp = np.zeros(L.CTRL_PARAMS)
    cp[0] = rng.integers(1, 5 if n <= 4 else 4)
    cp[1] = rng.choice([4.3, rng.uniform(0.0, 20.0)])
    cp[2] = rng.choice([1.0, rng.uniform(0.0, 3.0)])
    return cp


def _bba1_cparams(rng):
    cp = np.zeros(L.CTRL_PARAMS)
    low = float(rng.choice([0.0, rng.uniform(0.0, 10.0)]))
    cp[:4] = rng.uniform(0.5, 20.0), rng.uniform(1.0, 100.0), low, low + float(rng.choice([0.0, rng.uniform(0.0, 30.0)]))
    return cp


def _planning_situation(rng):
    n = int(rng.integers(1, 7))
    ladder = _ladder(rng, n)
    chunk_s = float(rng.choice([4.0, rng.uniform(0.5, 6.0)]))
    rows = int(rng.integers(1, 12))
    n_chunks = int(rng.integers(1, rows + 1))
    table = _random_table(rng, rows, ladder, chunk_s)
    durations = random_durations(rng, rows, chunk_s)
    table = table * (durations / chunk_s)[:, None]  # a shorter chunk holds fewer bytes
    k = int(rng.integers(0, n_chunks))
    est = float(rng.choice([np.nan, 0.0, rng.uniform(1e5, 8e6), np.inf]))
    return n, ladder, chunk_s, n_chunks, table, k, est, durations


def _args_mpc_decide(rng):
    n, ladder, chunk_s, n_chunks, table, k, est, durations = _planning_situation(rng)
    prof = _random_prof(rng, chunk_s)
    buffer_s = float(rng.uniform(0.0, prof[L.PROF_BUFFER_CAP_S]))
    return (_mpc_cparams(rng, n), k, n_chunks, buffer_s, int(rng.integers(-1, n)), ladder, table, durations, est,
            float(rng.choice([0.0, rng.uniform(0.0, 0.3)])), prof)


def _args_bba1_reservoir(rng):
    n, ladder, chunk_s, n_chunks, table, k, _, durations = _planning_situation(rng)
    cp = _bba1_cparams(rng)
    return table, k, n_chunks, durations, float(ladder[0]), cp[1], cp[2], cp[3]


def _args_bba1(rng):
    n, ladder, chunk_s, n_chunks, table, k, _, durations = _planning_situation(rng)
    cp = _bba1_cparams(rng)
    return (float(rng.uniform(0.0, 60.0)), int(rng.integers(-1, n)), k, n_chunks, ladder, table, durations, *cp[:4])


def _args_plan(rng):
    n, ladder, chunk_s, n_chunks, table, k, est, durations = _planning_situation(rng)
    ctrl_id = int(rng.choice([L.CTRL_MPC, L.CTRL_BBA1]))
    cp = _mpc_cparams(rng, n) if ctrl_id == L.CTRL_MPC else _bba1_cparams(rng)
    prof = _random_prof(rng, chunk_s)
    return (ctrl_id, cp, k, n_chunks, float(rng.uniform(0.0, 40.0)), int(rng.integers(-1, n)), ladder, table, durations,
            est, float(rng.uniform(0.0, 0.2)), prof)


#: Kernel (``"module.function"`` under ``abrkit._kernels``) -> reference with the same signature.
REFERENCES: dict[str, Callable[..., Any]] = {
    "mpc._download_s": _download_s,
    "mpc._after_download": _after_download,
    "mpc._objective": _objective,
    "mpc._min_rebuffer_s": _min_rebuffer_s,
    "mpc._prefers": _prefers,
    "mpc.mpc_value": plan_value,
    "mpc.mpc_brute": _search,
    "mpc.mpc_search": _search,
    "controllers.mpc_decide": mpc_decide,
    "controllers.bba1_reservoir": bba1_reservoir,
    "controllers.bba1": bba1,
}

#: Kernel name -> (random-argument maker, number of random cases).
KERNEL_INPUTS: dict[str, tuple[Callable[[np.random.Generator], tuple], int]] = {
    "mpc._download_s": (_args_download_s, 100),
    "mpc._after_download": (_args_after_download, 300),
    "mpc._objective": (_args_objective, 100),
    "mpc._min_rebuffer_s": (_args_min_rebuffer_s, 200),
    "mpc._prefers": (_args_prefers, 200),
    "mpc.mpc_value": (_args_mpc_value, 300),
    "mpc.mpc_brute": (random_plan_inputs, 150),
    "mpc.mpc_search": (random_plan_inputs, 300),
    "controllers.mpc_decide": (_args_mpc_decide, 200),
    "controllers.bba1_reservoir": (_args_bba1_reservoir, 300),
    "controllers.bba1": (_args_bba1, 500),
}

assert set(REFERENCES) == set(KERNEL_INPUTS)
