"""Plain-Python reference of the live player model (``abrkit._kernels.live``) and its rules.

Written from the model's description (``_kernels/live.py``'s docstring), not from the kernel: one
chunk at a time (the kernel's closed-form fast path has no counterpart here), time stepped over
the trace's periods, L2A-LL and LoL+ as dash.js writes them (LoL+'s weight selector scans all
625 weight vectors, where the kernel scans the 25 that can differ), the catch-up rules, and
the predictors of ``tests/reference.py``. ``run_live_session`` fills the kernel's outputs
(``LV_*`` log columns, ``LM_*`` metrics) so the tests compare the two on random sessions.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

import reference as R
from abrkit._kernels import layout as L
from abrkit._kernels import live_layout as LV
from abrkit._kernels import live_rules as K

INF = float("inf")
NAN = float("nan")


# -- the network: a looping trace clock ---------------------------------------------------------


class Link:
    """The trace as a clock: period ``ptr`` ends at ``end_s[ptr]``; past the last it wraps."""

    def __init__(self, end_s, bw_bps, lat_s, start_s, wrap_s):
        self.end_s, self.bw_bps, self.lat_s, self.wrap_s = list(end_s), list(bw_bps), list(lat_s), wrap_s
        self.ptr, self.clock_s = 0, start_s

    def _next_period(self):
        self.clock_s = self.end_s[self.ptr]
        self.ptr += 1
        if self.ptr >= len(self.end_s):
            self.ptr, self.clock_s = 0, self.wrap_s

    def idle(self, dt):
        while True:
            left = self.end_s[self.ptr] - self.clock_s
            if left > dt:
                self.clock_s += dt
                return
            dt -= left
            self._next_period()

    def send(self, size_bytes, efficiency, max_s):
        """Seconds to deliver ``size_bytes`` from now, and whether it finished within ``max_s``."""
        sent, elapsed = 0.0, 0.0
        while True:
            rate = self.bw_bps[self.ptr] / 8.0
            left = self.end_s[self.ptr] - self.clock_s
            can = rate * left * efficiency
            if sent + can > size_bytes:
                t = (size_bytes - sent) / rate / efficiency
                self.clock_s += t
                return elapsed + t, elapsed + t <= max_s
            sent += can
            elapsed += left
            self._next_period()
            if elapsed > max_s:
                return elapsed, False


# -- controllers ---------------------------------------------------------------------------------


class Fixed:
    def __init__(self, rung):
        self.rung = rung

    def choose(self, ctx):
        return self.rung

    def report(self, size_bytes, measured_s):
        pass

    def rate(self, ctx):
        return NAN


class RateRule(Fixed):
    """abrkit's ``rate``: the highest rung <= safety x the estimate (rung 0 without one)."""

    def __init__(self, safety):
        self.safety = safety

    def choose(self, ctx):
        est = ctx["est_bps"]
        if not math.isfinite(est):
            return 0
        q = 0
        for i, b in enumerate(ctx["bitrates_bps"]):
            if b <= self.safety * est:
                q = i
        return q


