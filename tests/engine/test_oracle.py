"""The oracle on tiny hand-made datasets whose members are worked out by hand."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]
import pytest

from tests.engine.oracle import Oracle

A = date(2026, 3, 31)  # the as-of day of every dataset below (an anchor event or ping sets it)
ADV = 1  # the advertiser under test
OTHER = 2  # another advertiser
R_KM = 6371.0088

TIMESTAMP = pa.timestamp("us", tz="UTC")
SCHEMAS = {
    "brands": pa.schema([("brand_id", pa.int64()), ("name", pa.string())]),
    "products": pa.schema(
        [
            ("advertiser_id", pa.int64()),
            ("product_id", pa.string()),
            ("brand_id", pa.int64()),
            ("interest_id", pa.string()),
            ("price", pa.float64()),
            ("price_range", pa.string()),
        ]
    ),
    "users": pa.schema(
        [
            ("user_id", pa.string()),
            ("country", pa.string()),
            ("gender", pa.string()),
            ("buying_power", pa.string()),
        ]
    ),
    "identities": pa.schema(
        [("user_id", pa.string()), ("identifier_type", pa.string()), ("digest", pa.string())]
    ),
    "events": pa.schema(
        [
            ("time", TIMESTAMP),
            ("user_id", pa.string()),
            ("advertiser_id", pa.int64()),
            ("kind", pa.string()),
            ("product_id", pa.string()),
            ("price", pa.float64()),
        ]
    ),
    "pings": pa.schema(
        [
            ("time", TIMESTAMP),
            ("user_id", pa.string()),
            ("latitude", pa.float64()),
            ("longitude", pa.float64()),
        ]
    ),
    "behavioral": pa.schema(
        [
            ("user_id", pa.string()),
            ("category", pa.string()),
            ("country", pa.string()),
            ("start_date", pa.date32()),
            ("end_date", pa.date32()),
        ]
    ),
}

Row = tuple[object, ...]


def at(days_ago: int, hour: int = 12) -> datetime:
    """A moment on the day ``days_ago`` days before ``A`` (UTC)."""
    return datetime.combine(A - timedelta(days=days_ago), time(hour), tzinfo=UTC)


def write(directory: Path, kind: str, rows: Sequence[Row], name: str | None = None) -> None:
    """One input file of docs/data-model.md with exactly its column names and types."""
    schema = SCHEMAS[kind]
    columns = {field.name: [row[i] for row in rows] for i, field in enumerate(schema)}
    table = pa.table(columns, schema=schema)
    pq.write_table(table, directory / (name or f"{kind}.parquet"))


def users(directory: Path, *ids: str, country: str = "FR") -> None:
    write(directory, "users", [(user_id, country, None, None) for user_id in ids])


def visit(user_id: str, days_ago: int, advertiser: int = ADV, kind: str = "visit") -> Row:
    product = None if kind == "visit" else "p1"
    return (at(days_ago), user_id, advertiser, kind, product, None)


def ping(user_id: str, days_ago: int, lat: float = 0.0, lon: float = 0.0, hour: int = 12) -> Row:
    return (at(days_ago, hour), user_id, lat, lon)


def haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """docs/segments.md's distance, written independently in Python."""
    p1, p2, l1, l2 = map(math.radians, (lat1, lat2, lon1, lon2))
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin((l2 - l1) / 2) ** 2
    return 2 * R_KM * math.asin(math.sqrt(h))


# ---- time ---------------------------------------------------------------------------------


def test_as_of_is_the_latest_utc_day_of_any_event_or_ping(tmp_path: Path) -> None:
    users(tmp_path, "u1", "u2")
    write(tmp_path, "events", [visit("u1", 5)], name="events-1.parquet")
    write(tmp_path, "events", [visit("u1", 3)], name="events-2.parquet")
    # 23:30 at UTC-5 on A is 04:30 UTC on A + 1: the UTC date counts.
    late = datetime.combine(A, time(23, 30), tzinfo=timezone(timedelta(hours=-5)))
    write(tmp_path, "pings", [(late, "u2", 0.0, 0.0)])
    assert Oracle(tmp_path).as_of == A + timedelta(days=1)


