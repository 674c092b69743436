"""The referee: checks a solution against the spec and recomputes its objective from scratch.

Written from the spec alone and sharing no code with the solver (not even its distance functions), so
that a bug in the solver cannot hide behind the same bug here. Slow and plain on purpose.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from crowdship.errors import DomainError
from dispatch.matching.acceptance import acceptance_probability, expected_route_cost
from dispatch.matching.problem import MatchOrder, MatchProblem, MatchTrip, Point
from dispatch.matching.reward_rule import route_cost

SOLUTION_FORMAT = "crowdship-match-solution/1"
_RADIUS_KM = 6371.0088
_TOLERANCE = 1e-9


class InfeasibleSolution(DomainError):
    """A solution that breaks a rule of the problem, or whose stated objective is wrong."""

    kind = "invalid"


def _distance(problem: MatchProblem, a: Point, b: Point) -> float:
    if problem.metric == "euclidean":
        straight = math.hypot(a[0] - b[0], a[1] - b[1])
    else:
        lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
        h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
        straight = 2 * _RADIUS_KM * math.asin(math.sqrt(min(1.0, max(0.0, h))))
    return straight * problem.road_factor


def _within(value: float, limit: float) -> bool:
    return value <= limit + _TOLERANCE * max(1.0, abs(limit))


def _check_windows(
    problem: MatchProblem, start: float, stops: Sequence[MatchOrder], where: str, *, wait_at_doors: bool = True
) -> None:
    """Arrival times along a route from the store; early arrivals wait (at the door, or, without
    `wait_at_doors`, in the store: the departure is put off by the most any stop would wait), late ones are
    infeasible."""
    if not wait_at_doors:
        clock, position, opens_after = start, problem.store.location, 0.0
        for order in stops:
            clock += _distance(problem, position, order.location) / problem.speed
            position = order.location
            if order.window is not None:
                opens_after = max(opens_after, order.window[0] - clock)
        start += opens_after
    clock = start
    position = problem.store.location
    for order in stops:
        clock += _distance(problem, position, order.location) / problem.speed
        position = order.location
        if order.window is not None:
            earliest, latest = order.window
            if not _within(clock, latest):
                raise InfeasibleSolution(f"{where}: arrives at {order.id} at minute {clock:.6g}, after {latest:g}")
            clock = max(clock, earliest)


def _trip_cost(problem: MatchProblem, trip: MatchTrip, stops: Sequence[MatchOrder]) -> float:  # noqa: PLR0912
    where = f"trip {trip.id}"
    if len(stops) > trip.max_orders:
        raise InfeasibleSolution(f"{where}: {len(stops)} orders, max_orders is {trip.max_orders}")
    if trip.capacity is not None and not _within(sum(o.size for o in stops), trip.capacity):
        raise InfeasibleSolution(f"{where}: total size above capacity {trip.capacity:g}")
    listed = None if trip.candidates is None else {c.order: c.compensation for c in trip.candidates}
    for order in stops:
        if listed is not None and order.id not in listed:
            raise InfeasibleSolution(f"{where}: order {order.id} is not among its candidates")
        if order.requires_id_check and not trip.id_verified:
            raise InfeasibleSolution(f"{where}: order {order.id} needs an id check, the shopper is not verified")
        if (
            order.value_cents is not None
            and trip.value_limit_cents is not None
            and order.value_cents > trip.value_limit_cents
        ):
            raise InfeasibleSolution(f"{where}: order {order.id} is worth more than the value limit")
    points = [problem.store.location, *(o.location for o in stops), trip.destination]
    length = sum(_distance(problem, points[i], points[i + 1]) for i in range(len(points) - 1))
    direct = _distance(problem, problem.store.location, trip.destination)
    limits = []
    if trip.max_route is not None:
        limits.append(trip.max_route)
    if trip.max_detour_ratio is not None:
        limits.append(trip.max_detour_ratio * direct)
    if limits and not _within(length, min(limits)):
        raise InfeasibleSolution(f"{where}: route {length:.9g} longer than its limit {min(limits):.9g}")
    _check_windows(problem, trip.depart, stops, where, wait_at_doors=trip.wait_at_doors)
    if not stops or (trip.compensation is None and (listed is None or len(stops) != 1)):
        return 0.0
    if len(stops) == 1 and listed is not None and listed[stops[0].id] is not None:
        explicit = listed[stops[0].id]
        assert explicit is not None
        return explicit
    rule = trip.compensation
    if rule is None:
        return 0.0
    if rule.rule == "detour":
        return max(rule.minimum * len(stops), rule.rate * (length - direct))
    if rule.rule == "store_distance":
        return sum(rule.rate * _distance(problem, problem.store.location, o.location) for o in stops)
    if rule.reward is not None:
        return route_cost(rule.reward, [o.size for o in stops], max(0.0, length - direct), problem.speed)
    return rule.amount * len(stops)


def _expected(problem: MatchProblem, trip: MatchTrip, stops: Sequence[MatchOrder], compensation: float) -> float:
    """With an acceptance section, a listed trip's route costs what the company expects to pay (see
    `acceptance`): p * compensation + (1 - p) * (its orders' fallback costs + the decline penalty)."""
    acceptance = problem.acceptance
    terms = None if acceptance is None else acceptance.for_trip(trip.id)
    if acceptance is None or terms is None or not stops:
        return compensation
    points = [problem.store.location, *(o.location for o in stops), trip.destination]
    length = sum(_distance(problem, points[i], points[i + 1]) for i in range(len(points) - 1))
    detour = max(0.0, length - _distance(problem, problem.store.location, trip.destination))
    p = acceptance_probability(terms, compensation, detour, len(stops), sum(o.size for o in stops))
    if acceptance.decline == "reoffer":
        decline = compensation + acceptance.decline_penalty * len(stops)
    else:
        decline = sum((problem.order_fallback(o) or 0.0) + acceptance.decline_penalty for o in stops)
    return expected_route_cost(p, compensation, decline)


def _fleet_cost(problem: MatchProblem, routes: Sequence[Sequence[MatchOrder]]) -> float:
    fleet = problem.fleet
    used = [route for route in routes if route]
    if not used:
        return 0.0
    if fleet is None:
        raise InfeasibleSolution("fleet_routes: the problem has no fleet")
    if fleet.vehicles is not None and len(used) > fleet.vehicles:
        raise InfeasibleSolution(f"fleet_routes: {len(used)} routes, the fleet has {fleet.vehicles} vehicles")
    total = 0.0
    for index, route in enumerate(used):
        where = f"fleet route {index}"
        if fleet.capacity is not None and not _within(sum(o.size for o in route), fleet.capacity):
            raise InfeasibleSolution(f"{where}: total size above the fleet capacity {fleet.capacity:g}")
        _check_windows(problem, 0.0, route, where)
        points = [problem.store.location, *(o.location for o in route), problem.store.location]
        length = sum(_distance(problem, points[i], points[i + 1]) for i in range(len(points) - 1))
        total += fleet.fixed_cost + fleet.cost_per_distance * length
    return total


def _id_list(value: Any, field: str) -> list[str]:
    if not isinstance(value, list):
        raise InfeasibleSolution(f"{field}: expected a list of order ids")
    if not all(isinstance(item, str) for item in value):
        raise InfeasibleSolution(f"{field}: order ids must be strings")
    return list(value)


def evaluate(problem: MatchProblem, solution: Mapping[str, Any]) -> float:
    """The objective recomputed from `solution` (the spec's JSON); `InfeasibleSolution` if it breaks a rule.

    A stated `objective` must match the recomputed one to 1e-6 relative (absolute floor 1e-6).
    """
    if solution.get("format") != SOLUTION_FORMAT:
        raise InfeasibleSolution(f"format: expected {SOLUTION_FORMAT!r}")
    orders = {order.id: order for order in problem.orders}
    trips = {trip.id: trip for trip in problem.trips}
    seen: dict[str, str] = {}

    def take(order_id: str, where: str) -> MatchOrder:
        if order_id not in orders:
            raise InfeasibleSolution(f"{where}: unknown order {order_id!r}")
        if order_id in seen:
            raise InfeasibleSolution(f"{where}: order {order_id} already appears in {seen[order_id]}")
        seen[order_id] = where
        return orders[order_id]

    trip_routes = solution.get("trips", {})
    if not isinstance(trip_routes, Mapping):
        raise InfeasibleSolution("trips: expected an object of trip id to order ids")
    compensation = 0.0
    for trip_id, ids in trip_routes.items():
        if trip_id not in trips:
            raise InfeasibleSolution(f"trips: unknown trip {trip_id!r}")
        where = f"trip {trip_id}"
        stops = [take(order_id, where) for order_id in _id_list(ids, f"trips.{trip_id}")]
        compensation += _expected(problem, trips[trip_id], stops, _trip_cost(problem, trips[trip_id], stops))
    raw_routes = solution.get("fleet_routes", [])
    if not isinstance(raw_routes, list):
        raise InfeasibleSolution("fleet_routes: expected a list of routes")
    fleet_routes = [
        [take(order_id, f"fleet route {index}") for order_id in _id_list(route, f"fleet_routes[{index}]")]
        for index, route in enumerate(raw_routes)
    ]
    fleet_cost = _fleet_cost(problem, fleet_routes)
    fallback_cost = 0.0
    for order_id in _id_list(solution.get("fallback", []), "fallback"):
        order = take(order_id, "fallback")
        cost = problem.order_fallback(order)
        if cost is None:
            if problem.fleet is not None:
                raise InfeasibleSolution(f"fallback: order {order_id} has no fallback cost and there is a fleet")
            cost = 0.0
        fallback_cost += cost
    missing = [order_id for order_id in orders if order_id not in seen]
    if missing:
        raise InfeasibleSolution(f"order {missing[0]} appears nowhere ({len(missing)} missing)")
    objective = fleet_cost + compensation + fallback_cost
    stated = solution.get("objective")
    if stated is not None:
        if not isinstance(stated, int | float) or isinstance(stated, bool):
            raise InfeasibleSolution("objective: expected a number")
        if abs(stated - objective) > max(1e-6, 1e-6 * abs(objective)):
            raise InfeasibleSolution(f"objective: stated {stated!r}, recomputed {objective!r}")
    return objective
