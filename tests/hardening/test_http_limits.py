"""The request head is bounded (size, header count, time to send it) and the access log never
shows a secret sent in a query string: over a real socket, against a running ``reach serve``."""

from __future__ import annotations

import http.client
import json
import secrets
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from reach.testing import HOST, RunningServer, reach, running_server, server_environment

ME = "/2025-01/marketing-solutions/me"
# The server under test gives a client this long to send a request's head; the tests wait far
# longer (GUARD_SECONDS) before they call a connection left open a failure.
HEAD_TIMEOUT_SECONDS = 1
GUARD_SECONDS = 20.0


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("limits")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[RunningServer]:
    env = server_environment(data_dir, None) | {
        "REACH_HEADER_TIMEOUT_SECONDS": str(HEAD_TIMEOUT_SECONDS)
    }
    reach(env, "db", "upgrade")
    with running_server(env, data_dir / "server.log") as running:
        yield running


@pytest.fixture
def log(server: RunningServer, data_dir: Path) -> Path:
    """The output of the server under test, access log included."""
    return data_dir / "server.log"


def connect(server: RunningServer) -> socket.socket:
    address = urlsplit(server.url)
    return socket.create_connection((address.hostname, address.port), timeout=GUARD_SECONDS)


def answer(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def head(*headers: str) -> bytes:
    lines = [f"GET {ME} HTTP/1.1", "Host: reach.test", *headers, "Connection: close", "", ""]
    return "\r\n".join(lines).encode()


def test_two_hundred_headers_are_refused_with_431(server: RunningServer) -> None:
    with connect(server) as connection:
        connection.sendall(head(*(f"X-Filler-{n}: {n}" for n in range(200))))
        received = answer(connection)
    assert received.startswith(b"HTTP/1.1 431 "), received[:200]


def test_a_64_kib_header_is_refused_with_431(server: RunningServer) -> None:
    with connect(server) as connection:
        connection.sendall(head("X-Big: " + "a" * 65536))
        received = answer(connection)
    assert received.startswith(b"HTTP/1.1 431 "), received[:200]


def test_a_request_line_longer_than_the_cap_is_refused_with_431(server: RunningServer) -> None:
    with connect(server) as connection:
        connection.sendall(f"GET {ME}?{'a' * 20000} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        received = answer(connection)
    assert received.startswith(b"HTTP/1.1 431 "), received[:200]


def test_a_head_under_the_caps_is_served(server: RunningServer) -> None:
    # 90 headers of 100 bytes: within both caps, so the API answers (401: no token).
    with connect(server) as connection:
        connection.sendall(head(*(f"X-Filler-{n}: {'v' * 90}" for n in range(90))))
        received = answer(connection)
    assert received.startswith(b"HTTP/1.1 401 "), received[:200]


def closed_within_guard(connection: socket.socket, trickle: bytes = b"") -> bytes:
    """Send ``trickle`` one byte every 0.2 s (nothing when empty) until the server closes the
    connection; what it answered. Fails after ``GUARD_SECONDS``."""
    deadline = time.monotonic() + GUARD_SECONDS
    received = b""
    position = 0
    while time.monotonic() < deadline:
        if position < len(trickle):
            try:
                connection.sendall(trickle[position : position + 1])
            except (BrokenPipeError, ConnectionResetError):
                return received
            position += 1
        readable, _, _ = select.select([connection], [], [], 0.2)
        if readable:
            try:
                chunk = connection.recv(65536)
            except ConnectionResetError:
                return received
            if not chunk:
                return received
            received += chunk
    pytest.fail(f"the server kept the connection open for {GUARD_SECONDS} s")


def test_a_connection_that_stops_in_the_middle_of_its_headers_is_closed(
    server: RunningServer,
) -> None:
    with connect(server) as connection:
        connection.sendall(b"GET " + ME.encode() + b" HTTP/1.1\r\nHost: reach.test\r\nX-Slo")
        received = closed_within_guard(connection)
    assert received == b"" or received.startswith(b"HTTP/1.1 408 "), received[:200]


def test_a_head_sent_one_byte_at_a_time_is_cut_off(server: RunningServer) -> None:
    # Slowloris: each byte comes in time, but the head would take 60 s (300 bytes x 0.2 s).
    with connect(server) as connection:
        received = closed_within_guard(connection, head(*(f"X-{n}: {n:04}" for n in range(25))))
    assert received == b"" or received.startswith(b"HTTP/1.1 408 "), received[:200]


def test_a_connection_that_sends_nothing_is_closed(server: RunningServer) -> None:
    with connect(server) as connection:
        assert closed_within_guard(connection) == b""


def test_a_kept_alive_connection_may_wait_between_requests(server: RunningServer) -> None:
    # The head timeout counts from a request's first byte: an idle kept-alive connection is
    # governed by the keep-alive timeout, longer than the head timeout.
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(
        address.hostname or HOST, address.port, timeout=GUARD_SECONDS
    )
    try:
        sockets = []
        for _ in range(2):
            connection.request("GET", ME)
            response = connection.getresponse()
            response.read()
            assert response.status == 401
            sockets.append(connection.sock)
            time.sleep(HEAD_TIMEOUT_SECONDS * 2)
        assert sockets[0] is sockets[1]  # the same connection served both
    finally:
        connection.close()


def new_log_line(log: Path, seen: int, method: str, path: str) -> str:
    """What the log holds after its first ``seen`` bytes, once the access-log line (JSON) of a
    ``method`` call to ``path`` is among it."""
    deadline = time.monotonic() + GUARD_SECONDS
    while time.monotonic() < deadline:
        written = log.read_bytes()[seen:].decode(errors="replace")
        for line in written.splitlines():
            logged = json.loads(line)
            if logged.get("event") == "request" and logged["method"] == method:
                # The call is logged by its path, without its query.
                assert logged["path"] == path
                return written
        time.sleep(0.1)
    pytest.fail(f"no access-log line of {method} {path}:\n{log.read_text(errors='replace')}")


@pytest.mark.parametrize(
    ("method", "path", "secret_name"),
    [
        ("GET", ME, "access_token"),
        ("POST", "/oauth2/token", "client_secret"),
        ("POST", "/oauth2/token", "refresh_token"),
        ("GET", "/oauth2/authorize", "code"),
        ("GET", ME, "Access%5FToken"),
        ("GET", ME, "t"),
    ],
)
def test_the_access_log_never_shows_a_secret_from_the_query(
    server: RunningServer, log: Path, method: str, path: str, secret_name: str
) -> None:
    secret = secrets.token_hex(16)
    seen = log.stat().st_size
    with connect(server) as connection:
        connection.sendall(
            f"{method} {path}?limit=5&{secret_name}={secret} HTTP/1.1\r\nHost: reach.test\r\n"
            "Connection: close\r\nContent-Length: 0\r\n\r\n".encode()
        )
        answer(connection)
    written = new_log_line(log, seen, method, path)
    assert secret not in written
