"""The chunk model's session loop (one whole chunk per step) and its batch driver.

The network steps are in ``network.py``, the controllers behind ``contract.py``, the
predictors behind ``estimators.py``; both are specialised on their (literal) ids, so a batch
compiles only the controllers and predictors it runs.
"""

from __future__ import annotations

import numpy as np

import numba

from .._jit import njit
from .contract import choose, full_wait, report, start
from .estimators import estimate, latency_for, learn
from .network import advance_clock, oracle_throughput, transfer
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
    LOG_CTRL_WAIT_S,
    CTRL_STATE,
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
def shadow_predict(sh_ids, sh_params, sh_offsets, sh_state, sh_pred, k, session_s, period_end_s, period_bw_bps,
                   period_lat_s, wrap_s, ptr, clock_s, size, prof):
    """Before chunk ``k``'s download: shadow ``i`` writes its estimate to ``sh_pred[i, k]``."""
    for i in range(sh_ids.size):
        sid = sh_ids[i]
        oracle_bps = np.nan
        if sid == PRED_ORACLE:
            oracle_bps = oracle_throughput(period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size, prof)
        sh_pred[i, k] = pred_predict(sid, sh_params[i], sh_state[sh_offsets[i] : sh_offsets[i + 1]], session_s, oracle_bps)


@njit
def shadow_update(sh_ids, sh_params, sh_offsets, sh_state, size, meas_s, lat_s, done_s):
    """After a download: every shadow learns from it like the controller's predictor."""
    for i in range(sh_ids.size):
        pred_update(sh_ids[i], sh_params[i], sh_state[sh_offsets[i] : sh_offsets[i + 1]], size, meas_s, lat_s, done_s)


@njit
def run_session(
    period_end_s, period_bw_bps, period_lat_s, start_s, wrap_s,
    sizes_bytes, bitrates_bps, chunk_s, n_chunks,
    prof, ctrl_id, cparams, pid, pparams, pstate, log,
    sh_ids, sh_params, sh_offsets, sh_state, sh_pred,
    pgroup,
):
    """Simulate one session; fills ``log[:n_done]`` and returns (n_done, status, startup_s).

    ``sizes_bytes`` is the video's size table, shape (>= n_chunks, rungs): the session plays
    chunks ``0 .. n_chunks-1``; planning controllers may look at later rows. ``log`` has shape
    (>= n_chunks, LOG_COLS); see ``layout`` for the columns. The controller ``ctrl_id`` (a
    compile-time literal: ``contract.choose`` compiles only its code) gets the estimate of
    predictor ``pid`` (state ``pstate``, zeroed by the caller, or carried over from an earlier
    session; ``PRED_NONE`` for controllers that use no predictor; ``pgroup``, a compile-time
    literal, is its compile group, ``estimators.predictor_group(pid, pparams)``) and may ask for a wait before
    the request (logged in ``LOG_CTRL_WAIT_S``; the buffer drains meanwhile). The ``sh_*``
    arrays (all None when there are none, which compiles them out) describe shadow predictors
    that only watch: before each download, shadow ``i`` writes its estimate to ``sh_pred[i, k]``,
    then learns from the download like the controller's predictor
    (``sh_state[sh_offsets[i]:sh_offsets[i+1]]`` is its state).
    """
    numba.literally(ctrl_id)
    numba.literally(pgroup)
    has_bw = False
    for j in range(period_bw_bps.size):
        if period_bw_bps[j] > 0.0:
            has_bw = True
            break
    if not has_bw:
        return np.int64(0), STATUS_NO_BANDWIDTH, 0.0

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
    cstate = np.zeros(CTRL_STATE + 3 * n_rungs)
    start(ctrl_id, cparams, cstate, bitrates_bps, chunk_s)

    # np.int64 / float: literal-typed locals would make every callee compile twice
    ptr = np.int64(0)
    clock_s = float(start_s)
    session_s = 0.0
    buffer_s = 0.0
    startup_s = 0.0
    prev = np.int64(-1)
    for k in range(n_chunks):
        ctrl_wait_s = 0.0
        if k == 0 and initial_rung >= 0:
            rung = np.int64(min(initial_rung, n_rungs - 1))
        else:
            est_bps = np.nan
            est_lat_s = np.nan
            if pid >= 0:  # no call without a predictor: a call that passes arrays costs refcounts
                # (the oracle: what the next chunk, at the current rung, would measure if requested now)
                est_bps = estimate(
                    pgroup, pid, pparams, pstate, session_s, period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr,
                    clock_s, sizes_bytes[k, max(prev, 0)], prof,
                )
                est_lat_s = latency_for(pgroup, pid, pparams, pstate)
            rung, ctrl_wait_s = choose(
                ctrl_id, cparams, cstate, k, n_chunks, buffer_s, prev, bitrates_bps, sizes_bytes, chunk_s, est_bps,
                est_lat_s, log[k - 1, LOG_LATENCY_S] if k > 0 else 0.0, prof,
            )
        size = sizes_bytes[k, rung]

        rebuf_s = 0.0
        if ctrl_wait_s > 0.0:  # the controller idles first; the buffer drains meanwhile
            if k == 0 and not first_rebuffers:
                startup_s += ctrl_wait_s
            else:
                rebuf_s = max(ctrl_wait_s - buffer_s, 0.0)
            buffer_s = max(buffer_s - ctrl_wait_s, 0.0)
            ptr, clock_s = advance_clock(period_end_s, wrap_s, ptr, clock_s, ctrl_wait_s)
            session_s += ctrl_wait_s

        if sh_ids is not None:
            shadow_predict(sh_ids, sh_params, sh_offsets, sh_state, sh_pred, k, session_s, period_end_s, period_bw_bps,
                           period_lat_s, wrap_s, ptr, clock_s, size, prof)

        lat_s = rtt_s if rtt_s >= 0.0 else period_lat_s[ptr]
        if rtt_moves and lat_s > 0.0:
            ptr, clock_s = advance_clock(period_end_s, wrap_s, ptr, clock_s, lat_s)
        xfer_s, ptr, clock_s, done = transfer(
            period_end_s, period_bw_bps, wrap_s, ptr, clock_s, size, eff, max_dl_s
        )
        if not done:
            return np.int64(k), STATUS_STALLED, startup_s
        delay_s = xfer_s + lat_s

        if k == 0 and not first_rebuffers:
            startup_s += delay_s
            buffer_s = chunk_s
        else:
            rebuf_s += max(delay_s - buffer_s, 0.0)
            buffer_s = max(buffer_s - delay_s, 0.0) + chunk_s
        report(ctrl_id, cparams, cstate, k, rung, size, delay_s, buffer_s, bitrates_bps, chunk_s)

        wait_s = 0.0
        if buffer_s > cap_s:
            drain_s = buffer_s - cap_s
            if quantum_s > 0.0:
                wait_s = np.ceil(drain_s / quantum_s) * quantum_s
            else:
                wait_s = drain_s
            buffer_s -= wait_s
            ptr, clock_s = advance_clock(period_end_s, wrap_s, ptr, clock_s, wait_s)
            full_wait(ctrl_id, cparams, cstate, wait_s)

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
        log[k, LOG_CTRL_WAIT_S] = ctrl_wait_s
        done_s = session_s + delay_s
        if pid >= 0:
            learn(pgroup, pid, pparams, pstate, size, meas_s, lat_s, done_s)
        if sh_ids is not None:
            shadow_update(sh_ids, sh_params, sh_offsets, sh_state, size, meas_s, lat_s, done_s)
        session_s = done_s + wait_s
        prev = rung
    return np.int64(n_chunks), STATUS_COMPLETE, startup_s


