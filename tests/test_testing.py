"""``reach.testing``: the sandbox server and pytest plugin integrators test against."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from criteo_api_marketingsolutions_v2025_01 import ApiClientBuilder
from criteo_api_marketingsolutions_v2025_01.api.advertiser_api import AdvertiserApi
from criteo_api_marketingsolutions_v2025_01.api.audience_api import AudienceApi
from criteo_api_marketingsolutions_v2025_01.exceptions import ServiceException
from criteo_api_marketingsolutions_v2025_01.model.audience_segment_bulk_create_input_v1 import (
    AudienceSegmentBulkCreateInputV1,
)
from criteo_api_marketingsolutions_v2025_01.model.audience_segment_create_entity_v1 import (
    AudienceSegmentCreateEntityV1,
)
from criteo_api_marketingsolutions_v2025_01.model.audience_segment_create_entity_v1_resource import (  # noqa: E501
    AudienceSegmentCreateEntityV1Resource,
)
from criteo_api_marketingsolutions_v2025_01.model.audience_segment_search_entity_v1 import (
    AudienceSegmentSearchEntityV1,
)
from criteo_api_marketingsolutions_v2025_01.model.audience_segment_search_entity_v1_resource import (  # noqa: E501
    AudienceSegmentSearchEntityV1Resource,
)
from criteo_api_marketingsolutions_v2025_01.model.audience_segment_search_input_v1 import (
    AudienceSegmentSearchInputV1,
)

from reach.testing import (
    DEFAULT_ADVERTISER_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    ReachSandbox,
    SandboxSettings,
    reach_command,
)

pytest_plugins = ["pytester"]


@pytest.fixture
def sdk_client(reach_sandbox: ReachSandbox) -> Iterator[object]:
    """The official SDK built as an integrator builds it: fixed credentials, Reach's URL."""
    client = ApiClientBuilder.WithClientCredentials(
        DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, host=reach_sandbox.url
    )
    yield client
    client.close()


class TestReachSandboxFixture:
    def test_it_is_set_up_with_the_fixed_credentials(self, reach_sandbox: ReachSandbox) -> None:
        assert (reach_sandbox.client_id, reach_sandbox.client_secret) == (
            DEFAULT_CLIENT_ID,
            DEFAULT_CLIENT_SECRET,
        )
        assert reach_sandbox.advertiser_id == DEFAULT_ADVERTISER_ID
        assert reach_sandbox.url.startswith("http://127.0.0.1:")
        assert (reach_sandbox.data_dir / "server.log") == reach_sandbox.log_path
        assert reach_sandbox.process.poll() is None

    def test_the_sdk_lists_the_advertiser(self, sdk_client: object) -> None:
        advertisers = AdvertiserApi(sdk_client).list_advertisers()

        assert [(a.id, a.type) for a in advertisers.data] == [(DEFAULT_ADVERTISER_ID, "advertiser")]

    def test_a_segment_created_through_the_sdk_is_found_by_search(
        self, reach_sandbox: ReachSandbox, sdk_client: object
    ) -> None:
        audience = AudienceApi(sdk_client)
        created = audience.create_audience_segments(
            AudienceSegmentBulkCreateInputV1(
                data=[
                    AudienceSegmentCreateEntityV1Resource(
                        type="AudienceSegment",
                        attributes=AudienceSegmentCreateEntityV1(
                            advertiser_id=reach_sandbox.advertiser_id,
                            name="sandbox customers",
                            contact_list={},
                        ),
                    )
                ]
            )
        )
        assert created.errors == []
        [segment_id] = [s.id for s in created.data]

        found = audience.search_audience_segments(
            AudienceSegmentSearchInputV1(
                data=AudienceSegmentSearchEntityV1Resource(
                    type="AudienceSegment",
                    attributes=AudienceSegmentSearchEntityV1(audience_segment_ids=[segment_id]),
                )
            )
        )

        assert [(s.id, s.attributes.name) for s in found.data] == [
            (segment_id, "sandbox customers")
        ]

    def test_the_cli_acts_on_the_running_servers_store(self, reach_sandbox: ReachSandbox) -> None:
        client_id, secret = reach_sandbox.create_client(
            "second", client_id="second-client", client_secret="second-secret-0123456789"
        )
        form = (
            f"grant_type=client_credentials&client_id={client_id}&client_secret={secret}"
        ).encode()

        status, body = reach_sandbox.request(
            "POST", "/oauth2/token", form, {"Content-Type": "application/x-www-form-urlencoded"}
        )

        assert status == 200
        assert body["token_type"] == "Bearer"

    def test_its_own_token_opens_the_api(self, reach_sandbox: ReachSandbox) -> None:
        token = reach_sandbox.access_token()

        status, body = reach_sandbox.request(
            "GET", "/2025-01/advertisers/me", headers={"Authorization": f"Bearer {token}"}
        )

        assert status == 200
        assert [a["id"] for a in body["data"]] == [DEFAULT_ADVERTISER_ID]

    def test_a_wrong_secret_gets_no_token(self, reach_sandbox: ReachSandbox) -> None:
        status, body = reach_sandbox.request(
            "POST",
            "/oauth2/token",
            f"grant_type=client_credentials&client_id={DEFAULT_CLIENT_ID}"
            "&client_secret=not-the-secret".encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )

        assert status in (400, 401)
        assert body is not None


