"""Per-shot encoding (the "Dynamic Optimizer"): one encode per shot, chosen at a common slope.

Given every shot's measured encodes (rate and quality of the shot alone) and the shots'
durations, an encode of the title is one hull point per shot. Played in sequence, its average
bitrate is the duration-weighted mean of the shots' rates and its mean quality the
duration-weighted mean of their qualities. Maximising ``sum_i d_i q_i - lambda * sum_i d_i r_i``
splits into one problem per shot, ``max q_i - lambda r_i``: at a common slope ``lambda`` each shot
takes the vertex of its own upper convex hull (:func:`~abrkit.encode.hull.upper_hull`, linear
rate axis) where the hull's slope crosses ``lambda``. Easy shots stop early, hard shots get the
bits, and no other choice of one point per shot has a higher mean quality for its bitrate
(except for points between two such allocations, reachable only by mixing encodes).

The allocations optimal for some slope form a path, and :func:`allocation_path` enumerates it
exactly rather than by bisection on ``lambda``: start every shot at its cheapest hull vertex, and
take the shots' hull segments in order of decreasing slope (compared exactly, as rationals of
the measured floats), each moving its shot one vertex up. Every prefix is optimal for the slope
of its last segment; a shot whose hull ends is simply never moved again; segments of equal
slope (in one shot or several) are taken one at a time in shot order, so each is a point of the
path and a target falls between them instead of jumping over a group. Bisection on ``lambda``
converges to the same points, without a tolerance to choose.

:func:`allocate` picks the path point for a target: an average bitrate (the best allocation
within it), a mean quality or a minimum quality (the cheapest allocation reaching it).
:func:`per_shot_ladder` picks rungs among the path points under the same
:class:`~abrkit.encode.rungs.RungConstraints` as a per-title ladder.

Units: rates in kbit/s (``bitrate_kbps`` by default), durations in seconds, quality in the unit
of its column (VMAF by default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from .._checks import number
from ..errors import ParameterError
from .hull import upper_hull

__all__ = ["AllocationPath", "Allocation", "allocation_path", "allocate", "per_shot_ladder"]


@dataclass(frozen=True, eq=False)
class AllocationPath:
    """Every Lagrangian-optimal allocation of a title, cheapest first.

    Attributes
    ----------
    steps : pandas.DataFrame
        One row per allocation: ``step`` (0 = every shot at its cheapest hull vertex),
        ``shot`` moved up at this step (-1 for step 0), ``slope`` of the hull segment taken
        (quality per kbit/s; NaN for step 0), ``bitrate_kbps`` (duration-weighted mean rate),
        ``mean_quality`` (duration-weighted), ``min_quality`` (over shots).
    choice : numpy.ndarray, int64, shape (n_steps, n_shots)
        ``choice[k, i]``: the row of ``points`` shot ``i`` plays at step ``k``.
    points : pandas.DataFrame
        The points given (one row per shot and encode), with a boolean ``on_hull`` column.
    durations_s : numpy.ndarray, float64, shape (n_shots,)
        Shot durations, in shot order.
    rate_col, quality_col : str
        The columns used.
    """

    steps: pd.DataFrame
    choice: np.ndarray
    points: pd.DataFrame
    durations_s: np.ndarray
    rate_col: str
    quality_col: str

    def allocation(self, step: int) -> "Allocation":
        """The allocation at ``step`` (a row of :attr:`steps`)."""
        if not 0 <= step < len(self.steps):
            raise ParameterError("step", step, f"must be in 0..{len(self.steps) - 1}")
        rows = self.choice[step]
        # a points table from encodes has its own duration_s (the encode's): the shot's replaces it
        table = self.points.iloc[rows].drop(columns=["on_hull", "duration_s"], errors="ignore").reset_index(drop=True)
        table.insert(1, "duration_s", self.durations_s)
        row = self.steps.iloc[step]
        return Allocation(
            shots=table, step=int(step), slope=float(row["slope"]), bitrate_kbps=float(row["bitrate_kbps"]),
            mean_quality=float(row["mean_quality"]), min_quality=float(row["min_quality"]),
        )


@dataclass(frozen=True, eq=False)
class Allocation:
    """One encode of the title: a point per shot.

    ``shots`` has one row per shot (``shot``, ``duration_s``, then the chosen point's columns);
    ``bitrate_kbps`` and ``mean_quality`` are duration-weighted means, ``min_quality`` the
    worst shot's, ``slope`` the common slope (quality per kbit/s) of the last segment taken
    (NaN at step 0), ``step`` its place on the path.
    """

    shots: pd.DataFrame
    step: int
    slope: float
    bitrate_kbps: float
    mean_quality: float
    min_quality: float


def _check_inputs(points: pd.DataFrame, durations_s: Any, rate_col: str, quality_col: str) -> tuple[np.ndarray, ...]:
    if not isinstance(points, pd.DataFrame):
        raise ParameterError("points", type(points).__name__, "must be a pandas DataFrame")
    for col in ("shot", rate_col, quality_col):
        if col not in points.columns:
            raise ParameterError("points", f"columns {list(points.columns)}", f"needs a {col!r} column")
    d = np.asarray(durations_s, dtype=np.float64).ravel()
    if d.size == 0 or not np.all(np.isfinite(d)) or np.any(d <= 0):
        raise ParameterError("durations_s", d.tolist()[:5], "must be one finite duration > 0 per shot")
    shot = points["shot"].to_numpy()
    if not np.issubdtype(shot.dtype, np.integer):
        raise ParameterError("points['shot']", shot.dtype, "must hold integer shot numbers")
    missing = sorted(set(range(d.size)) - set(shot.tolist()))
    if missing:
        raise ParameterError("points", f"shots {missing[:5]}", f"have no encode (every shot 0..{d.size - 1} needs one)")
    extra = sorted(set(shot.tolist()) - set(range(d.size)))
    if extra:
        raise ParameterError("points", f"shots {extra[:5]}", f"are not among the {d.size} shots with a duration")
    rate = points[rate_col].to_numpy(dtype=np.float64)
    quality = points[quality_col].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(rate)) or np.any(rate <= 0):
        raise ParameterError(rate_col, "a value", "every rate must be finite and > 0")
    if not np.all(np.isfinite(quality)):
        raise ParameterError(quality_col, "a value", "every quality must be finite")
    return shot, rate, quality, d


def allocation_path(
    points: pd.DataFrame,
    durations_s: Any,
    *,
    rate_col: str = "bitrate_kbps",
    quality_col: str = "vmaf",
) -> AllocationPath:
    """The path of optimal allocations (module docstring).

    Parameters
    ----------
    points : pandas.DataFrame
        One row per encode of a shot: ``shot`` (0-based, matching ``durations_s``), the rate
        (``rate_col``, kbit/s of that shot alone) and quality (``quality_col``, its mean over the
        shot's frames); other columns (resolution, CRF, file, ...) are carried along.
    durations_s : array of shape (n_shots,)
        Each shot's duration in seconds (the weights of the means).
    """
    shot, rate, quality, d = _check_inputs(points, durations_s, rate_col, quality_col)
    n_shots = d.size
    on_hull = np.zeros(len(points), dtype=bool)
    vertices: list[np.ndarray] = []
    segments: list[tuple[Fraction, int, int]] = []
    for i in range(n_shots):
        rows = np.flatnonzero(shot == i)
        hull = rows[upper_hull(rate[rows], quality[rows])]
        on_hull[hull] = True
        vertices.append(hull)
        for j in range(1, hull.size):
            a, b = hull[j - 1], hull[j]
            slope = (Fraction(float(quality[b])) - Fraction(float(quality[a]))) / (
                Fraction(float(rate[b])) - Fraction(float(rate[a]))
            )
            segments.append((slope, i, j))
    # decreasing slope; equal slopes in shot order (within a shot slopes strictly decrease)
    segments.sort(key=lambda s: (-s[0], s[1], s[2]))

    weight = d / d.sum()
    level = np.zeros(n_shots, dtype=np.int64)
    current = np.array([v[0] for v in vertices], dtype=np.int64)
    choice = np.empty((len(segments) + 1, n_shots), dtype=np.int64)
    choice[0] = current
    moved, slopes = [-1], [math.nan]
    for k, (slope, i, j) in enumerate(segments, start=1):
        level[i] = j
        current[i] = vertices[i][j]
        choice[k] = current
        moved.append(i)
        slopes.append(float(slope))
    # totals from the choices themselves (no running sums to drift)
    r_chosen = rate[choice]
    q_chosen = quality[choice]
    steps = pd.DataFrame({
        "step": np.arange(choice.shape[0], dtype=np.int64),
        "shot": np.array(moved, dtype=np.int64),
        "slope": np.array(slopes, dtype=np.float64),
        "bitrate_kbps": r_chosen @ weight,
        "mean_quality": q_chosen @ weight,
        "min_quality": q_chosen.min(axis=1),
    })
    table = points.copy()
    table["on_hull"] = on_hull
    return AllocationPath(steps, choice, table, d, rate_col, quality_col)


def allocate(
    path: AllocationPath,
    *,
    target_kbps: float | None = None,
    target_mean: float | None = None,
    target_min: float | None = None,
) -> Allocation:
    """The allocation on ``path`` for exactly one target.

    ``target_kbps``: the best allocation whose average bitrate is at most this. ``target_mean``
    / ``target_min``: the cheapest allocation whose mean (duration-weighted) / minimum shot
    quality reaches this. A target the path cannot meet is a :class:`ParameterError` giving the
    range it covers.
    """
    given = [(n, v) for n, v in (("target_kbps", target_kbps), ("target_mean", target_mean), ("target_min", target_min))
             if v is not None]
    if len(given) != 1:
        raise ParameterError("target", [n for n, _ in given], "give exactly one of target_kbps, target_mean, target_min")
    name, value = given[0]
    value = float(value)
    if not math.isfinite(value):
        raise ParameterError(name, value, "must be finite")
    steps = path.steps
    if name == "target_kbps":
        rates = steps["bitrate_kbps"].to_numpy()
        ok = np.flatnonzero(rates <= value * (1 + 1e-12))
        if ok.size == 0:
            raise ParameterError(name, value, f"is below the cheapest allocation, {rates[0]:.6g} kbit/s")
        # the rate rises along the path, so the last that fits is the best that fits
        return path.allocation(int(ok[-1]))
    col = "mean_quality" if name == "target_mean" else "min_quality"
    q = steps[col].to_numpy()
    ok = np.flatnonzero(q >= value)
    if ok.size == 0:
        raise ParameterError(name, value, f"is above the best the encodes reach ({col} {q.max():.6g})")
    return path.allocation(int(ok[0]))


def per_shot_ladder(
    path: AllocationPath,
    constraints: Any = None,
    *,
    max_candidates: int = 80,
    min_quality: float | None = None,
) -> list[Allocation]:
    """Rungs of a per-shot ladder: path allocations chosen by
    :func:`~abrkit.encode.rungs.select_rungs` under ``constraints`` (a
    :class:`~abrkit.encode.rungs.RungConstraints`; default: its defaults), as a per-title
    ladder chooses among hull points. Resolution constraints do not apply: a per-shot rung mixes
    resolutions. The path is first thinned to at most ``max_candidates`` points spread evenly
    in mean quality (the rung search is cubic in the candidates), always keeping both ends.
    ``min_quality``: the lowest mean quality a rung may have (the per-title ``min_vmaf``); path
    points below it are not candidates.
    """
    from .rungs import RungConstraints, select_rungs

    c = constraints if constraints is not None else RungConstraints()
    if not isinstance(c, RungConstraints):
        raise ParameterError("constraints", type(c).__name__, "must be a RungConstraints")
    if c.allowed_resolutions is not None:
        raise ParameterError(
            "constraints.allowed_resolutions", c.allowed_resolutions, "does not apply to per-shot rungs (they mix resolutions)",
        )
    n = int(max_candidates)
    if n < 2:
        raise ParameterError("max_candidates", max_candidates, "must be >= 2")
    steps = path.steps
    if min_quality is not None:
        floor = number("min_quality", min_quality)
        steps = steps[steps["mean_quality"] >= floor]
        if steps.empty:
            best = path.steps["mean_quality"].max()
            raise ParameterError("min_quality", min_quality, f"no allocation reaches it (the best mean is {best:.2f})")
    q = steps["mean_quality"].to_numpy()
    # the path's mean quality never falls: pick the first step at or above evenly spaced levels
    levels = np.linspace(q[0], q[-1], n)
    picked = np.unique(np.concatenate([np.searchsorted(q, levels, side="left").clip(0, len(q) - 1), [0, len(q) - 1]]))
    candidates = pd.DataFrame({
        "step": steps["step"].to_numpy()[picked],
        "bitrate_kbps": steps["bitrate_kbps"].to_numpy()[picked],
        "vmaf": q[picked],
    })
    chosen = select_rungs(candidates, c)
    return [path.allocation(int(s)) for s in chosen["step"].tolist()]
