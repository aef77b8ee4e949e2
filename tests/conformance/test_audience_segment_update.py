"""Conformance of UpdateAudienceSegments: absent fields kept, Nillable wrappers cleared, errors."""

from __future__ import annotations

from typing import Any

import pytest
from criteo_api_marketingsolutions_v2025_01.model.in_market_create_v1 import InMarketCreateV1
from criteo_api_marketingsolutions_v2025_01.model.in_market_update_v1 import InMarketUpdateV1
from criteo_api_marketingsolutions_v2025_01.model.location_create_v1 import LocationCreateV1
from criteo_api_marketingsolutions_v2025_01.model.location_update_v1 import LocationUpdateV1
from criteo_api_marketingsolutions_v2025_01.model.lookalike_create_v1 import LookalikeCreateV1
from criteo_api_marketingsolutions_v2025_01.model.lookalike_update_v1 import LookalikeUpdateV1
from criteo_api_marketingsolutions_v2025_01.model.nillable_gender_v1 import NillableGenderV1
from criteo_api_marketingsolutions_v2025_01.model.nillable_int32 import NillableInt32
from criteo_api_marketingsolutions_v2025_01.model.nillable_string import NillableString
from criteo_api_marketingsolutions_v2025_01.model.point_of_interest_v1 import PointOfInterestV1
from criteo_api_marketingsolutions_v2025_01.model.prospecting_create_v1 import (
    ProspectingCreateV1,
)
from criteo_api_marketingsolutions_v2025_01.model.prospecting_update_v1 import (
    ProspectingUpdateV1,
)
from criteo_api_marketingsolutions_v2025_01.model.retargeting_create_v1 import (
    RetargetingCreateV1,
)
from criteo_api_marketingsolutions_v2025_01.model.retargeting_update_v1 import (
    RetargetingUpdateV1,
)

from tests.conformance.conftest import (
    ADVERTISER,
    BEHAVIORAL_NAME,
    BRAND_ID,
    Names,
    Sdk,
    attributes_of,
    changes,
    segment,
    wire_problems,
)

pytestmark = pytest.mark.conformance

UPDATE_PATH = "/2025-01/marketing-solutions/audience-segments"


def retargeting(low: int = 0, high: int = 30) -> Any:
    return RetargetingCreateV1(
        visitors_type="All", days_since_last_visit_min=low, days_since_last_visit_max=high
    )


def sent_attributes(sdk: Sdk, index: int = 0) -> dict[str, Any]:
    """The JSON attributes of item ``index`` of the last update the SDK sent."""
    update = [e for e in sdk.api_calls() if e.method == "PATCH" and e.path == UPDATE_PATH][-1]
    attributes: dict[str, Any] = update.request_body["data"][index]["attributes"]
    return attributes


def updated_one(response: Any) -> Any:
    assert response.errors == [], response.errors
    assert len(response.data) == 1
    return response.data[0]


def behavioral_id(sdk: Sdk) -> str:
    found = sdk.search(advertiser_ids=[ADVERTISER], types=["Behavioral"])
    assert [s.attributes.name for s in found.data] == [BEHAVIORAL_NAME]
    segment_id: str = found.data[0].id
    return segment_id


