"""``reach serve --workers N`` for tests: the server, its API client, and which worker answered.

Which worker answered a connection is read from Linux's /proc (the worker process holding the
server end of the connection's socket): nothing of the kind is ever said over HTTP."""

from __future__ import annotations

import http.client
import json
import socket
import sys
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reach.testing import HOST, reach, running_server, server_environment
from tests.conftest import wipe

ADVERTISER = "1001"
START_SECONDS = 60.0

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads Linux's /proc")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    # The worker process that answered.
    pid: int


@dataclass
class Workers:
    """A running ``reach serve --workers N`` and one API client's token."""

    url: str
    port: int
    master: int
    env: dict[str, str]
    data_dir: Path
    log_path: Path
    token: str

    def pids(self) -> set[int]:
        """The worker processes now (one worker is the server process itself)."""
        if self.env["REACH_WORKERS"] == "1":
            return {self.master}
        children = Path(f"/proc/{self.master}/task/{self.master}/children").read_text()
        return {int(pid) for pid in children.split()}

    def connect(self) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
        connection.connect()
        return connection

    def call(
        self,
        connection: http.client.HTTPConnection,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
    ) -> Answer:
        """One call on ``connection``, with the client's token unless ``token`` says another
        ("" for none)."""
        chosen = self.token if token is None else token
        headers = {"Authorization": f"Bearer {chosen}"} if chosen else {}
        raw = None
        if body is not None:
            raw = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection.request(method, path, raw, headers)
        response = connection.getresponse()
        data = response.read()
        answer = json.loads(data) if data else None
        found = {k.lower(): v for k, v in response.getheaders()}
        return Answer(response.status, found, answer, self.answering(connection))

    def answering(self, connection: http.client.HTTPConnection) -> int:
        """The worker holding the server end of ``connection``."""
        assert connection.sock is not None
        client_port = connection.sock.getsockname()[1]
        inode = _server_socket_inode(self.port, client_port)
        target = f"socket:[{inode}]"
        for pid in self.pids():
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    if fd.readlink().as_posix() == target:
                        return pid
                except OSError:
                    continue
        raise AssertionError(f"no worker holds the connection from port {client_port}")

    def started(self) -> int:
        """How many workers have said their application started."""
        return self.log_path.read_text(errors="replace").count("Application startup complete")

    def wait_started(self, count: int) -> None:
        deadline = time.monotonic() + START_SECONDS
        while self.started() < count:
            if time.monotonic() > deadline:
                raise AssertionError(self.log_path.read_text(errors="replace"))
            time.sleep(0.1)


def _server_socket_inode(server_port: int, client_port: int) -> int:
    local = f"0100007F:{server_port:04X}"
    remote = f"0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            return int(fields[9])
    raise AssertionError(f"no connection from port {client_port} to port {server_port}")


def token_of(port: int, client_id: str, client_secret: str) -> str:
    form = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    )
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request(
            "POST",
            "/oauth2/token",
            form,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 200, body
    return str(body["access_token"])


@contextmanager
def serve_workers(
    tmp_path: Path,
    database_url: str,
    count: int,
    environment: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
    *,
    token: bool = True,
) -> Iterator[Workers]:
    """``reach serve`` with ``count`` workers over a fresh store, one client of one advertiser
    (and its access token, unless ``token`` is False); ``data_dir`` may hold an index."""
    wipe(database_url)
    data_dir = data_dir or tmp_path / "reach"
    env = server_environment(data_dir, database_url) | {"REACH_WORKERS": str(count)}
    env |= dict(environment or {})
    reach(env, "advertisers", "add", ADVERTISER, "--name", "Shop")
    created = json.loads(
        reach(env, "clients", "create", "--name", "workers", "--advertiser", ADVERTISER)
    )
    with running_server(env, tmp_path / "server.log") as server:
        port = int(server.url.rsplit(":", 1)[1])
        workers = Workers(
            url=server.url,
            port=port,
            master=server.process.pid,
            env=env,
            data_dir=data_dir,
            log_path=tmp_path / "server.log",
            token=token_of(port, created["client_id"], created["client_secret"]) if token else "",
        )
        workers.wait_started(count)
        yield workers


def connections_to_every_worker(
    workers: Workers, path: str, wanted: int
) -> list[tuple[http.client.HTTPConnection, int]]:
    """Keep-alive connections (and the worker holding each) until every worker holds some:
    which worker accepts a connection is the kernel's choice."""
    found: list[tuple[http.client.HTTPConnection, int]] = []
    for _ in range(200):
        connection = workers.connect()
        # Without a token: the probe counts against no limit.
        found.append((connection, workers.call(connection, "GET", path, token="").pid))
        if len(found) >= 4 and len({pid for _, pid in found}) == wanted:
            return found
    raise AssertionError("the connections never reached every worker")


def free_listening_socket() -> socket.socket:
    """A socket that accepts connections (the kernel completes them) and never answers."""
    stuck = socket.socket()
    stuck.bind((HOST, 0))
    stuck.listen(16)
    return stuck
