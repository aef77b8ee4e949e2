"""Spark as the engine of the index build: the rules of engine/rules.py in Spark SQL.

``SparkExecutor`` keeps one SparkSession (the driver's JVM, started on first use) for a whole
build; each shard gets its own session over it, with the store's views restricted to the
shard's users. What a query returns is Arrow with the column types DuckDB would give where the
builder reads them: Spark holds an unsigned 64-bit integer (an H3 ``cell``) as decimal(20,0),
which comes back as uint64. Spark is an optional extra: ``reach-audiences[spark]``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import pyarrow as pa

from reach.engine.executors import BuildInputs
from reach.engine.rules import transpile
from reach.engine.shards import Shard
from reach.engine.store import SCHEMAS, USER_KINDS

try:
    from pyspark import StorageLevel
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.functions import col
except ModuleNotFoundError as missing:
    raise ModuleNotFoundError(
        "the spark engine needs the spark extra: pip install 'reach-audiences[spark]'",
        name=missing.name,
    ) from missing

# The store's DuckDB types (store.SCHEMAS) as Spark reads them from Parquet: Spark has no
# unsigned integers, so UINTEGER widens to bigint and UBIGINT to decimal(20,0).
SPARK_TYPES = {
    "BIGINT": "bigint",
    "UINTEGER": "bigint",
    "UBIGINT": "decimal(20,0)",
    "DOUBLE": "double",
    "VARCHAR": "string",
    "BLOB": "binary",
    "DATE": "date",
    "TIMESTAMPTZ": "timestamp",
}
UBIGINT = pa.decimal128(20, 0)

MAX_ORDINAL = """
    SELECT max(m) AS m FROM (
        SELECT max(ordinal) AS m FROM users UNION ALL
        SELECT max(ordinal) FROM events UNION ALL
        SELECT max(ordinal) FROM pings
    ) AS maxima
"""


def duckdb_type(kind: pa.DataType) -> pa.DataType:
    """The Arrow type DuckDB gives for a column Spark returns as ``kind``."""
    if kind == UBIGINT:
        return pa.uint64()
    if pa.types.is_large_string(kind):
        return pa.string()
    if pa.types.is_large_binary(kind):
        return pa.binary()
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return pa.list_(duckdb_type(kind.value_type))
    return kind


def as_duckdb(table: pa.Table) -> pa.Table:
    """``table`` with DuckDB's column types (uint64 for decimal(20,0), small offsets)."""
    schema = pa.schema([field.with_type(duckdb_type(field.type)) for field in table.schema])
    return table if schema == table.schema else table.cast(schema)


def java_missing() -> bool:
    """Whether the driver has no Java to start (Spark looks at JAVA_HOME, then the PATH)."""
    home = os.environ.get("JAVA_HOME")
    if home:
        return not os.access(os.path.join(home, "bin", "java"), os.X_OK)
    return shutil.which("java") is None


class SparkQuery:
    """One shard's views in a Spark session of their own."""

    def __init__(self, session: SparkSession) -> None:
        self.session = session
        self.kept: dict[str, DataFrame] = {}
        self.views: set[str] = set()

    def view(self, name: str, frame: DataFrame) -> None:
        frame.createOrReplaceTempView(name)
        self.views.add(name)

    def materialise(self, name: str, sql: str) -> None:
        frame = self.session.sql(transpile(sql, "spark")).persist(StorageLevel.MEMORY_AND_DISK)
        # Counting fills the cache now, as DuckDB's CREATE TABLE ... AS would.
        frame.count()
        self.view(name, frame)
        previous = self.kept.pop(name, None)
        if previous is not None:
            previous.unpersist()
        self.kept[name] = frame

    def table(self, sql: str) -> pa.Table:
        # toArrow keeps the order of the result's partitions, hence of its ORDER BY.
        return as_duckdb(self.session.sql(transpile(sql, "spark")).toArrow())

    def release(self) -> None:
        for frame in self.kept.values():
            frame.unpersist()
        self.kept.clear()
        for name in self.views:
            self.session.catalog.dropTempView(name)
        self.views.clear()


