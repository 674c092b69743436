"""Bundles of up to three orders per trip, enumerated with numpy and packed by an LP and CP-SAT.

Each trip that takes several orders gets its few cheapest candidate orders; every pair and triple of them
is priced in its best feasible visiting order (capacity, route limit, windows, the trip's rule), all trips
at once as arrays. Choosing at most one bundle per trip and per order, maximising what the bundles save
against each order's skip cost, is a set packing. Its LP relaxation (GLOP) is nearly integral on store
batches: rounded greedily it gives a near-optimal plan in milliseconds, and its bound can prove that plan
optimal. Otherwise CP-SAT searches from the best plan so far, stopped by a deterministic-time budget on one
worker with the given seed (reproducible; the best solution so far is kept); its wall-clock limit is the
solve's safety deadline only. Without a fleet this is the whole problem up to three orders a trip, exactly
over the bundles enumerated.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.linear_solver.python import model_builder_helper
from ortools.sat.python import cp_model
from scipy import sparse

from dispatch.matching.budget import WorkClock
from dispatch.matching.instance import (
    RULE_DETOUR,
    RULE_FIXED,
    RULE_REWARD,
    RULE_STORE_DISTANCE,
    TOLERANCE,
    FloatArray,
    Instance,
    IntArray,
)
from dispatch.matching.pairs import Pairs
from dispatch.matching.plan import Plan
from dispatch.matching.tuning import BundleTuning


@dataclass(frozen=True)
class Bundles:
    trip: IntArray  # (B,)
    stops: IntArray  # (B, 3), visiting order, -1 padded
    cost: FloatArray  # (B,)


def _ranked(keys: IntArray, values: FloatArray, count: int) -> IntArray:
    """Indices of the `count` smallest values within each key group."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    by_key = np.lexsort((values, keys))
    sorted_keys = keys[by_key]
    first = np.r_[0, np.flatnonzero(np.diff(sorted_keys)) + 1]
    rank = np.arange(len(keys)) - np.repeat(first, np.diff(np.r_[first, len(keys)]))
    chosen: IntArray = by_key[rank < count]
    return chosen


def _price_sequences(instance: Instance, trip: IntArray, sequences: IntArray) -> FloatArray:
    """Cost of each trip visiting its sequence (rows of order indices), inf where infeasible."""
    count = sequences.shape[1]
    waits = instance.wait_at_doors[trip]
    length = instance.store_to_order[sequences[:, 0]].copy()
    clock = instance.depart[trip] + length / instance.problem.speed
    driven = np.empty((len(trip), count))  # arrivals, with the door waits of the trips that wait there
    for k in range(count):
        if k:
            leg = instance.pair_distances(instance.order_xy[sequences[:, k - 1]], instance.order_xy[sequences[:, k]])
            length += leg
            clock = clock + leg / instance.problem.speed
        driven[:, k] = clock
        clock = np.where(waits, np.maximum(clock, instance.earliest[sequences[:, k]]), clock)
    # a trip that does not wait at doors leaves later, until the latest-opening window is met on arrival
    later = np.where(waits, 0.0, np.maximum(0.0, (instance.earliest[sequences] - driven).max(axis=1)))
    latest = instance.latest[sequences]
    arrivals = driven + later[:, None]
    feasible = (arrivals <= latest + TOLERANCE * np.maximum(1.0, np.abs(latest))).all(axis=1)
    length += instance.pair_distances(instance.order_xy[sequences[:, -1]], instance.destination_xy[trip])
    limit = instance.route_limit[trip]
    feasible &= length <= limit + TOLERANCE * np.maximum(1.0, np.abs(limit))
    rule = instance.rule[trip]
    cost = np.zeros(len(trip))
    detour = np.maximum(instance.minimum[trip] * count, instance.rate[trip] * (length - instance.direct[trip]))
    cost = np.where(rule == RULE_DETOUR, detour, cost)
    to_store = instance.store_to_order[sequences].sum(axis=1)
    cost = np.where(rule == RULE_STORE_DISTANCE, instance.rate[trip] * to_store, cost)
    cost = np.where(rule == RULE_FIXED, instance.amount[trip] * count, cost)
    detours = np.maximum(0.0, length - instance.direct[trip])
    for row in np.flatnonzero((rule == RULE_REWARD) & feasible).tolist():
        cost[row] = instance.reward_cost(int(trip[row]), sequences[row].tolist(), float(detours[row]))
    if instance.acceptance is not None:
        cost = instance.acceptance.expected_cost(
            trip,
            cost,
            np.maximum(0.0, length - instance.direct[trip]),
            np.full(len(trip), count, dtype=np.int64),
            instance.size[sequences].sum(axis=1),
            instance.acceptance.decline_per_order[sequences].sum(axis=1),
        )
    priced: FloatArray = np.where(feasible, cost, np.inf)
    return priced


