"""Wire models of the in-market brand and interest lists."""

from __future__ import annotations

from reach.kit.wire import ListResponse, ResponseModel


class InMarketAudienceSegmentBrandEntityV1(ResponseModel):
    name: str
    size: int | None = None


class InMarketAudienceSegmentBrandEntityV1Resource(ResponseModel):
    id: str
    type: str = "InMarketAudienceSegmentBrand"
    attributes: InMarketAudienceSegmentBrandEntityV1


class InMarketAudienceSegmentInterestEntityV1(ResponseModel):
    parent_id: str | None = None


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
