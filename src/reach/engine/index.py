"""Index build: run the rules over the store and publish the bitmap atoms atomically.

A build is written to ``index/builds/<id>.partial`` and published by renaming it and replacing
``index/CURRENT``; a crash or kill at any moment leaves the previous index in service. Per-day
atoms of days whose files did not change since the previous build are reused (hard links).
"""

from __future__ import annotations

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

import duckdb
import numpy as np
import pyarrow as pa
from pyroaring import BitMap

from reach.engine.bitmaps import Key, atoms, bitmap_of, write_family
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
from reach.engine.store import CELL_RESOLUTION, Store, file_lock, private_dir, write_atomically

FORMAT_VERSION = 4
# Coarser H3 resolutions whose cells also carry their users' bitmap, so that a circle that
# holds every stored cell of a coarse cell takes one bitmap instead of up to 49.
AREA_RESOLUTIONS = (5, 6)
KEEP_BUILDS = 2
BATCH_ROWS = 4096

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


def index_root(data_dir: Path) -> Path:
    return data_dir / "index"


def current_build(data_dir: Path) -> Path | None:
    """The directory of the index in service, if any."""
    pointer = index_root(data_dir) / "CURRENT"
    if not pointer.exists():
        return None
    build = index_root(data_dir) / "builds" / pointer.read_text(encoding="utf-8").strip()
    return build if build.is_dir() else None


def _prefetched(
    con: duckdb.DuckDBPyConnection, rules: dict[str, Rule]
) -> Iterator[tuple[str, Rule, pa.Table]]:
    """Each rule's atoms as an Arrow table, the next one computed by DuckDB (in a worker
    thread, off the GIL) while the caller turns the current one into bitmaps."""

    def fetch(rule: Rule) -> pa.Table:
        return con.sql(grouped(rule)).to_arrow_table()

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
    ) -> None:
        self.store = store
        self.root = index_root(data_dir)
        self.data_dir = data_dir
        self.windows = windows
        self.clock = clock
        self.progress = progress or (lambda _step, _done, _total: None)

    def build(self) -> BuildReport:
        started = self.clock()
        builds = private_dir(self.root / "builds")
        with self.store.locked(shared=True), file_lock(self.root / ".build.lock"):
            manifest = self.store.manifest()
            days = sorted(set(manifest.days["events"]) | set(manifest.days["pings"]))
            if not days:
                raise BuildError("nothing to index: ingest events or pings first")
            as_of = date.fromisoformat(days[-1])
            build_id = f"{started.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
            partial = builds / f"{build_id}.partial"
            partial.mkdir(mode=0o700)
            try:
                day_files = {
                    day: sorted(
                        manifest.days["events"].get(day, []) + manifest.days["pings"].get(day, [])
                    )
                    for day in days
                }
                reused = self._reuse_days(partial, day_files)
                todo = [day for day in days if day not in reused]
                events = self._compute(partial, manifest, as_of, todo)
                meta = {
                    "format": FORMAT_VERSION,
                    "build_id": build_id,
                    "as_of": as_of.isoformat(),
                    "built_at": self.clock().isoformat(),
                    "windows": {
                        "in_market_days": self.windows.in_market_days,
                        "location_days": self.windows.location_days,
                    },
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
        return BuildReport(build_id, as_of, len(todo), len(reused), events, seconds)

    # --- steps -------------------------------------------------------------------------------

    def _reuse_days(self, partial: Path, day_files: dict[str, list[str]]) -> set[str]:
        previous = current_build(self.data_dir)
        if previous is None:
            return set()
        meta = json.loads((previous / "index.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT_VERSION:
            return set()
        reused = set()
        for day, files in day_files.items():
            source = previous / "days" / day
            if meta["days"].get(day) == files and source.is_dir():
                target = private_dir(partial / "days" / day)
                for item in source.iterdir():
                    os.link(item, target / item.name)
                reused.add(day)
        return reused

    def _compute(self, partial: Path, manifest: Any, as_of: date, todo: list[str]) -> int:
        scratch = partial / "scratch.duckdb"
        try:
            with duckdb.connect(str(scratch)) as con:
                con.execute("SET TimeZone = 'UTC'")
                self.store.create_views(con, manifest)
                con.execute(
                    "CREATE TABLE params AS SELECT CAST(? AS DATE) AS as_of, "
                    "CAST(? AS DATE) AS in_market_from, CAST(? AS DATE) AS location_from",
                    [
                        as_of,
                        as_of - timedelta(days=self.windows.in_market_days - 1),
                        as_of - timedelta(days=self.windows.location_days - 1),
                    ],
                )
                con.execute("CREATE TABLE build_days (day DATE)")
                if todo:
                    con.executemany("INSERT INTO build_days VALUES (?)", [(d,) for d in todo])
                total = len(RULES) + 2
                for name, sql in RELATIONS.items():
                    self.progress(f"relation: {name}", 0, total)
                    con.execute(f"CREATE TEMP TABLE {name} AS {sql}")
                for step, (name, rule, table) in enumerate(_prefetched(con, RULES)):
                    self.progress(f"atoms: {name}", step, total)
                    found = atoms(table.to_reader(BATCH_ROWS), rule.keys)
                    if rule.daily:
                        self._daily_family(partial, name, found, todo)
                    else:
                        write_family(partial / "families" / name, found)
                self.progress("advertiser countries", total - 2, total)
                countries: dict[str, list[str]] = {}
                for advertiser_id, country in con.execute(ADVERTISER_COUNTRIES).fetchall():
                    countries.setdefault(str(advertiser_id), []).append(country)
                write_atomically(partial / "advertiser_countries.json", json.dumps(countries))
                self.progress("location pings", total - 1, total)
                self._location(con, partial)
                self.progress("identity graph", total - 1, total)
                self._identities(con, partial)
                row = con.execute(
                    "SELECT count(*) FROM events WHERE day IN (SELECT day FROM build_days)"
                ).fetchone()
                self.progress("done", total, total)
                return int(row[0]) if row else 0
        finally:
            # The scratch database, its write-ahead log and DuckDB's spill folder.
            for leftover in partial.glob("scratch.duckdb*"):
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)

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

    def _location(self, con: duckdb.DuckDBPyConnection, partial: Path) -> None:
        """The window's pings sorted by H3 cell, and each cell's centre and reach (the farthest
        of its pings from the centre), so a query measures exact distances only where a cell
        straddles a circle."""
        table = con.sql(LOCATION_PINGS).to_arrow_table()
        ordinals = table["ordinal"].to_numpy().astype(np.uint32)
        lat = table["latitude"].to_numpy()
        lon = table["longitude"].to_numpy()
        cells = table["cell"].to_numpy().astype(np.uint64)
        order = np.lexsort((ordinals, cells))
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
    def _identities(con: duckdb.DuckDBPyConnection, partial: Path) -> None:
        """Every identity's key with its user, sorted: contact lists are matched against it.
        Sorting goes by the keys' first 8 bytes (a fast integer sort); equal prefixes are then
        put in full-key order, so the array is sorted byte-wise as binary search needs."""
        table = con.sql("SELECT key, ordinal FROM identities").to_arrow_table()
        count = table.num_rows
        raw = table["key"].combine_chunks().cast(pa.binary(KEY_DTYPE.itemsize))
        keys = np.frombuffer(raw.buffers()[1], dtype=KEY_DTYPE, count=count)
        order = np.argsort(prefixes(keys), kind="stable")
        keys = keys[order]
        ordinals = table["ordinal"].to_numpy().astype(np.uint32)[order]
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
