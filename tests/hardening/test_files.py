"""Hardening of files and paths: a data directory may have any name, the directories Reach
creates are its owner's alone, and a killed ingestion leaves no scratch behind."""

from __future__ import annotations

import csv
import os
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from reach.cli import app as cli
from reach.engine.index import IndexBuilder, current_build
from reach.engine.ingest import Ingestor
from reach.engine.query import Index
from reach.engine.store import Store
from reach.reference.countries import alpha2_codes
from reach.reference.taxonomy import taxonomy

# A quote, a double quote and spaces: each once broke the SQL that named a file.
AWKWARD = 'it\'s a "quoted" dir'
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def example_files(folder: Path) -> dict[str, Path]:
    """Brands, products, users and events of advertiser 7: users a and b visit it, c does not."""
    return {
        "brands": write_csv(folder / "brands.csv", ["brand_id", "name"], [[1, "Nike"]]),
        "products": write_csv(
            folder / "products.csv",
            ["advertiser_id", "product_id", "brand_id", "interest_id", "price", "price_range"],
            [[7, "p1", 1, "187", 20, "Low"], [7, "p'2", "", "", 300, "High"]],
        ),
        "users": write_csv(
            folder / "users.csv",
            ["user_id", "country", "gender", "buying_power"],
            [["a", "FR", "Female", "High"], ["b", "DE", "", ""], ["c", "FR", "", ""]],
        ),
        "events": write_csv(
            folder / "events.csv",
            ["time", "user_id", "advertiser_id", "kind", "product_id", "price"],
            [
                ["2026-11-20T10:00:00Z", "a", 7, "view", "p1", ""],
                ["2026-11-21T10:00:00Z", "b", 7, "sale", "p'2", 300],
                ["2026-11-21T11:00:00Z", "c", 8, "visit", "", ""],
            ],
        ),
    }


@pytest.fixture
def umask() -> Iterator[None]:
    """The usual umask (group and others may read), so owner-only has to be asked for."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The ``reach`` command line on a fresh data directory with an awkward name (SQLite in it);
    returns that directory, which does not exist yet."""
    for name in list(os.environ):
        if name.startswith("REACH_"):
            monkeypatch.delenv(name)
    data_dir = tmp_path / AWKWARD / "data"
    monkeypatch.setenv("REACH_DATA_DIR", str(data_dir))
    return data_dir


