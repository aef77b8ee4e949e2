"""Shards: the index split by user ordinal, built, reused and published shard by shard."""

from __future__ import annotations

import json
import math
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyroaring import BitMap
from typer.testing import CliRunner

from reach.cli.main import app
from reach.engine.bitmaps import Family
from reach.engine.index import SHARD_DONE, IndexBuilder, current_build, ordinal_range
from reach.engine.query import IncompleteIndexError, Index, IndexProvider
from reach.engine.shards import Shard, check_span, shards_for
from reach.engine.store import Store
from tests.engine.conftest import Indexed, ingest_all, resharded

SPAN = 512


@pytest.fixture(scope="module")
def sharded(indexed: Indexed, tmp_path_factory: pytest.TempPathFactory) -> Indexed:
    return resharded(indexed, tmp_path_factory.mktemp("shards"), SPAN)


@pytest.fixture
def copy(sharded: Indexed, tmp_path: Path) -> Path:
    target = tmp_path / "reach"
    shutil.copytree(sharded.data_dir, target)
    return target


def test_shards_cover_every_ordinal_once() -> None:
    found = shards_for(1000, 256)
    assert found == [Shard(n, n * 256, (n + 1) * 256) for n in range(4)]
    assert shards_for(None, 256) == [Shard(0, 0, 256)]
    assert shards_for(255, 256) == [Shard(0, 0, 256)]
    assert shards_for(256, 256)[-1] == Shard(1, 256, 512)


@pytest.mark.parametrize("span", [0, 3, 8, 100, 2**33])
def test_a_span_that_is_not_a_power_of_two_in_range_is_refused(span: int) -> None:
    with pytest.raises(ValueError, match="power of two"):
        check_span(span)


def test_each_shard_holds_only_its_users_and_together_all_of_them(
    indexed: Indexed, sharded: Indexed
) -> None:
    shards = sharded.index.shards
    assert len(shards) == len(indexed.user_ids) // SPAN + 1
    seen = 0
    for number, shard in enumerate(shards):
        users = shard.universe()
        assert all(number * SPAN <= ordinal < (number + 1) * SPAN for ordinal in users)
        seen += len(users)
    assert seen == len(indexed.index.universe())
    assert sharded.index.universe() == indexed.index.universe()


def test_sizes_are_the_sums_of_the_shards_sizes(indexed: Indexed, sharded: Indexed) -> None:
    whole, split = indexed.index, sharded.index
    for advertiser in (1001, 1002, 1003):
        for kind in ("All", "Buyers", "NonBuyers"):
            members = split.retargeting(advertiser, kind, 0, 30)
            assert members == whole.retargeting(advertiser, kind, 0, 30)
            assert len(members) == sum(
                len(s.retargeting(advertiser, kind, 0, 30)) for s in split.shards
            )
    assert split.countries() == whole.countries()
    assert split.family("in_market_any").size(("Low",)) == len(
        whole.family("in_market_any").get(("Low",))
    )


def test_a_half_published_shard_set_is_never_served(copy: Path) -> None:
    provider = IndexProvider(copy)
    served = provider.current()
    assert served is not None
    IndexBuilder(Store(copy / "store"), copy, shard_span=SPAN).build()
    build = current_build(copy)
    assert build is not None
    (build / "shards" / "00002" / SHARD_DONE).unlink()
    with pytest.raises(IncompleteIndexError, match="lacks its finished shard 00002"):
        Index(build)
    # The server keeps the index it had; a fresh server has none to offer.
    assert provider.current() is served
    assert IndexProvider(copy).current() is None


def test_a_shard_missing_from_the_list_is_never_served(copy: Path) -> None:
    build = current_build(copy)
    assert build is not None
    meta = json.loads((build / "index.json").read_text())
    meta["shards"].pop(1)
    (build / "index.json").write_text(json.dumps(meta))
    with pytest.raises(IncompleteIndexError):
        Index(build)


def late_events(sharded: Indexed, folder: Path, ordinals: range) -> Path:
    """Events of the last stored day for the users of ``ordinals`` (a backfill)."""
    users = [sharded.user_ids[o] for o in ordinals]
    product = pq.read_table(sharded.data / "products.parquet").slice(0, 1).to_pylist()[0]
    day = sharded.index.as_of
    moment = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    count = len(users)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "events-late.parquet"
    pq.write_table(
        pa.table(
            {
                "time": pa.array([moment] * count, type=pa.timestamp("us", tz="UTC")),
                "user_id": users,
                "advertiser_id": pa.array([product["advertiser_id"]] * count, type=pa.int64()),
                "kind": ["view"] * count,
                "product_id": [product["product_id"]] * count,
                "price": pa.array([None] * count, type=pa.float64()),
            }
        ),
        path,
    )
    return path


