"""Audience algebra (pure, no I/O): parse, check and evaluate and/or/not trees of segments.

A node is exactly one of ``{"audienceSegmentId": id}``, ``{"and": [...]}``, ``{"or": [...]}``
and ``{"not": node}``. The rules keep every audience finite: a ``not`` stands only inside an
``and`` that also has a positive term, so evaluation never needs a universe to subtract from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import reduce
from typing import Any, Literal, Protocol, Self, TypeVar

KEYS = ("audienceSegmentId", "and", "or", "not")


@dataclass(frozen=True, slots=True)
class Segment:
    id: str


@dataclass(frozen=True, slots=True)
class And:
    terms: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    terms: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    term: Node


Node = Segment | And | Or | Not

ErrorKind = Literal[
    "invalid-node", "misplaced-not", "no-positive-term", "too-deep", "unknown-segment"
]


@dataclass(frozen=True, slots=True)
class AlgebraError:
    """What is wrong, and where: ``path`` leads from the root to the node (``and/1/not``)."""

    kind: ErrorKind
    path: str
    detail: str


def _child(path: str, step: str) -> str:
    return f"{path}/{step}" if path else step


# --- parsing ----------------------------------------------------------------------------------


def parse(raw: Any, path: str = "") -> tuple[Node | None, list[AlgebraError]]:
    """Read a JSON tree (``null`` members count as absent) into nodes, or say what is wrong."""
    if not isinstance(raw, dict):
        return None, [AlgebraError("invalid-node", path, "An algebra node must be an object")]
    given = [key for key, value in raw.items() if value is not None]
    unknown = [key for key in given if key not in KEYS]
    if unknown or len(given) != 1:
        what = f"unknown member(s) {', '.join(unknown)}" if unknown else f"{len(given)} members"
        return None, [
            AlgebraError(
                "invalid-node",
                path,
                f"A node holds exactly one of {', '.join(KEYS)}; this one has {what}",
            )
        ]
    key = given[0]
    value = raw[key]
    if key == "audienceSegmentId":
        if not isinstance(value, str) or not value:
            return None, [AlgebraError("invalid-node", path, "audienceSegmentId must be an id")]
        return Segment(value), []
    if key == "not":
        inner, found = parse(value, _child(path, "not"))
        return (Not(inner) if inner is not None else None), found
    if not isinstance(value, list) or not value:
        return None, [AlgebraError("invalid-node", path, f"'{key}' must list at least one node")]
    terms: list[Node] = []
    errors: list[AlgebraError] = []
    for index, item in enumerate(value):
        term, found = parse(item, _child(path, f"{key}/{index}"))
        errors.extend(found)
        if term is not None:
            terms.append(term)
    if errors:
        return None, errors
    return (And(tuple(terms)) if key == "and" else Or(tuple(terms))), []


# --- checking ---------------------------------------------------------------------------------


def check(node: Node, max_depth: int, known: Callable[[str], bool]) -> list[AlgebraError]:
    """Every rule a parsed tree must follow; ``known`` tells whether a segment may be used."""
    errors: list[AlgebraError] = []
    if isinstance(node, Not):
        errors.append(
            AlgebraError("misplaced-not", "", "The root cannot be a 'not': it would be infinite")
        )
    _check(node, "", parent=None, level=0, max_depth=max_depth, known=known, errors=errors)
    return errors


def _check(
    node: Node,
    path: str,
    parent: Node | None,
    level: int,
    max_depth: int,
    known: Callable[[str], bool],
    errors: list[AlgebraError],
) -> None:
    if isinstance(node, Segment):
        if not known(node.id):
            errors.append(
                AlgebraError(
                    "unknown-segment",
                    path,
                    f"Segment '{node.id}' does not exist for this advertiser",
                )
            )
        return
    level += 1
    if level > max_depth:
        errors.append(
            AlgebraError(
                "too-deep", path, f"The algebra nests operators more than {max_depth} deep"
            )
        )
        return
    if isinstance(node, Not):
        if parent is not None and not isinstance(parent, And):
            errors.append(
                AlgebraError("misplaced-not", path, "A 'not' may only be a term of an 'and'")
            )
        _check(node.term, _child(path, "not"), node, level, max_depth, known, errors)
        return
    key = "and" if isinstance(node, And) else "or"
    if isinstance(node, And) and all(isinstance(term, Not) for term in node.terms):
        errors.append(
            AlgebraError(
                "no-positive-term", path, "An 'and' needs at least one term that is not a 'not'"
            )
        )
    for index, term in enumerate(node.terms):
        _check(term, _child(path, f"{key}/{index}"), node, level, max_depth, known, errors)


def depth(node: Node) -> int:
    """How many operators nest on the longest path (a lone segment: 0)."""
    if isinstance(node, Segment):
        return 0
    if isinstance(node, Not):
        return 1 + depth(node.term)
    return 1 + max(depth(term) for term in node.terms)


# --- reading ----------------------------------------------------------------------------------


def leaf_paths(node: Node, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, segment id) of every leaf, depth first, as ``check`` names paths."""
    if isinstance(node, Segment):
        yield path, node.id
    elif isinstance(node, Not):
        yield from leaf_paths(node.term, _child(path, "not"))
    else:
        key = "and" if isinstance(node, And) else "or"
        for index, term in enumerate(node.terms):
            yield from leaf_paths(term, _child(path, f"{key}/{index}"))


