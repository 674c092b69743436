"""The root of every error the domain raises on purpose.

Each subclass names a business rule that was broken. Adapters translate them: the API into RFC 9457
problem details (the `kind` picks the status), the CLI into a one-line message.
"""

from typing import ClassVar, Literal

ErrorKind = Literal["invalid", "not_found", "conflict", "forbidden"]


class DomainError(Exception):
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


class NotFound(DomainError):
    kind = "not_found"
