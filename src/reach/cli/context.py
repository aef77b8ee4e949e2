"""What every command shares: Settings from the environment, services, and clean failures.

The command line imports only Typer, Rich and the standard library when it starts; each command
imports what it uses (the database, the engine, the web stack) when it runs, so ``reach --help``
and every command's ``--help`` load none of them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import UnionType
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from pydantic import ValidationError
    from pydantic.fields import FieldInfo
    from sqlalchemy.orm import Session

    from reach.auth.service import AuthService
    from reach.config import Settings
    from reach.db import Database
    from reach.kit.clock import SystemClock

err = Console(stderr=True, soft_wrap=True)
# Tables and results on standard output. Into a pipe or a file, lines are never cut to a
# terminal's width: an id copied from there must be whole.
out = Console(width=None if sys.stdout.isatty() else 100_000)

# The exit status of a command refused for a bad REACH_* value: a usage error, as a bad option.
BAD_SETTING_EXIT = 2


@dataclass
class Context:
    settings: Settings
    database: Database
    clock: SystemClock

    def auth(self, session: Session) -> AuthService:
        from reach.auth.service import AuthService  # noqa: PLC0415
        from reach.auth.tokens import SecretHasher, TokenSigner  # noqa: PLC0415

        key = self.settings.signing_key()
        signer = TokenSigner(
            key, self.clock, self.settings.token_lifetime_seconds, self.settings.token_grace_seconds
        )
        return AuthService(session, SecretHasher(key), signer, self.clock)


def load_settings() -> Settings:
    """The Settings of the environment; a bad ``REACH_*`` value ends the command with one line
    per variable, naming it and what it expects, and exit status 2."""
    from pydantic import ValidationError  # noqa: PLC0415

    from reach.config import Settings  # noqa: PLC0415

    try:
        return Settings()
    except ValidationError as invalid:
        for line in explain_settings(invalid):
            err.print(f"[red]error:[/red] {escape(line)}")
        raise typer.Exit(BAD_SETTING_EXIT) from None


def explain_settings(invalid: ValidationError) -> list[str]:
    """One sentence per refused variable: what it expects and, unless it is a secret, what it
    was given. A validator's own message (which names its variables) is kept as it is."""
    from pydantic import SecretStr  # noqa: PLC0415

    from reach.config import Settings  # noqa: PLC0415

    prefix = Settings.model_config.get("env_prefix", "")
    lines: dict[str, str] = {}
    for error in invalid.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        if name in lines:
            continue  # one line per variable, however many checks it failed
        reason = error.get("ctx", {}).get("error")
        field = Settings.model_fields.get(name)
        if error["type"] == "value_error" and reason is not None:
            lines[name] = str(reason)
        elif field is None:
            lines[name] = error["msg"]
        else:
            variable = f"{prefix}{name}".upper()
            line = f"{variable} expects {expectation(field)}"
            if SecretStr not in (field.annotation, *get_args(field.annotation)):
                line += f", not {error['input']!r}"
            lines[name] = line
    return list(lines.values())


def expectation(field: FieldInfo) -> str:
    """What a setting accepts, in words: 'an integer from 1 to 65535'."""
    import annotated_types  # noqa: PLC0415

    annotation = field.annotation
    if get_origin(annotation) in (UnionType, Union):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(str(choice) for choice in get_args(annotation))
    kind = TYPE_WORDS.get(annotation, "a valid value")

    def bound(rule: type[Any], name: str) -> Any:
        return next((getattr(r, name) for r in field.metadata if isinstance(r, rule)), None)

    low, high = bound(annotated_types.Ge, "ge"), bound(annotated_types.Le, "le")
    if low is not None and high is not None:
        return f"{kind} from {low} to {high}"
    limits = " and ".join(
        f"{words} {value}"
        for words, value in (
            ("at least", low),
            ("greater than", bound(annotated_types.Gt, "gt")),
            ("at most", high),
            ("less than", bound(annotated_types.Lt, "lt")),
        )
        if value is not None
    )
    if not limits:
        return kind
    return f"{kind} of {limits}" if limits.startswith("at ") else f"{kind} {limits}"


# The words for each type a setting can have.
TYPE_WORDS: dict[Any, str] = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "text",
}


@contextmanager
def context(*, require_schema: bool = True) -> Iterator[Context]:
    """Settings, database and clock for one command, on a store with the current schema unless
    ``require_schema`` is off; a Problem ends it with a clear message."""
    from reach.db import Database  # noqa: PLC0415
    from reach.kit.clock import SystemClock  # noqa: PLC0415
    from reach.kit.problems import Problem  # noqa: PLC0415
    from reach.schema import SchemaNotCurrent, require_current_schema  # noqa: PLC0415

    settings = load_settings()
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
