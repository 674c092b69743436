"""What a delivery earns: the one pure function that prices it under a policy, and the helpers an offer
carrying several orders needs. The offer's quote and the ledger's credit both come from `compute_reward`, so
for the same inputs they are the same number of cents.

Rounding rule (integer cents, stated once): every component is computed exactly as a fraction (per-km and
per-minute rates are prorated to the metre and the second; multipliers are basis points, 10 000 = x1);
the multiplied subtotal is rounded once, half up, to whole cents. Then the minimum is applied, then the
daily and weekly caps (a cap can take a reward below the minimum, down to zero). If the shopper takes store
credit, the store-credit bonus multiplies the capped cash value and that product is rounded half up again.
Caps bound the cash value, so a shopper earns the same capped value whichever way they are paid. Last, no
delivery is credited more than `MAX_REWARD_CENTS`, whatever the policy says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from fractions import Fraction

from crowdship.errors import InvalidInput
from crowdship.units import BASIS_POINTS, Cents
from dispatch.matching.reward_rule import RewardTerms
from dispatch.model import TrustTier
from rewards.breakdown import PricedSteps, RewardComponent, explain
from rewards.policy import (
    MAX_REWARD_CENTS,
    EarningsSoFar,
    PaymentMethod,
    PolicyParameters,
    RewardInputs,
    local_hour,
    round_half_up,
)
from rewards.policy_versions import RewardPolicy


class CapApplied(StrEnum):
    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"


@dataclass(frozen=True)
class RewardQuote:
    """The price of a delivery and how it was reached, for the offer, the ledger and finance."""

    policy_version: int
    method: PaymentMethod
    distance_component: Fraction
    duration_component: Fraction
    bags_component: int
    base_cents: int
    peak_multiplier_bps: int
    tier_multiplier_bps: int
    rounded_cents: Cents
    """The multiplied subtotal, rounded half up."""
    after_minimum_cents: Cents
    cap_applied: CapApplied
    cash_value_cents: Cents
    """What the delivery is worth in cash, after minimum and caps; this is what the caps count."""
    amount_cents: Cents
    """What is credited: the cash value, or the cash value with the store-credit bonus."""
    ceiling_applied: bool = False
    """The per-delivery ceiling (`MAX_REWARD_CENTS`) cut the cash value or the amount."""
    components: tuple[RewardComponent, ...] = ()
    """How the amount was reached, in whole cents that add up to `amount_cents` (`rewards.breakdown`)."""


def compute_reward(
    policy: RewardPolicy, inputs: RewardInputs, earned: EarningsSoFar, *, explained: bool = True
) -> RewardQuote:
    """The reward for one delivery; pure, so an offer's quote and the credit agree to the cent. Without
    `explained` the quote carries no components (a check of thousands of amounts needs only the amounts)."""
    p = policy.parameters
    extra_metres = max(0, inputs.extra_distance_m - p.included_distance_m)
    extra_seconds = max(0, inputs.extra_duration_s - p.included_duration_s)
    distance_component = Fraction(extra_metres * p.per_extra_km_cents, 1000)
    duration_component = Fraction(extra_seconds * p.per_extra_minute_cents, 60)
    bags_component = inputs.bags * p.per_bag_cents
    subtotal = p.base_cents + distance_component + duration_component + bags_component
    peak = p.peak_multiplier_bps[inputs.local_hour]
    tier = p.tier_multiplier_bps[int(inputs.trust_tier)]
    rounded = round_half_up(subtotal * peak * tier / (BASIS_POINTS * BASIS_POINTS))
    after_minimum = Cents(max(rounded, p.minimum_cents))

    cash_value = after_minimum
    cap_applied = CapApplied.NONE
    if p.daily_cap_cents is not None:
        room = max(0, p.daily_cap_cents - earned.today_cents)
        if cash_value > room:
            cash_value, cap_applied = Cents(room), CapApplied.DAILY
    after_daily_cap = cash_value
    if p.weekly_cap_cents is not None:
        room = max(0, p.weekly_cap_cents - earned.this_week_cents)
        if cash_value > room:
            cash_value, cap_applied = Cents(room), CapApplied.WEEKLY
    after_weekly_cap = cash_value

    ceiling_applied = cash_value > MAX_REWARD_CENTS
    cash_value = Cents(min(cash_value, MAX_REWARD_CENTS))
    if inputs.method is PaymentMethod.STORE_CREDIT:
        amount = round_half_up(Fraction(cash_value * p.store_credit_bonus_bps, BASIS_POINTS))
    else:
        amount = cash_value
    amount_before_ceiling = amount
    if amount > MAX_REWARD_CENTS:
        amount, ceiling_applied = Cents(MAX_REWARD_CENTS), True
    steps = PricedSteps(
        distance=distance_component,
        duration=duration_component,
        bags=bags_component,
        base=p.base_cents,
        peak_bps=peak,
        tier_bps=tier,
        rounded=rounded,
        after_minimum=after_minimum,
        after_daily_cap=after_daily_cap,
        after_weekly_cap=after_weekly_cap,
        cash_value=cash_value,
        store_credit=inputs.method is PaymentMethod.STORE_CREDIT,
        bonus_bps=p.store_credit_bonus_bps,
        amount_before_ceiling=amount_before_ceiling,
        amount=amount,
    )
    return RewardQuote(
        policy_version=policy.version,
        method=inputs.method,
        distance_component=distance_component,
        duration_component=duration_component,
        bags_component=bags_component,
        base_cents=p.base_cents,
        peak_multiplier_bps=peak,
        tier_multiplier_bps=tier,
        rounded_cents=rounded,
        after_minimum_cents=after_minimum,
        cap_applied=cap_applied,
        cash_value_cents=cash_value,
        amount_cents=amount,
        ceiling_applied=ceiling_applied,
        components=explain(steps, p, inputs, earned) if explained else (),
    )


def day_and_week_bounds(
    instant: datetime, parameters: PolicyParameters
) -> tuple[datetime, datetime, datetime, datetime]:
    """[day start, day end) and [week start, week end) around `instant` in the policy's zone, in UTC.

    Weeks start on Monday; local midnights are found on wall-clock dates, so a day can last 23 or 25 hours.
    """
    local = instant.astimezone(parameters.zone())
    day_start_local = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week_start_local = day_start_local - timedelta(days=local.weekday())
    zone = parameters.zone()

    def at_midnight(day: datetime) -> datetime:
        # Adding days on wall-clock dates keeps midnight across daylight-saving changes.
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)

    day_start = at_midnight(day_start_local)
    day_end = at_midnight(day_start_local + timedelta(days=1))
    week_start = at_midnight(week_start_local)
    week_end = at_midnight(week_start_local + timedelta(days=7))
    return day_start, day_end, week_start, week_end


def split_evenly(total: int, parts: int) -> list[int]:
    """`total` in `parts` whole shares that differ by at most one and sum to `total`; the first take the rest."""
    if parts < 1:
        raise InvalidInput("parts", "split into at least one part")
    share, rest = divmod(total, parts)
    return [share + (1 if index < rest else 0) for index in range(parts)]


def bundle_inputs(
    *,
    extra_distance_m: int,
    extra_duration_s: int,
    bags_per_stop: Sequence[int],
    local_hour: int,
    trust_tier: TrustTier,
    method: PaymentMethod,
) -> list[RewardInputs]:
    """One offer carrying several orders: each order is rewarded for its own bags and an even share of the
    offer's extra distance and time, so that every delivery is credited on its own, in its own transaction.
    """
    stops = len(bags_per_stop)
    return [
        RewardInputs(
            extra_distance_m=distance,
            extra_duration_s=duration,
            bags=bags,
            local_hour=local_hour,
            trust_tier=trust_tier,
            method=method,
        )
        for distance, duration, bags in zip(
            split_evenly(extra_distance_m, stops), split_evenly(extra_duration_s, stops), bags_per_stop, strict=True
        )
    ]


def quote_bundle(policy: RewardPolicy, stops: Sequence[RewardInputs], earned: EarningsSoFar) -> list[RewardQuote]:
    """The quotes of an offer's orders, in delivery order, each counting the ones before it towards the caps;
    their sum is the offer's quote and equals what the deliveries credit when nothing else is earned between.
    """
    quotes = []
    today, week = earned.today_cents, earned.this_week_cents
    for inputs in stops:
        quote = compute_reward(policy, inputs, EarningsSoFar(today, week))
        quotes.append(quote)
        today += quote.cash_value_cents
        week += quote.cash_value_cents
    return quotes


def matcher_terms(
    policy: RewardPolicy, at: datetime, trust_tier: TrustTier, method: PaymentMethod, earned: EarningsSoFar
) -> RewardTerms:
    """The policy as the matcher's `reward` rule for one shopper at one instant: for any bundle, the rule's
    price is the sum of `quote_bundle`'s amounts for the offer made at `at` (the bundle's visiting order)."""
    p = policy.parameters
    rooms = [
        cap - spent
        for cap, spent in ((p.daily_cap_cents, earned.today_cents), (p.weekly_cap_cents, earned.this_week_cents))
        if cap is not None
    ]
    return RewardTerms(
        base=p.base_cents,
        per_bag=p.per_bag_cents,
        per_km=p.per_extra_km_cents,
        per_minute=p.per_extra_minute_cents,
        minimum=p.minimum_cents,
        included_m=p.included_distance_m,
        included_s=p.included_duration_s,
        multiplier_bps=(p.peak_multiplier_bps[local_hour(at, p)], p.tier_multiplier_bps[int(trust_tier)]),
        room=max(0, min(rooms)) if rooms else None,
        bonus_bps=p.store_credit_bonus_bps if method is PaymentMethod.STORE_CREDIT else BASIS_POINTS,
        ceiling=MAX_REWARD_CENTS,
    )
