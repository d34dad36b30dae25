"""Ctrl-C in long batches: stop between blocks of compiled work and raise ``KeyboardInterrupt``.

Letting Python raise ``KeyboardInterrupt`` wherever the signal lands is not enough: when it
lands while Numba turns a kernel's returned arrays into Python objects, the call fails with
``SystemError: ... returned a result with an exception set`` instead (measured: every time a
Ctrl-C hit a loop of such calls). So a batch runs inside :class:`CtrlC`: in the main thread,
while SIGINT has Python's default handler, a handler that only records the signal takes its
place; workers check the event between blocks (:func:`check`) and stop; leaving the block
raises ``KeyboardInterrupt``. Anywhere else (another thread, an application's own handler)
nothing changes and the batch simply runs.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

__all__ = ["Cancelled", "CtrlC", "check"]


class Cancelled(Exception):
    """Raised by a worker that saw its batch's cancel event set (between two blocks of work)."""


def check(cancel: threading.Event) -> None:
    """Raise :class:`Cancelled` if ``cancel`` is set: call it between blocks of work."""
    if cancel.is_set():
        raise Cancelled()


class CtrlC:
    """``with CtrlC(cancel):`` a Ctrl-C sets ``cancel``; leaving the block (normally or by
    :class:`Cancelled`) then raises ``KeyboardInterrupt``."""

    def __init__(self, cancel: threading.Event) -> None:
        self.cancel = cancel
        self.hit = False
        self._previous: Any = None
        self._installed = False

    def _handler(self, signum: int, frame: Any) -> None:
        self.hit = True
        self.cancel.set()

    def __enter__(self) -> "CtrlC":
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handler)
            self._installed = True
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
        if self.hit and (kind is None or issubclass(kind, Cancelled)):
            raise KeyboardInterrupt from None
        return False
