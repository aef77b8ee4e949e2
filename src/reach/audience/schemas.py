"""Wire models of the audience operations and the ad-set link, named after the spec's components.

As for segments, fields the spec marks required are optional here so that a missing one fails
only its own item (``required-field``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, field_serializer

from reach.kit.clock import isoformat
from reach.kit.wire import (
    ListResponse,
    NillableString,
    RequestModel,
    ResponseModel,
    SearchResponse,
)

RESOURCE_TYPE = "Audience"
LINK_TYPE = "AdSetAudienceLink"


class AlgebraNodeV1(RequestModel):
    """One node: exactly one of the four members (checked by ``algebra``, per item)."""

    audience_segment_id: str | None = None
    and_: list[AlgebraNodeV1] | None = Field(default=None, alias="and")
    or_: list[AlgebraNodeV1] | None = Field(default=None, alias="or")
    not_: AlgebraNodeV1 | None = Field(default=None, alias="not")


# --- create / update / delete / search ------------------------------------------------------


class AudienceCreateEntityV1(RequestModel):
    advertiser_id: str | None = None
    name: str | None = None
    description: str | None = None
    algebra: AlgebraNodeV1 | None = None


class AudienceCreateEntityV1Resource(RequestModel):
    type: str | None = None
    attributes: AudienceCreateEntityV1 | None = None


class AudienceBulkCreateInputV1(RequestModel):
    data: list[AudienceCreateEntityV1Resource]


class AudienceUpdateEntityV1(RequestModel):
    name: str | None = None
    description: NillableString | None = None
    algebra: AlgebraNodeV1 | None = None


class AudienceUpdateEntityV1Resource(RequestModel):
    id: str | None = None
    type: str | None = None
    attributes: AudienceUpdateEntityV1 | None = None


class AudienceBulkUpdateInputV1(RequestModel):
    data: list[AudienceUpdateEntityV1Resource]


class AudienceDeleteEntityV1(RequestModel):
    """A delete item carries no attributes."""


class AudienceDeleteEntityV1Resource(RequestModel):
    id: str | None = None
    type: str | None = None
    attributes: AudienceDeleteEntityV1 | None = None


class AudienceBulkDeleteInputV1(RequestModel):
    data: list[AudienceDeleteEntityV1Resource]


class AudienceSearchEntityV1(RequestModel):
    audience_ids: list[str] | None = None
    advertiser_ids: list[str] | None = None
    audience_segment_ids: list[str] | None = None
    ad_set_ids: list[str] | None = None


class AudienceSearchEntityV1Resource(RequestModel):
    type: str | None = None
    attributes: AudienceSearchEntityV1 | None = None


class AudienceSearchInputV1(RequestModel):
    data: AudienceSearchEntityV1Resource | None = None


# --- the ad-set link ------------------------------------------------------------------------


class AdSetAudienceLinkEntityV1(RequestModel):
    audience_id: str | None = None


class AdSetAudienceLinkEntityV1Resource(RequestModel):
    id: str | None = None
    type: str | None = None
    attributes: AdSetAudienceLinkEntityV1 | None = None


class AdSetAudienceLinkInputEntityV1(RequestModel):
    data: AdSetAudienceLinkEntityV1Resource | None = None


def ad_set_audience_link_response(ad_set_id: int, audience_id: int | None) -> dict[str, Any]:
    """``AdSetAudienceLinkEntityV1Response``. Built by hand: unlike every other answer, it
    states ``"audienceId": null`` explicitly, since that null is the news (the ad set is free)."""
    return {
        "data": {
            "id": str(ad_set_id),
            "type": LINK_TYPE,
            "attributes": {"audienceId": str(audience_id) if audience_id is not None else None},
        },
        "errors": [],
        "warnings": [],
    }


# --- read side ------------------------------------------------------------------------------


class AudienceEntityV1(ResponseModel):
    advertiser_id: str
    name: str
    description: str | None = None
    algebra: dict[str, Any]
    ad_set_ids: list[str]
    created_at: datetime
    updated_at: datetime

    @field_serializer("created_at", "updated_at")
    def _utc(self, value: datetime) -> str:
        return isoformat(value)


class AudienceEntityV1Resource(ResponseModel):
    id: str
    type: str = RESOURCE_TYPE
    attributes: AudienceEntityV1


class AudienceIdEntityV1Resource(ResponseModel):
    id: str
    type: str = RESOURCE_TYPE


AudienceEntityV1ListResponse = ListResponse[AudienceEntityV1Resource]
AudienceIdEntityV1ListResponse = ListResponse[AudienceIdEntityV1Resource]
AudienceEntityV1AudienceSearchMetadataV1ListResponse = SearchResponse[AudienceEntityV1Resource]
