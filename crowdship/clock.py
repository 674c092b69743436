"""The one clock. Domain code never reads the time itself; it is handed a `Clock` or a timestamp."""

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from crowdship.errors import InvalidInput


class Clock(Protocol):
    """Where the time comes from, passed in: live it is the system's, in tests and the simulator a `ManualClock`,
    so that a rule about time is checked at any instant without waiting for it."""

    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The real time, for the edges (the API, the CLI, the dispatcher) to hand inward."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to: for tests and the simulator."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, by: timedelta) -> None:
        if by < timedelta(0):
            raise ValueError("time does not run backwards")
        self._now += by

    def set(self, instant: datetime) -> None:
        if instant < self._now:
            raise ValueError("time does not run backwards")
        self._now = instant


def require_aware(value: datetime, field: str) -> datetime:
    """`value` when it says where it is, else `InvalidInput` naming `field`: a naive instant would be read in the
    server's own zone. A `tzinfo` whose offset is unknown counts as naive, as it does for Python."""
    if value.utcoffset() is None:
        raise InvalidInput(field, "must be a timezone-aware timestamp")
    return value


NO_PLACE_ZONES = frozenset({"localtime", "Factory", "posixrules"})
"""Names zoneinfo opens that are no place: the server's own zone (another on every machine), the database's
placeholder ('-00') and its template."""


@cache
def _zone_names() -> frozenset[str]:
    """The zone database's names of places (never `posix/` or `right/` variants: `right/` counts leap seconds)."""
    return frozenset(available_timezones()) - NO_PLACE_ZONES


def time_zone(name: str, *, field: str = "time_zone") -> ZoneInfo:
    """The IANA zone of that name, or `InvalidInput` naming the field. A folder of the zone database
    ("America") or a path raises `OSError` inside zoneinfo, not "not found": refused all the same, as are names
    of no place (`NO_PLACE_ZONES`, variant folders)."""
    if name not in _zone_names():
        raise InvalidInput(field, f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise InvalidInput(field, f"unknown time zone {name!r}") from error
