"""Tokens and secrets: the service refuses to start without a strong key outside tests and never echoes a
key; tokens carry the role and shopper, expire by the service's clock, and do not verify under another key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import jwt
import pytest
from pydantic import ValidationError

from api.app import create_app
from api.security import AUDIENCE, ActiveAccounts, Principal, issue_token, read_token
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


def _judged(user: User, token: str) -> bool:
    """Whether the account accepts the token, as the API judges it (signature, then the account's cut)."""
    principal = read_token(token, secret="s" * 32, now=NOW + timedelta(seconds=5))
    assert principal is not None
    return ActiveAccounts(lambda _: user.earliest_token_accepted(), ttl_s=0.0).ask(principal)


def test_a_token_issued_a_millisecond_after_the_cut_is_accepted_and_one_issued_at_it_is_refused() -> None:
    """Signing out (or a deactivation) cuts at an instant: a token issued within the same second but after it
    is the new session's, one issued at the cut or before it is not."""
    cut = NOW + timedelta(milliseconds=400, microseconds=250)
    user = User(email="a@b.org", password_hash="-", role=Role.OPS, created_at=NOW, tokens_valid_from=cut)
    ttl = timedelta(minutes=15)
    assert _judged(user, issue_token(user, secret="s" * 32, ttl=ttl, now=cut + timedelta(milliseconds=1)))
    assert not _judged(user, issue_token(user, secret="s" * 32, ttl=ttl, now=cut))
    assert not _judged(user, issue_token(user, secret="s" * 32, ttl=ttl, now=cut - timedelta(milliseconds=1)))
    assert not _judged(user, issue_token(user, secret="s" * 32, ttl=ttl, now=NOW))


def test_a_token_of_whole_seconds_issued_in_the_second_of_the_cut_is_refused() -> None:
    """Tokens issued before tokens told milliseconds say only their second: one of the cut's second may have come
    before the cut, so it is refused, and one of the next second is accepted."""
    cut = NOW + timedelta(milliseconds=400)
    user = User(email="a@b.org", password_hash="-", role=Role.OPS, created_at=NOW, tokens_valid_from=cut)

    def whole_seconds(issued: datetime) -> str:
        seconds = int(issued.timestamp())
        claims = {
            "sub": str(user.id),
            "role": "ops",
            "shp": None,
            "aud": AUDIENCE,
            "iat": seconds,
            "exp": seconds + 900,
        }
        return jwt.encode(claims, "s" * 32, algorithm="HS256")

    assert not _judged(user, whole_seconds(NOW))
    assert not _judged(user, whole_seconds(NOW - timedelta(seconds=1)))
    assert _judged(user, whole_seconds(NOW + timedelta(seconds=1)))


def test_a_principal_made_by_hand_is_taken_for_the_oldest_token() -> None:
    """A principal built without an issue time (the console's, from the stored account) is refused by any cut."""
    user = User(email="a@b.org", password_hash="-", role=Role.OPS, created_at=NOW, tokens_valid_from=NOW)
    assert not ActiveAccounts(lambda _: user.earliest_token_accepted(), ttl_s=0.0).ask(
        Principal(user.id, user.role, None)
    )
