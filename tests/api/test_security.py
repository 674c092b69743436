"""Tokens and secrets: the service refuses to start without a strong key outside tests and never echoes a
key; tokens carry the role and shopper, expire by the service's clock, and do not verify under another key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from pydantic import ValidationError

from api.app import create_app
from api.security import issue_token, read_token
from crowdship.settings import Settings
from crowdship.strength import TEST_SECRET_KEY
from dispatch.accounts import Role, User

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
STRONG_KEY = "9c4e1f7a2b8d3065e1f4a7c9b2d5e8f0a3c6e9b1d4f7a0c3"


@pytest.mark.parametrize("environment", ["development", "production"])
def test_the_api_refuses_to_start_without_a_key_outside_tests(environment: str) -> None:
    """No development default: a service that signs with a key everyone knows accepts forged admin tokens."""
    settings = Settings(_env_file=None, environment=environment)
    with pytest.raises(RuntimeError, match="CROWDSHIP_SECRET_KEY is not set"):
        create_app(settings)


def test_tests_sign_with_their_own_key_which_is_refused_elsewhere() -> None:
    assert Settings(_env_file=None, environment="test").require_secret_key() == TEST_SECRET_KEY
    with pytest.raises(ValidationError, match="public"):
        Settings(_env_file=None, environment="production", secret_key=TEST_SECRET_KEY)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("too-short-key", "shorter than 32"),
        ("", "is set but empty"),
        ("x" * 40, "guessable"),
        ("password1234password1234password1234", "guessable"),
        ("0123456789abcdef0123456789abcdef0123", "guessable"),
    ],
)
def test_a_weak_key_is_refused_without_echoing_any_part_of_it(key: str, reason: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None, environment="production", secret_key=key)
    message = str(raised.value)
    assert reason in message
    assert "secret_key" in message
    for start in range(0, len(key) - 5):
        assert key[start : start + 6] not in message


def test_a_strong_key_is_accepted() -> None:
    settings = Settings(_env_file=None, environment="production", secret_key=STRONG_KEY)
    assert settings.require_secret_key() == STRONG_KEY


def test_a_token_round_trips_and_expires() -> None:
    """Role and shopper come back; a second after expiry, or under another secret, nothing comes back."""
    user = User(email="a@b.org", password_hash="-", role=Role.SHOPPER, shopper_id=uuid4(), created_at=NOW)
    token = issue_token(user, secret="s" * 32, ttl=timedelta(minutes=15), now=NOW)
    principal = read_token(token, secret="s" * 32, now=NOW + timedelta(minutes=14))
    assert principal is not None
    assert (principal.user_id, principal.role, principal.shopper_id) == (user.id, Role.SHOPPER, user.shopper_id)
    assert read_token(token, secret="s" * 32, now=NOW + timedelta(minutes=15)) is None
    assert read_token(token, secret="t" * 32, now=NOW) is None
    assert read_token("not.a.token", secret="s" * 32, now=NOW) is None
