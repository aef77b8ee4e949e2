"""Wire models of the audience-segment operations, named after the spec's components.

Request models are strict about JSON types and refuse unknown fields; fields the spec marks
required are optional here so that a missing one fails only its own item (``required-field``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, field_serializer

from reach.kit.clock import isoformat
from reach.kit.wire import (
    KEEP_NULL,
    Int32,
    Int64,
    ListResponse,
    NillableInt32,
    NillableString,
    NullsResponseModel,
    RequestModel,
    ResponseModel,
    SearchResponse,
    SingleResponse,
)

SegmentType = Literal[
    "Unknown",
    "InMarket",
    "Prospecting",
    "ContactList",
    "Location",
    "Behavioral",
    "Retargeting",
    "Lookalike",
]
VisitorsType = Literal["All", "Buyers", "NonBuyers"]
UsersType = Literal["Prospects", "ProspectsOrNonBuyers"]
Gender = Literal["Male", "Female"]
BuyingPower = Literal["Low", "Medium", "High", "VeryHigh"]
PriceRange = Literal["Low", "Medium", "High"]
BehavioralCategory = Literal["Lifestyles", "LifeEvents", "Seasonal", "BuyingPatterns"]

RESOURCE_TYPE = "AudienceSegment"

# --- shared pieces --------------------------------------------------------------------------


class NillableGenderV1(RequestModel):
    value: Gender | None = None


class PointOfInterestV1(RequestModel):
    name: str | None = None
    latitude: float | None = None
    longitude: float | None = None


# --- create ---------------------------------------------------------------------------------


class RetargetingCreateV1(RequestModel):
    visitors_type: VisitorsType | None = None
    days_since_last_visit_min: Int32 | None = None
    days_since_last_visit_max: Int32 | None = None


class ProspectingCreateV1(RequestModel):
    users_type: UsersType | None = None
    days_since_last_visit_min: Int32 | None = None
    days_since_last_visit_max: Int32 | None = None


class InMarketCreateV1(RequestModel):
    country: str | None = None
    brand_ids: list[str] | None = None
    interest_ids: list[str] | None = None
    buying_power: list[BuyingPower] | None = None
    price_range: list[PriceRange] | None = None
    gender: Gender | None = None


class LocationCreateV1(RequestModel):
    points_of_interest: list[PointOfInterestV1] | None = None
    radius_in_km: Int32 | None = None


class LookalikeCreateV1(RequestModel):
    seed_segment_id: str | None = None
    target_size: Int64 | None = None


class ContactListCreateV1(RequestModel):
    """``"contactList": {}``: a contact list has no settings at creation."""


class AudienceSegmentCreateEntityV1(RequestModel):
    advertiser_id: str | None = None
    name: str | None = None
    description: str | None = None
    retargeting: RetargetingCreateV1 | None = None
    prospecting: ProspectingCreateV1 | None = None
    in_market: InMarketCreateV1 | None = None
    location: LocationCreateV1 | None = None
    lookalike: LookalikeCreateV1 | None = None
    contact_list: ContactListCreateV1 | None = None


class AudienceSegmentCreateEntityV1Resource(RequestModel):
    type: str | None = None
    attributes: AudienceSegmentCreateEntityV1 | None = None


class AudienceSegmentBulkCreateInputV1(RequestModel):
    data: list[AudienceSegmentCreateEntityV1Resource]


# --- update ---------------------------------------------------------------------------------


class RetargetingUpdateV1(RequestModel):
    visitors_type: VisitorsType | None = None
    days_since_last_visit_min: Int32 | None = None
    days_since_last_visit_max: Int32 | None = None


class ProspectingUpdateV1(RequestModel):
    users_type: UsersType | None = None
    days_since_last_visit_min: NillableInt32 | None = None
    days_since_last_visit_max: NillableInt32 | None = None


class InMarketUpdateV1(RequestModel):
    country: str | None = None
    brand_ids: list[str] | None = None
    interest_ids: list[str] | None = None
    buying_power: list[BuyingPower] | None = None
    price_range: list[PriceRange] | None = None
    gender: NillableGenderV1 | None = None


class LocationUpdateV1(RequestModel):
    points_of_interest: list[PointOfInterestV1] | None = None
    radius_in_km: Int32 | None = None
    registry_type: Literal["PointOfInterest"] | None = None


class LookalikeUpdateV1(RequestModel):
    target_size: Int64 | None = None


class AudienceSegmentUpdateEntityV1(RequestModel):
    name: str | None = None
    description: NillableString | None = None
    retargeting: RetargetingUpdateV1 | None = None
    prospecting: ProspectingUpdateV1 | None = None
    in_market: InMarketUpdateV1 | None = None
    location: LocationUpdateV1 | None = None
    lookalike: LookalikeUpdateV1 | None = None


class AudienceSegmentUpdateEntityV1Resource(RequestModel):
    id: str | None = None
    type: str | None = None
    attributes: AudienceSegmentUpdateEntityV1 | None = None


class AudienceSegmentBulkUpdateInputV1(RequestModel):
    data: list[AudienceSegmentUpdateEntityV1Resource]


# --- delete ---------------------------------------------------------------------------------


class AudienceSegmentDeleteEntityV1(RequestModel):
    """A delete item carries no attributes."""


class AudienceSegmentDeleteEntityV1Resource(RequestModel):
    id: str | None = None
    type: str | None = None
    attributes: AudienceSegmentDeleteEntityV1 | None = None


class AudienceSegmentBulkDeleteInputV1(RequestModel):
    data: list[AudienceSegmentDeleteEntityV1Resource]


# --- search ---------------------------------------------------------------------------------


class AudienceSegmentSearchEntityV1(RequestModel):
    advertiser_ids: list[str] | None = None
    audience_segment_ids: list[str] | None = None
    audience_segment_types: list[SegmentType] | None = None


class AudienceSegmentSearchEntityV1Resource(RequestModel):
    type: str | None = None
    attributes: AudienceSegmentSearchEntityV1 | None = None


class AudienceSegmentSearchInputV1(RequestModel):
    data: AudienceSegmentSearchEntityV1Resource | None = None


# --- read side: the stored type objects, as the API shows them ------------------------------


class RetargetingV1(ResponseModel):
    visitors_type: VisitorsType
    days_since_last_visit_min: int
    days_since_last_visit_max: int


class ProspectingV1(ResponseModel):
    users_type: UsersType
    days_since_last_visit_min: int | None = None
    days_since_last_visit_max: int | None = None


class InMarketV1(ResponseModel):
    country: str
    brand_ids: list[str] = Field(default_factory=list)
    interest_ids: list[str] = Field(default_factory=list)
    buying_power: list[BuyingPower] = Field(default_factory=list)
    price_range: list[PriceRange] = Field(default_factory=list)
    gender: Gender | None = None


class LocationV1(ResponseModel):
    points_of_interest: list[PointOfInterestV1]
    radius_in_km: int
    registry_type: Literal["PointOfInterest"] = "PointOfInterest"


class LookalikeV1(ResponseModel):
    seed_segment_id: str
    target_size: int


class ContactListV1(ResponseModel):
    is_read_only: bool = False


class BehavioralV1(ResponseModel):
    category: BehavioralCategory
    country: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None

    @field_serializer("start_date", "end_date")
    def _utc(self, value: datetime | None) -> str | None:
        return isoformat(value) if value is not None else None


class AudienceSegmentEntityV1(ResponseModel):
    advertiser_id: str
    name: str
    description: str | None = None
    type: SegmentType
    created_at: datetime
    updated_at: datetime
    retargeting: RetargetingV1 | None = None
    prospecting: ProspectingV1 | None = None
    in_market: InMarketV1 | None = None
    location: LocationV1 | None = None
    lookalike: LookalikeV1 | None = None
    contact_list: ContactListV1 | None = None
    behavioral: BehavioralV1 | None = None

    @field_serializer("created_at", "updated_at")
    def _utc(self, value: datetime) -> str:
        return isoformat(value)


class AudienceSegmentEntityV1Resource(ResponseModel):
    id: str
    type: str = RESOURCE_TYPE
    attributes: AudienceSegmentEntityV1


class AudienceSegmentIdEntityV1Resource(ResponseModel):
    id: str
    type: str = RESOURCE_TYPE


AudienceSegmentEntityV1ListResponse = ListResponse[AudienceSegmentEntityV1Resource]
AudienceSegmentIdEntityV1ListResponse = ListResponse[AudienceSegmentIdEntityV1Resource]
AudienceSegmentEntityV1AudienceSegmentSearchMetadataV1ListResponse = SearchResponse[
    AudienceSegmentEntityV1Resource
]


# --- sizes ----------------------------------------------------------------------------------


class AudienceSegmentComputeSizeEntityV1(RequestModel):
    """A compute-sizes item carries no attributes."""


class AudienceSegmentComputeSizeEntityV1Resource(RequestModel):
    id: str | None = None
    type: str | None = None
    attributes: AudienceSegmentComputeSizeEntityV1 | None = None


class AudienceSegmentComputeSizesInputV1(RequestModel):
    data: list[AudienceSegmentComputeSizeEntityV1Resource]


class AudienceSegmentSizeEstimationEntityV1(RequestModel):
    advertiser_id: str | None = None
    in_market: InMarketCreateV1 | None = None
    location: LocationCreateV1 | None = None


class AudienceSegmentSizeEstimationEntityV1Resource(RequestModel):
    type: str | None = None
    attributes: AudienceSegmentSizeEstimationEntityV1 | None = None


class AudienceSegmentEstimateSizeInputV1(RequestModel):
    data: AudienceSegmentSizeEstimationEntityV1Resource | None = None


class AudienceSegmentSizeEntityV1(NullsResponseModel):
    # A size withheld below the privacy floor is sent as null.
    size: Annotated[int | None, KEEP_NULL] = None


class AudienceSegmentSizeEntityV1Resource(ResponseModel):
    id: str
    type: str = RESOURCE_TYPE
    attributes: AudienceSegmentSizeEntityV1


class AudienceSegmentSizeEstimationV1Resource(ResponseModel):
    type: str = "AudienceSegmentSizeEstimation"
    attributes: AudienceSegmentSizeEntityV1


AudienceSegmentSizeEntityV1ListResponse = ListResponse[AudienceSegmentSizeEntityV1Resource]
AudienceSegmentSizeEstimationV1Response = SingleResponse[AudienceSegmentSizeEstimationV1Resource]
