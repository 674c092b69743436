"""The last step of `solve`: the best plan as a `MatchSolution`, with why each order is on no trip.

Indices become ids again; each route's length, detour and compensation come from the exact route checks.
An order on no trip is explained by the first rule that rules out every trip for it, else by its cost.
"""

from __future__ import annotations

import math
import time

import numpy as np

from dispatch.matching.instance import TOLERANCE, BoolArray, Instance, IntArray
from dispatch.matching.pairs import Pairs
from dispatch.matching.plan import Plan
from dispatch.matching.solution import FleetRoute, MatchSolution, TripAssignment, UnassignedReason


def to_solution(instance: Instance, pairs: Pairs, plan: Plan, deadline: float) -> MatchSolution:
    problem = instance.problem
    ids = [o.id for o in problem.orders]
    served_by_trip = np.zeros(instance.order_count, dtype=np.bool_)
    trips: list[TripAssignment] = []
    compensation = 0.0
    for trip in sorted(plan.trip_routes):
        stops = plan.trip_routes[trip]
        route = instance.trip_route(trip, stops)
        assert route is not None
        served_by_trip[stops] = True
        compensation += route.cost
        trips.append(
            TripAssignment(
                problem.trips[trip].id, tuple(ids[o] for o in stops), route.length, route.detour, route.compensation
            )
        )
    fleet_routes: list[FleetRoute] = []
    in_fleet = np.zeros(instance.order_count, dtype=np.bool_)
    fleet_cost = 0.0
    for stops in plan.fleet_routes:
        if not stops:
            continue
        cost = instance.fleet_route(stops)
        assert cost is not None
        fleet = problem.fleet
        assert fleet is not None
        length = (cost - fleet.fixed_cost) / fleet.cost_per_distance if fleet.cost_per_distance else math.nan
        fleet_routes.append(FleetRoute(tuple(ids[o] for o in stops), length, cost))
        in_fleet[stops] = True
        fleet_cost += cost
    left = np.flatnonzero(~served_by_trip & ~in_fleet)
    fallback_cost = float(instance.skip_cost()[left].sum())
    reasons = unassigned_reasons(instance, pairs, np.flatnonzero(~served_by_trip), in_fleet, deadline)
    return MatchSolution(
        objective=fleet_cost + compensation + fallback_cost,
        trips=tuple(trips),
        fleet_routes=tuple(fleet_routes),
        fallback=tuple(ids[o] for o in left.tolist()),
        unassigned={ids[o]: reason for o, reason in reasons.items()},
    )


def unassigned_reasons(
    instance: Instance,
    pairs: Pairs,
    orders: IntArray,
    in_fleet: BoolArray,
    deadline: float = math.inf,
) -> dict[int, UnassignedReason]:
    """Why each of `orders` is on no trip: the first rule that rules out every trip, else the cost.

    Checking an order against every trip is O(orders x trips); past `deadline` the rest are marked as not
    examined rather than overrunning the time limit.
    """
    reasons: dict[int, UnassignedReason] = {}
    has_pair = np.zeros(instance.order_count, dtype=np.bool_)
    has_pair[pairs.order] = True
    for order in orders[has_pair[orders]].tolist():
        reasons[order] = (
            UnassignedReason.BETTER_LEFT_FOR_FLEET if in_fleet[order] else UnassignedReason.BETTER_LEFT_FOR_FALLBACK
        )
    lonely = orders[~has_pair[orders]]
    taking = np.flatnonzero(instance.max_orders >= 1)
    if len(lonely) == 0:
        return reasons
    if len(taking) == 0:
        for order in lonely.tolist():
            reasons[order] = UnassignedReason.NO_TRIP_TAKES_ORDERS
        return reasons
    problem = instance.problem
    values = np.array([np.nan if o.value_cents is None else o.value_cents for o in problem.orders])
    requires_id = np.array([o.requires_id_check for o in problem.orders], dtype=np.bool_)
    verified = np.array([t.id_verified for t in problem.trips], dtype=np.bool_)[taking]
    value_limit = np.array([math.inf if t.value_limit_cents is None else t.value_limit_cents for t in problem.trips])[
        taking
    ]
    limit = instance.route_limit[taking]
    destinations = instance.destination_xy[taking]
    chunk = max(1, 500_000 // len(taking))
    for start in range(0, len(lonely), chunk):
        part = lonely[start : start + chunk]
        if time.perf_counter() > deadline:
            for order in lonely[start:].tolist():
                reasons[order] = UnassignedReason.NOT_EXAMINED
            break
        route = instance.store_to_order[part][:, None] + instance.distances(instance.order_xy[part], destinations)
        ok = route <= limit[None, :] + TOLERANCE * np.maximum(1.0, np.abs(limit))[None, :]
        checks: list[tuple[UnassignedReason, BoolArray]] = [
            (UnassignedReason.NO_TRIP_WITHIN_DETOUR, ok),
            (UnassignedReason.CAPACITY, instance.size[part][:, None] <= instance.capacity[taking][None, :]),
            (
                UnassignedReason.WINDOW,
                instance.depart[taking][None, :] + instance.store_to_order[part][:, None] / problem.speed
                <= instance.latest[part][:, None] + TOLERANCE * np.maximum(1.0, np.abs(instance.latest[part]))[:, None],
            ),
            (UnassignedReason.ID_CHECK, ~requires_id[part][:, None] | verified[None, :]),
            (
                UnassignedReason.VALUE_LIMIT,
                np.isnan(values[part])[:, None] | (values[part][:, None] <= value_limit[None, :]),
            ),
        ]
        alive = np.ones((len(part), len(taking)), dtype=np.bool_)
        decided = np.zeros(len(part), dtype=np.bool_)
        for reason, passes in checks:
            alive &= passes
            newly = ~alive.any(axis=1) & ~decided
            for order in part[newly].tolist():
                reasons[order] = reason
            decided |= newly
        for order in part[~decided].tolist():
            reasons[order] = UnassignedReason.NOT_A_CANDIDATE
    return reasons
