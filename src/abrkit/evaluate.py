"""Offline evaluation of throughput predictors over real download patterns.

:func:`evaluate_predictors` streams a video over each trace with an ordinary controller; the
predictors under test only watch (``run_batch(..., shadow_predictors=...)``): before every
download each one predicts its throughput, then learns from the measured sample. The
relative error ``e = (predicted - actual) / actual`` of every prediction is summarized per
predictor (or per predictor and trace).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ._kernels import layout as L
from .controllers import Controller
from .errors import ParameterError
from .predictors import PREDICTORS, Predictor, get_predictor
from .profiles import Profile
from .simulation import BatchResult, run_batch
from .traces import Trace
from .video import Video

__all__ = ["evaluate_predictors", "prediction_samples", "summarize_errors", "DEFAULT_EVAL_VIDEO"]

#: Pensieve's ladder, 4 s chunks, 10 minutes: the download pattern used when none is given.
DEFAULT_EVAL_VIDEO = Video.constant_bitrate([300, 750, 1200, 1850, 2850, 4300], 4.0, 150, name="cbr-pensieve-ladder")

ERROR_COLUMNS = [
    "samples", "missing", "mape", "median_ape", "over_rate", "mean_over", "under_rate", "mean_under",
    "p5", "p25", "p50", "p75", "p95", "rmse_log",
]


def prediction_samples(batch: BatchResult) -> pd.DataFrame:
    """One row per (session, chunk, shadow predictor): predicted and actual throughput (bps)."""
    if batch.shadow_pred is None or not batch.shadows:
        raise ParameterError("batch", "no shadow predictors", "run run_batch(..., shadow_predictors=[...]) first")
    frames = []
    names = [p.name for p in batch.shadows]
    for j in range(len(batch)):
        n = int(batch.n_done[j])
        if n == 0:
            continue
        actual = batch.log[j, :n, L.LOG_THROUGHPUT_BPS]
        for i, name in enumerate(names):
            frames.append(pd.DataFrame({
                "trace": batch.traces[batch.job_trace[j]].name,
                "controller": batch.controllers[batch.job_ctrl[j]].name,
                "predictor": name,
                "chunk": np.arange(n),
                "predicted_bps": batch.shadow_pred[j, i, :n],
                "actual_bps": actual,
            }))
    cols = ["trace", "controller", "predictor", "chunk", "predicted_bps", "actual_bps"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def _error_row(pred: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    ok = np.isfinite(pred) & (pred > 0)
    e = (pred[ok] - actual[ok]) / actual[ok]
    row: dict[str, float] = {"samples": int(ok.sum()), "missing": int((~ok).sum())}
    if e.size == 0:
        return {**row, **{c: np.nan for c in ERROR_COLUMNS[2:]}}
    over, under = e[e > 0], e[e < 0]
    q = np.percentile(e, [5, 25, 50, 75, 95])
    row.update(
        mape=float(np.mean(np.abs(e))),
        median_ape=float(np.median(np.abs(e))),
        over_rate=float(over.size / e.size),
        mean_over=float(over.mean()) if over.size else 0.0,
        under_rate=float(under.size / e.size),
        mean_under=float(-under.mean()) if under.size else 0.0,
        p5=float(q[0]), p25=float(q[1]), p50=float(q[2]), p75=float(q[3]), p95=float(q[4]),
        rmse_log=float(np.sqrt(np.mean(np.log(pred[ok] / actual[ok]) ** 2))),
    )
    return row


def summarize_errors(samples: pd.DataFrame, by: Sequence[str] = ("predictor",)) -> pd.DataFrame:
    """Error statistics of a :func:`prediction_samples` table, one row per group.

    Columns: ``samples`` (predictions scored), ``missing`` (no estimate yet), ``mape`` (mean
    |e|), ``median_ape``, ``over_rate``/``under_rate`` (share of over- and under-estimates),
    ``mean_over``/``mean_under`` (their mean size, as positive fractions), ``p5``..``p95``
    (percentiles of the signed error e), ``rmse_log`` (RMS of log(predicted / actual)).
    """
    keys = list(by)
    rows = []
    for key, g in samples.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(keys, key)), **_error_row(g["predicted_bps"].to_numpy(float), g["actual_bps"].to_numpy(float))})
    return pd.DataFrame(rows, columns=keys + ERROR_COLUMNS)


def evaluate_predictors(
    traces: Trace | Iterable[Trace],
    predictors: Iterable[Predictor | str] | None = None,
    video: Video | None = None,
    controller: str | Controller = "rate",
    profile: str | Profile = "default",
    by: Sequence[str] = ("predictor",),
    n_workers: int | None = None,
    progress: bool | None = None,
    scheduler: Any = None,
) -> pd.DataFrame:
    """Replay chunk downloads over ``traces`` and score each predictor's one-step predictions.

    ``predictors``: specs or names (default: every predictor in :data:`PREDICTORS`).
    ``video``/``controller``/``profile`` set the download pattern (default: Pensieve's ladder
    in 4 s CBR chunks, chosen by the rate rule, under the clean profile). Returns one row per
    predictor (``by=("predictor", "trace")`` for one per trace too) with the columns of
    :func:`summarize_errors`. ``scheduler`` says where the sessions run (:mod:`abrkit.cluster`:
    None for threads here, ``"processes"``, or a Dask Client or address); the table is the same.
    """
    preds = [get_predictor(p) for p in (PREDICTORS if predictors is None else predictors)]
    if not preds:
        raise ParameterError("predictors", [], "at least one is needed")
    dupes = sorted({a.name for i, a in enumerate(preds) for b in preds[i + 1 :] if a == b})
    if dupes:
        raise ParameterError("predictors", dupes, "each predictor may appear once")
    by = tuple(by)
    bad = [k for k in by if k not in ("predictor", "trace", "controller")]
    if not by or bad:
        raise ParameterError("by", list(by), "may only name 'predictor', 'trace' and 'controller'")
    batch = run_batch(traces, video or DEFAULT_EVAL_VIDEO, [controller], profile, None, n_workers, progress, shadow_predictors=preds,
                      scheduler=scheduler)
    return summarize_errors(prediction_samples(batch), by)
