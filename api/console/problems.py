"""Domain errors, validation errors and problem details as the sentences a console page shows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import ValidationError

from api.problems import ProblemException
from crowdship.errors import DomainError, InvalidInput


@dataclass(frozen=True)
class FormProblem:
    """A refusal as a person reads it: one message, and a message per form field when it names one."""

    message: str
    fields: dict[str, str] = field(default_factory=dict)
    status: int = 422


CONSOLE_ERRORS = (DomainError, ValidationError, ProblemException)
"""What a page handler catches around a use case to show as a message instead of an error page."""

PYDANTIC_WORDS = {"Field required": "is required"}
"""pydantic's phrases that read oddly after a field's label."""

_STATUS_BY_KIND = {"invalid": 422, "not_found": 404, "conflict": 409, "forbidden": 403}


def readable_problem(error: Exception, labels: Mapping[str, str] | None = None) -> FormProblem:
    """`error` as a person reads it; `labels` names the form's fields as the form shows them (`period_end` ->
    `To`), in the message and in each field's own message."""
    names = dict(labels or {})

    def words(text: str) -> str:
        # only names that cannot be plain words (`period_end`, `location.lat`): "location" is also English
        for field_name, label in names.items():
            if "_" in field_name or "." in field_name:
                text = text.replace(field_name, f"“{label}”")
        return text

    def label_of(name: str) -> str:
        """`location.lat` -> "Location (lat)": the form's own label, else the field's name in words."""
        if name in names:
            return names[name]
        head, _, rest = name.partition(".")
        base = names.get(head, head.replace("_", " ").capitalize())
        return f"{base} ({rest})" if rest else base

    if isinstance(error, ValidationError):
        fields: dict[str, str] = {}
        for item in error.errors():
            name = ".".join(str(part) for part in item.get("loc", ())) or "form"
            said = str(item.get("msg", "is not valid")).removeprefix("Value error, ")
            fields.setdefault(name, words(PYDANTIC_WORDS.get(said, said)))
        listed = "; ".join(f"{label_of(name)}: {message}" for name, message in list(fields.items())[:5])
        return FormProblem(f"Please correct the form: {listed}", fields, 422)
    if isinstance(error, InvalidInput):
        message = words(error.message.removeprefix(f"{error.field}: "))
        return FormProblem(_sentence(f"{label_of(error.field)}: {message}"), {error.field: message}, 422)
    if isinstance(error, DomainError):
        return FormProblem(_sentence(words(error.message)), {}, _STATUS_BY_KIND[error.kind])
    if isinstance(error, ProblemException):
        return FormProblem(_sentence(error.detail), {}, error.status)
    raise TypeError(f"not a console error: {type(error).__name__}")


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return "The request was refused."
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
