"""``reach backup``: a checked copy of everything a Reach needs to come back, and its restore.

A backup is a directory:

- ``metadata.sqlite`` (SQLite's online backup API, never a file copy of a live WAL database) or
  ``metadata.pgdump`` (``pg_dump --format=custom`` of the PostgreSQL database);
- ``secret.key``, unless the key comes from ``REACH_SECRET_KEY`` (then the operator keeps it);
- ``data/store`` (taken under the store's lock, so no ingestion is half in), ``data/lists``,
  ``data/lookalikes`` and ``data/index`` (the build in service only, taken under the build lock);
- ``manifest.json``, written last: what the backup holds, when, by which Reach, at which schema
  revision, and the SHA-256 of every file. A backup without it is incomplete.

The index build is kept although ``reach index build`` could make it again from the store: at
10M users it is 1.6 GiB beside a store of about 2 GiB, while rebuilding takes minutes and 10 GiB
of memory, gives the index another build id (so every lookalike model is trained again and every
noisy size is drawn afresh), and leaves the restored server without sizes until it is done.
``--no-index`` leaves it out for smaller backups.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from reach.cli.context import err, load_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from reach.config import Settings

app = typer.Typer(help="Back up a Reach, or restore one from a backup.", no_args_is_help=True)

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_DUMP = "metadata.sqlite"
POSTGRES_DUMP = "metadata.pgdump"
KEY_FILE = "secret.key"
DATA = "data"
# The folders of the data directory a backup holds (the index: its build in service only).
FOLDERS = ("store", "lists", "lookalikes", "index")
CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or a restore that cannot be done, with the reason in words."""


@dataclass
class Written:
    """The files a backup holds so far: relative path -> sha256 and size."""

    root: Path
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, relative: str, source: Path) -> None:
        digest, size = copy_hashed(source, self.root / relative)
        self.files[relative] = {"sha256": digest, "bytes": size}

    def add_in_place(self, relative: str) -> None:
        path = self.root / relative
        os.chmod(path, 0o600)
        self.files[relative] = {"sha256": sha256_of(path), "bytes": path.stat().st_size}


def private_dir(path: Path) -> Path:
    from reach.engine.store import private_dir as make  # noqa: PLC0415 - loads the engine

    return make(path)


def copy_hashed(source: Path, target: Path) -> tuple[str, int]:
    """Copy ``source`` to a new owner-only file ``target``; its SHA-256 and size. Not
    flushed to disk one by one (one ``os.sync`` before the manifest or the switch costs far
    less than a flush per file of an index)."""
    private_dir(target.parent)
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as reader:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as writer:
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
    return digest.hexdigest(), size


def sha256_of(path: Path) -> str:
    with path.open("rb") as reader:
        return hashlib.file_digest(reader, "sha256").hexdigest()


def files_under(root: Path) -> Iterator[Path]:
    """The files under ``root``, in order, leaving out what Reach's own names mark as not
    part of the data: locks, scratch folders and files still being written (their names start
    with a dot)."""
    for folder, folders, names in os.walk(root):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(names):
            if not name.startswith("."):
                yield Path(folder) / name


def copy_tree(written: Written, source: Path, prefix: str) -> None:
    """Copy the files under ``source`` to ``prefix``; a file removed meanwhile (a contact
    list's compacted changes, a replaced lookalike result) is left out."""
    for path in files_under(source):
        relative = f"{prefix}/{path.relative_to(source).as_posix()}"
        try:
            written.add(relative, path)
        except FileNotFoundError:
            continue


def reach_version() -> str:
    from importlib.metadata import version  # noqa: PLC0415

    from reach.cli.main import DISTRIBUTION  # noqa: PLC0415 - main imports this module

    return version(DISTRIBUTION)


# --- the metadata store --------------------------------------------------------------------


def libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A PostgreSQL URL as pg_dump and pg_restore take it, and their environment: the password
    goes through PGPASSWORD, never on a command line other users can read."""
    environment = dict(os.environ)
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), environment


def postgres_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed: a PostgreSQL store is backed up with pg_dump and restored"
            " with pg_restore. Install PostgreSQL's client programs (of the server's major"
            " version or newer, e.g. `apt-get install postgresql-client`) and run it again."
        )
    return found


def run_tool(arguments: list[str], environment: dict[str, str], what: str) -> None:
    done = subprocess.run(  # noqa: S603 - pg_dump or pg_restore, found on PATH
        arguments, env=environment, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()
        raise BackupError(f"{what} failed: {' '.join(detail[-2:]) or f'exit {done.returncode}'}")


def revisions_of(connection: sqlite3.Connection) -> list[str]:
    try:
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.OperationalError:
        return []
    return sorted(str(row[0]) for row in rows)


def dump_sqlite(path: Path, written: Written, timeout: float) -> list[str]:
    """The store copied with SQLite's online backup API (a consistent snapshot, whatever the
    server writes meanwhile) into one self-contained file; its schema revision."""
    if not path.exists():
        raise BackupError(f"There is no store at {path}: nothing to back up")
    target = written.root / SQLITE_DUMP
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    source = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=timeout)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        # One file, without a -wal beside it.
        copy.execute("PRAGMA journal_mode=DELETE")
        revision = revisions_of(copy)
    finally:
        copy.close()
        source.close()
    written.add_in_place(SQLITE_DUMP)
    return revision


def dump_postgres(settings: Settings, url: URL, written: Written) -> list[str]:
    """``pg_dump --format=custom`` of the store; its schema revision, read just before."""
    from sqlalchemy import inspect, text  # noqa: PLC0415
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    from reach.db import Database, _reason  # noqa: PLC0415

    tool = postgres_tool("pg_dump")
    database = Database.from_settings(settings)
    revision: list[str] = []
    try:
        with database.engine.connect() as connection:
            if inspect(connection).has_table("alembic_version"):
                found = connection.execute(text("SELECT version_num FROM alembic_version"))
                revision = sorted(str(r) for r in found.scalars())
    except SQLAlchemyError as error:
        where = url.render_as_string(hide_password=True)
        raise BackupError(f"The store {where} cannot be read: {_reason(error)}") from None
    finally:
        database.dispose()
    target = written.root / POSTGRES_DUMP
    address, environment = libpq(url)
    environment["PGCONNECT_TIMEOUT"] = str(max(2, round(settings.database_connect_timeout_seconds)))
    run_tool(
        [tool, "--format=custom", f"--file={target}", f"--dbname={address}"],
        environment,
        "pg_dump",
    )
    written.add_in_place(POSTGRES_DUMP)
    return revision


# --- the data directory --------------------------------------------------------------------


def copy_locked_folders(written: Written, data_dir: Path, name: str) -> None:
    """The folders of ``data_dir/name``, each under the lock its writers take: a contact
    list's change is in whole or not at all, a lookalike's members match its summary."""
    from reach.engine.store import file_lock  # noqa: PLC0415

    root = data_dir / name
    if not root.is_dir():
        return
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        with file_lock(folder / ".lock"):
            copy_tree(written, folder, f"{DATA}/{name}/{folder.name}")


def copy_store_and_index(written: Written, data_dir: Path, with_index: bool) -> str | None:
    """The store under its shared lock (ingestions wait, index builds need not), then the
    build in service under the build lock (the next build waits, so it is not collected
    meanwhile); the id of the build copied."""
    from reach.engine.index import current_build, index_root  # noqa: PLC0415
    from reach.engine.store import Store, file_lock  # noqa: PLC0415

    store = Store(data_dir / "store")
    with ExitStack() as locks:
        if store.root.is_dir():
            locks.enter_context(store.locked(shared=True))
            copy_tree(written, store.root, f"{DATA}/store")
        if not with_index or not index_root(data_dir).is_dir():
            return None
        locks.enter_context(file_lock(index_root(data_dir) / ".build.lock"))
        build = current_build(data_dir)
        if build is None:
            return None
        copy_tree(written, build, f"{DATA}/index/builds/{build.name}")
        written.add(f"{DATA}/index/CURRENT", index_root(data_dir) / "CURRENT")
        return build.name


# --- create ---------------------------------------------------------------------------------


@contextmanager
def new_backup(dest: Path) -> Iterator[Written]:
    """An empty owner-only directory for the backup; removed again if the backup fails."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} is not an empty directory: back up into a new one")
    created = not dest.exists()
    private_dir(dest)
    try:
        yield Written(dest)
    except BaseException:
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            for leftover in dest.iterdir():
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
        raise


