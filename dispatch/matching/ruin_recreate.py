"""Ruin and recreate for a store whose trips take one order each and whose fleet carries the rest.

On this shape (the occasional-drivers problem) the routing solver's guided local search stalls in the
first deep valley: measured 2-7 % above the best-known values at 10 s, mostly by keeping one fleet route too
many. Here each step removes a cluster of nearby orders, whoever serves them (whole strings of a fleet route
around each, after Christiaens & Vanden Berghe's slack induction by string removals), and puts them back
one by one where each costs least now: a position in a fleet route, a new route, a free trip, the
fallback. Simulated annealing decides whether the result replaces the current plan; three runs at
different temperatures share the budget. Every new best gets
its trip orders re-matched exactly (min-cost assignment), which local moves cannot do.

Plain arithmetic on a precomputed distance matrix, so it covers what that prices exactly: fleet routes
without time windows (the trips' own rules, windows included, are in the candidate pairs' costs). The
caller re-checks the result with the exact route checks. The budget is a number of reinsertions charged to
the work clock, so a run is reproducible for a seed.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import Protocol, Self, TypeVar

import numpy as np

from dispatch.matching.assignment import NoFeasibleMatch, assign_one_per_trip
from dispatch.matching.budget import WorkClock
from dispatch.matching.insertion_slots import InsertionSlots
from dispatch.matching.instance import FloatArray, Instance, IntArray
from dispatch.matching.pairs import Pairs
from dispatch.matching.plan import Plan
from dispatch.matching.tuning import RuinRecreateTuning

_OUT = -1


class _Copyable(Protocol):
    def copy(self) -> Self: ...


StateT = TypeVar("StateT", bound=_Copyable)


def applies(instance: Instance, pairs: Pairs, orders: IntArray) -> bool:
    """Whether this search prices the problem exactly: a fleet, one-order trips, no windows on `orders`."""
    fleet = instance.problem.fleet
    if fleet is None or fleet.vehicles == 0 or len(orders) < 2:
        return False
    if len(pairs.trip) and bool((instance.max_orders[np.unique(pairs.trip)] > 1).any()):
        return False
    return not bool(np.isfinite(instance.latest[orders]).any())


@dataclass
class _State:
    routes: list[list[int]]  # local order indices per fleet route
    trip_of: IntArray  # per local order: the trip carrying it, or _OUT
    taker: IntArray  # per trip: the local order it carries, or _OUT

    def copy(self) -> _State:
        return _State([list(r) for r in self.routes], self.trip_of.copy(), self.taker.copy())


class _Search:
    """The problem restricted to `orders`, in local indices: node 0 is the store, node i + 1 is order i."""

    def __init__(
        self,
        instance: Instance,
        pairs: Pairs,
        orders: IntArray,
        rng: np.random.Generator,
        tuning: RuinRecreateTuning,
    ) -> None:
        fleet = instance.problem.fleet
        assert fleet is not None
        self.instance = instance
        self.tuning = tuning
        self.orders = orders
        self.rng = rng
        self.count = len(orders)
        points = np.vstack([instance.store[None, :], instance.order_xy[orders]])
        self.arc = instance.distances(points, points) * fleet.cost_per_distance
        self.fixed = float(fleet.fixed_cost)
        self.capacity = math.inf if fleet.capacity is None else float(fleet.capacity) * (1 + 1e-9)
        self.vehicles = math.inf if fleet.vehicles is None else fleet.vehicles
        self.size = instance.size[orders].astype(float)
        self.skip = instance.skip_cost()[orders]
        local = np.full(instance.order_count, _OUT, dtype=np.int64)
        local[orders] = np.arange(self.count)
        mine = local[pairs.order] >= 0
        by_order = np.lexsort((pairs.cost[mine], local[pairs.order[mine]]))
        owners = local[pairs.order[mine]][by_order]
        trips, costs = pairs.trip[mine][by_order], pairs.cost[mine][by_order]
        bounds = np.searchsorted(owners, np.arange(self.count + 1))
        self.trip_options = [trips[bounds[i] : bounds[i + 1]] for i in range(self.count)]
        self.trip_costs = [costs[bounds[i] : bounds[i + 1]] for i in range(self.count)]
        self.trip_options_listed = [options.tolist() for options in self.trip_options]
        self.trip_costs_listed = [costs.tolist() for costs in self.trip_costs]
        self.alone = (self.fixed + self.arc[0, 1:] + self.arc[1:, 0]).tolist()
        self.trip_cost = {(int(t), int(o)): float(c) for t, o, c in zip(trips, owners, costs, strict=True)}
        self.trip_count = instance.trip_count
        self.neighbours = np.argsort(self.arc[1:, 1:], axis=1, kind="stable")
        self._arc_rows: list[list[float]] = self.arc.tolist()
        self._route_costs: dict[tuple[int, ...], float] = {}
        self.slots_scanned = 0
        self.pairs_checked = 0
        """Counts of the work done, which the work clock is charged by (deterministic, unlike its time)."""

    # --- plans in and out --------------------------------------------------------------------------

    def state_of(self, plan: Plan) -> _State | None:
        local = {int(o): i for i, o in enumerate(self.orders.tolist())}
        trip_of = np.full(self.count, _OUT, dtype=np.int64)
        taker = np.full(self.trip_count, _OUT, dtype=np.int64)
        for trip, stops in plan.trip_routes.items():
            if len(stops) != 1 or int(stops[0]) not in local:
                return None
            trip_of[local[int(stops[0])]] = trip
            taker[trip] = local[int(stops[0])]
        routes: list[list[int]] = []
        for stops in plan.fleet_routes:
            if any(int(o) not in local for o in stops):
                return None
            if stops:
                routes.append([local[int(o)] for o in stops])
        return _State(routes, trip_of, taker)

    def plan_of(self, state: _State) -> Plan:
        ids = self.orders
        trip_routes = {int(state.trip_of[i]): [int(ids[i])] for i in np.flatnonzero(state.trip_of != _OUT).tolist()}
        return Plan(trip_routes, [[int(ids[i]) for i in route] for route in state.routes if route])

    def cost(self, state: _State) -> float:
        total = 0.0
        served = state.trip_of != _OUT
        for i in np.flatnonzero(served).tolist():
            total += self.trip_cost[(int(state.trip_of[i]), i)]
        for route in state.routes:
            if not route:
                continue
            total += self.route_cost(route)
            served[route] = True
        return total + float(self.skip[~served].sum())

    def route_cost(self, route: list[int]) -> float:
        """A fleet route's cost, remembered: a step changes few routes and leaves the rest as they were."""
        key = tuple(route)
        known = self._route_costs.get(key)
        if known is not None:
            return known
        if len(self._route_costs) >= self.tuning.route_cost_memory:
            self._route_costs.clear()
        rows = self._arc_rows
        cost = self.fixed + rows[0][route[0] + 1] + rows[route[-1] + 1][0]
        for a, b in itertools.pairwise(route):
            cost += rows[a + 1][b + 1]
        self._route_costs[key] = cost
        return cost

    # --- one step ----------------------------------------------------------------------------------

    def ruin(self, state: _State, how_many: int) -> list[int]:
        """Remove about `how_many` orders near a random one: strings from the fleet routes, single trip orders."""
        removed: list[int] = []
        in_route = {i: r for r, route in enumerate(state.routes) for i in route}
        ruined: set[int] = set()
        seed = int(self.rng.integers(self.count))
        for candidate in self.neighbours[seed].tolist():
            if len(removed) >= how_many:
                break
            if candidate in removed:
                continue
            r = in_route.get(candidate)
            if r is None:
                if state.trip_of[candidate] != _OUT:
                    state.taker[state.trip_of[candidate]] = _OUT
                    state.trip_of[candidate] = _OUT
                removed.append(candidate)
                continue
            if r in ruined:
                continue
            ruined.add(r)
            route = state.routes[r]
            length = int(self.rng.integers(1, min(self.tuning.max_string, len(route), how_many - len(removed)) + 1))
            at = route.index(candidate)
            first = int(self.rng.integers(max(0, at - length + 1), min(at, len(route) - length) + 1))
            removed.extend(route[first : first + length])
            del route[first : first + length]
        state.routes = [route for route in state.routes if route]
        return removed

    def recreate(self, state: _State, removed: list[int]) -> bool:
        """Put each removed order where it costs least now; False if one must be served and cannot be."""
        self._reinsertion_order(removed)
        slots = InsertionSlots(state.routes, self.size, self.arc, self.count)
        touched: set[int] = set()
        for order in removed:
            place = self._cheapest_place(state, slots, order)
            if place is None:
                return False
            kind, where = place
            if kind == "trip":
                state.trip_of[order] = where
                state.taker[where] = order
            elif kind == "new":
                touched.add(slots.open_route([order + 1], float(self.size[order])))
                state.routes.append([order])
            elif kind == "route":
                route, position = slots.insert(where, order, float(self.size[order]))
                state.routes[route].insert(position, order)
                touched.add(route)
        for route in touched:
            if len(state.routes[route]) >= 3:
                state.routes[route] = self.two_opt(state.routes[route])
        return True

    def _reinsertion_order(self, removed: list[int]) -> None:
        """One of four orders, at random: random, farthest first, largest first, nearest first."""
        key = int(self.rng.integers(4))
        if key == 0:
            self.rng.shuffle(removed)
        elif key == 1:
            removed.sort(key=lambda i: -float(self.arc[0, i + 1]))
        elif key == 2:
            removed.sort(key=lambda i: -float(self.size[i]))
        else:
            removed.sort(key=lambda i: float(self.arc[0, i + 1]))

    def _cheapest_place(self, state: _State, slots: InsertionSlots, order: int) -> tuple[str, int] | None:
        """Where `order` costs least: ("skip", 0), ("trip", trip), ("new", 0) or ("route", slot); None if
        nowhere (it must be served)."""
        node = order + 1
        best_cost, best = float(self.skip[order]), ("skip", 0)
        taker = state.taker
        for trip, cost in zip(self.trip_options_listed[order], self.trip_costs_listed[order], strict=True):
            if taker[trip] == _OUT:  # the cheapest free trip: options are sorted by cost
                if cost < best_cost:
                    best_cost, best = cost, ("trip", trip)
                break
        if len(state.routes) < self.vehicles:
            alone = self.alone[order]
            if alone < best_cost:
                best_cost, best = alone, ("new", 0)
        if slots.count:
            self.slots_scanned += slots.count
            extra = slots.insertion_costs(node)
            if self.capacity < math.inf:
                extra[slots.route_loads() > self.capacity - float(self.size[order])] = np.inf
            p = int(extra.argmin())
            if float(extra[p]) < best_cost:
                best_cost, best = float(extra[p]), ("route", p)
        return best if math.isfinite(best_cost) else None

    def two_opt(self, route: list[int]) -> list[int]:
        """`route` with segments reversed while that shortens it (best move first). Plain Python: routes
        are short, and on ten stops the loops beat building numpy matrices."""
        rows = self._arc_rows
        nodes = [0, *[i + 1 for i in route], 0]
        last = len(nodes) - 1
        for _ in range(len(route)):
            self.pairs_checked += (last - 1) * (last - 2) // 2
            best_gain, best_i, best_j = -1e-9, -1, -1
            for i in range(last - 1):
                a, b = nodes[i], nodes[i + 1]
                row_a, row_b, ab = rows[a], rows[b], rows[a][b]
                for j in range(i + 2, last):
                    c, d = nodes[j], nodes[j + 1]
                    gain = row_a[c] + row_b[d] - ab - rows[c][d]
                    if gain < best_gain:
                        best_gain, best_i, best_j = gain, i, j
            if best_i < 0:
                break
            nodes[best_i + 1 : best_j + 1] = nodes[best_i + 1 : best_j + 1][::-1]
        return [node - 1 for node in nodes[1:-1]]

    def counters(self) -> tuple[int, int]:
        return self.slots_scanned, self.pairs_checked

    def step_seconds(self, removed: int, before: tuple[int, int], after: tuple[int, int]) -> float:
        tuning = self.tuning
        return (
            tuning.seconds_per_step
            + tuning.seconds_per_insertion * removed
            + tuning.seconds_per_slot * (after[0] - before[0])
            + tuning.seconds_per_pair * (after[1] - before[1])
        )

    def improved(self, state: _State, cost: float) -> tuple[_State, float]:
        """A rematch of the trips' orders, where it is cheaper."""
        matched = self.rematch(state)
        matched_cost = self.cost(matched)
        return (matched, matched_cost) if matched_cost < cost else (state, cost)

    def rematch(self, state: _State) -> _State:
        """The orders not on a fleet route, matched to trips exactly (each to its fallback otherwise)."""
        on_route = np.zeros(self.count, dtype=np.bool_)
        for route in state.routes:
            on_route[route] = True
        free = np.flatnonzero(~on_route)
        trip_list: list[IntArray] = []
        order_list: list[IntArray] = []
        cost_list: list[FloatArray] = []
        for i in free.tolist():
            trip_list.append(self.trip_options[i])
            order_list.append(np.full(len(self.trip_options[i]), i, dtype=np.int64))
            cost_list.append(self.trip_costs[i])
        if not trip_list:
            return state
        skip = np.where(on_route, 0.0, self.skip)
        try:
            assigned = assign_one_per_trip(
                self.count, self.trip_count, np.concatenate(trip_list), np.concatenate(order_list),
                np.concatenate(cost_list), skip,
            )  # fmt: skip
        except NoFeasibleMatch:
            return state
        trip_of = np.where(on_route, _OUT, assigned)
        taker = np.full(self.trip_count, _OUT, dtype=np.int64)
        taker[trip_of[trip_of != _OUT]] = np.flatnonzero(trip_of != _OUT)
        return _State([list(r) for r in state.routes], trip_of, taker)


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
    search = _Search(instance, pairs, orders, np.random.default_rng(seed), tuning)
    start = search.state_of(plan)
    if start is None:
        return None
    current = search.rematch(start)
    current_cost = search.cost(current)
    if not math.isfinite(current_cost):
        current, current_cost = start, search.cost(start)
    mean_cost = max(current_cost, 1e-9) / search.count if math.isfinite(current_cost) else 1.0
    budget = max(0.0, work_seconds)
    best, best_cost, spent = current, math.inf, 0.0
    runs = tuning.temperatures
    for temperature in runs:
        hot = temperature * mean_cost
        found, found_cost, more = anneal(search, current, current_cost, hot, budget / len(runs), clock)
        spent += more
        if found_cost < best_cost:
            best, best_cost = found, found_cost
    clock.record("ruin and recreate", spent, time.perf_counter() - entered)
    return search.plan_of(best)


