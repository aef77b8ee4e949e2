"""A read-only operator sees every page of their advertiser and can change nothing: every
control that would change something is disabled, pressing what is left writes nothing, and the
API refuses their token any change."""

from __future__ import annotations

from typing import Any

import pytest

from tests.console.conftest import VIEWER, ConsoleSite, SignIn, open_console, screenshot

# The API calls that only read, though they are POSTs (searches and sizes).
READS = (
    "/search",
    "/compute-sizes",
    "/estimate-size",
    "/console/api/",
    "/console/token",
)
# Pages where a manager can change something: each must show the viewer disabled controls.
WRITABLE = ("segments", "audiences", "contact-lists", "ad-sets")


def counts(site: ConsoleSite) -> tuple[int, int]:
    """How many segments and audiences advertiser 1001 has."""
    body = {"data": {"attributes": {"advertiserIds": ["1001"]}}}
    segments = site.api("POST", "/audience-segments/search?limit=1", body)
    audiences = site.api("POST", "/audiences/search?limit=1", body)
    return segments["meta"]["totalItems"], audiences["meta"]["totalItems"]


@pytest.mark.parametrize("slug", [*WRITABLE, "lookalikes", "sandbox"])
def test_a_read_only_operator_changes_nothing(
    slug: str, page_as: SignIn, console_site: ConsoleSite
) -> None:
    page = page_as(VIEWER)
    writes: list[str] = []

    def watch(request: Any) -> None:
        if request.method != "GET" and not any(read in request.url for read in READS):
            writes.append(f"{request.method} {request.url}")

    page.on("request", watch)
    before = counts(console_site)
    open_console(page, slug, 1001)
    controls = page.locator("[data-write]")
    if slug in WRITABLE:
        assert controls.count() > 0, f"{slug}: no control is marked as a change"
    for index in range(controls.count()):
        control = controls.nth(index)
        assert control.is_disabled(), f"{slug}: {control.evaluate('e => e.outerHTML')[:120]}"
    # Press every button still enabled: none may send a change.
    buttons = page.locator("main button:enabled")
    for index in range(buttons.count()):
        button = buttons.nth(index)
        if button.is_visible():
            button.click()
    page.wait_for_load_state("networkidle")
    screenshot(page, f"read-only-{slug}")
    assert not writes, writes
    assert counts(console_site) == before
