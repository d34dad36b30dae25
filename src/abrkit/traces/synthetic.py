"""Seeded synthetic bandwidth traces: a Markov-modulated process with noise and outages.

The link sits in one of ``k`` states, each with a nominal bandwidth. It stays in a state for an
exponentially distributed time (mean ``mean_dwell_s`` for that state), then moves to the next
state drawn from its row of the transition matrix. The trace samples this process on a grid of
``step_s``: each step's bandwidth is the time average of the state bandwidths over the step,
times a log-normal factor of mean 1 (``exp(sigma * z - sigma**2 / 2)``, ``z`` standard normal),
so noise does not shift the mean. Outages arrive as a Poisson process (``outage_rate_per_min``)
with exponential lengths (mean ``outage_mean_s``); they are aligned to the step grid (an outage
blanks ``max(1, round(length / step_s))`` steps, starting with the step that holds its start)
and have bandwidth 0.

Randomness: the state path, the noise and the outages each draw from their own stream, spawned
from ``numpy.random.SeedSequence(seed)``, so the same seed gives the same trace and turning
outages on changes only the outage steps.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Sequence

import numpy as np

from ..errors import ParameterError
from ._core import Trace

__all__ = ["markov_trace", "PRESETS", "preset_trace"]

# Guard against parameters that would need an absurd number of state changes.
_MAX_SEGMENTS = 10_000_000


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(name, value, "must be a real number")
    x = float(value)
    if not math.isfinite(x):
        raise ParameterError(name, value, "must be finite")
    return x


def _positive(name: str, value: Any) -> float:
    x = _real(name, value)
    if x <= 0:
        raise ParameterError(name, value, "must be > 0")
    return x


def _non_negative(name: str, value: Any) -> float:
    x = _real(name, value)
    if x < 0:
        raise ParameterError(name, value, "must be >= 0")
    return x


def _vector(name: str, value: Any) -> np.ndarray:
    if isinstance(value, (str, bytes)):
        raise ParameterError(name, value, "must be a sequence of numbers")
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(name, value, "must be a sequence of numbers") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ParameterError(name, value, "must be a non-empty one-dimensional sequence")
    return arr


def _transition_matrix(transition: Any, k: int) -> np.ndarray:
    if transition is None:
        if k == 1:
            return np.ones((1, 1))
        p = np.full((k, k), 1.0 / (k - 1))
        np.fill_diagonal(p, 0.0)
        return p
    try:
        p = np.array(transition, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError("transition", transition, "must be a (k, k) array of probabilities") from None
    if p.shape != (k, k):
        raise ParameterError("transition", f"array of shape {p.shape}", f"must have shape ({k}, {k}) for {k} states")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ParameterError("transition", transition, "entries must be finite and >= 0")
    sums = p.sum(axis=1)
    bad = np.abs(sums - 1.0) > 1e-6
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(f"transition[{i}]", p[i].tolist(), f"row must sum to 1 (sums to {sums[i]!r})")
    return p / sums[:, None]  # remove the rounding the tolerance allowed


def markov_trace(
    duration_s: float,
    states_kbps: Sequence[float],
    mean_dwell_s: float | Sequence[float],
    transition: Any = None,
    noise_sigma: float = 0.1,
    step_s: float = 1.0,
    outage_rate_per_min: float = 0.0,
    outage_mean_s: float = 2.0,
    latency_ms: float | None = None,
    seed: int = 0,
    name: str = "",
) -> Trace:
    """A seeded Markov-modulated bandwidth trace (see the module docstring for the model).

    Parameters
    ----------
    duration_s : float
        Length of the trace in seconds (> 0); the last step is shorter when ``step_s`` does not
        divide it.
    states_kbps : sequence of k floats
        Nominal bandwidth of each state in kbps (>= 0, at least one > 0).
    mean_dwell_s : float or sequence of k floats
        Mean time spent in a state before moving, in seconds (> 0); one value for all states or
        one per state.
    transition : array of shape (k, k), optional
        Row ``i`` gives the probabilities of the state that follows state ``i`` (rows sum to 1;
        a diagonal entry re-draws the dwell in the same state). Default: uniform over the other
        states (a single state stays put).
    noise_sigma : float
        Standard deviation of the log of the per-step multiplicative noise (>= 0; 0: none).
    step_s : float
        Sampling step of the trace in seconds (> 0).
    outage_rate_per_min : float
        Mean number of outages per minute (>= 0; 0: none).
    outage_mean_s : float
        Mean outage length in seconds (> 0).
    latency_ms : float, optional
        Constant request latency of every period in ms (>= 0); None: no latency.
    seed : int
        Seed (>= 0); the same arguments and seed give the same trace.
    name : str
        Name of the trace.

    Returns
    -------
    Trace
        Periods of ``step_s`` from 0 to ``duration_s``, bandwidth >= 0 and at least one period
        > 0 (if outages or zero states would leave none, the busiest step is restored).
        ``meta`` records the generator and its arguments.
    """
    duration = _positive("duration_s", duration_s)
    states = _vector("states_kbps", states_kbps)
    if not np.all(np.isfinite(states)) or np.any(states < 0):
        raise ParameterError("states_kbps", states.tolist(), "every state must be finite and >= 0")
    if not np.any(states > 0):
        raise ParameterError("states_kbps", states.tolist(), "at least one state must be > 0")
    k = states.size
    if np.ndim(mean_dwell_s) == 0:
        dwell = np.full(k, _positive("mean_dwell_s", mean_dwell_s))
    else:
        dwell = _vector("mean_dwell_s", mean_dwell_s)
        if dwell.size != k:
            raise ParameterError("mean_dwell_s", dwell.tolist(), f"must be one number or {k} (one per state)")
        if not np.all(np.isfinite(dwell)) or np.any(dwell <= 0):
            raise ParameterError("mean_dwell_s", dwell.tolist(), "every dwell must be finite and > 0")
    p = _transition_matrix(transition, k)
    sigma = _non_negative("noise_sigma", noise_sigma)
    step = _positive("step_s", step_s)
    rate_per_s = _non_negative("outage_rate_per_min", outage_rate_per_min) / 60.0
    outage_mean = _positive("outage_mean_s", outage_mean_s)
    latency = None if latency_ms is None else _non_negative("latency_ms", latency_ms)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError("seed", seed, "must be an integer >= 0")
    if not isinstance(name, str):
        raise ParameterError("name", name, "must be a string")
    n_steps = max(1, math.ceil(duration / step - 1e-9))
    if n_steps > _MAX_SEGMENTS:
        raise ParameterError("step_s", step, f"gives {n_steps} steps for duration_s={duration!r}; at most {_MAX_SEGMENTS}")
    if duration / float(dwell.min()) > _MAX_SEGMENTS:
        raise ParameterError("mean_dwell_s", float(dwell.min()), f"is too short for duration_s={duration!r}")
    if duration * rate_per_s > _MAX_SEGMENTS:
        raise ParameterError("outage_rate_per_min", outage_rate_per_min, f"is too high for duration_s={duration!r}")

    path_rng, noise_rng, outage_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(3))

    # State path in continuous time: segment boundaries and the bandwidth of each segment.
    cum_p = np.cumsum(p, axis=1)
    state = int(path_rng.integers(k))
    bounds = [0.0]
    rates = []
    t = 0.0
    while t < duration:
        t += float(path_rng.exponential(dwell[state]))
        bounds.append(t)
        rates.append(states[state] * 1e3)
        state = min(int(np.searchsorted(cum_p[state], path_rng.random(), side="right")), k - 1)
    # Time average over each step from the exact integral of the piecewise-constant path.
    bounds_a = np.array(bounds)
    integral = np.concatenate(([0.0], np.cumsum(np.diff(bounds_a) * np.array(rates))))
    edges = np.minimum(np.arange(n_steps + 1) * step, duration)
    edges[-1] = duration
    base_bps = np.diff(np.interp(edges, bounds_a, integral)) / np.diff(edges)

    noise = np.exp(sigma * noise_rng.standard_normal(n_steps) - sigma * sigma / 2.0)
    bw = base_bps * noise

    if rate_per_s > 0:
        down = np.zeros(n_steps, dtype=bool)
        t = 0.0
        while True:
            t += float(outage_rng.exponential(1.0 / rate_per_s))
            length = float(outage_rng.exponential(outage_mean))
            if t >= duration:
                break
            first = min(int(t // step), n_steps - 1)
            down[first : first + max(1, round(length / step))] = True
        bw = np.where(down, 0.0, bw)

    if not np.any(bw > 0):
        j = int(np.argmax(base_bps))
        bw[j] = base_bps[j] * noise[j] if base_bps[j] > 0 else float(states.max()) * 1e3

    meta = {
        "generator": "markov_trace",
        "params": {
            "duration_s": duration,
            "states_kbps": states.tolist(),
            "mean_dwell_s": dwell.tolist(),
            "transition": p.tolist(),
            "noise_sigma": sigma,
            "step_s": step,
            "outage_rate_per_min": rate_per_s * 60.0,
            "outage_mean_s": outage_mean,
            "latency_ms": latency,
            "seed": int(seed),
        },
    }
    return Trace(
        edges[:-1].copy(),
        bw,
        end_s=duration,
        latency_s=None if latency is None else np.full(n_steps, latency / 1e3),
        name=name,
        meta=meta,
    )


def _neighbour_transitions(k: int, stay_near: float = 0.85) -> list[list[float]]:
    """Mostly step to an adjacent state (``stay_near``), otherwise jump to any other one."""
    rows = []
    for i in range(k):
        near = [j for j in (i - 1, i + 1) if 0 <= j < k]
        far = [j for j in range(k) if j != i and j not in near]
        row = [0.0] * k
        near_share = stay_near if far else 1.0
        for j in near:
            row[j] = near_share / len(near)
        for j in far:
            row[j] = (1.0 - near_share) / len(far)
        rows.append(row)
    return rows


#: Ready-made parameter sets for :func:`markov_trace` (everything but duration, seed and name).
PRESETS: dict[str, dict[str, Any]] = {
    # Fixed broadband: high, stable, long dwells, little noise.
    "broadband": {
        "states_kbps": [20000.0, 25000.0, 30000.0],
        "mean_dwell_s": 60.0,
        "transition": None,
        "noise_sigma": 0.05,
        "step_s": 1.0,
        "latency_ms": 20.0,
    },
    # 3G/HSDPA commute, like the Norway traces: 0.2-3 Mbps, drifting between nearby levels.
    "3g": {
        "states_kbps": [200.0, 450.0, 800.0, 1300.0, 2000.0, 3000.0],
        "mean_dwell_s": 6.0,
        "transition": _neighbour_transitions(6),
        "noise_sigma": 0.15,
        "step_s": 1.0,
        "latency_ms": 100.0,
    },
    # 4G/LTE on the move, like the Belgium traces: 2-40 Mbps.
    "4g": {
        "states_kbps": [2000.0, 5000.0, 10000.0, 18000.0, 28000.0, 40000.0],
        "mean_dwell_s": 5.0,
        "transition": _neighbour_transitions(6),
        "noise_sigma": 0.2,
        "step_s": 1.0,
        "latency_ms": 20.0,
    },
    # Mobile link with coverage holes: about one outage a minute, 3 s on average.
    "outages": {
        "states_kbps": [300.0, 1000.0, 2500.0, 5000.0],
        "mean_dwell_s": 8.0,
        "transition": _neighbour_transitions(4),
        "noise_sigma": 0.2,
        "step_s": 1.0,
        "outage_rate_per_min": 1.0,
        "outage_mean_s": 3.0,
        "latency_ms": 60.0,
    },
}


def preset_trace(preset: str, duration_s: float = 600.0, seed: int = 0, name: str | None = None) -> Trace:
    """A :func:`markov_trace` with the parameters of ``PRESETS[preset]``.

    ``name`` defaults to ``"<preset>-<seed>"``.
    """
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ParameterError("preset", preset, f"unknown preset; known: {', '.join(sorted(PRESETS))}")
    params = copy.deepcopy(PRESETS[preset])  # a caller's later edits to PRESETS stay theirs
    label = f"{preset}-{seed}" if name is None else name
    return markov_trace(duration_s, seed=seed, name=label, **params)
