"""``reach db``: create or upgrade the metadata store's schema (Alembic migrations)."""

from __future__ import annotations

from pathlib import Path

import typer
from alembic import command
from alembic.config import Config

import reach
from reach.cli.context import context, err

app = typer.Typer(help="Manage the metadata store's schema.", no_args_is_help=True)


def migrations_dir() -> Path:
    """Migrations ship inside the wheel; in a source checkout they sit at the repository root."""
    package = Path(reach.__file__).resolve().parent
    for candidate in (package / "migrations", package.parents[1] / "migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise FileNotFoundError("Reach's migrations are missing from this installation")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # Alembic's config is ConfigParser-based: a literal % must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_to_head(url: str) -> None:
    command.upgrade(alembic_config(url), "head")


@app.command()
def upgrade() -> None:
    """Migrate the store to the latest schema (creates it when new)."""
    with context() as ctx:
        upgrade_to_head(ctx.settings.resolved_database_url)
        err.print(f"Schema is up to date ({ctx.database.url.render_as_string(hide_password=True)})")
