"""POST /2025-01/marketing-solutions/audiences/create."""

from __future__ import annotations

from typing import Any

import pytest

from tests.audience.conftest import found, post_audiences
from tests.builders import audience, leaf
from tests.conftest import ADVERTISER, OTHER_ADVERTISER, ApiUser


def create(api: ApiUser, *items: dict[str, Any]) -> dict[str, Any]:
    return post_audiences(api, "/create", *items)


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert body["data"] == [], body
    assert len(body["errors"]) == 1, body["errors"]
    error: dict[str, Any] = body["errors"][0]
    return error


class TestCreateAudiences:
    def test_creates_and_answers_the_audience(self, api: ApiUser, seg: list[str]) -> None:
        algebra = {
            "and": [leaf(seg[0]), {"or": [leaf(seg[1]), leaf(seg[2])]}, {"not": leaf(seg[3])}]
        }
        payload = audience(ADVERTISER, "Shoppers", algebra)
        payload["attributes"]["description"] = "who shop"
        body = create(api, payload)
        assert body["errors"] == []
        [resource] = body["data"]
        assert resource["type"] == "Audience"
        assert resource["attributes"] == {
            "advertiserId": str(ADVERTISER),
            "name": "Shoppers",
            "description": "who shop",
            "algebra": algebra,
            "adSetIds": [],
            "createdAt": "2026-11-01T12:00:00.000Z",
            "updatedAt": "2026-11-01T12:00:00.000Z",
        }
        assert found(api) == [resource]

    def test_a_single_segment_is_an_audience(self, api: ApiUser, seg: list[str]) -> None:
        assert create(api, audience(ADVERTISER, "one", leaf(seg[0])))["errors"] == []

    def test_nulls_in_the_algebra_are_dropped(self, api: ApiUser, seg: list[str]) -> None:
        algebra = {"and": [leaf(seg[0]), leaf(seg[1])], "or": None, "not": None}
        [resource] = create(api, audience(ADVERTISER, "n", algebra))["data"]
        assert resource["attributes"]["algebra"] == {"and": [leaf(seg[0]), leaf(seg[1])]}

    def test_depth_three_is_the_limit(self, api: ApiUser, seg: list[str]) -> None:
        deepest = {
            "and": [
                {"or": [{"and": [leaf(seg[0]), leaf(seg[1])]}, leaf(seg[2])]},
                {"not": leaf(seg[3])},
            ]
        }
        assert create(api, audience(ADVERTISER, "deep", deepest))["errors"] == []
        too_deep = {"and": [{"or": [{"and": [{"or": [leaf(seg[0])]}]}]}]}
        error = only_error(create(api, audience(ADVERTISER, "deeper", too_deep)))
        assert error["code"] == "algebra-too-deep"
        assert error["source"] == {"algebra": "data/0/attributes/algebra/and/0/or/0/and/0"}


