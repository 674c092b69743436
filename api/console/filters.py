"""A list page's filters, read from its query string: one member of an enumeration, or one of the stores listed,
empty for any. A value a filter does not know (a hand-edited or stale link) is refused, naming the filter and its
choices, rather than ignored, which would list everything; the page shows each filter as a select whose options
come from here."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import TypeVar
from uuid import UUID

from api.console.formats import words
from api.console.problems import FormProblem, filter_problem
from dispatch.model import Store

Options = list[tuple[str, str]]
"""A select's options after "any": (value, what it shows)."""
E = TypeVar("E", bound=Enum)


def one_of(text: str, choices: type[E], field: str, what: str) -> tuple[list[E] | None, FormProblem | None]:
    """The member named by `text` (as a list, the use cases filter by several), or None for an empty one."""
    if not text:
        return None, None
    try:
        return [choices(text)], None
    except ValueError:
        listed = ", ".join(words(str(choice.value)) for choice in choices)
        return None, filter_problem(field, what, text, f"{listed} or any")


def listed_store(text: str, stores: Iterable[Store]) -> tuple[UUID | None, FormProblem | None]:
    """The store whose id is `text`, among those the select lists, or None for an empty one."""
    if not text:
        return None, None
    try:
        chosen: UUID | None = UUID(text.strip())
    except ValueError:
        chosen = None
    if chosen is None or chosen not in {store.id for store in stores}:
        return None, filter_problem("store_id", "store", text, "the stores listed")
    return chosen, None


def enum_options(choices: type[Enum]) -> Options:
    return [(str(choice.value), words(str(choice.value))) for choice in choices]


def store_options(stores: Iterable[Store]) -> Options:
    return [(str(store.id), store.name) for store in stores]
