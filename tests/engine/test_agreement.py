"""Truth: the engine's members equal the independent oracle's, for every kind and at random."""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import cache, reduce
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyroaring import AbstractBitMap

from reach.audience.algebra import And, Node, Not, Or, Segment, evaluate
from reach.engine.identities import key, keys_array
from reach.reference.taxonomy import taxonomy
from tests.engine.conftest import Indexed, resharded

ADVERTISERS = (1001, 1002, 1003)
PROPERTIES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def expand(interest_ids: list[str]) -> list[str]:
    """What the API does before asking the engine: an interest includes its descendants."""
    tree = taxonomy()
    return sorted({d for i in interest_ids for d in tree.descendants(i)})


@cache
def facts(data: str) -> dict[str, list[Any]]:
    """Values that occur in the data set, to aim definitions at real people."""
    with duckdb.connect() as con:

        def column(sql: str) -> list[Any]:
            return [row[0] for row in con.execute(sql).fetchall()]

        products = f"read_parquet('{data}/products.parquet')"
        interests = column(
            f"SELECT DISTINCT interest_id FROM {products} WHERE interest_id IS NOT NULL"
        )
        tree = taxonomy()
        return {
            "countries": column(
                f"SELECT DISTINCT country FROM read_parquet('{data}/users.parquet') ORDER BY 1"
            ),
            "brands": column(
                f"SELECT DISTINCT brand_id FROM {products} WHERE brand_id IS NOT NULL ORDER BY 1"
            ),
            "interests": sorted(
                set(interests) | {tree.interests[i].parent_id or i for i in interests}
            ),
            # The busiest spots first, so that circles around them cut through cells full of
            # pings (where the edge is measured ping by ping).
            "places": column(
                f"SELECT [round(latitude, 2), round(longitude, 2)] AS place "
                f"FROM read_parquet('{data}/pings-*.parquet') "
                f"GROUP BY place ORDER BY count(*) DESC, place LIMIT 200"
            ),
        }


@pytest.fixture(scope="module", params=[None, 256], ids=["one-shard", "shards-of-256-users"])
def indexed(request: pytest.FixtureRequest, indexed: Indexed, tmp_path_factory: Any) -> Indexed:
    """Every agreement holds with the whole population in one shard and split in many."""
    if request.param is None:
        return indexed
    found = resharded(indexed, tmp_path_factory.mktemp("sharded"), request.param)
    assert len(found.index.shards) > 5
    return found


# --- one definition per kind, engine and oracle side by side --------------------------------

Definition = tuple[Callable[[Indexed], AbstractBitMap], Callable[[Indexed], set[str]]]


def retargeting(advertiser: int, kind: str, low: int, high: int) -> Definition:
    return (
        lambda t: t.index.retargeting(advertiser, kind, low, high),
        lambda t: t.oracle.retargeting(advertiser, kind, low, high),
    )


def prospecting(advertiser: int, kind: str, low: int | None, high: int | None) -> Definition:
    return (
        lambda t: t.index.prospecting(advertiser, kind, low or 0, 90 if high is None else high),
        lambda t: t.oracle.prospecting(advertiser, kind, low, high),
    )


def in_market(
    country: str,
    brands: list[int],
    interests: list[str],
    ranges: list[str],
    powers: list[str],
    gender: str | None,
) -> Definition:
    return (
        lambda t: t.index.in_market(country, brands, expand(interests), ranges, powers, gender),
        lambda t: t.oracle.in_market(country, brands, interests, ranges, powers, gender),
    )


def location(points: list[tuple[float, float]], radius: int) -> Definition:
    rounded = [(round(a, 5), round(b, 5)) for a, b in points]
    return (
        lambda t: t.index.location(rounded, radius),
        lambda t: t.oracle.location(rounded, radius),
    )


def behavioral(category: str, country: str | None) -> Definition:
    return (
        lambda t: t.index.behavioral(category, country),
        lambda t: t.oracle.behavioral(category, country),
    )


