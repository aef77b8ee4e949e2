"""Access checks on every call: bearer token, expiry, revocation, scope and rate limit."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from fastapi import FastAPI

from tests.builders import SEGMENTS, ManualClock, new_client, retargeting, revoke
from tests.conftest import ADVERTISER, ApiUser

SEARCH = f"{SEGMENTS}/search"
CREATE = f"{SEGMENTS}/create"


def problem(response: Any) -> dict[str, Any]:
    body = response.json()
    assert "detail" not in body or isinstance(body.get("errors"), list)
    first: dict[str, Any] = body["errors"][0]
    return first


class TestBearerToken:
    def test_no_token(self, api: ApiUser) -> None:
        response = api.http.post(SEARCH, json={})
        assert response.status_code == 401
        assert problem(response)["code"] == "authorization-token-missing"
        assert problem(response)["type"] == "authentication"

    @pytest.mark.parametrize(
        "header",
        ["Bearer not-a-token", "Bearer ", "Basic abc", "token", "Bearer a.b.c"],
    )
    def test_bad_token(self, api: ApiUser, header: str) -> None:
        response = api.http.post(SEARCH, json={}, headers={"Authorization": header})
        assert response.status_code == 401
        assert problem(response)["code"] == "authorization-token-invalid"

    def test_token_signed_with_another_key(self, api: ApiUser) -> None:
        forged = jwt.encode(
            {"iss": "reach", "sub": api.credentials.client_id, "exp": 4_000_000_000, "scope": ""},
            "another-key-" + "y" * 40,
            algorithm="HS256",
        )
        response = api.http.post(SEARCH, json={}, headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401
        assert problem(response)["code"] == "authorization-token-invalid"

    def test_expired_token(self, api: ApiUser, clock: ManualClock) -> None:
        headers = api.headers()
        # Valid for expires_in (900 s) plus the grace period (30 s) the official SDK relies on:
        # it keeps a token until 15 s after expires_in.
        clock.advance(seconds=929)
        assert api.http.post(SEARCH, json={}, headers=headers).status_code == 200
        clock.advance(seconds=1)
        response = api.http.post(SEARCH, json={}, headers=headers)
        assert response.status_code == 401
        assert problem(response)["code"] == "authorization-token-expired"

    def test_time_is_the_servers_clock_not_the_wall_clock(
        self, api: ApiUser, clock: ManualClock
    ) -> None:
        # A server whose clock runs ahead of the wall clock still accepts its own tokens.
        clock.advance(days=400)
        assert api.post(SEARCH, {}).status_code == 200

    def test_revoked_client_token_stops_working(self, app: FastAPI, api: ApiUser) -> None:
        headers = api.headers()
        assert api.http.post(SEARCH, json={}, headers=headers).status_code == 200
        revoke(app, api.credentials.client_id)
        response = api.http.post(SEARCH, json={}, headers=headers)
        assert response.status_code == 401
        assert problem(response)["code"] == "authorization-token-invalid"

    def test_authentication_comes_before_body_checks(self, api: ApiUser) -> None:
        response = api.http.post(
            SEARCH, content=b"{not json", headers={"Content-Type": "text/plain"}
        )
        assert response.status_code == 401


class TestScopes:
    @pytest.fixture
    def reader(self, app: FastAPI, api: ApiUser) -> ApiUser:
        return ApiUser(api.http, new_client(app, ADVERTISER, read_only=True, name="reader"))

    def test_read_only_client_can_search(self, reader: ApiUser) -> None:
        assert reader.post(SEARCH, {}).status_code == 200

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("POST", CREATE, {"data": [retargeting(ADVERTISER, "x")]}),
            ("PATCH", SEGMENTS, {"data": [{"id": "1", "attributes": {"name": "y"}}]}),
            ("POST", f"{SEGMENTS}/delete", {"data": [{"id": "1"}]}),
        ],
    )
    def test_read_only_client_cannot_manage(
        self, reader: ApiUser, api: ApiUser, method: str, path: str, body: Any
    ) -> None:
        response = reader.call(method, path, body)
        assert response.status_code == 403
        assert problem(response)["type"] == "authorization"
        assert problem(response)["code"] == "insufficient-scope"
        assert api.post(SEARCH, {}).json()["meta"]["totalItems"] == 0


class TestRateLimit:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"rate_limit_per_minute": 3}

    def test_headers_count_down_then_429_until_the_next_minute(
        self, api: ApiUser, clock: ManualClock
    ) -> None:
        headers = api.headers()
        window_end = (int(clock.now().timestamp()) // 60 + 1) * 60
        for remaining in (2, 1, 0):
            response = api.http.post(SEARCH, json={}, headers=headers)
            assert response.status_code == 200
            assert response.headers["x-ratelimit-limit"] == "3"
            assert response.headers["x-ratelimit-remaining"] == str(remaining)
            assert response.headers["x-ratelimit-reset"] == str(window_end)
        refused = api.http.post(SEARCH, json={}, headers=headers)
        assert refused.status_code == 429
        assert problem(refused)["type"] == "quota"
        assert refused.headers["x-ratelimit-remaining"] == "0"
        # Retry-After: the whole seconds until the window resets.
        now = int(clock.now().timestamp())
        assert refused.headers["retry-after"] == str(window_end - now)
        clock.advance(seconds=window_end - now - 1)
        assert api.http.post(SEARCH, json={}, headers=headers).headers["retry-after"] == "1"
        clock.advance(seconds=60)
        assert api.http.post(SEARCH, json={}, headers=headers).status_code == 200

    def test_only_refusals_say_when_to_retry(self, api: ApiUser) -> None:
        assert "retry-after" not in api.post(SEARCH, {}).headers
        assert "retry-after" not in api.http.post(SEARCH, json={}).headers

    def test_token_requests_do_not_count(self, api: ApiUser) -> None:
        for _ in range(5):
            api.token()
        assert api.post(SEARCH, {}).status_code == 200

    def test_each_client_has_its_own_budget(self, app: FastAPI, api: ApiUser) -> None:
        other = ApiUser(api.http, new_client(app, ADVERTISER, name="second"))
        headers = api.headers()
        for _ in range(4):
            api.http.post(SEARCH, json={}, headers=headers)
        assert other.post(SEARCH, {}).status_code == 200


class TestTraceId:
    def test_every_answer_has_a_trace_id_and_problems_extend_it(self, api: ApiUser) -> None:
        ok = api.post(SEARCH, {})
        assert len(ok.headers["x-trace-id"]) == 32
        failed = api.http.post(SEARCH, json={})
        assert problem(failed)["traceId"] == failed.headers["x-trace-id"] + "-1"
        assert problem(failed)["instance"] == SEARCH
        assert ok.headers["x-trace-id"] != failed.headers["x-trace-id"]
