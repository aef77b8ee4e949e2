"""Members out: ``reach segments|audiences members`` and ``GET /_reach/.../members`` write the
people that compute-sizes counts (exact mode), as the oracle finds them, as CSV or Parquet."""

from __future__ import annotations

import asyncio
import csv
import fcntl
import hashlib
import io
import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Message, Scope
from typer.testing import CliRunner

from reach.audience_segment.service import AudienceSegmentService
from reach.cli import app as cli
from reach.engine.store import Store
from reach.export import people
from reach.lookalike.service import Lookalikes
from reach.lookalike.worker import LookalikeWorker
from reach.testing import reach_command
from tests.builders import (
    AUDIENCES,
    SEGMENTS,
    ManualClock,
    audience,
    create_segments,
    item,
    leaf,
    retargeting,
    sizes,
    sizes_by_id,
)
from tests.conftest import TEST_SECRET_KEY, ApiUser
from tests.engine.oracle import Oracle
from tests.indexed import ADVERTISERS

ADVERTISER = ADVERTISERS[0]
PARIS = {"latitude": 48.8566, "longitude": 2.3522}
EMAILS = [f"user{n}@example.com" for n in range(1, 400)]


@pytest.fixture
def settings_overrides(indexed_settings: dict[str, Any]) -> dict[str, Any]:
    return indexed_settings


@pytest.fixture
def run(app: FastAPI, database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner whose Settings are the server's: same store, data directory and exact sizes."""
    monkeypatch.setenv("REACH_DATABASE_URL", database_url)
    monkeypatch.setenv("REACH_DATA_DIR", str(app.state.settings.data_dir))
    monkeypatch.setenv("REACH_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("REACH_SIZE_PRIVACY", "exact")
    monkeypatch.setenv("REACH_MIN_REPORTED_SIZE", "0")
    return CliRunner()


@pytest.fixture
def worker(app: FastAPI) -> LookalikeWorker:
    """The server's worker, which builds only when the test says so."""
    app.state.lookalikes = Lookalikes(app.state.lookalikes.results, lambda: None)
    found: LookalikeWorker = app.state.lookalike_worker
    return found


@pytest.fixture
def admin(app: FastAPI) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.state.admin_tokens.issue(hours=1)}"}


def contact_list(user: ApiUser, name: str = "crm", emails: list[str] = EMAILS) -> str:
    [segment] = create_segments(user, item(ADVERTISER, name, contactList={}))
    body = {
        "data": {
            "type": "ContactlistAmendment",
            "attributes": {"operation": "add", "identifierType": "email", "identifiers": emails},
        }
    }
    response = user.patch(f"{SEGMENTS}/{segment}/contact-list", body)
    assert response.status_code == 200, response.text
    return segment


def listed(emails: list[str] = EMAILS) -> list[tuple[str, str]]:
    return [("email", hashlib.sha256(e.encode()).hexdigest()) for e in emails]


def exported(run: CliRunner, kind: str, identifier: str, *options: str) -> list[dict[str, str]]:
    """The rows of a CSV export written to standard output."""
    result = run.invoke(cli, [kind, "members", identifier, *options])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def ingestion_could_start(app: FastAPI) -> bool:
    """Whether an ingestion would get the store's exclusive lock now (tried without waiting)."""
    with (app.state.settings.data_dir / "store" / ".lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def stalled_download(app: FastAPI, path: str, query: str, headers: dict[str, str]) -> bytes:
    """The body an HTTP client gets (of the length the answer announced) when it stops reading
    at the first chunk, checks that an ingestion could take the store's lock, then resumes."""

    async def download() -> bytes:
        stalled, resume = asyncio.Event(), asyncio.Event()
        body = bytearray()
        announced: dict[bytes, bytes] = {}

        async def receive() -> Message:
            await asyncio.Event().wait()  # the client never hangs up
            raise AssertionError

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                assert message["status"] == 200
                announced.update(message["headers"])
            if message["type"] == "http.response.body":
                if not resume.is_set():
                    stalled.set()
                    await resume.wait()
                body.extend(message.get("body", b""))

        scope: Scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "http_version": "1.1",
            "scheme": "http",
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 4000),
            "root_path": "",
        }
        answer = asyncio.create_task(app(scope, receive, send))
        await asyncio.wait_for(stalled.wait(), timeout=120)
        # An ingestion may replace the store while the client takes its time.
        assert ingestion_could_start(app), "the export holds the store's lock while it stalls"
        resume.set()
        await answer
        assert announced.get(b"content-length") == str(len(body)).encode()
        return bytes(body)

    return asyncio.run(download())


