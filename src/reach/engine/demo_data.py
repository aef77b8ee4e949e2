"""Deterministic, realistic demo data in the input format of docs/data-model.md."""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

Progress = Callable[[str, int, int], None]
Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]

# The brand catalogue of the demo server (``reach demo``): brand ids 1, 2, ... in this order.
BRANDS = [
    "Adidas",
    "Apple",
    "Asics",
    "Bosch",
    "Canon",
    "Columbia",
    "Dell",
    "Dyson",
    "Garmin",
    "HP",
    "Lenovo",
    "LG",
    "Logitech",
    "New Balance",
    "Nike",
    "Nikon",
    "Patagonia",
    "Philips",
    "Puma",
    "Reebok",
    "Salomon",
    "Samsung",
    "Sony",
    "The North Face",
    "Under Armour",
]
FIRST_ADVERTISER_ID = 1001


@dataclass(frozen=True, slots=True)
class City:
    name: str
    country: str
    latitude: float
    longitude: float
    utc_offset_hours: float
    weight: float  # share of the demo audience living there (not the population)


CITIES = (
    City("Paris", "FR", 48.8566, 2.3522, 1, 10.0),
    City("Lyon", "FR", 45.7640, 4.8357, 1, 2.5),
    City("Marseille", "FR", 43.2965, 5.3698, 1, 2.0),
    City("Toulouse", "FR", 43.6047, 1.4442, 1, 1.5),
    City("Lille", "FR", 50.6292, 3.0573, 1, 1.5),
    City("Bordeaux", "FR", 44.8378, -0.5792, 1, 1.3),
    City("Nantes", "FR", 47.2184, -1.5536, 1, 1.1),
    City("Berlin", "DE", 52.5200, 13.4050, 1, 3.5),
    City("Hamburg", "DE", 53.5511, 9.9937, 1, 2.0),
    City("Munich", "DE", 48.1351, 11.5820, 1, 2.2),
    City("Cologne", "DE", 50.9375, 6.9603, 1, 1.6),
    City("Frankfurt", "DE", 50.1109, 8.6821, 1, 1.6),
    City("London", "GB", 51.5074, -0.1278, 0, 7.0),
    City("Manchester", "GB", 53.4808, -2.2426, 0, 1.8),
    City("Birmingham", "GB", 52.4862, -1.8904, 0, 1.6),
    City("Glasgow", "GB", 55.8642, -4.2518, 0, 1.0),
    City("Madrid", "ES", 40.4168, -3.7038, 1, 3.5),
    City("Barcelona", "ES", 41.3874, 2.1686, 1, 3.0),
    City("Valencia", "ES", 39.4699, -0.3763, 1, 1.0),
    City("Rome", "IT", 41.9028, 12.4964, 1, 2.8),
    City("Milan", "IT", 45.4642, 9.1900, 1, 3.0),
    City("Naples", "IT", 40.8518, 14.2681, 1, 1.5),
    City("Amsterdam", "NL", 52.3676, 4.9041, 1, 1.8),
    City("Rotterdam", "NL", 51.9244, 4.4777, 1, 1.0),
    City("Brussels", "BE", 50.8503, 4.3517, 1, 1.5),
    City("Zurich", "CH", 47.3769, 8.5417, 1, 1.0),
    City("Stockholm", "SE", 59.3293, 18.0686, 1, 1.2),
    City("Warsaw", "PL", 52.2297, 21.0122, 1, 1.5),
    City("Lisbon", "PT", 38.7223, -9.1393, 0, 1.2),
    City("New York", "US", 40.7128, -74.0060, -5, 5.0),
    City("Los Angeles", "US", 34.0522, -118.2437, -8, 3.5),
    City("Chicago", "US", 41.8781, -87.6298, -6, 2.2),
    City("San Francisco", "US", 37.7749, -122.4194, -8, 1.6),
    City("Miami", "US", 25.7617, -80.1918, -5, 1.4),
    City("Toronto", "CA", 43.6532, -79.3832, -5, 1.4),
    City("Montreal", "CA", 45.5017, -73.5673, -5, 1.0),
    City("São Paulo", "BR", -23.5505, -46.6333, -3, 2.2),
    City("Rio de Janeiro", "BR", -22.9068, -43.1729, -3, 1.2),
    City("Mexico City", "MX", 19.4326, -99.1332, -6, 1.5),
    City("Tokyo", "JP", 35.6762, 139.6503, 9, 3.0),
    City("Osaka", "JP", 34.6937, 135.5023, 9, 1.2),
    City("Seoul", "KR", 37.5665, 126.9780, 9, 1.5),
    City("Sydney", "AU", -33.8688, 151.2093, 10, 1.1),
    City("Melbourne", "AU", -37.8136, 144.9631, 10, 1.0),
    City("Mumbai", "IN", 19.0760, 72.8777, 5.5, 1.2),
    City("Singapore", "SG", 1.3521, 103.8198, 8, 0.8),
    City("Dubai", "AE", 25.2048, 55.2708, 4, 0.6),
)

