"""A reward's breakdown: components in whole cents, each with a label naming its inputs, adding up to the
amount credited; rewards stored before the components existed are explained the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from crowdship.errors import InvalidInput
from dispatch.model import TrustTier
from rewards.breakdown import ComponentKind, RewardComponent, components_from_json
from rewards.policy import MAX_REWARD_CENTS, EarningsSoFar, PaymentMethod, PolicyParameters, RewardInputs
from rewards.policy_versions import RewardPolicy
from rewards.pricing import compute_reward

NOTHING_EARNED = EarningsSoFar()


def a_policy(**overrides: Any) -> RewardPolicy:
    values: dict[str, Any] = {"base_cents": 300, "per_extra_km_cents": 50, "per_extra_minute_cents": 10}
    values |= {"per_bag_cents": 25, "minimum_cents": 0} | overrides
    parameters = PolicyParameters(**values)
    return RewardPolicy(
        version=1, parameters=parameters, created_by=uuid4(), created_at=datetime(2026, 11, 1, tzinfo=UTC)
    )


def some_inputs(**overrides: Any) -> RewardInputs:
    values: dict[str, Any] = {"extra_distance_m": 0, "extra_duration_s": 0, "bags": 1, "local_hour": 12}
    values |= {"trust_tier": TrustTier.NEW, "method": PaymentMethod.CASH} | overrides
    return RewardInputs(**values)


def test_prorated_parts_are_whole_cents_and_the_single_rounding_is_named() -> None:
    """61.7 ¢ of distance and 7.5 ¢ of time show as 62 and 8; the one rounding of 394.2 takes 1 ¢ back."""
    quote = compute_reward(a_policy(), some_inputs(extra_distance_m=1_234, extra_duration_s=45), NOTHING_EARNED)
    by_kind = {component.kind: component for component in quote.components}
    assert by_kind[ComponentKind.DISTANCE].cents == 62
    assert by_kind[ComponentKind.DURATION].cents == 8
    assert by_kind[ComponentKind.ROUNDING].cents == -1
    assert sum(component.cents for component in quote.components) == quote.amount_cents == 394
    assert by_kind[ComponentKind.DISTANCE].label == "Extra distance: 1234 m beyond the 0 m included, at $0.50 per km"
    assert by_kind[ComponentKind.BAGS].label == "1 bag at $0.25 each"


def test_multipliers_caps_and_bonus_each_show_what_they_add_or_take() -> None:
    peak = [10_000] * 24
    peak[18] = 15_000
    policy = a_policy(peak_multiplier_bps=tuple(peak), daily_cap_cents=5_000, store_credit_bonus_bps=11_000)
    inputs = some_inputs(bags=4, local_hour=18, trust_tier=TrustTier.SILVER, method=PaymentMethod.STORE_CREDIT)
    quote = compute_reward(policy, inputs, EarningsSoFar(4_900, 4_900))
    cents = {component.kind: component.cents for component in quote.components}
    assert cents[ComponentKind.PEAK] == 200  # 400 x1.5
    assert cents[ComponentKind.DAILY_CAP] == 100 - 600
    assert cents[ComponentKind.STORE_CREDIT_BONUS] == 10  # x1.10 on the 100 ¢ left of the day
    assert sum(cents.values()) == quote.amount_cents == 110
    assert all(isinstance(component.cents, int) for component in quote.components)


@settings(max_examples=300, deadline=None)
@given(
    distance=st.integers(0, 50_000),
    duration=st.integers(0, 7_200),
    bags=st.integers(1, 10),
    hour=st.integers(0, 23),
    tier=st.sampled_from(list(TrustTier)),
    peak=st.integers(5_000, 50_000),
    bonus=st.integers(10_000, 20_000),
    minimum=st.integers(0, 2_000),
    daily_cap=st.one_of(st.none(), st.integers(0, 20_000)),
    weekly_cap=st.one_of(st.none(), st.integers(0, 60_000)),
    today=st.integers(0, 30_000),
    method=st.sampled_from(list(PaymentMethod)),
)
def test_components_always_add_up_to_the_amount_credited(
    distance: int,
    duration: int,
    bags: int,
    hour: int,
    tier: TrustTier,
    peak: int,
    bonus: int,
    minimum: int,
    daily_cap: int | None,
    weekly_cap: int | None,
    today: int,
    method: PaymentMethod,
) -> None:
    try:
        policy = a_policy(
            base_cents=1_000,
            per_extra_km_cents=700,
            peak_multiplier_bps=(peak,) * 24,
            store_credit_bonus_bps=bonus,
            minimum_cents=minimum,
            daily_cap_cents=daily_cap,
            weekly_cap_cents=weekly_cap,
        )
    except InvalidInput:
        assume(False)
    inputs = some_inputs(
        extra_distance_m=distance, extra_duration_s=duration, bags=bags, local_hour=hour, trust_tier=tier, method=method
    )
    quote = compute_reward(policy, inputs, EarningsSoFar(today, today))
    assert sum(component.cents for component in quote.components) == quote.amount_cents
    assert quote.amount_cents <= MAX_REWARD_CENTS
    stored = [component.to_json() for component in quote.components]
    assert components_from_json(stored) == quote.components


def test_a_breakdown_stored_before_components_existed_is_explained_in_cents() -> None:
    """The old record mixed fraction strings ("617/10") with cents; it reads back as whole-cent components."""
    quote = compute_reward(a_policy(), some_inputs(extra_distance_m=1_234, extra_duration_s=45), NOTHING_EARNED)
    legacy: dict[str, Any] = {
        "policy_version": 1,
        "method": "cash",
        "base_cents": 300,
        "distance_component": "617/10",
        "duration_component": "15/2",
        "bags_component": 25,
        "peak_multiplier_bps": 10_000,
        "tier_multiplier_bps": 10_000,
        "rounded_cents": 394,
        "after_minimum_cents": 394,
        "cap_applied": "none",
        "cash_value_cents": 394,
        "amount_cents": 394,
        "ceiling_applied": False,
    }
    components = components_from_json(legacy)
    assert [(component.kind, component.cents) for component in components] == [
        (component.kind, component.cents) for component in quote.components
    ]
    assert sum(component.cents for component in components) == 394
    assert RewardComponent(ComponentKind.BASE, "Base reward", 300) in components
