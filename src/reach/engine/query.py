"""Membership from a published index: one function per segment type, as docs/segments.md says.

Every function returns the set of member ordinals as a roaring bitmap; sizes are their lengths.
Parameters are plain values (the engine knows nothing of the API's models).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from threading import Lock
from typing import Any

import h3.api.basic_int as h3
import numpy as np
from pyroaring import AbstractBitMap, BitMap, FrozenBitMap

from reach.engine.bitmaps import Family, Key, bitmap_of
from reach.engine.geo import EARTH_RADIUS_KM, haversine_km, unit_vector
from reach.engine.identities import prefixes
from reach.engine.index import (
    AREA_RESOLUTIONS,
    EPOCH,
    FORMAT_VERSION,
    MAX_BLOCK_LEVEL,
    SHARD_DONE,
    block_name,
    epoch_day,
)
from reach.engine.store import CELL_RESOLUTION

log = logging.getLogger("reach.engine")

PRICE_RANGES = ("Low", "Medium", "High")
# Margin of the cell and dot-product tests, in km: a ping this close to a circle is always
# measured with the great-circle formula.
EDGE_MARGIN_KM = 1e-4


def _union(bitmaps: Iterable[FrozenBitMap]) -> FrozenBitMap:
    found = list(bitmaps)
    if not found:
        return FrozenBitMap()
    if len(found) == 1:
        return found[0]
    return FrozenBitMap.union(*found)


class IndexFormatError(Exception):
    """A published index was written by another version of Reach: it must be rebuilt."""


class IncompleteIndexError(IndexFormatError):
    """A published index lacks a finished shard: it is never served."""


class ShardIndex:
    """One shard of a published index build: the users of one ordinal range (their global
    ordinals), read-only; families load on first use."""

    def __init__(
        self,
        directory: Path,
        as_of: date,
        days: list[str],
        advertiser_countries: dict[str, list[str]],
        blocks: Iterable[str] = (),
    ) -> None:
        self.directory = directory
        self.as_of = as_of
        self.days = days
        self.blocks = set(blocks)
        self._families: dict[str, Family] = {}
        self._advertiser_countries = advertiser_countries
        self._location: dict[str, np.ndarray[Any, Any]] | None = None
        self._identities: dict[str, np.ndarray[Any, Any]] | None = None

    # --- plumbing ----------------------------------------------------------------------------

    def family(self, name: str) -> Family:
        family = self._families.get(name)
        if family is None:
            family = self._families[name] = Family(self.directory / "families" / name)
        return family

    def _day_family(self, day: str, name: str) -> Family | None:
        key = f"{day}/{name}"
        family = self._families.get(key)
        if family is None:
            path = self.directory / "days" / day / name
            if not Path(f"{path}.json").exists():
                return None
            family = self._families[key] = Family(path)
        return family

    def _days_ago(self, low: int, high: int) -> list[str]:
        """The stored days between ``low`` and ``high`` days before the as-of day."""
        if high < low or high < 0:
            return []
        first = (self.as_of - timedelta(days=high)).isoformat()
        last = (self.as_of - timedelta(days=max(low, 0))).isoformat()
        return [day for day in self.days if first <= day <= last]

    def daily_families(self, name: str, low: int, high: int) -> list[tuple[int, Family]]:
        """The per-day families of ``name`` between ``low`` and ``high`` days ago, with how many
        days ago each is."""
        found = []
        for day in self._days_ago(low, high):
            family = self._day_family(day, name)
            if family is not None:
                found.append(((self.as_of - date.fromisoformat(day)).days, family))
        return found

    def _daily(self, name: str, key: tuple[Any, ...], low: int, high: int) -> FrozenBitMap:
        """The union of a daily atom between ``low`` and ``high`` days ago, put together from
        the largest day-range blocks that fit (engine/index.py ``write_blocks``) and single
        days: at most 2 log2(N) bitmaps for N days."""
        days = self._days_ago(low, high)
        if not days:
            return FrozenBitMap()
        found = []
        position, last = (
            epoch_day(date.fromisoformat(days[0])),
            epoch_day(date.fromisoformat(days[-1])),
        )
        while position <= last:
            level = MAX_BLOCK_LEVEL
            while level > 0 and (
                position % (1 << level)
                or position + (1 << level) - 1 > last
                or block_name(level, position) not in self.blocks
            ):
                level -= 1
            if level:
                family = self._block_family(block_name(level, position), name)
            else:
                family = self._day_family((EPOCH + timedelta(days=position)).isoformat(), name)
            if family is not None:
                found.append(family.get(key))
            position += 1 << level
        return _union(found)

    def _block_family(self, block: str, name: str) -> Family | None:
        cache_key = f"blocks/{block}/{name}"
        family = self._families.get(cache_key)
        if family is None:
            path = self.directory / "blocks" / block / name
            if not Path(f"{path}.json").exists():
                return None
            family = self._families[cache_key] = Family(path)
        return family

    # --- building blocks ---------------------------------------------------------------------

    def universe(self) -> FrozenBitMap:
        return self.family("universe").get(())

    def visitors(self, advertiser_id: int, low: int, high: int) -> FrozenBitMap:
        """Users who visited the advertiser on a day between ``low`` and ``high`` days ago."""
        return self._daily("visitors", (advertiser_id,), low, high)

    def buyers(self, advertiser_id: int, low: int, high: int) -> FrozenBitMap:
        return self._daily("buyers", (advertiser_id,), low, high)

    def active(self, low: int, high: int) -> FrozenBitMap:
        return self._daily("active", (), low, high)

    def country(self, code: str) -> FrozenBitMap:
        return self.family("country").get((code,))

    def countries(self) -> dict[str, FrozenBitMap]:
        """The users of each country."""
        family = self.family("country")
        return {str(key[0]): family.get(key) for key in family.entries()}

    def advertiser_countries(self, advertiser_id: int) -> list[str]:
        return self._advertiser_countries.get(str(advertiser_id), [])

    # --- segment types -----------------------------------------------------------------------

    def retargeting(
        self, advertiser_id: int, visitors_type: str, days_min: int, days_max: int
    ) -> FrozenBitMap:
        window = self.visitors(advertiser_id, days_min, days_max)
        # A later visit moves a user out: their most recent visit is what counts.
        recent = self.visitors(advertiser_id, 0, days_min - 1)
        members = window - recent
        if visitors_type == "All":
            return members
        buyers = members & self.buyers(advertiser_id, 0, days_max)
        return buyers if visitors_type == "Buyers" else members - buyers

    def prospecting(
        self, advertiser_id: int, users_type: str, days_min: int, days_max: int
    ) -> FrozenBitMap:
        visited = self.visitors(advertiser_id, days_min, days_max)
        local = _union(self.country(c) for c in self.advertiser_countries(advertiser_id))
        prospects = (local & self.active(days_min, days_max)) - visited
        if users_type == "Prospects":
            return prospects
        return prospects | (visited - self.buyers(advertiser_id, days_min, days_max))

    def in_market(
        self,
        country: str,
        brand_ids: Sequence[int] = (),
        interest_ids: Sequence[str] = (),
        price_ranges: Sequence[str] = (),
        buying_powers: Sequence[str] = (),
        gender: str | None = None,
    ) -> FrozenBitMap:
        """``interest_ids`` must already include the descendants of the interests asked for."""
        ranges = price_ranges or PRICE_RANGES
        if brand_ids or interest_ids:
            brands, interests = self.family("in_market_brand"), self.family("in_market_interest")
            matched = _union(
                [brands.get((b, r)) for b in brand_ids for r in ranges]
                + [interests.get((i, r)) for i in interest_ids for r in ranges]
            )
        else:
            anything = self.family("in_market_any")
            matched = _union(anything.get((r,)) for r in ranges)
        members = matched & self.country(country)
        if buying_powers:
            powers = self.family("buying_power")
            members &= _union(powers.get((p,)) for p in buying_powers)
        if gender is not None:
            members &= self.family("gender").get((gender,))
        return members

    def behavioral(self, category: str, country: str | None) -> FrozenBitMap:
        family = self.family("behavioral")
        if country is not None:
            return family.get((category, country))
        return _union(family.get(k) for k in family.entries() if k[0] == category)

    def location(self, points: Sequence[tuple[float, float]], radius_km: float) -> FrozenBitMap:
        """Users with a ping in the window within ``radius_km`` (great circle) of a point.

        A stored cell wholly inside a circle contributes its users' bitmap; only the pings of
        cells that straddle a circle's edge are measured one by one, and not even those of a
        cell that lies wholly inside another of the circles (points often cluster, so their
        circles overlap: this skips most of the measuring)."""
        arrays = self.location_arrays()
        cell_ids = arrays["cell_ids"]
        if len(cell_ids) == 0 or not points:
            return FrozenBitMap()
        inside: list[np.ndarray[Any, Any]] = []
        edges: list[tuple[float, float, np.ndarray[Any, Any]]] = []
        for lat, lon in points:
            candidates = self._candidate_cells(cell_ids, lat, lon, radius_km)
            if len(candidates) == 0:
                continue
            distance = haversine_km(
                arrays["cell_latitude"][candidates], arrays["cell_longitude"][candidates], lat, lon
            )
            reach = arrays["cell_reach_km"][candidates]
            whole = distance + reach <= radius_km - EDGE_MARGIN_KM
            inside.append(candidates[whole])
            straddling = candidates[~whole & (distance - reach <= radius_km + EDGE_MARGIN_KM)]
            if len(straddling):
                edges.append((lat, lon, straddling))
        taken = np.zeros(len(cell_ids), dtype=bool)
        if inside:
            taken[np.concatenate(inside)] = True
        near: list[np.ndarray[Any, Any]] = []
        for lat, lon, straddling in edges:
            measured = straddling[~taken[straddling]]
            if len(measured):
                rows = _slices(arrays["cell_starts"], measured)
                near.append(
                    arrays["ordinal"][rows[self._within(arrays, rows, lat, lon, radius_km)]]
                )
        found = self._whole_areas(taken)
        cells = self.family("location_cell")
        found += [cells.get((int(cell_ids[i]),)) for i in np.flatnonzero(taken).tolist()]
        if near:
            found.append(FrozenBitMap(bitmap_of(np.concatenate(near))))
        return _union(found)

    def _whole_areas(self, taken: np.ndarray[Any, Any]) -> list[FrozenBitMap]:
        """The bitmaps of the coarse cells all of whose stored cells are ``taken`` (a mask over
        the stored cells), coarsest first; their cells are then no longer ``taken``."""
        arrays = self.location_arrays()
        found: list[FrozenBitMap] = []
        for resolution in AREA_RESOLUTIONS:
            starts = arrays[f"area{resolution}_starts"]
            counts = np.add.reduceat(taken.astype(np.int64), starts[:-1])
            full = np.flatnonzero(counts == np.diff(starts))
            if len(full) == 0:
                continue
            areas = self.family(f"location_area{resolution}")
            ids = arrays[f"area{resolution}_ids"]
            found += [areas.get((int(ids[j]),)) for j in full.tolist()]
            taken[_ranges(starts[full], starts[full + 1])] = False
        return found

    def match(self, keys: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], BitMap]:
        """Which of ``keys`` (identity keys, sorted or not) the identity graph knows, as a mask,
        and the users they belong to. Searches by 8-byte prefix, then compares whole keys."""
        graph = self._identity_arrays()
        matched = np.zeros(len(keys), dtype=bool)
        if len(keys) == 0 or len(graph["keys"]) == 0:
            return matched, BitMap()
        wanted = prefixes(keys)
        low = np.searchsorted(graph["prefixes"], wanted, side="left")
        high = np.searchsorted(graph["prefixes"], wanted, side="right")
        lengths = high - low
        total = int(lengths.sum())
        asked = np.repeat(np.arange(len(keys)), lengths)
        rows = np.arange(total) + np.repeat(low - np.cumsum(lengths) + lengths, lengths)
        same = graph["keys"][rows] == keys[asked]
        matched[asked[same]] = True
        return matched, bitmap_of(graph["ordinals"][rows[same]])

    def _identity_arrays(self) -> dict[str, np.ndarray[Any, Any]]:
        if self._identities is None:
            folder = self.directory / "identities"
            self._identities = {
                name: _mapped(folder / f"{name}.npy") for name in ("keys", "prefixes", "ordinals")
            }
        return self._identities

    def location_arrays(self) -> dict[str, np.ndarray[Any, Any]]:
        if self._location is None:
            folder = self.directory / "location"
            self._location = {path.stem: _mapped(path) for path in folder.glob("*.npy")}
        return self._location

    @staticmethod
    def _within(
        arrays: dict[str, np.ndarray[Any, Any]],
        rows: np.ndarray[Any, Any],
        lat: float,
        lon: float,
        radius_km: float,
    ) -> np.ndarray[Any, Any]:
        """Which pings of ``rows`` lie within ``radius_km`` of the point. The dot product of unit
        vectors decides every ping farther than EDGE_MARGIN_KM from the circle (its rounding
        error is orders of magnitude smaller than that margin); the great-circle formula
        decides the rest, exactly as for a ping on the edge."""
        px, py, pz = unit_vector(lat, lon)
        dot = arrays["x"][rows] * px + arrays["y"][rows] * py + arrays["z"][rows] * pz
        surely_in = math.cos(
            min(radius_km - EDGE_MARGIN_KM, math.pi * EARTH_RADIUS_KM) / EARTH_RADIUS_KM
        )
        surely_out = math.cos(
            min(radius_km + EDGE_MARGIN_KM, math.pi * EARTH_RADIUS_KM) / EARTH_RADIUS_KM
        )
        inside: np.ndarray[Any, Any] = dot >= surely_in
        edge = np.flatnonzero(~inside & (dot >= surely_out))
        if len(edge):
            exact = rows[edge]
            inside[edge] = (
                haversine_km(arrays["latitude"][exact], arrays["longitude"][exact], lat, lon)
                <= radius_km
            )
        return inside

    @staticmethod
    def _candidate_cells(
        cell_ids: np.ndarray[Any, Any], lat: float, lon: float, radius_km: float
    ) -> np.ndarray[Any, Any]:
        """Positions (in ``cell_ids``) of the stored cells that may hold pings of the circle."""
        low, high = _covering_ranges(lat, lon, radius_km)
        start = np.searchsorted(cell_ids, low, side="left")
        stop = np.searchsorted(cell_ids, high, side="right")
        return _ranges(start, stop)


@lru_cache(maxsize=4096)
def _covering_ranges(
    lat: float, lon: float, radius_km: float
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The ranges of cell ids (first, last) that hold every cell of CELL_RESOLUTION that may
    meet the circle: the descendants of a disk of coarser cells that covers it (the
    descendants of a cell form one range of ids, as an H3 id starts with its parents' digits).
    The same for every shard, so a question over several shards computes it once."""
    resolution = CELL_RESOLUTION
    while resolution > 0 and h3.average_hexagon_edge_length(resolution, "km") < radius_km / 6:
        resolution -= 1
    edge = h3.average_hexagon_edge_length(resolution, "km")
    # Cell centres are at least about 0.85 edge apart even where H3 is most distorted.
    rings = math.ceil(radius_km / (0.85 * edge)) + 1
    origin = h3.latlng_to_cell(lat, lon, resolution)
    parents = np.array(h3.grid_disk(origin, rings), dtype=np.uint64)
    low = _center_children(parents, resolution, CELL_RESOLUTION)
    # The unused digits below ``resolution`` set to 6 (the largest child digit).
    mask = 0
    for digit in range(resolution + 1, CELL_RESOLUTION + 1):
        mask |= 6 << ((15 - digit) * 3)
    high = low | np.uint64(mask)
    low.flags.writeable = False
    high.flags.writeable = False
    return low, high


