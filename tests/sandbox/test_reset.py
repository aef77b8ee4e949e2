"""Reset: what API clients created goes, the operator's reference data stays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from pyroaring import BitMap
from sqlalchemy import func, select

from reach.audience_segment.service import AudienceSegmentService
from reach.contact_list.storage import ListStore
from reach.lookalike.service import Lookalikes
from reach.lookalike.storage import ResultStore
from reach.lookalike.worker import LookalikeWorker
from reach.models import AdSet, Advertiser, ApiClient, Brand
from reach.sandbox.service import reset_store
from tests.builders import (
    AUDIENCES,
    SEGMENTS,
    ManualClock,
    add_ad_set,
    add_brand,
    create_segments,
    item,
    leaf,
    retargeting,
)
from tests.conftest import ApiUser
from tests.indexed import ADVERTISERS
from tests.sandbox.conftest import Admin, problem

FIRST, SECOND = ADVERTISERS[0], ADVERTISERS[1]


@pytest.fixture
def settings_overrides(indexed_settings: dict[str, Any]) -> dict[str, Any]:
    return indexed_settings | {"sandbox": True}


@pytest.fixture
def worker(app: FastAPI) -> LookalikeWorker:
    """The server's worker, which builds only when the test says so."""
    app.state.lookalikes = Lookalikes(app.state.lookalikes.results, lambda: None)
    found: LookalikeWorker = app.state.lookalike_worker
    return found


def emails(count: int) -> dict[str, Any]:
    identifiers = [f"user{n}@example.com" for n in range(count)]
    attributes = {"operation": "add", "identifierType": "email", "identifiers": identifiers}
    return {"data": {"type": "ContactlistAmendment", "attributes": attributes}}


def populate(app: FastAPI, user: ApiUser, advertiser: int, clock: ManualClock) -> dict[str, str]:
    """Of one advertiser: a retargeting seed, its lookalike, a contact list with identifiers,
    a behavioral segment, an audience linked to an ad set."""
    seed, crm = create_segments(
        user, retargeting(advertiser, "seed", 0, 10), item(advertiser, "crm", contactList={})
    )
    [look] = create_segments(user, item(advertiser, "look", lookalike={"seedSegmentId": seed}))
    response = user.patch(f"{SEGMENTS}/{crm}/contact-list", emails(50))
    assert response.status_code == 200, response.text
    with app.state.database.session(write=True) as session:
        behavioral = AudienceSegmentService(session, app.state.settings, clock).add_behavioral(
            advertiser, "Movers", "LifeEvents", None, None, None
        )
    body = {
        "data": [
            {
                "attributes": {
                    "advertiserId": str(advertiser),
                    "name": "mix",
                    "algebra": {"and": [leaf(seed), leaf(crm)]},
                }
            }
        ]
    }
    audience = user.post(f"{AUDIENCES}/create", body).json()["data"][0]["id"]
    ad_set = str(advertiser * 10)
    add_ad_set(app, int(ad_set), advertiser)
    link = {"data": {"attributes": {"audienceId": audience}}}
    response = user.http.put(
        f"/2025-01/marketing-solutions/ad-sets/{ad_set}/audience", json=link, headers=user.headers()
    )
    assert response.status_code == 200, response.text
    return {
        "seed": seed,
        "crm": crm,
        "look": look,
        "behavioral": str(behavioral.id),
        "audience": audience,
        "ad_set": ad_set,
    }


def segment_ids(user: ApiUser, advertiser: int) -> set[str]:
    body = user.post(
        f"{SEGMENTS}/search?limit=100",
        {"data": {"attributes": {"advertiserIds": [str(advertiser)]}}},
    ).json()
    return {s["id"] for s in body["data"]}


def audience_ids(user: ApiUser, advertiser: int) -> set[str]:
    body = user.post(
        f"{AUDIENCES}/search", {"data": {"attributes": {"advertiserIds": [str(advertiser)]}}}
    ).json()
    assert "data" in body, body
    return {a["id"] for a in body["data"]}


def count(app: FastAPI, model: Any) -> int:
    with app.state.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def linked(app: FastAPI, ad_set: str) -> int | None:
    with app.state.database.session() as session:
        found = session.get(AdSet, int(ad_set))
        assert found is not None
        audience_id: int | None = found.audience_id
        return audience_id


