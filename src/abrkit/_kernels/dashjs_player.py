"""The dash.js 5 player model: the ``dashjs`` profile's session loop, compiled.

A model of what dash.js 5.2.1 does around its ABR rules, each step named with the dash.js source
it follows (``Dash-Industry-Forum/dash.js`` v5.2.1, ``src/streaming/...``; docs/real-players.md
has the long form):

* **startup**: after ``D_SETUP_MS`` the player requests the MPD, then the initialization segment
  of its first representation, then media segment 0 at the initial bitrate's rung
  (``AbrController.getInitialBitrateFor``: 1000 kbit/s with nothing measured; the controller is
  not asked, its rules have no throughput yet); playback starts ``D_START_MS`` after that segment
  is appended;
* **scheduling** (``ScheduleController._schedule`` / ``_shouldBuffer``): a request goes out while
  ``buffer + segment < target``, target = ``bufferTimeDefault`` (18 s), or
  ``bufferTimeAtTopQuality`` (30 s; 60 s for long-form content) while the current rung is the
  top one; otherwise the schedule timer checks again every ``defaultTimeout`` (500 ms);
* **decisions** (``ScheduleController._scheduleNextRequest`` -> ``AbrController.checkPlaybackQuality``):
  the controller is asked once per media request that follows a scheduled check; a rung change
  costs a request for the new representation's initialization segment and ``D_SWITCH_MS``;
* **fast switching** (``StreamProcessor._prepareForFastQualitySwitch``): on a switch up, when the
  segment buffered at ``playhead + margin`` was fetched at a lower rung, requests restart from
  that segment and go on in order, replacing what is buffered (whatever the later decisions
  pick); nothing is removed from the buffer meanwhile, so the buffer level does not drop;
* **abandonment** (``rules/abr/AbandonRequestsRule.js``): for any controller, at each progress
  event of a media download (every ``D_PROGRESS_MS`` after the first byte), once it has
  ``D_ABANDON_MIN_SAMPLES`` events, more than ``D_ABANDON_MIN_MS`` since the first byte, a buffer
  no larger than ``bufferTimeDefault`` and a current rung above the lowest: with the throughput
  measured since the first progress event, if the whole segment would take at least
  ``D_ABANDON_MULTIPLIER`` segment durations, the download is cut and the same segment is
  requested again at the highest rung at most that throughput, provided that rung's segment is
  smaller than the bytes still to come (once per segment). For ``D_ABANDON_HOLD_MS`` afterwards
  the rung may only go down (``AbrController.checkPlaybackQuality``, ``abandonLoadTimeout``);
* **appends over the playhead** (measured, Chromium's MSE): a replacement of the segment the
  playhead is in that lands with less than ``D_OVERLAP_MS`` buffered ahead of the playhead stalls
  playback for the difference;
* **throughput samples** (``models/ThroughputModel.js``, Resource Timing): bytes over the time
  from first to last byte, fed to the controller's predictor with the latency apart (the
  ``dashjs`` predictor is dash.js 5's EWMA).

Units are the event model's: time in ms, sizes in bits, rates in kbit/s (= bits per ms). The
loop writes the event model's request log (``event_layout.E_*``) and ``played`` array; the
segment's rung in ``played`` is that of its last completed download, as ``abrkit emulate``
records it (a replacement may complete after its segment played).
"""

from __future__ import annotations

import numba
import numpy as np

