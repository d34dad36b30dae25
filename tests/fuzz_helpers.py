"""Mutations of real trace and video files, and the property every reader must keep on them.

Used by ``test_fuzz_traces.py`` and ``test_fuzz_video.py``. A mutation is drawn from a
``random.Random`` (hypothesis passes one from ``st.randoms()``, so failures shrink; the long run
passes seeded ones), so the same code serves the fast CI tests and the long counting run.

Seeds are the bundled ``samples/`` files, the real files in ``../shared/data`` (or
``ABRKIT_DATA``) when present, read in place and never copied into the project, and, for
formats no real file is stored in (mahimahi, Genet, raw Norway/Belgium logs), files that
abrkit's own writers make from a sample trace.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SHARED = (
    Path(os.environ["ABRKIT_DATA"]).expanduser()
    if os.environ.get("ABRKIT_DATA")
    else ROOT.parent / "shared" / "data"
)

#: Largest seed kept whole; longer files are cut at a line end (mutations of a 50 KB file
#: explore no more than those of its first 12 KB, and cost more).
SEED_BYTES = 12_000

# Values and fragments that broke readers before (issue 11) or sit on a limit.
NASTY_TOKENS: list[bytes] = [
    b"nan", b"NaN", b"-nan", b"inf", b"-inf", b"Infinity", b"-Infinity", b"-1", b"-0", b"0", b"0.0",
    b"1e300", b"-1e300", b"1e308", b"1e309", b"1e-320", b"4.9e-324", b"1e12", b"1000000000000000",
    b"9" * 5000, b"1" + b"0" * 4400, b"1" + b"0" * 400, b"0." + b"0" * 300 + b"1", b"1_000", b"\xd9\xa1",
    b"true", b"false", b"null", b'"5"', b'""', b"[]", b"{}", b"[[1.5, 2.7]]", b"1 garbage", b"1,2",
    b"\xef\xbb\xbf", b"\xe9", b"\xff\xfe", b"\x00", b"\r", b"\r\n", b"\n", b"\x0c", b"\x85", b"\xe2\x80\xa8",
    b"\t", b" ", b"#", b"# end_s=1e300", b",", b'"', b"[", b"{", b"]", b"}", b":", b"[" * 300, b"{\"a\":" * 200,
    b"x" * 140_000, b"1" * 140_000,
]

# JSON values for structured mutations.
NASTY_JSON: list[Any] = [
    True, False, None, "5", "", [], {}, [[1.5, 2.7]], -1, 0, -0.0, 1e308, 5e-324, 10**30, 10**400,
    float("nan"), float("inf"), float("-inf"), [1, "2"], {"duration_ms": 1}, 5, 0.5, 2**63, -(2**63) - 1,
]


@dataclass(frozen=True)
class Seed:
    name: str
    data: bytes
    suffix: str = ""


def _cut(data: bytes) -> bytes:
    if len(data) <= SEED_BYTES:
        return data
    end = data.rfind(b"\n", 0, SEED_BYTES)
    return data[: end + 1] if end > 0 else data[:SEED_BYTES]


def _files(folder: Path, pattern: str = "*", limit: int = 3) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("."))[:limit]


def _seed(path: Path) -> Seed:
    """A real file as a seed; line formats are cut to :data:`SEED_BYTES`, JSON is kept whole."""
    data = path.read_bytes()
    keep = path.suffix.lower() == ".json"
    return Seed(f"{path.parent.name}/{path.name}", data if keep else _cut(data), path.suffix)


def _written(fmt: str, suffix: str) -> list[Seed]:
    """Seeds made by abrkit's writer for ``fmt`` from short sample traces."""
    from abrkit.traces import read_trace, write_trace
    from abrkit.traces import Trace

    seeds = []
    sources = [SAMPLES / "traces" / "3g_1", SAMPLES / "traces" / "outages_1.csv"]
    with tempfile.TemporaryDirectory() as tmp:
        for src in sources:
            t = read_trace(src)
            n = min(t.n_periods, 40)
            end = t.time_s[n] if n < t.n_periods else t.end_s
            short = Trace(t.time_s[:n], t.bandwidth_bps[:n], end_s=end, latency_s=None if t.latency_s is None else t.latency_s[:n])
            if fmt == "mahimahi":  # keep the file small: a few hundred kbit/s
                short = Trace(short.time_s[:8], np.minimum(short.bandwidth_bps[:8], 3e5), end_s=short.time_s[8])
            out = Path(tmp) / f"seed{suffix}"
            write_trace(short, out, fmt)
            seeds.append(Seed(f"written-{fmt}/{src.name}", _cut(out.read_bytes()), suffix))
    return seeds


