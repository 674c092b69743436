"""`solve`: prune, assign exactly, then improve with the routing solver, group by group, within the time.

1. Candidate pairs from `routing.pruning` (intersected with explicit candidate lists), priced per rule.
2. The plan: one order per trip by an exact assignment (`assignment`), against each order's cheapest
   alternative (its fallback cost, or what the fleet would save without it, from a savings-built fleet
   plan). Exact when there is no fleet and every trip takes one order; always feasible, so it is what a
   cut-short search falls back to.
3. Improvement: without a fleet, bundles of up to three orders per trip (`bundles`): the set packing's LP
   relaxation by GLOP, rounded greedily (nearly integral on store batches), then CP-SAT from the best
   packing unless the LP bound proves it optimal. For a store with a fleet and one-order trips (no windows
   on the fleet's side), mostly ruin and recreate with simulated annealing (`ruin_recreate`), where the
   routing solver stalls. Then, and everywhere else, the OR-Tools routing solver with guided local search
   over groups of orders (all at once for a small store; angular sectors around the store for a large one,
   rotated between passes), warm-started from the best plan so far. A group's new routes replace the old
   only when their exact cost, recomputed here, is lower.

Deterministic for a given seed: every step is sized by a work budget read off a `WorkClock` (routing
solutions, CP-SAT deterministic time, exact moves priced), derived from `time_limit` and the problem's size,
never from the wall clock. The wall clock is a safety net only (it stops a search when the machine is far
slower than calibrated); `stats["deadline_hit"]` says whether it fired. When it did not, the same problem
and seed give the same solution.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from dispatch.matching import ruin_recreate
from dispatch.matching.assignment import NoFeasibleMatch, assign_one_per_trip
from dispatch.matching.budget import WorkClock
from dispatch.matching.bundles import (
    LP_SECONDS_PER_BUNDLE,
    choose_bundles,
    enumerate_bundles,
    estimated_bundles,
    greedy_packing,
    relaxed_packing,
)
from dispatch.matching.fleet import removal_gains, savings_routes
from dispatch.matching.instance import (
    TOLERANCE,
    BoolArray,
    FloatArray,
    Instance,
    IntArray,
    Pairs,
    build_instance,
    find_pairs,
)
from dispatch.matching.polish import polish
from dispatch.matching.problem import MatchProblem
from dispatch.matching.routing_search import Plan, build_seconds, route_group
from dispatch.matching.solution import FleetRoute, MatchSolution, TripAssignment, UnassignedReason

SMALL_GROUP_ORDERS = 160
"""Up to this many orders the routing solver sees the whole store at once; above, sectors of this size."""

MAX_TRIPS_PER_ORDER = 8
MAX_GROUP_TRIPS = 300
"""A group's routing model gets each order's cheapest candidate trips, within this many trips in all."""

PRUNING_SHARE = 0.55
MIN_PAIR_BUDGET = 600_000
PAIRS_PER_SECOND = 250_000
"""On huge batches the pruning stops after this share of the time or this many pairs (see find_pairs)."""

ALTERNATE_SHARE = 0.5
"""With a fleet and one-order trips, the share of the search spent moving orders between drivers and fleet."""

BUNDLE_SHARE = 0.8
"""Without a fleet, the share of the search time the bundles get (LP, CP-SAT; routing gets the rest)."""
BUNDLE_MAX_TRIPS = 700
"""Above this many multi-order trips the CP-SAT model takes too long to build; sectors of routing instead."""
LP_SHARE = 0.5
"""The most of the bundles' time the LP relaxation may take (it needs far less below 1 000 orders)."""
ENUMERATE_SECONDS_PER_BUNDLE = 4e-6
"""Work-clock charge for enumerating and pricing the bundles (measured 3-4 us per bundle)."""

RUIN_RECREATE_SHARE = 0.9
"""With a fleet and one-order trips (no windows on the fleet's orders), the share of the search spent on
ruin and recreate; the routing solver gets the rest (measured on the occasional-drivers set at 10 s: mean
gap +0.97 % over all 420 instances this way; +2.3 % on 18 of them with the routing solver alone)."""

POLISH_MAX_ORDERS = 400
"""Up to this many orders the exact single-order local search runs after the routing solver."""

FINISH_RESERVE = 0.05
"""Seconds (plus 2 % of the limit) kept back for explanations and the answer."""

