"""Database: the engine, its SQLite tuning, bounded waits, and one session per request that
commits once."""

from __future__ import annotations

import logging
import math
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InvalidatePoolError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from reach.engine.store import private_dir
from reach.kit.problems import ServiceUnavailable

if TYPE_CHECKING:
    from reach.config import Settings

log = logging.getLogger("reach")

WRITE_OPTION = "reach_write"
# SQLite's planner needs table statistics to choose between an index and a scan in id order
# (a search over many advertisers is 50x faster with them); they are refreshed at start and
# whenever this many rows were added since the last refresh.
ANALYZE_AFTER_NEW_ROWS = 1000
ANALYZE_ROWS_PER_INDEX = 2000
NEW_ROWS = "reach_new_rows"
FILE_IDENTITY = "reach_file_identity"

# What a call that found the store locked, unreachable or missing is told to wait (seconds).
RETRY_AFTER_SECONDS = 2
# SQLite result codes (the primary code, the low byte) that say the store is busy, locked,
# unreadable, full or gone, rather than that a statement was wrong: BUSY, LOCKED, NOMEM,
# READONLY, IOERR, FULL, CANTOPEN, PROTOCOL.
SQLITE_OUTAGES = frozenset({5, 6, 7, 8, 10, 13, 14, 15})
# PostgreSQL SQLSTATE classes of the same: connection exception, transaction rollback
# (deadlock, serialization), insufficient resources, operator intervention (a statement
# cancelled by statement_timeout, a shutdown) and system error; and lock_not_available, what
# lock_timeout raises. Syntax, integrity and data errors are other classes.
POSTGRES_OUTAGE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
POSTGRES_LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class Timeouts:
    """How long one call waits on the store before it gives up, in seconds."""

    # For a lock that another transaction holds (PostgreSQL lock_timeout, SQLite busy timeout).
    lock: float = 3.0
    # For one statement to finish (PostgreSQL statement_timeout); 0: no limit.
    statement: float = 10.0
    # For a connection: a free one from the pool, or a new one to PostgreSQL.
    connect: float = 3.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Timeouts:
        return cls(
            lock=settings.database_lock_timeout_seconds,
            statement=settings.database_statement_timeout_seconds,
            connect=settings.database_connect_timeout_seconds,
        )


# PostgreSQL connections one process keeps open (REACH_DATABASE_POOL_SIZE).
DEFAULT_POOL_SIZE = 10


# Migrations may wait for the server's writers and run long statements (an index build).
MIGRATION_TIMEOUTS = Timeouts(lock=30.0, statement=0.0, connect=10.0)


