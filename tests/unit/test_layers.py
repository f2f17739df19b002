"""Imports point one way: service -> processes -> rules, forms (DESIGN.md). Checked on the source, not by eye.

service may use forms/ directly for what forms/ is for (rendering a form as HTML fields and reading a
submission back); it never reaches rules/, SpiffWorkflow or durable-rules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package -> top-level modules it must never import
FORBIDDEN = {
    "processes": {"service", "flask", "durable", "marshmallow"},
    "rules": {"service", "processes", "forms", "flask", "SpiffWorkflow"},
    "forms": {"service", "processes", "rules", "flask", "SpiffWorkflow", "durable"},
    "service": {"SpiffWorkflow", "durable", "rules"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_nothing_above_it_or_beside_its_own_engine(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_modules(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {path: bad for path, bad in offenders.items() if bad} == {}


def test_only_the_engine_package_imports_spiffworkflow():
    """processes/engine/ wraps SpiffWorkflow; every other module speaks in the engine's own terms."""
    engine = ROOT / "processes" / "engine"
    offenders = sorted(
        str(path.relative_to(ROOT))
        for package in FORBIDDEN
        for path in (ROOT / package).rglob("*.py")
        if engine not in path.parents and "SpiffWorkflow" in imported_modules(path)
    )
    assert offenders == []


def _room(module: str) -> str | None:
    """The room of processes/ a module belongs to: a top-level module or a sub-package (None: not ours)."""
    parts = module.split(".")
    if parts[0] != "processes":
        return None
    return "__init__" if len(parts) == 1 else parts[1]


def _rooms_imported(path: Path) -> set[str]:
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"processes.{alias.name}" for alias in node.names] if node.module == "processes" else [
                node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        rooms |= {room for room in map(_room, names) if room is not None}
    return rooms


def test_processes_imports_follow_the_map_in_internals_md():
    """The picture of the house in docs/internals.md stays true: no room imports one its line does not name."""
    text = (ROOT / "docs" / "internals.md").read_text(encoding="utf-8")
    block = text.split("```imports\n", 1)[1].split("```", 1)[0]
    allowed = {line.split("->")[0].strip(): set(line.split("->")[1].split()) for line in block.splitlines()}
    package = ROOT / "processes"
    found: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package).with_suffix("").parts
        room = "__init__" if parts == ("__init__",) else parts[0]
        found.setdefault(room, set()).update(_rooms_imported(path) - {room})

    assert set(found) == set(allowed), "every room of processes/ has its line in the map, and no other"
    assert {room: sorted(rooms - allowed[room]) for room, rooms in found.items() if rooms - allowed[room]} == {}
