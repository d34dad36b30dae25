"""Plain-Python reference of the dash.js player kernel (``abrkit._kernels.dashjs_player``).

Written from the profile's description (docs/real-players.md, ``abrkit.dashjs``), not from the
kernel: a ``Link`` object for the looping trace, a ``Playback`` object for the playhead, and the
player's loop over requests. The controller and its predictor are asked through the same
contract functions the kernel calls (run as Python), so a difference is the player's.
Units: ms, bits, kbit/s, as the kernel.
"""

from __future__ import annotations

import math

import numpy as np

from abrkit._kernels import contract
from abrkit._kernels import dashjs_layout as D
from abrkit._kernels import estimators
from abrkit._kernels.layout import CTRL_STATE


class Link:
    """The trace as a looping sequence of (duration_ms, kbps, latency_ms) periods."""

    def __init__(self, tr):
        self.tr = [tuple(map(float, row)) for row in tr]
        self.i = 0
        self.left = self.tr[0][0]
        self.now = 0.0

    def _next(self):
        self.i = (self.i + 1) % len(self.tr)
        self.left = self.tr[self.i][0]

    @property
    def latency(self):
        return self.tr[self.i][2]

    def idle(self, ms):
        self.now += ms
        while ms > 0.0:
            if self.left > ms:
                self.left -= ms
                return
            ms -= self.left
            self._next()

    def send(self, bits, max_ms):
        sent = elapsed = 0.0
        while sent < bits and elapsed < max_ms:
            bw = self.tr[self.i][1]
            room = min(self.left, max_ms - elapsed)
            need = (bits - sent) / bw if bw > 0 else math.inf
            if need <= room:
                t, sent = need, bits
            else:
                t = room
                sent += bw * t
            self.left -= t
            self.now += t
            elapsed += t
            if self.left <= 0.0:
                self._next()
        return sent, elapsed


class Playback:
    def __init__(self, n_seg, seg_ms):
        self.pos = 0.0
        self.state = "idle"  # idle -> pending -> playing
        self.pending = 0.0
        self.startup = math.nan
        self.seg_ms = seg_ms
        self.total = n_seg * seg_ms
        self.stalls = [0.0] * (n_seg + 1)
        self.frozen = 0.0  # the playhead stands still this long (an append over the playing segment)

    def run(self, dt, now, avail):
        if self.state == "pending":
            c = min(dt, self.pending)
            self.pending -= c
            dt -= c
            if self.pending <= 0.0:
                self.state = "playing"
                self.startup = now + c
        if self.state != "playing" or dt <= 0.0 or self.pos >= self.total:
            return
        if self.frozen > 0.0:
            c = min(dt, self.frozen)
            self.frozen -= c
            dt -= c
            self.stalls[int(self.pos / self.seg_ms)] += c
            if dt <= 0.0:
                return
        if dt <= avail - self.pos:
            self.pos += dt
            return
        extra = dt - (avail - self.pos)
        self.pos = avail
        if avail < self.total:
            self.stalls[int(avail / self.seg_ms + 0.5)] += extra


def rung_for(bitrates, kbps):
    if not kbps > 0:
        return 0
    below = [i for i, b in enumerate(bitrates) if b <= kbps]
    return below[-1] if below else 0


