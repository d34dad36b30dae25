"""Sabre's ABR rules (BOLA, BOLA-E, the throughput rule, DYNAMIC, DynamicDash), compiled.

Units are Sabre's: time in ms, sizes in bits, rates in kbit/s. Each rule reads and writes the
event kernel's state vector ``st`` (``event_layout.S_*``) and its config ``cfg`` (``C_*``); the
buffer level is passed in, so the same rules run in the event model (``event.py``), where the
player keeps ``st``, and, through ``contract.py``, in the chunk model, which keeps ``st`` in the
controller state. Every operation follows Sabre's ``sabre.py`` in order, because the ``sabre``
profile must print Sabre's numbers to the last decimal.
"""

from __future__ import annotations

import numpy as np

from .._jit import njit, njit_inline
from .event_layout import (
    C_BASIC,
    C_BOLA_SCORE_SHIFT,
    C_BOLA_TIES_UP,
    C_BOLAE_BUFFER_TIME_MS,
    C_BOLAE_MIN_BUFFER_MS,
    C_BOLAE_MIN_BUFFER_PER_LEVEL_MS,
    C_BUFFER_MS,
    C_DASH_HIGH_MS,
    C_DASH_INCLUSIVE,
    C_DASH_LOW_MS,
    C_DYNAMIC_LOW_MS,
    C_FIXED_QUALITY,
    C_GAMMA_P,
    C_IBR_SAFETY_INIT,
    C_IBR_SAFETY_MIN,
    C_NO_IBR,
    C_OSC,
    C_SAFETY,
    C_ABR,
    EV_BOLA,
    EV_BOLAE,
    EV_DYNAMIC,
    EV_DYNAMICDASH,
    EV_THROUGHPUT,
    S_BOLA_LAST,
    S_BOLA_VP,
    S_BOLAE_GP,
    S_BOLAE_IBR_SAFETY,
    S_BOLAE_LAST,
    S_BOLAE_PLACEHOLDER,
    S_BOLAE_STEADY,
    S_BOLAE_VP,
    S_IS_BOLA,
    S_LATENCY,
    S_THROUGHPUT,
    S_TPUT_IBR_SAFETY,
)

#: Sentinel for "no abandonment" (Sabre's None); a replacement that is given up returns -1.
NO_ABANDON = -100

# -- controllers -----------------------------------------------------------------------------------------


@njit_inline
def quality_from_throughput(tput_kbps, latency_ms, seg_ms, bitrates):
    """Highest quality whose segment, after the latency, downloads within one segment time."""
    q = 0
    while q + 1 < bitrates.size and latency_ms + seg_ms * bitrates[q + 1] / tput_kbps <= seg_ms:
        q += 1
    return q


@njit
def bola_quality_from_buffer(level_ms, vp, gp, utilities, bitrates, shift, ties_up):
    """BOLA's choice: argmax over q of (Vp (u_q + shift + gp) - level) / bitrate_q.

    Sabre and dash.js 4: ``shift = 0`` (dash.js 4.7.4 BolaRule.js:194); dash.js 5:
    ``shift = -1`` (BolaRule.js:313), the score of dash.js 4 at ``level + Vp``. On a tie the
    first (lower) rung wins (Sabre), or with ``ties_up`` != 0 the later one (dash.js's ``>=``,
    :314). ``u + 0.0`` is ``u`` exactly, so ``shift = 0`` keeps Sabre's arithmetic. Both are
    floats (the config's values), so every caller shares one compiled version.
    """
    quality = 0
    score = 0.0
    for q in range(bitrates.size):
        s = (vp * ((utilities[q] + shift) + gp) - level_ms) / bitrates[q]
        if q == 0 or s > score or (ties_up != 0.0 and s == score):
            quality = q
            score = s
    return quality


@njit
def bolae_min_buffer(quality, vp, gp, utilities, bitrates):
    """Lowest buffer at which BOLA prefers ``quality`` to every lower quality."""
    b = bitrates[quality]
    u = utilities[quality]
    level = 0.0
    for q in range(quality):
        if utilities[q] < u:
            l = vp * (gp + (b * utilities[q] - bitrates[q] * u) / (b - bitrates[q]))
            level = max(level, l)
    return level


