"""The packaged Google product taxonomy."""

from __future__ import annotations

import pytest

from reach.reference.taxonomy import parse_taxonomy, taxonomy


def test_the_packaged_file_is_complete() -> None:
    tree = taxonomy()
    assert tree.version == "2021-09-21"
    assert len(tree.interests) == 5595
    assert tree.interests["1"].name == "Animals & Pet Supplies"
    assert tree.interests["1"].parent_id is None
    assert tree.interests["3237"].parent_id == "1"
    roots = [i for i in tree.interests.values() if i.parent_id is None]
    assert len(roots) == 21


def test_every_parent_exists() -> None:
    tree = taxonomy()
    assert all(i.parent_id in tree.interests for i in tree.interests.values() if i.parent_id)


def test_descendants_include_the_node_and_everything_below() -> None:
    tree = taxonomy()
    below = tree.descendants("1")
    assert "1" in below
    assert "3237" in below
    assert all(tree.interests[i].path.startswith("Animals & Pet Supplies") for i in below)
    assert tree.descendants("3237") == {"3237"}


def test_parse_refuses_orphans_and_garbage() -> None:
    with pytest.raises(ValueError, match="parent"):
        parse_taxonomy("2 - A > B\n")
    with pytest.raises(ValueError, match="ID - Path"):
        parse_taxonomy("hello\n")
