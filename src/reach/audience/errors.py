"""Problems of the audience operations, one class per error code."""

from __future__ import annotations

from reach.kit.problems import Problem


class AudienceNotFound(Problem):
    status = 404
    code = "audience-not-found"
    title = "Audience not found"


class AudienceInUse(Problem):
    status = 409
    code = "audience-in-use"
    title = "The audience is linked to an ad set"


class AdSetNotFound(Problem):
    status = 404
    code = "ad-set-not-found"
    title = "Ad set not found"


class AlgebraInvalidNode(Problem):
    code = "algebra-invalid-node"
    title = "An algebra node must hold exactly one of audienceSegmentId, and, or, not"


class AlgebraMisplacedNot(Problem):
    code = "algebra-misplaced-not"
    title = "A 'not' may only be a term of an 'and'"


class AlgebraNoPositiveTerm(Problem):
    code = "algebra-no-positive-term"
    title = "An 'and' needs a term that is not a 'not'"


class AlgebraTooDeep(Problem):
    code = "algebra-too-deep"
    title = "The algebra nests too deep"


class AlgebraTooManyLeaves(Problem):
    code = "algebra-too-many-leaves"
    title = "The algebra names too many segments"


class AlgebraSegmentNotFound(Problem):
    code = "segment-not-found"
    title = "Segment not found"
