"""PATCH /2025-01/marketing-solutions/audiences."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from tests.audience.conftest import found, post_audiences
from tests.builders import AUDIENCES, ManualClock, add_ad_set, audience, leaf
from tests.conftest import ADVERTISER, ApiUser


def create_one(api: ApiUser, name: str, algebra: dict[str, Any]) -> dict[str, Any]:
    body = post_audiences(api, "/create", audience(ADVERTISER, name, algebra))
    assert body["errors"] == []
    resource: dict[str, Any] = body["data"][0]
    return resource


def update(api: ApiUser, *items: dict[str, Any]) -> dict[str, Any]:
    response = api.patch(AUDIENCES, {"data": list(items)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestUpdateAudiences:
    def test_name_description_and_algebra(
        self, api: ApiUser, seg: list[str], clock: ManualClock
    ) -> None:
        a = create_one(api, "a", leaf(seg[0]))
        clock.advance(minutes=5)
        new = {"or": [leaf(seg[1]), leaf(seg[2])]}
        body = update(
            api,
            {
                "id": a["id"],
                "attributes": {"name": "b", "description": {"value": "d"}, "algebra": new},
            },
        )
        [resource] = body["data"]
        assert resource["attributes"]["name"] == "b"
        assert resource["attributes"]["description"] == "d"
        assert resource["attributes"]["algebra"] == new
        assert resource["attributes"]["updatedAt"] == "2026-11-01T12:05:00.000Z"
        assert found(api) == [resource]
        update(api, {"id": a["id"], "attributes": {"description": {"value": None}}})
        assert "description" not in found(api)[0]["attributes"]

    def test_algebra_is_checked_in_full_and_a_bad_one_changes_nothing(
        self, api: ApiUser, seg: list[str]
    ) -> None:
        a = create_one(api, "a", {"and": [leaf(seg[0]), {"not": leaf(seg[1])}]})
        body = update(
            api,
            {
                "id": a["id"],
                "attributes": {"name": "renamed", "algebra": {"and": [{"not": leaf(seg[0])}]}},
            },
        )
        assert body["data"] == []
        assert body["errors"][0]["code"] == "algebra-no-positive-term"
        assert body["errors"][0]["source"] == {"algebra": "data/0/attributes/algebra"}
        assert found(api) == [a]

    def test_segment_links_follow_the_algebra(self, api: ApiUser, seg: list[str]) -> None:
        a = create_one(api, "a", {"and": [leaf(seg[0]), leaf(seg[1])]})
        update(api, {"id": a["id"], "attributes": {"algebra": leaf(seg[2])}})
        assert found(api, audienceSegmentIds=[seg[0]]) == []
        assert [x["id"] for x in found(api, audienceSegmentIds=[seg[2]])] == [a["id"]]
        # The segment the audience no longer uses can be deleted now.
        deleted = api.post(
            "/2025-01/marketing-solutions/audience-segments/delete", {"data": [{"id": seg[0]}]}
        )
        assert deleted.json()["errors"] == []

    def test_answer_keeps_the_ad_set_links(
        self, app: FastAPI, api: ApiUser, seg: list[str]
    ) -> None:
        add_ad_set(app, 77, ADVERTISER)
        a = create_one(api, "a", leaf(seg[0]))
        api.call(
            "PUT",
            "/2025-01/marketing-solutions/ad-sets/77/audience",
            {"data": {"attributes": {"audienceId": a["id"]}}},
        )
        body = update(api, {"id": a["id"], "attributes": {"name": "b"}})
        assert body["data"][0]["attributes"]["adSetIds"] == ["77"]

    def test_unknown_duplicate_and_foreign_ids(
        self, api: ApiUser, other_api: ApiUser, seg: list[str]
    ) -> None:
        a = create_one(api, "a", leaf(seg[0]))
        body = update(
            api,
            {"id": "424242", "attributes": {"name": "x"}},
            {"id": a["id"], "attributes": {"name": "y"}},
            {"id": a["id"], "attributes": {"name": "z"}},
        )
        assert [(e["code"], e["source"]) for e in body["errors"]] == [
            ("audience-not-found", {"id": "data/0/id"}),
            ("duplicate-item", {"id": "data/2/id"}),
        ]
        theirs = update(other_api, {"id": a["id"], "attributes": {"name": "hacked"}})
        assert theirs["errors"][0]["code"] == "audience-not-found"
        assert found(api)[0]["attributes"]["name"] == "y"

    def test_rename_to_a_taken_name(self, api: ApiUser, seg: list[str]) -> None:
        create_one(api, "taken", leaf(seg[0]))
        b = create_one(api, "b", leaf(seg[1]))
        body = update(api, {"id": b["id"], "attributes": {"name": "taken"}})
        assert body["errors"][0]["code"] == "name-must-be-unique"
