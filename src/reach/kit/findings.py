"""Findings: the problems of one bulk item, and the checks every named resource shares."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from reach.kit.bulk import BulkResult
from reach.kit.ids import parse_id
from reach.kit.problems import (
    DuplicateItem,
    Invalid,
    NameMustBeUnique,
    NameMustNotBeEmpty,
    Problem,
    RequestProblems,
    RequiredField,
)
from reach.kit.repository import AdvertiserOwned
from reach.kit.wire import NillableString


@dataclass
class Findings:
    """Problems found in one item, their sources relative to the item (``attributes/...``).

    An item with a huge list can break a rule once per entry: the first ``MAX_LISTED`` problems
    are kept, the others only counted (no problem is built for them), and ``problems`` ends with
    one that says how many more there were and where the first of them is.
    """

    MAX_LISTED: ClassVar[int] = RequestProblems.MAX_LISTED

    listed: list[Problem] = field(default_factory=list)
    # Every problem found, listed or not: rules compare it before and after a check.
    found: int = 0
    _first_unlisted: Problem | None = None

    def add(self, kind: type[Problem], detail: str, name: str, path: str) -> None:
        self.found += 1
        if len(self.listed) < self.MAX_LISTED:
            self.listed.append(kind(detail, source={name: path}))
        elif self._first_unlisted is None:
            self._first_unlisted = kind(detail, source={name: path})

    @property
    def problems(self) -> list[Problem]:
        hidden = self.found - len(self.listed)
        first = self._first_unlisted
        if hidden == 0 or first is None:
            return list(self.listed)
        # The note is of the same kind as the first problem it stands for, and points at it.
        note = type(first)(
            f"{hidden} more problems were not listed, from this one on: {first.detail}",
            source=first.source,
        )
        return [*self.listed, note]

    def required(self, value: object, name: str, path: str) -> bool:
        if value is None:
            self.add(RequiredField, f"'{name}' is required", name, path)
            return False
        return True

    def __bool__(self) -> bool:
        return self.found > 0


# Characters that draw nothing: controls, format characters (zero-width space, joiners, BOM)
# and separators. A name made only of these looks empty.
_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
# Line breaks and tabs are fine in a description; no other control character is stored.
_DESCRIPTION_CONTROLS = frozenset("\t\n\r")


def control_character(value: str, allowed: frozenset[str] = frozenset()) -> str | None:
    """The first control character of ``value`` (NUL, escape...) outside ``allowed``, as
    ``U+XXXX``; such text is refused rather than stored."""
    for char in value:
        if unicodedata.category(char) == "Cc" and char not in allowed:
            return f"U+{ord(char):04X}"
    return None


def is_visible(value: str) -> bool:
    """Whether ``value`` draws at least one character."""
    return any(unicodedata.category(char) not in _INVISIBLE for char in value)


def check_name(value: str | None, f: Findings, path: str, max_length: int) -> str | None:
    """A name is required, holds a visible character, has no control character and fits
    ``max_length``; kept as sent."""
    if not f.required(value, "name", path):
        return None
    assert value is not None
    if not is_visible(value):
        f.add(NameMustNotBeEmpty, "The name must contain a visible character", "name", path)
        return None
    control = control_character(value)
    if control is not None:
        f.add(Invalid, f"The name contains the control character {control}", "name", path)
        return None
    if len(value) > max_length:
        f.add(Invalid, f"The name is longer than {max_length} characters", "name", path)
        return None
    return value


def check_description(value: str | None, f: Findings, path: str, max_length: int) -> str | None:
    if value is None:
        return None
    control = control_character(value, _DESCRIPTION_CONTROLS)
    if control is not None:
        f.add(
            Invalid,
            f"The description contains the control character {control}",
            "description",
            path,
        )
    elif len(value) > max_length:
        f.add(
            Invalid,
            f"The description is longer than {max_length} characters",
            "description",
            path,
        )
    return value


T = TypeVar("T", bound=AdvertiserOwned)


def bulk_target(
    raw: str | None,
    existing: dict[int, T],
    seen: set[int],
    f: Findings,
    not_found: type[Problem],
    noun: str,
) -> T | None:
    """The row an update or delete item names by ``id``: required, existing (and reachable,
    which looks the same), and named once per request."""
    if not f.required(raw, "id", "id"):
        return None
    number = parse_id(raw)
    row = existing.get(number) if number is not None else None
    if row is None:
        f.add(not_found, f"{noun} '{raw}' does not exist", "id", "id")
        return None
    if row.id in seen:
        f.add(DuplicateItem, f"{noun} '{raw}' appears more than once", "id", "id")
        return None
    seen.add(row.id)
    return row


def patch_name_and_description(
    row: AdvertiserOwned,
    current_description: str | None,
    name: str | None,
    description: NillableString | None,
    f: Findings,
    limits: tuple[int, int],
) -> tuple[str, str | None]:
    """Update semantics of the two texts: an absent field keeps its value; a ``NillableString``
    with ``null`` clears the description. ``limits``: the name's and description's lengths."""
    new_name = row.name
    if name is not None:
        new_name = check_name(name, f, "attributes/name", limits[0]) or row.name
    new_description = current_description
    if description is not None:
        new_description = check_description(
            description.value, f, "attributes/description", limits[1]
        )
    return new_name, new_description


@dataclass(frozen=True, slots=True)
class NameClaim:
    """Item ``index`` wants ``name`` for resource ``owner`` (None: not created yet)."""

    index: int
    advertiser_id: int
    owner: int | None
    name: str


def unique_names(
    result: BulkResult[Any],
    claims: Iterable[NameClaim],
    names_in_use: Callable[[int, set[str]], dict[str, int]],
) -> list[NameClaim]:
    """The claims of a name no other resource of the advertiser holds or claimed earlier in the
    request; each other claim fails its item with ``name-must-be-unique``."""
    claims = list(claims)
    wanted: dict[int, set[str]] = {}
    for claim in claims:
        wanted.setdefault(claim.advertiser_id, set()).add(claim.name)
    holders: dict[tuple[int, str], object] = {
        (advertiser_id, name): holder
        for advertiser_id, names in wanted.items()
        for name, holder in names_in_use(advertiser_id, names).items()
    }
    accepted = []
    for claim in claims:
        key = (claim.advertiser_id, claim.name)
        if key in holders and holders[key] != claim.owner:
            result.fail(
                claim.index,
                [
                    NameMustBeUnique(
                        f"The advertiser already has one named '{claim.name}'",
                        source={"name": "attributes/name"},
                    )
                ],
            )
            continue
        holders[key] = claim.owner if claim.owner is not None else ("new", claim.index)
        accepted.append(claim)
    return accepted
