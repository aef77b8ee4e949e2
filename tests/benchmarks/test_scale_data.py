"""The scale data generator: the store it writes is the one ingestion would write, and indexes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from benchmarks.scale_data import Plan, arrow_schema, generate, stored_table

from reach.engine.index import IndexBuilder, current_build
from reach.engine.ingest import INPUT_COLUMNS, Ingestor
from reach.engine.query import Index
from reach.engine.store import DAILY_KINDS, KINDS, SCHEMAS, Store
from reach.reference.countries import alpha2_codes
from reach.reference.taxonomy import taxonomy

END = date(2026, 12, 2)
PLAN = Plan(users=2000, days=5, end_date=END, seed=3, chunk_users=700)
PARIS = (48.8566, 2.3522)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scale")
    generate(PLAN, out)
    return out


@pytest.fixture(scope="module")
def store(data_dir: Path) -> Store:
    return Store(data_dir / "store")


@pytest.fixture
def sql(store: Store) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        store.create_views(con)
        yield con


@pytest.fixture(scope="module")
def index(data_dir: Path, store: Store) -> Index:
    IndexBuilder(store, data_dir).build()
    build = current_build(data_dir)
    assert build is not None
    return Index(build)


def one(con: duckdb.DuckDBPyConnection, query: str) -> object:
    row = con.execute(query).fetchone()
    assert row is not None
    return row[0]


def digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


class TestStore:
    def test_every_file_has_exactly_the_stored_columns(self, store: Store) -> None:
        manifest = store.manifest()
        with duckdb.connect() as con:
            for kind in KINDS:
                assert manifest.current[kind], kind
                for name in manifest.current[kind]:
                    path = store.root / name
                    described = con.execute(
                        "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                        "read_parquet(?))",
                        [str(path)],
                    ).fetchall()
                    expected = [
                        (c, t.replace("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"))
                        for c, t in SCHEMAS[kind].items()
                    ]
                    assert described == expected, name
                    assert pq.read_schema(path).remove_metadata() == arrow_schema(kind), name

    def test_a_column_of_another_type_is_refused(self) -> None:
        ordinals = pa.array([0, 1], pa.int64())  # stored as UINTEGER
        names = pa.array(["u0", "u1"])
        with pytest.raises(TypeError, match="ordinal"):
            stored_table("users", [ordinals, names, pa.array(["FR", "DE"]), names, names])

    def test_users_are_the_ordinals_0_to_n_once_with_their_ids(
        self, sql: duckdb.DuckDBPyConnection
    ) -> None:
        assert sql.execute(
            "SELECT count(*), count(DISTINCT ordinal), min(ordinal), max(ordinal), "
            "count(*) FILTER (WHERE user_id <> 'u' || ordinal) FROM users"
        ).fetchall() == [(PLAN.users, PLAN.users, 0, PLAN.users - 1, 0)]

    def test_every_row_of_a_user_kind_belongs_to_a_user(
        self, sql: duckdb.DuckDBPyConnection
    ) -> None:
        for kind in ("identities", "events", "pings", "behavioral"):
            orphans = (
                f"SELECT count(*) FROM {kind} WHERE ordinal NOT IN (SELECT ordinal FROM users)"
            )
            assert one(sql, orphans) == 0, kind

    def test_daily_files_hold_their_day_sorted_by_ordinal(self, store: Store) -> None:
        manifest = store.manifest()
        for kind in DAILY_KINDS:
            listed = [name for names in manifest.days[kind].values() for name in names]
            assert sorted(listed) == sorted(manifest.current[kind])
            assert len(manifest.days[kind]) == PLAN.days
            for day, names in manifest.days[kind].items():
                for name in names:
                    assert name.startswith(f"{kind}/day={day}/part-"), name
                    table = pq.read_table(store.root / name)
                    assert {d.isoformat() for d in table["day"].to_pylist()} == {day}
                    ordinals = table["ordinal"].to_pylist()
                    assert ordinals == sorted(ordinals), name

    def test_appended_kinds_are_sorted_by_ordinal_in_each_file(self, store: Store) -> None:
        for kind in ("users", "identities", "behavioral"):
            for path in store.files(kind):
                ordinals = pq.read_table(path, columns=["ordinal"])["ordinal"].to_pylist()
                assert ordinals == sorted(ordinals), path

    def test_the_store_is_what_ingesting_the_same_rows_stores(
        self, store: Store, sql: duckdb.DuckDBPyConnection, tmp_path: Path
    ) -> None:
        """The generated rows, written as input files and ingested: every stored column
        (ordinals, days, H3 cells, identity keys) comes out the same."""
        ingested = Store(tmp_path / "store")
        ingestor = Ingestor(
            ingested,
            countries=sorted(alpha2_codes()),
            interests=list(taxonomy().interests),
            clock=lambda: datetime(2026, 12, 3, tzinfo=UTC),
        )
        for kind in KINDS:
            source = tmp_path / f"{kind}.parquet"
            join = (
                "" if kind in ("brands", "products", "users") else " JOIN users u USING (ordinal)"
            )
            order = "ordinal" if kind in ("users", "identities", "behavioral") else "1"
            columns = ", ".join(
                f"u.{c}" if c == "user_id" and join else f"k.{c}" for c in INPUT_COLUMNS[kind]
            )
            table = sql.sql(f"SELECT {columns} FROM {kind} AS k{join} ORDER BY {order}")
            table.write_parquet(str(source))
            report = ingestor.ingest(kind, source)
            assert report.rejected == 0, (kind, report.reasons)
        with duckdb.connect() as con:
            con.execute("SET TimeZone = 'UTC'")
            store.create_views(con, prefix="generated_")
            ingested.create_views(con, prefix="ingested_")
            for kind in KINDS:
                for one_side, other in (("generated", "ingested"), ("ingested", "generated")):
                    missing = (
                        f"SELECT count(*) FROM (SELECT * FROM {one_side}_{kind} "
                        f"EXCEPT ALL SELECT * FROM {other}_{kind})"
                    )
                    assert one(con, missing) == 0, (kind, one_side)

    def test_the_rates_per_user_are_the_demo_datas(self, sql: duckdb.DuckDBPyConnection) -> None:
        per_user_day = {
            kind: float(one(sql, f"SELECT count(*) FROM {kind}")) / PLAN.users / PLAN.days  # type: ignore[arg-type]
            for kind in ("events", "pings")
        }
        per_user = {
            kind: float(one(sql, f"SELECT count(*) FROM {kind}")) / PLAN.users  # type: ignore[arg-type]
            for kind in ("identities", "behavioral")
        }
        # The demo's 90-day figures: 20.6 events, 3.1 pings, 1.4 identities, 0.39 memberships.
        assert 0.15 < per_user_day["events"] < 0.32
        assert 0.02 < per_user_day["pings"] < 0.05
        assert 1.3 < per_user["identities"] < 1.55
        assert 0.33 < per_user["behavioral"] < 0.45
        assert one(sql, "SELECT count(DISTINCT advertiser_id) FROM events") == PLAN.advertisers


class TestDeterminism:
    def test_the_same_plan_writes_the_same_bytes(self, data_dir: Path, tmp_path: Path) -> None:
        generate(PLAN, tmp_path)
        assert digests(tmp_path / "store") == digests(data_dir / "store")

    def test_workers_write_the_same_bytes(self, data_dir: Path, tmp_path: Path) -> None:
        generate(PLAN, tmp_path, workers=2)
        assert digests(tmp_path / "store") == digests(data_dir / "store")

    def test_another_seed_writes_other_data(self, data_dir: Path, tmp_path: Path) -> None:
        generate(Plan(**{**PLAN.__dict__, "seed": PLAN.seed + 1}), tmp_path)
        ours, theirs = digests(tmp_path / "store"), digests(data_dir / "store")
        events = [name for name in theirs if name.startswith("events/")]
        assert all(name not in ours or ours[name] != theirs[name] for name in events)

    def test_a_store_that_is_not_empty_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "store").mkdir()
        (tmp_path / "store" / "manifest.json").write_text("{}")
        with pytest.raises(FileExistsError, match="not empty"):
            generate(PLAN, tmp_path)

    @pytest.mark.parametrize("field", ["users", "days", "chunk_users", "advertisers"])
    def test_sizes_must_be_positive(self, field: str) -> None:
        with pytest.raises(ValueError, match="positive"):
            Plan(**{**PLAN.__dict__, field: 0})


class TestIndex:
    """Every segment family gets members from the generated store."""

    def test_retargeting_has_visitors_and_buyers(self, index: Index) -> None:
        assert index.as_of == END
        assert len(index.universe()) == PLAN.users
        assert len(index.retargeting(1001, "All", 0, PLAN.days - 1)) > 0
        assert len(index.retargeting(1001, "Buyers", 0, PLAN.days - 1)) > 0

    def test_prospecting_has_local_active_users(self, index: Index) -> None:
        assert index.advertiser_countries(1001)
        assert len(index.prospecting(1001, "Prospects", 0, PLAN.days - 1)) > 0

    def test_in_market_has_shoppers_by_brand_interest_and_price(self, index: Index) -> None:
        assert len(index.in_market("FR")) > 0
        brands = index.family("in_market_brand").entries()
        interests = index.family("in_market_interest").entries()
        assert brands
        assert interests
        assert {key[1] for key in brands} == {"Low", "Medium", "High"}

    def test_behavioral_has_members_on_the_as_of_day(self, index: Index) -> None:
        assert all(
            len(index.behavioral(category, None)) > 0
            for category in ("Lifestyles", "LifeEvents", "Seasonal", "BuyingPatterns")
        )

    def test_location_finds_users_near_a_city(self, index: Index) -> None:
        assert len(index.location([PARIS], 10.0)) > 0
        assert len(index.location([(0.0, -30.0)], 50.0)) == 0

    def test_contact_lists_match_users_by_email(self, index: Index) -> None:
        from reach.engine.identities import key, keys_array

        wanted = keys_array(
            [
                key("email", hashlib.sha256(f"user{n}@example.com".encode()).hexdigest())
                for n in range(PLAN.users)
            ]
        )
        matched, users = index.match(wanted)
        # About 60% of users have an e-mail (the demo's share), each their own.
        assert 0.5 * PLAN.users < matched.sum() == len(users) < 0.7 * PLAN.users