class SparkExecutor:
    """Spark on ``master`` (``local[*]``, ``spark://host:7077``, ``yarn``...; None: the one
    ``spark-submit`` was given, or ``local[*]`` when there is none). The files of
    the build inputs must be readable where Spark runs (on a cluster: ``s3a://``,
    ``hdfs://``...); ``events``, a path or URL of Parquet files with the store's events
    columns (a folder, whose ``day=`` subfolders may give the day, or a glob), replaces the
    store's events. ``conf`` adds Spark settings (``spark.executor.memory``,
    ``spark.hadoop.fs.s3a.*``...) to those of ``spark-defaults.conf``.

    Spark runs one SparkSession per process: executors made in one process share it, and the
    one that started it stops it when closed (or when its ``with`` block ends)."""

    name = "spark"

    def __init__(
        self,
        master: str | None = None,
        events: str | None = None,
        app_name: str = "reach-index",
        *,
        conf: Mapping[str, str] | None = None,
    ) -> None:
        if java_missing():
            raise RuntimeError(
                "the spark engine needs Java 17 or later: set JAVA_HOME or put java on the PATH"
            )
        self.master = master
        self.events = events
        self.app_name = app_name
        self.conf = dict(conf or {})
        self._spark: SparkSession | None = None
        self._started = False
        self._warehouse: str | None = None

    # --- the session -------------------------------------------------------------------------

    def session(self) -> SparkSession:
        """The SparkSession of the process, started on first use."""
        if self._spark is None:
            self._started = SparkSession.getActiveSession() is None
            settings = {
                "spark.sql.session.timeZone": "UTC",
                # Spark's progress bars would mix with the build's own progress lines.
                "spark.ui.showConsoleProgress": "false",
            }
            if self._started and "spark.sql.warehouse.dir" not in self.conf:
                # Spark creates its (unused) table folder at start: not in the current folder.
                self._warehouse = tempfile.mkdtemp(prefix="reach-spark-")
                settings["spark.sql.warehouse.dir"] = self._warehouse
            builder = SparkSession.builder.appName(self.app_name)
            if self.master is not None:
                builder = builder.master(self.master)
            for key, value in (settings | self.conf).items():
                builder = builder.config(key, value)
            self._spark = builder.getOrCreate()
        return self._spark

    def close(self) -> None:
        """Stop Spark if this executor started it (a later use starts it again)."""
        if self._spark is not None and self._started:
            self._spark.stop()
        self._spark = None
        if self._warehouse is not None:
            shutil.rmtree(self._warehouse, ignore_errors=True)
            self._warehouse = None

    def __enter__(self) -> SparkExecutor:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    # --- the executor ------------------------------------------------------------------------

    def max_ordinal(self, inputs: BuildInputs) -> int | None:
        query = self._query(inputs.files)
        try:
            row = query.session.sql(MAX_ORDINAL).first()
        finally:
            query.release()
        return None if row is None or row[0] is None else int(row[0])

    @contextmanager
    def shard(self, inputs: BuildInputs, shard: Shard) -> Iterator[SparkQuery]:
        query = self._query(inputs.files, ordinals=(shard.first, shard.stop))
        try:
            session = query.session
            query.view(
                "params",
                session.createDataFrame(
                    [(inputs.as_of, inputs.in_market_from, inputs.location_from)],
                    "as_of date, in_market_from date, location_from date",
                ),
            )
            query.view(
                "build_days",
                session.createDataFrame([(day,) for day in inputs.build_days], "day date"),
            )
            yield query
        finally:
            query.release()

    def _query(
        self, files: Mapping[str, list[Any]], ordinals: tuple[int, int] | None = None
    ) -> SparkQuery:
        """A session of its own (its own views, the same Spark) with a view per kind over its
        files (an empty one when it has none); with ``ordinals`` (first, stop), the per-user
        kinds hold only those users' rows."""
        session = self.session().newSession()
        session.conf.set("spark.sql.session.timeZone", "UTC")
        query = SparkQuery(session)
        for kind, columns in SCHEMAS.items():
            listed = [str(path) for path in files.get(kind, [])]
            if kind == "events" and self.events is not None:
                listed = [self.events]
            schema = ", ".join(f"{c} {SPARK_TYPES[t]}" for c, t in columns.items())
            if not listed:
                query.view(kind, session.createDataFrame([], schema))
                continue
            # Read with the store's schema rather than one Spark infers: no job to read every
            # file's footer, narrower integers widen, and a file without a column gives nulls
            # (as DuckDB's union_by_name).
            frame = session.read.schema(schema).parquet(*listed)
            if ordinals is not None and kind in USER_KINDS:
                first, stop = ordinals
                frame = frame.where((col("ordinal") >= first) & (col("ordinal") < stop))
            query.view(kind, frame)
        return query