class L2ARule(Fixed):
    """L2ARule.js (dash.js v5.1.1) with its units made consistent (kbit/s throughout)."""

    def __init__(self, b_target_s=1.5, horizon=4.0, react=2.0, safety=0.9):
        self.b_target, self.horizon, self.react, self.safety = b_target_s, horizon, react, safety
        self.steady, self.q, self.current, self.seen, self.last_bps = False, 0.0, None, False, NAN
        self.w, self.prev_w = None, None

    def report(self, size_bytes, measured_s):
        self.seen = True
        if measured_s > 0:
            self.last_bps = size_bytes * 8 / measured_s

    def choose(self, ctx):
        b = [x / 1000 for x in ctx["bitrates_bps"]]
        n = len(b)
        if self.current is None:
            self.current = max(ctx["prev"], 0)
        if not self.steady:
            if not math.isfinite(ctx["est_bps"]):
                return self.current
            safe = self.safety * ctx["est_bps"] / 1000
            q = max([i for i in range(n) if b[i] <= safe], default=0)
            self.current = q
            if self.seen and ctx["buffer_s"] >= self.b_target:
                self.steady = True
                self.q = self.horizon ** 0.99
                self.prev_w = [1.0 if i == q else 0.0 for i in range(n)]
            return q
        rate = ctx["rate"]
        vl = self.horizon ** 0.99
        alpha = max(self.horizon, vl * math.sqrt(self.horizon))
        thr = self.last_bps / 1000
        if not thr >= 1:
            thr = 1.0
        v = ctx["seg_s"]
        sign = 1
        w = []
        for i in range(n):
            if rate * b[i] > thr:
                sign = -1
            w.append(self.prev_w[i] + sign * (v / (2 * alpha)) * ((self.q + vl) * (rate * b[i] / thr)))
        # projection onto the simplex (euclideanProjection)
        s = sorted(w, reverse=True)
        tmpsum, tmax, found = 0.0, 0.0, False
        for i in range(n - 1):
            tmpsum += s[i]
            tmax = (tmpsum - 1) / (i + 1)
            if tmax >= s[i + 1]:
                found = True
                break
        if not found:
            tmax = (tmpsum + s[n - 1] - 1) / n
        w = [max(x - tmax, 0.0) for x in w]
        diff = [w[i] - self.prev_w[i] for i in range(n)]
        self.prev_w = list(w)
        dot = sum(bi * wi for bi, wi in zip(b, w))
        dot_diff = sum(bi * di for bi, di in zip(b, diff))
        self.q = max(0.0, self.q - v + v * rate * ((dot + dot_diff) / thr))
        gaps = [abs(bi - dot) for bi in b]
        q = gaps.index(min(gaps))
        if q > self.current and b[self.current + 1] <= thr:
            q = self.current + 1
        if b[q] >= thr:
            self.q = self.react * max(vl, self.q)
        self.current = q
        return q


MASK = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    z ^= z >> 31
    return x, (z >> 11) / 9007199254740992.0


def kmeans_weights(n, max_thr, seed):
    """LearningAbrController.js's k-means++ start on SplitMix64 draws: the last sorted centre."""
    data, x = [], seed
    for _ in range(n * n):
        x, u = splitmix64(x)
        point = [u * max_thr]
        for _ in range(3):
            x, u = splitmix64(x)
            point.append(u)
        data.append(point)
    ones = [1, 1, 1, 1]
    centres = [data[0]]
    for _ in range(1, n):
        best, best_d = None, None
        for p in data:
            dmin = min(LoLpRule.dist(p, c, ones) for c in centres)
            if best_d is None or dmin > best_d:
                best, best_d = p, dmin
        centres.append(best)
    sums = [sum(LoLpRule.dist(c, o, ones) for j, o in enumerate(centres) if j != i) for i, c in enumerate(centres)]
    first = sums.index(max(sums))
    ordered = [centres.pop(first)]
    while centres:
        ds = [LoLpRule.dist(ordered[0], c, ones) for c in centres]
        ordered.append(centres.pop(ds.index(min(ds))))
    return list(ordered[-1])


