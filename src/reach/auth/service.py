"""Client registry and token logic: create, list, revoke and rotate clients; issue tokens."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from reach.auth.errors import ClientNotFound, InvalidClient
from reach.auth.repository import ClientRepository
from reach.auth.scopes import scopes_for
from reach.auth.tokens import SecretHasher, TokenSigner, new_client_id, new_client_secret
from reach.kit.clock import Clock
from reach.kit.findings import control_character, is_visible
from reach.kit.problems import Invalid, TokenInvalid
from reach.models import ApiClient, ClientAdvertiser
from reach.reference.repository import AdvertiserRepository

CLIENT_NAME_MAX_LENGTH = 255
CHOSEN_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")
CHOSEN_SECRET_MIN_LENGTH = 16
CHOSEN_SECRET_MAX_LENGTH = 256


def check_chosen_client_id(client_id: str) -> None:
    """A chosen client id: 3 to 64 letters, digits, dots, dashes or underscores."""
    if not CHOSEN_CLIENT_ID.match(client_id):
        raise Invalid(
            "A chosen client id has 3 to 64 characters: letters, digits, '.', '-' or '_',"
            " starting with a letter or digit"
        )


def check_chosen_secret(secret: str) -> None:
    """A chosen secret: printable ASCII without spaces, long enough not to be guessed."""
    if not CHOSEN_SECRET_MIN_LENGTH <= len(secret) <= CHOSEN_SECRET_MAX_LENGTH:
        raise Invalid(
            f"A chosen client secret has {CHOSEN_SECRET_MIN_LENGTH} to"
            f" {CHOSEN_SECRET_MAX_LENGTH} characters"
        )
    if not all("!" <= c <= "~" for c in secret):
        raise Invalid("A chosen client secret is printable ASCII without spaces")


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request."""

    application_id: int
    client_id: str
    name: str
    scopes: frozenset[str]
    advertiser_ids: frozenset[int]

    def can_reach(self, advertiser_id: int | None) -> bool:
        return advertiser_id is not None and advertiser_id in self.advertiser_ids


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    """A client's credentials as shown once, at creation or rotation; never stored."""

    client_id: str
    client_secret: str
    advertisers: list[str]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int


class AuthService:
    def __init__(
        self, session: Session, hasher: SecretHasher, signer: TokenSigner, clock: Clock
    ) -> None:
        self.clients = ClientRepository(session)
        self.advertisers = AdvertiserRepository(session)
        self.hasher = hasher
        self.signer = signer
        self.clock = clock

    def create_client(
        self,
        name: str,
        advertiser_ids: Sequence[int],
        *,
        read_only: bool,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> IssuedCredentials:
        """A new client; ``client_id`` and ``client_secret`` may be chosen (fixed, known
        credentials a test suite can hard-code), else they are generated."""
        if not is_visible(name) or len(name.strip()) > CLIENT_NAME_MAX_LENGTH:
            raise Invalid(f"A client needs a name of 1 to {CLIENT_NAME_MAX_LENGTH} characters")
        control = control_character(name)
        if control is not None:
            raise Invalid(f"A client's name contains the control character {control}")
        wanted = sorted(set(advertiser_ids))
        if not wanted:
            raise Invalid("A client needs at least one advertiser")
        missing = set(wanted) - self.advertisers.existing_ids(wanted)
        if missing:
            raise Invalid(f"Unknown advertiser(s): {', '.join(map(str, sorted(missing)))}")
        if client_id is not None:
            check_chosen_client_id(client_id)
            if self.clients.by_client_id(client_id) is not None:
                raise Invalid(f"A client with id {client_id} exists already")
        if client_secret is not None:
            check_chosen_secret(client_secret)
        secret = client_secret or new_client_secret()
        client = ApiClient(
            client_id=client_id or new_client_id(),
            name=name.strip(),
            secret_hash=self.hasher.hash(secret),
            read_only=read_only,
            created_at=self.clock.now(),
            grants=[ClientAdvertiser(advertiser_id=a) for a in wanted],
        )
        self.clients.add(client)
        return IssuedCredentials(client.client_id, secret, [str(a) for a in wanted])

    def list_clients(self) -> Sequence[ApiClient]:
        return self.clients.list()

    def revoke(self, client_id: str) -> ApiClient:
        client = self._existing(client_id)
        if client.revoked_at is None:
            client.revoked_at = self.clock.now()
        return client

    def rotate_secret(self, client_id: str, new_secret: str | None = None) -> IssuedCredentials:
        """Give an active client a new secret (``new_secret``, or a generated one); the old one
        stops working at once."""
        client = self._existing(client_id)
        if client.revoked_at is not None:
            raise Invalid(f"Client {client_id} is revoked")
        if new_secret is not None:
            check_chosen_secret(new_secret)
        secret = new_secret or new_client_secret()
        client.secret_hash = self.hasher.hash(secret)
        return IssuedCredentials(
            client.client_id,
            secret,
            [str(a) for a in sorted(self.clients.advertiser_ids(client.id))],
        )

    def issue_token(self, client_id: str, client_secret: str) -> IssuedToken:
        client = self.clients.by_client_id(client_id)
        # Hash even for an unknown client so timing does not tell which ids exist.
        stored = client.secret_hash if client is not None else "0" * 64
        valid = self.hasher.matches(client_secret, stored)
        if client is None or not valid or client.revoked_at is not None:
            raise InvalidClient("Unknown client, wrong secret, or revoked client")
        token = self.signer.issue(client.client_id, scopes_for(read_only=client.read_only))
        return IssuedToken(token, self.signer.lifetime_seconds)

    def principal(self, token: str) -> Principal:
        """Who is calling: the token must verify and its client must still be active."""
        claims = self.signer.verify(token)
        client = self.clients.by_client_id(claims.client_id)
        if client is None or client.revoked_at is not None:
            raise TokenInvalid("The access token belongs to a revoked client")
        return Principal(
            application_id=client.id,
            client_id=client.client_id,
            name=client.name,
            scopes=claims.scopes & frozenset(scopes_for(read_only=client.read_only)),
            advertiser_ids=self.clients.advertiser_ids(client.id),
        )

    def _existing(self, client_id: str) -> ApiClient:
        client = self.clients.by_client_id(client_id)
        if client is None:
            raise ClientNotFound(f"No client with id {client_id}")
        return client
