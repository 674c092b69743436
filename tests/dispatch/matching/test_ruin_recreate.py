"""Ruin and recreate: stores whose trips take one order each and whose fleet carries the rest."""

from __future__ import annotations

import itertools
import math
import time
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matching_builders import (
    COMPENSATION_RULES,
    a_fleet,
    assert_feasible_and_no_dearer,
    brute_force_optimum,
    drawn_fleet,
    point,
    problem_json,
    search_from,
    search_start,
)

from dispatch.matching import parse_problem, ruin_recreate
from dispatch.matching import ruin_recreate_kernel as kernel
from dispatch.matching.budget import WorkClock
from dispatch.matching.instance import Instance, build_instance
from dispatch.matching.pairs import Pairs, find_pairs
from dispatch.matching.plan import Plan, plan_cost_exact
from dispatch.matching.tuning import DEFAULT_TUNING


@st.composite
def fleet_and_one_order_trips(draw: st.DrawFn, max_orders: int = 6, max_trips: int = 4) -> dict[str, Any]:
    """A fleet with a capacity, one-order trips under every compensation rule, some orders with a fallback."""
    order_count = draw(st.integers(2, max_orders))
    orders = []
    for i in range(order_count):
        order: dict[str, Any] = {"id": f"o{i}", "location": draw(point), "size": draw(st.sampled_from([1, 2, 3]))}
        if draw(st.booleans()):
            order["fallback_cost"] = draw(st.sampled_from([3.0, 8.0, 20.0]))
        orders.append(order)
    trips = [
        {
            "id": f"t{j}",
            "destination": draw(point),
            "max_orders": 1,
            "max_detour_ratio": draw(st.sampled_from([None, 1.5, 3.0])),
            "compensation": draw(st.sampled_from(COMPENSATION_RULES)),
        }
        for j in range(draw(st.integers(0, max_trips)))
    ]
    data = problem_json(orders, trips)
    data["fleet"] = draw(drawn_fleet(vehicles=3))
    return data


def _search(instance: Instance, pairs: Pairs, plan: Plan, work: float, seed: int = 0) -> Plan:
    return search_from(ruin_recreate.ruin_and_recreate, instance, pairs, plan, work, seed)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleet_and_one_order_trips())
def test_never_returns_a_plan_worse_than_its_start_and_every_plan_is_feasible(data: dict[str, Any]) -> None:
    """Whatever it explores, the answer is feasible by the exact checks and no dearer than where it began."""
    instance, pairs, plan = search_start(data)
    found = _search(instance, pairs, plan, work=0.02)
    assert_feasible_and_no_dearer(instance, plan, found)
    assert all(len(stops) == 1 for stops in found.trip_routes.values())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleet_and_one_order_trips(max_orders=4, max_trips=2))
def test_reaches_the_optimum_on_problems_small_enough_to_enumerate(data: dict[str, Any]) -> None:
    instance, pairs, plan = search_start(data)
    vehicles = data["fleet"]["vehicles"] or len(data["orders"])
    found = _search(instance, pairs, plan, work=0.05)
    assert plan_cost_exact(instance, found) == pytest.approx(
        brute_force_optimum(instance.problem, vehicles), rel=1e-7, abs=1e-7
    )


