"""The compile policy in ``abrkit._jit``.

* The kernel cache guard: Numba's on-disk cache of abrkit's kernels is dropped whenever any
  kernel source changes, in every directory Numba may cache them in (``NUMBA_CACHE_DIR``,
  ``_kernels/__pycache__``, the user-wide directory of a read-only install). The end-to-end
  tests copy the package to a temporary directory, add a caller/callee pair of kernels, run
  them in fresh processes, edit the callee and check that the new code runs.
* The compile notice: one line on stderr while kernels compile, once, only past a delay.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import numba
import numpy as np
import pytest
from numba.core import caching
from numba.core import config as numba_config
from numba.core import event as numba_event

import abrkit
from abrkit import _jit
from abrkit._jit import STAMP_NAME, CompileNotice, drop_stale_cache, numba_cache_dirs

PACKAGE = Path(abrkit.__file__).resolve().parent
PY = f"py{sys.version_info[0]}{sys.version_info[1]}"


@pytest.fixture(autouse=True)
def _private_numba_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test here writes to the user's own Numba cache directories."""
    monkeypatch.setattr(numba_config, "CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def _cached(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.nb?"))


# --- the guard, in-process ------------------------------------------------------------------


def test_cache_survives_until_a_source_changes(tmp_path: Path) -> None:
    src = tmp_path / "_kernels"
    cache = src / "__pycache__"
    cache.mkdir(parents=True)
    (src / "a.py").write_text("x = 1\n")
    (src / "b.py").write_text("y = 2\n")
    extra = tmp_path / "_jit.py"
    extra.write_text("z = 3\n")
    (cache / f"a.f-1.{PY}.nbi").write_bytes(b"old")
    assert drop_stale_cache(src, (extra,))  # no fingerprint yet: the cache may predate it
    assert _cached(cache) == []

    for name in (f"a.f-1.{PY}.nbi", f"a.f-1.{PY}.1.nbc", f"b.g-4.{PY}.nbi"):
        (cache / name).write_bytes(b"new")
    assert not drop_stale_cache(src, (extra,))  # same sources: kept
    assert len(_cached(cache)) == 3

    (src / "b.py").write_text("y = 20\n")  # a callee changes: its callers' caches go too
    assert drop_stale_cache(src, (extra,))
    assert _cached(cache) == []

    (cache / f"a.f-1.{PY}.nbi").write_bytes(b"new")
    extra.write_text("z = 30\n")  # so does a change of the compile policy
    assert drop_stale_cache(src, (extra,))
    (cache / f"a.f-1.{PY}.nbi").write_bytes(b"new")
    (src / "c.py").write_text("")  # and a new kernel module
    assert drop_stale_cache(src, (extra,))


def test_an_unwritable_cache_is_left_alone(tmp_path: Path) -> None:
    src = tmp_path / "_kernels"
    src.mkdir()
    (src / "a.py").write_text("x = 1\n")
    (src / "__pycache__").write_text("not a directory")  # stands in for a read-only install
    assert not drop_stale_cache(src, cache_dirs=[src / "__pycache__"])


def test_every_cache_directory_is_checked_against_its_own_stamp(tmp_path: Path) -> None:
    src = tmp_path / "_kernels"
    src.mkdir()
    (src / "a.py").write_text("x = 1\n")
    old_dir, new_dir = tmp_path / "cache-last-week", tmp_path / "cache-today"
    assert not drop_stale_cache(src, cache_dirs=[new_dir])  # created (Numba's choice) and stamped
    assert (new_dir / STAMP_NAME).is_file()
    (src / "a.py").write_text("x = 2\n")
    assert not drop_stale_cache(src, cache_dirs=[new_dir])  # stamped again, nothing there to drop
    (new_dir / f"a.f-1.{PY}.nbi").write_bytes(b"built from x = 2")

    old_dir.mkdir()  # built from x = 1, and only its own stamp can tell
    (old_dir / STAMP_NAME).write_text("fingerprint of x = 1")
    (old_dir / f"a.f-1.{PY}.nbi").write_bytes(b"built from x = 1")
    assert drop_stale_cache(src, cache_dirs=[new_dir, old_dir])
    assert _cached(old_dir) == []
    assert _cached(new_dir) == [f"a.f-1.{PY}.nbi"]