def ok(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def ingest_and_build(files: dict[str, Path]) -> dict[str, str]:
    """What ``reach ingest`` printed for each kind."""
    ok("db", "upgrade")
    printed = {kind: ok("ingest", kind, str(path)) for kind, path in files.items()}
    ok("index", "build")
    return printed


class TestAwkwardPaths:
    def test_a_data_directory_named_with_quotes_and_spaces_ingests_builds_and_sizes(
        self, cli_env: Path, tmp_path: Path
    ) -> None:
        files = example_files(tmp_path / AWKWARD / "input")

        printed = ingest_and_build(files)

        build = current_build(cli_env)
        assert build is not None
        index = Index(build)
        assert len(index.universe()) == 3
        assert len(index.visitors(7, 0, 30)) == 2
        assert "3 users" in ok("index", "status")
        # The brand catalogue of the API was read back from the store too.
        assert "Brand catalogue of the API: 1 brand\n" in printed["brands"]

    def test_the_engine_alone_takes_a_store_under_such_a_name(self, tmp_path: Path) -> None:
        data_dir = tmp_path / AWKWARD
        store = Store(data_dir / "store")
        ingestor = Ingestor(
            store,
            countries=sorted(alpha2_codes()),
            interests=list(taxonomy().interests),
            clock=lambda: NOW,
        )
        for kind, path in example_files(tmp_path / "in'put").items():
            report = ingestor.ingest(kind, path)
            assert report.rejected == 0

        IndexBuilder(store, data_dir, clock=lambda: NOW).build()

        build = current_build(data_dir)
        assert build is not None
        assert len(Index(build).visitors(7, 0, 30)) == 2


class TestOwnerOnlyDirectories:
    def test_every_directory_reach_creates_is_its_owners_alone(
        self, cli_env: Path, tmp_path: Path, umask: None
    ) -> None:
        ingest_and_build(example_files(tmp_path / "input"))
        # A rejected row makes a report folder; a second build makes reused-day folders.
        write_csv(
            tmp_path / "input" / "more.csv",
            ["user_id", "country", "gender", "buying_power"],
            [["d", "XX", "", ""]],
        )
        ok("ingest", "users", str(tmp_path / "input" / "more.csv"))
        ok("index", "build")

        directories = [cli_env, *(p for p in cli_env.rglob("*") if p.is_dir())]
        assert len(directories) > 10
        shared = {
            str(p.relative_to(cli_env)): oct(stat.S_IMODE(p.stat().st_mode))
            for p in directories
            if stat.S_IMODE(p.stat().st_mode) & 0o077
        }
        assert shared == {}


class TestScratchOfAKilledIngestion:
    def leftovers(self, store: Store) -> list[Path]:
        """What an ingestion killed mid-way leaves: its scratch database (and DuckDB's own
        spill folder) and a half-written manifest."""
        scratch = store.root / ".tmp"
        scratch.mkdir(parents=True, exist_ok=True)
        killed = [
            scratch / "ingest-0123456789abcdef.duckdb",
            scratch / "ingest-0123456789abcdef.duckdb.wal",
            store.root / ".manifest.json.k1ll3d",
        ]
        for path in killed:
            path.write_bytes(b"x" * 1024)
        spill = scratch / "ingest-0123456789abcdef.duckdb.tmp"
        spill.mkdir()
        (spill / "duckdb_temp_storage-0.tmp").write_bytes(b"x" * 1024)
        return [*killed, spill]

    def ingestor(self, store: Store) -> Ingestor:
        return Ingestor(
            store,
            countries=sorted(alpha2_codes()),
            interests=list(taxonomy().interests),
            clock=lambda: NOW,
        )

    def test_the_next_ingestion_removes_them(self, tmp_path: Path) -> None:
        store = Store(tmp_path / "data" / "store")
        files = example_files(tmp_path / "input")
        self.ingestor(store).ingest("users", files["users"])
        left = self.leftovers(store)

        report = self.ingestor(store).ingest("brands", files["brands"])

        assert report.accepted == 1
        assert [p for p in left if p.exists()] == []
        assert list((store.root / ".tmp").glob("*")) == []

    def test_even_a_no_op_ingestion_removes_them(self, tmp_path: Path) -> None:
        store = Store(tmp_path / "data" / "store")
        users = example_files(tmp_path / "input")["users"]
        self.ingestor(store).ingest("users", users)
        left = self.leftovers(store)

        assert self.ingestor(store).ingest("users", users).skipped

        assert [p for p in left if p.exists()] == []

    def test_a_running_ingestion_keeps_its_scratch(self, tmp_path: Path) -> None:
        """Scratch is removed only under the store's lock, which a running ingestion holds:
        the next one waits for it instead of pulling its files away."""
        store = Store(tmp_path / "data" / "store")
        brands = example_files(tmp_path / "input")["brands"]
        finished = threading.Event()

        def next_ingestion() -> None:
            self.ingestor(store).ingest("brands", brands)
            finished.set()

        with store.locked():
            in_use = self.leftovers(store)
            waiting = threading.Thread(target=next_ingestion)
            waiting.start()
            # However long the lock is held, the waiting ingestion neither finishes nor cleans.
            assert not finished.wait(1.0)
            assert all(p.exists() for p in in_use)
        waiting.join(timeout=60)

        assert finished.is_set()
        assert [p for p in in_use if p.exists()] == []
