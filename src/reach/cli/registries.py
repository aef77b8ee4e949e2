"""``reach advertisers``, ``reach clients``, ``reach brands`` and ``reach behavioral``."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from reach.cli.context import context, err, out
from reach.kit.problems import Invalid, Problem

if TYPE_CHECKING:
    from reach.audience_segment.schemas import BehavioralCategory
    from reach.auth.service import IssuedCredentials

advertisers = typer.Typer(help="Advertisers: the accounts that own segments.", no_args_is_help=True)
clients = typer.Typer(help="API clients (OAuth2 client credentials).", no_args_is_help=True)
brands = typer.Typer(help="The brand catalogue of in-market segments.", no_args_is_help=True)
behavioral = typer.Typer(help="Read-only Behavioral segments.", no_args_is_help=True)
adsets = typer.Typer(help="Ad sets, which audiences are linked to.", no_args_is_help=True)


@advertisers.command("add")
def add_advertiser(
    advertiser_id: Annotated[str, typer.Argument(metavar="ID", help="Positive 64-bit integer.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
) -> None:
    """Register an advertiser."""
    from reach.reference.service import ReferenceService  # noqa: PLC0415

    with context() as ctx, ctx.database.session(write=True) as session:
        advertiser = ReferenceService(session, ctx.clock).add_advertiser(advertiser_id, name)
        err.print(f"Added advertiser {advertiser.id} ({advertiser.name})")


@advertisers.command("import")
def import_advertisers(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="CSV with the columns id,name.")],
) -> None:
    """Register many advertisers from a CSV file, all or none."""
    from reach.reference.service import ReferenceService  # noqa: PLC0415

    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot read {path}: {exc.strerror}")
        raise typer.Exit(1) from None
    if not {"id", "name"} <= set(reader.fieldnames or ()):
        err.print("[red]error:[/red] the file needs a header line with the columns id,name")
        raise typer.Exit(1)
    with context() as ctx, ctx.database.session(write=True) as session:
        service = ReferenceService(session, ctx.clock)
        for line, row in enumerate(rows, start=2):
            try:
                service.add_advertiser(row["id"] or "", row["name"] or "")
            except Problem as problem:
                raise Invalid(f"{path}, line {line}: {problem.detail}") from None
    err.print(f"Added {len(rows)} advertisers")


@advertisers.command("list")
def list_advertisers() -> None:
    """Show every advertiser."""
    from reach.reference.service import ReferenceService  # noqa: PLC0415

    with context() as ctx, ctx.database.session() as session:
        table = Table("id", "name", "created")
        for a in ReferenceService(session, ctx.clock).list_advertisers():
            table.add_row(str(a.id), a.name, a.created_at.isoformat(timespec="seconds"))
        out.print(table)


def _print_credentials(issued: IssuedCredentials) -> None:
    typer.echo(
        json.dumps(
            {
                "client_id": issued.client_id,
                "client_secret": issued.client_secret,
                "advertisers": issued.advertisers,
            }
        )
    )


@clients.command("create")
def create_client(
    name: Annotated[str, typer.Option("--name", help="What the client is for.")],
    advertiser: Annotated[
        list[str], typer.Option("--advertiser", help="An advertiser it may act for (repeatable).")
    ],
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Only the MarketingSolutions_Audience_Read scope.")
    ] = False,
    client_id: Annotated[
        str | None,
        typer.Option("--client-id", help="A chosen client id (default: a generated one)."),
    ] = None,
    client_secret: Annotated[
        str | None,
        typer.Option(
            "--client-secret",
            help="A chosen secret, e.g. fixed credentials for a test suite (default: generated).",
        ),
    ] = None,
) -> None:
    """Create a client; prints its id and secret as JSON (the secret is shown only now)."""
    ids = []
    for raw in advertiser:
        if not raw.isdigit():
            err.print(f"[red]error:[/red] advertiser id '{raw}' is not a number")
            raise typer.Exit(1)
        ids.append(int(raw))
    with context() as ctx, ctx.database.session(write=True) as session:
        issued = ctx.auth(session).create_client(
            name, ids, read_only=read_only, client_id=client_id, client_secret=client_secret
        )
    # Printed once committed: a secret that is shown always works.
    _print_credentials(issued)


@clients.command("list")
def list_clients() -> None:
    """Show every client (never their secrets)."""
    with context() as ctx, ctx.database.session() as session:
        table = Table("client_id", "name", "advertisers", "scope", "created", "revoked")
        for c in ctx.auth(session).list_clients():
            table.add_row(
                c.client_id,
                c.name,
                ", ".join(str(g.advertiser_id) for g in c.grants),
                "read-only" if c.read_only else "read + manage",
                c.created_at.isoformat(timespec="seconds"),
                c.revoked_at.isoformat(timespec="seconds") if c.revoked_at else "",
            )
        out.print(table)


@clients.command("revoke")
def revoke_client(client_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Revoke a client: its secret and every token it holds stop working at once."""
    with context() as ctx, ctx.database.session(write=True) as session:
        client = ctx.auth(session).revoke(client_id)
        err.print(f"Revoked client {client.client_id} ({client.name})")


