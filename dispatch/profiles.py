"""Commute profiles: a shopper's recurring trip (where to, which days, when they usually leave, what fits), saved
once so that checking in is one tap.

The departure time is a wall-clock time in the profile's own time zone (the one the shopper's phone is in):
"17:30 on weekdays" stays 17:30 across daylight-saving changes. The instant of a given day comes from
`departure_on`; the use cases decide with the time passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from enum import StrEnum
from uuid import UUID, uuid4

from crowdship.clock import require_aware, time_zone
from crowdship.errors import DomainError, InvalidInput
from dispatch.model import check_carrying_limits
from routing.geo import GeoPoint

MAX_PROFILES_PER_SHOPPER = 10
MAX_PROFILE_NAME_LENGTH = 60


class Weekday(StrEnum):
    """Days of the week, Monday first (the order of `date.weekday()`)."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @classmethod
    def of(cls, day: date) -> Weekday:
        return list(cls)[day.weekday()]


def zone_named(name: str) -> tzinfo:
    """The IANA time zone, or `InvalidInput` naming `time_zone`."""
    return time_zone(name, field="time_zone")


@dataclass
class CommuteProfile:
    shopper_id: UUID
    store_id: UUID
    name: str
    destination: GeoPoint
    days: tuple[Weekday, ...]
    """Monday first, each at most once."""
    departure: time
    """The usual leave-by, local to `time_zone` (no tzinfo)."""
    time_zone: str
    capacity_bags: int
    max_detour_m: int | None
    max_detour_s: int | None
    created_at: datetime
    id: UUID = field(default_factory=uuid4)

    def __post_init__(self) -> None:
        self.name = self.name.strip()
        if not self.name:
            raise InvalidInput("name", "must not be blank")
        if len(self.name) > MAX_PROFILE_NAME_LENGTH:
            raise InvalidInput("name", f"must be at most {MAX_PROFILE_NAME_LENGTH} characters")
        self.days = _weekdays(self.days)
        if self.departure.tzinfo is not None:
            raise InvalidInput("departure", "is a local wall-clock time: give the zone in time_zone")
        zone_named(self.time_zone)
        check_carrying_limits(self.capacity_bags, self.max_detour_m, self.max_detour_s)
        require_aware(self.created_at, "created_at")

    def local_date(self, now: datetime) -> date:
        """Which day it is for the shopper at `now`."""
        return now.astimezone(zone_named(self.time_zone)).date()

    def departure_on(self, day: date) -> datetime:
        """The usual departure on that (local) day, as an aware instant."""
        return datetime.combine(day, self.departure, tzinfo=zone_named(self.time_zone))

    def runs_on(self, day: date) -> bool:
        return Weekday.of(day) in self.days


def _weekdays(days: Iterable[Weekday | str]) -> tuple[Weekday, ...]:
    try:
        chosen = {Weekday(day) for day in days}
    except ValueError as error:
        raise InvalidInput("days", "each day is one of mon, tue, wed, thu, fri, sat, sun") from error
    if not chosen:
        raise InvalidInput("days", "give at least one day of the week")
    return tuple(day for day in Weekday if day in chosen)


class TooManyProfiles(DomainError):
    def __init__(self) -> None:
        super().__init__(f"a shopper keeps at most {MAX_PROFILES_PER_SHOPPER} commute profiles: delete one first")


class DepartureTimePassed(DomainError):
    """One-tap check-in is for today at the profile's time, which is over."""

    def __init__(self, departure: datetime) -> None:
        super().__init__(
            f"today's departure of this profile ({departure:%H:%M} {departure.tzname()}) has passed: "
            "check in with a leave-by of your own"
        )
        self.departure = departure
