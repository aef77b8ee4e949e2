"""Wire models of the token answer and the two "who am I" operations."""

from __future__ import annotations

from typing import Literal

from reach.kit.wire import ListResponse, ResponseModel, SingleResponse


class PortfolioMessage(ResponseModel):
    advertiser_name: str | None = None


class EntityOfPortfolioMessage(ResponseModel):
    id: str
    type: Literal["advertiser"] = "advertiser"
    attributes: PortfolioMessage


GetPortfolioResponse = ListResponse[EntityOfPortfolioMessage]


class ApplicationSummaryModel(ResponseModel):
    application_id: int
    name: str
    organization_id: int | None = None
    description: str | None = None
    criteo_service: str = "MarketingSolutions"


class ApplicationSummaryModelResource(ResponseModel):
    type: str = "Application"
    attributes: ApplicationSummaryModel


ApplicationSummaryModelResponse = SingleResponse[ApplicationSummaryModelResource]
