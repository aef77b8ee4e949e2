"""The console's pages: operator sign-in, one server-rendered page per section, and the token its
scripts call the API with.

Every page is a frame (navigation, the operator's advertisers, labelled forms) rendered here;
its data and every change go through the same API a client calls, with an access token issued
to the signed-in operator (``POST /console/token``). So the console cannot disagree with the
API: it is one more client of it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from reach.auth.console import (
    TOO_MANY_SIGN_INS,
    WRONG_PASSWORD,
    check_operator_password,
    operator_sessions,
    set_page_cookie,
    signed_in_operator,
)
from reach.auth.forms import FORM, FormError, parse_form
from reach.auth.service import AuthService, OperatorService
from reach.auth.sessions import SESSION_LIFETIME, SIGN_IN_LIFETIME, new_sign_in_nonce
from reach.kit.ids import parse_id
from reach.kit.jsonbody import read_body
from reach.models import Operator
from reach.reference.repository import AdvertiserRepository
from reach.versions import API_VERSIONS

PREFIX = "/console"
# Distinct from the consent page's cookies, and sent only to the console's paths.
SESSION_COOKIE = "reach_console"
SIGN_IN_COOKIE = "reach_console_sign_in"
CSRF_HEADER = "X-CSRF-Token"
MAX_FORM_BYTES = 16 * 1024
# The API version the console's scripts call: the pinned SDK's.
CONSOLE_API_VERSION = API_VERSIONS[0]

console_router = APIRouter(prefix=PREFIX, include_in_schema=False)

_templates = Environment(
    loader=PackageLoader("reach.console", "templates"), autoescape=True, auto_reload=False
)


@dataclass(frozen=True, slots=True)
class Page:
    slug: str
    title: str
    # Shown only when the server runs with the sandbox controls.
    sandbox_only: bool = False


# The console's sections, in the order of its navigation. A page is a template
# ``<slug>.html`` and a script ``static/<slug>.js``.
PAGES = (
    Page("segments", "Segments"),
    Page("audiences", "Audiences"),
    Page("contact-lists", "Contact lists"),
    Page("lookalikes", "Lookalikes"),
    Page("ad-sets", "Ad sets"),
    Page("sandbox", "Sandbox", sandbox_only=True),
)
HOME = f"{PREFIX}/{PAGES[0].slug}"


def _headers(request: Request) -> dict[str, str]:
    """Scripts and styles of our own only; the API on the same origin; map tiles from the one
    configured tile server, if any."""
    images = "'self' data:"
    tiles = request.app.state.settings.console_tiles
    if tiles:
        parts = urlsplit(tiles)
        images += f" {parts.scheme}://{parts.netloc}"
    policy = (
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        f"img-src {images}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
    return {
        "Cache-Control": "no-store",
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


def _render(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = _templates.get_template(name).render(prefix=PREFIX, **values)
    return HTMLResponse(html, status_code=status, headers=_headers(request))


def _pages(request: Request) -> list[Page]:
    sandbox = bool(request.app.state.settings.sandbox)
    return [page for page in PAGES if sandbox or not page.sandbox_only]


def _same(given: str, expected: str) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters, which a client may send.
    return hmac.compare_digest(given.encode(), expected.encode())


def _safe_next(raw: str | None) -> str:
    """Where to go after sign-in: a console page of this server, never another site."""
    if raw and raw.startswith(f"{PREFIX}/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return HOME


def _sign_in_page(
    request: Request,
    *,
    email: str = "",
    next_url: str = HOME,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    sent = request.cookies.get(SIGN_IN_COOKIE)
    nonce = sent or new_sign_in_nonce()
    page = _render(
        request,
        "sign_in.html",
        status,
        csrf_token=operator_sessions(request).sign_in_token(nonce),
        email=email,
        next_url=next_url,
        error=error,
    )
    if not sent:
        set_page_cookie(request, page, SIGN_IN_COOKIE, nonce, SIGN_IN_LIFETIME, PREFIX, "strict")
    return page


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The signed-in operator, their page's CSRF token and advertisers, and whether the console
    gives them the sandbox's admin token."""

    csrf_token: str
    operator: Operator
    advertisers: list[tuple[int, str]]
    sandbox_admin: bool


def _operator(request: Request) -> SignedIn | None:
    state = request.app.state
    with state.database.session() as db:
        operators = OperatorService(db, state.clock)
        signed_in = signed_in_operator(request, operators, SESSION_COOKIE)
        if signed_in is None:
            return None
        session, operator = signed_in
        advertisers = [(a.id, a.name) for a in operators.advertisers_of(operator)]
        admin = _sandbox_admin(request, db, operator, {a for a, _ in advertisers})
        db.expunge(operator)
    return SignedIn(operator_sessions(request).csrf_token(session), operator, advertisers, admin)


def _sandbox_admin(request: Request, db: Session, operator: Operator, granted: set[int]) -> bool:
    """On a sandbox, the console gives the admin token only to an operator who may change
    things and is granted every advertiser of the server: the controls act on the whole server
    (a reset of every advertiser, every client's journal)."""
    if not request.app.state.settings.sandbox or operator.read_only:
        return False
    return {advertiser.id for advertiser in AdvertiserRepository(db).list()} <= granted