def back_up(settings: Settings, dest: Path, *, with_index: bool = True) -> dict[str, Any]:
    """Write a backup of the Reach of ``settings`` into ``dest``; its manifest."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    from reach.engine.store import write_atomically  # noqa: PLC0415

    url = make_url(settings.resolved_database_url)
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"Reach backs up SQLite and PostgreSQL stores, not {backend}")
    if backend == "postgresql":
        postgres_tool("pg_dump")  # before anything is written
    data_dir = settings.data_dir
    with new_backup(dest) as written:
        # The metadata store first, then the files: a list created meanwhile may come with
        # files but no row, which does no harm; the other order could give a row without files.
        if backend == "sqlite":
            revision = dump_sqlite(
                Path(url.database or ""), written, settings.database_lock_timeout_seconds
            )
        else:
            revision = dump_postgres(settings, url, written)
        if not revision:
            raise BackupError("The store has no schema yet (run `reach db upgrade`): no backup")
        key_kept = settings.secret_key is None
        if key_kept:
            key = data_dir / "secret.key"
            if not key.exists():
                raise BackupError(f"{key} is missing: the server key cannot be backed up")
            written.add(KEY_FILE, key)
        copy_locked_folders(written, data_dir, "lists")
        copy_locked_folders(written, data_dir, "lookalikes")
        build = copy_store_and_index(written, data_dir, with_index)
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "reach_version": reach_version(),
            "database": {
                "backend": backend,
                "file": SQLITE_DUMP if backend == "sqlite" else POSTGRES_DUMP,
                "schema_revision": revision,
            },
            "server_key_kept": key_kept,
            "index_build": build,
            "files": written.files,
        }
        # Written last, once every file is on disk: a backup with a manifest is complete.
        os.sync()
        write_atomically(dest / MANIFEST, json.dumps(manifest, indent=1))
    return manifest


# --- restore --------------------------------------------------------------------------------


def read_manifest(source: Path) -> dict[str, Any]:
    """The manifest of the backup at ``source``, refused unless it is whole and Reach's."""
    path = source / MANIFEST
    if not source.is_dir():
        raise BackupError(f"{source} is not a backup directory")
    if not path.exists():
        raise BackupError(
            f"{source} is not a complete backup: it has no {MANIFEST}, which a backup writes"
            " last (the backup was interrupted, or this is not a Reach backup)"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        database, files = manifest["database"], manifest["files"]
        revision = database["schema_revision"]
        ok = (
            isinstance(files, dict)
            and database["backend"] in ("sqlite", "postgresql")
            and database["file"] in files
            and isinstance(revision, list)
            and all(isinstance(r, str) for r in revision)
            and isinstance(manifest["server_key_kept"], bool)
        )
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise BackupError(f"{path} is not a complete Reach backup manifest")
    if manifest.get("format") != FORMAT:
        raise BackupError(
            f"{source} is a backup of format {manifest.get('format')!r}; this Reach restores"
            f" format {FORMAT}: restore it with the Reach that made it"
        )
    for relative in files:
        parts = PurePosixPath(relative).parts
        allowed = relative in (SQLITE_DUMP, POSTGRES_DUMP, KEY_FILE) or (
            len(parts) > 2 and parts[0] == DATA and parts[1] in FOLDERS
        )
        if not allowed or ".." in parts or PurePosixPath(relative).is_absolute():
            raise BackupError(f"{path} names a file outside a Reach backup: {relative!r}")
    return dict(manifest)


def check_schema(revision: list[str]) -> bool:
    """Refuse a backup made at a schema this Reach does not know (a newer Reach's); whether
    the restored store will need ``reach db upgrade``."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    from reach.schema import migrations_dir  # noqa: PLC0415

    scripts = ScriptDirectory(str(migrations_dir()))
    known = {script.revision for script in scripts.walk_revisions()}
    unknown = sorted(set(revision) - known)
    if unknown:
        raise BackupError(
            f"The backup's store was migrated by a newer Reach (revision {', '.join(unknown)}):"
            " restore it with that Reach or a later one"
        )
    return set(revision) != set(scripts.get_heads())


def check_backup(source: Path, manifest: dict[str, Any]) -> None:
    """Every file of the manifest is there with its checksum."""
    for relative, expected in manifest["files"].items():
        path = source / relative
        if not path.is_file():
            raise BackupError(f"The backup is missing {relative}")
        if sha256_of(path) != expected["sha256"]:
            raise BackupError(f"{relative} does not match its checksum: the backup is damaged")


def staged(source: Path, manifest: dict[str, Any], staging: Path) -> None:
    """Copy the backup's data files into ``staging``, each checked against its checksum."""
    for relative, expected in manifest["files"].items():
        path = source / relative
        if not relative.startswith(f"{DATA}/") and relative != KEY_FILE:
            continue
        if not path.is_file():
            raise BackupError(f"The backup is missing {relative}")
        target = staging / (relative if relative == KEY_FILE else relative[len(DATA) + 1 :])
        digest, _size = copy_hashed(path, target)
        if digest != expected["sha256"]:
            raise BackupError(f"{relative} does not match its checksum: the backup is damaged")


def postgres_tables(settings: Settings) -> list[str]:
    from sqlalchemy import inspect  # noqa: PLC0415

    from reach.db import Database  # noqa: PLC0415

    database = Database.from_settings(settings)
    try:
        with database.engine.connect() as connection:
            return list(inspect(connection).get_table_names())
    finally:
        database.dispose()


def put_in_place(staged: Path, current: Path) -> None:
    """Replace ``current`` with ``staged``. A folder that is a link to another volume (contact
    lists and lookalike results shared by several hosts) stays a link: its content is replaced."""
    if current.is_symlink() and current.is_dir():
        shared = current.resolve()
        for old in list(shared.iterdir()):
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            else:
                old.unlink()
        if staged.is_dir():
            for new in staged.iterdir():
                shutil.move(new, shared / new.name)
        return
    if current.is_dir() and not current.is_symlink():
        shutil.rmtree(current)
    elif current.exists() or current.is_symlink():
        current.unlink()
    if staged.exists():
        os.replace(staged, current)


def restore_from(settings: Settings, source: Path, *, force: bool = False) -> list[str]:
    """Restore the backup at ``source`` into the data directory and store of ``settings``;
    what the operator should still know or do."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    from reach.db import _reason  # noqa: PLC0415

    manifest = read_manifest(source)
    needs_upgrade = check_schema(manifest["database"]["schema_revision"])
    url = make_url(settings.resolved_database_url)
    backend = manifest["database"]["backend"]
    if url.get_backend_name() != backend:
        raise BackupError(
            f"The backup holds a {backend} store, and this Reach uses"
            f" {url.get_backend_name()}: "
            + (
                "set REACH_DATABASE_URL to an empty PostgreSQL database"
                if backend == "postgresql"
                else "unset REACH_DATABASE_URL (SQLite in the data directory)"
            )
        )
    data_dir = settings.data_dir
    if data_dir.exists() and any(data_dir.iterdir()) and not force:
        raise BackupError(
            f"{data_dir} is not empty: restore into an empty data directory, or add --force to"
            " replace its Reach data"
        )
    sqlite_path = Path(url.database or "").absolute() if backend == "sqlite" else None
    if sqlite_path is not None and sqlite_path.exists() and not force:
        raise BackupError(f"{sqlite_path} exists: add --force to replace it")
    if backend == "postgresql":
        pg_restore = postgres_tool("pg_restore")
        try:
            tables = postgres_tables(settings)
        except SQLAlchemyError as error:
            where = url.render_as_string(hide_password=True)
            raise BackupError(f"The database {where} cannot be read: {_reason(error)}") from None
        if tables and not force:
            raise BackupError(
                f"The database {url.render_as_string(hide_password=True)} is not empty: restore"
                " into an empty database, or add --force to replace its tables"
            )

    private_dir(data_dir)
    for leftover in data_dir.glob(".restore-*"):  # of a restore that was killed
        shutil.rmtree(leftover, ignore_errors=True)
    staging = data_dir / f".restore-{uuid.uuid4().hex}"
    try:
        private_dir(staging)
        staged(source, manifest, staging)
        os.sync()
        dump = source / manifest["database"]["file"]
        if sqlite_path is not None:
            private_dir(sqlite_path.parent)
            store_copy = sqlite_path.with_name(f".{sqlite_path.name}.restore-{uuid.uuid4().hex}")
            try:
                digest, _size = copy_hashed(dump, store_copy)
                if digest != manifest["files"][manifest["database"]["file"]]["sha256"]:
                    raise BackupError(
                        f"{dump.name} does not match its checksum: the backup is damaged"
                    )
                os.sync()
                for stale in ("-wal", "-shm"):
                    sqlite_path.with_name(sqlite_path.name + stale).unlink(missing_ok=True)
                os.replace(store_copy, sqlite_path)
            finally:
                store_copy.unlink(missing_ok=True)
        else:
            if sha256_of(dump) != manifest["files"][manifest["database"]["file"]]["sha256"]:
                raise BackupError(f"{dump.name} does not match its checksum: the backup is damaged")
            address, environment = libpq(url)
            clean = ["--clean", "--if-exists"] if force else []
            run_tool(
                [
                    pg_restore,
                    "--no-owner",
                    "--no-privileges",
                    "--exit-on-error",
                    "--single-transaction",
                    *clean,
                    f"--dbname={address}",
                    str(dump),
                ],
                environment,
                "pg_restore",
            )
        for name in (*FOLDERS, KEY_FILE):
            put_in_place(staging / name, data_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    notes = []
    if manifest["server_key_kept"] and settings.secret_key is not None:
        notes.append(
            "REACH_SECRET_KEY is set, so the restored secret.key is not used: unset it, or the"
            " restored clients' secrets and tokens will not be accepted"
        )
    if not manifest["server_key_kept"] and settings.secret_key is None:
        notes.append(
            "The backup holds no server key (it came from REACH_SECRET_KEY): set REACH_SECRET_KEY"
            " to that key before starting Reach, or no client secret will be accepted"
        )
    if manifest["index_build"] is None:
        notes.append("The backup holds no index: run `reach index build` before serving sizes")
    if needs_upgrade:
        notes.append("The restored store has an older schema: run `reach db upgrade`")
    return notes


# --- commands -------------------------------------------------------------------------------


@contextmanager
def refusals() -> Iterator[None]:
    """A BackupError ends the command with its reason in one line and exit status 1."""
    try:
        yield
    except BackupError as error:
        err.print(f"[red]error:[/red] {escape(str(error))}")
        raise typer.Exit(1) from None


@app.command()
def create(
    dest: Annotated[Path, typer.Argument(help="A new (or empty) directory for the backup.")],
    index: Annotated[
        bool,
        typer.Option(
            "--index/--no-index",
            help="Keep the index build in service (default), or leave it to `reach index"
            " build` after a restore.",
        ),
    ] = True,
) -> None:
    """Back up the metadata store, the server key and the data directory into DEST."""
    settings = load_settings()
    with refusals():
        manifest = back_up(settings, dest, with_index=index)
    total = sum(f["bytes"] for f in manifest["files"].values())
    err.print(
        f"Backed up {len(manifest['files'])} files ({total / 2**20:.1f} MiB) into"
        f" {escape(str(dest))}, schema {', '.join(manifest['database']['schema_revision'])},"
        f" index build {manifest['index_build'] or 'none'}"
    )
    if not manifest["server_key_kept"]:
        err.print(
            "The server key comes from REACH_SECRET_KEY and is not in the backup: keep it"
            " safe apart from the backup, a restore needs it."
        )


@app.command()
def check(
    src: Annotated[Path, typer.Argument(help="The backup directory.")],
) -> None:
    """Check a backup: a complete manifest, every file with its checksum, a known schema."""
    with refusals():
        manifest = read_manifest(src)
        check_schema(manifest["database"]["schema_revision"])
        check_backup(src, manifest)
    err.print(
        f"{escape(str(src))}: a complete backup of {manifest['created_at']} (Reach"
        f" {manifest['reach_version']}), {len(manifest['files'])} files, every checksum right"
    )


@app.command()
def restore(
    src: Annotated[Path, typer.Argument(help="The backup directory.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace the Reach data of a data directory or database not empty."
        ),
    ] = False,
) -> None:
    """Restore a backup into REACH_DATA_DIR and REACH_DATABASE_URL (stop Reach first)."""
    settings = load_settings()
    with refusals():
        notes = restore_from(settings, src, force=force)
    err.print(f"Restored {escape(str(src))} into {escape(str(settings.data_dir))}")
    for note in notes:
        err.print(f"[yellow]note:[/yellow] {escape(note)}")
