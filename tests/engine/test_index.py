"""Index builds: published atomically, incremental when only new days arrived."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reach.engine import bitmaps
from reach.engine import index as index_module
from reach.engine.index import BuildError, IndexBuilder, current_build
from reach.engine.query import Index, IndexProvider
from reach.engine.rules import RULES, transpile
from reach.engine.store import Store
from tests.engine.conftest import Indexed, ingest_all


@pytest.fixture
def copy(indexed: Indexed, tmp_path: Path) -> Path:
    """A private copy of the indexed data directory, to build in."""
    target = tmp_path / "reach"
    shutil.copytree(indexed.data_dir, target)
    return target


def build_of(data_dir: Path) -> Path:
    build = current_build(data_dir)
    assert build is not None
    return build


def forget_reuse(build: Path) -> None:
    """Make the next build compute every shard and day afresh, as if all inputs had changed."""
    meta = build / "index.json"
    found = json.loads(meta.read_text())
    for shard in found["shards"]:
        shard |= {"signature": "", "days": {}}
    meta.write_text(json.dumps(found))


def next_day_events(indexed: Indexed, folder: Path, day: date) -> Path:
    """A small events file for ``day``, for users and products that exist."""
    users = pq.read_table(indexed.data / "users.parquet").column("user_id").to_pylist()[:50]
    product = pq.read_table(indexed.data / "products.parquet").slice(0, 1).to_pylist()[0]
    moment = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    count = len(users)
    table = pa.table(
        {
            "time": pa.array([moment] * count, type=pa.timestamp("us", tz="UTC")),
            "user_id": users,
            "advertiser_id": pa.array([product["advertiser_id"]] * count, type=pa.int64()),
            "kind": ["view"] * count,
            "product_id": [product["product_id"]] * count,
            "price": pa.array([None] * count, type=pa.float64()),
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "events-extra.parquet"
    pq.write_table(table, path)
    return path


def test_only_new_days_are_built(indexed: Indexed, copy: Path, tmp_path: Path) -> None:
    store = Store(copy / "store")
    before = Index(build_of(copy))
    new_day = before.as_of + timedelta(days=1)
    ingest_all(store, next_day_events(indexed, tmp_path / "extra", new_day).parent)
    report = IndexBuilder(store, copy).build()
    assert report.as_of == new_day
    assert report.days_built == 1
    assert report.days_reused == len(before.days)
    after = Index(build_of(copy))
    assert len(after.visitors(1001, 0, 0)) + len(after.visitors(1002, 0, 0)) > 0
    # Windows moved one day: what was "today" is now "one day ago".
    for advertiser in (1001, 1002, 1003):
        assert after.visitors(advertiser, 1, 1) == before.visitors(advertiser, 0, 0)


def test_a_failed_build_leaves_the_previous_index_in_service(
    copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = build_of(copy)
    forget_reuse(previous)
    calls = {"n": 0}
    real = bitmaps.write_family

    def failing(*args: Any, **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(index_module, "write_family", failing)
    with pytest.raises(OSError, match="disk full"):
        IndexBuilder(Store(copy / "store"), copy).build()
    assert current_build(copy) == previous
    assert not list((copy / "index" / "builds").glob("*.partial"))


def test_a_killed_build_never_leaves_a_broken_index_in_service(copy: Path) -> None:
    script = (
        "import sys; from pathlib import Path; "
        "from reach.engine.index import IndexBuilder; from reach.engine.store import Store; "
        "d = Path(sys.argv[1]); IndexBuilder(Store(d / 'store'), d).build()"
    )
    interrupted = 0
    for delay in (0.2, 0.4, 0.6, 0.8, 1.0, 1.3):
        before = build_of(copy)
        # Forget what is reusable, so that every build has real work to be killed in.
        forget_reuse(before)
        process = subprocess.Popen([sys.executable, "-c", script, str(copy)])
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        after = build_of(copy)
        interrupted += after == before
        # Whatever the moment of the kill, the index in service is whole and answers.
        assert len(Index(after).universe()) > 0
    assert interrupted, "no kill landed during a build; lengthen the build or shorten delays"
    # The next build cleans up what the killed ones left behind.
    IndexBuilder(Store(copy / "store"), copy).build()
    assert not list((copy / "index" / "builds").glob("*.partial"))


def test_a_server_picks_up_a_new_build(copy: Path) -> None:
    provider = IndexProvider(copy)
    first = provider.current()
    assert first is not None
    assert provider.current() is first
    IndexBuilder(Store(copy / "store"), copy).build()
    second = provider.current()
    assert second is not None
    assert second.build_id != first.build_id


def test_an_index_of_another_format_is_not_served_and_the_next_build_replaces_it(
    copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    meta_path = build_of(copy) / "index.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta_path.write_text(json.dumps(meta | {"format": 1}), encoding="utf-8")
    assert IndexProvider(copy).current() is None
    assert "run `reach index build`" in caplog.text
    report = IndexBuilder(Store(copy / "store"), copy).build()
    assert report.days_reused == 0  # nothing of the old format is linked into the new build
    served = IndexProvider(copy).current()
    assert served is not None and served.build_id == report.build_id


def test_a_window_without_pings_builds_an_index_where_nobody_is_near_anything(
    indexed: Indexed, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(indexed.data, data, ignore=shutil.ignore_patterns("pings-*"))
    ingest_all(Store(tmp_path / "store"), data)
    IndexBuilder(Store(tmp_path / "store"), tmp_path).build()
    index = Index(build_of(tmp_path))
    assert len(index.location([(48.85, 2.35)], 500)) == 0
    assert index.universe()
    assert index.family("location_area5").entries() == []


def test_nothing_to_index(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="nothing to index"):
        IndexBuilder(Store(tmp_path / "store"), tmp_path).build()
    assert IndexProvider(tmp_path).current() is None


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_rule_transpiles_to_spark(name: str) -> None:
    spark = transpile(RULES[name].sql, "spark")
    assert "SELECT" in spark
