"""Public controller specifications and the registry used by the CLI.

A controller is a frozen, validated dataclass. ``pack()`` turns it into the integer id and
float64 parameter vector that the compiled session loop dispatches on, so every built-in
controller runs inside the same Numba loop with no Python call per chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np

from ._checks import integer, number
from ._kernels import layout as L
from .errors import ParameterError
from .predictors import HarmonicMean, Predictor, build, get_predictor, parse_spec, parse_value, spec_name, spec_settings

__all__ = ["Controller", "BufferBased", "BBA0", "RateBased", "FixedRung", "CONTROLLERS", "get_controller"]


@dataclass(frozen=True)
class Controller:
    """Base class: subclasses set ``kernel_id`` and implement ``params()``."""

    kernel_id: ClassVar[int]
    label: ClassVar[str]

    def params(self) -> list[float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def pack(self) -> tuple[int, np.ndarray]:
        """(kernel id, parameter vector of length ``layout.CTRL_PARAMS``)."""
        p = np.zeros(L.CTRL_PARAMS, dtype=np.float64)
        values = self.params()
        p[: len(values)] = values
        return self.kernel_id, p

    def predictor_spec(self) -> Predictor | None:
        """The throughput predictor this controller consults (None: it uses none)."""
        return getattr(self, "predictor", None)

    def pack_predictor(self) -> tuple[int, np.ndarray, int]:
        """(predictor id, parameter vector, state size) for the kernel; ``PRED_NONE`` if none."""
        pred = self.predictor_spec()
        if pred is None:
            return L.PRED_NONE, np.zeros(L.PRED_PARAMS, dtype=np.float64), 1
        return pred.pack()

    @property
    def name(self) -> str:
        """Short label with the non-default parameters, e.g. ``rate(safety=0.8)``."""
        return spec_name(self)

    def settings(self) -> dict[str, Any]:
        return spec_settings(self, "controller")


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


#: Name -> factory; the CLI and :func:`get_controller` resolve names here.
CONTROLLERS: dict[str, Callable[..., Controller]] = {
    "bb": BufferBased,
    "bba0": BBA0,
    "rate": RateBased,
    "fixed": FixedRung,
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
        params[key] = get_predictor(value) if key == "predictor" else parse_value(value)
    return build(CONTROLLERS, name, params, "controller", spec)
