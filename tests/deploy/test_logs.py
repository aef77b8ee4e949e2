"""Logs: every line a server writes is JSON (off a terminal), one line per call with who, what
and how it ended, and never a secret, a token or an uploaded identifier."""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import logging
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from reach.kit.logs import formatter
from reach.testing import ReachSandbox, SandboxSettings, run_sandbox
from tests.conftest import ApiUser

SEGMENTS = "/2025-01/marketing-solutions/audience-segments"
EMAILS = [f"jane.doe.{secrets.token_hex(4)}@example.com" for _ in range(3)]
PHONES = ["+33612345678", "+14155550123"]
WAIT_SECONDS = 20.0


def call(
    sandbox: ReachSandbox,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> tuple[int, Any, str]:
    """One HTTP call: status, JSON answer and the x-trace-id header."""
    address = urlsplit(sandbox.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    sent = dict(headers or {})
    raw: bytes | None = None
    if form is not None:
        raw = urlencode(form).encode()
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        raw = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=raw, headers=sent)
        response = connection.getresponse()
        answer = response.read()
        return response.status, json.loads(answer), response.headers["x-trace-id"]
    finally:
        connection.close()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReachSandbox]:
    chosen = SandboxSettings(
        client_id="log-test-client",
        client_secret="log-test-secret-" + secrets.token_hex(16),
        environment={"REACH_PHONE_DEFAULT_REGION": "FR"},
    )
    with run_sandbox(tmp_path_factory.mktemp("logs"), chosen) as running:
        yield running


def request_lines(log: Path, count: int) -> list[dict[str, Any]]:
    """Every line of the log, parsed (each must be JSON), once ``count`` request lines are in."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        requests = [line for line in lines if line.get("event") == "request"]
        if len(requests) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def test_a_json_line_per_call_and_no_secret(sandbox: ReachSandbox) -> None:
    status, token_answer, token_trace = call(
        sandbox,
        "POST",
        "/oauth2/token",
        form={
            "grant_type": "client_credentials",
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
        },
    )
    assert status == 200
    token = token_answer["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}

    # An authenticated call with problems: a name too long, an advertiser not granted.
    refused_status, refused, refused_trace = call(
        sandbox,
        "POST",
        f"{SEGMENTS}/create?limit=5&secret_in_query=s3cr3t",
        {
            "data": [
                {"attributes": {"advertiserId": "1001", "name": "x" * 300, "contactList": {}}},
                {"attributes": {"advertiserId": "4242", "name": "elsewhere", "contactList": {}}},
            ]
        },
        bearer,
    )
    codes = [problem["code"] for problem in refused["errors"]]
    assert codes

    # A contact list, and identifiers uploaded into it.
    status, created, _ = call(
        sandbox,
        "POST",
        f"{SEGMENTS}/create",
        {"data": [{"attributes": {"advertiserId": "1001", "name": "crm", "contactList": {}}}]},
        bearer,
    )
    assert status == 200, created
    segment = created["data"][0]["id"]
    for kind, identifiers in (("email", EMAILS), ("phoneNumber", PHONES)):
        attributes = {"operation": "add", "identifierType": kind, "identifiers": identifiers}
        status, amended, _ = call(
            sandbox,
            "PATCH",
            f"{SEGMENTS}/{segment}/contact-list",
            {"data": {"type": "ContactlistAmendment", "attributes": attributes}},
            bearer,
        )
        assert status == 200, amended

    lines = request_lines(sandbox.log_path, 5)
    requests = {line["trace_id"]: line for line in lines if line.get("event") == "request"}

    token_line = requests[token_trace]
    assert token_line["method"] == "POST"
    assert token_line["path"] == "/oauth2/token"
    assert token_line["status"] == 200
    assert token_line["logger"] == "reach.access"

    line = requests[refused_trace]
    assert line["client_id"] == sandbox.client_id
    assert line["advertiser_ids"] == ["1001"]
    assert line["method"] == "POST"
    assert line["path"] == f"{SEGMENTS}/create"  # no query string
    assert line["operation"] == "CreateAudienceSegments"
    assert line["api_version"] == "2025-01"
    assert line["status"] == refused_status
    assert line["problems"] == codes
    assert isinstance(line["duration_ms"], float | int) and line["duration_ms"] >= 0
    assert line["level"] == "info" and line["timestamp"]

    # uvicorn's own lines are JSON too (every line parsed above), its access log replaced.
    assert any("Uvicorn running" in str(line.get("event")) for line in lines)
    assert not any(line.get("logger") == "uvicorn.access" for line in lines)

    written = sandbox.log_path.read_text()
    never = [
        sandbox.client_secret,
        token,
        sandbox.admin_token,
        sandbox.env["REACH_SECRET_KEY"],
        "s3cr3t",
        "Bearer",
        *EMAILS,
        *PHONES,
        "612345678",
        *(hashlib.sha256(email.encode()).hexdigest() for email in EMAILS),
    ]
    for secret in never:
        assert secret not in written


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """What the ``reach`` loggers write, through Reach's JSON formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(json=True))
    logger = logging.getLogger("reach")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class TestInProcess:
    def test_an_unexpected_error_keeps_its_traceback(
        self, app: FastAPI, captured: io.StringIO
    ) -> None:
        @app.get("/explode")
        def explode() -> None:
            raise RuntimeError("the engine fell over")

        with TestClient(app, raise_server_exceptions=False) as client:
            response = client.get("/explode")
        assert response.status_code == 500
        lines = [json.loads(line) for line in captured.getvalue().splitlines()]
        [crash] = [line for line in lines if line["level"] == "error"]
        assert crash["trace_id"] == response.headers["x-trace-id"]
        assert "Traceback" in crash["exception"]
        assert "RuntimeError: the engine fell over" in crash["exception"]
        [request] = [line for line in lines if line["event"] == "request"]
        assert request["status"] == 500
        assert request["problems"] == ["internal-error"]
        assert request["operation"] == "/explode"

    def test_a_call_by_an_authenticated_client(
        self, api: ApiUser, http: TestClient, captured: io.StringIO
    ) -> None:
        response = api.get("/2025-01/marketing-solutions/me")
        assert response.status_code == 200
        [line] = [
            json.loads(line)
            for line in captured.getvalue().splitlines()
            if json.loads(line)["trace_id"] == response.headers["x-trace-id"]
        ]
        assert line["client_id"] == api.credentials.client_id
        assert line["advertiser_ids"] == ["101"]
        assert line["operation"] == "GetCurrentApplication"
        assert line["problems"] == []


class TestAccessLogOff:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"access_log": False}

    def test_no_request_line(self, http: TestClient, captured: io.StringIO) -> None:
        assert http.get("/healthz").status_code == 200
        lines = [json.loads(line) for line in captured.getvalue().splitlines()]
        assert not [line for line in lines if line["logger"] == "reach.access"]


def test_console_lines_are_readable() -> None:
    record = logging.LogRecord("reach.access", logging.INFO, __file__, 1, "request", None, None)
    record.status = 200
    record.path = "/healthz"
    line = formatter(json=False).format(record)
    assert "request" in line
    assert "status=200" in line
    assert "path=/healthz" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