WORK_SHARE = 0.75
"""The share of the time limit the work budget is planned to fill; the rest absorbs calibration error
(the rates below were measured on a lightly loaded machine; a loaded one is slower)."""

SETUP_SECONDS_PER_CELL = 2.5e-8
SETUP_SECONDS_PER_PAIR = 6e-7
SETUP_SECONDS_PER_FLEET_ORDER = 1.5e-4
"""Work-clock charge for the pruning and the initial plan, from the problem's size (measured, rounded up)."""

SECONDS_PER_ROUTE_CHECK = 4e-5
"""Work-clock charge per route when a candidate plan is priced exactly (measured 25-40 us)."""

ROUND_SECONDS_PER_PAIR = 1.5e-6
ROUND_SECONDS = 0.002
"""Work-clock charge for one drivers-vs-fleet reassignment round besides its routing search."""


def solve(
    problem: MatchProblem, time_limit: float = 5.0, seed: int = 0, *, work_share: float | None = None
) -> MatchSolution:
    """The best plan found within `time_limit` seconds (plus a small slack); always feasible.

    `work_share`: the share of the limit the deterministic work budget is sized for (default WORK_SHARE);
    a smaller share leaves more room before the wall-clock safety net, i.e. reproducibility on a slow or
    loaded machine, for less search.
    """
    share = WORK_SHARE if work_share is None else min(1.0, max(0.0, work_share))
    started = time.perf_counter()
    time_limit = max(0.0, time_limit)
    deadline = started + time_limit
    clock = WorkClock(safety_deadline=deadline - FINISH_RESERVE - 0.02 * time_limit)
    instance = build_instance(problem)
    pairs, pruning_complete = find_pairs(
        instance,
        stop_at=started + PRUNING_SHARE * time_limit,
        max_pairs=max(MIN_PAIR_BUDGET, int(PAIRS_PER_SECOND * time_limit)),
        report_complete=True,
    )
    if not pruning_complete:
        clock.trip("pruning")
    timings: dict[str, float] = {"pruning": time.perf_counter() - started}
    setup = _setup_seconds(instance, pairs)
    clock.charge(setup)
    plan = _initial_plan(instance, pairs, clock, 0.5 * time_limit)
    timings["plan"] = time.perf_counter() - started
    clock.record("setup", setup, timings["plan"])
    plan_cost = plan_cost_exact(instance, plan)
    best, best_cost = plan, plan_cost
    passes = 0
    if _improvable(instance, pairs) and not clock.expired():
        finish_by = share * time_limit - FINISH_RESERVE - 0.02 * time_limit
        search_by = finish_by
        search_by -= min(1.0, 0.08 * max(0.0, finish_by - clock.now()))
        best, best_cost, passes = _improve(instance, pairs, plan, plan_cost, search_by, clock, seed)
        rng = np.random.default_rng(seed + 1)
        if instance.order_count > POLISH_MAX_ORDERS:
            polished = polish(instance, pairs, best, clock, finish_by, only_unserved=True)
            polished_cost = plan_cost_exact(instance, polished)
            if polished_cost < best_cost:
                best, best_cost = polished, polished_cost
        while instance.order_count <= POLISH_MAX_ORDERS and not clock.expired():
            polished = polish(instance, pairs, best, clock, finish_by)
            polished_cost = plan_cost_exact(instance, polished)
            if polished_cost < best_cost:
                best, best_cost = polished, polished_cost
            if finish_by - clock.now() < 0.3 or clock.expired():
                break
            # the local optimum came early: spend what is left on another routing pass, then polish again
            considered = np.unique(np.concatenate([pairs.order, _fleet_capable(instance)]))
            sectors = max(1, math.ceil(len(considered) / SMALL_GROUP_ORDERS))
            again_by = finish_by - min(0.5, 0.3 * (finish_by - clock.now()))
            best, best_cost, more = _routing_passes(
                instance, pairs, best, best_cost, considered, sectors, again_by, clock, rng
            )
            passes += more
    timings["search"] = time.perf_counter() - started
    solution = _to_solution(instance, pairs, best, deadline)
    if any(reason is UnassignedReason.NOT_EXAMINED for reason in solution.unassigned.values()):
        clock.trip("explanations")
    stats: dict[str, Any] = {
        "solve_seconds": round(time.perf_counter() - started, 4),
        "plan_objective": plan_cost,
        "candidate_pairs": len(pairs.trip),
        "search_passes": passes,
        "phase_seconds": {k: round(v, 4) for k, v in timings.items()},
        "work_seconds": round(clock.now(), 4),
        "deadline_hit": clock.deadline_hit,
        "deadline_hit_in": list(clock.tripped_by),
        "work_vs_wall_seconds": {k: [round(w, 4), round(s, 4)] for k, (w, s) in clock.ledger.items()},
    }
    return MatchSolution(
        objective=solution.objective,
        trips=solution.trips,
        fleet_routes=solution.fleet_routes,
        fallback=solution.fallback,
        unassigned=solution.unassigned,
        stats=stats,
    )


