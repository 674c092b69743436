"""The fleet's side: a quick, always-feasible fleet plan (Clarke-Wright savings), what each order adds to
or saves from it, and cheapest insertion into existing routes.

The plan is the start for the routing search and the fallback when the search has no time; the marginal
costs tell the assignment how much the fleet saves when a trip takes an order.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from dispatch.matching.instance import FloatArray, Instance, IntArray
from dispatch.matching.tuning import FleetTuning


def _candidate_savings(
    instance: Instance, orders: IntArray, tuning: FleetTuning
) -> tuple[IntArray, IntArray, FloatArray]:
    """Savings d(0,i) + d(0,j) - d(i,j) for near pairs (all pairs when few orders), best first."""
    n = len(orders)
    xy = instance.order_xy[orders]
    if n <= tuning.all_pairs_orders:
        first, second = np.triu_indices(n, k=1)
    else:
        points = xy.copy()
        if instance.problem.metric == "haversine":
            points[:, 1] *= np.cos(np.radians(float(np.mean(points[:, 0]))))
        _, neighbours = cKDTree(points).query(points, k=min(n, tuning.savings_neighbours + 1))
        first = np.repeat(np.arange(n), neighbours.shape[1])
        second = neighbours.reshape(-1)
        keep = first < second
        first, second = first[keep], second[keep]
    between = instance.pair_distances(xy[first], xy[second])
    to_store = instance.store_to_order[orders]
    savings = to_store[first] + to_store[second] - between
    order_by = np.argsort(-savings, kind="stable")
    return first[order_by], second[order_by], savings[order_by]


def savings_routes(  # noqa: PLR0912
    instance: Instance, orders: IntArray, *, tuning: FleetTuning
) -> list[list[int]] | None:
    """Fleet routes covering `orders` (capacity and windows respected), or None if some order alone fails."""
    fleet = instance.problem.fleet
    assert fleet is not None
    orders = np.asarray(orders, dtype=np.int64)
    routes: dict[int, list[int]] = {}
    route_of: dict[int, int] = {}
    load: dict[int, float] = {}
    for local, order in enumerate(orders.tolist()):
        if instance.fleet_route([order]) is None:
            return None
        routes[local] = [order]
        route_of[local] = local
        load[local] = float(instance.size[order])
    if len(orders) < 2:
        return list(routes.values())
    capacity = np.inf if fleet.capacity is None else fleet.capacity
    has_windows = bool(np.isfinite(instance.latest[orders]).any())
    first, second, savings = _candidate_savings(instance, orders, tuning)
    local_of = {int(order): local for local, order in enumerate(orders.tolist())}
    for a, b, saving in zip(first.tolist(), second.tolist(), savings.tolist(), strict=True):
        if saving <= 0 and fleet.fixed_cost <= 0:
            break
        ra, rb = route_of[a], route_of[b]
        if ra == rb or load[ra] + load[rb] > capacity * (1 + 1e-9):
            continue
        order_a, order_b = int(orders[a]), int(orders[b])
        route_a, route_b = routes[ra], routes[rb]
        merged: list[int] | None = None
        for left, right in ((route_a, route_b), (route_b, route_a)):
            # join where the pair sits at the ends: ...a][b... (reversing a side when that helps)
            for lhs in (left, left[::-1]):
                for rhs in (right, right[::-1]):
                    if {lhs[-1], rhs[0]} == {order_a, order_b}:
                        candidate = lhs + rhs
                        if not has_windows or instance.fleet_route(candidate) is not None:
                            merged = candidate
                            break
                if merged is not None:
                    break
            if merged is not None:
                break
        if merged is None:
            continue
        routes[ra] = merged
        load[ra] += load[rb]
        del routes[rb], load[rb]
        for order in route_b:
            route_of[local_of[order]] = ra
    return list(routes.values())


def removal_gains(instance: Instance, routes: list[list[int]]) -> FloatArray:
    """Per order in `routes`: the fleet cost saved by taking it out (nan for orders not in a route)."""
    fleet = instance.problem.fleet
    assert fleet is not None
    gain = np.full(instance.order_count, np.nan)
    for route in routes:
        stops = np.asarray(route, dtype=np.int64)
        points = np.vstack([instance.store[None, :], instance.order_xy[stops], instance.store[None, :]])
        legs = instance.pair_distances(points[:-1], points[1:])
        shortcut = instance.pair_distances(points[:-2], points[2:])
        saving = legs[:-1] + legs[1:] - shortcut
        gain[stops] = fleet.cost_per_distance * saving + (fleet.fixed_cost if len(route) == 1 else 0.0)
    return gain


def fleet_capable(instance: Instance) -> IntArray:
    fleet = instance.problem.fleet
    if fleet is None or fleet.vehicles == 0:
        return np.zeros(0, dtype=np.int64)
    return np.array([o for o in range(instance.order_count) if instance.fleet_route([o]) is not None], dtype=np.int64)


def insertion_costs(instance: Instance, routes: list[list[int]], orders: IntArray) -> FloatArray:
    """Cheapest capacity-respecting insertion of each order into the routes (a new route if none fits)."""
    fleet = instance.problem.fleet
    assert fleet is not None
    capacity = math.inf if fleet.capacity is None else fleet.capacity
    best = fleet.fixed_cost + fleet.cost_per_distance * 2 * instance.store_to_order[orders]
    xy = instance.order_xy[orders]
    for route in routes:
        load = float(instance.size[route].sum())
        fits = instance.size[orders] + load <= capacity * (1 + 1e-9)
        if not fits.any():
            continue
        points = np.vstack([instance.store[None, :], instance.order_xy[route], instance.store[None, :]])
        to_points = instance.distances(xy, points)
        legs = instance.pair_distances(points[:-1], points[1:])
        extra = (to_points[:, :-1] + to_points[:, 1:] - legs[None, :]).min(axis=1) * fleet.cost_per_distance
        best = np.where(fits, np.minimum(best, extra), best)
    return best


def insert_cheapest(instance: Instance, routes: list[list[int]], orders: list[int]) -> list[list[int]]:
    """Each order put where it adds least (capacity respected), a route of its own if nowhere fits."""
    fleet = instance.problem.fleet
    assert fleet is not None
    capacity = math.inf if fleet.capacity is None else fleet.capacity
    routes = [list(r) for r in routes]
    for order in orders:
        best: tuple[float, int, int] | None = None
        xy = instance.order_xy[order][None, :]
        for r, route in enumerate(routes):
            if float(instance.size[route].sum() + instance.size[order]) > capacity * (1 + 1e-9):
                continue
            points = np.vstack([instance.store[None, :], instance.order_xy[route], instance.store[None, :]])
            to_points = instance.distances(xy, points)[0]
            legs = instance.pair_distances(points[:-1], points[1:])
            extra = to_points[:-1] + to_points[1:] - legs
            position = int(np.argmin(extra))
            if best is None or float(extra[position]) < best[0]:
                best = (float(extra[position]), r, position)
        if best is None or best[0] > 2 * float(instance.store_to_order[order]) + fleet.fixed_cost:
            routes.append([order])
        else:
            routes[best[1]].insert(best[2], order)
    return routes
