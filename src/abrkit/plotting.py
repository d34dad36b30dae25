"""Plots of simulation results (needs the optional ``matplotlib``: ``pip install 'abrkit[plot]'``).

matplotlib is imported inside the functions, never at module load, so abrkit works without it.
"""

from __future__ import annotations

import textwrap
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd

from ._optional import pyplot as _pyplot
from .errors import ParameterError
from .simulation import SimResult

__all__ = ["plot_session", "plot_qoe_cdf", "plot_comparison", "save_comparison", "COMPARISON_METRICS", "plot_live_session"]


def plot_session(result: SimResult, axes: Any = None) -> Any:
    """Bitrate, buffer and throughput of one session against session time (seconds).

    Returns the matplotlib Figure. ``axes``: optional sequence of 2 Axes to draw into.
    """
    plt = _pyplot()
    if axes is None:
        fig, axes = plt.subplots(2, 1, sharex=True, figsize=(9, 5.5), constrained_layout=True)
    else:
        fig = axes[0].figure
    t_end = result.request_s + result.delay_s
    ax = axes[0]
    ax.step(result.request_s, result.bitrate_kbps, where="post", label="chosen bitrate (from request)", color="C0")
    ax.plot(t_end, result.throughput_bps / 1e3, ".", ms=3, color="C1", label="throughput sample")
    ax.set_ylabel("kbps")
    ax.set_title(f"{result.controller.name} on {result.trace.name} ({result.profile.name} profile), QoE {result.qoe:.2f}")
    ax.legend(loc="upper right", fontsize="small")
    ax = axes[1]
    ax.plot(t_end, result.buffer_s, color="C2", label="buffer")
    stalls = result.rebuffer_s > 0
    if np.any(stalls):
        ax.bar(t_end[stalls], result.rebuffer_s[stalls], width=1.0, color="C3", label="rebuffering (s)")
    ax.axhline(result.profile.buffer_cap_s, color="0.6", lw=0.8, ls="--", label="buffer cap")
    ax.set_xlabel("session time (s)")
    ax.set_ylabel("seconds")
    ax.legend(loc="upper right", fontsize="small")
    return fig


def plot_qoe_cdf(sessions: pd.DataFrame, metric: str = "qoe", ax: Any = None) -> Any:
    """Empirical CDF of a per-session metric, one line per controller (a ``sessions()`` table)."""
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 4.5), constrained_layout=True)
    else:
        fig = ax.figure
    for name, group in sessions.groupby("controller", sort=False):
        values = np.sort(group[metric].to_numpy(dtype=float))
        frac = np.arange(values.size + 1) / values.size
        ax.step(np.concatenate(([values[0]], values)), frac, where="post", label=f"{name} (mean {values.mean():.2f})")
    ax.set_xlabel(metric)
    ax.set_ylabel("fraction of sessions")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


#: The panels of the comparison figure: (sessions column, axis label).
COMPARISON_METRICS = (
    ("qoe", "session QoE (higher is better)"),
    ("mean_bitrate_kbps", "mean bitrate (kbit/s)"),
    ("rebuffer_s", "rebuffering per session (s)"),
)


