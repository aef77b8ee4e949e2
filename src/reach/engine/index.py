"""Index build: run the rules over the store, shard by shard, and publish the atoms atomically.

Users are partitioned by ordinal into shards (engine/shards.py); each shard's atoms are computed
by an executor (engine/executors.py: DuckDB here, Spark on a cluster) and written under
``shards/<number>/``, finished by its ``shard.json``. A build is written to
``index/builds/<id>.partial`` and published by renaming it and replacing ``index/CURRENT``; a crash
or kill at any moment leaves the previous index in service. A shard's per-day atoms whose input
files did not change since the previous build are reused (hard links), and so is a whole shard
whose inputs and windows did not change.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyroaring import BitMap

from reach.engine.bitmaps import Family, Key, atoms, bitmap_of, write_family
from reach.engine.executors import BuildInputs, DuckDBExecutor, Executor, ShardQuery
from reach.engine.geo import haversine_km, unit_vectors
from reach.engine.identities import KEY_DTYPE, prefixes
from reach.engine.rules import (
    ADVERTISER_COUNTRIES,
    LOCATION_PINGS,
    RELATIONS,
    RULES,
    Rule,
    grouped,
)
from reach.engine.shards import DEFAULT_SHARD_SPAN, Shard, check_span, shards_for
from reach.engine.store import (
    CELL_RESOLUTION,
    KINDS,
    Store,
    file_lock,
    private_dir,
    write_atomically,
)

FORMAT_VERSION = 5
# Coarser H3 resolutions whose cells also carry their users' bitmap, so that a circle that
# holds every stored cell of a coarse cell takes one bitmap instead of up to 49.
AREA_RESOLUTIONS = (5, 6)
KEEP_BUILDS = 2
BATCH_ROWS = 4096
# Day-range blocks span up to 2^7 = 128 days (engine/query.py puts windows together from them).
MAX_BLOCK_LEVEL = 7
EPOCH = date(1970, 1, 1)
DAILY_RULES = tuple(name for name, rule in RULES.items() if rule.daily)
# The file that finishes a shard: a shard without it is not served.
SHARD_DONE = "shard.json"

Progress = Callable[[str, int, int], None]


class BuildError(Exception):
    """The index cannot be built (e.g. nothing ingested yet)."""


@dataclass(frozen=True)
class Windows:
    """How far back the window-based atoms look, counted from the as-of day."""

    in_market_days: int = 90
    location_days: int = 30


@dataclass(frozen=True)
class BuildReport:
    build_id: str
    as_of: date
    days_built: int
    days_reused: int
    events: int
    seconds: float
    shards: int = 1
    shards_reused: int = 0


def index_root(data_dir: Path) -> Path:
    return data_dir / "index"


def current_build(data_dir: Path) -> Path | None:
    """The directory of the index in service, if any."""
    pointer = index_root(data_dir) / "CURRENT"
    if not pointer.exists():
        return None
    build = index_root(data_dir) / "builds" / pointer.read_text(encoding="utf-8").strip()
    return build if build.is_dir() else None


def ordinal_range(path: Path) -> tuple[int, int] | None:
    """The smallest and largest ``ordinal`` of a stored Parquet file, from its footer's
    statistics (None when the file has no rows or no statistics)."""
    metadata = pq.ParquetFile(path).metadata
    column = metadata.schema.to_arrow_schema().get_field_index("ordinal")
    if column < 0:
        return None
    low: int | None = None
    high: int | None = None
    for group in range(metadata.num_row_groups):
        chunk = metadata.row_group(group).column(column)
        stats = chunk.statistics
        if metadata.row_group(group).num_rows == 0:
            continue
        if stats is None or not stats.has_min_max:
            return (0, 2**32 - 1)
        low = int(stats.min) if low is None else min(low, int(stats.min))
        high = int(stats.max) if high is None else max(high, int(stats.max))
    return None if low is None or high is None else (low, high)


def _prefetched(q: ShardQuery, rules: dict[str, Rule]) -> Iterator[tuple[str, Rule, pa.Table]]:
    """Each rule's atoms as an Arrow table, the next one computed by the executor (in a worker
    thread, off the GIL) while the caller turns the current one into bitmaps."""

    def fetch(rule: Rule) -> pa.Table:
        return q.table(grouped(rule))

    items = list(rules.items())
    with ThreadPoolExecutor(max_workers=1) as pool:
        upcoming = pool.submit(fetch, items[0][1]) if items else None
        for position, (name, rule) in enumerate(items):
            assert upcoming is not None
            table = upcoming.result()
            if position + 1 < len(items):
                upcoming = pool.submit(fetch, items[position + 1][1])
            yield name, rule, table


def parent_cells(cells: np.ndarray[Any, Any], resolution: int) -> np.ndarray[Any, Any]:
    """The parent at ``resolution`` of each H3 cell of CELL_RESOLUTION (what
    ``h3.cell_to_parent`` gives, for a whole array): the index's resolution field set to the
    parent's, and the digits of the finer resolutions set to 7, "unused"."""
    parents = (cells & ~np.uint64(0xF << 52)) | np.uint64(resolution << 52)
    for digit in range(resolution + 1, CELL_RESOLUTION + 1):
        parents |= np.uint64(7 << ((15 - digit) * 3))
    return parents


