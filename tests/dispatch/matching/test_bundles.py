"""Bundles: the greedy packing, the LP relaxation's rounding and bound, that CP-SAT starts from."""

from __future__ import annotations

import itertools
import math
import time
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from matching_builders import problem_json, small_problems

from dispatch.matching import parse_problem
from dispatch.matching.budget import WorkClock
from dispatch.matching.bundles import (
    _price_sequences,
    choose_bundles,
    enumerate_bundles,
    estimated_bundles,
    greedy_packing,
    relaxed_packing,
)
from dispatch.matching.initial_plan import initial_plan
from dispatch.matching.instance import Instance, build_instance
from dispatch.matching.pairs import find_pairs
from dispatch.matching.plan import Plan, plan_cost_exact
from dispatch.matching.tuning import DEFAULT_TUNING

BUNDLES = DEFAULT_TUNING.bundles


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_problems(max_orders=6, max_trips=4))
def test_greedy_packing_is_feasible_and_never_dearer_than_the_fallback(data: dict[str, Any]) -> None:
    instance = _without_fleet(data)
    pairs = find_pairs(instance, tuning=DEFAULT_TUNING.pairs)
    plan = greedy_packing(instance, enumerate_bundles(instance, pairs, tuning=BUNDLES))
    served = [o for stops in plan.trip_routes.values() for o in stops]
    assert len(served) == len(set(served))
    assert plan_cost_exact(instance, plan) <= plan_cost_exact(instance, Plan()) + 1e-9


def test_greedy_packing_puts_neighbours_on_the_trip_that_passes_them() -> None:
    """Three orders beside one driver's way home: one bundle of three beats three one-order plans."""
    orders = [{"id": f"o{i}", "location": [float(3 * i + 2), 0.5], "fallback_cost": 10.0} for i in range(3)]
    trips = [
        {"id": "home", "destination": [12.0, 0.0], "max_orders": 3, "compensation": {"rule": "detour", "rate": 1}},
        {"id": "away", "destination": [0.0, 12.0], "max_orders": 1, "compensation": {"rule": "fixed", "amount": 6}},
    ]
    instance = build_instance(parse_problem(problem_json(orders, trips)))
    pairs = find_pairs(instance, tuning=DEFAULT_TUNING.pairs)
    one_each = initial_plan(
        instance, pairs, WorkClock(safety_deadline=time.perf_counter() + 10), 1.0, tuning=DEFAULT_TUNING
    )
    greedy = greedy_packing(instance, enumerate_bundles(instance, pairs, tuning=BUNDLES))
    assert greedy.trip_routes == {0: [0, 1, 2]}
    assert plan_cost_exact(instance, greedy) < plan_cost_exact(instance, one_each)
    detour = math.hypot(2.0, 0.5) + 6.0 + math.hypot(4.0, 0.5) - 12.0
    assert plan_cost_exact(instance, greedy) == pytest.approx(detour)


def _without_fleet(data: dict[str, Any]) -> Instance:
    """The problem with no fleet and a fallback cost for every order: the shape the bundles serve."""
    data["fleet"] = None
    for order in data["orders"]:
        order.setdefault("fallback_cost", 9.0)
    return build_instance(parse_problem(data))


def _clock() -> WorkClock:
    return WorkClock(safety_deadline=time.perf_counter() + 60)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_problems(max_orders=6, max_trips=4))
def test_the_relaxation_bounds_the_optimal_packing_and_rounds_to_a_packing(data: dict[str, Any]) -> None:
    """LP bound <= CP-SAT's proven optimum over the same bundles <= the LP's rounding, a conflict-free plan."""
    instance = _without_fleet(data)
    pairs = find_pairs(instance, tuning=DEFAULT_TUNING.pairs)
    bundles = enumerate_bundles(instance, pairs, tuning=BUNDLES)
    assert estimated_bundles(instance, pairs, BUNDLES) >= len(bundles.trip)  # the solver's gate relies on it
    relaxed = relaxed_packing(instance, bundles, work=10.0, clock=_clock(), tuning=BUNDLES)
    if len(bundles.trip) == 0:
        assert relaxed is None
        return
    assert relaxed is not None
    served = [o for stops in relaxed.plan.trip_routes.values() for o in stops]
    assert len(served) == len(set(served))
    rounded = plan_cost_exact(instance, relaxed.plan)
    assert rounded <= plan_cost_exact(instance, Plan()) + 1e-9
    optimum = choose_bundles(instance, bundles, Plan(), 5.0, _clock(), seed=0, tuning=BUNDLES)
    assert optimum is not None
    assert relaxed.bound is not None
    assert relaxed.bound <= plan_cost_exact(instance, optimum) + 1e-6 <= rounded + 2e-6