def trace_seeds(fmt: str) -> list[Seed]:
    """Real files of one trace format (bundled samples, shared data) or, failing those, written ones."""
    traces = SHARED / "traces"
    if fmt == "cooked":
        found = _files(SAMPLES / "traces", "3g_*") + _files(traces / "norway-hsdpa-test", limit=2) + _files(
            traces / "pensieve-train", limit=2
        )
    elif fmt == "sabre":
        found = (
            _files(SAMPLES / "traces", "*.json", limit=4)
            + _files(traces / "sabre-3g", limit=1)
            + _files(traces / "sabre-4g", limit=1)
            + _files(traces / "sabre-hd-fs", limit=1)
        )
    elif fmt == "csv":
        found = _files(SAMPLES / "traces", "*.csv")
    else:
        found = []
    seeds = [_seed(p) for p in found]
    if fmt in ("genet", "mahimahi", "norway-raw", "belgium-raw") or not seeds:
        from abrkit.traces import FORMATS

        seeds += _written(fmt, FORMATS[fmt].extension)
    return seeds


def video_json_seeds(kind: str) -> list[Seed]:
    if kind == "abrkit":
        return [_seed(p) for p in _files(SAMPLES / "videos", "*.json")]
    return [_seed(p) for p in _files(SHARED / "videos" / "sabre", "*.json")] or [
        Seed("handmade/sabre.json", json.dumps(
            {"segment_duration_ms": 3000, "bitrates_kbps": [230, 477, 991],
             "segment_sizes_bits": [[886360, 1757888, 3515816], [1000000, 2000000, 4000000]]}, indent=4
        ).encode(), ".json")
    ]


def pensieve_seeds() -> list[list[bytes]]:
    """Chunk-size directories as lists of file contents (one per rung)."""
    envivio = SHARED / "videos" / "envivio"
    if envivio.is_dir():
        return [[(envivio / f"video_size_{r}").read_bytes() for r in range(6)]]
    return [[b"".join(b"%d\n" % (1000 * (r + 1) + k) for k in range(10)) for r in range(3)]]


# -- mutations ---------------------------------------------------------------------------------


def _pos(rng: random.Random, data: bytes) -> int:
    return rng.randrange(len(data) + 1)


def _number_spans(data: bytes) -> list[tuple[int, int]]:
    import re

    return [m.span() for m in re.finditer(rb"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", data[:200_000])]


