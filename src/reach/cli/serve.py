"""``reach serve``: run the API server."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from reach.cli.context import err, load_settings

if TYPE_CHECKING:
    from reach.config import Settings


def run_server(settings: Settings, host: str, port: int) -> None:
    # The web stack loads when a server starts, not with the command line.
    import uvicorn  # noqa: PLC0415

    from reach.app import create_app  # noqa: PLC0415
    from reach.cli.protocol import HeadLimits, bounded_protocol, log_config  # noqa: PLC0415

    app = create_app(settings)
    # Everything loaded so far lives as long as the process: keep it out of the collector's
    # full passes, which otherwise stall requests for tens of milliseconds under load.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=host,
        port=port,
        http=bounded_protocol(HeadLimits.from_settings(settings)),
        log_level="info",
        log_config=log_config(),
        access_log=settings.access_log,
        proxy_headers=False,
        server_header=False,
    )


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (REACH_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (REACH_PORT).")] = None,
) -> None:
    """Run the Reach API server."""
    from reach.schema import SchemaNotCurrent  # noqa: PLC0415

    settings = load_settings()
    try:
        run_server(settings, host or settings.host, port or settings.port)
    except SchemaNotCurrent as problem:
        err.print(f"[red]error:[/red] {escape(str(problem))}")
        raise typer.Exit(1) from None
