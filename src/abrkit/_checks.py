"""Argument checks shared by the public specs; each failure is a ParameterError naming the rule."""

from __future__ import annotations

import math
import numbers

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
