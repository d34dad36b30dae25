"""Readers and writers for network-trace file formats, with format detection.

Each format registers a reader (``path -> Trace``), a writer (``(Trace, path) -> None``) and a
sniffer (``first bytes -> bool``) in :data:`FORMATS`. :func:`read_trace` detects the format from
the content when ``format`` is not given; formats that cannot be told apart by content need it
named explicitly. Sniffers run from the most specific format to the most generic (``cooked``,
which accepts any two numeric columns, goes last), so detection does not depend on the order in
which formats were registered.

Formats
-------
``cooked``
    Pensieve's cooked traces: one ``time_s bandwidth_Mbps`` pair per line. ``end_s`` is not
    stored (the reader infers it from the last step).
``sabre``
    Sabre's network JSON: ``[{"duration_ms", "bandwidth_kbps", "latency_ms"}, ...]``. Times are
    stored as durations, so a trace written here starts at 0 when read back.
``genet``
    The JSON that Genet's ``AbrTrace.dump`` writes (GenetProject/Genet,
    ``src/simulator/abr_simulator/abr_trace.py``): ``{"timestamps": [s], "bandwidths": [Mbps],
    "link_rtt": ms, "buffer_thresh": ms, "name": str}``. Genet's network-simulator traces
    (``{"timestamps", "bandwidths", "delays": one-way ms, "loss", "queue"}``) are read too.
``mahimahi``
    mm-link packet-delivery traces: one integer millisecond timestamp per line, each line one
    1500-byte delivery opportunity; the file loops with a period equal to its last timestamp.
``norway-raw``, ``belgium-raw``
    The raw six-column logs of the Norway 3G/HSDPA dataset (Riiser et al., MMSys 2013) and of
    the Belgium 4G/LTE dataset (van der Hooft et al., IEEE Commun. Lett. 2016). Columns: unix
    time (seconds in Norway, milliseconds in Belgium), milliseconds since the start of the
    experiment, GPS latitude, GPS longitude, bytes received since the previous line,
    milliseconds since the previous line.
``csv``
    A CSV file with a header naming the columns and their units (see :func:`_read_csv`).

Every reader names the file, and the line where there is one, in its :class:`TraceFormatError`.

Limits
------
Every reader turns every malformed input into a :class:`TraceFormatError` (never another
exception) in time and memory that follow the file's size. Values must be finite and within
physical bounds, far above anything a real trace holds:

* bandwidth <= 1 Tbit/s (:data:`MAX_BANDWIDTH_BPS`), >= 0;
* every time (period start, duration, end, a raw log's ``ms_since_start`` and ``elapsed_ms``,
  a mahimahi timestamp) <= 1e7 s, about 116 days (:data:`MAX_TIME_S`);
* every period lasts at least 1 microsecond (:data:`MIN_PERIOD_S`);
* latency <= 3600 s (:data:`MAX_LATENCY_S`), >= 0;
* a raw log's unix time between 0 and 1e11 s (the year 5138), its ``elapsed_ms`` >= 0.001.

Input size is bounded too: files up to 1 GiB, lines (and so CSV fields) up to 64 KiB, numbers
up to 100 characters (ASCII digits, sign, point, exponent: no ``_``, no ``nan``/``inf``), JSON
nested up to 100 levels. In JSON, booleans and strings are never numbers. A UTF-8 byte-order
mark is accepted in every format; line numbers count ``\\n``, ``\\r\\n`` and ``\\r`` line ends, as
editors do (form feeds and Unicode line separators do not end a line).
A mahimahi trace whose bins outnumber 1,000,000 keeps each run of empty bins as one
zero-bandwidth period, so a single far timestamp costs no memory.
"""

from __future__ import annotations

import csv
import inspect
import json
import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from .._textread import MAX_FILE_BYTES, MAX_JSON_DEPTH, MAX_LINE_CHARS, MAX_NUMBER_CHARS  # noqa: F401 (public here too)
from .._textread import NUMBER as _NUMBER, fields as _fields, json_float as _json_float, short as _short
from .._textread import json_item_line as _json_item_line_of, json_key_line as _json_key_line, json_numbers as _json_numbers
from .._textread import lines as _text_lines, load_json as _parse_json, parse_number as _parse_ascii_number
from .._textread import read_text as _read_file_text
from ..errors import ParameterError, TraceFormatError
from ._core import Trace

__all__ = [
    "FORMATS",
    "TraceFormat",
    "read_trace",
    "write_trace",
    "load_traces",
    "trace_files",
    "detect_format",
    "MAHIMAHI_PACKET_BYTES",
    "TraceSkippedWarning",
    "MAX_BANDWIDTH_BPS",
    "MAX_TIME_S",
    "MAX_LATENCY_S",
    "MIN_PERIOD_S",
]

PathLike = str | os.PathLike[str]

#: Bytes one line of a mahimahi trace may deliver (one MTU-sized packet).
MAHIMAHI_PACKET_BYTES = 1500


@dataclass(frozen=True)
class TraceFormat:
    """One file format: how to read, write and recognise it.

    ``read`` and ``write`` may take keyword options after the path (``bin_ms`` for mahimahi);
    :func:`read_trace` and :func:`write_trace` pass them through. ``priority`` orders content
    detection: sniffers of higher priority run first, so specific formats are tried before
    generic ones.
    """

    name: str
    description: str
    read: Callable[..., Trace]
    write: Callable[..., None]
    sniff: Callable[[str], bool] | None  # None: never auto-detected, must be named
    priority: int = 0
    extension: str = ""  # file-name suffix for files written in this format ("" for none)


FORMATS: dict[str, TraceFormat] = {}


def register(fmt: TraceFormat) -> TraceFormat:
    FORMATS[fmt.name] = fmt
    return fmt


# -- limits -----------------------------------------------------------------------------------
# Every reader enforces these, so that no file, however malformed, costs unbounded time or memory
# or yields a trace that simulators cannot use. They are far above anything a real trace holds.

#: Largest bandwidth a trace may hold: 1 Tbit/s.
MAX_BANDWIDTH_BPS = 1e12
#: Largest time a trace may hold (period start, duration, end, ms_since_start): 1e7 s, about 116 days.
MAX_TIME_S = 1e7
#: Shortest period a trace may hold: 1 microsecond.
MIN_PERIOD_S = 1e-6
#: Largest request latency: one hour.
MAX_LATENCY_S = 3600.0
# MAX_FILE_BYTES (1 GiB), MAX_LINE_CHARS (64 KiB: cooked, mahimahi, raw logs, CSV; a CSV field
# included), MAX_NUMBER_CHARS (100) and MAX_JSON_DEPTH (100; trace JSON needs 3 levels) come from
# abrkit._textread, shared with the video readers, and stay importable from here.
#: Latest unix time in a raw log: 1e11 s (the year 5138).
_MAX_UNIX_S = 1e11
#: Shortest ``elapsed_ms`` of a raw log line: 1 microsecond (the logs hold whole milliseconds).
_MIN_ELAPSED_MS = 1e-3
#: Above this many bins a mahimahi trace keeps each run of empty bins as one zero-bandwidth period.
_MAX_MAHIMAHI_BINS = 1_000_000

