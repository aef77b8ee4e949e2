"""Lookalike model: learn what sets a seed apart, score every eligible user, keep the best.

The method (docs/lookalikes.md explains the choice): an L2-regularised logistic regression
over the binary features of ``reach.engine.features``, trained on a sample of the seed
(positives) against a sample of the eligible users outside it (unlabelled, taken as negatives).
Every eligible user is then scored by summing the weights of the features they have, directly
over the feature bitmaps, and the ``target_size`` best are the lookalike's members.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from pyroaring import BitMap, FrozenBitMap

from reach.engine.bitmaps import bitmap_of, ordinals_of
from reach.engine.features import FeatureKey, FeatureSpace

if TYPE_CHECKING:
    from scipy import sparse

MODEL_VERSION = 1
# A country holding less than this share of the seed does not make its users eligible.
SEED_COUNTRY_SHARE = 0.01
# Training users drawn on each side (seed, eligible); more adds time, hardly quality.
TRAINING_USERS = 100_000
HOLDOUT_SHARE = 0.2
REGULARISATION = 0.1  # scikit-learn's C (inverse L2 strength), chosen on planted groups
EXPLAINED_FEATURES = 25
# Weights this small change no ranking worth having; skipping them saves scoring time.
NEGLIGIBLE_WEIGHT = 1e-4
# Why a model cannot be built where the optional dependencies are not installed.
MISSING_EXTRA = (
    "lookalike models need scikit-learn and SciPy, which are not installed:"
    " pip install 'reach-audiences[lookalike]'"
)


@dataclass(frozen=True)
class FeatureWeight:
    """One learnt feature: its weight and how common it is in the seed and among the eligible."""

    key: FeatureKey
    weight: float
    seed_share: float
    eligible_share: float


@dataclass(frozen=True)
class Lookalike:
    members: BitMap
    seed_size: int
    eligible_size: int
    countries: list[str]
    positives: int
    negatives: int
    holdout_auc: float | None
    features: list[FeatureWeight] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """The facts worth keeping next to the members (``reach lookalike explain``)."""
        return {
            "model_version": MODEL_VERSION,
            "size": len(self.members),
            "seed_size": self.seed_size,
            "eligible_size": self.eligible_size,
            "countries": self.countries,
            "training": {"positives": self.positives, "negatives": self.negatives},
            "holdout_auc": self.holdout_auc,
            "seconds": round(self.seconds, 3),
            "features": [
                {
                    "key": list(f.key),
                    "weight": round(f.weight, 6),
                    "seed_share": round(f.seed_share, 6),
                    "eligible_share": round(f.eligible_share, 6),
                }
                for f in self.features
            ],
        }


@dataclass(frozen=True)
class Scope:
    """Where a lookalike looks: the seed's countries (those holding at least
    ``SEED_COUNTRY_SHARE`` of it), the seed members who live there (the ones learnt from) and
    the other users there (the ones a lookalike may pick)."""

    countries: list[str]
    seed: FrozenBitMap
    eligible: FrozenBitMap


def scope(countries: Mapping[str, FrozenBitMap], seed: FrozenBitMap) -> Scope:
    """``countries`` holds the users of each country."""
    floor = max(1.0, SEED_COUNTRY_SHARE * len(seed))
    chosen = sorted(c for c, b in countries.items() if b.intersection_cardinality(seed) >= floor)
    everyone = FrozenBitMap.union(*(countries[c] for c in chosen)) if chosen else FrozenBitMap()
    return Scope(chosen, seed & everyone, everyone - seed)


@dataclass(frozen=True)
class Model:
    """A trained model: one weight per feature of ``space``, learnt for the seed of ``where``."""

    space: FeatureSpace
    where: Scope
    weights: np.ndarray[Any, Any]
    positives: int
    negatives: int
    holdout_auc: float | None

    def scores(self) -> np.ndarray[Any, Any]:
        """Every user's score (by ordinal): the sum of the weights of their features."""
        scores = np.zeros(self.space.users, dtype=np.float64)
        for bitmap, weight in zip(self.space.bitmaps, self.weights.tolist(), strict=True):
            if abs(weight) >= NEGLIGIBLE_WEIGHT:
                scores[ordinals_of(bitmap)] += weight
        return scores


