"""Choosing ladder rungs from the rate-quality hull, under constraints, and checking a ladder.

:class:`RungConstraints` holds what a ladder must satisfy; :func:`select_rungs` picks rungs from
the hull points; :func:`validate_ladder` lists every constraint a ladder breaks.

The selection algorithm
-----------------------
A ladder is a chain of candidate points ``p_1, ..., p_K`` (rows of the hull) in increasing rate
where every neighbour pair ``(a, b)`` is an allowed step:

* ``rate_b > rate_a`` and ``min_ratio <= rate_b / rate_a <= max_ratio`` (bounds that are set);
* ``quality_b - quality_a >= min_quality_step`` (``> 0`` when the step is 0);
* ``quality_a < quality_cap``: only the top rung may reach the cap, since more bits above it buy
  nothing visible;

and every rung lies within ``[min_bitrate_kbps, max_bitrate_kbps]`` at an allowed resolution.
With ``n_rungs`` set, ``K`` must equal it. Among all such chains, :func:`select_rungs` returns
the best by these criteria, in order (lexicographically):

1. **reach**: the highest top-rung quality, counted only up to ``quality_cap``
   (``min(quality, cap)``): the best viewers should get the best quality there is to see;
2. **floor**: the lowest bottom-rung rate, so the ladder serves the slowest connections;
3. **evenness**: the smallest largest quality step between neighbours (quality above the cap
   not counted). This is the worst jump a viewer sees when the player switches one rung, and
   with ``min_quality_step`` set to one just-noticeable difference (6 VMAF) it makes every
   step visible but as small and as even as the hull allows;
4. **economy**: the fewest rungs (when ``n_rungs`` is None; an extra rung that does not reduce
   the largest step is not worth its encode and storage), then the lowest total bitrate.

So with ``n_rungs=None`` the ladder is as dense as the steps allow: about one rung per
``min_quality_step`` between the cheapest point and the cap.

It is solved exactly by dynamic programming over the ``n`` candidates sorted by rate. Criterion
3 is a bottleneck path problem, which has optimal substructure: ``G[k][s, i]``, the smallest
possible largest step of a ``k``-rung chain from ``s`` to ``i``, is the minimum over allowed
steps ``j -> i`` of ``max(G[k-1][s, j], step(j, i))``. Criteria 1, 2 and 4 then pick the end
points ``(s, i)`` and ``K``; a second pass finds the cheapest ``K``-rung chain between them
(among all tied end points) using only steps no larger than ``G[K][s, i]``. Cost: ``O(K n^3)`` time and ``O(K n^2)``
memory, milliseconds for the few dozen points of a real hull. Give it hull points (for
example the output of :func:`~abrkit.encode.hull.hull_frame`: when the frame has an ``on_hull``
column only those rows are candidates), not every encode.

Why not a greedy walk (from the cheapest point, take the cheapest point one step above, and so
on)? It yields the same density but cannot honour ``n_rungs`` or ``max_ratio`` (it may strand
itself with no allowed next step) and leaves an arbitrary remainder step at the top; the
dynamic programme handles every constraint and spreads the steps evenly.

Units: bitrates in kbps (``bitrate_kbps`` column by default); quality in the unit of its column
(``vmaf`` by default: ``min_quality_step`` and ``quality_cap`` are in the same unit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._checks import integer, number
from ..errors import ParameterError

if TYPE_CHECKING:  # pandas is imported lazily
    import pandas as pd

__all__ = ["RungConstraints", "select_rungs", "validate_ladder"]

# Largest (s, j, i) block the dynamic programme materialises at once, in elements.
_BLOCK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class RungConstraints:
    """What a ladder must satisfy. Every bound is optional except the two quality defaults.

    Parameters
    ----------
    n_rungs : int or None
        Exactly this many rungs (>= 1); None lets :func:`select_rungs` choose (as many as the
        quality steps allow).
    min_bitrate_kbps, max_bitrate_kbps : float or None
        Every rung's bitrate lies in ``[min_bitrate_kbps, max_bitrate_kbps]`` (kbps, > 0).
    min_ratio, max_ratio : float or None
        Bounds on the bitrate ratio of neighbouring rungs, upper over lower (for example 1.5
        and 2.0). ``min_ratio >= 1``, ``max_ratio > 1``.
    min_quality_step : float
        Smallest quality increase between neighbouring rungs (>= 0); default 6.0, about one
        just-noticeable difference in VMAF. With 0, quality must still increase strictly.
    quality_cap : float or None
        Quality beyond which more bits buy nothing visible (default VMAF 95): only the top rung
        may be at or above it. None: no cap.
    allowed_resolutions : tuple of (width, height) or None
        The resolutions rungs may use (None: any).

    Raises
    ------
    ParameterError
        A value out of range, or constraints that contradict each other (the message names
        both): ``min_bitrate_kbps > max_bitrate_kbps``, ``min_ratio > max_ratio``, or an
        ``n_rungs`` that cannot fit between the bitrate bounds at ``min_ratio``.
    """

    n_rungs: int | None = None
    min_bitrate_kbps: float | None = None
    max_bitrate_kbps: float | None = None
    min_ratio: float | None = None
    max_ratio: float | None = None
    min_quality_step: float = 6.0
    quality_cap: float | None = 95.0
    allowed_resolutions: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        if self.n_rungs is not None:
            put("n_rungs", integer("n_rungs", self.n_rungs, ge=1))
        for name in ("min_bitrate_kbps", "max_bitrate_kbps"):
            value = getattr(self, name)
            if value is not None:
                put(name, number(name, value, gt=0))
        if self.min_ratio is not None:
            put("min_ratio", number("min_ratio", self.min_ratio, ge=1))
        if self.max_ratio is not None:
            put("max_ratio", number("max_ratio", self.max_ratio, gt=1))
        put("min_quality_step", number("min_quality_step", self.min_quality_step, ge=0))
        if self.quality_cap is not None:
            put("quality_cap", number("quality_cap", self.quality_cap))
        if self.allowed_resolutions is not None:
            put("allowed_resolutions", _resolutions(self.allowed_resolutions))

        lo, hi = self.min_bitrate_kbps, self.max_bitrate_kbps
        if lo is not None and hi is not None and lo > hi:
            raise ParameterError("min_bitrate_kbps", lo, f"must be <= max_bitrate_kbps={hi:g}")
        if self.min_ratio is not None and self.max_ratio is not None and self.min_ratio > self.max_ratio:
            raise ParameterError("min_ratio", self.min_ratio, f"must be <= max_ratio={self.max_ratio:g}")
        n = self.n_rungs
        if n is not None and n >= 2 and lo is not None and hi is not None:
            if hi == lo:
                raise ParameterError(
                    "n_rungs", n, f"needs distinct bitrates but min_bitrate_kbps = max_bitrate_kbps = {lo:g}"
                )
            if self.min_ratio is not None and self.min_ratio > 1.0:
                fit = self.max_rungs_in_range()
                if fit is not None and n > fit:
                    raise ParameterError(
                        "n_rungs",
                        n,
                        f"cannot fit between min_bitrate_kbps={lo:g} and max_bitrate_kbps={hi:g} with "
                        f"min_ratio={self.min_ratio:g}: at most {fit} rungs do",
                    )

    def max_rungs_in_range(self) -> int | None:
        """How many rungs at least ``min_ratio`` apart fit in the bitrate bounds (None: unbounded)."""
        lo, hi, ratio = self.min_bitrate_kbps, self.max_bitrate_kbps, self.min_ratio
        if lo is None or hi is None or ratio is None or ratio <= 1.0:
            return None
        # a small tolerance so that bounds exactly ratio**k apart still count k + 1 rungs
        return 1 + int(math.floor(math.log(hi / lo) / math.log(ratio) + 1e-9))


def _resolutions(value: object) -> tuple[tuple[int, int], ...]:
    """``allowed_resolutions`` as a tuple of (width, height) pairs of positive ints."""
    rule = "must be a non-empty sequence of (width, height) pairs of positive integers"
    if isinstance(value, (str, bytes)):
        raise ParameterError("allowed_resolutions", value, rule)
    try:
        pairs = list(value)  # type: ignore[call-overload]
    except TypeError:
        raise ParameterError("allowed_resolutions", value, rule) from None
    if not pairs:
        raise ParameterError("allowed_resolutions", value, rule)
    out = []
    for k, pair in enumerate(pairs):
        try:
            w, h = pair
        except (TypeError, ValueError):
            raise ParameterError(f"allowed_resolutions[{k}]", pair, "must be a (width, height) pair") from None
        width = integer(f"allowed_resolutions[{k}] width", w, ge=1)
        height = integer(f"allowed_resolutions[{k}] height", h, ge=1)
        out.append((width, height))
    return tuple(out)


# ------------------------------------------------------------------------------ frames


def _column(frame: "pd.DataFrame", col: str, arg: str) -> np.ndarray:
    if col not in frame.columns:
        raise ParameterError(arg, col, f"is not a column of the frame (columns: {list(frame.columns)})")
    return frame[col].to_numpy(dtype=np.float64, na_value=np.nan)


def _check_frame(frame: object, name: str) -> "pd.DataFrame":
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(name, frame, "must be a pandas DataFrame")
    return frame


def _resolution_keys(frame: "pd.DataFrame", width_col: str, height_col: str) -> list[tuple[float, float]]:
    w = _column(frame, width_col, "width_col")
    h = _column(frame, height_col, "height_col")
    return list(zip(w.tolist(), h.tolist()))


# ---------------------------------------------------------------------------- selection


def select_rungs(
    hull_points: "pd.DataFrame",
    constraints: RungConstraints | None = None,
    *,
    rate_col: str = "bitrate_kbps",
    quality_col: str = "vmaf",
    width_col: str = "width",
    height_col: str = "height",
) -> "pd.DataFrame":
    """Choose ladder rungs from hull points under ``constraints`` (algorithm: module docstring).

    Parameters
    ----------
    hull_points : pandas.DataFrame
        Candidate encodes, one per row, normally the hull (:func:`~abrkit.encode.hull.hull_frame`
        output: if there is an ``on_hull`` column, only rows where it is true are candidates).
        Needs ``rate_col`` and ``quality_col``; ``width_col`` and ``height_col`` when
        ``allowed_resolutions`` is set. Other columns are carried along.
    constraints : RungConstraints, optional
        Default ``RungConstraints()``: 6-point steps up to a cap of 95.
    rate_col, quality_col, width_col, height_col : str
        Column names (bitrate in kbps; quality in the unit of the constraints).

    Returns
    -------
    pandas.DataFrame
        The chosen rows of ``hull_points`` (original index and columns), by increasing rate;
        rate and quality increase strictly and :func:`validate_ladder` finds nothing wrong.

    Raises
    ------
    ParameterError
        Bad frame or columns, a rate that is not finite and > 0 or a quality that is not finite,
        or no ladder satisfying the constraints (``constraints=...``, the message says why).
    """
    frame = _check_frame(hull_points, "hull_points")
    c = RungConstraints() if constraints is None else constraints
    if not isinstance(c, RungConstraints):
        raise ParameterError("constraints", constraints, "must be a RungConstraints")
    if "on_hull" in frame.columns:
        frame = frame[frame["on_hull"].to_numpy(dtype=bool)]
    rates = _column(frame, rate_col, "rate_col")
    quality = _column(frame, quality_col, "quality_col")
    for col, values, positive in ((rate_col, rates, True), (quality_col, quality, False)):
        bad = ~np.isfinite(values) | ((values <= 0) if positive else False)
        if np.any(bad):
            k = int(np.flatnonzero(bad)[0])
            rule = "must be finite and > 0" if positive else "must be finite"
            raise ParameterError(f"{col}[{frame.index[k]!r}]", float(values[k]), rule)

    keep = np.ones(len(frame), dtype=bool)
    if c.min_bitrate_kbps is not None:
        keep &= rates >= c.min_bitrate_kbps
    if c.max_bitrate_kbps is not None:
        keep &= rates <= c.max_bitrate_kbps
    if c.allowed_resolutions is not None:
        allowed = {(float(w), float(h)) for w, h in c.allowed_resolutions}
        keys = _resolution_keys(frame, width_col, height_col)
        keep &= np.array([key in allowed for key in keys], dtype=bool)
    if not keep.any():
        raise ParameterError(
            "constraints",
            c,
            f"no ladder possible: none of the {len(frame)} candidate points lies within the bitrate bounds "
            "at an allowed resolution",
        )
    positions = np.flatnonzero(keep)
    order = positions[np.lexsort((quality[positions], rates[positions]))]
    chosen = _best_chain(rates[order], quality[order], c)
    return frame.iloc[order[chosen]].copy()


def _steps(r: np.ndarray, q: np.ndarray, c: RungConstraints) -> tuple[np.ndarray, np.ndarray]:
    """(allowed[j, i], step[j, i]): which neighbour pairs j -> i are allowed and their capped step."""
    cap = math.inf if c.quality_cap is None else c.quality_cap
    rj, ri = r[:, None], r[None, :]
    qj, qi = q[:, None], q[None, :]
    ok = ri > rj
    ok &= (qi - qj >= c.min_quality_step) if c.min_quality_step > 0 else (qi > qj)
    ratio = ri / rj
    if c.min_ratio is not None:
        ok &= ratio >= c.min_ratio
    if c.max_ratio is not None:
        ok &= ratio <= c.max_ratio
    ok &= qj < cap
    qc = np.minimum(q, cap)
    step = np.where(ok, qc[None, :] - qc[:, None], np.inf)
    return ok, step


def _best_chain(r: np.ndarray, q: np.ndarray, c: RungConstraints) -> np.ndarray:
    """Positions (into r, q sorted by rate) of the best chain; ParameterError when none exists."""
    n = r.size
    cap = math.inf if c.quality_cap is None else c.quality_cap
    ok, step = _steps(r, q, c)
    k_max = n if c.n_rungs is None else c.n_rungs

    # Pass 1: G[k-1][s, i] = smallest largest step of a k-rung chain from s to i (inf: none).
    g = np.full((n, n), np.inf)
    np.fill_diagonal(g, 0.0)
    layers = [g]
    block = max(1, _BLOCK_ELEMENTS // max(1, n * n))
    for _ in range(2, k_max + 1):
        prev = layers[-1]
        nxt = np.empty((n, n))
        for s0 in range(0, n, block):
            nxt[s0 : s0 + block] = np.maximum(prev[s0 : s0 + block, :, None], step[None, :, :]).min(axis=1)
        if not np.isfinite(nxt).any():
            break
        layers.append(nxt)

    if c.n_rungs is not None and len(layers) < c.n_rungs:
        raise ParameterError(
            "constraints",
            c,
            f"no ladder of n_rungs={c.n_rungs} rungs: at most {len(layers)} of the {n} candidate points can be "
            "chained with the required quality steps and bitrate ratios",
        )
    candidates_k = [c.n_rungs] if c.n_rungs is not None else list(range(1, len(layers) + 1))

    # Criteria 1-4 over the feasible (k, s, i): reach, floor, evenness, fewest rungs.
    qc = np.minimum(q, cap)
    best_key: tuple[float, float, float, int] | None = None
    for k in candidates_k:
        gk = layers[k - 1]
        ss, ii = np.nonzero(np.isfinite(gk))
        if ss.size == 0:
            continue
        pick = np.lexsort((gk[ss, ii], r[ss], -qc[ii]))[0]
        s, i = int(ss[pick]), int(ii[pick])
        key = (-float(qc[i]), float(r[s]), float(gk[s, i]), k)
        if best_key is None or key < best_key:
            best_key = key
    assert best_key is not None  # layer 1 always has its diagonal
    top_q, floor_r, limit, k = best_key
    gk = layers[k - 1]
    tied = (gk == limit) & (r[:, None] == floor_r) & (-qc[None, :] == top_q)

    # Criterion 5, pass 2: the cheapest k-rung chain between tied end points (s, i) whose steps
    # are all <= limit (the smallest largest step they share).
    usable = ok & (step <= limit)
    best_total = np.inf
    best_chain: list[int] = []
    for s in np.flatnonzero(tied.any(axis=1)).tolist():
        total = np.full(n, np.inf)
        total[s] = r[s]
        parents = []
        for _ in range(2, k + 1):
            cand = np.where(usable, total[:, None] + r[None, :], np.inf)
            parent = np.argmin(cand, axis=0)
            total = cand[parent, np.arange(n)]
            parents.append(parent)
        ends = np.flatnonzero(tied[s])
        i = int(ends[np.argmin(total[ends])])
        if total[i] < best_total:
            best_total = float(total[i])
            chain = [i]
            for parent in reversed(parents):
                chain.append(int(parent[chain[-1]]))
            best_chain = chain[::-1]
    return np.array(best_chain, dtype=np.int64)


# --------------------------------------------------------------------------- validation


def validate_ladder(
    rungs: "pd.DataFrame",
    constraints: RungConstraints | None = None,
    *,
    rate_col: str = "bitrate_kbps",
    quality_col: str | None = "vmaf",
    width_col: str = "width",
    height_col: str = "height",
) -> list[str]:
    """Every constraint the ladder ``rungs`` breaks, one message each (empty list: valid).

    The rungs are taken in increasing rate order (rung 1 is the cheapest). Checked: at least
    one rung; ``n_rungs``; each rate finite, > 0 and within the bitrate bounds; each resolution
    allowed; neighbouring rates distinct and their ratio within the bounds; and, unless
    ``quality_col`` is None, each quality finite, neighbouring quality increasing by at least
    ``min_quality_step`` (and strictly), and no rung but the top at or above ``quality_cap``.

    Parameters
    ----------
    rungs : pandas.DataFrame
        One row per rung.
    constraints : RungConstraints, optional
        Default ``RungConstraints()``.
    rate_col, quality_col, width_col, height_col : str
        Column names; ``quality_col=None`` skips the quality checks (a ladder not yet measured);
        the resolution columns are needed only when ``allowed_resolutions`` is set.

    Returns
    -------
    list of str
        Human-readable violations, in rung order within each kind of check.

    Raises
    ------
    ParameterError
        ``rungs`` is not a DataFrame, a named column is missing, or ``constraints`` is not a
        RungConstraints.
    """
    frame = _check_frame(rungs, "rungs")
    c = RungConstraints() if constraints is None else constraints
    if not isinstance(c, RungConstraints):
        raise ParameterError("constraints", constraints, "must be a RungConstraints")
    rates = _column(frame, rate_col, "rate_col")
    quality = None if quality_col is None else _column(frame, quality_col, "quality_col")
    keys = _resolution_keys(frame, width_col, height_col) if c.allowed_resolutions is not None else None

    out: list[str] = []
    n = len(frame)
    if n == 0:
        return ["the ladder has no rungs"]
    if c.n_rungs is not None and n != c.n_rungs:
        out.append(f"the ladder has {n} rungs, n_rungs={c.n_rungs} requires exactly {c.n_rungs}")

    order = np.argsort(np.where(np.isnan(rates), np.inf, rates), kind="stable")
    r: list[float] = rates[order].tolist()
    q: list[float] | None = None if quality is None else quality[order].tolist()

    def name(k: int) -> str:
        return f"rung {k + 1} ({r[k]:g} kbps)"

    for k in range(n):
        if not (math.isfinite(r[k]) and r[k] > 0):
            out.append(f"{name(k)}: {rate_col}={r[k]!r} must be finite and > 0")
            continue
        if c.min_bitrate_kbps is not None and r[k] < c.min_bitrate_kbps:
            out.append(f"{name(k)}: below min_bitrate_kbps={c.min_bitrate_kbps:g}")
        if c.max_bitrate_kbps is not None and r[k] > c.max_bitrate_kbps:
            out.append(f"{name(k)}: above max_bitrate_kbps={c.max_bitrate_kbps:g}")
    if q is not None:
        for k in range(n):
            if not math.isfinite(q[k]):
                out.append(f"{name(k)}: {quality_col}={q[k]!r} must be finite")
    if keys is not None and c.allowed_resolutions is not None:
        allowed = {(float(w), float(h)) for w, h in c.allowed_resolutions}
        for k in range(n):
            w, h = keys[int(order[k])]
            if (w, h) not in allowed:
                shown = f"{w:g}x{h:g}" if math.isfinite(w) and math.isfinite(h) else f"{w}x{h}"
                out.append(f"{name(k)}: resolution {shown} is not in allowed_resolutions")

    for k in range(n - 1):
        a, b = r[k], r[k + 1]
        pair = f"{name(k)} -> {name(k + 1)}"
        if not (math.isfinite(a) and a > 0 and math.isfinite(b) and b > 0):
            continue
        if b == a:
            out.append(f"{pair}: the bitrates are equal")
            continue
        ratio = b / a
        if c.min_ratio is not None and ratio < c.min_ratio:
            out.append(f"{pair}: bitrate ratio {ratio:.4g} is below min_ratio={c.min_ratio:g}")
        if c.max_ratio is not None and ratio > c.max_ratio:
            out.append(f"{pair}: bitrate ratio {ratio:.4g} is above max_ratio={c.max_ratio:g}")
        if q is not None and math.isfinite(q[k]) and math.isfinite(q[k + 1]):
            gain = q[k + 1] - q[k]
            if gain <= 0:
                out.append(f"{pair}: {quality_col} does not increase ({q[k]:g} -> {q[k + 1]:g})")
            elif gain < c.min_quality_step:
                out.append(
                    f"{pair}: {quality_col} step {gain:.4g} is below min_quality_step={c.min_quality_step:g}"
                )
    if q is not None and c.quality_cap is not None:
        for k in range(n - 1):
            if math.isfinite(q[k]) and q[k] >= c.quality_cap:
                out.append(
                    f"{name(k)}: {quality_col}={q[k]:g} is at or above quality_cap={c.quality_cap:g} but is not "
                    "the top rung"
                )
    return out
