"""Access checks of every API call: bearer token, revocation, rate limit and scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from reach.auth.scopes import AUDIENCE_MANAGE, AUDIENCE_READ, CAMPAIGN_MANAGE
from reach.auth.service import AuthService, Principal
from reach.db import Database
from reach.kit.problems import MissingScope, RateLimited, TokenInvalid, TokenMissing
from reach.kit.ratelimit import FixedWindowRateLimiter


def authenticate(request: Request) -> Principal:
    """The caller behind the ``Authorization: Bearer`` header, counted against its rate limit."""
    header = request.headers.get("authorization")
    if not header:
        raise TokenMissing("Send an access token in the Authorization header (Bearer scheme)")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenInvalid("The Authorization header must read 'Bearer <access token>'")
    state = request.app.state
    database: Database = state.database
    with database.session() as session:
        principal = AuthService(session, state.hasher, state.signer, state.clock).principal(
            token.strip()
        )
    if state.sandbox is not None:
        # Sandbox only: the journal learns the caller; injected faults strike before the limit.
        state.sandbox.on_call(request, principal.client_id)
    limiter: FixedWindowRateLimiter = state.limiter
    if limiter.enabled:
        usage = limiter.hit(principal.client_id)
        request.state.rate_limit = usage
        if not usage.allowed:
            raise RateLimited.from_usage(usage)
    return principal


def require(scope: str | None) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets the call through only when the token holds ``scope``."""

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if scope is not None and scope not in principal.scopes:
            raise MissingScope(f"This operation needs the {scope} scope")
        return principal

    return check


AnyClient = Annotated[Principal, Depends(require(None))]
AudienceReader = Annotated[Principal, Depends(require(AUDIENCE_READ))]
AudienceManager = Annotated[Principal, Depends(require(AUDIENCE_MANAGE))]
CampaignManager = Annotated[Principal, Depends(require(CAMPAIGN_MANAGE))]
