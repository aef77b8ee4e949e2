"""The console's lookalike and ad-set calls at the HTTP level: a lookalike's state and model as
``reach lookalike explain`` reads them, its seed warnings as a size request gives them; the ad
sets of one reachable advertiser with their linked audience."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from reach.lookalike.explain import brand_names, explanation, share_text, weight_text
from reach.lookalike.worker import LookalikeWorker
from tests.builders import (
    AUDIENCES,
    SEGMENTS,
    add_ad_set,
    audience,
    create_segments,
    item,
    leaf,
    new_client,
    retargeting,
    sizes,
    sizes_by_id,
)
from tests.conftest import ApiUser
from tests.indexed import ADVERTISERS

ADVERTISER, OTHER, THIRD = ADVERTISERS
LOOKALIKES = "/console/api/lookalikes"
AD_SETS = "/console/api/ad-sets"


@pytest.fixture
def settings_overrides(indexed_settings: dict[str, Any]) -> dict[str, Any]:
    return indexed_settings


def lookalike(user: ApiUser, seed_days: int = 10, target_size: int = 300) -> tuple[str, str]:
    """A new lookalike of ADVERTISER over a retargeting seed: (seed id, lookalike id)."""
    [seed] = create_segments(user, retargeting(ADVERTISER, "seed", 0, seed_days))
    definition = {"seedSegmentId": seed, "targetSize": target_size}
    [look] = create_segments(user, item(ADVERTISER, "look", lookalike=definition))
    return seed, look


def seed_warnings(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (w["code"], w["detail"])
        for w in body["warnings"]
        if w["code"].startswith("lookalike-seed-")
    ]


class TestLookalike:
    def test_pending_then_built_as_the_command_explains_it(
        self, app: FastAPI, sizer: ApiUser, worker: LookalikeWorker
    ) -> None:
        seed, look = lookalike(sizer)
        pending = sizer.get(f"{LOOKALIKES}/{look}")
        assert pending.status_code == 200, pending.text
        data = pending.json()["data"]
        assert data["state"] == "pending"
        assert data["model"] is None
        assert data["size"] is None
        assert (data["seedSegmentId"], data["targetSize"]) == (seed, 300)

        worker.run_once()
        body = sizer.get(f"{LOOKALIKES}/{look}").json()
        data = body["data"]
        assert data["state"] == "built"
        assert data["reason"] is None
        model = data["model"]
        assert model["current"] is True
        # The size the API gives, and the seed warnings a size request gives.
        sized = sizes(sizer, f"{SEGMENTS}/compute-sizes", look)
        assert data["size"] == model["size"] == sizes_by_id(sized)[look] == 300
        assert seed_warnings(body) == seed_warnings(sized)
        # The features as `reach lookalike explain` reads and prints them.
        with app.state.database.session() as session:
            explained = explanation(app.state.lookalikes.results, int(look), brand_names(session))
        assert explained is not None
        assert explained.features
        assert [
            (f["label"], f["weight"], f["text"]["weight"], f["text"]["seedShare"])
            for f in model["features"]
        ] == [
            (f.label, f.weight, weight_text(f.weight), share_text(f.seed_share))
            for f in explained.features
        ]
        assert model["seedSize"] == explained.seed_size
        assert model["countries"] == explained.countries
        assert model["holdoutAuc"] == explained.holdout_auc

    def test_with_noisy_sizes_no_share_pins_the_seed_size(
        self, app: FastAPI, sizer: ApiUser, worker: LookalikeWorker
    ) -> None:
        # The server's privacy, switched to its default mode: noisy sizes.
        app.state.list_matches.privacy.mode = "noisy"
        _, look = lookalike(sizer)
        worker.run_once()
        model = sizer.get(f"{LOOKALIKES}/{look}").json()["data"]["model"]
        with app.state.database.session() as session:
            explained = explanation(app.state.lookalikes.results, int(look), brand_names(session))
        assert explained is not None
        assert model["features"]
        for shown, exact in zip(model["features"], explained.features, strict=True):
            if model["seedSize"] is None:
                assert shown["seedShare"] is None
                assert shown["text"]["seedShare"] == "withheld"
            else:
                # Whole percents only.
                assert shown["seedShare"] == round(exact.seed_share, 2)
                assert shown["text"]["seedShare"] == share_text(round(exact.seed_share, 2))

    def test_a_failed_build_says_why_and_how_to_retry(
        self, sizer: ApiUser, worker: LookalikeWorker
    ) -> None:
        _, look = lookalike(sizer)
        [wanted] = worker.pending()
        worker.results.fail(wanted.segment_id, wanted.key, "ValueError: no eligible user")
        data = sizer.get(f"{LOOKALIKES}/{look}").json()["data"]
        assert data["state"] == "failed"
        assert data["reason"] == "ValueError: no eligible user"
        assert data["retry"] == "reach lookalike build --retry"
        assert data["model"] is None

    def test_a_changed_target_size_shows_the_previous_model_until_rebuilt(
        self, sizer: ApiUser, worker: LookalikeWorker
    ) -> None:
        _, look = lookalike(sizer)
        worker.run_once()
        changed = sizer.patch(
            SEGMENTS, {"data": [{"id": look, "attributes": {"lookalike": {"targetSize": 120}}}]}
        )
        assert changed.status_code == 200, changed.text
        data = sizer.get(f"{LOOKALIKES}/{look}").json()["data"]
        assert data["state"] == "pending"
        assert data["size"] is None
        assert data["model"]["current"] is False
        assert data["model"]["size"] == 300
        worker.run_once()
        data = sizer.get(f"{LOOKALIKES}/{look}").json()["data"]
        assert (data["state"], data["size"], data["model"]["current"]) == ("built", 120, True)

    def test_only_lookalikes_of_reachable_advertisers(
        self, sizer: ApiUser, other_sizer: ApiUser, http: TestClient
    ) -> None:
        seed, look = lookalike(sizer)
        for user, asked in ((sizer, seed), (sizer, "nope"), (sizer, "999999"), (other_sizer, look)):
            refused = user.get(f"{LOOKALIKES}/{asked}")
            assert refused.status_code == 404, refused.text
            [problem] = refused.json()["errors"]
            assert problem["code"] == "segment-not-found"
        assert http.get(f"{LOOKALIKES}/{look}").status_code == 401

    def test_a_read_only_client_reads_it(
        self, app: FastAPI, sizer: ApiUser, http: TestClient
    ) -> None:
        _, look = lookalike(sizer)
        reader = ApiUser(http, new_client(app, ADVERTISER, read_only=True, name="reader"))
        answer = reader.get(f"{LOOKALIKES}/{look}")
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["id"] == look


class TestAdSets:
    def test_the_ad_sets_of_one_advertiser_with_their_audience(
        self, app: FastAPI, sizer: ApiUser
    ) -> None:
        add_ad_set(app, 7002, ADVERTISER, "Second")
        add_ad_set(app, 7001, ADVERTISER, "First")
        add_ad_set(app, 7003, OTHER, "Elsewhere")
        [seed] = create_segments(sizer, retargeting(ADVERTISER, "seed", 0, 10))
        created = sizer.post(
            f"{AUDIENCES}/create", {"data": [audience(ADVERTISER, "buyers", leaf(seed))]}
        )
        assert created.status_code == 200, created.text
        audience_id = created.json()["data"][0]["id"]
        linked = sizer.call(
            "PUT",
            "/2025-01/marketing-solutions/ad-sets/7002/audience",
            {"data": {"id": "7002", "attributes": {"audienceId": audience_id}}},
        )
        assert linked.status_code == 200, linked.text

        answer = sizer.get(AD_SETS, params={"advertiserId": str(ADVERTISER)})
        assert answer.status_code == 200, answer.text
        assert [(a["id"], a["name"], a["audienceId"]) for a in answer.json()["data"]] == [
            ("7001", "First", None),
            ("7002", "Second", audience_id),
        ]
        other = sizer.get(AD_SETS, params={"advertiserId": str(OTHER)}).json()["data"]
        assert [(a["id"], a["advertiserId"]) for a in other] == [("7003", str(OTHER))]

    @pytest.mark.parametrize(
        ("asked", "status", "code"),
        [
            (None, 400, "required-field"),
            ("", 400, "required-field"),
            ("abc", 403, "advertiser-access-denied"),
            ("424242", 403, "advertiser-access-denied"),
            ("reached-not", 403, "advertiser-access-denied"),
        ],
    )
    def test_an_advertiser_missing_or_not_reached_is_refused(
        self, other_sizer: ApiUser, asked: str | None, status: int, code: str
    ) -> None:
        params = {} if asked is None else {"advertiserId": asked}
        if asked == "reached-not":
            params["advertiserId"] = str(ADVERTISER)
        refused = other_sizer.get(AD_SETS, params=params)
        assert refused.status_code == status, refused.text
        [problem] = refused.json()["errors"]
        assert problem["code"] == code
        assert problem["source"] == {"advertiserId": "advertiserId"}

    def test_needs_a_token(self, http: TestClient) -> None:
        assert http.get(AD_SETS, params={"advertiserId": str(ADVERTISER)}).status_code == 401
