"""The official OpenAPI file of the Audience API, rewritten for one served version and host."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import orjson

from reach.versions import API_VERSIONS

# An unmodified copy of the official file; the audience surface of every later version is the
# same but for the path prefix.
SPEC_FILE = Path(__file__).with_name("criteo-marketing-solutions-2025-01.audience.openapi.json")
SPEC_VERSION = "2025-01"
UPSTREAM_HOST = "https://api.criteo.com"


@cache
def _official() -> str:
    return SPEC_FILE.read_text(encoding="utf-8")


# The host placeholder of the rewritten contracts: its text stands nowhere else in the file.
_HOST = "https://reach.invalid"


@cache
def _versioned(version: str) -> str:
    """The contract of ``version``, its URLs on a placeholder host (one per version, cached)."""
    document = orjson.loads(_official().replace(UPSTREAM_HOST, _HOST))
    prefix = f"/{SPEC_VERSION}/"
    document["paths"] = {
        f"/{version}/{path.removeprefix(prefix)}" if path.startswith(prefix) else path: item
        for path, item in document["paths"].items()
    }
    document["info"]["version"] = version
    document["info"]["description"] = (
        f"{document['info'].get('description', '')}, as served by Reach (API {version})"
    )
    return orjson.dumps(document).decode()


def spec_for(version: str, base_url: str) -> bytes:
    """The contract of ``version`` as this server answers it: paths under ``/<version>/``, and
    the server and OAuth2 URLs pointing at ``base_url`` (taken from each request, never
    cached: the Host header is the caller's to choose)."""
    if version not in API_VERSIONS:
        raise ValueError(f"API version {version} is not served")
    # The base URL goes into JSON strings: encode it as one.
    host = orjson.dumps(base_url.rstrip("/")).decode()[1:-1]
    return _versioned(version).replace(_HOST, host).encode()