from .._jit import njit
from .contract import choose, full_wait, report, start
from .dashjs_layout import (
    D_ABANDON,
    D_ABANDON_HOLD_MS,
    D_ABANDON_MIN_MS,
    D_ABANDON_MIN_SAMPLES,
    D_ABANDON_MULTIPLIER,
    D_APPEND_MS,
    D_BUFFER_MS,
    D_FAST_SWITCH,
    D_FAST_SWITCH_MARGIN_MS,
    D_INIT_BITS,
    D_INIT_EVERY_SWITCH,
    D_INITIAL_KBPS,
    D_MANIFEST_BITS,
    D_MAX_DOWNLOAD_MS,
    D_OVERLAP_MS,
    D_PROGRESS_MS,
    D_SCHEDULE_MS,
    D_SETUP_MS,
    D_START_MS,
    D_SWITCH_MS,
    D_TOP_BUFFER_MS,
    TIMED_OUT,
)
from .dashjs_rules import rung_for  # one copy: the rules and the player pick rungs alike
from .estimators import latency_for, learn, predict_for
from .event_layout import (
    E_ABANDON_TO,
    E_BUFFER_MS,
    E_DOWNLOADED_BITS,
    E_QUALITY,
    E_REPLACE,
    E_REQUEST_MS,
    E_SEGMENT,
    E_SIZE_BITS,
    E_THROUGHPUT_KBPS,
    E_TIME_MS,
    E_TTFB_MS,
    E_WAIT_MS,
    EV_COMPLETE,
    EV_NO_BANDWIDTH,
    EV_STALLED,
)
from .layout import CTRL_STATE

# clock vector: trace period, ms left in it, session time (ms)
K_INDEX = 0
K_TO_NEXT = 1
K_NOW = 2
# playback vector
P_POS = 0  # media time played (ms)
P_PHASE = 1  # 0: not started, 1: first segment appended, start pending, 2: started
P_COUNT = 2  # ms left before playback starts (phase 1)
P_STARTUP = 3  # session time playback started (NaN before)
P_PAUSE = 4  # ms the playhead must still stand still (an append over the playing segment)
P_SIZE = 5

NOT_ABANDONED = -1


@njit
def next_period(tr, clk):
    i = int(clk[K_INDEX]) + 1
    if i >= tr.shape[0]:
        i = 0
    clk[K_INDEX] = i
    clk[K_TO_NEXT] = tr[i, 0]


@njit
def idle_network(tr, clk, dt):
    """Move the trace clock on by ``dt`` ms (nothing transferred)."""
    clk[K_NOW] += dt
    while dt > 0.0:
        if clk[K_TO_NEXT] > dt:
            clk[K_TO_NEXT] -= dt
            return
        dt -= clk[K_TO_NEXT]
        next_period(tr, clk)


@njit
def send(tr, clk, bits, max_ms):
    """Deliver up to ``bits`` within ``max_ms`` ms; returns (bits sent, ms taken)."""
    sent = 0.0
    elapsed = 0.0
    while sent < bits and elapsed < max_ms:
        bw = tr[int(clk[K_INDEX]), 1]
        room = min(clk[K_TO_NEXT], max_ms - elapsed)
        need = (bits - sent) / bw if bw > 0.0 else np.inf
        if need <= room:
            t = need
            sent = bits
        else:
            t = room
            sent += bw * t
        clk[K_TO_NEXT] -= t
        clk[K_NOW] += t
        elapsed += t
        if clk[K_TO_NEXT] <= 0.0:
            next_period(tr, clk)
    return sent, elapsed


@njit
def play(ps, stall, dt, now_before, avail_ms, total_ms, seg_ms):
    """Play ``dt`` ms of session time with ``avail_ms`` of media appended (from 0): the playhead
    moves, a playhead that reaches the end of what is appended stalls (charged to the segment it
    waits for)."""
    if ps[P_PHASE] == 1.0:
        c = min(dt, ps[P_COUNT])
        ps[P_COUNT] -= c
        dt -= c
        if ps[P_COUNT] <= 0.0:
            ps[P_PHASE] = 2.0
            ps[P_STARTUP] = now_before + c
    if ps[P_PHASE] != 2.0 or dt <= 0.0 or ps[P_POS] >= total_ms:
        return
    if ps[P_PAUSE] > 0.0:
        c = min(dt, ps[P_PAUSE])
        ps[P_PAUSE] -= c
        dt -= c
        stall[int(ps[P_POS] / seg_ms)] += c
        if dt <= 0.0:
            return
    room = avail_ms - ps[P_POS]
    if dt <= room:
        ps[P_POS] += dt
        return
    ps[P_POS] = avail_ms
    if avail_ms < total_ms:
        stall[int(avail_ms / seg_ms + 0.5)] += dt - room


