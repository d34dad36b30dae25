"""Reference for the event-model kernel (``abrkit._kernels.event``): the independent Sabre model.

``tests/sabre_model.py`` re-implements Sabre in plain Python with its own structure (classes per
rule, lists for the buffer) and is proven against Sabre's printed output on all 480 reference
rows. :func:`run_event_session` below drives it with the kernel's packed arguments and fills the
same output arrays, so the generic kernel test in ``test_simulate.py`` compares the two on random
sessions -- every option Sabre has, including those the reference CSV never exercises
(replacement, BOLA-BASIC, no insufficient-buffer rule, several windows, the abandonment fix).

The kernel's helpers have no reference of their own: the whole-session comparison checks each of
them through ``run_event_session`` (``COVERED_BY``), since they only make sense on Sabre's state.
"""

from __future__ import annotations

import numpy as np

from abrkit._kernels import event_layout as E
from sabre_model import METRICS, run_sabre

_ABR_NAMES = {E.EV_BOLA: "bola", E.EV_BOLAE: "bolae", E.EV_THROUGHPUT: "throughput", E.EV_DYNAMIC: "dynamic",
              E.EV_DYNAMICDASH: "dynamicdash"}


def sabre_config(abr: int) -> np.ndarray:
    """A config vector with Sabre's constants (what ``sabre.py`` hard-codes) and its defaults."""
    c = np.zeros(E.C_SIZE)
    c[E.C_ABR] = abr
    c[E.C_BUFFER_MS] = 25000.0
    c[E.C_GAMMA_P] = 5.0
    c[E.C_ABANDON] = 1.0
    c[E.C_RAMPUP_QUALITY] = -1.0
    c[E.C_MIN_PROGRESS_BITS] = 12000.0
    c[E.C_MIN_PROGRESS_MS] = 50.0
    c[E.C_DASH_LOW_MS] = 5000.0
    c[E.C_DASH_HIGH_MS] = 10000.0
    c[E.C_DYNAMIC_LOW_MS] = 10000.0
    c[E.C_SAFETY] = 0.9
    c[E.C_IBR_SAFETY_MIN] = 0.5
    c[E.C_IBR_SAFETY_INIT] = 0.9
    c[E.C_ABANDON_MULTIPLIER] = 1.8
    c[E.C_ABANDON_GRACE_MS] = 500.0
    c[E.C_BOLAE_MIN_BUFFER_MS] = 10000.0
    c[E.C_BOLAE_MIN_BUFFER_PER_LEVEL_MS] = 2000.0
    return c


def run_event_session(tr, seg_ms, bitrates, sizes_bits, cfg, windows, half_lives_ms, metrics, log, played):
    """Same contract as the kernel, computed by the Sabre model (only Sabre's constants)."""
    metrics[:] = np.nan
    if not np.any(tr[:, 1] > 0):
        return 0, E.EV_NO_BANDWIDTH
    out = run_sabre(
        [tuple(row) for row in tr.tolist()], float(seg_ms), bitrates.tolist(), sizes_bits.tolist(),
        _ABR_NAMES[int(cfg[E.C_ABR])],
        buffer_s=cfg[E.C_BUFFER_MS] / 1000, gamma_p=cfg[E.C_GAMMA_P], abr_osc=bool(cfg[E.C_OSC]),
        abr_basic=bool(cfg[E.C_BASIC]), no_ibr=bool(cfg[E.C_NO_IBR]), no_abandon=not cfg[E.C_ABANDON],
        moving_average="ewma" if cfg[E.C_AVERAGE] == E.AVG_EWMA else "sliding",
        window_size=[int(w) for w in windows], half_life_s=[h / 1000 for h in half_lives_ms],
        replace={E.REPLACE_NONE: "none", E.REPLACE_LEFT: "left", E.REPLACE_RIGHT: "right"}[int(cfg[E.C_REPLACE])],
        rampup_threshold=None if cfg[E.C_RAMPUP_QUALITY] < 0 else int(cfg[E.C_RAMPUP_QUALITY]),
        apply_abandon_quality=bool(cfg[E.C_APPLY_ABANDON_QUALITY]),
        max_futile_requests=E.MAX_FUTILE_REQUESTS,
    )
    metrics[:] = [float(out[name]) for name in METRICS]
    downloads = out["downloads"]
    for i, d in enumerate(downloads[: log.shape[0]]):
        row = log[i]
        row[E.E_SEGMENT] = d.index
        row[E.E_QUALITY] = d.quality
        row[E.E_SIZE_BITS] = d.size
        row[E.E_DOWNLOADED_BITS] = d.downloaded
        row[E.E_TIME_MS] = d.time
        row[E.E_TTFB_MS] = d.time_to_first_bit
        row[E.E_ABANDON_TO] = np.nan if d.abandon_to is None else d.abandon_to
        row[E.E_REPLACE] = float(d.replacement)
        row[E.E_REQUEST_MS] = d.request_time
        row[E.E_WAIT_MS] = d.wait
        row[E.E_BUFFER_MS] = d.buffer_level
        row[E.E_THROUGHPUT_KBPS] = np.nan if d.estimate is None else d.estimate
    for i, (q, stall) in enumerate(out["played"][: played.shape[0]]):
        played[i, 0] = q
        played[i, 1] = stall
    return len(downloads), E.EV_STALLED if out["stalled"] else E.EV_COMPLETE


