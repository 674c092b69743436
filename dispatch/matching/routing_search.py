"""Improve part of a plan with the OR-Tools routing solver (guided local search), warm-started from it.

One model holds a group of orders, the trips that may take them and the store's fleet: trips are vehicles
from the store to their destination, fleet vehicles go back to the store, every order is optional at its
skip cost (a disjunction) unless it must be served. Costs follow the spec's rules where a routing model
can express them exactly (one-order trips, store-distance and fixed rules, the fleet); a multi-order detour
trip is priced rate x route length with its empty route counted, i.e. rate x detour plus a constant, which
leaves out only the per-order minimum. Every result is re-checked exactly by the caller.

The search is stopped by a number of limit checks (a count of the neighbours it tried), not by the clock,
so that it is reproducible; its wall-clock limit is the solve's safety deadline only (see `budget`).
"""

from __future__ import annotations

import math
import time

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from dispatch.matching.budget import WorkClock
from dispatch.matching.instance import (
    RULE_DETOUR,
    RULE_FIXED,
    RULE_REWARD,
    RULE_STORE_DISTANCE,
    FloatArray,
    Instance,
    IntArray,
)
from dispatch.matching.pairs import Pairs
from dispatch.matching.plan import Plan
from dispatch.matching.tuning import RoutingTuning

_BIG = 10**15

_CHECKS_PER_CLOCK_READING = 256
"""The search's own limit reads the wall clock (the safety net) once per this many of its checks."""

_SEARCH_COMPLETE = (
    routing_enums_pb2.RoutingSearchStatus.ROUTING_OPTIMAL,
    routing_enums_pb2.RoutingSearchStatus.ROUTING_INFEASIBLE,
)
"""Statuses of a search that ended by itself, not at a limit."""