def mutate_bytes(rng: random.Random, data: bytes, rounds: int | None = None) -> bytes:
    """Byte-level damage: truncation, flipped bytes, inserted/replaced nasty tokens, deleted or
    duplicated ranges, CRLF, a BOM, Latin-1 bytes."""
    rounds = rng.randint(1, 3) if rounds is None else rounds
    for _ in range(rounds):
        op = rng.randrange(10)
        if op == 0:  # truncate
            data = data[: _pos(rng, data)]
        elif op == 1 and data:  # flip bits of a few bytes
            b = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(b))
                b[i] ^= 1 << rng.randrange(8)
            data = bytes(b)
        elif op == 2:  # insert a nasty token
            i = _pos(rng, data)
            data = data[:i] + rng.choice(NASTY_TOKENS) + data[i:]
        elif op in (3, 4):  # replace a number with a nasty token
            spans = _number_spans(data)
            if spans:
                a, b_ = rng.choice(spans)
                data = data[:a] + rng.choice(NASTY_TOKENS) + data[b_:]
        elif op == 5 and data:  # delete a range
            i = _pos(rng, data)
            data = data[:i] + data[i + rng.randint(1, 200) :]
        elif op == 6 and data:  # duplicate a line
            i = _pos(rng, data)
            start = data.rfind(b"\n", 0, i) + 1
            end = data.find(b"\n", i)
            end = len(data) if end < 0 else end + 1
            data = data[:end] + data[start:end] + data[end:]
        elif op == 7:  # line endings
            data = data.replace(b"\n", rng.choice([b"\r\n", b"\r", b"\n\n", b"\x85"]))
        elif op == 8:  # a byte-order mark, or Latin-1 bytes
            data = (b"\xef\xbb\xbf" + data) if rng.random() < 0.5 else data.replace(b"0", b"\xe9", 1)
        elif op == 9:  # swap two numbers (breaks ordering)
            spans = _number_spans(data)
            if len(spans) >= 2:
                (a1, b1), (a2, b2) = sorted(rng.sample(spans, 2))
                data = data[:a1] + data[a2:b2] + data[b1:a2] + data[a1:b1] + data[b2:]
    return data


def _paths(value: Any, prefix: tuple = (), out: list | None = None, limit: int = 2000) -> list[tuple]:
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    out.append(prefix)
    if isinstance(value, dict):
        for k, v in value.items():
            _paths(v, prefix + (k,), out, limit)
    elif isinstance(value, list):
        for i, v in enumerate(value[:50]):
            _paths(v, prefix + (i,), out, limit)
    return out


