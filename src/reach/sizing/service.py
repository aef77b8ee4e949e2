"""Size logic: compute-sizes and estimate-size for segments and audiences, in-market list sizes.

Every number comes from the published index (docs/segments.md) and is answered as the privacy
mode says (docs/privacy.md): noised and rounded by default, withheld below the floor (null, with
a warning); every answer tells how fresh its data is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from threading import Lock

from pyroaring import AbstractBitMap, FrozenBitMap
from sqlalchemy.orm import Session

from reach.audience import algebra
from reach.audience.errors import AudienceNotFound
from reach.audience.repository import AudienceRepository
from reach.audience.schemas import (
    AlgebraNodeV1,
    AudienceComputeSizeEntityV1Resource,
    AudienceEstimateSizeInputV1,
)
from reach.audience.service import AudienceService
from reach.audience_segment.errors import SegmentNotFound
from reach.audience_segment.membership import (
    MembershipCache,
    definition_question,
    in_market_members,
    members,
)
from reach.audience_segment.repository import AudienceSegmentRepository
from reach.audience_segment.rules import SegmentRules
from reach.audience_segment.schemas import (
    AudienceSegmentComputeSizeEntityV1Resource,
    AudienceSegmentEstimateSizeInputV1,
    InMarketV1,
)
from reach.config import Settings
from reach.contact_list.service import ListMatches, Matches
from reach.engine.query import Index
from reach.kit.access import item_advertiser
from reach.kit.bulk import BulkResult, check_item_count
from reach.kit.clock import Clock
from reach.kit.findings import Findings, bulk_target
from reach.kit.ids import parse_id, parse_ids
from reach.kit.metrics import SIZES_COMPUTED
from reach.kit.problems import Invalid, Problem, RequestProblems, RequiredField
from reach.kit.sizes import IndexUnavailable, floor_warning, freshness
from reach.lookalike.errors import LookalikeUnavailable
from reach.lookalike.service import Lookalikes, LookalikeService
from reach.models import AudienceSegment
from reach.reference.repository import BrandRepository
from reach.reference.taxonomy import taxonomy


@dataclass
class Sized:
    """The answer of a size operation: sizes by id (or one estimate), problems and warnings."""

    result: BulkResult[tuple[int, int | None]] = field(default_factory=BulkResult)
    warnings: list[Problem] = field(default_factory=list)


@dataclass(slots=True)
class Estimate:
    """One algebra's estimate: its size (None when withheld or refused), the problems that
    refused it, the warnings of its answer."""

    size: int | None = None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def require(index: Index | None) -> Index:
    if index is None:
        raise IndexUnavailable(
            "No index is in service: ingest event data and run `reach index build`"
        )
    return index


class SizingService:
    def __init__(
        self,
        session: Session,
        settings: Settings,
        clock: Clock,
        index: Index | None,
        lists: ListMatches,
        lookalikes: Lookalikes,
        memberships: MembershipCache,
    ) -> None:
        self.session = session
        self.lists = lists
        self.privacy = lists.privacy
        self.memberships = memberships
        self.settings = settings
        self.clock = clock
        self.index = require(index)
        self.segments = AudienceSegmentRepository(session)
        self.audiences = AudienceRepository(session)
        self.lookalikes = LookalikeService(session, settings, self.index, lists, lookalikes)
        # Each list is matched once per request, so its members and its question always come
        # from the same version of it, even while it is being amended.
        self._lists: dict[int, Matches] = {}

    def _report(self, size: int, question: str, path: str, warnings: list[Problem]) -> int | None:
        SIZES_COMPUTED.inc()
        shown = self.privacy.count(size, question, self.index.build_id)
        if shown is None:
            warnings.append(floor_warning(self.privacy.floor, path))
        return shown

    def _fresh(self) -> list[Problem]:
        """The warnings of every size answer: the privacy mode when exact, the data's age."""
        return self.privacy.notice() + freshness(
            self.index.as_of,
            self.index.built_at,
            self.clock.now(),
            self.settings.index_max_age_hours,
        )

    def _list(self, segment: AudienceSegment) -> Matches:
        found = self._lists.get(segment.id)
        if found is None:
            found = self._lists[segment.id] = self.lists.get(segment.id, self.index)
        return found

    def _question(self, segment: AudienceSegment) -> str:
        """What a segment's size answers, in a canonical text (docs/privacy.md)."""
        if segment.type == "ContactList":
            return self._list(segment).question
        if segment.type == "Lookalike":
            return self.lookalikes.question(segment)
        question = definition_question(segment.type, segment.advertiser_id, segment.definition)
        assert question is not None, segment.type
        return question

    def _audience_question(self, node: algebra.Node, segments: dict[int, AudienceSegment]) -> str:
        return "Audience/" + algebra.canonical(node, lambda raw: self._question(segments[int(raw)]))

    def segment_members(self, segment: AudienceSegment) -> AbstractBitMap:
        """The people of a segment over the index in service, as its size counts them."""
        return members(
            self.index,
            self.settings,
            segment.type,
            segment.advertiser_id,
            segment.definition,
            contact_list=lambda: self.lists.reached(self._list(segment), self.index.build_id),
            lookalike=lambda: self.lookalikes.members(segment),
            cache=self.memberships,
        )

    # --- segments ----------------------------------------------------------------------------

    def segment_sizes(
        self, reachable: frozenset[int], items: Sequence[AudienceSegmentComputeSizeEntityV1Resource]
    ) -> Sized:
        check_item_count(items, self.settings.max_bulk_items)
        existing = self.segments.by_ids(parse_ids(item.id for item in items), reachable)
        sized = Sized(warnings=self._fresh())
        seen: set[int] = set()
        for index, item in enumerate(items):
            f = Findings()
            segment = bulk_target(item.id, existing, seen, f, SegmentNotFound, "Segment")
            if segment is None:
                sized.result.fail(index, f.problems)
                continue
            path = f"data/{index}/attributes/size"
            if segment.type == "Lookalike":
                sized.warnings.extend(self.lookalikes.diagnostics(segment, path))
            try:
                size = len(self.segment_members(segment))
            except LookalikeUnavailable as problem:
                problem.source = {"size": path}
                sized.warnings.append(problem)
                sized.result.data.append((segment.id, None))
                continue
            sized.result.data.append(
                (segment.id, self._report(size, self._question(segment), path, sized.warnings))
            )
        return sized

    def estimate_segment(
        self, reachable: frozenset[int], body: AudienceSegmentEstimateSizeInputV1
    ) -> Sized:
        f = Findings()
        attrs = body.data.attributes if body.data is not None else None
        if attrs is None:
            raise RequestProblems(
                [
                    RequiredField(
                        "'data/attributes' is required", source={"attributes": "data/attributes"}
                    )
                ]
            )
        advertiser_id = item_advertiser(attrs.advertiser_id, reachable, f)
        rules = SegmentRules(
            self.settings,
            taxonomy(),
            BrandRepository(self.session).existing_ids(
                parse_ids(attrs.in_market.brand_ids or []) if attrs.in_market else []
            ),
        )
        bitmap: AbstractBitMap | None = None
        question: str | None = None
        if (attrs.in_market is None) == (attrs.location is None):
            f.add(
                Invalid,
                "Estimate exactly one definition: inMarket or location",
                "type",
                "attributes",
            )
        elif attrs.in_market is not None:
            spec = rules.in_market(attrs.in_market, f, "attributes/inMarket")
            if spec is not None and not f and advertiser_id is not None:
                bitmap = in_market_members(self.index, spec)
                question = definition_question("InMarket", advertiser_id, spec.model_dump())
        elif attrs.location is not None:
            loc = rules.location(attrs.location, f, "attributes/location")
            if loc is not None and not f and advertiser_id is not None:
                bitmap = members(self.index, self.settings, "Location", 0, loc.model_dump())
                question = definition_question("Location", advertiser_id, loc.model_dump())
        if f or bitmap is None or question is None or advertiser_id is None:
            raise RequestProblems(p.within("data") for p in f.problems)
        sized = Sized(warnings=self._fresh())
        sized.result.data.append(
            (
                advertiser_id,
                self._report(len(bitmap), question, "data/attributes/size", sized.warnings),
            )
        )
        return sized

    # --- audiences ---------------------------------------------------------------------------

    def audience_sizes(
        self, reachable: frozenset[int], items: Sequence[AudienceComputeSizeEntityV1Resource]
    ) -> Sized:
        check_item_count(items, self.settings.max_bulk_items)
        existing = self.audiences.by_ids(parse_ids(item.id for item in items), reachable)
        leaves: set[int] = set()
        trees = {}
        for audience_id, stored in existing.items():
            node, _ = algebra.parse(stored.algebra)
            if node is not None:
                trees[audience_id] = node
                leaves |= parse_ids(algebra.segment_ids(node))
        segments = self.segments.by_ids(leaves, reachable)
        cache: dict[int, AbstractBitMap] = {}
        sized = Sized(warnings=self._fresh())
        seen: set[int] = set()
        for index, item in enumerate(items):
            f = Findings()
            audience = bulk_target(item.id, existing, seen, f, AudienceNotFound, "Audience")
            if audience is None:
                sized.result.fail(index, f.problems)
                continue
            path = f"data/{index}/attributes/size"
            try:
                size = len(self.audience_members(trees[audience.id], segments, cache))
            except LookalikeUnavailable as problem:
                problem.source = {"size": path}
                sized.warnings.append(problem)
                sized.result.data.append((audience.id, None))
                continue
            question = self._audience_question(trees[audience.id], segments)
            sized.result.data.append(
                (audience.id, self._report(size, question, path, sized.warnings))
            )
        return sized

    def audience_members(
        self,
        node: algebra.Node,
        segments: dict[int, AudienceSegment],
        cache: dict[int, AbstractBitMap] | None = None,
    ) -> AbstractBitMap:
        """The people of an audience's algebra (its ``segments`` by id), as its size counts
        them; ``cache`` keeps each segment's members for the next audience of a request."""
        return algebra.evaluate(node, partial(self._leaf, segments, {} if cache is None else cache))

    def _leaf(
        self, segments: dict[int, AudienceSegment], cache: dict[int, AbstractBitMap], raw: str
    ) -> AbstractBitMap:
        segment_id = int(raw)
        if segment_id not in cache:
            cache[segment_id] = self.segment_members(segments[segment_id])
        return cache[segment_id]

    def estimate_audience(
        self, reachable: frozenset[int], body: AudienceEstimateSizeInputV1
    ) -> Sized:
        attrs = body.data.attributes if body.data is not None else None
        if attrs is None:
            raise RequestProblems(
                [
                    RequiredField(
                        "'data/attributes' is required", source={"attributes": "data/attributes"}
                    )
                ]
            )
        [estimate] = self.estimate_audiences(reachable, attrs.advertiser_id, [attrs.algebra])
        if estimate.errors:
            raise RequestProblems(estimate.errors)
        advertiser_id = parse_id(attrs.advertiser_id)
        assert advertiser_id is not None  # checked with the algebra
        sized = Sized(warnings=estimate.warnings)
        sized.result.data.append((advertiser_id, estimate.size))
        return sized

    def estimate_audiences(
        self,
        reachable: frozenset[int],
        advertiser: str | None,
        trees: Sequence[AlgebraNodeV1 | None],
    ) -> list[Estimate]:
        """Each algebra of ``advertiser`` estimated as estimate-size estimates it (same checks,
        same members, same privacy treatment of the same question); what the algebras share is
        done once: one read of their segments, each segment's members taken once."""
        audiences = AudienceService(self.session, self.settings, self.clock)
        segments = audiences.segments_named(trees, reachable)
        members: dict[int, AbstractBitMap] = {}
        estimates: list[Estimate] = []
        for raw in trees:
            f = Findings()
            advertiser_id = item_advertiser(advertiser, reachable, f)
            checked = audiences.check_algebra(raw, advertiser_id, segments, f)
            if f or checked is None or advertiser_id is None:
                estimates.append(Estimate(errors=[p.within("data") for p in f.problems]))
                continue
            node, _ = algebra.parse(checked[0])
            assert node is not None
            warnings = self._fresh()
            try:
                size = len(self.audience_members(node, segments, members))
            except LookalikeUnavailable as problem:
                problem.source = {"size": "data/attributes/size"}
                estimates.append(Estimate(warnings=[*warnings, problem]))
                continue
            question = self._audience_question(node, segments)
            reported = self._report(size, question, "data/attributes/size", warnings)
            estimates.append(Estimate(size=reported, warnings=warnings))
        return estimates


