"""Controller specifications of the chunk-model rules and FESTIVE, and the one registry.

:data:`CONTROLLERS` maps every built-in name (these and Sabre's rules of
:mod:`abrkit.event_controllers`) to its factory; :func:`get_controller` resolves names and
spec strings. Every controller runs under every profile (docs/controllers.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from ._checks import integer, number
from ._kernels import layout as L
from ._kernels.festive import FESTIVE_MAX_WINDOW
from .controller_spec import Controller
from .errors import ParameterError
from .event_controllers import EVENT_CONTROLLERS
from .learned.controllers import Learned, Pensieve
import numpy as np

from .live_controllers import LIVE_CONTROLLERS
from .predictors import (
    DualEwma,
    HarmonicMean,
    Predictor,
    RobustDiscount,
    build,
    get_predictor,
    parse_spec,
    parse_value,
)

__all__ = [
    "Controller", "BufferBased", "BBA0", "BBA1", "RateBased", "FixedRung", "MPC", "RobustMPC", "Festive", "DashJs5", "HlsJs", "CONTROLLERS",
    "MAX_HORIZON", "get_controller", "Pensieve", "Learned",
]

#: Largest MPC horizon accepted: the search is exact, and its worst case grows as rungs ** horizon.
MAX_HORIZON = 8


@dataclass(frozen=True)
class _BufferRule(Controller):
    """Shared fields of the rules driven by a reservoir and a cushion of buffer (seconds)."""

    reservoir_s: float = 5.0
    cushion_s: float = 10.0

    def __post_init__(self) -> None:
        number("reservoir_s", self.reservoir_s, ge=0)
        number("cushion_s", self.cushion_s, gt=0)

    def params(self) -> list[float]:
        return [self.reservoir_s, self.cushion_s]


@dataclass(frozen=True)
class BufferBased(_BufferRule):
    """Pensieve's buffer-based baseline (``test/bb.py``).

    Rung index rises linearly with the buffer: rung 0 below ``reservoir_s``, the top rung from
    ``reservoir_s + cushion_s`` on, ``int((n_rungs - 1) * (buffer - reservoir) / cushion)`` in
    between. Note it interpolates the rung *index*, not the rate (compare :class:`BBA0`).
    """

    kernel_id: ClassVar[int] = L.CTRL_BB_PENSIEVE
    label: ClassVar[str] = "bb"


@dataclass(frozen=True)
class BBA0(_BufferRule):
    """BBA-0 (Huang et al., "A Buffer-Based Approach to Rate Adaptation", SIGCOMM 2014).

    The rate map rises linearly in *rate* from the lowest rung at ``reservoir_s`` to the top
    rung at ``reservoir_s + cushion_s``; the chosen rate changes only when the map crosses a
    neighbouring rung (Algorithm 1 of the paper). The paper used a 90 s reservoir and 126 s
    cushion with a 240 s buffer; the defaults here suit the 60 s buffers of common simulators.
    """

    kernel_id: ClassVar[int] = L.CTRL_BBA0
    label: ClassVar[str] = "bba0"


@dataclass(frozen=True)
class RateBased(Controller):
    """Rate-based rule: the highest rung whose bitrate is <= ``safety`` x the predicted throughput.

    The predictor defaults to the harmonic mean of the last 5 samples (as in MPC); any
    :mod:`abrkit.predictors` spec (or name) works. Without an estimate yet, rung 0.
    """

    predictor: Predictor = field(default_factory=lambda: HarmonicMean(5))
    safety: float = 0.9
    kernel_id: ClassVar[int] = L.CTRL_RATE
    label: ClassVar[str] = "rate"

    def __post_init__(self) -> None:
        object.__setattr__(self, "predictor", get_predictor(self.predictor))
        number("safety", self.safety, gt=0)

    def params(self) -> list[float]:
        return [self.safety]


@dataclass(frozen=True)
class FixedRung(Controller):
    """Always the same rung (clipped to the ladder): a baseline and a testing aid."""

    rung: int = 0
    kernel_id: ClassVar[int] = L.CTRL_FIXED
    label: ClassVar[str] = "fixed"

    def __post_init__(self) -> None:
        integer("rung", self.rung, ge=0)

    def params(self) -> list[float]:
        return [float(self.rung)]


@dataclass(frozen=True)
class BBA1(Controller):
    """BBA-1 (Huang et al., "A Buffer-Based Approach to Rate Adaptation", SIGCOMM 2014, section 5):
    BBA-0 for variable-bitrate video, mapping the buffer to a chunk *size*.

    * Reservoir (section 5.1), recomputed before each chunk: the buffer that the next
      ``lookahead_s`` seconds of video at the lowest rung would use up over a link of exactly the
      lowest rate, ``sum(8 * size_i / R_min) - their duration`` (seconds), clamped to
      [``min_reservoir_s``, ``max_reservoir_s``].
    * Chunk map: linear in size from ``R_min * chunk_s / 8`` bytes at the reservoir to
      ``R_max * chunk_s / 8`` at reservoir + ``cushion_s`` (``chunk_s``: the next chunk's own
      duration, for segments of unequal duration); the rung whose *next chunk's* size is
      the largest below the map, with BBA-0's hysteresis in size space (the rung changes only
      when the map crosses the next chunk's size at a neighbouring rung).

    The paper used a 240 s buffer, a 480 s look-ahead and a reservoir between 8 s and 140 s;
    the defaults scale that to 60 s buffers, with the lower bound at BBA-0's 5 s reservoir, so
    that on constant-bitrate video BBA-1 chooses as :class:`BBA0` does.
    """

    cushion_s: float = 10.0
    lookahead_s: float = 120.0
    min_reservoir_s: float = 5.0
    max_reservoir_s: float = 35.0
    kernel_id: ClassVar[int] = L.CTRL_BBA1
    label: ClassVar[str] = "bba1"

    def __post_init__(self) -> None:
        number("cushion_s", self.cushion_s, gt=0)
        number("lookahead_s", self.lookahead_s, gt=0)
        low = number("min_reservoir_s", self.min_reservoir_s, ge=0)
        number("max_reservoir_s", self.max_reservoir_s, ge=low)

    def params(self) -> list[float]:
        return [self.cushion_s, self.lookahead_s, self.min_reservoir_s, self.max_reservoir_s]


@dataclass(frozen=True)
class MPC(Controller):
    """MPC (Yin et al., "A Control-Theoretic Approach for Dynamic Adaptive Video Streaming over
    HTTP", SIGCOMM 2015): plan the next ``horizon`` chunks, play the first rung of the best plan.

    The plan assumes every chunk downloads at the predictor's estimate (default: harmonic mean
    of the last 5 samples) and scores a rung sequence with the linear QoE
    ``sum(bitrate_Mbps) - rebuffer_weight * rebuffer_s - switch_weight * sum(|bitrate change|_Mbps)``
    (Pensieve's weights 4.3 and 1 by default; the change from the previous chunk counts). The
    search is exact: it returns what enumerating all ``rungs ** horizon`` sequences returns,
    ties included (profile field ``mpc_ties``), with a branch and bound. Near the end of the
    video the horizon shrinks to the chunks left. Without an estimate yet, the lowest rung.
    The ``mpc_*`` fields of the profile reproduce Pensieve's planning quirks (docs/mpc.md).
    """

    predictor: Predictor = field(default_factory=lambda: HarmonicMean(5))
    horizon: int = 5
    rebuffer_weight: float = 4.3
    switch_weight: float = 1.0
    kernel_id: ClassVar[int] = L.CTRL_MPC
    label: ClassVar[str] = "mpc"

    def __post_init__(self) -> None:
        object.__setattr__(self, "predictor", get_predictor(self.predictor))
        integer("horizon", self.horizon, ge=1)
        if self.horizon > MAX_HORIZON:
            raise ParameterError("horizon", self.horizon, f"must be an integer <= {MAX_HORIZON}")
        number("rebuffer_weight", self.rebuffer_weight, ge=0)
        number("switch_weight", self.switch_weight, ge=0)

    def params(self) -> list[float]:
        return [float(self.horizon), self.rebuffer_weight, self.switch_weight]


@dataclass(frozen=True)
class RobustMPC(MPC):
    """RobustMPC (Yin et al. 2015): MPC with its estimate discounted by its recent errors,
    ``estimate / (1 + max relative error of the last window estimates)``.

    The predictor must be a :class:`~abrkit.predictors.RobustDiscount` (default: over the
    harmonic mean of 5 samples, errors over 5 samples, as in Pensieve's ``test/mpc.py``); use
    :class:`MPC` for any other. Under the ``pensieve`` profile it reproduces ``mpc.py`` decision
    for decision (the error history then carries across sessions: ``carry_robust_errors``).
    """

    predictor: Predictor = field(default_factory=lambda: RobustDiscount(HarmonicMean(5), 5))
    label: ClassVar[str] = "robustmpc"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.predictor, RobustDiscount):
            raise ParameterError("predictor", self.predictor.name, "must be a RobustDiscount (robust(...)); use 'mpc' for other predictors")


@dataclass(frozen=True)
class Festive(Controller):
    """FESTIVE (Jiang, Sekar, Zhang, "Improving Fairness, Efficiency, and Stability in HTTP-based
    Adaptive Video Streaming with FESTIVE", CoNEXT 2012), as Pensieve's emulation baseline
    (its modified dash.js ``AbrController.js``) defines it; the rule is in ``_kernels/festive.py``.

    Estimate: the time-weighted harmonic mean of the last ``window`` chunks' throughput, each
    download time floored at ``min_download_s``. Target: the highest rung <= ``p`` x estimate,
    approached one rung at a time; a step up from rung ``i`` needs more than
    ``up_delay_per_rung * i + up_delay_offset`` consecutive up signals, and any switch is taken
    only if its score ``stability_base ** (switches in the last switch_window chunks) + alpha x
    |b / min(estimate, b_ref) - 1|`` is lower than staying's. The first chunk is ``initial_rung``.
    """

    window: int = 5
    min_download_s: float = 0.1
    p: float = 0.85
    alpha: float = 12.0
    switch_window: int = 5
    up_delay_per_rung: float = 1.0
    up_delay_offset: float = 0.0
    initial_rung: int = 1
    stability_base: float = 2.0
    kernel_id: ClassVar[int] = L.CTRL_FESTIVE
    label: ClassVar[str] = "festive"

    def __post_init__(self) -> None:
        for name in ("window", "switch_window"):
            if integer(name, getattr(self, name), ge=1) > FESTIVE_MAX_WINDOW:
                raise ParameterError(name, getattr(self, name), f"must be an integer <= {FESTIVE_MAX_WINDOW}")
        number("min_download_s", self.min_download_s, gt=0)
        number("p", self.p, gt=0)
        number("alpha", self.alpha, ge=0)
        number("up_delay_per_rung", self.up_delay_per_rung, ge=0)
        number("up_delay_offset", self.up_delay_offset, ge=0)
        integer("initial_rung", self.initial_rung, ge=0)
        number("stability_base", self.stability_base, gt=0)

    def params(self) -> list[float]:
        return [
            float(self.window), self.min_download_s, self.p, self.alpha, float(self.switch_window),
            self.up_delay_per_rung, self.up_delay_offset, float(self.initial_rung), self.stability_base,
        ]


#: Name -> factory; the CLI and :func:`get_controller` resolve names here.

@dataclass(frozen=True)
class DashJs5(Controller):
    """dash.js 5.2.1's own ABR rule collection with its default settings (``dashjs5``).

    The lowest rung any active rule asks for: the ThroughputRule (safe throughput = average x
    ``safety``) or BOLA (dash.js 5's ``BolaRule``), DYNAMIC switching to BOLA from a buffer of
    ``switch_s`` and back below half of it; the InsufficientBufferRule (after ``ibr_ignore``
    segments: the lowest rung with at most ``stall_s`` buffered, else ``ibr_safety`` x average x
    buffer / segment); the SwitchHistoryRule (``history_size`` decisions, ``history_threshold``).
    The average is the ``predictor``'s: dash.js 5's throughput EWMA (``DualEwma.dashjs5()``
    without its safety factor, which this controller applies). Source lines:
    ``_kernels/dashjs_rules.py`` and docs/controllers.md. Under the ``dashjs`` player profile the
    player adds what dash.js does around the rules (startup, fast switching, abandonment).
    """

    predictor: Predictor = field(default_factory=lambda: DualEwma(3.0, 8.0, weight_per_s=1.5))
    safety: float = 0.9
    switch_s: float = 12.0
    ibr_safety: float = 0.7
    ibr_ignore: int = 2
    history_size: int = 8
    history_threshold: float = 0.075
    buffer_time_s: float = 18.0
    stall_s: float = 0.3
    bola: bool = True
    throughput: bool = True
    ibr: bool = True
    history: bool = True
    kernel_id: ClassVar[int] = L.CTRL_DASHJS5
    label: ClassVar[str] = "dashjs5"

    def __post_init__(self) -> None:
        from ._kernels.dashjs_rules import MAX_HISTORY

        object.__setattr__(self, "predictor", get_predictor(self.predictor))
        number("safety", self.safety, gt=0)
        number("switch_s", self.switch_s, ge=0)
        number("ibr_safety", self.ibr_safety, gt=0)
        integer("ibr_ignore", self.ibr_ignore, ge=0)
        if integer("history_size", self.history_size, ge=1) > MAX_HISTORY:
            raise ParameterError("history_size", self.history_size, f"must be <= {MAX_HISTORY}")
        number("history_threshold", self.history_threshold, ge=0)
        number("buffer_time_s", self.buffer_time_s, gt=0)
        number("stall_s", self.stall_s, ge=0)
        for key in ("bola", "throughput", "ibr", "history"):
            if not isinstance(getattr(self, key), (bool, np.bool_)):
                raise ParameterError(key, getattr(self, key), "must be true or false")
        if not (self.bola or self.throughput):
            raise ParameterError("bola", self.bola, "bola and throughput cannot both be off")

    def params(self) -> list[float]:
        from ._kernels import dashjs_rules as R

        p = [0.0] * R.N_PARAMS
        p[R.P_SAFETY] = self.safety
        p[R.P_SWITCH_S] = self.switch_s
        p[R.P_IBR_SAFETY] = self.ibr_safety
        p[R.P_IBR_IGNORE] = self.ibr_ignore
        p[R.P_HISTORY_SIZE] = self.history_size
        p[R.P_HISTORY_THRESHOLD] = self.history_threshold
        p[R.P_BUFFER_TIME_S] = self.buffer_time_s
        p[R.P_STALL_S] = self.stall_s
        p[R.P_BOLA_MIN_BUFFER_S] = 10.0
        p[R.P_BOLA_PER_LEVEL_S] = 2.0
        p[R.P_PLACEHOLDER_DECAY] = 0.99
        p[R.P_USE_BOLA] = float(self.bola)
        p[R.P_USE_THROUGHPUT] = float(self.throughput)
        p[R.P_USE_IBR] = float(self.ibr)
        p[R.P_USE_HISTORY] = float(self.history)
        return p

@dataclass(frozen=True)
class HlsJs(Controller):
    """hls.js 1.7.4's ABR (``AbrController.nextAutoLevel``) with its default settings (``hlsjs``).

    Its own bandwidth estimate, not a predictor's: the lower of two EWMAs of the fragments'
    download rates weighted by their download time, half-lives ``fast_half_life_s`` and
    ``slow_half_life_s`` (seconds of download), ``default_kbps`` until there is a sample. The
    next level is the highest whose bitrate is at most ``bw_factor`` (at or below the last
    loaded level) or ``bw_up_factor`` (above it) x the estimate and whose fetch time is below the
    buffer; failing that, allowing ``max_starvation_s`` (at most a fragment) of rebuffering; else
    the lowest. Until a fragment has loaded the choice is ``firstAutoLevel`` (factors 1, half the
    buffer + ``max_starvation_s``: with the default estimate, the highest level of at most 500
    kbit/s). ``bitrate_test`` is hls.js's ``startLevel: -1`` (not its default): the first fragment
    is a bitrate test at level 0 that does not count as loaded. ``processing_s`` and, for the
    first fragment, ``first_processing_s`` (transmuxer and SourceBuffer set-up) are added to a
    sample's download time (hls.js times a fragment to the end of its transmuxing); ``playlist_s`` is a media playlist's load time, counted once
    per level not yet loaded. With ``average_bitrate`` the levels announce ``AVERAGE-BANDWIDTH``
    (as abrkit's ``write_hls`` writes it: the video's bits over its duration), which hls.js
    compares instead of the peak once two fragments are buffered. Source lines:
    ``_kernels/hlsjs_rules.py``. The emergency
    abandonment is the ``hlsjs`` player profile's (:mod:`abrkit.hlsjs`).
    """

    fast_half_life_s: float = 3.0
    slow_half_life_s: float = 9.0
    default_kbps: float = 500.0
    bw_factor: float = 0.95
    bw_up_factor: float = 0.7
    max_starvation_s: float = 4.0
    max_loading_s: float = 4.0
    default_ttfb_s: float = 0.1
    playlist_s: float = 0.0
    processing_s: float = 0.0
    first_processing_s: float = 0.0
    bitrate_test: bool = False
    average_bitrate: bool = True
    kernel_id: ClassVar[int] = L.CTRL_HLSJS
    label: ClassVar[str] = "hlsjs"

    def __post_init__(self) -> None:
        for key in ("fast_half_life_s", "slow_half_life_s", "default_kbps", "bw_factor", "bw_up_factor"):
            number(key, getattr(self, key), gt=0)
        for key in ("max_starvation_s", "max_loading_s", "default_ttfb_s", "playlist_s", "processing_s", "first_processing_s"):
            number(key, getattr(self, key), ge=0)
        for key in ("bitrate_test", "average_bitrate"):
            if not isinstance(getattr(self, key), (bool, np.bool_)):
                raise ParameterError(key, getattr(self, key), "must be true or false")

    def params(self) -> list[float]:
        from ._kernels import hlsjs_rules as R

        p = [0.0] * R.N_PARAMS
        p[R.P_FAST_HALF_LIFE_S] = self.fast_half_life_s
        p[R.P_SLOW_HALF_LIFE_S] = self.slow_half_life_s
        p[R.P_DEFAULT_BPS] = self.default_kbps * 1000.0
        p[R.P_BW_FACTOR] = self.bw_factor
        p[R.P_BW_UP_FACTOR] = self.bw_up_factor
        p[R.P_MAX_STARVATION_S] = self.max_starvation_s
        p[R.P_MAX_LOADING_S] = self.max_loading_s
        p[R.P_DEFAULT_TTFB_S] = self.default_ttfb_s
        p[R.P_MIN_WEIGHT] = 0.001
        p[R.P_MIN_DELAY_S] = 0.05
        p[R.P_PLAYLIST_S] = self.playlist_s
        p[R.P_PROCESSING_S] = self.processing_s
        p[R.P_BITRATE_TEST] = float(self.bitrate_test)
        p[R.P_AVERAGE] = float(self.average_bitrate)
        p[R.P_FIRST_PROCESSING_S] = self.first_processing_s
        return p


CONTROLLERS: dict[str, Callable[..., Controller]] = {
    "bb": BufferBased,
    "bba0": BBA0,
    "bba1": BBA1,
    "rate": RateBased,
    "fixed": FixedRung,
    "mpc": MPC,
    "robustmpc": RobustMPC,
    "festive": Festive,
    "pensieve": Pensieve,
    "learned": Learned,
    "dashjs5": DashJs5,
    "hlsjs": HlsJs,
    **EVENT_CONTROLLERS,
    **LIVE_CONTROLLERS,
}


def get_controller(spec: str | Controller, **params: Any) -> Controller:
    """Resolve ``"bb"``, ``"rate:safety=0.8,predictor=harmonic(window=3)"`` or a Controller instance."""
    if isinstance(spec, Controller):
        if params:
            raise ParameterError("params", params, "cannot be combined with a Controller instance")
        return spec
    if not isinstance(spec, str):
        raise ParameterError("controller", spec, "must be a controller name or a Controller instance")
    name, raw = parse_spec(spec, "controller")
    for key, value in raw.items():
        if key == "predictor":
            params[key] = get_predictor(value)
        elif key == "path":  # a file name stays text ("a/b.npz" is not the tuple syntax "1/2")
            params[key] = value.strip()
        else:
            params[key] = parse_value(value)
    return build(CONTROLLERS, name, params, "controller", spec)
