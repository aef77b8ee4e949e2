"""Only an admin token opens the sandbox controls, and only when the sandbox is on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from reach.sandbox.auth import ADMIN_AUDIENCE, ADMIN_ISSUER
from reach.sandbox.service import Sandbox
from tests.builders import ManualClock
from tests.conftest import ApiUser
from tests.sandbox.conftest import Admin, problem

CONTROLS = [("POST", "/reset"), ("GET", "/faults"), ("DELETE", "/faults"), ("GET", "/journal")]


@pytest.mark.parametrize(("method", "path"), CONTROLS)
class TestRefused:
    def test_without_a_token(self, http: TestClient, api: ApiUser, method: str, path: str) -> None:
        response = http.request(method, f"/_reach{path}")
        assert response.status_code == 401
        assert problem(response)["code"] == "authorization-token-missing"
        assert problem(response)["type"] == "authentication"

    def test_with_a_client_access_token(
        self, http: TestClient, api: ApiUser, method: str, path: str
    ) -> None:
        response = http.request(method, f"/_reach{path}", headers=api.headers())
        assert response.status_code == 403
        assert problem(response)["code"] == "admin-token-required"
        assert problem(response)["type"] == "authorization"

    def test_with_a_forged_token(
        self, http: TestClient, api: ApiUser, method: str, path: str, clock: ManualClock
    ) -> None:
        now = int(clock.now().timestamp())
        claims = {"iss": ADMIN_ISSUER, "aud": ADMIN_AUDIENCE, "sub": "x", "exp": now + 3600}
        forged = jwt.encode(claims, "a key that is not the server's" * 2, algorithm="HS256")
        response = http.request(
            method, f"/_reach{path}", headers={"Authorization": f"Bearer {forged}"}
        )
        assert response.status_code == 401
        assert problem(response)["code"] == "authorization-token-invalid"

    def test_with_an_expired_admin_token(
        self, http: TestClient, sandbox: Sandbox, clock: ManualClock, method: str, path: str
    ) -> None:
        token = sandbox.admin.issue(hours=1)
        clock.advance(hours=1)
        response = http.request(
            method, f"/_reach{path}", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401
        assert problem(response)["code"] == "authorization-token-expired"


def test_an_admin_token_is_no_access_token(admin: Admin, http: TestClient, api: ApiUser) -> None:
    response = http.post(
        "/2025-01/marketing-solutions/audience-segments/search",
        json={},
        headers={"Authorization": f"Bearer {admin.token}"},
    )
    assert response.status_code == 401
    assert problem(response)["code"] == "authorization-token-invalid"


def test_the_admin_token_opens_them(admin: Admin) -> None:
    assert admin.faults() == []
    assert admin.journal() == []


def test_admin_tokens_live_as_long_as_asked(sandbox: Sandbox, clock: ManualClock) -> None:
    token = sandbox.admin.issue(hours=2)
    clock.advance(seconds=timedelta(hours=2).total_seconds() - 1)
    sandbox.admin.verify(token)
    with pytest.raises(ValueError, match="hours"):
        sandbox.admin.issue(hours=0)


class TestSandboxOff:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"sandbox": False}

    @pytest.mark.parametrize(("method", "path"), CONTROLS)
    def test_the_controls_are_not_there(self, http: TestClient, method: str, path: str) -> None:
        response = http.request(method, f"/_reach{path}")
        assert response.status_code == 404
        assert problem(response)["code"] == "not-found"
        assert problem(response)["type"] == "validation"

    def test_nothing_of_the_sandbox_runs(self, app: Any, api: ApiUser) -> None:
        assert app.state.sandbox is None
        assert (
            api.post("/2025-01/marketing-solutions/audience-segments/search", {}).status_code == 200
        )
