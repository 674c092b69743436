"""Bearer tokens: short-lived JWTs (HS256) that carry who the caller is and what role they have."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from uuid import UUID

import jwt

from dispatch.accounts import Role, User

ALGORITHM = "HS256"
AUDIENCE = "crowdship-api"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as the token says. Roles and the shopper link are in the token so that
    the hot endpoints (location updates) need no database read; tokens are short-lived for that reason."""

    user_id: UUID
    role: Role
    shopper_id: UUID | None


def issue_token(user: User, *, secret: str, ttl: timedelta, now: datetime) -> str:
    claims = {
        "sub": str(user.id),
        "role": user.role.value,
        "shp": str(user.shopper_id) if user.shopper_id else None,
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


@lru_cache(maxsize=65_536)
def _verified(token: str, secret: str) -> tuple[Principal, int] | None:
    """The principal and expiry of a token whose signature and claims check out. Cached: the same token
    string always verifies the same way, and location updates repeat one token many times a minute."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["sub", "role", "exp", "aud"], "verify_exp": False},
        )
        principal = Principal(
            user_id=UUID(claims["sub"]),
            role=Role(claims["role"]),
            shopper_id=UUID(claims["shp"]) if claims.get("shp") else None,
        )
        return principal, int(claims["exp"])
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        return None


def read_token(token: str, *, secret: str, now: datetime) -> Principal | None:
    """The principal of a valid, unexpired token (expiry judged by the service's clock); None otherwise."""
    verified = _verified(token, secret)
    if verified is None or verified[1] <= now.timestamp():
        return None
    return verified[0]
