"""Wire models of the in-market brand and interest lists."""

from __future__ import annotations

from typing import Annotated

from reach.kit.wire import KEEP_NULL, ListResponse, NullsResponseModel, ResponseModel


class InMarketAudienceSegmentBrandEntityV1(NullsResponseModel):
    name: str
    # Withheld (null) below the privacy floor or while no index is built.
    size: Annotated[int | None, KEEP_NULL] = None


class InMarketAudienceSegmentBrandEntityV1Resource(ResponseModel):
    id: str
    type: str = "InMarketAudienceSegmentBrand"
    attributes: InMarketAudienceSegmentBrandEntityV1


class InMarketAudienceSegmentInterestEntityV1(NullsResponseModel):
    parent_id: str | None = None
    # Beyond the contract (which gives interests no size): the people in the market for the
    # interest or anything below it in the taxonomy, in the country asked for.
    size: Annotated[int | None, KEEP_NULL] = None


class InMarketAudienceSegmentInterestEntityV1Resource(ResponseModel):
    id: str
    type: str = "InMarketAudienceSegmentInterest"
    attributes: InMarketAudienceSegmentInterestEntityV1


InMarketAudienceSegmentBrandEntityV1ListResponse = ListResponse[
    InMarketAudienceSegmentBrandEntityV1Resource
]
InMarketAudienceSegmentInterestEntityV1ListResponse = ListResponse[
    InMarketAudienceSegmentInterestEntityV1Resource
]
