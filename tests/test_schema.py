"""A store is used only at the schema this Reach's migrations make."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from reach.app import create_app
from reach.config import Settings
from reach.db import Database
from reach.models import Base
from reach.schema import SchemaNotCurrent, require_current_schema, upgrade_to_head


@pytest.fixture
def store(tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path / 'reach.db'}")


def stamp(store: Database, revision: str) -> None:
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


def test_a_new_store_is_refused_until_migrated(store: Database, tmp_path: Path) -> None:
    with pytest.raises(SchemaNotCurrent, match="no schema yet: run `reach db upgrade`"):
        require_current_schema(store)
    settings = Settings(data_dir=tmp_path, database_url=str(store.url))
    with pytest.raises(SchemaNotCurrent):
        create_app(settings)
    upgrade_to_head(str(store.url))
    require_current_schema(store)
    create_app(settings)


def test_an_older_schema_asks_for_an_upgrade(store: Database) -> None:
    upgrade_to_head(str(store.url))
    with store.engine.connect() as connection:
        head = connection.scalar(text("SELECT version_num FROM alembic_version"))
    stamp(store, "0001")
    with pytest.raises(SchemaNotCurrent, match=f"at revision 0001, this Reach needs {head}"):
        require_current_schema(store)


def test_a_newer_schema_asks_for_a_newer_reach(store: Database) -> None:
    upgrade_to_head(str(store.url))
    stamp(store, "9999_from_the_future")
    with pytest.raises(SchemaNotCurrent, match="migrated by a newer Reach"):
        require_current_schema(store)


def test_the_migrations_make_the_models_schema(database_url: str) -> None:
    """`alembic check` on both databases: the migrated store and the models agree exactly."""
    database = Database(database_url)
    try:
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        database.dispose()
