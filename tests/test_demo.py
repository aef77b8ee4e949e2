"""``reach demo`` from an empty directory: its printed snippet works and every size is real."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, Request, build_opener, urlopen

import pytest

from tests.server import free_port, server_environment

REACH = Path(sys.executable).parent / "reach"


def admin_call(base: str, token: str, method: str, path: str) -> Any:
    request = Request(f"{base}{path}", method=method, headers={"Authorization": f"Bearer {token}"})
    with urlopen(request, timeout=30) as response:
        return json.load(response)


def call(base: str, token: str, path: str, body: Any) -> Any:
    request = Request(
        f"{base}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urlopen(request, timeout=30) as response:
        return json.load(response)


def token_of(base: str, client_id: str, secret: str) -> str:
    form = urlencode(
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )
    with urlopen(Request(f"{base}/oauth2/token", data=form.encode()), timeout=30) as answer:
        token: str = json.load(answer)["access_token"]
        return token


def printed_credentials(output: str) -> tuple[str, str]:
    client_id = re.search(r"client_id:\s+(\S+)", output)
    secret = re.search(r"client_secret:\s+(\S+)", output)
    assert client_id and secret, output
    return client_id[1], secret[1]


def console_sign_in(base: str, output: str) -> str:
    """Sign in to the console with the operator login the demo printed; the page it lands on."""
    assert f"Reach console (build audiences and see their sizes as you edit): {base}/console" in (
        output
    )
    email = re.search(r"^  e-mail:\s+(\S+)$", output, re.MULTILINE)
    password = re.search(r"^  password:\s+(\S+)$", output, re.MULTILINE)
    assert email and password, output
    browser = build_opener(HTTPCookieProcessor(CookieJar()))
    with browser.open(f"{base}/console", timeout=30) as form:
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.read().decode())
    assert token, "the sign-in form has no CSRF token"
    fields = {"csrf_token": token[1], "email": email[1], "password": password[1], "next": ""}
    with browser.open(f"{base}/console/sign-in", urlencode(fields).encode(), 30) as landed:
        assert landed.url.endswith("/console/segments")
        page: str = landed.read().decode()
        return page


@contextmanager
def running_demo(env: dict[str, str], port: int, log_path: Path) -> Iterator[str]:
    """``reach demo`` until the block ends; what it printed once it serves."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(REACH), "demo", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            output = ""
            while "Uvicorn running" not in output:
                assert process.poll() is None, output
                assert time.monotonic() < deadline, output
                time.sleep(0.2)
                output = log_path.read_text()
            yield output
        finally:
            process.terminate()
            process.wait(timeout=30)


def demo_on_busy_port(env: dict[str, str], port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REACH), "demo", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_demo_on_a_busy_port_changes_nothing(tmp_path: Path) -> None:
    env = server_environment(tmp_path / "reach", None)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        failed = demo_on_busy_port(env, busy.getsockname()[1])
    assert failed.returncode == 1
    assert "cannot listen on 127.0.0.1:" in failed.stderr
    assert "Nothing was changed" in failed.stderr
    # Not even a store was created.
    assert not (tmp_path / "reach").exists()


