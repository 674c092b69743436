"""The accounts' bodies read straight from domain objects: the fields the objects hold in another shape come out
as the API has always shown them. The shopper app's are in `test_shopper_schemas`."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from api.money_schemas import StoreCreditRedemptionIn
from api.ops_records_schemas import ClaimIn
from api.schemas import Point, RegisterIn, ShopperOut
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


def test_numbers_written_as_text_still_count_for_the_consoles_forms() -> None:
    assert Point.model_validate({"lat": "30.4627", "lon": "-84.2211"}).to_geo().lat == 30.4627
