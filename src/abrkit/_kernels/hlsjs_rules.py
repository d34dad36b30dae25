"""hls.js 1.7.4's ABR as one controller of the contract (``CTRL_HLSJS``).

What ``AbrController`` (``video-dev/hls.js`` v1.7.4, ``src/controller/abr-controller.ts``)
returns as ``nextAutoLevel`` with hls.js's default settings (``src/config.ts``):

* **estimate** (``src/utils/ewma-bandwidth-estimator.ts``, ``src/utils/ewma.ts``): two EWMAs of
  the download rate whose weights are the downloads' durations in seconds, half-lives
  ``abrEwmaFastVoD`` (3 s) and ``abrEwmaSlowVoD`` (9 s) of download time, each divided by
  ``1 - alpha ** total_weight`` (zero-bias correction); the estimate is the lower of the two,
  or ``abrEwmaDefaultEstimate`` (500 kbit/s) until the fast one has a weight of at least 0.001.
  A sample (``onFragBuffered``) is the fragment's bytes over the time from request to the end of
  its processing less ``min(ttfb, TTFB estimate)``, floored at ``min(50 ms, bytes / 100000)``;
  the TTFB estimate is a third EWMA (slow half-life) of the TTFBs in ms weighted by
  ``sqrt(2) exp(-ttfb_s ** 2 / 2)`` (default 100 ms);
* **first level** (``level-controller.ts`` ``get startLevel``): with ``startLevel`` unset (the
  default) it is ``firstAutoLevel``, and so is every choice until a fragment has loaded:
  ``findBestLevel`` with the estimate (the default one at first), half the buffer as starvation
  delay, ``maxStarvationDelay`` (4 s) and factors 1. Only with ``startLevel: -1`` and
  ``testBandwidth`` (``stream-controller.ts`` ``startLoad``; not the default) is the first
  fragment a bitrate test at level 0, which does not count as a loaded level (``P_BITRATE_TEST``);
* **next level** (``getNextABRAutoLevel``): with a buffer, the highest level that
  ``findBestLevel`` finds with no rebuffering allowed and the factors ``abrBandWidthFactor``
  (0.95, levels at or below the last loaded one) and ``abrBandWidthUpFactor`` (0.7, above it);
  else allowing ``min(fragment duration, maxStarvationDelay)`` of rebuffering (after a bitrate
  test with an empty buffer: ``min(fragment duration, maxLoadingDelay)`` less the test's time,
  factors 1); else the lowest level;
* ``findBestLevel``: from the top level down, the first whose bitrate is at most factor x
  estimate and whose fetch time (TTFB estimate + bitrate x duration / (factor x estimate), plus
  TTFB estimate + the last playlist's load time when that level's playlist was never loaded)
  is below the buffer + allowed rebuffering (or at most the TTFB estimate). The duration is the
  level's target duration once its playlist is loaded, else the current fragment's (1 s
  before any). The bitrate is the level's ``averageBitrate`` (``AVERAGE-BANDWIDTH``: the video's
  bits over its duration at that rung) when the buffer holds two fragments and no rebuffering
  is allowed, else its ``BANDWIDTH`` (the ladder's, peak) bitrate.

The emergency abandonment (``_abandonRulesCheck``) watches a download in progress: it is the
player's, not this function's (the contract has no hook inside a download; see
:mod:`abrkit.hlsjs`). Units: seconds, bytes, bits per second (the contract's).
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import njit

# parameters (cparams)
P_FAST_HALF_LIFE_S = 0  # abrEwmaFastVoD (3 s of download time)
P_SLOW_HALF_LIFE_S = 1  # abrEwmaSlowVoD (9 s)
P_DEFAULT_BPS = 2  # abrEwmaDefaultEstimate (500 kbit/s)
P_BW_FACTOR = 3  # abrBandWidthFactor (0.95): levels at or below the last loaded one
P_BW_UP_FACTOR = 4  # abrBandWidthUpFactor (0.7): levels above it
P_MAX_STARVATION_S = 5  # maxStarvationDelay (4 s)
P_MAX_LOADING_S = 6  # maxLoadingDelay (4 s)
P_DEFAULT_TTFB_S = 7  # EwmaBandWidthEstimator defaultTTFB (100 ms)
P_MIN_WEIGHT = 8  # minWeight_ (0.001): the fast EWMA's weight before the estimate is used
P_MIN_DELAY_S = 9  # minDelayMs_ (50 ms): floor of a sample's duration (at most bytes / 100000 ms)
P_PLAYLIST_S = 10  # lastLevelLoadSec: a media playlist's load time, first byte to last
P_PROCESSING_S = 11  # measured: fragment processing (transmuxing) after its last byte, in the sample
P_BITRATE_TEST = 12  # 1.0: startLevel -1 + testBandwidth (the first fragment is a bitrate test at level 0)
P_AVERAGE = 13  # 1.0: the playlist announces AVERAGE-BANDWIDTH (abrkit's write_hls does): hls.js's averageBitrate
P_FIRST_PROCESSING_S = 14  # measured: the first fragment's extra processing (transmuxer and SourceBuffer set-up)
N_PARAMS = 15

# state (cstate[:CTRL_STATE]); cstate[CTRL_STATE + i] = 1.0 once level i's playlist is loaded, and
# cstate[CTRL_STATE + n + i] level i's average bitrate (bits/s; 0 until the first decision computes it)
R_FAST = 0  # fast EWMA: estimate (bits/s, not yet zero-bias corrected)
R_FAST_W = 1  # its total weight (s)
R_SLOW = 2
R_SLOW_W = 3
R_TTFB = 4  # TTFB EWMA (ms)
R_TTFB_W = 5
R_LAST_LEVEL = 6  # lastLoadedFragLevel (-1: none)
R_PENDING = 7  # 1.0: a download was reported and is sampled at the next decision (its TTFB comes then)
R_PENDING_BYTES = 8
R_PENDING_S = 9  # request to last byte
R_FRAG_S = 10  # the current fragment's duration (0: none yet)
R_TEST_S = 11  # bitrateTestDelay (0: the last sample was not a bitrate test)
R_REPORTS = 12  # downloads reported
R_SIZE = 13


@njit
def _alpha(half_life_s):
    return math.exp(math.log(0.5) / half_life_s) if half_life_s > 0.0 else 0.0


@njit
def _ewma_sample(cstate, at, half_life_s, weight, value):
    """EWMA.sample: ``cstate[at]`` the estimate, ``cstate[at + 1]`` the total weight."""
    adj = _alpha(half_life_s) ** weight
    cstate[at] = value * (1.0 - adj) + adj * cstate[at]
    cstate[at + 1] += weight


@njit
def _ewma_estimate(cstate, at, half_life_s):
    """EWMA.getEstimate: the estimate over ``1 - alpha ** total weight``."""
    a = _alpha(half_life_s)
    if a != 0.0:
        zero = 1.0 - a ** cstate[at + 1]
        if zero != 0.0:
            return cstate[at] / zero
    return cstate[at]


@njit
def bw_estimate(cparams, cstate):
    """getEstimate (bits/s): the lower EWMA, or the default until the fast one has weight."""
    if cstate[R_FAST_W] >= cparams[P_MIN_WEIGHT]:
        return min(_ewma_estimate(cstate, R_FAST, cparams[P_FAST_HALF_LIFE_S]),
                   _ewma_estimate(cstate, R_SLOW, cparams[P_SLOW_HALF_LIFE_S]))
    return cparams[P_DEFAULT_BPS]


@njit
def ttfb_estimate_s(cparams, cstate):
    """getEstimateTTFB, in seconds."""
    if cstate[R_TTFB_W] >= cparams[P_MIN_WEIGHT]:
        return _ewma_estimate(cstate, R_TTFB, cparams[P_SLOW_HALF_LIFE_S]) / 1000.0
    return cparams[P_DEFAULT_TTFB_S]


@njit
def bw_sample(cparams, cstate, duration_s, n_bytes):
    """EwmaBandWidthEstimator.sample: ``n_bytes`` in ``duration_s`` (floored), weight = seconds."""
    if n_bytes <= 0.0:
        return
    floor_s = min(cparams[P_MIN_DELAY_S], n_bytes / 100000.0 / 1000.0)
    d = max(duration_s, floor_s)
    if not d > 0.0:
        return
    bps = 8.0 * n_bytes / d
    _ewma_sample(cstate, R_FAST, cparams[P_FAST_HALF_LIFE_S], d, bps)
    _ewma_sample(cstate, R_SLOW, cparams[P_SLOW_HALF_LIFE_S], d, bps)


@njit
def ttfb_sample(cparams, cstate, ttfb_s):
    """sampleTTFB: the TTFB in ms (at least 5), weighted by ``sqrt(2) exp(-ttfb_s ** 2 / 2)``."""
    weight = math.sqrt(2.0) * math.exp(-(ttfb_s * ttfb_s) / 2.0)
    _ewma_sample(cstate, R_TTFB, cparams[P_SLOW_HALF_LIFE_S], weight, max(ttfb_s * 1000.0, 5.0))


@njit
def find_best_level(cparams, cstate, loaded, average_bps, bitrates_bps, bw_bps, max_level, starvation_s,
                    max_starvation_s, bw_factor, up_factor, first, chunk_s):
    """findBestLevel: the highest level from ``max_level`` down that loads in time, or -1."""
    n = bitrates_bps.size
    if n == 1:
        return 0
    max_fetch_s = starvation_s + max_starvation_s
    base = int(cstate[R_LAST_LEVEL])
    if base < 0:
        base = 0  # hls.firstLevel: the master playlist's first variant (abrkit writes the lowest first)
    if first:
        bw_bps = max(bw_bps, bitrates_bps[0])  # the start tier's minimum bitrate
    ttfb_s = ttfb_estimate_s(cparams, cstate)
    frag_s = cstate[R_FRAG_S]
    use_average = frag_s > 0.0 and starvation_s >= 2.0 * frag_s and max_starvation_s == 0.0
    for i in range(max_level, -1, -1):
        adjusted = (up_factor if i > base else bw_factor) * bw_bps
        bitrate = average_bps[i] if use_average else bitrates_bps[i]
        has_details = loaded[i] != 0.0
        duration_s = chunk_s if has_details else (frag_s if frag_s > 0.0 else 1.0)
        fetch_s = ttfb_s + bitrate * duration_s / adjusted
        if not has_details:
            fetch_s += ttfb_s + cparams[P_PLAYLIST_S]
        if adjusted >= bitrate and (fetch_s <= ttfb_s or not math.isfinite(fetch_s) or fetch_s < max_fetch_s):
            return i
    return -1


@njit
def hlsjs_start(cparams, cstate, bitrates_bps, chunk_s, ctrl_state):
    cstate[R_LAST_LEVEL] = -1.0
    cstate[ctrl_state] = 1.0  # the start level's playlist is loaded before any fragment


@njit
def _take_sample(cparams, cstate, ttfb_s):
    """onFragLoaded (sampleTTFB) then onFragBuffered (sample) for the pending download."""
    ttfb_sample(cparams, cstate, ttfb_s)
    processing_s = cstate[R_PENDING_S] + cparams[P_PROCESSING_S] - min(ttfb_s, ttfb_estimate_s(cparams, cstate))
    if cstate[R_REPORTS] == 1.0:
        processing_s += cparams[P_FIRST_PROCESSING_S]
    bw_sample(cparams, cstate, processing_s, cstate[R_PENDING_BYTES])
    if cstate[R_TEST_S] < 0.0:  # the bitrate test's sample
        cstate[R_TEST_S] = processing_s
    else:
        cstate[R_TEST_S] = 0.0
    cstate[R_PENDING] = 0.0


@njit
def hlsjs_choose(cparams, cstate, k, buffer_s, prev_rung, bitrates_bps, sizes_bytes, chunk_s, latency_s, ctrl_state):
    """(rung, 0.0) for the next fragment: ``nextAutoLevel`` (see the module docstring).
    ``sizes_bytes`` is the video's size table (the levels' average bitrates); ``latency_s`` the
    last request's time to first byte (its TTFB sample)."""
    n = bitrates_bps.size
    loaded = cstate[ctrl_state: ctrl_state + n]
    average = cstate[ctrl_state + n: ctrl_state + 2 * n]
    if average[0] == 0.0:
        rows = sizes_bytes.shape[0]
        for i in range(n):
            if cparams[P_AVERAGE] != 0.0 and rows > 0:
                total = 0.0
                for r in range(rows):
                    total += sizes_bytes[r, i]
                average[i] = 8.0 * total / (rows * chunk_s)
            else:
                average[i] = bitrates_bps[i]
    if cstate[R_PENDING] != 0.0:
        _take_sample(cparams, cstate, latency_s)
    if cparams[P_BITRATE_TEST] != 0.0 and cstate[R_REPORTS] == 0.0:
        return 0, 0.0  # the bitrate test fragment, at level 0
    est = bw_estimate(cparams, cstate)
    starvation_s = max(buffer_s, 0.0)
    has_estimate = cstate[R_FAST_W] >= cparams[P_MIN_WEIGHT]
    q = -1
    if not has_estimate or cstate[R_LAST_LEVEL] < 0.0:
        q = find_best_level(cparams, cstate, loaded, average, bitrates_bps, est, n - 1, starvation_s / 2.0,
                            cparams[P_MAX_STARVATION_S], 1.0, 1.0, cstate[R_LAST_LEVEL] < 0.0, chunk_s)
        if q < 0:
            q = 0
    else:
        if starvation_s > 0.0:
            q = find_best_level(cparams, cstate, loaded, average, bitrates_bps, est, n - 1, starvation_s, 0.0,
                                cparams[P_BW_FACTOR], cparams[P_BW_UP_FACTOR], False, chunk_s)
        if q < 0:
            frag_s = cstate[R_FRAG_S]
            max_starvation = min(frag_s, cparams[P_MAX_STARVATION_S]) if frag_s > 0.0 else cparams[P_MAX_STARVATION_S]
            factor = cparams[P_BW_FACTOR]
            up = cparams[P_BW_UP_FACTOR]
            if starvation_s == 0.0 and cstate[R_TEST_S] > 0.0:
                loading = min(frag_s, cparams[P_MAX_LOADING_S]) if frag_s > 0.0 else cparams[P_MAX_LOADING_S]
                max_starvation = loading - cstate[R_TEST_S]
                factor = 1.0
                up = 1.0
            q = find_best_level(cparams, cstate, loaded, average, bitrates_bps, est, n - 1, starvation_s, max_starvation,
                                factor, up, False, chunk_s)
            if q < 0:
                q = 0
    loaded[q] = 1.0
    return q, 0.0


@njit
def hlsjs_report(cparams, cstate, k, rung, size_bytes, download_s, chunk_s):
    """A fragment loaded: kept to be sampled at the next decision (with its TTFB); the level is
    the last loaded one unless this was the bitrate test."""
    test = cparams[P_BITRATE_TEST] != 0.0 and cstate[R_REPORTS] == 0.0
    cstate[R_REPORTS] += 1.0
    cstate[R_PENDING] = 1.0
    cstate[R_PENDING_BYTES] = size_bytes
    cstate[R_PENDING_S] = download_s
    cstate[R_FRAG_S] = chunk_s
    if test:
        cstate[R_TEST_S] = -1.0
    else:
        cstate[R_LAST_LEVEL] = rung
