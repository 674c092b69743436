"""Distinct types for money, distance and time so that they cannot be mixed by accident.

Money is always integer cents; distances are metres and durations seconds unless a name says otherwise.
"""

import re
from decimal import Decimal
from typing import NewType

from crowdship.errors import InvalidInput

Cents = NewType("Cents", int)
Metres = NewType("Metres", float)
Seconds = NewType("Seconds", float)

CURRENCY = "USD"
"""The ISO 4217 code of every amount: the cents counted everywhere are US cents (`format_dollars`), and a file
that leaves the project (the bank upload) says so."""

BASIS_POINTS = 10_000
"""Rates and multipliers are whole basis points (1.5x is 15 000), so that prices stay integer arithmetic."""


def divide_half_up(numerator: int, denominator: int) -> int:
    """`numerator / denominator` to the nearest whole number, halves up, in exact integers (never a float, whose
    `round` takes halves to even): how every amount of money is rounded."""
    if denominator <= 0:
        raise ValueError("the denominator must be positive")
    return (2 * numerator + denominator) // (2 * denominator)


def format_cents(amount: Cents) -> str:
    """Renders cents for people (logs, CLI tables), never for storage."""
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole}.{cents:02d}"


def format_dollars(amount: int) -> str:
    """Cents as people read money in sentences and pages: 123456 -> "$1,234.56", -5 -> "-$0.05"."""
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(int(amount)), 100)
    return f"{sign}${whole:,}.{cents:02d}"


def format_duration(seconds: int) -> str:
    """Whole seconds as people read a time out of the way, in minutes as it is priced, exactly: 240 -> "4 min",
    250 -> "4 min 10 s", 45 -> "45 s", 0 -> "0 min"; never a rounded "4 min" for 250 s that a rate per minute
    would not price as 4 minutes."""
    minutes, rest = divmod(int(seconds), 60)
    if not rest:
        return f"{minutes} min"
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


_DOLLARS = re.compile(r"\$?(?P<whole>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<cents>[0-9]{1,2}))?")
"""ASCII digits only: a `\\d` would also take other scripts' digits, which no one types for dollars."""


MAX_DOLLAR_DIGITS = 12
"""More dollars than any amount typed here (a trillion): more digits are refused before they are read, since a
form field may hold most of a megabyte of them and turning those into a number takes seconds of CPU."""


def parse_dollars(text: str, field: str) -> Cents:
    """What a person types for money ("45.99", "45", "$45.99", "1,250.50") as exact integer cents: read as a
    Decimal, never a float; more than two decimals, a sign or anything else is refused naming `field`, and so
    is an amount of more than `MAX_DOLLAR_DIGITS` digits of dollars."""
    found = _DOLLARS.fullmatch(text.strip().replace(" ", ""))
    if found is None:
        raise InvalidInput(field, "must be an amount in dollars and cents, like 45.99")
    whole = found["whole"].replace(",", "").lstrip("0")
    if len(whole) > MAX_DOLLAR_DIGITS:
        raise InvalidInput(field, f"is too large: at most {MAX_DOLLAR_DIGITS} digits of dollars")
    amount = Decimal(whole or "0") + Decimal(f"0.{found['cents'] or '0'}")
    return Cents(int(amount * 100))


def counted(count: int, noun: str) -> str:
    """ "1 offer", "3 offers": the nouns the console and the commands count take an s (none is irregular),
    never "offer(s)"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
