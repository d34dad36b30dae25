"""Trace-shaped links: the trace's rate schedule, server-side pacing, and ``tc tbf`` in a network
namespace.

Time 0 of the trace is the moment the player is told to start (:meth:`Schedule.start`); the
trace loops when the session outlasts it, as in the simulator. Two shapers follow it:

* :class:`PacedLink` (``--shaper server``, no privileges): the server's response bodies share one
  first-in-first-out link; each block of :data:`BLOCK_BYTES` is sent when the link would have
  finished serialising it at the trace's rate (integrated over period boundaries).
* :class:`NetnsShaper` (``--shaper tc``, root): the browser runs in a network namespace joined
  to the host by a veth pair; the host end's egress (server to browser) has a ``tbf`` qdisc whose
  rate is changed on the trace's schedule in real time by a thread. Periods of zero bandwidth
  become :data:`MIN_TBF_RATE_BPS` (tbf needs a positive rate). This kernel has tbf but no netem,
  so the round trip is added by the server (before the first byte) in both modes.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import AbrkitError, ToolNotFoundError
from ..traces import Trace

__all__ = ["Schedule", "PacedLink", "NetnsShaper", "netns_available", "BLOCK_BYTES", "MIN_TBF_RATE_BPS"]

#: Bytes the paced server writes at once: 2 KiB is ~1.6 ms at 10 Mbit/s and ~55 ms at 300 kbit/s,
#: fine enough for the players' throughput estimates, coarse enough for Python's timers.
BLOCK_BYTES = 2048
#: tbf's rate during periods whose bandwidth is 0 (bits per second).
MIN_TBF_RATE_BPS = 1000.0
#: The tbf bucket: at least this many bytes (two full frames), else this many seconds of traffic.
TBF_MIN_BURST_BYTES = 3028
TBF_BURST_S = 0.004
#: The tbf queue (default): this many seconds of traffic at the current rate, at least
#: TBF_MIN_LIMIT_BYTES. Deep enough that TCP rarely drops: measured (docs/real-players.md), a
#: 0.5 s queue (64 KB floor, over a second at a few hundred kbit/s) let tail drops and their
#: retransmission timeouts cut 28 % of the downloads on slow FCC traces below 70 % of the trace's
#: rate; at 5 s, 0.7 %. Mahimahi's links drop nothing by default either.
TBF_LIMIT_S = 5.0
TBF_MIN_LIMIT_BYTES = 65536


@dataclass
class Schedule:
    """A trace's bandwidth as a function of wall-clock time since :meth:`start` (looping)."""

    trace: Trace
    t0: float | None = None  # time.monotonic() at the start

    def __post_init__(self) -> None:
        self._starts = np.asarray(self.trace.time_s, dtype=np.float64) - float(self.trace.time_s[0])
        self._rates = np.asarray(self.trace.bandwidth_bps, dtype=np.float64)
        self._period_s = float(self.trace.total_duration_s)

    def start(self, t0: float | None = None) -> None:
        """Set time 0 (``time.monotonic()`` by default)."""
        self.t0 = time.monotonic() if t0 is None else t0

    def elapsed_s(self, now: float | None = None) -> float:
        """Seconds since the start (0 before it)."""
        if self.t0 is None:
            return 0.0
        return max(0.0, (time.monotonic() if now is None else now) - self.t0)

    def period_at(self, t_s: float) -> tuple[float, float]:
        """(rate in bit/s, seconds until the next change) at ``t_s`` seconds since the start."""
        loops, within = divmod(t_s, self._period_s)
        i = int(np.searchsorted(self._starts, within, side="right") - 1)
        nxt = self._starts[i + 1] if i + 1 < self._starts.size else self._period_s
        return float(self._rates[i]), max(float(nxt - within), 1e-9)

    def changes(self) -> Any:
        """Endless (time in seconds since the start, rate in bit/s) pairs, one per period."""
        for loop in itertools.count():
            base = loop * self._period_s
            for s, r in zip(self._starts, self._rates):
                yield base + float(s), float(r)

    def finish_s(self, start_s: float, bits: float) -> float:
        """When a link idle at ``start_s`` has sent ``bits`` more bits (seconds since the start)."""
        t, left = start_s, bits
        # A trace has at least one period > 0, so each loop of the trace sends something.
        while left > 0:
            rate, span = self.period_at(t)
            can = rate * span
            if can >= left:
                return t + left / rate
            left -= can
            t += span
        return t