@njit
def wait(tr, clk, ps, stall, dt, avail_ms, total_ms, seg_ms):
    """Idle ``dt`` ms: the clock runs, playback goes on."""
    play(ps, stall, dt, clk[K_NOW], avail_ms, total_ms, seg_ms)
    idle_network(tr, clk, dt)


@njit
def fetch(tr, clk, ps, stall, bits, avail_ms, total_ms, seg_ms, max_ms):
    """A request nobody watches (manifest, init segment): latency, then the bits. Returns
    (ms taken, finished)."""
    t0 = clk[K_NOW]
    lat = tr[int(clk[K_INDEX]), 2]
    wait(tr, clk, ps, stall, lat, avail_ms, total_ms, seg_ms)
    before = clk[K_NOW]
    _, el = send(tr, clk, bits, max_ms - lat)
    play(ps, stall, el, before, avail_ms, total_ms, seg_ms)
    return clk[K_NOW] - t0, el < max_ms - lat


@njit
def download_media(tr, clk, ps, stall, cfg, size, quality, bitrates, seg_ms, avail_ms, total_ms, may_abandon):
    """A media request with its progress events: (bits received, ms request to end, ttfb ms,
    abandon-to rung or NOT_ABANDONED, or TIMED_OUT)."""
    t0 = clk[K_NOW]
    max_ms = cfg[D_MAX_DOWNLOAD_MS]
    lat = tr[int(clk[K_INDEX]), 2]
    wait(tr, clk, ps, stall, lat, avail_ms, total_ms, seg_ms)
    step = cfg[D_PROGRESS_MS]
    check = may_abandon and cfg[D_ABANDON] != 0.0 and quality > 0 and step > 0.0
    if not check:
        step = max_ms
    got = 0.0
    events = 0
    first_bits = 0.0
    first_ms = 0.0
    while got < size:
        left = max_ms - (clk[K_NOW] - t0)
        if left <= 0.0:
            return got, clk[K_NOW] - t0, lat, TIMED_OUT
        before = clk[K_NOW]
        bits, el = send(tr, clk, size - got, min(step, left))
        play(ps, stall, el, before, avail_ms, total_ms, seg_ms)
        got += bits
        if got >= size or not check:
            continue
        events += 1
        since_first_byte = clk[K_NOW] - t0 - lat
        if events == 1:
            first_bits = got  # dash.js leaves the first progress event out of the throughput
            first_ms = since_first_byte
            continue
        level = avail_ms - ps[P_POS]
        if level > cfg[D_BUFFER_MS] or events < cfg[D_ABANDON_MIN_SAMPLES] or since_first_byte <= cfg[D_ABANDON_MIN_MS]:
            continue
        dt = max(since_first_byte - first_ms, 1.0)
        kbps = (got - first_bits) / dt
        if not kbps > 0.0:
            continue
        if size / kbps < cfg[D_ABANDON_MULTIPLIER] * seg_ms:
            continue
        to = rung_for(bitrates, kbps)
        if size - got > size * bitrates[to] / bitrates[quality]:
            return got, clk[K_NOW] - t0, lat, to
    return got, clk[K_NOW] - t0, lat, NOT_ABANDONED


