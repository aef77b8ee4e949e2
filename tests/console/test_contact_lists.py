"""The contact-lists page in a real browser: a 10,000-line file previewed as the server reads
it, sent in batches with a progress bar, the statistics the API gives, a wipe behind a
confirmation, and a read-only operator who can look but not change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from reach.contact_list.identifiers import normalise
from tests.console.conftest import (
    MANAGER,
    VIEWER,
    ConsoleSite,
    SignIn,
    assert_accessible,
    open_console,
    screenshot,
)

FILE_LABEL = "File of identifiers (CSV or TXT, UTF-8)"
LINES = 10_000
# The demo data gives user<n>@example.com (hashed) to some of its 2,500 users.
DEMO_USERS = 2500


def new_list(site: ConsoleSite, advertiser: int, name: str) -> str:
    created = site.api(
        "POST",
        "/audience-segments/create",
        {
            "data": [
                {
                    "type": "AudienceSegment",
                    "attributes": {
                        "advertiserId": str(advertiser),
                        "name": name,
                        "contactList": {},
                    },
                }
            ]
        },
    )
    identifier: str = created["data"][0]["id"]
    return identifier


def statistics(site: ConsoleSite, segment: str) -> dict[str, Any]:
    answer = site.api("GET", f"/audience-segments/{segment}/contact-list/statistics")
    figures: dict[str, Any] = answer["data"]["attributes"]
    return figures


def addresses() -> list[str]:
    """10,000 values: the demo users' addresses (some in capitals, with spaces), strangers'
    addresses, and lines that are no address at all (one within the first twenty)."""
    values: list[str] = []
    for n in range(LINES):
        if n % 97 == 5:
            values.append(f"not an address {n}")
        elif n < DEMO_USERS:
            address = f"user{n + 1}@example.com"
            values.append(f" {address.upper()} " if n % 10 == 3 else address)
        else:
            values.append(f"stranger{n}@example.org")
    return values


def percent(rate: float) -> str:
    """A rate as the page writes it: a percentage with at most two decimals."""
    return f"{rate * 100:.2f}".rstrip("0").rstrip(".") + "%"


def figure(page: Any, name: str) -> Any:
    return page.locator(f"#stat-{name}")


def test_upload_a_file_then_wipe_the_list(
    page_as: SignIn, console_site: ConsoleSite, tmp_path: Path
) -> None:
    segment = new_list(console_site, 1001, "Newsletter subscribers")
    values = addresses()
    # A CSV file: a header, then the customer number and the address (quoted when it holds
    # a comma-free value with spaces, as spreadsheets write them).
    rows = ["customer,email"] + [f'{n},"{value}"' for n, value in enumerate(values, start=1)]
    upload = tmp_path / "subscribers.csv"
    upload.write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")
    judged = normalise("email", values)
    accepted = len(judged.keys)
    refused = judged.invalid
    assert refused > 0

    page = page_as(MANAGER)
    open_console(page, "contact-lists", 1001)
    page.get_by_label("Contact list", exact=True).select_option(segment)
    expect(figure(page, "identifiers")).to_have_text("0")
    page.get_by_label(FILE_LABEL).set_input_files(upload)
    page.get_by_label("CSV column").select_option(label="email")

    # The preview: the first twenty values as the server reads them.
    preview = page.locator("#preview-table tbody tr")
    expect(preview).to_have_count(20)
    expect(page.locator("#preview-summary")).to_contain_text(f"{LINES:,} identifiers to send")
    first = preview.nth(0).locator("td")
    expect(first.nth(1)).to_have_text("user1@example.com")
    expect(first.nth(2)).to_have_text("accepted")
    shouted = preview.nth(3).locator("td")
    expect(shouted.nth(1)).to_have_text(" USER4@EXAMPLE.COM ")
    expect(shouted.nth(2)).to_have_text("accepted")
    # Read as the same key as the address in small letters.
    assert shouted.nth(3).inner_text().startswith("email:")
    lowered = page_key(page, "user4@example.com")
    assert shouted.nth(3).inner_text() == lowered
    wrong = preview.nth(5).locator("td")
    expect(wrong.nth(1)).to_have_text("not an address 5")
    expect(wrong.nth(2)).to_have_text("refused")
    expect(wrong.nth(3)).to_have_text("not an e-mail address or a SHA-256 digest")
    screenshot(page, "contact-lists-preview")

    page.get_by_role("button", name=f"Send {LINES:,} identifiers").click()
    expect(page.locator("#progress-text")).to_have_text(f"100% ({LINES:,} of {LINES:,})")
    assert page.locator("#upload-progress").evaluate("p => p.value") == 100
    expect(page.locator("#result-accepted")).to_have_text(f"{accepted:,}")
    expect(page.locator("#result-refused")).to_have_text(f"{refused:,}")
    expect(page.locator("#upload-result")).to_contain_text("identifiers were refused")

    # The statistics the API gives, after the upload.
    expected = statistics(console_site, segment)
    assert expected["numberOfIdentifiers"] == len(set(judged.keys))
    assert 0 < expected["numberOfMatches"] <= DEMO_USERS
    expect(figure(page, "identifiers")).to_have_text(f"{expected['numberOfIdentifiers']:,}")
    expect(figure(page, "matches")).to_have_text(f"{expected['numberOfMatches']:,}")
    expect(figure(page, "rate")).to_have_text(percent(expected["matchRate"]))
    by_type = page.locator("#by-type tbody tr")
    expect(by_type).to_have_count(1)
    expect(by_type.nth(0).locator("th")).to_have_text("email")
    expect(page.locator("#refused-reasons")).to_contain_text(
        f"{refused:,} not an e-mail address or a SHA-256 digest"
    )
    screenshot(page, "contact-lists-statistics")
    assert_accessible(page)

    # The same figures on selecting the list afresh.
    open_console(page, "contact-lists", 1001)
    page.get_by_label("Contact list", exact=True).select_option(segment)
    expect(figure(page, "identifiers")).to_have_text(f"{expected['numberOfIdentifiers']:,}")
    screenshot(page, "contact-lists")

    # Wipe: a dialog first, whose safe choice has the focus; Escape keeps the list.
    wipe = page.get_by_role("button", name="Wipe the list…")
    wipe.click()
    dialog = page.get_by_role("dialog", name="Wipe this contact list?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Newsletter subscribers")
    expect(page.get_by_role("button", name="Keep the list")).to_be_focused()
    assert_accessible(page)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(wipe).to_be_focused()
    assert statistics(console_site, segment)["numberOfIdentifiers"] > 0
    wipe.click()
    page.get_by_role("button", name="Wipe every identifier").click()
    expect(figure(page, "identifiers")).to_have_text("0")
    expect(page.locator("#notice")).to_contain_text("is now empty")
    assert statistics(console_site, segment)["numberOfIdentifiers"] == 0


def page_key(page: Any, address: str) -> str:
    """The key the preview shows for ``address``, asked of the server by the page's token."""
    csrf = page.locator("body").get_attribute("data-csrf")
    answer = page.evaluate(
        """async ([csrf, address]) => {
             const issued = await (await fetch('/console/token', {method: 'POST',
               headers: {'X-CSRF-Token': csrf}})).json();
             const answer = await fetch('/console/api/contact-lists/preview', {method: 'POST',
               headers: {'Authorization': `Bearer ${issued.accessToken}`,
                         'Content-Type': 'application/json'},
               body: JSON.stringify({identifierType: 'email', identifiers: [address]})});
             return (await answer.json()).data.identifiers[0].key;
           }""",
        [csrf, address],
    )
    return str(answer)


