"""PATCH /2025-01/marketing-solutions/audience-segments."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from reach.audience_segment.service import AudienceSegmentService
from tests.builders import SEGMENTS, ManualClock, add_brand, item, retargeting
from tests.conftest import ADVERTISER, OTHER_ADVERTISER, ApiUser, segments


def create_one(api: ApiUser, payload: dict[str, Any]) -> dict[str, Any]:
    body = api.post(f"{SEGMENTS}/create", {"data": [payload]}).json()
    assert body["errors"] == [], body
    resource: dict[str, Any] = body["data"][0]
    return resource


def update(api: ApiUser, *items: dict[str, Any]) -> dict[str, Any]:
    response = api.patch(SEGMENTS, {"data": list(items)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def stored(api: ApiUser, segment_id: str) -> dict[str, Any]:
    [found] = segments(api, audienceSegmentIds=[segment_id])
    attributes: dict[str, Any] = found["attributes"]
    return attributes


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert body["data"] == [], body
    assert len(body["errors"]) == 1, body["errors"]
    error: dict[str, Any] = body["errors"][0]
    return error


class TestUpdateCommonFields:
    def test_rename(self, api: ApiUser, clock: ManualClock) -> None:
        segment = create_one(api, retargeting(ADVERTISER, "old"))
        clock.advance(hours=1)
        body = update(api, {"id": segment["id"], "attributes": {"name": "new"}})
        [resource] = body["data"]
        assert resource["attributes"]["name"] == "new"
        assert resource["attributes"]["createdAt"] == segment["attributes"]["createdAt"]
        assert resource["attributes"]["updatedAt"] == "2026-11-01T13:00:00.000Z"
        assert stored(api, segment["id"])["name"] == "new"

    def test_an_update_that_changes_nothing_keeps_updated_at(
        self, api: ApiUser, clock: ManualClock
    ) -> None:
        segment = create_one(api, retargeting(ADVERTISER, "same"))
        clock.advance(hours=1)
        body = update(api, {"id": segment["id"], "attributes": {"name": "same"}})
        assert body["data"][0]["attributes"]["updatedAt"] == segment["attributes"]["updatedAt"]

    def test_rename_to_a_taken_name(self, api: ApiUser) -> None:
        create_one(api, retargeting(ADVERTISER, "taken"))
        segment = create_one(api, retargeting(ADVERTISER, "mine"))
        error = only_error(update(api, {"id": segment["id"], "attributes": {"name": "taken"}}))
        assert error["code"] == "name-must-be-unique"
        assert error["source"] == {"name": "data/0/attributes/name"}
        assert stored(api, segment["id"])["name"] == "mine"

    def test_two_items_cannot_take_the_same_new_name(self, api: ApiUser) -> None:
        a = create_one(api, retargeting(ADVERTISER, "a"))
        b = create_one(api, retargeting(ADVERTISER, "b"))
        body = update(
            api,
            {"id": a["id"], "attributes": {"name": "c"}},
            {"id": b["id"], "attributes": {"name": "c"}},
        )
        assert [r["id"] for r in body["data"]] == [a["id"]]
        assert body["errors"][0]["source"] == {"name": "data/1/attributes/name"}

    def test_empty_name(self, api: ApiUser) -> None:
        segment = create_one(api, retargeting(ADVERTISER, "n"))
        error = only_error(update(api, {"id": segment["id"], "attributes": {"name": " "}}))
        assert error["code"] == "name-must-not-be-empty"

    def test_description_is_nillable(self, api: ApiUser) -> None:
        segment = create_one(api, retargeting(ADVERTISER, "d"))
        sid = segment["id"]
        update(api, {"id": sid, "attributes": {"description": {"value": "first"}}})
        assert stored(api, sid)["description"] == "first"
        update(api, {"id": sid, "attributes": {"name": "d2"}})
        assert stored(api, sid)["description"] == "first"
        update(api, {"id": sid, "attributes": {"description": {"value": None}}})
        assert "description" not in stored(api, sid)

    def test_no_attributes_is_a_no_op(self, api: ApiUser) -> None:
        segment = create_one(api, retargeting(ADVERTISER, "n"))
        body = update(api, {"id": segment["id"]})
        assert body["data"] == [segment]


class TestUpdateTypes:
    def test_retargeting_is_patched_and_checked_as_a_whole(self, api: ApiUser) -> None:
        segment = create_one(api, retargeting(ADVERTISER, "r", 5, 10))
        sid = segment["id"]
        body = update(
            api, {"id": sid, "attributes": {"retargeting": {"daysSinceLastVisitMax": 60}}}
        )
        assert body["data"][0]["attributes"]["retargeting"] == {
            "visitorsType": "All",
            "daysSinceLastVisitMin": 5,
            "daysSinceLastVisitMax": 60,
        }
        error = only_error(
            update(api, {"id": sid, "attributes": {"retargeting": {"daysSinceLastVisitMin": 61}}})
        )
        assert error["code"] == "invalid-range"
        assert error["source"] == {
            "daysSinceLastVisitMin": "data/0/attributes/retargeting/daysSinceLastVisitMin"
        }
        assert stored(api, sid)["retargeting"]["daysSinceLastVisitMin"] == 5

    def test_prospecting_days_are_nillable(self, api: ApiUser) -> None:
        segment = create_one(
            api,
            item(
                ADVERTISER,
                "p",
                prospecting={
                    "usersType": "ProspectsOrNonBuyers",
                    "daysSinceLastVisitMin": 1,
                    "daysSinceLastVisitMax": 9,
                },
            ),
        )
        sid = segment["id"]
        update(
            api,
            {"id": sid, "attributes": {"prospecting": {"daysSinceLastVisitMax": {"value": None}}}},
        )
        assert stored(api, sid)["prospecting"] == {
            "usersType": "ProspectsOrNonBuyers",
            "daysSinceLastVisitMin": 1,
        }
        update(
            api,
            {
                "id": sid,
                "attributes": {
                    "prospecting": {"usersType": "Prospects", "daysSinceLastVisitMax": {"value": 4}}
                },
            },
        )
        assert stored(api, sid)["prospecting"] == {
            "usersType": "Prospects",
            "daysSinceLastVisitMin": 1,
            "daysSinceLastVisitMax": 4,
        }

    def test_in_market_gender_is_nillable_and_lists_are_replaced(
        self, app: FastAPI, api: ApiUser
    ) -> None:
        add_brand(app, 1, "Nike")
        segment = create_one(
            api,
            item(ADVERTISER, "m", inMarket={"country": "FR", "gender": "Male", "brandIds": ["1"]}),
        )
        sid = segment["id"]
        update(api, {"id": sid, "attributes": {"inMarket": {"gender": {"value": "Female"}}}})
        assert stored(api, sid)["inMarket"]["gender"] == "Female"
        update(
            api,
            {"id": sid, "attributes": {"inMarket": {"gender": {"value": None}, "brandIds": []}}},
        )
        in_market = stored(api, sid)["inMarket"]
        assert "gender" not in in_market
        assert in_market["brandIds"] == []
        assert in_market["country"] == "FR"
        error = only_error(update(api, {"id": sid, "attributes": {"inMarket": {"country": "ZZ"}}}))
        assert error["code"] == "invalid-country"

    def test_location_points_are_replaced_and_rounded(self, api: ApiUser) -> None:
        segment = create_one(
            api,
            item(
                ADVERTISER,
                "l",
                location={
                    "pointsOfInterest": [{"latitude": 1.0, "longitude": 2.0}],
                    "radiusInKm": 3,
                },
            ),
        )
        sid = segment["id"]
        update(
            api,
            {
                "id": sid,
                "attributes": {
                    "location": {
                        "pointsOfInterest": [{"latitude": 10.123456789, "longitude": 20.0}],
                        "registryType": "PointOfInterest",
                    }
                },
            },
        )
        assert stored(api, sid)["location"] == {
            "pointsOfInterest": [{"latitude": 10.12346, "longitude": 20.0}],
            "radiusInKm": 3,
            "registryType": "PointOfInterest",
        }

    def test_lookalike_target_size_only(self, api: ApiUser) -> None:
        seed = create_one(api, retargeting(ADVERTISER, "seed"))
        look = create_one(
            api, item(ADVERTISER, "look", lookalike={"seedSegmentId": seed["id"], "targetSize": 10})
        )
        update(api, {"id": look["id"], "attributes": {"lookalike": {"targetSize": 99}}})
        assert stored(api, look["id"])["lookalike"] == {
            "seedSegmentId": seed["id"],
            "targetSize": 99,
        }
        error = only_error(
            update(api, {"id": look["id"], "attributes": {"lookalike": {"targetSize": 0}}})
        )
        assert error["source"] == {"targetSize": "data/0/attributes/lookalike/targetSize"}

    def test_a_segment_keeps_its_type(self, api: ApiUser) -> None:
        segment = create_one(api, retargeting(ADVERTISER, "r"))
        error = only_error(
            update(api, {"id": segment["id"], "attributes": {"inMarket": {"country": "FR"}}})
        )
        assert error["code"] == "invalid"
        assert error["source"] == {"inMarket": "data/0/attributes/inMarket"}
        assert stored(api, segment["id"])["type"] == "Retargeting"

    def test_contact_list_name_and_description(self, api: ApiUser) -> None:
        segment = create_one(api, item(ADVERTISER, "crm", contactList={}))
        body = update(
            api,
            {"id": segment["id"], "attributes": {"name": "crm2", "description": {"value": "x"}}},
        )
        assert body["data"][0]["attributes"]["contactList"] == {"isReadOnly": False}
        assert body["data"][0]["attributes"]["description"] == "x"


class TestUpdateTargets:
    def test_unknown_id(self, api: ApiUser) -> None:
        for raw in ("987654", "abc", "-1", "99999999999999999999"):
            error = only_error(update(api, {"id": raw, "attributes": {"name": "x"}}))
            assert error["code"] == "segment-not-found"
            assert error["source"] == {"id": "data/0/id"}

    def test_missing_id(self, api: ApiUser) -> None:
        assert only_error(update(api, {"attributes": {"name": "x"}}))["code"] == "required-field"

    def test_another_advertisers_segment_looks_missing(
        self, api: ApiUser, other_api: ApiUser
    ) -> None:
        theirs = create_one(other_api, retargeting(OTHER_ADVERTISER, "theirs"))
        error = only_error(update(api, {"id": theirs["id"], "attributes": {"name": "hacked"}}))
        assert error["code"] == "segment-not-found"
        assert error["detail"] == f"Segment '{theirs['id']}' does not exist"
        assert stored(other_api, theirs["id"])["name"] == "theirs"

    def test_the_same_id_twice(self, api: ApiUser) -> None:
        segment = create_one(api, retargeting(ADVERTISER, "r"))
        body = update(
            api,
            {"id": segment["id"], "attributes": {"name": "one"}},
            {"id": segment["id"], "attributes": {"name": "two"}},
        )
        assert body["data"][0]["attributes"]["name"] == "one"
        assert body["errors"][0]["code"] == "duplicate-item"

    def test_behavioral_segments_are_read_only(
        self, app: FastAPI, api: ApiUser, clock: ManualClock
    ) -> None:
        with app.state.database.session(write=True) as session:
            behavioral = AudienceSegmentService(session, app.state.settings, clock).add_behavioral(
                ADVERTISER, "Movers", "LifeEvents", "FR", None, None
            )
        error = only_error(update(api, {"id": str(behavioral.id), "attributes": {"name": "x"}}))
        assert error["code"] == "segment-read-only"

    def test_partial_success(self, api: ApiUser) -> None:
        a = create_one(api, retargeting(ADVERTISER, "a"))
        body = update(
            api,
            {"id": "424242", "attributes": {"name": "x"}},
            {"id": a["id"], "attributes": {"name": "a2"}},
        )
        assert [r["attributes"]["name"] for r in body["data"]] == ["a2"]
        assert body["errors"][0]["source"] == {"id": "data/0/id"}


def test_the_lookalike_seed_cannot_be_changed(api: ApiUser) -> None:
    """The update schema has no seed: one sent is ignored, with a warning that says so."""
    seed = create_one(api, retargeting(ADVERTISER, "seed"))
    other = create_one(api, retargeting(ADVERTISER, "other seed"))
    look = create_one(api, item(ADVERTISER, "look", lookalike={"seedSegmentId": seed["id"]}))
    response = api.patch(
        SEGMENTS,
        {"data": [{"id": look["id"], "attributes": {"lookalike": {"seedSegmentId": other["id"]}}}]},
    )
    assert response.status_code == 200
    assert [(w["code"], w["source"]) for w in response.json()["warnings"]] == [
        ("unknown-field-ignored", {"seedSegmentId": "data/0/attributes/lookalike/seedSegmentId"})
    ]
    assert stored(api, look["id"])["lookalike"]["seedSegmentId"] == seed["id"]
