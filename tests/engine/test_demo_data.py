"""The demo data generator: deterministic, within the data-model contract, realistically shaped."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from reach.cli import app as cli
from reach.engine import demo_data
from reach.engine.demo_data import BRANDS, CITIES, DemoSummary, generate
from reach.reference.countries import normalise_country
from reach.reference.taxonomy import taxonomy

END = date(2026, 11, 28)
LEAVES = taxonomy().leaves()
USERS, DAYS, ADVERTISERS = 3000, 14, 3

STRING, INT64, DOUBLE = pa.string(), pa.int64(), pa.float64()
UTC_TIME, DATE = pa.timestamp("us", tz="UTC"), pa.date32()
SCHEMAS = {
    "brands": pa.schema([("brand_id", INT64), ("name", STRING)]),
    "products": pa.schema(
        [
            ("advertiser_id", INT64),
            ("product_id", STRING),
            ("brand_id", INT64),
            ("interest_id", STRING),
            ("price", DOUBLE),
            ("price_range", STRING),
        ]
    ),
    "users": pa.schema(
        [("user_id", STRING), ("country", STRING), ("gender", STRING), ("buying_power", STRING)]
    ),
    "identities": pa.schema([("user_id", STRING), ("identifier_type", STRING), ("digest", STRING)]),
    "events": pa.schema(
        [
            ("time", UTC_TIME),
            ("user_id", STRING),
            ("advertiser_id", INT64),
            ("kind", STRING),
            ("product_id", STRING),
            ("price", DOUBLE),
        ]
    ),
    "pings": pa.schema(
        [("time", UTC_TIME), ("user_id", STRING), ("latitude", DOUBLE), ("longitude", DOUBLE)]
    ),
    "behavioral": pa.schema(
        [
            ("user_id", STRING),
            ("category", STRING),
            ("country", STRING),
            ("start_date", DATE),
            ("end_date", DATE),
        ]
    ),
}
PATTERNS = {
    kind: f"{kind}-*.parquet" if kind in ("events", "pings") else f"{kind}.parquet"
    for kind in SCHEMAS
}


def make(out: Path, *, seed: int = 7, users: int = USERS, days: int = DAYS) -> DemoSummary:
    return generate(
        out,
        users=users,
        days=days,
        advertisers=ADVERTISERS,
        seed=seed,
        end_date=END,
        interests=LEAVES,
    )


def contents(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    make(out)
    return out


@pytest.fixture(scope="module")
def sql(demo: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """One view per input kind, plus the truth and the taxonomy's interest ids."""
    con = duckdb.connect()
    for kind, pattern in PATTERNS.items():
        con.execute(f"CREATE VIEW {kind} AS SELECT * FROM read_parquet('{demo / pattern}')")
    con.execute(
        f"CREATE VIEW truth AS SELECT * FROM read_parquet('{demo / 'truth/taste_groups.parquet'}')"
    )
    interests = pa.table({"interest_id": pa.array(list(taxonomy().interests), STRING)})
    con.register("taxonomy", interests)
    yield con
    con.close()


def count(sql: duckdb.DuckDBPyConnection, query: str) -> int:
    row = sql.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def violations(sql: duckdb.DuckDBPyConnection, kind: str, condition: str) -> int:
    """How many rows of ``kind`` meet ``condition`` (a broken rule)."""
    return count(sql, f"SELECT count(*) FROM {kind} WHERE {condition}")


def column(sql: duckdb.DuckDBPyConnection, query: str) -> list[Any]:
    return [row[0] for row in sql.execute(query).fetchall()]


KNOWN_USER = "user_id IN (SELECT user_id FROM users)"
# The 14 days ending at END, in UTC.
IN_PERIOD = (
    "time >= TIMESTAMPTZ '2026-11-15 00:00:00+00' AND time < TIMESTAMPTZ '2026-11-29 00:00:00+00'"
)


