"""A plain-Python model of the Sabre ABR simulator (Spiteri et al., UMass-LIDS/sabre, src/sabre.py).

What it is: an independent re-implementation, for tests only, of one Sabre session: the network
trace (periods of bandwidth and latency, looped when the movie outlasts it), the playback buffer,
the throughput estimators (``ewma``, ``sliding``), the ABR rules (``bola``, ``bolae``,
``throughput``, ``dynamic``, ``dynamicdash``), download abandonment and the ``left``/``right``
replacement strategies. :func:`run_sabre` returns every metric Sabre prints, in the units it prints
them, plus one :class:`Download` record per request so a kernel can be compared chunk by chunk.
Seeking and custom ``.py`` modules are not modelled.

What it reproduces, exactly (every expression keeps Sabre's order of floating-point operations):
sizes in bits, times in ms, rates in kbit/s (= bit/ms); one latency per request before its first
bit; the buffer cap (wait until a segment fits, reported to the ABR); ABR-requested waits (not
reported to the ABR); progress polled for abandonment after every 50 ms *or* 12000 bits, whichever
is larger; throughput-estimate accuracy counters; ramp-up time against the network's sustainable
quality; the reaction-time bookkeeping; and Sabre's own quirks, listed where they happen.

Two defects of Sabre are kept by default:

1. The quality chosen by an abandonment is never used: Sabre's main loop stores it in
   ``abandon_to_quality`` but tests ``abandoned_to_quality`` (always None), so after an
   abandonment the ABR simply decides again. ``apply_abandon_quality=True`` fixes it: the next
   request is the abandoned segment at the quality the abandonment chose, with no wait.
2. A custom replacement module (``-r my.py``) is loaded and then overwritten by ``NoReplace``
   because the ``left``/``right``/else chain that follows is a separate ``if``. Custom modules
   are out of scope here, so there is nothing to fix; ``replace`` accepts only none/left/right.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Callable, Optional, Sequence

#: Abandonment is considered after at least this much progress (Sabre's NetworkModel constants).
MIN_PROGRESS_BITS = 12000
MIN_PROGRESS_MS = 50

#: One request. ``time`` includes ``time_to_first_bit``; ``abandon_to`` is the quality an
#: abandonment chose (-1 when a replacement was given up), else None; ``buffer_level`` is the buffer
#: in ms after the download was played against and the segment (if complete) was added;
#: ``request_time`` is the network clock at the request, ``wait`` the idle ms before it (full
#: buffer + the ABR's delay) and ``estimate`` the throughput estimate the decision saw (abrkit's
#: additions, for comparing the compiled kernel's log row by row).
Download = namedtuple(
    "Download",
    "index quality size downloaded time time_to_first_bit abandon_to replacement buffer_level "
    "request_time wait estimate",
)

METRICS = (
    "buffer_size", "total_played_utility", "time_average_played_utility", "total_played_bitrate",
    "time_average_played_bitrate", "total_play_time", "total_play_time_chunks", "total_rebuffer",
    "rebuffer_ratio", "time_average_rebuffer", "total_rebuffer_events",
    "time_average_rebuffer_events", "total_bitrate_change", "time_average_bitrate_change",
    "total_log_bitrate_change", "time_average_log_bitrate_change", "time_average_score",
    "over_estimate_count", "over_estimate", "leq_estimate_count", "leq_estimate", "estimate",
    "rampup_time", "total_reaction_time",
)


class _Session:
    """Network cursor, playback buffer and the metrics Sabre accumulates (its globals)."""

    def __init__(self, periods, segment_ms, bitrates, sizes, buffer_ms, rampup_threshold, log):
        self.seg = segment_ms
        self.bitrates = list(bitrates)
        offset = 0 - math.log(self.bitrates[0])  # utility of the lowest rung is 0
        self.utilities = [math.log(b) + offset for b in self.bitrates]
        self.sizes = sizes
        self.buffer_ms = buffer_ms  # Sabre's buffer_size and max_buffer_size are the same value
        self.log = log

        self.throughput = None  # estimates, set by the first push to the history
        self.latency = None

        self.buf = []  # qualities of the buffered segments, the playing one first
        self.fcc = 0  # ms of buf[0] already played
        self.play_time = 0  # ms, includes the startup download and rebuffering
        self.rebuffer_time = 0
        self.rebuffer_events = 0
        self.played_utility = 0
        self.played_bitrate = 0
        self.bitrate_change = 0
        self.log_bitrate_change = 0
        self.last_played = None
        self.rampup_origin = 0
        self.rampup_time = None
        self.rampup_threshold = rampup_threshold
        self.pending_up = []  # [network time, quality] or [.., .., time the quality was played]
        self.played = []  # (quality, ms stalled just before it started): abrkit's per-segment view
        self.stall = 0
        self.reaction_time = 0

        self.durations = [p[0] for p in periods]
        self.bandwidths = [p[1] for p in periods]
        self.latencies = [p[2] for p in periods]
        self.period = -1
        self.time_to_next = 0
        self.net_time = 0
        self.sustainable = None
        self._next_period()

    def level(self):
        return self.seg * len(self.buf) - self.fcc

    # ----------------------------------------------------------------- playback

    def play(self, time):
        """Play ``time`` ms from the buffer; time not covered by it is rebuffering."""
        buf = self.buf
        seg = self.seg
        if not buf:
            # Quirk: stalling on an already empty buffer adds rebuffer time but no rebuffer
            # event, and skips the reaction-time maturing below.
            self.rebuffer_time += time
            self.play_time += time
            self.stall += time
            return
        if self.fcc > 0:
            if time + self.fcc < seg:
                self.fcc += time
                self.play_time += time
                return  # quirk: no reaction-time maturing on this path either
            time -= seg - self.fcc
            self.play_time += seg - self.fcc
            buf.pop(0)
            self.fcc = 0
        bitrates = self.bitrates
        while time > 0 and buf:
            # A segment is scored (utility, bitrate, switches, ramp-up) when it starts playing.
            q = buf[0]
            self.played.append((q, self.stall))
            self.stall = 0
            self.played_utility += self.utilities[q]
            self.played_bitrate += bitrates[q]
            last = self.last_played
            if q != last and last is not None:
                self.bitrate_change += abs(bitrates[q] - bitrates[last])
                self.log_bitrate_change += abs(math.log(bitrates[q] / bitrates[last]))
            self.last_played = q
            if self.rampup_time is None:
                # Against the sustainable quality of the network period current *now*.
                target = self.rampup_threshold
                if target is None:
                    target = self.sustainable
                if q >= target:
                    self.rampup_time = self.play_time - self.rampup_origin
            for p in self.pending_up:
                if len(p) == 2 and q >= p[1]:
                    p.append(self.play_time)
            if time >= seg:
                buf.pop(0)
                self.play_time += seg
                time -= seg
            else:
                self.fcc = time
                self.play_time += time
                time = 0
        if time > 0:
            self.rebuffer_time += time
            self.play_time += time
            self.stall += time
            self.rebuffer_events += 1
        self._mature(self.play_time)

    def play_out(self):
        self.play(self.level())
        self.buf.clear()  # Sabre drops any rounding residue
        self.fcc = 0

    # ----------------------------------------------------- reaction-time bookkeeping

    def _mature(self, now):
        # A rise in sustainable quality gets its reaction time once a whole buffer has passed;
        # it is capped at the buffer size (and is the buffer size if never reached).
        cutoff = now - self.buffer_ms
        pending = self.pending_up
        while pending and pending[0][0] < cutoff:
            p = pending.pop(0)
            if len(p) == 2:
                self.reaction_time += self.buffer_ms
            else:
                self.reaction_time += min(self.buffer_ms, p[2] - p[0])

    def _quality_changed(self, quality, previous):
        now = self.net_time
        self._mature(now)
        for p in self.pending_up:
            if len(p) == 2 and p[1] > quality:
                p.append(now)  # the network fell below it again: done
        if quality <= previous:
            return
        if any(quality <= q for q in self.buf):
            return  # already buffered at this quality or better
        if any(quality <= p[1] for p in self.pending_up):
            return
        self.pending_up.append([now, quality])

    # ----------------------------------------------------------------- network

    def _next_period(self):
        self.period += 1
        if self.period == len(self.durations):
            self.period = 0  # the trace loops
        i = self.period
        self.time_to_next = self.durations[i]
        # Sustainable quality: the highest rung below the bandwidth left after one latency per
        # segment (rung 0 even when that does not fit).
        effective = self.bandwidths[i] * (1 - self.latencies[i] / self.seg)
        previous = self.sustainable
        quality = 0
        for q in range(1, len(self.bitrates)):
            if self.bitrates[q] > effective:
                break
            quality = q
        self.sustainable = quality
        if quality != previous and previous is not None:
            self._quality_changed(quality, previous)
        if self.log is not None:
            self.log("[%d] Network: %d,%d  (q=%d: bitrate=%d)" % (
                round(self.net_time), self.bandwidths[i], self.latencies[i], quality,
                self.bitrates[quality]))

    def wait(self, time):
        while time > self.time_to_next:
            time -= self.time_to_next
            self.net_time += self.time_to_next
            self._next_period()
        self.time_to_next -= time
        self.net_time += time

    def _latency(self, units):
        """Time for ``units`` round trips; a latency change mid-way rescales what is left."""
        total = 0
        while units > 0:
            lat = self.latencies[self.period]
            time = units * lat
            if time <= self.time_to_next:
                total += time
                self.net_time += time
                self.time_to_next -= time
                units = 0
            else:
                total += self.time_to_next
                self.net_time += self.time_to_next
                units -= self.time_to_next / lat
                self._next_period()
        return total

    def _transfer(self, size):
        total = 0
        while size > 0:
            bw = self.bandwidths[self.period]
            if size <= self.time_to_next * bw:
                time = size / bw
                total += time
                self.net_time += time
                self.time_to_next -= time
                size = 0
            else:
                total += self.time_to_next
                self.net_time += self.time_to_next
                size -= self.time_to_next * bw
                self._next_period()
        return total

    def _transfer_some(self, size, min_size, min_time):
        """Transfer until ``min_size`` bits *and* ``min_time`` ms have passed (or ``size`` is done).

        The goal is re-evaluated after every period boundary from what is left of both minima.
        Returns (bits, ms).
        """
        got = 0
        spent = 0
        while size > 0 and (min_size > 0 or min_time > 0):
            bw = self.bandwidths[self.period]
            if bw > 0:
                goal = max(min_size, min_time * bw)
                to_next = self.time_to_next * bw
                if size <= goal and size <= to_next:
                    bits = size
                    time = bits / bw
                    self.time_to_next -= time
                    self.net_time += time
                elif goal <= to_next:
                    bits = goal
                    time = bits / bw
                    min_size = 0  # forces the loop to end whatever the rounding
                    min_time = 0
                    self.time_to_next -= time
                    self.net_time += time
                else:
                    bits = to_next
                    time = self.time_to_next
                    self.net_time += time
                    self._next_period()
            else:
                bits = 0
                # A dead period is skipped whole while bits are still owed.
                if min_size > 0 or min_time > self.time_to_next:
                    time = self.time_to_next
                    self.net_time += time
                    self._next_period()
                else:
                    time = min_time
                    self.time_to_next -= time
                    self.net_time += time
            got += bits
            spent += time
            size -= bits
            min_size -= bits
            min_time -= time
        return got, spent

    def fetch(self, size, quality, level, check):
        """One request: (downloaded bits, ms incl. latency, time to first bit, abandon_to).

        ``check(quality, size, downloaded, time, ttfb, level)`` is asked after every poll;
        ``level`` is the buffer at the request minus the time spent since (floored at 0).
        """
        if size <= 0:
            return 0, 0, 0, None
        if check is None:
            ttfb = self._latency(1)
            return size, ttfb + self._transfer(size), ttfb, None
        elapsed = 0
        ttfb = self._latency(1)
        elapsed += ttfb
        # The latency counts towards the first poll's 50 ms (not towards its 12000 bits).
        min_time = MIN_PROGRESS_MS - elapsed
        min_size = MIN_PROGRESS_BITS
        got = 0
        abandon = None
        while got < size and abandon is None:
            bits, time = self._transfer_some(size - got, min_size, min_time)
            elapsed += time
            got += bits
            if got < size:
                abandon = check(quality, size, got, elapsed, ttfb, max(0, level - elapsed))
                min_time = MIN_PROGRESS_MS
                min_size = MIN_PROGRESS_BITS
        return got, elapsed, ttfb, abandon


# ----------------------------------------------------------------------- throughput histories


class _Ewma:
    """Two (or more) EWMAs; the estimate is the smallest throughput and the largest latency."""

    def __init__(self, session, half_life_s):
        self.s = session
        self.half_life = [h * 1000 for h in half_life_s]
        # Latency is averaged per download, with half-lives counted in segments.
        self.latency_half_life = [h / session.seg for h in self.half_life]
        self.tput = [0] * len(self.half_life)
        self.lat = [0] * len(self.half_life)
        self.weight_tput = 0
        self.weight_lat = 0

    def push(self, time, tput, lat):
        for i, hl in enumerate(self.half_life):
            alpha = math.pow(0.5, time / hl)
            self.tput[i] = alpha * self.tput[i] + (1 - alpha) * tput
            alpha = math.pow(0.5, 1 / self.latency_half_life[i])
            self.lat[i] = alpha * self.lat[i] + (1 - alpha) * lat
        self.weight_tput += time
        self.weight_lat += 1
        best_t = best_l = None
        for i, hl in enumerate(self.half_life):
            # Zero-bias correction: the averages start from 0.
            t = self.tput[i] / (1 - math.pow(0.5, self.weight_tput / hl))
            best_t = t if best_t is None else min(best_t, t)
            lhl = self.latency_half_life[i]
            l = self.lat[i] / (1 - math.pow(0.5, self.weight_lat / lhl))
            best_l = l if best_l is None else max(best_l, l)
        self.s.throughput = best_t
        self.s.latency = best_l


class _Sliding:
    """Means over the last ``ws`` downloads for each window size; min throughput, max latency."""

    KEEP = 20

    def __init__(self, session, window_size):
        self.s = session
        self.window_size = list(window_size)
        self.tputs = []
        self.lats = []

    def push(self, time, tput, lat):
        self.tputs = (self.tputs + [tput])[-self.KEEP:]
        self.lats = (self.lats + [lat])[-self.KEEP:]
        best_t = best_l = None
        for ws in self.window_size:
            # Built-in sum() as Sabre does (plain left-to-right before Python 3.12).
            sample = self.tputs[-ws:]
            t = sum(sample) / len(sample)
            best_t = t if best_t is None else min(best_t, t)
            sample = self.lats[-ws:]
            l = sum(sample) / len(sample)
            best_l = l if best_l is None else max(best_l, l)
        self.s.throughput = best_t
        self.s.latency = best_l


# -------------------------------------------------------------------------------- ABR rules


class _Rule:
    def __init__(self, session):
        self.s = session

    def first_quality(self):
        return 0

    def decide(self, index):
        raise NotImplementedError

    def on_wait(self, delay):
        """Told about buffer-full waits only (Sabre never reports the ABR's own delays)."""

    def on_download(self, quality, abandon_to, time, replacement):
        pass

    def abandon(self, quality, size, downloaded, time, ttfb, level):
        return None

    def quality_for(self, tput):
        # Highest rung whose segment arrives within one segment time after one latency.
        s = self.s
        p = s.seg
        rates = s.bitrates
        q = 0
        while q + 1 < len(rates) and s.latency + p * rates[q + 1] / tput <= p:
            q += 1
        return q


class _Bola(_Rule):
    """BOLA as in Sabre's ``Bola``: utility log(b/b0), shrinking buffer target near the ends."""

    def __init__(self, session, buffer_ms, gamma_p, osc, basic):
        super().__init__(session)
        offset = -math.log(session.bitrates[0])
        self.utilities = [math.log(b) + offset for b in session.bitrates]
        self.gp = gamma_p
        self.buffer_ms = buffer_ms
        self.osc = osc
        self.basic = basic
        self.vp = (buffer_ms - session.seg) / (self.utilities[-1] + self.gp)
        self.last_quality = 0

    def _from_buffer(self, level):
        best_q = 0
        best = None
        for q, rate in enumerate(self.s.bitrates):
            score = (self.vp * (self.utilities[q] + self.gp) - level) / rate
            if best is None or score > best:
                best_q = q
                best = score
        return best_q

    def decide(self, index):
        s = self.s
        if not self.basic:
            # Target buffer: half the segments since start (no seeking) or left, at least 3.
            t = min(index - 0, len(s.sizes) - index)
            t = max(t / 2, 3)
            t = t * s.seg
            self.vp = (min(self.buffer_ms, t) - s.seg) / (self.utilities[-1] + self.gp)
        level = s.level()
        quality = self._from_buffer(level)
        delay = 0
        if quality > self.last_quality:
            quality_t = self.quality_for(s.throughput)
            if quality <= quality_t:
                delay = 0
            elif self.last_quality > quality_t:
                quality = self.last_quality
                delay = 0
            elif not self.osc:
                quality = quality_t + 1
                delay = 0
            else:
                quality = quality_t
                # Wait until the buffer drains to where BOLA would pick this quality.
                target = self.vp * (self.gp + self.utilities[quality])
                delay = max(0, s.level() - target)
                if quality == len(s.bitrates) - 1:
                    delay = 0
        self.last_quality = quality
        return quality, delay

    def abandon(self, quality, size, downloaded, time, ttfb, level):
        if self.basic:
            return None
        remain = size - downloaded
        if downloaded <= 0 or remain <= 0:
            return None
        best = None
        score = (self.vp * (self.gp + self.utilities[quality]) - level) / remain
        if score < 0:
            return None
        rates = self.s.bitrates
        for q in range(quality):
            other_size = size * rates[q] / rates[quality]
            other = (self.vp * (self.gp + self.utilities[q]) - level) / other_size
            if other_size < remain and other > score:
                score = other
                best = q
        if best is not None:
            self.last_quality = best
        return best


class _BolaE(_Rule):
    """Sabre's ``BolaEnh`` (dash.js BOLA-E): placeholder buffer, startup by throughput, IBR."""

    MIN_BUFFER = 10000
    MIN_BUFFER_PER_LEVEL = 2000
    IBR_SAFETY_FLOOR = 0.5
    IBR_SAFETY_INIT = 0.9

    def __init__(self, session, buffer_ms, gamma_p, osc, no_ibr):
        super().__init__(session)
        self.osc = osc
        self.no_ibr = no_ibr
        offset = 1 - math.log(session.bitrates[0])  # utility of the lowest rung is 1
        self.utilities = [math.log(b) + offset for b in session.bitrates]
        if no_ibr:
            self.gp = gamma_p - 1  # matches BOLA basic
            self.vp = (buffer_ms - session.seg) / (self.utilities[-1] + self.gp)
        else:
            target = self.MIN_BUFFER + self.MIN_BUFFER_PER_LEVEL * len(session.bitrates)
            target = max(target, buffer_ms)
            # (Sabre also prints this target to stdout here.)
            self.gp = (self.utilities[-1] - 1) / (target / self.MIN_BUFFER - 1)
            self.vp = self.MIN_BUFFER / self.gp
        self.startup = True
        self.placeholder = 0
        self.last_quality = 0
        self.ibr_safety = None

    def _from_buffer(self, level):
        best_q = 0
        best = None
        for q, rate in enumerate(self.s.bitrates):
            score = (self.vp * (self.utilities[q] + self.gp) - level) / rate
            if best is None or score > best:
                best_q = q
                best = score
        return best_q

    def _min_level(self, quality):
        # Lowest buffer at which BOLA prefers ``quality`` to every lower-utility rung.
        rate = self.s.bitrates[quality]
        utility = self.utilities[quality]
        level = 0
        for q in range(quality):
            if self.utilities[q] < utility:
                b = self.s.bitrates[q]
                u = self.utilities[q]
                level = max(level, self.vp * (self.gp + (rate * u - b * utility) / (rate - b)))
        return level

    def _max_level(self, quality):
        return self.vp * (self.utilities[quality] + self.gp)

    def decide(self, index):
        s = self.s
        level = s.level()
        if self.startup:
            if s.throughput is None:
                return self.last_quality, 0
            self.startup = False
            self.ibr_safety = self.IBR_SAFETY_INIT
            quality = self.quality_for(s.throughput)
            self.placeholder = max(0, self._min_level(quality) - level)
            return quality, 0

        quality = self._from_buffer(level + self.placeholder)
        quality_t = self.quality_for(s.throughput)
        if quality > self.last_quality and quality > quality_t:
            quality = max(self.last_quality, quality_t)
            if not self.osc:
                quality += 1

        delay = level + self.placeholder - self._max_level(quality)
        if delay > 0:
            # Shrink the placeholder first; only wait for what it cannot absorb.
            if delay <= self.placeholder:
                self.placeholder -= delay
                delay = 0
            else:
                delay -= self.placeholder
                self.placeholder = 0
        else:
            delay = 0
        if quality == len(s.bitrates) - 1:
            delay = 0

        if not self.no_ibr:
            # Insufficient buffer rule: the segment must fit in a shrinking share of the buffer.
            safe_size = self.ibr_safety * (level - s.latency) * s.throughput
            self.ibr_safety *= self.IBR_SAFETY_INIT
            self.ibr_safety = max(self.ibr_safety, self.IBR_SAFETY_FLOOR)
            for q in range(quality):
                if s.bitrates[q + 1] * s.seg > safe_size:
                    quality = q
                    delay = 0
                    cap = max(0, self._min_level(quality) - level)
                    self.placeholder = min(cap, self.placeholder)
                    break
        return quality, delay

    def on_wait(self, delay):
        self.placeholder += delay

    def on_download(self, quality, abandon_to, time, replacement):
        # Runs for every download, also while the rule is still in startup.
        self.last_quality = quality  # the requested quality, even when abandoned
        level = self.s.level()
        if abandon_to is None:
            if replacement:
                self.placeholder += self.s.seg
            else:
                level_was = level + time
                cap = max(0, self._max_level(quality) - level_was)
                self.placeholder = min(self.placeholder, cap)
                if level > 0:  # do not inflate the placeholder while rebuffering
                    self.placeholder = max(self.placeholder, self._min_level(quality) - level_was)
        elif not replacement:
            want = self._min_level(abandon_to) if abandon_to > 0 else self.MIN_BUFFER
            self.placeholder = min(self.placeholder, max(0, want - level))

    def abandon(self, quality, size, downloaded, time, ttfb, level):
        remain = size - downloaded
        if downloaded <= 0 or remain <= 0:
            return None
        # A new request costs a latency: judge the state one latency from now.
        bl = max(0, level + self.placeholder - ttfb)
        tp = downloaded / (time - ttfb)
        sz = remain - ttfb * tp
        if sz <= 0:
            return None
        best = None
        score = (self.vp * (self.gp + self.utilities[quality]) - bl) / sz
        rates = self.s.bitrates
        for q in range(quality):
            other_size = size * rates[q] / rates[quality]
            other = (self.vp * (self.gp + self.utilities[q]) - bl) / other_size
            if other_size < sz and other > score:
                score = other
                best = q
        return best  # unlike Bola, last_quality is left to on_download


class _Throughput(_Rule):
    """Sabre's ``ThroughputRule``: 90% of the estimate, IBR, abandon when late by 1.8 segments."""

    SAFETY = 0.9
    IBR_SAFETY_FLOOR = 0.5
    IBR_SAFETY_INIT = 0.9
    ABANDON_MULTIPLIER = 1.8
    ABANDON_GRACE_MS = 500

    def __init__(self, session, no_ibr):
        super().__init__(session)
        self.ibr_safety = self.IBR_SAFETY_INIT
        self.no_ibr = no_ibr

    def decide(self, index):
        s = self.s
        quality = self.quality_for(s.throughput * self.SAFETY)
        if not self.no_ibr:
            safe_size = self.ibr_safety * (s.level() - s.latency) * s.throughput
            self.ibr_safety *= self.IBR_SAFETY_INIT
            self.ibr_safety = max(self.ibr_safety, self.IBR_SAFETY_FLOOR)
            for q in range(quality):
                if s.bitrates[q + 1] * s.seg > safe_size:
                    quality = q
                    break
        return quality, 0

    def abandon(self, quality, size, downloaded, time, ttfb, level):
        dl_time = time - ttfb
        if time < self.ABANDON_GRACE_MS or not dl_time > 0:
            return None
        tput = downloaded / dl_time
        size_left = size - downloaded
        if time + size_left / tput > self.ABANDON_MULTIPLIER * self.s.seg:
            rates = self.s.bitrates
            q = self.quality_for(tput * self.SAFETY)
            if q >= quality or size * rates[q] / rates[quality] >= size_left:
                return None
            return q
        return None


class _Dynamic(_Rule):
    """Sabre's ``Dynamic``: Bola and ThroughputRule both decide every segment; pick one."""

    LOW_BUFFER = 10000

    def __init__(self, session, buffer_ms, gamma_p, osc, basic, no_ibr):
        super().__init__(session)
        self.bola = _Bola(session, buffer_ms, gamma_p, osc, basic)
        self.tput = _Throughput(session, no_ibr)
        self.is_bola = False

    def decide(self, index):
        level = self.s.level()
        # Both run, so Bola's last_quality and the IBR safety decay advance either way.
        b = self.bola.decide(index)
        t = self.tput.decide(index)
        if self.is_bola:
            if level < self.LOW_BUFFER and b[0] < t[0]:
                self.is_bola = False
        elif level > self.LOW_BUFFER and b[0] >= t[0]:
            self.is_bola = True
        return b if self.is_bola else t

    def on_download(self, quality, abandon_to, time, replacement):
        if replacement:
            self.is_bola = False

    def abandon(self, quality, size, downloaded, time, ttfb, level):
        # Sabre disables Bola's abandonment here ("if False and self.is_bola").
        return self.tput.abandon(quality, size, downloaded, time, ttfb, level)


class _DynamicDash(_Rule):
    """Sabre's ``DynamicDash``: BolaEnh above 10 s of buffer until below 5 s, else throughput."""

    LOW = 5000
    HIGH = 10000

    def __init__(self, session, buffer_ms, gamma_p, osc, no_ibr):
        super().__init__(session)
        self.bola = _BolaE(session, buffer_ms, gamma_p, osc, no_ibr)
        self.tput = _Throughput(session, no_ibr)
        self.is_bola = False

    def decide(self, index):
        level = self.s.level()
        if self.is_bola and level < self.LOW:
            self.is_bola = False
        elif not self.is_bola and level > self.HIGH:
            self.is_bola = True
        # Only the active rule decides: BolaEnh leaves startup on its first turn, however late.
        return (self.bola if self.is_bola else self.tput).decide(index)

    def on_wait(self, delay):
        self.bola.on_wait(delay)

    def on_download(self, quality, abandon_to, time, replacement):
        self.bola.on_download(quality, abandon_to, time, replacement)

    def abandon(self, quality, size, downloaded, time, ttfb, level):
        return (self.bola if self.is_bola else self.tput).abandon(
            quality, size, downloaded, time, ttfb, level)


# ---------------------------------------------------------------------------- replacement


class _Replace:
    """Re-download a buffered segment at a better quality (``left``: earliest, ``right``: last)."""

    def __init__(self, session, from_right):
        self.s = session
        self.from_right = from_right
        self.replacing = None  # negative index into the buffer

    def check(self, quality):
        s = self.s
        self.replacing = None
        # Leave alone the playing segment and the next one (or two when partly played).
        skip = math.ceil(1.5 + s.fcc / s.seg)
        n = len(s.buf)
        order = range(n - 1, skip - 1, -1) if self.from_right else range(skip, n)
        for i in order:
            if s.buf[i] < quality:
                self.replacing = i - n
                break
        return self.replacing

    def abandon(self, quality, size, downloaded, time, ttfb, level):
        # Give up (-1) once the segment being replaced has reached the play head.
        if self.replacing is None:
            return None
        if level + self.s.seg * self.replacing <= 0:
            return -1
        return None


# ------------------------------------------------------------------------------------ run


def run_sabre(
    periods: Sequence[Sequence[float]],
    segment_ms: float,
    bitrates_kbps: Sequence[float],
    segment_sizes_bits: Sequence[Sequence[float]],
    abr: str,
    *,
    buffer_s: float = 25.0,
    gamma_p: float = 5.0,
    abr_osc: bool = False,
    abr_basic: bool = False,
    no_ibr: bool = False,
    no_abandon: bool = False,
    moving_average: str = "ewma",
    window_size: Sequence[int] = (3,),
    half_life_s: Sequence[float] = (3.0, 8.0),
    replace: str = "none",
    rampup_threshold: Optional[int] = None,
    apply_abandon_quality: bool = False,
    max_futile_requests: Optional[int] = None,
    verbose_log: Optional[Callable[[str], None]] = None,
) -> dict:
    """Run one Sabre session; return its printed metrics and the per-request ``downloads``.

    ``periods`` are (duration_ms, bandwidth_kbps, latency_ms); ``segment_sizes_bits[i][q]``.
    Options mirror Sabre's flags: ``-b``, ``-gp``, ``-ao``, ``-ab``, ``-noibr``, ``-noa``,
    ``-ma``, ``-ws``, ``-hl``, ``-r``, ``-rmp``; ``verbose_log`` (e.g. ``print``) receives lines
    shaped like Sabre's ``-v`` output (not all of them). ``apply_abandon_quality`` fixes defect 1.
    ``max_futile_requests`` (abrkit's guard; None: Sabre, which may loop forever) stops the
    session after that many requests in a row added no segment; ``stalled`` says whether it did.
    """
    buffer_ms = buffer_s * 1000
    s = _Session(periods, segment_ms, bitrates_kbps, segment_sizes_bits, buffer_ms,
                 rampup_threshold, verbose_log)
    seg = s.seg
    n_segments = len(segment_sizes_bits)

    if abr == "bola":
        rule = _Bola(s, buffer_ms, gamma_p, abr_osc, abr_basic)
    elif abr == "bolae":
        rule = _BolaE(s, buffer_ms, gamma_p, abr_osc, no_ibr)
    elif abr == "throughput":
        rule = _Throughput(s, no_ibr)
    elif abr == "dynamic":
        rule = _Dynamic(s, buffer_ms, gamma_p, abr_osc, abr_basic, no_ibr)
    elif abr == "dynamicdash":
        rule = _DynamicDash(s, buffer_ms, gamma_p, abr_osc, no_ibr)
    else:
        raise ValueError(f"unknown abr {abr!r}")

    # Defect 2 lives here in Sabre: a ``.py`` replacement module is built first, then this
    # none/left/right chain (a separate ``if``) replaces it with NoReplace.
    if replace == "left":
        replacer = _Replace(s, from_right=False)
    elif replace == "right":
        replacer = _Replace(s, from_right=True)
    elif replace == "none":
        replacer = None
    else:
        raise ValueError(f"unknown replacement strategy {replace!r}")

    if moving_average == "ewma":
        history = _Ewma(s, half_life_s)
    elif moving_average == "sliding":
        history = _Sliding(s, window_size)
    else:
        raise ValueError(f"unknown moving average {moving_average!r}")

    log = verbose_log
    downloads = []

    # First segment: no abandonment, no ABR report, no accuracy check; the whole download
    # counts as play time (startup) but not as rebuffering.
    quality = rule.first_quality()
    size = segment_sizes_bits[0][quality]
    request_time = s.net_time
    got, time, ttfb, _ = s.fetch(size, quality, 0, None)
    dl_time = time - ttfb
    s.buf.append(quality)
    history.push(dl_time, size / dl_time, ttfb)
    s.play_time += time
    downloads.append(Download(0, quality, size, got, time, ttfb, None, False, s.level(), request_time, 0, None))
    if log is not None:
        log("[%d-%d]  %d: q=%d s=%d/%d t=%d=%d+%d bl=0->0->%d" % (
            0, round(time), 0, quality, got, size, time, ttfb, time - ttfb, s.level()))

    over_count = 0
    over_avg = 0
    good_count = 0
    good_avg = 0
    estimate_avg = 0

    next_segment = 1
    forced_quality = None  # only ever set with apply_abandon_quality (defect 1)
    futile = 0
    stalled = False
    while next_segment < n_segments:
        if max_futile_requests is not None and futile >= max_futile_requests:
            stalled = True
            break
        # Wait until the next segment fits in the buffer; the ABR hears about this wait.
        full_delay = s.level() + seg - buffer_ms
        waited = 0
        if full_delay > 0:
            waited = full_delay
            s.play(full_delay)
            s.wait(full_delay)
            rule.on_wait(full_delay)
            if log is not None:
                log("full buffer delay %d bl=%d" % (full_delay, s.level()))

        estimate = s.throughput
        if forced_quality is None:
            quality, delay = rule.decide(next_segment)
            slot = replacer.check(quality) if replacer is not None else None
        else:
            quality, delay = forced_quality, 0
            slot = None
            forced_quality = None

        if slot is not None:
            delay = 0  # the ABR's wait is dropped for a replacement
            index = next_segment + slot
            check = replacer.abandon
        else:
            index = next_segment
            check = rule.abandon
        if no_abandon:
            check = None
        size = segment_sizes_bits[index][quality]

        if delay > 0:
            # The ABR's own wait: played out and waited, but not reported back to the ABR.
            s.play(delay)
            s.wait(delay)
            waited += delay
            if log is not None:
                log("abr delay %d bl=%d" % (delay, s.level()))

        start = s.play_time
        request_time = s.net_time
        got, time, ttfb, abandon_to = s.fetch(size, quality, s.level(), check)
        s.play(time)

        futile += 1
        if slot is None:
            if abandon_to is None:
                s.buf.append(quality)
                next_segment += 1
                futile = 0
            elif apply_abandon_quality:
                forced_quality = abandon_to
            # else defect 1: Sabre assigns this to a variable it never reads.
        elif abandon_to is None:
            if s.level() + seg * slot >= 0:
                s.buf[slot] = quality
            elif log is not None:
                log("WARNING: too late to replace")
        downloads.append(Download(index, quality, size, got, time, ttfb, abandon_to,
                                  slot is not None, s.level(), request_time, waited, estimate))
        if log is not None:
            note = "REPLACEMENT " if slot is not None else ""
            if abandon_to is not None:
                note += "ABANDONED to %d " % abandon_to
            log("[%d-%d]  %d: q=%d s=%d/%d t=%d=%d+%d %sbl=%d" % (
                round(start), round(start + time), index, quality, got, size, time, ttfb,
                time - ttfb, note, s.level()))

        rule.on_download(quality, abandon_to, time, slot is not None)

        dl_time = time - ttfb
        tput = got / dl_time
        # How good was the estimate the decision used? (abandoned downloads count too)
        if s.throughput > tput:
            over_count += 1
            over_avg += (s.throughput - tput - over_avg) / over_count
        else:
            good_count += 1
            good_avg += (tput - s.throughput - good_avg) / good_count
        estimate_avg += (s.throughput - tput - estimate_avg) / (over_count + good_count)

        if abandon_to is None:
            history.push(dl_time, tput, ttfb)

    s.play_out()

    per_chunk = 1 / (s.play_time / seg)
    rampup = n_segments * seg if s.rampup_time is None else s.rampup_time
    return {
        "buffer_size": int(buffer_ms),  # Sabre prints it with %d
        "total_played_utility": s.played_utility,
        "time_average_played_utility": s.played_utility * per_chunk,
        "total_played_bitrate": s.played_bitrate,
        "time_average_played_bitrate": s.played_bitrate * per_chunk,
        "total_play_time": s.play_time / 1000,
        "total_play_time_chunks": s.play_time / seg,
        "total_rebuffer": s.rebuffer_time / 1000,
        "rebuffer_ratio": s.rebuffer_time / s.play_time,
        "time_average_rebuffer": s.rebuffer_time / 1000 * per_chunk,
        "total_rebuffer_events": s.rebuffer_events,
        "time_average_rebuffer_events": s.rebuffer_events * per_chunk,
        "total_bitrate_change": s.bitrate_change,
        "time_average_bitrate_change": s.bitrate_change * per_chunk,
        "total_log_bitrate_change": s.log_bitrate_change,
        "time_average_log_bitrate_change": s.log_bitrate_change * per_chunk,
        "time_average_score": per_chunk * (s.played_utility - gamma_p * s.rebuffer_time / seg),
        "over_estimate_count": over_count,
        "over_estimate": over_avg if over_count else 0,
        "leq_estimate_count": good_count,
        "leq_estimate": good_avg if good_count else 0,
        "estimate": estimate_avg,
        "rampup_time": rampup / 1000,
        "total_reaction_time": s.reaction_time / 1000,
        "stalled": stalled,
        "downloads": downloads,
        "played": s.played,
    }
