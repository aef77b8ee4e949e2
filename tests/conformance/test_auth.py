"""Conformance of authentication, scopes, rate limiting and the two "who am I" operations."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from criteo_api_marketingsolutions_v2025_01.exceptions import ApiException

from tests.builders import Credentials
from tests.conformance.conftest import (
    ADVERTISER,
    OTHER_ADVERTISER,
    Names,
    ReachServer,
    Sdk,
    create_client,
    problem_body,
    segment,
)
from tests.server import reach, running_server

pytestmark = pytest.mark.conformance


class TestToken:
    def test_sdk_fetches_a_bearer_token_by_itself(self, sdk: Sdk) -> None:
        sdk.gateway.get_current_application()

        token, call = sdk.exchanges[0], sdk.exchanges[-1]
        assert (token.method, token.path, token.status) == ("POST", "/oauth2/token", 200)
        assert token.body["token_type"] == "Bearer"
        assert token.body["expires_in"] == 900
        assert isinstance(token.body["access_token"], str) and token.body["access_token"]
        # The SDK reads refresh_token unconditionally; client credentials give none.
        assert "refresh_token" in token.body
        assert sdk.client.get_refresh_token() is None
        assert (call.path, call.status) == ("/2025-01/marketing-solutions/me", 200)

    def test_wrong_secret_raises_401_invalid_client(
        self, reach_server: ReachServer, connect: Callable[[Credentials], Sdk]
    ) -> None:
        wrong = Credentials(reach_server.manager.client_id, "not-the-secret")
        sdk = connect(wrong)

        with pytest.raises(ApiException) as raised:
            sdk.gateway.get_current_application()

        assert raised.value.status == 401
        raw = raised.value.body
        assert "invalid_client" in (raw.decode() if isinstance(raw, bytes) else raw)
        body = problem_body(raised.value)
        assert body["error"] == "invalid_client"
        assert [(p["type"], p["code"]) for p in body["errors"]] == [
            ("authentication", "invalid-client")
        ]
        assert sdk.api_calls() == []

    def test_unknown_client_raises_401_invalid_client(
        self, connect: Callable[[Credentials], Sdk]
    ) -> None:
        sdk = connect(Credentials("no-such-client", "no-such-secret"))

        with pytest.raises(ApiException) as raised:
            sdk.advertiser.list_advertisers()

        assert raised.value.status == 401
        assert problem_body(raised.value)["error"] == "invalid_client"

    def test_sdk_reuses_its_token_between_calls(self, sdk: Sdk) -> None:
        sdk.gateway.get_current_application()
        sdk.advertiser.list_advertisers()

        assert [e.path for e in sdk.exchanges] == [
            "/oauth2/token",
            "/2025-01/marketing-solutions/me",
            "/2025-01/advertisers/me",
        ]

    def test_revoked_client_is_refused_at_once(
        self, reach_server: ReachServer, connect: Callable[[Credentials], Sdk]
    ) -> None:
        credentials = create_client(reach_server.env, "conformance-revoked", ADVERTISER)
        sdk = connect(credentials)
        sdk.gateway.get_current_application()

        reach(reach_server.env, "clients", "revoke", credentials.client_id)

        # The token the SDK holds stops working...
        with pytest.raises(ApiException) as held:
            sdk.gateway.get_current_application()
        assert held.value.status == 401
        assert [(p["type"], p["code"]) for p in problem_body(held.value)["errors"]] == [
            ("authentication", "authorization-token-invalid")
        ]
        # ...and no new one is issued.
        with pytest.raises(ApiException) as fresh:
            connect(credentials).gateway.get_current_application()
        assert fresh.value.status == 401
        assert problem_body(fresh.value)["error"] == "invalid_client"


class TestTraceId:
    def test_every_answer_carries_the_trace_id_of_its_problems(
        self, sdk: Sdk, other_sdk: Sdk, names: Names
    ) -> None:
        taken = names("taken")
        sdk.create(segment(taken, contact_list={}), segment(taken, contact_list={}))
        with pytest.raises(ApiException):
            other_sdk.search(advertiser_ids=[ADVERTISER])

        exchanges = sdk.exchanges + other_sdk.exchanges
        trace_ids = [e.headers.get("x-trace-id") for e in exchanges]
        assert all(trace_ids), "an answer without an x-trace-id header"
        assert len(set(trace_ids)) == len(trace_ids), "two answers share a trace id"
        for exchange in exchanges:
            for problem in exchange.body.get("errors") or []:
                assert problem["traceId"].startswith(exchange.headers["x-trace-id"] + "-")


class TestGetCurrentApplication:
    def test_names_the_calling_client(self, sdk: Sdk, reader_sdk: Sdk) -> None:
        manager = sdk.gateway.get_current_application()
        reader = reader_sdk.gateway.get_current_application()

        assert manager.data.type == "Application"
        assert manager.data.attributes.name == "conformance"
        assert manager.data.attributes.criteo_service == "MarketingSolutions"
        assert reader.data.attributes.name == "conformance-reader"
        assert isinstance(manager.data.attributes.application_id, int)
        assert manager.data.attributes.application_id != reader.data.attributes.application_id
        assert manager.errors == [] and manager.warnings == []


class TestListAdvertisers:
    def test_lists_only_the_advertisers_granted(self, sdk: Sdk, other_sdk: Sdk) -> None:
        mine = sdk.advertiser.list_advertisers()
        theirs = other_sdk.advertiser.list_advertisers()

        assert [(a.id, a.type, a.attributes.advertiser_name) for a in mine.data] == [
            (ADVERTISER, "advertiser", "A")
        ]
        assert [(a.id, a.attributes.advertiser_name) for a in theirs.data] == [
            (OTHER_ADVERTISER, "B")
        ]


class TestScopes:
    def test_read_only_client_cannot_create(self, reader_sdk: Sdk, names: Names) -> None:
        with pytest.raises(ApiException) as raised:
            reader_sdk.create(segment(names("refused"), contact_list={}))

        assert raised.value.status == 403
        problems = problem_body(raised.value)["errors"]
        assert [(p["type"], p["code"]) for p in problems] == [
            ("authorization", "insufficient-scope")
        ]

    def test_read_only_client_can_search_and_list_in_market(self, reader_sdk: Sdk) -> None:
        found = reader_sdk.search(advertiser_ids=[ADVERTISER], types=["Behavioral"])
        brands = reader_sdk.audience.get_audience_segments_in_market_brands(ADVERTISER, "FR")

        assert found.meta.total_items == 1
        assert [b.id for b in brands.data] == ["1"]

    def test_read_only_client_cannot_delete(self, reader_sdk: Sdk, sdk: Sdk, names: Names) -> None:
        created = sdk.create_one(segment(names("kept"), contact_list={}))

        with pytest.raises(ApiException) as raised:
            reader_sdk.delete(created.id)

        assert raised.value.status == 403
        assert problem_body(raised.value)["errors"][0]["code"] == "insufficient-scope"
        assert sdk.find(created.id).attributes.name == created.attributes.name


class TestRateLimit:
    def test_sdk_raises_429_with_rate_limit_headers(self, reach_server: ReachServer) -> None:
        env = reach_server.env | {"REACH_RATE_LIMIT_PER_MINUTE": "1"}
        log = reach_server.data_dir / "rate-limited-server.log"
        with running_server(env, log) as server:
            sdk = Sdk(reach_server.manager, server.url)
            try:
                # One call per minute is allowed: of three quick calls at least one is refused,
                # whichever minute they fall in. A POST: the SDK's HTTP library waits out a
                # Retry-After and retries GET, PUT and DELETE calls by itself.
                refused = None
                for _ in range(3):
                    try:
                        sdk.search()
                    except ApiException as exc:
                        refused = exc
                        break
            finally:
                sdk.close()

        assert refused is not None, "three calls at a limit of one per minute all succeeded"
        assert refused.status == 429
        headers = {k.lower(): v for k, v in dict(refused.headers).items()}
        assert headers["x-ratelimit-limit"] == "1"
        assert headers["x-ratelimit-remaining"] == "0"
        # Epoch seconds of the end of the current one-minute window.
        assert headers["x-ratelimit-reset"].isdigit()
        assert int(headers["x-ratelimit-reset"]) % 60 == 0
        assert 0 <= int(headers["retry-after"]) <= 60
        problems = problem_body(refused)["errors"]
        assert [(p["type"], p["code"]) for p in problems] == [("quota", "rate-limit-exceeded")]
        allowed = [e for e in sdk.api_calls() if e.status == 200]
        assert allowed, "the first call of the minute must pass"
        assert allowed[0].headers["x-ratelimit-limit"] == "1"
        assert allowed[0].headers["x-ratelimit-remaining"] == "0"