class LoLpRule(Fixed):
    """LoLpRule.js / LearningAbrController.js / LoLpWeightSelector.js (dash.js v5.1.1), with the
    full scan of the selector's 625 weight vectors."""

    OPTIONS = list(itertools.product(K.LOLP_WEIGHT_VALUES, repeat=4))

    def __init__(self, cparams):
        self.p = cparams
        self.neurons = None
        self.weights = None

    @staticmethod
    def dist(a, b, w):
        s = sum(wi * (x - y) ** 2 for x, y, wi in zip(a, b, w))
        return (-1 if s < 0 else 1) * math.sqrt(abs(s))

    def _init(self, bps):
        self.norm = math.sqrt(sum(x * x for x in bps))
        self.neurons = [[x / self.norm, 0.0, 0.0, 0.0] for x in bps]
        if math.isnan(self.p[K.LOLP_P_W0]):
            self.weights = kmeans_weights(len(bps), max(n[0] for n in self.neurons), int(self.p[K.LOLP_P_SEED]))
        else:
            self.weights = [self.p[K.LOLP_P_W0 + i] for i in range(4)]

    def _update(self, win, x):
        for n in self.neurons:
            d = self.dist(n, self.neurons[win], [1, 1, 1, 1])
            h = math.exp(-1 * d ** 2 / (2 * self.p[K.LOLP_P_SIGMA] ** 2))
            for c in range(4):
                n[c] = n[c] + (x[c] - n[c]) * self.p[K.LOLP_P_LEARNING] * h

    def choose(self, ctx):
        bps = list(ctx["bitrates_bps"])
        cur = max(ctx["prev"], 0)
        if not math.isfinite(ctx["est_bps"]):
            return cur
        thr = self.p[K.LOLP_P_SAFETY] * ctx["est_bps"]
        latency, rate, seg, buf = ctx["latency_s"], ctx["rate"], ctx["seg_s"], ctx["buffer_s"]
        if self.neurons is None:
            self._init(bps)
        thr_n = thr / self.norm
        if thr_n > 1:
            thr_n = max(n[0] for n in self.neurons)
        lat_n = latency / self.p[K.LOLP_P_LATENCY_NORM]
        bmin = self.p[K.LOLP_P_BUFFER_MIN_S]
        dl = bps[cur] * seg / thr
        rebuffer = max(0.0, dl - buf)
        if buf - dl < bmin:
            best, q = 0.0, cur
            for i, b in enumerate(bps):
                if b < bps[cur] and b > best and thr > b:
                    best, q = b, i
            return q

        def next_buffer(d):
            return buf - seg if d > seg else buf + seg - d

        min_k, max_k = min(bps) / 1000, max(bps) / 1000
        delta = abs(latency - 0)
        best_qoe, winner = None, None
        for i, b in enumerate(bps):
            for wv in self.OPTIONS:
                d = b * seg / thr
                nb = next_buffer(d)
                reb = max(0.00001, d - nb)
                w_reb = (1 / wv[2]) * reb
                w_lat = (1 / wv[1]) * self.neurons[i][1]
                lat_w = min_k * 0.05 if w_lat <= 1.1 else max_k * 0.1
                qoe = seg * b - max_k * w_reb - lat_w * w_lat - min_k * abs(1 - rate)
                ok = not (latency > self.p[K.LOLP_P_TARGET_S] + delta) and nb >= bmin
                if (best_qoe is None or qoe > best_qoe) and ok:
                    best_qoe, winner = qoe, wv
        if winner is not None:
            self.weights = list(winner)
        min_b = min(bps)
        best_d, win = None, 0
        for i, b in enumerate(bps):
            dw = list(self.weights)
            low = next_buffer(b * seg / thr) < bmin
            if (b > thr - self.p[K.LOLP_P_DELTA_BPS] or low) and b != min_b:
                dw[0] = 100
            d = self.dist(self.neurons[i], [thr_n, 0, 0, 0], dw)
            if best_d is None or d < best_d:
                best_d, win = d, i
        switch = abs(bps[cur] - bps[win]) / self.norm
        self._update(cur, [thr_n, lat_n, rebuffer, switch])
        self._update(win, [thr_n, 0, 0, switch])
        return win

    def rate(self, ctx):
        if self.p[K.LOLP_P_OWN_RATE] == 0:
            return NAN
        return catchup_lolp(ctx["latency_s"], ctx["target_s"], ctx["buffer_s"], ctx["lp"][LV.LP_BUFFER_MIN_S],
                            ctx["lp"][LV.LP_RATE_MIN], ctx["lp"][LV.LP_RATE_MAX])


