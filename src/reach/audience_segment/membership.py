"""Segment membership: a segment's definition asked of the engine's index (docs/segments.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
from reach.reference.taxonomy import taxonomy


def members(
    index: Index,
    settings: Settings,
    segment_type: str,
    advertiser_id: int,
    definition: Any,
    *,
    contact_list: Callable[[], AbstractBitMap] | None = None,
    lookalike: Callable[[], AbstractBitMap] | None = None,
) -> AbstractBitMap:
    """The users of a segment (its type and the type object as stored or requested);
    ``contact_list`` gives the members of a ContactList segment's identifiers, ``lookalike``
    those a Lookalike segment's model chose."""
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
