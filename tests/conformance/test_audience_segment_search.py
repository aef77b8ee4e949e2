"""Conformance of SearchAudienceSegments: paging to the end, filters, defaults."""

from __future__ import annotations

import pytest
from criteo_api_marketingsolutions_v2025_01.model.in_market_create_v1 import InMarketCreateV1
from criteo_api_marketingsolutions_v2025_01.model.location_create_v1 import LocationCreateV1
from criteo_api_marketingsolutions_v2025_01.model.point_of_interest_v1 import PointOfInterestV1
from criteo_api_marketingsolutions_v2025_01.model.prospecting_create_v1 import (
    ProspectingCreateV1,
)
from criteo_api_marketingsolutions_v2025_01.model.retargeting_create_v1 import (
    RetargetingCreateV1,
)

from tests.conformance.conftest import ADVERTISER, BEHAVIORAL_NAME, Names, Sdk, segment

pytestmark = pytest.mark.conformance

PAGE = 5


def one_of_each(sdk: Sdk, names: Names) -> dict[str, str]:
    """Create a Retargeting, Prospecting, InMarket, Location and ContactList segment; id by type."""
    response = sdk.create(
        segment(
            names("retargeting"),
            retargeting=RetargetingCreateV1(
                visitors_type="All", days_since_last_visit_min=0, days_since_last_visit_max=7
            ),
        ),
        segment(names("prospecting"), prospecting=ProspectingCreateV1(users_type="Prospects")),
        segment(names("in-market"), in_market=InMarketCreateV1(country="FR")),
        segment(
            names("location"),
            location=LocationCreateV1(
                points_of_interest=[PointOfInterestV1(latitude=0.5, longitude=0.5)],
                radius_in_km=1,
            ),
        ),
        segment(names("contact list"), contact_list={}),
    )
    assert response.errors == []
    return {s.attributes.type: s.id for s in response.data}


class TestSearchAudienceSegments:
    def test_paging_to_the_end_sees_every_segment_once_in_id_order(
        self, sdk: Sdk, names: Names
    ) -> None:
        created = sdk.create(*(segment(names(f"page {n}"), contact_list={}) for n in range(23)))
        assert created.errors == []
        wanted = [s.id for s in created.data]

        seen: list[str] = []
        offset, total = 0, None
        while total is None or offset < total:
            page = sdk.search(advertiser_ids=[ADVERTISER], limit=PAGE, offset=offset)
            assert (page.meta.limit, page.meta.offset) == (PAGE, offset)
            assert total is None or page.meta.total_items == total
            total = page.meta.total_items
            assert len(page.data) == min(PAGE, total - offset)
            assert all(s.attributes.advertiser_id == ADVERTISER for s in page.data)
            seen.extend(s.id for s in page.data)
            offset += PAGE

        assert len(seen) == total
        numbers = [int(i) for i in seen]
        assert numbers == sorted(numbers)
        assert len(set(numbers)) == len(numbers)
        assert [i for i in seen if i in set(wanted)] == wanted

    def test_offset_past_the_end_is_an_empty_page(self, sdk: Sdk) -> None:
        total = sdk.search(limit=1).meta.total_items

        page = sdk.search(limit=10, offset=total + 10)

        assert page.data == []
        assert page.meta.total_items == total
        assert (page.meta.limit, page.meta.offset) == (10, total + 10)

    def test_limit_zero_counts_without_listing(self, sdk: Sdk) -> None:
        page = sdk.search(limit=0)

        assert page.data == []
        assert page.meta.limit == 0
        assert page.meta.total_items >= 1

    def test_default_page_is_limit_50_offset_0(self, sdk: Sdk) -> None:
        page = sdk.search()

        assert (page.meta.limit, page.meta.offset) == (50, 0)
        assert len(page.data) == min(50, page.meta.total_items)

    def test_filters_by_type(self, sdk: Sdk, names: Names) -> None:
        ids = one_of_each(sdk, names)

        found = sdk.search_all(types=["Location", "ContactList"])

        assert {s.attributes.type for s in found} == {"Location", "ContactList"}
        assert {ids["Location"], ids["ContactList"]} <= {s.id for s in found}
        assert ids["Retargeting"] not in {s.id for s in found}

    def test_filters_by_id(self, sdk: Sdk, names: Names) -> None:
        ids = one_of_each(sdk, names)
        wanted = sorted([ids["Prospecting"], ids["InMarket"]], key=int)

        found = sdk.search(segment_ids=[*wanted, "999999999"])

        assert [s.id for s in found.data] == wanted
        assert found.meta.total_items == 2

    def test_filters_are_anded(self, sdk: Sdk, names: Names) -> None:
        ids = one_of_each(sdk, names)

        found = sdk.search(
            advertiser_ids=[ADVERTISER],
            segment_ids=[ids["Retargeting"], ids["Location"]],
            types=["Location", "InMarket"],
        )

        assert [(s.id, s.attributes.type) for s in found.data] == [(ids["Location"], "Location")]
        assert found.meta.total_items == 1

    def test_no_match_is_an_empty_answer(self, sdk: Sdk) -> None:
        found = sdk.search(segment_ids=["999999999"])

        assert found.data == []
        assert found.errors == []
        assert found.meta.total_items == 0

    def test_finds_the_behavioral_segment_the_platform_provides(self, sdk: Sdk) -> None:
        found = sdk.search(types=["Behavioral"])

        assert found.meta.total_items == 1
        (behavioral,) = found.data
        assert behavioral.attributes.name == BEHAVIORAL_NAME
        assert behavioral.attributes.advertiser_id == ADVERTISER
        assert behavioral.attributes.behavioral.to_dict() == {
            "category": "Seasonal",
            "country": "FR",
        }
