"""API clients (OAuth2 applications) and the advertisers each may act for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reach.models.base import Base, UTCDateTime


class ApiClient(Base):
    __tablename__ = "api_clients"

    # The application id of /marketing-solutions/me (int32 on the wire).
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    # HMAC-SHA256 of the secret under the server key, hex; the secret itself is never stored.
    secret_hash: Mapped[str] = mapped_column(String(64))
    # Counts the secret's rotations; every access token carries the generation it was issued
    # under, so a rotation ends the tokens of earlier secrets at once.
    secret_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    grants: Mapped[list[ClientAdvertiser]] = relationship(
        back_populates="client",
        cascade="all, delete-orphan",
        order_by="ClientAdvertiser.advertiser_id",
    )


class ClientAdvertiser(Base):
    __tablename__ = "client_advertisers"

    client_pk: Mapped[int] = mapped_column(
        ForeignKey("api_clients.id", ondelete="CASCADE"), primary_key=True
    )
    advertiser_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("advertisers.id", ondelete="RESTRICT"), primary_key=True
    )

    client: Mapped[ApiClient] = relationship(back_populates="grants")
