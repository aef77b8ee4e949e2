"""Imports go one way: the kit knows no domain; the engine knows no domain, web or ORM."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).parents[1] / "src" / "reach"
DOMAINS = (
    "reach.auth",
    "reach.audience",
    "reach.audience_segment",
    "reach.reference",
    "reach.sizing",
    "reach.cli",
    "reach.models",
    "reach.app",
    "reach.db",
    "reach.deps",
)


def imported(package: str) -> set[tuple[str, str]]:
    found = set()
    for path in (SOURCE / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {(path.name, alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add((path.name, node.module))
    return found


@pytest.mark.parametrize("package", ["engine", "kit"])
def test_no_upward_imports(package: str) -> None:
    # The kit holds the web plumbing (envelopes, middleware) but no domain; the engine neither.
    forbidden: tuple[str, ...] = DOMAINS
    if package == "engine":
        forbidden = (*forbidden, "fastapi", "starlette", "sqlalchemy", "reach.kit")
    bad = {
        (file, module)
        for file, module in imported(package)
        if any(module == f or module.startswith(f"{f}.") for f in forbidden)
    }
    assert not bad


def test_the_algebra_is_pure() -> None:
    """BEHAVIOUR §6: parsing, checking and evaluating an algebra does no I/O, so it imports
    nothing but the standard library's pure modules."""
    pure = {"__future__", "collections.abc", "dataclasses", "functools", "typing", "itertools"}
    path = SOURCE / "audience" / "algebra.py"
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module or "")
    assert modules <= pure, modules - pure