# E.164 calling code and the leading digits of a mobile number, per country; eight more digits
# follow (unique per user).
PHONE_PLANS = {
    "FR": ("33", "6"),
    "DE": ("49", "15"),
    "GB": ("44", "7"),
    "ES": ("34", "6"),
    "IT": ("39", "3"),
    "NL": ("31", "6"),
    "BE": ("32", "4"),
    "CH": ("41", "7"),
    "SE": ("46", "7"),
    "PL": ("48", "5"),
    "PT": ("351", "9"),
    "US": ("1", "21"),
    "CA": ("1", "41"),
    "BR": ("55", "119"),
    "MX": ("52", "55"),
    "JP": ("81", "90"),
    "KR": ("82", "10"),
    "AU": ("61", "4"),
    "IN": ("91", "9"),
    "SG": ("65", ""),
    "AE": ("971", "5"),
}


@dataclass(frozen=True, slots=True)
class Taste:
    """A hidden group of users who prefer the same interests and brands."""

    name: str
    interests: tuple[str, ...]  # taxonomy paths; products get leaves below them
    brands: tuple[str, ...]  # names from BRANDS; synthetic brands are dealt out on top
    median_price: float
    share: float  # share of users


TASTES = (
    Taste(
        "Runners",
        (
            "Apparel & Accessories > Shoes",
            "Apparel & Accessories > Clothing > Activewear",
            "Sporting Goods > Athletics > Track & Field",
            "Sporting Goods > Exercise & Fitness",
        ),
        ("Nike", "Adidas", "Asics", "New Balance", "Puma", "Reebok", "Under Armour", "Garmin"),
        80.0,
        0.15,
    ),
    Taste(
        "Outdoor",
        (
            "Sporting Goods > Outdoor Recreation > Camping & Hiking",
            "Sporting Goods > Outdoor Recreation > Climbing",
            "Sporting Goods > Outdoor Recreation > Cycling",
            "Sporting Goods > Outdoor Recreation > Winter Sports & Activities",
            "Apparel & Accessories > Clothing > Outerwear",
            "Luggage & Bags > Backpacks",
        ),
        ("The North Face", "Patagonia", "Columbia", "Salomon", "Garmin"),
        110.0,
        0.12,
    ),
    Taste(
        "Computing",
        (
            "Electronics > Computers",
            "Electronics > Electronics Accessories > Computer Accessories",
            "Electronics > Electronics Accessories > Computer Components",
            "Electronics > Networking",
            "Electronics > Print, Copy, Scan & Fax",
        ),
        ("Apple", "Dell", "HP", "Lenovo", "Logitech", "Samsung"),
        250.0,
        0.13,
    ),
    Taste(
        "Image and sound",
        ("Cameras & Optics", "Electronics > Audio", "Electronics > Video"),
        ("Sony", "Canon", "Nikon", "Samsung", "LG", "Philips"),
        220.0,
        0.11,
    ),
    Taste(
        "Home",
        (
            "Home & Garden > Household Appliances",
            "Home & Garden > Kitchen & Dining",
            "Home & Garden > Lighting",
            "Home & Garden > Decor",
        ),
        ("Dyson", "Bosch", "Philips", "LG", "Samsung"),
        70.0,
        0.14,
    ),
    Taste(
        "Fashion",
        (
            "Apparel & Accessories > Clothing",
            "Apparel & Accessories > Clothing Accessories",
            "Apparel & Accessories > Handbags, Wallets & Cases",
            "Apparel & Accessories > Jewelry",
        ),
        ("Adidas", "Nike", "Puma", "Columbia", "Under Armour"),
        45.0,
        0.16,
    ),
    Taste(
        "Health and beauty",
        ("Health & Beauty > Personal Care", "Health & Beauty > Health Care"),
        ("Philips", "Dyson"),
        25.0,
        0.10,
    ),
    Taste(
        "Family",
        ("Toys & Games", "Baby & Toddler", "Furniture > Baby & Toddler Furniture"),
        (),
        30.0,
        0.09,
    ),
)
# The taste each advertiser mostly sells to, in advertiser order (1001 sportswear, 1002
# electronics, 1003 outdoor, ...), so that the advertisers of ``reach demo`` look the part.
LEAD_TASTES = (0, 2, 1, 4, 5, 3, 6, 7)

KINDS = ("view", "visit", "basket", "sale")
VIEW, VISIT, BASKET, SALE = range(4)
GENDERS = ("Male", "Female")
BUYING_POWERS = ("Low", "Medium", "High", "VeryHigh")
PRICE_RANGES = ("Low", "Medium", "High")
PRICE_RANGE_BOUNDS = (30.0, 150.0)  # Low below the first, Medium below the second
IDENTIFIER_TYPES = ("email", "phoneNumber", "madid")
BEHAVIORAL_CATEGORIES = ("Lifestyles", "LifeEvents", "Seasonal", "BuyingPatterns")

