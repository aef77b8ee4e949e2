"""Spark as the build's engine: every query the builder asks of a shard is answered as DuckDB
answers it (values, order, the column types the builder reads), and a build through Spark is
the build through DuckDB, shard by shard, bitmap by bitmap."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from reach.engine.bitmaps import Family
from reach.engine.demo_data import generate
from reach.engine.executors import (
    EXECUTORS,
    BuildInputs,
    DuckDBExecutor,
    EngineOptions,
    Executor,
    ShardQuery,
)
from reach.engine.index import IndexBuilder, Windows, current_build
from reach.engine.rules import ADVERTISER_COUNTRIES, LOCATION_PINGS, RELATIONS, RULES, grouped
from reach.engine.shards import Shard
from reach.engine.store import KINDS, Store, create_views
from reach.reference.taxonomy import taxonomy
from tests.engine.conftest import END, ingest_all

if TYPE_CHECKING:
    from reach.engine.spark import SparkExecutor

# 300 users in shards of 256: two shards, the second one partly filled.
USERS = 300
SPAN = 256

# The queries the executor tests run in a shard, once RELATIONS are materialised.
QUERIES = {
    **{name: grouped(rule) for name, rule in RULES.items()},
    "advertiser_countries": ADVERTISER_COUNTRIES,
    "location_pings": LOCATION_PINGS,
}
Answers = dict[tuple[int, str], pa.Table]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("spark")
    generate(
        root / "data",
        users=USERS,
        days=10,
        advertisers=3,
        seed=3,
        end_date=END,
        interests=taxonomy().leaves(),
    )
    store = Store(root / "reach" / "store")
    ingest_all(store, root / "data")
    return store


def spark_executor() -> type[SparkExecutor]:
    """The class, or a skip where Spark cannot run (CI has pyspark and Java: it runs there)."""
    pytest.importorskip("pyspark", reason="the spark engine needs the spark extra (pyspark)")
    from reach.engine.spark import SparkExecutor, java_missing

    if java_missing():
        pytest.skip("the spark engine needs Java 17 or later (JAVA_HOME or the PATH)")
    return SparkExecutor


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkExecutor]:
    # One JVM for the module: it takes seconds to start.
    with spark_executor()("local[2]") as executor:
        yield executor


def test_without_the_spark_extra_the_engine_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.delitem(sys.modules, "reach.engine.spark", raising=False)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'reach-audiences\[spark\]'"):
        EXECUTORS["spark"](EngineOptions())


def test_without_java_the_engine_says_what_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    executor = spark_executor()
    monkeypatch.setenv("JAVA_HOME", "/nowhere")
    with pytest.raises(RuntimeError, match="needs Java 17"):
        executor("local[2]")


def inputs_of(store: Store, scratch: Path, **files: list[str]) -> BuildInputs:
    """The store's files (or ``files`` instead), a week of in-market window, three days of
    location window, and only the last four days to build (the daily rules keep to them)."""
    manifest = store.manifest()
    days = sorted(manifest.days["events"])
    as_of = date.fromisoformat(days[-1])
    return BuildInputs(
        files={kind: [str(path) for path in store.files(kind, manifest)] for kind in KINDS} | files,
        as_of=as_of,
        in_market_from=as_of - timedelta(days=6),
        location_from=as_of - timedelta(days=2),
        build_days=[date.fromisoformat(day) for day in days[-4:]],
        scratch=scratch,
    )


def answers(
    executor: Executor, inputs: BuildInputs, shards: list[Shard], names: Iterable[str] = QUERIES
) -> Answers:
    found = {}
    for shard in shards:
        with executor.shard(inputs, shard) as query:
            for name, sql in RELATIONS.items():
                query.materialise(name, sql)
            for name in names:
                found[shard.number, name] = query.table(QUERIES[name])
    return found


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    """The rows of ``table``, each list of ordinals as a sorted tuple (a set of users)."""
    return [
        tuple(tuple(sorted(value)) if isinstance(value, list) else value for value in row)
        for row in zip(*(column.to_pylist() for column in table.columns), strict=True)
    ]


def assert_same(expected: pa.Table, got: pa.Table, *, ordered: bool, label: object) -> None:
    """Spark's answer ``got`` is DuckDB's: the same rows (in the same order when the query
    orders them) and the same column types, but for ordinals, which are any integers."""
    assert got.column_names == expected.column_names, label
    for name in expected.column_names:
        wanted, found = expected.schema.field(name).type, got.schema.field(name).type
        if name == "ordinal":
            assert pa.types.is_integer(found), (label, name)
        elif name == "ordinals":
            assert pa.types.is_list(found), (label, name)
            assert pa.types.is_integer(found.value_type), (label, name)
        else:
            assert found == wanted, (label, name)
    if ordered:
        assert rows(got) == rows(expected), label
    else:
        assert sorted(rows(got)) == sorted(rows(expected)), label


def test_spark_finds_the_largest_ordinal(
    store: Store, spark: SparkExecutor, tmp_path: Path
) -> None:
    inputs = inputs_of(store, tmp_path)
    assert spark.max_ordinal(inputs) == DuckDBExecutor().max_ordinal(inputs) == USERS - 1
    nothing = inputs_of(store, tmp_path, **{kind: [] for kind in KINDS})
    assert spark.max_ordinal(nothing) is None


def test_a_kind_without_files_is_an_empty_table_of_its_columns(
    store: Store, spark: SparkExecutor, tmp_path: Path
) -> None:
    inputs = inputs_of(store, tmp_path, pings=[], behavioral=[])
    names = ("active", "behavioral", "location_pings")
    shard = [Shard(0, 0, SPAN)]
    duck, got = (
        answers(DuckDBExecutor(), inputs, shard, names),
        answers(spark, inputs, shard, names),
    )
    assert got[0, "location_pings"].num_rows == 0
    assert got[0, "location_pings"].schema.field("cell").type == pa.uint64()
    for name in names:
        assert_same(duck[0, name], got[0, name], ordered=True, label=name)


def test_events_from_a_lake_folder_replace_the_stores(
    store: Store, spark: SparkExecutor, tmp_path: Path
) -> None:
    """A lake laid out by another writer: a folder per day that gives the day (the files have
    no day column), signed 64-bit ordinals, the events of one advertiser."""
    inputs = inputs_of(store, tmp_path)
    with duckdb.connect() as con:
        create_views(con, inputs.files)
        events = con.sql(
            "SELECT * FROM events WHERE advertiser_id = (SELECT min(advertiser_id) FROM events)"
        ).to_arrow_table()
    advertiser = events["advertiser_id"][0].as_py()
    pq.write_table(events, tmp_path / "events.parquet")
    lake = tmp_path / "lake"
    for day in pc.unique(events["day"]).to_pylist():
        part = events.filter(pc.equal(events["day"], day)).drop_columns(["day"])
        ordinal = part.schema.get_field_index("ordinal")
        part = part.set_column(ordinal, "ordinal", part["ordinal"].cast(pa.int64()))
        (lake / f"day={day.isoformat()}").mkdir(parents=True)
        pq.write_table(part, lake / f"day={day.isoformat()}" / "part-0.parquet")
    names = ("visitors", "in_market_any", "advertiser_countries")
    shards = [Shard(0, 0, SPAN)]
    expected = answers(
        DuckDBExecutor(),
        inputs_of(store, tmp_path, events=[str(tmp_path / "events.parquet")]),
        shards,
        names,
    )
    # Another executor in the process shares its Spark, and leaves it running when closed.
    with spark_executor()("local[2]", events=str(lake)) as from_lake:
        got = answers(from_lake, inputs, shards, names)
    assert set(got[0, "visitors"]["advertiser_id"].to_pylist()) == {advertiser}
    for name in names:
        assert_same(expected[0, name], got[0, name], ordered=True, label=name)
    assert spark.session().sql("SELECT 1 AS one").first() is not None


class RecordedQuery:
    def __init__(self, query: ShardQuery, shard: int, answers: Answers) -> None:
        self.query, self.shard, self.answers = query, shard, answers

    def materialise(self, name: str, sql: str) -> None:
        self.query.materialise(name, sql)

    def table(self, sql: str) -> pa.Table:
        table = self.query.table(sql)
        self.answers[self.shard, sql] = table
        return table


class Recorded:
    """An executor that keeps every answer it gives the builder, by shard and query."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.name: str = executor.name
        self.answers: Answers = {}

    def max_ordinal(self, inputs: BuildInputs) -> int | None:
        return self.executor.max_ordinal(inputs)

    @contextmanager
    def shard(self, inputs: BuildInputs, shard: Shard) -> Iterator[ShardQuery]:
        with self.executor.shard(inputs, shard) as query:
            yield RecordedQuery(query, shard.number, self.answers)


