"""The Audiences page: a 3-level audience built by keyboard and by drag and drop, every node's
size on screen against the API's own answers, the overlap matrix against pairwise estimates,
saving, and what a read-only operator may do."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.console.conftest import (
    MANAGER,
    VIEWER,
    ConsoleSite,
    SignIn,
    assert_accessible,
    open_console,
    screenshot,
)

ADVERTISER = 1001

# The tree as drawn: [kind, segment id or None, size on screen or None, children].
READ_TREE = """
() => {
  const read = (item) => ({
    kind: item.dataset.kind,
    segmentId: item.dataset.segmentId || null,
    size: item.querySelector(':scope > .node-head .size').dataset.size ?? null,
    problem: item.querySelector(':scope > .node-problem').hidden
      ? null : item.querySelector(':scope > .node-problem').textContent,
    children: [...item.querySelectorAll(':scope > ul.children > li.node')].map(read),
  });
  return read(document.querySelector('#tree > li.node'));
}
"""

READ_OVERLAP = """
() => [...document.querySelectorAll('#overlap-table td[data-row]')].map((cell) => ({
  row: cell.dataset.row, col: cell.dataset.col, size: cell.dataset.size ?? null,
}))
"""


def unique(prefix: str) -> str:
    """A name no other test of the shared site uses."""
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def make_segment(site: ConsoleSite, name: str, low: int, high: int, visitors: str = "All") -> str:
    answer = site.api(
        "POST",
        "/audience-segments/create",
        {
            "data": [
                {
                    "type": "AudienceSegment",
                    "attributes": {
                        "advertiserId": str(ADVERTISER),
                        "name": name,
                        "retargeting": {
                            "visitorsType": visitors,
                            "daysSinceLastVisitMin": low,
                            "daysSinceLastVisitMax": high,
                        },
                    },
                }
            ]
        },
    )
    assert answer["errors"] == [], answer
    identifier: str = answer["data"][0]["id"]
    return identifier


def four_segments(site: ConsoleSite) -> dict[str, tuple[str, str]]:
    """Four overlapping segments: letter -> (name, id)."""
    tag = uuid.uuid4().hex[:6]
    spans = {"A": (0, 10, "All"), "B": (5, 25, "All"), "C": (20, 40, "All"), "D": (15, 35, "All")}
    return {
        letter: (f"{letter}-{tag} visitors", make_segment(site, f"{letter}-{tag} visitors", *span))
        for letter, span in spans.items()
    }


def create_audience(site: ConsoleSite, name: str, algebra: dict[str, Any]) -> str:
    """An audience of the advertiser, created through the API; its id."""
    attributes = {"advertiserId": str(ADVERTISER), "name": name, "algebra": algebra}
    created = site.api(
        "POST", "/audiences/create", {"data": [{"type": "Audience", "attributes": attributes}]}
    )
    assert created["errors"] == [], created
    identifier: str = created["data"][0]["id"]
    return identifier


def wait_sizes(page: Page) -> None:
    """Until the sizes on screen answer the latest edit."""
    tree = page.locator("#tree")
    expect(tree).to_have_attribute("data-sizes-state", "ready")
    seq = tree.get_attribute("data-edit-seq")
    assert seq is not None
    expect(tree).to_have_attribute("data-sizes-seq", seq)
    expect(tree).to_have_attribute("data-sizes-shown", seq)


def node_of(page: Page, title: str) -> Locator:
    """The tree node whose head names ``title`` (a segment's name, or a group kind)."""
    return page.locator("#tree li.node").filter(
        has=page.locator(":scope > .node-head .node-title", has_text=title)
    )


def group(page: Page, path: str) -> Locator:
    """A group node by its position: "" the root, "0" its first term, "0/1"..."""
    css = "#tree > li.node"
    for step in filter(None, path.split("/")):
        css += f" > ul.children > li.node:nth-child({int(step) + 1})"
    return page.locator(css)


def press(locator: Locator, key: str = "Enter") -> None:
    locator.focus()
    locator.press(key)


def add_by_keyboard(page: Page, name: str) -> None:
    """Find a segment in the palette and press its Add button (to the target group)."""
    press(page.get_by_label("Find a segment"), "Control+a")
    page.get_by_label("Find a segment").fill(name)
    press(page.get_by_role("button", name=f"Add “{name}” to the target group"))
    wait_sizes(page)


def algebra_of(drawn: dict[str, Any]) -> dict[str, Any]:
    if drawn["kind"] == "segment":
        return {"audienceSegmentId": drawn["segmentId"]}
    if drawn["kind"] == "not":
        return {"not": algebra_of(drawn["children"][0])}
    return {drawn["kind"]: [algebra_of(c) for c in drawn["children"]]}


def estimate(site: ConsoleSite, algebra: dict[str, Any]) -> str | None:
    """The API's estimate, as the page keeps it in ``data-size`` (None: no size given)."""
    answer = site.api(
        "POST",
        "/audiences/estimate-size",
        {
            "data": {
                "type": "Audience",
                "attributes": {"advertiserId": str(ADVERTISER), "algebra": algebra},
            }
        },
    )
    size: int | None = answer["data"]["attributes"]["size"]
    return None if size is None else str(size)


def audience_named(site: ConsoleSite, name: str) -> dict[str, Any]:
    answer = site.api(
        "POST",
        "/audiences/search?limit=100",
        {"data": {"type": "Audience", "attributes": {"advertiserIds": [str(ADVERTISER)]}}},
    )
    [found] = [a for a in answer["data"] if a["attributes"]["name"] == name]
    return dict(found)


def check_sizes_against_api(
    page: Page, site: ConsoleSite, audience_id: str, nodes: int = 8
) -> dict[str, Any]:
    """Every node's size on screen is the API's estimate of its subtree (a "not" shows the size
    of what it removes), the root's is compute-sizes of the saved audience, and the overlap
    matrix holds the pairwise estimates."""
    wait_sizes(page)
    drawn: dict[str, Any] = page.evaluate(READ_TREE)
    computed = site.api(
        "POST", "/audiences/compute-sizes", {"data": [{"id": audience_id, "type": "Audience"}]}
    )
    [root_size] = [d["attributes"]["size"] for d in computed["data"] if d["id"] == audience_id]
    assert drawn["size"] == str(root_size)
    checked = 0

    def visit(node: dict[str, Any]) -> None:
        nonlocal checked
        asked = node["children"][0] if node["kind"] == "not" else node
        assert node["problem"] is None, node
        assert node["size"] == estimate(site, algebra_of(asked)), node
        checked += 1
        for child in node["children"]:
            visit(child)

    visit(drawn)
    assert checked == nodes
    assert all(size is not None for size in _sizes(drawn)), drawn
    leaves = list(dict.fromkeys(_leaves(drawn)))
    cells = page.evaluate(READ_OVERLAP)
    assert len(cells) == len(leaves) ** 2
    for cell in cells:
        a, b = cell["row"], cell["col"]
        question = (
            {"audienceSegmentId": a}
            if a == b
            else {"and": [{"audienceSegmentId": a}, {"audienceSegmentId": b}]}
        )
        assert cell["size"] == estimate(site, question), cell
    return drawn


def _sizes(node: dict[str, Any]) -> list[str | None]:
    return [node["size"], *(size for child in node["children"] for size in _sizes(child))]


def _leaves(node: dict[str, Any]) -> list[str]:
    if node["kind"] == "segment":
        return [node["segmentId"]]
    return [leaf for child in node["children"] for leaf in _leaves(child)]


def start_new(page: Page) -> None:
    open_console(page, "audiences", ADVERTISER)
    page.get_by_role("button", name="New audience").click()
    wait_sizes(page)


def save(page: Page, site: ConsoleSite, name: str) -> str:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create audience").click()
    expect(page.locator("#notice")).to_contain_text(f"Created “{name}”")
    saved = audience_named(site, name)
    identifier: str = saved["id"]
    return identifier


def test_keyboard_builds_a_three_level_audience(page_as: SignIn, console_site: ConsoleSite) -> None:
    segments = four_segments(console_site)
    (a, a_id), (b, b_id), (c, c_id), (d, d_id) = segments.values()
    page = page_as(MANAGER)
    start_new(page)
    # The empty root says what to do about it, on the node itself.
    expect(group(page, "").locator(":scope > .node-problem")).to_contain_text("Add a segment")
    # and[ or[ and[A, B], C ], not D ]
    press(page.get_by_role("button", name="Add a group inside the “All of” group"))
    wait_sizes(page)
    press(page.get_by_role("button", name="Add a group inside the “Any of” group"))
    wait_sizes(page)
    add_by_keyboard(page, a)
    add_by_keyboard(page, b)
    press(page.get_by_role("button", name="Add a segment to the “Any of” group"))
    expect(page.get_by_label("Find a segment")).to_be_focused()
    add_by_keyboard(page, c)
    press(group(page, "").get_by_role("button", name="Add a segment to the “All of” group").first)
    add_by_keyboard(page, d)
    press(page.get_by_role("button", name=f"Wrap “{d}” in a “Not”"))
    wait_sizes(page)
    # Move up/down by keyboard: the "not" goes first, then back last.
    press(page.get_by_role("button", name="Move “Not” up"))
    wait_sizes(page)
    assert group(page, "0").get_attribute("data-kind") == "not"
    press(page.get_by_role("button", name="Move “Not” down"))
    wait_sizes(page)
    assert group(page, "1").get_attribute("data-kind") == "not"
    # Change and <-> or, and back.
    inner = group(page, "0/0").locator(":scope > .node-head select")
    inner.select_option("or")
    wait_sizes(page)
    inner.select_option("and")
    wait_sizes(page)
    name = unique("Keyboard audience")
    audience_id = save(page, console_site, name)
    drawn = check_sizes_against_api(page, console_site, audience_id)
    expected = {
        "and": [
            {
                "or": [
                    {"and": [{"audienceSegmentId": a_id}, {"audienceSegmentId": b_id}]},
                    {"audienceSegmentId": c_id},
                ]
            },
            {"not": {"audienceSegmentId": d_id}},
        ]
    }
    assert algebra_of(drawn) == expected
    assert audience_named(console_site, name)["attributes"]["algebra"] == expected
    screenshot(page, "audience-builder")
    assert_accessible(page)
    page.locator("#overlap").scroll_into_view_if_needed()
    screenshot(page, "audience-overlap")


def test_drag_and_drop_builds_a_three_level_audience(
    page_as: SignIn, console_site: ConsoleSite
) -> None:
    segments = four_segments(console_site)
    (a, a_id), (b, b_id), (c, c_id), (d, d_id) = segments.values()
    page: Page = page_as(MANAGER)
    start_new(page)

    def palette(name: str) -> Locator:
        return page.locator("#palette li").filter(has_text=name)

    palette(a).drag_to(group(page, ""))
    wait_sizes(page)
    palette(d).drag_to(group(page, ""))
    wait_sizes(page)
    press(page.get_by_role("button", name="Add a group inside the “All of” group"))
    wait_sizes(page)
    or_group = group(page, "2")
    palette(c).drag_to(or_group.locator(":scope > .node-head"))
    wait_sizes(page)
    press(or_group.get_by_role("button", name="Add a group inside the “Any of” group"))
    wait_sizes(page)
    inner = group(page, "2/1")
    palette(b).drag_to(inner.locator(":scope > .node-head"))
    wait_sizes(page)
    # A node dragged from the root into the innermost group.
    node_of(page, a).locator(":scope > .node-head").drag_to(inner.locator(":scope > .node-head"))
    wait_sizes(page)
    press(page.get_by_role("button", name=f"Wrap “{d}” in a “Not”"))
    wait_sizes(page)
    name = unique("Dragged audience")
    audience_id = save(page, console_site, name)
    drawn = check_sizes_against_api(page, console_site, audience_id)
    assert algebra_of(drawn) == {
        "and": [
            {"not": {"audienceSegmentId": d_id}},
            {
                "or": [
                    {"audienceSegmentId": c_id},
                    {"and": [{"audienceSegmentId": b_id}, {"audienceSegmentId": a_id}]},
                ]
            },
        ]
    }


def test_the_list_edit_and_delete(page_as: SignIn, console_site: ConsoleSite) -> None:
    segments = four_segments(console_site)
    (_, a_id), (b, b_id), _, _ = segments.values()
    name = unique("Listed audience")
    audience_id = create_audience(console_site, name, {"or": [{"audienceSegmentId": a_id}]})
    page = page_as(MANAGER)
    open_console(page, "audiences", ADVERTISER)
    row = page.locator("#audiences-table tbody tr").filter(has_text=name)
    size = estimate(console_site, {"or": [{"audienceSegmentId": a_id}]})
    assert size is not None
    expect(row.locator(".size")).to_have_text(f"{int(size):,}")
    screenshot(page, "audiences")
    assert_accessible(page)
    row.get_by_role("button", name=f"Open “{name}”").click()
    wait_sizes(page)
    page.locator("#palette li").filter(has_text=b).drag_to(group(page, ""))
    wait_sizes(page)
    # An audience the API refuses: its problem is shown, nothing is saved.
    page.get_by_label("Name", exact=True).fill("")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#audience-name")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#notice")).to_contain_text(f"Saved “{name}”")
    assert audience_named(console_site, name)["attributes"]["algebra"] == {
        "or": [{"audienceSegmentId": a_id}, {"audienceSegmentId": b_id}]
    }
    check_sizes_against_api(page, console_site, audience_id, nodes=3)
    page.get_by_role("button", name="Delete audience").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text(name)
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Delete audience").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(page.locator("#notice")).to_contain_text(f"Deleted “{name}”")
    expect(page.locator("#audiences-table tbody tr").filter(has_text=name)).to_have_count(0)


def test_a_viewer_explores_but_cannot_save(page_as: SignIn, console_site: ConsoleSite) -> None:
    segments = four_segments(console_site)
    (_, a_id), (b, b_id), _, _ = segments.values()
    name = unique("Viewed audience")
    algebra = {"and": [{"audienceSegmentId": a_id}]}
    create_audience(console_site, name, algebra)
    page = page_as(VIEWER)
    open_console(page, "audiences", ADVERTISER)
    expect(page.get_by_role("button", name="New audience")).to_be_disabled()
    row = page.locator("#audiences-table tbody tr").filter(has_text=name)
    expect(row.get_by_role("button", name=f"Delete “{name}”")).to_be_disabled()
    row.get_by_role("button", name=f"Open “{name}”").click()
    wait_sizes(page)
    expect(page.get_by_role("button", name="Save changes")).to_be_disabled()
    expect(page.get_by_role("button", name="Delete audience")).to_be_disabled()
    # Exploring is not a change: the sizes follow the viewer's edits.
    add_by_keyboard(page, b)
    both = {"and": [{"audienceSegmentId": a_id}, {"audienceSegmentId": b_id}]}
    assert page.evaluate(READ_TREE)["size"] == estimate(console_site, both)
    assert audience_named(console_site, name)["attributes"]["algebra"] == algebra
    assert_accessible(page)
