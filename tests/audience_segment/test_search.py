"""POST /2025-01/marketing-solutions/audience-segments/search."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from reach.kit.problems import RequestProblems
from tests.builders import SEGMENTS, add_advertiser, item, new_client, retargeting
from tests.conftest import ADVERTISER, OTHER_ADVERTISER, ApiUser

SEARCH = f"{SEGMENTS}/search"


def create(api: ApiUser, *payloads: dict[str, Any]) -> list[str]:
    body = api.post(f"{SEGMENTS}/create", {"data": list(payloads)}).json()
    assert body["errors"] == []
    return [r["id"] for r in body["data"]]


def search(api: ApiUser, query: str = "", **filters: Any) -> dict[str, Any]:
    response = api.post(
        f"{SEARCH}{query}", {"data": {"type": "AudienceSegment", "attributes": filters}}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def two_advertisers(app: FastAPI, api: ApiUser) -> ApiUser:
    """A client of both ADVERTISER and a third advertiser 303."""
    add_advertiser(app, 303)
    return ApiUser(api.http, new_client(app, ADVERTISER, 303, name="multi"))


class TestSearchFilters:
    def test_no_filter_gives_every_reachable_segment_in_id_order(
        self, api: ApiUser, other_api: ApiUser
    ) -> None:
        mine = create(api, *(retargeting(ADVERTISER, f"m{i}") for i in range(3)))
        create(other_api, retargeting(OTHER_ADVERTISER, "theirs"))
        bodies: list[dict[str, Any]] = [{}, {"data": {}}, {"data": {"attributes": {}}}]
        for body in bodies:
            found = api.post(SEARCH, body).json()
            assert [r["id"] for r in found["data"]] == mine
            assert found["meta"] == {"limit": 50, "offset": 0, "totalItems": 3}

    def test_filters_are_anded(self, two_advertisers: ApiUser) -> None:
        user = two_advertisers
        r1, c1 = create(user, retargeting(ADVERTISER, "r1"), item(ADVERTISER, "c1", contactList={}))
        [r3] = create(user, retargeting(303, "r3"))
        assert [s["id"] for s in search(user, advertiserIds=["303"])["data"]] == [r3]
        assert [s["id"] for s in search(user, audienceSegmentTypes=["Retargeting"])["data"]] == [
            r1,
            r3,
        ]
        both = search(user, advertiserIds=[str(ADVERTISER)], audienceSegmentTypes=["Retargeting"])
        assert [s["id"] for s in both["data"]] == [r1]
        by_id = search(user, audienceSegmentIds=[c1, r3], audienceSegmentTypes=["ContactList"])
        assert [s["id"] for s in by_id["data"]] == [c1]

    def test_empty_result(self, api: ApiUser) -> None:
        create(api, retargeting(ADVERTISER, "r"))
        body = search(api, audienceSegmentTypes=["Location"])
        assert body["data"] == []
        assert body["meta"]["totalItems"] == 0

    def test_unknown_and_malformed_ids_match_nothing(self, api: ApiUser) -> None:
        create(api, retargeting(ADVERTISER, "r"))
        assert search(api, audienceSegmentIds=["424242", "x"])["data"] == []

    def test_empty_filter_lists_do_not_filter(self, api: ApiUser) -> None:
        create(api, retargeting(ADVERTISER, "r"))
        assert (
            len(
                search(api, advertiserIds=[], audienceSegmentIds=[], audienceSegmentTypes=[])[
                    "data"
                ]
            )
            == 1
        )

    def test_another_advertiser_in_the_filter_is_refused(
        self, api: ApiUser, other_api: ApiUser
    ) -> None:
        create(other_api, retargeting(OTHER_ADVERTISER, "theirs"))
        for advertiser in (str(OTHER_ADVERTISER), "777", "abc"):
            response = api.post(SEARCH, {"data": {"attributes": {"advertiserIds": [advertiser]}}})
            assert response.status_code == 403
            error = response.json()["errors"][0]
            assert error["type"] == "access-control"
            assert error["source"] == {"advertiserIds": "data/attributes/advertiserIds/0"}

    def test_a_filter_of_seventy_thousand_ids(self, api: ApiUser, other_api: ApiUser) -> None:
        """More ids than PostgreSQL takes parameters in one statement."""
        r1, r2 = create(api, retargeting(ADVERTISER, "r1"), retargeting(ADVERTISER, "r2"))
        [theirs] = create(other_api, retargeting(OTHER_ADVERTISER, "theirs"))
        wanted = [str(n) for n in range(10_000_000, 10_070_000)] + [r2, theirs]
        body = search(api, audienceSegmentIds=wanted)
        assert ([s["id"] for s in body["data"]], body["meta"]["totalItems"]) == ([r2], 1)
        assert search(api, audienceSegmentIds=[r1])["meta"]["totalItems"] == 1

    def test_many_unreachable_advertisers_are_listed_up_to_a_cap(self, api: ApiUser) -> None:
        wanted = [str(n) for n in range(1_000, 71_000)]
        response = api.post(SEARCH, {"data": {"attributes": {"advertiserIds": wanted}}})
        assert response.status_code == 403
        errors = response.json()["errors"]
        listed = RequestProblems.MAX_LISTED
        assert len(errors) == listed + 1
        assert errors[-1]["detail"] == f"{len(wanted) - listed} more problems were not listed"
        assert {(e["type"], e["code"]) for e in errors} == {
            ("access-control", "advertiser-access-denied")
        }

    def test_another_advertisers_segment_is_invisible(
        self, api: ApiUser, other_api: ApiUser
    ) -> None:
        [theirs] = create(other_api, retargeting(OTHER_ADVERTISER, "theirs"))
        assert search(api, audienceSegmentIds=[theirs])["data"] == []


class TestSearchPaging:
    def test_pages_cover_every_segment_once(self, api: ApiUser) -> None:
        ids = create(api, *(retargeting(ADVERTISER, f"s{i:02}") for i in range(23)))
        seen: list[str] = []
        offset = 0
        while True:
            body = search(api, f"?limit=5&offset={offset}")
            assert body["meta"] == {"limit": 5, "offset": offset, "totalItems": 23}
            seen.extend(r["id"] for r in body["data"])
            offset += 5
            if offset >= body["meta"]["totalItems"]:
                break
        assert seen == ids

    def test_limit_zero_counts_only(self, api: ApiUser) -> None:
        create(api, retargeting(ADVERTISER, "r"))
        body = search(api, "?limit=0")
        assert body["data"] == []
        assert body["meta"]["totalItems"] == 1

    def test_default_limit_is_50_and_maximum_100(self, api: ApiUser) -> None:
        create(api, *(retargeting(ADVERTISER, f"s{i}") for i in range(120)))
        assert len(search(api)["data"]) == 50
        assert len(search(api, "?limit=100")["data"]) == 100
        assert len(search(api, "?offset=100&limit=100")["data"]) == 20

    @pytest.mark.parametrize(
        ("query", "field", "code"),
        [
            ("?limit=101", "limit", "invalid-range"),
            ("?limit=-1", "limit", "invalid-range"),
            ("?limit=ten", "limit", "invalid"),
            ("?offset=-5", "offset", "invalid-range"),
            ("?offset=99999999999", "offset", "invalid-range"),
        ],
    )
    def test_bad_paging_parameters(self, api: ApiUser, query: str, field: str, code: str) -> None:
        response = api.post(f"{SEARCH}{query}", {})
        assert response.status_code == 400
        error = response.json()["errors"][0]
        assert error["code"] == code
        assert error["source"] == {field: field}
