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
        self.pushes = 0

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
            self.pushes += 1
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


# -- the kernel's signatures, on its state vector (registration with tests/test_simulate.py) -------
# The state vector is the interface, so these wrappers read it into the objects above and write
# the objects back in the kernel's layout (``dashjs_rules.R_*``: a ring of switch decisions).

_STATES = {1.0: "startup", 2.0: "steady", 3.0: "one"}


def _rules_from(cparams, cstate, bitrates):
    from abrkit._kernels import dashjs_rules as R

    rules = DashJs5Rules(bitrates, safety=cparams[R.P_SAFETY], switch_s=cparams[R.P_SWITCH_S],
                         ibr_safety=cparams[R.P_IBR_SAFETY], ibr_ignore=cparams[R.P_IBR_IGNORE],
                         history_size=int(cparams[R.P_HISTORY_SIZE]), history_threshold=cparams[R.P_HISTORY_THRESHOLD],
                         buffer_time_s=cparams[R.P_BUFFER_TIME_S], stall_s=cparams[R.P_STALL_S],
                         bola=cparams[R.P_USE_BOLA] != 0, throughput=cparams[R.P_USE_THROUGHPUT] != 0,
                         ibr=cparams[R.P_USE_IBR] != 0, history=cparams[R.P_USE_HISTORY] != 0)
    rules.is_bola = cstate[R.R_IS_BOLA] != 0
    rules.appended = cstate[R.R_APPENDED]
    rules.furthest = cstate[R.R_MOST_ADVANCED]
    head, count = int(cstate[R.R_HIST_HEAD]), int(cstate[R.R_HIST_N])
    for j in range(count):
        k = (head + j) % R.MAX_HISTORY
        rules.history.append((int(cstate[R.R_HIST + 2 * k]), int(cstate[R.R_HIST + 2 * k + 1])))
    state = cstate[R.R_BOLA_STATE]
    if state != 0.0:
        bola = Bola(bitrates, cparams[R.P_BUFFER_TIME_S], cparams[R.P_BOLA_MIN_BUFFER_S], cparams[R.P_BOLA_PER_LEVEL_S],
                    cparams[R.P_PLACEHOLDER_DECAY])
        bola.state = _STATES[state]
        bola.placeholder = cstate[R.R_PLACEHOLDER_S]
        bola.vp, bola.gp = cstate[R.R_VP], cstate[R.R_GP]
        last = cstate[R.R_LAST_SEGMENT_S]
        bola.last_segment_s = None if math.isnan(last) else last
        rules.bola_rule = bola
    return rules


def _rules_to(rules, cstate, pushes_before):
    from abrkit._kernels import dashjs_rules as R

    cstate[R.R_IS_BOLA] = 1.0 if rules.is_bola else 0.0
    cstate[R.R_APPENDED] = rules.appended
    cstate[R.R_MOST_ADVANCED] = rules.furthest
    if rules.pushes > pushes_before:  # one decision: written after the live entries, the oldest dropped
        head, count = int(cstate[R.R_HIST_HEAD]), int(cstate[R.R_HIST_N])
        k = (head + count) % R.MAX_HISTORY
        cstate[R.R_HIST + 2 * k], cstate[R.R_HIST + 2 * k + 1] = rules.history[-1]
        if count + 1 > min(rules.history_size, R.MAX_HISTORY):
            cstate[R.R_HIST_HEAD] = (head + 1) % R.MAX_HISTORY
        else:
            cstate[R.R_HIST_N] = count + 1
    bola = rules.bola_rule
    if bola is not None:
        code = {v: k for k, v in _STATES.items()}[bola.state]
        cstate[R.R_BOLA_STATE] = code
        if bola.state != "one":
            cstate[R.R_PLACEHOLDER_S] = bola.placeholder
            cstate[R.R_VP], cstate[R.R_GP] = bola.vp, bola.gp
            cstate[R.R_LAST_SEGMENT_S] = math.nan if bola.last_segment_s is None else bola.last_segment_s


def dashjs5_start(cparams, cstate, bitrates_bps, chunk_s, ctrl_state):
    from abrkit._kernels import dashjs_rules as R

    cstate[R.R_IS_BOLA] = 0.0
    cstate[R.R_LAST_SEGMENT_S] = math.nan
    cstate[R.R_MOST_ADVANCED] = -1.0
    for i, b in enumerate(bitrates_bps):
        cstate[ctrl_state + i] = math.log(b) - math.log(bitrates_bps[0]) + 1.0


def dashjs5_choose(cparams, cstate, k, buffer_s, prev_rung, bitrates_bps, chunk_s, est_bps, ctrl_state):
    rules = _rules_from(cparams, cstate, list(bitrates_bps))
    before = rules.pushes
    q, delay = rules.choose(k, buffer_s, prev_rung, chunk_s, est_bps)
    _rules_to(rules, cstate, before)
    return q, delay


