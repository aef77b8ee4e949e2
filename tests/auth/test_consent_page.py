"""The consent page: an operator signs in, then approves or denies a client's authorization
request; the code it hands out works at the token endpoint."""

from __future__ import annotations

import threading
import time
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from fastapi import FastAPI
from fastapi.testclient import TestClient

from reach.auth import service
from tests.builders import REDIRECT_URI, ManualClock, add_operator, new_client, revoke
from tests.conftest import ADVERTISER, OTHER_ADVERTISER, ApiUser

EMAIL = "ops@example.com"
PASSWORD = "correct horse battery"
STATE = "xyz/42 &more"
ME = "/2025-01/advertisers/me"


class Form(HTMLParser):
    """The inputs of the page's form: hidden values and checkbox names."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.checkboxes: list[str] = []
        self.buttons: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "input" and found.get("type") == "hidden":
            self.hidden[found["name"]] = found.get("value", "")
        elif tag == "input" and found.get("type") == "checkbox":
            self.checkboxes.append(found["name"])
        elif tag == "button" and "value" in found:
            self.buttons.append(found["value"])


def authorize_url(client_id: str, redirect_uri: str = REDIRECT_URI, **extra: str) -> str:
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri}
    return f"/consent?{urlencode(query | {'state': STATE} | extra)}"


def sign_in(http: TestClient, page: str, email: str = EMAIL, password: str = PASSWORD) -> Any:
    form = Form(page)
    return http.post(
        "/consent/sign-in",
        data=form.hidden | {"email": email, "password": password},
        follow_redirects=False,
    )


@pytest.fixture
def operator(app: FastAPI, api: ApiUser) -> str:
    """An operator who may approve ADVERTISER (OTHER_ADVERTISER exists but is not theirs)."""
    add_operator(app, EMAIL, PASSWORD, ADVERTISER)
    return EMAIL


@pytest.fixture
def consent_page(http: TestClient, api: ApiUser, operator: str) -> str:
    """The consent form, signed in as the operator."""
    page = http.get(authorize_url(api.credentials.client_id))
    signed = sign_in(http, page.text)
    assert signed.status_code == 303, signed.text
    answer = http.get(signed.headers["location"])
    assert answer.status_code == 200
    return answer.text


def decide(http: TestClient, page: str, decision: str, **fields: str) -> Any:
    return http.post(
        "/consent",
        data=Form(page).hidden | {"decision": decision} | fields,
        follow_redirects=False,
    )


def query_of(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)


class TestSignIn:
    def test_signed_out_the_page_asks_to_sign_in(
        self, http: TestClient, api: ApiUser, operator: str
    ) -> None:
        response = http.get(authorize_url(api.credentials.client_id))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert '<label for="password">' in response.text
        assert Form(response.text).hidden["state"] == STATE

    def test_a_wrong_password_or_address_fails(
        self, http: TestClient, api: ApiUser, operator: str
    ) -> None:
        page = http.get(authorize_url(api.credentials.client_id)).text
        for email, password in (
            (EMAIL, "wrong password!"),
            ("nobody@example.com", PASSWORD),
            ("not an address", PASSWORD),
        ):
            response = sign_in(http, page, email, password)
            assert response.status_code == 401
            assert "Wrong e-mail or password" in response.text
            assert "set-cookie" not in response.headers
        # Still signed out.
        assert "/consent/sign-in" in http.get(authorize_url(api.credentials.client_id)).text

    def test_a_sign_in_not_sent_by_the_page_is_refused(
        self, http: TestClient, api: ApiUser, operator: str
    ) -> None:
        """Login CSRF: another site's form has neither the nonce cookie nor its token."""
        page = http.get(authorize_url(api.credentials.client_id)).text
        fields = Form(page).hidden
        assert fields["csrf_token"]
        for forged in ({**fields, "csrf_token": "x" * 43}, {**fields, "csrf_token": ""}):
            response = http.post(
                "/consent/sign-in",
                data=forged | {"email": EMAIL, "password": PASSWORD},
                follow_redirects=False,
            )
            assert response.status_code == 403
            assert "set-cookie" not in response.headers
        http.cookies.clear()
        response = http.post(
            "/consent/sign-in",
            data=fields | {"email": EMAIL, "password": PASSWORD},
            follow_redirects=False,
        )
        assert response.status_code == 403
        assert "/consent/sign-in" in http.get(authorize_url(api.credentials.client_id)).text

    def test_the_right_password_signs_in_with_a_safe_cookie(
        self, http: TestClient, api: ApiUser, operator: str
    ) -> None:
        page = http.get(authorize_url(api.credentials.client_id)).text
        response = sign_in(http, page, "OPS@Example.com")
        assert response.status_code == 303
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "path=/consent" in cookie
        back = response.headers["location"]
        assert back.startswith("/consent?")
        assert query_of(back)["state"] == [STATE]
        consent = http.get(back)
        assert "Approve" in consent.text
        assert EMAIL in consent.text

    def test_a_tampered_or_expired_session_asks_to_sign_in_again(
        self, http: TestClient, api: ApiUser, consent_page: str, clock: ManualClock
    ) -> None:
        url = authorize_url(api.credentials.client_id)
        good = http.cookies["reach_operator"]
        http.cookies.clear()
        http.cookies.set("reach_operator", good[:-2] + "xx", path="/consent")
        assert "/consent/sign-in" in http.get(url).text
        http.cookies.clear()
        http.cookies.set("reach_operator", good, path="/consent")
        assert "csrf_token" in http.get(url).text
        clock.advance(hours=8)
        assert "/consent/sign-in" in http.get(url).text