@dataclass
class Builds:
    """The store built by DuckDB and by Spark: the builds and what each engine answered."""

    duckdb: Path
    spark: Path
    duckdb_answers: Answers
    spark_answers: Answers

    def shards(self) -> Iterator[tuple[str, Path, Path]]:
        """Each shard's name, its folder in the DuckDB build and in the Spark build."""
        names = sorted(path.name for path in (self.duckdb / "shards").iterdir())
        assert len(names) == 2
        assert sorted(path.name for path in (self.spark / "shards").iterdir()) == names
        for name in names:
            yield name, self.duckdb / "shards" / name, self.spark / "shards" / name


def assert_same_answers(builds: Builds) -> None:
    asked = {sql for _, sql in builds.duckdb_answers}
    assert set(QUERIES.values()) <= asked
    assert builds.spark_answers.keys() == builds.duckdb_answers.keys()
    assert {shard for shard, _ in builds.duckdb_answers} == {0, 1}
    for sql in asked:
        tables = [t for (_, query), t in builds.duckdb_answers.items() if query == sql]
        assert any(table.num_rows for table in tables), f"nothing to compare: {sql}"
    for (shard, sql), expected in builds.duckdb_answers.items():
        got = builds.spark_answers[shard, sql]
        assert_same(expected, got, ordered="ORDER BY" in sql, label=(shard, sql))


