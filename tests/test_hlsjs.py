"""The ``hlsjs`` controller (hls.js 1.7.4's AbrController) and the ``hlsjs`` player profile.

Hand-worked cases (``video-dev/hls.js`` v1.7.4: ``src/utils/ewma.ts``,
``src/utils/ewma-bandwidth-estimator.ts``, ``src/controller/abr-controller.ts``); the kernel
against the plain-Python reference on random states is in tests/test_simulate.py
(``reference_hlsjs.py``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from abrkit import Trace, Video, get_controller, get_profile, simulate
from abrkit._kernels import hlsjs_rules as R
from abrkit._kernels.layout import CTRL_STATE
from abrkit.controllers import CONTROLLERS, HlsJs
from abrkit.errors import ParameterError
from abrkit.hlsjs import HlsjsProfile, buffer_target_s

LADDER = np.array([300e3, 1000e3, 1500e3, 2000e3])  # bits/s


def _fresh(c: HlsJs, ladder=LADDER):
    cparams = c.pack()[1]
    cstate = np.zeros(CTRL_STATE + 3 * ladder.size)
    R.hlsjs_start(cparams, cstate, ladder, 2.0, CTRL_STATE)
    return cparams, cstate


def _choose(cparams, cstate, buffer_s, latency_s=0.1, ladder=LADDER, sizes=None):
    """A decision; the video's segments are at the ladder's (peak) bitrates unless ``sizes``."""
    sizes = np.tile(ladder / 8 * 2.0, (10, 1)) if sizes is None else sizes
    return R.hlsjs_choose(cparams, cstate, 0, buffer_s, -1, ladder, sizes, 2.0, latency_s, CTRL_STATE)[0]


def _at_2_mbps(rung: int):
    """A controller whose one sample is 2 Mbit/s (250 kB, 1.1 s request to last byte, 100 ms
    TTFB: 1.0 s once the TTFB is taken off) from a fragment at ``rung``."""
    cparams, cstate = _fresh(HlsJs(bitrate_test=False))
    R.hlsjs_report(cparams, cstate, 0, rung, 250_000.0, 1.1, 2.0)
    return cparams, cstate


def test_registered_and_runs_under_every_profile():
    assert CONTROLLERS["hlsjs"] is HlsJs and isinstance(get_controller("hlsjs"), HlsJs)
    video = Video.synthetic_vbr([300, 750, 1200, 1850, 2850], 2.0, 20, seed=3)
    for profile in ("default", "pensieve", "sabre", "event", "dashjs", "hlsjs"):
        r = simulate(Trace.from_durations([30.0, 30.0, 30.0], [2e6, 1e6, 3e6]), video, "hlsjs", profile)
        assert r.status == "complete", profile


def test_one_sample_is_the_estimate():
    # zero-bias correction: one sample of weight w gives (v (1 - a^w)) / (1 - a^w) = v
    cparams, cstate = _at_2_mbps(0)
    _choose(cparams, cstate, 10.0)
    assert R.bw_estimate(cparams, cstate) == pytest.approx(2e6, rel=1e-12)
    assert R.ttfb_estimate_s(cparams, cstate) == pytest.approx(0.1, rel=1e-12)


def test_two_samples_by_hand():
    # 2 Mbit/s over 1 s, then 4 Mbit/s over 2 s. Fast (3 s): a = 2^(-1/3) = 0.7937005;
    # (4e6 (1 - a^2) + a^2 x 2e6 (1 - a)) / (1 - a^3) = (1.4801579e6 + 0.2599210e6) / 0.5 = 3.4801579e6.
    # Slow (9 s): b = 2^(-1/9) = 0.9258747; (4e6 (1 - b^2) + b^2 x 2e6 (1 - b)) / (1 - b^3)
    # = (0.5710241e6 + 0.1270872e6) / 0.2062995 = 3.3839664e6. The estimate is the lower one.
    cparams, cstate = _fresh(HlsJs())
    R.bw_sample(cparams, cstate, 1.0, 250_000.0)
    R.bw_sample(cparams, cstate, 2.0, 1_000_000.0)
    assert R._ewma_estimate(cstate, R.R_FAST, 3.0) == pytest.approx(3.4801579e6, rel=1e-6)
    assert R.bw_estimate(cparams, cstate) == pytest.approx(3.3839664e6, rel=1e-6)


def test_default_estimate_and_first_level():
    # nothing measured: 500 kbit/s; firstAutoLevel with factors 1 and 4 s allowed: 300 kbit/s fits
    cparams, cstate = _fresh(HlsJs(bitrate_test=False))
    assert R.bw_estimate(cparams, cstate) == 5e5
    assert _choose(cparams, cstate, 0.0) == 0
    # 800 kbit/s: level 1 (750) fits; its playlist is not loaded: 0.1 + 0.75 x 1 s / 0.8 + 0.1 = 1.1375 s < 4 s
    ladder = np.array([300e3, 750e3, 1200e3])
    cparams, cstate = _fresh(HlsJs(bitrate_test=False, default_kbps=800.0), ladder)
    assert _choose(cparams, cstate, 0.0, ladder=ladder) == 1


def test_up_and_down_factors():
    # from level 0 at 2 Mbit/s: up-switches see 0.7 x 2 = 1.4 Mbit/s -> level 1 (1000), not 2 (1500)
    cparams, cstate = _at_2_mbps(0)
    assert _choose(cparams, cstate, 10.0) == 1
    # from level 3 (2000): 0.95 x 2 = 1.9 Mbit/s -> level 2 (1500); fetch 0.1 + 1.5 x 2 / 1.9 + 0.1 = 1.78 s < 10 s
    cparams, cstate = _at_2_mbps(3)
    assert _choose(cparams, cstate, 10.0) == 2


def test_buffer_aware_choice():
    # from level 3 with 1 s buffered: level 2 needs 1.78 s, level 1 0.1 + 1.0 x 2 / 1.9 + 0.1 = 1.253 s,
    # level 0 (playlist loaded) 0.1 + 0.3 x 2 / 1.9 = 0.416 s: level 0
    cparams, cstate = _at_2_mbps(3)
    assert _choose(cparams, cstate, 1.0) == 0
    # an empty buffer allows min(fragment, maxStarvationDelay) = 2 s of rebuffering: level 2 (1.78 s)
    cparams, cstate = _at_2_mbps(3)
    assert _choose(cparams, cstate, 0.0) == 2


def test_bitrate_test_then_first_auto_level():
    # startLevel -1: the first fragment is the bitrate test at level 0; the next is firstAutoLevel (factors 1, half the
    # buffer + 4 s): 2.2 Mbit/s reaches level 3 (2000 <= 2200), 0.1 + 2.0 x 2 / 2.2 + 0.1 = 2.02 s < 1 + 4 s
    cparams, cstate = _fresh(HlsJs(bitrate_test=True))
    assert _choose(cparams, cstate, 0.0) == 0
    R.hlsjs_report(cparams, cstate, 0, 0, 275_000.0, 1.1, 2.0)
    assert cstate[R.R_LAST_LEVEL] == -1.0  # the test does not count as a loaded level
    assert _choose(cparams, cstate, 2.0) == 3


def test_average_bitrate_once_two_fragments_are_buffered():
    # AVERAGE-BANDWIDTH 75 % of the peak: from level 0 at 2 Mbit/s, up-switches see 1.4 Mbit/s; level 2
    # averages 1125 kbit/s (level 3: 1500): with 10 s buffered (>= 2 fragments, no rebuffering allowed) it fits
    sizes = np.tile(0.75 * LADDER / 8 * 2.0, (10, 1))
    cparams, cstate = _at_2_mbps(0)
    assert _choose(cparams, cstate, 10.0, sizes=sizes) == 2
    # with 3 s buffered (< 2 fragments) the peak counts: level 1 (1000 <= 1400), as without averages
    cparams, cstate = _at_2_mbps(0)
    assert _choose(cparams, cstate, 3.0, sizes=sizes) == 1
    cparams, cstate = _at_2_mbps(0)
    cparams[R.P_AVERAGE] = 0.0
    assert _choose(cparams, cstate, 10.0, sizes=sizes) == 1


def test_first_fragment_processing():
    # 250 kB in 1.1 s with a 100 ms TTFB, plus 0.25 s of first-fragment set-up: 2e6 / 1.25 = 1.6 Mbit/s
    cparams, cstate = _fresh(HlsJs(first_processing_s=0.25))
    R.hlsjs_report(cparams, cstate, 0, 0, 250_000.0, 1.1, 2.0)
    _choose(cparams, cstate, 10.0)
    assert R.bw_estimate(cparams, cstate) == pytest.approx(1.6e6, rel=1e-12)
    R.hlsjs_report(cparams, cstate, 1, 0, 250_000.0, 1.1, 2.0)  # the second one has none
    _choose(cparams, cstate, 10.0)
    assert 1.6e6 < R.bw_estimate(cparams, cstate) < 2e6


def test_controller_errors():
    with pytest.raises(ParameterError, match="bw_up_factor"):
        HlsJs(bw_up_factor=0.0)
    with pytest.raises(ParameterError, match="bitrate_test"):
        HlsJs(bitrate_test="yes")


def test_profile_buffer_targets():
    # getMaxBufferLength: min(max(8 x 60 MB / bitrate, 30 s), 600 s)
    assert buffer_target_s(2.85e6, 30.0, 60e6, 600.0) == pytest.approx(480e6 / 2.85e6)
    assert buffer_target_s(30e6, 30.0, 60e6, 600.0) == 30.0
    assert buffer_target_s(100e3, 30.0, 60e6, 600.0) == 600.0
    p = get_profile("hlsjs")
    assert isinstance(p, HlsjsProfile) and p.name == "hlsjs"
    video = Video.synthetic_vbr([300, 750, 1200, 1850, 2850], 2.0, 20, seed=3)
    from abrkit._kernels import dashjs_layout as D

    cfg = p.player_config(video)
    assert cfg[D.D_TOP_BUFFER_MS] == pytest.approx(1000 * 480e6 / video.bitrates_bps[-1])
    assert cfg[D.D_BUFFER_MS] == pytest.approx(1000 * 480e6 / video.bitrates_bps[-2])
    assert cfg[D.D_INIT_EVERY_SWITCH] == 0.0 and cfg[D.D_FAST_SWITCH] == 0.0 and cfg[D.D_ABANDON] == 0.0
    with pytest.raises(ParameterError, match="max_buffer_bytes"):
        p.replace(max_buffer_bytes=0.0)


def test_profile_first_fragment_at_the_default_estimate():
    # firstAutoLevel with 500 kbit/s: level 0 (300 kbit/s), whatever the controller
    video = Video.synthetic_vbr([300, 750, 1200, 1850, 2850], 2.0, 20, seed=3)
    for c in ("hlsjs", "fixed:rung=4", "rate"):
        assert simulate(Trace.constant(5e6), video, c, "hlsjs").rung[0] == 0


def test_profile_gives_the_controller_its_first_processing():
    p = get_profile("hlsjs")
    assert p.controller_for(HlsJs()).first_processing_s == p.first_processing_s == 0.085
    assert p.controller_for(HlsJs(first_processing_s=0.2)).first_processing_s == 0.2
    assert get_profile("dashjs").controller_for(HlsJs()).first_processing_s == 0.0


def test_playlist_once_per_level():
    # the same session with a playlist per level change (dash.js's init rule) takes longer
    video = Video.synthetic_vbr([300, 750, 1200, 1850, 2850], 2.0, 30, seed=3)
    trace = Trace.from_durations(np.full(40, 3.0), np.tile([0.6e6, 3e6], 20))
    once = simulate(trace, video, "bola", "hlsjs")
    assert once.status == "complete"
    assert len(set(once.rung.tolist())) > 2  # it switches
    assert math.isfinite(once.startup_s)
