"""The README's API coverage table lists every path of the contract and tells the truth."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from reach.versions import API_VERSIONS
from tests.openapi import HTTP_METHODS, spec

README = Path(__file__).parents[1] / "README.md"
ROW = re.compile(r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| ([^|]+?) \| ([^|]+) \|$")


def table() -> dict[tuple[str, str], tuple[str, str]]:
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        if match := ROW.match(line):
            method, path, operation, status = match.groups()
            rows[(method, path)] = (operation, status.strip())
    return rows


def test_every_operation_of_the_contract_has_a_row() -> None:
    expected = {
        (method.upper(), path): operation["operationId"]
        for path, item in spec()["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }
    # The table writes the version as {v}: every served one.
    rows = {
        (method, path.replace("/{v}/", "/2025-01/")): row for (method, path), row in table().items()
    }
    assert {key: rows[key][0] for key in expected if key in rows} == expected
    assert set(rows) - set(expected) == {
        ("POST", "/oauth2/token"),
        ("GET", "/openapi.json?version={v}"),
        ("GET", "/docs"),
    }


def test_done_means_served_and_planned_means_not(http: TestClient) -> None:
    for (method, path), (operation, status) in table().items():
        for version in API_VERSIONS:
            concrete = re.sub(r"\{[^}]+\}", "1", path.replace("{v}", version))
            answer = http.request(method, concrete, headers={"Content-Type": "application/json"})
            served = answer.status_code != 404
            assert served == status.startswith("done"), (
                f"{operation} ({version}): {status} but {answer.status_code}"
            )
