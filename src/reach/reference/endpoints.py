"""HTTP handlers of the in-market brand and interest lists, with their sizes for the country."""

from __future__ import annotations

from fastapi import APIRouter, Request

from reach.auth.auth import AudienceReader
from reach.config import Settings
from reach.deps import ClockDep, ReadSession, SettingsDep
from reach.engine.query import Index, IndexProvider
from reach.kit.middleware import wire_problems
from reach.kit.privacy import SizePrivacy
from reach.kit.problems import Problem
from reach.kit.sizes import IndexUnavailable, SizeBelowFloor, freshness, freshness_headers
from reach.kit.wire import JsonResponse
from reach.reference.schemas import (
    InMarketAudienceSegmentBrandEntityV1,
    InMarketAudienceSegmentBrandEntityV1ListResponse,
    InMarketAudienceSegmentBrandEntityV1Resource,
    InMarketAudienceSegmentInterestEntityV1,
    InMarketAudienceSegmentInterestEntityV1ListResponse,
    InMarketAudienceSegmentInterestEntityV1Resource,
)
from reach.reference.service import ReferenceService
from reach.sizing.service import InMarketSizes

router = APIRouter(prefix="/marketing-solutions/audience-segments", tags=["Audience"])


class ListSizes:
    """The sizes of one list answer, as the privacy mode says: withheld below the floor,
    absent without an index."""

    def __init__(
        self, request: Request, settings: Settings, clock: ClockDep, kind: str, country: str
    ) -> None:
        provider: IndexProvider = request.app.state.indexes
        self.index: Index | None = provider.current()
        self.cache: InMarketSizes = request.app.state.in_market_sizes
        self.privacy: SizePrivacy = request.app.state.list_matches.privacy
        self.question = f"{kind}/{country}"
        self.withheld = 0
        self.warnings: list[Problem] = []
        self.headers: dict[str, str] = {}
        if self.index is None:
            self.warnings.append(
                IndexUnavailable("No index is in service yet: sizes are null until one is built")
            )
        else:
            self.headers = freshness_headers(self.index.as_of, self.index.built_at)
            self.warnings += self.privacy.notice() + freshness(
                self.index.as_of, self.index.built_at, clock.now(), settings.index_max_age_hours
            )

    def shown(self, sizes: dict[str, int], key: str) -> int | None:
        if self.index is None:
            return None
        size = self.privacy.count(sizes.get(key, 0), f"{self.question}/{key}", self.index.build_id)
        if size is None:
            self.withheld += 1
        return size

    def wire(self, request: Request) -> list[dict[str, object]]:
        if self.withheld and self.index is not None:
            self.warnings.append(
                SizeBelowFloor(
                    f"{self.withheld} sizes below {self.privacy.floor} people are withheld (null)"
                )
            )
        return wire_problems(request, self.warnings)


@router.get("/in-market-brands", operation_id="GetAudienceSegmentsInMarketBrands")
def get_audience_segments_in_market_brands(
    request: Request,
    client: AudienceReader,
    session: ReadSession,
    clock: ClockDep,
    settings: SettingsDep,
) -> JsonResponse:
    country, brands = ReferenceService(session, clock).in_market_brands(
        client.advertiser_ids,
        request.query_params.get("advertiser-id"),
        request.query_params.get("country"),
    )
    listed = ListSizes(request, settings, clock, "InMarketBrand", country)
    sizes = (
        listed.cache.brands(listed.index, country, [b.id for b in brands]) if listed.index else {}
    )
    return JsonResponse(
        InMarketAudienceSegmentBrandEntityV1ListResponse(
            data=[
                InMarketAudienceSegmentBrandEntityV1Resource(
                    id=str(b.id),
                    attributes=InMarketAudienceSegmentBrandEntityV1(
                        name=b.name, size=listed.shown(sizes, str(b.id))
                    ),
                )
                for b in brands
            ],
            warnings=listed.wire(request),
        ),
        headers=listed.headers,
    )


@router.get("/in-market-interests", operation_id="GetAudienceSegmentsInMarketInterests")
def get_audience_segments_in_market_interests(
    request: Request,
    client: AudienceReader,
    session: ReadSession,
    clock: ClockDep,
    settings: SettingsDep,
) -> JsonResponse:
    country, interests = ReferenceService(session, clock).in_market_interests(
        client.advertiser_ids,
        request.query_params.get("advertiser-id"),
        request.query_params.get("country"),
    )
    listed = ListSizes(request, settings, clock, "InMarketInterest", country)
    sizes = listed.cache.interests(listed.index, country) if listed.index else {}
    return JsonResponse(
        InMarketAudienceSegmentInterestEntityV1ListResponse(
            data=[
                InMarketAudienceSegmentInterestEntityV1Resource(
                    id=i.id,
                    attributes=InMarketAudienceSegmentInterestEntityV1(
                        parent_id=i.parent_id, size=listed.shown(sizes, i.id)
                    ),
                )
                for i in interests
            ],
            warnings=listed.wire(request),
        ),
        headers=listed.headers,
    )
