"""The console's own calls for contact lists, for what the Criteo API has no operation for: a
preview of how the server will read the first identifiers of a file before any is sent, and the
statistics of a list by identifier type.

Both are answered by what the API itself runs: the preview by ``identifiers.normalise``, the
statistics by ``ContactListService.statistics``. Nothing here stores or logs an identifier; the
preview answers each value to the operator who sent it, and nobody else.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from reach.auth.auth import AudienceReader
from reach.contact_list.identifiers import normalise
from reach.contact_list.schemas import IdentifierType
from reach.contact_list.service import ContactListService
from reach.deps import ClockDep, ReadSession, SettingsDep
from reach.kit.jsonbody import json_body
from reach.kit.middleware import wire_problems
from reach.kit.wire import JsonResponse, RequestModel
from reach.sizing.endpoints import IndexDep

router = APIRouter(prefix="/console/api/contact-lists", include_in_schema=False)

# A preview shows the first lines of a file, not the file.
MAX_PREVIEWED = 100
# Hexadecimal digits of a key's digest shown in a preview: enough to tell two keys apart by eye.
KEY_DIGITS = 12


class PreviewInput(RequestModel):
    """The first identifiers of a file, as the operator's browser split them."""

    identifier_type: IdentifierType
    identifiers: list[str] = Field(max_length=MAX_PREVIEWED)


PreviewBody = Annotated[PreviewInput, Depends(json_body(PreviewInput))]


@router.post("/preview")
def preview(_reader: AudienceReader, body: PreviewBody, settings: SettingsDep) -> JsonResponse:
    """``{"data": {"identifierType", "maxIdentifiersPerCall", "identifiers": [{"value",
    "accepted", "reason", "key"}]}}``: each value judged alone, as an upload would judge it,
    with the start of the key it would be stored as (type, then its SHA-256 in hexadecimal)."""
    judged: list[dict[str, Any]] = []
    for value in body.identifiers:
        found = normalise(body.identifier_type, [value], phone_region=settings.phone_default_region)
        if found.keys:
            digest = found.keys[0][1:].hex()
            judged.append(
                {
                    "value": value,
                    "accepted": True,
                    "reason": None,
                    "key": f"{body.identifier_type}:{digest[:KEY_DIGITS]}…",
                }
            )
        else:
            [reason] = found.reasons
            judged.append({"value": value, "accepted": False, "reason": reason, "key": None})
    return JsonResponse(
        {
            "data": {
                "identifierType": body.identifier_type,
                "maxIdentifiersPerCall": settings.max_contact_list_identifiers,
                "identifiers": judged,
            },
            "errors": [],
            "warnings": [],
        }
    )


@router.get("/{audience_segment_id}/statistics")
def statistics_by_type(
    request: Request,
    audience_segment_id: str,
    reader: AudienceReader,
    session: ReadSession,
    settings: SettingsDep,
    clock: ClockDep,
    index: IndexDep,
) -> JsonResponse:
    """What ``GET .../contact-list/statistics`` answers, plus its figures by identifier type
    and the identifiers uploads refused, by reason (as ``reach contact-list stats`` shows)."""
    service = ContactListService(session, settings, clock, request.app.state.list_matches, index)
    stats = service.statistics(reader.advertiser_ids, audience_segment_id)
    by_type = [
        {
            "identifierType": kind,
            "numberOfIdentifiers": count,
            "numberOfMatches": matches,
        }
        for kind, (count, matches) in sorted(stats.by_type.items())
    ]
    refused = [
        {"reason": reason, "count": count}
        for reason, count in sorted(stats.invalid.items(), key=lambda item: -item[1])
    ]
    return JsonResponse(
        {
            "data": {
                "id": audience_segment_id,
                "numberOfIdentifiers": stats.identifiers,
                "numberOfMatches": stats.matches,
                "matchRate": stats.rate,
                "byType": by_type,
                "refused": refused,
            },
            "errors": [],
            "warnings": wire_problems(request, stats.warnings),
        }
    )
