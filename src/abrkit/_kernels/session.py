"""The chunk model: its loop (``play_chunks``) and the batch driver (``run_batch``), which plays
whole sessions with it.

The network steps are in ``network.py``, the controllers behind ``contract.py``, the
predictors behind ``estimators.py``; both are specialised on their (literal) ids, so a batch
compiles only the controllers and predictors it runs.
"""

from __future__ import annotations

import numpy as np

import numba

from .._jit import njit, njit_inline
from .contract import choose, full_wait, report, start
from .estimators import estimate, latency_for, learn
from .network import advance_clock, oracle_throughput, transfer
from .groups import ChunkParams, SessionShadows, SessionState
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
def shadow_predict(shadows, k, session_s, period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size, prof):
    """Before chunk ``k``'s download: shadow ``i`` writes its estimate to ``shadows.pred_bps[i, k]``."""
    ids, params, offsets, state, pred_bps = shadows
    for i in range(ids.size):
        sid = ids[i]
        oracle_bps = np.nan
        if sid == PRED_ORACLE:
            oracle_bps = oracle_throughput(period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size, prof)
        pred_bps[i, k] = pred_predict(sid, params[i], state[offsets[i] : offsets[i + 1]], session_s, oracle_bps)


@njit
def shadow_update(shadows, size, meas_s, lat_s, done_s):
    """After a download: every shadow learns from it like the controller's predictor."""
    ids, params, offsets, state, _ = shadows
    for i in range(ids.size):
        pred_update(ids[i], params[i], state[offsets[i] : offsets[i + 1]], size, meas_s, lat_s, done_s)


@njit_inline
def chunk_params(prof):
    """The ``groups.ChunkParams`` of the packed profile ``prof``."""
    return ChunkParams(
        prof[PROF_RTT_S], prof[PROF_RTT_ADVANCES_CLOCK] != 0.0, prof[PROF_EFFICIENCY], prof[PROF_MAX_DOWNLOAD_S],
        prof[PROF_THROUGHPUT_INCLUDES_LATENCY] != 0.0, prof[PROF_BUFFER_CAP_S], prof[PROF_WAIT_QUANTUM_S],
        prof[PROF_FIRST_CHUNK_REBUFFERS] != 0.0,
    )


