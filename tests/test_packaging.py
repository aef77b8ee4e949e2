"""The wheel: an installed Reach carries everything it needs to create its store."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_carries_the_migrations_and_the_taxonomy(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("*.whl")
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
