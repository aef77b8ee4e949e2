"""Stored data outlives the server process that wrote it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from reach.app import create_app
from reach.config import Settings
from tests.builders import SEGMENTS, ManualClock, add_advertiser, new_client, retargeting
from tests.conftest import ADVERTISER, ApiUser, ContractClient, segments, wipe


def test_segments_survive_a_restart(settings: Settings, database_url: str) -> None:
    wipe(database_url)
    first = create_app(settings, clock=ManualClock())
    add_advertiser(first, ADVERTISER)
    credentials = new_client(first, ADVERTISER)
    with ContractClient(first) as http:
        created = ApiUser(http, credentials).post(
            f"{SEGMENTS}/create", {"data": [retargeting(ADVERTISER, "durable")]}
        )
        assert created.json()["errors"] == []
    first.state.database.dispose()

    second = create_app(settings, clock=ManualClock())
    http2: TestClient
    with ContractClient(second) as http2:
        found = segments(ApiUser(http2, credentials))
    second.state.database.dispose()
    assert found == created.json()["data"]