def controller_for(kind, cparams):
    if kind == L.CTRL_FIXED or (kind == L.CTRL_SIMPLE and int(cparams[L.CPARAM_ID]) == L.CTRL_FIXED):
        return Fixed(int(cparams[0]))
    if kind == L.CTRL_RATE or (kind == L.CTRL_SIMPLE and int(cparams[L.CPARAM_ID]) == L.CTRL_RATE):
        return RateRule(cparams[0])
    if kind == L.CTRL_L2A:
        return L2ARule(cparams[K.L2A_P_B_TARGET_S], cparams[K.L2A_P_HORIZON], cparams[K.L2A_P_REACT],
                       cparams[K.L2A_P_SAFETY])
    if kind == L.CTRL_LOLP:
        return LoLpRule(cparams)
    raise ValueError(f"no reference for controller {kind}")


# -- catch-up --------------------------------------------------------------------------------------


def sigmoid_rate(delta, rmin, rmax):
    cpr = (1 - rmin) if delta < 0 else (rmax - 1)
    return (1 - cpr) + (cpr * 2) / (1 + math.exp(-delta * 5))


def catchup_dashjs(latency, target, stalled, min_drift, rmin, rmax):
    if stalled:
        return 1.0
    if abs(latency - target) <= min_drift:
        return 1.0
    return sigmoid_rate(latency - target, rmin, rmax)


def catchup_lolp(latency, target, buffer_s, buffer_min, rmin, rmax):
    if buffer_s < buffer_min:
        cpr = 1 - rmin
        return (1 - cpr) + (cpr * 2) / (1 + math.exp(-(buffer_s - buffer_min) * 5))
    if abs(latency - target) <= 0.02 * target:
        return 1.0
    return sigmoid_rate(latency - target, rmin, rmax)


# -- the player ------------------------------------------------------------------------------------


class Player:
    """Playhead, buffered end, stall state and the session integrals."""

    def __init__(self, m):
        self.m = m
        self.started = self.stalled = self.recovering = False
        self.rate = 1.0

    def run(self, now, dt):
        """``dt`` seconds pass from ``now``; returns the new time."""
        m = self.m
        if dt <= 0 or not self.started:
            return now + max(dt, 0.0)
        tp = 0.0
        if not self.stalled:
            avail = self.end - self.play
            lat0 = now - self.play
            if avail >= dt * self.rate:
                tp = dt
                self.play += dt * self.rate
            else:
                tp = avail / self.rate
                self.play = self.end
                self.stalled = self.recovering = True
                m[LV.LM_STALLS] += 1
            m[LV.LM_LATENCY_INT] += lat0 * tp + (1 - self.rate) * tp * tp / 2
            m[LV.LM_BUFFER_INT] += avail * tp - self.rate * tp * tp / 2
            m[LV.LM_RATE_INT] += self.rate * tp
            m[LV.LM_PLAY_S] += tp
            m[LV.LM_MIN_LATENCY_S] = min(m[LV.LM_MIN_LATENCY_S], lat0, lat0 + (1 - self.rate) * tp)
        ts = dt - tp
        if ts > 0:
            lat1 = now + tp - self.play
            m[LV.LM_LATENCY_INT] += lat1 * ts + ts * ts / 2
            m[LV.LM_STALL_S] += ts
        m[LV.LM_MAX_LATENCY_S] = max(m[LV.LM_MAX_LATENCY_S], now + dt - self.play)
        return now + dt


