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

Several processes may write one directory at once (the workers of a cluster on a shared file
system, two runs on one machine; see :func:`abrkit.encode.optimize_catalog`): each append holds
an exclusive ``flock`` on the file while it closes a torn last line and writes its record, so
records never interleave and a writer killed mid-line damages only its own record.

The cost, an ``fsync`` per point, is a few milliseconds against encodes of seconds; reading
a whole file at start-up takes milliseconds for thousands of points.

Each point record holds ``key`` (SHA-256 of the canonical JSON of ``context``), ``context``
(everything the measurement depends on: the source's content hash and the frames used, the
encode settings key, the quality settings key (VMAF model, upscaling scaler, ...), the ffmpeg
and libvmaf versions), the measured ``point`` and ``check``, a hash of the rest of the
record that catches lines which are valid JSON but were altered. Records whose ``key`` does
not match their ``context`` or whose ``check`` fails are skipped with a warning like
truncated ones. Of two records with the same key the first is kept.

A bad record is never fatal: a line that is not strict JSON (``NaN``, ``Infinity``, which
abrkit never writes), nested deeper than :data:`MAX_RECORD_DEPTH` levels, longer than
:data:`MAX_RECORD_BYTES`, or otherwise unreadable is set aside with the same
:class:`CacheWarning`, and its point is measured again. A bad cache *location* (a
``cache_dir`` below a file, a ``points`` entry that is a file, a directory that cannot be
written) is a :class:`~abrkit.errors.ParameterError` naming the path, raised by
:meth:`MeasurementCache.prepare` before any encode. A write that fails later (a full disk) is
a :class:`CacheWarning`: the run goes on and keeps its points in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

from .._textread import MAX_JSON_DEPTH, json_too_deep
from ..errors import ParameterError