def _center_children(
    parents: np.ndarray[Any, Any], resolution: int, child_resolution: int
) -> np.ndarray[Any, Any]:
    """The centre child at ``child_resolution`` of each H3 cell of ``resolution`` (what
    ``h3.cell_to_center_child`` gives, for a whole array): the index's resolution field set
    to the child's, and the digits of the finer resolutions set to 0, the centre digit."""
    children = (parents & ~np.uint64(0xF << 52)) | np.uint64(child_resolution << 52)
    for digit in range(resolution + 1, child_resolution + 1):
        children &= ~np.uint64(7 << ((15 - digit) * 3))
    return children


def _mapped(path: Path) -> np.ndarray[Any, Any]:
    """A stored array, memory-mapped read-only; seen as a plain ndarray, whose indexing does not
    go through numpy.memmap's slower Python-level ``__getitem__``."""
    mapped: np.ndarray[Any, Any] = np.load(path, mmap_mode="r").view(np.ndarray)
    return mapped


def _ranges(start: np.ndarray[Any, Any], stop: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The integers of the half-open ranges ``start[i]:stop[i]``, in one array."""
    lengths = np.maximum(stop - start, 0)
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.repeat(start - np.cumsum(lengths) + lengths, lengths)
    values: np.ndarray[Any, Any] = np.arange(total) + offsets
    return values


def _slices(starts: np.ndarray[Any, Any], cells: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The row positions of the pings of ``cells`` (cell ``i`` holds rows starts[i]:starts[i+1])."""
    return _ranges(starts[cells], starts[cells + 1])


class ShardedFamily:
    """One family across every shard: a key's bitmap is the union of its shards' bitmaps."""

    def __init__(self, parts: list[Family]) -> None:
        self.parts = parts

    def entries(self) -> list[Key]:
        return list(dict.fromkeys(key for part in self.parts for key in part.entries()))

    def size(self, key: Key) -> int:
        return sum(part.size(key) for part in self.parts)

    def get(self, key: Key) -> FrozenBitMap:
        return _union(part.get(key) for part in self.parts)


class Index:
    """A published index build, opened read-only: its shards, each answering for its users.

    Every question is asked of each shard and the answers are united: shards hold disjoint
    users, so a size is the sum of the shards' sizes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        meta = json.loads((directory / "index.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT_VERSION:
            raise IndexFormatError(
                f"index build {meta.get('build_id')} has format {meta.get('format')}, this Reach"
                f" reads format {FORMAT_VERSION}: run `reach index build`"
            )
        self.build_id: str = meta["build_id"]
        self.as_of = date.fromisoformat(meta["as_of"])
        self.built_at = datetime.fromisoformat(meta["built_at"])
        self.days = sorted(meta["days"])
        self.windows: dict[str, int] = meta["windows"]
        self.shard_span: int = meta["shard_span"]
        countries: dict[str, list[str]] = json.loads(
            (directory / "advertiser_countries.json").read_text(encoding="utf-8")
        )
        self.shards: list[ShardIndex] = []
        for number, record in enumerate(meta["shards"]):
            folder = directory / "shards" / str(record["name"])
            if record.get("number") != number or not (folder / SHARD_DONE).is_file():
                raise IncompleteIndexError(
                    f"index build {self.build_id} lacks its finished shard {record['name']}:"
                    " it is not served; run `reach index build`"
                )
            self.shards.append(
                ShardIndex(folder, self.as_of, self.days, countries, record.get("blocks", ()))
            )
        if not self.shards:
            raise IncompleteIndexError(f"index build {self.build_id} has no shard")
        self._advertiser_countries = countries

    def _union(self, ask: Callable[[ShardIndex], AbstractBitMap]) -> FrozenBitMap:
        if len(self.shards) == 1:
            found = ask(self.shards[0])
            return found if isinstance(found, FrozenBitMap) else FrozenBitMap(found)
        return _union(
            FrozenBitMap(found) if not isinstance(found, FrozenBitMap) else found
            for found in map(ask, self.shards)
        )

    # --- plumbing ----------------------------------------------------------------------------

    def family(self, name: str) -> ShardedFamily:
        return ShardedFamily([shard.family(name) for shard in self.shards])

    def daily_families(self, name: str, low: int, high: int) -> list[tuple[int, ShardedFamily]]:
        """The per-day families of ``name`` between ``low`` and ``high`` days ago, with how many
        days ago each is."""
        by_day: dict[int, list[Family]] = {}
        for shard in self.shards:
            for days_ago, family in shard.daily_families(name, low, high):
                by_day.setdefault(days_ago, []).append(family)
        return [(days_ago, ShardedFamily(parts)) for days_ago, parts in by_day.items()]

    # --- building blocks ---------------------------------------------------------------------

    def universe(self) -> FrozenBitMap:
        return self._union(lambda s: s.universe())

    def visitors(self, advertiser_id: int, low: int, high: int) -> FrozenBitMap:
        """Users who visited the advertiser on a day between ``low`` and ``high`` days ago."""
        return self._union(lambda s: s.visitors(advertiser_id, low, high))

    def buyers(self, advertiser_id: int, low: int, high: int) -> FrozenBitMap:
        return self._union(lambda s: s.buyers(advertiser_id, low, high))

    def active(self, low: int, high: int) -> FrozenBitMap:
        return self._union(lambda s: s.active(low, high))

    def country(self, code: str) -> FrozenBitMap:
        return self._union(lambda s: s.country(code))

    def countries(self) -> dict[str, FrozenBitMap]:
        """The users of each country."""
        family = self.family("country")
        return {str(key[0]): family.get(key) for key in family.entries()}

    def advertiser_countries(self, advertiser_id: int) -> list[str]:
        return self._advertiser_countries.get(str(advertiser_id), [])

    # --- segment types -----------------------------------------------------------------------

    def retargeting(
        self, advertiser_id: int, visitors_type: str, days_min: int, days_max: int
    ) -> FrozenBitMap:
        return self._union(
            lambda s: s.retargeting(advertiser_id, visitors_type, days_min, days_max)
        )

    def prospecting(
        self, advertiser_id: int, users_type: str, days_min: int, days_max: int
    ) -> FrozenBitMap:
        return self._union(lambda s: s.prospecting(advertiser_id, users_type, days_min, days_max))

    def in_market(
        self,
        country: str,
        brand_ids: Sequence[int] = (),
        interest_ids: Sequence[str] = (),
        price_ranges: Sequence[str] = (),
        buying_powers: Sequence[str] = (),
        gender: str | None = None,
    ) -> FrozenBitMap:
        """``interest_ids`` must already include the descendants of the interests asked for."""
        return self._union(
            lambda s: s.in_market(
                country, brand_ids, interest_ids, price_ranges, buying_powers, gender
            )
        )

    def behavioral(self, category: str, country: str | None) -> FrozenBitMap:
        return self._union(lambda s: s.behavioral(category, country))

    def location(self, points: Sequence[tuple[float, float]], radius_km: float) -> FrozenBitMap:
        """Users with a ping in the window within ``radius_km`` (great circle) of a point."""
        return self._union(lambda s: s.location(points, radius_km))

    def match(self, keys: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], BitMap]:
        """Which of ``keys`` (identity keys) the identity graph knows, as a mask, and the users
        they belong to, over every shard."""
        matched = np.zeros(len(keys), dtype=bool)
        users = BitMap()
        for shard in self.shards:
            found, members = shard.match(keys)
            matched |= found
            users |= members
        return matched, users


class IndexProvider:
    """The index in service for a data directory, swapped in as soon as a build is published.

    Each call reads the small ``CURRENT`` pointer; a new build is opened (lazily) only when the
    pointer changed, and requests already holding the old index keep using it.
    """

    def __init__(self, data_dir: Path) -> None:
        self.pointer = data_dir / "index" / "CURRENT"
        self._lock = Lock()
        self._current: Index | None = None
        # The build refused last, and what is served while CURRENT names it.
        self._refused: tuple[str, Index | None] | None = None

    def current(self) -> Index | None:
        try:
            build_id = self.pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        index = self._current
        if index is not None and index.build_id == build_id:
            return index
        refused = self._refused
        if refused is not None and refused[0] == build_id:
            return refused[1]
        with self._lock:
            if self._current is None or self._current.build_id != build_id:
                directory = self.pointer.parent / "builds" / build_id
                if not directory.is_dir():
                    return self._current
                try:
                    self._current = Index(directory)
                except IndexFormatError as error:
                    # An incomplete build leaves the index in service; one of another format
                    # cannot be served, nor can the older one it replaced be trusted to be
                    # what the operator wants.
                    kept = self._current if isinstance(error, IncompleteIndexError) else None
                    log.warning("%s", error)
                    self._refused = (build_id, kept)
                    return kept
            return self._current