def test_a_file_dropped_on_the_page_is_previewed(
    page_as: SignIn, console_site: ConsoleSite
) -> None:
    segment = new_list(console_site, 1001, "App users")
    page = page_as(MANAGER)
    open_console(page, "contact-lists", 1001)
    page.get_by_label("Contact list", exact=True).select_option(segment)
    page.get_by_label("Identifier type").select_option("madid")
    dropped = page.evaluate_handle(
        """() => {
             const transfer = new DataTransfer();
             const text = '6F9619FF-8B86-D011-B42D-00C04FC964FF\\n\\nnot-a-uuid\\n';
             transfer.items.add(new File([text], 'devices.txt', {type: 'text/plain'}));
             return transfer;
           }"""
    )
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": dropped})
    rows = page.locator("#preview-table tbody tr")
    expect(rows).to_have_count(2)
    # Lines are counted in the file (the blank line is skipped, not renumbered).
    expect(rows.nth(1).locator("td").nth(0)).to_have_text("3")
    expect(rows.nth(1).locator("td").nth(3)).to_have_text("not a mobile advertising id (UUID)")
    page.get_by_role("button", name="Send 2 identifiers").click()
    expect(page.locator("#progress-text")).to_have_text("100% (2 of 2)")
    expect(figure(page, "identifiers")).to_have_text("1")
    expect(page.locator("#by-type tbody tr th")).to_have_text(["madid"])


