"""Problems of the members export."""

from __future__ import annotations

from typing import ClassVar

from reach.kit.problems import Problem, ProblemType


class MembersNotReady(Problem):
    """The people of a lookalike whose model is being built: there will be some soon."""

    status = 503
    type: ClassVar[ProblemType] = "availability"
    code = "members-not-ready"
    title = "The members are not computed yet"
    retry_after = 5


class NoMembers(Problem):
    """A segment that has no people to export as it stands (a lookalike that could not be
    built, a contact list that reaches nobody): exporting nothing would hide why."""

    status = 409
    code = "segment-without-members"
    title = "The segment has no members to export"


class StoreMismatch(Problem):
    """The index names people the store does not know: the store was replaced under it."""

    status = 503
    type: ClassVar[ProblemType] = "availability"
    code = "index-unavailable"
    title = "The index does not match the event store"
