"""Bjøntegaard-delta rate and quality: the average gap between two rate-quality curves.

Both functions follow the published procedure (G. Bjøntegaard, VCEG-M33, 2001; the PCHIP
variant of the JCT-VC common test conditions spreadsheet, JCTVC-L1100; and the Akima variant
of Herglotz et al., "Beyond Bjøntegaard", ICIP 2022, as implemented in the ``bjontegaard``
Python package):

* **BD-rate** (:func:`bd_rate`): interpolate each curve as ``log10(rate)`` against quality,
  integrate both over the quality interval the two curves share, divide the difference of the
  integrals by the interval's length (the mean log-rate difference ``d``), and report
  ``(10**d - 1) * 100``: the average percent rate change of the test at equal quality.
  Negative means the test needs fewer bits.
* **BD-quality** (:func:`bd_quality`, BD-PSNR when the quality is PSNR): interpolate quality
  against ``log10(rate)``, integrate over the shared log-rate interval, and report the mean
  quality difference, test minus anchor, in the quality's own unit.

Interpolation methods (``method=``):

* ``"pchip"`` (default): piecewise cubic Hermite, slopes by Fritsch-Carlson's weighted harmonic
  mean with the one-sided three-point end rule (as SciPy's ``PchipInterpolator`` and MATLAB's
  ``pchip``). Shape preserving: a monotone curve stays monotone.
* ``"akima"``: Akima's 1970 slopes (as SciPy's ``Akima1DInterpolator``, including its
  extrapolated end slopes and the averaged slope where the weights vanish).
* ``"cubic"``: one cubic polynomial fitted by least squares through all points (exact through
  four), VCEG-M33's original (fitted in centred and scaled coordinates: the same polynomial,
  better conditioned). It can oscillate between points and give misleading results, so
  it emits a :class:`BDRateWarning`.

Every integral is exact (piecewise cubics integrated analytically); only NumPy is needed.

Guards (each a :class:`~abrkit.errors.ParameterError` naming the argument): fewer than four
points on a curve; rates that are not finite and > 0; quality that is not finite (an infinite
PSNR from a lossless encode must be capped or dropped first); after sorting by rate, a repeated
rate or a quality that does not increase strictly (a non-monotone curve: take its
:func:`~abrkit.encode.hull.upper_hull` first); and curves whose quality intervals (BD-rate) or
rate intervals (BD-quality) do not overlap.

Rates may be in any unit (kbps, bps, bytes per frame) as long as both curves use the same one:
only ratios matter.
"""

from __future__ import annotations

import warnings
from typing import Literal, Sequence

import numpy as np

from ..errors import ParameterError

__all__ = ["BDRateWarning", "METHODS", "MIN_POINTS", "bd_rate", "bd_quality"]

#: Interpolation methods accepted by :func:`bd_rate` and :func:`bd_quality`.
METHODS = ("pchip", "akima", "cubic")

#: The fewest points a curve may have.
MIN_POINTS = 4

Method = Literal["pchip", "akima", "cubic"]
ArrayLike = Sequence[float] | np.ndarray


class BDRateWarning(UserWarning):
    """A Bjøntegaard-delta result may mislead (for example: the single-cubic method)."""


# --------------------------------------------------------------------------------- curves


