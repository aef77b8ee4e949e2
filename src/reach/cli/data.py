"""``reach ingest`` and ``reach index``: event data in, bitmap index out."""

from __future__ import annotations

import shlex
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from reach.cli.context import Context, context, err, out
from reach.engine.shards import DEFAULT_SHARD_SPAN
from reach.engine.store import KINDS, Store

if TYPE_CHECKING:
    from reach.engine.ingest import IngestReport

index = typer.Typer(help="Build and inspect the bitmap index.", no_args_is_help=True)


def store_of(ctx: Context) -> Store:
    return Store(ctx.settings.data_dir / "store")


def sync_brands(ctx: Context, store: Store) -> int:
    """The API validates brand ids against the catalogue: keep it equal to the ingested brands."""
    # The data engine loads only when a command uses it: `reach --help` stays quick.
    import duckdb  # noqa: PLC0415

    from reach.reference.service import ReferenceService  # noqa: PLC0415

    files = store.files("brands")
    if not files:
        return 0
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT brand_id, name FROM read_parquet(?)", [[str(f) for f in files]]
        ).fetchall()
    with ctx.database.session(write=True) as session:
        return ReferenceService(session, ctx.clock).upsert_brands(rows)


def ingest(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(KINDS)}.")],
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Parquet, CSV or NDJSON.")],
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit with status 2 when any row is rejected.")
    ] = False,
) -> None:
    """Check and store event data; rejected rows go to a report with their reason."""
    from reach.engine.ingest import IngestError, Ingestor, counted  # noqa: PLC0415
    from reach.reference.countries import alpha2_codes  # noqa: PLC0415
    from reach.reference.taxonomy import taxonomy  # noqa: PLC0415

    if kind not in KINDS:
        err.print(f"[red]error:[/red] KIND must be one of {', '.join(KINDS)}")
        raise typer.Exit(1)
    reports: list[IngestReport] = []
    failed = False
    # Only brands reach the metadata store (the catalogue); event data goes to the data dir.
    with context(require_schema=kind == "brands") as ctx:
        store = store_of(ctx)
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err
        ) as progress:
            for path in files:
                task = progress.add_task(escape(f"{path.name}: waiting"), total=None)

                def step(description: str, task: TaskID = task) -> None:
                    progress.update(task, description=escape(description))

                ingestor = Ingestor(
                    store,
                    countries=sorted(alpha2_codes()),
                    interests=list(taxonomy().interests),
                    progress=step,
                )
                try:
                    reports.append(ingestor.ingest(kind, path))
                except IngestError as exc:
                    failed = True
                    err.print(f"[red]refused:[/red] {escape(str(exc))}")
                progress.update(task, description=escape(f"{path.name}: done"))
        if kind == "brands" and reports:
            synced = sync_brands(ctx, store)
            err.print(f"Brand catalogue of the API: {counted(synced, 'brand')}")
    table = Table("file", "accepted", "rejected", "note")
    for report in reports:
        note = "already ingested, nothing rejected (no-op)" if report.skipped else ""
        if report.retried:
            note = f"retried the {counted(report.retried, 'row')} rejected before"
        table.add_row(
            escape(report.source.name), f"{report.accepted:,}", f"{report.rejected:,}", note
        )
    out.print(table)
    for report in reports:
        if report.rejected:
            explain_rejects(report)
    if any(r.missing_references for r in reports):
        err.print(f"Load kinds in order: {', '.join(KINDS)}.")
    rejected = sum(r.rejected for r in reports)
    if failed:
        raise typer.Exit(1)
    if strict and rejected:
        raise typer.Exit(2)


def explain_rejects(report: IngestReport) -> None:
    """Which rows of a file were rejected and why, where their report is, and how to retry."""
    from reach.engine.ingest import counted  # noqa: PLC0415

    rejected = counted(report.rejected, "row")
    err.print(f"[yellow]{escape(report.source.name)}: {rejected} rejected[/yellow], not stored:")
    for reason, count in report.reasons:
        err.print(f"  {escape(reason)} ({count:,})")
    command = shlex.join(["reach", "ingest", report.kind, str(report.rejects)])
    err.print(f"  Each row and its reason: {escape(str(report.rejects))}")
    correct = f"correct the rows in the report and ingest it: {escape(command)}"
    if report.missing_references:
        err.print(
            "  To retry: load what the rows refer to, then run the same command again (only the"
            f" rejected rows are checked again); or {correct}"
        )
    else:
        err.print(f"  To retry: {correct}")


def _setting(item: str) -> tuple[str, str]:
    key, equals, value = item.partition("=")
    if not equals or not key.strip():
        raise ValueError(f"--spark-conf takes KEY=VALUE, not {item!r}")
    return key.strip(), value


