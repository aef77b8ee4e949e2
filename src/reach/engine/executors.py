"""The engines that run the build rules (engine/rules.py), one shard at a time.

The builder (engine/index.py) asks an executor for one shard's view of the store and runs every
rule through it as SQL; what comes back is Arrow, which the builder turns into bitmap files the
same way whatever ran the SQL. The rules are written once, in DuckDB's dialect; an executor for
another engine transpiles them (``rules.transpile``). A new engine is one more entry in
``EXECUTORS``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa

from reach.engine.shards import Shard
from reach.engine.store import create_views


@dataclass(frozen=True)
class BuildInputs:
    """What one build reads: the Parquet files of each kind (paths, or URLs an engine can
    read, e.g. ``s3a://``), the window bounds and the days whose per-day atoms are computed."""

    files: dict[str, list[str]]
    as_of: date
    in_market_from: date
    location_from: date
    build_days: list[date]
    # A private folder for the engine's spill files, removed by the builder.
    scratch: Path


class ShardQuery(Protocol):
    """One shard's view of the inputs, in one engine: the views ``events``, ``pings``,
    ``users``, ``identities``, ``behavioral`` (only the shard's users), ``products``,
    ``brands`` (whole), ``params`` (one row: ``as_of``, ``in_market_from``, ``location_from``)
    and ``build_days`` (``day``)."""

    def materialise(self, name: str, sql: str) -> None:
        """Keep the result of ``sql`` as the relation ``name`` for the queries that follow."""

    def table(self, sql: str) -> pa.Table:
        """The result of ``sql`` (DuckDB's dialect) as an Arrow table, in its order."""


class Executor(Protocol):
    name: str

    def max_ordinal(self, inputs: BuildInputs) -> int | None:
        """The largest user ordinal of the inputs (None when there is no user)."""

    def shard(self, inputs: BuildInputs, shard: Shard) -> AbstractContextManager[ShardQuery]:
        """One shard's view of the inputs, released when the block ends."""


class DuckDBQuery:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def materialise(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def table(self, sql: str) -> pa.Table:
        # The connection serialises calls: the builder may ask from a second thread.
        return self.con.sql(sql).to_arrow_table()


class DuckDBExecutor:
    """DuckDB on this machine, over a scratch database that spills to disk when memory runs
    short (``memory_limit``, e.g. ``"4GB"``; DuckDB's default is 80% of the machine)."""

    name = "duckdb"

    def __init__(self, memory_limit: str | None = None) -> None:
        self.memory_limit = memory_limit

    def max_ordinal(self, inputs: BuildInputs) -> int | None:
        with duckdb.connect() as con:
            create_views(con, inputs.files)
            row = con.execute(
                "SELECT max(m) FROM (SELECT max(ordinal) AS m FROM users UNION ALL "
                "SELECT max(ordinal) FROM events UNION ALL SELECT max(ordinal) FROM pings)"
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    @contextmanager
    def shard(self, inputs: BuildInputs, shard: Shard) -> Iterator[ShardQuery]:
        path = inputs.scratch / f"shard-{shard.name}.duckdb"
        try:
            with duckdb.connect(str(path)) as con:
                con.execute("SET TimeZone = 'UTC'")
                con.execute("SET preserve_insertion_order = false")
                if self.memory_limit:
                    con.execute(f"SET memory_limit = '{self.memory_limit}'")
                create_views(con, inputs.files, ordinals=(shard.first, shard.stop))
                con.execute(
                    "CREATE TABLE params AS SELECT CAST(? AS DATE) AS as_of, "
                    "CAST(? AS DATE) AS in_market_from, CAST(? AS DATE) AS location_from",
                    [inputs.as_of, inputs.in_market_from, inputs.location_from],
                )
                con.execute("CREATE TABLE build_days (day DATE)")
                if inputs.build_days:
                    con.executemany(
                        "INSERT INTO build_days VALUES (?)", [(d,) for d in inputs.build_days]
                    )
                yield DuckDBQuery(con)
        finally:
            for leftover in inputs.scratch.glob(f"shard-{shard.name}.duckdb*"):
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)


@dataclass(frozen=True)
class EngineOptions:
    """What ``reach index build`` passes to an engine's factory."""

    master: str | None = None
    memory_limit: str | None = None
    conf: dict[str, str] = field(default_factory=dict)


def _spark(options: EngineOptions) -> Executor:
    """Spark, imported only when asked for: it is an optional extra (``reach-audiences[spark]``)."""
    if options.memory_limit is not None:
        raise ValueError(
            "--memory-limit is DuckDB's: give Spark's memory with --spark-conf"
            " spark.driver.memory=8g, spark.executor.memory=8g"
        )
    from reach.engine.spark import SparkExecutor  # noqa: PLC0415

    return SparkExecutor(master=options.master, conf=options.conf)


def _duckdb(options: EngineOptions) -> Executor:
    if options.master is not None or options.conf:
        raise ValueError("DuckDB runs on this machine: --master and --spark-conf are for spark")
    return DuckDBExecutor(memory_limit=check_memory_limit(options.memory_limit or "4GB"))


MEMORY = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def check_memory_limit(limit: str) -> str:
    """``limit`` if DuckDB understands it as an amount of memory (4GB, 512MiB...)."""
    if not MEMORY.fullmatch(limit.strip()):
        raise ValueError(f"--memory-limit takes an amount such as 4GB or 512MiB, not {limit!r}")
    return limit.strip()


EXECUTORS: dict[str, Callable[[EngineOptions], Executor]] = {
    "duckdb": _duckdb,
    "spark": _spark,
}
