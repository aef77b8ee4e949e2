"""POST /oauth2/token: client credentials in, signed expiring bearer tokens out."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import quote

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from reach.models import ApiClient
from tests.builders import add_advertiser, new_client, revoke
from tests.conftest import ADVERTISER, TEST_SECRET_KEY, ApiUser

TOKEN = "/oauth2/token"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def form(client_id: str, secret: str, grant: str = "client_credentials") -> dict[str, str]:
    return {"grant_type": grant, "client_id": client_id, "client_secret": secret}


class TestGetToken:
    def test_issues_a_bearer_token_with_a_null_refresh_token(self, api: ApiUser) -> None:
        creds = api.credentials
        response = api.http.post(TOKEN, data=form(creds.client_id, creds.client_secret))
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 900
        assert body["refresh_token"] is None
        assert response.headers["cache-control"] == "no-store"

    def test_the_token_is_a_signed_jwt_that_expires(self, api: ApiUser) -> None:
        token = api.token()
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
        assert header["alg"] == "HS256"
        assert claims["sub"] == api.credentials.client_id
        assert claims["exp"] - claims["iat"] == 900
        # The signing key is derived from, not equal to, the server key.
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token, TEST_SECRET_KEY, algorithms=["HS256"])

    def test_accepts_a_percent_encoded_secret(self, api: ApiUser) -> None:
        creds = api.credentials
        encoded = "".join(f"%{b:02X}" for b in creds.client_secret.encode())
        body = f"grant_type=client_credentials&client_id={creds.client_id}&client_secret={encoded}"
        response = api.http.post(TOKEN, content=body, headers=FORM)
        assert response.status_code == 200

    def test_a_secret_with_a_plus_arrives_url_encoded(self, app: FastAPI, api: ApiUser) -> None:
        # Reach never generates '+', but secrets may hold one; give this client such a secret.
        secret = "abc+def/ghi=="
        with app.state.database.session(write=True) as session:
            client = session.scalars(select(ApiClient)).one()
            client.secret_hash = app.state.hasher.hash(secret)
        prefix = f"grant_type=client_credentials&client_id={api.credentials.client_id}"
        encoded = f"{prefix}&client_secret={quote(secret, safe='')}"
        assert api.http.post(TOKEN, content=encoded, headers=FORM).status_code == 200
        # Sent raw, the '+' decodes to a space (form encoding), so the secret is wrong.
        raw = f"{prefix}&client_secret={secret}"
        assert api.http.post(TOKEN, content=raw, headers=FORM).status_code == 401

    def test_accepts_http_basic_client_authentication(self, api: ApiUser) -> None:
        creds = api.credentials
        basic = base64.b64encode(f"{creds.client_id}:{creds.client_secret}".encode()).decode()
        response = api.http.post(
            TOKEN,
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert response.status_code == 200

    def test_each_token_is_unique(self, api: ApiUser) -> None:
        assert api.token() != api.token()


class TestGetTokenFailures:
    def test_wrong_secret_is_invalid_client(self, api: ApiUser) -> None:
        response = api.http.post(TOKEN, data=form(api.credentials.client_id, "wrong"))
        assert response.status_code == 401
        body = response.json()
        assert body["error"] == "invalid_client"
        assert body["errors"][0]["code"] == "invalid-client"
        assert body["errors"][0]["type"] == "authentication"
        assert "access_token" not in body

    def test_unknown_client_looks_like_a_wrong_secret(self, api: ApiUser) -> None:
        unknown = api.http.post(TOKEN, data=form("0" * 32, "whatever")).json()
        wrong = api.http.post(TOKEN, data=form(api.credentials.client_id, "wrong")).json()
        assert unknown["errors"][0]["detail"] == wrong["errors"][0]["detail"]

    def test_revoked_client_gets_no_token(self, app: FastAPI, api: ApiUser) -> None:
        revoke(app, api.credentials.client_id)
        creds = api.credentials
        response = api.http.post(TOKEN, data=form(creds.client_id, creds.client_secret))
        assert response.status_code == 401

    def test_other_grant_types_are_refused(self, api: ApiUser) -> None:
        creds = api.credentials
        response = api.http.post(TOKEN, data=form(creds.client_id, creds.client_secret, "password"))
        assert response.status_code == 400
        assert response.json()["error"] == "unsupported_grant_type"

    def test_missing_grant_type_is_invalid_request(self, http: TestClient) -> None:
        response = http.post(TOKEN, data={"client_id": "x", "client_secret": "y"})
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"

    def test_missing_credentials_are_invalid_client(self, http: TestClient) -> None:
        response = http.post(TOKEN, data={"grant_type": "client_credentials"})
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"

    def test_json_body_is_refused(self, api: ApiUser) -> None:
        creds = api.credentials
        response = api.http.post(TOKEN, json=form(creds.client_id, creds.client_secret))
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"

    def test_repeated_parameters_are_refused(self, api: ApiUser) -> None:
        creds = api.credentials
        body = (
            f"grant_type=client_credentials&client_id={creds.client_id}"
            f"&client_secret={creds.client_secret}&client_secret=other"
        )
        response = api.http.post(TOKEN, content=body, headers=FORM)
        assert response.status_code == 400

    def test_a_huge_body_is_refused(self, http: TestClient) -> None:
        response = http.post(TOKEN, content="a=" + "x" * 100_000, headers=FORM)
        assert response.status_code == 413


def test_secrets_are_at_least_256_bits_and_stored_only_as_keyed_hashes(app: FastAPI) -> None:
    add_advertiser(app, ADVERTISER)
    issued = new_client(app, ADVERTISER)
    assert len(base64.urlsafe_b64decode(issued.client_secret + "=")) >= 32
    with app.state.database.session() as session:
        stored = session.scalars(select(ApiClient)).one()
    assert issued.client_secret not in stored.secret_hash
    assert stored.secret_hash == app.state.hasher.hash(issued.client_secret)
    assert stored.secret_hash != hashlib.sha256(issued.client_secret.encode()).hexdigest()
