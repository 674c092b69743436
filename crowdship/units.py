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
