"""POST /oauth2/token with the authorization-code and refresh-token grants: codes, rotation,
reuse detection, revocation, and the advertisers a consent's token reaches."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from reach.auth.service import IssuedCode
from tests.builders import (
    REDIRECT_URI,
    SEGMENTS,
    Credentials,
    ManualClock,
    add_advertiser,
    grant_consent,
    new_client,
    retargeting,
    revoke,
    revoke_consent,
)
from tests.conftest import ADVERTISER, OTHER_ADVERTISER, ApiUser

TOKEN = "/oauth2/token"
ME = "/2025-01/advertisers/me"
SEARCH = f"{SEGMENTS}/search"
THIRD_ADVERTISER = 303


def exchange(
    http: TestClient, creds: Credentials, code: str, redirect_uri: str = REDIRECT_URI
) -> Any:
    return http.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        },
    )


def refresh(http: TestClient, creds: Credentials, refresh_token: str, **extra: str) -> Any:
    return http.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        }
        | extra,
    )


def tokens(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def refused(response: Any, status: int, error: str, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert [(p["type"], p["code"]) for p in body["errors"]] == [("authentication", code)]
    assert "access_token" not in body
    return body


def invalid_grant(response: Any) -> dict[str, Any]:
    return refused(response, 400, "invalid_grant", "invalid-grant")


def advertisers_seen(http: TestClient, access_token: str) -> list[str]:
    response = http.get(ME, headers=bearer(access_token))
    assert response.status_code == 200, response.text
    return [a["id"] for a in response.json()["data"]]


@pytest.fixture
def consent(app: FastAPI, api: ApiUser) -> IssuedCode:
    """The manager client of ADVERTISER, consented to OTHER_ADVERTISER only."""
    return grant_consent(app, api.credentials.client_id, OTHER_ADVERTISER)


class TestAuthorizationCodeGrant:
    def test_a_code_gives_an_access_and_a_refresh_token(
        self, api: ApiUser, consent: IssuedCode
    ) -> None:
        response = exchange(api.http, api.credentials, consent.code)
        body = tokens(response)
        assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 900
        assert isinstance(body["refresh_token"], str)
        assert len(body["refresh_token"]) >= 43  # 256 bits, base64url
        assert response.headers["cache-control"] == "no-store"
        assert advertisers_seen(api.http, body["access_token"]) == [str(OTHER_ADVERTISER)]

    def test_client_credentials_in_http_basic(self, api: ApiUser, consent: IssuedCode) -> None:
        creds = api.credentials
        basic = base64.b64encode(f"{creds.client_id}:{creds.client_secret}".encode()).decode()
        response = api.http.post(
            TOKEN,
            data={
                "grant_type": "authorization_code",
                "code": consent.code,
                "redirect_uri": REDIRECT_URI,
            },
            headers={"Authorization": f"Basic {basic}"},
        )
        assert isinstance(tokens(response)["refresh_token"], str)

    def test_a_code_works_once_and_its_reuse_revokes_what_it_gave(
        self, api: ApiUser, consent: IssuedCode
    ) -> None:
        first = tokens(exchange(api.http, api.credentials, consent.code))
        assert advertisers_seen(api.http, first["access_token"]) == [str(OTHER_ADVERTISER)]

        again = invalid_grant(exchange(api.http, api.credentials, consent.code))
        assert "used already" in again["error_description"]

        # RFC 6749 §4.1.2: the tokens issued from the code are revoked.
        stale = api.http.get(ME, headers=bearer(first["access_token"]))
        assert stale.status_code == 401
        assert stale.json()["errors"][0]["code"] == "authorization-token-invalid"
        invalid_grant(refresh(api.http, api.credentials, first["refresh_token"]))

    def test_a_code_expires_after_ten_minutes(
        self, app: FastAPI, api: ApiUser, clock: ManualClock
    ) -> None:
        early = grant_consent(app, api.credentials.client_id, ADVERTISER)
        late = grant_consent(app, api.credentials.client_id, ADVERTISER)
        clock.advance(minutes=9, seconds=59)
        tokens(exchange(api.http, api.credentials, early.code))
        clock.advance(seconds=1)
        body = invalid_grant(exchange(api.http, api.credentials, late.code))
        assert "expired" in body["error_description"]

    def test_the_redirect_uri_must_be_the_exact_one(
        self, api: ApiUser, consent: IssuedCode
    ) -> None:
        for other in (f"{REDIRECT_URI}/", f"{REDIRECT_URI}?x=1", "https://evil.example/callback"):
            invalid_grant(exchange(api.http, api.credentials, consent.code, other))
        # A wrong try does not use the code up.
        tokens(exchange(api.http, api.credentials, consent.code))

    def test_a_code_of_another_client_is_refused(
        self, app: FastAPI, api: ApiUser, consent: IssuedCode
    ) -> None:
        other = new_client(app, OTHER_ADVERTISER, name="other")
        body = invalid_grant(exchange(api.http, other, consent.code))
        assert "another client" in body["error_description"]
        tokens(exchange(api.http, api.credentials, consent.code))

    def test_an_unknown_code_is_refused(self, api: ApiUser, consent: IssuedCode) -> None:
        invalid_grant(exchange(api.http, api.credentials, consent.code[:-1] + "x"))

    def test_a_wrong_secret_is_invalid_client(self, api: ApiUser, consent: IssuedCode) -> None:
        wrong = Credentials(api.credentials.client_id, "not-the-secret")
        refused(exchange(api.http, wrong, consent.code), 401, "invalid_client", "invalid-client")
        # Failed client authentication does not use the code up.
        tokens(exchange(api.http, api.credentials, consent.code))

    @pytest.mark.parametrize("client_id", ["a\x00b", "a\x1bb", "x" * 65])
    @pytest.mark.parametrize("grant_type", ["authorization_code", "client_credentials"])
    def test_an_impossible_client_id_is_an_unknown_client(
        self, api: ApiUser, consent: IssuedCode, client_id: str, grant_type: str
    ) -> None:
        """A client id with a control character (PostgreSQL refuses NUL in text) or longer
        than any client's is refused before the database is asked."""
        form = {
            "grant_type": grant_type,
            "code": consent.code,
            "redirect_uri": REDIRECT_URI,
            "client_id": client_id,
            "client_secret": api.credentials.client_secret,
        }
        refused(api.http.post(TOKEN, data=form), 401, "invalid_client", "invalid-client")
        basic = base64.b64encode(f"{client_id}:{api.credentials.client_secret}".encode()).decode()
        del form["client_id"], form["client_secret"]
        in_basic = api.http.post(TOKEN, data=form, headers={"Authorization": f"Basic {basic}"})
        refused(in_basic, 401, "invalid_client", "invalid-client")
        # The code was not used up.
        tokens(exchange(api.http, api.credentials, consent.code))

    @pytest.mark.parametrize("missing", ["code", "redirect_uri"])
    def test_code_and_redirect_uri_are_required(
        self, api: ApiUser, consent: IssuedCode, missing: str
    ) -> None:
        form = {
            "grant_type": "authorization_code",
            "code": consent.code,
            "redirect_uri": REDIRECT_URI,
            "client_id": api.credentials.client_id,
            "client_secret": api.credentials.client_secret,
        }
        del form[missing]
        body = refused(api.http.post(TOKEN, data=form), 400, "invalid_request", "invalid-request")
        assert missing in body["error_description"]

    def test_unsupported_grant_types_name_the_supported_ones(self, api: ApiUser) -> None:
        creds = api.credentials
        response = api.http.post(
            TOKEN,
            data={"grant_type": "password", "client_id": creds.client_id, "client_secret": "x"},
        )
        body = refused(response, 400, "unsupported_grant_type", "unsupported-grant-type")
        title = body["errors"][0]["title"]
        assert "authorization_code" in title
        assert "refresh_token" in title


