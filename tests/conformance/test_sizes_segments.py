"""Conformance of ComputeAudienceSegmentsSizes and EstimateAudienceSegmentsSizes.

Segments are created through the official SDK on a server whose index was built with the
``reach`` command line from a demo data set; every size it answers must equal the count of the
independent oracle (plain SQL over the same raw files, ``tests/engine/oracle.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
from criteo_api_marketingsolutions_v2025_01.exceptions import ApiException
from criteo_api_marketingsolutions_v2025_01.model.in_market_create_v1 import InMarketCreateV1
from criteo_api_marketingsolutions_v2025_01.model.in_market_size_estimation_v1 import (
    InMarketSizeEstimationV1,
)
from criteo_api_marketingsolutions_v2025_01.model.location_create_v1 import LocationCreateV1
from criteo_api_marketingsolutions_v2025_01.model.location_size_estimation_v1 import (
    LocationSizeEstimationV1,
)
from criteo_api_marketingsolutions_v2025_01.model.lookalike_create_v1 import LookalikeCreateV1
from criteo_api_marketingsolutions_v2025_01.model.point_of_interest_v1 import PointOfInterestV1
from criteo_api_marketingsolutions_v2025_01.model.prospecting_create_v1 import (
    ProspectingCreateV1,
)
from criteo_api_marketingsolutions_v2025_01.model.retargeting_create_v1 import (
    RetargetingCreateV1,
)
from criteo_api_marketingsolutions_v2025_01.model.retargeting_update_v1 import (
    RetargetingUpdateV1,
)

from tests.builders import Credentials
from tests.conformance.conftest import (
    ADVERTISER,
    DEMO_END_DATE,
    OTHER_ADVERTISER,
    RESOURCE_TYPE,
    SIZED_BEHAVIORAL,
    Names,
    Sdk,
    SizedServer,
    changes,
    leaf,
    node,
    problem_body,
    segment,
    wire_problems,
)
from tests.conformance.waiting import eventually, warning_codes
from tests.engine.oracle import Oracle
from tests.server import reach

pytestmark = pytest.mark.conformance

ADVERTISER_NUMBER = int(ADVERTISER)
SEGMENTS = "/2025-01/marketing-solutions/audience-segments"
PARIS = (48.8566, 2.3522)
# More than 5 decimals: Reach stores (and measures from) the point rounded to 5.
LYON = (45.764043, 4.835659)
LYON_STORED = (45.76404, 4.83566)


def retargeting(low: int, high: int, visitors: str = "All") -> Any:
    return RetargetingCreateV1(
        visitors_type=visitors, days_since_last_visit_min=low, days_since_last_visit_max=high
    )


def poi(point: tuple[float, float], name: str | None = None) -> Any:
    fields: dict[str, Any] = {"latitude": point[0], "longitude": point[1]}
    if name is not None:
        fields["name"] = name
    return PointOfInterestV1(**fields)


def sizes_of(response: Any) -> list[tuple[str, int | None]]:
    """The (id, size) of each answered item, in the order of the answer."""
    return [(r.id, r.attributes.size) for r in response.data]


def assert_states_its_data(sdk: Sdk, response: Any, oracle: Oracle) -> None:
    """A size answer says which data it comes from: the index's as-of day (and build time) in
    headers, and - the demo data ending on a fixed past day - a warning that it is old."""
    exchange = sdk.api_calls()[-1]
    assert exchange.status == 200
    assert exchange.headers["x-reach-index-as-of"] == oracle.as_of.isoformat()
    assert datetime.fromisoformat(exchange.headers["x-reach-index-built-at"]).tzinfo is not None
    # The sized server answers exact sizes and says so (docs/privacy.md).
    assert [(w.code, w.type) for w in response.warnings] == [
        ("size-privacy-exact", "validation"),
        ("index-stale", "availability"),
    ]
    assert oracle.as_of.isoformat() in response.warnings[1].detail


def test_the_demo_data_ends_on_the_day_it_was_asked_to(oracle: Oracle) -> None:
    """The as-of day every window counts back from is the last day of the demo data."""
    assert oracle.as_of == date.fromisoformat(DEMO_END_DATE)


class TestComputeAudienceSegmentsSizes:
    def test_every_creatable_kind_matches_the_oracle(
        self, sizer: Sdk, names: Names, oracle: Oracle
    ) -> None:
        # (SDK fields of the segment, the oracle's members)
        cases: list[tuple[dict[str, Any], Callable[[], set[str]]]] = [
            (
                {"retargeting": retargeting(0, 14)},
                lambda: oracle.retargeting(ADVERTISER_NUMBER, "All", 0, 14),
            ),
            (
                {"retargeting": retargeting(0, 30, "Buyers")},
                lambda: oracle.retargeting(ADVERTISER_NUMBER, "Buyers", 0, 30),
            ),
            (
                {"retargeting": retargeting(3, 20, "NonBuyers")},
                lambda: oracle.retargeting(ADVERTISER_NUMBER, "NonBuyers", 3, 20),
            ),
            (
                {"prospecting": ProspectingCreateV1(users_type="Prospects")},
                lambda: oracle.prospecting(ADVERTISER_NUMBER, "Prospects", None, None),
            ),
            (
                {
                    "prospecting": ProspectingCreateV1(
                        users_type="ProspectsOrNonBuyers",
                        days_since_last_visit_min=2,
                        days_since_last_visit_max=20,
                    )
                },
                lambda: oracle.prospecting(ADVERTISER_NUMBER, "ProspectsOrNonBuyers", 2, 20),
            ),
            (
                {"in_market": InMarketCreateV1(country="fr")},
                lambda: oracle.in_market("FR"),
            ),
            (
                {"in_market": InMarketCreateV1(country="FR", brand_ids=["1", "15"])},
                lambda: oracle.in_market("FR", brand_ids=[1, 15]),
            ),
            (
                {
                    "in_market": InMarketCreateV1(
                        country="FR", interest_ids=["166"], price_range=["Low", "High"]
                    )
                },
                lambda: oracle.in_market("FR", interest_ids=["166"], price_ranges=["Low", "High"]),
            ),
            (
                {
                    "in_market": InMarketCreateV1(
                        country="FR",
                        brand_ids=["25"],
                        interest_ids=["5181"],
                        buying_power=["High", "VeryHigh", "Medium"],
                        gender="Female",
                    )
                },
                lambda: oracle.in_market(
                    "FR",
                    brand_ids=[25],
                    interest_ids=["5181"],
                    buying_powers=["High", "VeryHigh", "Medium"],
                    gender="Female",
                ),
            ),
            (
                {
                    "location": LocationCreateV1(
                        points_of_interest=[poi(PARIS, "Paris"), poi(LYON)], radius_in_km=25
                    )
                },
                lambda: oracle.location([PARIS, LYON_STORED], 25),
            ),
        ]
        created = sizer.create(
            *(segment(names(f"kind {n}"), **fields) for n, (fields, _) in enumerate(cases))
        )
        assert created.errors == []
        ids = [s.id for s in created.data]

        response = sizer.segment_sizes(*ids)

        expected = [len(members()) for _, members in cases]
        assert all(size > 0 for size in expected), expected  # no vacuous comparison
        assert response.errors == []
        assert {r.type for r in response.data} == {RESOURCE_TYPE}
        assert sizes_of(response) == list(zip(ids, expected, strict=True))
        assert_states_its_data(sizer, response, oracle)

    def test_a_contact_list_has_no_member_until_it_is_filled(
        self, sizer: Sdk, names: Names, oracle: Oracle
    ) -> None:
        [crm] = sizer.contact_lists(names("crm"))

        response = sizer.segment_sizes(crm)

        assert response.errors == []
        assert sizes_of(response) == [(crm, 0)]
        assert len(oracle.contact_list([])) == 0

    def test_a_behavioral_segment_matches_the_oracle(self, sizer: Sdk, oracle: Oracle) -> None:
        name, category, country = SIZED_BEHAVIORAL
        [behavioral] = [
            s
            for s in sizer.search_all(advertiser_ids=[ADVERTISER], types=["Behavioral"])
            if s.attributes.name == name
        ]

        response = sizer.segment_sizes(behavioral.id)

        expected = len(oracle.behavioral(category, country))
        assert expected > 0
        assert sizes_of(response) == [(behavioral.id, expected)]

    def test_a_lookalike_is_computing_then_sized(
        self, sizer: Sdk, names: Names, oracle: Oracle
    ) -> None:
        seed = sizer.create_one(segment(names("seed"), retargeting=retargeting(0, 7)))
        look = sizer.create_one(
            segment(
                names("lookalike"),
                lookalike=LookalikeCreateV1(seed_segment_id=seed.id, target_size=150),
            )
        )

        # Until its model is built, a lookalike's size is null with a warning, never invented;
        # the model is built in the background.
        first = sizer.segment_sizes(seed.id, look.id)
        seed_size = len(oracle.retargeting(ADVERTISER_NUMBER, "All", 0, 7))
        if sizes_of(first)[1][1] is None:
            assert "lookalike-computing" in warning_codes(first)
        response = eventually(
            lambda: sizer.segment_sizes(seed.id, look.id),
            lambda answer: sizes_of(answer)[1][1] is not None,
        )
        assert sizes_of(response) == [(seed.id, seed_size), (look.id, 150)]
        assert warning_codes(response) == []
        assert response.errors == []

    def test_unknown_ids_are_per_item_problems(self, sizer: Sdk, names: Names) -> None:
        known = sizer.create_one(segment(names("known"), retargeting=retargeting(0, 7)))

        response = sizer.segment_sizes("999999999", known.id, "not-a-number")

        assert [segment_id for segment_id, _ in sizes_of(response)] == [known.id]
        assert wire_problems(response) == [
            ("segment-not-found", "validation", {"id": "data/0/id"}),
            ("segment-not-found", "validation", {"id": "data/2/id"}),
        ]

    def test_a_segment_of_another_advertiser_is_not_found(
        self,
        sizer: Sdk,
        sized_server: SizedServer,
        sized_connect: Callable[[Credentials], Sdk],
        names: Names,
        oracle: Oracle,
    ) -> None:
        mine = sizer.create_one(segment(names("1001"), retargeting=retargeting(0, 30)))
        theirs = sizer.create_one(
            segment(names("1002"), advertiser_id=OTHER_ADVERTISER, retargeting=retargeting(0, 30))
        )
        other = sized_connect(sized_server.other)

        response = other.segment_sizes(mine.id, theirs.id)

        assert sizes_of(response) == [
            (theirs.id, len(oracle.retargeting(int(OTHER_ADVERTISER), "All", 0, 30)))
        ]
        assert wire_problems(response) == [("segment-not-found", "validation", {"id": "data/0/id"})]

    def test_the_same_segment_twice_is_answered_once(self, sizer: Sdk, names: Names) -> None:
        created = sizer.create_one(segment(names("twice"), retargeting=retargeting(0, 10)))

        response = sizer.segment_sizes(created.id, created.id)

        assert [segment_id for segment_id, _ in sizes_of(response)] == [created.id]
        assert wire_problems(response) == [("duplicate-item", "validation", {"id": "data/1/id"})]

    def test_the_size_follows_an_update(self, sizer: Sdk, names: Names, oracle: Oracle) -> None:
        created = sizer.create_one(segment(names("window"), retargeting=retargeting(0, 3)))
        before = sizer.segment_sizes(created.id)
        updated = sizer.update(
            (created.id, changes(retargeting=RetargetingUpdateV1(days_since_last_visit_max=35)))
        )
        assert updated.errors == []

        after = sizer.segment_sizes(created.id)

        assert sizes_of(before) == [
            (created.id, len(oracle.retargeting(ADVERTISER_NUMBER, "All", 0, 3)))
        ]
        assert sizes_of(after) == [
            (created.id, len(oracle.retargeting(ADVERTISER_NUMBER, "All", 0, 35)))
        ]
        assert sizes_of(after)[0][1] != sizes_of(before)[0][1]


class TestEstimateAudienceSegmentsSizes:
    def test_in_market_matches_the_oracle(self, sizer: Sdk, oracle: Oracle) -> None:
        response = sizer.estimate_segment_size(
            in_market=InMarketSizeEstimationV1(
                country="FR",
                brand_ids=["1", "3", "7"],
                interest_ids=["166"],
                buying_power=["High", "VeryHigh"],
                gender="Female",
            )
        )

        expected = oracle.in_market(
            "FR",
            brand_ids=[1, 3, 7],
            interest_ids=["166"],
            buying_powers=["High", "VeryHigh"],
            gender="Female",
        )
        assert len(expected) > 0
        assert response.data.type == "AudienceSegmentSizeEstimation"
        assert response.data.attributes.size == len(expected)
        assert_states_its_data(sizer, response, oracle)

    def test_location_matches_the_oracle(self, sizer: Sdk, oracle: Oracle) -> None:
        response = sizer.estimate_segment_size(
            location=LocationSizeEstimationV1(
                points_of_interest=[poi(PARIS, "Paris"), poi(LYON, "Lyon")], radius_in_km=40
            )
        )

        expected = oracle.location([PARIS, LYON_STORED], 40)
        assert len(expected) > 0
        assert response.data.attributes.size == len(expected)
        assert_states_its_data(sizer, response, oracle)

    def test_an_estimate_is_the_size_of_the_segment_it_describes(
        self, sizer: Sdk, names: Names
    ) -> None:
        definition = {"country": "DE", "interest_ids": ["5181", "187"], "price_range": ["Medium"]}
        created = sizer.create_one(
            segment(names("described"), in_market=InMarketCreateV1(**definition))
        )

        estimate = sizer.estimate_segment_size(in_market=InMarketSizeEstimationV1(**definition))
        computed = sizer.segment_sizes(created.id)

        assert sizes_of(computed) == [(created.id, estimate.data.attributes.size)]

    def test_an_estimate_for_another_advertiser_the_client_manages(
        self, sizer: Sdk, oracle: Oracle
    ) -> None:
        response = sizer.estimate_segment_size(
            "1003", in_market=InMarketSizeEstimationV1(country="US")
        )

        assert response.data.attributes.size == len(oracle.in_market("US"))

    @pytest.mark.parametrize(
        ("fields", "status", "code", "source"),
        [
            pytest.param(
                {"in_market": InMarketSizeEstimationV1(country="XX")},
                400,
                "invalid-country",
                {"country": "data/attributes/inMarket/country"},
                id="unknown-country",
            ),
            pytest.param(
                {"in_market": InMarketSizeEstimationV1(country="FR", brand_ids=["1", "9999"])},
                400,
                "brand-not-found",
                {"brandIds": "data/attributes/inMarket/brandIds/1"},
                id="unknown-brand",
            ),
            pytest.param(
                {"in_market": InMarketSizeEstimationV1(country="FR", interest_ids=["nope"])},
                400,
                "interest-not-found",
                {"interestIds": "data/attributes/inMarket/interestIds/0"},
                id="unknown-interest",
            ),
            pytest.param(
                {
                    "location": LocationSizeEstimationV1(
                        points_of_interest=[poi(PARIS)], radius_in_km=0
                    )
                },
                400,
                "invalid-range",
                {"radiusInKm": "data/attributes/location/radiusInKm"},
                id="radius-zero",
            ),
            pytest.param(
                {
                    "in_market": InMarketSizeEstimationV1(country="FR"),
                    "location": LocationSizeEstimationV1(
                        points_of_interest=[poi(PARIS)], radius_in_km=5
                    ),
                },
                400,
                "invalid",
                {"type": "data/attributes"},
                id="two-definitions",
            ),
            pytest.param({}, 400, "invalid", {"type": "data/attributes"}, id="no-definition"),
            pytest.param(
                {"advertiser_id": "777", "in_market": InMarketSizeEstimationV1(country="FR")},
                403,
                "advertiser-access-denied",
                {"advertiserId": "data/attributes/advertiserId"},
                id="unreachable-advertiser",
            ),
        ],
    )
    def test_a_refused_definition_fails_the_request(
        self,
        sizer: Sdk,
        fields: dict[str, Any],
        status: int,
        code: str,
        source: dict[str, str],
    ) -> None:
        with pytest.raises(ApiException) as raised:
            sizer.estimate_segment_size(**fields)

        assert raised.value.status == status
        [problem] = problem_body(raised.value)["errors"]
        assert (problem["code"], problem["source"]) == (code, source)
        assert problem["instance"] == f"{SEGMENTS}/estimate-size"


# --- who may ask, and a server without an index --------------------------------------------


def size_calls(sdk: Sdk, segment_id: str) -> list[tuple[str, Callable[[], Any]]]:
    """Each of the four size operations, called with a well-formed request."""
    return [
        ("ComputeAudienceSegmentsSizes", lambda: sdk.segment_sizes(segment_id)),
        (
            "EstimateAudienceSegmentsSizes",
            lambda: sdk.estimate_segment_size(in_market=InMarketSizeEstimationV1(country="FR")),
        ),
        ("ComputeAudiencesSizes", lambda: sdk.audience_sizes("1")),
        (
            "EstimateAudiencesSizes",
            lambda: sdk.estimate_audience_size(node(leaf(segment_id))),
        ),
    ]


def test_a_read_only_client_may_not_ask_for_sizes(
    sizer: Sdk,
    sized_server: SizedServer,
    sized_connect: Callable[[Credentials], Sdk],
    names: Names,
) -> None:
    """The four size operations need the Manage scope; a read-only client gets 403 on each."""
    created = sizer.create_one(segment(names("visible"), retargeting=retargeting(0, 30)))
    reader = sized_connect(sized_server.reader)
    assert reader.find(created.id).id == created.id  # reading works

    refused = {}
    for operation, call in size_calls(reader, created.id):
        with pytest.raises(ApiException) as raised:
            call()
        [problem] = problem_body(raised.value)["errors"]
        refused[operation] = (raised.value.status, problem["type"], problem["code"])

    assert refused == {
        operation: (403, "authorization", "insufficient-scope")
        for operation, _ in size_calls(reader, created.id)
    }


def test_without_an_index_sizes_are_unavailable(sdk: Sdk, names: Names) -> None:
    """On the conformance server, which holds no event data, each size operation is a 503."""
    [segment_id] = sdk.contact_lists(names("no index"))

    answered = {}
    for operation, call in size_calls(sdk, segment_id):
        with pytest.raises(ApiException) as raised:
            call()
        [problem] = problem_body(raised.value)["errors"]
        answered[operation] = (raised.value.status, problem["type"], problem["code"])

    assert answered == {
        operation: (503, "availability", "index-unavailable")
        for operation, _ in size_calls(sdk, segment_id)
    }


def test_a_new_index_build_is_served_without_a_restart(
    sizer: Sdk, sized_server: SizedServer, names: Names, oracle: Oracle
) -> None:
    """``reach index build`` while the server runs: the next answers come from the new build
    (a later build time), with the same sizes since the data did not change."""
    created = sizer.create_one(segment(names("rebuilt"), retargeting=retargeting(0, 20)))
    before = sizer.segment_sizes(created.id)
    built_before = datetime.fromisoformat(sizer.api_calls()[-1].headers["x-reach-index-built-at"])

    reach(sized_server.env, "index", "build")
    after = sizer.segment_sizes(created.id)

    built_after = datetime.fromisoformat(sizer.api_calls()[-1].headers["x-reach-index-built-at"])
    assert built_after > built_before
    assert sizes_of(after) == sizes_of(before)
    assert sizes_of(after) == [
        (created.id, len(oracle.retargeting(ADVERTISER_NUMBER, "All", 0, 20)))
    ]
    assert_states_its_data(sizer, after, oracle)
