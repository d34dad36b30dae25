"""The ``dashjs`` player profile: a model of the dash.js 5.2.1 player, not only of its ABR rules.

:class:`DashjsProfile` is an event-model profile (:class:`abrkit.event.EventProfile`) whose
sessions run :mod:`abrkit._kernels.dashjs_player` instead of Sabre's player: startup (set-up,
manifest, initialization segment, the initial bitrate's rung), buffer targets, the schedule
timer, rung changes that cost an init request, fast switching, ``AbandonRequestsRule`` and
throughput samples as dash.js measures them. Every controller of the registry runs under it
through the controller contract; ``dashjs`` (dash.js 5's DYNAMIC) is its default.

Each field is one dash.js setting or one measured cost; the defaults are dash.js 5.2.1's
(``src/core/Settings.js`` unless named) or were measured with ``abrkit emulate``
(docs/real-players.md):

==============================  =========  =====================================================
field                           default    dash.js 5.2.1
==============================  =========  =====================================================
``buffer_cap_s``                18         ``streaming.buffer.bufferTimeDefault``: the buffer
                                           target below the top rung (also the buffer planners
                                           and BOLA's ``V`` see)
``top_buffer_s``                30         ``bufferTimeAtTopQuality``: the target while the
                                           current rung is the top one
``top_buffer_long_s``           60         ``bufferTimeAtTopQualityLongForm``, for content of at
                                           least ``long_form_s``
``long_form_s``                 600        ``longFormContentDurationThreshold``
``schedule_s``                  0.5        ``scheduling.defaultTimeout``: the schedule timer
                                           while the buffer is full
``setup_s``                     0.1        measured: player set-up before the MPD request
``manifest_bytes``              2000       the MPD request (one request: latency + bytes)
``init_bytes``                  900        an initialization segment, requested before the first
                                           media segment and at every rung change
``switch_s``                    0.04       measured: what a rung change costs besides its init
                                           request (SourceBuffer abort, timestamp offset)
``append_s``                    0.002      measured: a download's end to the next request
``start_s``                     0.03       measured: first segment appended to playback start
``initial_kbps``                1000       ``AbrController.getInitialBitrateFor``
                                           (``DEFAULT_VIDEO_BITRATE``): the first segment's rung
``hybrid_switch_s``             12         ``abr.hybridSwitchBufferTime``: the ``dashjs`` /
                                           ``dashjs4`` controllers switch to BOLA at this buffer
                                           and back below half of it (None: Sabre-based ones
                                           keep their own ``low_s`` / ``high_s``)
``dashjs_rules``                dashjs5    what the ``dashjs`` controller runs as: ``dashjs5``,
                                           dash.js 5.2.1's rule collection
                                           (:class:`~abrkit.controllers.DashJs5`), or ``sabre``,
                                           abrkit's Sabre-based DYNAMIC (``DashJsDynamic``)
``fast_switch``                 True       ``buffer.fastSwitchEnabled`` (null: on for VoD)
``fast_switch_margin_s``        0.0        ``StreamProcessor._prepareForFastQualitySwitch``
                                           replaces from ``playhead + 1.5 x fragmentDuration``;
                                           the representation it is given has no
                                           ``fragmentDuration`` yet (null), so the margin is 0
``abandon``                     True       ``abandonRequestsRule.active``
``abandon_multiplier``          1.8        ``abandonDurationMultiplier``
``abandon_min_s``               0.5        ``minSegmentDownloadTimeThresholdInMs``
``abandon_min_events``          6          ``minThroughputSamplesThreshold``
``min_progress_ms``             50         interval of a download's progress events
``abandon_hold_s``              10         ``abandonLoadTimeout``: only down-switches meanwhile
``payload_efficiency``          0.97       measured: the share of the trace's rate a download's
                                           bytes get (TCP/IP and Ethernet headers under tc;
                                           ``abrkit emulate``'s link fidelity, 0.97-0.99)
``overlap_stall_s``             0.5        measured (Chromium's MSE): a replacement of the
                                           segment under the playhead that lands with less
                                           than this buffered ahead stalls playback for the
                                           difference
==============================  =========  =====================================================

Inherited fields keep their meaning: ``latency_s`` (None: the trace's), ``network_multiplier``,
``max_download_s``, ``qoe``. Sabre's ``replacement`` must stay ``none`` (fast switching is
``fast_switch``), ``apply_abandon_quality`` must stay True (dash.js always requests the
abandoned-to rung), and ``rampup_quality`` / ``min_progress_bits`` are not used.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ._checks import integer, number
from ._jit import LiteralEntry
from ._kernels import dashjs_layout as D
from ._kernels import event_layout as E
from ._kernels import layout as L
from ._kernels.dashjs_player import play_dashjs as _play_dashjs_dispatcher
from ._kernels.estimators import predictor_group
from .controllers import Controller
from .errors import ParameterError
from .event import EventBatchResult, EventProfile, _Contract
from .event_controllers import DashJsDynamic, EventController
from .video import Video

__all__ = ["DashjsProfile", "DashjsBatchResult"]

_play_dashjs = LiteralEntry(_play_dashjs_dispatcher, ("kind", "pgroup"))


@dataclass(frozen=True)
class DashjsProfile(EventProfile):
    """The dash.js 5.2.1 player (see the module docstring for every field)."""

    name: str = "dashjs"
    buffer_cap_s: float = 18.0
    top_buffer_s: float = 30.0
    top_buffer_long_s: float = 60.0
    long_form_s: float = 600.0
    schedule_s: float = 0.5
    setup_s: float = 0.1
    manifest_bytes: float = 2000.0
    init_bytes: float = 900.0
    switch_s: float = 0.04
    append_s: float = 0.002
    start_s: float = 0.03
    initial_kbps: float = 1000.0
    hybrid_switch_s: float | None = 12.0
    dashjs_rules: str = "dashjs5"
    fast_switch: bool = True
    fast_switch_margin_s: float = 0.0
    abandon: bool = True
    abandon_multiplier: float = 1.8
    abandon_min_s: float = 0.5
    abandon_min_events: int = 6
    abandon_hold_s: float = 10.0
    overlap_stall_s: float = 0.5
    payload_efficiency: float = 0.97

    def __post_init__(self) -> None:
        EventProfile.__post_init__(self)
        if self.replacement != "none":
            raise ParameterError("replacement", self.replacement,
                                 "must be none under the dashjs profile: dash.js replaces by fast switching (fast_switch)")
        if self.apply_abandon_quality is not True:
            raise ParameterError("apply_abandon_quality", self.apply_abandon_quality,
                                 "must be true under the dashjs profile: dash.js always requests the abandoned-to rung")
        for key in ("top_buffer_s", "top_buffer_long_s", "schedule_s", "long_form_s"):
            number(key, getattr(self, key), gt=0)
        for key in ("setup_s", "manifest_bytes", "init_bytes", "switch_s", "append_s", "start_s", "fast_switch_margin_s",
                    "abandon_min_s", "abandon_hold_s", "overlap_stall_s"):
            number(key, getattr(self, key), ge=0)
        number("initial_kbps", self.initial_kbps, ge=0)
        number("payload_efficiency", self.payload_efficiency, gt=0, le=1)
        number("abandon_multiplier", self.abandon_multiplier, gt=0)
        integer("abandon_min_events", self.abandon_min_events, ge=1)
        if self.hybrid_switch_s is not None:
            number("hybrid_switch_s", self.hybrid_switch_s, ge=0)
        if self.dashjs_rules not in ("dashjs5", "sabre"):
            raise ParameterError("dashjs_rules", self.dashjs_rules, "must be dashjs5 or sabre")
        for key in ("fast_switch", "abandon"):
            if not isinstance(getattr(self, key), (bool, np.bool_)):
                raise ParameterError(key, getattr(self, key), "must be true or false")

    def replace(self, **changes: Any) -> "DashjsProfile":
        return replace(self, **changes)

    @property
    def model(self) -> str:
        return "dashjs"

    def player_config(self, video: Video) -> np.ndarray:
        """The kernel's config vector (``dashjs_layout.D_*``) for ``video``."""
        cfg = np.zeros(D.D_SIZE)
        cfg[D.D_BUFFER_MS] = self.buffer_cap_s * 1000.0
        long_form = video.n_chunks * video.chunk_s >= self.long_form_s
        cfg[D.D_TOP_BUFFER_MS] = (self.top_buffer_long_s if long_form else self.top_buffer_s) * 1000.0
        cfg[D.D_SCHEDULE_MS] = self.schedule_s * 1000.0
        cfg[D.D_SETUP_MS] = self.setup_s * 1000.0
        cfg[D.D_MANIFEST_BITS] = self.manifest_bytes * 8.0
        cfg[D.D_INIT_BITS] = self.init_bytes * 8.0
        cfg[D.D_SWITCH_MS] = self.switch_s * 1000.0
        cfg[D.D_APPEND_MS] = self.append_s * 1000.0
        cfg[D.D_START_MS] = self.start_s * 1000.0
        cfg[D.D_INITIAL_KBPS] = self.initial_kbps
        cfg[D.D_FAST_SWITCH] = float(self.fast_switch)
        cfg[D.D_FAST_SWITCH_MARGIN_MS] = self.fast_switch_margin_s * 1000.0
        cfg[D.D_ABANDON] = float(self.abandon)
        cfg[D.D_ABANDON_MULTIPLIER] = self.abandon_multiplier
        cfg[D.D_ABANDON_MIN_MS] = self.abandon_min_s * 1000.0
        cfg[D.D_ABANDON_MIN_SAMPLES] = float(self.abandon_min_events)
        cfg[D.D_PROGRESS_MS] = self.min_progress_ms
        cfg[D.D_ABANDON_HOLD_MS] = self.abandon_hold_s * 1000.0
        cfg[D.D_MAX_DOWNLOAD_MS] = self.max_download_s * 1000.0
        cfg[D.D_OVERLAP_MS] = self.overlap_stall_s * 1000.0
        cfg[D.D_INIT_EVERY_SWITCH] = 1.0
        return cfg

    def controller_for(self, c: Controller) -> Controller:
        """``c`` as this player runs it. With ``dashjs_rules="dashjs5"`` the ``dashjs``
        controller is dash.js 5.2.1's own rule collection (:class:`~abrkit.controllers.DashJs5`)
        with this player's ``hybrid_switch_s`` and ``buffer_cap_s``; otherwise (``"sabre"``, and
        always for ``dashjs4``) abrkit's Sabre-based DYNAMIC, its thresholds set from
        ``hybrid_switch_s`` (a player setting in dash.js 5, ``AbrController``)."""
        if not isinstance(c, DashJsDynamic):
            return c
        if self.dashjs_rules == "dashjs5" and type(c) is DashJsDynamic:
            from .controllers import DashJs5

            switch = 12.0 if self.hybrid_switch_s is None else self.hybrid_switch_s
            return DashJs5(switch_s=switch, buffer_time_s=self.buffer_cap_s)
        if self.hybrid_switch_s is not None:
            return replace(c, low_s=0.5 * self.hybrid_switch_s, high_s=self.hybrid_switch_s)
        return c

    def contract(self, c: Controller, n_draws: int) -> _Contract:
        """How the kernel asks ``c``: every controller goes through the contract (Sabre's rules
        as ``CTRL_SABRE``, their state in the controller vector); abandonment is the player's."""
        c = self.controller_for(c)
        kind, cparams = c.pack_for(self.buffer_cap_s)
        pid, pparams, n_state = c.pack_predictor()
        return _Contract(int(kind), np.ascontiguousarray(cparams, dtype=np.float64), int(pid),
                         np.ascontiguousarray(pparams, dtype=np.float64), int(n_state), self.planner_vector(),
                         np.ascontiguousarray(c.pack_data(n_draws), dtype=np.float32))

    def kernel_trace(self, trace: Any) -> np.ndarray:
        """The event model's periods with every bandwidth times ``payload_efficiency`` (the
        bytes a download gets out of a link shaped in frames)."""
        base = super().kernel_trace(trace)
        if self.payload_efficiency == 1.0:
            return base
        key = ("dashjs_trace", self.latency_s, self.network_multiplier, self.payload_efficiency)
        cached = trace._cache.get(key)
        if cached is None:
            cached = base.copy()
            cached[:, 1] *= self.payload_efficiency
            trace._cache[key] = cached
        return cached

    def session_runner(self, ctrls: list[Controller], vids: list[Video], n_draws: int) -> Any:
        """For ``run_event_batch``: a function (trace periods, video arrays, SI video arrays,
        video index, controller index) -> one session's (metrics, log, played, status, startup_ms)."""
        contracts = contract_controllers(self, ctrls, 8 * n_draws)  # replacements: more requests per segment
        configs = [self.player_config(v) for v in vids]

        def run(tr: np.ndarray, arrays: Any, si: Any, v: int, c: int) -> Any:
            return dashjs_session(tr, arrays, configs[v], contracts[c], si)

        return run

    def batch_result(self, tr: list, vids: list, ctrls: list, model: Any, job_trace: np.ndarray, job_video: np.ndarray,
                     job_ctrl: np.ndarray, metrics: np.ndarray, results: list) -> "DashjsBatchResult":
        """For ``run_event_batch``: the sessions' results as a :class:`DashjsBatchResult`."""
        return DashjsBatchResult(
            tr, vids, ctrls, self, model, job_trace, job_video, job_ctrl, metrics,
            [r[1] for r in results], [r[2] for r in results],
            np.array([r[2].shape[0] for r in results], dtype=np.int64), np.array([r[3] for r in results], dtype=np.int64),
            startup_ms=np.array([r[4] for r in results]),
        )

    def settings(self) -> dict[str, Any]:
        d = super().settings()
        d["model"] = "dashjs"
        for key in ("replacement", "rampup_quality", "apply_abandon_quality", "min_progress_bits"):
            d.pop(key, None)
        return d


