"""The event store: Parquet files under ``<data dir>/store`` and the manifest that lists them.

Only files named by the manifest exist for readers; the manifest is replaced atomically, so a
crash between writing data files and committing them leaves the store as it was.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

KINDS = ("brands", "products", "users", "identities", "events", "pings", "behavioral")
# Reference kinds keep one current version (a later row replaces the earlier one by key);
# the other kinds accumulate.
REFERENCE_KINDS = ("brands", "products", "users")
DAILY_KINDS = ("events", "pings")
CELL_RESOLUTION = 7

# The stored columns of every kind, with their DuckDB types.
SCHEMAS: dict[str, dict[str, str]] = {
    "brands": {"brand_id": "BIGINT", "name": "VARCHAR"},
    "products": {
        "advertiser_id": "BIGINT",
        "product_id": "VARCHAR",
        "brand_id": "BIGINT",
        "interest_id": "VARCHAR",
        "price": "DOUBLE",
        "price_range": "VARCHAR",
    },
    "users": {
        "ordinal": "UINTEGER",
        "user_id": "VARCHAR",
        "country": "VARCHAR",
        "gender": "VARCHAR",
        "buying_power": "VARCHAR",
    },
    "identities": {
        "ordinal": "UINTEGER",
        "identifier_type": "VARCHAR",
        "digest": "VARCHAR",
        # Its key in the identity graph (engine/identities.py), computed once at ingestion.
        "key": "BLOB",
    },
    "events": {
        "time": "TIMESTAMPTZ",
        "ordinal": "UINTEGER",
        "advertiser_id": "BIGINT",
        "kind": "VARCHAR",
        "product_id": "VARCHAR",
        "price": "DOUBLE",
        "day": "DATE",
    },
    "pings": {
        "time": "TIMESTAMPTZ",
        "ordinal": "UINTEGER",
        "latitude": "DOUBLE",
        "longitude": "DOUBLE",
        # The H3 cell (resolution 7) of the ping, computed once at ingestion, to prune
        # location queries (never to decide membership).
        "cell": "UBIGINT",
        "day": "DATE",
    },
    "behavioral": {
        "ordinal": "UINTEGER",
        "category": "VARCHAR",
        "country": "VARCHAR",
        "start_date": "DATE",
        "end_date": "DATE",
    },
}


@dataclass
class IngestedFile:
    """One ingested input file, as the manifest remembers it."""

    kind: str
    sha256: str
    source: str
    accepted: int
    rejected: int
    ingested_at: str
    days: list[str] = field(default_factory=list)
    rejects: str | None = None


@dataclass
class Manifest:
    files: list[IngestedFile] = field(default_factory=list)
    # The data files readers use, per kind, relative to the store root.
    current: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    # For daily kinds: which data files hold which day ("2026-11-01": [...]).
    days: dict[str, dict[str, list[str]]] = field(
        default_factory=lambda: {k: {} for k in DAILY_KINDS}
    )

    def knows(self, sha256: str) -> IngestedFile | None:
        """The latest ingestion of the content ``sha256`` (a retry comes after the first)."""
        return next((f for f in reversed(self.files) if f.sha256 == sha256), None)

    def attempts(self, sha256: str) -> int:
        return sum(1 for f in self.files if f.sha256 == sha256)

    def superseded_reports(self) -> set[str]:
        """The rejects reports Reach wrote that a retry replaced: each content's earlier ones
        (never a file Reach did not write, such as a corrected copy kept beside them)."""
        latest = {f.sha256: f for f in self.files}
        current = {f.rejects for f in latest.values() if f.rejects}
        return {f.rejects for f in self.files if f.rejects and f.rejects not in current}

    def to_json(self) -> dict[str, Any]:
        return {
            "files": [asdict(f) for f in self.files],
            "current": self.current,
            "days": self.days,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Manifest:
        manifest = cls(files=[IngestedFile(**f) for f in raw.get("files", [])])
        manifest.current.update(raw.get("current", {}))
        manifest.days.update(raw.get("days", {}))
        return manifest


def private_dir(path: Path) -> Path:
    """Create the directory ``path`` and its missing parents readable by their owner alone
    (0700, like ``secret.key``); directories that exist keep their mode."""
    missing = []
    folder = path
    while not folder.is_dir():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    return path


def sql_string(value: str | os.PathLike[str]) -> str:
    """``value`` as a SQL string literal, for the places DuckDB takes no parameter (a view's
    file list, COPY's target): quotes inside are doubled, so a path may hold any character."""
    text = os.fspath(value)
    return "'" + text.replace("'", "''") + "'"


@contextmanager
def file_lock(path: Path, *, shared: bool = False) -> Iterator[None]:
    """An advisory lock on ``path`` (shared or exclusive), released when the block ends."""
    private_dir(path.parent)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomically(path: Path, content: str | bytes) -> None:
    """Replace ``path`` with ``content`` (text is written as UTF-8) so that readers see the old
    or the new file, never half of one, even after a crash."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    data = content.encode() if isinstance(content, str) else content
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class Store:
    """The store under ``root``: its manifest, its data files, and views over them."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def manifest(self) -> Manifest:
        if not self.manifest_path.exists():
            return Manifest()
        return Manifest.from_json(json.loads(self.manifest_path.read_text(encoding="utf-8")))

    def commit(self, manifest: Manifest) -> None:
        write_atomically(self.manifest_path, json.dumps(manifest.to_json(), indent=1))

    @contextmanager
    def locked(self, *, shared: bool = False) -> Iterator[None]:
        """Writers (ingestion) hold the lock alone; readers (index builds) share it, so the
        files of the manifest they read stay in place until they are done."""
        with file_lock(self.root / ".lock", shared=shared):
            yield

    @property
    def scratch_root(self) -> Path:
        return self.root / ".tmp"

    @contextmanager
    def scratch(self) -> Iterator[Path]:
        """A scratch folder for one writer, removed when the block ends. Call it under the
        exclusive lock, like ``clear_scratch``."""
        folder = private_dir(self.scratch_root / f"ingest-{uuid.uuid4().hex}")
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def clear_scratch(self) -> None:
        """Remove what a killed writer left: scratch folders and a half-written manifest. Only
        the holder of the exclusive lock may call it, so no running writer owns them."""
        if self.scratch_root.is_dir():
            for leftover in self.scratch_root.iterdir():
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
        for leftover in self.root.glob(f".{self.manifest_path.name}.*"):
            leftover.unlink(missing_ok=True)

    def files(self, kind: str, manifest: Manifest | None = None) -> list[Path]:
        manifest = manifest or self.manifest()
        return [self.root / name for name in manifest.current[kind]]

    def create_views(
        self, con: duckdb.DuckDBPyConnection, manifest: Manifest | None = None, prefix: str = ""
    ) -> None:
        """A view per kind over its current files (an empty table when it has none)."""
        manifest = manifest or self.manifest()
        create_views(con, {kind: self.files(kind, manifest) for kind in SCHEMAS}, prefix=prefix)


# The kinds whose rows belong to one user (an ``ordinal`` column): a shard reads its own rows.
USER_KINDS = tuple(kind for kind, columns in SCHEMAS.items() if "ordinal" in columns)


def create_views(
    con: duckdb.DuckDBPyConnection,
    files: dict[str, list[Path]] | dict[str, list[str]],
    *,
    prefix: str = "",
    ordinals: tuple[int, int] | None = None,
) -> None:
    """A view per kind over ``files`` (paths or URLs of Parquet files with the stored columns;
    an empty table for a kind without files). With ``ordinals`` (first, stop), the views of the
    per-user kinds hold only the rows of those users."""
    for kind, columns in SCHEMAS.items():
        listed_files = files.get(kind, [])
        name = f"{prefix}{kind}"
        if listed_files:
            listed = ", ".join(sql_string(f) for f in listed_files)
            selected = ", ".join(columns)
            where = ""
            if ordinals is not None and kind in USER_KINDS:
                where = f" WHERE ordinal >= {int(ordinals[0])} AND ordinal < {int(ordinals[1])}"
            con.execute(
                f"CREATE OR REPLACE VIEW {name} AS SELECT {selected} "  # noqa: S608
                f"FROM read_parquet([{listed}], union_by_name = true){where}"
            )
        else:
            defined = ", ".join(f"{c} {t}" for c, t in columns.items())
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({defined})")
