"""Identifiers (pure): normalise, check and hash what a client uploads; raw values never leave.

E-mails and phone numbers become SHA-256 digests of their normalised form (or are taken as
digests when they already are 64 hexadecimal characters); the other types are checked and then
keyed by the engine's key scheme. The result holds keys only, plus the invalid values as sent
(for the receipt's sample, which lives in the answer and nowhere else).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from email_validator import EmailNotValidError, validate_email

from reach.engine.identities import TYPE_CODES, key

HEX64 = re.compile(r"[0-9a-fA-F]{64}")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
OPAQUE = re.compile(r"[\x21-\x7e]{1,256}")
# The common shape of an address, matched fast; anything else is judged by email-validator.
SIMPLE_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)
SAMPLE_SIZE = 10
# What str.strip() removes from ASCII text.
ASCII_WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
EMAIL_CODE = bytes([TYPE_CODES["email"]])


@dataclass
class Normalised:
    """Keys of the valid identifiers, and what was wrong with the others."""

    keys: list[bytes] = field(default_factory=list)
    invalid: int = 0
    sample: list[str] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)

    def refuse(self, raw: str, reason: str) -> None:
        self.invalid += 1
        self.reasons[reason] += 1
        if len(self.sample) < SAMPLE_SIZE:
            self.sample.append(raw)


def surely_not_email(value: str) -> bool:
    """Shapes no address has, whatever email-validator's rules (checked without it, as it takes
    far longer): without quotes or an IP-literal domain, an address has exactly one @ with
    something on both sides, no whitespace, no two dots in a row, and a dot in its domain."""
    if '"' in value or "[" in value:
        return False
    local, at, domain = value.partition("@")
    return (
        not at
        or not local
        or not domain
        or "@" in domain
        or "." not in domain
        or ".." in value
        or any(c.isspace() for c in value)
    )


def email_digest(raw: str) -> str | None:
    """The SHA-256 (hex) of a trimmed, lower-cased, valid address, or a digest sent as such."""
    value = raw.strip()
    if HEX64.fullmatch(value):
        return value.lower()
    lowered = value.lower()
    if not SIMPLE_EMAIL.fullmatch(lowered):
        if surely_not_email(value):
            return None
        try:
            lowered = validate_email(value, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            return None
    return hashlib.sha256(lowered.encode("utf-8")).hexdigest()


def phone_digest(raw: str, default_region: str | None) -> str | None:
    """The SHA-256 (hex) of the number in E.164, or a digest sent as such."""
    value = raw.strip()
    if HEX64.fullmatch(value):
        return value.lower()
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return hashlib.sha256(e164.encode("ascii")).hexdigest()


def normalise(
    identifier_type: str, values: list[str], *, phone_region: str | None = None
) -> Normalised:
    """Check and key every value; duplicates are kept (the store keeps each key once)."""
    found = Normalised()
    known = _common_email_keys(values) if identifier_type == "email" else None
    for position, raw in enumerate(values):
        ready = known[position] if known is not None else None
        if ready is not None:
            found.keys.append(ready)
        elif identifier_type == "email":
            digest = email_digest(raw)
            if digest is None:
                found.refuse(raw, "not an e-mail address or a SHA-256 digest")
            else:
                found.keys.append(key("email", digest))
        elif identifier_type == "phoneNumber":
            digest = phone_digest(raw, phone_region)
            if digest is None:
                reason = "not a valid phone number or a SHA-256 digest"
                if phone_region is None and not raw.strip().startswith("+"):
                    reason = "a phone number needs its country code (+...)"
                found.refuse(raw, reason)
            else:
                found.keys.append(key("phoneNumber", digest))
        elif identifier_type == "madid":
            value = raw.strip()
            if UUID.fullmatch(value):
                found.keys.append(key("madid", value.lower()))
            else:
                found.refuse(raw, "not a mobile advertising id (UUID)")
        else:  # identityLink and gum: opaque, printable, no spaces
            value = raw.strip()
            if OPAQUE.fullmatch(value):
                found.keys.append(key(identifier_type, value))
            else:
                found.refuse(raw, f"not a valid {identifier_type} (1 to 256 printable characters)")
    return found


def _common_email_keys(values: list[str]) -> list[bytes | None]:
    """The keys of the ASCII values in the common shapes (an address that SIMPLE_EMAIL matches,
    or a SHA-256 digest), computed column-wise; None where ``email_digest`` must judge.

    For ASCII text, trimming ASCII_WHITESPACE and lower-casing ASCII letters is exactly what
    ``email_digest`` does, so both give the same key."""
    keys: list[bytes | None] = [None] * len(values)
    if not values:
        return keys
    column = pa.array(values, type=pa.string())
    ascii_only = pc.string_is_ascii(column)
    trimmed = pc.utf8_trim(column, characters=ASCII_WHITESPACE)
    lowered = pc.ascii_lower(trimmed)
    digests = pc.and_(ascii_only, pc.match_substring_regex(trimmed, f"^(?:{HEX64.pattern})$"))
    simple = pc.and_(ascii_only, pc.match_substring_regex(lowered, f"^(?:{SIMPLE_EMAIL.pattern})$"))
    for position, text in _selected(simple, lowered):
        keys[position] = EMAIL_CODE + hashlib.sha256(text.encode("ascii")).digest()
    for position, text in _selected(digests, lowered):
        keys[position] = EMAIL_CODE + bytes.fromhex(text)
    return keys


def _selected(mask: pa.BooleanArray, texts: pa.StringArray) -> list[tuple[int, str]]:
    """The positions where ``mask`` holds, with the text there."""
    positions = pc.indices_nonzero(mask)
    return list(zip(positions.to_pylist(), pc.take(texts, positions).to_pylist(), strict=True))
