"""The reward price: rounding, minimum, caps, store-credit bonus, peak and tier multipliers, policy parsing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from crowdship.errors import InvalidInput
from dispatch.model import TrustTier
from rewards.breakdown import ComponentKind
from rewards.policy import (
    MAX_INCLUDED_DISTANCE_M,
    MAX_INCLUDED_DURATION_S,
    MAX_PARAMETER_CENTS,
    MAX_REFERRAL_FIRST_DELIVERIES,
    MAX_REWARD_CENTS,
    EarningsSoFar,
    PaymentMethod,
    PolicyParameters,
    RewardInputs,
    local_hour,
    round_half_up,
)
from rewards.policy_versions import PolicyStatus, PolicySuperseded, RewardPolicy
from rewards.pricing import CapApplied, compute_reward, day_and_week_bounds

CREATED = datetime(2026, 11, 1, tzinfo=UTC)


def a_policy(**overrides: Any) -> RewardPolicy:
    values: dict[str, Any] = {
        "base_cents": 300,
        "per_extra_km_cents": 50,
        "per_extra_minute_cents": 10,
        "per_bag_cents": 25,
        "minimum_cents": 0,
    }
    values.update(overrides)
    return RewardPolicy(version=1, parameters=PolicyParameters(**values), created_by=uuid4(), created_at=CREATED)


def some_inputs(**overrides: Any) -> RewardInputs:
    values: dict[str, Any] = {
        "extra_distance_m": 0,
        "extra_duration_s": 0,
        "bags": 1,
        "local_hour": 12,
        "trust_tier": TrustTier.NEW,
        "method": PaymentMethod.CASH,
    }
    values.update(overrides)
    return RewardInputs(**values)


NOTHING_EARNED = EarningsSoFar()


def test_round_half_up_rounds_halves_up_and_the_rest_to_nearest() -> None:
    """0.5 ¢ goes up, 0.49… ¢ down, 0.51 ¢ up: the stated rounding rule."""
    assert round_half_up(Fraction(1, 2)) == 1
    assert round_half_up(Fraction(49, 100)) == 0
    assert round_half_up(Fraction(251, 2)) == 126
    assert round_half_up(Fraction(12549, 100)) == 125
    assert round_half_up(Fraction(12551, 100)) == 126


def test_components_are_prorated_and_rounded_once_at_the_end() -> None:
    """1 234 m at 50 ¢/km is 61.7 ¢ and 45 s at 10 ¢/min is 7.5 ¢; only the total is rounded."""
    quote = compute_reward(a_policy(), some_inputs(extra_distance_m=1_234, extra_duration_s=45), NOTHING_EARNED)
    assert quote.distance_component == Fraction(617, 10)
    assert quote.duration_component == Fraction(15, 2)
    # 300 + 61.7 + 7.5 + 25 = 394.2 → 394 (rounding each part first would give 62 + 8 → 395).
    assert quote.rounded_cents == 394
    assert quote.amount_cents == 394


def test_included_distance_and_duration_are_not_charged() -> None:
    """Only the metres and seconds beyond the included ones earn the per-km and per-minute rates."""
    policy = a_policy(included_distance_m=1_000, included_duration_s=120)
    quote = compute_reward(policy, some_inputs(extra_distance_m=3_000, extra_duration_s=100), NOTHING_EARNED)
    assert quote.distance_component == 100
    assert quote.duration_component == 0
    assert quote.amount_cents == 300 + 100 + 25


def test_peak_and_tier_multipliers_multiply_the_subtotal() -> None:
    """x1.5 at 18h and x1.1 for silver turn 400 ¢ into 660 ¢; other hours are not peak."""
    peak = [10_000] * 24
    peak[18] = 15_000
    policy = a_policy(peak_multiplier_bps=tuple(peak), tier_multiplier_bps=(10_000, 10_000, 11_000, 12_000))
    at_peak = compute_reward(policy, some_inputs(bags=4, local_hour=18, trust_tier=TrustTier.SILVER), NOTHING_EARNED)
    off_peak = compute_reward(policy, some_inputs(bags=4, local_hour=17, trust_tier=TrustTier.SILVER), NOTHING_EARNED)
    assert at_peak.amount_cents == 660
    assert off_peak.amount_cents == 440


def test_minimum_lifts_a_small_reward() -> None:
    """A reward below the minimum is paid the minimum."""
    quote = compute_reward(a_policy(base_cents=100, minimum_cents=250), some_inputs(), NOTHING_EARNED)
    assert quote.rounded_cents == 125
    assert quote.amount_cents == 250


def test_daily_cap_limits_to_what_is_left_of_the_day() -> None:
    """With 4 900 ¢ of a 5 000 ¢ daily cap earned, a 325 ¢ reward pays 100 ¢."""
    quote = compute_reward(a_policy(daily_cap_cents=5_000), some_inputs(), EarningsSoFar(4_900, 4_900))
    assert quote.cap_applied is CapApplied.DAILY
    assert quote.amount_cents == 100


def test_weekly_cap_applies_even_when_the_day_has_room() -> None:
    """The tighter of the two caps wins, and a cap reached pays nothing, below the minimum."""
    policy = a_policy(daily_cap_cents=5_000, weekly_cap_cents=20_000, minimum_cents=250)
    quote = compute_reward(policy, some_inputs(), EarningsSoFar(0, 20_000))
    assert quote.cap_applied is CapApplied.WEEKLY
    assert quote.amount_cents == 0


def test_store_credit_pays_the_bonus_on_the_capped_cash_value() -> None:
    """At x1.2 store credit, a 325 ¢ reward is 390 ¢ of credit, and caps count the 325 ¢."""
    policy = a_policy(store_credit_bonus_bps=12_000)
    credit = compute_reward(policy, some_inputs(method=PaymentMethod.STORE_CREDIT), NOTHING_EARNED)
    cash = compute_reward(policy, some_inputs(method=PaymentMethod.CASH), NOTHING_EARNED)
    assert cash.amount_cents == 325
    assert credit.cash_value_cents == 325
    assert credit.amount_cents == 390


def test_store_credit_bonus_rounds_half_up() -> None:
    """333 ¢ at x1.15 is 382.95 ¢ → 383 ¢."""
    policy = a_policy(base_cents=308, store_credit_bonus_bps=11_500)
    quote = compute_reward(policy, some_inputs(method=PaymentMethod.STORE_CREDIT), NOTHING_EARNED)
    assert quote.cash_value_cents == 333
    assert quote.amount_cents == 383


amounts = st.integers(min_value=0, max_value=5_000)


@settings(max_examples=200, deadline=None)
@given(
    base=amounts,
    per_km=amounts,
    per_min=amounts,
    per_bag=amounts,
    minimum=amounts,
    distance=st.integers(0, 50_000),
    duration=st.integers(0, 7_200),
    bags=st.integers(1, 10),
    hour=st.integers(0, 23),
    tier=st.sampled_from(list(TrustTier)),
    peak=st.integers(5_000, 30_000),
    bonus=st.integers(10_000, 15_000),
    daily_cap=st.one_of(st.none(), st.integers(0, 20_000)),
    today=st.integers(0, 30_000),
    method=st.sampled_from(list(PaymentMethod)),
)
def test_reward_stays_within_cap_room_and_matches_an_exact_recomputation(
    base: int,
    per_km: int,
    per_min: int,
    per_bag: int,
    minimum: int,
    distance: int,
    duration: int,
    bags: int,
    hour: int,
    tier: TrustTier,
    peak: int,
    bonus: int,
    daily_cap: int | None,
    today: int,
    method: PaymentMethod,
) -> None:
    """For any policy and inputs: integer cents, never above the cap's room nor the per-delivery ceiling, equal
    to an independent formula; the same quote when it is not explained, without its components."""
    assume(daily_cap is None or minimum <= daily_cap)  # a policy with a minimum above its cap is refused
    policy = a_policy(
        base_cents=base,
        per_extra_km_cents=per_km,
        per_extra_minute_cents=per_min,
        per_bag_cents=per_bag,
        minimum_cents=minimum,
        peak_multiplier_bps=(peak,) * 24,
        store_credit_bonus_bps=bonus,
        daily_cap_cents=daily_cap,
    )
    inputs = some_inputs(
        extra_distance_m=distance, extra_duration_s=duration, bags=bags, local_hour=hour, trust_tier=tier, method=method
    )
    quote = compute_reward(policy, inputs, EarningsSoFar(today, today))

    # Independent recomputation in integers: everything scaled by 60 000 (m·min) x 10 000 (bps), half up.
    scaled = (base * 60_000 + distance * per_km * 60 + duration * per_min * 1_000 + bags * per_bag * 60_000) * peak
    denominator = 60_000 * 10_000
    expected = max((2 * scaled + denominator) // (2 * denominator), minimum)
    if daily_cap is not None:
        expected = min(expected, max(0, daily_cap - today))
    expected = min(expected, MAX_REWARD_CENTS)
    assert quote.cash_value_cents == expected
    if method is PaymentMethod.CASH:
        assert quote.amount_cents == expected
    else:
        assert quote.amount_cents == min(MAX_REWARD_CENTS, (2 * expected * bonus + 10_000) // 20_000)
        assert quote.amount_cents >= expected
    assert quote.amount_cents <= MAX_REWARD_CENTS
    assert isinstance(quote.amount_cents, int)
    if daily_cap is not None:
        assert quote.cash_value_cents <= max(0, daily_cap - today)
    unexplained = compute_reward(policy, inputs, EarningsSoFar(today, today), explained=False)
    assert unexplained == replace(quote, components=())


def test_parameters_round_trip_through_json() -> None:
    """What is stored is what is read back."""
    parameters = a_policy(daily_cap_cents=100, timezone="Europe/Amsterdam").parameters
    assert PolicyParameters.from_json(parameters.to_json()) == parameters


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"base_cents": -1}, "base_cents"),
        ({"base_cents": 1.5}, "base_cents"),
        ({"peak_multiplier_bps": [10_000] * 23}, "peak_multiplier_bps"),
        ({"store_credit_bonus_bps": 9_000}, "store_credit_bonus_bps"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "Asia"}, "timezone"),
        ({"daily_cap_cents": 10, "weekly_cap_cents": 5}, "daily_cap_cents"),
        ({"bonus_for_friends": 1}, "bonus_for_friends"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    """Ops get an error that names the parameter they got wrong."""
    data = a_policy().parameters.to_json() | change
    with pytest.raises(InvalidInput) as raised:
        PolicyParameters.from_json(data)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("field", "bound"),
    [
        ("per_extra_km_cents", MAX_PARAMETER_CENTS),
        ("per_extra_minute_cents", MAX_PARAMETER_CENTS),
        ("per_bag_cents", MAX_PARAMETER_CENTS),
        ("daily_cap_cents", MAX_PARAMETER_CENTS),
        ("weekly_cap_cents", MAX_PARAMETER_CENTS),
        ("included_distance_m", MAX_INCLUDED_DISTANCE_M),
        ("included_duration_s", MAX_INCLUDED_DURATION_S),
        ("referral_first_deliveries", MAX_REFERRAL_FIRST_DELIVERIES),
    ],
)
def test_rates_caps_and_counts_beyond_their_bound_are_refused_whoever_writes_the_policy(field: str, bound: int) -> None:
    """The CLI hands the domain a JSON file as it is: a per-km rate of 2^63 cents was accepted there, while the
    API refused anything above a million; the bound is the domain's, so every entry point refuses alike."""
    base = a_policy().parameters.to_json() | {"daily_cap_cents": None, "weekly_cap_cents": None}
    assert getattr(PolicyParameters.from_json(base | {field: bound}), field) == bound
    for beyond in (bound + 1, 2**63):
        with pytest.raises(InvalidInput, match=f"must be at most {bound}") as raised:
            PolicyParameters.from_json(base | {field: beyond})
        assert raised.value.field == field


