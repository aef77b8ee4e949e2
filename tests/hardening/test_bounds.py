"""Hardening of bounded work: a request with huge in-market lists is refused or capped before
Reach looks every id up or lists a problem per id."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from fastapi import FastAPI

from reach.models import Brand
from reach.reference.repository import BrandRepository
from tests.builders import SEGMENTS, add_brand, item
from tests.conftest import ADVERTISER, ApiUser

# The default cap on brand ids and on interest ids per in-market segment.
MAX_IDS = 1000
# Problems listed per item before the rest are only counted.
LISTED = 50


@pytest.fixture
def brand_lookups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many brand ids each catalogue lookup of the request asked for."""
    asked: list[int] = []
    original = BrandRepository.existing_ids

    def spy(self: BrandRepository, ids: Iterable[int]) -> set[int]:
        wanted = set(ids)
        asked.append(len(wanted))
        return original(self, wanted)

    monkeypatch.setattr(BrandRepository, "existing_ids", spy)
    return asked


def unknown_brands(count: int) -> list[str]:
    return [str(90_000_000 + n) for n in range(count)]


def create_in_market(api: ApiUser, *items: dict[str, Any]) -> dict[str, Any]:
    response = api.post(f"{SEGMENTS}/create", {"data": list(items)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestInMarketBrandIds:
    def test_a_list_over_the_cap_is_one_problem_and_no_brand_is_looked_up(
        self, api: ApiUser, brand_lookups: list[int]
    ) -> None:
        body = create_in_market(
            api,
            item(
                ADVERTISER,
                "too many",
                inMarket={"country": "FR", "brandIds": unknown_brands(5 * MAX_IDS)},
            ),
        )
        assert body["data"] == []
        [problem] = body["errors"]
        assert problem["code"] == "invalid-range"
        assert problem["source"] == {"brandIds": "data/0/attributes/inMarket/brandIds"}
        assert str(MAX_IDS) in problem["detail"]
        assert sum(brand_lookups) == 0

    def test_unknown_brands_are_listed_up_to_fifty_then_counted(
        self, api: ApiUser, brand_lookups: list[int]
    ) -> None:
        body = create_in_market(
            api,
            item(
                ADVERTISER,
                "all unknown",
                inMarket={"country": "FR", "brandIds": unknown_brands(MAX_IDS)},
            ),
        )
        errors = body["errors"]
        assert len(errors) == LISTED + 1
        assert {e["code"] for e in errors} == {"brand-not-found"}
        assert errors[0]["source"] == {"brandIds": "data/0/attributes/inMarket/brandIds/0"}
        note = errors[-1]
        assert note["detail"].startswith(f"{MAX_IDS - LISTED} more problems")
        assert note["source"] == {"brandIds": f"data/0/attributes/inMarket/brandIds/{LISTED}"}
        # One lookup, of at most the cap's worth of ids.
        assert brand_lookups == [MAX_IDS]

    def test_the_other_items_of_the_call_are_still_checked_and_created(
        self, app: FastAPI, api: ApiUser, brand_lookups: list[int]
    ) -> None:
        add_brand(app, 7, "Known")
        body = create_in_market(
            api,
            item(
                ADVERTISER,
                "too many",
                inMarket={"country": "FR", "brandIds": unknown_brands(MAX_IDS + 1)},
            ),
            item(ADVERTISER, "fine", inMarket={"country": "FR", "brandIds": ["7"]}),
        )
        assert [s["attributes"]["name"] for s in body["data"]] == ["fine"]
        assert [e["source"] for e in body["errors"]] == [
            {"brandIds": "data/0/attributes/inMarket/brandIds"}
        ]
        assert brand_lookups == [1]

    def test_a_list_at_the_cap_of_known_brands_is_accepted(
        self, app: FastAPI, api: ApiUser
    ) -> None:
        with app.state.database.session(write=True) as session:
            session.add_all(Brand(id=n, name=f"Brand {n}") for n in range(1, MAX_IDS + 1))
        brand_ids = [str(n) for n in range(1, MAX_IDS + 1)]
        body = create_in_market(
            api, item(ADVERTISER, "many", inMarket={"country": "FR", "brandIds": brand_ids})
        )
        assert body["errors"] == []
        assert body["data"][0]["attributes"]["inMarket"]["brandIds"] == brand_ids


class TestInMarketInterestIds:
    def test_a_list_over_the_cap_is_one_problem(self, api: ApiUser) -> None:
        body = create_in_market(
            api,
            item(
                ADVERTISER,
                "too many",
                inMarket={"country": "FR", "interestIds": unknown_brands(MAX_IDS + 1)},
            ),
        )
        [problem] = body["errors"]
        assert problem["code"] == "invalid-range"
        assert problem["source"] == {"interestIds": "data/0/attributes/inMarket/interestIds"}


class TestUpdate:
    def test_an_update_over_the_cap_is_one_problem_and_no_brand_is_looked_up(
        self, app: FastAPI, api: ApiUser, brand_lookups: list[int]
    ) -> None:
        created = create_in_market(api, item(ADVERTISER, "m", inMarket={"country": "FR"}))
        segment_id = created["data"][0]["id"]
        brand_lookups.clear()
        response = api.patch(
            SEGMENTS,
            {
                "data": [
                    {
                        "id": segment_id,
                        "attributes": {"inMarket": {"brandIds": unknown_brands(5 * MAX_IDS)}},
                    }
                ]
            },
        )
        assert response.status_code == 200, response.text
        [problem] = response.json()["errors"]
        assert problem["code"] == "invalid-range"
        assert sum(brand_lookups) == 0
