"""The rate-quality frontier of a set of encodes: Pareto front and upper convex hull.

Each encode of a title (one resolution, one CRF, ...) is a point ``(rate, quality)``. The
*convex hull* a per-title ladder is built on is the upper, monotone part of the convex hull of
those points, taken across all resolutions:

* **Pareto front** (:func:`pareto_front`): the points no other point beats, that is no point
  has a rate at most as high *and* a quality at least as high. Along the front, rate and
  quality both increase strictly.
* **Upper hull** (:func:`upper_hull`): the vertices of the concave majorant of the front. A
  point is on it when it is on the front and no straight chord between two other points passes
  on or above it (with ``keep_collinear=True``: strictly above it). Equivalently, no convex
  combination of two other points has a rate at most as high and a quality at least as high.
  The hull runs from the cheapest point (the best of them if several share that rate) to the
  best point (the cheapest of them); quality increases strictly along it and the slope
  ``d quality / d x`` decreases strictly.

Which ``x`` the chords are straight in is the *axis*:

* ``axis="linear"`` (default): ``x = rate``. A chord between two encodes is what time-sharing
  between them achieves (play a fraction of the time from each: the average rate and, to first
  order, the average quality are the weighted means), so a point under a linear chord is
  genuinely inefficient. This is the convex hull of operational rate-distortion theory and of
  Lagrangian (``quality - lambda * rate``) optimisation, the one per-title encoding builds on.
* ``axis="log"``: ``x = log2(rate)`` (any logarithm gives the same hull: a change of base only
  scales ``x``). The axis of BD-rate and of ladder spacing by bitrate *ratios*; rate-quality
  curves look straighter in it.

The log hull is always a subset of the linear one: a chord that is straight in ``log2(rate)``
bends upwards when drawn against ``rate``, so a point under a log chord is also under the
linear chord between the same two points. Where a curve is convex in ``log(rate)`` (the low,
steep end of a VMAF curve), the log chord from the cheapest encode passes over every point of
that stretch, leaving the bottom of the ladder with few candidates; that is why the default is
the linear axis.

Arithmetic: the ``x`` values are floats (``numpy.log2`` of the rates for the log axis); the
orientation test that decides whether a point lies above, on or below a chord is exact for
those floats (a floating-point filter with Shewchuk's error bound, falling back to rational
arithmetic near zero), so collinear points are recognised exactly and the result never depends
on rounding.

Units: rates in kilobits per second (``rates_kbps``); any positive rate unit works as long as
all points share it. Quality in any unit where higher is better (VMAF, PSNR in dB, SSIM).
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np

from ..errors import ParameterError

if TYPE_CHECKING:  # pandas is imported lazily by hull_frame
    import pandas as pd

__all__ = ["AXES", "upper_hull", "pareto_front", "hull_frame", "rate_axis"]

#: The accepted values of ``axis``.
AXES = ("linear", "log")

Axis = Literal["linear", "log"]

# Shewchuk's bound on the rounding error of a 2-D orientation determinant computed in doubles:
# when |det| exceeds it, the sign of the floating-point det is the sign of the exact one.
_EPS = 2.0**-53
_ORIENT_ERRBOUND = (3.0 + 16.0 * _EPS) * _EPS
# Below this the products may have lost precision to underflow: decide exactly instead.
_TINY = 2.0**-900


def _as_points(rates_kbps: object, quality: object) -> tuple[np.ndarray, np.ndarray]:
    """Validated float64 copies of the rate and quality arrays (1-D, same length)."""
    try:
        rates = np.array(rates_kbps, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError("rates_kbps", rates_kbps, "must be a 1-D array of numbers") from None
    try:
        q = np.array(quality, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError("quality", quality, "must be a 1-D array of numbers") from None
    if rates.ndim != 1:
        raise ParameterError("rates_kbps", rates_kbps, f"must be 1-D, got shape {rates.shape}")
    if q.ndim != 1:
        raise ParameterError("quality", quality, f"must be 1-D, got shape {q.shape}")
    if rates.shape != q.shape:
        raise ParameterError("quality", quality, f"must have one value per rate ({rates.size}), got {q.size}")
    bad = ~np.isfinite(rates) | (rates <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(f"rates_kbps[{i}]", float(rates[i]), "must be finite and > 0")
    bad = ~np.isfinite(q)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(
            f"quality[{i}]", float(q[i]), "must be finite (an infinite PSNR means a lossless encode: cap or drop it)"
        )
    return rates, q


def _check_axis(axis: object) -> str:
    if axis not in AXES:
        raise ParameterError("axis", axis, "must be 'linear' (the rate itself) or 'log' (log2 of the rate)")
    return str(axis)


def rate_axis(rates_kbps: object, axis: Axis = "linear") -> np.ndarray:
    """The ``x`` coordinate the hull is convex in: ``log2(rate)`` or the rate itself.

    Parameters
    ----------
    rates_kbps : array of shape (n,)
        Rates, finite and > 0.
    axis : {"linear", "log"}
        ``"linear"``: the rates unchanged; ``"log"``: ``numpy.log2(rates_kbps)``.

    Returns
    -------
    array of shape (n,), float64
    """
    axis = _check_axis(axis)
    rates, _ = _as_points(rates_kbps, np.zeros(np.size(rates_kbps)))
    return np.log2(rates) if axis == "log" else rates


def _pareto_order(x: np.ndarray, q: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Indices of the Pareto front in (x, q), by increasing x (float64 inputs already validated).

    Ties: of points with equal x and equal q, the one with the lowest rate (then index) stays.
    """
    n = x.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # x ascending, then quality descending, then rate and original index ascending
    order = np.lexsort((np.arange(n), rates, -q, x))
    q_sorted = q[order]
    best_before = np.empty(n)
    best_before[0] = -np.inf
    np.maximum.accumulate(q_sorted[:-1], out=best_before[1:])
    # A point survives when it beats every point that is no further right (and was not
    # already placed before it at the same x with a quality at least as high).
    return order[q_sorted > best_before].astype(np.int64)


