"""The base of every controller specification: packing for the kernels, names, settings.

A controller is a frozen, validated dataclass. ``pack()`` turns it into the integer id and
float64 parameter vector that the compiled loops specialise on (``_kernels/contract.py``), so
every built-in controller runs inside the compiled loops with no Python call per chunk. The
families live in :mod:`abrkit.controllers` (chunk-model rules, FESTIVE) and
:mod:`abrkit.event_controllers` (Sabre's rules); :data:`abrkit.controllers.CONTROLLERS` is the
one registry of both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ._kernels import layout as L
from .predictors import Predictor, spec_name, spec_settings

__all__ = ["Controller"]


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
        p[L.CPARAM_ID] = self.kernel_id
        return self.kernel_id, p

    def pack_for(self, buffer_cap_s: float) -> tuple[int, np.ndarray]:
        """:meth:`pack` for a player whose buffer holds at most ``buffer_cap_s`` seconds (rules
        whose parameters derive from the buffer size, like Sabre's BOLA, need it)."""
        return self.pack()

    def predictor_spec(self) -> Predictor | None:
        """The throughput predictor this controller consults (None: it uses none)."""
        return getattr(self, "predictor", None)

    def pack_predictor(self) -> tuple[int, np.ndarray, int]:
        """(predictor id, parameter vector, state size) for the kernel; ``PRED_NONE`` if none."""
        pred = self.predictor_spec()
        if pred is None:
            return L.PRED_NONE, np.zeros(L.PRED_PARAMS, dtype=np.float64), 1
        return pred.pack()

    def pack_data(self, n_draws: int) -> np.ndarray:
        """The controller's own data for the kernels (float32, 1-D; ``groups.Controllers.data``):
        a learned controller's weights and, if it samples, ``n_draws`` precomputed draws (enough
        for every decision of the batch). Empty for the others."""
        return np.zeros(0, dtype=np.float32)

    def carries_state(self) -> bool:
        """True if the controller's data carries state from one session to the next (the
        batch then runs its sessions serially, in job order)."""
        return False

    def check_video(self, video: Any) -> None:
        """Raise :class:`~abrkit.errors.ParameterError` if the controller cannot play ``video``
        (a learned controller's network fixes the ladder size)."""

    @property
    def name(self) -> str:
        """Short label with the non-default parameters, e.g. ``rate(safety=0.8)``."""
        return spec_name(self)

    def settings(self) -> dict[str, Any]:
        return spec_settings(self, "controller")
