"""Injected faults: which calls they strike, what each kind answers, counts and clearing."""

from __future__ import annotations

import random
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.builders import ManualClock, new_client
from tests.conftest import ADVERTISER, ApiUser
from tests.sandbox.conftest import Admin, problem

SEARCH = "/2025-01/marketing-solutions/audience-segments/search"
ME = "/2025-01/marketing-solutions/me"


def search(user: ApiUser, headers: dict[str, str] | None = None) -> Any:
    return user.http.post(SEARCH, json={}, headers=headers or user.headers())


def statuses(user: ApiUser, calls: int) -> list[int]:
    headers = user.headers()
    return [search(user, headers).status_code for _ in range(calls)]


class TestSequence:
    def test_the_next_calls_get_the_answers_in_order_then_none(
        self, admin: Admin, api: ApiUser
    ) -> None:
        admin.fault(answers=["503", "500", "429"])
        assert statuses(api, 5) == [503, 500, 429, 200, 200]
        [rule] = admin.faults()
        assert (rule["matched"], rule["fired"], rule["exhausted"]) == (3, 3, True)

    def test_rules_fire_in_the_order_they_were_added(self, admin: Admin, api: ApiUser) -> None:
        admin.fault(answers=["500"])
        admin.fault(answers=["503", "503"])
        assert statuses(api, 4) == [500, 503, 503, 200]

    def test_only_the_named_client(self, admin: Admin, app: FastAPI, api: ApiUser) -> None:
        other = ApiUser(api.http, new_client(app, ADVERTISER, name="other"))
        admin.fault(clientId=other.credentials.client_id, answers=["500", "500"])
        assert statuses(api, 2) == [200, 200]
        assert statuses(other, 3) == [500, 500, 200]

    def test_only_the_named_operation(self, admin: Admin, api: ApiUser) -> None:
        admin.fault(operation="GetCurrentApplication", answers=["503"])
        assert statuses(api, 1) == [200]
        assert api.get(ME).status_code == 503
        assert api.get(ME).status_code == 200

    def test_every_api_version_counts(self, admin: Admin, api: ApiUser) -> None:
        admin.fault(operation="SearchAudienceSegments", answers=["500", "500"])
        for version in ("2025-01", "2026-07"):
            path = f"/{version}/marketing-solutions/audience-segments/search"
            response = api.http.post(path, json={}, headers=api.headers())
            assert response.status_code == 500

    def test_token_requests_are_never_struck(self, admin: Admin, api: ApiUser) -> None:
        admin.fault(answers=["500"])
        api.token()
        assert statuses(api, 1) == [500]


class TestShare:
    def test_a_seeded_share_strikes_the_same_calls_every_time(
        self, admin: Admin, api: ApiUser
    ) -> None:
        admin.fault(share=0.5, answer="503", seed=7)
        first = statuses(api, 40)
        # What a generator with the same seed draws: the calls the rule strikes.
        draws = random.Random(7)
        assert first == [503 if draws.random() < 0.5 else 200 for _ in range(40)]
        admin.ok("DELETE", "/faults")
        admin.fault(share=0.5, answer="503", seed=7)
        assert statuses(api, 40) == first
        [rule] = admin.faults()
        assert rule["matched"] == 40
        assert rule["fired"] == first.count(503)
        assert 0 < rule["fired"] < 40

    def test_a_share_without_a_seed_reports_the_one_it_drew(
        self, admin: Admin, api: ApiUser
    ) -> None:
        rule = admin.fault(share=0.3, answer="500")
        assert isinstance(rule["seed"], int)
        struck = statuses(api, 30)
        draws = random.Random(rule["seed"])
        assert struck == [500 if draws.random() < 0.3 else 200 for _ in range(30)]

    def test_count_limits_a_share(self, admin: Admin, api: ApiUser) -> None:
        admin.fault(share=1, answer="500", count=2)
        assert statuses(api, 4) == [500, 500, 200, 200]
        [rule] = admin.faults()
        assert (rule["matched"], rule["fired"], rule["exhausted"]) == (2, 2, True)

    def test_share_zero_never_strikes(self, admin: Admin, api: ApiUser) -> None:
        admin.fault(share=0, answer="500")
        assert statuses(api, 5) == [200] * 5
        assert admin.faults()[0]["matched"] == 5


