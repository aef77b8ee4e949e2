"""POST /2025-01/marketing-solutions/audiences/search."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from tests.audience.conftest import create_segments, found, post_audiences
from tests.builders import AUDIENCES, add_ad_set, add_advertiser, audience, leaf, new_client
from tests.conftest import ADVERTISER, OTHER_ADVERTISER, ApiUser


def create(api: ApiUser, advertiser: int, name: str, algebra: dict[str, Any]) -> str:
    body = post_audiences(api, "/create", audience(advertiser, name, algebra))
    assert body["errors"] == [], body
    identifier: str = body["data"][0]["id"]
    return identifier


def ids(results: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in results]


class TestSearchAudiences:
    def test_filters_are_anded(self, app: FastAPI, api: ApiUser, seg: list[str]) -> None:
        add_advertiser(app, 303)
        user = ApiUser(api.http, new_client(app, ADVERTISER, 303, name="multi"))
        [s303] = create_segments(user, 303, "s303")
        add_ad_set(app, 9, ADVERTISER)
        a = create(user, ADVERTISER, "a", {"and": [leaf(seg[0]), {"not": leaf(seg[1])}]})
        b = create(user, ADVERTISER, "b", {"or": [leaf(seg[1]), leaf(seg[2])]})
        c = create(user, 303, "c", leaf(s303))
        user.call(
            "PUT",
            "/2025-01/marketing-solutions/ad-sets/9/audience",
            {"data": {"attributes": {"audienceId": b}}},
        )
        assert ids(found(user)) == [a, b, c]
        assert ids(found(user, advertiserIds=["303"])) == [c]
        assert ids(found(user, audienceIds=[c, a, "777", "x"])) == [a, c]
        # A segment anywhere in the algebra, under a 'not' too.
        assert ids(found(user, audienceSegmentIds=[seg[1]])) == [a, b]
        assert ids(found(user, audienceSegmentIds=[seg[1]], audienceIds=[b, c])) == [b]
        assert ids(found(user, adSetIds=["9"])) == [b]
        assert found(user, adSetIds=["9"])[0]["attributes"]["adSetIds"] == ["9"]
        assert found(user, adSetIds=["10"]) == []

    def test_filters_of_seventy_thousand_ids(
        self, app: FastAPI, api: ApiUser, seg: list[str]
    ) -> None:
        """More ids than PostgreSQL takes parameters in one statement, in every filter."""
        add_ad_set(app, 9, ADVERTISER)
        a = create(api, ADVERTISER, "a", leaf(seg[0]))
        b = create(api, ADVERTISER, "b", {"or": [leaf(seg[1]), leaf(seg[2])]})
        api.call(
            "PUT",
            "/2025-01/marketing-solutions/ad-sets/9/audience",
            {"data": {"attributes": {"audienceId": b}}},
        )
        many = [str(n) for n in range(10_000_000, 10_070_000)]
        assert ids(found(api, audienceIds=[*many, b])) == [b]
        assert ids(found(api, audienceSegmentIds=[*many, seg[0]])) == [a]
        assert ids(found(api, adSetIds=[*many, "9"])) == [b]

    def test_paging(self, api: ApiUser, seg: list[str]) -> None:
        made = [create(api, ADVERTISER, f"a{i:02}", leaf(seg[i % 5])) for i in range(12)]
        seen: list[str] = []
        offset = 0
        while True:
            body = api.post(f"{AUDIENCES}/search?limit=5&offset={offset}", {}).json()
            assert body["meta"] == {"limit": 5, "offset": offset, "totalItems": 12}
            seen.extend(ids(body["data"]))
            offset += 5
            if offset >= 12:
                break
        assert seen == made

    @pytest.mark.parametrize("advertiser", [str(OTHER_ADVERTISER), "0", "x"])
    def test_unreachable_advertiser_filter(self, api: ApiUser, advertiser: str) -> None:
        response = api.post(
            f"{AUDIENCES}/search", {"data": {"attributes": {"advertiserIds": [advertiser]}}}
        )
        assert response.status_code == 403
        assert response.json()["errors"][0]["type"] == "access-control"

    def test_isolation(self, api: ApiUser, other_api: ApiUser, seg: list[str]) -> None:
        a = create(api, ADVERTISER, "a", leaf(seg[0]))
        assert found(other_api) == []
        assert found(other_api, audienceIds=[a]) == []

    def test_read_only_clients_may_search(self, app: FastAPI, api: ApiUser) -> None:
        reader = ApiUser(api.http, new_client(app, ADVERTISER, read_only=True, name="reader"))
        assert reader.post(f"{AUDIENCES}/search", {}).status_code == 200
        refused = reader.post(
            f"{AUDIENCES}/create", {"data": [audience(ADVERTISER, "x", leaf("1"))]}
        )
        assert refused.status_code == 403
