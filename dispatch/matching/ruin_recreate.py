"""Ruin and recreate for a store whose trips take one order each and whose fleet carries the rest.

On this shape (the occasional-drivers problem) the routing solver's guided local search stalls in the
first deep valley: measured 2-7 % above the best-known values at 10 s, mostly by keeping one fleet route too
many. Here each step removes a cluster of nearby orders, whoever serves them (whole strings of a fleet route
around each, after Christiaens & Vanden Berghe's slack induction by string removals), and puts them back
one by one where each costs least now: a position in a fleet route, a new route, a free trip, the
fallback. Simulated annealing decides whether the result replaces the current plan; runs at different
temperatures share the budget. Every new best gets its trip orders re-matched exactly (min-cost
assignment), which local moves cannot do.

Plain arithmetic on a precomputed distance matrix, so it covers what that prices exactly: fleet routes
without time windows (the trips' own rules, windows included, are in the candidate pairs' costs). The
caller re-checks the result with the exact route checks. The steps run compiled (`ruin_recreate_kernel`);
this module prepares their arrays, re-matches each new best and keeps the work clock. The budget is
charged by the work the steps count, so a run is reproducible for a seed. (The same loop in Python, over any
search, is `annealing.anneal`.)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from dispatch.matching import ruin_recreate_kernel as kernel
from dispatch.matching.annealing import most_removed
from dispatch.matching.assignment import NoFeasibleMatch, assign_one_per_trip
from dispatch.matching.budget import WorkClock
from dispatch.matching.instance import FloatArray, Instance, IntArray
from dispatch.matching.pairs import Pairs
from dispatch.matching.plan import Plan
from dispatch.matching.tuning import RuinRecreateTuning

_STEPS_BETWEEN_CHECKS = 2_000
"""Steps the compiled loop makes before the wall-clock safety net is looked at again."""


def applies(instance: Instance, pairs: Pairs, orders: IntArray) -> bool:
    """Whether this search prices the problem exactly: a fleet, one-order trips, no windows on `orders`."""
    fleet = instance.problem.fleet
    if fleet is None or fleet.vehicles == 0 or len(orders) < 2:
        return False
    if len(pairs.trip) and bool((instance.max_orders[np.unique(pairs.trip)] > 1).any()):
        return False
    return not bool(np.isfinite(instance.latest[orders]).any())


@dataclass(frozen=True)
class SearchProblem:
    """The problem restricted to `orders`, as the kernel's arrays (local indices: order i is node i + 1)."""

    orders: IntArray
    trip_count: int
    arc: FloatArray
    size: FloatArray
    skip: FloatArray
    alone: FloatArray
    option_start: IntArray
    option_trip: IntArray
    option_cost: FloatArray
    neighbours: IntArray
    scalars: FloatArray

    @property
    def count(self) -> int:
        return len(self.orders)

    @classmethod
    def build(cls, instance: Instance, pairs: Pairs, orders: IntArray, most_removed: int) -> SearchProblem:
        fleet = instance.problem.fleet
        assert fleet is not None
        count = len(orders)
        points = np.vstack([instance.store[None, :], instance.order_xy[orders]])
        arc = np.ascontiguousarray(instance.distances(points, points) * fleet.cost_per_distance, dtype=np.float64)
        fixed = float(fleet.fixed_cost)
        capacity = math.inf if fleet.capacity is None else float(fleet.capacity) * (1 + 1e-9)
        vehicles = float(count) if fleet.vehicles is None else float(min(fleet.vehicles, count))
        local = np.full(instance.order_count, kernel.OUT, dtype=np.int64)
        local[orders] = np.arange(count)
        mine = local[pairs.order] >= 0
        # Among trips of the same price, the one fewer other orders can take first: a greedy choice
        # between equal drivers (a rule that pays by the order only) then leaves the scarce ones free.
        demand = np.bincount(pairs.trip[mine], minlength=instance.trip_count)[pairs.trip[mine]]
        by_order = np.lexsort((demand, pairs.cost[mine], local[pairs.order[mine]]))
        owners = local[pairs.order[mine]][by_order]
        # Enough neighbours for the largest ruin: strings take several at once, ruined routes skip some.
        columns = min(count, 4 * most_removed + 16)
        distance = arc[1:, 1:]
        if columns < count:
            nearest = np.argpartition(distance, columns - 1, axis=1)[:, :columns]
            rows = np.take_along_axis(distance, nearest, axis=1)
            neighbours = np.take_along_axis(nearest, np.argsort(rows, axis=1, kind="stable"), axis=1)
        else:
            neighbours = np.argsort(distance, axis=1, kind="stable")
        return cls(
            orders=orders,
            trip_count=instance.trip_count,
            arc=arc,
            size=instance.size[orders].astype(np.float64),
            skip=instance.skip_cost()[orders].astype(np.float64),
            alone=fixed + arc[0, 1:] + arc[1:, 0],
            option_start=np.searchsorted(owners, np.arange(count + 1)).astype(np.int64),
            option_trip=pairs.trip[mine][by_order].astype(np.int64),
            option_cost=pairs.cost[mine][by_order].astype(np.float64),
            neighbours=np.ascontiguousarray(neighbours, dtype=np.int64),
            scalars=np.array([fixed, capacity, vehicles], dtype=np.float64),
        )


