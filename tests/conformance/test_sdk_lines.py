"""Every operation of the Audience API through the official SDK of each tested line.

The pinned 2025.1 build and the newest 2026.7 and 2027.1 builds (``tests/sdk_lines.py``) each
call their own API version's paths. One walk per line drives all operations through that line's
own SDK, on the sized server (so sizes are real and compared with the independent oracle), and
checks what an integrator would rely on: what is created is found and changed on that version's
paths, sizes equal the oracle's and the 2025.1 client's, every answer passed the contract, and
no operation of the contract was left out.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.conformance.conftest import (
    ADVERTISER,
    AUDIENCE_TYPE,
    LINK_TYPE,
    SIZED_ADVERTISERS,
    Connect,
    Names,
    SizedServer,
    audience,
    audience_changes,
    changes,
    leaf,
    node,
    segment,
)
from tests.engine.oracle import Oracle
from tests.openapi import operation_for, operations
from tests.sdk_lines import SDK_LINES
from tests.server import reach

pytestmark = pytest.mark.conformance

ADVERTISER_NUMBER = int(ADVERTISER)
# One ad set per line, registered on the sized server (which has none of its own).
LINE_AD_SETS = {line: f"{7100 + n}" for n, line in enumerate(SDK_LINES)}
# Addresses the demo data gives (hashed) to some of its users, and one it gives to nobody.
LISTED_ADDRESSES = [*(f"user{n}@example.com" for n in range(1, 41)), "stranger@example.org"]
RECENT = (0, 14)


def email_digest(address: str) -> tuple[str, str]:
    """A listed e-mail as the identity data holds it: (type, lower-case SHA-256)."""
    return "email", hashlib.sha256(address.encode()).hexdigest()


@pytest.fixture(scope="session")
def line_ad_sets(sized_server: SizedServer) -> dict[str, str]:
    """An ad set of advertiser 1001 per line, registered with the command line."""
    for line, ad_set_id in LINE_AD_SETS.items():
        reach(
            sized_server.env,
            "adsets",
            "add",
            ad_set_id,
            "--advertiser",
            ADVERTISER,
            "--name",
            f"lines {line}",
        )
    return LINE_AD_SETS


@pytest.fixture(params=list(SDK_LINES))
def line(request: pytest.FixtureRequest) -> str:
    """An SDK line (a key of ``SDK_LINES``)."""
    chosen: str = request.param
    return chosen


def warnings_of(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The (code, type) of each warning of an answer (their traceId and instance differ)."""
    return [(w["code"], w["type"]) for w in body["warnings"]]


def size_of(response: Any) -> int | None:
    """The size of the one item of a compute-sizes answer that has no error."""
    assert response.errors == [], response.errors
    [item] = response.data
    size: int | None = item.attributes.size
    return size


