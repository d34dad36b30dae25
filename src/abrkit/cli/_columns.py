"""Controller parameters as columns of a sessions table.

``BatchResult.sessions()`` names each session's controller by its label (``bba0(reservoir_s=4)``,
every non-default value shown); a sweep needs the values themselves, one column per parameter,
so they can be grouped and plotted. They come from the controller objects, not from the label.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import pandas as pd

from ..controllers import Controller
from ..custom import spec_of
from ..predictors import Predictor

__all__ = ["controller_parameters", "with_parameter_columns"]


def controller_parameters(controller: Any) -> tuple[str, str, dict[str, Any]]:
    """(label, family, {parameter: value}) of a controller as result tables show it.

    ``label`` is the ``controller`` column of the sessions table, ``family`` the registry name
    (``bba0``) or a Python controller's name; a nested predictor is given by its label.
    Parameters keep their units in their names (``reservoir_s``).
    """
    spec = controller if isinstance(controller, Controller) else spec_of(controller)
    label = str(spec.name)
    if isinstance(spec, Controller) and dataclasses.is_dataclass(spec):
        values: dict[str, Any] = {}
        for f in dataclasses.fields(spec):
            value = getattr(spec, f.name)
            values[f.name] = value.name if isinstance(value, Predictor) else value
        return label, str(spec.label), values
    settings = dict(spec.settings())
    family = str(settings.pop("controller", label))
    return label, family, {k: _scalar(v) for k, v in settings.items()}


def _scalar(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def with_parameter_columns(sessions: pd.DataFrame, controllers: Sequence[Any]) -> pd.DataFrame:
    """``sessions`` with ``family`` and one column per controller parameter after ``controller``.

    Rows are matched to ``controllers`` by label; a parameter a controller lacks is empty (NaN).
    A parameter whose name is already a column of ``sessions`` is added as ``param_<name>``.
    Tuple values (e.g. a pair of weights) are shown as text.
    """
    table: dict[str, tuple[str, dict[str, Any]]] = {}
    order: list[str] = []
    for c in controllers:
        label, family, values = controller_parameters(c)
        table[label] = (family, values)
        for name in values:
            if name not in order:
                order.append(name)
    labels = sessions["controller"].astype(str).tolist()
    out = sessions.copy()
    at = list(out.columns).index("controller") + 1
    new: list[tuple[str, list[Any]]] = [("family", [table.get(lab, (None, {}))[0] for lab in labels])]
    for name in order:
        column = [table.get(lab, (None, {}))[1].get(name) for lab in labels]
        column = [str(v) if isinstance(v, tuple) else v for v in column]
        new.append((name, column))
    for offset, (name, column) in enumerate(new):
        col = name if name not in out.columns else f"param_{name}"
        out.insert(at + offset, col, _series(column, out.index))
    return out


def _series(values: list[Any], index: pd.Index) -> pd.Series:
    """Numbers (and missing values) as float64, flags as booleans, anything else as objects."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pd.Series([float("nan") if v is None else float(v) for v in values], dtype="float64", index=index)
    if present and all(isinstance(v, bool) for v in present) and len(present) == len(values):
        return pd.Series(values, dtype=bool, index=index)
    return pd.Series(values, dtype=object, index=index)