def test_as_of_counts_pings_as_well_as_events(tmp_path: Path) -> None:
    users(tmp_path, "u1")
    write(tmp_path, "events", [visit("u1", 4)])
    write(tmp_path, "pings", [ping("u1", 0, hour=23)])
    assert Oracle(tmp_path).as_of == A


def test_missing_files_are_empty(tmp_path: Path) -> None:
    users(tmp_path, "u1", "u2")
    oracle = Oracle(tmp_path)
    assert oracle.universe() == {"u1", "u2"}
    assert oracle.contact_list([("email", "a" * 64)]) == set()
    with pytest.raises(ValueError, match="as-of"):
        _ = oracle.as_of


# ---- retargeting --------------------------------------------------------------------------


def test_retargeting_window_is_inclusive_at_both_ends(tmp_path: Path) -> None:
    users(tmp_path, "d2", "d3", "d7", "d8", "anchor")
    events = [visit(u, int(u[1:])) for u in ("d2", "d3", "d7", "d8")]
    write(tmp_path, "events", [*events, visit("anchor", 0, advertiser=OTHER)])
    oracle = Oracle(tmp_path)
    assert oracle.as_of == A
    assert oracle.retargeting(ADV, "All", 3, 7) == {"d3", "d7"}
    assert oracle.retargeting(ADV, "All", 2, 2) == {"d2"}
    assert oracle.retargeting(ADV, "All", 0, 1) == set()


def test_retargeting_uses_the_most_recent_visit(tmp_path: Path) -> None:
    users(tmp_path, "moved", "stays", "other_adv", "anchor")
    events = [
        visit("moved", 10),
        visit("moved", 1),  # a later visit moves the user out of 3..7
        visit("stays", 10),
        visit("stays", 5),
        visit("other_adv", 5),
        visit("other_adv", 1, advertiser=OTHER),  # another advertiser's visit does not move it
        visit("anchor", 0, advertiser=OTHER),
    ]
    write(tmp_path, "events", events)
    oracle = Oracle(tmp_path)
    assert oracle.retargeting(ADV, "All", 3, 7) == {"stays", "other_adv"}
    assert oracle.retargeting(ADV, "All", 0, 2) == {"moved"}
    assert oracle.retargeting(ADV, "All", 8, 30) == set()


def test_retargeting_a_visit_is_an_event_of_any_kind(tmp_path: Path) -> None:
    users(tmp_path, "view", "visit", "basket", "sale", "anchor")
    events = [visit(kind, 4, kind=kind) for kind in ("view", "visit", "basket", "sale")]
    write(tmp_path, "events", [*events, visit("anchor", 0, advertiser=OTHER)])
    assert Oracle(tmp_path).retargeting(ADV, "All", 4, 4) == {"view", "visit", "basket", "sale"}


def test_retargeting_buyers_bought_between_0_and_max_days_ago(tmp_path: Path) -> None:
    users(tmp_path, "b5", "b7", "b9", "nonbuyer", "elsewhere", "anchor")
    events = [
        visit("b5", 5, kind="sale"),
        visit("b7", 7, kind="sale"),  # bought exactly M days ago: a buyer
        visit("b7", 3),
        visit("b9", 9, kind="sale"),  # bought M + 1 days ago: not a buyer
        visit("b9", 4),
        visit("nonbuyer", 6, kind="basket"),
        visit("elsewhere", 4),
        visit("elsewhere", 4, advertiser=OTHER, kind="sale"),  # bought from another advertiser
        visit("anchor", 0, advertiser=OTHER),
    ]
    write(tmp_path, "events", events)
    oracle = Oracle(tmp_path)
    everyone = {"b5", "b7", "b9", "nonbuyer", "elsewhere"}
    assert oracle.retargeting(ADV, "All", 3, 7) == everyone
    assert oracle.retargeting(ADV, "Buyers", 3, 7) == {"b5", "b7"}
    assert oracle.retargeting(ADV, "NonBuyers", 3, 7) == {"b9", "nonbuyer", "elsewhere"}
    assert oracle.retargeting(ADV, "Buyers", 3, 9) == {"b5", "b7", "b9"}


def test_retargeting_rejects_an_unknown_visitors_type(tmp_path: Path) -> None:
    users(tmp_path, "u")
    write(tmp_path, "events", [visit("u", 0)])
    with pytest.raises(ValueError, match="visitorsType"):
        Oracle(tmp_path).retargeting(ADV, "Everyone", 0, 1)


