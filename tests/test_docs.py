"""Every ```python block of README.md and docs/*.md runs as written (issue 11).

Each block runs on its own, in a fresh namespace, from the repository root (where the docs'
relative paths such as ``samples/traces`` point), so a block that uses a name it does not define
fails with the ``NameError`` a reader would get. Paths into the reference data written as
``../shared/data`` are read from ``ABRKIT_DATA`` when it is set (as the tests do), and blocks that
use the data carry the ``shared`` marker: skipped without it, failed under CI.

A block is not run only when the line before its fence says so, with the reason::

    <!-- not run by tests/test_docs.py: <reason> -->

which is kept for blocks that would take minutes (a full-size encode). Warnings are errors
here as everywhere in the suite, and a block must not leave files in the repository.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

import pytest

from conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIP_MARK = re.compile(r"<!--\s*not run by tests/test_docs\.py:\s*(?P<reason>.+?)\s*-->")
FENCE = re.compile(r"^```(?P<lang>[A-Za-z0-9_+-]*)[^\n]*$")


class Block(NamedTuple):
    page: Path
    line: int  # 1-based line of the opening fence
    code: str
    skip: str | None  # the reason, when the page marks the block as not run


def python_blocks(page: Path) -> list[Block]:
    """The ```python (or ```py) blocks of a Markdown page, with the line of each fence."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        start, lang = i, match["lang"].lower()
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence
        if lang not in ("python", "py", "python3"):
            continue
        before = next((lines[k] for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        mark = SKIP_MARK.search(before)
        blocks.append(Block(page, start + 1, "\n".join(body) + "\n", mark["reason"] if mark else None))
    return blocks


BLOCKS = [block for page in PAGES for block in python_blocks(page)]


def _param(block: Block):  # type: ignore[no-untyped-def]
    marks = [pytest.mark.shared] if "shared/data" in block.code or "ABRKIT_DATA" in block.code else []
    if block.skip is not None:
        marks.append(pytest.mark.skip(reason=f"{block.page.name}:{block.line}: {block.skip}"))
    return pytest.param(block, id=f"{block.page.relative_to(ROOT)}:{block.line}", marks=marks)


def test_the_pages_have_python_blocks() -> None:
    assert len(BLOCKS) >= 10
    assert sum(block.skip is not None for block in BLOCKS) <= 2  # not run only for a strong reason


def test_the_extractor_reads_fences_and_marks(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n```python\na = 1\n```\n\n<!-- not run by tests/test_docs.py: takes an hour -->\n"
        "```python\nb = 2\n```\n```\nshell\n```\n```py\nc = 3\n```\n",
        encoding="utf-8",
    )
    blocks = python_blocks(page)
    assert [(b.line, b.code, b.skip) for b in blocks] == [(2, "a = 1\n", None), (7, "b = 2\n", "takes an hour"),
                                                          (13, "c = 3\n", None)]


@pytest.mark.parametrize("block", [_param(b) for b in BLOCKS])
def test_python_block_runs_as_written(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    code = block.code
    if os.environ.get("ABRKIT_DATA"):
        code = code.replace("../shared/data", str(SHARED_DATA))
    monkeypatch.chdir(ROOT)
    before = set(os.listdir(ROOT))
    namespace = {"__name__": "__docs__"}
    exec(compile(code, f"{block.page}:{block.line}", "exec"), namespace)  # noqa: S102 - the docs' own code
    left = set(os.listdir(ROOT)) - before
    assert not left, f"{block.page.name}:{block.line} wrote {sorted(left)} into the repository; use a temporary directory"
