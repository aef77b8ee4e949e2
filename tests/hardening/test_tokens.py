"""Hardening of tokens: rotation ends a client's earlier tokens, the token endpoint and bad bearer
tokens are rate-limited, and a token in the URL is refused without being echoed or journalled."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from reach.config import Settings
from tests.builders import (
    Credentials,
    ManualClock,
    auth_service,
    grant_consent,
)
from tests.conftest import ADVERTISER, ApiUser

TOKEN = "/oauth2/token"
ME = "/2025-01/advertisers/me"
REDIRECT = "https://app.example/callback"
# The limits these tests set, far below the defaults, so that few calls reach them.
CLIENT_FAILURES = 4
ADDRESS_FAILURES = 6
INVALID_TOKENS = 5


def rotate(app: FastAPI, client_id: str, new_secret: str | None = None) -> Credentials:
    """``reach clients rotate``: the service call the command makes."""
    with app.state.database.session(write=True) as session:
        issued = auth_service(app, session).rotate_secret(client_id, new_secret=new_secret)
    return Credentials(issued.client_id, issued.client_secret, issued.advertisers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def credentials_form(client_id: str, secret: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}


def problem(response: Any) -> dict[str, Any]:
    first: dict[str, Any] = response.json()["errors"][0]
    return first


def assert_rate_limited(response: Any) -> None:
    assert response.status_code == 429, response.text
    assert (problem(response)["type"], problem(response)["code"]) == (
        "quota",
        "rate-limit-exceeded",
    )
    assert int(response.headers["retry-after"]) >= 1


class TestRotationEndsEarlierTokens:
    def test_a_token_issued_before_rotate_is_refused_at_once(
        self, app: FastAPI, api: ApiUser
    ) -> None:
        before = api.token()
        assert api.http.get(ME, headers=bearer(before)).status_code == 200

        api.credentials = rotate(app, api.credentials.client_id)

        refused = api.http.get(ME, headers=bearer(before))
        assert refused.status_code == 401, "a token issued before the rotation still works"
        assert problem(refused)["code"] == "authorization-token-invalid"
        assert "rotated" in problem(refused)["detail"]
        assert api.get(ME).status_code == 200

    def test_rotating_twice_ends_the_tokens_of_each_earlier_secret(
        self, app: FastAPI, api: ApiUser
    ) -> None:
        first = api.token()
        api.credentials = rotate(app, api.credentials.client_id)
        second = api.token()
        api.credentials = rotate(app, api.credentials.client_id)
        third = api.token()

        assert [
            api.http.get(ME, headers=bearer(t)).status_code for t in (first, second, third)
        ] == [
            401,
            401,
            200,
        ]

    def test_the_access_tokens_of_a_consent_end_and_its_refresh_token_needs_the_new_secret(
        self, app: FastAPI, api: ApiUser
    ) -> None:
        creds = api.credentials
        code = grant_consent(app, creds.client_id, ADVERTISER, redirect_uri=REDIRECT).code
        issued = api.http.post(
            TOKEN,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
            },
        ).json()
        assert api.http.get(ME, headers=bearer(issued["access_token"])).status_code == 200

        rotated = rotate(app, creds.client_id)

        assert api.http.get(ME, headers=bearer(issued["access_token"])).status_code == 401
        with_old = api.http.post(
            TOKEN,
            data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}
            | credentials_form(creds.client_id, creds.client_secret),
        )
        assert with_old.status_code == 401
        assert with_old.json()["error"] == "invalid_client"
        # The consent lives on: its refresh token, with the new secret, gives a working token.
        with_new = api.http.post(
            TOKEN,
            data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}
            | credentials_form(rotated.client_id, rotated.client_secret),
        )
        assert with_new.status_code == 200, with_new.text
        assert api.http.get(ME, headers=bearer(with_new.json()["access_token"])).status_code == 200

    def test_rotating_to_the_same_chosen_secret_keeps_the_tokens(
        self, app: FastAPI, api: ApiUser
    ) -> None:
        # `reach demo` run again with a chosen secret "rotates" to the secret the client has.
        chosen = "a-chosen-secret-of-the-demo"
        api.credentials = rotate(app, api.credentials.client_id, new_secret=chosen)
        held = api.token()

        rotate(app, api.credentials.client_id, new_secret=chosen)

        assert api.http.get(ME, headers=bearer(held)).status_code == 200

    def test_a_token_without_the_generation_claim_ends_at_the_first_rotation(
        self, app: FastAPI, api: ApiUser
    ) -> None:
        """A token issued by an earlier Reach (without the claim) works until the first
        rotation, like a token of the client's first secret."""
        claims = jwt.decode(api.token(), options={"verify_signature": False})
        legacy = jwt.encode(
            {k: v for k, v in claims.items() if not k.startswith("reach_")},
            app.state.signer._key,
            algorithm="HS256",
        )
        assert api.http.get(ME, headers=bearer(legacy)).status_code == 200

        rotate(app, api.credentials.client_id)

        assert api.http.get(ME, headers=bearer(legacy)).status_code == 401


