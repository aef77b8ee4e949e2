"""The algebra module: parsing, the finiteness rules, and evaluation over any set type."""

from __future__ import annotations

from functools import reduce
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyroaring import BitMap

from reach.audience.algebra import (
    AlgebraError,
    And,
    Node,
    Not,
    Or,
    Segment,
    check,
    depth,
    evaluate,
    parse,
    relabel,
    segment_ids,
    to_json,
)

SEGMENT_IDS = [str(i) for i in range(1, 7)]
UNIVERSE = frozenset(range(40))


def checked(raw: Any, max_depth: int = 3, known: set[str] | None = None) -> list[AlgebraError]:
    node, errors = parse(raw)
    if node is None:
        return errors
    allowed = set(SEGMENT_IDS) if known is None else known
    return check(node, max_depth, allowed.__contains__)


def seg(i: int) -> dict[str, str]:
    return {"audienceSegmentId": str(i)}


class TestRules:
    def test_valid_shapes(self) -> None:
        for raw in (
            seg(1),
            {"and": [seg(1), seg(2)]},
            {"or": [seg(1)]},
            {"and": [seg(1), {"not": seg(2)}]},
            {"and": [{"or": [{"and": [seg(1), seg(2)]}, seg(3)]}, {"not": seg(4)}]},
            {"and": [seg(1), {"not": {"or": [seg(2), seg(3)]}}]},
        ):
            assert checked(raw) == [], raw

    @pytest.mark.parametrize(
        ("raw", "kind", "path"),
        [
            ({}, "invalid-node", ""),
            ({"audienceSegmentId": "1", "and": [seg(2)]}, "invalid-node", ""),
            ({"and": []}, "invalid-node", ""),
            ({"or": [seg(1), {"xor": [seg(2)]}]}, "invalid-node", "or/1"),
            ({"and": [seg(1), "2"]}, "invalid-node", "and/1"),
            ({"audienceSegmentId": ""}, "invalid-node", ""),
            ({"not": seg(1)}, "misplaced-not", ""),
            ({"or": [seg(1), {"not": seg(2)}]}, "misplaced-not", "or/1"),
            ({"and": [seg(1), {"not": {"not": seg(2)}}]}, "misplaced-not", "and/1/not"),
            ({"and": [{"not": seg(1)}, {"not": seg(2)}]}, "no-positive-term", ""),
            (
                {"and": [{"or": [{"and": [{"or": [seg(1)]}]}]}]},
                "too-deep",
                "and/0/or/0/and/0",
            ),
            ({"and": [seg(1), seg(99)]}, "unknown-segment", "and/1"),
        ],
    )
    def test_each_rule(self, raw: Any, kind: str, path: str) -> None:
        errors = checked(raw)
        assert (errors[0].kind, errors[0].path) == (kind, path)

    def test_nulls_count_as_absent(self) -> None:
        assert checked({"audienceSegmentId": "1", "and": None, "or": None, "not": None}) == []

    def test_depth_is_configurable(self) -> None:
        deep = {"and": [{"or": [{"and": [seg(1), seg(2)]}]}]}
        assert depth(parse(deep)[0]) == 3  # type: ignore[arg-type]
        assert checked(deep, max_depth=3) == []
        assert checked(deep, max_depth=2)[0].kind == "too-deep"

    def test_every_problem_of_a_tree_is_reported(self) -> None:
        errors = checked({"and": [seg(98), {"or": [seg(99), {"not": seg(1)}]}]})
        assert [(e.kind, e.path) for e in errors] == [
            ("unknown-segment", "and/0"),
            ("unknown-segment", "and/1/or/0"),
            ("misplaced-not", "and/1/or/1"),
        ]

    def test_relabel(self) -> None:
        node, _ = parse({"and": [seg(1), {"not": {"or": [seg(2)]}}]})
        assert node is not None
        assert to_json(relabel(node, lambda i: f"s{i}")) == {
            "and": [{"audienceSegmentId": "s1"}, {"not": {"or": [{"audienceSegmentId": "s2"}]}}]
        }

    def test_canonical_json_and_segment_ids(self) -> None:
        raw = {"and": [seg(1), {"not": {"or": [seg(2), seg(1)]}}]}
        node, _ = parse(raw | {"or": None})
        assert node is not None
        assert to_json(node) == raw
        assert segment_ids(node) == {"1", "2"}


# --- properties ---------------------------------------------------------------------------------


def _naive(node: Node, members: dict[str, frozenset[int]]) -> frozenset[int]:
    """Set semantics taken literally: a 'not' is the complement in a universe."""
    if isinstance(node, Segment):
        return members[node.id]
    if isinstance(node, Not):
        return UNIVERSE - _naive(node.term, members)
    parts = [_naive(term, members) for term in node.terms]
    if isinstance(node, Or):
        return reduce(frozenset.union, parts)
    return reduce(frozenset.intersection, parts)