def route_group(  # noqa: PLR0912, PLR0915 -- one model, built top to bottom
    instance: Instance,
    pairs: Pairs,
    orders: IntArray,
    trips: IntArray,
    fleet_vehicles: int,
    warm: Plan,
    work_seconds: float,
    clock: WorkClock,
    *,
    tuning: RoutingTuning,
) -> Plan | None:
    """A plan for `orders` using `trips` and up to `fleet_vehicles` fleet vehicles; None if nothing found.

    `work_seconds` of budgeted search (a deterministic number of limit checks), charged to `clock`.
    """
    entered = time.perf_counter()
    n, mt = len(orders), len(trips)
    if n == 0:
        return Plan()
    local_order = {int(o): i + 1 for i, o in enumerate(orders.tolist())}
    local_trip = {int(t): k for k, t in enumerate(trips.tolist())}
    vehicles = mt + fleet_vehicles
    if vehicles == 0:
        return Plan()
    points = np.vstack([instance.store[None, :], instance.order_xy[orders], instance.destination_xy[trips]])
    distance = instance.distances(points, points)
    node_count = len(points)
    finite_max = float(distance.max(initial=0.0))
    scale = 1e7 / max(finite_max, 1e-9)
    starts = [0] * vehicles
    ends = [1 + n + k for k in range(mt)] + [0] * fleet_vehicles
    manager = pywrapcp.RoutingIndexManager(node_count, vehicles, starts, ends)
    routing = pywrapcp.RoutingModel(manager)

    # pairs inside the group
    in_group = np.isin(pairs.order, orders) & np.isin(pairs.trip, trips)
    group_trip, group_order, group_cost = pairs.trip[in_group], pairs.order[in_group], pairs.cost[in_group]
    allowed: dict[int, list[int]] = {i: [] for i in range(1, n + 1)}
    single_cost: dict[int, dict[int, float]] = {}
    for t, o, c in zip(group_trip.tolist(), group_order.tolist(), group_cost.tolist(), strict=True):
        allowed[local_order[o]].append(local_trip[t])
        single_cost.setdefault(t, {})[local_order[o]] = c

    # costs
    matrix_callbacks: dict[float, int] = {}

    def matrix_callback(factor: float) -> int:
        if factor not in matrix_callbacks:
            scaled = np.rint(distance * factor * scale).astype(np.int64)
            matrix_callbacks[factor] = routing.RegisterTransitMatrix(scaled.tolist())
        return matrix_callbacks[factor]

    fleet = instance.problem.fleet
    if fleet is not None:
        for v in range(mt, vehicles):
            routing.SetArcCostEvaluatorOfVehicle(matrix_callback(fleet.cost_per_distance), v)
            routing.SetFixedCostOfVehicle(round(fleet.fixed_cost * scale), v)
    unary_cache: dict[tuple[int, float], int] = {}
    for k, t in enumerate(trips.tolist()):
        rule = int(instance.rule[t])
        if int(instance.max_orders[t]) > 1 and rule in (RULE_DETOUR, RULE_REWARD):
            routing.SetArcCostEvaluatorOfVehicle(matrix_callback(float(instance.rate[t])), k)
            routing.SetVehicleUsedWhenEmpty(True, k)
            continue
        vector = np.zeros(node_count)
        if int(instance.max_orders[t]) == 1:
            for node, cost in single_cost.get(t, {}).items():
                vector[node] = cost
            routing.SetArcCostEvaluatorOfVehicle(
                routing.RegisterUnaryTransitVector(np.rint(vector * scale).astype(np.int64).tolist()), k
            )
            continue
        key = (rule, float(instance.rate[t] if rule == RULE_STORE_DISTANCE else instance.amount[t]))
        if key not in unary_cache:
            if rule == RULE_STORE_DISTANCE:
                vector[1 : n + 1] = instance.rate[t] * instance.store_to_order[orders]
            elif rule == RULE_FIXED:
                vector[1 : n + 1] = instance.amount[t]
            unary_cache[key] = routing.RegisterUnaryTransitVector(np.rint(vector * scale).astype(np.int64).tolist())
        routing.SetArcCostEvaluatorOfVehicle(unary_cache[key], k)

    # which vehicle may visit which order, and which orders may be left out
    skip = instance.skip_cost()[orders]
    for i in range(1, n + 1):
        if math.isfinite(float(skip[i - 1])):
            routing.AddDisjunction([manager.NodeToIndex(i)], round(float(skip[i - 1]) * scale))
    # A dimension rather than SetAllowedVehiclesForIndex: its filters reject a forbidden visit before the
    # constraint solver is asked, which keeps the local search fast (and that call's binding is broken).
    forbidden = np.ones((mt, node_count), dtype=np.int64)
    forbidden[:, 0] = 0
    forbidden[:, n + 1 :] = 0
    for i, vehicles_here in allowed.items():
        forbidden[vehicles_here, i] = 0
    open_to_all = routing.RegisterUnaryTransitVector([0] * node_count)
    transits = [routing.RegisterUnaryTransitVector(row.tolist()) for row in forbidden] + [open_to_all] * (
        fleet_vehicles
    )
    routing.AddDimensionWithVehicleTransitAndCapacity(transits, 0, [0] * vehicles, True, "allowed")

    # dimensions: orders per trip, load, route length, time
    count = routing.RegisterUnaryTransitVector([0] + [1] * n + [0] * mt)
    routing.AddDimensionWithVehicleCapacity(
        count, 0, [int(instance.max_orders[t]) for t in trips.tolist()] + [n] * fleet_vehicles, True, "count"
    )
    trip_caps = instance.capacity[trips]
    fleet_cap = math.inf if fleet is None or fleet.capacity is None else fleet.capacity
    if np.isfinite(trip_caps).any() or (fleet_vehicles and math.isfinite(fleet_cap)):
        load_scale = 1000.0
        demand = [0] + np.rint(instance.size[orders] * load_scale).astype(np.int64).tolist() + [0] * mt
        caps = [_BIG if not math.isfinite(c) else math.floor(c * load_scale + 1e-6) for c in trip_caps.tolist()]
        caps += [_BIG if not math.isfinite(fleet_cap) else math.floor(fleet_cap * load_scale + 1e-6)] * (fleet_vehicles)
        routing.AddDimensionWithVehicleCapacity(routing.RegisterUnaryTransitVector(demand), 0, caps, True, "load")
    limits = instance.route_limit[trips]
    if np.isfinite(limits).any():
        lengths = routing.RegisterTransitMatrix(np.ceil(distance * scale).astype(np.int64).tolist())
        caps = [_BIG if not math.isfinite(x) else int(math.floor(x * scale * (1 + 1e-9)) + 2) for x in limits.tolist()]
        routing.AddDimensionWithVehicleCapacity(lengths, 0, caps + [_BIG] * fleet_vehicles, True, "length")
    timed = bool(np.isfinite(instance.latest[orders]).any())
    if timed:
        _add_time(instance, routing, manager, distance, orders, trips, fleet_vehicles)

    routes: list[list[int]] = [[] for _ in range(vehicles)]
    for t, warm_stops in warm.trip_routes.items():
        if t in local_trip:
            routes[local_trip[t]] = [local_order[o] for o in warm_stops]
    for r, warm_stops in enumerate(warm.fleet_routes[:fleet_vehicles]):
        routes[mt + r] = [local_order[o] for o in warm_stops]

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    building = build_seconds(node_count, vehicles, tuning)
    clock.charge(max(work_seconds, building))
    safety = max(0.001, clock.wall_left())
    params.time_limit.FromMilliseconds(max(1, int(safety * 1000)))
    # the LNS sub-searches have a wall-clock limit of their own (0.1 s by default): make it the safety net
    params.lns_time_limit.FromMilliseconds(max(1, int(safety * 1000)))
    # Moves that drop one order while adding or moving another: what prize collection needs.
    operators = params.local_search_operators
    operators.use_relocate_and_make_active = pywrapcp.BOOL_TRUE
    operators.use_exchange_and_make_active = pywrapcp.BOOL_TRUE
    operators.use_extended_swap_active = pywrapcp.BOOL_TRUE
    operators.use_inactive_lns = pywrapcp.BOOL_TRUE

    # The model keeps this callback alive from C++, where Python's collector cannot see: were the callback
    # to hold the model, neither would ever be freed (megabytes per search). It reaches the model through a
    # holder emptied once the search is over.
    searching = [routing]

    def stop_at_deadline() -> None:
        if searching and clock.past_safety("routing"):
            searching[0].CancelSearch()

    routing.AddAtSolutionCallback(stop_at_deadline)
    # Solutions come rarely once a search has converged (on a tiny model, never): the search's own limit
    # checks, which it makes at every node of every neighbour it tries, are a steadier count of its work.
    check_limit = checks_for(work_seconds - building, n, vehicles, tuning, timed=timed)
    checks = 0

    def out_of_checks() -> bool:
        nonlocal checks
        checks += 1
        if checks % _CHECKS_PER_CLOCK_READING == 0 and clock.past_safety("routing"):
            return True
        return checks > check_limit

    routing.AddSearchMonitor(routing.solver().CustomLimit(out_of_checks))
    routing.CloseModelWithParameters(params)
    initial = routing.ReadAssignmentFromRoutes(routes, True)
    if initial is not None:
        solution = routing.SolveFromAssignmentWithParameters(initial, params)
    else:
        solution = routing.SolveWithParameters(params)
    # Guided local search never ends by itself: unless it proved its answer, a search that did not use up its
    # checks was stopped by a wall-clock limit. OR-Tools may stop a little before its limit (it reads the
    # clock between steps and stops when the next would overrun), so elapsed time alone cannot tell.
    searching.clear()
    if checks <= check_limit and routing.status() not in _SEARCH_COMPLETE:
        clock.trip("routing")
    clock.record("routing", max(work_seconds, building), time.perf_counter() - entered)
    if solution is None:
        return None
    plan = Plan()
    for v in range(vehicles):
        index = solution.Value(routing.NextVar(routing.Start(v)))
        stops: list[int] = []
        while not routing.IsEnd(index):
            stops.append(int(orders[manager.IndexToNode(index) - 1]))
            index = solution.Value(routing.NextVar(index))
        if not stops:
            continue
        if v < mt:
            plan.trip_routes[int(trips[v])] = stops
        else:
            plan.fleet_routes.append(stops)
    return plan