class TestTokenEndpointLimits:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {
            "token_failures_per_client_per_minute": CLIENT_FAILURES,
            "token_failures_per_address_per_minute": ADDRESS_FAILURES,
        }

    def test_wrong_secrets_for_one_client_are_answered_429_until_the_window_ends(
        self, api: ApiUser, clock: ManualClock
    ) -> None:
        creds = api.credentials
        wrong = credentials_form(creds.client_id, "not-the-secret")
        statuses = [api.http.post(TOKEN, data=wrong).status_code for _ in range(CLIENT_FAILURES)]
        assert statuses == [401] * CLIENT_FAILURES

        refused = api.http.post(TOKEN, data=wrong)
        assert_rate_limited(refused)
        # While the client id is refused, even its right secret is: guessing learns nothing.
        right = credentials_form(creds.client_id, creds.client_secret)
        assert_rate_limited(api.http.post(TOKEN, data=right))
        assert "not-the-secret" not in refused.text

        clock.advance(seconds=int(refused.headers["retry-after"]))
        assert api.http.post(TOKEN, data=right).status_code == 200

    def test_failures_from_one_address_are_limited_whatever_the_client_id(
        self, app: FastAPI, api: ApiUser
    ) -> None:
        answers = [
            api.http.post(TOKEN, data=credentials_form(f"guess-{n}", "x")).status_code
            for n in range(ADDRESS_FAILURES)
        ]
        assert answers == [401] * ADDRESS_FAILURES
        assert_rate_limited(api.http.post(TOKEN, data=credentials_form("guess-x", "x")))
        # Malformed requests count as failures too, and are refused before they are read.
        assert_rate_limited(api.http.post(TOKEN, data={"grant_type": "password"}))

        with TestClient(app, client=("192.0.2.7", 50000)) as elsewhere:
            creds = api.credentials
            good = credentials_form(creds.client_id, creds.client_secret)
            assert elsewhere.post(TOKEN, data=good).status_code == 200

    def test_successful_token_requests_never_count(self, api: ApiUser) -> None:
        creds = api.credentials
        good = credentials_form(creds.client_id, creds.client_secret)
        statuses = {api.http.post(TOKEN, data=good).status_code for _ in range(50)}
        assert statuses == {200}
        # The failures allowed are all still there.
        wrong = credentials_form(creds.client_id, "wrong")
        statuses = {api.http.post(TOKEN, data=wrong).status_code for _ in range(CLIENT_FAILURES)}
        assert statuses == {401}


