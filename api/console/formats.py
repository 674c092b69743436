"""How console pages say values: money in dollars, codes in words, instants in UTC (the browser shows them in
the viewer's zone), periods of days. Registered as the templates' filters by `web`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from uuid import UUID

from crowdship.units import format_dollars
from dispatch.history import TimelineEntry, trip_words
from dispatch.matching import REASON_TEXT, UnassignedReason
from dispatch.services.delivery import NOT_DELIVERED_NOTE

EN_DASH = "\N{EN DASH}"


def money(cents: int | None) -> str:
    """Integer cents for people, as reports and the CLI say them: 1234 -> "$12.34", -5 -> "-$0.05"."""
    if cents is None:
        return ""
    return format_dollars(cents)


def words(code: str) -> str:
    """A status or kind code for people: "picked_up" -> "picked up"."""
    return code.replace("_", " ")


def reason_words(code: str) -> str:
    """Why a batch left an order waiting, in words (`dispatch.matching.REASON_TEXT`); an unknown code as words."""
    try:
        return REASON_TEXT[UnassignedReason(code)]
    except ValueError:
        return words(code)


def in_utc(instant: datetime) -> datetime:
    """An instant as the pages write it before the browser shows it in the viewer's zone (`local-time.js`)."""
    return instant.astimezone(UTC)


def period_words(start: datetime, end: datetime) -> str:
    """A period of whole UTC days whose end is excluded, as people say it, both days included: a batch for 1 to
    4 December ends on 5 December, 00:00, and reads "2026-12-01 - 2026-12-04" with an en dash (a single day
    alone)."""
    first = start.astimezone(UTC).date()
    last = (end.astimezone(UTC) - timedelta(microseconds=1)).date()
    return first.isoformat() if last <= first else f"{first.isoformat()} {EN_DASH} {last.isoformat()}"


BY_OPERATIONS = " by operations"


def history_detail(entry: TimelineEntry, trip_names: Mapping[UUID, str]) -> str:
    """A line of an order's history as a page says it, before the person who did it ("by you"): the trip an
    offer went to by its shopper's name ("offered to Ana's trip"), and no "by operations" where the person is
    named after it ("cancelled", not "cancelled by operations by you")."""
    detail = entry.detail
    if entry.trip_id is not None and entry.trip_id in trip_names:
        detail = detail.replace(trip_words(entry.trip_id), f"{trip_names[entry.trip_id]}'s trip", 1)
    if entry.actor_id is not None:
        detail = detail.removesuffix(BY_OPERATIONS)
        if detail.startswith(NOT_DELIVERED_NOTE):
            detail = f"not delivered: “{detail.removeprefix(NOT_DELIVERED_NOTE)}”"
    return detail
