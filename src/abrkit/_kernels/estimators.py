"""The session loops' view of a throughput predictor, specialised on its compile group.

``predictors.py`` dispatches on the predictor id at run time, so any function that calls it
compiles all of abrkit's predictors. The loops call these instead. Each takes the predictor's
*compile group* ``group``, a compile-time literal (``numba.literally`` in the loops' entry
points), and its id ``pid``, a run-time value. Each is an ``@overload`` that, for the literal
group, calls that predictor's own functions (``predictors.BY_ID``), the very ones the run-time
dispatchers call, so a run compiles only the predictors it uses and results are identical.
The group is the id itself, except for the few-line predictors of ``COMMON_PREDICTORS``
(none, last sample, mean, harmonic mean), which share one group (``PRED_GROUP_COMMON``) and are
picked at run time from ``pid``, so that the README's ``bb bba0 rate`` compiles one loop; and
RobustDiscount, whose group also names its base (``PRED_GROUP_ROBUST + base id``), so that its
loop compiles that base alone rather than every predictor a run-time base id could name.
Called from Python, these are the run-time dispatchers.

* ``estimate(group, pid, p, s, now_s, period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr,
  clock_s, size_bytes, prof)``: the estimate before a request (bits/s; NaN: none). The oracle
  (``PRED_ORACLE``) measures what requesting ``size_bytes`` now would give; ``PRED_NONE``: NaN.
* ``predict_for(group, pid, p, s, now_s)``: the same without the oracle (the event model's).
* ``latency_for(group, pid, p, s)``: the latency estimate in seconds (NaN where none is kept).
* ``learn(group, pid, p, s, size_bytes, time_s, latency_s, now_s)``: feed a completed download.
"""

from __future__ import annotations

import functools
from typing import Any

import numba
import numpy as np
from numba.core import types
from numba.extending import overload

from .._jit import OVERLOAD_OPTIONS, njit_inline
from .layout import (
    PRED_GROUP_COMMON,
    PRED_GROUP_ROBUST,
    PRED_HARMONIC,
    PRED_LAST,
    PRED_MEAN,
    PRED_NONE,
    PRED_ORACLE,
    PRED_ROBUST,
)
from .network import oracle_throughput
from .predictors import (
    BY_ID,
    _predict_harmonic,
    _predict_last,
    _predict_mean,
    _robust_error,
    _update_rate_ring,
    pred_latency,
    pred_predict,
    pred_update,
)

#: Predictors compiled together (one loop for all of them), chosen at run time.
COMMON_PREDICTORS = (PRED_NONE, PRED_LAST, PRED_MEAN, PRED_HARMONIC)


def predictor_group(pid: int, params: Any = None) -> int:
    """The compile group of predictor ``pid`` with packed parameters ``params`` (see the module
    docstring): a RobustDiscount's group names its base predictor (``params[1]``), so its loop
    compiles that base alone."""
    if pid in COMMON_PREDICTORS:
        return PRED_GROUP_COMMON
    if pid == PRED_ROBUST and params is not None and int(params[1]) in BY_ID and int(params[1]) != PRED_ROBUST:
        return PRED_GROUP_ROBUST + int(params[1])
    return pid


def estimate(group, pid, p, s, now_s, period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof):
    """The controller's estimate before a request, in bits/s (see the module docstring)."""
    if pid == PRED_ORACLE:
        return oracle_throughput(period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof)
    if pid == PRED_NONE:
        return np.nan
    return pred_predict(pid, p, s, now_s, np.nan)


def predict_for(group, pid, p, s, now_s):
    """The estimate in bits/s without the oracle (NaN for ``PRED_NONE`` and ``PRED_ORACLE``)."""
    if pid < 0 or pid == PRED_ORACLE:
        return np.nan
    return pred_predict(pid, p, s, now_s, np.nan)


def latency_for(group, pid, p, s):
    """The latency estimate in seconds (NaN for predictors that keep none)."""
    if pid < 0:
        return np.nan
    return pred_latency(pid, p, s)


def learn(group, pid, p, s, size_bytes, time_s, latency_s, now_s):
    """Feed a completed download to predictor ``pid`` (nothing for ``PRED_NONE``)."""
    if pid >= 0:
        pred_update(pid, p, s, size_bytes, time_s, latency_s, now_s)


# -- the common group: a few lines each, picked at run time -------------------------------------


