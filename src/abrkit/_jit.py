"""One place for abrkit's Numba compile policy.

* Lazy compilation: no eager signatures, so importing abrkit compiles nothing.
* No C-callable wrapper (``no_cfunc_wrapper``): Numba builds one per compiled function for
  ``cfunc``-style first-class use, which abrkit never makes; building and compiling them was
  a few tenths of a second of every first run.
* ``cache=True`` for serial kernels, so a second process skips compilation; never for
  ``parallel=True`` kernels (Numba's cache and parfors interact badly across machines).
* ``ABRKIT_NUMBA_CACHE=0`` turns on-disk caching off (read-only installs, debugging).
* Numba checks a cached kernel against its own source file only, so after an edit to
  ``_kernels/mpc.py`` a cached caller in ``session.py`` would go on running the old, inlined
  code. :func:`drop_stale_cache` therefore deletes abrkit's kernel cache files whenever any
  kernel source (or this file) changed, in every directory where Numba may keep them
  (:func:`numba_cache_dirs`: ``$NUMBA_CACHE_DIR``, ``_kernels/__pycache__`` and the user-wide
  cache directory Numba falls back to for a read-only install or a zip archive); it runs once,
  when this module is imported.
* The first run compiles for a while: when abrkit's kernels have spent more than a second
  compiling, one line says so on stderr (once per process; never when everything comes from
  the cache). ``ABRKIT_QUIET=1`` silences it.
* ``ABRKIT_DISABLE_JIT=1`` runs every kernel as plain Python (slow; for debugging kernels with
  pdb). Numba's own ``NUMBA_DISABLE_JIT`` works too.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any, Callable, TextIO, TypeVar

import numba
import numpy as np
from numba.core import config as numba_config
from numba.core import event as numba_event

F = TypeVar("F", bound=Callable[..., Any])


def _env_flag(name: str, default: str) -> bool:
    return os.environ.get(name, default).strip().lower() in {"1", "true", "yes", "on"}


_CACHE = os.environ.get("ABRKIT_NUMBA_CACHE", "1").strip().lower() not in {"0", "false", "no", "off"}
_DISABLED = _env_flag("ABRKIT_DISABLE_JIT", "0")
_QUIET = _env_flag("ABRKIT_QUIET", "0")

#: The fingerprint file :func:`drop_stale_cache` keeps in every cache directory it looks after.
STAMP_NAME = "abrkit-kernel-sources.sha256"


# --- where Numba caches ---------------------------------------------------------------------


def _user_cache_dir() -> str:
    """Numba's user-wide cache root, as its locators compute it (``AppDirs("numba")``)."""
    try:
        from numba.misc.appdirs import AppDirs
    except ImportError:  # pragma: no cover - every Numba abrkit supports has it
        return os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "numba")
    return str(AppDirs(appname="numba", appauthor=False).user_cache_dir)


def numba_cache_dirs(py_file: str | os.PathLike[str]) -> list[Path]:
    """Every directory where Numba may cache functions defined in ``py_file``, in the order
    Numba's cache locators (``numba/core/caching.py``) try them.

    * ``UserProvidedCacheLocator``: ``$NUMBA_CACHE_DIR/<folder>_<SHA-1 of the folder's path>``;
    * ``InTreeCacheLocator``: ``__pycache__`` next to the file;
    * ``UserWideCacheLocator`` (when ``__pycache__`` cannot be written, e.g. a read-only
      install) and ``ZipCacheLocator`` (a module inside a zip archive, which has only this one):
      Numba's user cache directory (``$XDG_CACHE_HOME/numba``, ``~/.cache/numba``, ...) with
      the same ``<folder>_<SHA-1>`` below it.

    ``IPythonCacheLocator`` serves only functions typed at an IPython prompt, never a module's.
    Numba uses the first of these it can create and write to. A custom locator list
    (``NUMBA_CACHE_LOCATOR_CLASSES``) may add directories this function cannot know.
    """
    path = os.fspath(py_file)
    folder = os.path.dirname(os.path.abspath(path))
    subpath = f"{os.path.basename(folder)}_{hashlib.sha1(folder.encode()).hexdigest()}"
    user_wide = Path(_user_cache_dir(), subpath)
    if not os.path.exists(path):  # inside a zip archive, or a frozen executable's placeholder
        return [user_wide] if ".zip" in path or getattr(sys, "frozen", False) else []
    dirs = [Path(numba_config.CACHE_DIR, subpath)] if numba_config.CACHE_DIR else []
    return [*dirs, Path(os.path.dirname(path), "__pycache__"), user_wide]


