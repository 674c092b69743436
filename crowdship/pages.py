"""One page of a longer list, the way every list of the service is read: some items and how many there are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from crowdship.errors import InvalidInput

T = TypeVar("T")
MAX_PAGE = 1_000


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    """How many items the whole list holds, for the reader to know how far to page."""


def check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"must lie within 1..{MAX_PAGE}")
    if offset < 0:
        raise InvalidInput("offset", "must not be negative")
