"""The world a simulated day draws up front: when orders and shoppers arrive, where they live, what they carry."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from dispatch.model import TrustTier
from dispatch.profiles import Weekday
from routing.geo import GeoPoint
from simulations.city import City
from simulations.scenario import Scenario

SERVICE_AREA_MARGIN = 0.98
"""Customers are drawn within this share of the radius: the area polygon is inscribed in the circle."""


@dataclass
class OrderPlan:
    """An order as the world draws it, before it reaches intake."""

    index: int
    external_ref: str
    placed_s: float
    store_index: int
    dropoff: GeoPoint
    ready_s: float
    window_s: float
    bags: int
    value_cents: int
    age_restricted: bool
    perishable: bool
    cancel_after_s: float | None


@dataclass
class ShopperPlan:
    index: int
    arrives_s: float
    store_index: int
    home: GeoPoint
    capacity: int
    max_detour_m: int
    max_detour_s: int
    dwell_s: float
    tier: TrustTier
    identity_verified: bool
    days: tuple[Weekday, ...] | None = None
    """A regular's profile days (`arrives_s` then is their arrival on a day they come); None: an occasional
    visitor."""


def bounds(pair: tuple[int, int]) -> tuple[int, int]:
    return pair[0], pair[1]


def arrivals(rng: np.random.Generator, rates: list[float]) -> npt.NDArray[np.float64]:
    counts = rng.poisson(rates)
    times = [hour * 3600.0 + rng.uniform(0.0, 3600.0, count) for hour, count in enumerate(counts)]
    return np.sort(np.concatenate(times)) if times else np.zeros(0)


def draw_orders(scenario: Scenario, city: City, rng: np.random.Generator) -> list[OrderPlan]:
    """The day's orders: Poisson arrivals per hour, homes drawn by population among those a store serves."""
    spec = scenario.orders
    times = arrivals(rng, scenario.order_rates())
    radii = np.array(city.service_radius_m) * SERVICE_AREA_MARGIN
    served = city.distance_to_store_m <= radii[None, :]
    candidates = np.flatnonzero(served.any(axis=1))
    if len(candidates) == 0:
        return []
    weights = city.weights[candidates] / city.weights[candidates].sum()
    count = len(times)
    homes = candidates[rng.choice(len(candidates), size=count, p=weights)]
    distances = np.where(served[homes], city.distance_to_store_m[homes], np.inf)
    stores = np.argmin(distances, axis=1)
    ready_lo, ready_hi = bounds(spec.ready_minutes)
    ready = rng.uniform(ready_lo * 60.0, ready_hi * 60.0, count)
    windows = rng.choice(np.array(spec.window_hours), size=count) * 3600.0
    bags = rng.choice(np.array(spec.bags), size=count)
    values = rng.integers(spec.value_cents[0], spec.value_cents[1] + 1, size=count)
    age = rng.random(count) < spec.age_restricted_share
    perishable = rng.random(count) < spec.perishable_share
    cancels = rng.random(count) < spec.cancel_share
    cancel_after = rng.uniform(60.0, 3600.0, count)
    return [
        OrderPlan(
            index=i,
            external_ref=f"SIM-{i + 1:06d}",
            placed_s=float(times[i]),
            store_index=int(stores[i]),
            dropoff=GeoPoint(round(float(city.homes[homes[i], 0]), 6), round(float(city.homes[homes[i], 1]), 6)),
            ready_s=float(ready[i]),
            window_s=float(windows[i]),
            bags=int(bags[i]),
            value_cents=int(values[i]),
            age_restricted=bool(age[i]),
            perishable=bool(perishable[i]),
            cancel_after_s=float(cancel_after[i]) if cancels[i] else None,
        )
        for i in range(count)
    ]


def draw_shoppers(scenario: Scenario, city: City, rng: np.random.Generator) -> tuple[list[ShopperPlan], int]:
    """The shoppers willing to deliver, and how many visits were drawn before asking."""
    times = arrivals(rng, scenario.shopper_rates())
    visits = len(times)
    willing = rng.random(len(times)) < scenario.shoppers.willing_share
    return _draw_people(scenario, city, rng, times[willing]), visits


