"""``reach serve --workers N``: one port, every worker on the published index and switching
with it, lookalikes built by one worker only, a worker that dies replaced; bad counts refused."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reach.testing import reach_command
from tests.builders import SEGMENTS, item, retargeting
from tests.deploy.workers import Workers, connections_to_every_worker, serve_workers
from tests.indexed import ADVERTISERS

ME = "/2025-01/marketing-solutions/me"
WAIT_SECONDS = 120.0


def until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"waited in vain for {what}")


@pytest.fixture
def data_dir(sized_data: Path, tmp_path: Path) -> Path:
    """A data directory of its own over the shared, built index (as tests/indexed.py does);
    the index directory is a copy, so a test can publish another build into it."""
    found = tmp_path / "reach"
    found.mkdir()
    (found / "store").symlink_to(sized_data / "reach" / "store")
    shutil.copytree(sized_data / "reach" / "index", found / "index", symlinks=True)
    return found


INDEXED = {
    "REACH_MIN_REPORTED_SIZE": "0",
    "REACH_SIZE_PRIVACY": "exact",
    "REACH_LOOKALIKE_PROCESSES": "0",
}


@pytest.mark.parametrize("bad", ["0", "-1", "65"])
def test_a_bad_worker_count_is_refused(tmp_path: Path, bad: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REACH_")}
    env["REACH_DATA_DIR"] = str(tmp_path)
    option = subprocess.run(
        [*reach_command(), "serve", "--workers", bad],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    setting = subprocess.run(
        [*reach_command(), "serve"],
        env=env | {"REACH_WORKERS": bad},
        capture_output=True,
        text=True,
        check=False,
    )
    assert option.returncode == setting.returncode == 2
    assert "--workers" in option.stderr
    assert "REACH_WORKERS expects an integer from 1 to 64" in setting.stderr


def lease_holder(workers: Workers) -> int | None:
    """The process holding the lookalike lease (Linux's /proc/locks)."""
    inode = (workers.data_dir / "lookalikes" / "leader.lock").stat().st_ino
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        # "1: FLOCK ADVISORY WRITE <pid> <major>:<minor>:<inode> 0 EOF"
        if fields[1] == "FLOCK" and int(fields[5].rsplit(":", 1)[1]) == inode:
            return int(fields[4])
    return None


def built_lines(workers: Workers, segment_id: str) -> int:
    return workers.log_path.read_text(errors="replace").count(f"lookalike {segment_id} built")


def test_lookalikes_are_built_once_and_another_worker_takes_over(
    tmp_path: Path, database_url: str, data_dir: Path
) -> None:
    advertiser = str(ADVERTISERS[0])
    with serve_workers(tmp_path, database_url, 2, INDEXED, data_dir) as workers:
        pairs = connections_to_every_worker(workers, ME, 2)
        by_worker = {pid: connection for connection, pid in pairs}
        first, second = list(by_worker.values())[:2]

        def create(connection: Any, payload: dict[str, Any]) -> str:
            answer = workers.call(connection, "POST", f"{SEGMENTS}/create", {"data": [payload]})
            assert answer.status == 200, answer.body
            return str(answer.body["data"][0]["id"])

        def size(segment_id: str) -> int | None:
            body = {"data": [{"id": segment_id, "type": "AudienceSegment"}]}
            answer = workers.call(first, "POST", f"{SEGMENTS}/compute-sizes", body)
            assert answer.status == 200, answer.body
            found: int | None = answer.body["data"][0]["attributes"]["size"]
            return found

        seed = create(first, retargeting(advertiser, "seed", 0, 10))
        # Created through one worker, built by whichever holds the lease.
        look = create(second, item(advertiser, "look", lookalike={"seedSegmentId": seed}))
        until(lambda: size(look) is not None, "the lookalike's size")
        leader = lease_holder(workers)
        assert leader in workers.pids()
        # Both workers were asked (the creation, every size call while it was computing).
        until(lambda: built_lines(workers, look) >= 1, "the build's log line")
        assert built_lines(workers, look) == 1

        os.kill(leader, signal.SIGKILL)
        until(lambda: len(workers.pids() - {leader}) == 2, "a new worker")
        taker = until(lambda: lease_holder(workers), "a new leader")
        assert taker != leader
        for connection, _ in pairs:
            connection.close()
        survivor = workers.connect()
        first = survivor
        again = create(survivor, item(advertiser, "again", lookalike={"seedSegmentId": seed}))
        until(lambda: size(again) is not None, "the second lookalike's size")
        assert built_lines(workers, again) == 1
        assert built_lines(workers, look) == 1
        survivor.close()


def publish_copy(data_dir: Path) -> str:
    """Publish a copy of the index in service as a new build, as ``reach index build`` does
    (the build's directory, then the ``CURRENT`` pointer replaced at once): its build time."""
    index = data_dir / "index"
    current = (index / "CURRENT").read_text().strip()
    new = f"{current}-next"
    shutil.copytree(index / "builds" / current, index / "builds" / new)
    meta_path = index / "builds" / new / "index.json"
    meta = json.loads(meta_path.read_text())
    built_at = datetime.fromisoformat(meta["built_at"]) + timedelta(hours=1)
    meta |= {"build_id": new, "built_at": built_at.isoformat()}
    meta_path.write_text(json.dumps(meta))
    pointer = index / "CURRENT.next"
    pointer.write_text(new + "\n")
    pointer.replace(index / "CURRENT")
    return built_at.isoformat(timespec="seconds")


def test_every_worker_switches_to_a_published_build(
    tmp_path: Path, database_url: str, data_dir: Path
) -> None:
    advertiser = str(ADVERTISERS[0])
    with serve_workers(tmp_path, database_url, 2, INDEXED, data_dir) as workers:
        pairs = connections_to_every_worker(workers, ME, 2)
        created = workers.call(
            pairs[0][0],
            "POST",
            f"{SEGMENTS}/create",
            {"data": [retargeting(advertiser, "visitors", 0, 10)]},
        )
        body = {"data": [{"id": created.body["data"][0]["id"], "type": "AudienceSegment"}]}

        def built_at(connection: Any) -> tuple[int, str, int]:
            answer = workers.call(connection, "POST", f"{SEGMENTS}/compute-sizes", body)
            assert answer.status == 200, answer.body
            size = answer.body["data"][0]["attributes"]["size"]
            return answer.pid, answer.headers["x-reach-index-built-at"], size

        before = [built_at(connection) for connection, _ in pairs]
        assert len({pid for pid, _, _ in before}) == 2
        assert len({at for _, at, _ in before}) == 1
        published = publish_copy(data_dir)
        after = [built_at(connection) for connection, _ in pairs for _ in range(3)]
        assert {pid for pid, _, _ in after} == {pid for pid, _, _ in before}
        # From the next call on, every worker answers from the new build (same people).
        assert {at for _, at, _ in after} == {published}
        assert {size for _, _, size in after} == {size for _, _, size in before}
        for connection, _ in pairs:
            connection.close()