class TestConsentForm:
    def test_the_operator_sees_only_advertisers_granted_to_them(
        self, app: FastAPI, consent_page: str
    ) -> None:
        form = Form(consent_page)
        assert form.checkboxes == [f"advertiser-{ADVERTISER}"]
        assert f"Advertiser {OTHER_ADVERTISER}" not in consent_page
        assert "test" in consent_page  # the client's name
        assert set(form.buttons) == {"approve", "deny"}

    def test_output_is_escaped(self, app: FastAPI, http: TestClient, operator: str) -> None:
        creds = new_client(app, ADVERTISER, name="<b>Acme</b>")
        page = http.get(authorize_url(creds.client_id, state='"><script>x</script>')).text
        assert "&lt;b&gt;Acme&lt;/b&gt;" in page
        assert "<script>" not in page


class TestDecision:
    def test_approval_redirects_with_a_code_that_works(
        self, http: TestClient, api: ApiUser, consent_page: str
    ) -> None:
        response = decide(http, consent_page, "approve", **{f"advertiser-{ADVERTISER}": "on"})
        assert response.status_code == 303
        location = response.headers["location"]
        assert location.startswith(f"{REDIRECT_URI}?")
        query = query_of(location)
        assert query["state"] == [STATE]
        [code] = query["code"]

        creds = api.credentials
        token = http.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
            },
        )
        assert token.status_code == 200, token.text
        body = token.json()
        assert isinstance(body["refresh_token"], str)
        seen = http.get(ME, headers={"Authorization": f"Bearer {body['access_token']}"})
        assert [a["id"] for a in seen.json()["data"]] == [str(ADVERTISER)]

    def test_the_redirect_uri_keeps_its_own_query(
        self, http: TestClient, api: ApiUser, operator: str
    ) -> None:
        redirect = "https://app.example/cb?tenant=7"
        page = http.get(authorize_url(api.credentials.client_id, redirect))
        consent = http.get(sign_in(http, page.text).headers["location"]).text
        response = decide(http, consent, "approve", **{f"advertiser-{ADVERTISER}": "on"})
        location = response.headers["location"]
        assert location.startswith("https://app.example/cb?tenant=7&code=")
        assert query_of(location)["tenant"] == ["7"]

    def test_denial_redirects_with_access_denied(self, http: TestClient, consent_page: str) -> None:
        response = decide(http, consent_page, "deny")
        assert response.status_code == 303
        query = query_of(response.headers["location"])
        assert query == {"error": ["access_denied"], "state": [STATE]}

    @pytest.mark.parametrize("token", [None, "", "forged-token"])
    def test_a_missing_or_wrong_csrf_token_is_refused(
        self, http: TestClient, consent_page: str, token: str | None
    ) -> None:
        fields = Form(consent_page).hidden | {
            "decision": "approve",
            f"advertiser-{ADVERTISER}": "on",
        }
        if token is None:
            del fields["csrf_token"]
        else:
            fields["csrf_token"] = token
        response = http.post("/consent", data=fields, follow_redirects=False)
        assert response.status_code == 403
        assert "location" not in response.headers

    def test_a_csrf_token_of_another_session_is_refused(
        self, http: TestClient, api: ApiUser, consent_page: str
    ) -> None:
        # Signing in again starts a new session; the old page's token no longer matches.
        page = http.get(authorize_url(api.credentials.client_id)).text
        http.cookies.clear()
        sign_in(http, http.get(authorize_url(api.credentials.client_id)).text)
        assert Form(page).hidden["csrf_token"] == Form(consent_page).hidden["csrf_token"]
        response = decide(http, consent_page, "approve", **{f"advertiser-{ADVERTISER}": "on"})
        assert response.status_code == 403

    def test_signed_out_the_decision_is_refused(self, http: TestClient, consent_page: str) -> None:
        http.cookies.clear()
        response = decide(http, consent_page, "approve", **{f"advertiser-{ADVERTISER}": "on"})
        assert response.status_code == 401
        assert "location" not in response.headers

    def test_an_advertiser_not_granted_to_the_operator_cannot_be_approved(
        self, http: TestClient, consent_page: str
    ) -> None:
        response = decide(http, consent_page, "approve", **{f"advertiser-{OTHER_ADVERTISER}": "on"})
        assert response.status_code == 400
        assert "location" not in response.headers
        assert f"may not approve advertiser(s) {OTHER_ADVERTISER}" in response.text

    def test_approval_needs_an_advertiser(self, http: TestClient, consent_page: str) -> None:
        response = decide(http, consent_page, "approve")
        assert response.status_code == 400
        assert "Choose at least one advertiser" in response.text


