"""Limits on failed authentication: sign-ins of the consent page (per e-mail address and per
client address, and a bound on the argon2 checks that run at once), token requests (per client
id and per client address) and API calls with a bad access token (per client address)."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from reach.kit.clock import Clock
from reach.kit.problems import Problem, RateLimited
from reach.kit.ratelimit import Counts, FixedWindowRateLimiter

if TYPE_CHECKING:
    from fastapi import Request

    from reach.config import Settings

FAILURE_WINDOW_SECONDS = 15 * 60
FAILURES_PER_EMAIL = 5
FAILURES_PER_CLIENT_ADDRESS = 20
# One argon2 check holds 64 MiB (the library's default memory cost) while it runs; at most
# this many run at once, whatever the number of requests, so sign-ins cannot exhaust memory.
CONCURRENT_PASSWORD_CHECKS = 2

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Attempt:
    """The keys one sign-in attempt was counted under, until it turns out not to be a failure."""

    email_key: str
    address_key: str


class SignInGuard:
    """Counts sign-in attempts before their password is checked, so that parallel attempts
    cannot all slip under the limit; a successful sign-in is then taken back, so what stays
    counted are the failures. Counts in ``counts``, like the API's rate limiter (the bound on
    password checks is per process)."""

    def __init__(self, clock: Clock, counts: Counts) -> None:
        self._emails = FixedWindowRateLimiter(
            FAILURES_PER_EMAIL,
            clock,
            window_seconds=FAILURE_WINDOW_SECONDS,
            counts=counts,
            scope="sign-in-email",
        )
        self._addresses = FixedWindowRateLimiter(
            FAILURES_PER_CLIENT_ADDRESS,
            clock,
            window_seconds=FAILURE_WINDOW_SECONDS,
            counts=counts,
            scope="sign-in-address",
        )
        self._checks = anyio.Semaphore(CONCURRENT_PASSWORD_CHECKS)
        self.checking = 0
        self.waiting = 0

    def begin(self, email_key: str, address_key: str) -> Attempt | int:
        """Count an attempt: the attempt, or the seconds to wait (``Retry-After``) when the
        e-mail address or the client address has used up its failures."""
        for_email = self._emails.hit(email_key)
        if not for_email.allowed:
            self._emails.release(email_key)
            return max(for_email.retry_after, 1)
        for_address = self._addresses.hit(address_key)
        if not for_address.allowed:
            self._addresses.release(address_key)
            self._emails.release(email_key)
            return max(for_address.retry_after, 1)
        return Attempt(email_key, address_key)

    def succeeded(self, attempt: Attempt) -> None:
        """A successful sign-in does not count against either limit."""
        self._emails.release(attempt.email_key)
        self._addresses.release(attempt.address_key)

    async def check(self, run: Callable[[], Awaitable[T]]) -> T:
        """Run a password check once one of the few slots is free; waiting requests wait in
        the event loop, holding no worker thread and no argon2 memory."""
        self.waiting += 1
        try:
            await self._checks.acquire()
        finally:
            self.waiting -= 1
        self.checking += 1
        try:
            return await run()
        finally:
            self.checking -= 1
            self._checks.release()


def client_address(request: Request) -> str:
    """The address failures are counted under: the connection's peer (``X-Forwarded-For`` is
    not read, so behind a reverse proxy every caller shares the proxy's address)."""
    return request.client.host if request.client else ""


def counts_as_failure(problem: Problem) -> bool:
    """A refusal that is the caller's doing (4xx), not a passing one of the server (429, 503):
    a database outage never uses up anybody's failures."""
    return 400 <= problem.status < 500 and problem.status != 429


# Keys are counted by their first characters (as many as a client id may have), so that long
# made-up client ids cannot make the counts large.
KEY_MAX_LENGTH = 64


class FailureLimit:
    """Failed attempts per key in a one-minute window. A key that has used up its failures is
    refused before its attempt is even looked at; an attempt counts once it has failed, so a
    caller that succeeds is never slowed down, however often it asks. Parallel failures may
    overshoot the limit by the number of attempts in flight."""

    def __init__(
        self, per_minute: int, clock: Clock, failures: str, *, counts: Counts, scope: str
    ) -> None:
        self._limiter = FixedWindowRateLimiter(per_minute, clock, counts=counts, scope=scope)
        # What is counted, as the refusal names it.
        self._failures = failures

    def check(self, key: str) -> None:
        """Raise 429 while ``key`` has used up this window's failures."""
        if not self._limiter.enabled:
            return
        usage = self._limiter.peek(key[:KEY_MAX_LENGTH])
        if not usage.allowed:
            raise RateLimited(
                f"More than {usage.limit} {self._failures} this minute; retry in"
                f" {max(usage.retry_after, 1)} s",
                retry_after=max(usage.retry_after, 1),
            )

    def failed(self, key: str) -> None:
        if self._limiter.enabled:
            self._limiter.hit(key[:KEY_MAX_LENGTH])


@dataclass(frozen=True, slots=True)
class FailureLimits:
    """The failure limits of one server process."""

    token_client: FailureLimit
    token_address: FailureLimit
    bearer_address: FailureLimit

    @classmethod
    def of(cls, settings: Settings, clock: Clock, counts: Counts) -> FailureLimits:
        return cls(
            token_client=FailureLimit(
                settings.token_failures_per_client_per_minute,
                clock,
                "failed token requests for this client id",
                counts=counts,
                scope="token-client",
            ),
            token_address=FailureLimit(
                settings.token_failures_per_address_per_minute,
                clock,
                "failed token requests from this address",
                counts=counts,
                scope="token-address",
            ),
            bearer_address=FailureLimit(
                settings.invalid_tokens_per_address_per_minute,
                clock,
                "calls with an invalid or expired access token from this address",
                counts=counts,
                scope="bearer-address",
            ),
        )


_creating = threading.Lock()


def failure_limits(state: Any) -> FailureLimits:
    """The failure limits of the app whose ``state`` this is, made on first use (once, even
    when the first calls arrive together in worker threads)."""
    limits: FailureLimits | None = getattr(state, "failure_limits", None)
    if limits is None:
        with _creating:
            limits = getattr(state, "failure_limits", None)
            if limits is None:
                limits = state.failure_limits = FailureLimits.of(
                    state.settings, state.clock, state.rate_counts
                )
    return limits