def test_a_read_only_operator_sees_lists_but_cannot_change_them(
    page_as: SignIn, console_site: ConsoleSite
) -> None:
    segment = new_list(console_site, 1001, "Loyalty members")
    console_site.api(
        "PATCH",
        f"/audience-segments/{segment}/contact-list",
        {
            "data": {
                "type": "ContactlistAmendment",
                "attributes": {
                    "operation": "add",
                    "identifierType": "email",
                    "identifiers": [f"user{n}@example.com" for n in range(1, 501)],
                },
            }
        },
    )
    expected = statistics(console_site, segment)
    page = page_as(VIEWER)
    open_console(page, "contact-lists", 1001)
    page.get_by_label("Contact list", exact=True).select_option(segment)
    expect(figure(page, "identifiers")).to_have_text("500")
    expect(figure(page, "matches")).to_have_text(f"{expected['numberOfMatches']:,}")
    expect(page.locator("#read-only-lists")).to_contain_text("read-only operator")
    expect(page.get_by_label(FILE_LABEL)).to_be_disabled()
    expect(page.get_by_role("button", name="Wipe the list…")).to_be_disabled()
    expect(page.locator("#send")).to_be_disabled()
    screenshot(page, "contact-lists-read-only")
    assert_accessible(page)


def test_an_advertiser_without_lists_is_told_how_to_make_one(
    page_as: SignIn, console_site: ConsoleSite
) -> None:
    found = console_site.api(
        "POST",
        "/audience-segments/search?limit=1",
        {
            "data": {
                "attributes": {"advertiserIds": ["1002"], "audienceSegmentTypes": ["ContactList"]}
            }
        },
    )
    page = page_as(MANAGER)
    open_console(page, "contact-lists", 1002)
    empty = page.locator("#no-lists")
    if found["meta"]["totalItems"]:
        # Another test of the session made one: then the page lists it.
        expect(empty).to_be_hidden()
        return
    expect(empty).to_be_visible()
    link = empty.get_by_role("link", name="Create a ContactList segment on the Segments page")
    assert link.get_attribute("href") == "/console/segments?advertiser=1002"
    expect(page.get_by_label("Contact list", exact=True)).to_be_hidden()
    screenshot(page, "contact-lists-empty")


def test_cancel_stops_after_the_batch_under_way(
    page_as: SignIn, console_site: ConsoleSite, tmp_path: Path
) -> None:
    segment = new_list(console_site, 1001, "Cancelled upload")
    upload = tmp_path / "many.txt"
    upload.write_text("\n".join(f"user{n}@example.com" for n in range(1, 12_001)), encoding="utf-8")
    # The first batch waits on the server, long enough to press Cancel while it is under way.
    status, rule = console_site.request(
        "POST",
        "/_reach/faults",
        {
            "operation": "UpdateContactListByAudienceSegment",
            "answers": ["latency"],
            "delayMs": 3000,
        },
        console_site.admin_token,
    )
    assert status == 201, rule
    try:
        page = page_as(MANAGER)
        open_console(page, "contact-lists", 1001)
        page.get_by_label("Contact list", exact=True).select_option(segment)
        page.get_by_label(FILE_LABEL).set_input_files(upload)
        page.get_by_role("button", name="Send 12,000 identifiers").click()
        page.get_by_role("button", name="Cancel the upload").click()
        result = page.locator("#upload-result")
        expect(result).to_contain_text("Cancelled. 5,000 of 12,000 identifiers had been sent")
        expect(page.locator("#progress-text")).to_have_text("41% (5,000 of 12,000)")
        expect(page.get_by_role("button", name="Cancel the upload")).to_be_hidden()
        expect(figure(page, "identifiers")).to_have_text("5,000")
        assert statistics(console_site, segment)["numberOfIdentifiers"] == 5000
    finally:
        console_site.request("DELETE", "/_reach/faults", token=console_site.admin_token)
