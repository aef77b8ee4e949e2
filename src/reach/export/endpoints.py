"""HTTP export of members under ``/_reach/``: admin tokens only, served whether or not the
sandbox is on, outside the API's versions (so never journaled nor counted against a client)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Annotated, BinaryIO

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from reach.engine.store import Store
from reach.export import Format, service
from reach.export.service import Members, MembersService
from reach.export.writers import MEDIA_TYPES
from reach.kit.sizes import freshness_headers
from reach.sandbox.auth import require_admin
from reach.sizing.endpoints import SizingDep

router = APIRouter(prefix="/_reach", tags=["Export"], dependencies=[Depends(require_admin)])

FormatQuery = Annotated[Format, Query(alias="format")]
Identities = Annotated[bool, Query()]
CHUNK_BYTES = 1 << 20


def members_service(sizing: SizingDep) -> MembersService:
    return MembersService(sizing)


MembersDep = Annotated[MembersService, Depends(members_service)]


def _file_chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


def _answer(
    request: Request, found: Members, fmt: Format, identities: bool, members: MembersService
) -> StreamingResponse:
    settings = request.app.state.settings
    service.logged(found, fmt, identities=identities, by="an admin token (HTTP)")
    # Written whole before the answer starts, then sent from the file: the client's pace never
    # holds the store's lock (an ingestion would wait on it), and a store that cannot be read,
    # on any batch, gets a problem answer rather than a cut stream behind a 200.
    whole = service.materialised(
        Store(settings.data_dir / "store"), found, fmt, settings.data_dir, identities=identities
    )
    headers = {
        "Content-Disposition": f'attachment; filename="{found.name}.{fmt}"',
        "Content-Length": str(os.fstat(whole.fileno()).st_size),
        "x-reach-members": str(len(found)),
        **freshness_headers(members.index.as_of, members.index.built_at),
    }
    return StreamingResponse(_file_chunks(whole), media_type=MEDIA_TYPES[fmt], headers=headers)


@router.get("/segments/{segment_id}/members", operation_id="ExportSegmentMembers")
def export_segment_members(
    request: Request,
    segment_id: str,
    members: MembersDep,
    fmt: FormatQuery = "csv",
    identities: Identities = False,
) -> StreamingResponse:
    return _answer(request, members.segment(segment_id), fmt, identities, members)


@router.get("/audiences/{audience_id}/members", operation_id="ExportAudienceMembers")
def export_audience_members(
    request: Request,
    audience_id: str,
    members: MembersDep,
    fmt: FormatQuery = "csv",
    identities: Identities = False,
) -> StreamingResponse:
    return _answer(request, members.audience(audience_id), fmt, identities, members)
