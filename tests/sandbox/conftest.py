"""Fixtures of the sandbox tests: a server with the sandbox on, and its operator."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from reach.sandbox.service import Sandbox


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"sandbox": True, "rate_limit_per_minute": 0}


class Admin:
    """The operator of a sandbox: every call carries the admin token."""

    def __init__(self, http: TestClient, token: str) -> None:
        self.http = http
        self.token = token

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} | kwargs.pop("headers", {})
        return self.http.request(method, f"/_reach{path}", headers=headers, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code == status, response.text
        return response.json()["data"]

    def fault(self, **rule: Any) -> dict[str, Any]:
        created: dict[str, Any] = self.ok("POST", "/faults", 201, json=rule)
        return created

    def faults(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self.ok("GET", "/faults")
        return listed

    def journal(self, **params: Any) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.ok("GET", "/journal", params=params)
        return entries


@pytest.fixture
def sandbox(app: FastAPI) -> Sandbox:
    found: Sandbox = app.state.sandbox
    return found


@pytest.fixture
def admin(sandbox: Sandbox, http: TestClient) -> Admin:
    return Admin(http, sandbox.admin.issue())


@pytest.fixture
def sleeps(sandbox: Sandbox) -> list[float]:
    """The delays latency faults asked for, in seconds; nothing actually waits."""
    asked: list[float] = []
    sandbox.sleep = asked.append
    return asked


def problem(response: Any) -> dict[str, Any]:
    first: dict[str, Any] = response.json()["errors"][0]
    return first
