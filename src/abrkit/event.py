"""The event player model and its profiles: ``sabre`` (faithful) and ``event`` (defects fixed).

The chunk model of :mod:`abrkit.simulation` downloads one whole chunk per step. The event model is
Sabre's player (Spiteri et al., UMass-LIDS/sabre): a queue of buffered segments played in real
time, a latency before every request's first byte, download progress polled every
``min_progress_ms`` or ``min_progress_bits`` so the controller can abandon it, waits requested by
the controller (BOLA), and optional replacement of buffered low-quality segments. It runs the
controllers of :mod:`abrkit.event_controllers` and reports every metric Sabre prints.

Profile ``sabre`` reproduces ``sabre.py`` to its printed decimals, in its units (time in ms,
sizes in bits), with its one behavioural defect: after an abandonment Sabre stores the quality
to switch to in a variable it never reads, so the segment is decided afresh
(``apply_abandon_quality=False``). Profile ``event`` is the same model with the defect fixed.
Sabre's second defect -- a custom ``.py`` replacement module is silently replaced by "none" --
has no counterpart: abrkit's replacement strategies are ``none``, ``left`` and ``right``, and
any other value is an error.

Profile ``dashjs`` (:class:`abrkit.dashjs.DashjsProfile`, registered here by
:mod:`abrkit.profiles`) is an event-model profile with a loop of its own, the dash.js 5.2.1
player (``_kernels/dashjs_player.py``); :func:`run_event_batch` runs it through the profile's
``session_runner`` and ``batch_result`` (``EventProfile.model`` tells the loops apart).
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ._checks import integer, number, playable_sizes, worker_count
from ._interrupt import CtrlC, check
from ._kernels import event_layout as E
from ._kernels import layout as L
from ._jit import LiteralEntry
from ._kernels.estimators import predictor_group
from ._kernels.event import play_event as _play_event_dispatcher
from .controllers import Controller, FixedRung, get_controller
from .errors import ParameterError
from .event_controllers import EventController, FixedQuality, sabre_constants, sabre_history
from .qoe import QoE, get_qoe
from .result import SimResult
from .tables import chunk_frame, summary_table
from .traces import Trace
from .traces.formats import MAX_LATENCY_S
from .video import Video

__all__ = ["EventProfile", "EVENT_PROFILES", "EventBatchResult", "run_event_batch", "METRIC_NAMES"]

#: Every metric Sabre prints, snake_case, in its order.
METRIC_NAMES: tuple[str, ...] = E.METRIC_NAMES
_REPLACEMENTS = {"none": E.REPLACE_NONE, "left": E.REPLACE_LEFT, "right": E.REPLACE_RIGHT}
_STATUS = {E.EV_COMPLETE: "complete", E.EV_STALLED: "stalled", E.EV_NO_BANDWIDTH: "no_bandwidth"}
_PARALLEL_MIN_SEGMENTS = 20_000  # below this, one thread beats starting a pool
#: The event kernel for controllers asked through the contract, compiled once per (id, predictor).
_play_event = LiteralEntry(_play_event_dispatcher, ("kind", "pgroup"))


#: Largest buffer cap and download bound a profile takes (s): a day. See EventProfile.
MAX_BUFFER_CAP_S = 86_400.0
MAX_DOWNLOAD_S = 86_400.0


@dataclass(frozen=True)
class EventProfile:
    """Player and network settings of the event model (seconds, as everywhere in abrkit).

    * ``buffer_cap_s``: maximum buffer (Sabre ``-b``, 25 s); the player waits when the next
      segment would not fit.
    * ``replacement``: ``none``, ``left`` or ``right`` (Sabre ``-r``): re-download the first
      (left) or last (right) buffered segment below the chosen quality, skipping the one playing
      and the next.
    * ``rampup_quality``: quality index counted as ramped up; None: the quality the current
      network period sustains (Sabre ``-rmp``).
    * ``apply_abandon_quality``: after an abandonment, download the quality the controller
      abandoned to (True); Sabre decides afresh instead (False, its defect).
    * ``min_progress_bits`` / ``min_progress_ms``: a download in progress is shown to the
      controller at least this often (Sabre: 12000 bits or 50 ms, whichever is later).
    * ``latency_s``: time to first byte of every request; None: the trace's per-period latency
      (0 for traces without one).
    * ``network_multiplier``: every period's bandwidth times this (Sabre's ``-nm``), applied to
      the kbit/s values as Sabre does, so the products are Sabre's to the last bit.
    * ``qoe``: the abrkit QoE model for the ``qoe`` column (Sabre's own score is
      ``time_average_score``).
    * ``max_download_s``: a download still running this long after its request ends the
      session (status ``stalled``; that request is not played, what is buffered plays out),
      as in the chunk model, so that every session ends (Sabre has no such bound).

    Bounds: ``buffer_cap_s`` and ``max_download_s`` <= 86,400 (a day), ``latency_s`` <= 3,600
    (an hour to first byte, the traces' own bound): beyond them BOLA's V and the clock lose meaning.
    """

    name: str = "event"
    buffer_cap_s: float = 25.0
    replacement: str = "none"
    rampup_quality: int | None = None
    apply_abandon_quality: bool = True
    min_progress_bits: float = 12000.0
    min_progress_ms: float = 50.0
    latency_s: float | None = None
    network_multiplier: float = 1.0
    qoe: QoE = field(default_factory=QoE.linear)
    max_download_s: float = 600.0

    def __post_init__(self) -> None:
        number("buffer_cap_s", self.buffer_cap_s, gt=0, le=MAX_BUFFER_CAP_S)
        number("max_download_s", self.max_download_s, gt=0, le=MAX_DOWNLOAD_S)
        if self.replacement not in _REPLACEMENTS:
            raise ParameterError("replacement", self.replacement, f"must be one of {', '.join(_REPLACEMENTS)}")
        if self.rampup_quality is not None:
            integer("rampup_quality", self.rampup_quality, ge=0)
        # Sabre's poll always moves at least this many bits (its time-only mode is unreachable).
        number("min_progress_bits", self.min_progress_bits, gt=0)
        number("min_progress_ms", self.min_progress_ms, ge=0)
        if self.latency_s is not None:
            number("latency_s", self.latency_s, ge=0, le=MAX_LATENCY_S)
        number("network_multiplier", self.network_multiplier, gt=0)
        if not isinstance(self.apply_abandon_quality, (bool, np.bool_)):
            raise ParameterError("apply_abandon_quality", self.apply_abandon_quality, "must be true or false")

    def replace(self, **changes: Any) -> "EventProfile":
        return replace(self, **changes)

    @property
    def model(self) -> str:
        """The player loop the profile runs: ``event`` (Sabre's player) or ``dashjs``."""
        return "event"

    def config(self, controller: Controller, video: Video) -> np.ndarray:
        """The kernel's config vector for ``controller`` under this profile. A controller that
        is not one of Sabre's rules gets ``C_ABR = -1``: it is asked through the contract and
        never abandons, so downloads are not polled."""
        cfg = np.zeros(E.C_SIZE)
        cfg[E.C_BUFFER_MS] = round(self.buffer_cap_s * 1000, 9)
        cfg[E.C_REPLACE] = _REPLACEMENTS[self.replacement]
        cfg[E.C_RAMPUP_QUALITY] = -1.0 if self.rampup_quality is None else float(self.rampup_quality)
        cfg[E.C_APPLY_ABANDON_QUALITY] = float(self.apply_abandon_quality)
        cfg[E.C_MIN_PROGRESS_BITS] = self.min_progress_bits
        cfg[E.C_MIN_PROGRESS_MS] = self.min_progress_ms
        cfg[E.C_MAX_DOWNLOAD_MS] = self.max_download_s * 1000.0
        if isinstance(controller, EventController):
            controller.event_config(cfg)
        else:
            sabre_constants(cfg)
            cfg[E.C_ABR] = -1.0
            cfg[E.C_ABANDON] = 0.0
        return cfg

    def planner_vector(self) -> np.ndarray:
        """The chunk-model profile vector (``layout.PROF_*``) that controllers of the contract
        read here: a clean model with this buffer (samples exclude the latency, as Sabre's do)."""
        prof = np.zeros(L.PROF_SIZE)
        prof[L.PROF_BUFFER_CAP_S] = self.buffer_cap_s
        return prof

    def kernel_trace(self, trace: Trace) -> np.ndarray:
        """(n_periods, 3): duration_ms, bandwidth_kbps, latency_ms, as Sabre's JSON holds them.

        Values are rounded to 1e-9 of their unit, which recovers the integers of a Sabre file
        exactly after abrkit's seconds/bps round trip.
        """
        key = ("event_trace", self.latency_s, self.network_multiplier)
        cached = trace._cache.get(key)
        if cached is None:
            lat_s = trace.latency_s if trace.latency_s is not None else np.zeros(trace.n_periods)
            if self.latency_s is not None:
                lat_s = np.full(trace.n_periods, self.latency_s)
            kbps = np.round(trace.bandwidth_bps / 1e3, 9)
            if self.network_multiplier != 1.0:
                kbps = kbps * self.network_multiplier
            cached = np.ascontiguousarray(np.column_stack([
                np.round(trace.duration_s * 1e3, 9), kbps, np.round(lat_s * 1e3, 9),
            ]))
            trace._cache[key] = cached
        return cached

    def settings(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "qoe"}
        return {"profile": d.pop("name"), "model": "event", **d}


EVENT_PROFILES: dict[str, EventProfile] = {
    "sabre": EventProfile(name="sabre", apply_abandon_quality=False),
    "event": EventProfile(),
}


def video_arrays(video: Video) -> tuple[float, np.ndarray, np.ndarray]:
    """(segment_ms, bitrates_kbps, sizes_bits) in Sabre's units."""
    playable_sizes(video.name, video.sizes_bytes)
    seg_ms = round(video.chunk_s * 1e3, 9)
    return seg_ms, np.round(video.bitrates_bps / 1e3, 9), np.ascontiguousarray(video.sizes_bytes * 8.0)


class EventBatchResult:
    """Sessions of the event model: per-session metrics, per-request log, per-segment playback.

    Same reading interface and units as :class:`abrkit.simulation.BatchResult`: :meth:`sessions`,
    :meth:`summary`, :meth:`chunks` (one row per segment played, the chunk model's columns),
    :meth:`session` (a :class:`~abrkit.simulation.SimResult`); plus :meth:`requests` (one row per
    request, abandoned and replacement downloads included) and Sabre's printed metrics as extra
    columns of :meth:`sessions`. ``log`` holds the chunk model's per-chunk columns
    (``layout.LOG_*``) for each played segment, in seconds, bytes and bits per second.
    """

    def __init__(self, traces, videos, controllers, profile, qoe, job_trace, job_video, job_ctrl,
                 metrics, logs, played, n_played, status):
        self.traces: list[Trace] = traces
        self.videos: list[Video] = videos
        self.controllers: list[EventController] = controllers
        self.profile: EventProfile = profile
        self.qoe: QoE = qoe
        self.job_trace, self.job_video, self.job_ctrl = job_trace, job_video, job_ctrl
        self.metrics: np.ndarray = metrics  # (sessions, len(METRIC_NAMES))
        self.logs: list[np.ndarray] = logs  # per session: (requests, E_COLS)
        self.played: list[np.ndarray] = played  # per session: (segments played, 2) quality, stall_ms
        self.n_done: np.ndarray = n_played
        self.status: np.ndarray = status
        self.n_chunks = np.array([videos[v].n_chunks for v in job_video], dtype=np.int64)
        self._log: np.ndarray | None = None
        self.startup_s = np.array([log[0, E.E_TIME_MS] / 1e3 if len(log) else np.nan for log in logs])
        self._sessions: pd.DataFrame | None = None

    def replace_session(self, j: int, metrics: np.ndarray, log: np.ndarray, played: np.ndarray, status: int) -> None:
        """Put another run of session ``j`` in place (a Python controller's, run after the batch)."""
        self.metrics[j] = metrics
        self.logs[j] = log
        self.played[j] = played
        self.n_done[j] = played.shape[0]
        self.status[j] = status
        self._log = None
        self.startup_s[j] = log[0, E.E_TIME_MS] / 1e3 if len(log) else np.nan
        self._sessions = None

    @property
    def log(self) -> np.ndarray:
        """The chunk model's per-chunk columns (``layout.LOG_*``, s and bytes) for each segment
        played, shape (sessions, segments, LOG_COLS); built from the request logs when first read."""
        if self._log is None:
            out = np.full((len(self), int(self.n_chunks.max()) if len(self) else 0, L.LOG_COLS), np.nan)
            for j in range(len(self)):
                _segment_rows(self.logs[j], self.played[j], out[j])
            self._log = out
        return self._log

    def rewards(self, j: int) -> np.ndarray:
        """Per-segment rewards of session ``j`` (the profile's QoE model), for the segments played."""
        video = self.videos[self.job_video[j]]
        played = self.played[j]
        rungs = played[:, 0].astype(np.int64)
        return self.qoe.rewards(video, rungs[None, :], played[None, :, 1] / 1e3)[0]

    def session_totals(self, j: int) -> dict[str, Any]:
        """Session ``j``'s row of :meth:`sessions` as a dict."""
        if self._sessions is None:
            self._sessions = self.sessions()
        return self._sessions.iloc[j].to_dict()

    def __len__(self) -> int:
        return self.job_trace.size

    def _names(self) -> dict[str, list[str]]:
        return {
            "trace": [self.traces[t].name for t in self.job_trace],
            "video": [self.videos[v].name for v in self.job_video],
            "controller": [self.controllers[c].name for c in self.job_ctrl],
        }

    def sessions(self) -> pd.DataFrame:
        """One row per session: trace, video, controller, profile, status, abrkit's totals (qoe
        with the profile's model, mean_bitrate_kbps, rebuffer_s, switches, ...), the request
        counts (requests, abandoned, replaced), then every Sabre metric (``METRIC_NAMES``)."""
        rows = []
        for j in range(len(self)):
            video = self.videos[self.job_video[j]]
            played = self.played[j]
            rungs = played[:, 0].astype(np.int64)
            stall_s = played[:, 1] / 1e3
            n = rungs.size
            rewards = self.qoe.rewards(video, rungs[None, :], stall_s[None, :]) if n else np.zeros((1, 0))
            total = float(self.qoe.total(rewards)[0]) if n else float("nan")
            scored = n - (0 if self.qoe.include_first_chunk else 1)
            kbps = video.bitrates_bps[rungs] / 1e3
            steps = np.abs(np.diff(kbps))
            log = self.logs[j]
            row: dict[str, Any] = {
                "chunks": n,
                "qoe": total,
                "qoe_per_chunk": total / max(scored, 1),
                "mean_bitrate_kbps": float(kbps.mean()) if n else float("nan"),
                "rebuffer_s": float(stall_s.sum()),
                "rebuffer_events": int(np.count_nonzero(stall_s > 0)),
                "startup_s": float(log[0, E.E_TIME_MS] / 1e3) if len(log) else float("nan"),
                "switches": int(np.count_nonzero(np.diff(rungs))),
                "mean_switch_kbps": float(steps.mean()) if steps.size else 0.0,
                "wait_s": float(log[:, E.E_WAIT_MS].sum() / 1e3),
                "requests": len(log),
                "abandoned": int(np.count_nonzero(~np.isnan(log[:, E.E_ABANDON_TO]))),
                "replaced": int(np.count_nonzero(log[:, E.E_REPLACE] == 1.0)),
            }
            if video.quality is not None and n:
                row["mean_quality"] = float(video.quality[np.arange(n), rungs].mean())
            row.update(zip(METRIC_NAMES, self.metrics[j].tolist()))
            rows.append(row)
        head = pd.DataFrame({**self._names(), "profile": self.profile.name,
                             "status": [_STATUS[int(s)] for s in self.status]})
        return pd.concat([head, pd.DataFrame(rows, index=head.index)], axis=1)

    def summary(self, sessions: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per controller: mean QoE, bitrate, rebuffering, switches (see ``summary_table``)."""
        if sessions is None:
            sessions = self.sessions()
        chunk_s = np.array([self.videos[v].chunk_s for v in self.job_video])
        return summary_table(sessions, [c.name for c in self.controllers], sessions["chunks"].to_numpy() * chunk_s)

    def chunks(self) -> pd.DataFrame:
        """One row per segment played, with the chunk model's columns and units (see
        :meth:`abrkit.simulation.BatchResult.chunks`): the download that delivered the segment
        (size, latency, delay, the throughput it measured, the buffer after it, the idle time
        after it) and the stall before it played (``rebuffer_s``)."""
        return pd.concat([self.session_frame(j) for j in range(len(self))], ignore_index=True)

    def session_frame(self, j: int) -> pd.DataFrame:
        """Session ``j``'s rows of :meth:`chunks`."""
        names = self._names()
        n = int(self.n_done[j])
        video = self.videos[self.job_video[j]]
        return chunk_frame(names["trace"][j], video, names["controller"][j], self.log[j, :n], self.rewards(j)[:n])

    def requests(self) -> pd.DataFrame:
        """One row per request (abandoned and replacement downloads included), in seconds, bytes
        and kbit/s: segment, rung, size_bytes, downloaded_bytes, delay_s (request to last byte
        or to abandonment, latency included), latency_s (time to first byte), abandoned_to
        (NaN: completed; -1: a replacement given up), replacement, request_s (network clock),
        wait_s (idle before the request), buffer_s (after it), estimate_kbps (the throughput
        estimate the decision saw)."""
        names = self._names()
        parts = []
        scale = {
            "segment": (E.E_SEGMENT, 1.0), "rung": (E.E_QUALITY, 1.0), "size_bytes": (E.E_SIZE_BITS, 1 / 8),
            "downloaded_bytes": (E.E_DOWNLOADED_BITS, 1 / 8), "delay_s": (E.E_TIME_MS, 1e-3),
            "latency_s": (E.E_TTFB_MS, 1e-3), "abandoned_to": (E.E_ABANDON_TO, 1.0), "replacement": (E.E_REPLACE, 1.0),
            "request_s": (E.E_REQUEST_MS, 1e-3), "wait_s": (E.E_WAIT_MS, 1e-3), "buffer_s": (E.E_BUFFER_MS, 1e-3),
            "estimate_kbps": (E.E_THROUGHPUT_KBPS, 1.0),
        }
        for j, log in enumerate(self.logs):
            frame = pd.DataFrame({k: log[:, c] * f for k, (c, f) in scale.items()})
            for k in ("segment", "rung"):
                frame[k] = frame[k].astype(np.int64)
            frame["replacement"] = frame["replacement"].astype(bool)
            frame.insert(0, "request", np.arange(len(log)))
            for k in ("controller", "video", "trace"):
                frame.insert(0, k, names[k][j])
            parts.append(frame)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["trace", "video", "controller", *scale])

    def segments(self) -> pd.DataFrame:
        """One row per segment played: position, rung, bitrate_kbps and the stall before it (s)."""
        names = self._names()
        parts = []
        for j, played in enumerate(self.played):
            video = self.videos[self.job_video[j]]
            rungs = played[:, 0].astype(np.int64)
            parts.append(pd.DataFrame({
                "trace": names["trace"][j], "video": names["video"][j], "controller": names["controller"][j],
                "segment": np.arange(rungs.size), "rung": rungs, "bitrate_kbps": video.bitrates_bps[rungs] / 1e3,
                "stall_s": played[:, 1] / 1e3,
            }))
        return pd.concat(parts, ignore_index=True)

    def session(self, j: int) -> Any:
        """Session ``j`` as a :class:`~abrkit.simulation.SimResult` (per-segment arrays, totals)."""
        return SimResult(self, j)

    def settings(self) -> dict[str, Any]:
        return {
            **self.profile.settings(),
            **self.qoe.settings(),
            "controllers": [c.settings() for c in self.controllers],
            "videos": [v.settings() for v in self.videos],
        }


def _segment_rows(log: np.ndarray, played: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out[:len(played)]`` (``layout.LOG_*`` columns, SI units) with one row per segment
    played: the last completed download of that segment at the quality that played (a
    replacement may have delivered it), the stall before it and the idle after its download."""
    delivered: dict[tuple[int, int], int] = {}
    for i in range(len(log)):
        if np.isnan(log[i, E.E_ABANDON_TO]):
            delivered[(int(log[i, E.E_SEGMENT]), int(log[i, E.E_QUALITY]))] = i
    for seg in range(len(played)):
        q = int(played[seg, 0])
        i = delivered.get((seg, q))
        row = out[seg]
        row[L.LOG_RUNG] = q
        row[L.LOG_REBUFFER_S] = played[seg, 1] / 1e3
        row[L.LOG_CTRL_WAIT_S] = 0.0  # Sabre logs one idle time per request (wait_s of the row before)
        if i is None:
            continue
        r = log[i]
        row[L.LOG_SIZE_BYTES] = r[E.E_SIZE_BITS] / 8
        row[L.LOG_LATENCY_S] = r[E.E_TTFB_MS] / 1e3
        row[L.LOG_DELAY_S] = r[E.E_TIME_MS] / 1e3
        row[L.LOG_BUFFER_S] = r[E.E_BUFFER_MS] / 1e3
        row[L.LOG_WAIT_S] = log[i + 1, E.E_WAIT_MS] / 1e3 if i + 1 < len(log) else 0.0
        transfer_ms = r[E.E_TIME_MS] - r[E.E_TTFB_MS]
        row[L.LOG_THROUGHPUT_BPS] = r[E.E_DOWNLOADED_BITS] / transfer_ms * 1e3 if transfer_ms > 0 else np.nan
        row[L.LOG_REQUEST_S] = r[E.E_REQUEST_MS] / 1e3


def _event_controller(spec: str | Controller) -> Controller:
    """The controller as the event model runs it: Sabre's rules on the player's own state, any
    other controller through the controller contract (``FixedRung`` is Sabre's fixed quality)."""
    c = get_controller(spec)
    if isinstance(c, FixedRung):
        return FixedQuality(rung=c.rung)
    if not isinstance(c, EventController) and c.pack_predictor()[0] == L.PRED_ORACLE:
        raise ParameterError(
            "predictor", "oracle", f"controller {c.name!r}: the oracle reads the chunk model's network; the event model has none"
        )
    return c


@dataclass(frozen=True)
class _Contract:
    """How the event kernel asks a controller that is not one of Sabre's rules."""

    kind: int
    cparams: np.ndarray
    pid: int
    pparams: np.ndarray
    n_state: int
    prof: np.ndarray
    cdata: np.ndarray  # float32: the controller's own data (Controller.pack_data), shared by its sessions


def _contract_of(c: Controller, profile: EventProfile, n_draws: int) -> _Contract | None:
    if isinstance(c, EventController):
        return None
    kind, cparams = c.pack_for(profile.buffer_cap_s)
    pid, pparams, n_state = c.pack_predictor()
    return _Contract(int(kind), np.ascontiguousarray(cparams, dtype=np.float64), int(pid),
                     np.ascontiguousarray(pparams, dtype=np.float64), int(n_state), profile.planner_vector(),
                     np.ascontiguousarray(c.pack_data(n_draws), dtype=np.float32))


#: The controller data of Sabre's own rules: none.
_NO_DATA = np.zeros(0, dtype=np.float32)


def _one_session(tr: np.ndarray, video_arrays: tuple[float, np.ndarray, np.ndarray], cfg: np.ndarray,
                 windows: np.ndarray, half_lives_ms: np.ndarray, contract: _Contract | None = None,
                 si_arrays: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    seg_ms, bitrates, sizes = video_arrays
    n_seg = sizes.shape[0]
    capacity = 4 * n_seg + 8
    while True:
        metrics = np.empty(E.N_METRICS)
        log = np.empty((capacity, E.E_COLS))
        played = np.full((n_seg, 2), np.nan)
        if contract is None:
            # Sabre's rules: the loop itself (its wrapper run_event_session would be one more
            # compiled level, ~1.5 s of a first run)
            n_log, status = _play_event(
                tr, seg_ms, bitrates, sizes, cfg, windows, half_lives_ms, metrics, log, played,
                L.CTRL_SABRE, cfg, L.PRED_NONE, L.PRED_GROUP_COMMON, cfg, np.zeros(1), cfg, bitrates, sizes, _NO_DATA,
            )
        else:
            assert si_arrays is not None
            n_log, status = _play_event(
                tr, seg_ms, bitrates, sizes, cfg, windows, half_lives_ms, metrics, log, played,
                contract.kind, contract.cparams, contract.pid, predictor_group(contract.pid, contract.pparams), contract.pparams,
                np.zeros(contract.n_state), contract.prof, si_arrays[0], si_arrays[1], contract.cdata,
            )
        if n_log <= capacity:
            break
        capacity = n_log  # repeated abandonments: run again with room for every request
    n_played = int(np.count_nonzero(~np.isnan(played[:, 0])))
    return metrics, log[:n_log].copy(), played[:n_played].copy(), int(status)


def run_event_batch(
    traces: Trace | Iterable[Trace],
    videos: Video | Iterable[Video],
    controllers: str | Controller | Iterable[str | Controller],
    profile: EventProfile | str = "sabre",
    qoe: str | QoE | None = None,
    n_workers: int | None = None,
    progress: bool | None = None,
) -> EventBatchResult:
    """Simulate every (trace, video, controller) combination under an event-model profile.

    Sessions are ordered trace-major (trace, then video, then controller), like
    :func:`abrkit.simulation.run_batch`; threads run sessions side by side (the kernel releases
    the GIL) and the results do not depend on their number.
    """
    prof = EVENT_PROFILES[profile] if isinstance(profile, str) and profile in EVENT_PROFILES else profile
    if not isinstance(prof, EventProfile):
        raise ParameterError("profile", profile, f"is not an event-model profile ({', '.join(EVENT_PROFILES)})")
    model = prof.qoe if qoe is None else get_qoe(qoe)
    tr = [traces] if isinstance(traces, Trace) else list(traces)
    vids = [videos] if isinstance(videos, Video) else list(videos)
    specs = [controllers] if isinstance(controllers, (str, Controller)) else list(controllers)
    ctrls = [_event_controller(c) for c in specs]
    if not tr or not vids or not ctrls:
        raise ParameterError("batch", (len(tr), len(vids), len(ctrls)), "needs at least one trace, video and controller")
    for v in vids:
        if isinstance(v, Video):
            v.require_uniform(f"profile {prof.name!r} ({'the event model' if prof.model == 'event' else 'its own player loop'})")

    packed_traces = [prof.kernel_trace(t) for t in tr]
    packed_videos = [video_arrays(v) for v in vids]
    si_videos = [(np.ascontiguousarray(v.bitrates_bps, dtype=np.float64), np.ascontiguousarray(v.sizes_bytes, dtype=np.float64))
                 for v in vids]
    for c in ctrls:
        for v in vids:
            c.check_video(v)
    # a sampling controller: at most one draw per request (a contract controller never abandons,
    # so at most two requests per segment), plus one discarded between sessions
    n_draws = len(tr) * sum(2 * v.n_chunks + 2 for v in vids)
    grid = np.array([(t, v, c) for t in range(len(tr)) for v in range(len(vids)) for c in range(len(ctrls))], dtype=np.int64)
    job_trace, job_video, job_ctrl = grid[:, 0].copy(), grid[:, 1].copy(), grid[:, 2].copy()
    cancel = threading.Event()
    if prof.model != "event":
        # another player loop (the dash.js player, abrkit.dashjs): the profile runs the sessions
        runner = prof.session_runner(ctrls, vids, n_draws)  # type: ignore[attr-defined]

        def work(j: int):
            check(cancel)
            t, v, c = job_trace[j], job_video[j], job_ctrl[j]
            return runner(packed_traces[t], packed_videos[v], si_videos[v], v, c)
    else:
        contracts = [_contract_of(c, prof, n_draws) for c in ctrls]
        configs = [[prof.config(c, v) for v in vids] for c in ctrls]
        histories = [c.history_arrays() if isinstance(c, EventController) else sabre_history() for c in ctrls]

        def work(j: int):
            check(cancel)  # Ctrl-C: stop between sessions (see _interrupt)
            t, v, c = job_trace[j], job_video[j], job_ctrl[j]
            return _one_session(packed_traces[t], packed_videos[v], configs[c][v], *histories[c], contracts[c], si_videos[v])

    n_jobs = len(grid)
    steps = int(sum(vids[v].n_chunks for v in job_video))
    workers = 1 if steps < _PARALLEL_MIN_SEGMENTS else worker_count(n_workers)
    if any(c.carries_state() for c in ctrls):
        workers = 1  # a controller's sessions hand state to each other: one thread, in job order
    show = progress if progress is not None else (sys.stderr.isatty() and steps >= 200_000)
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_jobs, unit="session", desc="simulate (event model)")
    with CtrlC(cancel):
        try:
            if workers == 1:
                results = []
                for j in range(n_jobs):
                    results.append(work(j))
                    if bar is not None:
                        bar.update(1)
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    results = []
                    for r in pool.map(work, range(n_jobs)):
                        results.append(r)
                        if bar is not None:
                            bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    metrics = np.array([r[0] for r in results]).reshape(n_jobs, E.N_METRICS)
    if prof.model != "event":
        return prof.batch_result(tr, vids, ctrls, model, job_trace, job_video, job_ctrl, metrics, results)  # type: ignore[attr-defined]
    return EventBatchResult(
        tr, vids, ctrls, prof, model, job_trace, job_video, job_ctrl, metrics,
        [r[1] for r in results], [r[2] for r in results],
        np.array([r[2].shape[0] for r in results], dtype=np.int64), np.array([r[3] for r in results], dtype=np.int64),
    )


def sabre_sessions(batch: EventBatchResult) -> pd.DataFrame:
    """Sabre's printed metrics only: trace, controller, then ``METRIC_NAMES`` (one row per session)."""
    s = batch.sessions()
    return s[["trace", "controller", *METRIC_NAMES]]