def test_the_relaxation_is_left_out_when_it_does_not_fit_the_work() -> None:
    orders = [{"id": f"o{i}", "location": [float(i + 1), 0.5], "fallback_cost": 10.0} for i in range(3)]
    trips = [{"id": "home", "destination": [5.0, 0.0], "max_orders": 3}]
    instance = build_instance(parse_problem(problem_json(orders, trips)))
    bundles = enumerate_bundles(instance, find_pairs(instance, tuning=DEFAULT_TUNING.pairs), tuning=BUNDLES)
    clock = _clock()
    assert relaxed_packing(instance, bundles, work=1e-9, clock=clock, tuning=BUNDLES) is None
    assert clock.now() == 0.0
    relaxed = relaxed_packing(instance, bundles, work=1.0, clock=clock, tuning=BUNDLES)
    assert relaxed is not None
    assert relaxed.plan.trip_routes == {0: [0, 1, 2]}
    assert relaxed.bound == pytest.approx(plan_cost_exact(instance, relaxed.plan))
    assert clock.now() > 0.0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_problems(max_orders=5, max_trips=3))
def test_the_vectorised_route_prices_agree_with_the_exact_route_checks(data: dict[str, Any]) -> None:
    """Every sequence of two or three orders on every trip that may carry them (orders per trip, capacity, its
    candidates), with or without waits at doors: feasible in the vectorised pricing exactly when the exact
    check finds it so, at the same cost."""
    instance = _without_fleet(data)
    for count in (2, 3):
        rows = [
            (trip, list(sequence))
            for trip in range(instance.trip_count)
            for sequence in itertools.permutations(range(instance.order_count), count)
            if count <= instance.max_orders[trip]
            and instance.size[list(sequence)].sum() <= instance.capacity[trip]
            and all(instance.eligible(trip, order) for order in sequence)
        ]
        if not rows:
            continue
        trips = np.array([trip for trip, _ in rows], dtype=np.int64)
        priced = _price_sequences(instance, trips, np.array([sequence for _, sequence in rows], dtype=np.int64))
        for (trip, sequence), price in zip(rows, priced.tolist(), strict=True):
            exact = instance.trip_route(trip, sequence)
            assert math.isfinite(price) == (exact is not None), (trip, sequence)
            if exact is not None:
                assert price == pytest.approx(exact.cost), (trip, sequence)


def test_a_trip_that_does_not_wait_at_doors_is_priced_no_bundle_that_would() -> None:
    """A closes at 6 (reached at 5), B opens at 12 (reached at 8, speed 1): together they need 4 minutes at
    B's door, which a waiting trip spends there and a trip that leaves later instead cannot (A would close).
    With A open until 20 a later departure reaches both in their windows: that bundle stays."""
    orders = [
        {"id": "A", "location": [3.0, 4.0], "window": [0, 6], "fallback_cost": 10.0},
        {"id": "B", "location": [6.0, 4.0], "window": [12, 60], "fallback_cost": 10.0},
    ]
    trips = [
        {"id": f"t{k}", "destination": [9.0, 4.0], "max_orders": 2, "wait_at_doors": waits}
        for k, waits in enumerate((True, False))
    ]
    for a_closes, planned in ((6, {0}), (20, {0, 1})):
        orders[0]["window"] = [0, a_closes]
        instance = build_instance(parse_problem(problem_json(orders, trips, speed=1.0)))
        priced = _price_sequences(instance, np.array([0, 1]), np.array([[0, 1], [0, 1]]))
        assert {trip for trip in (0, 1) if math.isfinite(priced[trip])} == planned
        assert {trip for trip in (0, 1) if instance.trip_route(trip, [0, 1]) is not None} == planned
