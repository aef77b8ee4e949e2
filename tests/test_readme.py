"""The README's runnable examples run against a real server, so they cannot rot.

A python block is runnable when the line before its fence is a marker comment:

- ``<!-- test: sdk, prints: TEXT -->``: a script; run with the sandbox's URL for
  ``http://127.0.0.1:8080`` and its credentials (also as ``CLIENT_ID`` and ``CLIENT_SECRET``),
  it must succeed and print TEXT;
- ``<!-- test: pytest -->``: a test file; run by pytest, its tests must pass.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from reach.testing import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, ReachSandbox

README = Path(__file__).parents[1] / "README.md"
README_HOST = "http://127.0.0.1:8080"
SCRIPT_TIMEOUT_SECONDS = 120
MARKED_BLOCK = re.compile(
    r"^<!-- test: (?P<kind>sdk|pytest)(?:, prints: (?P<prints>[^>]*?))? -->\n"
    r"```python\n(?P<code>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)

pytest_plugins = ["pytester"]


@dataclass(frozen=True)
class Example:
    kind: str
    code: str
    prints: str | None
    line: int

    def __str__(self) -> str:
        return f"README.md:{self.line}"


def examples() -> list[Example]:
    text = README.read_text(encoding="utf-8")
    return [
        Example(
            match["kind"],
            match["code"],
            match["prints"],
            text.count("\n", 0, match.start()) + 1,
        )
        for match in MARKED_BLOCK.finditer(text)
    ]


def for_sandbox(code: str, sandbox: ReachSandbox) -> str:
    """The example aimed at the sandbox: its URL and credentials for the README's."""
    return (
        code.replace(README_HOST, sandbox.url)
        .replace(DEFAULT_CLIENT_SECRET, sandbox.client_secret)
        .replace(DEFAULT_CLIENT_ID, sandbox.client_id)
    )


def test_the_readme_has_runnable_examples_of_each_kind() -> None:
    kinds = [example.kind for example in examples()]

    assert kinds.count("sdk") >= 2
    assert kinds.count("pytest") >= 1


@pytest.mark.parametrize("example", [e for e in examples() if e.kind == "sdk"], ids=str)
def test_an_sdk_example_runs(example: Example, reach_sandbox: ReachSandbox, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(for_sandbox(example.code, reach_sandbox), encoding="utf-8")

    completed = subprocess.run(
        [sys.executable, str(script)],
        env={
            **os.environ,
            "CLIENT_ID": reach_sandbox.client_id,
            "CLIENT_SECRET": reach_sandbox.client_secret,
        },
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_SECONDS,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert example.prints, f"{example}: say what the example prints (`prints: TEXT`)"
    assert example.prints in completed.stdout, completed.stdout


@pytest.mark.parametrize("example", [e for e in examples() if e.kind == "pytest"], ids=str)
def test_a_pytest_example_passes(example: Example, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_example=example.code)

    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:xdist")

    result.assert_outcomes(passed=len(re.findall(r"^def test_", example.code, re.MULTILINE)))
