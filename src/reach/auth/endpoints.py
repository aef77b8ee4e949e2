"""HTTP handlers: the OAuth2 token endpoint (client credentials, authorization code, refresh
token) and the two "who am I" operations."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from reach.auth.auth import AnyClient
from reach.auth.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidTokenRequest,
    UnsupportedGrantType,
)
from reach.auth.forms import FORM, FormError, parse_form
from reach.auth.schemas import (
    ApplicationSummaryModel,
    ApplicationSummaryModelResource,
    ApplicationSummaryModelResponse,
    EntityOfPortfolioMessage,
    GetPortfolioResponse,
    PortfolioMessage,
)
from reach.auth.service import AuthService, GrantOutcome, IssuedToken
from reach.auth.throttle import FailureLimit, client_address, counts_as_failure, failure_limits
from reach.deps import ReadSession
from reach.kit.jsonbody import read_body
from reach.kit.problems import Problem
from reach.kit.wire import JsonResponse
from reach.reference.repository import AdvertiserRepository
from reach.versions import API_VERSIONS, version_of

# The token endpoint is not versioned; the "who am I" operations are, like every API path.
token_router = APIRouter()
router = APIRouter()

MAX_TOKEN_REQUEST_BYTES = 16 * 1024
GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token")


def _form(raw: bytes) -> dict[str, str]:
    try:
        return parse_form(raw)
    except FormError as exc:
        raise InvalidTokenRequest(str(exc)) from None


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise InvalidTokenRequest(f"{name} is required with grant_type {form['grant_type']}")
    return value


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    """Client credentials from HTTP Basic authentication (RFC 6749 §2.3.1), when sent."""
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("The Basic authorization header is not valid base64") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidClient("The Basic authorization header must hold 'client_id:client_secret'")
    return unquote(client_id), unquote(secret)


@token_router.post("/oauth2/token", operation_id="GetToken", include_in_schema=False)
async def get_token(request: Request) -> JsonResponse:
    # Failed requests are counted per client address and per client id; an address or an id
    # that has failed too often this minute is refused before its request is even read. The
    # counts may live in Redis or a shared file: asked in a worker thread, never in the event
    # loop, so a store that makes them wait holds this request only.
    limits = failure_limits(request.app.state)
    address = client_address(request)
    await run_in_threadpool(limits.token_address.check, address)
    try:
        issued = await _grant(request, limits.token_client)
    except Problem as problem:
        if counts_as_failure(problem):
            await run_in_threadpool(limits.token_address.failed, address)
        raise
    return JsonResponse(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            # The official SDK reads this key unconditionally: null for client credentials.
            "refresh_token": issued.refresh_token,
        },
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


async def _grant(request: Request, per_client: FailureLimit) -> IssuedToken:
    """The tokens a token request asks for, or the problem it has."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != FORM:
        raise InvalidTokenRequest(f"Send the token request as {FORM}")
    form = _form(await read_body(request, MAX_TOKEN_REQUEST_BYTES))
    grant_type = form.get("grant_type")
    if not grant_type:
        raise InvalidTokenRequest("grant_type is required")
    if grant_type not in GRANT_TYPES:
        raise UnsupportedGrantType(
            f"grant_type '{grant_type}' is not supported; use one of {', '.join(GRANT_TYPES)}"
        )
    basic = _basic_credentials(request.headers.get("authorization"))
    client_id, client_secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
    if not client_id or not client_secret:
        raise InvalidClient("client_id and client_secret are required")
    # Members a grant does not use are ignored: the official SDK sends the code and redirect_uri
    # again with every refresh_token grant.
    if grant_type == "authorization_code":
        code, redirect_uri = _required(form, "code"), _required(form, "redirect_uri")
    elif grant_type == "refresh_token":
        refresh_token = _required(form, "refresh_token")

    await run_in_threadpool(per_client.check, client_id)
    state = request.app.state

    def issue() -> GrantOutcome:
        with state.database.session(write=grant_type != "client_credentials") as session:
            service = AuthService(session, state.hasher, state.signer, state.clock)
            if grant_type == "authorization_code":
                return service.redeem_code(client_id, client_secret, code, redirect_uri)
            if grant_type == "refresh_token":
                return service.refresh(client_id, client_secret, refresh_token)
            return service.issue_token(client_id, client_secret)

    try:
        issued = await run_in_threadpool(issue)
        # A refused grant is raised only now, once what it revoked is committed.
        if isinstance(issued, InvalidGrant):
            raise issued
    except Problem as problem:
        if counts_as_failure(problem):
            await run_in_threadpool(per_client.failed, client_id)
        raise
    return issued


@router.get("/advertisers/me", operation_id="ListAdvertisers")
def list_advertisers(client: AnyClient, session: ReadSession) -> JsonResponse:
    advertisers = AdvertiserRepository(session).by_ids(client.advertiser_ids)
    return JsonResponse(
        GetPortfolioResponse(
            data=[
                EntityOfPortfolioMessage(
                    id=str(a.id), attributes=PortfolioMessage(advertiser_name=a.name)
                )
                for a in advertisers
            ]
        )
    )


@router.get("/marketing-solutions/me", operation_id="GetCurrentApplication")
def get_current_application(request: Request, client: AnyClient) -> JsonResponse:
    # The description tells an integrator which versions this server answers.
    served = ", ".join(API_VERSIONS)
    description = f"Reach, called as API {version_of(request.url.path)}; versions served: {served}"
    return JsonResponse(
        ApplicationSummaryModelResponse(
            data=ApplicationSummaryModelResource(
                attributes=ApplicationSummaryModel(
                    application_id=client.application_id, name=client.name, description=description
                )
            )
        )
    )
