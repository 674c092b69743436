"""How console pages say a batch's period (whole days of the policy's zone or of UTC as days, any other period as
its exact instants), how the form's days become instants, and a count (its noun agreeing: "1 offer", "3 offers",
not "offer(s)")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from api.console.formats import (
    dates_kept_whole,
    period_words,
    reason_words,
    tokens_kept_whole,
    utc_text,
    whole_days,
)
from api.console.periods import days_as_instants, days_zone, whole_days_in
from dispatch.matching import REASON_TEXT, UnassignedReason
from dispatch.offer_explanation import BATCH_REASON_TEXT, CHANGED_BEFORE_OFFERED

EN_DASH = "\N{EN DASH}"


def test_whole_utc_days_read_as_days_both_included() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    assert whole_days(start, start + timedelta(days=4))
    assert period_words(start, start + timedelta(days=4)) == f"2026-12-01 {EN_DASH} 2026-12-04"
    assert period_words(start, start + timedelta(days=1)) == "2026-12-01"


def test_a_period_that_is_not_whole_days_reads_as_its_instants_in_utc() -> None:
    """A batch prepared through the API for 01:09 to 02:09 the next day is not "2026-12-04 - 2026-12-05"."""
    start, end = datetime(2026, 12, 4, 1, 9, tzinfo=UTC), datetime(2026, 12, 5, 2, 9, tzinfo=UTC)
    assert not whole_days(start, end)
    assert period_words(start, end) == f"2026-12-04 01:09 {EN_DASH} 2026-12-05 02:09 UTC"


def test_midnight_in_another_zone_is_not_a_whole_utc_day() -> None:
    """Midnight in New York is 05:00 UTC: its instants are said in UTC, converted."""
    new_york = timezone(timedelta(hours=-5))
    start, end = datetime(2026, 12, 1, tzinfo=new_york), datetime(2026, 12, 2, tzinfo=new_york)
    assert period_words(start, end) == f"2026-12-01 05:00 {EN_DASH} 2026-12-02 05:00 UTC"


def test_a_period_says_both_instants_to_the_second_when_either_has_seconds() -> None:
    start, end = datetime(2026, 12, 4, 1, 9, 30, tzinfo=UTC), datetime(2026, 12, 5, 2, 9, tzinfo=UTC)
    assert period_words(start, end) == f"2026-12-04 01:09:30 {EN_DASH} 2026-12-05 02:09:00 UTC"


def test_an_instant_with_seconds_keeps_them() -> None:
    assert utc_text(datetime(2026, 12, 4, 1, 9, 30, tzinfo=UTC)) == "2026-12-04 01:09:30"
    assert utc_text(datetime(2026, 12, 4, 1, 9, 30, 250_000, tzinfo=UTC)) == "2026-12-04 01:09:30.25"
    assert utc_text(datetime(2026, 12, 4, 1, 9, tzinfo=UTC)) == "2026-12-04 01:09"


def test_dates_in_text_are_kept_whole_and_the_rest_is_escaped() -> None:
    said = dates_kept_whole(f"carried over from batch of 2026-12-01 {EN_DASH} 2026-12-04 <b>")
    assert str(said) == (
        f'carried over from batch of <span class="nowrap">2026-12-01</span> {EN_DASH} '
        '<span class="nowrap">2026-12-04</span> &lt;b&gt;'
    )


def test_every_reason_a_batch_leaves_on_an_order_is_said_in_words() -> None:
    """The matcher's codes and the batch's own (`changed_before_offered` read 'changed before offered')."""
    assert reason_words("window") == REASON_TEXT[UnassignedReason.WINDOW]
    assert reason_words(CHANGED_BEFORE_OFFERED) == BATCH_REASON_TEXT[CHANGED_BEFORE_OFFERED]
    assert reason_words(CHANGED_BEFORE_OFFERED).startswith("matched to a shopper")
    assert {code: reason_words(code) for code in BATCH_REASON_TEXT} == BATCH_REASON_TEXT


def test_references_ids_and_dates_in_text_are_kept_whole_with_the_punctuation_after_them() -> None:
    """A browser breaks "IMPORT-71a68def" at its hyphen in a narrow column; each such token goes in a box with
    the punctuation that follows it, dates in a nowrap span, and the rest of the text is escaped."""
    said = tokens_kept_whole("The run 20251231T230000-ffffff, order IMPORT-71a68def? <b>well-known</b> on 2026-12-01.")
    assert str(said) == (
        'The run <span class="reference">20251231T230000-ffffff,</span> order '
        '<span class="reference">IMPORT-71a68def?</span> &lt;b&gt;well-known&lt;/b&gt; on '
        '<span class="nowrap">2026-12-01.</span>'
    )


def test_days_of_the_policys_zone_read_as_days_and_utc_days_still_do_saying_their_zone() -> None:
    """A batch the console prepared in Toronto reads as its local days; one prepared as UTC days before it
    counted the policy's days reads as days too, in UTC; with no policy in force only UTC days are days."""
    toronto = datetime(2026, 11, 30, 5, tzinfo=UTC), datetime(2026, 12, 1, 5, tzinfo=UTC)
    utc_days = datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    assert (days_zone(*toronto, "America/Toronto"), period_words(*toronto, "America/Toronto")) == (
        "America/Toronto",
        "2026-11-30",
    )
    assert (days_zone(*utc_days, "America/Toronto"), period_words(*utc_days, "America/Toronto")) == (
        "UTC",
        "2026-11-30",
    )
    assert days_zone(*toronto, None) is None


def test_local_days_become_the_instants_of_their_midnights_over_a_change_of_the_clocks() -> None:
    """Toronto leaves daylight saving on 1 November 2026: that day runs 25 hours, from 04:00 to 05:00 UTC the next
    day; a date that does not parse is passed on as typed, for the form's check to name."""
    assert days_as_instants("2026-11-01", "2026-11-01", "America/Toronto") == {
        "period_start": "2026-11-01T04:00:00+00:00",
        "period_end": "2026-11-02T05:00:00+00:00",
    }
    assert whole_days_in(
        datetime(2026, 11, 1, 4, tzinfo=UTC), datetime(2026, 11, 2, 5, tzinfo=UTC), "America/Toronto"
    ) == (
        date(2026, 11, 1),
        date(2026, 11, 1),
    )
    assert days_as_instants("30/11", "9999-12-31", "America/Toronto")["period_start"] == "30/11"
