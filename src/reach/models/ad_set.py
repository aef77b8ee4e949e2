"""Ad sets: reference data of the campaigns, each linked to at most one audience."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from reach.models.base import Base, UTCDateTime


class AdSet(Base):
    __tablename__ = "ad_sets"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    advertiser_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("advertisers.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    # A linked audience cannot be deleted (NO ACTION: the database refuses it too).
    audience_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("audiences.id"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
