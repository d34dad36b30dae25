"""Hardened text and JSON reading shared by the trace readers and the video readers.

Every helper turns hostile input (a huge file, a huge line or number, deep JSON, a boolean or a
string where a number belongs) into the caller's file-format error (``error``:
:class:`~abrkit.errors.TraceFormatError` or :class:`~abrkit.errors.VideoFormatError`) naming
the file and, where there is one, the 1-based line. Lowest layer: imports only the standard
library, numpy and :mod:`abrkit.errors`.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .errors import _FileFormatError

#: Largest file a reader opens: 1 GiB.
MAX_FILE_BYTES = 1 << 30
#: Longest line of a line-based format (a CSV field included).
MAX_LINE_CHARS = 1 << 16
#: Longest written number (sign, digits, point and exponent).
MAX_NUMBER_CHARS = 100
#: Deepest JSON nesting accepted.
MAX_JSON_DEPTH = 100

FIELD = re.compile(r"[^ \t\r\n\f\v]+")
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
NON_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_JSON_NEST = re.compile(r'"(?:[^"\\\n]|\\.)*"|[\[\]{}\n]')
_JSON_GAP = re.compile(r"[\s,]*")
_JSON = json.JSONDecoder()

ErrorClass = type[_FileFormatError]


def short(value: object, limit: int = 40) -> str:
    """repr of a value, cut to ``limit`` characters (a number of 5,000 digits stays readable)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        try:
            return f"<integer of {len(str(abs(value)))} digits>"
        except ValueError:  # beyond Python's int-to-str limit
            return f"<integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_text(path: Path, error: ErrorClass, what: str, limit_for: str) -> str:
    """The file's text (UTF-8, an optional byte-order mark dropped), within :data:`MAX_FILE_BYTES`.

    ``what`` names the file expected (``"is a directory, not a {what}"``); ``limit_for`` whose
    limit the size is (``"the limit for {limit_for}"``).
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise error(path, "no such file") from None
    except IsADirectoryError:
        raise error(path, f"is a directory, not a {what}") from None
    except OSError as exc:
        raise error(path, f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise error(path, f"file larger than {MAX_FILE_BYTES} bytes (1 GiB), the limit for {limit_for}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise error(path, f"not a UTF-8 text file ({exc.reason} at byte {exc.start})", line=line) from None


def lines(path: Path, text: str, error: ErrorClass) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) for every line ended by ``\\n``, ``\\r\\n`` or ``\\r``.

    Only these end a line, as editors count them (``str.splitlines`` also splits at form feeds
    and Unicode separators, which shifts line numbers). Lines over :data:`MAX_LINE_CHARS` are an
    error.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    for lineno, line in enumerate(text.split("\n"), start=1):
        if len(line) > MAX_LINE_CHARS:
            raise error(path, f"line of {len(line)} characters; a line may have at most {MAX_LINE_CHARS}", line=lineno)
        yield lineno, line


def fields(line: str) -> list[str]:
    """Fields of a whitespace-separated line (ASCII whitespace only)."""
    return FIELD.findall(line)


def parse_number(
    path: Path, lineno: int | None, token: str, what: str, error: ErrorClass, not_finite: str = "is not finite"
) -> float:
    """A finite decimal number written in ASCII (no ``_``, no other scripts' digits).

    A ``nan``/``inf`` token, or one that overflows to infinity, is ``"{what} {token!r} {not_finite}"``.
    """
    if len(token) > MAX_NUMBER_CHARS:
        raise error(
            path, f"{what} {short(token)} has {len(token)} characters; a number may have at most {MAX_NUMBER_CHARS}",
            line=lineno,
        )
    if NON_FINITE.fullmatch(token):
        raise error(path, f"{what} {token!r} {not_finite}", line=lineno)
    if not NUMBER.fullmatch(token):
        raise error(path, f"{what} {short(token)} is not a number", line=lineno)
    value = float(token)
    if not math.isfinite(value):
        raise error(path, f"{what} {token!r} {not_finite}", line=lineno)
    return value


def json_float(value: object) -> float | None:
    """The value as a finite float if it is a JSON number (not a boolean, not a string), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        x = float(value)
    except OverflowError:
        return None
    return x if math.isfinite(x) else None


def json_too_deep(text: str) -> int | None:
    """Line at which the JSON nesting first exceeds :data:`MAX_JSON_DEPTH`, or None.

    A cheap scan (brackets outside strings) before parsing, so deep nesting never reaches the
    recursive parser; it only runs on text with many brackets.
    """
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return None
    depth, line = 0, 1
    for match in _JSON_NEST.finditer(text):
        c = match.group()
        if c == "\n":
            line += 1
        elif c in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return line
        elif c in "]}":
            depth -= 1
    return None


def load_json(path: Path, text: str, error: ErrorClass) -> Any:
    """Parse JSON, turning every failure (syntax, depth, huge integers) into a located error."""
    depth_line = json_too_deep(text)
    if depth_line is not None:
        raise error(path, f"JSON nested deeper than {MAX_JSON_DEPTH} levels", line=depth_line)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    except RecursionError:
        raise error(path, f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        match = re.search(r"[0-9]{%d,}" % (MAX_NUMBER_CHARS + 1), text)
        line = text.count("\n", 0, match.start()) + 1 if match else None
        raise error(path, f"invalid JSON: a number is too long ({exc})", line=line) from None


def json_key_line(text: str, key: str) -> int | None:
    """Line of the first ``"key":`` in the text (for errors about a scalar value)."""
    match = re.search(r'"%s"\s*:' % re.escape(key), text)
    return None if match is None else text.count("\n", 0, match.start()) + 1


def json_item_line(text: str, key: str | None, index: int, or_key_line: bool = False) -> int | None:
    """Line of item ``index`` of a JSON array: the top-level one (``key`` None) or the first ``"key": [``.

    Only called on the error path, on text that already parsed, to say where a bad item is.
    No such array: None. An array that ends (or stops parsing) before the item: None, or the
    key's line with ``or_key_line``.
    """
    if key is None:
        match = re.match(r"\s*\[", text)
    else:
        match = re.search(r'"%s"\s*:\s*\[' % re.escape(key), text)
    if match is None:
        return None
    pos, i = match.end(), 0
    while True:
        pos = _JSON_GAP.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= len(text) or text[pos] == "]":
            break
        if i == index:
            return text.count("\n", 0, pos) + 1
        try:
            _, pos = _JSON.raw_decode(text, pos)
        except (ValueError, RecursionError):
            break
        i += 1
    return json_key_line(text, key) if or_key_line and key is not None else None


def json_numbers(
    path: Path,
    text: str,
    values: object,
    key: str,
    error: ErrorClass,
    message: str,
    or_key_line: bool = False,
    check: Callable[[int, float], None] | None = None,
) -> np.ndarray:
    """``values`` (the JSON value of ``key``), a non-empty list of finite JSON numbers, as an array.

    Not a non-empty list: ``message`` at the key's line. A bad item: ``key[i]=... is not a
    finite number`` at its line (see :func:`json_item_line` for ``or_key_line``). ``check(i, x)``
    may raise for an item in range order, before later items are looked at.
    """
    if not isinstance(values, list) or not values:
        raise error(path, message, line=json_key_line(text, key))
    out = np.empty(len(values))
    for i, v in enumerate(values):
        x = json_float(v)
        if x is None:
            raise error(
                path, f"{key}[{i}]={short(v)} is not a finite number", line=json_item_line(text, key, i, or_key_line)
            )
        if check is not None:
            check(i, x)
        out[i] = x
    return out
