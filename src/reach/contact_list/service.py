"""Contact-list logic: amend (add, remove), wipe, statistics, and the members a list reaches."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from threading import Lock

from pyroaring import BitMap
from sqlalchemy.orm import Session

from reach.audience_segment.errors import SegmentNotFound
from reach.audience_segment.repository import AudienceSegmentRepository
from reach.config import Settings
from reach.contact_list.errors import (
    ContactListReadOnly,
    InvalidIdentifiers,
    NotAContactList,
    TooManyIdentifiers,
)
from reach.contact_list.identifiers import normalise
from reach.contact_list.schemas import ContactlistAmendmentRequest, IdentifierType
from reach.contact_list.storage import ListStore
from reach.engine.identities import keys_array, type_counts
from reach.engine.query import Index
from reach.kit.clock import Clock
from reach.kit.ids import parse_id
from reach.kit.privacy import SizePrivacy
from reach.kit.problems import Problem, RequestProblems, RequiredField
from reach.kit.sizes import IndexUnavailable, SizeBelowFloor
from reach.models import AudienceSegment

MATCH_RATE_DECIMALS = 4
CACHED_LISTS = 64
DEFAULT_IDENTIFIER_TYPE: IdentifierType = "email"


@dataclass(frozen=True)
class Matches:
    """A list matched against one index build: counts per identifier type and the users."""

    identifiers: dict[str, int]
    matches: dict[str, int]
    members: BitMap
    # Names the list's content: two lists of the same identifiers have the same digest.
    digest: str

    @property
    def question(self) -> str:
        """What the list's size answers, for the noise of the privacy mode."""
        return f"ContactList/{self.digest}"


class ListMatches:
    """Matches of lists, cached by (list, version, index build): a list is matched against the
    identity graph once per change of either."""

    def __init__(self, lists: ListStore, privacy: SizePrivacy) -> None:
        self.lists = lists
        self.privacy = privacy
        self._lock = Lock()
        self._cache: OrderedDict[tuple[int, int, str], Matches] = OrderedDict()

    def get(self, segment_id: int, index: Index) -> Matches:
        version, keys = self.lists.keys(segment_id)
        cache_key = (segment_id, version, index.build_id)
        with self._lock:
            found = self._cache.get(cache_key)
            if found is not None:
                self._cache.move_to_end(cache_key)
                return found
        matched, members = index.match(keys)
        digest = hashlib.blake2b(keys.tobytes(), digest_size=16).hexdigest()
        found = Matches(type_counts(keys), type_counts(keys[matched]), members, digest)
        with self._lock:
            self._cache[cache_key] = found
            while len(self._cache) > CACHED_LISTS:
                self._cache.popitem(last=False)
        return found

    def reached(self, found: Matches, build_id: str) -> BitMap:
        """The people a matched list contributes to sizes, audiences and lookalike seeds: none
        while its own size is withheld (fewer people than the floor), so that no size tells
        whether one listed person is in a segment."""
        shown = self.privacy.count(len(found.members), found.question, build_id)
        if shown is None and not self.privacy.exact:
            return BitMap()
        return found.members


@dataclass
class Receipt:
    contact_list_id: int
    operation: str
    request_date: datetime
    identifier_type: str
    valid: int
    invalid: int
    sample: list[str]
    warnings: list[Problem] = field(default_factory=list)


@dataclass
class Statistics:
    identifiers: int
    matches: int | None
    rate: float | None
    by_type: dict[str, tuple[int, int | None]]
    invalid: dict[str, int]
    warnings: list[Problem] = field(default_factory=list)


def match_rate(matches: int, identifiers: int) -> float:
    """matches / identifiers, rounded to 4 decimals (0 for an empty list)."""
    return round(matches / identifiers, MATCH_RATE_DECIMALS) if identifiers else 0.0


