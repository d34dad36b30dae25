"""The chunk model's network: a trace clock that loops, latency, transfer of whole chunks.

Trace clock model (arrays prepared by the façade):

* ``period_end_s[j]`` is the clock value at which period ``j`` ends, ``period_bw_bps[j]`` its
  bandwidth and ``period_lat_s[j]`` the latency of a request issued in it.
* The clock starts at ``start_s`` in period 0. When it passes the last period's end it wraps to
  ``wrap_s`` in period 0 (traces loop).

Keeping absolute end times (rather than lengths) reproduces Pensieve's arithmetic exactly: it
computes each step's length as ``cooked_time[ptr] - last_time``. Used by the session loop
(``session.py``), the offline optimum and the Python twins.
"""

from __future__ import annotations

import numpy as np

from .._jit import njit
from .layout import PROF_EFFICIENCY, PROF_MAX_DOWNLOAD_S, PROF_RTT_ADVANCES_CLOCK, PROF_RTT_S, PROF_THROUGHPUT_INCLUDES_LATENCY


@njit
def advance_clock(period_end_s, wrap_s, ptr, clock_s, wait_s):
    """Move the trace clock forward by ``wait_s`` seconds; returns the new (ptr, clock)."""
    m = period_end_s.size
    while True:
        dur = period_end_s[ptr] - clock_s
        if dur > wait_s:
            return ptr, clock_s + wait_s
        wait_s -= dur
        clock_s = period_end_s[ptr]
        ptr += 1
        if ptr >= m:
            ptr = 0
            clock_s = wrap_s


@njit
def transfer(period_end_s, period_bw_bps, wrap_s, ptr, clock_s, size_bytes, efficiency, max_s):
    """Deliver ``size_bytes`` starting at (ptr, clock).

    Returns (seconds taken, ptr, clock, finished). ``finished`` is False when more than
    ``max_s`` seconds passed without the last byte arriving.
    """
    m = period_end_s.size
    sent = 0.0
    elapsed = 0.0
    while True:
        rate = period_bw_bps[ptr] / 8.0  # bytes per second
        dur = period_end_s[ptr] - clock_s
        payload = rate * dur * efficiency
        if sent + payload > size_bytes:
            frac = (size_bytes - sent) / rate / efficiency
            if elapsed + frac > max_s:
                return elapsed + frac, ptr, clock_s + frac, False
            return elapsed + frac, ptr, clock_s + frac, True
        sent += payload
        elapsed += dur
        clock_s = period_end_s[ptr]
        ptr += 1
        if ptr >= m:
            ptr = 0
            clock_s = wrap_s
        if elapsed > max_s:
            return elapsed, ptr, clock_s, False


@njit
def request_time(period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof):
    """(latency_s, transfer_s, ptr, clock, finished) of requesting ``size_bytes`` at (ptr, clock).

    ``session.play_chunks`` performs the same steps written out in its loop: calling this function
    there (with the profile array) doubled the per-chunk cost. The oracle's zero error in
    ``evaluate_predictors`` (tests/test_evaluate.py) holds only while the two agree.
    """
    rtt_s = prof[PROF_RTT_S]
    lat_s = rtt_s if rtt_s >= 0.0 else period_lat_s[ptr]
    if prof[PROF_RTT_ADVANCES_CLOCK] != 0.0 and lat_s > 0.0:
        ptr, clock_s = advance_clock(period_end_s, wrap_s, ptr, clock_s, lat_s)
    xfer_s, ptr, clock_s, done = transfer(
        period_end_s, period_bw_bps, wrap_s, ptr, clock_s, size_bytes, prof[PROF_EFFICIENCY], prof[PROF_MAX_DOWNLOAD_S]
    )
    return lat_s, xfer_s, ptr, clock_s, done


@njit
def measured_time(lat_s, xfer_s, prof):
    """The time a player measures a download over (with or without the request latency)."""
    return xfer_s + lat_s if prof[PROF_THROUGHPUT_INCLUDES_LATENCY] != 0.0 else xfer_s


@njit
def oracle_throughput(period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof):
    """The throughput a request of ``size_bytes`` issued now would measure (NaN if it stalls)."""
    lat_s, xfer_s, _, _, done = request_time(period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof)
    if not done:
        return np.nan
    return size_bytes * 8.0 / measured_time(lat_s, xfer_s, prof)
