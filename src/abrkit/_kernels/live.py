"""The live player model: a live edge, chunked transfer paced by the encoder, latency, playback rate.

One session (``play_live``) and the batch driver (``run_live_batch``). The network steps are the
chunk model's (``network.advance_clock`` and ``network.transfer`` over the looping trace clock),
the controllers are asked through the one contract (``contract.start/choose/report`` and the live
hook ``contract.live_rate``), the predictors through ``estimators``; the controller and predictor
compile groups are literals, so a run compiles only what it uses.

The model, in wall-clock seconds (``live_layout`` explains the clock):

* Segment ``k`` (duration ``D``) holds media ``[kD, (k+1)D)`` in ``n`` CMAF chunks of ``D / n``;
  chunk ``j`` exists once captured and packaged, at ``a_j = kD + (j+1) D/n + delay``. With ``n =
  1`` (no chunked transfer) the segment exists at ``(k+1)D + delay``.
* A request waits until the segment is announced: ``kD + delay`` with chunked transfer (the
  server holds the request open, as low-latency DASH's availabilityTimeOffset allows), ``a_0``
  without. After the request latency, chunk ``j`` flows from ``max(now, a_j)``: the download of
  the newest segment is paced by the encoder, the link idle in between.
* Throughput is measured without those idle gaps and without the request latency: the bytes
  over the time they were flowing, chunk by chunk (LoL+'s chunk-based measurement; dash.js's
  fetch loader sums the per-chunk durations, ``ThroughputModel._calculateThroughputValuesForFetch``).
  The sample feeds the controller's predictor and ``report``.
* Each chunk is playable on arrival. The playhead advances at the playback rate while media is
  buffered; when it reaches the buffered end the player stalls until ``resume_s`` is buffered.
  Playback starts at ``join - target`` (dash.js starts at the live edge minus the target
  latency) once the segment holding it has arrived and a chunk's worth of media (a segment's
  without chunked transfer) lies ahead of it.
* Latency is ``now - playhead`` (capture to display). Before each request and after each download
  the rate is set: the controller's ``live_rate`` if it has one, else the profile's catch-up rule,
  within the bounds, never above 1.0 below the minimum latency, applied only if it moves by at
  least ``min_rate_change`` (or is 1.0). If ``latency - target`` exceeds ``max_drift_s`` the player
  seeks: the buffer is dropped and the next request is the segment holding ``now - target``;
  the wait for it is a stall.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

from .._jit import njit, njit_inline
from .contract import choose, live_rate, report, start
from .estimators import estimate, latency_for, learn
from .groups import SessionControl, SessionTrace, SessionVideo
from .layout import (
    CTRL_STATE,
    LOG_BUFFER_S,
    LOG_CTRL_WAIT_S,
    LOG_DELAY_S,
    LOG_LATENCY_S,
    LOG_REBUFFER_S,
    LOG_REQUEST_S,
    LOG_RUNG,
    LOG_SIZE_BYTES,
    LOG_THROUGHPUT_BPS,
    LOG_WAIT_S,
    PROF_EFFICIENCY,
    PROF_MAX_DOWNLOAD_S,
    PROF_RTT_S,
    STATUS_COMPLETE,
    STATUS_NO_BANDWIDTH,
    STATUS_STALLED,
)
from .live_layout import (
    CATCHUP_DASHJS,
    CATCHUP_LOLP,
    LM_BUFFER_INT,
    LM_EARLY_S,
    LM_EDGE_GAP_S,
    LM_ELAPSED_S,
    LM_FIRST_PLAY_S,
    LM_LATENCY_INT,
    LM_MAX_LATENCY_S,
    LM_MIN_LATENCY_S,
    LM_PLAY_S,
    LM_PLAYHEAD_S,
    LM_RATE_INT,
    LM_SEEKS,
    LM_SIZE,
    LM_STALL_S,
    LM_STALLS,
    LM_STARTUP_S,
    LP_AVAIL_DELAY_S,
    LP_BUFFER_MIN_S,
    LP_CATCHUP,
    LP_CHUNKS,
    LP_JOIN_S,
    LP_MAX_DRIFT_S,
    LP_MIN_DRIFT_S,
    LP_MIN_LATENCY_S,
    LP_MIN_RATE_CHANGE,
    LP_NOW_LATENCY_S,
    LP_NOW_RATE,
    LP_NOW_STALLED,
    LP_RATE_MAX,
    LP_RATE_MIN,
    LP_RESUME_S,
    LP_TARGET_S,
    LV_CUM_BUFFER_INT,
    LV_CUM_LATENCY_INT,
    LV_CUM_PLAY_S,
    LV_CUM_RATE_INT,
    LV_CUM_STALL_S,
    LV_CUM_STALLS,
    LV_DONE_S,
    LV_IDLE_S,
    LV_PLAYHEAD_S,
    LV_LIVE_LATENCY_S,
    LV_RATE,
    LV_SEEK,
    LV_SEGMENT,
)
from .live_rules import catchup_dashjs, catchup_lolp
from .network import advance_clock, transfer


class LiveOutputs(NamedTuple):
    """What ``run_live_batch`` writes for session ``j``: ``log[j]`` (shape (>= segments,
    live_layout.LV_COLS)), ``n_seg[j]`` (segments requested, int64), ``status[j]``
    (layout.STATUS_*, int64), ``metrics[j]`` (live_layout.LM_*)."""

    log: np.ndarray
    n_seg: np.ndarray
    status: np.ndarray
    metrics: np.ndarray


@njit_inline
def _advance(dt, now_s, play_s, buf_end_s, rate, stalled, m):
    """Let ``dt`` wall seconds pass with playback running (the first frame has been shown):
    play at ``rate`` while media is buffered, then stall. Accumulates the integrals and extremes
    in ``m``; returns (now_s, play_s, stalled, a stall began)."""
    began = False
    if dt <= 0.0:
        return now_s, play_s, stalled, began
    tp = 0.0
    if not stalled:
        avail = buf_end_s - play_s
        lat0 = now_s - play_s
        if avail >= dt * rate:
            tp = dt
            play_s = play_s + dt * rate
        else:
            tp = avail / rate
            play_s = buf_end_s
            stalled = True
            began = True
            m[LM_STALLS] += 1.0
        m[LM_LATENCY_INT] += lat0 * tp + (1.0 - rate) * tp * tp * 0.5
        m[LM_BUFFER_INT] += avail * tp - rate * tp * tp * 0.5
        m[LM_RATE_INT] += rate * tp
        m[LM_PLAY_S] += tp
        lat1 = lat0 + (1.0 - rate) * tp
        m[LM_MIN_LATENCY_S] = min(m[LM_MIN_LATENCY_S], lat0, lat1)
    ts = dt - tp
    if ts > 0.0:
        lat1 = now_s + tp - play_s
        m[LM_LATENCY_INT] += lat1 * ts + ts * ts * 0.5
        m[LM_STALL_S] += ts
    m[LM_MAX_LATENCY_S] = max(m[LM_MAX_LATENCY_S], now_s + dt - play_s)
    return now_s + dt, play_s, stalled, began


@njit_inline
def _log_totals(row, m, play_s):
    """The running totals into a log row (``LV_CUM_*``)."""
    row[LV_CUM_LATENCY_INT] = m[LM_LATENCY_INT]
    row[LV_CUM_BUFFER_INT] = m[LM_BUFFER_INT]
    row[LV_CUM_RATE_INT] = m[LM_RATE_INT]
    row[LV_CUM_PLAY_S] = m[LM_PLAY_S]
    row[LV_CUM_STALL_S] = m[LM_STALL_S]
    row[LV_CUM_STALLS] = m[LM_STALLS]
    row[LV_PLAYHEAD_S] = play_s


@njit_inline
def _new_rate(kind, cparams, cstate, lp, buffer_s, latency_s, rate, recovering):
    """The playback rate after a rate decision (see the module docstring)."""
    target_s = lp[LP_TARGET_S]
    r = live_rate(kind, cparams, cstate, buffer_s, latency_s, target_s, lp)
    if np.isnan(r):
        mode = lp[LP_CATCHUP]
        if mode == CATCHUP_DASHJS:
            r = catchup_dashjs(latency_s, target_s, buffer_s, recovering, lp[LP_MIN_DRIFT_S], lp[LP_RATE_MIN],
                               lp[LP_RATE_MAX])
        elif mode == CATCHUP_LOLP:
            r = catchup_lolp(latency_s, target_s, buffer_s, lp[LP_BUFFER_MIN_S], lp[LP_RATE_MIN], lp[LP_RATE_MAX])
        else:
            r = 1.0
    r = min(max(r, lp[LP_RATE_MIN]), lp[LP_RATE_MAX])
    if latency_s < lp[LP_MIN_LATENCY_S] and r > 1.0:
        r = 1.0
    if abs(r - rate) >= lp[LP_MIN_RATE_CHANGE] or r == 1.0:
        return r
    return rate


@njit_inline
def play_live(trace, video, lp, kind, control, pgroup, duration_s, log, m):
    """Simulate one live session; fills ``log[:n]`` (``live_layout.LV_*`` columns) and ``m``
    (``LM_*``) and returns (n segments requested, status).

    ``trace`` is a ``groups.SessionTrace``, ``video`` a ``groups.SessionVideo`` whose size table
    the stream cycles through (segment ``k`` has the sizes of row ``k mod rows``); ``lp`` the
    live profile vector (``live_layout.LP_*``, written: the loop refreshes its ``LP_NOW_*``
    entries), ``kind`` and ``pgroup`` the controller id and predictor group (literals),
    ``control`` a ``groups.SessionControl``. The session runs from wall time ``LP_JOIN_S`` for
    ``duration_s`` seconds (the segment in progress then completes). Its first request is the
    segment holding media ``join - target``; playback starts there once that segment arrived.
    """
    period_end_s, period_bw_bps, period_lat_s, start_s, wrap_s = trace
    sizes_bytes, bitrates_bps, seg_s, n_rows, durations_s = video
    cparams, pid, pparams, pstate, cdata = control
    for i in range(LM_SIZE):
        m[i] = 0.0
    m[LM_MIN_LATENCY_S] = np.inf
    m[LM_EDGE_GAP_S] = -np.inf
    m[LM_EARLY_S] = np.inf
    m[LM_MAX_LATENCY_S] = -np.inf
    has_bw = False
    for j in range(period_bw_bps.size):
        if period_bw_bps[j] > 0.0:
            has_bw = True
            break
    if not has_bw:
        return np.int64(0), STATUS_NO_BANDWIDTH

    n_chunks = max(int(lp[LP_CHUNKS]), 1)
    chunk_dur_s = seg_s / n_chunks
    delay_s = lp[LP_AVAIL_DELAY_S]
    target_s = lp[LP_TARGET_S]
    max_drift_s = lp[LP_MAX_DRIFT_S]
    resume_s = lp[LP_RESUME_S]
    rtt_fixed_s = lp[PROF_RTT_S]
    efficiency = lp[PROF_EFFICIENCY]
    max_dl_s = lp[PROF_MAX_DOWNLOAD_S]
    join_s = lp[LP_JOIN_S]
    end_s = join_s + duration_s
    n_rungs = bitrates_bps.size

    cstate = np.zeros(CTRL_STATE + 3 * n_rungs)
    start(kind, cparams, cstate, cdata, bitrates_bps, seg_s)

    now_s = join_s
    ptr = np.int64(0)
    clock_s = float(start_s)
    k = np.int64(max(0.0, math.floor((join_s - target_s) / seg_s)))
    play_s = k * seg_s
    buf_end_s = play_s
    started = False
    stalled = False
    recovering = False
    rate = 1.0
    prev = np.int64(-1)
    last_lat_s = 0.0
    status = STATUS_COMPLETE
    lp[LP_NOW_LATENCY_S] = np.nan
    lp[LP_NOW_RATE] = 1.0
    lp[LP_NOW_STALLED] = 0.0
    i = 0
    cap = log.shape[0]
    while now_s < end_s and i < cap:
        stall0_s = m[LM_STALL_S]
        seeked = 0.0
        if started:
            latency_s = now_s - play_s
            if max_drift_s > 0.0 and latency_s - target_s > max_drift_s:
                k_new = np.int64(math.floor((now_s - target_s) / seg_s))
                if k_new > k:
                    k = k_new
                play_s = k * seg_s
                buf_end_s = play_s
                if not stalled:
                    m[LM_STALLS] += 1.0
                stalled = True
                recovering = True
                seeked = 1.0
                m[LM_SEEKS] += 1.0
                latency_s = now_s - play_s
            buffer_s = buf_end_s - play_s
            if recovering and buffer_s > target_s * 0.5:
                recovering = False
            rate = _new_rate(kind, cparams, cstate, lp, buffer_s, latency_s, rate, recovering)
            lp[LP_NOW_LATENCY_S] = latency_s
        lp[LP_NOW_RATE] = rate
        lp[LP_NOW_STALLED] = 1.0 if recovering else 0.0
        buffer_s = buf_end_s - play_s
        row = k % n_rows

        est_bps = np.nan
        est_lat_s = np.nan
        if pid >= 0:
            est_bps = estimate(pgroup, pid, pparams, pstate, now_s, period_end_s, period_bw_bps, period_lat_s, wrap_s,
                               ptr, clock_s, sizes_bytes[row, max(prev, 0)], lp)
            est_lat_s = latency_for(pgroup, pid, pparams, pstate)
        choice, ctrl_wait_s = choose(kind, cparams, cstate, cdata, row, n_rows, buffer_s, prev, bitrates_bps, sizes_bytes,
                                     durations_s, est_bps, est_lat_s, last_lat_s, lp)
        rung = np.int64(min(max(choice, 0), n_rungs - 1))
        size = sizes_bytes[row, rung]

        # wait: the controller's delay, then until the segment is announced
        avail_req_s = k * seg_s + delay_s + (seg_s if n_chunks == 1 else 0.0)
        req_s = max(now_s + max(ctrl_wait_s, 0.0), avail_req_s)
        wait_s = req_s - now_s
        if wait_s > 0.0:
            ptr, clock_s = advance_clock(period_end_s, wrap_s, ptr, clock_s, wait_s)
            if started:
                now_s, play_s, stalled, began = _advance(wait_s, now_s, play_s, buf_end_s, rate, stalled, m)
                recovering = recovering or began
            else:
                now_s = req_s
        lat_s = rtt_fixed_s if rtt_fixed_s >= 0.0 else period_lat_s[ptr]
        if lat_s > 0.0:
            ptr, clock_s = advance_clock(period_end_s, wrap_s, ptr, clock_s, lat_s)
            if started:
                now_s, play_s, stalled, began = _advance(lat_s, now_s, play_s, buf_end_s, rate, stalled, m)
                recovering = recovering or began
            else:
                now_s += lat_s

        chunk_bytes = size / n_chunks
        active_s = 0.0
        idle_s = 0.0
        done = True
        first_chunk = 0
        # Fast path: the whole download inside one trace period (a constant link) without a stall.
        # Then chunk j starts at max(S0 + j tau, a_j) (S0: when chunk 0 can start, tau: one chunk's
        # transfer) and the per-chunk loop below reduces to sums over two arithmetic runs.
        # (p(f_j) - j D/n is convex in j, so no stall at the first and last arrival means none.)
        bps = period_bw_bps[ptr]
        if started and not stalled and bps > 0.0:
            tau = chunk_bytes / (bps / 8.0 * efficiency)
            a0_s = k * seg_s + chunk_dur_s + delay_s
            s0_s = max(now_s, a0_s)
            nm1 = n_chunks - 1
            f_last = max(s0_s + nm1 * tau, a0_s + nm1 * chunk_dur_s) + tau
            span_s = f_last - now_s
            f0 = s0_s + tau
            if (span_s < period_end_s[ptr] - clock_s and tau <= max_dl_s
                    and play_s + rate * (f0 - now_s) <= buf_end_s
                    and play_s + rate * span_s <= buf_end_s + nm1 * chunk_dur_s):
                if tau >= chunk_dur_s:
                    nb = n_chunks
                else:
                    nb = min(n_chunks, int(math.floor((s0_s - a0_s) / (chunk_dur_s - tau))) + 1)
                sum_start = (nb * s0_s + tau * (nb * (nb - 1) * 0.5) + (n_chunks - nb) * a0_s
                             + chunk_dur_s * ((n_chunks * (n_chunks - 1) - nb * (nb - 1)) * 0.5))
                sum_f = sum_start + n_chunks * tau
                lat0 = now_s - play_s
                m[LM_LATENCY_INT] += lat0 * span_s + (1.0 - rate) * span_s * span_s * 0.5
                m[LM_BUFFER_INT] += (buf_end_s * span_s + chunk_dur_s * (n_chunks * f_last - sum_f)
                                     - play_s * span_s - rate * span_s * span_s * 0.5)
                m[LM_RATE_INT] += rate * span_s
                m[LM_PLAY_S] += span_s
                lat1 = lat0 + (1.0 - rate) * span_s
                m[LM_MIN_LATENCY_S] = min(m[LM_MIN_LATENCY_S], lat0, lat1)
                m[LM_MAX_LATENCY_S] = max(m[LM_MAX_LATENCY_S], lat1)
                g_last = s0_s + nm1 * tau - (a0_s + nm1 * chunk_dur_s)
                m[LM_EARLY_S] = min(m[LM_EARLY_S], max(min(s0_s - a0_s, g_last), 0.0))
                p0 = play_s + rate * (f0 - now_s)
                e0 = math.floor((f0 - delay_s) / chunk_dur_s) * chunk_dur_s
                p1 = play_s + rate * span_s
                e1 = math.floor((f_last - delay_s) / chunk_dur_s) * chunk_dur_s
                m[LM_EDGE_GAP_S] = max(m[LM_EDGE_GAP_S], p0 - e0, p1 - e1)
                active_s = n_chunks * tau
                idle_s = span_s - active_s
                clock_s += span_s
                now_s = f_last
                play_s = p1
                buf_end_s += n_chunks * chunk_dur_s
                first_chunk = n_chunks
        for j in range(first_chunk, n_chunks):
            a_s = k * seg_s + (j + 1) * chunk_dur_s + delay_s
            if a_s > now_s:  # the encoder has not produced this chunk yet: the link idles
                gap_s = a_s - now_s
                idle_s += gap_s
                ptr, clock_s = advance_clock(period_end_s, wrap_s, ptr, clock_s, gap_s)
                if started:
                    now_s, play_s, stalled, began = _advance(gap_s, now_s, play_s, buf_end_s, rate, stalled, m)
                    recovering = recovering or began
                else:
                    now_s = a_s
            m[LM_EARLY_S] = min(m[LM_EARLY_S], now_s - a_s)
            xfer_s, ptr, clock_s, done = transfer(period_end_s, period_bw_bps, wrap_s, ptr, clock_s, chunk_bytes,
                                                  efficiency, max_dl_s)
            active_s += xfer_s
            if started:
                now_s, play_s, stalled, began = _advance(xfer_s, now_s, play_s, buf_end_s, rate, stalled, m)
                recovering = recovering or began
            else:
                now_s += xfer_s
            if not done:
                break
            buf_end_s += chunk_dur_s
            if stalled and buf_end_s - play_s >= resume_s:
                stalled = False
            if started:
                edge_s = math.floor((now_s - delay_s) / chunk_dur_s) * chunk_dur_s
                m[LM_EDGE_GAP_S] = max(m[LM_EDGE_GAP_S], play_s - edge_s)
        if not started and done and buf_end_s - max(play_s, join_s - target_s) >= chunk_dur_s * (1.0 - 1e-12):
            # dash.js starts at live edge - target latency (inside the first segment), here
            # once a chunk's worth of media (a segment without chunked transfer) lies ahead
            started = True
            play_s = max(play_s, join_s - target_s)
            m[LM_STARTUP_S] = now_s - join_s
            m[LM_FIRST_PLAY_S] = play_s
            m[LM_MIN_LATENCY_S] = now_s - play_s
            m[LM_MAX_LATENCY_S] = now_s - play_s

        log[i, LOG_RUNG] = rung
        log[i, LOG_SIZE_BYTES] = size
        log[i, LOG_LATENCY_S] = lat_s
        log[i, LOG_DELAY_S] = now_s - req_s
        log[i, LOG_WAIT_S] = wait_s
        log[i, LOG_REQUEST_S] = req_s - join_s
        log[i, LOG_CTRL_WAIT_S] = ctrl_wait_s
        log[i, LV_IDLE_S] = idle_s
        log[i, LV_SEGMENT] = k
        log[i, LV_SEEK] = seeked
        log[i, LV_DONE_S] = now_s - join_s
        if not done:
            log[i, LOG_THROUGHPUT_BPS] = np.nan
            log[i, LOG_BUFFER_S] = buf_end_s - play_s
            log[i, LOG_REBUFFER_S] = m[LM_STALL_S] - stall0_s
            log[i, LV_LIVE_LATENCY_S] = now_s - play_s
            log[i, LV_RATE] = rate
            _log_totals(log[i], m, play_s)
            status = STATUS_STALLED
            i += 1
            break
        buffer_s = buf_end_s - play_s
        report(kind, cparams, cstate, row, rung, size, active_s, buffer_s, bitrates_bps, seg_s)
        if pid >= 0:
            learn(pgroup, pid, pparams, pstate, size, active_s, lat_s, now_s)
        if started:
            latency_s = now_s - play_s
            if recovering and buffer_s > target_s * 0.5:
                recovering = False
            rate = _new_rate(kind, cparams, cstate, lp, buffer_s, latency_s, rate, recovering)
        log[i, LOG_THROUGHPUT_BPS] = size * 8.0 / active_s if active_s > 0.0 else np.inf
        log[i, LOG_BUFFER_S] = buffer_s
        log[i, LOG_REBUFFER_S] = m[LM_STALL_S] - stall0_s
        log[i, LV_LIVE_LATENCY_S] = now_s - play_s
        log[i, LV_RATE] = rate
        _log_totals(log[i], m, play_s)
        last_lat_s = lat_s
        prev = rung
        k += 1
        i += 1

    if started:
        m[LM_ELAPSED_S] = now_s - join_s - m[LM_STARTUP_S]
        m[LM_PLAYHEAD_S] = play_s
    return np.int64(i), status


@njit
def run_live_batch(job_lo, job_hi, jobs, traces, videos, lp, ctrls, durations_s, out, kind, pkind):
    """Run jobs ``job_lo .. job_hi-1`` under the live profile vector ``lp`` (copied per session:
    the loop writes its ``LP_NOW_*`` entries); job ``j`` writes only row ``j`` of ``out``'s
    arrays (a ``LiveOutputs``) and plays ``durations_s[j]`` seconds. The groups are those of
    ``session.run_batch`` (``groups.Jobs``, ``Traces``, ``Videos``, ``Controllers``); every job in
    the range uses controller id ``kind`` (or a rule of the CTRL_SIMPLE group) and predictor
    group ``pkind``, both compiled as literals."""
    numba.literally(kind)
    numba.literally(pkind)
    for j in range(job_lo, job_hi):
        t = jobs.trace[j]
        v = jobs.video[j]
        c = jobs.ctrl[j]
        t0, t1 = traces.offsets[t], traces.offsets[t + 1]
        n_r = videos.n_rungs[v]
        v0, v1 = videos.offsets[v], videos.offsets[v + 1]
        trace = SessionTrace(
            traces.end_s[t0:t1], traces.bw_bps[t0:t1], traces.lat_s[t0:t1], traces.start_s[t], traces.wrap_s[t]
        )
        sizes = videos.sizes_bytes[v0:v1].reshape(((v1 - v0) // n_r, n_r))
        video = SessionVideo(
            sizes, videos.ladder_bps[videos.ladder_offsets[v] : videos.ladder_offsets[v + 1]], videos.chunk_s[v],
            sizes.shape[0], videos.durations_s[videos.chunk_offsets[v] : videos.chunk_offsets[v + 1]],
        )
        control = SessionControl(
            ctrls.params[c], ctrls.pred_ids[c], ctrls.pred_params[c], np.zeros(ctrls.pred_state_sizes[c]),
            ctrls.data[ctrls.data_offsets[c] : ctrls.data_offsets[c + 1]],
        )
        n, status = play_live(trace, video, lp.copy(), kind, control, pkind, durations_s[j], out.log[j], out.metrics[j])
        out.log[j, n:, :] = np.nan
        out.n_seg[j] = n
        out.status[j] = status
