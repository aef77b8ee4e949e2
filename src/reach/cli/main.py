"""The ``reach`` Typer application: every command group in one place."""

from __future__ import annotations

import typer

from reach.cli import db, registries
from reach.cli.demo import demo
from reach.cli.serve import serve

app = typer.Typer(
    name="reach",
    help="Reach: a self-hosted audience segmentation server (Criteo Audience API 2025-01).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(serve)
app.command()(demo)
app.add_typer(db.app, name="db")
app.add_typer(registries.advertisers, name="advertisers")
app.add_typer(registries.clients, name="clients")
app.add_typer(registries.brands, name="brands")
app.add_typer(registries.behavioral, name="behavioral")
app.add_typer(registries.adsets, name="adsets")