def create_segment(sdk_client: object, advertiser_id: str, name: str) -> str:
    """One ContactList segment made through the SDK; its id."""
    created = AudienceApi(sdk_client).create_audience_segments(
        AudienceSegmentBulkCreateInputV1(
            data=[
                AudienceSegmentCreateEntityV1Resource(
                    type="AudienceSegment",
                    attributes=AudienceSegmentCreateEntityV1(
                        advertiser_id=advertiser_id, name=name, contact_list={}
                    ),
                )
            ]
        )
    )
    assert created.errors == []
    segment_id: str = created.data[0].id
    return segment_id


def search_ids(sdk_client: object, *segment_ids: str) -> list[str]:
    found = AudienceApi(sdk_client).search_audience_segments(
        AudienceSegmentSearchInputV1(
            data=AudienceSegmentSearchEntityV1Resource(
                type="AudienceSegment",
                attributes=AudienceSegmentSearchEntityV1(audience_segment_ids=list(segment_ids)),
            )
        )
    )
    return [s.id for s in found.data]


class TestSandboxControls:
    def test_reset_removes_what_clients_created(
        self, reach_sandbox: ReachSandbox, sdk_client: object
    ) -> None:
        segment_id = create_segment(sdk_client, reach_sandbox.advertiser_id, "before reset")

        counted = reach_sandbox.reset(reach_sandbox.advertiser_id)

        assert counted["audienceSegments"] >= 1
        assert search_ids(sdk_client, segment_id) == []

    def test_an_injected_fault_strikes_the_next_call(
        self, reach_sandbox: ReachSandbox, sdk_client: object
    ) -> None:
        reach_sandbox.inject_fault(
            client_id=reach_sandbox.client_id,
            operation="SearchAudienceSegments",
            answers=["503"],
            retry_after_seconds=0,
        )

        # An id no test creates: the answer does not depend on what other tests left.
        with pytest.raises(ServiceException) as raised:
            search_ids(sdk_client, "999999999")
        assert raised.value.status == 503
        assert search_ids(sdk_client, "999999999") == []

        searches = [
            entry
            for entry in reach_sandbox.journal(client_id=reach_sandbox.client_id)
            if entry["operation"] == "SearchAudienceSegments"
        ]
        assert [entry["status"] for entry in searches[-2:]] == [503, 200]
        reach_sandbox.clear_faults()


class TestSandboxSettings:
    def test_the_defaults_are_the_published_constants(self) -> None:
        settings = SandboxSettings.from_environment({})

        assert (settings.client_id, settings.client_secret, settings.advertiser_id) == (
            DEFAULT_CLIENT_ID,
            DEFAULT_CLIENT_SECRET,
            DEFAULT_ADVERTISER_ID,
        )
        assert settings.database_url is None

    def test_reach_test_variables_override_them(self) -> None:
        settings = SandboxSettings.from_environment(
            {
                "REACH_TEST_CLIENT_ID": "ci-client",
                "REACH_TEST_CLIENT_SECRET": "ci-secret-0123456789",
                "REACH_TEST_ADVERTISER_ID": "42",
                "REACH_TEST_DATABASE_URL": "postgresql+psycopg://ci@db/reach",
            }
        )

        assert (settings.client_id, settings.client_secret, settings.advertiser_id) == (
            "ci-client",
            "ci-secret-0123456789",
            "42",
        )
        assert settings.database_url == "postgresql+psycopg://ci@db/reach"

    def test_the_command_is_this_installations(self) -> None:
        [script] = reach_command()

        assert Path(script) == Path(sys.executable).parent / "reach"


def test_an_integrators_suite_gets_the_fixture_from_the_entry_point(
    pytester: pytest.Pytester,
) -> None:
    """A project that only installs Reach: its conftest chooses the credentials, its test uses
    the official SDK with them."""
    pytester.makeconftest(
        """
        import pytest
        from reach.testing import SandboxSettings

        @pytest.fixture(scope="session")
        def reach_sandbox_settings():
            return SandboxSettings(
                client_id="shop-ci", client_secret="shop-ci-secret-0123456789",
                advertiser_id="77", advertiser_name="Shop",
            )
        """
    )
    pytester.makepyfile(
        textwrap.dedent(
            """
            from criteo_api_marketingsolutions_v2025_01 import ApiClientBuilder
            from criteo_api_marketingsolutions_v2025_01.api.advertiser_api import AdvertiserApi

            def test_the_shop_sees_its_advertiser(reach_sandbox):
                client = ApiClientBuilder.WithClientCredentials(
                    "shop-ci", "shop-ci-secret-0123456789", host=reach_sandbox.url
                )
                answer = AdvertiserApi(client).list_advertisers()
                client.close()
                assert [(a.id, a.attributes.advertiser_name) for a in answer.data] == [
                    ("77", "Shop")
                ]
            """
        )
    )

    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:xdist")

    result.assert_outcomes(passed=1)
