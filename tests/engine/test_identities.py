"""Identity keys: sorting and de-duplication agree with plain bytewise sorting."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from reach.engine.identities import KEY_BYTES, keys_array, unique_keys

# Few distinct first bytes and short tails of zeros make shared prefixes and duplicates common.
key_bytes = st.lists(
    st.sampled_from([b"\x01\x02", b"\x01\x03", b"\x05"]).flatmap(
        lambda head: st.binary(min_size=0, max_size=KEY_BYTES - len(head)).map(
            lambda tail: (head + tail).ljust(KEY_BYTES, b"\x00")
        )
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(key_bytes, st.integers(min_value=0, max_value=3))
def test_unique_keys_is_sorted_set_of_the_bytes(keys: list[bytes], repeat: int) -> None:
    sent = keys * (repeat + 1)
    found = [bytes(k).ljust(KEY_BYTES, b"\x00") for k in unique_keys(keys_array(sent)).tolist()]
    assert found == sorted(set(sent))


def test_random_digests_with_duplicates() -> None:
    rng = np.random.default_rng(3)
    raw = rng.integers(0, 256, size=(200_000, KEY_BYTES), dtype=np.uint8)
    raw[:, 0] = 1
    raw[100_000:150_000] = raw[:50_000]  # duplicates
    keys = raw.view(f"S{KEY_BYTES}").reshape(-1)
    expected = np.unique(raw.view(f"V{KEY_BYTES}").reshape(-1)).view(f"S{KEY_BYTES}")
    assert np.array_equal(unique_keys(keys), expected)