_LIMITS_TEXT = {
    "bandwidth": "1 Tbit/s",
    "time": "1e7 s (about 116 days)",
    "latency": "3600 s",
}
_LIMIT_UNITS = {"bandwidth": "bit/s", "time": "s", "latency": "s"}


# -- shared helpers -------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    """The file's text (UTF-8, an optional byte-order mark dropped), within :data:`MAX_FILE_BYTES`."""
    text = _read_file_text(path, TraceFormatError, "trace file", "a trace")
    if not text.strip():
        raise TraceFormatError(path, "empty file: a trace needs at least one period")
    return text


def _lines(path: Path, text: str) -> Iterable[tuple[int, str]]:
    """(1-based line number, line) of every line; see :func:`abrkit._textread.lines`."""
    return _text_lines(path, text, TraceFormatError)


def _parse_number(path: Path, lineno: int | None, token: str, what: str) -> float:
    """A finite decimal number written in ASCII (no ``_``, no other scripts' digits)."""
    return _parse_ascii_number(path, lineno, token, what, TraceFormatError)


def _check_max(path: Path, lineno: int | None, what: str, value: float, limit: float, kind: str) -> None:
    """``value`` (in SI units) must not exceed ``limit``; ``kind`` names the documented limit."""
    if value > limit:
        raise TraceFormatError(
            path, f"{what} is {value:.6g} {_LIMIT_UNITS[kind]}, above the limit of {_LIMITS_TEXT[kind]}", line=lineno
        )


def _head_lines(head: str, limit: int = 20) -> list[str]:
    """The first complete, non-blank lines of a sniffed head."""
    if "\r" in head:
        head = head.replace("\r\n", "\n").replace("\r", "\n")
    lines = head.split("\n")
    if len(lines) > 1 and not head.endswith("\n"):
        lines = lines[:-1]  # the read may have cut the last line short
    return [line for line in lines if line.strip()][:limit]


def _numeric_rows(head: str, columns: int, limit: int = 10) -> list[list[float]] | None:
    """Rows of ``columns`` finite numbers from the head, or None if any line is not one."""
    rows = []
    for line in _head_lines(head, limit):
        parts = _fields(line)
        if len(parts) != columns:
            return None
        if not all(len(p) <= MAX_NUMBER_CHARS and _NUMBER.fullmatch(p) for p in parts):
            return None
        row = [float(p) for p in parts]
        if not all(math.isfinite(x) for x in row):
            return None
        rows.append(row)
    return rows or None


def _load_json(path: Path, text: str) -> Any:
    """Parse JSON, turning every failure (syntax, depth, huge integers) into a located error."""
    return _parse_json(path, text, TraceFormatError)


def _json_line(text: str, key: str | None, index: int) -> int | None:
    """Line of item ``index`` of the top-level array (``key`` None) or of ``key``'s, else None."""
    return _json_item_line_of(text, key, index)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _build(path: Path, **kwargs: Any) -> Trace:
    """Construct a Trace, turning validation errors into file-located errors.

    Also applies the documented limits to the whole trace (bandwidth, total length, latency),
    whatever the format.
    """
    try:
        trace = Trace(name=path.name, **kwargs)
    except ParameterError as exc:
        raise TraceFormatError(path, str(exc)) from None
    return _check_trace_limits(path, trace)


def _check_trace_limits(path: Path, trace: Trace) -> Trace:
    peak = float(trace.bandwidth_bps.max())
    if peak > MAX_BANDWIDTH_BPS:
        i = int(np.argmax(trace.bandwidth_bps))
        raise TraceFormatError(
            path, f"period {i} has a bandwidth of {peak:.6g} bit/s, above the limit of {_LIMITS_TEXT['bandwidth']}"
        )
    if float(trace.end_s) > MAX_TIME_S:  # type: ignore[arg-type]
        raise TraceFormatError(path, f"the trace ends at {float(trace.end_s):.6g} s, above the limit of {_LIMITS_TEXT['time']}")  # type: ignore[arg-type]
    short = trace.duration_s < MIN_PERIOD_S
    if np.any(short):
        i = int(np.flatnonzero(short)[0])
        raise TraceFormatError(
            path, f"period {i} lasts {float(trace.duration_s[i]):.6g} s, below the limit of {MIN_PERIOD_S:g} s (1 microsecond)"
        )
    if trace.latency_s is not None and trace.latency_s.size and float(trace.latency_s.max()) > MAX_LATENCY_S:
        i = int(np.argmax(trace.latency_s))
        raise TraceFormatError(
            path, f"period {i} has a latency of {float(trace.latency_s[i]):.6g} s, above the limit of {_LIMITS_TEXT['latency']}"
        )
    return trace


# -- Pensieve "cooked": one `time_s bandwidth_Mbps` pair per line -----------------------------


def _read_cooked(path: Path) -> Trace:
    times: list[float] = []
    bws: list[float] = []
    for lineno, line in _lines(path, _read_text(path)):
        parts = _fields(line)
        if not parts:
            continue
        if len(parts) != 2:
            raise TraceFormatError(path, f"expected 2 columns 'time_s bandwidth_Mbps', got {len(parts)}", line=lineno)
        t = _parse_number(path, lineno, parts[0], "time_s")
        bw = _parse_number(path, lineno, parts[1], "bandwidth_Mbps")
        if t < 0:
            raise TraceFormatError(path, f"time_s {t!r} is negative", line=lineno)
        if bw < 0:
            raise TraceFormatError(path, f"bandwidth_Mbps {bw!r} is negative", line=lineno)
        _check_max(path, lineno, f"time_s {parts[0]}", t, MAX_TIME_S, "time")
        _check_max(path, lineno, f"bandwidth_Mbps {parts[1]}", bw * 1e6, MAX_BANDWIDTH_BPS, "bandwidth")
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
    return _numeric_rows(head, 2, limit=5) is not None


register(
    TraceFormat(
        "cooked", "Pensieve cooked: 'time_s bandwidth_Mbps' per line", _read_cooked, _write_cooked, _sniff_cooked, priority=0
    )
)


# -- Sabre network JSON: [{duration_ms, bandwidth_kbps, latency_ms}, ...] --------------------


