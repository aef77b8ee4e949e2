"""Operators: the people who sign in to the console and approve consents on the consent page,
and the advertisers each may reach there."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reach.models.base import Base, UTCDateTime


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Normalised and lower-cased, so one address is one operator however it is typed.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # An argon2id hash in its PHC string form; the password itself is never stored.
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A read-only operator sees everything of their advertisers in the console and changes
    # nothing: their console token holds only the read scope.
    read_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Carried by each session cookie; raising it ends every session of the operator at once
    # (sign-out, a new password).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    grants: Mapped[list[OperatorAdvertiser]] = relationship(
        back_populates="operator",
        cascade="all, delete-orphan",
        order_by="OperatorAdvertiser.advertiser_id",
    )


class OperatorAdvertiser(Base):
    __tablename__ = "operator_advertisers"

    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True
    )
    advertiser_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("advertisers.id", ondelete="RESTRICT"), primary_key=True
    )

    operator: Mapped[Operator] = relationship(back_populates="grants")
