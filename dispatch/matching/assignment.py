"""The always-available plan: each order to at most one trip (one order per trip), exactly, by min-cost flow.

source → order (1) → trip (1) → sink, plus order → sink at the order's skip cost. With one order per trip
this is the whole problem when there is no fleet, and the optimum; otherwise it is the starting plan.
Costs are scaled to integers with ~12 significant digits, so ties aside the float optimum is kept.
"""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow
from scipy.optimize import linear_sum_assignment

from crowdship.errors import DomainError
from dispatch.matching.instance import FloatArray, IntArray

_DENSE_LIMIT = 6_000_000
"""Up to this many cells the dense Jonker-Volgenant solver (scipy) is faster than min-cost flow."""


class NoFeasibleMatch(DomainError):
    """Some order must be served (no fallback cost, a fleet exists) and nothing can serve it."""

    kind = "invalid"


def assign_one_per_trip(
    order_count: int,
    trip_count: int,
    pair_trip: IntArray,
    pair_order: IntArray,
    pair_cost: FloatArray,
    skip_cost: FloatArray,
) -> IntArray:
    """For each order the trip it goes to, or -1; minimises Σ pair cost + Σ skip cost of the rest.

    `skip_cost` inf means the order must go to a trip.
    """
    assignment = np.full(order_count, -1, dtype=np.int64)
    if order_count == 0:
        return assignment
    useful = pair_cost < skip_cost[pair_order]
    pair_trip, pair_order, pair_cost = pair_trip[useful], pair_order[useful], pair_cost[useful]
    finite_skip = np.isfinite(skip_cost)
    if len(pair_trip) == 0:
        if not finite_skip.all():
            raise NoFeasibleMatch(f"order index {int(np.flatnonzero(~finite_skip)[0])} cannot be served")
        return assignment
    if order_count * (trip_count + order_count) <= _DENSE_LIMIT:
        return _assign_dense(order_count, trip_count, pair_trip, pair_order, pair_cost, skip_cost)
    scale_base = max(1.0, float(np.max(pair_cost, initial=0.0)), float(np.max(skip_cost[finite_skip], initial=0.0)))
    scale = 2.0**40 / scale_base
    source, sink = 0, order_count + trip_count + 1
    order_node = 1 + np.arange(order_count, dtype=np.int64)
    trip_node = 1 + order_count + np.arange(trip_count, dtype=np.int64)
    skipping = np.flatnonzero(finite_skip)
    tails = np.concatenate(
        [np.zeros(order_count, dtype=np.int64), order_node[pair_order], order_node[skipping], trip_node]
    )
    heads = np.concatenate(
        [order_node, trip_node[pair_trip], np.full(len(skipping), sink, dtype=np.int64), np.full(trip_count, sink)]
    )
    costs = np.concatenate(
        [
            np.zeros(order_count, dtype=np.int64),
            np.rint(pair_cost * scale).astype(np.int64),
            np.rint(skip_cost[skipping] * scale).astype(np.int64),
            np.zeros(trip_count, dtype=np.int64),
        ]
    )
    flow = min_cost_flow.SimpleMinCostFlow()
    first_pair_arc = order_count
    flow.add_arcs_with_capacity_and_unit_cost(tails, heads, np.ones(len(tails), dtype=np.int64), costs)
    flow.set_node_supply(source, order_count)
    flow.set_node_supply(sink, -order_count)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise NoFeasibleMatch("some order that must be served can go neither to a trip nor to the fleet")
    pair_flows = flow.flows(np.arange(first_pair_arc, first_pair_arc + len(pair_trip), dtype=np.int64))
    chosen = np.flatnonzero(pair_flows > 0)
    assignment[pair_order[chosen]] = pair_trip[chosen]
    return assignment


def _assign_dense(
    order_count: int,
    trip_count: int,
    pair_trip: IntArray,
    pair_order: IntArray,
    pair_cost: FloatArray,
    skip_cost: FloatArray,
) -> IntArray:
    """The same assignment as a rectangular linear assignment: trips, then one skip column per order."""
    finite = np.isfinite(skip_cost)
    largest = max(float(np.max(pair_cost, initial=0.0)), float(np.max(skip_cost[finite], initial=0.0)))
    forbidden = (largest + 1.0) * (order_count + 1)  # dearer than any whole feasible assignment
    cost = np.full((order_count, trip_count + order_count), forbidden)
    cost[pair_order, pair_trip] = pair_cost
    rows = np.arange(order_count)
    cost[rows, trip_count + rows] = np.where(finite, skip_cost, forbidden)
    chosen_rows, chosen_columns = linear_sum_assignment(cost)
    if (cost[chosen_rows, chosen_columns] >= forbidden).any():
        raise NoFeasibleMatch("some order that must be served can go neither to a trip nor to the fleet")
    assignment = np.full(order_count, -1, dtype=np.int64)
    on_trip = chosen_columns < trip_count
    assignment[chosen_rows[on_trip]] = chosen_columns[on_trip]
    return assignment
