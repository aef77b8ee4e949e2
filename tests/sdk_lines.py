"""The official SDK at each line the tests drive: its module, imported from where ``make`` put it.

The pinned 2025.1 build is a dev dependency. The newer lines share its distribution name, so
``make dev`` installs each into its own folder under ``<venv>/sdk/<build>``; this puts the
folder on the path and imports the line's module.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

SDK_DIR = Path(sys.prefix) / "sdk"

# Line -> (API version it calls, its module). The 2025.1 build is installed with the venv.
SDK_LINES = {
    "2025.1": ("2025-01", "criteo_api_marketingsolutions_v2025_01"),
    "2026.7": ("2026-07", "criteo_api_marketingsolutions_v2026_07"),
    "2027.1": ("2027-01", "criteo_api_marketingsolutions_v2027_01"),
}


def sdk_module(line: str, submodule: str = "") -> ModuleType:
    """The SDK module of ``line`` (e.g. ``sdk_module("2027.1", "api.audience_api")``)."""
    _, name = SDK_LINES[line]
    for folder in sorted(SDK_DIR.glob(f"{line}.*")):
        if str(folder) not in sys.path:
            sys.path.append(str(folder))
    full = f"{name}.{submodule}" if submodule else name
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError:
        pytest.fail(f"The {line} SDK is not installed: run `make dev` (it installs {SDK_DIR})")
