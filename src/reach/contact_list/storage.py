"""Contact-list storage: per list, append-only files of identity keys (never raw identifiers).

Why files and not database rows: a list may hold millions of identifiers and a call brings up to
50,000; writing one small file of 33-byte keys per call costs milliseconds, holds no lock on the
database, and the keys are matched against the identity graph with array searches, not joins.
The database keeps the segment; ``<data dir>/lists/<segment id>/`` keeps its identifiers:

- ``<seq>-add.npy`` / ``<seq>-remove.npy``: the keys one call added or removed;
- ``<seq>-base.npy``: the whole list as of ``seq`` (a compaction, or an empty one for a wipe);
- ``invalid.json``: how many uploaded identifiers were refused, by reason (counts only).

The list is the latest base with the later changes replayed in order. Writers of one list take
its lock in turn (a write takes milliseconds); readers need no lock, since every file appears
whole (written aside, then renamed) and a base makes older files irrelevant.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from reach.engine.identities import KEY_DTYPE, unique_keys
from reach.engine.store import file_lock, private_dir, write_atomically

Operation = Literal["add", "remove"]
FILE = re.compile(r"(\d{12})-(add|remove|base)\.npy")
# Compact when this many changes follow the base: reading stays one pass over few files.
COMPACT_AFTER = 16


def _write_keys(path: Path, keys: np.ndarray[Any, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, np.ascontiguousarray(keys, dtype=KEY_DTYPE))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ListStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, segment_id: int) -> Path:
        return self.root / str(segment_id)

    def _files(self, folder: Path) -> list[tuple[int, str, Path]]:
        if not folder.is_dir():
            return []
        found = []
        for path in folder.iterdir():
            match = FILE.fullmatch(path.name)
            if match:
                found.append((int(match[1]), match[2], path))
        return sorted(found)

    def version(self, segment_id: int) -> int:
        """Grows with every change of the list (0: never changed)."""
        files = self._files(self._folder(segment_id))
        return files[-1][0] if files else 0

    def change(self, segment_id: int, operation: Operation, keys: np.ndarray[Any, Any]) -> int:
        """Record that ``keys`` were added or removed; returns the list's new version."""
        folder = self._folder(segment_id)
        private_dir(folder)
        with file_lock(folder / ".lock"):
            files = self._files(folder)
            seq = (files[-1][0] if files else 0) + 1
            _write_keys(folder / f"{seq:012d}-{operation}.npy", unique_keys(keys))
            since_base = [f for f in files if f[1] != "base"]
            bases = [f for f in files if f[1] == "base"]
            if bases:
                since_base = [f for f in since_base if f[0] > bases[-1][0]]
            if len(since_base) + 1 >= COMPACT_AFTER:
                self._compact(folder, seq)
        return seq

    def clear(self, segment_id: int) -> int:
        """Empty the list (the segment stays)."""
        folder = self._folder(segment_id)
        private_dir(folder)
        with file_lock(folder / ".lock"):
            files = self._files(folder)
            seq = (files[-1][0] if files else 0) + 1
            _write_keys(folder / f"{seq:012d}-base.npy", np.empty(0, dtype=KEY_DTYPE))
            self._prune(folder, seq)
        return seq

    def keys(self, segment_id: int) -> tuple[int, np.ndarray[Any, Any]]:
        """The list's version and its keys, sorted and unique."""
        for _ in range(5):
            try:
                return self._replay(self._files(self._folder(segment_id)))
            except FileNotFoundError:
                continue  # a compaction removed a file under our feet: read again
        with file_lock(self._folder(segment_id) / ".lock"):
            return self._replay(self._files(self._folder(segment_id)))

    def drop(self, segment_id: int) -> None:
        """Forget the list entirely (its segment was deleted)."""
        shutil.rmtree(self._folder(segment_id), ignore_errors=True)

    def count_invalid(self, segment_id: int, reasons: Counter[str]) -> None:
        if not reasons:
            return
        folder = self._folder(segment_id)
        private_dir(folder)
        with file_lock(folder / ".lock"):
            counts = Counter(self.invalid(segment_id))
            counts.update(reasons)
            write_atomically(folder / "invalid.json", json.dumps(dict(counts)))

    def invalid(self, segment_id: int) -> dict[str, int]:
        path = self._folder(segment_id) / "invalid.json"
        if not path.exists():
            return {}
        counts: dict[str, int] = json.loads(path.read_text(encoding="utf-8"))
        return counts

    # --- internals ---------------------------------------------------------------------------

    @staticmethod
    def _replay(files: Iterable[tuple[int, str, Path]]) -> tuple[int, np.ndarray[Any, Any]]:
        ordered = list(files)
        if not ordered:
            return 0, np.empty(0, dtype=KEY_DTYPE)
        bases = [f for f in ordered if f[1] == "base"]
        start = bases[-1][0] if bases else 0
        state = np.load(bases[-1][2]) if bases else np.empty(0, dtype=KEY_DTYPE)
        pending: list[np.ndarray[Any, Any]] = []
        pending_operation: str | None = None

        def apply(current: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
            if not pending:
                return current
            batch = np.concatenate(pending)
            if pending_operation == "add":
                return unique_keys(np.concatenate([current, batch]))
            # Both sides are sorted and unique: find the removed keys by binary search.
            removed = unique_keys(batch)
            at = np.searchsorted(current, removed)
            inside = at < len(current)
            hits = at[inside][current[at[inside]] == removed[inside]]
            remaining: np.ndarray[Any, Any] = np.delete(current, hits)
            return remaining

        # Runs of the same operation are applied together: one sort per run, not per file.
        for seq, operation, path in ordered:
            if seq <= start:
                continue
            if operation != pending_operation:
                state = apply(state)
                pending, pending_operation = [], operation
            pending.append(np.load(path))
        state = apply(state)
        return ordered[-1][0], state

    def _compact(self, folder: Path, seq: int) -> None:
        _, state = self._replay(f for f in self._files(folder) if f[0] <= seq)
        _write_keys(folder / f"{seq:012d}-base.npy", state)
        self._prune(folder, seq)

    def _prune(self, folder: Path, base_seq: int) -> None:
        """Remove what a base made irrelevant (readers ignore it already)."""
        for seq, operation, path in self._files(folder):
            if seq < base_seq or (seq == base_seq and operation != "base"):
                path.unlink(missing_ok=True)