def _new_rate(ctrl, lp, player, buffer_s, latency_s, ctx):
    target = lp[LV.LP_TARGET_S]
    ctx.update(latency_s=latency_s, buffer_s=buffer_s, target_s=target, lp=lp)
    r = ctrl.rate(ctx)
    if math.isnan(r):
        mode = lp[LV.LP_CATCHUP]
        if mode == LV.CATCHUP_DASHJS:
            r = catchup_dashjs(latency_s, target, player.recovering, lp[LV.LP_MIN_DRIFT_S], lp[LV.LP_RATE_MIN],
                               lp[LV.LP_RATE_MAX])
        elif mode == LV.CATCHUP_LOLP:
            r = catchup_lolp(latency_s, target, buffer_s, lp[LV.LP_BUFFER_MIN_S], lp[LV.LP_RATE_MIN], lp[LV.LP_RATE_MAX])
        else:
            r = 1.0
    r = min(max(r, lp[LV.LP_RATE_MIN]), lp[LV.LP_RATE_MAX])
    if latency_s < lp[LV.LP_MIN_LATENCY_S] and r > 1:
        r = 1.0
    if abs(r - player.rate) >= lp[LV.LP_MIN_RATE_CHANGE] or r == 1.0:
        return r
    return player.rate


def log_totals(row, m, play):
    for col, key in ((LV.LV_CUM_LATENCY_INT, LV.LM_LATENCY_INT), (LV.LV_CUM_BUFFER_INT, LV.LM_BUFFER_INT),
                     (LV.LV_CUM_RATE_INT, LV.LM_RATE_INT), (LV.LV_CUM_PLAY_S, LV.LM_PLAY_S),
                     (LV.LV_CUM_STALL_S, LV.LM_STALL_S), (LV.LV_CUM_STALLS, LV.LM_STALLS)):
        row[col] = m[key]
    row[LV.LV_PLAYHEAD_S] = play


