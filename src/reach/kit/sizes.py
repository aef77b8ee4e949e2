"""Size answers: the privacy floor and the freshness of the index behind a number."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar

from reach.kit.problems import Problem, ProblemType


class IndexUnavailable(Problem):
    status = 503
    type: ClassVar[ProblemType] = "availability"
    code = "index-unavailable"
    title = "No index has been built yet"


class SizeBelowFloor(Problem):
    code = "size-below-privacy-floor"
    title = "The size is too small to be reported"


class IndexStale(Problem):
    type: ClassVar[ProblemType] = "availability"
    code = "index-stale"
    title = "The sizes come from old data"


def floor_warning(floor: int, path: str) -> Problem:
    return SizeBelowFloor(
        f"Fewer than {floor} people: the size is withheld (REACH_MIN_REPORTED_SIZE)",
        source={"size": path},
    )


def data_age(as_of: date, now: datetime) -> timedelta:
    """How old the newest data of an index is: from the end of its last day (``as_of``)."""
    return now - datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=now.tzinfo)


def freshness(
    as_of: date, built_at: datetime, now: datetime, max_age_hours: float
) -> list[Problem]:
    """A warning when the newest data of the index is older than ``max_age_hours``."""
    age = data_age(as_of, now)
    if age <= timedelta(hours=max_age_hours):
        return []
    hours = age.total_seconds() / 3600
    return [
        IndexStale(
            f"The newest data of the index is from {as_of.isoformat()} ({hours:.0f} hours old;"
            f" index built {built_at.isoformat(timespec='seconds')}); ingest newer data and run"
            " `reach index build`"
        )
    ]


def freshness_headers(as_of: date, built_at: datetime) -> dict[str, Any]:
    """Every size answer says which data it comes from."""
    return {
        "x-reach-index-as-of": as_of.isoformat(),
        "x-reach-index-built-at": built_at.isoformat(timespec="seconds"),
    }
