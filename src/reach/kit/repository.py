"""Repository base: the queries shared by every table whose rows an advertiser owns by name."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Generic, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Mapped, Session


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
                self.model.id.in_(wanted), self.model.advertiser_id.in_(advertiser_ids)
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
                .where(self.model.id.in_(wanted), self.model.advertiser_id.in_(advertiser_ids))
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
            self.session.execute(delete(self.model).where(self.model.id.in_(ids)))
