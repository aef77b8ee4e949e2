"""Settings: the one place Reach reads its configuration from (environment prefix ``REACH_``)."""

from __future__ import annotations

import importlib.util
import os
import secrets
import tempfile
from pathlib import Path
from typing import Literal

import phonenumbers
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from reach.engine.store import private_dir

MIN_SECRET_KEY_BYTES = 32
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class Settings(BaseSettings):
    """Every tunable of a Reach server; build one and hand it to ``create_app``."""

    model_config = SettingsConfigDict(env_prefix="REACH_", extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path(".reach"), description="Where the embedded store lives.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata store; default: SQLite in data_dir.",
    )
    database_lock_timeout_seconds: float = Field(
        default=3,
        gt=0,
        le=600,
        description=(
            "How long a call waits for a lock another transaction holds on the store (SQLite's"
            " write lock, a PostgreSQL row or table lock) before it answers 503."
        ),
    )
    database_statement_timeout_seconds: float = Field(
        default=10,
        ge=0,
        le=3600,
        description="PostgreSQL: the longest one statement may run before its call answers 503"
        " (0: no limit).",
    )
    database_pool_size: int = Field(
        default=10,
        ge=1,
        le=200,
        description=(
            "PostgreSQL connections one server process keeps open; a burst may open twice as"
            " many more."
        ),
    )
    database_connect_timeout_seconds: float = Field(
        default=3,
        gt=0,
        le=600,
        description=(
            "How long a call waits for a connection to the store (a free one from the pool, or"
            " a new one to PostgreSQL) before it answers 503."
        ),
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key that signs access tokens and keys the client-secret hashes. When unset, Reach"
            " generates one in data_dir/secret.key on first use."
        ),
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "Server processes `reach serve` runs on one port (gunicorn with the app preloaded);"
            " 1: a single uvicorn process."
        ),
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description=(
            "redis:// (or rediss://, unix://) URL of a Redis that holds the rate-limit counts,"
            " shared by every worker and host; unset: process memory with one worker, a file of"
            " the data directory with several."
        ),
    )
    access_log: bool = Field(default=True, description="Log one line per HTTP call.")
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto",
        description=(
            "json: one JSON object per line; console: readable key=value lines; auto: console"
            " when standard error is a terminal, else json."
        ),
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="The least severe log lines written."
    )
    metrics: bool = Field(
        default=True, description="Serve Prometheus metrics at /metrics (false: 404)."
    )

    token_lifetime_seconds: int = Field(default=900, ge=60, le=86_400)
    token_grace_seconds: int = Field(
        default=30,
        ge=0,
        le=300,
        description=(
            "How long a token stays valid after its announced expiry: the official SDK keeps"
            " using a token until 15 s after expires_in."
        ),
    )
    rate_limit_per_minute: int = Field(
        default=250, ge=0, description="API calls per minute per client; 0 disables the limit."
    )
    token_failures_per_client_per_minute: int = Field(
        default=20,
        ge=0,
        description=(
            "Failed token requests per minute naming one client id; beyond, that id's token"
            " requests answer 429 until the minute ends, right secret or not. 0: no limit."
        ),
    )
    token_failures_per_address_per_minute: int = Field(
        default=60,
        ge=0,
        description=(
            "Failed token requests per minute from one client address; beyond, its token"
            " requests answer 429 until the minute ends. 0: no limit."
        ),
    )
    invalid_tokens_per_address_per_minute: int = Field(
        default=60,
        ge=0,
        description=(
            "API calls per minute from one client address with an invalid, expired or"
            " malformed access token; beyond, its calls answer 429 until the minute ends."
            " 0: no limit."
        ),
    )
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_header_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        le=1024 * 1024,
        description="Size of a request's line and headers together; beyond, 431 and the end.",
    )
    max_header_count: int = Field(
        default=100, ge=10, le=10_000, description="Headers per request; beyond, 431 and the end."
    )
    header_timeout_seconds: float = Field(
        default=10,
        gt=0,
        le=600,
        description=(
            "Time a client has to send a request's line and headers, from their first byte (or"
            " from connecting); a slower connection is closed, with 408 when some of it came."
        ),
    )
    max_bulk_items: int = Field(default=1000, ge=1)
    search_default_limit: int = Field(default=50, ge=1)
    search_max_limit: int = Field(default=100, ge=1)

    name_max_length: int = Field(default=255, ge=1, le=1024)
    description_max_length: int = Field(default=1000, ge=1)
    days_since_last_visit_max: int = Field(default=365, ge=0)
    radius_min_km: int = Field(default=1, ge=1)
    radius_max_km: int = Field(default=500, ge=1)
    max_points_of_interest: int = Field(default=1000, ge=1)
    in_market_max_ids: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description=(
            "How many brand ids, and how many interest ids, one in-market segment may list; a"
            " longer list is refused before any of its ids is looked up."
        ),
    )
    lookalike_default_target_size: int = Field(default=100_000, ge=1)
    lookalike_processes: int = Field(
        default=1,
        ge=0,
        le=64,
        description=(
            "Processes that train lookalike models off the request path; 0 trains them in a"
            " thread of the server process."
        ),
    )
    min_reported_size: int = Field(
        default=100, ge=0, description="Smaller sizes are answered as null, with a warning."
    )
    size_privacy: Literal["noisy", "exact"] = Field(
        default="noisy",
        description=(
            "noisy: sizes and match counts carry noise fixed per question and index build, are"
            " rounded, and small contact lists reach nobody (docs/privacy.md); exact: true"
            " numbers, for sandboxes and tests, said in every answer's warnings."
        ),
    )
    size_noise_scale: float = Field(
        default=10.0,
        gt=0,
        le=1_000_000,
        description="Scale (people) of the Laplace noise added to each size in the noisy mode.",
    )
    size_significant_digits: int = Field(
        default=3,
        ge=1,
        le=15,
        description="Significant digits a size keeps in the noisy mode (never finer than tens).",
    )
    membership_cache_mib: int = Field(
        default=512,
        ge=0,
        description=(
            "Memory kept for the members of segments already sized over the index in service,"
            " so audiences reuse them; 0 computes every time."
        ),
    )
    index_max_age_hours: float = Field(
        default=48, gt=0, description="Older index data makes size answers carry a warning."
    )
    in_market_days: int = Field(default=90, ge=1, le=3650)
    location_lookback_days: int = Field(default=30, ge=1, le=3650)
    prospecting_lookback_days: int = Field(default=90, ge=0, le=3650)
    max_contact_list_identifiers: int = Field(default=50_000, ge=1)
    phone_default_region: str | None = Field(
        default=None,
        description=(
            "Region (e.g. FR) of phone numbers sent without a country code; unset: such numbers"
            " are refused."
        ),
    )
    algebra_max_depth: int = Field(
        default=3, ge=1, le=20, description="How deep and/or/not operators may nest."
    )
    algebra_max_leaves: int = Field(
        default=256,
        ge=1,
        le=100_000,
        description=(
            "How many segment references one audience algebra may hold: each costs a bitmap"
            " operation per size, and the algebra is stored and sent whole."
        ),
    )

    sandbox: bool = Field(
        default=False,
        description=(
            "Serve the sandbox controls under /_reach/ (reset, injected faults, request"
            " journal) to holders of an admin token; `reach demo` always turns them on."
        ),
    )
    sandbox_journal_size: int = Field(
        default=200, ge=1, le=100_000, description="Calls the sandbox journal keeps per client."
    )

    console_tiles: str | None = Field(
        default=None,
        pattern=r"^https://[^\s/]+/\S*\{z\}\S*\{x\}\S*\{y\}\S*$",
        description=(
            "A map tile layer for the console's location segments, as an https URL template"
            " with {z}, {x} and {y} (e.g. an OpenStreetMap tile server). Unset, the map is"
            " drawn with no tiles: a graticule and the segment's points."
        ),
    )

    @field_validator("secret_key")
    @classmethod
    def _refuse_weak_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_SECRET_KEY_BYTES:
            raise ValueError(f"REACH_SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes")
        return value

    @field_validator("database_url")
    @classmethod
    def _driver_installed(cls, value: str | None) -> str | None:
        # PostgreSQL's driver is an optional dependency: say so at start, not at the first call.
        scheme = (value or "").partition(":")[0].lower()
        if scheme == "postgresql+psycopg" and importlib.util.find_spec("psycopg") is None:
            raise ValueError(
                "REACH_DATABASE_URL is a PostgreSQL URL, whose driver is not installed:"
                " pip install 'reach-audiences[postgresql]'"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        # A secret: the URL may carry Redis's password, so it is never repeated.
        if value is None or not value.get_secret_value():
            return None
        if not value.get_secret_value().startswith(REDIS_SCHEMES):
            raise ValueError("REACH_REDIS_URL must start with one of " + ", ".join(REDIS_SCHEMES))
        return value

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("phone_default_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"REACH_PHONE_DEFAULT_REGION '{value}' is not a known region")
        return value.upper() if value else None

    @model_validator(mode="after")
    def _check_ranges(self) -> Settings:
        if self.radius_min_km > self.radius_max_km:
            raise ValueError("REACH_RADIUS_MIN_KM must not exceed REACH_RADIUS_MAX_KM")
        if self.search_default_limit > self.search_max_limit:
            raise ValueError("REACH_SEARCH_DEFAULT_LIMIT must not exceed REACH_SEARCH_MAX_LIMIT")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The metadata store URL: the configured one, else SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'reach.db').resolve()}"

    def signing_key(self) -> bytes:
        """The server key; generated once into the data directory when not configured."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            private_dir(self.data_dir)
            # Write aside, then link into place: two processes starting together agree on one
            # key, and nobody ever reads a half-written file.
            fd, tmp = tempfile.mkstemp(dir=self.data_dir, prefix=".secret.")
            try:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_hex(32))
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        key = path.read_text().strip().encode()
        if len(key) < MIN_SECRET_KEY_BYTES:
            raise ValueError(f"{path} holds a key shorter than {MIN_SECRET_KEY_BYTES} bytes")
        return key
