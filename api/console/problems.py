"""Domain errors, validation errors and problem details as the sentences a console page shows."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from api.problems import ProblemException
from crowdship.errors import DomainError, InvalidInput, InvalidInputs, without_pydantic_prefix
from crowdship.units import format_dollars


@dataclass(frozen=True)
class FormProblem:
    """A refusal as a person reads it: one message, and a message per form field when it names one."""

    message: str
    fields: dict[str, str] = field(default_factory=dict)
    status: int = 422


CONSOLE_ERRORS = (DomainError, ValidationError, ProblemException)
"""What a page handler catches around a use case to show as a message instead of an error page."""

CLOCK_PATTERN = r"^\d{2}:\d{2}$"
"""The pattern of a time of day (`api.ops_records_schemas.Clock`)."""


def pydantic_words(item: Mapping[str, Any], *, in_link: bool = False) -> str:
    """What pydantic found wrong with a value, said after the field's label ("must be at least 1"), from the
    error's `type` and its limits; its own message for a type not listed. In a link, an id "is not valid"."""
    kind, limits = str(item.get("type", "")), item.get("ctx") or {}
    if kind.endswith("_type") and "input" in item and item["input"] is None:
        return "is required"  # a form field left empty is sent as nothing
    limit = next((value for name, value in limits.items() if name in ("ge", "le", "gt", "lt")), None)
    if kind in NUMBER_LIMITS and limit is not None:
        return NUMBER_LIMITS[kind].format(_amount(item, limit))
    if kind == "string_too_short":
        least = limits.get("min_length", 1)
        return "must not be empty" if least == 1 else f"must be at least {least} characters"
    if kind == "string_too_long":
        return f"must be at most {limits.get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        return "must be a time as hh:mm" if limits.get("pattern") == CLOCK_PATTERN else "is not in the expected form"
    if kind in ("uuid_parsing", "uuid_type"):
        return "is not valid" if in_link else "is not a valid id"
    if kind in PYDANTIC_WORDS:
        return PYDANTIC_WORDS[kind]
    return without_pydantic_prefix(str(item.get("msg", "is not valid")))


NUMBER_LIMITS = {
    "greater_than_equal": "must be at least {}",
    "less_than_equal": "must be at most {}",
    "greater_than": "must be more than {}",
    "less_than": "must be less than {}",
}
PYDANTIC_WORDS = {
    "missing": "is required",
    "int_parsing": "must be a number",
    "int_type": "must be a number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be yes or no",
    "date_parsing": "must be a date",
    "date_from_datetime_parsing": "must be a date",
    "datetime_parsing": "must be a date and time",
    "datetime_from_date_parsing": "must be a date and time",
    "extra_forbidden": "is not expected here",
    "json_invalid": "is not valid JSON",
}
"""pydantic's error types in words that read after a field's label."""


def _amount(item: Mapping[str, Any], limit: Any) -> str:
    """A limit as the form shows its field: money for a `*_cents` field, else the number."""
    name = str((item.get("loc") or ("",))[-1])
    return (
        format_dollars(int(limit))
        if name.endswith("_cents")
        else f"{limit:g}"
        if isinstance(limit, float)
        else str(limit)
    )


_STATUS_BY_KIND = {"invalid": 422, "not_found": 404, "conflict": 409, "forbidden": 403}


def label_of(name: str, labels: Mapping[str, str]) -> str:
    """`location.lat` -> "Location (lat)": the form's own label, else the field's name in words."""
    if name in labels:
        return labels[name]
    head, _, rest = name.partition(".")
    base = labels.get(head, head.replace("_", " ").capitalize())
    return f"{base} ({rest})" if rest else base


