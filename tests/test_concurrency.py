"""Concurrent clients: uniqueness and in-use rules hold when requests race, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.builders import SEGMENTS, item, retargeting
from tests.conftest import ADVERTISER, ApiUser, segments

CREATE = f"{SEGMENTS}/create"
DELETE = f"{SEGMENTS}/delete"


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [f.result() for f in [pool.submit(call) for call in calls]]


def test_one_name_claimed_by_eight_clients_at_once_is_created_once(api: ApiUser) -> None:
    headers = api.headers()
    payload = {"data": [retargeting(ADVERTISER, "race")]}

    def claim() -> Any:
        return api.http.post(CREATE, json=payload, headers=headers)

    responses = race([claim] * 8)
    assert all(r.status_code == 200 for r in responses)
    created = [r for r in responses if r.json()["data"]]
    refused = [r for r in responses if r.json()["errors"]]
    assert len(created) == 1
    assert {r.json()["errors"][0]["code"] for r in refused} == {"name-must-be-unique"}
    assert len(segments(api)) == 1


def test_a_lookalike_never_outlives_its_seed(api: ApiUser) -> None:
    headers = api.headers()
    for round_ in range(10):
        seed = api.http.post(
            CREATE, json={"data": [retargeting(ADVERTISER, f"seed{round_}")]}, headers=headers
        ).json()["data"][0]["id"]

        def make_lookalike(seed: str = seed, round_: int = round_) -> Any:
            payload = {
                "data": [item(ADVERTISER, f"look{round_}", lookalike={"seedSegmentId": seed})]
            }
            return api.http.post(CREATE, json=payload, headers=headers)

        def delete_seed(seed: str = seed) -> Any:
            return api.http.post(DELETE, json={"data": [{"id": seed}]}, headers=headers)

        created, deleted = race([make_lookalike, delete_seed])
        assert created.status_code == deleted.status_code == 200
        lookalike_made = bool(created.json()["data"])
        seed_deleted = bool(deleted.json()["data"])
        # Exactly one of the two wins; the loser says why.
        assert lookalike_made != seed_deleted
        if lookalike_made:
            assert deleted.json()["errors"][0]["code"] == "segment-in-use"
        else:
            assert created.json()["errors"][0]["code"] == "segment-not-found"
    ids = {s["id"] for s in segments(api)}
    for segment in segments(api, audienceSegmentTypes=["Lookalike"]):
        assert segment["attributes"]["lookalike"]["seedSegmentId"] in ids


def test_concurrent_renames_keep_names_unique(api: ApiUser) -> None:
    headers = api.headers()
    ids = [
        r["id"]
        for r in api.post(
            CREATE, {"data": [retargeting(ADVERTISER, f"n{i}") for i in range(6)]}
        ).json()["data"]
    ]

    def rename(segment_id: str) -> Any:
        payload = {"data": [{"id": segment_id, "attributes": {"name": "winner"}}]}
        return api.http.patch(SEGMENTS, json=payload, headers=headers)

    responses = race([lambda i=i: rename(i) for i in ids])  # type: ignore[misc]
    assert all(r.status_code == 200 for r in responses)
    assert sum(bool(r.json()["data"]) for r in responses) == 1
    names = [s["attributes"]["name"] for s in segments(api)]
    assert names.count("winner") == 1
