"""A reward policy's numbers: the parameters ops set (validated against limits no policy may pass), and what a
delivery's reward is computed from. `rewards.pricing` computes the reward itself; `rewards.policy_versions`
holds the versions and the second person's decision on each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass
from datetime import datetime
from enum import StrEnum
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from crowdship.clock import time_zone
from crowdship.errors import InvalidInput
from crowdship.units import BASIS_POINTS, Cents, divide_half_up
from dispatch.model import TrustTier

HOURS_IN_DAY = 24
MAX_REWARD_CENTS = 5_000
"""No delivery is ever credited more than this, whatever the policy in force says. A constant of the code, not
a setting: raising it is a reviewed change, never one person's decision."""
MAX_MULTIPLIER_BPS = 5 * BASIS_POINTS
"""Peak and tier multipliers go up to x5."""
MAX_STORE_CREDIT_BONUS_BPS = 2 * BASIS_POINTS
"""Store credit is worth at most twice the cash value."""
MAX_PARAMETER_CENTS = 100_000_000
"""No rate or cap of a policy says more than a million: far above any reward, far below what the columns hold
(a rate itself is not capped by `MAX_REWARD_CENTS`: a per-km rate of 60 ¢ is normal)."""
MAX_INCLUDED_DISTANCE_M = 1_000_000
MAX_INCLUDED_DURATION_S = 86_400
MAX_REFERRAL_FIRST_DELIVERIES = 1_000


class PaymentMethod(StrEnum):
    STORE_CREDIT = "store_credit"
    CASH = "cash"


def round_half_up(value: Fraction) -> Cents:
    """Whole cents, halves rounded up (amounts here are never negative, so up = away from zero)."""
    if value < 0:
        raise ValueError("reward amounts are never negative")
    return Cents(divide_half_up(value.numerator, value.denominator))


