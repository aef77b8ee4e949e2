"""Wire models of the audience operations and the ad-set link, named after the spec's components.

As for segments, fields the spec marks required are optional here so that a missing one fails
only its own item (``required-field``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, field_serializer

from reach.kit.clock import isoformat
from reach.kit.wire import (
    KEEP_NULL,
    ListResponse,
    NillableString,
    NullsResponseModel,
    RequestModel,
    ResponseModel,
    SearchResponse,
    SingleResponse,
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


class AdSetAudienceLinkInputAttributes(RequestModel):
    """``AdSetAudienceLinkEntityV1`` as sent."""

    audience_id: str | None = None


class AdSetAudienceLinkInputResource(RequestModel):
    """``AdSetAudienceLinkEntityV1Resource`` as sent."""

    id: str | None = None
    type: str | None = None
    attributes: AdSetAudienceLinkInputAttributes | None = None


class AdSetAudienceLinkInputEntityV1(RequestModel):
    data: AdSetAudienceLinkInputResource | None = None


class AdSetAudienceLinkEntityV1(NullsResponseModel):
    # An unlinked ad set says so: "audienceId": null.
    audience_id: Annotated[str | None, KEEP_NULL] = None


class AdSetAudienceLinkEntityV1Resource(ResponseModel):
    id: str
    type: str = LINK_TYPE
    attributes: AdSetAudienceLinkEntityV1


AdSetAudienceLinkEntityV1Response = SingleResponse[AdSetAudienceLinkEntityV1Resource]


# --- sizes ----------------------------------------------------------------------------------


class AudienceComputeSizeEntityV1(RequestModel):
    """A compute-sizes item carries no attributes."""


class AudienceComputeSizeEntityV1Resource(RequestModel):
    id: str | None = None
    type: str | None = None
    attributes: AudienceComputeSizeEntityV1 | None = None


class AudienceComputeSizesInputV1(RequestModel):
    data: list[AudienceComputeSizeEntityV1Resource]


class AudienceEstimateSizeEntityV1(RequestModel):
    advertiser_id: str | None = None
    algebra: AlgebraNodeV1 | None = None


class AudienceEstimateSizeEntityV1Resource(RequestModel):
    type: str | None = None
    attributes: AudienceEstimateSizeEntityV1 | None = None


class AudienceEstimateSizeInputV1(RequestModel):
    data: AudienceEstimateSizeEntityV1Resource | None = None


class AudienceSizeEntityV1(NullsResponseModel):
    # A size withheld below the privacy floor is sent as null.
    size: Annotated[int | None, KEEP_NULL] = None


class AudienceSizeEntityV1Resource(ResponseModel):
    id: str
    type: str = RESOURCE_TYPE
    attributes: AudienceSizeEntityV1


class AudienceSizeEstimationV1Resource(ResponseModel):
    type: str = "AudienceSizeEstimation"
    attributes: AudienceSizeEntityV1


AudienceSizeEntityV1ListResponse = ListResponse[AudienceSizeEntityV1Resource]
AudienceSizeEstimationV1Response = SingleResponse[AudienceSizeEstimationV1Resource]


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
