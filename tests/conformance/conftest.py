"""Fixtures: a real ``reach serve`` process per backend, and SDK clients that check every answer.

The server is set up the way an operator would do it, with the ``reach`` command line, and
called the way a user would, with the official SDK changed in nothing but its host. Each SDK
client records its HTTP exchanges and checks every JSON answer against the vendored OpenAPI
contract as it arrives, so a call that succeeds has also passed the contract.

The sizes need event data: a second server per backend (``sized_server``) serves an index built
with the command line over ``reach demo-data`` files, which the independent oracle of
``tests/engine/oracle.py`` reads too, so every size can be compared with the oracle's count.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.builders import Credentials
from tests.conftest import POSTGRES_ADMIN, postgres_available
from tests.engine.oracle import Oracle
from tests.openapi import assert_conforms
from tests.sdk_lines import sdk_module
from tests.server import reach, running_server, server_environment

ADVERTISER = "1001"
OTHER_ADVERTISER = "1002"
ADVERTISER_NAMES = {ADVERTISER: "A", OTHER_ADVERTISER: "B"}
BRAND_ID = "1"
BRAND_NAME = "Nike"
BEHAVIORAL_NAME = "Holiday shoppers"
RESOURCE_TYPE = "AudienceSegment"
AUDIENCE_TYPE = "Audience"
LINK_TYPE = "AdSetAudienceLink"
AD_SET = "5001"
SECOND_AD_SET = "5002"
OTHER_AD_SET = "5003"
AD_SETS = {AD_SET: ADVERTISER, SECOND_AD_SET: ADVERTISER, OTHER_AD_SET: OTHER_ADVERTISER}


def create_client(env: dict[str, str], name: str, advertiser: str, *flags: str) -> Credentials:
    """``reach clients create``: the credentials it prints once, as JSON."""
    printed = json.loads(
        reach(env, "clients", "create", "--name", name, "--advertiser", advertiser, *flags)
    )
    return Credentials(printed["client_id"], printed["client_secret"], printed["advertisers"])


@dataclass(frozen=True)
class ReachServer:
    """A running server, the environment it was set up with, and its four API clients."""

    backend: str
    url: str
    env: dict[str, str]
    data_dir: Path
    manager: Credentials
    reader: Credentials
    other: Credentials
    agency: Credentials


BACKENDS = ["sqlite", "postgresql"]


@contextmanager
def metadata_database(backend: str) -> Iterator[str | None]:
    """The metadata store of a server: None for the default (SQLite in the data directory),
    else the URL of a fresh PostgreSQL database, dropped when the block ends."""
    if backend == "sqlite":
        yield None
        return
    if not postgres_available():
        if os.environ.get("REACH_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but unreachable at {POSTGRES_ADMIN}")
        pytest.skip("PostgreSQL is not reachable (set REACH_REQUIRE_POSTGRES=1 to fail instead)")
    name = f"reach_conformance_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=BACKENDS)
def server_database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The metadata store of the server (see ``metadata_database``)."""
    with metadata_database(request.param) as url:
        yield url


@pytest.fixture(scope="session")
def reach_server(
    server_database: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReachServer]:
    """One server per backend for the whole session, set up with the ``reach`` command line."""
    backend = "sqlite" if server_database is None else "postgresql"
    data_dir = tmp_path_factory.mktemp(f"reach-{backend}")
    env = server_environment(data_dir, server_database)
    reach(env, "db", "upgrade")
    for advertiser_id, name in ADVERTISER_NAMES.items():
        reach(env, "advertisers", "add", advertiser_id, "--name", name)
    reach(env, "brands", "add", BRAND_ID, "--name", BRAND_NAME)
    reach(
        env,
        "behavioral",
        "add",
        "--advertiser",
        ADVERTISER,
        "--name",
        BEHAVIORAL_NAME,
        "--category",
        "Seasonal",
        "--country",
        "FR",
    )
    for ad_set_id, advertiser_id in AD_SETS.items():
        reach(env, "adsets", "add", ad_set_id, "--advertiser", advertiser_id, "--name", ad_set_id)
    manager = create_client(env, "conformance", ADVERTISER)
    reader = create_client(env, "conformance-reader", ADVERTISER, "--read-only")
    other = create_client(env, "conformance-other", OTHER_ADVERTISER)
    agency = create_client(env, "conformance-agency", ADVERTISER, "--advertiser", OTHER_ADVERTISER)
    with running_server(env, data_dir / "server.log") as server:
        yield ReachServer(backend, server.url, env, data_dir, manager, reader, other, agency)