__all__ = [
    "CACHE_ENV_VAR",
    "MAX_RECORD_BYTES",
    "MAX_RECORD_DEPTH",
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

#: Longest record line read (a point with per-segment lists of a two-hour title is ~200 KB).
MAX_RECORD_BYTES = 64 << 20
#: Deepest JSON nesting of a record read (abrkit writes at most 4 levels); the readers' limit.
MAX_RECORD_DEPTH = MAX_JSON_DEPTH

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
        self._unwritable: set[Path] = set()
        self._offsets: dict[str, int] = {}  # source sha -> bytes of its file read by reload()

    def __repr__(self) -> str:
        return f"MeasurementCache({str(self.directory) if self.directory else None!r})"

    def prepare(self, source_sha256: str | None = None) -> None:
        """Create the cache's folders now and check that they can be written.

        Called before any encode, so a bad location fails at once instead of after the first
        measurements. With ``source_sha256``, also checks that source's points file.

        Raises
        ------
        ParameterError
            (``cache_dir``) The directory or its ``points`` folder cannot be created (a parent or
            ``points`` itself is a file, no permission, a read-only file system), cannot be
            written, or ``sources.jsonl`` / the points file exists and is not a regular file.
        """
        if self.directory is None:
            return
        root = self.directory
        points = root / "points"
        for folder in (root, points):
            if folder.exists() and not folder.is_dir():
                what = "exists and is not a directory" if folder == root else f"holds {folder}, which is not a directory"
                raise ParameterError("cache_dir", str(root), what)
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise ParameterError("cache_dir", str(root), f"cannot create {folder}: {err.strerror or err}") from None
        files = [root / "sources.jsonl"]
        if source_sha256 is not None:
            files.append(points / f"{source_sha256}.jsonl")
        for file in files:
            if file.exists() and not file.is_file():
                raise ParameterError("cache_dir", str(root), f"holds {file}, which is not a regular file")
            if file.exists() and not os.access(file, os.R_OK | os.W_OK):
                raise ParameterError("cache_dir", str(root), f"cannot read and write {file}")
        for folder in (root, points):
            try:
                fd, probe = tempfile.mkstemp(prefix=".abrkit-write-test-", dir=folder)
            except OSError as err:
                raise ParameterError("cache_dir", str(root), f"cannot write in {folder}: {err.strerror or err}") from None
            os.close(fd)
            try:
                os.unlink(probe)
            except OSError:
                pass

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
                self._append(path, line)
            known[key] = point

    def remember(self, source_sha256: str, key: str, point: dict[str, Any]) -> None:
        """Know a point that another process stored (nothing is written)."""
        with self._lock:
            self._load(source_sha256).setdefault(key, point)

    def reload(self, source_sha256: str) -> dict[str, dict[str, Any]]:
        """:meth:`points`, plus the records other processes appended since this object last
        looked (read from where it stopped; a line still being written is left for later)."""
        with self._lock:
            known = self._load(source_sha256)
            path = self.points_path(source_sha256)
            if path is None:
                return known
            start = self._offsets.get(source_sha256, 0)
            try:
                with open(path, "rb") as fh:
                    fh.seek(start)
                    data = fh.read()
            except OSError:
                return known
            end = data.rfind(b"\n")
            if end < 0:
                return known
            for raw in data[:end].split(b"\n"):
                record = _parse_record(raw) if raw.strip() else None
                if isinstance(record, dict) and _valid_point_record(record):
                    known.setdefault(record["key"], record["point"])
            self._offsets[source_sha256] = start + end + 1
            return known

    def _append(self, path: Path, line: str) -> None:
        """Append a record; a failed write warns once per file (the point stays in memory)."""
        try:
            _append_line(path, line)
        except OSError as err:
            if path not in self._unwritable:
                self._unwritable.add(path)
                warnings.warn(
                    f"cannot write cache file {path}: {err.strerror or err}; this run goes on, but its "
                    "points are not stored there and a later run will measure them again",
                    CacheWarning,
                    stacklevel=4,
                )

    def _load(self, source_sha256: str) -> dict[str, dict[str, Any]]:
        if source_sha256 in self._points:
            return self._points[source_sha256]
        found: dict[str, dict[str, Any]] = {}
        path = self.points_path(source_sha256)
        if path is not None and path.exists():
            bad: list[int] = []
            for number, record in _read_lines(path, bad):
                if not _valid_point_record(record):
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
                self._append(self.directory / "sources.jsonl", canonical_json(record) + "\n")

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
                    except (KeyError, TypeError, ValueError, OverflowError, RecursionError):
                        ok = False
                    if not ok:
                        bad.append(number)
                        continue
                    self._hashes[ident] = sha
                if bad:
                    _warn_bad(path, bad)
        return self._hashes


def _valid_point_record(record: dict[str, Any]) -> bool:
    """A point record as :meth:`MeasurementCache.put` writes it, unaltered (its key and check agree)."""
    try:
        return (
            record.get("v") == _RECORD_VERSION
            and isinstance(record.get("key"), str)
            and isinstance(record.get("context"), dict)
            and isinstance(record.get("point"), dict)
            and record.get("check") == _check(record)
            and point_key(record["context"]) == record["key"]
        )
    except (TypeError, ValueError, OverflowError, RecursionError):
        return False


# -- files --------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    """``parse_constant`` of the reader: NaN and infinities are not JSON, and abrkit never writes them."""
    raise ValueError(f"{name} is not a JSON value")


def _parse_record(raw: bytes) -> Any:
    """One line as strict JSON, or None if it is not (bad UTF-8 or syntax, NaN, too long, too deep)."""
    if len(raw) > MAX_RECORD_BYTES:
        return None
    try:
        text = raw.decode("utf-8")
        if json_too_deep(text) is not None:  # checked before parsing: the parser recurses
            return None
        return json.loads(text, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


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
        record = _parse_record(raw)
        if not isinstance(record, dict):
            bad.append(number)
            continue
        yield number, record



def _warn_bad(path: Path, bad: list[int]) -> None:
    lines = ", ".join(str(n) for n in bad[:10]) + (", ..." if len(bad) > 10 else "")
    warnings.warn(
        f"cache file {path}: skipped {len(bad)} unreadable record(s) (line {lines}): a write interrupted by "
        "a crash, or a line altered or not written by abrkit (NaN, deep nesting, a wrong check); those points "
        "will be measured again",
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
        # Writers in other processes (cluster workers, a second run) append to the same file:
        # an exclusive lock makes "close a torn last line, then append" one step. flock works
        # on local disks and on NFS (Linux maps it to a POSIX lock there); it is released when
        # the file is closed or the process dies, so a killed writer never blocks the others.
        _lock_exclusive(fd)
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


def _lock_exclusive(fd: int) -> None:
    """Block until this process holds the file's exclusive lock (POSIX; a no-op on Windows)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:  # a file system without locks: O_APPEND alone keeps whole writes apart
        pass


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
