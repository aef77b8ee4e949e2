"""The official spec, driven by schemathesis: every operation of the 2025-01 contract, with
requests built from its schemas (valid and invalid), never gets a 5xx, and every answer the
contract describes (its 200s) matches the contract's schema.

The server is Reach on SQLite over a small built index, seeded with segments of every type, an
audience and an ad set, so generated path ids sometimes name something that exists. Examples are
few per operation and derandomized: the run is the same on every machine and adds seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from reach.app import create_app
from reach.config import Settings
from reach.schema import upgrade_to_head
from tests.builders import (
    AUDIENCES,
    SEGMENTS,
    ManualClock,
    add_ad_set,
    add_advertiser,
    add_brand,
    audience,
    create_segments,
    item,
    leaf,
    new_client,
    retargeting,
)
from tests.conftest import TEST_SECRET_KEY, ApiUser
from tests.indexed import ADVERTISERS
from tests.openapi import spec

ADVERTISER = ADVERTISERS[0]
OTHER_ADVERTISER = ADVERTISERS[1]
AD_SET = 7001
# Generated cases per operation, beside the ones schemathesis derives from the schema's
# boundaries (its coverage phase): enough to reach every validation path, few enough for CI.
EXAMPLES_PER_OPERATION = 15

schema = schemathesis.openapi.from_dict(spec())
schema.config.generation.update(deterministic=True)
# A 5xx fails the run, and so does an answer the contract describes (its 200s) that breaks the
# contract's schema; the other answers (400, 404...) are checked by the contract tests.
schema.config.checks.update(
    included_check_names=["not_a_server_error", "response_schema_conformance"]
)

# Ids the seeded store holds, by path parameter: drawn half of the time instead of a generated
# one, so operations on an existing resource are reached too.
SEEDED_IDS: dict[str, list[str]] = {"audience-segment-id": [], "ad-set-id": [str(AD_SET)]}


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[dict[str, Any] | None]:
    choices: list[st.SearchStrategy[dict[str, Any] | None]] = [st.just(path_parameters)]
    for name, ids in SEEDED_IDS.items():
        if path_parameters and name in path_parameters and ids:
            choices.append(st.sampled_from(ids).map(partial(_with, path_parameters, name)))
    return st.one_of(choices)


def _with(parameters: dict[str, Any], name: str, value: str) -> dict[str, Any] | None:
    return parameters | {name: value}


@dataclass(frozen=True)
class Served:
    app: FastAPI
    headers: dict[str, str]


@pytest.fixture(scope="module")
def served(sized_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Reach on SQLite over the built test index, seeded through its own API."""
    root = tmp_path_factory.mktemp("schemathesis")
    data_dir = root / "reach"
    data_dir.mkdir()
    for shared in ("store", "index"):
        (data_dir / shared).symlink_to(sized_data / "reach" / shared)
    url = f"sqlite:///{root / 'reach.db'}"
    upgrade_to_head(url)
    app = create_app(
        Settings(
            data_dir=data_dir,
            database_url=url,
            secret_key=TEST_SECRET_KEY,
            lookalike_processes=0,
            rate_limit_per_minute=0,
            min_reported_size=0,
        ),
        clock=ManualClock(),
    )
    for advertiser in ADVERTISERS:
        add_advertiser(app, advertiser)
    add_brand(app, 1, "Brand one")
    add_ad_set(app, AD_SET, ADVERTISER)
    # Without its lifespan: schemathesis starts the app's lifespan for the run.
    http = TestClient(app)
    user = ApiUser(http, new_client(app, ADVERTISER, OTHER_ADVERTISER))
    segment_ids = create_segments(
        user,
        retargeting(ADVERTISER, "visitors"),
        item(ADVERTISER, "shoppers", inMarket={"country": "FR", "brandIds": ["1"]}),
        item(
            ADVERTISER,
            "near the shop",
            location={
                "pointsOfInterest": [{"latitude": 48.85, "longitude": 2.35}],
                "radiusInKm": 5,
            },
        ),
        item(ADVERTISER, "customers", contactList={}),
        item(OTHER_ADVERTISER, "other's customers", contactList={}),
    )
    create_segments(
        user, item(ADVERTISER, "like visitors", lookalike={"seedSegmentId": segment_ids[0]})
    )
    response = user.post(
        f"{AUDIENCES}/create",
        {
            "data": [
                audience(
                    ADVERTISER,
                    "visitors or shoppers",
                    {"or": [leaf(segment_ids[0]), leaf(segment_ids[1])]},
                )
            ]
        },
    )
    assert response.json()["errors"] == [], response.text
    response = user.call(
        "PATCH",
        f"{SEGMENTS}/{segment_ids[3]}/contact-list",
        {
            "data": {
                "type": "ContactlistAmendment",
                "attributes": {
                    "operation": "add",
                    "identifierType": "email",
                    "identifiers": ["someone@example.com"],
                },
            }
        },
    )
    assert response.status_code == 200, response.text
    SEEDED_IDS["audience-segment-id"][:] = segment_ids
    headers = user.headers()
    # The seeded lookalike is built before the run (its first build imports scikit-learn, which
    # moves the global random state, which Hypothesis takes for randomness in a strategy), then
    # no model trains beside the run: every answer depends on the request alone.
    assert app.state.lookalike_worker.wait_idle(120)
    app.state.lookalike_worker.close()
    yield Served(app, headers)
    SEEDED_IDS["audience-segment-id"].clear()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_built_from_the_official_spec_gets_a_server_error_or_a_200_off_contract(
    case: schemathesis.Case[Any], served: Served
) -> None:
    case.call_and_validate(app=served.app, headers=served.headers)