def _check_state(problem: ruin_recreate.SearchProblem, state: ruin_recreate.SearchState) -> None:
    """Every order once (fleet route, trip or left out), the linked routes whole, the kept sums right."""
    ints, floats, taker = state.ints, state.floats, state.taker
    routes = state.routes()
    on_route = [o for route in routes for o in route]
    carried = np.flatnonzero(ints[kernel.TRIP] != kernel.OUT).tolist()
    assert len(on_route) == len(set(on_route))
    assert not set(on_route) & set(carried)
    assert sorted(ints[kernel.LENGTH][ints[kernel.LENGTH] > 0].tolist()) == sorted(len(r) for r in routes)
    for route in routes:
        slot = int(ints[kernel.ROUTE, route[0]])
        assert all(int(ints[kernel.ROUTE, o]) == slot for o in route)
        assert [int(ints[kernel.PREV, o]) for o in route] == [kernel.END, *route[:-1]]
        nodes = [0, *[o + 1 for o in route], 0]
        arcs = sum(problem.arc[a, b] for a, b in itertools.pairwise(nodes))
        assert floats[kernel.ARCS, slot] == pytest.approx(arcs, rel=1e-9, abs=1e-9)
        assert floats[kernel.LOAD, slot] == pytest.approx(problem.size[route].sum())
        assert floats[kernel.LOAD, slot] <= problem.scalars[kernel.CAPACITY]
    assert len(routes) <= problem.scalars[kernel.VEHICLES]
    for order in carried:
        trip = int(ints[kernel.TRIP, order])
        assert taker[trip] == order
        first, last = problem.option_start[order], problem.option_start[order + 1]
        assert trip in problem.option_trip[first:last].tolist()
    assert int((taker != kernel.OUT).sum()) == len(carried)
    left_out = [o for o in range(problem.count) if o not in set(on_route) | set(carried)]
    expected = (
        sum(problem.scalars[kernel.FIXED] + floats[kernel.ARCS, int(ints[kernel.ROUTE, r[0]])] for r in routes)
        + sum(float(floats[kernel.TRIP_COST, o]) for o in carried)
        + sum(float(problem.skip[o]) for o in left_out)
    )
    cost = kernel.total_cost(ints, floats, problem.skip, problem.scalars[kernel.FIXED])
    assert cost == pytest.approx(expected, rel=1e-9) if math.isfinite(expected) else math.isinf(cost)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fleet_and_one_order_trips(max_orders=9, max_trips=6),
    st.integers(0, 2**32),
    st.sampled_from([0.0, 0.3]),
    st.sampled_from([0, 3]),
)
def test_each_compiled_step_keeps_the_routes_linked_and_their_sums_right(
    data: dict[str, Any], seed: int, blink: float, take_over: int
) -> None:
    instance, pairs, plan = search_start(data)
    orders = np.arange(instance.order_count)
    problem = ruin_recreate.SearchProblem.build(instance, pairs, orders, most_removed=len(orders))
    state = ruin_recreate.SearchState.of(problem, plan)
    assert state is not None
    _check_state(problem, state)
    rng = np.array([seed + 1], dtype=np.uint64)
    removed = np.zeros(problem.count, dtype=np.int64)
    stamp = np.zeros(3 * problem.count, dtype=np.int64)
    counters = np.zeros(4, dtype=np.int64)
    for step in range(1, 30):
        trial = state.copy()
        how_many = kernel.random_below(rng, 1, problem.count + 1)
        taken = kernel.ruin(
            trial.ints, trial.floats, trial.taker, problem.arc, problem.size, problem.neighbours, how_many, 3,
            removed, stamp, step, rng,
        )  # fmt: skip
        assert 1 <= taken <= how_many
        assert len(set(removed[:taken].tolist())) == taken
        assert all(trial.ints[kernel.ROUTE, o] == kernel.OUT and trial.ints[kernel.TRIP, o] == kernel.OUT
                   for o in removed[:taken].tolist())  # fmt: skip
        if kernel.recreate(
            trial.ints, trial.floats, trial.taker, problem.arc, problem.size, problem.skip, problem.alone,
            problem.option_start, problem.option_trip, problem.option_cost, problem.scalars, blink, take_over,
            removed, taken, stamp, step, counters, rng,
        ):  # fmt: skip
            _check_state(problem, trial)
            state = trial


def test_an_order_takes_over_a_held_driver_when_the_holder_has_another() -> None:
    """`a` can go only with d0, which `b` holds; `b` could go with d1 for a little more. Putting `a` back,
    the step moves `b` to d1 rather than open a fleet route far away (or, without take-overs, opens it)."""
    orders = [{"id": "a", "location": [10.0, 0.0]}, {"id": "b", "location": [10.0, 1.0]}]
    trips = [
        {"id": "d0", "destination": [12.0, 0.0], "max_orders": 1,
         "candidates": [{"order": "a", "compensation": 1.0}, {"order": "b", "compensation": 1.0}]},
        {"id": "d1", "destination": [12.0, 1.0], "max_orders": 1, "candidates": [{"order": "b", "compensation": 2.0}]},
    ]  # fmt: skip
    data = problem_json(orders, trips)
    data["fleet"] = a_fleet()
    instance, pairs, _ = search_start(data)
    problem = ruin_recreate.SearchProblem.build(instance, pairs, np.arange(2), most_removed=2)
    for take_over, expected in ((1, {"a": "d0", "b": "d1"}), (0, {"b": "d0"})):
        state = ruin_recreate.SearchState.of(problem, Plan({0: [1]}, []))
        assert state is not None
        placed = kernel.recreate(
            state.ints, state.floats, state.taker, problem.arc, problem.size, problem.skip, problem.alone,
            problem.option_start, problem.option_trip, problem.option_cost, problem.scalars, 0.0, take_over,
            np.array([0, 0], dtype=np.int64), 1, np.zeros(6, dtype=np.int64), 1, np.zeros(4, dtype=np.int64),
            np.array([7], dtype=np.uint64),
        )  # fmt: skip
        assert placed
        plan = state.plan(problem)
        carried = {instance.problem.orders[stops[0]].id: instance.problem.trips[trip].id
                   for trip, stops in plan.trip_routes.items()}  # fmt: skip
        assert carried == expected
        assert plan.fleet_routes == ([] if take_over else [[0]])
        _check_state(problem, state)


