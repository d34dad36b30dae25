"""The session loops' view of a throughput predictor, specialised on its id.

``predictors.py`` dispatches on the predictor id at run time, so any function that calls it
compiles all of abrkit's predictors. The loops call these instead. With the id a compile-time
literal (``numba.literally`` in the loops' entry points), each is an ``@overload`` that calls
that predictor's own functions (``predictors.BY_ID``), the very ones the run-time dispatchers
call, so a run compiles only the predictors it uses and results are identical. Called from
Python, they are the dispatchers themselves.

* ``estimate(pid, p, s, now_s, period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s,
  size_bytes, prof)``: the estimate before a request (bits/s; NaN: none). The oracle
  (``PRED_ORACLE``) measures what requesting ``size_bytes`` now would give; ``PRED_NONE``: NaN.
* ``predict_for(pid, p, s, now_s)``: the same without the oracle (the event model's).
* ``latency_for(pid, p, s)``: the latency estimate in seconds (NaN where the predictor has none).
* ``learn(pid, p, s, size_bytes, time_s, latency_s, now_s)``: feed a completed download.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.core import types
from numba.extending import overload

from .layout import PRED_NONE, PRED_ORACLE
from .predictors import BY_ID, pred_latency, pred_predict, pred_update
from .network import oracle_throughput


def estimate(pid, p, s, now_s, period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof):
    """The controller's estimate before a request, in bits/s (see the module docstring)."""
    if pid == PRED_ORACLE:
        return oracle_throughput(period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof)
    if pid == PRED_NONE:
        return np.nan
    return pred_predict(pid, p, s, now_s, np.nan)


def predict_for(pid, p, s, now_s):
    """The estimate in bits/s without the oracle (NaN for ``PRED_NONE`` and ``PRED_ORACLE``)."""
    if pid < 0 or pid == PRED_ORACLE:
        return np.nan
    return pred_predict(pid, p, s, now_s, np.nan)


def latency_for(pid, p, s):
    """The latency estimate in seconds (NaN for predictors that keep none)."""
    if pid < 0:
        return np.nan
    return pred_latency(pid, p, s)


def learn(pid, p, s, size_bytes, time_s, latency_s, now_s):
    """Feed a completed download to predictor ``pid`` (nothing for ``PRED_NONE``)."""
    if pid >= 0:
        pred_update(pid, p, s, size_bytes, time_s, latency_s, now_s)


def _literal(pid):
    return pid.literal_value if isinstance(pid, types.IntegerLiteral) else None


@overload(estimate, prefer_literal=True)
def _estimate_typer(pid, p, s, now_s, period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof):
    value = _literal(pid)
    if value == PRED_ORACLE:
        def oracle(pid, p, s, now_s, period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof):
            return oracle_throughput(period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof)
        return oracle
    if value == PRED_NONE:
        return lambda pid, p, s, now_s, period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof: np.nan
    if value is None:
        raise numba.core.errors.TypingError("estimators.estimate: the predictor id must be a compile-time literal")

    predict = BY_ID[value][0]

    def one(pid, p, s, now_s, period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof):
        return predict(p, s, now_s)
    return one


@overload(predict_for, prefer_literal=True)
def _predict_for_typer(pid, p, s, now_s):
    value = _literal(pid)
    if value is None:
        raise numba.core.errors.TypingError("estimators.predict_for: the predictor id must be a compile-time literal")
    if value < 0 or value == PRED_ORACLE:
        return lambda pid, p, s, now_s: np.nan
    predict = BY_ID[value][0]
    return lambda pid, p, s, now_s: predict(p, s, now_s)


@overload(latency_for, prefer_literal=True)
def _latency_for_typer(pid, p, s):
    value = _literal(pid)
    if value is None:
        raise numba.core.errors.TypingError("estimators.latency_for: the predictor id must be a compile-time literal")
    latency = BY_ID[value][2] if value in BY_ID else None
    if latency is None:
        return lambda pid, p, s: np.nan
    return lambda pid, p, s: latency(p, s)


@overload(learn, prefer_literal=True)
def _learn_typer(pid, p, s, size_bytes, time_s, latency_s, now_s):
    value = _literal(pid)
    if value is None:
        raise numba.core.errors.TypingError("estimators.learn: the predictor id must be a compile-time literal")
    if value not in BY_ID:  # PRED_NONE, and the oracle, which learns nothing
        def nothing(pid, p, s, size_bytes, time_s, latency_s, now_s):
            pass
        return nothing
    update = BY_ID[value][1]

    def one(pid, p, s, size_bytes, time_s, latency_s, now_s):
        update(p, s, size_bytes, time_s, latency_s, now_s)
    return one
