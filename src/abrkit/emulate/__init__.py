"""Real players over trace-shaped links: ``abrkit emulate``.

abrkit's packaged streams (``abrkit ladder --renditions``) played by dash.js 5.2.1 or hls.js 1.7.4
(pinned from npm, :mod:`.players`) in headless Chromium (:mod:`.cdp`), served by a small HTTP
server (:mod:`.server`) over a link that follows a trace in real time (:mod:`.link`: ``tc tbf``
in a network namespace, or pacing in the server), recorded from the players' own events
(:mod:`.page`) as the same session and chunk tables as ``abrkit simulate`` (:mod:`.records`), and
compared with the simulator (:mod:`.compare`). :mod:`.content` makes a test stream. Units:
seconds, bytes, bits per second (kbit/s where a name says so). See docs/real-players.md.
"""

from __future__ import annotations

from .cdp import Browser, BrowserError, find_chromium
from .content import make_stream
from .link import netns_available
from .players import PLAYERS, get_player, player_script
from .session import EmulatedSession, EmulationResult, emulate, emulate_session
from .stream import Stream, load_stream

__all__ = [
    "Browser", "BrowserError", "find_chromium", "make_stream", "netns_available", "PLAYERS", "get_player",
    "player_script", "EmulatedSession", "EmulationResult", "emulate", "emulate_session", "Stream", "load_stream",
]
