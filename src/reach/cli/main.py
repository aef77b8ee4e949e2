"""The ``reach`` Typer application: every command group in one place."""

from __future__ import annotations

from typing import Annotated

import typer

from reach.cli import backup, contact_list, data, db, lookalike, oauth, registries, sandbox
from reach.cli.boot import boot
from reach.cli.demo import demo
from reach.cli.demo_data import demo_data
from reach.cli.members import audiences, segments
from reach.cli.serve import serve

# The distribution Reach is installed as (``pip install``), whose version ``--version`` shows.
DISTRIBUTION = "reach-audiences"

app = typer.Typer(
    name="reach",
    help="Reach: a self-hosted audience segmentation server (Criteo Audience API, every version).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help and usage errors: Typer's Rich formatting loads Markdown, traceback and syntax
    # modules (0.2 s or more) before it prints a line, and --help must answer at once.
    rich_markup_mode=None,
)


def _show_version(shown: bool) -> None:
    if shown:
        from importlib.metadata import version  # noqa: PLC0415 - slow, and rarely needed

        typer.echo(f"reach {version(DISTRIBUTION)}")
        raise typer.Exit


@app.callback()
def _root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    pass


app.command()(serve)
app.command()(demo)
app.command()(boot)
app.command("demo-data")(demo_data)
app.command()(data.ingest)
app.add_typer(data.index, name="index")
app.add_typer(contact_list.app, name="contact-list")
app.add_typer(lookalike.app, name="lookalike")
app.add_typer(segments, name="segments")
app.add_typer(audiences, name="audiences")
app.add_typer(db.app, name="db")
app.add_typer(backup.app, name="backup")
app.add_typer(registries.advertisers, name="advertisers")
app.add_typer(registries.clients, name="clients")
app.add_typer(registries.brands, name="brands")
app.add_typer(registries.behavioral, name="behavioral")
app.add_typer(registries.adsets, name="adsets")
app.add_typer(oauth.consent, name="consent")
app.add_typer(oauth.operators, name="operators")
app.add_typer(sandbox.admin, name="admin")
app.command()(sandbox.reset)
