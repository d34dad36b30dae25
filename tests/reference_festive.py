"""Plain-Python FESTIVE, written to follow Pensieve's dash.js AbrController.js line by line.

Pensieve's modified dash.js (hongzimao/pensieve, ``dash.js/src/streaming/controllers/
AbrController.js``): ``getBitrateFestive`` (lines 234-289), ``getStabilityScore`` (200-215),
``getEfficiencyScore`` (217-221), ``getCombinedScore`` (223-232), ``predict_throughput``
(291-328). The JS keeps per-chunk dictionaries indexed by its decision counter
``lastRequested``; so does this class. It is the reference the Numba kernels in
``abrkit._kernels.festive`` are tested against, so it shares no code with them.

Units: bits/s, seconds, bytes (the JS works in kbit/s; only ratios of rates enter the rule).
"""

from __future__ import annotations

import math


class ReferenceFestive:
    """One FESTIVE player session. Call :meth:`decide` before each chunk and :meth:`report`
    after each download, as the session loop calls the kernels."""

    def __init__(self, window=5, min_download_s=0.1, p=0.85, alpha=12.0, switch_window=5,
                 up_delay_per_rung=1.0, up_delay_offset=0.0, initial_rung=1, stability_base=2.0):
        self.horizon = max(1, min(8, int(window)))
        self.switch_horizon = max(1, min(8, int(switch_window)))
        self.min_download_s = min_download_s
        self.p = p
        self.alpha = alpha
        self.up_delay_per_rung = up_delay_per_rung
        self.up_delay_offset = up_delay_offset
        self.initial_rung = int(initial_rung)
        self.stability_base = stability_base
        # JS state
        self.past_throughput = {}  # report number -> bits/s
        self.past_download_time = {}  # report number -> s (floored)
        self.n_reports = 0
        self.quality_log = {}  # decision number -> rung of the previous chunk
        self.last_index = -1
        self.n_decisions = 0
        self.switch_up_count = 0
        self.estimates = []  # estimate used by each decision (for tests)

    # predict_throughput, first half: log the last download
    def report(self, size_bytes, download_s):
        t = download_s
        if t < self.min_download_s:
            t = self.min_download_s
        self.past_download_time[self.n_reports] = t
        self.past_throughput[self.n_reports] = size_bytes * 8 / t
        self.n_reports += 1

    # predict_throughput, second half: the time-weighted harmonic mean
    def estimate(self):
        if self.n_reports == 0:
            return 0.0
        last = self.n_reports - 1
        first = max(0, last + 1 - self.horizon)
        tmp_sum = 0.0
        tmp_time = 0.0
        for i in range(first, last + 1):
            if self.past_throughput[i] == 0:
                tmp_sum = math.inf
            else:
                tmp_sum = tmp_sum + self.past_download_time[i] / self.past_throughput[i]
            tmp_time = tmp_time + self.past_download_time[i]
        if tmp_sum == math.inf:
            return 0.0
        return tmp_time / tmp_sum

    def stability_score(self, b, b_cur):
        n = 0
        if self.last_index >= 1:
            for i in range(max(0, self.last_index + 1 - self.switch_horizon), self.last_index):
                if self.quality_log[i] != self.quality_log[i + 1]:
                    n = n + 1
        if b != b_cur:
            n = n + 1
        return self.stability_base ** n

    def efficiency_score(self, b, b_ref, w, bitrates):
        denom = min(w, bitrates[b_ref])
        if denom == 0:
            return math.inf
        return abs(bitrates[b] / denom - 1)

    def combined_score(self, b, b_ref, b_cur, w, bitrates):
        eff = self.efficiency_score(b, b_ref, w, bitrates)
        if eff == math.inf:
            return math.inf
        return self.stability_score(b, b_cur) + self.alpha * eff

    def decide(self, prev_rung, bitrates):
        bitrates = list(bitrates)
        if prev_rung < 0:  # the first chunk: dash.js starts from lastQuality = 1
            return max(0, min(self.initial_rung, len(bitrates) - 1))
        b_cur = min(prev_rung, len(bitrates) - 1)
        last_requested = self.n_decisions
        self.n_decisions += 1
        # 1. log previous quality
        self.quality_log[last_requested] = b_cur
        self.last_index = last_requested
        w = self.estimate()
        self.estimates.append(w)
        # 2. b_target
        tmp_bitrate = self.p * w
        b_target = 0
        for i in reversed(range(len(bitrates))):
            if bitrates[i] <= tmp_bitrate:
                b_target = i
                break
            b_target = i
        # 3. b_ref
        if b_target > b_cur:
            self.switch_up_count = self.switch_up_count + 1
            if self.switch_up_count > self.up_delay_per_rung * b_cur + self.up_delay_offset:
                b_ref = b_cur + 1
            else:
                b_ref = b_cur
        elif b_target < b_cur:
            b_ref = b_cur - 1
            self.switch_up_count = 0
        else:
            b_ref = b_cur
            self.switch_up_count = 0
        # 4. delayed update
        if b_ref != b_cur:
            score_cur = self.combined_score(b_cur, b_ref, b_cur, w, bitrates)
            score_ref = self.combined_score(b_ref, b_ref, b_cur, w, bitrates)
            if score_cur <= score_ref:
                bitrate = b_cur
            else:
                bitrate = b_ref
                if bitrate > b_cur:
                    self.switch_up_count = 0
        else:
            bitrate = b_cur
        return bitrate