def agree(indexed: Indexed, definition: Definition) -> set[str]:
    engine, oracle = definition
    members = indexed.users(engine(indexed))
    assert members == oracle(indexed)
    return members


class TestEveryKind:
    @pytest.mark.parametrize("kind", ["All", "Buyers", "NonBuyers"])
    @pytest.mark.parametrize(("low", "high"), [(0, 0), (0, 7), (3, 20), (10, 10), (0, 365)])
    def test_retargeting(self, indexed: Indexed, kind: str, low: int, high: int) -> None:
        for advertiser in ADVERTISERS:
            agree(indexed, retargeting(advertiser, kind, low, high))

    def test_retargeting_finds_people(self, indexed: Indexed) -> None:
        assert len(agree(indexed, retargeting(1001, "All", 0, 30))) > 100
        assert len(agree(indexed, retargeting(1001, "Buyers", 0, 30))) > 10

    @pytest.mark.parametrize("kind", ["Prospects", "ProspectsOrNonBuyers"])
    @pytest.mark.parametrize(("low", "high"), [(None, None), (5, 20), (None, 3), (7, None), (0, 0)])
    def test_prospecting(
        self, indexed: Indexed, kind: str, low: int | None, high: int | None
    ) -> None:
        for advertiser in ADVERTISERS:
            agree(indexed, prospecting(advertiser, kind, low, high))

    def test_in_market(self, indexed: Indexed) -> None:
        known = facts(str(indexed.data))
        country = known["countries"][0]
        assert agree(indexed, in_market(country, [], [], [], [], None))
        assert agree(indexed, in_market(country, known["brands"][:3], [], [], [], None))
        agree(indexed, in_market(country, [], known["interests"][:5], ["High"], [], None))
        agree(
            indexed,
            in_market(
                country,
                known["brands"][:2],
                known["interests"][:2],
                ["Low", "Medium"],
                ["High", "VeryHigh"],
                "Female",
            ),
        )
        for interest in taxonomy().interests.values():
            if interest.parent_id is None:
                agree(indexed, in_market(country, [], [interest.id], [], [], None))

    @pytest.mark.parametrize("radius", [1, 3, 10, 60, 500])
    def test_location(self, indexed: Indexed, radius: int) -> None:
        places = facts(str(indexed.data))["places"]
        # The busiest spot, and two far down the list (most likely elsewhere).
        members = agree(indexed, location([tuple(p) for p in places[::80][:3]], radius))
        if radius >= 10:
            assert members

    @pytest.mark.parametrize("radius", [2, 5, 12])
    def test_location_of_overlapping_circles(self, indexed: Indexed, radius: int) -> None:
        """Many points around one place: the edge cells of one circle often lie wholly inside
        another, whose whole-cell answer must stand for them."""
        lat, lon = facts(str(indexed.data))["places"][0]
        rng = random.Random(radius)
        points = [
            (lat + rng.uniform(-0.05, 0.05), lon + rng.uniform(-0.05, 0.05)) for _ in range(12)
        ]
        assert agree(indexed, location(points, radius))

    def test_behavioral(self, indexed: Indexed) -> None:
        countries = facts(str(indexed.data))["countries"]
        for category in ("Lifestyles", "LifeEvents", "Seasonal", "BuyingPatterns"):
            assert agree(indexed, behavioral(category, None))
            for country in countries[:3]:
                agree(indexed, behavioral(category, country))

    def test_universe(self, indexed: Indexed) -> None:
        assert indexed.users(indexed.index.universe()) == indexed.oracle.universe()


# --- random definitions ---------------------------------------------------------------------