class AnnealingSearch(Protocol[StateT]):
    """What `anneal` needs of a search: its moves, its costs and the work counters it is charged by."""

    rng: np.random.Generator
    tuning: RuinRecreateTuning
    count: int

    def ruin(self, state: StateT, how_many: int) -> list[int]: ...
    def recreate(self, state: StateT, removed: list[int]) -> bool: ...
    def cost(self, state: StateT) -> float: ...
    def counters(self) -> tuple[int, int]: ...
    def step_seconds(self, removed: int, before: tuple[int, int], after: tuple[int, int]) -> float:
        """Work-clock seconds of one ruin and recreate that moved the counters from `before` to `after`."""
        ...

    def improved(self, state: StateT, cost: float) -> tuple[StateT, float]:
        """A new best state, or a better one found from it (a rematch)."""
        ...


def anneal(
    search: AnnealingSearch[StateT], current: StateT, current_cost: float, hot: float, budget: float, clock: WorkClock
) -> tuple[StateT, float, float]:
    """Simulated annealing from `current` at temperature `hot` cooling to `cooling` x `hot`, for `budget`
    work seconds: the best state, its cost, the work spent."""
    best, best_cost = current.copy(), current_cost
    tuning = search.tuning
    most = max(tuning.min_removed, min(search.count, 3 + int(tuning.removal_share * search.count)))
    cold = tuning.cooling * hot
    spent = 0.0
    while spent < budget:
        if clock.past_safety("ruin and recreate"):
            break
        temperature = hot * (cold / hot) ** (spent / budget)
        trial = current.copy()
        before = search.counters()
        removed = search.ruin(trial, int(search.rng.integers(tuning.min_removed, most + 1)))
        recreated = search.recreate(trial, removed)
        charge = search.step_seconds(len(removed), before, search.counters())
        spent += charge
        clock.charge(charge)
        if not recreated:
            continue
        cost = search.cost(trial)
        if cost < current_cost - temperature * math.log(float(search.rng.random()) + 1e-300):
            current, current_cost = trial, cost
            if cost < best_cost - 1e-9 * max(1.0, abs(best_cost)):
                current, current_cost = search.improved(trial, cost)
                best, best_cost = current.copy(), current_cost
    return best, best_cost, spent
