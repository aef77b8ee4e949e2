"""Browser tests of the console: one real ``reach serve`` over a small indexed data set, and
Debian's Chromium driven by Playwright (it cannot download a browser here, so it is pointed at
the installed one). Every page visited is saved as a screenshot under the artefact folder, and
checked with axe-core."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reach.engine.demo_data import generate
from reach.engine.ingest import files_by_kind
from reach.reference.taxonomy import taxonomy
from reach.testing import (
    SANDBOX_ENVIRONMENT,
    reach,
    reach_command,
    running_server,
    server_environment,
)
from tests.engine.conftest import END

playwright_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).parents[2]
# Where the screenshots go (CI keeps this folder); REACH_TEST_ARTEFACTS moves it.
ARTEFACTS = Path(os.environ.get("REACH_TEST_ARTEFACTS", ROOT / "test-artefacts")) / "console"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# Set by .ci/run: a missing browser or axe-core fails the run instead of skipping it.
REQUIRE_BROWSER = os.environ.get("REACH_REQUIRE_BROWSER") == "1"

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ADVERTISERS = {1001: "Northwind Outdoor", 1002: "Contoso Home", 1003: "Fabrikam Bikes"}
AD_SETS = ((5001, 1001, "Winter sale"), (5002, 1001, "Spring launch"), (5003, 1002, "Always on"))


@dataclass(frozen=True)
class Operator:
    email: str
    password: str
    advertisers: tuple[int, ...]
    read_only: bool = False


# Granted every advertiser: the console opens the sandbox controls to them.
MANAGER = Operator("manager@northwind.example.com", "manager-password-1", (1001, 1002, 1003))
VIEWER = Operator("viewer@northwind.example.com", "viewer-password-1", (1001,), read_only=True)
# Signed in, but granted no advertiser: the empty states.
NEWCOMER = Operator("newcomer@northwind.example.com", "newcomer-password-1", ())


@dataclass(frozen=True)
class ConsoleSite:
    """The running server, its store and a client of the API to check the console against."""

    url: str
    env: dict[str, str]
    data_dir: Path
    client_id: str
    client_secret: str
    admin_token: str

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        """One HTTP call: its status and parsed JSON answer (None when empty)."""
        headers = {"Accept": "application/json"}
        data = None
        if isinstance(body, dict) and path == "/oauth2/token":
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        asked = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(asked, timeout=30) as answer:
                raw = answer.read()
                return answer.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as refused:
            raw = refused.read()
            return refused.code, json.loads(raw) if raw else None

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """One call of the Criteo API (2025-01) as the test client (advertisers 1001, 1002)."""
        status, issued = self.request(
            "POST",
            "/oauth2/token",
            {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
        )
        assert status == 200, issued
        status, answer = self.request(
            method, f"/2025-01/marketing-solutions{path}", body, issued["access_token"]
        )
        assert status < 300, answer
        return answer

    def cli(self, *args: str) -> str:
        return reach(self.env, *args)


def chromium_path() -> str | None:
    return os.environ.get("REACH_CHROMIUM") or shutil.which("chromium")


def _add_operator(env: dict[str, str], operator: Operator) -> None:
    args = ["operators", "add", operator.email, "--password-stdin"]
    if operator.read_only:
        args.append("--read-only")
    subprocess.run(
        [*reach_command(), *args],
        env=env,
        input=operator.password + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    if operator.advertisers:
        grants = [arg for a in operator.advertisers for arg in ("--advertiser", str(a))]
        reach(env, "operators", "grant", operator.email, *grants)


@pytest.fixture(scope="session")
def console_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    root = tmp_path_factory.mktemp("console")
    data_dir = root / "reach"
    env = server_environment(data_dir, None) | SANDBOX_ENVIRONMENT
    reach(env, "db", "upgrade")
    for advertiser_id, name in ADVERTISERS.items():
        reach(env, "advertisers", "add", str(advertiser_id), "--name", name)
    generate(
        root / "data",
        users=2500,
        days=40,
        advertisers=len(ADVERTISERS),
        seed=5,
        end_date=END,
        interests=taxonomy().leaves(),
    )
    for kind, path in files_by_kind(root / "data"):
        reach(env, "ingest", kind, str(path))
    reach(env, "index", "build")
    for ad_set_id, advertiser_id, name in AD_SETS:
        reach(
            env, "adsets", "add", str(ad_set_id), "--advertiser", str(advertiser_id), "--name", name
        )
    for operator in (MANAGER, VIEWER, NEWCOMER):
        _add_operator(env, operator)
    client = json.loads(
        reach(
            env,
            "clients",
            "create",
            "--name",
            "checks",
            "--advertiser",
            "1001",
            "--advertiser",
            "1002",
        )
    )
    admin_token = reach(env, "admin", "token").strip()
    with running_server(env, root / "server.log") as server:
        yield ConsoleSite(
            server.url, env, data_dir, client["client_id"], client["client_secret"], admin_token
        )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        message = "Chromium is not installed (apt-get install chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(message)
        pytest.skip(message)
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


SignIn = Callable[..., Any]


@pytest.fixture
def page_as(browser: Any, console_site: ConsoleSite) -> Iterator[SignIn]:
    """``page_as(operator, viewport=DESKTOP)``: a new browser context signed in as ``operator``
    on the segments page. A script error on any page fails the test."""
    contexts = []
    errors: list[str] = []

    def open_page(operator: Operator, viewport: dict[str, int] = DESKTOP) -> Any:
        context = browser.new_context(base_url=console_site.url, viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/console/sign-in")
        sign_in(page, operator)
        page.wait_for_url("**/console/segments**")
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"script errors in the console: {errors}"


def sign_in(page: Any, operator: Operator) -> None:
    page.get_by_label("E-mail").fill(operator.email)
    page.get_by_label("Password").fill(operator.password)
    page.get_by_role("button", name="Sign in").click()


def open_console(page: Any, slug: str, advertiser: int | None = None) -> None:
    """Go to a console page (of ``advertiser``) and wait until its scripts are idle."""
    query = f"?{urllib.parse.urlencode({'advertiser': advertiser})}" if advertiser else ""
    page.goto(f"/console/{slug}{query}")
    page.wait_for_load_state("networkidle")


def screenshot(page: Any, name: str) -> Path:
    """Save the whole page as ``<artefacts>/console/<name>.png``."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not AXE.is_file():
        message = "axe-core is not installed (npm ci)"
        if REQUIRE_BROWSER:
            pytest.fail(message)
        pytest.skip(message)
    # Evaluated through the browser's debugging protocol: the page's Content-Security-Policy
    # (scripts of our own only) stays on while axe runs.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def assert_accessible(page: Any) -> None:
    found = serious_violations(page)
    assert not found, "\n".join(found)