def _writable(folder: Path) -> bool:
    """Create ``folder`` if needed and check that it takes a file, as Numba's locators do."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def _sources(source_dir: Path) -> list[tuple[str, bytes]]:
    """(path relative to ``source_dir``, contents) of each ``*.py`` file in ``source_dir`` and
    its subfolders, sorted by path; a folder inside a zip archive is read from the archive."""
    if source_dir.is_dir():
        files = (p for p in source_dir.rglob("*.py") if "__pycache__" not in p.relative_to(source_dir).parts)
        return sorted((p.relative_to(source_dir).as_posix(), p.read_bytes()) for p in files)
    parts = source_dir.parts
    for i, part in enumerate(parts):
        if part.endswith(".zip"):
            inner = PurePosixPath(*parts[i + 1 :])
            try:
                with zipfile.ZipFile(Path(*parts[: i + 1])) as archive:
                    names = [
                        n for n in archive.namelist() if n.endswith(".py") and inner in PurePosixPath(n).parents
                    ]
                    return sorted((PurePosixPath(n).relative_to(inner).as_posix(), archive.read(n)) for n in names)
            except (OSError, zipfile.BadZipFile):
                return []
    return []


def _cache_file_names(modules: Iterable[str]) -> re.Pattern[str]:
    """Numba's index and data files for functions of ``modules``:
    ``<module>.<qualname>-<line>.py<major><minor><abiflags>.nbi`` and ``....<n>.nbc``."""
    alternatives = "|".join(re.escape(m) for m in sorted(modules))
    return re.compile(rf"(?:{alternatives})\.[\w.]+-\w+\.py\d+[a-z]*(?:\.nbi|\.\d+\.nbc)")


def _refresh(folder: Path, fingerprint: str, names: re.Pattern[str]) -> bool:
    """Empty ``folder`` of abrkit's cache files unless its stamp is ``fingerprint``; stamp it."""
    stamp = folder / STAMP_NAME
    try:
        if stamp.read_text() == fingerprint:
            return False
    except OSError:
        pass  # no stamp yet: whatever is cached may predate it
    if not folder.is_dir():
        return False
    try:
        stale = [p for p in folder.iterdir() if names.fullmatch(p.name)]
        for path in stale:
            path.unlink(missing_ok=True)
        partial = folder / f"{STAMP_NAME}.{os.getpid()}.tmp"
        partial.write_text(fingerprint)
        os.replace(partial, stamp)
    except OSError:
        return False
    return bool(stale)


def drop_stale_cache(
    source_dir: Path, also: tuple[Path, ...] = (), cache_dirs: Iterable[Path] | None = None
) -> bool:
    """Delete Numba's cache files for the functions of ``source_dir``'s ``*.py`` files (its
    subfolders' too) unless those sources (and ``also``) are the ones they were built from;
    returns True if it deleted any.

    Every directory Numba may cache them in is checked (``cache_dirs``, by default
    :func:`numba_cache_dirs` of each source file) against its own stamp, a SHA-256 of the
    sources' paths and contents kept in the directory as ``abrkit-kernel-sources.sha256``: a
    directory that ``NUMBA_CACHE_DIR`` named last week may hold old builds while another is
    fresh. Only files named like Numba's caches of functions of those modules are deleted,
    never another package's. For each source folder, the first directory Numba can use is
    created, so that its stamp is there before the first cache file. A directory that cannot
    be written (a read-only install, where Numba caches elsewhere or not at all) is left alone.
    """
    sources = _sources(source_dir)
    digest = hashlib.sha256()
    for name, data in sources:
        digest.update(name.encode() + b"\0" + data + b"\0")
    for path in sorted(also):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    if cache_dirs is None:
        choices = {tuple(numba_cache_dirs(source_dir / name)) for name, _ in sources}
    else:
        choices = {tuple(cache_dirs)}
    dirs: list[Path] = []
    for candidates in sorted(choices):
        for folder in candidates:  # create the directory Numba will write to, as Numba would
            if _writable(folder):
                break
        dirs += [d for d in candidates if d not in dirs]
    names = _cache_file_names(PurePosixPath(name).stem for name, _ in sources)
    dropped = False
    for folder in dirs:
        dropped |= _refresh(folder, digest.hexdigest(), names)
    return dropped


# --- a private cache directory (one per cluster worker) -----------------------------------------


_KERNEL_DIR = Path(__file__).with_name("_kernels")


