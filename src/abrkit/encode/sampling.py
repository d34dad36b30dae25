"""Fast mode of the ladder search: find the convex hull with a fraction of the grid's encodes.

The grid is ``resolutions x CRFs``; exhaustive mode encodes all of it. Only the points on the
hull across resolutions matter, and they are few: each resolution contributes a band of CRFs
(or none). Fast mode samples the same grid and encodes a point only while it may still reach
the hull:

1. **Seed** (round 0): every resolution at one CRF in the middle of the grid
   (``FastSearch.seed_position``), plus the two corners that are always on the hull: the
   largest resolution at the lowest CRF (the best quality) and the smallest at the highest CRF
   (the lowest rate).
2. **Predict**: every unmeasured grid point gets an *optimistic* estimate from the measured
   points of its own resolution. ``log(rate)`` is close to linear in CRF, so it is
   interpolated linearly, and extrapolated with the slope of the nearest measured pair (with
   a single point, the median slope of the other resolutions). VMAF falls ever faster as CRF
   rises (it is concave in CRF over the range ladders use), so between two measured points it
   is bounded above by the extensions of the neighbouring secants, and outside them by the
   extension of the last secant, capped at 100. Each estimate is then made more optimistic
   in proportion to its CRF distance from the nearest measured point (``rate_slack``,
   ``vmaf_slack``), to cover curves that are not exactly concave and rate slopes that drift.
3. **Refine**: the *gain* of an unmeasured point is how far its optimistic estimate lies to
   the left of the hull of the measured points, as a fraction of rate at equal VMAF (points
   above the hull's best quality gain without bound, points in the hull's flat tail gain
   nothing). Points whose gain exceeds ``tolerance`` are candidates; each round measures the
   best candidate of each resolution, at most ``batch`` of them, best first.
4. Stop when no candidate is left (every point that could move the hull by more than
   ``tolerance`` has been measured) or after ``max_fraction`` of the grid.

A resolution whose optimistic curve stays below the hull is never sampled again after its
seed: that is where most of the saving comes from. Decisions depend only on measured values
and the round's batch size (never on the number of workers or on timing), so a run is
deterministic and a re-run asks for the same points in the same order, which the cache
answers.

This module only decides what to measure; :func:`abrkit.encode.ladder.optimize_ladder` does
the measuring. It runs without ffmpeg, on any ``measure`` callable, which is how the
benchmark replays stored grids.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .._checks import integer, number
from ..errors import ParameterError
from .hull import rate_axis, upper_hull

__all__ = ["FastSearch", "fast_search", "replay"]

#: Prior slope of ln(rate) per CRF unit when nothing is measured yet (x264: rate halves every
#: ~6 CRF, ln(2)/6 = 0.116; the same order for the other codecs' CRF scales).
_PRIOR_LOG_RATE_SLOPE = -0.1
_VMAF_MAX = 100.0


@dataclass(frozen=True)
class FastSearch:
    """Parameters of fast mode (see the module docstring).

    Parameters
    ----------
    seed_position : float
        Where in the CRF grid every resolution is first measured, 0 (lowest CRF) to 1
        (highest); default 0.5, the middle.
    tolerance : float
        Smallest rate saving (fraction, at equal VMAF) an unmeasured point must promise over the
        current hull to be measured; default 0.01 (1 %).
    vmaf_slack : float
        Extra VMAF granted to an estimate per CRF unit of distance from the nearest measured
        point of its resolution (default 0.25).
    rate_slack : float
        Extra fractional rate reduction granted per CRF unit of distance (default 0.01).
    batch : int
        Points measured per round at most (default 2). Results depend on it, not on workers.
    max_fraction : float
        Stop after measuring this fraction of the grid (default 0.5), a safety net.
    """

    seed_position: float = 0.5
    tolerance: float = 0.01
    vmaf_slack: float = 0.25
    rate_slack: float = 0.01
    batch: int = 2
    max_fraction: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "seed_position", number("seed_position", self.seed_position, ge=0, le=1))
        object.__setattr__(self, "tolerance", number("tolerance", self.tolerance, ge=0))
        object.__setattr__(self, "vmaf_slack", number("vmaf_slack", self.vmaf_slack, ge=0))
        object.__setattr__(self, "rate_slack", number("rate_slack", self.rate_slack, ge=0, le=1))
        object.__setattr__(self, "batch", integer("batch", self.batch, ge=1))
        object.__setattr__(self, "max_fraction", number("max_fraction", self.max_fraction, gt=0, le=1))

    def to_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict."""
        return asdict(self)


