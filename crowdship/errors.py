"""The root of every error the domain raises on purpose.

Each subclass names a business rule that was broken. Adapters translate them: the API into RFC 9457
problem details (the `kind` picks the status), the CLI into a one-line message.
"""

import re
from collections.abc import Sequence
from typing import ClassVar, Literal

PYDANTIC_PREFIX = re.compile(r"\b(?:Value error|Assertion failed), ")
"""What pydantic puts before the message of a validator's own ValueError or assert: not for people."""


def without_pydantic_prefix(text: str) -> str:
    """A validator's message as it wrote it, for every edge that shows one (problem details, the CLI, a scenario
    file's error): "Value error, must add up to 1" -> "must add up to 1", wherever the prefix sits (a message
    may quote another one)."""
    return PYDANTIC_PREFIX.sub("", text)


ErrorKind = Literal["invalid", "not_found", "conflict", "forbidden"]


class DomainError(Exception):
    """A broken business rule, told in words for people: the edges translate `kind` (the API into a status, the
    CLI into exit status 1) and show `message` as it is, so a rule is worded once, where it is checked."""

    kind: ClassVar[ErrorKind] = "conflict"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """A value that can never be valid, named by the field it came from."""

    kind = "invalid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class InvalidInputs(InvalidInput):
    """Several fields wrong at once, told together so that one submission can fix them all (each weekday of a
    store's opening hours). `field` is the first one's."""

    def __init__(self, errors: Sequence[InvalidInput]) -> None:
        DomainError.__init__(self, "; ".join(error.message for error in errors))
        self.field = errors[0].field
        self.errors = tuple(errors)


def refuse_together(errors: Sequence[InvalidInput]) -> None:
    """Raises nothing for no error, the error itself for one, `InvalidInputs` for several."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InvalidInputs(errors)


class NotFound(DomainError):
    """Nothing of that id to act on (answered 404). Where an id may name something of another person's (a
    shopper's commute profile), that is told the same way, so that the id is not confirmed to them."""

    kind = "not_found"
