"""The `reward` compensation rule: a published reward policy's price of a route, reproduced to the cent.

The live dispatcher gives each trip the terms of the policy in force for its shopper at the batch's instant
(rates, included distance and time, multipliers, minimum, what is left under the caps, the store-credit
bonus, the ceiling), so that the matcher minimises what the offer will actually quote and the delivery
credit. The arithmetic is the one of `rewards.pricing` (dispatch never imports rewards): the detour becomes
whole metres and seconds, each order gets its own bags and an even share of both (the first orders take
the remainder), every share is priced exactly and rounded once, half up, then the minimum, the caps (in
visiting order), the ceiling and the bonus. `tests/composition` pins that the two agree.

`tie_break` (per metre of detour, a small fraction of a cent) makes equal prices go to the smaller detour;
it never moves a price across a half cent, so the offer's quote is the matcher's cost rounded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from crowdship.errors import InvalidInput
from crowdship.units import BASIS_POINTS, divide_half_up

SECONDS_SHARE_DENOMINATOR = 6_000
"""Per-km rates are prorated to the metre (/1 000) and per-minute ones to the second (/60): 6 000 is common."""
DEFAULT_TIE_BREAK = 1e-7
"""Cents per metre of detour: 0.015 cents at 150 km, far below the half cent that would change a quote."""

_KEYS = frozenset(
    {
        "rule", "base", "per_bag", "per_km", "per_minute", "included_m", "included_s", "multiplier_bps",
        "minimum", "room", "bonus_bps", "ceiling", "metres_per_unit", "tie_break",
    }
)  # fmt: skip


@dataclass(frozen=True)
class RewardTerms:
    """One trip's price list, all in integer cents, basis points, metres and seconds."""

    base: int
    per_bag: int
    per_km: int
    per_minute: int
    minimum: int
    included_m: int = 0
    included_s: int = 0
    multiplier_bps: tuple[int, ...] = ()
    """Multiplied together (peak hour and trust tier); each 10 000 = x1."""
    room: int | None = None
    """Cash value the shopper may still earn under their daily and weekly caps; None: no cap."""
    bonus_bps: int = BASIS_POINTS
    """Store credit's bonus on the capped cash value (10 000 when paid in cash)."""
    ceiling: int | None = None
    """No order is paid more than this, before and after the bonus."""
    metres_per_unit: float = 1000.0
    tie_break: float = DEFAULT_TIE_BREAK


def _split_evenly(total: int, parts: int) -> list[int]:
    share, rest = divmod(total, parts)
    return [share + (1 if index < rest else 0) for index in range(parts)]


def _subtotal(terms: RewardTerms, bag_count: int, metres: int, seconds: int) -> int:
    """One order's price before the multipliers, exact, in 1/6000 of a cent (whole per metre and per second)."""
    return (
        terms.base * SECONDS_SHARE_DENOMINATOR
        + max(0, metres - terms.included_m) * terms.per_km * 6
        + max(0, seconds - terms.included_s) * terms.per_minute * 100
        + bag_count * terms.per_bag * SECONDS_SHARE_DENOMINATOR
    )


@lru_cache(maxsize=200_000)
def reward_cents(terms: RewardTerms, bags: tuple[int, ...], extra_m: int, extra_s: int) -> int:
    """What the orders (bags each, in visiting order) are paid for a route `extra_m` / `extra_s` out of the way."""
    multiplier = math.prod(terms.multiplier_bps)
    scale = BASIS_POINTS ** len(terms.multiplier_bps)
    earned = 0
    total = 0
    for bag_count, metres, seconds in zip(
        bags, _split_evenly(extra_m, len(bags)), _split_evenly(extra_s, len(bags)), strict=True
    ):
        subtotal = _subtotal(terms, bag_count, metres, seconds)
        cash = max(divide_half_up(subtotal * multiplier, SECONDS_SHARE_DENOMINATOR * scale), terms.minimum)
        if terms.room is not None:
            cash = min(cash, max(0, terms.room - earned))
        if terms.ceiling is not None:
            cash = min(cash, terms.ceiling)
        earned += cash
        amount = divide_half_up(cash * terms.bonus_bps, BASIS_POINTS)
        total += amount if terms.ceiling is None else min(amount, terms.ceiling)
    return total


