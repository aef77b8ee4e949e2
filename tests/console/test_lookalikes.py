"""The lookalikes page: the advertiser's lookalikes with the state of their models, built by the
server in the background, and a model explained exactly as ``reach lookalike explain`` prints
it."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.builders import retargeting
from tests.console.conftest import (
    MANAGER,
    PHONE,
    VIEWER,
    ConsoleSite,
    SignIn,
    assert_accessible,
    open_console,
    screenshot,
)

# The first model of a server is trained in a fresh process: it may take a while.
BUILT_WITHIN_MS = 120_000


def create_lookalike(
    site: ConsoleSite, name: str, target_size: int, seed: dict[str, Any] | None = None
) -> tuple[str, str]:
    """A lookalike of advertiser 1001 over ``seed`` (by default its visitors of the last 20
    days): (seed id, lookalike id)."""
    seed_body = {"data": [seed or retargeting(1001, f"{name} seed", 0, 20)]}
    [seed] = site.api("POST", "/audience-segments/create", seed_body)["data"]
    look_body = {
        "data": [
            {
                "attributes": {
                    "advertiserId": "1001",
                    "name": name,
                    "lookalike": {"seedSegmentId": seed["id"], "targetSize": target_size},
                }
            }
        ]
    }
    [look] = site.api("POST", "/audience-segments/create", look_body)["data"]
    return seed["id"], look["id"]


def explained_by_the_command(site: ConsoleSite, segment_id: str) -> list[list[str]]:
    """The feature rows of ``reach lookalike explain``: label, weight, in seed, among eligible."""
    printed = site.cli("lookalike", "explain", segment_id)
    rows = [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in printed.splitlines()
        if line.strip().startswith("│")
    ]
    assert rows, printed
    return rows


def feature_rows(page: Any) -> list[list[str]]:
    table = page.locator("#features-table tbody tr")
    return [[cell.strip() for cell in row.locator("td").all_inner_texts()] for row in table.all()]


def built_row(page: Any, look: str) -> Any:
    """The lookalike's row on the page of advertiser 1001, once its model is built by the
    server's worker (the page asks again while it is pending)."""
    open_console(page, "lookalikes", 1001)
    row = page.locator(f"tr[data-lookalike='{look}']")
    expect(row.locator(".model-state .badge")).to_have_text("Built", timeout=BUILT_WITHIN_MS)
    return row


def test_a_lookalike_is_built_and_explained_as_the_command_does(
    page_as: SignIn, console_site: ConsoleSite
) -> None:
    seed, look = create_lookalike(console_site, "Runners alike", 400)
    page = page_as(MANAGER)
    row = built_row(page, look)
    expect(row.locator("th")).to_contain_text("Runners alike")
    expect(row.locator("td").nth(0)).to_have_text(f"Runners alike seed ({seed})")
    expect(row.locator("td").nth(1)).to_have_text("400")
    expect(row.locator(".size")).to_have_text("400")
    screenshot(page, "lookalikes")
    assert_accessible(page)

    page.get_by_role("button", name="Explain Runners alike").click()
    expect(page.get_by_role("heading", name="Model of Runners alike")).to_be_visible()
    expect(page.locator("#features-table tbody tr").first).to_be_visible()
    assert feature_rows(page) == explained_by_the_command(console_site, look)
    facts = page.locator("#model-facts").inner_text()
    assert "Members\n400" in facts
    assert "Holdout AUC" in facts
    # One bar per feature, signed by colour and side.
    bars = page.locator("svg.weights-chart rect")
    expect(bars).to_have_count(len(feature_rows(page)))
    screenshot(page, "lookalike-explain")
    assert_accessible(page)


def test_a_read_only_operator_sees_the_model_too(
    page_as: SignIn, console_site: ConsoleSite
) -> None:
    _, look = create_lookalike(console_site, "Read-only alike", 300)
    page = page_as(VIEWER, viewport=PHONE)
    row = built_row(page, look)
    row.get_by_role("button", name="Explain Read-only alike").click()
    expect(page.get_by_role("heading", name="Model of Read-only alike")).to_be_visible()
    assert feature_rows(page) == explained_by_the_command(console_site, look)
    # On a phone the chart keeps its text legible: labels above the bars, at full width.
    expect(page.locator("svg.weights-chart rect")).to_have_count(len(feature_rows(page)))
    screenshot(page, "lookalike-explain-phone")
    assert_accessible(page)


def test_a_model_of_an_empty_seed_says_so(page_as: SignIn, console_site: ConsoleSite) -> None:
    # A contact list nobody was uploaded to: a seed without a single matched user.
    empty = {"attributes": {"advertiserId": "1001", "name": "Nobody yet", "contactList": {}}}
    _, look = create_lookalike(console_site, "Alike to nobody", 200, seed=empty)
    page = page_as(MANAGER)
    row = built_row(page, look)
    # Its size is withheld below the privacy floor, as the API withholds it, and says so.
    expect(row.locator(".size")).to_contain_text("Fewer than")
    row.get_by_role("button", name="Explain Alike to nobody").click()
    explained = page.locator("#explain")
    expect(explained.locator(".warnings li")).to_contain_text(
        [f"The seed of lookalike {look} has fewer than"]
    )
    expect(explained.locator(".empty")).to_have_text("The model kept no feature.")
    assert "Members\nfewer than" in page.locator("#model-facts").inner_text()
    assert_accessible(page)