# The packages whose exceptions are an engine's answer about its input.
ENGINE_MODULES = ("duckdb", "_duckdb", "pyspark", "py4j")


class Engine(StrEnum):
    """The engines of reach.engine.executors.EXECUTORS."""

    duckdb = "duckdb"
    spark = "spark"


@index.command("build")
def build(
    engine: Annotated[
        Engine,
        typer.Option(
            help="What runs the build rules: duckdb (this machine) or spark (needs the spark"
            " extra and Java 17).",
        ),
    ] = Engine.duckdb,
    master: Annotated[
        str | None,
        typer.Option(
            help="Spark master URL, e.g. spark://host:7077, yarn (default: spark-submit's, or"
            " local[*])."
        ),
    ] = None,
    spark_conf: Annotated[
        list[str] | None,
        typer.Option(
            help="A Spark setting KEY=VALUE (repeatable), e.g. spark.executor.memory=8g.",
        ),
    ] = None,
    events: Annotated[
        str | None,
        typer.Option(
            help="Read events from these Parquet files instead of the store's: a glob or file"
            " (DuckDB), or a folder or URL such as s3a://, hdfs:// (Spark); every one of their"
            " days is built.",
        ),
    ] = None,
    shard_span: Annotated[
        int,
        typer.Option(help="Users per shard, a power of two (default 2^24 = 16,777,216)."),
    ] = DEFAULT_SHARD_SPAN,
    memory_limit: Annotated[
        str | None,
        typer.Option(
            help="DuckDB's memory limit per shard, e.g. 4GB, the default (it spills beyond)."
        ),
    ] = None,
) -> None:
    """Build the index from the store and put it in service (atomically)."""
    from reach.engine.executors import EXECUTORS, EngineOptions  # noqa: PLC0415
    from reach.engine.index import BuildError, IndexBuilder, Windows  # noqa: PLC0415
    from reach.engine.shards import check_span  # noqa: PLC0415

    try:
        check_span(shard_span)
        conf = dict(_setting(item) for item in spark_conf or [])
        executor = EXECUTORS[engine](
            EngineOptions(
                master=master,
                memory_limit=memory_limit,
                conf=conf,
            )
        )
    except (ValueError, ModuleNotFoundError, RuntimeError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    with context(require_schema=False) as ctx:
        windows = Windows(
            in_market_days=ctx.settings.in_market_days,
            location_days=ctx.settings.location_lookback_days,
        )
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err
        ) as progress:
            task = progress.add_task("index", total=None)

            def step(description: str, done: int, total: int) -> None:
                progress.update(task, description=description, completed=done, total=total)

            try:
                report = IndexBuilder(
                    store_of(ctx),
                    ctx.settings.data_dir,
                    windows=windows,
                    progress=step,
                    executor=executor,
                    shard_span=shard_span,
                    events=events,
                ).build()
            except BuildError as exc:
                err.print(f"[red]error:[/red] {escape(str(exc))}")
                raise typer.Exit(1) from None
            except Exception as exc:
                # What the engine refused (an unreadable --events path, a lake it cannot
                # reach...): its own message, not a traceback. Reach's own bugs still raise.
                if type(exc).__module__.split(".")[0] not in ENGINE_MODULES:
                    raise
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                err.print(
                    f"[red]error:[/red] the {engine} engine could not build the index:"
                    f" {escape(reason)}"
                )
                raise typer.Exit(1) from None
            finally:
                close = getattr(executor, "close", None)
                if close is not None:
                    close()
    rate = report.events / report.seconds if report.seconds else 0.0
    out.print(
        f"Index {report.build_id} in service: data up to {report.as_of}, "
        f"{report.days_built} days built, {report.days_reused} reused, "
        f"{report.shards} shard(s), {report.shards_reused} reused, "
        f"{report.events:,} events in {report.seconds:.1f} s ({rate:,.0f} events/s)"
    )


@index.command("status")
def status() -> None:
    """Which index is in service, and how fresh its data is."""
    from reach.engine.index import current_build  # noqa: PLC0415
    from reach.engine.query import Index  # noqa: PLC0415

    with context(require_schema=False) as ctx:
        directory = current_build(ctx.settings.data_dir)
        if directory is None:
            err.print("No index in service: run `reach ingest` then `reach index build`")
            raise typer.Exit(1)
        built = Index(directory)
        out.print(
            f"Index {built.build_id}: data up to {built.as_of}, built {built.built_at}, "
            f"{len(built.days)} days, {len(built.universe()):,} users in"
            f" {len(built.shards)} shard(s) of {built.shard_span:,}"
        )
