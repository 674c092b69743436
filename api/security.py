"""Bearer tokens: short-lived JWTs (HS256) that carry who the caller is and what role they have."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import monotonic
from uuid import UUID

import jwt

from crowdship.outages import BACKING_SERVICE_ERRORS
from dispatch.accounts import Role, User, epoch_milliseconds

ALGORITHM = "HS256"
AUDIENCE = "crowdship-api"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as the token says. Roles and the shopper link are in the token so that
    the hot endpoints (location updates) need no database read; tokens are short-lived for that reason."""

    user_id: UUID
    role: Role
    shopper_id: UUID | None
    expires_at: int = 0
    """When the token stops working (seconds since the epoch): a long-lived event stream ends then."""
    issued_at_ms: int = 0
    """When the token was issued (milliseconds since the epoch): an account refuses those issued until it was
    last signed out of or deactivated. A token that says only its second is taken for its first millisecond."""


def issue_token(
    user: User, *, secret: str, ttl: timedelta, now: datetime, session_issued_at_ms: int | None = None
) -> str:
    """`iat` is fractional, to the millisecond (a NumericDate may be, RFC 7519): signing in again within the
    second of signing out is told apart from the session it ended. `exp` stays whole seconds. A session renewed
    (`session_issued_at_ms`) keeps its sign-in's `iat`: what cuts a session off cuts off its renewals too."""
    issued_ms = epoch_milliseconds(now) if session_issued_at_ms is None else session_issued_at_ms
    claims = {
        "sub": str(user.id),
        "role": user.role.value,
        "shp": str(user.shopper_id) if user.shopper_id else None,
        "aud": AUDIENCE,
        "iat": issued_ms / 1000,
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


VERIFIED_CACHE_SIZE = 65_536
_verified_tokens: OrderedDict[tuple[str, str], tuple[Principal, int]] = OrderedDict()
"""Tokens whose signature checked out, most recently used last. Only valid tokens are kept: garbage sent by
anyone cannot push the real ones out."""


def _verified(token: str, secret: str) -> tuple[Principal, int] | None:
    """The principal and expiry of a token whose signature and claims check out. Cached: the same token
    string always verifies the same way, and location updates repeat one token many times a minute."""
    key = (token, secret)
    found = _verified_tokens.get(key)
    if found is not None:
        _verified_tokens.move_to_end(key)
        return found
    verified = _verify(token, secret)
    if verified is not None:
        _verified_tokens[key] = verified
        if len(_verified_tokens) > VERIFIED_CACHE_SIZE:
            _verified_tokens.popitem(last=False)
    return verified


def _verify(token: str, secret: str) -> tuple[Principal, int] | None:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            # Time is the service's clock's to judge (`read_token`), not the wall clock's.
            options={"require": ["sub", "role", "iat", "exp", "aud"], "verify_exp": False, "verify_iat": False},
        )
        principal = Principal(
            user_id=UUID(claims["sub"]),
            role=Role(claims["role"]),
            shopper_id=UUID(claims["shp"]) if claims.get("shp") else None,
            expires_at=int(claims["exp"]),
            issued_at_ms=_milliseconds(claims["iat"]),
        )
        return principal, int(claims["exp"])
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        return None


def _milliseconds(numeric_date: object) -> int:
    """A NumericDate in whole milliseconds: ours carry three decimals (rounding undoes the float's play), older
    ones whole seconds. Anything else is no token of ours."""
    if isinstance(numeric_date, bool) or not isinstance(numeric_date, int | float):
        raise TypeError("iat is not a number")
    if not math.isfinite(numeric_date):
        raise ValueError("iat is not a finite number")
    return round(numeric_date * 1000)


def read_token(token: str, *, secret: str, now: datetime) -> Principal | None:
    """The principal of a valid, unexpired token (expiry judged by the service's clock); None otherwise."""
    verified = _verified(token, secret)
    if verified is None or verified[1] <= now.timestamp():
        return None
    return verified[0]


class ActiveAccounts:
    """Whether a token's account may still use it. A token says who signed in, not whether that account still
    exists, was deactivated since, or was deactivated and reactivated after the token was issued: the earliest
    issue time the account accepts (in milliseconds, `User.earliest_token_accepted`) is asked of PostgreSQL once
    per account and `ttl_s`, and forgotten at once when live state says the account changed (`forget`), so a
    deactivation stops its tokens at once."""

    def __init__(
        self,
        earliest_accepted: Callable[[UUID], int | None],
        *,
        ttl_s: float = 30.0,
        outage_allowance_s: float = 900.0,
        max_entries: int = 100_000,
    ) -> None:
        self._earliest_accepted = earliest_accepted
        self._ttl_s = ttl_s
        self._outage_allowance_s = outage_allowance_s
        self._max_entries = max_entries
        self._known: dict[UUID, tuple[int | None, float]] = {}

    def cached(self, principal: Principal) -> bool | None:
        """Whether the token's account accepts it, if known lately; None when it must be asked."""
        found = self._known.get(principal.user_id)
        if found is None or monotonic() - found[1] > self._ttl_s:
            return None
        return _accepts(found[0], principal)

    def ask(self, principal: Principal) -> bool:
        """Asks PostgreSQL (blocking: call it off the event loop) and remembers the answer. While PostgreSQL
        cannot be reached, an answer younger than `outage_allowance_s` stands (else every update of a shopper's
        live position, which needs Redis only, failed 30 s into an outage): no deactivation can be committed
        meanwhile, and an account forgotten because it changed is never guessed."""
        user_id = principal.user_id
        try:
            earliest = self._earliest_accepted(user_id)
        except BACKING_SERVICE_ERRORS:
            found = self._known.get(user_id)
            if found is not None and monotonic() - found[1] <= self._outage_allowance_s:
                return _accepts(found[0], principal)
            raise
        if len(self._known) >= self._max_entries:
            self._known.clear()
        self._known[user_id] = (earliest, monotonic())
        return _accepts(earliest, principal)

    def forget(self, user_id: UUID | None) -> None:
        """Forgets one account (it changed), or every account (changes may have been missed)."""
        if user_id is None:
            self._known.clear()
        else:
            self._known.pop(user_id, None)


def _accepts(earliest_ms: int | None, principal: Principal) -> bool:
    return earliest_ms is not None and principal.issued_at_ms >= earliest_ms
