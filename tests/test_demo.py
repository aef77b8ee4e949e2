"""``reach demo`` from an empty directory: its printed snippet works and every size is real."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import pytest

from tests.server import free_port, server_environment

REACH = Path(sys.executable).parent / "reach"


def call(base: str, token: str, path: str, body: Any) -> Any:
    request = Request(
        f"{base}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urlopen(request, timeout=30) as response:
        return json.load(response)


@pytest.mark.conformance
def test_demo_serves_real_sizes(tmp_path: Path) -> None:
    env = server_environment(tmp_path / "reach", None) | {"REACH_RATE_LIMIT_PER_MINUTE": "0"}
    port = free_port()
    log = (tmp_path / "demo.log").open("w")
    process = subprocess.Popen(
        [str(REACH), "demo", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 120
        output = ""
        while "Uvicorn running" not in output:
            assert process.poll() is None, output
            assert time.monotonic() < deadline, output
            time.sleep(0.2)
            output = (tmp_path / "demo.log").read_text()
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
            assert [w["code"] for w in sizes["warnings"]] == ["lookalike-computing"]
            assert time.monotonic() < deadline, sizes
            time.sleep(0.5)
        assert len(sizes["data"]) == 3
        assert all(s["attributes"]["size"] > 0 for s in sizes["data"])
        assert sizes["warnings"] == []

        base = f"http://127.0.0.1:{port}"
        client_id = re.search(r"client_id:\s+(\S+)", output)
        secret = re.search(r"client_secret:\s+(\S+)", output)
        assert client_id and secret
        form = f"grant_type=client_credentials&client_id={client_id[1]}&client_secret={secret[1]}"
        with urlopen(Request(f"{base}/oauth2/token", data=form.encode()), timeout=30) as answer:
            token = json.load(answer)["access_token"]
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
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
