"""Identifier normalisation: what is hashed, what is refused, and why."""

from __future__ import annotations

import hashlib

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from reach.contact_list.identifiers import (
    email_digest,
    normalise,
    phone_digest,
    surely_not_email,
)
from reach.engine.identities import key


def sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class TestEmail:
    @pytest.mark.parametrize(
        ("raw", "canonical"),
        [
            ("john.doe@example.com", "john.doe@example.com"),
            ("  John.Doe@Example.COM  ", "john.doe@example.com"),
            ("jane+news@example.co.uk", "jane+news@example.co.uk"),
            ("\tUPPER@EXAMPLE.ORG\n", "upper@example.org"),
            ("josé@exämple.com", "josé@exämple.com"),
            ("Zoë.Ünicode@Example.com", "zoë.ünicode@example.com"),
        ],
    )
    def test_addresses_are_trimmed_lowered_and_hashed(self, raw: str, canonical: str) -> None:
        assert email_digest(raw) == sha(canonical)

    def test_plus_addressing_is_kept(self) -> None:
        assert email_digest("a+b@example.com") != email_digest("a@example.com")

    @pytest.mark.parametrize(
        "raw",
        [
            "plainaddress",
            "a@b",
            "a@localhost",
            "a@exa_mple.com",
            "a@@example.com",
            "@example.com",
            "a b@example.com",
            "",
            "a@-example.com",
        ],
    )
    def test_invalid_addresses(self, raw: str) -> None:
        assert email_digest(raw) is None

    def test_digests_are_taken_as_they_are_in_lower_case(self) -> None:
        digest = sha("x@example.com")
        assert email_digest(digest.upper()) == digest
        assert email_digest(f" {digest} ") == digest
        assert email_digest(digest[:-1]) is None


class TestPhone:
    def test_numbers_become_e164_before_hashing(self) -> None:
        expected = sha("+33612345678")
        assert phone_digest("+33 6 12 34 56 78", None) == expected
        assert phone_digest("+33 (0)6 12-34-56-78", None) == expected
        assert phone_digest("06 12 34 56 78", "FR") == expected

    def test_without_country_code_and_no_default_region(self) -> None:
        assert phone_digest("06 12 34 56 78", None) is None
        found = normalise("phoneNumber", ["06 12 34 56 78"])
        assert found.reasons == {"a phone number needs its country code (+...)": 1}

    @pytest.mark.parametrize("raw", ["+33 12", "+999 123456", "hello", ""])
    def test_invalid_numbers(self, raw: str) -> None:
        assert phone_digest(raw, None) is None

    def test_digests_are_accepted(self) -> None:
        digest = sha("+33612345678")
        assert phone_digest(digest.upper(), None) == digest


class TestOtherTypes:
    def test_madid_is_a_lower_cased_uuid(self) -> None:
        found = normalise("madid", ["6F9619FF-8B86-D011-B42D-00C04FC964FF", "not-a-uuid"])
        assert found.keys == [key("madid", "6f9619ff-8b86-d011-b42d-00c04fc964ff")]
        assert found.sample == ["not-a-uuid"]

    @pytest.mark.parametrize("identifier_type", ["identityLink", "gum"])
    def test_opaque_identifiers_are_format_checked(self, identifier_type: str) -> None:
        found = normalise(identifier_type, ["XY-123_abc", "has space", "x" * 257, ""])
        assert found.keys == [key(identifier_type, "XY-123_abc")]
        assert found.invalid == 3


def test_the_receipt_counts_and_samples_up_to_ten_invalid_values_as_sent() -> None:
    raw = [f"bad {i}" for i in range(15)] + ["ok@example.com", "ok@example.com"]
    found = normalise("email", raw)
    assert (len(found.keys), found.invalid) == (2, 15)
    assert found.sample == raw[:10]
    assert found.keys[0] == key("email", sha("ok@example.com"))


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.sampled_from('ab.@ \t"[]1-_+éK\u00a0'), max_size=14))
def test_what_the_shortcut_refuses_email_validator_refuses_too(value: str) -> None:
    if surely_not_email(value):
        with pytest.raises(EmailNotValidError):
            validate_email(value, check_deliverability=False)


def one_by_one(values: list[str]) -> tuple[list[bytes], list[str]]:
    """Keys and refusals as email_digest gives them, value by value."""
    keys, refused = [], []
    for value in values:
        digest = email_digest(value)
        if digest is None:
            refused.append(value)
        else:
            keys.append(key("email", digest))
    return keys, refused


PIECES = [*'aZ9.@_+-"[] \t\n\x0b\x1c\x1f\x85\u00a0\u180e\u2003éK\u212a', "example.com", "0" * 64]
EMAIL_TEXT = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)


@settings(max_examples=1500, deadline=None)
@given(st.lists(EMAIL_TEXT, max_size=8))
def test_emails_are_keyed_column_wise_exactly_as_one_by_one(values: list[str]) -> None:
    found = normalise("email", values)
    keys, refused = one_by_one(values)
    assert found.keys == keys
    assert found.invalid == len(refused)
    assert found.sample == refused[:10]


def test_common_shapes_of_emails_column_wise() -> None:
    values = [
        " User.Name+tag@Example.COM\t",
        "\x1cuser@example.com\x1f",
        "A" * 64,
        "\u180euser@example.com",
        "user@exampl\u212a.com",
        "jörg.müller@gmx.de",
        "n/a",
        "",
    ]
    found = normalise("email", values)
    keys, refused = one_by_one(values)
    assert (found.keys, found.sample) == (keys, refused)
    assert len(keys) == 5