LEAVES = st.sampled_from(SEGMENT_IDS).map(Segment)


def _valid(level: int) -> st.SearchStrategy[Node]:
    """Trees that follow every rule, with at most ``level`` nested operators."""
    if level == 0:
        return LEAVES
    inner = _valid(level - 1)
    negated = _valid(level - 2).map(Not) if level >= 2 else st.nothing()
    ands = st.tuples(
        st.lists(inner, min_size=1, max_size=3),
        st.lists(negated, max_size=2) if level >= 2 else st.just([]),
    ).map(lambda pair: And((*pair[0], *pair[1])))
    ors = st.lists(inner, min_size=1, max_size=3).map(lambda terms: Or(tuple(terms)))
    return st.one_of(inner, ands, ors)


MEMBERS = st.fixed_dictionaries(
    {i: st.frozensets(st.sampled_from(sorted(UNIVERSE)), max_size=25) for i in SEGMENT_IDS}
)


@settings(max_examples=300)
@given(node=_valid(3), members=MEMBERS)
def test_valid_trees_evaluate_like_set_semantics(
    node: Node, members: dict[str, frozenset[int]]
) -> None:
    assert check(node, 3, set(SEGMENT_IDS).__contains__) == []
    expected = _naive(node, members)
    assert evaluate(node, lambda i: set(members[i])) == expected
    bitmaps = {i: BitMap(m) for i, m in members.items()}
    assert set(evaluate(node, bitmaps.__getitem__)) == expected


@settings(max_examples=300)
@given(node=_valid(3))
def test_valid_trees_survive_their_json(node: Node) -> None:
    parsed, errors = parse(to_json(node))
    assert errors == []
    assert parsed == node


def _resolve(raw: Any, path: str) -> Any:
    here = raw
    for step in filter(None, path.split("/")):
        here = here[int(step)] if isinstance(here, list) else here[step]
    return here


JSON_LEAVES = st.sampled_from([*SEGMENT_IDS, "99"]).map(lambda i: {"audienceSegmentId": i})
JSON_JUNK: st.SearchStrategy[Any] = st.sampled_from([None, 3, "x", [], {}])
JSONISH: st.SearchStrategy[Any] = st.recursive(
    # Mostly well-formed, so that the rules (not only the shape) are exercised.
    st.one_of(JSON_LEAVES, JSON_LEAVES, JSON_LEAVES, JSON_JUNK),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda terms: {"and": terms}),
        st.lists(inner, max_size=3).map(lambda terms: {"or": terms}),
        inner.map(lambda term: {"not": term}),
        st.tuples(inner, inner).map(lambda pair: {"and": [pair[0]], "not": pair[1]}),
    ),
    max_leaves=10,
)


def _broken_rules(raw: Any, max_depth: int = 3) -> list[tuple[str, str]]:
    """(kind, path) of every rule a well-formed JSON tree breaks, read straight off the JSON:
    an independent statement of BEHAVIOUR §6 to hold ``check`` against."""
    found: list[tuple[str, str]] = []

    def walk(node: dict[str, Any], path: str, parent: str | None, level: int) -> None:
        [(key, value)] = [(k, v) for k, v in node.items() if v is not None]
        if key == "audienceSegmentId":
            if value not in SEGMENT_IDS:
                found.append(("unknown-segment", path))
            return
        if level + 1 > max_depth:
            found.append(("too-deep", path))  # and nothing below it is looked at
            return
        if key == "not":
            if parent is None or parent != "and":
                found.append(("misplaced-not", path))
            walk(value, f"{path}/not".lstrip("/"), "not", level + 1)
            return
        if key == "and" and all(set(term) == {"not"} for term in value):
            found.append(("no-positive-term", path))
        for index, term in enumerate(value):
            walk(term, f"{path}/{key}/{index}".lstrip("/"), key, level + 1)

    walk(raw, "", None, 0)
    return found


@settings(max_examples=500)
@given(raw=JSONISH)
def test_rejections_point_at_a_real_node(raw: Any) -> None:
    errors = checked(raw)
    node, _ = parse(raw)
    if not errors:
        # Accepted trees really follow the rules: finite, so evaluable without a universe.
        assert node is not None
        evaluate(node, lambda i: {int(i)})
        assert depth(node) <= 3
        assert segment_ids(node) <= set(SEGMENT_IDS)
        return
    if node is not None:
        # A well-formed tree: exactly the broken rules, each at the node that breaks it.
        assert sorted((e.kind, e.path) for e in errors) == sorted(_broken_rules(raw))
        return
    for error in errors:
        # A malformed tree: only malformed nodes are named, each one itself malformed.
        assert error.kind == "invalid-node"
        target = _resolve(raw, error.path)
        assert any(e.kind == "invalid-node" and e.path == "" for e in parse(target)[1])
