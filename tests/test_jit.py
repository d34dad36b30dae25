"""The kernel cache guard: Numba's on-disk cache is dropped whenever any kernel source changes."""

from __future__ import annotations

from pathlib import Path

from abrkit._jit import drop_stale_cache


def _cached(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "__pycache__").glob("*.nb?"))


def test_cache_survives_until_a_source_changes(tmp_path: Path) -> None:
    src = tmp_path / "_kernels"
    (src / "__pycache__").mkdir(parents=True)
    (src / "a.py").write_text("x = 1\n")
    (src / "b.py").write_text("y = 2\n")
    extra = tmp_path / "_jit.py"
    extra.write_text("z = 3\n")
    (src / "__pycache__" / "a.f-1.py311.nbi").write_bytes(b"old")
    assert drop_stale_cache(src, (extra,))  # no fingerprint yet: the cache may predate it
    assert _cached(src) == []

    for name in ("a.f-1.py311.nbi", "a.f-1.py311.1.nbc", "b.g-4.py311.nbi"):
        (src / "__pycache__" / name).write_bytes(b"new")
    assert not drop_stale_cache(src, (extra,))  # same sources: kept
    assert len(_cached(src)) == 3

    (src / "b.py").write_text("y = 20\n")  # a callee changes: its callers' caches go too
    assert drop_stale_cache(src, (extra,))
    assert _cached(src) == []

    (src / "__pycache__" / "a.f-1.py311.nbi").write_bytes(b"new")
    extra.write_text("z = 30\n")  # so does a change of the compile policy
    assert drop_stale_cache(src, (extra,))
    (src / "__pycache__" / "a.f-1.py311.nbi").write_bytes(b"new")
    (src / "c.py").write_text("")  # and a new kernel module
    assert drop_stale_cache(src, (extra,))


def test_an_unwritable_cache_is_left_alone(tmp_path: Path) -> None:
    src = tmp_path / "_kernels"
    src.mkdir()
    (src / "a.py").write_text("x = 1\n")
    (src / "__pycache__").write_text("not a directory")  # stands in for a read-only install
    assert not drop_stale_cache(src)
