"""Problems of the sandbox controls."""

from __future__ import annotations

from reach.kit.problems import Problem


class AdminTokenRequired(Problem):
    """A valid client access token on ``/_reach/``: the caller is known, but not an operator."""

    status = 403
    type = "authorization"
    code = "admin-token-required"
    title = "The sandbox controls need an admin token"


class AdvertiserNotFound(Problem):
    code = "advertiser-not-found"
    title = "No such advertiser"


class ClientNotFound(Problem):
    code = "client-not-found"
    title = "No such API client"


class UnknownOperation(Problem):
    code = "unknown-operation"
    title = "No API operation has this id"
