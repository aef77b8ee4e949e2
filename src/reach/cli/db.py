"""``reach db``: create or upgrade the metadata store's schema (Alembic migrations)."""

from __future__ import annotations

import typer

from reach.cli.context import context, err

app = typer.Typer(help="Manage the metadata store's schema.", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Migrate the store to the latest schema (creates it when new)."""
    from reach.schema import upgrade_to_head  # noqa: PLC0415

    with context(require_schema=False) as ctx:
        upgrade_to_head(ctx.settings.resolved_database_url)
        err.print(f"Schema is up to date ({ctx.database.url.render_as_string(hide_password=True)})")
