"""A command line that starts fast and explains itself: ``--help`` of every command loads none
of the heavy libraries, ``reach --version`` answers, and a bad ``REACH_*`` setting is one line
that names the variable and what it expects, never a traceback.

Which modules a ``--help`` loads is asserted instead of its time: the count is exact where a
timing would depend on the machine."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from reach.testing import reach_command, server_environment

# What a ``--help`` must not load: each takes from tenths of a second to seconds to import.
# (Pydantic is not among them: Typer itself converts options with it.) markdown_it stands for
# Typer's Rich help formatting, which loads it, Rich's tracebacks and syntax highlighting.
HEAVY = (
    "alembic",
    "duckdb",
    "fastapi",
    "h3",
    "markdown_it",
    "numpy",
    "pyarrow",
    "pydantic_settings",
    "pyroaring",
    "scipy",
    "sklearn",
    "sqlalchemy",
    "starlette",
    "uvicorn",
)

# Runs in a fresh interpreter: the ``--help`` of the root and of every command and group,
# walked from the Typer application, each in turn; prints which heavy top-level modules were
# loaded by ``import reach.cli`` and by each help, as JSON.
HELP_WALK = """
import contextlib, io, json, sys
import typer
from typer.main import get_command

heavy = set(sys.argv[1:])
loaded = lambda: {name.partition(".")[0] for name in sys.modules} & heavy

from reach.cli import app

found = {"import reach.cli": sorted(loaded())}
root = get_command(app)

def paths(command, path=()):
    yield path
    if hasattr(command, "list_commands"):
        context = typer.Context(command)
        for name in command.list_commands(context):
            yield from paths(command.get_command(context, name), (*path, name))

for path in list(paths(root)):
    before = loaded()
    with contextlib.redirect_stdout(io.StringIO()) as shown:
        code = root.main([*path, "--help"], prog_name="reach", standalone_mode=False)
    if code not in (0, None) or "Usage" not in shown.getvalue():
        raise SystemExit(f"reach {' '.join(path)} --help failed ({code})")
    found[" ".join(("reach", *path))] = sorted(loaded() - before)
print(json.dumps(found))
"""


def imported_modules(stderr: str) -> set[str]:
    """Top-level modules named by ``-X importtime`` (PYTHONPROFILEIMPORTTIME) output."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            names.add(name.partition(".")[0])
    return names


def run_reach(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*reach_command(), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return server_environment(tmp_path, None)


@pytest.mark.parametrize("args", [["--help"], ["--version"], []], ids=["help", "version", "bare"])
def test_reach_help_and_version_load_no_heavy_library(env: dict[str, str], args: list[str]) -> None:
    completed = run_reach(env | {"PYTHONPROFILEIMPORTTIME": "1"}, *args)
    loaded = imported_modules(completed.stderr)
    assert "typer" in loaded  # the import profile was read
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_no_command_help_loads_a_heavy_library(env: dict[str, str]) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", HELP_WALK, *HEAVY],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    found: dict[str, list[str]] = json.loads(completed.stdout)
    # Every command was walked, not just the root.
    assert {"reach ingest", "reach index build", "reach clients rotate"} <= set(found)
    assert {command: heavy for command, heavy in found.items() if heavy} == {}


def test_reach_version_prints_the_installed_version(env: dict[str, str]) -> None:
    completed = run_reach(env, "--version")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == f"reach {version('reach-audiences')}\n"


BAD_SETTINGS = [
    ("REACH_PORT", "abc", "an integer from 1 to 65535"),
    ("REACH_RATE_LIMIT_PER_MINUTE", "-1", "an integer of at least 0"),
    ("REACH_SECRET_KEY", "too-short-a-key", "at least 32 bytes"),
    ("REACH_ACCESS_LOG", "perhaps", "true or false"),
    ("REACH_TOKEN_LIFETIME_SECONDS", "1e9", "an integer from 60 to 86400"),
]


@pytest.mark.parametrize(("variable", "value", "expected"), BAD_SETTINGS)
def test_a_bad_setting_is_one_line_naming_the_variable(
    env: dict[str, str], variable: str, value: str, expected: str
) -> None:
    completed = run_reach(env | {variable: value}, "db", "upgrade")
    lines = completed.stderr.strip().splitlines()
    assert completed.returncode == 2
    assert len(lines) == 1, completed.stderr
    assert variable in lines[0]
    assert expected in lines[0]
    assert "Traceback" not in completed.stderr
    if variable == "REACH_SECRET_KEY":
        assert value not in completed.stderr  # a secret is never echoed
    else:
        assert repr(value) in lines[0]


@pytest.mark.parametrize(
    "command",
    [["serve"], ["demo"], ["admin", "token"], ["clients", "list"], ["index", "status"]],
    ids=" ".join,
)
def test_every_command_explains_a_bad_setting_the_same_way(
    env: dict[str, str], command: list[str]
) -> None:
    completed = run_reach(env | {"REACH_PORT": "abc"}, *command)
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [
        "error: REACH_PORT expects an integer from 1 to 65535, not 'abc'"
    ]


def test_settings_that_contradict_each_other_name_both_variables(env: dict[str, str]) -> None:
    completed = run_reach(
        env | {"REACH_RADIUS_MIN_KM": "600", "REACH_RADIUS_MAX_KM": "500"}, "db", "upgrade"
    )
    assert completed.returncode == 2
    [line] = completed.stderr.strip().splitlines()
    assert "REACH_RADIUS_MIN_KM" in line
    assert "REACH_RADIUS_MAX_KM" in line


def test_an_environment_without_reach_settings_still_runs(env: dict[str, str]) -> None:
    # The guard against a false alarm: good settings are not refused.
    completed = run_reach(env, "db", "upgrade")
    assert completed.returncode == 0, completed.stderr
    assert (Path(env["REACH_DATA_DIR"]) / "reach.db").exists()