def segment_ids(node: Node) -> set[str]:
    """Every segment the tree uses, anywhere."""
    return {leaf.id for leaf in _leaves(node)}


def _leaves(node: Node) -> Iterator[Segment]:
    if isinstance(node, Segment):
        yield node
    elif isinstance(node, Not):
        yield from _leaves(node.term)
    else:
        for term in node.terms:
            yield from _leaves(term)


def to_json(node: Node) -> dict[str, Any]:
    """The canonical JSON of a tree, as stored and shown."""
    if isinstance(node, Segment):
        return {"audienceSegmentId": node.id}
    if isinstance(node, Not):
        return {"not": to_json(node.term)}
    key = "and" if isinstance(node, And) else "or"
    return {key: [to_json(term) for term in node.terms]}


def canonical(node: Node, leaf: Callable[[str], str]) -> str:
    """One text for every tree that says the same thing by reordering, repeating or nesting
    terms of one operator: each segment id named by ``leaf``, and/or terms flattened, sorted
    and de-duplicated, double negations removed."""
    if isinstance(node, Segment):
        return f"({leaf(node.id)})"
    if isinstance(node, Not):
        if isinstance(node.term, Not):
            return canonical(node.term.term, leaf)
        return f"not{canonical(node.term, leaf)}"
    kind = And if isinstance(node, And) else Or
    terms: set[str] = set()
    pending = list(node.terms)
    while pending:
        term = pending.pop()
        if isinstance(term, kind):
            pending.extend(term.terms)
        else:
            terms.add(canonical(term, leaf))
    if len(terms) == 1:
        return terms.pop()
    return f"{kind.__name__.lower()}[{','.join(sorted(terms))}]"


def relabel(node: Node, rename: Callable[[str], str]) -> Node:
    """The same tree with every segment id passed through ``rename``."""
    if isinstance(node, Segment):
        return Segment(rename(node.id))
    if isinstance(node, Not):
        return Not(relabel(node.term, rename))
    terms = tuple(relabel(term, rename) for term in node.terms)
    return And(terms) if isinstance(node, And) else Or(terms)


# --- evaluation -------------------------------------------------------------------------------


class SetLike(Protocol):
    """Anything with set algebra: Python sets, roaring bitmaps..."""

    def __and__(self, other: Self, /) -> Self: ...

    def __or__(self, other: Self, /) -> Self: ...

    def __sub__(self, other: Self, /) -> Self: ...


S = TypeVar("S", bound=SetLike)


def evaluate(node: Node, members: Callable[[str], S]) -> S:
    """The members of a checked tree, given the members of each segment."""
    if isinstance(node, Segment):
        return members(node.id)
    if isinstance(node, Or):
        return reduce(lambda a, b: a | b, (evaluate(t, members) for t in node.terms))
    if isinstance(node, Not):
        raise ValueError("a 'not' only has members as a term of an 'and'")
    positive = [evaluate(t, members) for t in node.terms if not isinstance(t, Not)]
    if not positive:
        raise ValueError("an 'and' needs a term that is not a 'not'")
    result = reduce(lambda a, b: a & b, positive)
    for term in node.terms:
        if isinstance(term, Not):
            result = result - evaluate(term.term, members)
    return result