def _curve(rates: object, quality: object, rates_name: str, quality_name: str) -> tuple[np.ndarray, np.ndarray]:
    """(log10 rates, quality) sorted by rate, both strictly increasing, else ParameterError."""
    try:
        r = np.array(rates, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(rates_name, rates, "must be a 1-D array of numbers") from None
    try:
        q = np.array(quality, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(quality_name, quality, "must be a 1-D array of numbers") from None
    if r.ndim != 1:
        raise ParameterError(rates_name, rates, f"must be 1-D, got shape {r.shape}")
    if q.ndim != 1:
        raise ParameterError(quality_name, quality, f"must be 1-D, got shape {q.shape}")
    if r.size != q.size:
        raise ParameterError(quality_name, quality, f"must have one value per rate ({r.size}), got {q.size}")
    if r.size < MIN_POINTS:
        raise ParameterError(rates_name, rates, f"needs at least {MIN_POINTS} rate-quality points, got {r.size}")
    bad = ~np.isfinite(r) | (r <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(f"{rates_name}[{i}]", float(r[i]), "must be finite and > 0")
    bad = ~np.isfinite(q)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(
            f"{quality_name}[{i}]",
            float(q[i]),
            "must be finite (an infinite PSNR comes from a lossless encode: cap it or drop the point)",
        )
    order = np.argsort(r, kind="stable")
    r, q = r[order], q[order]
    same = np.flatnonzero(np.diff(r) == 0)
    if same.size:
        k = int(same[0])
        raise ParameterError(
            rates_name, rates, f"rate {r[k]:g} appears twice: each point of a curve needs its own rate"
        )
    down = np.flatnonzero(np.diff(q) <= 0)
    if down.size:
        k = int(down[0])
        raise ParameterError(
            quality_name,
            quality,
            f"is not increasing with rate: {q[k + 1]:g} at rate {r[k + 1]:g} is not above {q[k]:g} at rate "
            f"{r[k]:g} (a non-monotone curve; take its upper_hull first)",
        )
    return np.log10(r), q


def _overlap(a: np.ndarray, b: np.ndarray, a_name: str, b_name: str, log_rates: bool) -> tuple[float, float]:
    """The interval both sorted arrays span, else ParameterError (shown as rates if log_rates)."""
    lo = max(float(a[0]), float(b[0]))
    hi = min(float(a[-1]), float(b[-1]))
    if not hi > lo:
        show_a = (10.0 ** a[[0, -1]]) if log_rates else a[[0, -1]]
        show_b = (10.0 ** b[[0, -1]]) if log_rates else b[[0, -1]]
        what = "the rate" if log_rates else "the quality"
        raise ParameterError(
            b_name,
            (float(show_b[0]), float(show_b[1])),
            f"{what} range [{show_b[0]:.6g}, {show_b[1]:.6g}] must overlap {a_name}'s "
            f"[{show_a[0]:.6g}, {show_a[1]:.6g}] over an interval of positive length",
        )
    return lo, hi


def _check_method(method: object) -> str:
    if method not in METHODS:
        raise ParameterError("method", method, "must be one of 'pchip', 'akima', 'cubic'")
    if method == "cubic":
        warnings.warn(
            "method='cubic' fits one cubic polynomial through all points, which can oscillate between "
            "them and give a misleading Bjontegaard delta; prefer 'pchip' (the default) or 'akima'",
            BDRateWarning,
            stacklevel=3,
        )
    return str(method)


# ----------------------------------------------------------------------- interpolation


def _pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fritsch-Carlson PCHIP derivatives at the knots (x strictly increasing, n >= 3)."""
    h = np.diff(x)
    m = np.diff(y) / h
    d = np.zeros_like(y)
    # interior: weighted harmonic mean of the neighbouring secants when they share a sign
    hl, hr = h[:-1], h[1:]
    ml, mr = m[:-1], m[1:]
    w1 = 2.0 * hr + hl  # weight of the left secant
    w2 = hr + 2.0 * hl  # weight of the right secant
    same_sign = (np.sign(ml) == np.sign(mr)) & (ml != 0) & (mr != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = (w1 + w2) / (w1 / ml + w2 / mr)
    d[1:-1] = np.where(same_sign, inner, 0.0)
    d[0] = _pchip_end(h[0], h[1], m[0], m[1])
    d[-1] = _pchip_end(h[-1], h[-2], m[-1], m[-2])
    return d


def _pchip_end(h0: float, h1: float, m0: float, m1: float) -> float:
    """One-sided three-point end slope, limited to keep the shape (Moler, pchiptx)."""
    d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    if np.sign(d) != np.sign(m0):
        return 0.0
    if np.sign(m0) != np.sign(m1) and abs(d) > 3.0 * abs(m0):
        return 3.0 * m0
    return float(d)


def _akima_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Akima (1970) derivatives at the knots (x strictly increasing, n >= 3)."""
    n = x.size
    m = np.empty(n + 3)
    m[2:-2] = np.diff(y) / np.diff(x)
    # two extrapolated secants on each side
    m[1] = 2.0 * m[2] - m[3]
    m[0] = 2.0 * m[1] - m[2]
    m[-2] = 2.0 * m[-3] - m[-4]
    m[-1] = 2.0 * m[-2] - m[-3]
    dm = np.abs(np.diff(m))
    # knot i sits between secants s[i-1] = m[i+1] and s[i] = m[i+2]
    f1 = dm[2:]  # |s[i+1] - s[i]|: the weight of the left secant s[i-1]
    f2 = dm[:-2]  # |s[i-1] - s[i-2]|: the weight of the right secant s[i]
    f12 = f1 + f2
    d = 0.5 * (m[3:] + m[:-3])  # where both weights vanish (locally straight): the average
    defined = f12 > 1e-9 * np.max(f12)
    left, right = m[1:-2], m[2:-1]
    d[defined] = left[defined] + (f2[defined] / f12[defined]) * (right[defined] - left[defined])
    return d


def _hermite_integral(x: np.ndarray, y: np.ndarray, d: np.ndarray, lo: float, hi: float) -> float:
    """Exact integral over [lo, hi] (inside [x[0], x[-1]]) of the cubic Hermite interpolant."""
    h = np.diff(x)
    delta = np.diff(y) / h
    # on segment k, in t = x - x[k]: y[k] + d[k] t + c2 t^2 + c3 t^3
    c2 = (3.0 * delta - 2.0 * d[:-1] - d[1:]) / h
    c3 = (d[:-1] + d[1:] - 2.0 * delta) / h**2
    a = np.clip(lo, x[:-1], x[1:]) - x[:-1]
    b = np.clip(hi, x[:-1], x[1:]) - x[:-1]

    def antiderivative(t: np.ndarray) -> np.ndarray:
        return t * (y[:-1] + t * (d[:-1] / 2.0 + t * (c2 / 3.0 + t * (c3 / 4.0))))

    return float(np.sum(antiderivative(b) - antiderivative(a)))


def _integral(x: np.ndarray, y: np.ndarray, method: str, lo: float, hi: float) -> float:
    """Exact integral over [lo, hi] of the ``method`` interpolant of y(x)."""
    if method == "cubic":
        # Fit in centred, scaled coordinates t = (x - mid) / half: the same polynomial as a fit
        # in x (VCEG-M33 fits in x), far better conditioned; dx = half * dt.
        mid = 0.5 * (x[0] + x[-1])
        half = 0.5 * (x[-1] - x[0])
        coeffs = np.polyfit((x - mid) / half, y, 3)
        prim = np.polyint(coeffs)
        return float(half * (np.polyval(prim, (hi - mid) / half) - np.polyval(prim, (lo - mid) / half)))
    d = _pchip_slopes(x, y) if method == "pchip" else _akima_slopes(x, y)
    return _hermite_integral(x, y, d, lo, hi)


# --------------------------------------------------------------------------- public API


def bd_rate(
    anchor_rates: ArrayLike,
    anchor_quality: ArrayLike,
    test_rates: ArrayLike,
    test_quality: ArrayLike,
    method: Method = "pchip",
) -> float:
    """Bjøntegaard-delta rate: the average percent rate change of the test at equal quality.

    Parameters
    ----------
    anchor_rates, test_rates : array of shape (n,) and (m,)
        Rates of each curve's points, finite and > 0, in one unit shared by both curves (only
        ratios matter). Any order; ``n, m >= 4``.
    anchor_quality, test_quality : array of shape (n,) and (m,)
        Quality of each point (PSNR in dB, VMAF, ...), finite and strictly increasing with rate.
    method : {"pchip", "akima", "cubic"}
        Interpolation of ``log10(rate)`` against quality (module docstring). ``"cubic"`` warns
        with :class:`BDRateWarning`.

    Returns
    -------
    float
        Percent: ``(10**mean_log10_rate_difference - 1) * 100`` over the shared quality
        interval. ``-10.0`` means the test needs 10 % fewer bits for the same quality; a test
        that is the anchor with every rate times 1.1 gives ``+10.0``.

    Raises
    ------
    ParameterError
        See the guards in the module docstring.

    Examples
    --------
    >>> round(bd_rate([100, 200, 400, 800], [30, 36, 41, 45], [110, 220, 440, 880], [30, 36, 41, 45]), 9)
    10.0
    """
    method = _check_method(method)
    lr_a, q_a = _curve(anchor_rates, anchor_quality, "anchor_rates", "anchor_quality")
    lr_t, q_t = _curve(test_rates, test_quality, "test_rates", "test_quality")
    lo, hi = _overlap(q_a, q_t, "anchor_quality", "test_quality", log_rates=False)
    area_a = _integral(q_a, lr_a, method, lo, hi)
    area_t = _integral(q_t, lr_t, method, lo, hi)
    mean_diff = (area_t - area_a) / (hi - lo)
    return float((10.0**mean_diff - 1.0) * 100.0)


def bd_quality(
    anchor_rates: ArrayLike,
    anchor_quality: ArrayLike,
    test_rates: ArrayLike,
    test_quality: ArrayLike,
    method: Method = "pchip",
) -> float:
    """Bjøntegaard-delta quality (BD-PSNR, BD-VMAF): the mean quality gain of the test at equal rate.

    Parameters
    ----------
    anchor_rates, test_rates : array of shape (n,) and (m,)
        As for :func:`bd_rate`.
    anchor_quality, test_quality : array of shape (n,) and (m,)
        As for :func:`bd_rate`.
    method : {"pchip", "akima", "cubic"}
        Interpolation of quality against ``log10(rate)``.

    Returns
    -------
    float
        Mean of ``test quality - anchor quality`` over the shared ``log10(rate)`` interval, in
        the quality's unit (dB for PSNR, VMAF points for VMAF). Positive means the test is better.

    Raises
    ------
    ParameterError
        See the guards in the module docstring.
    """
    method = _check_method(method)
    lr_a, q_a = _curve(anchor_rates, anchor_quality, "anchor_rates", "anchor_quality")
    lr_t, q_t = _curve(test_rates, test_quality, "test_rates", "test_quality")
    lo, hi = _overlap(lr_a, lr_t, "anchor_rates", "test_rates", log_rates=True)
    area_a = _integral(lr_a, q_a, method, lo, hi)
    area_t = _integral(lr_t, q_t, method, lo, hi)
    return float((area_t - area_a) / (hi - lo))