def _set(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


def mutate_json(rng: random.Random, data: bytes) -> bytes:
    """Structured damage to a JSON document: a value of the wrong type or size, a removed or
    renamed key, a list emptied, cut or nested; then written back (NaN/Infinity literals too)."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except ValueError:
        return mutate_bytes(rng, data)
    for _ in range(rng.randint(1, 2)):
        paths = _paths(doc)
        path = rng.choice(paths)
        target = doc
        for key in path:
            target = target[key]
        op = rng.randrange(5)
        if op == 0 or not path:
            doc = _set(doc, path, rng.choice(NASTY_JSON))
        elif op == 1 and isinstance(target, dict) and target:  # drop or rename a key
            key = rng.choice(list(target))
            value = target.pop(key)
            if rng.random() < 0.5:
                target[key + "_x"] = value
        elif op == 2 and isinstance(target, list):  # empty, cut, or nest a list
            choice = rng.randrange(3)
            doc = _set(doc, path, [] if choice == 0 else target[: rng.randrange(len(target) + 1)] if choice == 1 else [target])
        elif op == 3:  # wrap a value in deep nesting
            value = target
            for _ in range(rng.choice([1, 2, 50, 150])):
                value = [value]
            doc = _set(doc, path, value)
        else:  # a number scaled to absurd sizes
            if isinstance(target, (int, float)) and not isinstance(target, bool) and path:
                doc = _set(doc, path, target * rng.choice([-1, 1e300, 1e-300, 10**20]))
    text = json.dumps(doc, indent=rng.choice([None, 1, 4]))
    raw = text.encode()
    if rng.random() < 0.2:
        raw = mutate_bytes(rng, raw, rounds=1)
    return raw


def mutate(rng: random.Random, data: bytes, is_json: bool) -> bytes:
    return mutate_json(rng, data) if is_json and rng.random() < 0.6 else mutate_bytes(rng, data)


# -- the property ------------------------------------------------------------------------------


class Hang(Exception):
    """Raised by :func:`time_limit` when a call overruns."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (SIGALRM; main thread, POSIX) with :class:`Hang`."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise Hang(f"took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def check_trace(trace: Any) -> None:
    """A trace a reader returned is usable: finite, within the documented limits, summarisable."""
    from abrkit.traces import Trace, trace_stats
    from abrkit.traces.formats import MAX_BANDWIDTH_BPS, MAX_LATENCY_S, MAX_TIME_S

    assert isinstance(trace, Trace)
    assert np.all(np.isfinite(trace.bandwidth_bps)) and trace.bandwidth_bps.max() <= MAX_BANDWIDTH_BPS
    assert math.isfinite(trace.end_s) and trace.end_s <= MAX_TIME_S
    if trace.latency_s is not None:
        assert np.all(np.isfinite(trace.latency_s)) and trace.latency_s.max() <= MAX_LATENCY_S
    stats = trace_stats(trace)
    assert math.isfinite(stats["mean_kbps"]) and math.isfinite(stats["std_kbps"])


def check_video(video: Any) -> None:
    from abrkit.video import MAX_CHUNK_BYTES, MIN_CHUNK_BYTES, Video

    assert isinstance(video, Video)
    assert np.all(np.isfinite(video.sizes_bytes))
    assert video.sizes_bytes.min() >= MIN_CHUNK_BYTES and video.sizes_bytes.max() <= MAX_CHUNK_BYTES
    assert math.isfinite(video.chunk_s) and video.chunk_s > 0
    if video.resolutions is not None:
        assert all(isinstance(w, int) and isinstance(h, int) for w, h in video.resolutions)


@dataclass
class Outcome:
    """What one reader call did with one input."""

    kind: str  # "ok", "error" (the module's own class, naming the file), "raw", "hang", "bad-error", "bad-value"
    detail: str = ""  # for "error": "line" when the error names a line
    seconds: float = 0.0


def run_reader(
    call: Callable[[], Any],
    error_class: type[BaseException],
    names: list[str],
    check: Callable[[Any], None],
    limit_s: float = 10.0,
) -> Outcome:
    """Call a reader and classify the result; ``names`` are paths one of which the error must name."""
    start = time.perf_counter()
    try:
        with time_limit(limit_s):
            result = call()
    except Hang as exc:
        return Outcome("hang", str(exc), time.perf_counter() - start)
    except error_class as exc:
        elapsed = time.perf_counter() - start
        where = getattr(exc, "path", None)
        if where is None or not any(str(where) == n or str(where).startswith(n) for n in names):
            return Outcome("bad-error", f"{type(exc).__name__} without the file: {exc}", elapsed)
        line = getattr(exc, "line", None)
        if line is not None and not (isinstance(line, int) and line >= 1):
            return Outcome("bad-error", f"line {line!r}: {exc}", elapsed)
        return Outcome("error", "line" if line is not None else "", elapsed)
    except Exception as exc:  # noqa: BLE001 - the point is to catch what readers must not raise
        return Outcome("raw", f"{type(exc).__name__}: {str(exc)[:300]}", time.perf_counter() - start)
    elapsed = time.perf_counter() - start
    try:
        check(result)
    except Exception as exc:  # noqa: BLE001
        return Outcome("bad-value", f"{type(exc).__name__}: {str(exc)[:300]}", elapsed)
    return Outcome("ok", "", elapsed)


@dataclass
class Tally:
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    slowest_s: float = 0.0

    def add(self, outcome: Outcome, label: str) -> None:
        self.counts[outcome.kind] = self.counts.get(outcome.kind, 0) + 1
        if outcome.kind == "error" and outcome.detail == "line":
            self.counts["error naming a line"] = self.counts.get("error naming a line", 0) + 1
        self.slowest_s = max(self.slowest_s, outcome.seconds)
        if outcome.kind not in ("ok", "error"):
            self.examples.setdefault(outcome.kind, [])
            if len(self.examples[outcome.kind]) < 5:
                self.examples[outcome.kind].append(f"{label}: {outcome.detail}")