# --- the plan ------------------------------------------------------------------------------------------


def _fleet_capable(instance: Instance) -> IntArray:
    fleet = instance.problem.fleet
    if fleet is None or fleet.vehicles == 0:
        return np.zeros(0, dtype=np.int64)
    return np.array([o for o in range(instance.order_count) if instance.fleet_route([o]) is not None], dtype=np.int64)


def _setup_seconds(instance: Instance, pairs: Pairs) -> float:
    """What the pruning and the initial plan are charged on the work clock (a size-based estimate)."""
    cells = min(instance.order_count * instance.trip_count, 4 * MIN_PAIR_BUDGET * 100)
    fleet_orders = len(_fleet_capable(instance))
    return (
        SETUP_SECONDS_PER_CELL * cells
        + SETUP_SECONDS_PER_PAIR * len(pairs.trip)
        + SETUP_SECONDS_PER_FLEET_ORDER * fleet_orders
    )


def _initial_plan(instance: Instance, pairs: Pairs, clock: WorkClock, repair_by: float) -> Plan:
    """The assignment plan; with a fleet, the best of a few estimates of what the fleet saves per order."""
    skip = instance.skip_cost()
    capable = _fleet_capable(instance)
    if len(capable) == 0:
        return _plan_for(instance, pairs, skip, capable)
    fleet = instance.problem.fleet
    assert fleet is not None
    routes = savings_routes(instance, capable)
    assert routes is not None
    estimates = [removal_gains(instance, routes)[capable]]
    if len(capable) <= 1500:
        radial = fleet.cost_per_distance * instance.store_to_order[capable]
        estimates += [factor * radial for factor in (2.0, 1.5, 1.0, 0.5)]
    best: tuple[float, Plan] | None = None
    for estimate in estimates:
        alternative = skip.copy()
        alternative[capable] = np.minimum(skip[capable], estimate)
        try:
            plan = _plan_for(instance, pairs, alternative, capable)
        except _TooFewVehicles:
            continue
        cost = plan_cost_exact(instance, plan)
        if best is None or cost < best[0]:
            best = (cost, plan)
    if best is None:
        return _plan_for_few_vehicles(instance, pairs, capable, clock, repair_by)
    return best[1]


class _TooFewVehicles(Exception):
    pass


