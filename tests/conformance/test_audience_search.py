"""Conformance of SearchAudiences: each filter, their combination, access control and paging."""

from __future__ import annotations

from typing import Any

import pytest
from criteo_api_marketingsolutions_v2025_01.exceptions import ApiException

from tests.conformance.conftest import (
    AD_SET,
    ADVERTISER,
    OTHER_AD_SET,
    OTHER_ADVERTISER,
    SECOND_AD_SET,
    Names,
    Sdk,
    audience,
    leaf,
    node,
    problem_body,
    segment,
)

pytestmark = pytest.mark.conformance

SEARCH_PATH = "/2025-01/marketing-solutions/audiences/search"


def ids_of(response: Any) -> list[str]:
    """The ids of the audiences of a search answer, in answer order."""
    return [a.id for a in response.data]


class TestSearchAudiences:
    def test_filters_by_audience_ids_in_id_order(self, sdk: Sdk, names: Names) -> None:
        (used,) = sdk.contact_lists(names("segment"))
        first, second, third = (
            sdk.create_audience(audience(names(label), node(leaf(used)))).id
            for label in ("first", "second", "third")
        )

        found = sdk.search_audiences(audience_ids=[third, "999999999", "x", first])

        assert ids_of(found) == [first, third]
        assert found.meta.total_items == 2
        assert second not in ids_of(found)

    def test_unknown_ids_give_an_empty_page(self, sdk: Sdk) -> None:
        found = sdk.search_audiences(audience_ids=["999999999"])

        assert found.data == []
        assert found.meta.total_items == 0
        assert sdk.api_calls()[-1].body["data"] == []

    def test_reads_back_every_attribute(self, sdk: Sdk, names: Names) -> None:
        a, b = sdk.contact_lists(names("a"), names("b"))
        name = names("full")
        algebra = {"and": [leaf(a), {"not": leaf(b)}]}
        created = sdk.create_audience(audience(name, node(algebra), description="described"))

        found = sdk.search_audiences(audience_ids=[created.id])

        (resource,) = sdk.api_calls()[-1].body["data"]
        assert resource["id"] == created.id
        assert resource["type"] == "Audience"
        assert {k: v for k, v in resource["attributes"].items() if not k.endswith("At")} == {
            "advertiserId": ADVERTISER,
            "name": name,
            "description": "described",
            "algebra": algebra,
            "adSetIds": [],
        }
        assert found.data[0].attributes.created_at == created.attributes.created_at

    def test_segment_filter_matches_a_segment_anywhere_in_the_algebra(
        self, sdk: Sdk, names: Names
    ) -> None:
        a, b, c, d = sdk.contact_lists(*(names(f"segment {n}") for n in range(4)))
        plain = sdk.create_audience(audience(names("plain"), node(leaf(a)))).id
        excluded = sdk.create_audience(
            audience(names("excludes b"), node({"and": [leaf(c), {"not": leaf(b)}]}))
        ).id
        deep = sdk.create_audience(
            audience(
                names("deep"),
                node({"and": [{"or": [{"and": [leaf(c), leaf(a)]}, leaf(d)]}, {"not": leaf(b)}]}),
            )
        ).id

        assert ids_of(sdk.search_audiences(segment_ids=[a])) == [plain, deep]
        assert ids_of(sdk.search_audiences(segment_ids=[b])) == [excluded, deep]
        assert ids_of(sdk.search_audiences(segment_ids=[c])) == [excluded, deep]
        assert ids_of(sdk.search_audiences(segment_ids=[d])) == [deep]
        # Several segments: an audience using any of them.
        assert ids_of(sdk.search_audiences(segment_ids=[d, a])) == [plain, deep]
        assert sdk.search_audiences(segment_ids=["999999999", "x"]).meta.total_items == 0

    @pytest.mark.usefixtures("unlinked_ad_sets")
    def test_ad_set_filter_follows_the_links(self, sdk: Sdk, names: Names) -> None:
        (used,) = sdk.contact_lists(names("segment"))
        first, second, third = (
            sdk.create_audience(audience(names(label), node(leaf(used)))).id
            for label in ("first", "second", "unlinked")
        )
        sdk.link(AD_SET, first)
        sdk.link(SECOND_AD_SET, second)

        assert ids_of(sdk.search_audiences(ad_set_ids=[AD_SET])) == [first]
        assert ids_of(sdk.search_audiences(ad_set_ids=[SECOND_AD_SET, AD_SET])) == [first, second]
        assert sdk.search_audiences(ad_set_ids=[OTHER_AD_SET]).meta.total_items == 0
        assert sdk.search_audiences(ad_set_ids=["999999999"]).meta.total_items == 0

        sdk.link(SECOND_AD_SET, first)

        found = sdk.search_audiences(ad_set_ids=[SECOND_AD_SET])
        assert ids_of(found) == [first]
        assert found.data[0].attributes.ad_set_ids == [AD_SET, SECOND_AD_SET]
        assert sdk.search_audiences(ad_set_ids=[AD_SET, SECOND_AD_SET]).meta.total_items == 1
        assert sdk.find_audience(second).attributes.ad_set_ids == []
        assert sdk.find_audience(third).attributes.ad_set_ids == []

    def test_filters_are_anded(self, sdk: Sdk, names: Names) -> None:
        a, b = sdk.contact_lists(names("a"), names("b"))
        with_a = sdk.create_audience(audience(names("with a"), node(leaf(a)))).id
        with_b = sdk.create_audience(audience(names("with b"), node(leaf(b)))).id

        found = sdk.search_audiences(
            audience_ids=[with_a, with_b], segment_ids=[b], advertiser_ids=[ADVERTISER]
        )

        assert ids_of(found) == [with_b]
        assert found.meta.total_items == 1

    def test_empty_filter_lists_do_not_filter(self, sdk: Sdk, names: Names) -> None:
        (used,) = sdk.contact_lists(names("segment"))
        sdk.create_audience(audience(names("counted"), node(leaf(used))))
        everything = sdk.search_audiences(limit=0).meta.total_items

        found = sdk.search_audiences(
            audience_ids=[], advertiser_ids=[], segment_ids=[], ad_set_ids=[], limit=0
        )

        assert found.meta.total_items == everything >= 1

    def test_search_shows_only_reachable_advertisers(
        self, sdk: Sdk, other_sdk: Sdk, agency_sdk: Sdk, names: Names
    ) -> None:
        (mine_segment,) = sdk.contact_lists(names("of 1001"))
        theirs_segment = other_sdk.create_one(
            segment(names("of 1002"), advertiser_id=OTHER_ADVERTISER, contact_list={})
        ).id
        mine = sdk.create_audience(audience(names("of 1001"), node(leaf(mine_segment)))).id
        theirs = other_sdk.create_audience(
            audience(names("of 1002"), node(leaf(theirs_segment)), advertiser_id=OTHER_ADVERTISER)
        ).id

        seen_by_me = sdk.search_all_audiences()
        assert {a.attributes.advertiser_id for a in seen_by_me} == {ADVERTISER}
        assert mine in {a.id for a in seen_by_me}
        assert sdk.search_audiences(audience_ids=[theirs]).meta.total_items == 0
        assert sdk.search_audiences(segment_ids=[theirs_segment]).meta.total_items == 0

        seen_by_agency = agency_sdk.search_all_audiences()
        assert {a.attributes.advertiser_id for a in seen_by_agency} == {
            ADVERTISER,
            OTHER_ADVERTISER,
        }
        only_theirs = agency_sdk.search_all_audiences(advertiser_ids=[OTHER_ADVERTISER])
        assert {a.attributes.advertiser_id for a in only_theirs} == {OTHER_ADVERTISER}
        assert theirs in {a.id for a in only_theirs}
        assert mine not in {a.id for a in only_theirs}

    @pytest.mark.parametrize(
        ("advertiser_ids", "index"),
        [
            pytest.param([OTHER_ADVERTISER], 0, id="other-advertiser"),
            pytest.param([ADVERTISER, "424242"], 1, id="unknown-advertiser"),
        ],
    )
    def test_advertiser_not_granted_is_403(
        self, sdk: Sdk, advertiser_ids: list[str], index: int
    ) -> None:
        with pytest.raises(ApiException) as raised:
            sdk.search_audiences(advertiser_ids=advertiser_ids)

        assert raised.value.status == 403
        (problem,) = problem_body(raised.value)["errors"]
        assert (problem["type"], problem["code"]) == ("access-control", "advertiser-access-denied")
        assert problem["source"] == {"advertiserIds": f"data/attributes/advertiserIds/{index}"}
        assert problem["instance"] == SEARCH_PATH

    def test_read_only_client_may_search(self, sdk: Sdk, reader_sdk: Sdk, names: Names) -> None:
        (used,) = sdk.contact_lists(names("segment"))
        created = sdk.create_audience(audience(names("readable"), node(leaf(used))))

        assert reader_sdk.find_audience(created.id).attributes.name == created.attributes.name


