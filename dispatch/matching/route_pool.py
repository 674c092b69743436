"""The last step of ruin and recreate: the best combination of the fleet routes its runs went through.

Each annealing run leaves good fleet routes in plans it later moved away from, and each temperature ends
in a different valley. A set partitioning over every good route seen (each order on exactly one chosen
route, or with one of its trips, or left to its fallback; each trip at most once; the fleet's vehicle
limit) recombines them exactly: on the occasional-drivers set it often finds a plan with one fleet route
fewer, which is where the annealing alone stays above the best-known values. CP-SAT solves it from the
best plan as a hint, single-threaded within a deterministic time, so the answer is reproducible.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from ortools.sat.python import cp_model

from dispatch.matching.budget import WorkClock
from dispatch.matching.instance import FloatArray, IntArray
from dispatch.matching.tuning import RuinRecreateTuning

_OUT = -1


class PoolSearch(Protocol):
    """What the recombination reads off the ruin-and-recreate search (local order indices)."""

    count: int
    trip_count: int
    skip: FloatArray
    vehicles: float
    trip_options: list[IntArray]
    trip_costs: list[FloatArray]


class RoutePool:
    """Fleet routes seen in good plans: per set of orders, the cheapest sequence found for it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.routes: dict[frozenset[int], tuple[float, list[int]]] = {}

    def add(self, route: list[int], cost: float) -> None:
        key = frozenset(route)
        known = self.routes.get(key)
        if known is None:
            if len(self.routes) < self.limit:
                self.routes[key] = (cost, list(route))
        elif cost < known[0]:
            self.routes[key] = (cost, list(route))


@dataclass
class _Model:
    model: cp_model.CpModel
    chosen: list[cp_model.IntVar]
    """Per pooled route (in the pool's order): whether it is in the plan."""
    taken: dict[tuple[int, int], cp_model.IntVar]
    """Per (trip, order): whether the trip takes the order."""


def _model(search: PoolSearch, pool: RoutePool, scale: float) -> _Model | None:
    """Each order exactly once (a pooled route, a trip, or its fallback if it has one); each trip at most
    once; at most the fleet's vehicles; minimum total cost. None if some order has no option at all."""
    model = cp_model.CpModel()
    routes = list(pool.routes.values())
    chosen = [model.new_bool_var(f"r{r}") for r in range(len(routes))]
    covering: list[list[cp_model.IntVar]] = [[] for _ in range(search.count)]
    terms: list[cp_model.IntVar] = list(chosen)
    weights = [round(cost * scale) for cost, _ in routes]
    for var, (_, stops) in zip(chosen, routes, strict=True):
        for order in stops:
            covering[order].append(var)
    by_trip: dict[int, list[cp_model.IntVar]] = {}
    taken: dict[tuple[int, int], cp_model.IntVar] = {}
    for order in range(search.count):
        for trip, cost in zip(search.trip_options[order].tolist(), search.trip_costs[order].tolist(), strict=True):
            var = model.new_bool_var(f"t{trip}o{order}")
            taken[(trip, order)] = var
            covering[order].append(var)
            by_trip.setdefault(trip, []).append(var)
            terms.append(var)
            weights.append(round(cost * scale))
        if math.isfinite(float(search.skip[order])):
            var = model.new_bool_var(f"s{order}")
            covering[order].append(var)
            terms.append(var)
            weights.append(round(float(search.skip[order]) * scale))
    if any(not options for options in covering):
        return None
    for options in covering:
        model.add_exactly_one(options)
    for options in by_trip.values():
        if len(options) > 1:
            model.add_at_most_one(options)
    if math.isfinite(search.vehicles):
        model.add(sum(chosen) <= int(search.vehicles))
    model.minimize(cp_model.LinearExpr.weighted_sum(terms, weights))
    return _Model(model, chosen, taken)


def recombine(
    search: PoolSearch,
    pool: RoutePool,
    best_routes: list[list[int]],
    best_trip_of: IntArray,
    work: float,
    clock: WorkClock,
    seed: int,
    tuning: RuinRecreateTuning,
) -> tuple[list[list[int]], IntArray] | None:
    """The cheapest plan made of pool routes, trips and fallbacks, as (fleet routes, trip per order); None
    if CP-SAT found nothing or had no time. `best_*` (whose routes must be in the pool) is the hint."""
    building = tuning.pool_seconds_per_route * len(pool.routes)
    if not pool.routes or work - building < tuning.pool_min_seconds:
        return None
    entered = time.perf_counter()
    built = _model(search, pool, tuning.pool_cost_scale)
    if built is None:
        return None
    in_best = {frozenset(route) for route in best_routes}
    for var, key in zip(built.chosen, pool.routes, strict=True):
        built.model.add_hint(var, key in in_best)
    for (trip, order), var in built.taken.items():
        built.model.add_hint(var, int(best_trip_of[order]) == trip)
    solver = cp_model.CpSolver()
    solver.parameters.max_deterministic_time = max(0.005, tuning.pool_deterministic_per_second * (work - building))
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    safety = max(0.01, clock.wall_left())
    solver.parameters.max_time_in_seconds = safety
    stopped: list[bool] = []

    def stop() -> None:
        stopped.append(True)
        solver.stop_search()

    timer = threading.Timer(max(0.0, 0.95 * safety), stop)
    timer.start()
    try:
        status = solver.solve(built.model)
    finally:
        timer.cancel()
    if stopped or solver.wall_time >= 0.98 * safety:
        clock.trip("route pool")
    if status == cp_model.OPTIMAL:  # proved early: the deterministic time it used is what it cost
        work = min(work, building + solver.deterministic_time / tuning.pool_deterministic_per_second)
    clock.charge(work)
    clock.record("route pool", work, time.perf_counter() - entered)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    routes = [stops for _, stops in pool.routes.values()]
    fleet = [list(stops) for var, stops in zip(built.chosen, routes, strict=True) if solver.boolean_value(var)]
    trip_of = np.full(search.count, _OUT, dtype=np.int64)
    for (trip, order), var in built.taken.items():
        if solver.boolean_value(var):
            trip_of[order] = trip
    return fleet, trip_of
