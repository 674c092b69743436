"""How a reward was reached, for finance and the shopper: a list of components in integer cents, each with a
label a person reads, that add up to the amount credited, to the cent.

The price itself is computed exactly (`rewards.pricing`: prorated distance and time as fractions, one
rounding of the multiplied subtotal); the breakdown shows each exact step in whole cents and names the
difference the single rounding makes as a component of its own, so nothing is hidden and the sum holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from crowdship.units import BASIS_POINTS, Cents, format_dollars, format_duration
from dispatch.model import TrustTier
from rewards.policy import MAX_REWARD_CENTS, EarningsSoFar, PolicyParameters, RewardInputs, round_half_up


class ComponentKind(StrEnum):
    BASE = "base"
    DISTANCE = "distance"
    DURATION = "duration"
    BAGS = "bags"
    ROUNDING = "rounding"
    PEAK = "peak"
    TIER = "tier"
    MINIMUM = "minimum"
    DAILY_CAP = "daily_cap"
    WEEKLY_CAP = "weekly_cap"
    CEILING = "ceiling"
    STORE_CREDIT_BONUS = "store_credit_bonus"


@dataclass(frozen=True)
class RewardComponent:
    """One step of a reward: what it adds (or, for caps and ceilings, takes away) in whole cents."""

    kind: ComponentKind
    label: str
    cents: int

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "label": self.label, "cents": self.cents}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RewardComponent:
        return cls(kind=ComponentKind(data["kind"]), label=str(data["label"]), cents=int(data["cents"]))


def _times(bps: int) -> str:
    return f"x{bps / BASIS_POINTS:.2f}"


@dataclass(frozen=True)
class PricedSteps:
    """The exact intermediate values of one pricing, as `compute_reward` reaches them."""

    distance: Fraction
    duration: Fraction
    bags: int
    base: int
    peak_bps: int
    tier_bps: int
    rounded: int
    after_minimum: int
    after_daily_cap: int
    after_weekly_cap: int
    cash_value: int
    store_credit: bool
    bonus_bps: int
    amount_before_ceiling: int
    amount: int


def explain(
    steps: PricedSteps, parameters: PolicyParameters | None, inputs: RewardInputs | None, earned: EarningsSoFar | None
) -> tuple[RewardComponent, ...]:
    """The components of one pricing; they sum to `steps.amount`. Labels name the inputs when given."""
    components: list[RewardComponent] = []

    def add(kind: ComponentKind, label: str, cents: int, *, always: bool = False) -> None:
        if always or cents != 0:
            components.append(RewardComponent(kind, label, cents))

    p, i = parameters, inputs
    distance, duration = round_half_up(steps.distance), round_half_up(steps.duration)
    add(ComponentKind.BASE, "Base reward", steps.base, always=True)
    add(
        ComponentKind.DISTANCE,
        f"Extra distance: {max(0, i.extra_distance_m - p.included_distance_m)} m beyond the "
        f"{p.included_distance_m} m included, at {format_dollars(Cents(p.per_extra_km_cents))} per km"
        if p and i
        else "Extra distance",
        distance,
        always=True,
    )
    add(
        ComponentKind.DURATION,
        f"Extra time: {format_duration(max(0, i.extra_duration_s - p.included_duration_s))} beyond the "
        f"{format_duration(p.included_duration_s)} included, at "
        f"{format_dollars(Cents(p.per_extra_minute_cents))} per minute"
        if p and i
        else "Extra time",
        duration,
        always=True,
    )
    add(
        ComponentKind.BAGS,
        f"{i.bags} bag{'s' if i.bags != 1 else ''} at {format_dollars(Cents(p.per_bag_cents))} each"
        if p and i
        else "Bags",
        steps.bags,
        always=True,
    )
    subtotal = steps.base + steps.distance + steps.duration + steps.bags
    add(
        ComponentKind.ROUNDING,
        "Rounding: distance and time are prorated exactly and the subtotal is rounded once, half up",
        round_half_up(subtotal) - (steps.base + distance + duration + steps.bags),
    )
    after_peak = round_half_up(subtotal * steps.peak_bps / BASIS_POINTS)
    hour = f" at local hour {i.local_hour}" if i else ""
    add(
        ComponentKind.PEAK,
        f"Peak multiplier {_times(steps.peak_bps)}{hour}",
        after_peak - round_half_up(subtotal),
        always=True,
    )
    tier = f" for a {TrustTier(i.trust_tier).name.lower()} shopper" if i else ""
    add(
        ComponentKind.TIER,
        f"Trust tier multiplier {_times(steps.tier_bps)}{tier}",
        steps.rounded - after_peak,
        always=True,
    )
    minimum = f" of {format_dollars(Cents(p.minimum_cents))}" if p else ""
    add(ComponentKind.MINIMUM, f"Raised to the policy's minimum{minimum}", steps.after_minimum - steps.rounded)
    daily = (
        f"Daily cap of {format_dollars(Cents(p.daily_cap_cents))}: "
        f"{format_dollars(Cents(earned.today_cents))} already earned today"
        if p and earned and p.daily_cap_cents is not None
        else "Daily cap"
    )
    add(ComponentKind.DAILY_CAP, daily, steps.after_daily_cap - steps.after_minimum)
    weekly = (
        f"Weekly cap of {format_dollars(Cents(p.weekly_cap_cents))}: "
        f"{format_dollars(Cents(earned.this_week_cents))} already earned this week"
        if p and earned and p.weekly_cap_cents is not None
        else "Weekly cap"
    )
    add(ComponentKind.WEEKLY_CAP, weekly, steps.after_weekly_cap - steps.after_daily_cap)
    ceiling = f"Per-delivery ceiling of {format_dollars(Cents(MAX_REWARD_CENTS))}"
    add(ComponentKind.CEILING, ceiling, steps.cash_value - steps.after_weekly_cap)
    if steps.store_credit:
        add(
            ComponentKind.STORE_CREDIT_BONUS,
            f"Store-credit bonus {_times(steps.bonus_bps)} on the cash value",
            steps.amount_before_ceiling - steps.cash_value,
            always=True,
        )
    add(ComponentKind.CEILING, ceiling, steps.amount - steps.amount_before_ceiling)
    return tuple(components)


def components_from_json(data: Any) -> tuple[RewardComponent, ...]:
    """Components as stored. Rewards credited before the components existed kept a mapping of the quote's
    fields with the prorated parts as fraction strings ("17/25"); they are explained from those, in cents."""
    if isinstance(data, Sequence) and not isinstance(data, str):
        return tuple(RewardComponent.from_json(item) for item in data)
    if not isinstance(data, Mapping):
        raise ValueError("a reward breakdown is a list of components")
    cap = data.get("cap_applied", "none")
    after_minimum = int(data["after_minimum_cents"])
    cash_value = int(data["cash_value_cents"])
    capped = cash_value if not data.get("ceiling_applied") else min(after_minimum, cash_value)
    amount = int(data["amount_cents"])
    steps = PricedSteps(
        distance=Fraction(str(data["distance_component"])),
        duration=Fraction(str(data["duration_component"])),
        bags=int(data["bags_component"]),
        base=int(data["base_cents"]),
        peak_bps=int(data["peak_multiplier_bps"]),
        tier_bps=int(data["tier_multiplier_bps"]),
        rounded=int(data["rounded_cents"]),
        after_minimum=after_minimum,
        after_daily_cap=capped if cap == "daily" else after_minimum,
        after_weekly_cap=capped if cap in ("daily", "weekly") else after_minimum,
        cash_value=cash_value,
        store_credit=data.get("method") == "store_credit",
        bonus_bps=round(amount * BASIS_POINTS / cash_value) if cash_value else BASIS_POINTS,
        amount_before_ceiling=amount,
        amount=amount,
    )
    return explain(steps, None, None, None)
