"""Reference data the console shows and the Criteo API does not send: the names of the in-market
interests (the API lists their ids and parents only)."""

from __future__ import annotations

from fastapi import APIRouter

from reach.auth.auth import AudienceReader
from reach.kit.wire import JsonResponse
from reach.reference.taxonomy import taxonomy

router = APIRouter(prefix="/console/api", include_in_schema=False)


@router.get("/interest-names")
def interest_names(reader: AudienceReader) -> JsonResponse:
    """``{"data": {id: name}, "version": ...}`` of the taxonomy the API checks interests
    against."""
    del reader  # authenticated like every console call; the names are the same for everyone
    tree = taxonomy()
    return JsonResponse(
        {"data": {i.id: i.name for i in tree.interests.values()}, "version": tree.version},
        headers={"Cache-Control": "private, max-age=3600"},
    )
