"""Fixtures: one migrated database per backend, a fresh app per test, an authorised API user."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from reach.app import create_app
from reach.config import Settings
from reach.db import Database
from reach.models import Base
from reach.schema import upgrade_to_head
from reach.versions import API_VERSIONS, version_of
from tests.builders import Credentials, ManualClock, add_advertiser, new_client
from tests.openapi import assert_conforms

pytest_plugins = ["tests.indexed"]

POSTGRES_ADMIN = os.environ.get(
    "REACH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TEST_SECRET_KEY = "test-key-" + "x" * 40


def postgres_available() -> bool:
    try:
        with psycopg.connect(POSTGRES_ADMIN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database migrated with ``alembic upgrade head``, one per backend for the whole run."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'reach.db'}"
        upgrade_to_head(url)
        yield url
        return
    if not postgres_available():
        if os.environ.get("REACH_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but unreachable at {POSTGRES_ADMIN}")
        pytest.skip("PostgreSQL is not reachable (set REACH_REQUIRE_POSTGRES=1 to fail instead)")
    name = f"reach_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}/{name}"
    try:
        upgrade_to_head(url)
        yield url
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wipe(url: str) -> None:
    """Empty every table, so each test starts from a migrated, empty store."""
    database = Database(url)
    try:
        with database.engine.begin() as connection:
            tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
            if database.is_sqlite:
                for table in tables:
                    connection.execute(text(f"DELETE FROM {table}"))
            else:
                connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    finally:
        database.dispose()


@pytest.fixture
def backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change one setting for its tests."""
    return {}


@pytest.fixture
def settings(database_url: str, tmp_path: Path, settings_overrides: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "secret_key": TEST_SECRET_KEY,
        # Lookalikes are trained in the server's worker thread (one test covers the processes).
        "lookalike_processes": 0,
        # Exact sizes, as in a sandbox; tests of the default mode override it.
        "size_privacy": "exact",
    }
    return Settings(**(values | settings_overrides))


@pytest.fixture
def app(settings: Settings, clock: ManualClock, database_url: str) -> Iterator[FastAPI]:
    wipe(database_url)
    application = create_app(settings, clock=clock)
    yield application
    application.state.database.dispose()


class ContractClient(TestClient):
    """A test client that checks every JSON answer against the OpenAPI contract."""

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().request(method, url, *args, **kwargs)
        path = response.request.url.path
        version = version_of(path)
        if version in API_VERSIONS and response.headers.get("content-type", "").startswith(
            "application/json"
        ):
            # Every served version has the 2025-01 contract but for its prefix.
            assert_conforms(
                method,
                path.replace(f"/{version}/", "/2025-01/", 1),
                response.status_code,
                response.json(),
                response.headers.get("x-trace-id"),
            )
        return response


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    with ContractClient(app, raise_server_exceptions=True) as client:
        yield client


ADVERTISER = 101
OTHER_ADVERTISER = 202


class ApiUser:
    """A client of Reach: its credentials and a way to call the API with a fresh token."""

    def __init__(self, http: TestClient, credentials: Credentials) -> None:
        self.http = http
        self.credentials = credentials

    def token(self) -> str:
        response = self.http.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret,
            },
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        headers = self.headers() | kwargs.pop("headers", {})
        if "content" in kwargs:
            return self.http.request(method, path, headers=headers, **kwargs)
        return self.http.request(method, path, json=body, headers=headers, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.call("POST", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.call("PATCH", path, body, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.http.get(path, headers=self.headers(), **kwargs)


@pytest.fixture
def api(app: FastAPI, http: TestClient) -> ApiUser:
    """A manager client of ADVERTISER (OTHER_ADVERTISER exists too but is not granted)."""
    add_advertiser(app, ADVERTISER)
    add_advertiser(app, OTHER_ADVERTISER)
    return ApiUser(http, new_client(app, ADVERTISER))


@pytest.fixture
def other_api(app: FastAPI, http: TestClient, api: ApiUser) -> ApiUser:
    """A manager client of OTHER_ADVERTISER only."""
    return ApiUser(http, new_client(app, OTHER_ADVERTISER, name="other"))


def segments(user: ApiUser, **filters: Any) -> list[dict[str, Any]]:
    """Every segment the user can see (paging through the search), optionally filtered."""
    found: list[dict[str, Any]] = []
    while True:
        response = user.post(
            f"/2025-01/marketing-solutions/audience-segments/search?limit=100&offset={len(found)}",
            {"data": {"attributes": filters}},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        found.extend(body["data"])
        if len(found) >= body["meta"]["totalItems"]:
            return found
