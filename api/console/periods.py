"""Payout periods on the finance console as days of the reward policy in force's time zone: the daily and weekly
caps count that zone's days, so a batch "for November" prepared as UTC days would, for a retailer in Toronto, cut
at 19:00 local. The API keeps taking exact instants; only the console turns days into them and back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from fastapi import Request

from api.dependencies import AppServices
from rewards import services
from rewards.repositories import RewardsUnitOfWork

UTC_NAME = "UTC"


def policy_zone(uow: RewardsUnitOfWork, now: datetime) -> str | None:
    """The IANA name of the zone the policy in force at `now` counts its days in; None before any policy."""
    policy = services.reward_policy_in_force(uow, at=now)
    return None if policy is None else policy.parameters.timezone


def page_zone(request: Request, uow: RewardsUnitOfWork) -> str | None:
    """`policy_zone` now, by the app's clock: the zone a page shows periods' days in."""
    app_services: AppServices = request.app.state.services
    return policy_zone(uow, app_services.context.clock.now())


def today_in(now: datetime, zone_name: str | None) -> date:
    return now.astimezone(_zone(zone_name or UTC_NAME)).date()


def _zone(name: str) -> tzinfo:
    return UTC if name == UTC_NAME else ZoneInfo(name)


def local_midnight(day: date, zone_name: str) -> datetime:
    """The instant a day starts in the zone, in UTC: the wall clock's midnight (a day the clocks change on lasts
    23 or 25 hours, as the caps count it; no zone this service accepts skips midnight in the years it serves)."""
    return datetime(day.year, day.month, day.day, tzinfo=_zone(zone_name)).astimezone(UTC)


def days_as_instants(start: str, end: str, zone_name: str) -> dict[str, str]:
    """The form's dates (days in the zone, the end day included) as the API's instants: [start's midnight, the
    midnight after the end day). A date that does not parse is passed on as typed, for `BatchIn` to refuse
    naming the field."""
    values: dict[str, str] = {}
    for name, text, extra_days in (("period_start", start, 0), ("period_end", end, 1)):
        try:
            day = date.fromisoformat(text.strip())
        except ValueError:
            values[name] = text
            continue
        try:
            values[name] = local_midnight(day + timedelta(days=extra_days), zone_name).isoformat()
        except OverflowError:  # around the last day there is (9999-12-31), which BatchIn refuses as out of range
            values[name] = f"{day.isoformat()}T00:00:00+00:00"
    return values


def whole_days_in(start: datetime, end: datetime, zone_name: str) -> tuple[date, date] | None:
    """The first and last day (both included) when the period runs from one midnight of the zone to another,
    else None."""
    zone = _zone(zone_name)
    first, after = start.astimezone(zone), end.astimezone(zone)
    if first.time() != datetime.min.time() or after.time() != datetime.min.time():
        return None
    if local_midnight(first.date(), zone_name) != start or local_midnight(after.date(), zone_name) != end:
        return None
    return first.date(), max(first.date(), after.date() - timedelta(days=1))


def days_zone(start: datetime, end: datetime, zone_name: str | None) -> str | None:
    """The zone in which the period reads as whole days: the policy's (`zone_name`), else UTC (batches prepared
    before the console counted the policy's days, or with no policy in force); None for a period of other
    instants (prepared through the API), said as its instants."""
    for name in dict.fromkeys((zone_name or UTC_NAME, UTC_NAME)):
        if whole_days_in(start, end, name) is not None:
            return name
    return None
