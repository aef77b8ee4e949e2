"""Client registry, consents and token logic: create, list, revoke and rotate clients; grant
and revoke consents; issue tokens for the three grants; operators of the consent page."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from urllib.parse import urlencode, urlsplit, urlunsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from reach.auth.errors import (
    ClientNotFound,
    ConsentNotFound,
    InvalidClient,
    InvalidGrant,
    OperatorNotFound,
)
from reach.auth.repository import (
    ClientRepository,
    ConsentRepository,
    GrantRepository,
    OperatorRepository,
)
from reach.auth.scopes import scopes_for
from reach.auth.tokens import (
    OPERATOR_SUBJECT,
    SecretHasher,
    TokenSigner,
    new_client_id,
    new_client_secret,
    new_grant,
)
from reach.kit.clock import Clock
from reach.kit.findings import control_character, is_visible
from reach.kit.problems import Invalid, TokenInvalid
from reach.models import (
    Advertiser,
    ApiClient,
    AuthorizationCode,
    ClientAdvertiser,
    Consent,
    ConsentAdvertiser,
    Operator,
    OperatorAdvertiser,
    RefreshToken,
)
from reach.reference.repository import AdvertiserRepository

CLIENT_NAME_MAX_LENGTH = 255
CHOSEN_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")
CHOSEN_SECRET_MIN_LENGTH = 16
CHOSEN_SECRET_MAX_LENGTH = 256
# RFC 6749 §4.1.2: "A maximum authorization code lifetime of 10 minutes is RECOMMENDED."
CODE_LIFETIME = timedelta(minutes=10)
REDIRECT_URI_MAX_LENGTH = 2048
PASSWORD_MIN_LENGTH = 12
# RFC 3696 (with its erratum): an address has at most 254 characters; a bit more is kept.
EMAIL_MAX_LENGTH = 320
# argon2 hashes whatever it is given; a bound keeps one sign-in from costing much more.
PASSWORD_MAX_LENGTH = 1024

# Why a consent ended, as `reach consent list` shows it.
REVOKED = "revoked"
CLIENT_REVOKED = "client-revoked"
CODE_REUSED = "code-reused"
REFRESH_REUSED = "refresh-token-reused"


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


# The authority of a redirect URI: a host name of ASCII letters, digits, dots and dashes (an
# international name in its xn-- form) or a bracketed IPv6 address, and an optional port. No
# userinfo, backslash or percent sign: browsers read those differently from Python, so the host
# the consent page shows could differ from the one the browser goes to.
_REDIRECT_AUTHORITY = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


def check_redirect_uri(uri: str) -> None:
    """A redirect URI: an absolute http(s) URL without a fragment (RFC 6749 §3.1.2), whose host
    Python and browsers read the same way."""
    if len(uri) > REDIRECT_URI_MAX_LENGTH:
        raise Invalid(f"A redirect URI has at most {REDIRECT_URI_MAX_LENGTH} characters")
    if any(c <= " " or c.isspace() or control_character(c) for c in uri):
        raise Invalid("A redirect URI contains no spaces or control characters")
    if "\\" in uri:
        raise Invalid("A redirect URI contains no backslash")
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        raise Invalid(f"'{uri}' is not a URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Invalid("A redirect URI is an absolute http or https URL")
    if "@" in parts.netloc:
        raise Invalid("A redirect URI has no user name or password (user@host)")
    if not _REDIRECT_AUTHORITY.match(parts.netloc) or port == 0:
        raise Invalid(
            "A redirect URI's host is a name of letters, digits, '.' and '-' (xn-- for an"
            " international name) or an [IPv6] address, with an optional port"
        )
    if parts.fragment or uri.endswith("#"):
        raise Invalid("A redirect URI has no fragment (#...)")


def redirect_host(uri: str) -> str:
    """The host (and port, if any) a checked redirect URI sends the browser to, as the consent
    page shows it."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    shown = f"[{host}]" if ":" in host else host
    return shown if parts.port is None else f"{shown}:{parts.port}"