def reward_components(terms: RewardTerms, bags: Sequence[int], extra_m: int, extra_s: int) -> dict[str, int]:
    """The same reward, by component in cents, summed over the orders; the components add up to `total`.

    base, distance, duration and bags before the multipliers (each rounded half up); `rounding` the cent or
    so between those rounded parts and their exact sum rounded once, half up; `multiplier` what the peak and
    tier multipliers add to that rounded sum, up to the price; `minimum` the top-up to the minimum; `caps` what
    the caps and the ceiling take off (zero or less); `bonus` the store-credit bonus. Each line is the cents
    the credit's breakdown (`rewards.breakdown`) shows for it (its peak and tier lines together here).
    """
    names = ("base", "distance", "duration", "bags", "multiplier", "rounding", "minimum", "caps", "bonus")
    parts = dict.fromkeys(names, 0)
    earned = total = 0
    for bag_count, metres, seconds in zip(
        bags, _split_evenly(extra_m, len(bags)), _split_evenly(extra_s, len(bags)), strict=True
    ):
        unmultiplied = {
            "base": terms.base,
            "distance": divide_half_up(max(0, metres - terms.included_m) * terms.per_km, 1000),
            "duration": divide_half_up(max(0, seconds - terms.included_s) * terms.per_minute, 60),
            "bags": bag_count * terms.per_bag,
        }
        plain = replace(terms, minimum=0, room=None, ceiling=None, bonus_bps=BASIS_POINTS)
        rounded = reward_cents(plain, (bag_count,), metres, seconds)
        after_minimum = max(rounded, terms.minimum)
        cash = after_minimum
        if terms.room is not None:
            cash = min(cash, max(0, terms.room - earned))
        if terms.ceiling is not None:
            cash = min(cash, terms.ceiling)
        amount = divide_half_up(cash * terms.bonus_bps, BASIS_POINTS)
        if terms.ceiling is not None:
            amount = min(amount, terms.ceiling)
        earned += cash
        for name, cents in unmultiplied.items():
            parts[name] += cents
        plain_rounded = divide_half_up(_subtotal(terms, bag_count, metres, seconds), SECONDS_SHARE_DENOMINATOR)
        parts["rounding"] += plain_rounded - sum(unmultiplied.values())
        parts["multiplier"] += rounded - plain_rounded
        parts["minimum"] += after_minimum - rounded
        parts["caps"] += cash - after_minimum
        parts["bonus"] += amount - cash
        total += amount
    return {**parts, "total": total}


def route_cost(terms: RewardTerms, sizes: Sequence[float], detour: float, speed: float) -> float:
    """The rule's cost of a route: the reward in cents for its detour (problem units), plus the tie-break."""
    extra_m = round(detour * terms.metres_per_unit)
    extra_s = round(detour / speed * 60)
    bags = tuple(max(1, round(size)) for size in sizes)
    return float(reward_cents(terms, bags, extra_m, extra_s)) + terms.tie_break * extra_m


def approximate_rate(terms: RewardTerms) -> tuple[float, float]:
    """(cost per unit of detour, cost per order) for the searches that price linearly; exact prices follow."""
    multiplier = math.prod(terms.multiplier_bps) / BASIS_POINTS ** len(terms.multiplier_bps)
    bonus = terms.bonus_bps / BASIS_POINTS
    per_unit = terms.per_km * terms.metres_per_unit / 1000.0 * multiplier * bonus
    return per_unit, max(float(terms.minimum), terms.base * multiplier) * bonus


# --- the file format ---------------------------------------------------------------------------------


def _whole(data: Mapping[str, Any], key: str, field: str, *, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{field}.{key}", f"expected a whole number >= 0, got {value!r}")
    return value


def parse_reward_terms(data: Mapping[str, Any], field: str) -> RewardTerms:
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise InvalidInput(f"{field}.{unknown[0]}", "unknown field")
    multipliers = data.get("multiplier_bps", [])
    if not isinstance(multipliers, list) or len(multipliers) > 4:
        raise InvalidInput(f"{field}.multiplier_bps", "expected a list of at most 4 basis-point multipliers")
    metres = data.get("metres_per_unit", 1000.0)
    tie_break = data.get("tie_break", DEFAULT_TIE_BREAK)
    for key, number in (("metres_per_unit", metres), ("tie_break", tie_break)):
        if isinstance(number, bool) or not isinstance(number, int | float) or not 0 <= number < math.inf:
            raise InvalidInput(f"{field}.{key}", f"expected a finite number >= 0, got {number!r}")
    return RewardTerms(
        base=_whole(data, "base", field),
        per_bag=_whole(data, "per_bag", field, default=0),
        per_km=_whole(data, "per_km", field, default=0),
        per_minute=_whole(data, "per_minute", field, default=0),
        minimum=_whole(data, "minimum", field, default=0),
        included_m=_whole(data, "included_m", field, default=0),
        included_s=_whole(data, "included_s", field, default=0),
        multiplier_bps=tuple(
            _whole({"multiplier": m}, "multiplier", f"{field}.multiplier_bps[{i}]") for i, m in enumerate(multipliers)
        ),
        room=None if data.get("room") is None else _whole(data, "room", field),
        bonus_bps=_whole(data, "bonus_bps", field, default=BASIS_POINTS),
        ceiling=None if data.get("ceiling") is None else _whole(data, "ceiling", field),
        metres_per_unit=float(metres),
        tie_break=float(tie_break),
    )


def reward_terms_to_json(terms: RewardTerms) -> dict[str, Any]:
    return {
        "rule": "reward",
        "base": terms.base,
        "per_bag": terms.per_bag,
        "per_km": terms.per_km,
        "per_minute": terms.per_minute,
        "minimum": terms.minimum,
        "included_m": terms.included_m,
        "included_s": terms.included_s,
        "multiplier_bps": list(terms.multiplier_bps),
        "room": terms.room,
        "bonus_bps": terms.bonus_bps,
        "ceiling": terms.ceiling,
        "metres_per_unit": terms.metres_per_unit,
        "tie_break": terms.tie_break,
    }
