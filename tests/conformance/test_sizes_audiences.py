"""Conformance of ComputeAudiencesSizes and EstimateAudiencesSizes.

Audiences are created through the official SDK over segments of several kinds; the size of an
algebra must equal the same set algebra computed over the oracle's members of its segments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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

from tests.builders import Credentials
from tests.conformance.conftest import (
    ADVERTISER,
    AUDIENCE_TYPE,
    OTHER_ADVERTISER,
    SIZED_BEHAVIORAL,
    Names,
    Sdk,
    SizedServer,
    audience,
    audience_changes,
    leaf,
    node,
    problem_body,
    segment,
    wire_problems,
)
from tests.conformance.waiting import eventually, warning_codes
from tests.engine.oracle import Oracle

pytestmark = pytest.mark.conformance

ADVERTISER_NUMBER = int(ADVERTISER)
AUDIENCES = "/2025-01/marketing-solutions/audiences"
PARIS = (48.8566, 2.3522)


@dataclass(frozen=True)
class Segments:
    """Five segments of advertiser 1001, fresh for the test, and the oracle's members of each."""

    ids: dict[str, str]
    members: dict[str, set[str]]

    def leaf(self, label: str) -> dict[str, str]:
        return leaf(self.ids[label])


@pytest.fixture
def segments(sizer: Sdk, names: Names, oracle: Oracle) -> Segments:
    fields: dict[str, Any] = {
        "visitors": {
            "retargeting": RetargetingCreateV1(
                visitors_type="All", days_since_last_visit_min=0, days_since_last_visit_max=30
            )
        },
        "buyers": {
            "retargeting": RetargetingCreateV1(
                visitors_type="Buyers", days_since_last_visit_min=0, days_since_last_visit_max=30
            )
        },
        "prospects": {"prospecting": ProspectingCreateV1(users_type="Prospects")},
        "market": {"in_market": InMarketCreateV1(country="FR", interest_ids=["166"])},
        "near": {
            "location": LocationCreateV1(
                points_of_interest=[PointOfInterestV1(latitude=PARIS[0], longitude=PARIS[1])],
                radius_in_km=50,
            )
        },
    }
    created = sizer.create(*(segment(names(label), **f) for label, f in fields.items()))
    assert created.errors == []
    members = {
        "visitors": oracle.retargeting(ADVERTISER_NUMBER, "All", 0, 30),
        "buyers": oracle.retargeting(ADVERTISER_NUMBER, "Buyers", 0, 30),
        "prospects": oracle.prospecting(ADVERTISER_NUMBER, "Prospects", None, None),
        "market": oracle.in_market("FR", interest_ids=["166"]),
        "near": oracle.location([PARIS], 50),
    }
    assert all(members.values()), {k: len(v) for k, v in members.items()}
    return Segments(dict(zip(fields, (s.id for s in created.data), strict=True)), members)


# (label, the algebra over segment labels, its members as set algebra over the oracle's sets)
ALGEBRAS: list[tuple[str, Callable[[Segments], dict[str, Any]], Callable[[Segments], set[str]]]] = [
    ("one-segment", lambda s: s.leaf("market"), lambda s: s.members["market"]),
    (
        "and",
        lambda s: {"and": [s.leaf("visitors"), s.leaf("market")]},
        lambda s: s.members["visitors"] & s.members["market"],
    ),
    (
        "or",
        lambda s: {"or": [s.leaf("near"), s.leaf("buyers"), s.leaf("market")]},
        lambda s: s.members["near"] | s.members["buyers"] | s.members["market"],
    ),
    (
        "and-not",
        lambda s: {"and": [s.leaf("visitors"), {"not": s.leaf("buyers")}]},
        lambda s: s.members["visitors"] - s.members["buyers"],
    ),
    (
        "or-and-not",
        lambda s: {
            "and": [
                {"or": [s.leaf("visitors"), s.leaf("market")]},
                {"not": s.leaf("buyers")},
                {"not": s.leaf("near")},
            ]
        },
        lambda s: (
            (s.members["visitors"] | s.members["market"]) - s.members["buyers"] - s.members["near"]
        ),
    ),
    (
        "three-deep",
        lambda s: {
            "and": [
                {"or": [{"and": [s.leaf("prospects"), s.leaf("market")]}, s.leaf("near")]},
                {"not": s.leaf("visitors")},
            ]
        },
        lambda s: (
            ((s.members["prospects"] & s.members["market"]) | s.members["near"])
            - s.members["visitors"]
        ),
    ),
    (
        "or-of-ands",
        lambda s: {
            "or": [
                {"and": [s.leaf("visitors"), s.leaf("near")]},
                {"and": [s.leaf("prospects"), {"not": s.leaf("market")}]},
            ]
        },
        lambda s: (
            (s.members["visitors"] & s.members["near"])
            | (s.members["prospects"] - s.members["market"])
        ),
    ),
]


