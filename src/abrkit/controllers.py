"""Public controller specifications and the registry used by the CLI.

A controller is a frozen, validated dataclass. ``pack()`` turns it into the integer id and
float64 parameter vector that the compiled session loop dispatches on, so every built-in
controller runs inside the same Numba loop with no Python call per chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable, ClassVar

import numpy as np

from ._checks import integer, number
from ._kernels import layout as L
from .errors import ParameterError

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

    @property
    def name(self) -> str:
        """Short label with the non-default parameters, e.g. ``rate(safety=0.8)``."""
        changed = [
            f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if getattr(self, f.name) != f.default
        ]
        return f"{self.label}({', '.join(changed)})" if changed else self.label

    def settings(self) -> dict[str, Any]:
        return {"controller": self.label, **{f.name: getattr(self, f.name) for f in fields(self)}}


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
    """Rate-based rule: the highest rung whose bitrate is <= ``safety`` x the harmonic mean of
    the last ``window`` throughput samples. Chunk 0, with no sample yet, gets rung 0."""

    window: int = 5
    safety: float = 0.9
    kernel_id: ClassVar[int] = L.CTRL_RATE
    label: ClassVar[str] = "rate"

    def __post_init__(self) -> None:
        integer("window", self.window, ge=1)
        number("safety", self.safety, gt=0)

    def params(self) -> list[float]:
        return [float(self.window), self.safety]


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
    """Resolve ``"bb"``, ``"rate:safety=0.8,window=3"`` or a Controller instance."""
    if isinstance(spec, Controller):
        if params:
            raise ParameterError("params", params, "cannot be combined with a Controller instance")
        return spec
    if not isinstance(spec, str):
        raise ParameterError("controller", spec, "must be a controller name or a Controller instance")
    name, _, arg_text = spec.partition(":")
    name = name.strip().lower()
    if name not in CONTROLLERS:
        raise ParameterError("controller", spec, f"unknown controller; known: {', '.join(sorted(CONTROLLERS))}")
    for item in filter(None, (a.strip() for a in arg_text.split(","))):
        key, eq, raw = item.partition("=")
        if not eq:
            raise ParameterError("controller", spec, f"parameter {item!r} must look like name=value")
        params[key.strip()] = _parse_value(raw.strip())
    try:
        return CONTROLLERS[name](**params)
    except TypeError as exc:
        valid = [f.name for f in fields(CONTROLLERS[name])]  # type: ignore[arg-type]
        raise ParameterError("controller", spec, f"{exc}; parameters of {name!r}: {', '.join(valid)}") from None


def _parse_value(raw: str) -> Any:
    for conv in (int, float):
        try:
            return conv(raw)
        except ValueError:
            pass
    return raw
