"""HTTP export of members under ``/_reach/``: admin tokens only, served whether or not the
sandbox is on, outside the API's versions (so never journaled nor counted against a client)."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from typing import Annotated, BinaryIO

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from reach.engine.store import Store
from reach.export import Format, service
from reach.export.people import schema as export_schema
from reach.export.service import Members, MembersService
from reach.export.writers import MEDIA_TYPES, csv_chunks, write_parquet
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
    store = Store(settings.data_dir / "store")
    service.logged(found, fmt, identities=identities, by="an admin token (HTTP)")
    rest = service.batches(store, found, identities=identities)
    # The first batch before the answer starts: a store that cannot be read still gets a
    # problem answer, not a cut stream.
    first = next(rest, None)
    batches = itertools.chain([] if first is None else [first], rest)
    schema = export_schema(identities=identities)
    if fmt == "csv":
        body: Iterator[bytes] = csv_chunks(batches, schema)
    else:
        # Parquet ends with its footer: written whole to a file no one else can open (already
        # unlinked, in the owner-only data directory), then sent from it.
        handle = tempfile.TemporaryFile(dir=settings.data_dir)  # noqa: SIM115 - closed by the stream
        try:
            write_parquet(batches, schema, handle)
        except BaseException:
            handle.close()
            raise
        handle.seek(0)
        body = _file_chunks(handle)
    headers = {
        "Content-Disposition": f'attachment; filename="{found.name}.{fmt}"',
        "x-reach-members": str(len(found)),
        **freshness_headers(members.index.as_of, members.index.built_at),
    }
    return StreamingResponse(body, media_type=MEDIA_TYPES[fmt], headers=headers)


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
