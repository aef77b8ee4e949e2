"""Every SQL query on API clients, consents (with their codes and refresh tokens) and
operators, and their advertiser grants."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, selectinload

from reach.kit.findings import control_character
from reach.models import (
    ApiClient,
    AuthorizationCode,
    ClientAdvertiser,
    Consent,
    ConsentAdvertiser,
    Operator,
    OperatorAdvertiser,
    RefreshToken,
)


def _claimed(session: Session, statement: Any) -> bool:
    """Run a conditional UPDATE of one row; whether it changed the row. Two requests racing
    for the same code or refresh token both run it, and the database lets only one win."""
    result = cast(
        "CursorResult[Any]",
        session.execute(statement, execution_options={"synchronize_session": False}),
    )
    return result.rowcount == 1


# The length of the client_id column; chosen ids have at most this many characters too.
CLIENT_ID_MAX_LENGTH = 64


class ClientRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_client_id(self, client_id: str) -> ApiClient | None:
        """The client alone: the hot paths (tokens, every call) never need its grants as objects.
        An id no client can have (too long, or with a control character) names none and is not
        sent to the database: PostgreSQL refuses a NUL in text with an error."""
        if len(client_id) > CLIENT_ID_MAX_LENGTH or control_character(client_id) is not None:
            return None
        return self.session.scalars(
            select(ApiClient).where(ApiClient.client_id == client_id)
        ).one_or_none()

    def advertiser_ids(self, client_pk: int) -> frozenset[int]:
        return frozenset(
            self.session.scalars(
                select(ClientAdvertiser.advertiser_id).where(
                    ClientAdvertiser.client_pk == client_pk
                )
            )
        )

    def list(self) -> Sequence[ApiClient]:
        return self.session.scalars(
            select(ApiClient).options(selectinload(ApiClient.grants)).order_by(ApiClient.id)
        ).all()

    def replace_secret(self, client: ApiClient, secret_hash: str) -> None:
        """A new secret, in the next generation: counted by the database, so two rotations at
        once both count and the tokens of either secret end."""
        self.session.execute(
            update(ApiClient)
            .where(ApiClient.id == client.id)
            .values(secret_hash=secret_hash, secret_generation=ApiClient.secret_generation + 1),
            execution_options={"synchronize_session": "fetch"},
        )

    def add(self, client: ApiClient) -> None:
        self.session.add(client)
        self.session.flush()


class ConsentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, consent: Consent) -> None:
        self.session.add(consent)
        self.session.flush()

    def get(self, consent_id: int) -> Consent | None:
        return self.session.get(Consent, consent_id)

    def list(self) -> Sequence[Consent]:
        return self.session.scalars(
            select(Consent)
            .options(
                selectinload(Consent.advertisers),
                selectinload(Consent.client),
                selectinload(Consent.operator),
            )
            .order_by(Consent.id)
        ).all()

    def advertiser_ids(self, consent_id: int) -> frozenset[int]:
        return frozenset(
            self.session.scalars(
                select(ConsentAdvertiser.advertiser_id).where(
                    ConsentAdvertiser.consent_id == consent_id
                )
            )
        )

    def revoke(self, consent_id: int, now: datetime, reason: str) -> None:
        """End a consent unless it has ended already (the first reason is kept)."""
        self.session.execute(
            update(Consent)
            .where(Consent.id == consent_id, Consent.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason),
            execution_options={"synchronize_session": "fetch"},
        )

    def revoke_of_client(self, client_pk: int, now: datetime, reason: str) -> None:
        self.session.execute(
            update(Consent)
            .where(Consent.client_pk == client_pk, Consent.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason),
            execution_options={"synchronize_session": "fetch"},
        )


class GrantRepository:
    """Authorization codes and refresh tokens, found by the keyed hash of their value."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add_code(self, code: AuthorizationCode) -> None:
        self.session.add(code)
        self.session.flush()

    def code(self, code_hash: str) -> AuthorizationCode | None:
        return self.session.scalars(
            select(AuthorizationCode).where(AuthorizationCode.code_hash == code_hash)
        ).one_or_none()

    def use_code(self, code_id: int, now: datetime) -> bool:
        """Mark a code used; False when another request used it first."""
        return _claimed(
            self.session,
            update(AuthorizationCode)
            .where(AuthorizationCode.id == code_id, AuthorizationCode.used_at.is_(None))
            .values(used_at=now),
        )

    def add_refresh_token(self, token: RefreshToken) -> None:
        self.session.add(token)
        self.session.flush()

    def refresh_token(self, token_hash: str) -> RefreshToken | None:
        return self.session.scalars(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        ).one_or_none()

    def use_refresh_token(self, token_id: int, now: datetime) -> bool:
        """Mark a refresh token used (rotated); False when another request used it first."""
        return _claimed(
            self.session,
            update(RefreshToken)
            .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
            .values(used_at=now),
        )


class OperatorRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_email(self, email: str) -> Operator | None:
        return self.session.scalars(select(Operator).where(Operator.email == email)).one_or_none()

    def get(self, operator_id: int) -> Operator | None:
        return self.session.get(Operator, operator_id)

    def list(self) -> Sequence[Operator]:
        return self.session.scalars(
            select(Operator).options(selectinload(Operator.grants)).order_by(Operator.id)
        ).all()

    def advertiser_ids(self, operator_id: int) -> frozenset[int]:
        return frozenset(
            self.session.scalars(
                select(OperatorAdvertiser.advertiser_id).where(
                    OperatorAdvertiser.operator_id == operator_id
                )
            )
        )

    def add(self, operator: Operator) -> None:
        self.session.add(operator)
        self.session.flush()
