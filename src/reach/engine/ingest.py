"""Ingestion: read Parquet, CSV or NDJSON, check every row, store what passes, report the rest.

Each check is one SQL condition with its reason; a row takes the reason of the first check it
fails. A file is committed whole (its manifest entry is the commit point) or not at all.
"""

from __future__ import annotations

import csv
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import h3.api.basic_int as h3
import pyarrow as pa
from duckdb.func import PythonUDFType

from reach.engine.identities import key_sql
from reach.engine.store import (
    CELL_RESOLUTION,
    DAILY_KINDS,
    KINDS,
    REFERENCE_KINDS,
    SCHEMAS,
    IngestedFile,
    Manifest,
    Store,
    private_dir,
    sql_string,
)

Progress = Callable[[str], None]

FORMATS = {".parquet": "parquet", ".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}
ID = r"^[0-9]{1,19}$"
HEX64 = r"^[0-9a-fA-F]{64}$"
UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
PRINTABLE = r"^[\x21-\x7e]{1,256}$"
TEXT_128 = "length({c}) BETWEEN 1 AND 128"
BAD_PRICE = "price IS NULL OR price < 0 OR isnan(price) OR isinf(price)"
BUYING_POWERS = ("Low", "Medium", "High", "VeryHigh")
IDENTIFIER_TYPES = ("email", "phoneNumber", "madid", "identityLink", "gum")
CATEGORIES = ("Lifestyles", "LifeEvents", "Seasonal", "BuyingPatterns")
# The reasons that say a row refers to something not loaded yet: loading it fixes them.
UNKNOWN_USER = "unknown user_id"
UNKNOWN_BRAND = "unknown brand_id"
UNKNOWN_PRODUCT = "unknown product of this advertiser"
MISSING_REFERENCES = frozenset({UNKNOWN_USER, UNKNOWN_BRAND, UNKNOWN_PRODUCT})
# The columns a rejects report adds before a row's values; a corrected report is ingested
# as it is, so ingestion ignores them.
REPORT_COLUMNS = ("row", "reason")
# Characters of the input file's name kept in its report's name.
REPORT_NAME_CHARACTERS = 100


def counted(count: int, noun: str) -> str:
    """``1 row``, ``2 rows``, ``1,000 rows`` (for nouns whose plural takes an s)."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def _outside(column: str, allowed: Sequence[str]) -> str:
    return f"{column} NOT IN ({', '.join(sql_string(v) for v in allowed)})"


def _unlike(column: str, pattern: str) -> str:
    return f"NOT regexp_full_match(coalesce({column}, ''), {sql_string(pattern)})"


# The input columns of every kind, and how each becomes its stored type.
INPUT_COLUMNS: dict[str, dict[str, str]] = {
    "brands": {"brand_id": "id", "name": "text"},
    "products": {
        "advertiser_id": "id",
        "product_id": "text",
        "brand_id": "id",
        "interest_id": "text",
        "price": "double",
        "price_range": "text",
    },
    "users": {"user_id": "text", "country": "text", "gender": "text", "buying_power": "text"},
    "identities": {"user_id": "text", "identifier_type": "text", "digest": "text"},
    "events": {
        "time": "time",
        "user_id": "text",
        "advertiser_id": "id",
        "kind": "text",
        "product_id": "text",
        "price": "double",
    },
    "pings": {"time": "time", "user_id": "text", "latitude": "double", "longitude": "double"},
    "behavioral": {
        "user_id": "text",
        "category": "text",
        "country": "text",
        "start_date": "date",
        "end_date": "date",
    },
}
NULLABLE = {
    "products": {"brand_id", "interest_id"},
    "users": {"gender", "buying_power"},
    "events": {"product_id", "price"},
}


def _h3_cells(latitudes: pa.Array, longitudes: pa.Array) -> pa.Array:
    cell = h3.latlng_to_cell
    return pa.array(
        [
            cell(lat, lon, CELL_RESOLUTION)
            for lat, lon in zip(latitudes.to_pylist(), longitudes.to_pylist(), strict=True)
        ],
        type=pa.uint64(),
    )


class IngestError(Exception):
    """The file cannot be ingested at all (unreadable, wrong columns); nothing was stored."""


@dataclass(frozen=True)
class IngestReport:
    """What one ingestion did. ``retried`` counts the rows an earlier ingestion of the same
    content rejected and this one checked again (0 on a first ingestion); ``reasons`` counts
    the rejected rows per reason, most frequent first."""

    kind: str
    source: Path
    sha256: str
    accepted: int
    rejected: int
    skipped: bool
    rejects: Path | None
    days: list[str]
    retried: int = 0
    reasons: tuple[tuple[str, int], ...] = field(default=())

    @property
    def missing_references(self) -> bool:
        """Whether rows were rejected for referring to users, products or brands not loaded."""
        return any(reason in MISSING_REFERENCES for reason, _ in self.reasons)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _reader(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    quoted = sql_string(path)
    if fmt == "parquet":
        return f"read_parquet({quoted})"
    if fmt == "csv":
        return f"read_csv({quoted}, header = true, all_varchar = true, auto_detect = true)"
    if fmt == "ndjson":
        return f"read_json({quoted}, format = 'newline_delimited')"
    raise IngestError(f"{path.name}: unknown format (use .parquet, .csv, .ndjson or .jsonl)")


def _typed(column: str, kind: str) -> str:
    raw = f'raw."{column}"'
    text = f"NULLIF(TRIM(CAST({raw} AS VARCHAR)), '')"
    if kind == "id":
        return f"CASE WHEN regexp_full_match({text}, '{ID}') THEN TRY_CAST({text} AS BIGINT) END"
    if kind == "double":
        return f"TRY_CAST({raw} AS DOUBLE)"
    if kind == "time":
        return f"TRY_CAST({raw} AS TIMESTAMPTZ)"
    if kind == "date":
        return f"TRY_CAST({raw} AS DATE)"
    return text


def _checks(kind: str) -> list[tuple[str, str]]:
    """(condition that makes a row bad, reason) pairs over the typed columns ``t`` and the
    ``params`` table (``latest``: the latest time accepted)."""
    future = "time > (SELECT latest FROM params)"
    text = TEXT_128.format
    checks: dict[str, list[tuple[str, str]]] = {
        "brands": [
            ("brand_id IS NULL OR brand_id <= 0", "brand_id is not a positive integer"),
            ("name IS NULL OR length(name) > 255", "name must hold 1 to 255 characters"),
        ],
        "products": [
            (
                "advertiser_id IS NULL OR advertiser_id <= 0",
                "advertiser_id is not a positive integer",
            ),
            (
                f"product_id IS NULL OR NOT ({text(c='product_id')})",
                "product_id must hold 1 to 128 characters",
            ),
            ("raw_brand_id IS NOT NULL AND brand_id IS NULL", "brand_id is not an integer"),
            (
                "brand_id IS NOT NULL AND brand_id NOT IN (SELECT brand_id FROM brands)",
                UNKNOWN_BRAND,
            ),
            (
                "interest_id IS NOT NULL AND interest_id NOT IN (SELECT id FROM taxonomy)",
                "unknown interest_id",
            ),
            (
                "price IS NULL OR price < 0 OR isnan(price) OR isinf(price)",
                "price must be a number >= 0",
            ),
            (
                "price_range IS NULL OR price_range NOT IN ('Low', 'Medium', 'High')",
                "price_range must be Low, Medium or High",
            ),
        ],
        "users": [
            (
                f"user_id IS NULL OR NOT ({text(c='user_id')})",
                "user_id must hold 1 to 128 characters",
            ),
            (
                "country IS NULL OR upper(country) NOT IN (SELECT code FROM countries)",
                "country is not an ISO 3166-1 alpha-2 code",
            ),
            (
                "gender IS NOT NULL AND gender NOT IN ('Male', 'Female')",
                "gender must be Male or Female",
            ),
            (
                f"buying_power IS NOT NULL AND {_outside('buying_power', BUYING_POWERS)}",
                "buying_power must be Low, Medium, High or VeryHigh",
            ),
        ],
        "identities": [
            ("ordinal IS NULL", UNKNOWN_USER),
            (
                f"identifier_type IS NULL OR {_outside('identifier_type', IDENTIFIER_TYPES)}",
                "identifier_type must be email, phoneNumber, madid, identityLink or gum",
            ),
            (
                f"identifier_type IN ('email', 'phoneNumber') AND {_unlike('digest', HEX64)}",
                "digest must be 64 hexadecimal characters (SHA-256)",
            ),
            (
                f"identifier_type = 'madid' AND {_unlike('digest', UUID)}",
                "digest must be a UUID",
            ),
            (
                f"identifier_type IN ('identityLink', 'gum') AND {_unlike('digest', PRINTABLE)}",
                "digest must hold 1 to 256 printable characters",
            ),
        ],
        "events": [
            ("raw_time IS NULL OR time IS NULL", "time is missing or not a timestamp"),
            (future, "time is more than one day in the future"),
            ("ordinal IS NULL", UNKNOWN_USER),
            (
                "advertiser_id IS NULL OR advertiser_id <= 0",
                "advertiser_id is not a positive integer",
            ),
            (
                "kind IS NULL OR kind NOT IN ('view', 'visit', 'basket', 'sale')",
                "kind must be view, visit, basket or sale",
            ),
            (
                "kind <> 'visit' AND product_id IS NULL",
                "product_id is required for view, basket and sale",
            ),
            ("product_id IS NOT NULL AND NOT product_known", UNKNOWN_PRODUCT),
            (
                f"raw_price IS NOT NULL AND ({BAD_PRICE})",
                "price must be a number >= 0",
            ),
        ],
        "pings": [
            ("raw_time IS NULL OR time IS NULL", "time is missing or not a timestamp"),
            (future, "time is more than one day in the future"),
            ("ordinal IS NULL", UNKNOWN_USER),
            (
                "latitude IS NULL OR NOT latitude BETWEEN -90 AND 90",
                "latitude must be between -90 and 90",
            ),
            (
                "longitude IS NULL OR NOT longitude BETWEEN -180 AND 180",
                "longitude must be between -180 and 180",
            ),
        ],
        "behavioral": [
            ("ordinal IS NULL", UNKNOWN_USER),
            (
                f"category IS NULL OR {_outside('category', CATEGORIES)}",
                "category must be Lifestyles, LifeEvents, Seasonal or BuyingPatterns",
            ),
            (
                "country IS NULL OR upper(country) NOT IN (SELECT code FROM countries)",
                "country is not an ISO 3166-1 alpha-2 code",
            ),
            ("start_date IS NULL", "start_date is missing or not a date"),
            (
                "end_date IS NULL OR end_date < start_date",
                "end_date is missing, not a date, or before start_date",
            ),
        ],
    }
    return checks[kind]


# Within one file, a reference kind's key may appear once.
KEYS = {"brands": ("brand_id",), "products": ("advertiser_id", "product_id"), "users": ("user_id",)}


class Ingestor:
    """Ingests files of one kind into ``store``; ``countries`` and ``interests`` are the valid
    country codes and taxonomy ids (given by the caller: the engine knows no reference data)."""

    def __init__(
        self,
        store: Store,
        *,
        countries: Sequence[str],
        interests: Sequence[str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        progress: Progress | None = None,
    ) -> None:
        self.store = store
        self.countries = sorted(countries)
        self.interests = sorted(interests)
        self.clock = clock
        self.progress = progress or (lambda _: None)

    def ingest(self, kind: str, path: Path) -> IngestReport:
        if kind not in KINDS:
            raise IngestError(f"unknown kind '{kind}' (one of {', '.join(KINDS)})")
        if not path.is_file():
            raise IngestError(f"{path}: no such file")
        with self.store.locked():
            # Ingestions take the lock one at a time: what scratch there is, a killed one left.
            self.store.clear_scratch()
            self.progress(f"{path.name}: checksum")
            sha = file_sha256(path)
            manifest = self.store.manifest()
            earlier = manifest.knows(sha)
            retry: list[int] | None = None
            if earlier is not None:
                if not earlier.rejected:
                    return IngestReport(kind, path, sha, 0, 0, True, None, [])
                # The accepted rows are stored already: check again only the rejected ones.
                retry = self._rejected_rows(earlier, path)
            self._collect_garbage(manifest, keep=path)
            # A scratch database on disk, so that a large file spills instead of filling memory.
            with (
                self.store.scratch() as scratch,
                duckdb.connect(str(scratch / "ingest.duckdb")) as con,
            ):
                return self._ingest(con, manifest, kind, path, sha, retry)

    # --- the steps ---------------------------------------------------------------------------

    def _rejected_rows(self, earlier: IngestedFile, path: Path) -> list[int]:
        """The rows of ``path`` that its latest ingestion rejected, from its rejects report."""
        report = self.store.root / earlier.rejects if earlier.rejects else None
        rejected = (
            f"{path.name} was ingested before with {counted(earlier.rejected, 'row')} rejected, but"
            f" their report {report}"
        )
        way_out = "ingest a copy of the file that holds only the rows still to store"
        if report is None or not report.is_file():
            raise IngestError(
                f"{rejected} is gone, so Reach cannot tell which rows to check again: {way_out}"
            )
        try:
            with report.open(newline="", encoding="utf-8") as handle:
                # Reports of earlier versions of Reach called the row number "line".
                return [int(row.get("row") or row["line"]) for row in csv.DictReader(handle)]
        except (KeyError, ValueError, TypeError, UnicodeDecodeError, csv.Error):
            raise IngestError(
                f"{rejected} has no readable row column: restore it, or {way_out}"
            ) from None

    def _ingest(
        self,
        con: duckdb.DuckDBPyConnection,
        manifest: Manifest,
        kind: str,
        path: Path,
        sha: str,
        retry: list[int] | None,
    ) -> IngestReport:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET preserve_insertion_order = true")
        self.store.create_views(con, manifest)
        con.execute(
            "CREATE TEMP TABLE params AS SELECT CAST(? AS TIMESTAMPTZ) AS latest",
            [self.clock() + timedelta(days=1)],
        )
        con.execute("CREATE TEMP TABLE countries (code VARCHAR)")
        con.executemany("INSERT INTO countries VALUES (?)", [(c,) for c in self.countries])
        con.execute("CREATE TEMP TABLE taxonomy (id VARCHAR)")
        con.executemany("INSERT INTO taxonomy VALUES (?)", [(i,) for i in self.interests])

        if kind == "pings":
            con.create_function(
                "h3_cell",
                _h3_cells,
                [duckdb.sqltype("DOUBLE"), duckdb.sqltype("DOUBLE")],
                duckdb.sqltype("UBIGINT"),
                type=PythonUDFType.ARROW,
            )
        self.progress(f"{path.name}: reading")
        try:
            con.execute(f"CREATE VIEW raw AS SELECT * FROM {_reader(path)}")  # noqa: S608
            con.execute("SELECT * FROM raw LIMIT 0").fetchall()
        except duckdb.Error as exc:
            raise IngestError(f"{path.name}: cannot read it as {kind}: {exc}") from None
        self._check_columns(con, kind, path)

        self.progress(f"{path.name}: checking rows")
        self._check_rows(con, kind, retry)
        accepted = self._count(con, "reason IS NULL")
        rejected = self._count(con, "reason IS NOT NULL")
        reasons = tuple(
            (str(reason), int(count))
            for reason, count in con.execute(
                "SELECT reason, count(*) AS n FROM t WHERE reason IS NOT NULL "
                "GROUP BY reason ORDER BY n DESC, reason"
            ).fetchall()
        )
        attempt = manifest.attempts(sha) + 1
        rejects = self._write_rejects(con, kind, path, sha, attempt) if rejected else None

        self.progress(f"{path.name}: storing {counted(accepted, 'row')}")
        token = f"{sha[:12]}-{uuid.uuid4().hex[:8]}"
        days: list[str] = []
        if kind in REFERENCE_KINDS:
            self._store_reference(con, manifest, kind, token)
        elif kind in DAILY_KINDS:
            days = self._store_daily(con, manifest, kind, token)
        else:
            self._store_appended(con, manifest, kind, token)
        manifest.files.append(
            IngestedFile(
                kind=kind,
                sha256=sha,
                source=str(path),
                accepted=accepted,
                rejected=rejected,
                ingested_at=self.clock().isoformat(),
                days=days,
                rejects=str(rejects.relative_to(self.store.root)) if rejects else None,
            )
        )
        self.store.commit(manifest)
        self._collect_garbage(manifest, keep=path)
        return IngestReport(
            kind,
            path,
            sha,
            accepted,
            rejected,
            False,
            rejects,
            days,
            retried=len(retry) if retry is not None else 0,
            reasons=reasons,
        )

    def _check_columns(self, con: duckdb.DuckDBPyConnection, kind: str, path: Path) -> None:
        present = [row[0] for row in con.execute("DESCRIBE raw").fetchall()]
        expected = INPUT_COLUMNS[kind]
        optional = NULLABLE.get(kind, set())
        missing = [c for c in expected if c not in present and c not in optional]
        extra = [c for c in present if c not in expected and c not in REPORT_COLUMNS]
        if missing or extra:
            details = []
            if missing:
                details.append(f"missing column(s) {', '.join(missing)}")
            if extra:
                details.append(f"unknown column(s) {', '.join(extra)}")
            raise IngestError(f"{path.name} is not a {kind} file: {'; '.join(details)}")
        absent = [c for c in expected if c not in present]
        if absent:
            added = ", ".join(f'CAST(NULL AS VARCHAR) AS "{c}"' for c in absent)
            con.execute(
                f"CREATE OR REPLACE VIEW raw AS SELECT *, {added} FROM {_reader(path)}"  # noqa: S608
            )

    def _check_rows(
        self, con: duckdb.DuckDBPyConnection, kind: str, retry: list[int] | None
    ) -> None:
        columns = INPUT_COLUMNS[kind]
        typed = [f"{_typed(c, t)} AS {c}" for c, t in columns.items()]
        raws = [f"NULLIF(TRIM(CAST(raw.\"{c}\" AS VARCHAR)), '') AS raw_{c}" for c in columns]
        joins = ""
        extra = ""
        if "user_id" in columns and kind != "users":
            joins += " LEFT JOIN users u ON u.user_id = t0.user_id"
            extra += ", u.ordinal AS ordinal"
        if kind == "events":
            joins += (
                " LEFT JOIN (SELECT DISTINCT advertiser_id AS pa, product_id AS pp FROM products) p"
                " ON p.pa = t0.advertiser_id AND p.pp = t0.product_id"
            )
            extra += ", p.pp IS NOT NULL AS product_known"
        con.execute(
            "CREATE TEMP TABLE t0 AS SELECT row_number() OVER () AS row_number, "  # noqa: S608
            f"{', '.join(typed)}, {', '.join(raws)} FROM raw"
        )
        if retry is not None:
            con.register("retry_rows", pa.table({"row_number": pa.array(retry, pa.int64())}))
            con.execute(
                "DELETE FROM t0 WHERE row_number NOT IN (SELECT row_number FROM retry_rows)"
            )
            con.unregister("retry_rows")
        cases = " ".join(
            f"WHEN {condition} THEN {sql_string(reason)}" for condition, reason in _checks(kind)
        )
        con.execute(
            f"CREATE TEMP TABLE t AS SELECT *, CASE {cases} END AS reason "  # noqa: S608
            f"FROM (SELECT t0.*{extra} FROM t0{joins})"
        )
        if kind in KEYS:
            key = ", ".join(KEYS[kind])
            con.execute(
                f"UPDATE t SET reason = 'the same key appears earlier in the file' "  # noqa: S608
                f"WHERE reason IS NULL AND row_number IN (SELECT row_number FROM (SELECT "
                f"row_number, row_number() OVER (PARTITION BY {key} ORDER BY row_number) AS n "
                f"FROM t WHERE reason IS NULL) WHERE n > 1)"
            )

    @staticmethod
    def _count(con: duckdb.DuckDBPyConnection, condition: str) -> int:
        row = con.execute(f"SELECT count(*) FROM t WHERE {condition}").fetchone()  # noqa: S608
        return int(row[0]) if row else 0

    def _write_rejects(
        self, con: duckdb.DuckDBPyConnection, kind: str, path: Path, sha: str, attempt: int
    ) -> Path:
        """The rejected rows with their reason, as a CSV that is ingestible once corrected:
        ``<name>-<hash>.csv`` (the file's name, the first 12 hex digits of its SHA-256), then
        ``-2``, ``-3``... for the reports of later retries of the same file."""
        folder = private_dir(self.store.root / "rejects")
        suffix = "" if attempt == 1 else f"-{attempt}"
        target = folder / f"{path.stem[:REPORT_NAME_CHARACTERS]}-{sha[:12]}{suffix}.csv"
        # A report of that name was not committed (its ingestion was killed): replace it.
        target.unlink(missing_ok=True)
        originals = ", ".join(f'raw_{c} AS "{c}"' for c in INPUT_COLUMNS[kind])
        con.execute(
            f'COPY (SELECT row_number AS "row", reason, {originals} FROM t '  # noqa: S608
            f"WHERE reason IS NOT NULL ORDER BY row_number) TO {sql_string(target)} (HEADER)"
        )
        return target

    def _select_accepted(self, kind: str, ordinals: str = "ordinal") -> str:
        schema = SCHEMAS[kind]
        digest = (
            "CASE WHEN identifier_type IN ('email', 'phoneNumber', 'madid') "
            "THEN lower(digest) ELSE digest END"
        )
        expressions = {
            "ordinal": ordinals,
            "country": "upper(country)",
            "digest": digest,
            "day": "CAST(time AS DATE)",
            "cell": "h3_cell(latitude, longitude)",
            "key": key_sql("identifier_type", f"({digest})"),
        }
        columns = [f"CAST({expressions.get(c, c)} AS {t}) AS {c}" for c, t in schema.items()]
        return f"SELECT {', '.join(columns)} FROM t WHERE reason IS NULL"  # noqa: S608

    def _store_reference(
        self, con: duckdb.DuckDBPyConnection, manifest: Manifest, kind: str, token: str
    ) -> None:
        key = KEYS[kind]
        if kind == "users":
            # Known users keep their ordinal; new ones continue the sequence in file order.
            con.execute(
                "CREATE TEMP TABLE ordinals AS SELECT t.row_number, coalesce(u.ordinal, "
                "(SELECT coalesce(max(ordinal) + 1, 0) FROM users) + "
                "sum(CASE WHEN u.ordinal IS NULL THEN 1 ELSE 0 END) "
                "OVER (ORDER BY t.row_number) - 1) AS ordinal "
                "FROM t LEFT JOIN users u ON u.user_id = t.user_id WHERE t.reason IS NULL"
            )
            con.execute("ALTER TABLE t ADD COLUMN ordinal UINTEGER")
            con.execute(
                "UPDATE t SET ordinal = o.ordinal FROM ordinals o WHERE o.row_number = t.row_number"
            )
        new = self._select_accepted(kind)
        kept = (
            f"SELECT * FROM {kind} WHERE ({', '.join(key)}) NOT IN "  # noqa: S608
            f"(SELECT ({', '.join(key)}) FROM t WHERE reason IS NULL)"
        )
        order = "ordinal" if kind == "users" else ", ".join(key)
        relative = f"{kind}/{kind}-{token}.parquet"
        target = self.store.root / relative
        private_dir(target.parent)
        con.execute(
            f"COPY (SELECT * FROM ({kept} UNION ALL {new}) ORDER BY {order}) "  # noqa: S608
            f"TO {sql_string(target)} (FORMAT parquet, COMPRESSION zstd)"
        )
        manifest.current[kind] = [relative]

    def _store_appended(
        self, con: duckdb.DuckDBPyConnection, manifest: Manifest, kind: str, token: str
    ) -> None:
        relative = f"{kind}/part-{token}.parquet"
        target = self.store.root / relative
        private_dir(target.parent)
        con.execute(
            f"COPY ({self._select_accepted(kind)} ORDER BY ordinal) "
            f"TO {sql_string(target)} (FORMAT parquet, COMPRESSION zstd)"
        )
        manifest.current[kind].append(relative)

    def _store_daily(
        self, con: duckdb.DuckDBPyConnection, manifest: Manifest, kind: str, token: str
    ) -> list[str]:
        folder = self.store.root / kind
        # The day folders are made here, owner-only, before DuckDB writes into them.
        for (day,) in con.execute(
            "SELECT DISTINCT CAST(time AS DATE) FROM t WHERE reason IS NULL"
        ).fetchall():
            private_dir(folder / f"day={day.isoformat()}")
        private_dir(folder)
        pattern = sql_string(f"part-{token}-{{i}}")
        con.execute(
            f"COPY ({self._select_accepted(kind)} ORDER BY day, ordinal) TO {sql_string(folder)} "
            f"(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (day), WRITE_PARTITION_COLUMNS true, "
            f"OVERWRITE_OR_IGNORE true, FILENAME_PATTERN {pattern})"
        )
        days: list[str] = []
        for written in sorted(folder.glob(f"day=*/part-{token}-*.parquet")):
            day = written.parent.name.removeprefix("day=")
            relative = str(written.relative_to(self.store.root))
            manifest.current[kind].append(relative)
            manifest.days[kind].setdefault(day, []).append(relative)
            if day not in days:
                days.append(day)
        return days

    def _collect_garbage(self, manifest: Manifest, keep: Path) -> None:
        """Delete data files the manifest does not list: replaced reference files, and files
        of an ingestion that crashed before its commit; and the rejects reports a retry
        replaced. Runs under the store's exclusive lock, so no index build is reading them."""
        for kind in KINDS:
            current = {self.store.root / name for name in manifest.current[kind]}
            for stale in (self.store.root / kind).glob("**/*.parquet"):
                if stale not in current:
                    stale.unlink(missing_ok=True)
        for name in manifest.superseded_reports():
            report = self.store.root / name
            if report.resolve() != keep.resolve():  # never the file being ingested
                report.unlink(missing_ok=True)


def files_by_kind(directory: Path) -> list[tuple[str, Path]]:
    """The files of a data directory named after their kind (``events-00001.parquet``...), in
    the order kinds must be loaded."""
    found = []
    for kind in KINDS:
        for path in sorted(directory.iterdir()):
            stem = path.name.split(".")[0]
            if path.is_file() and path.suffix.lower() in FORMATS and stem.split("-")[0] == kind:
                found.append((kind, path))
    return found
