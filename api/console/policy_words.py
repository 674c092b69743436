"""A reward policy's parameters in words, shared by the Policies page and the audit log: each by its label,
money as dollars, multipliers as "x1.20", and the hourly and per-tier lists by what differs from x1.00."""

from __future__ import annotations

from typing import Any

from api.console.formats import money
from crowdship.units import BASIS_POINTS
from dispatch.model import TrustTier

LABELS = {
    "base_cents": "Base",
    "per_extra_km_cents": "Per extra km",
    "per_extra_minute_cents": "Per extra minute",
    "per_bag_cents": "Per bag",
    "minimum_cents": "Minimum",
    "included_distance_m": "Distance included",
    "included_duration_s": "Time included",
    "peak_multiplier_bps": "Peak multiplier by local hour",
    "tier_multiplier_bps": "Multiplier by trust tier",
    "daily_cap_cents": "Daily cap",
    "weekly_cap_cents": "Weekly cap",
    "store_credit_bonus_bps": "Store-credit bonus",
    "referral_commission_bps": "Referral commission",
    "referral_first_deliveries": "Referral: first deliveries counted",
    "timezone": "Time zone",
}
NEUTRAL = "x1.00 throughout"
"""A multiplier list where nothing differs from x1.00."""


UNITS = {"included_distance_m": "m", "included_duration_s": "s"}
"""Parameters in metres or seconds, said with their unit as the rewards' explanations say them."""


def shown(name: str, value: Any) -> str:
    """One parameter's value: dollars for `*_cents`, "x1.20" for multipliers, the referral commission as a
    percentage of the reward it is taken from (finance reads shares in percent, not basis points), metres and
    seconds with their unit, else as it is."""
    if value is None:
        return "none"
    if name.endswith("_cents"):
        return money(value)
    if name == "store_credit_bonus_bps" or name.endswith("multiplier_bps"):
        return f"x{value / BASIS_POINTS:.2f}"
    if name == "referral_commission_bps":
        return f"{percent(value)} of the new shopper's reward" if value else "none"
    if name in UNITS:
        return f"{value} {UNITS[name]}"
    return str(value)


def percent(basis_points: int) -> str:
    """750 -> "7.5%", 1000 -> "10%", 5 -> "0.05%": exact, in integers, without trailing zeros."""
    whole, hundredths = divmod(basis_points, BASIS_POINTS // 100)
    if not hundredths:
        return f"{whole}%"
    return f"{whole}.{hundredths:02d}".rstrip("0") + "%"


def item_name(name: str, index: int) -> str:
    """An entry of a list parameter: the local hour ("17:00") or the trust tier ("gold")."""
    if name == "peak_multiplier_bps":
        return f"{index:02d}:00"
    return TrustTier(index).name.lower()


def multipliers(name: str, values: list[int]) -> str:
    """Only the entries that are not x1.00 ("17:00 x1.20, 18:00 x1.20"), or "x1.00 throughout"."""
    differing = [f"{item_name(name, i)} {shown(name, v)}" for i, v in enumerate(values) if v != BASIS_POINTS]
    return ", ".join(differing) or NEUTRAL
