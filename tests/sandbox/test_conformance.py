"""The sandbox seen through the official SDK, against a real ``reach serve`` process: injected
faults surface as the SDK's own exceptions, with the answer's body and headers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

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

from reach.testing import ReachSandbox, SandboxSettings, run_sandbox
from tests.conformance.conftest import BACKENDS, metadata_database

ADVERTISER = "1001"
LATENCY_MS = 300

pytestmark = pytest.mark.conformance


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReachSandbox]:
    """A sandboxed server (``reach.testing``) on each backend's metadata store."""
    with (
        metadata_database(request.param) as database_url,
        run_sandbox(
            tmp_path_factory.mktemp("sandboxed"),
            SandboxSettings(client_id="sdk-client", client_name="sdk", database_url=database_url),
        ) as sandbox,
    ):
        yield sandbox


@pytest.fixture
def sandbox(server: ReachSandbox) -> ReachSandbox:
    """The server with no fault rule and an empty journal."""
    server.clear_faults()
    server.admin("DELETE", "/_reach/journal")
    return server


@pytest.fixture
def sdk(sandbox: ReachSandbox) -> Iterator[Any]:
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


def test_each_fault_is_the_sdk_s_exception(sandbox: ReachSandbox, sdk: Any) -> None:
    sandbox.admin(
        "POST",
        "/_reach/faults",
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
    [rule] = sandbox.admin("GET", "/_reach/faults")
    assert (rule["fired"], rule["exhausted"]) == (3, True)


def test_an_expired_token_then_a_retry_succeeds(sandbox: ReachSandbox, sdk: Any) -> None:
    sandbox.admin(
        "POST", "/_reach/faults", {"clientId": sandbox.client_id, "answers": ["401-expired"]}
    )
    expired = refused(sdk)
    assert (expired.status, code_of(expired)) == (401, "authorization-token-expired")
    assert search(sdk).errors == []


def test_latency_is_measured_by_the_server(sandbox: ReachSandbox, sdk: Any) -> None:
    sandbox.admin("POST", "/_reach/faults", {"answers": ["latency"], "delayMs": LATENCY_MS})
    assert search(sdk).errors == []
    [entry] = sandbox.admin("GET", f"/_reach/journal?clientId={sandbox.client_id}")
    assert entry["fault"]["kind"] == "latency"
    assert entry["status"] == 200
    assert entry["durationMs"] >= LATENCY_MS


def test_the_sdk_waits_out_a_503_on_a_get(sandbox: ReachSandbox, sdk: Any) -> None:
    """urllib3 under the SDK honours Retry-After on GET calls: the 503 never reaches the
    caller, and the journal shows both tries."""
    sandbox.admin(
        "POST",
        "/_reach/faults",
        {"operation": "GetCurrentApplication", "answers": ["503"], "retryAfterSeconds": 1},
    )
    application = GatewayApi(sdk).get_current_application()
    assert application.data.attributes.name == "sdk"
    journal = sandbox.admin("GET", "/_reach/journal")
    assert [(e["operation"], e["status"]) for e in journal] == [
        ("GetCurrentApplication", 503),
        ("GetCurrentApplication", 200),
    ]


def test_the_journal_of_sdk_calls(sandbox: ReachSandbox, sdk: Any) -> None:
    search(sdk)
    [entry] = sandbox.admin("GET", "/_reach/journal")
    assert (entry["clientId"], entry["operation"], entry["apiVersion"]) == (
        sandbox.client_id,
        "SearchAudienceSegments",
        "2025-01",
    )
    assert entry["body"]["data"]["attributes"] == {"advertiserIds": [ADVERTISER]}