def _to_sign_in(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(
        f"{PREFIX}/sign-in?{urlencode({'next': target})}", 303, headers=_headers(request)
    )


@console_router.get("")
@console_router.get("/")
async def home(request: Request) -> Response:
    return RedirectResponse(HOME, 303, headers=_headers(request))


@console_router.get("/sign-in")
async def sign_in_form(request: Request) -> Response:
    return _sign_in_page(request, next_url=_safe_next(request.query_params.get("next")))


@console_router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """An operator's e-mail and password (the same accounts and limits as the consent page)."""
    try:
        form = parse_form(await _form_body(request))
    except FormError as exc:
        return _sign_in_page(request, error=str(exc), status=400)
    email = form.get("email", "")
    next_url = _safe_next(form.get("next"))
    nonce = request.cookies.get(SIGN_IN_COOKIE)
    if not operator_sessions(request).sign_in_matches(nonce, form.get("csrf_token", "")):
        return _sign_in_page(
            request,
            email=email,
            next_url=next_url,
            error="The sign-in form was stale or not sent by this page; sign in again.",
            status=403,
        )
    outcome = await check_operator_password(request, email, form.get("password", ""))
    if outcome.retry_after is not None:
        page = _sign_in_page(
            request, email=email, next_url=next_url, error=TOO_MANY_SIGN_INS, status=429
        )
        page.headers["Retry-After"] = str(outcome.retry_after)
        return page
    if outcome.operator_id is None:
        return _sign_in_page(
            request, email=email, next_url=next_url, error=WRONG_PASSWORD, status=401
        )
    response = RedirectResponse(next_url, 303, headers=_headers(request))
    session = operator_sessions(request).issue(outcome.operator_id, outcome.generation)
    set_page_cookie(request, response, SESSION_COOKIE, session, SESSION_LIFETIME, PREFIX, "strict")
    return response


@console_router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    signed_in = await run_in_threadpool(_operator, request)
    response = RedirectResponse(f"{PREFIX}/sign-in", 303, headers=_headers(request))
    if signed_in is None:
        return response
    try:
        form = parse_form(await _form_body(request))
    except FormError:
        form = {}
    if not _same(form.get("csrf_token", ""), signed_in.csrf_token):
        return _render(
            request,
            "error.html",
            403,
            message="The form was stale or not sent by this page; reload the page and try again.",
        )
    await run_in_threadpool(_end_sessions, request, signed_in.operator.id)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


def _end_sessions(request: Request, operator_id: int) -> None:
    """Sign-out ends every session of the operator, a copy of the cookie included."""
    state = request.app.state
    with state.database.session(write=True) as db:
        OperatorService(db, state.clock).end_sessions(operator_id)


@console_router.post("/token")
async def console_token(request: Request) -> Response:
    """An access token for the signed-in operator (and, in a sandbox, an admin token for the
    sandbox controls unless the operator is read-only). Asked by the console's scripts with the
    page's CSRF token in a header, so no other site can have one issued."""
    state = request.app.state

    def issue() -> Response:
        signed_in = _operator(request)
        if signed_in is None:
            return JSONResponse({"error": "Your console session has ended; sign in again."}, 401)
        operator = signed_in.operator
        if not _same(request.headers.get(CSRF_HEADER, ""), signed_in.csrf_token):
            return JSONResponse(
                {"error": "The page is stale or did not send this request; reload it."}, 403
            )
        with state.database.session() as db:
            issued = AuthService(db, state.hasher, state.signer, state.clock).console_token(
                operator
            )
        admin = None
        if signed_in.sandbox_admin:
            admin = state.admin_tokens.issue(max(issued.expires_in / 3600, 0.25))
        body = {
            "accessToken": issued.access_token,
            "expiresIn": issued.expires_in,
            "readOnly": operator.read_only,
            "adminToken": admin,
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    return await run_in_threadpool(issue)


def _page_handler(page: Page) -> Any:
    async def show(request: Request) -> Response:
        if page.sandbox_only and not request.app.state.settings.sandbox:
            return _render(
                request,
                "error.html",
                404,
                message="The sandbox controls are off on this server (REACH_SANDBOX=1 turns them"
                " on).",
            )
        signed_in = await run_in_threadpool(_operator, request)
        if signed_in is None:
            return _to_sign_in(request)
        ids = [advertiser_id for advertiser_id, _ in signed_in.advertisers]
        asked = parse_id(request.query_params.get("advertiser"))
        selected = asked if asked in ids else None
        if selected is None and ids:
            selected = ids[0]
        return _render(
            request,
            f"{page.slug}.html",
            page=page,
            pages=_pages(request),
            operator=signed_in.operator,
            advertisers=signed_in.advertisers,
            advertiser_id=selected,
            csrf_token=signed_in.csrf_token,
            sandbox_admin=signed_in.sandbox_admin,
            api_version=CONSOLE_API_VERSION,
            tiles=request.app.state.settings.console_tiles or "",
        )

    show.__name__ = f"console_{page.slug.replace('-', '_')}"
    return show


for _page in PAGES:
    console_router.add_api_route(f"/{_page.slug}", _page_handler(_page), methods=["GET"])


async def _form_body(request: Request) -> bytes:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != FORM:
        raise FormError(f"Send the form as {FORM}")
    return await read_body(request, MAX_FORM_BYTES)
