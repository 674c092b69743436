"""A simulated day as a file: the stores, where people live, demand, shoppers, behaviour, policy, dispatch.

Scenarios are TOML, validated with pydantic; every error names its field the way a reader finds it in the
file (`stores[0].location.lat`) and is raised as `InvalidInput`. Amounts are cents, distances metres,
durations seconds unless a name says otherwise. `Scenario.with_overrides` sets dotted fields
(`dispatch.batch_cadence_s`), which is how a sweep varies a base scenario.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crowdship.clock import time_zone
from crowdship.errors import InvalidInput, without_pydantic_prefix
from crowdship.files import read_toml_file
from crowdship.settings import SHARED_DATA_DIR
from dispatch.model import MAX_CAPACITY_BAGS, MAX_DETOUR_M, MAX_DETOUR_S

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"

Share = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
TripBags = Annotated[int, Field(ge=1, le=MAX_CAPACITY_BAGS)]
TripDetourM = Annotated[int, Field(ge=0, le=MAX_DETOUR_M)]
TripDetourS = Annotated[int, Field(ge=0, le=MAX_DETOUR_S)]
"""What a simulated shopper's trip may carry: within the bounds of a live trip's (`dispatch.model`)."""


def _ordered(bounds: tuple[int, int]) -> tuple[int, int]:
    if bounds[0] > bounds[1]:
        raise ValueError("the first bound must not exceed the second")
    return bounds


def _not_negative(rates: float | list[float]) -> float | list[float]:
    if isinstance(rates, int | float) and rates < 0:
        raise ValueError("must not be negative")
    return rates


Ordered = AfterValidator(_ordered)
"""A (low, high) range of draws, low first."""
HourlyRates = Annotated[float | list[Annotated[float, Field(ge=0.0)]], AfterValidator(_not_negative)]
"""Mean arrivals per hour (Poisson): one number for every hour, or one per hour of the day."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(_Strict):
    lat: float = Field(ge=-90.0, le=90.0)
    lon: float = Field(ge=-180.0, le=180.0)


class StoreSpec(_Strict):
    name: str = Field(min_length=1)
    location: Location
    service_radius_m: float = Field(default=12_000.0, gt=0.0, le=100_000.0)
    fallback_cost_cents: PositiveInt = 899
    """What the courier fleet charges per order: the matcher's price of leaving an order to it."""


class StoresFromCsv(_Strict):
    """Real stores from a CSV with name, lat and lon columns (e.g. the 2018 Walmart snapshot)."""

    path: str
    """Relative to the shared data folder (`<repo>/../shared/data`), or absolute."""
    city: str | None = None
    state: str | None = None
    limit: PositiveInt = 1
    service_radius_m: float = Field(default=12_000.0, gt=0.0, le=100_000.0)
    fallback_cost_cents: PositiveInt = 899


class Population(_Strict):
    """Where customers and shoppers live: a synthetic city, or weighted points from a CSV."""

    kind: Literal["synthetic", "csv"] = "synthetic"
    neighbourhoods: PositiveInt = 14
    """Synthetic: how many clusters of homes around each store."""
    neighbourhood_spread_m: float = Field(default=900.0, gt=0.0)
    path: str | None = None
    """CSV: relative to the shared data folder, or absolute (e.g. Leon County census blocks)."""
    lat_column: str = "INTPTLAT"
    lon_column: str = "INTPTLON"
    weight_column: str | None = "POP100"

    @model_validator(mode="after")
    def _csv_needs_a_path(self) -> Population:
        if self.kind == "csv" and not self.path:
            raise ValueError("path: a CSV population needs a path")
        return self


def _rate_profile(value: float | list[float], hours: int) -> list[float]:
    return [float(value)] * hours if isinstance(value, int | float) else [float(v) for v in value]


class OrdersSpec(_Strict):
    per_hour: HourlyRates = 20.0
    ready_minutes: Annotated[tuple[NonNegativeInt, NonNegativeInt], Ordered] = (0, 30)
    """The window opens this long after the order is placed (picking and packing)."""
    window_hours: list[PositiveInt] = Field(default=[2, 3, 4], min_length=1)
    deadline_before_end_minutes: NonNegativeInt = 45
    """The courier needs this long: after `window end - this` the order goes to the fallback."""
    bags: list[PositiveInt] = Field(default=[1, 1, 1, 2, 2, 3], min_length=1)
    value_cents: Annotated[tuple[PositiveInt, PositiveInt], Ordered] = (1_500, 25_000)
    age_restricted_share: Share = 0.05
    perishable_share: Share = 0.2
    cancel_share: Share = 0.01
    """Customers who cancel while their order still waits for a shopper."""

    @model_validator(mode="after")
    def _deadline_inside_windows(self) -> OrdersSpec:
        if min(self.window_hours) * 60 <= self.deadline_before_end_minutes:
            raise ValueError("deadline_before_end_minutes: must be shorter than the shortest window")
        return self


