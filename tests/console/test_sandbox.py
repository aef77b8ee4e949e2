"""The sandbox page in a real browser: a fault rule added through the page strikes an API call
and is cleared, the journal shows a client's call, a reset scoped to an advertiser nobody else
uses, and a read-only operator who cannot use the controls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.console.conftest import (
    MANAGER,
    VIEWER,
    ConsoleSite,
    SignIn,
    assert_accessible,
    open_console,
    screenshot,
)

SEARCH = "/2025-01/marketing-solutions/audience-segments/search"
# No other test of the session uses this advertiser: its reset removes nothing of theirs.
UNUSED_ADVERTISER = 1003


def client_token(site: ConsoleSite) -> str:
    status, issued = site.request(
        "POST",
        "/oauth2/token",
        {
            "grant_type": "client_credentials",
            "client_id": site.client_id,
            "client_secret": site.client_secret,
        },
    )
    assert status == 200, issued
    token: str = issued["access_token"]
    return token


def search(site: ConsoleSite, token: str) -> tuple[int, Any]:
    body = {"data": {"attributes": {"advertiserIds": ["1001"]}}}
    return site.request("POST", f"{SEARCH}?limit=1", body, token)


@pytest.fixture
def clear_faults_after(console_site: ConsoleSite) -> Iterator[None]:
    """Fault rules act on the whole server: none outlives the test, even a failed one."""
    yield
    console_site.request("DELETE", "/_reach/faults", token=console_site.admin_token)


def faults(site: ConsoleSite) -> list[dict[str, Any]]:
    status, answer = site.request("GET", "/_reach/faults", token=site.admin_token)
    assert status == 200, answer
    rules: list[dict[str, Any]] = answer["data"]
    return rules


def test_a_fault_added_on_the_page_strikes_then_is_cleared(
    page_as: SignIn, console_site: ConsoleSite, clear_faults_after: None
) -> None:
    page = page_as(MANAGER)
    open_console(page, "sandbox")
    form = page.locator("#fault-form")
    # A rule the sandbox refuses: its reason beside the field it names.
    form.get_by_label("Answers, in order").fill("503")
    form.get_by_label("Delay (ms, for latency)").fill("100")
    form.get_by_role("button", name="Add the fault").click()
    expect(page.locator("#fault-delay-problem")).to_have_text(
        "'delayMs' only applies to latency faults"
    )
    assert faults(console_site) == []

    form.get_by_label("Delay (ms, for latency)").fill("")
    form.get_by_label("Client id").fill(console_site.client_id)
    form.get_by_label("Operation").fill("SearchAudienceSegments")
    form.get_by_label("Answers, in order").fill("503, 429")
    form.get_by_label("Retry-After (s, for 429 and 503)").fill("0")
    form.get_by_role("button", name="Add the fault").click()
    expect(page.locator("#fault-delay-problem")).to_have_count(0)
    rows = page.locator("#faults-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text(console_site.client_id)
    expect(rows.nth(0)).to_contain_text("SearchAudienceSegments")
    expect(rows.nth(0)).to_contain_text("503, 429")
    expect(rows.nth(0).locator("td").nth(6)).to_have_text("live")
    [rule] = faults(console_site)
    assert rule["answers"] == ["503", "429"]
    assert rule["retryAfterSeconds"] == 0

    # The rule strikes the client's next calls of that operation, in order, then is spent.
    token = client_token(console_site)
    status, answer = search(console_site, token)
    assert status == 503
    assert answer["errors"][0]["code"] == "service-unavailable"
    status, answer = search(console_site, token)
    assert status == 429
    status, _ = search(console_site, token)
    assert status == 200
    page.get_by_role("button", name="Refresh the rules").click()
    cells = rows.nth(0).locator("td")
    expect(cells.nth(6)).to_have_text("spent")
    expect(cells.nth(4)).to_have_text("2")
    expect(cells.nth(5)).to_have_text("2")
    # The journal tells which rule struck which call.
    page.get_by_role("button", name="Refresh the journal").click()
    struck = page.locator("#journal-table tbody tr").filter(has_text="service-unavailable")
    expect(struck.first.locator("td").nth(7)).to_have_text(f"503 (rule {rule['id']})")
    screenshot(page, "sandbox-faults")

    # A share of the calls, of any client, drawn from a seed.
    form.get_by_label("A share of the calls").check()
    expect(form.get_by_label("Answers, in order")).to_be_hidden()
    form.get_by_label("Client id").fill("")
    form.get_by_label("Retry-After (s, for 429 and 503)").fill("")
    form.get_by_label("Share (0 to 1)").fill("0.25")
    form.get_by_label("Answer", exact=True).select_option("500")
    form.get_by_label("At most (calls)").fill("3")
    form.get_by_label("Seed").fill("7")
    form.get_by_role("button", name="Add the fault").click()
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("500 for a share of 0.25, 3 at most (seed 7)")
    expect(rows.nth(1)).to_contain_text("every client")
    shared = faults(console_site)[1]
    assert (shared["share"], shared["answer"], shared["count"], shared["seed"]) == (
        0.25,
        "500",
        3,
        7,
    )

    page.get_by_role("button", name="Clear every rule").click()
    expect(page.locator("#faults-empty")).to_be_visible()
    expect(page.locator("#notice")).to_have_text("2 fault rules cleared.")
    assert faults(console_site) == []


def test_the_journal_shows_a_clients_calls(page_as: SignIn, console_site: ConsoleSite) -> None:
    console_site.api(
        "POST",
        "/audience-segments/search?limit=2",
        {"data": {"attributes": {"advertiserIds": ["1002"]}}},
    )
    page = page_as(MANAGER)
    open_console(page, "sandbox")
    page.get_by_label("Client", exact=True).select_option(console_site.client_id)
    rows = page.locator("#journal-table tbody tr")
    expect(rows.first).to_be_visible()
    # Only that client's calls once the filtered journal is drawn, newest first: the search
    # above is the newest.
    others = rows.locator("td:nth-child(3)").filter(has_not_text=console_site.client_id)
    expect(others).to_have_count(0)
    clients = rows.locator("td:nth-child(3)").all_inner_texts()
    assert clients and set(clients) == {console_site.client_id}
    newest = rows.nth(0)
    expect(newest).to_contain_text("POST /2025-01/marketing-solutions/audience-segments/search")
    expect(newest).to_contain_text("SearchAudienceSegments")
    expect(newest.locator("td").nth(4)).to_have_text("200")
    newest.locator("summary").click()
    expect(newest.locator("pre")).to_contain_text('"1002"')

    # Every client again: the console's own calls (as the operator) are there too.
    page.get_by_label("Client", exact=True).select_option("")
    expect(rows.locator("td:nth-child(3)").filter(has_text="operator:").first).to_be_visible()
    assert console_site.client_id in rows.locator("td:nth-child(3)").all_inner_texts()
    screenshot(page, "sandbox")
    assert_accessible(page)


def test_a_reset_of_one_advertiser_asks_first(page_as: SignIn, console_site: ConsoleSite) -> None:
    body = {"data": {"attributes": {"advertiserIds": ["1001"]}}}
    before = console_site.api("POST", "/audience-segments/search?limit=1", body)["meta"]
    page = page_as(MANAGER)
    open_console(page, "sandbox")
    form = page.locator("#reset-form")
    field = form.get_by_label("Advertiser id")
    reset = form.get_by_role("button", name="Reset…")
    dialog = page.get_by_role("dialog", name="Reset the sandbox?")

    # Keep everything: nothing is sent.
    field.fill(str(UNUSED_ADVERTISER))
    reset.click()
    expect(dialog).to_contain_text(f"advertiser {UNUSED_ADVERTISER}")
    expect(page.get_by_role("button", name="Keep everything")).to_be_focused()
    assert_accessible(page)
    page.get_by_role("button", name="Keep everything").click()
    expect(dialog).to_be_hidden()
    expect(reset).to_be_focused()
    expect(page.locator("#reset-result")).to_be_empty()

    # An advertiser that does not exist: the sandbox's answer beside the field.
    field.fill("999999")
    reset.click()
    dialog.get_by_role("button", name="Reset", exact=True).click()
    expect(page.locator("#reset-advertiser-problem")).to_contain_text("999999")

    field.fill(str(UNUSED_ADVERTISER))
    reset.click()
    dialog.get_by_role("button", name="Reset", exact=True).click()
    counts = page.locator("#reset-counts li")
    expect(counts).to_have_count(7)
    expect(page.locator("#reset-result")).to_contain_text(f"advertiser {UNUSED_ADVERTISER}")
    expect(counts.nth(0)).to_have_text("0 audience segments")
    # The other advertisers' segments are all still there.
    after = console_site.api("POST", "/audience-segments/search?limit=1", body)["meta"]
    assert after["totalItems"] >= before["totalItems"]


def test_a_read_only_operator_cannot_use_the_sandbox(
    page_as: SignIn, console_site: ConsoleSite
) -> None:
    page = page_as(VIEWER)
    admin_calls: list[str] = []
    page.on("request", lambda r: admin_calls.append(r.url) if "/_reach/" in r.url else None)
    open_console(page, "sandbox")
    expect(page.locator("#read-only-sandbox")).to_contain_text("read-only operator")
    expect(page.get_by_role("button", name="Add the fault")).to_be_disabled()
    expect(page.get_by_role("button", name="Refresh the rules")).to_be_disabled()
    expect(page.get_by_role("button", name="Refresh the journal")).to_be_disabled()
    expect(page.get_by_role("button", name="Reset…")).to_be_disabled()
    assert admin_calls == []
    screenshot(page, "sandbox-read-only")
    assert_accessible(page)
