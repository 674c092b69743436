"""Comma-separated option values (`--sizes 100x150,300x500`, `--threads 1,2,4`), read before a command starts
its work: a mistyped one is a usage error naming the option (status 2), as typer's own checks are."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer

T = TypeVar("T")


def comma_separated(text: str, option: str, parse: Callable[[str], T], expected: str) -> list[T]:
    """Each non-empty part of `text` read by `parse` (which raises ValueError on a bad one); at least one."""
    values = []
    for part in (part.strip() for part in text.split(",")):
        if not part:
            continue
        try:
            values.append(parse(part))
        except ValueError:
            raise typer.BadParameter(f"expected {expected}, got {part!r}", param_hint=option) from None
    if not values:
        raise typer.BadParameter(f"expected at least one value: {expected}", param_hint=option)
    return values


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise ValueError(text)
    return value


def size_pair(text: str) -> tuple[int, int]:
    """`ORDERSxTRIPS`, each at least 1."""
    first, second = text.lower().split("x")
    return positive_int(first), positive_int(second)
