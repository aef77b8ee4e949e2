"""The fixed-window rate limiter."""

from __future__ import annotations

from datetime import UTC, datetime

from reach.kit.ratelimit import FixedWindowRateLimiter
from tests.builders import ManualClock


def test_counts_per_key_and_resets_each_minute() -> None:
    clock = ManualClock(datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC))
    limiter = FixedWindowRateLimiter(2, clock)
    assert [limiter.hit("a").allowed for _ in range(3)] == [True, True, False]
    assert limiter.hit("b").remaining == 1
    state = limiter.hit("a")
    assert state.reset_epoch == int(datetime(2026, 1, 1, 0, 1, tzinfo=UTC).timestamp())
    clock.advance(seconds=30)
    assert limiter.hit("a").allowed


def test_zero_disables() -> None:
    assert not FixedWindowRateLimiter(0, ManualClock()).enabled
