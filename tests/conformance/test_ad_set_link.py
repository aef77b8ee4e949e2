"""Conformance of UpdateAdSetAudience (CampaignApi): link, relink, unlink, and who may do it."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from criteo_api_marketingsolutions_v2025_01.exceptions import ApiException
from criteo_api_marketingsolutions_v2025_01.model.ad_set_audience_link_entity_v1 import (
    AdSetAudienceLinkEntityV1,
)
from criteo_api_marketingsolutions_v2025_01.model.ad_set_audience_link_entity_v1_resource import (
    AdSetAudienceLinkEntityV1Resource,
)
from criteo_api_marketingsolutions_v2025_01.model.ad_set_audience_link_input_entity_v1 import (
    AdSetAudienceLinkInputEntityV1,
)
from criteo_api_marketingsolutions_v2025_01.model.nillable_string import NillableString

from tests.conformance.conftest import (
    AD_SET,
    LINK_TYPE,
    OTHER_AD_SET,
    OTHER_ADVERTISER,
    SECOND_AD_SET,
    Names,
    Sdk,
    audience,
    audience_changes,
    leaf,
    node,
    problem_body,
    segment,
)

pytestmark = pytest.mark.conformance


def link_path(ad_set_id: str) -> str:
    return f"/2025-01/marketing-solutions/ad-sets/{ad_set_id}/audience"


def new_audience(sdk: Sdk, names: Names, label: str, advertiser_id: str | None = None) -> str:
    """The id of a fresh audience of one fresh segment (of 1001 unless told otherwise)."""
    fields = {} if advertiser_id is None else {"advertiser_id": advertiser_id}
    used = sdk.create_one(segment(names(f"{label} segment"), contact_list={}, **fields)).id
    created: str = sdk.create_audience(audience(names(label), node(leaf(used)), **fields)).id
    return created


def ad_sets_of(sdk: Sdk, audience_id: str) -> list[str]:
    """The ``adSetIds`` search shows for an audience."""
    found: list[str] = sdk.find_audience(audience_id).attributes.ad_set_ids
    return found


def refused(call: Callable[[], Any]) -> tuple[int, list[tuple[str, str, Any]]]:
    """The status and the (type, code, source) of each problem of a call that must fail."""
    with pytest.raises(ApiException) as raised:
        call()
    problems = problem_body(raised.value)["errors"]
    return raised.value.status, [(p["type"], p["code"], p.get("source")) for p in problems]


@pytest.mark.usefixtures("unlinked_ad_sets")
class TestLink:
    def test_links_an_ad_set_and_the_audience_shows_it(self, sdk: Sdk, names: Names) -> None:
        audience_id = new_audience(sdk, names, "linked")

        response = sdk.link(AD_SET, audience_id)

        call = sdk.api_calls()[-1]
        assert (call.method, call.path, call.status) == ("PUT", link_path(AD_SET), 200)
        assert call.request_body == {
            "data": {"id": AD_SET, "type": LINK_TYPE, "attributes": {"audienceId": audience_id}}
        }
        assert (response.data.id, response.data.type) == (AD_SET, LINK_TYPE)
        assert response.data.attributes.audience_id == audience_id
        assert response.errors == []
        assert ad_sets_of(sdk, audience_id) == [AD_SET]
        assert [a.id for a in sdk.search_audiences(ad_set_ids=[AD_SET]).data] == [audience_id]

    def test_one_audience_serves_several_ad_sets(self, sdk: Sdk, names: Names) -> None:
        audience_id = new_audience(sdk, names, "shared")

        sdk.link(SECOND_AD_SET, audience_id)
        sdk.link(AD_SET, audience_id)
        sdk.link(AD_SET, audience_id)

        assert ad_sets_of(sdk, audience_id) == [AD_SET, SECOND_AD_SET]

    def test_relinks_to_another_audience(self, sdk: Sdk, names: Names) -> None:
        before = new_audience(sdk, names, "before")
        after = new_audience(sdk, names, "after")
        sdk.link(AD_SET, before)

        response = sdk.link(AD_SET, after)

        assert response.data.attributes.audience_id == after
        assert ad_sets_of(sdk, before) == []
        assert ad_sets_of(sdk, after) == [AD_SET]
        # The audience it left is no longer in use.
        assert [d.id for d in sdk.delete_audiences(before).data] == [before]

    def test_null_audience_id_unlinks(self, sdk: Sdk, names: Names) -> None:
        audience_id = new_audience(sdk, names, "unlinked")
        sdk.link(AD_SET, audience_id)

        response = sdk.link(AD_SET, None)

        # The SDK sends an explicit null, which the contract reads as "unlink".
        call = sdk.api_calls()[-1]
        assert call.request_body["data"]["attributes"] == {"audienceId": None}
        assert call.status == 200
        assert response.data.id == AD_SET
        assert response.data.attributes.get("audience_id") is None
        assert ad_sets_of(sdk, audience_id) == []
        assert sdk.search_audiences(ad_set_ids=[AD_SET]).meta.total_items == 0
        # Unlinking what is not linked is fine too.
        assert sdk.link(AD_SET, None).data.id == AD_SET

    def test_unlink_answer_says_audience_id_null(self, sdk: Sdk, names: Names) -> None:
        sdk.link(AD_SET, new_audience(sdk, names, "unlinked"))

        response = sdk.link(AD_SET, None)

        assert sdk.api_calls()[-1].body["data"]["attributes"] == {"audienceId": None}
        assert response.data.attributes.audience_id is None

    def test_linking_does_not_touch_the_audience(self, sdk: Sdk, names: Names) -> None:
        audience_id = new_audience(sdk, names, "untouched")
        before = sdk.find_audience(audience_id).attributes

        sdk.link(AD_SET, audience_id)

        after = sdk.find_audience(audience_id).attributes
        assert (after.name, after.updated_at) == (before.name, before.updated_at)
        assert after.algebra.to_dict() == before.algebra.to_dict()

    def test_a_linked_audience_can_still_be_updated(self, sdk: Sdk, names: Names) -> None:
        audience_id = new_audience(sdk, names, "updated")
        sdk.link(AD_SET, audience_id)

        response = sdk.update_audiences(
            (audience_id, audience_changes(description=NillableString(value="live")))
        )

        assert response.errors == []
        assert response.data[0].attributes.ad_set_ids == [AD_SET]
        assert ad_sets_of(sdk, audience_id) == [AD_SET]


@pytest.mark.usefixtures("unlinked_ad_sets")
class TestLinkRefused:
    def test_unknown_ad_set_is_404(self, sdk: Sdk, names: Names) -> None:
        audience_id = new_audience(sdk, names, "orphan")

        for ad_set_id in ("999999999", "not-a-number"):
            status, problems = refused(partial(sdk.link, ad_set_id, audience_id))
            assert status == 404
            assert [(t, c) for t, c, _ in problems] == [("validation", "ad-set-not-found")]
        assert ad_sets_of(sdk, audience_id) == []

    def test_ad_set_of_another_advertiser_is_404_like_an_unknown_one(
        self, sdk: Sdk, names: Names
    ) -> None:
        audience_id = new_audience(sdk, names, "mine")

        status, problems = refused(lambda: sdk.link(OTHER_AD_SET, audience_id))

        assert status == 404
        assert [(t, c) for t, c, _ in problems] == [("validation", "ad-set-not-found")]

    def test_unknown_audience_is_refused(self, sdk: Sdk, names: Names) -> None:
        linked = new_audience(sdk, names, "kept")
        sdk.link(AD_SET, linked)

        status, problems = refused(lambda: sdk.link(AD_SET, "999999999"))

        assert status == 404
        assert problems == [
            ("validation", "audience-not-found", {"audienceId": "data/attributes/audienceId"})
        ]
        assert ad_sets_of(sdk, linked) == [AD_SET]

    def test_audience_the_client_cannot_reach_is_not_found(
        self, sdk: Sdk, other_sdk: Sdk, names: Names
    ) -> None:
        theirs = new_audience(other_sdk, names, "of 1002", advertiser_id=OTHER_ADVERTISER)

        status, problems = refused(lambda: sdk.link(AD_SET, theirs))

        assert status == 404
        assert problems == [
            ("validation", "audience-not-found", {"audienceId": "data/attributes/audienceId"})
        ]
        assert ad_sets_of(other_sdk, theirs) == []

    def test_audience_of_another_advertiser_than_the_ad_sets_is_refused(
        self, agency_sdk: Sdk, names: Names
    ) -> None:
        mine = new_audience(agency_sdk, names, "of 1001")
        theirs = new_audience(agency_sdk, names, "of 1002", advertiser_id=OTHER_ADVERTISER)

        for ad_set_id, audience_id in ((AD_SET, theirs), (OTHER_AD_SET, mine)):
            status, problems = refused(partial(agency_sdk.link, ad_set_id, audience_id))
            assert status == 400
            assert problems == [
                ("validation", "invalid", {"audienceId": "data/attributes/audienceId"})
            ]
        assert ad_sets_of(agency_sdk, mine) == []
        assert ad_sets_of(agency_sdk, theirs) == []
        # Each ad set takes an audience of its own advertiser.
        agency_sdk.link(OTHER_AD_SET, theirs)
        assert ad_sets_of(agency_sdk, theirs) == [OTHER_AD_SET]

    def test_resource_id_other_than_the_path_is_refused(self, sdk: Sdk, names: Names) -> None:
        audience_id = new_audience(sdk, names, "mismatch")
        body = AdSetAudienceLinkInputEntityV1(
            data=AdSetAudienceLinkEntityV1Resource(
                id=SECOND_AD_SET,
                type=LINK_TYPE,
                attributes=AdSetAudienceLinkEntityV1(audience_id=audience_id),
            )
        )

        status, problems = refused(lambda: sdk.campaign.update_ad_set_audience(AD_SET, body))

        assert status == 400
        assert problems == [("validation", "invalid", {"id": "data/id"})]
        assert ad_sets_of(sdk, audience_id) == []

    def test_attributes_without_audience_id_are_refused(self, sdk: Sdk, names: Names) -> None:
        audience_id = new_audience(sdk, names, "kept")
        sdk.link(AD_SET, audience_id)
        body = AdSetAudienceLinkInputEntityV1(
            data=AdSetAudienceLinkEntityV1Resource(
                type=LINK_TYPE, attributes=AdSetAudienceLinkEntityV1()
            )
        )

        status, problems = refused(lambda: sdk.campaign.update_ad_set_audience(AD_SET, body))

        # Only an explicit null unlinks; a forgotten field does not.
        assert sdk.api_calls()[-1].request_body == {"data": {"type": LINK_TYPE, "attributes": {}}}
        assert status == 400
        assert problems == [
            ("validation", "required-field", {"audienceId": "data/attributes/audienceId"})
        ]
        assert ad_sets_of(sdk, audience_id) == [AD_SET]


@pytest.mark.usefixtures("unlinked_ad_sets")
class TestReadOnlyClient:
    def test_every_audience_write_and_the_link_are_403(
        self, sdk: Sdk, reader_sdk: Sdk, names: Names
    ) -> None:
        (used,) = sdk.contact_lists(names("segment"))
        existing = sdk.create_audience(audience(names("existing"), node(leaf(used))))
        writes: dict[str, Callable[[], Any]] = {
            "create": lambda: reader_sdk.create_audiences(
                audience(names("by reader"), node(leaf(used)))
            ),
            "update": lambda: reader_sdk.update_audiences(
                (existing.id, audience_changes(name=names("renamed by reader")))
            ),
            "delete": lambda: reader_sdk.delete_audiences(existing.id),
            "link": lambda: reader_sdk.link(AD_SET, existing.id),
            "unlink": lambda: reader_sdk.link(AD_SET, None),
        }

        for label, call in writes.items():
            status, problems = refused(call)
            assert status == 403, label
            assert [(t, c) for t, c, _ in problems] == [("authorization", "insufficient-scope")], (
                label
            )

        found = sdk.search_audiences(segment_ids=[used])
        assert [(a.id, a.attributes.name) for a in found.data] == [
            (existing.id, existing.attributes.name)
        ]
        assert found.data[0].attributes.ad_set_ids == []
