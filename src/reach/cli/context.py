"""What every command shares: Settings from the environment, services, and clean failures."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.orm import Session

from reach.auth.service import AuthService
from reach.auth.tokens import SecretHasher, TokenSigner
from reach.config import Settings
from reach.db import Database
from reach.kit.clock import SystemClock
from reach.kit.problems import Problem
from reach.schema import SchemaNotCurrent, require_current_schema

err = Console(stderr=True, soft_wrap=True)
# Tables and results on standard output. Into a pipe or a file, lines are never cut to a
# terminal's width: an id copied from there must be whole.
out = Console(width=None if sys.stdout.isatty() else 100_000)


@dataclass
class Context:
    settings: Settings
    database: Database
    clock: SystemClock

    def auth(self, session: Session) -> AuthService:
        key = self.settings.signing_key()
        signer = TokenSigner(
            key, self.clock, self.settings.token_lifetime_seconds, self.settings.token_grace_seconds
        )
        return AuthService(session, SecretHasher(key), signer, self.clock)


@contextmanager
def context(*, require_schema: bool = True) -> Iterator[Context]:
    """Settings, database and clock for one command, on a store with the current schema unless
    ``require_schema`` is off; a Problem ends it with a clear message."""
    settings = Settings()
    database = Database.from_settings(settings)
    try:
        if require_schema:
            require_current_schema(database)
        yield Context(settings, database, SystemClock())
    except (Problem, SchemaNotCurrent) as problem:
        err.print(f"[red]error:[/red] {escape(str(problem))}")
        raise typer.Exit(1) from None
    finally:
        database.dispose()


def fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    sys.exit(1)
