"""Lookalikes through the API: built off the request path, sized once built, rebuilt when an
input changes, usable in audiences, explained by the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from reach.cli import app as cli
from reach.lookalike.service import Lookalikes
from reach.lookalike.worker import LookalikeWorker
from tests.builders import (
    AUDIENCES,
    SEGMENTS,
    create_segments,
    item,
    leaf,
    retargeting,
    sizes,
    sizes_by_id,
)
from tests.conftest import TEST_SECRET_KEY, ApiUser
from tests.engine.oracle import Oracle
from tests.indexed import ADVERTISERS

ADVERTISER = ADVERTISERS[0]
CONTACT_LIST = f"{SEGMENTS}/{{}}/contact-list"


@pytest.fixture
def settings_overrides(indexed_settings: dict[str, Any]) -> dict[str, Any]:
    return indexed_settings


def lookalike(name: str, seed: str, target_size: int | None = None) -> dict[str, Any]:
    definition: dict[str, Any] = {"seedSegmentId": seed}
    if target_size is not None:
        definition["targetSize"] = target_size
    return item(ADVERTISER, name, lookalike=definition)


def warning_codes(body: dict[str, Any]) -> list[str]:
    return [
        w["code"]
        for w in body["warnings"]
        if w["code"] not in ("index-stale", "size-privacy-exact")
    ]


def estimate(user: ApiUser, algebra: dict[str, Any]) -> dict[str, Any]:
    response = user.post(
        f"{AUDIENCES}/estimate-size",
        {"data": {"attributes": {"advertiserId": str(ADVERTISER), "algebra": algebra}}},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def emails(first: int, last: int) -> dict[str, Any]:
    identifiers = [f"user{n}@example.com" for n in range(first, last + 1)]
    return {
        "data": {
            "type": "ContactlistAmendment",
            "attributes": {
                "operation": "add",
                "identifierType": "email",
                "identifiers": identifiers,
            },
        }
    }


class TestLifecycle:
    def test_computing_until_built_then_the_target_size_outside_the_seed(
        self, sizer: ApiUser, worker: LookalikeWorker, oracle: Oracle
    ) -> None:
        [seed] = create_segments(sizer, retargeting(ADVERTISER, "seed", 0, 10))
        [look] = create_segments(sizer, lookalike("look", seed, 300))
        body = sizes(sizer, f"{SEGMENTS}/compute-sizes", look)
        assert sizes_by_id(body) == {look: None}
        [computing] = [w for w in body["warnings"] if w["code"] == "lookalike-computing"]
        assert computing["type"] == "availability"
        assert computing["source"] == {"size": "data/0/attributes/size"}

        [built] = worker.run_once().built
        assert built.segment_id == int(look)
        body = sizes(sizer, f"{SEGMENTS}/compute-sizes", look, seed)
        seed_size = len(oracle.retargeting(ADVERTISER, "All", 0, 10))
        assert sizes_by_id(body) == {look: 300, seed: seed_size}
        assert warning_codes(body) == []
        # The lookalike never holds a seed member.
        both = estimate(sizer, {"and": [leaf(seed), leaf(look)]})
        either = estimate(sizer, {"or": [leaf(seed), leaf(look)]})
        assert both["data"]["attributes"]["size"] == 0
        assert either["data"]["attributes"]["size"] == seed_size + 300
        assert worker.run_once().built == []  # nothing left to build

    def test_a_new_target_size_is_a_new_model(
        self, sizer: ApiUser, worker: LookalikeWorker
    ) -> None:
        [seed] = create_segments(sizer, retargeting(ADVERTISER, "seed", 0, 10))
        [look] = create_segments(sizer, lookalike("look", seed, 300))
        worker.run_once()
        response = sizer.patch(
            SEGMENTS,
            {"data": [{"id": look, "attributes": {"lookalike": {"targetSize": 120}}}]},
        )
        assert response.status_code == 200, response.text
        body = sizes(sizer, f"{SEGMENTS}/compute-sizes", look)
        assert sizes_by_id(body) == {look: None}
        assert "lookalike-computing" in warning_codes(body)
        worker.run_once()
        assert sizes_by_id(sizes(sizer, f"{SEGMENTS}/compute-sizes", look)) == {look: 120}

    def test_a_changed_seed_is_a_new_model(self, sizer: ApiUser, worker: LookalikeWorker) -> None:
        [crm] = create_segments(sizer, item(ADVERTISER, "crm", contactList={}))
        assert sizer.patch(CONTACT_LIST.format(crm), emails(1, 400)).status_code == 200
        [look] = create_segments(sizer, lookalike("look", crm, 200))
        worker.run_once()
        assert sizes_by_id(sizes(sizer, f"{SEGMENTS}/compute-sizes", look)) == {look: 200}
        assert sizer.patch(CONTACT_LIST.format(crm), emails(401, 600)).status_code == 200
        body = sizes(sizer, f"{SEGMENTS}/compute-sizes", look)
        assert "lookalike-computing" in warning_codes(body)
        [built] = worker.run_once().built
        assert built.summary["seed_size"] > 0
        assert sizes_by_id(sizes(sizer, f"{SEGMENTS}/compute-sizes", look)) == {look: 200}

    def test_a_new_index_build_is_a_new_model(
        self, app: FastAPI, sizer: ApiUser, worker: LookalikeWorker
    ) -> None:
        [seed] = create_segments(sizer, retargeting(ADVERTISER, "seed", 0, 10))
        [look] = create_segments(sizer, lookalike("look", seed, 250))
        worker.run_once()
        publish_a_copy_of_the_index(app.state.settings.data_dir)
        body = sizes(sizer, f"{SEGMENTS}/compute-sizes", look)
        assert "lookalike-computing" in warning_codes(body)
        [built] = worker.run_once().built
        assert built.summary["build_id"] == "copy"
        assert sizes_by_id(sizes(sizer, f"{SEGMENTS}/compute-sizes", look)) == {look: 250}

    def test_a_build_cut_short_is_built_again(
        self, app: FastAPI, sizer: ApiUser, worker: LookalikeWorker
    ) -> None:
        [seed] = create_segments(sizer, retargeting(ADVERTISER, "seed", 0, 10))
        [look] = create_segments(sizer, lookalike("look", seed, 250))
        [built] = worker.run_once().built
        # A crash after the members were written, before the summary: no result counts.
        folder = app.state.settings.data_dir / "lookalikes" / look
        (folder / f"{built.summary['key']}.json").unlink()
        (folder / ".partial-leftover").write_bytes(b"\0" * 10)
        app.state.lookalikes = Lookalikes(type(worker.results)(worker.results.root), lambda: None)
        body = sizes(sizer, f"{SEGMENTS}/compute-sizes", look)
        assert "lookalike-computing" in warning_codes(body)
        assert [b.segment_id for b in worker.run_once().built] == [int(look)]
        assert sizes_by_id(sizes(sizer, f"{SEGMENTS}/compute-sizes", look)) == {look: 250}

    def test_a_deleted_lookalike_leaves_no_result(
        self, app: FastAPI, sizer: ApiUser, worker: LookalikeWorker
    ) -> None:
        [seed] = create_segments(sizer, retargeting(ADVERTISER, "seed", 0, 10))
        [look] = create_segments(sizer, lookalike("look", seed, 250))
        worker.run_once()
        folder = app.state.settings.data_dir / "lookalikes" / look
        assert any(folder.glob("*.bitmap"))
        response = sizer.post(f"{SEGMENTS}/delete", {"data": [{"id": look}]})
        assert response.json()["errors"] == []
        worker.run_once()
        assert not folder.exists()

    def test_a_failed_build_says_so_until_retried(
        self, sizer: ApiUser, worker: LookalikeWorker, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        [seed] = create_segments(sizer, retargeting(ADVERTISER, "seed", 0, 10))
        [look] = create_segments(sizer, lookalike("look", seed, 250))

        def broken(*_: object, **__: object) -> None:
            raise MemoryError("no room")

        monkeypatch.setattr("reach.lookalike.worker.build", broken)
        scan = worker.run_once()
        assert scan.built == []
        assert scan.failed == [(int(look), "MemoryError: no room")]
        body = sizes(sizer, f"{SEGMENTS}/compute-sizes", look)
        assert sizes_by_id(body) == {look: None}
        [failed] = [w for w in body["warnings"] if w["code"] == "lookalike-failed"]
        assert failed["type"] == "availability"
        assert "no room" in failed["detail"]
        assert worker.run_once().failed == []  # not tried again by itself
        monkeypatch.undo()
        assert worker.results.forget_failures() == 1
        assert [b.segment_id for b in worker.run_once().built] == [int(look)]
        assert sizes_by_id(sizes(sizer, f"{SEGMENTS}/compute-sizes", look)) == {look: 250}


class TestAudiences:
    def test_an_audience_waits_for_its_lookalike_then_counts_it(
        self, sizer: ApiUser, worker: LookalikeWorker, oracle: Oracle
    ) -> None:
        [seed] = create_segments(sizer, retargeting(ADVERTISER, "seed", 0, 10))
        [look] = create_segments(sizer, lookalike("look", seed, 300))
        created = sizer.post(
            f"{AUDIENCES}/create",
            {
                "data": [
                    {
                        "attributes": {
                            "advertiserId": str(ADVERTISER),
                            "name": "seed and lookalike",
                            "algebra": {"or": [leaf(seed), leaf(look)]},
                        }
                    }
                ]
            },
        ).json()["data"]
        audience = created[0]["id"]
        body = sizes(sizer, f"{AUDIENCES}/compute-sizes", audience)
        assert sizes_by_id(body) == {audience: None}
        [computing] = [w for w in body["warnings"] if w["code"] == "lookalike-computing"]
        assert computing["source"] == {"size": "data/0/attributes/size"}
        pending = estimate(sizer, {"and": [leaf(seed), {"not": leaf(look)}]})
        assert pending["data"]["attributes"]["size"] is None
        assert "lookalike-computing" in warning_codes(pending)

        worker.run_once()
        seed_size = len(oracle.retargeting(ADVERTISER, "All", 0, 10))
        body = sizes(sizer, f"{AUDIENCES}/compute-sizes", audience)
        assert sizes_by_id(body) == {audience: seed_size + 300}
        done = estimate(sizer, {"and": [leaf(seed), {"not": leaf(look)}]})
        assert done["data"]["attributes"]["size"] == seed_size


class TestSeedDiagnostics:
    def test_a_small_seed_is_flagged(self, sizer: ApiUser, worker: LookalikeWorker) -> None:
        [crm] = create_segments(sizer, item(ADVERTISER, "crm", contactList={}))
        assert sizer.patch(CONTACT_LIST.format(crm), emails(1, 40)).status_code == 200
        [look] = create_segments(sizer, lookalike("look", crm, 100))
        worker.run_once()
        body = sizes(sizer, f"{SEGMENTS}/compute-sizes", look)
        [small] = [w for w in body["warnings"] if w["code"] == "lookalike-seed-small"]
        assert small["source"] == {"size": "data/0/attributes/size"}
        assert sizes_by_id(body) == {look: 100}

    def test_a_seed_covering_most_of_its_countries_is_flagged(
        self, sizer: ApiUser, worker: LookalikeWorker
    ) -> None:
        [everyone] = create_segments(
            sizer,
            item(
                ADVERTISER,
                "everyone",
                prospecting={"usersType": "ProspectsOrNonBuyers", "daysSinceLastVisitMax": 90},
            ),
        )
        [look] = create_segments(sizer, lookalike("look", everyone, 100))
        body = sizes(sizer, f"{SEGMENTS}/compute-sizes", look)
        assert "lookalike-seed-large" in warning_codes(body)
        assert "lookalike-seed-small" not in warning_codes(body)


class TestInTheBackground:
    @pytest.fixture
    def settings_overrides(self, indexed_settings: dict[str, Any]) -> dict[str, Any]:
        return indexed_settings | {"lookalike_processes": 1}

    def test_a_created_lookalike_is_built_by_a_worker_process(
        self, app: FastAPI, sizer: ApiUser
    ) -> None:
        [seed] = create_segments(sizer, retargeting(ADVERTISER, "seed", 0, 10))
        [look] = create_segments(sizer, lookalike("look", seed, 300))
        worker: LookalikeWorker = app.state.lookalike_worker
        assert worker.wait_idle(timeout=120)
        assert not list(app.state.settings.data_dir.glob("lookalikes/*/*.error"))
        body = sizes(sizer, f"{SEGMENTS}/compute-sizes", look)
        assert sizes_by_id(body) == {look: 300}
        assert warning_codes(body) == []


class TestCommandLine:
    def test_build_status_and_explain(
        self,
        app: FastAPI,
        sizer: ApiUser,
        worker: LookalikeWorker,
        database_url: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("REACH_DATABASE_URL", database_url)
        monkeypatch.setenv("REACH_DATA_DIR", str(app.state.settings.data_dir))
        monkeypatch.setenv("REACH_SECRET_KEY", TEST_SECRET_KEY)
        # The command and the server share their settings, privacy mode included.
        monkeypatch.setenv("REACH_SIZE_PRIVACY", app.state.settings.size_privacy)
        [seed] = create_segments(sizer, retargeting(ADVERTISER, "seed", 0, 10))
        [look] = create_segments(sizer, lookalike("look", seed, 300))
        runner = CliRunner()
        status = runner.invoke(cli, ["lookalike", "status"])
        assert status.exit_code == 0, status.output
        assert "pending" in status.output
        built = runner.invoke(cli, ["lookalike", "build"])
        assert built.exit_code == 0, built.output
        assert look in built.output
        assert "up to date" in runner.invoke(cli, ["lookalike", "build"]).output
        assert "built" in runner.invoke(cli, ["lookalike", "status"]).output
        explained = runner.invoke(cli, ["lookalike", "explain", look])
        assert explained.exit_code == 0, explained.output
        assert "300 members" in explained.output
        assert "weight" in explained.output
        # The server answers from what the command built.
        assert sizes_by_id(sizes(sizer, f"{SEGMENTS}/compute-sizes", look)) == {look: 300}
        missing = runner.invoke(cli, ["lookalike", "explain", seed])
        assert missing.exit_code == 1
        assert "no model" in missing.output


def publish_a_copy_of_the_index(data_dir: Path) -> None:
    """Publish the same data as a new build (named ``copy``), as a rebuild would."""
    shared = (data_dir / "index").resolve()
    (data_dir / "index").unlink()
    current = (shared / "CURRENT").read_text(encoding="utf-8").strip()
    target = data_dir / "index" / "builds" / "copy"
    shutil.copytree(shared / "builds" / current, target)
    meta = json.loads((target / "index.json").read_text(encoding="utf-8"))
    (target / "index.json").write_text(json.dumps(meta | {"build_id": "copy"}), encoding="utf-8")
    (data_dir / "index" / "CURRENT").write_text("copy", encoding="utf-8")