class TestDeterminism:
    def test_the_same_arguments_write_the_same_bytes(self, demo: Path, tmp_path: Path) -> None:
        make(tmp_path)
        assert contents(tmp_path) == contents(demo)

    def test_another_seed_writes_other_data(self, demo: Path, tmp_path: Path) -> None:
        make(tmp_path, seed=8)
        for name in ("users.parquet", "events-00000.parquet", "pings-00000.parquet"):
            assert not pq.read_table(tmp_path / name).equals(pq.read_table(demo / name))


class TestContract:
    def test_every_file_has_the_columns_and_types_of_the_data_model(self, demo: Path) -> None:
        for kind, pattern in PATTERNS.items():
            paths = sorted(demo.glob(pattern))
            assert paths, kind
            for path in paths:
                assert pq.read_schema(path).equals(SCHEMAS[kind]), path.name
        time = pq.ParquetFile(demo / "events-00000.parquet").schema.column(0).logical_type
        assert "isAdjustedToUTC=true" in str(time)
        truth = pq.read_schema(demo / "truth" / "taste_groups.parquet")
        assert truth.names == ["user_id", "taste_group"]

    def test_brands_are_the_demo_catalogue_then_synthetic(
        self, sql: duckdb.DuckDBPyConnection
    ) -> None:
        rows = sql.execute("SELECT brand_id, name FROM brands ORDER BY brand_id").fetchall()
        assert [name for _, name in rows[: len(BRANDS)]] == BRANDS
        assert [i for i, _ in rows] == list(range(1, len(rows) + 1))
        assert rows[len(BRANDS)][1] == f"Brand {len(BRANDS) + 1}"
        assert all(1 <= len(name) <= 255 for _, name in rows)

    def test_products_follow_the_rules(self, sql: duckdb.DuckDBPyConnection) -> None:
        advertisers = column(sql, "SELECT DISTINCT advertiser_id FROM products ORDER BY 1")
        assert advertisers == list(range(1001, 1001 + ADVERTISERS))
        assert violations(sql, "products", "NOT regexp_full_match(product_id, 'p[1-9][0-9]*')") == 0
        assert (
            count(
                sql, "SELECT count(*) - count(DISTINCT (advertiser_id, product_id)) FROM products"
            )
            == 0
        )
        assert violations(sql, "products", "brand_id NOT IN (SELECT brand_id FROM brands)") == 0
        assert (
            violations(sql, "products", "interest_id NOT IN (SELECT interest_id FROM taxonomy)")
            == 0
        )
        assert violations(sql, "products", "price IS NULL OR price < 0") == 0
        price_range = (
            "CASE WHEN price < 30 THEN 'Low' WHEN price < 150 THEN 'Medium' ELSE 'High' END"
        )
        assert violations(sql, "products", f"price_range IS DISTINCT FROM {price_range}") == 0
        # The nullable columns are exercised, but most products have a brand and an interest.
        products = count(sql, "SELECT count(*) FROM products")
        assert 0 < violations(sql, "products", "brand_id IS NULL") < products / 10
        assert 0 < violations(sql, "products", "interest_id IS NULL") < products / 10

    def test_interests_are_leaves(self, sql: duckdb.DuckDBPyConnection) -> None:
        parents = {i.parent_id for i in taxonomy().interests.values()}
        used = set(column(sql, "SELECT interest_id FROM products WHERE interest_id NOT NULL"))
        assert len(used) > 50
        assert not used & parents

    def test_users_follow_the_rules(self, sql: duckdb.DuckDBPyConnection) -> None:
        assert count(sql, "SELECT count(DISTINCT user_id) FROM users") == USERS
        assert violations(sql, "users", "NOT regexp_full_match(user_id, 'u[0-9]{8}')") == 0
        countries = column(sql, "SELECT DISTINCT country FROM users")
        assert len(countries) > 10
        assert all(normalise_country(c) == c for c in countries)
        assert violations(sql, "users", "gender NOT IN ('Male', 'Female')") == 0
        assert (
            violations(sql, "users", "buying_power NOT IN ('Low', 'Medium', 'High', 'VeryHigh')")
            == 0
        )
        assert violations(sql, "users", "gender IS NULL") > 0
        assert violations(sql, "users", "buying_power IS NULL") > 0

    def test_identities_follow_the_rules(self, sql: duckdb.DuckDBPyConnection) -> None:
        assert violations(sql, "identities", f"NOT {KNOWN_USER}") == 0
        rows = sql.execute("SELECT user_id, identifier_type, digest FROM identities").fetchall()
        by_type: dict[str, int] = {}
        for user_id, kind, digest in rows:
            by_type[kind] = by_type.get(kind, 0) + 1
            if kind in ("email", "phoneNumber"):
                assert re.fullmatch("[0-9a-f]{64}", digest), digest
            else:
                assert kind == "madid"
                assert str(uuid.UUID(digest)) == digest
            if kind == "email":  # a contact list of user{n}@example.com matches user n
                email = f"user{int(user_id[1:])}@example.com"
                assert digest == hashlib.sha256(email.encode()).hexdigest()
        assert 0.5 * USERS < by_type["email"] < 0.7 * USERS
        assert 0.2 * USERS < by_type["phoneNumber"] < 0.4 * USERS
        assert by_type["madid"] > 0.3 * USERS
        assert count(sql, "SELECT count(*) - count(DISTINCT digest) FROM identities") == 0

    def test_events_follow_the_rules(self, sql: duckdb.DuckDBPyConnection) -> None:
        assert set(column(sql, "SELECT DISTINCT kind FROM events")) == set(demo_data.KINDS)
        assert violations(sql, "events", f"NOT ({IN_PERIOD})") == 0
        assert violations(sql, "events", f"NOT {KNOWN_USER}") == 0
        assert violations(sql, "events", "(kind = 'visit') = (product_id IS NOT NULL)") == 0
        # view, basket and sale name a product of the same advertiser.
        unknown = (
            "(advertiser_id, product_id) NOT IN (SELECT (advertiser_id, product_id) FROM products)"
        )
        assert violations(sql, "events", f"kind <> 'visit' AND {unknown}") == 0
        assert violations(sql, "events", "price < 0") == 0
        assert violations(sql, "events", "(kind = 'sale') = (price IS NULL)") == 0
        assert (
            count(
                sql,
                """
            SELECT count(*) FROM events e JOIN products p USING (advertiser_id, product_id)
            WHERE e.kind = 'sale' AND e.price <> p.price
        """,
            )
            == 0
        )
        last = column(sql, "SELECT max(time) FROM events")[0]
        assert last.date() == END

    def test_pings_follow_the_rules(self, sql: duckdb.DuckDBPyConnection) -> None:
        assert violations(sql, "pings", f"NOT ({IN_PERIOD})") == 0
        assert violations(sql, "pings", f"NOT {KNOWN_USER}") == 0
        assert violations(sql, "pings", "NOT latitude BETWEEN -90 AND 90") == 0
        assert violations(sql, "pings", "NOT longitude BETWEEN -180 AND 180") == 0
        # Positions come from mobile devices.
        devices = "user_id IN (SELECT user_id FROM identities WHERE identifier_type = 'madid')"
        assert violations(sql, "pings", f"NOT {devices}") == 0

    def test_behavioral_follows_the_rules(self, sql: duckdb.DuckDBPyConnection) -> None:
        categories = "('Lifestyles', 'LifeEvents', 'Seasonal', 'BuyingPatterns')"
        assert violations(sql, "behavioral", f"NOT {KNOWN_USER}") == 0
        assert violations(sql, "behavioral", f"category NOT IN {categories}") == 0
        assert violations(sql, "behavioral", "end_date < start_date") == 0
        home = "(user_id, country) IN (SELECT (user_id, country) FROM users)"
        assert violations(sql, "behavioral", f"NOT {home}") == 0
        assert count(sql, "SELECT count(DISTINCT category) FROM behavioral") == 4
        assert violations(sql, "behavioral", f"end_date < DATE '{END}'") > 0  # expired
        assert violations(sql, "behavioral", f"DATE '{END}' BETWEEN start_date AND end_date") > 0

    def test_the_truth_covers_every_user_once(self, sql: duckdb.DuckDBPyConnection) -> None:
        assert count(sql, "SELECT count(*) FROM truth") == USERS
        assert violations(sql, "truth", f"NOT {KNOWN_USER}") == 0
        assert count(sql, "SELECT count(DISTINCT user_id) FROM truth") == USERS
        assert count(sql, "SELECT count(DISTINCT taste_group) FROM truth") == len(demo_data.TASTES)


