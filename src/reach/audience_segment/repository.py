"""Every SQL query on audience segments."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from reach.models import AudienceSegment, AudienceSegmentLink


class AudienceSegmentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_ids(
        self, ids: Iterable[int], advertiser_ids: Collection[int]
    ) -> dict[int, AudienceSegment]:
        """The segments among ``ids`` that belong to one of ``advertiser_ids``."""
        wanted = set(ids)
        if not wanted or not advertiser_ids:
            return {}
        rows = self.session.scalars(
            select(AudienceSegment).where(
                AudienceSegment.id.in_(wanted), AudienceSegment.advertiser_id.in_(advertiser_ids)
            )
        )
        return {segment.id: segment for segment in rows}

    def advertisers_of(self, ids: Iterable[int], advertiser_ids: Collection[int]) -> set[int]:
        wanted = set(ids)
        if not wanted or not advertiser_ids:
            return set()
        return set(
            self.session.scalars(
                select(AudienceSegment.advertiser_id)
                .where(
                    AudienceSegment.id.in_(wanted),
                    AudienceSegment.advertiser_id.in_(advertiser_ids),
                )
                .distinct()
            )
        )

    def names_in_use(self, advertiser_id: int, names: Iterable[str]) -> dict[str, int]:
        """Which of ``names`` the advertiser already uses, and by which segment."""
        wanted = set(names)
        if not wanted:
            return {}
        rows = self.session.execute(
            select(AudienceSegment.name, AudienceSegment.id).where(
                AudienceSegment.advertiser_id == advertiser_id, AudienceSegment.name.in_(wanted)
            )
        )
        return {row.name: row.id for row in rows}

    def lookalikes_seeded_by(self, ids: Iterable[int]) -> dict[int, set[int]]:
        """For each of ``ids`` used as a lookalike seed: the lookalikes that use it."""
        wanted = set(ids)
        if not wanted:
            return {}
        users: dict[int, set[int]] = {}
        rows = self.session.execute(
            select(AudienceSegment.seed_segment_id, AudienceSegment.id).where(
                AudienceSegment.seed_segment_id.in_(wanted)
            )
        )
        for seed_id, lookalike_id in rows:
            if seed_id is not None:
                users.setdefault(seed_id, set()).add(lookalike_id)
        return users

    def audiences_using(self, ids: Iterable[int]) -> dict[int, set[int]]:
        """For each of ``ids`` used in an audience's algebra: the audiences that use it."""
        wanted = set(ids)
        if not wanted:
            return {}
        users: dict[int, set[int]] = {}
        rows = self.session.execute(
            select(AudienceSegmentLink.segment_id, AudienceSegmentLink.audience_id).where(
                AudienceSegmentLink.segment_id.in_(wanted)
            )
        )
        for segment_id, audience_id in rows:
            users.setdefault(segment_id, set()).add(audience_id)
        return users

    def add_all(self, segments: Sequence[AudienceSegment]) -> None:
        self.session.add_all(segments)
        self.session.flush()

    def delete(self, ids: Collection[int]) -> None:
        if ids:
            self.session.execute(delete(AudienceSegment).where(AudienceSegment.id.in_(ids)))

    def search(
        self,
        advertiser_ids: Collection[int],
        segment_ids: Collection[int] | None,
        types: Collection[str] | None,
        limit: int,
        offset: int,
    ) -> tuple[Sequence[AudienceSegment], int]:
        """One page of matching segments in id order, and how many match in all."""
        conditions = [AudienceSegment.advertiser_id.in_(advertiser_ids)]
        if segment_ids is not None:
            conditions.append(AudienceSegment.id.in_(segment_ids))
        if types is not None:
            conditions.append(AudienceSegment.type.in_(types))
        total = self.session.scalar(
            select(func.count()).select_from(AudienceSegment).where(*conditions)
        )
        rows = self.session.scalars(
            select(AudienceSegment)
            .where(*conditions)
            .order_by(AudienceSegment.id)
            .limit(limit)
            .offset(offset)
        ).all()
        return rows, int(total or 0)
