"""GET .../audience-segments/in-market-brands and .../in-market-interests."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from tests.builders import SEGMENTS, add_brand, new_client
from tests.conftest import ADVERTISER, OTHER_ADVERTISER, ApiUser

BRANDS = f"{SEGMENTS}/in-market-brands"
INTERESTS = f"{SEGMENTS}/in-market-interests"


def query(advertiser: object = ADVERTISER, country: str = "FR") -> dict[str, Any]:
    return {"advertiser-id": str(advertiser), "country": country}


class TestInMarketBrands:
    def test_lists_the_catalogue(self, app: FastAPI, api: ApiUser) -> None:
        add_brand(app, 2, "Adidas")
        add_brand(app, 1, "Nike")
        response = api.get(BRANDS, params=query())
        assert response.status_code == 200
        # No index is built in these tests: sizes are null, and a warning says why.
        assert response.json()["data"] == [
            {
                "id": "1",
                "type": "InMarketAudienceSegmentBrand",
                "attributes": {"name": "Nike", "size": None},
            },
            {
                "id": "2",
                "type": "InMarketAudienceSegmentBrand",
                "attributes": {"name": "Adidas", "size": None},
            },
        ]
        assert [w["code"] for w in response.json()["warnings"]] == ["index-unavailable"]

    def test_read_only_clients_may_list(self, app: FastAPI, api: ApiUser) -> None:
        reader = ApiUser(api.http, new_client(app, ADVERTISER, read_only=True, name="r"))
        assert reader.get(BRANDS, params=query()).status_code == 200


class TestInMarketInterests:
    def test_lists_the_google_taxonomy_with_parents(self, api: ApiUser) -> None:
        data = api.get(INTERESTS, params=query(country="us")).json()["data"]
        assert len(data) == 5595
        by_id = {d["id"]: d for d in data}
        assert by_id["1"] == {
            "id": "1",
            "type": "InMarketAudienceSegmentInterest",
            "attributes": {"size": None},
        }
        assert by_id["3237"]["attributes"] == {"parentId": "1", "size": None}


@pytest.mark.parametrize("path", [BRANDS, INTERESTS])
class TestInMarketQueryChecks:
    def test_both_parameters_are_required(self, api: ApiUser, path: str) -> None:
        response = api.get(path)
        assert response.status_code == 400
        assert [e["source"] for e in response.json()["errors"]] == [
            {"advertiser-id": "advertiser-id"},
            {"country": "country"},
        ]

    def test_country_must_exist(self, api: ApiUser, path: str) -> None:
        response = api.get(path, params=query(country="XX"))
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "invalid-country"
        assert response.json()["errors"][0]["source"] == {"country": "country"}

    @pytest.mark.parametrize("advertiser", [OTHER_ADVERTISER, 999, "abc"])
    def test_advertiser_must_be_reachable(
        self, api: ApiUser, path: str, advertiser: object
    ) -> None:
        response = api.get(path, params=query(advertiser))
        assert response.status_code == 403
        assert response.json()["errors"][0]["type"] == "access-control"