def readable_problem(
    error: Exception, labels: Mapping[str, str] | None = None, renamed: Mapping[str, str] | None = None
) -> FormProblem:
    """`error` as a person reads it; `labels` names the form's fields as the form shows them (`period_end` ->
    `To`), in the message and in each field's own message; `renamed` gives the form's name of a field the API
    names otherwise (the form asks dollars in `fallback_cost`, the API takes `fallback_cost_cents`)."""
    names, form_name = dict(labels or {}), dict(renamed or {})

    def words(text: str) -> str:
        # only names that cannot be plain words (`period_end`, `location.lat`): "location" is also English
        for field_name, label in names.items():
            if "_" in field_name or "." in field_name:
                text = text.replace(field_name, f"“{label}”")
        return text

    def label(name: str) -> str:
        return label_of(name, names)

    if isinstance(error, ValidationError):
        fields: dict[str, str] = {}
        for item in error.errors():
            name = ".".join(str(part) for part in item.get("loc", ()))
            fields.setdefault(form_name.get(name, name), words(pydantic_words(item)))
        return _form_problem(fields, label)
    if isinstance(error, InvalidInputs):
        said = {
            form_name.get(each.field, each.field): words(each.message.removeprefix(f"{each.field}: "))
            for each in error.errors
        }
        return _form_problem(said, label)
    if isinstance(error, InvalidInput):
        name = form_name.get(error.field, error.field)
        message = words(error.message.removeprefix(f"{error.field}: "))
        return FormProblem(_sentence(f"{label(name)}: {message}"), {name: message}, 422)
    if isinstance(error, DomainError):
        return FormProblem(_sentence(words(error.message)), {}, _STATUS_BY_KIND[error.kind])
    if isinstance(error, ProblemException):
        return FormProblem(_sentence(error.detail), {}, error.status)
    raise TypeError(f"not a console error: {type(error).__name__}")


def _form_problem(fields: dict[str, str], label_of: Callable[[str], str]) -> FormProblem:
    """A message per field; one that names no field (a rule about the whole form) is said without a label."""
    fields = {name: without_pydantic_prefix(said) for name, said in fields.items()}
    listed = "; ".join(f"{label_of(name)}: {said}" if name else said for name, said in list(fields.items())[:5])
    return FormProblem(f"Please correct the form: {listed}", {name: said for name, said in fields.items() if name}, 422)


def merged(problems: Sequence[FormProblem], labels: Mapping[str, str]) -> FormProblem:
    """Refusals of one submission found by different checks (the form's own, the domain's, the schema's) as one
    problem; a field refused by two checks keeps the first one's message, and a check that adds nothing new is
    left out."""
    told: set[str] = set()
    distinct = []
    for problem in problems:
        if not problem.fields or set(problem.fields) - told:
            distinct.append(problem)
            told |= set(problem.fields)
    problems = distinct
    if len(problems) == 1:
        return problems[0]
    fields: dict[str, str] = {}
    for problem in problems:
        for name, said in problem.fields.items():
            fields.setdefault(name, said)
    unnamed = [problem.message for problem in problems if not problem.fields]
    listed = _form_problem(fields, lambda name: label_of(name, labels))
    return FormProblem("; ".join([listed.message, *unnamed]), fields, 422)


def link_problem(errors: Sequence[Mapping[str, Any]]) -> str:
    """A link whose parts are not valid (a path or query parameter), as a sentence: "This link is broken: the
    batch id is not valid."."""
    said = "; ".join(
        f"the {' '.join(str(part) for part in item.get('loc', ())[1:]).replace('_', ' ')} "
        f"{pydantic_words(item, in_link=True)}"
        for item in errors[:5]
    )
    return f"This link is broken: {said}."


def filter_problem(field: str, what: str, value: str, choices: str) -> FormProblem:
    """A list's filter with a value it does not know (a hand-edited or stale link): said with the filter's
    name and its choices, rather than silently ignored (which would list everything)."""
    message = f"There is no {what} “{value[:40]}”: choose one of {choices}."
    return FormProblem(message, {field: message}, 422)


def merge_filters(problems: Sequence[FormProblem | None]) -> FormProblem | None:
    """The refusals of several filters of one list as one problem (each keeps its own sentence)."""
    found = [problem for problem in problems if problem is not None]
    if len(found) <= 1:
        return found[0] if found else None
    fields = {name: said for problem in found for name, said in problem.fields.items()}
    return FormProblem(" ".join(problem.message for problem in found), fields, 422)


def _sentence(text: str) -> str:
    text = without_pydantic_prefix(text).strip()
    if not text:
        return "The request was refused."
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
