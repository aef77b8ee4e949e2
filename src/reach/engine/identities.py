"""The identity graph as keys: how an identifier becomes the 33-byte key lists and the graph share.

A key is one byte for the identifier type, then 32 bytes: the SHA-256 digest itself for e-mails
and phone numbers (they arrive hashed), the SHA-256 of the identifier for the other types (so
no raw mobile-ad id or partner id is ever stored either).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

TYPE_CODES = {"email": 1, "phoneNumber": 2, "madid": 3, "identityLink": 4, "gum": 5}
TYPE_OF_CODE = {code: name for name, code in TYPE_CODES.items()}
HASHED_TYPES = ("email", "phoneNumber")
KEY_BYTES = 33
KEY_DTYPE = np.dtype(f"S{KEY_BYTES}")


def key(identifier_type: str, canonical: str) -> bytes:
    """The key of a canonical identifier: a 64-hex SHA-256 digest for e-mails and phone
    numbers, the identifier itself (already normalised) for the other types."""
    code = bytes([TYPE_CODES[identifier_type]])
    if identifier_type in HASHED_TYPES:
        return code + bytes.fromhex(canonical)
    return code + hashlib.sha256(canonical.encode("utf-8")).digest()


def keys_array(keys: list[bytes]) -> np.ndarray[Any, Any]:
    return np.array(keys, dtype=KEY_DTYPE)


def unique_keys(keys: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Sorted (bytewise) and without duplicates.

    Keys are sorted by their 8-byte prefix, an integer sort; only the keys whose prefix is not
    unique (duplicates, or rare digests sharing 8 bytes) are compared as whole 33-byte values.
    """
    if len(keys) == 0:
        return np.empty(0, dtype=KEY_DTYPE)
    keys = np.ascontiguousarray(keys, dtype=KEY_DTYPE)
    head = prefixes(keys)
    order = np.argsort(head, kind="stable")
    keys, head = keys[order], head[order]
    same = head[1:] == head[:-1]
    if not same.any():
        return keys
    shared = np.zeros(len(keys), dtype=bool)
    shared[1:] |= same
    shared[:-1] |= same
    whole: np.ndarray[Any, Any] = np.unique(keys[shared].view(f"V{KEY_BYTES}")).view(KEY_DTYPE)
    # A prefix is either unique or shared, so sorting again by prefix (stably) keeps the
    # whole-key order inside each shared prefix.
    merged = np.concatenate([keys[~shared], whole])
    result: np.ndarray[Any, Any] = merged[np.argsort(prefixes(merged), kind="stable")]
    return result


def prefixes(keys: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The first 8 bytes of each key as a big-endian integer: sorting or searching by it keeps
    the keys' byte order, at integer speed."""
    rows = np.ascontiguousarray(keys).view(np.uint8).reshape(len(keys), KEY_BYTES)
    values: np.ndarray[Any, Any] = np.ascontiguousarray(rows[:, :8]).view(">u8").reshape(len(keys))
    return values


def key_sql(identifier_type: str, digest: str) -> str:
    """The same key as ``key``, computed by SQL from a stored identity's columns."""
    codes = " ".join(f"WHEN '{t}' THEN {c}" for t, c in TYPE_CODES.items())
    hashed = ", ".join(f"'{t}'" for t in HASHED_TYPES)
    return (
        f"encode(chr(CASE {identifier_type} {codes} END)) || "
        f"CASE WHEN {identifier_type} IN ({hashed}) THEN unhex({digest}) "
        f"ELSE unhex(sha256({digest})) END"
    )


def type_counts(keys: np.ndarray[Any, Any]) -> dict[str, int]:
    """How many keys of each identifier type."""
    if len(keys) == 0:
        return {}
    codes = keys.view(np.uint8).reshape(len(keys), KEY_BYTES)[:, 0]
    values, counts = np.unique(codes, return_counts=True)
    return {TYPE_OF_CODE[int(v)]: int(c) for v, c in zip(values, counts, strict=True)}
