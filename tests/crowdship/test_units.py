"""Money as people type and read it: dollars and cents in, exact integer cents kept (never through a float)."""

from __future__ import annotations

import pytest

from crowdship.errors import InvalidInput
from crowdship.units import counted, divide_half_up, format_dollars, format_duration, parse_dollars


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("45.99", 4599),
        ("45", 4500),
        ("$45.99", 4599),
        ("45.5", 4550),
        ("0.05", 5),
        ("1,250.10", 125010),
        (" 8.99 ", 899),
    ],
)
def test_dollars_typed_by_a_person_are_exact_cents(typed: str, cents: int) -> None:
    assert parse_dollars(typed, "amount") == cents


def test_float_rounding_cannot_creep_in() -> None:
    """0.29 * 100 is 28.999999999999996 in floating point; read as a Decimal it is 29."""
    assert parse_dollars("0.29", "amount") == 29
    assert parse_dollars("1234567.89", "amount") == 123_456_789


def test_a_typed_amount_is_exact_up_to_the_largest_one_read() -> None:
    """Every digit counts, however many the form may take (Decimal's default 28 significant digits would round
    the cents away beyond them)."""
    assert parse_dollars("999,999,999,999.99", "amount") == 99_999_999_999_999


@pytest.mark.parametrize("typed", ["1" + "0" * 12, "9" * 29 + ".99", "9" * 200_000])
def test_an_amount_with_more_dollar_digits_than_any_form_takes_is_refused_unread(typed: str) -> None:
    """A console form field can hold most of a megabyte of digits: turning them into an integer took seconds of
    CPU per request (and the value, rounded to 28 digits, was not what was typed). Refused as too large."""
    with pytest.raises(InvalidInput) as refused:
        parse_dollars(typed, "amount")
    assert refused.value.field == "amount"
    assert "too large" in refused.value.message


@pytest.mark.parametrize("typed", ["45.999", "-3", "abc", "", "4,5", "1e3", ".5", "$-1", "12.3.4"])
def test_anything_else_is_refused_naming_the_field(typed: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_dollars(typed, "amount")
    assert refused.value.field == "amount"
    assert "like 45.99" in refused.value.message


def test_cents_read_as_dollars_with_the_sign_before_the_symbol() -> None:
    assert [format_dollars(cents) for cents in (0, 5, 123456, -5)] == ["$0.00", "$0.05", "$1,234.56", "-$0.05"]


def test_a_quotient_is_rounded_to_the_nearest_whole_with_halves_up() -> None:
    """124.5 is 125 (a float's `round` says 124), 124.499 is 124, 122.5 is 123; below zero, up is towards zero."""
    assert divide_half_up(124_500, 1_000) == 125
    assert divide_half_up(124_499, 1_000) == 124
    assert divide_half_up(245, 2) == 123
    assert divide_half_up(-5, 2) == -2
    with pytest.raises(ValueError, match="denominator"):
        divide_half_up(1, 0)


def test_a_count_agrees_with_its_noun() -> None:
    assert counted(1, "offer") == "1 offer"
    assert counted(0, "offer") == "0 offers"
    assert counted(3, "bag") == "3 bags"
    assert counted(2, "trip") == "2 trips"


def test_a_duration_reads_in_minutes_and_keeps_its_odd_seconds() -> None:
    """Times are priced per minute, prorated to the second: said in minutes, with the seconds left over."""
    said = [format_duration(seconds) for seconds in (0, 45, 60, 240, 250, 3600)]
    assert said == ["0 min", "45 s", "1 min", "4 min", "4 min 10 s", "60 min"]
