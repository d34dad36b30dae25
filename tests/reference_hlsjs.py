"""Plain-Python reference of ``hlsjs`` (``abrkit._kernels.hlsjs_rules``): hls.js 1.7.4's
``AbrController`` as objects, the way hls.js writes it (an ``Ewma`` class, an estimator of three
of them, ``find_best_level`` over level objects), translated to and from the kernel's packed
state so ``tests/test_simulate.py`` checks the kernel against it on random states.
"""

from __future__ import annotations

import math


class Ewma:
    """``src/utils/ewma.ts``: weights are seconds; the estimate is zero-bias corrected."""

    def __init__(self, half_life, estimate=0.0, weight=0.0):
        self.half_life = half_life
        self.alpha = math.exp(math.log(0.5) / half_life) if half_life else 0.0
        self.estimate = estimate
        self.weight = weight

    def sample(self, weight, value):
        adj = self.alpha ** weight
        self.estimate = value * (1 - adj) + adj * self.estimate
        self.weight += weight

    def get(self):
        if self.alpha:
            zero = 1 - self.alpha ** self.weight
            if zero:
                return self.estimate / zero
        return self.estimate


class Estimator:
    """``src/utils/ewma-bandwidth-estimator.ts``."""

    def __init__(self, fast, slow, default_bps, default_ttfb_s, min_weight=0.001, min_delay_s=0.05):
        self.fast, self.slow, self.ttfb = Ewma(fast), Ewma(slow), Ewma(slow)
        self.default_bps, self.default_ttfb_s = default_bps, default_ttfb_s
        self.min_weight, self.min_delay_s = min_weight, min_delay_s

    def sample(self, duration_s, n_bytes):
        if n_bytes <= 0:
            return
        d = max(duration_s, min(self.min_delay_s, n_bytes / 1e5 / 1e3))
        if not d > 0:
            return
        self.fast.sample(d, 8 * n_bytes / d)
        self.slow.sample(d, 8 * n_bytes / d)

    def sample_ttfb(self, ttfb_s):
        self.ttfb.sample(math.sqrt(2) * math.exp(-ttfb_s ** 2 / 2), max(ttfb_s * 1000, 5.0))

    def can_estimate(self):
        return self.fast.weight >= self.min_weight

    def estimate(self):
        return min(self.fast.get(), self.slow.get()) if self.can_estimate() else self.default_bps

    def ttfb_s(self):
        return self.ttfb.get() / 1000 if self.ttfb.weight >= self.min_weight else self.default_ttfb_s


class HlsAbr:
    """The decisions of ``AbrController`` (``nextAutoLevel`` and what feeds it)."""

    def __init__(self, bitrates_bps, fast=3.0, slow=9.0, default_bps=5e5, bw_factor=0.95, bw_up_factor=0.7,
                 max_starvation_s=4.0, max_loading_s=4.0, default_ttfb_s=0.1, playlist_s=0.0, processing_s=0.0,
                 bitrate_test=True, min_weight=0.001, min_delay_s=0.05, average_bitrate=True, first_processing_s=0.0):
        self.first_processing_s = first_processing_s
        self.bitrates = list(bitrates_bps)
        self.average_bitrate = average_bitrate
        self.averages = None  # AVERAGE-BANDWIDTH per level, from the size table at the first decision
        self.est = Estimator(fast, slow, default_bps, default_ttfb_s, min_weight, min_delay_s)
        self.bw_factor, self.bw_up_factor = bw_factor, bw_up_factor
        self.max_starvation_s, self.max_loading_s = max_starvation_s, max_loading_s
        self.playlist_s, self.processing_s, self.bitrate_test = playlist_s, processing_s, bitrate_test
        self.last_level = -1
        self.details = {0}  # levels whose playlist is loaded
        self.pending = None  # (bytes, request-to-last-byte s)
        self.frag_s = 0.0
        self.test_s = 0.0  # bitrateTestDelay; None while the test's sample is pending
        self.reports = 0

    def find_best_level(self, bw, starvation_s, max_starvation_s, factor, up_factor, first, chunk_s):
        if len(self.bitrates) == 1:
            return 0
        base = self.last_level if self.last_level >= 0 else 0
        if first:
            bw = max(bw, self.bitrates[0])
        ttfb = self.est.ttfb_s()
        average = self.frag_s > 0 and starvation_s >= 2 * self.frag_s and max_starvation_s == 0
        for i in reversed(range(len(self.bitrates))):
            adjusted = (up_factor if i > base else factor) * bw
            bitrate = self.averages[i] if average else self.bitrates[i]
            known = i in self.details
            duration = chunk_s if known else (self.frag_s or 1.0)
            fetch = ttfb + bitrate * duration / adjusted + (0.0 if known else ttfb + self.playlist_s)
            if adjusted >= bitrate and (fetch <= ttfb or not math.isfinite(fetch)
                                                 or fetch < starvation_s + max_starvation_s):
                return i
        return -1

    def choose(self, buffer_s, sizes_bytes, chunk_s, latency_s):
        if self.averages is None:
            rows = len(sizes_bytes)
            self.averages = [8 * sum(float(r[i]) for r in sizes_bytes) / (rows * chunk_s)
                             if self.average_bitrate and rows else b for i, b in enumerate(self.bitrates)]
        if self.pending is not None:
            n_bytes, download_s = self.pending
            self.est.sample_ttfb(latency_s)
            processing = download_s + self.processing_s - min(latency_s, self.est.ttfb_s())
            if self.reports == 1:
                processing += self.first_processing_s
            self.est.sample(processing, n_bytes)
            self.test_s = processing if self.test_s is None else 0.0
            self.pending = None
        if self.bitrate_test and self.reports == 0:
            return 0
        bw = self.est.estimate()
        buf = max(buffer_s, 0.0)
        if not self.est.can_estimate() or self.last_level < 0:
            q = self.find_best_level(bw, buf / 2, self.max_starvation_s, 1.0, 1.0, self.last_level < 0, chunk_s)
            q = max(q, 0)
        else:
            q = self.find_best_level(bw, buf, 0.0, self.bw_factor, self.bw_up_factor, False, chunk_s) if buf > 0 else -1
            if q < 0:
                limit = min(self.frag_s, self.max_starvation_s) if self.frag_s else self.max_starvation_s
                factor, up = self.bw_factor, self.bw_up_factor
                if buf == 0 and self.test_s and self.test_s > 0:
                    limit = (min(self.frag_s, self.max_loading_s) if self.frag_s else self.max_loading_s) - self.test_s
                    factor = up = 1.0
                q = max(self.find_best_level(bw, buf, limit, factor, up, False, chunk_s), 0)
        self.details.add(q)
        return q

    def report(self, rung, size_bytes, download_s, chunk_s):
        test = self.bitrate_test and self.reports == 0
        self.reports += 1
        self.pending = (size_bytes, download_s)
        self.frag_s = chunk_s
        if test:
            self.test_s = None
        else:
            self.last_level = rung