def dashjs_session(tr: np.ndarray, arrays: tuple[float, np.ndarray, np.ndarray], cfg: np.ndarray, contract: _Contract,
                   si_arrays: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, float]:
    """One session: (metrics (NaN: Sabre's metrics are not computed), request log, played,
    status, startup_ms)."""
    seg_ms, bitrates, sizes = arrays
    n_seg = sizes.shape[0]
    capacity = 4 * n_seg + 8
    while True:
        log = np.empty((capacity, E.E_COLS))
        played = np.full((n_seg, 2), np.nan)
        n_log, status, startup_ms = _play_dashjs(
            tr, seg_ms, bitrates, sizes, cfg, log, played, contract.kind, contract.cparams, contract.pid,
            predictor_group(contract.pid, contract.pparams), contract.pparams, np.zeros(contract.n_state), contract.prof,
            si_arrays[0], si_arrays[1], contract.cdata,
        )
        if n_log <= capacity:
            break
        capacity = n_log
    n_played = int(np.count_nonzero(~np.isnan(played[:, 0])))
    return np.full(E.N_METRICS, np.nan), log[:n_log].copy(), played[:n_played].copy(), int(status), float(startup_ms)


class DashjsBatchResult(EventBatchResult):
    """Sessions of the dash.js player: :class:`~abrkit.event.EventBatchResult` with the startup
    the player model computed (set-up, manifest, init segment, first segment, ``start_s``) and
    without Sabre's printed metrics."""

    def __init__(self, *args: Any, startup_ms: np.ndarray) -> None:
        super().__init__(*args)
        self.startup_s = np.asarray(startup_ms, dtype=np.float64) / 1e3

    def replace_session(self, j: int, metrics: np.ndarray, log: np.ndarray, played: np.ndarray, status: int) -> None:
        raise ParameterError("profile", "dashjs", "Python controllers (decide) do not run under the dashjs profile yet")

    def sessions(self) -> pd.DataFrame:
        s = super().sessions()
        s["startup_s"] = self.startup_s
        return s.drop(columns=list(E.METRIC_NAMES))


def contract_controllers(profile: DashjsProfile, ctrls: list[Controller], n_draws: int) -> list[_Contract]:
    for c in ctrls:
        if not isinstance(c, (EventController, Controller)):
            raise ParameterError("controller", c, "is not a controller")
        if c.pack_predictor()[0] == L.PRED_ORACLE:
            raise ParameterError("predictor", "oracle", f"controller {c.name!r}: the dashjs profile has no look-ahead")
    return [profile.contract(c, n_draws) for c in ctrls]
