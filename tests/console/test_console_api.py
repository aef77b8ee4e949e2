"""POST /console/api/sizes at the HTTP level: each answer is the API's own answer to the same
question (estimate-size, compute-sizes), refused algebras say where, a read-only client may
ask, and the call is bounded and authenticated."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.builders import AUDIENCES, SEGMENTS, new_client, retargeting
from tests.conftest import ApiUser
from tests.indexed import ADVERTISERS

SIZES = "/console/api/sizes"
ADVERTISER = ADVERTISERS[0]


@pytest.fixture
def settings_overrides(indexed_settings: dict[str, Any]) -> dict[str, Any]:
    return indexed_settings


def new_segments(user: ApiUser, *spans: tuple[int, int], advertiser: int = ADVERTISER) -> list[str]:
    answer = user.post(
        f"{SEGMENTS}/create",
        {"data": [retargeting(advertiser, f"s{low}-{high}", low, high) for low, high in spans]},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["errors"] == []
    return [d["id"] for d in answer.json()["data"]]


def leaf(segment_id: str) -> dict[str, str]:
    return {"audienceSegmentId": segment_id}


def estimate(user: ApiUser, algebra: dict[str, Any]) -> Any:
    answer = user.post(
        f"{AUDIENCES}/estimate-size",
        {
            "data": {
                "type": "Audience",
                "attributes": {"advertiserId": str(ADVERTISER), "algebra": algebra},
            }
        },
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["attributes"]["size"]


def sizes(user: ApiUser, **body: Any) -> Any:
    return user.post(SIZES, {"advertiserId": str(ADVERTISER), **body})


def test_every_answer_is_the_apis_own(sizer: ApiUser) -> None:
    a, b, c = new_segments(sizer, (0, 10), (5, 20), (15, 40))
    algebras: list[dict[str, Any]] = [
        {"and": [{"or": [{"and": [leaf(a), leaf(b)]}, leaf(c)]}, {"not": leaf(b)}]},
        {"or": [{"and": [leaf(a), leaf(b)]}, leaf(c)]},
        {"and": [leaf(a), leaf(b)]},
        {"and": [leaf(b), leaf(c)]},
        leaf(a),
    ]
    answer = sizes(sizer, algebras=algebras, segmentIds=[a, b, c])
    assert answer.status_code == 200, answer.text
    body = answer.json()["data"]
    got = [sized["size"] for sized in body["algebras"]]
    assert got == [estimate(sizer, algebra) for algebra in algebras]
    assert all(sized["errors"] == [] for sized in body["algebras"])
    assert len(set(got)) > 2  # the questions differ, and so do their answers
    computed = sizer.post(
        f"{SEGMENTS}/compute-sizes",
        {"data": [{"id": i, "type": "AudienceSegment"} for i in (a, b, c)]},
    ).json()["data"]
    by_id = {d["id"]: d["attributes"]["size"] for d in computed}
    assert [(s["id"], s["size"]) for s in body["segments"]] == [(i, by_id[i]) for i in (a, b, c)]


def test_a_refused_algebra_says_where_and_the_others_are_answered(sizer: ApiUser) -> None:
    a, b = new_segments(sizer, (0, 10), (5, 20))
    algebras: list[dict[str, Any]] = [
        {"and": [leaf(a), {"or": []}]},
        {"not": leaf(a)},
        {"and": [{"not": leaf(a)}]},
        {"or": [leaf(a), leaf(b)]},
    ]
    answer = sizes(sizer, algebras=algebras)
    assert answer.status_code == 200, answer.text
    empty, root_not, no_positive, fine = answer.json()["data"]["algebras"]
    assert empty["size"] is None
    assert [e["code"] for e in empty["errors"]] == ["algebra-invalid-node"]
    [pointer] = empty["errors"][0]["source"].values()
    assert pointer.endswith("algebra/and/1")
    assert [e["code"] for e in root_not["errors"]] == ["algebra-misplaced-not"]
    assert [e["code"] for e in no_positive["errors"]] == ["algebra-no-positive-term"]
    assert fine["errors"] == []
    assert fine["size"] == estimate(sizer, algebras[3])


def test_another_advertisers_segment_is_refused(sizer: ApiUser) -> None:
    [mine] = new_segments(sizer, (0, 10))
    [theirs] = new_segments(sizer, (0, 10), advertiser=ADVERTISERS[1])
    answer = sizes(sizer, algebras=[{"or": [leaf(mine), leaf(theirs)]}, leaf(mine)])
    assert answer.status_code == 200, answer.text
    mixed, alone = answer.json()["data"]["algebras"]
    assert mixed["size"] is None and mixed["errors"]
    assert alone["size"] == estimate(sizer, leaf(mine))


def test_a_read_only_client_may_ask(app: FastAPI, http: TestClient, sizer: ApiUser) -> None:
    a, b = new_segments(sizer, (0, 10), (5, 20))
    reader = ApiUser(http, new_client(app, ADVERTISER, read_only=True, name="viewer"))
    question = {"and": [leaf(a), leaf(b)]}
    answer = sizes(reader, algebras=[question])
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["algebras"][0]["size"] == estimate(sizer, question)
    # ...but not change anything.
    refused = reader.post(f"{SEGMENTS}/create", {"data": [retargeting(ADVERTISER, "no")]})
    assert refused.status_code == 403


def test_the_call_is_bounded_and_authenticated(http: TestClient, sizer: ApiUser) -> None:
    [a] = new_segments(sizer, (0, 10))
    too_many = sizes(sizer, algebras=[leaf(a)] * 301)
    assert too_many.status_code == 400, too_many.text
    anonymous = http.post(SIZES, json={"advertiserId": str(ADVERTISER), "algebras": [leaf(a)]})
    assert anonymous.status_code == 401


def test_the_segment_references_of_one_call_are_bounded(sizer: ApiUser) -> None:
    [a] = new_segments(sizer, (0, 10))
    # 300 questions, each of 14 references: 4,200, over the 4,096 one call may ask about.
    wide = {"or": [leaf(a)] * 14}
    refused = sizes(sizer, algebras=[wide] * 300)
    assert refused.status_code == 400, refused.text
    [problem] = refused.json()["errors"]
    assert "at most 4,096 segment references" in problem["detail"]
    assert sizes(sizer, algebras=[wide] * 290).status_code == 200


class TestRateLimit:
    @pytest.fixture
    def settings_overrides(self, indexed_settings: dict[str, Any]) -> dict[str, Any]:
        return indexed_settings | {"rate_limit_per_minute": 10}

    def test_each_question_counts_as_a_call(self, sizer: ApiUser) -> None:
        [a] = new_segments(sizer, (0, 10))
        # The creation above was one call of ten; eight questions take eight more.
        assert sizes(sizer, algebras=[leaf(a)] * 8).status_code == 200
        limited = sizes(sizer, algebras=[leaf(a)] * 2)
        assert limited.status_code == 429, limited.text
        assert limited.json()["errors"][0]["code"] == "rate-limit-exceeded"
