"""asv benchmarks of the live player model (``_kernels/live.py``).

* ``LiveKernel`` -- simulated live session-seconds per second of the compiled loop, one core,
  per controller. The issue's target: >= 1,000,000 for the throughput rule. ``rate-dashjs`` is
  dash.js 5's ThroughputRule (the highest rung <= 0.9 x its EWMA, ``rate`` with the dash.js
  history); ``throughput`` is Sabre's throughput rule through the contract.
* ``LiveSpeedupVsReference`` -- the same rate divided by the plain-Python reference of the live
  loop (``tests/reference_live.py``, which the tests prove equal to the kernel), measured in the
  same process: a ratio that survives machine noise.

Data: the five networks of the Twitch challenge (``samples/twitch/traces``, written by
``scripts/make_twitch_samples.py``) and its media (0.5 s segments of 200 / 600 / 1000 kbit/s,
15 CMAF chunks each), each network looped for a 600 s session, 8 sessions per network; the
profile ``live`` (target latency 1 s, dash.js catch-up).
"""

from __future__ import annotations

import functools
import sys

import numpy as np

from ._data import REPO, TESTS_DIR, best_time

CONTROLLERS = {
    "rate-dashjs": "rate:predictor=sabre-ewma(half_lives_s=2/5.333333333333333),safety=0.9",
    "throughput": "throughput",
    "l2a": "l2a",
    "lolp": "lolp",
}
SESSION_S = 600.0
COPIES = 8
TRACK_MIN_S = 0.3


@functools.lru_cache(maxsize=None)
def _inputs():
    from abrkit import load_traces, read_video

    twitch = REPO / "samples" / "twitch"
    return load_traces(twitch / "traces"), read_video(twitch / "twitch_normal.json")


@functools.lru_cache(maxsize=None)
def _prepared(controller: str):
    """Everything the kernel takes for the whole set, packed once (no tables in the timing)."""
    from abrkit import get_controller
    from abrkit._kernels import groups as G
    from abrkit._kernels import layout as L
    from abrkit._kernels import live_layout as LV
    from abrkit._kernels.contract import compile_group
    from abrkit._kernels.estimators import predictor_group
    from abrkit._kernels.live import LiveOutputs
    from abrkit.live import LiveProfile, _run_kernel, pack_inputs

    traces, video = _inputs()
    prof = LiveProfile(duration_s=SESSION_S)
    ctrl = get_controller(CONTROLLERS[controller])
    packed = pack_inputs(traces, [video], [ctrl], prof.bola_buffer_s(video.chunk_s))
    n = len(traces) * COPIES
    jobs = G.Jobs(np.tile(np.arange(len(traces), dtype=np.int64), COPIES), np.zeros(n, dtype=np.int64),
                  np.zeros(n, dtype=np.int64))
    cap = int(np.ceil((SESSION_S + 2.0) / video.chunk_s)) + 4
    out = LiveOutputs(np.empty((n, cap, LV.LV_COLS)), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64),
                      np.zeros((n, LV.LM_SIZE)))
    durations = np.full(n, SESSION_S)
    lp = prof.pack(video.chunk_s)
    kind = compile_group(int(packed.ctrls.ids[0]))
    pkind = predictor_group(int(packed.ctrls.pred_ids[0]), packed.ctrls.pred_params[0])

    def run() -> None:
        _run_kernel(0, n, jobs, packed.traces, packed.videos, lp, packed.ctrls, durations, out, kind, pkind)

    run()  # compiles (or loads the cache)
    assert (out.status == L.STATUS_COMPLETE).all()
    return run, n * SESSION_S, (packed, lp, ctrl, prof, traces, video)


class LiveKernel:
    """Compiled live sessions over the Twitch networks, one core."""

    params = [list(CONTROLLERS)]
    param_names = ["controller"]
    timeout = 300

    def setup(self, controller):
        self.run, self.session_s, _ = _prepared(controller)

    def time_sessions(self, controller):
        self.run()

    def track_session_seconds_per_second(self, controller):
        return self.session_s / best_time(self.run, min_time=TRACK_MIN_S)

    track_session_seconds_per_second.unit = "session-s/s"


class LiveSpeedupVsReference:
    """Compiled loop rate / plain-Python reference rate, measured in the same process."""

    params = [["rate-dashjs", "l2a"]]
    param_names = ["controller"]
    timeout = 600

    def setup(self, controller):
        if not (TESTS_DIR / "reference_live.py").is_file():
            raise NotImplementedError("tests/reference_live.py is not there")
        if str(TESTS_DIR) not in sys.path:
            sys.path.insert(0, str(TESTS_DIR))
        import reference_live  # type: ignore[import-not-found]

        self.ref = reference_live
        self.run, self.session_s, self.packed = _prepared(controller)

    def track_speedup(self, controller):
        from abrkit._kernels import live_layout as LV

        packed, lp, ctrl, prof, traces, video = self.packed
        kind, cparams = ctrl.pack_for(prof.bola_buffer_s(video.chunk_s))
        pid, pparams, n_state = ctrl.pack_predictor()
        ref_s = 60.0  # the reference is slow: one minute of each network
        log = np.empty((int(ref_s / video.chunk_s) + 8, LV.LV_COLS))
        m = np.zeros(LV.LM_SIZE)

        def reference():
            for t in traces:
                self.ref.run_live_session(prof.kernel_trace(t), video.sizes_bytes, video.bitrates_bps, video.chunk_s,
                                          lp, kind, cparams, pid, pparams, n_state, ref_s, log, m)

        ref_rate = len(traces) * ref_s / best_time(reference, min_time=TRACK_MIN_S, min_repeats=2)
        kernel_rate = self.session_s / best_time(self.run, min_time=TRACK_MIN_S)
        return kernel_rate / ref_rate

    track_speedup.unit = "x"
