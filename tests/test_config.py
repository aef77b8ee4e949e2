"""Settings: defaults, refused unsafe values, and the generated server key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from reach.config import Settings


def test_defaults_follow_the_behaviour_contract(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.token_lifetime_seconds == 900
    assert settings.rate_limit_per_minute == 250
    assert settings.days_since_last_visit_max == 365
    assert (settings.radius_min_km, settings.radius_max_km) == (1, 500)
    assert settings.max_points_of_interest == 1000
    assert (settings.search_default_limit, settings.search_max_limit) == (50, 100)
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'reach.db').resolve()}"


def test_environment_is_read_with_the_reach_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REACH_RATE_LIMIT_PER_MINUTE", "7")
    monkeypatch.setenv("REACH_DATABASE_URL", "postgresql+psycopg://db/reach")
    settings = Settings()
    assert settings.rate_limit_per_minute == 7
    assert settings.resolved_database_url == "postgresql+psycopg://db/reach"


def test_a_short_secret_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(secret_key="too-short")


def test_inconsistent_bounds_are_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(radius_min_km=10, radius_max_km=5)


def test_generated_key_is_private_and_stable(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).signing_key()
    second = Settings(data_dir=tmp_path).signing_key()
    assert first == second
    assert len(first) >= 32
    mode = stat.S_IMODE((tmp_path / "secret.key").stat().st_mode)
    assert mode == 0o600
    assert list(tmp_path.iterdir()) == [tmp_path / "secret.key"]


def test_configured_key_wins(tmp_path: Path) -> None:
    key = "k" * 40
    assert Settings(data_dir=tmp_path, secret_key=key).signing_key() == key.encode()
    assert not (tmp_path / "secret.key").exists()
