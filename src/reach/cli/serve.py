"""``reach serve``: run the API server."""

from __future__ import annotations

import gc
from typing import Annotated

import typer
import uvicorn
from rich.markup import escape

from reach.app import create_app
from reach.cli.context import err
from reach.config import Settings
from reach.schema import SchemaNotCurrent


def run_server(settings: Settings, host: str, port: int) -> None:
    app = create_app(settings)
    # Everything loaded so far lives as long as the process: keep it out of the collector's
    # full passes, which otherwise stall requests for tens of milliseconds under load.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=settings.access_log,
        proxy_headers=False,
        server_header=False,
    )


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (REACH_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (REACH_PORT).")] = None,
) -> None:
    """Run the Reach API server."""
    settings = Settings()
    try:
        run_server(settings, host or settings.host, port or settings.port)
    except SchemaNotCurrent as problem:
        err.print(f"[red]error:[/red] {escape(str(problem))}")
        raise typer.Exit(1) from None
