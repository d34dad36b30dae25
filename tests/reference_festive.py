"""Plain-Python FESTIVE, written to follow Pensieve's dash.js AbrController.js line by line.

Pensieve's modified dash.js (hongzimao/pensieve, ``dash.js/src/streaming/controllers/
AbrController.js``): ``getBitrateFestive`` (lines 234-289), ``getStabilityScore`` (200-215),
``getEfficiencyScore`` (217-221), ``getCombinedScore`` (223-232), ``predict_throughput``
(291-328). The JS keeps per-chunk dictionaries indexed by its decision counter
``lastRequested``; so does this class. It is the reference the Numba kernels in
``abrkit._kernels.festive`` are tested against, so it shares no code with them (the
kernel-shaped twins at the end share only the state-vector layout, to read and write it).

Units: bits/s, seconds, bytes (the JS works in kbit/s; only ratios of rates enter the rule).
"""

from __future__ import annotations

import math

import numpy as np

from abrkit._kernels import festive as _layout


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


# -- kernel-shaped twins, registered with tests/test_simulate.py ---------------------------------
#
# The kernels keep FESTIVE's state in a float64 vector (layout constants in
# abrkit._kernels.festive); these twins read that vector into a ReferenceFestive, take the same
# step with it, and write back what the step changed, so the generic kernel == reference test can
# compare both the return value and the state the kernel fills. Only the layout is shared.

_MAX = _layout.FESTIVE_MAX_WINDOW
_PARAM_NAMES = ("window", "min_download_s", "p", "alpha", "switch_window", "up_delay_per_rung",
                "up_delay_offset", "initial_rung", "stability_base")


def _read(cparams, cstate):
    ref = ReferenceFestive(**{name: float(cparams[i]) for i, name in enumerate(_PARAM_NAMES)})
    n = int(cstate[_layout.FESTIVE_S_N_REPORTS])
    for j in range(max(0, n - _MAX), n):
        ref.past_download_time[j] = float(cstate[_layout.FESTIVE_S_DOWNLOAD_S + j % _MAX])
        ref.past_throughput[j] = float(cstate[_layout.FESTIVE_S_THROUGHPUT_BPS + j % _MAX])
    ref.n_reports = n
    m = int(cstate[_layout.FESTIVE_S_N_RUNGS_LOGGED])
    for j in range(max(0, m - _MAX), m):
        ref.quality_log[j] = int(cstate[_layout.FESTIVE_S_RUNGS + j % _MAX])
    ref.n_decisions = m
    ref.last_index = m - 1
    ref.switch_up_count = float(cstate[_layout.FESTIVE_S_UP_COUNT])
    return ref


def festive_report(cparams, cstate, k, rung, size_bytes, download_s):
    ref = _read(cparams, cstate)
    ref.report(size_bytes, download_s)
    j = ref.n_reports - 1
    cstate[_layout.FESTIVE_S_DOWNLOAD_S + j % _MAX] = ref.past_download_time[j]
    cstate[_layout.FESTIVE_S_THROUGHPUT_BPS + j % _MAX] = ref.past_throughput[j]
    cstate[_layout.FESTIVE_S_N_REPORTS] = ref.n_reports


def festive_estimate(cparams, cstate):
    return _read(cparams, cstate).estimate()


def festive_decide(cparams, cstate, k, buffer_s, prev_rung, bitrates_bps):
    ref = _read(cparams, cstate)
    rung = ref.decide(prev_rung, [float(b) for b in bitrates_bps])
    if prev_rung >= 0:
        j = ref.n_decisions - 1
        cstate[_layout.FESTIVE_S_RUNGS + j % _MAX] = ref.quality_log[j]
        cstate[_layout.FESTIVE_S_N_RUNGS_LOGGED] = ref.n_decisions
        cstate[_layout.FESTIVE_S_LAST_ESTIMATE_BPS] = ref.estimates[-1]
        cstate[_layout.FESTIVE_S_UP_COUNT] = ref.switch_up_count
    return rung


def _random_situation(rng):
    """Random parameters, ladder and a state reached by a random history of reports and
    decisions (taken through the twins above)."""
    n_rungs = int(rng.integers(1, 9))
    ladder = np.unique(rng.uniform(5e4, 2e7, n_rungs))
    cparams = _layout.festive_params(
        window=int(rng.integers(1, _MAX + 1)),
        min_download_s=0.1 if rng.random() < 0.5 else float(rng.uniform(1e-3, 1.0)),
        p=0.85 if rng.random() < 0.5 else float(rng.uniform(0.3, 1.2)),
        alpha=12.0 if rng.random() < 0.5 else float(rng.uniform(0.0, 30.0)),
        switch_window=int(rng.integers(1, _MAX + 1)),
        up_delay_per_rung=1.0 if rng.random() < 0.5 else float(rng.uniform(0.0, 3.0)),
        up_delay_offset=0.0 if rng.random() < 0.5 else float(rng.uniform(-1.0, 3.0)),
        initial_rung=int(rng.integers(0, 10)),
        stability_base=float(rng.choice([2.0, 2.0, 1.5, 3.0])),
    )
    cstate = np.zeros(_layout.FESTIVE_STATE_SIZE)
    prev = festive_decide(cparams, cstate, 0, 0.0, -1, ladder)
    for k in range(int(rng.integers(0, 30))):
        size = ladder[prev] * 4.0 / 8.0 * float(rng.uniform(0.3, 3.0))
        festive_report(cparams, cstate, k, prev, size, float(rng.choice([rng.uniform(0.0, 12.0), rng.uniform(0.0, 0.12)])))
        prev = festive_decide(cparams, cstate, k + 1, float(rng.uniform(0.0, 30.0)), prev, ladder)
    return cparams, cstate, ladder, prev


def _args_decide(rng):
    cparams, cstate, ladder, prev = _random_situation(rng)
    if rng.random() < 0.3:  # a rung the player chose itself, or the first chunk
        prev = int(rng.integers(-1, ladder.size))
    return cparams, cstate, 5, float(rng.uniform(0.0, 30.0)), prev, ladder


def _args_report(rng):
    cparams, cstate, ladder, prev = _random_situation(rng)
    size = ladder[prev] * 4.0 / 8.0 * float(rng.uniform(0.3, 3.0))
    return cparams, cstate, 5, prev, size, float(rng.choice([rng.uniform(0.0, 12.0), rng.uniform(0.0, 0.12)]))


def _args_estimate(rng):
    cparams, cstate, _, _ = _random_situation(rng)
    return cparams, cstate


#: Kernel (``"module.function"`` under ``abrkit._kernels``) -> reference with the same signature.
REFERENCES = {
    "festive.festive_decide": festive_decide,
    "festive.festive_report": festive_report,
    "festive.festive_estimate": festive_estimate,
}

#: Kernel name -> (random-argument maker, number of random cases).
KERNEL_INPUTS = {
    "festive.festive_decide": (_args_decide, 300),
    "festive.festive_report": (_args_report, 200),
    "festive.festive_estimate": (_args_estimate, 200),
}

#: Helpers checked through the kernel that calls them.
COVERED_BY = {
    "festive._clip_window": "festive.festive_decide",
    "festive._festive_score": "festive.festive_decide",
}
