"""HTTP handlers of the sandbox controls under ``/_reach/``: reset, faults and the journal.

Served only when the sandbox is on, and only to holders of an admin token.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from reach.auth.repository import ClientRepository
from reach.db import Database
from reach.kit.jsonbody import json_body, optional_json_body
from reach.kit.wire import JsonResponse
from reach.sandbox.auth import require_admin
from reach.sandbox.faults import FaultRule
from reach.sandbox.schemas import (
    FaultRuleInput,
    FaultRuleOut,
    ResetInput,
    ResetOut,
)
from reach.sandbox.service import Sandbox

router = APIRouter(prefix="/_reach", tags=["Sandbox"], dependencies=[Depends(require_admin)])

MAX_JOURNAL_LIMIT = 100_000

# Control bodies are read strictly: a rule with a misspelt member must not quietly do
# something else.
ResetBody = Annotated[
    ResetInput | None, Depends(optional_json_body(ResetInput, tolerate_unknown=False))
]
FaultBody = Annotated[FaultRuleInput, Depends(json_body(FaultRuleInput, tolerate_unknown=False))]


def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


def _envelope(data: Any) -> JsonResponse:
    return JsonResponse({"data": data, "errors": [], "warnings": []})


@router.post("/reset", operation_id="SandboxReset")
async def reset(
    request: Request,
    body: ResetBody,
    advertiser_id: Annotated[str | None, Query(alias="advertiserId")] = None,
) -> JsonResponse:
    if body is not None and body.advertiser_id is not None:
        advertiser_id = body.advertiser_id
    state = request.app.state
    database: Database = state.database
    report = await run_in_threadpool(
        _sandbox(request).reset,
        database,
        state.list_matches.lists,
        state.lookalikes.results,
        advertiser_id,
    )
    out = ResetOut(
        advertiser_id=str(report.advertiser_id) if report.advertiser_id is not None else None,
        audience_segments=report.audience_segments,
        audiences=report.audiences,
        contact_lists=report.contact_lists,
        lookalike_results=report.lookalike_results,
        ad_set_links=report.ad_set_links,
        faults=report.faults,
        journal_entries=report.journal_entries,
    )
    return _envelope(out.model_dump(mode="json", by_alias=True))


@router.post("/faults", operation_id="SandboxAddFault", status_code=201)
async def add_fault(request: Request, body: FaultBody) -> JsonResponse:
    database: Database = request.app.state.database

    def add() -> FaultRule:
        with database.session() as session:
            return _sandbox(request).add_fault(body, ClientRepository(session))

    rule = await run_in_threadpool(add)
    response = _envelope(FaultRuleOut.of(rule).model_dump(mode="json", by_alias=True))
    response.status_code = 201
    return response


@router.get("/faults", operation_id="SandboxListFaults")
def list_faults(request: Request) -> JsonResponse:
    rules = _sandbox(request).faults.rules()
    return _envelope([FaultRuleOut.of(r).model_dump(mode="json", by_alias=True) for r in rules])


@router.delete("/faults", operation_id="SandboxClearFaults")
def clear_faults(request: Request) -> JsonResponse:
    return _envelope({"cleared": _sandbox(request).faults.clear()})


@router.get("/journal", operation_id="SandboxJournal")
def journal(
    request: Request,
    client_id: Annotated[str | None, Query(alias="clientId", min_length=1)] = None,
    limit: Annotated[int | None, Query(ge=0, le=MAX_JOURNAL_LIMIT)] = None,
) -> JsonResponse:
    kept = _sandbox(request).journal
    entries = kept.entries(client_id, everyone=client_id is None, limit=limit)
    return _envelope([e.model_dump(mode="json", by_alias=True) for e in entries])


@router.delete("/journal", operation_id="SandboxClearJournal")
def clear_journal(request: Request) -> JsonResponse:
    return _envelope({"cleared": _sandbox(request).journal.clear()})
