"""HTTP handlers of compute-sizes and estimate-size, for segments and for audiences."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from reach.audience.schemas import (
    AudienceComputeSizesInputV1,
    AudienceEstimateSizeInputV1,
    AudienceSizeEntityV1,
    AudienceSizeEntityV1ListResponse,
    AudienceSizeEntityV1Resource,
    AudienceSizeEstimationV1Resource,
    AudienceSizeEstimationV1Response,
)
from reach.audience_segment.schemas import (
    AudienceSegmentComputeSizesInputV1,
    AudienceSegmentEstimateSizeInputV1,
    AudienceSegmentSizeEntityV1,
    AudienceSegmentSizeEntityV1ListResponse,
    AudienceSegmentSizeEntityV1Resource,
    AudienceSegmentSizeEstimationV1Resource,
    AudienceSegmentSizeEstimationV1Response,
)
from reach.auth.auth import AudienceManager
from reach.deps import ClockDep, ReadSession, SettingsDep
from reach.engine.query import Index, IndexProvider
from reach.kit.jsonbody import json_body
from reach.kit.middleware import wire_problems
from reach.kit.sizes import freshness_headers
from reach.kit.wire import JsonResponse
from reach.sizing.service import Sized, SizingService

router = APIRouter(prefix="/marketing-solutions", tags=["Audience"])


def current_index(request: Request) -> Index | None:
    provider: IndexProvider = request.app.state.indexes
    return provider.current()


IndexDep = Annotated[Index | None, Depends(current_index)]
SegmentSizesBody = Annotated[
    AudienceSegmentComputeSizesInputV1, Depends(json_body(AudienceSegmentComputeSizesInputV1))
]
SegmentEstimateBody = Annotated[
    AudienceSegmentEstimateSizeInputV1, Depends(json_body(AudienceSegmentEstimateSizeInputV1))
]
AudienceSizesBody = Annotated[
    AudienceComputeSizesInputV1, Depends(json_body(AudienceComputeSizesInputV1))
]
AudienceEstimateBody = Annotated[
    AudienceEstimateSizeInputV1, Depends(json_body(AudienceEstimateSizeInputV1))
]


async def sizing_service(
    request: Request, session: ReadSession, settings: SettingsDep, clock: ClockDep, index: IndexDep
) -> SizingService:
    state = request.app.state
    return SizingService(
        session,
        settings,
        clock,
        index,
        state.list_matches,
        state.lookalikes,
        state.memberships,
    )


# Declared after the client and the body, so that authentication and validation come first.
SizingDep = Annotated[SizingService, Depends(sizing_service)]


def _headers(service: SizingService) -> dict[str, str]:
    return freshness_headers(service.index.as_of, service.index.built_at)


@router.post("/audience-segments/compute-sizes", operation_id="ComputeAudienceSegmentsSizes")
def compute_audience_segments_sizes(
    request: Request,
    client: AudienceManager,
    body: SegmentSizesBody,
    service: SizingDep,
) -> JsonResponse:
    sized: Sized = service.segment_sizes(client.advertiser_ids, body.data)
    return JsonResponse(
        AudienceSegmentSizeEntityV1ListResponse(
            data=[
                AudienceSegmentSizeEntityV1Resource(
                    id=str(i), attributes=AudienceSegmentSizeEntityV1(size=size)
                )
                for i, size in sized.result.data
            ],
            errors=wire_problems(request, sized.result.errors),
            warnings=wire_problems(request, sized.warnings),
        ),
        headers=_headers(service),
    )


@router.post("/audience-segments/estimate-size", operation_id="EstimateAudienceSegmentsSizes")
def estimate_audience_segments_sizes(
    request: Request,
    client: AudienceManager,
    body: SegmentEstimateBody,
    service: SizingDep,
) -> JsonResponse:
    sized = service.estimate_segment(client.advertiser_ids, body)
    [(_, size)] = sized.result.data
    return JsonResponse(
        AudienceSegmentSizeEstimationV1Response(
            data=AudienceSegmentSizeEstimationV1Resource(
                attributes=AudienceSegmentSizeEntityV1(size=size)
            ),
            warnings=wire_problems(request, sized.warnings),
        ),
        headers=_headers(service),
    )


@router.post("/audiences/compute-sizes", operation_id="ComputeAudiencesSizes")
def compute_audiences_sizes(
    request: Request,
    client: AudienceManager,
    body: AudienceSizesBody,
    service: SizingDep,
) -> JsonResponse:
    sized = service.audience_sizes(client.advertiser_ids, body.data)
    return JsonResponse(
        AudienceSizeEntityV1ListResponse(
            data=[
                AudienceSizeEntityV1Resource(id=str(i), attributes=AudienceSizeEntityV1(size=size))
                for i, size in sized.result.data
            ],
            errors=wire_problems(request, sized.result.errors),
            warnings=wire_problems(request, sized.warnings),
        ),
        headers=_headers(service),
    )


@router.post("/audiences/estimate-size", operation_id="EstimateAudiencesSizes")
def estimate_audiences_sizes(
    request: Request,
    client: AudienceManager,
    body: AudienceEstimateBody,
    service: SizingDep,
) -> JsonResponse:
    sized = service.estimate_audience(client.advertiser_ids, body)
    [(_, size)] = sized.result.data
    return JsonResponse(
        AudienceSizeEstimationV1Response(
            data=AudienceSizeEstimationV1Resource(attributes=AudienceSizeEntityV1(size=size)),
            warnings=wire_problems(request, sized.warnings),
        ),
        headers=_headers(service),
    )