def dashjs5_report(cparams, cstate, k, rung, download_s, buffer_s, bitrates_bps, chunk_s, ctrl_state):
    rules = _rules_from(cparams, cstate, list(bitrates_bps))
    rules.report(k, rung, download_s, buffer_s, chunk_s)
    _rules_to(rules, cstate, rules.pushes)


def dashjs5_idle(cparams, cstate, wait_s):
    from abrkit._kernels import dashjs_rules as R

    if cstate[R.R_BOLA_STATE] == 2.0:
        cstate[R.R_PLACEHOLDER_S] += wait_s


def _random_situation(rng):
    import numpy as np
    from abrkit.controllers import DashJs5
    from abrkit._kernels import dashjs_rules as R
    from abrkit._kernels.layout import CTRL_STATE

    n = int(rng.integers(1, 7))
    bitrates = np.sort(rng.choice(np.arange(200e3, 8e6, 50e3), n, replace=False))
    c = DashJs5(switch_s=float(rng.uniform(0, 20)), history_size=int(rng.integers(1, R.MAX_HISTORY + 1)),
                ibr_ignore=int(rng.integers(0, 4)), bola=bool(rng.random() < 0.9), throughput=True,
                ibr=bool(rng.random() < 0.8), history=bool(rng.random() < 0.8))
    cparams = c.pack()[1]
    cstate = np.zeros(CTRL_STATE + 3 * n)
    dashjs5_start(cparams, cstate, bitrates, 2.0, CTRL_STATE)
    # a reachable state: run the reference a few random steps
    rules = _rules_from(cparams, cstate, list(bitrates))
    prev = -1
    for k in range(int(rng.integers(0, 30))):
        before = rules.pushes
        q, _ = rules.choose(k, float(rng.uniform(0, 25)), prev, 2.0, float(rng.uniform(1e5, 9e6)))
        _rules_to(rules, cstate, before)
        rules = _rules_from(cparams, cstate, list(bitrates))
        rules.report(k if rng.random() < 0.8 else int(rng.integers(0, k + 1)), q, float(rng.uniform(0.1, 3)),
                     float(rng.uniform(0, 20)), 2.0)
        _rules_to(rules, cstate, rules.pushes)
        rules = _rules_from(cparams, cstate, list(bitrates))
        prev = q
    return n, bitrates, cparams, cstate, prev


def _args_choose(rng):
    from abrkit._kernels.layout import CTRL_STATE

    n, bitrates, cparams, cstate, prev = _random_situation(rng)
    est = math.nan if rng.random() < 0.1 else float(rng.uniform(1e5, 9e6))
    buffer_s = float(rng.choice([0.0, 0.3, rng.uniform(0, 30)]))
    return cparams, cstate, int(rng.integers(0, 40)), buffer_s, prev, bitrates, 2.0, est, CTRL_STATE


def _args_report(rng):
    from abrkit._kernels.layout import CTRL_STATE

    n, bitrates, cparams, cstate, prev = _random_situation(rng)
    return (cparams, cstate, int(rng.integers(0, 40)), int(rng.integers(0, n)), float(rng.uniform(0.05, 4)),
            float(rng.uniform(0, 30)), bitrates, 2.0, CTRL_STATE)


def _args_idle(rng):
    n, bitrates, cparams, cstate, prev = _random_situation(rng)
    return cparams, cstate, float(rng.uniform(0, 3))


def _args_start(rng):
    from abrkit._kernels.layout import CTRL_STATE
    import numpy as np

    n, bitrates, cparams, cstate, prev = _random_situation(rng)
    return cparams, np.zeros_like(cstate), bitrates, 2.0, CTRL_STATE


REFERENCES = {
    "dashjs_rules.dashjs5_start": dashjs5_start,
    "dashjs_rules.dashjs5_choose": dashjs5_choose,
    "dashjs_rules.dashjs5_report": dashjs5_report,
    "dashjs_rules.dashjs5_idle": dashjs5_idle,
}
KERNEL_INPUTS = {
    "dashjs_rules.dashjs5_start": (_args_start, 50),
    "dashjs_rules.dashjs5_choose": (_args_choose, 400),
    "dashjs_rules.dashjs5_report": (_args_report, 200),
    "dashjs_rules.dashjs5_idle": (_args_idle, 100),
}
COVERED_BY = {f"dashjs_rules.{name}": "dashjs_rules.dashjs5_choose" for name in (
    "rung_for", "_min_level", "_bola", "_history_cap", "_history_push")}
