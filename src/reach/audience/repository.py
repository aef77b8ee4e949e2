"""Every SQL query on audiences, their segment links and their ad-set links."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from sqlalchemy import ColumnElement, delete, exists, func, select

from reach.kit.repository import OwnedRepository, among
from reach.models import AdSet, Audience, AudienceSegmentLink


class AudienceRepository(OwnedRepository[Audience]):
    model = Audience

    def set_segments(self, links: dict[int, set[int]]) -> None:
        """Make each audience's segment links exactly the given segments."""
        if not links:
            return
        self.session.execute(
            delete(AudienceSegmentLink).where(
                among(self.session, AudienceSegmentLink.audience_id, links)
            )
        )
        self.session.add_all(
            AudienceSegmentLink(audience_id=audience_id, segment_id=segment_id)
            for audience_id, segment_ids in links.items()
            for segment_id in sorted(segment_ids)
        )
        self.session.flush()

    def ad_sets_of(self, audience_ids: Iterable[int]) -> dict[int, list[int]]:
        """The ad sets linked to each audience, in id order."""
        wanted = set(audience_ids)
        if not wanted:
            return {}
        linked: dict[int, list[int]] = {}
        rows = self.session.execute(
            select(AdSet.audience_id, AdSet.id)
            .where(among(self.session, AdSet.audience_id, wanted))
            .order_by(AdSet.id)
        )
        for row in rows:
            if row.audience_id is not None:
                linked.setdefault(row.audience_id, []).append(row.id)
        return linked

    def search(
        self,
        advertiser_ids: Collection[int],
        audience_ids: Collection[int] | None,
        segment_ids: Collection[int] | None,
        ad_set_ids: Collection[int] | None,
        limit: int,
        offset: int,
    ) -> tuple[Sequence[Audience], int]:
        """One page of matching audiences in id order, and how many match in all."""
        conditions: list[ColumnElement[bool]] = [
            among(self.session, Audience.advertiser_id, advertiser_ids)
        ]
        if audience_ids is not None:
            conditions.append(among(self.session, Audience.id, audience_ids))
        if segment_ids is not None:
            conditions.append(
                exists().where(
                    AudienceSegmentLink.audience_id == Audience.id,
                    among(self.session, AudienceSegmentLink.segment_id, segment_ids),
                )
            )
        if ad_set_ids is not None:
            conditions.append(
                exists().where(
                    AdSet.audience_id == Audience.id, among(self.session, AdSet.id, ad_set_ids)
                )
            )
        total = self.session.scalar(select(func.count()).select_from(Audience).where(*conditions))
        rows = self.session.scalars(
            select(Audience).where(*conditions).order_by(Audience.id).limit(limit).offset(offset)
        ).all()
        return rows, int(total or 0)