BRANDS_PER_ADVERTISER = 10  # synthetic brands added to the demo's 25
EVENTS_PER_USER = 20  # the average the activity model below is tuned to
EVENTS_PER_FILE = 8_000_000
# Sessions per user: 1 + floor(scale * Lomax(shape)), a power law with a few very heavy users.
SESSION_SHAPE, SESSION_SCALE = 1.6, 3.45
PINGS_SHAPE, PINGS_SCALE = 1.6, 5.0
P_SESSION_VISIT = 0.55  # a session starts on a page without a product
P_NEXT_VIEW = 0.7  # geometric number of product views
P_BASKET, P_SALE = 0.05, 0.3  # per session with a view; per basket
P_FAVOURITE_ADVERTISER = 0.5
P_TASTE_VIEW = 0.75  # a view is of a product of the user's taste (else of any product)
BUYING_POWER_FACTOR = (0.7, 1.0, 1.3, 1.6, 1.0)  # Low .. VeryHigh, unknown
SESSION_GAP_SECONDS = 45.0
P_EMAIL, P_PHONE, P_MADID, P_SECOND_MADID, P_PINGS = 0.6, 0.3, 0.45, 0.15, 0.8
P_BEHAVIORAL, P_SECOND_BEHAVIORAL = 0.3, 0.3
HOME_SPREAD_KM, CITY_SPREAD_KM, TRAVEL_SPREAD_KM, AT_HOME_KM = 3.0, 5.0, 3.0, 0.3
P_PING_HOME, P_PING_TRAVEL = 0.55, 0.04
KM_PER_DEGREE = 111.32
# Weekday weights (Monday first) and local-hour weights of shopping and of pings.
WEEKDAYS = (0.95, 0.95, 0.97, 1.0, 1.05, 1.12, 1.1)
SHOPPING_HOURS = (
    *(1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.2, 3.0, 3.4, 3.6, 3.8),
    *(4.2, 4.0, 3.8, 3.8, 4.0, 4.4, 5.0, 5.8, 6.4, 6.2, 4.6, 2.4),
)
PING_HOURS = (
    *(0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 2.0, 3.6, 4.4, 3.8, 3.4, 3.6),
    *(4.2, 3.8, 3.4, 3.6, 4.2, 5.0, 5.2, 4.6, 3.8, 3.0, 2.0, 1.2),
)
SECONDS_PER_DAY = 86_400
EPOCH = date(1970, 1, 1)

# Independent random streams, so that one part of the data does not shift another.
CATALOGUE, USERS, IDENTITIES, BEHAVIORAL, SESSION_SPLIT, PING_SPLIT, EVENTS, PINGS = range(8)


@dataclass(frozen=True)
class DemoSummary:
    """What ``generate`` wrote: rows per file, by path relative to ``out``."""

    out: Path
    rows: dict[str, int]

    @property
    def events(self) -> int:
        return sum(n for name, n in self.rows.items() if name.startswith("events-"))

    @property
    def pings(self) -> int:
        return sum(n for name, n in self.rows.items() if name.startswith("pings-"))


def generate(
    out: Path,
    *,
    users: int,
    days: int,
    advertisers: int,
    seed: int,
    end_date: date,
    interests: Sequence[tuple[str, str]],
    progress: Progress | None = None,
) -> DemoSummary:
    """Write the demo data set into ``out``; the same arguments always give the same bytes.

    ``interests`` are the leaves of the product taxonomy, as (id, path) pairs.

    Users ``u00000001``, ... may have the e-mail ``user1@example.com``, ... (hashed), so a
    contact list can be built that matches them. Earlier ``events-*``/``pings-*`` files in
    ``out`` are removed so that a smaller run does not leave chunks of a larger one behind.
    """
    if users < 1 or days < 1 or advertisers < 1:
        raise ValueError("users, days and advertisers must be positive")
    if seed < 0:
        raise ValueError("seed must not be negative")
    report = progress or _silent
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob("events-*.parquet"), *out.glob("pings-*.parquet")]:
        stale.unlink()
    rows: dict[str, int] = {}

    def write(name: str, table: pa.Table) -> None:
        _write(out / name, table)
        rows[name] = table.num_rows

    catalogue = _catalogue(_rng(seed, CATALOGUE), users, advertisers, interests)
    write("brands.parquet", catalogue.brands_table())
    write("products.parquet", catalogue.products_table())
    report("catalogue", 1, 1)
    people = _population(_rng(seed, USERS), users, days, catalogue)
    write("users.parquet", people.users_table())
    write("truth/taste_groups.parquet", people.truth_table())
    report("users", 1, 1)
    write("identities.parquet", _identities(_rng(seed, IDENTITIES), people))
    report("identities", 1, 1)
    write("behavioral.parquet", _behavioral(_rng(seed, BEHAVIORAL), people, days, end_date))
    report("behavioral", 1, 1)

    period = _Period.ending(end_date, days)
    chunks = list(_chunks(users, days))
    sessions = _Splitter(_rng(seed, SESSION_SPLIT), people.sessions, period.weights)
    pings = _Splitter(_rng(seed, PING_SPLIT), people.pings, period.weights)
    for number, chunk in enumerate(chunks):
        rng = _rng(seed, EVENTS, number)
        counts = sessions.counts(chunk.first_day, chunk.end_day)[chunk.first_user : chunk.end_user]
        write(
            f"events-{number:05d}.parquet", _events(rng, chunk, counts, people, catalogue, period)
        )
        report("events", number + 1, len(chunks))
        rng = _rng(seed, PINGS, number)
        counts = pings.counts(chunk.first_day, chunk.end_day)[chunk.first_user : chunk.end_user]
        write(f"pings-{number:05d}.parquet", _pings(rng, chunk, counts, people, period))
        report("pings", number + 1, len(chunks))
    return DemoSummary(out, rows)


def _silent(stage: str, done: int, total: int) -> None:
    del stage, done, total


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *stream])))


