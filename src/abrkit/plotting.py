"""Plots of simulation results (needs the optional ``matplotlib``: ``pip install 'abrkit[plot]'``).

matplotlib is imported inside the functions, never at module load, so abrkit works without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._optional import pyplot as _pyplot
from .simulate import SimResult

__all__ = ["plot_session", "plot_qoe_cdf", "save_comparison"]


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


def save_comparison(sessions: pd.DataFrame, path: str) -> None:
    """A one-page comparison: CDFs of QoE, mean bitrate and rebuffering per controller."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
    for ax, metric in zip(axes, ("qoe", "mean_bitrate_kbps", "rebuffer_s")):
        plot_qoe_cdf(sessions, metric, ax=ax)
    fig.savefig(path, dpi=110)
    plt.close(fig)
