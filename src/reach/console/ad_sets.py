"""The console's own call for ad sets, which the Criteo API cannot list: the ad sets of one
advertiser with the audience each is linked to. Linking stays the API's
(``PUT /ad-sets/{adSetId}/audience``); this only shows what it changed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from reach.auth.auth import AudienceReader
from reach.deps import ReadSession
from reach.kit.access import denied
from reach.kit.ids import parse_id
from reach.kit.problems import AdvertiserAccessDenied, RequiredField, at
from reach.kit.wire import JsonResponse
from reach.models import AdSet

router = APIRouter(prefix="/console/api/ad-sets", include_in_schema=False)


@router.get("")
def ad_sets(
    reader: AudienceReader,
    session: ReadSession,
    advertiser_id: Annotated[str | None, Query(alias="advertiserId")] = None,
) -> JsonResponse:
    """``{"data": [{id, advertiserId, name, audienceId, createdAt}]}``, by id: the ad sets of
    ``advertiserId``, which must be an advertiser the caller reaches (refused as the API
    refuses an advertiser it does not know)."""
    if not advertiser_id:
        raise RequiredField("'advertiserId' is required", source=at("advertiserId"))
    number = parse_id(advertiser_id)
    if number is None or number not in reader.advertiser_ids:
        raise AdvertiserAccessDenied(denied(advertiser_id), source=at("advertiserId"))
    found = session.scalars(
        select(AdSet).where(AdSet.advertiser_id == number).order_by(AdSet.id)
    ).all()
    return JsonResponse(
        {
            "data": [
                {
                    "id": str(ad_set.id),
                    "advertiserId": str(ad_set.advertiser_id),
                    "name": ad_set.name,
                    "audienceId": None if ad_set.audience_id is None else str(ad_set.audience_id),
                    "createdAt": ad_set.created_at.isoformat(),
                }
                for ad_set in found
            ],
            "errors": [],
            "warnings": [],
        }
    )
