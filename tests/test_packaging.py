"""The wheel: an installed Reach carries everything it needs to create its store."""

from __future__ import annotations

import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.deploy.fresh import build_wheel

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_carries_the_migrations_and_the_taxonomy(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    migrations = {
        "reach/migrations/" + p.relative_to(ROOT / "migrations").as_posix()
        for p in (ROOT / "migrations").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert "reach/migrations/env.py" in migrations
    assert any(m.startswith("reach/migrations/versions/") for m in migrations)
    assert migrations <= names
    assert "reach/reference/data/google-product-taxonomy.en-US.txt" in names


def test_the_wheel_is_apache_licensed_and_its_core_is_lean(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    [metadata_name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    metadata = Parser().parsestr(archive.read(metadata_name).decode())
    assert metadata["License-Expression"] == "Apache-2.0"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in archive.namelist())
    requirements = [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]
    core = {r.name for r in requirements if r.marker is None or "extra" not in str(r.marker)}
    assert not core & {"scikit-learn", "scipy", "psycopg", "sqlglot"}
    extras = set(metadata.get_all("Provides-Extra") or [])
    assert {"postgresql", "lookalike", "dev"} <= extras
