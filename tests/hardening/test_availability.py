"""A locked, unreachable or missing metadata store: 503 `availability` with Retry-After while
the lock is still held, nothing changed, recovery without a restart; reach.db is owner-only."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from reach.app import create_app
from reach.config import Settings
from reach.db import Database
from reach.kit.problems import ServiceUnavailable
from reach.models import Advertiser
from reach.schema import upgrade_to_head
from tests.builders import SEGMENTS, add_advertiser, new_client, retargeting
from tests.conftest import ADVERTISER, TEST_SECRET_KEY, ApiUser, segments

ME = "/2025-01/marketing-solutions/me"
TOKEN = "/oauth2/token"
# Whatever Reach does, the lock is released after this long: a call that waits for the lock
# instead of giving up then succeeds, and the test fails on its status instead of hanging.
LOCK_GUARD_SECONDS = 20


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # A short lock wait keeps these tests short; the default is a few seconds.
    return {"database_lock_timeout_seconds": 1}


@contextmanager
def locked(database_url: str, table: str) -> Iterator[threading.Event]:
    """Another connection holds a lock that ``table``'s writers need (PostgreSQL: an ACCESS
    EXCLUSIVE table lock, which stops readers too; SQLite: the store's one write lock) until
    the block ends or ``LOCK_GUARD_SECONDS`` pass; the event tells whether it was released."""
    url = make_url(database_url)
    released = threading.Event()
    guard = threading.Lock()
    if url.get_backend_name() == "sqlite":
        lite = sqlite3.connect(url.database or "", isolation_level=None, check_same_thread=False)
        lite.execute("BEGIN IMMEDIATE")

        def rollback() -> None:
            lite.execute("ROLLBACK")

        close = lite.close
    else:
        plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
        pg = psycopg.connect(plain)
        pg.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        rollback, close = pg.rollback, pg.close

    def release() -> None:
        with guard:
            if not released.is_set():
                rollback()
                released.set()

    timer = threading.Timer(LOCK_GUARD_SECONDS, release)
    timer.start()
    try:
        yield released
    finally:
        timer.cancel()
        release()
        close()


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    problem = response.json()["errors"][0]
    assert (problem["type"], problem["code"]) == ("availability", "service-unavailable")
    assert int(response.headers["Retry-After"]) >= 1


def token_call(api: ApiUser) -> Any:
    credentials = api.credentials
    return api.http.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
        },
    )


def test_me_and_token_calls_answer_503_while_a_table_lock_is_held_then_recover(
    api: ApiUser, database_url: str, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite readers never wait for a lock (WAL); see the write test")
    caplog.set_level(logging.INFO, logger="reach")
    headers = api.headers()
    with locked(database_url, "api_clients") as released:
        me = api.http.get(ME, headers=headers)
        token = token_call(api)
        held_throughout = not released.is_set()
    assert_unavailable(me)
    assert_unavailable(token)
    assert held_throughout
    # One warning for the outage, not one per call, and no SQL or parameters in it.
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "SELECT" not in warnings[0].getMessage()

    assert api.http.get(ME, headers=headers).status_code == 200
    assert token_call(api).status_code == 200
    assert any("available again" in r.getMessage() for r in caplog.records)


def test_a_write_while_the_store_is_locked_answers_503_and_changes_nothing(
    api: ApiUser, database_url: str
) -> None:
    headers = api.headers()
    create = {"data": [retargeting(ADVERTISER, "made during the lock")]}
    with locked(database_url, "audience_segments") as released:
        during = api.http.post(f"{SEGMENTS}/create", json=create, headers=headers)
        held_throughout = not released.is_set()
    assert_unavailable(during)
    assert held_throughout
    assert segments(api) == []

    after = api.post(f"{SEGMENTS}/create", create)
    assert after.status_code == 200
    assert [s["attributes"]["name"] for s in segments(api)] == ["made during the lock"]


def test_readers_still_answer_while_a_sqlite_writer_holds_the_lock(
    api: ApiUser, database_url: str, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite's write lock only")
    headers = api.headers()
    with locked(database_url, "audience_segments"):
        assert api.http.get(ME, headers=headers).status_code == 200
        assert token_call(api).status_code == 200


@pytest.fixture
def own_store(tmp_path: Path) -> Settings:
    """A server's settings on a SQLite store of its own, in its data directory."""
    settings = Settings(
        data_dir=tmp_path / "data", secret_key=TEST_SECRET_KEY, lookalike_processes=0
    )
    upgrade_to_head(settings.resolved_database_url)
    return settings


