"""QoE models as data, scored from per-chunk logs.

A model is ``reward_k = u(chunk k) - rebuffer_weight * rebuffer_s_k
- switch_weight * |u(chunk k) - u(chunk k-1)|`` (no switch term for chunk 0), with the
utility ``u`` one of:

* ``"bitrate_mbps"`` — the rung's nominal bitrate in Mbps (Pensieve's linear QoE: weights 4.3, 1);
* ``"log"`` — ``ln(bitrate / lowest bitrate)`` (Pensieve's log QoE: weights 2.66, 1);
* ``"table"`` — a value per rung (Pensieve's HD reward: 1, 2, 3, 12, 15, 20; weights 8, 1);
* ``"quality"`` — the video's own per-chunk quality (e.g. VMAF).

Session totals sum the rewards, skipping chunk 0 when ``include_first_chunk`` is False (as
Pensieve's published totals do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._checks import number
from .errors import ParameterError
from .video import Video

__all__ = ["QoE", "QOE_MODELS", "get_qoe"]

_UTILITIES = ("bitrate_mbps", "log", "table", "quality")


@dataclass(frozen=True)
class QoE:
    """A QoE model (see the module docstring)."""

    name: str = "linear"
    utility: str = "bitrate_mbps"
    rebuffer_weight: float = 4.3
    switch_weight: float = 1.0
    table: tuple[float, ...] = field(default=())
    include_first_chunk: bool = True

    def __post_init__(self) -> None:
        if self.utility not in _UTILITIES:
            raise ParameterError("utility", self.utility, f"must be one of {', '.join(_UTILITIES)}")
        for key in ("rebuffer_weight", "switch_weight"):
            number(key, getattr(self, key), ge=0)
        if self.utility == "table":
            if not self.table:
                raise ParameterError("table", self.table, "a 'table' utility needs one value per rung")
            for i, v in enumerate(self.table):
                number(f"table[{i}]", v)
        object.__setattr__(self, "table", tuple(float(v) for v in self.table))

    # -- the published models ----------------------------------------------------------------
    @classmethod
    def linear(cls, rebuffer_weight: float = 4.3, switch_weight: float = 1.0, include_first_chunk: bool = True) -> "QoE":
        return cls("linear", "bitrate_mbps", rebuffer_weight, switch_weight, (), include_first_chunk)

    @classmethod
    def log(cls, rebuffer_weight: float = 2.66, switch_weight: float = 1.0, include_first_chunk: bool = True) -> "QoE":
        return cls("log", "log", rebuffer_weight, switch_weight, (), include_first_chunk)

    @classmethod
    def hd(
        cls, table: tuple[float, ...] = (1, 2, 3, 12, 15, 20), rebuffer_weight: float = 8.0,
        switch_weight: float = 1.0, include_first_chunk: bool = True,
    ) -> "QoE":
        return cls("hd", "table", rebuffer_weight, switch_weight, tuple(table), include_first_chunk)

    @classmethod
    def quality(cls, rebuffer_weight: float = 100.0, switch_weight: float = 1.0, include_first_chunk: bool = True) -> "QoE":
        """Utility = the video's per-chunk quality. The default rebuffer weight charges one
        second of stall like the whole 0-100 VMAF range, mirroring the linear model, where a
        second costs about as much as one chunk at the top of Pensieve's ladder."""
        return cls("quality", "quality", rebuffer_weight, switch_weight, (), include_first_chunk)

    def with_first_chunk(self, include: bool) -> "QoE":
        return QoE(self.name, self.utility, self.rebuffer_weight, self.switch_weight, self.table, include)

    # -- scoring ----------------------------------------------------------------------------------
    def utilities(self, video: Video, rungs: np.ndarray) -> np.ndarray:
        """Utility of each logged chunk. ``rungs``: int array (..., n_chunks), -1 for chunks not played."""
        rungs = np.asarray(rungs)
        played = rungs >= 0
        safe = np.where(played, rungs, 0)
        if self.utility == "bitrate_mbps":
            u = video.bitrates_bps[safe] / 1e6
        elif self.utility == "log":
            u = np.log(video.bitrates_bps[safe] / video.bitrates_bps[0])
        elif self.utility == "table":
            if len(self.table) != video.n_rungs:
                raise ParameterError("table", self.table, f"has {len(self.table)} values but the video has {video.n_rungs} rungs")
            u = np.asarray(self.table)[safe]
        else:
            if video.quality is None:
                raise ParameterError("qoe", self.name, f"needs per-chunk quality, which video {video.name!r} does not have")
            k = np.broadcast_to(np.arange(rungs.shape[-1]), rungs.shape)
            u = video.quality[k, safe]
        return np.where(played, u, np.nan)

    def rewards(self, video: Video, rungs: np.ndarray, rebuffer_s: np.ndarray) -> np.ndarray:
        """Per-chunk rewards, same shape as ``rungs`` (NaN for chunks not played)."""
        u = self.utilities(video, rungs)
        switch = np.zeros_like(u)
        switch[..., 1:] = np.abs(u[..., 1:] - u[..., :-1])
        return u - self.rebuffer_weight * np.asarray(rebuffer_s) - self.switch_weight * switch

    def total(self, rewards: np.ndarray) -> np.ndarray | float:
        """Session total of per-chunk rewards (last axis), honouring ``include_first_chunk``."""
        r = rewards if self.include_first_chunk else rewards[..., 1:]
        return np.nansum(r, axis=-1)

    def settings(self) -> dict[str, Any]:
        return {
            "qoe": self.name, "utility": self.utility, "rebuffer_weight": self.rebuffer_weight,
            "switch_weight": self.switch_weight, "table": list(self.table), "include_first_chunk": self.include_first_chunk,
        }


QOE_MODELS = {"linear": QoE.linear, "log": QoE.log, "hd": QoE.hd, "quality": QoE.quality}


def get_qoe(spec: str | QoE) -> QoE:
    if isinstance(spec, QoE):
        return spec
    try:
        return QOE_MODELS[str(spec).lower()]()
    except KeyError:
        raise ParameterError("qoe", spec, f"unknown QoE model; known: {', '.join(QOE_MODELS)}") from None
