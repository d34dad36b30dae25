"""asv benchmarks of the event model (Sabre's player) and its controllers.

* ``EventKernel`` -- segments per second of the compiled session kernel, one core, per controller,
  with abandonment polling on (Sabre's 50 ms / 12000 bits) and off. The issue's target: BOLA-E
  with abandonment polling >= 500,000 segments per second per core.
* ``EventSpeedupVsReference`` -- the same rate divided by the plain-Python Sabre model
  (``tests/sabre_model.py``, proven equal to ``sabre.py`` on 480 reference runs) measured in the
  same process: a ratio that survives machine noise.
* ``SabreReferenceSet`` -- the whole 40-trace Sabre 4G set for one controller through
  ``run_event_batch`` (packing, threads and tables included).

Data: the Sabre 4G traces and ``bbb4k.json`` (199 segments of 3 s, 6 qualities) when the shared
data is present, else a seeded synthetic stand-in of the same shape (labelled by ``DATA``).
"""

from __future__ import annotations

import functools
import sys

import numpy as np

from ._data import TESTS_DIR, best_time, shared_data_dir

CONTROLLERS = ["bola", "bolae", "throughput", "dynamic", "dynamicdash", "dashjs", "dashjs4"]
ABANDON = ["polling", "no-abandon"]
TRACK_MIN_S = 0.3
DATA = "sabre-4g" if shared_data_dir() is not None else "synthetic-sabre"


@functools.lru_cache(maxsize=None)
def _inputs():
    """(traces as (n, 3) arrays, segment_ms, bitrates_kbps, sizes_bits, abrkit traces, abrkit video)."""
    from abrkit import Video, load_traces, read_video
    from abrkit.event import EVENT_PROFILES

    root = shared_data_dir()
    prof = EVENT_PROFILES["sabre"]
    if root is not None:
        traces = load_traces(root / "traces" / "sabre-4g")
        video = read_video(root / "videos" / "sabre" / "bbb4k.json")
    else:
        from ._data import synthetic_traces

        traces = synthetic_traces(40, seed=4040, n_periods=300, prefix="sabre-like")
        video = Video.synthetic_vbr((1000, 2500, 5000, 8000, 16000, 35000), 3.0, 199, seed=4041, name="bbb4k-like")
    arrays = [prof.kernel_trace(t) for t in traces]
    return arrays, video.chunk_s * 1e3, video.bitrates_bps / 1e3, video.sizes_bytes * 8.0, traces, video


def _config(controller: str, abandon: str):
    from abrkit import get_controller
    from abrkit.event import EVENT_PROFILES

    _, _, _, _, _, video = _inputs()
    c = get_controller(controller)
    if abandon == "no-abandon":
        c = get_controller(f"{controller}:abandon=false")
    return EVENT_PROFILES["sabre"].config(c, video), c.history_arrays()


def _run_all(cfg, history) -> int:
    from abrkit._kernels import event_layout as E
    from abrkit._kernels.event import run_event_session

    arrays, seg_ms, bitrates, sizes, _, _ = _inputs()
    n_seg = sizes.shape[0]
    metrics = np.empty(E.N_METRICS)
    log = np.empty((8 * n_seg, E.E_COLS))
    played = np.empty((n_seg, 2))
    for tr in arrays:
        run_event_session(tr, seg_ms, bitrates, sizes, cfg, history[0], history[1], metrics, log, played)
    return n_seg * len(arrays)


class EventKernel:
    """Compiled event-model sessions over the 40-trace set, one core."""

    params = ([DATA], CONTROLLERS, ABANDON)
    param_names = ["data", "controller", "abandonment"]
    timeout = 120

    def setup(self, data, controller, abandon):
        self.cfg, self.history = _config(controller, abandon)
        self.n = _run_all(self.cfg, self.history)  # compiles (or loads the cache)

    def time_sessions(self, data, controller, abandon):
        _run_all(self.cfg, self.history)

    def track_segments_per_second(self, data, controller, abandon):
        return self.n / best_time(lambda: _run_all(self.cfg, self.history), min_time=TRACK_MIN_S)

    track_segments_per_second.unit = "segments/s"


class EventSpeedupVsReference:
    """Compiled kernel rate / plain-Python Sabre model rate, measured in the same process."""

    params = ([DATA], CONTROLLERS[:5])
    param_names = ["data", "controller"]
    timeout = 300

    def setup(self, data, controller):
        if not (TESTS_DIR / "sabre_model.py").is_file():
            raise NotImplementedError("tests/sabre_model.py is not there")
        if str(TESTS_DIR) not in sys.path:
            sys.path.insert(0, str(TESTS_DIR))
        import sabre_model  # type: ignore[import-not-found]

        self.model = sabre_model
        self.cfg, self.history = _config(controller, "polling")
        self.controller = controller
        arrays, seg_ms, bitrates, sizes, _, _ = _inputs()
        self.periods = [[tuple(r) for r in tr.tolist()] for tr in arrays[:4]]
        self.seg_ms, self.bitrates, self.sizes = seg_ms, bitrates.tolist(), sizes.tolist()
        _run_all(self.cfg, self.history)

    def track_speedup(self, data, controller):
        arrays = _inputs()[0]
        n_ref = len(self.periods) * len(self.sizes)

        def reference():
            for p in self.periods:
                self.model.run_sabre(p, self.seg_ms, self.bitrates, self.sizes, self.controller)

        ref_rate = n_ref / best_time(reference, min_time=TRACK_MIN_S, min_repeats=2)
        kernel_rate = len(self.sizes) * len(arrays) / best_time(lambda: _run_all(self.cfg, self.history), min_time=TRACK_MIN_S)
        return kernel_rate / ref_rate

    track_speedup.unit = "x"


class SabreReferenceSet:
    """``run_event_batch`` over the 40 traces for one controller (what the reference CSV holds)."""

    params = ([DATA], ["bolae", "dynamic"])
    param_names = ["data", "controller"]

    def setup(self, data, controller):
        from abrkit.event import run_event_batch

        self.run = run_event_batch
        _, _, _, _, self.traces, self.video = _inputs()
        self.run(self.traces, self.video, controller, "sabre", n_workers=1)

    def time_batch_one_worker(self, data, controller):
        self.run(self.traces, self.video, controller, "sabre", n_workers=1, progress=False)

    def time_batch_with_tables(self, data, controller):
        self.run(self.traces, self.video, controller, "sabre", n_workers=1, progress=False).sessions()
