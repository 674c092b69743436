"""One order per trip: the exact assignment against every assignment there is, on small problems."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.matching.assignment import NoFeasibleMatch, assign_one_per_trip


def _cost(choice: tuple[int, ...], prices: dict[tuple[int, int], float], skip: np.ndarray) -> float:
    return sum(float(skip[o]) if t < 0 else prices[(o, t)] for o, t in enumerate(choice))


@st.composite
def small_assignments(draw: st.DrawFn) -> tuple[int, int, dict[tuple[int, int], float], np.ndarray]:
    orders, trips = draw(st.integers(1, 5)), draw(st.integers(0, 4))
    cells = [(o, t) for o in range(orders) for t in range(trips)]
    chosen = draw(st.lists(st.sampled_from(cells), unique=True)) if cells else []
    price = st.sampled_from([0.0, 0.5, 1.0, 2.5, 4.0, 7.25])
    prices = {cell: draw(price) for cell in chosen}
    skip = np.array([draw(st.sampled_from([0.0, 1.0, 3.0, 6.0, math.inf])) for _ in range(orders)])
    return orders, trips, prices, skip


@settings(max_examples=300, deadline=None)
@given(small_assignments())
def test_the_assignment_is_the_cheapest_of_all_or_none_exists(
    problem: tuple[int, int, dict[tuple[int, int], float], np.ndarray],
) -> None:
    """Zero prices, must-serve orders (infinite skip) and orders without a trip included."""
    orders, trips, prices, skip = problem
    options = [[-1, *(t for t in range(trips) if (o, t) in prices)] for o in range(orders)]
    feasible = [
        choice
        for choice in itertools.product(*options)
        if len([t for t in choice if t >= 0]) == len({t for t in choice if t >= 0})
        and math.isfinite(_cost(choice, prices, skip))
    ]
    cells = sorted(prices)
    pair_order = np.array([o for o, _ in cells], dtype=np.int64)
    pair_trip = np.array([t for _, t in cells], dtype=np.int64)
    pair_cost = np.array([prices[c] for c in cells])
    if not feasible:
        with pytest.raises(NoFeasibleMatch):
            assign_one_per_trip(orders, trips, pair_trip, pair_order, pair_cost, skip)
        return
    found = assign_one_per_trip(orders, trips, pair_trip, pair_order, pair_cost, skip)
    taken = [int(t) for t in found if t >= 0]
    assert len(taken) == len(set(taken))
    assert all(t < 0 or (o, int(t)) in prices for o, t in enumerate(found.tolist()))
    best = min(_cost(choice, prices, skip) for choice in feasible)
    assert _cost(tuple(found.tolist()), prices, skip) == pytest.approx(best)
