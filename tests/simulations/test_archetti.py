"""The occasional-drivers instances converted to the matcher's format (skipped without the shared data)."""

from __future__ import annotations

import pytest

from dispatch.matching import evaluate, parse_problem, solution_to_json, solve
from simulations.archetti import DEFAULT_DATA_DIR, best_known_values, read_instance
from simulations.bench_matcher import select_archetti

INSTANCES = DEFAULT_DATA_DIR / "instances"
pytestmark = pytest.mark.skipif(not INSTANCES.is_dir(), reason="no vrpod-archetti data")


def test_scheme_1_instance_uses_the_customer_profit_as_compensation() -> None:
    """od13 rho=0.2 C101: 25 orders, 13 one-order trips, fleet of capacity 200; compensation = rho x d(0, i)."""
    instance = read_instance(INSTANCES / "od13rho0.2zeta1.3_C101.txt")
    problem = parse_problem(instance.problem)
    assert (len(problem.orders), len(problem.trips)) == (25, 13)
    assert problem.fleet is not None
    assert (problem.fleet.capacity, problem.fleet.vehicles) == (200, None)
    assert problem.fallback_cost is None
    assert all(t.max_orders == 1 for t in problem.trips)
    store = problem.store.location
    orders = {o.id: o for o in problem.orders}
    for trip in problem.trips:
        assert trip.candidates is not None
        for candidate in trip.candidates:
            x, y = orders[candidate.order].location
            distance = ((x - store[0]) ** 2 + (y - store[1]) ** 2) ** 0.5
            assert candidate.compensation == pytest.approx(0.2 * distance, abs=1e-4)


def test_scheme_2_instance_lists_pair_compensations() -> None:
    """Scheme 2 lists a compensation per (customer, driver), never below 1."""
    instance = read_instance(INSTANCES / "od50rho1.2zeta1.3_R101.txt")
    problem = parse_problem(instance.problem)
    assert (len(problem.orders), len(problem.trips), instance.group) == (100, 50, "od50 scheme 2")
    listed = [c.compensation for t in problem.trips for c in t.candidates or ()]
    assert listed
    assert min(c for c in listed if c is not None) >= 1.0


def test_solved_instance_is_feasible_and_cheaper_than_the_fleet_alone() -> None:
    """A quick solve passes the referee, and the drivers save against the fleet-only CVRP (187.45)."""
    instance = read_instance(INSTANCES / "od13rho0.2zeta1.3_C101.txt")
    problem = parse_problem(instance.problem)
    solution = solve(problem, time_limit=1.0)
    objective = evaluate(problem, solution_to_json(solution))
    assert objective == pytest.approx(solution.objective)
    assert objective < 187.45  # derived_savings_vs_no_od_cvrp.csv: the same customers with no drivers
    assert "od13rho0.2zeta1.3_C101.txt" in best_known_values()


def test_the_benchmark_selects_each_instance_once_and_all_of_a_group_when_asked_for_more() -> None:
    everything = select_archetti([], per_group=1000, limit=None)
    assert len(everything) == len({i.name for i in everything}) == 420
    sample = select_archetti(["od50"], per_group=6, limit=None)
    assert len(sample) == len({i.name for i in sample}) == 12
    assert {i.group for i in sample} == {"od50 scheme 1", "od50 scheme 2"}