# --- a second server, with an index over demo data, for the sizes -------------------------

# The demo data set of the sized server: small, deterministic, ending on a fixed past day (so
# every size answer also warns that its data is old, REACH_INDEX_MAX_AGE_HOURS).
DEMO_END_DATE = "2025-03-31"
DEMO_OPTIONS = ("--users", "3000", "--days", "40", "--advertisers", "3", "--seed", "9")
SIZED_ADVERTISERS = (ADVERTISER, OTHER_ADVERTISER, "1003")
# What ``reach ingest`` is given, in order: kind and file pattern in the demo directory.
DEMO_FILES = (
    ("brands", "brands.parquet"),
    ("products", "products.parquet"),
    ("users", "users.parquet"),
    ("identities", "identities.parquet"),
    ("events", "events-*.parquet"),
    ("pings", "pings-*.parquet"),
    ("behavioral", "behavioral.parquet"),
)
SIZED_BEHAVIORAL = ("Seasonal shoppers in France", "Seasonal", "FR")


def ingest_rejections(printed: str) -> dict[str, int]:
    """The rejected rows per file of the table ``reach ingest`` prints."""
    rejected: dict[str, int] = {}
    for line in printed.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if len(cells) >= 3 and cells[0].endswith(".parquet"):
            rejected[cells[0]] = int(cells[2])
    return rejected


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``reach demo-data``: the raw files, written once for the session (both backends)."""
    root = tmp_path_factory.mktemp("demo")
    out = root / "files"
    env = server_environment(root / "unused", None)
    reach(env, "demo-data", *DEMO_OPTIONS, "--out", str(out), "--end-date", DEMO_END_DATE)
    return out


@pytest.fixture(scope="session")
def oracle(demo_data: Path) -> Oracle:
    """The independent DuckDB oracle over the same raw files the sized server ingested."""
    return Oracle(demo_data)


@dataclass(frozen=True)
class SizedServer:
    """A running server with an index in service, and its API clients."""

    backend: str
    url: str
    env: dict[str, str]
    data_dir: Path
    manager: Credentials  # manages 1001, 1002 and 1003
    reader: Credentials  # reads 1001 only
    other: Credentials  # manages 1002 only


@pytest.fixture(scope="session", params=BACKENDS)
def sized_database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The metadata store of the sized server, apart from the conformance server's."""
    with metadata_database(request.param) as url:
        yield url


@pytest.fixture(scope="session")
def sized_server(
    sized_database: str | None, demo_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SizedServer]:
    """One server per backend whose data directory holds an index over the demo data, set up
    the way an operator does it: ingest every file, build the index, register advertisers."""
    backend = "sqlite" if sized_database is None else "postgresql"
    data_dir = tmp_path_factory.mktemp(f"reach-sized-{backend}")
    env = server_environment(data_dir, sized_database) | {
        "REACH_MIN_REPORTED_SIZE": "0",
        "REACH_RATE_LIMIT_PER_MINUTE": "0",
        # Sizes are compared with the oracle's: exact, as in a sandbox (docs/privacy.md).
        "REACH_SIZE_PRIVACY": "exact",
    }
    reach(env, "db", "upgrade")
    # In this order: products name brands, and events name users and products.
    for kind, pattern in DEMO_FILES:
        files = sorted(demo_data.glob(pattern))
        assert files, f"reach demo-data wrote no {pattern}"
        rejected = ingest_rejections(reach(env, "ingest", kind, *map(str, files)))
        assert rejected == dict.fromkeys((f.name for f in files), 0), rejected
    reach(env, "index", "build")
    for advertiser_id in SIZED_ADVERTISERS:
        reach(env, "advertisers", "add", advertiser_id, "--name", f"Demo {advertiser_id}")
    name, category, country = SIZED_BEHAVIORAL
    reach(
        env,
        "behavioral",
        "add",
        "--advertiser",
        ADVERTISER,
        "--name",
        name,
        "--category",
        category,
        "--country",
        country,
    )
    others = [flag for a in SIZED_ADVERTISERS[1:] for flag in ("--advertiser", a)]
    manager = create_client(env, "sizes", SIZED_ADVERTISERS[0], *others)
    reader = create_client(env, "sizes-reader", ADVERTISER, "--read-only")
    other = create_client(env, "sizes-other", OTHER_ADVERTISER)
    with running_server(env, data_dir / "server.log") as server:
        yield SizedServer(backend, server.url, env, data_dir, manager, reader, other)


