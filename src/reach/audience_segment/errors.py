"""Problems of the audience-segment operations, one class per Criteo error code."""

from __future__ import annotations

from reach.kit.problems import Problem


class SegmentNotFound(Problem):
    status = 404
    code = "segment-not-found"
    title = "Segment not found"


class SegmentInUse(Problem):
    status = 409
    code = "segment-in-use"
    title = "The segment is in use"


class SegmentReadOnly(Problem):
    status = 403
    type = "authorization"
    code = "segment-read-only"
    title = "The segment is provided by the platform and cannot be changed"


class SegmentTypeRequired(Problem):
    code = "required-field"
    title = "The segment needs exactly one type"


class BrandNotFound(Problem):
    code = "brand-not-found"
    title = "Unknown brand"


class InterestNotFound(Problem):
    code = "interest-not-found"
    title = "Unknown in-market interest"
