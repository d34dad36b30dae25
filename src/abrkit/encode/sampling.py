"""Fast mode of the ladder search: nearly the exhaustive hull from a fraction of its encodes.

The grid is ``resolutions x CRFs``; exhaustive mode encodes all of it. Only the points on the
convex hull across resolutions matter, and each resolution contributes a band of CRFs to it
(or nothing at all). Fast mode samples the same grid, round by round, and encodes a point only
while a model of the unmeasured points says it could still improve the hull:

1. **Seed** (round 0): the two corners that are always on the hull (the largest resolution at
   the lowest CRF: the best quality; the smallest at the highest CRF: the lowest rate), and
   every resolution at the grid positions ``FastSearch.seeds`` (the middle of the CRF grid by
   default, where the hull's resolution changes usually happen).
2. **Predict** every unmeasured point of a resolution from that resolution's measured points,
   in coordinates where rate-quality curves are nearly straight: ``ln(rate)`` against CRF
   (x264 roughly halves the rate every 6 CRF) and ``logit(VMAF / 100)`` against CRF (VMAF
   falls with CRF along a logistic curve: flat near 100, steep in the middle). Between two
   measured CRFs the prediction interpolates linearly; beyond them it extends the nearest
   secant (with a single point, the median slope of the other resolutions). The prediction is
   then made *optimistic* by a curvature allowance that grows with the square of the CRF gap
   it bridges (``(c - a)(b - c)`` between measured ``a`` and ``b``, ``(c - e)^2`` beyond the
   last measured ``e``): ``curvature_vmaf`` in logit units, ``curvature_rate`` in ``ln(rate)``
   units per CRF². A point is skipped only if even this optimistic guess cannot help.
3. **Score**: the *gain* of a point is how much adding its optimistic guess to the measured
   points would lower the hull's rate, averaged over the hull's VMAF range in ``log10(rate)``
   (the rate at each VMAF read off the hull, straight between its vertices on the hull's
   axis). This is the measure the result is judged by: the rate gap between two hulls at equal
   quality, as in BD-rate.
4. **Refine**: each round measures the best point of each resolution that has one, at most
   ``batch`` of them, best first.
5. **Stop** when adding *all* the optimistic guesses at once would lower the hull's rate by
   less than ``tolerance`` on average, or after ``max_fraction`` of the grid.

A resolution that never comes near the hull costs its seeds and little more; most of the
saving comes from there and from the long CRF stretches where a resolution is far from the
hull. Decisions depend only on measured values and on ``batch`` (never on the number of
workers or on timing), so a run is deterministic, and a re-run asks for the same points in the
same order, which the cache answers.

This module only decides what to measure; :func:`abrkit.encode.ladder.optimize_ladder` measures.
It needs no ffmpeg: :func:`replay` runs the search on a stored grid (the benchmark's way of
trying settings without encoding).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .._checks import integer, number
from ..errors import ParameterError
from .hull import upper_hull

__all__ = ["FastSearch", "fast_search", "replay", "hull_rate_gap"]

#: Slope of ln(rate) per CRF unit assumed before two points of any resolution are measured.
_PRIOR_LOG_RATE_SLOPE = -0.09
#: Slope of logit(VMAF / 100) per CRF unit assumed likewise.
_PRIOR_LOGIT_SLOPE = -0.17
_LOGIT_CLIP = 1e-3
_GAP_SAMPLES = 256


@dataclass(frozen=True)
class FastSearch:
    """Parameters of fast mode (see the module docstring for the algorithm).

    Parameters
    ----------
    seeds : tuple of float
        Positions in the CRF grid (0: lowest CRF, 1: highest) where every resolution is
        measured first (index ``floor(position * n_crfs)``); default (0.5,), the middle.
    tolerance : float
        Stop when all unmeasured points together could lower the hull's rate by less than this
        fraction on average (optimistic estimate); default 0.005 (0.5 %).
    curvature_vmaf : float
        Optimism of the VMAF estimate, in logit units per CRF² of gap; default 0.002.
    curvature_rate : float
        Optimism of the rate estimate, in ``ln(rate)`` per CRF² of gap; default 0.
    batch : int
        Points measured per round, at most one per resolution; default 2. Results depend on it,
        not on the number of workers.
    max_fraction : float
        Never measure more than this fraction of the grid (a safety net); default 0.5.
    """

    seeds: tuple[float, ...] = (0.5,)
    tolerance: float = 0.005
    curvature_vmaf: float = 0.002
    curvature_rate: float = 0.0
    batch: int = 2
    max_fraction: float = 0.5

    def __post_init__(self) -> None:
        if isinstance(self.seeds, (str, bytes)) or not hasattr(self.seeds, "__iter__"):
            raise ParameterError("seeds", self.seeds, "must be a sequence of grid positions in [0, 1]")
        seeds = tuple(number(f"seeds[{k}]", s, ge=0, le=1) for k, s in enumerate(self.seeds))
        object.__setattr__(self, "seeds", seeds)
        object.__setattr__(self, "tolerance", number("tolerance", self.tolerance, ge=0))
        object.__setattr__(self, "curvature_vmaf", number("curvature_vmaf", self.curvature_vmaf, ge=0))
        object.__setattr__(self, "curvature_rate", number("curvature_rate", self.curvature_rate, ge=0))
        object.__setattr__(self, "batch", integer("batch", self.batch, ge=1))
        object.__setattr__(self, "max_fraction", number("max_fraction", self.max_fraction, gt=0, le=1))

    def to_dict(self) -> dict[str, Any]:
        """The parameters as a JSON-ready dict."""
        out = asdict(self)
        out["seeds"] = list(self.seeds)
        return out


#: ``measure(batch, round)``: one ``(bitrate_kbps, vmaf)`` per ``(resolution index, crf)``.
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
        Number of resolutions; index 0 is the largest, the last the smallest.
    crfs : sequence of float
        The CRF grid (sorted here; duplicates are one value).
    measure : callable
        ``measure(batch, round)`` gets a list of ``(resolution index, crf)`` and returns one
        ``(bitrate_kbps, vmaf)`` per item, in order.
    params : FastSearch, optional
        Search parameters (default ``FastSearch()``).
    axis : {"linear", "log"}
        Hull axis (as for :func:`~abrkit.encode.hull.upper_hull`).
    on_plan : callable, optional
        Told how many points a round will measure, before it measures them.
    pixels : sequence of int, optional
        Pixels per frame of each resolution, to check they are ordered largest first.
    """
    p = FastSearch() if params is None else params
    if not isinstance(p, FastSearch):
        raise ParameterError("params", params, "must be a FastSearch")
    n_res = integer("n_resolutions", n_resolutions, ge=1)
    grid = np.array(sorted({float(c) for c in crfs}), dtype=np.float64)
    if grid.size == 0:
        raise ParameterError("crfs", list(crfs), "must hold at least one CRF")
    if pixels is not None and list(pixels) != sorted(pixels, reverse=True):
        raise ParameterError("pixels", list(pixels), "resolutions must be ordered from the largest to the smallest")
    m = grid.size
    budget = max(1, int(math.floor(p.max_fraction * n_res * m + 1e-9)))
    state = _State(n_res, grid, axis, p)
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

    seeds = [(0, 0)]
    for r in range(n_res):
        seeds += [(r, min(m - 1, int(math.floor(s * m + 1e-9)))) for s in p.seeds]
    seeds.append((n_res - 1, m - 1))
    run(list(dict.fromkeys(seeds))[: max(budget, 2)], 0)

    round_ = 0
    while len(state.measured) < min(budget, n_res * m):
        round_ += 1
        picks = state.next_batch()[: budget - len(state.measured)]
        if not picks:
            break
        run(picks, round_)
    return order


