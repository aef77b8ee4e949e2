"""Conformance of the authorization-code and refresh-token grants, driven through the official
SDK's own builders (``WithAuthorizationCode``, ``WithRefreshToken``) against a real server.

The SDK keeps its access token until 15 s after ``expires_in`` by the wall clock, then asks
for a new one: after an authorization code, always with the refresh token of the last answer
(sending the code and redirect_uri again beside it). A test cannot wait that long, so
``expire`` ages the SDK's token the way fifteen minutes would; every later call then refreshes,
and rotation must hold call after call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.builders import Credentials
from tests.conformance.conftest import (
    ADVERTISER,
    OTHER_ADVERTISER,
    RESOURCE_TYPE,
    ReachServer,
    create_client,
    model,
)
from tests.openapi import assert_conforms
from tests.sdk_lines import sdk_module
from tests.server import reach

pytestmark = pytest.mark.conformance

# The SDK lines that have the authorization-code builders.
LINES = ["2025.1", "2027.1"]
REDIRECT_URI = "https://app.example/oauth/callback?tenant=7"


@dataclass(frozen=True)
class TokenCall:
    """One token request the SDK made, and the answer."""

    form: dict[str, str]
    status: int
    body: Any


class OAuthSdk:
    """An SDK client built by one of the OAuth builders, recording its token requests and
    checking every answer against the contract."""

    def __init__(self, client: Any, line: str) -> None:
        self.client = client
        self.line = line
        self.token_calls: list[TokenCall] = []
        self.gateway: Any = sdk_module(line, "api.gateway_api").GatewayApi(client)
        self.advertiser: Any = sdk_module(line, "api.advertiser_api").AdvertiserApi(client)
        self.audience: Any = sdk_module(line, "api.audience_api").AudienceApi(client)
        self._observe(client.rest_client)

    def _observe(self, rest: Any) -> None:
        send = rest.request
        api_exception = sdk_module(self.line, "exceptions").ApiException

        def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            path = urlsplit(url).path
            try:
                response = send(method, url, *args, **kwargs)
            except api_exception as exc:
                self._record(method, path, kwargs, exc.status, exc.headers, exc.body)
                raise
            self._record(
                method, path, kwargs, response.status, response.getheaders(), response.data
            )
            return response

        rest.request = request

    def _record(
        self, method: str, path: str, kwargs: dict[str, Any], status: int, headers: Any, raw: Any
    ) -> None:
        body = json.loads(raw) if raw else None
        trace = {k.lower(): v for k, v in dict(headers or {}).items()}.get("x-trace-id")
        assert_conforms(method, path, status, body, trace)
        if path == "/oauth2/token" and not any(c.body is body for c in self.token_calls):
            self.token_calls.append(TokenCall(dict(kwargs.get("post_params") or []), status, body))

    def expire(self) -> None:
        """Age the SDK's access token past its expiry, as the wall clock would."""
        token = self.client.rest_client.authorization.token
        token.expiration_date = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)

    def advertiser_ids(self) -> list[str]:
        return [a.id for a in self.advertiser.list_advertisers().data]

    def segment_advertisers(self) -> set[str]:
        body = model("AudienceSegmentSearchInputV1", self.line)(
            data=model("AudienceSegmentSearchEntityV1Resource", self.line)(
                type=RESOURCE_TYPE,
                attributes=model("AudienceSegmentSearchEntityV1", self.line)(),
            )
        )
        found = self.audience.search_audience_segments(audience_segment_search_input_v1=body)
        return {s.attributes.advertiser_id for s in found.data}

    def grants(self) -> list[str]:
        return [c.form["grant_type"] for c in self.token_calls]


def api_exception(line: str) -> type[Exception]:
    exception: type[Exception] = sdk_module(line, "exceptions").ApiException
    return exception


@dataclass(frozen=True)
class Consented:
    """A fresh client of ADVERTISER, consented by ``reach consent grant`` to OTHER_ADVERTISER."""

    server: ReachServer
    credentials: Credentials
    code: str


@pytest.fixture
def consented(reach_server: ReachServer, request: pytest.FixtureRequest) -> Consented:
    credentials = create_client(reach_server.env, f"oauth {request.node.name}", ADVERTISER)
    printed = json.loads(
        reach(
            reach_server.env,
            "consent",
            "grant",
            "--client",
            credentials.client_id,
            "--advertiser",
            OTHER_ADVERTISER,
            "--redirect-uri",
            REDIRECT_URI,
            "--state",
            "st 1&2",
        )
    )
    query = parse_qs(urlsplit(printed["redirect"]).query)
    assert query == {"tenant": ["7"], "code": [printed["code"]], "state": ["st 1&2"]}
    return Consented(reach_server, credentials, printed["code"])


@pytest.fixture
def opened() -> Iterator[list[OAuthSdk]]:
    clients: list[OAuthSdk] = []
    yield clients
    for sdk in clients:
        sdk.client.close()
        sdk.client.rest_client.pool_manager.clear()