def _extents(
    lat: np.ndarray[Any, Any], lon: np.ndarray[Any, Any], starts: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """For each group of pings (rows starts[i]:starts[i + 1], none empty; here an H3 cell):
    a centre (the middle of the group's bounding box) and a reach, the great-circle distance
    from the centre to the farthest ping of the group, with a margin for rounding. By the
    triangle inequality, a circle whose centre is within ``radius - reach`` of the group's
    centre holds every ping of the group, and one farther than ``radius + reach`` holds none.
    Measured on the pings themselves, it is usually well under the cell's own size."""
    if len(starts) <= 1:
        empty = np.empty(0, dtype=np.float64)
        return empty, empty, empty
    first = starts[:-1]
    center_lat = (np.minimum.reduceat(lat, first) + np.maximum.reduceat(lat, first)) / 2
    center_lon = (np.minimum.reduceat(lon, first) + np.maximum.reduceat(lon, first)) / 2
    sizes = np.diff(starts)
    distance = haversine_km(lat, lon, np.repeat(center_lat, sizes), np.repeat(center_lon, sizes))
    reach = np.maximum.reduceat(distance, first) * (1 + 1e-9) + 1e-6
    return center_lat, center_lon, reach


def _equal_prefix_runs(
    prefixes: np.ndarray[Any, Any], positions: np.ndarray[Any, Any]
) -> list[tuple[int, int]]:
    """[start, stop) of the runs of equal values (of a sorted array) around ``positions``."""
    runs = set()
    for position in positions.tolist():
        value = prefixes[position]
        start = int(np.searchsorted(prefixes, value, side="left"))
        stop = int(np.searchsorted(prefixes, value, side="right"))
        runs.add((start, stop))
    return sorted(runs)


class IndexBuilder:
    def __init__(
        self,
        store: Store,
        data_dir: Path,
        *,
        windows: Windows = Windows(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        progress: Progress | None = None,
        executor: Executor | None = None,
        shard_span: int = DEFAULT_SHARD_SPAN,
        events: str | None = None,
    ) -> None:
        """``events``, a path or URL of Parquet files with the stored events' columns (a data
        lake's, e.g. ``s3a://bucket/events/``), replaces the store's events: every day of it is
        built (nothing tells which of its files changed)."""
        self.store = store
        self.root = index_root(data_dir)
        self.data_dir = data_dir
        self.windows = windows
        self.clock = clock
        self.progress = progress or (lambda _step, _done, _total: None)
        self.executor: Executor = executor or DuckDBExecutor()
        self.shard_span = check_span(shard_span)
        self.events = events

    def build(self) -> BuildReport:
        started = self.clock()
        builds = private_dir(self.root / "builds")
        with self.store.locked(shared=True), file_lock(self.root / ".build.lock"):
            manifest = self.store.manifest()
            files = {
                kind: [str(self.store.root / name) for name in manifest.current[kind]]
                for kind in KINDS
            }
            # With a lake's events, the store's own events are not read: their days are not
            # the build's.
            daily = ("pings",) if self.events is not None else ("events", "pings")
            day_files = {
                day: sorted(name for kind in daily for name in manifest.days[kind].get(day, []))
                for day in sorted({day for kind in daily for day in manifest.days[kind]})
            }
            if self.events is not None:
                files["events"] = [self.events]
            build_id = f"{started.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
            partial = builds / f"{build_id}.partial"
            partial.mkdir(mode=0o700)
            try:
                scratch = private_dir(partial / "scratch")
                if self.events is not None:
                    for day in self._lake_days(files, scratch):
                        day_files.setdefault(day, []).append(f"lake:{self.events}")
                if not day_files:
                    raise BuildError("nothing to index: ingest events or pings first")
                days = sorted(day_files)
                as_of = date.fromisoformat(days[-1])
                inputs = BuildInputs(
                    files=files,
                    as_of=as_of,
                    in_market_from=as_of - timedelta(days=self.windows.in_market_days - 1),
                    location_from=as_of - timedelta(days=self.windows.location_days - 1),
                    build_days=[],
                    scratch=scratch,
                )
                shards = shards_for(self.executor.max_ordinal(inputs), self.shard_span)
                ranges = self._ranges(manifest)
                previous = self._previous()
                built = reused_days = events = reused_shards = 0
                countries: dict[str, set[str]] = {}
                records = []
                for shard in shards:
                    record, counts = self._shard(
                        partial, inputs, shard, manifest, day_files, ranges, previous, len(shards)
                    )
                    records.append(record)
                    built += counts[0]
                    reused_days += counts[1]
                    events += counts[2]
                    reused_shards += counts[3]
                    for advertiser, found in record.pop("countries").items():
                        countries.setdefault(advertiser, set()).update(found)
                shutil.rmtree(scratch, ignore_errors=True)
                write_atomically(
                    partial / "advertiser_countries.json",
                    json.dumps({a: sorted(c) for a, c in sorted(countries.items())}),
                )
                meta = {
                    "format": FORMAT_VERSION,
                    "build_id": build_id,
                    "as_of": as_of.isoformat(),
                    "built_at": self.clock().isoformat(),
                    "engine": self.executor.name,
                    "windows": {
                        "in_market_days": self.windows.in_market_days,
                        "location_days": self.windows.location_days,
                    },
                    "shard_span": self.shard_span,
                    "shards": records,
                    "days": day_files,
                    "events": events,
                }
                write_atomically(partial / "index.json", json.dumps(meta, indent=1))
                final = builds / build_id
                os.replace(partial, final)
                write_atomically(self.root / "CURRENT", build_id)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            self._collect_garbage(build_id)
        seconds = (self.clock() - started).total_seconds()
        return BuildReport(
            build_id,
            as_of,
            built,
            reused_days,
            events,
            seconds,
            shards=len(shards),
            shards_reused=reused_shards,
        )

    # --- steps -------------------------------------------------------------------------------

    def _lake_days(self, files: dict[str, list[str]], scratch: Path) -> list[str]:
        """The days of the events of a data lake path."""
        inputs = BuildInputs(files, date.today(), date.today(), date.today(), [], scratch)
        with self.executor.shard(inputs, Shard(0, 0, 2**32)) as q:
            table = q.table("SELECT DISTINCT day FROM events ORDER BY day")
        return [day.isoformat() for day in table.column("day").to_pylist()]

    def _ranges(self, manifest: Any) -> dict[str, tuple[int, int] | None]:
        """The ordinal range of each stored file of a per-user kind (None: no rows)."""
        found: dict[str, tuple[int, int] | None] = {}
        for kind in ("users", "identities", "behavioral", "events", "pings"):
            for name in manifest.current[kind]:
                found[name] = ordinal_range(self.store.root / name)
        return found

    def _previous(self) -> tuple[Path, dict[str, dict[str, Any]]] | None:
        """The build in service and its shards by name, when its layout is this build's."""
        previous = current_build(self.data_dir)
        if previous is None:
            return None
        try:
            meta = json.loads((previous / "index.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if meta.get("format") != FORMAT_VERSION or meta.get("shard_span") != self.shard_span:
            return None
        return previous, {str(r["name"]): r for r in meta.get("shards", [])}

    @staticmethod
    def _touches(
        shard: Shard, names: list[str], ranges: dict[str, tuple[int, int] | None]
    ) -> list[str]:
        """Which of the stored files ``names`` hold rows of the shard's users (files of other
        kinds, and files of unknown range, hold rows of every shard)."""
        kept = []
        for name in names:
            span = ranges.get(name, (0, 2**32 - 1))
            if span is not None and span[0] < shard.stop and span[1] >= shard.first:
                kept.append(name)
        return kept

    def _shard(
        self,
        partial: Path,
        inputs: BuildInputs,
        shard: Shard,
        manifest: Any,
        day_files: dict[str, list[str]],
        ranges: dict[str, tuple[int, int] | None],
        previous: tuple[Path, dict[str, dict[str, Any]]] | None,
        count: int,
    ) -> tuple[dict[str, Any], tuple[int, int, int, int]]:
        """Build (or reuse) one shard; its record for index.json and (days built, days reused,
        events computed, 1 if the whole shard was reused)."""
        folder = partial / "shards" / shard.name
        own_days = {day: self._touches(shard, names, ranges) for day, names in day_files.items()}
        everything = sorted(
            name for kind in KINDS for name in self._touches(shard, manifest.current[kind], ranges)
        )
        signature = hashlib.sha256(
            json.dumps(
                [
                    inputs.as_of.isoformat(),
                    self.windows.__dict__,
                    everything,
                    sorted(own_days),
                    self.events,
                ]
            ).encode()
        ).hexdigest()
        old = previous[1].get(shard.name) if previous is not None else None
        source = previous[0] / "shards" / shard.name if previous is not None else None
        if (
            old is not None
            and source is not None
            and old.get("signature") == signature
            and (source / SHARD_DONE).exists()
            and self.events is None
        ):
            _link_tree(source, folder)
            kept: dict[str, Any] = json.loads((source / SHARD_DONE).read_text(encoding="utf-8"))
            return kept, (0, 0, 0, 1)
        private_dir(folder)
        reused: set[str] = set()
        if old is not None and source is not None and self.events is None:
            for day, names in own_days.items():
                origin = source / "days" / day
                if old.get("days", {}).get(day) == names and origin.is_dir():
                    _link_tree(origin, folder / "days" / day)
                    reused.add(day)
        todo = [day for day in sorted(own_days) if day not in reused]
        step = f"shard {shard.number + 1}/{count}"
        sharded = BuildInputs(
            files=inputs.files,
            as_of=inputs.as_of,
            in_market_from=inputs.in_market_from,
            location_from=inputs.location_from,
            build_days=[date.fromisoformat(d) for d in todo],
            scratch=inputs.scratch,
        )
        with self.executor.shard(sharded, shard) as q:
            events, countries = self._compute(q, folder, todo, step)
        self.progress(f"{step}: day ranges", 0, 1)
        blocks = write_blocks(
            folder,
            source if old is not None and self.events is None else None,
            changed={d for d in own_days if d not in reused}
            | (set(old.get("days", {})) ^ set(own_days) if old is not None else set()),
            first=date.fromisoformat(min(own_days)),
            last=inputs.as_of,
        )
        record: dict[str, Any] = {
            "name": shard.name,
            "number": shard.number,
            "first": shard.first,
            "stop": shard.stop,
            "signature": signature,
            "days": own_days,
            "blocks": blocks,
            "events": events,
            "countries": countries,
        }
        write_atomically(folder / SHARD_DONE, json.dumps(record, indent=1))
        return record, (len(todo), len(reused), events, 0)

    def _compute(
        self, q: ShardQuery, folder: Path, todo: list[str], step: str
    ) -> tuple[int, dict[str, list[str]]]:
        total = len(RULES) + 3
        for name, sql in RELATIONS.items():
            self.progress(f"{step}: relation {name}", 0, total)
            q.materialise(name, sql)
        for number, (name, rule, table) in enumerate(_prefetched(q, RULES)):
            self.progress(f"{step}: atoms {name}", number, total)
            found = atoms(table.to_reader(BATCH_ROWS), rule.keys)
            if rule.daily:
                self._daily_family(folder, name, found, todo)
            else:
                write_family(folder / "families" / name, found)
            del table
        self.progress(f"{step}: advertiser countries", total - 3, total)
        countries: dict[str, list[str]] = {}
        table = q.table(ADVERTISER_COUNTRIES)
        for advertiser_id, country in zip(
            table.column("advertiser_id").to_pylist(),
            table.column("country").to_pylist(),
            strict=True,
        ):
            countries.setdefault(str(advertiser_id), []).append(str(country))
        self.progress(f"{step}: location pings", total - 2, total)
        self._location(q, folder)
        self.progress(f"{step}: identity graph", total - 1, total)
        self._identities(q, folder)
        row = q.table("SELECT count(*) AS n FROM events WHERE day IN (SELECT day FROM build_days)")
        self.progress(f"{step}: done", total, total)
        return int(row.column(0)[0].as_py() or 0), countries

    @staticmethod
    def _daily_family(
        partial: Path, name: str, found: Iterator[tuple[Key, BitMap]], days: list[str]
    ) -> None:
        """Write one file per day (every day built gets one, even an empty one); the atoms
        arrive day by day and lose their day key on the way."""
        by_day = itertools.groupby(found, key=lambda pair: pair[0][-1].isoformat())
        written = set()
        for day, pairs in by_day:
            write_family(partial / "days" / day / name, ((k[:-1], b) for k, b in pairs))
            written.add(day)
        for day in set(days) - written:
            write_family(partial / "days" / day / name, ())

    def _location(self, q: ShardQuery, partial: Path) -> None:
        """The window's pings sorted by H3 cell, and each cell's centre and reach (the farthest
        of its pings from the centre), so a query measures exact distances only where a cell
        straddles a circle."""
        table = q.table(LOCATION_PINGS)
        ordinals = table["ordinal"].to_numpy().astype(np.uint32)
        lat = table["latitude"].to_numpy()
        lon = table["longitude"].to_numpy()
        cells = table["cell"].to_numpy().astype(np.uint64)
        # Every column in the key: the same pings give the same arrays, whatever order the
        # engine returned them in.
        order = np.lexsort((lon, lat, ordinals, cells))
        cells, lat, lon, ordinals = cells[order], lat[order], lon[order], ordinals[order]
        cell_ids, starts = np.unique(cells, return_index=True)
        bounds = np.append(starts, len(cells))
        # Each cell's users as a bitmap: a cell wholly inside a circle is taken whole.
        write_family(
            partial / "families" / "location_cell",
            (
                ((int(cell),), bitmap_of(ordinals[bounds[i] : bounds[i + 1]]))
                for i, cell in enumerate(cell_ids)
            ),
        )
        areas: dict[str, np.ndarray[Any, Any]] = {}
        for resolution in AREA_RESOLUTIONS:
            # The stored cells of one coarse cell are contiguous (an H3 id starts with its
            # parents' digits), and so are their pings.
            area_ids, first = np.unique(parent_cells(cell_ids, resolution), return_index=True)
            area_starts = np.append(first, len(cell_ids))
            write_family(
                partial / "families" / f"location_area{resolution}",
                (
                    (
                        (int(area_ids[number]),),
                        bitmap_of(ordinals[bounds[begin] : bounds[end]]),
                    )
                    for number, (begin, end) in enumerate(
                        zip(area_starts[:-1].tolist(), area_starts[1:].tolist(), strict=True)
                    )
                ),
            )
            areas[f"area{resolution}_ids"] = area_ids
            areas[f"area{resolution}_starts"] = area_starts.astype(np.int64)
        center_lat, center_lon, reach = _extents(lat, lon, bounds)
        folder = private_dir(partial / "location")
        arrays = {
            "ordinal": ordinals,
            "latitude": lat,
            "longitude": lon,
            # Unit vectors: a dot product puts most pings in or out of a circle.
            **dict(zip(("x", "y", "z"), unit_vectors(lat, lon), strict=True)),
            "cell_ids": cell_ids,
            "cell_starts": bounds.astype(np.int64),
            "cell_latitude": center_lat,
            "cell_longitude": center_lon,
            "cell_reach_km": reach,
            # Coarse cell j of a resolution holds the cells areaR_starts[j]:areaR_starts[j + 1].
            **areas,
        }
        for name, values in arrays.items():
            with open(folder / f"{name}.npy", "wb") as handle:
                np.save(handle, values)
                handle.flush()
                os.fsync(handle.fileno())

    @staticmethod
    def _identities(q: ShardQuery, partial: Path) -> None:
        """Every identity's key with its user, sorted: contact lists are matched against it.
        Sorting goes by the keys' first 8 bytes (a fast integer sort); equal prefixes are then
        put in full-key order, so the array is sorted byte-wise as binary search needs."""
        table = q.table("SELECT key, ordinal FROM identities")
        count = table.num_rows
        raw = table["key"].combine_chunks().cast(pa.binary(KEY_DTYPE.itemsize))
        keys = np.frombuffer(raw.buffers()[1], dtype=KEY_DTYPE, count=count)
        # Ordinal order first, so that the users of one identity come in the same order
        # whatever order the engine returned them in.
        ordinals = table["ordinal"].to_numpy().astype(np.uint32)
        first = np.argsort(ordinals, kind="stable")
        keys, ordinals = keys[first], ordinals[first]
        order = np.argsort(prefixes(keys), kind="stable")
        keys = keys[order]
        ordinals = ordinals[order]
        sorted_prefix = prefixes(keys)
        # Different keys that share their first 8 bytes (astronomically rare) are put in
        # whole-key order; equal keys (one identity of several users) need nothing.
        clash = (sorted_prefix[1:] == sorted_prefix[:-1]) & (keys[1:] != keys[:-1])
        for start, stop in _equal_prefix_runs(sorted_prefix, np.flatnonzero(clash)):
            within = np.argsort(keys[start:stop], kind="stable")
            keys[start:stop] = keys[start:stop][within]
            ordinals[start:stop] = ordinals[start:stop][within]
        folder = private_dir(partial / "identities")
        for name, values in (("keys", keys), ("prefixes", sorted_prefix), ("ordinals", ordinals)):
            with open(folder / f"{name}.npy", "wb") as handle:
                np.save(handle, values)
                handle.flush()
                os.fsync(handle.fileno())

    def _collect_garbage(self, keep: str) -> None:
        """Remove older builds, builds a killed build left half-written, and the half-written
        pointer files it may have left; runs under the build lock, so no other build owns
        them."""
        for leftover in self.root.glob(".CURRENT.*"):
            leftover.unlink(missing_ok=True)
        builds = sorted(p for p in (self.root / "builds").iterdir() if p.is_dir())
        finished = [p for p in builds if not p.name.endswith(".partial")]
        for stale in [p for p in builds if p.name.endswith(".partial")] + finished[:-KEEP_BUILDS]:
            if stale.name != keep:
                shutil.rmtree(stale, ignore_errors=True)


def epoch_day(day: date) -> int:
    return (day - EPOCH).days


def block_name(level: int, start: int) -> str:
    """The folder of the day-range block of ``2**level`` days from epoch day ``start``."""
    return f"{level}/{(EPOCH + timedelta(days=start)).isoformat()}"


def write_blocks(
    folder: Path, previous: Path | None, changed: set[str], first: date, last: date
) -> list[str]:
    """Write the day-range blocks of a shard's daily families, ``blocks/<level>/<first day>``:
    the union of the 2^level days from an epoch day that is a multiple of 2^level, for every
    such range wholly between ``first`` and ``last``. Any window of N days is then the union
    of at most 2 log2(N) blocks and days (engine/query.py), instead of N days. A block none of
    whose days ``changed`` is linked from the ``previous`` shard. Returns the blocks' names."""
    low, high = epoch_day(first), epoch_day(last)
    written: list[str] = []
    changed_days = {epoch_day(date.fromisoformat(d)) for d in changed}
    for level in range(1, MAX_BLOCK_LEVEL + 1):
        width = 1 << level
        for start in range(-(-low // width) * width, high - width + 2, width):
            name = block_name(level, start)
            target = folder / "blocks" / name
            origin = previous / "blocks" / name if previous is not None else None
            untouched = not any(start <= d < start + width for d in changed_days)
            if untouched and origin is not None and origin.is_dir():
                _link_tree(origin, target)
            else:
                half = width // 2
                children = [_block_folder(folder, level - 1, start + i * half) for i in (0, 1)]
                for rule in DAILY_RULES:
                    parts = [
                        Family(c / rule) for c in children if Path(f"{c / rule}.json").exists()
                    ]
                    write_family(target / rule, _merged(parts))
            written.append(name)
    return written


def _block_folder(folder: Path, level: int, start: int) -> Path:
    if level == 0:
        return folder / "days" / (EPOCH + timedelta(days=start)).isoformat()
    return folder / "blocks" / block_name(level, start)


def _merged(parts: list[Family]) -> Iterator[tuple[Key, BitMap]]:
    """Key by key, the union of the families' bitmaps."""
    keys = sorted({key for part in parts for key in part.entries()}, key=repr)
    for key in keys:
        merged = BitMap()
        for part in parts:
            merged |= part.get(key)
        yield key, merged


def _link_tree(source: Path, target: Path) -> None:
    """``target`` as a copy of the folder ``source`` whose files are hard links."""
    for folder, _, names in os.walk(source):
        relative = Path(folder).relative_to(source)
        private_dir(target / relative)
        for name in names:
            os.link(Path(folder) / name, target / relative / name)