@njit
def play_dashjs(tr, seg_ms, bitrates, sizes_bits, cfg, log, played, kind, cparams, pid, pgroup, pparams, pstate, prof,
                bitrates_bps, sizes_bytes, cdata):
    """Simulate one session of the dash.js player with any controller (see the module docstring).

    Returns (n_requests, status, startup_ms). ``kind`` and ``pgroup`` are compile-time literals
    (the controller and its predictor's compile group, as in ``event.play_event``). Fills
    ``log[:min(n_requests, len(log))]`` (``E_*`` columns, one row per media request, abandoned
    and replacement ones included) and ``played[i]`` = (rung of segment i's last completed
    download, ms of stall the playhead spent waiting for segment i).
    """
    numba.literally(kind)
    numba.literally(pgroup)
    n_seg = sizes_bits.shape[0]
    n_q = bitrates.size
    has_bw = False
    for i in range(tr.shape[0]):
        if tr[i, 1] > 0:
            has_bw = True
            break
    if not has_bw:
        return 0, EV_NO_BANDWIDTH, np.nan

    total_ms = n_seg * seg_ms
    clk = np.zeros(3)
    clk[K_INDEX] = -1.0
    next_period(tr, clk)
    ps = np.zeros(P_SIZE)
    ps[P_STARTUP] = np.nan
    stall = np.zeros(n_seg + 1)
    last_rung = np.full(n_seg, -1, dtype=np.int64)
    abandoned = np.zeros(n_seg, dtype=np.bool_)
    init_loaded = np.zeros(n_q, dtype=np.bool_)  # rungs whose init segment (hls.js: media playlist) was loaded
    cstate = np.zeros(CTRL_STATE + 3 * n_q)
    start(kind, cparams, cstate, cdata, bitrates_bps, seg_ms / 1000.0)
    durations_s = np.full(sizes_bytes.shape[0], seg_ms / 1000.0)  # what contract.choose reads: equal segments
    max_ms = cfg[D_MAX_DOWNLOAD_MS]
    status = EV_COMPLETE
    n_log = np.int64(0)

    # startup: set-up, the MPD, then (below) the first representation's init segment
    wait(tr, clk, ps, stall, cfg[D_SETUP_MS], 0.0, total_ms, seg_ms)
    _, ok = fetch(tr, clk, ps, stall, cfg[D_MANIFEST_BITS], 0.0, total_ms, seg_ms, max_ms)
    if not ok:
        return 0, EV_STALLED, np.nan

    cur = rung_for(bitrates, cfg[D_INITIAL_KBPS])  # the rung of the current representation
    init_rung = np.int64(-1)  # the representation whose init segment was loaded last
    tail = np.int64(0)  # segments appended: media [0, tail * seg_ms) is buffered
    next_req = np.int64(0)  # the segment the next request is for
    forced = np.int64(cur)  # a rung to request without asking (first segment, abandonment)
    hold_until = -np.inf  # after an abandonment: only down-switches until then
    last_ttfb_s = 0.0
    idle_since = clk[K_NOW]
    while next_req < n_seg:
        avail = tail * seg_ms
        level = avail - ps[P_POS]
        target = cfg[D_TOP_BUFFER_MS] if cur == n_q - 1 else cfg[D_BUFFER_MS]
        add = seg_ms if target > seg_ms else 0.0
        if level + add >= target:
            wait(tr, clk, ps, stall, cfg[D_SCHEDULE_MS], avail, total_ms, seg_ms)
            full_wait(kind, cparams, cstate, cfg[D_SCHEDULE_MS] / 1000.0)
            continue
        est_kbps = np.nan
        if forced >= 0:
            q = forced
            forced = -1
        else:
            now_s = clk[K_NOW] / 1000.0
            est_bps = predict_for(pgroup, pid, pparams, pstate, now_s)
            est_kbps = est_bps / 1000.0
            q, delay_s = choose(kind, cparams, cstate, cdata, next_req, n_seg, level / 1000.0, cur, bitrates_bps,
                                sizes_bytes, durations_s, est_bps, latency_for(pgroup, pid, pparams, pstate),
                                last_ttfb_s, prof)
            q = min(max(q, 0), n_q - 1)
            if delay_s > 0.0:
                wait(tr, clk, ps, stall, delay_s * 1000.0, avail, total_ms, seg_ms)
            if q > cur and clk[K_NOW] < hold_until:
                q = cur
            if q > cur and cfg[D_FAST_SWITCH] != 0.0:
                p = int((ps[P_POS] + cfg[D_FAST_SWITCH_MARGIN_MS]) / seg_ms)
                if p < tail and last_rung[p] < q and clk[K_NOW] >= hold_until:
                    next_req = p
        if q != cur:
            cur = q
        if q != init_rung:
            if init_rung >= 0:
                wait(tr, clk, ps, stall, cfg[D_SWITCH_MS], tail * seg_ms, total_ms, seg_ms)
            if cfg[D_INIT_EVERY_SWITCH] != 0.0 or not init_loaded[q]:
                _, ok = fetch(tr, clk, ps, stall, cfg[D_INIT_BITS], tail * seg_ms, total_ms, seg_ms, max_ms)
                if not ok:
                    status = EV_STALLED
                    break
                init_loaded[q] = True
            init_rung = q
        seg = next_req
        size = sizes_bits[seg, q]
        request_ms = clk[K_NOW]
        waited = request_ms - idle_since
        replacing = seg < tail
        got, t, ttfb, to = download_media(tr, clk, ps, stall, cfg, size, q, bitrates, seg_ms, tail * seg_ms, total_ms,
                                          not abandoned[seg])
        if to == TIMED_OUT:
            status = EV_STALLED
            break
        last_ttfb_s = ttfb / 1000.0
        if to == NOT_ABANDONED:
            last_rung[seg] = q
            if replacing and ps[P_PHASE] == 2.0 and ps[P_POS] < total_ms and int(ps[P_POS] / seg_ms) == seg:
                # appended over the playing segment: the playhead stands until that much is ahead
                ps[P_PAUSE] = max(ps[P_PAUSE], cfg[D_OVERLAP_MS] - (tail * seg_ms - ps[P_POS]))
            if seg >= tail:
                tail = seg + 1
                if ps[P_PHASE] == 0.0:
                    if cfg[D_START_MS] > 0.0:
                        ps[P_PHASE] = 1.0
                        ps[P_COUNT] = cfg[D_START_MS]
                    else:
                        ps[P_PHASE] = 2.0
                        ps[P_STARTUP] = clk[K_NOW]
            next_req = seg + 1
            learn(pgroup, pid, pparams, pstate, got / 8.0, (t - ttfb) / 1000.0, ttfb / 1000.0, clk[K_NOW] / 1000.0)
            # every appended segment, replacements included (dash.js's rules count them all)
            report(kind, cparams, cstate, seg, q, got / 8.0, t / 1000.0, (tail * seg_ms - ps[P_POS]) / 1000.0,
                   bitrates_bps, seg_ms / 1000.0)
        else:
            abandoned[seg] = True
            forced = to
            hold_until = clk[K_NOW] + cfg[D_ABANDON_HOLD_MS]
        if n_log < log.shape[0]:
            row = log[n_log]
            row[E_SEGMENT] = seg
            row[E_QUALITY] = q
            row[E_SIZE_BITS] = size
            row[E_DOWNLOADED_BITS] = got
            row[E_TIME_MS] = t
            row[E_TTFB_MS] = ttfb
            row[E_ABANDON_TO] = np.nan if to == NOT_ABANDONED else to
            row[E_REPLACE] = 1.0 if replacing else 0.0
            row[E_REQUEST_MS] = request_ms
            row[E_WAIT_MS] = waited
            row[E_BUFFER_MS] = tail * seg_ms - ps[P_POS]
            row[E_THROUGHPUT_KBPS] = est_kbps
        n_log += 1
        if to == NOT_ABANDONED:
            wait(tr, clk, ps, stall, cfg[D_APPEND_MS], tail * seg_ms, total_ms, seg_ms)
        idle_since = clk[K_NOW]

    # play out what is buffered (a stalled session: up to its last appended segment)
    if ps[P_PHASE] == 1.0:
        ps[P_STARTUP] = clk[K_NOW] + ps[P_COUNT]
    for i in range(tail):
        played[i, 0] = last_rung[i]
        played[i, 1] = stall[i]
    return n_log, status, ps[P_STARTUP]
