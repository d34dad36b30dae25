"""Plain-Python references for abrkit's Numba kernels and for a whole simulated session.

Nothing here calls a kernel (or a kernel's ``py_func``): every function is written out again,
in the plain style of Pensieve's ``test/fixed_env.py`` (``while True`` loops that walk the
trace one period at a time), so that a disagreement between a kernel and its reference points
at a bug in one of them rather than at a shared mistake.

Two ways in:

* :func:`simulate_session` takes the public objects (a ``Trace``, a ``Video``, a controller and
  a profile, objects or names) and reads their fields itself: it does not use
  ``Profile.pack``, ``Profile.kernel_trace`` or ``Controller.pack``.
* :data:`REFERENCES` maps each kernel, by ``"module.function"`` name relative to
  ``abrkit._kernels``, to a reference with the kernel's own signature, so a test or a benchmark
  can call both on the same arrays.

Benchmarks import this module (``sys.path`` pointing at ``tests/``); keep the public names
stable: ``simulate_session``, ``REFERENCES`` and the functions listed in it.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from abrkit import BBA0, BufferBased, Controller, FixedRung, Profile, RateBased, Trace, Video, get_controller, get_profile
from abrkit._kernels import layout as L

__all__ = [
    "REFERENCES",
    "CHUNK_FIELDS",
    "simulate_session",
    "session_periods",
    "harmonic_mean_last",
    "bb_pensieve",
    "bba0",
    "rate_based",
    "fixed_rung",
    "highest_below",
    "decide",
    "advance_clock",
    "transfer",
    "run_session",
    "run_batch",
]

STATUS_NAMES = {L.STATUS_COMPLETE: "complete", L.STATUS_STALLED: "stalled", L.STATUS_NO_BANDWIDTH: "no_bandwidth"}
BITS_PER_BYTE = 8.0


# -- predictors ------------------------------------------------------------------------------


def harmonic_mean_last(samples_bps, window):
    """Harmonic mean of the last ``window`` samples; all of them if there are fewer; 0.0 if none."""
    samples = [float(s) for s in samples_bps]
    recent = samples[max(len(samples) - int(window), 0):]
    if not recent:
        return 0.0
    inverse_sum = 0.0
    for s in recent:
        inverse_sum += 1.0 / s
    return len(recent) / inverse_sum


# -- controllers -----------------------------------------------------------------------------


def bb_pensieve(buffer_s, n_rungs, reservoir_s, cushion_s):
    """Pensieve ``test/bb.py``: the rung index grows linearly over the cushion, truncated."""
    if buffer_s < reservoir_s:
        bit_rate = 0
    elif buffer_s >= reservoir_s + cushion_s:
        bit_rate = n_rungs - 1
    else:
        bit_rate = (n_rungs - 1) * (buffer_s - reservoir_s) / cushion_s
    return int(bit_rate)


def bba0(buffer_s, prev_rung, bitrates_bps, reservoir_s, cushion_s):
    """BBA-0, Algorithm 1 of Huang et al., SIGCOMM 2014, written with rates as in the paper.

    ``prev_rung < 0`` (nothing played yet) counts as the lowest rung.
    """
    rates = [float(r) for r in bitrates_bps]
    if len(rates) == 1:  # the paper assumes a choice; with one rate there is none
        return 0
    r_min, r_max = rates[0], rates[-1]
    rate_prev = rates[max(int(prev_rung), 0)]
    # Lines 1-8: the neighbouring rates.
    rate_plus = r_max if rate_prev == r_max else min(r for r in rates if r > rate_prev)
    rate_minus = r_min if rate_prev == r_min else max(r for r in rates if r < rate_prev)
    # Lines 9-18.
    if buffer_s <= reservoir_s:
        rate_next = r_min
    elif buffer_s >= reservoir_s + cushion_s:
        rate_next = r_max
    else:
        f_buf = r_min + (r_max - r_min) * (buffer_s - reservoir_s) / cushion_s
        if f_buf >= rate_plus:
            rate_next = max(r for r in rates if r < f_buf)
        elif f_buf <= rate_minus:
            rate_next = min(r for r in rates if r > f_buf)
        else:
            rate_next = rate_prev
    return rates.index(rate_next)


def highest_below(bitrates_bps, budget_bps):
    """Index of the highest rung whose bitrate fits in the budget; 0 when none does."""
    fitting = [i for i, rate in enumerate(bitrates_bps) if rate <= budget_bps]
    return fitting[-1] if fitting else 0


def rate_based(k, throughputs_bps, bitrates_bps, window, safety):
    """Rate rule: highest rung <= safety x harmonic mean of the last ``window`` samples; rung 0 first."""
    if k == 0:
        return 0
    estimate_bps = harmonic_mean_last(list(throughputs_bps)[:k], window)
    return highest_below(bitrates_bps, safety * estimate_bps)


def fixed_rung(rung, n_rungs):
    """Always ``rung``, clipped to the top of the ladder."""
    return min(int(rung), n_rungs - 1)


def decide(ctrl_id, cparams, k, buffer_s, prev_rung, bitrates_bps, log):
    """Reference of the kernel dispatcher: ``cparams`` and ``log`` laid out as in ``layout``."""
    if ctrl_id == L.CTRL_BB_PENSIEVE:
        return bb_pensieve(buffer_s, len(bitrates_bps), cparams[0], cparams[1])
    if ctrl_id == L.CTRL_BBA0:
        return bba0(buffer_s, prev_rung, bitrates_bps, cparams[0], cparams[1])
    if ctrl_id == L.CTRL_RATE:
        throughputs = [log[i][L.LOG_THROUGHPUT_BPS] for i in range(k)]
        return rate_based(k, throughputs, bitrates_bps, int(cparams[0]), cparams[1])
    if ctrl_id == L.CTRL_FIXED:
        return fixed_rung(cparams[0], len(bitrates_bps))
    return -1


def _chooser(controller: Controller, bitrates_bps) -> Callable[[int, float, int, list], int]:
    """A ``choose(k, buffer_s, prev_rung, throughputs)`` function for a public controller object."""
    n_rungs = len(bitrates_bps)
    if isinstance(controller, BufferBased):
        return lambda k, buf, prev, thr: bb_pensieve(buf, n_rungs, controller.reservoir_s, controller.cushion_s)
    if isinstance(controller, BBA0):
        return lambda k, buf, prev, thr: bba0(buf, prev, bitrates_bps, controller.reservoir_s, controller.cushion_s)
    if isinstance(controller, RateBased):
        return lambda k, buf, prev, thr: rate_based(k, thr, bitrates_bps, controller.window, controller.safety)
    if isinstance(controller, FixedRung):
        return lambda k, buf, prev, thr: fixed_rung(controller.rung, n_rungs)
    raise TypeError(f"the reference has no decision rule for {type(controller).__name__}")


# -- the trace clock -----------------------------------------------------------------------------


def advance_clock(period_end_s, wrap_s, ptr, clock_s, wait_s):
    """Let ``wait_s`` seconds of the trace go by (fixed_env's sleep loop); returns (ptr, clock_s)."""
    remaining_s = wait_s
    while True:
        duration = period_end_s[ptr] - clock_s
        if duration > remaining_s:
            return ptr, clock_s + remaining_s
        remaining_s -= duration
        clock_s = period_end_s[ptr]
        ptr += 1
        if ptr >= len(period_end_s):  # loop back to the beginning of the trace
            ptr = 0
            clock_s = wrap_s


def transfer(period_end_s, period_bw_bps, wrap_s, ptr, clock_s, size_bytes, efficiency, max_s):
    """Download ``size_bytes`` from (ptr, clock_s) (fixed_env's download loop).

    Returns (seconds taken, ptr, clock_s, finished). ``finished`` is False when the last byte
    would arrive more than ``max_s`` seconds after the transfer began.
    """
    sent_bytes = 0.0
    delay_s = 0.0
    while True:
        throughput = period_bw_bps[ptr] / BITS_PER_BYTE  # bytes per second
        duration = period_end_s[ptr] - clock_s
        packet_payload = throughput * duration * efficiency
        if sent_bytes + packet_payload > size_bytes:
            fractional_time = (size_bytes - sent_bytes) / throughput / efficiency
            if delay_s + fractional_time > max_s:
                return delay_s + fractional_time, ptr, clock_s + fractional_time, False
            return delay_s + fractional_time, ptr, clock_s + fractional_time, True
        sent_bytes += packet_payload
        delay_s += duration
        clock_s = period_end_s[ptr]
        ptr += 1
        if ptr >= len(period_bw_bps):
            ptr = 0
            clock_s = wrap_s
        if delay_s > max_s:
            return delay_s, ptr, clock_s, False


# -- the session loop --------------------------------------------------------------------------


def _play(
    period_end_s, period_bw_bps, period_lat_s, start_s, wrap_s,
    sizes_bytes, bitrates_bps, chunk_s, n_chunks,
    *, rtt_s, rtt_advances_clock, efficiency, buffer_cap_s, wait_quantum_s,
    first_chunk_rebuffers, initial_rung, max_download_s, throughput_includes_latency,
    choose,
):
    """One session, fixed_env style. Returns (rows, status, startup_s); a row is a dict per chunk.

    ``rtt_s`` None: each request waits the latency of the period it is issued in.
    ``initial_rung`` None: chunk 0's rung comes from ``choose`` like every other.
    """
    if not any(bw > 0.0 for bw in period_bw_bps):
        return [], L.STATUS_NO_BANDWIDTH, 0.0

    ptr = 0
    clock_s = start_s  # the trace's clock
    session_s = 0.0  # the player's clock
    buffer_s = 0.0
    startup_s = 0.0
    prev_rung = -1
    throughputs: list[float] = []
    rows: list[dict[str, float]] = []
    for k in range(n_chunks):
        if k == 0 and initial_rung is not None:
            rung = min(initial_rung, len(bitrates_bps) - 1)
        else:
            rung = choose(k, buffer_s, prev_rung, throughputs)
        size = sizes_bytes[k][rung]

        latency_s = period_lat_s[ptr] if rtt_s is None else rtt_s
        if rtt_advances_clock and latency_s > 0.0:
            ptr, clock_s = advance_clock(period_end_s, wrap_s, ptr, clock_s, latency_s)
        download_s, ptr, clock_s, finished = transfer(
            period_end_s, period_bw_bps, wrap_s, ptr, clock_s, size, efficiency, max_download_s
        )
        if not finished:
            return rows, L.STATUS_STALLED, startup_s
        delay_s = download_s + latency_s

        if k == 0 and not first_chunk_rebuffers:
            # Playback starts once the first chunk is in: its download is start-up delay.
            startup_s = delay_s
            rebuffer_s = 0.0
            buffer_s = chunk_s
        else:
            rebuffer_s = max(delay_s - buffer_s, 0.0)
            buffer_s = max(buffer_s - delay_s, 0.0)
            buffer_s += chunk_s

        # Sleep while the buffer is over the cap; the trace keeps running meanwhile.
        sleep_s = 0.0
        if buffer_s > buffer_cap_s:
            drain_buffer_s = buffer_s - buffer_cap_s
            if wait_quantum_s > 0.0:
                sleep_s = math.ceil(drain_buffer_s / wait_quantum_s) * wait_quantum_s
            else:
                sleep_s = drain_buffer_s
            buffer_s -= sleep_s
            ptr, clock_s = advance_clock(period_end_s, wrap_s, ptr, clock_s, sleep_s)

        if throughput_includes_latency:
            sample_bps = size * BITS_PER_BYTE / delay_s
        else:
            sample_bps = size * BITS_PER_BYTE / download_s
        throughputs.append(sample_bps)
        rows.append({
            "rung": rung,
            "size_bytes": size,
            "latency_s": latency_s,
            "delay_s": delay_s,
            "buffer_s": buffer_s,
            "rebuffer_s": rebuffer_s,
            "wait_s": sleep_s,
            "throughput_bps": sample_bps,
            "request_s": session_s,
        })
        session_s += delay_s + sleep_s
        prev_rung = rung
    return rows, L.STATUS_COMPLETE, startup_s


_LOG_COLUMN_OF = {
    "rung": L.LOG_RUNG,
    "size_bytes": L.LOG_SIZE_BYTES,
    "latency_s": L.LOG_LATENCY_S,
    "delay_s": L.LOG_DELAY_S,
    "buffer_s": L.LOG_BUFFER_S,
    "rebuffer_s": L.LOG_REBUFFER_S,
    "wait_s": L.LOG_WAIT_S,
    "throughput_bps": L.LOG_THROUGHPUT_BPS,
    "request_s": L.LOG_REQUEST_S,
}
CHUNK_FIELDS = tuple(_LOG_COLUMN_OF)


def _throughput_log(throughputs_bps):
    """A log matrix holding only what ``decide`` reads: the throughput samples so far."""
    log = np.full((len(throughputs_bps), L.LOG_COLS), np.nan)
    log[:, L.LOG_THROUGHPUT_BPS] = throughputs_bps
    return log


def run_session(
    period_end_s, period_bw_bps, period_lat_s, start_s, wrap_s,
    sizes_bytes, bitrates_bps, chunk_s, n_chunks,
    prof, ctrl_id, cparams, log,
):
    """Reference of ``session.run_session``: same arrays in, fills ``log[:n_done]``.

    Returns (n_done, status, startup_s).
    """
    rtt = prof[L.PROF_RTT_S]
    initial = prof[L.PROF_INITIAL_RUNG]

    def choose(k, buffer_s, prev_rung, throughputs):
        return decide(ctrl_id, cparams, k, buffer_s, prev_rung, bitrates_bps, _throughput_log(throughputs))

    rows, status, startup_s = _play(
        period_end_s, period_bw_bps, period_lat_s, start_s, wrap_s,
        sizes_bytes, bitrates_bps, chunk_s, n_chunks,
        rtt_s=None if rtt < 0.0 else rtt,
        rtt_advances_clock=prof[L.PROF_RTT_ADVANCES_CLOCK] != 0.0,
        efficiency=prof[L.PROF_EFFICIENCY],
        buffer_cap_s=prof[L.PROF_BUFFER_CAP_S],
        wait_quantum_s=prof[L.PROF_WAIT_QUANTUM_S],
        first_chunk_rebuffers=prof[L.PROF_FIRST_CHUNK_REBUFFERS] != 0.0,
        initial_rung=None if initial < 0.0 else int(initial),
        max_download_s=prof[L.PROF_MAX_DOWNLOAD_S],
        throughput_includes_latency=prof[L.PROF_THROUGHPUT_INCLUDES_LATENCY] != 0.0,
        choose=choose,
    )
    for k, row in enumerate(rows):
        for name, col in _LOG_COLUMN_OF.items():
            log[k, col] = row[name]
    return len(rows), status, startup_s


def run_batch(
    job_lo, job_hi,
    job_trace, job_video, job_ctrl,
    tr_offsets, tr_end_s, tr_bw_bps, tr_lat_s, tr_start_s, tr_wrap_s,
    vid_offsets, vid_sizes_flat, vid_rungs, vid_n_chunks, vid_chunk_s, lad_offsets, lad_bps,
    prof, ctrl_ids, ctrl_params,
    log, out_n_done, out_status, out_startup_s,
):
    """Reference of ``session.run_batch``: unpack each job's trace, video and controller, run it."""
    for j in range(job_lo, job_hi):
        t, v, c = int(job_trace[j]), int(job_video[j]), int(job_ctrl[j])
        t_lo, t_hi = int(tr_offsets[t]), int(tr_offsets[t + 1])
        n_rungs, n_chunks = int(vid_rungs[v]), int(vid_n_chunks[v])
        first = int(vid_offsets[v])
        sizes = [
            [vid_sizes_flat[first + k * n_rungs + r] for r in range(n_rungs)]
            for k in range(n_chunks)
        ]
        ladder = [lad_bps[i] for i in range(int(lad_offsets[v]), int(lad_offsets[v + 1]))]
        log[j] = np.nan
        out_n_done[j], out_status[j], out_startup_s[j] = run_session(
            tr_end_s[t_lo:t_hi], tr_bw_bps[t_lo:t_hi], tr_lat_s[t_lo:t_hi], tr_start_s[t], tr_wrap_s[t],
            sizes, ladder, vid_chunk_s[v], n_chunks,
            prof, ctrl_ids[c], ctrl_params[c], log[j],
        )


# -- the public-object entry point -----------------------------------------------------------


def session_periods(trace: Trace, alignment: str):
    """(period_end_s, bandwidth_bps, latency_s, start_s, wrap_s) of ``trace`` read the way
    ``alignment`` says, as plain lists and floats.

    * ``"start"``: point i's bandwidth holds from ``time_s[i]`` to the next point (the last one
      to ``end_s``); the clock starts at ``time_s[0]`` and a finished trace starts over there.
    * ``"end"`` (Pensieve): point i's bandwidth holds over ``(time_s[i-1], time_s[i]]``, so
      point 0's is never used, and a finished trace starts over with the clock at 0.
    """
    times = [float(x) for x in trace.time_s]
    bws = [float(x) for x in trace.bandwidth_bps]
    lats = [0.0] * len(times) if trace.latency_s is None else [float(x) for x in trace.latency_s]
    if alignment == "start":
        ends = times[1:] + [float(trace.end_s)]
        return ends, bws, lats, times[0], times[0]
    if alignment == "end":
        return times[1:], bws[1:], lats[1:], times[0], 0.0
    raise ValueError(f"unknown trace alignment {alignment!r}")


def simulate_session(trace: Trace, video: Video, controller: Any, profile: Any = "default") -> dict[str, Any]:
    """Simulate one session with the reference loop.

    ``controller``: a controller object or spec string (``"rate:window=3"``); ``profile``: a
    :class:`~abrkit.Profile` or a profile name. Returns a dict with one numpy array per logged
    quantity (``rung``, ``size_bytes``, ``latency_s``, ``delay_s``, ``buffer_s``, ``rebuffer_s``,
    ``wait_s``, ``throughput_bps``, ``request_s``; one entry per played chunk), ``status``
    (``"complete"``, ``"stalled"`` or ``"no_bandwidth"``) and ``startup_s``.
    """
    ctrl = get_controller(controller)
    prof: Profile = get_profile(profile)
    ends, bws, lats, start_s, wrap_s = session_periods(trace, prof.trace_alignment)
    ladder = [float(b) for b in video.bitrates_bps]
    n_chunks = video.n_chunks if prof.max_chunks is None else min(video.n_chunks, prof.max_chunks)
    sizes = [[float(s) for s in row] for row in video.sizes_bytes[:n_chunks]]
    rows, status, startup_s = _play(
        ends, bws, lats, start_s, wrap_s,
        sizes, ladder, video.chunk_s, n_chunks,
        rtt_s=prof.rtt_s,
        rtt_advances_clock=prof.rtt_advances_clock,
        efficiency=prof.payload_efficiency,
        buffer_cap_s=prof.buffer_cap_s,
        wait_quantum_s=prof.wait_quantum_s,
        first_chunk_rebuffers=prof.first_chunk_rebuffers,
        initial_rung=prof.initial_rung,
        max_download_s=prof.max_download_s,
        throughput_includes_latency=prof.throughput_includes_latency,
        choose=_chooser(ctrl, ladder),
    )
    out: dict[str, Any] = {
        name: np.array([row[name] for row in rows], dtype=np.int64 if name == "rung" else np.float64)
        for name in CHUNK_FIELDS
    }
    out["status"] = STATUS_NAMES[status]
    out["startup_s"] = float(startup_s)
    return out


#: Kernel (``"module.function"`` under ``abrkit._kernels``) -> reference with the same signature.
REFERENCES: dict[str, Callable[..., Any]] = {
    "predictors.harmonic_mean_last": harmonic_mean_last,
    "controllers.bb_pensieve": bb_pensieve,
    "controllers.bba0": bba0,
    "controllers.highest_below": highest_below,
    "controllers.decide": decide,
    "session.advance_clock": advance_clock,
    "session.transfer": transfer,
    "session.run_session": run_session,
    "session.run_batch": run_batch,
}