def checks_for(work_seconds: float, orders: int, vehicles: int, tuning: RoutingTuning, *, timed: bool) -> int:
    """The deterministic number of search-limit checks worth `work_seconds` of search; `timed`: the model
    has a time dimension (some order has a window), which makes every check dearer."""
    per_check = tuning.check_seconds + tuning.check_seconds_per_vehicle * vehicles
    if timed:
        per_check *= tuning.time_window_check_factor
    if orders <= tuning.tiny_model_orders:
        per_check = max(per_check, tuning.tiny_check_seconds)
    return max(tuning.min_checks, int(max(0.0, work_seconds) / per_check))


def build_seconds(nodes: int, vehicles: int, tuning: RoutingTuning) -> float:
    """The work charged for building a routing model of this size (before any search)."""
    return tuning.build_seconds + tuning.build_seconds_per_vehicle_node * nodes * vehicles


def _add_time(
    instance: Instance,
    routing: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    distance: FloatArray,
    orders: IntArray,
    trips: IntArray,
    fleet_vehicles: int,
) -> None:
    """Minutes from the batch start, shifted so that nothing is negative; waiting is free. When no vehicle of
    the model waits at a door (trips with `wait_at_doors` false and no fleet), an order's slack is none: a trip
    may only wait at its start, i.e. leave later. Slack belongs to the node, whichever vehicle visits it, so
    with vehicles of both kinds the model lets all wait and the exact check refuses what it must."""
    time_scale = 1000.0
    departs = instance.depart[trips]
    base = min(0.0, float(departs.min(initial=0.0)))
    travel = np.ceil(distance / instance.problem.speed * time_scale).astype(np.int64)
    callback = routing.RegisterTransitMatrix(travel.tolist())
    horizon = _BIG
    routing.AddDimension(callback, horizon, horizon, False, "time")
    dimension = routing.GetDimensionOrDie("time")
    no_door_waits = fleet_vehicles == 0 and not bool(instance.wait_at_doors[trips].any())
    for k, depart in enumerate(departs.tolist()):
        start = math.ceil((depart - base) * time_scale)
        dimension.CumulVar(routing.Start(k)).SetRange(start, start)
    for v in range(len(trips), len(trips) + fleet_vehicles):
        start = math.ceil(-base * time_scale)
        dimension.CumulVar(routing.Start(v)).SetRange(start, start)
    for i, order in enumerate(orders.tolist()):
        earliest, latest = float(instance.earliest[order]), float(instance.latest[order])
        low = 0 if not math.isfinite(earliest) else max(0, math.ceil((earliest - base) * time_scale))
        high = math.floor((latest - base) * time_scale * (1 + 1e-09)) + 1 if math.isfinite(latest) else horizon
        high = max(high, low)
        dimension.CumulVar(manager.NodeToIndex(i + 1)).SetRange(low, high)
        if no_door_waits:
            dimension.SlackVar(manager.NodeToIndex(i + 1)).SetValue(0)
