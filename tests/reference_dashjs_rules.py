"""Plain-Python reference of ``dashjs5`` (``abrkit._kernels.dashjs_rules``): dash.js 5.2.1's
rule collection, written as dash.js structures it -- one object per rule, each returning a rung
or None (``SwitchRequest.NO_CHANGE``), the lowest rung winning (``getMinSwitchRequest``).
Seconds and bits per second."""

from __future__ import annotations

import math
from collections import deque


def optimal_rung(bitrates, bps):
    if not bps > 0:
        return 0
    fit = [i for i, b in enumerate(bitrates) if b <= bps]
    return fit[-1] if fit else 0


class Bola:
    def __init__(self, bitrates, buffer_time_s, min_buffer_s=10.0, per_level_s=2.0, decay=0.99):
        self.bitrates = list(bitrates)
        self.u = [math.log(b) - math.log(bitrates[0]) + 1.0 for b in bitrates]
        n = len(bitrates)
        if n < 2 or self.u[-1] <= self.u[0]:
            self.state = "one"
            return
        t = max(buffer_time_s, min_buffer_s + per_level_s * n)
        self.gp = (self.u[-1] - 1.0) / (t / min_buffer_s - 1.0)
        self.vp = min_buffer_s / self.gp
        self.state = "startup"
        self.placeholder = 0.0
        self.last_segment_s = None
        self.decay = decay

    def min_level(self, q):
        level = 0.0
        for i in range(q - 1, -1, -1):
            if self.u[i] < self.u[q]:
                b, bi = self.bitrates[q], self.bitrates[i]
                level = max(level, self.vp * (self.gp + (b * self.u[i] - bi * self.u[q]) / (b - bi)))
        return level

    def max_level(self, q):
        return self.vp * (self.u[q] + self.gp)

    def decide(self, level, current, safe):
        if self.state == "one":
            return None, 0.0
        if self.state == "startup":
            if math.isnan(safe):
                return None, 0.0
            q = optimal_rung(self.bitrates, safe)
            self.placeholder = max(0.0, self.min_level(q) - level)
            if self.last_segment_s is not None and level >= self.last_segment_s:
                self.state = "steady"
            return q, 0.0
        eff = level + self.placeholder
        scores = [(self.vp * (u - 1.0 + self.gp) - eff) / b for u, b in zip(self.u, self.bitrates)]
        best = max(scores)
        q = max(i for i, s in enumerate(scores) if s == best)  # ties: the higher rung (>=)
        qt = optimal_rung(self.bitrates, safe)
        if q > current and q > qt:
            q = qt if qt > current else current
        delay = max(0.0, eff - self.max_level(q))
        if delay <= self.placeholder:
            self.placeholder -= delay
            delay = 0.0
        else:
            delay -= self.placeholder
            self.placeholder = 0.0
            if q == len(self.bitrates) - 1:
                delay = 0.0
        return q, delay

    def loaded(self, rung, download_s, buffer_s, segment_s, replacement):
        if self.state in ("startup", "steady"):
            self.last_segment_s = segment_s
            self.placeholder = min(max(0.0, self.max_level(rung) - (buffer_s + download_s)), self.placeholder * self.decay)
            if replacement:
                self.placeholder += segment_s  # a replacement adds no buffer: BOLA counts it here


class DashJs5Rules:
    def __init__(self, bitrates_bps, safety=0.9, switch_s=12.0, ibr_safety=0.7, ibr_ignore=2, history_size=8,
                 history_threshold=0.075, buffer_time_s=18.0, stall_s=0.3, bola=True, throughput=True, ibr=True,
                 history=True):
        self.bitrates = list(bitrates_bps)
        self.safety, self.switch_s, self.ibr_safety, self.ibr_ignore = safety, switch_s, ibr_safety, ibr_ignore
        self.history_size, self.history_threshold = history_size, history_threshold
        self.buffer_time_s, self.stall_s = buffer_time_s, stall_s
        self.use = {"bola": bola, "throughput": throughput, "ibr": ibr, "history": history}
        self.is_bola = False
        self.bola_rule = None  # created at BOLA's first decision
        self.appended = 0
        self.history = deque()
        self.furthest = -1

    def _history_cap(self):
        drops = no_drops = 0
        for i in range(len(self.bitrates)):
            mine = [d for (r, d) in self.history if r == i]
            if not mine:
                continue
            d = sum(mine)
            drops += d
            no_drops += len(mine) - d
            if drops + no_drops >= self.history_size and drops > self.history_threshold * no_drops:
                return i - 1 if (i > 0 and d > 0) else i
        return None

    def choose(self, k, buffer_s, prev_rung, chunk_s, avg_bps):
        safe = avg_bps * self.safety
        empty = buffer_s <= self.stall_s and k > 0
        if self.use["bola"] and self.use["throughput"]:
            self.is_bola = buffer_s >= (0.5 * self.switch_s if self.is_bola else self.switch_s)
        else:
            self.is_bola = self.use["bola"]
        if empty and self.bola_rule is not None and self.bola_rule.state == "steady":
            self.bola_rule.placeholder = 0.0
        asks = []
        delay = 0.0
        if self.is_bola:
            if self.bola_rule is None:
                self.bola_rule = Bola(self.bitrates, self.buffer_time_s)
            q, delay = self.bola_rule.decide(buffer_s, max(prev_rung, 0), safe)
            asks.append(q)
        elif not math.isnan(safe) and not empty:
            asks.append(optimal_rung(self.bitrates, safe))
        if self.use["ibr"] and self.appended >= self.ibr_ignore:
            if empty:
                asks.append(0)
            else:
                bps = avg_bps * self.ibr_safety * buffer_s / chunk_s
                asks.append(optimal_rung(self.bitrates, bps) if bps > 0 else None)
        if self.use["history"]:
            asks.append(self._history_cap())
        asks = [a for a in asks if a is not None]
        if not asks:
            return max(prev_rung, 0), 0.0
        best = min(asks)
        if prev_rung >= 0:
            self.history.append((prev_rung, 1 if best < prev_rung else 0))
            while len(self.history) > self.history_size:
                self.history.popleft()
        return best, delay

    def report(self, k, rung, download_s, buffer_s, chunk_s):
        self.appended += 1
        replacement = k <= self.furthest
        self.furthest = max(self.furthest, k)
        if self.bola_rule is not None:
            self.bola_rule.loaded(rung, download_s, buffer_s, chunk_s, replacement)

    def idle(self, wait_s):
        if self.bola_rule is not None and self.bola_rule.state == "steady":
            self.bola_rule.placeholder += wait_s