Measure = Callable[[list[tuple[int, float]], int], list[tuple[float, float]]]


def fast_search(
    n_resolutions: int,
    crfs: Sequence[float],
    measure: Measure,
    *,
    params: FastSearch | None = None,
    axis: str = "linear",
    on_plan: Callable[[int], None] | None = None,
    pixels: Sequence[int] | None = None,
) -> list[tuple[int, float, int]]:
    """Run the fast search; returns the measured ``(resolution index, crf, round)`` in order.

    Parameters
    ----------
    n_resolutions : int
        Number of resolutions, index 0 the largest (most pixels) and the last the smallest.
    crfs : sequence of float
        The CRF grid, increasing.
    measure : callable
        ``measure(batch, round)`` gets a list of ``(resolution index, crf)`` and returns one
        ``(bitrate_kbps, vmaf)`` per item, in order.
    params : FastSearch, optional
        Search parameters.
    axis : {"linear", "log"}
        Hull axis (as for :func:`~abrkit.encode.hull.upper_hull`).
    on_plan : callable, optional
        Told how many points each round will measure, before it measures them.
    pixels : sequence of int, optional
        Pixels per frame of each resolution, to check the order (largest first).
    """
    p = FastSearch() if params is None else params
    n_res = integer("n_resolutions", n_resolutions, ge=1)
    grid = np.asarray(sorted(float(c) for c in crfs), dtype=np.float64)
    if grid.size == 0:
        raise ParameterError("crfs", list(crfs), "must hold at least one CRF")
    if pixels is not None and list(pixels) != sorted(pixels, reverse=True):
        raise ParameterError("pixels", list(pixels), "resolutions must be ordered from the largest to the smallest")
    m = grid.size
    budget = max(n_res + 2, int(math.floor(p.max_fraction * n_res * m + 1e-9)))
    state = _State(n_res, grid, axis)
    order: list[tuple[int, float, int]] = []

    def run(batch: list[tuple[int, int]], round_: int) -> None:
        if on_plan is not None:
            on_plan(len(batch))
        got = measure([(r, float(grid[i])) for r, i in batch], round_)
        if len(got) != len(batch):
            raise ParameterError("measure", len(got), f"must return one (rate, vmaf) per point ({len(batch)})")
        for (r, i), (rate, q) in zip(batch, got):
            state.add(r, i, float(rate), float(q))
            order.append((r, float(grid[i]), round_))

    mid = int(round(p.seed_position * (m - 1)))
    seeds = [(0, 0)] + [(r, mid) for r in range(n_res)] + [(n_res - 1, m - 1)]
    run(list(dict.fromkeys(seeds)), 0)

    round_ = 0
    while len(state.measured) < min(budget, n_res * m):
        round_ += 1
        picks = state.candidates(p)[: min(p.batch, budget - len(state.measured))]
        if not picks:
            break
        run(picks, round_)
    return order


