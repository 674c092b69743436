"""Distinct types for money, distance and time so that they cannot be mixed by accident.

Money is always integer cents; distances are metres and durations seconds unless a name says otherwise.
"""

from typing import NewType

Cents = NewType("Cents", int)
Metres = NewType("Metres", float)
Seconds = NewType("Seconds", float)


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