def with_code(consented: Consented, line: str, opened: list[OAuthSdk]) -> OAuthSdk:
    creds = consented.credentials
    builder = sdk_module(line, "api_client_builder").ApiClientBuilder
    client = builder.WithAuthorizationCode(
        creds.client_id,
        creds.client_secret,
        consented.code,
        REDIRECT_URI,
        host=consented.server.url,
    )
    opened.append(OAuthSdk(client, line))
    return opened[-1]


def with_refresh_token(
    consented: Consented, line: str, refresh_token: str, opened: list[OAuthSdk]
) -> OAuthSdk:
    creds = consented.credentials
    builder = sdk_module(line, "api_client_builder").ApiClientBuilder
    client = builder.WithRefreshToken(
        creds.client_id, creds.client_secret, refresh_token, host=consented.server.url
    )
    opened.append(OAuthSdk(client, line))
    return opened[-1]


def consent_id_of(env: dict[str, str], client_id: str) -> str:
    """The id of the client's consent, from the table ``reach consent list`` prints."""
    for line in reach(env, "consent", "list").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if len(cells) > 1 and cells[1] == client_id:
            return cells[0]
    raise AssertionError(f"no consent of {client_id} listed")


@pytest.mark.parametrize("line", LINES)
class TestAuthorizationCodeFlow:
    def test_a_code_then_a_rotated_refresh_token_before_each_call(
        self, consented: Consented, line: str, opened: list[OAuthSdk]
    ) -> None:
        sdk = with_code(consented, line, opened)

        assert sdk.gateway.get_current_application().data.attributes.name.startswith("oauth ")
        sdk.expire()
        assert sdk.advertiser_ids() == [OTHER_ADVERTISER]
        sdk.expire()
        assert sdk.segment_advertisers() <= {OTHER_ADVERTISER}
        sdk.expire()
        assert sdk.advertiser_ids() == [OTHER_ADVERTISER]

        assert sdk.grants() == ["authorization_code"] + ["refresh_token"] * 3
        assert all(c.status == 200 for c in sdk.token_calls)
        issued = [c.body["refresh_token"] for c in sdk.token_calls]
        assert len(set(issued)) == len(issued)
        for previous, call in zip(sdk.token_calls, sdk.token_calls[1:], strict=False):
            # Each refresh presents the token of the answer before, and the SDK's extra
            # members (the code and redirect_uri again) are ignored.
            assert call.form["refresh_token"] == previous.body["refresh_token"]
            assert call.form["code"] == consented.code
        assert sdk.client.get_refresh_token() == issued[-1]

    def test_with_refresh_token_from_an_earlier_client(
        self, consented: Consented, line: str, opened: list[OAuthSdk]
    ) -> None:
        first = with_code(consented, line, opened)
        assert first.advertiser_ids() == [OTHER_ADVERTISER]
        handed_over = first.client.get_refresh_token()
        assert isinstance(handed_over, str)

        second = with_refresh_token(consented, line, handed_over, opened)
        for _ in range(3):
            assert second.advertiser_ids() == [OTHER_ADVERTISER]
            second.expire()
        assert second.grants() == ["refresh_token"] * 3
        assert second.token_calls[0].form["refresh_token"] == handed_over

        # The first client still holds the refresh token the second one rotated: presenting it
        # is a reuse, refused, and it ends every token of the consent.
        first.expire()
        with pytest.raises(api_exception(line)) as raised:
            first.advertiser_ids()
        assert raised.value.status == 400  # type: ignore[attr-defined]
        assert first.token_calls[-1].body["error"] == "invalid_grant"
        with pytest.raises(api_exception(line)) as raised:
            second.advertiser_ids()
        assert raised.value.status == 400  # type: ignore[attr-defined]
        assert second.token_calls[-1].body["error"] == "invalid_grant"

    def test_revoking_the_consent_ends_the_sdks_tokens(
        self, consented: Consented, line: str, opened: list[OAuthSdk]
    ) -> None:
        sdk = with_code(consented, line, opened)
        assert sdk.advertiser_ids() == [OTHER_ADVERTISER]
        env = consented.server.env
        reach(env, "consent", "revoke", consent_id_of(env, consented.credentials.client_id))

        # The access token it holds is refused at once...
        with pytest.raises(api_exception(line)) as raised:
            sdk.advertiser_ids()
        assert raised.value.status == 401  # type: ignore[attr-defined]
        body = json.loads(raised.value.body)  # type: ignore[attr-defined]
        assert body["errors"][0]["code"] == "authorization-token-invalid"
        # ...and so is its refresh token.
        sdk.expire()
        with pytest.raises(api_exception(line)) as raised:
            sdk.advertiser_ids()
        assert raised.value.status == 400  # type: ignore[attr-defined]
        assert sdk.token_calls[-1].body["error"] == "invalid_grant"

    def test_a_code_works_once(
        self, consented: Consented, line: str, opened: list[OAuthSdk]
    ) -> None:
        assert with_code(consented, line, opened).advertiser_ids() == [OTHER_ADVERTISER]
        again = with_code(consented, line, opened)
        with pytest.raises(api_exception(line)) as raised:
            again.advertiser_ids()
        assert raised.value.status == 400  # type: ignore[attr-defined]
        assert again.token_calls[-1].body["error"] == "invalid_grant"
