"""The store's schema: the Alembic migrations that make it, and whether a store is current."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

import reach
from reach.db import Database


class SchemaNotCurrent(Exception):
    """The store was not migrated to the schema this Reach needs."""


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


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(migrations_dir()))


def require_current_schema(database: Database) -> None:
    """Refuse a store whose schema is missing, older or newer than this Reach's migrations."""
    where = database.url.render_as_string(hide_password=True)
    if database.missing:
        raise SchemaNotCurrent(f"The store {where} has no schema yet: run `reach db upgrade`")
    scripts = _scripts()
    heads = set(scripts.get_heads())
    with database.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current == heads:
        return
    if not current:
        raise SchemaNotCurrent(f"The store {where} has no schema yet: run `reach db upgrade`")
    known = {script.revision for script in scripts.walk_revisions()}
    if not current <= known:
        raise SchemaNotCurrent(
            f"The store {where} was migrated by a newer Reach (revision"
            f" {', '.join(sorted(current))}): upgrade Reach to use it"
        )
    raise SchemaNotCurrent(
        f"The store {where} is at revision {', '.join(sorted(current))}, this Reach needs"
        f" {', '.join(sorted(heads))}: run `reach db upgrade`"
    )