def test_a_build_rebuilds_only_the_shards_new_data_touches(
    sharded: Indexed, copy: Path, tmp_path: Path
) -> None:
    store = Store(copy / "store")
    before = Index(current_build(copy) or copy)
    # Late events of the last day, for users of the second shard only.
    ingest_all(store, late_events(sharded, tmp_path / "late", range(SPAN, SPAN + 40)).parent)
    report = IndexBuilder(store, copy, shard_span=SPAN).build()
    assert report.shards == len(before.shards)
    assert report.shards_reused == len(before.shards) - 1
    assert report.days_built == 1  # that day, in that shard
    after = Index(current_build(copy) or copy)
    advertiser = int(pq.read_table(sharded.data / "products.parquet")["advertiser_id"][0].as_py())
    visited = after.visitors(advertiser, 0, 0) - before.visitors(advertiser, 0, 0)
    assert set(visited) <= set(range(SPAN, SPAN + 40)) and visited
    for number, shard in enumerate(after.shards):
        if number != 1:
            assert shard.visitors(advertiser, 0, 0) == before.shards[number].visitors(
                advertiser, 0, 0
            )


def test_a_new_day_is_built_in_every_shard_and_old_days_are_reused(
    sharded: Indexed, copy: Path, tmp_path: Path
) -> None:
    store = Store(copy / "store")
    before = Index(current_build(copy) or copy)
    late = late_events(sharded, tmp_path / "next", range(40))
    table = pq.read_table(late)
    moved = table.set_column(
        0, "time", pa.array([t + timedelta(days=1) for t in table["time"].to_pylist()])
    )
    pq.write_table(moved, late)
    ingest_all(store, late.parent)
    report = IndexBuilder(store, copy, shard_span=SPAN).build()
    shards = len(before.shards)
    assert report.shards_reused == 0  # the as-of day moved: every window moved
    assert report.days_reused == len(before.days) * shards
    assert report.days_built == shards


def test_ordinal_range_reads_the_footer(tmp_path: Path) -> None:
    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"ordinal": pa.array([7, 3, 900], type=pa.uint32())}), path)
    assert ordinal_range(path) == (3, 900)
    pq.write_table(pa.table({"ordinal": pa.array([], type=pa.uint32())}), path)
    assert ordinal_range(path) is None


