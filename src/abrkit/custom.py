"""User controllers in Python: the slow, flexible twin of the compiled session loop.

Any object with a ``decide(obs) -> rung`` method is a controller: pass it to
:func:`abrkit.simulate`, :func:`abrkit.simulate_many` or :func:`abrkit.run_batch` wherever a
controller name goes, alone or mixed with built-in ones. Its sessions run in
:func:`play_session`, a Python loop that mirrors a session of ``_kernels.session.run_batch``
step for step: the same compiled network helpers (``advance_clock``, ``transfer``), the same profile
semantics (latency, payload efficiency, buffer cap and wait quantum, first-chunk rebuffering,
initial rung, ``max_chunks``, stalls after ``max_download_s``) and the same per-chunk log, so
the results land in the same tables, QoE included. They run one at a time in session order
(a controller may keep state between sessions), after the compiled ones.

The built-in controllers run on this path too, through :class:`BuiltinController`, which calls
their compiled decision code with the observation; the two paths give identical logs (tested
for every chunk-model controller). That is the check that the observation holds everything a
compiled controller sees.

``decide`` returns a rung, or a pair ``(rung, wait_s)`` to idle ``wait_s`` seconds before the
request (the buffer drains meanwhile, as with BOLA's delay). A controller may also define ``reset()``, called once before each session (keep per-session
state there), and ``name`` (used in result tables; the class name otherwise).

Units: seconds, bits per second, bytes (see the package docstring). The loop costs about 7 us
per chunk plus your ``decide`` (docs/custom-controllers.md); the compiled batch loop runs BB
at about 0.2 us per chunk.
"""

from __future__ import annotations

import importlib.util
import sys
import types as pytypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._kernels import layout as L
from ._kernels import contract
from ._kernels import pensieve_net as N
from ._kernels.network import advance_clock, oracle_throughput, transfer
from ._kernels.predictors import pred_latency, pred_predict, pred_update
from .controllers import Controller, FixedRung, get_controller
from .event_controllers import sabre_history
from .errors import ParameterError
from .observation import Observation, PythonController, UserSpec, is_python_controller
from .observation import checked_choice as _checked_choice
from .observation import checked_rung as _checked_rung
from .observation import name_of as _name_of
from .observation import readonly as _readonly
from .profiles import Profile
from .traces import Trace
from .video import Video

__all__ = [
    "Observation", "PythonController", "BuiltinController", "is_python_controller", "load_controller", "play_session",
    "spec_of",
]


