"""Numba kernels: contiguous float64/int64 arrays and scalars in, preallocated arrays filled.

Nothing here imports public abrkit modules (only ``abrkit._jit``); the façades validate input
and pack it. Every kernel has a plain-Python reference in ``tests/reference.py``.
"""
