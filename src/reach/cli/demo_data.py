"""``reach demo-data``: write a deterministic, realistic demo data set as Parquet files."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich import filesize
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from reach.cli.context import err, out
from reach.kit.clock import SystemClock
from reach.reference.taxonomy import taxonomy


def demo_data(
    users: Annotated[int, typer.Option(min=1, help="Number of users.")] = 20_000,
    days: Annotated[int, typer.Option(min=1, help="Days of events and pings.")] = 30,
    advertisers: Annotated[
        int, typer.Option(min=1, help="Number of advertisers (ids 1001, 1002, ...).")
    ] = 3,
    seed: Annotated[
        int, typer.Option(min=0, help="Random seed: the same options write the same files.")
    ] = 42,
    directory: Annotated[
        Path, typer.Option("--out", file_okay=False, help="Directory to write into.")
    ] = Path("demo-data"),
    end_date: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], show_default="today, UTC", help="Last day of the data."),
    ] = None,
) -> None:
    """Write demo brands, products, users, identities, events, pings and behavioral data.

    Files follow docs/data-model.md; truth/ holds hidden taste groups, never to be ingested.
    """
    from reach.engine.demo_data import generate  # noqa: PLC0415

    last_day = end_date.date() if end_date is not None else SystemClock().now().date()
    started = time.perf_counter()
    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err) as progress:
        tasks: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        summary = generate(
            directory,
            users=users,
            days=days,
            advertisers=advertisers,
            seed=seed,
            end_date=last_day,
            interests=taxonomy().leaves(),
            progress=report,
        )
    elapsed = time.perf_counter() - started
    table = Table("file", "rows", "size", title=f"{directory} (seed {seed}, up to {last_day})")
    for name, rows in summary.rows.items():
        size = filesize.decimal((directory / name).stat().st_size)
        table.add_row(name, f"{rows:,}", size)
    out.print(table)
    err.print(
        f"{summary.events:,} events and {summary.pings:,} pings of {users:,} users"
        f" in {elapsed:.1f} s"
    )
