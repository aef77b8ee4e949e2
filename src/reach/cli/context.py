"""What every command shares: Settings from the environment, services, and clean failures."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from reach.auth.service import AuthService
from reach.auth.tokens import SecretHasher, TokenSigner
from reach.config import Settings
from reach.db import Database
from reach.kit.clock import SystemClock
from reach.kit.problems import Problem

err = Console(stderr=True)


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
def context() -> Iterator[Context]:
    """Settings, database and clock for one command; a Problem ends it with a clear message."""
    settings = Settings()
    database = Database(settings.resolved_database_url)
    try:
        yield Context(settings, database, SystemClock())
    except Problem as problem:
        err.print(f"[red]error:[/red] {problem.detail}")
        raise typer.Exit(1) from None
    finally:
        database.dispose()


def fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    sys.exit(1)
