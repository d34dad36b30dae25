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

from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = ["chunk_frame", "CHUNK_COLUMNS", "summary_table", "bootstrap_mean_interval", "BOOTSTRAP_RESAMPLES", "BOOTSTRAP_SEED"]

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


#: The per-chunk log columns users read (``layout.LOG_*`` order after ``rung``), both models.
CHUNK_COLUMNS: tuple[tuple[str, int], ...] = (
    ("rung", 0),
    ("size_bytes", 1),
    ("latency_s", 2),
    ("delay_s", 3),
    ("buffer_s", 4),
    ("rebuffer_s", 5),
    ("wait_s", 6),
    ("throughput_bps", 7),
    ("request_s", 8),
    ("controller_wait_s", 9),
)


def chunk_frame(trace: str, video: Any, controller: str, log: np.ndarray, rewards: np.ndarray) -> pd.DataFrame:
    """One session's played chunks as a table: ``log`` has shape (played, LOG_COLS) in seconds,
    bytes and bits per second; ``rewards`` one reward per played chunk. Columns: trace, video,
    controller, chunk, rung, bitrate_kbps, size_bytes, latency_s, delay_s, buffer_s, rebuffer_s,
    wait_s (idle after the download, buffer full), throughput_kbps (the sample measured),
    request_s, controller_wait_s (idle before the request, asked by the controller), quality
    (when the video has it) and reward."""
    n = log.shape[0]
    rungs = log[:, 0].astype(np.int64)
    cols: dict[str, Any] = {
        "trace": trace,
        "video": video.name,
        "controller": controller,
        "chunk": np.arange(n),
        "rung": rungs,
        "bitrate_kbps": video.bitrates_bps[rungs] / 1e3,
    }
    for name, col in CHUNK_COLUMNS[1:]:
        cols[name] = log[:, col]
    cols["throughput_kbps"] = cols.pop("throughput_bps") / 1e3
    cols["controller_wait_s"] = cols.pop("controller_wait_s")
    if video.quality is not None:
        cols["quality"] = video.quality[np.arange(n), rungs]
    cols["reward"] = rewards[:n]
    return pd.DataFrame(cols)