@dataclass
class SearchState:
    """The kernel's state arrays (see `ruin_recreate_kernel`)."""

    ints: IntArray
    floats: FloatArray
    taker: IntArray

    def copy(self) -> SearchState:
        return SearchState(self.ints.copy(), self.floats.copy(), self.taker.copy())

    def assign(self, other: SearchState) -> None:
        self.ints[:, :] = other.ints
        self.floats[:, :] = other.floats
        self.taker[:] = other.taker

    @classmethod
    def empty(cls, count: int, trip_count: int) -> SearchState:
        ints = np.full((kernel.INT_ROWS, count), kernel.OUT, dtype=np.int64)
        ints[kernel.LENGTH] = 0
        return cls(ints, np.zeros((kernel.FLOAT_ROWS, count)), np.full(trip_count, kernel.OUT, dtype=np.int64))

    @classmethod
    def of(cls, problem: SearchProblem, plan: Plan) -> SearchState | None:
        """The plan as a state; None if it holds orders outside the problem or trips with several."""
        local = {int(o): i for i, o in enumerate(problem.orders.tolist())}
        state = cls.empty(problem.count, problem.trip_count)
        for trip, stops in plan.trip_routes.items():
            if len(stops) != 1 or int(stops[0]) not in local:
                return None
            order = local[int(stops[0])]
            state.ints[kernel.TRIP, order] = trip
            state.taker[trip] = order
            state.floats[kernel.TRIP_COST, order] = _trip_price(problem, order, trip)
        slot = 0
        for stops in plan.fleet_routes:
            if any(int(o) not in local for o in stops):
                return None
            if not stops:
                continue
            previous = kernel.END
            for stop in stops:
                order = local[int(stop)]
                kernel.link_after(state.ints, state.floats, problem.arc, problem.size, slot, previous, order)
                previous = order
            slot += 1
        return state

    def routes(self) -> list[list[int]]:
        """The fleet routes, in local order indices."""
        ints = self.ints
        routes: list[list[int]] = []
        for head in ints[kernel.HEAD][ints[kernel.LENGTH] > 0].tolist():
            route, at = [], head
            while at != kernel.END:
                route.append(at)
                at = int(ints[kernel.NEXT, at])
            routes.append(route)
        return routes

    def plan(self, problem: SearchProblem) -> Plan:
        ids = problem.orders
        trip_of = self.ints[kernel.TRIP]
        carried = np.flatnonzero(trip_of != kernel.OUT).tolist()
        trip_routes = {int(trip_of[i]): [int(ids[i])] for i in carried}
        return Plan(trip_routes, [[int(ids[i]) for i in route] for route in self.routes()])


