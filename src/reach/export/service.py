"""The members of a segment or an audience over the index in service, counted by the very
services that size them (reach.sizing), then written out batch by batch (docs/export.md).

An export is the raw list of people, for the data owner: the command line (the operator, who
holds the data directory) and admin tokens only; the privacy floor and the noise of sizes do
not apply to it, and every export is logged.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

import pyarrow as pa
from pyroaring import AbstractBitMap, FrozenBitMap

from reach.audience import algebra
from reach.audience.errors import AudienceNotFound
from reach.audience_segment.errors import SegmentNotFound
from reach.engine.store import Store
from reach.export import Format, people
from reach.export.errors import MembersNotReady, NoMembers, StoreMismatch
from reach.export.writers import WRITERS
from reach.kit.ids import parse_id, parse_ids
from reach.kit.problems import Problem
from reach.kit.repository import AdvertiserOwned, OwnedRepository
from reach.lookalike.errors import LookalikeComputing, LookalikeUnavailable
from reach.models import AudienceSegment
from reach.reference.repository import AdvertiserRepository
from reach.sizing.service import SizingService

log = logging.getLogger("reach.export")


@dataclass(frozen=True)
class Members:
    """The people of one segment or audience, over one index build."""

    kind: str  # "segment" or "audience"
    id: int
    members: AbstractBitMap
    build_id: str

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.id}-members"

    def __len__(self) -> int:
        return len(self.members)


M = TypeVar("M", bound=AdvertiserOwned)


class MembersService:
    """Finds the members the API would size, with the service that sizes them: every
    advertiser's segments and audiences (the caller is the operator or an admin, never a
    client)."""

    def __init__(self, sizing: SizingService) -> None:
        self.sizing = sizing
        self.index = sizing.index
        self.everyone = frozenset(a.id for a in AdvertiserRepository(sizing.session).list())

    def _one(self, rows: OwnedRepository[M], raw_id: str, missing: type[Problem], noun: str) -> M:
        wanted = parse_id(raw_id)
        found = rows.by_ids([wanted], self.everyone).get(wanted) if wanted else None
        if found is None:
            raise missing(f"{noun} {raw_id} does not exist")
        return found

    def segment(self, raw_id: str) -> Members:
        segment = self._one(self.sizing.segments, raw_id, SegmentNotFound, "Segment")
        members = _available(lambda: self.sizing.segment_members(segment))
        if segment.type == "ContactList" and not members:
            matched = self.sizing.lists.get(segment.id, self.index).members
            if matched:
                floor = self.sizing.privacy.floor
                raise NoMembers(
                    f"Contact list {segment.id} reaches nobody: {len(matched)} people match it,"
                    f" fewer than the privacy floor ({floor}, REACH_MIN_REPORTED_SIZE), so in"
                    " the noisy privacy mode it adds no one to sizes, audiences or lookalikes"
                )
        return Members("segment", segment.id, members, self.index.build_id)

    def audience(self, raw_id: str) -> Members:
        audience = self._one(self.sizing.audiences, raw_id, AudienceNotFound, "Audience")
        node, _ = algebra.parse(audience.algebra)
        if node is None:
            return Members("audience", audience.id, FrozenBitMap(), self.index.build_id)
        segments: dict[int, AudienceSegment] = self.sizing.segments.by_ids(
            parse_ids(algebra.segment_ids(node)), self.everyone
        )
        members = _available(lambda: self.sizing.audience_members(node, segments))
        return Members("audience", audience.id, members, self.index.build_id)


def _available(compute: Callable[[], AbstractBitMap]) -> AbstractBitMap:
    """Members, or why a lookalike has none to give (being built, or failed)."""
    try:
        return compute()
    except LookalikeComputing as problem:
        raise MembersNotReady(f"{problem.detail}; `reach lookalike build` builds it now") from None
    except LookalikeUnavailable as problem:
        raise NoMembers(problem.detail) from None


def batches(store: Store, found: Members, *, identities: bool) -> Iterator[pa.RecordBatch]:
    """The members' user ids (and hashed identities), batch by batch."""
    try:
        yield from people.batches(store, found.members, identities=identities)
    except people.UnknownPeople as error:
        raise StoreMismatch(str(error)) from None


def write(
    store: Store,
    found: Members,
    fmt: Format,
    sink: BinaryIO,
    *,
    identities: bool,
    written: Callable[[int], None] = lambda _rows: None,
) -> None:
    """Write the export in ``fmt`` to ``sink``; ``written`` hears of each batch's rows."""

    def counted() -> Iterator[pa.RecordBatch]:
        for batch in batches(store, found, identities=identities):
            yield batch
            written(batch.num_rows)

    WRITERS[fmt](counted(), people.schema(identities=identities), sink)


def materialised(
    store: Store,
    found: Members,
    fmt: Format,
    directory: Path,
    *,
    identities: bool,
    written: Callable[[int], None] = lambda _rows: None,
) -> BinaryIO:
    """The export written whole to a temporary file in ``directory``, rewound for reading.

    The store's shared lock is held while the file is written, and only then: whoever reads it
    afterwards, at their own pace (an HTTP client, a pipe), never holds an ingestion back, and
    a store that fails on a later batch fails before anything is sent. The file has no name (or
    loses it at once): no other process can open it, and its space is freed when it is closed.
    """
    handle = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - the caller closes it
    try:
        write(store, found, fmt, handle, identities=identities, written=written)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return handle


def logged(found: Members, fmt: Format, *, identities: bool, by: str) -> None:
    """Every export leaves a line: what, how many people, in which form, and through what."""
    log.info(
        "export of %s %d: %d members, %s%s, index build %s, by %s",
        found.kind,
        found.id,
        len(found),
        fmt,
        " with hashed identities" if identities else "",
        found.build_id,
        by,
    )