class ShoppersSpec(_Strict):
    per_hour: HourlyRates = 200.0
    """Store visits per hour (Poisson)."""
    willing_share: Share = 0.1
    """Of the visitors, who check in to deliver."""
    dwell_minutes: Annotated[tuple[PositiveInt, PositiveInt], Ordered] = (10, 30)
    """From check-in to leaving the store (checkout): the time a shopper can receive offers."""
    capacity_bags: list[TripBags] = Field(default=[2, 3, 4, 6], min_length=1)
    max_detour_m: list[TripDetourM] = Field(default=[2_000, 3_500, 5_000], min_length=1)
    max_detour_s: list[TripDetourS] = Field(default=[300, 600, 900], min_length=1)
    identity_verified_share: Share = 0.6
    trust_tier_shares: tuple[Share, Share, Share, Share] = (0.3, 0.4, 0.2, 0.1)
    """Shares of tiers new, bronze, silver, gold."""
    response_seconds: Annotated[tuple[NonNegativeInt, NonNegativeInt], Ordered] = (5, 40)
    """How long a shopper takes to answer an offer."""
    home_radius_factor: float = Field(default=1.2, gt=0.0)
    """Shoppers live up to this many service radii from the store."""
    regular_share: Share = 0.0
    """Of the willing shoppers, the share who are regulars: each saved a commute profile once and checks in
    from it (one tap) on the profile's days. 0 (the default): every shopper is an occasional visitor and the
    day is drawn exactly as without regulars."""
    regular_days_per_week: Annotated[
        tuple[Annotated[int, Field(ge=1, le=7)], Annotated[int, Field(ge=1, le=7)]], Ordered
    ] = (3, 5)
    """How many days of the week a regular's profile recurs on, drawn uniformly between the two."""

    @model_validator(mode="after")
    def _tier_shares_add_up(self) -> ShoppersSpec:
        if abs(sum(self.trust_tier_shares) - 1.0) > 1e-6:
            raise ValueError("trust_tier_shares: must add up to 1")
        return self


class AcceptanceSpec(_Strict):
    """Logistic acceptance: P(accept) = 1 / (1 + exp(-(intercept + sum of weight * feature)))."""

    model: Literal["logistic"] = "logistic"
    intercept: float = 0.5
    per_reward_dollar: float = 0.5
    """Rises with the reward..."""
    per_detour_km: float = -0.6
    """...falls with the detour..."""
    per_stop: float = -0.3
    """...and with every drop-off beyond the first."""


class FallbackSpec(_Strict):
    """Who takes what shoppers do not, and what it costs (for the accounts; the matcher sees the store's fee)."""

    kind: Literal["courier", "fleet"] = "courier"
    fleet_fixed_cents: NonNegativeInt = 300
    fleet_per_km_cents: NonNegativeInt = 80
    """Fleet: per order, fixed + per road km out and back."""


class RewardsSpec(_Strict):
    """The reward policy (`rewards.policy.PolicyParameters`) and how shoppers are paid."""

    base_cents: NonNegativeInt = 150
    per_extra_km_cents: NonNegativeInt = 60
    per_extra_minute_cents: NonNegativeInt = 10
    per_bag_cents: NonNegativeInt = 25
    minimum_cents: NonNegativeInt = 300
    daily_cap_cents: NonNegativeInt | None = None
    peak_multiplier_bps: list[NonNegativeInt] | None = None
    tier_multiplier_bps: list[NonNegativeInt] | None = None
    store_credit_bonus_bps: Annotated[int, Field(ge=10_000)] = 10_000
    method: Literal["cash", "store_credit"] = "cash"


class DispatchSpec(_Strict):
    batch_cadence_s: float = Field(default=60.0, gt=0.0)
    offer_ttl_s: PositiveInt = 60
    max_bundle_orders: PositiveInt = 3
    matcher_time_limit_s: float = Field(default=0.5, ge=0.0)
    """0: the exact one-order-per-trip plan only; more lets the matcher build bundles. Either way a day is
    reproducible for its seed: the matcher works to a deterministic budget, and only a machine so slow that
    the matcher's wall-clock safety net fires would change its answer."""
    matcher_seed: NonNegativeInt = 0
    tier_value_caps_cents: dict[int, NonNegativeInt | Literal["none"]] = {
        0: 5_000,
        1: 15_000,
        2: 40_000,
        3: "none",
    }
    own_address_radius_m: float = Field(default=100.0, ge=0.0)
    record_shopper_homes: bool = True
    """Give shoppers a home location, so that the own-address rule runs as it does live."""