class TestComputeAudiencesSizes:
    def test_sizes_are_the_set_algebra_of_the_oracle(
        self, sizer: Sdk, names: Names, segments: Segments, oracle: Oracle
    ) -> None:
        created = sizer.create_audiences(
            *(audience(names(label), node(algebra(segments))) for label, algebra, _ in ALGEBRAS)
        )
        assert created.errors == []
        ids = [a.id for a in created.data]

        response = sizer.audience_sizes(*ids)

        expected = [len(members(segments)) for _, _, members in ALGEBRAS]
        assert all(size > 0 for size in expected), expected  # no vacuous comparison
        assert response.errors == []
        assert {a.type for a in response.data} == {AUDIENCE_TYPE}
        assert [(a.id, a.attributes.size) for a in response.data] == list(
            zip(ids, expected, strict=True)
        )
        exchange = sizer.api_calls()[-1]
        assert exchange.headers["x-reach-index-as-of"] == oracle.as_of.isoformat()
        assert [w.code for w in response.warnings] == ["size-privacy-exact", "index-stale"]

    def test_unknown_and_foreign_audiences_are_per_item_problems(
        self,
        sizer: Sdk,
        sized_server: SizedServer,
        sized_connect: Callable[[Credentials], Sdk],
        names: Names,
        segments: Segments,
    ) -> None:
        mine = sizer.create_audience(audience(names("mine"), node(segments.leaf("visitors"))))
        other = sized_connect(sized_server.other)

        own = sizer.audience_sizes("999999999", mine.id)
        foreign = other.audience_sizes(mine.id)

        assert [(a.id, a.attributes.size) for a in own.data] == [
            (mine.id, len(segments.members["visitors"]))
        ]
        assert wire_problems(own) == [("audience-not-found", "validation", {"id": "data/0/id"})]
        assert foreign.data == []
        assert wire_problems(foreign) == [("audience-not-found", "validation", {"id": "data/0/id"})]

    def test_an_audience_of_another_managed_advertiser(
        self, sizer: Sdk, names: Names, oracle: Oracle
    ) -> None:
        theirs = sizer.create_one(
            segment(
                names("1002 buyers"),
                advertiser_id=OTHER_ADVERTISER,
                retargeting=RetargetingCreateV1(
                    visitors_type="NonBuyers",
                    days_since_last_visit_min=0,
                    days_since_last_visit_max=40,
                ),
            )
        )
        created = sizer.create_audience(
            audience(names("1002"), node(leaf(theirs.id)), advertiser_id=OTHER_ADVERTISER)
        )

        response = sizer.audience_sizes(created.id)

        expected = len(oracle.retargeting(int(OTHER_ADVERTISER), "NonBuyers", 0, 40))
        assert [(a.id, a.attributes.size) for a in response.data] == [(created.id, expected)]

    def test_a_contact_list_adds_no_member_yet(
        self, sizer: Sdk, names: Names, segments: Segments
    ) -> None:
        [crm] = sizer.contact_lists(names("crm"))
        both, either, unless = (
            sizer.create_audience(audience(names(label), node(algebra))).id
            for label, algebra in (
                ("and", {"and": [segments.leaf("visitors"), leaf(crm)]}),
                ("or", {"or": [segments.leaf("visitors"), leaf(crm)]}),
                ("not", {"and": [segments.leaf("visitors"), {"not": leaf(crm)}]}),
            )
        )

        response = sizer.audience_sizes(both, either, unless)

        visitors = len(segments.members["visitors"])
        assert [(a.id, a.attributes.size) for a in response.data] == [
            (both, 0),
            (either, visitors),
            (unless, visitors),
        ]

    def test_an_audience_with_a_lookalike_is_sized_once_the_lookalike_is(
        self, sizer: Sdk, names: Names, segments: Segments
    ) -> None:
        look = sizer.create_one(
            segment(
                names("lookalike"),
                lookalike=LookalikeCreateV1(
                    seed_segment_id=segments.ids["visitors"], target_size=120
                ),
            )
        )
        plain = sizer.create_audience(audience(names("plain"), node(segments.leaf("buyers"))))
        either = {"or": [segments.leaf("visitors"), leaf(look.id)]}
        with_look = sizer.create_audience(audience(names("with lookalike"), node(either)))

        first = sizer.audience_sizes(with_look.id, plain.id)
        assert [a.id for a in first.data] == [with_look.id, plain.id]
        if first.data[0].attributes.size is None:
            assert "lookalike-computing" in warning_codes(first)
        response = eventually(
            lambda: sizer.audience_sizes(with_look.id, plain.id),
            lambda answer: answer.data[0].attributes.size is not None,
        )

        # The lookalike holds none of its seed's members: the two add up.
        assert [(a.id, a.attributes.size) for a in response.data] == [
            (with_look.id, len(segments.members["visitors"]) + 120),
            (plain.id, len(segments.members["buyers"])),
        ]
        assert response.errors == []
        assert warning_codes(response) == []

    def test_a_behavioral_segment_in_an_algebra(
        self, sizer: Sdk, names: Names, segments: Segments, oracle: Oracle
    ) -> None:
        name, category, country = SIZED_BEHAVIORAL
        [behavioral] = [
            s.id
            for s in sizer.search_all(advertiser_ids=[ADVERTISER], types=["Behavioral"])
            if s.attributes.name == name
        ]
        algebra = {"or": [leaf(behavioral), {"and": [segments.leaf("near"), leaf(behavioral)]}]}
        both = {"and": [leaf(behavioral), segments.leaf("visitors")]}
        created = sizer.create_audiences(
            audience(names("behavioral"), node(algebra)), audience(names("both"), node(both))
        )
        assert created.errors == []

        response = sizer.audience_sizes(*(a.id for a in created.data))

        members = oracle.behavioral(category, country)
        assert [a.attributes.size for a in response.data] == [
            len(members),
            len(members & segments.members["visitors"]),
        ]
        assert len(members & segments.members["visitors"]) > 0

    def test_the_size_follows_a_new_algebra(
        self, sizer: Sdk, names: Names, segments: Segments
    ) -> None:
        created = sizer.create_audience(audience(names("changing"), node(segments.leaf("near"))))
        before = sizer.audience_sizes(created.id)
        updated = sizer.update_audiences(
            (
                created.id,
                audience_changes(
                    algebra=node({"and": [segments.leaf("near"), {"not": segments.leaf("market")}]})
                ),
            )
        )
        assert updated.errors == []

        after = sizer.audience_sizes(created.id)

        assert before.data[0].attributes.size == len(segments.members["near"])
        assert after.data[0].attributes.size == len(
            segments.members["near"] - segments.members["market"]
        )


