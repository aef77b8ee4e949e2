"""Wire models of the contact-list operations, named after the spec's components."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_serializer

from reach.kit.clock import isoformat
from reach.kit.wire import KEEP_NULL, NullsResponseModel, RequestModel, ResponseModel

IdentifierType = Literal["email", "madid", "identityLink", "gum", "phoneNumber"]


class ContactlistAmendmentAttributes(RequestModel):
    """The ``attributes`` of ``ContactlistAmendment``."""

    operation: Literal["add", "remove"] | None = None
    identifier_type: IdentifierType | None = None
    identifiers: list[str] | None = None
    gum_caller_id: int | None = None


class ContactlistAmendment(RequestModel):
    type: str | None = None
    attributes: ContactlistAmendmentAttributes | None = None


class ContactlistAmendmentRequest(RequestModel):
    data: ContactlistAmendment | None = None


class ContactlistOperationAttributes(ResponseModel):
    """The ``attributes`` of ``ContactlistOperation``: the receipt of one amendment."""

    contact_list_id: int
    operation: str
    request_date: datetime
    identifier_type: str
    nb_valid_identifiers: int
    nb_invalid_identifiers: int
    sample_invalid_identifiers: list[str]

    @field_serializer("request_date")
    def _utc(self, value: datetime) -> str:
        return isoformat(value)


class ContactlistOperation(ResponseModel):
    type: str = "ContactlistAmendment"
    attributes: ContactlistOperationAttributes


class ModifyAudienceResponse(ResponseModel):
    data: ContactlistOperation
    errors: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[dict[str, Any]] = Field(default_factory=list)


class BasicAudienceDefinition(ResponseModel):
    id: str
    type: str = "AudienceContactlist"


class DeleteAudienceContactListResponse(ResponseModel):
    data: BasicAudienceDefinition
    errors: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[dict[str, Any]] = Field(default_factory=list)


class ContactListStatisticsEntityV1(NullsResponseModel):
    number_of_identifiers: int
    # Null while no index is in service to match against.
    number_of_matches: Annotated[int | None, KEEP_NULL] = None
    match_rate: Annotated[float | None, KEEP_NULL] = None


class ContactListStatisticsEntityV1Resource(ResponseModel):
    id: str
    type: str = "ContactlistStatistics"
    attributes: ContactListStatisticsEntityV1


class ContactListStatisticsEntityV1Response(ResponseModel):
    data: ContactListStatisticsEntityV1Resource
    errors: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[dict[str, Any]] = Field(default_factory=list)
