"""Problems of the token endpoint (OAuth2 errors of RFC 6749 §5.2 in the Criteo problem shape)
and of the clients, consents and operators registries."""

from __future__ import annotations

from typing import ClassVar

from reach.kit.problems import Problem


class OAuthProblem(Problem):
    """A token-endpoint failure; the answer also carries the OAuth2 ``error`` fields."""

    type = "authentication"
    oauth_error: ClassVar[str] = "invalid_request"


class InvalidClient(OAuthProblem):
    status = 401
    code = "invalid-client"
    title = "Client authentication failed"
    oauth_error = "invalid_client"


class InvalidTokenRequest(OAuthProblem):
    status = 400
    code = "invalid-request"
    title = "The token request is malformed"
    oauth_error = "invalid_request"


class UnsupportedGrantType(OAuthProblem):
    status = 400
    code = "unsupported-grant-type"
    title = (
        "The grant type is not supported (client_credentials, authorization_code or refresh_token)"
    )
    oauth_error = "unsupported_grant_type"


class InvalidGrant(OAuthProblem):
    """A code or refresh token that is unknown, expired, used, revoked, or another client's."""

    status = 400
    code = "invalid-grant"
    title = "The authorization grant is invalid, expired, revoked or already used"
    oauth_error = "invalid_grant"


class ClientNotFound(Problem):
    status = 404
    code = "client-not-found"
    title = "No such API client"


class ConsentNotFound(Problem):
    status = 404
    code = "consent-not-found"
    title = "No such consent"


class OperatorNotFound(Problem):
    status = 404
    code = "operator-not-found"
    title = "No such operator"
