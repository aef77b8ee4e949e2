"""A server killed in the middle of writes loses nothing it acknowledged and corrupts nothing."""

from __future__ import annotations

import http.client
import json
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from tests.server import reach, running_server, server_environment

ADVERTISER = "501"
BATCH = 40


class Caller:
    def __init__(self, url: str, client_id: str, secret: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "", parts.port or 80
        self.client_id, self.secret = client_id, secret
        self.token = ""

    def request(
        self, method: str, path: str, body: Any, headers: dict[str, str]
    ) -> tuple[int, Any]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            connection.close()

    def authenticate(self) -> None:
        form = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.secret,
            }
        )
        status, body = self.request(
            "POST", "/oauth2/token", form, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert status == 200, body
        self.token = body["access_token"]

    def call(self, path: str, payload: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        return self.request("POST", path, json.dumps(payload), headers)


def batch(number: int) -> dict[str, Any]:
    return {
        "data": [
            {
                "attributes": {
                    "advertiserId": ADVERTISER,
                    "name": f"b{number}-{i}",
                    "contactList": {},
                }
            }
            for i in range(BATCH)
        ]
    }


@pytest.mark.conformance
def test_kill_during_writes(tmp_path: Path) -> None:
    env = server_environment(tmp_path, None)
    reach(env, "db", "upgrade")
    reach(env, "advertisers", "add", ADVERTISER, "--name", "Durable")
    credentials = json.loads(
        reach(env, "clients", "create", "--name", "d", "--advertiser", ADVERTISER)
    )
    acknowledged: list[int] = []
    stop = threading.Event()

    with running_server(env, tmp_path / "server-1.log") as server:
        caller = Caller(server.url, credentials["client_id"], credentials["client_secret"])
        caller.authenticate()

        def write() -> None:
            number = 0
            while not stop.is_set():
                try:
                    status, body = caller.call(
                        "/2025-01/marketing-solutions/audience-segments/create", batch(number)
                    )
                except OSError:
                    return  # the server is gone
                assert status == 200
                assert body["errors"] == []
                acknowledged.append(number)
                number += 1

        writer = threading.Thread(target=write)
        writer.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        stop.set()
        writer.join(timeout=30)
    assert len(acknowledged) >= 5

    database = tmp_path / "reach.db"
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        names = [row[0] for row in connection.execute("SELECT name FROM audience_segments")]
    by_batch: dict[str, int] = {}
    for name in names:
        prefix = name.split("-")[0]
        by_batch[prefix] = by_batch.get(prefix, 0) + 1
    # Every acknowledged batch is there, whole; any other batch is there whole or not at all.
    for number in acknowledged:
        assert by_batch.get(f"b{number}") == BATCH
    assert set(by_batch.values()) == {BATCH}

    with running_server(env, tmp_path / "server-2.log") as server:
        caller = Caller(server.url, credentials["client_id"], credentials["client_secret"])
        caller.authenticate()
        status, body = caller.call(
            "/2025-01/marketing-solutions/audience-segments/search?limit=0", {}
        )
        assert status == 200
        assert body["meta"]["totalItems"] == len(names)