class TestShape:
    def test_brand_popularity_is_skewed(self, sql: duckdb.DuckDBPyConnection) -> None:
        counts = column(
            sql,
            """
            SELECT count(*) FROM events e JOIN products p USING (advertiser_id, product_id)
            WHERE p.brand_id IS NOT NULL GROUP BY p.brand_id
        """,
        )
        assert max(counts) >= 5 * float(np.median(counts))

    def test_user_activity_is_a_power_law(self, sql: duckdb.DuckDBPyConnection) -> None:
        counts = np.array(column(sql, "SELECT count(*) FROM events GROUP BY user_id"))
        assert len(counts) == USERS  # everybody shows up at least once
        assert 15 <= counts.mean() <= 25
        median = float(np.median(counts))
        assert median < counts.mean() / 1.5  # most users have few events ...
        assert np.quantile(counts, 0.99) > 8 * median  # ... and a few have many

    def test_a_few_percent_of_visitors_buy(self, sql: duckdb.DuckDBPyConnection) -> None:
        rows = sql.execute("""
            SELECT count(DISTINCT user_id),
                   count(DISTINCT user_id) FILTER (WHERE kind = 'sale')
            FROM events GROUP BY advertiser_id
        """).fetchall()
        assert len(rows) == ADVERTISERS
        for visitors, buyers in rows:
            assert 0.01 <= buyers / visitors <= 0.08

    def test_pings_are_near_real_cities(self, sql: duckdb.DuckDBPyConnection) -> None:
        points = sql.execute("SELECT latitude, longitude FROM pings").fetchnumpy()
        distances = haversine_km(
            points["latitude"][:, None],
            points["longitude"][:, None],
            np.array([c.latitude for c in CITIES]),
            np.array([c.longitude for c in CITIES]),
        )
        nearest_km = distances.min(axis=1)
        assert len(nearest_km) > USERS / 2
        assert nearest_km.max() <= 50
        assert 2 < float(np.median(nearest_km)) < 15  # spread over a city, not on its centre
        # Mostly in the user's own country, sometimes travelling.
        countries = np.array([c.country for c in CITIES])[distances.argmin(axis=1)]
        homes = dict(sql.execute("SELECT user_id, country FROM users").fetchall())
        users = column(sql, "SELECT user_id FROM pings")
        at_home = np.mean([homes[u] == c for u, c in zip(users, countries, strict=True)])
        assert 0.9 < at_home < 1.0

    def test_taste_groups_are_learnable(self, sql: duckdb.DuckDBPyConnection) -> None:
        """Each group's favourite interest is much more popular in the group than outside."""
        rows = sql.execute("""
            WITH counts AS (
                SELECT t.taste_group AS g, p.interest_id AS i, count(*) AS n
                FROM events e JOIN products p USING (advertiser_id, product_id)
                JOIN truth t USING (user_id)
                WHERE e.kind = 'view' AND p.interest_id IS NOT NULL
                GROUP BY ALL
            ),
            favourite AS (SELECT g, arg_max(i, n) AS i FROM counts GROUP BY g)
            SELECT f.g,
                   sum(c.n) FILTER (WHERE c.g = f.g AND c.i = f.i)
                       / sum(c.n) FILTER (WHERE c.g = f.g),
                   sum(c.n) FILTER (WHERE c.g <> f.g AND c.i = f.i)
                       / sum(c.n) FILTER (WHERE c.g <> f.g)
            FROM favourite f, counts c GROUP BY f.g
        """).fetchall()
        assert len(rows) == len(demo_data.TASTES)
        for group, inside, outside in rows:
            assert inside > 3 * outside, group