def redirect_with(uri: str, params: dict[str, str]) -> str:
    """``uri`` with ``params`` added to its query, keeping the query it has (RFC 6749 §3.1.2)."""
    parts = urlsplit(uri)
    added = urlencode(params)
    return urlunsplit(parts._replace(query=f"{parts.query}&{added}" if parts.query else added))


def normalized_email(email: str) -> str:
    """The one form an operator's address is stored and looked up in."""
    try:
        checked = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise Invalid(f"'{email}' is not a valid e-mail address: {exc}") from None
    return checked.normalized.lower()


def email_key(email: str) -> str:
    """The key failed sign-ins are counted under: the address as it is stored, so that
    spellings of one address share one count; any other text as given (it names nobody)."""
    try:
        return normalized_email(email)
    except Invalid:
        return email.strip().lower()[:EMAIL_MAX_LENGTH]


@cache
def _passwords() -> PasswordHasher:
    """argon2id with the library's defaults (RFC 9106's second recommended option)."""
    return PasswordHasher()


@cache
def _unknown_operator_hash() -> str:
    # Checked against for an unknown address, so timing does not tell which addresses exist.
    return _passwords().hash(new_grant())


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
    # Only the authorization-code and refresh-token grants give one.
    refresh_token: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """An authorization code as handed to the client's redirect URI; shown once, never stored."""

    consent_id: int
    code: str
    redirect_uri: str


# A grant either issues tokens or is refused; a refusal is returned, not raised, so that what it
# revoked (a reused code's or refresh token's consent) is committed with the request.
GrantOutcome = IssuedToken | InvalidGrant