def _write(path: Path, table: pa.Table) -> None:
    """Write next to the target and rename, so a killed run leaves no half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    pq.write_table(table, partial, compression="zstd")
    os.replace(partial, path)


def _zipf(n: int, exponent: float, rng: np.random.Generator) -> Floats:
    """Weights 1/rank^exponent over ``n`` items, ranks dealt out at random."""
    return np.arange(1, n + 1, dtype=np.float64)[rng.permutation(n)] ** -exponent


def _choice(rng: np.random.Generator, weights: Sequence[float] | Floats, size: int) -> Ints:
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=size, p=p / p.sum()).astype(np.int64)


@dataclass(frozen=True)
class _Pools:
    """Many weighted categorical distributions, sampled together in one vectorised call."""

    members: Ints
    keys: Floats  # pool number + cumulative share within the pool: increasing
    starts: Ints
    ends: Ints

    @classmethod
    def build(cls, pool: Ints, members: Ints, weights: Floats, n_pools: int) -> _Pools:
        order = np.argsort(pool, kind="stable")
        pool, members, weights = pool[order], members[order], weights[order]
        counts = np.bincount(pool, minlength=n_pools)
        ends = np.cumsum(counts)
        totals = np.bincount(pool, weights=weights, minlength=n_pools)
        before = np.repeat(np.cumsum(totals) - totals, counts)
        within = (np.cumsum(weights) - before) / totals[pool]
        return cls(members, pool + within, ends - counts, ends)

    def empty(self) -> Bools:
        return np.equal(self.starts, self.ends, dtype=np.bool_)

    def sample(self, rng: np.random.Generator, pools: Ints) -> Ints:
        """One member of each given pool (which must not be empty)."""
        wanted = pools + rng.random(len(pools))
        found = np.searchsorted(self.keys, wanted, side="right")
        # Rounding can push a draw just past its pool's last key.
        found = np.clip(found, self.starts[pools], self.ends[pools] - 1)
        return self.members[found]


@dataclass(frozen=True)
class _Catalogue:
    brand_names: list[str]
    interest_ids: list[str]
    product_advertiser: Ints  # 0-based advertiser index
    product_number: Ints  # the n of "p{n}", 1-based within the advertiser
    product_brand: Ints  # 0-based brand index, -1 for none
    product_interest: Ints  # index into interest_ids, -1 for none
    product_price: Floats
    product_ids: pa.Array
    views: _Pools  # products by (advertiser, taste) and by advertiser, weighted by popularity
    advertisers: _Pools  # advertisers by taste, weighted by popularity and assortment

    def view_pool(self, advertiser: Ints, taste: Ints | int) -> Ints:
        return advertiser * (len(TASTES) + 1) + taste

    def brands_table(self) -> pa.Table:
        return pa.table(
            {
                "brand_id": pa.array(np.arange(1, len(self.brand_names) + 1), pa.int64()),
                "name": pa.array(self.brand_names, pa.string()),
            }
        )

    def products_table(self) -> pa.Table:
        price_range = np.digitize(self.product_price, PRICE_RANGE_BOUNDS)
        return pa.table(
            {
                "advertiser_id": pa.array(
                    self.product_advertiser + FIRST_ADVERTISER_ID, pa.int64()
                ),
                "product_id": self.product_ids,
                "brand_id": _nullable(self.product_brand + 1, self.product_brand < 0),
                "interest_id": _labels(self.interest_ids, self.product_interest),
                "price": pa.array(self.product_price, pa.float64()),
                "price_range": _labels(PRICE_RANGES, price_range),
            }
        )


def _brand_pools(rng: np.random.Generator, names: Sequence[str]) -> _Pools:
    """Brands by taste, weighted by a Zipf popularity in which the demo's 25 brands lead."""
    known = len(BRANDS)
    rank = np.concatenate([rng.permutation(known), known + rng.permutation(len(names) - known)])
    popularity = (rank + 1.0) ** -1.1
    pairs = [(t, BRANDS.index(name)) for t, taste in enumerate(TASTES) for name in taste.brands]
    for number in range(known, len(names)):
        pairs.append(((number - known) % len(TASTES), number))
        if rng.random() < 0.25:
            pairs.append((int(rng.integers(len(TASTES))), number))
    tastes = np.array([t for t, _ in pairs], dtype=np.int64)
    brands = np.array([b for _, b in pairs], dtype=np.int64)
    return _Pools.build(tastes, brands, popularity[brands], len(TASTES))


def _interest_pools(
    rng: np.random.Generator, leaves: Sequence[tuple[str, str]]
) -> tuple[list[str], _Pools]:
    """Taxonomy leaves by taste: a taste's paths share equally, their leaves Zipf-wise."""
    ids: list[str] = []
    position: dict[str, int] = {}
    rows: list[tuple[int, int, float]] = []
    for taste_number, taste in enumerate(TASTES):
        for path in taste.interests:
            below = [i for i, p in leaves if p == path or p.startswith(path + " > ")]
            if not below:
                raise LookupError(f"no taxonomy leaf below {path!r}")
            weights = _zipf(len(below), 0.8, rng)
            for interest_id, weight in zip(below, weights / weights.sum(), strict=True):
                if interest_id not in position:
                    position[interest_id] = len(ids)
                    ids.append(interest_id)
                rows.append((taste_number, position[interest_id], float(weight)))
    pools = _Pools.build(
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.int64),
        np.array([r[2] for r in rows], dtype=np.float64),
        len(TASTES),
    )
    return ids, pools


