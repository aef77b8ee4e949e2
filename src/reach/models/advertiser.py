"""Advertisers: the accounts that own segments; reference data managed with the CLI."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from reach.models.base import Base, UTCDateTime


class Advertiser(Base):
    __tablename__ = "advertisers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
