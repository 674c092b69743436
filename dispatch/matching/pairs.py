"""Candidate (trip, order) pairs: who could carry whom at all, priced for one order alone.

The geometric pruning is `routing.pruning`'s; here its answer is intersected with the trips' explicit
candidate lists and priced by each trip's compensation rule. A huge batch is pruned block by block of trips
with narrowed route limits, so that it stays within its share of the time and every order that can ride
along somewhere keeps a few candidate trips.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np

from dispatch.matching.instance import (
    RULE_DETOUR,
    RULE_FIXED,
    RULE_REWARD,
    RULE_STORE_DISTANCE,
    BoolArray,
    FloatArray,
    Instance,
    IntArray,
)
from dispatch.matching.tuning import PairTuning
from routing.pruning import PruningProblem, candidate_pairs


@dataclass(frozen=True)
class Pairs:
    """Candidate (trip, order) pairs with the cost of the one-order route; sorted by trip, then order."""

    trip: IntArray
    order: IntArray
    length: FloatArray
    detour: FloatArray
    cost: FloatArray


def pruning_problem(
    instance: Instance,
    trips: IntArray | None = None,
    route_limits: FloatArray | None = None,
    orders: IntArray | None = None,
) -> PruningProblem:
    """The contract's input for the pruning, over all trips and orders or the given ones."""
    problem = instance.problem
    chosen = np.arange(instance.trip_count) if trips is None else trips
    among = np.arange(instance.order_count) if orders is None else orders
    return PruningProblem(
        metric=problem.metric,
        road_factor=problem.road_factor,
        speed=problem.speed,
        store=instance.store,
        order_locations=instance.order_xy[among],
        order_sizes=instance.size[among],
        order_values=np.array(
            [np.nan if o.value_cents is None else o.value_cents for o in problem.orders], dtype=np.float64
        )[among],
        order_requires_id=np.array([o.requires_id_check for o in problem.orders], dtype=np.bool_)[among],
        order_latest=instance.latest[among],
        trip_destinations=instance.destination_xy[chosen],
        trip_route_limits=instance.route_limit[chosen] if route_limits is None else route_limits,
        trip_capacities=instance.capacity[chosen],
        trip_id_verified=np.array([t.id_verified for t in problem.trips], dtype=np.bool_)[chosen],
        trip_value_limits=np.array(
            [np.inf if t.value_limit_cents is None else t.value_limit_cents for t in problem.trips],
            dtype=np.float64,
        )[chosen],
        trip_departs=instance.depart[chosen],
    )


def _closest_per_trip(trip: IntArray, detour: FloatArray, count: int) -> IntArray:
    """Indices (kept in their trip-then-order sequence) of each trip's `count` smallest detours."""
    by_trip = np.lexsort((detour, trip))
    sorted_trip = trip[by_trip]
    first = np.r_[0, np.flatnonzero(np.diff(sorted_trip)) + 1] if len(trip) else np.zeros(0, dtype=np.int64)
    rank = np.arange(len(trip)) - np.repeat(first, np.diff(np.r_[first, len(trip)]))
    return np.sort(by_trip[rank < count])


