"""``reach boot``'s options: a bad one stops it before the store changes."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pytest
from typer.testing import CliRunner

from reach.cli import app as cli
from reach.cli.serve import MAX_WORKERS
from tests.conftest import TEST_SECRET_KEY


@pytest.mark.parametrize("workers", ["0", "-1", str(MAX_WORKERS + 1)])
def test_workers_out_of_bounds_exit_2_before_anything_changes(
    workers: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "reach.db"
    monkeypatch.setenv("REACH_DATABASE_URL", f"sqlite:///{store}")
    monkeypatch.setenv("REACH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REACH_SECRET_KEY", TEST_SECRET_KEY)

    def serve_instead(*_: object) -> NoReturn:
        raise AssertionError("boot went on to the server")

    monkeypatch.setattr("os.execv", serve_instead)
    result = CliRunner().invoke(cli, ["boot", "--workers", workers])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--workers'" in result.output
    # Neither migrated nor given a first client: the store was never even created.
    assert not store.exists()
    assert "client_secret" not in result.output