class ContactListService:
    def __init__(
        self,
        session: Session,
        settings: Settings,
        clock: Clock,
        matches: ListMatches,
        index: Index | None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.matches = matches
        self.lists = matches.lists
        self.index = index
        self.segments = AudienceSegmentRepository(session)

    def segment(self, reachable: frozenset[int] | None, raw_id: str) -> AudienceSegment:
        """The ContactList segment behind a path's id (``reachable`` None: any advertiser)."""
        segment_id = parse_id(raw_id)
        found = None
        if segment_id is not None:
            if reachable is None:
                found = self.segments.session.get(AudienceSegment, segment_id)
            else:
                found = self.segments.by_ids([segment_id], reachable).get(segment_id)
        if found is None:
            raise SegmentNotFound(f"Segment '{raw_id}' does not exist")
        if found.type != "ContactList":
            raise NotAContactList(f"Segment {found.id} is a {found.type} segment")
        return found

    def amend(
        self, reachable: frozenset[int] | None, raw_id: str, body: ContactlistAmendmentRequest
    ) -> Receipt:
        if body.data is None:
            raise RequiredField("'data' is required", source={"data": "data"})
        attributes = body.data.attributes
        if attributes is None:
            raise RequiredField(
                "'data/attributes' is required", source={"attributes": "data/attributes"}
            )
        missing = [
            RequiredField(f"'{name}' is required", source={name: f"data/attributes/{name}"})
            for name, value in (
                ("operation", attributes.operation),
                ("identifiers", attributes.identifiers),
            )
            if value is None
        ]
        if missing:
            raise RequestProblems(missing)
        assert attributes.operation is not None
        assert attributes.identifiers is not None
        # The contract makes identifierType optional and names no default: e-mail, the type
        # nearly every list holds (docs/behaviour.md).
        identifier_type = attributes.identifier_type or DEFAULT_IDENTIFIER_TYPE
        most = self.settings.max_contact_list_identifiers
        if len(attributes.identifiers) > most:
            raise TooManyIdentifiers(
                f"{len(attributes.identifiers)} identifiers: at most {most} per call",
                source={"identifiers": "data/attributes/identifiers"},
            )
        if identifier_type == "gum" and attributes.gum_caller_id is None:
            raise RequiredField(
                "'gumCallerId' is required for gum identifiers",
                source={"gumCallerId": "data/attributes/gumCallerId"},
            )
        segment = self.segment(reachable, raw_id)
        if segment.definition.get("isReadOnly"):
            raise ContactListReadOnly(f"Contact list {segment.id} is read-only")
        found = normalise(
            identifier_type,
            attributes.identifiers,
            phone_region=self.settings.phone_default_region,
        )
        if found.keys:
            self.lists.change(segment.id, attributes.operation, keys_array(found.keys))
            segment.updated_at = self.clock.now()
        self.lists.count_invalid(segment.id, found.reasons)
        receipt = Receipt(
            contact_list_id=segment.id,
            operation=attributes.operation,
            request_date=self.clock.now(),
            identifier_type=identifier_type,
            valid=len(found.keys),
            invalid=found.invalid,
            sample=found.sample,
        )
        if found.invalid:
            details = "; ".join(f"{n} {reason}" for reason, n in found.reasons.most_common())
            receipt.warnings.append(
                InvalidIdentifiers(
                    f"{found.invalid} identifiers were refused: {details}",
                    source={"identifiers": "data/attributes/identifiers"},
                )
            )
        return receipt

    def wipe(self, reachable: frozenset[int] | None, raw_id: str) -> AudienceSegment:
        segment = self.segment(reachable, raw_id)
        if segment.definition.get("isReadOnly"):
            raise ContactListReadOnly(f"Contact list {segment.id} is read-only")
        self.lists.clear(segment.id)
        segment.updated_at = self.clock.now()
        return segment

    def statistics(self, reachable: frozenset[int] | None, raw_id: str) -> Statistics:
        segment = self.segment(reachable, raw_id)
        invalid = self.lists.invalid(segment.id)
        if self.index is None:
            _, keys = self.lists.keys(segment.id)
            counts = type_counts(keys)
            return Statistics(
                identifiers=len(keys),
                matches=None,
                rate=None,
                by_type={t: (n, None) for t, n in counts.items()},
                invalid=invalid,
                warnings=[
                    IndexUnavailable(
                        "No index is in service: identifiers are counted, not yet matched"
                    )
                ],
            )
        found = self.matches.get(segment.id, self.index)
        privacy = self.matches.privacy
        build = self.index.build_id
        identifiers = sum(found.identifiers.values())
        # The caller's own upload count stays exact; what matched is answered like a size.
        matches = privacy.count(sum(found.matches.values()), f"{found.question}/matches", build)
        by_type = {
            t: (n, privacy.count(found.matches.get(t, 0), f"{found.question}/matches/{t}", build))
            for t, n in found.identifiers.items()
        }
        warnings = privacy.notice()
        if matches is None:
            warnings.append(
                SizeBelowFloor(
                    f"Fewer than {privacy.floor} identifiers matched: the count is withheld"
                    " (REACH_MIN_REPORTED_SIZE)",
                    source={"numberOfMatches": "data/attributes/numberOfMatches"},
                )
            )
        return Statistics(
            identifiers=identifiers,
            matches=None if matches is None else min(matches, identifiers),
            rate=None if matches is None else match_rate(min(matches, identifiers), identifiers),
            by_type={t: (n, None if m is None else min(m, n)) for t, (n, m) in by_type.items()},
            invalid=invalid,
            warnings=warnings,
        )

    def set_read_only(self, raw_id: str, read_only: bool) -> AudienceSegment:
        segment = self.segment(None, raw_id)
        segment.definition = segment.definition | {"isReadOnly": read_only}
        segment.updated_at = self.clock.now()
        return segment
