"""The size tests run against a server over indexed demo data."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def settings_overrides(indexed_settings: dict[str, Any]) -> dict[str, Any]:
    return indexed_settings
