"""What a lookalike's state and model say, in words: ``reach lookalike status`` and ``explain``
print it, the console's lookalikes page shows it, both from this one reading of the results.

A lookalike is *pending* while no result nor failure exists for its current inputs, *failed*
when its latest build failed (with why, until an operator retries), else *built*. Its
explanation is the summary of its newest model: what it was trained on, and its strongest
features, each with its weight and how common it is in the seed and among the eligible users.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

from reach.lookalike.service import Inputs
from reach.lookalike.storage import ResultStore
from reach.reference.repository import BrandRepository
from reach.reference.taxonomy import taxonomy

RETRY = "reach lookalike build --retry"

StateName = Literal["pending", "built", "failed"]


@dataclass(frozen=True)
class State:
    name: StateName
    # Why the build failed (a failed state only).
    reason: str | None = None


def is_pending(results: ResultStore, wanted: Inputs) -> bool:
    """Whether the lookalike waits for a build: no result nor failure for its inputs."""
    return not results.has(wanted.segment_id, wanted.key) and (
        results.error(wanted.segment_id, wanted.key) is None
    )


def state(results: ResultStore, segment_id: int, pending: bool) -> State:
    """The state of a lookalike, given whether a build of its current inputs is pending."""
    if pending:
        return State("pending")
    failure = results.failure(segment_id)
    if failure:
        return State("failed", failure)
    return State("built")


@dataclass(frozen=True)
class Feature:
    key: list[Any]
    label: str
    weight: float
    seed_share: float
    eligible_share: float


@dataclass(frozen=True)
class Explanation:
    """The newest model of a lookalike, as its summary records it."""

    segment_id: int
    key: str
    size: int
    target_size: int | None
    seed_size: int
    eligible_size: int
    countries: list[str]
    positives: int
    negatives: int
    holdout_auc: float | None
    build_id: str
    index_as_of: str
    built_at: str
    seconds: float
    features: list[Feature]


def weight_text(weight: float) -> str:
    """A feature's weight as shown: signed, three decimals."""
    return f"{weight:+.3f}"


def share_text(share: float) -> str:
    """A share of users as shown: a percentage with one decimal."""
    return f"{share:.1%}"


def brand_names(session: Session) -> dict[int, str]:
    return {brand.id: brand.name for brand in BrandRepository(session).list()}


def explanation(
    results: ResultStore, segment_id: int, brands: dict[int, str]
) -> Explanation | None:
    """The newest model of a lookalike explained; None while it has none."""
    summary = results.summary(segment_id)
    if summary is None:
        return None
    training = summary["training"]
    return Explanation(
        segment_id=segment_id,
        key=summary.get("key", ""),
        size=summary["size"],
        target_size=summary.get("target_size"),
        seed_size=summary["seed_size"],
        eligible_size=summary["eligible_size"],
        countries=list(summary["countries"]),
        positives=training["positives"],
        negatives=training["negatives"],
        holdout_auc=summary["holdout_auc"],
        build_id=summary["build_id"],
        index_as_of=summary["index_as_of"],
        built_at=summary["built_at"],
        seconds=summary["seconds"],
        features=[
            Feature(
                key=list(f["key"]),
                label=label(f["key"], brands),
                weight=f["weight"],
                seed_share=f["seed_share"],
                eligible_share=f["eligible_share"],
            )
            for f in summary["features"]
        ],
    )


def label(key: list[Any], brands: dict[int, str]) -> str:
    """A feature in words."""
    kind, *rest = key
    if kind == "interest":
        interest = taxonomy().interests.get(str(rest[0]))
        return f"browsed {interest.path if interest else rest[0]}"
    if kind == "brand":
        return f"browsed brand {brands.get(int(rest[0]), rest[0])}"
    if kind == "price":
        return f"browsed {rest[0]}-priced products"
    if kind == "visited":
        return f"visited advertiser {rest[0]} in the last {rest[1]} days"
    if kind == "visit_days":
        return f"visited advertiser {rest[0]} on {rest[1]}+ days"
    if kind == "bought":
        return f"bought from advertiser {rest[0]}"
    if kind == "area":
        import h3.api.basic_int as h3  # noqa: PLC0415

        lat, lon = h3.cell_to_latlng(h3.str_to_int(str(rest[0])))
        return f"seen around {lat:.2f}, {lon:.2f}"
    if kind == "behavioral":
        return f"behavioral {rest[0]} ({rest[1]})"
    return f"{kind.replace('_', ' ')} {' '.join(str(part) for part in rest)}"