# -- the kernel's packed state <-> the objects -------------------------------------------------------


def _from(cparams, cstate, bitrates, ctrl_state):
    from abrkit._kernels import hlsjs_rules as R

    a = HlsAbr(bitrates, cparams[R.P_FAST_HALF_LIFE_S], cparams[R.P_SLOW_HALF_LIFE_S], cparams[R.P_DEFAULT_BPS],
               cparams[R.P_BW_FACTOR], cparams[R.P_BW_UP_FACTOR], cparams[R.P_MAX_STARVATION_S],
               cparams[R.P_MAX_LOADING_S], cparams[R.P_DEFAULT_TTFB_S], cparams[R.P_PLAYLIST_S],
               cparams[R.P_PROCESSING_S], bool(cparams[R.P_BITRATE_TEST]), cparams[R.P_MIN_WEIGHT],
               cparams[R.P_MIN_DELAY_S], bool(cparams[R.P_AVERAGE]), cparams[R.P_FIRST_PROCESSING_S])
    for ewma, at in ((a.est.fast, R.R_FAST), (a.est.slow, R.R_SLOW), (a.est.ttfb, R.R_TTFB)):
        ewma.estimate, ewma.weight = cstate[at], cstate[at + 1]
    a.last_level = int(cstate[R.R_LAST_LEVEL])
    a.pending = (cstate[R.R_PENDING_BYTES], cstate[R.R_PENDING_S]) if cstate[R.R_PENDING] else None
    a.frag_s = cstate[R.R_FRAG_S]
    a.test_s = None if cstate[R.R_TEST_S] < 0 else cstate[R.R_TEST_S]
    a.reports = int(cstate[R.R_REPORTS])
    a.details = {i for i in range(len(bitrates)) if cstate[ctrl_state + i]}
    n = len(bitrates)
    if cstate[ctrl_state + n]:
        a.averages = [cstate[ctrl_state + n + i] for i in range(n)]
    return a


def _to(a, cstate, ctrl_state):
    from abrkit._kernels import hlsjs_rules as R

    for ewma, at in ((a.est.fast, R.R_FAST), (a.est.slow, R.R_SLOW), (a.est.ttfb, R.R_TTFB)):
        cstate[at], cstate[at + 1] = ewma.estimate, ewma.weight
    cstate[R.R_LAST_LEVEL] = a.last_level
    cstate[R.R_PENDING] = 0.0 if a.pending is None else 1.0
    if a.pending is not None:
        cstate[R.R_PENDING_BYTES], cstate[R.R_PENDING_S] = a.pending
    cstate[R.R_FRAG_S] = a.frag_s
    cstate[R.R_TEST_S] = -1.0 if a.test_s is None else a.test_s
    cstate[R.R_REPORTS] = a.reports
    for i in range(len(a.bitrates)):
        cstate[ctrl_state + i] = 1.0 if i in a.details else 0.0
        if a.averages is not None:
            cstate[ctrl_state + len(a.bitrates) + i] = a.averages[i]


