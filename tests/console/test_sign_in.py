"""Signing in and out of the console, the token its scripts use, and who sees what."""

from __future__ import annotations

from typing import Any

from tests.console.conftest import (
    DESKTOP,
    MANAGER,
    NEWCOMER,
    PHONE,
    VIEWER,
    ConsoleSite,
    SignIn,
    assert_accessible,
    open_console,
    screenshot,
    sign_in,
)


def test_sign_in_page_refuses_a_wrong_password(browser: Any, console_site: ConsoleSite) -> None:
    context = browser.new_context(base_url=console_site.url, viewport=DESKTOP)
    page = context.new_page()
    page.goto("/console/audiences")
    # Not signed in: the sign-in form, which comes back to the page asked for.
    page.wait_for_url("**/console/sign-in?next=%2Fconsole%2Faudiences")
    screenshot(page, "sign-in")
    assert_accessible(page)
    wrong = type(MANAGER)(MANAGER.email, "not-the-password", MANAGER.advertisers)
    sign_in(page, wrong)
    assert page.get_by_role("alert").inner_text() == "Wrong e-mail or password."
    assert page.get_by_label("E-mail").input_value() == MANAGER.email
    sign_in(page, MANAGER)
    page.wait_for_url("**/console/audiences")
    assert page.get_by_role("heading", level=1).inner_text() == "Audiences"
    context.close()


def test_an_operator_sees_only_their_advertisers(page_as: SignIn) -> None:
    page = page_as(MANAGER)
    options = page.locator("#advertiser-select option").all_inner_texts()
    assert options == [
        "Northwind Outdoor (1001)",
        "Contoso Home (1002)",
        "Fabrikam Bikes (1003)",
    ]
    viewer = page_as(VIEWER)
    assert viewer.locator("#advertiser-select option").all_inner_texts() == [
        "Northwind Outdoor (1001)"
    ]
    assert viewer.locator(".badge").inner_text() == "read-only"


def test_an_operator_without_advertisers_sees_why(page_as: SignIn) -> None:
    page = page_as(NEWCOMER)
    assert "No advertiser is granted to you yet" in page.locator(".empty").inner_text()
    assert (
        "reach operators grant newcomer@northwind.example.com"
        in page.locator(".empty").inner_text()
    )
    screenshot(page, "empty-state")


def test_the_console_token_acts_for_the_operator(
    page_as: SignIn, console_site: ConsoleSite
) -> None:
    page = page_as(VIEWER)
    csrf = page.locator("body").get_attribute("data-csrf")
    issued = page.evaluate(
        """async (csrf) => (await fetch('/console/token', {method: 'POST',
             headers: {'X-CSRF-Token': csrf}})).json()""",
        csrf,
    )
    assert issued["readOnly"] is True
    assert issued["adminToken"] is None
    token = issued["accessToken"]
    status, advertisers = console_site.request("GET", "/2025-01/advertisers/me", token=token)
    assert status == 200
    assert [a["id"] for a in advertisers["data"]] == ["1001"]
    # A read-only operator's token cannot change anything.
    status, _ = console_site.request(
        "POST",
        "/2025-01/marketing-solutions/audience-segments/create",
        {"data": [{"type": "AudienceSegment", "attributes": {}}]},
        token,
    )
    assert status == 403
    # Without the page's CSRF token, no token is issued.
    stolen = page.evaluate("async () => (await fetch('/console/token', {method: 'POST'})).status")
    assert stolen == 403


def test_sign_out_ends_the_session(page_as: SignIn) -> None:
    page = page_as(MANAGER)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/sign-in")
    open_console(page, "segments")
    assert "/console/sign-in" in page.url


def test_every_page_fits_a_phone(page_as: SignIn) -> None:
    page = page_as(MANAGER, viewport=PHONE)
    for slug in ("segments", "audiences", "contact-lists", "lookalikes", "ad-sets", "sandbox"):
        open_console(page, slug)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{slug} is {width}px wide on a phone"
        screenshot(page, f"phone-{slug}")