class TestKinds:
    def test_429_is_the_rate_limiter_s_answer(
        self, admin: Admin, api: ApiUser, clock: ManualClock
    ) -> None:
        admin.fault(answers=["429"])
        refused = search(api)
        assert refused.status_code == 429
        assert (problem(refused)["code"], problem(refused)["type"]) == (
            "rate-limit-exceeded",
            "quota",
        )
        now = int(clock.now().timestamp())
        window_end = (now // 60 + 1) * 60
        assert refused.headers["x-ratelimit-limit"] == "250"
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert refused.headers["x-ratelimit-reset"] == str(window_end)
        assert refused.headers["retry-after"] == str(window_end - now)

    def test_429_may_ask_for_a_longer_wait(
        self, admin: Admin, api: ApiUser, clock: ManualClock
    ) -> None:
        admin.fault(answers=["429"], retryAfterSeconds=120)
        refused = search(api)
        now = int(clock.now().timestamp())
        assert refused.headers["retry-after"] == "120"
        assert refused.headers["x-ratelimit-reset"] == str(now + 120)

    def test_500(self, admin: Admin, api: ApiUser) -> None:
        admin.fault(answers=["500"])
        failed = search(api)
        assert failed.status_code == 500
        assert (problem(failed)["code"], problem(failed)["type"]) == (
            "internal-error",
            "availability",
        )
        assert failed.headers["x-trace-id"] in problem(failed)["detail"]
        assert "retry-after" not in failed.headers

    def test_503_says_when_to_retry(self, admin: Admin, api: ApiUser) -> None:
        admin.fault(answers=["503", "503"], retryAfterSeconds=7)
        failed = search(api)
        assert failed.status_code == 503
        assert (problem(failed)["code"], problem(failed)["type"]) == (
            "service-unavailable",
            "availability",
        )
        assert failed.headers["retry-after"] == "7"
        admin.ok("DELETE", "/faults")
        admin.fault(answers=["503"])
        assert search(api).headers["retry-after"] == "1"

    def test_401_expired_is_what_an_expired_token_gets(
        self, admin: Admin, api: ApiUser, clock: ManualClock, app: FastAPI
    ) -> None:
        headers = api.headers()
        admin.fault(answers=["401-expired"])
        injected = search(api, headers)
        # The same token, really expired (past its lifetime and the grace period).
        clock.advance(seconds=app.state.settings.token_lifetime_seconds + 31)
        expired = search(api, headers)
        assert injected.status_code == expired.status_code == 401

        def same(body: dict[str, Any]) -> dict[str, Any]:
            [only] = body["errors"]
            return {k: v for k, v in only.items() if k != "traceId"}

        assert same(injected.json()) == same(expired.json())
        assert problem(injected)["code"] == "authorization-token-expired"

    def test_latency_delays_then_answers(
        self, admin: Admin, api: ApiUser, sleeps: list[float]
    ) -> None:
        admin.fault(answers=["latency", "latency"], delayMs=250)
        assert statuses(api, 3) == [200, 200, 200]
        assert sleeps == [0.25, 0.25]

    def test_a_slow_share(self, admin: Admin, api: ApiUser, sleeps: list[float]) -> None:
        admin.fault(share=1, answer="latency", delayMs=40, count=1)
        assert statuses(api, 2) == [200, 200]
        assert sleeps == [0.04]


class TestClearing:
    def test_delete_clears_every_rule(self, admin: Admin, api: ApiUser) -> None:
        admin.fault(answers=["500"])
        admin.fault(share=1, answer="503")
        assert admin.ok("DELETE", "/faults") == {"cleared": 2}
        assert admin.faults() == []
        assert statuses(api, 1) == [200]

    def test_a_reset_clears_them_too(self, admin: Admin, api: ApiUser) -> None:
        admin.fault(answers=["500"])
        assert admin.ok("POST", "/reset")["faults"] == 1
        assert admin.faults() == []
        assert statuses(api, 1) == [200]

    def test_listing_shows_the_rule_as_given(self, admin: Admin, api: ApiUser) -> None:
        rule = admin.fault(
            clientId=api.credentials.client_id,
            operation="SearchAudienceSegments",
            answers=["latency", "503"],
            delayMs=10,
            retryAfterSeconds=3,
        )
        [listed] = admin.faults()
        assert listed == rule
        assert listed["clientId"] == api.credentials.client_id
        assert listed["answers"] == ["latency", "503"]
        assert (listed["matched"], listed["fired"]) == (0, 0)


class TestValidation:
    @pytest.mark.parametrize(
        ("rule", "code", "member"),
        [
            ({}, "required-field", "answers"),
            ({"answers": []}, "invalid", "answers"),
            ({"answers": ["418"]}, "invalid", "answers"),
            ({"answers": ["500"], "share": 0.5, "answer": "500"}, "invalid", "share"),
            ({"share": 0.5}, "required-field", "answer"),
            ({"share": 1.5, "answer": "500"}, "invalid-range", "share"),
            ({"answers": ["500"], "count": 2}, "invalid", "count"),
            ({"answers": ["500"], "seed": 2}, "invalid", "seed"),
            ({"answers": ["latency"]}, "required-field", "delayMs"),
            ({"answers": ["latency"], "delayMs": 30_001}, "invalid-range", "delayMs"),
            ({"answers": ["500"], "delayMs": 10}, "invalid", "delayMs"),
            ({"answers": ["500"], "retryAfterSeconds": 10}, "invalid", "retryAfterSeconds"),
            ({"answers": ["500"], "operation": "SearchAudience"}, "unknown-operation", "operation"),
            ({"answers": ["500"], "clientId": "nobody"}, "unknown-client", "clientId"),
            ({"answers": ["500"], "anwsers": ["500"]}, "unknown-field", "anwsers"),
            ({"answers": "500"}, "invalid", "answers"),
        ],
    )
    def test_refused_with_the_member_named(
        self, admin: Admin, api: ApiUser, rule: dict[str, Any], code: str, member: str
    ) -> None:
        response = admin.call("POST", "/faults", json=rule)
        assert response.status_code == 400, response.text
        assert (problem(response)["code"], problem(response)["type"]) == (code, "validation")
        assert member in problem(response)["source"]
        assert admin.faults() == []

    def test_not_json(self, admin: Admin) -> None:
        response = admin.call(
            "POST", "/faults", content=b"{", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert problem(response)["code"] == "invalid-json"
        response = admin.call(
            "POST", "/faults", content=b"answers=500", headers={"Content-Type": "text/plain"}
        )
        assert response.status_code == 415

    def test_any_json_media_type_is_read(self, admin: Admin, api: ApiUser) -> None:
        response = admin.call(
            "POST",
            "/faults",
            content=b'{"answers": ["500"]}',
            headers={"Content-Type": "application/vnd.api+json; charset=utf-8"},
        )
        assert response.status_code == 201, response.text
        assert admin.faults()[0]["answers"] == ["500"]

    @pytest.mark.parametrize(
        ("content_type", "status", "code"),
        [
            ("text/plain", 415, "unsupported-media-type"),
            ("", 415, "unsupported-media-type"),
            ("application/json", 400, "required-field"),
        ],
    )
    def test_no_body(self, admin: Admin, content_type: str, status: int, code: str) -> None:
        """Read as the API reads a body: the media type first, then whether there is one."""
        headers = {"Content-Type": content_type} if content_type else {}
        response = admin.call("POST", "/faults", content=b"", headers=headers)
        assert response.status_code == status, response.text
        assert problem(response)["code"] == code

    def test_every_problem_at_once(self, admin: Admin, http: TestClient) -> None:
        response = admin.call("POST", "/faults", json={"share": 2, "delayMs": -1})
        assert response.status_code == 400
        assert {p["code"] for p in response.json()["errors"]} == {"invalid-range"}
        assert len(response.json()["errors"]) == 2


def test_every_503_says_when_to_retry(api: ApiUser) -> None:
    """Not only injected ones: sizes asked of a server without an index are a 503 too."""
    created = api.post(
        "/2025-01/marketing-solutions/audience-segments/create",
        {
            "data": [
                {"attributes": {"advertiserId": str(ADVERTISER), "name": "x", "contactList": {}}}
            ]
        },
    ).json()
    segment_id = created["data"][0]["id"]
    response = api.post(
        "/2025-01/marketing-solutions/audience-segments/compute-sizes",
        {"data": [{"id": segment_id}]},
    )
    assert response.status_code == 503
    assert problem(response)["code"] == "index-unavailable"
    assert int(response.headers["retry-after"]) > 0


class TestSameAsTheRealThing:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"sandbox": True, "rate_limit_per_minute": 2}

    def test_an_injected_429_reads_like_the_limiter_s(self, admin: Admin, api: ApiUser) -> None:
        headers = api.headers()
        admin.fault(answers=["429"])
        injected = search(api, headers)
        # Injected faults spend none of the budget: two calls go through, the third is refused.
        assert [search(api, headers).status_code for _ in range(2)] == [200, 200]
        refused = search(api, headers)
        assert injected.status_code == refused.status_code == 429

        def same(body: dict[str, Any]) -> dict[str, Any]:
            [only] = body["errors"]
            return {k: v for k, v in only.items() if k != "traceId"}

        assert same(injected.json()) == same(refused.json())
        assert "More than 2 calls this minute" in problem(refused)["detail"]
        for header in ("x-ratelimit-limit", "x-ratelimit-reset", "retry-after"):
            assert injected.headers[header] == refused.headers[header]