def plot_comparison(sessions: pd.DataFrame, axes: Any = None, title: str | None = None) -> Any:
    """Controllers side by side: one horizontal box plot per controller and metric.

    Panels: session QoE, mean bitrate (kbit/s) and rebuffering (seconds per session); each box
    spans the quartiles of the controller's sessions (one per trace), whiskers reach the last
    point within 1.5 IQR, circles mark the points beyond, and a diamond with its value marks the
    mean. Controllers keep their order in ``sessions`` (a ``sessions()`` table), top to bottom.
    Returns the matplotlib Figure; ``axes``: optional sequence of 3 Axes to draw into.
    """
    plt = _pyplot()
    import matplotlib

    labels = sessions["controller"].astype(str).to_numpy()
    names = list(dict.fromkeys(labels))
    if axes is None:
        height = 1.6 + 0.42 * len(names)
        fig, axes = plt.subplots(1, 3, figsize=(14, height), sharey=True, constrained_layout=True)
    else:
        fig = axes[0].figure
    version = tuple(int(p) for p in matplotlib.__version__.split(".")[:2] if p.isdigit())
    horizontal = {"orientation": "horizontal"} if version >= (3, 10) else {"vert": False}
    positions = np.arange(len(names))[::-1] + 1.0  # first controller on top
    for ax, (metric, label) in zip(axes, COMPARISON_METRICS):
        data = []
        for name in names:
            values = sessions.loc[labels == name, metric].to_numpy(dtype=np.float64) if metric in sessions else np.array([])
            data.append(values[np.isfinite(values)])
        shown = [d if d.size else np.array([np.nan]) for d in data]
        ax.boxplot(
            shown, positions=positions, widths=0.5, patch_artist=True, showmeans=True, **horizontal,
            boxprops={"facecolor": "#cfe0f3", "edgecolor": "#2b5d8a"}, medianprops={"color": "#2b5d8a", "lw": 1.6},
            meanprops={"marker": "D", "markerfacecolor": "#d1495b", "markeredgecolor": "white", "markersize": 6},
            flierprops={"marker": "o", "markersize": 3, "markerfacecolor": "none", "markeredgecolor": "0.45"},
        )
        for y, d in zip(positions, data):
            if d.size:  # the mean's value just above its box, in the gap to the next one
                ax.text(float(d.mean()), y + 0.27, f"mean {_short_number(float(d.mean()))}", ha="center",
                        va="bottom", fontsize="x-small", color="#b0283c")
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(positions)
    axes[0].set_yticklabels(names)
    axes[0].set_ylim(0.4, len(names) + 0.6)
    n_traces = max((int(np.count_nonzero(labels == name)) for name in names), default=0)
    head = textwrap.fill(title or "controller comparison", 150)
    fig.suptitle(f"{head}\nspread over {n_traces} sessions per controller: box = quartiles, line = median, "
                 "red diamond = mean", fontsize="medium")
    return fig


def _short_number(value: float) -> str:
    """``3,790`` from 100 up, three significant digits below (``5.65``, ``0.353``)."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def save_comparison(sessions: pd.DataFrame, path: str | PathLike[str], title: str | None = None,
                    dpi: int = 120) -> None:
    """Write :func:`plot_comparison` of ``sessions`` to ``path`` (PNG, SVG or PDF by extension)."""
    plt = _pyplot()
    fig = plot_comparison(sessions, title=title)
    try:
        fig.savefig(path, dpi=dpi)
    except OSError as exc:
        raise ParameterError("plot", str(path), f"cannot be written: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


def plot_live_session(batch: Any, j: int = 0, path: str | PathLike[str] | None = None) -> Any:
    """Latency, playback rate and bitrate of live session ``j`` of a
    :class:`abrkit.live.LiveBatchResult` against session time (seconds), one point per segment
    (when it arrived). Saves to ``path`` when given; returns the matplotlib Figure."""
    from ._kernels import layout as L
    from ._kernels import live_layout as LV

    if not 0 <= j < len(batch):
        raise ParameterError("session", j, f"must be between 0 and {len(batch) - 1}")
    plt = _pyplot()
    log = batch.segment_log(j)
    video = batch.videos[batch.job_video[j]]
    t = log[:, LV.LV_DONE_S]
    fig, axes = plt.subplots(3, 1, sharex=True, figsize=(9, 7), constrained_layout=True)
    m = batch.live_metrics(j)
    names = batch._names()
    axes[0].plot(t, log[:, LV.LV_LIVE_LATENCY_S], color="C0", label="latency")
    axes[0].axhline(batch.profile.target_latency_s, color="0.5", ls="--", lw=1, label="target")
    axes[0].set_ylabel("latency (s)")
    axes[0].set_title(f"{names['controller'][j]} on {names['trace'][j]} (live): avgLatency {m['avgLatency']:.2f} s, "
                      f"{m['numStalls']} stalls ({m['stallDuration']:.2f} s), NQoE {m['NQoE']:.0f}")
    axes[0].legend(loc="upper right", fontsize="small")
    axes[1].step(t, log[:, LV.LV_RATE], where="post", color="C1")
    axes[1].axhline(1.0, color="0.5", lw=1)
    axes[1].set_ylabel("playback rate")
    axes[2].step(t, video.bitrates_bps[log[:, L.LOG_RUNG].astype(np.int64)] / 1e3, where="post", color="C2",
                 label="bitrate")
    axes[2].plot(t, log[:, L.LOG_THROUGHPUT_BPS] / 1e3, ".", ms=3, color="C3", label="throughput sample")
    axes[2].set_ylabel("kbps")
    axes[2].set_xlabel("session time (s)")
    axes[2].legend(loc="upper right", fontsize="small")
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig
