"""How console pages say values: money in dollars, codes in words, instants in UTC (the browser shows them in
the viewer's zone), periods of whole days as days and others as instants. Registered as the templates' filters
by `web`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from uuid import UUID

from markupsafe import Markup, escape

from api.console.periods import UTC_NAME, days_zone, whole_days_in
from crowdship.units import format_dollars
from dispatch.history import TimelineEntry, trip_words
from dispatch.matching import REASON_TEXT, UnassignedReason
from dispatch.offer_explanation import BATCH_REASON_TEXT
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
    """Why a batch left an order waiting, in words (`dispatch.matching.REASON_TEXT`, the batch's own codes
    `dispatch.offer_explanation.BATCH_REASON_TEXT`); an unknown code as words."""
    try:
        return REASON_TEXT[UnassignedReason(code)]
    except ValueError:
        return BATCH_REASON_TEXT.get(code) or words(code)


def in_utc(instant: datetime) -> datetime:
    """An instant as the pages write it before the browser shows it in the viewer's zone (`local-time.js`)."""
    return instant.astimezone(UTC)


def instant(text: str | None) -> datetime | None:
    """An instant a record keeps as ISO 8601 text (an offer's breakdown: `leave_after`), for `when`; None as is."""
    return None if text is None else datetime.fromisoformat(text)


def whole_days(start: datetime, end: datetime) -> bool:
    """True when a period runs from one UTC midnight to another; a batch prepared through the API may start and
    end at any instant (the console prepares days of the policy's zone: `api.console.periods`)."""
    return whole_days_in(start, end, UTC_NAME) is not None


def has_seconds(instant: datetime) -> bool:
    return bool(instant.second or instant.microsecond)


def utc_text(instant: datetime, seconds: bool = False) -> str:
    """An instant as text in UTC, to the minute, or to the second when asked or when it has them (and to the
    microsecond when it has those)."""
    at = in_utc(instant)
    shown = at.strftime("%Y-%m-%d %H:%M")
    if seconds or has_seconds(at):
        shown += at.strftime(":%S") + (f".{at.microsecond:06d}".rstrip("0") if at.microsecond else "")
    return shown


def period_words(start: datetime, end: datetime, zone_name: str | None = None) -> str:
    """A period whose end is excluded, as people say it in text (a page's title, a hold reason naming a batch).
    Whole days of the policy's zone (`zone_name`; else of UTC, `api.console.periods.days_zone`) read as days,
    both included: a batch for 1 to 4 December ends on 5 December, 00:00, and reads "2026-12-01 - 2026-12-04"
    with an en dash (a single day alone). Any other period reads as its exact instants in UTC, saying so:
    "2026-12-04 01:09 - 2026-12-05 02:09 UTC" (pages show those in the viewer's zone with the `period` macro)."""
    days_in = days_zone(start, end, zone_name)
    days = None if days_in is None else whole_days_in(start, end, days_in)
    if days is None:
        seconds = has_seconds(start) or has_seconds(end)  # both to the second when either has them
        return f"{utc_text(start, seconds)} {EN_DASH} {utc_text(end, seconds)} UTC"
    first, last = days
    return first.isoformat() if last <= first else f"{first.isoformat()} {EN_DASH} {last.isoformat()}"


BY_OPERATIONS = " by operations"


def history_detail(entry: TimelineEntry, trip_names: Mapping[UUID, str]) -> Markup:
    """A line of an order's history as a page says it, before the person who did it ("by you"): the trip an
    offer went to by its shopper's name ("offered to Ana's trip"), the name isolated for bidirectional text (a
    right-to-left name ending in digits reordered the sentence around it), and no "by operations" where the
    person is named after it ("cancelled", not "cancelled by operations by you"). Escaped."""
    detail = entry.detail
    if entry.actor_id is not None:
        detail = detail.removesuffix(BY_OPERATIONS)
        if detail.startswith(NOT_DELIVERED_NOTE):
            detail = f"not delivered: “{detail.removeprefix(NOT_DELIVERED_NOTE)}”"
    if entry.trip_id is not None and entry.trip_id in trip_names:
        before, found, after = detail.partition(trip_words(entry.trip_id))
        if found:
            name = trip_names[entry.trip_id]
            return escape(before) + Markup("<bdi>%s</bdi>'s trip") % name + escape(after)
    return escape(detail)


ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def dates_kept_whole(text: str) -> Markup:
    """Text for a page, each date in it kept on one line ("2026-12-01" is never broken after "2026-" on a
    phone): the text escaped, every date wrapped in a `nowrap` span."""
    escaped = str(escape(text))
    return Markup(ISO_DATE.sub(lambda found: f'<span class="nowrap">{found.group()}</span>', escaped))


HYPHENATED = re.compile(r"(?<![\w-])(?=[\w-]*\d)[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+(?P<then>[.,:;?!)]*)")
"""A token of letters and digits joined by hyphens, with a digit in it: an order reference ("IMPORT-71a68def"),
a run id ("20251231T230000-ffffff"), a date; with the punctuation right after it."""


def tokens_kept_whole(text: str) -> Markup:
    """Text for a page (a message, a flag, a hold reason), each date, reference or id in it kept whole: a browser
    breaks such a token at its hyphens ("IMPORT- / 71a68def" read as two references). Dates go in `nowrap`
    spans; the other tokens in `reference` boxes, which move whole to the next line and wrap only when longer
    than a line; the punctuation after a token goes in with it (a screen reader read "WEB-5002 ?" after a box)."""

    def kept(found: re.Match[str]) -> str:
        token = found.group()
        core = token[: len(token) - len(found.group("then"))]
        kind = "nowrap" if ISO_DATE.fullmatch(core) else "reference"
        return f'<span class="{kind}">{token}</span>'

    return Markup(HYPHENATED.sub(kept, str(escape(text))))