def _require_int(value: Any, field_name: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(field_name, f"must be a whole number, got {value!r}")
    if value < minimum:
        raise InvalidInput(field_name, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidInput(field_name, f"must be at most {maximum}, got {value}")
    return value


_MAXIMUMS = {
    "base_cents": None,  # these two are held to `MAX_REWARD_CENTS` (`_check_limits`)
    "per_extra_km_cents": MAX_PARAMETER_CENTS,
    "per_extra_minute_cents": MAX_PARAMETER_CENTS,
    "per_bag_cents": MAX_PARAMETER_CENTS,
    "minimum_cents": None,
    "included_distance_m": MAX_INCLUDED_DISTANCE_M,
    "included_duration_s": MAX_INCLUDED_DURATION_S,
    "referral_commission_bps": None,
    "referral_first_deliveries": MAX_REFERRAL_FIRST_DELIVERIES,
}
"""The same bounds for the API, the console and the CLI, which hands the domain a JSON file unchecked."""


@dataclass(frozen=True)
class PolicyParameters:
    """The numbers ops set. Money in cents, multipliers in basis points (10 000 = x1)."""

    base_cents: int
    per_extra_km_cents: int
    per_extra_minute_cents: int
    per_bag_cents: int
    minimum_cents: int
    included_distance_m: int = 0
    """Extra distance covered by the base fare before the per-km rate starts."""
    included_duration_s: int = 0
    peak_multiplier_bps: tuple[int, ...] = (BASIS_POINTS,) * HOURS_IN_DAY
    """One multiplier per local hour of the day, 0..23."""
    tier_multiplier_bps: tuple[int, ...] = (BASIS_POINTS,) * len(TrustTier)
    """One multiplier per trust tier, indexed by `TrustTier` value."""
    daily_cap_cents: int | None = None
    weekly_cap_cents: int | None = None
    store_credit_bonus_bps: int = BASIS_POINTS
    """Store credit is worth more to the retailer, so it pays more: 11 000 = 10 % more than cash."""
    referral_commission_bps: int = 0
    """Share of a referred shopper's reward (cash value) paid to whoever referred them..."""
    referral_first_deliveries: int = 0
    """...on the referred shopper's first this-many deliveries."""
    timezone: str = "UTC"
    """Where days and weeks (for the caps) and peak hours are counted."""

    def __post_init__(self) -> None:
        self._check_shape()
        self.check_bounds()

    def _check_shape(self) -> None:
        """What pricing needs of any version, stored or proposed: whole numbers, none negative, a multiplier per
        hour and per tier, a time zone that exists."""
        for name in _MAXIMUMS:
            _require_int(getattr(self, name), name)
        for name in ("daily_cap_cents", "weekly_cap_cents"):
            if getattr(self, name) is not None:
                _require_int(getattr(self, name), name)
        _require_int(self.store_credit_bonus_bps, "store_credit_bonus_bps")
        if len(self.peak_multiplier_bps) != HOURS_IN_DAY:
            raise InvalidInput("peak_multiplier_bps", "needs one multiplier per hour, 24 in all")
        if len(self.tier_multiplier_bps) != len(TrustTier):
            raise InvalidInput("tier_multiplier_bps", f"needs one multiplier per tier, {len(TrustTier)} in all")
        for name in ("peak_multiplier_bps", "tier_multiplier_bps"):
            for index, value in enumerate(getattr(self, name)):
                _require_int(value, f"{name}[{index}]")
        time_zone(self.timezone, field="timezone")

    def check_bounds(self) -> None:
        """The bounds a version is proposed within (`_MAXIMUMS`, `_check_limits`); a version stored before one
        of them was added is read as stored (`stored`), and the per-delivery ceiling still holds its rewards."""
        for name, maximum in _MAXIMUMS.items():
            _require_int(getattr(self, name), name, maximum=maximum)
        for name in ("daily_cap_cents", "weekly_cap_cents"):
            if getattr(self, name) is not None:
                _require_int(getattr(self, name), name, maximum=MAX_PARAMETER_CENTS)
        _require_int(self.store_credit_bonus_bps, "store_credit_bonus_bps", minimum=BASIS_POINTS)
        if self.referral_commission_bps > BASIS_POINTS:
            raise InvalidInput("referral_commission_bps", "cannot exceed 10000 (the whole reward)")
        if (
            self.daily_cap_cents is not None
            and self.weekly_cap_cents is not None
            and self.daily_cap_cents > self.weekly_cap_cents
        ):
            raise InvalidInput("daily_cap_cents", "cannot exceed weekly_cap_cents")
        self._check_limits()

    def _check_limits(self) -> None:
        """What no policy may say, whoever writes it: rewards above the ceiling, minimums above the caps,
        runaway multipliers."""
        if self.store_credit_bonus_bps > MAX_STORE_CREDIT_BONUS_BPS:
            raise InvalidInput("store_credit_bonus_bps", f"cannot exceed {MAX_STORE_CREDIT_BONUS_BPS} (x2)")
        for name in ("base_cents", "minimum_cents"):
            if getattr(self, name) > MAX_REWARD_CENTS:
                raise InvalidInput(name, f"cannot exceed the ceiling of {MAX_REWARD_CENTS} cents per delivery")
        for name in ("daily_cap_cents", "weekly_cap_cents"):
            cap = getattr(self, name)
            if cap is not None and self.minimum_cents > cap:
                raise InvalidInput("minimum_cents", f"cannot exceed {name} ({cap})")
        for name in ("peak_multiplier_bps", "tier_multiplier_bps"):
            for index, value in enumerate(getattr(self, name)):
                if value > MAX_MULTIPLIER_BPS:
                    raise InvalidInput(f"{name}[{index}]", f"cannot exceed {MAX_MULTIPLIER_BPS} (x5)")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["peak_multiplier_bps"] = list(self.peak_multiplier_bps)
        data["tier_multiplier_bps"] = list(self.tier_multiplier_bps)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PolicyParameters:
        """Parses ops' input for a new version, held to every bound; errors name the field."""
        if not isinstance(data, Mapping):
            raise InvalidInput("parameters", "must be an object")
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise InvalidInput(unknown[0], "is not a policy parameter")
        try:
            return cls(**cls._values(data))
        except TypeError as error:
            raise InvalidInput("parameters", str(error)) from error

    @classmethod
    def stored(cls, data: Mapping[str, Any]) -> PolicyParameters:
        """A stored version's parameters as they were stored: bounds apply to proposing a version, so one
        proposed before a bound was added (or tightened) still loads, lists and prices; what pricing needs is
        checked still (`_check_shape`), and no reward exceeds `MAX_REWARD_CENTS` whatever the version says. A
        parameter no longer known is left out."""
        if not isinstance(data, Mapping):
            raise InvalidInput("parameters", "must be an object")
        values = cls._values({name: value for name, value in data.items() if name in cls.__dataclass_fields__})
        parameters = cls.__new__(cls)
        for name, spec in cls.__dataclass_fields__.items():
            object.__setattr__(parameters, name, values.get(name, spec.default))
        parameters._check_shape()
        return parameters

    @classmethod
    def _values(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        for name, spec in cls.__dataclass_fields__.items():
            if name not in data and spec.default is MISSING:
                raise InvalidInput(name, "is required")
        values = dict(data)
        for name in ("peak_multiplier_bps", "tier_multiplier_bps"):
            if name in values:
                if not isinstance(values[name], list | tuple):
                    raise InvalidInput(name, "must be a list")
                values[name] = tuple(values[name])
        return values

    def zone(self) -> ZoneInfo:
        return time_zone(self.timezone, field="timezone")


@dataclass(frozen=True)
class RewardInputs:
    """Everything a reward depends on except the policy and the earnings so far: what the offer showed."""

    extra_distance_m: int
    extra_duration_s: int
    bags: int
    local_hour: int
    """Hour of the day (0..23, in the policy's time zone) at which the offer was made."""
    trust_tier: TrustTier
    method: PaymentMethod

    def __post_init__(self) -> None:
        _require_int(self.extra_distance_m, "extra_distance_m")
        _require_int(self.extra_duration_s, "extra_duration_s")
        _require_int(self.bags, "bags", minimum=1)
        _require_int(self.local_hour, "local_hour")
        if self.local_hour >= HOURS_IN_DAY:
            raise InvalidInput("local_hour", "must lie within 0..23")
        if not isinstance(self.trust_tier, TrustTier):
            raise InvalidInput("trust_tier", "must be a TrustTier")
        if not isinstance(self.method, PaymentMethod):
            raise InvalidInput("method", "must be store_credit or cash")

    def to_json(self) -> dict[str, Any]:
        return {
            "extra_distance_m": self.extra_distance_m,
            "extra_duration_s": self.extra_duration_s,
            "bags": self.bags,
            "local_hour": self.local_hour,
            "trust_tier": int(self.trust_tier),
            "method": self.method.value,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RewardInputs:
        try:
            return cls(
                extra_distance_m=data["extra_distance_m"],
                extra_duration_s=data["extra_duration_s"],
                bags=data["bags"],
                local_hour=data["local_hour"],
                trust_tier=TrustTier(data["trust_tier"]),
                method=PaymentMethod(data["method"]),
            )
        except KeyError as error:
            raise InvalidInput(str(error.args[0]), "is required") from error
        except ValueError as error:
            raise InvalidInput("inputs", str(error)) from error


def local_hour(instant: datetime, parameters: PolicyParameters) -> int:
    """The hour of the day at `instant` where the policy counts peaks."""
    return instant.astimezone(parameters.zone()).hour


@dataclass(frozen=True)
class EarningsSoFar:
    """The shopper's capped cash value already earned in the current day and week (policy time zone)."""

    today_cents: int = 0
    this_week_cents: int = 0

    def __post_init__(self) -> None:
        _require_int(self.today_cents, "today_cents")
        _require_int(self.this_week_cents, "this_week_cents")
