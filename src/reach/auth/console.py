"""HTML handlers of the consent page: an operator signs in and approves or denies a client's
authorization request (RFC 6749 §4.1.1 and §4.1.2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader
from starlette.concurrency import run_in_threadpool

from reach.auth.forms import FORM, FormError, parse_form
from reach.auth.service import (
    AuthService,
    IssuedCode,
    OperatorService,
    check_redirect_uri,
    email_key,
    redirect_host,
    redirect_with,
)
from reach.auth.sessions import (
    SESSION_COOKIE,
    SESSION_LIFETIME,
    SIGN_IN_COOKIE,
    SIGN_IN_LIFETIME,
    OperatorSession,
    OperatorSessions,
    new_sign_in_nonce,
)
from reach.auth.throttle import Attempt, SignInGuard, client_address
from reach.kit.jsonbody import read_body
from reach.kit.problems import Problem
from reach.models import Operator

# Not under an API version: the page is part of the OAuth2 flow, like /oauth2/token.
consent_router = APIRouter(include_in_schema=False)

MAX_FORM_BYTES = 16 * 1024
STATE_MAX_LENGTH = 1024
# The members of an authorization request, carried through the sign-in and consent forms.
REQUEST_FIELDS = ("response_type", "client_id", "redirect_uri", "state")
ADVERTISER_FIELD = "advertiser-"

_templates = Environment(
    loader=PackageLoader("reach.auth", "templates"), autoescape=True, auto_reload=False
)
# The page needs no script, no frame and nothing from elsewhere.
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A checked authorization request: a code for an active client, to a usable redirect URI."""

    client_id: str
    client_name: str
    read_only: bool
    redirect_uri: str
    state: str | None

    def fields(self) -> list[tuple[str, str]]:
        fields = [
            ("response_type", "code"),
            ("client_id", self.client_id),
            ("redirect_uri", self.redirect_uri),
        ]
        return fields if self.state is None else [*fields, ("state", self.state)]


class BadRequest(Exception):
    """An authorization request that must not be answered with a redirect."""


def _page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = _templates.get_template(name).render(**values)
    return HTMLResponse(html, status_code=status, headers=_PAGE_HEADERS)


def _error_page(message: str, status: int = 400) -> HTMLResponse:
    return _page("error.html", status, message=message)


def operator_sessions(request: Request) -> OperatorSessions:
    state = request.app.state
    sessions: OperatorSessions | None = getattr(state, "operator_sessions", None)
    if sessions is None:
        sessions = state.operator_sessions = OperatorSessions(
            state.settings.signing_key(), state.clock
        )
    return sessions


def set_page_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    lifetime: timedelta,
    path: str,
    same_site: Literal["lax", "strict"],
) -> None:
    """A cookie of the operators' pages: sent back only to ``path``, never read by scripts,
    secure when the page is served over https."""
    response.set_cookie(
        name,
        value,
        max_age=int(lifetime.total_seconds()),
        path=path,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite=same_site,
    )


def _guard(request: Request) -> SignInGuard:
    # Made on first use, in the event loop (its semaphore belongs to the running loop).
    state = request.app.state
    guard: SignInGuard | None = getattr(state, "sign_in_guard", None)
    if guard is None:
        guard = state.sign_in_guard = SignInGuard(state.clock, state.rate_counts)
    return guard


def _check_request(fields: Mapping[str, str], operators: OperatorService) -> AuthorizationRequest:
    """RFC 6749 §4.1.2.1: a bad client or redirect URI is told to the user, never redirected
    to; Reach shows a bad response_type the same way."""
    if fields.get("response_type") != "code":
        raise BadRequest("response_type must be 'code'")
    client_id = fields.get("client_id", "")
    client = operators.client(client_id) if client_id else None
    if client is None:
        raise BadRequest("client_id names no active client of this server")
    redirect_uri = fields.get("redirect_uri", "")
    if not redirect_uri:
        raise BadRequest("redirect_uri is required")
    try:
        check_redirect_uri(redirect_uri)
    except Problem as problem:
        raise BadRequest(problem.detail) from None
    state = fields.get("state")
    if state is not None and len(state) > STATE_MAX_LENGTH:
        raise BadRequest(f"state has at most {STATE_MAX_LENGTH} characters")
    return AuthorizationRequest(
        client.client_id, client.name, client.read_only, redirect_uri, state
    )