class BuiltinController:
    """A built-in controller (name, spec string or :class:`~abrkit.Controller`) on the Python path.

    ``decide`` calls the same compiled decision code as the session loop, through the same
    controller contract (``_kernels/contract.py``), with the same predictor estimate: the
    predictor and the controller learn each new download from the observation (lazily, just
    before deciding, in the loop's order) and the oracle predictor asks the observation.
    """

    def __init__(self, controller: str | Controller, buffer_cap_s: float | None = None) -> None:
        self.controller = get_controller(controller)
        self._buffer_cap_s = buffer_cap_s
        self._n_draws = 0
        self._cdata = np.ascontiguousarray(self.controller.pack_data(0), dtype=np.float32)
        self._pid, pparams, self._n_state = self.controller.pack_predictor()
        self._pparams = np.ascontiguousarray(pparams, dtype=np.float64)
        self.reset()

    @property
    def name(self) -> str:
        return self.controller.name

    def _grow_draws(self) -> None:
        """A sampling controller's precomputed draws, grown between sessions so that the next
        one cannot run out (the stream is a prefix of the same seeded stream; the cursor and
        everything before it are kept)."""
        if not self.controller.carries_state():
            return
        if self._n_draws and _draws_left(self._cdata) >= _DRAW_MARGIN:
            return
        n = max(2 * self._n_draws, 4 * _DRAW_MARGIN)
        fresh = np.ascontiguousarray(self.controller.pack_data(n), dtype=np.float32)
        if self._n_draws:
            head = self._cdata.size - self._n_draws  # the network and the cursor
            fresh[:head] = self._cdata[:head]
        self._cdata, self._n_draws = fresh, n

    def reset(self) -> None:
        """Fresh predictor and controller state: a new session starts. The controller's data
        (a learned controller's weights and draw stream) is kept: a sampling controller's
        stream runs on from one session to the next, as in the compiled batch."""
        self._grow_draws()
        self._pstate = np.zeros(self._n_state, dtype=np.float64)
        self._cstate: np.ndarray | None = None
        self._seen = 0
        self._tables: tuple[Any, np.ndarray, np.ndarray, np.ndarray] | None = None

    def decide(self, obs: Observation) -> int | tuple[int, float]:
        # Writable copies of the observation's tables, made once per session: the kernels are
        # compiled for the session loop's (writable) arrays.
        if self._tables is None or self._tables[0] is not obs.sizes_bytes:
            self._tables = (obs.sizes_bytes, np.array(obs.bitrates_bps), np.array(obs.sizes_bytes),
                            np.array(obs.chunk_durations_s(), dtype=np.float64))
        _, ladder, sizes, durations = self._tables
        if self._cstate is None:
            cap_s = obs.profile.buffer_cap_s if self._buffer_cap_s is None else self._buffer_cap_s
            kind, cparams = self.controller.pack_for(cap_s)
            self._kind, self._cparams = kind, np.ascontiguousarray(cparams, dtype=np.float64)
            self._cstate = np.zeros(L.CTRL_STATE + 3 * ladder.size)
            contract.start(kind, self._cparams, self._cstate, self._cdata, ladder, obs.chunk_s)
        kind, cparams, cstate = self._kind, self._cparams, self._cstate
        prof_vec = obs.profile.pack() if isinstance(obs.profile, Profile) else obs.profile.planner_vector()
        for i in range(self._seen, obs.sample_bytes.size):
            # the loop's order after a download: the controller's report, the full-buffer wait,
            # then the predictor's update (one new download per decision: it was chunk i)
            size, meas_s, lat_s = float(obs.sample_bytes[i]), float(obs.sample_time_s[i]), float(obs.sample_latency_s[i])
            delay_s = float(obs.sample_delay_s[i])
            wait_s = float(obs.sample_wait_s[i])
            # (download i was chunk i in the chunk model; the other models' chunks all last chunk_s)
            dur_s = float(durations[i]) if i < durations.size else float(obs.chunk_s)
            contract.report(kind, cparams, cstate, i, obs.prev_rung, size, delay_s, float(obs.sample_buffer_s[i]), ladder,
                            dur_s)
            if wait_s > 0.0:
                contract.full_wait(kind, cparams, cstate, wait_s)
            if self._pid >= 0:
                pred_update(self._pid, self._pparams, self._pstate, size, meas_s, lat_s, float(obs.sample_end_s[i]))
        self._seen = obs.sample_bytes.size
        est_bps = np.nan
        est_latency_s = np.nan
        if self._pid == L.PRED_ORACLE:
            est_bps = obs.oracle_throughput_bps(sizes[obs.chunk, max(obs.prev_rung, 0)])
        elif self._pid >= 0:
            est_bps = pred_predict(self._pid, self._pparams, self._pstate, obs.session_s, np.nan)
            est_latency_s = pred_latency(self._pid, self._pparams, self._pstate)
        rung, wait_s = contract.choose(
            kind, cparams, cstate, self._cdata, obs.chunk, obs.n_chunks, obs.buffer_s, obs.prev_rung, ladder, sizes, durations,
            est_bps, est_latency_s, obs.last_latency_s, prof_vec,
        )
        return (int(rung), float(wait_s)) if wait_s > 0.0 else int(rung)


#: A sampling BuiltinController tops its draws up when fewer than this many are left.
_DRAW_MARGIN = 1 << 14


def _draws_left(cdata: np.ndarray) -> int:
    """Draws not yet used in a sampling learned controller's data (``pensieve_net`` layout)."""
    cursor = int(cdata[N.DRAW_CURSOR_HI]) * N.CURSOR_SPLIT + int(cdata[N.DRAW_CURSOR_LO])
    return cdata.size - N.DRAWS - cursor