def _catalogue(
    rng: np.random.Generator, users: int, advertisers: int, leaves: Sequence[tuple[str, str]]
) -> _Catalogue:
    n_tastes = len(TASTES)
    synthetic = range(len(BRANDS) + 1, len(BRANDS) + 1 + BRANDS_PER_ADVERTISER * advertisers)
    names = [*BRANDS, *(f"Brand {n}" for n in synthetic)]
    brand_pools = _brand_pools(rng, names)
    interest_ids, interest_pools = _interest_pools(rng, leaves)
    # Products: each advertiser sells mostly to a lead taste, a little to the others.
    base = min(max(users // 20, 50), 5000)
    sizes = np.maximum(1, np.rint(base * rng.uniform(0.6, 1.4, advertisers))).astype(np.int64)
    assortment = np.empty((advertisers, n_tastes))
    for advertiser in range(advertisers):
        alpha = np.full(n_tastes, 0.3)
        alpha[LEAD_TASTES[advertiser % n_tastes]] += 3.0
        assortment[advertiser] = rng.dirichlet(alpha)
    product_advertiser = np.repeat(np.arange(advertisers, dtype=np.int64), sizes)
    n_products = len(product_advertiser)
    first = np.cumsum(sizes) - sizes
    product_number = np.arange(n_products, dtype=np.int64) - first[product_advertiser] + 1
    product_taste = np.concatenate(
        [_choice(rng, assortment[a], int(sizes[a])) for a in range(advertisers)]
    )
    product_brand = brand_pools.sample(rng, product_taste)
    product_brand[rng.random(n_products) < 0.04] = -1
    product_interest = interest_pools.sample(rng, product_taste)
    product_interest[rng.random(n_products) < 0.02] = -1
    medians = np.array([t.median_price for t in TASTES])[product_taste]
    price = np.round(np.maximum(0.99, rng.lognormal(np.log(medians), 0.75)), 2)
    product_popularity = np.concatenate([_zipf(int(size), 1.0, rng) for size in sizes])
    slots = n_tastes + 1
    views = _Pools.build(
        np.concatenate(
            [product_advertiser * slots + product_taste, product_advertiser * slots + n_tastes]
        ),
        np.tile(np.arange(n_products, dtype=np.int64), 2),
        np.tile(product_popularity, 2),
        advertisers * slots,
    )
    # Where each taste shops: popular advertisers, and those that sell what it likes.
    traffic = np.arange(1, advertisers + 1, dtype=np.float64) ** -0.7
    advertiser_weight = traffic[:, None] * (0.05 + assortment)
    advertiser_pools = _Pools.build(
        np.tile(np.arange(n_tastes, dtype=np.int64), advertisers),
        np.repeat(np.arange(advertisers, dtype=np.int64), n_tastes),
        advertiser_weight.ravel(),
        n_tastes,
    )
    return _Catalogue(
        brand_names=names,
        interest_ids=interest_ids,
        product_advertiser=product_advertiser,
        product_number=product_number,
        product_brand=product_brand,
        product_interest=product_interest,
        product_price=price,
        product_ids=_numbered("p", product_number),
        views=views,
        advertisers=advertiser_pools,
    )


@dataclass(frozen=True)
class _Population:
    ids: pa.Array
    city: Ints
    taste: Ints
    gender: NDArray[np.int8]  # index into GENDERS, -1 for unknown
    buying_power: NDArray[np.int8]  # index into BUYING_POWERS, -1 for unknown
    favourite: Ints  # the advertiser most of a user's sessions go to
    sessions: Ints  # over the whole period
    devices: NDArray[np.int8]  # mobile advertising ids
    pings: Ints
    home_east_km: NDArray[np.float32]  # where the user lives, relative to the city centre
    home_north_km: NDArray[np.float32]

    @property
    def size(self) -> int:
        return len(self.city)

    def countries(self) -> pa.Array:
        return _labels([c.country for c in CITIES], self.city)

    def users_table(self) -> pa.Table:
        return pa.table(
            {
                "user_id": self.ids,
                "country": self.countries(),
                "gender": _labels(GENDERS, self.gender),
                "buying_power": _labels(BUYING_POWERS, self.buying_power),
            }
        )

    def truth_table(self) -> pa.Table:
        return pa.table({"user_id": self.ids, "taste_group": pa.array(self.taste, pa.int64())})


def _population(
    rng: np.random.Generator, users: int, days: int, catalogue: _Catalogue
) -> _Population:
    taste = _choice(rng, [t.share for t in TASTES], users)
    sessions = 1 + np.floor(SESSION_SCALE * rng.pareto(SESSION_SHAPE, users)).astype(np.int64)
    devices = (rng.random(users) < P_MADID).astype(np.int8)
    devices += devices & (rng.random(users) < P_SECOND_MADID)
    # Location pings come from the mobile apps of users with a device id.
    located = (devices > 0) & (rng.random(users) < P_PINGS)
    pings = np.where(located, 1 + np.floor(PINGS_SCALE * rng.pareto(PINGS_SHAPE, users)), 0)
    home = np.clip(rng.normal(0.0, HOME_SPREAD_KM, (2, users)), -15.0, 15.0).astype(np.float32)
    return _Population(
        ids=_numbered("u", np.arange(1, users + 1, dtype=np.int64), digits=8),
        city=_choice(rng, [c.weight for c in CITIES], users),
        taste=taste,
        gender=_with_unknown(_choice(rng, (0.46, 0.46, 0.08), users), len(GENDERS)),
        buying_power=_with_unknown(
            _choice(rng, (0.3, 0.35, 0.2, 0.07, 0.08), users), len(BUYING_POWERS)
        ),
        favourite=catalogue.advertisers.sample(rng, taste),
        sessions=np.minimum(sessions, 10 * days),
        devices=devices,
        pings=np.minimum(pings.astype(np.int64), 20 * days),
        home_east_km=home[0],
        home_north_km=home[1],
    )


def _with_unknown(codes: Ints, unknown: int) -> NDArray[np.int8]:
    return np.where(codes == unknown, -1, codes).astype(np.int8)


def _identities(rng: np.random.Generator, people: _Population) -> pa.Table:
    """Hashed e-mails and phone numbers (normalised, then SHA-256) and device ids."""
    n = people.size
    email = np.flatnonzero(rng.random(n) < P_EMAIL)
    phone = np.flatnonzero(rng.random(n) < P_PHONE)
    first_device = np.flatnonzero(people.devices > 0)
    device = np.sort(np.concatenate([first_device, np.flatnonzero(people.devices > 1)]))
    emails = b"".join(
        hashlib.sha256(b"user%d@example.com" % (i + 1)).digest() for i in email.tolist()
    )
    prefixes = [f"+{''.join(PHONE_PLANS[c.country])}" for c in CITIES]
    # A bijection of 0 .. 10^8 - 1, so that numbers look random but never collide.
    local = ((phone + 1) * 7919 + int(rng.integers(10**8))) % 10**8
    phones = b"".join(
        hashlib.sha256(f"{prefixes[city]}{number:08d}".encode()).digest()
        for city, number in zip(people.city[phone].tolist(), local.tolist(), strict=True)
    )
    user = np.concatenate([email, phone, device])
    kind = np.repeat(np.arange(3, dtype=np.int64), [len(email), len(phone), len(device)])
    digest = pa.concat_arrays(
        [_hex(_bytes(emails, 32)), _hex(_bytes(phones, 32)), _uuids(rng, len(device))]
    )
    order = np.argsort(user, kind="stable")
    return pa.table(
        {
            "user_id": people.ids.take(pa.array(user[order])),
            "identifier_type": _labels(IDENTIFIER_TYPES, kind[order]),
            "digest": digest.take(pa.array(order)),
        }
    )


def _behavioral(
    rng: np.random.Generator, people: _Population, days: int, end_date: date
) -> pa.Table:
    """Memberships of a share of users, some over before the period ends, most still running."""
    members = np.flatnonzero(rng.random(people.size) < P_BEHAVIORAL)
    category = _choice(rng, (0.35, 0.2, 0.25, 0.2), len(members))
    again = rng.random(len(members)) < P_SECOND_BEHAVIORAL
    other = (category[again] + rng.integers(1, 4, int(again.sum()))) % 4
    user = np.concatenate([members, members[again]])
    category = np.concatenate([category, other])
    order = np.argsort(user, kind="stable")
    user, category = user[order], category[order]
    last = (end_date - EPOCH).days
    start = last - rng.integers(0, days + 120, len(user))
    end = start + rng.integers(7, 181, len(user))
    return pa.table(
        {
            "user_id": people.ids.take(pa.array(user)),
            "category": _labels(BEHAVIORAL_CATEGORIES, category),
            "country": _labels([c.country for c in CITIES], people.city[user]),
            "start_date": pa.array(start.astype(np.int32), pa.date32()),
            "end_date": pa.array(end.astype(np.int32), pa.date32()),
        }
    )


@dataclass(frozen=True)
class _Period:
    """The ``days`` UTC days ending at ``end_date``; day 0 is the first."""

    first_epoch_day: int
    weights: Floats  # relative activity of each day

    @classmethod
    def ending(cls, end_date: date, days: int) -> _Period:
        first = (end_date - timedelta(days=days - 1) - EPOCH).days
        weekday = (np.arange(first, first + days) + 3) % 7  # 1970-01-01 was a Thursday
        return cls(first, np.array(WEEKDAYS)[weekday])


@dataclass(frozen=True)
class _Chunk:
    """One events file and one pings file: a range of days, for a range of users."""

    first_day: int
    end_day: int
    first_user: int
    end_user: int


def _chunks(users: int, days: int) -> Iterator[_Chunk]:
    per_day = EVENTS_PER_USER * users / days
    span = max(1, min(days, int(EVENTS_PER_FILE // per_day)))
    blocks = max(1, math.ceil(per_day * span / EVENTS_PER_FILE))
    block = math.ceil(users / blocks)
    for day in range(0, days, span):
        for user in range(0, users, block):
            yield _Chunk(day, min(days, day + span), user, min(users, user + block))


class _Splitter:
    """Deals each user's total over consecutive day ranges (a multinomial, range by range)."""

    def __init__(self, rng: np.random.Generator, totals: Ints, weights: Floats) -> None:
        self._rng = rng
        self._left = totals.copy()
        self._weights = weights
        self._range = (0, 0)
        self._counts = np.zeros_like(totals)

    def counts(self, first_day: int, end_day: int) -> Ints:
        if (first_day, end_day) != self._range:
            if first_day != self._range[1]:
                raise ValueError("day ranges must be asked for in order")
            if end_day == len(self._weights):
                self._counts = self._left
            else:
                share = self._weights[first_day:end_day].sum() / self._weights[first_day:].sum()
                self._counts = self._rng.binomial(self._left, share)
            self._left = self._left - self._counts
            self._range = (first_day, end_day)
        return self._counts


def _moments(
    rng: np.random.Generator,
    users: Ints,
    people: _Population,
    period: _Period,
    chunk: _Chunk,
    hours: Sequence[float],
) -> Ints:
    """Epoch seconds: a day of the chunk, at a local hour of the given profile."""
    n = len(users)
    day = chunk.first_day + _choice(rng, period.weights[chunk.first_day : chunk.end_day], n)
    local = _choice(rng, hours, n) * 3600 + rng.integers(0, 3600, n)
    offsets = np.rint(np.array([c.utc_offset_hours for c in CITIES]) * 3600).astype(np.int64)
    # The local hour is moved to UTC within the same UTC day, so no moment leaves the period.
    second = (local - offsets[people.city[users]]) % SECONDS_PER_DAY
    moments: Ints = (period.first_epoch_day + day) * SECONDS_PER_DAY + second
    return moments


@dataclass(frozen=True)
class _EventRows:
    """Events as arrays, a user's sessions after the previous user's, each session in order."""

    user: Ints  # index into the population
    advertiser: Ints  # 0-based advertiser index
    kind: Ints  # index into KINDS
    product: Ints  # index into the catalogue, -1 for none
    time: Ints  # epoch seconds


def _events(
    rng: np.random.Generator,
    chunk: _Chunk,
    counts: Ints,
    people: _Population,
    catalogue: _Catalogue,
    period: _Period,
) -> pa.Table:
    rows = _event_rows(rng, chunk, counts, people, catalogue, period)
    order = np.argsort(rows.time, kind="stable")
    kind, product = rows.kind[order], rows.product[order]
    return pa.table(
        {
            "time": _timestamps(rows.time[order]),
            "user_id": people.ids.take(pa.array(rows.user[order])),
            "advertiser_id": pa.array(rows.advertiser[order] + FIRST_ADVERTISER_ID, pa.int64()),
            "kind": _labels(KINDS, kind),
            "product_id": catalogue.product_ids.take(pa.array(product, mask=product < 0)),
            "price": pa.array(catalogue.product_price[product], pa.float64(), mask=kind != SALE),
        }
    )


def _event_rows(
    rng: np.random.Generator,
    chunk: _Chunk,
    counts: Ints,
    people: _Population,
    catalogue: _Catalogue,
    period: _Period,
) -> _EventRows:
    """Sessions: maybe a visit, product views, then maybe a basket and a sale of the last view."""
    users = chunk.first_user + np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    n = len(users)
    taste = people.taste[users]
    loyal = rng.random(n) < P_FAVOURITE_ADVERTISER
    advertiser = np.where(loyal, people.favourite[users], catalogue.advertisers.sample(rng, taste))
    start = _moments(rng, users, people, period, chunk, SHOPPING_HOURS)
    visit = (rng.random(n) < P_SESSION_VISIT).astype(np.int64)
    views = rng.geometric(1.0 - P_NEXT_VIEW, n).astype(np.int64) - visit
    factor = np.array(BUYING_POWER_FACTOR)[people.buying_power[users]]  # -1: unknown, last
    basket = ((views > 0) & (rng.random(n) < P_BASKET * factor)).astype(np.int64)
    sale = basket & (rng.random(n) < P_SALE)
    length = visit + views + basket + sale
    session = np.repeat(np.arange(n, dtype=np.int64), length)
    first = np.cumsum(length) - length
    step = np.arange(len(session), dtype=np.int64) - first[session]
    opened, viewed = visit[session], views[session]
    kind = np.full(len(session), VIEW, dtype=np.int64)
    kind[step < opened] = VISIT
    kind[step == opened + viewed] = BASKET
    kind[step > opened + viewed] = SALE
    product = np.full(len(session), -1, dtype=np.int64)
    seen = kind == VIEW
    seen_in = session[seen]
    pool = catalogue.view_pool(advertiser[seen_in], taste[seen_in])
    anything = (rng.random(len(pool)) >= P_TASTE_VIEW) | catalogue.views.empty()[pool]
    pool = np.where(anything, catalogue.view_pool(advertiser[seen_in], len(TASTES)), pool)
    product[seen] = catalogue.views.sample(rng, pool)
    later = kind >= BASKET
    product[later] = product[first[session[later]] + opened[later] + viewed[later] - 1]
    gaps = np.ceil(rng.exponential(SESSION_GAP_SECONDS, len(session))).astype(np.int64)
    gaps[step == 0] = 0
    elapsed = np.cumsum(gaps)
    elapsed -= elapsed[first][session]
    # A session that would run into the next day starts a little earlier: every file then holds
    # whole days, and nothing lies after the end of the period.
    day_end = (start // SECONDS_PER_DAY + 1) * SECONDS_PER_DAY - 1
    start = np.minimum(start, day_end - elapsed[first + length - 1])
    time = start[session] + elapsed
    return _EventRows(users[session], advertiser[session], kind, product, time)


@dataclass(frozen=True)
class _PingRows:
    """Pings as arrays, a user's after the previous user's."""

    user: Ints  # index into the population
    time: Ints  # epoch seconds
    latitude: Floats
    longitude: Floats


def _pings(
    rng: np.random.Generator, chunk: _Chunk, counts: Ints, people: _Population, period: _Period
) -> pa.Table:
    rows = _ping_rows(rng, chunk, counts, people, period)
    order = np.argsort(rows.time, kind="stable")
    return pa.table(
        {
            "time": _timestamps(rows.time[order]),
            "user_id": people.ids.take(pa.array(rows.user[order])),
            "latitude": pa.array(rows.latitude[order], pa.float64()),
            "longitude": pa.array(rows.longitude[order], pa.float64()),
        }
    )


def _ping_rows(
    rng: np.random.Generator, chunk: _Chunk, counts: Ints, people: _Population, period: _Period
) -> _PingRows:
    """Positions near home, elsewhere in the home city, or (sometimes) in another city."""
    users = chunk.first_user + np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    n = len(users)
    time = _moments(rng, users, people, period, chunk, PING_HOURS)
    where = rng.random(n)
    travel = where < P_PING_TRAVEL
    home = where >= 1.0 - P_PING_HOME
    city = np.where(travel, _choice(rng, [c.weight for c in CITIES], n), people.city[users])
    spread = np.where(home, AT_HOME_KM, np.where(travel, TRAVEL_SPREAD_KM, CITY_SPREAD_KM))
    east = np.clip(rng.normal(0.0, 1.0, n) * spread, -25.0, 25.0)
    north = np.clip(rng.normal(0.0, 1.0, n) * spread, -25.0, 25.0)
    east += np.where(home, people.home_east_km[users], 0.0)
    north += np.where(home, people.home_north_km[users], 0.0)
    centre_lat = np.array([c.latitude for c in CITIES])[city]
    centre_lon = np.array([c.longitude for c in CITIES])[city]
    latitude = centre_lat + north / KM_PER_DEGREE
    longitude = centre_lon + east / (KM_PER_DEGREE * np.cos(np.radians(centre_lat)))
    return _PingRows(users, time, np.round(latitude, 6), np.round(longitude, 6))


def _timestamps(seconds: Ints) -> pa.Array:
    return pa.array(seconds * 1_000_000, pa.timestamp("us", tz="UTC"))


def _labels(values: Sequence[str], codes: NDArray[Any]) -> pa.Array:
    """``values[code]`` per code; a negative code gives null."""
    return pa.array(list(values), pa.string()).take(pa.array(codes, mask=codes < 0))


def _nullable(values: Ints, missing: Bools) -> pa.Array:
    return pa.array(values, pa.int64(), mask=missing)


def _numbered(prefix: str, numbers: Ints, digits: int = 1) -> pa.Array:
    """Strings like ``u00000042``: the prefix, then the number with at least ``digits`` digits."""
    head = prefix.encode()
    width = np.full(len(numbers), digits, dtype=np.int64)
    bound = 10**digits
    while (wider := numbers >= bound).any():
        width += wider
        bound *= 10
    ends = np.cumsum(len(head) + width)
    offsets = np.concatenate([np.zeros(1, dtype=np.int64), ends])
    data = np.empty(int(offsets[-1]), dtype=np.uint8)
    for place, byte in enumerate(head):
        data[offsets[:-1] + place] = byte
    rest = numbers.copy()
    for place in range(int(width.max(initial=0))):
        has = width > place
        data[ends[has] - 1 - place] = ord("0") + rest[has] % 10
        rest //= 10
    return _strings(offsets, data)


_HEX_DIGITS = np.frombuffer(b"".join(b"%02x" % i for i in range(256)), dtype=np.uint8)


def _bytes(joined: bytes, width: int) -> NDArray[np.uint8]:
    return np.frombuffer(joined, dtype=np.uint8).reshape(-1, width)


def _hex(raw: NDArray[np.uint8]) -> pa.Array:
    """Lower-case hex of each row of bytes."""
    return _fixed(_HEX_DIGITS.reshape(256, 2)[raw].reshape(len(raw), -1))


def _uuids(rng: np.random.Generator, n: int) -> pa.Array:
    """Random (version 4) UUIDs in lower case, like mobile advertising ids."""
    raw = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = _HEX_DIGITS.reshape(256, 2)[raw].reshape(n, 32)
    chars = np.full((n, 36), ord("-"), dtype=np.uint8)
    for begin, end in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32)):
        shift = (begin >= 8) + (begin >= 12) + (begin >= 16) + (begin >= 20)
        chars[:, begin + shift : end + shift] = digits[:, begin:end]
    return _fixed(chars)


def _fixed(chars: NDArray[np.uint8]) -> pa.Array:
    rows, width = chars.shape
    return _strings(np.arange(rows + 1, dtype=np.int64) * width, np.ascontiguousarray(chars))


def _strings(offsets: Ints, data: NDArray[np.uint8]) -> pa.Array:
    if offsets[-1] >= 2**31:
        raise OverflowError("too much text for one string column; make smaller chunks")
    return pa.StringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data.ravel())
    )
