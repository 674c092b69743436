"""Referral bonus: whoever brings a new shopper earns a share of that shopper's first deliveries.

The share and the number of deliveries are policy data (`PolicyParameters.referral_*`), so they are
versioned with the rest of the reward policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from uuid import UUID

from crowdship.errors import InvalidInput
from crowdship.units import BASIS_POINTS, Cents
from rewards.policy import PolicyParameters, round_half_up


@dataclass(frozen=True)
class Referral:
    referrer_shopper_id: UUID
    referred_shopper_id: UUID
    created_at: datetime
    created_by: UUID
    repeated: bool = field(default=False, compare=False)
    """True when this is the referral as recorded before, given back to the one who recorded it asking again (a
    retry after a lost answer)."""

    def __post_init__(self) -> None:
        if self.referrer_shopper_id == self.referred_shopper_id:
            raise InvalidInput("referred_shopper_id", "a shopper cannot refer themselves")


def referral_commission(
    parameters: PolicyParameters, referred_cash_value: Cents, referred_delivery_number: int
) -> Cents:
    """The referrer's share of the referred shopper's n-th delivery (1-based), rounded half up; 0 after N."""
    if referred_delivery_number < 1:
        raise InvalidInput("referred_delivery_number", "counts from 1")
    if referred_delivery_number > parameters.referral_first_deliveries:
        return Cents(0)
    return round_half_up(Fraction(referred_cash_value * parameters.referral_commission_bps, BASIS_POINTS))
