"""A persistent store of measured ladder points, so a search resumes where it stopped.

Layout of a cache directory::

    <cache_dir>/
        sources.jsonl               content hashes of source files, by (path, size, mtime)
        points/<sha256>.jsonl       measured points of the source whose bytes hash to <sha256>

Every file is **append-only JSON Lines**: one record per line, written with a single
``write`` on a file opened with ``O_APPEND`` and followed by ``fsync``, as soon as the point is
measured. Why not SQLite (WAL)? Both survive a killed process, but

* a record is never rewritten, so a crash can damage at most the line being written; the
  reader skips a partial or corrupt line with a :class:`CacheWarning` and keeps the rest, and
  the next writer starts a fresh line after it (nothing already measured is lost);
* WAL mode needs shared memory between processes and does not work on network file systems,
  where a job's output directory (and so its cache) often lives; appending to a file works
  everywhere, and two processes appending whole lines do not interleave them on local disks;
* the files are plain text: ``grep``, ``jq`` and a text editor can inspect or prune them.

The cost, an ``fsync`` per point, is a few milliseconds against encodes of seconds; reading
a whole file at start-up takes milliseconds for thousands of points.

Each point record holds ``key`` (SHA-256 of the canonical JSON of ``context``), ``context``
(everything the measurement depends on: the source's content hash and the frames used, the
encode settings key, the quality settings key (VMAF model, upscaling scaler, ...), the ffmpeg
and libvmaf versions), the measured ``point`` and ``check``, a hash of the rest of the
record that catches lines which are valid JSON but were altered. Records whose ``key`` does
not match their ``context`` or whose ``check`` fails are skipped with a warning like
truncated ones. Of two records with the same key the first is kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

from ..errors import ParameterError

__all__ = [
    "CACHE_ENV_VAR",
    "CacheWarning",
    "MeasurementCache",
    "default_cache_dir",
    "file_sha256",
    "point_key",
]

#: Environment variable that overrides the default cache directory.
CACHE_ENV_VAR = "ABRKIT_CACHE_DIR"

_RECORD_VERSION = 1
_HASH_CHUNK_BYTES = 1 << 20

# In-process memo of file hashes: (resolved path, size, mtime_ns) -> sha256 hex.
_HASHES: dict[tuple[str, int, int], str] = {}
_HASHES_LOCK = threading.Lock()


class CacheWarning(UserWarning):
    """A cache record could not be read (truncated or corrupt) and was skipped."""


def default_cache_dir() -> Path:
    """The user-level cache directory: ``$ABRKIT_CACHE_DIR``, else the platform's cache folder.

    Linux and others: ``$XDG_CACHE_HOME/abrkit`` (``~/.cache/abrkit``); macOS:
    ``~/Library/Caches/abrkit``; Windows: ``%LOCALAPPDATA%\\abrkit\\Cache``.
    """
    env = os.environ.get(CACHE_ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "abrkit" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "abrkit"
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "abrkit"


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def point_key(context: dict[str, Any]) -> str:
    """The cache key of a measurement: SHA-256 (hex) of the canonical JSON of ``context``."""
    return hashlib.sha256(canonical_json(context).encode("utf-8")).hexdigest()


def _check(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "check"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()[:16]


def file_sha256(path: str | os.PathLike[str], cache: "MeasurementCache | None" = None) -> str:
    """SHA-256 (hex) of a file's bytes, computed once per (path, size, modification time).

    Remembered in this process and, given a ``cache``, in its ``sources.jsonl``, so a large
    source is read once, not on every run. A file that changes while it is read is hashed
    again.
    """
    file = Path(path)
    st = file.stat()
    ident = (str(file.resolve()), int(st.st_size), int(st.st_mtime_ns))
    with _HASHES_LOCK:
        memo = _HASHES.get(ident)
    if memo is not None:
        if cache is not None:
            cache.remember_hash(*ident, memo)
        return memo
    if cache is not None:
        known = cache.known_hash(*ident)
        if known is not None:
            with _HASHES_LOCK:
                _HASHES[ident] = known
            return known
    for _ in range(3):
        digest = hashlib.sha256()
        with open(file, "rb") as fh:
            for chunk in iter(lambda: fh.read(_HASH_CHUNK_BYTES), b""):
                digest.update(chunk)
        after = file.stat()
        if (int(after.st_size), int(after.st_mtime_ns)) == ident[1:]:
            break
        ident = (ident[0], int(after.st_size), int(after.st_mtime_ns))
    sha = digest.hexdigest()
    with _HASHES_LOCK:
        _HASHES[ident] = sha
    if cache is not None:
        cache.remember_hash(*ident, sha)
    return sha


class MeasurementCache:
    """Append-only JSON Lines store of measured points (module docstring), safe across threads.

    Parameters
    ----------
    directory : path or None
        The cache directory (created on first write). None: nothing is stored on disk; the
        cache then only remembers points within this object.
    """

    def __init__(self, directory: str | os.PathLike[str] | None) -> None:
        if directory is not None and not isinstance(directory, (str, os.PathLike)):
            raise ParameterError("cache_dir", directory, "must be a path, or None")
        self.directory = None if directory is None else Path(directory).expanduser()
        if self.directory is not None and self.directory.exists() and not self.directory.is_dir():
            raise ParameterError("cache_dir", str(self.directory), "exists and is not a directory")
        self._lock = threading.Lock()
        self._points: dict[str, dict[str, dict[str, Any]]] = {}  # source sha -> key -> point
        self._hashes: dict[tuple[str, int, int], str] | None = None

    def __repr__(self) -> str:
        return f"MeasurementCache({str(self.directory) if self.directory else None!r})"

    # -- points -------------------------------------------------------------------------------

    def points_path(self, source_sha256: str) -> Path | None:
        """The JSON Lines file of one source's points (None without a directory)."""
        if self.directory is None:
            return None
        return self.directory / "points" / f"{source_sha256}.jsonl"

    def points(self, source_sha256: str) -> dict[str, dict[str, Any]]:
        """Every readable point of a source, key -> point (loaded once, then kept up to date)."""
        with self._lock:
            return self._load(source_sha256)

    def get(self, source_sha256: str, key: str) -> dict[str, Any] | None:
        """The stored point with ``key``, or None."""
        with self._lock:
            return self._load(source_sha256).get(key)

    def put(self, source_sha256: str, key: str, context: dict[str, Any], point: dict[str, Any]) -> None:
        """Store a measured point now (appended and fsynced before this returns)."""
        record = {"v": _RECORD_VERSION, "key": key, "context": context, "point": point, "t": round(time.time(), 3)}
        record["check"] = _check(record)
        line = canonical_json(record) + "\n"
        with self._lock:
            known = self._load(source_sha256)
            if key in known:
                return
            path = self.points_path(source_sha256)
            if path is not None:
                _append_line(path, line)
            known[key] = point

    def _load(self, source_sha256: str) -> dict[str, dict[str, Any]]:
        if source_sha256 in self._points:
            return self._points[source_sha256]
        found: dict[str, dict[str, Any]] = {}
        path = self.points_path(source_sha256)
        if path is not None and path.exists():
            bad: list[int] = []
            for number, record in _read_lines(path, bad):
                if (
                    record.get("v") != _RECORD_VERSION
                    or not isinstance(record.get("key"), str)
                    or not isinstance(record.get("context"), dict)
                    or not isinstance(record.get("point"), dict)
                    or record.get("check") != _check(record)
                    or point_key(record["context"]) != record["key"]
                ):
                    bad.append(number)
                    continue
                found.setdefault(record["key"], record["point"])
            if bad:
                _warn_bad(path, bad)
        self._points[source_sha256] = found
        return found

    # -- source hashes ------------------------------------------------------------------------

    def known_hash(self, path: str, size: int, mtime_ns: int) -> str | None:
        """The remembered SHA-256 of a file with this path, size and mtime, or None."""
        with self._lock:
            return self._load_hashes().get((path, size, mtime_ns))

    def remember_hash(self, path: str, size: int, mtime_ns: int, sha256: str) -> None:
        """Remember a file's SHA-256 in ``sources.jsonl``."""
        record = {"v": _RECORD_VERSION, "path": path, "size": size, "mtime_ns": mtime_ns, "sha256": sha256}
        record["check"] = _check(record)
        with self._lock:
            hashes = self._load_hashes()
            if hashes.get((path, size, mtime_ns)) == sha256:
                return
            hashes[(path, size, mtime_ns)] = sha256
            if self.directory is not None:
                _append_line(self.directory / "sources.jsonl", canonical_json(record) + "\n")

    def _load_hashes(self) -> dict[tuple[str, int, int], str]:
        if self._hashes is None:
            self._hashes = {}
            path = None if self.directory is None else self.directory / "sources.jsonl"
            if path is not None and path.exists():
                bad: list[int] = []
                for number, record in _read_lines(path, bad):
                    try:
                        ok = record.get("check") == _check(record)
                        ident = (str(record["path"]), int(record["size"]), int(record["mtime_ns"]))
                        sha = str(record["sha256"])
                    except (KeyError, TypeError, ValueError):
                        ok = False
                    if not ok:
                        bad.append(number)
                        continue
                    self._hashes[ident] = sha
                if bad:
                    _warn_bad(path, bad)
        return self._hashes


