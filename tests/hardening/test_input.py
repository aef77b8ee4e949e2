"""No 500 from input: the cases that gave one (ids of any length, odd token claims) and the
405 that named no method. The binary file given to `reach contact-list upload` is covered in
tests/test_cli.py, with the rest of that command."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from fastapi import FastAPI

from tests.builders import SEGMENTS
from tests.conftest import ApiUser


def codes(response: Any) -> list[str]:
    return [e["code"] for e in response.json()["errors"]]


def test_ids_of_any_length_name_nothing(api: ApiUser) -> None:
    """Past 4,300 digits int() refuses a string: such an id is simply unknown."""
    huge = "9" * 5000
    search = api.post(
        f"{SEGMENTS}/search", {"data": {"attributes": {"audienceSegmentIds": [huge]}}}
    )
    assert search.status_code == 200
    assert search.json()["data"] == []
    update = api.patch(SEGMENTS, {"data": [{"id": huge, "attributes": {"name": "x"}}]})
    assert update.status_code == 200
    assert codes(update) == ["segment-not-found"]


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": "abc"},
        {"exp": [1]},
        {"exp": 1e30},
        {"exp": 10**30},
        {"exp": True},
        {"sub": ["not", "a", "string"]},
    ],
)
def test_odd_claims_signed_with_our_key_are_invalid(
    app: FastAPI, api: ApiUser, claims: dict[str, Any]
) -> None:
    """Claims are checked like any input, even under a valid signature."""
    signer = app.state.signer
    fields = {"iss": "reach", "sub": api.credentials.client_id, "exp": 4_000_000_000}
    token = jwt.encode(fields | claims, signer._key, algorithm="HS256")
    response = api.http.post(
        f"{SEGMENTS}/search", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert codes(response) == ["authorization-token-invalid"]


def test_a_wrong_method_names_the_allowed_ones(api: ApiUser) -> None:
    response = api.get(f"{SEGMENTS}/create")
    assert response.status_code == 405
    assert codes(response) == ["method-not-allowed"]
    assert response.headers["allow"] == "POST"
