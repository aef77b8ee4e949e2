"""Rate limiting: a fixed window (one minute unless told) of calls per key.

The counts live in one of three stores, chosen by ``counts_of(settings)``:

- ``MemoryCounts``: the memory of the server process (one worker, no Redis);
- ``FileCounts``: an SQLite file of the data directory, shared by the processes of one host
  (several workers, no Redis);
- ``RedisCounts``: Redis (``REACH_REDIS_URL``), shared by every worker of every host.

A key is stored under its limiter's scope, its window and a hash of itself, so a client secret
or an address never reaches the store as it is. A store that cannot count (Redis down or stuck,
the file locked for too long) answers ``ServiceUnavailable`` fast rather than letting calls
through uncounted or holding them."""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from reach.kit.clock import Clock
from reach.kit.problems import ServiceUnavailable

if TYPE_CHECKING:
    from redis import Redis

    from reach.config import Settings

log = logging.getLogger("reach")

WINDOW_SECONDS = 60
# Every key of Reach in a shared Redis starts with this.
REDIS_PREFIX = "reach:"
# How long one call waits for the count store (Redis's answer, the file's write lock), and
# how long, after it failed, calls are refused at once before it is tried again.
STORE_TIMEOUT_SECONDS = 0.5
STORE_RETRY_SECONDS = 1.0
# How often a process removes the counts of ended windows from the shared file.
PRUNE_EVERY_SECONDS = 60
RATE_LIMIT_FILE = "ratelimit.db"


class Counts(Protocol):
    """Where counts live. ``key`` names one key of one window; its count may be forgotten
    ``ttl`` seconds after it was first counted, when the window has ended."""

    # What the store is, as readiness names it: memory, file or redis.
    kind: str

    def ping(self) -> None:
        """Raise ``ServiceUnavailable`` unless the store can count right now: the question a
        call would ask, under the same timeout, tried even while calls are being refused."""

    def add(self, key: str, ttl: int) -> int:
        """Count one more for ``key``: the count, this one included."""

    def get(self, key: str) -> int:
        """The count of ``key`` (0 when never counted)."""

    def take_back(self, key: str) -> None:
        """Count one less for ``key``, never below 0."""


class MemoryCounts:
    """Counts in this process's memory; thread-safe."""

    kind = "memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}
        self._pruned_at = 0.0

    def add(self, key: str, ttl: int) -> int:
        with self._lock:
            self._prune()
            used, expires = self._counts.get(key, (0, time.time() + ttl))
            self._counts[key] = (used + 1, expires)
        return used + 1

    def get(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, (0, 0))[0]

    def take_back(self, key: str) -> None:
        with self._lock:
            used, expires = self._counts.get(key, (0, 0))
            if used > 1:
                self._counts[key] = (used - 1, expires)
            elif used == 1:
                del self._counts[key]

    def ping(self) -> None:
        """Memory always counts."""

    def _prune(self) -> None:
        now = time.time()
        if now - self._pruned_at >= PRUNE_EVERY_SECONDS:
            self._pruned_at = now
            self._counts = {k: v for k, v in self._counts.items() if v[1] > now}


class _Outage:
    """A shared store's health: the first failure is logged (once until it recovers), and for
    ``STORE_RETRY_SECONDS`` after a failure calls are refused without trying."""

    def __init__(self, store: str) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._failed_at: float | None = None

    def check(self) -> None:
        failed_at = self._failed_at
        if failed_at is not None and time.monotonic() - failed_at < STORE_RETRY_SECONDS:
            raise self.problem()

    def failed(self, error: Exception) -> ServiceUnavailable:
        with self._lock:
            if self._failed_at is None:
                log.warning(
                    "rate-limit store (%s) unavailable: %s; calls answer 503 until it is back",
                    self.store,
                    type(error).__name__,
                )
            self._failed_at = time.monotonic()
        return self.problem()

    def succeeded(self) -> None:
        if self._failed_at is not None:
            with self._lock:
                if self._failed_at is not None:
                    self._failed_at = None
                    log.warning("rate-limit store (%s) available again", self.store)

    def problem(self) -> ServiceUnavailable:
        return ServiceUnavailable(
            f"The rate-limit store ({self.store}) does not answer; retry in a moment",
            retry_after=1,
        )


