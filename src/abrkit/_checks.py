"""Argument checks shared by the public specs; each failure is a ParameterError naming the rule."""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import numpy as np

from .errors import ParameterError


def number(name: str, value: object, *, gt: float | None = None, ge: float | None = None, le: float | None = None) -> float:
    """``value`` as a finite float obeying the bounds given, else ParameterError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(name, value, "must be a number")
    x = float(value)
    rules = []
    if gt is not None:
        rules.append(f"> {gt:g}")
    if ge is not None:
        rules.append(f">= {ge:g}")
    if le is not None:
        rules.append(f"<= {le:g}")
    ok = math.isfinite(x) and (gt is None or x > gt) and (ge is None or x >= ge) and (le is None or x <= le)
    if not ok:
        raise ParameterError(name, value, "must be finite" + (" and " + " and ".join(rules) if rules else ""))
    return x


def integer(name: str, value: object, *, ge: int | None = None) -> int:
    """``value`` as an int (bools refused) that is >= ``ge``, else ParameterError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterError(name, value, "must be an integer" + (f" >= {ge}" if ge is not None else ""))
    if ge is not None and value < ge:
        raise ParameterError(name, value, f"must be an integer >= {ge}")
    return int(value)


def worker_count(n_workers: int | None) -> int:
    """Threads for a batch: ``n_workers`` validated, or the CPU count (at most 8) for None."""
    if n_workers is None:
        return max(1, min(os.cpu_count() or 1, 8))
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ParameterError("n_workers", n_workers, "must be an integer >= 1 or None")
    return n_workers


def playable_sizes(name: str, sizes_bytes: Any) -> None:
    """Chunks a simulator can download: at least one byte each (the file readers' own bound).

    Below a byte a download takes no measurable time and every throughput sample divides by
    zero; a ``Video`` built by hand may hold such sizes, so the simulators check before running.
    """
    small = np.asarray(sizes_bytes) < 1.0
    if np.any(small):
        k, r = (int(x) for x in np.argwhere(small)[0])
        raise ParameterError(
            f"video {name!r} sizes_bytes[{k}, {r}]", float(np.asarray(sizes_bytes)[k, r]),
            "a simulated chunk holds at least 1 byte",
        )
