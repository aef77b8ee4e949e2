"""Every API version Reach serves answers every operation; other versions get a Criteo problem."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from reach.contract.spec import _versioned
from reach.versions import API_VERSIONS
from tests.conftest import ADVERTISER, ApiUser
from tests.openapi import operations, spec


def _concrete(pattern: re.Pattern[str], version: str) -> str:
    """A callable path of a spec operation under ``version``, its ids filled in."""
    path = pattern.pattern.strip("^$").replace("[^/]+", "1")
    return path.replace("/2025-01/", f"/{version}/", 1)


def test_the_served_versions() -> None:
    assert API_VERSIONS == (
        "2025-01",
        "2025-04",
        "2025-07",
        "2025-10",
        "2026-01",
        "2026-07",
        "2027-01",
    )
    assert len(operations()) == 20


@pytest.mark.parametrize("version", API_VERSIONS)
def test_every_operation_answers_under_every_version(api: ApiUser, version: str) -> None:
    for operation in operations():
        path = _concrete(operation.pattern, version)
        body: Any = None if operation.method in ("GET", "DELETE") else {"data": []}
        response = api.call(operation.method, path, body)
        # An answer of the operation itself: a result or a problem of its own, never "no route".
        codes = [e["code"] for e in response.json().get("errors", [])]
        assert "not-found" not in codes, (operation.operation_id, path, response.text)
        assert "api-version-not-supported" not in codes, (operation.operation_id, path)
        assert response.status_code != 405, (operation.operation_id, path)


@pytest.mark.parametrize(
    "path", ["/2024-10/marketing-solutions/me", "/2099-01/advertisers/me", "/preview/audiences"]
)
def test_an_unserved_version_is_a_criteo_problem(api: ApiUser, path: str) -> None:
    response = api.call("GET", path)
    assert response.status_code == 404
    body = response.json()
    (problem,) = body["errors"]
    assert problem["code"] == "api-version-not-supported"
    assert problem["traceId"].startswith(response.headers["x-trace-id"])
    assert all(version in problem["detail"] for version in API_VERSIONS)


def test_a_path_of_no_version_is_not_found(http: TestClient) -> None:
    response = http.get("/marketing-solutions/me")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not-found"


def test_me_says_which_versions_are_served(app: FastAPI, api: ApiUser) -> None:
    for version in ("2025-01", "2027-01"):
        answer = api.get(f"/{version}/marketing-solutions/me").json()
        description = answer["data"]["attributes"]["description"]
        assert f"called as API {version}" in description
        assert ", ".join(API_VERSIONS) in description


class TestOlderContactListPath:
    """``/{version}/audiences/{id}/contactlist`` behaves as ``.../contact-list``."""

    @staticmethod
    def new_list(api: ApiUser, name: str) -> str:
        created = api.post(
            "/2026-07/marketing-solutions/audience-segments/create",
            {
                "data": [
                    {
                        "attributes": {
                            "advertiserId": str(ADVERTISER),
                            "name": name,
                            "contactList": {},
                        }
                    }
                ]
            },
        ).json()
        segment_id: str = created["data"][0]["id"]
        return segment_id

    @staticmethod
    def amendment(identifiers: list[str]) -> Any:
        return {
            "data": {
                "type": "ContactlistAmendment",
                "attributes": {
                    "operation": "add",
                    "identifierType": "email",
                    "identifiers": identifiers,
                },
            }
        }

    @staticmethod
    def comparable(response: Any) -> tuple[int, Any]:
        body = response.json()
        data = body.get("data")
        if isinstance(data, dict) and "attributes" in data:
            data["attributes"].pop("requestDate", None)
            data["attributes"].pop("contactListId", None)
        problems = [(p["code"], p["type"], p.get("source")) for p in body["errors"]]
        return response.status_code, (data, problems)

    def test_same_answers_and_errors(self, api: ApiUser) -> None:
        first, second = self.new_list(api, "new path"), self.new_list(api, "old path")
        new = "/2026-07/marketing-solutions/audience-segments/{}/contact-list"
        old = "/2026-07/audiences/{}/contactlist"
        bodies = [
            self.amendment(["a@example.com", "b@example.com", "nope"]),
            {"data": {"attributes": {"operation": "add"}}},
            {"data": {"attributes": {"operation": "delete", "identifiers": []}}},
        ]
        for body in bodies:
            assert self.comparable(api.patch(new.format(first), body)) == self.comparable(
                api.patch(old.format(second), body)
            )
        for segment in ("999999", "abc"):
            assert self.comparable(api.patch(new.format(segment), bodies[0])) == self.comparable(
                api.patch(old.format(segment), bodies[0])
            )
        stats = "/2026-07/marketing-solutions/audience-segments/{}/contact-list/statistics"
        assert (
            api.get(stats.format(first)).json()["data"]["attributes"]["numberOfIdentifiers"]
            == api.get(stats.format(second)).json()["data"]["attributes"]["numberOfIdentifiers"]
            == 2
        )
        wiped = api.call("DELETE", old.format(second))
        assert wiped.status_code == 200
        assert wiped.json()["data"]["id"] == second
        assert (
            api.get(stats.format(second)).json()["data"]["attributes"]["numberOfIdentifiers"] == 0
        )
        assert api.call("GET", old.format(second)).status_code == 405


class TestOneRateLimitForBothPaths:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"rate_limit_per_minute": 3}

    def test_calls_on_either_path_count_together(self, api: ApiUser) -> None:
        amendment = TestOlderContactListPath.amendment
        segment = TestOlderContactListPath.new_list(api, "limited")
        api.patch(f"/2025-10/audiences/{segment}/contactlist", amendment(["a@b.co"]))
        last = api.patch(
            f"/2025-10/marketing-solutions/audience-segments/{segment}/contact-list",
            amendment(["a@b.co"]),
        )
        assert last.headers["x-ratelimit-remaining"] == "0"
        refused = api.patch(f"/2025-10/audiences/{segment}/contactlist", amendment([]))
        assert refused.status_code == 429


class TestServedContract:
    def test_openapi_of_each_version(self, http: TestClient) -> None:
        for version in API_VERSIONS:
            served = http.get(f"/openapi.json?version={version}").json()
            assert served["info"]["version"] == version
            assert served["servers"] == [{"url": "http://testserver"}]
            flows = served["components"]["securitySchemes"]["oauth"]["flows"]
            assert flows["clientCredentials"]["tokenUrl"] == "http://testserver/oauth2/token"
            official = spec()
            assert len(served["paths"]) == len(official["paths"])
            for path, item in official["paths"].items():
                assert served["paths"][path.replace("/2025-01/", f"/{version}/")] == item
            assert served["components"]["schemas"] == official["components"]["schemas"]

    def test_each_caller_s_host_is_served_and_not_kept(self, http: TestClient) -> None:
        for host in ("reach.example:8443", "other.example"):
            served = http.get("/openapi.json", headers={"Host": host}).json()
            assert served["servers"] == [{"url": f"http://{host}"}]
        assert _versioned.cache_info().currsize <= len(API_VERSIONS)

    def test_the_newest_by_default_and_a_problem_for_others(self, http: TestClient) -> None:
        assert http.get("/openapi.json").json()["info"]["version"] == API_VERSIONS[-1]
        refused = http.get("/openapi.json?version=2019-01")
        assert refused.status_code == 404
        assert refused.json()["errors"][0]["code"] == "api-version-not-supported"

    def test_docs_render_it_without_a_cdn(self, http: TestClient) -> None:
        page = http.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        scripts = re.findall(r'src="([^"]+)"', page.text)
        assert scripts
        for script in scripts:
            assert script.startswith("/docs/assets/")
            assert http.get(script).status_code == 200
        for version in API_VERSIONS:
            assert f"/openapi.json?version={version}" in page.text
