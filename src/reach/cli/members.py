"""``reach segments members`` and ``reach audiences members``: the people of a segment or an
audience over the index in service, as CSV or Parquet (docs/export.md)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from reach.cli.context import Context, context, err
from reach.export import Format

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from reach.export.service import Members, MembersService

segments = typer.Typer(help="Segments: their members.", no_args_is_help=True)
audiences = typer.Typer(help="Audiences: their members.", no_args_is_help=True)

FormatOption = Annotated[Format, typer.Option("--format", help="csv (the default) or parquet.")]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        dir_okay=False,
        help="The file to write, once complete; without it, CSV goes to standard output.",
    ),
]
IdentitiesOption = Annotated[
    bool,
    typer.Option(
        "--identities",
        help="Add the identities that arrived hashed (SHA-256 e-mails and phone numbers).",
    ),
]


def _service(ctx: Context, session: Session) -> MembersService:
    from reach.audience_segment.membership import MembershipCache  # noqa: PLC0415
    from reach.contact_list.service import ListMatches  # noqa: PLC0415
    from reach.contact_list.storage import ListStore  # noqa: PLC0415
    from reach.engine.query import IndexProvider  # noqa: PLC0415
    from reach.export.service import MembersService  # noqa: PLC0415
    from reach.kit.privacy import SizePrivacy  # noqa: PLC0415
    from reach.lookalike.service import Lookalikes  # noqa: PLC0415
    from reach.lookalike.storage import ResultStore  # noqa: PLC0415
    from reach.sizing.service import SizingService  # noqa: PLC0415

    settings = ctx.settings
    lists = ListMatches(ListStore(settings.data_dir / "lists"), SizePrivacy.from_settings(settings))
    # No worker to wake here: a lookalike not built yet is said so (`reach lookalike build`).
    lookalikes = Lookalikes(ResultStore(settings.data_dir / "lookalikes"), lambda: None)
    index = IndexProvider(settings.data_dir).current()
    return MembersService(
        SizingService(session, settings, ctx.clock, index, lists, lookalikes, MembershipCache(0))
    )


@contextlib.contextmanager
def _sink(out: Path) -> Iterator[BinaryIO]:
    """A file beside ``out`` (owner-only: it lists people) that replaces ``out`` only once it
    is complete."""
    directory = out.resolve().parent
    if not directory.is_dir():
        raise typer.BadParameter(f"no directory {directory}", param_hint="--out")
    fd, partial = tempfile.mkstemp(dir=directory, prefix=f".{out.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(partial, out)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _export(kind: str, raw_id: str, fmt: Format, out: Path | None, identities: bool) -> None:
    from reach.engine.store import Store  # noqa: PLC0415
    from reach.export import service  # noqa: PLC0415

    if fmt == "parquet" and out is None:
        raise typer.BadParameter("Parquet is written to a file: add --out FILE", param_hint="--out")
    with context() as ctx:
        with ctx.database.session() as session:
            members = _service(ctx, session)
            found: Members = (
                members.segment(raw_id) if kind == "segment" else members.audience(raw_id)
            )
        service.logged(found, fmt, identities=identities, by="the command line")
        store = Store(ctx.settings.data_dir / "store")
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=not err.is_terminal,
        ) as progress:
            task = progress.add_task(f"{kind} {found.id}", total=len(found))

            def written(rows: int) -> None:
                progress.advance(task, rows)

            if out is None:
                # Written whole first, then copied: a pipe that its reader leaves full never
                # holds the store's lock (an ingestion would wait on it).
                with service.materialised(
                    store, found, fmt, ctx.settings.data_dir, identities=identities, written=written
                ) as whole:
                    shutil.copyfileobj(whole, sys.stdout.buffer)
                sys.stdout.buffer.flush()
            else:
                with _sink(out) as sink:
                    service.write(store, found, fmt, sink, identities=identities, written=written)
    # The command's own record of the export, as the server logs one (docs/export.md).
    where = escape(str(out)) if out is not None else "standard output"
    err.print(f"{len(found):,} members of {kind} {found.id} written to {where}")


@segments.command("members")
def segment_members(
    segment_id: Annotated[str, typer.Argument(metavar="SEGMENT_ID")],
    fmt: FormatOption = "csv",
    out: OutOption = None,
    identities: IdentitiesOption = False,
) -> None:
    """Write the people of a segment (their user ids) over the index in service."""
    _export("segment", segment_id, fmt, out, identities)


@audiences.command("members")
def audience_members(
    audience_id: Annotated[str, typer.Argument(metavar="AUDIENCE_ID")],
    fmt: FormatOption = "csv",
    out: OutOption = None,
    identities: IdentitiesOption = False,
) -> None:
    """Write the people of an audience (their user ids) over the index in service."""
    _export("audience", audience_id, fmt, out, identities)