class FileCounts:
    """Counts in an SQLite file (WAL) that every process of the host opens: one UPSERT per call,
    which SQLite's write lock makes atomic across processes. Each thread of each process opens
    its own connection on first use (never one inherited across a fork), and nothing of this
    process is locked around a call: while the file is locked, every call waits for it side by
    side, each at most ``STORE_TIMEOUT_SECONDS``, not one after the other."""

    kind = "file"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._pruned_at = 0.0
        self._outage = _Outage("file")

    def _connect(self) -> sqlite3.Connection:
        local = self._local
        if getattr(local, "pid", None) == os.getpid():
            connection: sqlite3.Connection = local.connection
            return connection
        # Owner-only, like every file of the data directory.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        connection = sqlite3.connect(self.path, timeout=STORE_TIMEOUT_SECONDS, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        # Counts need no durability across a power cut: no fsync per call.
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS counts"
            " (key TEXT PRIMARY KEY, used INTEGER NOT NULL, expires INTEGER NOT NULL)"
            " WITHOUT ROWID"
        )
        local.connection, local.pid = connection, os.getpid()
        return connection

    def _run(self, sql: str, parameters: tuple[object, ...]) -> int:
        self._outage.check()
        try:
            connection = self._connect()
            self._prune(connection)
            row = connection.execute(sql, parameters).fetchone()
        except sqlite3.Error as error:
            raise self._outage.failed(error) from None
        self._outage.succeeded()
        return int(row[0]) if row else 0

    def ping(self) -> None:
        # Counting writes: the file can count when its write lock can be taken.
        try:
            connection = self._connect()
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
        except sqlite3.Error as error:
            raise self._outage.failed(error) from None
        self._outage.succeeded()

    def add(self, key: str, ttl: int) -> int:
        return self._run(
            "INSERT INTO counts (key, used, expires) VALUES (?, 1, ?)"
            " ON CONFLICT (key) DO UPDATE SET used = used + 1 RETURNING used",
            (key, int(time.time()) + ttl),
        )

    def get(self, key: str) -> int:
        return self._run("SELECT used FROM counts WHERE key = ?", (key,))

    def take_back(self, key: str) -> None:
        self._run("UPDATE counts SET used = used - 1 WHERE key = ? AND used > 0", (key,))

    def _prune(self, connection: sqlite3.Connection) -> None:
        # Two threads may both prune at a window's turn: the second deletes nothing.
        now = time.time()
        if now - self._pruned_at >= PRUNE_EVERY_SECONDS:
            self._pruned_at = now
            connection.execute("DELETE FROM counts WHERE expires <= ?", (int(now),))


# One round trip each, atomic in Redis: count and make the key end with its window; take one
# back without going below zero.
_ADD = """
local used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return used
"""
_TAKE_BACK = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


class RedisCounts:
    """Counts in Redis, shared by every process of every host. Short socket timeouts and no
    retries: a Redis that is down or stuck costs a call at most ``STORE_TIMEOUT_SECONDS``,
    and the calls after it nothing until ``STORE_RETRY_SECONDS`` have passed."""

    kind = "redis"

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._client: Redis | None = None
        self._outage = _Outage("Redis")

    def _redis(self) -> Redis:
        # Connections are made on first use, in the process that uses them (redis-py's pool
        # also notices a fork and starts afresh).
        if self._client is None:
            from redis import Redis  # noqa: PLC0415
            from redis.backoff import NoBackoff  # noqa: PLC0415
            from redis.retry import Retry  # noqa: PLC0415

            with self._lock:
                if self._client is None:
                    self._client = Redis.from_url(
                        self._url,
                        socket_timeout=STORE_TIMEOUT_SECONDS,
                        socket_connect_timeout=STORE_TIMEOUT_SECONDS,
                        retry=Retry(NoBackoff(), 0),
                    )
        return self._client

    def _run(self, script: str, key: str, *arguments: int) -> int:
        from redis.exceptions import RedisError  # noqa: PLC0415

        self._outage.check()
        try:
            found = self._redis().eval(script, 1, REDIS_PREFIX + key, *arguments)
        except RedisError as error:
            raise self._outage.failed(error) from None
        self._outage.succeeded()
        return int(found or 0)

    def ping(self) -> None:
        from redis.exceptions import RedisError  # noqa: PLC0415

        try:
            self._redis().ping()
        except RedisError as error:
            raise self._outage.failed(error) from None
        self._outage.succeeded()

    def add(self, key: str, ttl: int) -> int:
        return self._run(_ADD, key, ttl)

    def get(self, key: str) -> int:
        return self._run("return redis.call('GET', KEYS[1])", key)

    def take_back(self, key: str) -> None:
        self._run(_TAKE_BACK, key)


