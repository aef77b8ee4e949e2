"""Audience-segment logic: bulk create, update and delete with per-item problems, and search.

The service never commits; the request's session does, once. Every writer first locks the
advertisers it touches (``AdvertiserRepository.lock``), so name checks and in-use checks hold
until the commit even with concurrent clients.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from reach.audience_segment.errors import (
    SegmentInUse,
    SegmentNotFound,
    SegmentReadOnly,
    SegmentTypeRequired,
)
from reach.audience_segment.repository import AudienceSegmentRepository
from reach.audience_segment.rules import SegmentRules, fits_id_limit
from reach.audience_segment.schemas import (
    AudienceSegmentCreateEntityV1,
    AudienceSegmentCreateEntityV1Resource,
    AudienceSegmentDeleteEntityV1Resource,
    AudienceSegmentEntityV1,
    AudienceSegmentEntityV1Resource,
    AudienceSegmentSearchEntityV1,
    AudienceSegmentUpdateEntityV1,
    AudienceSegmentUpdateEntityV1Resource,
    BehavioralCategory,
    BehavioralV1,
    ContactListV1,
    InMarketCreateV1,
    InMarketV1,
    LocationCreateV1,
    LocationV1,
    LookalikeV1,
    ProspectingCreateV1,
    ProspectingV1,
    RetargetingCreateV1,
    RetargetingV1,
)
from reach.config import Settings
from reach.kit.access import advertiser_filter, item_advertiser
from reach.kit.bulk import BulkResult, check_item_count
from reach.kit.clock import Clock
from reach.kit.findings import (
    Findings,
    NameClaim,
    bulk_target,
    check_description,
    check_name,
    patch_name_and_description,
    unique_names,
)
from reach.kit.ids import parse_id, parse_ids
from reach.kit.pagination import Page
from reach.kit.problems import (
    Invalid,
    NameMustBeUnique,
    RequiredField,
)
from reach.models import AudienceSegment
from reach.reference.countries import normalise_country
from reach.reference.errors import InvalidCountry
from reach.reference.repository import AdvertiserRepository, BrandRepository
from reach.reference.taxonomy import taxonomy

# The type objects of a create or update item: wire key -> segment type.
TYPE_OF_KEY = {
    "retargeting": "Retargeting",
    "prospecting": "Prospecting",
    "inMarket": "InMarket",
    "location": "Location",
    "lookalike": "Lookalike",
    "contactList": "ContactList",
}
KEY_OF_TYPE = {type_: key for key, type_ in TYPE_OF_KEY.items()} | {"Behavioral": "behavioral"}
READ_ONLY_TYPES = {"Behavioral"}


def to_resource(segment: AudienceSegment) -> AudienceSegmentEntityV1Resource:
    """A stored segment as the API shows it."""
    attributes = AudienceSegmentEntityV1.model_validate(
        {
            "advertiser_id": str(segment.advertiser_id),
            "name": segment.name,
            "description": segment.description,
            "type": segment.type,
            "created_at": segment.created_at,
            "updated_at": segment.updated_at,
            KEY_OF_TYPE[segment.type]: segment.definition,
        }
    )
    return AudienceSegmentEntityV1Resource(id=str(segment.id), attributes=attributes)


def _stored(definition: BaseModel) -> dict[str, Any]:
    """A type object as stored: exactly the JSON the API shows."""
    return definition.model_dump(mode="json", by_alias=True, exclude_none=True)


def _given_types(
    attributes: AudienceSegmentCreateEntityV1 | AudienceSegmentUpdateEntityV1,
) -> list[str]:
    dumped = attributes.model_dump(by_alias=True, exclude_none=True)
    return [key for key in TYPE_OF_KEY if key in dumped]


@dataclass
class _Update:
    index: int
    segment: AudienceSegment
    name: str
    description: str | None
    definition: dict[str, Any]


class AudienceSegmentService:
    def __init__(self, session: Session, settings: Settings, clock: Clock) -> None:
        self.session = session
        self.settings = settings
        self.clock = clock
        self.segments = AudienceSegmentRepository(session)
        self.advertisers = AdvertiserRepository(session)
        self.brands = BrandRepository(session)

    # --- create -----------------------------------------------------------------------------

    def create(
        self, reachable: frozenset[int], items: Sequence[AudienceSegmentCreateEntityV1Resource]
    ) -> BulkResult[AudienceSegment]:
        check_item_count(items, self.settings.max_bulk_items)
        attributes = [item.attributes for item in items]
        self.advertisers.lock(reachable & parse_ids(a.advertiser_id for a in attributes if a))
        rules = self._rules(a.in_market.brand_ids or [] for a in attributes if a and a.in_market)
        seeds = self.segments.by_ids(
            parse_ids(a.lookalike.seed_segment_id for a in attributes if a and a.lookalike),
            reachable,
        )

        result: BulkResult[AudienceSegment] = BulkResult()
        candidates: dict[int, AudienceSegment] = {}
        now = self.clock.now()
        for index, attrs in enumerate(attributes):
            findings = Findings()
            segment = self._new_segment(attrs, reachable, rules, seeds, findings, now)
            if findings or segment is None:
                result.fail(index, findings.problems)
            else:
                candidates[index] = segment

        claims = (NameClaim(i, s.advertiser_id, None, s.name) for i, s in candidates.items())
        accepted = [
            candidates[c.index] for c in unique_names(result, claims, self.segments.names_in_use)
        ]
        self.segments.add_all(accepted)
        result.data = accepted
        return result

    def _new_segment(
        self,
        attrs: AudienceSegmentCreateEntityV1 | None,
        reachable: frozenset[int],
        rules: SegmentRules,
        seeds: dict[int, AudienceSegment],
        f: Findings,
        now: datetime,
    ) -> AudienceSegment | None:
        if attrs is None:
            f.add(RequiredField, "'attributes' is required", "attributes", "attributes")
            return None
        advertiser_id = item_advertiser(attrs.advertiser_id, reachable, f)
        name = check_name(attrs.name, f, "attributes/name", self.settings.name_max_length)
        description = check_description(
            attrs.description, f, "attributes/description", self.settings.description_max_length
        )
        given = _given_types(attrs)
        if not given:
            f.add(
                SegmentTypeRequired,
                "Give exactly one of: " + ", ".join(TYPE_OF_KEY),
                "type",
                "attributes",
            )
            return None
        if len(given) > 1:
            for key in given[1:]:
                f.add(
                    Invalid,
                    f"A segment has exactly one type; this item also gives '{given[0]}'",
                    key,
                    f"attributes/{key}",
                )
            return None
        key = given[0]
        path = f"attributes/{key}"
        definition: BaseModel | None = None
        seed_id: int | None = None
        if attrs.retargeting is not None:
            definition = rules.retargeting(attrs.retargeting, f, path)
        elif attrs.prospecting is not None:
            definition = rules.prospecting(attrs.prospecting, f, path)
        elif attrs.in_market is not None:
            definition = rules.in_market(attrs.in_market, f, path)
        elif attrs.location is not None:
            definition = rules.location(attrs.location, f, path)
        elif attrs.lookalike is not None:
            seed = self._seed(attrs.lookalike.seed_segment_id, advertiser_id, seeds, f, path)
            size = rules.target_size(attrs.lookalike.target_size, f, path)
            if seed is not None:
                seed_id = seed.id
                definition = LookalikeV1(seed_segment_id=str(seed.id), target_size=size)
        else:
            definition = ContactListV1(is_read_only=False)
        if f or advertiser_id is None or name is None or definition is None:
            return None
        return AudienceSegment(
            advertiser_id=advertiser_id,
            name=name,
            description=description,
            type=TYPE_OF_KEY[key],
            definition=_stored(definition),
            seed_segment_id=seed_id,
            created_at=now,
            updated_at=now,
        )

    def _seed(
        self,
        raw: str | None,
        advertiser_id: int | None,
        seeds: dict[int, AudienceSegment],
        f: Findings,
        path: str,
    ) -> AudienceSegment | None:
        if not f.required(raw, "seedSegmentId", f"{path}/seedSegmentId"):
            return None
        seed_id = parse_id(raw)
        seed = seeds.get(seed_id) if seed_id is not None else None
        if seed is None or (advertiser_id is not None and seed.advertiser_id != advertiser_id):
            f.add(
                SegmentNotFound,
                f"Seed segment '{raw}' does not exist for this advertiser",
                "seedSegmentId",
                f"{path}/seedSegmentId",
            )
            return None
        if seed.type == "Lookalike":
            f.add(
                Invalid,
                "A lookalike segment cannot be the seed of another lookalike",
                "seedSegmentId",
                f"{path}/seedSegmentId",
            )
            return None
        return seed

    def _rules(self, brand_id_lists: Iterable[list[str]]) -> SegmentRules:
        # A list over the limit is refused whole by the rules: none of its ids is looked up.
        most = self.settings.in_market_max_ids
        wanted = parse_ids(
            brand_id for ids in brand_id_lists if fits_id_limit(ids, most) for brand_id in ids
        )
        return SegmentRules(self.settings, taxonomy(), self.brands.existing_ids(wanted))

    # --- update -----------------------------------------------------------------------------

    def update(
        self, reachable: frozenset[int], items: Sequence[AudienceSegmentUpdateEntityV1Resource]
    ) -> BulkResult[AudienceSegment]:
        check_item_count(items, self.settings.max_bulk_items)
        existing = self._locked_segments([item.id for item in items], reachable)
        # A patched definition is checked whole: its kept brands need checking as well.
        rules = self._rules(
            [
                *(
                    item.attributes.in_market.brand_ids or []
                    for item in items
                    if item.attributes and item.attributes.in_market
                ),
                *(
                    s.definition.get("brandIds", [])
                    for s in existing.values()
                    if s.type == "InMarket"
                ),
            ]
        )
        result: BulkResult[AudienceSegment] = BulkResult()
        updates: list[_Update] = []
        seen: set[int] = set()
        for index, item in enumerate(items):
            findings = Findings()
            segment = self._target(item.id, existing, seen, findings)
            if segment is not None:
                update = self._changes(index, segment, item.attributes, rules, findings)
                if not findings and update is not None:
                    updates.append(update)
            if findings:
                result.fail(index, findings.problems)

        renames = [
            NameClaim(u.index, u.segment.advertiser_id, u.segment.id, u.name)
            for u in updates
            if u.name != u.segment.name
        ]
        accepted = unique_names(result, renames, self.segments.names_in_use)
        refused = {c.index for c in renames} - {c.index for c in accepted}
        now = self.clock.now()
        for update in updates:
            if update.index in refused:
                continue
            segment = update.segment
            new = (update.name, update.description, update.definition)
            if new != (segment.name, segment.description, segment.definition):
                segment.name, segment.description, segment.definition = new
                segment.updated_at = now
            result.data.append(segment)
        self.session.flush()
        return result

    def _locked_segments(
        self, raw_ids: Sequence[str | None], reachable: frozenset[int]
    ) -> dict[int, AudienceSegment]:
        ids = parse_ids(raw_ids)
        self.advertisers.lock(self.segments.advertisers_of(ids, reachable))
        # Read under the lock: what a concurrent writer committed meanwhile is now visible.
        return self.segments.by_ids(ids, reachable)

    @staticmethod
    def _target(
        raw: str | None, existing: dict[int, AudienceSegment], seen: set[int], f: Findings
    ) -> AudienceSegment | None:
        segment = bulk_target(raw, existing, seen, f, SegmentNotFound, "Segment")
        if segment is not None and segment.type in READ_ONLY_TYPES:
            f.add(
                SegmentReadOnly,
                f"Segment '{raw}' is a {segment.type} segment provided by the platform",
                "id",
                "id",
            )
            return None
        return segment

    def _changes(
        self,
        index: int,
        segment: AudienceSegment,
        attrs: AudienceSegmentUpdateEntityV1 | None,
        rules: SegmentRules,
        f: Findings,
    ) -> _Update | None:
        if attrs is None:
            return _Update(index, segment, segment.name, segment.description, segment.definition)
        limits = (self.settings.name_max_length, self.settings.description_max_length)
        name, description = patch_name_and_description(
            segment, segment.description, attrs.name, attrs.description, f, limits
        )
        definition = self._patched(segment, attrs, rules, f)
        if f or definition is None:
            return None
        return _Update(index, segment, name, description, definition)

    def _patched(
        self,
        segment: AudienceSegment,
        attrs: AudienceSegmentUpdateEntityV1,
        rules: SegmentRules,
        f: Findings,
    ) -> dict[str, Any] | None:
        """The segment's definition with the item's type object applied, checked again."""
        own_key = KEY_OF_TYPE[segment.type]
        for key in _given_types(attrs):
            if key != own_key:
                f.add(
                    Invalid,
                    f"Segment {segment.id} is a {segment.type} segment; '{key}' does not apply",
                    key,
                    f"attributes/{key}",
                )
        if f:
            return None
        path = f"attributes/{own_key}"
        current = segment.definition
        result: BaseModel | None
        if attrs.retargeting is not None:
            merged = RetargetingV1.model_validate(current).model_dump()
            merged |= attrs.retargeting.model_dump(exclude_none=True)
            result = rules.retargeting(RetargetingCreateV1.model_validate(merged), f, path)
        elif attrs.prospecting is not None:
            patch = attrs.prospecting
            merged = ProspectingV1.model_validate(current).model_dump()
            if patch.users_type is not None:
                merged["users_type"] = patch.users_type
            # NillableInt32: absent keeps the value, {"value": null} clears it.
            if patch.days_since_last_visit_min is not None:
                merged["days_since_last_visit_min"] = patch.days_since_last_visit_min.value
            if patch.days_since_last_visit_max is not None:
                merged["days_since_last_visit_max"] = patch.days_since_last_visit_max.value
            result = rules.prospecting(ProspectingCreateV1.model_validate(merged), f, path)
        elif attrs.in_market is not None:
            patch_m = attrs.in_market
            merged = InMarketV1.model_validate(current).model_dump()
            merged |= patch_m.model_dump(exclude_none=True, exclude={"gender"})
            if patch_m.gender is not None:
                merged["gender"] = patch_m.gender.value
            result = rules.in_market(InMarketCreateV1.model_validate(merged), f, path)
        elif attrs.location is not None:
            old = LocationV1.model_validate(current)
            points = attrs.location.points_of_interest
            radius = attrs.location.radius_in_km
            result = rules.location(
                LocationCreateV1(
                    points_of_interest=old.points_of_interest if points is None else points,
                    radius_in_km=old.radius_in_km if radius is None else radius,
                ),
                f,
                path,
            )
        elif attrs.lookalike is not None:
            old_lookalike = LookalikeV1.model_validate(current)
            size = old_lookalike.target_size
            if attrs.lookalike.target_size is not None:
                size = rules.target_size(attrs.lookalike.target_size, f, path)
            result = LookalikeV1(seed_segment_id=old_lookalike.seed_segment_id, target_size=size)
        else:
            return current
        return None if result is None or f else _stored(result)

    # --- delete -----------------------------------------------------------------------------

    def delete(
        self, reachable: frozenset[int], items: Sequence[AudienceSegmentDeleteEntityV1Resource]
    ) -> BulkResult[int]:
        check_item_count(items, self.settings.max_bulk_items)
        existing = self._locked_segments([item.id for item in items], reachable)
        result: BulkResult[int] = BulkResult()
        chosen: dict[int, int] = {}  # segment id -> item index
        seen: set[int] = set()
        for index, item in enumerate(items):
            findings = Findings()
            segment = self._target(item.id, existing, seen, findings)
            if segment is None:
                result.fail(index, findings.problems)
            else:
                chosen[segment.id] = index
        # A segment stays while an audience uses it, or a lookalike not deleted with it.
        audiences = self.segments.audiences_using(chosen)
        for segment_id, users_ in audiences.items():
            result.fail(
                chosen.pop(segment_id),
                [
                    SegmentInUse(
                        f"Segment {segment_id} is used by audience(s) "
                        + ", ".join(map(str, sorted(users_))),
                        source={"id": "id"},
                    )
                ],
            )
        users = self.segments.lookalikes_seeded_by(chosen)
        changed = True
        while changed:
            changed = False
            for segment_id in list(chosen):
                blocking = users.get(segment_id, set()) - chosen.keys()
                if blocking:
                    result.fail(
                        chosen.pop(segment_id),
                        [
                            SegmentInUse(
                                f"Segment {segment_id} is the seed of lookalike segment(s) "
                                + ", ".join(map(str, sorted(blocking))),
                                source={"id": "id"},
                            )
                        ],
                    )
                    changed = True
        self.segments.delete(chosen.keys())
        result.data = sorted(chosen, key=chosen.__getitem__)
        return result

    # --- search -----------------------------------------------------------------------------

    def search(
        self,
        reachable: frozenset[int],
        filters: AudienceSegmentSearchEntityV1 | None,
        page: Page,
    ) -> tuple[Sequence[AudienceSegment], int]:
        advertiser_ids: Collection[int] = reachable
        segment_ids: set[int] | None = None
        types: set[str] | None = None
        if filters is not None:
            if filters.advertiser_ids:
                advertiser_ids = advertiser_filter(filters.advertiser_ids, reachable)
            if filters.audience_segment_ids:
                segment_ids = parse_ids(filters.audience_segment_ids)
            if filters.audience_segment_types:
                types = set(filters.audience_segment_types)
        return self.segments.search(advertiser_ids, segment_ids, types, page.limit, page.offset)

    # --- platform segments (CLI) ------------------------------------------------------------

    def add_behavioral(
        self,
        advertiser_id: int,
        name: str,
        category: BehavioralCategory,
        country: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> AudienceSegment:
        """Provide a read-only Behavioral segment to an advertiser."""
        if self.advertisers.get(advertiser_id) is None:
            raise Invalid(f"Advertiser {advertiser_id} does not exist")
        self.advertisers.lock([advertiser_id])
        f = Findings()
        checked = check_name(name, f, "name", self.settings.name_max_length)
        if f or checked is None:
            raise f.problems[0]
        normalised = None
        if country is not None:
            normalised = normalise_country(country)
            if normalised is None:
                raise InvalidCountry(f"'{country}' is not an ISO 3166-1 alpha-2 country code")
        if start is not None and end is not None and end < start:
            raise Invalid("The end date comes before the start date")
        if self.segments.names_in_use(advertiser_id, [checked]):
            raise NameMustBeUnique(f"Advertiser {advertiser_id} already has a segment '{name}'")
        now = self.clock.now()
        segment = AudienceSegment(
            advertiser_id=advertiser_id,
            name=checked,
            type="Behavioral",
            definition=_stored(
                BehavioralV1(category=category, country=normalised, start_date=start, end_date=end)
            ),
            created_at=now,
            updated_at=now,
        )
        self.segments.add_all([segment])
        return segment