@njit
def bola_decide(st, cfg, seg_idx, n_seg, level_ms, seg_ms, bitrates, utilities):
    """Sabre's Bola.get_quality_delay: (quality, delay_ms). Updates Vp and the last quality."""
    gp = cfg[C_GAMMA_P]
    if cfg[C_BASIC] == 0.0:
        # near the start and the end, BOLA works with a smaller virtual buffer
        t = float(min(seg_idx, n_seg - seg_idx))  # Sabre's last_seek_index is 0 without seeks
        t = max(t / 2, 3.0)
        t = t * seg_ms
        size = min(cfg[C_BUFFER_MS], t)
        st[S_BOLA_VP] = (size - seg_ms) / (utilities[utilities.size - 1] + gp)
    vp = st[S_BOLA_VP]
    quality = bola_quality_from_buffer(level_ms, vp, gp, utilities, bitrates, 0.0, 0.0)
    delay = 0.0
    last = int(st[S_BOLA_LAST])
    if quality > last:
        quality_t = quality_from_throughput(st[S_THROUGHPUT], st[S_LATENCY], seg_ms, bitrates)
        if quality <= quality_t:
            delay = 0.0
        elif last > quality_t:
            quality = last
        elif cfg[C_OSC] == 0.0:
            quality = quality_t + 1
        else:
            quality = quality_t
            l = vp * (gp + utilities[quality])
            delay = max(0.0, level_ms - l)
            if quality == bitrates.size - 1:
                delay = 0.0
    st[S_BOLA_LAST] = quality
    return quality, delay


@njit
def ibr_limit(safety, level_ms, latency_ms, tput_kbps, quality, seg_ms, bitrates):
    """Insufficient-buffer rule: the highest quality <= ``quality`` whose segment fits in
    safety x (buffer - latency) x throughput bits (quality 0 always fits)."""
    safe_size = safety * (level_ms - latency_ms) * tput_kbps
    for q in range(quality):
        if bitrates[q + 1] * seg_ms > safe_size:
            return q
    return quality


@njit
def bolae_decide(st, cfg, level_ms, seg_ms, bitrates, utilities1):
    """Sabre's BolaEnh.get_quality_delay: (quality, delay_ms).

    ``C_BOLA_SCORE_SHIFT`` / ``C_BOLA_TIES_UP`` change only the choice from buffer + placeholder,
    as dash.js 5 does (BolaRule.js:313-314); the startup placeholder, the pause (max level) and
    the insufficient-buffer placeholder keep the form Vp (u + gp), as they do in dash.js 5
    (:329-331, :418-436)."""
    vp = st[S_BOLAE_VP]
    gp = st[S_BOLAE_GP]
    tput = st[S_THROUGHPUT]
    if st[S_BOLAE_STEADY] == 0.0:
        if np.isnan(tput):
            return int(st[S_BOLAE_LAST]), 0.0
        st[S_BOLAE_STEADY] = 1.0
        st[S_BOLAE_IBR_SAFETY] = cfg[C_IBR_SAFETY_INIT]
        quality = quality_from_throughput(tput, st[S_LATENCY], seg_ms, bitrates)
        st[S_BOLAE_PLACEHOLDER] = max(0.0, bolae_min_buffer(quality, vp, gp, utilities1, bitrates) - level_ms)
        return quality, 0.0

    quality = bola_quality_from_buffer(
        level_ms + st[S_BOLAE_PLACEHOLDER], vp, gp, utilities1, bitrates, cfg[C_BOLA_SCORE_SHIFT], cfg[C_BOLA_TIES_UP]
    )
    quality_t = quality_from_throughput(tput, st[S_LATENCY], seg_ms, bitrates)
    last = int(st[S_BOLAE_LAST])
    if quality > last and quality > quality_t:
        quality = max(last, quality_t)
        if cfg[C_OSC] == 0.0:
            quality += 1
    max_level = vp * (utilities1[quality] + gp)
    delay = level_ms + st[S_BOLAE_PLACEHOLDER] - max_level
    if delay > 0:
        if delay <= st[S_BOLAE_PLACEHOLDER]:
            st[S_BOLAE_PLACEHOLDER] -= delay
            delay = 0.0
        else:
            delay -= st[S_BOLAE_PLACEHOLDER]
            st[S_BOLAE_PLACEHOLDER] = 0.0
    else:
        delay = 0.0
    if quality == bitrates.size - 1:
        delay = 0.0
    if cfg[C_NO_IBR] == 0.0:
        safety = st[S_BOLAE_IBR_SAFETY]
        st[S_BOLAE_IBR_SAFETY] = max(safety * cfg[C_IBR_SAFETY_INIT], cfg[C_IBR_SAFETY_MIN])
        limited = ibr_limit(safety, level_ms, st[S_LATENCY], tput, quality, seg_ms, bitrates)
        if limited < quality:
            quality = limited
            delay = 0.0
            min_level = bolae_min_buffer(quality, vp, gp, utilities1, bitrates)
            st[S_BOLAE_PLACEHOLDER] = min(max(0.0, min_level - level_ms), st[S_BOLAE_PLACEHOLDER])
    return quality, delay


