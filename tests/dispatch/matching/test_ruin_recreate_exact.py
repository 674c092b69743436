"""Ruin and recreate priced by the exact route checks: a fleet with windows, trips that take several orders."""

from __future__ import annotations

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

from dispatch.matching import parse_problem, ruin_recreate_exact
from dispatch.matching.instance import Instance, build_instance
from dispatch.matching.pairs import Pairs
from dispatch.matching.plan import Plan, plan_cost_exact


@st.composite
def fleet_windows_and_bundling_trips(draw: st.DrawFn, max_orders: int = 6, max_trips: int = 3) -> dict[str, Any]:
    """A fleet with a capacity, orders with windows and sizes, trips of up to three orders under every rule."""
    orders = []
    for i in range(draw(st.integers(2, max_orders))):
        order: dict[str, Any] = {"id": f"o{i}", "location": draw(point), "size": draw(st.sampled_from([1, 2, 3]))}
        if draw(st.booleans()):
            start = draw(st.integers(0, 15))
            order["window"] = [start, start + draw(st.integers(2, 30))]
        if draw(st.booleans()):
            order["fallback_cost"] = draw(st.sampled_from([3.0, 8.0, 20.0]))
        orders.append(order)
    trips = [
        {
            "id": f"t{j}",
            "destination": draw(point),
            "max_orders": draw(st.sampled_from([1, 2, 3])),
            "capacity": draw(st.sampled_from([None, 3])),
            "max_detour_ratio": draw(st.sampled_from([None, 1.5, 3.0])),
            "depart": draw(st.sampled_from([0, 5])),
            "compensation": draw(st.sampled_from(COMPENSATION_RULES)),
        }
        for j in range(draw(st.integers(0, max_trips)))
    ]
    data = problem_json(orders, trips)
    data["speed"] = 1.0
    data["fleet"] = draw(drawn_fleet(vehicles=2))
    return data


def _search(instance: Instance, pairs: Pairs, plan: Plan, work: float, seed: int = 0) -> Plan:
    return search_from(ruin_recreate_exact.ruin_and_recreate_exact, instance, pairs, plan, work, seed)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleet_windows_and_bundling_trips())
def test_never_returns_a_plan_worse_than_its_start_and_every_plan_is_feasible(data: dict[str, Any]) -> None:
    """Whatever it explores, the answer passes the exact checks (windows, capacities, trip rules) and is no
    dearer than where it began."""
    instance, pairs, plan = search_start(data)
    found = _search(instance, pairs, plan, work=0.02)
    assert_feasible_and_no_dearer(instance, plan, found)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleet_windows_and_bundling_trips(max_orders=4, max_trips=2))
def test_reaches_the_optimum_on_problems_small_enough_to_enumerate(data: dict[str, Any]) -> None:
    instance, pairs, plan = search_start(data)
    vehicles = data["fleet"]["vehicles"] or len(data["orders"])
    found = _search(instance, pairs, plan, work=0.1)
    assert plan_cost_exact(instance, found) == pytest.approx(
        brute_force_optimum(instance.problem, vehicles), rel=1e-7, abs=1e-7
    )


def test_puts_the_windowed_order_first_on_a_shared_route() -> None:
    """o0 (6, 0) must be reached by minute 6, o3 (0, 3) fills the rest of a vehicle: one route o0 → o3 (15.708)
    and the two cheap orders left to their fallback beat every plan the routing solver found (20.0)."""
    orders: list[dict[str, Any]] = [
        {"id": "o0", "location": [6.0, 0.0], "window": [0.0, 6.0]},
        {"id": "o1", "location": [3.0, 0.0], "fallback_cost": 2.0},
        {"id": "o2", "location": [7.0, 0.0], "fallback_cost": 2.0},
        {"id": "o3", "location": [0.0, 3.0], "size": 3},
    ]
    data = problem_json(orders, [])
    data["speed"] = 1.0
    data["fleet"] = a_fleet(capacity=4)
    instance, pairs, _ = search_start(data)
    start = Plan({}, [[1, 0, 2], [3]])
    found = _search(instance, pairs, start, work=0.05)
    assert plan_cost_exact(instance, start) == pytest.approx(20.0)
    assert found.fleet_routes == [[0, 3]]
    assert plan_cost_exact(instance, found) == pytest.approx(19.708203932, rel=1e-9)


def test_the_same_seed_gives_the_same_plan() -> None:
    rng = np.random.default_rng(5)
    orders = [
        {"id": f"o{i}", "location": [round(float(x), 2), round(float(y), 2)], "size": 1, "fallback_cost": 15.0}
        for i, (x, y) in enumerate(rng.uniform(-20, 20, size=(30, 2)))
    ]
    for order in orders[::3]:
        order["window"] = [0.0, 60.0]
    trips = [
        {"id": f"t{j}", "destination": [round(float(x), 2), round(float(y), 2)], "max_orders": 3, "capacity": 4}
        for j, (x, y) in enumerate(rng.uniform(-25, 25, size=(10, 2)))
    ]
    data = problem_json(orders, trips)
    data["fleet"] = a_fleet(capacity=8, fixed_cost=5.0)
    instance, pairs, plan = search_start(data)
    first = _search(instance, pairs, plan, work=0.2, seed=7)
    second = _search(instance, pairs, plan, work=0.2, seed=7)
    assert first == second
    assert plan_cost_exact(instance, first) < plan_cost_exact(instance, plan)


def test_applies_with_a_fleet_and_orders_to_move() -> None:
    orders = [{"id": f"o{i}", "location": [float(i), 1.0], "window": [0, 30]} for i in range(3)]
    trips = [{"id": "t", "destination": [5.0, 5.0], "max_orders": 2}]
    fleet = a_fleet()
    everyone = np.arange(3)
    assert ruin_recreate_exact.applies(
        build_instance(parse_problem(problem_json(orders, trips, fleet=fleet))), everyone
    )
    assert not ruin_recreate_exact.applies(build_instance(parse_problem(problem_json(orders, trips))), everyone)
    no_vehicles = build_instance(parse_problem(problem_json(orders, trips, fleet={**fleet, "vehicles": 0})))
    assert not ruin_recreate_exact.applies(no_vehicles, everyone)