def max_points(n_resolutions: int, n_crfs: int, params: FastSearch | None = None) -> int:
    """The most points :func:`fast_search` measures on a grid of ``n_resolutions`` x ``n_crfs``
    (its seeds, then rounds until the ``max_fraction`` budget): a progress total known before
    the first encode."""
    p = FastSearch() if params is None else params
    n_res, m = integer("n_resolutions", n_resolutions, ge=1), integer("n_crfs", n_crfs, ge=1)
    budget = max(1, int(math.floor(p.max_fraction * n_res * m + 1e-9)))
    seeds = {(0, 0), (n_res - 1, m - 1)}
    for r in range(n_res):
        seeds |= {(r, min(m - 1, int(math.floor(s * m + 1e-9)))) for s in p.seeds}
    return max(min(len(seeds), max(budget, 2)), min(budget, n_res * m))


def _logit(q: np.ndarray) -> np.ndarray:
    x = np.clip(np.asarray(q, dtype=np.float64) / 100.0, _LOGIT_CLIP, 1.0 - _LOGIT_CLIP)
    return np.log(x / (1.0 - x))


def _expit(z: float) -> float:
    return 100.0 / (1.0 + math.exp(-z))


class _State:
    """Measured points, optimistic predictions of the others, and the gains they promise."""

    def __init__(self, n_res: int, grid: np.ndarray, axis: str, p: FastSearch) -> None:
        self.n_res, self.grid, self.axis, self.p = n_res, grid, axis, p
        self.measured: dict[tuple[int, int], tuple[float, float]] = {}

    def add(self, r: int, i: int, rate: float, q: float) -> None:
        if not (math.isfinite(rate) and rate > 0 and math.isfinite(q)):
            raise ParameterError("measure", (rate, q), "returned a rate that is not finite and > 0, or a quality that is not finite")
        self.measured[(r, i)] = (rate, q)

    def _known(self, r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        idx = sorted(i for (rr, i) in self.measured if rr == r)
        c = self.grid[idx]
        log_rate = np.log([self.measured[(r, i)][0] for i in idx])
        q = np.array([self.measured[(r, i)][1] for i in idx])
        return c, log_rate, _logit(q), q

    def _pooled_slopes(self, known: list[tuple[np.ndarray, ...]]) -> tuple[float, float]:
        rate_slopes: list[float] = []
        logit_slopes: list[float] = []
        for c, lr, lg, _ in known:
            if c.size >= 2:
                rate_slopes.extend((np.diff(lr) / np.diff(c)).tolist())
                logit_slopes.extend((np.diff(lg) / np.diff(c)).tolist())
        return (
            float(np.median(rate_slopes)) if rate_slopes else _PRIOR_LOG_RATE_SLOPE,
            float(np.median(logit_slopes)) if logit_slopes else _PRIOR_LOGIT_SLOPE,
        )

    @staticmethod
    def _line(c: np.ndarray, y: np.ndarray, x: float, pooled: float) -> tuple[float, float]:
        """(linear estimate of y at x, the squared-gap weight of its curvature allowance)."""
        k = int(np.searchsorted(c, x))
        if 0 < k < c.size:
            a, b = c[k - 1], c[k]
            return float(y[k - 1] + (x - a) / (b - a) * (y[k] - y[k - 1])), float((x - a) * (b - x))
        if k == 0:
            slope = (y[1] - y[0]) / (c[1] - c[0]) if c.size >= 2 else pooled
            return float(y[0] + slope * (x - c[0])), float((x - c[0]) ** 2)
        slope = (y[-1] - y[-2]) / (c[-1] - c[-2]) if c.size >= 2 else pooled
        return float(y[-1] + slope * (x - c[-1])), float((x - c[-1]) ** 2)

    def predictions(self) -> list[tuple[int, int, float, float]]:
        """Optimistic (r, i, rate, vmaf) of every unmeasured grid point."""
        known = [self._known(r) for r in range(self.n_res)]
        rate_slope, logit_slope = self._pooled_slopes(known)
        out = []
        for r, (c, lr, lg, qs) in enumerate(known):
            if c.size == 0:
                continue
            for i, x in enumerate(self.grid):
                if (r, i) in self.measured:
                    continue
                lr_hat, w = self._line(c, lr, float(x), rate_slope)
                lg_hat, _ = self._line(c, lg, float(x), logit_slope)
                rate = math.exp(lr_hat - self.p.curvature_rate * w)
                q = _expit(min(lg_hat + self.p.curvature_vmaf * w, 700.0))
                out.append((r, i, rate, q))
        return out

    def next_batch(self) -> list[tuple[int, int]]:
        """The points to measure next (empty: stop)."""
        keys = sorted(self.measured)
        rates = np.array([self.measured[k][0] for k in keys])
        quality = np.array([self.measured[k][1] for k in keys])
        base = _Hull(rates, quality, self.axis)
        preds = self.predictions()
        if not preds or base.q[-1] <= base.q[0]:
            return []
        total = base.gap(
            _Hull(np.append(rates, [p[2] for p in preds]), np.append(quality, [p[3] for p in preds]), self.axis)
        )
        if 10.0**total - 1.0 < self.p.tolerance:
            return []
        best: dict[int, tuple[float, int]] = {}
        for r, i, rate, q in preds:
            gain = base.gap(_Hull(np.append(rates, rate), np.append(quality, q), self.axis))
            if gain > 0 and (r not in best or gain > best[r][0]):
                best[r] = (gain, i)
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))
        return [(r, i) for r, (_, i) in ranked[: self.p.batch]]