class TestBadRequests:
    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"client_id": "no-such-client"}, "client_id"),
            ({"response_type": "token"}, "response_type"),
            ({"redirect_uri": "javascript:alert(1)"}, "redirect URI"),
            ({"redirect_uri": "/relative/path"}, "redirect URI"),
            ({"redirect_uri": "https://app.example/cb#frag"}, "fragment"),
            ({"redirect_uri": ""}, "redirect_uri"),
            # Python's hostname is good.example; a browser goes to evil.example.
            ({"redirect_uri": "https://evil.example\\@good.example/cb"}, "backslash"),
            ({"redirect_uri": "https://evil.example\\.good.example/cb"}, "backslash"),
            ({"redirect_uri": "https://good.example/cb\\x"}, "backslash"),
            ({"redirect_uri": "https://user@good.example/cb"}, "user@host"),
            ({"redirect_uri": "https://good.example:pw@evil.example/cb"}, "user@host"),
            ({"redirect_uri": "https://good.example/c\u0085b"}, "control characters"),
            ({"redirect_uri": "https://good.example/c\u00a0b"}, "spaces"),
            ({"redirect_uri": "https://good.example\u2028/cb"}, "spaces"),
            ({"redirect_uri": "https://evil%2Eexample/cb"}, "host"),
            ({"redirect_uri": "https://bücher.example/cb"}, "xn--"),
            ({"redirect_uri": "https://good.example:0/cb"}, "host"),
            ({"redirect_uri": "https://good.example:99999/cb"}, "not a URL"),
            ({"client_id": "a\x00b"}, "client_id"),
            ({"client_id": "a\x1fb"}, "client_id"),
            ({"client_id": "x" * 65}, "client_id"),
        ],
    )
    def test_bad_requests_show_an_error_page_and_never_redirect(
        self, http: TestClient, api: ApiUser, operator: str, change: dict[str, str], message: str
    ) -> None:
        query = {
            "response_type": "code",
            "client_id": api.credentials.client_id,
            "redirect_uri": REDIRECT_URI,
            "state": STATE,
        } | change
        response = http.get(f"/consent?{urlencode(query)}", follow_redirects=False)
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("text/html")
        assert "location" not in response.headers
        assert message in response.text

    def test_a_revoked_client_gets_an_error_page(
        self, app: FastAPI, http: TestClient, api: ApiUser, operator: str
    ) -> None:
        revoke(app, api.credentials.client_id)
        response = http.get(authorize_url(api.credentials.client_id), follow_redirects=False)
        assert response.status_code == 400

    @pytest.mark.parametrize(
        "redirect_uri", ["javascript:alert(1)", "https://evil.example\\@good.example/cb"]
    )
    def test_a_bad_redirect_in_the_decision_never_redirects(
        self, http: TestClient, consent_page: str, redirect_uri: str
    ) -> None:
        fields = Form(consent_page).hidden | {"decision": "deny", "redirect_uri": redirect_uri}
        response = http.post("/consent", data=fields, follow_redirects=False)
        assert response.status_code == 400
        assert "location" not in response.headers

    @pytest.mark.parametrize("client_id", ["a\x00b", "x" * 65])
    def test_an_impossible_client_id_in_the_forms_is_an_unknown_client(
        self, http: TestClient, consent_page: str, client_id: str
    ) -> None:
        fields = Form(consent_page).hidden | {"client_id": client_id}
        for path in ("/consent", "/consent/sign-in"):
            response = http.post(
                path,
                data=fields | {"decision": "deny", "email": EMAIL, "password": PASSWORD},
                follow_redirects=False,
            )
            assert response.status_code == 400
            assert "client_id names no active client" in response.text
            assert "location" not in response.headers


