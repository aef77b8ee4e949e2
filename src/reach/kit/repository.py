"""Repository base: the queries shared by every table whose rows an advertiser owns by name."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    SQLColumnExpression,
    any_,
    bindparam,
    column,
    delete,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, Session

# Up to this many ids are written into the SQL as ``IN (...)``; more travel as one parameter
# (a PostgreSQL array, a JSON array on SQLite), so no list is too long for the database's limit
# on parameters (65,535 on PostgreSQL).
INLINE_IDS = 500


def among(
    session: Session, ids_column: SQLColumnExpression[Any], ids: Iterable[int]
) -> ColumnElement[bool]:
    """``ids_column IN ids`` for a list of ids of any length."""
    wanted = sorted(set(ids))
    if len(wanted) <= INLINE_IDS:
        return ids_column.in_(wanted)
    if session.get_bind().dialect.name == "postgresql":
        return ids_column == any_(bindparam(None, wanted, type_=ARRAY(BigInteger)))
    listed = orjson.dumps(wanted).decode()
    return ids_column.in_(select(column("value")).select_from(func.json_each(listed)))


class AdvertiserOwned:
    """Mixin of a table of named rows owned by an advertiser (names unique per advertiser)."""

    id: Mapped[int]
    advertiser_id: Mapped[int]
    name: Mapped[str]


M = TypeVar("M", bound=AdvertiserOwned)


class OwnedRepository(Generic[M]):
    model: type[M]

    def __init__(self, session: Session) -> None:
        self.session = session

    def by_ids(self, ids: Iterable[int], advertiser_ids: Collection[int]) -> dict[int, M]:
        """The rows among ``ids`` that belong to one of ``advertiser_ids``."""
        wanted = set(ids)
        if not wanted or not advertiser_ids:
            return {}
        rows = self.session.scalars(
            select(self.model).where(
                among(self.session, self.model.id, wanted),
                among(self.session, self.model.advertiser_id, advertiser_ids),
            )
        )
        return {row.id: row for row in rows}

    def advertisers_of(self, ids: Iterable[int], advertiser_ids: Collection[int]) -> set[int]:
        wanted = set(ids)
        if not wanted or not advertiser_ids:
            return set()
        return set(
            self.session.scalars(
                select(self.model.advertiser_id)
                .where(
                    among(self.session, self.model.id, wanted),
                    among(self.session, self.model.advertiser_id, advertiser_ids),
                )
                .distinct()
            )
        )

    def names_in_use(self, advertiser_id: int, names: Iterable[str]) -> dict[str, int]:
        """Which of ``names`` the advertiser already uses, and by which row."""
        wanted = set(names)
        if not wanted:
            return {}
        rows = self.session.execute(
            select(self.model.name, self.model.id).where(
                self.model.advertiser_id == advertiser_id, self.model.name.in_(wanted)
            )
        )
        return {row.name: row.id for row in rows}

    def add_all(self, rows: Sequence[M]) -> None:
        self.session.add_all(rows)
        self.session.flush()

    def delete(self, ids: Collection[int]) -> None:
        if ids:
            self.session.execute(delete(self.model).where(among(self.session, self.model.id, ids)))
