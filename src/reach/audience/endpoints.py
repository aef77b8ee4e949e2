"""HTTP handlers of the audience operations and the ad-set link, named after the operationIds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from reach.audience.schemas import (
    AdSetAudienceLinkEntityV1,
    AdSetAudienceLinkEntityV1Resource,
    AdSetAudienceLinkEntityV1Response,
    AdSetAudienceLinkInputEntityV1,
    AudienceBulkCreateInputV1,
    AudienceBulkDeleteInputV1,
    AudienceBulkUpdateInputV1,
    AudienceEntityV1AudienceSearchMetadataV1ListResponse,
    AudienceEntityV1ListResponse,
    AudienceIdEntityV1ListResponse,
    AudienceIdEntityV1Resource,
    AudienceSearchInputV1,
)
from reach.audience.service import AudienceService, to_resource
from reach.auth.auth import AudienceManager, AudienceReader, CampaignManager
from reach.deps import ClockDep, ReadSession, SettingsDep, WriteSession
from reach.kit.jsonbody import json_body
from reach.kit.middleware import wire_problems
from reach.kit.pagination import Page, page_params
from reach.kit.wire import JsonResponse, SearchMeta

router = APIRouter(prefix="/marketing-solutions")

CreateBody = Annotated[AudienceBulkCreateInputV1, Depends(json_body(AudienceBulkCreateInputV1))]
UpdateBody = Annotated[AudienceBulkUpdateInputV1, Depends(json_body(AudienceBulkUpdateInputV1))]
DeleteBody = Annotated[AudienceBulkDeleteInputV1, Depends(json_body(AudienceBulkDeleteInputV1))]
SearchBody = Annotated[AudienceSearchInputV1, Depends(json_body(AudienceSearchInputV1))]
LinkBody = Annotated[
    AdSetAudienceLinkInputEntityV1, Depends(json_body(AdSetAudienceLinkInputEntityV1))
]
PageDep = Annotated[Page, Depends(page_params)]


@router.post("/audiences/create", operation_id="CreateAudiences", tags=["Audience"])
def create_audiences(
    request: Request,
    client: AudienceManager,
    body: CreateBody,
    session: WriteSession,
    settings: SettingsDep,
    clock: ClockDep,
) -> JsonResponse:
    result = AudienceService(session, settings, clock).create(client.advertiser_ids, body.data)
    return JsonResponse(
        AudienceEntityV1ListResponse(
            data=[to_resource(s.audience, s.ad_set_ids) for s in result.data],
            errors=wire_problems(request, result.errors),
        )
    )


@router.patch("/audiences", operation_id="UpdateAudiences", tags=["Audience"])
def update_audiences(
    request: Request,
    client: AudienceManager,
    body: UpdateBody,
    session: WriteSession,
    settings: SettingsDep,
    clock: ClockDep,
) -> JsonResponse:
    result = AudienceService(session, settings, clock).update(client.advertiser_ids, body.data)
    return JsonResponse(
        AudienceEntityV1ListResponse(
            data=[to_resource(s.audience, s.ad_set_ids) for s in result.data],
            errors=wire_problems(request, result.errors),
        )
    )


@router.post("/audiences/delete", operation_id="DeleteAudiences", tags=["Audience"])
def delete_audiences(
    request: Request,
    client: AudienceManager,
    body: DeleteBody,
    session: WriteSession,
    settings: SettingsDep,
    clock: ClockDep,
) -> JsonResponse:
    result = AudienceService(session, settings, clock).delete(client.advertiser_ids, body.data)
    return JsonResponse(
        AudienceIdEntityV1ListResponse(
            data=[AudienceIdEntityV1Resource(id=str(i)) for i in result.data],
            errors=wire_problems(request, result.errors),
        )
    )


@router.post("/audiences/search", operation_id="SearchAudiences", tags=["Audience"])
def search_audiences(
    client: AudienceReader,
    page: PageDep,
    body: SearchBody,
    session: ReadSession,
    settings: SettingsDep,
    clock: ClockDep,
) -> JsonResponse:
    filters = body.data.attributes if body.data is not None else None
    found, total = AudienceService(session, settings, clock).search(
        client.advertiser_ids, filters, page
    )
    return JsonResponse(
        AudienceEntityV1AudienceSearchMetadataV1ListResponse(
            data=[to_resource(s.audience, s.ad_set_ids) for s in found],
            meta=SearchMeta(limit=page.limit, offset=page.offset, total_items=total),
        )
    )


@router.put("/ad-sets/{ad_set_id}/audience", operation_id="UpdateAdSetAudience", tags=["Campaign"])
def update_ad_set_audience(
    ad_set_id: str,
    client: CampaignManager,
    body: LinkBody,
    session: WriteSession,
    settings: SettingsDep,
    clock: ClockDep,
) -> JsonResponse:
    ad_set = AudienceService(session, settings, clock).link_ad_set(
        client.advertiser_ids, ad_set_id, body
    )
    audience_id = str(ad_set.audience_id) if ad_set.audience_id is not None else None
    return JsonResponse(
        AdSetAudienceLinkEntityV1Response(
            data=AdSetAudienceLinkEntityV1Resource(
                id=str(ad_set.id), attributes=AdSetAudienceLinkEntityV1(audience_id=audience_id)
            )
        )
    )