class AuthService:
    def __init__(
        self, session: Session, hasher: SecretHasher, signer: TokenSigner, clock: Clock
    ) -> None:
        self.clients = ClientRepository(session)
        self.consents = ConsentRepository(session)
        self.grants = GrantRepository(session)
        self.operators = OperatorRepository(session)
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
        """Revoke a client and every consent it holds: its secret, its refresh tokens and its
        access tokens stop working."""
        client = self._existing(client_id)
        if client.revoked_at is None:
            client.revoked_at = self.clock.now()
        self.consents.revoke_of_client(client.id, client.revoked_at, CLIENT_REVOKED)
        return client

    def rotate_secret(self, client_id: str, new_secret: str | None = None) -> IssuedCredentials:
        """Give an active client a new secret (``new_secret``, or a generated one); the old one
        and every access token issued while it was the secret stop working at once. The
        client's consents and refresh tokens stay: using them takes the new secret. Rotating to
        the secret the client has already (a chosen one, again) changes nothing."""
        client = self._existing(client_id)
        if client.revoked_at is not None:
            raise Invalid(f"Client {client_id} is revoked")
        if new_secret is not None:
            check_chosen_secret(new_secret)
        secret = new_secret or new_client_secret()
        if not self.hasher.matches(secret, client.secret_hash):
            self.clients.replace_secret(client, self.hasher.hash(secret))
        return IssuedCredentials(
            client.client_id,
            secret,
            [str(a) for a in sorted(self.clients.advertiser_ids(client.id))],
        )

    def authenticate_client(self, client_id: str, client_secret: str) -> ApiClient:
        """The active client these credentials name, or InvalidClient."""
        client = self.clients.by_client_id(client_id)
        # Hash even for an unknown client so timing does not tell which ids exist.
        stored = client.secret_hash if client is not None else "0" * 64
        valid = self.hasher.matches(client_secret, stored)
        if client is None or not valid or client.revoked_at is not None:
            raise InvalidClient("Unknown client, wrong secret, or revoked client")
        return client

    def issue_token(self, client_id: str, client_secret: str) -> IssuedToken:
        """The client-credentials grant: a token for the client's own advertisers."""
        client = self.authenticate_client(client_id, client_secret)
        token = self.signer.issue(
            client.client_id,
            scopes_for(read_only=client.read_only),
            secret_generation=client.secret_generation,
        )
        return IssuedToken(token, self.signer.lifetime_seconds)

    # --- consents and the authorization-code and refresh-token grants -------------------

    def grant_consent(
        self,
        client_id: str,
        advertiser_ids: Sequence[int],
        redirect_uri: str,
        *,
        operator: Operator | None = None,
    ) -> IssuedCode:
        """Record that ``client_id`` may act for ``advertiser_ids`` (approved by ``operator``,
        or at the command line) and issue the one authorization code of that consent."""
        client = self.clients.by_client_id(client_id)
        if client is None:
            raise ClientNotFound(f"No client with id {client_id}")
        if client.revoked_at is not None:
            raise Invalid(f"Client {client_id} is revoked")
        wanted = sorted(set(advertiser_ids))
        if not wanted:
            raise Invalid("A consent needs at least one advertiser")
        missing = set(wanted) - self.advertisers.existing_ids(wanted)
        if missing:
            raise Invalid(f"Unknown advertiser(s): {', '.join(map(str, sorted(missing)))}")
        if operator is not None:
            refused = set(wanted) - self.operators.advertiser_ids(operator.id)
            if refused:
                listed = ", ".join(map(str, sorted(refused)))
                raise Invalid(f"{operator.email} may not approve advertiser(s) {listed}")
        check_redirect_uri(redirect_uri)
        now = self.clock.now()
        consent = Consent(
            client_pk=client.id,
            redirect_uri=redirect_uri,
            operator_id=operator.id if operator is not None else None,
            created_at=now,
            advertisers=[ConsentAdvertiser(advertiser_id=a) for a in wanted],
        )
        self.consents.add(consent)
        code = new_grant()
        self.grants.add_code(
            AuthorizationCode(
                code_hash=self.hasher.hash_grant(code),
                consent_id=consent.id,
                redirect_uri=redirect_uri,
                created_at=now,
                expires_at=now + CODE_LIFETIME,
            )
        )
        return IssuedCode(consent.id, code, redirect_uri)

    def list_consents(self) -> Sequence[Consent]:
        return self.consents.list()

    def revoke_consent(self, consent_id: int) -> Consent:
        """End a consent: its refresh tokens and the access tokens issued under it stop
        working."""
        consent = self.consents.get(consent_id)
        if consent is None:
            raise ConsentNotFound(f"No consent with id {consent_id}")
        self.consents.revoke(consent.id, self.clock.now(), REVOKED)
        return consent

    def redeem_code(
        self, client_id: str, client_secret: str, code: str, redirect_uri: str
    ) -> GrantOutcome:
        """The authorization-code grant (RFC 6749 §4.1.3): an access and a refresh token for a
        code issued to this client for this exact redirect URI, at most once."""
        client = self.authenticate_client(client_id, client_secret)
        found = self.grants.code(self.hasher.hash_grant(code))
        if found is None:
            return InvalidGrant("The authorization code is unknown")
        consent = self.consents.get(found.consent_id)
        if consent is None or consent.client_pk != client.id:
            return InvalidGrant("The authorization code was issued to another client")
        now = self.clock.now()
        if found.used_at is None:
            if now >= found.expires_at:
                return InvalidGrant("The authorization code has expired; ask for a new one")
            if redirect_uri != found.redirect_uri:
                return InvalidGrant(
                    "redirect_uri is not the one the authorization code was sent to"
                )
            if consent.revoked_at is not None:
                return InvalidGrant("The consent of this authorization code is revoked")
        # Checked, then claimed: of two requests racing with one code, only one claims it.
        if found.used_at is not None or not self.grants.use_code(found.id, now):
            # RFC 6749 §4.1.2: a code used twice may have been stolen; what it gave is revoked.
            self.consents.revoke(consent.id, now, CODE_REUSED)
            return InvalidGrant(
                "The authorization code was used already; the tokens issued from it are revoked"
            )
        return self._issue_under(client, consent)

    def refresh(self, client_id: str, client_secret: str, refresh_token: str) -> GrantOutcome:
        """The refresh-token grant (RFC 6749 §6) with rotation: a new access token and a new
        refresh token; the one presented stops working. A refresh token presented again after
        its rotation revokes its whole consent (the family of tokens it belongs to)."""
        client = self.authenticate_client(client_id, client_secret)
        found = self.grants.refresh_token(self.hasher.hash_grant(refresh_token))
        if found is None:
            return InvalidGrant("The refresh token is unknown")
        consent = self.consents.get(found.consent_id)
        if consent is None or consent.client_pk != client.id:
            return InvalidGrant("The refresh token was issued to another client")
        if consent.revoked_at is not None:
            return InvalidGrant("The consent of this refresh token is revoked")
        now = self.clock.now()
        if found.used_at is not None or not self.grants.use_refresh_token(found.id, now):
            self.consents.revoke(consent.id, now, REFRESH_REUSED)
            return InvalidGrant(
                "The refresh token was used already; every token of its consent is revoked"
            )
        return self._issue_under(client, consent)

    def _issue_under(self, client: ApiClient, consent: Consent) -> IssuedToken:
        refresh_token = new_grant()
        self.grants.add_refresh_token(
            RefreshToken(
                token_hash=self.hasher.hash_grant(refresh_token),
                consent_id=consent.id,
                created_at=self.clock.now(),
            )
        )
        access_token = self.signer.issue(
            client.client_id,
            scopes_for(read_only=client.read_only),
            consent_id=consent.id,
            secret_generation=client.secret_generation,
        )
        return IssuedToken(access_token, self.signer.lifetime_seconds, refresh_token)

    def principal(self, token: str) -> Principal:
        """Who is calling: the token must verify, its client must still be active and hold the
        secret the token was issued under, and a token issued under a consent reaches that
        consent's advertisers while the consent lasts."""
        claims = self.signer.verify(token)
        if claims.operator_id is not None:
            return self._operator_principal(claims.operator_id, claims.scopes)
        client = self.clients.by_client_id(claims.client_id)
        if client is None or client.revoked_at is not None:
            raise TokenInvalid("The access token belongs to a revoked client")
        if claims.secret_generation != client.secret_generation:
            raise TokenInvalid(
                "The access token was issued before the client's secret was rotated; request"
                " a new one with the new secret"
            )
        if claims.consent_id is None:
            advertiser_ids = self.clients.advertiser_ids(client.id)
        else:
            consent = self.consents.get(claims.consent_id)
            if consent is None or consent.client_pk != client.id or consent.revoked_at is not None:
                raise TokenInvalid("The consent this access token was issued under is revoked")
            advertiser_ids = self.consents.advertiser_ids(consent.id)
        return Principal(
            application_id=client.id,
            client_id=client.client_id,
            name=client.name,
            scopes=claims.scopes & frozenset(scopes_for(read_only=client.read_only)),
            advertiser_ids=advertiser_ids,
        )

    def console_token(self, operator: Operator) -> IssuedToken:
        """An access token that acts for an operator in the console: it reaches the advertisers
        granted to them, and only reads when the operator is read-only. The console calls the
        API with it, so it goes through every rule a client's call goes through."""
        token = self.signer.issue(
            f"{OPERATOR_SUBJECT}{operator.id}",
            scopes_for(read_only=operator.read_only),
            operator_id=operator.id,
        )
        return IssuedToken(token, self.signer.lifetime_seconds)

    def _operator_principal(self, operator_id: int, scopes: frozenset[str]) -> Principal:
        # Checked on every call: an operator removed or made read-only loses it at once.
        operator = self.operators.get(operator_id)
        if operator is None:
            raise TokenInvalid("The access token belongs to an operator who no longer exists")
        return Principal(
            application_id=0,
            client_id=f"{OPERATOR_SUBJECT}{operator.id}",
            name=f"Reach console ({operator.email})",
            scopes=scopes & frozenset(scopes_for(read_only=operator.read_only)),
            advertiser_ids=self.operators.advertiser_ids(operator.id),
        )

    def _existing(self, client_id: str) -> ApiClient:
        client = self.clients.by_client_id(client_id)
        if client is None:
            raise ClientNotFound(f"No client with id {client_id}")
        return client