async def _read_form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != FORM:
        raise BadRequest(f"Send the form as {FORM}")
    try:
        return parse_form(await read_body(request, MAX_FORM_BYTES))
    except FormError as exc:
        raise BadRequest(str(exc)) from None


def _consent_form(
    request: Request,
    session: OperatorSession,
    operator: Operator,
    operators: OperatorService,
    asked: AuthorizationRequest,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    return _page(
        "consent.html",
        status,
        client_name=asked.client_name,
        access="read" if asked.read_only else "read and manage",
        operator_email=operator.email,
        redirect_host=redirect_host(asked.redirect_uri),
        advertisers=operators.advertisers_of(operator),
        csrf_token=operator_sessions(request).csrf_token(session),
        request_fields=asked.fields(),
        error=error,
    )


def _sign_in_page(
    request: Request,
    asked: AuthorizationRequest,
    *,
    email: str,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The sign-in form, its CSRF token bound to a nonce cookie (set here when missing)."""
    sent = request.cookies.get(SIGN_IN_COOKIE)
    nonce = sent or new_sign_in_nonce()
    page = _page(
        "sign_in.html",
        status,
        client_name=asked.client_name,
        request_fields=asked.fields(),
        csrf_token=operator_sessions(request).sign_in_token(nonce),
        email=email,
        error=error,
    )
    if sent:
        return page
    set_page_cookie(request, page, SIGN_IN_COOKIE, nonce, SIGN_IN_LIFETIME, "/consent", "lax")
    return page


TOO_MANY_SIGN_INS = "Too many failed sign-ins; wait a few minutes before trying again."
WRONG_PASSWORD = "Wrong e-mail or password."  # noqa: S105 (a message, not a secret)


@dataclass(frozen=True, slots=True)
class SignInOutcome:
    """An operator's password check: who signed in (None: wrong credentials), or how many
    seconds to wait when the attempt was refused before any check."""

    operator_id: int | None = None
    retry_after: int | None = None
    # The operator's session generation, for the session cookie.
    generation: int = 0


async def check_operator_password(request: Request, email: str, password: str) -> SignInOutcome:
    """The one sign-in of operators (consent page and console): failures are limited per
    e-mail address and per client address, and few password checks run at once (see
    ``throttle``)."""
    guard = _guard(request)
    state = request.app.state
    # The counts may live in Redis or a shared file: asked in a worker thread, never in the
    # event loop.
    attempt = await run_in_threadpool(guard.begin, email_key(email), client_address(request))
    if not isinstance(attempt, Attempt):
        return SignInOutcome(retry_after=attempt)

    def check() -> SignInOutcome:
        with state.database.session() as db:
            operator = OperatorService(db, state.clock).sign_in(email, password)
            if operator is None:
                return SignInOutcome()
            return SignInOutcome(operator_id=operator.id, generation=operator.session_generation)

    outcome = await guard.check(lambda: run_in_threadpool(check))
    if outcome.operator_id is not None:
        await run_in_threadpool(guard.succeeded, attempt)
    return outcome


def signed_in_operator(
    request: Request, operators: OperatorService, cookie: str = SESSION_COOKIE
) -> tuple[OperatorSession, Operator] | None:
    """The operator whose valid session cookie (named ``cookie``) came with the request."""
    session = operator_sessions(request).read(request.cookies.get(cookie))
    operator = operators.get(session.operator_id) if session is not None else None
    if session is None or operator is None or session.generation != operator.session_generation:
        return None
    return session, operator


@consent_router.get("/consent")
async def consent_page(request: Request) -> Response:
    """The authorization endpoint: the sign-in form, or the consent form once signed in."""
    state = request.app.state

    def render() -> Response:
        with state.database.session() as db:
            operators = OperatorService(db, state.clock)
            query = request.query_params
            repeated = sorted({name for name in query if len(query.getlist(name)) > 1})
            if repeated:
                return _error_page(f"Parameters sent more than once: {', '.join(repeated)}")
            try:
                asked = _check_request(query, operators)
            except BadRequest as exc:
                return _error_page(str(exc))
            signed_in = signed_in_operator(request, operators)
            if signed_in is None:
                return _sign_in_page(request, asked, email="")
            return _consent_form(request, *signed_in, operators, asked)

    return await run_in_threadpool(render)


@consent_router.post("/consent/sign-in")
async def sign_in(request: Request) -> Response:
    """Check an operator's e-mail and password; on success, a session cookie and back to the
    consent page with the same authorization request. Failures are limited per e-mail address
    and per client address, and few password checks run at once (see ``throttle``)."""
    try:
        form = await _read_form(request)
    except BadRequest as exc:
        return _error_page(str(exc))
    state = request.app.state

    def prepare() -> AuthorizationRequest | Response:
        with state.database.session() as db:
            try:
                asked = _check_request(form, OperatorService(db, state.clock))
            except BadRequest as exc:
                return _error_page(str(exc))
        nonce = request.cookies.get(SIGN_IN_COOKIE)
        if not operator_sessions(request).sign_in_matches(nonce, form.get("csrf_token", "")):
            return _error_page(
                "The sign-in form is stale or was not sent by this page; open the link again.",
                403,
            )
        return asked

    asked = await run_in_threadpool(prepare)
    if isinstance(asked, Response):
        return asked
    email = form.get("email", "")
    outcome = await check_operator_password(request, email, form.get("password", ""))
    if outcome.retry_after is not None:
        # Refused before any password is hashed: a refusal costs the server nothing.
        page = _sign_in_page(request, asked, email=email, error=TOO_MANY_SIGN_INS, status=429)
        page.headers["Retry-After"] = str(outcome.retry_after)
        return page
    if outcome.operator_id is None:
        return _sign_in_page(request, asked, email=email, error=WRONG_PASSWORD, status=401)
    response = RedirectResponse(
        f"/consent?{urlencode(asked.fields())}", status_code=303, headers=_PAGE_HEADERS
    )
    session = operator_sessions(request).issue(outcome.operator_id, outcome.generation)
    set_page_cookie(request, response, SESSION_COOKIE, session, SESSION_LIFETIME, "/consent", "lax")
    return response


@consent_router.post("/consent")
async def decide(request: Request) -> Response:
    """The operator's answer: approval creates the consent and sends its code to the client's
    redirect URI; denial sends ``error=access_denied`` there (RFC 6749 §4.1.2.1)."""
    try:
        form = await _read_form(request)
    except BadRequest as exc:
        return _error_page(str(exc))
    state = request.app.state

    def decide_now() -> Response:
        with state.database.session(write=True) as db:
            operators = OperatorService(db, state.clock)
            try:
                asked = _check_request(form, operators)
            except BadRequest as exc:
                return _error_page(str(exc))
            signed_in = signed_in_operator(request, operators)
            if signed_in is None:
                return _error_page("Your session has ended; open the link again to sign in.", 401)
            session, operator = signed_in
            if not operator_sessions(request).csrf_matches(session, form.get("csrf_token", "")):
                return _error_page("The form is stale or was not sent by this page.", 403)
            decision = form.get("decision")
            if decision == "deny":
                denied = {"error": "access_denied"}
                if asked.state is not None:
                    denied["state"] = asked.state
                return RedirectResponse(
                    redirect_with(asked.redirect_uri, denied), 303, headers=_PAGE_HEADERS
                )
            if decision != "approve":
                return _error_page("Approve or deny the request.")
            chosen = _chosen_advertisers(form)
            if not chosen:
                return _consent_form(
                    request,
                    session,
                    operator,
                    operators,
                    asked,
                    error="Choose at least one advertiser, or deny the request.",
                    status=400,
                )
            service = AuthService(db, state.hasher, state.signer, state.clock)
            try:
                issued = service.grant_consent(
                    asked.client_id, chosen, asked.redirect_uri, operator=operator
                )
            except Problem as problem:
                return _consent_form(
                    request, session, operator, operators, asked, error=problem.detail, status=400
                )
            return RedirectResponse(
                _approved_redirect(issued, asked.state), 303, headers=_PAGE_HEADERS
            )

    return await run_in_threadpool(decide_now)


def _chosen_advertisers(form: Mapping[str, str]) -> list[int]:
    """The ticked advertiser boxes (one field per advertiser, ``advertiser-<id>=on``)."""
    chosen = []
    for name, value in form.items():
        raw = name.removeprefix(ADVERTISER_FIELD)
        if name.startswith(ADVERTISER_FIELD) and value == "on" and raw.isdigit():
            chosen.append(int(raw))
    return chosen


def _approved_redirect(issued: IssuedCode, state: str | None) -> str:
    params = {"code": issued.code}
    if state is not None:
        params["state"] = state
    return redirect_with(issued.redirect_uri, params)
