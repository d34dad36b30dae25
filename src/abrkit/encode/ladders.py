"""Fixed reference ladders, as data: what a per-title ladder is compared against.

* ``"apple-hls-h264"`` (:data:`APPLE_HLS_H264`): the H.264 ladder of Apple's HLS authoring
  specification for Apple devices: 145 kb/s at 416x234, 365 at 480x270, 730 at 640x360, 1100
  at 768x432, 2000 at 960x540, 3000 at 1280x720, then 4500, 6000 and 7800 kb/s at the source
  resolution (1920x1080 in the specification, whose reference content is 1080p).
* ``"netflix-2015"`` (:data:`NETFLIX_2015`): the fixed ladder Netflix used before per-title
  encoding (Netflix Technology Blog, "Per-Title Encode Optimization", December 2015): 235 kb/s
  at 320x240, 375 at 384x288, 560 and 750 at 512x384, 1050 at 640x480, 1750 at 720x480, 2350
  and 3000 at 1280x720, 4300 and 5800 at 1920x1080.

:data:`FIXED_LADDERS` maps these names to the ladders.

Fitting a ladder to a source (:meth:`FixedLadder.resolve`): encoders never upscale, so

1. a ``"source"`` rung takes the source's width and height (each rounded down to even, which
   4:2:0 encoders need);
2. a rung whose frame fits inside the source (``width <= source width`` and ``height <= source
   height``) keeps its published frame size, so the comparison uses exactly the published
   encodes (its aspect ratio may differ from the source's, as in Netflix's 4:3 frame sizes for
   16:9 titles; quality is scored after scaling back to the display resolution anyway);
3. a rung larger than the source in either dimension is, by default (``above_source="clamp"``),
   shrunk to fit inside the source keeping its own aspect ratio (scale factor
   ``min(source_w / w, source_h / h)``), each dimension rounded down to an even number (at
   least 2), keeping its bitrate; with ``above_source="drop"`` it is removed instead.

Bitrates are in kbps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .._checks import integer, number
from ..errors import ParameterError

if TYPE_CHECKING:  # pandas is imported lazily
    import pandas as pd

__all__ = ["SOURCE", "LadderRung", "FixedLadder", "APPLE_HLS_H264", "NETFLIX_2015", "FIXED_LADDERS"]

#: The marker for "the source's own resolution" in :class:`LadderRung`.
SOURCE = "source"

Dimension = int | Literal["source"]


@dataclass(frozen=True)
class LadderRung:
    """One rung of a fixed ladder.

    Parameters
    ----------
    bitrate_kbps : float
        Target bitrate in kilobits per second, finite and > 0.
    width, height : int or "source"
        Frame size in pixels (positive integers), or both ``"source"`` for the source's own
        resolution.
    """

    bitrate_kbps: float
    width: Dimension
    height: Dimension

    def __post_init__(self) -> None:
        object.__setattr__(self, "bitrate_kbps", number("bitrate_kbps", self.bitrate_kbps, gt=0))
        w_src, h_src = self.width == SOURCE, self.height == SOURCE
        if w_src != h_src:
            raise ParameterError(
                "width" if not w_src else "height",
                self.width if not w_src else self.height,
                "must be 'source' too: width and height are either both 'source' or both pixels",
            )
        if not w_src:
            object.__setattr__(self, "width", integer("width", self.width, ge=1))
            object.__setattr__(self, "height", integer("height", self.height, ge=1))

    @property
    def at_source(self) -> bool:
        """True when the rung is at the source's resolution (``width == height == "source"``)."""
        return self.width == SOURCE


