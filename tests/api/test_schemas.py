"""The accounts' bodies read straight from domain objects: the fields the objects hold in another shape come out
as the API has always shown them. The shopper app's are in `test_shopper_schemas`."""

from __future__ import annotations

from api.schemas import ShopperOut
from dispatch.model import Shopper, TrustTier


def test_a_shoppers_trust_tier_is_a_plain_number() -> None:
    body = ShopperOut.model_validate(Shopper(display_name="Ana", trust_tier=TrustTier.GOLD)).model_dump_json()
    assert '"trust_tier":3' in body
