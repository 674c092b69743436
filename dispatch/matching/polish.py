"""A last, exact local search over whole orders: move one order anywhere, possibly pushing another out.

The routing solver prices a few things approximately (a detour minimum, listed compensations on
multi-order trips) and its guided local search can miss two-step moves that prize collection needs
(drop one order so that another fits). Here every move is priced by the exact route checks, so what this
keeps is a true improvement. Moves per order: to the fallback, into any route that may take it (a trip
it is a candidate for, a fleet route, a new fleet route), or into a route while ejecting one optional order.
The budget is a number of routes priced (charged to the work clock), so that the search stops at the same
move on every run; the wall clock is a safety net only.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from dispatch.matching.budget import WorkClock
from dispatch.matching.instance import Instance
from dispatch.matching.pairs import Pairs
from dispatch.matching.plan import Plan
from dispatch.matching.tuning import PolishTuning

_EPSILON = 1e-9


@dataclass
class _Route:
    trip: int  # -1: a fleet vehicle
    stops: list[int]
    cost: float


def polish(  # noqa: PLR0912, PLR0915
    instance: Instance,
    pairs: Pairs,
    plan: Plan,
    clock: WorkClock,
    finish_by: float,
    only_unserved: bool = False,
    *,
    tuning: PolishTuning,
) -> Plan:
    """`plan` improved by exact single-order moves until none helps or the work clock reaches `finish_by`.

    `only_unserved`: move only the orders nothing serves (for large batches, where that is what is cheap).
    """
    fleet = instance.problem.fleet
    skip = instance.skip_cost()
    relevant = np.ones(len(pairs.trip), dtype=np.bool_)
    if only_unserved:
        served = np.zeros(instance.order_count, dtype=np.bool_)
        for stops in (*plan.trip_routes.values(), *plan.fleet_routes):
            served[stops] = True
        relevant = ~served[pairs.order]
    trips_of: dict[int, list[int]] = {}
    for trip, order in zip(pairs.trip[relevant].tolist(), pairs.order[relevant].tolist(), strict=True):
        trips_of.setdefault(order, []).append(trip)
    routes: list[_Route] = []
    trip_route: dict[int, int] = {}
    prices = 0
    entered = time.perf_counter()
    budget = max(0.0, finish_by - clock.now()) / tuning.seconds_per_price

    def out_of_work() -> bool:
        return prices >= budget or clock.past_safety("polish")

    for trip in np.unique(pairs.trip[relevant]).tolist():
        prices += 1
        if out_of_work():
            clock.charge(prices * tuning.seconds_per_price)
            clock.record("polish", prices * tuning.seconds_per_price, time.perf_counter() - entered)
            return plan
        stops = plan.trip_routes.get(trip, [])
        checked = instance.trip_route(trip, stops)
        if checked is None:
            return plan
        trip_route[trip] = len(routes)
        routes.append(_Route(trip, list(stops), checked.cost))
    for stops in plan.fleet_routes:
        cost = instance.fleet_route(stops)
        if cost is None:
            return plan
        routes.append(_Route(-1, list(stops), cost))
    fleet_ok = np.zeros(instance.order_count, dtype=np.bool_)
    if fleet is not None and fleet.vehicles != 0:
        for order in range(instance.order_count):
            fleet_ok[order] = instance.fleet_route([order]) is not None
    where = np.full(instance.order_count, -1, dtype=np.int64)
    for index, route in enumerate(routes):
        where[route.stops] = index
    # trips outside the search keep their routes, and their orders stay where they are
    untouched = {t: list(s) for t, s in plan.trip_routes.items() if t not in trip_route}
    held = np.zeros(instance.order_count, dtype=np.bool_)
    for stops in untouched.values():
        held[stops] = True

    def price(route: _Route, stops: list[int]) -> float:
        nonlocal prices
        prices += 1
        if route.trip >= 0:
            found = instance.trip_route(route.trip, stops)
            return math.inf if found is None else found.cost
        cost = instance.fleet_route(stops)
        return math.inf if cost is None else cost

    def fleet_in_use() -> int:
        return sum(1 for r in routes if r.trip < 0 and r.stops)

    improved = True
    while improved and not out_of_work():
        improved = False
        movers = np.flatnonzero((where < 0) & ~held).tolist() if only_unserved else range(instance.order_count)
        for order in movers:
            if out_of_work():
                break
            home = int(where[order])
            if home >= 0:
                without = [o for o in routes[home].stops if o != order]
                leave_cost = price(routes[home], without) - routes[home].cost
            else:
                without = []
                leave_cost = -float(skip[order])
            best: tuple[float, int, list[int], int] | None = None  # delta, route, new stops, ejected order
            if home >= 0 and math.isfinite(float(skip[order])):
                best = (leave_cost + float(skip[order]), -1, [], -1)
            targets = [trip_route[t] for t in trips_of.get(order, [])]
            if fleet_ok[order]:
                targets += [i for i, r in enumerate(routes) if r.trip < 0 and r.stops]
                if fleet is not None and (fleet.vehicles is None or fleet_in_use() < fleet.vehicles):
                    routes.append(_Route(-1, [], 0.0))
                    targets.append(len(routes) - 1)
            for target in targets:
                if target == home:
                    continue
                route = routes[target]
                for position in range(len(route.stops) + 1):
                    stops = [*route.stops[:position], order, *route.stops[position:]]
                    delta = leave_cost + price(route, stops) - route.cost
                    if best is None or delta < best[0]:
                        best = (delta, target, stops, -1)
                for ejected in route.stops:
                    if not math.isfinite(float(skip[ejected])):
                        continue
                    rest = [o for o in route.stops if o != ejected]
                    for position in range(len(rest) + 1):
                        stops = [*rest[:position], order, *rest[position:]]
                        delta = leave_cost + price(route, stops) - route.cost + float(skip[ejected])
                        if best is None or delta < best[0]:
                            best = (delta, target, stops, ejected)
            if routes and routes[-1].trip < 0 and not routes[-1].stops and (best is None or best[1] != len(routes) - 1):
                routes.pop()
            if best is None or best[0] >= -_EPSILON * max(1.0, abs(leave_cost)):
                continue
            delta, target, stops, ejected = best
            if home >= 0:
                routes[home].cost = price(routes[home], without)
                routes[home].stops = without
            where[order] = -1
            if target >= 0:
                routes[target].stops = stops
                routes[target].cost = price(routes[target], stops)
                where[order] = target
                if ejected >= 0:
                    where[ejected] = -1
            improved = True
    clock.charge(prices * tuning.seconds_per_price)
    clock.record("polish", prices * tuning.seconds_per_price, time.perf_counter() - entered)
    result = Plan(dict(untouched))
    for route in routes:
        if not route.stops:
            continue
        if route.trip >= 0:
            result.trip_routes[route.trip] = route.stops
        else:
            result.fleet_routes.append(route.stops)
    return result