@njit
def bolae_report(st, cfg, quality, time_ms, abandon_to, is_replacement, level_ms, seg_ms, bitrates, utilities1):
    """Sabre's BolaEnh.report_download: keep the placeholder consistent with the download."""
    vp = st[S_BOLAE_VP]
    gp = st[S_BOLAE_GP]
    st[S_BOLAE_LAST] = quality
    if abandon_to == NO_ABANDON:
        if is_replacement:
            st[S_BOLAE_PLACEHOLDER] += seg_ms
        else:
            level_was = level_ms + time_ms
            max_placeholder = max(0.0, vp * (utilities1[quality] + gp) - level_was)
            st[S_BOLAE_PLACEHOLDER] = min(st[S_BOLAE_PLACEHOLDER], max_placeholder)
            if level_ms > 0:  # do not inflate the placeholder while rebuffering
                min_placeholder = bolae_min_buffer(quality, vp, gp, utilities1, bitrates) - level_was
                st[S_BOLAE_PLACEHOLDER] = max(st[S_BOLAE_PLACEHOLDER], min_placeholder)
    elif not is_replacement:
        # an abandonment means the placeholder was too optimistic: lower it
        if abandon_to > 0:
            want = bolae_min_buffer(abandon_to, vp, gp, utilities1, bitrates)
        else:
            want = cfg[C_BOLAE_MIN_BUFFER_MS]
        st[S_BOLAE_PLACEHOLDER] = min(st[S_BOLAE_PLACEHOLDER], max(0.0, want - level_ms))


@njit
def throughput_decide(st, cfg, level_ms, seg_ms, bitrates):
    """Sabre's ThroughputRule.get_quality_delay (never delays)."""
    tput = st[S_THROUGHPUT]
    quality = quality_from_throughput(tput * cfg[C_SAFETY], st[S_LATENCY], seg_ms, bitrates)
    if cfg[C_NO_IBR] == 0.0:
        safety = st[S_TPUT_IBR_SAFETY]
        st[S_TPUT_IBR_SAFETY] = max(safety * cfg[C_IBR_SAFETY_INIT], cfg[C_IBR_SAFETY_MIN])
        quality = ibr_limit(safety, level_ms, st[S_LATENCY], tput, quality, seg_ms, bitrates)
    return quality