@njit_inline
def common_predict(pid, p, s, now_s):
    """Estimate of a predictor of ``COMMON_PREDICTORS`` (NaN for ``PRED_NONE``)."""
    if pid == PRED_LAST:
        return _predict_last(p, s, now_s)
    if pid == PRED_MEAN:
        return _predict_mean(p, s, now_s)
    if pid == PRED_HARMONIC:
        return _predict_harmonic(p, s, now_s)
    return np.nan


@njit_inline
def common_learn(pid, p, s, size_bytes, time_s, latency_s, now_s):
    """Feed a download to a predictor of ``COMMON_PREDICTORS``."""
    if pid >= 0:  # last, mean and harmonic keep the same ring of samples
        _update_rate_ring(p, s, size_bytes, time_s, latency_s, now_s)


# -- the overloads ---------------------------------------------------------------------------------


def _own(value):
    """The predictor whose own functions serve group ``value``."""
    return PRED_ROBUST if value >= PRED_GROUP_ROBUST else value


def _literal_group(group, what):
    if not isinstance(group, types.IntegerLiteral):
        raise numba.core.errors.TypingError(f"estimators.{what}: the predictor group must be a compile-time literal")
    return group.literal_value


def _specialise(public, impl_for):
    def typer(group, *args):
        return impl_for(_literal_group(group, public.__name__))

    functools.update_wrapper(typer, public)  # Numba checks the typer's signature against the impl's
    overload(public, prefer_literal=True, jit_options=OVERLOAD_OPTIONS)(typer)


def _estimate_impl(value):
    if value == PRED_ORACLE:
        def oracle(group, pid, p, s, now_s, period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes,
                   prof):
            return oracle_throughput(period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof)
        return oracle
    if value == PRED_GROUP_COMMON:
        def common(group, pid, p, s, now_s, period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes,
                   prof):
            return common_predict(pid, p, s, now_s)
        return common
    predict = BY_ID[_own(value)][0]

    def one(group, pid, p, s, now_s, period_end_s, period_bw_bps, period_lat_s, wrap_s, ptr, clock_s, size_bytes, prof):
        return predict(p, s, now_s)
    return one


def _predict_for_impl(value):
    if value == PRED_ORACLE:
        return lambda group, pid, p, s, now_s: np.nan
    if value == PRED_GROUP_COMMON:
        return lambda group, pid, p, s, now_s: common_predict(pid, p, s, now_s)
    predict = BY_ID[_own(value)][0]
    return lambda group, pid, p, s, now_s: predict(p, s, now_s)


def _latency_for_impl(value):
    latency = BY_ID[value][2] if value in BY_ID else None
    if latency is None:  # the common group, the oracle: no latency estimate
        return lambda group, pid, p, s: np.nan
    return lambda group, pid, p, s: latency(p, s)


def _learn_impl(value):
    if value == PRED_GROUP_COMMON:
        def common(group, pid, p, s, size_bytes, time_s, latency_s, now_s):
            common_learn(pid, p, s, size_bytes, time_s, latency_s, now_s)
        return common
    if value >= PRED_GROUP_ROBUST:  # RobustDiscount over one known base
        base_predict, base_update = BY_ID[value - PRED_GROUP_ROBUST][0], BY_ID[value - PRED_GROUP_ROBUST][1]

        def robust(group, pid, p, s, size_bytes, time_s, latency_s, now_s):
            # predictors._robust_update with the base's own functions in place of its dispatch
            _robust_error(p, s, size_bytes, time_s)
            base_p = p[3:]
            base_s = s[int(p[2]):]
            base_update(base_p, base_s, size_bytes, time_s, latency_s, now_s)
            s[1] = base_predict(base_p, base_s, 0.0)
            s[0] = 1.0
        return robust
    if value not in BY_ID:  # the oracle learns nothing
        def nothing(group, pid, p, s, size_bytes, time_s, latency_s, now_s):
            pass
        return nothing
    update = BY_ID[value][1]

    def one(group, pid, p, s, size_bytes, time_s, latency_s, now_s):
        update(p, s, size_bytes, time_s, latency_s, now_s)
    return one


_specialise(estimate, _estimate_impl)
_specialise(predict_for, _predict_for_impl)
_specialise(latency_for, _latency_for_impl)
_specialise(learn, _learn_impl)
