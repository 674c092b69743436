"""The solver's arrays and candidate pairs: the huge-batch pruning keeps every order reachable."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from matching_builders import problem_json

from dispatch.matching import parse_problem
from dispatch.matching.instance import build_instance
from dispatch.matching.pairs import find_pairs
from dispatch.matching.tuning import DEFAULT_TUNING

PAIRS = DEFAULT_TUNING.pairs
HUGE_BATCH = replace(PAIRS, chunked_pruning_cells=0)
"""Prunes any batch as a huge one would."""


def _crowded_ways_home() -> dict[str, object]:
    """Forty orders along the road east, thirty drivers going that way: each driver passes them all."""
    orders = [{"id": f"o{i}", "location": [1.0 + 0.2 * i, 0.05 * (i % 4)], "fallback_cost": 9.0} for i in range(40)]
    trips = [
        {"id": f"d{k}", "destination": [10.0 + 0.1 * k, 0.2 * (k % 3)], "max_orders": 1, "max_detour_ratio": 1.3}
        for k in range(30)
    ]
    return problem_json(orders, trips)


def test_a_huge_batch_gives_each_order_no_trip_kept_trips_of_its_own() -> None:
    """Each trip of a huge batch keeps only its closest orders; an order none kept is searched for again,
    so every order that can ride along somewhere still has candidate trips, each a true pair."""
    instance = build_instance(parse_problem(_crowded_ways_home()))
    every_pair = find_pairs(instance, tuning=PAIRS)
    assert set(every_pair.order.tolist()) == set(range(instance.order_count))
    huge = find_pairs(instance, tuning=HUGE_BATCH)
    assert len(huge.trip) < len(every_pair.trip) // 2
    assert set(huge.order.tolist()) == set(range(instance.order_count))
    keys = huge.trip * instance.order_count + huge.order
    assert np.all(np.diff(keys) > 0)  # sorted by trip, then order, each pair once
    full_keys = every_pair.trip * instance.order_count + every_pair.order
    position = np.searchsorted(full_keys, keys)
    assert np.array_equal(full_keys[position], keys)
    np.testing.assert_allclose(huge.cost, every_pair.cost[position])
    np.testing.assert_allclose(huge.length, every_pair.length[position])


def test_a_huge_batch_past_its_pruning_deadline_says_so_and_keeps_what_it_found() -> None:
    """A deadline already past: the first block of trips is still pruned (a plan needs pairs), the rest is
    left out, and the caller is told the pairs are incomplete."""
    instance = build_instance(parse_problem(_crowded_ways_home()))
    every_pair = find_pairs(instance, tuning=PAIRS)
    cut, complete = find_pairs(instance, stop_at=0.0, tuning=HUGE_BATCH, report_complete=True)
    assert complete is False
    assert 0 < len(cut.trip) < len(every_pair.trip)
    keys = cut.trip * instance.order_count + cut.order
    assert np.all(np.diff(keys) > 0)
    full_keys = every_pair.trip * instance.order_count + every_pair.order
    assert np.isin(keys, full_keys).all()
