"""Problems of the contact-list operations."""

from __future__ import annotations

from reach.kit.problems import Problem


class NotAContactList(Problem):
    code = "segment-not-contact-list"
    title = "Only ContactList segments hold identifiers"


class ContactListReadOnly(Problem):
    status = 403
    type = "authorization"
    code = "contact-list-read-only"
    title = "The contact list is read-only"


class TooManyIdentifiers(Problem):
    code = "too-many-identifiers"
    title = "Too many identifiers in one call"


class InvalidIdentifiers(Problem):
    code = "invalid-identifiers"
    title = "Some identifiers were not valid"