_SABRE_LIMITS = {  # key -> (scale to SI units, limit, kind)
    "duration_ms": (1e-3, MAX_TIME_S, "time"),
    "bandwidth_kbps": (1e3, MAX_BANDWIDTH_BPS, "bandwidth"),
    "latency_ms": (1e-3, MAX_LATENCY_S, "latency"),
}


def _read_sabre(path: Path) -> Trace:
    text = _read_text(path)
    data = _load_json(path, text)
    if not isinstance(data, list) or not data:
        raise TraceFormatError(path, "Sabre network JSON must be a non-empty list of periods")
    dur, bw, lat = [], [], []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise TraceFormatError(path, f"period {i} is not an object", line=_json_line(text, None, i))
        for key, out in (("duration_ms", dur), ("bandwidth_kbps", bw), ("latency_ms", lat)):
            if key not in entry:
                raise TraceFormatError(path, f"period {i} has no {key!r}", line=_json_line(text, None, i))
            value = entry[key]
            x = _json_float(value)
            if x is None:
                raise TraceFormatError(
                    path, f"period {i}: {key}={_short(value)} is not a finite number", line=_json_line(text, None, i)
                )
            if x < 0 or (key == "duration_ms" and x <= 0):
                rule = "> 0" if key == "duration_ms" else ">= 0"
                raise TraceFormatError(path, f"period {i}: {key}={_short(value)} must be {rule}", line=_json_line(text, None, i))
            scale, limit, kind = _SABRE_LIMITS[key]
            if x * scale > limit:
                _check_max(path, _json_line(text, None, i), f"period {i}: {key}={_short(value)}", x * scale, limit, kind)
            out.append(x)
    try:
        trace = Trace.from_durations(
            np.array(dur) / 1e3, np.array(bw) * 1e3, latency_s=np.array(lat) / 1e3, name=path.name
        )
    except ParameterError as exc:
        raise TraceFormatError(path, str(exc)) from None
    return _check_trace_limits(path, trace)


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


register(
    TraceFormat(
        "sabre",
        "Sabre network JSON: [{duration_ms, bandwidth_kbps, latency_ms}]",
        _read_sabre,
        _write_sabre,
        _sniff_sabre,
        priority=100, extension=".json",
    )
)


# -- Genet ABR trace JSON: {timestamps: [s], bandwidths: [Mbps], link_rtt: ms, ...} ----------

#: Genet's default playback buffer (60 s), written in ms as its ``AbrTrace.dump`` stores it.
_GENET_BUFFER_THRESH_MS = 60000.0


def _genet_array(path: Path, text: str, data: dict, key: str) -> np.ndarray:
    if key not in data:
        raise TraceFormatError(path, f"Genet trace JSON has no {key!r}")
    return _json_numbers(
        path, text, data[key], key, TraceFormatError, f"{key!r} must be a non-empty list of numbers"
    )


