"""Field types shared by the API's request bodies and parameters: one definition of each limit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Header, Query
from pydantic import AfterValidator, AwareDatetime

EARLIEST_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(2100, 1, 1, tzinfo=UTC)


def _sensible_instant(value: datetime) -> datetime:
    """In UTC, and within this century: `9999-12-31T23:59:59-14:00` is year 10000 in UTC, which PostgreSQL
    cannot store, and nothing this service schedules is that far off. Domain rules narrow further."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = LATEST_INSTANT
    if not EARLIEST_INSTANT <= utc < LATEST_INSTANT:
        raise ValueError(f"must be between {EARLIEST_INSTANT:%Y-%m-%d} and {LATEST_INSTANT:%Y-%m-%d} (UTC)")
    return utc


Instant = Annotated[AwareDatetime, AfterValidator(_sensible_instant)]
"""A timezone-aware instant, converted to UTC, within a sensible range (else 422 naming the field)."""

MAX_PAGE_SIZE = 200
MAX_OFFSET = 1_000_000
"""Deep enough for any list a person pages through; deeper offsets only make the database scan."""

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
"""How many items one page holds at most; each list route picks its own default."""
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
"""How many items to skip: the first page is offset 0."""

IDEMPOTENCY_KEY_MAX_LENGTH = 160
"""`idempotency_keys.key` holds at most 200 characters (migration 0007). Finance's use cases store
`"{user_id}:{key}"` (`rewards.services.common.callers_once`), a 36-character id and a colon before the caller's
key, so 160 leaves room; order intake keeps the key as sent, and uses the same limit so that one client-side rule
holds for every route."""

_KEY_HEADER = {
    "alias": "Idempotency-Key",
    "min_length": 1,
    "max_length": IDEMPOTENCY_KEY_MAX_LENGTH,
    "pattern": r"^[\x21-\x7e]+$",
    "description": "A unique key per request; a retry with the same key and body returns the first response",
}
IdempotencyKey = Annotated[str, Header(**_KEY_HEADER)]
"""Printable ASCII without spaces, 1 to 160 characters, on every request that must not happen twice."""
OptionalIdempotencyKey = Annotated[str | None, Header(**_KEY_HEADER)]
"""The same key, optional: on a route that creates something and took no key before (proposing a policy
version), so that clients without one keep working."""
