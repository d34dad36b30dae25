"""Controller parameter sweeps: one ``--controller`` spec that stands for many controllers.

Grammar (an extension of the spec syntax of :func:`abrkit.controllers.get_controller`,
``name:param=value,param=value`` or ``name(param=value,...)``)::

    spec   := NAME [":" params | "(" params ")"]
    params := param ("," param)*
    param  := KEY "=" values
    values := value ("," value)*        a list: items without "=" continue the previous key
    value  := START ":" STOP ":" STEP   a grid (numbers)
            | anything else             one value, passed on as written

- A grid runs from START by STEP towards STOP; STOP is included when it lies on the grid.
  The arithmetic is decimal and exact (``0.1:0.5:0.1`` gives 0.1, 0.2, 0.3, 0.4, 0.5, never
  0.30000000000000004). The values are integers when START and STEP are written as integers,
  decimals otherwise. STEP may be negative (STOP below START) but never 0.
- A list gives each of its items; an item may itself be a grid (``1,2,5:10:5`` is 1, 2, 5, 10).
- Several swept parameters give their Cartesian product, the last parameter varying fastest.
- A spec with no list and no grid comes back unchanged; a Python controller (``FILE.py`` or
  ``FILE.py:Class``) is never expanded.

Values inside a nested predictor spec are not swept (``predictor=harmonic(window=3:7:1)`` is
passed on as written and refused by the predictor); sweep the predictor itself with a list.
"""

from __future__ import annotations

import itertools
from decimal import Decimal, InvalidOperation, localcontext

from ..errors import ParameterError

__all__ = ["expand_controller_spec", "expand_controller_specs", "MAX_SWEEP"]

#: Most controllers one spec may expand to (a larger grid is almost surely a typo).
MAX_SWEEP = 10_000

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def expand_controller_specs(specs: list[str], max_specs: int = MAX_SWEEP) -> list[str]:
    """:func:`expand_controller_spec` of each spec, concatenated in order."""
    out: list[str] = []
    for spec in specs:
        out.extend(expand_controller_spec(spec, max_specs))
    return out


def expand_controller_spec(spec: str, max_specs: int = MAX_SWEEP) -> list[str]:
    """The controller specs one sweep spec stands for, in order (grammar in the module docstring).

    ``"bba0:reservoir_s=2:10:4"`` gives ``["bba0:reservoir_s=2", "bba0:reservoir_s=6",
    "bba0:reservoir_s=10"]``. Raises :class:`~abrkit.errors.ParameterError` (naming ``spec``)
    for a malformed grid or list, a parameter given twice, or more than ``max_specs`` results.
    Whether the names and values are valid is left to :func:`abrkit.controllers.get_controller`.
    """
    if not isinstance(spec, str):
        raise ParameterError("controller", spec, "must be a string")
    text = spec.strip()
    if text.endswith(".py") or ".py:" in text:
        return [spec]
    parsed = _split_name(text)
    if parsed is None:
        return [spec]  # not a spec get_controller reads either: let it say why
    name, arg_text = parsed
    params = _group(_split_top_level(arg_text), spec)
    swept = False
    choices: list[tuple[str, list[str]]] = []
    for key, raw_values in params:
        values: list[str] = []
        for raw in raw_values:
            grid = _grid(raw, key, spec, max_specs)
            if grid is None:
                values.append(raw)
            else:
                values.extend(grid)
                swept = True
        swept |= len(raw_values) > 1
        choices.append((key, values))
    if not swept:
        return [spec]
    total = 1
    for _, values in choices:
        total *= len(values)
    if total > max_specs:
        sizes = " x ".join(str(len(v)) for _, v in choices)
        raise ParameterError("controller", spec, f"the sweep gives {sizes} = {total} controllers, more than {max_specs}")
    keys = [k for k, _ in choices]
    return [
        f"{name}:" + ",".join(f"{k}={v}" for k, v in zip(keys, combo))
        for combo in itertools.product(*(v for _, v in choices))
    ]


def _split_name(text: str) -> tuple[str, str] | None:
    """``name:args`` or ``name(args)`` -> (name, args); None if ``text`` is neither."""
    i = 0
    while i < len(text) and text[i] in _NAME_CHARS:
        i += 1
    name, rest = text[:i], text[i:].strip()
    if not name:
        return None
    if not rest:
        return name, ""
    if rest.startswith(":"):
        return name, rest[1:]
    if rest.startswith("(") and rest.endswith(")"):
        return name, rest[1:-1]
    return None


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses and brackets; empty items dropped."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _top_level_eq(item: str) -> int:
    """Index of the first ``=`` outside parentheses in ``item``, or -1."""
    depth = 0
    for i, ch in enumerate(item):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "=" and depth == 0:
            return i
    return -1


def _group(items: list[str], spec: str) -> list[tuple[str, list[str]]]:
    """``["a=1", "2", "b=x"]`` -> ``[("a", ["1", "2"]), ("b", ["x"])]``."""
    groups: list[tuple[str, list[str]]] = []
    for item in items:
        eq = _top_level_eq(item)
        if eq < 0:
            if not groups:
                raise ParameterError("controller", spec, f"value {item!r} has no parameter: write param={item}")
            groups[-1][1].append(item)
            continue
        key, value = item[:eq].strip(), item[eq + 1:].strip()
        if not key or not value:
            raise ParameterError("controller", spec, f"parameter {item!r} must look like name=value")
        if any(key == k for k, _ in groups):
            raise ParameterError("controller", spec, f"parameter {key!r} is given twice; list its values instead: "
                                                     f"{key}=a,b,c")
        groups.append((key, [value]))
    return groups


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _is_int_text(text: str) -> bool:
    try:
        int(text.strip())
    except ValueError:
        return False
    return True


def _grid(raw: str, key: str, spec: str, max_specs: int) -> list[str] | None:
    """The values of ``START:STOP:STEP`` as text, or None when ``raw`` is not a grid."""
    parts = raw.split(":")
    if len(parts) < 2 or _number(parts[0]) is None:
        return None  # e.g. a nested spec such as predictor=harmonic:window=3
    rule = f"{key}={raw} is not a grid START:STOP:STEP of finite numbers (e.g. {key}=2:10:1)"
    if len(parts) != 3:
        raise ParameterError("controller", spec, rule)
    start, stop, step = (_number(p) for p in parts)
    if start is None or stop is None or step is None:
        raise ParameterError("controller", spec, rule)
    if step == 0:
        raise ParameterError("controller", spec, f"{key}={raw}: the step must not be 0")
    if (stop - start) * step < 0:
        raise ParameterError(
            "controller", spec, f"{key}={raw}: a step of {parts[2].strip()} never goes from {parts[0].strip()} "
            f"to {parts[1].strip()}",
        )
    integral = _is_int_text(parts[0]) and _is_int_text(parts[2])
    with localcontext() as ctx:
        ctx.prec = 60
        count = int((stop - start) / step) + 1  # truncates: STOP only when it lies on the grid
        if count > max_specs:
            raise ParameterError("controller", spec, f"{key}={raw} has {count} values, more than {max_specs}")
        values = [start + i * step for i in range(count)]
    if integral:
        return [str(int(v)) for v in values]
    return [_decimal_text(v) for v in values]


def _decimal_text(value: Decimal) -> str:
    """Plain decimal text that reads back as a float: ``0.3``, ``2.0``, ``0.00001``."""
    text = format(value, "f")
    if "." not in text:
        text += ".0"
    elif text.endswith("0"):
        text = text.rstrip("0")
        if text.endswith("."):
            text += "0"
    return text