def _multi_order_bundles(
    instance: Instance, pairs: Pairs, multi: IntArray, skip: FloatArray, orders_per_trip: int
) -> Iterator[tuple[IntArray, IntArray, FloatArray]]:
    """Pairs and triples of each multi-order trip's most useful orders, in their best feasible sequence."""
    # a trip's bundle members: the orders it saves most on (skip cost minus riding alone), not the nearest
    benefit = skip[pairs.order[multi]] - pairs.cost[multi]
    chosen = np.sort(multi[_ranked(pairs.trip[multi], -benefit, orders_per_trip)])
    if len(chosen) == 0:
        return
    trip_of = pairs.trip[chosen]
    order_of = pairs.order[chosen]
    first = np.r_[0, np.flatnonzero(np.diff(trip_of)) + 1]
    sizes = np.diff(np.r_[first, len(chosen)])
    table = np.full((len(first), orders_per_trip), -1, dtype=np.int64)
    rows = np.repeat(np.arange(len(first)), sizes)
    table[rows, np.arange(len(chosen)) - np.repeat(first, sizes)] = order_of
    table_trip = trip_of[first]
    capacity = instance.capacity[table_trip]
    for size in (2, 3):
        combos = np.array(list(itertools.combinations(range(orders_per_trip), size)), dtype=np.int64)
        members = table[:, combos]  # (trips, combos, size)
        trip_grid = np.repeat(table_trip, len(combos))
        members = members.reshape(-1, size)
        valid = (members >= 0).all(axis=1) & (instance.max_orders[trip_grid] >= size)
        valid &= instance.size[np.where(members >= 0, members, 0)].sum(axis=1) <= np.repeat(capacity, len(combos)) * (
            1 + TOLERANCE
        )
        members, trip_grid = members[valid], trip_grid[valid]
        if len(members) == 0:
            continue
        best_cost = np.full(len(members), np.inf)
        best_sequence = members.copy()
        for permutation in itertools.permutations(range(size)):
            sequence = members[:, list(permutation)]
            cost = _price_sequences(instance, trip_grid, sequence)
            better = cost < best_cost
            best_cost = np.where(better, cost, best_cost)
            best_sequence[better] = sequence[better]
        saving = skip[members].sum(axis=1) - best_cost
        keep = np.isfinite(best_cost) & (saving > 0)
        padded = np.full((int(keep.sum()), 3), -1, dtype=np.int64)
        padded[:, :size] = best_sequence[keep]
        yield trip_grid[keep], padded, best_cost[keep]


