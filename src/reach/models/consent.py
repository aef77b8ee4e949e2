"""Consents: an approval that a client may act for some advertisers, with the authorization
codes and refresh tokens issued under it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reach.models.base import Base, UTCDateTime
from reach.models.client import ApiClient
from reach.models.operator import Operator

# A consent granted with the command line has no operator.
GRANTED_BY_CLI = "cli"


class Consent(Base):
    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_pk: Mapped[int] = mapped_column(
        ForeignKey("api_clients.id", ondelete="CASCADE"), index=True
    )
    redirect_uri: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    operator_id: Mapped[int | None] = mapped_column(
        ForeignKey("operators.id", ondelete="RESTRICT"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Why it ended: revoked by an operator, its client revoked, or a code or refresh token
    # presented a second time (the tokens may have been stolen).
    revoked_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)

    client: Mapped[ApiClient] = relationship()
    operator: Mapped[Operator | None] = relationship()
    advertisers: Mapped[list[ConsentAdvertiser]] = relationship(
        back_populates="consent",
        cascade="all, delete-orphan",
        order_by="ConsentAdvertiser.advertiser_id",
    )

    @property
    def granted_by(self) -> str:
        return self.operator.email if self.operator is not None else GRANTED_BY_CLI


class ConsentAdvertiser(Base):
    __tablename__ = "consent_advertisers"

    consent_id: Mapped[int] = mapped_column(
        ForeignKey("consents.id", ondelete="CASCADE"), primary_key=True
    )
    advertiser_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("advertisers.id", ondelete="RESTRICT"), primary_key=True
    )

    consent: Mapped[Consent] = relationship(back_populates="advertisers")


class AuthorizationCode(Base):
    """A one-time code for the authorization-code grant, bound to its consent (hence its client)
    and to the exact redirect URI it was sent to."""

    __tablename__ = "authorization_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Keyed HMAC-SHA256 of the code, hex; the code itself is never stored.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    consent_id: Mapped[int] = mapped_column(
        ForeignKey("consents.id", ondelete="CASCADE"), index=True
    )
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RefreshToken(Base):
    """A refresh token; every use replaces it with a new one (rotation) and marks it used."""

    __tablename__ = "refresh_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Keyed HMAC-SHA256 of the token, hex; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    consent_id: Mapped[int] = mapped_column(
        ForeignKey("consents.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
