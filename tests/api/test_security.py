"""Tokens and secrets: the default secret is refused outside development and test; tokens carry the role
and shopper, expire by the service's clock, and do not verify under another secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from pydantic import ValidationError

from api.security import issue_token, read_token
from crowdship.settings import Settings
from dispatch.accounts import Role, User

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def test_the_default_secret_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(environment="production", secret_key="too-short")
    assert Settings(environment="production", secret_key="x" * 40).environment == "production"


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