class TestPaging:
    def test_pages_to_total_items_in_stable_id_order(self, sdk: Sdk, names: Names) -> None:
        (used,) = sdk.contact_lists(names("segment"))
        created = sdk.create_audiences(
            *(audience(names(f"paged {n}"), node(leaf(used))) for n in range(7))
        )
        expected = [a.id for a in created.data]
        assert len(expected) == 7

        pages = []
        offset, total = 0, 1
        while offset < total:
            page = sdk.search_audiences(segment_ids=[used], limit=3, offset=offset)
            assert (page.meta.limit, page.meta.offset) == (3, offset)
            pages.append(ids_of(page))
            total = page.meta.total_items
            offset += 3

        assert total == 7
        assert pages == [expected[0:3], expected[3:6], expected[6:7]]
        assert [int(i) for i in expected] == sorted(int(i) for i in expected)
        # The same pages again: the order does not move between calls.
        again = sdk.search_audiences(segment_ids=[used], limit=3, offset=3)
        assert ids_of(again) == expected[3:6]

    def test_offset_past_the_end_and_limit_zero(self, sdk: Sdk, names: Names) -> None:
        (used,) = sdk.contact_lists(names("segment"))
        sdk.create_audiences(*(audience(names(f"few {n}"), node(leaf(used))) for n in range(2)))

        past = sdk.search_audiences(segment_ids=[used], offset=5)
        counted = sdk.search_audiences(segment_ids=[used], limit=0)

        assert past.data == []
        assert past.meta.total_items == 2
        assert counted.data == []
        assert (counted.meta.limit, counted.meta.total_items) == (0, 2)

    def test_default_page_is_50_from_offset_0(self, sdk: Sdk, names: Names) -> None:
        (used,) = sdk.contact_lists(names("segment"))
        sdk.create_audience(audience(names("one"), node(leaf(used))))

        found = sdk.search_audiences(segment_ids=[used])

        assert (found.meta.limit, found.meta.offset, found.meta.total_items) == (50, 0, 1)

    def test_negative_offset_is_a_400_naming_the_parameter(self, sdk: Sdk) -> None:
        with pytest.raises(ApiException) as raised:
            sdk.search_audiences(offset=-1)

        assert raised.value.status == 400
        (problem,) = problem_body(raised.value)["errors"]
        assert problem["type"] == "validation"
        assert "offset" in problem["source"]