@njit
def run_batch(
    job_lo, job_hi,
    job_trace, job_video, job_ctrl,
    tr_offsets, tr_end_s, tr_bw_bps, tr_lat_s, tr_start_s, tr_wrap_s,
    vid_offsets, vid_sizes_flat, vid_rungs, vid_n_chunks, vid_chunk_s, lad_offsets, lad_bps,
    prof, ctrl_ids, ctrl_params, pred_ids, pred_params, pred_state_sizes, pred_carry,
    sh_ids, sh_params, sh_offsets,
    log, out_n_done, out_status, out_startup_s, out_sh_pred,
    kind, pkind,
):
    """Run jobs ``job_lo .. job_hi-1``; job ``j`` writes only ``log[j]`` and ``out_*[j]``.

    Every job in the range must use a controller whose id is ``kind`` (or, for ``kind ==
    CTRL_SIMPLE``, one of the rules that group holds) and a predictor whose compile group
    (``estimators.predictor_group``) is ``pkind``: the
    kernel is compiled for those ids alone (``numba.literally``), and the façade calls it once
    per pair present.
    Traces, videos and ladders are concatenated with offsets so that one call can cover any
    mix of them; threads may run disjoint job ranges at the same time (the kernel drops the GIL).
    Video ``v``'s size table is ``vid_sizes_flat[vid_offsets[v]:vid_offsets[v+1]]`` (all its
    chunks, rung-minor); its sessions play the first ``vid_n_chunks[v]``. ``sh_ids``,
    ``sh_params``, ``sh_offsets`` and ``out_sh_pred`` are all None when there are no shadows.

    Each session starts with fresh (zeroed) predictor states, except under PROF_CARRY_ROBUST:
    then a RobustDiscount predictor's own part of the state (flag, last base estimate, error
    ring: the first ``int(pred_params[c, 2])`` values) starts from ``pred_carry[c]`` and is
    written back there after the session, while its base predictor starts fresh (Pensieve keeps
    its error history across sessions, not its throughput window). ``pred_carry`` has shape
    (controllers, >= max state size) and must start zeroed; the caller then runs the jobs
    serially, in job order.
    """
    numba.literally(kind)
    numba.literally(pkind)
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
        if sh_ids is not None:
            sh_state = np.zeros(sh_offsets[-1])
            out_sh_pred[j, :, :] = np.nan
            n_done, status, startup_s = run_session(
                tr_end_s[t0:t1], tr_bw_bps[t0:t1], tr_lat_s[t0:t1], tr_start_s[t], tr_wrap_s[t],
                sizes, ladder, vid_chunk_s[v], n_c,
                prof, kind, ctrl_params[c], pred_ids[c], pred_params[c], pstate, log[j],
                sh_ids, sh_params, sh_offsets, sh_state, out_sh_pred[j], pkind,
            )
        else:
            n_done, status, startup_s = run_session(
                tr_end_s[t0:t1], tr_bw_bps[t0:t1], tr_lat_s[t0:t1], tr_start_s[t], tr_wrap_s[t],
                sizes, ladder, vid_chunk_s[v], n_c,
                prof, kind, ctrl_params[c], pred_ids[c], pred_params[c], pstate, log[j],
                None, None, None, None, None, pkind,
            )
        for i in range(kept):
            pred_carry[c, i] = pstate[i]
        log[j, n_done:, :] = np.nan  # rows of chunks never played
        out_n_done[j] = n_done
        out_status[j] = status
        out_startup_s[j] = startup_s
