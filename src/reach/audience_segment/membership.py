"""Segment membership: a segment's definition asked of the engine's index (docs/segments.md)."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock
from typing import Any

from pydantic import BaseModel
from pyroaring import AbstractBitMap, FrozenBitMap

from reach.audience_segment.schemas import (
    BehavioralV1,
    InMarketV1,
    LocationV1,
    ProspectingV1,
    RetargetingV1,
)
from reach.config import Settings
from reach.engine.query import Index
from reach.kit.metrics import MEMBERSHIP_CACHE_HITS, MEMBERSHIP_CACHE_MISSES
from reach.reference.taxonomy import taxonomy


class MembershipCache:
    """The members of the definitions already computed over an index build, within a budget
    of bytes, the least recently used dropped first.

    Members depend only on the definition and the index build (both are in the key), so an
    entry is never stale: a new build or an edited definition is simply another key."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, FrozenBitMap] = OrderedDict()
        self._bytes = 0
        self._lock = Lock()

    def get(self, key: Hashable, compute: Callable[[], AbstractBitMap]) -> FrozenBitMap:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                MEMBERSHIP_CACHE_HITS.inc()
                return found
        MEMBERSHIP_CACHE_MISSES.inc()
        # Computed outside the lock: two requests may compute the same members at once, which
        # costs time but never correctness.
        computed = compute()
        found = computed if isinstance(computed, FrozenBitMap) else FrozenBitMap(computed)
        size = found.__sizeof__()
        if size > self.max_bytes:
            return found
        with self._lock:
            if key not in self._entries:
                self._entries[key] = found
                self._bytes += size
                while self._bytes > self.max_bytes:
                    _, dropped = self._entries.popitem(last=False)
                    self._bytes -= dropped.__sizeof__()
        return found

    def __len__(self) -> int:
        return len(self._entries)


# The types whose members follow from the definition and the index build alone.
COMPUTED_TYPES: dict[str, type[BaseModel]] = {
    "Retargeting": RetargetingV1,
    "Prospecting": ProspectingV1,
    "InMarket": InMarketV1,
    "Location": LocationV1,
    "Behavioral": BehavioralV1,
}


def definition_question(segment_type: str, advertiser_id: int, definition: Any) -> str | None:
    """The canonical text of a definition whose members follow from it and the index build
    alone (None for contact lists and lookalikes): definitions that select the same people by
    the same rule give one text, whatever their names, order or repeats."""
    model = COMPUTED_TYPES.get(segment_type)
    if model is None:
        return None
    parsed = model.model_validate(definition)
    decisive: dict[str, Any]
    if isinstance(parsed, LocationV1):
        decisive = {
            "points": sorted(
                {
                    (p.latitude, p.longitude)
                    for p in parsed.points_of_interest
                    if p.latitude is not None and p.longitude is not None
                }
            ),
            "radius": parsed.radius_in_km,
        }
    elif isinstance(parsed, InMarketV1):
        tree = taxonomy()
        decisive = {
            "country": parsed.country,
            "brands": sorted({int(b) for b in parsed.brand_ids}),
            "interests": sorted({d for i in parsed.interest_ids for d in tree.descendants(i)}),
            "prices": sorted(set(parsed.price_range)),
            "powers": sorted(set(parsed.buying_power)),
            "gender": parsed.gender,
        }
    elif isinstance(parsed, BehavioralV1):
        decisive = {"category": parsed.category, "country": parsed.country}
    else:
        decisive = parsed.model_dump(mode="json")
    canonical = json.dumps(decisive, sort_keys=True, separators=(",", ":"))
    return f"{segment_type}/{advertiser_id}/{canonical}"


def members(
    index: Index,
    settings: Settings,
    segment_type: str,
    advertiser_id: int,
    definition: Any,
    *,
    contact_list: Callable[[], AbstractBitMap] | None = None,
    lookalike: Callable[[], AbstractBitMap] | None = None,
    cache: MembershipCache | None = None,
) -> AbstractBitMap:
    """The users of a segment (its type and the type object as stored or requested);
    ``contact_list`` gives the members of a ContactList segment's identifiers, ``lookalike``
    those a Lookalike segment's model chose; ``cache`` keeps computed members for reuse."""
    question = definition_question(segment_type, advertiser_id, definition)
    if cache is not None and question is not None:
        key = (index.build_id, question)
        return cache.get(
            key, lambda: members(index, settings, segment_type, advertiser_id, definition)
        )
    if segment_type == "Retargeting":
        r = RetargetingV1.model_validate(definition)
        return index.retargeting(
            advertiser_id, r.visitors_type, r.days_since_last_visit_min, r.days_since_last_visit_max
        )
    if segment_type == "Prospecting":
        p = ProspectingV1.model_validate(definition)
        low = p.days_since_last_visit_min if p.days_since_last_visit_min is not None else 0
        high = p.days_since_last_visit_max
        if high is None:
            high = settings.prospecting_lookback_days
        return index.prospecting(advertiser_id, p.users_type, low, high)
    if segment_type == "InMarket":
        return in_market_members(index, InMarketV1.model_validate(definition))
    if segment_type == "Location":
        loc = LocationV1.model_validate(definition)
        points = [
            (p.latitude, p.longitude)
            for p in loc.points_of_interest
            if p.latitude is not None and p.longitude is not None
        ]
        return index.location(points, loc.radius_in_km)
    if segment_type == "Behavioral":
        b = BehavioralV1.model_validate(definition)
        return index.behavioral(b.category, b.country)
    if segment_type == "ContactList":
        # The users whose identities match the list's identifiers.
        return contact_list() if contact_list is not None else FrozenBitMap()
    if segment_type == "Lookalike" and lookalike is not None:
        return lookalike()
    raise ValueError(f"no membership source for a {segment_type} segment")


def in_market_members(index: Index, spec: InMarketV1) -> AbstractBitMap:
    tree = taxonomy()
    interests = sorted({d for i in spec.interest_ids for d in tree.descendants(i)})
    return index.in_market(
        spec.country,
        brand_ids=[int(b) for b in spec.brand_ids],
        interest_ids=interests,
        price_ranges=spec.price_range,
        buying_powers=spec.buying_power,
        gender=spec.gender,
    )
