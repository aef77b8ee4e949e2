"""``reach consent`` and ``reach operators``, run in-process against the test database."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from reach.cli import app as cli
from tests.test_cli import ok, run

__all__ = ["run"]

REDIRECT = "https://app.example/cb?tenant=7"


def setup_client(runner: CliRunner) -> dict[str, str]:
    ok(runner, "advertisers", "add", "42", "--name", "Acme")
    ok(runner, "advertisers", "add", "43", "--name", "Beta")
    created: dict[str, str] = json.loads(
        ok(runner, "clients", "create", "--name", "tool", "--advertiser", "42")
    )
    return created


def test_consent_grant_prints_a_working_code(run: CliRunner, http: TestClient) -> None:
    client = setup_client(run)
    printed = json.loads(
        ok(
            run,
            "consent",
            "grant",
            "--client",
            client["client_id"],
            "--advertiser",
            "43",
            "--redirect-uri",
            REDIRECT,
            "--state",
            "a b&c",
        )
    )
    assert set(printed) == {"code", "redirect"}
    assert printed["redirect"].startswith("https://app.example/cb?tenant=7&code=")
    query = parse_qs(urlsplit(printed["redirect"]).query)
    assert query == {"tenant": ["7"], "code": [printed["code"]], "state": ["a b&c"]}

    answer = http.post(
        "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": printed["code"],
            "redirect_uri": REDIRECT,
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )
    assert answer.status_code == 200, answer.text
    access = answer.json()["access_token"]
    me = http.get("/2025-01/advertisers/me", headers={"Authorization": f"Bearer {access}"})
    assert [a["id"] for a in me.json()["data"]] == ["43"]

    listing = ok(run, "consent", "list")
    assert client["client_id"] in listing
    assert "cli" in listing
    ok(run, "consent", "revoke", "1")
    assert "(revoked)" in ok(run, "consent", "list")
    again = http.get("/2025-01/advertisers/me", headers={"Authorization": f"Bearer {access}"})
    assert again.status_code == 401


def test_consent_grant_refusals(run: CliRunner) -> None:
    client = setup_client(run)
    base = ["consent", "grant", "--client", client["client_id"], "--redirect-uri", REDIRECT]
    for extra, message in (
        (["--advertiser", "999"], "Unknown advertiser"),
        (["--advertiser", "x"], "not a number"),
        (["--advertiser", "42", "--redirect-uri", "ftp://x/y"], "http or https"),
        (
            ["--advertiser", "42", "--redirect-uri", "https://evil.example\\@app.example/cb"],
            "backslash",
        ),
        (["--advertiser", "42", "--redirect-uri", "https://me@app.example/cb"], "user@host"),
    ):
        result = run.invoke(cli, [*base, *extra])
        assert result.exit_code == 1
        assert message in result.output
    impossible = run.invoke(
        cli,
        [
            "consent",
            "grant",
            "--client",
            "a\x1bb",
            "--advertiser",
            "42",
            "--redirect-uri",
            REDIRECT,
        ],
    )
    assert impossible.exit_code == 1
    assert "No client with id" in impossible.output
    unknown = run.invoke(cli, ["consent", "revoke", "77"])
    assert unknown.exit_code == 1
    assert "No consent with id 77" in unknown.output


def test_operators_add_list_and_grant(run: CliRunner) -> None:
    setup_client(run)
    ok_add = run.invoke(
        cli, ["operators", "add", "Ops@Example.com", "--password-stdin"], input="long enough pw\n"
    )
    assert ok_add.exit_code == 0, ok_add.output
    ok(run, "operators", "grant", "ops@example.com", "--advertiser", "42", "--advertiser", "43")
    listing = ok(run, "operators", "list")
    assert "ops@example.com" in listing
    assert "42, 43" in listing
    assert "long enough pw" not in listing


def test_operators_add_refusals(run: CliRunner) -> None:
    for email, password, message in (
        ("not-an-address", "long enough pw", "not a valid e-mail"),
        ("ops@example.com", "too short", "at least 12"),
    ):
        result = run.invoke(cli, ["operators", "add", email, "--password-stdin"], input=password)
        assert result.exit_code == 1
        assert message in result.output
    without = run.invoke(cli, ["operators", "add", "ops@example.com"])
    assert without.exit_code == 1
    assert "--password-stdin" in without.output
    run.invoke(cli, ["operators", "add", "ops@example.com", "--password-stdin"], input="x" * 12)
    twice = run.invoke(
        cli, ["operators", "add", "ops@example.com", "--password-stdin"], input="y" * 12
    )
    assert twice.exit_code == 1
    assert "exists already" in twice.output
    unknown = run.invoke(cli, ["operators", "grant", "who@example.com", "--advertiser", "1"])
    assert unknown.exit_code == 1
