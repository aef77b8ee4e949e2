"""Database: the engine, its SQLite tuning, and one session per request that commits once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

WRITE_OPTION = "reach_write"
# SQLite's planner needs table statistics to choose between an index and a scan in id order
# (a search over many advertisers is 50x faster with them); they are refreshed at start and
# whenever this many rows were added since the last refresh.
ANALYZE_AFTER_NEW_ROWS = 1000
ANALYZE_ROWS_PER_INDEX = 2000
NEW_ROWS = "reach_new_rows"


class Database:
    """The metadata store behind Reach: SQLite (embedded, WAL) or PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self.engine = self._sqlite_engine(url)
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            bind=self.engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )
        self._new_rows = 0
        self._new_rows_lock = threading.Lock()
        if self.is_sqlite:
            event.listen(self._write_sessions, "before_flush", _count_new_rows)

    def _sqlite_engine(self, url: str) -> Engine:
        database = self.url.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _tune(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy issue BEGIN itself, so a writer can take the lock up front.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            for pragma in (
                "PRAGMA journal_mode=WAL",
                "PRAGMA synchronous=NORMAL",
                "PRAGMA foreign_keys=ON",
                "PRAGMA busy_timeout=30000",
            ):
                cursor.execute(pragma)
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            # Writers start with BEGIN IMMEDIATE: they queue for the one write lock instead of
            # failing with "database is locked" when a read lock must later become a write lock.
            immediate = connection.get_execution_options().get(WRITE_OPTION, False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed at the end when ``write``, else rolled back."""
        factory = self._write_sessions if write else self._sessions
        with factory() as session:
            try:
                yield session
                if write:
                    session.commit()
            except BaseException:
                session.rollback()
                raise
        if write and self.is_sqlite:
            self._note_new_rows(session.info.get(NEW_ROWS, 0))

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
        with self.engine.connect().execution_options(**{WRITE_OPTION: True}) as connection:
            # A sample per index keeps this to milliseconds however large the tables grow.
            connection.exec_driver_sql(f"PRAGMA analysis_limit={ANALYZE_ROWS_PER_INDEX}")
            connection.exec_driver_sql("ANALYZE")
            connection.commit()

    def dispose(self) -> None:
        self.engine.dispose()


def _count_new_rows(session: Session, _context: Any, _instances: Any) -> None:
    session.info[NEW_ROWS] = session.info.get(NEW_ROWS, 0) + len(session.new)
