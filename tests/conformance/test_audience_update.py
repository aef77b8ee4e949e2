"""Conformance of UpdateAudiences: renames, Nillable descriptions, algebras checked anew, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from criteo_api_marketingsolutions_v2025_01.model.nillable_string import NillableString

from tests.conformance.conftest import (
    AD_SET,
    OTHER_ADVERTISER,
    Ids,
    Names,
    Sdk,
    audience,
    audience_changes,
    leaf,
    node,
    segment,
    wire_problems,
)

pytestmark = pytest.mark.conformance

UPDATE_PATH = "/2025-01/marketing-solutions/audiences"
UNKNOWN = "999999999"


def stored(sdk: Sdk, audience_id: str) -> dict[str, Any]:
    """Everything search shows of one audience, as it went over the wire."""
    sdk.find_audience(audience_id)
    attributes: dict[str, Any] = sdk.api_calls()[-1].body["data"][0]["attributes"]
    return attributes


def sent_attributes(sdk: Sdk, index: int = 0) -> dict[str, Any]:
    """The JSON attributes of item ``index`` of the last update the SDK sent."""
    update = [e for e in sdk.api_calls() if e.method == "PATCH" and e.path == UPDATE_PATH][-1]
    attributes: dict[str, Any] = update.request_body["data"][index]["attributes"]
    return attributes


# (label, an algebra that breaks a rule, code, path of the node below ``attributes/algebra``)
INVALID: list[tuple[str, Callable[[Ids, str], dict[str, Any]], str, str]] = [
    (
        "too-deep",
        lambda s, _: {"or": [{"and": [{"or": [{"and": [leaf(s[0]), leaf(s[1])]}]}]}]},
        "algebra-too-deep",
        "/or/0/and/0/or/0",
    ),
    ("root-not", lambda s, _: {"not": leaf(s[1])}, "algebra-misplaced-not", ""),
    (
        "not-in-an-or",
        lambda s, _: {"and": [leaf(s[0]), {"or": [{"not": leaf(s[1])}, leaf(s[2])]}]},
        "algebra-misplaced-not",
        "/and/1/or/0",
    ),
    (
        "only-nots",
        lambda s, _: {"and": [{"not": leaf(s[0])}]},
        "algebra-no-positive-term",
        "",
    ),
    ("empty-or", lambda s, _: {"or": []}, "algebra-invalid-node", ""),
    (
        "unknown-segment",
        lambda s, _: {"and": [leaf(s[0]), leaf(UNKNOWN)]},
        "segment-not-found",
        "/and/1",
    ),
    (
        "segment-of-another-advertiser",
        lambda s, theirs: {"or": [leaf(s[2]), leaf(theirs)]},
        "segment-not-found",
        "/or/1",
    ),
]


class TestUpdateAudiences:
    def test_renames_and_keeps_everything_else(self, sdk: Sdk, names: Names, four: Ids) -> None:
        algebra = {"and": [leaf(four[0]), {"not": leaf(four[1])}]}
        created = sdk.create_audience(audience(names("before"), node(algebra), description="kept"))
        before = stored(sdk, created.id)
        renamed = names("after")

        response = sdk.update_audiences((created.id, audience_changes(name=renamed)))

        assert response.errors == []
        assert [a.id for a in response.data] == [created.id]
        assert sent_attributes(sdk) == {"name": renamed}
        after = stored(sdk, created.id)
        assert after["name"] == renamed
        assert after["description"] == "kept"
        assert after["algebra"] == algebra
        assert after["createdAt"] == before["createdAt"]
        assert after["updatedAt"] >= before["updatedAt"]
        assert response.data[0].attributes.name == renamed
        assert response.data[0].attributes.algebra.to_dict() == node(algebra).to_dict()

    def test_description_is_set_then_cleared_with_a_nillable_string(
        self, sdk: Sdk, names: Names, four: Ids
    ) -> None:
        created = sdk.create_audience(audience(names("described"), node(leaf(four[0]))))

        sdk.update_audiences(
            (created.id, audience_changes(description=NillableString(value="set")))
        )
        assert sent_attributes(sdk) == {"description": {"value": "set"}}
        assert stored(sdk, created.id)["description"] == "set"

        sdk.update_audiences((created.id, audience_changes(name=names("renamed"))))
        assert stored(sdk, created.id)["description"] == "set"

        response = sdk.update_audiences(
            (created.id, audience_changes(description=NillableString(value=None)))
        )
        assert sent_attributes(sdk) == {"description": {"value": None}}
        assert response.errors == []
        assert "description" not in stored(sdk, created.id)
        assert sdk.find_audience(created.id).attributes.get("description") is None

    def test_update_that_changes_nothing_keeps_updated_at(
        self, sdk: Sdk, names: Names, four: Ids
    ) -> None:
        name = names("same")
        algebra = {"or": [leaf(four[0]), leaf(four[1])]}
        created = sdk.create_audience(audience(name, node(algebra), description="same"))

        response = sdk.update_audiences(
            (
                created.id,
                audience_changes(
                    name=name, description=NillableString(value="same"), algebra=node(algebra)
                ),
            )
        )

        assert response.errors == []
        assert response.data[0].attributes.updated_at == created.attributes.updated_at
        assert sdk.find_audience(created.id).attributes.updated_at == (
            created.attributes.updated_at
        )

    def test_replaces_the_algebra_and_its_segment_links(
        self, sdk: Sdk, names: Names, four: Ids
    ) -> None:
        a, b, c, d = four
        created = sdk.create_audience(
            audience(names("replaced"), node({"and": [leaf(a), {"not": leaf(b)}]}))
        )
        new = {"and": [{"or": [{"and": [leaf(c), leaf(a)]}, leaf(c)]}, {"not": leaf(d)}]}

        response = sdk.update_audiences((created.id, audience_changes(algebra=node(new))))

        assert response.errors == []
        assert sent_attributes(sdk) == {"algebra": new}
        assert response.data[0].attributes.algebra.to_dict() == node(new).to_dict()
        assert sdk.stored_algebra(created.id) == new
        # Search by segment follows the new algebra, a segment under a `not` included.
        for segment_id, expected in ((a, [created.id]), (b, []), (c, [created.id])):
            found = sdk.search_audiences(segment_ids=[segment_id])
            assert [x.id for x in found.data] == expected, segment_id
        assert [x.id for x in sdk.search_audiences(segment_ids=[d]).data] == [created.id]
        # The segment the audience no longer uses is free again; the new ones are in use.
        assert [x.id for x in sdk.delete(b).data] == [b]
        assert wire_problems(sdk.delete(d)) == [
            ("segment-in-use", "validation", {"id": "data/0/id"})
        ]

    @pytest.mark.parametrize(
        ("shape", "code", "path"),
        [pytest.param(shape, code, path, id=label) for label, shape, code, path in INVALID],
    )
    def test_invalid_new_algebra_leaves_the_stored_audience_unchanged(
        self,
        sdk: Sdk,
        agency_sdk: Sdk,
        names: Names,
        four: Ids,
        shape: Callable[[Ids, str], dict[str, Any]],
        code: str,
        path: str,
    ) -> None:
        theirs = agency_sdk.create_one(
            segment(names("of 1002"), advertiser_id=OTHER_ADVERTISER, contact_list={})
        ).id
        created = sdk.create_audience(
            audience(names("kept"), node({"and": [leaf(four[0]), {"not": leaf(four[3])}]}))
        )
        before = stored(sdk, created.id)

        # Sent by a client that reaches both advertisers: the rule, not reach, refuses it.
        response = agency_sdk.update_audiences(
            (
                created.id,
                audience_changes(name=names("not applied"), algebra=node(shape(four, theirs))),
            )
        )

        assert response.data == []
        assert wire_problems(response) == [
            (code, "validation", {"algebra": f"data/0/attributes/algebra{path}"})
        ]
        assert response.errors[0].instance == UPDATE_PATH
        assert stored(sdk, created.id) == before
        # The segment links stay those of the stored algebra: search and delete both tell.
        assert sdk.search_audiences(segment_ids=[four[1], four[2]]).meta.total_items == 0
        assert wire_problems(sdk.delete(four[3])) == [
            ("segment-in-use", "validation", {"id": "data/0/id"})
        ]

    def test_mixed_bulk_applies_valid_items_only(
        self, sdk: Sdk, other_sdk: Sdk, names: Names, four: Ids
    ) -> None:
        first = sdk.create_audience(audience(names("first"), node(leaf(four[0]))))
        second = sdk.create_audience(audience(names("second"), node(leaf(four[1]))))
        third = sdk.create_audience(audience(names("third"), node(leaf(four[2]))))
        (theirs_segment,) = other_sdk.create(
            segment(names("of 1002"), advertiser_id=OTHER_ADVERTISER, contact_list={})
        ).data
        theirs = other_sdk.create_audience(
            audience(
                names("of 1002"), node(leaf(theirs_segment.id)), advertiser_id=OTHER_ADVERTISER
            )
        )
        renamed = names("first renamed")

        response = sdk.update_audiences(
            (first.id, audience_changes(name=renamed)),
            (UNKNOWN, audience_changes(name=names("ghost"))),
            (second.id, audience_changes(name=third.attributes.name)),
            (first.id, audience_changes(description=NillableString(value="twice"))),
            (theirs.id, audience_changes(name=names("hijacked"))),
            ("not-a-number", audience_changes(name=names("malformed"))),
            (third.id, audience_changes(algebra=node({"not": leaf(four[2])}))),
        )

        assert [a.id for a in response.data] == [first.id]
        assert wire_problems(response) == [
            ("audience-not-found", "validation", {"id": "data/1/id"}),
            ("name-must-be-unique", "validation", {"name": "data/2/attributes/name"}),
            ("duplicate-item", "validation", {"id": "data/3/id"}),
            ("audience-not-found", "validation", {"id": "data/4/id"}),
            ("audience-not-found", "validation", {"id": "data/5/id"}),
            ("algebra-misplaced-not", "validation", {"algebra": "data/6/attributes/algebra"}),
        ]
        assert stored(sdk, first.id)["name"] == renamed
        assert "description" not in stored(sdk, first.id)
        assert stored(sdk, second.id)["name"] == second.attributes.name
        assert stored(sdk, third.id)["algebra"] == leaf(four[2])
        assert other_sdk.find_audience(theirs.id).attributes.name == theirs.attributes.name

    def test_blank_name_is_refused(self, sdk: Sdk, names: Names, four: Ids) -> None:
        created = sdk.create_audience(audience(names("named"), node(leaf(four[0]))))

        response = sdk.update_audiences((created.id, audience_changes(name=" ")))

        assert response.data == []
        assert wire_problems(response) == [
            ("name-must-not-be-empty", "validation", {"name": "data/0/attributes/name"})
        ]
        assert stored(sdk, created.id)["name"] == created.attributes.name

    @pytest.mark.usefixtures("unlinked_ad_sets")
    def test_answer_shows_the_linked_ad_sets(self, sdk: Sdk, names: Names, four: Ids) -> None:
        created = sdk.create_audience(audience(names("linked"), node(leaf(four[0]))))
        sdk.link(AD_SET, created.id)

        response = sdk.update_audiences((created.id, audience_changes(name=names("renamed"))))

        assert response.data[0].attributes.ad_set_ids == [AD_SET]
