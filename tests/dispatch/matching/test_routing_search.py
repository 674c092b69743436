"""The routing solver's search: its work is counted in limit checks, and a wall-clock cut is always told."""

from __future__ import annotations

import gc
import time

import numpy as np
import pytest
from matching_builders import orders_with_windows_and_a_fleet, problem_json
from ortools.constraint_solver import pywrapcp

from dispatch.matching import parse_problem
from dispatch.matching.budget import WorkClock
from dispatch.matching.fleet import fleet_capable
from dispatch.matching.instance import Instance, IntArray, build_instance
from dispatch.matching.pairs import Pairs, find_pairs
from dispatch.matching.plan import Plan, plan_cost_exact
from dispatch.matching.routing_search import checks_for, route_group
from dispatch.matching.tuning import DEFAULT_TUNING

ROUTING = DEFAULT_TUNING.routing


def _group() -> tuple[Instance, Pairs, IntArray, IntArray]:
    instance = build_instance(orders_with_windows_and_a_fleet())
    pairs = find_pairs(instance, tuning=DEFAULT_TUNING.pairs)
    orders = np.union1d(pairs.order, fleet_capable(instance))
    return instance, pairs, orders, np.unique(pairs.trip)


def test_a_model_with_windows_gets_fewer_checks_for_the_same_work() -> None:
    """Each check of a model with a time dimension costs more, so the same work buys proportionally fewer."""
    plain = checks_for(0.5, 30, 24, ROUTING, timed=False)
    timed = checks_for(0.5, 30, 24, ROUTING, timed=True)
    assert timed < plain
    assert abs(plain / timed - ROUTING.time_window_check_factor) < 0.01


def test_a_search_that_uses_up_its_checks_is_not_reported_as_cut() -> None:
    """With the safety deadline far away the search stops at its check count, and the clock says so."""
    instance, pairs, orders, trips = _group()
    clock = WorkClock(safety_deadline=time.perf_counter() + 60)
    plan = route_group(instance, pairs, orders, trips, 3, Plan(), 0.05, clock, tuning=ROUTING)
    assert plan is not None
    assert plan_cost_exact(instance, plan) < float("inf")
    assert clock.deadline_hit is False


def test_a_search_the_wall_clock_stops_before_its_checks_run_out_is_reported() -> None:
    """A budget far beyond what the safety deadline allows: the search ends on time, and the cut is recorded
    (so that the caller knows the answer may differ from run to run)."""
    instance, pairs, orders, trips = _group()
    clock = WorkClock(safety_deadline=time.perf_counter() + 0.3)
    started = time.perf_counter()
    route_group(instance, pairs, orders, trips, 3, Plan(), 600.0, clock, tuning=ROUTING)
    assert time.perf_counter() - started < 5.0
    assert clock.deadline_hit is True
    assert clock.tripped_by == ["routing"]


def test_a_finished_search_leaves_no_routing_model_behind() -> None:
    """The model holds the search's callbacks from C++; a callback that held the model back kept both alive
    for good (about 8 MB a batch: a dispatcher ran out of memory in hours). Once a search is over its model
    is garbage like any other object."""
    instance, pairs, orders, trips = _group()

    def live_models() -> int:
        gc.collect()
        return sum(isinstance(item, pywrapcp.RoutingModel) for item in gc.get_objects())

    before = live_models()
    for _ in range(3):
        clock = WorkClock(safety_deadline=time.perf_counter() + 60)
        assert route_group(instance, pairs, orders, trips, 3, Plan(), 0.02, clock, tuning=ROUTING) is not None
    assert live_models() == before


@pytest.mark.parametrize(("waits", "sizes"), [(True, [2]), (False, [1])])
def test_a_model_whose_trip_does_not_wait_at_doors_plans_no_bundle_that_would(waits: bool, sizes: list[int]) -> None:
    """A closes at 12 (reached at 10), B opens at 30 (reached at 26 after A), each 20 when left out: a trip that
    waits at B's door carries both (detour 12); one that may only leave later carries one (4) and leaves the
    other, since no departure reaches A by 12 and B from 30 on one route."""
    orders = [
        {"id": "A", "location": [3, 4], "window": [0, 12], "fallback_cost": 20.0},
        {"id": "B", "location": [3, -4], "window": [30, 100], "fallback_cost": 20.0},
    ]
    trip = {"id": "t", "destination": [6, 0], "max_orders": 2, "wait_at_doors": waits,
            "compensation": {"rule": "detour", "rate": 1.0}}  # fmt: skip
    instance = build_instance(parse_problem(problem_json(orders, [trip])))
    pairs = find_pairs(instance, tuning=DEFAULT_TUNING.pairs)
    clock = WorkClock(safety_deadline=time.perf_counter() + 60)
    plan = route_group(instance, pairs, np.array([0, 1]), np.array([0]), 0, Plan(), 0.2, clock, tuning=ROUTING)
    assert plan is not None
    assert [len(stops) for stops in plan.trip_routes.values()] == sizes
    assert plan_cost_exact(instance, plan) < float("inf")