class TravelSpec(_Strict):
    road_factor: float = Field(default=1.3, ge=1.0, le=5.0)
    speed_kmh: float = Field(default=30.0, gt=0.0, le=200.0)


class Scenario(_Strict):
    name: str = Field(min_length=1)
    seed: NonNegativeInt = 7
    date: dt.date = dt.date(2026, 6, 5)
    timezone: str = "America/New_York"
    start_hour: int = Field(default=8, ge=0, le=23)
    hours: PositiveInt = Field(default=10, le=24)
    stores: list[StoreSpec] = []
    stores_csv: StoresFromCsv | None = None
    population: Population = Population()
    orders: OrdersSpec = OrdersSpec()
    shoppers: ShoppersSpec = ShoppersSpec()
    acceptance: AcceptanceSpec = AcceptanceSpec()
    fallback: FallbackSpec = FallbackSpec()
    rewards: RewardsSpec = RewardsSpec()
    dispatch: DispatchSpec = DispatchSpec()
    travel: TravelSpec = TravelSpec()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            time_zone(value, field="timezone")
        except InvalidInput as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if not self.stores and self.stores_csv is None:
            raise ValueError("stores: give at least one store, or stores_csv")
        for name, profile in (("orders.per_hour", self.orders.per_hour), ("shoppers.per_hour", self.shoppers.per_hour)):
            if isinstance(profile, list) and len(profile) != self.hours:
                raise ValueError(f"{name}: needs one rate per hour of the day ({self.hours}), got {len(profile)}")
        return self

    def order_rates(self) -> list[float]:
        return _rate_profile(self.orders.per_hour, self.hours)

    def shopper_rates(self) -> list[float]:
        return _rate_profile(self.shoppers.per_hour, self.hours)

    def first_hours(self, hours: int) -> Scenario:
        """The first `hours` of this day (hourly rate profiles cut to match), e.g. a short run from the console."""
        if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= self.hours:
            raise InvalidInput("hours", f"must be a whole number from 1 to {self.hours}, the hours of this scenario")
        overrides: dict[str, Any] = {"hours": hours}
        for name, profile in (("orders.per_hour", self.orders.per_hour), ("shoppers.per_hour", self.shoppers.per_hour)):
            if isinstance(profile, list):
                overrides[name] = profile[:hours]
        return self.with_overrides(overrides)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Scenario:
        """A copy with dotted fields set (`dispatch.batch_cadence_s = 30`), validated again."""
        data = self.model_dump(mode="python")
        for dotted, value in overrides.items():
            target: Any = data
            parts = dotted.split(".")
            for part in parts[:-1]:
                if not isinstance(target, dict) or part not in target:
                    raise InvalidInput(dotted, "no such scenario field")
                target = target[part]
            if not isinstance(target, dict) or parts[-1] not in target:
                raise InvalidInput(dotted, "no such scenario field")
            target[parts[-1]] = copy.deepcopy(value)
        return parse_scenario(data)


def _field_path(location: Sequence[int | str]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not part.startswith(("function-", "tagged-union")):
            path += f".{part}" if path else part
    return path


def parse_scenario(data: Mapping[str, Any]) -> Scenario:
    """Validates a scenario; the first error is raised as `InvalidInput` naming its field."""
    try:
        return Scenario.model_validate(dict(data))
    except ValidationError as error:
        first = error.errors()[0]
        message = without_pydantic_prefix(str(first["msg"]))
        field = _field_path(first["loc"])
        # A model-level check names its field at the start of its message, as "field: reason".
        head, separator, rest = message.partition(": ")
        if separator and " " not in head:
            field, message = (f"{field}.{head}" if field else head), rest
        raise InvalidInput(field or "scenario", message) from None


def load_scenario(path: Path | str) -> Scenario:
    """Reads and validates a scenario file."""
    path = Path(path)
    data = read_toml_file(path, "scenario")
    if "grid" in data and "base" in data:  # a sweep's file, next to the scenarios: said so, not "base: extra"
        raise InvalidInput("scenario", f"{path} is a grid of scenarios, not one day: run it with `crowdship sweep`")
    return parse_scenario(data)


def data_path(relative: str) -> Path:
    """A data file: absolute as given, else under the shared data folder."""
    path = Path(relative)
    return path if path.is_absolute() else SHARED_DATA_DIR / path
