"""Operator sessions of the consent page: a signed cookie, and the CSRF token bound to it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from reach.auth.tokens import derive_key
from reach.kit.clock import Clock

SESSION_COOKIE = "reach_operator"
SESSION_LIFETIME = timedelta(hours=8)
# Before sign-in: a random nonce in a SameSite cookie, and a token derived from it in the form,
# so another site cannot sign a browser in as its own operator (login CSRF).
SIGN_IN_COOKIE = "reach_sign_in"
SIGN_IN_LIFETIME = timedelta(hours=1)


def new_sign_in_nonce() -> str:
    return secrets.token_urlsafe(16)


@dataclass(frozen=True, slots=True)
class OperatorSession:
    operator_id: int
    # The operator's session generation when it was issued: valid while it is still theirs.
    generation: int
    # Random per sign-in: the CSRF token is derived from it, so it changes with each session.
    session_id: str
    expires_at: int


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _same(given: str, expected: str) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters, which a client may send.
    return hmac.compare_digest(given.encode(), expected.encode())


class OperatorSessions:
    """Issues and reads session cookies (``<operator>.<generation>.<session>.<expiry>.<mac>``),
    HMAC-signed with a key derived from the server key, checked against the injectable clock."""

    def __init__(self, server_key: bytes, clock: Clock) -> None:
        self._key = derive_key(server_key, "reach/operator-session")
        self._clock = clock

    def issue(self, operator_id: int, generation: int) -> str:
        expires = int((self._clock.now() + SESSION_LIFETIME).timestamp())
        payload = f"{operator_id}.{generation}.{secrets.token_urlsafe(16)}.{expires}"
        return f"{payload}.{_mac(self._key, 'session:' + payload)}"

    def read(self, cookie: str | None) -> OperatorSession | None:
        """The session of a cookie that is ours, intact and not expired; else None."""
        if not cookie:
            return None
        payload, _, mac = cookie.rpartition(".")
        if not _same(mac, _mac(self._key, "session:" + payload)):
            return None
        parts = payload.split(".")
        if len(parts) != 4:  # a cookie of an earlier format
            return None
        operator, generation, session_id, expires = parts
        if self._clock.now().timestamp() >= int(expires):
            return None
        return OperatorSession(int(operator), int(generation), session_id, int(expires))

    def csrf_token(self, session: OperatorSession) -> str:
        return _mac(self._key, f"csrf:{session.operator_id}.{session.session_id}")

    def csrf_matches(self, session: OperatorSession, token: str) -> bool:
        return _same(token, self.csrf_token(session))

    def sign_in_token(self, nonce: str) -> str:
        """The CSRF token of the sign-in form shown with the ``nonce`` cookie."""
        return _mac(self._key, f"sign-in:{nonce}")

    def sign_in_matches(self, nonce: str | None, token: str) -> bool:
        return bool(nonce) and _same(token, self.sign_in_token(nonce or ""))
