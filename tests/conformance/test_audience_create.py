"""Conformance of CreateAudiences: every algebra shape, read back exactly, and per-item errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from criteo_api_marketingsolutions_v2025_01.model.algebra_node_v1 import AlgebraNodeV1

from tests.conformance.conftest import (
    ADVERTISER,
    AUDIENCE_TYPE,
    OTHER_ADVERTISER,
    Ids,
    Names,
    Sdk,
    audience,
    is_utc,
    leaf,
    node,
    segment,
    wire_problems,
)

pytestmark = pytest.mark.conformance

CREATE_PATH = "/2025-01/marketing-solutions/audiences/create"
UNKNOWN_SEGMENT = "999999999"

# (label, the algebra as JSON, built from four segment ids of the test)
SHAPES: list[tuple[str, Callable[[Ids], dict[str, Any]]]] = [
    ("single-segment", lambda s: leaf(s[0])),
    ("and", lambda s: {"and": [leaf(s[0]), leaf(s[1])]}),
    ("or", lambda s: {"or": [leaf(s[0]), leaf(s[1]), leaf(s[2])]}),
    ("and-with-not", lambda s: {"and": [leaf(s[0]), {"not": leaf(s[1])}]}),
    ("and-of-one-term", lambda s: {"and": [leaf(s[0])]}),
    (
        "or-of-ands",
        lambda s: {"or": [{"and": [leaf(s[0]), leaf(s[1])]}, {"and": [leaf(s[2]), leaf(s[3])]}]},
    ),
    (
        "and-of-ors-with-not",
        lambda s: {
            "and": [
                {"or": [leaf(s[0]), leaf(s[1])]},
                {"or": [leaf(s[2]), leaf(s[0])]},
                {"not": leaf(s[3])},
            ]
        },
    ),
    ("not-of-an-or", lambda s: {"and": [leaf(s[0]), {"not": {"or": [leaf(s[1]), leaf(s[2])]}}]}),
    (
        "depth-3",
        lambda s: {
            "and": [
                {"or": [{"and": [leaf(s[0]), leaf(s[1])]}, leaf(s[2])]},
                {"not": leaf(s[3])},
            ]
        },
    ),
    (
        "depth-3-through-not",
        lambda s: {"and": [leaf(s[0]), {"not": {"and": [leaf(s[1]), leaf(s[2])]}}]},
    ),
    ("same-segment-twice", lambda s: {"or": [leaf(s[0]), leaf(s[0])]}),
]

# (label, an algebra that breaks a rule, code, path of the node below ``attributes/algebra``)
REFUSED: list[tuple[str, Callable[[Ids], dict[str, Any]], str, str]] = [
    (
        "depth-4",
        lambda s: {"and": [{"or": [{"and": [{"or": [leaf(s[0]), leaf(s[1])]}, leaf(s[2])]}]}]},
        "algebra-too-deep",
        "/and/0/or/0/and/0",
    ),
    (
        "depth-4-by-a-not",
        lambda s: {"and": [{"or": [{"and": [leaf(s[0]), {"not": leaf(s[1])}]}, leaf(s[2])]}]},
        "algebra-too-deep",
        "/and/0/or/0/and/1",
    ),
    ("root-not", lambda s: {"not": leaf(s[0])}, "algebra-misplaced-not", ""),
    (
        "not-in-an-or",
        lambda s: {"or": [leaf(s[0]), {"not": leaf(s[1])}]},
        "algebra-misplaced-not",
        "/or/1",
    ),
    (
        "not-of-a-not",
        lambda s: {"and": [leaf(s[0]), {"not": {"not": leaf(s[1])}}]},
        "algebra-misplaced-not",
        "/and/1/not",
    ),
    (
        "and-of-only-nots",
        lambda s: {"and": [{"not": leaf(s[0])}, {"not": leaf(s[1])}]},
        "algebra-no-positive-term",
        "",
    ),
    ("empty-and", lambda s: {"and": []}, "algebra-invalid-node", ""),
    ("empty-or", lambda s: {"and": [leaf(s[0]), {"or": []}]}, "algebra-invalid-node", "/and/1"),
    ("empty-node", lambda s: {}, "algebra-invalid-node", ""),
    (
        "two-members",
        lambda s: {"audienceSegmentId": s[0], "or": [leaf(s[1])]},
        "algebra-invalid-node",
        "",
    ),
    (
        "unknown-segment-deep",
        lambda s: {"and": [leaf(s[0]), {"not": {"or": [leaf(s[1]), leaf(UNKNOWN_SEGMENT)]}}]},
        "segment-not-found",
        "/and/1/not/or/1",
    ),
    ("malformed-segment-id", lambda s: leaf("abc"), "segment-not-found", ""),
]


def expected_attributes(name: str, algebra: dict[str, Any], **more: Any) -> dict[str, Any]:
    """What an audience of 1001 reads back as on the wire, timestamps left aside."""
    return {"advertiserId": ADVERTISER, "name": name, "algebra": algebra, "adSetIds": []} | more


def wire_attributes(sdk: Sdk, index: int = 0) -> dict[str, Any]:
    """Item ``index`` of the last answer, as it went over the wire, without the timestamps."""
    attributes: dict[str, Any] = dict(sdk.api_calls()[-1].body["data"][index]["attributes"])
    attributes.pop("createdAt")
    attributes.pop("updatedAt")
    return attributes


class TestCreateAudiences:
    @pytest.mark.parametrize("shape", [pytest.param(s, id=label) for label, s in SHAPES])
    def test_creates_each_algebra_shape_and_reads_it_back(
        self, sdk: Sdk, names: Names, four: Ids, shape: Callable[[Ids], dict[str, Any]]
    ) -> None:
        name = names("audience")
        algebra = shape(four)

        response = sdk.create_audiences(audience(name, node(algebra), description=f"About {name}"))

        assert response.errors == []
        assert response.warnings == []
        (created,) = response.data
        expected = expected_attributes(name, algebra, description=f"About {name}")
        assert wire_attributes(sdk) == expected
        assert created.type == AUDIENCE_TYPE
        assert created.id.isdigit()
        assert created.attributes.algebra.to_dict() == node(algebra).to_dict()
        assert created.attributes.ad_set_ids == []
        assert is_utc(created.attributes.created_at)
        assert created.attributes.created_at == created.attributes.updated_at

        found = sdk.find_audience(created.id)
        assert wire_attributes(sdk) == expected
        assert found.attributes.algebra.to_dict() == node(algebra).to_dict()
        assert found.attributes.created_at == created.attributes.created_at
        assert found.attributes.updated_at == created.attributes.updated_at

    def test_sdk_nodes_built_by_hand_go_over_the_wire_as_and_or_not(
        self, sdk: Sdk, names: Names, four: Ids
    ) -> None:
        a, b, c, d = four
        depth_3 = AlgebraNodeV1(
            _and=[
                AlgebraNodeV1(
                    _or=[
                        AlgebraNodeV1(
                            _and=[
                                AlgebraNodeV1(audience_segment_id=a),
                                AlgebraNodeV1(audience_segment_id=b),
                            ]
                        ),
                        AlgebraNodeV1(audience_segment_id=c),
                    ]
                ),
                AlgebraNodeV1(_not=AlgebraNodeV1(audience_segment_id=d)),
            ]
        )
        wire = {"and": [{"or": [{"and": [leaf(a), leaf(b)]}, leaf(c)]}, {"not": leaf(d)}]}

        created = sdk.create_audience(audience(names("by hand"), depth_3))

        assert sdk.api_calls()[-1].request_body["data"][0]["attributes"]["algebra"] == wire
        assert sdk.stored_algebra(created.id) == wire
        algebra = sdk.find_audience(created.id).attributes.algebra
        assert algebra._and[0]._or[0]._and[1].audience_segment_id == b
        assert algebra._and[1]._not.audience_segment_id == d

    def test_algebra_names_segments_by_their_canonical_id(
        self, sdk: Sdk, names: Names, four: Ids
    ) -> None:
        a, b, _, _ = four

        created = sdk.create_audience(
            audience(names("zero-padded"), node({"or": [leaf("0" + a), leaf("00" + b)]}))
        )

        assert sdk.stored_algebra(created.id) == {"or": [leaf(a), leaf(b)]}

    def test_description_is_optional(self, sdk: Sdk, names: Names, four: Ids) -> None:
        name = names("no description")

        created = sdk.create_audience(audience(name, node(leaf(four[0]))))

        assert wire_attributes(sdk) == expected_attributes(name, leaf(four[0]))
        assert created.attributes.get("description") is None

    def test_creates_several_audiences_in_request_order(
        self, sdk: Sdk, names: Names, four: Ids
    ) -> None:
        wanted = [names(f"bulk {n}") for n in range(4)]

        response = sdk.create_audiences(
            *(audience(name, node(leaf(four[i]))) for i, name in enumerate(wanted))
        )

        assert response.errors == []
        assert [a.attributes.name for a in response.data] == wanted
        assert [a.attributes.algebra.audience_segment_id for a in response.data] == four
        ids = [int(a.id) for a in response.data]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)

    @pytest.mark.parametrize(
        ("shape", "code", "path"),
        [pytest.param(shape, code, path, id=label) for label, shape, code, path in REFUSED],
    )
    def test_refuses_an_algebra_that_breaks_a_rule(
        self,
        sdk: Sdk,
        names: Names,
        four: Ids,
        shape: Callable[[Ids], dict[str, Any]],
        code: str,
        path: str,
    ) -> None:
        name = names("refused")

        response = sdk.create_audiences(audience(name, node(shape(four))))

        assert response.data == []
        assert wire_problems(response) == [
            (code, "validation", {"algebra": f"data/0/attributes/algebra{path}"})
        ]
        (problem,) = response.errors
        assert problem.instance == CREATE_PATH
        assert problem.trace_id and problem.title and problem.detail
        assert sdk.search_audiences(segment_ids=four).meta.total_items == 0

    def test_mixed_bulk_keeps_valid_items_and_reports_invalid_ones(
        self, sdk: Sdk, other_sdk: Sdk, names: Names, four: Ids
    ) -> None:
        a, b, c, _ = four
        theirs = other_sdk.create_one(
            segment(names("of 1002"), advertiser_id=OTHER_ADVERTISER, contact_list={})
        ).id
        first, last = names("valid first"), names("valid last")

        response = sdk.create_audiences(
            audience(first, node({"and": [leaf(a), {"not": leaf(b)}]})),
            audience(names("unknown"), node({"and": [leaf(UNKNOWN_SEGMENT), leaf(a)]})),
            audience(names("root not"), node({"not": leaf(a)})),
            audience(names("only nots"), node({"and": [{"not": leaf(a)}, {"not": leaf(b)}]})),
            audience(
                names("not in or"),
                node({"and": [leaf(a), {"or": [leaf(b), {"not": leaf(c)}]}]}),
            ),
            audience(first, node(leaf(c))),
            audience(names("theirs"), node(leaf(theirs))),
            audience(last, node({"or": [leaf(a), leaf(c)]})),
        )

        assert [x.attributes.name for x in response.data] == [first, last]
        assert wire_problems(response) == [
            ("segment-not-found", "validation", {"algebra": "data/1/attributes/algebra/and/0"}),
            ("algebra-misplaced-not", "validation", {"algebra": "data/2/attributes/algebra"}),
            ("algebra-no-positive-term", "validation", {"algebra": "data/3/attributes/algebra"}),
            (
                "algebra-misplaced-not",
                "validation",
                {"algebra": "data/4/attributes/algebra/and/1/or/1"},
            ),
            ("name-must-be-unique", "validation", {"name": "data/5/attributes/name"}),
            ("segment-not-found", "validation", {"algebra": "data/6/attributes/algebra"}),
        ]
        for problem in response.errors:
            assert problem.trace_id
            assert problem.instance == CREATE_PATH
            assert problem.title and problem.detail
        # Nothing of the refused items was stored.
        stored = {x.attributes.name for x in sdk.search_all_audiences(segment_ids=four)}
        assert stored == {first, last}

    def test_every_problem_of_one_item_is_reported(self, sdk: Sdk, names: Names, four: Ids) -> None:
        a, b, _, _ = four

        response = sdk.create_audiences(
            audience(
                names("two problems"),
                node({"or": [leaf(UNKNOWN_SEGMENT), {"not": leaf(a)}, leaf(b)]}),
            )
        )

        assert response.data == []
        assert wire_problems(response) == [
            ("segment-not-found", "validation", {"algebra": "data/0/attributes/algebra/or/0"}),
            ("algebra-misplaced-not", "validation", {"algebra": "data/0/attributes/algebra/or/1"}),
        ]

    def test_segment_of_another_advertiser_is_not_found_even_when_reachable(
        self, agency_sdk: Sdk, names: Names
    ) -> None:
        (mine,) = agency_sdk.contact_lists(names("of 1001"))
        theirs = agency_sdk.create_one(
            segment(names("of 1002"), advertiser_id=OTHER_ADVERTISER, contact_list={})
        ).id

        response = agency_sdk.create_audiences(
            audience(names("mixed advertisers"), node({"and": [leaf(mine), leaf(theirs)]}))
        )

        assert response.data == []
        assert wire_problems(response) == [
            ("segment-not-found", "validation", {"algebra": "data/0/attributes/algebra/and/1"})
        ]

    def test_name_is_unique_per_advertiser(
        self, sdk: Sdk, agency_sdk: Sdk, names: Names, four: Ids
    ) -> None:
        taken = sdk.create_audience(audience(names("taken"), node(leaf(four[0])))).attributes.name
        (theirs,) = agency_sdk.create(
            segment(names("of 1002"), advertiser_id=OTHER_ADVERTISER, contact_list={})
        ).data

        again = sdk.create_audiences(audience(taken, node(leaf(four[1]))))
        elsewhere = agency_sdk.create_audiences(
            audience(taken, node(leaf(theirs.id)), advertiser_id=OTHER_ADVERTISER)
        )

        assert again.data == []
        assert wire_problems(again) == [
            ("name-must-be-unique", "validation", {"name": "data/0/attributes/name"})
        ]
        assert elsewhere.errors == []
        assert [x.attributes.advertiser_id for x in elsewhere.data] == [OTHER_ADVERTISER]

    def test_an_audience_may_share_its_name_with_a_segment(
        self, sdk: Sdk, names: Names, four: Ids
    ) -> None:
        name = names("shared")
        sdk.contact_lists(name)

        created = sdk.create_audience(audience(name, node(leaf(four[0]))))

        assert created.attributes.name == name

    def test_blank_name_is_refused(self, sdk: Sdk, names: Names, four: Ids) -> None:
        # The SDK itself insists on advertiserId, name and algebra; a blank name gets through it.
        response = sdk.create_audiences(audience("   ", node(leaf(four[0]))))

        assert response.data == []
        assert wire_problems(response) == [
            ("name-must-not-be-empty", "validation", {"name": "data/0/attributes/name"})
        ]

    def test_advertiser_not_granted_fails_only_its_item(
        self, sdk: Sdk, names: Names, four: Ids
    ) -> None:
        kept = names("kept")

        response = sdk.create_audiences(
            audience(names("elsewhere"), node(leaf(four[0])), advertiser_id=OTHER_ADVERTISER),
            audience(kept, node(leaf(four[0]))),
        )

        assert [x.attributes.name for x in response.data] == [kept]
        assert wire_problems(response) == [
            (
                "advertiser-access-denied",
                "access-control",
                {"advertiserId": "data/0/attributes/advertiserId"},
            )
        ]
