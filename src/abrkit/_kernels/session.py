"""The one session loop shared by every controller, and its batch driver.

Trace clock model (arrays prepared by the façade):

* ``period_end_s[j]`` is the clock value at which period ``j`` ends, ``period_bw_bps[j]`` its
  bandwidth and ``period_lat_s[j]`` the latency of a request issued in it.
* The clock starts at ``start_s`` in period 0. When it passes the last period's end it wraps to
  ``wrap_s`` in period 0 (traces loop).

Keeping absolute end times (rather than lengths) reproduces Pensieve's arithmetic exactly: it
computes each step's length as ``cooked_time[ptr] - last_time``.
"""

from __future__ import annotations

import numpy as np

from .._jit import njit
from .controllers import decide, plan
from .predictors import pred_predict, pred_update
from .layout import (
    LOG_BUFFER_S,
    LOG_DELAY_S,
    LOG_LATENCY_S,
    LOG_REBUFFER_S,
    LOG_REQUEST_S,
    LOG_RUNG,
    LOG_SIZE_BYTES,
    LOG_THROUGHPUT_BPS,
    LOG_WAIT_S,
    CTRL_FIRST_PLANNER,
    PRED_ROBUST,
    PROF_BUFFER_CAP_S,
    PROF_CARRY_ROBUST,
    PROF_EFFICIENCY,
    PROF_FIRST_CHUNK_REBUFFERS,
    PROF_INITIAL_RUNG,
    PROF_MAX_DOWNLOAD_S,
    PROF_RTT_ADVANCES_CLOCK,
    PROF_RTT_S,
    PROF_THROUGHPUT_INCLUDES_LATENCY,
    PROF_WAIT_QUANTUM_S,
    PRED_ORACLE,
    STATUS_COMPLETE,
    STATUS_NO_BANDWIDTH,
    STATUS_STALLED,
)


@njit
def advance_clock(period_end_s, wrap_s, ptr, clock_s, wait_s):
    """Move the trace clock forward by ``wait_s`` seconds; returns the new (ptr, clock)."""
    m = period_end_s.size
    while True:
        dur = period_end_s[ptr] - clock_s
        if dur > wait_s:
            return ptr, clock_s + wait_s
        wait_s -= dur
        clock_s = period_end_s[ptr]
        ptr += 1
        if ptr >= m:
            ptr = 0
            clock_s = wrap_s


@njit
def transfer(period_end_s, period_bw_bps, wrap_s, ptr, clock_s, size_bytes, efficiency, max_s):
    """Deliver ``size_bytes`` starting at (ptr, clock).

    Returns (seconds taken, ptr, clock, finished). ``finished`` is False when more than
    ``max_s`` seconds passed without the last byte arriving.
    """
    m = period_end_s.size
    sent = 0.0
    elapsed = 0.0
    while True:
        rate = period_bw_bps[ptr] / 8.0  # bytes per second
        dur = period_end_s[ptr] - clock_s
        payload = rate * dur * efficiency
        if sent + payload > size_bytes:
            frac = (size_bytes - sent) / rate / efficiency
            if elapsed + frac > max_s:
                return elapsed + frac, ptr, clock_s + frac, False
            return elapsed + frac, ptr, clock_s + frac, True
        sent += payload
        elapsed += dur
        clock_s = period_end_s[ptr]
        ptr += 1
        if ptr >= m:
            ptr = 0
            clock_s = wrap_s
        if elapsed > max_s:
            return elapsed, ptr, clock_s, False


@njit
def request_time(period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof):
    """(latency_s, transfer_s, ptr, clock, finished) of requesting ``size_bytes`` at (ptr, clock).

    ``run_session`` performs the same steps written out in its loop: calling this function
    there (with the profile array) doubled the per-chunk cost. The oracle's zero error in
    ``evaluate_predictors`` (tests/test_evaluate.py) holds only while the two agree.
    """
    rtt_s = prof[PROF_RTT_S]
    lat_s = rtt_s if rtt_s >= 0.0 else period_lat_s[ptr]
    if prof[PROF_RTT_ADVANCES_CLOCK] != 0.0 and lat_s > 0.0:
        ptr, clock_s = advance_clock(period_end_s, wrap_s, ptr, clock_s, lat_s)
    xfer_s, ptr, clock_s, done = transfer(
        period_end_s, period_bw_bps, wrap_s, ptr, clock_s, size_bytes, prof[PROF_EFFICIENCY], prof[PROF_MAX_DOWNLOAD_S]
    )
    return lat_s, xfer_s, ptr, clock_s, done


@njit
def measured_time(lat_s, xfer_s, prof):
    """The time a player measures a download over (with or without the request latency)."""
    return xfer_s + lat_s if prof[PROF_THROUGHPUT_INCLUDES_LATENCY] != 0.0 else xfer_s