def train(
    space: FeatureSpace,
    countries: Mapping[str, FrozenBitMap],
    seed: FrozenBitMap,
    *,
    training_users: int = TRAINING_USERS,
    random_state: int = 0,
) -> Model | None:
    """Learn what sets the seed apart from the other users of its countries (``countries``
    holds the users of each one, as ``Index.countries``); None when either side is empty."""
    # scikit-learn takes most of a second to import: only model builds pay for it. It is an
    # optional dependency (with SciPy), so a lean install serves everything but lookalikes.
    try:
        from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
        from sklearn.metrics import roc_auc_score  # noqa: PLC0415
    except ModuleNotFoundError as missing:
        raise ModuleNotFoundError(MISSING_EXTRA, name=missing.name) from missing

    where = scope(countries, seed)
    if not where.seed or not where.eligible:
        return None
    rng = np.random.default_rng(random_state)
    positives = _sample(where.seed, training_users, rng)
    negatives = _sample(where.eligible, training_users, rng)
    sample = np.concatenate([positives, negatives])
    order = np.argsort(sample, kind="stable")
    sample = sample[order]
    labels = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])[order]
    matrix = _design(space, sample)
    holdout = rng.random(len(sample)) < HOLDOUT_SHARE
    model = LogisticRegression(C=REGULARISATION, solver="liblinear", random_state=random_state)
    model.fit(matrix[~holdout], labels[~holdout])
    weights = model.coef_[0]
    auc = None
    if len(np.unique(labels[holdout])) == 2:
        auc = float(roc_auc_score(labels[holdout], matrix[holdout] @ weights))
    return Model(space, where, weights, len(positives), len(negatives), auc)


def build(
    space: FeatureSpace,
    countries: Mapping[str, FrozenBitMap],
    seed: FrozenBitMap,
    target_size: int,
    *,
    training_users: int = TRAINING_USERS,
    random_state: int = 0,
) -> Lookalike:
    """The ``target_size`` eligible users most like ``seed`` (deterministic for given inputs)."""
    started = time.perf_counter()
    model = train(space, countries, seed, training_users=training_users, random_state=random_state)
    if model is None:
        where = scope(countries, seed)
        return Lookalike(BitMap(), len(seed), len(where.eligible), where.countries, 0, 0, None)
    eligible = model.where.eligible
    return Lookalike(
        members=top(ordinals_of(eligible), model.scores(), target_size),
        seed_size=len(seed),
        eligible_size=len(eligible),
        countries=model.where.countries,
        positives=model.positives,
        negatives=model.negatives,
        holdout_auc=model.holdout_auc,
        features=_explained(space, model.weights, model.where.seed, eligible),
        seconds=time.perf_counter() - started,
    )


def _sample(users: FrozenBitMap, count: int, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    ordinals = ordinals_of(users)
    if len(ordinals) <= count:
        return ordinals
    return np.sort(rng.choice(ordinals, size=count, replace=False))


def _design(space: FeatureSpace, sample: np.ndarray[Any, Any]) -> sparse.csr_matrix:
    """The sample's feature matrix (rows: the sorted ``sample``; columns: the features)."""
    from scipy import sparse  # noqa: PLC0415 - as scikit-learn, only for model builds

    chosen = bitmap_of(sample)
    rows: list[np.ndarray[Any, Any]] = []
    pointers = [0]
    for bitmap in space.bitmaps:
        found = np.searchsorted(sample, ordinals_of(bitmap & chosen))
        rows.append(found)
        pointers.append(pointers[-1] + len(found))
    indices = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
    data = np.ones(len(indices), dtype=np.float64)
    columns = sparse.csc_matrix(
        (data, indices, np.array(pointers)), shape=(len(sample), len(space))
    )
    return columns.tocsr()


def top(candidates: np.ndarray[Any, Any], scores: np.ndarray[Any, Any], count: int) -> BitMap:
    """The ``count`` best candidates by score; equal scores go to the lower ordinal, so the
    choice never depends on anything but the data."""
    if count >= len(candidates):
        return bitmap_of(candidates)
    values = scores[candidates]
    threshold = np.partition(values, len(values) - count)[len(values) - count]
    above = candidates[values > threshold]
    tied = candidates[values == threshold]  # ascending, as candidates are
    return bitmap_of(np.concatenate([above, tied[: count - len(above)]]))


def _explained(
    space: FeatureSpace,
    weights: np.ndarray[Any, Any],
    seed: FrozenBitMap,
    eligible: FrozenBitMap,
) -> list[FeatureWeight]:
    """The features that count most: the largest weights, either way."""
    strongest = np.argsort(-np.abs(weights), kind="stable")[:EXPLAINED_FEATURES]
    found = []
    for position in [int(p) for p in strongest]:
        if abs(weights[position]) < NEGLIGIBLE_WEIGHT:
            break
        bitmap = space.bitmaps[position]
        found.append(
            FeatureWeight(
                key=space.keys[position],
                weight=float(weights[position]),
                seed_share=bitmap.intersection_cardinality(seed) / len(seed),
                eligible_share=bitmap.intersection_cardinality(eligible) / len(eligible),
            )
        )
    return found
