"""Problems of the sandbox controls."""

from __future__ import annotations

from reach.kit.problems import Problem


class AdminTokenRequired(Problem):
    """A valid client access token on ``/_reach/``: the caller is known, but not an operator."""

    status = 403
    type = "authorization"
    code = "admin-token-required"
    title = "This endpoint needs an admin token"


class AdvertiserNotFound(Problem):
    code = "advertiser-not-found"
    title = "No such advertiser"


class UnknownClient(Problem):
    """A rule names a client that does not exist: a member of the body that is wrong (400),
    not a missing resource of the path (``client-not-found``, 404, reach.auth.errors)."""

    code = "unknown-client"
    title = "No API client has this id"


class UnknownOperation(Problem):
    code = "unknown-operation"
    title = "No API operation has this id"
