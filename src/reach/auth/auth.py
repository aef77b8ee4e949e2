"""Access checks of every API call: bearer token, revocation, rate limits and scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from reach.auth.scopes import AUDIENCE_MANAGE, AUDIENCE_READ, CAMPAIGN_MANAGE
from reach.auth.service import AuthService, Principal
from reach.auth.throttle import client_address, failure_limits
from reach.db import Database
from reach.kit.middleware import PRINCIPAL_KEY
from reach.kit.problems import (
    MissingScope,
    RateLimited,
    TokenExpired,
    TokenInvalid,
    TokenMissing,
)
from reach.kit.ratelimit import FixedWindowRateLimiter

# RFC 6750 §2.3: the query parameter some clients put a bearer token in.
QUERY_TOKEN = "access_token"  # noqa: S105 (a parameter's name, not a secret)


def authenticate(request: Request) -> Principal:
    """The caller behind the ``Authorization: Bearer`` header, counted against its rate limit.
    Calls with a bad token are counted against their address, which is refused (429) once it
    has sent too many."""
    state = request.app.state
    limits = failure_limits(state)
    address = client_address(request)
    limits.bearer_address.check(address)
    try:
        token = _bearer_token(request)
        database: Database = state.database
        with database.session() as session:
            principal = AuthService(session, state.hasher, state.signer, state.clock).principal(
                token
            )
    except (TokenInvalid, TokenExpired):
        # A call without a token costs nothing to refuse and is not counted: its caller is
        # told to send a token, not to slow down.
        limits.bearer_address.failed(address)
        raise
    # For the access log: who called (its client id and advertiser ids, never the token).
    setattr(request.state, PRINCIPAL_KEY, principal)
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


def _bearer_token(request: Request) -> str:
    """The token of the ``Authorization`` header. A token in the URL (RFC 6750 §2.3) is refused
    even beside one: URLs are logged and kept in histories, so it is never read, or repeated."""
    if QUERY_TOKEN in request.query_params:
        raise TokenInvalid(
            f"An access token is never accepted in the URL ({QUERY_TOKEN}=): URLs end up in"
            " logs. Send it in the Authorization header (Bearer scheme), and consider the"
            " token sent in the URL leaked"
        )
    header = request.headers.get("authorization")
    if not header:
        raise TokenMissing("Send an access token in the Authorization header (Bearer scheme)")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenInvalid("The Authorization header must read 'Bearer <access token>'")
    return token.strip()


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