@njit_inline
def play_chunks(st, k_end, noise, period_end_s, period_bw_bps, period_lat_s, wrap_s, sizes_bytes, bitrates_bps, durations_s,
                n_chunks, prof, kind, cparams, cstate, cdata, pgroup, pid, pparams, pstate, log, shadows):
    """The chunk model's loop: play chunks ``st.k .. k_end - 1`` of a session, from the session
    state ``st`` (a ``groups.SessionState``); returns (the state after them, status).

    For each chunk: the controller ``kind`` (a compile-time literal; parameters ``cparams``,
    state ``cstate``, data ``cdata``) chooses the rung (chunk 0 takes the profile's initial rung
    when it has one) with the estimate of predictor ``pid`` (compile group ``pgroup``, a literal;
    parameters ``pparams``, state ``pstate``; -1: none); then its wait (the buffer drains
    meanwhile), the shadows' estimates, the request's latency and transfer over the trace
    (``period_end_s``, ``period_bw_bps``, ``period_lat_s``, ``wrap_s``: a ``groups.SessionTrace``'s
    fields), the buffer and rebuffering, ``report``, the full-buffer wait, the log row
    ``log[k]`` (seconds, bytes, bits/s), and the predictor and the shadows (a
    ``groups.SessionShadows`` or None) learning from the download. ``sizes_bytes``,
    ``bitrates_bps``, ``durations_s`` and ``n_chunks`` are the video, ``prof`` the packed profile.

    Chunk ``k`` lasts ``durations_s[k]``: that is what the buffer gains when it arrives (the
    first chunk's sets the buffer when it does not rebuffer), what ``report`` is told, and the
    controller sees every chunk's duration (``contract.choose``). Equal chunks are
    ``chunk_s`` repeated, so they take this very path.

    ``run_batch`` runs a whole session in one call; the reinforcement-learning environments
    (``rlenv``) run one chunk per call, with the fixed-rung controller set to the agent's rung.
    Inlined into its callers at Numba's IR level (``kind`` and ``pgroup`` are literal there): the
    arrays are bound once per call, outside the loop, so the loop pays no reference counting.

    ``noise`` multiplies the delay the player sees (transfer time plus latency: what drains the
    buffer, counts as rebuffering and is measured as throughput); the trace clock runs for the
    un-noised transfer. 1.0 for the simulator; Pensieve's training environment draws it per chunk.

    When a download does not finish within the profile's max_download_s the loop stops and
    returns (the state at that moment, with ``k`` the stalled chunk, STATUS_STALLED); ``log[k]``
    then holds what the player saw until it gave up (delay and rebuffering so far, NaN
    throughput, the buffer drained), and neither the controller nor the predictors hear of it.
    """
    pc = chunk_params(prof)
    initial_rung = int(prof[PROF_INITIAL_RUNG])
    n_rungs = bitrates_bps.size
    ptr = st.ptr
    clock_s = st.clock_s
    session_s = st.session_s
    buffer_s = st.buffer_s
    startup_s = st.startup_s
    prev = st.prev
    for k in range(st.k, k_end):
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
            choice, ctrl_wait_s = choose(
                kind, cparams, cstate, cdata, k, n_chunks, buffer_s, prev, bitrates_bps, sizes_bytes, durations_s, est_bps,
                est_lat_s, log[k - 1, LOG_LATENCY_S] if k > 0 else 0.0, prof,
            )
            rung = np.int64(choice)
        size = sizes_bytes[k, rung]

        rebuf_s = 0.0
        if ctrl_wait_s > 0.0:  # the controller idles first; the buffer drains meanwhile
            if k == 0 and not pc.first_chunk_rebuffers:
                startup_s += ctrl_wait_s
            else:
                rebuf_s = max(ctrl_wait_s - buffer_s, 0.0)
            buffer_s = max(buffer_s - ctrl_wait_s, 0.0)
            ptr, clock_s = advance_clock(period_end_s, wrap_s, ptr, clock_s, ctrl_wait_s)
            session_s += ctrl_wait_s

        if shadows is not None:
            shadow_predict(shadows, k, session_s, period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size,
                           prof)

        lat_s = pc.rtt_s if pc.rtt_s >= 0.0 else period_lat_s[ptr]
        if pc.rtt_moves and lat_s > 0.0:
            ptr, clock_s = advance_clock(period_end_s, wrap_s, ptr, clock_s, lat_s)
        xfer_s, ptr, clock_s, done = transfer(
            period_end_s, period_bw_bps, wrap_s, ptr, clock_s, size, pc.efficiency, pc.max_download_s
        )
        delay_s = xfer_s + lat_s
        if noise != 1.0:  # (folded away in the simulator, where it is the constant 1.0)
            delay_s *= noise
        if not done:
            log[k, LOG_RUNG] = rung
            log[k, LOG_SIZE_BYTES] = size
            log[k, LOG_LATENCY_S] = lat_s
            log[k, LOG_DELAY_S] = delay_s
            log[k, LOG_BUFFER_S] = max(buffer_s - delay_s, 0.0)
            log[k, LOG_REBUFFER_S] = rebuf_s + max(delay_s - buffer_s, 0.0)
            log[k, LOG_WAIT_S] = 0.0
            log[k, LOG_THROUGHPUT_BPS] = np.nan
            log[k, LOG_REQUEST_S] = session_s
            log[k, LOG_CTRL_WAIT_S] = ctrl_wait_s
            return SessionState(np.int64(k), ptr, clock_s, session_s, buffer_s, startup_s, prev), STATUS_STALLED

        dur_s = durations_s[k]  # this chunk's own duration
        if k == 0 and not pc.first_chunk_rebuffers:
            startup_s += delay_s
            buffer_s = dur_s
        else:
            rebuf_s += max(delay_s - buffer_s, 0.0)
            buffer_s = max(buffer_s - delay_s, 0.0) + dur_s
        report(kind, cparams, cstate, k, rung, size, delay_s, buffer_s, bitrates_bps, dur_s)

        wait_s = 0.0
        if buffer_s > pc.buffer_cap_s:
            drain_s = buffer_s - pc.buffer_cap_s
            if pc.wait_quantum_s > 0.0:
                wait_s = np.ceil(drain_s / pc.wait_quantum_s) * pc.wait_quantum_s
            else:
                wait_s = drain_s
            buffer_s -= wait_s
            ptr, clock_s = advance_clock(period_end_s, wrap_s, ptr, clock_s, wait_s)
            full_wait(kind, cparams, cstate, wait_s)

        meas_s = delay_s if pc.throughput_includes_latency else xfer_s * noise
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
        if shadows is not None:
            shadow_update(shadows, size, meas_s, lat_s, done_s)
        session_s = done_s + wait_s
        prev = rung
    return SessionState(np.int64(k_end), ptr, clock_s, session_s, buffer_s, startup_s, prev), STATUS_COMPLETE


@njit_inline
def has_bandwidth(period_bw_bps):
    """Whether the trace ever delivers a bit (a session on a dead trace ends at once)."""
    for j in range(period_bw_bps.size):
        if period_bw_bps[j] > 0.0:
            return True
    return False