def use_cache_dir(directory: str | os.PathLike[str]) -> Path:
    """Make this process cache abrkit's kernels in ``directory`` (its own), seeded from the
    cache it used so far; returns the folder the kernels of ``_kernels`` now cache in.

    For cluster workers: processes that share one cache directory may corrupt it when they
    write the same kernel at once (numba#4807), so each worker writes only to a directory of
    its own. Numba picks a dispatcher's cache locator when the dispatcher is made, at import,
    so this sets ``NUMBA_CACHE_DIR`` (for Numba's config and child processes) and then rebuilds
    the cache of every dispatcher :func:`njit` made (``Dispatcher.enable_caching``). The cache
    this process used so far (the in-tree ``__pycache__`` the client just filled, for example)
    seeds the folder: its files that are missing here or newer than the copies here are copied
    in (all of them, after emptying the folder, when the folder was built from other sources),
    so a warm machine does not recompile in every worker; calling this again re-seeds. Kernels
    already compiled in this process stay usable. With caching off (``ABRKIT_NUMBA_CACHE=0``) or
    the JIT disabled, nothing happens.
    """
    target_root = Path(directory).expanduser().resolve()
    sub = numba_cache_dirs(_KERNEL_DIR / "session.py")
    if _DISABLED or not _CACHE or not sub:
        return target_root
    target = target_root / sub[-1].name  # <folder>_<SHA-1>, as Numba's locators name it
    # where this process cached so far (after a first call, Numba's CACHE_DIR is ``target``: skip it)
    old = [d for d in sub if d != target and d.is_dir() and (d / STAMP_NAME).is_file()]
    target.mkdir(parents=True, exist_ok=True)
    names = _cache_file_names(PurePosixPath(n).stem for n, _ in _sources(_KERNEL_DIR))
    try:
        mine = (target / STAMP_NAME).read_text()
    except OSError:
        mine = ""
    for folder in old:
        stamp = (folder / STAMP_NAME).read_text()
        if stamp != mine:  # built from other sources: start over from the seed
            for path in target.iterdir():
                if names.fullmatch(path.name):
                    path.unlink(missing_ok=True)
        for path in folder.iterdir():
            if not names.fullmatch(path.name):
                continue
            mine_path = target / path.name
            try:
                if mine_path.stat().st_mtime_ns >= path.stat().st_mtime_ns:
                    continue  # this worker's copy is as new (it may hold overloads of its own)
            except FileNotFoundError:
                pass
            partial = target / f".{path.name}.{os.getpid()}.tmp"  # copy, then rename: never half a file
            partial.write_bytes(path.read_bytes())
            os.utime(partial, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns))
            os.replace(partial, mine_path)
        partial = target / f"{STAMP_NAME}.{os.getpid()}.tmp"
        partial.write_text(stamp)
        os.replace(partial, target / STAMP_NAME)
        break
    os.environ["NUMBA_CACHE_DIR"] = str(target_root)
    numba_config.CACHE_DIR = str(target_root)
    drop_stale_cache(_KERNEL_DIR, (Path(__file__),), cache_dirs=[target])
    for dispatcher in _CACHED:
        dispatcher.enable_caching()
    return target


# --- a line on stderr while kernels compile -------------------------------------------------


def _is_abrkit_compile(event: numba_event.Event) -> bool:
    data = event.data
    dispatcher = data.get("dispatcher") if isinstance(data, dict) else None
    module = getattr(getattr(dispatcher, "py_func", None), "__module__", None) or ""
    return module == "abrkit" or module.startswith("abrkit.")


class CompileNotice(numba_event.Listener):
    """A ``numba:compile`` listener that prints ``message`` once, when abrkit's kernels have
    spent more than ``delay_s`` compiling in all (nested compiles count once; another
    package's compiles not at all). Cache hits raise no compile event, so a warm run is silent.
    """

    def __init__(self, message: str, delay_s: float = 1.0, stream: TextIO | None = None) -> None:
        self.message = message
        self.delay_s = delay_s
        self.stream = stream
        self.shown = False
        self._lock = threading.Lock()
        self._depth = 0
        self._spent_s = 0.0
        self._since = 0.0
        self._timer: threading.Timer | None = None

    def on_start(self, event: numba_event.Event) -> None:
        if not _is_abrkit_compile(event):
            return
        with self._lock:
            self._depth += 1
            if self._depth > 1 or self.shown:
                return
            self._since = time.perf_counter()
            self._timer = threading.Timer(max(0.0, self.delay_s - self._spent_s), self._show)
            self._timer.daemon = True
            self._timer.start()

    def on_end(self, event: numba_event.Event) -> None:
        if not _is_abrkit_compile(event):
            return
        with self._lock:
            self._depth = max(0, self._depth - 1)
            if self._depth:
                return
            self._spent_s += time.perf_counter() - self._since
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _show(self) -> None:
        with self._lock:
            if self.shown or not self._depth:
                return
            self.shown = True
        try:
            print(self.message, file=self.stream or sys.stderr, flush=True)
        except (OSError, ValueError):  # stderr closed
            pass


_NOTICE_DELAY_S = 1.0
_notice: CompileNotice | None = None


