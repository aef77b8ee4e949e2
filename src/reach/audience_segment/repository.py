"""Every SQL query on audience segments."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from sqlalchemy import func, select

from reach.kit.repository import OwnedRepository, among
from reach.models import AudienceSegment, AudienceSegmentLink


class AudienceSegmentRepository(OwnedRepository[AudienceSegment]):
    model = AudienceSegment

    def lookalikes_seeded_by(self, ids: Iterable[int]) -> dict[int, set[int]]:
        """For each of ``ids`` used as a lookalike seed: the lookalikes that use it."""
        wanted = set(ids)
        if not wanted:
            return {}
        users: dict[int, set[int]] = {}
        rows = self.session.execute(
            select(AudienceSegment.seed_segment_id, AudienceSegment.id).where(
                among(self.session, AudienceSegment.seed_segment_id, wanted)
            )
        )
        for seed_id, lookalike_id in rows:
            if seed_id is not None:
                users.setdefault(seed_id, set()).add(lookalike_id)
        return users

    def of_type(self, segment_type: str) -> Sequence[AudienceSegment]:
        """Every segment of a type, of every advertiser (for the server's own work)."""
        return self.session.scalars(
            select(AudienceSegment)
            .where(AudienceSegment.type == segment_type)
            .order_by(AudienceSegment.id)
        ).all()

    def by_ids_anywhere(self, ids: Iterable[int]) -> dict[int, AudienceSegment]:
        """The segments among ``ids``, of every advertiser (for the server's own work)."""
        wanted = set(ids)
        if not wanted:
            return {}
        rows = self.session.scalars(
            select(AudienceSegment).where(among(self.session, AudienceSegment.id, wanted))
        )
        return {row.id: row for row in rows}

    def audiences_using(self, ids: Iterable[int]) -> dict[int, set[int]]:
        """For each of ``ids`` used in an audience's algebra: the audiences that use it."""
        wanted = set(ids)
        if not wanted:
            return {}
        users: dict[int, set[int]] = {}
        rows = self.session.execute(
            select(AudienceSegmentLink.segment_id, AudienceSegmentLink.audience_id).where(
                among(self.session, AudienceSegmentLink.segment_id, wanted)
            )
        )
        for segment_id, audience_id in rows:
            users.setdefault(segment_id, set()).add(audience_id)
        return users

    def search(
        self,
        advertiser_ids: Collection[int],
        segment_ids: Collection[int] | None,
        types: Collection[str] | None,
        limit: int,
        offset: int,
    ) -> tuple[Sequence[AudienceSegment], int]:
        """One page of matching segments in id order, and how many match in all."""
        conditions = [among(self.session, AudienceSegment.advertiser_id, advertiser_ids)]
        if segment_ids is not None:
            conditions.append(among(self.session, AudienceSegment.id, segment_ids))
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
