"""Every SQL query on API clients and their advertiser grants."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from reach.models import ApiClient, ClientAdvertiser


class ClientRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_client_id(self, client_id: str) -> ApiClient | None:
        """The client alone: the hot paths (tokens, every call) never need its grants as objects."""
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

    def add(self, client: ApiClient) -> None:
        self.session.add(client)
        self.session.flush()
