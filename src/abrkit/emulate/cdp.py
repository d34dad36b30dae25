"""Headless Chromium driven over the Chrome DevTools Protocol, through a pipe.

Why a pipe and not Playwright or a websocket client: Chromium's ``--remote-debugging-pipe``
speaks CDP over file descriptors 3 (commands in) and 4 (replies out), one JSON message per
NUL-terminated record. That needs no Python dependency at all (Playwright would add a ~40 MB
wheel with its own Node.js driver, a websocket client one more package), no debugging port that
other processes on the machine could reach, and the browser's end of the pipe closes when the
browser dies, so a crash is seen at once as end-of-file instead of as a timeout.

Every call has a timeout; the browser runs in its own process group (it starts zygote, GPU and
renderer children) so that :meth:`Browser.close` can end all of them, and its profile is a new
temporary directory removed at close.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from ..errors import AbrkitError, ToolNotFoundError

__all__ = ["Browser", "BrowserError", "find_chromium", "CHROMIUM_FLAGS"]

#: Flags known to work as root on Debian's chromium. The background-networking, component-update
#: and sync switches keep the browser from opening connections of its own, which a closed
#: network refuses many at a time (and which would share the shaped link with the player).
#: QUIC is off because the emulation's server speaks HTTP/1.1 over TCP only.
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
    # A hidden headless page must not be throttled: timers drive the players' schedulers.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--autoplay-policy=no-user-gesture-required",
)


class BrowserError(AbrkitError):
    """The browser could not start, crashed, or did not answer in time."""


def find_chromium(executable: str | os.PathLike[str] | None = None) -> Path:
    """The Chromium binary: ``executable``, else ``$ABRKIT_CHROMIUM``, else ``chromium`` or
    ``chromium-browser`` on the PATH. Raises :class:`ToolNotFoundError` saying how to get one."""
    candidates = [str(executable)] if executable else []
    env = os.environ.get("ABRKIT_CHROMIUM", "").strip()
    if env:
        candidates.append(env)
    candidates += ["chromium", "chromium-browser"]
    for name in candidates:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise ToolNotFoundError(
        "emulation needs Chromium: on Debian/Ubuntu `apt-get install -y chromium`, or name a binary with "
        "--chromium or ABRKIT_CHROMIUM"
    )


class Browser:
    """A headless Chromium with one page, controlled over the DevTools pipe.

    ``prefix`` is put before the browser's command line (``ip netns exec NAME`` runs it inside a
    network namespace). Use as a context manager or call :meth:`close`; ``close`` is safe to call
    twice and after a crash.
    """

    def __init__(
        self,
        executable: str | os.PathLike[str] | None = None,
        *,
        prefix: Sequence[str] = (),
        extra_flags: Sequence[str] = (),
        start_timeout_s: float = 30.0,
    ) -> None:
        self.executable = find_chromium(executable)
        self._profile = tempfile.mkdtemp(prefix="abrkit-chromium-")
        self._lock = threading.Lock()
        self._replies: dict[int, dict[str, Any]] = {}
        self._arrived = threading.Condition(self._lock)
        self._next_id = 0
        self._closed = False
        self._eof = False
        self.session_id: str | None = None
        self._stderr = tempfile.TemporaryFile()
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def child_fds() -> None:
            # Dup to fresh numbers first: one of the pipe ends may already be 3 or 4, and a
            # dup2 onto itself would keep its close-on-exec flag (Python opens fds non-inheritable).
            a, b = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        argv = [*prefix, str(self.executable), *CHROMIUM_FLAGS, *extra_flags,
                "--remote-debugging-pipe", f"--user-data-dir={self._profile}", "about:blank"]
        try:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr,
                preexec_fn=child_fds, close_fds=False, start_new_session=True,
            )
        except OSError as err:
            self._cleanup_files()
            raise BrowserError(f"cannot start {argv[0]}: {err}") from err
        finally:
            os.close(to_browser_r)
            os.close(from_browser_w)
        self._reader = threading.Thread(target=self._read_loop, name="abrkit-cdp-reader", daemon=True)
        self._reader.start()
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"}, timeout_s=start_timeout_s)
            attached = self.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                                 timeout_s=start_timeout_s)
            self.session_id = attached["sessionId"]
        except BaseException:
            self.close()
            raise

    # -- transport -------------------------------------------------------------------------
    def _read_loop(self) -> None:
        buffer = b""
        while True:
            try:
                data = os.read(self._from_browser, 1 << 16)
            except OSError:
                data = b""
            if not data:
                break
            buffer += data
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                if "id" in message:
                    with self._arrived:
                        self._replies[int(message["id"])] = message
                        self._arrived.notify_all()
        with self._arrived:
            self._eof = True
            self._arrived.notify_all()

    def stderr_tail(self, n_chars: int = 2000) -> str:
        """The last characters the browser wrote to stderr (for error messages)."""
        try:
            self._stderr.seek(0)
            return self._stderr.read().decode("utf-8", "replace")[-n_chars:]
        except (OSError, ValueError):
            return ""

    def call(self, method: str, params: dict[str, Any] | None = None, *, timeout_s: float = 30.0,
             page: bool = False) -> dict[str, Any]:
        """Send one CDP command and wait at most ``timeout_s`` seconds for its result.

        ``page=True`` sends it to the attached page instead of the browser. Raises
        :class:`BrowserError` when the browser is gone, answers with an error, or is late.
        """
        with self._lock:
            if self._closed:
                raise BrowserError(f"{method}: the browser is closed")
            self._next_id += 1
            ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if page:
            message["sessionId"] = self.session_id
        try:
            os.write(self._to_browser, json.dumps(message).encode("utf-8") + b"\0")
        except OSError as err:
            raise BrowserError(f"{method}: the browser is gone ({err}); its stderr ends:\n{self.stderr_tail()}") from err
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while ident not in self._replies:
                if self._eof:
                    raise BrowserError(f"{method}: the browser exited (code {self.process.poll()}); its stderr ends:\n"
                                       f"{self.stderr_tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError(f"{method}: no answer from the browser in {timeout_s:g} s (hung?)")
                self._arrived.wait(left)
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message', reply['error'])}")
        return dict(reply.get("result", {}))

    # -- page helpers ----------------------------------------------------------------------
    def navigate(self, url: str, timeout_s: float = 30.0) -> None:
        """Open ``url`` in the page."""
        result = self.call("Page.navigate", {"url": url}, timeout_s=timeout_s, page=True)
        if result.get("errorText"):
            raise BrowserError(f"cannot open {url}: {result['errorText']}")

    def evaluate(self, expression: str, timeout_s: float = 30.0) -> Any:
        """The JSON value of a JavaScript ``expression`` in the page (promises are awaited)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                           timeout_s=timeout_s, page=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text", "")
            raise BrowserError(f"JavaScript error in the page: {text}")
        return result.get("result", {}).get("value")

    @property
    def alive(self) -> bool:
        """True while the browser process runs and its pipe is open."""
        return not self._eof and self.process.poll() is None

    # -- shutdown --------------------------------------------------------------------------
    def close(self, timeout_s: float = 5.0) -> None:
        """End the browser and all its children, and remove its profile. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        process = getattr(self, "process", None)
        if process is not None:
            if process.poll() is None:
                try:
                    os.write(self._to_browser, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
                except OSError:
                    pass
                try:
                    process.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    pass
            # The group outlives the main process when it crashed or ignored Browser.close:
            # end every child still in it, politely first.
            try:
                os.killpg(process.pid, signal.SIGTERM)
                time.sleep(0.2)
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if process.poll() is None:
                process.kill()
            process.wait()
        # Every process holding the pipe's write end is gone now, so the reader sees EOF.
        reader = getattr(self, "_reader", None)
        if reader is not None:
            reader.join(timeout_s)
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self._cleanup_files()

    def _cleanup_files(self) -> None:
        shutil.rmtree(self._profile, ignore_errors=True)
        try:
            self._stderr.close()
        except OSError:
            pass

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