class _State:
    """Measured points and the optimistic predictions built on them."""

    def __init__(self, n_res: int, grid: np.ndarray, axis: str) -> None:
        self.n_res, self.grid, self.axis = n_res, grid, axis
        self.measured: dict[tuple[int, int], tuple[float, float]] = {}

    def add(self, r: int, i: int, rate: float, q: float) -> None:
        if not (math.isfinite(rate) and rate > 0 and math.isfinite(q)):
            raise ParameterError("measure", (rate, q), "returned a rate that is not finite and > 0, or a quality that is not finite")
        self.measured[(r, i)] = (rate, q)

    def _known(self, r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        idx = sorted(i for (rr, i) in self.measured if rr == r)
        c = self.grid[idx]
        lr = np.log([self.measured[(r, i)][0] for i in idx])
        q = np.array([self.measured[(r, i)][1] for i in idx])
        return c, lr, q

    def _pooled_rate_slope(self) -> float:
        slopes = []
        for r in range(self.n_res):
            c, lr, _ = self._known(r)
            if c.size >= 2:
                slopes.extend(np.diff(lr) / np.diff(c))
        return float(np.median(slopes)) if slopes else _PRIOR_LOG_RATE_SLOPE

    def predict(self, r: int, i: int, p: FastSearch, pooled_slope: float) -> tuple[float, float]:
        """Optimistic (rate, vmaf) of the unmeasured grid point (r, i)."""
        c, lr, q = self._known(r)
        x = self.grid[i]
        d = float(np.min(np.abs(c - x)))
        k = int(np.searchsorted(c, x))  # c[k-1] < x < c[k]
        # log rate: linear in CRF
        if 0 < k < c.size:
            t = (x - c[k - 1]) / (c[k] - c[k - 1])
            lr_hat = lr[k - 1] + t * (lr[k] - lr[k - 1])
        else:
            j = 0 if k == 0 else c.size - 1
            if c.size >= 2:
                a, b = (0, 1) if k == 0 else (c.size - 2, c.size - 1)
                slope = (lr[b] - lr[a]) / (c[b] - c[a])
            else:
                slope = pooled_slope
            lr_hat = lr[j] + slope * (x - c[j])
        # VMAF: concave in CRF -> bounded by the extensions of the neighbouring secants
        bounds = []
        if k >= 2:
            bounds.append(q[k - 1] + (q[k - 1] - q[k - 2]) / (c[k - 1] - c[k - 2]) * (x - c[k - 1]))
        if k + 1 < c.size:
            bounds.append(q[k] + (q[k + 1] - q[k]) / (c[k + 1] - c[k]) * (x - c[k]))
        if 0 < k < c.size:
            chord = q[k - 1] + (x - c[k - 1]) / (c[k] - c[k - 1]) * (q[k] - q[k - 1])
            q_hat = max(min([q[k - 1], *bounds]), chord)  # and never above the better neighbour
        elif bounds:
            q_hat = min(bounds)
        else:  # a single point and nothing to extrapolate with: anything up to the maximum
            q_hat = _VMAF_MAX if k == 0 else q[0]
        q_opt = min(_VMAF_MAX, q_hat + p.vmaf_slack * d)
        rate_opt = math.exp(lr_hat) * max(1e-9, 1.0 - p.rate_slack * d)
        return rate_opt, q_opt

    def candidates(self, p: FastSearch) -> list[tuple[int, int]]:
        """Unmeasured points promising more than ``tolerance``, best per resolution, best first."""
        keys = sorted(self.measured)
        rates = np.array([self.measured[k][0] for k in keys])
        quality = np.array([self.measured[k][1] for k in keys])
        hull = upper_hull(rates, quality, self.axis)  # type: ignore[arg-type]
        h_rate, h_q = rates[hull], quality[hull]
        h_x = rate_axis(h_rate, self.axis)  # type: ignore[arg-type]
        slope = self._pooled_rate_slope()
        best: dict[int, tuple[float, int]] = {}
        for r in range(self.n_res):
            for i in range(self.grid.size):
                if (r, i) in self.measured:
                    continue
                rate, q = self.predict(r, i, p, slope)
                gain = _gain(rate, q, h_rate, h_q, h_x, self.axis)
                if gain > p.tolerance and (r not in best or gain > best[r][0]):
                    best[r] = (gain, i)
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))
        return [(r, i) for r, (_, i) in ranked]


def _gain(rate: float, q: float, h_rate: np.ndarray, h_q: np.ndarray, h_x: np.ndarray, axis: str) -> float:
    """Fractional rate saving of (rate, q) over the hull at equal quality (inf above its top)."""
    if q > h_q[-1]:
        return math.inf
    if q <= h_q[0]:
        # At or below the cheapest point's quality: only a cheaper point can matter.
        return (h_rate[0] - rate) / h_rate[0] if rate < h_rate[0] else 0.0
    k = int(np.searchsorted(h_q, q))  # h_q[k-1] < q <= h_q[k]
    t = (q - h_q[k - 1]) / (h_q[k] - h_q[k - 1])
    x = h_x[k - 1] + t * (h_x[k] - h_x[k - 1])
    hull_rate = float(2.0**x) if axis == "log" else float(x)
    return (hull_rate - rate) / hull_rate


def replay(
    table: dict[tuple[int, float], tuple[float, float]],
    n_resolutions: int,
    crfs: Sequence[float],
    *,
    params: FastSearch | None = None,
    axis: str = "linear",
) -> list[tuple[int, float, int]]:
    """Run :func:`fast_search` on a stored grid (``(resolution index, crf) -> (rate, vmaf)``)."""

    def measure(batch: list[tuple[int, float]], round_: int) -> list[tuple[float, float]]:
        return [table[(r, c)] for r, c in batch]

    return fast_search(n_resolutions, crfs, measure, params=params, axis=axis)