def run_live_session(trace, sizes_bytes, bitrates_bps, seg_s, lp, kind, cparams, pid, pparams, state_size, duration_s,
                     log, m):
    """One live session; fills ``log`` and ``m`` like the kernel; returns (segments, status)."""
    end_s, bw, lat, start_s, wrap_s = trace
    m[:] = 0.0
    m[LV.LM_MIN_LATENCY_S] = INF
    m[LV.LM_EDGE_GAP_S] = -INF
    m[LV.LM_EARLY_S] = INF
    m[LV.LM_MAX_LATENCY_S] = -INF
    if not any(b > 0 for b in bw):
        return 0, L.STATUS_NO_BANDWIDTH
    link = Link(end_s, bw, lat, start_s, wrap_s)
    ctrl = controller_for(kind, cparams)
    pstate = np.zeros(state_size)
    n_chunks = max(int(lp[LV.LP_CHUNKS]), 1)
    dc = seg_s / n_chunks
    delay, target = lp[LV.LP_AVAIL_DELAY_S], lp[LV.LP_TARGET_S]
    join = lp[LV.LP_JOIN_S]
    end = join + duration_s
    rows = sizes_bytes.shape[0]
    player = Player(m)
    k = int(max(0.0, math.floor((join - target) / seg_s)))
    player.play = player.end = k * seg_s
    now = join
    prev, last_lat, status, i = -1, 0.0, L.STATUS_COMPLETE, 0
    while now < end and i < log.shape[0]:
        stall0 = m[LV.LM_STALL_S]
        seeked = 0.0
        ctx = {"bitrates_bps": bitrates_bps, "seg_s": seg_s, "prev": prev, "rate": player.rate, "latency_s": 0.0}
        if player.started:
            latency = now - player.play
            if lp[LV.LP_MAX_DRIFT_S] > 0 and latency - target > lp[LV.LP_MAX_DRIFT_S]:
                k = max(k, int(math.floor((now - target) / seg_s)))
                player.play = player.end = k * seg_s
                if not player.stalled:
                    m[LV.LM_STALLS] += 1
                player.stalled = player.recovering = True
                seeked = 1.0
                m[LV.LM_SEEKS] += 1
                latency = now - player.play
            buf = player.end - player.play
            if player.recovering and buf > target / 2:
                player.recovering = False
            player.rate = _new_rate(ctrl, lp, player, buf, latency, ctx)
            ctx["latency_s"] = latency
        ctx["rate"] = player.rate
        buf = player.end - player.play
        row = k % rows
        est = NAN
        if pid >= 0:
            est = R.pred_predict(pid, pparams, pstate, now, NAN)
        ctx.update(est_bps=est, buffer_s=buf)
        rung = min(max(int(ctrl.choose(ctx)), 0), len(bitrates_bps) - 1)
        size = sizes_bytes[row, rung]
        avail_req = k * seg_s + delay + (seg_s if n_chunks == 1 else 0.0)
        req = max(now, avail_req)
        wait = req - now
        if wait > 0:
            link.idle(wait)
            now = player.run(now, wait)
            now = req if not player.started else now
        rtt = lp[L.PROF_RTT_S] if lp[L.PROF_RTT_S] >= 0 else link.lat_s[link.ptr]
        if rtt > 0:
            link.idle(rtt)
            now = player.run(now, rtt)
        active = idle = 0.0
        done = True
        for j in range(n_chunks):
            a = k * seg_s + (j + 1) * dc + delay
            if a > now:
                idle += a - now
                link.idle(a - now)
                now = player.run(now, a - now)
                if not player.started:
                    now = a
            m[LV.LM_EARLY_S] = min(m[LV.LM_EARLY_S], now - a)
            t, done = link.send(size / n_chunks, lp[L.PROF_EFFICIENCY], lp[L.PROF_MAX_DOWNLOAD_S])
            active += t
            now = player.run(now, t)
            if not done:
                break
            player.end += dc
            if player.stalled and player.end - player.play >= lp[LV.LP_RESUME_S]:
                player.stalled = False
            if player.started:
                edge = math.floor((now - delay) / dc) * dc
                m[LV.LM_EDGE_GAP_S] = max(m[LV.LM_EDGE_GAP_S], player.play - edge)
        if not player.started and done and player.end - max(player.play, join - target) >= dc * (1 - 1e-12):
            player.started = True
            player.play = max(player.play, join - target)
            m[LV.LM_STARTUP_S] = now - join
            m[LV.LM_FIRST_PLAY_S] = player.play
            m[LV.LM_MIN_LATENCY_S] = m[LV.LM_MAX_LATENCY_S] = now - player.play
        log[i, L.LOG_RUNG] = rung
        log[i, L.LOG_SIZE_BYTES] = size
        log[i, L.LOG_LATENCY_S] = rtt
        log[i, L.LOG_DELAY_S] = now - req
        log[i, L.LOG_WAIT_S] = wait
        log[i, L.LOG_REQUEST_S] = req - join
        log[i, L.LOG_CTRL_WAIT_S] = 0.0
        log[i, LV.LV_IDLE_S] = idle
        log[i, LV.LV_SEGMENT] = k
        log[i, LV.LV_SEEK] = seeked
        log[i, LV.LV_DONE_S] = now - join
        if not done:
            log[i, L.LOG_THROUGHPUT_BPS] = NAN
            log[i, L.LOG_BUFFER_S] = player.end - player.play
            log[i, L.LOG_REBUFFER_S] = m[LV.LM_STALL_S] - stall0
            log[i, LV.LV_LIVE_LATENCY_S] = now - player.play
            log[i, LV.LV_RATE] = player.rate
            log_totals(log[i], m, player.play)
            status = L.STATUS_STALLED
            i += 1
            break
        buf = player.end - player.play
        ctrl.report(size, active)
        if pid >= 0:
            R.pred_update(pid, pparams, pstate, size, active, rtt, now)
        if player.started:
            latency = now - player.play
            if player.recovering and buf > target / 2:
                player.recovering = False
            player.rate = _new_rate(ctrl, lp, player, buf, latency, ctx)
        log[i, L.LOG_THROUGHPUT_BPS] = size * 8 / active if active > 0 else INF
        log[i, L.LOG_BUFFER_S] = buf
        log[i, L.LOG_REBUFFER_S] = m[LV.LM_STALL_S] - stall0
        log[i, LV.LV_LIVE_LATENCY_S] = now - player.play
        log[i, LV.LV_RATE] = player.rate
        log_totals(log[i], m, player.play)
        last_lat = rtt
        prev = rung
        k += 1
        i += 1
    if player.started:
        m[LV.LM_ELAPSED_S] = now - join - m[LV.LM_STARTUP_S]
        m[LV.LM_PLAYHEAD_S] = player.play
    del last_lat
    return i, status


