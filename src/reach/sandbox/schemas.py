"""Wire models of the sandbox controls (camelCase JSON, unknown members refused)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from reach.kit.wire import RequestModel, ResponseModel
from reach.sandbox.faults import MAX_ANSWERS, MAX_DELAY_MS, FaultRule

FaultKindName = Literal["429", "500", "503", "401-expired", "latency"]


class FaultRuleInput(RequestModel):
    """``POST /_reach/faults``: which calls, and either a sequence of answers or a share."""

    client_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    operation: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    answers: Annotated[list[FaultKindName], Field(min_length=1, max_length=MAX_ANSWERS)] | None = (
        None
    )
    share: Annotated[float, Field(ge=0, le=1)] | None = None
    answer: FaultKindName | None = None
    count: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = None
    delay_ms: Annotated[int, Field(ge=0, le=MAX_DELAY_MS)] | None = None
    retry_after_seconds: Annotated[int, Field(ge=0, le=3600)] | None = None


class ResetInput(RequestModel):
    """``POST /_reach/reset``: everything, or one advertiser's."""

    advertiser_id: str | None = None


class FaultRuleOut(ResponseModel):
    id: str
    created_at: datetime
    client_id: str | None = None
    operation: str | None = None
    answers: list[str] | None = None
    share: float | None = None
    answer: str | None = None
    count: int | None = None
    seed: int | None = None
    delay_ms: int | None = None
    retry_after_seconds: int | None = None
    matched: int
    fired: int
    exhausted: bool

    @classmethod
    def of(cls, rule: FaultRule) -> FaultRuleOut:
        # Read field by field from the rule (``exhausted`` is its property).
        return cls.model_validate(rule, from_attributes=True)


class ResetOut(ResponseModel):
    """How many of each thing a reset removed."""

    advertiser_id: str | None
    audience_segments: int
    audiences: int
    contact_lists: int
    lookalike_results: int
    ad_set_links: int
    faults: int
    journal_entries: int