def test_moving_the_store_away_answers_503_and_never_makes_an_empty_one(
    own_store: Settings,
) -> None:
    store = own_store.data_dir / "reach.db"
    aside = own_store.data_dir / "moved-away.db"
    app: FastAPI = create_app(own_store)
    with TestClient(app) as http:
        add_advertiser(app, ADVERTISER)
        api = ApiUser(http, new_client(app, ADVERTISER))
        headers = api.headers()
        assert http.get(ME, headers=headers).status_code == 200

        store.rename(aside)
        for _ in range(3):
            assert_unavailable(http.get(ME, headers=headers))
        assert_unavailable(token_call(api))
        assert not store.exists()

        aside.rename(store)
        assert http.get(ME, headers=headers).status_code == 200
        assert token_call(api).status_code == 200


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_the_store_and_its_wal_files_are_owner_only(
    permissive_umask: None, own_store: Settings
) -> None:
    store = own_store.data_dir / "reach.db"
    database = Database(own_store.resolved_database_url)
    try:
        with database.session() as session:
            # While a transaction is open, the -wal and -shm files lie beside the store.
            session.execute(text("SELECT count(*) FROM advertisers"))
            files = [store, store.with_name("reach.db-wal"), store.with_name("reach.db-shm")]
            modes = {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files}
    finally:
        database.dispose()
    assert modes == {f.name: oct(0o600) for f in files}


def test_an_unreachable_postgresql_is_an_outage(database_url: str, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("PostgreSQL only")
    # Port 1 on this machine: nothing listens there, the connection is refused at once.
    nowhere = make_url(database_url).set(port=1).render_as_string(hide_password=False)
    database = Database(nowhere)
    try:
        with pytest.raises(ServiceUnavailable), database.session() as session:
            session.execute(text("SELECT 1"))
    finally:
        database.dispose()


def test_a_programming_error_is_not_taken_for_an_outage(app: FastAPI) -> None:
    database: Database = app.state.database
    with pytest.raises(DBAPIError) as raised, database.session() as session:
        session.execute(text("SELEC 1"))
    assert not isinstance(raised.value, ServiceUnavailable)
    add_advertiser(app, ADVERTISER)
    with pytest.raises(IntegrityError), database.session(write=True) as session:
        session.add(Advertiser(id=ADVERTISER, name="twice", created_at=app.state.clock.now()))


def test_a_process_opens_at_most_three_times_its_pool_then_answers_503(
    database_url: str, backend: str
) -> None:
    """REACH_DATABASE_POOL_SIZE bounds what one process asks of PostgreSQL (docs/deploy.md's
    connection budget): 3 times the pool at once, and the next call waits, then answers 503."""
    if backend == "sqlite":
        pytest.skip("PostgreSQL only")
    settings = Settings(
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        database_pool_size=1,
        database_connect_timeout_seconds=0.5,
    )
    database = Database.from_settings(settings)
    held: list[Any] = []
    try:
        for _ in range(3):
            connection = database.engine.connect()
            connection.execute(text("SELECT 1"))
            held.append(connection)
        with pytest.raises(ServiceUnavailable), database.session() as session:
            session.execute(text("SELECT 1"))
    finally:
        for connection in held:
            connection.close()
        database.dispose()
