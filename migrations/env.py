"""Alembic environment: migrates the database named by the caller or by Reach's Settings."""

from __future__ import annotations

from alembic import context

from reach.config import Settings
from reach.db import MIGRATION_TIMEOUTS, Database, serialize_startup
from reach.models import Base

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    configured = config.get_main_option("sqlalchemy.url")
    return configured or Settings().resolved_database_url


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # The migrations create the store when it is new (owner-only, for SQLite): the server and
    # the other commands never do.
    database = Database(database_url(), timeouts=MIGRATION_TIMEOUTS, create=True)
    try:
        # A write connection: on SQLite the migration holds the write lock from its first step.
        with database.engine.connect().execution_options(reach_write=True) as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=database.is_sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                # Hosts started together migrate one after the other; the later ones find the
                # schema current (the version is read after the lock is taken).
                serialize_startup(connection)
                context.run_migrations()
    finally:
        database.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
