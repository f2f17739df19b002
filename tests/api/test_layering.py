"""The web layer talks to `processes` only: no rules, forms or SpiffWorkflow imports in `service/`."""

from __future__ import annotations

import ast
from pathlib import Path

import service

FORBIDDEN = ("rules", "forms", "SpiffWorkflow", "durable")


def _imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_the_service_package_imports_no_lower_package_but_processes():
    root = Path(service.__file__).parent

    offenders = {
        f"{path.relative_to(root)}: {module}"
        for path in root.rglob("*.py")
        for module in _imported_modules(path)
        if module.split(".")[0] in FORBIDDEN
    }

    assert offenders == set()


def test_no_route_commits_or_queries_the_database_itself():
    root = Path(service.__file__).parent / "api"

    sources = "\n".join(path.read_text(encoding="utf-8") for path in root.rglob("*.py"))

    for word in ("commit(", "session", "select(", "sqlalchemy"):
        assert word not in sources
