"""Summary statistics of traces, weighted by time.

A trace's periods differ in length (Pensieve's ~1 s steps, FCC's 5 s, mahimahi bins), so every
statistic here weights a period by its duration: it describes the bandwidth seen at a random
instant, not a random row of the file.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from ..errors import ParameterError
from ._core import Trace

if TYPE_CHECKING:  # pandas is imported lazily: it is slow to import and only stats_frame needs it
    import pandas as pd

__all__ = ["trace_stats", "stats_frame", "STAT_KEYS"]

_PERCENTILES = (("p5_kbps", 0.05), ("p25_kbps", 0.25), ("median_kbps", 0.50), ("p75_kbps", 0.75), ("p95_kbps", 0.95))

#: Keys of :func:`trace_stats`' result, in order.
STAT_KEYS = (
    "duration_s",
    "periods",
    "mean_kbps",
    "std_kbps",
    "cv",
    "min_kbps",
    *(key for key, _ in _PERCENTILES),
    "max_kbps",
    "zero_fraction",
    "mean_latency_ms",
    "autocorr_lag_s",
    "autocorr",
)


def _weighted_quantile(sorted_values: np.ndarray, cum_share: np.ndarray, q: float) -> float:
    # Smallest value whose cumulative time share reaches q; the slack absorbs float sums.
    i = int(np.searchsorted(cum_share, q - 1e-12, side="left"))
    return float(sorted_values[min(i, sorted_values.size - 1)])


#: Most bins the autocorrelation is computed over (a 1e7 s trace at the default 1 s lag fits).
MAX_AUTOCORR_BINS = 20_000_000
_BIN_BLOCK = 1 << 20  # bins computed per block, so memory stays bounded on long traces


def _n_bins(trace: Trace, width_s: float) -> int:
    ratio = trace.total_duration_s / width_s + 1e-9
    if not ratio <= MAX_AUTOCORR_BINS + 1:
        raise ParameterError(
            "autocorr_lag_s", width_s,
            f"gives {ratio:.3g} bins over the {trace.total_duration_s:.6g} s trace {trace.name!r}; "
            f"at most {MAX_AUTOCORR_BINS} (use a longer lag)",
        )
    return int(math.floor(ratio))


def _bin_means(trace: Trace, width_s: float) -> np.ndarray:
    """Mean bandwidth (bps) over consecutive whole bins of ``width_s`` from the trace start."""
    n = _n_bins(trace, width_s)
    edges_t = np.append(trace.time_s, trace.end_s)
    integral = np.concatenate(([0.0], np.cumsum(trace.bandwidth_bps * trace.duration_s)))
    out = np.empty(n)
    for first in range(0, n, _BIN_BLOCK):
        last = min(first + _BIN_BLOCK, n)
        at = np.interp(trace.time_s[0] + np.arange(first, last + 1) * width_s, edges_t, integral)
        out[first:last] = np.diff(at) / width_s
    return out


def _lag1_autocorr(binned: np.ndarray) -> float:
    """Lag-1 autocorrelation of the binned series, in blocks (no full-size temporaries)."""
    n = binned.size
    if n < 3:
        return float("nan")
    mean_a = float(binned[:-1].mean())
    mean_b = float(binned[1:].mean())
    ab = aa = bb = 0.0
    for first in range(0, n - 1, _BIN_BLOCK):
        last = min(first + _BIN_BLOCK, n - 1)
        a = binned[first:last] - mean_a
        b = binned[first + 1 : last + 1] - mean_b
        ab += float(np.dot(a, b))
        aa += float(np.dot(a, a))
        bb += float(np.dot(b, b))
    denom = math.sqrt(aa * bb)
    return ab / denom if denom > 0 else float("nan")


def trace_stats(trace: Trace, autocorr_lag_s: float = 1.0) -> dict[str, Any]:
    """Time-weighted summary of one trace.

    Returns a dict with, in order (:data:`STAT_KEYS`):

    - ``duration_s``: length of the trace; ``periods``: number of periods.
    - ``mean_kbps``, ``std_kbps``: time-weighted mean and (population) standard deviation;
      ``cv``: their ratio.
    - ``min_kbps``, ``p5_kbps``, ``p25_kbps``, ``median_kbps``, ``p75_kbps``, ``p95_kbps``,
      ``max_kbps``: time-weighted percentiles, the smallest bandwidth ``v`` such that the link
      is at or below ``v`` for at least that share of the time (``min``/``max`` are the
      extremes of the periods).
    - ``zero_fraction``: share of the time with bandwidth 0 (outages).
    - ``mean_latency_ms``: time-weighted mean latency, NaN when the trace has none.
    - ``autocorr``: lag-1 autocorrelation of the bandwidth averaged over consecutive bins of
      ``autocorr_lag_s`` seconds (``autocorr_lag_s`` is repeated in the dict). Binning in time
      rather than by row makes traces with different step lengths comparable; values near 1
      mean a predictable link (throughput predictors do well), near 0 a jumpy one. NaN when
      fewer than 3 bins fit or the binned bandwidth is constant. Memory stays bounded on long
      traces (bins are computed in blocks); more than :data:`MAX_AUTOCORR_BINS` bins is a
      :class:`~abrkit.errors.ParameterError` naming the lag.
    """
    if not isinstance(trace, Trace):
        raise ParameterError("trace", type(trace).__name__, "must be a Trace")
    try:
        lag = float("nan") if isinstance(autocorr_lag_s, bool) else float(autocorr_lag_s)
    except (TypeError, ValueError):
        lag = float("nan")
    if not (math.isfinite(lag) and lag > 0):
        raise ParameterError("autocorr_lag_s", autocorr_lag_s, "must be finite and > 0")
    d = trace.duration_s
    total = float(d.sum())
    kbps = trace.bandwidth_bps / 1e3
    w = d / total
    # Scaled by the peak on absurd bandwidths, so squares cannot overflow; plain otherwise.
    scale = max(float(kbps.max()), 1.0) if float(kbps.max()) > 1e100 else 1.0
    mean = float(np.dot(w, kbps / scale)) * scale
    std = float(math.sqrt(max(float(np.dot(w, ((kbps - mean) / scale) ** 2)), 0.0))) * scale
    order = np.argsort(kbps, kind="stable")
    sorted_kbps = kbps[order]
    cum_share = np.cumsum(w[order])
    out: dict[str, Any] = {
        "duration_s": trace.total_duration_s,
        "periods": trace.n_periods,
        "mean_kbps": mean,
        "std_kbps": std,
        "cv": std / mean,  # mean > 0: a Trace always has some bandwidth
        "min_kbps": float(sorted_kbps[0]),
    }
    for key, q in _PERCENTILES:
        out[key] = _weighted_quantile(sorted_kbps, cum_share, q)
    out["max_kbps"] = float(sorted_kbps[-1])
    out["zero_fraction"] = float(w[kbps == 0].sum())
    out["mean_latency_ms"] = float(np.dot(w, trace.latency_s) * 1e3) if trace.latency_s is not None else float("nan")
    out["autocorr_lag_s"] = lag
    out["autocorr"] = _lag1_autocorr(_bin_means(trace, lag))
    return out


def stats_frame(traces: Iterable[Trace], autocorr_lag_s: float = 1.0) -> "pd.DataFrame":
    """One row of :func:`trace_stats` per trace, with the trace's name in a ``trace`` column.

    Rows keep the order of ``traces``; an empty input gives an empty frame with the columns.
    """
    import pandas as pd

    if isinstance(traces, Trace):
        traces = [traces]
    rows = []
    for i, trace in enumerate(traces):
        if not isinstance(trace, Trace):
            raise ParameterError(f"traces[{i}]", type(trace).__name__, "must be a Trace")
        rows.append({"trace": trace.name, **trace_stats(trace, autocorr_lag_s)})
    return pd.DataFrame(rows, columns=["trace", *STAT_KEYS])