def test_every_operation_through_the_lines_own_sdk(
    line: str,
    sized_server: SizedServer,
    sized_connect: Connect,
    line_ad_sets: dict[str, str],
    oracle: Oracle,
    names: Names,
) -> None:
    version, _ = SDK_LINES[line]
    sdk = sized_connect(sized_server.manager, line)
    base = sized_connect(sized_server.manager)
    model = sdk.model

    # --- ListAdvertisers, GetCurrentApplication -----------------------------------------
    advertisers = sdk.advertiser.list_advertisers()
    assert sorted(a.id for a in advertisers.data) == sorted(SIZED_ADVERTISERS)
    application = sdk.gateway.get_current_application()
    assert application.data.attributes.name == "sizes"
    assert f"called as API {version}" in application.data.attributes.description

    # --- CreateAudienceSegments, SearchAudienceSegments, UpdateAudienceSegments ---------
    low, high = RECENT
    created = sdk.create(
        segment(
            names("recent visitors"),
            line=line,
            retargeting=model("RetargetingCreateV1")(
                visitors_type="All", days_since_last_visit_min=low, days_since_last_visit_max=30
            ),
        ),
        segment(names("crm"), line=line, contact_list={}),
    )
    assert created.errors == [], created.errors
    visitors, crm = (s.id for s in created.data)

    updated = sdk.update(
        (
            visitors,
            changes(
                line=line,
                name=names("recent visitors, renamed"),
                retargeting=model("RetargetingUpdateV1")(days_since_last_visit_max=high),
            ),
        )
    )
    assert updated.errors == [], updated.errors
    found = {s.id: s for s in sdk.search(segment_ids=[visitors, crm]).data}
    assert sorted(found) == sorted([visitors, crm])
    assert found[visitors].attributes.name.endswith("recent visitors, renamed")
    assert found[visitors].attributes.retargeting.days_since_last_visit_max == high
    assert found[crm].attributes.contact_list is not None

    # --- GetAudienceSegmentsInMarketBrands / Interests: the same answer as 2025.1's ------
    sdk.audience.get_audience_segments_in_market_brands(ADVERTISER, "FR")
    base.audience.get_audience_segments_in_market_brands(ADVERTISER, "FR")
    sdk.audience.get_audience_segments_in_market_interests(ADVERTISER, "FR")
    base.audience.get_audience_segments_in_market_interests(ADVERTISER, "FR")
    for answer, base_answer in zip(sdk.api_calls()[-2:], base.api_calls()[-2:], strict=True):
        assert answer.body["data"], answer.path
        assert answer.body["data"] == base_answer.body["data"]
        assert warnings_of(answer.body) == warnings_of(base_answer.body)

    # --- ComputeAudienceSegmentsSizes, EstimateAudienceSegmentsSizes ---------------------
    recent = oracle.retargeting(ADVERTISER_NUMBER, "All", low, high)
    assert recent, "the demo data must have recent visitors"
    assert size_of(sdk.segment_sizes(visitors)) == len(recent)
    assert size_of(base.segment_sizes(visitors)) == len(recent)
    estimate = sdk.estimate_segment_size(in_market=model("InMarketSizeEstimationV1")(country="FR"))
    assert estimate.data.attributes.size == len(oracle.in_market("FR"))

    # --- UpdateContactListByAudienceSegment, GetAudienceSegmentContactListStatistics -----
    amendment = model("ContactlistAmendmentRequest")(
        data=model("ContactlistAmendment")(
            type="ContactlistAmendment",
            attributes=model("ContactlistAmendmentAttributes")(
                operation="add", identifier_type="email", identifiers=LISTED_ADDRESSES
            ),
        )
    )
    receipt = sdk.audience.update_contact_list_by_audience_segment(crm, amendment).data
    assert (receipt.type, receipt.attributes.contact_list_id) == ("ContactlistAmendment", int(crm))
    assert receipt.attributes.nb_valid_identifiers == len(LISTED_ADDRESSES)
    listed = [email_digest(a) for a in LISTED_ADDRESSES]
    members = oracle.contact_list(listed)
    matched = sum(1 for item in listed if oracle.contact_list([item]))
    assert 0 < matched < len(listed)
    statistics = sdk.audience.get_audience_segment_contact_list_statistics(crm).data.attributes
    assert (statistics.number_of_identifiers, statistics.number_of_matches) == (
        len(listed),
        matched,
    )
    assert size_of(sdk.segment_sizes(crm)) == len(members)

    # --- CreateAudiences, UpdateAudiences, SearchAudiences, sizes ------------------------
    either = {"or": [leaf(visitors), leaf(crm)]}
    created_audience = sdk.create_audience(
        audience(names("visitors or customers"), node(leaf(visitors), line), line=line)
    )
    renamed = sdk.update_audiences(
        (
            created_audience.id,
            audience_changes(
                line=line, name=names("visitors or customers"), algebra=node(either, line)
            ),
        )
    )
    assert renamed.errors == [], renamed.errors
    assert sdk.stored_algebra(created_audience.id) == either
    expected = len(recent | members)
    computed = sdk.audience_sizes(created_audience.id)
    assert computed.errors == [] and computed.data[0].attributes.size == expected
    assert base.audience_sizes(created_audience.id).data[0].attributes.size == expected
    assert sdk.estimate_audience_size(node(either, line)).data.attributes.size == expected

    # --- UpdateAdSetAudience: linked, then found by its ad set ---------------------------
    ad_set = line_ad_sets[line]
    link = sdk.link(ad_set, created_audience.id)
    assert (link.data.id, link.data.type) == (ad_set, LINK_TYPE)
    assert link.data.attributes.audience_id == created_audience.id
    by_ad_set = sdk.search_audiences(ad_set_ids=[ad_set])
    assert [(a.id, a.type) for a in by_ad_set.data] == [(created_audience.id, AUDIENCE_TYPE)]
    assert sdk.link(ad_set, None).data.attributes.audience_id is None

    # --- DeleteContactListByAudienceSegment, DeleteAudiences, DeleteAudienceSegments -----
    sdk.audience.delete_contact_list_by_audience_segment(crm)
    emptied = sdk.audience.get_audience_segment_contact_list_statistics(crm).data.attributes
    assert emptied.number_of_identifiers == 0
    deleted = sdk.delete_audiences(created_audience.id)
    assert deleted.errors == [] and [a.id for a in deleted.data] == [created_audience.id]
    assert sdk.search_audiences(audience_ids=[created_audience.id]).data == []
    gone = sdk.delete(visitors, crm)
    assert gone.errors == [] and sorted(s.id for s in gone.data) == sorted([visitors, crm])
    assert sdk.search(segment_ids=[visitors, crm]).data == []

    # --- every call went to this line's version, and every operation was called --------
    calls = sdk.api_calls()
    assert all(call.path.startswith(f"/{version}/") for call in calls), [c.path for c in calls]
    assert all(call.status == 200 for call in calls), [(c.path, c.status) for c in calls]
    exercised = set()
    for call in calls:
        operation = operation_for(call.method, call.path)
        assert operation is not None, f"{call.method} {call.path} is no operation of the contract"
        exercised.add(operation.operation_id)
    assert exercised == {operation.operation_id for operation in operations()}