def test_reach_index_build_takes_a_shard_span(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REACH_DATA_DIR", str(copy))
    result = CliRunner().invoke(app, ["index", "build", "--shard-span", "1024"])
    assert result.exit_code == 0, result.output
    assert "shard(s)" in result.output
    built = Index(current_build(copy) or copy)
    assert built.shard_span == 1024 and len(built.shards) == 3
    refused = CliRunner().invoke(app, ["index", "build", "--shard-span", "1000"])
    assert refused.exit_code == 2
    assert "power of two" in refused.output
    assert current_build(copy) == built.directory  # nothing changed


def test_a_day_range_block_is_the_union_of_its_days(sharded: Indexed) -> None:
    shard = sharded.index.shards[1]
    assert shard.blocks, "45 days of data make blocks of 2 to 32 days"
    for block in sorted(shard.blocks):
        level, start = block.split("/")
        first = date.fromisoformat(start)
        days = [(first + timedelta(days=n)).isoformat() for n in range(1 << int(level))]
        for rule in ("visitors", "buyers", "active"):
            family = shard._block_family(block, rule)
            assert family is not None
            parts = [f for f in (shard._day_family(d, rule) for d in days) if f is not None]
            keys = {k for part in parts for k in part.entries()}
            assert set(family.entries()) == keys
            for key in keys:
                assert family.get(key) == BitMap.union(BitMap(), *(p.get(key) for p in parts))


def test_a_window_of_n_days_reads_at_most_2_log2_n_bitmaps(
    sharded: Indexed, monkeypatch: pytest.MonkeyPatch
) -> None:
    shard = sharded.index.shards[0]
    read: list[str] = []
    real = Family.get

    def counted(family: Family, key: Any) -> Any:
        read.append(str(family.path))
        return real(family, key)

    monkeypatch.setattr(Family, "get", counted)
    for low, high in ((0, 44), (3, 40), (0, 29), (7, 20), (5, 5)):
        read.clear()
        members = shard.active(low, high)
        days = len(shard._days_ago(low, high))
        assert len(read) <= 2 * max(1, math.ceil(math.log2(days))), (low, high, read)
        monkeypatch.setattr(Family, "get", real)
        one_by_one = [shard._day_family(d, "active") for d in shard._days_ago(low, high)]
        assert members == BitMap.union(BitMap(), *(f.get(()) for f in one_by_one if f))
        monkeypatch.setattr(Family, "get", counted)


def test_blocks_of_unchanged_days_are_linked_not_rebuilt(
    sharded: Indexed, copy: Path, tmp_path: Path
) -> None:
    store = Store(copy / "store")
    before = current_build(copy)
    assert before is not None
    ingest_all(store, late_events(sharded, tmp_path / "late", range(SPAN, SPAN + 40)).parent)
    IndexBuilder(store, copy, shard_span=SPAN).build()
    after = current_build(copy)
    assert after is not None
    last = sharded.index.as_of
    for block in Index(after).shards[1].blocks:
        level, start = block.split("/")
        first = date.fromisoformat(start)
        touched = first <= last < first + timedelta(days=1 << int(level))
        for name in ("visitors.bin", "active.bin"):
            old = before / "shards" / "00001" / "blocks" / block / name
            new = after / "shards" / "00001" / "blocks" / block / name
            assert new.stat().st_ino != old.stat().st_ino if touched else new.samefile(old)


def test_a_lake_replaces_the_stores_events_and_their_days(copy: Path, tmp_path: Path) -> None:
    store = Store(copy / "store")
    manifest = store.manifest()
    early = sorted(manifest.days["events"])[:10]
    lake = tmp_path / "lake"
    lake.mkdir()
    for number, name in enumerate(n for day in early for n in manifest.days["events"][day]):
        shutil.copy(store.root / name, lake / f"part-{number}.parquet")
    IndexBuilder(store, copy, shard_span=SPAN, events=str(lake / "*.parquet")).build()
    built = Index(current_build(copy) or copy)
    assert built.days == sorted(set(early) | set(manifest.days["pings"]))
    last_visit = max(early)
    for advertiser in (1001, 1002, 1003):
        # Nobody visited after the lake's last day: the store's later events are not read.
        assert not built.visitors(
            advertiser, 0, (built.as_of - date.fromisoformat(last_visit)).days - 1
        )
        assert built.visitors(advertiser, 0, 60)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--memory-limit", "4XB"], "takes an amount such as 4GB"),
        (["--engine", "spark", "--memory-limit", "4GB"], "is DuckDB's"),
        (["--master", "local[2]"], "are for spark"),
        (["--spark-conf", "nothing"], "KEY=VALUE"),
    ],
)
def test_bad_build_options_are_refused_before_anything_is_built(
    copy: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str], message: str
) -> None:
    monkeypatch.setenv("REACH_DATA_DIR", str(copy))
    before = current_build(copy)
    result = CliRunner().invoke(app, ["index", "build", *arguments])
    assert result.exit_code == 2
    assert message in result.output
    assert current_build(copy) == before


def test_an_unreadable_lake_is_a_clear_error_not_a_traceback(
    copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REACH_DATA_DIR", str(copy))
    before = current_build(copy)
    result = CliRunner().invoke(app, ["index", "build", "--events", "/nowhere/lake/*.parquet"])
    assert result.exit_code == 1
    assert "the duckdb engine could not build the index" in result.output
    assert "No files found" in result.output
    assert current_build(copy) == before
    assert not list((copy / "index" / "builds").glob("*.partial"))


def test_asking_every_window_holds_no_file_open(sharded: Indexed) -> None:
    """An index has a family per shard, day, block and rule: more than a process may keep
    open. Reading one must not keep a descriptor."""
    index = Index(sharded.index.directory)
    before = len(list(Path("/proc/self/fd").iterdir()))
    for low in range(0, 40, 3):
        for high in range(low, 45, 4):
            index.active(low, high)
            index.visitors(1001, low, high)
    assert len(list(Path("/proc/self/fd").iterdir())) <= before + 2