class Database:
    """The metadata store behind Reach: SQLite (embedded, WAL) or PostgreSQL.

    A SQLite store is created (owner-only) only when ``create`` is set, as the migrations do:
    the server never makes a new empty store where its store went missing.
    """

    def __init__(
        self,
        url: str,
        *,
        timeouts: Timeouts | None = None,
        create: bool = False,
        pool_size: int = DEFAULT_POOL_SIZE,
    ) -> None:
        self.url = make_url(url)
        self.timeouts = timeouts or Timeouts()
        self.pool_size = pool_size
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        database = self.url.database
        self._path: Path | None = None
        if self.is_sqlite and database and database != ":memory:":
            self._path = Path(database).absolute()
        if self.is_sqlite:
            self.engine = self._sqlite_engine(create)
        elif self.url.get_backend_name() == "postgresql":
            self.engine = self._postgres_engine()
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True)
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            bind=self.engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )
        self._new_rows = 0
        self._new_rows_lock = threading.Lock()
        # Whether the last call found the store unavailable: an outage is logged once.
        self._failing = False
        self._failing_lock = threading.Lock()
        if self.is_sqlite:
            event.listen(self._write_sessions, "before_flush", _count_new_rows)

    @classmethod
    def from_settings(cls, settings: Settings, *, create: bool = False) -> Database:
        return cls(
            settings.resolved_database_url,
            timeouts=Timeouts.from_settings(settings),
            create=create,
            pool_size=settings.database_pool_size,
        )

    @property
    def missing(self) -> bool:
        """Whether this is a SQLite store whose file is not there."""
        return self._path is not None and not self._path.exists()

    def _sqlite_engine(self, create: bool) -> Engine:
        lock_ms = round(self.timeouts.lock * 1000)
        path = self._path
        if path is None:
            engine = create_engine(
                self.url, connect_args={"check_same_thread": False, "timeout": self.timeouts.lock}
            )
        else:
            if create:
                _create_owner_only(path)
            # mode=rw: a store that was moved away is an error, never a new empty store.
            target = f"{path.as_uri()}?mode=rw"

            def connect() -> sqlite3.Connection:
                return sqlite3.connect(
                    target, uri=True, timeout=self.timeouts.lock, check_same_thread=False
                )

            engine = create_engine(self.url, creator=connect, pool_timeout=self.timeouts.connect)

        @event.listens_for(engine, "connect")
        def _tune(dbapi_connection: Any, record: Any) -> None:
            # Let SQLAlchemy issue BEGIN itself, so a writer can take the lock up front.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            for pragma in (
                "PRAGMA journal_mode=WAL",
                "PRAGMA synchronous=NORMAL",
                "PRAGMA foreign_keys=ON",
                f"PRAGMA busy_timeout={lock_ms}",
            ):
                cursor.execute(pragma)
            cursor.close()
            if path is not None:
                record.info[FILE_IDENTITY] = _identity(path)

        @event.listens_for(engine, "checkout")
        def _same_file(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
            # The store's file was moved away or replaced under the running server: no
            # connection keeps working on the old file. The next connect opens the file now
            # at the path, or fails (503) while there is none.
            if path is not None and record.info.get(FILE_IDENTITY) != _identity(path):
                raise InvalidatePoolError(f"{path} was moved or replaced")

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            # Writers start with BEGIN IMMEDIATE: they queue for the one write lock instead of
            # failing with "database is locked" when a read lock must later become a write lock.
            immediate = connection.get_execution_options().get(WRITE_OPTION, False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    def _postgres_engine(self) -> Engine:
        # Set at connection start (libpq options): no round trip, and a waiting statement fails
        # with lock_not_available or query_canceled instead of holding its call and connection.
        options = [
            f"-c lock_timeout={round(self.timeouts.lock * 1000)}",
            f"-c statement_timeout={round(self.timeouts.statement * 1000)}",
        ]
        query = self.url.query
        configured = query.get("options")
        if isinstance(configured, str):
            options.insert(0, configured)
        connect_args: dict[str, Any] = {"options": " ".join(options)}
        if "connect_timeout" not in query:
            # libpq's connect_timeout is in whole seconds, and at least 2.
            connect_args["connect_timeout"] = max(2, math.ceil(self.timeouts.connect))
        return create_engine(
            self.url,
            pool_pre_ping=True,
            # Up to three times the pool in a burst: see docs/deploy.md for the budget of
            # connections a fleet needs.
            pool_size=self.pool_size,
            max_overflow=2 * self.pool_size,
            pool_timeout=self.timeouts.connect,
            connect_args=connect_args,
        )

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed at the end when ``write``, else rolled back.
        A store that is locked, unreachable or missing raises ServiceUnavailable (503)."""
        factory = self._write_sessions if write else self._sessions
        with factory() as session:
            try:
                yield session
                if write:
                    session.commit()
            except BaseException as error:
                session.rollback()
                if is_outage(error):
                    raise self.unavailable(error) from error
                raise
        self._answered()
        if write and self.is_sqlite:
            self._note_new_rows(session.info.get(NEW_ROWS, 0))

    def unavailable(self, error: BaseException) -> ServiceUnavailable:
        """The answer to a call that found the store unavailable; the first of an outage is
        logged (the error's kind and first line: no statement, no parameters)."""
        with self._failing_lock:
            first, self._failing = not self._failing, True
        if first:
            log.warning(
                "The metadata store %s is unavailable (%s); calls answer 503 until it answers",
                self.url.render_as_string(hide_password=True),
                _reason(error),
            )
        return ServiceUnavailable(
            "The metadata store did not answer in time (it is locked, unreachable or missing);"
            f" try again in {RETRY_AFTER_SECONDS} seconds",
            retry_after=RETRY_AFTER_SECONDS,
        )

    def _answered(self) -> None:
        if not self._failing:
            return
        with self._failing_lock:
            recovered, self._failing = self._failing, False
        if recovered:
            log.info(
                "The metadata store %s is available again",
                self.url.render_as_string(hide_password=True),
            )

    def _note_new_rows(self, rows: int) -> None:
        with self._new_rows_lock:
            self._new_rows += rows
            due = self._new_rows >= ANALYZE_AFTER_NEW_ROWS
            if due:
                self._new_rows = 0
        if due:
            self.analyze()

    def analyze(self) -> None:
        """Refresh the planner's statistics (SQLite; PostgreSQL's autovacuum does its own)."""
        if not self.is_sqlite:
            return
        try:
            with self.engine.connect().execution_options(**{WRITE_OPTION: True}) as connection:
                # A sample per index keeps this to milliseconds however large the tables grow.
                connection.exec_driver_sql(f"PRAGMA analysis_limit={ANALYZE_ROWS_PER_INDEX}")
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
        except (DBAPIError, PoolTimeout) as error:
            if not is_outage(error):
                raise
            # The statistics only guide the planner: a busy store is analysed another time.
            log.info("Planner statistics not refreshed: %s", _reason(error))

    def dispose(self) -> None:
        self.engine.dispose()


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` says the store is locked, unreachable, missing or out of resources,
    rather than that a statement or its data was wrong."""
    if isinstance(error, PoolTimeout):
        # No connection came free in the pool in time.
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    cause = error.orig
    sqlite_code = getattr(cause, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        return sqlite_code & 0xFF in SQLITE_OUTAGES
    state = getattr(cause, "sqlstate", None)
    if state is None:
        # The driver's own errors carry no SQLSTATE: a connection refused or lost.
        return isinstance(error, OperationalError)
    return isinstance(state, str) and (
        state[:2] in POSTGRES_OUTAGE_CLASSES or state == POSTGRES_LOCK_NOT_AVAILABLE
    )


def _reason(error: BaseException) -> str:
    cause = error.orig if isinstance(error, DBAPIError) else error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else 'no message'}"


def _create_owner_only(path: Path) -> None:
    """Create an empty store file readable by its owner only, as SQLite would not: it gives a
    new file the umask's mode, and the -wal and -shm files the mode of the store."""
    private_dir(path.parent)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def _count_new_rows(session: Session, _context: Any, _instances: Any) -> None:
    session.info[NEW_ROWS] = session.info.get(NEW_ROWS, 0) + len(session.new)


# The PostgreSQL advisory lock that start-up steps of several hosts take in turn (migrations, a
# first client), so that containers started together neither migrate twice nor each create a
# client. SQLite needs none: a write transaction holds the database's one write lock.
STARTUP_LOCK_KEY = 0x52454143


def serialize_startup(connection: Connection | Session) -> None:
    """Wait for the start-up lock for the rest of this transaction (PostgreSQL only)."""
    bind = connection.get_bind() if isinstance(connection, Session) else connection
    if bind.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STARTUP_LOCK_KEY})
