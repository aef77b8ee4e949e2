"""A store of any size, written directly user chunk by user chunk: the engine's data at scale.

``reach demo-data`` keeps its whole population in memory and writes input files that ``reach
ingest`` must then map to ordinals; neither fits a hundred million users. This generator draws
the same kind of people and behaviour (the demo's catalogue, tastes, sessions and whereabouts,
reused from ``reach.engine.demo_data``), one chunk of users at a time, and writes the stored
files and the manifest that ingesting them would have produced, ready for ``reach index build``:

    python -m benchmarks.scale_data --users 100000000 --days 30 --end-date 2026-12-02 \\
        --out DATA_DIR [--seed 0] [--chunk-users 1000000] [--workers 1]

Then ``REACH_DATA_DIR=DATA_DIR reach index build``. User ``n`` (ordinal ``n``) is ``u<n>`` and
may have the e-mail ``user<n>@example.com`` (hashed), so a contact list can match them.

Rates per user follow the demo data (whose figures are per 90 days): about 0.23 events and
0.034 pings a day, 1.4 identities and 0.39 behavioral memberships. Memory is bounded by one
chunk per worker, never by the population: about 1.3 GB per process with chunks of a million
users over 30 days (0.45 GB with 250,000). The same arguments (chunk size included; the number
of workers does not matter) write the same bytes. From 100,000 users on (where the catalogue
stops growing), a chunk's users and their rows do not depend on how many users follow them: a
smaller store holds the first users of a larger one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from reach.engine.demo_data import (
    BUYING_POWERS,
    CATALOGUE,
    CITIES,
    EPOCH,
    FIRST_ADVERTISER_ID,
    GENDERS,
    P_EMAIL,
    P_PHONE,
    PHONE_PLANS,
    SALE,
    SECONDS_PER_DAY,
    _behavioral,
    _bytes,
    _Catalogue,
    _catalogue,
    _Chunk,
    _event_rows,
    _fixed,
    _labels,
    _numbered,
    _Period,
    _ping_rows,
    _Population,
    _population,
    _rng,
    _timestamps,
    _uuids,
)
from reach.engine.demo_data import KINDS as EVENT_KINDS
from reach.engine.identities import TYPE_CODES
from reach.engine.ingest import _h3_cells
from reach.engine.store import (
    DAILY_KINDS,
    KINDS,
    SCHEMAS,
    IngestedFile,
    Manifest,
    Store,
    private_dir,
)
from reach.reference.taxonomy import taxonomy

DEFAULT_CHUNK_USERS = 1_000_000
DEFAULT_ADVERTISERS = 20
# The demo's per-user totals (sessions, pings) are for a period of this many days; a longer or
# shorter period gets as many per day.
REFERENCE_DAYS = 90
# Random streams of this generator, beside the demo's (0 to 7): per chunk, one each.
PEOPLE, SESSIONS, EVENTS, PINGS, IDENTITIES, BEHAVIORAL, PHONES = range(100, 107)
# The Arrow type of each stored (DuckDB) type.
ARROW_TYPES = {
    "BIGINT": pa.int64(),
    "UBIGINT": pa.uint64(),
    "UINTEGER": pa.uint32(),
    "DOUBLE": pa.float64(),
    "VARCHAR": pa.string(),
    "BLOB": pa.binary(),
    "DATE": pa.date32(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
}
# The columns with few distinct values: dictionary encoding is tried on those only.
DICTIONARY_COLUMNS = {
    "brands": ["name"],
    "products": ["advertiser_id", "brand_id", "interest_id", "price_range"],
    "users": ["country", "gender", "buying_power"],
    "identities": ["identifier_type"],
    "events": ["advertiser_id", "kind", "product_id", "price", "day"],
    "pings": ["day"],
    "behavioral": ["category", "country", "start_date", "end_date"],
}
PHONE_NUMBERS = 10**8  # eight digits after the country's prefix, a bijection of the ordinals


def arrow_schema(kind: str) -> pa.Schema:
    """The stored columns of ``kind`` as an Arrow schema."""
    return pa.schema([(name, ARROW_TYPES[t]) for name, t in SCHEMAS[kind].items()])


def stored_table(kind: str, columns: list[pa.Array] | list[pa.ChunkedArray]) -> pa.Table:
    """The stored columns of ``kind``, which must have exactly the stored types."""
    schema = arrow_schema(kind)
    table = pa.Table.from_pydict(dict(zip(schema.names, columns, strict=True)))
    if table.schema != schema:
        raise TypeError(f"{kind}: the columns are {table.schema}, not {schema}")
    return table


@dataclass(frozen=True)
class Plan:
    """What to generate; the same plan always gives the same files."""

    users: int
    days: int
    end_date: date
    seed: int = 0
    chunk_users: int = DEFAULT_CHUNK_USERS
    advertisers: int = DEFAULT_ADVERTISERS

    def __post_init__(self) -> None:
        if min(self.users, self.days, self.chunk_users, self.advertisers) < 1:
            raise ValueError("users, days, chunk users and advertisers must be positive")
        if self.seed < 0:
            raise ValueError("the seed must not be negative")
        if self.users > 2**32:
            raise ValueError("ordinals are 32-bit: at most 2^32 users")

    @property
    def chunks(self) -> int:
        return math.ceil(self.users / self.chunk_users)

    @property
    def token(self) -> str:
        """A name part of this plan's files (as ingestion names files after their content)."""
        return hashlib.sha256(self.describe().encode()).hexdigest()[:12]

    def describe(self) -> str:
        return (
            f"benchmarks.scale_data --users {self.users} --days {self.days} --end-date "
            f"{self.end_date.isoformat()} --seed {self.seed} --chunk-users {self.chunk_users} "
            f"--advertisers {self.advertisers}"
        )