# -- files --------------------------------------------------------------------------------------


def _read_lines(path: Path, bad: list[int]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for every line that parses as a JSON object; others go to ``bad``."""
    try:
        data = path.read_bytes()
    except OSError as err:
        warnings.warn(f"cannot read cache file {path}: {err}; ignoring it", CacheWarning, stacklevel=4)
        return
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            bad.append(number)
            continue
        if not isinstance(record, dict):
            bad.append(number)
            continue
        yield number, record


def _warn_bad(path: Path, bad: list[int]) -> None:
    lines = ", ".join(str(n) for n in bad[:10]) + (", ..." if len(bad) > 10 else "")
    warnings.warn(
        f"cache file {path}: skipped {len(bad)} unreadable record(s) (line {lines}), probably a write "
        "interrupted by a crash; those points will be measured again",
        CacheWarning,
        stacklevel=5,
    )


def _append_line(path: Path, line: str) -> None:
    """Append one line durably: O_APPEND, one write, fsync; a partial last line is closed first."""
    new = not path.exists()
    if new:
        path.parent.mkdir(parents=True, exist_ok=True)
    data = line.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size > 0:
            with open(path, "rb") as fh:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    data = b"\n" + data  # never glue a record onto a torn one
        written = os.write(fd, data)
        while written < len(data):  # rare: a short write on a full pipe or signal
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:
        _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    if sys.platform == "win32":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