class TestRefreshTokenGrant:
    def test_each_refresh_rotates_both_tokens(self, api: ApiUser, consent: IssuedCode) -> None:
        current = tokens(exchange(api.http, api.credentials, consent.code))
        seen = {current["refresh_token"]}
        for _ in range(4):
            # Members a refresh does not use are ignored: the official SDK sends these too.
            renewed = tokens(
                refresh(
                    api.http,
                    api.credentials,
                    current["refresh_token"],
                    code=consent.code,
                    redirect_uri=REDIRECT_URI,
                )
            )
            assert renewed["token_type"] == "Bearer"
            assert renewed["refresh_token"] not in seen
            assert renewed["access_token"] != current["access_token"]
            seen.add(renewed["refresh_token"])
            assert advertisers_seen(api.http, renewed["access_token"]) == [str(OTHER_ADVERTISER)]
            current = renewed

    def test_a_rotated_refresh_token_is_refused_and_revokes_the_family(
        self, api: ApiUser, consent: IssuedCode
    ) -> None:
        first = tokens(exchange(api.http, api.credentials, consent.code))
        second = tokens(refresh(api.http, api.credentials, first["refresh_token"]))

        body = invalid_grant(refresh(api.http, api.credentials, first["refresh_token"]))
        assert "used already" in body["error_description"]

        # Every token of the consent ends: the newest refresh token and the access tokens.
        invalid_grant(refresh(api.http, api.credentials, second["refresh_token"]))
        for access_token in (first["access_token"], second["access_token"]):
            response = api.http.get(ME, headers=bearer(access_token))
            assert response.status_code == 401
            assert response.json()["errors"][0]["code"] == "authorization-token-invalid"

    def test_the_family_ends_but_other_consents_of_the_client_do_not(
        self, app: FastAPI, api: ApiUser, consent: IssuedCode
    ) -> None:
        other = grant_consent(app, api.credentials.client_id, ADVERTISER)
        kept = tokens(exchange(api.http, api.credentials, other.code))
        first = tokens(exchange(api.http, api.credentials, consent.code))
        tokens(refresh(api.http, api.credentials, first["refresh_token"]))
        invalid_grant(refresh(api.http, api.credentials, first["refresh_token"]))

        assert advertisers_seen(api.http, kept["access_token"]) == [str(ADVERTISER)]
        tokens(refresh(api.http, api.credentials, kept["refresh_token"]))
        assert api.post(SEARCH, {}).status_code == 200  # client credentials still work

    def test_a_refresh_token_of_another_client_is_refused(
        self, app: FastAPI, api: ApiUser, consent: IssuedCode
    ) -> None:
        issued = tokens(exchange(api.http, api.credentials, consent.code))
        other = new_client(app, OTHER_ADVERTISER, name="other")
        invalid_grant(refresh(api.http, other, issued["refresh_token"]))
        # Not used up by the other client's try.
        tokens(refresh(api.http, api.credentials, issued["refresh_token"]))

    def test_an_unknown_refresh_token_is_refused(self, api: ApiUser) -> None:
        invalid_grant(refresh(api.http, api.credentials, "no-such-refresh-token"))

    def test_the_refresh_token_is_required(self, api: ApiUser) -> None:
        creds = api.credentials
        response = api.http.post(
            TOKEN,
            data={
                "grant_type": "refresh_token",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
            },
        )
        refused(response, 400, "invalid_request", "invalid-request")

    def test_a_refresh_in_http_basic(self, api: ApiUser, consent: IssuedCode) -> None:
        issued = tokens(exchange(api.http, api.credentials, consent.code))
        creds = api.credentials
        basic = base64.b64encode(f"{creds.client_id}:{creds.client_secret}".encode()).decode()
        response = api.http.post(
            TOKEN,
            data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert isinstance(tokens(response)["refresh_token"], str)


class TestRevocation:
    def test_a_revoked_consent_ends_its_refresh_and_access_tokens(
        self, app: FastAPI, api: ApiUser, consent: IssuedCode
    ) -> None:
        issued = tokens(exchange(api.http, api.credentials, consent.code))
        revoke_consent(app, consent.consent_id)

        response = api.http.get(ME, headers=bearer(issued["access_token"]))
        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "authorization-token-invalid"
        body = invalid_grant(refresh(api.http, api.credentials, issued["refresh_token"]))
        assert "revoked" in body["error_description"]
        # The client's own client-credentials tokens are not the consent's.
        assert api.post(SEARCH, {}).status_code == 200

    def test_a_revoked_consent_refuses_its_unused_code(
        self, app: FastAPI, api: ApiUser, consent: IssuedCode
    ) -> None:
        revoke_consent(app, consent.consent_id)
        invalid_grant(exchange(api.http, api.credentials, consent.code))

    def test_a_revoked_client_ends_its_refresh_and_access_tokens(
        self, app: FastAPI, api: ApiUser, consent: IssuedCode
    ) -> None:
        issued = tokens(exchange(api.http, api.credentials, consent.code))
        revoke(app, api.credentials.client_id)

        response = api.http.get(ME, headers=bearer(issued["access_token"]))
        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "authorization-token-invalid"
        refused(
            refresh(api.http, api.credentials, issued["refresh_token"]),
            401,
            "invalid_client",
            "invalid-client",
        )

    def test_a_revoked_client_gets_no_consent(self, app: FastAPI, api: ApiUser) -> None:
        revoke(app, api.credentials.client_id)
        with pytest.raises(Exception, match="revoked"):
            grant_consent(app, api.credentials.client_id, ADVERTISER)


class TestConsentAdvertisers:
    def test_the_token_reaches_only_the_consents_advertisers(
        self, app: FastAPI, api: ApiUser, consent: IssuedCode
    ) -> None:
        issued = tokens(exchange(api.http, api.credentials, consent.code))
        headers = bearer(issued["access_token"])

        # The client's own advertiser is not the consent's.
        create = f"{SEGMENTS}/create"
        body = api.http.post(
            create, json={"data": [retargeting(ADVERTISER, "mine")]}, headers=headers
        ).json()
        assert [(e["type"], e["code"]) for e in body["errors"]] == [
            ("access-control", "advertiser-access-denied")
        ]
        body = api.http.post(
            create, json={"data": [retargeting(OTHER_ADVERTISER, "consented")]}, headers=headers
        ).json()
        assert body["errors"] == []
        found = api.http.post(SEARCH, json={}, headers=headers).json()["data"]
        assert [s["attributes"]["advertiserId"] for s in found] == [str(OTHER_ADVERTISER)]

    def test_several_advertisers_and_scopes_of_the_client(
        self, app: FastAPI, http: TestClient
    ) -> None:
        for advertiser in (ADVERTISER, OTHER_ADVERTISER, THIRD_ADVERTISER):
            add_advertiser(app, advertiser)
        reader = new_client(app, ADVERTISER, read_only=True, name="reader")
        issued = grant_consent(app, reader.client_id, THIRD_ADVERTISER, ADVERTISER)
        access = tokens(exchange(http, reader, issued.code))["access_token"]
        assert advertisers_seen(http, access) == [str(ADVERTISER), str(THIRD_ADVERTISER)]
        # A read-only client's consent gives a read-only token.
        response = http.post(
            f"{SEGMENTS}/create",
            json={"data": [retargeting(ADVERTISER, "x")]},
            headers=bearer(access),
        )
        assert response.status_code == 403
        assert response.json()["errors"][0]["code"] == "insufficient-scope"

    def test_a_consent_needs_existing_advertisers(self, app: FastAPI, api: ApiUser) -> None:
        with pytest.raises(Exception, match="Unknown advertiser"):
            grant_consent(app, api.credentials.client_id, 999_999)
