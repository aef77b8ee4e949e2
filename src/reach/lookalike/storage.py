"""Lookalike results on disk: per lookalike, the members and the model's summary, by input key.

``<data dir>/lookalikes/<segment id>/<key>.bitmap`` holds the members, ``<key>.json`` the
summary (``reach lookalike explain``) and ``<key>.error`` why a build failed. The key names
everything the result depends on (model version, index build, seed members, target size), so a
result is never stale: a changed input has another key. The summary is written last, so a
result exists once its summary does; a crash mid-write leaves nothing that counts, and the next
scan builds it again.
"""

from __future__ import annotations

import fcntl
import json
import shutil
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from threading import Lock
from typing import Any

from pyroaring import BitMap, FrozenBitMap

from reach.engine.store import private_dir, write_atomically

CACHED_RESULTS = 64


class ResultStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = Lock()
        self._cache: OrderedDict[tuple[int, str], FrozenBitMap] = OrderedDict()

    def _folder(self, segment_id: int) -> Path:
        return self.root / str(segment_id)

    def has_any(self, segment_id: int) -> bool:
        return self._folder(segment_id).is_dir()

    def has(self, segment_id: int, key: str) -> bool:
        return (self._folder(segment_id) / f"{key}.json").exists()

    def members(self, segment_id: int, key: str) -> FrozenBitMap | None:
        """The members of the result of ``key``, if it is built."""
        with self._lock:
            found = self._cache.get((segment_id, key))
            if found is not None:
                self._cache.move_to_end((segment_id, key))
                return found
        if not self.has(segment_id, key):
            return None
        try:
            blob = (self._folder(segment_id) / f"{key}.bitmap").read_bytes()
        except FileNotFoundError:  # replaced by a newer result meanwhile
            return None
        found = FrozenBitMap.deserialize(blob)
        with self._lock:
            self._cache[(segment_id, key)] = found
            while len(self._cache) > CACHED_RESULTS:
                self._cache.popitem(last=False)
        return found

    def error(self, segment_id: int, key: str) -> str | None:
        """Why the build of ``key`` failed, if it did."""
        try:
            return (self._folder(segment_id) / f"{key}.error").read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def fail(self, segment_id: int, key: str, reason: str) -> None:
        """Record that ``key`` cannot be built: it is not tried again until its inputs change
        or an operator asks (``reach lookalike build --retry``)."""
        write_atomically(self._folder(segment_id) / f"{key}.error", reason)

    def failure(self, segment_id: int) -> str | None:
        """Why the latest build of a lookalike failed, if it did."""
        found = sorted(self._folder(segment_id).glob("*.error"), key=lambda p: p.stat().st_mtime)
        return found[-1].read_text(encoding="utf-8") if found else None

    def forget_failures(self) -> int:
        """Drop every recorded failure, so that the next scan tries again; how many."""
        found = list(self.root.glob("*/*.error")) if self.root.is_dir() else []
        for path in found:
            path.unlink(missing_ok=True)
        return len(found)

    def summary(self, segment_id: int) -> dict[str, Any] | None:
        """The summary of the newest result of a lookalike, if any."""
        newest: dict[str, Any] | None = None
        for path in self._folder(segment_id).glob("*.json"):
            try:
                found = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue
            if newest is None or found["built_at"] > newest["built_at"]:
                newest = found
        return newest

    def save(self, segment_id: int, key: str, members: BitMap, summary: dict[str, Any]) -> None:
        """Store a result, then drop the lookalike's older ones."""
        folder = self._folder(segment_id)
        members.run_optimize()
        write_atomically(folder / f"{key}.bitmap", members.serialize())
        write_atomically(folder / f"{key}.json", json.dumps(summary, indent=1))
        for path in folder.iterdir():
            if path.suffix in (".bitmap", ".json", ".error") and path.stem != key:
                path.unlink(missing_ok=True)

    @contextmanager
    def claim(self, segment_id: int) -> Iterator[bool]:
        """Whether this process may build the lookalike now: one builder at a time, across
        processes; another builder's claim answers False at once rather than waiting."""
        folder = self._folder(segment_id)
        private_dir(folder)
        with (folder / ".lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def drop(self, segment_id: int) -> None:
        """Remove every result of one lookalike, on disk and in memory."""
        shutil.rmtree(self._folder(segment_id), ignore_errors=True)
        with self._lock:
            for cached in [k for k in self._cache if k[0] == segment_id]:
                del self._cache[cached]

    def keep_only(self, segment_ids: set[int]) -> None:
        """Remove the results of lookalikes that no longer exist."""
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if folder.is_dir() and folder.name.isdigit() and int(folder.name) not in segment_ids:
                shutil.rmtree(folder, ignore_errors=True)
