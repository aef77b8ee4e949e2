"""Property: whatever JSON a client sends, Reach answers 200 or a clear 4xx, never breaks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import SEGMENTS
from tests.conftest import ADVERTISER, ApiUser

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
KNOWN_KEYS = [
    "advertiserId",
    "name",
    "description",
    "retargeting",
    "prospecting",
    "inMarket",
    "location",
    "lookalike",
    "contactList",
    "visitorsType",
    "daysSinceLastVisitMin",
    "daysSinceLastVisitMax",
    "usersType",
    "country",
    "brandIds",
    "interestIds",
    "gender",
    "pointsOfInterest",
    "latitude",
    "longitude",
    "radiusInKm",
    "seedSegmentId",
    "targetSize",
    "value",
]
# Mostly the API's own keys, so generated bodies reach deep into the validation rules.
PLAUSIBLE = st.recursive(
    st.one_of(SCALARS, st.just(str(ADVERTISER)), st.sampled_from(["All", "Buyers", "FR", "1"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KNOWN_KEYS), inner, max_size=4),
    ),
    max_leaves=12,
)
ITEM = st.fixed_dictionaries(
    {"attributes": st.dictionaries(st.sampled_from(KNOWN_KEYS), PLAUSIBLE, max_size=5)}
)
BODIES = st.one_of(
    ANY_JSON,
    st.fixed_dictionaries({"data": st.lists(ITEM, max_size=4)}),
    st.fixed_dictionaries(
        {
            "data": st.lists(
                st.fixed_dictionaries({"id": PLAUSIBLE, "attributes": PLAUSIBLE}), max_size=3
            )
        }
    ),
)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"rate_limit_per_minute": 0}


def total(api: ApiUser, headers: dict[str, str]) -> int:
    response = api.http.post(f"{SEGMENTS}/search?limit=0", json={}, headers=headers)
    count: int = response.json()["meta"]["totalItems"]
    return count


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=BODIES, target=st.sampled_from(["create", "update", "delete", "search"]))
def test_any_body_gets_a_clear_answer(api: ApiUser, body: Any, target: str) -> None:
    headers = api.headers()
    before = total(api, headers)
    method, path = {
        "create": ("POST", f"{SEGMENTS}/create"),
        "update": ("PATCH", SEGMENTS),
        "delete": ("POST", f"{SEGMENTS}/delete"),
        "search": ("POST", f"{SEGMENTS}/search"),
    }[target]
    # The contract check of every answer runs inside the test client.
    raw = json.dumps(body).encode()
    response = api.http.request(
        method, path, content=raw, headers=headers | {"Content-Type": "application/json"}
    )
    assert response.status_code in {200, 400, 403}, response.text
    if response.status_code != 200:
        assert total(api, headers) == before
        assert response.json()["errors"]
    elif target == "create":
        assert total(api, headers) == before + len(response.json()["data"])
