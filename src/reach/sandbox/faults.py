"""Injected faults: rules that make chosen API calls fail, or slow down, the way Criteo's do.

A rule names a client and an operation (either may be "any") and either a sequence of answers
served to the next matching calls in order, or a share of the matching calls, drawn from a
seeded generator so a run can be repeated exactly. Each kind of fault is one entry of
``FAULT_KINDS``; the rules live in the memory of the server process.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import Request

from reach.config import Settings
from reach.kit.middleware import trace_id_of
from reach.kit.problems import InternalError, RateLimited, ServiceUnavailable, TokenExpired
from reach.kit.ratelimit import FixedWindowRateLimiter

MAX_DELAY_MS = 30_000
MAX_ANSWERS = 1000
MAX_RULES = 1000
DEFAULT_UNAVAILABLE_RETRY_AFTER = 1

Sleep = Callable[[float], None]


@dataclass
class FaultRule:
    """One rule and what it has done so far."""

    id: str
    created_at: datetime
    client_id: str | None
    operation: str | None
    answers: tuple[str, ...] | None
    share: float | None
    answer: str | None
    count: int | None
    seed: int | None
    delay_ms: int | None
    retry_after_seconds: int | None
    # Calls that matched the rule while it was live, and how many of them it failed or slowed.
    matched: int = 0
    fired: int = 0
    _draws: random.Random = field(default_factory=random.Random, repr=False)

    @property
    def exhausted(self) -> bool:
        if self.answers is not None:
            return self.fired >= len(self.answers)
        return self.count is not None and self.fired >= self.count

    def applies_to(self, client_id: str, operation: str | None) -> bool:
        return (self.client_id is None or self.client_id == client_id) and (
            self.operation is None or self.operation == operation
        )

    def draw(self) -> str | None:
        """The fault this call gets from the rule, if any (the caller holds the book's lock)."""
        self.matched += 1
        if self.answers is not None:
            kind: str | None = self.answers[self.fired]
        else:
            assert self.share is not None
            kind = self.answer if self._draws.random() < self.share else None
        if kind is not None:
            self.fired += 1
        return kind


class FaultBook:
    """Every rule, in the order they were added; the first live rule that fires decides."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._next_id = 1

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            rule.id = str(self._next_id)
            self._next_id += 1
            if rule.share is not None:
                if rule.seed is None:
                    rule.seed = random.SystemRandom().randrange(2**32)
                rule._draws = random.Random(rule.seed)
            self._rules.append(rule)
        return rule

    def __len__(self) -> int:
        with self._lock:
            return len(self._rules)

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def clear(self) -> int:
        with self._lock:
            cleared = len(self._rules)
            self._rules = []
        return cleared

    def pick(self, client_id: str, operation: str | None) -> tuple[FaultRule, str] | None:
        with self._lock:
            for rule in self._rules:
                if rule.exhausted or not rule.applies_to(client_id, operation):
                    continue
                kind = rule.draw()
                if kind is not None:
                    return rule, kind
        return None


@dataclass(frozen=True)
class FaultKind:
    """How one kind of fault is served: it raises the problem the call answers with, or
    returns to let the call go on (after a delay)."""

    name: str
    description: str
    serve: Callable[[Request, FaultRule, Sleep], None]


def _too_many_calls(request: Request, rule: FaultRule, _: Sleep) -> None:
    state = request.app.state
    limiter: FixedWindowRateLimiter = state.limiter
    settings: Settings = state.settings
    default_limit = Settings.model_fields["rate_limit_per_minute"].default
    usage = limiter.refusal(
        rule.retry_after_seconds, settings.rate_limit_per_minute or default_limit
    )
    # The x-ratelimit-* headers, exactly as the real limiter's refusal sends them.
    request.state.rate_limit = usage
    raise RateLimited.from_usage(usage)


def _internal_error(request: Request, rule: FaultRule, _: Sleep) -> None:
    raise InternalError(f"Something went wrong on our side; quote trace id {trace_id_of(request)}")


def _unavailable(request: Request, rule: FaultRule, _: Sleep) -> None:
    seconds = rule.retry_after_seconds
    if seconds is None:
        seconds = DEFAULT_UNAVAILABLE_RETRY_AFTER
    raise ServiceUnavailable(
        f"The service is temporarily unavailable; retry in {seconds} s", retry_after=seconds
    )


def _token_expired(request: Request, rule: FaultRule, _: Sleep) -> None:
    raise TokenExpired.access_token()


def _latency(request: Request, rule: FaultRule, sleep: Sleep) -> None:
    sleep((rule.delay_ms or 0) / 1000)


FAULT_KINDS: dict[str, FaultKind] = {
    kind.name: kind
    for kind in (
        FaultKind("429", "rate-limit-exceeded, with the x-ratelimit-* headers", _too_many_calls),
        FaultKind("500", "internal-error", _internal_error),
        FaultKind("503", "service-unavailable", _unavailable),
        FaultKind("401-expired", "authorization-token-expired", _token_expired),
        FaultKind("latency", "the call waits delayMs, then goes on", _latency),
    )
}


def serve(request: Request, rule: FaultRule, kind: str, sleep: Sleep) -> None:
    FAULT_KINDS[kind].serve(request, rule, sleep)
