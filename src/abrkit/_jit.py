"""One place for abrkit's Numba compile policy.

* Lazy compilation: no eager signatures, so importing abrkit compiles nothing.
* ``cache=True`` for serial kernels, so a second process skips compilation; never for
  ``parallel=True`` kernels (Numba's cache and parfors interact badly across machines).
* ``ABRKIT_NUMBA_CACHE=0`` turns on-disk caching off (read-only installs, debugging).
* Numba checks a cached kernel against its own source file only, so after an edit to
  ``_kernels/mpc.py`` a cached caller in ``session.py`` would go on running the old, inlined
  code. :func:`drop_stale_cache` therefore empties the kernels' cache whenever any kernel
  source (or this file) changed; it runs once, when this module is imported.
* ``ABRKIT_DISABLE_JIT=1`` runs every kernel as plain Python (slow; for debugging kernels with
  pdb). Numba's own ``NUMBA_DISABLE_JIT`` works too.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable, TypeVar

import numba

F = TypeVar("F", bound=Callable[..., Any])

_CACHE = os.environ.get("ABRKIT_NUMBA_CACHE", "1").strip().lower() not in {"0", "false", "no", "off"}
_DISABLED = os.environ.get("ABRKIT_DISABLE_JIT", "0").strip().lower() in {"1", "true", "yes", "on"}


def drop_stale_cache(source_dir: Path, also: tuple[Path, ...] = ()) -> bool:
    """Delete Numba's cache files in ``source_dir/__pycache__`` unless the ``*.py`` files of
    ``source_dir`` (and ``also``) are the ones it was built from; returns True if it deleted.

    The fingerprint (SHA-256 of names and contents) is kept in ``__pycache__`` next to the
    cache. A directory that cannot be written (a read-only install, where Numba caches
    elsewhere or not at all) is left alone.
    """
    digest = hashlib.sha256()
    for path in sorted(source_dir.glob("*.py")) + sorted(also):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    cache = source_dir / "__pycache__"
    stamp = cache / "abrkit-kernel-sources.sha256"
    try:
        if stamp.read_text() == digest.hexdigest():
            return False
    except OSError:
        pass  # no stamp yet: whatever is cached may predate it
    stale = [p for pattern in ("*.nbi", "*.nbc") for p in cache.glob(pattern)]
    try:
        for path in stale:
            path.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest.hexdigest())
    except OSError:
        return False
    return bool(stale)


if _CACHE and not _DISABLED:
    drop_stale_cache(Path(__file__).with_name("_kernels"), (Path(__file__),))


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
