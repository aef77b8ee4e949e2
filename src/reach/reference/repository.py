"""Every SQL query on reference data: advertisers and brands."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from reach.kit.repository import among
from reach.models import AdSet, Advertiser, Brand


class AdvertiserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, advertiser_id: int) -> Advertiser | None:
        return self.session.get(Advertiser, advertiser_id)

    def list(self) -> Sequence[Advertiser]:
        return self.session.scalars(select(Advertiser).order_by(Advertiser.id)).all()

    def existing_ids(self, ids: Iterable[int]) -> set[int]:
        wanted = set(ids)
        if not wanted:
            return set()
        found = self.session.scalars(
            select(Advertiser.id).where(among(self.session, Advertiser.id, wanted))
        )
        return set(found)

    def by_ids(self, ids: Iterable[int]) -> Sequence[Advertiser]:
        return self.session.scalars(
            select(Advertiser)
            .where(among(self.session, Advertiser.id, ids))
            .order_by(Advertiser.id)
        ).all()

    def lock(self, ids: Iterable[int]) -> None:
        """Serialise writers per advertiser (row locks on PostgreSQL, in id order so two
        writers never deadlock; SQLite writers already hold the database write lock)."""
        wanted = sorted(set(ids))
        if wanted:
            self.session.execute(
                select(Advertiser.id)
                .where(among(self.session, Advertiser.id, wanted))
                .order_by(Advertiser.id)
                .with_for_update()
            ).all()

    def add(self, advertiser: Advertiser) -> None:
        self.session.add(advertiser)
        self.session.flush()


class BrandRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def list(self) -> Sequence[Brand]:
        return self.session.scalars(select(Brand).order_by(Brand.id)).all()

    def get(self, brand_id: int) -> Brand | None:
        return self.session.get(Brand, brand_id)

    def existing_ids(self, ids: Iterable[int]) -> set[int]:
        wanted = set(ids)
        if not wanted:
            return set()
        return set(
            self.session.scalars(select(Brand.id).where(among(self.session, Brand.id, wanted)))
        )

    def add(self, brand: Brand) -> None:
        self.session.add(brand)
        self.session.flush()


class AdSetRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, ad_set_id: int) -> AdSet | None:
        return self.session.get(AdSet, ad_set_id)

    def list(self) -> Sequence[AdSet]:
        return self.session.scalars(select(AdSet).order_by(AdSet.id)).all()

    def add(self, ad_set: AdSet) -> None:
        self.session.add(ad_set)
        self.session.flush()
