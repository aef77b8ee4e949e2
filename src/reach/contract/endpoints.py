"""``GET /openapi.json`` (the contract of a served version) and ``GET /docs`` (it, rendered)."""

from __future__ import annotations

import html
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from reach.contract.spec import spec_for
from reach.kit.problems import VersionNotSupported
from reach.versions import API_VERSIONS, LATEST_VERSION

router = APIRouter(include_in_schema=False)

DOCS_ASSETS = "/docs/assets"
# The Swagger UI files ship in a Python package: the page works without reaching any CDN.
docs_assets = StaticFiles(directory=str(swagger_ui_path))


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/openapi.json")
def get_openapi(
    request: Request, version: Annotated[str, Query(max_length=32)] = LATEST_VERSION
) -> Response:
    if version not in API_VERSIONS:
        raise VersionNotSupported(
            f"API version '{version}' is not served; use one of {', '.join(API_VERSIONS)}"
        )
    return Response(spec_for(version, _base_url(request)), media_type="application/json")


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Reach: Criteo Audience API</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle(Object.assign(JSON.parse({config}), {{
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout"
}}));
</script>
</body>
</html>
"""


@router.get("/docs")
def get_docs() -> HTMLResponse:
    # One entry per served version, the newest first: the page's selector switches between them.
    urls = [{"url": f"/openapi.json?version={v}", "name": v} for v in reversed(API_VERSIONS)]
    config = orjson.dumps({"urls": urls, "urls.primaryName": LATEST_VERSION}).decode()
    # The configuration travels as a JSON string literal, so nothing in it can end the script.
    literal = orjson.dumps(config).decode().replace("<", "\\u003c")
    return HTMLResponse(_PAGE.format(assets=html.escape(DOCS_ASSETS), config=literal))
