"""The lookalike worker: finds lookalikes without a result for their current inputs and builds
them, off the request path.

A scan reads every lookalike segment, computes its inputs' key and builds those without a
result. Nothing else records what is pending, so there is nothing to lose: a server that
crashed mid-build finds the same lookalike missing at its next scan and builds it again
(``resume`` means exactly that). The server scans when it starts, after a lookalike is created or
updated, and when a size request meets a lookalike without a result. Models are trained in a
separate process (``REACH_LOOKALIKE_PROCESSES``), so a build never takes the API's CPU time
under the GIL; with 0 they are trained in the worker's thread.

Of the server processes sharing a data directory (``reach serve --workers N``), one builds:
the one holding the lease, an exclusive lock on ``lookalikes/leader.lock`` that it keeps while
it lives. The others stand by, trying the lease every ``POLL_SECONDS``; a wake they receive
(a lookalike created through them) is passed on by touching ``lookalikes/wake``, which the
leader looks at as often. When the leader dies the kernel frees its lock and another process
takes over within ``POLL_SECONDS``, scanning at once.
"""

from __future__ import annotations

import fcntl
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pyroaring import FrozenBitMap

from reach.audience_segment.repository import AudienceSegmentRepository
from reach.config import Settings
from reach.contact_list.service import ListMatches
from reach.db import Database
from reach.engine.features import FeatureSpace, user_features
from reach.engine.lookalike import build
from reach.engine.query import Index, IndexProvider
from reach.engine.store import private_dir
from reach.kit.metrics import LOOKALIKES_PENDING
from reach.lookalike.service import Inputs, inputs
from reach.lookalike.storage import ResultStore
from reach.reference.taxonomy import taxonomy

log = logging.getLogger("reach.lookalike")

Progress = Callable[[int, int, int], None]  # (segment id, done, total)

LEASE_FILE = "leader.lock"
WAKE_FILE = "wake"
# How often a standing-by process tries the lease, and the leader looks for others' wakes.
POLL_SECONDS = 1.0

# The feature space of the last index a process built from: lookalikes built one after the
# other on the same index share it.
_spaces: dict[str, FeatureSpace] = {}


def _space(index: Index) -> FeatureSpace:
    found = _spaces.get(index.build_id)
    if found is None:
        _spaces.clear()
        found = _spaces[index.build_id] = user_features(index, taxonomy().ancestors)
    return found