def estimated_bundles(instance: Instance, pairs: Pairs, tuning: BundleTuning) -> int:
    """An upper bound on how many bundles `enumerate_bundles` makes from the candidate pairs alone (a warm
    plan adds its routes, at most one per trip)."""
    skip = instance.skip_cost()
    useful = pairs.cost < skip[pairs.order]
    singles = np.minimum(np.bincount(pairs.order[useful], minlength=instance.order_count), tuning.singles_per_order)
    feasible = np.isfinite(pairs.cost)
    members = np.minimum(np.bincount(pairs.trip[feasible], minlength=instance.trip_count), tuning.orders_per_trip)
    most = instance.max_orders
    pairs_of = np.where(most >= 2, members * (members - 1) // 2, 0)
    triples_of = np.where(most >= 3, members * (members - 1) * (members - 2) // 6, 0)
    return int(singles.sum() + pairs_of.sum() + triples_of.sum())


def enumerate_bundles(instance: Instance, pairs: Pairs, warm: Plan | None = None, *, tuning: BundleTuning) -> Bundles:
    """One-order bundles (each order's cheapest trips), the feasible pairs and triples of multi-order trips,
    and the routes of `warm` (so that the warm start is always a solution of the packing)."""
    skip = instance.skip_cost()
    useful = pairs.cost < skip[pairs.order]
    index = np.flatnonzero(useful)
    singles = index[_ranked(pairs.order[index], pairs.cost[index], tuning.singles_per_order)]
    trips = [pairs.trip[singles]]
    stops = [np.column_stack([pairs.order[singles], np.full((len(singles), 2), -1)])]
    costs = [pairs.cost[singles]]
    # Bundle members may be orders no trip would take alone: with a per-order base or minimum, two orders out
    # the same way can be worth carrying together when neither is alone (the ranking prefers useful ones).
    feasible = np.flatnonzero(np.isfinite(pairs.cost))
    multi = feasible[instance.max_orders[pairs.trip[feasible]] >= 2]
    for trip_part, stops_part, cost_part in _multi_order_bundles(instance, pairs, multi, skip, tuning.orders_per_trip):
        trips.append(trip_part)
        stops.append(stops_part)
        costs.append(cost_part)
    if warm is not None:
        for trip, route in warm.trip_routes.items():
            checked = instance.trip_route(trip, route) if len(route) <= 3 else None
            if checked is None:
                continue
            trips.append(np.array([trip], dtype=np.int64))
            stops.append(np.array([[*route, *([-1] * (3 - len(route)))]], dtype=np.int64))
            costs.append(np.array([checked.cost]))
    return Bundles(np.concatenate(trips), np.vstack(stops), np.concatenate(costs))


def _savings(instance: Instance, bundles: Bundles) -> FloatArray:
    """What each bundle saves against leaving its orders to their skip cost."""
    members = bundles.stops
    skip = instance.skip_cost()
    saving: FloatArray = np.where(members >= 0, skip[np.maximum(members, 0)], 0.0).sum(axis=1) - bundles.cost
    return saving


def greedy_packing(instance: Instance, bundles: Bundles, preference: FloatArray | None = None) -> Plan:
    """Bundles in order of `preference` (highest first), then of saving, each taken if it saves anything and
    its trip and orders are still free. With no preference, the most saving first: a plan in milliseconds
    (measured at 100 orders x 150 trips: 96 against the optimum's 73); with the LP relaxation's values as
    the preference, a rounding of the LP (73 there)."""
    saving = _savings(instance, bundles)
    ranked = np.argsort(-saving, kind="stable") if preference is None else np.lexsort((-saving, -preference))
    plan = Plan()
    taken_orders: set[int] = set()
    for b in ranked[saving[ranked] > 0].tolist():
        trip = int(bundles.trip[b])
        stops = [int(o) for o in bundles.stops[b] if o >= 0]
        if trip in plan.trip_routes or not taken_orders.isdisjoint(stops):
            continue
        plan.trip_routes[trip] = stops
        taken_orders.update(stops)
    return plan


@dataclass(frozen=True)
class Relaxed:
    plan: Plan
    """The LP solution rounded by `greedy_packing`."""
    bound: float | None
    """A lower bound on the cost of any packing of these bundles, when the LP was solved to optimality."""


def relaxed_packing(
    instance: Instance, bundles: Bundles, work: float, clock: WorkClock, *, tuning: BundleTuning
) -> Relaxed | None:
    """The set packing's LP relaxation by GLOP, rounded greedily; None if it does not fit in `work`.

    On store batches the relaxation is nearly integral (measured: 5 fractional bundles of 5 052 at 100
    orders x 150 trips, 27 of 19 387 at 300 x 500), so its rounding is within a fraction of a percent of the
    optimum, in a tenth of the time CP-SAT needs to find it; and its bound can prove the rounding optimal.
    """
    count = len(bundles.trip)
    charge = tuning.lp_seconds_per_bundle * count
    if count == 0 or charge > work:
        return None
    clock.charge(charge)
    entered = time.perf_counter()
    saving = _savings(instance, bundles)
    # rows: one per trip, then one per order; each bundle is in its trip's row and its orders' rows
    present = bundles.stops >= 0
    columns = np.arange(count)
    rows = np.r_[bundles.trip, instance.trip_count + bundles.stops[present]]
    owners = np.r_[columns, np.repeat(columns[:, None], 3, axis=1)[present]]
    row_count = instance.trip_count + instance.order_count
    matrix = sparse.csr_matrix((np.ones(len(rows)), (rows, owners)), shape=(row_count, count))
    # typed loosely: the binding's stubs spell its numpy parameters in a form mypy rejects
    model: Any = model_builder_helper.ModelBuilderHelper()
    model.fill_model_from_sparse_data(
        np.zeros(count), np.ones(count), saving.astype(np.float64), np.full(row_count, -np.inf),
        np.ones(row_count), matrix,
    )  # fmt: skip
    model.set_maximize(True)
    solver = model_builder_helper.ModelSolverHelper("glop")
    # a deterministic limit (a cut-short LP gives the same values every time), the wall clock as safety net
    solver.set_solver_specific_parameters(f"max_deterministic_time: {tuning.lp_deterministic_per_second * charge:.6f}")
    safety = max(0.001, clock.wall_left())
    solver.set_time_limit_in_seconds(safety)
    solver.solve(model)
    if time.perf_counter() - entered >= safety:
        clock.trip("bundles")
    clock.record("bundle LP", charge, time.perf_counter() - entered)
    if not solver.has_solution():
        return None
    values: FloatArray = np.asarray(solver.variable_values(), dtype=np.float64).round(6)
    optimal = solver.status() == model_builder_helper.SolveStatus.OPTIMAL
    bound = float(instance.skip_cost().sum() - solver.objective_value()) if optimal else None
    if bound is not None and not math.isfinite(bound):
        bound = None
    return Relaxed(greedy_packing(instance, bundles, values), bound)


def choose_bundles(  # noqa: PLR0912, PLR0915 -- one model, built top to bottom
    instance: Instance,
    bundles: Bundles,
    warm: Plan,
    work: float,
    clock: WorkClock,
    seed: int,
    *,
    tuning: BundleTuning,
) -> Plan | None:
    """The set packing over `bundles` by CP-SAT with `work` seconds of budget; None if nothing found."""
    if len(bundles.trip) == 0 or work < tuning.min_cp_sat_seconds:
        return None
    entered = time.perf_counter()
    members = bundles.stops
    saving = _savings(instance, bundles)
    # a model has to be built before it can be stopped: keep the most saving bundles that fit the time
    affordable = max(tuning.min_kept_bundles, int(tuning.model_share * work / tuning.seconds_per_bundle))
    if len(saving) > affordable:
        warm_sets = {(t, frozenset(s)) for t, s in warm.trip_routes.items()}
        is_warm = np.array(
            [
                (t, frozenset(o for o in row if o >= 0)) in warm_sets
                for t, row in zip(bundles.trip.tolist(), members.tolist(), strict=True)
            ]
        )
        keep = np.sort(np.unique(np.r_[np.argsort(-saving)[:affordable], np.flatnonzero(is_warm)]))
        bundles = Bundles(bundles.trip[keep], members[keep], bundles.cost[keep])
        members, saving = bundles.stops, saving[keep]
    scale = 1e6 / max(1e-9, float(np.abs(saving).max()))
    weights = np.rint(saving * scale).astype(np.int64)
    model = cp_model.CpModel()
    chosen = [model.new_bool_var(f"b{b}") for b in range(len(weights))]
    by_trip: dict[int, list[int]] = {}
    for b, trip in enumerate(bundles.trip.tolist()):
        by_trip.setdefault(trip, []).append(b)
    by_order: dict[int, list[int]] = {}
    flat = members.reshape(-1)
    owners = np.repeat(np.arange(len(members)), 3)
    present = flat >= 0
    for order, b in zip(flat[present].tolist(), owners[present].tolist(), strict=True):
        by_order.setdefault(order, []).append(b)
    for group in (*by_trip.values(), *by_order.values()):
        if len(group) > 1:
            model.add_at_most_one(chosen[b] for b in group)
    model.maximize(cp_model.LinearExpr.weighted_sum(chosen, weights.tolist()))
    warm_sets = {(t, frozenset(s)) for t, s in warm.trip_routes.items()}
    for b, (trip, row) in enumerate(zip(bundles.trip.tolist(), members.tolist(), strict=True)):
        model.add_hint(chosen[b], (trip, frozenset(o for o in row if o >= 0)) in warm_sets)
    solver = cp_model.CpSolver()
    # the model building above is part of the work: CP-SAT gets what is left of it, in deterministic time
    building = tuning.build_seconds_per_bundle * len(weights)
    held_back = tuning.min_cp_sat_seconds
    solver.parameters.max_deterministic_time = max(
        0.005, tuning.deterministic_per_second * (work - building - held_back)
    )
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    safety = max(0.01, clock.wall_left())
    solver.parameters.max_time_in_seconds = safety
    # A plain set packing: heavy presolve (probing, symmetry) costs more time than it saves.
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.symmetry_level = 0
    solver.parameters.max_presolve_iterations = 1
    # the time limit is not checked at once everywhere (presolve): a timer stops the search at the deadline
    stopped: list[bool] = []

    def stop() -> None:
        stopped.append(True)
        solver.stop_search()

    timer = threading.Timer(max(0.0, 0.95 * safety), stop)
    timer.start()
    try:
        status = solver.solve(model)
    finally:
        timer.cancel()
    if stopped or solver.wall_time >= 0.98 * safety:
        clock.trip("bundles")
    if status == cp_model.OPTIMAL:  # proved early: the deterministic time it used is what it cost
        work = min(work, building + held_back + solver.deterministic_time / tuning.deterministic_per_second)
    clock.charge(work)
    clock.record("bundles", work, time.perf_counter() - entered)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    plan = Plan()
    for b in range(len(chosen)):
        if solver.boolean_value(chosen[b]):
            plan.trip_routes[int(bundles.trip[b])] = [int(o) for o in members[b] if o >= 0]
    return plan
