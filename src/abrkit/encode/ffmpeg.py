"""Find, check and run ffmpeg.

Which binary (:func:`find_ffmpeg`), in this order:

1. the ``path`` argument, if given;
2. the environment variable ``ABRKIT_FFMPEG``, if set and not empty;
3. the binary shipped by the ``imageio-ffmpeg`` wheel (a dependency of abrkit);
4. ``ffmpeg`` on ``PATH``.

An explicit choice (1 or 2) that does not work is an error; it never silently falls back to
another binary. Each binary found is checked once (``ffmpeg -version``) and cached per path.

Capabilities (encoders, filters, the libvmaf version, loopback decoding) are checked lazily,
the first time they are asked for, and cached on the :class:`FFmpeg` object. Failures raise
:class:`~abrkit.errors.ToolNotFoundError` with a message that says what is missing and how to
get it.

Every run goes through :meth:`FFmpeg.run`: an argv list (never a shell string), ``-nostdin``,
progress read from ``-progress pipe:1``, stderr kept, and a non-zero exit turned into
:class:`~abrkit.errors.FFmpegError` with the command and the tail of stderr. Values put inside
a filtergraph go through :func:`escape_filter_value`. Runs that write files use their own
directory from :func:`temp_run_dir`.

Paths handed to ffmpeg as inputs or outputs should go through :func:`file_url`, so a file name
such as ``http:x.mp4`` or ``concat:a`` is never read as a protocol.

Ending cleanly
--------------
* An ffmpeg child dies with abrkit: on Linux each child asks the kernel for ``SIGKILL`` when
  the thread that started it ends (``prctl(PR_SET_PDEATHSIG)``, set between ``fork`` and
  ``exec``), so even a ``kill -9`` of the Python process leaves no encoder running. Elsewhere
  (macOS, Windows) the child is killed whenever Python itself unwinds: an exception, Ctrl-C
  (``KeyboardInterrupt``) or a timeout in :meth:`FFmpeg.run` kills and reaps it.
* Temporary directories (``abrkit-ffmpeg-*``, ``abrkit-ladder-*``) carry their owner in their
  name: process id, process start time, host. The first :func:`temp_run_dir` of a process
  removes those of this user whose owner process is gone (:func:`remove_stale_run_dirs`), which
  is what a killed run leaves behind; directories of live processes, of other hosts or users,
  and directories not named that way are never touched. POSIX only: on Windows a killed run's
  directories stay until the system cleans its temporary folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ..errors import FFmpegError, ToolNotFoundError

__all__ = [
    "ENV_VAR",
    "FFmpeg",
    "find_ffmpeg",
    "escape_filter_value",
    "file_url",
    "temp_run_dir",
    "remove_stale_run_dirs",
    "TEMP_PREFIXES",
    "progress_fields",
]

#: Environment variable naming the ffmpeg binary to use.
ENV_VAR = "ABRKIT_FFMPEG"

_HOW_TO_FIX = (
    "install the ffmpeg abrkit uses by default with `pip install imageio-ffmpeg`, "
    f"or set {ENV_VAR} to the path of a working ffmpeg binary"
)
_VERSION_TIMEOUT_S = 30.0

# One FFmpeg object per resolved path, so capability checks run once per process.
_FOUND: dict[str, "FFmpeg"] = {}
_FOUND_LOCK = threading.Lock()


@dataclass(frozen=True)
class FFmpeg:
    """A working ffmpeg binary.

    Use :func:`find_ffmpeg` to get one; it checks that the binary runs and reads its version.

    Attributes
    ----------
    path : str
        Absolute path of the binary.
    version : str
        The version string ffmpeg prints (``n9.0.2-17-g2a571b6068-20260930`` for example).
    """

    path: str
    version: str
    _cache: dict = field(default_factory=dict, repr=False, compare=False, hash=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False, hash=False)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Picklable for worker processes: the path and version travel, caches and lock do not.
        return (FFmpeg, (self.path, self.version))

    # -- capabilities -------------------------------------------------------------------------

    def encoders(self) -> frozenset[str]:
        """Names of the encoders this ffmpeg has (``libx264``, ``libsvtav1``, ...); cached."""
        return self._cached("encoders", lambda: _parse_listing(self._query(["-encoders"])))

    def filters(self) -> frozenset[str]:
        """Names of the filters this ffmpeg has (``libvmaf``, ``scale``, ...); cached."""
        return self._cached("filters", lambda: _parse_listing(self._query(["-filters"])))

    def has_encoder(self, name: str) -> bool:
        """True if this ffmpeg has the encoder ``name``."""
        return name in self.encoders()

    def has_filter(self, name: str) -> bool:
        """True if this ffmpeg has the filter ``name``."""
        return name in self.filters()

    def require_encoder(self, name: str) -> None:
        """Raise :class:`ToolNotFoundError` unless this ffmpeg has the encoder ``name``."""
        if not self.has_encoder(name):
            raise ToolNotFoundError(
                f"the ffmpeg at {self.path} (version {self.version}) has no encoder {name!r}; "
                f"{_HOW_TO_FIX} (the imageio-ffmpeg build has libx264, libx265, libsvtav1 and libvpx-vp9)"
            )

    def require_filter(self, name: str) -> None:
        """Raise :class:`ToolNotFoundError` unless this ffmpeg has the filter ``name``."""
        if not self.has_filter(name):
            extra = " built with --enable-libvmaf" if name == "libvmaf" else ""
            raise ToolNotFoundError(
                f"the ffmpeg at {self.path} (version {self.version}) has no {name!r} filter; "
                f"{_HOW_TO_FIX}{extra} (the imageio-ffmpeg build has libvmaf with its built-in models)"
            )

    @property
    def libvmaf_version(self) -> str | None:
        """The libvmaf version (as libvmaf writes it in its logs), or None if unknown.

        Found by scoring one tiny synthetic frame pair; cached. None when this ffmpeg has no
        libvmaf or the run fails.
        """
        return self._cached("libvmaf_version", self._read_libvmaf_version)

    @property
    def has_loopback_decoder(self) -> bool:
        """True if this ffmpeg can decode its own encoder output in the same run (``-dec``).

        Loopback decoders arrived in ffmpeg 7.1; checked with a tiny run, cached.
        """
        return self._cached("loopback", self._check_loopback)

    # -- running ------------------------------------------------------------------------------

    def run(
        self,
        args: Sequence[str | os.PathLike[str]],
        *,
        cwd: str | os.PathLike[str] | None = None,
        progress: Callable[[float], None] | None = None,
        total_s: float | None = None,
        timeout_s: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ffmpeg with ``args`` and wait for it.

        The command is ``[path, "-nostdin", "-hide_banner", "-nostats", "-progress", "pipe:1",
        *args]``: standard output is reserved for ffmpeg's progress reports, so write data
        outputs to files. Standard error is collected.

        Parameters
        ----------
        args : sequence of str
            ffmpeg arguments (inputs, filters, outputs), one argv element each.
        cwd : path, optional
            Working directory of the run (for example one from :func:`temp_run_dir`).
        progress : callable, optional
            Called with the fraction done, from 0 to 1, as ffmpeg reports its output time;
            called with 1.0 when ffmpeg reports the end. Without ``total_s`` only the final
            1.0 is reported. An exception raised by it stops ffmpeg and propagates.
        total_s : float, optional
            Expected duration of the output in seconds, used to turn output time into a fraction.
        timeout_s : float, optional
            Kill ffmpeg and raise :class:`FFmpegError` after this many seconds.

        Returns
        -------
        subprocess.CompletedProcess
            ``stdout`` holds the progress reports (see :func:`progress_fields`), ``stderr``
            ffmpeg's log.

        Raises
        ------
        FFmpegError
            ffmpeg exited with a non-zero code, or was killed after ``timeout_s``.
        """
        cmd = [self.path, "-nostdin", "-hide_banner", "-nostats", "-progress", "pipe:1"]
        cmd += [os.fspath(a) if isinstance(a, os.PathLike) else str(a) for a in args]
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=None if cwd is None else os.fspath(cwd),
                preexec_fn=_die_with_parent(),
            )
        except OSError as err:
            raise ToolNotFoundError(f"cannot run ffmpeg at {self.path}: {err}; {_HOW_TO_FIX}") from err

        err_chunks: list[bytes] = []
        err_reader = threading.Thread(target=_drain, args=(proc.stderr, err_chunks), daemon=True)
        err_reader.start()
        timed_out = threading.Event()
        timer = None
        if timeout_s is not None:
            timer = threading.Timer(float(timeout_s), _kill_on_timeout, args=(proc, timed_out))
            timer.daemon = True
            timer.start()

        out_lines: list[str] = []
        last_fraction = -1.0
        try:
            for raw in proc.stdout:  # type: ignore[union-attr]
                line = raw.decode("utf-8", "replace").strip()
                out_lines.append(line)
                if progress is None:
                    continue
                fraction = None
                if line == "progress=end":
                    fraction = 1.0
                elif line.startswith("out_time_us=") and total_s:
                    value = line.partition("=")[2]
                    if value.lstrip("-").isdigit():
                        fraction = min(max(int(value) / 1e6 / float(total_s), 0.0), 1.0)
                if fraction is not None and fraction > last_fraction:
                    last_fraction = fraction
                    progress(fraction)
            returncode = _wait_counting(proc)
        finally:
            if proc.poll() is None:  # interrupted (an exception in progress, Ctrl-C, ...)
                proc.kill()
                proc.wait()
            if timer is not None:
                timer.cancel()
            err_reader.join()
            proc.stdout.close()  # type: ignore[union-attr]
            proc.stderr.close()  # type: ignore[union-attr]

        stderr = b"".join(err_chunks).decode("utf-8", "replace")
        if timed_out.is_set():
            raise FFmpegError(cmd, returncode, stderr + f"\n[abrkit] killed after timeout_s={timeout_s:g}")
        if returncode != 0:
            raise FFmpegError(cmd, returncode, stderr)
        return subprocess.CompletedProcess(cmd, returncode, "\n".join(out_lines), stderr)

    # -- internals ----------------------------------------------------------------------------

    def _cached(self, key: str, compute: Callable[[], object]):  # type: ignore[no-untyped-def]
        with self._lock:
            if key not in self._cache:
                self._cache[key] = compute()
            return self._cache[key]

    def _query(self, args: list[str]) -> str:
        """stdout of a quick informational run (``-encoders``, ``-filters``)."""
        try:
            done = subprocess.run(
                [self.path, "-hide_banner", *args],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=_VERSION_TIMEOUT_S,
                preexec_fn=_die_with_parent(),
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise ToolNotFoundError(f"broken ffmpeg at {self.path}: {err}; {_HOW_TO_FIX}") from err
        if done.returncode != 0:
            raise FFmpegError([self.path, "-hide_banner", *args], done.returncode, done.stderr.decode("utf-8", "replace"))
        return done.stdout.decode("utf-8", "replace")

    def _read_libvmaf_version(self) -> str | None:
        if not self.has_filter("libvmaf"):
            return None
        source = "color=c=gray:s=176x144:r=1:d=1"
        with temp_run_dir() as tmp:
            try:
                self.run(
                    ["-f", "lavfi", "-i", source, "-f", "lavfi", "-i", source,
                     "-filter_complex", "[0:v][1:v]libvmaf=log_fmt=json:log_path=version.json",
                     "-f", "null", "-"],
                    cwd=tmp, timeout_s=60,
                )
                log = json.loads((tmp / "version.json").read_text(encoding="utf-8"))
            except (FFmpegError, OSError, ValueError):
                return None
        version = log.get("version") if isinstance(log, dict) else None
        return str(version) if version else None

    def _check_loopback(self) -> bool:
        try:
            self.run(
                ["-f", "lavfi", "-i", "color=s=32x32:r=5:d=0.4", "-map", "0:v", "-c:v", "rawvideo", "-f", "null", "-",
                 "-dec", "0:0", "-filter_complex", "[dec:0]null[loop]", "-map", "[loop]", "-f", "null", "-"],
                timeout_s=60,
            )
        except FFmpegError:
            return False
        return True


# -- children die with their parent ------------------------------------------------------------

_PR_SET_PDEATHSIG = 1
_PRCTL: Callable[..., int] | None | bool = False  # False: not looked up yet; None: unavailable


def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` on Linux (looked up once, in the parent), else None."""
    global _PRCTL
    if _PRCTL is False:
        found = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
                found = libc.prctl
                found.restype = ctypes.c_int
                found.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
            except (OSError, AttributeError, ImportError):
                found = None
        _PRCTL = found
    return _PRCTL  # type: ignore[return-value]


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL when its parent thread ends (Linux), else None.

    It runs in the child between ``fork`` and ``exec`` and only calls ``prctl`` (looked up in
    the parent beforehand) and ``getppid``: if the parent already died before the request was
    made, the child kills itself rather than run orphaned.
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def _drain(stream, chunks: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    for chunk in iter(lambda: stream.read(65536), b""):
        chunks.append(chunk)


_CPU = threading.local()


def child_cpu_s() -> float:
    """CPU seconds (user + system) of the ffmpeg runs this thread has waited for so far.

    Measured per child with ``wait4`` (POSIX), so concurrent runs on other threads never count;
    the difference across a piece of work is what that work's ffmpeg processes cost. 0 where
    ``wait4`` does not exist (Windows).
    """
    return float(getattr(_CPU, "seconds", 0.0))


def _wait_counting(proc: subprocess.Popen) -> int:  # type: ignore[type-arg]
    """``proc.wait()``, adding the child's CPU time to :func:`child_cpu_s` where the OS says it."""
    if not hasattr(os, "wait4"):
        return proc.wait()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:  # reaped already (cannot happen here, but Popen must stay right)
        return proc.wait()
    proc.returncode = os.waitstatus_to_exitcode(status)
    _CPU.seconds = child_cpu_s() + usage.ru_utime + usage.ru_stime
    return proc.returncode


def _kill_on_timeout(proc: subprocess.Popen, flag: threading.Event) -> None:  # type: ignore[type-arg]
    if proc.poll() is None:
        flag.set()
        proc.kill()


def _parse_listing(text: str) -> frozenset[str]:
    """Names from ``ffmpeg -encoders`` / ``-filters``: the second column after the ``------`` rule."""
    names = set()
    started = False
    for line in text.splitlines():
        if not started:
            started = line.strip().startswith("---")
            continue
        parts = line.split()
        if len(parts) >= 2:
            names.add(parts[1])
    return frozenset(names)


def progress_fields(progress_text: str) -> dict[str, str]:
    """The last block of ``-progress`` output (``frame``, ``out_time_us``, ...) as a dict.

    ``progress_text`` is the ``stdout`` of :meth:`FFmpeg.run`.
    """
    fields: dict[str, str] = {}
    block: dict[str, str] = {}
    for line in progress_text.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        block[key.strip()] = value.strip()
        if key.strip() == "progress":
            fields, block = block, {}
    return fields or block


# -- finding the binary -------------------------------------------------------------------------


def find_ffmpeg(path: str | os.PathLike[str] | None = None) -> FFmpeg:
    """The ffmpeg binary to use, checked and cached.

    Parameters
    ----------
    path : str or path, optional
        An explicit binary (a path, or a command name looked up on ``PATH``). Without it:
        the ``ABRKIT_FFMPEG`` environment variable, then the imageio-ffmpeg binary, then
        ``ffmpeg`` on ``PATH``.

    Raises
    ------
    ToolNotFoundError
        No ffmpeg was found, or the one chosen does not exist, is not executable or does not
        run ("broken ffmpeg"). The message says how to fix it.
    """
    if path is not None:
        return _load(_locate(os.fspath(path), "path argument"))
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return _load(_locate(env, f"environment variable {ENV_VAR}"))

    problems = []
    try:
        import imageio_ffmpeg

        bundled = imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as err:  # ImportError, or RuntimeError when the wheel has no binary
        problems.append(f"imageio-ffmpeg: {err}")
    else:
        try:
            return _load(str(bundled))
        except ToolNotFoundError as err:
            problems.append(f"imageio-ffmpeg: {err}")
    on_path = shutil.which("ffmpeg")
    if on_path is not None:
        return _load(on_path)
    problems.append("no `ffmpeg` on PATH")
    raise ToolNotFoundError(f"ffmpeg not found ({'; '.join(problems)}); {_HOW_TO_FIX}")


def _locate(name: str, where: str) -> str:
    if os.sep in name or (os.altsep and os.altsep in name) or Path(name).exists():
        if not Path(name).exists():
            raise ToolNotFoundError(f"ffmpeg not found: {where} is {name!r}, which does not exist; {_HOW_TO_FIX}")
        return name
    found = shutil.which(name)
    if found is None:
        raise ToolNotFoundError(f"ffmpeg not found: {where} is {name!r}, which is not on PATH; {_HOW_TO_FIX}")
    return found


def _load(path: str) -> FFmpeg:
    resolved = str(Path(path).resolve())
    with _FOUND_LOCK:
        if resolved in _FOUND:
            return _FOUND[resolved]
    if Path(resolved).is_dir():
        raise ToolNotFoundError(f"broken ffmpeg: {resolved} is a directory, not a program; {_HOW_TO_FIX}")
    if not os.access(resolved, os.X_OK):
        raise ToolNotFoundError(f"broken ffmpeg: {resolved} is not executable; {_HOW_TO_FIX}")
    try:
        done = subprocess.run(
            [resolved, "-hide_banner", "-version"],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=_VERSION_TIMEOUT_S,
            preexec_fn=_die_with_parent(),
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ToolNotFoundError(f"broken ffmpeg at {resolved}: it does not run ({err}); {_HOW_TO_FIX}") from err
    text = done.stdout.decode("utf-8", "replace")
    match = re.match(r"\s*ffmpeg version (\S+)", text)
    if done.returncode != 0 or match is None:
        said = (text + done.stderr.decode("utf-8", "replace")).strip().splitlines()
        hint = said[-1] if said else "no output"
        raise ToolNotFoundError(
            f"broken ffmpeg at {resolved}: `-version` exited with code {done.returncode} "
            f"and did not print an ffmpeg version ({hint}); {_HOW_TO_FIX}"
        )
    found = FFmpeg(path=resolved, version=match.group(1))
    with _FOUND_LOCK:
        return _FOUND.setdefault(resolved, found)


# -- escaping, file URLs, temporary directories -------------------------------------------------

# Level 1: inside one filter option value, ':' separates options; '\' and "'" escape and quote.
_OPTION_SPECIALS = frozenset("\\':")
# Level 2: the filtergraph description, where '[' ']' label pads, ',' ';' separate filters
# and chains; '\' and "'" escape and quote again.
_GRAPH_SPECIALS = frozenset("\\'[],;")


def _backslash(text: str, specials: frozenset[str]) -> str:
    # Whitespace is escaped too: ffmpeg strips unescaped leading and trailing whitespace.
    return "".join("\\" + c if (c in specials or c.isspace()) else c for c in text)


def escape_filter_value(value: str | os.PathLike[str]) -> str:
    r"""Escape ``value`` for use as one option value in an ffmpeg filtergraph string.

    ffmpeg parses a filtergraph in two levels (see "Notes on filtergraph escaping" in the
    ffmpeg-filters manual): the graph parser splits on ``[ ] , ;`` and then each filter splits
    its arguments on ``:``; both levels treat ``\`` as escape and ``'`` as quote, and both
    drop unescaped leading and trailing whitespace. This function applies the first level
    (``\ ' :`` and whitespace), then the second to the result (``\ ' [ ] , ;`` and
    whitespace), so that ``log_path=`` + ``escape_filter_value(p)`` reaches the filter as ``p``
    exactly, whatever characters ``p`` holds. The result is an argv element: no shell quoting
    is involved.

    For example ``a:b`` becomes ``a\:b`` after the first level and ``a\\:b`` after the
    second; ``x[1]`` becomes ``x\[1\]``.
    """
    text = os.fspath(value)
    if not isinstance(text, str):
        text = os.fsdecode(text)
    return _backslash(_backslash(text, _OPTION_SPECIALS), _GRAPH_SPECIALS)


def file_url(path: str | os.PathLike[str]) -> str:
    """``file:`` + the absolute path, so ffmpeg never reads a file name as a protocol or option."""
    return "file:" + str(Path(path).absolute())


#: Name prefixes of abrkit's temporary directories (:func:`temp_run_dir`).
TEMP_PREFIXES = ("abrkit-ffmpeg-", "abrkit-ladder-")
# After the prefix, a run directory's name says who made it: "<pid>.<start>.<host>-<random>",
# start being the process's start time in clock ticks ("x" when unknown) and host a hash of
# the host name.
_OWNER_NAME = re.compile(r"(?P<pid>[0-9]{1,10})\.(?P<start>[0-9]{1,20}|x)\.(?P<host>[0-9a-f]{8})-")
_SWEPT: set[str] = set()
_SWEPT_LOCK = threading.Lock()


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), else None.

    Together with the pid it names a process uniquely: a recycled pid has a later start.
    """
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as fh:
            text = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # after the command name, which may hold spaces
    start = fields[19] if len(fields) > 19 else None  # field 22 of proc(5): starttime
    return start if start is not None and start.isdigit() else None


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _owner_tag() -> str:
    """``<pid>.<start>.<host>``: this process, as a run directory's name records it."""
    pid = os.getpid()
    return f"{pid}.{_process_start(pid) or 'x'}.{_host_tag()}"


def _alive(pid: int, start: str | None) -> bool:
    """Whether the process that made a directory still runs (a recycled pid does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, as another user's process
        return True
    if start is None:
        return True
    now = _process_start(pid)
    return now is None or now == start


def _stale(path: Path, host: str, uid: int) -> bool:
    """True if ``path`` is one of this user's run directories whose owner process is gone."""
    name = path.name
    prefix = next((p for p in TEMP_PREFIXES if name.startswith(p)), None)
    owner = None if prefix is None else _OWNER_NAME.match(name, len(prefix))
    if owner is None or owner["host"] != host:
        return False  # not named by this abrkit (an older one, another tool), or another host's
    pid = int(owner["pid"])
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid:
        return False
    return not _alive(pid, None if owner["start"] == "x" else owner["start"])


def remove_stale_run_dirs(directory: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove the temporary directories that killed abrkit runs left behind; returns them.

    Looks in ``directory`` (default: :func:`tempfile.gettempdir`) for directories named
    ``abrkit-ffmpeg-<owner>-*`` or ``abrkit-ladder-<owner>-*`` that belong to this user and
    whose owner (process id, process start time, host) is a process of this host that no
    longer runs. Anything else is left alone: directories of running processes, of other hosts
    sharing the folder, of other users, and directories not named that way. Does nothing on
    Windows, where this way of asking whether a process is alive does not exist.
    """
    if os.name != "posix":
        return []
    base = Path(tempfile.gettempdir() if directory is None else directory)
    try:
        names = [n for n in os.listdir(base) if n.startswith(TEMP_PREFIXES)]
    except OSError:
        return []
    host, uid = _host_tag(), os.getuid()
    removed = []
    for name in sorted(names):
        path = base / name
        if _stale(path, host, uid):
            shutil.rmtree(path, ignore_errors=True)
            if not os.path.lexists(path):
                removed.append(path)
    return removed


def _sweep_once() -> None:
    base = tempfile.gettempdir()
    with _SWEPT_LOCK:
        if base in _SWEPT:
            return
        _SWEPT.add(base)
    remove_stale_run_dirs(base)


@contextlib.contextmanager
def temp_run_dir(prefix: str = "abrkit-ffmpeg-") -> Iterator[Path]:
    """A fresh temporary directory for one ffmpeg run (logs, packet lists, encoder stats).

    Removed with its contents on exit. Its name records its owner after ``prefix``
    (``abrkit-ffmpeg-<pid>.<start>.<host>-<random>``), so that if this process is killed, the
    next abrkit process to make a run directory removes it (:func:`remove_stale_run_dirs`, run
    once per process).
    """
    _sweep_once()
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{_owner_tag()}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