@njit
def oracle_throughput(period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof):
    """The throughput a request of ``size_bytes`` issued now would measure (NaN if it stalls)."""
    lat_s, xfer_s, _, _, done = request_time(period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof)
    if not done:
        return np.nan
    return size_bytes * 8.0 / measured_time(lat_s, xfer_s, prof)


@njit
def run_session(
    period_end_s, period_bw_bps, period_lat_s, start_s, wrap_s,
    sizes_bytes, bitrates_bps, chunk_s, n_chunks,
    prof, ctrl_id, cparams, pid, pparams, pstate, log,
    sh_ids, sh_params, sh_offsets, sh_state, sh_pred,
):
    """Simulate one session; fills ``log[:n_done]`` and returns (n_done, status, startup_s).

    ``sizes_bytes`` is the video's size table, shape (>= n_chunks, rungs): the session plays
    chunks ``0 .. n_chunks-1``; planning controllers may look at later rows. ``log`` has shape
    (>= n_chunks, LOG_COLS); see ``layout`` for the columns. The controller ``ctrl_id`` gets the
    estimate of predictor ``pid`` (state ``pstate``, zeroed by the caller, or carried over from
    an earlier session; ``PRED_NONE`` for controllers that use no predictor): ids below
    ``CTRL_FIRST_PLANNER`` through ``controllers.decide``, the others through
    ``controllers.plan``, which also gets the size table and the previous request's latency. The
    ``sh_*`` arrays describe shadow predictors that only watch: before each download, shadow
    ``i`` writes its estimate to ``sh_pred[i, k]``, then learns from the download like the
    controller's predictor (``sh_state[sh_offsets[i]:sh_offsets[i+1]]`` is its state).
    """
    has_bw = False
    for j in range(period_bw_bps.size):
        if period_bw_bps[j] > 0.0:
            has_bw = True
            break
    if not has_bw:
        return 0, STATUS_NO_BANDWIDTH, 0.0

    rtt_s = prof[PROF_RTT_S]
    rtt_moves = prof[PROF_RTT_ADVANCES_CLOCK] != 0.0
    eff = prof[PROF_EFFICIENCY]
    max_dl_s = prof[PROF_MAX_DOWNLOAD_S]
    thr_with_lat = prof[PROF_THROUGHPUT_INCLUDES_LATENCY] != 0.0
    cap_s = prof[PROF_BUFFER_CAP_S]
    quantum_s = prof[PROF_WAIT_QUANTUM_S]
    first_rebuffers = prof[PROF_FIRST_CHUNK_REBUFFERS] != 0.0
    initial_rung = int(prof[PROF_INITIAL_RUNG])
    n_rungs = bitrates_bps.size
    n_shadow = sh_ids.size

    ptr = 0
    clock_s = start_s
    session_s = 0.0
    buffer_s = 0.0
    startup_s = 0.0
    prev = -1
    planner = ctrl_id >= CTRL_FIRST_PLANNER
    for k in range(n_chunks):
        if k == 0 and initial_rung >= 0:
            rung = min(initial_rung, n_rungs - 1)
        else:
            est_bps = np.nan
            if pid == PRED_ORACLE:
                # What the next chunk, at the current rung, would measure if requested now.
                est_bps = oracle_throughput(
                    period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, sizes_bytes[k, max(prev, 0)], prof
                )
            elif pid >= 0:
                est_bps = pred_predict(pid, pparams, pstate, session_s, np.nan)
            if planner:
                rung = plan(
                    ctrl_id, cparams, k, n_chunks, buffer_s, prev, bitrates_bps, sizes_bytes, chunk_s, est_bps,
                    log[k - 1, LOG_LATENCY_S] if k > 0 else 0.0, prof,
                )
            else:
                rung = decide(ctrl_id, cparams, k, buffer_s, prev, bitrates_bps, est_bps)
        size = sizes_bytes[k, rung]

        for i in range(n_shadow):
            sid = sh_ids[i]
            oracle_bps = np.nan
            if sid == PRED_ORACLE:
                oracle_bps = oracle_throughput(
                    period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size, prof
                )
            sh_pred[i, k] = pred_predict(sid, sh_params[i], sh_state[sh_offsets[i] : sh_offsets[i + 1]], session_s, oracle_bps)

        lat_s = rtt_s if rtt_s >= 0.0 else period_lat_s[ptr]
        if rtt_moves and lat_s > 0.0:
            ptr, clock_s = advance_clock(period_end_s, wrap_s, ptr, clock_s, lat_s)
        xfer_s, ptr, clock_s, done = transfer(
            period_end_s, period_bw_bps, wrap_s, ptr, clock_s, size, eff, max_dl_s
        )
        if not done:
            return k, STATUS_STALLED, startup_s
        delay_s = xfer_s + lat_s

        if k == 0 and not first_rebuffers:
            startup_s = delay_s
            rebuf_s = 0.0
            buffer_s = chunk_s
        else:
            rebuf_s = max(delay_s - buffer_s, 0.0)
            buffer_s = max(buffer_s - delay_s, 0.0) + chunk_s

        wait_s = 0.0
        if buffer_s > cap_s:
            drain_s = buffer_s - cap_s
            if quantum_s > 0.0:
                wait_s = np.ceil(drain_s / quantum_s) * quantum_s
            else:
                wait_s = drain_s
            buffer_s -= wait_s
            ptr, clock_s = advance_clock(period_end_s, wrap_s, ptr, clock_s, wait_s)

        meas_s = delay_s if thr_with_lat else xfer_s
        log[k, LOG_RUNG] = rung
        log[k, LOG_SIZE_BYTES] = size
        log[k, LOG_LATENCY_S] = lat_s
        log[k, LOG_DELAY_S] = delay_s
        log[k, LOG_BUFFER_S] = buffer_s
        log[k, LOG_REBUFFER_S] = rebuf_s
        log[k, LOG_WAIT_S] = wait_s
        log[k, LOG_THROUGHPUT_BPS] = size * 8.0 / meas_s
        log[k, LOG_REQUEST_S] = session_s
        done_s = session_s + delay_s
        if pid >= 0:
            pred_update(pid, pparams, pstate, size, meas_s, lat_s, done_s)
        for i in range(n_shadow):
            pred_update(sh_ids[i], sh_params[i], sh_state[sh_offsets[i] : sh_offsets[i + 1]], size, meas_s, lat_s, done_s)
        session_s = done_s + wait_s
        prev = rung
    return n_chunks, STATUS_COMPLETE, startup_s


