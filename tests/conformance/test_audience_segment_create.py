"""Conformance of CreateAudienceSegments: every creatable type, read back, and per-item errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from criteo_api_marketingsolutions_v2025_01.exceptions import ApiException
from criteo_api_marketingsolutions_v2025_01.model.in_market_create_v1 import InMarketCreateV1
from criteo_api_marketingsolutions_v2025_01.model.location_create_v1 import LocationCreateV1
from criteo_api_marketingsolutions_v2025_01.model.lookalike_create_v1 import LookalikeCreateV1
from criteo_api_marketingsolutions_v2025_01.model.point_of_interest_v1 import PointOfInterestV1
from criteo_api_marketingsolutions_v2025_01.model.prospecting_create_v1 import (
    ProspectingCreateV1,
)
from criteo_api_marketingsolutions_v2025_01.model.retargeting_create_v1 import (
    RetargetingCreateV1,
)

from tests.conformance.conftest import (
    ADVERTISER,
    BEHAVIORAL_NAME,
    BRAND_ID,
    OTHER_ADVERTISER,
    RESOURCE_TYPE,
    Names,
    Sdk,
    attributes_of,
    is_utc,
    problem_body,
    segment,
    wire_problems,
)

pytestmark = pytest.mark.conformance

CREATE_PATH = "/2025-01/marketing-solutions/audience-segments/create"


def retargeting(low: int = 0, high: int = 30, visitors: str = "All") -> Any:
    return RetargetingCreateV1(
        visitors_type=visitors, days_since_last_visit_min=low, days_since_last_visit_max=high
    )


def assert_created_and_found(sdk: Sdk, created: Any, expected: dict[str, Any]) -> None:
    """The created resource shows ``expected``, and search shows exactly the same segment."""
    assert created.type == RESOURCE_TYPE
    assert created.id.isdigit()
    assert attributes_of(created) == expected
    assert is_utc(created.attributes.created_at)
    assert created.attributes.created_at == created.attributes.updated_at
    found = sdk.find(created.id)
    assert found.type == RESOURCE_TYPE
    assert attributes_of(found) == expected
    assert found.attributes.created_at == created.attributes.created_at
    assert found.attributes.updated_at == created.attributes.updated_at


# (label, SDK fields of the item, segment type, what the type object reads back as)
TYPE_CASES: list[tuple[str, Callable[[], dict[str, Any]], str, dict[str, Any]]] = [
    (
        "retargeting",
        lambda: {"retargeting": retargeting(3, 45, "Buyers")},
        "Retargeting",
        {
            "retargeting": {
                "visitors_type": "Buyers",
                "days_since_last_visit_min": 3,
                "days_since_last_visit_max": 45,
            }
        },
    ),
    (
        "prospecting",
        lambda: {
            "prospecting": ProspectingCreateV1(
                users_type="ProspectsOrNonBuyers",
                days_since_last_visit_min=2,
                days_since_last_visit_max=40,
            )
        },
        "Prospecting",
        {
            "prospecting": {
                "users_type": "ProspectsOrNonBuyers",
                "days_since_last_visit_min": 2,
                "days_since_last_visit_max": 40,
            }
        },
    ),
    (
        "prospecting-without-days",
        lambda: {"prospecting": ProspectingCreateV1(users_type="Prospects")},
        "Prospecting",
        {"prospecting": {"users_type": "Prospects"}},
    ),
    (
        "in-market",
        lambda: {
            "in_market": InMarketCreateV1(
                country="FR",
                brand_ids=[BRAND_ID],
                interest_ids=["3237", "1"],
                buying_power=["Low", "VeryHigh"],
                price_range=["Medium"],
                gender="Female",
            )
        },
        "InMarket",
        {
            "in_market": {
                "country": "FR",
                "brand_ids": [BRAND_ID],
                "interest_ids": ["3237", "1"],
                "buying_power": ["Low", "VeryHigh"],
                "price_range": ["Medium"],
                "gender": "Female",
            }
        },
    ),
    (
        "in-market-country-only",
        lambda: {"in_market": InMarketCreateV1(country="de")},
        "InMarket",
        {
            "in_market": {
                "country": "DE",
                "brand_ids": [],
                "interest_ids": [],
                "buying_power": [],
                "price_range": [],
            }
        },
    ),
    (
        "location",
        lambda: {
            "location": LocationCreateV1(
                points_of_interest=[
                    PointOfInterestV1(name="Paris", latitude=48.8566123456, longitude=2.3522219876),
                    PointOfInterestV1(latitude=-33.8688197, longitude=151.2092955),
                ],
                radius_in_km=10,
            )
        },
        "Location",
        {
            "location": {
                "points_of_interest": [
                    {"name": "Paris", "latitude": 48.85661, "longitude": 2.35222},
                    {"latitude": -33.86882, "longitude": 151.2093},
                ],
                "radius_in_km": 10,
                "registry_type": "PointOfInterest",
            }
        },
    ),
    (
        "contact-list",
        lambda: {"contact_list": {}},
        "ContactList",
        {"contact_list": {"is_read_only": False}},
    ),
]


class TestCreateAudienceSegments:
    @pytest.mark.parametrize(
        ("fields", "segment_type", "type_object"),
        [pytest.param(fields, kind, shown, id=label) for label, fields, kind, shown in TYPE_CASES],
    )
    def test_creates_each_type_and_reads_it_back(
        self,
        sdk: Sdk,
        names: Names,
        fields: Callable[[], dict[str, Any]],
        segment_type: str,
        type_object: dict[str, Any],
    ) -> None:
        name = names(segment_type)

        response = sdk.create(segment(name, description=f"About {name}", **fields()))

        assert response.errors == []
        assert response.warnings == []
        assert len(response.data) == 1
        expected = {
            "advertiser_id": ADVERTISER,
            "name": name,
            "description": f"About {name}",
            "type": segment_type,
        } | type_object
        assert_created_and_found(sdk, response.data[0], expected)

    def test_creates_a_lookalike_of_another_segment(self, sdk: Sdk, names: Names) -> None:
        seed = sdk.create_one(segment(names("seed"), retargeting=retargeting()))
        name = names("lookalike")

        created = sdk.create_one(
            segment(name, lookalike=LookalikeCreateV1(seed_segment_id=seed.id, target_size=5000))
        )

        assert_created_and_found(
            sdk,
            created,
            {
                "advertiser_id": ADVERTISER,
                "name": name,
                "type": "Lookalike",
                "lookalike": {"seed_segment_id": seed.id, "target_size": 5000},
            },
        )

    def test_lookalike_without_target_size_gets_the_default(self, sdk: Sdk, names: Names) -> None:
        seed = sdk.create_one(segment(names("seed"), contact_list={}))

        created = sdk.create_one(
            segment(names("lookalike"), lookalike=LookalikeCreateV1(seed_segment_id=seed.id))
        )

        assert created.attributes.lookalike.seed_segment_id == seed.id
        assert created.attributes.lookalike.target_size == 100_000

    def test_creates_several_segments_in_request_order(self, sdk: Sdk, names: Names) -> None:
        wanted = [names(f"bulk {n}") for n in range(4)]

        response = sdk.create(
            *(segment(n, retargeting=retargeting(0, 10 + i)) for i, n in enumerate(wanted))
        )

        assert response.errors == []
        assert [s.attributes.name for s in response.data] == wanted
        ids = [int(s.id) for s in response.data]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)

    def test_mixed_bulk_keeps_valid_items_and_reports_invalid_ones(
        self, sdk: Sdk, names: Names
    ) -> None:
        first, last = names("valid first"), names("valid last")

        response = sdk.create(
            segment(first, retargeting=retargeting(0, 30)),
            segment(names("min above max"), retargeting=retargeting(40, 3)),
            segment("", contact_list={}),
            segment(first, contact_list={}),
            segment(last, contact_list={}),
        )

        assert [s.attributes.name for s in response.data] == [first, last]
        assert wire_problems(response) == [
            (
                "invalid-range",
                "validation",
                {"daysSinceLastVisitMin": "data/1/attributes/retargeting/daysSinceLastVisitMin"},
            ),
            ("name-must-not-be-empty", "validation", {"name": "data/2/attributes/name"}),
            ("name-must-be-unique", "validation", {"name": "data/3/attributes/name"}),
        ]
        for problem in response.errors:
            assert problem.trace_id
            assert problem.instance == CREATE_PATH
            assert problem.title and problem.detail
        # Nothing of the refused items was stored.
        mine = sdk.search_all(advertiser_ids=[ADVERTISER])
        stored = {s.attributes.name for s in mine} & set(names.issued)
        assert stored == {first, last}

    def test_more_than_1000_items_fail_the_whole_request(self, sdk: Sdk, names: Names) -> None:
        prefix = names("too many")
        before = sdk.search(limit=0).meta.total_items

        with pytest.raises(ApiException) as raised:
            sdk.create(*(segment(f"{prefix} {n}", contact_list={}) for n in range(1001)))

        assert raised.value.status == 400
        (problem,) = problem_body(raised.value)["errors"]
        assert (problem["type"], problem["code"]) == ("validation", "too-many-items")
        assert problem["source"] == {"data": "data"}
        assert sdk.search(limit=0).meta.total_items == before

    def test_name_of_an_existing_segment_is_refused(self, sdk: Sdk, names: Names) -> None:
        taken = sdk.create_one(segment(names("taken"), contact_list={})).attributes.name

        response = sdk.create(
            segment(taken, contact_list={}), segment(BEHAVIORAL_NAME, contact_list={})
        )

        assert response.data == []
        assert wire_problems(response) == [
            ("name-must-be-unique", "validation", {"name": "data/0/attributes/name"}),
            ("name-must-be-unique", "validation", {"name": "data/1/attributes/name"}),
        ]

    @pytest.mark.parametrize(
        ("fields", "code", "source"),
        [
            pytest.param(
                lambda: {},
                "required-field",
                {"type": "data/0/attributes"},
                id="no-type",
            ),
            pytest.param(
                lambda: {"retargeting": retargeting(), "contact_list": {}},
                "invalid",
                {"contactList": "data/0/attributes/contactList"},
                id="two-types",
            ),
            pytest.param(
                lambda: {"retargeting": retargeting(0, 366)},
                "invalid-range",
                {"daysSinceLastVisitMax": "data/0/attributes/retargeting/daysSinceLastVisitMax"},
                id="days-above-365",
            ),
            pytest.param(
                lambda: {"retargeting": retargeting(-1, 10)},
                "invalid-range",
                {"daysSinceLastVisitMin": "data/0/attributes/retargeting/daysSinceLastVisitMin"},
                id="negative-days",
            ),
            pytest.param(
                lambda: {"in_market": InMarketCreateV1(country="XX")},
                "invalid-country",
                {"country": "data/0/attributes/inMarket/country"},
                id="unknown-country",
            ),
            pytest.param(
                lambda: {"in_market": InMarketCreateV1(country="FR", brand_ids=["999999"])},
                "brand-not-found",
                {"brandIds": "data/0/attributes/inMarket/brandIds/0"},
                id="unknown-brand",
            ),
            pytest.param(
                lambda: {"in_market": InMarketCreateV1(country="FR", interest_ids=["1", "0"])},
                "interest-not-found",
                {"interestIds": "data/0/attributes/inMarket/interestIds/1"},
                id="unknown-interest",
            ),
            pytest.param(
                lambda: {
                    "location": LocationCreateV1(
                        points_of_interest=[PointOfInterestV1(latitude=1.0, longitude=2.0)],
                        radius_in_km=501,
                    )
                },
                "invalid-range",
                {"radiusInKm": "data/0/attributes/location/radiusInKm"},
                id="radius-above-500",
            ),
            pytest.param(
                lambda: {
                    "location": LocationCreateV1(
                        points_of_interest=[PointOfInterestV1(latitude=90.5, longitude=2.0)],
                        radius_in_km=5,
                    )
                },
                "invalid-range",
                {"latitude": "data/0/attributes/location/pointsOfInterest/0/latitude"},
                id="latitude-above-90",
            ),
            pytest.param(
                lambda: {"location": LocationCreateV1(points_of_interest=[], radius_in_km=5)},
                "invalid-range",
                {"pointsOfInterest": "data/0/attributes/location/pointsOfInterest"},
                id="no-point-of-interest",
            ),
            pytest.param(
                lambda: {"lookalike": LookalikeCreateV1(seed_segment_id="999999999")},
                "segment-not-found",
                {"seedSegmentId": "data/0/attributes/lookalike/seedSegmentId"},
                id="unknown-seed",
            ),
        ],
    )
    def test_refuses_an_invalid_item(
        self,
        sdk: Sdk,
        names: Names,
        fields: Callable[[], dict[str, Any]],
        code: str,
        source: dict[str, str],
    ) -> None:
        response = sdk.create(segment(names("invalid"), **fields()))

        assert response.data == []
        assert wire_problems(response) == [(code, "validation", source)]

    def test_lookalike_of_a_lookalike_is_refused(self, sdk: Sdk, names: Names) -> None:
        seed = sdk.create_one(segment(names("seed"), contact_list={}))
        lookalike = sdk.create_one(
            segment(names("first"), lookalike=LookalikeCreateV1(seed_segment_id=seed.id))
        )

        response = sdk.create(
            segment(names("second"), lookalike=LookalikeCreateV1(seed_segment_id=lookalike.id))
        )

        assert wire_problems(response) == [
            (
                "invalid",
                "validation",
                {"seedSegmentId": "data/0/attributes/lookalike/seedSegmentId"},
            )
        ]

    def test_advertiser_not_granted_fails_only_its_item(self, sdk: Sdk, names: Names) -> None:
        kept = names("kept")

        response = sdk.create(
            segment(names("elsewhere"), advertiser_id=OTHER_ADVERTISER, contact_list={}),
            segment(kept, contact_list={}),
        )

        assert [s.attributes.name for s in response.data] == [kept]
        assert wire_problems(response) == [
            (
                "advertiser-access-denied",
                "access-control",
                {"advertiserId": "data/0/attributes/advertiserId"},
            )
        ]
