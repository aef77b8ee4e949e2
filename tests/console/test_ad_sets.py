"""The ad sets page: the advertiser's ad sets with their linked audience, linked and unlinked
through the API; a read-only operator looks only."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.builders import retargeting
from tests.console.conftest import (
    MANAGER,
    VIEWER,
    ConsoleSite,
    SignIn,
    assert_accessible,
    open_console,
    screenshot,
)


def create_audience(site: ConsoleSite, advertiser: int, name: str) -> str:
    [seed] = site.api(
        "POST",
        "/audience-segments/create",
        {"data": [retargeting(advertiser, f"{name} visitors", 0, 20)]},
    )["data"]
    body = {
        "data": [
            {
                "attributes": {
                    "advertiserId": str(advertiser),
                    "name": name,
                    "algebra": {"audienceSegmentId": seed["id"]},
                }
            }
        ]
    }
    [created] = site.api("POST", "/audiences/create", body)["data"]
    identifier: str = created["id"]
    return identifier


def linked_audience(site: ConsoleSite, ad_set_id: str) -> Any:
    """The audience the API says the ad set is linked to (its search by ad set)."""
    found = site.api(
        "POST",
        "/audiences/search",
        {"data": {"type": "Audience", "attributes": {"adSetIds": [ad_set_id]}}},
    )["data"]
    return [a["id"] for a in found]


def test_link_an_audience_to_an_ad_set_and_unlink_it(
    page_as: SignIn, console_site: ConsoleSite
) -> None:
    audience = create_audience(console_site, 1001, "Winter buyers")
    page = page_as(MANAGER)
    open_console(page, "ad-sets", 1001)
    rows = page.locator("#ad-sets-body tr")
    expect(rows).to_have_count(2)
    assert rows.locator("th").all_inner_texts() == ["Winter sale (5001)", "Spring launch (5002)"]

    select = page.get_by_label("Audience of Winter sale")
    select.select_option(label=f"Winter buyers ({audience})")
    page.locator("tr[data-ad-set='5001']").get_by_role("button", name="Save").click()
    expect(page.locator("#linked-5001")).to_have_text(f"Linked to Winter buyers ({audience}).")
    expect(page.locator("#notice")).to_contain_text("now targets Winter buyers")
    assert linked_audience(console_site, "5001") == [audience]
    screenshot(page, "ad-sets")
    assert_accessible(page)

    # What the page shows after a reload is what the server holds.
    open_console(page, "ad-sets", 1001)
    expect(page.get_by_label("Audience of Winter sale")).to_have_value(audience)
    expect(page.get_by_label("Audience of Spring launch")).to_have_value("")

    page.get_by_label("Audience of Winter sale").select_option(label="— no audience —")
    page.locator("tr[data-ad-set='5001']").get_by_role("button", name="Save").click()
    expect(page.locator("#linked-5001")).to_have_text("Linked to no audience.")
    assert linked_audience(console_site, "5001") == []


def test_the_api_refusal_is_shown_beside_the_field(
    page_as: SignIn, console_site: ConsoleSite
) -> None:
    audience = create_audience(console_site, 1001, "Gone soon")
    page = page_as(MANAGER)
    open_console(page, "ad-sets", 1001)
    page.get_by_label("Audience of Spring launch").select_option(label=f"Gone soon ({audience})")
    # Deleted meanwhile (by another client): the API refuses the link, and says why.
    console_site.api("POST", "/audiences/delete", {"data": [{"id": audience}]})
    page.locator("tr[data-ad-set='5002']").get_by_role("button", name="Save").click()
    select = page.get_by_label("Audience of Spring launch")
    expect(select).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#audience-of-5002-problem")).to_contain_text(
        f"Audience '{audience}' does not exist"
    )
    assert linked_audience(console_site, "5002") == []
    assert_accessible(page)


def test_a_read_only_operator_cannot_link(page_as: SignIn, console_site: ConsoleSite) -> None:
    audience = create_audience(console_site, 1001, "Viewer's pick")
    page = page_as(VIEWER)
    open_console(page, "ad-sets", 1001)
    row = page.locator("tr[data-ad-set='5001']")
    expect(row.get_by_role("button", name="Save")).to_be_disabled()
    expect(page.get_by_label("Audience of Winter sale")).to_be_disabled()
    # And the server refuses the viewer's token even if the page were bypassed.
    status = page.evaluate(
        """async (audience) => {
            const issued = await fetch("/console/token", {
                method: "POST", headers: {"X-CSRF-Token": document.body.dataset.csrf}});
            const token = (await issued.json()).accessToken;
            const answer = await fetch("/2025-01/marketing-solutions/ad-sets/5001/audience", {
                method: "PUT",
                headers: {Authorization: `Bearer ${token}`, "Content-Type": "application/json"},
                body: JSON.stringify({data: {attributes: {audienceId: audience}}}),
            });
            return answer.status;
        }""",
        audience,
    )
    assert status == 403
    assert audience not in linked_audience(console_site, "5001")
