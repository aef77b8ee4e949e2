"""``reach contact-list``: upload identifiers from files, and statistics with their breakdown."""

from __future__ import annotations

import codecs
import csv
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TextIO

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from reach.cli.context import Context, context, err, out

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from reach.contact_list.schemas import IdentifierType
    from reach.contact_list.service import ContactListService

app = typer.Typer(help="Contact lists: upload identifiers, see what matched.", no_args_is_help=True)

TYPES: tuple[IdentifierType, ...] = ("email", "phoneNumber", "madid", "identityLink", "gum")


def _service(ctx: Context, session: Session) -> ContactListService:
    from reach.contact_list.service import ContactListService, ListMatches  # noqa: PLC0415
    from reach.contact_list.storage import ListStore  # noqa: PLC0415
    from reach.engine.query import IndexProvider  # noqa: PLC0415
    from reach.kit.privacy import SizePrivacy  # noqa: PLC0415

    lists = ListMatches(
        ListStore(ctx.settings.data_dir / "lists"), SizePrivacy.from_settings(ctx.settings)
    )
    index = IndexProvider(ctx.settings.data_dir).current()
    return ContactListService(session, ctx.settings, ctx.clock, lists, index)


def _values(handle: TextIO, column: str | None, is_csv: bool) -> Iterator[str]:
    if not is_csv:
        for line in handle:
            if line.strip():
                yield line.rstrip("\r\n")
        return
    reader = csv.reader(handle)
    header = next(reader, [])
    position = 0
    if column is not None:
        if column not in header:
            raise typer.BadParameter(f"no column '{column}' in {', '.join(header)}")
        position = header.index(column)
    for row in reader:
        if len(row) > position and row[position].strip():
            yield row[position]


NUL = b"\x00"


def _text_problem(file: Path) -> str | None:
    """Why ``file`` is not UTF-8 text (checked before any batch is sent, so a binary file
    changes nothing), or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with file.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            nul = chunk.find(NUL)
            if nul >= 0:
                return f"byte {offset + nul} is NUL: this is not a text file"
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return f"byte {offset + exc.start} is not UTF-8: this is not a UTF-8 text file"
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "the file ends inside a UTF-8 character"
    return None


@app.command()
def upload(
    segment_id: Annotated[str, typer.Argument(metavar="SEGMENT_ID")],
    file: Annotated[Path, typer.Argument(metavar="FILE", help="CSV (with a header) or TXT.")],
    identifier_type: Annotated[str, typer.Option("--type", help=", ".join(TYPES))] = "email",
    remove: Annotated[bool, typer.Option("--remove", help="Remove instead of adding.")] = False,
    column: Annotated[
        str | None, typer.Option("--column", help="CSV column to read (default: the first).")
    ] = None,
    gum_caller_id: Annotated[int | None, typer.Option("--gum-caller-id")] = None,
) -> None:
    """Send a file's identifiers to a contact list in batches of 50,000 (hashed on arrival)."""
    from reach.contact_list.schemas import (  # noqa: PLC0415
        ContactlistAmendment,
        ContactlistAmendmentAttributes,
        ContactlistAmendmentRequest,
    )

    kind = next((t for t in TYPES if t == identifier_type), None)
    if kind is None:
        err.print(f"[red]error:[/red] --type must be one of {', '.join(TYPES)}")
        raise typer.Exit(1)
    if not file.is_file():
        err.print(f"[red]error:[/red] {file}: no such file")
        raise typer.Exit(1)
    problem = _text_problem(file)
    if problem is not None:
        err.print(f"[red]error:[/red] {file}: {problem}; nothing was sent")
        raise typer.Exit(1)
    operation: Literal["add", "remove"] = "remove" if remove else "add"
    valid = invalid = batches = 0
    sample: list[str] = []
    with context() as ctx:
        size = ctx.settings.max_contact_list_identifiers
        with (
            file.open(encoding="utf-8", newline="") as handle,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeElapsedColumn(),
                console=err,
            ) as progress,
        ):
            task = progress.add_task(f"{operation} {file.name}", total=file.stat().st_size)
            values = _values(handle, column, file.suffix.lower() == ".csv")
            while True:
                batch = [v for _, v in zip(range(size), values, strict=False)]
                if not batch:
                    break
                body = ContactlistAmendmentRequest(
                    data=ContactlistAmendment(
                        attributes=ContactlistAmendmentAttributes(
                            operation=operation,
                            identifier_type=kind,
                            identifiers=batch,
                            gum_caller_id=gum_caller_id,
                        )
                    )
                )
                with ctx.database.session(write=True) as session:
                    receipt = _service(ctx, session).amend(None, segment_id, body)
                valid += receipt.valid
                invalid += receipt.invalid
                sample.extend(receipt.sample[: 10 - len(sample)])
                batches += 1
                progress.advance(task, sum(len(v.encode("utf-8")) + 1 for v in batch))
    table = Table("batches", "valid", "invalid", "sample of invalid identifiers")
    table.add_row(str(batches), f"{valid:,}", f"{invalid:,}", ", ".join(sample))
    out.print(table)


@app.command()
def stats(segment_id: Annotated[str, typer.Argument(metavar="SEGMENT_ID")]) -> None:
    """Identifiers and matches of a list, by identifier type, and why identifiers were refused."""
    with context() as ctx, ctx.database.session() as session:
        found = _service(ctx, session).statistics(None, segment_id)
    table = Table("identifier type", "identifiers", "matches", "match rate")
    for kind, (count, matches) in sorted(found.by_type.items()):
        rate = f"{matches / count:.2%}" if matches is not None and count else ""
        table.add_row(kind, f"{count:,}", "" if matches is None else f"{matches:,}", rate)
    total_rate = "" if found.rate is None else f"{found.rate:.2%}"
    shown = "" if found.matches is None else f"{found.matches:,}"
    table.add_row("all", f"{found.identifiers:,}", shown, total_rate, style="bold")
    out.print(table)
    if found.invalid:
        refused = Table("refused because", "identifiers")
        for reason, count in Counter(found.invalid).most_common():
            refused.add_row(reason, f"{count:,}")
        out.print(refused)
    for warning in found.warnings:
        err.print(f"[yellow]{warning.detail}[/yellow]")


@app.command("read-only")
def read_only(
    segment_id: Annotated[str, typer.Argument(metavar="SEGMENT_ID")],
    off: Annotated[bool, typer.Option("--off", help="Make the list writable again.")] = False,
) -> None:
    """Protect a list from changes through the API (PATCH and DELETE are refused)."""
    with context() as ctx, ctx.database.session(write=True) as session:
        segment = _service(ctx, session).set_read_only(segment_id, not off)
        state = "writable" if off else "read-only"
        err.print(f"Contact list {segment.id} ({segment.name}) is {state}")
