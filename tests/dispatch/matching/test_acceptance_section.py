"""The matcher's optional acceptance section: the expected cost, the referee's agreement, and no change
at all without it."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matching_builders import problem_json, small_problems

from crowdship.errors import InvalidInput
from dispatch.matching import NoFeasibleMatch, evaluate, parse_problem, problem_to_json, solution_to_json, solve
from dispatch.matching.tuning import DEFAULT_TUNING
from simulations.bench_matcher import synthetic_batch

ROOMY = replace(DEFAULT_TUNING, work_share=0.1, initial_plan=replace(DEFAULT_TUNING.initial_plan, repair_share=0.05))


def _sigmoid(score: float) -> float:
    return 1.0 / (1.0 + math.exp(-score))


def _two_equal_shoppers(intercepts: dict[str, float], **acceptance: Any) -> dict[str, Any]:
    """One order on the x axis; two trips mirrored about it, so both routes cost exactly the same."""
    trips = [
        {"id": trip_id, "destination": [4.0, y], "max_detour_ratio": 2.0,
         "compensation": {"rule": "detour", "rate": 1.0, "minimum": 1.0}}
        for trip_id, y in (("north", 1.0), ("south", -1.0))
    ]  # fmt: skip
    data = problem_json([{"id": "o1", "location": [2.0, 0.0], "fallback_cost": 10.0}], trips)
    data["acceptance"] = {
        "trips": [{"trip": trip_id, "intercept": value} for trip_id, value in intercepts.items()],
        **acceptance,
    }
    return data


@pytest.mark.parametrize(("north", "south", "chosen"), [(2.0, -1.0, "north"), (-1.0, 2.0, "south")])
def test_at_equal_cost_the_likelier_shopper_gets_the_offer(north: float, south: float, chosen: str) -> None:
    solution = solve(parse_problem(_two_equal_shoppers({"north": north, "south": south})), time_limit=0.5)
    assert {t.trip_id: t.order_ids for t in solution.trips} == {chosen: ("o1",)}


def test_the_objective_is_the_expected_cost_and_the_referee_agrees() -> None:
    """p * compensation + (1 - p) * (fallback + penalty) for the route taken."""
    data = _two_equal_shoppers({"north": 0.7}, decline_penalty=2.0)
    data["trips"] = data["trips"][:1]
    problem = parse_problem(data)
    solution = solve(problem, time_limit=0.5)
    compensation = max(1.0, 2 * math.hypot(2.0, 1.0) - math.hypot(4.0, 1.0))
    p = _sigmoid(0.7)
    expected = p * compensation + (1 - p) * (10.0 + 2.0)
    assert [t.order_ids for t in solution.trips] == [("o1",)]
    assert math.isclose(solution.objective, expected, rel_tol=1e-9)
    assert math.isclose(solution.trips[0].compensation, compensation, rel_tol=1e-9)
    assert math.isclose(evaluate(problem, solution_to_json(solution)), expected, rel_tol=1e-9)


def test_with_reoffer_a_decline_costs_the_route_again_plus_the_penalty() -> None:
    """compensation + (1 - p) * penalty * orders: an unlikely shopper costs a bounded extra, and the referee
    agrees; the likelier of two equal routes still wins."""
    data = _two_equal_shoppers({"north": -2.0, "south": 1.0}, decline_penalty=3.0, decline="reoffer")
    problem = parse_problem(data)
    solution = solve(problem, time_limit=0.5)
    compensation = max(1.0, 2 * math.hypot(2.0, 1.0) - math.hypot(4.0, 1.0))
    expected = compensation + (1 - _sigmoid(1.0)) * 3.0
    assert {t.trip_id: t.order_ids for t in solution.trips} == {"south": ("o1",)}
    assert math.isclose(solution.objective, expected, rel_tol=1e-9)
    assert math.isclose(evaluate(problem, solution_to_json(solution)), expected, rel_tol=1e-9)


def test_an_unlikely_offer_goes_to_the_fallback_when_a_decline_costs_more() -> None:
    """At p ≈ 0.05 with a penalty per declined order, offering costs more than the fallback."""
    data = _two_equal_shoppers({"north": -3.0, "south": -3.0}, decline_penalty=1.0)
    solution = solve(parse_problem(data), time_limit=0.5)
    assert solution.trips == ()
    assert solution.fallback == ("o1",)


def test_without_the_section_or_with_no_trip_listed_the_solution_is_the_same() -> None:
    """A store batch with three-order bundles: no section and an empty one give the same routes and objective."""
    data = synthetic_batch(60, 40, seed=5)
    plain = solve(parse_problem(data), time_limit=1.0, seed=3, tuning=ROOMY)
    empty = solve(parse_problem({**data, "acceptance": {"trips": []}}), time_limit=1.0, seed=3, tuning=ROOMY)
    assert not plain.stats["deadline_hit"]
    assert not empty.stats["deadline_hit"]
    assert solution_to_json(plain)["trips"] == solution_to_json(empty)["trips"]
    assert plain.objective == empty.objective
    assert "acceptance" not in problem_to_json(parse_problem(data))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_problems(max_orders=6, max_trips=4), st.floats(-3.0, 3.0), st.floats(0.0, 5.0))
def test_with_acceptance_solutions_are_feasible_and_state_their_expected_cost(
    data: dict[str, Any], intercept: float, penalty: float
) -> None:
    """Bundles, windows and fleets included: the referee recomputes the stated expected cost."""
    data = {
        **data,
        "acceptance": {
            "decline_penalty": penalty,
            "decline": "reoffer" if intercept > 0 else "fallback",
            "trips": [
                {"trip": t["id"], "intercept": intercept, "per_reward": -0.1, "per_detour": -0.2,
                 "per_extra_stop": -0.3, "per_size": -0.05}
                for t in data["trips"][::2]
            ],
        },
    }  # fmt: skip
    problem = parse_problem(data)
    try:
        solution = solve(problem, time_limit=0.3, tuning=ROOMY)
    except NoFeasibleMatch:  # an order nobody can serve and that has no fallback: as without the section
        assert any(problem.order_fallback(o) is None for o in problem.orders)
        return
    assert math.isclose(evaluate(problem, solution_to_json(solution)), solution.objective, rel_tol=1e-6, abs_tol=1e-6)
    assert parse_problem(problem_to_json(problem)) == problem


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"trips": [{"trip": "nobody", "intercept": 0.0}]}, "acceptance.trips[0].trip"),
        ({"trips": [{"trip": "north"}]}, "acceptance.trips[0].intercept"),
        ({"trips": [{"trip": "north", "intercept": 0.0, "per_detour": math.nan}]}, "acceptance.trips[0].per_detour"),
        ({"trips": [{"trip": "north", "intercept": 0}, {"trip": "north", "intercept": 1}]}, "acceptance.trips[1].trip"),
        ({"trips": [{"trip": "north", "intercept": 0.0, "per_tip": 1.0}]}, "acceptance.trips[0].per_tip"),
        ({"decline_penalty": -1.0}, "acceptance.decline_penalty"),
        ({"decline": "never"}, "acceptance.decline"),
        ({"trips": [{"trip": "north", "intercept": 1e9}]}, "acceptance.trips[0].intercept"),
    ],
)  # fmt: skip
def test_a_bad_section_is_refused_naming_the_field(section: dict[str, Any], field: str) -> None:
    data = _two_equal_shoppers({})
    data["acceptance"] = section
    with pytest.raises(InvalidInput) as refused:
        parse_problem(data)
    assert refused.value.field == field
