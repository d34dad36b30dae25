"""One place for abrkit's Numba compile policy.

* Lazy compilation: no eager signatures, so importing abrkit compiles nothing.
* ``cache=True`` for serial kernels, so a second process skips compilation; never for
  ``parallel=True`` kernels (Numba's cache and parfors interact badly across machines).
* ``ABRKIT_NUMBA_CACHE=0`` turns on-disk caching off (read-only installs, debugging).
* ``ABRKIT_DISABLE_JIT=1`` runs every kernel as plain Python (slow; for debugging kernels with
  pdb). Numba's own ``NUMBA_DISABLE_JIT`` works too.
"""

from __future__ import annotations

import os
from typing import Any, Callable, TypeVar

import numba

F = TypeVar("F", bound=Callable[..., Any])

_CACHE = os.environ.get("ABRKIT_NUMBA_CACHE", "1").strip().lower() not in {"0", "false", "no", "off"}
_DISABLED = os.environ.get("ABRKIT_DISABLE_JIT", "0").strip().lower() in {"1", "true", "yes", "on"}


def njit(func: F) -> F:
    """Compile a serial kernel: nopython, fastmath off (exact IEEE results), cached if allowed."""
    if _DISABLED:
        return func
    return numba.njit(cache=_CACHE, nogil=True)(func)  # type: ignore[return-value]


def njit_inline(func: F) -> F:
    """A small helper inlined into its callers at Numba's IR level.

    For the innermost predictor helpers: a call that passes arrays costs reference counting
    that can exceed the helper's own arithmetic (measured: EWMA updates 19 -> 40 million/s).
    Inlining costs compile time, so it is kept for helpers of a few lines.
    """
    if _DISABLED:
        return func
    return numba.njit(cache=_CACHE, nogil=True, inline="always")(func)  # type: ignore[return-value]


def njit_parallel(func: F) -> F:
    """Compile a kernel that uses ``prange``; never cached (see module docstring)."""
    if _DISABLED:
        return func
    return numba.njit(parallel=True, cache=False, nogil=True)(func)  # type: ignore[return-value]


def prange(*args: int) -> range:
    """``numba.prange`` inside compiled code, ``range`` when the JIT is disabled."""
    return range(*args)


if not _DISABLED:
    prange = numba.prange  # type: ignore[assignment]  # noqa: F811
