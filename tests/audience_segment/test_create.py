"""POST /2025-01/marketing-solutions/audience-segments/create."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI

from tests.builders import SEGMENTS, ManualClock, add_brand, item, retargeting
from tests.conftest import ADVERTISER, OTHER_ADVERTISER, ApiUser, segments

CREATE = f"{SEGMENTS}/create"


def create(api: ApiUser, *items: dict[str, Any]) -> dict[str, Any]:
    response = api.post(CREATE, {"data": list(items)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert body["data"] == [], body
    assert len(body["errors"]) == 1, body["errors"]
    error: dict[str, Any] = body["errors"][0]
    return error


@pytest.fixture
def brands(app: FastAPI) -> None:
    add_brand(app, 1, "Nike")
    add_brand(app, 2, "Adidas")


class TestCreateEachType:
    def test_retargeting(self, api: ApiUser, clock: ManualClock) -> None:
        body = create(api, retargeting(ADVERTISER, "Recent visitors", 1, 30, "Buyers"))
        assert body["errors"] == []
        [resource] = body["data"]
        assert resource["type"] == "AudienceSegment"
        assert int(resource["id"]) > 0
        attributes = resource["attributes"]
        assert attributes == {
            "advertiserId": str(ADVERTISER),
            "name": "Recent visitors",
            "type": "Retargeting",
            "createdAt": "2026-11-01T12:00:00.000Z",
            "updatedAt": "2026-11-01T12:00:00.000Z",
            "retargeting": {
                "visitorsType": "Buyers",
                "daysSinceLastVisitMin": 1,
                "daysSinceLastVisitMax": 30,
            },
        }
        assert segments(api) == body["data"]

    def test_prospecting_with_and_without_days(self, api: ApiUser) -> None:
        body = create(
            api,
            item(ADVERTISER, "p1", prospecting={"usersType": "Prospects"}),
            item(
                ADVERTISER,
                "p2",
                prospecting={
                    "usersType": "ProspectsOrNonBuyers",
                    "daysSinceLastVisitMin": 3,
                    "daysSinceLastVisitMax": 9,
                },
            ),
        )
        first, second = (r["attributes"] for r in body["data"])
        assert first["prospecting"] == {"usersType": "Prospects"}
        assert second["prospecting"] == {
            "usersType": "ProspectsOrNonBuyers",
            "daysSinceLastVisitMin": 3,
            "daysSinceLastVisitMax": 9,
        }

    def test_in_market(self, api: ApiUser, brands: None) -> None:
        spec = {
            "country": "fr",
            "brandIds": ["2", "1"],
            "interestIds": ["187", "1"],
            "buyingPower": ["High", "VeryHigh"],
            "priceRange": ["Low"],
            "gender": "Female",
        }
        [resource] = create(api, item(ADVERTISER, "shoes", inMarket=spec))["data"]
        assert resource["attributes"]["type"] == "InMarket"
        assert resource["attributes"]["inMarket"] == spec | {"country": "FR"}

    def test_in_market_without_filters(self, api: ApiUser) -> None:
        [resource] = create(api, item(ADVERTISER, "all FR", inMarket={"country": "DE"}))["data"]
        assert resource["attributes"]["inMarket"] == {
            "country": "DE",
            "brandIds": [],
            "interestIds": [],
            "buyingPower": [],
            "priceRange": [],
        }

    def test_location_rounds_coordinates_to_five_decimals(self, api: ApiUser) -> None:
        spec = {
            "pointsOfInterest": [
                {"name": "Louvre", "latitude": 48.8606111111, "longitude": 2.337644444},
                {"latitude": -33.868819999, "longitude": 151},
            ],
            "radiusInKm": 5,
        }
        [resource] = create(api, item(ADVERTISER, "near", location=spec))["data"]
        assert resource["attributes"]["location"] == {
            "pointsOfInterest": [
                {"name": "Louvre", "latitude": 48.86061, "longitude": 2.33764},
                {"latitude": -33.86882, "longitude": 151.0},
            ],
            "radiusInKm": 5,
            "registryType": "PointOfInterest",
        }

    def test_lookalike_of_a_segment_of_the_same_advertiser(self, api: ApiUser) -> None:
        [seed] = create(api, item(ADVERTISER, "seed", contactList={}))["data"]
        [look] = create(
            api,
            item(ADVERTISER, "look", lookalike={"seedSegmentId": seed["id"], "targetSize": 5000}),
        )["data"]
        assert look["attributes"]["lookalike"] == {"seedSegmentId": seed["id"], "targetSize": 5000}

    def test_lookalike_target_size_defaults_from_settings(self, api: ApiUser) -> None:
        [seed] = create(api, retargeting(ADVERTISER, "seed"))["data"]
        [look] = create(api, item(ADVERTISER, "look", lookalike={"seedSegmentId": seed["id"]}))[
            "data"
        ]
        assert look["attributes"]["lookalike"]["targetSize"] == 100_000

    def test_contact_list(self, api: ApiUser) -> None:
        [resource] = create(
            api,
            {
                "attributes": {
                    "advertiserId": str(ADVERTISER),
                    "name": "CRM",
                    "description": "d",
                    "contactList": {},
                }
            },
        )["data"]
        assert resource["attributes"]["type"] == "ContactList"
        assert resource["attributes"]["contactList"] == {"isReadOnly": False}
        assert resource["attributes"]["description"] == "d"

    def test_unicode_names_are_kept_exactly(self, api: ApiUser) -> None:
        name = "Clients fidèles 🎯 — 東京"
        [resource] = create(api, retargeting(ADVERTISER, name))["data"]
        assert resource["attributes"]["name"] == name
        assert segments(api)[0]["attributes"]["name"] == name

    def test_ids_are_int64_strings_and_grow(self, api: ApiUser) -> None:
        body = create(api, *(retargeting(ADVERTISER, f"s{i}") for i in range(5)))
        ids = [int(r["id"]) for r in body["data"]]
        assert ids == sorted(ids)
        assert len(set(ids)) == 5


class TestCreatePartialSuccess:
    def test_valid_items_are_created_and_invalid_ones_reported_by_index(self, api: ApiUser) -> None:
        body = create(
            api,
            retargeting(ADVERTISER, "ok-0"),
            retargeting(ADVERTISER, "bad-1", low=10, high=5),
            retargeting(ADVERTISER, "ok-2"),
            retargeting(ADVERTISER, "   "),
        )
        assert [r["attributes"]["name"] for r in body["data"]] == ["ok-0", "ok-2"]
        assert [(e["code"], e["source"]) for e in body["errors"]] == [
            (
                "invalid-range",
                {"daysSinceLastVisitMin": "data/1/attributes/retargeting/daysSinceLastVisitMin"},
            ),
            ("name-must-not-be-empty", {"name": "data/3/attributes/name"}),
        ]
        assert all(e["type"] == "validation" for e in body["errors"])
        assert {s["attributes"]["name"] for s in segments(api)} == {"ok-0", "ok-2"}

    def test_problems_carry_trace_id_and_instance(self, api: ApiUser) -> None:
        response = api.post(
            CREATE, {"data": [retargeting(ADVERTISER, ""), retargeting(ADVERTISER, "", 9, 2)]}
        )
        errors = response.json()["errors"]
        # One trace id per occurrence, each leading to the call's own.
        trace = response.headers["x-trace-id"]
        assert [e["traceId"] for e in errors] == [f"{trace}-{n}" for n in range(1, len(errors) + 1)]
        assert len(errors) >= 3
        error = errors[0]
        assert error["instance"] == CREATE
        assert error["title"]
        assert error["detail"]


class TestCreateNames:
    def test_name_is_unique_per_advertiser(self, api: ApiUser) -> None:
        create(api, retargeting(ADVERTISER, "dup"))
        error = only_error(create(api, retargeting(ADVERTISER, "dup")))
        assert error["code"] == "name-must-be-unique"
        assert error["source"] == {"name": "data/0/attributes/name"}

    def test_name_is_unique_inside_one_request(self, api: ApiUser) -> None:
        body = create(api, retargeting(ADVERTISER, "twin"), retargeting(ADVERTISER, "twin"))
        assert len(body["data"]) == 1
        assert body["errors"][0]["code"] == "name-must-be-unique"
        assert body["errors"][0]["source"] == {"name": "data/1/attributes/name"}

    def test_the_same_name_is_fine_for_another_advertiser(
        self, api: ApiUser, other_api: ApiUser
    ) -> None:
        create(api, retargeting(ADVERTISER, "shared"))
        assert create(other_api, retargeting(OTHER_ADVERTISER, "shared"))["errors"] == []

    def test_names_are_case_sensitive(self, api: ApiUser) -> None:
        assert (
            create(api, retargeting(ADVERTISER, "Case"), retargeting(ADVERTISER, "case"))["errors"]
            == []
        )

    @pytest.mark.parametrize("name", ["", " ", "\t\n"])
    def test_name_must_not_be_empty(self, api: ApiUser, name: str) -> None:
        assert (
            only_error(create(api, retargeting(ADVERTISER, name)))["code"]
            == "name-must-not-be-empty"
        )

    def test_name_length_is_bounded(self, api: ApiUser) -> None:
        error = only_error(create(api, retargeting(ADVERTISER, "n" * 256)))
        assert error["code"] == "invalid"
        assert error["source"] == {"name": "data/0/attributes/name"}
        assert create(api, retargeting(ADVERTISER, "n" * 255))["errors"] == []

    def test_description_length_is_bounded(self, api: ApiUser) -> None:
        payload = retargeting(ADVERTISER, "d")
        payload["attributes"]["description"] = "x" * 1001
        assert only_error(create(api, payload))["source"] == {
            "description": "data/0/attributes/description"
        }


class TestCreateRequiredFields:
    @pytest.mark.parametrize("missing", ["advertiserId", "name"])
    def test_required_attribute(self, api: ApiUser, missing: str) -> None:
        payload = retargeting(ADVERTISER, "x")
        del payload["attributes"][missing]
        error = only_error(create(api, payload))
        assert error["code"] == "required-field"
        assert error["source"] == {missing: f"data/0/attributes/{missing}"}

    def test_missing_attributes(self, api: ApiUser) -> None:
        error = only_error(create(api, {"type": "AudienceSegment"}))
        assert error["code"] == "required-field"
        assert error["source"] == {"attributes": "data/0/attributes"}

    def test_exactly_one_type(self, api: ApiUser) -> None:
        none = only_error(create(api, item(ADVERTISER, "none")))
        assert none["code"] == "required-field"
        two = retargeting(ADVERTISER, "two")
        two["attributes"]["contactList"] = {}
        error = only_error(create(api, two))
        assert error["code"] == "invalid"
        assert error["source"] == {"contactList": "data/0/attributes/contactList"}

    @pytest.mark.parametrize(
        "field", ["visitorsType", "daysSinceLastVisitMin", "daysSinceLastVisitMax"]
    )
    def test_retargeting_fields_are_required(self, api: ApiUser, field: str) -> None:
        payload = retargeting(ADVERTISER, "r")
        del payload["attributes"]["retargeting"][field]
        error = only_error(create(api, payload))
        assert error["code"] == "required-field"
        assert error["source"] == {field: f"data/0/attributes/retargeting/{field}"}


class TestCreateAdvertiserAccess:
    def test_another_advertiser_is_refused_like_an_unknown_one(self, api: ApiUser) -> None:
        foreign = only_error(create(api, retargeting(OTHER_ADVERTISER, "x")))
        unknown = only_error(create(api, retargeting(999_999, "x")))
        garbage = only_error(create(api, retargeting("abc", "x")))
        for error in (foreign, unknown, garbage):
            assert error["type"] == "access-control"
            assert error["code"] == "advertiser-access-denied"
            assert error["source"] == {"advertiserId": "data/0/attributes/advertiserId"}
        assert foreign["detail"].replace(str(OTHER_ADVERTISER), "N") == unknown["detail"].replace(
            "999999", "N"
        )


class TestCreateBounds:
    @pytest.mark.parametrize(
        ("low", "high", "field"),
        [
            (-1, 10, "daysSinceLastVisitMin"),
            (0, 366, "daysSinceLastVisitMax"),
            (20, 10, "daysSinceLastVisitMin"),
        ],
    )
    def test_retargeting_days(self, api: ApiUser, low: int, high: int, field: str) -> None:
        error = only_error(create(api, retargeting(ADVERTISER, "r", low, high)))
        assert error["code"] == "invalid-range"
        assert error["source"] == {field: f"data/0/attributes/retargeting/{field}"}

    def test_retargeting_day_bounds_are_inclusive(self, api: ApiUser) -> None:
        assert create(api, retargeting(ADVERTISER, "r", 0, 365))["errors"] == []
        assert create(api, retargeting(ADVERTISER, "s", 7, 7))["errors"] == []

    def test_prospecting_days(self, api: ApiUser) -> None:
        error = only_error(
            create(
                api,
                item(
                    ADVERTISER,
                    "p",
                    prospecting={"usersType": "Prospects", "daysSinceLastVisitMax": 400},
                ),
            )
        )
        assert error["source"] == {
            "daysSinceLastVisitMax": "data/0/attributes/prospecting/daysSinceLastVisitMax"
        }

    def test_in_market_country_must_be_iso_alpha_2(self, api: ApiUser) -> None:
        for country in ("XX", "FRA", "", "12"):
            error = only_error(create(api, item(ADVERTISER, "m", inMarket={"country": country})))
            assert error["code"] == "invalid-country"
            assert error["source"] == {"country": "data/0/attributes/inMarket/country"}

    def test_in_market_country_is_required(self, api: ApiUser) -> None:
        assert (
            only_error(create(api, item(ADVERTISER, "m", inMarket={})))["code"] == "required-field"
        )

    def test_in_market_brands_and_interests_must_exist(self, api: ApiUser, brands: None) -> None:
        body = create(
            api,
            item(
                ADVERTISER,
                "m",
                inMarket={
                    "country": "FR",
                    "brandIds": ["1", "77", "x"],
                    "interestIds": ["1", "999999"],
                },
            ),
        )
        assert [(e["code"], e["source"]) for e in body["errors"]] == [
            ("brand-not-found", {"brandIds": "data/0/attributes/inMarket/brandIds/1"}),
            ("brand-not-found", {"brandIds": "data/0/attributes/inMarket/brandIds/2"}),
            ("interest-not-found", {"interestIds": "data/0/attributes/inMarket/interestIds/1"}),
        ]

    def test_in_market_lists_hold_unique_items(self, api: ApiUser, brands: None) -> None:
        error = only_error(
            create(
                api, item(ADVERTISER, "m", inMarket={"country": "FR", "priceRange": ["Low", "Low"]})
            )
        )
        assert error["source"] == {"priceRange": "data/0/attributes/inMarket/priceRange/1"}

    @pytest.mark.parametrize("radius", [0, 501, -5])
    def test_location_radius(self, api: ApiUser, radius: int) -> None:
        spec = {"pointsOfInterest": [{"latitude": 1.0, "longitude": 1.0}], "radiusInKm": radius}
        error = only_error(create(api, item(ADVERTISER, "l", location=spec)))
        assert error["code"] == "invalid-range"
        assert error["source"] == {"radiusInKm": "data/0/attributes/location/radiusInKm"}

    @pytest.mark.parametrize(
        ("point", "field"),
        [
            ({"latitude": 90.5, "longitude": 0.0}, "latitude"),
            ({"latitude": 0.0, "longitude": -180.01}, "longitude"),
            ({"longitude": 0.0}, "latitude"),
        ],
    )
    def test_location_coordinates(self, api: ApiUser, point: dict[str, float], field: str) -> None:
        spec = {"pointsOfInterest": [{"latitude": 1.0, "longitude": 1.0}, point], "radiusInKm": 5}
        error = only_error(create(api, item(ADVERTISER, "l", location=spec)))
        assert error["source"] == {field: f"data/0/attributes/location/pointsOfInterest/1/{field}"}

    def test_location_needs_one_to_a_thousand_points(self, api: ApiUser) -> None:
        empty = {"pointsOfInterest": [], "radiusInKm": 5}
        assert (
            only_error(create(api, item(ADVERTISER, "l", location=empty)))["code"]
            == "invalid-range"
        )
        many = {
            "pointsOfInterest": [{"latitude": 45.0, "longitude": i / 1000} for i in range(1001)],
            "radiusInKm": 5,
        }
        assert only_error(create(api, item(ADVERTISER, "l", location=many)))["source"] == {
            "pointsOfInterest": "data/0/attributes/location/pointsOfInterest"
        }
        many["pointsOfInterest"] = many["pointsOfInterest"][:1000]  # type: ignore[index]
        assert create(api, item(ADVERTISER, "l", location=many))["errors"] == []

    def test_lookalike_target_size_is_positive(self, api: ApiUser) -> None:
        [seed] = create(api, retargeting(ADVERTISER, "seed"))["data"]
        error = only_error(
            create(
                api, item(ADVERTISER, "l", lookalike={"seedSegmentId": seed["id"], "targetSize": 0})
            )
        )
        assert error["source"] == {"targetSize": "data/0/attributes/lookalike/targetSize"}


class TestCreateLookalikeSeed:
    def test_seed_must_exist(self, api: ApiUser) -> None:
        error = only_error(
            create(api, item(ADVERTISER, "l", lookalike={"seedSegmentId": "424242"}))
        )
        assert error["code"] == "segment-not-found"
        assert error["source"] == {"seedSegmentId": "data/0/attributes/lookalike/seedSegmentId"}

    def test_seed_of_another_advertiser_looks_missing(
        self, api: ApiUser, other_api: ApiUser
    ) -> None:
        [foreign] = create(other_api, retargeting(OTHER_ADVERTISER, "theirs"))["data"]
        error = only_error(
            create(api, item(ADVERTISER, "l", lookalike={"seedSegmentId": foreign["id"]}))
        )
        assert error["code"] == "segment-not-found"

    def test_seed_cannot_be_a_lookalike(self, api: ApiUser) -> None:
        [seed] = create(api, retargeting(ADVERTISER, "seed"))["data"]
        [look] = create(api, item(ADVERTISER, "l1", lookalike={"seedSegmentId": seed["id"]}))[
            "data"
        ]
        error = only_error(
            create(api, item(ADVERTISER, "l2", lookalike={"seedSegmentId": look["id"]}))
        )
        assert error["code"] == "invalid"


def test_created_at_comes_from_the_clock(api: ApiUser, clock: ManualClock) -> None:
    clock.advance(days=3)
    [resource] = create(api, retargeting(ADVERTISER, "later"))["data"]
    assert datetime.fromisoformat(resource["attributes"]["createdAt"]) == clock.now()
