"""Conformance of the sizes of the in-market brand and interest lists, on the sized server.

The brand catalogue is the one ``reach ingest brands`` registered; the size of brand ``b`` for a
country is the oracle's InMarket count with ``brandIds = [b]``, and that of interest ``i`` the
count with ``interestIds = [i]`` (the interest and everything below it in the taxonomy).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.builders import Credentials
from tests.conformance.conftest import ADVERTISER, Sdk, SizedServer
from tests.conformance.test_in_market import taxonomy_parents
from tests.engine.oracle import Oracle

pytestmark = pytest.mark.conformance

COUNTRY = "FR"
# A country none of the demo users lives in.
EMPTY_COUNTRY = "NZ"


@pytest.fixture(scope="session")
def brand_catalogue(oracle: Oracle) -> dict[str, str]:
    """The brands of the demo files: id -> name."""
    rows = oracle.con.execute("SELECT brand_id, name FROM brands").fetchall()
    return {str(brand_id): name for brand_id, name in rows}


@pytest.fixture(scope="session")
def brand_sizes(oracle: Oracle, brand_catalogue: dict[str, str]) -> dict[str, int]:
    """The oracle's in-market size of every brand in France (computed once for both backends)."""
    return {b: len(oracle.in_market(COUNTRY, brand_ids=[int(b)])) for b in brand_catalogue}


@pytest.fixture(scope="session")
def interest_sizes(oracle: Oracle) -> dict[str, int]:
    """The oracle's in-market size in France of every interest that can have members: those
    of the products and their ancestors. Any other interest has no product, so no member."""
    parents = taxonomy_parents()
    rows = oracle.con.execute(
        "SELECT DISTINCT interest_id FROM products WHERE interest_id IS NOT NULL"
    ).fetchall()
    candidates: set[str] = set()
    for (interest_id,) in rows:
        current: str | None = interest_id
        while current is not None and current not in candidates:
            candidates.add(current)
            current = parents[current]
    return {i: len(oracle.in_market(COUNTRY, interest_ids=[i])) for i in sorted(candidates)}


class TestInMarketBrandSizes:
    def test_the_ingested_brands_are_listed_with_the_oracles_sizes(
        self,
        sizer: Sdk,
        oracle: Oracle,
        brand_catalogue: dict[str, str],
        brand_sizes: dict[str, int],
    ) -> None:
        brands = sizer.audience.get_audience_segments_in_market_brands(ADVERTISER, COUNTRY)

        listed = {b.id: (b.attributes.name, b.attributes.size) for b in brands.data}
        assert len(listed) == len(brands.data), "a brand is listed twice"
        assert listed == {b: (name, brand_sizes[b]) for b, name in brand_catalogue.items()}
        assert {b.type for b in brands.data} == {"InMarketAudienceSegmentBrand"}
        # Neither all zero nor all equal: the comparison says something.
        assert len(set(brand_sizes.values())) > 10
        assert brands.errors == []
        assert [w.code for w in brands.warnings] == ["size-privacy-exact", "index-stale"]
        exchange = sizer.api_calls()[-1]
        assert exchange.headers["x-reach-index-as-of"] == oracle.as_of.isoformat()

    def test_a_read_only_client_sees_the_sizes_too(
        self,
        sized_server: SizedServer,
        sized_connect: Callable[[Credentials], Sdk],
        brand_sizes: dict[str, int],
    ) -> None:
        reader = sized_connect(sized_server.reader)

        brands = reader.audience.get_audience_segments_in_market_brands(ADVERTISER, COUNTRY)

        assert {b.id: b.attributes.size for b in brands.data} == brand_sizes

    def test_the_country_is_case_insensitive(self, sizer: Sdk, brand_sizes: dict[str, int]) -> None:
        brands = sizer.audience.get_audience_segments_in_market_brands(ADVERTISER, "fr")

        assert {b.id: b.attributes.size for b in brands.data} == brand_sizes

    def test_a_country_without_users_has_sizes_of_zero(
        self, sizer: Sdk, oracle: Oracle, brand_catalogue: dict[str, str]
    ) -> None:
        brands = sizer.audience.get_audience_segments_in_market_brands(ADVERTISER, EMPTY_COUNTRY)

        assert len(oracle.in_market(EMPTY_COUNTRY)) == 0
        assert {b.id: b.attributes.size for b in brands.data} == dict.fromkeys(brand_catalogue, 0)


class TestInMarketInterestSizes:
    def test_sizes_are_the_oracles_for_every_interest(
        self, sizer: Sdk, oracle: Oracle, interest_sizes: dict[str, int]
    ) -> None:
        interests = sizer.audience.get_audience_segments_in_market_interests(ADVERTISER, COUNTRY)

        # ``size`` is not in the contract's interest entity: the SDK keeps it as an additional
        # property of the attributes.
        listed = {i.id: i.attributes.get("size") for i in interests.data}
        assert len(listed) == len(taxonomy_parents())
        assert listed == {i: interest_sizes.get(i, 0) for i in taxonomy_parents()}
        assert sum(1 for size in interest_sizes.values() if size > 0) > 50
        assert interests.errors == []
        assert [w.code for w in interests.warnings] == ["size-privacy-exact", "index-stale"]
        exchange = sizer.api_calls()[-1]
        assert exchange.headers["x-reach-index-as-of"] == oracle.as_of.isoformat()
        # The contract's entity, read the way the contract reads it, is unchanged.
        assert {i.id: i.attributes.get("parent_id") for i in interests.data} == taxonomy_parents()

    def test_a_parent_interest_counts_the_members_of_its_children(
        self, sizer: Sdk, interest_sizes: dict[str, int]
    ) -> None:
        interests = sizer.audience.get_audience_segments_in_market_interests(ADVERTISER, COUNTRY)

        listed = {i.id: i.attributes.get("size") for i in interests.data}
        parents = taxonomy_parents()
        for interest_id, size in listed.items():
            parent = parents[interest_id]
            if parent is not None:
                assert listed[parent] >= size, (parent, interest_id)
