"""asv benchmarks of the encoding side's numerics: hull, rung selection and BD-rate (no ffmpeg).

Suites (docs/benchmarks.md says how to run asv):

* ``Hull`` -- ``upper_hull``, ``pareto_front`` and ``hull_frame`` on a stored measurement table,
  both axes.
* ``RungSelection`` -- ``select_rungs`` on the table's hull under three constraint sets.
* ``BDRate`` -- ``bd_rate`` and ``bd_quality`` between the hulls of two tables, each method.
* ``HullSpeedupVsReference`` -- ``track_*``: the time of a plain-Python brute-force hull (the
  definition the property tests check against, in floats) divided by ``upper_hull``'s, both
  measured in the same process, which survives machine noise better than absolute times.

The tables are synthetic, seeded and fixed (never change a seed: add a table instead):

* ``grid96``: the exhaustive grid of a real optimisation, 8 resolutions (234p to 1440p) x 12
  CRFs (18 to 51 in steps of 3);
* ``dense10k``: 10 000 points, the same 8 resolutions x 1250 CRFs drawn uniformly in [10, 51].

Model of one encode (x264-like): bitrate ``9000 * (pixels / 1080p pixels)**0.8 *
2**(-(crf - 23) / 5.5)`` kbps; VMAF at the display resolution a logistic curve in
``log2(bitrate)`` whose ceiling falls as the resolution shrinks (upscaling blur) and whose
midpoint rises with the pixel count, plus Gaussian noise of 0.25 VMAF, clipped to [0, 100]. Only
``Generator.random()`` is used (with a Box-Muller transform), so the data cannot drift with the
NumPy version.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from abrkit.encode.bdrate import BDRateWarning, bd_quality, bd_rate
from abrkit.encode.hull import hull_frame, pareto_front, upper_hull
from abrkit.encode.rungs import RungConstraints, select_rungs

from ._data import best_time

RESOLUTIONS = ((416, 234), (480, 270), (640, 360), (768, 432), (960, 540), (1280, 720), (1920, 1080), (2560, 1440))
TABLES = ("grid96", "dense10k")
AXES = ("linear", "log")

# Seeds of the synthetic tables. Never change them: add new tables instead.
_SEEDS = {"grid96": 20260501, "dense10k": 20260502, "grid96-b": 20260503}

#: Rung constraint sets timed by RungSelection.
CONSTRAINTS = {
    "default": RungConstraints(),
    "6rungs-ratio1.5-2.5": RungConstraints(n_rungs=6, min_ratio=1.5, max_ratio=2.5),
    "145-8000kbps-step4": RungConstraints(min_bitrate_kbps=145, max_bitrate_kbps=8000, min_quality_step=4.0),
}

#: How long each track_* keeps re-running its call before reporting the fastest one.
TRACK_MIN_S = 0.3


def _normal(rng: np.random.Generator, n: int) -> np.ndarray:
    """Standard normal samples by Box-Muller from uniform doubles (stream-stable across NumPy)."""
    u1 = rng.random(n)
    u2 = rng.random(n)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def _encode_model(width: np.ndarray, height: np.ndarray, crf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bitrate_kbps, noiseless VMAF) of encodes at these sizes and CRFs."""
    pixels = width * height / (1920.0 * 1080.0)
    rate_kbps = 9000.0 * pixels**0.8 * 2.0 ** (-(crf - 23.0) / 5.5)
    ceiling = 100.0 - 9.0 * np.log2(1440.0 / height) ** 1.15
    midpoint_kbps = 60.0 * (height / 234.0) ** 1.3
    vmaf = ceiling / (1.0 + np.exp(-0.8 * (np.log2(rate_kbps) - np.log2(midpoint_kbps))))
    return rate_kbps, vmaf


@functools.lru_cache(maxsize=None)
def table(name: str):  # -> pandas.DataFrame
    """The stored measurement table ``name`` (columns width, height, crf, bitrate_kbps, vmaf)."""
    import pandas as pd

    seed = _SEEDS[name]
    rng = np.random.default_rng(seed)
    res = np.array(RESOLUTIONS, dtype=np.float64)
    if name.startswith("grid96"):
        crfs = np.arange(18.0, 52.0, 3.0)
        width = np.repeat(res[:, 0], crfs.size)
        height = np.repeat(res[:, 1], crfs.size)
        crf = np.tile(crfs, len(RESOLUTIONS))
    elif name == "dense10k":
        per_res = 1250
        width = np.repeat(res[:, 0], per_res)
        height = np.repeat(res[:, 1], per_res)
        crf = 10.0 + 41.0 * rng.random(width.size)
    else:
        raise KeyError(name)
    rate_kbps, vmaf = _encode_model(width, height, crf)
    vmaf = np.clip(vmaf + 0.25 * _normal(rng, vmaf.size), 0.0, 100.0)  # libvmaf clips to [0, 100]
    return pd.DataFrame(
        {
            "width": width.astype(np.int64),
            "height": height.astype(np.int64),
            "crf": crf,
            "bitrate_kbps": rate_kbps,
            "vmaf": vmaf,
        }
    )


