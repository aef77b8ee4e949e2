"""Rate limiting: a fixed window (one minute unless told) of calls per key, kept in process
memory."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from reach.kit.clock import Clock

WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """What the ``x-ratelimit-*`` headers tell a client after one call."""

    limit: int
    remaining: int
    reset_epoch: int
    allowed: bool
    # When the call was counted (epoch seconds): a refused call is told to wait until the reset.
    at_epoch: int

    @property
    def retry_after(self) -> int:
        """Whole seconds until the window resets (``Retry-After`` of a refused call)."""
        return max(self.reset_epoch - self.at_epoch, 0)

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", str(self.reset_epoch).encode()),
        ]


class FixedWindowRateLimiter:
    """Counts calls per key in the current window (a minute unless ``window_seconds`` says
    otherwise); thread-safe.

    The count lives in this process: a deployment with several server processes gives each
    client the limit once per process (documented in docs/operations.md).
    """

    def __init__(
        self, limit_per_minute: int, clock: Clock, *, window_seconds: int = WINDOW_SECONDS
    ) -> None:
        # The limit is per window; the name predates windows other than a minute.
        self._limit = limit_per_minute
        self._clock = clock
        self._window_seconds = window_seconds
        self._lock = threading.Lock()
        self._window = -1
        self._counts: dict[str, int] = {}

    @property
    def enabled(self) -> bool:
        return self._limit > 0

    def hit(self, key: str) -> RateLimitState:
        """Count one call for ``key`` and say whether it is within the limit."""
        epoch = int(self._clock.now().timestamp())
        window = epoch // self._window_seconds
        with self._lock:
            if window != self._window:
                # A new window forgets every count of the previous one.
                self._window = window
                self._counts = {}
            used = self._counts.get(key, 0) + 1
            self._counts[key] = used
        return RateLimitState(
            limit=self._limit,
            remaining=max(self._limit - used, 0),
            reset_epoch=(window + 1) * self._window_seconds,
            allowed=used <= self._limit,
            at_epoch=epoch,
        )

    def peek(self, key: str) -> RateLimitState:
        """Whether one more call for ``key`` would be within the limit, without counting it: a
        caller that counts only failures asks before it tries, and counts (``hit``) once the
        attempt failed."""
        epoch = int(self._clock.now().timestamp())
        window = epoch // self._window_seconds
        with self._lock:
            used = self._counts.get(key, 0) if window == self._window else 0
        return RateLimitState(
            limit=self._limit,
            remaining=max(self._limit - used, 0),
            reset_epoch=(window + 1) * self._window_seconds,
            allowed=used < self._limit,
            at_epoch=epoch,
        )

    def release(self, key: str) -> None:
        """Take back one call counted for ``key`` in the current window: a caller that counts
        an attempt before making it (so that parallel attempts cannot all pass) takes back
        the ones that turned out not to count, such as a successful sign-in."""
        window = int(self._clock.now().timestamp()) // self._window_seconds
        with self._lock:
            used = self._counts.get(key, 0)
            if window != self._window or used == 0:
                return
            if used == 1:
                del self._counts[key]
            else:
                self._counts[key] = used - 1

    def refusal(self, retry_after: int | None, limit_when_disabled: int) -> RateLimitState:
        """The state of a client whose budget is spent: what an injected 429 reports. It resets
        with the current window, or ``retry_after`` seconds from now when given."""
        epoch = int(self._clock.now().timestamp())
        reset = (epoch // self._window_seconds + 1) * self._window_seconds
        return RateLimitState(
            limit=self._limit if self.enabled else limit_when_disabled,
            remaining=0,
            reset_epoch=reset if retry_after is None else epoch + retry_after,
            allowed=False,
            at_epoch=epoch,
        )
