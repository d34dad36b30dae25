"""Rendering tables for the terminal and for programs: aligned text, CSV, JSON, JSON Lines.

Text tables format each numeric column alike, from the column's largest magnitude: integers
without decimals; otherwise four significant digits for the largest value and the same number
of decimals for every cell (so ``0`` never sits next to ``1.516e-05``: the column prints
``0.00000000`` and ``0.00001516``); columns whose largest magnitude is >= 1e9 or < 1e-7 print
every cell in scientific notation. NaN prints as ``-``.
"""

from __future__ import annotations

import json
import math
from typing import Any, Sequence, TextIO

import numpy as np
import pandas as pd

from ._args import CLIError

__all__ = [
    "format_number_column", "format_table", "format_kbps", "json_value", "to_json", "to_jsonl", "to_csv", "render",
    "write_text",
]

#: Most decimals a fixed-point column gets before it switches to scientific notation.
_MAX_DECIMALS = 10


def format_number_column(values: np.ndarray) -> list[str]:
    """Format the floats of one column alike (see the module docstring); NaN as ``-``."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return ["-" if np.isnan(v) else ("inf" if v > 0 else "-inf") for v in values]
    big = float(np.max(np.abs(finite)))
    if np.all(finite == np.round(finite)) and big < 1e15:
        fmt = "{:.0f}"
    elif big >= 1e9 or big < 10.0 ** (3 - _MAX_DECIMALS):
        fmt = "{:.3e}"
    else:  # four significant digits for the column's largest value, at least one decimal
        decimals = 3 - int(math.floor(math.log10(big)))
        fmt = "{:.%df}" % min(max(decimals, 1), _MAX_DECIMALS)
    out = []
    for v in values:
        if np.isnan(v):
            out.append("-")
        elif not np.isfinite(v):
            out.append("inf" if v > 0 else "-inf")
        else:
            text = fmt.format(v)
            if text.startswith("-") and float(text) == 0:
                text = text[1:]  # no "-0.000"
            out.append(text)
    return out


def format_kbps(values: Sequence[float]) -> str:
    """Rung bitrates for display, e.g. ``97.6, 300, 4300``: whole kbit/s from 100 up, three
    significant digits below."""
    return ", ".join(f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}" for v in values)


def format_table(df: pd.DataFrame, labels: dict[str, str] | None = None) -> str:
    """A plain-text table: columns separated by two spaces, numbers right-aligned."""
    labels = labels or {}
    columns: list[tuple[str, list[str], bool]] = []
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_bool_dtype(s):
            cells, right = ["-" if v is pd.NA else ("yes" if v else "no") for v in s], False
        elif pd.api.types.is_integer_dtype(s):
            cells, right = ["-" if v is pd.NA else str(int(v)) for v in s], True
        elif pd.api.types.is_float_dtype(s):
            cells, right = format_number_column(s.to_numpy(dtype=np.float64, na_value=np.nan)), True
        else:
            cells, right = [_cell(v) for v in s], False
        columns.append((labels.get(col, str(col)), cells, right))
    widths = [max([len(h)] + [len(c) for c in cells]) for h, cells, _ in columns]

    def line(items: Sequence[str]) -> str:
        parts = [(text.rjust(w) if right else text.ljust(w)) for text, w, (_, _, right) in zip(items, widths, columns)]
        return "  ".join(parts).rstrip()

    out = [line([h for h, _, _ in columns]), line(["-" * w for w in widths])]
    for i in range(len(df)):
        out.append(line([cells[i] for _, cells, _ in columns]))
    return "\n".join(out) + "\n"


def _cell(v: Any) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return "-"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


def json_value(v: Any) -> Any:
    """A JSON-ready copy of ``v``: NumPy scalars and arrays to Python, NaN and infinities to None."""
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.ndarray):
        return [json_value(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): json_value(x) for k, x in v.items()}
    if v is None or isinstance(v, (str, int, bool)):
        return v
    if v is pd.NA or v is pd.NaT:
        return None
    return str(v)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): json_value(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def to_json(df: pd.DataFrame) -> str:
    """A JSON list of objects, one per row; NaN and infinities become null."""
    return json.dumps(_records(df), indent=2, allow_nan=False) + "\n"


def to_jsonl(df: pd.DataFrame) -> str:
    """JSON Lines: one compact JSON object per row and line; NaN and infinities become null."""
    return "".join(json.dumps(r, allow_nan=False, separators=(",", ":")) + "\n" for r in _records(df))


def to_csv(df: pd.DataFrame) -> str:
    """CSV with a header row and ``\\n`` line ends."""
    return df.to_csv(index=False, lineterminator="\n")


def render(df: pd.DataFrame, fmt: str, labels: dict[str, str] | None = None) -> str:
    """``df`` as ``table`` (aligned text, ``labels`` renaming headers), ``csv``, ``json`` or ``jsonl``."""
    if fmt == "csv":
        return to_csv(df)
    if fmt == "json":
        return to_json(df)
    if fmt == "jsonl":
        return to_jsonl(df)
    return format_table(df, labels)


def write_text(text: str, path: str | None, stdout: TextIO) -> None:
    """Write ``text`` to ``path`` (``None`` or ``-``: to ``stdout``); an OSError becomes a CLIError."""
    if path is None or path == "-":
        stdout.write(text)
        stdout.flush()
        return
    try:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror or exc}") from None
