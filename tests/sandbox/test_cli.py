"""``reach admin token`` and ``reach reset``, run in-process against the test store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from reach.cli import app as cli
from tests.builders import create_segments, item, retargeting
from tests.conftest import ADVERTISER, OTHER_ADVERTISER, TEST_SECRET_KEY, ApiUser
from tests.sandbox.conftest import Admin


@pytest.fixture
def run(
    app: FastAPI, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    """A runner whose Settings point at the same store as ``app``."""
    monkeypatch.setenv("REACH_DATABASE_URL", database_url)
    monkeypatch.setenv("REACH_DATA_DIR", str(app.state.settings.data_dir))
    monkeypatch.setenv("REACH_SECRET_KEY", TEST_SECRET_KEY)
    return CliRunner()


def test_the_printed_admin_token_opens_the_controls(run: CliRunner, http: TestClient) -> None:
    result = run.invoke(cli, ["admin", "token", "--hours", "1"])
    assert result.exit_code == 0, result.output
    admin = Admin(http, result.stdout.strip())
    assert admin.faults() == []


def test_reset_removes_what_clients_made(
    run: CliRunner, app: FastAPI, api: ApiUser, admin: Admin
) -> None:
    create_segments(api, retargeting(ADVERTISER, "a"), item(ADVERTISER, "b", contactList={}))
    refused = run.invoke(cli, ["reset", "--advertiser", str(ADVERTISER)], input="n\n")
    assert refused.exit_code == 1
    body = api.post("/2025-01/marketing-solutions/audience-segments/search", {}).json()
    assert body["meta"]["totalItems"] == 2
    admin.fault(operation="GetCurrentApplication", answers=["500"])

    result = run.invoke(cli, ["reset", "--yes"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "advertiserId": None,
        "audienceSegments": 2,
        "audiences": 0,
        "contactLists": 1,
        "lookalikeResults": 0,
        "adSetLinks": 0,
    }
    assert "in memory" in result.stderr
    body = api.post("/2025-01/marketing-solutions/audience-segments/search", {}).json()
    assert body["meta"]["totalItems"] == 0
    # The server's faults live in its memory: the command cannot reach them.
    assert len(admin.faults()) == 1


def test_reset_of_one_advertiser(run: CliRunner, app: FastAPI, api: ApiUser) -> None:
    create_segments(api, retargeting(ADVERTISER, "a"))
    result = run.invoke(cli, ["reset", "--advertiser", str(OTHER_ADVERTISER)], input="y\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[-1])["audienceSegments"] == 0
    body = api.post("/2025-01/marketing-solutions/audience-segments/search", {}).json()
    assert body["meta"]["totalItems"] == 1


@pytest.mark.parametrize("advertiser", ["999", "x1"])
def test_reset_of_an_unknown_advertiser(run: CliRunner, api: ApiUser, advertiser: str) -> None:
    result = run.invoke(cli, ["reset", "--yes", "--advertiser", advertiser])
    assert result.exit_code == 1
    assert "error" in result.output
