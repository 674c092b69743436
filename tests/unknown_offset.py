"""A zone that knows no offset, for tests of the refusal of naive instants."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo


class NoOffset(tzinfo):
    """Python counts a datetime in this zone as naive, though its `tzinfo` is set: `utcoffset()` is None."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        del dt
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        del dt
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        del dt
        return None
