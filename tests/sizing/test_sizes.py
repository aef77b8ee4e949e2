"""compute-sizes and estimate-size, for segments and audiences, against the oracle's numbers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from reach.audience_segment.service import AudienceSegmentService
from tests.builders import (
    AUDIENCES,
    SEGMENTS,
    ManualClock,
    add_brand,
    create_segments,
    item,
    leaf,
    retargeting,
    sizes,
    sizes_by_id,
)
from tests.conftest import ApiUser
from tests.engine.oracle import Oracle
from tests.indexed import ADVERTISERS

ADVERTISER = ADVERTISERS[0]
PARIS = {"latitude": 48.8566, "longitude": 2.3522}


class TestComputeAudienceSegmentsSizes:
    def test_every_kind_matches_the_oracle(self, sizer: ApiUser, oracle: Oracle) -> None:
        ids = create_segments(
            sizer,
            retargeting(ADVERTISER, "all", 0, 14),
            retargeting(ADVERTISER, "buyers", 0, 30, "Buyers"),
            retargeting(ADVERTISER, "non", 3, 20, "NonBuyers"),
            item(ADVERTISER, "prospects", prospecting={"usersType": "Prospects"}),
            item(
                ADVERTISER,
                "pnb",
                prospecting={
                    "usersType": "ProspectsOrNonBuyers",
                    "daysSinceLastVisitMin": 2,
                    "daysSinceLastVisitMax": 20,
                },
            ),
            item(ADVERTISER, "market", inMarket={"country": "FR"}),
            item(
                ADVERTISER,
                "market2",
                inMarket={"country": "FR", "interestIds": ["166"], "priceRange": ["Low", "High"]},
            ),
            item(ADVERTISER, "near", location={"pointsOfInterest": [PARIS], "radiusInKm": 25}),
        )
        expected = [
            oracle.retargeting(ADVERTISER, "All", 0, 14),
            oracle.retargeting(ADVERTISER, "Buyers", 0, 30),
            oracle.retargeting(ADVERTISER, "NonBuyers", 3, 20),
            oracle.prospecting(ADVERTISER, "Prospects", None, None),
            oracle.prospecting(ADVERTISER, "ProspectsOrNonBuyers", 2, 20),
            oracle.in_market("FR"),
            oracle.in_market("FR", interest_ids=["166"], price_ranges=["Low", "High"]),
            oracle.location([(PARIS["latitude"], PARIS["longitude"])], 25),
        ]
        body = sizes(sizer, f"{SEGMENTS}/compute-sizes", *ids)
        assert body["errors"] == []
        assert [r["type"] for r in body["data"]] == ["AudienceSegment"] * len(ids)
        assert sizes_by_id(body) == {i: len(e) for i, e in zip(ids, expected, strict=True)}
        assert all(len(e) > 0 for e in expected)

    def test_behavioral_and_contact_list(
        self, app: FastAPI, sizer: ApiUser, oracle: Oracle, clock: ManualClock
    ) -> None:
        with app.state.database.session(write=True) as session:
            behavioral = AudienceSegmentService(session, app.state.settings, clock).add_behavioral(
                ADVERTISER, "Movers", "LifeEvents", "FR", None, None
            )
        [crm] = create_segments(sizer, item(ADVERTISER, "crm", contactList={}))
        body = sizes(sizer, f"{SEGMENTS}/compute-sizes", str(behavioral.id), crm)
        assert body["errors"] == []
        assert sizes_by_id(body) == {
            str(behavioral.id): len(oracle.behavioral("LifeEvents", "FR")),
            crm: 0,
        }

    def test_an_edited_definition_is_sized_anew(
        self, app: FastAPI, sizer: ApiUser, oracle: Oracle
    ) -> None:
        [segment] = create_segments(sizer, retargeting(ADVERTISER, "edited", 0, 30))
        first = sizes_by_id(sizes(sizer, f"{SEGMENTS}/compute-sizes", segment))
        assert first == {segment: len(oracle.retargeting(ADVERTISER, "All", 0, 30))}
        assert len(app.state.memberships) == 1  # the members are kept for the next question
        update = {
            "id": segment,
            "type": "AudienceSegment",
            "attributes": {"retargeting": {"daysSinceLastVisitMin": 5}},
        }
        response = sizer.patch(SEGMENTS, {"data": [update]})
        assert response.status_code == 200 and response.json()["errors"] == []
        second = sizes_by_id(sizes(sizer, f"{SEGMENTS}/compute-sizes", segment))
        assert second == {segment: len(oracle.retargeting(ADVERTISER, "All", 5, 30))}
        assert second != first

    def test_unknown_and_foreign_ids(self, sizer: ApiUser) -> None:
        body = sizes(sizer, f"{SEGMENTS}/compute-sizes", "424242", "x")
        assert body["data"] == []
        assert [e["code"] for e in body["errors"]] == ["segment-not-found"] * 2

    def test_answers_state_the_data_they_come_from(self, sizer: ApiUser, oracle: Oracle) -> None:
        [segment] = create_segments(sizer, retargeting(ADVERTISER, "r"))
        response = sizer.post(f"{SEGMENTS}/compute-sizes", {"data": [{"id": segment}]})
        assert response.headers["x-reach-index-as-of"] == oracle.as_of.isoformat()
        assert "x-reach-index-built-at" in response.headers
        # The test servers answer exact sizes, and say so (docs/privacy.md).
        assert [w["code"] for w in response.json()["warnings"]] == ["size-privacy-exact"]

    def test_stale_data_is_flagged(self, sizer: ApiUser, clock: ManualClock) -> None:
        [segment] = create_segments(sizer, retargeting(ADVERTISER, "r"))
        clock.advance(days=60)
        body = sizer.post(f"{SEGMENTS}/compute-sizes", {"data": [{"id": segment}]}).json()
        assert [w["code"] for w in body["warnings"]] == ["size-privacy-exact", "index-stale"]
        assert body["data"][0]["attributes"]["size"] is not None


class TestPrivacyFloor:
    @pytest.fixture
    def settings_overrides(self, settings_overrides: dict[str, Any]) -> dict[str, Any]:
        return settings_overrides | {"min_reported_size": 100}

    def test_small_sizes_are_withheld_with_a_warning(self, sizer: ApiUser, oracle: Oracle) -> None:
        large, small = create_segments(
            sizer,
            retargeting(ADVERTISER, "large", 0, 30),
            retargeting(ADVERTISER, "small", 7, 7, "Buyers"),
        )
        assert len(oracle.retargeting(ADVERTISER, "All", 0, 30)) >= 100
        assert len(oracle.retargeting(ADVERTISER, "Buyers", 7, 7)) < 100
        body = sizes(sizer, f"{SEGMENTS}/compute-sizes", large, small)
        assert sizes_by_id(body) == {
            large: len(oracle.retargeting(ADVERTISER, "All", 0, 30)),
            small: None,
        }
        [exact, warning] = body["warnings"]
        assert exact["code"] == "size-privacy-exact"
        assert warning["code"] == "size-below-privacy-floor"
        assert warning["source"] == {"size": "data/1/attributes/size"}


class TestEstimateAudienceSegmentsSizes:
    def estimate(self, user: ApiUser, attributes: dict[str, Any]) -> Any:
        return user.post(
            f"{SEGMENTS}/estimate-size",
            {"data": {"type": "AudienceSegment", "attributes": attributes}},
        )

    def test_in_market(self, app: FastAPI, sizer: ApiUser, oracle: Oracle) -> None:
        add_brand(app, 1, "Adidas")
        add_brand(app, 3, "Asics")
        spec = {
            "country": "FR",
            "brandIds": ["1", "3"],
            "buyingPower": ["High"],
            "gender": "Female",
        }
        response = self.estimate(sizer, {"advertiserId": str(ADVERTISER), "inMarket": spec})
        assert response.status_code == 200, response.text
        expected = oracle.in_market("FR", brand_ids=[1, 3], buying_powers=["High"], gender="Female")
        assert response.json()["data"]["attributes"] == {"size": len(expected)}

    def test_location(self, sizer: ApiUser, oracle: Oracle) -> None:
        points = [PARIS, {"latitude": 45.764043, "longitude": 4.835659}]
        response = self.estimate(
            sizer,
            {
                "advertiserId": str(ADVERTISER),
                "location": {"pointsOfInterest": points, "radiusInKm": 40},
            },
        )
        expected = oracle.location([(48.8566, 2.3522), (45.76404, 4.83566)], 40)
        assert response.json()["data"]["attributes"]["size"] == len(expected)

    @pytest.mark.parametrize(
        ("attributes", "status", "source"),
        [
            ({"advertiserId": str(ADVERTISER)}, 400, {"type": "data/attributes"}),
            (
                {"advertiserId": "777", "inMarket": {"country": "FR"}},
                403,
                {"advertiserId": "data/attributes/advertiserId"},
            ),
            (
                {"advertiserId": str(ADVERTISER), "inMarket": {"country": "XX"}},
                400,
                {"country": "data/attributes/inMarket/country"},
            ),
            (
                {
                    "advertiserId": str(ADVERTISER),
                    "location": {"pointsOfInterest": [PARIS], "radiusInKm": 0},
                },
                400,
                {"radiusInKm": "data/attributes/location/radiusInKm"},
            ),
        ],
    )
    def test_refused_definitions(
        self, sizer: ApiUser, attributes: dict[str, Any], status: int, source: dict[str, str]
    ) -> None:
        response = self.estimate(sizer, attributes)
        assert response.status_code == status
        assert response.json()["errors"][0]["source"] == source


class TestAudienceSizes:
    def test_compute_and_estimate_match_the_oracle(self, sizer: ApiUser, oracle: Oracle) -> None:
        visitors, buyers, market, near = create_segments(
            sizer,
            retargeting(ADVERTISER, "visitors", 0, 30),
            retargeting(ADVERTISER, "buyers", 0, 30, "Buyers"),
            item(ADVERTISER, "market", inMarket={"country": "FR"}),
            item(ADVERTISER, "near", location={"pointsOfInterest": [PARIS], "radiusInKm": 50}),
        )
        algebra = {"and": [{"or": [leaf(visitors), leaf(market)]}, {"not": leaf(buyers)}]}
        created = sizer.post(
            f"{AUDIENCES}/create",
            {
                "data": [
                    {
                        "attributes": {
                            "advertiserId": str(ADVERTISER),
                            "name": "a",
                            "algebra": algebra,
                        }
                    },
                    {
                        "attributes": {
                            "advertiserId": str(ADVERTISER),
                            "name": "b",
                            "algebra": {"or": [leaf(near), leaf(buyers)]},
                        }
                    },
                ]
            },
        ).json()["data"]
        first, second = (a["id"] for a in created)
        v = oracle.retargeting(ADVERTISER, "All", 0, 30)
        b = oracle.retargeting(ADVERTISER, "Buyers", 0, 30)
        m = oracle.in_market("FR")
        n = oracle.location([(PARIS["latitude"], PARIS["longitude"])], 50)
        body = sizer.post(
            f"{AUDIENCES}/compute-sizes", {"data": [{"id": first}, {"id": second}, {"id": "999"}]}
        ).json()
        assert sizes_by_id(body) == {first: len((v | m) - b), second: len(n | b)}
        assert [e["code"] for e in body["errors"]] == ["audience-not-found"]
        estimate = sizer.post(
            f"{AUDIENCES}/estimate-size",
            {
                "data": {
                    "type": "Audience",
                    "attributes": {"advertiserId": str(ADVERTISER), "algebra": algebra},
                }
            },
        )
        assert estimate.status_code == 200
        assert estimate.json()["data"]["attributes"]["size"] == len((v | m) - b)

    def test_estimate_checks_the_algebra(self, sizer: ApiUser) -> None:
        [visitors] = create_segments(sizer, retargeting(ADVERTISER, "visitors"))
        response = sizer.post(
            f"{AUDIENCES}/estimate-size",
            {
                "data": {
                    "attributes": {
                        "advertiserId": str(ADVERTISER),
                        "algebra": {"not": leaf(visitors)},
                    }
                }
            },
        )
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "algebra-misplaced-not"
        assert response.json()["errors"][0]["source"] == {"algebra": "data/attributes/algebra"}


class TestInMarketListSizes:
    def test_brand_and_interest_sizes_match_the_oracle(
        self, app: FastAPI, sizer: ApiUser, oracle: Oracle
    ) -> None:
        for brand_id, name in ((1, "Adidas"), (2, "Apple"), (9999, "Unknown")):
            add_brand(app, brand_id, name)
        query = {"advertiser-id": str(ADVERTISER), "country": "FR"}
        brands = sizer.get(f"{SEGMENTS}/in-market-brands", params=query).json()
        assert {b["id"]: b["attributes"]["size"] for b in brands["data"]} == {
            "1": len(oracle.in_market("FR", brand_ids=[1])),
            "2": len(oracle.in_market("FR", brand_ids=[2])),
            "9999": 0,
        }
        interests = sizer.get(f"{SEGMENTS}/in-market-interests", params=query).json()["data"]
        by_id = {i["id"]: i["attributes"]["size"] for i in interests}
        for interest in ("1", "166", "5181", "3237"):
            assert by_id[interest] == len(oracle.in_market("FR", interest_ids=[interest])), interest


class TestWithoutAnIndex:
    @pytest.fixture
    def settings_overrides(self, tmp_path: Any) -> dict[str, Any]:
        return {"data_dir": tmp_path / "empty"}

    def test_sizes_need_an_index(self, sizer: ApiUser) -> None:
        [segment] = create_segments(sizer, retargeting(ADVERTISER, "r"))
        response = sizer.post(f"{SEGMENTS}/compute-sizes", {"data": [{"id": segment}]})
        assert response.status_code == 503
        assert response.json()["errors"][0]["code"] == "index-unavailable"


def test_days_ago_are_counted_from_the_data_not_the_clock(
    sizer: ApiUser, oracle: Oracle, clock: ManualClock
) -> None:
    [segment] = create_segments(sizer, retargeting(ADVERTISER, "today", 0, 0))
    before = sizes_by_id(sizes(sizer, f"{SEGMENTS}/compute-sizes", segment))
    clock.advance(days=3)
    after = sizes_by_id(sizes(sizer, f"{SEGMENTS}/compute-sizes", segment))
    assert before == after == {segment: len(oracle.retargeting(ADVERTISER, "All", 0, 0))}
    assert oracle.as_of + timedelta(days=1) > oracle.as_of
