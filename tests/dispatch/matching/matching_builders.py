"""Small problems for the matcher's tests, written as the spec's JSON, and a brute-force optimum."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import reject
from hypothesis import strategies as st

from dispatch.matching import InfeasibleSolution, MatchProblem, NoFeasibleMatch, evaluate, parse_problem
from dispatch.matching.budget import WorkClock
from dispatch.matching.initial_plan import initial_plan
from dispatch.matching.instance import Instance, build_instance
from dispatch.matching.pairs import Pairs, find_pairs
from dispatch.matching.plan import Plan, plan_cost_exact
from dispatch.matching.tuning import DEFAULT_TUNING


def problem_json(orders: list[dict[str, Any]], trips: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A euclidean problem with the store at the origin unless `top` says otherwise."""
    return {
        "format": "crowdship-match/1",
        "store": {"id": "S", "location": [0.0, 0.0]},
        "orders": orders,
        "trips": trips,
        **top,
    }


def orders_with_windows_and_a_fleet() -> MatchProblem:
    """Twenty orders on a 5 x 4 grid around the store, each with a window; eight three-order trips; a small fleet."""
    orders = [
        {"id": f"o{i}", "location": [float(i % 5) - 2.0, float(i // 5) - 2.0], "fallback_cost": 12.0,
         "window": [0.0, 10.0 + i]}
        for i in range(20)
    ]  # fmt: skip
    trips = [
        {"id": f"t{k}", "destination": [6.0 - k, 4.0], "max_orders": 3, "max_detour_ratio": 2.0,
         "compensation": {"rule": "detour", "rate": 0.6, "minimum": 1.0}}
        for k in range(8)
    ]  # fmt: skip
    data = problem_json(orders, trips, speed=1.0)
    data["fleet"] = {"vehicles": 3, "capacity": 8, "cost_per_distance": 0.5, "fixed_cost": 3.0}
    return parse_problem(data)


def solution_json(
    trips: dict[str, list[str]] | None = None,
    fleet_routes: list[list[str]] | None = None,
    fallback: list[str] | None = None,
    objective: float | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "format": "crowdship-match-solution/1",
        "trips": trips or {},
        "fleet_routes": fleet_routes or [],
        "fallback": fallback or [],
    }
    if objective is not None:
        data["objective"] = objective
    return data


def brute_force_optimum(problem: MatchProblem, fleet_vehicles: int) -> float:
    """The best objective over every placement of every order (trip, one of `fleet_vehicles` fleet
    vehicles, or the fallback) and every visiting order, each priced by the independent evaluator."""
    order_ids = [o.id for o in problem.orders]
    bins = [("trip", t.id) for t in problem.trips] + [("fleet", str(k)) for k in range(fleet_vehicles)]
    bins.append(("fallback", ""))
    best = math.inf
    for placement in itertools.product(range(len(bins)), repeat=len(order_ids)):
        groups: dict[int, list[str]] = {}
        for order_id, b in zip(order_ids, placement, strict=True):
            groups.setdefault(b, []).append(order_id)
        fallback = groups.pop(len(bins) - 1, [])
        choices = [[(b, list(p)) for p in itertools.permutations(members)] for b, members in groups.items()]
        for combination in itertools.product(*choices):
            trips = {bins[b][1]: route for b, route in combination if bins[b][0] == "trip"}
            fleet = [route for b, route in combination if bins[b][0] == "fleet"]
            try:
                best = min(best, evaluate(problem, solution_json(trips, fleet, fallback)))
            except InfeasibleSolution:
                continue
    return best


coordinate = st.floats(min_value=-10, max_value=10, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 2))
point = st.tuples(coordinate, coordinate).map(list)


@st.composite
def small_problems(draw: st.DrawFn, max_orders: int = 5, max_trips: int = 3) -> dict[str, Any]:
    """Random problems that exercise every rule a little: sizes, windows, ids, values, rules, fleet."""
    order_count = draw(st.integers(1, max_orders))
    trip_count = draw(st.integers(0, max_trips))
    with_fleet = draw(st.booleans())
    orders = []
    for i in range(order_count):
        order: dict[str, Any] = {"id": f"o{i}", "location": draw(point), "size": draw(st.sampled_from([1, 1, 2, 3]))}
        if draw(st.booleans()):
            start = draw(st.integers(0, 20))
            order["window"] = [start, start + draw(st.integers(0, 40))]
        if draw(st.booleans()) or not with_fleet:
            order["fallback_cost"] = draw(st.sampled_from([2.0, 5.0, 9.0, 15.0]))
        order["value_cents"] = draw(st.sampled_from([None, 1000, 5000]))
        order["requires_id_check"] = draw(st.booleans())
        orders.append(order)
    trips = []
    rules = [
        {"rule": "detour", "rate": 1.0, "minimum": 1.0},
        {"rule": "detour", "rate": 0.5},
        {"rule": "store_distance", "rate": 0.3},
        {"rule": "fixed", "amount": 2.5},
        {
            "rule": "reward",
            "base": 1,
            "per_bag": 1,
            "per_km": 1,
            "per_minute": 0,
            "minimum": 2,
            "included_m": 500,
            "multiplier_bps": [12_500],
            "room": 9,
            "ceiling": 7,
        },
        None,
    ]
    for j in range(trip_count):
        trip: dict[str, Any] = {
            "id": f"t{j}",
            "destination": draw(point),
            "max_orders": draw(st.integers(0, 3)),
            "capacity": draw(st.sampled_from([None, 2, 4])),
            "max_detour_ratio": draw(st.sampled_from([None, 1.5, 3.0])),
            "max_route": draw(st.sampled_from([None, 25.0, 40.0])),
            "depart": draw(st.sampled_from([0, 5])),
            "id_verified": draw(st.booleans()),
            "value_limit_cents": draw(st.sampled_from([None, 2000])),
            "compensation": draw(st.sampled_from(rules)),
            "wait_at_doors": draw(st.booleans()),
        }
        if draw(st.booleans()):
            listed = draw(st.lists(st.sampled_from([o["id"] for o in orders]), unique=True))
            trip["candidates"] = [
                {"order": o, **({"compensation": 1.5} if k % 2 else {})} for k, o in enumerate(listed)
            ]
        trips.append(trip)
    data = problem_json(orders, trips, speed=1.0)
    if with_fleet:
        data["fleet"] = {
            "vehicles": draw(st.sampled_from([None, 1, 2])),
            "capacity": draw(st.sampled_from([None, 4])),
            "cost_per_distance": 1.0,
            "fixed_cost": draw(st.sampled_from([0.0, 3.0])),
        }
    return data


def search_start(data: dict[str, Any]) -> tuple[Instance, Pairs, Plan]:
    """The problem's instance, candidate pairs and initial plan, where a search starts; rejected (hypothesis)
    when there is nothing to search: too few vehicles for the orders that must be served."""
    instance = build_instance(parse_problem(data))
    pairs = find_pairs(instance, tuning=DEFAULT_TUNING.pairs)
    try:
        plan = initial_plan(
            instance, pairs, WorkClock(safety_deadline=time.perf_counter() + 60), 1.0, tuning=DEFAULT_TUNING
        )
    except NoFeasibleMatch:
        reject()
    if not math.isfinite(plan_cost_exact(instance, plan)):
        reject()
    return instance, pairs, plan


COMPENSATION_RULES: list[dict[str, Any]] = [
    {"rule": "detour", "rate": 1.0, "minimum": 1.0},
    {"rule": "store_distance", "rate": 0.3},
    {"rule": "fixed", "amount": 2.5},
]
"""One trip compensation of each kind the ruin-and-recreate strategies draw from."""


def a_fleet(*, vehicles: int | None = None, capacity: float | None = None, fixed_cost: float = 0.0) -> dict[str, Any]:
    """A fleet paid 1.0 a distance unit: as many vehicles and as much room as asked (no limit by default)."""
    return {"vehicles": vehicles, "capacity": capacity, "cost_per_distance": 1.0, "fixed_cost": fixed_cost}


@st.composite
def drawn_fleet(draw: st.DrawFn, vehicles: int) -> dict[str, Any]:
    """No vehicle limit or `vehicles`, some capacity or none, with or without a fixed cost a route."""
    return a_fleet(
        vehicles=draw(st.sampled_from([None, vehicles])),
        capacity=draw(st.sampled_from([None, 4, 6])),
        fixed_cost=draw(st.sampled_from([0.0, 3.0])),
    )


LocalSearch = Callable[..., Plan | None]
"""`ruin_recreate.ruin_and_recreate` or `ruin_recreate_exact.ruin_and_recreate_exact`."""


def search_from(search: LocalSearch, instance: Instance, pairs: Pairs, plan: Plan, work: float, seed: int = 0) -> Plan:
    """The search run over every order from `plan`, for `work` seconds of work and a minute at most."""
    clock = WorkClock(safety_deadline=time.perf_counter() + 60)
    found = search(
        instance, pairs, np.arange(instance.order_count), plan, work, clock, seed, tuning=DEFAULT_TUNING.ruin_recreate
    )
    assert found is not None
    return found


def assert_feasible_and_no_dearer(instance: Instance, start: Plan, found: Plan) -> None:
    """Each order served once at most, a finite cost by the exact checks, and no dearer than the start."""
    served = [o for stops in found.trip_routes.values() for o in stops] + [o for r in found.fleet_routes for o in r]
    assert len(served) == len(set(served))
    assert math.isfinite(plan_cost_exact(instance, found))
    assert plan_cost_exact(instance, found) <= plan_cost_exact(instance, start) + 1e-9