def _trip_price(problem: SearchProblem, order: int, trip: int) -> float:
    start, end = int(problem.option_start[order]), int(problem.option_start[order + 1])
    at = np.flatnonzero(problem.option_trip[start:end] == trip)
    return float(problem.option_cost[start + int(at[0])]) if len(at) else math.inf


def _cost(problem: SearchProblem, state: SearchState) -> float:
    return float(kernel.total_cost(state.ints, state.floats, problem.skip, problem.scalars[kernel.FIXED]))


def _rematch(problem: SearchProblem, state: SearchState) -> None:
    """Match the orders on no fleet route to trips exactly (each to its fallback otherwise), where cheaper."""
    on_route = state.ints[kernel.ROUTE] != kernel.OUT
    free = np.flatnonzero(~on_route)
    if len(free) == 0:
        return
    starts, ends = problem.option_start[free], problem.option_start[free + 1]
    widths = ends - starts
    if int(widths.sum()) == 0:
        return
    picks = np.concatenate([np.arange(s, e) for s, e in zip(starts.tolist(), ends.tolist(), strict=True)])
    owners = np.repeat(free, widths)
    skip = np.where(on_route, 0.0, problem.skip)
    try:
        assigned = assign_one_per_trip(
            problem.count, problem.trip_count, problem.option_trip[picks], owners, problem.option_cost[picks], skip
        )
    except NoFeasibleMatch:
        return
    matched = SearchState(
        state.ints.copy(), state.floats.copy(), np.full(problem.trip_count, kernel.OUT, dtype=np.int64)
    )
    trip_of = np.where(on_route, kernel.OUT, assigned)
    matched.ints[kernel.TRIP] = trip_of
    carried = np.flatnonzero(trip_of != kernel.OUT)
    matched.taker[trip_of[carried]] = carried
    taken = problem.option_trip[picks] == trip_of[owners]  # each carried order's one option in use
    matched.floats[kernel.TRIP_COST] = 0.0
    matched.floats[kernel.TRIP_COST, owners[taken]] = problem.option_cost[picks[taken]]
    if _cost(problem, matched) < _cost(problem, state):
        state.assign(matched)


def ruin_and_recreate(
    instance: Instance,
    pairs: Pairs,
    orders: IntArray,
    plan: Plan,
    work_seconds: float,
    clock: WorkClock,
    seed: int,
    *,
    tuning: RuinRecreateTuning,
) -> Plan | None:
    """The best plan found from `plan` for `orders` (which nothing outside holds); None if it cannot start."""
    entered = time.perf_counter()
    count = len(orders)
    most = most_removed(count, tuning)
    problem = SearchProblem.build(instance, pairs, orders, most)
    start = SearchState.of(problem, plan)
    if start is None:
        return None
    if not math.isfinite(_cost(problem, start)):
        return None
    _rematch(problem, start)
    start_cost = _cost(problem, start)
    params = np.array(
        [
            tuning.min_removed, most, tuning.max_string, tuning.blink_rate, tuning.take_over, tuning.seconds_per_step,
            tuning.seconds_per_insertion, tuning.seconds_per_slot, tuning.seconds_per_pair,
        ],
        dtype=np.float64,
    )  # fmt: skip
    rng = np.array([np.random.default_rng(seed).integers(1, 2**63)], dtype=np.uint64)
    mean_cost = max(start_cost, 1e-9) / count
    work = max(0.0, work_seconds)
    budget = (1 - tuning.fewer_routes_share) * work / len(tuning.temperatures)
    best, best_cost, spent = start, start_cost, 0.0
    for temperature in tuning.temperatures:
        found, found_cost, used = _anneal_compiled(
            problem, start, temperature * mean_cost, budget, params, rng, clock, tuning
        )
        spent += used
        if found_cost < best_cost:
            best, best_cost = found, found_cost
    while spent < work - 1e-12 and not clock.past_safety("ruin and recreate"):
        hot = tuning.fewer_routes_temperature * mean_cost
        found, found_cost, used = _fewer_routes(problem, best, hot, work - spent, params, rng, clock, tuning)
        spent += used
        if found_cost >= best_cost:
            break
        best, best_cost = found, found_cost
    clock.record("ruin and recreate", spent, time.perf_counter() - entered)
    return best.plan(problem)


