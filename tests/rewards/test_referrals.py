"""The referral commission: a share of the referred shopper's first N deliveries, rounded half up."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from crowdship.errors import InvalidInput
from crowdship.units import Cents
from rewards.policy import PolicyParameters
from rewards.referrals import Referral, referral_commission

PARAMETERS = PolicyParameters(
    base_cents=300,
    per_extra_km_cents=0,
    per_extra_minute_cents=0,
    per_bag_cents=0,
    minimum_cents=0,
    referral_commission_bps=1_250,
    referral_first_deliveries=3,
)


def test_commission_is_paid_on_the_first_n_deliveries_only() -> None:
    """12.5 % of 420 ¢ is 52.5 ¢ → 53 ¢ on deliveries 1..3, nothing from the 4th."""
    assert [referral_commission(PARAMETERS, Cents(420), n) for n in (1, 2, 3, 4, 10)] == [53, 53, 53, 0, 0]


def test_delivery_numbers_count_from_one() -> None:
    """Delivery 0 does not exist."""
    with pytest.raises(InvalidInput):
        referral_commission(PARAMETERS, Cents(100), 0)


def test_a_shopper_cannot_refer_themselves() -> None:
    """Self-referral would be free money."""
    shopper = uuid4()
    with pytest.raises(InvalidInput, match="themselves"):
        Referral(shopper, shopper, datetime(2026, 11, 1, tzinfo=UTC), uuid4())