def test_only_abrkits_own_cache_files_are_deleted(tmp_path: Path) -> None:
    src = tmp_path / "_kernels"
    src.mkdir()
    for name in ("session.py", "mpc.py", "__init__.py"):
        (src / name).write_text("")
    shared = tmp_path / "NUMBA_CACHE_DIR-like"
    shared.mkdir()
    ours = [
        f"session.run_sessions-120.{PY}.nbi",
        f"session.run_sessions-120.{PY}.0.nbc",
        f"session.run_sessions-120.{PY}.13.nbc",
        f"mpc._plan.locals.impl-7.{PY}.nbi",  # a nested function (Numba drops the <>)
        f"mpc.step-31.{PY}t.nbi",  # a free-threaded build's ABI flag
    ]
    theirs = [
        f"other.run_sessions-120.{PY}.nbi",  # another package's module
        f"sessions.f-1.{PY}.nbi",
        f"session.cpython-{sys.version_info[0]}{sys.version_info[1]}.pyc",
        "session.py",
        "notes.txt",
    ]
    for name in ours + theirs:
        (shared / name).write_bytes(b"")
    assert drop_stale_cache(src, cache_dirs=[shared])
    assert sorted(p.name for p in shared.iterdir()) == sorted([*theirs, STAMP_NAME])


def test_kernels_in_subfolders_are_guarded_too(tmp_path: Path) -> None:
    src = tmp_path / "_kernels"
    (src / "controllers").mkdir(parents=True)
    (src / "a.py").write_text("")
    (src / "controllers" / "bb.py").write_text("x = 1\n")
    assert not drop_stale_cache(src)  # each folder's own __pycache__ is made and stamped
    top, sub = src / "__pycache__", src / "controllers" / "__pycache__"
    (top / f"a.f-1.{PY}.nbi").write_bytes(b"")
    (sub / f"bb.decide-3.{PY}.nbi").write_bytes(b"")
    assert not drop_stale_cache(src)
    (src / "controllers" / "bb.py").write_text("x = 2\n")  # a callee in a subfolder changes
    assert drop_stale_cache(src)
    assert _cached(top) == [] and _cached(sub) == []


def test_cache_directories_are_the_ones_numbas_locators_compute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kernel_file = str(PACKAGE / "_kernels" / "session.py")

    def probe() -> None:  # the locators only read its first line number
        pass

    monkeypatch.setattr(numba_config, "CACHE_DIR", str(tmp_path / "numba-cache-dir"))
    expected = [
        Path(locator(probe, kernel_file).get_cache_path())
        for locator in (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator, caching.UserWideCacheLocator)
    ]
    assert numba_cache_dirs(kernel_file) == expected
    assert expected[0].parent == tmp_path / "numba-cache-dir"
    assert expected[2].is_relative_to(tmp_path / "xdg-cache")

    monkeypatch.setattr(numba_config, "CACHE_DIR", "")
    assert numba_cache_dirs(kernel_file) == expected[1:]

    zipped = str(tmp_path / "app.zip" / "abrkit" / "_kernels" / "session.py")
    assert numba_cache_dirs(zipped) == [Path(caching.ZipCacheLocator(probe, zipped).get_cache_path())]


