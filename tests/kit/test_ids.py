"""Ids travel as strings of positive int64 values."""

from __future__ import annotations

import pytest

from reach.kit.ids import parse_id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", 1),
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", None),
        ("0", None),
        ("-1", None),
        (" 1", None),
        ("1e3", None),
        ("١٢", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_id(raw: str | None, expected: int | None) -> None:
    assert parse_id(raw) == expected
