"""Conformance of DeleteAudiences, audiences in use by ad sets, and segments in use by audiences."""

from __future__ import annotations

import pytest

from tests.conformance.conftest import (
    AD_SET,
    AUDIENCE_TYPE,
    OTHER_ADVERTISER,
    SECOND_AD_SET,
    Names,
    Sdk,
    audience,
    leaf,
    node,
    segment,
    wire_problems,
)

pytestmark = pytest.mark.conformance

DELETE_PATH = "/2025-01/marketing-solutions/audiences/delete"


class TestDeleteAudiences:
    def test_deletes_and_answers_the_ids(self, sdk: Sdk, names: Names) -> None:
        (used,) = sdk.contact_lists(names("segment"))
        first = sdk.create_audience(audience(names("first"), node(leaf(used))))
        second = sdk.create_audience(audience(names("second"), node(leaf(used))))

        response = sdk.delete_audiences(second.id, first.id)

        assert response.errors == []
        assert [(d.id, d.type) for d in response.data] == [
            (second.id, AUDIENCE_TYPE),
            (first.id, AUDIENCE_TYPE),
        ]
        gone = sdk.search_audiences(audience_ids=[first.id, second.id])
        assert gone.data == []
        assert gone.meta.total_items == 0

    def test_unknown_id_fails_only_its_item(self, sdk: Sdk, names: Names) -> None:
        (used,) = sdk.contact_lists(names("segment"))
        kept = sdk.create_audience(audience(names("deleted"), node(leaf(used))))

        response = sdk.delete_audiences("999999999", kept.id, "not-a-number")

        assert [d.id for d in response.data] == [kept.id]
        assert wire_problems(response) == [
            ("audience-not-found", "validation", {"id": "data/0/id"}),
            ("audience-not-found", "validation", {"id": "data/2/id"}),
        ]
        assert all(p.instance == DELETE_PATH and p.trace_id for p in response.errors)

    def test_deleted_audience_is_not_found_the_second_time(self, sdk: Sdk, names: Names) -> None:
        (used,) = sdk.contact_lists(names("segment"))
        created = sdk.create_audience(audience(names("once"), node(leaf(used))))
        sdk.delete_audiences(created.id)

        response = sdk.delete_audiences(created.id)

        assert response.data == []
        assert wire_problems(response) == [
            ("audience-not-found", "validation", {"id": "data/0/id"})
        ]

    def test_same_id_twice_is_a_duplicate_item(self, sdk: Sdk, names: Names) -> None:
        (used,) = sdk.contact_lists(names("segment"))
        created = sdk.create_audience(audience(names("twice"), node(leaf(used))))

        response = sdk.delete_audiences(created.id, created.id)

        assert [d.id for d in response.data] == [created.id]
        assert wire_problems(response) == [("duplicate-item", "validation", {"id": "data/1/id"})]

    def test_another_advertisers_audience_is_not_found(
        self, sdk: Sdk, other_sdk: Sdk, names: Names
    ) -> None:
        (used,) = sdk.contact_lists(names("segment"))
        mine = sdk.create_audience(audience(names("of 1001"), node(leaf(used))))

        response = other_sdk.delete_audiences(mine.id)

        assert response.data == []
        assert wire_problems(response) == [
            ("audience-not-found", "validation", {"id": "data/0/id"})
        ]
        assert sdk.find_audience(mine.id).attributes.name == mine.attributes.name

    def test_a_deleted_name_can_be_used_again_and_ids_are_not_reused(
        self, sdk: Sdk, names: Names
    ) -> None:
        (used,) = sdk.contact_lists(names("segment"))
        name = names("reused")
        old = sdk.create_audience(audience(name, node(leaf(used))))
        sdk.delete_audiences(old.id)

        new = sdk.create_audience(audience(name, node(leaf(used))))

        assert new.attributes.name == name
        assert int(new.id) > int(old.id)

    @pytest.mark.usefixtures("unlinked_ad_sets")
    def test_audience_linked_to_an_ad_set_is_in_use_until_unlinked(
        self, sdk: Sdk, names: Names
    ) -> None:
        (used,) = sdk.contact_lists(names("segment"))
        linked = sdk.create_audience(audience(names("linked"), node(leaf(used))))
        free = sdk.create_audience(audience(names("free"), node(leaf(used))))
        sdk.link(AD_SET, linked.id)
        sdk.link(SECOND_AD_SET, linked.id)

        refused = sdk.delete_audiences(linked.id, free.id)

        assert [d.id for d in refused.data] == [free.id]
        assert wire_problems(refused) == [("audience-in-use", "validation", {"id": "data/0/id"})]
        assert refused.errors[0].instance == DELETE_PATH
        assert sdk.find_audience(linked.id).attributes.ad_set_ids == [AD_SET, SECOND_AD_SET]

        sdk.link(AD_SET, None)
        still = sdk.delete_audiences(linked.id)
        assert wire_problems(still) == [("audience-in-use", "validation", {"id": "data/0/id"})]

        sdk.link(SECOND_AD_SET, None)
        deleted = sdk.delete_audiences(linked.id)
        assert deleted.errors == []
        assert [d.id for d in deleted.data] == [linked.id]
        assert sdk.search_audiences(audience_ids=[linked.id]).meta.total_items == 0