@dataclass
class Written:
    """Files written and their rows, per kind; for daily kinds, per day too."""

    files: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    days: dict[str, dict[str, list[str]]] = field(
        default_factory=lambda: {k: {} for k in DAILY_KINDS}
    )
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    def add(self, other: Written) -> None:
        for kind in KINDS:
            self.files[kind] += other.files[kind]
            self.rows[kind] += other.rows[kind]
        for kind in DAILY_KINDS:
            for day, names in other.days[kind].items():
                self.days[kind].setdefault(day, []).extend(names)


class _Writer:
    """Writes stored files under ``root`` and remembers them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written = Written()

    def write(
        self,
        kind: str,
        relative: str,
        columns: list[pa.Array] | list[pa.ChunkedArray],
        day: str | None = None,
    ) -> None:
        table = stored_table(kind, columns)
        target = self.root / relative
        private_dir(target.parent)
        pq.write_table(
            table, target, compression="zstd", use_dictionary=DICTIONARY_COLUMNS.get(kind, [])
        )
        self.written.files[kind].append(relative)
        self.written.rows[kind] += table.num_rows
        if day is not None:
            self.written.days[kind].setdefault(day, []).append(relative)

    def daily(self, kind: str, name: str, columns: list[pa.Array], days: NDArray[Any]) -> None:
        """One file per day of rows sorted by day (``days``: their epoch days)."""
        table = stored_table(kind, columns)
        values, starts = np.unique(days, return_index=True)
        stops = [*starts[1:].tolist(), len(days)]
        for value, start, stop in zip(values.tolist(), starts.tolist(), stops, strict=True):
            day = (EPOCH + timedelta(days=value)).isoformat()
            part = table.slice(start, stop - start)
            self.write(kind, f"{kind}/day={day}/{name}", part.columns, day)


@lru_cache(maxsize=1)
def _catalogue_of(plan: Plan) -> _Catalogue:
    return _catalogue(_rng(plan.seed, CATALOGUE), plan.users, plan.advertisers, taxonomy().leaves())


@lru_cache(maxsize=1)
def _phone_offset(plan: Plan) -> int:
    return int(_rng(plan.seed, PHONES).integers(PHONE_NUMBERS))


def write_catalogue(plan: Plan, root: Path) -> Written:
    """The brands and the products, as reference files sorted by their keys."""
    catalogue = _catalogue_of(plan)
    writer = _Writer(root)
    brands = catalogue.brands_table()
    writer.write("brands", f"brands/brands-{plan.token}.parquet", brands.columns)
    products = catalogue.products_table().sort_by(
        [("advertiser_id", "ascending"), ("product_id", "ascending")]
    )
    writer.write("products", f"products/products-{plan.token}.parquet", products.columns)
    return writer.written


def write_chunk(plan: Plan, root: Path, number: int) -> Written:
    """The users of chunk ``number`` and everything they did, in files of their own."""
    catalogue = _catalogue_of(plan)
    first = number * plan.chunk_users
    size = min(plan.chunk_users, plan.users - first)
    ordinals = np.arange(first, first + size, dtype=np.uint32)
    people = _population(_rng(plan.seed, PEOPLE, number), size, REFERENCE_DAYS, catalogue)
    # The population's ids are the users' ordinals: the tables the demo's functions build from
    # it then name users by ordinal, as the store does.
    people = replace(people, ids=pa.array(ordinals))
    writer = _Writer(root)
    name = f"part-{plan.token}-{number:05d}.parquet"
    writer.write(
        "users",
        f"users/users-{plan.token}-{number:05d}.parquet",
        [
            pa.array(ordinals),
            _numbered("u", ordinals.astype(np.int64)),
            people.countries(),
            _labels(GENDERS, people.gender),
            _labels(BUYING_POWERS, people.buying_power),
        ],
    )
    writer.write("identities", f"identities/{name}", _identities(plan, people, first, number))
    behavioral = _behavioral(
        _rng(plan.seed, BEHAVIORAL, number), people, plan.days, plan.end_date
    ).columns
    writer.write("behavioral", f"behavioral/{name}", behavioral)
    period = _Period.ending(plan.end_date, plan.days)
    # The demo's totals per user are for REFERENCE_DAYS: this period gets its share of them.
    share = plan.days / REFERENCE_DAYS
    counts = _rng(plan.seed, SESSIONS, number)
    sessions = counts.poisson(people.sessions * share)
    pings = counts.poisson(people.pings * share)
    events_rng, pings_rng = _rng(plan.seed, EVENTS, number), _rng(plan.seed, PINGS, number)
    _events(writer, name, events_rng, sessions, people, catalogue, period, first)
    _pings(writer, name, pings_rng, pings, people, period, first)
    return writer.written


def _events(
    writer: _Writer,
    name: str,
    rng: np.random.Generator,
    counts: NDArray[np.int64],
    people: _Population,
    catalogue: _Catalogue,
    period: _Period,
    first: int,
) -> None:
    """The chunk's sessions (the demo's model), a file per day."""
    rows = _event_rows(
        rng, _Chunk(0, len(period.weights), 0, people.size), counts, people, catalogue, period
    )
    days = rows.time // SECONDS_PER_DAY
    # The rows come user by user: a stable sort by day keeps each day's rows by ordinal.
    order = np.argsort((days - period.first_epoch_day).astype(np.int16), kind="stable")
    kind, product, days = rows.kind[order], rows.product[order], days[order]
    columns = [
        _timestamps(rows.time[order]),
        pa.array((rows.user[order] + first).astype(np.uint32)),
        pa.array(rows.advertiser[order] + FIRST_ADVERTISER_ID, pa.int64()),
        _labels(EVENT_KINDS, kind),
        catalogue.product_ids.take(pa.array(product, mask=product < 0)),
        pa.array(catalogue.product_price[product], pa.float64(), mask=kind != SALE),
        pa.array(days.astype(np.int32), pa.date32()),
    ]
    del rows, order, kind, product
    writer.daily("events", name, columns, days)


def _pings(
    writer: _Writer,
    name: str,
    rng: np.random.Generator,
    counts: NDArray[np.int64],
    people: _Population,
    period: _Period,
    first: int,
) -> None:
    """The chunk's pings (the demo's model) with their H3 cells, a file per day."""
    rows = _ping_rows(rng, _Chunk(0, len(period.weights), 0, people.size), counts, people, period)
    days = rows.time // SECONDS_PER_DAY
    order = np.argsort((days - period.first_epoch_day).astype(np.int16), kind="stable")
    days = days[order]
    latitude = pa.array(rows.latitude[order], pa.float64())
    longitude = pa.array(rows.longitude[order], pa.float64())
    columns = [
        _timestamps(rows.time[order]),
        pa.array((rows.user[order] + first).astype(np.uint32)),
        latitude,
        longitude,
        _h3_cells(latitude, longitude),
        pa.array(days.astype(np.int32), pa.date32()),
    ]
    writer.daily("pings", name, columns, days)


def _identities(plan: Plan, people: _Population, first: int, number: int) -> list[pa.Array]:
    """Hashed e-mails and phone numbers, and device ids (the demo's shares), with their keys in
    the identity graph. E-mails and phone numbers follow from the ordinal, so they never repeat."""
    rng = _rng(plan.seed, IDENTITIES, number)
    size = people.size
    email = np.flatnonzero(rng.random(size) < P_EMAIL)
    phone = np.flatnonzero(rng.random(size) < P_PHONE)
    device = np.repeat(np.arange(size, dtype=np.int64), people.devices)
    sha256 = hashlib.sha256
    emails = b"".join(
        [sha256(b"user%d@example.com" % o).digest() for o in (email + first).tolist()]
    )
    prefixes = [f"+{''.join(PHONE_PLANS[c.country])}" for c in CITIES]
    local = ((phone + first + 1) * 7919 + _phone_offset(plan)) % PHONE_NUMBERS
    phones = b"".join(
        [
            sha256(f"{prefixes[city]}{n:08d}".encode()).digest()
            for city, n in zip(people.city[phone].tolist(), local.tolist(), strict=True)
        ]
    )
    madids = _uuids(rng, len(device))
    hashed = b"".join([sha256(m).digest() for m in madids.cast(pa.binary()).to_pylist()])
    user = np.concatenate([email, phone, device])
    kinds = ("email", "phoneNumber", "madid")
    kind = np.repeat(np.arange(len(kinds)), [len(email), len(phone), len(device)])
    raw = np.concatenate([_bytes(emails, 32), _bytes(phones, 32), _bytes(hashed, 32)])
    keys = np.empty((len(user), 33), dtype=np.uint8)
    keys[:, 0] = np.array([TYPE_CODES[k] for k in kinds], dtype=np.uint8)[kind]
    keys[:, 1:] = raw
    # bytes.hex is the fastest way to lower-case hex.
    hexed = np.frombuffer((emails + phones).hex().encode(), dtype=np.uint8).reshape(-1, 64)
    digests = pa.concat_arrays([_fixed(hexed), madids])
    order = np.argsort(user, kind="stable")
    keys = np.ascontiguousarray(keys[order])
    offsets = np.arange(len(user) + 1, dtype=np.int32) * keys.shape[1]
    return [
        pa.array((user[order] + first).astype(np.uint32)),
        _labels(kinds, kind[order]),
        digests.take(pa.array(order)),
        pa.Array.from_buffers(
            pa.binary(), len(user), [None, pa.py_buffer(offsets), pa.py_buffer(keys)]
        ),
    ]


def _chunk_job(job: tuple[Plan, Path, int]) -> tuple[int, Written, float]:
    started = time.perf_counter()
    plan, root, number = job
    return number, write_chunk(plan, root, number), time.perf_counter() - started


def generate(
    plan: Plan,
    out: Path,
    *,
    workers: int = 1,
    progress: Callable[[str], None] = lambda _: None,
) -> Written:
    """Write the store of ``plan`` into ``out/store`` and commit its manifest."""
    root = out / "store"
    store = Store(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty: remove it, or choose another --out")
    private_dir(root)
    written = write_catalogue(plan, root)
    jobs = [(plan, root, number) for number in range(plan.chunks)]
    for number, chunk, seconds in _run(jobs, workers):
        written.add(chunk)
        progress(
            f"chunk {number + 1}/{plan.chunks}: {chunk.rows['users']:,} users, "
            f"{chunk.rows['events']:,} events, {chunk.rows['pings']:,} pings in {seconds:.1f} s"
        )
    store.commit(_manifest(plan, written))
    return written


def _run(jobs: list[tuple[Plan, Path, int]], workers: int) -> Iterator[tuple[int, Written, float]]:
    if workers <= 1:
        yield from map(_chunk_job, jobs)
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        yield from pool.map(_chunk_job, jobs)


def _manifest(plan: Plan, written: Written) -> Manifest:
    """The manifest of the files, in chunk order, with one entry per kind for what ingestion
    would have listed as its input files."""
    manifest = Manifest()
    # As if ingested as the period ended: the manifest too is the same for the same plan.
    now = datetime.combine(plan.end_date + timedelta(days=1), datetime.min.time(), UTC)
    for kind in KINDS:
        manifest.current[kind] = list(written.files[kind])
        source = f"generated: {plan.describe()} ({kind})"
        manifest.files.append(
            IngestedFile(
                kind=kind,
                sha256=hashlib.sha256(source.encode()).hexdigest(),
                source=source,
                accepted=written.rows[kind],
                rejected=0,
                ingested_at=now.isoformat(),
                days=sorted(written.days[kind]) if kind in DAILY_KINDS else [],
            )
        )
    for kind in DAILY_KINDS:
        manifest.days[kind] = {day: written.days[kind][day] for day in sorted(written.days[kind])}
    return manifest


def _sizes(root: Path) -> dict[str, int]:
    """Bytes on disk per kind."""
    return {kind: sum(f.stat().st_size for f in (root / kind).rglob("*.parquet")) for kind in KINDS}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--days", type=int, required=True)
    parser.add_argument("--end-date", type=date.fromisoformat, required=True)
    parser.add_argument("--out", type=Path, required=True, help="the data directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk-users", type=int, default=DEFAULT_CHUNK_USERS)
    parser.add_argument("--advertisers", type=int, default=DEFAULT_ADVERTISERS)
    parser.add_argument("--workers", type=int, default=1, help="processes writing chunks")
    args = parser.parse_args(argv)
    plan = Plan(
        users=args.users,
        days=args.days,
        end_date=args.end_date,
        seed=args.seed,
        chunk_users=args.chunk_users,
        advertisers=args.advertisers,
    )
    started = time.perf_counter()
    written = generate(
        plan, args.out, workers=args.workers, progress=lambda line: print(line, file=sys.stderr)
    )
    report = {
        "plan": {**asdict(plan), "end_date": plan.end_date.isoformat()},
        "workers": args.workers,
        "seconds": round(time.perf_counter() - started, 1),
        "rows": written.rows,
        "files": {kind: len(names) for kind, names in written.files.items()},
        "bytes": _sizes(args.out / "store"),
    }
    (args.out / "scale_data.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
