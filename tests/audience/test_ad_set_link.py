"""PUT /2025-01/marketing-solutions/ad-sets/{ad-set-id}/audience."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from tests.audience.conftest import found, post_audiences
from tests.builders import add_ad_set, audience, leaf, new_client
from tests.conftest import ADVERTISER, OTHER_ADVERTISER, ApiUser

LINK = "/2025-01/marketing-solutions/ad-sets/{}/audience"


def put(user: ApiUser, ad_set: object, body: Any) -> Any:
    return user.call("PUT", LINK.format(ad_set), body)


def link_body(audience_id: str | None) -> dict[str, Any]:
    return {"data": {"type": "AdSetAudienceLink", "attributes": {"audienceId": audience_id}}}


@pytest.fixture
def audiences(app: FastAPI, api: ApiUser, seg: list[str]) -> list[str]:
    add_ad_set(app, 1, ADVERTISER)
    add_ad_set(app, 2, ADVERTISER)
    add_ad_set(app, 3, OTHER_ADVERTISER)
    body = post_audiences(
        api,
        "/create",
        audience(ADVERTISER, "a", leaf(seg[0])),
        audience(ADVERTISER, "b", leaf(seg[1])),
    )
    return [r["id"] for r in body["data"]]


class TestUpdateAdSetAudience:
    def test_link_relink_unlink(self, api: ApiUser, audiences: list[str]) -> None:
        a, b = audiences
        response = put(api, 1, link_body(a))
        assert response.status_code == 200
        assert response.json()["data"] == {
            "id": "1",
            "type": "AdSetAudienceLink",
            "attributes": {"audienceId": a},
        }
        put(api, 2, link_body(a))
        assert found(api, audienceIds=[a])[0]["attributes"]["adSetIds"] == ["1", "2"]
        put(api, 1, link_body(b))
        assert found(api, audienceIds=[a])[0]["attributes"]["adSetIds"] == ["2"]
        assert found(api, audienceIds=[b])[0]["attributes"]["adSetIds"] == ["1"]
        unlinked = put(api, 2, link_body(None))
        assert unlinked.json()["data"]["attributes"] == {"audienceId": None}
        assert found(api, audienceIds=[a])[0]["attributes"]["adSetIds"] == []

    def test_unknown_or_foreign_ad_set(self, api: ApiUser, audiences: list[str]) -> None:
        for ad_set in (3, 404, "x"):
            response = put(api, ad_set, link_body(audiences[0]))
            assert response.status_code == 404
            assert response.json()["errors"][0]["code"] == "ad-set-not-found"

    def test_unknown_audience(self, api: ApiUser, audiences: list[str]) -> None:
        response = put(api, 1, link_body("123456789"))
        assert response.status_code == 404
        error = response.json()["errors"][0]
        assert (error["code"], error["source"]) == (
            "audience-not-found",
            {"audienceId": "data/attributes/audienceId"},
        )

    def test_audience_and_ad_set_must_share_the_advertiser(
        self, app: FastAPI, api: ApiUser, other_api: ApiUser, audiences: list[str]
    ) -> None:
        both = ApiUser(api.http, new_client(app, ADVERTISER, OTHER_ADVERTISER, name="both"))
        response = put(both, 3, link_body(audiences[0]))
        assert response.status_code == 400
        assert response.json()["errors"][0]["source"] == {
            "audienceId": "data/attributes/audienceId"
        }

    def test_audience_id_must_be_given(self, api: ApiUser, audiences: list[str]) -> None:
        bodies: list[dict[str, Any]] = [{"data": {"attributes": {}}}, {"data": {}}, {}]
        for body in bodies:
            response = put(api, 1, body)
            assert response.status_code == 400
            assert response.json()["errors"][0]["code"] == "required-field"

    def test_body_id_must_match_the_path(self, api: ApiUser, audiences: list[str]) -> None:
        body = link_body(audiences[0])
        body["data"]["id"] = "2"
        assert put(api, 1, body).status_code == 400
        body["data"]["id"] = "1"
        assert put(api, 1, body).status_code == 200

    def test_needs_the_campaign_scope(
        self, app: FastAPI, api: ApiUser, audiences: list[str]
    ) -> None:
        reader = ApiUser(api.http, new_client(app, ADVERTISER, read_only=True, name="reader"))
        response = put(reader, 1, link_body(audiences[0]))
        assert response.status_code == 403
        assert response.json()["errors"][0]["code"] == "insufficient-scope"
