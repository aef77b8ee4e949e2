"""Everything the console serves: its pages, its own calls and its static files."""

from __future__ import annotations

from fastapi import APIRouter

from reach.console.ad_sets import router as ad_sets_router
from reach.console.api import router as api_router
from reach.console.lists import router as lists_router
from reach.console.lookalikes import router as lookalikes_router
from reach.console.pages import PREFIX, console_router
from reach.console.reference import router as reference_router

CONSOLE_ASSETS = f"{PREFIX}/static"
CONSOLE_ROUTERS: tuple[APIRouter, ...] = (
    console_router,
    api_router,
    lists_router,
    lookalikes_router,
    ad_sets_router,
    reference_router,
)