def test_cache_file_names_are_the_ones_numba_writes() -> None:
    kernels = [
        obj
        for module in list(sys.modules.values())
        if getattr(module, "__name__", "").startswith("abrkit._kernels.")
        for obj in vars(module).values()
        if isinstance(obj, numba.core.registry.CPUDispatcher) and isinstance(obj._cache, caching.FunctionCache)
    ]
    if _jit._DISABLED or not _jit._CACHE or not kernels:
        pytest.skip("kernels are not cached in this configuration")
    names = _jit._cache_file_names(p.stem for p in (PACKAGE / "_kernels").glob("*.py"))
    for kernel in kernels:
        files = kernel._cache._cache_file
        assert names.fullmatch(files._index_name), files._index_name
        assert names.fullmatch(files._data_name(0)), files._data_name(0)
        assert names.fullmatch(files._data_name(12)), files._data_name(12)


# --- the guard, end to end: edit a kernel of a copied package ----------------------------------

CALLEE = '''"""Test probe: a callee inlined by ``_probe_caller``."""

from .._jit import njit_inline


@njit_inline
def probe_step(x):
    return 10 * x + 1
'''

CALLER = '''"""Test probe: a cached caller of ``_probe_callee.probe_step``."""

from .._jit import njit
from ._probe_callee import probe_step


@njit
def probe_caller(x):
    return probe_step(x) - 1000
'''

RUN_PROBE = """
import json, sys
import abrkit
from abrkit import _jit
if _jit._notice is not None and len(sys.argv) > 1:
    _jit._notice.delay_s = float(sys.argv[1])
from abrkit._kernels import _probe_caller as probe
value = int(probe.probe_caller(3))
stats = getattr(probe.probe_caller, "stats", None)
hits = sum(stats.cache_hits.values()) if stats is not None else -1
print(json.dumps({"package": abrkit.__file__, "value": value, "cache_hits": hits}))
"""


def _copy_package(root: Path) -> Path:
    """abrkit's sources under ``root/abrkit`` (no caches), plus the probe kernels."""
    package = root / "abrkit"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__", "*.nb?"))
    (package / "_kernels" / "_probe_callee.py").write_text(CALLEE)
    (package / "_kernels" / "_probe_caller.py").write_text(CALLER)
    return package


def _environment(root: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("ABRKIT_", "NUMBA_")) and k not in {"PYTHONPATH", "XDG_CACHE_HOME"}
    }
    env.update(PYTHONPATH=str(root), XDG_CACHE_HOME=str(root / "xdg-cache"), **extra)
    return env