def play_dashjs(tr, seg_ms, bitrates, sizes_bits, cfg, kind, cparams, pid, pparams, n_pstate, prof, bitrates_bps,
                sizes_bytes, cdata, pstate=None):
    """(requests, status, startup_ms, played): requests as dicts, status 'complete' /
    'stalled' / 'no_bandwidth', played a list of (rung, stall_ms)."""
    if not any(row[1] > 0 for row in tr):
        return [], "no_bandwidth", math.nan, []
    n_seg, n_q = sizes_bits.shape
    link = Link(tr)
    pb = Playback(n_seg, seg_ms)
    pstate = np.zeros(n_pstate) if pstate is None else pstate  # the predictor's state (filled in place)
    group = estimators.predictor_group(pid, pparams)
    cstate = np.zeros(CTRL_STATE + 3 * n_q)
    contract.start(kind, cparams, cstate, cdata, bitrates_bps, seg_ms / 1000.0)
    durations_s = np.full(len(sizes_bytes), seg_ms / 1000.0)  # the player plays equal segments
    max_ms = cfg[D.D_MAX_DOWNLOAD_MS]
    tail = 0

    def wait(ms):
        pb.run(ms, link.now, tail * seg_ms)
        link.idle(ms)

    def transfer(bits, limit):
        before = link.now
        got, el = link.send(bits, limit)
        pb.run(el, before, tail * seg_ms)
        return got, el

    def small_request(bits):
        lat = link.latency
        wait(lat)
        _, el = transfer(bits, max_ms - lat)
        return el < max_ms - lat

    wait(cfg[D.D_SETUP_MS])
    if not small_request(cfg[D.D_MANIFEST_BITS]):
        return [], "stalled", math.nan, []
    cur = rung_for(bitrates, cfg[D.D_INITIAL_KBPS])
    loaded_init = None
    inits_seen = set()
    last = [-1] * n_seg
    abandoned = [False] * n_seg
    nxt = 0
    forced = cur
    hold_until = -math.inf
    last_ttfb_s = 0.0
    idle_since = link.now
    requests = []
    status = "complete"
    while nxt < n_seg:
        level = tail * seg_ms - pb.pos
        target = cfg[D.D_TOP_BUFFER_MS] if cur == n_q - 1 else cfg[D.D_BUFFER_MS]
        if level + (seg_ms if target > seg_ms else 0.0) >= target:
            wait(cfg[D.D_SCHEDULE_MS])
            contract.full_wait(kind, cparams, cstate, cfg[D.D_SCHEDULE_MS] / 1000.0)
            continue
        estimate = math.nan
        if forced is not None:
            q, forced = forced, None
        else:
            est_bps = estimators.predict_for(group, pid, pparams, pstate, link.now / 1000.0)
            estimate = est_bps / 1000.0
            q, delay_s = contract.choose(kind, cparams, cstate, cdata, nxt, n_seg, level / 1000.0, cur, bitrates_bps,
                                         sizes_bytes, durations_s, est_bps,
                                         estimators.latency_for(group, pid, pparams, pstate), last_ttfb_s, prof)
            q = min(max(int(q), 0), n_q - 1)
            if delay_s > 0:
                wait(delay_s * 1000.0)
            held = link.now < hold_until
            if q > cur and held:
                q = cur
            if q > cur and cfg[D.D_FAST_SWITCH]:
                playing = int((pb.pos + cfg[D.D_FAST_SWITCH_MARGIN_MS]) / seg_ms)
                if playing < tail and last[playing] < q and not held:
                    nxt = playing  # replace from the segment at the playhead on
        cur = q
        if q != loaded_init:
            if loaded_init is not None:
                wait(cfg[D.D_SWITCH_MS])
            if cfg[D.D_INIT_EVERY_SWITCH] or q not in inits_seen:  # hls.js: a level's playlist once
                if not small_request(cfg[D.D_INIT_BITS]):
                    status = "stalled"
                    break
                inits_seen.add(q)
            loaded_init = q
        seg = nxt
        size = sizes_bits[seg, q]
        t0 = link.now
        replacing = seg < tail
        # the media request, watched at its progress events
        lat = link.latency
        wait(lat)
        watch = (not abandoned[seg]) and cfg[D.D_ABANDON] != 0 and q > 0 and cfg[D.D_PROGRESS_MS] > 0
        step = cfg[D.D_PROGRESS_MS] if watch else max_ms
        got, events, first = 0.0, 0, None
        outcome = "done"
        to = None
        while got < size:
            left = max_ms - (link.now - t0)
            if left <= 0:
                outcome = "timeout"
                break
            bits, _ = transfer(size - got, min(step, left))
            got += bits
            if got >= size or not watch:
                continue
            events += 1
            since = link.now - t0 - lat
            if events == 1:
                first = (got, since)
                continue
            if (tail * seg_ms - pb.pos > cfg[D.D_BUFFER_MS] or events < cfg[D.D_ABANDON_MIN_SAMPLES]
                    or since <= cfg[D.D_ABANDON_MIN_MS]):
                continue
            kbps = (got - first[0]) / max(since - first[1], 1.0)
            if not kbps > 0 or size / kbps < cfg[D.D_ABANDON_MULTIPLIER] * seg_ms:
                continue
            lower = rung_for(bitrates, kbps)
            if size - got > size * bitrates[lower] / bitrates[q]:
                outcome, to = "abandoned", lower
                break
        if outcome == "timeout":
            status = "stalled"
            break
        elapsed = link.now - t0
        last_ttfb_s = lat / 1000.0
        if outcome == "done":
            last[seg] = q
            if replacing and pb.state == "playing" and pb.pos < pb.total and int(pb.pos / seg_ms) == seg:
                pb.frozen = max(pb.frozen, cfg[D.D_OVERLAP_MS] - (tail * seg_ms - pb.pos))
            if seg >= tail:
                tail = seg + 1
                if pb.state == "idle":
                    if cfg[D.D_START_MS] > 0:
                        pb.state, pb.pending = "pending", cfg[D.D_START_MS]
                    else:
                        pb.state, pb.startup = "playing", link.now
            nxt = seg + 1
            estimators.learn(group, pid, pparams, pstate, got / 8.0, (elapsed - lat) / 1000.0, lat / 1000.0,
                             link.now / 1000.0)
            contract.report(kind, cparams, cstate, seg, q, got / 8.0, elapsed / 1000.0,
                            (tail * seg_ms - pb.pos) / 1000.0, bitrates_bps, seg_ms / 1000.0)
        else:
            abandoned[seg] = True
            forced = to
            hold_until = link.now + cfg[D.D_ABANDON_HOLD_MS]
        requests.append({
            "segment": seg, "rung": q, "size_bits": size, "got_bits": got, "time_ms": elapsed, "ttfb_ms": lat,
            "abandon_to": to, "replacement": replacing, "request_ms": t0, "wait_ms": t0 - idle_since,
            "buffer_ms": tail * seg_ms - pb.pos, "estimate_kbps": estimate,
        })
        if outcome == "done":
            wait(cfg[D.D_APPEND_MS])
        idle_since = link.now
    startup = pb.startup
    if pb.state == "pending":
        startup = link.now + pb.pending
    played = [(last[i], pb.stalls[i]) for i in range(tail)]
    return requests, status, startup, played


