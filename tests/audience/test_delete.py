"""POST /2025-01/marketing-solutions/audiences/delete, and segments used by audiences."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from tests.audience.conftest import found, post_audiences
from tests.builders import SEGMENTS, add_ad_set, audience, leaf
from tests.conftest import ADVERTISER, ApiUser

LINK = "/2025-01/marketing-solutions/ad-sets/{}/audience"


def create(api: ApiUser, name: str, algebra: dict[str, Any]) -> str:
    body = post_audiences(api, "/create", audience(ADVERTISER, name, algebra))
    assert body["errors"] == []
    identifier: str = body["data"][0]["id"]
    return identifier


def link(api: ApiUser, ad_set: int, audience_id: str | None) -> Any:
    return api.call(
        "PUT", LINK.format(ad_set), {"data": {"attributes": {"audienceId": audience_id}}}
    )


class TestDeleteAudiences:
    def test_delete(self, api: ApiUser, seg: list[str]) -> None:
        a = create(api, "a", leaf(seg[0]))
        b = create(api, "b", leaf(seg[1]))
        body = post_audiences(api, "/delete", {"id": a, "type": "Audience"})
        assert body == {"data": [{"id": a, "type": "Audience"}], "errors": [], "warnings": []}
        assert [x["id"] for x in found(api)] == [b]

    def test_unknown_and_foreign(self, api: ApiUser, other_api: ApiUser, seg: list[str]) -> None:
        a = create(api, "a", leaf(seg[0]))
        body = post_audiences(other_api, "/delete", {"id": a}, {"id": "x"})
        assert [(e["code"], e["source"]) for e in body["errors"]] == [
            ("audience-not-found", {"id": "data/0/id"}),
            ("audience-not-found", {"id": "data/1/id"}),
        ]
        assert len(found(api)) == 1

    def test_an_audience_linked_to_an_ad_set_is_in_use(
        self, app: FastAPI, api: ApiUser, seg: list[str]
    ) -> None:
        add_ad_set(app, 31, ADVERTISER)
        a = create(api, "a", leaf(seg[0]))
        assert link(api, 31, a).status_code == 200
        body = post_audiences(api, "/delete", {"id": a})
        assert body["data"] == []
        assert body["errors"][0]["code"] == "audience-in-use"
        assert "31" in body["errors"][0]["detail"]
        assert link(api, 31, None).status_code == 200
        assert post_audiences(api, "/delete", {"id": a})["errors"] == []

    def test_deleting_an_audience_frees_its_segments(self, api: ApiUser, seg: list[str]) -> None:
        a = create(api, "a", {"and": [leaf(seg[0]), {"not": leaf(seg[1])}]})
        refused = api.post(f"{SEGMENTS}/delete", {"data": [{"id": seg[1]}]}).json()
        assert refused["errors"][0]["code"] == "segment-in-use"
        assert a in refused["errors"][0]["detail"]
        post_audiences(api, "/delete", {"id": a})
        assert api.post(f"{SEGMENTS}/delete", {"data": [{"id": seg[1]}]}).json()["errors"] == []


def test_a_segment_used_only_under_a_not_is_still_in_use(api: ApiUser, seg: list[str]) -> None:
    create(api, "a", {"and": [leaf(seg[0]), {"not": {"or": [leaf(seg[1]), leaf(seg[2])]}}]})
    body = api.post(f"{SEGMENTS}/delete", {"data": [{"id": seg[2]}, {"id": seg[4]}]}).json()
    assert [d["id"] for d in body["data"]] == [seg[4]]
    assert body["errors"][0]["source"] == {"id": "data/0/id"}