def definitions(data: str) -> st.SearchStrategy[Definition]:
    known = facts(data)
    days = st.integers(min_value=0, max_value=60)

    def subsets(values: list[Any]) -> st.SearchStrategy[list[Any]]:
        return st.lists(st.sampled_from(values), max_size=3, unique=True)

    return st.one_of(
        st.builds(
            lambda a, k, x, y: retargeting(a, k, min(x, y), max(x, y)),
            st.sampled_from(ADVERTISERS),
            st.sampled_from(["All", "Buyers", "NonBuyers"]),
            days,
            days,
        ),
        st.builds(
            prospecting,
            st.sampled_from(ADVERTISERS),
            st.sampled_from(["Prospects", "ProspectsOrNonBuyers"]),
            st.none() | st.integers(0, 10),
            st.none() | st.integers(10, 60),
        ),
        st.builds(
            in_market,
            st.sampled_from(known["countries"]),
            subsets(known["brands"]),
            subsets(known["interests"]),
            subsets(["Low", "Medium", "High"]),
            subsets(["Low", "Medium", "High", "VeryHigh"]),
            st.none() | st.sampled_from(["Male", "Female"]),
        ),
        st.builds(
            location,
            st.lists(
                st.sampled_from(known["places"]).map(lambda p: (p[0] + 0.003, p[1] - 0.002)),
                min_size=1,
                max_size=4,
            ),
            st.integers(min_value=1, max_value=400),
        ),
        st.builds(
            behavioral,
            st.sampled_from(["Lifestyles", "LifeEvents", "Seasonal", "BuyingPatterns"]),
            st.none() | st.sampled_from(known["countries"]),
        ),
    )


@PROPERTIES
@given(data=st.data())
def test_random_segment_definitions_agree(indexed: Indexed, data: st.DataObject) -> None:
    agree(indexed, data.draw(definitions(str(indexed.data))))


def trees(leaves: int) -> st.SearchStrategy[Node]:
    """Audience algebras that follow the rules, over segments ``0`` .. ``leaves - 1``."""
    leaf = st.integers(0, leaves - 1).map(lambda i: Segment(str(i)))
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda terms: Or(tuple(terms))),
            st.tuples(
                st.lists(inner, min_size=1, max_size=3), st.lists(inner.map(Not), max_size=2)
            ).map(lambda pair: And((*pair[0], *pair[1]))),
        ),
        max_leaves=8,
    )


def naive(node: Node, members: dict[str, set[str]], universe: set[str]) -> set[str]:
    """Set semantics taken literally, complements against the whole universe."""
    if isinstance(node, Segment):
        return members[node.id]
    if isinstance(node, Not):
        return universe - naive(node.term, members, universe)
    parts = [naive(term, members, universe) for term in node.terms]
    return reduce(set.union, parts) if isinstance(node, Or) else reduce(set.intersection, parts)


@PROPERTIES
@given(data=st.data())
def test_random_audiences_agree(indexed: Indexed, data: st.DataObject) -> None:
    pool = data.draw(st.lists(definitions(str(indexed.data)), min_size=2, max_size=4))
    bitmaps = {str(i): engine(indexed) for i, (engine, _) in enumerate(pool)}
    truths = {str(i): oracle(indexed) for i, (_, oracle) in enumerate(pool)}
    tree = data.draw(trees(len(pool)))
    engine_members = indexed.users(evaluate(tree, bitmaps.__getitem__))
    assert engine_members == naive(tree, truths, indexed.oracle.universe())


@PROPERTIES
@given(data=st.data())
def test_contact_list_matching_agrees(indexed: Indexed, data: st.DataObject) -> None:
    known = identities(str(indexed.data))
    chosen = data.draw(st.lists(st.sampled_from(known), max_size=60, unique=True))
    unknown = data.draw(
        st.lists(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64), max_size=5)
    )
    listed = chosen + [("email", digest) for digest in unknown]
    keys = keys_array(sorted({key(t, d) for t, d in listed}))
    _, members = indexed.index.match(keys)
    assert indexed.users(members) == indexed.oracle.contact_list(listed)


@cache
def identities(data: str) -> list[tuple[str, str]]:
    with duckdb.connect() as con:
        rows = con.execute(
            f"SELECT identifier_type, digest FROM read_parquet('{data}/identities.parquet') "
            "ORDER BY 1, 2 LIMIT 3000"
        ).fetchall()
    return [(str(t), str(d)) for t, d in rows]
