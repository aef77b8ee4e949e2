"""Conformance of the contact-list operations: amend, wipe and statistics, and a list's size.

Identifiers are uploaded through the official SDK to the sized server, whose index was built
from a demo data set. The expected statistics are computed here, independently of the server:
the addresses are hashed with ``hashlib`` and looked up in the raw ``identities.parquet`` the
server ingested; the expected members come from the oracle (``tests/engine/oracle.py``).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from criteo_api_marketingsolutions_v2025_01.exceptions import ApiException
from criteo_api_marketingsolutions_v2025_01.model.contactlist_amendment import (
    ContactlistAmendment,
)
from criteo_api_marketingsolutions_v2025_01.model.contactlist_amendment_attributes import (
    ContactlistAmendmentAttributes,
)
from criteo_api_marketingsolutions_v2025_01.model.contactlist_amendment_request import (
    ContactlistAmendmentRequest,
)
from criteo_api_marketingsolutions_v2025_01.model.retargeting_create_v1 import (
    RetargetingCreateV1,
)

from tests.builders import Credentials
from tests.conformance.conftest import (
    RESOURCE_TYPE,
    Names,
    ReachServer,
    Sdk,
    SizedServer,
    attributes_of,
    is_utc,
    problem_body,
    segment,
)
from tests.engine.oracle import Oracle
from tests.server import reach

pytestmark = pytest.mark.conformance

SEGMENTS = "/2025-01/marketing-solutions/audience-segments"
AMENDMENT_TYPE = "ContactlistAmendment"
MAX_IDENTIFIERS = 50_000
MISSING_ID = "999999999"

# A listed identifier as the identity data holds it: (identifier type, canonical digest), the
# digest being a lower-case SHA-256 for e-mails and phone numbers and a lower-case UUID for
# mobile advertising ids.
Listed = tuple[str, str]
Stats = tuple[int, int | None, float | None]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def address(n: int) -> str:
    """An address the demo data gives (hashed) to some of its users."""
    return f"user{n}@example.com"


def emails(*addresses: str) -> set[Listed]:
    """What a list holds once these canonical addresses are in it."""
    return {("email", sha256(a)) for a in addresses}


@dataclass(frozen=True)
class IdentityGraph:
    """The raw ``identities.parquet`` the sized server ingested: who owns which identifier."""

    owners: dict[Listed, set[str]]

    def digests(self, identifier_type: str) -> list[str]:
        """The digests of one type, sorted (so a test picks the same ones on every run)."""
        return sorted(d for t, d in self.owners if t == identifier_type)

    def matches(self, listed: Iterable[Listed]) -> int:
        """How many of the listed identifiers belong to at least one person."""
        return sum(1 for item in set(listed) if item in self.owners)

    def members(self, listed: Iterable[Listed]) -> set[str]:
        """The people who own at least one of the listed identifiers."""
        return set().union(*(self.owners.get(item, set()) for item in listed))


@pytest.fixture(scope="session")
def graph(demo_data: Path) -> IdentityGraph:
    """The identities of the demo data, read from the file (not through Reach)."""
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT user_id, identifier_type, digest FROM read_parquet(?)",
            [str(demo_data / "identities.parquet")],
        ).fetchall()
    owners: dict[Listed, set[str]] = {}
    for user_id, identifier_type, digest in rows:
        owners.setdefault((str(identifier_type), str(digest).lower()), set()).add(str(user_id))
    return IdentityGraph(owners)


def expected_stats(graph: IdentityGraph, listed: set[Listed]) -> tuple[int, int, float]:
    """numberOfIdentifiers, numberOfMatches and matchRate (rounded to 4) of docs/contact-lists."""
    matches = graph.matches(listed)
    rate = round(matches / len(listed), 4) if listed else 0.0
    return len(listed), matches, rate


# --- the three operations, from SDK models ---------------------------------------------------


def amendment(
    identifiers: list[str],
    operation: str = "add",
    identifier_type: str | None = "email",
    **extra: Any,
) -> Any:
    """A ``ContactlistAmendmentRequest``; ``extra`` as ``gum_caller_id=42``. A property the
    SDK does not know is sent under its wire name as given (``identifierType="fax"``)."""
    if identifier_type is not None:
        extra["identifier_type"] = identifier_type
    return ContactlistAmendmentRequest(
        data=ContactlistAmendment(
            type=AMENDMENT_TYPE,
            attributes=ContactlistAmendmentAttributes(
                identifiers=identifiers, operation=operation, **extra
            ),
        )
    )


def amend(
    sdk: Sdk,
    segment_id: str,
    identifiers: list[str],
    operation: str = "add",
    identifier_type: str = "email",
    **extra: Any,
) -> Any:
    """UpdateContactListByAudienceSegment."""
    return sdk.audience.update_contact_list_by_audience_segment(
        segment_id, amendment(identifiers, operation, identifier_type, **extra)
    )


def wipe(sdk: Sdk, segment_id: str) -> Any:
    """DeleteContactListByAudienceSegment."""
    return sdk.audience.delete_contact_list_by_audience_segment(segment_id)


def statistics(sdk: Sdk, segment_id: str) -> Any:
    """GetAudienceSegmentContactListStatistics."""
    return sdk.audience.get_audience_segment_contact_list_statistics(segment_id)


def stats(sdk: Sdk, segment_id: str) -> Stats:
    """(numberOfIdentifiers, numberOfMatches, matchRate) of a list; an answer with no problem."""
    response = statistics(sdk, segment_id)
    assert (response.data.id, response.data.type) == (segment_id, "ContactlistStatistics")
    # The sized server answers exact numbers, and says so (docs/privacy.md).
    assert response.errors == []
    assert [w.code for w in response.warnings] == ["size-privacy-exact"]
    attributes = response.data.attributes
    return attributes.number_of_identifiers, attributes.number_of_matches, attributes.match_rate


def size(sdk: Sdk, segment_id: str) -> int:
    """The size ComputeAudienceSegmentsSizes answers for one segment."""
    response = sdk.segment_sizes(segment_id)
    assert response.errors == []
    assert [r.id for r in response.data] == [segment_id]
    computed: int = response.data[0].attributes.size
    return computed


def calls(sdk: Sdk, segment_id: str) -> dict[str, Callable[[], Any]]:
    """Each of the three operations on one segment, with a well-formed request."""
    return {
        "UpdateContactListByAudienceSegment": lambda: amend(sdk, segment_id, [address(1)]),
        "DeleteContactListByAudienceSegment": lambda: wipe(sdk, segment_id),
        "GetAudienceSegmentContactListStatistics": lambda: statistics(sdk, segment_id),
    }


OPERATIONS = [
    "UpdateContactListByAudienceSegment",
    "DeleteContactListByAudienceSegment",
    "GetAudienceSegmentContactListStatistics",
]
WRITES = OPERATIONS[:2]


def refusal(call: Callable[[], Any]) -> tuple[int, str, str, dict[str, str] | None]:
    """The (status, type, code, source) of the one problem of a refused call."""
    with pytest.raises(ApiException) as raised:
        call()
    [problem] = problem_body(raised.value)["errors"]
    return raised.value.status, problem["type"], problem["code"], problem.get("source")


def problem_body_of_last(sdk: Sdk) -> dict[str, Any]:
    """The one problem of the last answer the client received."""
    [problem] = sdk.api_calls()[-1].body["errors"]
    found: dict[str, Any] = problem
    return found


def without_token(sdk: Sdk) -> Sdk:
    """The same client sending no Authorization header (the SDK's own ``no_auth``)."""
    send = sdk.client.rest_client.request

    def request(*args: Any, **kwargs: Any) -> Any:
        return send(*args, no_auth=True, **kwargs)

    sdk.client.rest_client.request = request
    return sdk


@pytest.fixture
def crm(sizer: Sdk, names: Names) -> str:
    """A new, empty ContactList segment of advertiser 1001 on the sized server."""
    [segment_id] = sizer.contact_lists(names("crm"))
    return segment_id


# --- UpdateContactListByAudienceSegment -------------------------------------------------------


class TestUpdateContactListByAudienceSegment:
    def test_add_answers_a_receipt(self, sizer: Sdk, crm: str) -> None:
        sent = [
            address(1),
            "  User2@Example.COM ",
            sha256(address(3)).upper(),
            "not an e-mail",
            "user4@",
            sha256(address(5))[:63],
        ]

        response = amend(sizer, crm, sent)

        assert response.data.type == AMENDMENT_TYPE
        receipt = response.data.attributes
        assert receipt.contact_list_id == int(crm)
        assert (receipt.operation, receipt.identifier_type) == ("add", "email")
        assert (receipt.nb_valid_identifiers, receipt.nb_invalid_identifiers) == (3, 3)
        assert receipt.sample_invalid_identifiers == sent[3:]
        assert is_utc(receipt.request_date)
        assert response.errors == []
        [warning] = response.warnings
        assert (warning.type, warning.code) == ("validation", "invalid-identifiers")
        assert warning.instance == f"{SEGMENTS}/{crm}/contact-list"
        assert warning.source == {"identifiers": "data/attributes/identifiers"}
        assert stats(sizer, crm)[0] == 3

    def test_a_valid_call_answers_no_warning(self, sizer: Sdk, crm: str) -> None:
        response = amend(sizer, crm, [address(1), address(2)])

        receipt = response.data.attributes
        assert (receipt.nb_valid_identifiers, receipt.nb_invalid_identifiers) == (2, 0)
        assert receipt.sample_invalid_identifiers == []
        assert response.errors == [] and response.warnings == []

    def test_the_sample_shows_at_most_ten_invalid_identifiers(self, sizer: Sdk, crm: str) -> None:
        invalid = [f"invalid {n}" for n in range(15)]

        receipt = amend(sizer, crm, [address(1), *invalid]).data.attributes

        assert (receipt.nb_valid_identifiers, receipt.nb_invalid_identifiers) == (1, 15)
        assert receipt.sample_invalid_identifiers == invalid[:10]

    def test_statistics_are_exact(self, sizer: Sdk, crm: str, graph: IdentityGraph) -> None:
        plain = [address(n) for n in range(1, 61)]
        shouted = [f"  {address(n).upper()}\t" for n in range(61, 81)]
        hashed = [sha256(address(n)) for n in range(81, 101)]
        strangers = [f"stranger{n}@example.org" for n in range(20)]

        receipt = amend(sizer, crm, plain + shouted + hashed + strangers).data.attributes

        listed = emails(*(address(n) for n in range(1, 101)), *strangers)
        assert (receipt.nb_valid_identifiers, receipt.nb_invalid_identifiers) == (120, 0)
        expected = expected_stats(graph, listed)
        assert 0 < expected[1] < 100  # some addresses match, some do not: no vacuous equality
        assert stats(sizer, crm) == expected

    def test_the_same_identifier_is_stored_once(
        self, sizer: Sdk, crm: str, graph: IdentityGraph
    ) -> None:
        forms = [address(7), address(7).upper(), f" {address(7)} ", sha256(address(7)).upper()]

        first = amend(sizer, crm, forms).data.attributes
        second = amend(sizer, crm, [address(7)]).data.attributes

        # Each call counts what it was sent; the list holds the identifier once.
        assert first.nb_valid_identifiers == 4
        assert second.nb_valid_identifiers == 1
        assert stats(sizer, crm) == expected_stats(graph, emails(address(7)))

    def test_remove_takes_identifiers_out(self, sizer: Sdk, crm: str, graph: IdentityGraph) -> None:
        amend(sizer, crm, [address(n) for n in range(1, 21)])

        response = amend(
            sizer,
            crm,
            [address(1).upper(), sha256(address(2)), "absent@example.org", "not an e-mail"],
            "remove",
        )

        receipt = response.data.attributes
        assert receipt.operation == "remove"
        # An identifier that is not in the list is valid, and removing it is no error.
        assert (receipt.nb_valid_identifiers, receipt.nb_invalid_identifiers) == (3, 1)
        assert receipt.sample_invalid_identifiers == ["not an e-mail"]
        assert response.errors == []
        assert stats(sizer, crm) == expected_stats(
            graph, emails(*(address(n) for n in range(3, 21)))
        )

    def test_removing_from_an_empty_list_is_no_error(self, sizer: Sdk, crm: str) -> None:
        receipt = amend(sizer, crm, ["absent@example.org"], "remove").data.attributes

        assert (receipt.nb_valid_identifiers, receipt.nb_invalid_identifiers) == (1, 0)
        assert stats(sizer, crm) == (0, 0, 0.0)

    def test_phone_numbers(self, sizer: Sdk, crm: str, graph: IdentityGraph) -> None:
        known = graph.digests("phoneNumber")[:5]
        sent = [
            *(d.upper() for d in known),
            "+33 6 12 34 56 78",
            sha256("+33612345678"),  # the same number, hashed by the client: stored once
            "+1 (650) 253-0000",
            "06 12 34 56 78",  # no country code, and no default region configured
        ]

        receipt = amend(sizer, crm, sent, identifier_type="phoneNumber").data.attributes

        assert receipt.identifier_type == "phoneNumber"
        assert (receipt.nb_valid_identifiers, receipt.nb_invalid_identifiers) == (8, 1)
        assert receipt.sample_invalid_identifiers == ["06 12 34 56 78"]
        listed = {("phoneNumber", d) for d in known} | {
            ("phoneNumber", sha256("+33612345678")),
            ("phoneNumber", sha256("+16502530000")),
        }
        expected = expected_stats(graph, listed)
        assert expected[:2] == (7, 5)
        assert stats(sizer, crm) == expected

    def test_mobile_advertising_ids(self, sizer: Sdk, crm: str, graph: IdentityGraph) -> None:
        known = graph.digests("madid")[:4]
        unknown = str(uuid.UUID(int=12345))
        sent = [*(d.upper() for d in known), known[0], unknown, "not-a-uuid"]

        receipt = amend(sizer, crm, sent, identifier_type="madid").data.attributes

        assert (receipt.nb_valid_identifiers, receipt.nb_invalid_identifiers) == (6, 1)
        assert receipt.sample_invalid_identifiers == ["not-a-uuid"]
        listed = {("madid", d) for d in [*known, unknown]}
        expected = expected_stats(graph, listed)
        assert expected[:2] == (5, 4)
        assert stats(sizer, crm) == expected

    @pytest.mark.parametrize(
        ("identifier_type", "extra"),
        [
            pytest.param("gum", {"gum_caller_id": 42}, id="gum-with-caller-id"),
            pytest.param("identityLink", {}, id="identity-link"),
        ],
    )
    def test_opaque_identifiers(
        self, sizer: Sdk, crm: str, identifier_type: str, extra: dict[str, Any]
    ) -> None:
        sent = ["abc-123", "ABC-123", "abc-123", "with space"]

        receipt = amend(sizer, crm, sent, identifier_type=identifier_type, **extra).data.attributes

        assert receipt.identifier_type == identifier_type
        assert (receipt.nb_valid_identifiers, receipt.nb_invalid_identifiers) == (3, 1)
        assert receipt.sample_invalid_identifiers == ["with space"]
        # Opaque ids are case-sensitive; the demo data holds none of this type, so no match.
        assert stats(sizer, crm) == (2, 0, 0.0)

    def test_identifiers_of_several_types_add_up(
        self, sizer: Sdk, crm: str, graph: IdentityGraph
    ) -> None:
        phones = graph.digests("phoneNumber")[:3]
        amend(sizer, crm, [address(n) for n in range(1, 11)])
        amend(sizer, crm, phones, identifier_type="phoneNumber")
        amend(sizer, crm, ["abc-123"], identifier_type="gum", gum_caller_id=7)

        listed = (
            emails(*(address(n) for n in range(1, 11)))
            | {("phoneNumber", d) for d in phones}
            | {("gum", "abc-123")}
        )
        assert stats(sizer, crm) == expected_stats(graph, listed)

    @pytest.mark.parametrize(
        ("request_body", "code", "source"),
        [
            pytest.param(
                lambda: amendment(["abc-123"], identifier_type="gum"),
                "required-field",
                {"gumCallerId": "data/attributes/gumCallerId"},
                id="gum-without-caller-id",
            ),
            pytest.param(
                # The SDK checks its enums: an unknown value goes as a property it does not know.
                lambda: amendment([address(30)], identifier_type=None, identifierType="fax"),
                "invalid",
                {"identifierType": "data/attributes/identifierType"},
                id="unknown-identifier-type",
            ),
            pytest.param(
                lambda: amendment([sha256(address(n)) for n in range(MAX_IDENTIFIERS + 1)]),
                "too-many-identifiers",
                {"identifiers": "data/attributes/identifiers"},
                id="more-than-50000",
            ),
        ],
    )
    def test_a_refused_amendment_changes_nothing(
        self,
        sizer: Sdk,
        crm: str,
        graph: IdentityGraph,
        request_body: Callable[[], Any],
        code: str,
        source: dict[str, str],
    ) -> None:
        amend(sizer, crm, [address(n) for n in range(1, 6)])
        before = stats(sizer, crm)

        refused = refusal(
            lambda: sizer.audience.update_contact_list_by_audience_segment(crm, request_body())
        )

        assert refused == (400, "validation", code, source)
        assert (
            stats(sizer, crm)
            == before
            == expected_stats(graph, emails(*(address(n) for n in range(1, 6))))
        )

    def test_exactly_50000_identifiers_are_accepted(self, sizer: Sdk, crm: str) -> None:
        sent = [sha256(f"bulk{n}@example.org") for n in range(MAX_IDENTIFIERS)]

        receipt = amend(sizer, crm, sent).data.attributes

        assert (receipt.nb_valid_identifiers, receipt.nb_invalid_identifiers) == (50_000, 0)
        assert stats(sizer, crm)[0] == MAX_IDENTIFIERS


# --- DeleteContactListByAudienceSegment -------------------------------------------------------


class TestDeleteContactListByAudienceSegment:
    def test_empties_the_list_and_keeps_the_segment(
        self, sizer: Sdk, crm: str, graph: IdentityGraph
    ) -> None:
        amend(sizer, crm, [address(n) for n in range(1, 31)])
        assert stats(sizer, crm)[1] != 0
        kept = attributes_of(sizer.find(crm))

        response = wipe(sizer, crm)

        assert (response.data.id, response.data.type) == (crm, "AudienceContactlist")
        assert response.errors == [] and response.warnings == []
        assert stats(sizer, crm) == (0, 0, 0.0)
        found = sizer.find(crm)
        assert (found.type, attributes_of(found)) == (RESOURCE_TYPE, kept)
        assert size(sizer, crm) == 0
        # The emptied list takes identifiers again.
        amend(sizer, crm, [address(1), address(2)])
        assert stats(sizer, crm) == expected_stats(graph, emails(address(1), address(2)))

    def test_emptying_an_empty_list_is_no_error(self, sizer: Sdk, crm: str) -> None:
        response = wipe(sizer, crm)

        assert (response.data.id, response.data.type) == (crm, "AudienceContactlist")
        assert stats(sizer, crm) == (0, 0, 0.0)


# --- GetAudienceSegmentContactListStatistics --------------------------------------------------


class TestGetAudienceSegmentContactListStatistics:
    def test_a_new_list_is_empty(self, sizer: Sdk, crm: str) -> None:
        assert stats(sizer, crm) == (0, 0, 0.0)

    def test_a_read_only_client_reads_them(
        self,
        sizer: Sdk,
        sized_server: SizedServer,
        sized_connect: Callable[[Credentials], Sdk],
        crm: str,
        graph: IdentityGraph,
    ) -> None:
        amend(sizer, crm, [address(n) for n in range(1, 11)])
        reader = sized_connect(sized_server.reader)

        assert stats(reader, crm) == expected_stats(
            graph, emails(*(address(n) for n in range(1, 11)))
        )

    def test_without_an_index_identifiers_are_counted_not_matched(
        self, sdk: Sdk, names: Names
    ) -> None:
        """On the conformance server, which holds no event data."""
        [crm] = sdk.contact_lists(names("no index"))
        amend(sdk, crm, [address(1), address(2), address(2).upper()])

        response = statistics(sdk, crm)

        attributes = response.data.attributes
        assert (
            attributes.number_of_identifiers,
            attributes.number_of_matches,
            attributes.match_rate,
        ) == (2, None, None)
        assert sdk.api_calls()[-1].body["data"]["attributes"] == {
            "numberOfIdentifiers": 2,
            "numberOfMatches": None,
            "matchRate": None,
        }
        assert [(w.type, w.code) for w in response.warnings] == [
            ("availability", "index-unavailable")
        ]


# --- refusals common to the three operations --------------------------------------------------


class TestRefusals:
    @pytest.mark.parametrize("operation", OPERATIONS)
    def test_a_segment_that_is_not_a_contact_list(
        self, sizer: Sdk, names: Names, operation: str
    ) -> None:
        visitors = sizer.create_one(
            segment(
                names("visitors"),
                retargeting=RetargetingCreateV1(
                    visitors_type="All", days_since_last_visit_min=0, days_since_last_visit_max=30
                ),
            )
        )

        refused = refusal(calls(sizer, visitors.id)[operation])

        assert refused[:3] == (400, "validation", "segment-not-contact-list")

    @pytest.mark.parametrize("operation", OPERATIONS)
    @pytest.mark.parametrize("segment_id", [MISSING_ID, "0", "not-a-number"])
    def test_a_missing_segment_is_not_found(
        self, sizer: Sdk, operation: str, segment_id: str
    ) -> None:
        refused = refusal(calls(sizer, segment_id)[operation])

        assert refused[:3] == (404, "validation", "segment-not-found")
        problem = problem_body_of_last(sizer)
        assert problem["instance"].startswith(f"{SEGMENTS}/{segment_id}/contact-list")

    @pytest.mark.parametrize("operation", OPERATIONS)
    def test_another_advertisers_list_looks_missing(
        self,
        sizer: Sdk,
        sized_server: SizedServer,
        sized_connect: Callable[[Credentials], Sdk],
        crm: str,
        graph: IdentityGraph,
        operation: str,
    ) -> None:
        amend(sizer, crm, [address(n) for n in range(1, 6)])
        other = sized_connect(sized_server.other)  # manages 1002 only

        refused = refusal(calls(other, crm)[operation])
        missing = refusal(calls(other, MISSING_ID)[operation])

        assert refused == missing
        assert refused[:3] == (404, "validation", "segment-not-found")
        assert stats(sizer, crm) == expected_stats(
            graph, emails(*(address(n) for n in range(1, 6)))
        )

    @pytest.mark.parametrize("operation", OPERATIONS)
    def test_no_token_is_401(
        self,
        sized_server: SizedServer,
        sized_connect: Callable[[Credentials], Sdk],
        crm: str,
        operation: str,
    ) -> None:
        anonymous = without_token(sized_connect(sized_server.manager))

        refused = refusal(calls(anonymous, crm)[operation])

        assert refused[:3] == (401, "authentication", "authorization-token-missing")
        # The one exchange is the call itself: no token was asked for, none was sent.
        assert len(anonymous.exchanges) == len(anonymous.api_calls()) == 1

    @pytest.mark.parametrize("operation", WRITES)
    def test_a_read_only_client_may_not_change_a_list(
        self,
        sizer: Sdk,
        sized_server: SizedServer,
        sized_connect: Callable[[Credentials], Sdk],
        crm: str,
        graph: IdentityGraph,
        operation: str,
    ) -> None:
        amend(sizer, crm, [address(n) for n in range(1, 6)])
        reader = sized_connect(sized_server.reader)

        refused = refusal(calls(reader, crm)[operation])

        assert refused[:3] == (403, "authorization", "insufficient-scope")
        assert stats(sizer, crm) == expected_stats(
            graph, emails(*(address(n) for n in range(1, 6)))
        )

    def test_a_read_only_list_refuses_changes(
        self, sdk: Sdk, reach_server: ReachServer, names: Names
    ) -> None:
        """On the conformance server, where ``reach contact-list`` loads no index (quicker)."""
        [crm] = sdk.contact_lists(names("protected"))
        amend(sdk, crm, [address(1), address(2)])

        reach(reach_server.env, "contact-list", "read-only", crm)
        refused = {operation: refusal(calls(sdk, crm)[operation]) for operation in WRITES}

        assert refused == dict.fromkeys(
            WRITES, (403, "authorization", "contact-list-read-only", None)
        )
        assert sdk.find(crm).attributes.contact_list.is_read_only is True
        # Reading is still allowed, and the list is as it was.
        assert statistics(sdk, crm).data.attributes.number_of_identifiers == 2


# --- a list's size ----------------------------------------------------------------------------


class TestContactListSize:
    def test_a_list_of_emails_has_one_member_per_match(
        self, sizer: Sdk, crm: str, graph: IdentityGraph, oracle: Oracle
    ) -> None:
        addresses = [address(n) for n in range(1, 151)]
        amend(sizer, crm, [*addresses, "stranger@example.org"])
        listed = emails(*addresses, "stranger@example.org")

        identifiers, matches, _ = stats(sizer, crm)

        members = oracle.contact_list(sorted(listed))
        assert members == graph.members(listed)
        assert 0 < len(members) < len(listed)
        # One address belongs to one person in the demo data: as many members as matches.
        assert (identifiers, matches) == (len(listed), len(members))
        assert size(sizer, crm) == len(members)

    def test_two_identifiers_of_one_person_are_one_member(
        self, sizer: Sdk, crm: str, graph: IdentityGraph, oracle: Oracle
    ) -> None:
        # A person with both an e-mail of the demo data and a phone number.
        phone_owners = {
            user: digest
            for (kind, digest), users in graph.owners.items()
            if kind == "phoneNumber"
            for user in users
        }
        n, person = next(
            (n, user)
            for n in range(1, 3000)
            for user in graph.owners.get(("email", sha256(address(n))), set())
            if user in phone_owners
        )
        amend(sizer, crm, [address(n)])
        amend(sizer, crm, [phone_owners[person]], identifier_type="phoneNumber")
        listed = emails(address(n)) | {("phoneNumber", phone_owners[person])}

        assert stats(sizer, crm) == (2, 2, 1.0)
        assert oracle.contact_list(sorted(listed)) == {person}
        assert size(sizer, crm) == 1

    def test_the_size_follows_the_list(
        self, sizer: Sdk, crm: str, graph: IdentityGraph, oracle: Oracle
    ) -> None:
        first = [address(n) for n in range(1, 41)]
        amend(sizer, crm, first)
        before = size(sizer, crm)
        amend(sizer, crm, first[:20], "remove")
        after = size(sizer, crm)
        wipe(sizer, crm)

        assert before == len(oracle.contact_list(sorted(emails(*first))))
        assert after == len(oracle.contact_list(sorted(emails(*first[20:]))))
        assert before > after > 0
        assert size(sizer, crm) == 0