@njit
def controller_decide(st, cfg, level, seg_idx, n_seg, seg_ms, bitrates, utilities0, utilities1):
    """Dispatch ``get_quality_delay`` on the controller id, at buffer ``level`` ms: (quality, delay_ms)."""
    abr = int(cfg[C_ABR])
    if abr == EV_BOLA:
        return bola_decide(st, cfg, seg_idx, n_seg, level, seg_ms, bitrates, utilities0)
    if abr == EV_BOLAE:
        return bolae_decide(st, cfg, level, seg_ms, bitrates, utilities1)
    if abr == EV_THROUGHPUT:
        return throughput_decide(st, cfg, level, seg_ms, bitrates), 0.0
    if abr == EV_DYNAMIC:
        # Sabre asks both rules every segment (both update their state), then picks one
        qb, db = bola_decide(st, cfg, seg_idx, n_seg, level, seg_ms, bitrates, utilities0)
        qt = throughput_decide(st, cfg, level, seg_ms, bitrates)
        if st[S_IS_BOLA] != 0.0:
            if level < cfg[C_DYNAMIC_LOW_MS] and qb < qt:
                st[S_IS_BOLA] = 0.0
        elif level > cfg[C_DYNAMIC_LOW_MS] and qb >= qt:
            st[S_IS_BOLA] = 1.0
        if st[S_IS_BOLA] != 0.0:
            return qb, db
        return qt, 0.0
    if abr == EV_DYNAMICDASH:
        if st[S_IS_BOLA] != 0.0 and level < cfg[C_DASH_LOW_MS]:
            st[S_IS_BOLA] = 0.0
        elif st[S_IS_BOLA] == 0.0:
            high = cfg[C_DASH_HIGH_MS]
            if level > high or (cfg[C_DASH_INCLUSIVE] != 0.0 and level >= high):
                st[S_IS_BOLA] = 1.0
        if st[S_IS_BOLA] != 0.0:
            return bolae_decide(st, cfg, level, seg_ms, bitrates, utilities1)
        return throughput_decide(st, cfg, level, seg_ms, bitrates), 0.0
    return min(int(cfg[C_FIXED_QUALITY]), bitrates.size - 1), 0.0


@njit
def controller_report(st, cfg, quality, time_ms, abandon_to, is_replacement, level_ms, seg_ms, bitrates, utilities1):
    """Dispatch ``report_download`` (only BOLA-E keeps state from it; Dynamic drops BOLA on replacement)."""
    abr = int(cfg[C_ABR])
    if abr == EV_BOLAE or abr == EV_DYNAMICDASH:
        bolae_report(st, cfg, quality, time_ms, abandon_to, is_replacement, level_ms, seg_ms, bitrates, utilities1)
    elif abr == EV_DYNAMIC and is_replacement:
        st[S_IS_BOLA] = 0.0



@njit
def init_controller(st, cfg, seg_ms, bitrates, utilities0, utilities1):
    """Constructor work of Sabre's controllers (Vp, gamma-p and initial safeties).

    BOLA-E's buffer time is the player's buffer (Sabre) unless ``C_BOLAE_BUFFER_TIME_MS`` > 0
    (dash.js: ``bufferTimeDefault``, BolaRule.js:221, 257)."""
    n = bitrates.size
    gp = cfg[C_GAMMA_P]
    st[S_BOLA_VP] = (cfg[C_BUFFER_MS] - seg_ms) / (utilities0[n - 1] + gp)
    buffer_time = cfg[C_BUFFER_MS]
    if cfg[C_BOLAE_BUFFER_TIME_MS] > 0:
        buffer_time = cfg[C_BOLAE_BUFFER_TIME_MS]
    if cfg[C_NO_IBR] != 0.0:
        st[S_BOLAE_GP] = gp - 1  # matches BOLA-BASIC's utilities (BOLA-E's start at 1)
        st[S_BOLAE_VP] = (buffer_time - seg_ms) / (utilities1[n - 1] + st[S_BOLAE_GP])
    else:
        min_buf = cfg[C_BOLAE_MIN_BUFFER_MS]
        size = min_buf + cfg[C_BOLAE_MIN_BUFFER_PER_LEVEL_MS] * n
        size = max(size, buffer_time)
        st[S_BOLAE_GP] = (utilities1[n - 1] - 1) / (size / min_buf - 1)
        # one rung: gp = 0 and every choice is that rung; Vp only has to be finite (Sabre divides by zero)
        st[S_BOLAE_VP] = min_buf / st[S_BOLAE_GP] if st[S_BOLAE_GP] > 0 else 0.0
    st[S_TPUT_IBR_SAFETY] = cfg[C_IBR_SAFETY_INIT]
