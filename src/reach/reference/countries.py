"""Countries: ISO 3166-1 alpha-2 codes, checked against the pycountry registry."""

from __future__ import annotations

from functools import cache

import pycountry


@cache
def alpha2_codes() -> frozenset[str]:
    """Every ISO 3166-1 alpha-2 code."""
    return frozenset(country.alpha_2 for country in pycountry.countries)


def normalise_country(code: str) -> str | None:
    """The upper-case alpha-2 code, or None when ``code`` is not an ISO 3166-1 alpha-2 code."""
    candidate = code.strip().upper()
    return candidate if candidate in alpha2_codes() else None
