"""Step 2 of `solve`: the plan every search starts from, always feasible.

Each order to at most one trip by an exact assignment (`assignment`), weighed against the order's cheapest
alternative: its fallback cost, or what the fleet would save without it, estimated from a savings-built
fleet plan (several estimates tried, the cheapest plan kept). Exact when there is no fleet and every trip
takes one order; what a cut-short search falls back to otherwise. When the savings plan needs more vehicles
than a limited fleet has, the routing solver packs them instead.
"""

from __future__ import annotations

import math

import numpy as np

from dispatch.matching.assignment import NoFeasibleMatch, assign_one_per_trip
from dispatch.matching.budget import WorkClock
from dispatch.matching.fleet import fleet_capable, removal_gains, savings_routes
from dispatch.matching.instance import FloatArray, Instance, IntArray
from dispatch.matching.pairs import Pairs
from dispatch.matching.plan import Plan, plan_cost_exact
from dispatch.matching.routing_search import route_group
from dispatch.matching.tuning import FleetTuning, MatcherTuning


def initial_plan(
    instance: Instance, pairs: Pairs, clock: WorkClock, repair_by: float, *, tuning: MatcherTuning
) -> Plan:
    """The assignment plan; with a fleet, the best of a few estimates of what the fleet saves per order.

    `repair_by`: the work-clock time until which the routing solver may pack a fleet with too few vehicles.
    """
    skip = instance.skip_cost()
    capable = fleet_capable(instance)
    if len(capable) == 0:
        return _plan_for(instance, pairs, skip, capable, tuning.fleet)
    fleet = instance.problem.fleet
    assert fleet is not None
    routes = savings_routes(instance, capable, tuning=tuning.fleet)
    assert routes is not None
    estimates = [removal_gains(instance, routes)[capable]]
    if len(capable) <= tuning.initial_plan.radial_estimate_orders:
        radial = fleet.cost_per_distance * instance.store_to_order[capable]
        estimates += [factor * radial for factor in tuning.initial_plan.radial_factors]
    best: tuple[float, Plan] | None = None
    for estimate in estimates:
        alternative = skip.copy()
        alternative[capable] = np.minimum(skip[capable], estimate)
        try:
            plan = _plan_for(instance, pairs, alternative, capable, tuning.fleet)
        except _TooFewVehicles:
            continue
        cost = plan_cost_exact(instance, plan)
        if best is None or cost < best[0]:
            best = (cost, plan)
    if best is None:
        return _plan_for_few_vehicles(instance, pairs, capable, clock, repair_by, tuning)
    return best[1]


class _TooFewVehicles(Exception):
    pass


def _plan_for_few_vehicles(
    instance: Instance, pairs: Pairs, capable: IntArray, clock: WorkClock, repair_by: float, tuning: MatcherTuning
) -> Plan:
    """When the savings plan needs more vehicles than the fleet has: let the routing solver pack them."""
    fleet = instance.problem.fleet
    assert fleet is not None
    assert fleet.vehicles is not None
    useful = np.zeros(instance.order_count, dtype=np.bool_)
    useful[pairs.order] = True
    useful[capable] = True
    orders = np.flatnonzero(useful)
    trips = np.unique(pairs.trip)
    work = max(0.05, repair_by - clock.now())
    plan = route_group(instance, pairs, orders, trips, fleet.vehicles, Plan(), work, clock, tuning=tuning.routing)
    if plan is None or not math.isfinite(plan_cost_exact(instance, plan)):
        raise NoFeasibleMatch("the fleet has too few vehicles for the orders that must be served")
    return plan


def _plan_for(
    instance: Instance, pairs: Pairs, alternative: FloatArray, capable: IntArray, tuning: FleetTuning
) -> Plan:
    assigned = assign_one_per_trip(
        instance.order_count, instance.trip_count, pairs.trip, pairs.order, pairs.cost, alternative
    )
    plan = Plan({int(assigned[o]): [o] for o in np.flatnonzero(assigned >= 0).tolist()})
    if len(capable):
        rest = capable[assigned[capable] < 0]
        uncovered = np.flatnonzero((assigned < 0) & instance.must_serve)
        if len(np.setdiff1d(uncovered, rest)):
            raise NoFeasibleMatch("an order that must be served can go neither to a trip nor to the fleet")
        plan.fleet_routes = _worthwhile_fleet_routes(instance, rest, tuning)
        _respect_vehicle_limit(instance, plan)
    return plan


def _worthwhile_fleet_routes(instance: Instance, orders: IntArray, tuning: FleetTuning) -> list[list[int]]:
    """Savings routes for `orders`, minus the orders cheaper to leave out than to carry alone-ish."""
    routes = savings_routes(instance, orders, tuning=tuning)
    assert routes is not None
    skip = instance.skip_cost()
    kept: list[list[int]] = []
    for route in routes:
        cost = instance.fleet_route(route)
        assert cost is not None
        if math.isfinite(float(skip[route].sum())) and float(skip[route].sum()) <= cost:
            continue  # the whole route costs more than leaving its orders to the fallback
        kept.append(route)
    return kept


def _respect_vehicle_limit(instance: Instance, plan: Plan) -> None:
    """Too many routes for a limited fleet: merge into others where feasible, else leave to fallback."""
    fleet = instance.problem.fleet
    assert fleet is not None
    if fleet.vehicles is None or len(plan.fleet_routes) <= fleet.vehicles:
        return
    skip = instance.skip_cost()
    routes = sorted(plan.fleet_routes, key=lambda r: float(skip[r].sum()) if np.isfinite(skip[r]).all() else math.inf)
    while len(routes) > fleet.vehicles:
        dropped = routes.pop(0)
        for order in dropped:
            best: tuple[float, int, int] | None = None
            for r, route in enumerate(routes):
                base = instance.fleet_route(route)
                assert base is not None
                for position in range(len(route) + 1):
                    cost = instance.fleet_route([*route[:position], order, *route[position:]])
                    if cost is not None and (best is None or cost - base < best[0]):
                        best = (cost - base, r, position)
            if best is not None and (not math.isfinite(float(skip[order])) or best[0] < float(skip[order])):
                routes[best[1]].insert(best[2], order)
            elif not math.isfinite(float(skip[order])):
                raise _TooFewVehicles
    plan.fleet_routes = routes
