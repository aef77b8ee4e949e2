"""Problems of reference data."""

from __future__ import annotations

from reach.kit.problems import Problem


class InvalidCountry(Problem):
    code = "invalid-country"
    title = "Not an ISO 3166-1 alpha-2 country code"
