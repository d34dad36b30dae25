"""Imports flow downward only (DESIGN.md): kernels import nothing public, nothing imports the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import abrkit

PKG = Path(abrkit.__file__).resolve().parent

# Each layer may import only from the layers listed before it (and from itself).
LAYERS = [
    ("abrkit.errors", "abrkit._jit", "abrkit._version", "abrkit._checks", "abrkit._optional", "abrkit._textread", "abrkit._interrupt",
     "abrkit.cluster"),
    ("abrkit._kernels",),
    ("abrkit.traces", "abrkit.video"),
    ("abrkit.qoe", "abrkit.predictors", "abrkit.encode", "abrkit.tables", "abrkit.result"),
    ("abrkit.controller_spec",),
    ("abrkit.learned",),
    ("abrkit.event_controllers", "abrkit.live_controllers"),
    ("abrkit.controllers",),
    ("abrkit.packing", "abrkit.observation"),
    ("abrkit.live_custom",),
    ("abrkit.event", "abrkit.live"),
    ("abrkit.dashjs",),
    ("abrkit.hlsjs",),
    ("abrkit.profiles",),
    ("abrkit.custom",),
    ("abrkit.simulation",),
    ("abrkit.rl",),
    ("abrkit.samples", "abrkit.plotting", "abrkit.evaluate", "abrkit.optimum", "abrkit.warmup"),
    ("abrkit.emulate",),
    ("abrkit.cli._args", "abrkit.cli._output", "abrkit.cli._sweep", "abrkit.cli._help", "abrkit.cli._inputs",
     "abrkit.cli._columns"),
    ("abrkit.cli.simulate", "abrkit.cli.predict", "abrkit.cli.traces", "abrkit.cli.ladder", "abrkit.cli.warmup",
     "abrkit.cli.emulate", "abrkit.cli.catalog"),
    ("abrkit.cli",),
    ("abrkit.__main__",),
]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # `from . import x` names submodules
            if not node.module:
                found.update(f"{target}.{a.name}" for a in node.names)
    return {name for name in found if name == "abrkit" or name.startswith("abrkit.")}


def _layer(name: str) -> int:
    for i, prefixes in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return i
    return -1


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_has_a_layer() -> None:
    unplaced = [_module_name(p) for p in _modules() if _layer(_module_name(p)) < 0 and _module_name(p) != "abrkit"]
    assert not unplaced, f"add these modules to LAYERS in {__file__}: {unplaced}"


def test_imports_flow_downward() -> None:
    bad = []
    for path in _modules():
        me = _module_name(path)
        if me == "abrkit":  # the package façade re-exports everything
            continue
        mine = _layer(me)
        for target in _imports(path):
            theirs = _layer(target)
            if target == "abrkit" or theirs > mine or (theirs == mine and _top(target) != _top(me) and mine != 0):
                bad.append(f"{me} imports {target}")
    assert not bad, "\n".join(bad)


def _top(name: str) -> str:
    return ".".join(name.split(".")[:2])


def test_kernels_import_only_jit_and_each_other() -> None:
    for path in (PKG / "_kernels").glob("*.py"):
        for target in _imports(path):
            assert target == "abrkit._jit" or target.startswith("abrkit._kernels"), f"{path.name} imports {target}"


def test_nothing_imports_the_cli() -> None:
    for path in _modules():
        me = _module_name(path)
        if me == "abrkit.__main__" or me == "abrkit.cli" or me.startswith("abrkit.cli."):
            continue
        bad = [t for t in _imports(path) if t == "abrkit.cli" or t.startswith("abrkit.cli.")]
        assert not bad, f"{me} imports {bad}"


def test_cli_commands_do_not_import_each_other() -> None:
    """Each command module stands on the shared helpers (cli._*) only."""
    commands = {"abrkit.cli.simulate", "abrkit.cli.predict", "abrkit.cli.traces", "abrkit.cli.ladder",
                "abrkit.cli.warmup", "abrkit.cli.emulate"}
    for path in (PKG / "cli").glob("*.py"):
        me = _module_name(path)
        if me in commands:
            bad = [t for t in _imports(path) if t in commands and t != me]
            assert not bad, f"{me} imports {bad}"


def test_no_public_name_shadows_a_module() -> None:
    # ``import abrkit.x as m`` reads the attribute ``x`` of the package first: a function named
    # like its module (``abrkit.simulate`` once was both) would hide the module.
    import importlib
    import types

    for path in _modules():
        name = _module_name(path)
        if name == "abrkit" or ".cli." in name + "." or name.startswith("abrkit.encode."):
            continue  # abrkit.encode exports probe() over its probe module on purpose (its docstring)
        parent, _, leaf = name.rpartition(".")
        importlib.import_module(name)
        value = getattr(importlib.import_module(parent), leaf)
        assert isinstance(value, types.ModuleType), f"{parent}.{leaf} is {value!r}, not the module {name}"
