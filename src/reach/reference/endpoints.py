"""HTTP handlers of the in-market brand and interest lists."""

from __future__ import annotations

from fastapi import APIRouter, Request

from reach.auth.auth import AudienceReader
from reach.deps import ClockDep, ReadSession
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

router = APIRouter(prefix="/2025-01/marketing-solutions/audience-segments", tags=["Audience"])


@router.get("/in-market-brands", operation_id="GetAudienceSegmentsInMarketBrands")
def get_audience_segments_in_market_brands(
    request: Request, client: AudienceReader, session: ReadSession, clock: ClockDep
) -> JsonResponse:
    brands = ReferenceService(session, clock).in_market_brands(
        client.advertiser_ids,
        request.query_params.get("advertiser-id"),
        request.query_params.get("country"),
    )
    return JsonResponse(
        InMarketAudienceSegmentBrandEntityV1ListResponse(
            data=[
                InMarketAudienceSegmentBrandEntityV1Resource(
                    id=str(b.id), attributes=InMarketAudienceSegmentBrandEntityV1(name=b.name)
                )
                for b in brands
            ]
        )
    )


@router.get("/in-market-interests", operation_id="GetAudienceSegmentsInMarketInterests")
def get_audience_segments_in_market_interests(
    request: Request, client: AudienceReader, session: ReadSession, clock: ClockDep
) -> JsonResponse:
    interests = ReferenceService(session, clock).in_market_interests(
        client.advertiser_ids,
        request.query_params.get("advertiser-id"),
        request.query_params.get("country"),
    )
    return JsonResponse(
        InMarketAudienceSegmentInterestEntityV1ListResponse(
            data=[
                InMarketAudienceSegmentInterestEntityV1Resource(
                    id=i.id,
                    attributes=InMarketAudienceSegmentInterestEntityV1(parent_id=i.parent_id),
                )
                for i in interests
            ]
        )
    )
