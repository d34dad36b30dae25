"""dash.js 5.2.1's ABR rule collection as one controller of the contract (``CTRL_DASHJS5``).

What ``AbrController.checkPlaybackQuality`` decides with dash.js 5.2.1's default settings
(``Dash-Industry-Forum/dash.js`` v5.2.1, ``src/streaming/``): the lowest rung any active rule
asks for (``rules/abr/ABRRulesCollection.js``, ``getMinSwitchRequest``) among

* the **ThroughputRule** (``rules/abr/ThroughputRule.js``): the highest rung whose announced
  bitrate is at most the safe throughput (average x ``bandwidthSafetyFactor`` 0.9), once the
  buffer is "loaded" (above ``stallThreshold``, 0.3 s), *or* the **BolaRule** (``rules/abr/
  BolaRule.js``, dash.js 5's scores): which of the two is DYNAMIC's choice, BOLA from a buffer of
  ``hybridSwitchBufferTime`` (12 s) and back to throughput below half of it
  (``AbrController._updateDynamicAbrStrategy``);
* the **InsufficientBufferRule** (``rules/abr/InsufficientBufferRule.js``): after the first
  ``segmentIgnoreCount`` (2) segments, the lowest rung while the buffer is empty (at most 0.3 s),
  else the highest rung at most ``throughputSafetyFactor`` (0.7) x average x buffer / segment;
* the **SwitchHistoryRule** (``rules/abr/SwitchHistoryRule.js``, ``rules/SwitchRequestHistory.js``):
  over the last ``sampleSize`` (8) decisions, walking up the ladder, once the decisions seen from
  the rungs so far number 8 and drops / no-drops exceed ``switchPercentageThreshold`` (0.075), a
  cap one rung below the rung that saw drops (or at it).

The average throughput is the controller's predictor (the ``dashjs`` predictor: dash.js 5's
``ThroughputModel`` EWMA). Units: seconds, bits per second (the contract's).
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import njit

# parameters (cparams)
P_SAFETY = 0  # abr.throughput.bandwidthSafetyFactor (0.9)
P_SWITCH_S = 1  # abr.hybridSwitchBufferTime (12 s); BOLA from here, throughput below half of it
P_IBR_SAFETY = 2  # insufficientBufferRule.throughputSafetyFactor (0.7)
P_IBR_IGNORE = 3  # insufficientBufferRule.segmentIgnoreCount (2)
P_HISTORY_SIZE = 4  # switchHistoryRule.sampleSize (8)
P_HISTORY_THRESHOLD = 5  # switchHistoryRule.switchPercentageThreshold (0.075)
P_BUFFER_TIME_S = 6  # buffer.bufferTimeDefault (18 s): BOLA's buffer time
P_STALL_S = 7  # buffer.stallThreshold (0.3 s): at most this buffer is "empty"
P_BOLA_MIN_BUFFER_S = 8  # BolaRule MINIMUM_BUFFER_S (10 s)
P_BOLA_PER_LEVEL_S = 9  # BolaRule MINIMUM_BUFFER_PER_BITRATE_LEVEL_S (2 s)
P_PLACEHOLDER_DECAY = 10  # BolaRule PLACEHOLDER_BUFFER_DECAY (0.99)
P_USE_BOLA = 11  # rules.bolaRule.active
P_USE_THROUGHPUT = 12  # rules.throughputRule.active
P_USE_IBR = 13  # rules.insufficientBufferRule.active
P_USE_HISTORY = 14  # rules.switchHistoryRule.active
N_PARAMS = 15

#: Largest switch-history sample size the state has room for.
MAX_HISTORY = 20

# state (cstate[:CTRL_STATE]); utilities in cstate[CTRL_STATE:CTRL_STATE + n]
R_IS_BOLA = 0
R_BOLA_STATE = 1  # 0: not created yet, 1: startup, 2: steady, 3: one bitrate
R_PLACEHOLDER_S = 2
R_VP = 3
R_GP = 4
R_APPENDED = 5  # segments appended (the insufficient-buffer rule's ignore count)
R_LAST_SEGMENT_S = 6  # duration of the last segment loaded since BOLA's state exists (NaN: none)
R_HIST_N = 7  # entries in the switch history
R_HIST_HEAD = 8  # oldest entry
R_HIST = 9  # MAX_HISTORY pairs (from rung, dropped 0/1)
R_MOST_ADVANCED = R_HIST + 2 * MAX_HISTORY  # the furthest segment loaded (BolaRule mostAdvancedSegmentStart)
R_SIZE = R_MOST_ADVANCED + 1

NO_CHANGE = -1


@njit
def rung_for(bitrates_bps, bps):
    """``AbrController.getOptimalRepresentationForBitrate``: the highest rung at most ``bps``
    (the lowest when none is, or ``bps`` <= 0)."""
    q = 0
    if not bps > 0.0:
        return 0
    for i in range(bitrates_bps.size):
        if bitrates_bps[i] <= bps:
            q = i
    return q


@njit
def dashjs5_start(cparams, cstate, bitrates_bps, chunk_s, ctrl_state):
    cstate[R_IS_BOLA] = 0.0  # DYNAMIC starts with the throughput rule (registerStreamType)
    cstate[R_LAST_SEGMENT_S] = np.nan
    cstate[R_MOST_ADVANCED] = -1.0
    n = bitrates_bps.size
    u = cstate[ctrl_state: ctrl_state + n]
    for i in range(n):
        u[i] = math.log(bitrates_bps[i]) - math.log(bitrates_bps[0]) + 1.0  # BolaRule _getInitialBolaState


@njit
def _min_level(cstate, u, bitrates_bps, q):
    """BolaRule ``_minBufferLevelForRepresentation``: the lowest buffer at which BOLA prefers ``q``."""
    vp = cstate[R_VP]
    gp = cstate[R_GP]
    level = 0.0
    for i in range(q - 1, -1, -1):
        if u[i] < u[q]:
            b, bi = bitrates_bps[q], bitrates_bps[i]
            level = max(level, vp * (gp + (b * u[i] - bi * u[q]) / (b - bi)))
    return level


@njit
def _bola(cparams, cstate, u, level_s, prev_rung, bitrates_bps, safe_bps):
    """BolaRule.getSwitchRequest: (rung or NO_CHANGE, delay_s)."""
    n = bitrates_bps.size
    state = cstate[R_BOLA_STATE]
    if state == 0.0:
        if n < 2 or u[n - 1] <= u[0]:
            cstate[R_BOLA_STATE] = 3.0
        else:
            buffer_time = max(cparams[P_BUFFER_TIME_S], cparams[P_BOLA_MIN_BUFFER_S] + cparams[P_BOLA_PER_LEVEL_S] * n)
            gp = (u[n - 1] - 1.0) / (buffer_time / cparams[P_BOLA_MIN_BUFFER_S] - 1.0)
            cstate[R_GP] = gp
            cstate[R_VP] = cparams[P_BOLA_MIN_BUFFER_S] / gp
            cstate[R_BOLA_STATE] = 1.0
            cstate[R_PLACEHOLDER_S] = 0.0
            cstate[R_LAST_SEGMENT_S] = np.nan
        state = cstate[R_BOLA_STATE]
    if state == 3.0:
        return NO_CHANGE, 0.0
    if state == 1.0:  # _handleBolaStateStartup
        if np.isnan(safe_bps):
            return NO_CHANGE, 0.0
        q = rung_for(bitrates_bps, safe_bps)
        cstate[R_PLACEHOLDER_S] = max(0.0, _min_level(cstate, u, bitrates_bps, q) - level_s)
        if not np.isnan(cstate[R_LAST_SEGMENT_S]) and level_s >= cstate[R_LAST_SEGMENT_S]:
            cstate[R_BOLA_STATE] = 2.0
        return q, 0.0
    # _handleBolaStateSteady (the time since the last segment was added to the placeholder as it passed)
    vp = cstate[R_VP]
    gp = cstate[R_GP]
    ph = cstate[R_PLACEHOLDER_S]
    effective = level_s + ph
    q = 0
    score = np.nan
    for i in range(n):
        s = (vp * (u[i] - 1.0 + gp) - effective) / bitrates_bps[i]
        if np.isnan(score) or s >= score:
            score = s
            q = i
    qt = rung_for(bitrates_bps, safe_bps)
    cur = max(prev_rung, 0)
    if q > cur and q > qt:
        q = qt if qt > cur else cur
    delay = max(0.0, effective - vp * (u[q] + gp))
    if delay <= ph:
        ph -= delay
        delay = 0.0
    else:
        delay -= ph
        ph = 0.0
        if q == n - 1:
            delay = 0.0
    cstate[R_PLACEHOLDER_S] = ph
    return q, delay


@njit
def _history_cap(cparams, cstate, n):
    """SwitchHistoryRule: a cap from the last decisions, or NO_CHANGE."""
    count = int(cstate[R_HIST_N])
    head = int(cstate[R_HIST_HEAD])
    drops = 0.0
    no_drops = 0.0
    for i in range(n):
        d = 0.0
        nd = 0.0
        seen = False
        for j in range(count):
            k = (head + j) % MAX_HISTORY
            if int(cstate[R_HIST + 2 * k]) == i:
                seen = True
                d += cstate[R_HIST + 2 * k + 1]
                nd += 1.0 - cstate[R_HIST + 2 * k + 1]
        if not seen:
            continue
        drops += d
        no_drops += nd
        if drops + no_drops >= cparams[P_HISTORY_SIZE] and drops > cparams[P_HISTORY_THRESHOLD] * no_drops:
            return i - 1 if (i > 0 and d > 0) else i
    return NO_CHANGE


@njit
def _history_push(cparams, cstate, current, new):
    size = min(int(cparams[P_HISTORY_SIZE]), MAX_HISTORY)
    count = int(cstate[R_HIST_N])
    head = int(cstate[R_HIST_HEAD])
    k = (head + count) % MAX_HISTORY
    cstate[R_HIST + 2 * k] = current
    cstate[R_HIST + 2 * k + 1] = 1.0 if new < current else 0.0
    if count + 1 > size:
        cstate[R_HIST_HEAD] = (head + 1) % MAX_HISTORY
    else:
        cstate[R_HIST_N] = count + 1


@njit
def dashjs5_choose(cparams, cstate, k, buffer_s, prev_rung, bitrates_bps, chunk_s, est_bps, ctrl_state):
    """(rung, wait_s) for the next segment: the minimum of the active rules (see the module docstring)."""
    n = bitrates_bps.size
    u = cstate[ctrl_state: ctrl_state + n]
    avg = est_bps
    safe = avg * cparams[P_SAFETY]
    empty = buffer_s <= cparams[P_STALL_S] and k > 0
    use_bola = cparams[P_USE_BOLA] != 0.0
    use_tput = cparams[P_USE_THROUGHPUT] != 0.0
    if use_bola and use_tput:
        on = cparams[P_SWITCH_S]
        threshold = 0.5 * on if cstate[R_IS_BOLA] != 0.0 else on
        cstate[R_IS_BOLA] = 1.0 if buffer_s >= threshold else 0.0
    elif use_bola:
        cstate[R_IS_BOLA] = 1.0
    else:
        cstate[R_IS_BOLA] = 0.0
    if empty and cstate[R_BOLA_STATE] == 2.0:
        cstate[R_PLACEHOLDER_S] = 0.0  # BolaRule _onBufferEmpty
    best = NO_CHANGE
    delay = 0.0
    if cstate[R_IS_BOLA] != 0.0 and use_bola:
        best, delay = _bola(cparams, cstate, u, buffer_s, prev_rung, bitrates_bps, safe)
    elif use_tput and not np.isnan(safe) and not empty:
        best = rung_for(bitrates_bps, safe)
    if cparams[P_USE_IBR] != 0.0 and cstate[R_APPENDED] >= cparams[P_IBR_IGNORE]:
        cap = NO_CHANGE
        if empty:
            cap = 0
        else:
            bps = avg * cparams[P_IBR_SAFETY] * buffer_s / chunk_s
            if bps > 0.0:
                cap = rung_for(bitrates_bps, bps)
        if cap != NO_CHANGE and (best == NO_CHANGE or cap < best):
            best = cap
    if cparams[P_USE_HISTORY] != 0.0:
        cap = _history_cap(cparams, cstate, n)
        if cap != NO_CHANGE and (best == NO_CHANGE or cap < best):
            best = cap
    if best == NO_CHANGE:
        return max(prev_rung, 0), 0.0
    if prev_rung >= 0:
        _history_push(cparams, cstate, prev_rung, best)
    return best, delay


@njit
def dashjs5_report(cparams, cstate, k, rung, download_s, buffer_s, bitrates_bps, chunk_s, ctrl_state):
    """Segment ``k`` was appended: the insufficient-buffer rule's count, BOLA's placeholder
    bookkeeping (``_onMediaFragmentLoaded`` / ``_checkNewSegment``): decay, cap, and one segment
    more for a replacement (a segment no further than the furthest loaded), which fills no buffer."""
    cstate[R_APPENDED] += 1.0
    replacement = k <= cstate[R_MOST_ADVANCED]
    if not replacement:
        cstate[R_MOST_ADVANCED] = k
    state = cstate[R_BOLA_STATE]
    if state == 1.0 or state == 2.0:
        n = bitrates_bps.size
        u = cstate[ctrl_state: ctrl_state + n]
        cstate[R_LAST_SEGMENT_S] = chunk_s
        ph = cstate[R_PLACEHOLDER_S] * cparams[P_PLACEHOLDER_DECAY]
        at_request = buffer_s + download_s
        cap = max(0.0, cstate[R_VP] * (u[rung] + cstate[R_GP]) - at_request)
        cstate[R_PLACEHOLDER_S] = min(cap, ph)
        if replacement:
            cstate[R_PLACEHOLDER_S] += chunk_s


@njit
def dashjs5_idle(cparams, cstate, wait_s):
    """The player idled: BOLA counts the time since the last segment into its placeholder
    (``_updatePlaceholderBuffer``)."""
    if cstate[R_BOLA_STATE] == 2.0:
        cstate[R_PLACEHOLDER_S] += wait_s
