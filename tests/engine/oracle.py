"""Independent oracle: docs/segments.md as plain DuckDB SQL over the raw input Parquet files."""

from __future__ import annotations

import contextlib
import importlib.resources
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

# The input kinds of docs/data-model.md: file-name pattern and the columns with their SQL types.
SCHEMAS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "brands": ("brands.parquet", (("brand_id", "BIGINT"), ("name", "VARCHAR"))),
    "products": (
        "products.parquet",
        (
            ("advertiser_id", "BIGINT"),
            ("product_id", "VARCHAR"),
            ("brand_id", "BIGINT"),
            ("interest_id", "VARCHAR"),
            ("price", "DOUBLE"),
            ("price_range", "VARCHAR"),
        ),
    ),
    "users": (
        "users.parquet",
        (
            ("user_id", "VARCHAR"),
            ("country", "VARCHAR"),
            ("gender", "VARCHAR"),
            ("buying_power", "VARCHAR"),
        ),
    ),
    "identities": (
        "identities.parquet",
        (("user_id", "VARCHAR"), ("identifier_type", "VARCHAR"), ("digest", "VARCHAR")),
    ),
    "events": (
        "events*.parquet",
        (
            ("time", "TIMESTAMPTZ"),
            ("user_id", "VARCHAR"),
            ("advertiser_id", "BIGINT"),
            ("kind", "VARCHAR"),
            ("product_id", "VARCHAR"),
            ("price", "DOUBLE"),
        ),
    ),
    "pings": (
        "pings*.parquet",
        (
            ("time", "TIMESTAMPTZ"),
            ("user_id", "VARCHAR"),
            ("latitude", "DOUBLE"),
            ("longitude", "DOUBLE"),
        ),
    ),
    "behavioral": (
        "behavioral.parquet",
        (
            ("user_id", "VARCHAR"),
            ("category", "VARCHAR"),
            ("country", "VARCHAR"),
            ("start_date", "DATE"),
            ("end_date", "DATE"),
        ),
    ),
}

# The UTC date of a timestamp, by arithmetic on the epoch (independent of the session time zone).
UTC_DAY = "(DATE '1970-01-01' + CAST(floor(epoch_us(time) / 86400000000.0) AS INTEGER))"

VISITORS_TYPES = frozenset({"All", "Buyers", "NonBuyers"})
USERS_TYPES = frozenset({"Prospects", "ProspectsOrNonBuyers"})
# Identifier types whose digests are stored lower-case (docs/data-model.md).
LOWER_CASE_TYPES = ("email", "phoneNumber", "madid")
COORDINATE_DECIMALS = 5
EARTH_RADIUS_KM = 6371.0088


