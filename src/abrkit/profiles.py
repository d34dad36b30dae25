"""Simulator profiles: the player and network model a session runs under.

``default`` is abrkit's clean model. ``pensieve`` reproduces Pensieve's test simulator
(``test/fixed_env.py``) decision for decision; each of its departures from the clean model is a
named field, so any one can be switched back:

=============================  ==========  ==========================================================
field                          pensieve    behaviour in Pensieve's ``fixed_env.py``
=============================  ==========  ==========================================================
``rtt_s``                      0.08        ``LINK_RTT = 80`` ms added to every download's delay
``rtt_advances_clock``         False       ... but the trace clock does not move during those 80 ms
``payload_efficiency``         0.95        ``PACKET_PAYLOAD_PORTION``: 95 % of the link rate is payload
``buffer_cap_s``               60          ``BUFFER_THRESH``
``wait_quantum_s``             0.5         a full buffer sleeps ``ceil(excess / 500 ms)`` x 500 ms, the
                                           buffer drops by that whole sleep, and the trace clock runs on
``trace_alignment``            "end"       a trace line's bandwidth applies to the interval *ending* at
                                           its time (``cooked_bw[ptr]`` over ``(t[ptr-1], t[ptr]]``), so
                                           line 0's bandwidth is never used; a trace that runs out wraps
                                           to its second line with the clock reset to 0
``first_chunk_rebuffers``      True        the buffer starts empty and the first chunk's whole download
                                           (RTT included) is counted as rebuffering
``initial_rung``               1           the first chunk is requested at rung 1 (``DEFAULT_QUALITY``)
``max_chunks``                 48          ``TOTAL_VIDEO_CHUNCK``: 48 of the 49 chunks in the size files
``throughput_includes_latency``True        throughput samples are size / delay, the RTT included
``qoe``                        linear      totals skip chunk 0, as Pensieve's published numbers do
=============================  ==========  ==========================================================

Pensieve's ``test/mpc.py`` (RobustMPC) adds its own departures; they change MPC, RobustMPC and
(``carry_robust_errors``) any controller whose predictor is a RobustDiscount, nothing else:

=============================  ==========  ==========================================================
field                          pensieve    behaviour in Pensieve's ``mpc.py``
=============================  ==========  ==========================================================
``mpc_sizes_one_ahead``        True        chunk k is planned with the sizes of chunks k+1 .. k+h
                                           (``index = last_index + position + 1``); past the size
                                           table a chunk weighs 0 bytes (``get_chunk_size``)
``carry_robust_errors``        True        the error history and last raw estimate of the robust
                                           discount are module globals: they carry from one session
                                           to the next (the throughput window does not); batches then
                                           run serially in job order
``mpc_plan_ignores_rtt``       True        planned downloads take ``size / estimate``, no latency
                                           (the clean plan adds the previous request's latency, but
                                           only when samples exclude it, so with
                                           ``throughput_includes_latency`` this changes nothing)
``mpc_plan_ignores_buffer_cap``True        the planned buffer grows past ``BUFFER_THRESH``
``mpc_ties``                   "last"      ``reward >= max_reward``: among equal objectives the last
                                           sequence in ``itertools.product`` order wins (clean:
                                           ``"first"``, the lowest)
=============================  ==========  ==========================================================

``pensieve-train`` (in ``TRAINING_PROFILES``) is ``pensieve`` under the training conditions of
Pensieve's ``sim/env.py``, for :mod:`abrkit.rl`'s environments only (they own the seeded
generator these draws come from; ``simulate`` refuses a profile that draws):

=============================  ==========  ==========================================================
field                          value       behaviour in Pensieve's ``sim/env.py``
=============================  ==========  ==========================================================
``random_start``               True        each episode (video) plays a uniformly drawn trace from the
                                           start of a uniformly drawn period (``mahimahi_ptr =
                                           randint(1, len(cooked_bw))``, the clock at the line before);
                                           False: from the trace's start
``delay_noise``                (0.9, 1.1)  each chunk's delay (transfer time plus the 80 ms RTT) is
                                           multiplied by a factor drawn from U(0.9, 1.1); the noisy
                                           delay drains the buffer, counts as rebuffering and is the
                                           throughput sample's time; the trace clock runs for the
                                           transfer alone, unscaled. (1.0, 1.0): no noise
=============================  ==========  ==========================================================

Every other field is ``pensieve``'s (``initial_rung`` 1 is Pensieve's ``DEFAULT_QUALITY``, which its
training loop, ``sim/multi_agent.py``, requests first in every video).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ._checks import integer, number
from ._kernels import layout as L
from .errors import ParameterError
from .dashjs import DashjsProfile
from .hlsjs import HlsjsProfile
from .event import EVENT_PROFILES, MAX_BUFFER_CAP_S, MAX_DOWNLOAD_S, EventProfile
from .qoe import QoE
from .traces import Trace
from .traces.formats import MAX_LATENCY_S

__all__ = ["Profile", "PROFILES", "TRAINING_PROFILES", "get_profile"]

_ALIGNMENTS = ("start", "end")
_TIES = ("first", "last")


@dataclass(frozen=True)
class Profile:
    """Player and network model of a simulation (see the module docstring for the fields)."""

    name: str = "default"
    rtt_s: float | None = None
    rtt_advances_clock: bool = True
    payload_efficiency: float = 1.0
    buffer_cap_s: float = 60.0
    wait_quantum_s: float = 0.0
    trace_alignment: str = "start"
    first_chunk_rebuffers: bool = False
    initial_rung: int | None = None
    max_chunks: int | None = None
    throughput_includes_latency: bool = True
    max_download_s: float = 600.0
    qoe: QoE = field(default_factory=QoE.linear)
    mpc_sizes_one_ahead: bool = False
    mpc_plan_ignores_rtt: bool = False
    mpc_plan_ignores_buffer_cap: bool = False
    mpc_ties: str = "first"
    carry_robust_errors: bool = False
    random_start: bool = False
    delay_noise: tuple[float, float] = (1.0, 1.0)

    def __post_init__(self) -> None:
        if self.rtt_s is not None:
            number("rtt_s", self.rtt_s, ge=0, le=MAX_LATENCY_S)
        number("payload_efficiency", self.payload_efficiency, gt=0, le=1)
        cap = number("buffer_cap_s", self.buffer_cap_s, gt=0, le=MAX_BUFFER_CAP_S)
        # A wait of whole quanta can overshoot the excess by up to one quantum: beyond the cap
        # that would drive the buffer below zero.
        number("wait_quantum_s", self.wait_quantum_s, ge=0, le=cap)
        if self.trace_alignment not in _ALIGNMENTS:
            raise ParameterError("trace_alignment", self.trace_alignment, f"must be one of {', '.join(_ALIGNMENTS)}")
        if self.initial_rung is not None:
            integer("initial_rung", self.initial_rung, ge=0)
        if self.max_chunks is not None:
            integer("max_chunks", self.max_chunks, ge=1)
        number("max_download_s", self.max_download_s, gt=0, le=MAX_DOWNLOAD_S)
        for key in ("mpc_sizes_one_ahead", "mpc_plan_ignores_rtt", "mpc_plan_ignores_buffer_cap", "carry_robust_errors"):
            if not isinstance(getattr(self, key), bool):
                raise ParameterError(key, getattr(self, key), "must be True or False")
        if self.mpc_ties not in _TIES:
            raise ParameterError("mpc_ties", self.mpc_ties, f"must be one of {', '.join(_TIES)}")
        if not isinstance(self.random_start, bool):
            raise ParameterError("random_start", self.random_start, "must be True or False")
        try:
            low, high = self.delay_noise
        except (TypeError, ValueError):
            raise ParameterError("delay_noise", self.delay_noise, "must be a pair (low, high)") from None
        low = number("delay_noise[0]", low, gt=0)
        if number("delay_noise[1]", high, ge=low) > 100.0 * low:
            raise ParameterError("delay_noise", self.delay_noise, "high must be <= 100 x low")
        object.__setattr__(self, "delay_noise", (low, float(high)))

    @property
    def is_training(self) -> bool:
        """True when sessions draw random numbers (``random_start``, ``delay_noise``): such a
        profile runs only in :mod:`abrkit.rl`'s environments, which own a seeded generator."""
        return self.random_start or self.delay_noise != (1.0, 1.0)

    def replace(self, **changes: Any) -> "Profile":
        return replace(self, **changes)

    def pack(self) -> np.ndarray:
        p = np.zeros(L.PROF_SIZE, dtype=np.float64)
        p[L.PROF_RTT_S] = -1.0 if self.rtt_s is None else self.rtt_s
        p[L.PROF_RTT_ADVANCES_CLOCK] = float(self.rtt_advances_clock)
        p[L.PROF_EFFICIENCY] = self.payload_efficiency
        p[L.PROF_BUFFER_CAP_S] = self.buffer_cap_s
        p[L.PROF_WAIT_QUANTUM_S] = self.wait_quantum_s
        p[L.PROF_FIRST_CHUNK_REBUFFERS] = float(self.first_chunk_rebuffers)
        p[L.PROF_INITIAL_RUNG] = -1.0 if self.initial_rung is None else float(self.initial_rung)
        p[L.PROF_MAX_DOWNLOAD_S] = self.max_download_s
        p[L.PROF_THROUGHPUT_INCLUDES_LATENCY] = float(self.throughput_includes_latency)
        p[L.PROF_MPC_SIZES_AHEAD] = float(self.mpc_sizes_one_ahead)
        p[L.PROF_MPC_IGNORE_LATENCY] = float(self.mpc_plan_ignores_rtt)
        p[L.PROF_MPC_IGNORE_CAP] = float(self.mpc_plan_ignores_buffer_cap)
        p[L.PROF_MPC_TIES_LAST] = float(self.mpc_ties == "last")
        p[L.PROF_CARRY_ROBUST] = float(self.carry_robust_errors)
        return p

    def kernel_trace(self, trace: Trace) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
        """(period_end_s, bandwidth_bps, latency_s, start_s, wrap_s) as the session loop reads them.

        Cached on the (immutable) trace per alignment, so sweeps that reuse traces pack once.
        """
        key = ("kernel_trace", self.trace_alignment)
        cached = trace._cache.get(key)
        if cached is None:
            cached = trace._cache[key] = self._kernel_trace(trace)
        return cached

    def _kernel_trace(self, trace: Trace) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
        lat = trace.latency_s if trace.latency_s is not None else np.zeros(trace.n_periods)
        if self.trace_alignment == "start":
            ends = np.append(trace.time_s[1:], trace.end_s)
            return ends, trace.bandwidth_bps, lat, float(trace.time_s[0]), float(trace.time_s[0])
        if trace.n_periods < 2:
            raise ParameterError(
                "trace", trace.name or "<trace>",
                "trace_alignment='end' (Pensieve) needs at least two trace points: the first one's bandwidth is never used",
            )
        return trace.time_s[1:], trace.bandwidth_bps[1:], lat[1:], float(trace.time_s[0]), 0.0

    def settings(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "qoe"}
        if not self.is_training:  # keep the settings of the simulator's profiles as they were
            d.pop("random_start")
            d.pop("delay_noise")
        return {"profile": d.pop("name"), **d}