class InMarketSizes:
    """Sizes of the in-market lists per country, cached per index build (they change only
    when a new build is published)."""

    def __init__(self) -> None:
        self._lock = Lock()
        self._cache: dict[tuple[str, str, str], dict[str, int]] = {}

    def _cached(
        self, key: tuple[str, str, str], compute: Callable[[], dict[str, int]]
    ) -> dict[str, int]:
        with self._lock:
            found = self._cache.get(key)
        if found is None:
            found = compute()
            with self._lock:
                # Keep only the builds in use: a new build makes older entries useless.
                self._cache = {k: v for k, v in self._cache.items() if k[0] == key[0]}
                self._cache[key] = found
        return found

    def brands(self, index: Index, country: str, brand_ids: Sequence[int]) -> dict[str, int]:
        def compute() -> dict[str, int]:
            return {
                str(b): len(
                    in_market_members(index, InMarketV1(country=country, brand_ids=[str(b)]))
                )
                for b in brand_ids
            }

        return self._cached((index.build_id, "brands", country), compute)

    def interests(self, index: Index, country: str) -> dict[str, int]:
        def compute() -> dict[str, int]:
            tree = taxonomy()
            sizes: dict[str, int] = {}

            def subtree(interest_id: str) -> AbstractBitMap:
                # Post-order: each node's users are its own plus its children's.
                own = index.in_market(country, interest_ids=[interest_id])
                parts = [own, *(subtree(child) for child in tree.children.get(interest_id, []))]
                found = FrozenBitMap.union(*parts) if len(parts) > 1 else own
                sizes[interest_id] = len(found)
                return found

            for interest in tree.interests.values():
                if interest.parent_id is None:
                    subtree(interest.id)
            return sizes

        return self._cached((index.build_id, "interests", country), compute)