@dataclass(frozen=True)
class FixedLadder:
    """A named fixed ladder: rungs in strictly increasing bitrate.

    Parameters
    ----------
    name : str
        Short identifier (the key in :data:`FIXED_LADDERS`).
    rungs : tuple of LadderRung
        At least one; bitrates strictly increasing.
    codec : str
        The codec the ladder was designed for (informational).
    reference : str
        Where the ladder comes from.
    """

    name: str
    rungs: tuple[LadderRung, ...]
    codec: str = "h264"
    reference: str = ""

    def __post_init__(self) -> None:
        rungs = tuple(self.rungs)
        if not rungs:
            raise ParameterError("rungs", self.rungs, "must hold at least one LadderRung")
        for k, rung in enumerate(rungs):
            if not isinstance(rung, LadderRung):
                raise ParameterError(f"rungs[{k}]", rung, "must be a LadderRung")
        for k in range(1, len(rungs)):
            if not rungs[k].bitrate_kbps > rungs[k - 1].bitrate_kbps:
                raise ParameterError(
                    f"rungs[{k}].bitrate_kbps",
                    rungs[k].bitrate_kbps,
                    f"must be above the previous rung's {rungs[k - 1].bitrate_kbps:g} (bitrates strictly increase)",
                )
        object.__setattr__(self, "rungs", rungs)

    @property
    def bitrates_kbps(self) -> tuple[float, ...]:
        """The rungs' bitrates in kbps, increasing."""
        return tuple(r.bitrate_kbps for r in self.rungs)

    @property
    def resolved(self) -> bool:
        """True when no rung is at ``"source"`` (every size is in pixels)."""
        return not any(r.at_source for r in self.rungs)

    def resolve(
        self, source_width: int, source_height: int, above_source: Literal["clamp", "drop"] = "clamp"
    ) -> "FixedLadder":
        """This ladder fitted to a source of ``source_width`` x ``source_height`` pixels.

        The rule (module docstring): ``"source"`` becomes the source size rounded down to even;
        rungs that fit inside the source keep their size; larger rungs are shrunk to fit,
        keeping their aspect ratio, with even dimensions (``above_source="clamp"``), or removed
        (``"drop"``).

        Returns
        -------
        FixedLadder
            Same name, codec and reference, every rung in pixels, bitrates unchanged.

        Raises
        ------
        ParameterError
            A source dimension below 2, an unknown ``above_source``, or (with ``"drop"``) no rung
            left.
        """
        sw = integer("source_width", source_width, ge=2)
        sh = integer("source_height", source_height, ge=2)
        if above_source not in ("clamp", "drop"):
            raise ParameterError("above_source", above_source, "must be 'clamp' or 'drop'")
        out = []
        for rung in self.rungs:
            if rung.at_source:
                out.append(LadderRung(rung.bitrate_kbps, _even(sw), _even(sh)))
                continue
            w, h = int(rung.width), int(rung.height)
            if w <= sw and h <= sh:
                out.append(rung)
            elif above_source == "clamp":
                scale = min(sw / w, sh / h)
                out.append(LadderRung(rung.bitrate_kbps, _even(w * scale), _even(h * scale)))
        if not out:
            raise ParameterError(
                "above_source",
                above_source,
                f"drops every rung of {self.name!r}: the source {sw}x{sh} is smaller than all",
            )
        return FixedLadder(self.name, tuple(out), self.codec, self.reference)

    def to_frame(self) -> "pd.DataFrame":
        """A DataFrame with columns ``bitrate_kbps``, ``width``, ``height`` (one row per rung).

        ``width`` and ``height`` hold ``"source"`` for unresolved source rungs; call
        :meth:`resolve` first for integer columns.
        """
        import pandas as pd

        return pd.DataFrame(
            {
                "bitrate_kbps": [r.bitrate_kbps for r in self.rungs],
                "width": [r.width for r in self.rungs],
                "height": [r.height for r in self.rungs],
            }
        )


def _even(value: float) -> int:
    """``value`` rounded down to an even integer, at least 2 (tolerating float fuzz)."""
    return max(2, 2 * int(math.floor(value / 2.0 + 1e-9)))


APPLE_HLS_H264 = FixedLadder(
    "apple-hls-h264",
    (
        LadderRung(145, 416, 234),
        LadderRung(365, 480, 270),
        LadderRung(730, 640, 360),
        LadderRung(1100, 768, 432),
        LadderRung(2000, 960, 540),
        LadderRung(3000, 1280, 720),
        LadderRung(4500, SOURCE, SOURCE),
        LadderRung(6000, SOURCE, SOURCE),
        LadderRung(7800, SOURCE, SOURCE),
    ),
    codec="h264",
    reference="Apple, HLS Authoring Specification for Apple Devices, H.264 bitrate ladder",
)

NETFLIX_2015 = FixedLadder(
    "netflix-2015",
    (
        LadderRung(235, 320, 240),
        LadderRung(375, 384, 288),
        LadderRung(560, 512, 384),
        LadderRung(750, 512, 384),
        LadderRung(1050, 640, 480),
        LadderRung(1750, 720, 480),
        LadderRung(2350, 1280, 720),
        LadderRung(3000, 1280, 720),
        LadderRung(4300, 1920, 1080),
        LadderRung(5800, 1920, 1080),
    ),
    codec="h264",
    reference="Netflix Technology Blog, 'Per-Title Encode Optimization' (2015), the fixed bitrate ladder",
)

#: The fixed reference ladders by name.
FIXED_LADDERS: dict[str, FixedLadder] = {ladder.name: ladder for ladder in (APPLE_HLS_H264, NETFLIX_2015)}
