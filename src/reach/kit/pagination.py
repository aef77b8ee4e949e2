"""Pagination: the ``limit`` and ``offset`` query parameters of every search."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from reach.kit.problems import Invalid, InvalidRange, RequestProblems, at
from reach.kit.wire import INT32_MAX


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    offset: int


def _integer(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RequestProblems([Invalid(f"'{name}' must be an integer", source=at(name))]) from None
    if not low <= value <= high:
        raise RequestProblems(
            [InvalidRange(f"'{name}' must be between {low} and {high}", source=at(name))]
        )
    return value


def page_params(request: Request) -> Page:
    """Read and check ``limit`` (default and maximum from Settings) and ``offset``."""
    settings = request.app.state.settings
    return Page(
        limit=_integer(
            request, "limit", settings.search_default_limit, 0, settings.search_max_limit
        ),
        offset=_integer(request, "offset", 0, 0, INT32_MAX),
    )
