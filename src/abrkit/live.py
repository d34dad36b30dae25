"""The live player model: live edge, CMAF chunked transfer, latency and playback-rate catch-up.

Profile ``live`` (:class:`LiveProfile`) runs every controller of the one contract in a loop of its
own (``_kernels/live.py``; its docstring states the model): segments become available at the
encoder's clock, per CMAF chunk with chunked transfer; a request for a segment not yet announced
waits; the newest segment's download is paced by the encoder and throughput is measured over the
time bytes flow (no idle gaps); latency = now - playhead, with a target, a minimum, a seek to the
live edge past ``max_drift_s``; the playback rate follows dash.js's catch-up rule or the
controller's own (LoL+). Its media setup and networks reproduce the ACM MMSys 2020 Twitch
low-latency challenge (:func:`challenge_video`, ``samples/traces/twitch-*``), its metrics are
named as the challenge's ``stats.js`` and sample page name them, and :class:`NQoE` is the
challenge's score.

Facts and defaults follow dash.js v5.1.1 (``CatchupController.js``, ``MediaPlayerModel.js``,
``Settings.js``, ``ThroughputModel.js``) and twitchtv/acm-mmsys-2020-grand-challenge
(``normal-network-patterns.js``, ``stats.js``, ``run.js``, ``dash-ll-server/gen_live_ingest.sh``,
``dash.js/samples/low-latency/index.html``); ``docs/live.md`` lists them field by field.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ._checks import number, worker_count
from ._interrupt import CtrlC, check
from ._jit import LiteralEntry
from ._checks import playable_sizes
from ._kernels import groups as G
from ._kernels import layout as L
from ._kernels import live_layout as LV
from ._kernels.contract import compile_group
from ._kernels.estimators import predictor_group
from ._kernels.live import LiveOutputs
from ._kernels.live import run_live_batch as _run_live_dispatcher
from .controllers import Controller, FixedRung, get_controller
from .observation import UserSpec, is_python_controller, name_of
from .packing import pack_controllers, pack_traces, pack_videos
from .errors import ParameterError
from .live_custom import play_live_session
from .result import STATUS_NAMES, SimResult
from .tables import chunk_frame
from .traces import Trace
from .video import Video

__all__ = [
    "LiveProfile", "LIVE_PROFILES", "LiveBatchResult", "NQoE", "run_live_batch", "challenge_video",
    "CHALLENGE_LADDER_KBPS", "LIVE_METRICS",
]

_CATCHUP = {"none": LV.CATCHUP_NONE, "dashjs": LV.CATCHUP_DASHJS, "lolp": LV.CATCHUP_LOLP}
_run_kernel = LiteralEntry(_run_live_dispatcher, ("kind", "pkind"))

#: The challenge's "Normal" ladder (``gen_live_ingest.sh`` PROFILE_NORMAL), kbit/s.
CHALLENGE_LADDER_KBPS = (200, 600, 1000)

#: The per-session live metrics, named as the challenge names them (``stats.js``, ``run.js``,
#: the sample page's ``abrHistory``), in abrkit's units: seconds, bits per second.
LIVE_METRICS = (
    "averageBitrate", "numSwitches", "stallDuration", "numStalls", "avgLatency", "avgBufferLength",
    "avgPlaybackRate", "NQoE",
)


@dataclass(frozen=True)
class NQoE:
    """The challenge's NQoE score (``evaluation.md``; weights of dash.js ``LoLpQoEEvaluator.js``),
    summed over the segments played.

    Per segment of duration ``D`` at ``b`` kbit/s: ``+ D b - |b - b_prev| - b_max x stall_s -
    w_lat x latency_s - b_min x |1 - rate|``, with ``w_lat = latency_low x b_min`` up to
    ``latency_threshold_s`` of latency and ``latency_high x b_max`` beyond. The stall is the one
    since the previous request, latency and rate those when the segment arrived.
    """

    latency_threshold_s: float = 1.1
    latency_low: float = 0.05
    latency_high: float = 0.1
    switch_weight: float = 1.0

    def __post_init__(self) -> None:
        number("latency_threshold_s", self.latency_threshold_s, ge=0)
        number("latency_low", self.latency_low, ge=0)
        number("latency_high", self.latency_high, ge=0)
        number("switch_weight", self.switch_weight, ge=0)

    def rewards(self, video: Video, log: np.ndarray) -> np.ndarray:
        """Per-segment scores for a live log (rows of segments downloaded, ``LV_*`` columns)."""
        if len(log) == 0:
            return np.zeros(0)
        kbps = video.bitrates_bps / 1e3
        b = kbps[log[:, L.LOG_RUNG].astype(np.int64)]
        switch = np.abs(np.diff(b, prepend=b[0]))
        lat = log[:, LV.LV_LIVE_LATENCY_S]
        w_lat = np.where(lat <= self.latency_threshold_s, self.latency_low * kbps.min(), self.latency_high * kbps.max())
        rate = log[:, LV.LV_RATE]
        return (video.chunk_s * b - self.switch_weight * switch - kbps.max() * log[:, L.LOG_REBUFFER_S]
                - w_lat * lat - kbps.min() * np.abs(1.0 - rate))

    def settings(self) -> dict[str, Any]:
        return {"qoe": "nqoe", "latency_threshold_s": self.latency_threshold_s, "latency_low": self.latency_low,
                "latency_high": self.latency_high, "switch_weight": self.switch_weight}


@dataclass(frozen=True)
class LiveProfile:
    """Settings of the live model (seconds; dash.js v5.1.1 defaults unless said otherwise).

    * ``target_latency_s``: the target (dash.js ``liveDelay``; 1.0, the challenge's sample page).
    * ``min_latency_s``: below it the player never plays faster than 1.0.
    * ``max_drift_s``: latency above target + this seeks to the live edge (``liveCatchup.maxDrift``,
      default 12 in ``MediaPlayerModel.js``); 0: never.
    * ``rate_min`` / ``rate_max``: playback-rate bounds (1 + ``liveCatchup.playbackRate.min/max``,
      defaults -0.5 / +0.5).
    * ``catchup``: the rate controller when the ABR controller sets none: ``dashjs`` (the default
      rule), ``lolp`` (LoL+'s hybrid rule) or ``none`` (always 1.0).
    * ``min_drift_s``: dead zone around the target (dash.js 3's ``liveCatchUpMinDrift``, 0.02).
    * ``min_rate_change``: a rate change smaller than this is not applied (``CatchupController``:
      0.02 for a +0.5 maximum).
    * ``buffer_min_s``: LoL+'s ``playbackBufferMin`` (0.5).
    * ``cmaf_chunk_s``: CMAF chunk duration (1/30: one frame at 30 fps, the challenge's
      ``-frag_type every_frame``); None: no chunked transfer, whole segments.
    * ``availability_delay_s``: encoder-to-availability delay after a chunk is captured.
    * ``join_s``: wall time (stream time) at which the session joins.
    * ``duration_s``: session length; None: the trace's duration.
    * ``resume_s``: buffer needed to resume after a stall (0: the first chunk).
    * ``rtt_s``: time to first byte of each request; None: the trace's per-period latency.
    * ``payload_efficiency``, ``max_download_s``: as in the chunk model (a chunk still
      unfinished after ``max_download_s`` ends the session, status ``stalled``).
    * ``prelude_s``, ``prelude_kbps``: play this long on a constant ``prelude_kbps`` link before
      the trace starts, and measure only what follows (the challenge starts each network after
      10 s of stable playback at the top rung of a >= 3 Mbit/s link); 0: no prelude.
    * ``qoe``: the score in the ``NQoE`` column.

    Controllers whose parameters derive from a buffer size (Sabre's BOLA) get
    ``max(target_latency_s, segment)``: dash.js caps BOLA's buffer target at the live delay
    (``MediaPlayerModel.getBufferTimeDefault``).
    """

    name: str = "live"
    target_latency_s: float = 1.0
    min_latency_s: float = 0.0
    max_drift_s: float = 12.0
    rate_min: float = 0.5
    rate_max: float = 1.5
    catchup: str = "dashjs"
    min_drift_s: float = 0.02
    min_rate_change: float = 0.02
    buffer_min_s: float = 0.5
    cmaf_chunk_s: float | None = 1.0 / 30.0
    availability_delay_s: float = 0.0
    join_s: float = 60.0
    duration_s: float | None = None
    resume_s: float = 0.0
    rtt_s: float | None = None
    payload_efficiency: float = 1.0
    max_download_s: float = 60.0
    prelude_s: float = 0.0
    prelude_kbps: float = 3000.0
    qoe: NQoE = NQoE()

    def __post_init__(self) -> None:
        target = number("target_latency_s", self.target_latency_s, gt=0, le=3600)
        number("min_latency_s", self.min_latency_s, ge=0, le=target)
        number("max_drift_s", self.max_drift_s, ge=0)
        number("rate_min", self.rate_min, gt=0, le=1)
        number("rate_max", self.rate_max, ge=1, le=4)
        if self.catchup not in _CATCHUP:
            raise ParameterError("catchup", self.catchup, f"must be one of {', '.join(_CATCHUP)}")
        number("min_drift_s", self.min_drift_s, ge=0)
        number("min_rate_change", self.min_rate_change, ge=0)
        number("buffer_min_s", self.buffer_min_s, ge=0)
        if self.cmaf_chunk_s is not None:
            number("cmaf_chunk_s", self.cmaf_chunk_s, gt=0)
        number("availability_delay_s", self.availability_delay_s, ge=0, le=3600)
        number("join_s", self.join_s, ge=0)
        if self.duration_s is not None:
            number("duration_s", self.duration_s, gt=0, le=86_400)
        number("resume_s", self.resume_s, ge=0)
        if self.rtt_s is not None:
            number("rtt_s", self.rtt_s, ge=0, le=3600)
        number("payload_efficiency", self.payload_efficiency, gt=0, le=1)
        number("max_download_s", self.max_download_s, gt=0, le=86_400)
        number("prelude_s", self.prelude_s, ge=0, le=86_400)
        number("prelude_kbps", self.prelude_kbps, gt=0)
        if not isinstance(self.qoe, NQoE):
            raise ParameterError("qoe", self.qoe, "must be an NQoE model")

    def replace(self, **changes: Any) -> "LiveProfile":
        return replace(self, **changes)

    def chunks_per_segment(self, segment_s: float) -> int:
        """CMAF chunks per segment of ``segment_s`` (1 without chunked transfer)."""
        if self.cmaf_chunk_s is None:
            return 1
        return max(1, int(round(segment_s / self.cmaf_chunk_s)))

    def bola_buffer_s(self, segment_s: float) -> float:
        """The buffer size controllers derive their parameters from (Sabre's BOLA's V, MPC's cap):
        ``max(target latency, segment)``, as dash.js caps BOLA's buffer target at the live delay."""
        return max(self.target_latency_s, segment_s)

    def pack(self, segment_s: float) -> np.ndarray:
        """The live profile vector (``live_layout.LP_*``) for segments of ``segment_s``: the chunk
        model's fields first (this network, a clean player with a buffer of :meth:`bola_buffer_s`),
        then the live ones."""
        lp = np.zeros(LV.LP_SIZE)
        lp[L.PROF_RTT_S] = -1.0 if self.rtt_s is None else self.rtt_s
        lp[L.PROF_RTT_ADVANCES_CLOCK] = 1.0
        lp[L.PROF_EFFICIENCY] = self.payload_efficiency
        lp[L.PROF_BUFFER_CAP_S] = self.bola_buffer_s(segment_s)
        lp[L.PROF_INITIAL_RUNG] = -1.0
        lp[L.PROF_MAX_DOWNLOAD_S] = self.max_download_s
        lp[L.PROF_THROUGHPUT_INCLUDES_LATENCY] = 0.0  # samples exclude the request latency (dead time)
        lp[LV.LP_CHUNKS] = self.chunks_per_segment(segment_s)
        lp[LV.LP_AVAIL_DELAY_S] = self.availability_delay_s
        lp[LV.LP_TARGET_S] = self.target_latency_s
        lp[LV.LP_MIN_LATENCY_S] = self.min_latency_s
        lp[LV.LP_MAX_DRIFT_S] = self.max_drift_s
        lp[LV.LP_RATE_MIN] = self.rate_min
        lp[LV.LP_RATE_MAX] = self.rate_max
        lp[LV.LP_CATCHUP] = _CATCHUP[self.catchup]
        lp[LV.LP_MIN_DRIFT_S] = self.min_drift_s
        lp[LV.LP_MIN_RATE_CHANGE] = self.min_rate_change
        lp[LV.LP_BUFFER_MIN_S] = self.buffer_min_s
        lp[LV.LP_JOIN_S] = self.join_s
        lp[LV.LP_DURATION_S] = -1.0 if self.duration_s is None else self.duration_s
        lp[LV.LP_RESUME_S] = self.resume_s
        lp[LV.LP_NOW_RATE] = 1.0
        return lp

    @staticmethod
    def kernel_trace(trace: Trace) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
        """(period_end_s, bandwidth_bps, latency_s, start_s, wrap_s): the trace as the loop reads
        it (each line's bandwidth from its time on; the trace loops to its start)."""
        lat = trace.latency_s if trace.latency_s is not None else np.zeros(trace.n_periods)
        ends = np.append(trace.time_s[1:], trace.end_s)
        return ends, trace.bandwidth_bps, lat, float(trace.time_s[0]), float(trace.time_s[0])

    def session_duration_s(self, trace: Trace) -> float:
        """How long a session on ``trace`` plays, the prelude excluded."""
        return float(self.duration_s) if self.duration_s is not None else trace.total_duration_s

    def with_prelude(self, trace: Trace) -> Trace:
        """``trace`` as the session plays it: after the prelude, if there is one."""
        if self.prelude_s == 0.0:
            return trace
        d = np.concatenate(([self.prelude_s], trace.duration_s))
        bw = np.concatenate(([self.prelude_kbps * 1e3], trace.bandwidth_bps))
        lat = None if trace.latency_s is None else np.concatenate(([0.0], trace.latency_s))
        return Trace.from_durations(d, bw, latency_s=lat, name=trace.name)

    def settings(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "qoe"}
        return {"profile": d.pop("name"), "model": "live", **d, **self.qoe.settings()}


LIVE_PROFILES: dict[str, LiveProfile] = {"live": LiveProfile()}


def challenge_video(duration_s: float = 600.0, segment_s: float = 0.5, name: str = "twitch-normal") -> Video:
    """The challenge's media: 0.5 s segments (``seg_duration=0.5``, GOP 15 at 30 fps) of the
    "Normal" ladder, 200 / 600 / 1000 kbit/s at 360p / 480p / 720p, constant bitrate (x264 with
    ``-b:v`` and a 200 kbit VBV buffer holds each 0.5 s segment near its nominal size)."""
    number("duration_s", duration_s, gt=0)
    number("segment_s", segment_s, gt=0)
    n = max(1, int(math.ceil(duration_s / segment_s)))
    bps = np.array(CHALLENGE_LADDER_KBPS, dtype=np.float64) * 1e3
    sizes = np.tile(bps * segment_s / 8.0, (n, 1))
    return Video(bps, segment_s, sizes, resolutions=((640, 360), (852, 480), (1280, 720)), name=name)


class LiveBatchResult:
    """Sessions of the live model: the per-segment log and the live metrics.

    Reading interface of :class:`abrkit.simulation.BatchResult`: :meth:`sessions` (one row per
    session: status, the live metrics of :data:`LIVE_METRICS`, seeks, startup), :meth:`summary`,
    :meth:`chunks` (one row per segment downloaded, the chunk model's columns -- ``latency_s``
    there is the request's time to first byte -- plus ``segment``, ``live_latency_s`` and
    ``playback_rate`` when it arrived, ``idle_s``, ``done_s``, ``seek``), :meth:`session`. ``log`` has shape (sessions,
    segments, ``live_layout.LV_COLS``); ``metrics`` (sessions, ``LM_SIZE``).
    """

    def __init__(self, traces, videos, controllers, profile, job_trace, job_video, job_ctrl, log, n_seg, status,
                 metrics, durations_s):
        self.traces: list[Trace] = traces
        self.videos: list[Video] = videos
        self.controllers: list[Controller] = controllers
        self.profile: LiveProfile = profile
        self.qoe = profile.qoe
        self.job_trace, self.job_video, self.job_ctrl = job_trace, job_video, job_ctrl
        self.log: np.ndarray = log
        self.n_done: np.ndarray = n_seg
        self.n_chunks: np.ndarray = n_seg
        self.status: np.ndarray = status
        self.metrics: np.ndarray = metrics
        self.durations_s: np.ndarray = durations_s
        self.startup_s = metrics[:, LV.LM_STARTUP_S].copy()
        self._sessions: pd.DataFrame | None = None

    def __len__(self) -> int:
        return int(self.job_trace.size)

    def _names(self) -> dict[str, list[str]]:
        return {
            "trace": [self.traces[t].name for t in self.job_trace],
            "video": [self.videos[v].name for v in self.job_video],
            "controller": [self.controllers[c].name for c in self.job_ctrl],
        }

    def segment_log(self, j: int) -> np.ndarray:
        """Session ``j``'s log rows (segments requested)."""
        return self.log[j, : int(self.n_done[j])]

    def rewards(self, j: int) -> np.ndarray:
        """Per-segment NQoE of session ``j``."""
        return self.qoe.rewards(self.videos[self.job_video[j]], self.segment_log(j))

    def live_metrics(self, j: int) -> dict[str, Any]:
        """Session ``j``'s live metrics (see :data:`LIVE_METRICS`) and a few more."""
        m = self.metrics[j]
        video = self.videos[self.job_video[j]]
        log = self.segment_log(j)
        played_to = m[LV.LM_PLAYHEAD_S]
        first = m[LV.LM_FIRST_PLAY_S]
        elapsed = m[LV.LM_ELAPSED_S]
        base = {k: 0.0 for k in ("lat", "buf", "rate", "play", "stall", "stalls")}
        scored = np.isfinite(log[:, L.LOG_THROUGHPUT_BPS])
        prelude = self.profile.prelude_s
        if prelude > 0.0 and len(log):
            # measure from the last row written before the prelude ended: its running totals
            before = np.flatnonzero(log[:, LV.LV_DONE_S] <= prelude)
            if before.size:
                r = log[before[-1]]
                base = {"lat": r[LV.LV_CUM_LATENCY_INT], "buf": r[LV.LV_CUM_BUFFER_INT], "rate": r[LV.LV_CUM_RATE_INT],
                        "play": r[LV.LV_CUM_PLAY_S], "stall": r[LV.LV_CUM_STALL_S], "stalls": r[LV.LV_CUM_STALLS]}
                first = max(first, r[LV.LV_PLAYHEAD_S])
                elapsed = m[LV.LM_ELAPSED_S] + m[LV.LM_STARTUP_S] - r[LV.LV_DONE_S]
                scored &= np.arange(len(log)) > before[-1]
        rungs = log[:, L.LOG_RUNG].astype(np.int64)
        seg0 = log[:, LV.LV_SEGMENT] * video.chunk_s
        # media of each segment that was played (the switch history's start/end, stats.js)
        played = np.clip(np.minimum(seg0 + video.chunk_s, played_to) - np.maximum(seg0, first), 0.0, None)
        shown = played > 0
        kept = rungs[shown]
        avg_bps = float(np.dot(played, video.bitrates_bps[rungs]) / played.sum()) if played.sum() > 0 else float("nan")
        rewards = self.qoe.rewards(video, log[scored])
        play_s = m[LV.LM_PLAY_S] - base["play"]
        return {
            "averageBitrate": avg_bps,
            "numSwitches": int(np.count_nonzero(np.diff(kept))),
            "stallDuration": float(m[LV.LM_STALL_S] - base["stall"]),
            "numStalls": int(m[LV.LM_STALLS] - base["stalls"]),
            "avgLatency": float((m[LV.LM_LATENCY_INT] - base["lat"]) / elapsed) if elapsed > 0 else float("nan"),
            "avgBufferLength": float((m[LV.LM_BUFFER_INT] - base["buf"]) / elapsed) if elapsed > 0 else float("nan"),
            "avgPlaybackRate": float((m[LV.LM_RATE_INT] - base["rate"]) / play_s) if play_s > 0 else float("nan"),
            "NQoE": float(rewards.sum()),
            "NQoE_per_segment": float(rewards.mean()) if rewards.size else float("nan"),
            "seeks": int(m[LV.LM_SEEKS]),
            "startup_s": float(m[LV.LM_STARTUP_S]),
            "segments": int(self.n_done[j]),
            "min_latency_s": float(m[LV.LM_MIN_LATENCY_S]),
            "max_latency_s": float(m[LV.LM_MAX_LATENCY_S]),
            "duration_s": float(self.durations_s[j]),
        }

    def sessions(self) -> pd.DataFrame:
        """One row per session: trace, video, controller, profile, status, then the live metrics
        (:data:`LIVE_METRICS`: ``averageBitrate`` in bit/s, times in s), seeks, startup_s,
        segments, min/max latency, and the abrkit columns the tables expect (``qoe`` = NQoE,
        ``mean_bitrate_kbps``, ``rebuffer_s``, ``switches``, ``chunks``)."""
        if self._sessions is not None:
            return self._sessions.copy()
        rows = []
        for j in range(len(self)):
            r = self.live_metrics(j)
            r.update({
                "chunks": r["segments"], "qoe": r["NQoE"], "qoe_per_chunk": r["NQoE_per_segment"],
                "mean_bitrate_kbps": r["averageBitrate"] / 1e3, "rebuffer_s": r["stallDuration"],
                "switches": r["numSwitches"],
            })
            rows.append(r)
        head = pd.DataFrame({**self._names(), "profile": self.profile.name,
                             "status": [STATUS_NAMES[int(s)] for s in self.status]})
        self._sessions = pd.concat([head, pd.DataFrame(rows, index=head.index)], axis=1)
        return self._sessions.copy()

    def session_totals(self, j: int) -> dict[str, Any]:
        return self.sessions().iloc[j].to_dict()

    def summary(self, sessions: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per controller: the means of the live metrics over its sessions."""
        if sessions is None:
            sessions = self.sessions()
        names = [c.name for c in self.controllers]
        cols = [c for c in LIVE_METRICS if c in sessions]
        out = sessions.groupby("controller", sort=False)[cols].mean()
        out.insert(0, "sessions", sessions.groupby("controller", sort=False).size())
        return out.reindex([n for n in dict.fromkeys(names) if n in out.index])

    def session_frame(self, j: int) -> pd.DataFrame:
        """Session ``j``'s rows of :meth:`chunks`."""
        names = self._names()
        log = self.segment_log(j)
        frame = chunk_frame(names["trace"][j], self.videos[self.job_video[j]], names["controller"][j],
                            log[:, : L.LOG_COLS], self.rewards(j))
        frame["segment"] = log[:, LV.LV_SEGMENT].astype(np.int64)
        frame["live_latency_s"] = log[:, LV.LV_LIVE_LATENCY_S]
        frame["playback_rate"] = log[:, LV.LV_RATE]
        frame["idle_s"] = log[:, LV.LV_IDLE_S]
        frame["done_s"] = log[:, LV.LV_DONE_S]
        frame["seek"] = log[:, LV.LV_SEEK] == 1.0
        return frame

    def chunks(self) -> pd.DataFrame:
        """One row per segment downloaded (see :meth:`session_frame`)."""
        return pd.concat([self.session_frame(j) for j in range(len(self))], ignore_index=True)

    def session(self, j: int) -> SimResult:
        return SimResult(self, j)

    def settings(self) -> dict[str, Any]:
        return {**self.profile.settings(), "controllers": [c.settings() for c in self.controllers],
                "videos": [v.settings() for v in self.videos]}


def _live_controller(spec: Any) -> Controller:
    c = get_controller(spec)
    if c.pack_predictor()[0] == L.PRED_ORACLE:
        raise ParameterError("predictor", "oracle", f"controller {c.name!r}: the oracle reads the chunk model's "
                             "whole-chunk requests; the live model has none")
    return c


@dataclass(frozen=True)
class LiveInputs:
    """Traces, videos and controllers concatenated for the kernel (``_kernels.groups``)."""

    traces: G.Traces
    videos: G.Videos
    ctrls: G.Controllers


def pack_inputs(traces: list[Trace], videos: list[Video], controllers: list[Controller], buffer_s: float) -> LiveInputs:
    """The groups ``_kernels.live.run_live_batch`` takes; controllers packed for a ``buffer_s`` buffer."""
    for v in videos:
        playable_sizes(v.name, v.sizes_bytes)
        for c in controllers:
            c.check_video(v)
    n_draws = len(traces) * sum(4 * v.n_chunks + 2 for v in videos)
    return LiveInputs(
        traces=pack_traces([LiveProfile.kernel_trace(t) for t in traces]),
        videos=pack_videos(videos),
        ctrls=pack_controllers(controllers, buffer_s, n_draws),
    )


def run_live_batch(
    traces: Trace | Iterable[Trace],
    videos: Video | Iterable[Video],
    controllers: Any,
    profile: LiveProfile | str = "live",
    n_workers: int | None = None,
) -> LiveBatchResult:
    """Simulate every (trace, video, controller) combination under a live profile.

    Sessions are ordered trace-major, as in :func:`abrkit.simulation.run_batch`; the kernel runs
    once per (controller group, predictor group) pair, compiled for those alone; threads run job
    ranges side by side and the results do not depend on their number.
    """
    from concurrent.futures import ThreadPoolExecutor

    prof = LIVE_PROFILES[profile] if isinstance(profile, str) and profile in LIVE_PROFILES else profile
    if not isinstance(prof, LiveProfile):
        raise ParameterError("profile", profile, f"is not a live profile ({', '.join(LIVE_PROFILES)})")
    tr = [traces] if isinstance(traces, Trace) else list(traces)
    vids = [videos] if isinstance(videos, Video) else list(videos)
    single = isinstance(controllers, (str, Controller)) or is_python_controller(controllers)
    specs = [controllers] if single else list(controllers)
    # Python controllers (objects with decide(obs)) run on the loop's Python twin, one session at
    # a time in job order after the compiled ones; a fixed rung holds their place in the packing
    user = {i: c for i, c in enumerate(specs) if is_python_controller(c)}
    ctrls = [FixedRung() if i in user else _live_controller(c) for i, c in enumerate(specs)]
    for name, seq in (("traces", tr), ("videos", vids), ("controllers", ctrls)):
        if not seq:
            raise ParameterError(name, [], "at least one is needed")
    for v in vids:
        if isinstance(v, Video):
            v.require_uniform(f"the live profile {prof.name!r}")
    seg = {v.chunk_s for v in vids}
    if len(seg) != 1:
        raise ParameterError("videos", sorted(seg), "a live batch takes videos of one segment duration")
    segment_s = seg.pop()
    packed = pack_inputs([prof.with_prelude(t) for t in tr], vids, ctrls, prof.bola_buffer_s(segment_s))
    lp = prof.pack(segment_s)
    grid = np.stack(np.meshgrid(np.arange(len(tr)), np.arange(len(vids)), np.arange(len(ctrls)), indexing="ij"), -1).reshape(-1, 3)
    job_trace, job_video, job_ctrl = (np.ascontiguousarray(grid[:, i], dtype=np.int64) for i in range(3))
    n_jobs = job_trace.size
    durations = np.array([prof.session_duration_s(tr[t]) + prof.prelude_s for t in job_trace], dtype=np.float64)
    cap = int(math.ceil((durations.max() + prof.target_latency_s + prof.availability_delay_s) / segment_s)) + 4
    log = np.empty((n_jobs, cap, LV.LV_COLS))
    n_seg = np.zeros(n_jobs, dtype=np.int64)
    status = np.zeros(n_jobs, dtype=np.int64)
    metrics = np.zeros((n_jobs, LV.LM_SIZE))

    groups = np.array([compile_group(int(i)) for i in packed.ctrls.ids], dtype=np.int64)
    pgroups = np.array([predictor_group(int(i), p) for i, p in zip(packed.ctrls.pred_ids, packed.ctrls.pred_params)],
                       dtype=np.int64)
    kinds = groups[job_ctrl] * 1000 + (pgroups[job_ctrl] + 1)
    is_user = np.isin(job_ctrl, list(user))
    kinds[is_user] = np.iinfo(np.int64).max  # after every compiled job, in job order
    order = np.argsort(kinds, kind="stable")
    n_compiled = int(n_jobs - is_user.sum())
    jobs = G.Jobs(*(np.ascontiguousarray(a[order]) for a in (job_trace, job_video, job_ctrl)))
    d_sorted = np.ascontiguousarray(durations[order])
    out = LiveOutputs(log, n_seg, status, metrics)
    k_kinds = kinds[order][:n_compiled]
    edges = sorted(set([0, n_compiled, *(np.flatnonzero(np.diff(k_kinds)) + 1).tolist()]))
    workers = min(worker_count(n_workers), n_jobs)
    per = max(1, n_jobs // max(workers * 4, 1))
    blocks = []
    for a, b in zip(edges[:-1], edges[1:]):
        blocks.extend((lo, min(lo + per, b)) for lo in range(a, b, per))
    cancel = threading.Event()

    def work(block: tuple[int, int]) -> None:
        check(cancel)
        lo, hi = block
        c = int(jobs.ctrl[lo])
        _run_kernel(lo, hi, jobs, packed.traces, packed.videos, lp, packed.ctrls, d_sorted, out, int(groups[c]),
                    int(pgroups[c]))

    with CtrlC(cancel):
        if blocks:
            work(blocks[0])
        if workers == 1 or len(blocks) <= 1:
            for b in blocks[1:]:
                work(b)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(work, blocks[1:]))
        for p in range(n_compiled, n_jobs):
            check(cancel)
            j = int(order[p])
            n_seg[p], status[p] = play_live_session(
                prof.with_prelude(tr[job_trace[j]]), vids[job_video[j]], user[int(job_ctrl[j])], prof, d_sorted[p],
                log[p], metrics[p])
    inverse = np.empty_like(order)
    inverse[order] = np.arange(n_jobs)
    shown = [UserSpec(name_of(user[i]), type(user[i]).__qualname__) if i in user else c for i, c in enumerate(ctrls)]
    return LiveBatchResult(tr, vids, shown, prof, job_trace, job_video, job_ctrl, log[inverse], n_seg[inverse],
                           status[inverse], metrics[inverse], durations)


def get_live_profile(spec: str | LiveProfile) -> LiveProfile:
    if isinstance(spec, LiveProfile):
        return spec
    try:
        return LIVE_PROFILES[str(spec).lower()]
    except KeyError:
        raise ParameterError("profile", spec, f"unknown live profile; known: {', '.join(LIVE_PROFILES)}") from None

