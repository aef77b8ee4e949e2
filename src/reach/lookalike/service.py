"""Lookalikes as the API sees them: the members once built, else a warning that they are not.

A lookalike's result depends on its inputs (model version, index build, seed members, target
size), named by one key. A size request computes the key (the seed's members are a cheap bitmap
query) and answers from the result of that key; when there is none yet, the size is null with a
``lookalike-computing`` warning and the worker is woken to build it. So a target-size update, a
new index build or a changed seed (say, a contact list amended) leads to a new model by itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from pyroaring import AbstractBitMap, FrozenBitMap
from sqlalchemy.orm import Session

from reach.audience_segment.membership import definition_question, members
from reach.audience_segment.repository import AudienceSegmentRepository
from reach.audience_segment.schemas import LookalikeV1
from reach.config import Settings
from reach.contact_list.service import ListMatches
from reach.engine.lookalike import MODEL_VERSION, scope
from reach.engine.query import Index
from reach.kit.problems import Problem
from reach.lookalike.errors import (
    LookalikeComputing,
    LookalikeFailed,
    SeedTooLarge,
    SeedTooSmall,
)
from reach.lookalike.storage import ResultStore
from reach.models import AudienceSegment

# Fewer seed users than this make a weak model; more than this share of their countries leaves
# little to find.
SMALL_SEED = 100
LARGE_SEED_SHARE = 0.5


@dataclass(frozen=True)
class Inputs:
    """Everything a lookalike's result depends on, and the key that names them."""

    segment_id: int
    seed: FrozenBitMap
    # What the seed's size answers (docs/privacy.md): its definition or its list's content.
    seed_question: str
    target_size: int
    build_id: str
    key: str


def inputs(
    index: Index,
    settings: Settings,
    lists: ListMatches,
    lookalike: AudienceSegment,
    seed: AudienceSegment,
) -> Inputs:
    target_size = LookalikeV1.model_validate(lookalike.definition).target_size
    if seed.type == "ContactList":
        matched = lists.get(seed.id, index)
        question = matched.question
        found: AbstractBitMap = lists.reached(matched, index.build_id)
    else:
        asked = definition_question(seed.type, seed.advertiser_id, seed.definition)
        assert asked is not None, seed.type
        question = asked
        found = members(index, settings, seed.type, seed.advertiser_id, seed.definition)
    seed_members = found if isinstance(found, FrozenBitMap) else FrozenBitMap(found)
    # Named by the seed's question, not by its members: these follow from the question and the
    # index build, and a key that changed only when the members did would tell whether one
    # person added to a list matched anyone.
    digest = hashlib.sha256(
        f"{MODEL_VERSION}/{index.build_id}/{target_size}/{lists.privacy.mode}/".encode()
    )
    digest.update(question.encode())
    return Inputs(
        lookalike.id,
        seed_members,
        question,
        target_size,
        index.build_id,
        digest.hexdigest()[:32],
    )


@dataclass(frozen=True)
class Lookalikes:
    """The server's lookalike results, and how to ask for the missing ones to be built."""

    results: ResultStore
    wake: Callable[[], None]


class LookalikeService:
    """Lookalike members and diagnostics within one request (inputs computed once each)."""

    def __init__(
        self,
        session: Session,
        settings: Settings,
        index: Index,
        lists: ListMatches,
        lookalikes: Lookalikes,
    ) -> None:
        self.settings = settings
        self.index = index
        self.lists = lists
        self.results = lookalikes.results
        self.wake = lookalikes.wake
        self.segments = AudienceSegmentRepository(session)
        self._inputs: dict[int, Inputs] = {}

    def _of(self, lookalike: AudienceSegment) -> Inputs:
        found = self._inputs.get(lookalike.id)
        if found is None:
            assert lookalike.seed_segment_id is not None
            seed = self.segments.by_ids([lookalike.seed_segment_id], [lookalike.advertiser_id])
            found = inputs(
                self.index, self.settings, self.lists, lookalike, seed[lookalike.seed_segment_id]
            )
            self._inputs[lookalike.id] = found
        return found

    def question(self, lookalike: AudienceSegment) -> str:
        """What the lookalike's size answers: its inputs, for the noise of the privacy mode."""
        return f"Lookalike/{self._of(lookalike).key}"

    def members(self, lookalike: AudienceSegment) -> FrozenBitMap:
        """The lookalike's members; ``LookalikeComputing`` when its model is not built yet,
        ``LookalikeFailed`` when it could not be."""
        wanted = self._of(lookalike)
        found = self.results.members(lookalike.id, wanted.key)
        if found is None:
            reason = self.results.error(lookalike.id, wanted.key)
            if reason is not None:
                raise LookalikeFailed(
                    f"Lookalike {lookalike.id} could not be computed for the current data"
                    f" ({reason}); an operator can retry with `reach lookalike build --retry`"
                )
            self.wake()
            raise LookalikeComputing(
                f"Lookalike {lookalike.id} is being computed for the current data; ask again"
                " in a moment"
            )
        return found

    def diagnostics(self, lookalike: AudienceSegment, path: str) -> list[Problem]:
        """Warnings about the seed: too few matched users, or most of its countries. Their
        numbers are answered like sizes (docs/privacy.md): a seed is any segment, and an exact
        count of a small one would tell whether one person is in it."""
        wanted = self._of(lookalike)
        privacy = self.lists.privacy
        build = self.index.build_id
        where = scope(self.index.countries(), wanted.seed)
        found: list[Problem] = []
        seed = privacy.count(len(wanted.seed), wanted.seed_question, build)
        if seed is None or seed < SMALL_SEED:
            has = f"fewer than {privacy.floor}" if seed is None else str(seed)
            found.append(
                SeedTooSmall(
                    f"The seed of lookalike {lookalike.id} has {has} matched users (fewer than"
                    f" {SMALL_SEED}): the model has little to learn from",
                    source={"size": path},
                )
            )
        countries = ",".join(where.countries)
        within = privacy.count(len(where.seed), f"{wanted.seed_question}/in/{countries}", build)
        population = privacy.count(
            len(where.seed) + len(where.eligible), f"Countries/{countries}", build
        )
        if within is not None and population and within > LARGE_SEED_SHARE * population:
            found.append(
                SeedTooLarge(
                    f"The seed of lookalike {lookalike.id} holds {within} of the"
                    f" {population} users of its countries ({', '.join(where.countries)}):"
                    " few users are left to choose from",
                    source={"size": path},
                )
            )
        return found
