"""A store's opening hours: one interval per weekday, in the store's local time, as minutes since midnight.

A weekday that is not listed is closed. Minutes rather than `time` so that a store open until midnight
closes at 24:00 (1440), which `datetime.time` cannot say; overnight hours are two weekdays' intervals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from crowdship.errors import InvalidInput, refuse_together

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MINUTES_PER_DAY = 24 * 60
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def parse_clock(text: str, field_name: str) -> int:
    """'HH:MM' (00:00 to 24:00) as minutes since midnight."""
    if isinstance(text, str) and not text.strip():
        raise InvalidInput(field_name, "is required, as hh:mm")
    match = _CLOCK.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(field_name, f"must be a time as hh:mm, not {text!r}")
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes > MINUTES_PER_DAY:
        raise InvalidInput(field_name, f"a time of day is at most 24:00, got {text!r}")
    return minutes


def format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class DayHours:
    opens_minute: int
    closes_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.opens_minute < MINUTES_PER_DAY:
            raise InvalidInput("opens", "must be between 00:00 and 23:59")
        if not 0 < self.closes_minute <= MINUTES_PER_DAY:
            raise InvalidInput("closes", "must be between 00:01 and 24:00")
        if self.opens_minute >= self.closes_minute:
            raise InvalidInput("closes", "must be after opens (split overnight hours over two days)")

    @property
    def opens(self) -> str:
        return format_clock(self.opens_minute)

    @property
    def closes(self) -> str:
        return format_clock(self.closes_minute)


def _day_hours(field_name: str, opens: str, closes: str) -> DayHours:
    """One day's interval; its errors name the day and the end ("opening_hours.monday.closes")."""
    try:
        return DayHours(parse_clock(opens, f"{field_name}.opens"), parse_clock(closes, f"{field_name}.closes"))
    except InvalidInput as error:
        if error.field.startswith(field_name):
            raise
        raise InvalidInput(f"{field_name}.{error.field}", error.message.split(": ", 1)[-1]) from None


@dataclass(frozen=True)
class OpeningHours:
    """Weekday (0 = Monday) to its interval; empty when the hours were never given."""

    days: Mapping[int, DayHours] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for weekday in self.days:
            if not isinstance(weekday, int) or not 0 <= weekday <= 6:
                raise InvalidInput("opening_hours", f"a weekday is 0 (Monday) to 6 (Sunday), got {weekday!r}")
        object.__setattr__(self, "days", MappingProxyType(dict(sorted(self.days.items()))))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OpeningHours) and dict(self.days) == dict(other.days)

    def __hash__(self) -> int:
        return hash(tuple(self.days.items()))

    @classmethod
    def from_named(cls, named: Mapping[str, tuple[str, str] | None]) -> OpeningHours:
        """From {'monday': ('08:00', '22:00'), 'sunday': None, ...}; a day left out or None is closed. Every
        day's error is told at once (`InvalidInputs` when several days are wrong)."""
        days: dict[int, DayHours] = {}
        errors: list[InvalidInput] = []
        for name, interval in named.items():
            key = name.strip().lower()
            if key not in WEEKDAYS:
                errors.append(InvalidInput(f"opening_hours.{name}", f"not a weekday; use one of {', '.join(WEEKDAYS)}"))
                continue
            if interval is None:
                continue
            try:
                days[WEEKDAYS.index(key)] = _day_hours(f"opening_hours.{key}", *interval)
            except InvalidInput as error:
                errors.append(error)
        refuse_together(errors)
        return cls(days)

    def named(self) -> dict[str, DayHours | None]:
        """Every weekday by name, None when closed."""
        return {name: self.days.get(index) for index, name in enumerate(WEEKDAYS)}