@njit
def run_batch(job_lo, job_hi, jobs, traces, videos, prof, ctrls, shadows, out, kind, pkind):
    """Run jobs ``job_lo .. job_hi-1`` of ``jobs``; job ``j`` writes only row ``j`` of ``out``'s
    arrays (and of ``shadows.pred_bps``).

    The groups are those of ``groups``: ``jobs`` a ``Jobs``, ``traces`` a ``Traces``, ``videos``
    a ``Videos``, ``ctrls`` a ``Controllers``, ``shadows`` a ``Shadows`` or None when there are
    none (which compiles them out), ``out`` an ``Outputs``; ``prof`` is the packed profile.
    Every job in the range must use a controller whose id is ``kind`` (or, for ``kind ==
    CTRL_SIMPLE``, one of the rules that group holds) and a predictor whose compile group
    (``estimators.predictor_group``) is ``pkind``: the kernel is compiled for those ids alone
    (``numba.literally``), and the façade calls it once per pair present.
    Traces, videos and ladders are concatenated with offsets so that one call can cover any
    mix of them; threads may run disjoint job ranges at the same time (the kernel drops the GIL).

    Each session starts with fresh (zeroed) predictor states, except under PROF_CARRY_ROBUST:
    then a RobustDiscount predictor's own part of the state (flag, last base estimate, error
    ring: the first ``int(ctrls.pred_params[c, 2])`` values) starts from ``ctrls.pred_carry[c]``
    and is written back there after the session, while its base predictor starts fresh
    (Pensieve keeps its error history across sessions, not its throughput window). The caller
    then runs the jobs serially, in job order; likewise when a controller's data carries state
    from session to session (Pensieve's sample policy: its draw stream).

    A session: a trace that never delivers a bit ends it at once (``STATUS_NO_BANDWIDTH``,
    nothing played); otherwise the controller's state is zeroed and ``contract.start``ed, and
    ``play_chunks`` plays the video's ``n_chunks`` chunks (its size table may hold more rows:
    planning controllers look at them) into ``out.log[j]`` (shape (>= chunks, LOG_COLS); see
    ``layout``); rows of chunks never played are NaN. Shadow predictors only watch: before each
    download shadow ``i`` writes its estimate to ``shadows.pred_bps[j, i, k]``, then learns from
    the download like the controller's predictor.

    The session is written out here, not in a function of its own inlined into this one: Numba
    inlines by copying the callee's IR, and a session function's IR (with ``play_chunks``
    already inside) cost about 0.45 s of every first run to copy (measured on the README job).
    """
    numba.literally(kind)
    numba.literally(pkind)
    carry = prof[PROF_CARRY_ROBUST] != 0.0
    pred_ids, pred_params, pred_carry = ctrls.pred_ids, ctrls.pred_params, ctrls.pred_carry
    log = out.log
    for j in range(job_lo, job_hi):
        t = jobs.trace[j]
        v = jobs.video[j]
        c = jobs.ctrl[j]
        t0, t1 = traces.offsets[t], traces.offsets[t + 1]
        end_s, bw_bps, lat_s = traces.end_s[t0:t1], traces.bw_bps[t0:t1], traces.lat_s[t0:t1]
        n_r = videos.n_rungs[v]
        v0, v1 = videos.offsets[v], videos.offsets[v + 1]
        sizes_bytes = videos.sizes_bytes[v0:v1].reshape(((v1 - v0) // n_r, n_r))
        ladder_bps = videos.ladder_bps[videos.ladder_offsets[v] : videos.ladder_offsets[v + 1]]
        durations_s = videos.durations_s[videos.chunk_offsets[v] : videos.chunk_offsets[v + 1]]
        n_chunks = videos.n_chunks[v]
        cparams, cdata = ctrls.params[c], ctrls.data[ctrls.data_offsets[c] : ctrls.data_offsets[c + 1]]
        pstate = np.zeros(ctrls.pred_state_sizes[c])
        kept = int(pred_params[c, 2]) if carry and pred_ids[c] == PRED_ROBUST else 0
        for i in range(kept):
            pstate[i] = pred_carry[c, i]
        if shadows is not None:
            sh_pred = shadows.pred_bps[j]
            sh_pred[:, :] = np.nan
        n_done, status, startup_s = np.int64(0), STATUS_NO_BANDWIDTH, 0.0
        if has_bandwidth(bw_bps):
            cstate = np.zeros(CTRL_STATE + 3 * n_r)
            start(kind, cparams, cstate, cdata, ladder_bps, videos.chunk_s[v])
            # np.int64 / float: literal-typed fields would make callees compile twice
            st = SessionState(np.int64(0), np.int64(0), float(traces.start_s[t]), 0.0, 0.0, 0.0, np.int64(-1))
            # two calls, one pruned: shadows is None or not at compile time
            if shadows is not None:
                session_shadows = SessionShadows(
                    shadows.ids, shadows.params, shadows.offsets, np.zeros(shadows.offsets[-1]), sh_pred
                )
                st, status = play_chunks(
                    st, np.int64(n_chunks), 1.0, end_s, bw_bps, lat_s, traces.wrap_s[t], sizes_bytes, ladder_bps,
                    durations_s, n_chunks, prof, kind, cparams, cstate, cdata, pkind, pred_ids[c], pred_params[c], pstate,
                    log[j], session_shadows,
                )
            else:
                st, status = play_chunks(
                    st, np.int64(n_chunks), 1.0, end_s, bw_bps, lat_s, traces.wrap_s[t], sizes_bytes, ladder_bps,
                    durations_s, n_chunks, prof, kind, cparams, cstate, cdata, pkind, pred_ids[c], pred_params[c], pstate,
                    log[j], None,
                )
            n_done, startup_s = st.k, st.startup_s
        for i in range(kept):
            pred_carry[c, i] = pstate[i]
        log[j, n_done:, :] = np.nan  # rows of chunks never played
        out.n_done[j] = n_done
        out.status[j] = status
        out.startup_s[j] = startup_s
