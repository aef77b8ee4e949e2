"""GET /healthz and GET /readyz: alive, and ready to serve (store, index, lookalike worker)."""

from __future__ import annotations

import shutil
import socket
import sqlite3
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

from reach.config import Settings
from reach.health import StoreCheck
from reach.kit import ratelimit
from tests.conftest import POSTGRES_ADMIN, TEST_SECRET_KEY
from tests.kit.test_ratelimit import REDIS_URL, closed_port, redis_available


def ready(http: TestClient) -> tuple[int, dict[str, Any]]:
    response = http.get("/readyz")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return response.status_code, body


def silent_rate_limit_store(kind: str) -> dict[str, str]:
    """The readiness check of a rate-limit store of ``kind`` that does not answer."""
    return {"status": "failing", "kind": kind, "detail": "the rate-limit store does not answer"}


@contextmanager
def store_down(app: FastAPI, backend: str, database_url: str) -> Iterator[None]:
    """The metadata store stops answering: the SQLite file moved away, or the PostgreSQL
    database refusing every connection (the server's included); back as it was afterwards."""
    if backend == "sqlite":
        path = Path(make_url(database_url).database or "")
        aside = path.with_name(path.name + ".aside")
        shutil.move(path, aside)
        try:
            yield
        finally:
            shutil.move(aside, path)
        return
    name = make_url(database_url).database
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        try:
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')