def build_and_save(
    index_directory: str,
    results_root: str,
    segment_id: int,
    key: str,
    seed: bytes,
    target_size: int,
) -> dict[str, Any]:
    """Train, score and store one lookalike; runs in a worker process (arguments pickle)."""
    index = Index(Path(index_directory))
    found = build(_space(index), index.countries(), FrozenBitMap.deserialize(seed), target_size)
    summary = found.summary() | {
        "segment_id": segment_id,
        "key": key,
        "build_id": index.build_id,
        "index_as_of": index.as_of.isoformat(),
        "target_size": target_size,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    ResultStore(Path(results_root)).save(segment_id, key, found.members, summary)
    return summary


def _follow_parent(parent: int) -> None:
    """Worker-process initializer: end the process when the server that started it is gone
    (killed servers leave no orphan trainers behind)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="reach-parent-watch", daemon=True).start()


class Lease:
    """The right to build the lookalikes of one data directory, held by one process at a time
    (an exclusive ``flock``, freed by the kernel when its holder dies)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def take(self) -> bool:
        """Whether this process holds the lease (now or already); never waits."""
        if self._handle is not None:
            return True
        private_dir(self.path.parent)
        handle = self.path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._handle = handle
        return True

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


@dataclass(frozen=True)
class Built:
    segment_id: int
    summary: dict[str, Any]


@dataclass(frozen=True)
class Scan:
    """What one scan did: the lookalikes built, and those that failed (with why)."""

    built: list[Built]
    failed: list[tuple[int, str]]


class LookalikeWorker:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        indexes: IndexProvider,
        lists: ListMatches,
        results: ResultStore,
    ) -> None:
        self.settings = settings
        self.database = database
        self.indexes = indexes
        self.lists = lists
        self.results = results
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._pool: Executor | None = None
        self._lease = Lease(results.root / LEASE_FILE)
        self._wake_file = results.root / WAKE_FILE

    # --- scanning ----------------------------------------------------------------------------

    def pending(self) -> list[Inputs]:
        """The lookalikes without a result for their current inputs (and a clean-up of the
        results of deleted ones)."""
        index = self.indexes.current()
        if index is None:
            return []
        with self.database.session() as session:
            segments = AudienceSegmentRepository(session)
            lookalikes = segments.of_type("Lookalike")
            seeds = segments.by_ids_anywhere(
                s.seed_segment_id for s in lookalikes if s.seed_segment_id is not None
            )
            self.results.keep_only({s.id for s in lookalikes})
            found = []
            for lookalike in lookalikes:
                if lookalike.seed_segment_id not in seeds:
                    continue
                wanted = inputs(
                    index, self.settings, self.lists, lookalike, seeds[lookalike.seed_segment_id]
                )
                done = self.results.has(lookalike.id, wanted.key)
                if not done and self.results.error(lookalike.id, wanted.key) is None:
                    found.append(wanted)
        return found

    def run_once(self, progress: Progress | None = None) -> Scan:
        """Build every pending lookalike, one after the other."""
        index = self.indexes.current()
        todo = self.pending()
        built: list[Built] = []
        failed: list[tuple[int, str]] = []
        for done, wanted in enumerate(todo):
            LOOKALIKES_PENDING.set(len(todo) - done)
            if progress is not None:
                progress(wanted.segment_id, done, len(todo))
            if index is None or self._closed:
                break
            with self.results.claim(wanted.segment_id) as mine:
                if not mine or self.results.has(wanted.segment_id, wanted.key):
                    continue  # another process builds it, or just did
                try:
                    summary = self._run(index, wanted)
                except Exception as error:
                    log.exception("lookalike %s could not be built", wanted.segment_id)
                    reason = f"{type(error).__name__}: {error}"
                    self.results.fail(wanted.segment_id, wanted.key, reason)
                    failed.append((wanted.segment_id, reason))
                    continue
            log.info(
                "lookalike %s built: %s members in %.1f s",
                wanted.segment_id,
                summary["size"],
                summary["seconds"],
            )
            built.append(Built(wanted.segment_id, summary))
        LOOKALIKES_PENDING.set(0)
        if progress is not None:
            progress(0, len(todo), len(todo))
        return Scan(built, failed)

    def _run(self, index: Index, wanted: Inputs) -> dict[str, Any]:
        arguments = (
            str(index.directory),
            str(self.results.root),
            wanted.segment_id,
            wanted.key,
            wanted.seed.serialize(),
            wanted.target_size,
        )
        if self.settings.lookalike_processes == 0:
            return build_and_save(*arguments)
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.settings.lookalike_processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_follow_parent,
                    initargs=(os.getpid(),),
                )
            pool = self._pool
        result: dict[str, Any] = pool.submit(build_and_save, *arguments).result()
        return result

    # --- the background thread ---------------------------------------------------------------

    def wake(self) -> None:
        """Ask for a scan soon (starting the worker thread on first use)."""
        with self._lock:
            if self._closed:
                return
            self._idle.clear()
            self._wanted.set()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="reach-lookalikes", daemon=True
                )
                self._thread.start()
        if not self._lease.held:
            self._pass_on()

    def _pass_on(self) -> None:
        """Tell the leader (another process) that a scan is wanted."""
        private_dir(self._wake_file.parent)
        self._wake_file.write_text(f"{time.time_ns()} {os.getpid()}\n", encoding="utf-8")

    def _woken(self) -> str:
        """The last wake another process passed on ("": never). Its content, not its time: two
        wakes within one tick of the file system's clock share a modification time."""
        try:
            return self._wake_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    def _loop(self) -> None:
        seen = self._woken()
        while True:
            with self._lock:
                if self._closed:
                    return
            if not self._lease.held:
                if not self._lease.take():
                    # Standing by: a wake here was passed on to the leader.
                    self._wanted.wait(POLL_SECONDS)
                    with self._lock:
                        if not self._closed:
                            self._wanted.clear()
                            self._idle.set()
                    continue
                log.info("this process builds the lookalikes (it holds the lease)")
                # What was asked while nobody led, or while the last leader died mid-build.
                self._wanted.set()
            if not self._wanted.wait(POLL_SECONDS) and self._woken() == seen:
                continue
            seen = self._woken()
            with self._lock:
                if self._closed:
                    return
                self._wanted.clear()
            try:
                self.run_once()
            except Exception:
                log.exception("lookalike scan failed")
            with self._lock:
                if not self._wanted.is_set():
                    self._idle.set()

    def health(self) -> str:
        """What readiness reports of the worker: ``running`` while it can scan (its thread is
        alive and holds the lease, or is not started yet because nothing asked), ``standby``
        while another process holds the lease and this one waits to take over, ``stopped``
        once closed or crashed."""
        with self._lock:
            if self._closed or (self._thread is not None and not self._thread.is_alive()):
                return "stopped"
            if self._thread is not None and not self._lease.held:
                return "standby"
        return "running"

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no scan is wanted or running; False on timeout."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wanted.set()
            thread, pool = self._thread, self._pool
        if thread is not None:
            # A model being trained finishes on its own (and is stored); nothing waits for it.
            thread.join(timeout=1)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        self._lease.release()
