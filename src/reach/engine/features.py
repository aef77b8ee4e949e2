"""User features for lookalike models: named bitmaps over the ordinals, read from an index.

A feature is a yes/no property of a user ("browsed Running Shoes", "visited advertiser 1001 on
4 days or more", "pinged around Lyon"), stored as the bitmap of the users who have it. Models
learn one weight per feature; scoring a user sums the weights of the features they have.
Everything here comes from the published index, so features cost no scan of the events.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import h3.api.basic_int as h3
import numpy as np
from pyroaring import BitMap, FrozenBitMap

from reach.engine.bitmaps import bitmap_of, ordinals_of
from reach.engine.query import Index

FeatureKey = tuple[str | int, ...]

# How far back advertiser activity counts, and the recency and frequency steps taken from it.
LOOKBACK_DAYS = 90
RECENCY_DAYS = (7, 30, 90)
VISIT_DAYS = (2, 4, 8)
# H3 resolution of the areas users are seen in (about 250 km², a town and its surroundings):
# one of the coarse resolutions the index keeps users of (AREA_RESOLUTIONS).
AREA_RESOLUTION = 5


@dataclass(frozen=True)
class FeatureSpace:
    """The features of one index build: ``keys[i]`` names the users ``bitmaps[i]``."""

    build_id: str
    users: int  # one more than the highest ordinal of the index
    keys: list[FeatureKey]
    bitmaps: list[FrozenBitMap]

    def __len__(self) -> int:
        return len(self.keys)


def user_features(index: Index, ancestors: Mapping[str, Sequence[str]]) -> FeatureSpace:
    """Every feature the index offers. ``ancestors`` maps a product interest (taxonomy id) to
    its ancestors, so that a model can learn "Sporting Goods" as well as "Running Shoes"."""
    keys: list[FeatureKey] = []
    bitmaps: list[FrozenBitMap] = []
    for key, bitmap in _all(index, ancestors):
        if bitmap:
            keys.append(key)
            bitmaps.append(bitmap if isinstance(bitmap, FrozenBitMap) else FrozenBitMap(bitmap))
    universe = index.universe()
    return FeatureSpace(index.build_id, universe.max() + 1 if universe else 0, keys, bitmaps)


def _all(
    index: Index, ancestors: Mapping[str, Sequence[str]]
) -> Iterator[tuple[FeatureKey, FrozenBitMap | BitMap]]:
    for name in ("country", "gender", "buying_power"):
        family = index.family(name)
        for key in family.entries():
            yield (name, *key), family.get(key)
    behavioral = index.family("behavioral")
    for category, country in behavioral.entries():
        yield ("behavioral", category, country), behavioral.get((category, country))
    yield from _in_market(index, ancestors)
    yield from _advertisers(index)
    yield from _areas(index)


def _by_first_key(family_entries: list[tuple[Any, ...]]) -> dict[Any, list[tuple[Any, ...]]]:
    grouped: dict[Any, list[tuple[Any, ...]]] = {}
    for key in family_entries:
        grouped.setdefault(key[0], []).append(key)
    return grouped


def _in_market(
    index: Index, ancestors: Mapping[str, Sequence[str]]
) -> Iterator[tuple[FeatureKey, FrozenBitMap]]:
    """Brands, interests (with their ancestors) and price ranges browsed in the in-market
    window; the price range is its own feature rather than a split of every other one."""
    prices = index.family("in_market_any")
    for key in prices.entries():
        yield ("price", *key), prices.get(key)
    brands = index.family("in_market_brand")
    for brand_id, keys in _by_first_key(brands.entries()).items():
        yield ("brand", brand_id), FrozenBitMap.union(*(brands.get(k) for k in keys))
    interests = index.family("in_market_interest")
    parts: dict[str, list[FrozenBitMap]] = {}
    for interest_id, keys in _by_first_key(interests.entries()).items():
        found = [interests.get(k) for k in keys]
        for node in (interest_id, *ancestors.get(interest_id, ())):
            parts.setdefault(node, []).extend(found)
    for node in sorted(parts):
        yield ("interest", node), FrozenBitMap.union(*parts[node])


def _advertisers(index: Index) -> Iterator[tuple[FeatureKey, FrozenBitMap | BitMap]]:
    """Per advertiser: visited within 7, 30, 90 days; visited on at least 2, 4, 8 days;
    bought in the lookback."""
    visits: dict[int, list[tuple[int, FrozenBitMap]]] = {}
    for days_ago, family in index.daily_families("visitors", 0, LOOKBACK_DAYS - 1):
        for (advertiser_id,) in family.entries():
            visits.setdefault(advertiser_id, []).append((days_ago, family.get((advertiser_id,))))
    universe = index.universe()
    size = (universe.max() + 1) if universe else 0
    for advertiser_id in sorted(visits):
        days = visits[advertiser_id]
        for recency in RECENCY_DAYS:
            recent = [bitmap for days_ago, bitmap in days if days_ago < recency]
            if recent:
                yield ("visited", advertiser_id, recency), FrozenBitMap.union(*recent)
        counts = np.zeros(size, dtype=np.uint16)
        for _, bitmap in days:
            counts[ordinals_of(bitmap)] += 1
        for times in VISIT_DAYS:
            yield ("visit_days", advertiser_id, times), bitmap_of(np.flatnonzero(counts >= times))
    bought: dict[int, list[FrozenBitMap]] = {}
    for _, family in index.daily_families("buyers", 0, LOOKBACK_DAYS - 1):
        for (advertiser_id,) in family.entries():
            bought.setdefault(advertiser_id, []).append(family.get((advertiser_id,)))
    for advertiser_id in sorted(bought):
        yield ("bought", advertiser_id), FrozenBitMap.union(*bought[advertiser_id])


def _areas(index: Index) -> Iterator[tuple[FeatureKey, FrozenBitMap]]:
    """The coarse H3 cells users were seen in during the location window: the index keeps each
    one's users, for location questions."""
    family = index.family(f"location_area{AREA_RESOLUTION}")
    for key in family.entries():
        yield ("area", h3.int_to_str(int(key[0]))), family.get(key)