def hlsjs_start(cparams, cstate, bitrates_bps, chunk_s, ctrl_state):
    from abrkit._kernels import hlsjs_rules as R

    cstate[R.R_LAST_LEVEL] = -1.0
    cstate[ctrl_state] = 1.0


def hlsjs_choose(cparams, cstate, k, buffer_s, prev_rung, bitrates_bps, sizes_bytes, chunk_s, latency_s, ctrl_state):
    a = _from(cparams, cstate, list(bitrates_bps), ctrl_state)
    q = a.choose(buffer_s, sizes_bytes.tolist(), chunk_s, latency_s)
    _to(a, cstate, ctrl_state)
    return q, 0.0


def hlsjs_report(cparams, cstate, k, rung, size_bytes, download_s, chunk_s):
    from abrkit._kernels.layout import CTRL_STATE

    n = (cstate.size - CTRL_STATE) // 3  # the scratch holds 3 x n_rungs
    a = _from(cparams, cstate, [1.0] * n, CTRL_STATE)
    a.report(rung, size_bytes, download_s, chunk_s)
    _to(a, cstate, CTRL_STATE)


# -- random reachable states for tests/test_simulate.py ---------------------------------------------


def _random_situation(rng):
    import numpy as np
    from abrkit.controllers import HlsJs
    from abrkit._kernels.layout import CTRL_STATE

    n = int(rng.integers(1, 7))
    bitrates = np.sort(rng.choice(np.arange(200e3, 8e6, 50e3), n, replace=False))
    c = HlsJs(fast_half_life_s=float(rng.choice([3.0, rng.uniform(0.5, 10)])),
              slow_half_life_s=float(rng.choice([9.0, rng.uniform(0.5, 20)])),
              default_kbps=float(rng.choice([500.0, rng.uniform(100, 5000)])),
              playlist_s=float(rng.choice([0.0, rng.uniform(0, 0.2)])),
              processing_s=float(rng.choice([0.0, rng.uniform(0, 0.2)])), bitrate_test=bool(rng.random() < 0.5),
              first_processing_s=float(rng.choice([0.0, rng.uniform(0, 0.2)])),
              average_bitrate=bool(rng.random() < 0.8))
    cparams = c.pack()[1]
    cstate = np.zeros(CTRL_STATE + 3 * n)
    sizes = bitrates[None, :] / 8 * 2.0 * rng.uniform(0.6, 1.0, (int(rng.integers(1, 30)), n))
    hlsjs_start(cparams, cstate, bitrates, 2.0, CTRL_STATE)
    for k in range(int(rng.integers(0, 20))):
        q, _ = hlsjs_choose(cparams, cstate, k, float(rng.choice([0.0, rng.uniform(0, 30)])), -1, bitrates, sizes,
                            2.0, float(rng.uniform(0, 0.5)), CTRL_STATE)
        hlsjs_report(cparams, cstate, k, q, float(rng.uniform(0, 2e6)), float(rng.choice([0.0, rng.uniform(0, 5)])),
                     2.0)
    return n, bitrates, cparams, cstate, sizes


def _args_start(rng):
    import numpy as np
    from abrkit._kernels.layout import CTRL_STATE

    n, bitrates, cparams, cstate, sizes = _random_situation(rng)
    return cparams, np.zeros_like(cstate), bitrates, 2.0, CTRL_STATE


def _args_choose(rng):
    from abrkit._kernels.layout import CTRL_STATE

    n, bitrates, cparams, cstate, sizes = _random_situation(rng)
    return (cparams, cstate, int(rng.integers(0, 40)), float(rng.choice([0.0, rng.uniform(0, 30)])), -1, bitrates,
            sizes, 2.0, float(rng.uniform(0, 0.5)), CTRL_STATE)


def _args_report(rng):
    n, bitrates, cparams, cstate, sizes = _random_situation(rng)
    return (cparams, cstate, int(rng.integers(0, 40)), int(rng.integers(0, n)), float(rng.uniform(0, 2e6)),
            float(rng.uniform(0, 5)), 2.0)


REFERENCES = {
    "hlsjs_rules.hlsjs_start": hlsjs_start,
    "hlsjs_rules.hlsjs_choose": hlsjs_choose,
    "hlsjs_rules.hlsjs_report": hlsjs_report,
}
KERNEL_INPUTS = {
    "hlsjs_rules.hlsjs_start": (_args_start, 50),
    "hlsjs_rules.hlsjs_choose": (_args_choose, 400),
    "hlsjs_rules.hlsjs_report": (_args_report, 200),
}
COVERED_BY = {f"hlsjs_rules.{name}": "hlsjs_rules.hlsjs_choose" for name in (
    "_alpha", "_ewma_sample", "_ewma_estimate", "bw_estimate", "ttfb_estimate_s", "bw_sample", "ttfb_sample",
    "find_best_level", "_take_sample")}