def _huge_batch_pairs(
    instance: Instance, stop_at: float | None, max_pairs: int | None, tuning: PairTuning
) -> tuple[IntArray, IntArray, FloatArray, FloatArray, bool]:
    """Pairs of a huge batch: trips pruned block by block with narrowed limits, within the time given."""
    # A huge batch: prune in blocks of trips with each trip's route limit narrowed to direct + slack,
    # the slack tuned block by block so that a trip finds about `huge_batch_orders_per_trip` orders. The
    # narrow ellipses hold the smallest detours, are cheap to search, and every pair is still feasible.
    block = max(1, tuning.chunked_pruning_cells // (4 * instance.order_count))
    slack = tuning.first_slack_share * float(np.median(instance.direct)) + 1e-9
    parts: list[tuple[IntArray, IntArray, FloatArray, FloatArray]] = []
    start = 0
    complete = True
    while start < instance.trip_count:
        if parts and stop_at is not None and time.perf_counter() > stop_at:
            complete = False
            break
        if parts and max_pairs is not None and sum(len(p[0]) for p in parts) >= max_pairs:
            break
        # a small first block calibrates the slack; later blocks are larger, as each call has a fixed cost
        size = block if not parts else tuning.later_block_factor * block
        trips = np.arange(start, min(start + size, instance.trip_count), dtype=np.int64)
        start += size
        narrowed = np.minimum(instance.route_limit[trips], instance.direct[trips] + slack)
        found = candidate_pairs(pruning_problem(instance, trips, narrowed))
        local_trip = np.asarray(found.trip_index, dtype=np.int64)
        per_trip = max(0.5, len(local_trip) / len(trips))
        slack *= float(np.clip((tuning.huge_batch_orders_per_trip / per_trip) ** 2, *tuning.slack_step_bounds))
        detours = np.asarray(found.detour, dtype=np.float64)
        # a huge batch: each trip keeps the orders it passes closest to (the cheapest under any rule
        # that grows with the detour), enough for its max_orders several times over
        closest = _closest_per_trip(local_trip, detours, tuning.huge_batch_orders_per_trip)
        parts.append(
            (
                trips[local_trip[closest]],
                np.asarray(found.order_index, dtype=np.int64)[closest],
                np.asarray(found.route_length, dtype=np.float64)[closest],
                detours[closest],
            )
        )
    if complete and (stop_at is None or time.perf_counter() < stop_at):
        complete = _pairs_for_passed_over_orders(instance, parts, slack, stop_at, tuning)
    trip, order, route_length, detour = (np.concatenate(column) for column in zip(*parts, strict=True))
    by_trip = np.lexsort((order, trip))
    return trip[by_trip], order[by_trip], route_length[by_trip], detour[by_trip], complete


def _pairs_for_passed_over_orders(
    instance: Instance, parts: list[tuple[IntArray, IntArray, FloatArray, FloatArray]], slack: float,
    stop_at: float | None, tuning: PairTuning,
) -> bool:  # fmt: skip
    """Each order left without a pair by the trips' own choice gets its closest trips, searching over those
    orders alone with wider and wider limits, block of trips by block (appended to `parts`); False if
    `stop_at` cut it short."""
    covered = np.zeros(instance.order_count, dtype=np.bool_)
    for part in parts:
        covered[part[1]] = True
    for _ in range(tuning.passed_over_rounds):
        slack *= tuning.passed_over_widening
        lonely = np.flatnonzero(~covered)
        if len(lonely) == 0:
            return True
        block = max(1, tuning.chunked_pruning_cells // len(lonely))
        found: list[tuple[IntArray, IntArray, FloatArray, FloatArray]] = []
        for start in range(0, instance.trip_count, block):
            if stop_at is not None and time.perf_counter() > stop_at:
                _keep_closest_per_order(found, lonely, parts, covered, tuning.huge_batch_trips_per_order)
                return False
            trips = np.arange(start, min(start + block, instance.trip_count), dtype=np.int64)
            narrowed = np.minimum(instance.route_limit[trips], instance.direct[trips] + slack)
            pairs = candidate_pairs(pruning_problem(instance, trips, narrowed, orders=lonely))
            found.append(
                (
                    trips[np.asarray(pairs.trip_index, dtype=np.int64)],
                    np.asarray(pairs.order_index, dtype=np.int64),
                    np.asarray(pairs.route_length, dtype=np.float64),
                    np.asarray(pairs.detour, dtype=np.float64),
                )
            )
        _keep_closest_per_order(found, lonely, parts, covered, tuning.huge_batch_trips_per_order)
    return True


def _keep_closest_per_order(
    found: list[tuple[IntArray, IntArray, FloatArray, FloatArray]],
    lonely: IntArray,
    parts: list[tuple[IntArray, IntArray, FloatArray, FloatArray]],
    covered: BoolArray,
    per_order: int,
) -> None:
    """Each of `lonely` (local indices in `found`) keeps its `per_order` smallest detours."""
    if not found:
        return
    trip, local_order, length, detour = (np.concatenate(column) for column in zip(*found, strict=True))
    closest = _closest_per_trip(local_order, detour, per_order)  # grouped by order here
    orders = lonely[local_order[closest]]
    parts.append((trip[closest], orders, length[closest], detour[closest]))
    covered[orders] = True


@overload
def find_pairs(
    instance: Instance,
    stop_at: float | None = ...,
    max_pairs: int | None = ...,
    *,
    tuning: PairTuning,
    report_complete: Literal[False] = ...,
) -> Pairs: ...


@overload
def find_pairs(
    instance: Instance,
    stop_at: float | None = ...,
    max_pairs: int | None = ...,
    *,
    tuning: PairTuning,
    report_complete: Literal[True],
) -> tuple[Pairs, bool]: ...


def find_pairs(
    instance: Instance,
    stop_at: float | None = None,
    max_pairs: int | None = None,
    *,
    tuning: PairTuning,
    report_complete: bool = False,
) -> Pairs | tuple[Pairs, bool]:
    """Pruned pairs (routing.pruning), intersected with explicit candidate lists, priced for one order.

    On a very large batch the trips are pruned block by block; past `stop_at` (perf_counter seconds) the
    remaining trips are left out of this batch, so that a huge input cannot eat the whole time limit; the
    same once `max_pairs` pairs are found (what the assignment can solve in the time). `max_pairs` is the
    deterministic budget; `stop_at` a safety net, and `report_complete` also returns whether it did not fire.
    """
    if instance.order_count == 0 or instance.trip_count == 0:
        empty = np.zeros(0, dtype=np.int64)
        nothing = Pairs(empty, empty, np.zeros(0), np.zeros(0), np.zeros(0))
        return (nothing, True) if report_complete else nothing
    complete = True
    if instance.order_count * instance.trip_count <= tuning.chunked_pruning_cells:
        found = candidate_pairs(pruning_problem(instance))
        trip = np.asarray(found.trip_index, dtype=np.int64)
        order = np.asarray(found.order_index, dtype=np.int64)
        route_length = np.asarray(found.route_length, dtype=np.float64)
        found_detour = np.asarray(found.detour, dtype=np.float64)
    else:
        trip, order, route_length, found_detour, complete = _huge_batch_pairs(instance, stop_at, max_pairs, tuning)
    keep = instance.max_orders[trip] >= 1
    explicit_cost = np.full(len(trip), np.nan)
    restricted = [t for t, listed in enumerate(instance.explicit) if listed is not None]
    if restricted:
        listed_mask = np.zeros(len(trip), dtype=np.bool_)
        restricted_trip = np.zeros(instance.trip_count, dtype=np.bool_)
        restricted_trip[restricted] = True
        for t in restricted:
            listed = instance.explicit[t]
            assert listed is not None
            lo, hi = np.searchsorted(trip, [t, t + 1])
            if hi == lo or not listed:
                continue
            ids = np.array(sorted(listed), dtype=np.int64)
            costs = np.array([listed[i] for i in ids.tolist()], dtype=np.float64)
            position = np.clip(np.searchsorted(ids, order[lo:hi]), 0, len(ids) - 1)
            hit = ids[position] == order[lo:hi]
            listed_mask[lo:hi] = hit
            explicit_cost[lo:hi] = np.where(hit, costs[position], np.nan)
        keep &= listed_mask | ~restricted_trip[trip]
    trip, order = trip[keep], order[keep]
    length = route_length[keep]
    detour = found_detour[keep]
    explicit_cost = explicit_cost[keep]
    rule = instance.rule[trip]
    cost = np.zeros(len(trip))
    cost = np.where(rule == RULE_DETOUR, np.maximum(instance.minimum[trip], instance.rate[trip] * detour), cost)
    cost = np.where(rule == RULE_STORE_DISTANCE, instance.rate[trip] * instance.store_to_order[order], cost)
    cost = np.where(rule == RULE_FIXED, instance.amount[trip], cost)
    for row in np.flatnonzero(rule == RULE_REWARD).tolist():
        cost[row] = instance.reward_cost(int(trip[row]), [int(order[row])], float(detour[row]))
    cost = np.where(np.isnan(explicit_cost), cost, explicit_cost)
    if instance.acceptance is not None:
        cost = instance.acceptance.expected_cost(
            trip,
            cost,
            np.maximum(0.0, detour),
            np.ones(len(trip), dtype=np.int64),
            instance.size[order],
            instance.acceptance.decline_per_order[order],
        )
    pairs = Pairs(trip, order, length, detour, cost)
    return (pairs, complete) if report_complete else pairs
