"""The route pool's recombination: the cheapest set partitioning of the routes ruin and recreate went through."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from dispatch.matching.budget import WorkClock
from dispatch.matching.instance import FloatArray, IntArray
from dispatch.matching.route_pool import RoutePool, recombine
from dispatch.matching.tuning import DEFAULT_TUNING


@dataclass
class _Search:
    count: int
    trip_count: int
    skip: FloatArray
    vehicles: float = math.inf
    trip_options: list[IntArray] = field(default_factory=list)
    trip_costs: list[FloatArray] = field(default_factory=list)


def _clock() -> WorkClock:
    return WorkClock(safety_deadline=time.perf_counter() + 60)


def _no_trips(count: int, skip: float = math.inf, vehicles: float = math.inf) -> _Search:
    empty_trips = [np.zeros(0, dtype=np.int64)] * count
    return _Search(count, 0, np.full(count, skip), vehicles, empty_trips, [np.zeros(0)] * count)


def test_a_route_keeps_its_cheapest_sequence_and_the_pool_stops_at_its_limit() -> None:
    pool = RoutePool(limit=2)
    pool.add([0, 1], 10.0)
    pool.add([1, 0], 9.0)
    pool.add([2], 4.0)
    pool.add([3], 1.0)  # the pool is full: a new set of orders is not taken
    assert pool.routes == {frozenset({0, 1}): (9.0, [1, 0]), frozenset({2}): (4.0, [2])}


def test_combines_routes_from_different_plans_into_a_cheaper_one() -> None:
    """The best plan so far is {0,1}+{2,3}; the pool also holds {0,1,2} and {3}, cheaper together."""
    pool = RoutePool(limit=100)
    for route, cost in (([0, 1], 5.0), ([2, 3], 5.0), ([0, 1, 2], 6.0), ([3], 3.0), ([0], 2.0)):
        pool.add(route, cost)
    search = _no_trips(4)
    found = recombine(search, pool, [[0, 1], [2, 3]], np.full(4, -1), 1.0, _clock(), 0, DEFAULT_TUNING.ruin_recreate)
    assert found is not None
    routes, trip_of = found
    assert sorted(sorted(r) for r in routes) == [[0, 1, 2], [3]]
    assert (trip_of == -1).all()


def test_a_trip_takes_at_most_one_order_and_fallbacks_and_the_vehicle_limit_count() -> None:
    """One trip wants both orders (cost 1 each) but takes one; the other goes alone by fleet (cost 4) unless
    that vehicle is not there, when its fallback (6) is paid instead."""
    pool = RoutePool(limit=100)
    pool.add([0], 4.0)
    pool.add([1], 4.0)
    trip_options = [np.array([0], dtype=np.int64), np.array([0], dtype=np.int64)]
    costs = [np.array([1.0]), np.array([1.0])]
    with_fleet = _Search(2, 1, np.full(2, 6.0), math.inf, trip_options, costs)
    tuning = DEFAULT_TUNING.ruin_recreate
    found = recombine(with_fleet, pool, [[0], [1]], np.full(2, -1), 1.0, _clock(), 0, tuning)
    assert found is not None
    routes, trip_of = found
    assert len(routes) == 1
    assert sorted(trip_of.tolist()) == [-1, 0]
    no_vehicle = _Search(2, 1, np.full(2, 6.0), 0, trip_options, costs)
    found = recombine(no_vehicle, pool, [[0], [1]], np.full(2, -1), 1.0, _clock(), 0, tuning)
    assert found is not None
    routes, trip_of = found
    assert routes == []
    assert sorted(trip_of.tolist()) == [-1, 0]


def test_no_time_left_for_the_model_means_no_answer() -> None:
    pool = RoutePool(limit=100)
    pool.add([0], 1.0)
    assert recombine(_no_trips(1), pool, [[0]], np.full(1, -1), 0.0, _clock(), 0, DEFAULT_TUNING.ruin_recreate) is None
