"""Fixtures for servers whose data directory holds a built index over a small demo data set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from reach.engine.demo_data import generate
from reach.engine.index import IndexBuilder
from reach.engine.store import Store
from reach.lookalike.service import Lookalikes
from reach.lookalike.worker import LookalikeWorker
from reach.reference.taxonomy import taxonomy
from tests.builders import add_advertiser, new_client
from tests.conftest import ApiUser
from tests.engine.conftest import END, ingest_all
from tests.engine.oracle import Oracle

ADVERTISERS = (1001, 1002, 1003)


@pytest.fixture(scope="session")
def sized_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<root>/data`` (the raw files) and ``<root>/reach`` (store and index)."""
    root = tmp_path_factory.mktemp("sized")
    generate(
        root / "data",
        users=2500,
        days=40,
        advertisers=len(ADVERTISERS),
        seed=5,
        end_date=END,
        interests=taxonomy().leaves(),
    )
    store = Store(root / "reach" / "store")
    ingest_all(store, root / "data")
    IndexBuilder(store, root / "reach").build()
    return root


@pytest.fixture(scope="session")
def oracle(sized_data: Path) -> Oracle:
    return Oracle(sized_data / "data")


@pytest.fixture
def indexed_settings(sized_data: Path, tmp_path: Path) -> dict[str, Any]:
    """Settings of a server over the sized data, reporting every size (no privacy floor).
    Each test gets its own data directory (contact lists...) sharing the built index."""
    data_dir = tmp_path / "reach"
    data_dir.mkdir()
    for shared in ("store", "index"):
        (data_dir / shared).symlink_to(sized_data / "reach" / shared)
    return {"data_dir": data_dir, "min_reported_size": 0, "rate_limit_per_minute": 0}


@pytest.fixture
def sizer(app: FastAPI, http: TestClient) -> ApiUser:
    """A manager client of the three advertisers of the data set."""
    for advertiser in ADVERTISERS:
        add_advertiser(app, advertiser)
    return ApiUser(http, new_client(app, *ADVERTISERS))


@pytest.fixture
def other_sizer(app: FastAPI, http: TestClient, sizer: ApiUser) -> ApiUser:
    """A manager client of the second advertiser only."""
    return ApiUser(http, new_client(app, ADVERTISERS[1], name="other"))


@pytest.fixture
def worker(app: FastAPI) -> LookalikeWorker:
    """The server's lookalike worker, which builds only when the test says so
    (``run_once``)."""
    app.state.lookalikes = Lookalikes(app.state.lookalikes.results, lambda: None)
    found: LookalikeWorker = app.state.lookalike_worker
    return found