def _run_probe(root: Path, env: dict[str, str], *args: str) -> tuple[dict, str]:
    done = subprocess.run(
        [sys.executable, "-c", RUN_PROBE, *args], cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(result["package"]).parent == root / "abrkit"  # the copy, not the installed one
    return result, done.stderr


@pytest.mark.parametrize("where", ["NUMBA_CACHE_DIR", "in-tree", "user-wide"])
def test_an_edited_kernel_runs_its_new_code_in_the_next_process(tmp_path: Path, where: str) -> None:
    package = _copy_package(tmp_path)
    kernels = package / "_kernels"
    env = _environment(tmp_path)
    if where == "NUMBA_CACHE_DIR":
        env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba-cache")
        cache_root = tmp_path / "numba-cache"
    elif where == "in-tree":
        cache_root = kernels
    else:  # a read-only install: __pycache__ cannot be made, Numba falls back to the user's cache
        (kernels / "__pycache__").write_text("not a directory")
        cache_root = tmp_path / "xdg-cache" / "numba"

    first, _ = _run_probe(tmp_path, env)
    assert first["value"] == 10 * 3 + 1 - 1000
    cached = sorted(p.name for p in cache_root.rglob("_probe_caller.probe_caller-*.nbi"))
    assert cached, f"no cache of the caller under {cache_root}"
    second, _ = _run_probe(tmp_path, env)
    assert second == {**first, "cache_hits": second["cache_hits"]}
    assert second["cache_hits"] >= 1  # the caller came from the cache

    callee = kernels / "_probe_callee.py"
    callee.write_text(callee.read_text().replace("10 * x + 1", "10 * x + 2"))  # same line numbers
    third, _ = _run_probe(tmp_path, env)
    assert third["value"] == 10 * 3 + 2 - 1000, "a cached caller ran the callee's old code"
    fourth, _ = _run_probe(tmp_path, env)
    assert fourth["value"] == third["value"]
    assert fourth["cache_hits"] >= 1  # and the new build is cached in turn


# --- the batch kernel, which takes named groups of arrays, comes from the cache -----------------

RUN_BATCH = """
import json
from numba.core import event as numba_event
import numpy as np

compiled = []


class Compiles(numba_event.Listener):
    def on_start(self, event):
        func = getattr(event.data.get("dispatcher"), "py_func", None)
        if getattr(func, "__module__", "").startswith("abrkit"):
            compiled.append(f"{func.__module__}.{func.__qualname__}")

    def on_end(self, event):
        pass


numba_event.register("numba:compile", Compiles())
import abrkit
from abrkit import Trace, Video, run_batch
from abrkit._kernels import session

trace = Trace.from_durations([2.0, 3.0, 1.5, 4.0], [3e6, 8e5, 0.0, 2e6], name="t")
ladder = np.array([3e5, 1.2e6, 2.85e6])
video = Video(ladder, 4.0, np.outer(np.linspace(0.8, 1.2, 12), ladder * 0.5), name="v")
plain = run_batch([trace], [video], ["bb", "rate"], "default", n_workers=1, progress=False)
watched = run_batch([trace], [video], ["bb"], "default", n_workers=1, progress=False, shadow_predictors=["ewma"])
print(json.dumps({
    "package": abrkit.__file__,
    "compiled": sorted(set(compiled)),
    "cache_hits": sum(session.run_batch.stats.cache_hits.values()),
    "rungs": np.nan_to_num(plain.log[..., 0], nan=-1.0).tolist(),
    "shadow": np.nan_to_num(watched.shadow_pred, nan=-1.0).tolist(),
}))
"""


def test_the_batch_kernel_comes_from_the_cache_in_the_next_process(probe_package: Path, tmp_path: Path) -> None:
    """``session.run_batch`` takes ``_kernels.groups`` NamedTuples (shadows as a group or None)
    and literal ids through ``LiteralEntry``; a second process compiles none of it."""
    if _jit._DISABLED or not _jit._CACHE:
        pytest.skip("kernels are not cached in this configuration")
    env = _environment(probe_package, NUMBA_CACHE_DIR=str(tmp_path / "cache"), ABRKIT_QUIET="1")
    runs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", RUN_BATCH], cwd=probe_package, env=env, capture_output=True, text=True, timeout=600,
        )
        assert done.returncode == 0, done.stderr
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    cold, warm = runs
    assert Path(cold["package"]).parent == probe_package / "abrkit"
    assert "abrkit._kernels.session.run_batch" in cold["compiled"]
    assert warm["compiled"] == [], "the second process compiled again"
    assert warm["cache_hits"] >= 2  # run_batch loaded at least twice: without shadows and with them
    assert warm["rungs"] == cold["rungs"] and warm["shadow"] == cold["shadow"]


# --- the compile notice -----------------------------------------------------------------------

NOTICE = "abrkit: compiling simulation kernels"


def _event(status: numba_event.EventStatus, module: str = "abrkit._kernels.session") -> numba_event.Event:
    dispatcher = SimpleNamespace(py_func=SimpleNamespace(__module__=module))
    return numba_event.Event("numba:compile", status, data={"dispatcher": dispatcher})


START, END = numba_event.EventStatus.START, numba_event.EventStatus.END


