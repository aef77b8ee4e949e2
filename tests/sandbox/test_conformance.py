"""The sandbox seen through the official SDK, against a real ``reach serve`` process: injected
faults surface as the SDK's own exceptions, with the answer's body and headers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.request import Request, urlopen

import psycopg
import pytest
from criteo_api_marketingsolutions_v2025_01 import ApiClientBuilder
from criteo_api_marketingsolutions_v2025_01.api.audience_api import AudienceApi
from criteo_api_marketingsolutions_v2025_01.api.gateway_api import GatewayApi
from criteo_api_marketingsolutions_v2025_01.exceptions import ApiException
from criteo_api_marketingsolutions_v2025_01.model.audience_segment_search_entity_v1 import (
    AudienceSegmentSearchEntityV1,
)
from criteo_api_marketingsolutions_v2025_01.model.audience_segment_search_entity_v1_resource import (  # noqa: E501
    AudienceSegmentSearchEntityV1Resource,
)
from criteo_api_marketingsolutions_v2025_01.model.audience_segment_search_input_v1 import (
    AudienceSegmentSearchInputV1,
)

from tests.conftest import POSTGRES_ADMIN, postgres_available
from tests.server import reach, running_server, server_environment

ADVERTISER = "1001"
LATENCY_MS = 300

pytestmark = pytest.mark.conformance


@dataclass(frozen=True)
class Sandboxed:
    url: str
    admin_token: str
    client_id: str
    client_secret: str

    def control(self, method: str, path: str, body: Any = None) -> Any:
        request = Request(
            f"{self.url}/_reach{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {self.admin_token}",
                "Content-Type": "application/json",
            },
        )
        with urlopen(request, timeout=30) as answer:
            return json.load(answer)["data"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The server's metadata store: SQLite in its data dir, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        yield None
        return
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable")
    name = f"reach_sandbox_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def server(database: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandboxed]:
    data_dir = tmp_path_factory.mktemp("sandboxed")
    env = server_environment(data_dir, database) | {"REACH_SANDBOX": "1"}
    reach(env, "db", "upgrade")
    reach(env, "advertisers", "add", ADVERTISER, "--name", "Sandboxed")
    printed = json.loads(
        reach(env, "clients", "create", "--name", "sdk", "--advertiser", ADVERTISER)
    )
    token = reach(env, "admin", "token").strip()
    with running_server(env, data_dir / "server.log") as running:
        yield Sandboxed(running.url, token, printed["client_id"], printed["client_secret"])


@pytest.fixture
def sandbox(server: Sandboxed) -> Sandboxed:
    """The server with no fault rule and an empty journal."""
    server.control("DELETE", "/faults")
    server.control("DELETE", "/journal")
    return server


@pytest.fixture
def sdk(sandbox: Sandboxed) -> Iterator[Any]:
    client = ApiClientBuilder.WithClientCredentials(
        sandbox.client_id, sandbox.client_secret, host=sandbox.url
    )
    yield client
    client.close()


def search(sdk: Any) -> Any:
    body = AudienceSegmentSearchInputV1(
        data=AudienceSegmentSearchEntityV1Resource(
            type="AudienceSegment",
            attributes=AudienceSegmentSearchEntityV1(advertiser_ids=[ADVERTISER]),
        )
    )
    return AudienceApi(sdk).search_audience_segments(audience_segment_search_input_v1=body)


def refused(sdk: Any) -> ApiException:
    with pytest.raises(ApiException) as caught:
        search(sdk)
    return caught.value


def code_of(exc: ApiException) -> str:
    body = json.loads(exc.body)
    [problem] = body["errors"]
    return str(problem["code"])


def test_each_fault_is_the_sdk_s_exception(sandbox: Sandboxed, sdk: Any) -> None:
    sandbox.control(
        "POST",
        "/faults",
        {"operation": "SearchAudienceSegments", "answers": ["429", "500", "503"]},
    )
    too_many, crashed, unavailable = refused(sdk), refused(sdk), refused(sdk)
    assert (too_many.status, code_of(too_many)) == (429, "rate-limit-exceeded")
    assert int(too_many.headers["Retry-After"]) > 0
    assert too_many.headers["x-ratelimit-remaining"] == "0"
    assert int(too_many.headers["x-ratelimit-reset"]) > 0
    assert (crashed.status, code_of(crashed)) == (500, "internal-error")
    assert (unavailable.status, code_of(unavailable)) == (503, "service-unavailable")
    assert unavailable.headers["Retry-After"] == "1"
    # The sequence is spent: the next call goes through.
    assert search(sdk).errors == []
    [rule] = sandbox.control("GET", "/faults")
    assert (rule["fired"], rule["exhausted"]) == (3, True)


def test_an_expired_token_then_a_retry_succeeds(sandbox: Sandboxed, sdk: Any) -> None:
    sandbox.control("POST", "/faults", {"clientId": sandbox.client_id, "answers": ["401-expired"]})
    expired = refused(sdk)
    assert (expired.status, code_of(expired)) == (401, "authorization-token-expired")
    assert search(sdk).errors == []


def test_latency_is_measured_by_the_server(sandbox: Sandboxed, sdk: Any) -> None:
    sandbox.control("POST", "/faults", {"answers": ["latency"], "delayMs": LATENCY_MS})
    assert search(sdk).errors == []
    [entry] = sandbox.control("GET", f"/journal?clientId={sandbox.client_id}")
    assert entry["fault"]["kind"] == "latency"
    assert entry["status"] == 200
    assert entry["durationMs"] >= LATENCY_MS


def test_the_sdk_waits_out_a_503_on_a_get(sandbox: Sandboxed, sdk: Any) -> None:
    """urllib3 under the SDK honours Retry-After on GET calls: the 503 never reaches the
    caller, and the journal shows both tries."""
    sandbox.control(
        "POST",
        "/faults",
        {"operation": "GetCurrentApplication", "answers": ["503"], "retryAfterSeconds": 1},
    )
    application = GatewayApi(sdk).get_current_application()
    assert application.data.attributes.name == "sdk"
    journal = sandbox.control("GET", "/journal")
    assert [(e["operation"], e["status"]) for e in journal] == [
        ("GetCurrentApplication", 503),
        ("GetCurrentApplication", 200),
    ]


def test_the_journal_of_sdk_calls(sandbox: Sandboxed, sdk: Any) -> None:
    search(sdk)
    [entry] = sandbox.control("GET", "/journal")
    assert (entry["clientId"], entry["operation"], entry["apiVersion"]) == (
        sandbox.client_id,
        "SearchAudienceSegments",
        "2025-01",
    )
    assert entry["body"]["data"]["attributes"] == {"advertiserIds": [ADVERTISER]}
