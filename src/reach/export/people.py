"""Who the members are: the user id of each member ordinal, and the identities that arrived
hashed, read from the event store batch by batch (never the whole set at once)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyroaring import AbstractBitMap

from reach.engine.bitmaps import ordinals_of
from reach.engine.identities import HASHED_TYPES
from reach.engine.store import Store

# Members per batch: bounded memory whatever the segment's size.
BATCH_ROWS = 65_536


def identity_column(identifier_type: str) -> str:
    """The export column of an identifier type: ``email_sha256``, ``phone_number_sha256``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", identifier_type).lower() + "_sha256"


# Only the types that arrive as SHA-256 digests: the others are stored as given (a mobile-ad
# id, a partner id), and an export never carries a raw identifier.
IDENTITY_COLUMNS = {t: identity_column(t) for t in HASHED_TYPES}


def schema(*, identities: bool) -> pa.Schema:
    """The columns of an export: ``user_id``, then one list of digests per hashed type."""
    fields = [pa.field("user_id", pa.string(), nullable=False)]
    if identities:
        fields += [pa.field(c, pa.list_(pa.string())) for c in IDENTITY_COLUMNS.values()]
    return pa.schema(fields)


class UnknownPeople(Exception):
    """Members of the index that the store does not hold (a store replaced under the index)."""


USERS = (
    "SELECT u.user_id FROM batch b JOIN users u ON u.ordinal = b.ordinal "
    "WHERE u.ordinal BETWEEN $low AND $high ORDER BY b.ordinal"
)
IDENTITIES = (
    "SELECT DISTINCT ordinal, identifier_type, digest FROM identities "  # noqa: S608 - constants
    "WHERE ordinal BETWEEN $low AND $high "
    f"AND identifier_type IN ({', '.join(repr(t) for t in IDENTITY_COLUMNS)}) "
    "AND ordinal IN (SELECT ordinal FROM batch) ORDER BY ordinal, digest"
)


def _digests(rows: pa.Table, identifier_type: str, ordinals: np.ndarray[Any, Any]) -> pa.ListArray:
    """Each member's digests of one type (``rows`` sorted by ordinal, of members only): a
    list per member, cut from the rows by where each ordinal starts (faster than an SQL
    aggregate by a wide margin)."""
    chosen = rows.filter(pc.equal(rows["identifier_type"], identifier_type))
    found = chosen["ordinal"].to_numpy()
    offsets = np.append(np.searchsorted(found, ordinals), len(found)).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), chosen["digest"].combine_chunks())


def _rows(con: duckdb.DuckDBPyConnection, query: str, low: int, high: int) -> pa.Table:
    relation = con.sql(query, params={"low": low, "high": high})
    assert relation is not None
    return relation.to_arrow_table()


def batches(
    store: Store, members: AbstractBitMap, *, identities: bool, batch_rows: int | None = None
) -> Iterator[pa.RecordBatch]:
    """The members (ordinals of the index) as record batches of ``schema``, in ordinal order.

    The store's shared lock is held until the last batch (or until the iterator is closed), so
    no ingestion replaces the files being read; ingestions wait, index builds do not."""
    wanted = schema(identities=identities)
    batch_rows = batch_rows or BATCH_ROWS
    with store.locked(shared=True), duckdb.connect() as con:
        store.create_views(con)
        for start in range(0, len(members), batch_rows):
            ordinals = ordinals_of(members[start : start + batch_rows])
            con.register("batch", pa.table({"ordinal": ordinals}))
            low, high = int(ordinals[0]), int(ordinals[-1])
            users = _rows(con, USERS, low, high)
            if users.num_rows != len(ordinals):
                raise UnknownPeople(
                    f"{len(ordinals) - users.num_rows} members of the index are not in the"
                    " store's users: run `reach index build` again"
                )
            columns = [users["user_id"].combine_chunks()]
            if identities:
                rows = _rows(con, IDENTITIES, low, high)
                columns += [_digests(rows, t, ordinals) for t in IDENTITY_COLUMNS]
            yield pa.record_batch(columns, schema=wanted)