class TestDefaultLimitsLetLegitimateClientsThrough:
    def test_a_client_that_asks_a_token_for_every_call_is_not_limited_at_the_token_endpoint(
        self, api: ApiUser, settings: Settings
    ) -> None:
        # More token requests in one minute than the API's own limit lets calls through.
        for _ in range(settings.rate_limit_per_minute + 10):
            assert api.token()

    def test_the_defaults_refuse_a_flood_of_forged_tokens(self, api: ApiUser) -> None:
        forged = jwt.encode({"iss": "reach", "sub": "x", "exp": 4_000_000_000}, "k" * 40)
        statuses = [api.http.get(ME, headers=bearer(forged)).status_code for _ in range(200)]
        assert 429 in statuses, "200 forged tokens in a minute were all answered"
        assert set(statuses) == {401, 429}


class TestInvalidTokenLimits:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"invalid_tokens_per_address_per_minute": INVALID_TOKENS}

    @pytest.fixture
    def forged(self, api: ApiUser) -> str:
        return jwt.encode(
            {"iss": "reach", "sub": api.credentials.client_id, "exp": 4_000_000_000},
            "another-key-" + "y" * 40,
            algorithm="HS256",
        )

    def test_forged_tokens_from_one_address_are_answered_429(
        self, app: FastAPI, api: ApiUser, forged: str, clock: ManualClock
    ) -> None:
        statuses = [
            api.http.get(ME, headers=bearer(forged)).status_code for _ in range(INVALID_TOKENS)
        ]
        assert statuses == [401] * INVALID_TOKENS

        refused = api.http.get(ME, headers=bearer(forged))
        assert_rate_limited(refused)
        assert forged not in refused.text
        with TestClient(app, client=("192.0.2.7", 50000)) as elsewhere:
            assert elsewhere.get(ME, headers=api.headers()).status_code == 200

        clock.advance(seconds=int(refused.headers["retry-after"]))
        assert api.get(ME).status_code == 200

    def test_expired_tokens_and_malformed_headers_count_but_missing_tokens_do_not(
        self, api: ApiUser, clock: ManualClock
    ) -> None:
        expired = api.token()
        clock.advance(seconds=930)
        missing = [api.http.get(ME).status_code for _ in range(INVALID_TOKENS + 1)]
        assert missing == [401] * (INVALID_TOKENS + 1)
        answers = [api.http.get(ME, headers=bearer(expired)).status_code for _ in range(3)]
        malformed = {"Authorization": "Basic abc"}
        answers += [
            api.http.get(ME, headers=malformed).status_code for _ in range(INVALID_TOKENS - 3)
        ]
        assert answers == [401] * INVALID_TOKENS
        assert_rate_limited(api.http.get(ME, headers=bearer(expired)))

    def test_valid_tokens_never_count(self, api: ApiUser, forged: str) -> None:
        held = api.token()
        assert {api.http.get(ME, headers=bearer(held)).status_code for _ in range(30)} == {200}
        assert api.http.get(ME, headers=bearer(forged)).status_code == 401


class TestTokenInTheUrl:
    def test_a_token_in_the_query_string_is_refused_and_not_echoed(self, api: ApiUser) -> None:
        token = api.token()
        for headers in ({}, bearer(token)):
            response = api.http.get(ME, params={"access_token": token}, headers=headers)
            assert response.status_code == 401, "a token in the URL was accepted"
            assert problem(response)["code"] == "authorization-token-invalid"
            assert "Authorization header" in problem(response)["detail"]
            assert token not in response.text


class TestJournalKeepsNoTokenFromTheUrl:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"sandbox": True}

    def test_the_journal_does_not_hold_a_token_sent_in_the_url(
        self, app: FastAPI, api: ApiUser
    ) -> None:
        token = api.token()
        api.http.get(ME, params={"access_token": token}, headers=bearer(token))
        api.http.get(ME, params={"access_token": token})

        entries = app.state.sandbox.journal.entries(None, everyone=True, limit=None)
        assert [e.path for e in entries] == [ME, ME]
        assert all(token not in e.model_dump_json() for e in entries)
