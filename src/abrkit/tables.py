"""Per-controller summaries of session tables, shared by the chunk and event player models.

The spread of QoE over traces is reported as the median and a 95 % interval of the mean: a
percentile bootstrap with :data:`BOOTSTRAP_RESAMPLES` resamples drawn by
``numpy.random.default_rng(BOOTSTRAP_SEED)`` (the same seed for every controller, so a
controller's interval does not depend on which others are in the table, and the same table
always gives the same bytes). Each resample draws ``n`` session QoEs with replacement from the
controller's ``n`` finite ones; the interval's ends are the 2.5 and 97.5 percentiles of the
resampled means (``numpy.quantile``, linear interpolation). The percentile bootstrap makes no
normality assumption, which matters for QoE: a few rebuffering traces give it a long left tail.
It is too narrow for very few traces (below about 10 it undercovers); with one trace the
interval is that trace's QoE.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["summary_table", "bootstrap_mean_interval", "BOOTSTRAP_RESAMPLES", "BOOTSTRAP_SEED"]

#: Resamples of the bootstrap interval of the mean QoE.
BOOTSTRAP_RESAMPLES = 2000
#: Seed of the bootstrap's generator (``numpy.random.default_rng``).
BOOTSTRAP_SEED = 0
#: Most random draws held in memory at once (resamples x sessions), ~32 MB of indices.
_BLOCK_DRAWS = 4_000_000


def bootstrap_mean_interval(
    values: np.ndarray,
    level: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of ``values`` (NaN ignored), in their unit.

    ``(nan, nan)`` when no value is finite; ``(x, x)`` for a single value. Deterministic: the
    same values, level, resamples and seed give the same interval.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return float("nan"), float("nan")
    if n == 1:
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    means = np.empty(resamples, dtype=np.float64)
    block = max(1, _BLOCK_DRAWS // n)
    for start in range(0, resamples, block):
        stop = min(start + block, resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = x[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def summary_table(sessions: pd.DataFrame, controller_names: Sequence[str], played_s: np.ndarray) -> pd.DataFrame:
    """One row per controller (in the order given), aggregated over its sessions.

    ``sessions`` needs the columns controller, status, qoe, mean_bitrate_kbps, rebuffer_s and
    switches; ``played_s`` is each session's played media time in seconds (same order).
    Columns: controller, sessions, mean_qoe, qoe_median, qoe_mean_ci_low and qoe_mean_ci_high
    (the 95 % percentile-bootstrap interval of the mean QoE over the controller's sessions; see
    the module docstring), mean_bitrate_kbps, mean_rebuffer_s, rebuffer_ratio (rebuffering over
    rebuffering plus played media), mean_switches, stalled_sessions (sessions that did not
    finish: status other than ``complete``).
    """
    stalled = (sessions["status"] != "complete").to_numpy()
    rows = []
    for name in controller_names:
        mask = (sessions["controller"] == name).to_numpy()
        g = sessions[mask]
        rebuf = float(g["rebuffer_s"].sum())
        total = rebuf + float(played_s[mask].sum())
        qoe = g["qoe"].to_numpy(dtype=np.float64)
        finite = qoe[np.isfinite(qoe)]
        low, high = bootstrap_mean_interval(finite)
        rows.append({
            "controller": name,
            "sessions": int(mask.sum()),
            "mean_qoe": float(g["qoe"].mean()),
            "qoe_median": float(np.median(finite)) if finite.size else float("nan"),
            "qoe_mean_ci_low": low,
            "qoe_mean_ci_high": high,
            "mean_bitrate_kbps": float(g["mean_bitrate_kbps"].mean()),
            "mean_rebuffer_s": float(g["rebuffer_s"].mean()),
            "rebuffer_ratio": rebuf / total if total > 0 else float("nan"),
            "mean_switches": float(g["switches"].mean()),
            "stalled_sessions": int(stalled[mask].sum()),
        })
    return pd.DataFrame(rows)
