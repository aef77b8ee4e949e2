"""``reach boot``: what a container runs. Migrate the store, make sure a first client exists,
then become ``reach serve``.

It can run at every start of a container: the migrations are idempotent, a store that has a
client gets none, and a secret is shown only by the start that generated it."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reach.cli.context import BAD_SETTING_EXIT, Context, context, err, load_settings
from reach.cli.registries import _print_credentials as print_credentials
from reach.cli.serve import HostOption, PortOption, WorkersOption

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from reach.auth.service import IssuedCredentials

FIRST_CLIENT = "first-client"
DEFAULT_ADVERTISERS = ["1001"]


def boot(
    host: HostOption = None,
    port: PortOption = None,
    # serve's bounds: a bad count stops boot before the store changes.
    workers: WorkersOption = None,
    client_id: Annotated[
        str | None,
        typer.Option(
            envvar="REACH_BOOT_CLIENT_ID",
            help="The first client's id (3 to 64 letters, digits, '.', '-', '_').",
        ),
    ] = None,
    client_secret: Annotated[
        str | None,
        typer.Option(
            envvar="REACH_BOOT_CLIENT_SECRET",
            help="The first client's secret (16+ characters); never printed.",
        ),
    ] = None,
    advertisers: Annotated[
        list[str] | None,
        typer.Option(
            "--advertiser",
            envvar="REACH_BOOT_ADVERTISERS",
            help="An advertiser of the first client, registered when new (repeatable; in the"
            " variable, separated by spaces). Default: 1001.",
        ),
    ] = None,
) -> None:
    """Migrate the store, create a first client unless one exists (a generated secret is
    printed once), then run the server: the start command of the container image."""
    from reach.auth.service import check_chosen_client_id, check_chosen_secret  # noqa: PLC0415
    from reach.schema import upgrade_to_head  # noqa: PLC0415

    load_settings()  # a bad REACH_* value stops here, before the store changes
    # An empty variable is an unset one (compose passes them through empty).
    client_id, client_secret = client_id or None, client_secret or None
    if (client_id is None) != (client_secret is None):
        err.print(
            "[red]error:[/red] REACH_BOOT_CLIENT_ID and REACH_BOOT_CLIENT_SECRET go together:"
            " set both, or neither (then a client is generated)"
        )
        raise typer.Exit(BAD_SETTING_EXIT)
    wanted = [a for a in advertisers or () if a] or DEFAULT_ADVERTISERS
    with context(require_schema=False) as ctx:
        if client_id is not None and client_secret is not None:
            check_chosen_client_id(client_id)
            check_chosen_secret(client_secret)
        upgrade_to_head(ctx.settings.resolved_database_url)
        with ctx.database.session(write=True) as session:
            issued = first_client(ctx, session, wanted, client_id, client_secret)
    if issued is not None:
        err.print("First client created; its secret is shown only now:")
        print_credentials(issued)
    # The server takes this process's place (its id, so the container's signals reach it);
    # what was printed must be out before.
    sys.stdout.flush()
    sys.stderr.flush()
    arguments = ["serve"]
    for name, value in (("--host", host), ("--port", port), ("--workers", workers)):
        if value is not None:
            arguments += [name, str(value)]
    program = reach_program()
    os.execv(program, [program, *arguments])  # noqa: S606 - our own command, arguments as a list


def first_client(
    ctx: Context,
    session: Session,
    advertisers: list[str],
    client_id: str | None,
    client_secret: str | None,
) -> IssuedCredentials | None:
    """The credentials to show: those of a client generated now, none when the store has a
    client already or the client was chosen (its secret is the operator's own)."""
    from reach.db import serialize_startup  # noqa: PLC0415
    from reach.kit.problems import Invalid  # noqa: PLC0415
    from reach.reference.service import ReferenceService  # noqa: PLC0415

    # Containers started together: one creates the first client, the others then see it.
    serialize_startup(session)
    auth = ctx.auth(session)
    if client_id is not None:
        known = auth.clients.by_client_id(client_id)
        if known is not None:
            if known.revoked_at is not None:
                raise Invalid(f"The client {client_id} (REACH_BOOT_CLIENT_ID) is revoked")
            # Rotating to the secret it has already changes nothing and ends no token.
            auth.rotate_secret(client_id, new_secret=client_secret)
            err.print(f"Client {client_id} is ready")
            return None
    elif any(c.revoked_at is None for c in auth.list_clients()):
        return None
    reference = ReferenceService(session, ctx.clock)
    ids = []
    for raw in advertisers:
        if not raw.isdigit():
            raise Invalid(f"An advertiser id is a positive 64-bit integer, not '{raw}'")
        if reference.advertisers.get(int(raw)) is None:
            reference.add_advertiser(raw, f"Advertiser {raw}")
        ids.append(int(raw))
    issued = auth.create_client(
        FIRST_CLIENT, ids, read_only=False, client_id=client_id, client_secret=client_secret
    )
    if client_id is not None:
        err.print(f"Client {client_id} created")
        return None
    return issued


def reach_program() -> str:
    """This installation's ``reach``: the console script beside the interpreter, else the one
    on the PATH."""
    beside = Path(sys.executable).with_name("reach")
    if beside.is_file():
        return str(beside)
    found = shutil.which("reach")
    if found is None:
        err.print("[red]error:[/red] the `reach` command is not on the PATH")
        raise typer.Exit(1)
    return found
