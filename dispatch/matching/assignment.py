"""The always-available plan: each order to at most one trip (one order per trip), exactly.

A rectangular linear assignment over a sparse matrix: a row per order, a column per trip plus one "skip"
column per order at its skip cost, solved by scipy's LAPJVsp (Jonker-Volgenant for sparse graphs). With one
order per trip this is the whole problem when there is no fleet, and the optimum; otherwise it is the
starting plan. Measured against OR-Tools' min-cost flow (integer costs scaled by 2^40): the same
assignments, 0.147 s instead of 0.385 s at 5 000 orders x 10 000 trips (77 000 pairs) and 0.03 s instead
of 0.063 s (dense Jonker-Volgenant) at 1 000 x 2 000 (486 000 pairs); and it keeps the costs in floating point.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from crowdship.errors import DomainError
from dispatch.matching.instance import FloatArray, IntArray


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
    skipping = np.flatnonzero(np.isfinite(skip_cost))
    if len(pair_trip) == 0:
        if len(skipping) < order_count:
            raise NoFeasibleMatch(f"order index {int(np.flatnonzero(~np.isfinite(skip_cost))[0])} cannot be served")
        return assignment
    rows = np.concatenate([pair_order, skipping])
    columns = np.concatenate([pair_trip, trip_count + skipping])
    costs = np.concatenate([pair_cost, skip_cost[skipping]])
    # Every order takes exactly one edge, so a common shift leaves the optimum where it is; it keeps every
    # weight above zero, which the sparse matrix would otherwise drop as "no edge".
    costs = costs + (1.0 - min(0.0, float(costs.min())))
    matrix = csr_matrix((costs, (rows, columns)), shape=(order_count, trip_count + order_count))
    try:
        chosen_rows, chosen_columns = min_weight_full_bipartite_matching(matrix)
    except ValueError as error:  # no matching covers every order: one that must be served cannot be
        raise NoFeasibleMatch("some order that must be served can go neither to a trip nor to the fleet") from error
    on_trip = chosen_columns < trip_count
    assignment[chosen_rows[on_trip]] = chosen_columns[on_trip]
    return assignment
