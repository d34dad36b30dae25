"""The emulation's HTTP server: the packaged stream, the player script and the page.

A threaded HTTP/1.1 server (one thread per connection, keep-alive, as a CDN edge would) with:

* ``/media/...``: files of the stream folder (no path may leave it). Every media response waits
  ``rtt_s`` before its first byte (the round trip; this kernel has no netem). With a
  :class:`~abrkit.emulate.link.PacedLink` the body is paced block by block; under tc the kernel
  paces it. Manifests are cut to the session's length (:func:`cut_mpd`, :func:`cut_media_playlist`).
* ``/player.js`` and ``/``: the pinned player and the page, never delayed nor paced (the link
  is shaped only once the player is told to start).
* a request log (:attr:`EmulationServer.log`): path, status, bytes sent, and the
  ``time.time()`` of the request, first body byte and end, and whether the client went away
  (an abandoned request).

Range requests are not served (neither dash.js with ``SegmentTemplate`` nor hls.js with one file
per segment asks for them); ``Cache-Control: no-store`` keeps repeated sessions honest.
"""

from __future__ import annotations

import re
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

from .link import BLOCK_BYTES, PacedLink

__all__ = ["EmulationServer", "RequestRecord", "cut_mpd", "cut_media_playlist"]

_TYPES = {
    ".mpd": "application/dash+xml",
    ".m3u8": "application/vnd.apple.mpegurl",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".ts": "video/mp2t",
    ".js": "text/javascript",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
}


@dataclass
class RequestRecord:
    """One request the server answered (times are ``time.time()`` seconds)."""

    path: str
    status: int
    bytes_sent: int
    request_time: float
    first_byte_time: float
    end_time: float
    aborted: bool


def cut_mpd(text: str, duration_s: float) -> str:
    """The MPD ``text`` with ``mediaPresentationDuration`` (and a Period ``duration``) set to
    ``duration_s``, so the player requests no segment past it."""
    value = f"PT{duration_s:.3f}S"
    text = re.sub(r'mediaPresentationDuration="[^"]*"', f'mediaPresentationDuration="{value}"', text, count=1)
    return re.sub(r'(<Period\b[^>]*?\s)duration="[^"]*"', rf'\1duration="{value}"', text, count=1)


def cut_media_playlist(text: str, n_segments: int) -> str:
    """An HLS media playlist with only its first ``n_segments`` segments (and ``#EXT-X-ENDLIST``)."""
    out: list[str] = []
    seen = 0
    for line in text.splitlines():
        if line.startswith("#EXT-X-ENDLIST"):
            continue
        if line and not line.startswith("#"):
            seen += 1
            out.append(line)
            if seen >= n_segments:
                break
            continue
        out.append(line)
    out.append("#EXT-X-ENDLIST")
    return "\n".join(out) + "\n"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr logging
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.owner._serve(self)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: "EmulationServer"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A player that abandons a request closes its connection, sometimes between two requests
        # on it: that is expected (and logged as aborted when a body was being sent), not a bug.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class EmulationServer:
    """Serve ``root`` (the stream folder) on ``host`` (port chosen by the system).

    ``rtt_s``: seconds added before the first byte of every media response; ``link``: a
    :class:`PacedLink` to pace bodies, or None (tc shapes, or no shaping); ``page_html`` and
    ``player_js``: the page and the player script; ``rewrite``: a function (path relative to
    ``root``, text) -> text applied to manifests. Start with :meth:`start`, stop with
    :meth:`close` (idempotent).
    """

    def __init__(
        self,
        root: str | Path,
        *,
        host: str = "127.0.0.1",
        rtt_s: float = 0.0,
        link: PacedLink | None = None,
        page_html: str = "",
        player_js: Path | None = None,
        rewrite: Callable[[str, str], str] | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.rtt_s = float(rtt_s)
        self.link = link
        self.page_html = page_html
        self.player_js = player_js
        self.rewrite = rewrite
        self.log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._httpd = _Server((host, 0), _Handler)
        self._httpd.owner = self
        self.host, self.port = host, int(self._httpd.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's base address, ``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="abrkit-emulate-http", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(10)
            self._thread = None
        self._httpd.server_close()

    # -- one request -----------------------------------------------------------------------
    def _body_of(self, path: str) -> tuple[int, bytes, str, bool]:
        """(status, body, content type, is media) for a request path."""
        if path in ("/", "/index.html"):
            return 200, self.page_html.encode("utf-8"), _TYPES[".html"], False
        if path == "/player.js" and self.player_js is not None:
            return 200, self.player_js.read_bytes(), _TYPES[".js"], False
        if not path.startswith("/media/"):
            return 404, b"not found", "text/plain", False
        relative = urllib.parse.unquote(path[len("/media/"):])
        file = (self.root / relative).resolve()
        if self.root not in file.parents or not file.is_file():
            return 404, b"not found", "text/plain", True
        data = file.read_bytes()
        suffix = file.suffix.lower()
        if self.rewrite is not None and suffix in (".mpd", ".m3u8"):
            data = self.rewrite(relative, data.decode("utf-8")).encode("utf-8")
        return 200, data, _TYPES.get(suffix, "application/octet-stream"), True

    def _serve(self, handler: _Handler) -> None:
        request_time = time.time()
        path = urllib.parse.urlsplit(handler.path).path
        status, body, ctype, media = self._body_of(path)
        if media and self.rtt_s > 0:
            time.sleep(self.rtt_s)
        sent, first, aborted = 0, float("nan"), False
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", ctype)
            handler.send_header("Content-Length", str(len(body)))
            handler.send_header("Cache-Control", "no-store")
            handler.send_header("Access-Control-Allow-Origin", "*")
            handler.end_headers()
            first = time.time()
            for start in range(0, len(body), BLOCK_BYTES):
                block = body[start:start + BLOCK_BYTES]
                if media and self.link is not None:
                    due = self.link.send_at(len(block))
                    wait = due - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                handler.wfile.write(block)
                sent += len(block)
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            aborted = True
            handler.close_connection = True
        with self._log_lock:
            self.log.append(RequestRecord(path, status, sent, request_time, first, time.time(), aborted))
