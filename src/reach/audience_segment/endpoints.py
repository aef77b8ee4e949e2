"""HTTP handlers of the audience-segment operations: thin, named after the spec's operationIds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request

from reach.audience_segment.schemas import (
    AudienceSegmentBulkCreateInputV1,
    AudienceSegmentBulkDeleteInputV1,
    AudienceSegmentBulkUpdateInputV1,
    AudienceSegmentEntityV1AudienceSegmentSearchMetadataV1ListResponse,
    AudienceSegmentEntityV1ListResponse,
    AudienceSegmentIdEntityV1ListResponse,
    AudienceSegmentIdEntityV1Resource,
    AudienceSegmentSearchInputV1,
)
from reach.audience_segment.service import AudienceSegmentService, to_resource
from reach.auth.auth import AudienceManager, AudienceReader
from reach.deps import ClockDep, ReadSession, SettingsDep, WriteSession
from reach.kit.jsonbody import json_body
from reach.kit.middleware import wire_problems
from reach.kit.pagination import Page, page_params
from reach.kit.wire import JsonResponse, SearchMeta
from reach.models import AudienceSegment

router = APIRouter(prefix="/marketing-solutions/audience-segments", tags=["Audience"])

CreateBody = Annotated[
    AudienceSegmentBulkCreateInputV1, Depends(json_body(AudienceSegmentBulkCreateInputV1))
]
UpdateBody = Annotated[
    AudienceSegmentBulkUpdateInputV1, Depends(json_body(AudienceSegmentBulkUpdateInputV1))
]
DeleteBody = Annotated[
    AudienceSegmentBulkDeleteInputV1, Depends(json_body(AudienceSegmentBulkDeleteInputV1))
]
SearchBody = Annotated[
    AudienceSegmentSearchInputV1, Depends(json_body(AudienceSegmentSearchInputV1))
]
PageDep = Annotated[Page, Depends(page_params)]


def _build_lookalikes(
    request: Request, background: BackgroundTasks, segments: list[AudienceSegment]
) -> None:
    """New or changed lookalikes get their model built, once committed (background tasks run
    after the answer is sent, so the worker sees them)."""
    if any(segment.type == "Lookalike" for segment in segments):
        background.add_task(request.app.state.lookalikes.wake)


@router.post("/create", operation_id="CreateAudienceSegments")
def create_audience_segments(
    request: Request,
    background: BackgroundTasks,
    client: AudienceManager,
    body: CreateBody,
    session: WriteSession,
    settings: SettingsDep,
    clock: ClockDep,
) -> JsonResponse:
    result = AudienceSegmentService(session, settings, clock).create(
        client.advertiser_ids, body.data
    )
    _build_lookalikes(request, background, result.data)
    return JsonResponse(
        AudienceSegmentEntityV1ListResponse(
            data=[to_resource(s) for s in result.data], errors=wire_problems(request, result.errors)
        )
    )


@router.patch("", operation_id="UpdateAudienceSegments")
def update_audience_segments(
    request: Request,
    background: BackgroundTasks,
    client: AudienceManager,
    body: UpdateBody,
    session: WriteSession,
    settings: SettingsDep,
    clock: ClockDep,
) -> JsonResponse:
    result = AudienceSegmentService(session, settings, clock).update(
        client.advertiser_ids, body.data
    )
    _build_lookalikes(request, background, result.data)
    return JsonResponse(
        AudienceSegmentEntityV1ListResponse(
            data=[to_resource(s) for s in result.data], errors=wire_problems(request, result.errors)
        )
    )


@router.post("/delete", operation_id="DeleteAudienceSegments")
def delete_audience_segments(
    request: Request,
    background: BackgroundTasks,
    client: AudienceManager,
    body: DeleteBody,
    session: WriteSession,
    settings: SettingsDep,
    clock: ClockDep,
) -> JsonResponse:
    result = AudienceSegmentService(session, settings, clock).delete(
        client.advertiser_ids, body.data
    )
    # Once committed (background tasks run after the answer), the identifiers of deleted
    # contact lists go too.
    lists = request.app.state.list_matches.lists
    for segment_id in result.data:
        background.add_task(lists.drop, segment_id)
    # ...and the results of deleted lookalikes.
    if any(request.app.state.lookalikes.results.has_any(i) for i in result.data):
        background.add_task(request.app.state.lookalikes.wake)
    return JsonResponse(
        AudienceSegmentIdEntityV1ListResponse(
            data=[AudienceSegmentIdEntityV1Resource(id=str(i)) for i in result.data],
            errors=wire_problems(request, result.errors),
        )
    )


@router.post("/search", operation_id="SearchAudienceSegments")
def search_audience_segments(
    client: AudienceReader,
    page: PageDep,
    body: SearchBody,
    session: ReadSession,
    settings: SettingsDep,
    clock: ClockDep,
) -> JsonResponse:
    filters = body.data.attributes if body.data is not None else None
    rows, total = AudienceSegmentService(session, settings, clock).search(
        client.advertiser_ids, filters, page
    )
    return JsonResponse(
        AudienceSegmentEntityV1AudienceSegmentSearchMetadataV1ListResponse(
            data=[to_resource(s) for s in rows],
            meta=SearchMeta(limit=page.limit, offset=page.offset, total_items=total),
        )
    )
