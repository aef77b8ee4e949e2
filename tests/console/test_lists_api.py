"""The console's contact-list calls at the HTTP level: the preview judges identifiers exactly as
an upload does, and the statistics by type add up to the API's statistics."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import pytest
from fastapi import FastAPI

from reach.config import Settings
from reach.contact_list.identifiers import normalise
from tests.builders import SEGMENTS, item, new_client, retargeting
from tests.conftest import ApiUser
from tests.indexed import ADVERTISERS

PREVIEW = "/console/api/contact-lists/preview"
ADVERTISER = ADVERTISERS[0]


@pytest.fixture
def settings_overrides(indexed_settings: dict[str, Any]) -> dict[str, Any]:
    return indexed_settings


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def new_list(user: ApiUser, **definition: Any) -> str:
    answer = user.post(
        f"{SEGMENTS}/create", {"data": [item(ADVERTISER, "crm", contactList=definition)]}
    )
    assert answer.status_code == 200, answer.text
    identifier: str = answer.json()["data"][0]["id"]
    return identifier


def add(user: ApiUser, segment: str, kind: str, identifiers: list[str]) -> dict[str, Any]:
    answer = user.patch(
        f"{SEGMENTS}/{segment}/contact-list",
        {
            "data": {
                "type": "ContactlistAmendment",
                "attributes": {
                    "operation": "add",
                    "identifierType": kind,
                    "identifiers": identifiers,
                },
            }
        },
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def preview(user: ApiUser, kind: str, identifiers: list[str]) -> Any:
    return user.post(PREVIEW, {"identifierType": kind, "identifiers": identifiers})


def test_preview_judges_each_value_as_an_upload_would(
    sizer: ApiUser, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    digest = sha("someone@example.com")
    values = [" User7@Example.COM ", "not-an-address", digest.upper(), "a@b", "user7@example.com"]
    with caplog.at_level(logging.DEBUG):
        answer = preview(sizer, "email", values)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["data"]["identifierType"] == "email"
    assert body["data"]["maxIdentifiersPerCall"] == settings.max_contact_list_identifiers
    judged = body["data"]["identifiers"]
    assert [j["value"] for j in judged] == values
    assert [j["accepted"] for j in judged] == [True, False, True, False, True]
    # The key is the start of what the store keeps: the SHA-256 of the normalised address.
    assert judged[0]["key"] == f"email:{sha('user7@example.com')[:12]}…"
    assert judged[4]["key"] == judged[0]["key"]
    assert judged[2]["key"] == f"email:{digest[:12]}…"
    # Refusals give the reason an upload counts them under.
    [reason] = normalise("email", ["not-an-address"]).reasons
    assert judged[1] == {
        "value": "not-an-address",
        "accepted": False,
        "reason": reason,
        "key": None,
    }
    # Nothing the operator sent is logged.
    assert "not-an-address" not in caplog.text
    assert "User7@Example.COM" not in caplog.text


def test_preview_of_other_types(sizer: ApiUser) -> None:
    uuid = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
    judged = preview(sizer, "madid", [uuid, "not-a-uuid"]).json()["data"]["identifiers"]
    assert judged[0]["key"] == f"madid:{sha(uuid.lower())[:12]}…"
    assert judged[1]["reason"] == "not a mobile advertising id (UUID)"
    judged = preview(sizer, "phoneNumber", ["+33 6 12 34 56 78", "06 12 34 56 78"]).json()
    first, second = judged["data"]["identifiers"]
    assert first["key"] == f"phoneNumber:{sha('+33612345678')[:12]}…"
    assert second["reason"] == "a phone number needs its country code (+...)"
    judged = preview(sizer, "gum", ["abc123", "has space"]).json()["data"]["identifiers"]
    assert [j["accepted"] for j in judged] == [True, False]


def test_preview_refusals(sizer: ApiUser) -> None:
    unknown = preview(sizer, "fax", ["x"])
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["source"] == {"identifierType": "identifierType"}
    too_many = preview(sizer, "email", ["a@example.com"] * 101)
    assert too_many.status_code == 400
    assert too_many.json()["errors"][0]["source"] == {"identifiers": "identifiers"}
    unsigned = sizer.http.post(PREVIEW, json={"identifierType": "email", "identifiers": []})
    assert unsigned.status_code == 401


def test_statistics_by_type_add_up_to_the_api(
    app: FastAPI, sizer: ApiUser, other_sizer: ApiUser
) -> None:
    segment = new_list(sizer)
    emails = [f"user{n}@example.com" for n in range(1, 301)] + ["nope", "x@", "nope"]
    add(sizer, segment, "email", emails)
    uuids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(40)]
    add(sizer, segment, "madid", [*uuids, "bad"])
    api = sizer.get(f"{SEGMENTS}/{segment}/contact-list/statistics").json()["data"]["attributes"]

    # A read-only client of the advertiser reads them too.
    reader = ApiUser(sizer.http, new_client(app, ADVERTISER, read_only=True, name="reader"))
    answer = reader.get(f"/console/api/contact-lists/{segment}/statistics")
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["numberOfIdentifiers"] == api["numberOfIdentifiers"] == 340
    assert data["numberOfMatches"] == api["numberOfMatches"]
    assert data["matchRate"] == api["matchRate"]
    by_type = {t["identifierType"]: t for t in data["byType"]}
    assert set(by_type) == {"email", "madid"}
    assert by_type["email"]["numberOfIdentifiers"] == 300
    assert by_type["madid"]["numberOfIdentifiers"] == 40
    assert sum(t["numberOfMatches"] for t in data["byType"]) == api["numberOfMatches"]
    assert 0 < by_type["email"]["numberOfMatches"] <= 300
    refused = {r["reason"]: r["count"] for r in data["refused"]}
    assert refused == {
        "not an e-mail address or a SHA-256 digest": 3,
        "not a mobile advertising id (UUID)": 1,
    }

    # Another advertiser's list is answered like a missing one; a segment of another type is
    # refused as the API refuses it.
    hidden = other_sizer.get(f"/console/api/contact-lists/{segment}/statistics")
    assert hidden.status_code == 404
    assert hidden.json()["errors"][0]["code"] == "segment-not-found"
    visitors = sizer.post(f"{SEGMENTS}/create", {"data": [retargeting(ADVERTISER, "visitors")]})
    assert visitors.status_code == 200, visitors.text
    other_type = visitors.json()["data"][0]["id"]
    refused_type = sizer.get(f"/console/api/contact-lists/{other_type}/statistics")
    assert refused_type.status_code == 400
    assert refused_type.json()["errors"][0]["code"] == "segment-not-contact-list"
