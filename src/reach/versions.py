"""The Criteo API versions Reach serves: every versioned route answers under each of them."""

from __future__ import annotations

import re

from starlette.convertors import Convertor, register_url_convertor

# Oldest first. Their audience operations and models are identical but for the path prefix, so
# serving a new version is one more entry here.
API_VERSIONS: tuple[str, ...] = (
    "2025-01",
    "2025-04",
    "2025-07",
    "2025-10",
    "2026-01",
    "2026-07",
    "2027-01",
)
LATEST_VERSION = API_VERSIONS[-1]

# What a version segment looks like (Criteo's stable versions, and its "preview" line).
_VERSION_SHAPE = re.compile(r"^(\d{4}-\d{2}|preview|v\d+(\.\d+)?)$")


def version_of(path: str) -> str | None:
    """The API version a request path asks for (its first segment, when shaped like one)."""
    first = path.lstrip("/").split("/", 1)[0]
    return first if _VERSION_SHAPE.match(first) else None


def is_served(version: str) -> bool:
    return version in API_VERSIONS


class ServedVersion(Convertor[str]):
    """A path segment that is one of ``API_VERSIONS``: each route is declared once, under
    ``/{api_version:api_version}``, and matches only the served versions."""

    regex = "|".join(re.escape(version) for version in API_VERSIONS)

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("api_version", ServedVersion())
# The prefix of every versioned route.
VERSION_PREFIX = "/{api_version:api_version}"
