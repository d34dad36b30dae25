"""The ``hlsjs`` player profile: the dash.js player loop set up as the hls.js 1.7.4 player.

The smallest honest equivalent of a new player model: hls.js's scheduling differs from
dash.js's in its numbers (buffer target, tick, start level, playlists instead of init
segments, no buffer replacement), not in the shape of the loop, so :class:`HlsjsProfile` is a
:class:`~abrkit.dashjs.DashjsProfile` whose fields are hls.js's, run by the same compiled loop
(:mod:`abrkit._kernels.dashjs_player`). hls.js's own ABR is the ``hlsjs`` controller
(:class:`~abrkit.controllers.HlsJs`, its ``AbrController``; what ``abrkit emulate --compare``
pairs with this profile for hls.js); every controller of the registry runs under it. Sources: ``video-dev/hls.js`` v1.7.4, ``src/...``:

==============================  =========  =====================================================
field                           default    hls.js 1.7.4
==============================  =========  =====================================================
``buffer_cap_s``                30         ``maxBufferLength`` (``config.ts``): the buffer the
                                           controllers see; the loop's target is below
``max_buffer_bytes``            60e6       ``maxBufferSize``: the target at a level is
                                           ``min(max(8 x maxBufferSize / bitrate,
                                           maxBufferLength), maxMaxBufferLength)``
                                           (``base-stream-controller.ts getMaxBufferLength``)
``max_max_buffer_s``            600        ``maxMaxBufferLength``
``schedule_s``                  0.1        ``stream-controller.ts`` ``TICK_INTERVAL`` (100 ms):
                                           a full buffer is checked again at the next tick
``setup_s``                     0.03       measured: player set-up before the master playlist
``manifest_bytes``              760        the master playlist (one request; the test stream's)
``init_bytes``                  2000       a level's media playlist: requested before the
                                           level's first fragment, once (VoD playlists are
                                           kept, ``level-controller.ts``); MPEG-TS fragments
                                           have no init segment
``switch_s``                    0.0        a level change costs nothing besides that request
``append_s``                    0.01       measured: a download's end to the next request
``start_s``                     0.08       measured: first fragment loaded to playback start
``initial_kbps``                500        ``startLevel`` unset: the first fragment's level is
                                           ``firstAutoLevel`` (``level-controller.ts``), with
                                           nothing measured the highest level of at most
                                           ``abrEwmaDefaultEstimate`` (500 kbit/s; factors 1)
``first_processing_s``          0.085      measured: what the ``hlsjs`` controller adds to its first
                                           sample (its ``first_processing_s``, when left at 0):
                                           hls.js times a fragment to the end of its parsing,
                                           and the first one waits for the transmuxer and
                                           SourceBuffer set-up (fitted on the first decisions of
                                           three sessions at an 80 ms round trip)
``fast_switch``                 False      hls.js's automatic level switches
                                           (``nextLoadLevel``) never replace buffered fragments
``abandon``                     False      dash.js's AbandonRequestsRule is not hls.js's; hls.js's
                                           emergency abandonment (``abr-controller.ts
                                           _abandonRulesCheck``) is not modelled yet
==============================  =========  =====================================================

Inherited and unchanged: ``payload_efficiency`` (0.97, a property of the tc-shaped link, not of
the player), ``latency_s``, ``max_download_s``, ``qoe``. ``top_buffer_s``,
``top_buffer_long_s``, ``long_form_s``, ``hybrid_switch_s``, ``dashjs_rules`` and the
``abandon_*`` / ``overlap_stall_s`` fields keep their dash.js meaning for the ``dashjs``
controller and dash.js's abandonment, but the buffer targets here come from the three
``max_*`` fields above.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ._checks import number
from ._kernels import dashjs_layout as D
from .controllers import Controller, HlsJs
from .dashjs import DashjsProfile
from .video import Video

__all__ = ["HlsjsProfile", "buffer_target_s"]


def buffer_target_s(bitrate_bps: float, max_buffer_s: float, max_buffer_bytes: float, max_max_buffer_s: float) -> float:
    """hls.js's forward buffer target at a level of ``bitrate_bps`` (``getMaxBufferLength``), seconds."""
    return min(max(8.0 * max_buffer_bytes / bitrate_bps, max_buffer_s), max_max_buffer_s)


@dataclass(frozen=True)
class HlsjsProfile(DashjsProfile):
    """The hls.js 1.7.4 player (see the module docstring for every field)."""

    name: str = "hlsjs"
    buffer_cap_s: float = 30.0
    max_buffer_bytes: float = 60e6
    max_max_buffer_s: float = 600.0
    schedule_s: float = 0.1
    setup_s: float = 0.03
    manifest_bytes: float = 760.0
    init_bytes: float = 2000.0
    switch_s: float = 0.0
    append_s: float = 0.01
    start_s: float = 0.08
    initial_kbps: float = 500.0
    first_processing_s: float = 0.085
    fast_switch: bool = False
    abandon: bool = False

    def __post_init__(self) -> None:
        DashjsProfile.__post_init__(self)
        number("max_buffer_bytes", self.max_buffer_bytes, gt=0)
        number("max_max_buffer_s", self.max_max_buffer_s, gt=0)
        number("first_processing_s", self.first_processing_s, ge=0)

    def replace(self, **changes: Any) -> "HlsjsProfile":
        return replace(self, **changes)

    def controller_for(self, c: Controller) -> Controller:
        """``c`` as this player runs it: the ``hlsjs`` controller with this player's measured
        ``first_processing_s`` unless it sets its own; the others as the dash.js player runs them."""
        if isinstance(c, HlsJs) and c.first_processing_s == 0.0:
            return replace(c, first_processing_s=self.first_processing_s)
        return super().controller_for(c)

    def player_config(self, video: Video) -> np.ndarray:
        """The loop's config: dash.js's fields, with hls.js's buffer targets (the target below
        the top rung is the one at the rung just below it, the lowest of those rungs' targets:
        the loop has one target below the top and one at it) and a media playlist once per level."""
        cfg = super().player_config(video)
        rates = np.asarray(video.bitrates_bps, dtype=np.float64)
        at = lambda b: buffer_target_s(b, self.buffer_cap_s, self.max_buffer_bytes, self.max_max_buffer_s)  # noqa: E731
        cfg[D.D_TOP_BUFFER_MS] = at(rates[-1]) * 1000.0
        cfg[D.D_BUFFER_MS] = at(rates[-2] if rates.size > 1 else rates[-1]) * 1000.0
        cfg[D.D_INIT_EVERY_SWITCH] = 0.0
        return cfg