class TestUpdateAudienceSegments:
    def test_description_is_set_then_cleared_with_a_null_value(
        self, sdk: Sdk, names: Names
    ) -> None:
        created = sdk.create_one(segment(names("described"), retargeting=retargeting()))

        described = updated_one(
            sdk.update((created.id, changes(description=NillableString(value="Weekend visitors"))))
        )
        assert sent_attributes(sdk) == {"description": {"value": "Weekend visitors"}}
        assert described.attributes.description == "Weekend visitors"
        assert sdk.find(created.id).attributes.description == "Weekend visitors"

        cleared = updated_one(
            sdk.update((created.id, changes(description=NillableString(value=None))))
        )

        # The SDK sends the wrapper with an explicit JSON null, and the server clears the value.
        assert sent_attributes(sdk) == {"description": {"value": None}}
        assert "description" not in attributes_of(cleared)
        assert "description" not in attributes_of(sdk.find(created.id))

    def test_absent_fields_are_kept(self, sdk: Sdk, names: Names) -> None:
        created = sdk.create_one(
            segment(names("before"), description="kept", retargeting=retargeting(5, 50))
        )
        new_name = names("after")

        renamed = updated_one(sdk.update((created.id, changes(name=new_name))))

        expected = attributes_of(created) | {"name": new_name}
        assert attributes_of(renamed) == expected
        assert attributes_of(sdk.find(created.id)) == expected
        assert renamed.attributes.created_at == created.attributes.created_at
        assert renamed.attributes.updated_at >= created.attributes.updated_at

    def test_update_that_changes_nothing_keeps_updated_at(self, sdk: Sdk, names: Names) -> None:
        created = sdk.create_one(segment(names("same"), retargeting=retargeting(1, 2)))

        same = updated_one(
            sdk.update(
                (
                    created.id,
                    changes(
                        name=created.attributes.name,
                        retargeting=RetargetingUpdateV1(days_since_last_visit_max=2),
                    ),
                )
            )
        )

        assert attributes_of(same) == attributes_of(created)
        assert same.attributes.updated_at == created.attributes.updated_at

    def test_retargeting_fields_merge_with_the_stored_ones(self, sdk: Sdk, names: Names) -> None:
        created = sdk.create_one(segment(names("merge"), retargeting=retargeting(1, 20)))

        updated = updated_one(
            sdk.update(
                (created.id, changes(retargeting=RetargetingUpdateV1(visitors_type="NonBuyers")))
            )
        )

        assert updated.attributes.retargeting.to_dict() == {
            "visitors_type": "NonBuyers",
            "days_since_last_visit_min": 1,
            "days_since_last_visit_max": 20,
        }

    def test_prospecting_days_are_cleared_with_nillable_int32(self, sdk: Sdk, names: Names) -> None:
        created = sdk.create_one(
            segment(
                names("prospects"),
                prospecting=ProspectingCreateV1(
                    users_type="ProspectsOrNonBuyers",
                    days_since_last_visit_min=2,
                    days_since_last_visit_max=40,
                ),
            )
        )

        updated = updated_one(
            sdk.update(
                (
                    created.id,
                    changes(
                        prospecting=ProspectingUpdateV1(
                            days_since_last_visit_max=NillableInt32(value=None)
                        )
                    ),
                )
            )
        )

        assert sent_attributes(sdk) == {"prospecting": {"daysSinceLastVisitMax": {"value": None}}}
        expected = {"users_type": "ProspectsOrNonBuyers", "days_since_last_visit_min": 2}
        assert updated.attributes.prospecting.to_dict() == expected
        assert sdk.find(created.id).attributes.prospecting.to_dict() == expected

        reset = updated_one(
            sdk.update(
                (
                    created.id,
                    changes(
                        prospecting=ProspectingUpdateV1(
                            users_type="Prospects",
                            days_since_last_visit_max=NillableInt32(value=9),
                        )
                    ),
                )
            )
        )
        assert reset.attributes.prospecting.to_dict() == {
            "users_type": "Prospects",
            "days_since_last_visit_min": 2,
            "days_since_last_visit_max": 9,
        }

    def test_in_market_gender_is_set_then_cleared_with_nillable_gender(
        self, sdk: Sdk, names: Names
    ) -> None:
        created = sdk.create_one(
            segment(
                names("in-market"),
                in_market=InMarketCreateV1(
                    country="FR", interest_ids=["3237"], price_range=["High"]
                ),
            )
        )
        before = created.attributes.in_market.to_dict()

        male = updated_one(
            sdk.update(
                (
                    created.id,
                    changes(in_market=InMarketUpdateV1(gender=NillableGenderV1(value="Male"))),
                )
            )
        )
        assert male.attributes.in_market.to_dict() == before | {"gender": "Male"}

        cleared = updated_one(
            sdk.update(
                (
                    created.id,
                    changes(in_market=InMarketUpdateV1(gender=NillableGenderV1(value=None))),
                )
            )
        )
        assert sent_attributes(sdk) == {"inMarket": {"gender": {"value": None}}}
        assert cleared.attributes.in_market.to_dict() == before
        assert sdk.find(created.id).attributes.in_market.to_dict() == before

    def test_in_market_update_keeps_the_stored_brands(self, sdk: Sdk, names: Names) -> None:
        created = sdk.create_one(
            segment(names("brands"), in_market=InMarketCreateV1(country="FR", brand_ids=[BRAND_ID]))
        )

        response = sdk.update(
            (
                created.id,
                changes(in_market=InMarketUpdateV1(gender=NillableGenderV1(value="Female"))),
            )
        )

        assert response.errors == []
        assert response.data[0].attributes.in_market.brand_ids == [BRAND_ID]
        assert response.data[0].attributes.in_market.gender == "Female"

    def test_location_points_are_replaced_and_rounded(self, sdk: Sdk, names: Names) -> None:
        created = sdk.create_one(
            segment(
                names("location"),
                location=LocationCreateV1(
                    points_of_interest=[PointOfInterestV1(name="A", latitude=1.0, longitude=2.0)],
                    radius_in_km=5,
                ),
            )
        )

        moved = updated_one(
            sdk.update(
                (
                    created.id,
                    changes(
                        location=LocationUpdateV1(
                            points_of_interest=[
                                PointOfInterestV1(
                                    name="Lyon", latitude=45.7640437, longitude=4.8356591
                                )
                            ]
                        )
                    ),
                )
            )
        )
        expected = {
            "points_of_interest": [{"name": "Lyon", "latitude": 45.76404, "longitude": 4.83566}],
            "radius_in_km": 5,
            "registry_type": "PointOfInterest",
        }
        assert moved.attributes.location.to_dict() == expected

        wider = updated_one(
            sdk.update((created.id, changes(location=LocationUpdateV1(radius_in_km=50))))
        )
        assert wider.attributes.location.to_dict() == expected | {"radius_in_km": 50}

    def test_lookalike_target_size_changes_and_seed_stays(self, sdk: Sdk, names: Names) -> None:
        seed = sdk.create_one(segment(names("seed"), contact_list={}))
        lookalike = sdk.create_one(
            segment(names("lookalike"), lookalike=LookalikeCreateV1(seed_segment_id=seed.id))
        )

        resized = updated_one(
            sdk.update((lookalike.id, changes(lookalike=LookalikeUpdateV1(target_size=777))))
        )

        assert resized.attributes.lookalike.to_dict() == {
            "seed_segment_id": seed.id,
            "target_size": 777,
        }

    def test_contact_list_takes_a_new_name(self, sdk: Sdk, names: Names) -> None:
        created = sdk.create_one(segment(names("list"), contact_list={}))
        new_name = names("renamed list")

        renamed = updated_one(sdk.update((created.id, changes(name=new_name))))

        assert attributes_of(renamed) == attributes_of(created) | {"name": new_name}

    def test_behavioral_segment_is_read_only(self, sdk: Sdk) -> None:
        segment_id = behavioral_id(sdk)

        response = sdk.update((segment_id, changes(name="Not holiday shoppers")))

        assert response.data == []
        assert wire_problems(response) == [
            ("segment-read-only", "authorization", {"id": "data/0/id"})
        ]
        assert sdk.find(segment_id).attributes.name == BEHAVIORAL_NAME

    def test_mixed_bulk_applies_valid_items_and_reports_the_others(
        self, sdk: Sdk, names: Names
    ) -> None:
        first = sdk.create_one(segment(names("first"), retargeting=retargeting()))
        second = sdk.create_one(segment(names("second"), retargeting=retargeting()))
        third = sdk.create_one(segment(names("third"), contact_list={}))
        fourth = sdk.create_one(segment(names("fourth"), contact_list={}))
        renamed = names("renamed")

        response = sdk.update(
            (first.id, changes(name=renamed)),
            ("999999999", changes(name=names("ghost"))),
            (second.id, changes(retargeting=RetargetingUpdateV1(days_since_last_visit_min=31))),
            (third.id, changes(name=second.attributes.name)),
            (first.id, changes(description=NillableString(value="twice"))),
            (fourth.id, changes(retargeting=RetargetingUpdateV1(visitors_type="Buyers"))),
            (second.id, changes(name=" ")),
        )

        assert [(s.id, s.attributes.name) for s in response.data] == [(first.id, renamed)]
        assert wire_problems(response) == [
            ("segment-not-found", "validation", {"id": "data/1/id"}),
            (
                "invalid-range",
                "validation",
                {"daysSinceLastVisitMin": "data/2/attributes/retargeting/daysSinceLastVisitMin"},
            ),
            ("name-must-be-unique", "validation", {"name": "data/3/attributes/name"}),
            ("duplicate-item", "validation", {"id": "data/4/id"}),
            ("invalid", "validation", {"retargeting": "data/5/attributes/retargeting"}),
            ("duplicate-item", "validation", {"id": "data/6/id"}),
        ]
        assert all(p.instance == UPDATE_PATH and p.trace_id for p in response.errors)
        assert attributes_of(sdk.find(second.id)) == attributes_of(second)
        assert attributes_of(sdk.find(third.id)) == attributes_of(third)
        assert attributes_of(sdk.find(fourth.id)) == attributes_of(fourth)

    def test_empty_name_is_refused(self, sdk: Sdk, names: Names) -> None:
        created = sdk.create_one(segment(names("named"), contact_list={}))

        response = sdk.update((created.id, changes(name="   ")))

        assert wire_problems(response) == [
            ("name-must-not-be-empty", "validation", {"name": "data/0/attributes/name"})
        ]
        assert sdk.find(created.id).attributes.name == created.attributes.name