# ---- prospecting --------------------------------------------------------------------------


def prospecting_dataset(directory: Path) -> None:
    write(
        directory,
        "users",
        [
            ("old_fr", "FR", None, None),  # makes FR a country of ADV (visit 200 days ago)
            ("by_event", "FR", None, None),
            ("by_ping", "fr", None, None),  # countries are stored upper-case
            ("german", "DE", None, None),
            ("asleep", "FR", None, None),
            ("edge90", "FR", None, None),
            ("edge91", "FR", None, None),
            ("visitor", "FR", None, None),
            ("buyer", "FR", None, None),
            ("old_buyer", "FR", None, None),
        ],
    )
    events = [
        visit("old_fr", 200),
        visit("by_event", 10, advertiser=OTHER),
        visit("german", 10, advertiser=OTHER),
        visit("asleep", 120, advertiser=OTHER),
        visit("edge90", 90, advertiser=OTHER),
        visit("edge91", 91, advertiser=OTHER),
        visit("visitor", 20),
        visit("buyer", 20, kind="sale"),
        visit("old_buyer", 150, kind="sale"),
        visit("old_buyer", 30),
    ]
    write(directory, "events", events)
    write(directory, "pings", [ping("by_ping", 0), ping("german", 0)])


def test_prospects_are_active_users_of_the_advertisers_countries(tmp_path: Path) -> None:
    prospecting_dataset(tmp_path)
    oracle = Oracle(tmp_path)
    assert oracle.as_of == A
    assert oracle.prospecting(ADV, "Prospects", None, None) == {"by_event", "by_ping", "edge90"}
    assert oracle.prospecting(ADV, "Prospects", 0, 90) == {"by_event", "by_ping", "edge90"}
    assert oracle.prospecting(ADV, "Prospects", 0, 91) == {
        "by_event",
        "by_ping",
        "edge90",
        "edge91",
    }


def test_prospects_the_window_bounds(tmp_path: Path) -> None:
    prospecting_dataset(tmp_path)
    oracle = Oracle(tmp_path)
    # 15..25 days ago: "visitor" and "buyer" visited, nobody else was active.
    assert oracle.prospecting(ADV, "Prospects", 15, 25) == set()
    # 25..35 days ago: "old_buyer" visited at 30; "visitor" and "buyer" were inactive.
    assert oracle.prospecting(ADV, "Prospects", 25, 35) == set()
    # 1..100 days ago: the ping-only user (ping on day 0) is out; "old_fr" is not active.
    assert oracle.prospecting(ADV, "Prospects", 1, 100) == {"by_event", "edge90", "edge91"}
    # 100..250: "old_fr" and "old_buyer" visited ADV, "asleep" was inactive there.
    assert oracle.prospecting(ADV, "Prospects", 100, 250) == {"asleep"}


def test_prospecting_default_max_follows_the_lookback_setting(tmp_path: Path) -> None:
    prospecting_dataset(tmp_path)
    oracle = Oracle(tmp_path, prospecting_lookback_days=15)
    assert oracle.prospecting(ADV, "Prospects", None, None) == {"by_event", "by_ping"}
    assert oracle.prospecting(ADV, "Prospects", 5, None) == {"by_event"}


def test_prospects_or_non_buyers(tmp_path: Path) -> None:
    prospecting_dataset(tmp_path)
    oracle = Oracle(tmp_path)
    # Visitors of the window who did not buy in it join; "old_buyer" bought outside the window.
    assert oracle.prospecting(ADV, "ProspectsOrNonBuyers", None, None) == {
        "by_event",
        "by_ping",
        "edge90",
        "visitor",
        "old_buyer",
    }
    # With the window 0..200 "old_buyer"'s sale is inside; "old_fr" visited at 200.
    assert oracle.prospecting(ADV, "ProspectsOrNonBuyers", 0, 200) == {
        "by_event",
        "by_ping",
        "edge90",
        "edge91",
        "asleep",
        "visitor",
        "old_fr",
    }


