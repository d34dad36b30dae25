"""Low-latency controllers of dash.js: L2A-LL (``l2a``) and LoL+ (``lolp``).

Both run under every profile through the one controller contract; they are written for the live
profile (:mod:`abrkit.live`), whose loop gives them the current latency and playback rate (under
the chunk and event models they see latency 0 and rate 1). Followed from dash.js v5.1.1
(``L2ARule.js``; ``lolp/LoLpRule.js``, ``LearningAbrController.js``, ``LoLpWeightSelector.js``,
``LoLpQoEEvaluator.js``; ``CatchupController.js`` for LoL+'s rate); the kernels are in
``_kernels/live_rules.py``, where each departure from dash.js is stated.

Their throughput is dash.js 5's default history: an EWMA of the samples weighted by
``0.0015 x download ms`` with half-lives 3 s and 8 s, the lower of the two (``ThroughputModel.js``,
``ThroughputController.getEwma``), which is ``sabre-ewma`` with half-lives 2 s and 16/3 s
(Sabre weighs by download seconds: 3 / 1.5 and 8 / 1.5), scaled by ``safety`` (dash.js
``bandwidthSafetyFactor`` 0.9). Under the live profile its samples are chunk-based: the bytes over
the time they were flowing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from ._checks import integer, number
from ._kernels import layout as L
from ._kernels import live_rules as R
from .controller_spec import Controller
from .errors import ParameterError
from .predictors import Predictor, SabreEwma, get_predictor

__all__ = ["L2A", "LoLp", "dashjs_ewma", "LIVE_CONTROLLERS"]


def dashjs_ewma() -> Predictor:
    """dash.js 5's default throughput EWMA as abrkit's ``sabre-ewma`` (see the module docstring)."""
    return SabreEwma(half_lives_s=(2.0, 16.0 / 3.0))


@dataclass(frozen=True)
class L2A(Controller):
    """L2A-LL (Karagkioules et al., MMSys 2020; dash.js ``L2ARule.js``): online convex
    optimisation of a probability vector over the rungs, no throughput prediction in steady state
    (the last sample only). ``b_target_s`` (1.5) ends its start-up phase, which follows the
    throughput rule at ``safety`` x the estimate; ``horizon`` (4) and ``react`` (2) as in dash.js."""

    predictor: Predictor = field(default_factory=dashjs_ewma)
    safety: float = 0.9
    b_target_s: float = 1.5
    horizon: float = 4.0
    react: float = 2.0
    kernel_id: ClassVar[int] = L.CTRL_L2A
    label: ClassVar[str] = "l2a"

    def __post_init__(self) -> None:
        object.__setattr__(self, "predictor", get_predictor(self.predictor))
        number("safety", self.safety, gt=0, le=1)
        number("b_target_s", self.b_target_s, ge=0)
        number("horizon", self.horizon, gt=0)
        number("react", self.react, gt=0)

    def params(self) -> list[float]:
        p = [0.0] * 4
        p[R.L2A_P_B_TARGET_S] = self.b_target_s
        p[R.L2A_P_HORIZON] = self.horizon
        p[R.L2A_P_REACT] = self.react
        p[R.L2A_P_SAFETY] = self.safety
        return p


@dataclass(frozen=True)
class LoLp(Controller):
    """LoL+ (Bentaleb et al., IEEE TMM 2022; dash.js ``LoLpRule.js``): a self-organising map
    over the rungs, weights chosen by its QoE evaluator, and its own playback-rate control
    (``own_rate``: the hybrid buffer/latency rule of ``CatchupController``'s LoL+ mode).

    ``target_latency_s`` (1.5) and ``buffer_min_s`` (0.3) are its weight selector's
    ``DWS_TARGET_LATENCY`` and ``DWS_BUFFER_MIN``; ``seed`` draws its initial weights as dash.js
    does with ``Math.random`` (``initial_weights`` fixes them instead: throughput, latency,
    buffer, switch). At most 14 rungs."""

    predictor: Predictor = field(default_factory=dashjs_ewma)
    safety: float = 0.9
    target_latency_s: float = 1.5
    buffer_min_s: float = 0.3
    own_rate: bool = True
    seed: int = 0
    initial_weights: tuple[float, ...] | None = None
    kernel_id: ClassVar[int] = L.CTRL_LOLP
    label: ClassVar[str] = "lolp"

    def __post_init__(self) -> None:
        object.__setattr__(self, "predictor", get_predictor(self.predictor))
        number("safety", self.safety, gt=0, le=1)
        number("target_latency_s", self.target_latency_s, ge=0)
        number("buffer_min_s", self.buffer_min_s, ge=0)
        if not isinstance(self.own_rate, bool):
            raise ParameterError("own_rate", self.own_rate, "must be true or false")
        integer("seed", self.seed, ge=0)
        if self.seed >= 2**53:
            raise ParameterError("seed", self.seed, "must be < 2**53")
        if self.initial_weights is not None:
            w = tuple(float(x) for x in self.initial_weights)
            if len(w) != 4 or not all(math.isfinite(x) and x >= 0 for x in w):
                raise ParameterError("initial_weights", self.initial_weights, "must be four finite weights >= 0")
            object.__setattr__(self, "initial_weights", w)

    def params(self) -> list[float]:
        p = [0.0] * 13
        p[R.LOLP_P_SAFETY] = self.safety
        p[R.LOLP_P_TARGET_S] = self.target_latency_s
        p[R.LOLP_P_BUFFER_MIN_S] = self.buffer_min_s
        w = self.initial_weights or (math.nan,) * 4
        for i in range(4):
            p[R.LOLP_P_W0 + i] = w[i]
        p[R.LOLP_P_SIGMA] = 0.1
        p[R.LOLP_P_LEARNING] = 0.01
        p[R.LOLP_P_LATENCY_NORM] = 100.0
        p[R.LOLP_P_DELTA_BPS] = 10000.0
        p[R.LOLP_P_OWN_RATE] = float(self.own_rate)
        p[R.LOLP_P_SEED] = float(self.seed)
        return p

    def check_video(self, video) -> None:
        if video.n_rungs > R.LOLP_MAX_RUNGS:
            raise ParameterError("video", video.name, f"LoL+ keeps at most {R.LOLP_MAX_RUNGS} rungs in its state; "
                                 f"this ladder has {video.n_rungs}")


#: The live rules by name; :data:`abrkit.controllers.CONTROLLERS` includes them.
LIVE_CONTROLLERS = {"l2a": L2A, "lolp": LoLp}
