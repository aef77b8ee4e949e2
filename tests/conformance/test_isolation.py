"""Conformance of advertiser isolation: a client reaches only the advertisers it was granted."""

from __future__ import annotations

import pytest
from criteo_api_marketingsolutions_v2025_01.exceptions import ApiException
from criteo_api_marketingsolutions_v2025_01.model.lookalike_create_v1 import LookalikeCreateV1
from criteo_api_marketingsolutions_v2025_01.model.nillable_string import NillableString

from tests.conformance.conftest import (
    ADVERTISER,
    OTHER_ADVERTISER,
    Names,
    Sdk,
    attributes_of,
    changes,
    problem_body,
    segment,
    wire_problems,
)

pytestmark = pytest.mark.conformance


class TestAdvertiserIsolation:
    def test_search_never_shows_another_advertisers_segments(
        self, sdk: Sdk, other_sdk: Sdk, names: Names
    ) -> None:
        mine = sdk.create_one(segment(names("of 1001"), contact_list={}))
        theirs = other_sdk.create_one(
            segment(names("of 1002"), advertiser_id=OTHER_ADVERTISER, contact_list={})
        )

        seen_by_other = other_sdk.search_all()
        assert {s.attributes.advertiser_id for s in seen_by_other} == {OTHER_ADVERTISER}
        assert theirs.id in {s.id for s in seen_by_other}
        assert mine.id not in {s.id for s in seen_by_other}

        by_id = other_sdk.search(segment_ids=[mine.id])
        assert by_id.data == []
        assert by_id.meta.total_items == 0
        assert sdk.search(segment_ids=[theirs.id]).meta.total_items == 0

    def test_filtering_on_an_advertiser_not_granted_is_403(self, other_sdk: Sdk) -> None:
        with pytest.raises(ApiException) as raised:
            other_sdk.search(advertiser_ids=[ADVERTISER])

        assert raised.value.status == 403
        (problem,) = problem_body(raised.value)["errors"]
        assert problem["type"] == "access-control"
        assert problem["code"] == "advertiser-access-denied"
        assert problem["source"] == {"advertiserIds": "data/attributes/advertiserIds/0"}

    def test_update_of_another_advertisers_segment_is_not_found(
        self, sdk: Sdk, other_sdk: Sdk, names: Names
    ) -> None:
        mine = sdk.create_one(segment(names("of 1001"), contact_list={}))

        response = other_sdk.update(
            (mine.id, changes(name=names("hijacked"), description=NillableString(value="x")))
        )

        assert response.data == []
        assert wire_problems(response) == [("segment-not-found", "validation", {"id": "data/0/id"})]
        assert attributes_of(sdk.find(mine.id)) == attributes_of(mine)

    def test_delete_of_another_advertisers_segment_is_not_found(
        self, sdk: Sdk, other_sdk: Sdk, names: Names
    ) -> None:
        mine = sdk.create_one(segment(names("of 1001"), contact_list={}))

        response = other_sdk.delete(mine.id)

        assert response.data == []
        assert wire_problems(response) == [("segment-not-found", "validation", {"id": "data/0/id"})]
        assert sdk.find(mine.id).id == mine.id

    def test_lookalike_cannot_be_seeded_on_another_advertisers_segment(
        self, sdk: Sdk, other_sdk: Sdk, names: Names
    ) -> None:
        mine = sdk.create_one(segment(names("seed of 1001"), contact_list={}))

        response = other_sdk.create(
            segment(
                names("lookalike"),
                advertiser_id=OTHER_ADVERTISER,
                lookalike=LookalikeCreateV1(seed_segment_id=mine.id),
            )
        )

        assert response.data == []
        assert wire_problems(response) == [
            (
                "segment-not-found",
                "validation",
                {"seedSegmentId": "data/0/attributes/lookalike/seedSegmentId"},
            )
        ]

    def test_in_market_lists_of_another_advertiser_are_403(self, other_sdk: Sdk) -> None:
        for call in (
            other_sdk.audience.get_audience_segments_in_market_brands,
            other_sdk.audience.get_audience_segments_in_market_interests,
        ):
            with pytest.raises(ApiException) as raised:
                call(ADVERTISER, "FR")
            assert raised.value.status == 403
            (problem,) = problem_body(raised.value)["errors"]
            assert (problem["type"], problem["code"]) == (
                "access-control",
                "advertiser-access-denied",
            )
