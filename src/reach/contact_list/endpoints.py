"""HTTP handlers of the contact-list operations: amend, wipe, statistics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from reach.auth.auth import AudienceManager, AudienceReader
from reach.contact_list.schemas import (
    BasicAudienceDefinition,
    ContactlistAmendmentRequest,
    ContactlistOperation,
    ContactlistOperationAttributes,
    ContactListStatisticsEntityV1,
    ContactListStatisticsEntityV1Resource,
    ContactListStatisticsEntityV1Response,
    DeleteAudienceContactListResponse,
    ModifyAudienceResponse,
)
from reach.contact_list.service import ContactListService
from reach.deps import ClockDep, ReadSession, SettingsDep, WriteSession
from reach.kit.jsonbody import json_body
from reach.kit.middleware import wire_problems
from reach.kit.wire import JsonResponse
from reach.sizing.endpoints import IndexDep

router = APIRouter(
    prefix="/marketing-solutions/audience-segments/{audience_segment_id}/contact-list",
    tags=["Audience"],
)
# The older path integrations still call (``PATCH/DELETE /{version}/audiences/{id}/contactlist``):
# the same handlers, so bodies, answers, errors and the rate limit are the same.
legacy_router = APIRouter(prefix="/audiences/{audience_segment_id}/contactlist", tags=["Audience"])

AmendmentBody = Annotated[
    ContactlistAmendmentRequest, Depends(json_body(ContactlistAmendmentRequest))
]


@router.patch("", operation_id="UpdateContactListByAudienceSegment")
def update_contact_list_by_audience_segment(
    request: Request,
    audience_segment_id: str,
    client: AudienceManager,
    body: AmendmentBody,
    session: WriteSession,
    settings: SettingsDep,
    clock: ClockDep,
    index: IndexDep,
) -> JsonResponse:
    service = ContactListService(session, settings, clock, request.app.state.list_matches, index)
    receipt = service.amend(client.advertiser_ids, audience_segment_id, body)
    return JsonResponse(
        ModifyAudienceResponse(
            data=ContactlistOperation(
                attributes=ContactlistOperationAttributes(
                    contact_list_id=receipt.contact_list_id,
                    operation=receipt.operation,
                    request_date=receipt.request_date,
                    identifier_type=receipt.identifier_type,
                    nb_valid_identifiers=receipt.valid,
                    nb_invalid_identifiers=receipt.invalid,
                    sample_invalid_identifiers=receipt.sample,
                )
            ),
            warnings=wire_problems(request, receipt.warnings),
        )
    )


@router.delete("", operation_id="DeleteContactListByAudienceSegment")
def delete_contact_list_by_audience_segment(
    request: Request,
    audience_segment_id: str,
    client: AudienceManager,
    session: WriteSession,
    settings: SettingsDep,
    clock: ClockDep,
    index: IndexDep,
) -> JsonResponse:
    service = ContactListService(session, settings, clock, request.app.state.list_matches, index)
    segment = service.wipe(client.advertiser_ids, audience_segment_id)
    return JsonResponse(
        DeleteAudienceContactListResponse(data=BasicAudienceDefinition(id=str(segment.id)))
    )


@router.get("/statistics", operation_id="GetAudienceSegmentContactListStatistics")
def get_audience_segment_contact_list_statistics(
    request: Request,
    audience_segment_id: str,
    client: AudienceReader,
    session: ReadSession,
    settings: SettingsDep,
    clock: ClockDep,
    index: IndexDep,
) -> JsonResponse:
    service = ContactListService(session, settings, clock, request.app.state.list_matches, index)
    stats = service.statistics(client.advertiser_ids, audience_segment_id)
    return JsonResponse(
        ContactListStatisticsEntityV1Response(
            data=ContactListStatisticsEntityV1Resource(
                id=audience_segment_id,
                attributes=ContactListStatisticsEntityV1(
                    number_of_identifiers=stats.identifiers,
                    number_of_matches=stats.matches,
                    match_rate=stats.rate,
                ),
            ),
            warnings=wire_problems(request, stats.warnings),
        )
    )


legacy_router.add_api_route(
    "",
    update_contact_list_by_audience_segment,
    methods=["PATCH"],
    operation_id="UpdateContactListByAudienceSegment",
)
legacy_router.add_api_route(
    "",
    delete_contact_list_by_audience_segment,
    methods=["DELETE"],
    operation_id="DeleteContactListByAudienceSegment",
)
