"""Refusals as a console page says them: every field by the label the form shows, never by its code name."""

from __future__ import annotations

from pydantic import BaseModel, Field, ValidationError

from api.console.problems import readable_problem
from crowdship.errors import InvalidInput


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
