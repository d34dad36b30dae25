"""The one controller contract: what every player model's loop calls, for every controller.

Each loop (the chunk model in ``session.py``, the event model in ``event.py``, the live model in
``live.py``) asks a controller through three functions, always in seconds, bytes and bits per
second:

* ``start(kind, cparams, cstate, cdata, bitrates_bps, chunk_s)`` once per session, after the
  loop zeroed ``cstate`` (shape ``(CTRL_STATE + 3 * n_rungs,)``); ``chunk_s`` is the video's
  nominal chunk duration;
* ``choose(kind, cparams, cstate, cdata, k, n_chunks, buffer_s, prev_rung, bitrates_bps,
  sizes_bytes, durations_s, est_bps, est_latency_s, latency_s, prof) -> (rung, wait_s)`` before chunk ``k``:
  the buffer, the previous rung (-1 before the first chunk), the ladder, the video's whole size
  table (it may hold more rows than the ``n_chunks`` played) and each of its chunks' own
  duration (``durations_s``, one per row: the chunk model's videos may have segments of unequal
  duration; the other loops pass their one segment duration repeated), the estimate of the controller's
  predictor (NaN: none yet) and its latency estimate, the previous request's latency (0 before
  the first) and the chunk-model profile vector (``layout.PROF_*``; the event model passes a
  clean one). ``wait_s`` > 0 asks the player to idle before the request (BOLA's delay);
* ``report(kind, cparams, cstate, k, rung, size_bytes, download_s, buffer_s, bitrates_bps,
  chunk_s)`` after each completed download (``download_s`` from request to last byte,
  ``buffer_s`` after it, ``chunk_s`` the duration of the chunk downloaded), and
  ``full_wait(kind, cparams, cstate, wait_s)`` when the player waited
  because its buffer was full.

The live model adds one hook: ``live_rate(kind, cparams, cstate, buffer_s, latency_s, target_s,
prof) -> rate`` before each request and after each download, NaN (every controller but LoL+) to
leave the playback rate to the profile's catch-up rule. There ``prof`` is the live profile
vector (``live_layout.LP_*``, which extends ``layout.PROF_*`` with the current latency and rate
that L2A-LL and LoL+ read), and ``report``'s ``download_s`` is the time bytes were flowing (idle
gaps waiting for the encoder and the request latency excluded).

``cdata`` is the controller's own data (float32, 1-D; ``groups.Controllers.data``): a learned
controller's network weights, which are too large for ``cparams`` and shared by all its
sessions, and its sample policy's draws; empty for the other controllers. Only ``start`` and
``choose`` take it: no other hook needs it.

``kind`` is the controller id (``layout.CTRL_*``). The loops receive it as a compile-time
literal (``numba.literally`` in their entry points), and each function here is an ``@overload``
that, for that literal, returns the code of that one controller: a run compiles only the
controllers it uses; the few-line rules are inlined (no call per chunk), the heavy ones called
out of line (see ``specialise``). Called
from Python (the JIT disabled, or the Python twins of the loops) the same functions dispatch at
run time to the very same implementations.

Abandoning a download in progress is a hook of the event model only (its polling loop, in
``event.py``); the chunk model downloads whole chunks and has no such event.

Sabre's rules (``kind == CTRL_SABRE``, the rule in ``cparams[C_ABR]``) keep the event kernel's state vector ``st`` in
``cstate[:S_SIZE]``, and their utilities and ladder in Sabre's units after it: ``u0`` (BOLA's
``log(b / b_0)``), ``u1`` (BOLA-E's ``1 + log(b / b_0)``) and the ladder in kbit/s, ``n_rungs``
values each, from ``CTRL_STATE`` on. Their parameter vector is the event config (``C_*``).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba.core import types
from numba.core.errors import TypingError
from numba.extending import overload

from .._jit import OVERLOAD_OPTIONS
from . import event_layout as E
from .controllers import bb_pensieve, bba0, bba1, highest_below, mpc_decide
from .sabre_rules import NO_ABANDON, controller_decide, controller_report, init_controller
from .festive import festive_decide, festive_report
from .dashjs_rules import dashjs5_choose, dashjs5_idle, dashjs5_report, dashjs5_start
from .hlsjs_rules import hlsjs_choose, hlsjs_report, hlsjs_start
from .live_rules import LOLP_P_OWN_RATE, catchup_lolp, l2a_choose, l2a_report, l2a_start, lolp_choose
from .live_layout import LP_BUFFER_MIN_S, LP_RATE_MAX, LP_RATE_MIN
from .pensieve_net import ST_LAST_DELAY_S, ST_LAST_SIZE_BYTES, pensieve_choose, pensieve_start
from .layout import (
    CTRL_BB_PENSIEVE,
    CTRL_BBA0,
    CTRL_BBA1,
    CTRL_DASHJS5,
    CTRL_FESTIVE,
    CTRL_FIXED,
    CTRL_HLSJS,
    CTRL_L2A,
    CTRL_LOLP,
    CTRL_MPC,
    CTRL_PENSIEVE,
    CTRL_RATE,
    CTRL_SABRE,
    CTRL_SIMPLE,
    CTRL_STATE,
    CPARAM_ID,
)

# -- implementations, one per controller (plain functions: compiled through the overloads) ----------


def _start_none(kind, cparams, cstate, cdata, bitrates_bps, chunk_s):
    pass


def _start_sabre(kind, cparams, cstate, cdata, bitrates_bps, chunk_s):
    n = bitrates_bps.size
    kbps = cstate[CTRL_STATE + 2 * n : CTRL_STATE + 3 * n]
    u0 = cstate[CTRL_STATE : CTRL_STATE + n]
    u1 = cstate[CTRL_STATE + n : CTRL_STATE + 2 * n]
    for q in range(n):
        kbps[q] = bitrates_bps[q] / 1000.0
    offset0 = 0 - math.log(kbps[0])
    offset1 = 1 - math.log(kbps[0])
    for q in range(n):
        u0[q] = math.log(kbps[q]) + offset0
        u1[q] = math.log(kbps[q]) + offset1
    st = cstate[: E.S_SIZE]
    st[E.S_THROUGHPUT] = np.nan
    st[E.S_LATENCY] = np.nan
    init_controller(st, cparams, chunk_s * 1000.0, kbps, u0, u1)


def _start_dashjs5(kind, cparams, cstate, cdata, bitrates_bps, chunk_s):
    dashjs5_start(cparams, cstate, bitrates_bps, chunk_s, CTRL_STATE)


def _choose_dashjs5(kind, cparams, cstate, cdata, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes, durations_s,
                    est_bps, est_latency_s, latency_s, prof):
    return dashjs5_choose(cparams, cstate, k, buffer_s, prev_rung, bitrates_bps, durations_s[k], est_bps, CTRL_STATE)


def _report_dashjs5(kind, cparams, cstate, k, rung, size_bytes, download_s, buffer_s, bitrates_bps, chunk_s):
    dashjs5_report(cparams, cstate, k, rung, download_s, buffer_s, bitrates_bps, chunk_s, CTRL_STATE)


def _idle_dashjs5(kind, cparams, cstate, wait_s):
    dashjs5_idle(cparams, cstate, wait_s)


def _start_hlsjs(kind, cparams, cstate, cdata, bitrates_bps, chunk_s):
    hlsjs_start(cparams, cstate, bitrates_bps, chunk_s, CTRL_STATE)


def _choose_hlsjs(kind, cparams, cstate, cdata, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes, durations_s,
                  est_bps, est_latency_s, latency_s, prof):
    # its own estimator, not the predictor's: the last request's time to first byte is its TTFB sample
    return hlsjs_choose(cparams, cstate, k, buffer_s, prev_rung, bitrates_bps, sizes_bytes, durations_s[k], latency_s,
                        CTRL_STATE)


def _report_hlsjs(kind, cparams, cstate, k, rung, size_bytes, download_s, buffer_s, bitrates_bps, chunk_s):
    hlsjs_report(cparams, cstate, k, rung, size_bytes, download_s, chunk_s)


def _choose_mpc(kind, cparams, cstate, cdata, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes,
                durations_s, est_bps, est_latency_s, latency_s, prof):
    return mpc_decide(cparams, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes, durations_s, est_bps,
                      latency_s, prof), 0.0


def _choose_bba1(kind, cparams, cstate, cdata, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes,
                 durations_s, est_bps, est_latency_s, latency_s, prof):
    return bba1(buffer_s, prev_rung, k, n_chunks, bitrates_bps, sizes_bytes, durations_s, cparams[0], cparams[1],
                cparams[2], cparams[3]), 0.0


def _choose_festive(kind, cparams, cstate, cdata, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes,
                    durations_s, est_bps, est_latency_s, latency_s, prof):
    return festive_decide(cparams, cstate, k, buffer_s, prev_rung, bitrates_bps), 0.0


def _choose_sabre(kind, cparams, cstate, cdata, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes,
                  durations_s, est_bps, est_latency_s, latency_s, prof):
    n = bitrates_bps.size
    st = cstate[: E.S_SIZE]
    # Sabre's rules read the player's estimates from its state, in kbit/s and ms
    st[E.S_THROUGHPUT] = est_bps / 1000.0
    st[E.S_LATENCY] = est_latency_s * 1000.0
    u0 = cstate[CTRL_STATE : CTRL_STATE + n]
    u1 = cstate[CTRL_STATE + n : CTRL_STATE + 2 * n]
    kbps = cstate[CTRL_STATE + 2 * n : CTRL_STATE + 3 * n]
    q, delay_ms = controller_decide(st, cparams, buffer_s * 1000.0, k, n_chunks, durations_s[k] * 1000.0, kbps, u0, u1)
    return q, delay_ms / 1000.0


def _choose_simple(kind, cparams, cstate, cdata, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes,
                   durations_s, est_bps, est_latency_s, latency_s, prof):
    # bb, bba0, rate and fixed: a few lines each, so one compiled copy serves all four (and the
    # compile group CTRL_SIMPLE); the rule is the id the parameter vector carries
    real = int(cparams[CPARAM_ID])
    if real == CTRL_BB_PENSIEVE:
        return bb_pensieve(buffer_s, bitrates_bps.size, cparams[0], cparams[1]), 0.0
    if real == CTRL_BBA0:
        return bba0(buffer_s, prev_rung, bitrates_bps, cparams[0], cparams[1]), 0.0
    if real == CTRL_RATE:
        if not np.isfinite(est_bps):
            return 0, 0.0
        return highest_below(bitrates_bps, cparams[0] * est_bps), 0.0
    return min(int(cparams[0]), bitrates_bps.size - 1), 0.0


def _start_pensieve(kind, cparams, cstate, cdata, bitrates_bps, chunk_s):
    pensieve_start(cparams, cstate, cdata)


def _choose_pensieve(kind, cparams, cstate, cdata, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes, durations_s,
                     est_bps, est_latency_s, latency_s, prof):
    return pensieve_choose(cparams, cstate, cdata, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes), 0.0


def _report_pensieve(kind, cparams, cstate, k, rung, size_bytes, download_s, buffer_s, bitrates_bps, chunk_s):
    # the next choose pushes this download into the history, with the next chunk's sizes
    cstate[ST_LAST_SIZE_BYTES] = size_bytes
    cstate[ST_LAST_DELAY_S] = download_s


def _report_none(kind, cparams, cstate, k, rung, size_bytes, download_s, buffer_s, bitrates_bps, chunk_s):
    pass


def _report_festive(kind, cparams, cstate, k, rung, size_bytes, download_s, buffer_s, bitrates_bps, chunk_s):
    festive_report(cparams, cstate, k, rung, size_bytes, download_s)


def _report_sabre(kind, cparams, cstate, k, rung, size_bytes, download_s, buffer_s, bitrates_bps, chunk_s):
    n = bitrates_bps.size
    u1 = cstate[CTRL_STATE + n : CTRL_STATE + 2 * n]
    kbps = cstate[CTRL_STATE + 2 * n : CTRL_STATE + 3 * n]
    # typed, not literal, constants: a literal argument would compile the callee a second time
    controller_report(cstate[: E.S_SIZE], cparams, rung, download_s * 1000.0, np.int64(NO_ABANDON), np.bool_(False),
                      buffer_s * 1000.0, chunk_s * 1000.0, kbps, u1)


def _idle_none(kind, cparams, cstate, wait_s):
    pass


def _idle_sabre(kind, cparams, cstate, wait_s):
    abr = int(cparams[E.C_ABR])
    if abr == E.EV_BOLAE or abr == E.EV_DYNAMICDASH:
        cstate[E.S_BOLAE_PLACEHOLDER] += wait_s * 1000.0  # BolaEnh.report_delay


def _start_l2a(kind, cparams, cstate, cdata, bitrates_bps, chunk_s):
    l2a_start(cstate)


def _choose_l2a(kind, cparams, cstate, cdata, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes, durations_s,
                est_bps, est_latency_s, latency_s, prof):
    return l2a_choose(cparams, cstate, buffer_s, prev_rung, bitrates_bps, durations_s[k], est_bps, prof), 0.0


def _report_l2a(kind, cparams, cstate, k, rung, size_bytes, download_s, buffer_s, bitrates_bps, chunk_s):
    l2a_report(cstate, size_bytes, download_s)


def _choose_lolp(kind, cparams, cstate, cdata, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes, durations_s,
                 est_bps, est_latency_s, latency_s, prof):
    return lolp_choose(cparams, cstate, buffer_s, prev_rung, bitrates_bps, durations_s[k], est_bps, prof), 0.0


def _rate_none(kind, cparams, cstate, buffer_s, latency_s, target_s, prof):
    return np.nan


def _rate_lolp(kind, cparams, cstate, buffer_s, latency_s, target_s, prof):
    if cparams[LOLP_P_OWN_RATE] == 0.0:
        return np.nan
    return catchup_lolp(latency_s, target_s, buffer_s, prof[LP_BUFFER_MIN_S], prof[LP_RATE_MIN], prof[LP_RATE_MAX])


_CHOOSE = {
    CTRL_BB_PENSIEVE: _choose_simple,
    CTRL_BBA0: _choose_simple,
    CTRL_RATE: _choose_simple,
    CTRL_FIXED: _choose_simple,
    CTRL_MPC: _choose_mpc,
    CTRL_BBA1: _choose_bba1,
    CTRL_FESTIVE: _choose_festive,
    CTRL_PENSIEVE: _choose_pensieve,
    CTRL_L2A: _choose_l2a,
    CTRL_LOLP: _choose_lolp,
    CTRL_DASHJS5: _choose_dashjs5,
    CTRL_HLSJS: _choose_hlsjs,
    CTRL_SIMPLE: _choose_simple,
}
#: Controllers the batch driver compiles together (``compile_group``).
SIMPLE_KINDS = (CTRL_BB_PENSIEVE, CTRL_BBA0, CTRL_RATE, CTRL_FIXED)
_SABRE_KINDS = (CTRL_SABRE,)
for _kind in _SABRE_KINDS:
    _CHOOSE[_kind] = _choose_sabre
_START = {kind: (_start_sabre if kind in _SABRE_KINDS else _start_none) for kind in _CHOOSE}
_START[CTRL_PENSIEVE] = _start_pensieve
_START[CTRL_L2A] = _start_l2a
_START[CTRL_DASHJS5] = _start_dashjs5
_START[CTRL_HLSJS] = _start_hlsjs
_REPORT = {kind: _report_none for kind in _CHOOSE}
_REPORT[CTRL_FESTIVE] = _report_festive
_REPORT[CTRL_PENSIEVE] = _report_pensieve
_REPORT[CTRL_L2A] = _report_l2a
_REPORT[CTRL_DASHJS5] = _report_dashjs5
_REPORT[CTRL_HLSJS] = _report_hlsjs
#: The live model's playback-rate hook: NaN leaves the rate to the profile's catch-up rule.
_RATE = {kind: _rate_none for kind in _CHOOSE}
_RATE[CTRL_LOLP] = _rate_lolp
_IDLE = {kind: _idle_none for kind in _CHOOSE}
_IDLE[CTRL_DASHJS5] = _idle_dashjs5
for _kind in _SABRE_KINDS:
    _REPORT[_kind] = _report_sabre
    _IDLE[_kind] = _idle_sabre

#: Every controller id the compiled loops know.
KINDS: tuple[int, ...] = tuple(sorted(k for k in _CHOOSE if k != CTRL_SIMPLE))


def compile_group(kind: int) -> int:
    """The id a batch compiles ``kind`` under: CTRL_SIMPLE for the four one-line rules, which
    share one compiled loop (per predictor), else ``kind`` itself."""
    return CTRL_SIMPLE if kind in SIMPLE_KINDS else kind


def _table_entry(table, kind, what):
    try:
        return table[int(kind)]
    except KeyError:
        raise ValueError(f"unknown controller id {kind} in contract.{what}") from None


# -- the public functions: run-time dispatch in Python, literal specialisation when compiled --------


def start(kind, cparams, cstate, cdata, bitrates_bps, chunk_s):
    """Set up ``cstate`` for a new session (see the module docstring)."""
    return _table_entry(_START, kind, "start")(kind, cparams, cstate, cdata, bitrates_bps, chunk_s)


def choose(kind, cparams, cstate, cdata, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes, durations_s, est_bps,
           est_latency_s, latency_s, prof):
    """(rung, wait_s) for chunk ``k`` (see the module docstring)."""
    return _table_entry(_CHOOSE, kind, "choose")(
        kind, cparams, cstate, cdata, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes, durations_s, est_bps,
        est_latency_s, latency_s, prof,
    )


def report(kind, cparams, cstate, k, rung, size_bytes, download_s, buffer_s, bitrates_bps, chunk_s):
    """Tell the controller a download completed (see the module docstring)."""
    return _table_entry(_REPORT, kind, "report")(
        kind, cparams, cstate, k, rung, size_bytes, download_s, buffer_s, bitrates_bps, chunk_s
    )


def full_wait(kind, cparams, cstate, wait_s):
    """Tell the controller the player idled ``wait_s`` seconds with a full buffer."""
    return _table_entry(_IDLE, kind, "full_wait")(kind, cparams, cstate, wait_s)


def live_rate(kind, cparams, cstate, buffer_s, latency_s, target_s, prof):
    """The playback rate the controller wants now (the live model asks before each request and
    after each download), or NaN to leave it to the profile's catch-up rule. ``prof`` is the
    live profile vector (``live_layout.LP_*``), which bounds the rate."""
    return _table_entry(_RATE, kind, "live_rate")(kind, cparams, cstate, buffer_s, latency_s, target_s, prof)


def _literal_kind(kind, what):
    if not isinstance(kind, types.IntegerLiteral):
        raise TypingError(f"contract.{what}: the controller id must be a compile-time literal (numba.literally)")
    value = kind.literal_value
    if value not in _CHOOSE:
        raise TypingError(f"contract.{what}: unknown controller id {value}")
    return value


def specialise(public, impl_for, inline_for=None):
    """Compile calls to ``public(kind, ...)`` as ``impl_for(kind)`` for the literal ``kind``.

    ``impl_for`` maps a controller id to a plain function with ``public``'s signature.
    ``inline_for(kind)`` says whether that implementation is inlined at Numba's IR level into
    the caller (default: always). Inlining a few lines saves a call per chunk and the reference
    counting of its array arguments; inlining a large controller costs seconds of compile (Numba
    types and lowers it again inside each caller) for nothing measurable at run time, so heavy
    controllers are compiled once, out of line, and called. ``public`` itself is what Python calls.
    """
    name = public.__name__
    inline_for = inline_for or (lambda kind: True)

    def typer_for(inlined):
        def typer(kind, *args):
            value = _literal_kind(kind, name)
            return impl_for(value) if inline_for(value) == inlined else None

        functools.update_wrapper(typer, public)  # Numba checks the typer's signature against the impl's
        return typer

    overload(public, prefer_literal=True, inline="always", jit_options=OVERLOAD_OPTIONS)(typer_for(True))
    overload(public, prefer_literal=True, jit_options=OVERLOAD_OPTIONS)(typer_for(False))


#: Implementations small enough to inline into the loops (see ``specialise``).
_LIGHT = {_choose_simple, _start_none, _report_none, _idle_none, _report_pensieve, _rate_none, _start_l2a, _report_l2a}


def _inline_contract(table):
    return lambda kind: table[kind] in _LIGHT


for _public, _table in ((start, _START), (choose, _CHOOSE), (report, _REPORT), (full_wait, _IDLE), (live_rate, _RATE)):
    specialise(_public, _table.__getitem__, _inline_contract(_table))