def taxonomy_rows() -> tuple[list[str], list[str]]:
    """Every interest of the packaged Google product taxonomy: the ids and their full paths."""
    resource = (
        importlib.resources.files("reach.reference.data") / "google-product-taxonomy.en-US.txt"
    )
    ids: list[str] = []
    paths: list[str] = []
    for line in resource.read_text("utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        interest_id, _, path = line.partition(" - ")
        ids.append(interest_id.strip())
        paths.append(path.strip())
    return ids, paths


def quote(text: str) -> str:
    """A SQL string literal (DDL of views cannot take bound parameters)."""
    return "'" + text.replace("'", "''") + "'"


class Oracle:
    """Segment membership of docs/segments.md, one SQL query per question."""

    def __init__(
        self,
        data_dir: Path,
        *,
        prospecting_lookback_days: int = 90,
        location_lookback_days: int = 30,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.prospecting_lookback_days = prospecting_lookback_days
        self.location_lookback_days = location_lookback_days
        self.con = duckdb.connect(":memory:")
        # Naive timestamps are UTC; without the ICU extension DuckDB already treats them so.
        with contextlib.suppress(duckdb.Error):
            self.con.execute("SET TimeZone = 'UTC'")
        for view, (pattern, columns) in SCHEMAS.items():
            files = sorted(self.data_dir.glob(pattern))
            if files:
                listed = ", ".join(quote(str(f)) for f in files)
                select = ", ".join(f"CAST({name} AS {kind}) AS {name}" for name, kind in columns)
                source = f"read_parquet([{listed}], union_by_name = true)"
                self.con.execute(f"CREATE VIEW {view} AS SELECT {select} FROM {source}")
            else:
                select = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in columns)
                self.con.execute(f"CREATE VIEW {view} AS SELECT {select} WHERE false")
        self.con.execute(f"CREATE VIEW event_days AS SELECT *, {UTC_DAY} AS day FROM events")
        self.con.execute(f"CREATE VIEW ping_days AS SELECT *, {UTC_DAY} AS day FROM pings")
        ids, paths = taxonomy_rows()
        self.con.execute(
            "CREATE TABLE taxonomy AS SELECT unnest(CAST($ids AS VARCHAR[])) AS interest_id,"
            " unnest(CAST($paths AS VARCHAR[])) AS path",
            {"ids": ids, "paths": paths},
        )
        row = self.con.execute(
            "SELECT max(day) FROM (SELECT day FROM event_days UNION ALL SELECT day FROM ping_days)"
        ).fetchone()
        self._as_of: date | None = None if row is None else row[0]

    @property
    def as_of(self) -> date:
        """The latest day (UTC date of ``time``) of any event or ping."""
        if self._as_of is None:
            raise ValueError("no event and no ping: there is no as-of day")
        return self._as_of

    def _members(self, sql: str, parameters: dict[str, Any]) -> set[str]:
        return {row[0] for row in self.con.execute(sql, parameters).fetchall()}

    def retargeting(
        self, advertiser_id: int, visitors_type: str, days_min: int, days_max: int
    ) -> set[str]:
        """Users by the day of their most recent visit, optionally split by buying."""
        if visitors_type not in VISITORS_TYPES:
            raise ValueError(f"unknown visitorsType {visitors_type!r}")
        sql = """
            WITH last_visit AS (
                SELECT user_id, max(day) AS day
                FROM event_days
                WHERE advertiser_id = $advertiser AND day <= $as_of
                GROUP BY user_id
            ),
            all_visitors AS (
                SELECT user_id FROM last_visit
                WHERE date_diff('day', day, $as_of) BETWEEN $m AND $big_m
            ),
            buyers AS (
                SELECT DISTINCT user_id FROM event_days
                WHERE advertiser_id = $advertiser AND kind = 'sale'
                  AND date_diff('day', day, $as_of) BETWEEN 0 AND $big_m
            )
            SELECT user_id FROM all_visitors
            WHERE CASE $type
                WHEN 'All' THEN true
                WHEN 'Buyers' THEN user_id IN (SELECT user_id FROM buyers)
                ELSE user_id NOT IN (SELECT user_id FROM buyers)
            END
        """
        return self._members(
            sql,
            {
                "advertiser": advertiser_id,
                "as_of": self.as_of,
                "m": days_min,
                "big_m": days_max,
                "type": visitors_type,
            },
        )

    def prospecting(
        self, advertiser_id: int, users_type: str, days_min: int | None, days_max: int | None
    ) -> set[str]:
        """Active users of the advertiser's countries who did not visit it in the window."""
        if users_type not in USERS_TYPES:
            raise ValueError(f"unknown usersType {users_type!r}")
        m = 0 if days_min is None else days_min
        big_m = self.prospecting_lookback_days if days_max is None else days_max
        sql = """
            WITH advertiser_countries AS (
                SELECT DISTINCT upper(u.country) AS country
                FROM event_days e JOIN users u USING (user_id)
                WHERE e.advertiser_id = $advertiser AND e.day <= $as_of
            ),
            active AS (
                SELECT user_id FROM event_days
                WHERE date_diff('day', day, $as_of) BETWEEN $m AND $big_m
                UNION
                SELECT user_id FROM ping_days
                WHERE date_diff('day', day, $as_of) BETWEEN $m AND $big_m
            ),
            window_visitors AS (
                SELECT DISTINCT user_id FROM event_days
                WHERE advertiser_id = $advertiser
                  AND date_diff('day', day, $as_of) BETWEEN $m AND $big_m
            ),
            window_buyers AS (
                SELECT DISTINCT user_id FROM event_days
                WHERE advertiser_id = $advertiser AND kind = 'sale'
                  AND date_diff('day', day, $as_of) BETWEEN $m AND $big_m
            ),
            prospects AS (
                SELECT u.user_id FROM users u
                WHERE upper(u.country) IN (SELECT country FROM advertiser_countries)
                  AND u.user_id IN (SELECT user_id FROM active)
                  AND u.user_id NOT IN (SELECT user_id FROM window_visitors)
            ),
            non_buyers AS (
                SELECT user_id FROM window_visitors
                WHERE user_id NOT IN (SELECT user_id FROM window_buyers)
            )
            SELECT user_id FROM prospects
            UNION
            SELECT user_id FROM non_buyers WHERE $type = 'ProspectsOrNonBuyers'
        """
        return self._members(
            sql,
            {
                "advertiser": advertiser_id,
                "as_of": self.as_of,
                "m": m,
                "big_m": big_m,
                "type": users_type,
            },
        )

    def in_market(
        self,
        country: str,
        brand_ids: Sequence[int] = (),
        interest_ids: Sequence[str] = (),
        price_ranges: Sequence[str] = (),
        buying_powers: Sequence[str] = (),
        gender: str | None = None,
    ) -> set[str]:
        """Users of a country with a view, basket or sale of a matching product in 0..89 days."""
        sql = """
            WITH wanted_interests AS (
                SELECT unnest(CAST($interests AS VARCHAR[])) AS interest_id
                UNION
                SELECT t.interest_id
                FROM taxonomy t JOIN taxonomy q
                  ON t.path = q.path OR starts_with(t.path, q.path || ' > ')
                WHERE list_contains(CAST($interests AS VARCHAR[]), q.interest_id)
            ),
            matching_products AS (
                SELECT advertiser_id, product_id FROM products p
                WHERE (
                    (len(CAST($brands AS BIGINT[])) = 0 AND len(CAST($interests AS VARCHAR[])) = 0)
                    OR list_contains(CAST($brands AS BIGINT[]), p.brand_id)
                    OR p.interest_id IN (SELECT interest_id FROM wanted_interests)
                )
                AND (
                    len(CAST($ranges AS VARCHAR[])) = 0
                    OR list_contains(CAST($ranges AS VARCHAR[]), p.price_range)
                )
            )
            SELECT DISTINCT u.user_id
            FROM event_days e
            JOIN matching_products p USING (advertiser_id, product_id)
            JOIN users u ON u.user_id = e.user_id
            WHERE e.kind IN ('view', 'basket', 'sale')
              AND date_diff('day', e.day, $as_of) BETWEEN 0 AND 89
              AND upper(u.country) = upper($country)
              AND (
                  len(CAST($powers AS VARCHAR[])) = 0
                  OR list_contains(CAST($powers AS VARCHAR[]), u.buying_power)
              )
              AND (CAST($gender AS VARCHAR) IS NULL OR u.gender = CAST($gender AS VARCHAR))
        """
        return self._members(
            sql,
            {
                "as_of": self.as_of,
                "country": country,
                "brands": list(brand_ids),
                "interests": list(interest_ids),
                "ranges": list(price_ranges),
                "powers": list(buying_powers),
                "gender": gender,
            },
        )

    def location(self, points: Sequence[tuple[float, float]], radius_km: float) -> set[str]:
        """Users with a ping of the window within ``radius_km`` (haversine) of some point."""
        latitudes = [round(lat, COORDINATE_DECIMALS) for lat, _ in points]
        longitudes = [round(lon, COORDINATE_DECIMALS) for _, lon in points]
        sql = """
            WITH poi AS (
                SELECT unnest(CAST($lats AS DOUBLE[])) AS lat,
                       unnest(CAST($lons AS DOUBLE[])) AS lon
            ),
            recent AS (
                SELECT user_id, radians(latitude) AS phi1, radians(longitude) AS lambda1
                FROM ping_days
                WHERE date_diff('day', day, $as_of) BETWEEN 0 AND $days - 1
            )
            SELECT DISTINCT r.user_id
            FROM recent r CROSS JOIN (
                SELECT radians(lat) AS phi2, radians(lon) AS lambda2 FROM poi
            ) q
            WHERE 2 * $earth * asin(sqrt(
                pow(sin((q.phi2 - r.phi1) / 2), 2)
                + cos(r.phi1) * cos(q.phi2) * pow(sin((q.lambda2 - r.lambda1) / 2), 2)
            )) <= $radius
        """
        return self._members(
            sql,
            {
                "lats": latitudes,
                "lons": longitudes,
                "as_of": self.as_of,
                "days": self.location_lookback_days,
                "earth": EARTH_RADIUS_KM,
                "radius": float(radius_km),
            },
        )

    def behavioral(self, category: str, country: str | None) -> set[str]:
        """Users with a membership of the category (and country) valid on the as-of day."""
        sql = """
            SELECT DISTINCT user_id FROM behavioral
            WHERE category = $category
              AND (CAST($country AS VARCHAR) IS NULL
                   OR upper(country) = upper(CAST($country AS VARCHAR)))
              AND start_date <= $as_of AND $as_of <= end_date
        """
        return self._members(sql, {"category": category, "country": country, "as_of": self.as_of})

    def contact_list(self, identities: Sequence[tuple[str, str]]) -> set[str]:
        """Users with an identity (identifier type and digest) that is in the list."""
        sql = """
            WITH listed AS (
                SELECT unnest(CAST($types AS VARCHAR[])) AS identifier_type,
                       unnest(CAST($digests AS VARCHAR[])) AS digest
            ),
            normalised_list AS (
                SELECT identifier_type,
                       CASE WHEN list_contains($lower_types, identifier_type)
                            THEN lower(digest) ELSE digest END AS digest
                FROM listed
            ),
            normalised_identities AS (
                SELECT user_id, identifier_type,
                       CASE WHEN list_contains($lower_types, identifier_type)
                            THEN lower(digest) ELSE digest END AS digest
                FROM identities
            )
            SELECT DISTINCT i.user_id
            FROM normalised_identities i JOIN normalised_list l USING (identifier_type, digest)
        """
        return self._members(
            sql,
            {
                "types": [kind for kind, _ in identities],
                "digests": [digest for _, digest in identities],
                "lower_types": list(LOWER_CASE_TYPES),
            },
        )

    def universe(self) -> set[str]:
        """Every user in the store."""
        return self._members("SELECT DISTINCT user_id FROM users", {})