def check_password_rules(password: str) -> None:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise Invalid(f"A password has at least {PASSWORD_MIN_LENGTH} characters")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise Invalid(f"A password has at most {PASSWORD_MAX_LENGTH} characters")


class OperatorService:
    """Operators: the people who sign in to the consent page and approve consents for the
    advertisers granted to them."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self.operators = OperatorRepository(session)
        self.advertisers = AdvertiserRepository(session)
        self.clients = ClientRepository(session)
        self.clock = clock

    def add(self, email: str, password: str, *, read_only: bool = False) -> Operator:
        address = normalized_email(email)
        check_password_rules(password)
        if self.operators.by_email(address) is not None:
            raise Invalid(f"An operator {address} exists already")
        operator = Operator(
            email=address,
            password_hash=_passwords().hash(password),
            created_at=self.clock.now(),
            read_only=read_only,
        )
        self.operators.add(operator)
        return operator

    def list(self) -> Sequence[Operator]:
        return self.operators.list()

    def set_password(self, email: str, password: str) -> Operator:
        """Give an operator a new password; every session of theirs ends."""
        operator = self.operators.by_email(normalized_email(email))
        if operator is None:
            raise OperatorNotFound(f"No operator {email}")
        check_password_rules(password)
        operator.password_hash = _passwords().hash(password)
        operator.session_generation += 1
        return operator

    def end_sessions(self, operator_id: int) -> None:
        """End every session of an operator, in every browser, at once."""
        operator = self.operators.get(operator_id)
        if operator is not None:
            operator.session_generation += 1

    def grant(self, email: str, advertiser_ids: Sequence[int]) -> Operator:
        """Let an operator approve consents for more advertisers."""
        operator = self.operators.by_email(normalized_email(email))
        if operator is None:
            raise OperatorNotFound(f"No operator {email}")
        wanted = set(advertiser_ids)
        if not wanted:
            raise Invalid("Name at least one advertiser")
        missing = wanted - self.advertisers.existing_ids(wanted)
        if missing:
            raise Invalid(f"Unknown advertiser(s): {', '.join(map(str, sorted(missing)))}")
        held = self.operators.advertiser_ids(operator.id)
        operator.grants.extend(OperatorAdvertiser(advertiser_id=a) for a in sorted(wanted - held))
        return operator

    def sign_in(self, email: str, password: str) -> Operator | None:
        """The operator these credentials name, or None."""
        try:
            address = normalized_email(email)
        except Invalid:
            address = None
        operator = self.operators.by_email(address) if address is not None else None
        stored = operator.password_hash if operator is not None else _unknown_operator_hash()
        try:
            _passwords().verify(stored, password[:PASSWORD_MAX_LENGTH])
        except (VerificationError, InvalidHashError):
            return None
        return operator

    def get(self, operator_id: int) -> Operator | None:
        return self.operators.get(operator_id)

    def advertisers_of(self, operator: Operator) -> Sequence[Advertiser]:
        return self.advertisers.by_ids(self.operators.advertiser_ids(operator.id))

    def client(self, client_id: str) -> ApiClient | None:
        """An active client, for the consent page to name."""
        client = self.clients.by_client_id(client_id)
        return client if client is not None and client.revoked_at is None else None
