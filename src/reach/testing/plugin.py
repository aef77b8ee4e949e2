"""The pytest plugin of Reach (entry point ``reach``): a sandbox server for the test session.

Installed with Reach, it gives every test suite of the environment two fixtures:

- ``reach_sandbox``: a ``ReachSandbox`` (``reach.testing``) started once per session, with
  ``url``, ``client_id``, ``client_secret``, ``advertiser_id``, ``data_dir`` and helpers;
- ``reach_sandbox_settings``: what it is set up with. The defaults come from ``REACH_TEST_*``
  variables; override the fixture in a ``conftest.py`` to choose anything else.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reach.testing import ReachSandbox, SandboxSettings, run_sandbox


@pytest.fixture(scope="session")
def reach_sandbox_settings() -> SandboxSettings:
    """The credentials, advertiser and server settings of ``reach_sandbox``: the defaults of
    ``SandboxSettings``, each overridden by its ``REACH_TEST_*`` variable when set."""
    return SandboxSettings.from_environment()


@pytest.fixture(scope="session")
def reach_sandbox(
    reach_sandbox_settings: SandboxSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReachSandbox]:
    """A Reach server for the whole session, stopped at its end (its store and ``server.log``
    stay in pytest's temporary directory)."""
    with run_sandbox(tmp_path_factory.mktemp("reach-sandbox"), reach_sandbox_settings) as sandbox:
        yield sandbox
