"""The rules that turn stored events into bitmap atoms, written once in standard SQL.

Every rule is a query over the store's views (``events``, ``pings``, ``users``, ``products``,
``behavioral``, ``identities``), the ``RELATIONS`` below, and two tables the build provides:
``params`` (one row: ``as_of``, ``in_market_from``, ``location_from``) and ``build_days`` (the
days whose per-day atoms are computed). A bitmap rule selects key columns and an ``ordinal``;
the atoms are the sets of ordinals per key (bitmaps are sets, so a rule need not remove
duplicate rows: DISTINCT would only cost time). The SQL is DuckDB's dialect, which DuckDB runs
here; ``transpile`` turns it into another engine's dialect (e.g. Spark), so that a distributed
executor can run the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """``keys`` name the atom; ``daily`` rules have ``day`` as their last key."""

    keys: tuple[str, ...]
    sql: str
    daily: bool = False


RULES: dict[str, Rule] = {
    # A user visited an advertiser on a day: any site event of the advertiser that day.
    "visitors": Rule(
        keys=("advertiser_id", "day"),
        daily=True,
        sql="""
            SELECT advertiser_id, day, ordinal
            FROM events
            WHERE day IN (SELECT day FROM build_days)
        """,
    ),
    # A user bought from an advertiser on a day: a sale event of the advertiser that day.
    "buyers": Rule(
        keys=("advertiser_id", "day"),
        daily=True,
        sql="""
            SELECT advertiser_id, day, ordinal
            FROM events
            WHERE kind = 'sale' AND day IN (SELECT day FROM build_days)
        """,
    ),
    # A user was active on a day: any event or ping that day.
    "active": Rule(
        keys=("day",),
        daily=True,
        sql="""
            SELECT day, ordinal
            FROM (
                SELECT day, ordinal FROM events
                UNION ALL
                SELECT day, ordinal FROM pings
            ) AS activity
            WHERE day IN (SELECT day FROM build_days)
        """,
    ),
    "country": Rule(keys=("country",), sql="SELECT country, ordinal FROM users"),
    "gender": Rule(
        keys=("gender",), sql="SELECT gender, ordinal FROM users WHERE gender IS NOT NULL"
    ),
    "buying_power": Rule(
        keys=("buying_power",),
        sql="SELECT buying_power, ordinal FROM users WHERE buying_power IS NOT NULL",
    ),
    "universe": Rule(keys=(), sql="SELECT ordinal FROM users"),
    # In market: a view, basket or sale in the window of a product, by the product's brand...
    "in_market_brand": Rule(
        keys=("brand_id", "price_range"),
        sql="""
            SELECT brand_id, price_range, ordinal
            FROM in_market_hits
            WHERE brand_id IS NOT NULL
        """,
    ),
    # ...by its interest (a query combines the interest with its descendants)...
    "in_market_interest": Rule(
        keys=("interest_id", "price_range"),
        sql="""
            SELECT interest_id, price_range, ordinal
            FROM in_market_hits
            WHERE interest_id IS NOT NULL
        """,
    ),
    # ...and any product at all, for definitions without brands or interests.
    "in_market_any": Rule(
        keys=("price_range",),
        sql="SELECT price_range, ordinal FROM in_market_hits",
    ),
    # Behavioral memberships valid on the as-of day.
    "behavioral": Rule(
        keys=("category", "country"),
        sql="""
            SELECT b.category, b.country, b.ordinal
            FROM behavioral AS b
            CROSS JOIN params
            WHERE b.start_date <= params.as_of AND b.end_date >= params.as_of
        """,
    ),
}

# Intermediate relations, materialised once per build before the rules that read them.
RELATIONS = {
    # Who looked at, carted or bought which kind of product in the in-market window.
    "in_market_hits": """
        SELECT e.ordinal, p.brand_id, p.interest_id, p.price_range
        FROM events AS e
        JOIN products AS p
          ON p.advertiser_id = e.advertiser_id AND p.product_id = e.product_id
        CROSS JOIN params
        WHERE e.kind IN ('view', 'basket', 'sale')
          AND e.day BETWEEN params.in_market_from AND params.as_of
    """,
}

# Relations that are not bitmaps.
ADVERTISER_COUNTRIES = """
    SELECT DISTINCT e.advertiser_id, u.country
    FROM events AS e
    JOIN users AS u ON u.ordinal = e.ordinal
    CROSS JOIN params
    WHERE e.day <= params.as_of
    ORDER BY e.advertiser_id, u.country
"""
LOCATION_PINGS = """
    SELECT DISTINCT ordinal, latitude, longitude, cell
    FROM pings
    CROSS JOIN params
    WHERE day BETWEEN params.location_from AND params.as_of
"""


def grouped(rule: Rule) -> str:
    """The rule as one row per atom: its keys and the list of its ordinals."""
    keys = ", ".join(rule.keys)
    if not rule.keys:
        return f"SELECT list(ordinal) AS ordinals FROM ({rule.sql}) AS atom"  # noqa: S608
    # Daily atoms come day by day, so that each day's file is written in one pass.
    order = ", ".join(("day", *rule.keys[:-1])) if rule.daily else keys
    return (
        f"SELECT {keys}, list(ordinal) AS ordinals FROM ({rule.sql}) AS atom "  # noqa: S608
        f"GROUP BY {keys} ORDER BY {order}"
    )


def transpile(sql: str, dialect: str) -> str:
    """A rule in another engine's SQL dialect (``spark``, ``trino``...)."""
    # Only a distributed executor needs this, so sqlglot is not a dependency of the server.
    try:
        import sqlglot  # noqa: PLC0415
    except ModuleNotFoundError as missing:
        raise ModuleNotFoundError(
            "transpiling the rules needs sqlglot, which is not installed: pip install sqlglot",
            name=missing.name,
        ) from missing
    return sqlglot.transpile(sql, read="duckdb", write=dialect, pretty=True)[0]
