"""Pagination on console pages: the API's Limit and Offset, and links to the neighbouring pages."""

from __future__ import annotations

from collections.abc import Callable
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


@dataclass(frozen=True)
class PageView:
    """One page of a list for the `pagination` macro: items, how many in all, and the window."""

    items: list[Any]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, page: Page[Any], paging: Paging) -> PageView:
        """A use case's page, shown in the window the request asked for."""
        return cls(list(page.items), page.total, paging.limit, paging.offset)

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
        return min(self.offset + len(self.items), self.total)

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
