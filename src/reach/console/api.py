"""The console's own calls, for what the Criteo API has no operation for: many sizes in one call
(every node of an audience tree, the overlap matrix of its segments).

Authenticated like any API call (the operator's console token) and answered by the same
services, so a size here is the size the API gives for the same question.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from pyroaring import AbstractBitMap

from reach.audience import algebra
from reach.audience.schemas import AlgebraNodeV1
from reach.audience.service import AudienceService
from reach.audience_segment.schemas import AudienceSegmentComputeSizeEntityV1Resource
from reach.auth.auth import AudienceReader
from reach.kit.access import item_advertiser
from reach.kit.findings import Findings
from reach.kit.jsonbody import json_body
from reach.kit.middleware import wire_problems
from reach.kit.problems import Problem
from reach.kit.sizes import freshness_headers
from reach.kit.wire import JsonResponse, RequestModel
from reach.lookalike.errors import LookalikeUnavailable
from reach.sizing.endpoints import SizingDep
from reach.sizing.service import SizingService

router = APIRouter(prefix="/console/api", include_in_schema=False)

# An audience tree of the console has at most a few dozen nodes; its overlap matrix, pairs of
# at most 24 segments (276).
MAX_QUESTIONS = 300


class SizesInput(RequestModel):
    """Sizes of saved segments (``segmentIds``) and of audience algebras (``algebras``) of one
    advertiser."""

    advertiser_id: str
    segment_ids: list[str] = Field(default_factory=list, max_length=MAX_QUESTIONS)
    algebras: list[AlgebraNodeV1] = Field(default_factory=list, max_length=MAX_QUESTIONS)


SizesBody = Annotated[SizesInput, Depends(json_body(SizesInput))]


@router.post("/sizes")
def sizes(
    request: Request, reader: AudienceReader, body: SizesBody, service: SizingDep
) -> JsonResponse:
    """``{"data": {"segments": [{id, size, errors, warnings}], "algebras": [{size, errors,
    warnings}]}}``, in the order asked. Each algebra is estimated as
    ``/audiences/estimate-size`` estimates it; each segment as ``compute-sizes`` sizes it."""
    reachable = reader.advertiser_ids
    segments: list[dict[str, Any]] = []
    if body.segment_ids:
        sized = service.segment_sizes(
            reachable,
            [AudienceSegmentComputeSizeEntityV1Resource(id=i) for i in body.segment_ids],
        )
        by_id = dict(sized.result.data)
        errors = wire_problems(request, sized.result.errors)
        warnings = wire_problems(request, sized.warnings)
        for index, raw in enumerate(body.segment_ids):
            mine = [e for e in errors if _item_of(e) == index]
            size = by_id.get(int(raw)) if raw.isdigit() and not mine else None
            segments.append(
                {
                    "id": raw,
                    "size": size,
                    "errors": mine,
                    "warnings": [w for w in warnings if _item_of(w) == index],
                }
            )
    algebras = [
        {
            "size": size,
            "errors": wire_problems(request, errors),
            "warnings": wire_problems(request, warnings),
        }
        for size, errors, warnings in _estimates(service, reachable, body)
    ]
    return JsonResponse(
        {"data": {"segments": segments, "algebras": algebras}},
        headers=freshness_headers(service.index.as_of, service.index.built_at),
    )


def _estimates(
    service: SizingService, reachable: frozenset[int], body: SizesInput
) -> list[tuple[int | None, list[Problem], list[Problem]]]:
    """Each algebra estimated as ``/audiences/estimate-size`` estimates it (same checks, same
    members, same privacy treatment of the same question), with what the algebras of one call
    share done once: one read of their segments, each segment's members taken once."""
    audiences = AudienceService(service.session, service.settings, service.clock)
    segments = audiences.segments_named(body.algebras, reachable)
    members: dict[int, AbstractBitMap] = {}
    answers: list[tuple[int | None, list[Problem], list[Problem]]] = []
    for raw in body.algebras:
        f = Findings()
        advertiser_id = item_advertiser(body.advertiser_id, reachable, f)
        checked = audiences.check_algebra(raw, advertiser_id, segments, f)
        if f or checked is None or advertiser_id is None:
            answers.append((None, [p.within("data") for p in f.problems], []))
            continue
        node, _ = algebra.parse(checked[0])
        assert node is not None
        warnings = service._fresh()
        try:
            size = len(service.audience_members(node, segments, members))
        except LookalikeUnavailable as problem:
            problem.source = {"size": "data/attributes/size"}
            answers.append((None, [], [*warnings, problem]))
            continue
        question = service._audience_question(node, segments)
        reported = service._report(size, question, "data/attributes/size", warnings)
        answers.append((reported, [], warnings))
    return answers


def _item_of(problem: dict[str, Any]) -> int | None:
    """The item a problem of a bulk answer is about (its source ``data/<n>/...``)."""
    for pointer in (problem.get("source") or {}).values():
        parts = str(pointer).split("/")
        if len(parts) > 1 and parts[0] == "data" and parts[1].isdigit():
            return int(parts[1])
    return None