def test_prospecting_country_of_an_advertiser_needs_a_visit(tmp_path: Path) -> None:
    write(
        tmp_path,
        "users",
        [("fr", "FR", None, None), ("de", "DE", None, None), ("it", "IT", None, None)],
    )
    # IT is active everywhere but never visited ADV; DE visited ADV once long ago.
    events = [visit("de", 300), visit("it", 1, advertiser=OTHER), visit("fr", 1, advertiser=OTHER)]
    write(tmp_path, "events", events)
    write(tmp_path, "pings", [ping("de", 0)])
    assert Oracle(tmp_path).prospecting(ADV, "Prospects", None, None) == {"de"}


# ---- in-market ----------------------------------------------------------------------------


def in_market_users(directory: Path, rows: Sequence[Row]) -> None:
    write(directory, "users", rows)


def product(pid: str, brand: int | None, interest: str | None, price_range: str = "Low") -> Row:
    return (ADV, pid, brand, interest, 10.0, price_range)


def event(user_id: str, pid: str, kind: str = "view", days_ago: int = 1, price: float = 1.0) -> Row:
    return (at(days_ago), user_id, ADV, kind, pid, price)


def test_in_market_interests_include_their_descendants(tmp_path: Path) -> None:
    # 1604 Clothing > 5322 Activewear > 5697 Bicycle Activewear > 3128 Bicycle Bibs;
    # 166 is the parent of 1604 and 167 "Clothing Accessories" is a sibling sharing the prefix.
    interests: dict[str, str | None] = {"self": "1604", "child": "5322", "grandchild": "3128"}
    interests |= {"parent": "166", "sibling": "167", "none": None}
    write(tmp_path, "products", [product(k, None, v) for k, v in interests.items()])
    in_market_users(tmp_path, [(k, "FR", None, None) for k in interests])
    write(tmp_path, "events", [event(k, k, days_ago=0) for k in interests])
    oracle = Oracle(tmp_path)
    assert oracle.in_market("FR", interest_ids=["1604"]) == {"self", "child", "grandchild"}
    assert oracle.in_market("FR", interest_ids=["3128"]) == {"grandchild"}
    assert oracle.in_market("FR", interest_ids=["167", "5322"]) == {
        "sibling",
        "child",
        "grandchild",
    }
    assert oracle.in_market("FR", interest_ids=["166"]) == set(interests) - {"none"}
    assert oracle.in_market("FR") == set(interests)


def test_in_market_brand_or_interest(tmp_path: Path) -> None:
    products = [
        product("brand_only", 7, "166"),
        product("interest_only", 8, "1604"),
        product("both", 7, "1604"),
        product("neither", 8, "166"),
        product("no_brand", None, None),
    ]
    write(tmp_path, "products", products)
    in_market_users(tmp_path, [(p[1], "FR", None, None) for p in products])
    write(tmp_path, "events", [event(str(p[1]), str(p[1]), days_ago=0) for p in products])
    oracle = Oracle(tmp_path)
    assert oracle.in_market("FR", brand_ids=[7]) == {"brand_only", "both"}
    assert oracle.in_market("FR", brand_ids=[7], interest_ids=["1604"]) == {
        "brand_only",
        "interest_only",
        "both",
    }
    assert oracle.in_market("FR", brand_ids=[9]) == set()


def test_in_market_window_kinds_and_country(tmp_path: Path) -> None:
    write(tmp_path, "products", [product("p", 7, None)])
    rows = [
        ("d0", "FR"),
        ("d89", "FR"),
        ("d90", "FR"),
        ("visit", "FR"),
        ("basket", "FR"),
        ("sale", "FR"),
        ("german", "DE"),
        ("lower", "fr"),
    ]
    in_market_users(tmp_path, [(u, c, None, None) for u, c in rows])
    events = [
        event("d0", "p", days_ago=0),
        event("d89", "p", days_ago=89),
        event("d90", "p", days_ago=90),
        (at(5), "visit", ADV, "visit", "p", None),  # a visit is not an in-market signal
        event("basket", "p", "basket"),
        event("sale", "p", "sale"),
        event("german", "p"),
        event("lower", "p"),
    ]
    write(tmp_path, "events", events)
    oracle = Oracle(tmp_path)
    assert oracle.in_market("FR", brand_ids=[7]) == {"d0", "d89", "basket", "sale", "lower"}
    assert oracle.in_market("DE", brand_ids=[7]) == {"german"}


