"""The console's sign-in, session and token at the HTTP level: the token acts for the operator
through the API's own checks, and a read-only operator's token only reads."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from reach.auth.service import OperatorService
from tests.builders import add_operator
from tests.conftest import ADVERTISER, OTHER_ADVERTISER, ApiUser

EMAIL = "ops@example.com"
VIEWER = "viewer@example.com"
PASSWORD = "correct horse battery"
CREATE = "/2025-01/marketing-solutions/audience-segments/create"
SEGMENT: dict[str, Any] = {
    "data": [
        {
            "type": "AudienceSegment",
            "attributes": {
                "advertiserId": str(ADVERTISER),
                "name": "From the console",
                "contactList": {},
            },
        }
    ]
}


def sign_in(http: TestClient, email: str, password: str, next_url: str = "") -> Any:
    form = http.get("/console/sign-in")
    assert form.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    return http.post(
        "/console/sign-in",
        data={"csrf_token": token[1], "email": email, "password": password, "next": next_url},
        follow_redirects=False,
    )


def console_token(http: TestClient) -> dict[str, Any]:
    page = http.get("/console/segments")
    assert page.status_code == 200
    csrf = re.search(r'data-csrf="([^"]+)"', page.text)
    assert csrf
    issued = http.post("/console/token", headers={"X-CSRF-Token": csrf[1]})
    assert issued.status_code == 200, issued.text
    body: dict[str, Any] = issued.json()
    return body


def bearer(token: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['accessToken']}"}


def test_sign_in_then_token_acts_for_the_operator(
    app: FastAPI, http: TestClient, api: ApiUser
) -> None:
    add_operator(app, EMAIL, PASSWORD, ADVERTISER)
    landed = sign_in(http, EMAIL, PASSWORD, "/console/audiences")
    assert landed.status_code == 303
    assert landed.headers["location"] == "/console/audiences"
    page = http.get("/console/audiences")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert f"({ADVERTISER})" in page.text
    assert f"({OTHER_ADVERTISER})" not in page.text

    token = console_token(http)
    assert token["readOnly"] is False
    me = http.get("/2025-01/advertisers/me", headers=bearer(token))
    assert [a["id"] for a in me.json()["data"]] == [str(ADVERTISER)]
    created = http.post(CREATE, json=SEGMENT, headers=bearer(token))
    assert created.status_code == 200, created.text
    # The operator's advertiser only: another is refused as the API refuses any client.
    elsewhere = copy.deepcopy(SEGMENT)
    elsewhere["data"][0]["attributes"]["advertiserId"] = str(OTHER_ADVERTISER)
    refused = http.post(CREATE, json=elsewhere, headers=bearer(token))
    assert refused.json()["errors"][0]["code"] == "advertiser-access-denied", refused.text


class TestSandboxAdmin:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"sandbox": True}

    def test_only_an_operator_of_every_advertiser_gets_the_admin_token(
        self, app: FastAPI, http: TestClient, api: ApiUser
    ) -> None:
        # ADVERTISER only, though OTHER_ADVERTISER exists: the controls would reach it too.
        add_operator(app, EMAIL, PASSWORD, ADVERTISER)
        sign_in(http, EMAIL, PASSWORD)
        assert console_token(http)["adminToken"] is None
        assert "granted every advertiser" in http.get("/console/sandbox").text
        with app.state.database.session(write=True) as session:
            OperatorService(session, app.state.clock).grant(EMAIL, [OTHER_ADVERTISER])
        admin = console_token(http)["adminToken"]
        assert admin
        journal = http.get("/_reach/journal", headers={"Authorization": f"Bearer {admin}"})
        assert journal.status_code == 200
        assert "granted every advertiser" not in http.get("/console/sandbox").text


def test_a_read_only_operator_reads_and_changes_nothing(
    app: FastAPI, http: TestClient, api: ApiUser
) -> None:
    add_operator(app, VIEWER, PASSWORD, ADVERTISER, read_only=True)
    assert sign_in(http, VIEWER, PASSWORD).status_code == 303
    token = console_token(http)
    assert token["readOnly"] is True
    assert token["adminToken"] is None
    search = http.post(
        "/2025-01/marketing-solutions/audience-segments/search",
        json={"data": {"attributes": {"advertiserIds": [str(ADVERTISER)]}}},
        headers=bearer(token),
    )
    assert search.status_code == 200
    refused = http.post(CREATE, json=SEGMENT, headers=bearer(token))
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "insufficient-scope"


def test_making_an_operator_read_only_takes_effect_at_once(
    app: FastAPI, http: TestClient, api: ApiUser
) -> None:
    add_operator(app, EMAIL, PASSWORD, ADVERTISER)
    sign_in(http, EMAIL, PASSWORD)
    token = console_token(http)
    with app.state.database.session(write=True) as session:
        operator = OperatorService(session, app.state.clock).operators.by_email(EMAIL)
        assert operator is not None
        operator.read_only = True
    assert http.post(CREATE, json=SEGMENT, headers=bearer(token)).status_code == 403
    with app.state.database.session(write=True) as session:
        operator = OperatorService(session, app.state.clock).operators.by_email(EMAIL)
        assert operator is not None
        session.delete(operator)
    gone = http.get("/2025-01/advertisers/me", headers=bearer(token))
    assert gone.status_code == 401


def test_no_token_without_the_pages_csrf_token_or_a_session(
    app: FastAPI, http: TestClient, api: ApiUser
) -> None:
    assert http.post("/console/token").status_code == 401
    add_operator(app, EMAIL, PASSWORD, ADVERTISER)
    sign_in(http, EMAIL, PASSWORD)
    assert http.post("/console/token").status_code == 403
    assert http.post("/console/token", headers={"X-CSRF-Token": "forged"}).status_code == 403


def test_sign_in_refusals(app: FastAPI, http: TestClient, api: ApiUser) -> None:
    add_operator(app, EMAIL, PASSWORD, ADVERTISER)
    wrong = sign_in(http, EMAIL, "not the password")
    assert wrong.status_code == 401
    assert "Wrong e-mail or password." in wrong.text
    # A form not sent by the page (no matching nonce) is refused before any password check.
    http.cookies.clear()
    forged = http.post(
        "/console/sign-in",
        data={"csrf_token": "x", "email": EMAIL, "password": PASSWORD},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    # After sign-in, only a console page is a destination: never another site.
    for target in ("https://elsewhere.example", "//elsewhere.example/console/x", "/other"):
        landed = sign_in(http, EMAIL, PASSWORD, target)
        assert landed.headers["location"] == "/console/segments"


def test_pages_need_a_session_and_the_sandbox_page_needs_the_sandbox(
    app: FastAPI, http: TestClient, api: ApiUser
) -> None:
    page = http.get("/console/lookalikes?advertiser=101", follow_redirects=False)
    assert page.status_code == 303
    assert (
        page.headers["location"]
        == "/console/sign-in?next=%2Fconsole%2Flookalikes%3Fadvertiser%3D101"
    )
    add_operator(app, EMAIL, PASSWORD, ADVERTISER)
    sign_in(http, EMAIL, PASSWORD)
    assert http.get("/console/sandbox").status_code == 404
    assert 'href="/console/sandbox' not in http.get("/console/segments").text
    out = http.post(
        "/console/sign-out",
        data={"csrf_token": "forged"},
        follow_redirects=False,
    )
    assert out.status_code == 403
    csrf = re.search(r'data-csrf="([^"]+)"', http.get("/console/segments").text)
    assert csrf
    kept = http.cookies.get("reach_console")
    assert kept
    out = http.post("/console/sign-out", data={"csrf_token": csrf[1]}, follow_redirects=False)
    assert out.status_code == 303
    assert http.get("/console/segments", follow_redirects=False).status_code == 303
    # A copy of the cookie taken before sign-out is worth nothing after it.
    http.cookies.set("reach_console", kept)
    assert http.get("/console/segments", follow_redirects=False).status_code == 303
    assert http.post("/console/token", headers={"X-CSRF-Token": csrf[1]}).status_code == 401


def test_a_new_password_ends_every_session(app: FastAPI, http: TestClient, api: ApiUser) -> None:
    add_operator(app, EMAIL, PASSWORD, ADVERTISER)
    sign_in(http, EMAIL, PASSWORD)
    assert http.get("/console/segments", follow_redirects=False).status_code == 200
    with app.state.database.session(write=True) as session:
        OperatorService(session, app.state.clock).set_password(EMAIL, "another long password")
    assert http.get("/console/segments", follow_redirects=False).status_code == 303
    assert sign_in(http, EMAIL, "another long password").status_code == 303


def test_an_odd_advertiser_in_the_address_shows_the_first(
    app: FastAPI, http: TestClient, api: ApiUser
) -> None:
    add_operator(app, EMAIL, PASSWORD, ADVERTISER)
    sign_in(http, EMAIL, PASSWORD)
    for odd in ("%C2%B2", "9" * 5000, "-1", str(OTHER_ADVERTISER)):
        page = http.get(f"/console/segments?advertiser={odd}")
        assert page.status_code == 200
        assert f'data-advertiser="{ADVERTISER}"' in page.text
