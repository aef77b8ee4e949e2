"""Problems of lookalike sizes: warnings, since a lookalike's size is never an error."""

from __future__ import annotations

from typing import ClassVar

from reach.kit.problems import Problem, ProblemType


class LookalikeUnavailable(Problem):
    """A lookalike without members for the current data: its size is null, with this warning."""

    type: ClassVar[ProblemType] = "availability"


class LookalikeComputing(LookalikeUnavailable):
    code = "lookalike-computing"
    title = "The lookalike is being computed"


class LookalikeFailed(LookalikeUnavailable):
    code = "lookalike-failed"
    title = "The lookalike could not be computed"


class SeedTooSmall(Problem):
    code = "lookalike-seed-small"
    title = "The lookalike's seed has few matched users"


class SeedTooLarge(Problem):
    code = "lookalike-seed-large"
    title = "The lookalike's seed covers most of its countries"
