"""The matcher's `reward` rule reproduces the published policy to the cent: for any policy, bundle, hour,
tier, payment method and earnings so far, the rule's price of a route is the offer's quote (the sum of
`quote_bundle`), and its components add up to it. The hook reads the policy in force from storage."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdship.units import BASIS_POINTS, Cents
from dispatch.batching import QuoteRequest
from dispatch.matching.reward_rule import reward_cents, reward_components, route_cost
from dispatch.model import Order, Trip, TrustTier
from rewards.hooks import offer_quote, route_terms
from rewards.policy import EarningsSoFar, PaymentMethod, PolicyParameters, local_hour
from rewards.policy_versions import RewardPolicy
from rewards.pricing import bundle_inputs, matcher_terms, quote_bundle
from routing.geo import GeoPoint
from tests.rewards.conftest import NOW, OPS, World

policies = st.builds(
    PolicyParameters,
    base_cents=st.integers(0, 1_000),
    per_extra_km_cents=st.integers(0, 400),
    per_extra_minute_cents=st.integers(0, 100),
    per_bag_cents=st.integers(0, 200),
    minimum_cents=st.integers(0, 800),
    included_distance_m=st.integers(0, 3_000),
    included_duration_s=st.integers(0, 600),
    peak_multiplier_bps=st.lists(st.integers(5_000, 30_000), min_size=24, max_size=24).map(tuple),
    tier_multiplier_bps=st.lists(st.integers(5_000, 20_000), min_size=4, max_size=4).map(tuple),
    daily_cap_cents=st.one_of(st.none(), st.integers(800, 6_000)),
    weekly_cap_cents=st.one_of(st.none(), st.integers(6_000, 30_000)),
    store_credit_bonus_bps=st.integers(10_000, 20_000),
    timezone=st.sampled_from(["UTC", "America/New_York"]),
)


@settings(max_examples=300, deadline=None)
@given(
    parameters=policies,
    bags=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    extra_m=st.integers(0, 60_000),
    extra_s=st.integers(0, 7_200),
    hour=st.integers(0, 23),
    tier=st.sampled_from(list(TrustTier)),
    method=st.sampled_from(list(PaymentMethod)),
    today=st.integers(0, 8_000),
    week=st.integers(0, 40_000),
)
def test_the_reward_rule_prices_every_bundle_as_the_published_policy_quotes_it(
    parameters: PolicyParameters,
    bags: list[int],
    extra_m: int,
    extra_s: int,
    hour: int,
    tier: TrustTier,
    method: PaymentMethod,
    today: int,
    week: int,
) -> None:
    at = datetime(2026, 11, 18, hour, 20, tzinfo=UTC)
    policy = RewardPolicy(version=3, parameters=parameters, created_by=OPS, created_at=at - timedelta(days=1))
    earned = EarningsSoFar(today, max(today, week))
    stops = bundle_inputs(
        extra_distance_m=extra_m,
        extra_duration_s=extra_s,
        bags_per_stop=bags,
        local_hour=local_hour(at, parameters),
        trust_tier=tier,
        method=method,
    )
    quoted = sum(quote.amount_cents for quote in quote_bundle(policy, stops, earned))
    terms = matcher_terms(policy, at, tier, method, earned)
    assert reward_cents(terms, tuple(bags), extra_m, extra_s) == quoted
    components = reward_components(terms, bags, extra_m, extra_s)
    assert components["total"] == quoted
    assert sum(cents for name, cents in components.items() if name != "total") == quoted
    assert abs(components["rounding"]) <= 2 * len(bags)  # a cent or two per order, never a multiplier's worth
    if all(bps == BASIS_POINTS for bps in terms.multiplier_bps):
        assert components["multiplier"] == 0


def test_the_tie_break_never_moves_a_price_to_another_cent() -> None:
    """Equal prices go to the smaller detour by a fraction of a cent that rounds away: at 150 km, 0.015."""
    policy = RewardPolicy(
        version=1,
        parameters=PolicyParameters(base_cents=300, per_extra_km_cents=0, per_extra_minute_cents=0, per_bag_cents=0,
                                    minimum_cents=0),
        created_by=OPS,
        created_at=NOW,
    )  # fmt: skip
    terms = matcher_terms(policy, NOW, TrustTier.SILVER, PaymentMethod.CASH, EarningsSoFar())
    near, far = route_cost(terms, [1], 0.4, 0.5), route_cost(terms, [1], 150.0, 0.5)
    assert near < far
    assert round(near) == round(far) == 300
    assert replace(terms, tie_break=0).tie_break == 0


@pytest.mark.usefixtures("policy")
def test_the_hook_gives_the_matcher_the_terms_the_offer_is_quoted_by(world: World) -> None:
    """On both storages: the terms `route_terms` reads price a two-order route exactly as `offer_quote` does."""
    shopper = world.add_shopper()
    trip = Trip(
        shopper_id=shopper.id,
        store_id=world.store.id,
        destination=GeoPoint(52.40, 4.90),
        capacity_bags=6,
        checked_in_at=NOW - timedelta(minutes=5),
        leave_by=NOW + timedelta(minutes=30),
        max_detour_m=5_000,
    )
    orders: tuple[Order, ...] = (replace(world.order(), size_bags=3), replace(world.order(), size_bags=1))
    terms = route_terms(world.rewards)([(trip, shopper)], NOW)[trip.id]
    quote = offer_quote(world.rewards)(QuoteRequest(trip, shopper, orders, 2_345, 281, NOW))
    assert terms is not None
    assert reward_cents(terms, (3, 1), 2_345, 281) == quote
    assert quote == Cents(quote) > 0


@settings(max_examples=500, deadline=None)
@given(
    parameters=policies,
    bags=st.integers(1, 6),
    extra_m=st.integers(0, 60_000),
    extra_s=st.integers(0, 7_200),
    hour=st.integers(0, 23),
    tier=st.sampled_from(list(TrustTier)),
    method=st.sampled_from(list(PaymentMethod)),
)
def test_an_offer_explains_its_reward_in_the_cents_its_credit_will_show(
    parameters: PolicyParameters,
    bags: int,
    extra_m: int,
    extra_s: int,
    hour: int,
    tier: TrustTier,
    method: PaymentMethod,
) -> None:
    """The offer's breakdown (`reward_components`) and the credit's (`rewards.breakdown.explain`) round each
    component the same way: the same base, distance, time, bags, rounding, multipliers (the offer's one line is
    the credit's peak and tier lines together) and minimum, so a shopper comparing the two sees no cent move
    between lines."""
    at = datetime(2026, 11, 18, hour, 20, tzinfo=UTC)
    policy = RewardPolicy(version=3, parameters=parameters, created_by=OPS, created_at=at - timedelta(days=1))
    (inputs,) = bundle_inputs(
        extra_distance_m=extra_m,
        extra_duration_s=extra_s,
        bags_per_stop=[bags],
        local_hour=local_hour(at, parameters),
        trust_tier=tier,
        method=method,
    )
    (quote,) = quote_bundle(policy, [inputs], EarningsSoFar())
    credited: dict[str, int] = {}
    for component in quote.components:
        credited[component.kind.value] = credited.get(component.kind.value, 0) + component.cents
    offered = reward_components(matcher_terms(policy, at, tier, method, EarningsSoFar()), [bags], extra_m, extra_s)
    as_offered = {name: offered[name] for name in ("base", "distance", "duration", "bags", "rounding", "minimum")}
    as_offered["multipliers"] = offered["multiplier"]
    as_credited = {name: credited.get(name, 0) for name in ("base", "distance", "duration", "bags", "rounding")}
    as_credited["minimum"] = credited.get("minimum", 0)
    as_credited["multipliers"] = credited.get("peak", 0) + credited.get("tier", 0)
    assert as_offered == as_credited