# --- the SDK --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """One HTTP call the SDK made, as it went over the wire."""

    method: str
    path: str
    request_body: Any
    status: int
    headers: dict[str, str]
    body: Any


RECORDED = "_reach_conformance_recorded"

# The SDK line the conformance suite drives unless a test names another (tests/sdk_lines.py).
BASE_LINE = "2025.1"


@cache
def model(name: str, line: str = BASE_LINE) -> Any:
    """The SDK model class ``name`` of ``line`` (``model("AlgebraNodeV1", "2027.1")``): every
    line names its models, and their modules, alike."""
    module = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    return getattr(sdk_module(line, f"model.{module}"), name)


def _json(raw: bytes | str | None) -> Any:
    return json.loads(raw) if raw else None


class Sdk:
    """One official SDK client built as a user builds it, and the four APIs Reach serves.

    ``line`` is the SDK build it comes from (a key of ``SDK_LINES``): its APIs call that line's
    API version, and the helpers below build their requests from that line's models.
    Every HTTP exchange, the token requests included, is recorded in ``exchanges`` and its JSON
    answer checked against the OpenAPI contract before the SDK deserialises it.
    """

    def __init__(self, credentials: Credentials, host: str, line: str = BASE_LINE) -> None:
        self.credentials = credentials
        self.line = line
        self.client: Any = sdk_module(line).ApiClientBuilder.WithClientCredentials(
            credentials.client_id, credentials.client_secret, host=host
        )
        self.audience: Any = sdk_module(line, "api.audience_api").AudienceApi(self.client)
        self.advertiser: Any = sdk_module(line, "api.advertiser_api").AdvertiserApi(self.client)
        self.gateway: Any = sdk_module(line, "api.gateway_api").GatewayApi(self.client)
        self.campaign: Any = sdk_module(line, "api.campaign_api").CampaignApi(self.client)
        self.exchanges: list[Exchange] = []
        self._observe(self.client.rest_client)

    def model(self, name: str) -> Any:
        """The model class ``name`` of this client's SDK line."""
        return model(name, self.line)

    def _observe(self, rest: Any) -> None:
        send = rest.request
        api_exception = sdk_module(self.line, "exceptions").ApiException
        rest_response = sdk_module(self.line, "rest").RESTResponse

        def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            def record(status: int, headers: Any, raw: bytes | None) -> None:
                exchange = Exchange(
                    method=method,
                    path=urlsplit(url).path,
                    request_body=kwargs.get("body"),
                    status=status,
                    headers={k.lower(): v for k, v in dict(headers or {}).items()},
                    body=_json(raw),
                )
                self.exchanges.append(exchange)
                assert_conforms(
                    method, exchange.path, status, exchange.body, exchange.headers.get("x-trace-id")
                )

            try:
                response = send(method, url, *args, **kwargs)
            except api_exception as exc:
                # A failed token request surfaces again from the call that needed the token.
                if not getattr(exc, RECORDED, False):
                    setattr(exc, RECORDED, True)
                    record(exc.status, exc.headers, exc.body)
                raise
            if isinstance(response, rest_response):
                record(response.status, response.getheaders(), response.data)
            return response

        rest.request = request

    def api_calls(self) -> list[Exchange]:
        """The recorded exchanges other than token requests."""
        return [e for e in self.exchanges if e.path != "/oauth2/token"]

    def close(self) -> None:
        self.client.close()
        self.client.rest_client.pool_manager.clear()

    # --- the audience-segment operations, from SDK models ----------------------------------

    def create(self, *entities: Any) -> Any:
        """CreateAudienceSegments with one item per ``AudienceSegmentCreateEntityV1``."""
        return self.audience.create_audience_segments(
            self.model("AudienceSegmentBulkCreateInputV1")(
                data=[
                    self.model("AudienceSegmentCreateEntityV1Resource")(
                        type=RESOURCE_TYPE, attributes=entity
                    )
                    for entity in entities
                ]
            )
        )

    def create_one(self, entity: Any) -> Any:
        """Create one segment that must succeed; the created resource."""
        response = self.create(entity)
        assert response.errors == [], response.errors
        assert len(response.data) == 1
        return response.data[0]

    def update(self, *items: tuple[str, Any]) -> Any:
        """UpdateAudienceSegments with one item per (id, ``AudienceSegmentUpdateEntityV1``)."""
        return self.audience.update_audience_segments(
            self.model("AudienceSegmentBulkUpdateInputV1")(
                data=[
                    self.model("AudienceSegmentUpdateEntityV1Resource")(
                        id=segment_id, type=RESOURCE_TYPE, attributes=attributes
                    )
                    for segment_id, attributes in items
                ]
            )
        )

    def delete(self, *segment_ids: str) -> Any:
        """DeleteAudienceSegments with one item per id."""
        return self.audience.delete_audience_segments(
            self.model("AudienceSegmentBulkDeleteInputV1")(
                data=[
                    self.model("AudienceSegmentDeleteEntityV1Resource")(
                        id=segment_id, type=RESOURCE_TYPE
                    )
                    for segment_id in segment_ids
                ]
            )
        )

    def search(
        self,
        *,
        advertiser_ids: list[str] | None = None,
        segment_ids: list[str] | None = None,
        types: list[str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> Any:
        """SearchAudienceSegments; only the filters given are sent."""
        filters: dict[str, Any] = {}
        if advertiser_ids is not None:
            filters["advertiser_ids"] = advertiser_ids
        if segment_ids is not None:
            filters["audience_segment_ids"] = segment_ids
        if types is not None:
            filters["audience_segment_types"] = types
        paging: dict[str, int] = {}
        if limit is not None:
            paging["limit"] = limit
        if offset is not None:
            paging["offset"] = offset
        body = self.model("AudienceSegmentSearchInputV1")(
            data=self.model("AudienceSegmentSearchEntityV1Resource")(
                type=RESOURCE_TYPE,
                attributes=self.model("AudienceSegmentSearchEntityV1")(**filters),
            )
        )
        return self.audience.search_audience_segments(
            audience_segment_search_input_v1=body, **paging
        )

    def search_all(self, **filters: list[str]) -> list[Any]:
        """Every matching segment, paging 100 at a time until ``offset >= totalItems``."""
        found: list[Any] = []
        offset, total = 0, 1
        while offset < total:
            page = self.search(limit=100, offset=offset, **filters)
            found.extend(page.data)
            total = page.meta.total_items
            offset += 100
        return found

    def find(self, segment_id: str) -> Any:
        """The one segment with this id, read back through search."""
        found = self.search(segment_ids=[segment_id])
        assert [s.id for s in found.data] == [segment_id]
        assert found.meta.total_items == 1
        return found.data[0]

    def contact_lists(self, *names: str) -> list[str]:
        """Create one ContactList segment per name in one call; their ids, in order."""
        created = self.create(*(segment(name, contact_list={}) for name in names))
        assert created.errors == [], created.errors
        return [s.id for s in created.data]

    # --- the size operations, from SDK models ----------------------------------------------

    def segment_sizes(self, *segment_ids: str) -> Any:
        """ComputeAudienceSegmentsSizes with one item per id."""
        return self.audience.compute_audience_segments_sizes(
            self.model("AudienceSegmentComputeSizesInputV1")(
                data=[
                    self.model("AudienceSegmentComputeSizeEntityV1Resource")(
                        id=segment_id, type=RESOURCE_TYPE
                    )
                    for segment_id in segment_ids
                ]
            )
        )

    def estimate_segment_size(self, advertiser_id: str = ADVERTISER, **definition: Any) -> Any:
        """EstimateAudienceSegmentsSizes of one definition: ``in_market=InMarketSizeEstimationV1``
        or ``location=LocationSizeEstimationV1``."""
        return self.audience.estimate_audience_segments_sizes(
            self.model("AudienceSegmentEstimateSizeInputV1")(
                data=self.model("AudienceSegmentSizeEstimationEntityV1Resource")(
                    type=RESOURCE_TYPE,
                    attributes=self.model("AudienceSegmentSizeEstimationEntityV1")(
                        advertiser_id=advertiser_id, **definition
                    ),
                )
            )
        )

    def audience_sizes(self, *audience_ids: str) -> Any:
        """ComputeAudiencesSizes with one item per id."""
        return self.audience.compute_audiences_sizes(
            self.model("AudienceComputeSizesInputV1")(
                data=[
                    self.model("AudienceComputeSizeEntityV1Resource")(
                        id=audience_id, type=AUDIENCE_TYPE
                    )
                    for audience_id in audience_ids
                ]
            )
        )

    def estimate_audience_size(self, algebra: Any, advertiser_id: str = ADVERTISER) -> Any:
        """EstimateAudiencesSizes of one ``AlgebraNodeV1``."""
        return self.audience.estimate_audiences_sizes(
            self.model("AudienceEstimateSizeInputV1")(
                data=self.model("AudienceEstimateSizeEntityV1Resource")(
                    type=AUDIENCE_TYPE,
                    attributes=self.model("AudienceEstimateSizeEntityV1")(
                        advertiser_id=advertiser_id, algebra=algebra
                    ),
                )
            )
        )

    # --- the audience operations, from SDK models ------------------------------------------

    def create_audiences(self, *entities: Any) -> Any:
        """CreateAudiences with one item per ``AudienceCreateEntityV1``."""
        return self.audience.create_audiences(
            self.model("AudienceBulkCreateInputV1")(
                data=[
                    self.model("AudienceCreateEntityV1Resource")(
                        type=AUDIENCE_TYPE, attributes=entity
                    )
                    for entity in entities
                ]
            )
        )

    def create_audience(self, entity: Any) -> Any:
        """Create one audience that must succeed; the created resource."""
        response = self.create_audiences(entity)
        assert response.errors == [], response.errors
        assert len(response.data) == 1
        return response.data[0]

    def update_audiences(self, *items: tuple[str, Any]) -> Any:
        """UpdateAudiences with one item per (id, ``AudienceUpdateEntityV1``)."""
        return self.audience.update_audiences(
            self.model("AudienceBulkUpdateInputV1")(
                data=[
                    self.model("AudienceUpdateEntityV1Resource")(
                        id=audience_id, type=AUDIENCE_TYPE, attributes=attributes
                    )
                    for audience_id, attributes in items
                ]
            )
        )

    def delete_audiences(self, *audience_ids: str) -> Any:
        """DeleteAudiences with one item per id."""
        return self.audience.delete_audiences(
            self.model("AudienceBulkDeleteInputV1")(
                data=[
                    self.model("AudienceDeleteEntityV1Resource")(id=audience_id, type=AUDIENCE_TYPE)
                    for audience_id in audience_ids
                ]
            )
        )

    def search_audiences(
        self,
        *,
        audience_ids: list[str] | None = None,
        advertiser_ids: list[str] | None = None,
        segment_ids: list[str] | None = None,
        ad_set_ids: list[str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> Any:
        """SearchAudiences; only the filters given are sent."""
        filters: dict[str, Any] = {}
        if audience_ids is not None:
            filters["audience_ids"] = audience_ids
        if advertiser_ids is not None:
            filters["advertiser_ids"] = advertiser_ids
        if segment_ids is not None:
            filters["audience_segment_ids"] = segment_ids
        if ad_set_ids is not None:
            filters["ad_set_ids"] = ad_set_ids
        paging: dict[str, int] = {}
        if limit is not None:
            paging["limit"] = limit
        if offset is not None:
            paging["offset"] = offset
        body = self.model("AudienceSearchInputV1")(
            data=self.model("AudienceSearchEntityV1Resource")(
                type=AUDIENCE_TYPE, attributes=self.model("AudienceSearchEntityV1")(**filters)
            )
        )
        return self.audience.search_audiences(audience_search_input_v1=body, **paging)

    def search_all_audiences(self, **filters: list[str]) -> list[Any]:
        """Every matching audience, paging 100 at a time until ``offset >= totalItems``."""
        found: list[Any] = []
        offset, total = 0, 1
        while offset < total:
            page = self.search_audiences(limit=100, offset=offset, **filters)
            found.extend(page.data)
            total = page.meta.total_items
            offset += 100
        return found

    def find_audience(self, audience_id: str) -> Any:
        """The one audience with this id, read back through search."""
        found = self.search_audiences(audience_ids=[audience_id])
        assert [a.id for a in found.data] == [audience_id]
        assert found.meta.total_items == 1
        return found.data[0]

    def stored_algebra(self, audience_id: str) -> dict[str, Any]:
        """The algebra of an audience exactly as search puts it on the wire."""
        self.find_audience(audience_id)
        algebra: dict[str, Any] = self.api_calls()[-1].body["data"][0]["attributes"]["algebra"]
        return algebra

    def link(self, ad_set_id: str, audience_id: str | None) -> Any:
        """UpdateAdSetAudience (CampaignApi): link the ad set to an audience, or unlink (None)."""
        return self.campaign.update_ad_set_audience(
            ad_set_id,
            self.model("AdSetAudienceLinkInputEntityV1")(
                data=self.model("AdSetAudienceLinkEntityV1Resource")(
                    id=ad_set_id,
                    type=LINK_TYPE,
                    attributes=self.model("AdSetAudienceLinkEntityV1")(audience_id=audience_id),
                )
            ),
        )


def segment(
    name: str, advertiser_id: str = ADVERTISER, *, line: str = BASE_LINE, **fields: Any
) -> Any:
    """An ``AudienceSegmentCreateEntityV1``, e.g. ``segment("x", contact_list={})``."""
    return model("AudienceSegmentCreateEntityV1", line)(
        advertiser_id=advertiser_id, name=name, **fields
    )


def changes(*, line: str = BASE_LINE, **fields: Any) -> Any:
    """An ``AudienceSegmentUpdateEntityV1``, e.g. ``changes(name="y")``."""
    return model("AudienceSegmentUpdateEntityV1", line)(**fields)


def audience(
    name: str,
    algebra: Any,
    advertiser_id: str = ADVERTISER,
    *,
    line: str = BASE_LINE,
    **fields: Any,
) -> Any:
    """An ``AudienceCreateEntityV1``, e.g. ``audience("x", node({"audienceSegmentId": s}))``."""
    return model("AudienceCreateEntityV1", line)(
        advertiser_id=advertiser_id, name=name, algebra=algebra, **fields
    )


def audience_changes(*, line: str = BASE_LINE, **fields: Any) -> Any:
    """An ``AudienceUpdateEntityV1``, e.g. ``audience_changes(name="y")``."""
    return model("AudienceUpdateEntityV1", line)(**fields)


def node(raw: dict[str, Any], line: str = BASE_LINE) -> Any:
    """The SDK's ``AlgebraNodeV1`` tree of an algebra written as its JSON (``and``, ``or``,
    ``not``, ``audienceSegmentId``), so tests can state the wire form and send it the SDK way
    (of ``line``'s SDK)."""
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "audienceSegmentId":
            fields["audience_segment_id"] = value
        elif key == "not":
            fields["_not"] = node(value, line)
        elif key in ("and", "or"):
            fields[f"_{key}"] = [node(term, line) for term in value]
        else:
            raise ValueError(f"not an algebra member: {key}")
    return model("AlgebraNodeV1", line)(**fields)


def leaf(segment_id: str) -> dict[str, Any]:
    """The JSON algebra node of one segment."""
    return {"audienceSegmentId": segment_id}


def problem_body(exc: Any) -> dict[str, Any]:
    """The JSON body of an error the SDK raised."""
    body: dict[str, Any] = json.loads(exc.body)
    return body


def wire_problems(response: Any) -> list[tuple[str | None, str | None, dict[str, str] | None]]:
    """The (code, type, source) of each problem of a bulk answer, in order."""
    return [(p.code, p.type, p.get("source")) for p in response.errors]


class Connect(Protocol):
    """Builds an SDK client for some credentials, of the 2025.1 line unless told another."""

    def __call__(self, credentials: Credentials, line: str = ..., /) -> Sdk: ...


@contextmanager
def sdk_factory(url: str) -> Iterator[Connect]:
    """Build SDK clients of the server at ``url``; they are closed when the block ends."""
    opened: list[Sdk] = []

    def build(credentials: Credentials, line: str = BASE_LINE) -> Sdk:
        sdk = Sdk(credentials, url, line)
        opened.append(sdk)
        return sdk

    try:
        yield build
    finally:
        for sdk in opened:
            sdk.close()


@pytest.fixture
def connect(reach_server: ReachServer) -> Iterator[Connect]:
    """Build SDK clients for any credentials; they are closed when the test ends."""
    with sdk_factory(reach_server.url) as build:
        yield build


@pytest.fixture
def sized_connect(sized_server: SizedServer) -> Iterator[Connect]:
    """Build SDK clients of the sized server; they are closed when the test ends."""
    with sdk_factory(sized_server.url) as build:
        yield build


@pytest.fixture
def sizer(sized_server: SizedServer, sized_connect: Callable[[Credentials], Sdk]) -> Sdk:
    """A manager of the demo advertisers 1001, 1002 and 1003, on the sized server."""
    return sized_connect(sized_server.manager)


@pytest.fixture
def sdk(reach_server: ReachServer, connect: Callable[[Credentials], Sdk]) -> Sdk:
    """A manager of advertiser 1001 (read and manage scopes)."""
    return connect(reach_server.manager)


@pytest.fixture
def reader_sdk(reach_server: ReachServer, connect: Callable[[Credentials], Sdk]) -> Sdk:
    """A read-only client of advertiser 1001."""
    return connect(reach_server.reader)


@pytest.fixture
def agency_sdk(reach_server: ReachServer, connect: Callable[[Credentials], Sdk]) -> Sdk:
    """A manager of both advertisers, 1001 and 1002."""
    return connect(reach_server.agency)


@pytest.fixture
def unlinked_ad_sets(reach_server: ReachServer, connect: Callable[[Credentials], Sdk]) -> None:
    """Every ad set starts the test linked to no audience, whatever earlier tests left."""
    setup = connect(reach_server.agency)
    for ad_set_id in AD_SETS:
        setup.link(ad_set_id, None)


@pytest.fixture
def other_sdk(reach_server: ReachServer, connect: Callable[[Credentials], Sdk]) -> Sdk:
    """A manager of advertiser 1002 only."""
    return connect(reach_server.other)


_serial = itertools.count(1)


@dataclass
class Names:
    """Segment names unique to one test on one server: the test's id plus a label."""

    prefix: str
    issued: list[str] = field(default_factory=list)

    def __call__(self, label: str) -> str:
        name = f"{self.prefix} #{next(_serial)} {label}"
        self.issued.append(name)
        return name


@pytest.fixture
def names(request: pytest.FixtureRequest) -> Names:
    """Unique segment names for the current test."""
    return Names(request.node.name)


Ids = list[str]


@pytest.fixture
def four(sdk: Sdk, names: Names) -> Ids:
    """Four ContactList segments of advertiser 1001, fresh for the test, for algebras."""
    return sdk.contact_lists(*(names(f"segment {n}") for n in range(4)))


def attributes_of(resource: Any) -> dict[str, Any]:
    """A segment resource's attributes as plain data, without the two timestamps."""
    attributes: dict[str, Any] = resource.attributes.to_dict()
    attributes.pop("created_at")
    attributes.pop("updated_at")
    return attributes


def is_utc(moment: Any) -> bool:
    """Whether ``moment`` is a datetime in UTC (an offset of zero)."""
    return isinstance(moment, datetime) and moment.utcoffset() == timedelta(0)
