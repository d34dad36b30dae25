"""Throughput-predictor kernels (bits per second in, bits per second out)."""

from __future__ import annotations

from .._jit import njit


@njit
def harmonic_mean_last(samples_bps, window):
    """Harmonic mean of the last ``window`` samples (fewer if fewer exist); 0.0 if none."""
    n = samples_bps.size
    start = n - window if n > window else 0
    acc = 0.0
    for i in range(start, n):
        acc += 1.0 / samples_bps[i]
    if n - start == 0:
        return 0.0
    return (n - start) / acc
