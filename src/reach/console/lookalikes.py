"""The console's own call for lookalikes, which the Criteo API has no operation for: the state of
one lookalike's model and what it learnt (``reach lookalike status`` and ``explain``, from the
same reading of the results: ``reach.lookalike.explain``).

Its counts are answered as sizes are (docs/privacy.md): the members and the seed by the
questions the API sizes them by, so the page cannot tell more than a size request would.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from reach.audience_segment.errors import SegmentNotFound
from reach.audience_segment.repository import AudienceSegmentRepository
from reach.audience_segment.schemas import LookalikeV1
from reach.auth.auth import AudienceReader
from reach.contact_list.service import ListMatches
from reach.deps import ReadSession, SettingsDep
from reach.kit.ids import parse_id
from reach.kit.middleware import wire_problems
from reach.kit.privacy import SizePrivacy
from reach.kit.problems import Problem
from reach.kit.sizes import floor_warning
from reach.kit.wire import JsonResponse
from reach.lookalike.explain import (
    RETRY,
    Explanation,
    brand_names,
    explanation,
    is_pending,
    share_text,
    state,
    weight_text,
)
from reach.lookalike.service import Lookalikes, LookalikeService, inputs
from reach.sizing.endpoints import IndexDep

router = APIRouter(prefix="/console/api/lookalikes", include_in_schema=False)

# Where the seed warnings point: the size of the lookalike in this answer.
SIZE = "data/size"


@router.get("/{segment_id}")
def lookalike(
    request: Request,
    segment_id: str,
    reader: AudienceReader,
    session: ReadSession,
    settings: SettingsDep,
    index: IndexDep,
) -> JsonResponse:
    """``{"data": {id, advertiserId, name, seedSegmentId, targetSize, state, reason, retry,
    size, sizeFloor, model}, "warnings": [...]}``: ``state`` is ``pending``, ``built`` or
    ``failed`` (with ``reason`` and the command that retries), or ``no-index`` while no index
    is in service; ``model`` is the newest model explained (null until one is built),
    ``current`` when it is the model of the lookalike's present inputs. The warnings are the
    seed's, as a size request of the lookalike gives them; counts below ``sizeFloor`` are
    withheld (null), as sizes are."""
    number = parse_id(segment_id)
    segments = AudienceSegmentRepository(session)
    found = segments.by_ids([number], reader.advertiser_ids) if number is not None else {}
    segment = found.get(number) if number is not None else None
    if segment is None or segment.type != "Lookalike" or segment.seed_segment_id is None:
        raise SegmentNotFound(f"Lookalike segment '{segment_id}' does not exist")
    lookalikes: Lookalikes = request.app.state.lookalikes
    results = lookalikes.results
    definition = LookalikeV1.model_validate(segment.definition)
    data: dict[str, Any] = {
        "id": str(segment.id),
        "advertiserId": str(segment.advertiser_id),
        "name": segment.name,
        "seedSegmentId": definition.seed_segment_id,
        "targetSize": definition.target_size,
        "state": "no-index",
        "reason": "No index is in service yet: the model is built once one is (reach index build).",
        "retry": None,
        "size": None,
        "sizeFloor": None,
        "model": None,
    }
    warnings: list[Problem] = []
    explained = explanation(results, segment.id, brand_names(session))
    if index is not None:
        lists: ListMatches = request.app.state.list_matches
        seeds = segments.by_ids([segment.seed_segment_id], [segment.advertiser_id])
        wanted = inputs(index, settings, lists, segment, seeds[segment.seed_segment_id])
        pending = is_pending(results, wanted)
        if pending:
            lookalikes.wake()
        now = state(results, segment.id, pending)
        data["state"] = now.name
        data["reason"] = now.reason
        data["retry"] = RETRY if now.name == "failed" else None
        service = LookalikeService(session, settings, index, lists, lookalikes)
        warnings = [*lists.privacy.notice(), *service.diagnostics(segment, SIZE)]
        if explained is not None:
            model = _model(explained, wanted.seed_question, lists.privacy, wanted.key)
            data["model"] = model
            if model["current"]:
                data["size"] = model["size"]
                if model["size"] is None:
                    warnings.append(floor_warning(lists.privacy.floor, SIZE))
        # Counts below it are withheld (null), as sizes are.
        data["sizeFloor"] = lists.privacy.floor
    return JsonResponse({"data": data, "errors": [], "warnings": wire_problems(request, warnings)})


def _model(
    explained: Explanation, seed_question: str, privacy: SizePrivacy, key: str
) -> dict[str, Any]:
    """A model explained, its counts answered as sizes (withheld below the floor: null)."""

    def count(value: int, question: str) -> int | None:
        return privacy.count(value, question, explained.build_id)

    countries = ",".join(explained.countries)
    seed_size = count(explained.seed_size, seed_question)

    def share(value: float) -> float | None:
        # A share is a count over the seed: withheld with the seed's count, and rounded to a
        # whole percent unless sizes are exact, so that no share pins the seed's exact size.
        if seed_size is None:
            return None
        return value if privacy.exact else round(value, 2)

    def text(value: float | None) -> str:
        return "withheld" if value is None else share_text(value)

    return {
        "current": explained.key == key,
        "size": count(explained.size, f"Lookalike/{explained.key}"),
        "targetSize": explained.target_size,
        "seedSize": seed_size,
        "eligibleSize": count(explained.eligible_size, f"Eligible/{countries}/{seed_question}"),
        "countries": explained.countries,
        "positives": count(explained.positives, f"Positives/{seed_question}"),
        "negatives": count(explained.negatives, f"Negatives/{countries}/{seed_question}"),
        "holdoutAuc": explained.holdout_auc,
        "buildId": explained.build_id,
        "indexAsOf": explained.index_as_of,
        "builtAt": explained.built_at,
        "seconds": explained.seconds,
        "features": [
            {
                "key": feature.key,
                "label": feature.label,
                "weight": feature.weight,
                "seedShare": share(feature.seed_share),
                "eligibleShare": share(feature.eligible_share),
                # As `reach lookalike explain` prints them (when sizes are exact).
                "text": {
                    "weight": weight_text(feature.weight),
                    "seedShare": text(share(feature.seed_share)),
                    "eligibleShare": text(share(feature.eligible_share)),
                },
            }
            for feature in explained.features
        ],
    }