class TestCreateAlgebraRules:
    @pytest.mark.parametrize(
        ("shape", "code", "path"),
        [
            ("root-not", "algebra-misplaced-not", "data/0/attributes/algebra"),
            ("not-in-or", "algebra-misplaced-not", "data/0/attributes/algebra/or/1"),
            ("only-nots", "algebra-no-positive-term", "data/0/attributes/algebra"),
            ("two-members", "algebra-invalid-node", "data/0/attributes/algebra/and/1"),
            ("empty-and", "algebra-invalid-node", "data/0/attributes/algebra"),
            ("empty-node", "algebra-invalid-node", "data/0/attributes/algebra/or/0"),
            ("unknown", "segment-not-found", "data/0/attributes/algebra/and/1"),
            ("malformed-id", "segment-not-found", "data/0/attributes/algebra"),
        ],
    )
    def test_rule(self, api: ApiUser, seg: list[str], shape: str, code: str, path: str) -> None:
        shapes: dict[str, dict[str, Any]] = {
            "root-not": {"not": leaf(seg[0])},
            "not-in-or": {"or": [leaf(seg[0]), {"not": leaf(seg[1])}]},
            "only-nots": {"and": [{"not": leaf(seg[0])}, {"not": leaf(seg[1])}]},
            "two-members": {
                "and": [leaf(seg[0]), {"audienceSegmentId": seg[1], "or": [leaf(seg[2])]}]
            },
            "empty-and": {"and": []},
            "empty-node": {"or": [{}]},
            "unknown": {"and": [leaf(seg[0]), leaf("987654321")]},
            "malformed-id": leaf("seg-1"),
        }
        error = only_error(create(api, audience(ADVERTISER, "a", shapes[shape])))
        assert (error["code"], error["type"], error["source"]) == (
            code,
            "validation",
            {"algebra": path},
        )
        assert found(api) == []

    def test_another_advertisers_segment_looks_unknown(
        self, api: ApiUser, seg: list[str], foreign_seg: str
    ) -> None:
        error = only_error(
            create(api, audience(ADVERTISER, "a", {"and": [leaf(seg[0]), leaf(foreign_seg)]}))
        )
        assert error["code"] == "segment-not-found"
        assert error["source"] == {"algebra": "data/0/attributes/algebra/and/1"}

    def test_a_segment_of_another_reachable_advertiser_is_refused(
        self, app: Any, http: Any, seg: list[str], foreign_seg: str
    ) -> None:
        from tests.builders import new_client

        both = ApiUser(http, new_client(app, ADVERTISER, OTHER_ADVERTISER, name="both"))
        error = only_error(
            create(both, audience(ADVERTISER, "mix", {"or": [leaf(seg[0]), leaf(foreign_seg)]}))
        )
        assert error["code"] == "segment-not-found"

    def test_algebra_is_required(self, api: ApiUser) -> None:
        error = only_error(
            create(api, {"attributes": {"advertiserId": str(ADVERTISER), "name": "x"}})
        )
        assert (error["code"], error["source"]) == (
            "required-field",
            {"algebra": "data/0/attributes/algebra"},
        )

    def test_wrong_json_types_fail_the_request(self, api: ApiUser, seg: list[str]) -> None:
        response = api.post(
            "/2025-01/marketing-solutions/audiences/create",
            {"data": [audience(ADVERTISER, "a", {"and": leaf(seg[0])})]},
        )
        assert response.status_code == 400
        assert response.json()["errors"][0]["source"] == {"and": "data/0/attributes/algebra/and"}

    def test_absurd_nesting(self, api: ApiUser, seg: list[str]) -> None:
        """Fifty levels are one item's problem; a body nested past what the JSON reader takes
        is a whole-request 400, never a crash."""

        def nested(levels: int) -> dict[str, Any]:
            node: dict[str, Any] = leaf(seg[0])
            for _ in range(levels):
                node = {"and": [node]}
            return node

        error = only_error(create(api, audience(ADVERTISER, "fifty", nested(50))))
        assert error["code"] == "algebra-too-deep"
        response = api.post(
            "/2025-01/marketing-solutions/audiences/create",
            {"data": [audience(ADVERTISER, "deeper", nested(300))]},
        )
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "invalid-json"
        assert found(api) == []

    def test_too_many_segment_references(self, api: ApiUser, seg: list[str]) -> None:
        """Bounded work: past REACH_ALGEBRA_MAX_LEAVES (256) the item is refused before its
        segments are looked up, and nothing is stored."""
        at_limit = {"or": [leaf(seg[n % 5]) for n in range(256)]}
        assert create(api, audience(ADVERTISER, "at the limit", at_limit))["errors"] == []
        over = {"or": [leaf(seg[0]), {"and": [leaf(str(10**9 + n)) for n in range(100_000)]}]}
        error = only_error(create(api, audience(ADVERTISER, "over", over)))
        assert error["code"] == "algebra-too-many-leaves"
        assert error["source"] == {"algebra": "data/0/attributes/algebra"}
        assert [a["attributes"]["name"] for a in found(api)] == ["at the limit"]

    def test_every_problem_of_an_item_is_listed(self, api: ApiUser, seg: list[str]) -> None:
        body = create(
            api, audience(ADVERTISER, "", {"or": [leaf("1234567"), {"not": leaf(seg[0])}]})
        )
        assert [e["code"] for e in body["errors"]] == [
            "name-must-not-be-empty",
            "segment-not-found",
            "algebra-misplaced-not",
        ]


class TestCreatePartialSuccessAndNames:
    def test_mixed_items(self, api: ApiUser, seg: list[str]) -> None:
        body = create(
            api,
            audience(ADVERTISER, "ok", leaf(seg[0])),
            audience(ADVERTISER, "bad", {"not": leaf(seg[0])}),
            audience(OTHER_ADVERTISER, "denied", leaf(seg[0])),
            audience(ADVERTISER, "ok", leaf(seg[1])),
            audience(ADVERTISER, "ok2", {"and": [leaf(seg[1]), {"not": leaf(seg[2])}]}),
        )
        assert [r["attributes"]["name"] for r in body["data"]] == ["ok", "ok2"]
        assert [(e["code"], e["source"]) for e in body["errors"]] == [
            ("algebra-misplaced-not", {"algebra": "data/1/attributes/algebra"}),
            ("advertiser-access-denied", {"advertiserId": "data/2/attributes/advertiserId"}),
            ("name-must-be-unique", {"name": "data/3/attributes/name"}),
        ]
        assert [a["attributes"]["name"] for a in found(api)] == ["ok", "ok2"]

    def test_names_are_unique_among_audiences_not_segments(
        self, api: ApiUser, seg: list[str]
    ) -> None:
        # A segment named "segment 0" exists; an audience may take that name.
        assert create(api, audience(ADVERTISER, "segment 0", leaf(seg[0])))["errors"] == []
        error = only_error(create(api, audience(ADVERTISER, "segment 0", leaf(seg[1]))))
        assert error["code"] == "name-must-be-unique"
