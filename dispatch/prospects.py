"""An order's prospects: what leaving it for a later batch costs, given the shoppers likely to come by.

A batch that prices every unserved order at the store's full fallback fee treats an order that a dozen
shoppers will pass in the next hour like one that nobody passes: serving either now "saves" the whole fee.
Then the matcher has no reason to give a scarce order the trip that can reach it, and an acceptance-weighted
matcher, which prefers likelier (shorter) detours, starves far orders outright: they wait until their
deadline and go to the courier fleet.

Here each pending order's cost of waiting is what it is expected to cost if the batch leaves it:

    waiting = q * later_reward + (1 - q) * fallback,   q = 1 - exp(-take_rate * n)

where `n` is the share of the shoppers expected to check in before the order's dispatch deadline that is
this order's: each of the store's recent check-ins whose way home passes within its detour limit of the
drop-off counts for 1 / (the pending orders it could have taken), so that a trip passing twenty orders is a
twentieth of a chance for each, and the total is scaled from the look-back span to the time the order has
left. `take_rate` is how much of that share turns into a delivery (shoppers decline, bundles take more than
one); `later_reward` is what a later shopper is paid for it. With no recent check-ins (a store's first
hour) q is 0 and every order costs its full fallback, exactly as without prospects.

The matcher is then told the order's `fallback_cost` is its waiting cost, so serving it now saves only
`(1 - q) * (fallback - later_reward)` plus whatever is cheaper about this trip: the scarce order gets the
passing trip, and the plentiful one waits for the next shopper.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import numpy as np
import numpy.typing as npt

from dispatch.batching import BatchParameters, detour_limit_km
from dispatch.model import Order, Store, Trip
from routing.distance import haversine_matrix


@dataclass(frozen=True)
class ProspectTerms:
    """How a batch prices an order's waiting (see the module); chosen on the tuning seeds of the benchmark."""

    lookback: timedelta = timedelta(hours=1)
    """The span of recent check-ins that stands for the next hours' supply."""
    take_rate: float = 1.0
    """Share of the passing shoppers that would take the order (the rest are busy, far off or decline)."""
    later_reward_cents: int = 300
    """What a later shopper is expected to be paid for the order."""
    max_recent_trips: int = 5_000
    """The most check-ins read per batch (the most recent first): bounds the work on a very busy store."""

    def __post_init__(self) -> None:
        if self.lookback <= timedelta(0):
            raise ValueError("lookback must be positive")
        if not 0.0 <= self.take_rate <= 10.0 or not math.isfinite(self.take_rate):
            raise ValueError("take_rate must be within [0, 10]")
        if self.later_reward_cents < 0:
            raise ValueError("later_reward_cents must be >= 0")
        if self.max_recent_trips <= 0:
            raise ValueError("max_recent_trips must be positive")


DEFAULT_PROSPECTS = ProspectTerms()


@dataclass(frozen=True)
class Prospect:
    """One pending order's outlook at a batch."""

    passing_per_hour: float
    """Recent check-ins per hour that could have taken it."""
    expected_passing: float
    """Its share of those (each split among the orders it could take), expected before its deadline."""
    chance_taken_later: float
    waiting_cost_cents: float


def order_prospects(
    *,
    store: Store,
    orders: Sequence[Order],
    recent_trips: Sequence[Trip],
    now: datetime,
    parameters: BatchParameters,
    terms: ProspectTerms,
) -> dict[UUID, Prospect]:
    """Each order's prospect from the store's check-ins within `terms.lookback` before `now`.

    A check-in could have taken an order when the order fits its bags and the way store, drop-off, home is
    within its detour limit (road km, as the batch measures them).
    """
    fallback = float(store.fallback_cost_cents)
    later = min(float(terms.later_reward_cents), fallback)
    since = now - terms.lookback
    recent = [trip for trip in recent_trips if since <= trip.checked_in_at <= now][-terms.max_recent_trips :]
    if not orders:
        return {}
    passing = _passing_counts(store, orders, recent, parameters)
    lookback_hours = terms.lookback.total_seconds() / 3600.0
    prospects: dict[UUID, Prospect] = {}
    for order, count, share in zip(orders, *passing, strict=True):
        per_hour = float(count) / lookback_hours
        hours_left = max(0.0, (order.dispatch_deadline - now).total_seconds() / 3600.0)
        expected = float(share) / lookback_hours * hours_left
        chance = 1.0 - math.exp(-terms.take_rate * expected)
        prospects[order.id] = Prospect(
            passing_per_hour=per_hour,
            expected_passing=expected,
            chance_taken_later=chance,
            waiting_cost_cents=chance * later + (1.0 - chance) * fallback,
        )
    return prospects


def _passing_counts(
    store: Store, orders: Sequence[Order], trips: Sequence[Trip], parameters: BatchParameters
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """For each order, how many of `trips` could have taken it alone, and its share of them (each trip split
    equally among the orders it could have taken)."""
    if not trips:
        return np.zeros(len(orders), dtype=np.int64), np.zeros(len(orders), dtype=np.float64)
    store_point = [[store.location.lat, store.location.lon]]
    drops = np.array([[order.dropoff.lat, order.dropoff.lon] for order in orders])
    homes = np.array([[trip.destination.lat, trip.destination.lon] for trip in trips])
    store_to_drop = haversine_matrix(store_point, drops)[0]  # (orders,)
    store_to_home = haversine_matrix(store_point, homes)[0]  # (trips,)
    drop_to_home = haversine_matrix(drops, homes)  # (orders, trips)
    detour = parameters.road_factor * (store_to_drop[:, None] + drop_to_home - store_to_home[None, :])
    limit = np.array([detour_limit_km(trip, parameters) for trip in trips])
    sizes = np.array([order.size_bags for order in orders])
    capacity = np.array([trip.capacity_bags for trip in trips])
    capable = (detour <= limit[None, :] + 1e-9) & (sizes[:, None] <= capacity[None, :])
    counts: npt.NDArray[np.int64] = capable.sum(axis=1)
    per_trip = capable.sum(axis=0)
    shares: npt.NDArray[np.float64] = (capable / np.maximum(per_trip, 1)[None, :]).sum(axis=1)
    return counts, shares
