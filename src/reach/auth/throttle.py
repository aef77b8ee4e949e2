"""Sign-in throttling of the consent page: failed attempts per e-mail address and per client
address, and a bound on the password checks (argon2) that run at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio

from reach.kit.clock import Clock
from reach.kit.ratelimit import FixedWindowRateLimiter

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
    counted are the failures. Lives in process memory, like the API's rate limiter."""

    def __init__(self, clock: Clock) -> None:
        self._emails = FixedWindowRateLimiter(
            FAILURES_PER_EMAIL, clock, window_seconds=FAILURE_WINDOW_SECONDS
        )
        self._addresses = FixedWindowRateLimiter(
            FAILURES_PER_CLIENT_ADDRESS, clock, window_seconds=FAILURE_WINDOW_SECONDS
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