def _draw_people(
    scenario: Scenario, city: City, rng: np.random.Generator, arrives: npt.NDArray[np.float64]
) -> list[ShopperPlan]:
    """A shopper for each arrival: their store, home, trip and standing, drawn in one order for everyone."""
    spec = scenario.shoppers
    count = len(arrives)
    stores = rng.integers(0, len(city.stores), size=count)
    homes = _homes_near_stores(scenario, city, stores, rng.random(count))
    capacity = rng.choice(np.array(spec.capacity_bags), size=count)
    detour_m = rng.choice(np.array(spec.max_detour_m), size=count)
    detour_s = rng.choice(np.array(spec.max_detour_s), size=count)
    dwell_lo, dwell_hi = bounds(spec.dwell_minutes)
    dwell = rng.uniform(dwell_lo * 60.0, dwell_hi * 60.0, count)
    tiers = rng.choice(4, size=count, p=np.array(spec.trust_tier_shares) / sum(spec.trust_tier_shares))
    verified = rng.random(count) < spec.identity_verified_share
    return [
        ShopperPlan(
            index=i,
            arrives_s=float(arrives[i]),
            store_index=int(stores[i]),
            home=GeoPoint(round(float(city.homes[homes[i], 0]), 6), round(float(city.homes[homes[i], 1]), 6)),
            capacity=int(capacity[i]),
            max_detour_m=int(detour_m[i]),
            max_detour_s=int(detour_s[i]),
            dwell_s=float(dwell[i]),
            tier=TrustTier(int(tiers[i])),
            identity_verified=bool(verified[i]),
        )
        for i in range(count)
    ]


def _homes_near_stores(
    scenario: Scenario, city: City, stores: npt.NDArray[np.int64], picks: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """Per shopper, a home within `home_radius_factor` service radii of their store, by population
    (`picks` are the uniform draws that choose it)."""
    reach = np.array(city.service_radius_m) * scenario.shoppers.home_radius_factor
    near = city.distance_to_store_m <= reach[None, :]
    homes = np.empty(len(stores), dtype=np.int64)
    for store in range(len(city.stores)):
        chosen = np.flatnonzero(stores == store)
        pool = np.flatnonzero(near[:, store])
        cumulative = np.cumsum(city.weights[pool])
        cumulative /= cumulative[-1]
        homes[chosen] = pool[np.minimum(np.searchsorted(cumulative, picks[chosen]), len(pool) - 1)]
    return homes


def draw_regulars(scenario: Scenario, city: City, rng: np.random.Generator) -> list[ShopperPlan]:
    """The regulars: shoppers with a commute profile, each coming on their profile's days at their usual time.

    Drawn from a generator of their own that does not depend on the date, so that the same people, with the
    same profiles, come back on every simulated date of a seed, each on their own days. There are as many as
    make `regular_share` of a day's willing shoppers on average; their arrival hours follow the shoppers'
    hourly rates. None when the share is 0."""
    spec = scenario.shoppers
    rates = np.array(scenario.shopper_rates())
    low, high = spec.regular_days_per_week
    willing_per_day = float(rates.sum()) * spec.willing_share
    count = round(spec.regular_share * willing_per_day * 7 / ((low + high) / 2))
    if count == 0:
        return []
    hours = rng.choice(len(rates), size=count, p=rates / rates.sum())
    people = _draw_people(scenario, city, rng, hours * 3600.0 + rng.uniform(0.0, 3600.0, count))
    day_counts = rng.integers(low, high + 1, size=count)
    weekdays = list(Weekday)
    return [
        replace(
            plan,
            arrives_s=float(round(plan.arrives_s)),
            dwell_s=float(round(plan.dwell_s)),
            days=tuple(weekdays[day] for day in sorted(rng.choice(7, size=int(days), replace=False))),
        )
        for plan, days in zip(people, day_counts, strict=True)
    ]


def thin_occasional(plans: list[ShopperPlan], share: float, rng: np.random.Generator) -> list[ShopperPlan]:
    """Of the occasional visitors, those who come when `share` of the willing are regulars (so that a day
    has about as many shoppers with regulars as without)."""
    keep = rng.random(len(plans)) >= share
    return [plan for plan, kept in zip(plans, keep, strict=True) if kept]


# --- running ----------------------------------------------------------------------------------
