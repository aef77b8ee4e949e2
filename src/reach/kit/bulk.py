"""Bulk operations: item-count checks and the result of successes plus per-item problems."""

from __future__ import annotations

from collections.abc import Sized
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from reach.kit.problems import Problem, RequestProblems, RequiredField, TooManyItems

T = TypeVar("T")


def check_item_count(items: Sized, most: int) -> None:
    """A bulk call takes 1 to ``most`` items; anything else fails the whole request."""
    if len(items) == 0:
        raise RequestProblems([RequiredField("'data' holds no item", source={"data": "data"})])
    if len(items) > most:
        raise RequestProblems(
            [
                TooManyItems(
                    f"'data' holds {len(items)} items; at most {most} are accepted per call",
                    source={"data": "data"},
                )
            ]
        )


@dataclass
class BulkResult(Generic[T]):
    """What a bulk call did: the items that succeeded and the problems of those that failed."""

    data: list[T] = field(default_factory=list)
    _errors: list[tuple[int, Problem]] = field(default_factory=list)

    def fail(self, index: int, problems: list[Problem]) -> None:
        """Record the problems of item ``index``; their sources move under ``data/index``."""
        self._errors.extend((index, p.within(f"data/{index}")) for p in problems)

    @property
    def errors(self) -> list[Problem]:
        """Problems in item order (stable within one item)."""
        return [p for _, p in sorted(self._errors, key=lambda pair: pair[0])]

    def failed(self, index: int) -> bool:
        return any(i == index for i, _ in self._errors)