@njit
def run_batch(
    job_lo, job_hi,
    job_trace, job_video, job_ctrl,
    tr_offsets, tr_end_s, tr_bw_bps, tr_lat_s, tr_start_s, tr_wrap_s,
    vid_offsets, vid_sizes_flat, vid_rungs, vid_n_chunks, vid_chunk_s, lad_offsets, lad_bps,
    prof, ctrl_ids, ctrl_params, pred_ids, pred_params, pred_state_sizes, pred_carry,
    sh_ids, sh_params, sh_offsets,
    log, out_n_done, out_status, out_startup_s, out_sh_pred,
):
    """Run jobs ``job_lo .. job_hi-1``; job ``j`` writes only ``log[j]`` and ``out_*[j]``.

    Traces, videos and ladders are concatenated with offsets so that one call can cover any
    mix of them; threads may run disjoint job ranges at the same time (the kernel drops the GIL).
    Video ``v``'s size table is ``vid_sizes_flat[vid_offsets[v]:vid_offsets[v+1]]`` (all its
    chunks, rung-minor); its sessions play the first ``vid_n_chunks[v]``.

    Each session starts with fresh (zeroed) predictor states, except under PROF_CARRY_ROBUST:
    then a RobustDiscount predictor's own part of the state (flag, last base estimate, error
    ring: the first ``int(pred_params[c, 2])`` values) starts from ``pred_carry[c]`` and is
    written back there after the session, while its base predictor starts fresh (Pensieve keeps
    its error history across sessions, not its throughput window). ``pred_carry`` has shape
    (controllers, >= max state size) and must start zeroed; the caller then runs the jobs
    serially, in job order.
    """
    carry = prof[PROF_CARRY_ROBUST] != 0.0
    for j in range(job_lo, job_hi):
        t = job_trace[j]
        v = job_video[j]
        c = job_ctrl[j]
        t0, t1 = tr_offsets[t], tr_offsets[t + 1]
        n_r = vid_rungs[v]
        n_c = vid_n_chunks[v]
        v0 = vid_offsets[v]
        sizes = vid_sizes_flat[v0 : vid_offsets[v + 1]].reshape(((vid_offsets[v + 1] - v0) // n_r, n_r))
        ladder = lad_bps[lad_offsets[v] : lad_offsets[v + 1]]
        pstate = np.zeros(pred_state_sizes[c])
        kept = int(pred_params[c, 2]) if carry and pred_ids[c] == PRED_ROBUST else 0
        for i in range(kept):
            pstate[i] = pred_carry[c, i]
        sh_state = np.zeros(sh_offsets[-1])
        out_sh_pred[j, :, :] = np.nan
        n_done, status, startup_s = run_session(
            tr_end_s[t0:t1], tr_bw_bps[t0:t1], tr_lat_s[t0:t1], tr_start_s[t], tr_wrap_s[t],
            sizes, ladder, vid_chunk_s[v], n_c,
            prof, ctrl_ids[c], ctrl_params[c], pred_ids[c], pred_params[c], pstate, log[j],
            sh_ids, sh_params, sh_offsets, sh_state, out_sh_pred[j],
        )
        for i in range(kept):
            pred_carry[c, i] = pstate[i]
        log[j, n_done:, :] = np.nan  # rows of chunks never played
        out_n_done[j] = n_done
        out_status[j] = status
        out_startup_s[j] = startup_s
