"""Privacy of sizes (docs/privacy.md): differencing attacks at chance level in the default mode.

The attacks are those that worked before the defence: a size with and without one known person
added through a contact list, and the statistics of a one-identifier list. Each runs against the
true membership, computed independently from the raw files, and the attacker's guesses are
scored. In the exact mode the same attacks guess right every time, which shows they are real.
"""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi import FastAPI

from reach.lookalike.service import Lookalikes
from reach.lookalike.worker import LookalikeWorker
from tests.builders import AUDIENCES, SEGMENTS, create_segments, item, leaf, sizes, sizes_by_id
from tests.conftest import ApiUser
from tests.engine.oracle import Oracle
from tests.indexed import ADVERTISERS

ADVERTISER = ADVERTISERS[0]
FLOOR = 100
PARIS = {"latitude": 48.8566, "longitude": 2.3522}
# The demo users live in a few cities: this circle holds about 330 of the 2,500.
RADIUS_KM = 500
NEAR_PARIS = {"pointsOfInterest": [PARIS], "radiusInKm": RADIUS_KM}
# Targets per class (near the place, not near it). In the default mode the attacker's accuracy
# over 2 x 60 guesses has a standard deviation of 0.046 at chance, so 0.68 is four of them
# away; in the exact mode a few targets show that the attacks work.
TARGETS = {"noisy": 60, "exact": 10}
CHANCE_BOUND = 0.68
DECOYS = 150