def counts_of(settings: Settings) -> Counts:
    """The count store ``settings`` call for: Redis when configured, else a file of the data
    directory shared by several workers, else this process's memory."""
    if settings.redis_url is not None:
        return RedisCounts(settings.redis_url.get_secret_value())
    if settings.workers > 1:
        from reach.engine.store import private_dir  # noqa: PLC0415

        return FileCounts(private_dir(settings.data_dir) / RATE_LIMIT_FILE)
    return MemoryCounts()


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """What the ``x-ratelimit-*`` headers tell a client after one call."""

    limit: int
    remaining: int
    reset_epoch: int
    allowed: bool
    # When the call was counted (epoch seconds): a refused call is told to wait until the reset.
    at_epoch: int

    @property
    def retry_after(self) -> int:
        """Whole seconds until the window resets (``Retry-After`` of a refused call)."""
        return max(self.reset_epoch - self.at_epoch, 0)

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", str(self.reset_epoch).encode()),
        ]


class FixedWindowRateLimiter:
    """Counts calls per key in the current window (a minute unless ``window_seconds`` says
    otherwise) in ``counts`` (this process's memory unless given); thread-safe. ``scope``
    keeps the keys of limiters sharing a store apart."""

    def __init__(
        self,
        limit_per_minute: int,
        clock: Clock,
        *,
        window_seconds: int = WINDOW_SECONDS,
        counts: Counts | None = None,
        scope: str = "calls",
    ) -> None:
        # The limit is per window; the name predates windows other than a minute.
        self._limit = limit_per_minute
        self._clock = clock
        self._window_seconds = window_seconds
        self._counts = counts if counts is not None else MemoryCounts()
        self._scope = scope

    @property
    def enabled(self) -> bool:
        return self._limit > 0

    def _window(self) -> tuple[int, int]:
        """This moment (epoch seconds) and its window."""
        epoch = int(self._clock.now().timestamp())
        return epoch, epoch // self._window_seconds

    def _key(self, key: str, window: int) -> str:
        digest = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
        return f"{self._scope}:{self._window_seconds}:{window}:{digest}"

    def _state(self, used: int, window: int, epoch: int, allowed: bool) -> RateLimitState:
        return RateLimitState(
            limit=self._limit,
            remaining=max(self._limit - used, 0),
            reset_epoch=(window + 1) * self._window_seconds,
            allowed=allowed,
            at_epoch=epoch,
        )

    def hit(self, key: str) -> RateLimitState:
        """Count one call for ``key`` and say whether it is within the limit."""
        epoch, window = self._window()
        # Kept a second past the window's end: a host whose clock is a little behind still
        # counts in it.
        ttl = (window + 1) * self._window_seconds - epoch + 1
        used = self._counts.add(self._key(key, window), ttl)
        return self._state(used, window, epoch, used <= self._limit)

    def peek(self, key: str) -> RateLimitState:
        """Whether one more call for ``key`` would be within the limit, without counting it: a
        caller that counts only failures asks before it tries, and counts (``hit``) once the
        attempt failed."""
        epoch, window = self._window()
        used = self._counts.get(self._key(key, window))
        return self._state(used, window, epoch, used < self._limit)

    def release(self, key: str) -> None:
        """Take back one call counted for ``key`` in the current window: a caller that counts
        an attempt before making it (so that parallel attempts cannot all pass) takes back
        the ones that turned out not to count, such as a successful sign-in."""
        _, window = self._window()
        self._counts.take_back(self._key(key, window))

    def refusal(self, retry_after: int | None, limit_when_disabled: int) -> RateLimitState:
        """The state of a client whose budget is spent: what an injected 429 reports. It resets
        with the current window, or ``retry_after`` seconds from now when given."""
        epoch, window = self._window()
        reset = (window + 1) * self._window_seconds
        return RateLimitState(
            limit=self._limit if self.enabled else limit_when_disabled,
            remaining=0,
            reset_epoch=reset if retry_after is None else epoch + retry_after,
            allowed=False,
            at_epoch=epoch,
        )
