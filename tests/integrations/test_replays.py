"""Replays of what real integrations send, written as our own data: their request shapes and
their reactions (token refresh, retries, name recovery), on the 2026-07 API.

The shapes are facts read from how each integration calls Criteo: RudderStack's audience
destination amends lists through the older ``/audiences/{id}/contactlist`` path with its own
``internalIdentifiers`` member; Segment's destination pages a search for a list by name, creates
it without ``type`` when missing and recovers from ``name-must-be-unique``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.builders import Credentials, ManualClock, add_advertiser, new_client

VERSION = "2026-07"
ADVERTISER = 301
CHUNK = 50_000


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # A small limit, so the replays meet a 429 and retry as the integrations do.
    return {"rate_limit_per_minute": 4}


@dataclass
class Integration:
    """An integration's HTTP behaviour: a cached token, refreshed when the server says it is
    invalid or expired; 429, 500 and 503 retried after the announced delay."""

    http: TestClient
    credentials: Credentials
    clock: ManualClock
    token: str | None = None
    sent: list[tuple[str, str, int]] = field(default_factory=list)
    token_requests: int = 0

    def authenticate(self) -> None:
        self.token_requests += 1
        response = self.http.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret,
            },
        )
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]

    def call(self, method: str, path: str, body: Any = None, attempts: int = 4) -> Any:
        for _ in range(attempts):
            if self.token is None:
                self.authenticate()
            response = self.http.request(
                method, path, json=body, headers={"Authorization": f"Bearer {self.token}"}
            )
            self.sent.append((method, path, response.status_code))
            codes = [e.get("code") for e in _json(response).get("errors", [])]
            if response.status_code == 401 and codes[:1] in (
                ["authorization-token-invalid"],
                ["authorization-token-expired"],
            ):
                self.token = None
                continue
            if response.status_code in (429, 500, 503):
                # Waits as long as the server asks (the manual clock makes it instant).
                self.clock.advance(seconds=int(response.headers["Retry-After"]))
                continue
            return response
        raise AssertionError(f"{method} {path} still failing after {attempts} attempts")


def _json(response: Any) -> dict[str, Any]:
    if response.headers.get("content-type", "").startswith("application/json"):
        body: dict[str, Any] = response.json()
        return body
    return {}


def emails(start: int, count: int) -> list[str]:
    return [f"Person.{n}@Example.com " for n in range(start, start + count)]


@pytest.fixture
def integration(app: FastAPI, http: TestClient, clock: ManualClock) -> Integration:
    add_advertiser(app, ADVERTISER)
    return Integration(http, new_client(app, ADVERTISER), clock)


def create_list(integration: Integration, name: str) -> str:
    response = integration.call(
        "POST",
        f"/{VERSION}/marketing-solutions/audience-segments/create",
        {
            "data": [
                {
                    "type": "AudienceSegment",
                    "attributes": {
                        "advertiserId": str(ADVERTISER),
                        "name": name,
                        "contactList": {},
                    },
                }
            ]
        },
    )
    assert response.status_code == 200, response.text
    segment_id: str = response.json()["data"][0]["id"]
    return segment_id


class TestRudderStack:
    """``PATCH /{version}/audiences/{id}/contactlist`` in chunks of 50,000, several identifier
    types, token refresh on 401 and retries on 429."""

    @staticmethod
    def amendment(operation: str, kind: str, identifiers: list[str], **extra: Any) -> Any:
        attributes = {
            "operation": operation,
            "identifierType": kind,
            "internalIdentifiers": False,
            "identifiers": identifiers,
        } | extra
        return {"data": {"type": "ContactlistAmendment", "attributes": attributes}}

    def test_the_whole_sequence(self, integration: Integration, clock: ManualClock) -> None:
        segment_id = create_list(integration, "RudderStack audience")
        path = f"/{VERSION}/audiences/{segment_id}/contactlist"
        people = emails(0, CHUNK + 7_000)
        receipts = []
        for start in range(0, len(people), CHUNK):
            chunk = people[start : start + CHUNK]
            response = integration.call("PATCH", path, self.amendment("add", "email", chunk))
            assert response.status_code == 200, response.text
            body = response.json()
            receipts.append(body["data"]["attributes"]["nbValidIdentifiers"])
            assert body["data"]["attributes"]["operation"] == "add"
            assert body["errors"] == []
            # The member Criteo tolerates is ignored, and said so once.
            assert [(w["code"], w["source"]) for w in body["warnings"]] == [
                (
                    "unknown-field-ignored",
                    {"internalIdentifiers": "data/attributes/internalIdentifiers"},
                )
            ]
        assert receipts == [CHUNK, 7_000]

        # The token expires between two batches: RudderStack gets a 401 and a new token.
        clock.advance(hours=1)
        removed = integration.call("PATCH", path, self.amendment("remove", "email", people[:10]))
        assert removed.status_code == 200
        assert integration.token_requests == 2

        madids = [
            "8f14e45f-ceea-467a-9c5b-5d0b4e0d5a01",
            "C9F0F895-FB98-4B91-A0E5-1F1A7B6C2D3E",
            "not-a-madid",
        ]
        madid = integration.call("PATCH", path, self.amendment("add", "madid", madids))
        assert madid.json()["data"]["attributes"]["nbValidIdentifiers"] == 2
        assert madid.json()["data"]["attributes"]["sampleInvalidIdentifiers"] == ["not-a-madid"]
        gum = integration.call(
            "PATCH", path, self.amendment("add", "gum", ["gum-1", "gum-2"], gumCallerId=42)
        )
        assert gum.status_code == 200
        assert gum.json()["data"]["attributes"]["identifierType"] == "gum"

        stats = integration.call(
            "GET",
            f"/{VERSION}/marketing-solutions/audience-segments/{segment_id}/contact-list/statistics",
        )
        assert stats.status_code == 200
        assert stats.json()["data"]["attributes"]["numberOfIdentifiers"] == CHUNK + 7_000 - 10 + 4

        wiped = integration.call("DELETE", path)
        assert wiped.status_code == 200
        assert wiped.json()["data"] == {"id": segment_id, "type": "AudienceContactlist"}
        # The limit of 4 calls a minute was met at least once, and the retry went through.
        assert any(status == 429 for _, _, status in integration.sent)

    def test_a_foreign_token_is_refreshed(self, integration: Integration) -> None:
        segment_id = create_list(integration, "RudderStack refresh")
        integration.token = "not-a-token-of-this-server"
        response = integration.call(
            "PATCH",
            f"/{VERSION}/audiences/{segment_id}/contactlist",
            self.amendment("add", "email", emails(0, 3)),
        )
        assert response.status_code == 200
        assert integration.sent[-2][2] == 401

    def test_digests_are_taken_as_they_are(self, integration: Integration) -> None:
        """Integrations that hash before sending: SHA-256 hex of the normalised address."""
        segment_id = create_list(integration, "RudderStack digests")
        digests = [hashlib.sha256(e.strip().lower().encode()).hexdigest() for e in emails(0, 5)]
        response = integration.call(
            "PATCH",
            f"/{VERSION}/audiences/{segment_id}/contactlist",
            self.amendment("add", "email", digests),
        )
        assert response.json()["data"]["attributes"]["nbValidIdentifiers"] == 5


class TestSegment:
    """Find the list by name (paging a search of ContactList segments), create it without
    ``type`` when missing, recover from ``name-must-be-unique``, then amend it."""

    @staticmethod
    def find(integration: Integration, name: str) -> str | None:
        offset = 0
        while True:
            response = integration.call(
                "POST",
                f"/{VERSION}/marketing-solutions/audience-segments/search"
                f"?limit=100&offset={offset}",
                {
                    "data": {
                        "type": "AudienceSegment",
                        "attributes": {
                            "advertiserIds": [str(ADVERTISER)],
                            "audienceSegmentTypes": ["ContactList"],
                        },
                    }
                },
            )
            assert response.status_code == 200, response.text
            body = response.json()
            for segment in body["data"]:
                if segment["attributes"]["name"] == name:
                    found: str = segment["id"]
                    return found
            offset += 100
            if offset >= body["meta"]["totalItems"]:
                return None

    @staticmethod
    def create(integration: Integration, name: str) -> Any:
        return integration.call(
            "POST",
            f"/{VERSION}/marketing-solutions/audience-segments/create",
            {
                "data": [
                    {
                        "attributes": {
                            "advertiserId": str(ADVERTISER),
                            "name": name,
                            "description": "Synced by Segment",
                            "contactList": {},
                        }
                    }
                ]
            },
        )

    def test_the_whole_sequence(self, app: FastAPI, integration: Integration) -> None:
        # Enough other lists that the search is paged.
        for n in range(150):
            create_list(integration, f"other list {n}")
        name = "Segment: engaged users"
        assert self.find(integration, name) is None
        created = self.create(integration, name)
        assert created.status_code == 200
        assert created.json()["errors"] == []
        segment_id = created.json()["data"][0]["id"]
        assert created.json()["data"][0]["attributes"]["contactList"] == {"isReadOnly": False}
        assert self.find(integration, name) == segment_id

        # A second sync worker lost the race: the name is taken, it finds the list instead.
        again = self.create(integration, name)
        assert again.status_code == 200
        assert [e["code"] for e in again.json()["errors"]] == ["name-must-be-unique"]
        assert self.find(integration, name) == segment_id

        amended = integration.call(
            "PATCH",
            f"/{VERSION}/marketing-solutions/audience-segments/{segment_id}/contact-list",
            {
                "data": {
                    "type": "ContactlistAmendment",
                    "attributes": {
                        "operation": "add",
                        "identifierType": "email",
                        "identifiers": emails(0, 20),
                    },
                }
            },
        )
        assert amended.status_code == 200
        assert amended.json()["data"]["attributes"]["nbValidIdentifiers"] == 20
        assert amended.json()["warnings"] == []