def _plan_for_few_vehicles(
    instance: Instance, pairs: Pairs, capable: IntArray, clock: WorkClock, repair_by: float
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
    plan = route_group(instance, pairs, orders, trips, fleet.vehicles, Plan(), work, clock)
    if plan is None or not math.isfinite(plan_cost_exact(instance, plan)):
        raise NoFeasibleMatch("the fleet has too few vehicles for the orders that must be served")
    return plan


def _plan_for(instance: Instance, pairs: Pairs, alternative: FloatArray, capable: IntArray) -> Plan:
    assigned = assign_one_per_trip(
        instance.order_count, instance.trip_count, pairs.trip, pairs.order, pairs.cost, alternative
    )
    plan = Plan({int(assigned[o]): [o] for o in np.flatnonzero(assigned >= 0).tolist()})
    if len(capable):
        rest = capable[assigned[capable] < 0]
        uncovered = np.flatnonzero((assigned < 0) & instance.must_serve)
        if len(np.setdiff1d(uncovered, rest)):
            raise NoFeasibleMatch("an order that must be served can go neither to a trip nor to the fleet")
        plan.fleet_routes = _worthwhile_fleet_routes(instance, rest)
        _respect_vehicle_limit(instance, plan)
    return plan


def _worthwhile_fleet_routes(instance: Instance, orders: IntArray) -> list[list[int]]:
    """Savings routes for `orders`, minus the orders cheaper to leave out than to carry alone-ish."""
    routes = savings_routes(instance, orders)
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


def plan_cost_exact(instance: Instance, plan: Plan) -> float:
    """The plan's objective in exact arithmetic; inf if any route breaks a rule."""
    served = np.zeros(instance.order_count, dtype=np.bool_)
    total = 0.0
    for trip, stops in plan.trip_routes.items():
        route = instance.trip_route(trip, stops)
        if route is None:
            return math.inf
        total += route.compensation
        served[stops] = True
    fleet = instance.problem.fleet
    used = [r for r in plan.fleet_routes if r]
    if used and (fleet is None or (fleet.vehicles is not None and len(used) > fleet.vehicles)):
        return math.inf
    for stops in used:
        cost = instance.fleet_route(stops)
        if cost is None:
            return math.inf
        total += cost
        served[stops] = True
    return total + float(instance.skip_cost()[~served].sum())


# --- improvement ---------------------------------------------------------------------------------------


def _improvable(instance: Instance, pairs: Pairs) -> bool:
    if instance.has_fleet and instance.problem.fleet is not None and instance.problem.fleet.vehicles != 0:
        return True
    counts = np.bincount(pairs.trip, minlength=instance.trip_count)
    return bool(((instance.max_orders >= 2) & (counts >= 2)).any())


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


def _improve(
    instance: Instance,
    pairs: Pairs,
    plan: Plan,
    plan_cost: float,
    finish_by: float,
    clock: WorkClock,
    seed: int,
) -> tuple[Plan, float, int]:
    best, best_cost = plan, plan_cost
    fleet = instance.problem.fleet
    useful = np.zeros(instance.order_count, dtype=np.bool_)
    useful[pairs.order] = True
    if fleet is not None:
        useful[_fleet_capable(instance)] = True
    considered = np.flatnonzero(useful)
    if len(considered) == 0:
        return best, best_cost, 0
    sector_count = max(1, math.ceil(len(considered) / SMALL_GROUP_ORDERS))
    rng = np.random.default_rng(seed)
    multi_trips = int((instance.max_orders[np.unique(pairs.trip)] >= 2).sum()) if len(pairs.trip) else 0
    if fleet is None and multi_trips > 0:
        work = BUNDLE_SHARE * (finish_by - clock.now())
        # above BUNDLE_MAX_TRIPS only when the bundles and their LP surely fit (the estimate is an upper
        # bound, 1.6 times the count at 1 000 x 2 000): CP-SAT alone could not start there
        relaxation = (ENUMERATE_SECONDS_PER_BUNDLE + LP_SECONDS_PER_BUNDLE) * estimated_bundles(instance, pairs)
        if multi_trips <= BUNDLE_MAX_TRIPS or relaxation <= work:
            began = clock.now()
            best, best_cost = _bundle_step(instance, pairs, best, best_cost, work, clock, seed)
            # What the bundles leave of their share (the LP often proves its packing optimal in a moment) is
            # not handed to the routing after them, which rarely gains there: a batch comes back sooner
            # (measured on the busy day: matcher p50 65 ms this way, 264 ms with routing taking the rest).
            clock.charge(max(0.0, work - (clock.now() - began)))
    if fleet is not None and sector_count == 1 and ruin_recreate.applies(instance, pairs, considered):
        share = RUIN_RECREATE_SHARE * (finish_by - clock.now())
        found = ruin_recreate.ruin_and_recreate(instance, pairs, considered, best, share, clock, seed)
        if found is not None:
            cost = plan_cost_exact(instance, found)
            if cost < best_cost:
                best, best_cost = found, cost
        return _routing_passes(instance, pairs, best, best_cost, considered, sector_count, finish_by, clock, rng)
    if fleet is not None and sector_count == 1 and _single_order_trips(instance, pairs):
        # Two starts, the better kept: the routing solver straight from the plan, and the same after moving
        # orders back and forth between drivers and fleet (each wins on some instances, by a lot).
        now = clock.now()
        first_by = now + 0.45 * (finish_by - now)
        direct, direct_cost, _ = _routing_passes(instance, pairs, best, best_cost, considered, 1, first_by, clock, rng)
        now = clock.now()
        alternate_by = now + ALTERNATE_SHARE * (finish_by - now)
        best, best_cost = _alternate(instance, pairs, best, best_cost, alternate_by, clock, rng)
        best, best_cost, passes = _routing_passes(
            instance, pairs, best, best_cost, considered, 1, finish_by, clock, rng
        )
        return (direct, direct_cost, passes + 1) if direct_cost < best_cost else (best, best_cost, passes + 1)
    return _routing_passes(instance, pairs, best, best_cost, considered, sector_count, finish_by, clock, rng)


def _routing_passes(
    instance: Instance,
    pairs: Pairs,
    plan: Plan,
    plan_cost: float,
    considered: IntArray,
    sector_count: int,
    finish_by: float,
    clock: WorkClock,
    rng: np.random.Generator,
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
            elif finish_by - now < build_seconds(1 + len(sector) + MAX_GROUP_TRIPS, MAX_GROUP_TRIPS):
                return best, best_cost, passes + 1  # not even a model fits in what is left
            candidate = _improve_sector(instance, pairs, best, sector, share, clock)
            if candidate is None:
                continue
            clock.charge(SECONDS_PER_ROUTE_CHECK * (len(candidate.trip_routes) + len(candidate.fleet_routes)))
            cost = plan_cost_exact(instance, candidate)
            if cost < best_cost - 1e-9 * max(1.0, abs(best_cost)):
                best, best_cost = candidate, cost
        passes += 1
        if sector_count == 1:
            break
    return best, best_cost, passes


def _bundle_step(
    instance: Instance, pairs: Pairs, plan: Plan, plan_cost: float, work: float, clock: WorkClock, seed: int
) -> tuple[Plan, float]:
    """The cheapest of `plan`, a greedy packing of the bundles, the LP relaxation's rounding and CP-SAT's
    packing from the best of those; CP-SAT is skipped when the LP's bound proves the rounding optimal."""
    began = clock.now()
    bundles = enumerate_bundles(instance, pairs, plan)
    clock.charge(ENUMERATE_SECONDS_PER_BUNDLE * len(bundles.trip))
    candidates = [greedy_packing(instance, bundles)]
    relaxed = relaxed_packing(instance, bundles, LP_SHARE * work, clock)
    if relaxed is not None:
        candidates.append(relaxed.plan)
    for candidate in candidates:
        cost = plan_cost_exact(instance, candidate)
        if cost < plan_cost:
            plan, plan_cost = candidate, cost
    bound = None if relaxed is None else relaxed.bound
    if bound is not None and plan_cost <= bound + 1e-9 * max(1.0, abs(bound)):
        return plan, plan_cost  # optimal over these bundles: nothing for CP-SAT to find
    chosen = choose_bundles(instance, bundles, plan, work - (clock.now() - began), clock, seed)
    if chosen is None:
        return plan, plan_cost
    cost = plan_cost_exact(instance, chosen)
    return (chosen, cost) if cost < plan_cost else (plan, plan_cost)


def _single_order_trips(instance: Instance, pairs: Pairs) -> bool:
    return bool((instance.max_orders[np.unique(pairs.trip)] <= 1).all())


def _insertion_costs(instance: Instance, routes: list[list[int]], orders: IntArray) -> FloatArray:
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


def _insert_cheapest(instance: Instance, routes: list[list[int]], orders: list[int]) -> list[list[int]]:
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


def _alternate(
    instance: Instance,
    pairs: Pairs,
    plan: Plan,
    plan_cost: float,
    finish_by: float,
    clock: WorkClock,
    rng: np.random.Generator,
) -> tuple[Plan, float]:
    """Drivers vs fleet, back and forth: reassign with the current routes' marginal costs, re-route the fleet.

    For one-order trips only (then the assignment is exact for the trips' side).
    """
    skip = instance.skip_cost()
    capable = _fleet_capable(instance)
    best, best_cost = plan, plan_cost
    rounds = 0
    while clock.now() < finish_by - 0.02 and not clock.expired():
        clock.charge(ROUND_SECONDS + ROUND_SECONDS_PER_PAIR * len(pairs.trip))
        base_routes = best.fleet_routes
        in_fleet = np.zeros(instance.order_count, dtype=np.bool_)
        for route in base_routes:
            in_fleet[route] = True
        estimate = np.full(instance.order_count, np.inf)
        gains = removal_gains(instance, base_routes)
        estimate[in_fleet] = gains[in_fleet]
        outside = capable[~in_fleet[capable]]
        if len(outside):
            estimate[outside] = _insertion_costs(instance, base_routes, outside)
        factor = 1.0 if rounds == 0 else float(rng.uniform(0.7, 1.3))
        alternative = skip.copy()
        alternative[capable] = np.minimum(skip[capable], factor * estimate[capable])
        assigned = assign_one_per_trip(
            instance.order_count, instance.trip_count, pairs.trip, pairs.order, pairs.cost, alternative
        )
        to_fleet = capable[(assigned[capable] < 0) & (alternative[capable] < skip[capable])]
        to_fleet = np.union1d(to_fleet, np.flatnonzero((assigned < 0) & instance.must_serve))
        keep = np.zeros(instance.order_count, dtype=np.bool_)
        keep[to_fleet] = True
        routes = [[o for o in route if keep[o]] for route in base_routes]
        routes = [r for r in routes if r]
        placed = np.zeros(instance.order_count, dtype=np.bool_)
        for route in routes:
            placed[route] = True
        routes = _insert_cheapest(instance, routes, [int(o) for o in to_fleet if not placed[o]])
        candidate = Plan({int(assigned[o]): [o] for o in np.flatnonzero(assigned >= 0).tolist()}, routes)
        share = min(1.0, max(0.05, 0.25 * (finish_by - clock.now())))
        rerouted = route_group(
            instance,
            pairs,
            to_fleet,
            np.zeros(0, dtype=np.int64),
            len(routes) + 2,
            Plan({}, routes),
            share,
            clock,
        )
        if rerouted is not None:
            candidate = Plan(candidate.trip_routes, rerouted.fleet_routes)
        cost = plan_cost_exact(instance, candidate)
        if cost < best_cost - 1e-9 * max(1.0, abs(best_cost)):
            best, best_cost = candidate, cost
        rounds += 1
    return best, best_cost


def _group_trips(pairs: Pairs, orders: IntArray, warm: Plan, taken: IntArray) -> IntArray:
    """The trips a group's model gets: those in use there, then each order's cheapest candidates, so that
    the model stays small enough to build in a moment (a model cannot be stopped while it is built)."""
    in_orders = np.flatnonzero(np.isin(pairs.order, orders) & ~np.isin(pairs.trip, taken))
    used = np.fromiter(warm.trip_routes, dtype=np.int64)
    for per_order in (MAX_TRIPS_PER_ORDER, 4, 2, 1):
        by_order = in_orders[np.lexsort((pairs.cost[in_orders], pairs.order[in_orders]))]
        grouped_order = pairs.order[by_order]
        first = np.r_[0, np.flatnonzero(np.diff(grouped_order)) + 1]
        rank = np.arange(len(by_order)) - np.repeat(first, np.diff(np.r_[first, len(by_order)]))
        trips = np.union1d(used, pairs.trip[by_order[rank < per_order]])
        if len(trips) <= MAX_GROUP_TRIPS:
            return trips
    return trips


def _improve_sector(
    instance: Instance,
    pairs: Pairs,
    plan: Plan,
    sector: IntArray,
    work: float,
    clock: WorkClock,
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
    trips = _group_trips(pairs, orders, warm, np.fromiter(fixed.trip_routes, dtype=np.int64))
    fleet = instance.problem.fleet
    fleet_vehicles = 0
    if fleet is not None:
        warm_routes = len(warm.fleet_routes)
        spare = max(3, warm_routes // 3)
        fleet_vehicles = min(len(orders), warm_routes + spare)
        if fleet.vehicles is not None:
            fleet_vehicles = min(fleet_vehicles, fleet.vehicles - len(fixed.fleet_routes))
    result = route_group(instance, pairs, orders, trips, max(0, fleet_vehicles), warm, work, clock)
    if result is None:
        return None
    merged = fixed.copy()
    merged.trip_routes.update(result.trip_routes)
    merged.fleet_routes.extend(result.fleet_routes)
    return merged


# --- the answer ----------------------------------------------------------------------------------------


def _to_solution(instance: Instance, pairs: Pairs, plan: Plan, deadline: float) -> MatchSolution:
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
        compensation += route.compensation
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