def test_in_market_events_of_any_advertiser_join_that_advertisers_product(tmp_path: Path) -> None:
    write(
        tmp_path,
        "products",
        [(ADV, "p", 7, None, 1.0, "Low"), (OTHER, "p", 8, None, 1.0, "Low")],
    )
    in_market_users(tmp_path, [("a", "FR", None, None), ("b", "FR", None, None)])
    events = [(at(0), "a", ADV, "view", "p", None), (at(0), "b", OTHER, "view", "p", None)]
    write(tmp_path, "events", events)
    oracle = Oracle(tmp_path)
    assert oracle.in_market("FR", brand_ids=[7]) == {"a"}
    assert oracle.in_market("FR", brand_ids=[8]) == {"b"}


def test_in_market_price_range_is_the_products(tmp_path: Path) -> None:
    write(
        tmp_path,
        "products",
        [product("cheap", 7, None, "Low"), product("dear", 7, None, "High")],
    )
    in_market_users(tmp_path, [("c", "FR", None, "High"), ("d", "FR", None, "Low")])
    # The event prices and the users' buying powers point the other way: neither counts.
    events = [event("c", "cheap", price=9999.0), event("d", "dear", price=0.5)]
    write(tmp_path, "events", events)
    oracle = Oracle(tmp_path)
    assert oracle.in_market("FR", price_ranges=["Low"]) == {"c"}
    assert oracle.in_market("FR", price_ranges=["High"]) == {"d"}
    assert oracle.in_market("FR", price_ranges=["Low", "High"]) == {"c", "d"}
    assert oracle.in_market("FR", price_ranges=["Medium"]) == set()
    assert oracle.in_market("FR", brand_ids=[7], price_ranges=["High"]) == {"d"}


def test_in_market_buying_power_and_gender_filters(tmp_path: Path) -> None:
    write(tmp_path, "products", [product("p", 7, None)])
    rows = [
        ("f_high", "FR", "Female", "High"),
        ("m_low", "FR", "Male", "Low"),
        ("f_none", "FR", "Female", None),
        ("none_vh", "FR", None, "VeryHigh"),
        ("none_none", "FR", None, None),
    ]
    in_market_users(tmp_path, rows)
    write(tmp_path, "events", [event(str(r[0]), "p") for r in rows])
    oracle = Oracle(tmp_path)
    everyone = {str(r[0]) for r in rows}
    assert oracle.in_market("FR") == everyone
    assert oracle.in_market("FR", buying_powers=["High", "VeryHigh"]) == {"f_high", "none_vh"}
    assert oracle.in_market("FR", buying_powers=["Low"]) == {"m_low"}
    assert oracle.in_market("FR", gender="Female") == {"f_high", "f_none"}
    assert oracle.in_market("FR", gender="Male") == {"m_low"}
    assert oracle.in_market("FR", buying_powers=["High"], gender="Female") == {"f_high"}
    assert oracle.in_market("FR", buying_powers=["Medium"], gender="Female") == set()


# ---- location -----------------------------------------------------------------------------


def test_location_includes_a_ping_exactly_at_the_radius(tmp_path: Path) -> None:
    poi = (48.85661, 2.35222)
    near = (48.9, 2.4)
    radius = haversine(*poi, *near)
    assert 5 < radius < 7
    users(tmp_path, "at_radius", "far")
    write(tmp_path, "pings", [ping("at_radius", 0, *near), ping("far", 0, 49.0, 2.5)])
    oracle = Oracle(tmp_path)
    assert oracle.location([poi], radius) == {"at_radius"}
    assert oracle.location([poi], math.nextafter(radius, 0.0)) == set()
    assert oracle.location([poi], 100.0) == {"at_radius", "far"}


def test_location_on_the_equator_one_degree_is_r_times_pi_over_180(tmp_path: Path) -> None:
    users(tmp_path, "east", "west")
    write(tmp_path, "pings", [ping("east", 0, 0.0, 1.0), ping("west", 0, 0.0, -1.0)])
    one_degree = R_KM * math.pi / 180  # 111.19508... km
    oracle = Oracle(tmp_path)
    assert oracle.location([(0.0, 0.0)], one_degree + 1e-9) == {"east", "west"}
    assert oracle.location([(0.0, 0.0)], one_degree - 1e-9) == set()
    assert oracle.location([(0.0, 2.0)], one_degree + 1e-9) == {"east"}


