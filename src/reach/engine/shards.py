"""Shards: the index is partitioned by user ordinal into ranges of a fixed span.

Shard ``n`` holds the users whose ordinals lie in ``[n * span, (n + 1) * span)``. Each shard is
built, published and read on its own, with the users' global ordinals, so a segment's members
are the union of its members in every shard and its size the sum of their sizes. A span that is
a multiple of 2^16 keeps shards in separate roaring containers: that union is a concatenation.
"""

from __future__ import annotations

from dataclasses import dataclass

# 16,777,216 users per shard: 100M users make 6 shards, 1B users 60.
DEFAULT_SHARD_SPAN = 1 << 24
# Spans tests use are as small as 2^4; a span above 2^32 would be one shard anyway.
MIN_SHARD_SPAN = 1 << 4
MAX_SHARD_SPAN = 1 << 32


@dataclass(frozen=True)
class Shard:
    """The users of ordinals ``first`` (included) to ``stop`` (excluded)."""

    number: int
    first: int
    stop: int

    @property
    def name(self) -> str:
        return f"{self.number:05d}"


def check_span(span: int) -> int:
    """``span`` if it is a power of two between MIN_SHARD_SPAN and MAX_SHARD_SPAN."""
    if not MIN_SHARD_SPAN <= span <= MAX_SHARD_SPAN or span & (span - 1):
        raise ValueError(
            f"the shard span must be a power of two between {MIN_SHARD_SPAN:,} and"
            f" {MAX_SHARD_SPAN:,} users, not {span:,}"
        )
    return span


def shards_for(max_ordinal: int | None, span: int) -> list[Shard]:
    """The shards that hold ordinals 0 to ``max_ordinal`` (one shard when there are none)."""
    check_span(span)
    count = 1 if max_ordinal is None else max_ordinal // span + 1
    return [Shard(n, n * span, (n + 1) * span) for n in range(count)]
