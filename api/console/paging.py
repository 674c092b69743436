"""Pagination on console pages: the API's Limit and Offset, and links to the neighbouring pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request

from api.fields import Limit, Offset
from crowdship.pages import Page


@dataclass(frozen=True)
class Paging:
    """The page asked for, with the API's own limits (`api.fields.Limit` / `Offset`)."""

    limit: int
    offset: int


def paging(default_limit: int = 20) -> Callable[[int, int], Paging]:
    def read(limit: Limit = default_limit, offset: Offset = 0) -> Paging:
        return Paging(limit=limit, offset=offset)

    return read


PageQuery = Annotated[Paging, Depends(paging())]


def _history_paging(history_limit: Limit = 20, history_offset: Offset = 0) -> Paging:
    return Paging(limit=history_limit, offset=history_offset)


def _offers_paging(offers_limit: Limit = 20, offers_offset: Offset = 0) -> Paging:
    return Paging(limit=offers_limit, offset=offers_offset)


def _exports_paging(exports_limit: Limit = 20, exports_offset: Offset = 0) -> Paging:
    return Paging(limit=exports_limit, offset=exports_offset)


HistoryPageQuery = Annotated[Paging, Depends(_history_paging)]
"""The page of a history shown beside another list (an order's): its own `history_limit`/`history_offset`."""
OffersPageQuery = Annotated[Paging, Depends(_offers_paging)]
"""The page of offers shown beside another list: `offers_limit`/`offers_offset`."""
ExportsPageQuery = Annotated[Paging, Depends(_exports_paging)]
"""The page of a payout batch's bank-file downloads, beside its lines: `exports_limit`/`exports_offset`."""
FIRST_PAGE = Paging(limit=20, offset=0)


@dataclass(frozen=True)
class PageView:
    """One page of a list for the `pagination` macro: items, how many in all, and the window."""

    items: list[Any]
    total: int
    limit: int
    offset: int
    shown: int | None = None
    """How many of the `total` the items stand for, when not one each (a history's lines, several merged)."""

    @classmethod
    def of(cls, page: Page[Any], paging: Paging) -> PageView:
        """A use case's page, shown in the window the request asked for."""
        return cls(list(page.items), page.total, paging.limit, paging.offset)

    @classmethod
    def counted(cls, items: Sequence[Any], total: int | None, paging: Paging, shown: int | None = None) -> PageView:
        """Items a use case read as one page, with how many there are (None: it read them all)."""
        return cls(list(items), len(items) if total is None else total, paging.limit, paging.offset, shown)

    @classmethod
    def cut(cls, everything: list[Any], paging: Paging) -> PageView:
        """A page cut from a whole list, for use cases that answer the whole list (e.g. payout batches)."""
        window = everything[paging.offset : paging.offset + paging.limit]
        return cls(window, len(everything), paging.limit, paging.offset)

    @property
    def first(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.offset + (len(self.items) if self.shown is None else self.shown), self.total)

    @property
    def previous_offset(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset > 0 else None

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None


def page_url(request: Request, **changes: Any) -> str:
    """This page's path with some query parameters changed (None removes one)."""
    query = dict(request.query_params)
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = str(value)
    return f"{request.url.path}?{urlencode(query)}" if query else request.url.path