# -- registration with tests/test_simulate.py (REFERENCES / KERNEL_INPUTS / COVERED_BY) ------------


def play_dashjs_like_kernel(tr, seg_ms, bitrates, sizes_bits, cfg, log, played, kind, cparams, pid, pgroup, pparams,
                            pstate, prof, bitrates_bps, sizes_bytes, cdata):
    """:func:`play_dashjs` with the kernel's signature: fills ``log`` and ``played`` the same way."""
    from abrkit._kernels import event_layout as E

    requests, status, startup, segs = play_dashjs(tr, seg_ms, bitrates, sizes_bits, cfg, kind, cparams.copy(), pid,
                                                  pparams, pstate.size, prof, bitrates_bps, sizes_bytes, cdata, pstate)
    for i, r in enumerate(requests[: log.shape[0]]):
        row = log[i]
        row[E.E_SEGMENT], row[E.E_QUALITY], row[E.E_SIZE_BITS] = r["segment"], r["rung"], r["size_bits"]
        row[E.E_DOWNLOADED_BITS], row[E.E_TIME_MS], row[E.E_TTFB_MS] = r["got_bits"], r["time_ms"], r["ttfb_ms"]
        row[E.E_ABANDON_TO] = np.nan if r["abandon_to"] is None else r["abandon_to"]
        row[E.E_REPLACE] = 1.0 if r["replacement"] else 0.0
        row[E.E_REQUEST_MS], row[E.E_WAIT_MS], row[E.E_BUFFER_MS] = r["request_ms"], r["wait_ms"], r["buffer_ms"]
        row[E.E_THROUGHPUT_KBPS] = r["estimate_kbps"]
    for i, (q, s) in enumerate(segs):
        played[i, 0], played[i, 1] = q, s
    code = {"complete": E.EV_COMPLETE, "stalled": E.EV_STALLED, "no_bandwidth": E.EV_NO_BANDWIDTH}[status]
    return len(requests), code, startup


def _args_play_dashjs(rng):
    from abrkit import Trace, Video
    from abrkit.controllers import get_controller
    from abrkit.event import EVENT_PROFILES, _event_controller, video_arrays
    from abrkit._kernels.estimators import predictor_group

    n = int(rng.integers(2, 12))
    trace = Trace.from_durations(rng.uniform(0.5, 8.0, n), rng.choice([0.0, 0.3e6, 1e6, 3e6, 8e6], n))
    if not np.any(trace.bandwidth_bps > 0):
        trace = Trace.constant(2e6)
    video = Video.synthetic_vbr([300, 750, 1200, 1850, 2850], float(rng.choice([1.0, 2.0, 4.0])), int(rng.integers(3, 20)),
                                seed=int(rng.integers(0, 1000)))
    profile = EVENT_PROFILES[str(rng.choice(["dashjs", "dashjs", "hlsjs"]))].replace(
        latency_s=float(rng.uniform(0, 0.2)), fast_switch=bool(rng.random() < 0.8), abandon=bool(rng.random() < 0.8),
        overlap_stall_s=float(rng.uniform(0, 1)), payload_efficiency=float(rng.uniform(0.9, 1.0)), max_download_s=60.0)
    spec = str(rng.choice(["dashjs", "rate", "fixed:rung=4", "bola", "bb", "hlsjs"]))
    contract = profile.contract(_event_controller(get_controller(spec)), 200)
    seg_ms, bitrates, sizes = video_arrays(video)
    log = np.zeros((4 * sizes.shape[0] + 8, 12))
    played = np.full((sizes.shape[0], 2), np.nan)
    return (profile.kernel_trace(trace), seg_ms, bitrates, sizes, profile.player_config(video), log, played,
            contract.kind, contract.cparams, contract.pid, predictor_group(contract.pid, contract.pparams),
            contract.pparams, np.zeros(contract.n_state), contract.prof, np.ascontiguousarray(video.bitrates_bps),
            np.ascontiguousarray(video.sizes_bytes), contract.cdata)


REFERENCES = {"dashjs_player.play_dashjs": play_dashjs_like_kernel}
KERNEL_INPUTS = {"dashjs_player.play_dashjs": (_args_play_dashjs, 6)}
#: The loop's helpers, checked through the whole loop against the reference above.
COVERED_BY = {f"dashjs_player.{name}": "dashjs_player.play_dashjs" for name in (
    "next_period", "idle_network", "send", "play", "wait", "fetch", "download_media")}
