"""The fixed-window rate limiter, over each of its count stores."""

from __future__ import annotations

import multiprocessing
import socket
import socketserver
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from reach.config import Settings
from reach.kit import ratelimit
from reach.kit.problems import ServiceUnavailable
from reach.kit.ratelimit import (
    REDIS_PREFIX,
    Counts,
    FileCounts,
    FixedWindowRateLimiter,
    MemoryCounts,
    RedisCounts,
    counts_of,
)
from tests.builders import ManualClock

# A Redis database only these tests write to; they remove what they wrote.
REDIS_URL = "redis://127.0.0.1:6379/12"
MOMENT = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)


def redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_counts() -> Iterator[RedisCounts]:
    if not redis_available():
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    yield RedisCounts(REDIS_URL)
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{REDIS_PREFIX}*"):
        client.delete(key)


@pytest.fixture(params=["memory", "file", "redis"])
def counts(request: pytest.FixtureRequest, tmp_path: Path) -> Counts:
    if request.param == "memory":
        return MemoryCounts()
    if request.param == "file":
        return FileCounts(tmp_path / "ratelimit.db")
    found: RedisCounts = request.getfixturevalue("redis_counts")
    return found


def test_counts_per_key_and_resets_each_minute(counts: Counts) -> None:
    clock = ManualClock(MOMENT)
    scope = uuid.uuid4().hex  # a Redis shared across runs never holds these counts already
    limiter = FixedWindowRateLimiter(2, clock, counts=counts, scope=scope)
    assert [limiter.hit("a").allowed for _ in range(3)] == [True, True, False]
    assert limiter.hit("b").remaining == 1
    state = limiter.hit("a")
    assert state.reset_epoch == int(datetime(2026, 1, 1, 0, 1, tzinfo=UTC).timestamp())
    clock.advance(seconds=30)
    assert limiter.hit("a").allowed


def test_peek_does_not_count_and_release_takes_one_back(counts: Counts) -> None:
    limiter = FixedWindowRateLimiter(2, ManualClock(MOMENT), counts=counts, scope=uuid.uuid4().hex)
    assert limiter.peek("a").allowed
    limiter.hit("a")
    limiter.hit("a")
    assert not limiter.peek("a").allowed
    limiter.release("a")
    assert limiter.peek("a").allowed
    assert limiter.peek("a").remaining == 1
    # Never below zero: a release of nothing counted leaves the next call's count at one.
    limiter.release("b")
    assert limiter.hit("b").remaining == 1


def test_limiters_sharing_a_store_count_apart(counts: Counts) -> None:
    clock = ManualClock(MOMENT)
    scope = uuid.uuid4().hex
    calls = FixedWindowRateLimiter(1, clock, counts=counts, scope=f"{scope}-calls")
    failures = FixedWindowRateLimiter(1, clock, counts=counts, scope=f"{scope}-failures")
    assert calls.hit("client").allowed
    assert failures.hit("client").allowed
    assert not calls.hit("client").allowed


def test_zero_disables() -> None:
    assert not FixedWindowRateLimiter(0, ManualClock()).enabled


def test_the_store_follows_the_settings(tmp_path: Path) -> None:
    assert isinstance(counts_of(Settings(data_dir=tmp_path)), MemoryCounts)
    shared = counts_of(Settings(data_dir=tmp_path, workers=2))
    assert isinstance(shared, FileCounts)
    assert shared.path == tmp_path / "ratelimit.db"
    assert isinstance(counts_of(Settings(data_dir=tmp_path, redis_url=REDIS_URL)), RedisCounts)


def test_keys_are_stored_hashed(tmp_path: Path, redis_counts: RedisCounts) -> None:
    secret = "client-secret-" + uuid.uuid4().hex
    for counts in (FileCounts(tmp_path / "ratelimit.db"), redis_counts):
        FixedWindowRateLimiter(5, ManualClock(MOMENT), counts=counts).hit(secret)
    assert secret.encode() not in (tmp_path / "ratelimit.db").read_bytes()
    assert secret.encode() not in (tmp_path / "ratelimit.db-wal").read_bytes()
    stored = redis.Redis.from_url(REDIS_URL).keys(f"{REDIS_PREFIX}*")
    assert stored
    assert not [key for key in stored if secret.encode() in key]


def _spend(path: str, calls: int) -> list[int]:
    """In another process: ``calls`` hits of one key; the remaining count of each allowed one."""
    limiter = FixedWindowRateLimiter(250, ManualClock(MOMENT), counts=FileCounts(Path(path)))
    return [s.remaining for s in (limiter.hit("client") for _ in range(calls)) if s.allowed]