def test_location_window_and_several_points(tmp_path: Path) -> None:
    users(tmp_path, "d0", "d29", "d30", "paris", "lyon", "anchor")
    pings = [
        ping("d0", 0, 10.0, 10.0),
        ping("d29", 29, 10.0, 10.0, hour=0),
        ping("d30", 30, 10.0, 10.0, hour=23),
        ping("paris", 3, 48.8566, 2.3522),
        ping("lyon", 3, 45.764, 4.8357),
        ping("anchor", 0, -40.0, -40.0, hour=23),
    ]
    write(tmp_path, "pings", pings)
    oracle = Oracle(tmp_path)
    points = [(10.0, 10.0), (48.8566, 2.3522), (45.764, 4.8357)]
    assert oracle.location(points, 1.0) == {"d0", "d29", "paris", "lyon"}
    assert oracle.location(points[1:], 1.0) == {"paris", "lyon"}
    assert oracle.location(points[:1], 1.0) == {"d0", "d29"}
    assert Oracle(tmp_path, location_lookback_days=31).location(points[:1], 1.0) == {
        "d0",
        "d29",
        "d30",
    }
    assert Oracle(tmp_path, location_lookback_days=1).location(points[:1], 1.0) == {"d0"}


def test_location_points_are_rounded_to_5_decimals(tmp_path: Path) -> None:
    # Along a meridian 1e-5 degrees is about 1.1 m: the ping sits at the rounded point.
    users(tmp_path, "u")
    write(tmp_path, "pings", [ping("u", 0, 45.12346, 7.0)])
    oracle = Oracle(tmp_path)
    assert oracle.location([(45.123456, 7.0)], 1e-9) == {"u"}
    assert oracle.location([(45.123446, 7.0)], 1e-9) == set()


# ---- behavioral, contact list, universe ---------------------------------------------------


def test_behavioral_is_valid_from_start_to_end_inclusive(tmp_path: Path) -> None:
    day = timedelta(days=1)
    users(tmp_path, "starts", "ends", "future", "past", "other_cat", "de", "anchor")
    write(
        tmp_path,
        "behavioral",
        [
            ("starts", "Lifestyles", "FR", A, A + 10 * day),
            ("ends", "Lifestyles", "FR", A - 10 * day, A),
            ("future", "Lifestyles", "FR", A + day, A + 10 * day),
            ("past", "Lifestyles", "FR", A - 10 * day, A - day),
            ("other_cat", "Seasonal", "FR", A - day, A + day),
            ("de", "Lifestyles", "DE", A - day, A + day),
        ],
    )
    write(tmp_path, "pings", [ping("anchor", 0)])
    oracle = Oracle(tmp_path)
    assert oracle.behavioral("Lifestyles", None) == {"starts", "ends", "de"}
    assert oracle.behavioral("Lifestyles", "FR") == {"starts", "ends"}
    assert oracle.behavioral("Lifestyles", "DE") == {"de"}
    assert oracle.behavioral("Seasonal", None) == {"other_cat"}
    assert oracle.behavioral("LifeEvents", None) == set()


def test_contact_list_matches_type_and_digest(tmp_path: Path) -> None:
    users(tmp_path, "mail", "phone", "madid", "link", "nobody")
    sha_a, sha_b = "a" * 64, "b" * 64
    uuid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    write(
        tmp_path,
        "identities",
        [
            ("mail", "email", sha_a),
            ("phone", "phoneNumber", sha_b),
            ("madid", "madid", uuid),
            ("link", "identityLink", "Abc-123"),
        ],
    )
    oracle = Oracle(tmp_path)
    assert oracle.contact_list([("email", sha_a)]) == {"mail"}
    assert oracle.contact_list([("email", sha_b)]) == set()  # the type must match too
    assert oracle.contact_list([("phoneNumber", sha_b.upper()), ("madid", uuid.upper())]) == {
        "phone",
        "madid",
    }
    assert oracle.contact_list([("identityLink", "Abc-123")]) == {"link"}
    assert oracle.contact_list([("identityLink", "abc-123")]) == set()
    assert oracle.contact_list([]) == set()


def test_universe_is_every_user(tmp_path: Path) -> None:
    users(tmp_path, "a", "b", "c")
    write(tmp_path, "events", [visit("a", 0)])
    assert Oracle(tmp_path).universe() == {"a", "b", "c"}
