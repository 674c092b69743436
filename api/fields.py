"""Field types shared by the API's request bodies and parameters: one definition of each limit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

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