@clients.command("rotate")
def rotate_client(client_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Give a client a new secret (printed as JSON); the old secret and every access token
    issued under it stop working at once (consents and refresh tokens stay: they need the
    new secret)."""
    with context() as ctx, ctx.database.session(write=True) as session:
        issued = ctx.auth(session).rotate_secret(client_id)
    _print_credentials(issued)


@brands.command("add")
def add_brand(
    brand_id: Annotated[str, typer.Argument(metavar="ID")],
    name: Annotated[str, typer.Option("--name")],
) -> None:
    """Add a brand to the catalogue."""
    from reach.reference.service import ReferenceService  # noqa: PLC0415

    with context() as ctx, ctx.database.session(write=True) as session:
        brand = ReferenceService(session, ctx.clock).add_brand(brand_id, name)
        err.print(f"Added brand {brand.id} ({brand.name})")


def _date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        err.print(f"[red]error:[/red] '{value}' is not an ISO-8601 date")
        raise typer.Exit(1) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@behavioral.command("add")
def add_behavioral(
    advertiser: Annotated[int, typer.Option("--advertiser")],
    name: Annotated[str, typer.Option("--name")],
    category: Annotated[
        str, typer.Option("--category", help="Lifestyles, LifeEvents, Seasonal or BuyingPatterns.")
    ],
    country: Annotated[str | None, typer.Option("--country")] = None,
    start: Annotated[str | None, typer.Option("--start", help="ISO-8601 start date.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="ISO-8601 end date.")] = None,
) -> None:
    """Provide a read-only Behavioral segment to an advertiser."""
    from reach.audience_segment.service import AudienceSegmentService  # noqa: PLC0415

    categories: tuple[BehavioralCategory, ...] = (
        "Lifestyles",
        "LifeEvents",
        "Seasonal",
        "BuyingPatterns",
    )
    chosen = next((c for c in categories if c == category), None)
    if chosen is None:
        err.print(f"[red]error:[/red] --category must be one of {', '.join(categories)}")
        raise typer.Exit(1)
    with context() as ctx, ctx.database.session(write=True) as session:
        segment = AudienceSegmentService(session, ctx.settings, ctx.clock).add_behavioral(
            advertiser, name, chosen, country, _date(start), _date(end)
        )
        err.print(f"Added Behavioral segment {segment.id} ({segment.name})")


@adsets.command("add")
def add_ad_set(
    ad_set_id: Annotated[str, typer.Argument(metavar="ID", help="Positive 64-bit integer.")],
    advertiser: Annotated[int, typer.Option("--advertiser", help="The advertiser it serves.")],
    name: Annotated[str, typer.Option("--name")],
) -> None:
    """Register an ad set of an advertiser."""
    from reach.reference.service import ReferenceService  # noqa: PLC0415

    with context() as ctx, ctx.database.session(write=True) as session:
        ad_set = ReferenceService(session, ctx.clock).add_ad_set(ad_set_id, advertiser, name)
        err.print(f"Added ad set {ad_set.id} ({ad_set.name}) of advertiser {ad_set.advertiser_id}")


@adsets.command("list")
def list_ad_sets() -> None:
    """Show every ad set and the audience linked to it."""
    from reach.reference.service import ReferenceService  # noqa: PLC0415

    with context() as ctx, ctx.database.session() as session:
        table = Table("id", "advertiser", "name", "audience")
        for a in ReferenceService(session, ctx.clock).list_ad_sets():
            audience = str(a.audience_id) if a.audience_id is not None else ""
            table.add_row(str(a.id), str(a.advertiser_id), a.name, audience)
        out.print(table)