@pytest.mark.conformance
def test_demo_serves_real_sizes(tmp_path: Path) -> None:
    env = server_environment(tmp_path / "reach", None) | {"REACH_RATE_LIMIT_PER_MINUTE": "0"}
    port = free_port()
    with running_demo(env, port, tmp_path / "demo.log") as output:
        deadline = time.monotonic() + 120
        snippet = output[output.index("TOKEN=$(") :]
        snippet = snippet[: snippet.index("\n\n")]
        # The snippet runs exactly as printed: a search, then the sizes of the example segments;
        # the lookalike's size comes once its model is built, moments after the start.
        while True:
            printed = subprocess.run(
                ["bash", "-c", snippet], capture_output=True, text=True, timeout=60, check=True
            ).stdout
            decoder = json.JSONDecoder()
            search, end = decoder.raw_decode(printed)
            sizes, _ = decoder.raw_decode(printed[end:].lstrip())
            assert search["meta"]["totalItems"] > 0
            pending = [s for s in sizes["data"] if s["attributes"]["size"] is None]
            if not pending:
                break
            assert [w["code"] for w in sizes["warnings"]] == [
                "size-privacy-exact",
                "lookalike-computing",
            ]
            assert time.monotonic() < deadline, sizes
            time.sleep(0.5)
        assert len(sizes["data"]) == 3
        assert all(s["attributes"]["size"] > 0 for s in sizes["data"])
        # The demo is a sandbox: exact sizes, and every size answer says so.
        assert [w["code"] for w in sizes["warnings"]] == ["size-privacy-exact"]

        base = f"http://127.0.0.1:{port}"
        client_id, secret = printed_credentials(output)
        token = token_of(base, client_id, secret)
        audiences = call(base, token, "/2025-01/marketing-solutions/audiences/search", {})
        audience_id = audiences["data"][0]["id"]
        for path, body in (
            (
                "/2025-01/marketing-solutions/audiences/compute-sizes",
                {"data": [{"id": audience_id}]},
            ),
            (
                "/2025-01/marketing-solutions/audiences/estimate-size",
                {
                    "data": {
                        "attributes": {
                            "advertiserId": "1001",
                            "algebra": audiences["data"][0]["attributes"]["algebra"],
                        }
                    }
                },
            ),
            (
                "/2025-01/marketing-solutions/audience-segments/estimate-size",
                {"data": {"attributes": {"advertiserId": "1001", "inMarket": {"country": "FR"}}}},
            ),
            (
                "/2025-01/marketing-solutions/audience-segments/estimate-size",
                {
                    "data": {
                        "attributes": {
                            "advertiserId": "1001",
                            "location": {
                                "pointsOfInterest": [{"latitude": 48.8566, "longitude": 2.3522}],
                                "radiusInKm": 30,
                            },
                        }
                    }
                },
            ),
        ):
            answer = call(base, token, path, body)
            data = answer["data"][0] if isinstance(answer["data"], list) else answer["data"]
            assert data["attributes"]["size"] > 0, (path, answer)

        # The printed console login works, and its operator sees every demo advertiser.
        console = console_sign_in(base, output)
        assert "Northwind Outfitters (1001)" in console
        assert "Fabrikam Travel (1003)" in console

        # A second demo on the same port stops before it changes anything: the running demo's
        # secret still works.
        failed = demo_on_busy_port(env, port)
        assert failed.returncode == 1
        assert "cannot listen" in failed.stderr
        token_of(base, client_id, secret)

        # The sandbox is on, opened by the printed admin token, and journals the calls above.
        admin = re.search(r"^ADMIN=(\S+)$", output, re.MULTILINE)
        assert admin, output
        journal = admin_call(base, admin[1], "GET", "/_reach/journal")
        assert "SearchAudienceSegments" in {e["operation"] for e in journal["data"]}
        # The printed reset line runs as printed.
        reset = output[output.index("curl -s -X POST " + base + "/_reach/reset") :]
        reset = reset[: reset.index("\n")]
        printed = subprocess.run(
            ["bash", "-c", f"ADMIN={admin[1]}; {reset}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert json.loads(printed)["data"]["audienceSegments"] > 0

    # Chosen credentials, on the same store: they work, and a re-run keeps them.
    chosen = {
        "REACH_DEMO_CLIENT_ID": "demo-suite",
        "REACH_DEMO_CLIENT_SECRET": "known-secret-0123",
        "REACH_DEMO_OPERATOR_PASSWORD": "chosen-operator-pw",
    }
    for run in range(2):
        with running_demo(env | chosen, port, tmp_path / f"chosen-{run}.log") as output:
            assert printed_credentials(output) == ("demo-suite", "known-secret-0123")
            assert "password: chosen-operator-pw" in output
            console_sign_in(base, output)
            token = token_of(base, "demo-suite", "known-secret-0123")
            found = call(base, token, "/2025-01/marketing-solutions/audience-segments/search", {})
            assert found["meta"]["totalItems"] > 0
