"""Argument helpers shared by every subcommand: argparse value types, the help formatter,
help-list entries, and the CLI's own error class.

The value types raise :class:`argparse.ArgumentTypeError`, so bad input is a usage error
(exit code 2) reported by argparse with the option's name.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import math
import re
import sys
import textwrap
from typing import Any, Callable

from ..errors import AbrkitError

__all__ = [
    "PROG", "HELP_WIDTH", "CLIError", "HelpFormatter", "kbps_list", "number_list", "resolution_list",
    "finite_float", "positive_float", "optional_float", "integer", "positive_int", "first_sentence",
    "factory_params", "entry", "warn", "FORMATS_TABULAR",
]

PROG = "abrkit"
HELP_WIDTH = 88

#: The output formats of commands that print a table (``--format``).
FORMATS_TABULAR = ("table", "csv", "json", "jsonl")


class CLIError(AbrkitError):
    """A problem with the command-line arguments found after parsing (exit code 1)."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the hand-wrapped epilogs; option help wrapped at :data:`HELP_WIDTH` columns."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30, width=HELP_WIDTH)


# -- value types ------------------------------------------------------------------------------------


def finite_float(text: str) -> float:
    """A finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} must be finite")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be finite and > 0")
    return value


def optional_float(text: str) -> float | None:
    """A finite number, or ``none``/``off`` for no value."""
    return None if text.strip().lower() in ("none", "off") else finite_float(text)


def integer(text: str) -> int:
    """An integer."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return value


def _items(text: str, example: str) -> list[str]:
    items = [t.strip() for t in text.split(",")]
    if not items or any(not t for t in items):
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated values, e.g. {example}")
    return items


def number_list(text: str) -> list[float]:
    """``20,26,32`` -> [20.0, 26.0, 32.0]: finite numbers."""
    values = []
    for t in _items(text, "20,26,32"):
        try:
            values.append(finite_float(t))
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{exc} (in {text!r})") from None
    return values


def kbps_list(text: str) -> list[float]:
    """``300,750,1200`` -> [300.0, 750.0, 1200.0]: bitrates in kbit/s, each finite and > 0."""
    values = []
    for t in _items(text, "300,750,1200 (kbps)"):
        try:
            v = float(t)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{t!r} in {text!r} is not a number") from None
        if not (math.isfinite(v) and v > 0):
            raise argparse.ArgumentTypeError(f"{t!r} in {text!r} must be a finite bitrate > 0 kbps")
        values.append(v)
    return values


def metric_list(allowed: Any, example: str) -> Callable[[str], list[str]]:
    """An argparse type for ``--metrics vmaf,psnr``: names among ``allowed``, at least one."""

    def parse(text: str) -> list[str]:
        names = [t.strip() for t in text.split(",") if t.strip()]
        unknown = [n for n in names if n not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown metric {', '.join(map(repr, unknown)) or repr(text)}; choose from {', '.join(allowed)} "
                f"(comma-separated, e.g. {example})"
            )
        return names

    return parse


def resolution_list(text: str) -> list[Any]:
    """``1280x720,640x360`` or ``720,360`` -> [(1280, 720), (640, 360)] or [720, 360] (pixels)."""
    out: list[Any] = []
    for item in _items(text.lower(), "1280x720,640x360 or 720,360"):
        try:
            if "x" in item:
                w, h = item.split("x", 1)
                out.append((int(w), int(h)))
            else:
                out.append(int(item))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r} in {text!r} is not WIDTHxHEIGHT or HEIGHT") from None
    return out


# -- help text ----------------------------------------------------------------------------------------


def first_sentence(obj: Any) -> str:
    """First sentence of the first paragraph of ``obj``'s docstring, reST markup removed."""
    doc = inspect.getdoc(obj) or ""
    paragraph = doc.strip().split("\n\n")[0]
    text = " ".join(paragraph.split()).replace("``", "")
    end = re.search(r"(?<=[.!?])\s+(?=[A-Z(\"'])", text)
    return text[: end.start()] if end else text


def factory_params(factory: Callable[..., Any]) -> str:
    """``reservoir_s=5.0, cushion_s=10.0``: the parameters a spec of ``factory`` can set."""
    items: list[str] = []
    if dataclasses.is_dataclass(factory):
        for f in dataclasses.fields(factory):
            if not f.init:
                continue
            if f.default is not dataclasses.MISSING:
                items.append(f"{f.name}={f.default!r}")
            elif f.default_factory is not dataclasses.MISSING:
                items.append(f"{f.name}={f.default_factory()!r}")
            else:
                items.append(f.name)
        return ", ".join(items)
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return ""
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        items.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
    return ", ".join(items)


def entry(name: str, text: str, width: int = HELP_WIDTH, name_width: int = 10) -> str:
    """One help-list entry: the name, then ``text`` wrapped and indented under it."""
    head = f"  {name:<{name_width}} "
    return textwrap.fill(
        text, width=width, initial_indent=head, subsequent_indent=" " * len(head), break_on_hyphens=False,
        break_long_words=False,
    )


def warn(message: str) -> None:
    """``abrkit: warning: <message>`` on stderr."""
    print(f"{PROG}: warning: {message}", file=sys.stderr)
