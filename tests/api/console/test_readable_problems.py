"""Refusals as a console page says them: every field by the label the form shows, never by its code name."""

from __future__ import annotations

from uuid import UUID

import pytest
from pydantic import BaseModel, Field, ValidationError, model_validator

from api.console.problems import link_problem, merged, readable_problem
from crowdship.errors import InvalidInput, InvalidInputs
from dispatch.hours import OpeningHours


class _Claim(BaseModel):
    claim_ref: str
    amount_cents: int = Field(ge=1)


class _Place(BaseModel):
    lat: float = Field(le=90)


class _Store(BaseModel):
    location: _Place


def _refusal(model: type[BaseModel], data: dict[str, object]) -> ValidationError:
    try:
        model.model_validate(data)
    except ValidationError as error:
        return error
    raise AssertionError("the data was valid")


def test_a_missing_field_is_named_by_its_label_and_said_to_be_required() -> None:
    labels = {"claim_ref": "Insurer's claim reference", "amount_cents": "Amount claimed (cents)"}
    problem = readable_problem(_refusal(_Claim, {"amount_cents": 0}), labels)
    assert problem.message.startswith("Please correct the form: Insurer's claim reference: is required; ")
    assert "Amount claimed (cents): " in problem.message
    assert problem.fields["claim_ref"] == "is required"
    assert "claim_ref" not in problem.message


def test_a_nested_field_is_its_parents_label_with_the_part_in_brackets() -> None:
    problem = readable_problem(_refusal(_Store, {"location": {"lat": 91}}), {"location": "Location"})
    assert problem.message.startswith("Please correct the form: Location (lat): ")
    named = readable_problem(InvalidInput("service_area", "must contain the store's own location"), {})
    assert named.message == "Service area: must contain the store's own location."


class _Limits(BaseModel):
    bags: int = Field(ge=1)
    fee_cents: int = Field(le=100_000)
    name: str = Field(min_length=1, max_length=5)
    batch_id: UUID
    opens: str = Field(pattern=r"^\d{2}:\d{2}$")


class _Period(BaseModel):
    start: int
    end: int

    @model_validator(mode="after")
    def _ordered(self) -> _Period:
        if self.end < self.start:
            raise ValueError("the end must come after the start")
        return self


def test_pydantic_errors_are_said_by_their_type_in_words() -> None:
    refusal = _refusal(
        _Limits,
        {"bags": 0, "fee_cents": 100_001, "name": "", "batch_id": "nope", "opens": "9:00"},
    )
    assert readable_problem(refusal).fields == {
        "bags": "must be at least 1",
        "fee_cents": "must be at most $1,000.00",
        "name": "must not be empty",
        "batch_id": "is not a valid id",
        "opens": "must be a time as hh:mm",
    }
    typed = readable_problem(_refusal(_Limits, {"bags": "two", "name": "toolong"}))
    assert (typed.fields["bags"], typed.fields["name"]) == ("must be a number", "must be at most 5 characters")


def test_a_rule_about_the_whole_form_is_not_labelled_form() -> None:
    problem = readable_problem(_refusal(_Period, {"start": 5, "end": 1}))
    assert problem.message == "Please correct the form: the end must come after the start"
    assert problem.fields == {}


def test_a_broken_link_is_said_in_a_sentence() -> None:
    refusal = _refusal(_Limits, {"bags": 1, "fee_cents": 1, "name": "a", "batch_id": "x-1", "opens": "09:00"})
    errors = [{**item, "loc": ("path", *item["loc"])} for item in refusal.errors()]
    assert link_problem(errors) == "This link is broken: the batch id is not valid."


def test_every_day_of_the_opening_hours_is_told_at_once() -> None:
    with pytest.raises(InvalidInputs) as refused:
        OpeningHours.from_named({"monday": ("08:00", "07:00"), "friday": ("9", "17:00")})
    labels = {"opening_hours.monday.closes": "Monday closes", "opening_hours.friday.opens": "Friday opens"}
    problem = readable_problem(refused.value, labels)
    assert set(problem.fields) == {"opening_hours.monday.closes", "opening_hours.friday.opens"}
    assert "Monday closes: must be after opens" in problem.message
    assert "Friday opens: must be a time as hh:mm" in problem.message


def test_refusals_of_one_form_are_told_together_and_each_field_once() -> None:
    """Two checks refusing the same field tell it once, in the first one's words (and a lone refusal reads as
    itself); different fields are listed together."""
    area = readable_problem(InvalidInput("service_area", "must contain the store's own location"), {})
    again = readable_problem(InvalidInput("service_area", "is not a polygon"), {})
    name = readable_problem(InvalidInput("name", "must not be empty"), {})
    assert merged([area, again], {}) == area
    both = merged([area, name, again], {"service_area": "Service area", "name": "Name"})
    assert both.fields == {"service_area": "must contain the store's own location", "name": "must not be empty"}


class _Window(BaseModel):
    period: _Period
    note: str

    @model_validator(mode="before")
    @classmethod
    def _noted(cls, data: object) -> object:
        if not isinstance(data, dict):  # an assert here would be rewritten by pytest
            raise AssertionError("a window is a table of fields")
        return data


def test_pydantics_prefixes_never_reach_a_message() -> None:
    """ "Value error, " and "Assertion failed, " are pydantic's, not the rule's: not in a nested field's message,
    a model's rule, a link, nor in a refusal that quotes one."""
    nested = readable_problem(_refusal(_Window, {"period": {"start": 5, "end": 1}, "note": "x"}))
    assert nested.fields == {"period": "the end must come after the start"}
    asserted = readable_problem(_refusal(_Window, ["not", "a", "table"]))  # type: ignore[arg-type]
    assert asserted.message == "Please correct the form: a window is a table of fields"
    quoted = readable_problem(InvalidInput("scenario", "Value error, seed: must be at least 0"), {})
    assert quoted.message == "Scenario: seed: must be at least 0."
    refusal = _refusal(_Period, {"start": 5, "end": 1})
    errors = [{**item, "loc": ("query", "period")} for item in refusal.errors()]
    assert link_problem(errors) == "This link is broken: the period the end must come after the start."
    for problem in (nested, asserted, quoted):
        assert "Value error" not in problem.message
        assert "Assertion failed" not in problem.message