def test_inputs_are_validated() -> None:
    """No bags or an hour of 24 are not inputs a delivery can have."""
    with pytest.raises(InvalidInput, match="bags"):
        some_inputs(bags=0)
    with pytest.raises(InvalidInput, match="local_hour"):
        some_inputs(local_hour=24)


def test_days_and_weeks_are_counted_in_the_policy_time_zone() -> None:
    """23:30 UTC on a Sunday is already Monday in Amsterdam: a new day and a new week there."""
    parameters = a_policy(timezone="Europe/Amsterdam").parameters
    instant = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)  # Sunday in UTC, Monday 00:30 in Amsterdam
    day_start, day_end, week_start, week_end = day_and_week_bounds(instant, parameters)
    assert day_start == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    assert day_end == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    assert week_start == day_start
    assert week_end == datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    assert local_hour(instant, parameters) == 0


def test_a_day_across_the_clock_change_is_23_hours_long() -> None:
    """On the spring-forward Sunday the local day has 23 hours; the bounds follow local midnights."""
    parameters = a_policy(timezone="Europe/Amsterdam").parameters
    day_start, day_end, _, _ = day_and_week_bounds(datetime(2026, 3, 29, 12, tzinfo=UTC), parameters)
    assert (day_end - day_start).total_seconds() == 23 * 3600


