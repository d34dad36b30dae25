"""Python controllers under the live profile: the live kernel's own loop, run as Python.

:func:`play_live_session` runs the source of ``_kernels.live.play_live`` as a Python function
(as :func:`abrkit.custom.play_event_session` does for the event model) with the controller
contract routed to a user object: ``decide(obs)`` before every request (a rung, or ``(rung,
wait_s)`` to hold the request back), and, if the object has it, ``playback_rate(obs) -> rate or
None`` wherever the loop sets the playback rate (before each request and after each download;
None leaves it to the profile's catch-up rule, LoL+ style controllers return their own). The
network, playback and catch-up steps are the compiled ones, so everything but the controller is
the kernel's arithmetic: a Python controller that decides as a built-in one gives the same log
(tested with the fixed rung).

Under the live profile the observation reads: ``chunk`` is the row of the size table the next
segment plays (segment ``k`` plays row ``k mod rows``; ``n_chunks`` is the number of rows),
``session_s`` the wall time of the request since the join, ``latency_s`` the live latency now (NaN before
playback starts), ``playback_rate`` the current rate, and the samples are the downloads so far
(``sample_time_s`` the time the chunks were flowing, without the encoder's idle gaps).
"""

from __future__ import annotations

import math
import types as pytypes
from typing import Any

import numpy as np

from ._kernels import layout as L
from ._kernels import live as K
from ._kernels import live_layout as LV
from ._kernels.groups import SessionControl, SessionTrace, SessionVideo
from .observation import Observation, checked_choice, name_of, readonly
from .errors import ParameterError
from .traces import Trace
from .video import Video

__all__ = ["play_live_session"]


def _no_oracle(size_bytes: float) -> float:
    raise ParameterError("oracle", "oracle_throughput_bps", "the live model has no look-ahead")


def play_live_session(trace: Trace, video: Video, controller: Any, prof: Any, duration_s: float, log: np.ndarray,
                      m: np.ndarray) -> tuple[int, int]:
    """One live session of a Python controller: fills ``log`` (shape (>= segments, LV_COLS))
    and ``m`` (LM_SIZE) like ``_kernels.live.play_live`` and returns (segments, status).
    ``trace`` already carries the profile's prelude (``LiveProfile.with_prelude``)."""
    name = name_of(controller)
    end_s, bw_bps, lat_s, start_s, wrap_s = prof.kernel_trace(trace)
    sizes = np.ascontiguousarray(video.sizes_bytes, dtype=np.float64)
    ladder = np.ascontiguousarray(video.bitrates_bps, dtype=np.float64)
    n_rows, n_rungs = sizes.shape
    lp = prof.pack(video.chunk_s)
    ladder_ro, sizes_ro = readonly(ladder.copy()), readonly(sizes.copy())
    rate_hook = getattr(controller, "playback_rate", None)
    asked = [0]  # requests so far
    got: list[tuple[float, float, float]] = []  # (bytes, seconds flowing, buffer after) per download
    join_s = float(lp[LV.LP_JOIN_S])
    clock = [join_s]  # wall time of the request being decided (the loop tells its predictor)

    def observe(row: int, buffer_s: float, latency_s: float) -> Observation:
        k = len(got)  # downloads finished: log rows 0 .. k-1 hold their request, latency and end
        done = log[:k]
        table = np.array(got, dtype=np.float64).reshape(k, 3)
        return Observation(
            chunk=int(row), n_chunks=n_rows, buffer_s=float(buffer_s), prev_rung=int(done[-1, L.LOG_RUNG]) if k else -1,
            session_s=clock[0] - join_s, chunk_s=float(video.chunk_s),
            bitrates_bps=ladder_ro, sizes_bytes=sizes_ro, sample_bytes=readonly(table[:, 0].copy()),
            sample_time_s=readonly(table[:, 1].copy()), sample_latency_s=readonly(done[:, L.LOG_LATENCY_S].copy()),
            sample_end_s=readonly(done[:, LV.LV_DONE_S].copy()), sample_delay_s=readonly(done[:, L.LOG_DELAY_S].copy()),
            sample_buffer_s=readonly(table[:, 2].copy()), sample_wait_s=readonly(np.zeros(k)),
            profile=prof, _oracle=_no_oracle, latency_s=float(latency_s), playback_rate=float(lp[LV.LP_NOW_RATE]),
        )

    def report(kind, cparams, cstate, row, rung, size, active_s, buffer_s, bitrates_bps, seg_s):
        got.append((float(size), float(active_s), float(buffer_s)))

    def choose(kind, cparams, cstate, cdata, row, n_rows_, buffer_s, prev, bitrates_bps, sizes_bytes, durations_s, est_bps,
               est_lat_s, last_lat_s, lp_):
        obs = observe(row, buffer_s, lp[LV.LP_NOW_LATENCY_S])
        rung, wait_s = checked_choice(controller.decide(obs), n_rungs, name, asked[0])
        asked[0] += 1
        return rung, wait_s

    def live_rate(kind, cparams, cstate, buffer_s, latency_s, target_s, lp_):
        if not callable(rate_hook):
            return math.nan
        value = rate_hook(observe(-1, buffer_s, latency_s))
        if value is None:
            return math.nan
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(
                float(value)) or float(value) <= 0.0:
            raise ParameterError("playback_rate", value, f"controller {name!r} returned it: a rate is a finite number "
                                 "> 0 (the profile's rate_min and rate_max bound it), or None for the catch-up rule")
        return float(value)

    rate_scope = dict(vars(K))
    rate_scope.update(live_rate=live_rate)
    new_rate = pytypes.FunctionType(_plain(K._new_rate).__code__, rate_scope, "_new_rate_python")
    scope = dict(vars(K))
    def estimate(pgroup, pid, pparams, pstate, now_s, *rest):
        clock[0] = float(now_s)  # the only place the loop hands out its clock before deciding
        return math.nan

    scope.update(start=lambda *args: None, choose=choose, report=report, _new_rate=new_rate,
                 estimate=estimate, latency_for=lambda *args: math.nan, learn=lambda *args: None)
    loop = pytypes.FunctionType(_plain(K.play_live).__code__, scope, "play_live_python")

    reset = getattr(controller, "reset", None)
    if callable(reset):
        reset()
    # a predictor id >= 0 so that the loop calls ``estimate`` (above) with its clock
    control = SessionControl(np.zeros(L.CTRL_PARAMS), 0, np.zeros(L.PRED_PARAMS), np.zeros(1),
                             np.zeros(0, dtype=np.float32))
    session_video = SessionVideo(sizes, ladder, video.chunk_s, n_rows, video.chunk_durations_s())
    n, status = loop(SessionTrace(end_s, bw_bps, lat_s, start_s, wrap_s), session_video,
                     lp, L.CTRL_PYTHON, control, L.PRED_GROUP_COMMON, float(duration_s), log, m)
    log[int(n):, :] = np.nan
    return int(n), int(status)


def _plain(fn: Any) -> Any:
    """The Python function behind a Numba dispatcher (itself when the JIT is disabled)."""
    return getattr(fn, "py_func", fn)
