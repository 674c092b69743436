"""Trust tiers from a shopper's record: a sustained good record moves them up, incidents move them down.

A review moves a shopper up at most one tier (trust is earned step by step) but down as far as their conduct
says at once (an incident takes effect immediately). Conduct is incidents, and lateness once the record is
long enough to judge it; too few deliveries never take away a tier operations gave someone they know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from crowdship.errors import InvalidInput
from dispatch.model import TrustTier


@dataclass(frozen=True)
class ShopperRecord:
    """What a review looks at, counted over the review window (e.g. the last 90 days) by the caller."""

    deliveries: int
    on_time_deliveries: int
    incidents: int

    def __post_init__(self) -> None:
        for name in ("deliveries", "on_time_deliveries", "incidents"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise InvalidInput(name, "must be a whole number, not negative")
        if self.on_time_deliveries > self.deliveries:
            raise InvalidInput("on_time_deliveries", "cannot exceed deliveries")

    @property
    def on_time_rate(self) -> Fraction:
        return Fraction(self.on_time_deliveries, self.deliveries) if self.deliveries else Fraction(0)


@dataclass(frozen=True)
class TierRequirement:
    min_deliveries: int
    min_on_time_rate: Fraction
    max_incidents: int


def _default_requirements() -> Mapping[TrustTier, TierRequirement]:
    return {
        TrustTier.BRONZE: TierRequirement(10, Fraction(80, 100), 1),
        TrustTier.SILVER: TierRequirement(50, Fraction(90, 100), 0),
        TrustTier.GOLD: TierRequirement(200, Fraction(95, 100), 0),
    }


@dataclass(frozen=True)
class TierRules:
    requirements: Mapping[TrustTier, TierRequirement] = field(default_factory=_default_requirements)


def earned_tier(record: ShopperRecord, rules: TierRules) -> TrustTier:
    """The highest tier whose requirements the record meets (and every tier below it)."""
    earned = TrustTier.NEW
    for tier in sorted(rules.requirements):
        need = rules.requirements[tier]
        meets = (
            record.deliveries >= need.min_deliveries
            and record.on_time_rate >= need.min_on_time_rate
            and record.incidents <= need.max_incidents
        )
        if not meets:
            break
        earned = tier
    return earned


def conduct_allows(record: ShopperRecord, rules: TierRules) -> TrustTier:
    """The highest tier (and every tier below it) whose incident allowance the record keeps, and whose
    on-time rate it keeps once it holds that tier's number of deliveries."""
    allowed = TrustTier.NEW
    for tier in sorted(rules.requirements):
        need = rules.requirements[tier]
        judged_late = record.deliveries >= need.min_deliveries and record.on_time_rate < need.min_on_time_rate
        if record.incidents > need.max_incidents or judged_late:
            break
        allowed = tier
    return allowed


def next_tier(current: TrustTier, record: ShopperRecord, rules: TierRules | None = None) -> TrustTier:
    """The tier after a review: up one step at most when the record earns more; else down at once to what
    the shopper's conduct allows, if that is lower."""
    rules = rules or TierRules()
    if earned_tier(record, rules) > current:
        return TrustTier(current + 1)
    return min(current, conduct_allows(record, rules))
