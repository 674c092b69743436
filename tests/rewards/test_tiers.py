"""Trust tiers follow the record: up one step at a time on a good record, down at once on incidents."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdship.errors import InvalidInput
from dispatch.model import TrustTier
from rewards.tiers import ShopperRecord, TierRules, earned_tier, next_tier


def test_a_new_shopper_without_deliveries_stays_new() -> None:
    """No record, no trust."""
    assert next_tier(TrustTier.NEW, ShopperRecord(0, 0, 0)) is TrustTier.NEW


def test_a_strong_record_moves_up_one_tier_per_review() -> None:
    """A gold-worthy record takes a new shopper to bronze, then silver, then gold, one review at a time."""
    record = ShopperRecord(deliveries=300, on_time_deliveries=295, incidents=0)
    assert earned_tier(record, TierRules()) is TrustTier.GOLD
    tier = TrustTier.NEW
    seen = []
    for _ in range(4):
        tier = next_tier(tier, record)
        seen.append(tier)
    assert seen == [TrustTier.BRONZE, TrustTier.SILVER, TrustTier.GOLD, TrustTier.GOLD]


def test_an_incident_moves_a_gold_shopper_down_at_once() -> None:
    """One incident in the window rules out silver and gold: straight down to bronze."""
    record = ShopperRecord(deliveries=300, on_time_deliveries=295, incidents=1)
    assert next_tier(TrustTier.GOLD, record) is TrustTier.BRONZE


def test_repeated_incidents_take_a_shopper_back_to_new() -> None:
    """Two incidents exceed even bronze's allowance."""
    assert next_tier(TrustTier.SILVER, ShopperRecord(80, 80, 2)) is TrustTier.NEW


def test_a_tier_operations_set_is_taken_away_for_conduct_not_for_want_of_deliveries() -> None:
    """Silver set by hand with 3 deliveries: a review keeps silver on a clean record, one incident takes it to
    bronze (the most that one incident allows), two to new; a few late deliveries are too few to judge."""
    assert next_tier(TrustTier.SILVER, ShopperRecord(3, 3, 0)) is TrustTier.SILVER
    assert next_tier(TrustTier.SILVER, ShopperRecord(3, 1, 0)) is TrustTier.SILVER
    assert next_tier(TrustTier.SILVER, ShopperRecord(3, 3, 1)) is TrustTier.BRONZE
    assert next_tier(TrustTier.SILVER, ShopperRecord(3, 3, 2)) is TrustTier.NEW


def test_a_long_record_of_lateness_takes_a_gold_shopper_down_to_what_it_supports() -> None:
    """300 deliveries, 90 % on time: below gold's 95 %, enough for silver."""
    assert next_tier(TrustTier.GOLD, ShopperRecord(300, 270, 0)) is TrustTier.SILVER


def test_lateness_keeps_a_busy_shopper_below_silver() -> None:
    """Many deliveries but 85 % on time is bronze, not silver."""
    assert earned_tier(ShopperRecord(100, 85, 0), TierRules()) is TrustTier.BRONZE


def test_impossible_records_are_refused() -> None:
    """More on-time deliveries than deliveries is a bad record, named by its field."""
    with pytest.raises(InvalidInput, match="on_time_deliveries"):
        ShopperRecord(deliveries=3, on_time_deliveries=4, incidents=0)


records = st.builds(
    lambda deliveries, late, incidents: ShopperRecord(deliveries, deliveries - min(late, deliveries), incidents),
    st.integers(0, 400),
    st.integers(0, 400),
    st.integers(0, 5),
)


@settings(max_examples=200, deadline=None)
@given(current=st.sampled_from(list(TrustTier)), record=records, extra_incidents=st.integers(1, 3))
def test_more_incidents_never_raise_the_tier(current: TrustTier, record: ShopperRecord, extra_incidents: int) -> None:
    """Monotone in incidents; a review never climbs more than one step, nor falls below the earned tier."""
    worse = ShopperRecord(record.deliveries, record.on_time_deliveries, record.incidents + extra_incidents)
    assert next_tier(current, worse) <= next_tier(current, record)
    assert next_tier(current, record) <= current + 1
    assert next_tier(current, record) >= min(current, earned_tier(record, TierRules()))
