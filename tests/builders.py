"""Typed builders: advertisers, clients, tokens and request items, instead of factories."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from fastapi import FastAPI

from reach.auth.service import AuthService, IssuedCode, OperatorService
from reach.kit.clock import Clock
from reach.models import AdSet, Advertiser, Brand

SEGMENTS = "/2025-01/marketing-solutions/audience-segments"


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> None:
        with self._lock:
            self._now += timedelta(**delta)


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str
    advertisers: list[str] = field(default_factory=list)


def add_advertiser(app: FastAPI, advertiser_id: int, name: str | None = None) -> None:
    clock: Clock = app.state.clock
    with app.state.database.session(write=True) as session:
        session.add(
            Advertiser(
                id=advertiser_id, name=name or f"Advertiser {advertiser_id}", created_at=clock.now()
            )
        )


def add_brand(app: FastAPI, brand_id: int, name: str) -> None:
    with app.state.database.session(write=True) as session:
        session.add(Brand(id=brand_id, name=name))


def auth_service(app: FastAPI, session: Any) -> AuthService:
    state = app.state
    return AuthService(session, state.hasher, state.signer, state.clock)


def new_client(
    app: FastAPI, *advertisers: int, read_only: bool = False, name: str = "test"
) -> Credentials:
    with app.state.database.session(write=True) as session:
        issued = auth_service(app, session).create_client(
            name, list(advertisers), read_only=read_only
        )
    return Credentials(issued.client_id, issued.client_secret, issued.advertisers)


def revoke(app: FastAPI, client_id: str) -> None:
    with app.state.database.session(write=True) as session:
        auth_service(app, session).revoke(client_id)


def retargeting(
    advertiser: int | str, name: str, low: int = 0, high: int = 30, kind: str = "All"
) -> dict[str, Any]:
    return {
        "attributes": {
            "advertiserId": str(advertiser),
            "name": name,
            "retargeting": {
                "visitorsType": kind,
                "daysSinceLastVisitMin": low,
                "daysSinceLastVisitMax": high,
            },
        }
    }


def item(advertiser: int | str, name: str, **type_object: Any) -> dict[str, Any]:
    """A create item with one type object, e.g. ``item(1, "x", inMarket={"country": "FR"})``."""
    return {"attributes": {"advertiserId": str(advertiser), "name": name, **type_object}}


AUDIENCES = "/2025-01/marketing-solutions/audiences"


def add_ad_set(app: FastAPI, ad_set_id: int, advertiser_id: int, name: str | None = None) -> None:
    clock: Clock = app.state.clock
    with app.state.database.session(write=True) as session:
        session.add(
            AdSet(
                id=ad_set_id,
                advertiser_id=advertiser_id,
                name=name or f"Ad set {ad_set_id}",
                created_at=clock.now(),
            )
        )


def audience(advertiser: int | str, name: str, algebra: dict[str, Any]) -> dict[str, Any]:
    return {"attributes": {"advertiserId": str(advertiser), "name": name, "algebra": algebra}}


def leaf(segment_id: str) -> dict[str, str]:
    return {"audienceSegmentId": segment_id}


class Caller(Protocol):
    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any: ...


def create_segments(user: Caller, *payloads: dict[str, Any]) -> list[str]:
    """Create segments that must all be accepted; their ids in order."""
    body = user.post(f"{SEGMENTS}/create", {"data": list(payloads)}).json()
    assert body["errors"] == [], body
    return [r["id"] for r in body["data"]]


def sizes(user: Caller, path: str, *ids: str) -> dict[str, Any]:
    """The body of a compute-sizes call (``path``) for ``ids``, which must answer 200."""
    response = user.post(path, {"data": [{"id": i, "type": "AudienceSegment"} for i in ids]})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def sizes_by_id(body: dict[str, Any]) -> dict[str, int | None]:
    return {r["id"]: r["attributes"]["size"] for r in body["data"]}


REDIRECT_URI = "https://app.example/callback"


def grant_consent(
    app: FastAPI, client_id: str, *advertisers: int, redirect_uri: str = REDIRECT_URI
) -> IssuedCode:
    """A consent granted as ``reach consent grant`` grants it; its one authorization code."""
    with app.state.database.session(write=True) as session:
        return auth_service(app, session).grant_consent(client_id, list(advertisers), redirect_uri)


def revoke_consent(app: FastAPI, consent_id: int) -> None:
    with app.state.database.session(write=True) as session:
        auth_service(app, session).revoke_consent(consent_id)


def add_operator(
    app: FastAPI, email: str, password: str, *advertisers: int, read_only: bool = False
) -> None:
    """An operator of the consent page and the console who may reach ``advertisers``."""
    with app.state.database.session(write=True) as session:
        operators = OperatorService(session, app.state.clock)
        operators.add(email, password, read_only=read_only)
        if advertisers:
            operators.grant(email, list(advertisers))