# -- registration with tests/test_simulate.py (REFERENCES / KERNEL_INPUTS / COVERED_BY) ------------


def run_live_batch_like_kernel(job_lo, job_hi, jobs, traces, videos, lp, ctrls, durations_s, out, kind, pkind):
    """``_kernels.live.run_live_batch`` job by job through :func:`run_live_session`."""
    del pkind  # the reference predictors dispatch on the predictor id alone
    for j in range(job_lo, job_hi):
        t, v, c = int(jobs.trace[j]), int(jobs.video[j]), int(jobs.ctrl[j])
        t0, t1 = traces.offsets[t], traces.offsets[t + 1]
        trace = (traces.end_s[t0:t1], traces.bw_bps[t0:t1], traces.lat_s[t0:t1], traces.start_s[t], traces.wrap_s[t])
        n_r = int(videos.n_rungs[v])
        sizes = videos.sizes_bytes[videos.offsets[v]:videos.offsets[v + 1]].reshape(-1, n_r)
        ladder = videos.ladder_bps[videos.ladder_offsets[v]:videos.ladder_offsets[v + 1]]
        n, status = run_live_session(trace, sizes, ladder, float(videos.chunk_s[v]), lp.copy(), kind,
                                     ctrls.params[c].copy(), int(ctrls.pred_ids[c]), ctrls.pred_params[c],
                                     int(ctrls.pred_state_sizes[c]), float(durations_s[j]), out.log[j], out.metrics[j])
        out.log[j, n:, :] = np.nan
        out.n_seg[j] = n
        out.status[j] = status


def _args_run_live_batch(rng):
    """One random session on a one-chunk-per-segment stream. Without chunked transfer a segment
    arrives once, so the kernel's constant-link closed form samples the edge gap where the
    reference does (with CMAF chunks the two sample it differently; tests/test_live.py covers
    that case with its own comparison)."""
    from abrkit import Trace
    from abrkit._kernels import groups as G
    from abrkit._kernels.contract import compile_group
    from abrkit._kernels.estimators import predictor_group
    from abrkit._kernels.live import LiveOutputs
    from abrkit.live import LiveProfile, _live_controller, challenge_video, pack_inputs

    n = int(rng.integers(1, 8))
    bw = rng.uniform(100e3, 2.5e6, n)
    bw[rng.random(n) < 0.1] = 0.0
    bw[0] = max(bw[0], 50e3)
    lat = rng.uniform(0.0, 0.05, n) if rng.random() < 0.5 else None
    trace = Trace.from_durations(rng.uniform(0.05, 8.0, n), bw, latency_s=lat)
    prof = LiveProfile(
        target_latency_s=float(rng.uniform(0.6, 4.0)), min_latency_s=float(rng.choice([0.0, 0.3])),
        max_drift_s=float(rng.choice([0.0, 2.0, 12.0])), rate_min=float(rng.choice([0.5, 0.8, 1.0])),
        rate_max=float(rng.choice([1.0, 1.2, 1.5])), catchup=str(rng.choice(["dashjs", "lolp", "none"])),
        cmaf_chunk_s=None, availability_delay_s=float(rng.choice([0.0, 0.05, 0.3])),
        join_s=float(rng.uniform(0.0, 50.0)), duration_s=float(rng.uniform(5.0, 30.0)),
        resume_s=float(rng.choice([0.0, 0.1])), rtt_s=None if rng.random() < 0.5 else float(rng.uniform(0.0, 0.1)),
        max_download_s=float(rng.choice([5.0, 60.0])))
    video = challenge_video(60.0)
    ctrl = _live_controller(str(rng.choice(["fixed:rung=1", "rate:predictor=last", "l2a", "lolp"])))
    packed = pack_inputs([trace], [video], [ctrl], prof.bola_buffer_s(video.chunk_s))
    duration = prof.session_duration_s(trace)
    cap = int(math.ceil((duration + prof.target_latency_s + prof.availability_delay_s) / video.chunk_s)) + 4
    out = LiveOutputs(np.zeros((1, cap, LV.LV_COLS)), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64),
                      np.zeros((1, LV.LM_SIZE)))
    one = np.zeros(1, dtype=np.int64)
    kind = int(compile_group(int(packed.ctrls.ids[0])))
    pkind = int(predictor_group(int(packed.ctrls.pred_ids[0]), packed.ctrls.pred_params[0]))
    return (0, 1, G.Jobs(one, one.copy(), one.copy()), packed.traces, packed.videos, prof.pack(video.chunk_s),
            packed.ctrls, np.array([duration]), out, kind, pkind)