def _wait_for(condition, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_the_notice_waits_for_the_delay_and_shows_once() -> None:
    out = io.StringIO()
    notice = CompileNotice("compiling...", delay_s=0.3, stream=out)
    notice.notify(_event(START))
    notice.notify(_event(END))  # a quick compile
    time.sleep(0.6)
    assert out.getvalue() == ""

    notice.notify(_event(START))
    notice.notify(_event(START))  # nested compiles count once
    notice.notify(_event(END))
    assert _wait_for(lambda: out.getvalue() != "")
    notice.notify(_event(END))
    notice.notify(_event(START))
    time.sleep(0.6)
    notice.notify(_event(END))
    assert out.getvalue() == "compiling...\n"


def test_the_notice_adds_up_short_compiles_and_ignores_other_packages() -> None:
    out = io.StringIO()
    notice = CompileNotice("compiling...", delay_s=0.6, stream=out)
    notice.notify(_event(START, module="someone_elses_package"))
    time.sleep(0.8)
    assert out.getvalue() == ""
    notice.notify(_event(END, module="someone_elses_package"))
    for i in range(3):  # 0.25 s each: the third crosses 0.6 s in all
        notice.notify(_event(START))
        time.sleep(0.25)
        notice.notify(_event(END))
        if i == 0:
            assert out.getvalue() == ""
    assert out.getvalue() == "compiling...\n"


def test_the_notice_is_safe_from_several_threads() -> None:
    out = io.StringIO()
    notice = CompileNotice("compiling...", delay_s=0.05, stream=out)

    def compile_a_while() -> None:
        for _ in range(20):
            notice.notify(_event(START))
            time.sleep(0.01)
            notice.notify(_event(END))

    threads = [threading.Thread(target=compile_a_while) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(0.2)
    assert out.getvalue() == "compiling...\n"


@pytest.fixture(scope="module")
def probe_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("notice")
    _copy_package(root)
    return root


def test_a_cold_run_says_it_compiles_once_and_a_warm_run_says_nothing(probe_package: Path, tmp_path: Path) -> None:
    env = _environment(probe_package, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    cold, stderr = _run_probe(probe_package, env, "0")  # no delay: any compile at all shows it
    assert stderr.count(NOTICE) == 1, stderr
    assert "cached for next time" in stderr
    warm, stderr = _run_probe(probe_package, env, "0")
    assert warm["cache_hits"] >= 1
    assert NOTICE not in stderr, stderr  # nothing compiled, nothing said


@pytest.mark.parametrize(
    "switch", [{"ABRKIT_QUIET": "1"}, {"ABRKIT_DISABLE_JIT": "1"}, {"NUMBA_DISABLE_JIT": "1"}]
)
def test_the_notice_stays_quiet_when_asked_or_when_nothing_compiles(
    probe_package: Path, tmp_path: Path, switch: dict[str, str]
) -> None:
    env = _environment(probe_package, NUMBA_CACHE_DIR=str(tmp_path / "cache"), **switch)
    result, stderr = _run_probe(probe_package, env, "0")
    assert result["value"] == 10 * 3 + 1 - 1000
    assert NOTICE not in stderr, stderr


class _Pair(NamedTuple):
    a: np.ndarray
    b: np.ndarray


def test_literal_entry_keys_groups_by_the_arrays_inside_them():
    """A group with arrays of another dtype or layout must not reuse the entry compiled for
    the first one (it silently read the wrong memory)."""
    import numba

    from abrkit._jit import LiteralEntry

    @numba.njit
    def total(pair, scale):
        numba.literally(scale)
        s = 0.0
        for i in range(pair.a.size):
            s += pair.a[i] * scale + pair.b[i]
        return s

    entry = LiteralEntry(total, ("scale",))
    floats = _Pair(np.arange(4.0), np.ones(4))
    assert entry(floats, 2) == 16.0
    ints = _Pair(np.arange(4, dtype=np.int64), np.ones(4, dtype=np.int64))
    assert entry(ints, 2) == 16.0
    strided = _Pair(np.arange(8.0)[::2], np.ones(8)[::2])
    assert entry(strided, 3) == 3.0 * (0 + 2 + 4 + 6) + 4.0
