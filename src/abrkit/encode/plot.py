"""The rate-quality plot of a per-title ladder search (needs ``pip install 'abrkit[plot]'``).

matplotlib is imported inside :func:`plot_ladder`, never at module load, so the encoding half
works without it.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..errors import ParameterError
from .._optional import pyplot as _pyplot

__all__ = ["plot_ladder", "plot_shot_hulls"]

_FIXED_MARKERS = ("s", "^", "D", "v", "P", "X")


def _columns(frame: Any, where: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """``frame`` checked to be a DataFrame with ``columns``."""
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(where, type(frame).__name__, "must be a pandas DataFrame")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ParameterError(where, f"columns {list(frame.columns)}", f"must have columns {list(columns)}; missing {missing}")
    return frame


def _table(result: Any, name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    frame = getattr(result, name, None)
    if frame is None:
        raise ParameterError("result", type(result).__name__, f"must have a {name!r} DataFrame (a LadderResult)")
    return _columns(frame, f"result.{name}", columns)


def plot_ladder(
    result: Any,
    ax: Any = None,
    *,
    metric: str = "vmaf",
    log_rate: bool = True,
    label_rungs: bool = True,
    title: str | None = None,
) -> Any:
    """Rate-quality plot of a ladder search: points, convex hull, chosen rungs, fixed ladders.

    * every measured encode, one colour per resolution, with a thin line through that
      resolution's points in order of rate (its CRF sweep);
    * the convex hull across resolutions (thick black line);
    * the chosen rungs (large markers, labelled ``WxH`` and their rate);
    * each fixed reference ladder's measured rungs (dashed, grey tones), with its BD-rate in the
      legend when the result has one.

    Parameters
    ----------
    result : LadderResult or similar
        Anything with ``points``, ``hull`` and ``rungs`` DataFrames (columns ``bitrate_kbps``,
        ``metric``; ``points`` also ``width`` and ``height``), optionally ``fixed`` (name ->
        DataFrame with ``bitrate_kbps`` and ``metric``) and ``bd_rate`` (name -> percent or None).
        ``hull`` may be None when ``points`` has a boolean ``on_hull`` column.
    ax : matplotlib Axes, optional
        Draw into it (default: a new figure).
    metric : str
        Quality column on the y axis (default ``vmaf``).
    log_rate : bool
        Logarithmic bitrate axis (default True): ladders span two decades of rate.
    label_rungs : bool
        Write each rung's size and rate next to it.
    title : str, optional
        Axes title (default: the source's file name and the codec, when known).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ToolNotFoundError
        matplotlib is not installed (``pip install 'abrkit[plot]'``).
    ParameterError
        A table is missing or lacks the columns.
    """
    points = _table(result, "points", ("bitrate_kbps", "width", "height", metric))
    if getattr(result, "hull", None) is None and "on_hull" in points.columns:
        hull = points[points["on_hull"].astype(bool)]
    else:
        hull = _table(result, "hull", ("bitrate_kbps", metric))
    rungs = _table(result, "rungs", ("bitrate_kbps", metric))
    fixed = getattr(result, "fixed", None) or {}
    if not isinstance(fixed, Mapping):
        raise ParameterError("result.fixed", type(fixed).__name__, "must map ladder names to DataFrames")
    bd_rate = getattr(result, "bd_rate", None) or {}

    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=(8.0, 5.5), constrained_layout=True)
    else:
        fig = ax.figure

    sizes = points[["width", "height"]].drop_duplicates().sort_values(["height", "width"])
    cmap = plt.get_cmap("viridis")
    n_sizes = max(len(sizes), 1)
    for k, (w, h) in enumerate(sizes.itertuples(index=False)):
        colour = cmap(0.9 * k / max(n_sizes - 1, 1))
        group = points[(points["width"] == w) & (points["height"] == h)]
        order = group.sort_values("crf", ascending=False) if "crf" in group.columns else group.sort_values("bitrate_kbps")
        ax.plot(
            order["bitrate_kbps"], order[metric], "-o", color=colour, lw=0.8, ms=3.5, alpha=0.85,
            label=f"{int(w)}x{int(h)}",
        )

    hull_sorted = hull.sort_values("bitrate_kbps")
    ax.plot(hull_sorted["bitrate_kbps"], hull_sorted[metric], "-", color="black", lw=2.0, zorder=3, label="convex hull")

    greys = ("0.35", "0.55", "0.7", "0.45", "0.6", "0.8")
    for k, (name, table) in enumerate(fixed.items()):
        if table is None:
            continue
        frame = _columns(table, f"result.fixed[{name!r}]", ("bitrate_kbps", metric))
        if frame.empty:
            continue
        frame = frame.sort_values("bitrate_kbps")
        value = bd_rate.get(name) if isinstance(bd_rate, Mapping) else None
        label = f"{name} (fixed)"
        if isinstance(value, (int, float)) and np.isfinite(value):
            label = f"{name} (fixed; per-title BD-rate {value:+.1f} %)"
        ax.plot(
            frame["bitrate_kbps"], frame[metric], "--", marker=_FIXED_MARKERS[k % len(_FIXED_MARKERS)],
            color=greys[k % len(greys)], lw=1.2, ms=5, zorder=2, label=label,
        )

    rungs_sorted = rungs.sort_values("bitrate_kbps")
    ax.plot(
        rungs_sorted["bitrate_kbps"], rungs_sorted[metric], "*", color="crimson", ms=14, mec="black", mew=0.6,
        zorder=4, linestyle="none", label=f"chosen rungs ({len(rungs_sorted)})",
    )
    if label_rungs and {"width", "height"} <= set(rungs_sorted.columns):
        for row in rungs_sorted.itertuples(index=False):
            rate = float(getattr(row, "bitrate_kbps"))
            ax.annotate(
                f"{int(getattr(row, 'width'))}x{int(getattr(row, 'height'))}\n{rate:.0f} kb/s",
                (rate, float(getattr(row, metric))), textcoords="offset points", xytext=(6, -14), fontsize=7,
                color="crimson",
            )

    if log_rate:
        ax.set_xscale("log")
    ax.set_xlabel("bitrate (kb/s)" + (", log scale" if log_rate else ""))
    ax.set_ylabel(metric.upper() if metric.startswith("vmaf") else metric)
    ax.grid(True, which="both", alpha=0.3)
    if title is None:
        source = getattr(result, "source", None)
        settings = getattr(result, "settings", None)
        parts = []
        if isinstance(source, Mapping) and source.get("path"):
            parts.append(str(source["path"]).replace("\\", "/").rsplit("/", 1)[-1])
        if isinstance(settings, Mapping) and settings.get("codec"):
            parts.append(str(settings["codec"]))
        title = "per-title ladder" + (": " + ", ".join(parts) if parts else "")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize="small")
    return fig


def plot_shot_hulls(result: Any, *, log_rate: bool = True, title: str | None = None) -> Any:
    """Two panels for a :class:`~abrkit.encode.shotladder.ShotLadderResult`.

    Left: each shot's convex hull (rate of the shot alone against its VMAF), one colour per
    shot, and the point each rung chose for it (numbered markers). Right: the title's
    allocation path (duration-weighted mean VMAF against mean rate), the per-shot rungs as
    predicted and as measured on the joined streams, and the per-title ladder's hull and rungs
    when the result has them.

    Returns
    -------
    matplotlib.figure.Figure
    """
    points = _table(result, "points", ("shot", "bitrate_kbps", "vmaf", "on_hull"))
    rungs = _table(result, "rungs", ("rung", "bitrate_kbps", "vmaf", "measured_bitrate_kbps", "measured_vmaf"))
    choices = _table(result, "choices", ("rung", "shot", "bitrate_kbps", "vmaf"))
    steps = _columns(result.path.steps, "result.path.steps", ("bitrate_kbps", "mean_quality"))
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12.0, 5.0), constrained_layout=True)
    cmap = plt.get_cmap("tab10")
    for i, group in points.groupby("shot"):
        colour = cmap(int(i) % 10)
        hull = group[group["on_hull"].astype(bool)].sort_values("bitrate_kbps")
        left.plot(group["bitrate_kbps"], group["vmaf"], "o", color=colour, ms=3, alpha=0.35)
        left.plot(hull["bitrate_kbps"], hull["vmaf"], "-", color=colour, lw=1.6, label=f"shot {int(i)}")
        picked = choices[choices["shot"] == i]
        for row in picked.itertuples():
            left.annotate(str(int(row.rung)), (row.bitrate_kbps, row.vmaf), fontsize=7, color=colour,
                          xytext=(3, -9), textcoords="offset points")
        left.plot(picked["bitrate_kbps"], picked["vmaf"], "s", color=colour, mec="black", mew=0.5, ms=5)
    left.set_title("per-shot hulls (numbers: the rung that chose the point)")
    right.plot(steps["bitrate_kbps"], steps["mean_quality"], "-", color="black", lw=1.5, label="allocation path")
    per_title = getattr(result, "per_title", None)
    if per_title is not None:
        hull = per_title.hull.sort_values("bitrate_kbps")
        right.plot(hull["bitrate_kbps"], hull["vmaf"], "--", color="0.5", lw=1.2, label="per-title hull")
        right.plot(per_title.rungs["bitrate_kbps"], per_title.rungs["vmaf"], "D", color="0.4", ms=6,
                   label="per-title rungs")
    right.plot(rungs["bitrate_kbps"], rungs["vmaf"], "o", mfc="none", mec="crimson", ms=9, label="per-shot rungs, predicted")
    right.plot(rungs["measured_bitrate_kbps"], rungs["measured_vmaf"], "*", color="crimson", mec="black", mew=0.5,
               ms=11, label="per-shot rungs, measured")
    bd = getattr(result, "bd_rate", {}) or {}
    value = bd.get("per-title")
    right.set_title("title" + (f" (per-shot vs per-title BD-rate {value:+.1f} %)" if isinstance(value, float) else ""))
    for ax in (left, right):
        if log_rate:
            ax.set_xscale("log")
        ax.set_xlabel("bitrate (kbit/s)")
        ax.set_ylabel("VMAF")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    if title is not None:
        fig.suptitle(title)
    return fig
