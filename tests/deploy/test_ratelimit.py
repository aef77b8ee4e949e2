"""The rate limit of a server with several workers: one budget per client, whichever worker
answers; a count store that is down or stuck answers 503 fast."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from tests.deploy.workers import (
    Answer,
    Workers,
    connections_to_every_worker,
    free_listening_socket,
    serve_workers,
)
from tests.kit.test_ratelimit import REDIS_URL, redis_available

ME = "/2025-01/marketing-solutions/me"
LIMIT = 250
CALLS = 300
# A measurement this close to the end of a minute waits for the next one, so that its calls
# fall in one window; if the window changed anyway (a slow machine), it is measured again.
MIN_SECONDS_LEFT = 20
ATTEMPTS = 3


@pytest.fixture
def clean_redis() -> Iterator[redis.Redis]:
    if not redis_available():
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    for key in client.scan_iter("reach:*"):
        client.delete(key)


def spend(workers: Workers) -> list[Answer]:
    """``CALLS`` calls of one client over connections to both workers, in one window."""
    left = 60 - time.time() % 60
    if left < MIN_SECONDS_LEFT:
        time.sleep(left + 0.5)
    pairs = connections_to_every_worker(workers, ME, 2)
    share = [CALLS // len(pairs) + (i < CALLS % len(pairs)) for i in range(len(pairs))]

    def run(index: int) -> list[Answer]:
        connection = pairs[index][0]
        return [workers.call(connection, "GET", ME) for _ in range(share[index])]

    with ThreadPoolExecutor(len(pairs)) as pool:
        answers = [a for found in pool.map(run, range(len(pairs))) for a in found]
    for connection, _ in pairs:
        connection.close()
    return answers


def assert_exactly_the_limit(workers: Workers) -> None:
    for _ in range(ATTEMPTS):
        answers = spend(workers)
        if len({a.headers["x-ratelimit-reset"] for a in answers}) == 1:
            break
        # The calls straddled two windows: the counts of the new one start afresh.
        time.sleep(61 - time.time() % 60)
    else:
        pytest.fail("every attempt straddled two windows")
    statuses = Counter(a.status for a in answers)
    assert statuses == {200: LIMIT, 429: CALLS - LIMIT}
    # Each remaining count was told once: one budget, whichever worker answered.
    allowed = [a for a in answers if a.status == 200]
    assert sorted(int(a.headers["x-ratelimit-remaining"]) for a in allowed) == list(range(LIMIT))
    assert len({a.pid for a in allowed}) == 2
    refused = [a for a in answers if a.status == 429]
    assert {a.headers["x-ratelimit-remaining"] for a in refused} == {"0"}
    assert {a.body["errors"][0]["code"] for a in refused} == {"rate-limit-exceeded"}


def test_two_workers_share_the_limit_in_redis(
    tmp_path: Path, database_url: str, clean_redis: redis.Redis
) -> None:
    environment = {"REACH_RATE_LIMIT_PER_MINUTE": str(LIMIT), "REACH_REDIS_URL": REDIS_URL}
    with serve_workers(tmp_path, database_url, 2, environment) as workers:
        assert_exactly_the_limit(workers)
    assert clean_redis.keys("reach:calls:*")
    assert not (workers.data_dir / "ratelimit.db").exists()


def test_two_workers_share_the_limit_in_a_file(tmp_path: Path, database_url: str) -> None:
    environment = {"REACH_RATE_LIMIT_PER_MINUTE": str(LIMIT)}
    with serve_workers(tmp_path, database_url, 2, environment) as workers:
        assert_exactly_the_limit(workers)
    assert (workers.data_dir / "ratelimit.db").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("outage", ["closed", "stuck"])
def test_a_redis_down_or_stuck_answers_503_and_says_so_once(
    tmp_path: Path, database_url: str, outage: str
) -> None:
    listening = free_listening_socket()
    port = listening.getsockname()[1]
    if outage == "closed":
        listening.close()
    environment = {"REACH_REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    try:
        with serve_workers(tmp_path, database_url, 1, environment, token=False) as workers:
            connection = workers.connect()
            for _ in range(3):
                # Calls with a token and token requests alike: nothing goes through uncounted.
                refused = workers.call(connection, "GET", ME, token="not-a-token")
                assert refused.status == 503
                assert refused.body["errors"][0]["code"] == "service-unavailable"
                assert int(refused.headers["retry-after"]) >= 1
                connection.request(
                    "POST",
                    "/oauth2/token",
                    "grant_type=client_credentials&client_id=a&client_secret=b",
                    {"Content-Type": "application/x-www-form-urlencoded"},
                )
                response = connection.getresponse()
                response.read()
                assert response.status == 503
            connection.close()
            log = workers.log_path.read_text(errors="replace")
    finally:
        listening.close()
    assert log.count("rate-limit store (Redis) unavailable") == 1
    assert f":{port}" not in log
