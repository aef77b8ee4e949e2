"""The ``reach`` command line: serve, database, registries and demo."""

from __future__ import annotations

from reach.cli.main import app


def main() -> None:
    app()


__all__ = ["app", "main"]
