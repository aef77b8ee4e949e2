"""In-market interests: the Google product taxonomy (2021-09-21) packaged with Reach."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources

TAXONOMY_FILE = "google-product-taxonomy.en-US.txt"
SEPARATOR = " > "


@dataclass(frozen=True, slots=True)
class Interest:
    id: str
    name: str
    path: str
    parent_id: str | None


@dataclass(frozen=True)
class Taxonomy:  # not slotted: cached_property needs an instance dictionary
    """Every interest by id, in file order (parents before their children)."""

    interests: dict[str, Interest]
    version: str

    def __contains__(self, interest_id: object) -> bool:
        return interest_id in self.interests

    @cached_property
    def children(self) -> dict[str, list[str]]:
        children: dict[str, list[str]] = {}
        for interest in self.interests.values():
            if interest.parent_id is not None:
                children.setdefault(interest.parent_id, []).append(interest.id)
        return children

    @cached_property
    def ancestors(self) -> dict[str, list[str]]:
        """Each interest's parent, grandparent... up to its root (empty for a root)."""
        found: dict[str, list[str]] = {}
        for interest in self.interests.values():  # parents come first
            parent = interest.parent_id
            found[interest.id] = [] if parent is None else [parent, *found[parent]]
        return found

    def leaves(self) -> list[tuple[str, str]]:
        """(id, path) of every interest without sub-interests, in file order."""
        return [(i.id, i.path) for i in self.interests.values() if i.id not in self.children]

    def descendants(self, interest_id: str) -> set[str]:
        """The node and everything below it (an interest includes its sub-interests)."""
        found = {interest_id}
        stack = [interest_id]
        while stack:
            for child in self.children.get(stack.pop(), ()):
                found.add(child)
                stack.append(child)
        return found


def parse_taxonomy(text: str) -> Taxonomy:
    """Parse lines like ``3237 - Animals & Pet Supplies > Live Animals``."""
    version = ""
    by_path: dict[str, str] = {}
    interests: dict[str, Interest] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if line.startswith("#"):
            version = line.split(":", 1)[-1].strip()
            continue
        interest_id, sep, path = line.partition(" - ")
        if not sep or not interest_id.strip().isdigit():
            raise ValueError(f"taxonomy line {number} is not 'ID - Path': {line!r}")
        interest_id = interest_id.strip()
        parent_path, _, name = path.rpartition(SEPARATOR)
        parent_id = by_path.get(parent_path) if parent_path else None
        if parent_path and parent_id is None:
            raise ValueError(f"taxonomy line {number}: parent {parent_path!r} comes later or never")
        by_path[path] = interest_id
        interests[interest_id] = Interest(interest_id, name, path, parent_id)
    return Taxonomy(interests=interests, version=version)


@cache
def taxonomy() -> Taxonomy:
    """The packaged taxonomy, parsed once per process."""
    text = resources.files("reach.reference.data").joinpath(TAXONOMY_FILE).read_text("utf-8")
    return parse_taxonomy(text)
