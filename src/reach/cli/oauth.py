"""``reach consent`` and ``reach operators``: the authorization-code flow at the command line,
and the people who may approve consents on the consent page."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from reach.cli.context import context, err, out

consent = typer.Typer(
    help="Consents: which advertisers a client may act for (OAuth2 authorization code).",
    no_args_is_help=True,
)
operators = typer.Typer(
    help="Operators: the people who approve consents on the consent page.", no_args_is_help=True
)


def _advertiser_ids(raw: list[str]) -> list[int]:
    ids = []
    for value in raw:
        if not value.isdigit():
            err.print(f"[red]error:[/red] advertiser id '{value}' is not a number")
            raise typer.Exit(1)
        ids.append(int(value))
    return ids


@consent.command("grant")
def grant(
    client: Annotated[str, typer.Option("--client", metavar="CLIENT_ID", help="The client.")],
    advertiser: Annotated[
        list[str], typer.Option("--advertiser", help="An advertiser it may act for (repeatable).")
    ],
    redirect_uri: Annotated[
        str, typer.Option("--redirect-uri", help="Where the code is sent; bound to the code.")
    ],
    state: Annotated[
        str | None, typer.Option("--state", help="The client's state, echoed in the redirect.")
    ] = None,
) -> None:
    """Grant a consent and issue its authorization code (valid 10 minutes, once); prints
    {"code", "redirect"} as JSON."""
    from reach.auth.service import redirect_with  # noqa: PLC0415

    ids = _advertiser_ids(advertiser)
    with context() as ctx, ctx.database.session(write=True) as session:
        issued = ctx.auth(session).grant_consent(client, ids, redirect_uri)
    params = {"code": issued.code} | ({"state": state} if state is not None else {})
    # Printed once committed: a code that is shown always works.
    typer.echo(
        json.dumps({"code": issued.code, "redirect": redirect_with(issued.redirect_uri, params)})
    )


@consent.command("list")
def list_consents() -> None:
    """Show every consent: its client, advertisers, who granted it, and whether it ended."""
    with context() as ctx, ctx.database.session() as session:
        table = Table(
            "id", "client_id", "advertisers", "redirect_uri", "granted_by", "created", "revoked"
        )
        for c in ctx.auth(session).list_consents():
            revoked = ""
            if c.revoked_at is not None:
                revoked = f"{c.revoked_at.isoformat(timespec='seconds')} ({c.revoked_reason})"
            table.add_row(
                str(c.id),
                c.client.client_id,
                ", ".join(str(a.advertiser_id) for a in c.advertisers),
                c.redirect_uri or "",
                c.granted_by,
                c.created_at.isoformat(timespec="seconds"),
                revoked,
            )
        out.print(table)


@consent.command("revoke")
def revoke(consent_id: Annotated[int, typer.Argument(metavar="CONSENT_ID")]) -> None:
    """Revoke a consent: its refresh tokens and the access tokens issued under it stop
    working at once."""
    with context() as ctx, ctx.database.session(write=True) as session:
        revoked = ctx.auth(session).revoke_consent(consent_id)
        err.print(f"Revoked consent {revoked.id} of client {revoked.client.client_id}")


@operators.command("add")
def add_operator(
    email: Annotated[str, typer.Argument(metavar="EMAIL")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from standard input."),
    ] = False,
    read_only: Annotated[
        bool,
        typer.Option("--read-only", help="In the console, they may look and change nothing."),
    ] = False,
) -> None:
    """Add an operator; the password (at least 12 characters) is read from standard input, so
    it never appears in the shell's history or the process list."""
    from reach.auth.service import OperatorService  # noqa: PLC0415

    if not password_stdin:
        err.print("[red]error:[/red] pass the password on standard input with --password-stdin")
        raise typer.Exit(1)
    # One line: the final line break of `echo` or a here-string is not part of the password.
    password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    with context() as ctx, ctx.database.session(write=True) as session:
        operator = OperatorService(session, ctx.clock).add(email, password, read_only=read_only)
        err.print(f"Added {'read-only ' if read_only else ''}operator {operator.email}")


@operators.command("list")
def list_operators() -> None:
    """Show every operator and the advertisers they may approve."""
    from reach.auth.service import OperatorService  # noqa: PLC0415

    with context() as ctx, ctx.database.session() as session:
        table = Table("email", "access", "advertisers", "created")
        for o in OperatorService(session, ctx.clock).list():
            table.add_row(
                o.email,
                "read" if o.read_only else "manage",
                ", ".join(str(g.advertiser_id) for g in o.grants),
                o.created_at.isoformat(timespec="seconds"),
            )
        out.print(table)


@operators.command("grant")
def grant_operator(
    email: Annotated[str, typer.Argument(metavar="EMAIL")],
    advertiser: Annotated[
        list[str],
        typer.Option("--advertiser", help="An advertiser they may approve (repeatable)."),
    ],
) -> None:
    """Let an operator approve consents for these advertisers."""
    from reach.auth.service import OperatorService  # noqa: PLC0415

    ids = _advertiser_ids(advertiser)
    with context() as ctx, ctx.database.session(write=True) as session:
        operator = OperatorService(session, ctx.clock).grant(email, ids)
        held = ", ".join(str(g.advertiser_id) for g in operator.grants)
        err.print(f"{operator.email} may approve advertisers {held}")
