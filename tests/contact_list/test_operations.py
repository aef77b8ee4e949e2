"""PATCH/DELETE .../contact-list and GET .../contact-list/statistics, and lists inside sizes."""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi import FastAPI

from reach.contact_list.service import ContactListService
from tests.builders import AUDIENCES, SEGMENTS, ManualClock, item, leaf, retargeting
from tests.conftest import ApiUser
from tests.engine.oracle import Oracle
from tests.indexed import ADVERTISERS

ADVERTISER = ADVERTISERS[0]


def path(segment_id: str, suffix: str = "") -> str:
    return f"{SEGMENTS}/{segment_id}/contact-list{suffix}"


def amendment(
    identifiers: list[str], operation: str = "add", kind: str = "email", **extra: Any
) -> dict[str, Any]:
    attributes = {"operation": operation, "identifierType": kind, "identifiers": identifiers}
    return {"data": {"type": "ContactlistAmendment", "attributes": attributes | extra}}


def amend(user: ApiUser, segment_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = user.patch(path(segment_id), body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def statistics(user: ApiUser, segment_id: str) -> dict[str, Any]:
    response = user.get(path(segment_id, "/statistics"))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def new_list(user: ApiUser, name: str = "crm") -> str:
    body = user.post(
        f"{SEGMENTS}/create", {"data": [item(ADVERTISER, name, contactList={})]}
    ).json()
    identifier: str = body["data"][0]["id"]
    return identifier


def email(n: int) -> str:
    """An address the demo data gives (hashed) to some users."""
    return f"user{n}@example.com"


def known_digests(data: Path, kind: str) -> set[str]:
    with duckdb.connect() as con:
        source = f"read_parquet('{data}/identities.parquet')"
        rows = con.execute(
            f"SELECT digest FROM {source} WHERE identifier_type = ?",
            [kind],
        ).fetchall()
    return {str(r[0]) for r in rows}


class TestAmend:
    def test_add_answers_a_receipt(self, sizer: ApiUser, clock: ManualClock) -> None:
        segment = new_list(sizer)
        answer = amend(sizer, segment, amendment([email(1), email(2).upper(), "nope", email(1)]))
        assert answer == {
            "data": {
                "type": "ContactlistAmendment",
                "attributes": {
                    "contactListId": int(segment),
                    "operation": "add",
                    "requestDate": "2026-11-01T12:00:00.000Z",
                    "identifierType": "email",
                    "nbValidIdentifiers": 3,
                    "nbInvalidIdentifiers": 1,
                    "sampleInvalidIdentifiers": ["nope"],
                },
            },
            "errors": [],
            "warnings": [answer["warnings"][0]],
        }
        warning = answer["warnings"][0]
        assert warning["code"] == "invalid-identifiers"
        assert "1 not an e-mail address" in warning["detail"]
        # Duplicates are stored once.
        assert statistics(sizer, segment)["data"]["attributes"]["numberOfIdentifiers"] == 2

    def test_statistics_are_exact(self, sizer: ApiUser, sized_data: Path) -> None:
        segment = new_list(sizer)
        candidates = [email(n) for n in range(1, 401)] + [
            f"stranger{n}@example.org" for n in range(50)
        ]
        amend(sizer, segment, amendment(candidates))
        known = known_digests(sized_data / "data", "email")
        expected = sum(hashlib.sha256(e.encode()).hexdigest() in known for e in candidates)
        stats = statistics(sizer, segment)
        assert stats["data"] == {
            "id": segment,
            "type": "ContactlistStatistics",
            "attributes": {
                "numberOfIdentifiers": 450,
                "numberOfMatches": expected,
                "matchRate": round(expected / 450, 4),
            },
        }
        assert 0 < expected < 400

    def test_remove_and_wipe(self, sizer: ApiUser) -> None:
        segment = new_list(sizer)
        amend(sizer, segment, amendment([email(n) for n in range(1, 11)]))
        removed = amend(
            sizer, segment, amendment([email(1), email(2), "absent@example.com"], "remove")
        )
        assert removed["data"]["attributes"]["nbValidIdentifiers"] == 3
        assert statistics(sizer, segment)["data"]["attributes"]["numberOfIdentifiers"] == 8
        wiped = sizer.call("DELETE", path(segment))
        assert wiped.status_code == 200
        assert wiped.json() == {
            "data": {"id": segment, "type": "AudienceContactlist"},
            "errors": [],
            "warnings": [],
        }
        assert statistics(sizer, segment)["data"]["attributes"] == {
            "numberOfIdentifiers": 0,
            "numberOfMatches": 0,
            "matchRate": 0.0,
        }
        found = sizer.post(
            f"{SEGMENTS}/search", {"data": {"attributes": {"audienceSegmentIds": [segment]}}}
        )
        assert found.json()["meta"]["totalItems"] == 1

    def test_hashed_and_plain_identifiers_of_every_type(self, sizer: ApiUser) -> None:
        segment = new_list(sizer)
        digest = hashlib.sha256(b"user3@example.com").hexdigest()
        amend(sizer, segment, amendment([digest.upper(), email(3)]))
        amend(sizer, segment, amendment(["+33 6 12 34 56 78"], kind="phoneNumber"))
        amend(sizer, segment, amendment(["6F9619FF-8B86-D011-B42D-00C04FC964FF"], kind="madid"))
        amend(sizer, segment, amendment(["XY12"], kind="identityLink"))
        amend(sizer, segment, amendment(["abc"], kind="gum", gumCallerId=42))
        # The digest and the address are the same identifier.
        assert statistics(sizer, segment)["data"]["attributes"]["numberOfIdentifiers"] == 5


class TestRefusals:
    @pytest.fixture
    def segment(self, sizer: ApiUser) -> str:
        return new_list(sizer)

    def refused(self, user: ApiUser, segment: str, body: Any, status: int) -> dict[str, Any]:
        response = user.patch(path(segment), body)
        assert response.status_code == status, response.text
        problem: dict[str, Any] = response.json()["errors"][0]
        assert statistics(user, segment)["data"]["attributes"]["numberOfIdentifiers"] == 0
        return problem

    def test_not_a_contact_list(self, sizer: ApiUser) -> None:
        [other] = [
            r["id"]
            for r in sizer.post(
                f"{SEGMENTS}/create", {"data": [retargeting(ADVERTISER, "r")]}
            ).json()["data"]
        ]
        response = sizer.patch(path(other), amendment([email(1)]))
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "segment-not-contact-list"

    def test_read_only_list(
        self, app: FastAPI, sizer: ApiUser, segment: str, clock: ManualClock
    ) -> None:
        with app.state.database.session(write=True) as session:
            ContactListService(
                session, app.state.settings, clock, app.state.list_matches, None
            ).set_read_only(segment, True)
        problem = self.refused(sizer, segment, amendment([email(1)]), 403)
        assert problem["code"] == "contact-list-read-only"
        assert sizer.call("DELETE", path(segment)).status_code == 403

    def test_more_than_fifty_thousand(self, sizer: ApiUser, segment: str) -> None:
        problem = self.refused(
            sizer, segment, amendment([f"u{i}@example.com" for i in range(50_001)]), 400
        )
        assert (problem["code"], problem["source"]) == (
            "too-many-identifiers",
            {"identifiers": "data/attributes/identifiers"},
        )

    def test_gum_needs_a_caller_id(self, sizer: ApiUser, segment: str) -> None:
        problem = self.refused(sizer, segment, amendment(["abc"], kind="gum"), 400)
        assert problem["source"] == {"gumCallerId": "data/attributes/gumCallerId"}

    def test_unknown_identifier_type(self, sizer: ApiUser, segment: str) -> None:
        problem = self.refused(sizer, segment, amendment(["abc"], kind="fax"), 400)
        assert problem["source"] == {"identifierType": "data/attributes/identifierType"}

    def test_missing_fields(self, sizer: ApiUser, segment: str) -> None:
        response = sizer.patch(
            path(segment), {"data": {"type": "ContactlistAmendment", "attributes": {}}}
        )
        assert response.status_code == 400
        assert [e["source"] for e in response.json()["errors"]] == [
            {"operation": "data/attributes/operation"},
            {"identifiers": "data/attributes/identifiers"},
        ]
        empty = sizer.patch(path(segment), {})
        assert empty.status_code == 400
        assert empty.json()["errors"][0]["source"] == {"data": "data"}

    def test_identifiers_are_emails_unless_typed(self, sizer: ApiUser, segment: str) -> None:
        """The contract makes identifierType optional; Reach reads e-mails then."""
        response = sizer.patch(
            path(segment),
            {"data": {"attributes": {"operation": "add", "identifiers": [email(1), "x@"]}}},
        )
        assert response.status_code == 200, response.text
        receipt = response.json()["data"]["attributes"]
        assert receipt["identifierType"] == "email"
        assert (receipt["nbValidIdentifiers"], receipt["nbInvalidIdentifiers"]) == (1, 1)

    def test_another_advertisers_list_looks_missing(
        self, sizer: ApiUser, other_sizer: ApiUser, segment: str
    ) -> None:
        for response in (
            other_sizer.patch(path(segment), amendment([email(1)])),
            other_sizer.call("DELETE", path(segment)),
            other_sizer.get(path(segment, "/statistics")),
        ):
            assert response.status_code == 404
            assert response.json()["errors"][0]["code"] == "segment-not-found"

    def test_scopes(self, app: FastAPI, sizer: ApiUser, segment: str) -> None:
        from tests.builders import new_client

        reader = ApiUser(sizer.http, new_client(app, ADVERTISER, read_only=True, name="reader"))
        assert reader.patch(path(segment), amendment([email(1)])).status_code == 403
        assert reader.call("DELETE", path(segment)).status_code == 403
        assert reader.get(path(segment, "/statistics")).status_code == 200


class TestSizes:
    def test_a_list_has_the_members_its_identifiers_match(
        self, sizer: ApiUser, oracle: Oracle
    ) -> None:
        segment = new_list(sizer)
        emails = [email(n) for n in range(1, 300)]
        amend(sizer, segment, amendment(emails))
        [visitors] = [
            r["id"]
            for r in sizer.post(
                f"{SEGMENTS}/create", {"data": [retargeting(ADVERTISER, "v", 0, 30)]}
            ).json()["data"]
        ]
        listed = [("email", hashlib.sha256(e.encode()).hexdigest()) for e in emails]
        members = oracle.contact_list(listed)
        sizes = sizer.post(f"{SEGMENTS}/compute-sizes", {"data": [{"id": segment}]}).json()
        assert sizes["data"][0]["attributes"]["size"] == len(members) > 0
        audience = sizer.post(
            f"{AUDIENCES}/create",
            {
                "data": [
                    {
                        "attributes": {
                            "advertiserId": str(ADVERTISER),
                            "name": "crm visitors",
                            "algebra": {"and": [leaf(segment), leaf(visitors)]},
                        }
                    }
                ]
            },
        ).json()["data"][0]["id"]
        answer = sizer.post(f"{AUDIENCES}/compute-sizes", {"data": [{"id": audience}]}).json()
        expected = members & oracle.retargeting(ADVERTISER, "All", 0, 30)
        assert answer["data"][0]["attributes"]["size"] == len(expected)


def test_concurrent_amendments_lose_nothing(sizer: ApiUser) -> None:
    segment = new_list(sizer)
    headers = sizer.headers()
    batches = [[f"worker{w}-{i}@example.com" for i in range(500)] for w in range(8)]

    def send(batch: list[str]) -> int:
        response = sizer.http.patch(path(segment), json=amendment(batch), headers=headers)
        return int(response.status_code)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(send, batches)) == [200] * 8
    assert statistics(sizer, segment)["data"]["attributes"]["numberOfIdentifiers"] == 4000


def test_deleting_the_segment_deletes_its_identifiers(
    app: FastAPI, sizer: ApiUser, sized_data: Path
) -> None:
    segment = new_list(sizer)
    amend(sizer, segment, amendment([email(1)]))
    folder = app.state.settings.data_dir / "lists" / segment
    assert folder.is_dir()
    sizer.post(f"{SEGMENTS}/delete", {"data": [{"id": segment}]})
    assert not folder.exists()


def test_no_raw_identifier_is_ever_stored(
    app: FastAPI,
    sizer: ApiUser,
    backend: str,
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    segment = new_list(sizer)
    emails = ["Secret.Person+tag@Example.com", "another.secret@example.org"]
    phones = ["+33 6 98 76 54 32", "+1 650 253 0001"]
    amend(sizer, segment, amendment(emails))
    amend(sizer, segment, amendment(phones, kind="phoneNumber"))
    amend(sizer, segment, amendment(["not an email but sensitive"]))
    needles = [
        *(e.lower() for e in emails),
        *emails,
        "secret.person",
        "98 76 54 32",
        "33698765432",
        "16502530001",
        "not an email but sensitive",
    ]
    haystacks: list[bytes] = []
    for file in app.state.settings.data_dir.rglob("*"):
        if file.is_file():
            haystacks.append(file.read_bytes())
    if backend == "sqlite":
        database = Path(database_url.removeprefix("sqlite:///"))
        for file in database.parent.glob(database.name + "*"):
            haystacks.append(file.read_bytes())
    else:
        dump = subprocess.run(
            ["pg_dump", "--data-only", database_url.replace("+psycopg", "")],
            capture_output=True,
            check=True,
        )
        haystacks.append(dump.stdout)
    haystacks.append(caplog.text.encode())
    for needle in needles:
        for haystack in haystacks:
            assert needle.encode() not in haystack.lower(), needle
    assert shutil.which("pg_dump") or backend == "sqlite"
