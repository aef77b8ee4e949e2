"""The request journal: what it keeps of each call, per client, elided and capped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI

from reach.sandbox.journal import BODY_KEPT_BYTES
from reach.sandbox.service import Sandbox
from tests.builders import SEGMENTS, new_client
from tests.conftest import ADVERTISER, OTHER_ADVERTISER, ApiUser
from tests.sandbox.conftest import Admin

SEARCH = f"{SEGMENTS}/search"


def create(user: ApiUser, name: str) -> str:
    body = {
        "data": [{"attributes": {"advertiserId": str(ADVERTISER), "name": name, "contactList": {}}}]
    }
    response = user.post(f"{SEGMENTS}/create", body)
    assert response.status_code == 200, response.text
    segment_id: str = response.json()["data"][0]["id"]
    return segment_id


class TestEntries:
    def test_each_call_as_the_server_saw_and_answered_it(self, admin: Admin, api: ApiUser) -> None:
        response = api.http.post(
            "/2026-07/marketing-solutions/audience-segments/search?limit=5",
            json={"data": {"attributes": {"advertiserIds": [str(ADVERTISER)]}}},
            headers=api.headers(),
        )
        [entry] = admin.journal(clientId=api.credentials.client_id)
        assert entry["clientId"] == api.credentials.client_id
        assert (entry["method"], entry["path"]) == (
            "POST",
            "/2026-07/marketing-solutions/audience-segments/search",
        )
        assert (entry["apiVersion"], entry["operation"]) == ("2026-07", "SearchAudienceSegments")
        assert entry["status"] == response.status_code == 200
        assert entry["traceId"] == response.headers["x-trace-id"]
        assert entry["body"] == {"data": {"attributes": {"advertiserIds": [str(ADVERTISER)]}}}
        assert entry["bodyBytes"] == len(response.request.content)
        assert entry["bodyTruncated"] is False
        assert entry["problemCodes"] == entry["warningCodes"] == []
        assert entry["durationMs"] >= 0
        assert entry["fault"] is None

    def test_problem_and_warning_codes(self, admin: Admin, api: ApiUser) -> None:
        api.post(SEARCH, {"data": {"attributes": {"advertiserIds": [str(OTHER_ADVERTISER)]}}})
        api.post(SEARCH, {"data": {"attributes": {"colour": "blue"}}})
        denied, ignored = admin.journal(clientId=api.credentials.client_id)
        assert (denied["status"], denied["problemCodes"]) == (403, ["advertiser-access-denied"])
        assert (ignored["status"], ignored["warningCodes"]) == (200, ["unknown-field-ignored"])

    def test_the_fault_a_call_got(self, admin: Admin, api: ApiUser) -> None:
        rule = admin.fault(answers=["503"])
        api.post(SEARCH, {})
        [entry] = admin.journal()
        assert entry["fault"] == {"rule": rule["id"], "kind": "503"}
        assert (entry["status"], entry["problemCodes"]) == (503, ["service-unavailable"])

    def test_a_call_answered_before_its_body_was_read_keeps_its_body(
        self, admin: Admin, api: ApiUser
    ) -> None:
        """A fault (or a refused token) answers before the body is read: the journal reads it."""
        segment = create(api, "faulted list")
        admin.fault(answers=["401-expired"])
        amendment = {
            "data": {
                "attributes": {"operation": "add", "identifiers": ["a@example.com", "b@x.org"]}
            }
        }
        api.patch(f"/2026-07/audiences/{segment}/contactlist", amendment)
        api.http.post(SEARCH, json={"data": {"attributes": {}}})
        faulted, anonymous = admin.journal()[-2:]
        assert faulted["status"] == 401
        assert faulted["body"] == {
            "data": {"attributes": {"operation": "add", "identifiers": "<2 identifiers elided>"}}
        }
        assert anonymous["problemCodes"] == ["authorization-token-missing"]
        assert anonymous["body"] == {"data": {"attributes": {}}}

    def test_calls_without_a_known_caller(self, admin: Admin, api: ApiUser) -> None:
        api.http.post(SEARCH, json={})
        api.http.post(SEARCH, json={}, headers={"Authorization": "Bearer nonsense"})
        entries = admin.journal()
        assert [(e["clientId"], e["problemCodes"]) for e in entries] == [
            (None, ["authorization-token-missing"]),
            (None, ["authorization-token-invalid"]),
        ]

    def test_token_requests_and_the_controls_are_not_journaled(
        self, admin: Admin, api: ApiUser
    ) -> None:
        api.token()
        admin.faults()
        assert admin.journal() == []


class TestElision:
    def test_identifiers_are_counted_not_kept(self, admin: Admin, api: ApiUser) -> None:
        segment_id = create(api, "crm")
        emails = [f"person{n}@example.com" for n in range(1234)]
        body = {
            "data": {
                "type": "ContactlistAmendment",
                "attributes": {
                    "operation": "add",
                    "identifierType": "email",
                    "identifiers": emails,
                },
            }
        }
        api.patch(f"{SEGMENTS}/{segment_id}/contact-list", body)
        # The older path of the same operation too.
        api.patch(f"/2025-01/audiences/{segment_id}/contactlist", body)
        entries = admin.journal()[1:]
        assert [e["operation"] for e in entries] == ["UpdateContactListByAudienceSegment"] * 2
        for entry in entries:
            attributes = entry["body"]["data"]["attributes"]
            assert attributes["identifiers"] == "<1234 identifiers elided>"
            assert attributes["operation"] == "add"
        assert "person1@example.com" not in json.dumps(admin.journal())

    @pytest.mark.parametrize(
        "identifiers",
        [
            "alice@example.com",
            {"email": "alice@example.com"},
            [{"email": "alice@example.com"}],
            4155550100,
        ],
        ids=["text", "object", "list-of-objects", "number"],
    )
    def test_identifiers_of_any_shape_are_not_kept(
        self, admin: Admin, api: ApiUser, identifiers: Any
    ) -> None:
        segment_id = create(api, "crm")
        attributes = {"operation": "add", "identifierType": "email", "identifiers": identifiers}
        api.patch(
            f"{SEGMENTS}/{segment_id}/contact-list",
            {"data": {"type": "ContactlistAmendment", "attributes": attributes}},
        )
        entry = admin.journal()[-1]
        assert entry["operation"] == "UpdateContactListByAudienceSegment"
        kept = entry["body"]["data"]["attributes"]
        expected = "<1 identifiers elided>" if isinstance(identifiers, list) else None
        assert kept["identifiers"] == (expected or "<identifiers elided>")
        assert kept["operation"] == "add"
        assert "alice" not in json.dumps(entry)
        assert "4155550100" not in json.dumps(entry)

    def test_secrets_of_any_shape_are_not_kept(self, admin: Admin, api: ApiUser) -> None:
        api.post(
            SEARCH,
            {
                "data": {"attributes": {}},
                "clientSecret": {"value": "s3cret"},
                "refreshTokens": ["r3fresh"],
                "password": 12345678,
            },
        )
        [entry] = admin.journal()
        assert entry["body"]["clientSecret"] == "<elided>"
        assert entry["body"]["refreshTokens"] == entry["body"]["password"] == "<elided>"
        for secret in ("s3cret", "r3fresh", "12345678"):
            assert secret not in json.dumps(entry)

    def test_no_token_or_secret_is_kept(self, admin: Admin, api: ApiUser) -> None:
        token = api.token()
        api.post(
            SEARCH, {"data": {"attributes": {}}, "clientSecret": "s3cret", "accessToken": token}
        )
        [entry] = admin.journal()
        assert entry["body"]["clientSecret"] == entry["body"]["accessToken"] == "<elided>"
        assert token not in json.dumps(entry)
        assert "s3cret" not in json.dumps(entry)

    def test_a_long_body_is_cut(self, admin: Admin, api: ApiUser) -> None:
        ids = [str(n) for n in range(1, 20_001)]
        response = api.post(SEARCH, {"data": {"attributes": {"audienceSegmentIds": ids}}})
        assert response.status_code == 200
        [entry] = admin.journal()
        assert entry["bodyTruncated"] is True
        assert isinstance(entry["body"], str)
        assert len(entry["body"].encode()) == BODY_KEPT_BYTES
        assert entry["body"].startswith('{"data":{"attributes":{"audienceSegmentIds":["1","2",')
        assert entry["bodyBytes"] == len(response.request.content) > BODY_KEPT_BYTES


class TestPerClient:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"sandbox": True, "rate_limit_per_minute": 0, "sandbox_journal_size": 3}

    def test_the_last_calls_of_each_client(self, admin: Admin, app: FastAPI, api: ApiUser) -> None:
        other = ApiUser(api.http, new_client(app, ADVERTISER, name="other"))
        for limit in range(1, 6):
            api.post(f"{SEARCH}?limit={limit}", {})
        other.post(SEARCH, {})
        mine = admin.journal(clientId=api.credentials.client_id)
        assert [e["status"] for e in mine] == [200] * 3
        # The last three of the five (journal sequence numbers count from 1).
        assert [e["sequence"] for e in mine] == [3, 4, 5]
        theirs = admin.journal(clientId=other.credentials.client_id)
        assert [e["clientId"] for e in theirs] == [other.credentials.client_id]
        everyone = admin.journal()
        assert [e["clientId"] for e in everyone] == [api.credentials.client_id] * 3 + [
            other.credentials.client_id
        ]
        assert admin.journal(limit=2) == everyone[-2:]
        assert admin.journal(clientId="nobody") == []

    def test_a_slow_call_keeps_its_number_of_arrival(
        self, admin: Admin, api: ApiUser, sandbox: Sandbox
    ) -> None:
        """While a latency fault holds the first call, a second one arrives and is answered."""
        admin.fault(operation="SearchAudienceSegments", answers=["latency"], delayMs=100)
        headers = api.headers()

        def meanwhile(_: float) -> None:
            api.http.get("/2025-01/marketing-solutions/me", headers=headers)

        sandbox.sleep = meanwhile
        api.post(SEARCH, {})
        slow, quick = admin.journal()
        assert (slow["operation"], slow["fault"]["kind"]) == ("SearchAudienceSegments", "latency")
        assert quick["operation"] == "GetCurrentApplication"
        assert slow["sequence"] < quick["sequence"]
        assert admin.journal(clientId=api.credentials.client_id) == [slow, quick]

    def test_clearing(self, admin: Admin, api: ApiUser) -> None:
        api.post(SEARCH, {})
        api.post(SEARCH, {})
        assert admin.ok("DELETE", "/journal") == {"cleared": 2}
        assert admin.journal() == []

    def test_a_bad_limit(self, admin: Admin) -> None:
        response = admin.call("GET", "/journal", params={"limit": -1})
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "invalid-range"