def _install_compile_notice() -> CompileNotice | None:
    if _DISABLED or _QUIET or numba_config.DISABLE_JIT:
        return None
    note = "first run; cached for next time" if _CACHE else "on-disk cache off: ABRKIT_NUMBA_CACHE=0"
    notice = CompileNotice(f"abrkit: compiling simulation kernels ({note})...", _NOTICE_DELAY_S)
    numba_event.register("numba:compile", notice)
    return notice


if not _DISABLED:
    if _CACHE:
        drop_stale_cache(Path(__file__).with_name("_kernels"), (Path(__file__),))
    _notice = _install_compile_notice()


#: Every cached dispatcher made by :func:`njit` / :func:`njit_inline`, for :func:`use_cache_dir`.
_CACHED: list[Any] = []


#: ``jit_options`` of abrkit's ``@overload``s: Numba's defaults for them (no CPython wrapper)
#: and, as for every kernel here, no C-callable wrapper.
OVERLOAD_OPTIONS = {"no_cpython_wrapper": True, "no_cfunc_wrapper": True}


def njit(func: F) -> F:
    """Compile a serial kernel: nopython, fastmath off (exact IEEE results), cached if allowed."""
    if _DISABLED:
        return func
    dispatcher = numba.njit(cache=_CACHE, nogil=True, no_cfunc_wrapper=True)(func)
    _CACHED.append(dispatcher)
    return dispatcher  # type: ignore[no-any-return]


def njit_inline(func: F) -> F:
    """A small helper inlined into its callers at Numba's IR level.

    For the innermost predictor helpers: a call that passes arrays costs reference counting
    that can exceed the helper's own arithmetic (measured: EWMA updates 19 -> 40 million/s).
    Inlining costs compile time, so it is kept for helpers of a few lines.
    """
    if _DISABLED:
        return func
    dispatcher = numba.njit(cache=_CACHE, nogil=True, inline="always", no_cfunc_wrapper=True)(func)
    _CACHED.append(dispatcher)
    return dispatcher  # type: ignore[no-any-return]


def njit_parallel(func: F) -> F:
    """Compile a kernel that uses ``prange``; never cached (see module docstring)."""
    if _DISABLED:
        return func
    return numba.njit(parallel=True, cache=False, nogil=True)(func)  # type: ignore[return-value]


class LiteralEntry:
    """Call a kernel compiled for the *values* of some of its integer arguments.

    The loops specialise on the controller and predictor ids with ``numba.literally``. Called
    from Python, Numba resolves such a call by failing a compile with plain ``int64`` types
    first, on every call (measured: 6 ms for a one-line kernel, far more for a session loop).
    This wrapper compiles (or loads from the cache) the literal signature once per argument
    types and id values, then calls that compiled entry point directly (about 2 us). With the
    JIT disabled it calls the plain function.
    """

    def __init__(self, dispatcher: Callable[..., Any], literal_args: tuple[str, ...]) -> None:
        self._dispatcher = dispatcher
        self.py_func = getattr(dispatcher, "py_func", dispatcher)
        names = list(inspect.signature(self.py_func).parameters)
        self._positions = tuple(names.index(n) for n in literal_args)
        self._entries: dict[tuple[Any, ...], Callable[..., Any]] = {}
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> Any:
        if not hasattr(self._dispatcher, "overloads"):  # the JIT is disabled
            return self._dispatcher(*args)
        key = tuple(map(_arg_key, args)) + tuple(int(args[i]) for i in self._positions)
        entry = self._entries.get(key)
        if entry is None:
            from numba.core import types
            from numba.core.typing.typeof import Purpose, typeof

            sig = tuple(
                types.literal(int(a)) if i in self._positions else typeof(a, Purpose.argument) for i, a in enumerate(args)
            )
            with self._lock:
                self._dispatcher.compile(sig)  # type: ignore[attr-defined]
                entry = self._dispatcher.overloads[sig].entry_point  # type: ignore[attr-defined]
                self._entries[key] = entry
        return entry(*args)


def _arg_key(a: Any) -> Any:
    """What Numba's type of an argument depends on, cheaply (no typeof per call)."""
    if isinstance(a, np.ndarray):
        return (a.dtype.str, a.ndim, a.flags.c_contiguous, a.flags.f_contiguous, a.flags.writeable, a.flags.aligned)
    if isinstance(a, tuple):  # a group of arrays (_kernels.groups): typed by its fields
        return (type(a), *map(_arg_key, a))
    return type(a)


def prange(*args: int) -> range:
    """``numba.prange`` inside compiled code, ``range`` when the JIT is disabled."""
    return range(*args)


if not _DISABLED:
    prange = numba.prange  # type: ignore[assignment]  # noqa: F811
