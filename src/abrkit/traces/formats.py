"""Readers and writers for network-trace file formats, with format detection.

Each format registers a reader (``path -> Trace``), a writer (``(Trace, path) -> None``) and a
sniffer (``first bytes -> bool``) in :data:`FORMATS`. :func:`read_trace` detects the format from
the content when ``format`` is not given; formats that cannot be told apart by content need it
named explicitly.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..errors import ParameterError, TraceFormatError
from ._core import Trace

__all__ = ["FORMATS", "TraceFormat", "read_trace", "write_trace", "load_traces", "detect_format"]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class TraceFormat:
    name: str
    description: str
    read: Callable[[Path], Trace]
    write: Callable[[Trace, Path], None]
    sniff: Callable[[str], bool] | None  # None: never auto-detected, must be named


FORMATS: dict[str, TraceFormat] = {}


def register(fmt: TraceFormat) -> TraceFormat:
    FORMATS[fmt.name] = fmt
    return fmt


def _read_text(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TraceFormatError(path, "no such file") from None
    except IsADirectoryError:
        raise TraceFormatError(path, "is a directory, not a trace file") from None
    except UnicodeDecodeError as exc:
        raise TraceFormatError(path, f"not a text file ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise TraceFormatError(path, "empty file: a trace needs at least one period")
    return text


def _build(path: Path, **kwargs: object) -> Trace:
    """Construct a Trace, turning validation errors into file-located errors."""
    try:
        return Trace(name=path.name, **kwargs)  # type: ignore[arg-type]
    except ParameterError as exc:
        raise TraceFormatError(path, str(exc)) from None


def _parse_number(path: Path, lineno: int, token: str, what: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise TraceFormatError(path, f"{what} {token!r} is not a number", line=lineno) from None
    if not np.isfinite(value):
        raise TraceFormatError(path, f"{what} {token!r} is not finite", line=lineno)
    return value


# -- Pensieve "cooked": one `time_s bandwidth_Mbps` pair per line -----------------------------


def _read_cooked(path: Path) -> Trace:
    times: list[float] = []
    bws: list[float] = []
    for lineno, line in enumerate(_read_text(path).splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise TraceFormatError(path, f"expected 2 columns 'time_s bandwidth_Mbps', got {len(parts)}", line=lineno)
        t = _parse_number(path, lineno, parts[0], "time_s")
        bw = _parse_number(path, lineno, parts[1], "bandwidth_Mbps")
        if bw < 0:
            raise TraceFormatError(path, f"bandwidth_Mbps {bw!r} is negative", line=lineno)
        if times and t <= times[-1]:
            raise TraceFormatError(path, f"time_s {t!r} is not after the previous {times[-1]!r}", line=lineno)
        times.append(t)
        bws.append(bw)
    # Mbps * 1e6 in one multiplication, as Pensieve does, so simulations match it bit for bit.
    return _build(path, time_s=np.array(times), bandwidth_bps=np.array(bws) * 1e6)


def _write_cooked(trace: Trace, path: Path) -> None:
    lines = [f"{t!r}\t{bw / 1e6!r}" for t, bw in zip(trace.time_s.tolist(), trace.bandwidth_bps.tolist())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _sniff_cooked(head: str) -> bool:
    for line in head.splitlines()[:5]:
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            return False
        try:
            float(parts[0]), float(parts[1])
        except ValueError:
            return False
    return bool(head.strip())


register(TraceFormat("cooked", "Pensieve cooked: 'time_s bandwidth_Mbps' per line", _read_cooked, _write_cooked, _sniff_cooked))


# -- Sabre network JSON: [{duration_ms, bandwidth_kbps, latency_ms}, ...] --------------------


def _read_sabre(path: Path) -> Trace:
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceFormatError(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(data, list) or not data:
        raise TraceFormatError(path, "Sabre network JSON must be a non-empty list of periods")
    dur, bw, lat = [], [], []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise TraceFormatError(path, f"period {i} is not an object")
        for key, out in (("duration_ms", dur), ("bandwidth_kbps", bw), ("latency_ms", lat)):
            if key not in entry:
                raise TraceFormatError(path, f"period {i} has no {key!r}")
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise TraceFormatError(path, f"period {i}: {key}={value!r} is not a finite number")
            if value < 0 or (key == "duration_ms" and value <= 0):
                raise TraceFormatError(path, f"period {i}: {key}={value!r} must be {'> 0' if key == 'duration_ms' else '>= 0'}")
            out.append(float(value))
    try:
        trace = Trace.from_durations(
            np.array(dur) / 1e3, np.array(bw) * 1e3, latency_s=np.array(lat) / 1e3, name=path.name
        )
    except ParameterError as exc:
        raise TraceFormatError(path, str(exc)) from None
    return trace


def _write_sabre(trace: Trace, path: Path) -> None:
    lat = trace.latency_s if trace.latency_s is not None else np.zeros(trace.n_periods)
    records = [
        {"duration_ms": _num(d * 1e3), "bandwidth_kbps": _num(b / 1e3), "latency_ms": _num(l * 1e3)}
        for d, b, l in zip(trace.duration_s.tolist(), trace.bandwidth_bps.tolist(), lat.tolist())
    ]
    body = ",\n".join("    " + json.dumps(r) for r in records)
    path.write_text("[\n" + body + "\n]\n", encoding="utf-8")


def _num(x: float) -> float | int:
    """Write integers without a trailing .0 (Sabre's files hold integers)."""
    r = round(x, 9)
    return int(r) if r == int(r) else r


def _sniff_sabre(head: str) -> bool:
    s = head.lstrip()
    return s.startswith("[") and "duration_ms" in head and "bandwidth_kbps" in head


register(TraceFormat("sabre", "Sabre network JSON: [{duration_ms, bandwidth_kbps, latency_ms}]", _read_sabre, _write_sabre, _sniff_sabre))


# -- dispatch ---------------------------------------------------------------------------------


def _check_format(format: str) -> TraceFormat:
    try:
        return FORMATS[format]
    except KeyError:
        raise ParameterError("format", format, f"unknown trace format; known: {', '.join(sorted(FORMATS))}") from None


def detect_format(path: PathLike) -> str:
    """Name of the format of ``path`` judged from its content; raises if none matches."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            raw = fh.read(8192)
    except FileNotFoundError:
        raise TraceFormatError(p, "no such file") from None
    except IsADirectoryError:
        raise TraceFormatError(p, "is a directory, not a trace file") from None
    if not raw.strip():
        raise TraceFormatError(p, "empty file: a trace needs at least one period")
    head = raw.decode("utf-8", errors="replace")
    for fmt in FORMATS.values():
        if fmt.sniff is not None and fmt.sniff(head):
            return fmt.name
    named = ", ".join(sorted(f.name for f in FORMATS.values() if f.sniff is None))
    raise TraceFormatError(
        p, f"unknown trace format: content matches none of {', '.join(sorted(FORMATS))}"
        + (f" (formats that must be named explicitly: {named})" if named else "")
    )


def read_trace(path: PathLike, format: str | None = None) -> Trace:
    """Read one trace file; ``format`` is detected from the content when not given."""
    p = Path(path)
    name = format if format is not None else detect_format(p)
    return _check_format(name).read(p)


def write_trace(trace: Trace, path: PathLike, format: str) -> None:
    """Write ``trace`` to ``path`` in ``format`` (values quantized to what the format stores)."""
    _check_format(format).write(trace, Path(path))


def load_traces(paths: PathLike | Iterable[PathLike], format: str | None = None) -> list[Trace]:
    """Read trace files and directories (their files, sorted by name, hidden files skipped).

    The order is deterministic: arguments in the order given, each directory's files sorted.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            found = sorted(c for c in p.iterdir() if c.is_file() and not c.name.startswith("."))
            if not found:
                raise TraceFormatError(p, "directory holds no trace files")
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            raise TraceFormatError(p, "no such file or directory")
    return [read_trace(f, format) for f in files]