def pareto_front(rates_kbps: Sequence[float] | np.ndarray, quality: Sequence[float] | np.ndarray) -> np.ndarray:
    """Indices of the points that no other point beats, by increasing rate.

    Point ``i`` is dropped when some other point ``j`` has ``rate[j] <= rate[i]`` and
    ``quality[j] >= quality[i]``. Of several identical points only the first (lowest index)
    stays. Along the returned indices rate and quality both increase strictly.

    Parameters
    ----------
    rates_kbps : array of shape (n,)
        Rates in kbps (any positive unit shared by all points), finite and > 0.
    quality : array of shape (n,)
        Quality, higher is better; finite.

    Returns
    -------
    array of shape (m,), int64
        Indices into the inputs, ``m <= n`` (``m >= 1`` unless ``n == 0``).
    """
    rates, q = _as_points(rates_kbps, quality)
    return _pareto_order(rates, q, rates)


def _orientation(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> int:
    """Sign of ``(b - a) x (c - a)``: +1 if c is left of the line a->b, -1 if right, 0 if on it.

    Exact for the given doubles: a floating-point filter, then rational arithmetic when the
    floating-point result is too close to zero to trust.
    """
    left = (bx - ax) * (cy - ay)
    right = (by - ay) * (cx - ax)
    det = left - right
    bound = _ORIENT_ERRBOUND * (abs(left) + abs(right))
    if bound > _TINY:
        if det > bound:
            return 1
        if -det > bound:
            return -1
    fa, fb, fc = (Fraction(ax), Fraction(ay)), (Fraction(bx), Fraction(by)), (Fraction(cx), Fraction(cy))
    exact = (fb[0] - fa[0]) * (fc[1] - fa[1]) - (fb[1] - fa[1]) * (fc[0] - fa[0])
    return (exact > 0) - (exact < 0)


def _upper_chain(x: np.ndarray, q: np.ndarray, front: np.ndarray, keep_collinear: bool) -> np.ndarray:
    """Andrew's monotone chain (upper half) over front points with strictly increasing x and q."""
    xs = x[front].tolist()
    qs = q[front].tolist()
    stack: list[int] = []
    for k in range(len(xs)):
        while len(stack) >= 2:
            a, b = stack[-2], stack[-1]
            turn = _orientation(xs[a], qs[a], xs[b], qs[b], xs[k], qs[k])
            # turn > 0: point k lies above the line a->b, so b lies below the chord a-k
            if turn > 0 or (turn == 0 and not keep_collinear):
                stack.pop()
            else:
                break
        stack.append(k)
    return front[np.array(stack, dtype=np.int64)] if stack else front[:0]


def upper_hull(
    rates_kbps: Sequence[float] | np.ndarray,
    quality: Sequence[float] | np.ndarray,
    axis: Axis = "linear",
    *,
    keep_collinear: bool = False,
) -> np.ndarray:
    """Indices of the vertices of the upper, monotone convex hull, by increasing rate.

    A point is on the hull when it is on the Pareto front (:func:`pareto_front`) and lies
    strictly above every chord between two other points, the chords being straight lines in
    ``(x, quality)`` with ``x = rate`` (``axis="linear"``, default) or ``x = log2(rate)``
    (``axis="log"``). Points exactly on a chord (collinear) are dropped, since they do not
    change the hull, unless ``keep_collinear=True``. See the module docstring for the choice of
    axis. Everything is decided on ``x``: on the log axis, two rates so close that their
    ``log2`` is the same double count as one (the better point stays; at equal quality the
    cheaper one).

    Parameters
    ----------
    rates_kbps : array of shape (n,)
        Rates in kbps (any positive unit shared by all points), finite and > 0.
    quality : array of shape (n,)
        Quality, higher is better (VMAF, PSNR in dB, ...); finite.
    axis : {"linear", "log"}
        The rate axis the hull is convex in (module docstring): ``x = rate`` (default) or
        ``x = log2(rate)``.
    keep_collinear : bool
        Keep points lying exactly on a hull edge (default: drop them).

    Returns
    -------
    array of shape (m,), int64
        Indices into the inputs; rate and quality increase strictly along them, and the slope
        between consecutive hull points decreases (strictly unless ``keep_collinear``). The
        first is the cheapest point (the best at that rate), the last the best point (the
        cheapest at that quality). Empty only for empty inputs.

    Raises
    ------
    ParameterError
        Arrays of different lengths or not 1-D, a rate that is not finite and > 0, a quality
        that is not finite, or an unknown axis.

    Examples
    --------
    >>> upper_hull([100, 200, 400, 800], [30.0, 50.0, 60.0, 90.0]).tolist()
    [0, 1, 3]
    >>> upper_hull([100, 200, 400, 800], [40.0, 52.0, 70.0, 80.0], axis="linear").tolist()
    [0, 1, 2, 3]
    >>> upper_hull([100, 200, 400, 800], [40.0, 52.0, 70.0, 80.0], axis="log").tolist()
    [0, 2, 3]
    """
    axis = _check_axis(axis)
    rates, q = _as_points(rates_kbps, quality)
    # Everything happens in (x, quality): on the log axis, distinct rates whose log2 rounds to
    # the same double count as one x (the better point, then the cheaper one, stays).
    x = np.log2(rates) if axis == "log" else rates
    front = _pareto_order(x, q, rates)
    if front.size <= 2:
        return front
    return _upper_chain(x, q, front, bool(keep_collinear))


def hull_frame(
    points: "pd.DataFrame",
    rate_col: str = "bitrate_kbps",
    quality_col: str = "vmaf",
    axis: Axis = "linear",
    *,
    keep_collinear: bool = False,
) -> "pd.DataFrame":
    """A copy of ``points`` with boolean columns ``on_pareto`` and ``on_hull``.

    Parameters
    ----------
    points : pandas.DataFrame
        One row per encode; any other columns (``width``, ``height``, ``crf``, ...) are kept.
    rate_col : str
        Column with the rate (kbps by default name; any positive unit).
    quality_col : str
        Column with the quality (higher is better).
    axis, keep_collinear
        As for :func:`upper_hull`.

    Returns
    -------
    pandas.DataFrame
        Same rows, index and order as ``points``, plus ``on_pareto`` (see :func:`pareto_front`)
        and ``on_hull`` (see :func:`upper_hull`). ``points[out.on_hull]`` are the hull points,
        in the frame's order; sort them by ``rate_col`` to walk along the hull.
    """
    import pandas as pd

    if not isinstance(points, pd.DataFrame):
        raise ParameterError("points", points, "must be a pandas DataFrame")
    for name, col in (("rate_col", rate_col), ("quality_col", quality_col)):
        if col not in points.columns:
            raise ParameterError(name, col, f"is not a column of points (columns: {list(points.columns)})")
    rates = points[rate_col].to_numpy(dtype=np.float64, na_value=np.nan)
    quality = points[quality_col].to_numpy(dtype=np.float64, na_value=np.nan)
    on_pareto = np.zeros(len(points), dtype=bool)
    on_hull = np.zeros(len(points), dtype=bool)
    try:
        _as_points(rates, quality)
    except ParameterError as err:  # name the column and the row label, not the position
        col, pos = (rate_col, err.name) if err.name.startswith("rates_kbps") else (quality_col, err.name)
        if pos.endswith("]"):
            label = points.index[int(pos[pos.index("[") + 1 : -1])]
            raise ParameterError(f"{col}[{label!r}]", err.value, err.rule) from None
        raise ParameterError(col, err.value, err.rule) from None
    on_pareto[pareto_front(rates, quality)] = True
    on_hull[upper_hull(rates, quality, axis, keep_collinear=keep_collinear)] = True
    out = points.copy()
    out["on_pareto"] = on_pareto
    out["on_hull"] = on_hull
    return out
