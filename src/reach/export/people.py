"""Who the members are: the user id of each member ordinal, and the identities that arrived
hashed, read from the event store batch by batch (never the whole set at once)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import duckdb
import pyarrow as pa
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


def _query(*, identities: bool) -> str:
    if not identities:
        return (
            "SELECT u.user_id FROM batch b JOIN users u ON u.ordinal = b.ordinal "
            "WHERE u.ordinal BETWEEN $low AND $high ORDER BY b.ordinal"
        )
    lists = ", ".join(
        f"coalesce(list(DISTINCT digest ORDER BY digest) FILTER "
        f"(WHERE identifier_type = '{t}'), []) AS {c}"
        for t, c in IDENTITY_COLUMNS.items()
    )
    hashed = ", ".join(f"'{t}'" for t in IDENTITY_COLUMNS)
    columns = ", ".join(f"coalesce(i.{c}, []) AS {c}" for c in IDENTITY_COLUMNS.values())
    return (
        f"SELECT u.user_id, {columns} FROM batch b "  # noqa: S608 - constants only
        "JOIN users u ON u.ordinal = b.ordinal "
        f"LEFT JOIN (SELECT ordinal, {lists} FROM identities "
        f"WHERE ordinal BETWEEN $low AND $high AND identifier_type IN ({hashed}) "
        "AND ordinal IN (SELECT ordinal FROM batch) GROUP BY ordinal) i "
        "ON i.ordinal = b.ordinal "
        "WHERE u.ordinal BETWEEN $low AND $high ORDER BY b.ordinal"
    )


def batches(
    store: Store, members: AbstractBitMap, *, identities: bool, batch_rows: int = BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """The members (ordinals of the index) as record batches of ``schema``, in ordinal order.

    The store's shared lock is held until the last batch (or until the iterator is closed), so
    no ingestion replaces the files being read; ingestions wait, index builds do not."""
    wanted = schema(identities=identities)
    query = _query(identities=identities)
    with store.locked(shared=True), duckdb.connect() as con:
        store.create_views(con)
        for start in range(0, len(members), batch_rows):
            ordinals = ordinals_of(members[start : start + batch_rows])
            con.register("batch", pa.table({"ordinal": ordinals}))
            relation = con.sql(query, params={"low": int(ordinals[0]), "high": int(ordinals[-1])})
            assert relation is not None
            found = relation.to_arrow_table()
            if found.num_rows != len(ordinals):
                raise UnknownPeople(
                    f"{len(ordinals) - found.num_rows} members of the index are not in the"
                    " store's users: run `reach index build` again"
                )
            yield from found.cast(wanted).to_batches()
