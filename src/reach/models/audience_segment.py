"""Audience segments: one row per segment, its type-specific definition kept as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from reach.kit.repository import AdvertiserOwned
from reach.models.base import Base, BigId, UTCDateTime

JsonDocument = JSON().with_variant(JSONB(), "postgresql")


class AudienceSegment(AdvertiserOwned, Base):
    __tablename__ = "audience_segments"
    __table_args__ = (
        UniqueConstraint("advertiser_id", "name"),
        Index("ix_audience_segments_advertiser_id_id", "advertiser_id", "id"),
        # Ids are never reused, even after the newest segment is deleted.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    advertiser_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("advertisers.id", ondelete="RESTRICT")
    )
    name: Mapped[str] = mapped_column(String(1024))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The wire name of the type: Retargeting, Prospecting, InMarket, Location, Lookalike,
    # ContactList or Behavioral. It never changes after creation.
    type: Mapped[str] = mapped_column(String(32))
    # The type object as the API shows it (e.g. {"visitorsType": "All", ...}).
    definition: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    # Lookalike seeds, as a real foreign key: a seed can never be deleted under a lookalike.
    # (NO ACTION, checked at the end of each statement, so one DELETE may remove both.)
    seed_segment_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("audience_segments.id"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