def test_the_same_seed_gives_the_same_plan() -> None:
    rng = np.random.default_rng(3)
    orders = [
        {"id": f"o{i}", "location": [round(float(x), 2), round(float(y), 2)], "size": 1}
        for i, (x, y) in enumerate(rng.uniform(-20, 20, size=(40, 2)))
    ]
    trips = [
        {"id": f"t{j}", "destination": [round(float(x), 2), round(float(y), 2)], "max_orders": 1}
        for j, (x, y) in enumerate(rng.uniform(-25, 25, size=(15, 2)))
    ]
    data = problem_json(orders, trips)
    data["fleet"] = a_fleet(capacity=8)
    instance, pairs, plan = search_start(data)
    first = _search(instance, pairs, plan, work=0.2, seed=7)
    second = _search(instance, pairs, plan, work=0.2, seed=7)
    assert first == second
    assert plan_cost_exact(instance, first) < plan_cost_exact(instance, plan)


def test_frees_a_fleet_route_by_handing_its_orders_to_drivers() -> None:
    """Two far-apart pairs of orders, a vehicle's capacity each, and two drivers heading past one pair:
    from the plan of two fleet routes, the search must find that handing one pair over frees a route."""
    orders = [
        {"id": "a1", "location": [10.0, 0.0], "size": 2},
        {"id": "a2", "location": [10.0, 1.0], "size": 2},
        {"id": "b1", "location": [-10.0, 0.0], "size": 2},
        {"id": "b2", "location": [-10.0, 1.0], "size": 2},
    ]
    fixed = {"rule": "fixed", "amount": 1}
    trips = [
        {"id": f"d{k}", "destination": [-11.0, k], "max_orders": 1, "max_detour_ratio": 1.5, "compensation": fixed}
        for k in range(2)
    ]
    data = problem_json(orders, trips)
    data["fleet"] = a_fleet(capacity=4)
    instance, pairs, _ = search_start(data)
    two_routes = Plan({}, [[0, 1], [2, 3]])
    found = _search(instance, pairs, two_routes, work=0.05)
    assert sorted(o for stops in found.trip_routes.values() for o in stops) == [2, 3]
    assert len(found.fleet_routes) == 1
    assert plan_cost_exact(instance, found) == pytest.approx(brute_force_optimum(instance.problem, 4))


def test_applies_only_where_its_arithmetic_is_exact() -> None:
    orders = [{"id": f"o{i}", "location": [float(i), 1.0]} for i in range(3)]
    trips = [{"id": "t", "destination": [5.0, 5.0], "max_orders": 1}]
    fleet = a_fleet()

    def applies(data: dict[str, Any]) -> bool:
        instance = build_instance(parse_problem(data))
        return ruin_recreate.applies(
            instance, find_pairs(instance, tuning=DEFAULT_TUNING.pairs), np.arange(instance.order_count)
        )

    assert applies(problem_json(orders, trips, fleet=fleet))
    assert not applies(problem_json(orders, trips, fallback_cost=10.0))  # no fleet
    windowed = [{**orders[0], "window": [0, 30]}, *orders[1:]]
    assert not applies(problem_json(windowed, trips, fleet=fleet))
    assert not applies(problem_json(orders, [{**trips[0], "max_orders": 2}], fleet=fleet))


def test_a_machine_past_the_safety_deadline_gets_the_start_back_and_the_cut_is_recorded() -> None:
    orders = [{"id": f"o{i}", "location": [float(i), 2.0], "size": 1} for i in range(6)]
    data = problem_json(orders, [{"id": "t", "destination": [6.0, 3.0], "max_orders": 1}])
    data["fleet"] = a_fleet(capacity=3)
    instance, pairs, plan = search_start(data)
    clock = WorkClock(safety_deadline=time.perf_counter() - 1.0)
    everyone = np.arange(instance.order_count)
    found = ruin_recreate.ruin_and_recreate(
        instance, pairs, everyone, plan, 5.0, clock, 0, tuning=DEFAULT_TUNING.ruin_recreate
    )
    assert found is not None
    assert plan_cost_exact(instance, found) <= plan_cost_exact(instance, plan) + 1e-9
    assert clock.deadline_hit
    assert "ruin and recreate" in clock.tripped_by
    assert clock.now() == 0.0