class TestReset:
    @pytest.fixture
    def made(
        self, app: FastAPI, sizer: ApiUser, clock: ManualClock, worker: LookalikeWorker
    ) -> dict[int, dict[str, str]]:
        add_brand(app, 9001, "Kept brand")
        made = {a: populate(app, sizer, a, clock) for a in (FIRST, SECOND)}
        assert len(worker.run_once().built) == 2
        return made

    def test_everything_clients_made_goes(
        self, app: FastAPI, admin: Admin, sizer: ApiUser, made: dict[int, dict[str, str]]
    ) -> None:
        data_dir: Path = app.state.settings.data_dir
        clients, advertisers, brands = (count(app, m) for m in (ApiClient, Advertiser, Brand))
        admin.ok("DELETE", "/journal")
        admin.fault(answers=["500"])
        sizer.http.get("/2025-01/marketing-solutions/me", headers=sizer.headers())

        report = admin.ok("POST", "/reset")

        assert report == {
            "advertiserId": None,
            "audienceSegments": 6,
            "audiences": 2,
            "contactLists": 2,
            "lookalikeResults": 2,
            "adSetLinks": 2,
            "faults": 1,
            "journalEntries": 1,
        }
        for advertiser, ids in made.items():
            # Platform segments are reference data: they stay.
            assert segment_ids(sizer, advertiser) == {ids["behavioral"]}
            assert audience_ids(sizer, advertiser) == set()
            # Ad sets are reference data too: they stay, unlinked.
            assert linked(app, ids["ad_set"]) is None
            assert not (data_dir / "lists" / ids["crm"]).exists()
            assert not (data_dir / "lookalikes" / ids["look"]).exists()
        assert (count(app, ApiClient), count(app, Advertiser), count(app, Brand)) == (
            clients,
            advertisers,
            brands,
        )
        assert admin.faults() == []
        # The index and the event data stay: new segments are sized at once.
        [fresh] = create_segments(sizer, retargeting(FIRST, "seed", 0, 10))
        sized = sizer.post(f"{SEGMENTS}/compute-sizes", {"data": [{"id": fresh}]}).json()
        assert sized["data"][0]["attributes"]["size"] > 0

    def test_one_advertiser(
        self, app: FastAPI, admin: Admin, sizer: ApiUser, made: dict[int, dict[str, str]]
    ) -> None:
        data_dir: Path = app.state.settings.data_dir
        before = segment_ids(sizer, SECOND), audience_ids(sizer, SECOND)
        admin.fault(operation="GetCurrentApplication", answers=["500"])

        report = admin.ok("POST", "/reset", json={"advertiserId": str(FIRST)})

        assert report == {
            "advertiserId": str(FIRST),
            "audienceSegments": 3,
            "audiences": 1,
            "contactLists": 1,
            "lookalikeResults": 1,
            "adSetLinks": 1,
            "faults": 0,
            "journalEntries": 0,
        }
        assert segment_ids(sizer, FIRST) == {made[FIRST]["behavioral"]}
        assert (segment_ids(sizer, SECOND), audience_ids(sizer, SECOND)) == before
        assert linked(app, made[SECOND]["ad_set"]) == int(made[SECOND]["audience"])
        assert (data_dir / "lists" / made[SECOND]["crm"]).exists()
        assert (data_dir / "lookalikes" / made[SECOND]["look"]).exists()
        # A reset of one advertiser leaves the faults and the journal alone.
        assert len(admin.faults()) == 1
        # The query parameter says the same.
        again = admin.ok("POST", "/reset", params={"advertiserId": str(SECOND)})
        assert again["audienceSegments"] == 3
        assert segment_ids(sizer, SECOND) == {made[SECOND]["behavioral"]}

    def test_a_lookalike_made_meanwhile_keeps_its_result(
        self,
        app: FastAPI,
        sizer: ApiUser,
        made: dict[int, dict[str, str]],
    ) -> None:
        """Another advertiser's lookalike, created and built between the reset's commit and
        its clean-up of files, is not the reset's to remove."""
        data_dir: Path = app.state.settings.data_dir
        late: list[str] = []

        class ListsWhileOthersWork(ListStore):
            def drop(self, segment_id: int) -> None:
                super().drop(segment_id)
                [look] = create_segments(
                    sizer, item(SECOND, "late", lookalike={"seedSegmentId": made[SECOND]["seed"]})
                )
                # Built as the worker builds it (its scan would also tidy up, so not a scan).
                results.save(int(look), "late", BitMap([1, 2, 3]), {"built_at": "now"})
                late.append(look)

        results: ResultStore = app.state.lookalikes.results
        lists = ListsWhileOthersWork(app.state.list_matches.lists.root)
        report = reset_store(app.state.database, lists, results, FIRST)

        assert (report.lookalike_results, len(late)) == (1, 1)
        assert not (data_dir / "lookalikes" / made[FIRST]["look"]).exists()
        assert (data_dir / "lookalikes" / made[SECOND]["look"]).exists()
        assert (data_dir / "lookalikes" / late[0]).exists()

    def test_twice_removes_nothing_more(
        self, admin: Admin, made: dict[int, dict[str, str]]
    ) -> None:
        admin.ok("POST", "/reset")
        report = admin.ok("POST", "/reset")
        assert {k: v for k, v in report.items() if k != "advertiserId"} == dict.fromkeys(
            [
                "audienceSegments",
                "audiences",
                "contactLists",
                "lookalikeResults",
                "adSetLinks",
                "faults",
                "journalEntries",
            ],
            0,
        )


class TestRefused:
    def test_an_unknown_advertiser(self, admin: Admin, sizer: ApiUser) -> None:
        response = admin.call("POST", "/reset", json={"advertiserId": "999"})
        assert response.status_code == 400
        assert problem(response)["code"] == "advertiser-not-found"
        assert problem(response)["source"] == {"advertiserId": "advertiserId"}

    def test_any_json_media_type_is_read(self, admin: Admin, sizer: ApiUser) -> None:
        response = admin.call(
            "POST",
            "/reset",
            content=b'{"advertiserId": "999"}',
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert response.status_code == 400
        assert problem(response)["code"] == "advertiser-not-found"

    def test_a_body_that_is_not_json(self, admin: Admin, sizer: ApiUser) -> None:
        response = admin.call(
            "POST", "/reset", content=b"advertiserId=999", headers={"Content-Type": "text/plain"}
        )
        assert response.status_code == 415
        assert problem(response)["code"] == "unsupported-media-type"

    def test_a_misspelt_member_is_refused(self, admin: Admin, sizer: ApiUser) -> None:
        response = admin.call("POST", "/reset", json={"advertiserID": str(FIRST)})
        assert response.status_code == 400
        assert problem(response)["code"] == "unknown-field"
        assert problem(response)["source"] == {"advertiserID": "advertiserID"}

    @pytest.mark.parametrize("body", [{"advertiserId": "x1"}, {"advertiserId": 1001}, {"id": "1"}])
    def test_a_bad_body(self, admin: Admin, sizer: ApiUser, body: dict[str, Any]) -> None:
        response = admin.call("POST", "/reset", json=body)
        assert response.status_code == 400
        assert problem(response)["type"] == "validation"
