"""Fixtures of the audience tests: segments to combine, for two advertisers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.builders import AUDIENCES, SEGMENTS, item, retargeting
from tests.conftest import ADVERTISER, OTHER_ADVERTISER, ApiUser


def create_segments(user: ApiUser, advertiser: int, *names: str) -> list[str]:
    payload = [
        retargeting(advertiser, n) if i % 2 else item(advertiser, n, contactList={})
        for i, n in enumerate(names)
    ]
    body = user.post(f"{SEGMENTS}/create", {"data": payload}).json()
    assert body["errors"] == [], body
    return [r["id"] for r in body["data"]]


@pytest.fixture
def seg(api: ApiUser) -> list[str]:
    """Five segments of ADVERTISER."""
    return create_segments(api, ADVERTISER, *(f"segment {i}" for i in range(5)))


@pytest.fixture
def foreign_seg(other_api: ApiUser) -> str:
    """A segment of OTHER_ADVERTISER."""
    return create_segments(other_api, OTHER_ADVERTISER, "theirs")[0]


def post_audiences(user: ApiUser, path: str, *items: dict[str, Any]) -> dict[str, Any]:
    response = user.post(f"{AUDIENCES}{path}", {"data": list(items)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def found(user: ApiUser, **filters: Any) -> list[dict[str, Any]]:
    response = user.post(f"{AUDIENCES}/search?limit=100", {"data": {"attributes": filters}})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data