def assert_same_files(builds: Builds) -> None:
    meta = json.loads((builds.spark / "index.json").read_text())
    assert meta["engine"] == "spark"
    wanted = json.loads((builds.duckdb / "index.json").read_text())
    for field in ("as_of", "days", "events", "shard_span", "shards"):
        assert meta[field] == wanted[field], field
    countries = "advertiser_countries.json"
    assert (builds.spark / countries).read_text() == (builds.duckdb / countries).read_text()
    for _, theirs, ours in builds.shards():
        files = sorted(str(path.relative_to(theirs)) for path in theirs.rglob("*"))
        assert sorted(str(path.relative_to(ours)) for path in ours.rglob("*")) == files


def bitmaps_of(family: Family) -> dict[tuple[Any, ...], list[int]]:
    return {key: list(family.get(key)) for key in family.entries()}


def assert_same_bitmaps(builds: Builds) -> None:
    for shard, theirs, ours in builds.shards():
        families = [path.with_suffix("") for path in theirs.rglob("*.bin")]
        # The rules' families, a daily family per day, and the location cells and areas.
        assert len(families) > len(RULES)
        for family in families:
            name = family.relative_to(theirs)
            assert bitmaps_of(Family(ours / name)) == bitmaps_of(Family(family)), (shard, name)


def arrays_of(folder: Path) -> dict[str, np.ndarray[Any, Any]]:
    found = {path.stem: np.load(path) for path in folder.glob("*.npy")}
    assert found
    return found


def assert_same_arrays(builds: Builds, folder: str) -> None:
    for shard, theirs, ours in builds.shards():
        expected, got = arrays_of(theirs / folder), arrays_of(ours / folder)
        assert got.keys() == expected.keys()
        for name, wanted in expected.items():
            assert got[name].dtype == wanted.dtype, (shard, folder, name)
            assert np.array_equal(got[name], wanted), (shard, folder, name)
        if folder == "location":
            assert len(expected["ordinal"]) > 0


def test_a_build_on_spark_is_the_build_on_duckdb(
    store: Store, spark: SparkExecutor, tmp_path: Path
) -> None:
    """One test for one pair of builds: under pytest-xdist, separate tests could build twice."""
    # Windows shorter than the data, so that they leave some of it out.
    windows = Windows(in_market_days=7, location_days=3)
    found = []
    for executor in (Recorded(DuckDBExecutor()), Recorded(spark)):
        data_dir = tmp_path / executor.name
        IndexBuilder(store, data_dir, windows=windows, executor=executor, shard_span=SPAN).build()
        build = current_build(data_dir)
        assert build is not None
        found.append((build, executor.answers))
    (duckdb_build, duckdb_answers), (spark_build, spark_answers) = found
    builds = Builds(duckdb_build, spark_build, duckdb_answers, spark_answers)
    assert_same_answers(builds)
    assert_same_files(builds)
    assert_same_bitmaps(builds)
    assert_same_arrays(builds, "identities")
    assert_same_arrays(builds, "location")
