"""Every SQL query on API clients and their advertiser grants."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from reach.models import ApiClient


class ClientRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_client_id(self, client_id: str) -> ApiClient | None:
        return self.session.scalars(
            select(ApiClient)
            .where(ApiClient.client_id == client_id)
            .options(selectinload(ApiClient.grants))
        ).one_or_none()

    def list(self) -> Sequence[ApiClient]:
        return self.session.scalars(
            select(ApiClient).options(selectinload(ApiClient.grants)).order_by(ApiClient.id)
        ).all()

    def add(self, client: ApiClient) -> None:
        self.session.add(client)
        self.session.flush()
