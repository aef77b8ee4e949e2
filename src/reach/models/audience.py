"""Audiences: an algebra over segments, with one link row per segment it uses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reach.kit.repository import AdvertiserOwned
from reach.models.audience_segment import JsonDocument
from reach.models.base import Base, BigId, UTCDateTime


class Audience(AdvertiserOwned, Base):
    __tablename__ = "audiences"
    __table_args__ = (
        UniqueConstraint("advertiser_id", "name"),
        Index("ix_audiences_advertiser_id_id", "advertiser_id", "id"),
        # Ids are never reused, even after the newest audience is deleted.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    advertiser_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("advertisers.id", ondelete="RESTRICT")
    )
    name: Mapped[str] = mapped_column(String(1024))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The algebra as the API shows it, e.g. {"and": [{"audienceSegmentId": "1"}, ...]}.
    algebra: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AudienceSegmentLink(Base):
    """A segment used by an audience's algebra. The foreign key to the segment is what makes
    "an audience never points at a deleted segment" hold whatever clients race."""

    __tablename__ = "audience_segment_links"
    __table_args__ = (Index("ix_audience_segment_links_segment_id", "segment_id"),)

    audience_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("audiences.id", ondelete="CASCADE"), primary_key=True
    )
    segment_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("audience_segments.id"), primary_key=True
    )
