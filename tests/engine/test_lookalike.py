"""Lookalike features and model over the engine's test data set, checked against raw data and
against the hidden taste groups the generator planted."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import h3.api.basic_int as h3
import numpy as np
import pytest
from pyroaring import FrozenBitMap

from reach.engine.bitmaps import bitmap_of, ordinals_of
from reach.engine.features import AREA_RESOLUTION, FeatureSpace, user_features
from reach.engine.lookalike import build, scope
from reach.engine.store import CELL_RESOLUTION
from reach.reference.taxonomy import taxonomy
from tests.engine.conftest import Indexed

TASTE_GROUPS = 8


@pytest.fixture(scope="module")
def space(indexed: Indexed) -> FeatureSpace:
    return user_features(indexed.index, taxonomy().ancestors)


@pytest.fixture(scope="module")
def groups(indexed: Indexed) -> dict[int, FrozenBitMap]:
    """The hidden taste groups (never given to the model), as ordinals."""
    ordinals = {user_id: ordinal for ordinal, user_id in indexed.user_ids.items()}
    path = indexed.data / "truth" / "taste_groups.parquet"
    query = f"SELECT user_id, taste_group FROM read_parquet('{path}')"
    rows = duckdb.connect().execute(query).fetchall()
    found: dict[int, list[int]] = {}
    for user_id, group in rows:
        found.setdefault(group, []).append(ordinals[user_id])
    return {group: FrozenBitMap(members) for group, members in found.items()}


def feature(space: FeatureSpace, *key: str | int) -> FrozenBitMap:
    return space.bitmaps[space.keys.index(key)]


def sample(users: FrozenBitMap, share: float, seed: int) -> FrozenBitMap:
    ordinals = ordinals_of(users)
    rng = np.random.default_rng(seed)
    return FrozenBitMap(bitmap_of(rng.choice(ordinals, int(len(ordinals) * share), replace=False)))


class TestFeatures:
    def test_visit_frequency_and_recency_match_the_raw_events(
        self, indexed: Indexed, space: FeatureSpace
    ) -> None:
        con, as_of = indexed.oracle.con, indexed.oracle.as_of
        rows = con.execute(
            "SELECT user_id, count(DISTINCT day), max(day) FROM event_days"
            " WHERE advertiser_id = 1002 GROUP BY user_id"
        ).fetchall()
        for times in (2, 4, 8):
            expected = {user for user, days, _ in rows if days >= times}
            assert indexed.users(feature(space, "visit_days", 1002, times)) == expected
        for recency in (7, 30):
            since = as_of - timedelta(days=recency - 1)
            expected = {user for user, _, last in rows if last >= since}
            assert indexed.users(feature(space, "visited", 1002, recency)) == expected
        buyers = con.execute(
            "SELECT DISTINCT user_id FROM event_days WHERE advertiser_id = 1002 AND kind = 'sale'"
        ).fetchall()
        assert indexed.users(feature(space, "bought", 1002)) == {u for (u,) in buyers}

    def test_areas_are_the_coarse_cells_of_the_window_pings(
        self, indexed: Indexed, space: FeatureSpace
    ) -> None:
        since = indexed.oracle.as_of - timedelta(days=29)
        pings = indexed.oracle.con.execute(
            "SELECT user_id, latitude, longitude FROM ping_days WHERE day >= ?", [since]
        ).fetchall()
        expected: dict[str, set[str]] = {}
        for user, lat, lon in pings:
            # The area of a ping is the parent of its fine cell (H3 nests only approximately,
            # so this is not always the coarse cell around the point).
            fine = h3.latlng_to_cell(lat, lon, CELL_RESOLUTION)
            area = h3.int_to_str(h3.cell_to_parent(fine, AREA_RESOLUTION))
            expected.setdefault(area, set()).add(user)
        found = {
            str(key[1]): indexed.users(bitmap)
            for key, bitmap in zip(space.keys, space.bitmaps, strict=True)
            if key[0] == "area"
        }
        assert found == expected
        assert len(found) > 5

    def test_an_interest_holds_the_users_of_its_sub_interests(
        self, indexed: Indexed, space: FeatureSpace
    ) -> None:
        countries = [str(c) for c in indexed.index.countries()]
        for interest in ("1604", "166", "222"):  # Apparel & Accessories, Clothing, Electronics
            expected = set().union(
                *(indexed.oracle.in_market(c, interest_ids=[interest]) for c in countries)
            )
            assert indexed.users(feature(space, "interest", interest)) == expected, interest
            assert expected

    def test_every_feature_is_a_subset_of_the_universe(
        self, indexed: Indexed, space: FeatureSpace
    ) -> None:
        universe = indexed.index.universe()
        assert all(bitmap <= universe and bitmap for bitmap in space.bitmaps)
        assert len(set(space.keys)) == len(space.keys)


class TestModel:
    def test_members_are_eligible_outside_the_seed_and_as_many_as_asked(
        self, indexed: Indexed, space: FeatureSpace, groups: dict[int, FrozenBitMap]
    ) -> None:
        seed = sample(groups[0], 0.3, seed=1)
        found = build(space, indexed.index.countries(), seed, 200)
        where = scope(indexed.index.countries(), seed)
        assert len(found.members) == 200
        assert not found.members & seed
        assert found.members <= where.eligible
        assert found.eligible_size == len(where.eligible)
        assert found.seed_size == len(seed)

    def test_the_same_inputs_give_the_same_members(
        self, indexed: Indexed, space: FeatureSpace, groups: dict[int, FrozenBitMap]
    ) -> None:
        seed = sample(groups[2], 0.3, seed=2)
        first = build(space, indexed.index.countries(), seed, 150)
        again = build(
            user_features(indexed.index, taxonomy().ancestors), indexed.index.countries(), seed, 150
        )
        assert first.members == again.members
        assert first.features == again.features

    def test_a_target_beyond_the_eligible_users_takes_them_all(
        self, indexed: Indexed, space: FeatureSpace, groups: dict[int, FrozenBitMap]
    ) -> None:
        seed = sample(groups[1], 0.3, seed=3)
        found = build(space, indexed.index.countries(), seed, 10**9)
        assert found.members == scope(indexed.index.countries(), seed).eligible

    def test_an_empty_seed_finds_nobody(self, indexed: Indexed, space: FeatureSpace) -> None:
        found = build(space, indexed.index.countries(), FrozenBitMap(), 100)
        assert len(found.members) == 0
        assert found.countries == []

    def test_countries_with_a_sliver_of_the_seed_are_not_searched(
        self, indexed: Indexed, space: FeatureSpace
    ) -> None:
        countries = indexed.index.countries()
        big, small = sorted(countries, key=lambda c: -len(countries[c]))[:2]
        # All of the big country's users, and one user of the small one (under 1 %).
        seed = FrozenBitMap(countries[big] | FrozenBitMap([countries[small].min()]))
        where = scope(countries, seed)
        assert where.countries == [big]
        assert not where.eligible and where.seed == countries[big]

    def test_it_recovers_planted_taste_groups_far_better_than_the_baselines(
        self, indexed: Indexed, space: FeatureSpace, groups: dict[int, FrozenBitMap]
    ) -> None:
        """Seeded with 30 % of a taste group, the lookalike of the size of the rest of the group
        finds more of it than random users and than the users who browsed the seed's most
        common product interest, over all eight groups."""
        interests = indexed.index.family("in_market_interest")
        by_interest: dict[str, list[FrozenBitMap]] = {}
        for key in interests.entries():
            by_interest.setdefault(str(key[0]), []).append(interests.get(key))
        browsed = {i: FrozenBitMap.union(*parts) for i, parts in by_interest.items()}
        precision, random_share, interest_precision, aucs = [], [], [], []
        rng = np.random.default_rng(7)
        for group in range(TASTE_GROUPS):
            seed = sample(groups[group], 0.3, seed=group)
            rest = groups[group] - seed
            found = build(space, indexed.index.countries(), seed, len(rest))
            eligible = scope(indexed.index.countries(), seed).eligible
            target = rest & eligible
            precision.append(len(found.members & target) / len(found.members))
            random_share.append(len(target) / len(eligible))
            common = max(browsed, key=lambda i: browsed[i].intersection_cardinality(seed))
            pool = ordinals_of(browsed[common] & eligible)
            picked = rng.choice(pool, min(len(rest), len(pool)), replace=False)
            filler = ordinals_of(eligible - bitmap_of(picked))
            picked = np.concatenate(
                [picked, rng.choice(filler, len(rest) - len(picked), replace=False)]
            )
            interest_precision.append(len(bitmap_of(picked) & target) / len(rest))
            assert found.holdout_auc is not None
            aucs.append(found.holdout_auc)
        model = float(np.mean(precision))
        assert model >= 4 * float(np.mean(random_share))
        assert model >= 1.4 * float(np.mean(interest_precision))
        assert float(np.mean(aucs)) >= 0.75
