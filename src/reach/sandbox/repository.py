"""Every SQL query of the sandbox reset: what API clients created, removed in key order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, delete, select, update
from sqlalchemy.orm import Session

from reach.kit.repository import among
from reach.models import AdSet, Advertiser, Audience, AudienceSegment, AudienceSegmentLink

# Platform segments: reference data provided with `reach behavioral add`, kept by a reset.
KEPT_SEGMENT_TYPES = ("Behavioral",)


@dataclass(frozen=True)
class Removed:
    """What one reset removed from the database."""

    ad_set_links: int
    audiences: int
    segments: int
    contact_list_ids: list[int]
    lookalike_ids: list[int]


class ResetRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _count(self, statement: Executable) -> int:
        """Run an UPDATE or DELETE; how many rows it touched."""
        return cast(CursorResult[Any], self.session.execute(statement)).rowcount

    def advertiser_ids(self) -> list[int]:
        return list(self.session.scalars(select(Advertiser.id).order_by(Advertiser.id)))

    def remove(self, advertiser_ids: list[int]) -> Removed:
        """Unlink the ad sets, then delete the audiences (their segment links go with them),
        then the segments other than platform ones, of ``advertiser_ids``: each step removes
        what the foreign keys of the next one point at."""
        unlinked = self._count(
            update(AdSet)
            .where(
                among(self.session, AdSet.advertiser_id, advertiser_ids),
                AdSet.audience_id.is_not(None),
            )
            .values(audience_id=None)
            .execution_options(synchronize_session=False)
        )
        audience_ids = select(Audience.id).where(
            among(self.session, Audience.advertiser_id, advertiser_ids)
        )
        self.session.execute(
            delete(AudienceSegmentLink)
            .where(AudienceSegmentLink.audience_id.in_(audience_ids))
            .execution_options(synchronize_session=False)
        )
        audiences = self._count(
            delete(Audience)
            .where(among(self.session, Audience.advertiser_id, advertiser_ids))
            .execution_options(synchronize_session=False)
        )
        doomed = self.session.execute(
            select(AudienceSegment.id, AudienceSegment.type).where(
                among(self.session, AudienceSegment.advertiser_id, advertiser_ids),
                AudienceSegment.type.not_in(KEPT_SEGMENT_TYPES),
            )
        ).all()
        # One statement: a lookalike and its seed go together (the seed key is checked at the
        # end of the statement on both databases).
        self.session.execute(
            delete(AudienceSegment)
            .where(
                among(self.session, AudienceSegment.advertiser_id, advertiser_ids),
                AudienceSegment.type.not_in(KEPT_SEGMENT_TYPES),
            )
            .execution_options(synchronize_session=False)
        )
        self.session.expire_all()
        return Removed(
            ad_set_links=unlinked,
            audiences=audiences,
            segments=len(doomed),
            contact_list_ids=sorted(i for i, kind in doomed if kind == "ContactList"),
            lookalike_ids=sorted(i for i, kind in doomed if kind == "Lookalike"),
        )