def haversine_km(
    lat1: npt.NDArray[np.float64],
    lon1: npt.NDArray[np.float64],
    lat2: npt.NDArray[np.float64],
    lon2: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """The great-circle distance of docs/segments.md."""
    p1, l1, p2, l2 = (np.radians(a) for a in (lat1, lon1, lat2, lon2))
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    distance: npt.NDArray[np.float64] = 2 * 6371.0088 * np.arcsin(np.sqrt(h))
    return distance


class TestChunks:
    def test_files_split_by_days_when_large(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(demo_data, "EVENTS_PER_FILE", 20_000)
        summary = make(tmp_path, users=1000)
        events = sorted(tmp_path.glob("events-*.parquet"))
        assert len(events) > 1
        assert len(sorted(tmp_path.glob("pings-*.parquet"))) == len(events)
        previous_last = None
        for path in events:
            times = pq.read_table(path, columns=["time"]).column(0)
            first, last = pc.min(times).as_py(), pc.max(times).as_py()
            if previous_last is not None:
                assert first.date() > previous_last.date()  # days do not overlap
            previous_last = last
        assert 15 * 1000 < summary.events < 25 * 1000

    def test_files_split_by_users_when_one_day_is_large(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(demo_data, "EVENTS_PER_FILE", 2_000)
        make(tmp_path, users=1000, days=3)
        days = [
            {t.date() for t in pq.read_table(path, columns=["time"]).column(0).to_pylist()}
            for path in sorted(tmp_path.glob("events-*.parquet"))
        ]
        assert len(days) > 3
        assert all(len(d) == 1 for d in days)
        per_file_users = [
            set(pq.read_table(path, columns=["user_id"]).column(0).to_pylist())
            for path in sorted(tmp_path.glob("events-*.parquet"))[:2]
        ]
        assert not per_file_users[0] & per_file_users[1]

    def test_stale_chunks_of_a_larger_run_are_removed(self, tmp_path: Path) -> None:
        (tmp_path / "events-00042.parquet").write_bytes(b"old")
        (tmp_path / "pings-00042.parquet").write_bytes(b"old")
        make(tmp_path, users=100)
        assert not (tmp_path / "events-00042.parquet").exists()
        assert not (tmp_path / "pings-00042.parquet").exists()

    @pytest.mark.parametrize(("users", "days", "advertisers"), [(0, 1, 1), (1, 0, 1), (1, 1, 0)])
    def test_sizes_must_be_positive(
        self, tmp_path: Path, users: int, days: int, advertisers: int
    ) -> None:
        with pytest.raises(ValueError, match="positive"):
            generate(
                tmp_path,
                users=users,
                days=days,
                advertisers=advertisers,
                seed=1,
                end_date=END,
                interests=LEAVES,
            )


class TestCommand:
    def test_writes_the_files_and_prints_a_summary(self, tmp_path: Path) -> None:
        args = ["--users", "200", "--days", "3", "--advertisers", "2", "--seed", "3"]
        result = CliRunner().invoke(
            cli, ["demo-data", *args, "--out", str(tmp_path / "cli"), "--end-date", "2026-11-28"]
        )
        assert result.exit_code == 0, result.output
        assert "events-00000.parquet" in result.stdout
        assert "truth/taste_groups.parquet" in result.stdout
        generate(
            tmp_path / "api",
            users=200,
            days=3,
            advertisers=2,
            seed=3,
            end_date=END,
            interests=LEAVES,
        )
        assert contents(tmp_path / "cli") == contents(tmp_path / "api")

    def test_refuses_a_size_of_zero(self, tmp_path: Path) -> None:
        result = CliRunner().invoke(cli, ["demo-data", "--users", "0", "--out", str(tmp_path)])
        assert result.exit_code == 2
        assert not any(tmp_path.iterdir())
