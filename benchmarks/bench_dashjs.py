"""asv benchmarks of the ``dashjs`` player profile (``_kernels/dashjs_player.py``).

* ``DashjsPlayer`` -- segments per second of the compiled loop over the 40-trace set, one core,
  per controller (``dashjs`` runs as dash.js 5.2.1's rules, ``dashjs5``; ``rate`` and
  ``robustmpc`` through the contract), with the player's abandonment checks on (a progress event
  every 50 ms) and off.
* ``DashjsSpeedupVsReference`` -- that rate divided by the plain-Python reference
  (``tests/reference_dashjs.py``) measured in the same process.

Data: the Sabre 4G traces and ``bbb4k.json`` when the shared data is present, else a seeded
synthetic stand-in of the same shape (``bench_event._inputs``).
"""

from __future__ import annotations

import functools
import sys

import numpy as np

from ._data import TESTS_DIR, best_time
from .bench_event import DATA, TRACK_MIN_S, _inputs

CONTROLLERS = ["dashjs", "rate", "robustmpc"]
ABANDON = ["abandon", "no-abandon"]


@functools.lru_cache(maxsize=None)
def _setup(controller: str, abandon: str):
    from abrkit.controllers import get_controller
    from abrkit.event import EVENT_PROFILES, _event_controller, video_arrays
    from abrkit._kernels.estimators import predictor_group

    _, _, _, _, traces, video = _inputs()
    prof = EVENT_PROFILES["dashjs"].replace(abandon=abandon == "abandon", latency_s=0.08)
    contract = prof.contract(_event_controller(get_controller(controller)), 1000)
    trs = [prof.kernel_trace(t) for t in traces]
    return prof, contract, trs, video_arrays(video), prof.player_config(video), video, predictor_group(contract.pid, contract.pparams)


def _run_all(controller: str, abandon: str, n_traces: int | None = None) -> int:
    from abrkit.dashjs import _play_dashjs

    prof, c, trs, (seg_ms, bitrates, sizes), cfg, video, group = _setup(controller, abandon)
    n_seg = sizes.shape[0]
    log = np.empty((8 * n_seg, 12))
    played = np.empty((n_seg, 2))
    bps, sizes_b = np.ascontiguousarray(video.bitrates_bps), np.ascontiguousarray(video.sizes_bytes)
    use = trs if n_traces is None else trs[:n_traces]
    for tr in use:
        _play_dashjs(tr, seg_ms, bitrates, sizes, cfg, log, played, c.kind, c.cparams, c.pid, group, c.pparams,
                     np.zeros(c.n_state), c.prof, bps, sizes_b, c.cdata)
    return n_seg * len(use)


class DashjsPlayer:
    """Compiled dash.js player sessions over the 40-trace set, one core."""

    params = ([DATA], CONTROLLERS, ABANDON)
    param_names = ["data", "controller", "abandonment"]
    timeout = 180

    def setup(self, data, controller, abandon):
        self.n = _run_all(controller, abandon)  # compiles (or loads the cache)

    def time_sessions(self, data, controller, abandon):
        _run_all(controller, abandon)

    def track_segments_per_second(self, data, controller, abandon):
        return self.n / best_time(lambda: _run_all(controller, abandon), min_time=TRACK_MIN_S)

    track_segments_per_second.unit = "segments/s"


class DashjsSpeedupVsReference:
    """Compiled loop rate / plain-Python reference rate (``tests/reference_dashjs.py``), same process."""

    params = ([DATA], ["dashjs", "rate"])
    param_names = ["data", "controller"]
    timeout = 300

    def setup(self, data, controller):
        if not (TESTS_DIR / "reference_dashjs.py").is_file():
            raise NotImplementedError("tests/reference_dashjs.py is not there")
        if str(TESTS_DIR) not in sys.path:
            sys.path.insert(0, str(TESTS_DIR))
        import reference_dashjs  # type: ignore[import-not-found]

        self.reference = reference_dashjs.play_dashjs
        _run_all(controller, "abandon")

    def track_speedup(self, data, controller):
        prof, c, trs, (seg_ms, bitrates, sizes), cfg, video, _ = _setup(controller, "abandon")
        bps, sizes_b = np.ascontiguousarray(video.bitrates_bps), np.ascontiguousarray(video.sizes_bytes)

        def reference():
            for tr in trs[:2]:
                self.reference(tr, seg_ms, bitrates, sizes, cfg, c.kind, c.cparams.copy(), c.pid, c.pparams, c.n_state,
                               c.prof, bps, sizes_b, c.cdata)

        ref_rate = 2 * sizes.shape[0] / best_time(reference, min_time=TRACK_MIN_S, min_repeats=2)
        kernel_rate = sizes.shape[0] * len(trs) / best_time(lambda: _run_all(controller, "abandon"), min_time=TRACK_MIN_S)
        return kernel_rate / ref_rate

    track_speedup.unit = "x"
