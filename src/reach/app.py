"""The application factory: routers, problem rendering and the trace-id middleware."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from reach.audience.endpoints import router as audience_router
from reach.audience_segment.endpoints import router as audience_segment_router
from reach.audience_segment.membership import MembershipCache
from reach.auth.console import consent_router
from reach.auth.endpoints import router as auth_router
from reach.auth.endpoints import token_router
from reach.auth.errors import OAuthProblem
from reach.auth.tokens import SecretHasher, TokenSigner
from reach.config import Settings
from reach.console.routes import CONSOLE_ASSETS, CONSOLE_ROUTERS
from reach.contact_list.endpoints import legacy_router as legacy_contact_list_router
from reach.contact_list.endpoints import router as contact_list_router
from reach.contact_list.service import ListMatches
from reach.contact_list.storage import ListStore
from reach.contract.endpoints import DOCS_ASSETS, docs_assets
from reach.contract.endpoints import router as contract_router
from reach.db import Database
from reach.engine.query import IndexProvider
from reach.export.endpoints import router as export_router
from reach.health import IndexMetrics, RateLimitStoreCheck, StoreCheck, metrics_router
from reach.health import router as health_router
from reach.kit.clock import Clock, SystemClock
from reach.kit.jsonbody import problem_from_error
from reach.kit.logs import log_call
from reach.kit.metrics import observe_call
from reach.kit.middleware import TRACE_HEADER, TraceMiddleware, trace_id_of, wire_problems
from reach.kit.privacy import SizePrivacy
from reach.kit.problems import (
    InternalError,
    MethodNotAllowed,
    Problem,
    RequestProblems,
    RouteNotFound,
    VersionNotSupported,
)
from reach.kit.ratelimit import FixedWindowRateLimiter, counts_of
from reach.kit.wire import JsonResponse
from reach.lookalike.service import Lookalikes
from reach.lookalike.storage import ResultStore
from reach.lookalike.worker import LookalikeWorker
from reach.reference.endpoints import router as reference_router
from reach.sandbox.auth import AdminTokens
from reach.sandbox.endpoints import router as sandbox_router
from reach.sandbox.journal import JournalMiddleware
from reach.sandbox.service import Sandbox, operation_ids
from reach.schema import SchemaNotCurrent, require_current_schema
from reach.sizing.endpoints import router as sizing_router
from reach.sizing.service import InMarketSizes
from reach.versions import API_VERSIONS, VERSION_PREFIX, is_served, version_of

log = logging.getLogger("reach")

# Every router of the Criteo API: each route answers under every version of ``API_VERSIONS``.
VERSIONED_ROUTERS = (
    auth_router,
    reference_router,
    audience_segment_router,
    audience_router,
    sizing_router,
    contact_list_router,
    legacy_contact_list_router,
)


def problems_response(request: Request, problems: list[Problem]) -> JsonResponse:
    """The one way a failed request is rendered: ``{"errors": [...], "warnings": []}``."""
    body: dict[str, object] = {"errors": wire_problems(request, problems), "warnings": []}
    first = problems[0]
    if isinstance(first, OAuthProblem):
        # RFC 6749 §5.2 fields, for OAuth2 client libraries.
        body = {"error": first.oauth_error, "error_description": first.detail} | body
    headers = first.headers()
    if isinstance(first, OAuthProblem):
        headers["Cache-Control"] = "no-store"
    return JsonResponse(body, status_code=first.status, headers=headers)


async def _on_problem(request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, Problem)
    return problems_response(request, [exc])


async def _on_problems(request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, RequestProblems)
    return problems_response(request, exc.problems)


async def _on_validation(request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, RequestValidationError)
    capped = RequestProblems(problem_from_error(e) for e in exc.errors())
    return problems_response(request, capped.problems)


async def _on_http(request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        problem: Problem = MethodNotAllowed(
            f"{request.method} is not allowed on {request.url.path}"
        )
    elif exc.status_code == 404:
        problem = _not_found(request.url.path)
    else:
        problem = InternalError(str(exc.detail))
    response = problems_response(request, [problem])
    response.status_code = exc.status_code
    # E.g. the Allow header of a 405 (RFC 9110 §15.5.6).
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def _not_found(path: str) -> Problem:
    """A path that matches no route: a version Reach does not serve, or no such endpoint."""
    asked = version_of(path)
    if asked is not None and not is_served(asked):
        return VersionNotSupported(
            f"API version '{asked}' is not served; use one of {', '.join(API_VERSIONS)}"
        )
    return RouteNotFound(f"There is no endpoint at {path}")


async def _on_crash(request: Request, exc: Exception) -> JsonResponse:
    trace_id = trace_id_of(request)
    log.exception(
        "unhandled error (trace %s) on %s %s",
        trace_id,
        request.method,
        request.url.path,
        extra={"trace_id": trace_id},
    )
    response = problems_response(
        request, [InternalError(f"Something went wrong on our side; quote trace id {trace_id}")]
    )
    # This answer leaves through Starlette's outermost layer, past the trace middleware.
    response.headers[TRACE_HEADER.decode()] = trace_id
    return response


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """Build a Reach server from ``settings``; ``clock`` is injectable for tests."""
    clock = clock or SystemClock()
    database = Database.from_settings(settings)
    try:
        require_current_schema(database)
    except SchemaNotCurrent:
        database.dispose()
        raise
    server_key = settings.signing_key()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        database.analyze()
        # Build what a crash or a restart left unbuilt.
        worker.wake()
        yield
        worker.close()
        app.state.store_check.close()
        app.state.rate_limit_check.close()
        database.dispose()

    app = FastAPI(
        title="Reach",
        version=version("reach-audiences"),
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.database = database
    app.state.hasher = SecretHasher(server_key)
    app.state.signer = TokenSigner(
        server_key, clock, settings.token_lifetime_seconds, settings.token_grace_seconds
    )
    # Every rate limit counts in one store: shared by the workers (and hosts) when there are.
    app.state.rate_counts = counts_of(settings)
    app.state.limiter = FixedWindowRateLimiter(
        settings.rate_limit_per_minute, clock, counts=app.state.rate_counts
    )
    app.state.indexes = IndexProvider(settings.data_dir)
    app.state.in_market_sizes = InMarketSizes()
    app.state.memberships = MembershipCache(settings.membership_cache_mib * 2**20)
    app.state.list_matches = ListMatches(
        ListStore(settings.data_dir / "lists"), SizePrivacy.from_settings(settings)
    )
    results = ResultStore(settings.data_dir / "lookalikes")
    worker = LookalikeWorker(settings, database, app.state.indexes, app.state.list_matches, results)
    app.state.lookalike_worker = worker
    app.state.store_check = StoreCheck(database)
    app.state.rate_limit_check = RateLimitStoreCheck(app.state.rate_counts)
    app.state.index_metrics = IndexMetrics(app.state.indexes, clock)
    app.state.lookalikes = Lookalikes(results, worker.wake)
    # Admin tokens open /_reach/: the members export always, the sandbox controls when on.
    app.state.admin_tokens = AdminTokens(server_key, clock)
    # The sandbox controls (/_reach/), off unless asked for: then None, and nothing runs.
    app.state.sandbox = (
        Sandbox(settings, clock, server_key, operation_ids(VERSIONED_ROUTERS))
        if settings.sandbox
        else None
    )

    # What each call was goes to the access log and to the metrics (REACH_ACCESS_LOG,
    # REACH_METRICS).
    observers = [log_call] if settings.access_log else []
    if settings.metrics:
        observers.append(observe_call)
    app.add_middleware(TraceMiddleware, observers=observers)
    if app.state.sandbox is not None:
        # Outermost: the journal sees each answer as sent, trace id and warnings included.
        app.add_middleware(
            JournalMiddleware,
            journal=app.state.sandbox.journal,
            clock=clock,
            max_body_bytes=settings.max_body_bytes,
        )
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestProblems, _on_problems)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_crash)

    app.include_router(health_router)
    if settings.metrics:
        app.include_router(metrics_router)
    app.include_router(token_router)
    if app.state.sandbox is not None:
        app.include_router(sandbox_router)
    app.include_router(export_router)
    app.include_router(consent_router)
    for router in CONSOLE_ROUTERS:
        app.include_router(router)
    app.mount(CONSOLE_ASSETS, StaticFiles(packages=[("reach.console", "static")]))
    app.include_router(contract_router)
    app.mount(DOCS_ASSETS, docs_assets)
    for router in VERSIONED_ROUTERS:
        app.include_router(router, prefix=VERSION_PREFIX)
    return app
