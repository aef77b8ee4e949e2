"""The memberships cache: reuse within a byte budget, least recently used out first."""

from __future__ import annotations

from pyroaring import AbstractBitMap, BitMap, FrozenBitMap

from reach.audience_segment.membership import MembershipCache


def bitmap(start: int, count: int) -> BitMap:
    return BitMap(range(start, start + count))


class Counting:
    """A computation that counts how often it ran."""

    def __init__(self, result: AbstractBitMap) -> None:
        self.result = result
        self.calls = 0

    def __call__(self) -> AbstractBitMap:
        self.calls += 1
        return self.result


def test_a_kept_definition_is_not_computed_again() -> None:
    cache = MembershipCache(2**20)
    compute = Counting(bitmap(0, 1000))
    first = cache.get(("build-1", "def"), compute)
    second = cache.get(("build-1", "def"), compute)
    assert compute.calls == 1
    assert isinstance(first, FrozenBitMap) and first is second
    assert first == bitmap(0, 1000)


def test_another_build_is_another_key() -> None:
    cache = MembershipCache(2**20)
    old, new = Counting(bitmap(0, 10)), Counting(bitmap(0, 20))
    assert len(cache.get(("build-1", "def"), old)) == 10
    assert len(cache.get(("build-2", "def"), new)) == 20
    assert old.calls == new.calls == 1


def test_the_least_recently_used_goes_first_when_the_budget_is_spent() -> None:
    one = FrozenBitMap(bitmap(0, 100_000))
    cache = MembershipCache(int(one.__sizeof__() * 2.5))  # room for two
    a, b, c = (Counting(bitmap(i * 200_000, 100_000)) for i in range(3))
    cache.get("a", a)
    cache.get("b", b)
    cache.get("a", a)  # a is now the most recently used
    cache.get("c", c)  # b goes
    assert len(cache) == 2
    cache.get("a", a)
    cache.get("b", b)
    assert (a.calls, b.calls, c.calls) == (1, 2, 1)


def test_members_larger_than_the_budget_are_answered_but_not_kept() -> None:
    cache = MembershipCache(16)
    compute = Counting(bitmap(0, 100_000))
    assert len(cache.get("big", compute)) == 100_000
    assert len(cache.get("big", compute)) == 100_000
    assert compute.calls == 2 and len(cache) == 0