@pytest.fixture(params=["noisy", "exact"])
def mode(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def settings_overrides(indexed_settings: dict[str, Any], mode: str) -> dict[str, Any]:
    return indexed_settings | {"min_reported_size": FLOOR, "size_privacy": mode}


def email(n: int) -> str:
    return f"user{n}@example.com"


def digest(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()


@pytest.fixture(scope="module")
def people(sized_data: Path) -> dict[str, str]:
    """The demo data's e-mail addresses that belong to exactly one user: address -> user."""
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT digest, min(user_id), count(DISTINCT user_id)"
            " FROM read_parquet(?) WHERE identifier_type = 'email' GROUP BY digest",
            [str(sized_data / "data" / "identities.parquet")],
        ).fetchall()
    owners = {str(d): str(u) for d, u, n in rows if n == 1}
    found = {}
    for n in range(1, 20_000):
        owner = owners.get(digest(email(n)))
        if owner is not None:
            found[email(n)] = owner
    return found


class Scene:
    """A location segment, people near it and people not near it, as the oracle says."""

    def __init__(self, user: ApiUser, oracle: Oracle, people: dict[str, str], targets: int) -> None:
        self.user = user
        near = oracle.location([(PARIS["latitude"], PARIS["longitude"])], RADIUS_KM)
        assert len(near) >= 2 * FLOOR, "the location must be sized, not withheld"
        inside = [a for a, u in people.items() if u in near]
        outside = [a for a, u in people.items() if u not in near]
        assert len(inside) >= targets and len(outside) >= targets + DECOYS
        self.inside = inside[:targets]
        self.outside = outside[:targets]
        self.decoys = outside[-DECOYS:]
        [self.location] = create_segments(user, item(ADVERTISER, "near", location=NEAR_PARIS))
        self.lists = itertools.count()

    def contact_list(self, addresses: list[str]) -> str:
        [segment] = create_segments(
            self.user, item(ADVERTISER, f"list {next(self.lists)}", contactList={})
        )
        body = {
            "data": {
                "type": "ContactlistAmendment",
                "attributes": {
                    "operation": "add",
                    "identifierType": "email",
                    "identifiers": addresses,
                },
            }
        }
        response = self.user.patch(f"{SEGMENTS}/{segment}/contact-list", body)
        assert response.status_code == 200, response.text
        return segment

    def estimate(self, algebra: dict[str, Any]) -> int | None:
        response = self.user.post(
            f"{AUDIENCES}/estimate-size",
            {
                "data": {
                    "type": "Audience",
                    "attributes": {"advertiserId": str(ADVERTISER), "algebra": algebra},
                }
            },
        )
        assert response.status_code == 200, response.text
        size: int | None = response.json()["data"]["attributes"]["size"]
        return size

    def size(self, segment: str) -> int | None:
        return sizes_by_id(sizes(self.user, f"{SEGMENTS}/compute-sizes", segment))[segment]

    def score(self, guess_near: dict[str, bool]) -> float:
        """The share of right guesses of 'is this person near the place?'."""
        truth = dict.fromkeys(self.inside, True) | dict.fromkeys(self.outside, False)
        return sum(guess_near[a] == truth[a] for a in truth) / len(truth)


@pytest.fixture
def scene(sizer: ApiUser, oracle: Oracle, people: dict[str, str], mode: str) -> Scene:
    return Scene(sizer, oracle, people, TARGETS[mode])


def test_one_person_list_differencing_is_at_chance(scene: Scene, mode: str) -> None:
    """estimate(or(location, one-person list)) - size(location): 0 when the person is near."""
    base = scene.size(scene.location)
    assert base is not None
    guesses = {}
    for address in scene.inside + scene.outside:
        one = scene.contact_list([address])
        either = scene.estimate({"or": [leaf(scene.location), leaf(one)]})
        assert either is not None
        guesses[address] = either - base == 0
    accuracy = scene.score(guesses)
    if mode == "exact":
        assert accuracy == 1.0
    else:
        assert accuracy <= CHANCE_BOUND, accuracy


def test_decoy_list_differencing_is_at_chance(scene: Scene, mode: str) -> None:
    """A list large enough to count, with and without the person: a difference of one."""
    decoys = scene.contact_list(scene.decoys)
    assert scene.size(decoys) is not None, "the decoys must reach people"
    without = scene.estimate({"or": [leaf(scene.location), leaf(decoys)]})
    assert without is not None
    guesses = {}
    for address in scene.inside + scene.outside:
        with_person = scene.contact_list([*scene.decoys, address])
        either = scene.estimate({"or": [leaf(scene.location), leaf(with_person)]})
        assert either is not None
        guesses[address] = either - without <= 0
    accuracy = scene.score(guesses)
    if mode == "exact":
        assert accuracy == 1.0
    else:
        assert accuracy <= CHANCE_BOUND, accuracy


def statistics(user: ApiUser, segment: str) -> dict[str, Any]:
    response = user.get(f"{SEGMENTS}/{segment}/contact-list/statistics")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("mode", ["noisy"], indirect=True)
def test_one_identifier_statistics_do_not_tell_whether_it_matched(
    scene: Scene, people: dict[str, str]
) -> None:
    known = scene.contact_list([scene.inside[0]])
    stranger = scene.contact_list(["nobody-reach-knows@example.org"])
    first, second = statistics(scene.user, known), statistics(scene.user, stranger)
    assert first["data"]["attributes"] == second["data"]["attributes"]
    assert first["data"]["attributes"] == {
        "numberOfIdentifiers": 1,  # the caller's own count stays exact
        "numberOfMatches": None,
        "matchRate": None,
    }
    assert [w["code"] for w in first["warnings"]] == ["size-below-privacy-floor"]


@pytest.mark.parametrize("mode", ["noisy"], indirect=True)
def test_large_list_statistics_are_noised_and_rounded(scene: Scene) -> None:
    segment = scene.contact_list(scene.decoys)
    attributes = statistics(scene.user, segment)["data"]["attributes"]
    assert attributes["numberOfIdentifiers"] == DECOYS
    matches = attributes["numberOfMatches"]
    assert matches is not None and matches % 10 == 0
    assert attributes["matchRate"] == round(matches / DECOYS, 4)


@pytest.mark.parametrize("mode", ["noisy"], indirect=True)
def test_a_small_list_reaches_nobody(scene: Scene) -> None:
    few = scene.contact_list(scene.outside[:5])
    assert scene.size(few) is None
    # The location and the location or-ed with the small list have the same members.
    near_or_few = scene.estimate({"or": [leaf(scene.location), leaf(few)]})
    only_few = scene.estimate({"and": [leaf(few), leaf(few)]})
    assert near_or_few is not None and only_few is None


@pytest.mark.parametrize("mode", ["noisy"], indirect=True)
def test_the_same_question_gets_the_same_answer_however_it_is_asked(scene: Scene) -> None:
    [copy, other] = create_segments(
        scene.user,
        item(ADVERTISER, "copy", location=NEAR_PARIS),
        item(ADVERTISER, "bigger", location=NEAR_PARIS | {"radiusInKm": 300}),
    )
    base = scene.size(scene.location)
    assert base is not None and base % 10 == 0
    # Asked again, asked of a copy, asked as an estimate: one answer, so nothing to average.
    assert scene.size(scene.location) == base
    assert scene.size(copy) == base
    near = leaf(scene.location)
    one = scene.estimate({"or": [near, leaf(other)]})
    assert one is not None
    assert scene.estimate({"or": [leaf(other), near]}) == one
    assert scene.estimate({"or": [near, {"or": [leaf(other), near]}]}) == one


@pytest.mark.parametrize("mode", ["exact"], indirect=True)
def test_exact_answers_say_so(scene: Scene) -> None:
    crm = scene.contact_list(scene.decoys)
    answers = [
        sizes(scene.user, f"{SEGMENTS}/compute-sizes", scene.location),
        scene.user.post(
            f"{AUDIENCES}/estimate-size",
            {
                "data": {
                    "type": "Audience",
                    "attributes": {
                        "advertiserId": str(ADVERTISER),
                        "algebra": {"or": [leaf(scene.location), leaf(crm)]},
                    },
                }
            },
        ).json(),
        statistics(scene.user, crm),
    ]
    for answer in answers:
        assert "size-privacy-exact" in [w["code"] for w in answer["warnings"]]


@pytest.fixture
def worker(app: FastAPI) -> LookalikeWorker:
    """The server's worker, building only when the test says so."""
    app.state.lookalikes = Lookalikes(app.state.lookalikes.results, lambda: None)
    found: LookalikeWorker = app.state.lookalike_worker
    return found


def lookalike_of(seed: str, target_size: int = 200) -> dict[str, Any]:
    return item(
        ADVERTISER, f"like {seed}", lookalike={"seedSegmentId": seed, "targetSize": target_size}
    )


@pytest.mark.parametrize("mode", ["noisy"], indirect=True)
def test_a_lookalike_does_not_tell_whether_an_added_identifier_matched(
    scene: Scene, worker: LookalikeWorker
) -> None:
    """Its model is named by the seed's question, not by the seed's members: adding an
    identifier that matches nobody asks for a new model, as one that matches does."""
    seed = scene.contact_list(scene.decoys)
    [look] = create_segments(scene.user, lookalike_of(seed))
    worker.run_once()
    assert scene.size(look) is not None
    stranger = {
        "data": {
            "type": "ContactlistAmendment",
            "attributes": {
                "operation": "add",
                "identifierType": "email",
                "identifiers": ["nobody-reach-knows@example.org"],
            },
        }
    }
    assert scene.user.patch(f"{SEGMENTS}/{seed}/contact-list", stranger).status_code == 200
    body = sizes(scene.user, f"{SEGMENTS}/compute-sizes", look)
    assert sizes_by_id(body) == {look: None}
    assert "lookalike-computing" in [w["code"] for w in body["warnings"]]


@pytest.mark.parametrize("mode", ["noisy"], indirect=True)
def test_lookalike_seed_warnings_give_no_exact_count(scene: Scene) -> None:
    few = scene.contact_list(scene.outside[:3])
    small_place = {"pointsOfInterest": [PARIS], "radiusInKm": 1}
    [place] = create_segments(scene.user, item(ADVERTISER, "tiny", location=small_place))
    for seed in (few, place):
        [look] = create_segments(scene.user, lookalike_of(seed))
        body = sizes(scene.user, f"{SEGMENTS}/compute-sizes", look)
        [small] = [w for w in body["warnings"] if w["code"] == "lookalike-seed-small"]
        assert f"has fewer than {FLOOR} matched users" in small["detail"]
