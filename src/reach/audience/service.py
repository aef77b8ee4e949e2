"""Audience logic: bulk create, update and delete with per-item problems, search, ad-set links.

Like segments, every writer first locks the advertisers it touches, and the segment links are
real foreign keys: an audience can never point at a segment that another client deletes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from reach.audience import algebra
from reach.audience.errors import (
    AdSetNotFound,
    AlgebraInvalidNode,
    AlgebraMisplacedNot,
    AlgebraNoPositiveTerm,
    AlgebraSegmentNotFound,
    AlgebraTooDeep,
    AlgebraTooManyLeaves,
    AudienceInUse,
    AudienceNotFound,
)
from reach.audience.repository import AudienceRepository
from reach.audience.schemas import (
    AdSetAudienceLinkInputEntityV1,
    AlgebraNodeV1,
    AudienceCreateEntityV1,
    AudienceCreateEntityV1Resource,
    AudienceDeleteEntityV1Resource,
    AudienceEntityV1,
    AudienceEntityV1Resource,
    AudienceSearchEntityV1,
    AudienceUpdateEntityV1,
    AudienceUpdateEntityV1Resource,
)
from reach.audience_segment.repository import AudienceSegmentRepository
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
    RequiredField,
)
from reach.models import AdSet, Audience, AudienceSegment
from reach.reference.repository import AdSetRepository, AdvertiserRepository

PROBLEM_OF = {
    "invalid-node": AlgebraInvalidNode,
    "misplaced-not": AlgebraMisplacedNot,
    "no-positive-term": AlgebraNoPositiveTerm,
    "too-deep": AlgebraTooDeep,
    "unknown-segment": AlgebraSegmentNotFound,
}


def to_resource(audience: Audience, ad_set_ids: Sequence[int]) -> AudienceEntityV1Resource:
    """A stored audience as the API shows it."""
    return AudienceEntityV1Resource(
        id=str(audience.id),
        attributes=AudienceEntityV1(
            advertiser_id=str(audience.advertiser_id),
            name=audience.name,
            description=audience.description,
            algebra=audience.algebra,
            ad_set_ids=[str(a) for a in ad_set_ids],
            created_at=audience.created_at,
            updated_at=audience.updated_at,
        ),
    )


def _wire(node: AlgebraNodeV1) -> dict[str, Any]:
    wire: dict[str, Any] = node.model_dump(by_alias=True, exclude_none=True)
    return wire


def _leaf_count(node: AlgebraNodeV1 | None, limit: int) -> int:
    """How many segment references a tree holds, counting no further than past ``limit``."""
    if node is None:
        return 0
    count = 1 if node.audience_segment_id is not None else 0
    for term in (*(node.and_ or []), *(node.or_ or []), node.not_):
        if count > limit:
            break
        count += _leaf_count(term, limit - count)
    return count


def _leaf_ids(node: AlgebraNodeV1 | None) -> set[int]:
    """Every segment id an algebra names, even in a tree that breaks the rules."""
    if node is None:
        return set()
    found = parse_ids([node.audience_segment_id])
    for term in (*(node.and_ or []), *(node.or_ or []), node.not_):
        found |= _leaf_ids(term)
    return found


@dataclass
class Saved:
    """An audience as the service leaves it, with the ad sets linked to it."""

    audience: Audience
    ad_set_ids: list[int]


class AudienceService:
    def __init__(self, session: Session, settings: Settings, clock: Clock) -> None:
        self.session = session
        self.settings = settings
        self.clock = clock
        self.audiences = AudienceRepository(session)
        self.segments = AudienceSegmentRepository(session)
        self.advertisers = AdvertiserRepository(session)
        self.ad_sets = AdSetRepository(session)

    # --- the algebra ------------------------------------------------------------------------

    def check_algebra(
        self,
        raw: AlgebraNodeV1 | None,
        advertiser_id: int | None,
        segments: dict[int, AudienceSegment],
        f: Findings,
    ) -> tuple[dict[str, Any], set[int]] | None:
        """The canonical algebra and the segments it uses, or None with findings added."""
        path = "attributes/algebra"
        if not f.required(raw, "algebra", path):
            return None
        assert raw is not None
        limit = self.settings.algebra_max_leaves
        if _leaf_count(raw, limit) > limit:
            # Refused before any other work on it: nothing of it is parsed, looked up or kept.
            f.add(
                AlgebraTooManyLeaves,
                f"The algebra names more than {limit} segments (REACH_ALGEBRA_MAX_LEAVES)",
                "algebra",
                path,
            )
            return None
        node, errors = algebra.parse(_wire(raw))
        if node is not None:

            def known(segment_id: str) -> bool:
                if advertiser_id is None:
                    return True  # already refused for its advertiser; no noise about segments
                number = parse_id(segment_id)
                segment = segments.get(number) if number is not None else None
                return segment is not None and segment.advertiser_id == advertiser_id

            errors = algebra.check(node, self.settings.algebra_max_depth, known)
        for error in errors:
            node_path = f"{path}/{error.path}" if error.path else path
            f.add(PROBLEM_OF[error.kind], error.detail, "algebra", node_path)
        if node is None or errors:
            return None
        # Segments are named by their own ids ("001" was accepted as segment 1: store "1").
        canonical = algebra.relabel(node, lambda i: str(parse_id(i)))
        return algebra.to_json(canonical), {int(i) for i in algebra.segment_ids(canonical)}

    def segments_named(
        self, trees: Iterable[AlgebraNodeV1 | None], reachable: frozenset[int]
    ) -> dict[int, AudienceSegment]:
        wanted: set[int] = set()
        limit = self.settings.algebra_max_leaves
        for tree in trees:
            # A tree over the limit is refused whole (check_algebra): none of its ids is read.
            if _leaf_count(tree, limit) <= limit:
                wanted |= _leaf_ids(tree)
        return self.segments.by_ids(wanted, reachable)

    # --- create -----------------------------------------------------------------------------

    def create(
        self, reachable: frozenset[int], items: Sequence[AudienceCreateEntityV1Resource]
    ) -> BulkResult[Saved]:
        check_item_count(items, self.settings.max_bulk_items)
        attributes = [item.attributes for item in items]
        self.advertisers.lock(reachable & parse_ids(a.advertiser_id for a in attributes if a))
        segments = self.segments_named((a.algebra for a in attributes if a), reachable)
        result: BulkResult[Saved] = BulkResult()
        candidates: dict[int, tuple[Audience, set[int]]] = {}
        now = self.clock.now()
        for index, attrs in enumerate(attributes):
            findings = Findings()
            made = self._new_audience(attrs, reachable, segments, findings)
            if findings or made is None:
                result.fail(index, findings.problems)
                continue
            audience, used = made
            audience.created_at = audience.updated_at = now
            candidates[index] = (audience, used)
        claims = (NameClaim(i, a.advertiser_id, None, a.name) for i, (a, _) in candidates.items())
        accepted = [
            candidates[c.index] for c in unique_names(result, claims, self.audiences.names_in_use)
        ]
        self.audiences.add_all([audience for audience, _ in accepted])
        self.audiences.set_segments({audience.id: used for audience, used in accepted})
        result.data = [Saved(audience, []) for audience, _ in accepted]
        return result

    def _new_audience(
        self,
        attrs: AudienceCreateEntityV1 | None,
        reachable: frozenset[int],
        segments: dict[int, AudienceSegment],
        f: Findings,
    ) -> tuple[Audience, set[int]] | None:
        if attrs is None:
            f.add(RequiredField, "'attributes' is required", "attributes", "attributes")
            return None
        advertiser_id = item_advertiser(attrs.advertiser_id, reachable, f)
        name = check_name(attrs.name, f, "attributes/name", self.settings.name_max_length)
        description = check_description(
            attrs.description, f, "attributes/description", self.settings.description_max_length
        )
        checked = self.check_algebra(attrs.algebra, advertiser_id, segments, f)
        if f or advertiser_id is None or name is None or checked is None:
            return None
        tree, used = checked
        audience = Audience(
            advertiser_id=advertiser_id, name=name, description=description, algebra=tree
        )
        return audience, used

    # --- update -----------------------------------------------------------------------------

    def update(
        self, reachable: frozenset[int], items: Sequence[AudienceUpdateEntityV1Resource]
    ) -> BulkResult[Saved]:
        check_item_count(items, self.settings.max_bulk_items)
        existing = self._locked([item.id for item in items], reachable)
        segments = self.segments_named(
            (item.attributes.algebra for item in items if item.attributes), reachable
        )
        result: BulkResult[Saved] = BulkResult()
        changes: dict[int, tuple[Audience, str, str | None, Any]] = {}
        seen: set[int] = set()
        for index, item in enumerate(items):
            findings = Findings()
            audience = bulk_target(item.id, existing, seen, findings, AudienceNotFound, "Audience")
            if audience is not None:
                change = self._changes(audience, item.attributes, segments, findings)
                if not findings and change is not None:
                    changes[index] = (audience, *change)
            if findings:
                result.fail(index, findings.problems)

        renames = [
            NameClaim(i, a.advertiser_id, a.id, name)
            for i, (a, name, _, _) in changes.items()
            if name != a.name
        ]
        accepted = unique_names(result, renames, self.audiences.names_in_use)
        refused = {c.index for c in renames} - {c.index for c in accepted}
        now = self.clock.now()
        links: dict[int, set[int]] = {}
        for index, (audience, name, description, checked) in changes.items():
            if index in refused:
                continue
            tree = audience.algebra if checked is None else checked[0]
            if (name, description, tree) != (audience.name, audience.description, audience.algebra):
                audience.name, audience.description, audience.algebra = name, description, tree
                audience.updated_at = now
            if checked is not None:
                links[audience.id] = checked[1]
            result.data.append(Saved(audience, []))
        self.session.flush()
        self.audiences.set_segments(links)
        linked = self.audiences.ad_sets_of(s.audience.id for s in result.data)
        for saved in result.data:
            saved.ad_set_ids = linked.get(saved.audience.id, [])
        return result

    def _changes(
        self,
        audience: Audience,
        attrs: AudienceUpdateEntityV1 | None,
        segments: dict[int, AudienceSegment],
        f: Findings,
    ) -> tuple[str, str | None, tuple[dict[str, Any], set[int]] | None] | None:
        if attrs is None:
            return audience.name, audience.description, None
        limits = (self.settings.name_max_length, self.settings.description_max_length)
        name, description = patch_name_and_description(
            audience, audience.description, attrs.name, attrs.description, f, limits
        )
        checked = None
        if attrs.algebra is not None:
            checked = self.check_algebra(attrs.algebra, audience.advertiser_id, segments, f)
        if f:
            return None
        return name, description, checked

    def _locked(
        self, raw_ids: Sequence[str | None], reachable: frozenset[int]
    ) -> dict[int, Audience]:
        ids = parse_ids(raw_ids)
        self.advertisers.lock(self.audiences.advertisers_of(ids, reachable))
        # Read under the lock: what a concurrent writer committed meanwhile is now visible.
        return self.audiences.by_ids(ids, reachable)

    # --- delete -----------------------------------------------------------------------------

    def delete(
        self, reachable: frozenset[int], items: Sequence[AudienceDeleteEntityV1Resource]
    ) -> BulkResult[int]:
        check_item_count(items, self.settings.max_bulk_items)
        existing = self._locked([item.id for item in items], reachable)
        linked = self.audiences.ad_sets_of(existing)
        result: BulkResult[int] = BulkResult()
        seen: set[int] = set()
        for index, item in enumerate(items):
            findings = Findings()
            audience = bulk_target(item.id, existing, seen, findings, AudienceNotFound, "Audience")
            if audience is not None and linked.get(audience.id):
                findings.add(
                    AudienceInUse,
                    f"Audience {audience.id} is linked to ad set(s) "
                    + ", ".join(map(str, linked[audience.id])),
                    "id",
                    "id",
                )
            if findings or audience is None:
                result.fail(index, findings.problems)
            else:
                result.data.append(audience.id)
        self.audiences.delete(result.data)
        return result

    # --- search -----------------------------------------------------------------------------

    def search(
        self, reachable: frozenset[int], filters: AudienceSearchEntityV1 | None, page: Page
    ) -> tuple[list[Saved], int]:
        advertiser_ids: Collection[int] = reachable
        audience_ids = segment_ids = ad_set_ids = None
        if filters is not None:
            if filters.advertiser_ids:
                advertiser_ids = advertiser_filter(filters.advertiser_ids, reachable)
            if filters.audience_ids:
                audience_ids = parse_ids(filters.audience_ids)
            if filters.audience_segment_ids:
                segment_ids = parse_ids(filters.audience_segment_ids)
            if filters.ad_set_ids:
                ad_set_ids = parse_ids(filters.ad_set_ids)
        rows, total = self.audiences.search(
            advertiser_ids, audience_ids, segment_ids, ad_set_ids, page.limit, page.offset
        )
        linked = self.audiences.ad_sets_of(a.id for a in rows)
        return [Saved(a, linked.get(a.id, [])) for a in rows], total

    # --- ad-set links -----------------------------------------------------------------------

    def link_ad_set(
        self, reachable: frozenset[int], raw_ad_set_id: str, body: AdSetAudienceLinkInputEntityV1
    ) -> AdSet:
        """Link the ad set to an audience of its advertiser, or unlink it (``audienceId`` null)."""
        ad_set_id = parse_id(raw_ad_set_id)
        ad_set = self.ad_sets.get(ad_set_id) if ad_set_id is not None else None
        if ad_set is None or ad_set.advertiser_id not in reachable:
            raise AdSetNotFound(f"Ad set '{raw_ad_set_id}' does not exist")
        resource = body.data
        attributes = resource.attributes if resource is not None else None
        if attributes is None or "audience_id" not in attributes.model_fields_set:
            raise RequiredField(
                "'audienceId' is required (null unlinks the ad set)",
                source={"audienceId": "data/attributes/audienceId"},
            )
        if resource is not None and resource.id is not None and resource.id != raw_ad_set_id:
            raise Invalid(
                f"'data/id' is '{resource.id}' but the path names ad set '{raw_ad_set_id}'",
                source={"id": "data/id"},
            )
        self.advertisers.lock([ad_set.advertiser_id])
        self.session.refresh(ad_set)
        if attributes.audience_id is None:
            ad_set.audience_id = None
            return ad_set
        audience_id = parse_id(attributes.audience_id)
        audience = (
            self.audiences.by_ids([audience_id], reachable).get(audience_id)
            if audience_id is not None
            else None
        )
        if audience is None:
            raise AudienceNotFound(
                f"Audience '{attributes.audience_id}' does not exist",
                source={"audienceId": "data/attributes/audienceId"},
            )
        if audience.advertiser_id != ad_set.advertiser_id:
            raise Invalid(
                f"Audience {audience.id} belongs to advertiser {audience.advertiser_id}, the ad set"
                f" to advertiser {ad_set.advertiser_id}",
                source={"audienceId": "data/attributes/audienceId"},
            )
        ad_set.audience_id = audience.id
        self.session.flush()
        return ad_set