def load_controller(spec: str) -> Any:
    """A Python controller from a file: ``"path/to/rules.py:ClassName"`` gives ``ClassName()``.

    Without ``:ClassName`` the file must define exactly one class with a ``decide`` method.
    The class is instantiated without arguments. Errors name the file and what is wrong.
    """
    path_text, _, class_name = spec.partition(".py:") if ".py:" in spec else (spec[:-3], "", "")
    path = Path(path_text + ".py")
    if not path.is_file():
        raise ParameterError("controller", spec, f"no such Python file: {path}")
    module_name = f"abrkit_user_controllers.{path.stem}_{abs(hash(str(path.resolve())))}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise ParameterError("controller", spec, f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module  # dataclasses and pickling look classes up by module
    try:
        loader_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise ParameterError("controller", spec, f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    candidates = sorted(
        name for name, obj in vars(module).items()
        if isinstance(obj, type) and obj.__module__ == module_name and callable(getattr(obj, "decide", None))
    )
    if not class_name:
        if len(candidates) != 1:
            found = ", ".join(candidates) or "none"
            raise ParameterError("controller", spec, f"name the class as {path}:ClassName (classes with decide(): {found})")
        class_name = candidates[0]
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        found = ", ".join(candidates) or "none"
        raise ParameterError("controller", spec, f"{path} has no class {class_name!r} (classes with decide(): {found})")
    try:
        controller = cls()
    except Exception as exc:
        raise ParameterError("controller", spec, f"{class_name}() failed: {type(exc).__name__}: {exc}") from exc
    if not is_python_controller(controller):
        raise ParameterError("controller", spec, f"{class_name} needs a decide(obs) method returning a rung index")
    return controller


def spec_of(controller: Any) -> Any:
    """What result tables show for ``controller``: the built-in spec behind a
    :class:`BuiltinController`, else an object with the user controller's ``name`` and
    ``settings()``."""
    if isinstance(controller, BuiltinController):
        return controller.controller
    return UserSpec(_name_of(controller), type(controller).__qualname__)


def play_session(
    trace: Trace, video: Video, controller: Any, prof: Profile, n_chunks: int, log: np.ndarray
) -> tuple[int, int, float]:
    """One session of ``session.run_batch`` in Python: fills ``log[:n_done]`` (shape (>= n_chunks,
    layout.LOG_COLS)) and returns (n_done, status, startup_s), like the kernel.

    Kept line for line in the kernel's order, so that the arithmetic, and hence every logged
    number, is the same. No validation: :func:`abrkit.run_batch` checks the arguments first;
    ``controller`` must already have ``decide``.
    """
    end_s, bw_bps, lat_arr_s, start_s, wrap_s = prof.kernel_trace(trace)
    if not np.any(bw_bps > 0.0):
        return 0, L.STATUS_NO_BANDWIDTH, 0.0
    p = prof.pack()
    rtt_s = p[L.PROF_RTT_S]
    rtt_moves = p[L.PROF_RTT_ADVANCES_CLOCK] != 0.0
    eff = p[L.PROF_EFFICIENCY]
    max_dl_s = p[L.PROF_MAX_DOWNLOAD_S]
    thr_with_lat = p[L.PROF_THROUGHPUT_INCLUDES_LATENCY] != 0.0
    cap_s = p[L.PROF_BUFFER_CAP_S]
    quantum_s = p[L.PROF_WAIT_QUANTUM_S]
    first_rebuffers = p[L.PROF_FIRST_CHUNK_REBUFFERS] != 0.0
    initial_rung = int(p[L.PROF_INITIAL_RUNG])
    sizes = np.array(video.sizes_bytes, dtype=np.float64)  # the loop's own copy
    n_rungs = video.n_rungs
    chunk_s = float(video.chunk_s)
    durations = video.chunk_durations_s()  # each chunk's own duration (chunk_s repeated for equal chunks)
    name = _name_of(controller)
    ladder_ro = _readonly(np.array(video.bitrates_bps, dtype=np.float64))
    sizes_ro = _readonly(sizes.copy())
    durations_ro = _readonly(durations.copy())
    s_bytes, s_time, s_lat, s_end, s_delay, s_buf, s_wait = (np.zeros(n_chunks) for _ in range(7))

    ptr = 0
    clock_s = float(start_s)
    session_s = 0.0
    buffer_s = 0.0
    startup_s = 0.0
    prev = -1

    def oracle(size_bytes: float) -> float:
        return float(oracle_throughput(end_s, bw_bps, lat_arr_s, wrap_s, ptr, clock_s, size_bytes, p))

    reset = getattr(controller, "reset", None)
    if callable(reset):
        reset()
    for k in range(n_chunks):
        ctrl_wait_s = 0.0
        if k == 0 and initial_rung >= 0:
            rung = min(initial_rung, n_rungs - 1)
        else:
            obs = Observation(
                chunk=k, n_chunks=n_chunks, buffer_s=buffer_s, prev_rung=prev, session_s=session_s, chunk_s=chunk_s,
                bitrates_bps=ladder_ro, sizes_bytes=sizes_ro, sample_bytes=_readonly(s_bytes[:k]),
                sample_time_s=_readonly(s_time[:k]), sample_latency_s=_readonly(s_lat[:k]),
                sample_end_s=_readonly(s_end[:k]), sample_delay_s=_readonly(s_delay[:k]),
                sample_buffer_s=_readonly(s_buf[:k]), sample_wait_s=_readonly(s_wait[:k]),
                profile=prof, _oracle=oracle, durations_s=durations_ro,
            )
            rung, ctrl_wait_s = _checked_choice(controller.decide(obs), n_rungs, name, k)
        size = sizes[k, rung]

        rebuf_s = 0.0
        if ctrl_wait_s > 0.0:  # the controller idles first; the buffer drains meanwhile
            if k == 0 and not first_rebuffers:
                startup_s += ctrl_wait_s
            else:
                rebuf_s = max(ctrl_wait_s - buffer_s, 0.0)
            buffer_s = max(buffer_s - ctrl_wait_s, 0.0)
            ptr, clock_s = advance_clock(end_s, wrap_s, ptr, clock_s, ctrl_wait_s)
            session_s += ctrl_wait_s

        lat_s = rtt_s if rtt_s >= 0.0 else lat_arr_s[ptr]
        if rtt_moves and lat_s > 0.0:
            ptr, clock_s = advance_clock(end_s, wrap_s, ptr, clock_s, lat_s)
        xfer_s, ptr, clock_s, done = transfer(end_s, bw_bps, wrap_s, ptr, clock_s, size, eff, max_dl_s)
        if not done:
            return k, L.STATUS_STALLED, startup_s
        delay_s = xfer_s + lat_s

        dur_s = durations[k]  # this chunk's own duration
        if k == 0 and not first_rebuffers:
            startup_s += delay_s
            buffer_s = dur_s
        else:
            rebuf_s += max(delay_s - buffer_s, 0.0)
            buffer_s = max(buffer_s - delay_s, 0.0) + dur_s
        s_buf[k] = buffer_s
        s_delay[k] = delay_s

        wait_s = 0.0
        if buffer_s > cap_s:
            drain_s = buffer_s - cap_s
            if quantum_s > 0.0:
                wait_s = np.ceil(drain_s / quantum_s) * quantum_s
            else:
                wait_s = drain_s
            buffer_s -= wait_s
            ptr, clock_s = advance_clock(end_s, wrap_s, ptr, clock_s, wait_s)

        meas_s = delay_s if thr_with_lat else xfer_s
        log[k, L.LOG_RUNG] = rung
        log[k, L.LOG_SIZE_BYTES] = size
        log[k, L.LOG_LATENCY_S] = lat_s
        log[k, L.LOG_DELAY_S] = delay_s
        log[k, L.LOG_BUFFER_S] = buffer_s
        log[k, L.LOG_REBUFFER_S] = rebuf_s
        log[k, L.LOG_WAIT_S] = wait_s
        log[k, L.LOG_THROUGHPUT_BPS] = size * 8.0 / meas_s
        log[k, L.LOG_REQUEST_S] = session_s
        log[k, L.LOG_CTRL_WAIT_S] = ctrl_wait_s
        done_s = session_s + delay_s
        s_bytes[k], s_time[k], s_lat[k], s_end[k], s_wait[k] = size, meas_s, lat_s, done_s, wait_s
        session_s = done_s + wait_s
        prev = rung
    return n_chunks, L.STATUS_COMPLETE, startup_s


# -- the event model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    """A download in progress, as the event model shows it to ``abandon(download)``.

    ``elapsed_s`` runs from the request (the latency included); ``buffer_s`` is the buffer now.
    """

    segment: int
    rung: int
    size_bytes: float
    downloaded_bytes: float
    elapsed_s: float
    latency_s: float
    buffer_s: float


def play_event_session(
    trace: Trace, video: Video, controller: Any, prof: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """One event-model session of a Python controller: (metrics, request log, played, status),
    as the event kernel returns them.

    The loop is the event kernel's own source (``_kernels.event.play_event``) run as Python,
    with the controller's hooks routed to ``controller``: ``decide(obs)`` before each request
    (a rung, or ``(rung, wait_s)`` to idle first) and, if the controller has it,
    ``abandon(download) -> rung or None`` at every poll of a download in progress (a lower rung
    abandons it; Sabre's ``-a custom.py``). The first segment is the player's, at the lowest
    rung, as for every controller in this model. The player's network and playback steps are
    the compiled ones, so everything but the controller is the kernel's arithmetic.
    """
    from ._kernels import event as K
    from ._kernels import event_layout as E
    from .event import video_arrays

    name = _name_of(controller)
    tr = prof.kernel_trace(trace)
    seg_ms, bitrates_kbps, sizes_bits = video_arrays(video)
    windows, half_lives_ms = sabre_history()
    cfg = prof.config(FixedRung(), video)  # the player's settings, no rule of Sabre's
    cfg[E.C_ABR] = -1.0
    hook = getattr(controller, "abandon", None)
    cfg[E.C_ABANDON] = 1.0 if callable(hook) else 0.0
    n_seg, n_rungs = sizes_bits.shape
    chunk_s = float(video.chunk_s)
    ladder_ro = _readonly(np.array(video.bitrates_bps, dtype=np.float64))
    sizes_ro = _readonly(np.array(video.sizes_bytes, dtype=np.float64))
    s_bytes, s_time, s_lat, s_end, s_delay, s_buf, s_wait = (np.zeros(4 * n_seg + 8) for _ in range(7))
    n_samples = [0]
    current = [0]  # the segment the next download is for

    def no_oracle(size_bytes: float) -> float:
        raise ParameterError("oracle", "oracle_throughput_bps", "the event model has no look-ahead")

    def ask(kind, st, cfg, level, seg, n_seg, seg_ms, bitrates, u0, u1, cparams, cstate, pid, pgroup, pparams, pstate,
            prof_vec, last_q, last_ttfb, bitrates_bps, sizes_bytes, durations_s, cdata):
        k = n_samples[0]
        obs = Observation(
            chunk=int(seg), n_chunks=n_seg, buffer_s=level / 1e3, prev_rung=int(last_q), session_s=st[E.S_NET_TIME] / 1e3,
            chunk_s=chunk_s, bitrates_bps=ladder_ro, sizes_bytes=sizes_ro, sample_bytes=_readonly(s_bytes[:k]),
            sample_time_s=_readonly(s_time[:k]), sample_latency_s=_readonly(s_lat[:k]), sample_end_s=_readonly(s_end[:k]),
            sample_delay_s=_readonly(s_delay[:k]), sample_buffer_s=_readonly(s_buf[:k]),
            sample_wait_s=_readonly(s_wait[:k]), profile=prof, _oracle=no_oracle,
        )
        rung, wait_s = _checked_choice(controller.decide(obs), n_rungs, name, int(seg))
        current[0] = int(seg)
        return rung, wait_s * 1e3

    def tell(kind, st, cfg, quality, time_ms, to, is_replacement, level, seg_ms, bitrates, u1, seg, cparams, cstate, pid,
             pgroup, pparams, pstate, got_bits, ttfb_ms, request_ms, bitrates_bps, first):
        if to != K.NO_ABANDON:
            return
        k = n_samples[0]
        if k >= s_bytes.size:
            return
        s_bytes[k], s_time[k], s_lat[k] = got_bits / 8, (time_ms - ttfb_ms) / 1e3, ttfb_ms / 1e3
        s_end[k], s_delay[k], s_buf[k] = (request_ms + time_ms) / 1e3, time_ms / 1e3, level / 1e3
        n_samples[0] = k + 1

    def waited(kind, st, cfg, cparams, cstate, delay_ms):
        if n_samples[0] > 0:
            s_wait[n_samples[0] - 1] += delay_ms / 1e3

    def download(st, cfg, tr, pq, buf, seg_ms, bitrates, u0, u1, buffer_cap_ms, size, quality, level_ms, mode):
        if mode != 1 or not callable(hook) or size <= 0:
            return K.download(st, cfg, tr, pq, buf, seg_ms, bitrates, u0, u1, buffer_cap_ms, size, quality, level_ms, mode)
        # Sabre's polling: every min_progress_ms or min_progress_bits, whichever is later
        latency = K.latency_delay(st, tr, pq, buf, seg_ms, bitrates, buffer_cap_ms)
        min_bits, min_ms = cfg[E.C_MIN_PROGRESS_BITS], cfg[E.C_MIN_PROGRESS_MS]
        total_time, total_size = latency, 0.0
        time_to_progress, size_to_progress = min_ms - total_time, min_bits
        max_ms = cfg[E.C_MAX_DOWNLOAD_MS] if cfg[E.C_MAX_DOWNLOAD_MS] > 0 else np.inf
        segment = current[0]
        while total_size < size:
            bits, t = K.minimal_download(st, tr, pq, buf, seg_ms, bitrates, buffer_cap_ms, size - total_size,
                                         size_to_progress, time_to_progress)
            total_time += t
            total_size += bits
            time_to_progress, size_to_progress = min_ms, min_bits
            if total_size >= size:
                break
            if total_time >= max_ms:  # as the kernel's polling loop: checked at each poll
                return total_size, total_time, latency, E.DOWNLOAD_TIMED_OUT
            progress = Download(
                segment=segment, rung=int(quality), size_bytes=size / 8, downloaded_bytes=total_size / 8,
                elapsed_s=total_time / 1e3, latency_s=latency / 1e3, buffer_s=max(0.0, level_ms - total_time) / 1e3,
            )
            to = hook(progress)
            if to is not None:
                to = _checked_rung(to, n_rungs, name, segment)
                if to >= quality:
                    raise ParameterError(
                        "abandon", to, f"controller {name!r} returned it for segment {segment}: an abandonment goes "
                        f"to a rung below the one downloading ({quality}), or None to go on",
                    )
                return total_size, total_time, latency, to
        return total_size, total_time, latency, K.NO_ABANDON

    scope = dict(vars(K))
    scope.update(ask=ask, tell=tell, waited=waited, fetch=lambda kind, *args: download(*args), begin=lambda *args: None)
    source = getattr(K.play_event, "py_func", K.play_event)  # the plain function when the JIT is disabled
    loop = pytypes.FunctionType(source.__code__, scope, "play_event_python")

    reset = getattr(controller, "reset", None)
    if callable(reset):
        reset()
    metrics = np.empty(E.N_METRICS)
    capacity = 64 * n_seg + 8  # requests logged; more (endless abandonments) are counted, not kept
    log = np.empty((capacity, E.E_COLS))
    played = np.full((n_seg, 2), np.nan)
    n_log, status = loop(
        tr, seg_ms, bitrates_kbps, sizes_bits, cfg, windows, half_lives_ms, metrics, log, played,
        L.CTRL_PYTHON, np.zeros(1), L.PRED_NONE, L.PRED_GROUP_COMMON, np.zeros(1), np.zeros(1), np.zeros(1),
        np.ascontiguousarray(video.bitrates_bps, dtype=np.float64), sizes_ro, np.zeros(0, dtype=np.float32),
    )
    n_played = int(np.count_nonzero(~np.isnan(played[:, 0])))
    return metrics, log[: min(n_log, capacity)].copy(), played[:n_played].copy(), int(status)
