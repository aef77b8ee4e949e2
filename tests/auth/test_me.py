"""GET /2025-01/advertisers/me and GET /2025-01/marketing-solutions/me."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.builders import add_advertiser, new_client
from tests.conftest import ApiUser


class TestListAdvertisers:
    def test_lists_the_advertisers_the_client_may_act_for(
        self, app: FastAPI, http: TestClient
    ) -> None:
        for advertiser_id, name in ((7, "Seven"), (8, "Eight"), (9, "Nine")):
            add_advertiser(app, advertiser_id, name)
        user = ApiUser(http, new_client(app, 9, 7))
        response = user.get("/2025-01/advertisers/me")
        assert response.status_code == 200
        assert response.json()["data"] == [
            {"id": "7", "type": "advertiser", "attributes": {"advertiserName": "Seven"}},
            {"id": "9", "type": "advertiser", "attributes": {"advertiserName": "Nine"}},
        ]

    def test_needs_a_token(self, http: TestClient) -> None:
        assert http.get("/2025-01/advertisers/me").status_code == 401


class TestGetCurrentApplication:
    def test_describes_the_calling_client(self, app: FastAPI, http: TestClient) -> None:
        add_advertiser(app, 7)
        user = ApiUser(http, new_client(app, 7, name="Campaign tool"))
        data = user.get("/2025-01/marketing-solutions/me").json()["data"]
        assert data["type"] == "Application"
        assert data["attributes"]["name"] == "Campaign tool"
        assert isinstance(data["attributes"]["applicationId"], int)
        assert data["attributes"]["criteoService"] == "MarketingSolutions"

    def test_read_only_clients_may_ask_too(self, app: FastAPI, http: TestClient) -> None:
        add_advertiser(app, 7)
        user = ApiUser(http, new_client(app, 7, read_only=True))
        assert user.get("/2025-01/marketing-solutions/me").status_code == 200
