"""Controllers of the event player model: BOLA, BOLA-E, the throughput rule, DYNAMIC.

These rules decide more than a rung: BOLA may ask the player to wait, and BOLA-E, the
throughput rule and DYNAMIC watch a download in progress and may abandon it. They therefore
run in the event model (``_kernels/event.py``, Sabre's player), selected by an event-model
profile (``sabre`` or ``event``, see :mod:`abrkit.event`); each spec packs into that kernel's
config vector. Times are seconds in the specs and milliseconds in the kernel.

Sabre command-line flags map to parameters as follows (``sabre.py -a ABR FLAGS``):

=====================  ===============================================================
Sabre flag             abrkit
=====================  ===============================================================
``-a bola``            ``bola``            ``-ab`` -> ``basic=true``
``-a bolae``           ``bolae``           ``-noibr`` -> ``ibr=false``
``-a throughput``      ``throughput``
``-a dynamic``         ``dynamic``
``-a dynamicdash``     ``dynamicdash``     (``dashjs``: dash.js 5's DYNAMIC; ``dashjs4``: the earlier)
``-ao``                ``osc=true`` (BOLA-O; the default ``osc=false`` is BOLA-U)
``-gp G``              ``gamma_p_s=G``
``-noa``               ``abandon=false``
``-ma sliding``        ``predictor=sabre-window``; ``-ws 3 5`` -> ``sabre-window(windows=3/5)``
``-hl 3 8``            ``predictor=sabre-ewma(half_lives_s=3/8)`` (the default)
``-b 25``              profile field ``buffer_cap_s``; ``-r left`` -> profile ``replacement``
``-rmp Q``             profile field ``rampup_quality``
=====================  ===============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ._checks import integer, number
from ._kernels import event_layout as E
from ._kernels import layout as L
from .controller_spec import Controller
from .errors import ParameterError
from .predictors import Predictor, SabreEwma, SlidingWindow, get_predictor

__all__ = [
    "EventController", "Bola", "BolaE", "ThroughputRule", "Dynamic", "DynamicDash", "DashJsDynamic", "DashJs4Dynamic",
    "FixedQuality", "EVENT_CONTROLLERS",
]


def _sabre_history() -> Predictor:
    return SabreEwma(half_lives_s=(3.0, 8.0))


def sabre_constants(cfg: np.ndarray) -> None:
    """Sabre's constants in the event config vector, so every rule a controller combines starts
    from them (and the player's own set-up, which computes BOLA's V, is well defined)."""
    _ThroughputParams()._configure_throughput(cfg)
    _BolaEParams()._configure_bolae(cfg)
    cfg[E.C_GAMMA_P] = _BolaParams.gamma_p_s
    cfg[E.C_DYNAMIC_LOW_MS] = 10000.0
    cfg[E.C_DASH_LOW_MS] = 5000.0
    cfg[E.C_DASH_HIGH_MS] = 10000.0


def sabre_history() -> tuple[np.ndarray, np.ndarray]:
    """(window sizes, half-lives in ms) of Sabre's default throughput history (3 s and 8 s)."""
    return np.array([3], dtype=np.int64), np.array([3000.0, 8000.0])


