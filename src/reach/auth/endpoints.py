"""HTTP handlers: the OAuth2 token endpoint and the two "who am I" operations."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs, unquote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from reach.auth.auth import AnyClient
from reach.auth.errors import InvalidClient, InvalidTokenRequest, UnsupportedGrantType
from reach.auth.schemas import (
    ApplicationSummaryModel,
    ApplicationSummaryModelResource,
    ApplicationSummaryModelResponse,
    EntityOfPortfolioMessage,
    GetPortfolioResponse,
    PortfolioMessage,
)
from reach.auth.service import AuthService, IssuedToken
from reach.deps import ReadSession
from reach.kit.jsonbody import read_body
from reach.kit.wire import JsonResponse
from reach.reference.repository import AdvertiserRepository
from reach.versions import API_VERSIONS, version_of

# The token endpoint is not versioned; the "who am I" operations are, like every API path.
token_router = APIRouter()
router = APIRouter()

MAX_TOKEN_REQUEST_BYTES = 16 * 1024
FORM = "application/x-www-form-urlencoded"


def _form(raw: bytes) -> dict[str, str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidTokenRequest("The form body is not UTF-8") from None
    fields = parse_qs(text, keep_blank_values=True)
    repeated = sorted(name for name, values in fields.items() if len(values) > 1)
    if repeated:
        raise InvalidTokenRequest(f"Parameters sent more than once: {', '.join(repeated)}")
    return {name: values[0] for name, values in fields.items()}


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
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != FORM:
        raise InvalidTokenRequest(f"Send the token request as {FORM}")
    form = _form(await read_body(request, MAX_TOKEN_REQUEST_BYTES))
    grant_type = form.get("grant_type")
    if not grant_type:
        raise InvalidTokenRequest("grant_type is required")
    if grant_type != "client_credentials":
        raise UnsupportedGrantType(f"grant_type '{grant_type}' is not supported")
    basic = _basic_credentials(request.headers.get("authorization"))
    client_id, client_secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
    if not client_id or not client_secret:
        raise InvalidClient("client_id and client_secret are required")

    state = request.app.state

    def issue() -> IssuedToken:
        with state.database.session() as session:
            service = AuthService(session, state.hasher, state.signer, state.clock)
            return service.issue_token(client_id, client_secret)

    issued = await run_in_threadpool(issue)
    return JsonResponse(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            # The official SDK reads this key unconditionally.
            "refresh_token": None,
        },
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


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