class TestEstimateAudiencesSizes:
    @pytest.mark.parametrize(
        ("algebra", "members"),
        [pytest.param(algebra, members, id=label) for label, algebra, members in ALGEBRAS],
    )
    def test_an_estimate_is_the_set_algebra_of_the_oracle(
        self,
        sizer: Sdk,
        segments: Segments,
        oracle: Oracle,
        algebra: Callable[[Segments], dict[str, Any]],
        members: Callable[[Segments], set[str]],
    ) -> None:
        response = sizer.estimate_audience_size(node(algebra(segments)))

        assert response.data.type == "AudienceSizeEstimation"
        assert response.data.attributes.size == len(members(segments))
        exchange = sizer.api_calls()[-1]
        assert exchange.headers["x-reach-index-as-of"] == oracle.as_of.isoformat()
        assert [w.code for w in response.warnings] == ["size-privacy-exact", "index-stale"]

    def test_an_estimate_is_the_size_of_the_audience_it_describes(
        self, sizer: Sdk, names: Names, segments: Segments
    ) -> None:
        _, algebra, _ = ALGEBRAS[4]
        created = sizer.create_audience(audience(names("described"), node(algebra(segments))))

        estimate = sizer.estimate_audience_size(node(algebra(segments)))
        computed = sizer.audience_sizes(created.id)

        assert computed.data[0].attributes.size == estimate.data.attributes.size

    @pytest.mark.parametrize(
        ("algebra", "code", "source"),
        [
            pytest.param(
                lambda s: {"not": s.leaf("visitors")},
                "algebra-misplaced-not",
                {"algebra": "data/attributes/algebra"},
                id="not-at-the-root",
            ),
            pytest.param(
                lambda s: {"and": [{"not": s.leaf("visitors")}]},
                "algebra-no-positive-term",
                {"algebra": "data/attributes/algebra"},
                id="only-not",
            ),
            pytest.param(
                lambda s: {"or": [s.leaf("near"), {"not": s.leaf("visitors")}]},
                "algebra-misplaced-not",
                {"algebra": "data/attributes/algebra/or/1"},
                id="not-in-an-or",
            ),
            pytest.param(
                lambda s: {"and": [s.leaf("near"), leaf("999999999")]},
                "segment-not-found",
                {"algebra": "data/attributes/algebra/and/1"},
                id="unknown-segment",
            ),
        ],
    )
    def test_an_algebra_without_a_definite_size_is_refused(
        self,
        sizer: Sdk,
        segments: Segments,
        algebra: Callable[[Segments], dict[str, Any]],
        code: str,
        source: dict[str, str],
    ) -> None:
        with pytest.raises(ApiException) as raised:
            sizer.estimate_audience_size(node(algebra(segments)))

        assert raised.value.status == 400
        [problem] = problem_body(raised.value)["errors"]
        assert (problem["code"], problem["type"], problem["source"]) == (
            code,
            "validation",
            source,
        )
        assert problem["instance"] == f"{AUDIENCES}/estimate-size"

    def test_an_algebra_with_a_lookalike_is_estimated_once_the_lookalike_is_built(
        self, sizer: Sdk, names: Names, segments: Segments
    ) -> None:
        look = sizer.create_one(
            segment(
                names("lookalike"),
                lookalike=LookalikeCreateV1(
                    seed_segment_id=segments.ids["visitors"], target_size=110
                ),
            )
        )
        algebra = node({"and": [segments.leaf("visitors"), leaf(look.id)]})

        first = sizer.estimate_audience_size(algebra)
        if first.data.attributes.size is None:
            assert "lookalike-computing" in warning_codes(first)
        response = eventually(
            lambda: sizer.estimate_audience_size(algebra),
            lambda answer: answer.data.attributes.size is not None,
        )

        # Seed and lookalike never share a user.
        assert response.data.attributes.size == 0

    def test_a_segment_of_another_advertiser_is_not_found(
        self,
        sizer: Sdk,
        sized_server: SizedServer,
        sized_connect: Callable[[Credentials], Sdk],
        segments: Segments,
    ) -> None:
        other = sized_connect(sized_server.other)

        with pytest.raises(ApiException) as raised:
            other.estimate_audience_size(
                node(segments.leaf("visitors")), advertiser_id=OTHER_ADVERTISER
            )

        assert raised.value.status == 400
        [problem] = problem_body(raised.value)["errors"]
        assert problem["code"] == "segment-not-found"
