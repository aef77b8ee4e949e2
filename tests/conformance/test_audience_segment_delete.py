"""Conformance of DeleteAudienceSegments: deleted ids, unknown ids, segments in use."""

from __future__ import annotations

import pytest
from criteo_api_marketingsolutions_v2025_01.model.lookalike_create_v1 import LookalikeCreateV1

from tests.conformance.conftest import (
    ADVERTISER,
    BEHAVIORAL_NAME,
    RESOURCE_TYPE,
    Names,
    Sdk,
    segment,
    wire_problems,
)

pytestmark = pytest.mark.conformance

DELETE_PATH = "/2025-01/marketing-solutions/audience-segments/delete"


class TestDeleteAudienceSegments:
    def test_deletes_and_answers_the_ids(self, sdk: Sdk, names: Names) -> None:
        first = sdk.create_one(segment(names("first"), contact_list={}))
        second = sdk.create_one(segment(names("second"), contact_list={}))

        response = sdk.delete(second.id, first.id)

        assert response.errors == []
        assert [(d.id, d.type) for d in response.data] == [
            (second.id, RESOURCE_TYPE),
            (first.id, RESOURCE_TYPE),
        ]
        gone = sdk.search(segment_ids=[first.id, second.id])
        assert gone.data == []
        assert gone.meta.total_items == 0

    def test_a_deleted_name_can_be_used_again(self, sdk: Sdk, names: Names) -> None:
        name = names("reused")
        old = sdk.create_one(segment(name, contact_list={}))
        sdk.delete(old.id)

        new = sdk.create_one(segment(name, contact_list={}))

        assert new.attributes.name == name
        assert sdk.find(new.id).attributes.name == name

    def test_ids_of_deleted_segments_are_never_reused(self, sdk: Sdk, names: Names) -> None:
        old = sdk.create_one(segment(names("old"), contact_list={}))
        sdk.delete(old.id)

        new = sdk.create_one(segment(names("new"), contact_list={}))

        # A client holding the old id (a retried delete, a stale cache) must not reach the new one.
        assert int(new.id) > int(old.id)

    def test_unknown_id_fails_only_its_item(self, sdk: Sdk, names: Names) -> None:
        kept = sdk.create_one(segment(names("deleted"), contact_list={}))

        response = sdk.delete("999999999", kept.id, "not-a-number")

        assert [d.id for d in response.data] == [kept.id]
        assert wire_problems(response) == [
            ("segment-not-found", "validation", {"id": "data/0/id"}),
            ("segment-not-found", "validation", {"id": "data/2/id"}),
        ]
        assert all(p.instance == DELETE_PATH and p.trace_id for p in response.errors)

    def test_deleted_segment_is_not_found_the_second_time(self, sdk: Sdk, names: Names) -> None:
        created = sdk.create_one(segment(names("once"), contact_list={}))
        sdk.delete(created.id)

        response = sdk.delete(created.id)

        assert response.data == []
        assert wire_problems(response) == [("segment-not-found", "validation", {"id": "data/0/id"})]

    def test_seed_of_a_lookalike_is_in_use(self, sdk: Sdk, names: Names) -> None:
        seed = sdk.create_one(segment(names("seed"), contact_list={}))
        lookalike = sdk.create_one(
            segment(names("lookalike"), lookalike=LookalikeCreateV1(seed_segment_id=seed.id))
        )

        refused = sdk.delete(seed.id)

        assert refused.data == []
        assert wire_problems(refused) == [("segment-in-use", "validation", {"id": "data/0/id"})]
        assert sdk.find(seed.id).attributes.name == seed.attributes.name

        # Once its lookalike is gone, the seed is free.
        assert [d.id for d in sdk.delete(lookalike.id).data] == [lookalike.id]
        assert [d.id for d in sdk.delete(seed.id).data] == [seed.id]

    def test_seed_and_its_lookalike_go_together(self, sdk: Sdk, names: Names) -> None:
        seed = sdk.create_one(segment(names("seed"), contact_list={}))
        lookalike = sdk.create_one(
            segment(names("lookalike"), lookalike=LookalikeCreateV1(seed_segment_id=seed.id))
        )

        response = sdk.delete(seed.id, lookalike.id)

        assert response.errors == []
        assert [d.id for d in response.data] == [seed.id, lookalike.id]
        assert sdk.search(segment_ids=[seed.id, lookalike.id]).meta.total_items == 0

    def test_same_id_twice_is_a_duplicate_item(self, sdk: Sdk, names: Names) -> None:
        created = sdk.create_one(segment(names("twice"), contact_list={}))

        response = sdk.delete(created.id, created.id)

        assert [d.id for d in response.data] == [created.id]
        assert wire_problems(response) == [("duplicate-item", "validation", {"id": "data/1/id"})]

    def test_behavioral_segment_cannot_be_deleted(self, sdk: Sdk) -> None:
        found = sdk.search(advertiser_ids=[ADVERTISER], types=["Behavioral"])
        (behavioral,) = found.data

        response = sdk.delete(behavioral.id)

        assert response.data == []
        assert wire_problems(response) == [
            ("segment-read-only", "authorization", {"id": "data/0/id"})
        ]
        assert sdk.find(behavioral.id).attributes.name == BEHAVIORAL_NAME
