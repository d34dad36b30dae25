"""The event-model session kernel: Sabre's player and network model, compiled.

Units are Sabre's: time in ms, sizes in bits, rates in kbit/s (bits per ms). Every step below
follows Sabre's ``sabre.py`` operation for operation (including which clock each metric reads),
because the ``sabre`` profile must print Sabre's numbers to the last decimal; where Sabre has a
defect that a profile option can fix, the option is named at the branch.

Arrays shared by the helpers (all allocated by :func:`run_event_session`):

* ``tr``: (n_periods, 3) trace periods: duration_ms, bandwidth_kbps, latency_ms. Played in a loop.
* ``st``: float64 state vector, indices ``S_*`` of ``event_layout``.
* ``buf``: int64 qualities of the buffered segments, ``buf[head:tail]`` (head is playing).
* ``pq``: (n_qualities, 3) pending quality-up switches: network time, quality, time reached
  (NaN: not yet). Sabre only appends a switch above every pending one, so qualities strictly
  increase and n_qualities rows suffice.
* ``hp`` / ``hs``: Sabre's throughput history as a predictor's parameters and state
  (``history_params``; the update and estimate are ``predictors.sabre_*``, written once).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .._jit import njit, njit_inline
from .contract import choose, full_wait, report, specialise, start
from .layout import CTRL_SABRE, CTRL_STATE, PRED_GROUP_COMMON, PRED_NONE
from .estimators import latency_for, learn, predict_for
from .predictors import sabre_ewma_read, sabre_ewma_update, sabre_window, sabre_window_update
from .sabre_rules import NO_ABANDON, controller_decide, controller_report, init_controller
from .event_layout import (
    AVG_EWMA,
    C_ABANDON,
    C_ABANDON_GRACE_MS,
    C_ABANDON_MULTIPLIER,
    C_ABR,
    C_APPLY_ABANDON_QUALITY,
    C_AVERAGE,
    C_BASIC,
    C_BUFFER_MS,
    C_FIXED_QUALITY,
    C_GAMMA_P,
    C_MAX_DOWNLOAD_MS,
    C_MIN_PROGRESS_BITS,
    C_MIN_PROGRESS_MS,
    C_RAMPUP_QUALITY,
    C_REPLACE,
    C_SAFETY,
    DOWNLOAD_TIMED_OUT,
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
    EV_BOLA,
    EV_BOLAE,
    EV_COMPLETE,
    EV_DYNAMIC,
    EV_DYNAMICDASH,
    EV_FIXED,
    EV_NO_BANDWIDTH,
    EV_STALLED,
    EV_THROUGHPUT,
    MAX_FUTILE_REQUESTS,
    M_ESTIMATE,
    M_LEQ,
    M_LEQ_COUNT,
    M_OVER,
    M_OVER_COUNT,
    REPLACE_LEFT,
    REPLACE_NONE,
    S_BITRATE_CHANGE,
    S_BOLA_LAST,
    S_BOLA_VP,
    S_BOLAE_GP,
    S_BOLAE_PLACEHOLDER,
    S_BOLAE_VP,
    S_FCC,
    S_HEAD,
    S_IS_BOLA,
    S_LAST_PLAYED,
    S_LATENCY,
    S_LOG_BITRATE_CHANGE,
    S_N_PENDING,
    S_N_PLAYED,
    S_N_SAMPLES,
    S_NET_INDEX,
    S_NET_TIME,
    S_NET_TO_NEXT,
    S_PLAY_MS,
    S_PLAYED_BITRATE,
    S_PLAYED_UTILITY,
    S_RAMPUP_MS,
    S_REACTION_MS,
    S_REBUFFER_EVENTS,
    S_REBUFFER_MS,
    S_REPLACING,
    S_SIZE,
    S_STALL_MS,
    S_SUSTAINABLE,
    S_TAIL,
    S_THROUGHPUT,
    SLIDING_MAX_STORE,
)



# -- playback queue and metrics ----------------------------------------------------------------------


@njit_inline
def buffer_level_ms(st, seg_ms):
    """Buffered media time: whole segments queued minus what of the head one has played."""
    return seg_ms * (st[S_TAIL] - st[S_HEAD]) - st[S_FCC]


@njit
def process_quality_up(st, pq, now_ms, buffer_ms):
    """Retire pending quality-up switches older than one buffer: add their reaction times."""
    cutoff = now_ms - buffer_ms
    while st[S_N_PENDING] > 0 and pq[0, 0] < cutoff:
        if np.isnan(pq[0, 2]):
            reaction = buffer_ms
        else:
            reaction = min(buffer_ms, pq[0, 2] - pq[0, 0])
        st[S_REACTION_MS] += reaction
        n = int(st[S_N_PENDING])
        for i in range(n - 1):
            pq[i, 0] = pq[i + 1, 0]
            pq[i, 1] = pq[i + 1, 1]
            pq[i, 2] = pq[i + 1, 2]
        st[S_N_PENDING] = n - 1


@njit
def advertize_quality(st, pq, buf, quality, previous, buffer_ms):
    """The network now sustains ``quality`` (was ``previous``): reaction-time bookkeeping."""
    now = st[S_NET_TIME]
    process_quality_up(st, pq, now, buffer_ms)
    n = int(st[S_N_PENDING])
    for i in range(n):
        if np.isnan(pq[i, 2]) and pq[i, 1] > quality:
            pq[i, 2] = now
    if quality <= previous:
        return
    for i in range(int(st[S_HEAD]), int(st[S_TAIL])):
        if quality <= buf[i]:
            return
    for i in range(n):
        if quality <= pq[i, 1]:
            return
    pq[n, 0] = now
    pq[n, 1] = quality
    pq[n, 2] = np.nan
    st[S_N_PENDING] = n + 1


@njit
def deplete_buffer(st, pq, buf, time_ms, seg_ms, bitrates, utilities, buffer_ms, rampup_quality, played):
    """Play ``time_ms`` of media: count played segments, switches, rebuffering (Sabre's order)."""
    if st[S_TAIL] == st[S_HEAD]:
        st[S_REBUFFER_MS] += time_ms
        st[S_PLAY_MS] += time_ms
        st[S_STALL_MS] += time_ms
        return
    if st[S_FCC] > 0:
        if time_ms + st[S_FCC] < seg_ms:
            st[S_FCC] += time_ms
            st[S_PLAY_MS] += time_ms
            return
        time_ms -= seg_ms - st[S_FCC]
        st[S_PLAY_MS] += seg_ms - st[S_FCC]
        st[S_HEAD] += 1
        st[S_FCC] = 0.0
    while time_ms > 0 and st[S_TAIL] > st[S_HEAD]:
        q = buf[int(st[S_HEAD])]
        st[S_PLAYED_UTILITY] += utilities[q]
        st[S_PLAYED_BITRATE] += bitrates[q]
        last = int(st[S_LAST_PLAYED])
        if q != last and last >= 0:
            st[S_BITRATE_CHANGE] += abs(bitrates[q] - bitrates[last])
            st[S_LOG_BITRATE_CHANGE] += abs(math.log(bitrates[q] / bitrates[last]))
        st[S_LAST_PLAYED] = q
        n_played = int(st[S_N_PLAYED])
        if n_played < played.shape[0]:
            played[n_played, 0] = q
            played[n_played, 1] = st[S_STALL_MS]  # the stall this segment ended
        st[S_STALL_MS] = 0.0
        st[S_N_PLAYED] = n_played + 1
        if np.isnan(st[S_RAMPUP_MS]):
            rt = st[S_SUSTAINABLE] if rampup_quality < 0 else rampup_quality
            if q >= rt:
                st[S_RAMPUP_MS] = st[S_PLAY_MS]  # minus the rampup origin, 0 without seeks
        for i in range(int(st[S_N_PENDING])):
            if np.isnan(pq[i, 2]) and q >= pq[i, 1]:
                pq[i, 2] = st[S_PLAY_MS]
        if time_ms >= seg_ms:
            st[S_HEAD] += 1
            st[S_PLAY_MS] += seg_ms
            time_ms -= seg_ms
        else:
            st[S_FCC] = time_ms
            st[S_PLAY_MS] += time_ms
            time_ms = 0.0
    if time_ms > 0:
        st[S_REBUFFER_MS] += time_ms
        st[S_PLAY_MS] += time_ms
        st[S_STALL_MS] += time_ms
        st[S_REBUFFER_EVENTS] += 1
    process_quality_up(st, pq, st[S_PLAY_MS], buffer_ms)


# -- network -------------------------------------------------------------------------------------------


@njit
def next_period(st, tr, pq, buf, seg_ms, bitrates, buffer_ms):
    """Move to the next trace period (looping) and update the sustainable quality."""
    i = int(st[S_NET_INDEX]) + 1
    if i == tr.shape[0]:
        i = 0
    st[S_NET_INDEX] = i
    st[S_NET_TO_NEXT] = tr[i, 0]
    latency_factor = 1 - tr[i, 2] / seg_ms
    effective_kbps = tr[i, 1] * latency_factor
    previous = int(st[S_SUSTAINABLE])
    sustainable = np.int64(0)
    for q in range(1, bitrates.size):
        if bitrates[q] > effective_kbps:
            break
        sustainable = q
    st[S_SUSTAINABLE] = sustainable
    if sustainable != previous and previous >= 0:
        advertize_quality(st, pq, buf, sustainable, previous, buffer_ms)


@njit
def latency_delay(st, tr, pq, buf, seg_ms, bitrates, buffer_ms):
    """Wait one request latency (it may span periods); returns the ms waited."""
    total = 0.0
    units = 1.0
    while units > 0:
        lat = tr[int(st[S_NET_INDEX]), 2]
        t = units * lat
        if t <= st[S_NET_TO_NEXT]:
            total += t
            st[S_NET_TIME] += t
            st[S_NET_TO_NEXT] -= t
            units = 0.0
        else:
            total += st[S_NET_TO_NEXT]
            st[S_NET_TIME] += st[S_NET_TO_NEXT]
            units -= st[S_NET_TO_NEXT] / lat
            next_period(st, tr, pq, buf, seg_ms, bitrates, buffer_ms)
    return total


@njit
def download_bits(st, tr, pq, buf, seg_ms, bitrates, buffer_ms, size, limit_ms):
    """Transfer ``size`` bits without interruption, for at most ``limit_ms`` (inf: no bound);
    returns (ms it took, bits left: 0.0 unless the limit came first)."""
    total = 0.0
    while size > 0:
        bw = tr[int(st[S_NET_INDEX]), 1]
        left_ms = max(limit_ms - total, 0.0)
        if size <= st[S_NET_TO_NEXT] * bw and size <= left_ms * bw:
            t = size / bw
            total += t
            st[S_NET_TIME] += t
            st[S_NET_TO_NEXT] -= t
            size = 0.0
        elif left_ms <= st[S_NET_TO_NEXT]:
            # the limit falls inside this period: stop there
            total += left_ms
            st[S_NET_TIME] += left_ms
            st[S_NET_TO_NEXT] -= left_ms
            size -= left_ms * bw
            break
        else:
            total += st[S_NET_TO_NEXT]
            st[S_NET_TIME] += st[S_NET_TO_NEXT]
            size -= st[S_NET_TO_NEXT] * bw
            next_period(st, tr, pq, buf, seg_ms, bitrates, buffer_ms)
    return total, size


@njit_inline
def minimal_download(st, tr, pq, buf, seg_ms, bitrates, buffer_ms, size, min_size, min_time):
    """Transfer until ``min_size`` bits or ``min_time`` ms have passed (or ``size`` is done).

    Returns (bits, ms). This is the polling step of a download that may be abandoned.
    """
    total_size = 0.0
    total_time = 0.0
    while size > 0 and (min_size > 0 or min_time > 0):
        bw = tr[int(st[S_NET_INDEX]), 1]
        if bw > 0:
            min_bits = max(min_size, min_time * bw)
            bits_to_next = st[S_NET_TO_NEXT] * bw
            if size <= min_bits and size <= bits_to_next:
                bits = size
                t = bits / bw
                st[S_NET_TO_NEXT] -= t
                st[S_NET_TIME] += t
            elif min_bits <= bits_to_next:
                bits = min_bits
                t = bits / bw
                # as in Sabre: end the loop even if rounding leaves min_size/min_time > 0
                min_size = 0.0
                min_time = 0.0
                st[S_NET_TO_NEXT] -= t
                st[S_NET_TIME] += t
            else:
                bits = bits_to_next
                t = st[S_NET_TO_NEXT]
                st[S_NET_TIME] += t
                next_period(st, tr, pq, buf, seg_ms, bitrates, buffer_ms)
        else:
            bits = 0.0
            if min_size > 0 or min_time > st[S_NET_TO_NEXT]:
                t = st[S_NET_TO_NEXT]
                st[S_NET_TIME] += t
                next_period(st, tr, pq, buf, seg_ms, bitrates, buffer_ms)
            else:
                t = min_time
                st[S_NET_TO_NEXT] -= t
                st[S_NET_TIME] += t
        total_size += bits
        total_time += t
        size -= bits
        min_size -= bits
        min_time -= t
    return total_size, total_time


@njit
def idle(st, tr, pq, buf, seg_ms, bitrates, buffer_ms, time_ms):
    """Let the network clock run for ``time_ms`` with nothing downloading."""
    while time_ms > st[S_NET_TO_NEXT]:
        time_ms -= st[S_NET_TO_NEXT]
        st[S_NET_TIME] += st[S_NET_TO_NEXT]
        next_period(st, tr, pq, buf, seg_ms, bitrates, buffer_ms)
    st[S_NET_TO_NEXT] -= time_ms
    st[S_NET_TIME] += time_ms


# -- throughput history --------------------------------------------------------------------------------

#: State of Sabre's history: the sabre-ewma predictor's 10 values, or two rings of SLIDING_MAX_STORE.
HISTORY_STATE = max(10, 2 * (2 + SLIDING_MAX_STORE))


@njit
def history_params(cfg, windows, half_lives_ms, seg_ms):
    """Sabre's throughput history (``cfg[C_AVERAGE]``) as the parameter vector of abrkit's own
    ``sabre-ewma`` / ``sabre-window`` predictor, run here in ms and kbit/s: the formulas only
    take ratios of times and averages of rates, so they give Sabre's numbers in its units.

    EWMA: [half-lives, segment ms, half-life ms...]; sliding window: [windows, ring size,
    window sizes...], the ring at most ``SLIDING_MAX_STORE`` samples as Sabre keeps.
    """
    # element loops, not ``hp[2:] = half_lives_ms`` / ``windows.max()``: Numba compiles an array
    # copy's shape-error message and max's NaN handling, 4.8 s of a cold run (measured)
    if cfg[C_AVERAGE] == AVG_EWMA:
        hp = np.empty(2 + half_lives_ms.size)
        hp[0] = half_lives_ms.size
        hp[1] = seg_ms
        for j in range(half_lives_ms.size):
            hp[2 + j] = half_lives_ms[j]
    else:
        hp = np.empty(2 + windows.size)
        hp[0] = windows.size
        largest = 1
        for j in range(windows.size):
            hp[2 + j] = windows[j]
            largest = max(largest, windows[j])
        hp[1] = min(largest, SLIDING_MAX_STORE)
    return hp


@njit
def push_sample(st, hp, hs, cfg, got_bits, time_ms, lat_ms):
    """Sabre's Ewma or SlidingWindow ``push`` of one download (``got_bits`` in ``time_ms``,
    latency ``lat_ms``): the predictor's own update (``hp`` from :func:`history_params`, ``hs``
    its state, zeroed per session), then the throughput and latency estimates into ``st``."""
    size_bytes = got_bits / 8.0  # exact: the predictor's rate size * 8 / time is got / time
    if cfg[C_AVERAGE] == AVG_EWMA:
        sabre_ewma_update(hp, hs, size_bytes, time_ms, lat_ms)
        tput = sabre_ewma_read(hp, hs, True)
        lat = sabre_ewma_read(hp, hs, False)
    else:
        sabre_window_update(hp, hs, size_bytes, time_ms, lat_ms, 0.0)
        tput = sabre_window(hp, hs, 0, True)
        lat = sabre_window(hp, hs, 2 + int(hp[1]), False)
    st[S_N_SAMPLES] += 1
    st[S_THROUGHPUT] = tput
    st[S_LATENCY] = lat


# -- replacement -------------------------------------------------------------------------------------------


@njit
def check_replace(st, cfg, buf, quality, seg_ms):
    """Sabre's Replace.check_replace: a buffered segment below ``quality`` to re-download.

    Returns its offset from the queue's end (negative), or 0 for none. The head segment and
    the next one (1.5 segments past what is playing) are never replaced.
    """
    st[S_REPLACING] = 0.0
    strategy = int(cfg[C_REPLACE])
    if strategy == REPLACE_NONE:
        return 0
    head = int(st[S_HEAD])
    n = int(st[S_TAIL]) - head
    skip = int(math.ceil(1.5 + st[S_FCC] / seg_ms))
    if strategy == REPLACE_LEFT:
        for i in range(skip, n):
            if buf[head + i] < quality:
                st[S_REPLACING] = i - n
                return i - n
    else:
        for i in range(n - 1, skip - 1, -1):
            if buf[head + i] < quality:
                st[S_REPLACING] = i - n
                return i - n
    return 0


# -- the download with polling -------------------------------------------------------------------------------


@njit
def download(st, cfg, tr, pq, buf, seg_ms, bitrates, utilities0, utilities1, buffer_cap_ms, size, quality, level_ms, mode):
    """Sabre's NetworkModel.download: (downloaded_bits, time_ms, ttfb_ms, abandon_to).

    ``mode``: 0 no polling; 1 the controller may abandon; 2 a replacement may be given up.
    """
    if size <= 0:
        return 0.0, 0.0, 0.0, NO_ABANDON
    min_bits = cfg[C_MIN_PROGRESS_BITS]
    min_ms = cfg[C_MIN_PROGRESS_MS]
    if mode == 0 or (min_ms <= 0 and min_bits <= 0):
        return download_whole(st, tr, pq, buf, seg_ms, bitrates, buffer_cap_ms, size, cfg[C_MAX_DOWNLOAD_MS])
    latency = latency_delay(st, tr, pq, buf, seg_ms, bitrates, buffer_cap_ms)
    # Sabre's polling always has min_progress_size > 0, so the latency is paid up front
    return download_polled(
        st, cfg, tr, pq, buf, seg_ms, bitrates, utilities0, utilities1, buffer_cap_ms, size, quality, level_ms, mode,
        latency, min_bits, min_ms,
    )


@njit
def download_whole(st, tr, pq, buf, seg_ms, bitrates, buffer_cap_ms, size, max_ms):
    """A download nobody watches: ``download``'s result for a ``size`` > 0 bit request, no
    polling; abandon-to DOWNLOAD_TIMED_OUT if it was still running ``max_ms`` after the
    request (``max_ms`` <= 0: no bound)."""
    latency = latency_delay(st, tr, pq, buf, seg_ms, bitrates, buffer_cap_ms)
    limit_ms = max_ms - latency if max_ms > 0 else np.inf
    t, left = download_bits(st, tr, pq, buf, seg_ms, bitrates, buffer_cap_ms, size, limit_ms)
    if left > 0:
        return size - left, latency + t, latency, DOWNLOAD_TIMED_OUT
    return size, latency + t, latency, NO_ABANDON


@njit
def download_polled(st, cfg, tr, pq, buf, seg_ms, bitrates, utilities0, utilities1, buffer_cap_ms, size, quality,
                    level_ms, mode, latency, min_bits, min_ms):
    """The polling loop of Sabre's download: check for abandonment every ``min_ms`` / ``min_bits``.

    Sabre's polls run ~50 times per segment, so this loop is the event model's hot spot. Two
    rules keep it fast without changing a bit of the results:

    * the network clock lives in locals while a poll stays inside one trace period (the same
      operations in the same order as ``minimal_download``, which handles the rest);
    * the controllers' ``check_abandon`` rules are written out here, not called: a helper that
      takes arrays costs Numba atomic reference counting on every poll (measured: 4x slower).
    """
    total_time = latency
    total_size = 0.0
    time_to_progress = min_ms - total_time
    size_to_progress = min_bits
    max_ms = cfg[C_MAX_DOWNLOAD_MS] if cfg[C_MAX_DOWNLOAD_MS] > 0 else np.inf
    abr = int(cfg[C_ABR])
    if mode == 2:
        rule = -1  # a replacement: given up once the segment it replaces is about to play
    elif abr == EV_BOLA:
        rule = EV_BOLA if cfg[C_BASIC] == 0.0 else EV_FIXED  # BOLA-BASIC never abandons
    elif abr == EV_BOLAE or (abr == EV_DYNAMICDASH and st[S_IS_BOLA] != 0.0):
        rule = EV_BOLAE
    elif abr == EV_THROUGHPUT or abr == EV_DYNAMIC or abr == EV_DYNAMICDASH:
        rule = EV_THROUGHPUT  # Sabre's Dynamic always uses the throughput rule's abandonment
    else:
        rule = EV_FIXED
    # per-download constants of the BOLA rules (the same expressions Sabre evaluates per poll)
    if rule == EV_BOLA:
        vp = st[S_BOLA_VP]
        gp = cfg[C_GAMMA_P]
        utilities = utilities0
    else:
        vp = st[S_BOLAE_VP]
        gp = st[S_BOLAE_GP]
        utilities = utilities1
    placeholder = st[S_BOLAE_PLACEHOLDER]
    # Exact shortcut: once the buffer is at or above this, every lower rung's BOLA numerator
    # vp (gp + u_q) - buffer is <= 0 (vp >= 0 keeps the numerators ordered like the utilities).
    # If this rung's numerator is >= 0, no lower rung scores above its score >= 0; if it is < 0,
    # the lower rungs divide larger magnitudes by smaller sizes, so their (correctly rounded)
    # scores are <= its score. Sabre's loop would find no strictly better rung either way.
    no_lower_gain = np.inf
    if quality > 0 and 0.0 <= vp < np.inf:
        no_lower_gain = vp * (gp + utilities[quality - 1])

    to = NO_ABANDON
    bw = tr[int(st[S_NET_INDEX]), 1]
    to_next = st[S_NET_TO_NEXT]
    net_time = st[S_NET_TIME]
    while total_size < size and to == NO_ABANDON:
        rem = size - total_size
        inside = False
        bits = 0.0
        if bw > 0:
            poll_bits = max(size_to_progress, time_to_progress * bw)
            bits_to_next = to_next * bw
            if rem <= poll_bits and rem <= bits_to_next:
                bits = rem
                inside = True
            elif poll_bits <= bits_to_next:
                bits = poll_bits
                inside = True
        if inside:
            t = bits / bw
            to_next -= t
            net_time += t
        else:
            st[S_NET_TO_NEXT] = to_next
            st[S_NET_TIME] = net_time
            bits, t = minimal_download(
                st, tr, pq, buf, seg_ms, bitrates, buffer_cap_ms, rem, size_to_progress, time_to_progress
            )
            bw = tr[int(st[S_NET_INDEX]), 1]
            to_next = st[S_NET_TO_NEXT]
            net_time = st[S_NET_TIME]
        total_time += t
        total_size += bits
        time_to_progress = min_ms
        size_to_progress = min_bits
        if total_size >= size:
            break
        if total_time >= max_ms:  # checked at each poll: the bound may be passed by one poll
            to = DOWNLOAD_TIMED_OUT
            break
        level = max(0.0, level_ms - total_time)
        remain = size - total_size
        if rule == -1:
            if level + seg_ms * st[S_REPLACING] <= 0:
                to = -1
        elif rule == EV_BOLA:
            # Sabre's Bola.check_abandon
            if total_size <= 0 or level >= no_lower_gain:
                continue
            score = (vp * (gp + utilities[quality]) - level) / remain
            if score < 0:
                continue
            for q in range(quality):
                other_size = size * bitrates[q] / bitrates[quality]
                # sizes grow with q: once one is too big all higher ones are (Sabre checks all)
                if other_size >= remain:
                    break
                other_score = (vp * (gp + utilities[q]) - level) / other_size
                if other_score > score:
                    score = other_score
                    to = q
            if to != NO_ABANDON:
                st[S_BOLA_LAST] = to
        elif rule == EV_BOLAE:
            # Sabre's BolaEnh.check_abandon: the rest of this download against a fresh lower
            # one, which pays the latency again: judge the buffer as it will be after it
            bl = max(0.0, level + placeholder - latency)
            if total_size <= 0 or bl >= no_lower_gain:
                continue
            tp = total_size / (total_time - latency)
            sz = remain - latency * tp
            if sz <= 0:
                continue
            score = np.nan
            for q in range(quality):
                other_size = size * bitrates[q] / bitrates[quality]
                # The size check matters on its own: with a large buffer the score alone would
                # switch. Sizes grow with q, so stop at the first one too big.
                if other_size >= sz:
                    break
                if np.isnan(score):
                    score = (vp * (gp + utilities[quality]) - bl) / sz
                other_score = (vp * (gp + utilities[q]) - bl) / other_size
                if other_score > score:
                    score = other_score
                    to = q
        elif rule == EV_THROUGHPUT:
            # Sabre's ThroughputRule.check_abandon (dash.js AbandonRequestsRule)
            dl_ms = total_time - latency
            if total_time >= cfg[C_ABANDON_GRACE_MS] and dl_ms > 0:
                tput = total_size / dl_ms
                if total_time + remain / tput > cfg[C_ABANDON_MULTIPLIER] * seg_ms:
                    safe = tput * cfg[C_SAFETY]
                    lat = st[S_LATENCY]
                    q = 0
                    while q + 1 < bitrates.size and lat + seg_ms * bitrates[q + 1] / safe <= seg_ms:
                        q += 1  # quality_from_throughput, written out (see the docstring)
                    if q < quality and size * bitrates[q] / bitrates[quality] < remain:
                        to = q
    st[S_NET_TO_NEXT] = to_next
    st[S_NET_TIME] = net_time
    return total_size, total_time, latency, to


# -- the controller, whichever it is ---------------------------------------------------------------------------
# ask / tell / waited are specialised on the literal controller id: Sabre's rules work on the
# player's state in its units; every other controller goes through the contract in SI units.


def ask(kind, st, cfg, level, seg, n_seg, seg_ms, bitrates, u0, u1, cparams, cstate, pid, pgroup, pparams, pstate, prof,
        last_q, last_ttfb, bitrates_bps, sizes_bytes, durations_s, cdata):
    """(quality, delay_ms) for segment ``seg`` at buffer ``level`` ms (``durations_s``: every
    segment's duration in seconds, ``seg_ms / 1000`` repeated: the event model plays equal
    segments)."""
    return _ask_for(kind)(kind, st, cfg, level, seg, n_seg, seg_ms, bitrates, u0, u1, cparams, cstate, pid, pgroup,
                          pparams, pstate, prof, last_q, last_ttfb, bitrates_bps, sizes_bytes, durations_s, cdata)


def _ask_sabre(kind, st, cfg, level, seg, n_seg, seg_ms, bitrates, u0, u1, cparams, cstate, pid, pgroup, pparams, pstate, prof,
               last_q, last_ttfb, bitrates_bps, sizes_bytes, durations_s, cdata):
    return controller_decide(st, cfg, level, seg, n_seg, seg_ms, bitrates, u0, u1)


def _ask_contract(kind, st, cfg, level, seg, n_seg, seg_ms, bitrates, u0, u1, cparams, cstate, pid, pgroup, pparams, pstate,
                  prof, last_q, last_ttfb, bitrates_bps, sizes_bytes, durations_s, cdata):
    est_bps = predict_for(pgroup, pid, pparams, pstate, st[S_NET_TIME] / 1000.0)
    est_latency_s = latency_for(pgroup, pid, pparams, pstate)
    rung, wait_s = choose(
        kind, cparams, cstate, cdata, seg, n_seg, level / 1000.0, last_q, bitrates_bps, sizes_bytes, durations_s, est_bps,
        est_latency_s, last_ttfb / 1000.0, prof,
    )
    return rung, wait_s * 1000.0


def tell(kind, st, cfg, quality, time_ms, to, is_replacement, level, seg_ms, bitrates, u1, seg, cparams, cstate, pid,
         pgroup, pparams, pstate, got_bits, ttfb_ms, request_ms, bitrates_bps, first):
    """A request ended (``to``: NO_ABANDON if it completed); ``first``: the player's own first
    segment, which Sabre's rules are not told about."""
    _tell_for(kind)(kind, st, cfg, quality, time_ms, to, is_replacement, level, seg_ms, bitrates, u1, seg, cparams,
                    cstate, pid, pgroup, pparams, pstate, got_bits, ttfb_ms, request_ms, bitrates_bps, first)


def _tell_sabre(kind, st, cfg, quality, time_ms, to, is_replacement, level, seg_ms, bitrates, u1, seg, cparams, cstate,
                pid, pgroup, pparams, pstate, got_bits, ttfb_ms, request_ms, bitrates_bps, first):
    if not first:
        controller_report(st, cfg, quality, time_ms, to, is_replacement, level, seg_ms, bitrates, u1)


def _tell_contract(kind, st, cfg, quality, time_ms, to, is_replacement, level, seg_ms, bitrates, u1, seg, cparams,
                   cstate, pid, pgroup, pparams, pstate, got_bits, ttfb_ms, request_ms, bitrates_bps, first):
    if to != NO_ABANDON:
        return
    # the sample Sabre's own history takes: transfer time, latency apart
    learn(pgroup, pid, pparams, pstate, got_bits / 8.0, (time_ms - ttfb_ms) / 1000.0, ttfb_ms / 1000.0,
          (request_ms + time_ms) / 1000.0)
    if not is_replacement:
        report(kind, cparams, cstate, seg, quality, got_bits / 8.0, time_ms / 1000.0, level / 1000.0, bitrates_bps,
               seg_ms / 1000.0)


def waited(kind, st, cfg, cparams, cstate, delay_ms):
    """The player idled ``delay_ms`` because the next segment would not fit in the buffer."""
    _waited_for(kind)(kind, st, cfg, cparams, cstate, delay_ms)


def _waited_sabre(kind, st, cfg, cparams, cstate, delay_ms):
    abr = int(cfg[C_ABR])
    if abr == EV_BOLAE or abr == EV_DYNAMICDASH:
        st[S_BOLAE_PLACEHOLDER] += delay_ms  # BolaEnh.report_delay


def _waited_contract(kind, st, cfg, cparams, cstate, delay_ms):
    full_wait(kind, cparams, cstate, delay_ms / 1000.0)


def begin(kind, cparams, cstate, cdata, bitrates_bps, chunk_s):
    """The contract's ``start`` for a controller asked through it; Sabre's rules were set up
    on the player's own state (``init_controller``)."""
    if kind != CTRL_SABRE:
        start(kind, cparams, cstate, cdata, bitrates_bps, chunk_s)


def _begin_for(kind):
    if kind == CTRL_SABRE:
        def nothing(kind, cparams, cstate, cdata, bitrates_bps, chunk_s):
            pass
        return nothing
    return start_contract


def start_contract(kind, cparams, cstate, cdata, bitrates_bps, chunk_s):
    start(kind, cparams, cstate, cdata, bitrates_bps, chunk_s)


def fetch(kind, st, cfg, tr, pq, buf, seg_ms, bitrates, u0, u1, buffer_cap_ms, size, quality, level_ms, mode):
    """``download`` as the loop needs it: only Sabre's rules may poll (abandon, give up a
    replacement); a contract controller's player never polls (``C_ABANDON`` is 0), so its
    loop is compiled without the polling code."""
    return _fetch_for(kind)(kind, st, cfg, tr, pq, buf, seg_ms, bitrates, u0, u1, buffer_cap_ms, size, quality,
                            level_ms, mode)


def _fetch_polled(kind, st, cfg, tr, pq, buf, seg_ms, bitrates, u0, u1, buffer_cap_ms, size, quality, level_ms, mode):
    return download(st, cfg, tr, pq, buf, seg_ms, bitrates, u0, u1, buffer_cap_ms, size, quality, level_ms, mode)


def _fetch_whole(kind, st, cfg, tr, pq, buf, seg_ms, bitrates, u0, u1, buffer_cap_ms, size, quality, level_ms, mode):
    if size <= 0:
        return 0.0, 0.0, 0.0, NO_ABANDON
    return download_whole(st, tr, pq, buf, seg_ms, bitrates, buffer_cap_ms, size, cfg[C_MAX_DOWNLOAD_MS])


def _fetch_for(kind):
    return _fetch_polled if kind == CTRL_SABRE else _fetch_whole


def _ask_for(kind):
    return _ask_sabre if kind == CTRL_SABRE else _ask_contract


def _tell_for(kind):
    return _tell_sabre if kind == CTRL_SABRE else _tell_contract


def _waited_for(kind):
    return _waited_sabre if kind == CTRL_SABRE else _waited_contract


# Out of line: each wraps a contract call that is itself inlined, and Numba compiles an inlined
# overload inside another inlined overload twice (measured: seconds of cold compile per run).
for _public, _impl_for in ((begin, _begin_for), (ask, _ask_for), (tell, _tell_for), (waited, _waited_for)):
    specialise(_public, _impl_for, inline_for=lambda kind: False)
specialise(fetch, _fetch_for)


# -- the session -------------------------------------------------------------------------------------------------


@njit
def run_event_session(tr, seg_ms, bitrates, sizes_bits, cfg, windows, half_lives_ms, metrics, log, played):
    """Simulate one session with Sabre's own rules (``cfg[C_ABR]``): :func:`play_event` with
    ``kind = CTRL_SABRE``; returns (n_requests, status)."""
    return play_event(
        tr, seg_ms, bitrates, sizes_bits, cfg, windows, half_lives_ms, metrics, log, played,
        CTRL_SABRE, cfg, PRED_NONE, PRED_GROUP_COMMON, cfg, np.zeros(1), cfg, bitrates, sizes_bits,
        np.zeros(0, dtype=np.float32),
    )


@njit
def play_event(tr, seg_ms, bitrates, sizes_bits, cfg, windows, half_lives_ms, metrics, log, played,
               kind, cparams, pid, pgroup, pparams, pstate, prof, bitrates_bps, sizes_bytes, cdata):
    """Simulate one session of the event model with any controller; returns (n_requests, status).

    ``kind`` (a compile-time literal) is the controller id. ``CTRL_SABRE`` runs Sabre's rule
    ``cfg[C_ABR]`` on the player's own state, exactly as ``sabre.py`` does (the other controller
    arguments are then unused). Any other id is asked through ``contract.choose`` in seconds,
    bytes and bits per second: ``cparams`` its parameters, ``pid``/``pparams`` its predictor
    (fed every completed download; ``pstate`` its zeroed state; ``pgroup``, a compile-time literal,
    its compile group, ``estimators.predictor_group(pid, pparams)``), ``prof`` the chunk-model profile vector its planners read,
    ``bitrates_bps`` and ``sizes_bytes`` the ladder and size table in those units, ``cdata`` the
    controller's own data (float32; ``groups.Controllers.data``, empty for most). Such a
    controller may ask for a wait before a request; it never abandons (``cfg[C_ABR]`` must then
    be -1, so the polling loop applies no rule), and like every controller it is not asked for
    the first segment, which Sabre's player always fetches at the lowest quality.

    ``status``: EV_COMPLETE, EV_NO_BANDWIDTH (nothing ran), or EV_STALLED: the session stopped
    after MAX_FUTILE_REQUESTS requests in a row added no segment (where Sabre loops forever), or
    when a download was still running ``cfg[C_MAX_DOWNLOAD_MS]`` after its request (that request
    is neither logged nor played); what was buffered until then is played out and measured.

    ``tr``: (n_periods, 3) duration_ms, bandwidth_kbps, latency_ms. ``bitrates``: kbit/s per
    quality, increasing. ``sizes_bits``: (n_segments, n_qualities). ``cfg``: ``C_*`` vector.
    ``windows`` (sliding-window sizes) and ``half_lives_ms`` (EWMA) configure the history.
    Fills ``metrics`` (``METRIC_NAMES`` order), ``log[:min(n_requests, len(log))]`` (``E_*``
    columns, one row per request) and ``played[i]`` = (quality, ms of stall just before it) of
    the i-th segment played, shape (n_segments, 2).
    """
    numba.literally(kind)
    numba.literally(pgroup)
    metrics[:] = np.nan
    has_bw = False
    for i in range(tr.shape[0]):
        if tr[i, 1] > 0:
            has_bw = True
            break
    if not has_bw:
        return 0, EV_NO_BANDWIDTH

    n_seg = sizes_bits.shape[0]
    n_q = bitrates.size
    durations_s = np.full(sizes_bytes.shape[0], seg_ms / 1000.0)  # what contract.choose reads: equal segments
    buffer_ms = cfg[C_BUFFER_MS]
    rampup_q = cfg[C_RAMPUP_QUALITY]
    poll = cfg[C_ABANDON] != 0.0
    utilities0 = np.empty(n_q)  # Sabre's metric utilities, and BOLA's: log(b / b_0)
    utilities1 = np.empty(n_q)  # BOLA-E's: 1 + log(b / b_0)
    offset0 = 0 - math.log(bitrates[0])
    offset1 = 1 - math.log(bitrates[0])
    for q in range(n_q):
        utilities0[q] = math.log(bitrates[q]) + offset0
        utilities1[q] = math.log(bitrates[q]) + offset1

    st = np.zeros(S_SIZE)
    st[S_NET_INDEX] = -1
    st[S_SUSTAINABLE] = -1
    st[S_LAST_PLAYED] = -1
    st[S_RAMPUP_MS] = np.nan
    st[S_THROUGHPUT] = np.nan
    st[S_LATENCY] = np.nan
    buf = np.zeros(n_seg + 1, dtype=np.int64)
    pq = np.zeros((n_q, 3))
    hp = history_params(cfg, windows, half_lives_ms, seg_ms)
    hs = np.zeros(HISTORY_STATE)
    init_controller(st, cfg, seg_ms, bitrates, utilities0, utilities1)
    cstate = np.zeros(CTRL_STATE + 3 * n_q)
    begin(kind, cparams, cstate, cdata, bitrates_bps, seg_ms / 1000.0)
    # typed, not literal, constants: a literal argument would compile its callee a second time
    first_seg = np.int64(0)
    completed = np.int64(NO_ABANDON)
    yes = np.bool_(True)
    no = np.bool_(False)
    last_q = np.int64(-1)  # the contract's previous rung: the quality of the last segment added
    last_ttfb = 0.0
    next_period(st, tr, pq, buf, seg_ms, bitrates, buffer_ms)

    over_n = np.int64(0)
    over_avg = 0.0
    good_n = np.int64(0)
    good_avg = 0.0
    est_avg = 0.0
    n_log = np.int64(0)

    # first segment: the lowest quality, no polling, no controller report
    quality = np.int64(0)
    if int(cfg[C_ABR]) == EV_FIXED:
        quality = min(int(cfg[C_FIXED_QUALITY]), n_q - 1)
    size = sizes_bits[0, quality]
    request_ms = st[S_NET_TIME]
    got, t, ttfb, to = fetch(kind, st, cfg, tr, pq, buf, seg_ms, bitrates, utilities0, utilities1, buffer_ms, size, quality,
                             0.0, first_seg)
    status = EV_COMPLETE
    if to == DOWNLOAD_TIMED_OUT:
        status = EV_STALLED  # nothing plays: the session ends before its first segment
    else:
        dl_ms = t - ttfb
        buf[int(st[S_TAIL])] = quality
        st[S_TAIL] += 1
        push_sample(st, hp, hs, cfg, got, dl_ms, ttfb)
        st[S_PLAY_MS] += t
        last_q = quality
        last_ttfb = ttfb
        tell(kind, st, cfg, quality, t, completed, no, buffer_level_ms(st, seg_ms), seg_ms, bitrates, utilities1,
             first_seg, cparams, cstate, pid, pgroup, pparams, pstate, got, ttfb, request_ms, bitrates_bps, yes)
        if n_log < log.shape[0]:
            log_row(log[n_log], first_seg, quality, size, got, t, ttfb, completed, no, request_ms, 0.0,
                    buffer_level_ms(st, seg_ms), np.nan)
        n_log += 1

    next_seg = np.int64(1)
    forced = np.int64(-1)  # quality forced by an abandonment (applied only with the defect fixed)
    futile = np.int64(0)  # requests in a row that added no segment (see MAX_FUTILE_REQUESTS)
    while status == EV_COMPLETE and next_seg < n_seg:
        if futile >= MAX_FUTILE_REQUESTS:
            status = EV_STALLED
            break
        wait_ms = 0.0
        full_delay = buffer_level_ms(st, seg_ms) + seg_ms - buffer_ms
        if full_delay > 0:
            deplete_buffer(st, pq, buf, full_delay, seg_ms, bitrates, utilities0, buffer_ms, rampup_q, played)
            idle(st, tr, pq, buf, seg_ms, bitrates, buffer_ms, full_delay)
            waited(kind, st, cfg, cparams, cstate, full_delay)
            wait_ms = full_delay

        est_kbps = st[S_THROUGHPUT]
        if forced < 0:
            quality, delay = ask(
                kind, st, cfg, buffer_level_ms(st, seg_ms), next_seg, n_seg, seg_ms, bitrates, utilities0, utilities1,
                cparams, cstate, pid, pgroup, pparams, pstate, prof, last_q, last_ttfb, bitrates_bps, sizes_bytes,
                durations_s, cdata,
            )
            replace = check_replace(st, cfg, buf, quality, seg_ms)
        else:
            quality, delay = forced, 0.0
            replace = 0
            forced = -1

        if replace != 0:
            delay = 0.0
            segment = next_seg + replace
            mode = 2
        else:
            segment = next_seg
            mode = 1
        if not poll:
            mode = 0
        size = sizes_bits[segment, quality]

        if delay > 0:
            deplete_buffer(st, pq, buf, delay, seg_ms, bitrates, utilities0, buffer_ms, rampup_q, played)
            idle(st, tr, pq, buf, seg_ms, bitrates, buffer_ms, delay)
            wait_ms += delay

        request_ms = st[S_NET_TIME]
        got, t, ttfb, to = fetch(
            kind, st, cfg, tr, pq, buf, seg_ms, bitrates, utilities0, utilities1, buffer_ms, size, quality,
            buffer_level_ms(st, seg_ms), mode,
        )
        if to == DOWNLOAD_TIMED_OUT:
            # the session ends as the chunk model's does: this download is not played or
            # counted, what is buffered plays out below
            status = EV_STALLED
            break
        deplete_buffer(st, pq, buf, t, seg_ms, bitrates, utilities0, buffer_ms, rampup_q, played)

        futile += 1
        if replace == 0:
            if to == NO_ABANDON:
                buf[int(st[S_TAIL])] = quality
                st[S_TAIL] += 1
                next_seg += 1
                futile = 0
                last_q = quality
            elif cfg[C_APPLY_ABANDON_QUALITY] != 0.0:
                forced = to
            # else Sabre's defect: the abandoned-to quality is stored in a variable never read
        elif to == NO_ABANDON and buffer_level_ms(st, seg_ms) + seg_ms * replace >= 0:
            buf[int(st[S_TAIL]) + replace] = quality

        level = buffer_level_ms(st, seg_ms)
        tell(kind, st, cfg, quality, t, to, replace != 0, level, seg_ms, bitrates, utilities1,
             segment, cparams, cstate, pid, pgroup, pparams, pstate, got, ttfb, request_ms, bitrates_bps, no)
        last_ttfb = ttfb

        dl_ms = t - ttfb
        sample = got / dl_ms
        tput = st[S_THROUGHPUT]
        if tput > sample:
            over_n += 1
            over_avg += (tput - sample - over_avg) / over_n
        else:
            good_n += 1
            good_avg += (sample - tput - good_avg) / good_n
        est_avg += (tput - sample - est_avg) / (over_n + good_n)
        if to == NO_ABANDON:
            push_sample(st, hp, hs, cfg, got, dl_ms, ttfb)

        if n_log < log.shape[0]:
            log_row(log[n_log], segment, quality, size, got, t, ttfb, to, replace != 0, request_ms, wait_ms, level, est_kbps)
        n_log += 1

    # play out what is left
    deplete_buffer(st, pq, buf, buffer_level_ms(st, seg_ms), seg_ms, bitrates, utilities0, buffer_ms, rampup_q, played)

    play = st[S_PLAY_MS]
    metrics[0] = buffer_ms
    if play <= 0.0:  # nothing played (the first download ran past its bound): no averages
        return n_log, status
    rebuf = st[S_REBUFFER_MS]
    to_avg = 1 / (play / seg_ms)
    metrics[0] = buffer_ms
    metrics[1] = st[S_PLAYED_UTILITY]
    metrics[2] = st[S_PLAYED_UTILITY] * to_avg
    metrics[3] = st[S_PLAYED_BITRATE]
    metrics[4] = st[S_PLAYED_BITRATE] * to_avg
    metrics[5] = play / 1000
    metrics[6] = play / seg_ms
    metrics[7] = rebuf / 1000
    metrics[8] = rebuf / play
    metrics[9] = rebuf / 1000 * to_avg
    metrics[10] = st[S_REBUFFER_EVENTS]
    metrics[11] = st[S_REBUFFER_EVENTS] * to_avg
    metrics[12] = st[S_BITRATE_CHANGE]
    metrics[13] = st[S_BITRATE_CHANGE] * to_avg
    metrics[14] = st[S_LOG_BITRATE_CHANGE]
    metrics[15] = st[S_LOG_BITRATE_CHANGE] * to_avg
    metrics[16] = to_avg * (st[S_PLAYED_UTILITY] - cfg[C_GAMMA_P] * rebuf / seg_ms)
    metrics[M_OVER_COUNT] = over_n
    metrics[M_OVER] = over_avg
    metrics[M_LEQ_COUNT] = good_n
    metrics[M_LEQ] = good_avg
    metrics[M_ESTIMATE] = est_avg
    if np.isnan(st[S_RAMPUP_MS]):
        metrics[22] = n_seg * seg_ms / 1000
    else:
        metrics[22] = st[S_RAMPUP_MS] / 1000
    metrics[23] = st[S_REACTION_MS] / 1000
    return n_log, status


@njit
def log_row(row, segment, quality, size, got, time_ms, ttfb, to, replaced, request_ms, wait_ms, level, est_kbps):
    row[E_SEGMENT] = segment
    row[E_QUALITY] = quality
    row[E_SIZE_BITS] = size
    row[E_DOWNLOADED_BITS] = got
    row[E_TIME_MS] = time_ms
    row[E_TTFB_MS] = ttfb
    row[E_ABANDON_TO] = np.nan if to == NO_ABANDON else to
    row[E_REPLACE] = 1.0 if replaced else 0.0
    row[E_REQUEST_MS] = request_ms
    row[E_WAIT_MS] = wait_ms
    row[E_BUFFER_MS] = level
    row[E_THROUGHPUT_KBPS] = est_kbps
