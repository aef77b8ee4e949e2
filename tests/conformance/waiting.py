"""Waiting for what the server does in the background (lookalike models), without sleeping
longer than needed and without asserting on time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# Long enough for a model on the test data even on a busy machine; a hang still fails.
PATIENCE_SECONDS = 180.0


def eventually(call: Callable[[], T], ready: Callable[[T], bool]) -> T:
    """Call until ``ready`` holds for the answer; the last answer fails loudly if it never does."""
    deadline = time.monotonic() + PATIENCE_SECONDS
    answer = call()
    while not ready(answer):
        if time.monotonic() > deadline:
            raise AssertionError(f"still not ready after {PATIENCE_SECONDS:.0f} s: {answer}")
        time.sleep(0.2)
        answer = call()
    return answer


def warning_codes(response: object) -> list[str]:
    """The codes of an SDK answer's warnings, but the index-age one (the test data is old) and
    the exact-sizes one (the test servers answer exact sizes)."""
    warnings = getattr(response, "warnings", None) or []
    return [w.code for w in warnings if w.code not in ("index-stale", "size-privacy-exact")]