class TestSegmentsInUseByAudiences:
    def test_segment_used_anywhere_in_an_algebra_cannot_be_deleted(
        self, sdk: Sdk, names: Names
    ) -> None:
        a, b, c, unused = sdk.contact_lists(*(names(f"segment {n}") for n in range(4)))
        user = sdk.create_audience(
            audience(
                names("user"),
                node({"and": [leaf(a), {"not": {"or": [leaf(b), leaf(c)]}}]}),
            )
        )

        response = sdk.delete(a, b, unused, c)

        assert [d.id for d in response.data] == [unused]
        assert wire_problems(response) == [
            ("segment-in-use", "validation", {"id": "data/0/id"}),
            ("segment-in-use", "validation", {"id": "data/1/id"}),
            ("segment-in-use", "validation", {"id": "data/3/id"}),
        ]
        # The problem names the audience that holds the segment.
        assert all(user.id in p.detail for p in response.errors)
        assert [s.id for s in sdk.search(segment_ids=[a, b, c]).data] == [a, b, c]

    def test_segment_is_free_once_its_audiences_are_deleted(self, sdk: Sdk, names: Names) -> None:
        (used,) = sdk.contact_lists(names("segment"))
        first = sdk.create_audience(audience(names("first"), node(leaf(used))))
        second = sdk.create_audience(
            audience(names("second"), node({"or": [leaf(used), leaf(used)]}))
        )

        sdk.delete_audiences(first.id)
        assert wire_problems(sdk.delete(used)) == [
            ("segment-in-use", "validation", {"id": "data/0/id"})
        ]

        sdk.delete_audiences(second.id)
        deleted = sdk.delete(used)
        assert deleted.errors == []
        assert [d.id for d in deleted.data] == [used]

    def test_another_advertisers_segment_is_not_found_rather_than_in_use(
        self, sdk: Sdk, other_sdk: Sdk, names: Names
    ) -> None:
        theirs = other_sdk.create_one(
            segment(names("of 1002"), advertiser_id=OTHER_ADVERTISER, contact_list={})
        )
        other_sdk.create_audience(
            audience(names("of 1002"), node(leaf(theirs.id)), advertiser_id=OTHER_ADVERTISER)
        )

        # Advertiser 1001 sees neither the segment nor why it would be in use.
        response = sdk.delete(theirs.id)

        assert wire_problems(response) == [("segment-not-found", "validation", {"id": "data/0/id"})]
        assert wire_problems(other_sdk.delete(theirs.id)) == [
            ("segment-in-use", "validation", {"id": "data/0/id"})
        ]