def _fewer_routes(
    problem: SearchProblem,
    best: SearchState,
    hot: float,
    budget: float,
    params: FloatArray,
    rng: npt.NDArray[np.uint64],
    clock: WorkClock,
    tuning: RuinRecreateTuning,
) -> tuple[SearchState, float, float]:
    """The best plan found with one fleet route fewer than `best`: its smallest route's orders left out at a
    penalty and the search run with that many vehicles, so that the drivers and the other routes take them
    (the annealing alone seldom empties a route when that takes many orders moved at once, e.g. a route
    of 30 stops); its true cost (inf while an order that must be served is out) and the work spent."""
    routes = best.routes()
    if not routes:
        return best, math.inf, 0.0
    share = max(0.0, min(1.0, tuning.fewer_routes_step_share))
    penalty = np.where(np.isfinite(problem.skip), problem.skip, tuning.absence_penalty * problem.alone)
    scalars = problem.scalars.copy()
    scalars[kernel.VEHICLES] = len(routes) - 1
    capped = replace(problem, skip=penalty, scalars=scalars)
    start = best.copy()
    for order in min(routes, key=lambda route: (len(route), route)):
        kernel.unlink(start.ints, start.floats, problem.arc, problem.size, order)
    found, _, used = _anneal_compiled(capped, start, hot, share * budget, params, rng, clock, tuning)
    return found, _cost(problem, found), used


def _anneal_compiled(
    problem: SearchProblem,
    start: SearchState,
    hot: float,
    budget: float,
    params: FloatArray,
    rng: npt.NDArray[np.uint64],
    clock: WorkClock,
    tuning: RuinRecreateTuning,
) -> tuple[SearchState, float, float]:
    """One annealing run from `start` at temperature `hot`: its best state, that state's cost, the work spent."""
    current, trial = start.copy(), start.copy()
    best, best_cost = start.copy(), _cost(problem, start)
    run = np.zeros(7)
    run[kernel.HOT], run[kernel.COLD], run[kernel.BUDGET] = hot, tuning.cooling * hot, budget
    run[kernel.CURRENT_COST], run[kernel.BEST_COST] = best_cost, best_cost
    count = problem.count
    removed = np.zeros(count, dtype=np.int64)
    stamp = np.zeros(3 * count, dtype=np.int64)
    counters = np.zeros(4, dtype=np.int64)
    charged = 0.0
    while not clock.past_safety("ruin and recreate"):
        status = kernel.anneal(
            current.ints, current.floats, current.taker, trial.ints, trial.floats, trial.taker,
            problem.arc, problem.size, problem.skip, problem.alone, problem.option_start, problem.option_trip,
            problem.option_cost, problem.neighbours, problem.scalars, params,
            run, _STEPS_BETWEEN_CHECKS, removed, stamp, counters, rng,
        )  # fmt: skip
        if status == kernel.NEW_BEST:
            run[kernel.SPENT] += tuning.seconds_per_rematch
            _rematch(problem, current)
            run[kernel.CURRENT_COST] = _cost(problem, current)
            best.assign(current)
            best_cost = run[kernel.BEST_COST] = float(run[kernel.CURRENT_COST])
        clock.charge(run[kernel.SPENT] - charged)
        charged = float(run[kernel.SPENT])
        if status == kernel.DONE:
            break
    return best, best_cost, charged
