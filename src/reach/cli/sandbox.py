"""``reach admin token`` and ``reach reset``: the operator's side of the sandbox controls."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from reach.cli.context import context, err, load_settings
from reach.kit.clock import SystemClock
from reach.sandbox import DEFAULT_HOURS, MAX_HOURS

if TYPE_CHECKING:
    from reach.config import Settings

admin = typer.Typer(help="Sandbox administration (the /_reach/ controls).", no_args_is_help=True)


def admin_token(settings: Settings, hours: float = DEFAULT_HOURS) -> str:
    from reach.sandbox.auth import AdminTokens  # noqa: PLC0415

    return AdminTokens(settings.signing_key(), SystemClock()).issue(hours)


@admin.command("token")
def token(
    hours: Annotated[
        float,
        typer.Option(min=0.01, max=MAX_HOURS, help="How long the token works, in hours."),
    ] = DEFAULT_HOURS,
) -> None:
    """Print an admin token for the sandbox controls (Authorization: Bearer <token>)."""
    typer.echo(admin_token(load_settings(), hours))


def reset(
    advertiser: Annotated[
        str | None, typer.Option("--advertiser", metavar="ID", help="Only this advertiser's.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove what API clients created: segments (not Behavioral ones), audiences, contact-list
    identifiers, lookalike results and ad-set links. Advertisers, ad sets, brands, clients,
    Behavioral segments, event data and the index stay."""
    from reach.contact_list.storage import ListStore  # noqa: PLC0415
    from reach.lookalike.storage import ResultStore  # noqa: PLC0415
    from reach.sandbox.service import advertiser_to_reset, reset_store  # noqa: PLC0415

    with context() as ctx:
        advertiser_id = advertiser_to_reset(advertiser)
        scope = f"advertiser {advertiser_id}" if advertiser_id is not None else "every advertiser"
        if not yes and not typer.confirm(f"Remove what clients created for {scope}?"):
            raise typer.Exit(1)
        data_dir = ctx.settings.data_dir
        report = reset_store(
            ctx.database,
            ListStore(data_dir / "lists"),
            ResultStore(data_dir / "lookalikes"),
            advertiser_id,
        )
    typer.echo(
        json.dumps(
            {
                "advertiserId": str(advertiser_id) if advertiser_id is not None else None,
                "audienceSegments": report.audience_segments,
                "audiences": report.audiences,
                "contactLists": report.contact_lists,
                "lookalikeResults": report.lookalike_results,
                "adSetLinks": report.ad_set_links,
            }
        )
    )
    err.print(
        "A running server keeps its injected faults and journal in memory: clear them with"
        " POST /_reach/reset, or DELETE /_reach/faults and /_reach/journal."
    )
