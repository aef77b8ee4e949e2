"""A small demo data set, ingested and indexed once, with the oracle over the same files."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import duckdb
import pytest
from pyroaring import AbstractBitMap

from reach.engine.demo_data import generate
from reach.engine.index import IndexBuilder, current_build
from reach.engine.ingest import Ingestor, files_by_kind
from reach.engine.query import Index
from reach.engine.store import Store
from reach.reference.countries import alpha2_codes
from reach.reference.taxonomy import taxonomy
from tests.engine.oracle import Oracle

END = date(2026, 11, 20)


@dataclass
class Indexed:
    """The engine's index and the oracle over one data set, and the users' ids."""

    data: Path
    data_dir: Path
    index: Index
    oracle: Oracle
    user_ids: dict[int, str]

    def users(self, bitmap: AbstractBitMap) -> set[str]:
        return {self.user_ids[ordinal] for ordinal in bitmap}


def ingest_all(store: Store, data: Path) -> None:
    ingestor = Ingestor(
        store, countries=sorted(alpha2_codes()), interests=list(taxonomy().interests)
    )
    for kind, path in files_by_kind(data):
        report = ingestor.ingest(kind, path)
        assert report.rejected == 0, (path, report.rejects)


def resharded(indexed: Indexed, root: Path, span: int) -> Indexed:
    """The same data set indexed again in shards of ``span`` users."""
    data_dir = root / "reach"
    shutil.copytree(indexed.data_dir / "store", data_dir / "store")
    IndexBuilder(Store(data_dir / "store"), data_dir, shard_span=span).build()
    build = current_build(data_dir)
    assert build is not None
    return replace(indexed, data_dir=data_dir, index=Index(build))


@pytest.fixture(scope="session")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Indexed:
    root = tmp_path_factory.mktemp("engine")
    data = root / "data"
    generate(
        data,
        users=3000,
        days=45,
        advertisers=3,
        seed=11,
        end_date=END,
        interests=taxonomy().leaves(),
    )
    store = Store(root / "reach" / "store")
    ingest_all(store, data)
    IndexBuilder(store, root / "reach").build()
    build = current_build(root / "reach")
    assert build is not None
    with duckdb.connect() as con:
        store.create_views(con)
        user_ids = dict(con.execute("SELECT ordinal, user_id FROM users").fetchall())
    return Indexed(data, root / "reach", Index(build), Oracle(data), user_ids)