def user_ids(rows: list[dict[str, str]]) -> list[str]:
    return [row["user_id"] for row in rows]


def exact(found: dict[str, int | None]) -> dict[str, int]:
    """Sizes that must all be numbers (exact mode, no floor)."""
    assert all(size is not None for size in found.values()), found
    return {identifier: size for identifier, size in found.items() if size is not None}


def segment_sizes(user: ApiUser, *ids: str) -> dict[str, int]:
    return exact(sizes_by_id(sizes(user, f"{SEGMENTS}/compute-sizes", *ids)))


def audience_sizes(user: ApiUser, *ids: str) -> dict[str, int]:
    body = user.post(f"{AUDIENCES}/compute-sizes", {"data": [{"id": i} for i in ids]}).json()
    assert body["errors"] == [], body
    return exact({r["id"]: r["attributes"]["size"] for r in body["data"]})


def create_audience(user: ApiUser, name: str, algebra: dict[str, Any]) -> str:
    body = user.post(f"{AUDIENCES}/create", {"data": [audience(ADVERTISER, name, algebra)]})
    assert body.status_code == 200, body.text
    assert body.json()["errors"] == [], body.text
    identifier: str = body.json()["data"][0]["id"]
    return identifier


class TestCommandLine:
    def test_every_type_with_members_exports_what_its_size_counts(
        self,
        app: FastAPI,
        run: CliRunner,
        sizer: ApiUser,
        oracle: Oracle,
        clock: ManualClock,
        worker: LookalikeWorker,
    ) -> None:
        with app.state.database.session(write=True) as session:
            behavioral = AudienceSegmentService(session, app.state.settings, clock).add_behavioral(
                ADVERTISER, "Movers", "LifeEvents", "FR", None, None
            )
        ids = create_segments(
            sizer,
            retargeting(ADVERTISER, "buyers", 0, 30, "Buyers"),
            item(ADVERTISER, "prospects", prospecting={"usersType": "Prospects"}),
            item(ADVERTISER, "market", inMarket={"country": "FR", "interestIds": ["166"]}),
            item(ADVERTISER, "near", location={"pointsOfInterest": [PARIS], "radiusInKm": 25}),
        )
        crm = contact_list(sizer)
        ids += [str(behavioral.id), crm]
        expected = [
            oracle.retargeting(ADVERTISER, "Buyers", 0, 30),
            oracle.prospecting(ADVERTISER, "Prospects", None, None),
            oracle.in_market("FR", interest_ids=["166"]),
            oracle.location([(PARIS["latitude"], PARIS["longitude"])], 25),
            oracle.behavioral("LifeEvents", "FR"),
            oracle.contact_list(listed()),
        ]
        [lookalike] = create_segments(
            sizer, item(ADVERTISER, "look", lookalike={"seedSegmentId": ids[0], "targetSize": 150})
        )
        [built] = worker.run_once().built
        assert built.segment_id == int(lookalike)

        counted = segment_sizes(sizer, *ids, lookalike)
        for segment, members in zip(ids, expected, strict=True):
            people = user_ids(exported(run, "segments", segment))
            assert len(people) == len(set(people)) == counted[segment] > 0
            assert set(people) == members
        people = user_ids(exported(run, "segments", lookalike))
        assert len(set(people)) == len(people) == counted[lookalike] == 150
        assert not set(people) & expected[0]  # a lookalike never holds its seed

    def test_an_audience_exports_its_and_or_not(
        self, run: CliRunner, sizer: ApiUser, oracle: Oracle
    ) -> None:
        visitors, recent, market, crm = [
            *create_segments(
                sizer,
                retargeting(ADVERTISER, "visitors", 0, 30),
                retargeting(ADVERTISER, "recent", 0, 3),
                item(ADVERTISER, "market", inMarket={"country": "FR"}),
            ),
            contact_list(sizer),
        ]
        algebra = {
            "and": [
                {"or": [leaf(visitors), leaf(market)]},
                {"not": leaf(recent)},
                {"not": leaf(crm)},
            ]
        }
        made = create_audience(sizer, "mix", algebra)
        expected = (
            (oracle.retargeting(ADVERTISER, "All", 0, 30) | oracle.in_market("FR"))
            - oracle.retargeting(ADVERTISER, "All", 0, 3)
            - oracle.contact_list(listed())
        )
        people = user_ids(exported(run, "audiences", made))
        assert len(people) == len(set(people)) == audience_sizes(sizer, made)[made] > 0
        assert set(people) == expected

    def test_parquet_with_the_hashed_identities(
        self, run: CliRunner, sizer: ApiUser, oracle: Oracle, tmp_path: Path
    ) -> None:
        [segment] = create_segments(sizer, retargeting(ADVERTISER, "visitors", 0, 30))
        target = tmp_path / "visitors.parquet"
        result = run.invoke(
            cli,
            ["segments", "members", segment, "--format", "parquet", "--out", str(target)],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        assert f"members of segment {segment} written to" in result.stderr
        plain = pq.read_table(target)
        assert plain.column_names == ["user_id"]
        assert target.stat().st_mode & 0o077 == 0  # it lists people: the owner's alone

        result = run.invoke(
            cli,
            [
                *("segments", "members", segment, "--format", "parquet", "--out", str(target)),
                "--identities",
            ],
        )
        assert result.exit_code == 0, result.output
        table = pq.read_table(target)
        assert table.column_names == ["user_id", "email_sha256", "phone_number_sha256"]
        rows = table.to_pylist()
        members = oracle.retargeting(ADVERTISER, "All", 0, 30)
        assert [r["user_id"] for r in rows] == plain.column("user_id").to_pylist()
        assert {r["user_id"] for r in rows} == members
        # Exactly the e-mail and phone digests each member was given, and nothing else.
        stored: dict[tuple[str, str], set[str]] = {}
        for user, kind, digest in oracle.con.execute(
            "SELECT user_id, identifier_type, lower(digest) FROM identities"
        ).fetchall():
            stored.setdefault((user, kind), set()).add(digest)
        for row in rows:
            assert set(row["email_sha256"]) == stored.get((row["user_id"], "email"), set())
            assert set(row["phone_number_sha256"]) == stored.get(
                (row["user_id"], "phoneNumber"), set()
            )
        assert any(row["email_sha256"] for row in rows)
        assert any(row["phone_number_sha256"] for row in rows)

    def test_csv_identities_are_separated_by_spaces(self, run: CliRunner, sizer: ApiUser) -> None:
        crm = contact_list(sizer)
        rows = exported(run, "segments", crm, "--identities")
        assert list(rows[0]) == ["user_id", "email_sha256", "phone_number_sha256"]
        uploaded = {digest for _, digest in listed()}
        # Each member of a contact list has one of the uploaded e-mails among its own.
        assert all(uploaded & set(row["email_sha256"].split(" ")) for row in rows)

    def test_an_empty_segment_is_a_header_alone(self, run: CliRunner, sizer: ApiUser) -> None:
        [empty] = create_segments(sizer, item(ADVERTISER, "empty list", contactList={}))
        result = run.invoke(cli, ["segments", "members", empty])
        assert result.exit_code == 0, result.output
        assert result.stdout == "user_id\n"

    def test_unknown_ids(self, run: CliRunner, sizer: ApiUser) -> None:
        for kind, noun in (("segments", "Segment"), ("audiences", "Audience")):
            for identifier in ("424242", "x"):
                result = run.invoke(cli, [kind, "members", identifier])
                assert result.exit_code == 1
                assert f"{noun} {identifier} does not exist" in result.stderr
                assert result.stdout == ""

    def test_parquet_needs_a_file(self, run: CliRunner, sizer: ApiUser) -> None:
        [segment] = create_segments(sizer, retargeting(ADVERTISER, "visitors"))
        result = run.invoke(cli, ["segments", "members", segment, "--format", "parquet"])
        assert result.exit_code == 2
        assert "--out FILE" in result.output
        result = run.invoke(cli, ["segments", "members", segment, "--format", "xlsx"])
        assert result.exit_code == 2

    def test_a_lookalike_not_built_yet(
        self, run: CliRunner, sizer: ApiUser, worker: LookalikeWorker
    ) -> None:
        [seed] = create_segments(sizer, retargeting(ADVERTISER, "seed", 0, 10))
        [look] = create_segments(sizer, item(ADVERTISER, "look", lookalike={"seedSegmentId": seed}))
        result = run.invoke(cli, ["segments", "members", look])
        assert result.exit_code == 1
        assert f"Lookalike {look} is being computed" in result.stderr
        assert "reach lookalike build" in result.stderr
        # An audience that needs it cannot be exported either (its size is null too).
        made = create_audience(sizer, "with look", {"or": [leaf(seed), leaf(look)]})
        result = run.invoke(cli, ["audiences", "members", made])
        assert result.exit_code == 1
        assert "is being computed" in result.stderr

    def test_a_small_contact_list_reaches_nobody_in_the_noisy_mode(
        self, run: CliRunner, sizer: ApiUser, monkeypatch: pytest.MonkeyPatch, oracle: Oracle
    ) -> None:
        few = EMAILS[:20]
        crm = contact_list(sizer, emails=few)
        matched = len(oracle.contact_list(listed(few)))
        assert 0 < matched < 100
        monkeypatch.setenv("REACH_SIZE_PRIVACY", "noisy")
        monkeypatch.setenv("REACH_MIN_REPORTED_SIZE", "100")
        result = run.invoke(cli, ["segments", "members", crm])
        assert result.exit_code == 1
        assert f"Contact list {crm} reaches nobody: {matched} people match it" in result.stderr
        # Exact, the same list is exported whole.
        monkeypatch.setenv("REACH_SIZE_PRIVACY", "exact")
        assert len(exported(run, "segments", crm)) == matched

    def test_a_stalled_reader_of_standard_output_does_not_hold_ingestion_back(
        self, app: FastAPI, run: CliRunner, sizer: ApiUser
    ) -> None:
        [segment] = create_segments(sizer, retargeting(ADVERTISER, "visitors", 0, 30))
        expected = run.invoke(cli, ["segments", "members", segment, "--identities"]).stdout
        assert len(expected) > 1 << 16  # more than a pipe holds (64 KiB on Linux)
        command = [*reach_command(), "segments", "members", segment, "--identities"]
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as export:
            assert export.stdout is not None
            # Some members' rows (not only the header), then the reader stalls: the pipe fills.
            first = b""
            while len(first) < 4096 and (read := os.read(export.stdout.fileno(), 4096)):
                first += read
            free = ingestion_could_start(app)
            rest, errors = export.communicate()
        assert export.returncode == 0, errors
        assert (first + rest).decode() == expected
        assert free


class TestNoIndex:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {}

    def test_the_export_says_to_build_one(self, run: CliRunner, api: ApiUser) -> None:
        [segment] = create_segments(api, retargeting(101, "visitors"))
        result = run.invoke(cli, ["segments", "members", segment])
        assert result.exit_code == 1
        assert "reach index build" in result.stderr


class TestHttp:
    def test_an_admin_gets_what_the_command_line_writes(
        self, http: TestClient, admin: dict[str, str], run: CliRunner, sizer: ApiUser
    ) -> None:
        [segment] = create_segments(sizer, retargeting(ADVERTISER, "visitors", 0, 30))
        crm = contact_list(sizer)
        made = create_audience(sizer, "both", {"and": [leaf(segment), {"not": leaf(crm)}]})
        for kind, identifier, size in (
            ("segments", segment, segment_sizes(sizer, segment)),
            ("audiences", made, audience_sizes(sizer, made)),
        ):
            response = http.get(
                f"/_reach/{kind}/{identifier}/members",
                params={"identities": "true"},
                headers=admin,
            )
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "text/csv; charset=utf-8"
            noun = kind.removesuffix("s")
            assert response.headers["content-disposition"] == (
                f'attachment; filename="{noun}-{identifier}-members.csv"'
            )
            assert response.headers["x-reach-members"] == str(size[identifier])
            result = run.invoke(cli, [kind, "members", identifier, "--identities"])
            assert response.text == result.stdout
            assert len(response.text.splitlines()) == 1 + size[identifier]

    def test_parquet(
        self,
        http: TestClient,
        admin: dict[str, str],
        sizer: ApiUser,
        oracle: Oracle,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        [segment] = create_segments(sizer, retargeting(ADVERTISER, "visitors", 0, 30))
        caplog.set_level(logging.INFO, logger="reach.export")
        response = http.get(
            f"/_reach/segments/{segment}/members", params={"format": "parquet"}, headers=admin
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/vnd.apache.parquet"
        assert response.headers["content-disposition"].endswith('members.parquet"')
        table = pq.read_table(io.BytesIO(response.content))
        members = oracle.retargeting(ADVERTISER, "All", 0, 30)
        assert set(table.column("user_id").to_pylist()) == members
        # Every export is logged: what, how many, how; never who.
        [line] = [r.getMessage() for r in caplog.records if r.name == "reach.export"]
        assert line.startswith(f"export of segment {segment}: {len(members)} members, parquet")
        assert not any(user in line for user in members)

    def test_only_an_admin_token_opens_it(
        self, http: TestClient, sizer: ApiUser, app: FastAPI
    ) -> None:
        [segment] = create_segments(sizer, retargeting(ADVERTISER, "visitors"))
        path = f"/_reach/segments/{segment}/members"
        missing = http.get(path)
        assert missing.status_code == 401
        assert missing.json()["errors"][0]["code"] == "authorization-token-missing"
        client = http.get(path, headers=sizer.headers())
        assert client.status_code == 403
        assert client.json()["errors"][0]["code"] == "admin-token-required"
        assert app.state.sandbox is None  # served with the sandbox off

    def test_problems(
        self,
        http: TestClient,
        admin: dict[str, str],
        sizer: ApiUser,
        worker: LookalikeWorker,
    ) -> None:
        unknown = http.get("/_reach/audiences/424242/members", headers=admin)
        assert unknown.status_code == 404
        [problem] = unknown.json()["errors"]
        assert problem["code"] == "audience-not-found"
        assert problem["traceId"]
        [seed] = create_segments(sizer, retargeting(ADVERTISER, "seed", 0, 10))
        [look] = create_segments(sizer, item(ADVERTISER, "look", lookalike={"seedSegmentId": seed}))
        computing = http.get(f"/_reach/segments/{look}/members", headers=admin)
        assert computing.status_code == 503
        assert computing.headers["retry-after"] == "5"
        assert computing.json()["errors"][0]["code"] == "members-not-ready"
        bad = http.get(f"/_reach/segments/{seed}/members?format=xlsx", headers=admin)
        assert bad.status_code == 400
        assert bad.json()["errors"][0]["code"]

    def test_a_stalled_client_does_not_hold_ingestion_back(
        self, app: FastAPI, admin: dict[str, str], sizer: ApiUser, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        [segment] = create_segments(sizer, retargeting(ADVERTISER, "visitors", 0, 30))
        size = segment_sizes(sizer, segment)[segment]
        monkeypatch.setattr(people, "BATCH_ROWS", 100)
        assert size > 3 * people.BATCH_ROWS
        for fmt in ("csv", "parquet"):
            path = f"/_reach/segments/{segment}/members"
            body = stalled_download(app, path, f"format={fmt}", admin)
            # The export was read before the answer started, and the client gets it whole.
            if fmt == "csv":
                assert len(body.decode().splitlines()) == 1 + size
            else:
                assert pq.read_table(io.BytesIO(body)).num_rows == size


class TestStoreReplacedUnderTheIndex:
    @pytest.fixture
    def settings_overrides(
        self, indexed_settings: dict[str, Any], sized_data: Path
    ) -> dict[str, Any]:
        """A store of this test's own, which it can change under the index."""
        store = indexed_settings["data_dir"] / "store"
        store.unlink()
        shutil.copytree(sized_data / "reach" / "store", store)
        return indexed_settings

    def test_a_later_batch_that_fails_is_an_error_not_a_cut_export(
        self,
        app: FastAPI,
        http: TestClient,
        admin: dict[str, str],
        run: CliRunner,
        sizer: ApiUser,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        [segment] = create_segments(sizer, retargeting(ADVERTISER, "visitors", 0, 30))
        monkeypatch.setattr(people, "BATCH_ROWS", 100)
        path = f"/_reach/segments/{segment}/members"
        whole = user_ids(list(csv.DictReader(io.StringIO(http.get(path, headers=admin).text))))
        assert len(whole) > 3 * people.BATCH_ROWS
        # The last member (in the last batch) leaves the store; the index still names it.
        store = Store(app.state.settings.data_dir / "store")
        for users in store.files("users"):
            table = pq.read_table(users)
            pq.write_table(table.filter(pc.not_equal(table["user_id"], whole[-1])), users)

        for fmt in ("csv", "parquet"):
            response = http.get(path, params={"format": fmt}, headers=admin)
            assert response.status_code == 503, response.text[:200]
            assert "x-reach-members" not in response.headers
            [problem] = response.json()["errors"]
            assert problem["code"] == "index-unavailable"
            assert "reach index build" in problem["detail"]
        result = run.invoke(cli, ["segments", "members", segment])
        assert result.exit_code == 1
        assert "reach index build" in result.stderr
        assert result.stdout == ""  # nothing written rather than part of the people


class TestHttpRateLimit:
    @pytest.fixture
    def settings_overrides(self, indexed_settings: dict[str, Any]) -> dict[str, Any]:
        return indexed_settings | {"rate_limit_per_minute": 1}

    def test_exports_are_not_counted_against_clients(
        self, http: TestClient, admin: dict[str, str], sizer: ApiUser
    ) -> None:
        [segment] = create_segments(sizer, retargeting(ADVERTISER, "visitors"))
        for _ in range(3):
            response = http.get(f"/_reach/segments/{segment}/members", headers=admin)
            assert response.status_code == 200, response.text
        # The client's one call of the minute was its create.
        assert sizer.post(f"{SEGMENTS}/search", {}).status_code == 429


class TestHttpWithoutIndex:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {}

    def test_503(self, http: TestClient, admin: dict[str, str], api: ApiUser) -> None:
        [segment] = create_segments(api, retargeting(101, "visitors"))
        response = http.get(f"/_reach/segments/{segment}/members", headers=admin)
        assert response.status_code == 503
        assert response.json()["errors"][0]["code"] == "index-unavailable"
