"""Admin tokens: who may call ``/_reach/`` (the sandbox controls, the members export), and the
check every call there passes.

An admin token is a JWT like a client's access token, but signed with its own key (derived from
the server key for this purpose alone) and carrying its own issuer and audience, so neither kind
of token can ever stand in for the other.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Request

from reach.auth.tokens import ALGORITHM, TokenSigner, derive_key
from reach.kit.clock import Clock
from reach.kit.problems import Problem, TokenExpired, TokenInvalid, TokenMissing
from reach.sandbox import DEFAULT_HOURS, MAX_HOURS
from reach.sandbox.errors import AdminTokenRequired

ADMIN_ISSUER = "reach-admin"
ADMIN_AUDIENCE = "reach/_reach"
ADMIN_SUBJECT = "sandbox-admin"


class AdminTokens:
    """Issues and verifies admin tokens against an injectable clock."""

    def __init__(self, server_key: bytes, clock: Clock) -> None:
        self._key = derive_key(server_key, "reach/admin-token")
        self._clock = clock

    def issue(self, hours: float = DEFAULT_HOURS) -> str:
        if not 0 < hours <= MAX_HOURS:
            raise ValueError(f"an admin token lives more than 0 and at most {MAX_HOURS:g} hours")
        now = self._clock.now()
        claims = {
            "iss": ADMIN_ISSUER,
            "aud": ADMIN_AUDIENCE,
            "sub": ADMIN_SUBJECT,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(hours=hours)).timestamp()),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> None:
        """Raise unless ``token`` is an admin token of this server that has not expired."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=ADMIN_ISSUER,
                audience=ADMIN_AUDIENCE,
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "aud"]},
            )
        except jwt.PyJWTError:
            raise TokenInvalid("The token is not an admin token of this server") from None
        if self._clock.now().timestamp() >= int(claims["exp"]):
            raise TokenExpired("The admin token has expired; print a new one: reach admin token")


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise TokenMissing(
            "Send an admin token (reach admin token) in the Authorization header (Bearer scheme)"
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenInvalid("The Authorization header must read 'Bearer <admin token>'")
    return token.strip()


async def require_admin(request: Request) -> None:
    """Let the call through only with an admin token; a client's access token is refused 403.
    The server's ``AdminTokens`` (``app.state.admin_tokens``) are there with or without the
    sandbox."""
    token = _bearer(request)
    admin: AdminTokens = request.app.state.admin_tokens
    try:
        admin.verify(token)
    except TokenInvalid:
        signer: TokenSigner = request.app.state.signer
        try:
            signer.verify(token)
        except Problem:
            raise TokenInvalid("The token is not an admin token of this server") from None
        raise AdminTokenRequired(
            "A client access token cannot call Reach's admin endpoints (/_reach/); use an admin"
            " token (reach admin token)"
        ) from None


Admin = Annotated[None, Depends(require_admin)]
