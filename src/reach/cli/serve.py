"""``reach serve``: run the API server."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from reach.cli.context import err, load_settings

if TYPE_CHECKING:
    from reach.config import Settings

# As REACH_WORKERS allows (the option is checked before the settings are read).
MAX_WORKERS = 64


def run_server(settings: Settings, host: str, port: int) -> None:
    # The web stack loads when a server starts, not with the command line.
    import uvicorn  # noqa: PLC0415

    from reach.app import create_app  # noqa: PLC0415
    from reach.cli.protocol import HeadLimits, bounded_protocol  # noqa: PLC0415
    from reach.kit.logs import configure_logging, uvicorn_log_config  # noqa: PLC0415

    # Before the app is built: what it logs at start is rendered like the rest.
    configure_logging(settings)
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
        log_level=settings.log_level,
        log_config=uvicorn_log_config(settings),
        # Reach logs each call itself (REACH_ACCESS_LOG), with what uvicorn does not know.
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )


# The options of every command that ends in a server (``serve``, ``boot``).
HostOption = Annotated[str | None, typer.Option(help="Interface to listen on (REACH_HOST).")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on (REACH_PORT).")]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=MAX_WORKERS,
        help="Server processes sharing the port, 1 to 64 (REACH_WORKERS).",
    ),
]


def serve(host: HostOption = None, port: PortOption = None, workers: WorkersOption = None) -> None:
    """Run the Reach API server."""
    from reach.schema import SchemaNotCurrent  # noqa: PLC0415

    settings = load_settings()
    count = workers or settings.workers
    try:
        if count > 1:
            from reach.cli.workers import run_workers  # noqa: PLC0415

            run_workers(settings, host or settings.host, port or settings.port, count)
        else:
            run_server(settings, host or settings.host, port or settings.port)
    except SchemaNotCurrent as problem:
        err.print(f"[red]error:[/red] {escape(str(problem))}")
        raise typer.Exit(1) from None
