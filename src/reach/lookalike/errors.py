"""Problems of lookalike sizes: warnings, since a lookalike's size is never an error."""

from __future__ import annotations

from typing import ClassVar

from reach.kit.problems import Problem, ProblemType


class LookalikeComputing(Problem):
    type: ClassVar[ProblemType] = "availability"
    code = "lookalike-computing"
    title = "The lookalike is being computed"


class SeedTooSmall(Problem):
    code = "lookalike-seed-small"
    title = "The lookalike's seed has few matched users"


class SeedTooLarge(Problem):
    code = "lookalike-seed-large"
    title = "The lookalike's seed covers most of its countries"