def test_processes_sharing_the_file_allow_exactly_the_limit(tmp_path: Path) -> None:
    path = str(tmp_path / "ratelimit.db")
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        # 2 x 150 calls at the same moment, interleaved: 250 allowed in all, each count once.
        allowed = pool.starmap(_spend, [(path, 150), (path, 150)])
    assert sorted(allowed[0] + allowed[1]) == list(range(250))


# --- a Redis that is down, stuck, then back -------------------------------------------------


class Relay(socketserver.ThreadingTCPServer):
    """A TCP relay to the real Redis that can stop answering (it keeps reading, says nothing)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.stuck = threading.Event()
        super().__init__(("127.0.0.1", 0), RelayHandler)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.server_address[1]}/12"


class RelayHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server = self.server
        assert isinstance(server, Relay)
        upstream = socket.create_connection(("127.0.0.1", 6379))
        try:
            while data := self.request.recv(65536):
                if server.stuck.is_set():
                    continue
                upstream.sendall(data)
                self.request.sendall(upstream.recv(65536))
        finally:
            upstream.close()


@pytest.fixture
def relay(redis_counts: RedisCounts) -> Iterator[Relay]:
    server = Relay()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_redis_down_answers_service_unavailable(caplog: pytest.LogCaptureFixture) -> None:
    counts = RedisCounts(f"redis://127.0.0.1:{closed_port()}/12")
    limiter = FixedWindowRateLimiter(5, ManualClock(MOMENT), counts=counts)
    for _ in range(3):
        with pytest.raises(ServiceUnavailable) as refused:
            limiter.hit("client")
        assert refused.value.retry_after >= 1
    # Said once in the log, not once per call.
    assert len([r for r in caplog.records if "rate-limit store" in r.getMessage()]) == 1


def test_a_stuck_redis_answers_service_unavailable_then_recovers(
    relay: Relay, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # No pause between a failure and the next try: the test sees the recovery at once.
    monkeypatch.setattr(ratelimit, "STORE_RETRY_SECONDS", 0.0)
    limiter = FixedWindowRateLimiter(
        5, ManualClock(MOMENT), counts=RedisCounts(relay.url), scope=uuid.uuid4().hex
    )
    assert limiter.hit("client").remaining == 4
    relay.stuck.set()
    with pytest.raises(ServiceUnavailable):
        limiter.hit("client")
    relay.stuck.clear()
    # The stuck call never reached Redis; the next one, on a new connection, counts again.
    assert limiter.hit("client").remaining == 3
    messages = [r.getMessage() for r in caplog.records if "rate-limit store" in r.getMessage()]
    assert len(messages) == 2
    assert "unavailable: TimeoutError" in messages[0]
    assert "available again" in messages[1]


# --- a store that makes calls wait: each waits for itself, not for the others ---------------

PARALLEL_CALLS = 10


def _wait_of_each(counts: Counts, calls: int) -> list[tuple[float, str]]:
    """``calls`` counts at once, each in its own thread: how long each waited and what it got."""
    start = threading.Barrier(calls)
    answers: list[tuple[float, str]] = []

    def call(index: int) -> None:
        start.wait()
        began = time.perf_counter()
        try:
            counts.add(f"client-{index}", 60)
            answer = "counted"
        except ServiceUnavailable:
            answer = "503"
        answers.append((time.perf_counter() - began, answer))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _assert_waits_do_not_add_up(counts: Counts, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every call tries the store (none is refused early because another just failed).
    monkeypatch.setattr(ratelimit, "STORE_RETRY_SECONDS", 0.0)
    [(one_wait, answer)] = _wait_of_each(counts, 1)
    assert answer == "503"
    answers = _wait_of_each(counts, PARALLEL_CALLS)
    assert {answer for _, answer in answers} == {"503"}
    # Waited side by side, the longest wait is about one call's; one after the other, the last
    # call would wait PARALLEL_CALLS of them.
    assert max(wait for wait, _ in answers) < 3 * one_wait


def test_calls_on_a_locked_file_wait_side_by_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = FileCounts(tmp_path / "ratelimit.db")
    counts.add("warm", 60)
    # Another process holds the file's write lock (a stuck writer, a backup tool).
    holder = sqlite3.connect(tmp_path / "ratelimit.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        _assert_waits_do_not_add_up(counts, monkeypatch)
    finally:
        holder.rollback()
        holder.close()
    assert counts.add("warm", 60) == 2


def test_calls_on_a_stuck_redis_wait_side_by_side(
    relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = RedisCounts(relay.url)
    counts.add(uuid.uuid4().hex, 60)
    relay.stuck.set()
    _assert_waits_do_not_add_up(counts, monkeypatch)
