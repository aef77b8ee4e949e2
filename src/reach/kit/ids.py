"""Ids: int64 values that travel as strings on the wire."""

from __future__ import annotations

from collections.abc import Iterable

from reach.kit.wire import INT64_MAX

INT64_DIGITS = len(str(INT64_MAX))


def parse_id(value: str | None) -> int | None:
    """The positive int64 behind an id string, or None when the string cannot be one."""
    # More digits than any int64 has cannot be one (and int() refuses 4,300 digits or more).
    if value is None or not value.isascii() or not value.isdigit() or len(value) > INT64_DIGITS:
        return None
    number = int(value)
    return number if 0 < number <= INT64_MAX else None


def parse_ids(raw: Iterable[str | None]) -> set[int]:
    """The ids among ``raw`` that can be ids; the others name nothing."""
    return {number for number in map(parse_id, raw) if number is not None}