PROFILES: dict[str, Profile] = {
    "default": Profile(),
    "pensieve": Profile(
        name="pensieve",
        rtt_s=0.08,
        rtt_advances_clock=False,
        payload_efficiency=0.95,
        buffer_cap_s=60.0,
        wait_quantum_s=0.5,
        trace_alignment="end",
        first_chunk_rebuffers=True,
        initial_rung=1,
        max_chunks=48,
        throughput_includes_latency=True,
        qoe=QoE.linear(include_first_chunk=False),
        mpc_sizes_one_ahead=True,
        mpc_plan_ignores_rtt=True,
        mpc_plan_ignores_buffer_cap=True,
        mpc_ties="last",
        carry_robust_errors=True,
    ),
}


#: Profiles that draw random numbers (``Profile.is_training``): for :mod:`abrkit.rl`'s
#: environments, which seed them; ``simulate`` refuses them.
TRAINING_PROFILES: dict[str, Profile] = {
    "pensieve-train": PROFILES["pensieve"].replace(name="pensieve-train", random_start=True, delay_noise=(0.9, 1.1)),
}


#: The dash.js 5.2.1 player (abrkit.dashjs), an event-model profile with its own loop.
EVENT_PROFILES["dashjs"] = DashjsProfile()
#: The hls.js 1.7.4 player (abrkit.hlsjs): the dash.js loop with hls.js's settings.
EVENT_PROFILES["hlsjs"] = HlsjsProfile()


def get_profile(spec: Any) -> Any:
    """A profile by name: the chunk model's (``PROFILES``), the event model's (``EVENT_PROFILES``)
    or the live model's (``abrkit.live.LIVE_PROFILES``)."""
    from .live import LIVE_PROFILES, LiveProfile

    if isinstance(spec, (Profile, EventProfile, LiveProfile)):
        return spec
    name = str(spec).lower()
    if name in EVENT_PROFILES:
        return EVENT_PROFILES[name]
    if name in LIVE_PROFILES:
        return LIVE_PROFILES[name]
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join([*PROFILES, *EVENT_PROFILES, *LIVE_PROFILES])
        raise ParameterError("profile", spec, f"unknown profile; known: {known}") from None