REFERENCES = {
    "live.run_live_batch": run_live_batch_like_kernel,
    "live_rules.catchup_sigmoid": sigmoid_rate,
    "live_rules.catchup_dashjs": lambda lat, target, buffer_s, stalled, drift, rmin, rmax: catchup_dashjs(
        lat, target, stalled, drift, rmin, rmax),
    "live_rules.catchup_lolp": catchup_lolp,
}


def _args_catchup_sigmoid(rng):
    return float(rng.uniform(-5, 5)), float(rng.choice([0.5, 0.8, 1.0])), float(rng.choice([1.0, 1.2, 1.5]))


def _args_catchup_dashjs(rng):
    target = float(rng.uniform(0.5, 4))
    lat = target + float(rng.choice([0.0, 0.01, rng.uniform(-3, 3)]))
    return (lat, target, float(rng.uniform(0, 3)), bool(rng.random() < 0.2), float(rng.choice([0.0, 0.02, 0.1])),
            float(rng.choice([0.5, 0.8, 1.0])), float(rng.choice([1.0, 1.2, 1.5])))


def _args_catchup_lolp(rng):
    target = float(rng.uniform(0.5, 4))
    lat = target + float(rng.choice([0.0, 0.01 * target, rng.uniform(-3, 3)]))
    return (lat, target, float(rng.uniform(0, 2)), float(rng.choice([0.0, 0.5, 1.0])),
            float(rng.choice([0.5, 0.8, 1.0])), float(rng.choice([1.0, 1.2, 1.5])))


KERNEL_INPUTS = {
    "live.run_live_batch": (_args_run_live_batch, 10),
    "live_rules.catchup_sigmoid": (_args_catchup_sigmoid, 40),
    "live_rules.catchup_dashjs": (_args_catchup_dashjs, 60),
    "live_rules.catchup_lolp": (_args_catchup_lolp, 60),
}
#: The session loop's pieces and the L2A-LL / LoL+ rules, checked through the whole live session
#: against the reference above (whose rules are written from dash.js, not from the kernels).
COVERED_BY = {f"live.{name}": "live.run_live_batch" for name in ("_advance", "_log_totals", "_new_rate", "play_live")}
COVERED_BY.update({f"live_rules.{name}": "live.run_live_batch" for name in (
    "_lolp_update", "euclidean_projection", "highest_at_most", "l2a_choose", "l2a_report", "l2a_start", "live_now",
    "lolp_centres", "lolp_choose", "lolp_distance", "lolp_next_buffer", "lolp_single_qoe", "splitmix64")})
