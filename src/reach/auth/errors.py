"""Problems of the token endpoint: OAuth2 errors (RFC 6749 §5.2) in the Criteo problem shape."""

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
    title = "Only the client_credentials grant is supported"
    oauth_error = "unsupported_grant_type"


class ClientNotFound(Problem):
    status = 404
    code = "client-not-found"
    title = "No such API client"