def _genet_scalar(path: Path, text: str, data: dict, key: str, limit: float, scale: float, kind: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    x = _json_float(value)
    if x is None or x < 0:
        raise TraceFormatError(path, f"{key}={_short(value)} must be a finite number >= 0", line=_json_key_line(text, key))
    _check_max(path, _json_key_line(text, key), f"{key}={_short(value)}", x * scale, limit, kind)
    return x


def _read_genet(path: Path) -> Trace:
    """Read Genet's trace JSON.

    ``timestamps`` (s) are period starts and ``bandwidths`` (Mbps) their rates, as in Pensieve's
    cooked traces; ``link_rtt`` (ms) becomes every period's latency. For Genet's
    network-simulator traces, ``delays`` (one-way, ms; a number or one per timestamp) becomes a
    latency of twice the delay (one round trip before the first byte). An ``end_s`` key, which
    abrkit writes and Genet ignores, sets the end of the last period.
    """
    text = _read_text(path)
    data = _load_json(path, text)
    if not isinstance(data, dict):
        raise TraceFormatError(path, "Genet trace JSON must be an object with 'timestamps' and 'bandwidths'")
    t = _genet_array(path, text, data, "timestamps")
    bw = _genet_array(path, text, data, "bandwidths")
    if t.size != bw.size:
        raise TraceFormatError(path, f"'timestamps' has {t.size} values but 'bandwidths' has {bw.size}")
    t_list, bw_list = t.tolist(), bw.tolist()  # plain floats for the messages
    for i in range(t.size):
        if t_list[i] < 0:
            raise TraceFormatError(path, f"timestamps[{i}]={t_list[i]!r} is negative", line=_json_line(text, "timestamps", i))
        if t_list[i] > MAX_TIME_S:
            _check_max(path, _json_line(text, "timestamps", i), f"timestamps[{i}]", t_list[i], MAX_TIME_S, "time")
        if i and t_list[i] <= t_list[i - 1]:
            raise TraceFormatError(
                path,
                f"timestamps[{i}]={t_list[i]!r} is not after the previous {t_list[i - 1]!r}",
                line=_json_line(text, "timestamps", i),
            )
        if bw_list[i] < 0:
            raise TraceFormatError(path, f"bandwidths[{i}]={bw_list[i]!r} is negative", line=_json_line(text, "bandwidths", i))
        if bw_list[i] * 1e6 > MAX_BANDWIDTH_BPS:
            _check_max(path, _json_line(text, "bandwidths", i), f"bandwidths[{i}] (Mbps)", bw_list[i] * 1e6, MAX_BANDWIDTH_BPS, "bandwidth")
    latency = None
    rtt_ms = _genet_scalar(path, text, data, "link_rtt", MAX_LATENCY_S, 1e-3, "latency")
    if rtt_ms is not None:
        latency = np.full(t.size, rtt_ms / 1e3)
    elif data.get("delays") is not None:
        delays = data["delays"]
        if _is_number(delays):
            delays = [delays] * t.size
        if not isinstance(delays, list) or len(delays) != t.size:
            raise TraceFormatError(
                path, f"'delays' must be a number or a list of {t.size} numbers (one per timestamp)",
                line=_json_key_line(text, "delays"),
            )
        d = np.array([_num_or_nan(v) for v in delays])
        bad = ~np.isfinite(d) | (d < 0)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise TraceFormatError(
                path, f"delays[{i}]={_short(delays[i])} must be a finite number >= 0",
                line=_json_line(text, "delays", i) or _json_key_line(text, "delays"),
            )
        latency = 2.0 * d / 1e3
    end_s = None
    if "end_s" in data:
        end_s = _genet_scalar(path, text, data, "end_s", MAX_TIME_S, 1.0, "time")
    meta = {"format": "genet"}
    for key in ("name", "buffer_thresh", "loss", "queue"):
        if key in data:
            meta[f"genet_{key}"] = data[key]
    # Mbps * 1e6 in one multiplication, like the cooked reader.
    return _build(path, time_s=t, bandwidth_bps=bw * 1e6, end_s=end_s, latency_s=latency, meta=meta)


def _num_or_nan(value: object) -> float:
    x = _json_float(value)
    return float("nan") if x is None else x


def _write_genet(trace: Trace, path: Path) -> None:
    """Write Genet's ``AbrTrace`` JSON (loadable by ``AbrTrace.load_from_file``).

    Genet has one ``link_rtt`` per trace: the time-weighted mean latency is written (0 for a
    trace without latency). ``buffer_thresh`` is Genet's 60 s default, in the ms its ``dump``
    writes. ``end_s`` is an extra key that Genet ignores and abrkit reads back.
    """
    if trace.latency_s is None:
        rtt_ms = 0.0
    else:
        d = trace.duration_s
        rtt_ms = float(np.dot(d, trace.latency_s) / d.sum()) * 1e3
    data = {
        "timestamps": trace.time_s.tolist(),
        "bandwidths": (trace.bandwidth_bps / 1e6).tolist(),
        "link_rtt": rtt_ms,
        "buffer_thresh": _GENET_BUFFER_THRESH_MS,
        "name": trace.name,
        "end_s": float(trace.end_s),  # type: ignore[arg-type]
    }
    path.write_text(json.dumps(data, indent=4) + "\n", encoding="utf-8")


def _sniff_genet(head: str) -> bool:
    # Genet writes "timestamps" first; "bandwidths" may lie beyond the sniffed head.
    return head.lstrip().startswith("{") and '"timestamps"' in head


register(
    TraceFormat(
        "genet",
        "Genet trace JSON: {timestamps: [s], bandwidths: [Mbps], link_rtt: ms}",
        _read_genet,
        _write_genet,
        _sniff_genet,
        priority=100, extension=".json",
    )
)


# -- mahimahi: one millisecond timestamp per line, each a 1500-byte delivery opportunity -----


def _read_mahimahi(path: Path, bin_ms: int = 1000) -> Trace:
    """Read an mm-link trace, binning its delivery opportunities into periods of ``bin_ms``.

    Period ``k`` covers the milliseconds ``(k * bin_ms, (k + 1) * bin_ms]``: an opportunity
    stamped ``t`` counts in the period holding the millisecond that ends at ``t`` (``t = 0``
    counts in the first). The trace ends at the last timestamp, which mahimahi uses as the loop
    period, so the last period may be shorter than ``bin_ms``. Bandwidth is the bytes of the
    period's opportunities over its length; total bytes are preserved exactly.
    """
    if isinstance(bin_ms, bool) or not isinstance(bin_ms, (int, np.integer)) or bin_ms < 1:
        raise ParameterError("bin_ms", bin_ms, "must be an integer number of milliseconds >= 1")
    bin_ms = int(bin_ms)
    max_ms = int(MAX_TIME_S * 1e3)
    max_digits = len(str(max_ms))
    linenos: list[int] = []
    stamps: list[int] = []
    previous = 0
    for lineno, line in _lines(path, _read_text(path)):
        token = line.strip(" \t\r\f\v")
        if not token:
            continue
        if not (token.isdigit() and token.isascii() and len(token) <= max_digits):
            parts = _fields(token)
            if len(parts) != 1:
                raise TraceFormatError(path, f"expected 1 column (a millisecond timestamp), got {len(parts)}", line=lineno)
            digits = token[1:] if token[:1] in "+-" else token
            if not (digits.isdigit() and digits.isascii()):
                raise TraceFormatError(
                    path, f"timestamp {_short(token)} is not an integer number of milliseconds", line=lineno
                )
            if token.startswith("-") and digits.strip("0"):
                shown = token if len(token) <= 40 else _short(token)
                raise TraceFormatError(path, f"timestamp {shown} is negative", line=lineno)
            if len(digits.lstrip("0")) > max_digits:
                raise TraceFormatError(
                    path, f"timestamp {token if len(token) <= 40 else _short(token)} is above the limit of {max_ms} ms, "
                    f"{_LIMITS_TEXT['time']}",
                    line=lineno,
                )
        value = int(token)
        if value > max_ms:
            raise TraceFormatError(
                path, f"timestamp {value} is above the limit of {max_ms} ms, {_LIMITS_TEXT['time']}", line=lineno
            )
        if value < previous:
            raise TraceFormatError(
                path, f"timestamp {value} is before the previous {previous} (timestamps must be non-decreasing)", line=lineno
            )
        previous = value
        linenos.append(lineno)
        stamps.append(value)
    ms = np.array(stamps, dtype=np.int64)
    total_ms = int(ms[-1])
    if total_ms <= 0:
        raise TraceFormatError(
            path, "the last timestamp must be > 0 ms (mahimahi loops the trace with that period)", line=linenos[-1]
        )
    bins = np.maximum(ms - 1, 0) // bin_ms  # non-decreasing
    n_bins = (total_ms - 1) // bin_ms + 1
    if n_bins <= _MAX_MAHIMAHI_BINS:
        counts = np.bincount(bins, minlength=n_bins)
        starts_ms = np.arange(n_bins, dtype=np.int64) * bin_ms
    else:
        # One period per occupied bin, one per run of empty bins: memory follows the file.
        occupied, per_bin = np.unique(bins, return_counts=True)
        gap = np.empty(occupied.size, dtype=bool)
        gap[0] = occupied[0] > 0
        gap[1:] = np.diff(occupied) > 1
        at = np.cumsum(1 + gap.astype(np.int64)) - 1  # index of each occupied bin's period
        starts_ms = np.empty(int(at[-1]) + 1, dtype=np.int64)
        counts = np.zeros(starts_ms.size, dtype=np.int64)
        starts_ms[at] = occupied * bin_ms
        counts[at] = per_bin
        gap_start = np.concatenate(([0], (occupied[:-1] + 1) * bin_ms))
        starts_ms[at[gap] - 1] = gap_start[gap]
    ends_ms = np.append(starts_ms[1:], total_ms)
    bw = counts * (MAHIMAHI_PACKET_BYTES * 8.0) / ((ends_ms - starts_ms) / 1e3)
    meta = {"format": "mahimahi", "bin_ms": bin_ms, "packets": int(ms.size)}
    return _build(path, time_s=starts_ms / 1e3, bandwidth_bps=bw, end_s=total_ms / 1e3, meta=meta)


def _write_mahimahi(trace: Trace, path: Path) -> None:
    """Write delivery opportunities that follow the trace's cumulative bytes.

    Up to each millisecond ``m`` (from 1 to the trace length, rounded to whole ms) the file
    holds as many lines as whole 1500-byte packets the trace has delivered by then, so
    fractions carry over and bytes are conserved to within one packet at every instant. The
    last millisecond always holds at least one opportunity, because mahimahi loops the file at
    its last timestamp: the total, rounded to the nearest packet (at least one), is reached
    exactly there, and any packet due earlier beyond ``total - 1`` waits for it. Time is taken
    from the trace's start (mahimahi traces start at 0) and latency is not stored.
    """
    edges_ms = (np.append(trace.time_s, trace.end_s) - trace.time_s[0]) * 1e3
    total_ms = int(round(float(edges_ms[-1])))
    if total_ms < 1:
        raise ParameterError("trace", trace.name or "<unnamed>", "lasts under 1 ms, which mahimahi cannot store")
    cum_bits = np.concatenate(([0.0], np.cumsum(trace.bandwidth_bps * trace.duration_s)))
    packet_bits = MAHIMAHI_PACKET_BYTES * 8.0
    total_packets = max(1, int(round(float(cum_bits[-1]) / packet_bits)))
    chunk_ms = 1 << 20  # bound memory on long traces
    prev = 0
    with open(path, "w", encoding="utf-8") as fh:
        for first in range(1, total_ms + 1, chunk_ms):
            ms = np.arange(first, min(first + chunk_ms, total_ms + 1), dtype=np.int64)
            # Tiny slack so values a hair under a whole packet from rounding still count.
            done = np.floor(np.interp(ms, edges_ms, cum_bits) / packet_bits + 1e-9).astype(np.int64)
            np.maximum.accumulate(done, out=done)
            np.minimum(done, total_packets - 1, out=done)
            if ms[-1] == total_ms:
                done[-1] = total_packets
            counts = np.diff(np.concatenate(([prev], done)))
            prev = int(done[-1])
            stamps = np.repeat(ms, counts)
            if stamps.size:
                fh.write("\n".join(map(str, stamps.tolist())) + "\n")


def _sniff_mahimahi(head: str) -> bool:
    lines = _head_lines(head, 50)
    if not lines or not all(
        line.strip().isdigit() and line.strip().isascii() and len(line.strip()) <= MAX_NUMBER_CHARS for line in lines
    ):
        return False
    values = [int(line) for line in lines]
    return all(b >= a for a, b in zip(values, values[1:]))


register(
    TraceFormat(
        "mahimahi",
        "mahimahi mm-link: one ms timestamp per 1500-byte delivery opportunity",
        _read_mahimahi,
        _write_mahimahi,
        _sniff_mahimahi,
        priority=50, extension=".trace",
    )
)


# -- raw Norway HSDPA / Belgium 4G logs: six columns per line ---------------------------------

_RAW_COLUMNS = "unix_time ms_since_start gps_lat gps_lon bytes elapsed_ms"
#: Placeholder start times for written logs: the first day of each measurement campaign.
_NORWAY_DEFAULT_START_S = 1284336000.0  # 2010-09-13 00:00 UTC
_BELGIUM_DEFAULT_START_S = 1450224000.0  # 2015-12-16 00:00 UTC


def _read_raw6(path: Path, fmt: str, unix_scale: float) -> Trace:
    """Read a six-column bandwidth log (Norway: unix seconds, Belgium: unix milliseconds).

    Line ``i`` reports ``bytes`` received during the ``elapsed_ms`` that end at its
    ``ms_since_start``. Its period runs from the previous line's ``ms_since_start`` (for the
    first line, its own minus ``elapsed_ms``) to its own, at ``bytes * 8 / (elapsed_ms / 1000)``
    bits per second, as the datasets' documentation prescribes. Times are rebased so the trace
    starts at 0. ``meta`` keeps ``unix_start_s`` (unix time of the trace's start) and the
    file's own columns (``unix_time``, ``lat_deg``, ``lon_deg``, ``start_ms``), so that writing
    the trace back in the same format reproduces the file.
    """
    rows: list[tuple[float, ...]] = []
    max_ms = MAX_TIME_S * 1e3
    for lineno, line in _lines(path, _read_text(path)):
        parts = _fields(line)
        if not parts:
            continue
        if len(parts) != 6:
            raise TraceFormatError(path, f"expected 6 columns '{_RAW_COLUMNS}', got {len(parts)}", line=lineno)
        unix_t, t_ms, lat, lon, nbytes, elapsed = (
            _parse_number(path, lineno, tok, what) for tok, what in zip(parts, _RAW_COLUMNS.split())
        )
        if nbytes < 0:
            raise TraceFormatError(path, f"bytes {nbytes!r} is negative", line=lineno)
        if elapsed <= 0:
            raise TraceFormatError(path, f"elapsed_ms {elapsed!r} must be > 0", line=lineno)
        if elapsed < _MIN_ELAPSED_MS:
            raise TraceFormatError(path, f"elapsed_ms {parts[5]} is below the limit of {_MIN_ELAPSED_MS:g} ms", line=lineno)
        if not 0 <= unix_t * unix_scale <= _MAX_UNIX_S:
            unit = "s" if unix_scale == 1.0 else "ms"
            raise TraceFormatError(
                path, f"unix_time {parts[0]} must be between 0 and {_MAX_UNIX_S / unix_scale:.0f} {unit} (the year 5138)",
                line=lineno,
            )
        if abs(t_ms) > max_ms:
            raise TraceFormatError(
                path, f"ms_since_start {parts[1]} is beyond the limit of {max_ms:.0f} ms ({_LIMITS_TEXT['time']})", line=lineno
            )
        _check_max(path, lineno, f"elapsed_ms {parts[5]} (in s)", elapsed / 1e3, MAX_TIME_S, "time")
        _check_max(
            path, lineno, f"bytes {parts[4]} over elapsed_ms {parts[5]}", nbytes * 8.0 / (elapsed / 1e3),
            MAX_BANDWIDTH_BPS, "bandwidth",
        )
        if rows and t_ms <= rows[-1][1]:
            raise TraceFormatError(path, f"ms_since_start {t_ms!r} is not after the previous {rows[-1][1]!r}", line=lineno)
        rows.append((unix_t, t_ms, lat, lon, nbytes, elapsed))
    a = np.array(rows, dtype=np.float64)
    end_ms = a[:, 1]
    start0 = end_ms[0] - a[0, 5]
    starts = np.concatenate(([start0], end_ms[:-1]))
    meta = {
        "format": fmt,
        "unix_start_s": float(a[0, 0] * unix_scale - a[0, 5] / 1e3),
        "unix_time": a[:, 0].copy(),
        "lat_deg": a[:, 2].copy(),
        "lon_deg": a[:, 3].copy(),
        "start_ms": float(start0),
    }
    return _build(
        path,
        time_s=(starts - start0) / 1e3,
        bandwidth_bps=a[:, 4] * 8.0 / (a[:, 5] / 1e3),
        end_s=(end_ms[-1] - start0) / 1e3,
        meta=meta,
    )


def _write_raw6(trace: Trace, path: Path, fmt: str, unix_ms: bool, default_start_s: float) -> None:
    """Write the six-column layout, one line per period, in whole ms and whole bytes.

    Bytes are rounded on the cumulative total, so rounding never accumulates. For a trace read
    from a log of the same format, the unix-time, GPS and start columns are the file's own
    (kept in ``meta``). Otherwise the unix time counts from the first day of the dataset's
    campaign (2010-09-13 for Norway, 2015-12-16 for Belgium), the GPS columns are the
    placeholder 0.0 and ``ms_since_start`` counts from 0. Latency is not stored.
    """
    edges_ms = np.rint((np.append(trace.time_s, trace.end_s) - trace.time_s[0]) * 1e3).astype(np.int64)
    elapsed = np.diff(edges_ms)
    if np.any(elapsed < 1):
        i = int(np.flatnonzero(elapsed < 1)[0])
        raise ParameterError(
            f"trace.duration_s[{i}]", float(trace.duration_s[i]), "must round to at least 1 ms for this format"
        )
    cum_bytes = np.rint(np.concatenate(([0.0], np.cumsum(trace.bandwidth_bps * trace.duration_s / 8.0))))
    nbytes = np.diff(cum_bytes).astype(np.int64)
    n = trace.n_periods
    meta = trace.meta
    own = meta.get("format") == fmt and all(
        isinstance(meta.get(key), np.ndarray) and meta[key].shape == (n,) for key in ("unix_time", "lat_deg", "lon_deg")
    )
    t_ms = edges_ms[1:]
    if own:
        lat, lon = meta["lat_deg"], meta["lon_deg"]
        unix = np.rint(meta["unix_time"]).astype(np.int64)
        t_ms = t_ms + int(round(meta.get("start_ms", 0.0)))
    else:
        lat = lon = np.zeros(n)
        if unix_ms:
            unix = np.rint(default_start_s * 1e3 + t_ms).astype(np.int64)
        else:
            unix = np.floor(default_start_s + t_ms / 1e3).astype(np.int64)
    lines = [
        f"{u} {t} {la!r} {lo!r} {b} {e}"
        for u, t, la, lo, b, e in zip(unix.tolist(), t_ms.tolist(), lat.tolist(), lon.tolist(), nbytes.tolist(), elapsed.tolist())
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _sniff_raw6(head: str, unix_ms: bool) -> bool:
    rows = _numeric_rows(head, 6)
    if rows is None:
        return False
    # Unix seconds are ~1e9 and unix milliseconds ~1e12; 1e11 s is the year 5138.
    if any((row[0] >= 1e11) != unix_ms for row in rows):
        return False
    return all(r[5] > 0 and r[4] >= 0 for r in rows) and all(b[1] > a[1] for a, b in zip(rows, rows[1:]))


def _read_norway(path: Path) -> Trace:
    return _read_raw6(path, "norway-raw", 1.0)


def _write_norway(trace: Trace, path: Path) -> None:
    _write_raw6(trace, path, "norway-raw", unix_ms=False, default_start_s=_NORWAY_DEFAULT_START_S)


def _read_belgium(path: Path) -> Trace:
    return _read_raw6(path, "belgium-raw", 1e-3)


def _write_belgium(trace: Trace, path: Path) -> None:
    _write_raw6(trace, path, "belgium-raw", unix_ms=True, default_start_s=_BELGIUM_DEFAULT_START_S)


register(
    TraceFormat(
        "norway-raw",
        "Norway HSDPA raw log: unix_s ms_since_start lat lon bytes elapsed_ms",
        _read_norway,
        _write_norway,
        lambda head: _sniff_raw6(head, unix_ms=False),
        priority=80, extension=".log",
    )
)
register(
    TraceFormat(
        "belgium-raw",
        "Belgium 4G/LTE raw log: unix_ms ms_since_start lat lon bytes elapsed_ms",
        _read_belgium,
        _write_belgium,
        lambda head: _sniff_raw6(head, unix_ms=True),
        priority=80, extension=".log",
    )
)


# -- CSV with a header: time_s,bandwidth_kbps[,latency_ms] ------------------------------------

_CSV_TIME = {"time_s": 1.0, "time_ms": 1e-3}
_CSV_DURATION = {"duration_s": 1.0, "duration_ms": 1e-3}
_CSV_BANDWIDTH = {"bandwidth_bps": 1.0, "bandwidth_kbps": 1e3, "bandwidth_mbps": 1e6}
_CSV_LATENCY = {"latency_s": 1.0, "latency_ms": 1e-3}
_CSV_END = re.compile(r"#\s*end_s\s*=\s*(\S+)\s*$")


def _read_csv(path: Path) -> Trace:
    """Read a CSV trace with a header row.

    Columns (names case-insensitive, in any order): exactly one time column, ``time_s`` or
    ``time_ms`` (period starts) or ``duration_s`` or ``duration_ms`` (period lengths, the
    first period starting at 0); exactly one of ``bandwidth_bps``, ``bandwidth_kbps``,
    ``bandwidth_mbps``; optionally ``latency_ms`` or ``latency_s``. Other columns are an error,
    so a unit is never guessed. Lines starting with ``#`` are comments; ``# end_s=<seconds>``
    sets the end of the last period (otherwise it is inferred as for cooked traces).
    """
    header: list[str] | None = None
    header_line = 0
    cols: dict[str, tuple[int, str, float]] = {}
    values: dict[str, list[float]] = {"time": [], "bandwidth": [], "latency": []}
    end_s: float | None = None
    end_line: int | None = None
    for lineno, line in _lines(path, _read_text(path)):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            match = _CSV_END.match(stripped)
            if match:
                end_s = _parse_number(path, lineno, match.group(1), "end_s")
                end_line = lineno
                if end_s < 0:
                    raise TraceFormatError(path, f"end_s {match.group(1)!r} is negative", line=lineno)
                _check_max(path, lineno, f"end_s {match.group(1)}", end_s, MAX_TIME_S, "time")
            continue
        try:
            cells = [c.strip() for c in next(csv.reader([stripped], skipinitialspace=True))]
        except csv.Error as exc:
            raise TraceFormatError(path, f"malformed CSV line ({exc})", line=lineno) from None
        if header is None:
            header, header_line = [c.lower() for c in cells], lineno
            cols = _csv_columns(path, header, lineno)
            continue
        if len(cells) != len(header):
            raise TraceFormatError(path, f"expected {len(header)} columns ({','.join(header)}), got {len(cells)}", line=lineno)
        for role, (index, name, _scale) in cols.items():
            cell = cells[index]
            if not cell:
                raise TraceFormatError(path, f"missing value for {name}", line=lineno)
            value = _parse_number(path, lineno, cell, name)
            if value < 0 or (name.startswith("duration") and value == 0):
                rule = "> 0" if name.startswith("duration") else ">= 0"
                raise TraceFormatError(path, f"{name} {cell!r} must be {rule}", line=lineno)
            if role == "time" and name.startswith("time") and values["time"] and value <= values["time"][-1]:
                raise TraceFormatError(path, f"{name} {cell!r} is not after the previous {values['time'][-1]!r}", line=lineno)
            scaled = value * cols[role][2]
            if role == "time":
                _check_max(path, lineno, f"{name} {cell}", scaled, MAX_TIME_S, "time")
            else:
                kind = "bandwidth" if role == "bandwidth" else "latency"
                _check_max(path, lineno, f"{name} {cell}", scaled, MAX_BANDWIDTH_BPS if role == "bandwidth" else MAX_LATENCY_S, kind)
            values[role].append(value)
    if header is None:
        raise TraceFormatError(path, "no header row: expected e.g. 'time_s,bandwidth_kbps[,latency_ms]'")
    if not values["time"]:
        raise TraceFormatError(path, "no data rows after the header", line=header_line)
    _, time_name, time_scale = cols["time"]
    bw = np.array(values["bandwidth"]) * cols["bandwidth"][2]
    latency = np.array(values["latency"]) * cols["latency"][2] if "latency" in cols else None
    meta = {"format": "csv"}
    if time_name.startswith("duration"):
        durations = np.array(values["time"]) * time_scale
        edges = np.concatenate(([0.0], np.cumsum(durations)))
        if end_s is not None and not math.isclose(end_s, edges[-1], rel_tol=1e-9, abs_tol=1e-9):
            raise TraceFormatError(path, f"end_s={end_s!r} disagrees with the durations, which end at {float(edges[-1])!r}")
        return _build(path, time_s=edges[:-1], bandwidth_bps=bw, end_s=float(edges[-1]), latency_s=latency, meta=meta)
    times = np.array(values["time"]) * time_scale
    if end_s is not None and not end_s > times[-1]:
        raise TraceFormatError(
            path, f"end_s={end_s!r} must be after the last period's start, {float(times[-1])!r} s", line=end_line
        )
    return _build(path, time_s=times, bandwidth_bps=bw, end_s=end_s, latency_s=latency, meta=meta)


def _csv_columns(path: Path, header: list[str], lineno: int) -> dict[str, tuple[int, str, float]]:
    """Map each role (time, bandwidth, latency) to (column index, name, scale to SI units)."""
    cols: dict[str, tuple[int, str, float]] = {}
    roles = (
        ("time", {**_CSV_TIME, **_CSV_DURATION}),
        ("bandwidth", _CSV_BANDWIDTH),
        ("latency", _CSV_LATENCY),
    )
    for index, name in enumerate(header):
        for role, names in roles:
            if name in names:
                if role in cols:
                    raise TraceFormatError(path, f"columns {cols[role][1]!r} and {name!r} both give the {role}", line=lineno)
                cols[role] = (index, name, names[name])
                break
        else:
            known = ", ".join([*_CSV_TIME, *_CSV_DURATION, *_CSV_BANDWIDTH, *_CSV_LATENCY])
            raise TraceFormatError(path, f"unknown column {_short(name)} (known: {known})", line=lineno)
    for role in ("time", "bandwidth"):
        if role not in cols:
            raise TraceFormatError(path, f"the header has no {role} column (e.g. time_s, bandwidth_kbps)", line=lineno)
    return cols


def _write_csv(trace: Trace, path: Path) -> None:
    """Write ``time_s,bandwidth_kbps[,latency_ms]`` rows and a final ``# end_s=`` comment.

    Values are written with ``repr``, so reading the file back gives the same floats up to the
    unit conversion. ``pandas.read_csv(path, comment="#")`` reads the file as a table.
    """
    header = "time_s,bandwidth_kbps" + (",latency_ms" if trace.latency_s is not None else "")
    rows = [header]
    kbps = (trace.bandwidth_bps / 1e3).tolist()
    if trace.latency_s is None:
        rows += [f"{t!r},{b!r}" for t, b in zip(trace.time_s.tolist(), kbps)]
    else:
        lat_ms = (trace.latency_s * 1e3).tolist()
        rows += [f"{t!r},{b!r},{l!r}" for t, b, l in zip(trace.time_s.tolist(), kbps, lat_ms)]
    rows.append(f"# end_s={float(trace.end_s)!r}")  # type: ignore[arg-type]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def _sniff_csv(head: str) -> bool:
    for line in _head_lines(head):
        if line.lstrip().startswith("#"):
            continue
        names = {c.strip().lower() for c in next(csv.reader([line], skipinitialspace=True))}
        has_time = bool(names & ({*_CSV_TIME, *_CSV_DURATION}))
        return has_time and bool(names & set(_CSV_BANDWIDTH))
    return False


register(
    TraceFormat(
        "csv",
        "CSV with a header: time_s,bandwidth_kbps[,latency_ms] (other units accepted)",
        _read_csv,
        _write_csv,
        _sniff_csv,
        priority=90, extension=".csv",
    )
)


# -- dispatch ---------------------------------------------------------------------------------


def _check_format(format: str) -> TraceFormat:
    try:
        return FORMATS[format]
    except (KeyError, TypeError):
        raise ParameterError("format", format, f"unknown trace format; known: {', '.join(sorted(FORMATS))}") from None


def _check_options(fmt: TraceFormat, func: Callable[..., Any], options: dict[str, Any]) -> None:
    accepted = list(inspect.signature(func).parameters)[2 if func is fmt.write else 1 :]
    for key, value in options.items():
        if key not in accepted:
            allowed = ", ".join(accepted) if accepted else "none"
            raise ParameterError(key, value, f"is not an option of the {fmt.name!r} format (its options: {allowed})")


_SNIFF_BYTES = 8192
#: How far past a leading block of ``#`` comments detection looks for a CSV header.
_MAX_COMMENT_BYTES = 1 << 20


class _UnknownFormat(TraceFormatError):
    """Detection found no format (the file exists and is not empty)."""


class TraceSkippedWarning(UserWarning):
    """:func:`load_traces` skipped a file in a directory whose format it could not detect."""


def _sniff_head(p: Path) -> tuple[bytes, bool]:
    """The first 8 KiB of the file, without a UTF-8 BOM and past a leading block of ``#`` comments.

    Only CSV has comments; skipping them (up to 1 MiB) lets a long preamble not hide its header.
    Also says whether comments were skipped.
    """
    try:
        with open(p, "rb") as fh:
            raw = fh.read(_SNIFF_BYTES)
            if raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            skipped = 0
            while raw.lstrip().startswith(b"#") and skipped < _MAX_COMMENT_BYTES:
                start = len(raw) - len(raw.lstrip())
                end = raw.find(b"\n", start)
                if end < 0:
                    more = fh.read(_SNIFF_BYTES)
                    if not more:
                        return b"", True
                    raw += more
                    skipped += len(more)
                    continue
                raw = raw[end + 1 :]
                skipped += end + 1
                if len(raw) < _SNIFF_BYTES:
                    raw += fh.read(_SNIFF_BYTES - len(raw))
            return raw, skipped > 0
    except FileNotFoundError:
        raise TraceFormatError(p, "no such file") from None
    except IsADirectoryError:
        raise TraceFormatError(p, "is a directory, not a trace file") from None
    except OSError as exc:
        raise TraceFormatError(p, f"cannot read: {exc.strerror or exc}") from None


def _sniffs(fmt: TraceFormat, head: str) -> bool:
    try:
        return bool(fmt.sniff(head))  # type: ignore[misc]
    except (ValueError, TypeError, OverflowError, csv.Error, RecursionError):  # sniffers only guess
        return False


def detect_format(path: PathLike) -> str:
    """Name of the format of ``path`` judged from its content; raises if none matches.

    Sniffers run by decreasing :attr:`TraceFormat.priority` (registration order among equals).
    A file named ``*.json`` is only ever detected as a JSON format (``sabre``, ``genet``), so a
    JSON file holding ``5`` is not taken for a one-line mahimahi trace. A UTF-8 byte-order mark
    is ignored, and so is a leading block of ``#`` comment lines of up to 1 MiB (CSV preambles).
    """
    p = Path(path)
    raw, comments = _sniff_head(p)
    if not raw.strip() and not comments:
        raise _UnknownFormat(p, "empty file: a trace needs at least one period")
    head = raw.decode("utf-8", errors="replace")
    candidates = sorted(FORMATS.values(), key=lambda f: -f.priority)
    if p.suffix.lower() == ".json":
        candidates = [f for f in candidates if f.extension == ".json"]
    for fmt in candidates:
        if fmt.sniff is not None and _sniffs(fmt, head):
            return fmt.name
    named = ", ".join(sorted(f.name for f in FORMATS.values() if f.sniff is None))
    raise _UnknownFormat(
        p, f"unknown trace format: content matches none of {', '.join(sorted(FORMATS))}"
        + (" (a .json file can only be sabre or genet)" if p.suffix.lower() == ".json" else "")
        + (f" (formats that must be named explicitly: {named})" if named else "")
    )


def read_trace(path: PathLike, format: str | None = None, **options: Any) -> Trace:
    """Read one trace file; ``format`` is detected from the content when not given.

    ``options`` go to the format's reader (``bin_ms`` for ``mahimahi``: period length in ms,
    default 1000). The trace is named after the file.
    """
    p = Path(path)
    name = format if format is not None else detect_format(p)
    fmt = _check_format(name)
    _check_options(fmt, fmt.read, options)
    return fmt.read(p, **options)


def write_trace(trace: Trace, path: PathLike, format: str, **options: Any) -> None:
    """Write ``trace`` to ``path`` in ``format`` (values quantized to what the format stores)."""
    if not isinstance(trace, Trace):
        raise ParameterError("trace", type(trace).__name__, "must be a Trace")
    fmt = _check_format(format)
    _check_options(fmt, fmt.write, options)
    fmt.write(trace, Path(path), **options)


def trace_files(
    paths: PathLike | Iterable[PathLike], format: str | None = None, *, strict: bool = False
) -> list[tuple[Path, str]]:
    """The files :func:`load_traces` reads, each with its format: ``[(path, format name), ...]``.

    Same order and rules as :func:`load_traces` (directories' files sorted by name, hidden
    files left out; with ``format`` None, a file of a directory whose format cannot be
    detected is skipped with a :class:`TraceSkippedWarning`, or raises with ``strict=True``),
    without reading the traces: for tools that need the file of each trace (``abrkit traces
    convert`` names its outputs after them).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if format is not None:
        _check_format(format)
    files: list[tuple[Path, bool]] = []  # (file, found in a directory)
    for item in paths:
        p = Path(item)
        if p.is_dir():
            found = sorted(c for c in p.iterdir() if c.is_file() and not c.name.startswith("."))
            if not found:
                raise TraceFormatError(p, "directory holds no trace files")
            files.extend((f, True) for f in found)
        elif p.exists():
            files.append((p, False))
        else:
            raise TraceFormatError(p, "no such file or directory")
    out: list[tuple[Path, str]] = []
    skipped: list[str] = []
    for f, in_dir in files:
        name = format
        if name is None:
            try:
                name = detect_format(f)
            except _UnknownFormat as exc:
                if strict or not in_dir:
                    raise
                warnings.warn(f"skipped {exc}", TraceSkippedWarning, stacklevel=3)
                skipped.append(str(f))
                continue
        out.append((f, name))
    if not out:
        raise TraceFormatError(
            Path(skipped[0]).parent, f"no trace files: every file found was skipped as not a trace ({len(skipped)} files)"
        )
    return out


def load_traces(
    paths: PathLike | Iterable[PathLike], format: str | None = None, *, strict: bool = False, **options: Any
) -> list[Trace]:
    """Read trace files and directories (their files, sorted by name, hidden files skipped).

    The order is deterministic: arguments in the order given, each directory's files sorted
    by name (plain string order, so ``trace_10`` comes before ``trace_2``). ``format`` and
    ``options`` apply to every file, as in :func:`read_trace`.

    When ``format`` is not given, a file inside a directory whose format cannot be detected
    (a README, an empty file, a binary) is skipped with one :class:`TraceSkippedWarning`
    each; ``strict=True`` raises its :class:`TraceFormatError` instead. Files named
    explicitly are always read, and a malformed file of a detected format is always an error.
    :func:`trace_files` lists the files without reading them.
    """
    return [read_trace(f, name, **options) for f, name in trace_files(paths, format, strict=strict)]
