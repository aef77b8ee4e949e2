"""The console's own calls, for what the Criteo API has no operation for: many sizes in one call
(every node of an audience tree, the overlap matrix of its segments).

Authenticated like any API call (the operator's console token) and answered by the same
services, so a size here is the size the API gives for the same question.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from reach.audience.schemas import AlgebraNodeV1
from reach.audience_segment.schemas import AudienceSegmentComputeSizeEntityV1Resource
from reach.auth.auth import AudienceReader
from reach.kit.jsonbody import json_body
from reach.kit.middleware import wire_problems
from reach.kit.problems import Invalid, RateLimited, RequestProblems
from reach.kit.ratelimit import FixedWindowRateLimiter
from reach.kit.sizes import freshness_headers
from reach.kit.wire import JsonResponse, RequestModel
from reach.sizing.endpoints import SizingDep

router = APIRouter(prefix="/console/api", include_in_schema=False)

# An audience tree of the console has at most a few dozen nodes; its overlap matrix, pairs of
# at most 24 segments (276).
MAX_QUESTIONS = 300
# Segment references over all the algebras of one call: a tree of the API's largest (256
# leaves) with every node and the pairs of its first segments fits.
MAX_LEAVES = 4096


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
    _charge(request, reader.client_id, body)
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
            "size": estimate.size,
            "errors": wire_problems(request, estimate.errors),
            "warnings": wire_problems(request, estimate.warnings),
        }
        for estimate in service.estimate_audiences(reachable, body.advertiser_id, body.algebras)
    ]
    return JsonResponse(
        {"data": {"segments": segments, "algebras": algebras}},
        headers=freshness_headers(service.index.as_of, service.index.built_at),
    )


def _leaves(node: AlgebraNodeV1 | None) -> int:
    if node is None:
        return 0
    children = [*(node.and_ or []), *(node.or_ or []), node.not_]
    return (node.audience_segment_id is not None) + sum(_leaves(c) for c in children)


def _charge(request: Request, client_id: str, body: SizesInput) -> None:
    """Bound the call's work: at most ``MAX_LEAVES`` segment references in all, and every
    question counted against the caller's rate limit as one call of the API (the call itself
    counted one already), so asking in bulk buys no more than asking one by one."""
    leaves = sum(_leaves(tree) for tree in body.algebras)
    if leaves > MAX_LEAVES:
        raise RequestProblems(
            [
                Invalid(
                    f"One call asks about at most {MAX_LEAVES:,} segment references in all"
                    f" ({leaves:,} here): split the questions over several calls",
                    source={"algebras": "algebras"},
                )
            ]
        )
    limiter: FixedWindowRateLimiter = request.app.state.limiter
    if not limiter.enabled:
        return
    for _ in range(len(body.segment_ids) + len(body.algebras) - 1):
        usage = limiter.hit(client_id)
        request.state.rate_limit = usage
        if not usage.allowed:
            raise RateLimited.from_usage(usage)


def _item_of(problem: dict[str, Any]) -> int | None:
    """The item a problem of a bulk answer is about (its source ``data/<n>/...``)."""
    for pointer in (problem.get("source") or {}).values():
        parts = str(pointer).split("/")
        if len(parts) > 1 and parts[0] == "data" and parts[1].isdigit():
            return int(parts[1])
    return None
