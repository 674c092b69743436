"""The accounts' bodies read straight from domain objects: the fields the objects hold in another shape come out
as the API has always shown them. The shopper app's are in `test_shopper_schemas`."""

from __future__ import annotations

from types import UnionType
from typing import Union, get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError

import api.app  # noqa: F401  (every router, so that every request body is defined)
from api.money_schemas import StoreCreditRedemptionIn
from api.ops_records_schemas import ClaimIn
from api.rewards_schemas import PolicyParametersIn
from api.schemas import Point, RegisterIn, Schema, ShopperOut
from api.shopper_schemas import LocationIn
from dispatch.model import Shopper, TrustTier


def test_a_shoppers_trust_tier_is_a_plain_number() -> None:
    body = ShopperOut.model_validate(Shopper(display_name="Ana", trust_tier=TrustTier.GOLD)).model_dump_json()
    assert '"trust_tier":3' in body


@pytest.mark.parametrize(
    "text",
    ["Jade\u202eeroM", "\u2067Jade", "Jade\x1b[2J", "Jade\x07", "Jade\u200f", "Jade\x85"],
    ids=["right-to-left-override", "isolate", "terminal-escape", "bell", "right-to-left-mark", "c1-control"],
)
def test_text_with_control_or_direction_characters_is_refused_naming_the_field(text: str) -> None:
    """A name shown on the console, in the bank's CSV and on a terminal cannot reorder or hide what surrounds
    it (`\\u202e` shows 'Jade\\u202eeroM' as 'JadeMore')."""
    with pytest.raises(ValidationError) as refused:
        RegisterIn(email="ana@example.org", password="Orbit-Lamp-77-Quince", display_name=text)
    assert refused.value.errors()[0]["loc"] == ("display_name",)
    assert "control" in str(refused.value)


@pytest.mark.parametrize(
    "text",
    ["\u200b", "\ufeff", " \u2060 ", "\u200d\u200c", "\u00ad\n"],
    ids=["zero-width-space", "byte-order-mark", "word-joiner-in-blanks", "joiners", "soft-hyphen"],
)
def test_text_that_shows_nothing_is_refused_as_blank_naming_the_field(text: str) -> None:
    """A recipient, an address or a name made only of invisible characters is as blank as spaces: the console,
    the bank's CSV and the shopper's app would show an empty field."""
    with pytest.raises(ValidationError) as refused:
        RegisterIn(email="ana@example.org", password="Orbit-Lamp-77-Quince", display_name=text)
    assert refused.value.errors()[0]["loc"] == ("display_name",)
    assert "blank" in str(refused.value)


def test_text_in_any_script_with_tabs_and_line_breaks_is_kept() -> None:
    for text in ["Zoë Łukasz", "محمد", "李小龙", "👩\u200d🔧 Ana", "Apt 2\n1200 Magnolia Dr\tTallahassee"]:
        body = RegisterIn(email="ana@example.org", password="Orbit-Lamp-77-Quince", display_name=text)
        assert body.display_name == text


@pytest.mark.parametrize(
    ("schema", "body", "field"),
    [
        (LocationIn, {"lat": True, "lon": 1}, "lat"),
        (Point, {"lat": 30.4, "lon": False}, "lon"),
        (StoreCreditRedemptionIn, {"amount_cents": True}, "amount_cents"),
        (ClaimIn, {"claim_ref": "AXA-1", "amount_cents": True}, "amount_cents"),
    ],
)
def test_true_or_false_is_no_number_of_a_position_or_an_amount(
    schema: type[BaseModel], body: dict[str, object], field: str
) -> None:
    """`{"lat": true}` was a position at latitude 1, `{"amount_cents": true}` one cent of store credit spent."""
    with pytest.raises(ValidationError) as refused:
        schema.model_validate(body)
    assert refused.value.errors()[0]["loc"] == (field,)
    assert "not true or false" in str(refused.value)


def _request_bodies(base: type[Schema] = Schema) -> list[type[Schema]]:
    found: list[type[Schema]] = []
    for subclass in base.__subclasses__():
        found += [subclass, *_request_bodies(subclass)]
    return found


def _takes_a_number(annotation: object) -> bool:
    members = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    return bool(members) and bool not in members and any(member in (int, float) for member in members)


NUMBER_FIELDS = sorted(
    {
        (body.__name__, name)
        for body in _request_bodies()
        for name, field in body.model_fields.items()
        if _takes_a_number(field.annotation)
    }
)


def test_the_request_bodies_numbers_are_all_found() -> None:
    """What the next test goes through: among them fields that took `true` as 1 (a tier, bags, a fallback fee)."""
    for expected in [("VerificationIn", "trust_tier"), ("StorePatch", "fallback_cost_cents"), ("OrderIn", "size_bags")]:
        assert expected in NUMBER_FIELDS


@pytest.mark.parametrize(("body", "field"), NUMBER_FIELDS, ids=[f"{body}.{field}" for body, field in NUMBER_FIELDS])
@pytest.mark.parametrize("value", [True, False])
def test_true_or_false_is_no_number_in_any_request_body(body: str, field: str, value: bool) -> None:
    """`{"trust_tier": true}` set a silver shopper to bronze, `{"size_bags": true}` took in an order of one bag and
    `{"fallback_cost_cents": true}` made a store's courier fee one cent: JSON's booleans are no numbers anywhere."""
    schema = next(each for each in _request_bodies() if each.__name__ == body)
    with pytest.raises(ValidationError) as refused:
        schema.model_validate({field: value})
    mine = [error for error in refused.value.errors() if error["loc"] == (field,)]
    assert mine, refused.value
    assert "not true or false" in mine[0]["msg"]


def test_true_or_false_is_no_number_in_a_list_of_numbers() -> None:
    """`"peak_multiplier_bps": [true, ...]` priced every hour at one basis point, nearly nothing."""
    with pytest.raises(ValidationError) as refused:
        PolicyParametersIn.model_validate({"peak_multiplier_bps": [10_000] * 23 + [True]})
    mine = [error for error in refused.value.errors() if error["loc"] == ("peak_multiplier_bps",)]
    assert mine, refused.value
    assert "not true or false" in mine[0]["msg"]


def test_numbers_written_as_text_still_count_for_the_consoles_forms() -> None:
    assert Point.model_validate({"lat": "30.4627", "lon": "-84.2211"}).to_geo().lat == 30.4627
