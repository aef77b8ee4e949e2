"""POST /2025-01/marketing-solutions/audience-segments/delete."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from reach.audience_segment.service import AudienceSegmentService
from tests.builders import SEGMENTS, ManualClock, item, retargeting
from tests.conftest import ADVERTISER, OTHER_ADVERTISER, ApiUser, segments

DELETE = f"{SEGMENTS}/delete"


def create(api: ApiUser, *payloads: dict[str, Any]) -> list[str]:
    body = api.post(f"{SEGMENTS}/create", {"data": list(payloads)}).json()
    assert body["errors"] == []
    return [r["id"] for r in body["data"]]


def delete(api: ApiUser, *ids: str) -> dict[str, Any]:
    response = api.post(DELETE, {"data": [{"id": i, "type": "AudienceSegment"} for i in ids]})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestDeleteAudienceSegments:
    def test_deletes_and_answers_ids(self, api: ApiUser) -> None:
        a, b, c = create(api, *(retargeting(ADVERTISER, n) for n in "abc"))
        body = delete(api, c, a)
        assert body == {
            "data": [{"id": c, "type": "AudienceSegment"}, {"id": a, "type": "AudienceSegment"}],
            "errors": [],
            "warnings": [],
        }
        assert [s["id"] for s in segments(api)] == [b]

    def test_a_deleted_name_can_be_reused(self, api: ApiUser) -> None:
        [a] = create(api, retargeting(ADVERTISER, "again"))
        delete(api, a)
        assert create(api, retargeting(ADVERTISER, "again"))

    def test_unknown_and_foreign_ids_are_not_found(self, api: ApiUser, other_api: ApiUser) -> None:
        [theirs] = create(other_api, retargeting(OTHER_ADVERTISER, "theirs"))
        body = delete(api, "123456789", theirs)
        assert body["data"] == []
        assert [(e["code"], e["source"]) for e in body["errors"]] == [
            ("segment-not-found", {"id": "data/0/id"}),
            ("segment-not-found", {"id": "data/1/id"}),
        ]
        assert [s["id"] for s in segments(other_api)] == [theirs]

    def test_deleting_twice(self, api: ApiUser) -> None:
        [a] = create(api, retargeting(ADVERTISER, "a"))
        assert delete(api, a)["errors"] == []
        assert delete(api, a)["errors"][0]["code"] == "segment-not-found"

    def test_the_same_id_twice_in_one_request(self, api: ApiUser) -> None:
        [a] = create(api, retargeting(ADVERTISER, "a"))
        body = delete(api, a, a)
        assert body["data"] == [{"id": a, "type": "AudienceSegment"}]
        assert body["errors"][0]["code"] == "duplicate-item"

    def test_a_lookalike_seed_is_in_use(self, api: ApiUser) -> None:
        [seed] = create(api, retargeting(ADVERTISER, "seed"))
        [look] = create(api, item(ADVERTISER, "look", lookalike={"seedSegmentId": seed}))
        body = delete(api, seed)
        assert body["data"] == []
        error = body["errors"][0]
        assert error["code"] == "segment-in-use"
        assert error["source"] == {"id": "data/0/id"}
        assert look in error["detail"]
        assert delete(api, look)["errors"] == []
        assert delete(api, seed)["errors"] == []

    def test_a_seed_and_its_lookalike_can_go_together(self, api: ApiUser) -> None:
        [seed] = create(api, retargeting(ADVERTISER, "seed"))
        [look] = create(api, item(ADVERTISER, "look", lookalike={"seedSegmentId": seed}))
        body = delete(api, seed, look)
        assert body["errors"] == []
        assert segments(api) == []

    def test_behavioral_segments_cannot_be_deleted(
        self, app: FastAPI, api: ApiUser, clock: ManualClock
    ) -> None:
        with app.state.database.session(write=True) as session:
            behavioral = AudienceSegmentService(session, app.state.settings, clock).add_behavioral(
                ADVERTISER, "Movers", "LifeEvents", None, None, None
            )
        body = delete(api, str(behavioral.id))
        assert body["errors"][0]["code"] == "segment-read-only"
        assert len(segments(api)) == 1


def test_ids_are_never_reused(api: ApiUser) -> None:
    [first] = create(api, retargeting(ADVERTISER, "first"))
    delete(api, first)
    [second] = create(api, retargeting(ADVERTISER, "second"))
    assert int(second) > int(first)
