"""Problems: Criteo-shaped errors as exception classes that know their HTTP status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from reach.kit.ratelimit import RateLimitState

# The statuses whose answers carry ``Retry-After``.
RETRY_STATUSES = frozenset({429, 503})

ProblemType = Literal[
    "access-control",
    "authentication",
    "authorization",
    "availability",
    "deprecation",
    "quota",
    "validation",
]


class Problem(Exception):
    """One problem occurrence. Raised, it fails the whole request; collected, one item only.

    ``source`` maps a field name to a slash path without a leading slash, as in
    ``{"name": "data/0/attributes/name"}``.
    """

    status: ClassVar[int] = 400
    type: ClassVar[ProblemType] = "validation"
    code: ClassVar[str] = "invalid"
    title: ClassVar[str] = "The request is invalid"
    # Seconds to wait before trying again, when the status is one of RETRY_STATUSES; kinds
    # that know better set it per occurrence.
    retry_after: int = 60

    def __init__(self, detail: str, *, source: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.source: dict[str, str] = dict(source or {})

    def within(self, prefix: str) -> Problem:
        """Re-root the source paths under ``prefix`` (e.g. ``data/3``); returns self."""
        self.source = {field: f"{prefix}/{path}" for field, path in self.source.items()}
        return self

    def to_wire(self, *, trace_id: str, instance: str) -> dict[str, Any]:
        """The problem as Criteo sends it (``CommonProblem``)."""
        wire: dict[str, Any] = {
            "traceId": trace_id,
            "type": self.type,
            "code": self.code,
            "instance": instance,
            "title": self.title,
            "detail": self.detail,
        }
        if self.source:
            wire["source"] = self.source
        return wire

    def headers(self) -> dict[str, str]:
        """Headers of an answer that this problem fails: a 429 or a 503 says when to try again
        (``Retry-After``, whole seconds, RFC 9110 §10.2.3)."""
        if self.status in RETRY_STATUSES:
            return {"Retry-After": str(self.retry_after)}
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r}, source={self.source!r})"


def at(field: str, path: str | None = None) -> dict[str, str]:
    """A ``source`` naming ``field`` at ``path`` (the field itself when no path is given)."""
    return {field: path if path is not None else field}


class RequestProblems(Exception):
    """Several problems that together fail a whole request (e.g. every schema violation)."""

    # A huge bad body still gets a readable answer: the first problems, then how many more.
    MAX_LISTED = 50

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        if not self.problems:
            raise ValueError("RequestProblems needs at least one problem")
        hidden = len(self.problems) - self.MAX_LISTED
        if hidden > 0:
            del self.problems[self.MAX_LISTED :]
            # The note is of the same kind as what it stands for (status, type and code).
            self.problems.append(type(self.problems[0])(f"{hidden} more problems were not listed"))
        super().__init__("; ".join(p.detail for p in self.problems))

    @property
    def status(self) -> int:
        return self.problems[0].status


# Whole-request problems shared by every domain.


class Invalid(Problem):
    code = "invalid"
    title = "A value is invalid"


class InvalidRange(Problem):
    code = "invalid-range"
    title = "A value is out of its allowed range"


class RequiredField(Problem):
    code = "required-field"
    title = "A required field is missing"


class UnknownField(Problem):
    code = "unknown-field"
    title = "A field is not part of the API"


class UnknownFieldIgnored(Problem):
    """A warning, never raised: a member the schema does not name, dropped from the request."""

    code = "unknown-field-ignored"
    title = "A field is not part of the API and was ignored"


class InvalidJson(Problem):
    code = "invalid-json"
    title = "The body is not valid JSON"


class TooManyItems(Problem):
    code = "too-many-items"
    title = "Too many items in one request"


class DuplicateItem(Problem):
    code = "duplicate-item"
    title = "The same resource appears more than once in the request"


class NameMustBeUnique(Problem):
    status = 409
    code = "name-must-be-unique"
    title = "The advertiser already uses this name"


class NameMustNotBeEmpty(Problem):
    code = "name-must-not-be-empty"
    title = "The name must not be empty"


class UnsupportedMediaType(Problem):
    status = 415
    code = "unsupported-media-type"
    title = "The content type is not supported"


class PayloadTooLarge(Problem):
    status = 413
    code = "payload-too-large"
    title = "The request body is too large"


class RouteNotFound(Problem):
    status = 404
    code = "not-found"
    title = "No such endpoint"


class VersionNotSupported(Problem):
    status = 404
    code = "api-version-not-supported"
    title = "This API version is not served"


class MethodNotAllowed(Problem):
    status = 405
    code = "method-not-allowed"
    title = "The endpoint does not accept this method"


class InternalError(Problem):
    status = 500
    type = "availability"
    code = "internal-error"
    title = "Internal error"


class AuthenticationProblem(Problem):
    status = 401
    type = "authentication"


class TokenMissing(AuthenticationProblem):
    code = "authorization-token-missing"
    title = "The access token is missing"


class TokenInvalid(AuthenticationProblem):
    code = "authorization-token-invalid"
    title = "The access token is invalid"


class TokenExpired(AuthenticationProblem):
    code = "authorization-token-expired"
    title = "The access token has expired"

    @classmethod
    def access_token(cls) -> TokenExpired:
        """What a client's expired access token is answered (an injected fault says the same)."""
        return cls("The access token has expired; request a new one")


class MissingScope(Problem):
    status = 403
    type = "authorization"
    code = "insufficient-scope"
    title = "The application is not allowed to perform this operation"


class AdvertiserAccessDenied(Problem):
    status = 403
    type = "access-control"
    code = "advertiser-access-denied"
    title = "The advertiser is unknown or has not granted access to this application"


class RetryLater(Problem):
    """A passing refusal (429, 503) that knows when to try again. urllib3-based clients, the
    official SDK among them, wait that long and retry GET, PUT and DELETE calls on their own."""

    def __init__(
        self, detail: str, *, retry_after: int = 1, source: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail, source=source)
        self.retry_after = max(retry_after, 0)


class RateLimited(RetryLater):
    status = 429
    type = "quota"
    code = "rate-limit-exceeded"
    title = "Too many calls"

    @classmethod
    def from_usage(cls, usage: RateLimitState) -> RateLimited:
        """The refusal of a call that ``usage`` does not allow (the limiter's, or an injected
        one: both say the same)."""
        return cls(
            f"More than {usage.limit} calls this minute; retry after {usage.reset_epoch}"
            " (x-ratelimit-reset, epoch seconds)",
            retry_after=usage.retry_after,
        )


class ServiceUnavailable(RetryLater):
    status = 503
    type = "availability"
    code = "service-unavailable"
    title = "The service is temporarily unavailable"