@dataclass(frozen=True)
class EventController(Controller):
    """Base of the event-model controllers.

    ``predictor`` is the throughput history the player keeps (Sabre: ``sabre-ewma`` with
    half-lives 3 s and 8 s, or ``sabre-window``); ``abandon`` lets the controller abandon a
    download in progress (Sabre's ``-noa`` turns it off).
    """

    event_id: ClassVar[int]
    kernel_id: ClassVar[int] = -1
    predictor: Predictor = field(default_factory=_sabre_history)
    abandon: bool = True

    def __post_init__(self) -> None:
        pred = get_predictor(self.predictor)
        if not isinstance(pred, (SabreEwma, SlidingWindow)):
            raise ParameterError(
                "predictor", pred.name, "event-model controllers keep Sabre's history: use sabre-ewma or sabre-window"
            )
        object.__setattr__(self, "predictor", pred)
        if not isinstance(self.abandon, (bool, np.bool_)):
            raise ParameterError("abandon", self.abandon, "must be true or false")

    def params(self) -> list[float]:
        return []

    def pack(self) -> tuple[int, np.ndarray]:
        """For the chunk model, with Sabre's 25 s buffer (see :meth:`pack_for`)."""
        return self.pack_for(25.0)

    def pack_for(self, buffer_cap_s: float) -> tuple[int, np.ndarray]:
        """(``CTRL_SABRE``, the event config vector padded to ``CTRL_PARAMS``): how the chunk
        model runs this rule, with BOLA's V derived from a ``buffer_cap_s`` buffer. The chunk
        model has no download in progress to watch: ``abandon`` has no effect there."""
        cfg = np.zeros(L.CTRL_PARAMS)
        cfg[E.C_BUFFER_MS] = round(buffer_cap_s * 1000, 9)
        self.event_config(cfg)
        cfg[L.CPARAM_ID] = L.CTRL_SABRE
        return L.CTRL_SABRE, cfg

    def event_config(self, cfg: np.ndarray) -> None:
        """Write this controller's entries of the event kernel's config vector (``C_*``)."""
        sabre_constants(cfg)
        cfg[E.C_ABR] = self.event_id
        cfg[E.C_ABANDON] = float(self.abandon)
        if isinstance(self.predictor, SlidingWindow):
            cfg[E.C_AVERAGE] = E.AVG_SLIDING
        else:
            cfg[E.C_AVERAGE] = E.AVG_EWMA
        self._configure(cfg)

    def _configure(self, cfg: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def history_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(window sizes, half-lives in ms) for the kernel's throughput history."""
        if isinstance(self.predictor, SlidingWindow):
            return np.array(self.predictor.windows, dtype=np.int64), np.array([3000.0, 8000.0])
        assert isinstance(self.predictor, SabreEwma)
        return np.array([3], dtype=np.int64), np.array([h * 1000 for h in self.predictor.half_lives_s], dtype=np.float64)


@dataclass(frozen=True)
class _BolaParams:
    gamma_p_s: float = 5.0
    osc: bool = False

    def _check_bola(self) -> None:
        number("gamma_p_s", self.gamma_p_s, gt=0)
        if not isinstance(self.osc, (bool, np.bool_)):
            raise ParameterError("osc", self.osc, "must be true (BOLA-O) or false (BOLA-U)")


@dataclass(frozen=True)
class _ThroughputParams:
    safety: float = 0.9
    ibr: bool = True
    ibr_safety_init: float = 0.9
    ibr_safety_min: float = 0.5
    abandon_multiplier: float = 1.8
    abandon_grace_s: float = 0.5

    def _check_throughput(self) -> None:
        number("safety", self.safety, gt=0, le=1)
        number("ibr_safety_init", self.ibr_safety_init, gt=0, le=1)
        number("ibr_safety_min", self.ibr_safety_min, gt=0, le=1)
        number("abandon_multiplier", self.abandon_multiplier, gt=0)
        number("abandon_grace_s", self.abandon_grace_s, ge=0)
        if not isinstance(self.ibr, (bool, np.bool_)):
            raise ParameterError("ibr", self.ibr, "must be true or false")

    def _configure_throughput(self, cfg: np.ndarray) -> None:
        cfg[E.C_SAFETY] = self.safety
        cfg[E.C_NO_IBR] = float(not self.ibr)
        cfg[E.C_IBR_SAFETY_INIT] = self.ibr_safety_init
        cfg[E.C_IBR_SAFETY_MIN] = self.ibr_safety_min
        cfg[E.C_ABANDON_MULTIPLIER] = self.abandon_multiplier
        cfg[E.C_ABANDON_GRACE_MS] = self.abandon_grace_s * 1000


@dataclass(frozen=True)
class _BolaEParams:
    """BOLA-E's buffer set-up and the dash.js version switches of its buffer score.

    ``score_shift`` is added to the utility in the score BOLA-E chooses a rung by,
    ``(V (u + score_shift + gamma_p) - buffer) / b``: 0 for Sabre and dash.js 4, -1 for dash.js 5
    (every switch point V lower). ``ties_up`` gives a tie in that score to the higher rung
    (dash.js) instead of the lower (Sabre). ``buffer_time_s`` > 0 replaces the player's buffer in
    ``gamma_p`` and ``V`` (dash.js's ``bufferTimeDefault``); 0 keeps Sabre's (the profile's
    ``buffer_cap_s``).
    """

    min_buffer_s: float = 10.0
    min_buffer_per_level_s: float = 2.0
    score_shift: float = 0.0
    ties_up: bool = False
    buffer_time_s: float = 0.0

    def _check_bolae(self) -> None:
        number("min_buffer_s", self.min_buffer_s, gt=0)
        number("min_buffer_per_level_s", self.min_buffer_per_level_s, ge=0)
        number("score_shift", self.score_shift)
        number("buffer_time_s", self.buffer_time_s, ge=0)
        if not isinstance(self.ties_up, (bool, np.bool_)):
            raise ParameterError("ties_up", self.ties_up, "must be true (ties go to the higher rung) or false")

    def _configure_bolae(self, cfg: np.ndarray) -> None:
        cfg[E.C_BOLAE_MIN_BUFFER_MS] = self.min_buffer_s * 1000
        cfg[E.C_BOLAE_MIN_BUFFER_PER_LEVEL_MS] = self.min_buffer_per_level_s * 1000
        cfg[E.C_BOLA_SCORE_SHIFT] = float(self.score_shift)
        cfg[E.C_BOLA_TIES_UP] = float(self.ties_up)
        cfg[E.C_BOLAE_BUFFER_TIME_MS] = round(self.buffer_time_s * 1000, 9)


@dataclass(frozen=True)
class Bola(_BolaParams, EventController):
    """BOLA (Spiteri, Urgaonkar, Sitaraman, "BOLA: Near-Optimal Bitrate Adaptation for Online
    Videos", INFOCOM 2016), as Sabre implements it.

    Utilities ``ln(b / b_0)``; ``V = (buffer - segment) / (u_max + gamma_p)``, with the buffer
    shrunk near the start and end of the video unless ``basic``. Chooses
    ``argmax (V (u + gamma_p) - buffer) / b``; a step up beyond the throughput rule's rung is
    limited to one rung above it (BOLA-U, ``osc=false``) or to it with a wait (BOLA-O, ``osc=true``).
    Abandons a download when a lower rung scores better on the bits left (not in BOLA-BASIC).
    """

    basic: bool = False
    event_id: ClassVar[int] = E.EV_BOLA
    label: ClassVar[str] = "bola"

    def __post_init__(self) -> None:
        EventController.__post_init__(self)
        self._check_bola()
        if not isinstance(self.basic, (bool, np.bool_)):
            raise ParameterError("basic", self.basic, "must be true or false")

    def _configure(self, cfg: np.ndarray) -> None:
        cfg[E.C_GAMMA_P] = self.gamma_p_s
        cfg[E.C_OSC] = float(self.osc)
        cfg[E.C_BASIC] = float(self.basic)


@dataclass(frozen=True)
class BolaE(_BolaEParams, _ThroughputParams, _BolaParams, EventController):
    """BOLA-E (Spiteri, Sitaraman, Sparacio, "From Theory to Practice: Improving Bitrate
    Adaptation in the DASH Reference Player", MMSys 2018), Sabre's ``bolae``.

    Utilities ``1 + ln(b / b_0)``; ``gamma_p`` and ``V`` derived from a buffer of at least
    ``min_buffer_s + min_buffer_per_level_s x rungs``. Starts on the throughput rule, then
    BOLA on buffer + a *placeholder* (virtual buffer that absorbs waits and startup), with the
    insufficient-buffer rule (``ibr``) and abandonment judged after a fresh request's latency.
    With ``ibr=false`` it uses ``gamma_p_s - 1`` and BOLA's V instead. ``safety`` is unused by
    BOLA-E itself (it is the throughput rule's, in DYNAMIC). ``score_shift=-1, ties_up=true,
    buffer_time_s=18, osc=true, abandon=false`` is dash.js 5's BOLA (see :class:`DashJsDynamic`).
    """

    event_id: ClassVar[int] = E.EV_BOLAE
    label: ClassVar[str] = "bolae"

    def __post_init__(self) -> None:
        EventController.__post_init__(self)
        self._check_bola()
        self._check_throughput()
        self._check_bolae()

    def _configure(self, cfg: np.ndarray) -> None:
        cfg[E.C_GAMMA_P] = self.gamma_p_s
        cfg[E.C_OSC] = float(self.osc)
        self._configure_throughput(cfg)
        self._configure_bolae(cfg)


@dataclass(frozen=True)
class ThroughputRule(_ThroughputParams, EventController):
    """dash.js's throughput rule as Sabre implements it: the highest rung whose segment, after
    the estimated latency, downloads within one segment time at ``safety`` x the estimate;
    the insufficient-buffer rule (``ibr``) caps it by what the buffer can cover; a download
    whose projected time exceeds ``abandon_multiplier`` segments (after ``abandon_grace_s``)
    is abandoned for the rung the measured rate supports."""

    event_id: ClassVar[int] = E.EV_THROUGHPUT
    label: ClassVar[str] = "throughput"

    def __post_init__(self) -> None:
        EventController.__post_init__(self)
        self._check_throughput()

    def _configure(self, cfg: np.ndarray) -> None:
        self._configure_throughput(cfg)


@dataclass(frozen=True)
class Dynamic(_ThroughputParams, _BolaParams, EventController):
    """Sabre's ``dynamic``: BOLA and the throughput rule both decide every segment; BOLA is used
    from a buffer above ``low_buffer_s`` when it picks at least the throughput rung, and left
    below it when it picks less. Abandonment is always the throughput rule's (as in Sabre)."""

    low_buffer_s: float = 10.0
    basic: bool = False
    event_id: ClassVar[int] = E.EV_DYNAMIC
    label: ClassVar[str] = "dynamic"

    def __post_init__(self) -> None:
        EventController.__post_init__(self)
        self._check_bola()
        self._check_throughput()
        number("low_buffer_s", self.low_buffer_s, ge=0)

    def _configure(self, cfg: np.ndarray) -> None:
        cfg[E.C_GAMMA_P] = self.gamma_p_s
        cfg[E.C_OSC] = float(self.osc)
        cfg[E.C_BASIC] = float(self.basic)
        cfg[E.C_DYNAMIC_LOW_MS] = self.low_buffer_s * 1000
        self._configure_throughput(cfg)


@dataclass(frozen=True)
class DynamicDash(_BolaEParams, _ThroughputParams, _BolaParams, EventController):
    """Sabre's ``dynamicdash``: BOLA-E above ``high_s`` of buffer, the throughput rule below
    ``low_s`` (hysteresis in between); each one's abandonment while it is in charge."""

    low_s: float = 5.0
    high_s: float = 10.0
    inclusive: bool = False
    event_id: ClassVar[int] = E.EV_DYNAMICDASH
    label: ClassVar[str] = "dynamicdash"

    def __post_init__(self) -> None:
        EventController.__post_init__(self)
        self._check_bola()
        self._check_throughput()
        self._check_bolae()
        number("low_s", self.low_s, ge=0)
        number("high_s", self.high_s, ge=self.low_s)

    def _configure(self, cfg: np.ndarray) -> None:
        cfg[E.C_GAMMA_P] = self.gamma_p_s
        cfg[E.C_OSC] = float(self.osc)
        cfg[E.C_DASH_LOW_MS] = self.low_s * 1000
        cfg[E.C_DASH_HIGH_MS] = self.high_s * 1000
        cfg[E.C_DASH_INCLUSIVE] = float(self.inclusive)
        self._configure_throughput(cfg)
        self._configure_bolae(cfg)


@dataclass(frozen=True)
class DashJsDynamic(DynamicDash):
    """dash.js 5's DYNAMIC strategy (``dashjs``): BOLA-E once the buffer reaches ``high_s`` (18 s,
    the stable buffer time of long-form content), the throughput rule again below ``low_s`` (9 s,
    half of it).

    Its BOLA-E is dash.js 5's (``src/streaming/rules/abr/BolaRule.js``): rungs scored by
    ``V (u - 1 + gamma_p)`` (``score_shift=-1``, :313) with ties to the higher rung (``>=``,
    :314), ``gamma_p`` and ``V`` from ``bufferTimeDefault`` = 18 s (``buffer_time_s``, :221, 257;
    ``Settings.js``), and the BOLA-O step up (``osc=true``, :522-529: at most to the throughput
    rung or the last rung). The pause and the placeholder keep Sabre's ``V (u + gamma_p)`` forms,
    which dash.js 5 did not change. :class:`DashJs4Dynamic` is the earlier preset.

    ``abandon`` is off by default: dash.js 5 abandons only through its throughput rule
    (``AbandonRequestsRule``; ``BolaRule.js`` has no abandonment), while the event model's
    BOLA-E abandons by Sabre's rule, scored ``V (u + gamma_p)``. Against the 5.x choice that rule
    abandons nearly every request BOLA-E makes (Sabre's 4G traces, BBB 4K: 1859 abandonments
    per session against 3.4 for ``dashjs4``), a behaviour dash.js never shows.
    """

    abandon: bool = False
    low_s: float = 9.0
    high_s: float = 18.0
    inclusive: bool = True
    osc: bool = True
    score_shift: float = -1.0
    ties_up: bool = True
    buffer_time_s: float = 18.0
    label: ClassVar[str] = "dashjs"


@dataclass(frozen=True)
class DashJs4Dynamic(DashJsDynamic):
    """``dashjs4``: the hybrid as abrkit modelled dash.js before dash.js 5 (its ``dashjs`` until
    then, kept bit for bit): the 18 s / 9 s thresholds with Sabre's BOLA-E unchanged, i.e. the
    score ``V (u + gamma_p)`` of dash.js 4.x (v4.7.4 BolaRule.js:194), Sabre's ties and BOLA-U
    step, Sabre's BOLA-E abandonment, and ``gamma_p`` / ``V`` from the player's buffer. dash.js 4
    itself broke ties upwards, stepped as BOLA-O, used ``stableBufferTime`` = 12 s and abandoned
    only through its throughput rule: ``dashjs4:ties_up=true,osc=true,buffer_time_s=12``, less
    the abandonment.
    """

    abandon: bool = True
    osc: bool = False
    score_shift: float = 0.0
    ties_up: bool = False
    buffer_time_s: float = 0.0
    label: ClassVar[str] = "dashjs4"


@dataclass(frozen=True)
class FixedQuality(EventController):
    """Always the same quality (clipped to the ladder), in the event model; never abandons."""

    rung: int = 0
    abandon: bool = False
    event_id: ClassVar[int] = E.EV_FIXED
    label: ClassVar[str] = "fixed"

    def __post_init__(self) -> None:
        EventController.__post_init__(self)
        integer("rung", self.rung, ge=0)

    def _configure(self, cfg: np.ndarray) -> None:
        cfg[E.C_FIXED_QUALITY] = self.rung


EVENT_CONTROLLERS: dict[str, Any] = {
    "bola": Bola,
    "bolae": BolaE,
    "throughput": ThroughputRule,
    "dynamic": Dynamic,
    "dynamicdash": DynamicDash,
    "dashjs": DashJsDynamic,
    "dashjs4": DashJs4Dynamic,
}
"""Sabre's rules by name; :data:`abrkit.controllers.CONTROLLERS` includes them."""