def test_no_delivery_earns_more_than_the_ceiling_whatever_the_policy() -> None:
    """A generous policy (x5 at peak, x2 in store credit) still credits at most the ceiling, and says so."""
    policy = a_policy(base_cents=4_000, per_extra_km_cents=2_000, peak_multiplier_bps=(50_000,) * 24)
    quote = compute_reward(policy, some_inputs(extra_distance_m=20_000), EarningsSoFar())
    assert (quote.cash_value_cents, quote.amount_cents, quote.ceiling_applied) == (MAX_REWARD_CENTS,) * 2 + (True,)
    generous = a_policy(base_cents=4_000, store_credit_bonus_bps=20_000)
    credit = compute_reward(generous, some_inputs(method=PaymentMethod.STORE_CREDIT), EarningsSoFar())
    assert credit.amount_cents == MAX_REWARD_CENTS
    assert credit.ceiling_applied
    assert credit.components[-1].kind is ComponentKind.CEILING
    assert sum(component.cents for component in credit.components) == MAX_REWARD_CENTS


def test_a_version_older_than_the_newest_approved_one_is_not_approved_but_may_be_rejected() -> None:
    """v3 waits while v4 is approved: approving v3 is a conflict naming v4 as in force and saying to propose
    anew; rejecting it, and approving a newer version than v4, go through."""
    v3 = replace(a_policy(), version=3)
    with pytest.raises(PolicySuperseded) as raised:
        v3.decide(PolicyStatus.APPROVED, actor_id=uuid4(), now=CREATED, newest_approved=4, in_force=4)
    assert raised.value.kind == "conflict"
    assert "version 4 was approved after it was proposed and is in force" in raised.value.message
    assert "propose them as a new version" in raised.value.message
    rejected = v3.decide(PolicyStatus.REJECTED, actor_id=uuid4(), now=CREATED, reason="superseded", newest_approved=4)
    assert rejected.status is PolicyStatus.REJECTED
    v5 = replace(a_policy(), version=5)
    approved = v5.decide(PolicyStatus.APPROVED, actor_id=uuid4(), now=CREATED, newest_approved=4, in_force=4)
    assert approved.status is PolicyStatus.APPROVED