def _pick(rng: np.random.Generator, options: list) -> list:
    return options[int(rng.integers(len(options)))]


def _args_run_event_session(rng: np.random.Generator):
    """A random session: short trace (with slow and zero-bandwidth periods), small VBR video,
    any controller and any of Sabre's options."""
    n_periods = int(rng.integers(1, 12))
    tr = np.empty((n_periods, 3))
    tr[:, 0] = rng.choice([50.0, 300.0, 1000.0, 2500.0], n_periods) + rng.integers(0, 3, n_periods)
    tr[:, 1] = np.round(rng.lognormal(np.log(rng.choice([800.0, 4000.0, 20000.0])), 0.8, n_periods))
    tr[rng.random(n_periods) < 0.1, 1] = 0.0
    tr[0, 1] = max(tr[0, 1], 100.0)
    tr[:, 2] = rng.choice([0.0, 20.0, 80.0, 200.0], n_periods)
    seg_ms = float(rng.choice([1000.0, 2000.0, 3000.0, 4000.0]))
    n_q = int(rng.integers(2, 7))
    bitrates = np.cumsum(rng.integers(200, 3000, n_q)).astype(np.float64)
    n_seg = int(rng.integers(3, 40))
    sizes = np.round(np.outer(rng.uniform(0.4, 1.6, n_seg), bitrates * seg_ms))
    abr = int(rng.choice(list(_ABR_NAMES)))
    cfg = sabre_config(abr)
    cfg[E.C_BUFFER_MS] = float(rng.choice([seg_ms * 2, 10000.0, 25000.0, 60000.0]))
    cfg[E.C_GAMMA_P] = float(rng.choice([2.0, 5.0, 10.0]))
    cfg[E.C_OSC] = float(rng.random() < 0.3)
    cfg[E.C_BASIC] = float(rng.random() < 0.2)
    cfg[E.C_NO_IBR] = float(rng.random() < 0.2)
    cfg[E.C_ABANDON] = float(rng.random() < 0.8)
    cfg[E.C_AVERAGE] = float(rng.random() < 0.3)
    cfg[E.C_REPLACE] = float(rng.choice([0, 0, 1, 2]))
    cfg[E.C_RAMPUP_QUALITY] = float(rng.choice([-1, -1, 0, n_q - 1]))
    cfg[E.C_APPLY_ABANDON_QUALITY] = float(rng.random() < 0.5)
    windows = np.array(_pick(rng, [[3], [2, 5], [1, 4, 20]]), dtype=np.int64)
    half_lives = np.array(_pick(rng, [[3000.0, 8000.0], [1000.0], [2000.0, 5000.0, 9000.0]]), dtype=np.float64)
    metrics = np.full(E.N_METRICS, -7.0)
    log = np.full((4 * n_seg + 8, E.E_COLS), -7.0)
    played = np.full((n_seg, 2), -7.0)
    return tr, seg_ms, bitrates, sizes, cfg, np.ascontiguousarray(windows), np.ascontiguousarray(half_lives), metrics, log, played


REFERENCES = {"event.run_event_session": run_event_session}
KERNEL_INPUTS = {"event.run_event_session": (_args_run_event_session, 300)}
COVERED_BY = {
    **{
        f"event.{name}": "event.run_event_session"
        for name in (
            "buffer_level_ms", "process_quality_up", "advertize_quality", "deplete_buffer", "next_period",
            "latency_delay", "download_bits", "minimal_download", "idle", "history_params", "push_sample", "check_replace", "download",
            "download_whole", "download_polled", "log_row", "play_event",
        )
    },
    **{
        f"sabre_rules.{name}": "event.run_event_session"
        for name in (
            "quality_from_throughput", "bola_quality_from_buffer", "bolae_min_buffer", "bola_decide", "ibr_limit",
            "bolae_decide", "bolae_report", "throughput_decide", "controller_decide", "controller_report",
            "init_controller",
        )
    },
}
