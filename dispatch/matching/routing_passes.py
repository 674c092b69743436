"""The routing solver over groups of orders: the whole store at once, or angular sectors around the store.

A small store is one group; a large one is cut into sectors of about `small_group_orders` orders, rotated
between passes. Each group's model (`routing_search.route_group`) gets the group's orders that nothing
outside holds, each order's cheapest candidate trips and some fleet vehicles, warm-started from the best
plan so far; its routes replace the group's old ones only when the whole plan's exact cost is lower.
"""

from __future__ import annotations

import math

import numpy as np

from dispatch.matching.budget import WorkClock
from dispatch.matching.instance import Instance, IntArray
from dispatch.matching.pairs import Pairs
from dispatch.matching.plan import Plan, plan_cost_exact
from dispatch.matching.routing_search import build_seconds, route_group
from dispatch.matching.tuning import RoutingTuning


def _sectors(instance: Instance, orders: IntArray, count: int, offset: float) -> list[IntArray]:
    """`orders` cut into `count` angular sectors of about equal size around the store."""
    if count <= 1:
        return [orders]
    delta = instance.order_xy[orders] - instance.store[None, :]
    if instance.problem.metric == "haversine":
        angle = np.arctan2(delta[:, 0], delta[:, 1] * math.cos(math.radians(float(instance.store[0]))))
    else:
        angle = np.arctan2(delta[:, 1], delta[:, 0])
    angle = np.mod(angle - offset, 2 * math.pi)
    ranked = orders[np.argsort(angle, kind="stable")]
    return [part for part in np.array_split(ranked, count) if len(part)]


def routing_passes(
    instance: Instance,
    pairs: Pairs,
    plan: Plan,
    plan_cost: float,
    considered: IntArray,
    sector_count: int,
    finish_by: float,
    clock: WorkClock,
    rng: np.random.Generator,
    *,
    tuning: RoutingTuning,
) -> tuple[Plan, float, int]:
    """The routing solver over sectors of `considered` (rotated each pass) until `finish_by`."""
    best, best_cost = plan, plan_cost
    passes = 0
    while clock.now() < finish_by - 0.01 and not clock.expired():
        offset = float(rng.uniform(0, 2 * math.pi)) if passes or sector_count > 1 else 0.0
        sectors = _sectors(instance, considered, sector_count, offset)
        remaining_orders = len(considered)
        for sector in sectors:
            now = clock.now()
            if now >= finish_by - 0.01 or clock.expired():
                break
            share = (finish_by - now) * len(sector) / remaining_orders
            remaining_orders -= len(sector)
            if sector_count == 1:
                share = finish_by - now
            elif finish_by - now < build_seconds(
                1 + len(sector) + tuning.max_group_trips, tuning.max_group_trips, tuning
            ):
                return best, best_cost, passes + 1  # not even a model fits in what is left
            candidate = _improve_sector(instance, pairs, best, sector, share, clock, tuning)
            if candidate is None:
                continue
            clock.charge(tuning.seconds_per_route_check * (len(candidate.trip_routes) + len(candidate.fleet_routes)))
            cost = plan_cost_exact(instance, candidate)
            if cost < best_cost - 1e-9 * max(1.0, abs(best_cost)):
                best, best_cost = candidate, cost
        passes += 1
        if sector_count == 1:
            break
    return best, best_cost, passes


def _group_trips(pairs: Pairs, orders: IntArray, warm: Plan, taken: IntArray, tuning: RoutingTuning) -> IntArray:
    """The trips a group's model gets: those in use there, then each order's cheapest candidates, so that
    the model stays small enough to build in a moment (a model cannot be stopped while it is built)."""
    in_orders = np.flatnonzero(np.isin(pairs.order, orders) & ~np.isin(pairs.trip, taken))
    used = np.fromiter(warm.trip_routes, dtype=np.int64)
    for per_order in (tuning.max_trips_per_order, 4, 2, 1):
        by_order = in_orders[np.lexsort((pairs.cost[in_orders], pairs.order[in_orders]))]
        grouped_order = pairs.order[by_order]
        first = np.r_[0, np.flatnonzero(np.diff(grouped_order)) + 1]
        rank = np.arange(len(by_order)) - np.repeat(first, np.diff(np.r_[first, len(by_order)]))
        trips = np.union1d(used, pairs.trip[by_order[rank < per_order]])
        if len(trips) <= tuning.max_group_trips:
            return trips
    return trips


def _improve_sector(
    instance: Instance,
    pairs: Pairs,
    plan: Plan,
    sector: IntArray,
    work: float,
    clock: WorkClock,
    tuning: RoutingTuning,
) -> Plan | None:
    """Re-solve the orders of `sector` that nothing outside it holds; the rest of `plan` stays."""
    inside = np.zeros(instance.order_count, dtype=np.bool_)
    inside[sector] = True
    fixed = Plan()
    warm = Plan()
    for trip, stops in plan.trip_routes.items():
        (warm if inside[stops].all() else fixed).trip_routes[trip] = stops
    for stops in plan.fleet_routes:
        (warm.fleet_routes if inside[stops].all() else fixed.fleet_routes).append(stops)
    held = np.zeros(instance.order_count, dtype=np.bool_)
    for stops in fixed.trip_routes.values():
        held[stops] = True
    for stops in fixed.fleet_routes:
        held[stops] = True
    orders = sector[~held[sector]]
    if len(orders) == 0:
        return None
    trips = _group_trips(pairs, orders, warm, np.fromiter(fixed.trip_routes, dtype=np.int64), tuning)
    fleet = instance.problem.fleet
    fleet_vehicles = 0
    if fleet is not None:
        warm_routes = len(warm.fleet_routes)
        spare = max(tuning.min_spare_fleet_routes, warm_routes // tuning.spare_fleet_route_divisor)
        fleet_vehicles = min(len(orders), warm_routes + spare)
        if fleet.vehicles is not None:
            fleet_vehicles = min(fleet_vehicles, fleet.vehicles - len(fixed.fleet_routes))
    result = route_group(instance, pairs, orders, trips, max(0, fleet_vehicles), warm, work, clock, tuning=tuning)
    if result is None:
        return None
    merged = fixed.copy()
    merged.trip_routes.update(result.trip_routes)
    merged.fleet_routes.extend(result.fleet_routes)
    return merged
