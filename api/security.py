"""Bearer tokens: short-lived JWTs (HS256) that carry who the caller is and what role they have."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
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


def read_token(token: str, *, secret: str, now: datetime) -> Principal | None:
    """The principal of a valid, unexpired token; None for anything else."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["sub", "role", "exp", "aud"], "verify_exp": False},
        )
        if int(claims["exp"]) <= now.timestamp():
            return None
        return Principal(
            user_id=UUID(claims["sub"]),
            role=Role(claims["role"]),
            shopper_id=UUID(claims["shp"]) if claims.get("shp") else None,
        )
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        return None