class PacedLink:
    """One shared FIFO link for every response body, paced by the server (no privileges)."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self._lock = threading.Lock()
        self._free_s = 0.0

    def send_at(self, n_bytes: int) -> float:
        """Reserve the link for ``n_bytes``; returns the ``time.monotonic()`` at which they have
        been serialised (the caller sleeps until then and writes them)."""
        with self._lock:
            if self.schedule.t0 is None:  # before the start the link is not shaped
                return time.monotonic()
            begin = max(self.schedule.elapsed_s(), self._free_s)
            end = self.schedule.finish_s(begin, 8.0 * n_bytes)
            self._free_s = end
            return self.schedule.t0 + end


def netns_available() -> tuple[bool, str]:
    """Whether this process can make network namespaces with a tbf-shaped veth pair; and why not."""
    if os.name != "posix" or os.geteuid() != 0:
        return False, "network namespaces need root (use --shaper server)"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return False, f"`{tool}` is not installed (Debian: apt-get install iproute2)"
    name = f"abrkit-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, timeout=10)
    if made.returncode != 0:
        return False, f"cannot make a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
    return True, ""


_counter = itertools.count()


def _run(argv: list[str], timeout_s: float = 10.0) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as err:
        raise AbrkitError(f"`{' '.join(argv)}` did not finish in {timeout_s:g} s") from err
    if done.returncode != 0:
        raise AbrkitError(f"`{' '.join(argv)}` failed ({done.returncode}): {done.stderr.strip()}")


@dataclass
class NetnsShaper:
    """A network namespace for the browser, a veth pair to the host, tbf on the host end.

    ``host_ip`` is where the server listens (host end); the browser, started with
    :attr:`prefix`, reaches it through the shaped link. :meth:`close` removes everything and is
    safe to call twice; rate changes actually applied are in :attr:`applied` (seconds since the
    start, rate in bit/s). ``queue_s``: the tbf queue in seconds of traffic at the current rate.
    """

    schedule: Schedule
    queue_s: float = TBF_LIMIT_S
    name: str = ""
    host_ip: str = ""
    applied: list[tuple[float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for tool in ("ip", "tc"):
            if shutil.which(tool) is None:
                raise ToolNotFoundError(f"--shaper tc needs `{tool}` (Debian: apt-get install iproute2)")
        n = (os.getpid() * 8 + next(_counter)) % 8192
        self.name = f"abrkit-{os.getpid()}-{n}"
        self.host_dev, self.ns_dev = f"abk{n}h", f"abk{n}n"
        net = f"10.{100 + n // 64}.{(n % 64) * 4}"
        self.host_ip, self.ns_ip = f"{net}.1", f"{net}.2"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._made = False
        self.error: BaseException | None = None
        try:
            _run(["ip", "netns", "add", self.name])
            self._made = True
            _run(["ip", "link", "add", self.host_dev, "type", "veth", "peer", "name", self.ns_dev])
            _run(["ip", "link", "set", self.ns_dev, "netns", self.name])
            _run(["ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_dev])
            _run(["ip", "link", "set", self.host_dev, "up"])
            _run(["ip", "-n", self.name, "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_dev])
            _run(["ip", "-n", self.name, "link", "set", self.ns_dev, "up"])
            _run(["ip", "-n", self.name, "link", "set", "lo", "up"])
        except BaseException:
            self.close()
            raise

    @property
    def prefix(self) -> list[str]:
        """The command prefix that runs a program inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def _tbf(self, verb: str, rate_bps: float) -> None:
        rate = max(rate_bps, MIN_TBF_RATE_BPS)
        burst = max(TBF_MIN_BURST_BYTES, int(rate / 8 * TBF_BURST_S))
        limit = max(TBF_MIN_LIMIT_BYTES, int(rate / 8 * self.queue_s))
        _run(["tc", "qdisc", verb, "dev", self.host_dev, "root", "tbf", "rate", f"{int(rate)}bit",
              "burst", str(burst), "limit", str(limit)])

    def start(self) -> None:
        """Shape from now on: the first period's rate at once, then a thread follows the trace."""
        changes = self.schedule.changes()
        first_t, first_rate = next(changes)
        self._tbf("add", first_rate)
        self.schedule.start()
        self.applied.append((0.0, first_rate))
        self._thread = threading.Thread(target=self._follow, args=(changes,), name="abrkit-tbf", daemon=True)
        self._thread.start()

    def _follow(self, changes: Any) -> None:
        try:
            for t_s, rate in changes:
                wait = t_s - self.schedule.elapsed_s()
                if self._stop.wait(max(wait, 0.0)):
                    return
                self._tbf("change", rate)
                self.applied.append((self.schedule.elapsed_s(), rate))
        except BaseException as err:  # noqa: BLE001 - reported by the session, which stops
            self.error = err

    def close(self) -> None:
        """Stop following the trace and delete the namespace (and with it the veth pair)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)
        if self._made:
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=15)
            self._made = False
        # Deleting the namespace destroys its veth end and so the pair; this catches a pair made
        # before its end was moved in.
        subprocess.run(["ip", "link", "del", self.host_dev], capture_output=True, timeout=15)

    def __enter__(self) -> "NetnsShaper":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