def brute_force_hull(rates: list[float], quality: list[float], axis: str) -> list[int]:
    """The upper monotone hull by its definition, in plain Python floats (O(n^3)).

    Point i stays when no other point has an x at most as high and a quality at least as high
    (of identical points the first stays), and no chord between points j, k with
    x_j < x_i < x_k reaches its quality.
    """
    import math

    x = [math.log2(r) for r in rates] if axis == "log" else list(rates)
    n = len(x)
    on = []
    for i in range(n):
        dominated = False
        for j in range(n):
            if j != i and x[j] <= x[i] and quality[j] >= quality[i]:
                if (x[j], quality[j]) != (x[i], quality[i]) or j < i:
                    dominated = True
                    break
        if dominated:
            continue
        for j in range(n):
            if dominated:
                break
            if not x[j] < x[i]:
                continue
            for k in range(n):
                if x[k] > x[i]:
                    chord = quality[j] + (quality[k] - quality[j]) * (x[i] - x[j]) / (x[k] - x[j])
                    if chord >= quality[i]:
                        dominated = True
                        break
        if not dominated:
            on.append(i)
    return sorted(on, key=lambda i: x[i])


class Hull:
    """Hull of a stored table: seconds per call."""

    params = (list(TABLES), list(AXES))
    param_names = ["table", "axis"]

    def setup(self, name: str, axis: str) -> None:
        self.frame = table(name)
        self.rates = self.frame["bitrate_kbps"].to_numpy()
        self.quality = self.frame["vmaf"].to_numpy()
        upper_hull(self.rates, self.quality, axis)

    def time_upper_hull(self, name: str, axis: str) -> None:
        upper_hull(self.rates, self.quality, axis)

    def time_pareto_front(self, name: str, axis: str) -> None:
        pareto_front(self.rates, self.quality)

    def time_hull_frame(self, name: str, axis: str) -> None:
        hull_frame(self.frame, axis=axis)

    def track_hull_points(self, name: str, axis: str) -> int:
        """Hull size: a check that the data (and the definition) did not change."""
        return int(upper_hull(self.rates, self.quality, axis).size)

    track_hull_points.unit = "points"  # type: ignore[attr-defined]


class RungSelection:
    """select_rungs on a stored table's (linear-axis) hull: seconds per call."""

    params = (list(TABLES), list(CONSTRAINTS))
    param_names = ["table", "constraints"]

    def setup(self, name: str, constraints: str) -> None:
        self.hull = hull_frame(table(name))
        self.constraints = CONSTRAINTS[constraints]
        select_rungs(self.hull, self.constraints)

    def time_select_rungs(self, name: str, constraints: str) -> None:
        select_rungs(self.hull, self.constraints)

    def time_hull_frame_and_select_rungs(self, name: str, constraints: str) -> None:
        select_rungs(hull_frame(table(name)), self.constraints)

    def track_rungs(self, name: str, constraints: str) -> int:
        """Number of rungs chosen: a check that the data (and the algorithm) did not change."""
        return len(select_rungs(self.hull, self.constraints))

    track_rungs.unit = "rungs"  # type: ignore[attr-defined]


class BDRate:
    """BD-rate and BD-quality between the hulls of grid96 and grid96-b (same model, new noise)."""

    params = (["pchip", "akima", "cubic"],)
    param_names = ["method"]

    def setup(self, method: str) -> None:
        warnings.simplefilter("ignore", BDRateWarning)
        self.curves = []
        for name in ("grid96", "grid96-b"):
            frame = table(name)
            idx = upper_hull(frame["bitrate_kbps"].to_numpy(), frame["vmaf"].to_numpy())
            self.curves.append((frame["bitrate_kbps"].to_numpy()[idx], frame["vmaf"].to_numpy()[idx]))

    def time_bd_rate(self, method: str) -> None:
        (ra, qa), (rt, qt) = self.curves
        bd_rate(ra, qa, rt, qt, method)

    def time_bd_quality(self, method: str) -> None:
        (ra, qa), (rt, qt) = self.curves
        bd_quality(ra, qa, rt, qt, method)


class HullSpeedupVsReference:
    """upper_hull against the plain-Python brute force on grid96, measured in the same run."""

    params = (list(AXES),)
    param_names = ["axis"]
    timeout = 120

    def setup(self, axis: str) -> None:
        frame = table("grid96")
        self.rates = frame["bitrate_kbps"].tolist()
        self.quality = frame["vmaf"].tolist()
        expected = brute_force_hull(self.rates, self.quality, axis)
        got = upper_hull(self.rates, self.quality, axis).tolist()
        if got != expected:  # the ratio would compare different work
            raise NotImplementedError(f"upper_hull and the brute force disagree on grid96 ({axis})")

    def track_speedup_vs_reference(self, axis: str) -> float:
        reference_s = best_time(lambda: brute_force_hull(self.rates, self.quality, axis), TRACK_MIN_S, 3)
        ours_s = best_time(lambda: upper_hull(self.rates, self.quality, axis), TRACK_MIN_S)
        return reference_s / ours_s

    track_speedup_vs_reference.unit = "x"  # type: ignore[attr-defined]
