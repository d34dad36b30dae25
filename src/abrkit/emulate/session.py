"""Run emulated sessions: server, shaped link, Chromium and a real player, then the tables.

:func:`emulate_session` plays one trace; :func:`emulate` plays several, one after the other (they
run in real time and share the machine's link, so never at once) and returns an
:class:`EmulationResult` with the same ``sessions()`` and ``chunks()`` tables as a simulation.

Every resource (namespace and veth pair, tc thread, server, browser and its children, temporary
profile) is opened inside one :class:`contextlib.ExitStack`, so an error, Ctrl-C or SIGTERM (turned
into ``KeyboardInterrupt`` while a session runs in the main thread) removes all of them. Nothing
waits without a bound: the page has ``load_timeout_s`` to load, every CDP call has a timeout
(a hung browser is an error), and a session that has not ended ``stall_limit_s`` after the media
could have played out ends with status ``stalled`` and its stalls recorded.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pandas as pd

from ..errors import AbrkitError, ParameterError
from ..qoe import QoE
from ..traces import Trace
from .cdp import Browser, BrowserError
from .link import TBF_LIMIT_S, NetnsShaper, PacedLink, Schedule, netns_available
from .page import page_html
from .players import Player, get_player, player_script
from .records import CHUNK_TABLE_COLUMNS, chunk_table, downloads_frame, session_row, stall_intervals
from .server import EmulationServer, RequestRecord, cut_media_playlist, cut_mpd
from .stream import Stream, load_stream

__all__ = ["emulate", "emulate_session", "EmulatedSession", "EmulationResult", "SHAPERS"]

#: ``auto`` picks ``tc`` where network namespaces can be made (root), else ``server``.
SHAPERS = ("auto", "tc", "server")
#: How often the page's recorded events are collected (seconds).
POLL_S = 0.5


@dataclass
class EmulatedSession:
    """One played session: its tables and the raw records they came from.

    ``chunks``: the chunk table (:func:`~abrkit.emulate.records.chunk_table`); ``totals``: the
    session row; ``events``: the page's events; ``requests``: the server's request log;
    ``rates_applied``: (seconds since start, bit/s) the tc shaper applied (empty for ``server``).
    """

    trace: Trace
    player: Player
    shaper: str
    rtt_s: float
    chunks: pd.DataFrame
    totals: dict[str, Any]
    events: list[dict[str, Any]] = field(repr=False)
    requests: list[RequestRecord] = field(repr=False)
    rates_applied: list[tuple[float, float]] = field(repr=False, default_factory=list)
    video: Any = field(repr=False, default=None)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt while a session runs (main thread only), so the same
    cleanup runs for a kill as for Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _resolve_shaper(shaper: str) -> str:
    if shaper not in SHAPERS:
        raise ParameterError("shaper", shaper, f"must be one of {', '.join(SHAPERS)}")
    if shaper == "server":
        return shaper
    ok, why = netns_available()
    if shaper == "tc" and not ok:
        raise AbrkitError(f"--shaper tc is not available: {why}")
    return "tc" if ok else "server"


def _segments_for(stream: Stream, duration_s: float | None) -> int:
    n = stream.video.n_chunks
    if duration_s is None:
        return n
    if not duration_s > 0:
        raise ParameterError("duration_s", duration_s, "must be > 0")
    return max(1, min(n, int(duration_s / stream.segment_s + 1e-6)))


def _rewriter(stream: Stream, n_segments: int) -> Callable[[str, str], str]:
    play_s = n_segments * stream.segment_s

    def rewrite(path: str, text: str) -> str:
        if path.endswith(".mpd"):
            return cut_mpd(text, play_s)
        if "#EXT-X-STREAM-INF" in text:  # the master playlist is left alone
            return text
        return cut_media_playlist(text, n_segments)

    return rewrite


def emulate_session(
    stream: Stream | str | Path,
    trace: Trace,
    player: str | Player = "dashjs",
    *,
    duration_s: float | None = None,
    rtt_s: float = 0.08,
    shaper: str = "auto",
    tc_queue_s: float = TBF_LIMIT_S,
    qoe: QoE | None = None,
    chromium: str | None = None,
    load_timeout_s: float = 30.0,
    stall_limit_s: float = 60.0,
    call_timeout_s: float = 15.0,
    progress: Callable[[float], None] | None = None,
) -> EmulatedSession:
    """Play ``trace`` with a real player in headless Chromium and record it.

    Parameters
    ----------
    stream : Stream or path
        A packaged folder (:func:`~abrkit.emulate.stream.load_stream`) or its loaded manifest.
    trace : Trace
        The link's bandwidth over time (looped), from the moment the player starts.
    player : str
        ``dashjs`` (dash.js 5.2.1, DASH) or ``hlsjs`` (hls.js 1.7.4, HLS), default settings.
    duration_s : float, optional
        Seconds of content to play (whole segments; the manifest is cut there). Default: all.
    rtt_s : float
        Seconds the server waits before the first byte of every media response.
    shaper : str
        ``tc`` (tbf in a network namespace, root), ``server`` (pacing in the server), ``auto``.
    tc_queue_s : float
        Under tc, the tbf queue in seconds of traffic at the current rate (at least 64 KB; 5 s).
    qoe : QoE, optional
        Scores the ``qoe`` and ``reward`` columns (default ``QoE.linear()``, as ``--profile event``).
    chromium : str, optional
        The browser binary (default: :func:`~abrkit.emulate.cdp.find_chromium`).
    load_timeout_s, stall_limit_s, call_timeout_s : float
        Seconds the page may take to load; seconds past the content's length after which an
        unfinished session stops as ``stalled``; seconds any browser call may take.
    progress : callable, optional
        Called with the media time played so far over the content's length (0..1).

    Raises
    ------
    AbrkitError
        A missing manifest or video.json, a player that reports a fatal error, a tc failure.
    BrowserError
        The browser cannot start, crashes, or stops answering.
    """
    p = get_player(player) if isinstance(player, str) else player
    if not isinstance(stream, Stream):
        stream = load_stream(stream, p.manifest)
    if stream.kind != p.manifest:
        raise ParameterError("stream", stream.manifest, f"player {p.name} plays {p.manifest.upper()}, not {stream.kind}")
    if not (rtt_s >= 0 and math.isfinite(rtt_s)):
        raise ParameterError("rtt_s", rtt_s, "must be >= 0")
    if not (tc_queue_s > 0 and math.isfinite(tc_queue_s)):
        raise ParameterError("tc_queue_s", tc_queue_s, "must be > 0")
    n_segments = _segments_for(stream, duration_s)
    play_s = n_segments * stream.segment_s
    video = stream.video.truncated(n_segments)
    model = qoe if qoe is not None else QoE.linear()
    script = player_script(p)
    mode = _resolve_shaper(shaper)
    schedule = Schedule(trace)
    events: list[dict[str, Any]] = []
    status = "stalled"
    with _sigterm_as_interrupt(), contextlib.ExitStack() as stack:
        tc: NetnsShaper | None = None
        if mode == "tc":
            tc = stack.enter_context(NetnsShaper(schedule, queue_s=tc_queue_s))
        server = EmulationServer(
            stream.folder, host=tc.host_ip if tc is not None else "127.0.0.1", rtt_s=rtt_s,
            link=PacedLink(schedule) if tc is None else None, page_html=page_html(p.name), player_js=script,
            rewrite=_rewriter(stream, n_segments),
        )
        stack.callback(server.close)
        server.start()
        browser = stack.enter_context(Browser(chromium, prefix=tc.prefix if tc is not None else ()))
        browser.navigate(server.url + "/", timeout_s=load_timeout_s)
        deadline = time.monotonic() + load_timeout_s
        global_name = "dashjs" if p.name == "dashjs" else "Hls"
        while not browser.evaluate(f"typeof window.__abrkit === 'object' && typeof window.{global_name} !== 'undefined'",
                                   timeout_s=call_timeout_s):
            if time.monotonic() > deadline:
                raise BrowserError(f"the page did not load {p.package} in {load_timeout_s:g} s")
            time.sleep(0.1)
        # The link is shaped from here on: the page and the player script loaded unshaped.
        if tc is not None:
            tc.start()
        else:
            schedule.start()
        browser.evaluate(f"__abrkit.start('/media/{stream.manifest}')", timeout_s=call_timeout_s)
        limit = time.monotonic() + play_s + stall_limit_s
        while True:
            time.sleep(POLL_S)
            batch = browser.evaluate("__abrkit.drain()", timeout_s=call_timeout_s) or []
            events.extend(batch)
            errors = [e for e in batch if e["kind"] == "error"]
            if errors:
                raise AbrkitError(f"{p.package} {p.version} failed on trace {trace.name!r}: {errors[0].get('message')}")
            if tc is not None and tc.error is not None:
                raise AbrkitError(f"shaping the link failed: {tc.error}")
            if progress is not None and events:
                progress(min(1.0, float(events[-1].get("media_s") or 0.0) / play_s))
            if any(e["kind"] == "ended" for e in batch):
                status = "complete"
                break
            if time.monotonic() > limit:
                break
        events.extend(browser.evaluate("__abrkit.drain()", timeout_s=call_timeout_s) or [])
        requests = list(server.log)
        applied = list(tc.applied) if tc is not None else []
    starts = [e for e in events if e["kind"] == "start"]
    if not starts:
        raise AbrkitError("the page recorded no start")
    t0_ms = float(starts[0]["t_ms"])
    end_s = max((float(e["t_ms"]) - t0_ms) / 1e3 for e in events)
    downloads = downloads_frame(events, stream.segments, t0_ms, stream.segment_s)
    downloads = downloads[downloads["chunk"] < n_segments] if len(downloads) else downloads
    startup_s, stalls = stall_intervals(events, t0_ms, end_s)
    controller = f"{p.name}-{p.version}"
    chunks = chunk_table(trace.name, video, controller, downloads, stalls, model)
    totals = session_row(chunks, video, model, profile=f"emulate-{mode}", status=status, startup_s=startup_s,
                         stalls=stalls, end_s=end_s)
    totals["trace"], totals["controller"] = trace.name, controller
    totals["rebuffer_total_s"] = float(sum(b - a for a, b, _ in stalls))
    totals["shaper"], totals["rtt_s"] = mode, float(rtt_s)
    totals["tc_queue_s"] = float(tc_queue_s) if mode == "tc" else float("nan")
    return EmulatedSession(trace, p, mode, float(rtt_s), chunks, totals, events, requests, applied, video)


class EmulationResult:
    """Sessions of one stream and player over several traces, as simulation tables."""

    def __init__(self, sessions: Sequence[EmulatedSession], stream: Stream) -> None:
        self.results = list(sessions)
        self.stream = stream

    def sessions(self) -> pd.DataFrame:
        """One row per session: the columns of ``abrkit simulate``'s session table, plus
        downloads, replaced, abandoned, rebuffer_total_s, shaper and rtt_s."""
        return pd.DataFrame([s.totals for s in self.results])

    def chunks(self) -> pd.DataFrame:
        """Every session's chunk table (played rows, then replaced and abandoned ones)."""
        frames = [s.chunks for s in self.results if len(s.chunks)]
        if frames:
            return pd.concat(frames, ignore_index=True)
        # no segment arrived in any session: the header alone, so a --log file still says what it is
        return pd.DataFrame(columns=[c for c in CHUNK_TABLE_COLUMNS if c != "quality" or self.stream.video.quality is not None])


def emulate(
    stream: str | Path | Stream,
    traces: Sequence[Trace],
    player: str = "dashjs",
    *,
    on_session: Callable[[EmulatedSession], None] | None = None,
    **options: Any,
) -> EmulationResult:
    """Play every trace in turn (real time: each takes about the content's length); options as
    :func:`emulate_session`. ``on_session`` is called after each session (for progress)."""
    p = get_player(player)
    loaded = stream if isinstance(stream, Stream) else load_stream(stream, p.manifest)
    done = []
    for trace in traces:
        result = emulate_session(loaded, trace, p, **options)
        done.append(result)
        if on_session is not None:
            on_session(result)
    return EmulationResult(done, loaded)