class BlackHole:
    """A Redis that accepts connections and reads what it is sent, but never answers; ``asked``
    is set once a command has arrived."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self._listening = socket.create_server(("127.0.0.1", 0))
        self._connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._listening.getsockname()[1]}/0"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listening.accept()
            except OSError:
                return
            self._connections.append(connection)
            threading.Thread(target=self._swallow, args=(connection,), daemon=True).start()

    def _swallow(self, connection: socket.socket) -> None:
        try:
            while connection.recv(65536):
                self.asked.set()
        except OSError:
            return

    def close(self) -> None:
        self._listening.close()
        for connection in self._connections:
            connection.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    found = BlackHole()
    yield found
    found.close()


class TestHealthz:
    def test_alive_without_a_token(self, http: TestClient) -> None:
        response = http.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    def test_alive_while_the_store_is_down(
        self, app: FastAPI, http: TestClient, backend: str, database_url: str
    ) -> None:
        with store_down(app, backend, database_url):
            assert http.get("/healthz").status_code == 200


class TestReadyz:
    def test_a_server_without_an_index_is_ready(self, http: TestClient) -> None:
        status, body = ready(http)
        assert status == 200
        assert body == {
            "status": "ready",
            "checks": {
                "store": {"status": "ok"},
                "index": {"status": "ok", "detail": "no index yet"},
                "lookalikeWorker": {"status": "ok", "state": "running"},
                "rateLimitStore": {"status": "ok", "kind": "memory"},
            },
        }

    def test_a_store_that_does_not_answer_is_named(
        self, app: FastAPI, http: TestClient, backend: str, database_url: str
    ) -> None:
        with store_down(app, backend, database_url):
            status, body = ready(http)
        assert status == 503
        assert body["status"] == "not ready"
        assert body["checks"]["store"] == {
            "status": "failing",
            "detail": "the store does not answer",
        }
        # The other checks still say how they are.
        assert body["checks"]["lookalikeWorker"]["status"] == "ok"
        # Back to ready as soon as the store answers again.
        assert ready(http)[0] == 200

    def test_a_store_that_hangs_gets_a_deadline_and_one_check_at_a_time(
        self, app: FastAPI, http: TestClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        released = threading.Event()
        checks: list[int] = []

        def hang(_: object) -> None:
            checks.append(1)
            released.wait(30)

        monkeypatch.setattr("reach.health.require_current_schema", hang)
        check = StoreCheck(app.state.database)
        check.deadline = 0.2
        app.state.store_check = check
        try:
            first, second = ready(http), ready(http)
        finally:
            released.set()
            check.close()
        for status, body in (first, second):
            assert status == 503
            assert body["checks"]["store"] == {
                "status": "failing",
                "detail": "the store did not answer within 0.2 seconds",
            }
        # The second probe waited for the check still running instead of starting another.
        assert checks == [1]

    def test_a_store_with_another_schema_is_not_ready(self, app: FastAPI, http: TestClient) -> None:
        with app.state.database.engine.begin() as connection:
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            connection.execute(text("UPDATE alembic_version SET version_num = 'from_the_future'"))
        try:
            status, body = ready(http)
        finally:
            with app.state.database.engine.begin() as connection:
                connection.execute(
                    text("UPDATE alembic_version SET version_num = :revision"),
                    {"revision": revision},
                )
        assert status == 503
        assert body["checks"]["store"]["status"] == "failing"
        assert "reach db upgrade" in body["checks"]["store"]["detail"]

    def test_a_stopped_lookalike_worker_is_not_ready(self, app: FastAPI, http: TestClient) -> None:
        app.state.lookalike_worker.close()
        status, body = ready(http)
        assert status == 503
        assert body["checks"]["lookalikeWorker"] == {"status": "failing", "state": "stopped"}
        assert body["checks"]["store"] == {"status": "ok"}

    def test_shows_nothing_sensitive(
        self, app: FastAPI, http: TestClient, settings: Settings, backend: str, database_url: str
    ) -> None:
        answers = [http.get("/healthz").text, http.get("/readyz").text]
        with store_down(app, backend, database_url):
            answers.append(http.get("/readyz").text)
        for answer in answers:
            assert str(settings.data_dir) not in answer
            assert TEST_SECRET_KEY not in answer
            assert str(make_url(database_url).database) not in answer
            assert backend not in answer


class TestReadyzWithAnIndex:
    @pytest.fixture
    def settings_overrides(self, indexed_settings: dict[str, Any]) -> dict[str, Any]:
        return indexed_settings

    def test_names_the_build_in_service(
        self, app: FastAPI, http: TestClient, sized_data: Path
    ) -> None:
        build_id = (sized_data / "reach" / "index" / "CURRENT").read_text().strip()
        status, body = ready(http)
        assert status == 200
        index = body["checks"]["index"]
        assert index["status"] == "ok"
        assert index["buildId"] == build_id
        assert index["asOf"] == app.state.indexes.current().as_of.isoformat()


class TestOutsideTheApi:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"sandbox": True, "invalid_tokens_per_address_per_minute": 1}

    def test_not_limited_and_not_journaled(self, app: FastAPI, http: TestClient) -> None:
        # A bad token counts against the caller's address on the API, never here.
        bad = {"Authorization": "Bearer not-a-token"}
        for _ in range(3):
            assert http.get("/readyz", headers=bad).status_code == 200
            assert http.get("/healthz", headers=bad).status_code == 200
        assert app.state.sandbox.journal.entries(None, everyone=True, limit=None) == []


class TestWithAStuckRedis:
    @pytest.fixture
    def settings_overrides(self, black_hole: BlackHole) -> dict[str, Any]:
        return {"redis_url": black_hole.url}

    def test_alive_while_a_token_request_waits_for_redis(
        self, http: TestClient, black_hole: BlackHole, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The token request waits for Redis a while; meanwhile the process answers.
        monkeypatch.setattr(ratelimit, "STORE_TIMEOUT_SECONDS", 2.0)
        finished: list[str] = []

        def ask_for_a_token() -> None:
            form = {"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"}
            assert http.post("/oauth2/token", data=form).status_code == 503
            finished.append("token")

        asking = threading.Thread(target=ask_for_a_token)
        asking.start()
        assert black_hole.asked.wait(30)
        assert http.get("/healthz").status_code == 200
        finished.append("healthz")
        asking.join()
        assert finished == ["healthz", "token"]

    def test_not_ready_while_redis_does_not_answer(self, http: TestClient) -> None:
        status, body = ready(http)
        assert status == 503
        assert body["checks"]["rateLimitStore"] == silent_rate_limit_store("redis")
        # The metadata store is fine: only the rate-limit store keeps the API from answering.
        assert body["checks"]["store"] == {"status": "ok"}


# Every API call answers 503 while the rate-limit store is down: so does readiness.


class TestReadyzWithRedisDown:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"redis_url": f"redis://127.0.0.1:{closed_port()}/0"}

    def test_not_ready_and_the_url_is_not_shown(self, http: TestClient, settings: Settings) -> None:
        status, body = ready(http)
        assert status == 503
        assert body["status"] == "not ready"
        assert body["checks"]["rateLimitStore"] == silent_rate_limit_store("redis")
        assert settings.redis_url is not None
        port = settings.redis_url.get_secret_value().rsplit(":", 1)[1].split("/")[0]
        answer = http.get("/readyz").text
        assert port not in answer
        assert "127.0.0.1" not in answer


class TestReadyzWithRedis:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        if not redis_available():
            pytest.skip("Redis is not reachable at 127.0.0.1:6379")
        return {"redis_url": REDIS_URL}

    def test_ready(self, http: TestClient) -> None:
        status, body = ready(http)
        assert status == 200
        assert body["checks"]["rateLimitStore"] == {"status": "ok", "kind": "redis"}


class TestReadyzWithASharedFile:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        # Several workers and no Redis: the counts live in a file of the data directory.
        return {"workers": 2}

    def test_not_ready_while_the_file_stays_locked(
        self, http: TestClient, settings: Settings
    ) -> None:
        status, body = ready(http)
        assert status == 200
        assert body["checks"]["rateLimitStore"] == {"status": "ok", "kind": "file"}
        # Another process holds the file's write lock past the wait of one call.
        holder = sqlite3.connect(settings.data_dir / "ratelimit.db", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            status, body = ready(http)
        finally:
            holder.rollback()
            holder.close()
        assert status == 503
        assert body["checks"]["rateLimitStore"] == silent_rate_limit_store("file")
        assert str(settings.data_dir) not in http.get("/readyz").text
        # Ready again as soon as the file can be written.
        status, body = ready(http)
        assert status == 200
        assert body["checks"]["rateLimitStore"] == {"status": "ok", "kind": "file"}