class TestRedirectHost:
    @pytest.mark.parametrize(
        ("redirect_uri", "shown"),
        [
            ("https://App.Example:8443/cb", "app.example:8443"),
            ("http://[::1]:8080/cb", "[::1]:8080"),
            ("https://xn--bcher-kva.example/cb", "xn--bcher-kva.example"),
        ],
    )
    def test_the_page_names_the_host_the_browser_goes_to(
        self, http: TestClient, api: ApiUser, operator: str, redirect_uri: str, shown: str
    ) -> None:
        page = http.get(authorize_url(api.credentials.client_id, redirect_uri))
        consent = http.get(sign_in(http, page.text).headers["location"])
        assert f"you go back to\n{shown}." in consent.text


class TestSignInLimits:
    def test_failures_per_address_are_limited_without_hashing(
        self,
        http: TestClient,
        api: ApiUser,
        operator: str,
        clock: ManualClock,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        page = http.get(authorize_url(api.credentials.client_id)).text
        for attempt in range(5):
            # Spellings of one address share one count.
            email = EMAIL if attempt % 2 else EMAIL.upper()
            assert sign_in(http, page, email, f"wrong password {attempt}").status_code == 401
        checks = count_password_checks(monkeypatch)
        refused = sign_in(http, page)
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("text/html")
        assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
        assert "Too many failed sign-ins" in refused.text
        assert "set-cookie" not in refused.headers
        assert checks == []  # refused before argon2 ran
        # Another address is not affected.
        assert sign_in(http, page, "nobody@example.com", PASSWORD).status_code == 401
        clock.advance(minutes=15)
        assert sign_in(http, page).status_code == 303

    def test_an_unknown_address_is_limited_alike(
        self, http: TestClient, api: ApiUser, operator: str
    ) -> None:
        """The limit does not tell which addresses exist."""
        page = http.get(authorize_url(api.credentials.client_id)).text
        answers = [sign_in(http, page, "nobody@example.com").status_code for _ in range(6)]
        assert answers == [401] * 5 + [429]

    def test_a_successful_sign_in_does_not_count(
        self, http: TestClient, api: ApiUser, operator: str
    ) -> None:
        page = http.get(authorize_url(api.credentials.client_id)).text
        for _ in range(4):
            assert sign_in(http, page, password="wrong password!").status_code == 401
        for _ in range(3):
            assert sign_in(http, page).status_code == 303
        assert sign_in(http, page, password="wrong password!").status_code == 401
        assert sign_in(http, page).status_code == 429

    def test_failures_per_client_address_are_limited(
        self,
        http: TestClient,
        api: ApiUser,
        operator: str,
        clock: ManualClock,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # A cheap dummy hash for the unknown addresses (argon2 reads its cost from the hash).
        cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("x" * 12)
        monkeypatch.setattr(service, "_unknown_operator_hash", lambda: cheap)
        page = http.get(authorize_url(api.credentials.client_id)).text
        for n in range(20):
            assert sign_in(http, page, f"guess{n}@example.com").status_code == 401
        refused = sign_in(http, page)
        assert refused.status_code == 429
        assert "retry-after" in refused.headers
        clock.advance(minutes=15)
        assert sign_in(http, page).status_code == 303

    def test_few_password_checks_run_at_once(
        self, app: FastAPI, http: TestClient, api: ApiUser, operator: str
    ) -> None:
        """argon2 holds 64 MiB per check: parallel sign-ins wait for one of two slots."""
        page = http.get(authorize_url(api.credentials.client_id)).text
        gate = PasswordGate()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(service, "_passwords", lambda: gate)
            answers: list[int] = []
            workers = [
                threading.Thread(
                    target=lambda n=n: answers.append(
                        sign_in(http, page, password=f"wrong password {n}").status_code
                    )
                )
                for n in range(5)
            ]
            for worker in workers:
                worker.start()
            try:
                # Every request either checks its password or waits for a slot, unless more
                # checks than allowed run at once. The deadline only keeps a broken test from
                # hanging; nothing here is timed.
                deadline = time.monotonic() + 30
                with gate.changed:
                    while not (gate.running > 2 or (gate.running == 2 and waiting(app) == 3)):
                        assert time.monotonic() < deadline, "the sign-ins never settled"
                        gate.changed.wait(0.01)
                    assert gate.running == 2
            finally:
                gate.open()
                for worker in workers:
                    worker.join()
        assert answers == [401] * 5
        assert gate.most == 2


def waiting(app: FastAPI) -> int:
    """Sign-ins waiting for a password-check slot."""
    guard = getattr(app.state, "sign_in_guard", None)
    return 0 if guard is None else int(guard.waiting)


class PasswordGate:
    """A stand-in for argon2 that holds each check until opened, counting those running."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.running = 0
        self.most = 0
        self._open = False

    def verify(self, stored: str, password: str) -> bool:
        with self.changed:
            self.running += 1
            self.most = max(self.most, self.running)
            self.changed.notify_all()
            # A long bound, not a timing: it only keeps a broken test from hanging.
            self.changed.wait_for(lambda: self._open, timeout=30)
            self.running -= 1
        raise VerifyMismatchError

    def open(self) -> None:
        with self.changed:
            self._open = True
            self.changed.notify_all()


def count_password_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The password checks made from now on (each still runs argon2)."""
    checks: list[str] = []
    real = service._passwords()

    class Counting:
        def verify(self, stored: str, password: str) -> bool:
            checks.append(password)
            return real.verify(stored, password)

        def hash(self, password: str) -> str:
            return real.hash(password)

    monkeypatch.setattr(service, "_passwords", Counting)
    return checks