class _Hull:
    """The hull of some points as a rate-at-quality function (straight on the hull's axis)."""

    def __init__(self, rates: np.ndarray, quality: np.ndarray, axis: str) -> None:
        idx = upper_hull(rates, quality, axis)  # type: ignore[arg-type]
        self.q = quality[idx]
        self.x = np.log(rates[idx]) if axis == "log" else rates[idx]
        self.axis = axis

    def log10_rate(self, q: np.ndarray) -> np.ndarray:
        x = np.interp(q, self.q, self.x)
        return x / math.log(10.0) if self.axis == "log" else np.log10(x)

    def gap(self, other: "_Hull") -> float:
        """Mean of log10(this rate / other rate) over this hull's quality range."""
        qq = np.linspace(self.q[0], self.q[-1], _GAP_SAMPLES)
        return float(np.mean(self.log10_rate(qq) - other.log10_rate(qq)))


def hull_rate_gap(
    anchor_rates: Sequence[float], anchor_quality: Sequence[float],
    test_rates: Sequence[float], test_quality: Sequence[float], axis: str = "linear",
) -> float:
    """Average rate excess of the test hull over the anchor hull at equal quality, in percent.

    Both point sets are reduced to their upper hull; the rate at each quality is read off
    each hull straight between its vertices on ``axis`` (on the linear axis that is the rate of
    time-sharing the two neighbouring encodes), and ``log10`` of the ratio is averaged over the
    quality range the hulls share. Unlike BD-rate, no curve is fitted through the vertices, so a
    hull made of a subset of another's points can only come out worse (>= 0).
    """
    a = _Hull(np.asarray(anchor_rates, float), np.asarray(anchor_quality, float), axis)
    t = _Hull(np.asarray(test_rates, float), np.asarray(test_quality, float), axis)
    lo, hi = max(a.q[0], t.q[0]), min(a.q[-1], t.q[-1])
    if not hi > lo:
        raise ParameterError("test_quality", (lo, hi), "the two hulls share no quality range")
    qq = np.linspace(lo, hi, 4 * _GAP_SAMPLES)
    return float((10.0 ** np.mean(t.log10_rate(qq) - a.log10_rate(qq)) - 1.0) * 100.0)


def replay(
    table: dict[tuple[int, float], tuple[float, float]],
    n_resolutions: int,
    crfs: Sequence[float],
    *,
    params: FastSearch | None = None,
    axis: str = "linear",
) -> list[tuple[int, float, int]]:
    """Run :func:`fast_search` on a stored grid: ``(resolution index, crf) -> (rate, vmaf)``."""

    def measure(batch: list[tuple[int, float]], round_: int) -> list[tuple[float, float]]:
        return [table[(r, float(c))] for r, c in batch]

    return fast_search(n_resolutions, crfs, measure, params=params, axis=axis)
