"""Bitmap families on disk: many roaring bitmaps in one file, found by key, read on demand."""

from __future__ import annotations

import array
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from threading import Lock
from typing import Any

import numpy as np
import pyarrow as pa
from pyroaring import AbstractBitMap, BitMap, FrozenBitMap

from reach.engine.store import private_dir

Key = tuple[Any, ...]


def bitmap_of(ordinals: np.ndarray[Any, Any]) -> BitMap:
    """A bitmap from a numpy array of ordinals (the fast path of pyroaring is array.array).
    Sorted values fill a bitmap several times faster than the same values unsorted, more than
    what sorting them costs."""
    values = array.array("I")
    values.frombytes(np.sort(np.asarray(ordinals, dtype=np.uint32)).tobytes())
    return BitMap(values)


def ordinals_of(bitmap: AbstractBitMap) -> np.ndarray[Any, Any]:
    """The ordinals of a bitmap as a sorted numpy array (uint32), without a Python list."""
    return np.frombuffer(bitmap.to_array(), dtype=np.uint32)


def atoms(batches: pa.RecordBatchReader, keys: tuple[str, ...]) -> Iterator[tuple[Key, BitMap]]:
    """The atoms of a grouped rule (key columns plus an ``ordinals`` list), batch by batch."""
    for batch in batches:
        columns = [batch.column(name).to_pylist() for name in keys]
        lists = batch.column("ordinals")
        offsets = lists.offsets.to_numpy()
        values = lists.values.to_numpy(zero_copy_only=False)
        for row in range(batch.num_rows):
            key = tuple(column[row] for column in columns)
            yield key, bitmap_of(values[offsets[row] : offsets[row + 1]])


def _encode(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def write_family(path: Path, items: Iterable[tuple[Key, BitMap]]) -> int:
    """Write ``path.bin`` (serialized bitmaps) and ``path.json`` (key → offset, length)."""
    private_dir(path.parent)
    directory: list[list[Any]] = []
    offset = 0
    with open(f"{path}.bin", "wb") as data:
        for key, bitmap in items:
            bitmap.run_optimize()
            blob = bitmap.serialize()
            data.write(blob)
            directory.append([[_encode(k) for k in key], offset, len(blob), len(bitmap)])
            offset += len(blob)
        data.flush()
        os.fsync(data.fileno())
    with open(f"{path}.json", "w", encoding="utf-8") as index:
        json.dump(directory, index)
        index.flush()
        os.fsync(index.fileno())
    return len(directory)


class Family:
    """A bitmap family opened for reading: bitmaps are read and deserialized on first use, then
    kept."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[Key, tuple[int, int, int]] = {}
        with open(f"{path}.json", encoding="utf-8") as index:
            for key, offset, length, size in json.load(index):
                self._entries[tuple(key)] = (offset, length, size)
        # No descriptor stays open: an index has a family per shard, day, block and rule, far
        # more than a process may hold open; each bitmap is read once, then kept.
        self._data = Path(f"{path}.bin")
        self._cache: dict[Key, FrozenBitMap] = {}
        self._lock = Lock()

    def entries(self) -> list[Key]:
        return list(self._entries)

    def size(self, key: Key) -> int:
        entry = self._entries.get(key)
        return entry[2] if entry else 0

    def get(self, key: Key) -> FrozenBitMap:
        """The bitmap of ``key``; an unknown key is the empty set."""
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        entry = self._entries.get(key)
        if entry is None:
            return FrozenBitMap()
        offset, length, _ = entry
        with open(self._data, "rb") as data:
            blob = os.pread(data.fileno(), length, offset)
        bitmap = FrozenBitMap.deserialize(blob)
        with self._lock:
            self._cache[key] = bitmap
        return bitmap
