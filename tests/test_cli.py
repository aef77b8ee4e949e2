"""The ``reach`` command line, run in-process against the test database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from reach.cli import app as cli
from reach.cli.context import context
from reach.cli.demo import ADVERTISERS, BEHAVIORAL, instructions, seed
from tests.builders import Credentials
from tests.conftest import TEST_SECRET_KEY, ApiUser, segments


@pytest.fixture
def run(
    app: FastAPI, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    """A runner whose Settings point at the same (wiped) store as ``app``."""
    monkeypatch.setenv("REACH_DATABASE_URL", database_url)
    monkeypatch.setenv("REACH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REACH_SECRET_KEY", TEST_SECRET_KEY)
    return CliRunner()


def ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_advertisers_add_and_list(run: CliRunner) -> None:
    ok(run, "advertisers", "add", "42", "--name", "Acme")
    assert "Acme" in ok(run, "advertisers", "list")
    again = run.invoke(cli, ["advertisers", "add", "42", "--name", "Acme"])
    assert again.exit_code == 1
    assert "already exists" in again.output
    bad = run.invoke(cli, ["advertisers", "add", "x1", "--name", "Acme"])
    assert bad.exit_code == 1


def test_client_create_prints_working_credentials(run: CliRunner, http: TestClient) -> None:
    ok(run, "advertisers", "add", "42", "--name", "Acme")
    ok(run, "advertisers", "add", "43", "--name", "Beta")
    printed = json.loads(
        ok(run, "clients", "create", "--name", "tool", "--advertiser", "43", "--advertiser", "42")
    )
    assert set(printed) == {"client_id", "client_secret", "advertisers"}
    assert printed["advertisers"] == ["42", "43"]
    user = ApiUser(http, Credentials(printed["client_id"], printed["client_secret"]))
    assert user.post("/2025-01/marketing-solutions/audience-segments/search", {}).status_code == 200
    listing = ok(run, "clients", "list")
    assert "tool" in listing
    # Into a pipe the table is never cut: the id that `clients revoke` needs is whole.
    assert printed["client_id"] in listing
    assert printed["client_secret"] not in listing


def test_client_create_with_chosen_credentials(run: CliRunner, http: TestClient) -> None:
    ok(run, "advertisers", "add", "42", "--name", "Acme")
    chosen = ("my-suite.client", "known-secret-for-tests")
    printed = json.loads(
        ok(
            run,
            "clients",
            "create",
            "--name",
            "suite",
            "--advertiser",
            "42",
            "--client-id",
            chosen[0],
            "--client-secret",
            chosen[1],
        )
    )
    assert (printed["client_id"], printed["client_secret"]) == chosen
    user = ApiUser(http, Credentials(*chosen))
    assert user.post("/2026-07/marketing-solutions/audience-segments/search", {}).status_code == 200
    again = run.invoke(
        cli, ["clients", "create", "--name", "x", "--advertiser", "42", "--client-id", chosen[0]]
    )
    assert again.exit_code == 1
    assert "exists already" in again.output
    for flag, value, message in [
        ("--client-id", "a b", "3 to 64 characters"),
        ("--client-secret", "short", "16 to 256 characters"),
        ("--client-secret", "with a space in it!", "without spaces"),
    ]:
        bad = run.invoke(
            cli, ["clients", "create", "--name", "x", "--advertiser", "42", flag, value]
        )
        assert bad.exit_code == 1
        assert message in bad.output


def test_client_create_refuses_unknown_advertisers(run: CliRunner) -> None:
    result = run.invoke(cli, ["clients", "create", "--name", "x", "--advertiser", "999"])
    assert result.exit_code == 1
    assert "Unknown advertiser" in result.output


def test_revoke_and_rotate(run: CliRunner, http: TestClient) -> None:
    ok(run, "advertisers", "add", "42", "--name", "Acme")
    first = json.loads(ok(run, "clients", "create", "--name", "a", "--advertiser", "42"))
    rotated = json.loads(ok(run, "clients", "rotate", first["client_id"]))
    assert rotated["client_id"] == first["client_id"]
    token = "/oauth2/token"

    def status(secret: str) -> int:
        form = {
            "grant_type": "client_credentials",
            "client_id": first["client_id"],
            "client_secret": secret,
        }
        return http.post(token, data=form).status_code

    assert status(first["client_secret"]) == 401
    assert status(rotated["client_secret"]) == 200
    ok(run, "clients", "revoke", first["client_id"])
    assert status(rotated["client_secret"]) == 401
    assert run.invoke(cli, ["clients", "revoke", "nope"]).exit_code == 1


def test_read_only_client(run: CliRunner, http: TestClient) -> None:
    ok(run, "advertisers", "add", "42", "--name", "Acme")
    printed = json.loads(
        ok(run, "clients", "create", "--name", "r", "--advertiser", "42", "--read-only")
    )
    user = ApiUser(http, Credentials(printed["client_id"], printed["client_secret"]))
    payload = {"data": [{"attributes": {"advertiserId": "42", "name": "x", "contactList": {}}}]}
    response = user.post("/2025-01/marketing-solutions/audience-segments/create", payload)
    assert response.status_code == 403


def test_behavioral_and_brands(run: CliRunner, http: TestClient) -> None:
    ok(run, "advertisers", "add", "42", "--name", "Acme")
    ok(run, "brands", "add", "7", "--name", "Nike")
    ok(
        run,
        "behavioral",
        "add",
        "--advertiser",
        "42",
        "--name",
        "Movers",
        "--category",
        "LifeEvents",
        "--country",
        "fr",
        "--start",
        "2026-01-01",
        "--end",
        "2026-12-31",
    )
    assert (
        run.invoke(
            cli, ["behavioral", "add", "--advertiser", "42", "--name", "X", "--category", "Nope"]
        ).exit_code
        == 1
    )
    assert (
        run.invoke(
            cli,
            [
                "behavioral",
                "add",
                "--advertiser",
                "42",
                "--name",
                "Movers",
                "--category",
                "Seasonal",
            ],
        ).exit_code
        == 1
    )
    printed = json.loads(ok(run, "clients", "create", "--name", "r", "--advertiser", "42"))
    user = ApiUser(http, Credentials(printed["client_id"], printed["client_secret"]))
    [segment] = segments(user)
    assert segment["attributes"]["behavioral"] == {
        "category": "LifeEvents",
        "country": "FR",
        "startDate": "2026-01-01T00:00:00.000Z",
        "endDate": "2026-12-31T00:00:00.000Z",
    }
    brands = user.get(
        "/2025-01/marketing-solutions/audience-segments/in-market-brands",
        params={"advertiser-id": "42", "country": "FR"},
    ).json()["data"]
    assert brands == [
        {
            "id": "7",
            "type": "InMarketAudienceSegmentBrand",
            "attributes": {"name": "Nike", "size": None},
        }
    ]


def test_db_upgrade_is_repeatable(run: CliRunner) -> None:
    ok(run, "db", "upgrade")
    ok(run, "db", "upgrade")


def test_demo_seed_is_idempotent_and_its_instructions_work(
    run: CliRunner, http: TestClient
) -> None:
    with context() as ctx:
        for _ in range(2):
            with ctx.database.session(write=True) as session:
                seed(ctx, session)
        with ctx.database.session(write=True) as session:
            from reach.cli.demo import demo_client

            first = demo_client(ctx, session)
        with ctx.database.session(write=True) as session:
            second = demo_client(ctx, session)
    assert first.client_id == second.client_id
    user = ApiUser(http, Credentials(second.client_id, second.client_secret))
    found = segments(user)
    per_advertiser = len(BEHAVIORAL) + 3  # the behavioral ones, two examples, a lookalike
    assert len(found) == len(ADVERTISERS) * per_advertiser
    text = instructions("http://127.0.0.1:8080", second, [5, 6])
    assert second.client_secret in text
    assert "/oauth2/token" in text


def test_advertisers_import_is_all_or_nothing(run: CliRunner, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("id,name\n11,Eleven\n12,Twelve\n", encoding="utf-8")
    ok(run, "advertisers", "import", str(good))
    listing = ok(run, "advertisers", "list")
    assert "Eleven" in listing
    assert "Twelve" in listing
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\n13,Thirteen\n12,Again\n", encoding="utf-8")
    result = run.invoke(cli, ["advertisers", "import", str(bad)])
    assert result.exit_code == 1
    assert "line 3" in result.output
    assert "Thirteen" not in ok(run, "advertisers", "list")
    headless = tmp_path / "headless.csv"
    headless.write_text("13,Thirteen\n", encoding="utf-8")
    assert run.invoke(cli, ["advertisers", "import", str(headless)]).exit_code == 1
    assert run.invoke(cli, ["advertisers", "import", str(tmp_path / "missing.csv")]).exit_code == 1


def test_registry_names_are_bounded(run: CliRunner) -> None:
    result = run.invoke(cli, ["advertisers", "add", "5", "--name", "n" * 256])
    assert result.exit_code == 1
    assert "longer than 255" in result.output


def test_adsets_add_and_list(run: CliRunner) -> None:
    ok(run, "advertisers", "add", "42", "--name", "Acme")
    ok(run, "adsets", "add", "900", "--advertiser", "42", "--name", "Spring sale")
    assert "Spring sale" in ok(run, "adsets", "list")
    assert (
        run.invoke(cli, ["adsets", "add", "900", "--advertiser", "42", "--name", "x"]).exit_code
        == 1
    )
    assert (
        run.invoke(cli, ["adsets", "add", "901", "--advertiser", "43", "--name", "x"]).exit_code
        == 1
    )


def test_demo_seeds_a_linked_audience(run: CliRunner, http: TestClient) -> None:
    from reach.cli.demo import DEMO_AUDIENCE, demo_client

    with context() as ctx:
        for _ in range(2):
            with ctx.database.session(write=True) as session:
                seed(ctx, session)
        with ctx.database.session(write=True) as session:
            credentials = demo_client(ctx, session)
    user = ApiUser(http, Credentials(credentials.client_id, credentials.client_secret))
    found = user.post("/2025-01/marketing-solutions/audiences/search", {}).json()["data"]
    assert len(found) == len(ADVERTISERS)
    for audience in found:
        assert audience["attributes"]["name"] == DEMO_AUDIENCE
        assert audience["attributes"]["adSetIds"] == [
            str(int(audience["attributes"]["advertiserId"]) * 10 + 1)
        ]
        assert len(audience["attributes"]["algebra"]["and"]) == 2


def test_ingest_reports_rejections_and_strict_fails(run: CliRunner, tmp_path: Path) -> None:
    products = tmp_path / "products.csv"
    products.write_text(
        "advertiser_id,product_id,brand_id,interest_id,price,price_range\n1,p1,99,,10,Low\n",
        encoding="utf-8",
    )
    relaxed = run.invoke(cli, ["ingest", "products", str(products)])
    assert relaxed.exit_code == 0
    assert "1 row rejected" in relaxed.output
    again = tmp_path / "products2.csv"
    again.write_text(products.read_text() + "1,p2,99,,10,Low\n", encoding="utf-8")
    assert run.invoke(cli, ["ingest", "products", "--strict", str(again)]).exit_code == 2


def test_contact_list_upload_and_stats(run: CliRunner, tmp_path: Path) -> None:
    ok(run, "advertisers", "add", "42", "--name", "Acme")
    with context() as ctx, ctx.database.session(write=True) as session:
        from reach.audience_segment.schemas import (
            AudienceSegmentCreateEntityV1,
            AudienceSegmentCreateEntityV1Resource,
            ContactListCreateV1,
        )
        from reach.audience_segment.service import AudienceSegmentService

        created = AudienceSegmentService(session, ctx.settings, ctx.clock).create(
            frozenset([42]),
            [
                AudienceSegmentCreateEntityV1Resource(
                    attributes=AudienceSegmentCreateEntityV1(
                        advertiser_id="42", name="crm", contact_list=ContactListCreateV1()
                    )
                )
            ],
        )
        segment_id = str(created.data[0].id)
    listing = tmp_path / "customers.csv"
    rows = ["id,mail"] + [f"{i},person{i}@example.com" for i in range(120)] + ["999,broken"]
    listing.write_text("\n".join(rows) + "\n", encoding="utf-8")
    uploaded = ok(run, "contact-list", "upload", segment_id, str(listing), "--column", "mail")
    assert "120" in uploaded
    assert "broken" in uploaded
    shown = ok(run, "contact-list", "stats", segment_id)
    assert "email" in shown
    assert "120" in shown
    assert "not an e-mail address" in shown
    removal = tmp_path / "gone.txt"
    removal.write_text("person1@example.com\nperson2@example.com\n", encoding="utf-8")
    ok(run, "contact-list", "upload", segment_id, str(removal), "--remove")
    assert "118" in ok(run, "contact-list", "stats", segment_id)
    ok(run, "contact-list", "read-only", segment_id)
    refused = run.invoke(cli, ["contact-list", "upload", segment_id, str(removal)])
    assert refused.exit_code == 1
    assert "read-only" in refused.output
    # A binary file, or text that is not UTF-8: refused before anything is sent.
    ok(run, "contact-list", "read-only", segment_id, "--off")
    for name, content in [
        ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        ("latin1.csv", "mail\nperson1@example.com\nzoë@example.com\n".encode("latin-1")),
    ]:
        odd = tmp_path / name
        odd.write_bytes(content)
        refused = run.invoke(cli, ["contact-list", "upload", segment_id, str(odd)])
        assert refused.exit_code == 1
        assert "nothing was sent" in refused.output
        assert "Traceback" not in refused.output
    assert "118" in ok(run, "contact-list", "stats", segment_id)


def test_commands_refuse_a_store_without_its_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REACH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REACH_DATABASE_URL", "")
    runner = CliRunner()
    for args in (["clients", "list"], ["serve", "--port", "1"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 1, result.output
        assert "run `reach db upgrade`" in result.output
        assert "Traceback" not in result.output
    # Commands of the data directory alone do not need the metadata store.
    no_index = runner.invoke(cli, ["index", "status"])
    assert "No index in service" in no_index.output
    ok(runner, "db", "upgrade")
    ok(runner, "clients", "list")
