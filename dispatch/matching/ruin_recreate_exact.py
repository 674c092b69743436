"""Ruin and recreate where every route is priced by the exact route checks: windows, multi-order trips.

`ruin_recreate` is fast because it prices fleet routes by plain arc sums and trips by their one listed
order, which holds only for one-order trips and a fleet without windows. A live store's batch with a fleet
has windows and trips that take several orders; there the routing solver alone stalls in its first valley
as it does on the occasional-drivers set (an enumerated example: 20.0 against the optimum 19.708). This is
the same search — a cluster of nearby orders removed (strings of fleet routes), put back one by one where
each costs least now, simulated annealing over three temperatures — with every candidate route priced by
`Instance.trip_route` / `Instance.fleet_route` (remembered per route), so every plan it keeps is feasible
and priced as the objective prices it. It is slower per step, so it is for small stores (one routing group).

The budget is a number of routes priced, charged to the work clock: a run is reproducible for a seed.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass

import numpy as np

from dispatch.matching.annealing import anneal
from dispatch.matching.budget import WorkClock
from dispatch.matching.instance import Instance, IntArray
from dispatch.matching.pairs import Pairs
from dispatch.matching.plan import Plan
from dispatch.matching.tuning import RuinRecreateTuning


def applies(instance: Instance, orders: IntArray) -> bool:
    """A fleet that may be used and at least two orders to move."""
    fleet = instance.problem.fleet
    return fleet is not None and fleet.vehicles != 0 and len(orders) >= 2


_Place = tuple[str, int, list[int]]
"""Where an order goes: ("trip", trip, its new stops) or ("fleet", route index or a new one's, new stops)."""


@dataclass
class _State:
    fleet: list[list[int]]
    trips: dict[int, list[int]]

    def copy(self) -> _State:
        return _State([list(r) for r in self.fleet], {t: list(s) for t, s in self.trips.items()})


class _ExactSearch:
    """Orders are the instance's own indices; routes are priced exactly and remembered."""

    def __init__(
        self, instance: Instance, pairs: Pairs, orders: IntArray, rng: np.random.Generator, tuning: RuinRecreateTuning
    ) -> None:
        fleet = instance.problem.fleet
        assert fleet is not None
        self.instance = instance
        self.tuning = tuning
        self.orders = orders
        self.rng = rng
        self.vehicles = math.inf if fleet.vehicles is None else fleet.vehicles
        self.per_distance = float(fleet.cost_per_distance)
        self.skip = instance.skip_cost()
        points = instance.order_xy[orders]
        self.arc = instance.distances(points, points)
        self.neighbours = orders[np.argsort(self.arc, axis=1, kind="stable")]
        self.local = {int(o): i for i, o in enumerate(orders.tolist())}
        mine = np.isin(pairs.order, orders)
        by_cost = np.lexsort((pairs.cost[mine], pairs.order[mine]))
        self.trips_of: dict[int, list[int]] = {int(o): [] for o in orders.tolist()}
        for trip, order in zip(pairs.trip[mine][by_cost].tolist(), pairs.order[mine][by_cost].tolist(), strict=True):
            self.trips_of[order].append(trip)
        self.alone = {int(o): instance.fleet_route([int(o)]) for o in orders.tolist()}
        self._fleet_costs: dict[tuple[int, ...], float | None] = {}
        self._trip_costs: dict[tuple[int, tuple[int, ...]], float | None] = {}
        self.count = len(orders)
        self.priced = 0
        self.slots = 0
        """Routes priced (not remembered) and fleet slots weighed: what the work clock is charged by."""

    def fleet_cost(self, stops: list[int]) -> float | None:
        key = tuple(stops)
        if key not in self._fleet_costs:
            if len(self._fleet_costs) >= self.tuning.route_cost_memory:
                self._fleet_costs.clear()
            self.priced += 1
            self._fleet_costs[key] = self.instance.fleet_route(stops)
        return self._fleet_costs[key]

    def trip_cost(self, trip: int, stops: list[int]) -> float | None:
        key = (trip, tuple(stops))
        if key not in self._trip_costs:
            if len(self._trip_costs) >= self.tuning.route_cost_memory:
                self._trip_costs.clear()
            self.priced += 1
            route = self.instance.trip_route(trip, stops)
            self._trip_costs[key] = None if route is None else route.cost
        return self._trip_costs[key]

    def state_of(self, plan: Plan) -> _State | None:
        """`plan` restricted to `orders`; None if a route mixes them with orders outside."""
        inside = set(self.local)
        if any(not inside.issuperset(stops) for stops in (*plan.trip_routes.values(), *plan.fleet_routes)):
            return None
        return _State([list(r) for r in plan.fleet_routes if r], {t: list(s) for t, s in plan.trip_routes.items() if s})

    @staticmethod
    def plan_of(state: _State) -> Plan:
        return Plan({t: list(s) for t, s in state.trips.items() if s}, [list(r) for r in state.fleet if r])

    def cost(self, state: _State) -> float:
        total = 0.0
        served: set[int] = set()
        for trip, stops in state.trips.items():
            price = self.trip_cost(trip, stops)
            if price is None:
                return math.inf
            total += price
            served.update(stops)
        for stops in state.fleet:
            price = self.fleet_cost(stops)
            if price is None:
                return math.inf
            total += price
            served.update(stops)
        return total + sum(float(self.skip[o]) for o in self.local if o not in served)

    def counters(self) -> tuple[int, int]:
        return self.priced, self.slots

    def step_seconds(self, removed: int, before: tuple[int, int], after: tuple[int, int]) -> float:
        tuning = self.tuning
        return (
            tuning.seconds_per_step
            + tuning.exact_seconds_per_insertion * removed
            + tuning.exact_seconds_per_slot * (after[1] - before[1])
            + tuning.exact_seconds_per_route * (after[0] - before[0])
        )

    def improved(self, state: _State, cost: float) -> tuple[_State, float]:
        return state, cost

    def ruin(self, state: _State, how_many: int) -> list[int]:
        """About `how_many` orders near a random one: strings from fleet routes, single orders from trips."""
        removed: list[int] = []
        route_of = {o: r for r, stops in enumerate(state.fleet) for o in stops}
        trip_of = {o: t for t, stops in state.trips.items() for o in stops}
        ruined: set[int] = set()
        seed = int(self.rng.integers(len(self.orders)))
        for candidate in self.neighbours[seed].tolist():
            if len(removed) >= how_many:
                break
            if candidate in removed:
                continue
            r = route_of.get(candidate)
            if r is None:
                trip = trip_of.get(candidate)
                if trip is not None:
                    state.trips[trip].remove(candidate)
                removed.append(candidate)
                continue
            if r in ruined:
                continue
            ruined.add(r)
            route = state.fleet[r]
            length = int(self.rng.integers(1, min(self.tuning.max_string, len(route), how_many - len(removed)) + 1))
            at = route.index(candidate)
            first = int(self.rng.integers(max(0, at - length + 1), min(at, len(route) - length) + 1))
            removed.extend(route[first : first + length])
            del route[first : first + length]
        state.fleet = [route for route in state.fleet if route]
        state.trips = {t: s for t, s in state.trips.items() if s}
        return removed

    def recreate(self, state: _State, removed: list[int]) -> bool:
        """Each removed order where it costs least now; False if one must be served and cannot be."""
        key = int(self.rng.integers(3))
        if key == 0:
            self.rng.shuffle(removed)
        else:
            removed.sort(key=lambda o: (-1 if key == 1 else 1) * float(self.instance.store_to_order[o]))
        return all(self._put_back(state, order) for order in removed)

    def _put_back(self, state: _State, order: int) -> bool:
        """`order` where it adds least (a trip, a fleet route, a new one, or left out); False if nowhere."""
        best_cost, best = self._best_in_trips(state, order, float(self.skip[order]))
        alone = self.alone[order]
        if alone is not None and alone < best_cost and len(state.fleet) < self.vehicles:
            best_cost, best = alone, ("fleet", len(state.fleet), [order])
        best_cost, best = self._best_in_fleet(state, order, best_cost, best)
        if best is None:
            return math.isfinite(best_cost)
        kind, where, stops = best
        if kind == "trip":
            state.trips[where] = stops
        elif where == len(state.fleet):
            state.fleet.append(stops)
        else:
            state.fleet[where] = stops
        return True

    def _best_in_trips(self, state: _State, order: int, best_cost: float) -> tuple[float, _Place | None]:
        best: _Place | None = None
        for trip in self.trips_of[order]:
            stops = state.trips.get(trip, [])
            if len(stops) >= int(self.instance.max_orders[trip]):
                continue
            now = self.trip_cost(trip, stops) if stops else 0.0
            assert now is not None
            for position in range(len(stops) + 1):
                candidate = [*stops[:position], order, *stops[position:]]
                price = self.trip_cost(trip, candidate)
                if price is not None and price - now < best_cost:
                    best_cost, best = price - now, ("trip", trip, candidate)
        return best_cost, best

    def _best_in_fleet(
        self, state: _State, order: int, best_cost: float, best: _Place | None
    ) -> tuple[float, _Place | None]:
        """Per route, slots by their arc delta (plain arithmetic), checked exactly from the cheapest up."""
        here = self.local[order]
        to_store = self.instance.store_to_order
        for r, stops in enumerate(state.fleet):
            now = self.fleet_cost(stops)
            assert now is not None
            local = [self.local[o] for o in stops]
            self.slots += len(local) + 1
            before = [float(to_store[order])] + [float(self.arc[i, here]) for i in local]
            after = [float(self.arc[here, i]) for i in local] + [float(to_store[order])]
            ends = [float(to_store[stops[0]])] + [float(self.arc[a, b]) for a, b in itertools.pairwise(local)]
            ends.append(float(to_store[stops[-1]]))
            deltas = [self.per_distance * (b + a - e) for b, a, e in zip(before, after, ends, strict=True)]
            for position in sorted(range(len(deltas)), key=deltas.__getitem__):
                if deltas[position] >= best_cost:
                    break
                candidate = [*stops[:position], order, *stops[position:]]
                price = self.fleet_cost(candidate)
                if price is not None:
                    if price - now < best_cost:
                        best_cost, best = price - now, ("fleet", r, candidate)
                    break
        return best_cost, best


def ruin_and_recreate_exact(
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
    search = _ExactSearch(instance, pairs, orders, np.random.default_rng(seed), tuning)
    start = search.state_of(plan)
    if start is None:
        return None
    start_cost = search.cost(start)
    if not math.isfinite(start_cost):
        return None
    mean_cost = max(start_cost, 1e-9) / len(orders)
    budget = max(0.0, work_seconds)
    best, best_cost, spent = start, start_cost, 0.0
    for temperature in tuning.temperatures:
        found, found_cost, more = anneal(
            search, start, start_cost, temperature * mean_cost, budget / len(tuning.temperatures), clock
        )
        spent += more
        if found_cost < best_cost:
            best, best_cost = found, found_cost
    clock.record("ruin and recreate (exact)", spent, time.perf_counter() - entered)
    return search.plan_of(best)
