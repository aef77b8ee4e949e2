"""Concurrent clients: uniqueness and in-use rules hold when requests race, on both backends."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from reach.kit.repository import OwnedRepository
from reach.models import Audience, AudienceSegment, AudienceSegmentLink
from tests.builders import AUDIENCES, SEGMENTS, add_ad_set, audience, item, leaf, retargeting
from tests.conftest import ADVERTISER, ApiUser, segments

CREATE = f"{SEGMENTS}/create"
DELETE = f"{SEGMENTS}/delete"
AUDIENCES_CREATE = f"{AUDIENCES}/create"
AUDIENCES_SEARCH = f"{AUDIENCES}/search"


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


def test_an_audience_never_points_at_a_deleted_segment(api: ApiUser) -> None:
    """Creating an audience over S while another client deletes S: one of them wins, cleanly."""
    headers = api.headers()
    audiences_made = 0
    for round_ in range(12):
        created = api.http.post(
            CREATE,
            json={
                "data": [
                    retargeting(ADVERTISER, f"s{round_}"),
                    retargeting(ADVERTISER, f"t{round_}"),
                ]
            },
            headers=headers,
        ).json()["data"]
        target, other = created[0]["id"], created[1]["id"]

        def make_audience(target: str = target, other: str = other, round_: int = round_) -> Any:
            algebra = {
                "and": [{"audienceSegmentId": other}, {"not": {"audienceSegmentId": target}}]
            }
            payload = {
                "data": [
                    {
                        "attributes": {
                            "advertiserId": str(ADVERTISER),
                            "name": f"a{round_}",
                            "algebra": algebra,
                        }
                    }
                ]
            }
            return api.http.post(AUDIENCES_CREATE, json=payload, headers=headers)

        def delete_target(target: str = target) -> Any:
            return api.http.post(DELETE, json={"data": [{"id": target}]}, headers=headers)

        made, deleted = race([make_audience, delete_target])
        assert made.status_code == deleted.status_code == 200
        audience_made = bool(made.json()["data"])
        segment_deleted = bool(deleted.json()["data"])
        assert audience_made != segment_deleted
        if audience_made:
            audiences_made += 1
            assert deleted.json()["errors"][0]["code"] == "segment-in-use"
        else:
            assert made.json()["errors"][0]["code"] == "segment-not-found"
    existing = {s["id"] for s in segments(api)}
    search = api.http.post(f"{AUDIENCES_SEARCH}?limit=100", json={}, headers=headers).json()
    assert len(search["data"]) == audiences_made
    for found in search["data"]:
        used = found["attributes"]["algebra"]["and"]
        assert {used[0]["audienceSegmentId"], used[1]["not"]["audienceSegmentId"]} <= existing


def test_the_database_itself_refuses_a_link_to_a_deleted_segment(app: Any, api: ApiUser) -> None:
    """The last line of defence, below every service check: the foreign key."""
    [segment_id] = [
        r["id"] for r in api.post(CREATE, {"data": [retargeting(ADVERTISER, "s")]}).json()["data"]
    ]
    with app.state.database.session(write=True) as session:
        audience = Audience(
            advertiser_id=ADVERTISER,
            name="a",
            algebra={"audienceSegmentId": segment_id},
            created_at=app.state.clock.now(),
            updated_at=app.state.clock.now(),
        )
        session.add(audience)
        session.flush()
        session.add(AudienceSegmentLink(audience_id=audience.id, segment_id=int(segment_id)))
    with pytest.raises(IntegrityError), app.state.database.session(write=True) as session:
        session.execute(delete(AudienceSegment).where(AudienceSegment.id == int(segment_id)))


# --- the same races, in a forced order ------------------------------------------------------
#
# Each writer locks its advertiser (PostgreSQL: a row lock; SQLite: every writer's transaction
# begins IMMEDIATE, which serialises them all), then reads the rows it will check (``by_ids``),
# checks and writes. The first writer is held just after that read, while it holds the lock,
# until the second writer has read its own rows or HOLD_SECONDS have passed. With the lock the
# second cannot read before the first commits, so the hold runs out and the second then sees
# the first one's outcome. Without it the second reads at once, during the hold, so its check
# is certain to work on stale rows and the race leaves a dangling reference or breaks a foreign
# key: these tests fail on PostgreSQL when AdvertiserRepository.lock does nothing. Both orders
# are run, so both outcomes of each race are shown.

HOLD_SECONDS = 0.5


def first_then_second(
    monkeypatch: pytest.MonkeyPatch, first: Callable[[], Any], second: Callable[[], Any]
) -> tuple[Any, Any]:
    first_read = threading.Event()
    second_read = threading.Event()
    first_thread: list[int] = []
    original = OwnedRepository.by_ids

    def by_ids(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = original(self, *args, **kwargs)
        if not first_thread:
            first_thread.append(threading.get_ident())
            first_read.set()
            second_read.wait(HOLD_SECONDS)
        elif threading.get_ident() != first_thread[0]:
            second_read.set()
        return found

    monkeypatch.setattr(OwnedRepository, "by_ids", by_ids)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            earlier = pool.submit(first)
            assert first_read.wait(timeout=30), "the first writer never read its rows"
            later = pool.submit(second)
            return earlier.result(), later.result()
    finally:
        monkeypatch.setattr(OwnedRepository, "by_ids", original)


def outcome(response: Any) -> str:
    """'ok', or the code of the only problem (of an item or of the whole request)."""
    body = response.json()
    if response.status_code == 200 and body["data"] and not body["errors"]:
        return "ok"
    [error] = body["errors"]
    return str(error["code"])


def use_against_delete(
    monkeypatch: pytest.MonkeyPatch,
    use: Callable[[], Any],
    remove: Callable[[], Any],
    delete_first: bool,
    refusals: tuple[str, str],
) -> None:
    """A writer that starts using a row against one that deletes it, in the given order: the
    first wins, the second is refused with ``refusals`` (use refused, delete refused)."""
    if delete_first:
        removed, used = first_then_second(monkeypatch, remove, use)
        assert (outcome(used), outcome(removed)) == (refusals[0], "ok")
    else:
        used, removed = first_then_second(monkeypatch, use, remove)
        assert (outcome(used), outcome(removed)) == ("ok", refusals[1])


@pytest.fixture
def writer(api: ApiUser) -> Callable[[str, str, Any], Callable[[], Any]]:
    headers = api.headers()

    def call(method: str, path: str, body: Any) -> Callable[[], Any]:
        return lambda: api.http.request(method, path, json=body, headers=headers)

    return call


def two_segments(api: ApiUser) -> tuple[str, str]:
    made = api.post(
        CREATE, {"data": [retargeting(ADVERTISER, "s"), retargeting(ADVERTISER, "t")]}
    ).json()["data"]
    return made[0]["id"], made[1]["id"]


SEGMENT_REFUSALS = ("segment-not-found", "segment-in-use")


def delete_segment(segment_id: str) -> dict[str, Any]:
    return {"data": [{"id": segment_id}]}


@pytest.mark.parametrize("segment_deleted_first", [False, True])
def test_create_audience_over_s_against_delete_s(
    api: ApiUser, writer: Any, monkeypatch: pytest.MonkeyPatch, segment_deleted_first: bool
) -> None:
    target, other = two_segments(api)
    make = writer(
        "POST",
        AUDIENCES_CREATE,
        {"data": [audience(ADVERTISER, "a", {"and": [leaf(other), {"not": leaf(target)}]})]},
    )
    remove = writer("POST", DELETE, delete_segment(target))
    use_against_delete(monkeypatch, make, remove, segment_deleted_first, SEGMENT_REFUSALS)
    assert {s["id"] for s in segments(api)} == (
        {other} if segment_deleted_first else {target, other}
    )


@pytest.mark.parametrize("segment_deleted_first", [False, True])
def test_update_audience_to_use_s_against_delete_s(
    api: ApiUser, writer: Any, monkeypatch: pytest.MonkeyPatch, segment_deleted_first: bool
) -> None:
    target, other = two_segments(api)
    [made] = api.post(AUDIENCES_CREATE, {"data": [audience(ADVERTISER, "a", leaf(other))]}).json()[
        "data"
    ]
    change = writer(
        "PATCH",
        AUDIENCES,
        {
            "data": [
                {"id": made["id"], "attributes": {"algebra": {"or": [leaf(other), leaf(target)]}}}
            ]
        },
    )
    remove = writer("POST", DELETE, delete_segment(target))
    use_against_delete(monkeypatch, change, remove, segment_deleted_first, SEGMENT_REFUSALS)
    [now] = api.post(AUDIENCES_SEARCH, {}).json()["data"]
    expected = leaf(other) if segment_deleted_first else {"or": [leaf(other), leaf(target)]}
    assert now["attributes"]["algebra"] == expected


@pytest.mark.parametrize("audience_deleted_first", [False, True])
def test_link_an_ad_set_against_delete_the_audience(
    app: FastAPI,
    api: ApiUser,
    writer: Any,
    monkeypatch: pytest.MonkeyPatch,
    audience_deleted_first: bool,
) -> None:
    add_ad_set(app, 9, ADVERTISER)
    _, other = two_segments(api)
    [made] = api.post(AUDIENCES_CREATE, {"data": [audience(ADVERTISER, "a", leaf(other))]}).json()[
        "data"
    ]
    link = writer(
        "PUT",
        "/2025-01/marketing-solutions/ad-sets/9/audience",
        {"data": {"attributes": {"audienceId": made["id"]}}},
    )
    remove = writer("POST", f"{AUDIENCES}/delete", {"data": [{"id": made["id"]}]})
    refusals = ("audience-not-found", "audience-in-use")
    use_against_delete(monkeypatch, link, remove, audience_deleted_first, refusals)
    left = api.post(AUDIENCES_SEARCH, {}).json()["data"]
    assert [a["attributes"]["adSetIds"] for a in left] == (
        [] if audience_deleted_first else [["9"]]
    )


@pytest.mark.parametrize("seed_deleted_first", [False, True])
def test_create_lookalike_of_s_against_delete_s(
    api: ApiUser, writer: Any, monkeypatch: pytest.MonkeyPatch, seed_deleted_first: bool
) -> None:
    seed, other = two_segments(api)
    make = writer(
        "POST", CREATE, {"data": [item(ADVERTISER, "look", lookalike={"seedSegmentId": seed})]}
    )
    remove = writer("POST", DELETE, delete_segment(seed))
    use_against_delete(monkeypatch, make, remove, seed_deleted_first, SEGMENT_REFUSALS)
    left = {s["attributes"]["name"]: s for s in segments(api)}
    if seed_deleted_first:
        assert set(left) == {"t"}
        assert left["t"]["id"] == other
    else:
        assert set(left) == {"s", "t", "look"}
        assert left["look"]["attributes"]["lookalike"]["seedSegmentId"] == seed
