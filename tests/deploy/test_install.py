"""The lean install: ``pip install reach-audiences`` without extras serves the API, and holds
neither scikit-learn, SciPy, psycopg nor sqlglot; a feature that needs one of them says which
extra to install instead of failing on an import."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reach.testing import free_port
from tests.deploy.fresh import (
    Venv,
    access_token,
    build_wheel,
    clean_environment,
    fresh_venv,
    printed_credentials,
    started,
)

OPTIONAL = {"scikit-learn", "scipy", "psycopg", "psycopg-binary", "sqlglot"}


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    wheel = build_wheel(tmp_path_factory.mktemp("wheel"))
    return fresh_venv(tmp_path_factory.mktemp("core") / "venv", str(wheel), [])


def run(venv: Venv, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv.program("reach"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_core_install_has_no_optional_dependency(core: Venv) -> None:
    assert "reach-audiences" in core.installed()
    assert not core.installed() & OPTIONAL


def test_the_core_install_migrates_and_serves(core: Venv, tmp_path: Path) -> None:
    env = clean_environment(REACH_DATA_DIR=str(tmp_path / "data"), REACH_PORT=str(free_port()))
    assert run(core, env, "--help").returncode == 0
    upgraded = run(core, env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    with started([core.program("reach"), "boot"], env, tmp_path / "logs") as server:
        [credentials] = printed_credentials(server.output())
        assert access_token(server.url, credentials["client_id"], credentials["client_secret"])


@pytest.mark.parametrize("command", [["serve"], ["db", "upgrade"], ["boot"]])
def test_a_postgresql_url_without_its_driver_names_the_extra(
    core: Venv, tmp_path: Path, command: list[str]
) -> None:
    env = clean_environment(
        REACH_DATA_DIR=str(tmp_path / "data"),
        REACH_DATABASE_URL="postgresql+psycopg://reach@127.0.0.1:5432/reach",
    )
    refused = run(core, env, *command)
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert "REACH_DATABASE_URL" in line
    assert "pip install 'reach-audiences[postgresql]'" in line


def test_a_lookalike_without_its_extra_fails_and_says_which_to_install(
    core: Venv, tmp_path: Path
) -> None:
    # The demo seeds a lookalike; its server records the build's failure.
    env = clean_environment(REACH_DATA_DIR=str(tmp_path / "data"), REACH_PORT=str(free_port()))
    with started([core.program("reach"), "demo"], env, tmp_path / "logs"):
        pass
    built = run(core, env, "lookalike", "build", "--retry")
    assert "failed" in built.stdout
    assert "pip install 'reach-audiences[lookalike]'" in built.stdout
    status = run(core, env, "lookalike", "status")
    assert "pip install 'reach-audiences[lookalike]'" in status.stdout
